//! Faults, rate limits, request counters, the control API and streaming of large generated
//! attachments.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::StatusCode;
use sandbox::common::{FaultRule, FaultsConfig, RateLimit};
use sandbox::confluence::{Attachment, AttachmentData};
use sandbox::{spawn, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

async fn spawn_sandbox() -> SandboxHandle {
    spawn(SandboxConfig::default()).await.unwrap()
}

/// A DC request with the PAT (DC needs no token dance, so fault tests stay short).
async fn dc_get(sb: &SandboxHandle, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", sb.urls.dc_base))
        .bearer_auth("sandbox-pat")
        .send()
        .await
        .unwrap()
}

fn control(sb: &SandboxHandle, path: &str) -> String {
    format!("{}/_sandbox{path}", sb.urls.control)
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_and_ratelimit_headers() {
    let sb = spawn_sandbox().await;
    sb.faults.set_rate_limit(
        "dc",
        RateLimit {
            per_minute: 60,
            burst: Some(2),
        },
    );
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::OK
    );
    let limited = dc_get(&sb, "/rest/api/content/2001").await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(limited.headers()["x-ratelimit-limit"], "60");
    assert_eq!(limited.headers()["x-ratelimit-remaining"], "0");
    assert!(limited.headers().contains_key("x-ratelimit-reset"));
    // The limit covers the whole service, public routes included, and no other service.
    let manifest = reqwest::get(format!("{}/rest/applinks/1.0/manifest", sb.urls.dc_base))
        .await
        .unwrap();
    assert_eq!(manifest.status(), StatusCode::TOO_MANY_REQUESTS);
    let site = reqwest::get(format!("{}/wiki", sb.urls.cloud_site))
        .await
        .unwrap();
    assert_eq!(site.status(), StatusCode::OK);
    sb.faults.clear_rate_limit("dc");
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn storm_fails_every_nth_request_with_retry_after() {
    let sb = spawn_sandbox().await;
    sb.faults
        .add_rule(FaultRule::every_nth("*", 3, 429).retry_after(2));
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = dc_get(&sb, "/rest/api/content/2001").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(res.headers()["retry-after"], "2");
        }
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429, 200, 200, 429]);
}

async fn statuses_with_seed(seed: u64) -> Vec<u16> {
    let sb = spawn(SandboxConfig {
        faults: FaultsConfig {
            seed,
            rules: vec![FaultRule::error("dc", 500, 0.5).on_route("/rest/api/content/{id}")],
            ..FaultsConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let mut out = Vec::new();
    for _ in 0..24 {
        out.push(
            dc_get(&sb, "/rest/api/content/2001")
                .await
                .status()
                .as_u16(),
        );
    }
    // The rule is scoped to that route: the child listing is never failed.
    for _ in 0..5 {
        assert_eq!(
            dc_get(&sb, "/rest/api/content/2001/child/attachment")
                .await
                .status(),
            StatusCode::OK
        );
    }
    out
}

#[tokio::test]
async fn error_ratio_is_reproducible_with_the_same_seed() {
    let a = statuses_with_seed(42).await;
    let b = statuses_with_seed(42).await;
    assert_eq!(a, b);
    assert!(a.contains(&500) && a.contains(&200), "{a:?}");
}

#[tokio::test]
async fn cut_body_fails_the_download_mid_stream() {
    let sb = spawn_sandbox().await;
    sb.faults.add_rule(
        FaultRule::cut_body("dc", 1.0, 4).on_route("/download/attachments/{page}/{filename}"),
    );
    let res = dc_get(&sb, "/download/attachments/2001/notes.txt?version=1&api=v2").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.bytes().await.is_err(),
        "the body must fail, not end short silently"
    );
    // JSON responses can be cut too.
    sb.faults.clear();
    sb.faults
        .add_rule(FaultRule::cut_body("dc", 1.0, 10).times(1));
    let res = dc_get(&sb, "/rest/api/content/2001").await;
    assert!(res.json::<Value>().await.is_err());
    let res = dc_get(&sb, "/rest/api/content/2001").await;
    assert!(res.json::<Value>().await.is_ok(), "times(1) fires once");
}

#[tokio::test]
async fn latency_and_limited_faults() {
    let sb = spawn_sandbox().await;
    let id = sb
        .faults
        .add_rule(FaultRule::latency("dc", Duration::from_millis(150)));
    let started = Instant::now();
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::OK
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert!(sb.faults.remove_rule(id));

    sb.faults
        .add_rule(FaultRule::error("dc", 503, 1.0).times(1));
    let first = dc_get(&sb, "/rest/api/content/2001").await;
    assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(first.headers()["retry-after"], "1");
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::OK
    );
    let rules = sb.faults.rules();
    assert_eq!(rules[0].fired, 1);
    assert_eq!(rules[0].matched, 2);
}

#[tokio::test]
async fn faults_and_rate_limits_are_switchable_through_the_control_api() {
    let sb = spawn_sandbox().await;
    let c = reqwest::Client::new();
    let added: Value = c
        .post(control(&sb, "/faults"))
        .json(&json!({"service": "dc", "error_status": 502, "error_ratio": 1.0}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::BAD_GATEWAY
    );
    let listed: Value = c
        .get(control(&sb, "/faults"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["rules"][0]["error_status"], 502);
    assert_eq!(listed["rules"][0]["fired"], 1);
    let id = added["id"].as_u64().unwrap();
    let res = c
        .delete(control(&sb, &format!("/faults/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::OK
    );

    c.put(control(&sb, "/rate-limits/dc"))
        .json(&json!({"per_minute": 1, "burst": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    c.delete(control(&sb, "/faults")).send().await.unwrap();
    assert_eq!(
        dc_get(&sb, "/rest/api/content/2001").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn request_counters_and_log_record_routes_status_and_authorization() {
    let sb = spawn_sandbox().await;
    dc_get(&sb, "/rest/api/content/2001").await;
    dc_get(&sb, "/rest/api/content/2002").await;
    dc_get(&sb, "/rest/api/content/search?cql=label%3D%22x%22").await;
    reqwest::get(format!("{}/rest/applinks/1.0/manifest", sb.urls.dc_base))
        .await
        .unwrap();
    assert_eq!(sb.requests.count("dc", "GET", "/rest/api/content/{id}"), 2);
    assert_eq!(sb.requests.count_matching("dc", "GET", "content/search"), 1);
    assert_eq!(sb.requests.count_service("dc"), 4);
    let log = sb.requests.records_for("dc");
    assert_eq!(log[0].path_and_query, "/rest/api/content/2001");
    assert_eq!(log[0].status, 200);
    assert!(log[0].had_authorization);
    assert!(!log[3].had_authorization);
    assert!(log[0].finished_at >= log[0].started_at);

    let c = reqwest::Client::new();
    let counts: Value = c
        .get(control(&sb, "/requests/counts"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(counts
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["service"] == "dc"
            && e["route"] == "/rest/api/content/{id}"
            && e["count"] == 2));
    let log: Value = c
        .get(control(&sb, "/requests?service=dc"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.as_array().unwrap().len(), 4);
    let searches: Value = c
        .get(control(&sb, "/requests?service=dc&route=content/search"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(searches.as_array().unwrap().len(), 1);
    assert_eq!(
        searches[0]["path_and_query"],
        "/rest/api/content/search?cql=label%3D%22x%22"
    );
    c.delete(control(&sb, "/requests")).send().await.unwrap();
    assert_eq!(sb.requests.count_service("dc"), 0);
    assert!(sb.requests.records().is_empty());
}

#[tokio::test]
async fn control_api_mutates_the_dataset_and_search_sees_it() {
    let sb = spawn_sandbox().await;
    let c = reqwest::Client::new();
    let search = |cql: &str| {
        let url = format!(
            "{}/rest/api/content/search?cql={}&expand=version,metadata.labels,children.attachment",
            sb.urls.dc_base,
            url::form_urlencoded::byte_serialize(cql.as_bytes()).collect::<String>()
        );
        let c = c.clone();
        async move {
            c.get(url)
                .bearer_auth("sandbox-pat")
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()
        }
    };

    let added: Value = c
        .post(control(&sb, "/confluence/content"))
        .json(&json!({"title": "Fresh", "space": "ENG", "parent": "2001", "labels": ["fresh"], "body": "<p>v1</p>"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = added["id"].as_str().unwrap().to_owned();
    let found = search("label=fresh").await;
    assert_eq!(found["results"][0]["id"], id.as_str());
    assert_eq!(found["results"][0]["version"]["number"], 1);

    let edited: Value = c
        .patch(control(&sb, &format!("/confluence/content/{id}")))
        .json(&json!({"body": "<p>v2</p>"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(edited["version"], 2);
    assert_eq!(
        search("label=fresh").await["results"][0]["version"]["number"],
        2
    );

    c.put(control(&sb, &format!("/confluence/content/{id}/labels")))
        .json(&json!(["renamed"]))
        .send()
        .await
        .unwrap();
    assert_eq!(search("label=fresh").await["size"], 0);
    assert_eq!(search("label=renamed").await["size"], 1);

    let res = c
        .post(control(&sb, &format!("/confluence/content/{id}/move")))
        .json(&json!({"parent": null, "space": "TEAM"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(search("label=renamed AND space=TEAM").await["size"], 1);

    let att: Value = c
        .post(control(
            &sb,
            &format!("/confluence/content/{id}/attachments"),
        ))
        .json(&json!({"title": "a.txt", "mediaType": "text/plain", "data": {"text": "hello"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let att_id = att["id"].as_str().unwrap().to_owned();
    assert_eq!(
        search("label=renamed").await["results"][0]["children"]["attachment"]["size"],
        1
    );
    let updated: Value = c
        .patch(control(&sb, &format!("/confluence/attachments/{att_id}")))
        .json(&json!({"data": {"text": "hello again"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(updated["version"], 2);
    let listed = reqwest::Client::new()
        .get(format!(
            "{}/rest/api/content/{id}/child/attachment?expand=version",
            sb.urls.dc_base
        ))
        .bearer_auth("sandbox-pat")
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["results"][0]["version"]["number"], 2);
    assert_eq!(listed["results"][0]["extensions"]["fileSize"], 11);
    c.delete(control(&sb, &format!("/confluence/attachments/{att_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        search("label=renamed").await["results"][0]["children"]["attachment"]["size"],
        0
    );

    c.delete(control(&sb, &format!("/confluence/content/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(search("label=renamed").await["size"], 0);
    let missing = c
        .delete(control(&sb, &format!("/confluence/content/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // Invalid mutations are refused whole.
    let bad = c
        .post(control(&sb, "/confluence/content"))
        .json(&json!({"title": "Orphan", "space": "ENG", "parent": "424242"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    // Dataset round trip through YAML.
    let yaml = c
        .get(control(&sb, "/confluence/dataset?format=yaml"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.contains("Engineering Home"));
    let replaced = c
        .put(control(&sb, "/confluence/dataset"))
        .header("content-type", "application/yaml")
        .body(yaml.replace("Engineering Home", "Engineering Start"))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    assert_eq!(
        sb.confluence.content("2001").unwrap().title,
        "Engineering Start"
    );

    let generated: Value = c
        .post(control(&sb, "/confluence/generate"))
        .json(&json!({"seed": 9, "spaces": 2, "pages_per_space": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(generated["spaces"], 2);
    assert_eq!(sb.confluence.dataset().spaces.len(), 2);

    let urls: Value = c
        .get(control(&sb, "/urls"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(urls["dc_base"], sb.urls.dc_base.as_str());
}

#[tokio::test]
async fn control_api_expires_tokens() {
    let sb = spawn_sandbox().await;
    let c = reqwest::Client::new();
    let token: Value = c
        .post(format!("{}/oauth/token", sb.urls.cloud_gateway))
        .json(&json!({"grant_type": "client_credentials", "client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let live: Value = c
        .get(control(&sb, "/confluence/tokens"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(live["live"], 1);
    c.post(control(&sb, "/confluence/tokens/expire"))
        .send()
        .await
        .unwrap();
    let res = c
        .get(format!(
            "{}/wiki/rest/api/content/search?cql=id%3D2001",
            sb.urls.cloud_api
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// A generated 1 GiB attachment, downloaded the Cloud way (gateway → 302 → media host), streams
/// in a couple of seconds with flat memory on both ends.
#[tokio::test]
async fn generated_1gib_attachment_streams_through_media_with_flat_memory() {
    const SIZE: u64 = 1024 * 1024 * 1024;
    let sb = spawn_sandbox().await;
    sb.confluence
        .add_attachment(
            "2005",
            Attachment {
                id: "att9000".into(),
                title: "huge.bin".into(),
                media_type: "application/octet-stream".into(),
                version: 1,
                when: sandbox::confluence::default_when(),
                data: AttachmentData::Generated {
                    seed: 7,
                    size: SIZE,
                },
            },
        )
        .unwrap();
    let token: Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", sb.urls.cloud_gateway))
        .json(&json!({"grant_type": "client_credentials", "client_id": "sandbox-client-id", "client_secret": "sandbox-client-secret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let before = rss_kib();
    let res = reqwest::Client::new()
        .get(format!(
            "{}/wiki/rest/api/content/2005/child/attachment/att9000/download",
            sb.urls.cloud_api
        ))
        .bearer_auth(token["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.url().as_str().starts_with(&sb.urls.media));
    assert_eq!(res.headers()["content-length"], SIZE.to_string().as_str());
    let mut stream = res.bytes_stream();
    let mut total = 0u64;
    let mut peak = 0u64;
    let mut next_probe = 0u64;
    while let Some(chunk) = stream.next().await {
        total += chunk.unwrap().len() as u64;
        if total >= next_probe {
            peak = peak.max(rss_kib().unwrap_or(0));
            next_probe += 64 * 1024 * 1024;
        }
    }
    assert_eq!(total, SIZE);
    if let Some(before) = before {
        assert!(
            peak.saturating_sub(before) < 64 * 1024,
            "memory grew by {} KiB while streaming",
            peak.saturating_sub(before)
        );
    }
}

#[tokio::test]
async fn dc_quirks_switch_through_the_control_api() {
    let sb = spawn_sandbox().await;
    let url = control(&sb, "/confluence/dc-quirks");
    let shown: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
    assert_eq!(
        shown,
        json!({"next_start_by_requested_limit": true, "past_end": "repeat_tail",
               "past_end_after": 200, "content_listing_blocked": true})
    );
    assert_eq!(
        dc_get(&sb, "/rest/api/content?spaceKey=ENG&title=Runbooks")
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    let set: Value = reqwest::Client::new()
        .put(&url)
        .json(&json!({"content_listing_blocked": false, "past_end": "empty_pages"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(set["past_end"], "empty_pages");
    assert_eq!(set["content_listing_blocked"], false);
    assert_eq!(
        sb.confluence.dc_quirks(),
        serde_json::from_value(set).unwrap()
    );
    assert_eq!(
        dc_get(&sb, "/rest/api/content?spaceKey=ENG&title=Runbooks")
            .await
            .status(),
        StatusCode::OK
    );
}

//! Confluence Cloud's points quota over HTTP: headers on every answer, points per answered
//! object, the 429 once the pool is spent (and not before), the control API and the counters.
#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use sandbox::confluence::{CloudQuotaConfig, QuotaPool};
use sandbox::{spawn, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

async fn sandbox(quota: CloudQuotaConfig) -> SandboxHandle {
    spawn(SandboxConfig {
        cloud_quota: quota,
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

/// Sends the request and reads its JSON answer.
async fn json_of(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

async fn token(sb: &SandboxHandle) -> String {
    let body = json_of(
        reqwest::Client::new()
            .post(format!("{}/oauth/token", sb.urls.cloud_gateway))
            .json(&json!({
                "grant_type": "client_credentials",
                "client_id": "sandbox-client-id",
                "client_secret": "sandbox-client-secret",
            })),
    )
    .await;
    body["access_token"].as_str().unwrap().to_owned()
}

async fn get(sb: &SandboxHandle, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}{path}", sb.urls.cloud_api))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

const SEARCH: &str =
    "/wiki/rest/api/content/search?cql=type%3Dpage&expand=children.attachment&limit=2";

#[tokio::test]
async fn every_answer_carries_the_quota_headers_and_costs_its_objects() {
    let sb = sandbox(CloudQuotaConfig::default()).await;
    let token = token(&sb).await;
    assert_eq!(
        sb.cloud_quota.points_total(),
        0,
        "the token endpoint is free"
    );
    let res = get(&sb, &token, SEARCH).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    let body: Value = res.json().await.unwrap();
    let results = body["results"].as_array().unwrap();
    let attachments: usize = results
        .iter()
        .map(|r| {
            r["children"]["attachment"]["results"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    let cost = 1 + results.len() as u64 + attachments as u64;
    assert_eq!(sb.cloud_quota.points_total(), cost);
    assert_eq!(h["x-ratelimit-limit"], "65000");
    assert_eq!(
        h["x-ratelimit-remaining"],
        (65_000 - cost).to_string().as_str()
    );
    assert_eq!(h["x-ratelimit-nearlimit"], "false");
    let reset = h["x-ratelimit-reset"].to_str().unwrap();
    assert!(reset.ends_with(":00:00Z"), "the top of a UTC hour: {reset}");
    assert_eq!(
        h["beta-ratelimit-policy"],
        "\"global-app-quota\";q=65000;w=3600"
    );
    let state = h["beta-ratelimit"].to_str().unwrap();
    assert!(state.starts_with("\"global-app-quota\";t="), "{state}");
    let route = "/ex/confluence/{cloud_id}/wiki/rest/api/content/search";
    let by_route = sb.cloud_quota.by_route();
    assert_eq!(
        (by_route[route].requests, by_route[route].points),
        (1, cost)
    );
}

#[tokio::test]
async fn a_spent_pool_refuses_everything_until_the_window_resets() {
    let sb = sandbox(CloudQuotaConfig {
        pool: 10,
        window_secs: 3600,
        kind: QuotaPool::Tenant,
        ..CloudQuotaConfig::default()
    })
    .await;
    let token = token(&sb).await;
    // Cheap requests until the pool is gone: the one that crosses it is still answered.
    let mut answered = 0;
    loop {
        let res = get(&sb, &token, "/wiki/api/v2/pages/2002").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            let h = res.headers();
            let retry_after: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
            assert!((1..=3600).contains(&retry_after), "{retry_after}");
            assert_eq!(h["beta-retry-after"], h["retry-after"]);
            assert_eq!(h["ratelimit-reason"], "confluence-quota-tenant-based");
            assert_eq!(h["x-ratelimit-remaining"], "0");
            assert_eq!(h["x-ratelimit-nearlimit"], "true");
            let state = h["beta-ratelimit"].to_str().unwrap();
            assert!(state.starts_with("\"tenant-app-quota\";r=0;t="), "{state}");
            break;
        }
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        if h["x-ratelimit-nearlimit"] == "true" {
            assert!(h["beta-ratelimit"].to_str().unwrap().contains(";r="));
        }
        answered += 1;
        assert!(answered < 20, "never refused");
    }
    // 2 points each: 5 answered.
    assert_eq!(answered, 5);
    // Everything is refused now, any route.
    assert_eq!(
        get(&sb, &token, SEARCH).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(sb.cloud_quota.refused_total(), 2);
    // A new pool size applies at once (the points spent stay spent).
    sb.cloud_quota.patch(sandbox::confluence::CloudQuotaPatch {
        pool: Some(100),
        ..Default::default()
    });
    assert_eq!(
        get(&sb, &token, "/wiki/api/v2/pages/2002").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_short_window_refills_the_pool() {
    let sb = sandbox(CloudQuotaConfig {
        pool: 2,
        window_secs: 1,
        ..CloudQuotaConfig::default()
    })
    .await;
    let token = token(&sb).await;
    let refused = loop {
        let res = get(&sb, &token, "/wiki/api/v2/pages/2002").await;
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            break res;
        }
    };
    let wait: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(wait, 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        get(&sb, &token, "/wiki/api/v2/pages/2002").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_control_api_sets_spends_and_reads_the_quota() {
    let sb = sandbox(CloudQuotaConfig::default()).await;
    let control = format!("{}/_sandbox/cloud-quota", sb.urls.control);
    let http = reqwest::Client::new();
    let set = json_of(http.put(&control).json(
        &json!({"pool": 1000, "window_secs": 30, "kind": "tenant", "reason": "conf-global-based"}),
    ))
    .await;
    assert_eq!(
        (set["pool"].as_u64(), set["window_secs"].as_u64()),
        (Some(1000), Some(30))
    );
    let spent = json_of(
        http.post(format!("{control}/spend"))
            .json(&json!({"points": 999})),
    )
    .await;
    assert_eq!(
        (spent["spent"].as_u64(), spent["remaining"].as_u64()),
        (Some(999), Some(1))
    );
    let token = token(&sb).await;
    get(&sb, &token, "/wiki/api/v2/pages/2002").await;
    let refused = get(&sb, &token, "/wiki/api/v2/pages/2002").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["ratelimit-reason"], "conf-global-based");
    assert!(refused.headers().get("beta-ratelimit").is_some());
    let shown = json_of(http.get(&control)).await;
    assert_eq!(shown["points_total"], 2);
    assert_eq!(shown["refused_total"], 1);
    let route = &shown["by_route"]["/ex/confluence/{cloud_id}/wiki/api/v2/pages/{id}"];
    assert_eq!(
        (route["requests"].as_u64(), route["refused"].as_u64()),
        (Some(1), Some(1))
    );
    let reset = json_of(http.delete(format!("{control}/counters"))).await;
    assert_eq!(reset["points_total"], 0);
    assert_eq!(reset["spent"], 1001, "the window's spend stays");
    // Off: nothing charged, no headers.
    http.put(&control)
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    let res = get(&sb, &token, "/wiki/api/v2/pages/2002").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().get("x-ratelimit-limit").is_none());
}

#[tokio::test]
async fn data_center_and_the_media_host_are_not_charged() {
    let sb = sandbox(CloudQuotaConfig::default()).await;
    let res = reqwest::get(format!("{}/rest/applinks/1.0/manifest", sb.urls.dc_base))
        .await
        .unwrap();
    assert!(res.headers().get("x-ratelimit-limit").is_none());
    let res = reqwest::get(format!("{}/file/att1/binary", sb.urls.media))
        .await
        .unwrap();
    assert!(res.headers().get("x-ratelimit-limit").is_none());
    assert_eq!(sb.cloud_quota.points_total(), 0);
}

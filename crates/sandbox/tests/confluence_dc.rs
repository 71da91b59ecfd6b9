//! Confluence Data Center: OAuth with `scope=READ`, PAT and basic auth, the manifest, offset
//! pagination and its caps, attachment listings and downloads under a context path.
#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use sandbox::confluence::{ConfluenceConfig, DcQuirks, GenerateSpec, PastEnd};
use sandbox::{spawn, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

async fn spawn_dc(confluence: ConfluenceConfig) -> SandboxHandle {
    spawn(SandboxConfig {
        confluence: ConfluenceConfig {
            dc_context_path: "/confluence".into(),
            ..confluence
        },
        ..SandboxConfig::default()
    })
    .await
    .unwrap()
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

async fn get_pat(sb: &SandboxHandle, path_and_query: &str) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .get(format!("{}{}", sb.urls.dc_base, path_and_query))
        .bearer_auth("sandbox-pat")
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn token_request(sb: &SandboxHandle, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/rest/oauth2/latest/token", sb.urls.dc_base))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap())
}

#[tokio::test]
async fn oauth_token_requires_scope_read() {
    let sb = spawn_dc(ConfluenceConfig::default()).await;
    assert!(sb.urls.dc_base.ends_with("/confluence"));
    let creds = [
        ("grant_type", "client_credentials"),
        ("client_id", "sandbox-client-id"),
        ("client_secret", "sandbox-client-secret"),
    ];
    let (status, body) = token_request(&sb, &creds).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");

    let mut with_scope = creds.to_vec();
    with_scope.push(("scope", "READ"));
    let (status, body) = token_request(&sb, &with_scope).await;
    assert_eq!(status, StatusCode::OK);
    let token = body["access_token"].as_str().unwrap().to_owned();
    assert!(body["expires_in"].as_u64().unwrap() > 0);

    let res = reqwest::Client::new()
        .get(format!("{}/rest/api/content/2001", sb.urls.dc_base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let wrong = [
        ("grant_type", "client_credentials"),
        ("client_id", "sandbox-client-id"),
        ("client_secret", "wrong"),
        ("scope", "READ"),
    ];
    assert_eq!(token_request(&sb, &wrong).await.0, StatusCode::UNAUTHORIZED);

    sb.confluence.expire_tokens();
    let res = reqwest::Client::new()
        .get(format!("{}/rest/api/content/2001", sb.urls.dc_base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn pat_and_basic_auth_work_and_bad_credentials_get_401() {
    let sb = spawn_dc(ConfluenceConfig::default()).await;
    let url = format!(
        "{}/rest/api/content/2001?expand=body.storage,version,space,metadata.labels",
        sb.urls.dc_base
    );
    let c = reqwest::Client::new();
    let basic = c
        .get(&url)
        .basic_auth("sandbox-user", Some("sandbox-password"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::OK);
    let page: Value = basic.json().await.unwrap();
    assert_eq!(page["id"], "2001");
    assert_eq!(page["body"]["storage"]["representation"], "storage");
    assert_eq!(page["space"]["type"], "global");
    assert_eq!(
        page["_links"]["webui"],
        "/pages/viewpage.action?pageId=2001"
    );
    assert_eq!(
        c.get(&url)
            .bearer_auth("sandbox-pat")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        c.get(&url)
            .bearer_auth("wrong")
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.get(&url)
            .basic_auth("sandbox-user", Some("x"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let none = c.get(&url).send().await.unwrap();
    assert_eq!(none.status(), StatusCode::UNAUTHORIZED);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["statusCode"], 401);
    let (status, _) = get_pat(&sb, "/rest/api/content/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn manifest_is_public_and_json_only_on_request() {
    let sb = spawn_dc(ConfluenceConfig::default()).await;
    let url = format!("{}/rest/applinks/1.0/manifest", sb.urls.dc_base);
    let json: Value = reqwest::Client::new()
        .get(&url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(json["id"], "5d1a3f0e-5a1d-4b0c-9a8e-5a4db0c0ffee");
    let xml = reqwest::get(&url).await.unwrap();
    assert!(xml.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("xml"));
    assert!(xml
        .text()
        .await
        .unwrap()
        .contains("<id>5d1a3f0e-5a1d-4b0c-9a8e-5a4db0c0ffee</id>"));
}

#[tokio::test]
async fn search_pages_by_offset_and_reports_every_space_as_global() {
    let sb = spawn_dc(ConfluenceConfig {
        dataset: GenerateSpec {
            seed: 5,
            spaces: 4,
            pages_per_space: 30,
            single_ratio: 0.6,
            ..GenerateSpec::default()
        }
        .generate(),
        ..ConfluenceConfig::default()
    })
    .await;
    let cql = r#"((label="ai-ingest") OR (label="ai-ingest-all")) AND space.type=global AND type != attachment"#;
    let expected: Vec<String> = sb
        .confluence
        .dataset()
        .content
        .iter()
        .filter(|c| {
            c.labels
                .iter()
                .any(|l| l == "ai-ingest" || l == "ai-ingest-all")
        })
        .map(|c| c.id.clone())
        .collect();
    let mut path = format!(
        "/rest/api/content/search?cql={}&expand=metadata.labels,version,space,children.attachment&limit=7&start=0",
        enc(cql)
    );
    let mut seen = Vec::new();
    let mut start = 0;
    loop {
        let (status, body) = get_pat(&sb, &path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["start"], start);
        assert_eq!(body["limit"], 7);
        assert_eq!(body["_links"]["context"], "/confluence");
        for r in body["results"].as_array().unwrap() {
            assert_eq!(r["space"]["type"], "global");
            seen.push(r["id"].as_str().unwrap().to_owned());
        }
        match body["_links"]["next"].as_str() {
            Some(next) => {
                assert!(next.starts_with("/rest/api/content/search?"), "{next}");
                start += 7;
                assert!(next.contains(&format!("start={start}")));
                path = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(seen, expected);

    let (status, body) = get_pat(
        &sb,
        &format!(
            "/rest/api/content/search?cql={}",
            enc("space.type=collaboration")
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["size"], 0, "DC has no collaboration spaces");
    let (status, _) = get_pat(
        &sb,
        &format!("/rest/api/content/search?cql={}", enc("space=NOPE")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown space key");
}

#[tokio::test]
async fn search_caps_depend_on_expansions() {
    let sb = spawn_dc(ConfluenceConfig {
        dataset: GenerateSpec {
            seed: 2,
            spaces: 1,
            pages_per_space: 1100,
            max_attachments_per_page: 0,
            paragraphs: 1,
            ..GenerateSpec::default()
        }
        .generate(),
        ..ConfluenceConfig::default()
    })
    .await;
    let cql = enc("type=page");
    for (expand, cap) in [
        ("", 1000),
        ("&expand=version", 200),
        ("&expand=version,body.storage", 50),
    ] {
        let (_, body) = get_pat(
            &sb,
            &format!("/rest/api/content/search?cql={cql}&limit=5000{expand}"),
        )
        .await;
        assert_eq!(body["limit"], cap, "{expand}");
        assert_eq!(body["size"], cap, "{expand}");
        let next = body["_links"]["next"].as_str().unwrap();
        assert!(next.contains(&format!("limit={cap}")), "{next}");
    }
}

#[tokio::test]
async fn child_attachments_page_by_offset_and_download_with_credentials() {
    let sb = spawn_dc(ConfluenceConfig::default()).await;
    let (_, body) = get_pat(
        &sb,
        "/rest/api/content/search?cql=id%3D2004&expand=children.attachment,children.attachment.version",
    )
    .await;
    let inline = &body["results"][0]["children"]["attachment"];
    assert_eq!(inline["size"], 25);
    let next = inline["_links"]["next"].as_str().unwrap();
    assert_eq!(
        next,
        "/rest/api/content/2004/child/attachment?limit=25&start=25"
    );
    let (status, rest) = get_pat(&sb, next).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rest["size"], 5);
    assert!(rest["_links"]["next"].is_null());

    let (_, all) = get_pat(&sb, "/rest/api/content/2004/child/attachment").await;
    assert_eq!(all["limit"], 50);
    assert_eq!(all["size"], 30);

    let (_, home) = get_pat(
        &sb,
        "/rest/api/content/2001/child/attachment?expand=version",
    )
    .await;
    let report = home["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"] == "report (final).pdf")
        .unwrap();
    assert_eq!(report["id"], "att3002");
    assert_eq!(report["version"]["number"], 1);
    let download = report["_links"]["download"].as_str().unwrap();
    assert!(
        download.starts_with("/download/attachments/2001/report%20%28final%29.pdf?version=1"),
        "{download}"
    );
    let res = reqwest::Client::new()
        .get(format!("{}{download}", sb.urls.dc_base))
        .bearer_auth("sandbox-pat")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    assert_eq!(res.text().await.unwrap(), "%PDF-1.4 sandbox\n");
    let anonymous = reqwest::get(format!("{}{download}", sb.urls.dc_base))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_content_listing_is_blocked_by_default_and_serves_title_lookups_when_open() {
    let sb = spawn_dc(ConfluenceConfig::default()).await;
    let lookup = format!(
        "/rest/api/content?spaceKey=TEAM&title={}&type=page&expand=version",
        enc("Quoted \"Label\" Page")
    );
    let (status, body) = get_pat(&sb, &lookup).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["statusCode"], 403);
    // Single content and CQL search stay open on a blocked instance.
    assert_eq!(
        get_pat(&sb, "/rest/api/content/2102").await.0,
        StatusCode::OK
    );
    let cql = enc(r#"space="TEAM" AND title="Quoted \"Label\" Page" AND type=page"#);
    let (status, body) = get_pat(&sb, &format!("/rest/api/content/search?cql={cql}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"][0]["id"], "2102");

    sb.confluence.set_dc_quirks(DcQuirks {
        content_listing_blocked: false,
        ..DcQuirks::default()
    });
    let (status, body) = get_pat(&sb, &lookup).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["results"][0]["id"], "2102");
    let (status, body) = get_pat(&sb, "/rest/api/content?spaceKey=TEAM&title=Nope&type=page").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["size"], 0);
}

/// `(ids, next)` of one DC listing page.
async fn listing_page(sb: &SandboxHandle, path: &str) -> (Vec<String>, Option<String>) {
    let (status, body) = get_pat(sb, path).await;
    assert_eq!(status, StatusCode::OK, "{path}: {body}");
    let ids = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        body["size"],
        json!(body["results"].as_array().unwrap().len())
    );
    (ids, body["_links"]["next"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn a_capped_page_names_the_requested_limit_in_next_unless_switched_off() {
    let sb = spawn_dc(ConfluenceConfig {
        dataset: GenerateSpec {
            seed: 3,
            spaces: 1,
            pages_per_space: 120,
            max_attachments_per_page: 0,
            paragraphs: 1,
            ..GenerateSpec::default()
        }
        .generate(),
        ..ConfluenceConfig::default()
    })
    .await;
    let first = format!(
        "/rest/api/content/search?cql={}&expand=body.storage&limit=100&start=0",
        enc("type=page")
    );
    let (ids, next) = listing_page(&sb, &first).await;
    assert_eq!(ids.len(), 50, "capped at 50 with bodies");
    let next = next.unwrap();
    assert!(next.contains("start=100"), "{next}");
    // Following that link skips items 50..100 without any error.
    let (rest, _) = listing_page(&sb, &next).await;
    assert_eq!(rest.len(), 20);

    sb.confluence.set_dc_quirks(DcQuirks {
        next_start_by_requested_limit: false,
        ..DcQuirks::default()
    });
    let (_, next) = listing_page(&sb, &first).await;
    assert!(next.unwrap().contains("start=50"));
}

#[tokio::test]
async fn long_listings_keep_a_next_link_past_their_end() {
    let sb = spawn_dc(ConfluenceConfig::default()).await;
    // `2004 Runbooks` has 30 attachments: past a threshold of 20 it is a long listing.
    let listing =
        |start: usize| format!("/rest/api/content/2004/child/attachment?limit=25&start={start}");
    let all: Vec<String> = (3100..3130).map(|i| format!("att{i}")).collect();
    let quirks = |past_end| DcQuirks {
        past_end,
        past_end_after: 20,
        ..DcQuirks::default()
    };

    sb.confluence.set_dc_quirks(quirks(PastEnd::RepeatTail));
    let (ids, next) = listing_page(&sb, &listing(25)).await;
    assert_eq!(ids, all[5..], "padded to `limit` with items already served");
    assert!(next.unwrap().ends_with("start=50"));
    let (ids, next) = listing_page(&sb, &listing(50)).await;
    assert_eq!(ids, all[5..]);
    assert!(next.unwrap().ends_with("start=75"), "and it never ends");

    sb.confluence.set_dc_quirks(quirks(PastEnd::EmptyPages));
    let (ids, next) = listing_page(&sb, &listing(25)).await;
    assert_eq!(ids, all[25..]);
    assert!(next.unwrap().ends_with("start=50"));
    let (ids, next) = listing_page(&sb, &listing(50)).await;
    assert!(ids.is_empty());
    assert!(next.unwrap().ends_with("start=75"));

    sb.confluence.set_dc_quirks(quirks(PastEnd::Terminates));
    let (ids, next) = listing_page(&sb, &listing(25)).await;
    assert_eq!(ids, all[25..]);
    assert_eq!(next, None);

    // The search misbehaves the same way; up to the threshold every listing ends.
    sb.confluence.set_dc_quirks(DcQuirks {
        past_end_after: 2,
        ..DcQuirks::default()
    });
    let cql = enc("ancestor=2001 AND type != attachment");
    let (ids, next) = listing_page(
        &sb,
        &format!("/rest/api/content/search?cql={cql}&limit=100"),
    )
    .await;
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(next.unwrap().contains("start=100"));
    sb.confluence.set_dc_quirks(DcQuirks::default());
    let (_, next) = listing_page(
        &sb,
        &format!("/rest/api/content/search?cql={cql}&limit=100"),
    )
    .await;
    assert_eq!(next, None);
}

#[tokio::test]
async fn data_center_serves_no_cloud_only_types() {
    let sb = spawn_dc(ConfluenceConfig::default()).await;
    // A page below the folder 2006 (a dataset shared with Cloud can hold one).
    let below = sb
        .confluence
        .add_page("ENG", Some("2006"), "Below The Folder", &[])
        .unwrap();
    let cql = enc("ancestor=2001 AND type != attachment");
    let (status, body) = get_pat(
        &sb,
        &format!("/rest/api/content/search?cql={cql}&expand=ancestors&limit=100"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let results = body["results"].as_array().unwrap();
    let types: Vec<&str> = results
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    assert!(
        types.iter().all(|t| *t == "page" || *t == "blogpost"),
        "{types:?}"
    );
    let below_json = results.iter().find(|r| r["id"] == below.as_str()).unwrap();
    let ancestors: Vec<&str> = below_json["ancestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ancestors, ["2001"], "the folder is not an ancestor on DC");
    let (by_parent, _) = listing_page(
        &sb,
        &format!("/rest/api/content/search?cql={}", enc("parent=2001")),
    )
    .await;
    assert!(by_parent.contains(&below), "{by_parent:?}");

    for id in ["2006", "2007", "2008"] {
        let (status, _) = get_pat(&sb, &format!("/rest/api/content/{id}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{id}");
    }
    for t in ["folder", "database", "whiteboard", "embed"] {
        let (status, body) = get_pat(
            &sb,
            &format!("/rest/api/content/search?cql={}", enc(&format!("type={t}"))),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{t}: {body}");
    }
    // Cloud serves the same dataset's folder.
    let cloud = reqwest::Client::new()
        .get(format!(
            "{}/wiki/rest/api/content/search?cql={}",
            sb.urls.cloud_api,
            enc("type=folder")
        ))
        .bearer_auth(cloud_token(&sb).await)
        .send()
        .await
        .unwrap();
    let cloud: Value = cloud.json().await.unwrap();
    assert_eq!(cloud["results"][0]["id"], "2006");
}

async fn cloud_token(sb: &SandboxHandle) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{}/oauth/token", sb.urls.cloud_gateway))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn example_dataset_file_loads_and_serves() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/datasets/example.yaml"
    ))
    .unwrap();
    let dataset = sandbox::confluence::Dataset::from_yaml(&text).unwrap();
    let sb = spawn_dc(ConfluenceConfig {
        dataset,
        ..ConfluenceConfig::default()
    })
    .await;
    let (_, body) = get_pat(
        &sb,
        &format!(
            "/rest/api/content/search?cql={}",
            enc(r#"label="say \"hi\"""#)
        ),
    )
    .await;
    assert_eq!(body["results"][0]["id"], "2101");
    let res = reqwest::Client::new()
        .get(format!(
            "{}/download/attachments/2001/big.pdf",
            sb.urls.dc_base
        ))
        .bearer_auth("sandbox-pat")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-length"], "1073741824");
}

//! Unexpected content and partial failures: content of a type no client knows, fault rules that
//! target one id of a batch (fail the request, or leave the item out), the overloaded Cloud
//! search, and OAuth scopes per Cloud client.
#![allow(clippy::unwrap_used)]

use reqwest::StatusCode;
use sandbox::common::FaultRule;
use sandbox::confluence::{CloudOAuthClient, Content, ContentType, SearchOverload};
use sandbox::{spawn, SandboxConfig, SandboxHandle};
use serde_json::{json, Value};

async fn spawn_sandbox() -> SandboxHandle {
    spawn(SandboxConfig::default()).await.unwrap()
}

async fn token_for(sb: &SandboxHandle, id: &str, secret: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/oauth/token", sb.urls.cloud_gateway))
        .json(
            &json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret}),
        )
        .send()
        .await
        .unwrap()
}

async fn cloud_token(sb: &SandboxHandle) -> String {
    let body: Value = token_for(sb, "sandbox-client-id", "sandbox-client-secret")
        .await
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn cloud_get(sb: &SandboxHandle, token: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/wiki{path}", sb.urls.cloud_api))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn dc_get(sb: &SandboxHandle, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}{path}", sb.urls.dc_base))
        .bearer_auth("sandbox-pat")
        .send()
        .await
        .unwrap()
}

fn ids(body: &Value) -> Vec<String> {
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn control(sb: &SandboxHandle, path: &str) -> String {
    format!("{}/_sandbox{path}", sb.urls.control)
}

#[tokio::test]
async fn content_of_a_type_nobody_knows_is_searched_and_served_as_it_is() {
    let sb = spawn_sandbox().await;
    sb.confluence
        .add_content(Content {
            id: "2900".into(),
            content_type: ContentType::Other("livedoc".into()),
            title: "A future type".into(),
            space: "ENG".into(),
            parent: None,
            labels: vec!["ai-ingest".into()],
            body: String::new(),
            version: 1,
            when: sandbox::confluence::default_when(),
            attachments: vec![],
        })
        .unwrap();
    // YAML/JSON datasets take any other word as a type and keep it.
    let yaml = sb.confluence.dataset().to_yaml().unwrap();
    assert!(yaml.contains("type: livedoc"), "{yaml}");
    let token = cloud_token(&sb).await;
    let search = cloud_get(
        &sb,
        &token,
        "/rest/api/content/search?cql=label%3D%22ai-ingest%22&expand=space,version,metadata.labels&limit=100",
    )
    .await;
    let body: Value = search.json().await.unwrap();
    let item = body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "2900")
        .unwrap();
    assert_eq!(item["type"], "livedoc");
    assert_eq!(item["space"]["key"], "ENG");
    // The v2 page endpoints do not return it.
    let v2: Value = cloud_get(&sb, &token, "/api/v2/pages?id=2900")
        .await
        .json()
        .await
        .unwrap();
    assert!(ids(&v2).is_empty());
    // Data Center serves it too.
    let dc: Value = dc_get(&sb, "/rest/api/content/search?cql=id%3D2900")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dc["results"][0]["type"], "livedoc");
}

#[tokio::test]
async fn a_batch_id_rule_fails_only_requests_that_name_the_id() {
    let sb = spawn_sandbox().await;
    sb.faults
        .add_rule(FaultRule::failing_batch_id("cloud", "2002", 404));
    let token = cloud_token(&sb).await;
    let with = cloud_get(&sb, &token, "/api/v2/pages?id=2001,2002,2003").await;
    assert_eq!(with.status(), StatusCode::NOT_FOUND);
    let without = cloud_get(&sb, &token, "/api/v2/pages?id=2001&id=2003").await;
    assert_eq!(without.status(), StatusCode::OK);
    // CQL `id in (…)`, and the id as a path segment.
    let cql = cloud_get(
        &sb,
        &token,
        "/rest/api/content/search?cql=id%20in%20(2001%2C2002)",
    )
    .await;
    assert_eq!(cql.status(), StatusCode::NOT_FOUND);
    let listing = cloud_get(&sb, &token, "/api/v2/pages/2002/attachments").await;
    assert_eq!(listing.status(), StatusCode::NOT_FOUND);
    let other = cloud_get(&sb, &token, "/api/v2/pages/2004/attachments").await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_omit_rule_leaves_the_item_out_of_batched_answers() {
    let sb = spawn_sandbox().await;
    // Through the control API, as a script would add it.
    let added: Value = reqwest::Client::new()
        .post(control(&sb, "/faults"))
        .json(&json!({"service": "*", "batch_id": "2002", "omit": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(added["id"].as_u64().is_some());
    let token = cloud_token(&sb).await;
    let v2: Value = cloud_get(
        &sb,
        &token,
        "/api/v2/pages?id=2001,2002,2003&body-format=storage",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ids(&v2), ["2001", "2003"]);
    let dc: Value = dc_get(
        &sb,
        "/rest/api/content/search?cql=id%20in%20(2001%2C2002%2C2003)&expand=body.storage",
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(ids(&dc), ["2001", "2003"]);
    let rules: Value = reqwest::get(control(&sb, "/faults"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rules["rules"][0]["fired"], 2);
    assert_eq!(rules["rules"][0]["batch_id"], "2002");
}

#[tokio::test]
async fn an_overloaded_cloud_search_fails_large_expanded_pages_only() {
    let sb = spawn_sandbox().await;
    sb.confluence
        .set_cloud_search_overload(Some(SearchOverload {
            max_limit_with_expand: 50,
            pass_first: 1,
        }));
    let token = cloud_token(&sb).await;
    let search = |limit: u32, expand: &str| {
        format!("/rest/api/content/search?cql=type%3Dpage&limit={limit}{expand}")
    };
    let status = |r: reqwest::Response| r.status();
    // Without expansions nothing fails; the first large expanded search still passes.
    assert_eq!(
        status(cloud_get(&sb, &token, &search(100, "")).await),
        StatusCode::OK
    );
    assert_eq!(
        status(cloud_get(&sb, &token, &search(100, "&expand=space")).await),
        StatusCode::OK
    );
    assert_eq!(
        status(cloud_get(&sb, &token, &search(100, "&expand=space")).await),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        status(cloud_get(&sb, &token, &search(50, "&expand=space")).await),
        StatusCode::OK
    );
    // Data Center is not affected; the control API shows and clears the mode.
    assert_eq!(
        dc_get(
            &sb,
            "/rest/api/content/search?cql=type%3Dpage&limit=100&expand=space"
        )
        .await
        .status(),
        StatusCode::OK
    );
    let shown: Value = reqwest::get(control(&sb, "/confluence/search-overload"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["fired"], 1);
    assert_eq!(shown["mode"]["max_limit_with_expand"], 50);
    reqwest::Client::new()
        .delete(control(&sb, "/confluence/search-overload"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status(cloud_get(&sb, &token, &search(100, "&expand=space")).await),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_token_without_a_routes_scope_gets_the_gateways_scope_mismatch() {
    let sb = spawn_sandbox().await;
    sb.confluence.set_cloud_client(CloudOAuthClient {
        id: "no-attachments".into(),
        secret: "s".into(),
        scopes: vec!["search:confluence".into(), "read:page:confluence".into()],
    });
    let issued: Value = token_for(&sb, "no-attachments", "s")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(issued["scope"], "search:confluence read:page:confluence");
    let token = issued["access_token"].as_str().unwrap();
    assert_eq!(
        cloud_get(&sb, token, "/rest/api/content/search?cql=type%3Dpage")
            .await
            .status(),
        StatusCode::OK
    );
    let refused = cloud_get(&sb, token, "/api/v2/pages/2004/attachments").await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.headers()["x-failure-category"],
        "FAILURE_CLIENT_SCOPE_CHECK"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(
        body,
        json!({"code": 401, "message": "Unauthorized; scope does not match"})
    );
    let download = cloud_get(
        &sb,
        token,
        "/rest/api/content/2001/child/attachment/att3001/download",
    )
    .await;
    assert_eq!(download.status(), StatusCode::UNAUTHORIZED);
    // The default client still holds every read scope; the control API lists and sets clients.
    let default = cloud_token(&sb).await;
    assert_eq!(
        cloud_get(&sb, &default, "/api/v2/pages/2004/attachments")
            .await
            .status(),
        StatusCode::OK
    );
    let set = reqwest::Client::new()
        .put(control(&sb, "/confluence/cloud-clients/sandbox-client-id"))
        .json(&json!({"secret": "sandbox-client-secret", "scopes": ["search:confluence"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let fewer = cloud_token(&sb).await;
    assert_eq!(
        cloud_get(&sb, &fewer, "/api/v2/pages?id=2001")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let listed: Value = reqwest::get(control(&sb, "/confluence/cloud-clients"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!listed.to_string().contains("sandbox-client-secret"));
    assert_eq!(listed.as_array().unwrap().len(), 2);
}

//! The Unique simulator's HTTP surfaces: auth modes, Zitadel tokens, the blob store, the file
//! diff, rate limits, faults and the control API.

#![allow(clippy::unwrap_used)]

mod unique_support;

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue};
use sandbox::unique::{ContentState, SeedFile, UniqueAuthMode, UniqueConfig, UniqueFault};
use serde_json::{json, Value};
use unique_support::*;

const ZITADEL_SCOPE: &str = "openid profile email urn:zitadel:iam:user:resourceowner urn:zitadel:iam:org:projects:roles urn:zitadel:iam:org:project:id:sandbox-project:aud";

fn external(token_ttl: Duration) -> UniqueConfig {
    UniqueConfig {
        auth_mode: UniqueAuthMode::External,
        token_ttl,
        ..UniqueConfig::default()
    }
}

/// The token request exactly as the reference sends it (Basic auth, `scope` then `grant_type`).
async fn request_token(h: &Harness, id: &str, secret: &str, scope: &str) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("scope", scope)
        .append_pair("grant_type", "client_credentials")
        .finish();
    h.http
        .post(format!("{}/oauth/v2/token", h.zitadel))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The token answer for the documented sandbox client, asked as the reference asks.
async fn documented_client_token(h: &Harness) -> Value {
    request_token(
        h,
        "sandbox-zitadel-client",
        "sandbox-zitadel-secret",
        ZITADEL_SCOPE,
    )
    .await
    .json()
    .await
    .unwrap()
}

fn bearer(token: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    h
}

#[tokio::test]
async fn cluster_local_requires_service_company_and_user_headers() {
    let mut h = start_default().await;
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(status, 200);

    for (drop, replace) in [
        ("x-service-id", None),
        ("x-company-id", None),
        ("x-user-id", None),
        ("x-company-id", Some("other-company")),
        ("x-user-id", Some("someone-else")),
    ] {
        let mut headers = cluster_local_headers();
        headers.remove(drop);
        if let Some(value) = replace {
            headers.insert(drop, HeaderValue::from_static(value));
        }
        h.auth = headers;
        let (status, body) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
        assert_eq!(status, 401, "{drop} {replace:?}");
        assert!(
            !body.to_string().contains("someone-else"),
            "no values echoed"
        );
        let (status, _) = h.post_graphql(&h.scope_management, USER, json!({})).await;
        assert_eq!(status, 401);
        let diff = h
            .file_diff(json!({"partialKey": "t/1_SP", "sourceKind": "K", "sourceName": "N", "fileList": []}))
            .await;
        assert_eq!(diff.status(), 401);
    }
}

#[tokio::test]
async fn external_mode_issues_tokens_for_the_reference_request_and_accepts_them() {
    let mut h = start(external(Duration::from_secs(3600))).await;
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(
        status, 401,
        "cluster_local headers do not authenticate in external mode"
    );

    let response = request_token(
        &h,
        "sandbox-zitadel-client",
        "sandbox-zitadel-secret",
        ZITADEL_SCOPE,
    )
    .await;
    assert_eq!(response.status(), 200);
    let token: Value = response.json().await.unwrap();
    assert_eq!(token["token_type"], "Bearer");
    assert_eq!(token["expires_in"], 3600);
    let access_token = token["access_token"].as_str().unwrap();

    h.auth = bearer(access_token);
    let (status, body) = h.post_graphql(&h.scope_management, USER, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["me"]["user"]["id"], "sandbox-user");
    let diff = h
        .file_diff(
            json!({"partialKey": "t/1_SP", "sourceKind": "K", "sourceName": "N", "fileList": []}),
        )
        .await;
    assert_eq!(diff.status(), 200);

    h.auth = bearer("sbx_forged");
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(status, 401);

    h.auth = bearer(access_token);
    h.sim.expire_tokens();
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn the_auth_mode_switches_through_the_control_api_without_losing_state() {
    let mut h = start_default().await;
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(status, 200);
    let mode = format!("{}/auth-mode", h.control);
    let shown: Value = h
        .http
        .get(&mode)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown, json!({"mode": "cluster_local"}));

    let switched = h
        .http
        .put(&mode)
        .json(&json!({"mode": "external"}))
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), 200);
    assert_eq!(h.sim.auth_mode(), UniqueAuthMode::External);
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(status, 401, "headers no longer authenticate");
    let token = documented_client_token(&h).await;
    h.auth = bearer(token["access_token"].as_str().unwrap());
    let (status, body) = h.post_graphql(&h.scope_management, USER, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["me"]["user"]["id"], "sandbox-user");

    let refused = h
        .http
        .put(&mode)
        .json(&json!({"mode": "telepathy"}))
        .send()
        .await
        .unwrap();
    assert!(refused.status().is_client_error());
    assert_eq!(h.sim.auth_mode(), UniqueAuthMode::External);

    h.sim.set_auth_mode(UniqueAuthMode::ClusterLocal);
    h.auth = cluster_local_headers();
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn token_endpoint_rejects_wrong_credentials_grant_and_missing_project_audience() {
    let h = start(external(Duration::from_secs(60))).await;
    let wrong = request_token(&h, "sandbox-zitadel-client", "nope", ZITADEL_SCOPE).await;
    assert_eq!(wrong.status(), 401);
    let body = wrong.text().await.unwrap();
    assert!(body.contains("invalid_client"));
    assert!(!body.contains("nope"));

    let no_audience = request_token(
        &h,
        "sandbox-zitadel-client",
        "sandbox-zitadel-secret",
        "openid profile email",
    )
    .await;
    assert_eq!(no_audience.status(), 400);

    let wrong_grant = h
        .http
        .post(format!("{}/oauth/v2/token", h.zitadel))
        .basic_auth("sandbox-zitadel-client", Some("sandbox-zitadel-secret"))
        .form(&[("grant_type", "password"), ("scope", ZITADEL_SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_grant.status(), 400);

    // Credentials in the form body work too (standard client_secret_post).
    let form = h
        .http
        .post(format!("{}/oauth/v2/token", h.zitadel))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", ZITADEL_SCOPE),
            ("client_id", "sandbox-zitadel-client"),
            ("client_secret", "sandbox-zitadel-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
}

#[tokio::test]
async fn bearer_tokens_expire_after_their_ttl() {
    let mut h = start(external(Duration::from_millis(300))).await;
    let token = documented_client_token(&h).await;
    assert_eq!(
        token["expires_in"], 1,
        "sub-second TTLs round up to a positive number"
    );
    h.auth = bearer(token["access_token"].as_str().unwrap());
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(h.sim.live_tokens(), 0);
}

/// Registers an attachment and returns (variables, writeUrl, readUrl).
async fn register(
    h: &Harness,
    key: &str,
    scope: &str,
    mime: &str,
    size: u64,
) -> (Value, String, String) {
    let mut variables = h.page_variables(key, scope, 0);
    variables["input"]["mimeType"] = json!(mime);
    variables["input"]["byteSize"] = json!(size);
    let data = h.ingest(CONTENT_UPSERT, variables.clone()).await;
    (
        variables,
        data["contentUpsert"]["writeUrl"]
            .as_str()
            .unwrap()
            .to_owned(),
        data["contentUpsert"]["readUrl"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

#[tokio::test]
async fn streams_a_multi_megabyte_upload_and_records_its_hash() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    const CHUNK: usize = 256 * 1024;
    const CHUNKS: usize = 96; // 24 MiB
    let size = (CHUNK * CHUNKS) as u64;
    let (mut variables, write_url, read_url) =
        register(&h, "t/1_SP/1::att2", &scope, "application/pdf", size).await;
    assert!(write_url.starts_with(&format!("{}/scoped/upload?key=", h.blob)));

    let chunk: Vec<u8> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    let mut expected = sha2::Sha256::default();
    for _ in 0..CHUNKS {
        sha2::Digest::update(&mut expected, &chunk);
    }
    let expected: String = sha2::Digest::finalize(expected)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let stream = futures::stream::iter(
        (0..CHUNKS).map(move |_| Ok::<_, std::io::Error>(bytes::Bytes::from(chunk.clone()))),
    );
    let put = h
        .http
        .put(&write_url)
        .header("content-type", "application/pdf")
        .header("content-length", size)
        .header("x-ms-blob-type", "BlockBlob")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    let file = h.sim.file_by_key("t/1_SP/1::att2").unwrap();
    assert_eq!(file.state, ContentState::Uploaded);
    assert_eq!(file.uploaded_size, Some(size));
    assert_eq!(file.sha256.as_deref(), Some(expected.as_str()));
    assert!(!file.has_bytes, "large uploads keep only their hash");

    variables["fileUrl"] = json!(read_url);
    h.ingest(CONTENT_UPSERT, variables).await;
    assert_eq!(
        h.sim.file_by_key("t/1_SP/1::att2").unwrap().state,
        ContentState::Finalized
    );
}

#[tokio::test]
async fn upload_checks_grant_headers_and_length() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    let (_, write_url, read_url) = register(&h, "k/1", &scope, "image/png", 4).await;
    let put = |url: String, headers: Vec<(&'static str, &'static str)>, body: reqwest::Body| {
        let mut request = h.http.put(url).body(body);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        request.send()
    };
    let good = vec![
        ("content-type", "image/png"),
        ("x-ms-blob-type", "BlockBlob"),
    ];

    let no_blob_type = put(
        write_url.clone(),
        vec![("content-type", "image/png")],
        "abcd".into(),
    )
    .await
    .unwrap();
    assert_eq!(no_blob_type.status(), 400);

    let wrong_mime = put(
        write_url.clone(),
        vec![
            ("content-type", "image/jpeg"),
            ("x-ms-blob-type", "BlockBlob"),
        ],
        "abcd".into(),
    )
    .await
    .unwrap();
    assert_eq!(wrong_mime.status(), 400);

    let chunked = put(
        write_url.clone(),
        good.clone(),
        reqwest::Body::wrap_stream(futures::stream::iter([Ok::<_, std::io::Error>(
            bytes::Bytes::from_static(b"abcd"),
        )])),
    )
    .await
    .unwrap();
    assert_eq!(chunked.status(), 411);

    let tampered = write_url.replace("key=", "key=x");
    let forged = put(tampered, good.clone(), "abcd".into()).await.unwrap();
    assert_eq!(forged.status(), 403);

    let read_as_write = read_url.replace("/scoped/read?", "/scoped/upload?");
    let wrong_kind = put(read_as_write, good.clone(), "abcd".into())
        .await
        .unwrap();
    assert_eq!(wrong_kind.status(), 403);

    // Uploads carry no auth headers: the grant in the URL is the credential.
    let ok = put(write_url.clone(), good.clone(), "abcd".into())
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);
    let read = h.http.get(&read_url).send().await.unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.bytes().await.unwrap().as_ref(), b"abcd");
}

#[tokio::test]
async fn write_urls_expire() {
    let h = start(UniqueConfig {
        upload_url_ttl: Duration::from_millis(100),
        ..UniqueConfig::default()
    })
    .await;
    let scope = h.root_scope("Space");
    let (_, write_url, _) = register(&h, "k/1", &scope, "text/plain", 1).await;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let put = h
        .http
        .put(write_url)
        .header("content-type", "text/plain")
        .header("x-ms-blob-type", "BlockBlob")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 403);
    assert!(put.text().await.unwrap().contains("expired"));
}

#[tokio::test]
async fn cluster_local_upload_path_on_the_ingestion_origin_accepts_the_rewritten_url() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    let (_, write_url, _) = register(&h, "k/1", &scope, "text/plain", 2).await;
    let key = url::Url::parse(&write_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "key")
        .unwrap()
        .1
        .into_owned();
    let rewritten = format!(
        "{}/scoped/upload?key={}",
        h.ingestion,
        percent_encoding::utf8_percent_encode(&key, percent_encoding::NON_ALPHANUMERIC)
    );
    let put = h
        .http
        .put(rewritten)
        .header("content-type", "text/plain")
        .header("x-ms-blob-type", "BlockBlob")
        .body("hi")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(h.sim.file_bytes("k/1").unwrap(), b"hi");
}

#[tokio::test]
async fn file_diff_reports_new_updated_and_deleted_under_the_partial_key() {
    let h = start_default().await;
    let sp = h.root_scope("SP");
    let old = chrono::Utc::now() - chrono::Duration::days(2);
    for key in [
        "t1/100_SP/1",
        "t1/100_SP/2",
        "t1/100_SP/2::att9",
        "t1/100_SP/3",
    ] {
        h.sim
            .seed_file(SeedFile {
                key: key.into(),
                scope_id: sp.clone(),
                mime_type: "text/html".into(),
                updated_at: Some(old),
                ..Default::default()
            })
            .unwrap();
    }
    // Another space, and a key that only shares a string prefix.
    h.sim
        .seed_file(SeedFile {
            key: "t1/100_SPX/7".into(),
            scope_id: sp.clone(),
            mime_type: "text/html".into(),
            ..Default::default()
        })
        .unwrap();

    let newer = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let older = (old - chrono::Duration::days(1)).to_rfc3339();
    let response = h
        .file_diff(json!({
            "partialKey": "t1/100_SP",
            "sourceKind": "ATLASSIAN_CONFLUENCE_CLOUD",
            "sourceName": "https://example.atlassian.net",
            "fileList": [
                {"key": "1", "url": "https://x/1", "updatedAt": older},
                {"key": "2", "url": "https://x/2", "updatedAt": newer},
                {"key": "2::att9", "url": "https://x/2a", "updatedAt": older},
                {"key": "4", "url": "https://x/4", "updatedAt": newer},
            ],
        }))
        .await;
    assert_eq!(response.status(), 200);
    let diff: Value = response.json().await.unwrap();
    assert_eq!(
        diff,
        json!({
            "newFiles": ["4"],
            "updatedFiles": ["2"],
            "movedFiles": [],
            "deletedFiles": ["3"],
        })
    );
}

#[tokio::test]
async fn freshly_ingested_content_is_not_updated_until_confluence_changes_it() {
    let h = start_default().await;
    let sp = h.root_scope("SP");
    let before = chrono::Utc::now().to_rfc3339();
    h.ingest_page("t1/100_SP/1", &sp, "<p>x</p>").await;
    let diff: Value = h
        .file_diff(
            json!({"partialKey": "t1/100_SP", "sourceKind": "K", "sourceName": "N",
            "fileList": [{"key": "1", "url": "u", "updatedAt": before}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(diff["updatedFiles"], json!([]));
    assert_eq!(diff["newFiles"], json!([]));
    let later = (chrono::Utc::now() + chrono::Duration::minutes(1)).to_rfc3339();
    let diff: Value = h
        .file_diff(
            json!({"partialKey": "t1/100_SP", "sourceKind": "K", "sourceName": "N",
            "fileList": [{"key": "1", "url": "u", "updatedAt": later}]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(diff["updatedFiles"], json!(["1"]));
}

#[tokio::test]
async fn file_diff_reports_moves_across_partial_keys_when_enabled() {
    let h = start(UniqueConfig {
        file_diff_reports_moves: true,
        ..UniqueConfig::default()
    })
    .await;
    let scope = h.root_scope("Root");
    h.sim
        .seed_file(SeedFile {
            key: "t1/100_SP/5".into(),
            scope_id: scope.clone(),
            mime_type: "text/html".into(),
            source_kind: Some("ATLASSIAN_CONFLUENCE_CLOUD".into()),
            source_name: Some("https://example.atlassian.net".into()),
            ..Default::default()
        })
        .unwrap();
    let diff: Value = h
        .file_diff(json!({
            "partialKey": "t1/200_ENG",
            "sourceKind": "ATLASSIAN_CONFLUENCE_CLOUD",
            "sourceName": "https://example.atlassian.net",
            "fileList": [
                {"key": "5", "url": "u", "updatedAt": "2026-01-01T00:00:00Z"},
                {"key": "6", "url": "u", "updatedAt": "2026-01-01T00:00:00Z"},
            ],
        }))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(diff["movedFiles"], json!(["5"]));
    assert_eq!(diff["newFiles"], json!(["6"]));
}

#[tokio::test]
async fn file_diff_rejects_malformed_bodies_with_400() {
    let h = start_default().await;
    let missing = h.file_diff(json!({"partialKey": "t/1_SP"})).await;
    assert_eq!(missing.status(), 400);
    let empty_key = h.file_diff(json!({"partialKey": "", "fileList": []})).await;
    assert_eq!(empty_key.status(), 400);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_per_service() {
    let h = start(UniqueConfig {
        rate_limit_per_minute: Some(3),
        ..UniqueConfig::default()
    })
    .await;
    for _ in 0..3 {
        let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
        assert_eq!(status, 200);
    }
    let limited = h
        .http
        .post(format!("{}/graphql", h.ingestion))
        .headers(h.auth.clone())
        .json(&json!({"query": HEALTH}))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");

    // The scope-management service and the file diff have their own windows.
    let (status, _) = h.post_graphql(&h.scope_management, USER, json!({})).await;
    assert_eq!(status, 200);
    let diff = h
        .file_diff(
            json!({"partialKey": "t/1_SP", "sourceKind": "K", "sourceName": "N", "fileList": []}),
        )
        .await;
    assert_eq!(diff.status(), 200);

    h.sim.set_rate_limit(None);
    let (status, _) = h.post_graphql(&h.ingestion, HEALTH, json!({})).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn faults_target_operations_and_rest_routes() {
    let h = start_default().await;
    h.sim
        .add_fault(UniqueFault::graphql_error("PaginatedScope", "Internal failure").times(1));
    h.sim.add_fault(
        UniqueFault::status("file-diff", 503)
            .retry_after(2)
            .times(2),
    );
    h.sim
        .add_fault(UniqueFault::latency("User", Duration::from_millis(150)));

    let variables = json!({"skip": 0, "take": 1, "where": {"id": {"equals": "x"}}});
    let (status, body) = h
        .post_graphql(&h.ingestion, PAGINATED_SCOPE, variables.clone())
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["message"], "Internal failure");
    let (_, body) = h
        .post_graphql(&h.ingestion, PAGINATED_SCOPE, variables)
        .await;
    assert!(body.get("errors").is_none(), "fires once: {body}");

    let body =
        json!({"partialKey": "t/1_SP", "sourceKind": "K", "sourceName": "N", "fileList": []});
    for _ in 0..2 {
        let r = h.file_diff(body.clone()).await;
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "2");
    }
    assert_eq!(h.file_diff(body).await.status(), 200);

    let started = std::time::Instant::now();
    let (status, _) = h.post_graphql(&h.scope_management, USER, json!({})).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn misplaced_variable_types_are_rejected_like_the_real_service() {
    let h = start_default().await;
    let (status, body) = h
        .post_graphql(
            &h.ingestion,
            "mutation DeleteFolder($scopeId: Int!, $recursive: Boolean!) {
               deleteFolder(scopeId: $scopeId, recursive: $recursive) { successFolders { id } }
             }",
            json!({"scopeId": 1, "recursive": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("$scopeId"));
}

#[tokio::test]
async fn control_api_seeds_lists_and_resets_state() {
    let h = start_default().await;
    let root: Value = h
        .http
        .post(format!("{}/scopes", h.control))
        .json(&json!({"id": "root-scope-id", "name": "Confluence", "externalId": null}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(root["id"], "root-scope-id");
    let child = h
        .http
        .post(format!("{}/scopes", h.control))
        .json(&json!({"name": "SP", "parentId": "root-scope-id", "externalId": "confc:t1:100:SP"}))
        .send()
        .await
        .unwrap();
    assert_eq!(child.status(), 201);
    let child: Value = child.json().await.unwrap();
    let seeded = h
        .http
        .post(format!("{}/files", h.control))
        .json(
            &json!({"key": "t1/100_SP/1", "scopeId": child["id"], "mimeType": "text/html",
                      "title": "Old page", "content": "<p>old</p>"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(seeded.status(), 201);

    let tree: Value = h
        .http
        .get(format!("{}/scopes", h.control))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tree[0]["name"], "Confluence");
    assert_eq!(tree[0]["children"][0]["path"], "/Confluence/SP");

    let files: Value = h
        .http
        .get(format!("{}/files?keyPrefix=t1/100_SP/", h.control))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(files[0]["title"], "Old page");
    assert_eq!(files[0]["sha256"], sha256_hex(b"<p>old</p>"));
    assert_eq!(files[0]["state"], "finalized");
    let content = h
        .http
        .get(format!("{}/files/content?key=t1/100_SP/1", h.control))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(content, "<p>old</p>");

    let fault = h
        .http
        .post(format!("{}/faults", h.control))
        .json(&json!({"target": "ContentUpsert", "status": 500, "times": 1, "when_contains": ["k/1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(fault.status(), 201);
    assert_eq!(h.sim.faults().len(), 1);

    let limit = h
        .http
        .put(format!("{}/rate-limit", h.control))
        .json(&json!({"per_minute": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(limit.status(), 204);

    h.file_diff(
        json!({"partialKey": "t1/100_SP", "sourceKind": "K", "sourceName": "N", "fileList": []}),
    )
    .await;
    let calls: Value = h
        .http
        .get(format!("{}/calls?operation=file-diff", h.control))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(calls[0]["variables"]["partialKey"], "t1/100_SP");

    let reset = h
        .http
        .post(format!("{}/reset", h.control))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), 204);
    assert!(h.sim.scopes().is_empty());
    assert!(h.sim.files().is_empty());
    assert!(h.sim.faults().is_empty());
}

#[tokio::test]
async fn spawned_sandbox_logs_graphql_operations_and_applies_shared_faults_per_operation() {
    let handle = sandbox::spawn(sandbox::SandboxConfig::default())
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let post = |base: String, document: &'static str, variables: Value| {
        http.post(format!("{base}/graphql"))
            .headers(cluster_local_headers())
            .json(&json!({"query": document, "variables": variables}))
            .send()
    };
    let me = post(handle.urls.unique_scope_management.clone(), USER, json!({}))
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    assert_eq!(
        handle
            .requests
            .count_operation("unique-scope-management", "User"),
        1
    );

    handle.faults.add_rule(
        sandbox::common::FaultRule::error("unique-ingestion", 503, 1.0)
            .on_route("ContentUpsert")
            .times(1),
    );
    let scope = handle
        .unique
        .seed_scope(sandbox::unique::SeedScope {
            name: "Space".into(),
            ..Default::default()
        })
        .unwrap()
        .id;
    let variables = json!({"input": {"key": "k/1", "mimeType": "text/html", "ownerType": "SCOPE"},
                           "scopeId": scope});
    let failed = post(
        handle.urls.unique_ingestion.clone(),
        CONTENT_UPSERT,
        variables.clone(),
    )
    .await
    .unwrap();
    assert_eq!(failed.status(), 503);
    let ok = post(
        handle.urls.unique_ingestion.clone(),
        CONTENT_UPSERT,
        variables,
    )
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().await.unwrap();
    let write_url = body["data"]["contentUpsert"]["writeUrl"].as_str().unwrap();
    assert!(
        write_url.starts_with(&handle.urls.unique_blob),
        "{write_url}"
    );
    assert_eq!(
        handle
            .requests
            .count_operation("unique-ingestion", "ContentUpsert"),
        2
    );
}

/// Peak resident set size of this process, in bytes (Linux; `None` elsewhere).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::test]
async fn a_quarter_gigabyte_upload_keeps_memory_flat() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    const CHUNK: usize = 1024 * 1024;
    const CHUNKS: usize = 256;
    let size = (CHUNK * CHUNKS) as u64;
    let (_, write_url, _) = register(&h, "k/big", &scope, "application/zip", size).await;
    let before = peak_rss();
    let chunk = bytes::Bytes::from(vec![7u8; CHUNK]);
    let stream =
        futures::stream::iter((0..CHUNKS).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
    let put = h
        .http
        .put(&write_url)
        .header("content-type", "application/zip")
        .header("content-length", size)
        .header("x-ms-blob-type", "BlockBlob")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);
    assert_eq!(
        h.sim.file_by_key("k/big").unwrap().uploaded_size,
        Some(size)
    );
    if let (Some(before), Some(after)) = (before, peak_rss()) {
        let growth = after.saturating_sub(before);
        assert!(
            growth < 64 * 1024 * 1024,
            "peak RSS grew by {} MiB during a 256 MiB upload",
            growth / (1024 * 1024)
        );
    }
}

#[tokio::test]
async fn faults_can_pick_one_item_by_its_key() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    h.sim.add_fault(
        UniqueFault::graphql_error("ContentUpsert", "Registration rejected")
            .when_contains("t1/SP/p2"),
    );
    h.sim
        .add_fault(UniqueFault::status("upload", 500).when_contains("t1/SP/p3"));
    h.sim.add_fault(
        UniqueFault::graphql_error("ContentUpsert", "Finalize failed")
            .when_contains("fileUrl")
            .when_contains("t1/SP/p4"),
    );

    h.ingest_page("t1/SP/p1", &scope, "one").await;
    let message = h
        .ingest_error(CONTENT_UPSERT, h.page_variables("t1/SP/p2", &scope, 3))
        .await;
    assert_eq!(message, "Registration rejected");

    let (_, write_url, _) = register(&h, "t1/SP/p3", &scope, "text/html", 3).await;
    let upload = h
        .http
        .put(write_url)
        .header("content-type", "text/html")
        .header("x-ms-blob-type", "BlockBlob")
        .body("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status(), 500);
    assert_eq!(
        h.sim.file_by_key("t1/SP/p3").unwrap().state,
        ContentState::Registered
    );
    let mut variables = h.page_variables("t1/SP/p4", &scope, 3);
    let registered = h.ingest(CONTENT_UPSERT, variables.clone()).await;
    variables["fileUrl"] = registered["contentUpsert"]["readUrl"].clone();
    let message = h.ingest_error(CONTENT_UPSERT, variables).await;
    assert_eq!(message, "Finalize failed");
    assert_eq!(h.sim.faults().len(), 3, "unlimited rules stay");
}

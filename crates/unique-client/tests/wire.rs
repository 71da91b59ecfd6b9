//! What goes over the wire, byte for byte where it matters: headers in both auth modes, the token
//! request, retries, 401 handling, GraphQL errors, the upload, the cleanup after a failed upload.
//! Against a recording stub, so every header can be checked.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{cluster_local_auth, config, external_auth, spawn_stub, Recorded, Reply, ThrottleLog};
use serde_json::json;
use unique_client::{
    Body, ContentItem, FileDiffItem, FileDiffRequest, IngestStage, PingFailure, SourceKind,
    UniqueClient, UniqueError,
};

fn item(key: &str, bytes: u64) -> ContentItem {
    ContentItem {
        key: key.to_owned(),
        title: "Page".to_owned(),
        mime_type: "text/html".to_owned(),
        url: "https://acme.atlassian.net/wiki/spaces/SP/pages/1".to_owned(),
        byte_size: bytes,
        metadata: json!({"confluenceLabels": [], "spaceKey": "SP", "spaceName": "Space"}),
        ingestion_config: None,
        scope_id: "scope-sp".to_owned(),
        source_kind: SourceKind::ConfluenceCloud,
        source_name: "https://acme.atlassian.net".to_owned(),
        store_internally: true,
        file_access: None,
    }
}

fn me_reply() -> Reply {
    Reply::json(json!({"data": {"me": {"user": {"id": "user-1"}}}}))
}

fn token_reply(token: &str) -> Reply {
    Reply::json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600}))
}

#[tokio::test]
async fn cluster_local_graphql_carries_identity_headers_and_the_reference_envelope() {
    let stub = spawn_stub(|_, _| me_reply()).await;
    let client = UniqueClient::new(config(
        cluster_local_auth(),
        stub.url("/ingestion"),
        stub.url("/scope-management"),
    ))
    .unwrap();

    assert_eq!(client.current_user_id().await.unwrap(), "user-1");

    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path_and_query, "/scope-management/graphql");
    assert_eq!(request.header("x-service-id"), Some("confluence-connector"));
    assert_eq!(request.header("x-company-id"), Some("sandbox-company"));
    assert_eq!(request.header("x-user-id"), Some("sandbox-user"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(
        request.header("accept"),
        Some("application/graphql-response+json, application/json")
    );
    let body = request.json();
    assert_eq!(body["operationName"], "User");
    assert!(
        body.get("variables").is_none(),
        "no variables, no field: {body}"
    );
    assert_eq!(
        body["query"]
            .as_str()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        "query User { me { user { id } } }"
    );
}

#[tokio::test]
async fn external_mode_fetches_a_zitadel_token_once_and_sends_it_as_bearer() {
    let stub = spawn_stub(|request, _| {
        if request.path_and_query.starts_with("/oauth/v2/token") {
            token_reply("token-1")
        } else {
            me_reply()
        }
    })
    .await;
    let client = UniqueClient::new(config(
        external_auth(stub.url("/oauth/v2/token?ignored=1")),
        stub.url("/ingestion"),
        stub.url("/scope-management"),
    ))
    .unwrap();

    client.current_user_id().await.unwrap();
    client.current_user_id().await.unwrap();

    let tokens = stub.requests_to("/oauth/v2/token");
    assert_eq!(tokens.len(), 1, "the token is cached");
    let token = &tokens[0];
    assert_eq!(token.method, "POST");
    assert_eq!(
        token.path_and_query, "/oauth/v2/token",
        "query string dropped"
    );
    assert_eq!(
        token.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // base64("sandbox-zitadel-client:sandbox-zitadel-secret")
    assert_eq!(
        token.header("authorization"),
        Some("Basic c2FuZGJveC16aXRhZGVsLWNsaWVudDpzYW5kYm94LXppdGFkZWwtc2VjcmV0")
    );
    assert_eq!(
        std::str::from_utf8(&token.body).unwrap(),
        "scope=openid+profile+email+urn%3Azitadel%3Aiam%3Auser%3Aresourceowner+urn%3Azitadel%3Aiam%3Aorg%3Aprojects%3Aroles+urn%3Azitadel%3Aiam%3Aorg%3Aproject%3Aid%3Asandbox-project%3Aaud&grant_type=client_credentials"
    );

    for api in stub.requests_to("/scope-management/graphql") {
        assert_eq!(api.header("authorization"), Some("Bearer token-1"));
        assert_eq!(api.header("x-service-id"), None);
        assert_eq!(api.header("x-company-id"), None);
    }
}

#[tokio::test]
async fn external_mode_refreshes_a_rejected_token_and_succeeds() {
    let issued = Arc::new(AtomicUsize::new(0));
    let issued_in_stub = issued.clone();
    let stub = spawn_stub(move |request, _| {
        if request.path_and_query.starts_with("/token") {
            let n = issued_in_stub.fetch_add(1, Ordering::SeqCst) + 1;
            token_reply(&format!("token-{n}"))
        } else if request.header("authorization") == Some("Bearer token-1") {
            // The first token was revoked server-side.
            Reply::status(401)
        } else {
            me_reply()
        }
    })
    .await;
    let client = UniqueClient::new(config(
        external_auth(stub.url("/token")),
        stub.url("/ingestion"),
        stub.url("/scope-management"),
    ))
    .unwrap();

    assert_eq!(client.current_user_id().await.unwrap(), "user-1");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    let api: Vec<_> = stub
        .requests_to("/scope-management/graphql")
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(api, ["Bearer token-1", "Bearer token-2"]);
}

#[tokio::test]
async fn cluster_local_wrong_headers_surface_as_unauthorized() {
    let stub = spawn_stub(|_, _| Reply::status(401)).await;
    let client =
        UniqueClient::new(config(cluster_local_auth(), stub.url(""), stub.url(""))).unwrap();
    let err = client.current_user_id().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(err.to_string().contains("User"), "{err}");
}

#[tokio::test]
async fn retries_429_and_5xx_then_succeeds() {
    let stub = spawn_stub(|_, index| match index {
        0 => Reply::status(429).with_header("retry-after", "0"),
        1 => Reply::status(503),
        2 => Reply::status(502),
        _ => Reply::json(json!({"data": {"paginatedScope": {"totalCount": 0, "nodes": []}}})),
    })
    .await;
    let client =
        UniqueClient::new(config(cluster_local_auth(), stub.url(""), stub.url(""))).unwrap();
    assert_eq!(client.scope_by_id("missing").await.unwrap(), None);
    assert_eq!(stub.requests().len(), 4);
}

#[tokio::test]
async fn graphql_errors_are_failures_naming_the_operation() {
    let stub = spawn_stub(|_, _| {
        Reply::json(
            json!({"data": null, "errors": [{"message": "externalId already taken",
            "extensions": {"code": "BAD_USER_INPUT", "response": {"statusCode": 400}}}]}),
        )
    })
    .await;
    let client =
        UniqueClient::new(config(cluster_local_auth(), stub.url(""), stub.url(""))).unwrap();
    let err = client
        .set_scope_external_id("root", Some("confc:cloud:x"))
        .await
        .unwrap_err();
    match &err {
        UniqueError::GraphQl {
            operation,
            messages,
        } => {
            assert_eq!(*operation, "UpdateScope");
            assert_eq!(messages, &["externalId already taken"]);
        }
        other => panic!("expected a GraphQL error, got {other:?}"),
    }
    assert_eq!(stub.requests().len(), 1, "a GraphQL error is not retried");
}

fn upsert_reply(request: &Recorded, write_url: &str) -> Reply {
    let variables = &request.json()["variables"];
    Reply::json(json!({"data": {"contentUpsert": {
        "id": "content-1", "key": variables["input"]["key"], "title": "Page", "byteSize": 5,
        "mimeType": "text/html", "ownerType": "SCOPE", "ownerId": "scope-sp",
        "writeUrl": write_url, "readUrl": "read-token-1", "createdAt": "2026-01-01T00:00:00Z",
        "internallyStoredAt": null, "source": {"kind": "ATLASSIAN_CONFLUENCE_CLOUD", "name": "x"}}}}))
}

#[tokio::test]
async fn cluster_local_upload_is_rewritten_and_carries_blob_headers_but_no_credentials() {
    let server = spawn_stub(move |request, _| {
        if request.method == "PUT" {
            return Reply::status(201);
        }
        let write_url = format!(
            "https://gateway.env/ingestion/scoped/upload?key={}",
            "k%2F1%3D%3D"
        );
        upsert_reply(request, &write_url)
    })
    .await;
    let client = UniqueClient::new(config(
        cluster_local_auth(),
        server.url("/ingestion"),
        server.url("/sm"),
    ))
    .unwrap();

    let content = client
        .ingest(&item("t/1_SP/1", 5), Body::Bytes("<p/>!".into()))
        .await
        .unwrap();
    assert_eq!(content.id, "content-1");

    let requests = server.requests();
    let operations: Vec<_> = requests
        .iter()
        .map(|r| r.operation().unwrap_or_else(|| r.method.clone()))
        .collect();
    assert_eq!(operations, ["ContentUpsert", "PUT", "ContentUpsert"]);
    let upload = &requests[1];
    assert_eq!(
        upload.path_and_query,
        "/ingestion/scoped/upload?key=k%2F1%3D%3D"
    );
    assert_eq!(upload.header("content-type"), Some("text/html"));
    assert_eq!(upload.header("content-length"), Some("5"));
    assert_eq!(upload.header("x-ms-blob-type"), Some("BlockBlob"));
    assert_eq!(upload.header("x-service-id"), None);
    assert_eq!(upload.header("x-company-id"), None);
    assert_eq!(upload.header("authorization"), None);
    assert_eq!(&upload.body[..], b"<p/>!");

    let register = requests[0].json();
    let finalize = requests[2].json();
    assert!(register["variables"].get("fileUrl").is_none());
    assert_eq!(finalize["variables"]["fileUrl"], "read-token-1");
    let mut without_file_url = finalize["variables"].clone();
    without_file_url.as_object_mut().unwrap().remove("fileUrl");
    assert_eq!(without_file_url, register["variables"]);
}

#[tokio::test]
async fn streamed_upload_sends_the_declared_length() {
    let server = spawn_stub(|request, _| {
        if request.method == "PUT" {
            return Reply::status(200);
        }
        upsert_reply(request, "unused")
    })
    .await;
    let write_url = server.url("/blob/abc?sig=secret");
    let client = UniqueClient::new(config(
        external_auth(server.url("/token")),
        server.url(""),
        server.url(""),
    ))
    .unwrap();
    let chunks: Vec<Result<bytes::Bytes, unique_client::TransportError>> =
        vec![Ok("hello ".into()), Ok("world".into())];
    let stream: unique_client::ByteStream = Box::pin(futures::stream::iter(chunks));
    let item = item("t/1_SP/1::att2", 11);
    client
        .upload_content(
            &item,
            &write_url,
            Body::Stream {
                stream,
                length: None,
            },
        )
        .await
        .unwrap();
    let upload = &server.requests_to("/blob/abc")[0];
    assert_eq!(upload.header("content-length"), Some("11"));
    assert_eq!(
        upload.header("authorization"),
        None,
        "uploads carry no token"
    );
    assert_eq!(&upload.body[..], b"hello world");
}

#[tokio::test]
async fn failed_upload_removes_the_half_registered_content() {
    let write_url = Arc::new(std::sync::OnceLock::<String>::new());
    let write_url_in_stub = write_url.clone();
    let server = spawn_stub(move |request, _| match request.method.as_str() {
        "PUT" => Reply::status(403),
        _ if request.operation().as_deref() == Some("ContentDeleteByContentIds") => {
            Reply::json(json!({"data": {"contentDeleteByContentIds": [{"id": "content-1"}]}}))
        }
        _ if request.path_and_query.starts_with("/token") => token_reply("t"),
        _ => upsert_reply(request, write_url_in_stub.get().unwrap()),
    })
    .await;
    write_url
        .set(server.url("/blob/abc?sig=super-secret-signature"))
        .unwrap();
    let client = UniqueClient::new(config(
        external_auth(server.url("/token")),
        server.url(""),
        server.url(""),
    ))
    .unwrap();

    let err = client
        .ingest(&item("t/1_SP/1", 4), Body::Bytes("body".into()))
        .await
        .unwrap_err();

    match &err {
        UniqueError::Ingest {
            stage,
            content_id,
            cleanup_error,
            ..
        } => {
            assert_eq!(*stage, IngestStage::Upload);
            assert_eq!(content_id, "content-1");
            assert!(cleanup_error.is_none());
        }
        other => panic!("expected an ingest error, got {other:?}"),
    }
    assert_eq!(err.status(), Some(403));
    let operations: Vec<_> = server
        .requests()
        .iter()
        .filter(|r| !r.path_and_query.starts_with("/token"))
        .map(|r| r.operation().unwrap_or_else(|| r.method.clone()))
        .collect();
    assert_eq!(
        operations,
        ["ContentUpsert", "PUT", "ContentDeleteByContentIds"]
    );
    let delete = server
        .requests()
        .into_iter()
        .find(|r| r.operation().as_deref() == Some("ContentDeleteByContentIds"))
        .unwrap();
    assert_eq!(
        delete.json()["variables"],
        json!({"contentIds": ["content-1"]})
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("super-secret-signature"), "{shown}");
}

#[tokio::test]
async fn cluster_local_write_url_without_key_fails_the_item_and_cleans_up() {
    let server = spawn_stub(|request, _| match request.operation().as_deref() {
        Some("ContentDeleteByContentIds") => {
            Reply::json(json!({"data": {"contentDeleteByContentIds": [{"id": "content-1"}]}}))
        }
        _ => upsert_reply(request, "https://blob.example/container/blob?sig=x"),
    })
    .await;
    let client =
        UniqueClient::new(config(cluster_local_auth(), server.url(""), server.url(""))).unwrap();
    let err = client
        .ingest(&item("t/1_SP/1", 4), Body::Bytes("body".into()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UniqueError::Ingest { source, .. } if matches!(**source, UniqueError::InvalidUploadTarget { .. })),
        "{err:?}"
    );
    let operations: Vec<_> = server
        .requests()
        .iter()
        .filter_map(Recorded::operation)
        .collect();
    assert_eq!(operations, ["ContentUpsert", "ContentDeleteByContentIds"]);
}

#[tokio::test]
async fn upload_errors_never_show_the_write_url_capability() {
    let server = spawn_stub(|_, _| Reply::status(403)).await;
    let client = UniqueClient::new(config(
        external_auth(server.url("/token")),
        server.url(""),
        server.url(""),
    ))
    .unwrap();
    let err = client
        .upload_content(
            &item("t/1_SP/1", 4),
            &server.url("/blob/x?sig=super-secret-signature"),
            Body::Bytes("body".into()),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403));
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("super-secret-signature"), "{shown}");
}

#[tokio::test]
async fn file_diff_posts_the_reference_body_under_the_base_path() {
    let stub = spawn_stub(|_, _| {
        Reply::json(
            json!({"newFiles": ["p1"], "updatedFiles": ["p2::att3"], "movedFiles": [],
            "deletedFiles": ["p9"]}),
        )
    })
    .await;
    let client = UniqueClient::new(config(
        cluster_local_auth(),
        stub.url("/ingestion"),
        stub.url("/sm"),
    ))
    .unwrap();
    let request = FileDiffRequest {
        partial_key: "t/1_SP".into(),
        source_kind: SourceKind::ConfluenceOnPrem,
        source_name: "https://dc.example".into(),
        file_list: vec![FileDiffItem {
            key: "p1".into(),
            url: "https://dc.example/pages/viewpage.action?pageId=p1".into(),
            updated_at: "2026-01-01T00:00:00.000+01:00".into(),
        }],
    };
    let diff = client.file_diff(&request).await.unwrap();
    assert_eq!(diff.new_files, ["p1"]);
    assert_eq!(diff.updated_files, ["p2::att3"]);
    assert_eq!(diff.deleted_files, ["p9"]);

    let sent = &stub.requests()[0];
    assert_eq!(sent.path_and_query, "/ingestion/v2/content/file-diff");
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("x-service-id"), Some("confluence-connector"));
    assert_eq!(
        sent.json(),
        json!({"partialKey": "t/1_SP", "sourceKind": "ATLASSIAN_CONFLUENCE_ONPREM",
            "sourceName": "https://dc.example", "fileList": [{"key": "p1",
            "url": "https://dc.example/pages/viewpage.action?pageId=p1",
            "updatedAt": "2026-01-01T00:00:00.000+01:00"}]})
    );
}

#[tokio::test]
async fn health_ping_posts_typename_to_both_endpoints() {
    let stub = spawn_stub(|request, _| {
        if request.path_and_query.starts_with("/sm") {
            Reply::status(503)
        } else {
            Reply::json(json!({"data": {"__typename": "Query"}}))
        }
    })
    .await;
    let client = UniqueClient::new(config(
        cluster_local_auth(),
        stub.url("/ing"),
        stub.url("/sm"),
    ))
    .unwrap();
    let report = client.ping(Duration::from_secs(3)).await;
    assert_eq!(report.ingestion, Ok(()));
    assert_eq!(report.scope_management, Err(PingFailure::Http(503)));
    assert!(!report.is_healthy());
    let requests = stub.requests();
    assert_eq!(requests.len(), 2, "pings are not retried");
    for request in requests {
        assert_eq!(request.json(), json!({"query": "{ __typename }"}));
        assert_eq!(request.header("x-service-id"), Some("confluence-connector"));
    }
}

#[tokio::test]
async fn child_scopes_follow_every_page() {
    let stub = spawn_stub(|request, _| {
        let skip = request.json()["variables"]["skip"].as_u64().unwrap();
        let count = if skip < 200 { 100 } else { 7 };
        let nodes: Vec<_> = (0..count)
            .map(|i| json!({"id": format!("s{}", skip + i), "name": "n", "parentId": "root", "externalId": null}))
            .collect();
        Reply::json(json!({"data": {"paginatedScope": {"totalCount": 207, "nodes": nodes}}}))
    })
    .await;
    let client =
        UniqueClient::new(config(cluster_local_auth(), stub.url(""), stub.url(""))).unwrap();
    let children = client.child_scopes("root").await.unwrap();
    assert_eq!(children.len(), 207);
    let skips: Vec<_> = stub
        .requests()
        .iter()
        .map(|r| r.json()["variables"]["skip"].as_u64().unwrap())
        .collect();
    assert_eq!(skips, [0, 100, 200]);
}

#[tokio::test]
async fn deletion_by_ids_is_batched_by_twenty() {
    let stub = spawn_stub(|request, _| {
        let ids = request.json()["variables"]["contentIds"]
            .as_array()
            .unwrap()
            .clone();
        // Pretend the last id of every batch was already gone.
        let deleted: Vec<_> = ids[..ids.len() - 1]
            .iter()
            .map(|id| json!({"id": id}))
            .collect();
        Reply::json(json!({"data": {"contentDeleteByContentIds": deleted}}))
    })
    .await;
    let client =
        UniqueClient::new(config(cluster_local_auth(), stub.url(""), stub.url(""))).unwrap();
    let ids: Vec<String> = (0..45).map(|i| format!("c{i}")).collect();
    let report = client.delete_content_by_ids(&ids).await.unwrap();
    assert_eq!(report.requested, 45);
    assert_eq!(report.deleted, 42);
    assert_eq!(report.failed(), 3);
    let sizes: Vec<_> = stub
        .requests()
        .iter()
        .map(|r| {
            r.json()["variables"]["contentIds"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, [20, 20, 5]);
}

#[tokio::test]
async fn requests_of_one_tenant_share_a_smooth_rate_limit() {
    let stub = spawn_stub(|_, _| {
        Reply::json(json!({"data": {"paginatedScope": {"totalCount": 0, "nodes": []}}}))
    })
    .await;
    let mut config = config(cluster_local_auth(), stub.url(""), stub.url(""));
    // One request every 100 ms.
    config.api_rate_limit_per_minute = std::num::NonZeroU32::new(600).unwrap();
    let throttles = Arc::new(ThrottleLog::default());
    let client = UniqueClient::with_observer(config, throttles.clone()).unwrap();
    let started = std::time::Instant::now();
    let lookups = (0..5).map(|i| {
        let client = client.clone();
        async move { client.scope_by_id(&format!("s{i}")).await }
    });
    for result in futures::future::join_all(lookups).await {
        result.unwrap();
    }
    // Sent together, they share one limiter: all but the first waited for a slot (a slot is
    // 100 ms; the first may report the timer's millisecond rounding).
    let waits = throttles.waits();
    let held = waits
        .iter()
        .filter(|(_, waited)| *waited >= Duration::from_millis(50))
        .count();
    assert_eq!(held, 4, "{waits:?}");
    assert!(
        waits.iter().all(|(service, _)| *service == "unique"),
        "{waits:?}"
    );
    // The grid is real time (requests per real minute): four slots after the first. A lower
    // bound, which a slow machine cannot break.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(350),
        "5 requests at 600/min took {elapsed:?}"
    );
}

#[tokio::test]
async fn health_ping_does_not_wait_for_the_tenant_rate_limit() {
    let stub = spawn_stub(|_, _| Reply::json(json!({"data": {"__typename": "Query"}}))).await;
    let mut config = config(cluster_local_auth(), stub.url(""), stub.url(""));
    config.api_rate_limit_per_minute = std::num::NonZeroU32::new(1).unwrap();
    let client = UniqueClient::new(config).unwrap();
    for _ in 0..3 {
        let report = client.ping(Duration::from_secs(2)).await;
        assert!(report.is_healthy(), "{report:?}");
    }
}

#[tokio::test]
async fn uploads_do_not_spend_the_tenant_rate_limit() {
    // Unique's limit counts API calls; the blob store is not behind it (the reference limits no
    // upload either). At one request per minute, three uploads after a GraphQL call would take
    // three minutes if they queued behind the limiter.
    let stub = spawn_stub(|_, _| {
        Reply::json(json!({"data": {"paginatedScope": {"totalCount": 0, "nodes": []}}}))
    })
    .await;
    let mut config = config(cluster_local_auth(), stub.url(""), stub.url(""));
    config.api_rate_limit_per_minute = std::num::NonZeroU32::new(1).unwrap();
    let throttles = Arc::new(ThrottleLog::default());
    let client = UniqueClient::with_observer(config, throttles.clone()).unwrap();
    client.scope_by_id("s1").await.unwrap();
    let uploads = async {
        for _ in 0..3 {
            client
                .upload_content(
                    &item("t/1_SP/1", 4),
                    &stub.url("/scoped/upload?key=k"),
                    Body::Bytes("body".into()),
                )
                .await
                .unwrap();
        }
    };
    // Only a "did not hang" bound, far above the milliseconds the uploads take and far below
    // the minutes they would queue: what they waited is what the observer reports.
    tokio::time::timeout(Duration::from_secs(30), uploads)
        .await
        .expect("the uploads queued behind the tenant's rate limit");
    // The limiter reports even the timer's millisecond rounding as a wait; a slot of the
    // tenant's limiter would be a minute away.
    let waits = throttles.waits();
    assert!(
        waits
            .iter()
            .all(|(_, waited)| *waited < Duration::from_secs(1)),
        "{waits:?}"
    );
}

//! The client against the sandbox's Unique simulator: real GraphQL execution, signed upload URLs,
//! streamed uploads, the file diff, scopes, faults, both auth modes.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{cluster_local_auth, config, external_auth};
use sandbox::unique::{
    ContentState, SeedFile, SeedScope, UniqueAuthMode, UniqueConfig as SimConfig, UniqueFault,
    UniqueSim,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use unique_client::{
    AccessType, Body, ByteStream, ContentItem, FileDiffItem, FileDiffRequest, SourceKind,
    UniqueAuth, UniqueClient, UniqueError,
};

/// The simulator with each service on its own loopback listener, like the real deployment.
struct Harness {
    sim: UniqueSim,
    ingestion: String,
    scope_management: String,
    token_url: String,
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

async fn spawn_unique(sim_config: SimConfig) -> Harness {
    let sim = UniqueSim::new(sim_config);
    let routers = sim.routers();
    let ingestion = serve(routers.ingestion).await;
    let scope_management = serve(routers.scope_management).await;
    let blob = serve(routers.blob).await;
    let zitadel = serve(routers.zitadel).await;
    sim.set_blob_base_url(&blob);
    Harness {
        sim,
        ingestion,
        scope_management,
        token_url: format!("{zitadel}/oauth/v2/token"),
    }
}

impl Harness {
    fn client(&self) -> UniqueClient {
        let auth = match self.sim.config().auth_mode {
            UniqueAuthMode::ClusterLocal => cluster_local_auth(),
            UniqueAuthMode::External => external_auth(self.token_url.clone()),
        };
        self.client_with(auth)
    }

    fn client_with(&self, auth: UniqueAuth) -> UniqueClient {
        UniqueClient::new(config(
            auth,
            self.ingestion.clone(),
            self.scope_management.clone(),
        ))
        .unwrap()
    }

    fn seed_root(&self) -> String {
        self.sim
            .seed_scope(SeedScope {
                name: "Confluence".into(),
                ..SeedScope::default()
            })
            .unwrap()
            .id
    }
}

async fn cluster_local() -> Harness {
    spawn_unique(SimConfig::default()).await
}

async fn external() -> Harness {
    spawn_unique(SimConfig {
        auth_mode: UniqueAuthMode::External,
        ..SimConfig::default()
    })
    .await
}

fn page(key: &str, scope_id: &str, body: &str) -> ContentItem {
    ContentItem {
        key: key.to_owned(),
        title: "Release notes".to_owned(),
        mime_type: "text/html".to_owned(),
        url: "https://acme.atlassian.net/wiki/spaces/SP/pages/1".to_owned(),
        byte_size: body.len() as u64,
        metadata: json!({"confluenceLabels": ["docs"], "spaceKey": "SP", "spaceName": "Space"}),
        ingestion_config: None,
        scope_id: scope_id.to_owned(),
        source_kind: SourceKind::ConfluenceCloud,
        source_name: "https://acme.atlassian.net".to_owned(),
        store_internally: true,
        file_access: None,
    }
}

/// `size` deterministic bytes in 64 KiB chunks, as a download stream would deliver them.
fn pseudo_random_stream(size: usize) -> (ByteStream, String) {
    let data: Vec<u8> = (0..size)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let digest = hex(&Sha256::digest(&data));
    let chunks: Vec<Result<bytes::Bytes, unique_client::TransportError>> = data
        .chunks(64 * 1024)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    (Box::pin(futures::stream::iter(chunks)), digest)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn space_scope(client: &UniqueClient, root_name: &str, key: &str) -> String {
    client
        .create_scopes_for_paths(&[format!("/{root_name}/{key}")])
        .await
        .unwrap()
        .remove(0)
        .id
}

#[tokio::test]
async fn ingests_a_page_register_upload_finalize() {
    let unique = cluster_local().await;
    unique.seed_root();
    let client = unique.client();
    let scope = space_scope(&client, "Confluence", "SP").await;
    let body = "<p>Hello <b>world</b></p>";

    let content = client
        .ingest(&page("t/1_SP/p1", &scope, body), Body::Bytes(body.into()))
        .await
        .unwrap();

    let stored = unique.sim.file_by_key("t/1_SP/p1").unwrap();
    assert_eq!(stored.id, content.id);
    assert_eq!(stored.state, ContentState::Finalized);
    assert_eq!(stored.scope_id, scope);
    assert_eq!(stored.mime_type, "text/html");
    assert_eq!(stored.uploaded_size, Some(body.len() as u64));
    assert_eq!(
        stored.sha256.as_deref(),
        Some(hex(&Sha256::digest(body)).as_str())
    );
    assert_eq!(
        stored.source_kind.as_deref(),
        Some("ATLASSIAN_CONFLUENCE_CLOUD")
    );
    assert_eq!(
        stored.source_name.as_deref(),
        Some("https://acme.atlassian.net")
    );
    assert_eq!(
        stored.metadata.unwrap()["confluenceLabels"],
        json!(["docs"])
    );
    assert_eq!(unique.sim.file_bytes("t/1_SP/p1").unwrap(), body.as_bytes());
}

#[tokio::test]
async fn streams_a_multi_megabyte_attachment_in_external_mode() {
    let unique = external().await;
    unique.seed_root();
    let client = unique.client();
    let scope = space_scope(&client, "Confluence", "SP").await;
    let size = 5 * 1024 * 1024 + 123;
    let (stream, digest) = pseudo_random_stream(size);
    let mut item = page("t/1_SP/p1::att7", &scope, "");
    item.mime_type = "application/pdf".into();
    item.title = "manual.pdf".into();
    item.byte_size = size as u64;

    client
        .ingest(
            &item,
            Body::Stream {
                stream,
                length: None,
            },
        )
        .await
        .unwrap();

    let stored = unique.sim.file_by_key("t/1_SP/p1::att7").unwrap();
    assert_eq!(stored.state, ContentState::Finalized);
    assert_eq!(stored.uploaded_size, Some(size as u64));
    assert_eq!(stored.sha256.as_deref(), Some(digest.as_str()));
}

#[tokio::test]
async fn re_ingesting_an_updated_key_keeps_the_id_and_replaces_the_bytes() {
    let unique = cluster_local().await;
    unique.seed_root();
    let client = unique.client();
    let scope = space_scope(&client, "Confluence", "SP").await;
    let first = client
        .ingest(&page("t/1_SP/p1", &scope, "v1"), Body::Bytes("v1".into()))
        .await
        .unwrap();
    let second = client
        .ingest(
            &page("t/1_SP/p1", &scope, "version two"),
            Body::Bytes("version two".into()),
        )
        .await
        .unwrap();

    assert_eq!(first.id, second.id);
    assert_eq!(unique.sim.files().len(), 1);
    assert_eq!(
        unique.sim.file_bytes("t/1_SP/p1").unwrap(),
        b"version two".to_vec()
    );
}

#[tokio::test]
async fn low_level_steps_leave_a_registered_content_until_finalized() {
    let unique = cluster_local().await;
    unique.seed_root();
    let client = unique.client();
    let scope = space_scope(&client, "Confluence", "SP").await;
    let item = page("t/1_SP/p2", &scope, "abc");

    let registered = client.register_content(&item).await.unwrap();
    assert_eq!(
        unique.sim.file_by_key("t/1_SP/p2").unwrap().state,
        ContentState::Registered
    );
    client
        .upload_content(
            &item,
            registered.write_url.as_deref().unwrap(),
            Body::Bytes("abc".into()),
        )
        .await
        .unwrap();
    assert_eq!(
        unique.sim.file_by_key("t/1_SP/p2").unwrap().state,
        ContentState::Uploaded
    );
    client
        .finalize_content(&item, registered.read_url.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(
        unique.sim.file_by_key("t/1_SP/p2").unwrap().state,
        ContentState::Finalized
    );
}

#[tokio::test]
async fn failed_upload_leaves_nothing_behind() {
    let unique = cluster_local().await;
    unique.seed_root();
    let client = unique.client();
    let scope = space_scope(&client, "Confluence", "SP").await;
    unique.sim.add_fault(UniqueFault::status("upload", 400));

    let err = client
        .ingest(
            &page("t/1_SP/p1", &scope, "body"),
            Body::Bytes("body".into()),
        )
        .await
        .unwrap_err();

    assert!(matches!(err, UniqueError::Ingest { .. }), "{err}");
    assert!(unique.sim.file_by_key("t/1_SP/p1").is_none());
}

#[tokio::test]
async fn failed_finalize_removes_the_half_registered_content() {
    let unique = cluster_local().await;
    unique.seed_root();
    let client = unique.client();
    let scope = space_scope(&client, "Confluence", "SP").await;
    // Only the second upsert carries `fileUrl`: the register call succeeds, finalize fails.
    unique.sim.add_fault(
        UniqueFault::graphql_error("ContentUpsert", "ingestion queue unavailable")
            .when_contains("fileUrl")
            .times(1),
    );
    unique.sim.clear_calls();

    let err = client
        .ingest(
            &page("t/1_SP/p1", &scope, "body"),
            Body::Bytes("body".into()),
        )
        .await
        .unwrap_err();

    assert!(
        matches!(
            &err,
            UniqueError::Ingest {
                stage: unique_client::IngestStage::Finalize,
                cleanup_error: None,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("ContentUpsert") || format!("{err:?}").contains("ContentUpsert")
    );
    assert_eq!(unique.sim.calls_of("ContentUpsert").len(), 2);
    assert_eq!(unique.sim.calls_of("ContentDeleteByContentIds").len(), 1);
    assert!(unique.sim.file_by_key("t/1_SP/p1").is_none());
}

#[tokio::test]
async fn the_call_log_keeps_the_identity_headers_and_hides_bearer_tokens() {
    let local = cluster_local().await;
    local.client().current_user_id().await.unwrap();
    let call = &local.sim.calls_of("User")[0];
    assert_eq!(call.headers["x-service-id"], "confluence-connector");
    assert_eq!(call.headers["x-company-id"], "sandbox-company");
    assert_eq!(call.headers["x-user-id"], "sandbox-user");
    assert!(!call.headers.contains_key("authorization"));

    let external = external().await;
    external.client().current_user_id().await.unwrap();
    let call = &external.sim.calls_of("User")[0];
    assert_eq!(call.headers["authorization"], "Bearer …");
    assert!(call.headers["content-type"].starts_with("application/json"));
}

fn diff_item(key: &str, updated_at: &str) -> FileDiffItem {
    FileDiffItem {
        key: key.to_owned(),
        url: format!("https://acme.atlassian.net/wiki/x/{key}"),
        updated_at: updated_at.to_owned(),
    }
}

#[tokio::test]
async fn file_diff_reports_new_updated_and_deleted_items() {
    let unique = cluster_local().await;
    let root = unique.seed_root();
    let long_ago = "2020-01-01T00:00:00Z".parse().unwrap();
    for key in [
        "t/1_SP/p-same",
        "t/1_SP/p-edited",
        "t/1_SP/p-gone",
        "t/2_OTHER/p-else",
    ] {
        unique
            .sim
            .seed_file(SeedFile {
                key: key.into(),
                scope_id: root.clone(),
                mime_type: "text/html".into(),
                updated_at: Some(long_ago),
                ..SeedFile::default()
            })
            .unwrap();
    }
    let client = unique.client();

    let diff = client
        .file_diff(&FileDiffRequest {
            partial_key: "t/1_SP".into(),
            source_kind: SourceKind::ConfluenceCloud,
            source_name: "https://acme.atlassian.net".into(),
            file_list: vec![
                diff_item("p-same", "2019-06-01T00:00:00.000Z"),
                diff_item("p-edited", "2025-06-01T00:00:00.000Z"),
                diff_item("p-new", "2025-06-01T00:00:00.000Z"),
                diff_item("p-new::att1", "2025-06-01T00:00:00.000Z"),
            ],
        })
        .await
        .unwrap();

    let mut new_files = diff.new_files.clone();
    new_files.sort();
    assert_eq!(new_files, ["p-new", "p-new::att1"]);
    assert_eq!(diff.updated_files, ["p-edited"]);
    assert_eq!(diff.deleted_files, ["p-gone"]);
    assert!(diff.moved_files.is_empty());
}

#[tokio::test]
async fn file_diff_reports_moves_when_the_service_does() {
    let unique = spawn_unique(SimConfig {
        file_diff_reports_moves: true,
        ..SimConfig::default()
    })
    .await;
    let root = unique.seed_root();
    unique
        .sim
        .seed_file(SeedFile {
            key: "t/1_OLD/p1".into(),
            scope_id: root,
            mime_type: "text/html".into(),
            source_kind: Some("ATLASSIAN_CONFLUENCE_CLOUD".into()),
            source_name: Some("https://acme.atlassian.net".into()),
            ..SeedFile::default()
        })
        .unwrap();
    let diff = unique
        .client()
        .file_diff(&FileDiffRequest {
            partial_key: "t/2_NEW".into(),
            source_kind: SourceKind::ConfluenceCloud,
            source_name: "https://acme.atlassian.net".into(),
            file_list: vec![diff_item("p1", "2020-01-01T00:00:00Z")],
        })
        .await
        .unwrap();
    assert_eq!(diff.moved_files, ["p1"], "{diff:?}");
}

/// The default model of the service (unique-api.md §6, behaviour 27 `cross-space-move`): a page
/// that moved to another space is new there and deleted in the old one, never "moved" — the
/// connector ignores `movedFiles`, so reporting it there would lose the page.
#[tokio::test]
async fn a_cross_space_move_is_new_in_one_space_and_deleted_in_the_other_by_default() {
    let unique = cluster_local().await;
    let root = unique.seed_root();
    for key in ["t/1_A/p1", "t/1_A/keeper"] {
        unique
            .sim
            .seed_file(SeedFile {
                key: key.into(),
                scope_id: root.clone(),
                mime_type: "text/html".into(),
                source_kind: Some("ATLASSIAN_CONFLUENCE_CLOUD".into()),
                source_name: Some("https://acme.atlassian.net".into()),
                ..SeedFile::default()
            })
            .unwrap();
    }
    let client = unique.client();
    let diff_of = |partial_key: &str, keys: &[&str]| FileDiffRequest {
        partial_key: partial_key.into(),
        source_kind: SourceKind::ConfluenceCloud,
        source_name: "https://acme.atlassian.net".into(),
        file_list: keys
            .iter()
            .map(|k| diff_item(k, "2020-01-01T00:00:00Z"))
            .collect(),
    };

    let new_space = client.file_diff(&diff_of("t/2_B", &["p1"])).await.unwrap();
    assert_eq!(new_space.new_files, ["p1"], "{new_space:?}");
    assert!(new_space.moved_files.is_empty(), "{new_space:?}");

    let old_space = client
        .file_diff(&diff_of("t/1_A", &["keeper"]))
        .await
        .unwrap();
    assert_eq!(old_space.deleted_files, ["p1"], "{old_space:?}");
    assert!(old_space.moved_files.is_empty() && old_space.new_files.is_empty());
}

async fn ingest_pages(client: &UniqueClient, scope: &str, keys: &[&str]) {
    for key in keys {
        client
            .ingest(&page(key, scope, "x"), Body::Bytes("x".into()))
            .await
            .unwrap();
    }
}

fn stored_keys(sim: &UniqueSim) -> Vec<String> {
    let mut keys: Vec<_> = sim.files().into_iter().map(|f| f.key).collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn deletes_content_by_keys_and_reports_unknown_ones() {
    let unique = cluster_local().await;
    unique.seed_root();
    let client = unique.client();
    let scope = space_scope(&client, "Confluence", "SP").await;
    ingest_pages(&client, &scope, &["t/1_SP/a", "t/1_SP/b", "t/1_SP/c"]).await;

    let report = client
        .delete_content_by_keys(&["t/1_SP/a".into(), "t/1_SP/c".into(), "t/1_SP/zz".into()])
        .await
        .unwrap();

    assert_eq!(report.requested, 2);
    assert_eq!(report.deleted, 2);
    assert_eq!(report.not_found, 1);
    assert_eq!(stored_keys(&unique.sim), ["t/1_SP/b"]);
}

#[tokio::test]
async fn deletes_every_content_under_a_partial_key_across_pages() {
    let unique = cluster_local().await;
    let root = unique.seed_root();
    for i in 0..130 {
        unique
            .sim
            .seed_file(SeedFile {
                key: format!("t/1_SP/p{i}"),
                scope_id: root.clone(),
                mime_type: "text/html".into(),
                ..SeedFile::default()
            })
            .unwrap();
    }
    // Same prefix without the slash: must survive.
    unique
        .sim
        .seed_file(SeedFile {
            key: "t/1_SPX/p1".into(),
            scope_id: root.clone(),
            mime_type: "text/html".into(),
            ..SeedFile::default()
        })
        .unwrap();
    let client = unique.client();

    assert_eq!(
        client
            .count_content_with_key_prefix("t/1_SP")
            .await
            .unwrap(),
        130
    );
    let report = client
        .delete_content_with_key_prefix("t/1_SP")
        .await
        .unwrap();

    assert_eq!(report.deleted, 130);
    assert_eq!(stored_keys(&unique.sim), ["t/1_SPX/p1"]);
    assert_eq!(
        client
            .count_content_with_key_prefix("t/1_SP")
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn deletes_everything_in_a_scope_and_then_the_scope() {
    let unique = cluster_local().await;
    unique.seed_root();
    let client = unique.client();
    let scope = space_scope(&client, "Confluence", "SP").await;
    let other = space_scope(&client, "Confluence", "KEEP").await;
    ingest_pages(&client, &scope, &["t/1_SP/a", "t/1_SP/b"]).await;
    ingest_pages(&client, &other, &["t/2_KEEP/a"]).await;

    assert_eq!(client.content_ids_in_scope(&scope).await.unwrap().len(), 2);
    let report = client.delete_content_in_scope(&scope).await.unwrap();
    assert_eq!(report.deleted, 2);
    let result = client.delete_scope(&scope, true).await.unwrap();

    assert!(result.failed_folders.is_empty(), "{result:?}");
    assert_eq!(result.success_folders[0].id, scope);
    assert!(client.scope_by_id(&scope).await.unwrap().is_none());
    assert_eq!(stored_keys(&unique.sim), ["t/2_KEEP/a"]);
}

#[tokio::test]
async fn non_recursive_delete_of_a_non_empty_scope_is_reported_not_raised() {
    let unique = cluster_local().await;
    unique.seed_root();
    let client = unique.client();
    let scope = space_scope(&client, "Confluence", "SP").await;
    ingest_pages(&client, &scope, &["t/1_SP/a"]).await;

    let result = client.delete_scope(&scope, false).await.unwrap();
    assert_eq!(result.failed_folders.len(), 1, "{result:?}");
    assert!(client.scope_by_id(&scope).await.unwrap().is_some());
}

#[tokio::test]
async fn creates_child_scopes_and_lists_them_across_pages() {
    let unique = cluster_local().await;
    let root = unique.seed_root();
    let client = unique.client();
    let paths: Vec<String> = (0..230).map(|i| format!("/Confluence/S{i:03}")).collect();

    let created = client.create_scopes_for_paths(&paths).await.unwrap();
    assert_eq!(created.len(), 230);
    assert_eq!(created[7].name, "S007");
    assert!(created
        .iter()
        .all(|s| s.parent_id.as_deref() == Some(root.as_str())));

    // Idempotent: the same paths return the same scopes.
    let again = client.create_scopes_for_paths(&paths[..3]).await.unwrap();
    assert_eq!(again, created[..3]);

    unique.sim.clear_calls();
    let mut children: Vec<_> = client
        .child_scopes(&root)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    // 230 children in pages of 100: three `PaginatedScope` calls, the last one short.
    assert_eq!(unique.sim.calls_of("PaginatedScope").len(), 3);
    children.sort();
    let mut expected: Vec<_> = created.iter().map(|s| s.name.clone()).collect();
    expected.sort();
    assert_eq!(children, expected);
}

#[tokio::test]
async fn reads_writes_and_clears_the_ownership_mark() {
    let unique = cluster_local().await;
    let root = unique.seed_root();
    let client = unique.client();

    let scope = client.scope_by_id(&root).await.unwrap().unwrap();
    assert_eq!(scope.external_id, None);
    assert_eq!(scope.parent_id, None);

    let claimed = client
        .set_scope_external_id(&root, Some("confc:cloud:abc"))
        .await
        .unwrap();
    assert_eq!(claimed.external_id.as_deref(), Some("confc:cloud:abc"));
    assert_eq!(
        client
            .scope_by_external_id("confc:cloud:abc")
            .await
            .unwrap()
            .unwrap()
            .id,
        root
    );

    let cleared = client.set_scope_external_id(&root, None).await.unwrap();
    assert_eq!(cleared.external_id, None);
    assert!(client
        .scope_by_external_id("confc:cloud:abc")
        .await
        .unwrap()
        .is_none());
    assert!(client.scope_by_id("no-such-scope").await.unwrap().is_none());
}

#[tokio::test]
async fn grants_the_service_user_access_to_a_scope() {
    let unique = cluster_local().await;
    let root = unique.seed_root();
    let client = unique.client();

    let user = client.current_user_id().await.unwrap();
    assert_eq!(user, "sandbox-user");
    client
        .grant_scope_access(
            &root,
            &user,
            &[AccessType::Manage, AccessType::Read, AccessType::Write],
        )
        .await
        .unwrap();

    let scope = unique
        .sim
        .scopes()
        .into_iter()
        .find(|s| s.id == root)
        .unwrap();
    let mut granted: Vec<_> = scope
        .accesses
        .iter()
        .filter(|a| a.entity_id == "sandbox-user")
        .map(|a| format!("{:?}", a.access_type))
        .collect();
    granted.sort();
    assert_eq!(granted, ["Manage", "Read", "Write"]);
}

#[tokio::test]
async fn moves_child_scopes_to_a_new_root() {
    let unique = cluster_local().await;
    let old_root = unique.seed_root();
    let new_root = unique
        .sim
        .seed_scope(SeedScope {
            name: "New".into(),
            ..SeedScope::default()
        })
        .unwrap()
        .id;
    let client = unique.client();
    let child = space_scope(&client, "Confluence", "SP").await;

    client
        .move_scopes(std::slice::from_ref(&child), &new_root)
        .await
        .unwrap();

    assert_eq!(
        client
            .scope_by_id(&child)
            .await
            .unwrap()
            .unwrap()
            .parent_id
            .as_deref(),
        Some(new_root.as_str())
    );
    assert!(client.child_scopes(&old_root).await.unwrap().is_empty());
}

#[tokio::test]
async fn external_mode_refreshes_an_expired_token_and_succeeds() {
    let unique = external().await;
    let client = unique.client();
    assert_eq!(client.current_user_id().await.unwrap(), "sandbox-user");

    unique.sim.expire_tokens();

    assert_eq!(client.current_user_id().await.unwrap(), "sandbox-user");
    assert_eq!(unique.sim.live_tokens(), 1);
}

#[tokio::test]
async fn external_mode_with_wrong_client_secret_fails_with_the_token_url() {
    let unique = external().await;
    let client = unique.client_with(UniqueAuth::External(unique_client::ExternalAuth::new(
        unique.token_url.clone(),
        "sandbox-zitadel-client",
        unique_client::SecretString::from("wrong-secret"),
        unique_client::SecretString::from("sandbox-project"),
    )));
    let err = client.current_user_id().await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("/oauth/v2/token"), "{shown}");
    assert!(!shown.contains("wrong-secret"), "{shown}");
}

#[tokio::test]
async fn cluster_local_with_wrong_headers_is_unauthorized() {
    let unique = cluster_local().await;
    let client = unique.client_with(UniqueAuth::ClusterLocal {
        extra_headers: [
            ("x-company-id".to_owned(), "another-company".to_owned()),
            ("x-user-id".to_owned(), "sandbox-user".to_owned()),
        ]
        .into(),
    });
    let err = client.current_user_id().await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    let report = client.ping(Duration::from_secs(2)).await;
    assert!(!report.is_healthy());
}

#[tokio::test]
async fn retries_429_and_5xx_from_the_service() {
    let unique = cluster_local().await;
    let root = unique.seed_root();
    let client = unique.client();
    unique
        .sim
        .add_fault(UniqueFault::status("PaginatedScope", 503).times(2));
    unique.sim.add_fault(
        UniqueFault::status("file-diff", 429)
            .retry_after(1)
            .times(1),
    );

    assert!(client.scope_by_id(&root).await.unwrap().is_some());
    let diff = client
        .file_diff(&FileDiffRequest {
            partial_key: "t/1_SP".into(),
            source_kind: SourceKind::ConfluenceCloud,
            source_name: "https://acme.atlassian.net".into(),
            file_list: vec![diff_item("p1", "2025-01-01T00:00:00Z")],
        })
        .await
        .unwrap();
    assert_eq!(diff.new_files, ["p1"]);
    assert!(unique.sim.faults().is_empty(), "every fault fired");
}

#[tokio::test]
async fn graphql_errors_from_the_service_name_the_operation() {
    let unique = cluster_local().await;
    let root = unique.seed_root();
    let client = unique.client();
    unique
        .sim
        .add_fault(UniqueFault::graphql_error("UpdateScope", "scope is locked"));

    let err = client
        .set_scope_external_id(&root, Some("confc:cloud:abc"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UniqueError::GraphQl { operation: "UpdateScope", messages } if messages == &["scope is locked"]),
        "{err:?}"
    );
}

#[tokio::test]
async fn external_id_taken_by_another_scope_is_a_graphql_error() {
    let unique = cluster_local().await;
    let root = unique.seed_root();
    unique
        .sim
        .seed_scope(SeedScope {
            name: "Other".into(),
            external_id: Some("confc:cloud:abc".into()),
            ..SeedScope::default()
        })
        .unwrap();
    let err = unique
        .client()
        .set_scope_external_id(&root, Some("confc:cloud:abc"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            UniqueError::GraphQl {
                operation: "UpdateScope",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn health_ping_reaches_both_services_in_both_modes() {
    for unique in [cluster_local().await, external().await] {
        let report = unique.client().ping(Duration::from_secs(2)).await;
        assert!(report.is_healthy(), "{report:?}");
    }
}

#[tokio::test]
async fn external_mode_replaces_a_token_before_it_expires() {
    let unique = spawn_unique(SimConfig {
        auth_mode: UniqueAuthMode::External,
        token_ttl: Duration::from_secs(2),
        ..SimConfig::default()
    })
    .await;
    // The cache renews a token once less than min(refresh_before, half its lifetime) is left.
    let client = unique.client();

    client.current_user_id().await.unwrap();
    client.current_user_id().await.unwrap();
    assert_eq!(unique.sim.live_tokens(), 1, "a fresh token is reused");

    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.current_user_id().await.unwrap();
    assert_eq!(
        unique.sim.live_tokens(),
        2,
        "a token about to expire is replaced while it is still valid"
    );
}

/// Permission sync's Unique side against the simulator: users matched by email, a mirrored group
/// and its members, file accesses read back and changed — and who can then read the file.
#[tokio::test]
async fn permission_sync_operations_change_who_can_read_a_file() {
    use sandbox::unique::SeedUser;
    use unique_client::{Entity, FileAccess};

    let unique = spawn_unique(SimConfig::default()).await;
    let root = unique.seed_root();
    let file = unique
        .sim
        .seed_file(SeedFile {
            key: "t/ENG/2001".into(),
            scope_id: root.clone(),
            mime_type: "text/html".into(),
            ..SeedFile::default()
        })
        .unwrap();
    let mut ids = Vec::new();
    for (email, active) in [
        ("Alice@Example.com", true),
        ("bob@example.com", true),
        ("gone@example.com", false),
    ] {
        let user = unique
            .sim
            .seed_user(SeedUser {
                email: email.into(),
                active: Some(active),
                ..SeedUser::default()
            })
            .unwrap();
        ids.push(user.id);
    }
    let (alice, bob) = (ids[0].clone(), ids[1].clone());
    let client = unique.client();

    let users = client.active_users().await.unwrap();
    let emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
    assert!(emails.contains(&"Alice@Example.com"), "{emails:?}");
    assert!(
        !emails.contains(&"gone@example.com"),
        "inactive: {emails:?}"
    );

    let prefix = "confc:cloud:site-1:group:";
    let group = client
        .create_group("[Confluence] engineering", &format!("{prefix}g-1"))
        .await
        .unwrap();
    client
        .create_group("Somebody else's", "other:g-1")
        .await
        .unwrap();
    client
        .add_group_members(&group.id, &[alice.clone(), bob.clone()])
        .await
        .unwrap();
    let ours = client.groups_with_external_id_prefix(prefix).await.unwrap();
    assert_eq!(ours.len(), 1, "{ours:?}");
    let mut members = ours[0].members.clone();
    members.sort();
    let mut expected = vec![alice.clone(), bob.clone()];
    expected.sort();
    assert_eq!(members, expected);
    assert!(client.groups_with_external_id_prefix("").await.is_err());

    let grant = FileAccess {
        content_id: file.id.clone(),
        entity: Entity::Group(group.id.clone()),
        access: AccessType::Read,
    };
    client
        .add_file_accesses(&root, std::slice::from_ref(&grant))
        .await
        .unwrap();
    let read_back = client
        .content_accesses(&["t/ENG/2001".to_owned()])
        .await
        .unwrap();
    assert_eq!(read_back.len(), 1);
    assert_eq!(read_back[0].owner_id, root);
    assert!(read_back[0]
        .accesses
        .contains(&(Entity::Group(group.id.clone()), AccessType::Read)));
    let readers = |unique: &Harness| {
        unique
            .sim
            .readers()
            .into_iter()
            .find(|r| r.key == "t/ENG/2001")
            .unwrap()
            .readers
    };
    assert!(readers(&unique).contains(&alice) && readers(&unique).contains(&bob));

    client.remove_group_member(&group.id, &bob).await.unwrap();
    assert!(readers(&unique).contains(&alice) && !readers(&unique).contains(&bob));

    client
        .remove_file_accesses(&root, std::slice::from_ref(&grant))
        .await
        .unwrap();
    assert!(!readers(&unique).contains(&alice));
    client.delete_group(&group.id).await.unwrap();
    assert!(client
        .groups_with_external_id_prefix(prefix)
        .await
        .unwrap()
        .is_empty());

    // An empty id is refused before anything is sent.
    let before = unique.sim.calls().len();
    let empty = FileAccess {
        content_id: String::new(),
        ..grant
    };
    assert!(client.add_file_accesses(&root, &[empty]).await.is_err());
    assert!(client.add_file_accesses("", &[]).await.is_err());
    assert_eq!(unique.sim.calls().len(), before);
}

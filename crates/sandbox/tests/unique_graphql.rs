//! The Unique GraphQL APIs against the reference connector's documents: they validate, execute
//! and behave as `unique-api-detail.md` describes.

#![allow(clippy::unwrap_used)]

mod unique_support;

use sandbox::unique::{
    ingestion_schema_sdl, scope_management_schema_sdl, validate_document, ContentState,
    IngestionState, SeedScope, UniqueService,
};
use serde_json::json;
use unique_support::*;

#[test]
fn reference_documents_validate_against_the_schemas() {
    for document in INGESTION_DOCUMENTS {
        assert_eq!(
            validate_document(UniqueService::Ingestion, document),
            Ok(()),
            "{document}"
        );
    }
    assert_eq!(
        validate_document(UniqueService::ScopeManagement, USER),
        Ok(())
    );
    assert_eq!(
        validate_document(UniqueService::ScopeManagement, HEALTH),
        Ok(())
    );
}

#[test]
fn validation_reports_schema_errors_of_a_document() {
    let wrong_service = validate_document(UniqueService::Ingestion, USER).unwrap_err();
    assert!(wrong_service[0].contains("me"), "{wrong_service:?}");

    let unknown_field = validate_document(
        UniqueService::Ingestion,
        "query PaginatedScope($skip: Int!, $take: Int!, $where: ScopeWhereInput!) {
           paginatedScope(skip: $skip, take: $take, where: $where) { nodes { id parentID } }
         }",
    )
    .unwrap_err();
    assert!(unknown_field[0].contains("parentID"), "{unknown_field:?}");

    let wrong_variable_type = validate_document(
        UniqueService::Ingestion,
        "mutation DeleteFolder($scopeId: Int!, $recursive: Boolean!) {
           deleteFolder(scopeId: $scopeId, recursive: $recursive) { successFolders { id } }
         }",
    )
    .unwrap_err();
    assert!(
        wrong_variable_type[0].contains("scopeId"),
        "{wrong_variable_type:?}"
    );

    let unknown_type = validate_document(
        UniqueService::Ingestion,
        "mutation UpdateScope($id: String!, $input: ScopeUpdate!) {
           updateScope(id: $id, input: $input) { id }
         }",
    )
    .unwrap_err();
    assert!(
        unknown_type.iter().any(|e| e.contains("ScopeUpdate")),
        "{unknown_type:?}"
    );

    let unknown_argument = validate_document(
        UniqueService::Ingestion,
        "mutation ContentDeleteByContentIds($ids: [String!]!) {
           contentDeleteByContentIds(ids: $ids) { id }
         }",
    )
    .unwrap_err();
    assert!(!unknown_argument.is_empty());

    let leaf_without_selection = validate_document(
        UniqueService::Ingestion,
        "query PaginatedContentCount($where: ContentWhereInput) { paginatedContent(where: $where) }",
    )
    .unwrap_err();
    assert!(!leaf_without_selection.is_empty());
}

#[test]
fn sdl_carries_the_reference_names() {
    let sdl = ingestion_schema_sdl();
    for needle in [
        "input ScopeWhereInput",
        "input ContentWhereInput",
        "input ContentCreateInput",
        "input ScopeAccessChangeDto",
        "input ScopeUpdateInput",
        "parrentScope",
        "input BulkMoveInput",
        "RECREATING_VECETORDB_INDEX",
        "contentDeleteByContentIds(contentIds: [String!]!)",
    ] {
        assert!(sdl.contains(needle), "missing {needle}");
    }
    assert!(scope_management_schema_sdl().contains("me: Me!"));
}

#[tokio::test]
async fn me_returns_the_calling_service_user() {
    let h = start_default().await;
    let (status, body) = h.post_graphql(&h.scope_management, USER, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["me"]["user"]["id"], "sandbox-user");
}

#[tokio::test]
async fn health_ping_answers_typename_on_both_services() {
    let h = start_default().await;
    for base in [&h.ingestion, &h.scope_management] {
        let response = h
            .http
            .post(format!("{base}/graphql"))
            .headers(h.auth.clone())
            .header("content-type", "application/json")
            .body(r#"{"query":"{ __typename }"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("application/json"));
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["data"]["__typename"], "Query");
    }
}

#[tokio::test]
async fn root_initialisation_and_space_scopes_follow_the_reference_sequence() {
    let h = start_default().await;
    let org = h.root_scope("Org");
    let root = h
        .sim
        .seed_scope(SeedScope {
            name: "Confluence".into(),
            parent_id: Some(org.clone()),
            ..Default::default()
        })
        .unwrap()
        .id;

    let all = ["MANAGE", "READ", "WRITE"]
        .map(|a| json!({"accessType": a, "entityId": "sandbox-user", "entityType": "USER"}));
    let granted = h
        .ingest(
            CREATE_SCOPE_ACCESSES,
            json!({"scopeId": root, "scopeAccesses": all, "applyToSubScopes": false, "skipFileAccessPropagation": true}),
        )
        .await;
    assert_eq!(granted["createScopeAccesses"], true);
    let calls = h.sim.calls_of("CreateScopeAccesses");
    assert_eq!(calls[0].surface, "ingestion-graphql");
    assert_eq!(calls[0].variables["skipFileAccessPropagation"], true);
    assert_eq!(calls[0].variables["scopeAccesses"][1]["accessType"], "READ");
    // Idempotent: granting again changes nothing.
    h.ingest(
        CREATE_SCOPE_ACCESSES,
        json!({"scopeId": root, "scopeAccesses": all, "applyToSubScopes": false, "skipFileAccessPropagation": true}),
    )
    .await;

    let by_id = h
        .ingest(
            PAGINATED_SCOPE,
            json!({"skip": 0, "take": 1, "where": {"id": {"equals": root}}}),
        )
        .await;
    let node = &by_id["paginatedScope"]["nodes"][0];
    assert_eq!(node["parentId"], org.as_str());
    assert_eq!(node["externalId"], serde_json::Value::Null);

    let parent = h
        .ingest(
            PAGINATED_SCOPE,
            json!({"skip": 0, "take": 1, "where": {"id": {"equals": org}}}),
        )
        .await;
    // A top-level scope carries an explicit null parentId: the ancestor walk stops on it.
    assert!(parent["paginatedScope"]["nodes"][0]
        .as_object()
        .unwrap()
        .contains_key("parentId"));
    assert_eq!(
        parent["paginatedScope"]["nodes"][0]["parentId"],
        serde_json::Value::Null
    );

    let claimed = h
        .ingest(
            UPDATE_SCOPE,
            json!({"id": root, "input": {"externalId": "confc:cloud:abc"}}),
        )
        .await;
    assert_eq!(claimed["updateScope"]["externalId"], "confc:cloud:abc");

    let by_external = h
        .ingest(
            PAGINATED_SCOPE,
            json!({"skip": 0, "take": 1, "where": {"externalId": {"equals": "confc:cloud:abc"}}}),
        )
        .await;
    assert_eq!(
        by_external["paginatedScope"]["nodes"][0]["id"],
        root.as_str()
    );

    let generated = h
        .ingest(
            GENERATE_SCOPES_WITH_ACCESS,
            json!({"paths": ["/Org/Confluence/SP", "/Org/Confluence/ENG", "/Org/Confluence/SP"], "inheritAccess": true}),
        )
        .await;
    let leaves = generated["generateScopesBasedOnPaths"].as_array().unwrap();
    assert_eq!(leaves.len(), 3);
    assert_eq!(leaves[0]["name"], "SP");
    assert_eq!(leaves[0]["parentId"], root.as_str());
    assert_eq!(leaves[0]["id"], leaves[2]["id"]);
    assert_eq!(leaves[1]["externalId"], serde_json::Value::Null);
    assert_eq!(leaves[0]["scopeAccess"].as_array().unwrap().len(), 3);

    let space = leaves[0]["id"].as_str().unwrap();
    let updated = h
        .ingest(
            UPDATE_SCOPE,
            json!({"id": space, "input": {"externalId": "confc:t1:100:SP"}}),
        )
        .await;
    assert_eq!(updated["updateScope"]["externalId"], "confc:t1:100:SP");

    // External ids are unique: claiming a taken one is a GraphQL error, with HTTP 200.
    let (status, body) = h
        .post_graphql(
            &h.ingestion,
            UPDATE_SCOPE,
            json!({"id": leaves[1]["id"], "input": {"externalId": "confc:t1:100:SP"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("already taken"));
    assert_eq!(
        body["errors"][0]["extensions"]["response"]["statusCode"],
        409
    );
}

#[tokio::test]
async fn update_scope_with_null_clears_the_external_id_and_can_reparent() {
    let h = start_default().await;
    let a = h.root_scope("A");
    let b = h.root_scope("B");
    h.ingest(UPDATE_SCOPE, json!({"id": a, "input": {"externalId": "x"}}))
        .await;
    let cleared = h
        .ingest(
            UPDATE_SCOPE,
            json!({"id": a, "input": {"externalId": null}}),
        )
        .await;
    assert_eq!(
        cleared["updateScope"]["externalId"],
        serde_json::Value::Null
    );
    let moved = h
        .ingest(
            UPDATE_SCOPE,
            json!({"id": a, "input": {"parrentScope": {"connect": {"id": b}}}}),
        )
        .await;
    assert_eq!(moved["updateScope"]["parentId"], b.as_str());
}

#[tokio::test]
async fn lists_scope_children_across_pages_without_gaps_or_repeats() {
    let h = start_default().await;
    let root = h.root_scope("Root");
    for i in 0..250 {
        h.sim
            .seed_scope(SeedScope {
                name: format!("S{i}"),
                parent_id: Some(root.clone()),
                ..Default::default()
            })
            .unwrap();
    }
    h.root_scope("Unrelated");
    let mut seen = Vec::new();
    let mut skip = 0;
    loop {
        let page = h
            .ingest(
                PAGINATED_SCOPE,
                json!({"skip": skip, "take": 100, "where": {"parentId": {"equals": root}}}),
            )
            .await;
        assert_eq!(page["paginatedScope"]["totalCount"], 250);
        let nodes = page["paginatedScope"]["nodes"].as_array().unwrap().clone();
        let len = nodes.len();
        seen.extend(
            nodes
                .into_iter()
                .map(|n| n["name"].as_str().unwrap().to_owned()),
        );
        if len < 100 {
            break;
        }
        skip += 100;
    }
    let expected: Vec<String> = (0..250).map(|i| format!("S{i}")).collect();
    assert_eq!(seen, expected);

    let unknown = h
        .ingest(
            PAGINATED_SCOPE,
            json!({"skip": 0, "take": 1, "where": {"id": {"equals": "nope"}}}),
        )
        .await;
    assert_eq!(unknown["paginatedScope"]["nodes"], json!([]));
}

#[tokio::test]
async fn content_is_registered_uploaded_and_finalized() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    let body = "<p>Hello, Unique</p>";
    let id = h.ingest_page("t1/100_SP/1", &scope, body).await;

    let file = h.sim.file_by_key("t1/100_SP/1").unwrap();
    assert_eq!(file.id, id);
    assert_eq!(file.scope_id, scope);
    assert_eq!(file.state, ContentState::Finalized);
    assert_eq!(file.ingestion_state, IngestionState::Finished);
    assert_eq!(file.uploaded_size, Some(body.len() as u64));
    assert_eq!(file.sha256.unwrap(), sha256_hex(body.as_bytes()));
    assert_eq!(h.sim.file_bytes("t1/100_SP/1").unwrap(), body.as_bytes());
    assert_eq!(file.metadata.unwrap()["spaceKey"], "SP");
    assert_eq!(
        file.source_kind.as_deref(),
        Some("ATLASSIAN_CONFLUENCE_CLOUD")
    );

    let listed = h
        .ingest(
            PAGINATED_CONTENT,
            json!({"skip": 0, "take": 100, "where": {"key": {"in": ["t1/100_SP/1", "t1/100_SP/missing"]}}}),
        )
        .await;
    let node = &listed["paginatedContent"]["nodes"][0];
    assert_eq!(listed["paginatedContent"]["totalCount"], 1);
    assert_eq!(node["id"], id.as_str());
    assert_eq!(node["ownerType"], "SCOPE");
    assert_eq!(node["ownerId"], scope.as_str());
    assert_eq!(node["byteSize"], body.len());
    assert_eq!(node["ingestionState"], "FINISHED");
    assert_eq!(node["metadata"]["confluenceLabels"], json!(["a", "b"]));
    assert_eq!(node["expiresAt"], serde_json::Value::Null);
}

#[tokio::test]
async fn upload_hash_is_the_sha256_of_the_bytes() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    h.ingest_page("k/abc", &scope, "abc").await;
    assert_eq!(
        h.sim.file_by_key("k/abc").unwrap().sha256.as_deref(),
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    );
}

#[tokio::test]
async fn re_registering_a_key_keeps_its_id_and_supersedes_earlier_urls() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    let id = h.ingest_page("k/1", &scope, "<p>v1</p>").await;
    let first_updated = h.sim.file_by_key("k/1").unwrap().updated_at;

    let variables = h.page_variables("k/1", &scope, 9);
    let first = h.ingest(CONTENT_UPSERT, variables.clone()).await;
    let second = h.ingest(CONTENT_UPSERT, variables.clone()).await;
    assert_eq!(first["contentUpsert"]["id"], id.as_str());
    assert_eq!(second["contentUpsert"]["id"], id.as_str());
    assert_ne!(
        first["contentUpsert"]["writeUrl"],
        second["contentUpsert"]["writeUrl"]
    );
    let file = h.sim.file_by_key("k/1").unwrap();
    assert_eq!(file.state, ContentState::Registered);
    assert!(file.updated_at >= first_updated);
    assert_eq!(h.sim.files().len(), 1);

    let stale = h
        .http
        .put(first["contentUpsert"]["writeUrl"].as_str().unwrap())
        .header("content-type", "text/html")
        .header("x-ms-blob-type", "BlockBlob")
        .body("<p>v2</p>")
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 403);

    let mut finalize = variables.clone();
    finalize["fileUrl"] = first["contentUpsert"]["readUrl"].clone();
    let message = h.ingest_error(CONTENT_UPSERT, finalize).await;
    assert!(message.contains("fileUrl"), "{message}");
}

#[tokio::test]
async fn finalizing_without_an_upload_fails_the_ingestion_not_the_call() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    let mut variables = h.page_variables("k/1", &scope, 10);
    let registered = h.ingest(CONTENT_UPSERT, variables.clone()).await;
    variables["fileUrl"] = registered["contentUpsert"]["readUrl"].clone();
    let finalized = h.ingest(CONTENT_UPSERT, variables).await;
    assert_eq!(
        finalized["contentUpsert"]["id"],
        registered["contentUpsert"]["id"]
    );
    let file = h.sim.file_by_key("k/1").unwrap();
    assert_eq!(file.state, ContentState::Finalized);
    assert_eq!(file.ingestion_state, IngestionState::FailedGettingFile);
}

#[tokio::test]
async fn content_upsert_into_an_unknown_scope_is_a_graphql_error() {
    let h = start_default().await;
    let message = h
        .ingest_error(CONTENT_UPSERT, h.page_variables("k/1", "scope_missing", 1))
        .await;
    assert!(message.contains("scope_missing"), "{message}");
    let mut bad_enum = h.page_variables("k/1", "scope_missing", 1);
    bad_enum["input"]["ownerType"] = json!("Scope");
    let (status, body) = h.post_graphql(&h.ingestion, CONTENT_UPSERT, bad_enum).await;
    assert_eq!(status, 200);
    assert!(body["errors"].as_array().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn paginated_content_filters_by_prefix_owner_and_counts_with_take_zero() {
    let h = start_default().await;
    let sp = h.root_scope("SP");
    let eng = h.root_scope("ENG");
    for i in 0..5 {
        h.ingest_page(&format!("t1/1_SP/{i}"), &sp, "x").await;
    }
    h.ingest_page("t1/2_ENG/9", &eng, "y").await;
    h.ingest_page("t1/1_SPX/9", &eng, "z").await;

    let count = h
        .ingest(
            PAGINATED_CONTENT_COUNT,
            json!({"where": {"key": {"startsWith": "t1/1_SP/"}}}),
        )
        .await;
    assert_eq!(count["paginatedContent"]["totalCount"], 5);

    let page = h
        .ingest(
            PAGINATED_CONTENT,
            json!({"skip": 0, "take": 2, "where": {"key": {"startsWith": "t1/1_SP/"}}}),
        )
        .await;
    assert_eq!(
        page["paginatedContent"]["nodes"].as_array().unwrap().len(),
        2
    );
    assert_eq!(page["paginatedContent"]["totalCount"], 5);

    let ids = h
        .ingest(
            PAGINATED_CONTENT_IDS,
            json!({"skip": 0, "take": 100, "where": {"ownerId": {"equals": eng}, "ownerType": {"equals": "SCOPE"}}}),
        )
        .await;
    assert_eq!(ids["paginatedContent"]["totalCount"], 2);
    assert_eq!(
        ids["paginatedContent"]["nodes"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn deletes_content_by_ids_returning_only_those_deleted() {
    let h = start_default().await;
    let scope = h.root_scope("Space");
    let a = h.ingest_page("k/a", &scope, "a").await;
    let b = h.ingest_page("k/b", &scope, "b").await;
    let deleted = h
        .ingest(
            CONTENT_DELETE_BY_CONTENT_IDS,
            json!({"contentIds": [a, "cont_unknown"]}),
        )
        .await;
    assert_eq!(deleted["contentDeleteByContentIds"], json!([{"id": a}]));
    assert!(h.sim.file_by_key("k/a").is_none());
    // Deletions are visible at once (the reference's prefix loop depends on it).
    let rest = h
        .ingest(
            PAGINATED_CONTENT_IDS,
            json!({"skip": 0, "take": 100, "where": {"key": {"startsWith": "k/"}}}),
        )
        .await;
    assert_eq!(rest["paginatedContent"]["nodes"], json!([{"id": b}]));
    let single = h
        .ingest(CONTENT_DELETE, json!({"contentDeleteId": b}))
        .await;
    assert_eq!(single["contentDelete"], true);
    assert!(h.sim.files().is_empty());
}

#[tokio::test]
async fn delete_folder_refuses_non_empty_unless_recursive() {
    let h = start_default().await;
    let root = h.root_scope("Org");
    let generated = h
        .ingest(
            GENERATE_SCOPES_BASED_ON_PATHS,
            json!({"paths": ["/Org/Conf/SP/Sub"], "inheritAccess": true}),
        )
        .await;
    let sub = generated["generateScopesBasedOnPaths"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let conf = h
        .sim
        .scopes()
        .into_iter()
        .find(|s| s.name == "Conf")
        .unwrap()
        .id;
    h.ingest_page("k/1", &sub, "x").await;

    let refused = h
        .ingest(DELETE_FOLDER, json!({"scopeId": conf, "recursive": false}))
        .await;
    assert_eq!(refused["deleteFolder"]["successFolders"], json!([]));
    assert_eq!(
        refused["deleteFolder"]["failedFolders"][0]["id"],
        conf.as_str()
    );
    assert_eq!(
        refused["deleteFolder"]["failedFolders"][0]["path"],
        "/Org/Conf"
    );

    let deleted = h
        .ingest(DELETE_FOLDER, json!({"scopeId": conf, "recursive": true}))
        .await;
    let paths: Vec<&str> = deleted["deleteFolder"]["successFolders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/Org/Conf/SP/Sub", "/Org/Conf/SP", "/Org/Conf"]);
    assert!(h.sim.files().is_empty());
    let remaining: Vec<String> = h.sim.scopes().into_iter().map(|s| s.id).collect();
    assert_eq!(remaining, [root]);

    let empty = h.root_scope("Empty");
    let ok = h
        .ingest(DELETE_FOLDER, json!({"scopeId": empty, "recursive": false}))
        .await;
    assert_eq!(ok["deleteFolder"]["successFolders"][0]["name"], "Empty");
}

#[tokio::test]
async fn bulk_move_reparents_scopes_and_keeps_their_files() {
    let h = start_default().await;
    let old = h.root_scope("Old");
    let new = h.root_scope("New");
    let child = h
        .sim
        .seed_scope(SeedScope {
            name: "SP".into(),
            parent_id: Some(old.clone()),
            ..Default::default()
        })
        .unwrap()
        .id;
    h.ingest_page("k/1", &child, "x").await;
    let moved = h
        .ingest(
            BULK_MOVE,
            json!({"input": {"scopeIds": [child], "targetScopeId": new}}),
        )
        .await;
    assert_eq!(moved["bulkMove"]["scopeIds"], json!([child]));
    assert_eq!(moved["bulkMove"]["asyncMetadataRebuild"], false);
    assert_eq!(moved["bulkMove"]["affectedFiles"], 1);
    let scope = h.sim.scopes().into_iter().find(|s| s.id == child).unwrap();
    assert_eq!(scope.parent_id.as_deref(), Some(new.as_str()));
    assert_eq!(h.sim.file_by_key("k/1").unwrap().scope_id, child);
}

#[tokio::test]
async fn graphql_errors_come_back_with_status_200() {
    let h = start_default().await;
    let (status, body) = h
        .post_graphql(
            &h.ingestion,
            UPDATE_SCOPE,
            json!({"id": "nope", "input": {"externalId": "x"}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");

    let (status, body) = h
        .post_graphql(
            &h.ingestion,
            "query { paginatedScope { nodes { nope } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("nope"));
}

#[tokio::test]
async fn scope_access_is_enforced_when_configured() {
    let h = start(sandbox::unique::UniqueConfig {
        enforce_scope_access: true,
        ..Default::default()
    })
    .await;
    let root = h.root_scope("Org");
    let by_id = json!({"skip": 0, "take": 1, "where": {"id": {"equals": root}}});
    let hidden = h.ingest(PAGINATED_SCOPE, by_id.clone()).await;
    assert_eq!(hidden["paginatedScope"]["nodes"], json!([]));

    let grant = |access: &[&str]| {
        json!({"scopeId": root, "applyToSubScopes": false, "skipFileAccessPropagation": true,
               "scopeAccesses": access.iter().map(|a| json!({"accessType": a, "entityId": "sandbox-user", "entityType": "USER"})).collect::<Vec<_>>()})
    };
    h.ingest(CREATE_SCOPE_ACCESSES, grant(&["READ"])).await;
    let seen = h.ingest(PAGINATED_SCOPE, by_id).await;
    assert_eq!(seen["paginatedScope"]["nodes"][0]["id"], root.as_str());
    let (_, body) = h
        .post_graphql(
            &h.ingestion,
            CONTENT_UPSERT,
            h.page_variables("k/1", &root, 1),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let (_, body) = h
        .post_graphql(
            &h.ingestion,
            GENERATE_SCOPES_BASED_ON_PATHS,
            json!({"paths": ["/Org/SP"], "inheritAccess": true}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "READ cannot create children"
    );

    h.ingest(CREATE_SCOPE_ACCESSES, grant(&["MANAGE", "READ", "WRITE"]))
        .await;
    let generated = h
        .ingest(
            GENERATE_SCOPES_BASED_ON_PATHS,
            json!({"paths": ["/Org/SP"], "inheritAccess": false}),
        )
        .await;
    let orphan = generated["generateScopesBasedOnPaths"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, body) = h
        .post_graphql(
            &h.ingestion,
            CONTENT_UPSERT,
            h.page_variables("k/1", &orphan, 1),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let refused = h
        .ingest(DELETE_FOLDER, json!({"scopeId": orphan, "recursive": true}))
        .await;
    assert_eq!(
        refused["deleteFolder"]["failedFolders"][0]["id"],
        orphan.as_str()
    );

    let generated = h
        .ingest(
            GENERATE_SCOPES_BASED_ON_PATHS,
            json!({"paths": ["/Org/ENG"], "inheritAccess": true}),
        )
        .await;
    let inherited = generated["generateScopesBasedOnPaths"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.ingest_page("k/2", &inherited, "ok").await;
    let listed = h
        .ingest(
            PAGINATED_CONTENT_IDS,
            json!({"skip": 0, "take": 10, "where": {}}),
        )
        .await;
    assert_eq!(listed["paginatedContent"]["totalCount"], 1);
}

/// The schemas are committed as SDL so that a change to what the sandbox accepts is a reviewed
/// diff. Regenerate with `UPDATE_UNIQUE_SDL=1 cargo test -p sandbox --test unique_graphql`.
#[test]
fn committed_sdl_matches_the_schemas() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/unique");
    for (file, sdl) in [
        ("ingestion.graphql", ingestion_schema_sdl()),
        ("scope-management.graphql", scope_management_schema_sdl()),
    ] {
        let path = dir.join(file);
        if std::env::var_os("UPDATE_UNIQUE_SDL").is_some() {
            std::fs::write(&path, &sdl).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == sdl,
            "{file} is out of date; rerun with UPDATE_UNIQUE_SDL=1 and review the diff"
        );
    }
}

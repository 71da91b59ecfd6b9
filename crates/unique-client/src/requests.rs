//! What goes on the wire: every GraphQL call's variables and envelope, the file-diff body, the
//! upload target. Pure functions, so the snapshot tests see exactly what Unique receives.

use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};
use url::Url;

use crate::documents::{self, Operation};
use crate::types::{AccessType, ContentItem, FileDiffRequest};
use crate::UniqueError;
use http_transport::{Disclosure, RemoteText};

/// Page size of every skip/take listing, as in the reference.
pub(crate) const PAGE_SIZE: u64 = 100;
/// Ids per `ContentDeleteByContentIds`, as in the reference.
pub(crate) const DELETE_BATCH: usize = 20;
/// Paths per `GenerateScopesBasedOnPaths`, as in the reference.
pub(crate) const PATHS_BATCH: usize = 100;

/// Which GraphQL endpoint an operation goes to. Scope management moved into ingestion: only
/// `User` (and the health ping) still go to the scope-management service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Ingestion,
    ScopeManagement,
}

/// One GraphQL request, before credentials are added.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct GraphQlCall {
    pub(crate) endpoint: Endpoint,
    pub(crate) operation: Operation,
    /// `None` for operations without variables: graphql-request then omits the field.
    pub(crate) variables: Option<Value>,
}

impl GraphQlCall {
    pub(crate) fn ingestion(operation: Operation, variables: Value) -> Self {
        Self {
            endpoint: Endpoint::Ingestion,
            operation,
            variables: Some(variables),
        }
    }

    pub(crate) fn scope_management(operation: Operation, variables: Value) -> Self {
        Self {
            endpoint: Endpoint::ScopeManagement,
            operation,
            variables: Some(variables),
        }
    }

    /// `{query, variables, operationName}`, as graphql-request sends it (`variables` left out
    /// when there are none, as `JSON.stringify` drops `undefined`).
    pub(crate) fn body(&self) -> Value {
        let mut body = Map::new();
        body.insert("query".into(), json!(self.operation.document));
        if let Some(variables) = &self.variables {
            body.insert("variables".into(), variables.clone());
        }
        body.insert("operationName".into(), json!(self.operation.name));
        Value::Object(body)
    }
}

/// The anonymous health-ping body: no variables, no operation name.
pub(crate) fn health_ping_body() -> Value {
    json!({ "query": documents::HEALTH_PING })
}

pub(crate) fn current_user() -> GraphQlCall {
    GraphQlCall {
        endpoint: Endpoint::ScopeManagement,
        operation: documents::OP_USER,
        variables: None,
    }
}

pub(crate) fn create_scope_accesses(
    scope_id: &str,
    user_id: &str,
    accesses: &[AccessType],
) -> GraphQlCall {
    let scope_accesses: Vec<Value> = accesses
        .iter()
        .map(|access| {
            json!({
                "accessType": access,
                "entityId": user_id,
                "entityType": "USER",
            })
        })
        .collect();
    GraphQlCall::ingestion(
        documents::OP_CREATE_SCOPE_ACCESSES,
        json!({
            "scopeId": scope_id,
            "scopeAccesses": scope_accesses,
            "applyToSubScopes": false,
            "skipFileAccessPropagation": true,
        }),
    )
}

pub(crate) fn scope_by_id(id: &str) -> GraphQlCall {
    paginated_scope(0, 1, json!({ "id": { "equals": id } }))
}

pub(crate) fn scope_by_external_id(external_id: &str) -> GraphQlCall {
    paginated_scope(0, 1, json!({ "externalId": { "equals": external_id } }))
}

pub(crate) fn child_scopes_page(parent_id: &str, page: u64) -> GraphQlCall {
    paginated_scope(
        page * PAGE_SIZE,
        PAGE_SIZE,
        json!({ "parentId": { "equals": parent_id } }),
    )
}

fn paginated_scope(skip: u64, take: u64, filter: Value) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_PAGINATED_SCOPE,
        json!({ "skip": skip, "take": take, "where": filter }),
    )
}

/// `externalId: null` is sent explicitly: it is how a tenant deletion clears the ownership mark.
pub(crate) fn update_scope_external_id(scope_id: &str, external_id: Option<&str>) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_UPDATE_SCOPE,
        json!({ "id": scope_id, "input": { "externalId": external_id } }),
    )
}

pub(crate) fn generate_scopes_based_on_paths(paths: &[String]) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_GENERATE_SCOPES_BASED_ON_PATHS,
        json!({ "paths": paths, "inheritAccess": true }),
    )
}

pub(crate) fn bulk_move(scope_ids: &[String], target_scope_id: &str) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_BULK_MOVE,
        json!({ "input": { "scopeIds": scope_ids, "targetScopeId": target_scope_id } }),
    )
}

pub(crate) fn delete_folder(scope_id: &str, recursive: bool) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_DELETE_FOLDER,
        json!({ "scopeId": scope_id, "recursive": recursive }),
    )
}

/// Register (`file_url: None`) and finalize (`Some(readUrl)`) send the same variables; unset
/// fields are omitted, as `JSON.stringify` does with `undefined`.
pub(crate) fn content_upsert(item: &ContentItem, file_url: Option<&str>) -> GraphQlCall {
    let mut input = Map::new();
    input.insert("key".into(), json!(item.key));
    input.insert("title".into(), json!(item.title));
    input.insert("mimeType".into(), json!(item.mime_type));
    input.insert("ownerType".into(), json!("SCOPE"));
    input.insert("url".into(), json!(item.url));
    input.insert("byteSize".into(), json!(item.byte_size));
    input.insert("metadata".into(), item.metadata.clone());
    if let Some(config) = &item.ingestion_config {
        input.insert("ingestionConfig".into(), config.clone());
    }
    if let (Some(access), None) = (&item.file_access, file_url) {
        input.insert("fileAccess".into(), json!(access));
    }
    let mut variables = Map::new();
    variables.insert("input".into(), Value::Object(input));
    variables.insert("scopeId".into(), json!(item.scope_id));
    variables.insert("sourceOwnerType".into(), json!("COMPANY"));
    variables.insert("sourceKind".into(), json!(item.source_kind));
    variables.insert("sourceName".into(), json!(item.source_name));
    variables.insert("storeInternally".into(), json!(item.store_internally));
    variables.insert("baseUrl".into(), json!(item.source_name));
    if let Some(file_url) = file_url {
        variables.insert("fileUrl".into(), json!(file_url));
    }
    GraphQlCall::ingestion(documents::OP_CONTENT_UPSERT, Value::Object(variables))
}

/// One page of the contents whose key is in `keys`. The whole key list goes into every page's
/// filter, unchunked, as in the reference.
pub(crate) fn content_by_keys_page(keys: &[String], page: u64) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_PAGINATED_CONTENT,
        json!({
            "skip": page * PAGE_SIZE,
            "take": PAGE_SIZE,
            "where": { "key": { "in": keys } },
        }),
    )
}

/// Always `skip: 0`: each page is deleted before the next query, so the next one is again the
/// first.
pub(crate) fn content_with_key_prefix_first_page(partial_key: &str) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_PAGINATED_CONTENT,
        json!({
            "skip": 0,
            "take": PAGE_SIZE,
            "where": { "key": { "startsWith": key_prefix(partial_key) } },
        }),
    )
}

pub(crate) fn content_ids_in_scope_page(scope_id: &str, page: u64) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_PAGINATED_CONTENT_IDS,
        json!({
            "skip": page * PAGE_SIZE,
            "take": PAGE_SIZE,
            "where": {
                "ownerId": { "equals": scope_id },
                "ownerType": { "equals": "SCOPE" },
            },
        }),
    )
}

pub(crate) fn content_count_with_key_prefix(partial_key: &str) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_PAGINATED_CONTENT_COUNT,
        json!({ "where": { "key": { "startsWith": key_prefix(partial_key) } } }),
    )
}

pub(crate) fn content_delete_by_content_ids(ids: &[String]) -> GraphQlCall {
    GraphQlCall::ingestion(
        documents::OP_CONTENT_DELETE_BY_CONTENT_IDS,
        json!({ "contentIds": ids }),
    )
}

/// `<partialKey>/`: the slash keeps `123_SP` from matching `9123_SP`.
fn key_prefix(partial_key: &str) -> String {
    format!("{partial_key}/")
}

pub(crate) fn file_diff_body(request: &FileDiffRequest) -> Value {
    // Serializing a struct of strings cannot fail.
    serde_json::to_value(request).unwrap_or(Value::Null)
}

/// `<base>/graphql`, by plain concatenation: a path in the base URL is kept.
pub(crate) fn graphql_url(base: &str) -> Result<Url, url::ParseError> {
    Url::parse(&format!("{base}/graphql"))
}

/// The origin of the ingestion base, then its path segments without empty ones, then
/// `v2/content/file-diff` — the reference rebuilds the path exactly so.
pub(crate) fn file_diff_url(ingestion_base: &str) -> Result<Url, url::ParseError> {
    let base = Url::parse(ingestion_base)?;
    let mut path = String::new();
    for segment in base
        .path()
        .split('/')
        .chain(["v2", "content", "file-diff"])
        .filter(|s| !s.is_empty())
    {
        path.push('/');
        path.push_str(segment);
    }
    let mut url = base;
    url.set_query(None);
    url.set_fragment(None);
    url.set_path(&path);
    Ok(url)
}

/// Cluster-local uploads bypass the public blob URL: they go to
/// `<ingestion>/scoped/upload?key=<encodeURIComponent(key)>`, `key` being the write URL's own
/// `key` query parameter. External uploads use the write URL unchanged.
pub(crate) fn upload_url(
    write_url: &str,
    cluster_local_ingestion_base: Option<&str>,
) -> Result<Url, String> {
    let parsed = Url::parse(write_url).map_err(|e| format!("the write URL is not a URL: {e}"))?;
    let Some(ingestion_base) = cluster_local_ingestion_base else {
        return Ok(parsed);
    };
    let key = parsed
        .query_pairs()
        .find(|(name, _)| name == "key")
        .map(|(_, value)| value.into_owned())
        .ok_or_else(|| "the write URL has no `key` query parameter".to_owned())?;
    let encoded = http_transport::encode_uri_component(&key);
    Url::parse(&format!("{ingestion_base}/scoped/upload?key={encoded}"))
        .map_err(|e| format!("cannot build the cluster-local upload URL: {e}"))
}

/// Unwraps a GraphQL answer: a non-empty `errors` array is a failure naming the operation;
/// otherwise `data` must have the expected shape.
pub(crate) fn parse_graphql_response<T: DeserializeOwned>(
    operation: &'static str,
    body: &[u8],
    disclosure: Disclosure,
) -> Result<T, UniqueError> {
    let unexpected = |reason: String| UniqueError::UnexpectedResponse {
        operation,
        reason: RemoteText::new(reason, disclosure),
    };
    let value: Value =
        serde_json::from_slice(body).map_err(|e| unexpected(format!("not JSON: {e}")))?;
    if let Some(errors) = value.get("errors").and_then(Value::as_array) {
        if !errors.is_empty() {
            let messages = errors
                .iter()
                .map(|error| match error.get("message").and_then(Value::as_str) {
                    Some(message) if operation == documents::OP_BULK_MOVE.name => {
                        strip_parenthetical_lists(message)
                    }
                    Some(message) => message.to_owned(),
                    None => error.to_string(),
                })
                .map(|message| RemoteText::new(message, disclosure))
                .collect();
            return Err(UniqueError::GraphQl {
                operation,
                messages,
            });
        }
    }
    let data = match value.get("data") {
        Some(data) if !data.is_null() => data.clone(),
        _ => return Err(unexpected("no `data` and no `errors`".to_owned())),
    };
    serde_json::from_value(data).map_err(|e| unexpected(e.to_string()))
}

/// `BulkMove` errors list every blocking file name in parentheses; the reference drops those
/// groups (keeping a literal `(s)`) so the message stays readable in logs.
fn strip_parenthetical_lists(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find('(') {
        let Some(len) = rest[start..].find(')') else {
            break;
        };
        let group = &rest[start..=start + len];
        if group == "(s)" {
            out.push_str(&rest[..=start + len]);
        } else {
            out.push_str(rest[..start].trim_end_matches(' '));
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::types::{FileDiffItem, SourceKind};

    fn page() -> ContentItem {
        ContentItem {
            key: "tenant1/space-1_SP/p1".into(),
            title: "Release notes".into(),
            mime_type: "text/html".into(),
            url: "https://acme.atlassian.net/wiki/spaces/SP/pages/p1".into(),
            byte_size: 1234,
            metadata: json!({"confluenceLabels": ["a", "b"], "spaceKey": "SP", "spaceName": "Space One"}),
            ingestion_config: Some(
                json!({"htmlConfig": {"imageContentExtraction": {"enabled": true}}}),
            ),
            scope_id: "scope-sp".into(),
            source_kind: SourceKind::ConfluenceCloud,
            source_name: "https://acme.atlassian.net".into(),
            store_internally: true,
            file_access: None,
        }
    }

    fn attachment() -> ContentItem {
        ContentItem {
            key: "tenant1/space-1_SP/p1::att9".into(),
            title: "report.pdf".into(),
            mime_type: "application/pdf".into(),
            url: "https://dc.example.com/pages/viewpageattachments.action?pageId=p1&preview=%2Fp1%2F9%2Freport.pdf".into(),
            byte_size: 5_000_000,
            metadata: json!({"spaceKey": "SP", "spaceName": "Space One"}),
            ingestion_config: None,
            scope_id: "scope-sp".into(),
            source_kind: SourceKind::ConfluenceOnPrem,
            source_name: "https://dc.example.com".into(),
            store_internally: false,
            file_access: None,
        }
    }

    #[test]
    fn file_access_goes_into_the_registration_only() {
        let mut item = page();
        let keys = ["u:svcR", "u:svcW", "u:svcM"].map(String::from).to_vec();
        item.file_access = Some(keys);
        let register = content_upsert(&item, None).body();
        assert_eq!(
            register["variables"]["input"]["fileAccess"],
            json!(["u:svcR", "u:svcW", "u:svcM"])
        );
        let finalize = content_upsert(&item, Some("https://blob/read/token")).body();
        assert!(finalize["variables"]["input"].get("fileAccess").is_none());
        let plain = content_upsert(&page(), None).body();
        assert!(plain["variables"]["input"].get("fileAccess").is_none());
    }

    #[test]
    fn current_user_body() {
        let call = current_user();
        assert_eq!(call.endpoint, Endpoint::ScopeManagement);
        insta::assert_json_snapshot!(call.body());
    }

    #[test]
    fn create_scope_accesses_body() {
        let call = create_scope_accesses(
            "root-scope",
            "user-1",
            &[AccessType::Manage, AccessType::Read, AccessType::Write],
        );
        assert_eq!(call.endpoint, Endpoint::Ingestion);
        insta::assert_json_snapshot!(call.body());
    }

    #[test]
    fn paginated_scope_bodies() {
        insta::assert_json_snapshot!("scope_by_id", scope_by_id("root-scope").body());
        insta::assert_json_snapshot!(
            "scope_by_external_id",
            scope_by_external_id("confc:cloud:abc").body()
        );
        insta::assert_json_snapshot!("child_scopes_page_2", child_scopes_page("root", 2).body());
    }

    #[test]
    fn update_scope_bodies_send_null_to_clear() {
        insta::assert_json_snapshot!(
            "update_scope_set",
            update_scope_external_id("s1", Some("confc:t:1:SP")).body()
        );
        let clear = update_scope_external_id("s1", None).body();
        assert_eq!(clear["variables"]["input"], json!({"externalId": null}));
        insta::assert_json_snapshot!("update_scope_clear", clear);
    }

    #[test]
    fn scope_mutation_bodies() {
        insta::assert_json_snapshot!(
            "generate_scopes",
            generate_scopes_based_on_paths(&[
                "/Org/Confluence/SP".into(),
                "/Org/Confluence/ENG".into()
            ])
            .body()
        );
        insta::assert_json_snapshot!(
            "bulk_move",
            bulk_move(&["s1".into(), "s2".into()], "new-root").body()
        );
        insta::assert_json_snapshot!("delete_folder", delete_folder("s1", true).body());
    }

    #[test]
    fn content_upsert_bodies() {
        insta::assert_json_snapshot!("register_page", content_upsert(&page(), None).body());
        insta::assert_json_snapshot!(
            "finalize_page",
            content_upsert(&page(), Some("https://blob/read/token")).body()
        );
        let attachment = content_upsert(&attachment(), None).body();
        assert!(attachment["variables"]["input"]
            .get("ingestionConfig")
            .is_none());
        assert!(attachment["variables"].get("fileUrl").is_none());
        insta::assert_json_snapshot!("register_attachment", attachment);
    }

    #[test]
    fn content_query_bodies() {
        insta::assert_json_snapshot!(
            "content_by_keys_page_1",
            content_by_keys_page(&["t/1_SP/p1".into(), "t/1_SP/p1::att2".into()], 1).body()
        );
        insta::assert_json_snapshot!(
            "content_with_key_prefix",
            content_with_key_prefix_first_page("t/1_SP").body()
        );
        insta::assert_json_snapshot!(
            "content_ids_in_scope",
            content_ids_in_scope_page("scope-sp", 0).body()
        );
        insta::assert_json_snapshot!(
            "content_count",
            content_count_with_key_prefix("t/1_SP").body()
        );
        insta::assert_json_snapshot!(
            "content_delete_by_ids",
            content_delete_by_content_ids(&["c1".into(), "c2".into()]).body()
        );
    }

    #[test]
    fn health_ping_has_no_operation_name() {
        assert_eq!(health_ping_body(), json!({"query": "{ __typename }"}));
    }

    #[test]
    fn file_diff_body_shape() {
        let body = file_diff_body(&FileDiffRequest {
            partial_key: "tenant1/space-1_SP".into(),
            source_kind: SourceKind::ConfluenceCloud,
            source_name: "https://acme.atlassian.net".into(),
            file_list: vec![
                FileDiffItem {
                    key: "p1".into(),
                    url: "https://acme.atlassian.net/wiki/spaces/SP/pages/p1".into(),
                    updated_at: "2026-01-02T03:04:05.000Z".into(),
                },
                FileDiffItem {
                    key: "p1::att9".into(),
                    url:
                        "https://acme.atlassian.net/wiki/pages/viewpageattachments.action?pageId=p1"
                            .into(),
                    updated_at: "2026-01-02T03:04:05.000Z".into(),
                },
            ],
        });
        insta::assert_json_snapshot!(body);
    }

    #[test]
    fn file_diff_url_keeps_base_path_and_drops_empty_segments() {
        assert_eq!(
            file_diff_url("https://gw.example/ingestion")
                .unwrap()
                .as_str(),
            "https://gw.example/ingestion/v2/content/file-diff"
        );
        assert_eq!(
            file_diff_url("http://svc:8080").unwrap().as_str(),
            "http://svc:8080/v2/content/file-diff"
        );
        assert_eq!(
            file_diff_url("https://gw.example//a//b").unwrap().as_str(),
            "https://gw.example/a/b/v2/content/file-diff"
        );
    }

    #[test]
    fn graphql_url_is_concatenated() {
        assert_eq!(
            graphql_url("https://gw.example/ingestion")
                .unwrap()
                .as_str(),
            "https://gw.example/ingestion/graphql"
        );
    }

    #[test]
    fn cluster_local_upload_goes_to_scoped_upload_with_the_write_key() {
        let url = upload_url(
            "https://gateway.env/ingestion/scoped/upload?key=a%2Fb%20c%2Bd&other=1",
            Some("http://node-ingestion:8080"),
        )
        .unwrap();
        assert_eq!(
            url.as_str(),
            "http://node-ingestion:8080/scoped/upload?key=a%2Fb%20c%2Bd"
        );
    }

    #[test]
    fn cluster_local_upload_without_key_is_refused() {
        let err = upload_url("https://blob/abc?sig=x", Some("http://ing")).unwrap_err();
        assert!(err.contains("`key`"), "{err}");
    }

    #[test]
    fn external_upload_uses_the_write_url_unchanged() {
        let write = "https://acct.blob.core.windows.net/c/b?sv=1&sig=secret";
        assert_eq!(upload_url(write, None).unwrap().as_str(), write);
    }

    #[test]
    fn upserted_content_debug_hides_upload_capabilities() {
        let content: crate::types::UpsertedContent = serde_json::from_value(json!({
            "id": "c1",
            "writeUrl": "https://acct.blob.core.windows.net/c/b?sv=1&sig=write-secret",
            "readUrl": "opaque-read-secret",
        }))
        .unwrap();
        let shown = format!("{content:?}");
        assert!(!shown.contains("write-secret"), "{shown}");
        assert!(!shown.contains("read-secret"), "{shown}");
        assert!(shown.contains("acct.blob.core.windows.net"), "{shown}");
    }

    #[test]
    fn graphql_errors_name_the_operation() {
        let err = parse_graphql_response::<Value>(
            "UpdateScope",
            br#"{"data":null,"errors":[{"message":"externalId already taken","extensions":{"code":"BAD_USER_INPUT"}}]}"#,
            Disclosure::Disclose,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unique GraphQL UpdateScope returned errors: externalId already taken"
        );
    }

    #[test]
    fn bulk_move_errors_drop_file_lists_but_keep_plural_marker() {
        let err = parse_graphql_response::<Value>(
            "BulkMove",
            br#"{"errors":[{"message":"Cannot move: 3 file(s) still processing (a.pdf, b.pdf). Wait"}]}"#,
            Disclosure::Disclose,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("Cannot move: 3 file(s) still processing. Wait"),
            "{err}"
        );
    }

    #[test]
    fn graphql_errors_are_concealed_under_conceal_but_keep_the_operation() {
        let err = parse_graphql_response::<Value>(
            "ContentUpsert",
            br#"{"errors":[{"message":"Content with title \"Q3 salaries\" already exists"}]}"#,
            Disclosure::Conceal,
        )
        .unwrap_err();
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("salaries"), "{shown}");
        assert!(
            err.to_string()
                .starts_with("Unique GraphQL ContentUpsert returned errors: [redacted:"),
            "{err}"
        );
        match err {
            UniqueError::GraphQl { messages, .. } => {
                assert_eq!(
                    messages,
                    ["Content with title \"Q3 salaries\" already exists"]
                );
            }
            other => panic!("expected a GraphQL error, got {other:?}"),
        }
    }

    #[test]
    fn missing_data_is_unexpected() {
        let err =
            parse_graphql_response::<Value>("User", br#"{"data":null}"#, Disclosure::Disclose)
                .unwrap_err();
        assert!(matches!(
            err,
            UniqueError::UnexpectedResponse {
                operation: "User",
                ..
            }
        ));
    }
}

//! Shared by the `unique_*` integration tests: runs every Unique router on its own loopback
//! listener (no dependency on the sandbox's `spawn`) and holds the reference connector's
//! GraphQL documents.

#![allow(clippy::unwrap_used, dead_code)]

use reqwest::header::{HeaderMap, HeaderValue};
use sandbox::unique::{UniqueConfig, UniqueSim};
use serde_json::{json, Value};

pub const USER: &str = "query User { me { user { id } } }";

pub const CREATE_SCOPE_ACCESSES: &str = "mutation CreateScopeAccesses($scopeAccesses: [ScopeAccessChangeDto!]!, $scopeId: String!, $applyToSubScopes: Boolean, $skipFileAccessPropagation: Boolean) {
  createScopeAccesses(scopeAccesses: $scopeAccesses, scopeId: $scopeId, applyToSubScopes: $applyToSubScopes, skipFileAccessPropagation: $skipFileAccessPropagation)
}";

pub const PAGINATED_SCOPE: &str =
    "query PaginatedScope($skip: Int!, $take: Int!, $where: ScopeWhereInput!) {
  paginatedScope(skip: $skip, take: $take, where: $where) {
    totalCount
    nodes { id name parentId externalId }
  }
}";

pub const UPDATE_SCOPE: &str = "mutation UpdateScope($id: String!, $input: ScopeUpdateInput!) {
  updateScope(id: $id, input: $input) { id name externalId parentId }
}";

pub const GENERATE_SCOPES_BASED_ON_PATHS: &str = "mutation GenerateScopesBasedOnPaths($paths: [String!]!, $inheritAccess: Boolean) {
  generateScopesBasedOnPaths(paths: $paths, inheritAccess: $inheritAccess) { id name parentId externalId }
}";

pub const GENERATE_SCOPES_WITH_ACCESS: &str =
    "mutation GenerateScopesBasedOnPaths($paths: [String!]!, $inheritAccess: Boolean) {
  generateScopesBasedOnPaths(paths: $paths, inheritAccess: $inheritAccess) {
    id name parentId externalId
    scopeAccess { entityId type entityType }
  }
}";

pub const BULK_MOVE: &str = "mutation BulkMove($input: BulkMoveInput!) {
  bulkMove(input: $input) { scopeIds asyncMetadataRebuild jobId affectedFiles message }
}";

pub const DELETE_FOLDER: &str = "mutation DeleteFolder($scopeId: String!, $recursive: Boolean!) {
  deleteFolder(scopeId: $scopeId, recursive: $recursive) {
    successFolders { id name path }
    failedFolders { id name failReason path }
  }
}";

pub const CONTENT_UPSERT: &str = "mutation ContentUpsert($input: ContentCreateInput!, $fileUrl: String, $chatId: String, $scopeId: String, $sourceOwnerType: String, $sourceName: String, $sourceKind: String, $storeInternally: Boolean, $baseUrl: String) {
  contentUpsert(input: $input, fileUrl: $fileUrl, chatId: $chatId, scopeId: $scopeId, sourceOwnerType: $sourceOwnerType, sourceName: $sourceName, sourceKind: $sourceKind, storeInternally: $storeInternally, baseUrl: $baseUrl) {
    id key title byteSize mimeType ownerType ownerId writeUrl readUrl createdAt internallyStoredAt
    source { kind name }
  }
}";

pub const PAGINATED_CONTENT: &str =
    "query PaginatedContent($skip: Int!, $take: Int!, $where: ContentWhereInput) {
  paginatedContent(skip: $skip, take: $take, where: $where) {
    nodes { id fileAccess key ownerType ownerId metadata byteSize expiresAt ingestionState }
    totalCount
  }
}";

pub const PAGINATED_CONTENT_IDS: &str =
    "query PaginatedContent($skip: Int!, $take: Int!, $where: ContentWhereInput) {
  paginatedContent(skip: $skip, take: $take, where: $where) {
    nodes { id }
    totalCount
  }
}";

pub const PAGINATED_CONTENT_COUNT: &str = "query PaginatedContentCount($where: ContentWhereInput) {
  paginatedContent(where: $where, skip: 0, take: 0) { totalCount }
}";

pub const CONTENT_DELETE_BY_CONTENT_IDS: &str =
    "mutation ContentDeleteByContentIds($contentIds: [String!]!) {
  contentDeleteByContentIds(contentIds: $contentIds) { id }
}";

pub const CONTENT_DELETE: &str = "mutation ContentDelete($contentDeleteId: String!) {
  contentDelete(id: $contentDeleteId)
}";

pub const HEALTH: &str = "{ __typename }";

/// Every ingestion document the reference connector sends.
pub const INGESTION_DOCUMENTS: &[&str] = &[
    CREATE_SCOPE_ACCESSES,
    PAGINATED_SCOPE,
    UPDATE_SCOPE,
    GENERATE_SCOPES_BASED_ON_PATHS,
    GENERATE_SCOPES_WITH_ACCESS,
    BULK_MOVE,
    DELETE_FOLDER,
    CONTENT_UPSERT,
    PAGINATED_CONTENT,
    PAGINATED_CONTENT_IDS,
    PAGINATED_CONTENT_COUNT,
    CONTENT_DELETE_BY_CONTENT_IDS,
    CONTENT_DELETE,
    HEALTH,
];

pub struct Harness {
    pub sim: UniqueSim,
    pub ingestion: String,
    pub scope_management: String,
    pub blob: String,
    pub zitadel: String,
    pub control: String,
    pub http: reqwest::Client,
    /// Auth headers for API calls (cluster_local headers or a bearer token).
    pub auth: HeaderMap,
}

async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

pub fn cluster_local_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "x-service-id",
        HeaderValue::from_static("confluence-connector"),
    );
    h.insert("x-company-id", HeaderValue::from_static("sandbox-company"));
    h.insert("x-user-id", HeaderValue::from_static("sandbox-user"));
    h
}

pub async fn start(config: UniqueConfig) -> Harness {
    let sim = UniqueSim::new(config);
    let routers = sim.routers();
    let ingestion = serve(routers.ingestion).await;
    let scope_management = serve(routers.scope_management).await;
    let blob = serve(routers.blob).await;
    let zitadel = serve(routers.zitadel).await;
    let control = serve(axum::Router::new().nest("/_sandbox/unique", routers.control)).await;
    sim.set_blob_base_url(&blob);
    Harness {
        sim,
        ingestion,
        scope_management,
        blob,
        zitadel,
        control: format!("{control}/_sandbox/unique"),
        http: reqwest::Client::new(),
        auth: cluster_local_headers(),
    }
}

pub async fn start_default() -> Harness {
    start(UniqueConfig::default()).await
}

impl Harness {
    /// POSTs a GraphQL request the way graphql-request does and returns (status, body).
    pub async fn post_graphql(&self, base: &str, document: &str, variables: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{base}/graphql"))
            .headers(self.auth.clone())
            .header(
                "accept",
                "application/graphql-response+json, application/json",
            )
            .json(&json!({"query": document, "variables": variables}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Runs an ingestion document and returns `data`, asserting no errors.
    pub async fn ingest(&self, document: &str, variables: Value) -> Value {
        let (status, body) = self
            .post_graphql(&self.ingestion, document, variables)
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Runs an ingestion document expected to fail; returns the first error message.
    pub async fn ingest_error(&self, document: &str, variables: Value) -> String {
        let (status, body) = self
            .post_graphql(&self.ingestion, document, variables)
            .await;
        assert_eq!(status, 200, "{body}");
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_else(|| panic!("expected errors: {body}"))
            .to_owned()
    }

    pub async fn file_diff(&self, body: Value) -> reqwest::Response {
        self.http
            .post(format!("{}/v2/content/file-diff", self.ingestion))
            .headers(self.auth.clone())
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    /// Seeds a top-level scope and returns its id.
    pub fn root_scope(&self, name: &str) -> String {
        self.sim
            .seed_scope(sandbox::unique::SeedScope {
                name: name.into(),
                ..Default::default()
            })
            .unwrap()
            .id
    }

    /// The register variables the reference sends for a page.
    pub fn page_variables(&self, key: &str, scope_id: &str, byte_size: usize) -> Value {
        json!({
            "input": {
                "key": key,
                "title": "Page title",
                "mimeType": "text/html",
                "ownerType": "SCOPE",
                "url": "https://example.atlassian.net/wiki/spaces/SP/pages/1",
                "byteSize": byte_size,
                "metadata": {"confluenceLabels": ["a", "b"], "spaceKey": "SP", "spaceName": "Space One"},
            },
            "scopeId": scope_id,
            "sourceOwnerType": "COMPANY",
            "sourceKind": "ATLASSIAN_CONFLUENCE_CLOUD",
            "sourceName": "https://example.atlassian.net",
            "storeInternally": true,
            "baseUrl": "https://example.atlassian.net",
        })
    }

    /// register → upload → finalize of a small HTML page; returns the content id.
    pub async fn ingest_page(&self, key: &str, scope_id: &str, body: &str) -> String {
        let mut variables = self.page_variables(key, scope_id, body.len());
        let registered = self.ingest(CONTENT_UPSERT, variables.clone()).await;
        let write_url = registered["contentUpsert"]["writeUrl"].as_str().unwrap();
        let read_url = registered["contentUpsert"]["readUrl"]
            .as_str()
            .unwrap()
            .to_owned();
        let put = self
            .http
            .put(write_url)
            .header("content-type", "text/html")
            .header("x-ms-blob-type", "BlockBlob")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success(), "upload failed: {}", put.status());
        variables["fileUrl"] = json!(read_url);
        let finalized = self.ingest(CONTENT_UPSERT, variables).await;
        finalized["contentUpsert"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

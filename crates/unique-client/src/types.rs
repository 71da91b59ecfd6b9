//! The values the engine hands in and gets back. Field names on the wire are Unique's
//! (camelCase); the Rust names follow Rust conventions.

use serde::{Deserialize, Serialize};

/// A Unique scope (folder). `parent_id` is `None` for a top-level scope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default)]
    pub external_id: Option<String>,
}

/// A permission on a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AccessType {
    Manage,
    Read,
    Write,
}

/// Result of deleting a scope: Unique reports per-folder failures instead of failing the call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteFolderResult {
    #[serde(default)]
    pub success_folders: Vec<DeletedFolder>,
    #[serde(default)]
    pub failed_folders: Vec<FailedFolder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedFolder {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedFolder {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub fail_reason: Option<String>,
    #[serde(default)]
    pub path: Option<String>,
}

/// Result of re-parenting scopes. The move itself is done when the call returns; only the
/// metadata rebuild may continue asynchronously (`job_id`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkMoveResult {
    #[serde(default)]
    pub scope_ids: Vec<String>,
    #[serde(default)]
    pub async_metadata_rebuild: bool,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub affected_files: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `sourceKind`: which kind of Confluence the content comes from. Unique shows it to users and
/// the file diff is scoped by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SourceKind {
    #[serde(rename = "ATLASSIAN_CONFLUENCE_CLOUD")]
    ConfluenceCloud,
    #[serde(rename = "ATLASSIAN_CONFLUENCE_ONPREM")]
    ConfluenceOnPrem,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ConfluenceCloud => "ATLASSIAN_CONFLUENCE_CLOUD",
            Self::ConfluenceOnPrem => "ATLASSIAN_CONFLUENCE_ONPREM",
        }
    }
}

/// One page or attachment to ingest: everything `contentUpsert` needs. Register and finalize
/// send the same values (finalize adds `fileUrl`), so the engine builds this once.
#[derive(Debug, Clone, PartialEq)]
pub struct ContentItem {
    /// Full content key, e.g. `tenant/space-1_SP/p1` or `tenant/space-1_SP/p1::att9`.
    pub key: String,
    pub title: String,
    /// `text/html` for pages; the Confluence media type, verbatim, for attachments. Also the
    /// upload's `Content-Type`.
    pub mime_type: String,
    /// The web URL of the page or attachment in Confluence.
    pub url: String,
    /// Bytes that will be uploaded; also the upload's `Content-Length`.
    pub byte_size: u64,
    /// `input.metadata` (a JSON object), e.g. `{confluenceLabels, spaceKey, spaceName}`.
    pub metadata: serde_json::Value,
    /// `input.ingestionConfig`; omitted from the request when `None`.
    pub ingestion_config: Option<serde_json::Value>,
    /// The owning (space) scope.
    pub scope_id: String,
    pub source_kind: SourceKind,
    /// The Confluence base URL; sent as both `sourceName` and `baseUrl`.
    pub source_name: String,
    /// `ingestion.storeInternally`.
    pub store_internally: bool,
    /// `input.fileAccess` of the registration (`u:<id>R`, …): the file's own access instead of
    /// its scope's. Sent only on registration, only when `Some` (permission sync registers new
    /// files readable by the service user alone until their access is applied).
    pub file_access: Option<Vec<String>>,
}

/// What `contentUpsert` answers (register and finalize). `Debug` hides the query of the write
/// and read URLs: it is the upload capability (SAS signature or upload key).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpsertedContent {
    pub id: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub byte_size: Option<i64>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub owner_type: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    /// Where the bytes go (register). A capability URL: never log it.
    #[serde(default)]
    pub write_url: Option<String>,
    /// Passed back as `fileUrl` on finalize.
    #[serde(default)]
    pub read_url: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub internally_stored_at: Option<String>,
    #[serde(default)]
    pub source: Option<ContentSource>,
}

impl std::fmt::Debug for UpsertedContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |url: &Option<String>| url.as_deref().map(http_transport::redact_capability);
        f.debug_struct("UpsertedContent")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("title", &self.title)
            .field("byte_size", &self.byte_size)
            .field("mime_type", &self.mime_type)
            .field("owner_type", &self.owner_type)
            .field("owner_id", &self.owner_id)
            .field("write_url", &redact(&self.write_url))
            .field("read_url", &redact(&self.read_url))
            .field("created_at", &self.created_at)
            .field("internally_stored_at", &self.internally_stored_at)
            .field("source", &self.source)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ContentSource {
    #[serde(default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// A stored content as `PaginatedContent` lists it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentNode {
    pub id: String,
    #[serde(default)]
    pub file_access: Vec<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub owner_type: Option<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<serde_json::Value>,
    #[serde(default)]
    pub byte_size: Option<i64>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default)]
    pub ingestion_state: Option<String>,
}

/// The body of `POST <ingestion>/v2/content/file-diff`: one Confluence space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDiffRequest {
    /// `<tenant>/<spaceId>_<spaceKey>` (v1 keys: without `<tenant>/`), no trailing `/`.
    pub partial_key: String,
    pub source_kind: SourceKind,
    /// The Confluence base URL.
    pub source_name: String,
    pub file_list: Vec<FileDiffItem>,
}

/// One submitted item: `key` is relative to the partial key (`<pageId>` or
/// `<pageId>::<attachmentId>`); `updated_at` is Confluence's `version.when`, passed through as is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDiffItem {
    pub key: String,
    pub url: String,
    pub updated_at: String,
}

/// The file diff's verdict, as relative item keys.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileDiff {
    #[serde(default)]
    pub new_files: Vec<String>,
    #[serde(default)]
    pub updated_files: Vec<String>,
    #[serde(default)]
    pub moved_files: Vec<String>,
    #[serde(default)]
    pub deleted_files: Vec<String>,
}

/// How a batched deletion went. Unique answers with the ids it actually deleted, so
/// `requested - deleted` were unknown or could not be deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeletionReport {
    /// Contents we asked Unique to delete (after resolving keys, when deleting by keys).
    pub requested: usize,
    pub deleted: usize,
    /// Keys that resolved to no content (deletion by keys only).
    pub not_found: usize,
}

impl DeletionReport {
    pub fn failed(&self) -> usize {
        self.requested.saturating_sub(self.deleted)
    }

    pub(crate) fn add(&mut self, other: DeletionReport) {
        self.requested += other.requested;
        self.deleted += other.deleted;
        self.not_found += other.not_found;
    }
}

/// Result of [`crate::UniqueClient::ping`]: one entry per GraphQL endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthReport {
    pub ingestion: Result<(), PingFailure>,
    pub scope_management: Result<(), PingFailure>,
}

impl HealthReport {
    /// Both endpoints answered 2xx.
    pub fn is_healthy(&self) -> bool {
        self.ingestion.is_ok() && self.scope_management.is_ok()
    }
}

/// Why a health ping failed, in the reference's vocabulary (`HTTP_<status>`, `TIMEOUT`,
/// `AUTH_FAILURE`, or a network error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingFailure {
    #[error("HTTP_{0}")]
    Http(u16),
    #[error("TIMEOUT")]
    Timeout,
    #[error("AUTH_FAILURE: {0}")]
    AuthFailure(String),
    #[error("NETWORK: {0}")]
    Network(String),
}

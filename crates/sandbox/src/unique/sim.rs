//! The simulator handle: shared state, issued tokens, rate limits and local faults, plus the
//! in-process accessors tests use.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::access::ScopeAccess;
use super::config::{UniqueAuthMode, UniqueConfig};
use super::directory::{Directory, GroupSnapshot, SeedUser, UserSnapshot};
use super::error::StoreError;
use super::file_access::FileReaders;
use super::service_schemas::{self as schema, IngestionSchema, ScopeManagementSchema};
use super::shared::{lock, Shared, UniqueCall, UniqueFault};
use super::signing::Signer;
use super::state::{ContentRecord, ContentState, IngestionState, SeedFileRecord, Store};

/// Snapshot of one scope, as the control API and the in-process accessors return it.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScopeSnapshot {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub external_id: Option<String>,
    /// `/<top>/…/<name>`
    pub path: String,
    pub accesses: Vec<ScopeAccess>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A scope with its children, for the tree view.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScopeTreeNode {
    #[serde(flatten)]
    pub scope: ScopeSnapshot,
    pub children: Vec<ScopeTreeNode>,
}

/// Snapshot of one content.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FileSnapshot {
    pub id: String,
    pub key: String,
    /// Owner scope id.
    pub scope_id: String,
    pub title: Option<String>,
    pub mime_type: String,
    pub url: Option<String>,
    /// `input.byteSize` as registered.
    pub declared_byte_size: Option<i64>,
    /// Bytes actually uploaded (`None` until an upload completed).
    pub uploaded_size: Option<u64>,
    /// Hex SHA-256 of the uploaded bytes.
    pub sha256: Option<String>,
    pub metadata: Option<Value>,
    pub ingestion_config: Option<Value>,
    pub source_kind: Option<String>,
    pub source_name: Option<String>,
    pub store_internally: bool,
    pub state: ContentState,
    pub ingestion_state: IngestionState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Whether the bytes themselves are kept (uploads up to `keep_blob_bytes_up_to`).
    pub has_bytes: bool,
}

/// A scope to seed (e.g. the root scope an operator created by hand).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SeedScope {
    /// Minted when absent.
    pub id: Option<String>,
    pub name: String,
    pub parent_id: Option<String>,
    pub external_id: Option<String>,
    /// Grants to give the scope (e.g. none, to test that the client grants itself access).
    pub accesses: Vec<ScopeAccess>,
}

/// A content to seed as finished (e.g. left by an earlier connector run).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SeedFile {
    pub id: Option<String>,
    pub key: String,
    pub scope_id: String,
    pub title: Option<String>,
    pub mime_type: String,
    pub url: Option<String>,
    pub byte_size: Option<i64>,
    pub metadata: Option<Value>,
    pub source_kind: Option<String>,
    pub source_name: Option<String>,
    /// The stored `updatedAt` the file diff compares against (default: now).
    pub updated_at: Option<DateTime<Utc>>,
    /// Body as UTF-8 text (its hash and size are stored too).
    pub content: Option<String>,
}

/// Why seeding failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SeedError(String);

impl From<StoreError> for SeedError {
    fn from(e: StoreError) -> Self {
        SeedError(e.to_string())
    }
}

fn file_snapshot(c: &ContentRecord) -> FileSnapshot {
    FileSnapshot {
        id: c.id.clone(),
        key: c.key.clone(),
        scope_id: c.owner_id.clone(),
        title: c.title.clone(),
        mime_type: c.mime_type.clone(),
        url: c.url.clone(),
        declared_byte_size: c.declared_byte_size,
        uploaded_size: c.uploaded_size,
        sha256: c.sha256.clone(),
        metadata: c.metadata.clone(),
        ingestion_config: c.ingestion_config.clone(),
        source_kind: c.source_kind.clone(),
        source_name: c.source_name.clone(),
        store_internally: c.store_internally,
        state: c.state,
        ingestion_state: c.ingestion_state,
        created_at: c.created_at,
        updated_at: c.updated_at,
        has_bytes: c.bytes.is_some(),
    }
}

/// The service user (`config.user_id`, what `me` answers) is a user of the company, as the
/// technical user of a real connector is: `paginatedUsers` lists it.
fn seed_service_user(shared: &Shared) {
    let config = &shared.config;
    let _ = shared.store().directory.add_user(
        SeedUser {
            id: Some(config.user_id.clone()),
            email: format!("{}@service.unique.sandbox", config.user_id),
            active: Some(true),
            display_name: Some("Service user".into()),
        },
        &config.company_id,
    );
}

/// The Unique simulator. Cheap to clone; every clone sees the same state.
#[derive(Clone)]
pub struct UniqueSim {
    pub(crate) shared: Arc<Shared>,
    pub(crate) ingestion_schema: IngestionSchema,
    pub(crate) scope_management_schema: ScopeManagementSchema,
}

impl std::fmt::Debug for UniqueSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UniqueSim")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}

impl UniqueSim {
    pub fn new(config: UniqueConfig) -> Self {
        let rate_limit = config.rate_limit_per_minute;
        let auth_mode = config.auth_mode;
        let shared = Arc::new(Shared {
            config,
            store: Mutex::new(Store::default()),
            signer: Signer::random(),
            blob_base_url: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            rate_limit: Mutex::new(rate_limit),
            auth_mode: Mutex::new(auth_mode),
            windows: Mutex::new(HashMap::new()),
            faults: Mutex::new(Vec::new()),
            calls: Mutex::new(VecDeque::new()),
        });
        seed_service_user(&shared);
        Self {
            ingestion_schema: schema::ingestion_schema(schema::SchemaUse::Serve(shared.clone())),
            scope_management_schema: schema::scope_management_schema(schema::SchemaUse::Serve(
                shared.clone(),
            )),
            shared,
        }
    }

    /// The configuration the simulator was started with.
    pub fn config(&self) -> &UniqueConfig {
        &self.shared.config
    }

    /// Sets the origin (e.g. `http://127.0.0.1:41234`) that write and read URLs point at: the
    /// listener serving [`super::UniqueRouters::blob`]. Until it is set, URLs are minted on the
    /// origin of the ingestion request's `Host` header (the ingestion router serves the same
    /// upload route, as the cluster-local gateway does).
    pub fn set_blob_base_url(&self, url: &str) {
        *lock(&self.shared.blob_base_url) = Some(url.trim_end_matches('/').to_owned());
    }

    /// Every scope, in creation order.
    pub fn scopes(&self) -> Vec<ScopeSnapshot> {
        let store = self.shared.store();
        store
            .scopes_ordered()
            .into_iter()
            .map(|s| ScopeSnapshot {
                id: s.id.clone(),
                name: s.name.clone(),
                parent_id: s.parent_id.clone(),
                external_id: s.external_id.clone(),
                path: store.scope_path(&s.id),
                accesses: s.accesses.iter().cloned().collect(),
                created_at: s.created_at,
                updated_at: s.updated_at,
            })
            .collect()
    }

    /// The scopes as a forest of top-level scopes with their children.
    pub fn scope_tree(&self) -> Vec<ScopeTreeNode> {
        fn build(parent: Option<&str>, all: &[ScopeSnapshot]) -> Vec<ScopeTreeNode> {
            all.iter()
                .filter(|s| s.parent_id.as_deref() == parent)
                .map(|s| ScopeTreeNode {
                    scope: s.clone(),
                    children: build(Some(&s.id), all),
                })
                .collect()
        }
        build(None, &self.scopes())
    }

    /// The scope with this external id.
    pub fn scope_by_external_id(&self, external_id: &str) -> Option<ScopeSnapshot> {
        self.scopes()
            .into_iter()
            .find(|s| s.external_id.as_deref() == Some(external_id))
    }

    /// Every content, in creation order.
    pub fn files(&self) -> Vec<FileSnapshot> {
        let store = self.shared.store();
        store
            .contents_ordered()
            .into_iter()
            .map(file_snapshot)
            .collect()
    }

    /// The content stored under `key`.
    pub fn file_by_key(&self, key: &str) -> Option<FileSnapshot> {
        self.shared.store().content_by_key(key).map(file_snapshot)
    }

    /// The uploaded bytes of the content under `key`, when small enough to have been kept.
    pub fn file_bytes(&self, key: &str) -> Option<Vec<u8>> {
        self.shared
            .store()
            .content_by_key(key)
            .and_then(|c| c.bytes.clone())
    }

    /// Creates a scope directly.
    pub fn seed_scope(&self, seed: SeedScope) -> Result<ScopeSnapshot, SeedError> {
        let id = {
            let mut store = self.shared.store();
            let id = store
                .create_scope(
                    seed.id,
                    &seed.name,
                    seed.parent_id.as_deref(),
                    seed.external_id.as_deref(),
                )?
                .id
                .clone();
            store.grant(&id, &seed.accesses, false)?;
            id
        };
        self.scopes()
            .into_iter()
            .find(|s| s.id == id)
            .ok_or_else(|| SeedError(format!("scope {id} vanished")))
    }

    /// Stores a finished content directly.
    pub fn seed_file(&self, seed: SeedFile) -> Result<FileSnapshot, SeedError> {
        if seed.key.is_empty() || seed.mime_type.is_empty() {
            return Err(SeedError("key and mimeType are required".into()));
        }
        let key = seed.key.clone();
        self.shared.store().seed_content(SeedFileRecord {
            id: seed.id,
            key: seed.key,
            scope_id: seed.scope_id,
            title: seed.title,
            mime_type: seed.mime_type,
            url: seed.url,
            byte_size: seed.byte_size,
            metadata: seed.metadata,
            source_kind: seed.source_kind,
            source_name: seed.source_name,
            updated_at: seed.updated_at,
            bytes: seed.content.map(String::into_bytes),
        })?;
        self.file_by_key(&key)
            .ok_or_else(|| SeedError(format!("content {key} vanished")))
    }

    /// Forgets every scope, content, user (but the service user), group, token, rate-limit
    /// window and fault.
    pub fn reset(&self) {
        *self.shared.store() = Store::default();
        seed_service_user(&self.shared);
        lock(&self.shared.tokens).clear();
        lock(&self.shared.windows).clear();
        lock(&self.shared.faults).clear();
        lock(&self.shared.calls).clear();
    }

    /// Creates a user of the company (its id is minted when absent).
    pub fn seed_user(&self, seed: SeedUser) -> Result<UserSnapshot, SeedError> {
        let company = self.shared.config.company_id.clone();
        let mut store = self.shared.store();
        let user = store.directory.add_user(seed, &company)?;
        Ok(Directory::user_snapshot(user))
    }

    /// Every user, in creation order (the service user first).
    pub fn users(&self) -> Vec<UserSnapshot> {
        let store = self.shared.store();
        store
            .directory
            .users_ordered()
            .into_iter()
            .map(Directory::user_snapshot)
            .collect()
    }

    /// Every group with its members, in creation order.
    pub fn groups(&self) -> Vec<GroupSnapshot> {
        let store = self.shared.store();
        store
            .directory
            .groups_ordered()
            .into_iter()
            .map(Directory::group_snapshot)
            .collect()
    }

    /// The `fileAccess` of the content under `key`.
    pub fn file_access(&self, key: &str) -> Option<Vec<String>> {
        let store = self.shared.store();
        store.content_by_key(key).map(|c| store.file_access(c))
    }

    /// Who can read each file, through its own accesses and its scope's, groups resolved to
    /// their members (see `FileReaders`).
    pub fn readers(&self) -> Vec<FileReaders> {
        self.shared.store().readers()
    }

    /// The GraphQL and file-diff calls that passed authentication, oldest first (at most the
    /// last 20 000).
    pub fn calls(&self) -> Vec<UniqueCall> {
        lock(&self.shared.calls).iter().cloned().collect()
    }

    /// The calls of one operation (`ContentUpsert`, `file-diff`, …), oldest first.
    pub fn calls_of(&self, operation: &str) -> Vec<UniqueCall> {
        lock(&self.shared.calls)
            .iter()
            .filter(|c| c.operation == operation)
            .cloned()
            .collect()
    }

    pub fn clear_calls(&self) {
        lock(&self.shared.calls).clear();
    }

    /// Adds a fault rule.
    pub fn add_fault(&self, fault: UniqueFault) {
        lock(&self.shared.faults).push(fault);
    }

    /// The fault rules in force (`times` counts down as they fire).
    pub fn faults(&self) -> Vec<UniqueFault> {
        lock(&self.shared.faults).clone()
    }

    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Changes the per-service requests-per-minute limit (`None` = off); windows restart.
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        *lock(&self.shared.rate_limit) = per_minute;
        lock(&self.shared.windows).clear();
    }

    /// How callers must authenticate now (starts as [`UniqueConfig::auth_mode`]).
    pub fn auth_mode(&self) -> UniqueAuthMode {
        *lock(&self.shared.auth_mode)
    }

    /// Switches how callers must authenticate, from the next request on. Tokens already issued
    /// stay valid until they expire; scopes and contents are untouched.
    pub fn set_auth_mode(&self, mode: UniqueAuthMode) {
        *lock(&self.shared.auth_mode) = mode;
    }

    /// Makes every issued bearer token invalid, as if they had all expired.
    pub fn expire_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// Number of bearer tokens issued and not yet expired.
    pub fn live_tokens(&self) -> usize {
        let now = Instant::now();
        lock(&self.shared.tokens)
            .values()
            .filter(|t| t.expires > now)
            .count()
    }
}

//! The Unique-side state: scopes and content, and every operation on them as plain functions.
//!
//! The GraphQL resolvers, the file diff, the blob store and the control API are thin layers over
//! this module, so the semantics live in one place and are testable without HTTP. Everything is
//! behind one `Mutex` in [`super::UniqueSim`]; no operation here awaits.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::access::{
    covers, file_access_key, parse_file_access, AccessType, EntityType, ScopeAccess,
};
use super::directory::Directory;
use super::error::StoreError;

/// Who owns a content (`OwnerType`). The connector only uses `SCOPE`.
#[derive(
    async_graphql::Enum,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
)]
#[graphql(name = "OwnerType")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OwnerType {
    Scope,
    Company,
    User,
    Chat,
}

/// The service's ingestion pipeline state of a content (package enum, spelling kept).
#[derive(
    async_graphql::Enum,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
)]
#[graphql(name = "IngestionState")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IngestionState {
    Failed,
    FailedCreatingChunks,
    FailedEmbedding,
    FailedGettingFile,
    FailedImage,
    FailedMalwareFound,
    FailedMetadataValidation,
    FailedMalwareScanTimeout,
    FailedParsing,
    FailedRedelivered,
    FailedTimeout,
    FailedTooLessContent,
    FailedTableLimitExceeded,
    CheckingIntegrity,
    Finished,
    IngestionChunking,
    IngestionEmbedding,
    IngestionReading,
    MalwareScanning,
    MetadataValidation,
    Queued,
    RebuildingMetadata,
    #[graphql(name = "RECREATING_VECETORDB_INDEX")]
    #[serde(rename = "RECREATING_VECETORDB_INDEX")]
    RecreatingVecetordbIndex,
    Retrying,
    ReEmbedding,
    ReIngesting,
    ExtractingMetadata,
}

/// Where a content is in the register → upload → finalize sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentState {
    /// `contentUpsert` without `fileUrl` issued a write URL; no bytes yet.
    Registered,
    /// The bytes arrived at the write URL.
    Uploaded,
    /// `contentUpsert` with `fileUrl` asked for ingestion.
    Finalized,
}

#[derive(Debug, Clone)]
pub(crate) struct ScopeRecord {
    pub id: String,
    pub name: String,
    pub parent_id: Option<String>,
    pub external_id: Option<String>,
    pub accesses: BTreeSet<ScopeAccess>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    seq: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct ContentRecord {
    pub id: String,
    pub key: String,
    pub title: Option<String>,
    pub mime_type: String,
    pub owner_type: OwnerType,
    pub owner_id: String,
    pub url: Option<String>,
    /// `input.byteSize` as registered.
    pub declared_byte_size: Option<i64>,
    /// Bytes actually uploaded, with their hash; `None` until an upload completes.
    pub uploaded_size: Option<u64>,
    pub sha256: Option<String>,
    pub bytes: Option<Vec<u8>>,
    pub metadata: Option<Value>,
    pub ingestion_config: Option<Value>,
    pub source_kind: Option<String>,
    pub source_name: Option<String>,
    pub source_owner_type: Option<String>,
    pub base_url: Option<String>,
    pub store_internally: bool,
    pub state: ContentState,
    pub ingestion_state: IngestionState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub internally_stored_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Bumped by every registration; write and read URLs carry it, so a URL from an earlier
    /// registration cannot overwrite or finalize the current one.
    pub generation: u64,
    pub write_url: Option<String>,
    pub read_url: Option<String>,
    /// The content's own file accesses (`fileAccess`): copied from the owner scope when it is
    /// created without `input.fileAccess`, then changed only by the file-access mutations and
    /// by scope-access changes that propagate to files.
    pub accesses: BTreeSet<ScopeAccess>,
    seq: u64,
}

impl ContentRecord {
    /// `byteSize` as the service reports it: the uploaded size once known, else the declared one.
    pub fn byte_size(&self) -> Option<i64> {
        self.uploaded_size
            .and_then(|s| i64::try_from(s).ok())
            .or(self.declared_byte_size)
    }
}

/// A write or read grant minted for one registration of one content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadTarget {
    pub content_id: String,
    pub generation: u64,
}

/// What `contentUpsert` received, after GraphQL parsing.
#[derive(Debug, Clone)]
pub(crate) struct UpsertInput {
    pub key: String,
    pub title: Option<String>,
    pub mime_type: String,
    pub owner_type: OwnerType,
    pub url: Option<String>,
    pub byte_size: Option<i64>,
    pub metadata: Option<Value>,
    pub ingestion_config: Option<Value>,
    pub expires_at: Option<DateTime<Utc>>,
    pub scope_id: Option<String>,
    pub source_kind: Option<String>,
    pub source_name: Option<String>,
    pub source_owner_type: Option<String>,
    pub base_url: Option<String>,
    pub store_internally: bool,
    /// `input.fileAccess` (`u:<id>R`, `g:<id>W`, …): replaces the content's file accesses;
    /// absent, a new content inherits its scope's accesses and an existing one keeps its own.
    pub file_access: Option<Vec<String>>,
}

/// A file-diff item as submitted.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct DiffItem {
    pub key: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

/// The four lists of the file diff, in submitted-key form (relative to the partial key).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FileDiff {
    pub new_files: Vec<String>,
    pub updated_files: Vec<String>,
    pub moved_files: Vec<String>,
    pub deleted_files: Vec<String>,
}

/// Result of `deleteFolder`.
#[derive(Debug, Clone, Default)]
pub(crate) struct DeleteFolderOutcome {
    /// (id, name, path)
    pub success: Vec<(String, String, String)>,
    /// (id, name, reason, path)
    pub failed: Vec<(String, String, String, String)>,
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub scopes: BTreeMap<String, ScopeRecord>,
    pub contents: BTreeMap<String, ContentRecord>,
    /// Users, groups and memberships.
    pub directory: Directory,
    by_key: HashMap<String, String>,
    seq: u64,
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

impl Store {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Scopes in creation order (the stable order skip/take paging relies on).
    pub fn scopes_ordered(&self) -> Vec<&ScopeRecord> {
        let mut all: Vec<&ScopeRecord> = self.scopes.values().collect();
        all.sort_by_key(|s| s.seq);
        all
    }

    /// Contents in creation order.
    pub fn contents_ordered(&self) -> Vec<&ContentRecord> {
        self.contents_matching(None, |_| true)
    }

    /// Contents passing `keep`, in creation order. `keys` narrows the scan to those keys
    /// through the key index (the `key.in` / `key.equals` queries of large stores).
    pub fn contents_matching(
        &self,
        keys: Option<&[&str]>,
        keep: impl Fn(&ContentRecord) -> bool,
    ) -> Vec<&ContentRecord> {
        let mut out: Vec<&ContentRecord> = match keys {
            Some(keys) => keys
                .iter()
                .filter_map(|k| self.content_by_key(k))
                .filter(|c| keep(c))
                .collect(),
            None => self.contents.values().filter(|c| keep(c)).collect(),
        };
        out.sort_by_key(|c| c.seq);
        out.dedup_by_key(|c| c.seq);
        out
    }

    pub fn content_by_key(&self, key: &str) -> Option<&ContentRecord> {
        self.by_key.get(key).and_then(|id| self.contents.get(id))
    }

    /// Creates a scope. `id` is minted unless given (seeding).
    pub fn create_scope(
        &mut self,
        id: Option<String>,
        name: &str,
        parent_id: Option<&str>,
        external_id: Option<&str>,
    ) -> Result<&ScopeRecord, StoreError> {
        if name.is_empty() || name.contains('/') {
            return Err(StoreError::Invalid(format!(
                "Invalid scope name {name:?}: must be non-empty and contain no '/'"
            )));
        }
        if let Some(parent) = parent_id {
            if !self.scopes.contains_key(parent) {
                return Err(StoreError::ScopeNotFound(parent.to_owned()));
            }
        }
        if let Some(ext) = external_id {
            if self
                .scopes
                .values()
                .any(|s| s.external_id.as_deref() == Some(ext))
            {
                return Err(StoreError::ExternalIdTaken(ext.to_owned()));
            }
        }
        let id = id.unwrap_or_else(|| new_id("scope"));
        if self.scopes.contains_key(&id) {
            return Err(StoreError::ScopeExists(id));
        }
        let now = Utc::now();
        let seq = self.next_seq();
        self.scopes.insert(
            id.clone(),
            ScopeRecord {
                id: id.clone(),
                name: name.to_owned(),
                parent_id: parent_id.map(str::to_owned),
                external_id: external_id.map(str::to_owned),
                accesses: BTreeSet::new(),
                created_at: now,
                updated_at: now,
                seq,
            },
        );
        Ok(&self.scopes[&id])
    }

    /// Whether `user` holds (a grant covering) `needed` on the scope.
    pub fn allows(&self, scope_id: &str, user: &str, needed: AccessType) -> bool {
        self.scopes.get(scope_id).is_some_and(|s| {
            s.accesses.iter().any(|a| {
                a.entity_type == EntityType::User
                    && a.entity_id == user
                    && covers(a.access_type, needed)
            })
        })
    }

    /// `Forbidden` unless the scope is unknown (the operation reports that itself) or `user`
    /// is `None` (enforcement off) or holds `needed`.
    pub fn require(
        &self,
        user: Option<&str>,
        scope_id: &str,
        needed: AccessType,
    ) -> Result<(), StoreError> {
        match user {
            Some(u) if self.scopes.contains_key(scope_id) && !self.allows(scope_id, u, needed) => {
                Err(StoreError::Forbidden(format!(
                    "Missing {needed:?} access on scope {scope_id}"
                )))
            }
            _ => Ok(()),
        }
    }

    fn scope(&self, id: &str) -> Result<&ScopeRecord, StoreError> {
        self.scopes
            .get(id)
            .ok_or_else(|| StoreError::ScopeNotFound(id.to_owned()))
    }

    /// Ids of `id` and every scope below it, parents before children.
    pub fn subtree(&self, id: &str) -> Vec<String> {
        let mut out = vec![id.to_owned()];
        let mut i = 0;
        while i < out.len() {
            let parent = out[i].clone();
            for s in self.scopes_ordered() {
                if s.parent_id.as_deref() == Some(parent.as_str()) {
                    out.push(s.id.clone());
                }
            }
            i += 1;
        }
        out
    }

    /// `/<top>/…/<name>` of a scope.
    pub fn scope_path(&self, id: &str) -> String {
        let mut names = Vec::new();
        let mut current = self.scopes.get(id);
        let mut guard = 0;
        while let Some(s) = current {
            names.push(s.name.clone());
            current = s.parent_id.as_deref().and_then(|p| self.scopes.get(p));
            guard += 1;
            if guard > 10_000 {
                break;
            }
        }
        names.reverse();
        format!("/{}", names.join("/"))
    }

    /// `deleteScopeAccesses`: removes the accesses from the scope (and its subtree when asked);
    /// returns the scopes it touched.
    pub fn revoke(
        &mut self,
        scope_id: &str,
        accesses: &[ScopeAccess],
        apply_to_sub_scopes: bool,
    ) -> Result<Vec<String>, StoreError> {
        if !self.scopes.contains_key(scope_id) {
            return Err(StoreError::ScopeNotFound(scope_id.to_owned()));
        }
        let targets = if apply_to_sub_scopes {
            self.subtree(scope_id)
        } else {
            vec![scope_id.to_owned()]
        };
        let now = Utc::now();
        for id in &targets {
            if let Some(scope) = self.scopes.get_mut(id) {
                let before = scope.accesses.len();
                for a in accesses {
                    scope.accesses.remove(a);
                }
                if scope.accesses.len() != before {
                    scope.updated_at = now;
                }
            }
        }
        Ok(targets)
    }

    /// The scopes `createScopeAccesses` touched (for propagation).
    pub fn grant_targets(&self, scope_id: &str, apply_to_sub_scopes: bool) -> Vec<String> {
        if apply_to_sub_scopes {
            self.subtree(scope_id)
        } else {
            vec![scope_id.to_owned()]
        }
    }

    /// `createScopeAccesses`: idempotent grants, optionally on the whole subtree.
    pub fn grant(
        &mut self,
        scope_id: &str,
        accesses: &[ScopeAccess],
        apply_to_sub_scopes: bool,
    ) -> Result<(), StoreError> {
        self.scope(scope_id)?;
        let targets = if apply_to_sub_scopes {
            self.subtree(scope_id)
        } else {
            vec![scope_id.to_owned()]
        };
        let now = Utc::now();
        for id in targets {
            if let Some(scope) = self.scopes.get_mut(&id) {
                let before = scope.accesses.len();
                scope.accesses.extend(accesses.iter().cloned());
                if scope.accesses.len() != before {
                    scope.updated_at = now;
                }
            }
        }
        Ok(())
    }

    /// `updateScope`: `external_id` is `None` to leave it, `Some(None)` to clear it.
    pub fn update_scope(
        &mut self,
        id: &str,
        external_id: Option<Option<String>>,
        name: Option<String>,
        new_parent: Option<String>,
    ) -> Result<&ScopeRecord, StoreError> {
        self.scope(id)?;
        if let Some(Some(ext)) = &external_id {
            if self
                .scopes
                .values()
                .any(|s| s.id != id && s.external_id.as_deref() == Some(ext.as_str()))
            {
                return Err(StoreError::ExternalIdTaken(ext.clone()));
            }
        }
        if let Some(name) = &name {
            if name.is_empty() || name.contains('/') {
                return Err(StoreError::Invalid(format!("Invalid scope name {name:?}")));
            }
        }
        if let Some(parent) = &new_parent {
            self.scope(parent)?;
            if self.subtree(id).contains(parent) {
                return Err(StoreError::Invalid(format!(
                    "Cannot move scope {id} below itself"
                )));
            }
        }
        let now = Utc::now();
        let scope = self
            .scopes
            .get_mut(id)
            .ok_or_else(|| StoreError::ScopeNotFound(id.to_owned()))?;
        if let Some(ext) = external_id {
            scope.external_id = ext;
        }
        if let Some(name) = name {
            scope.name = name;
        }
        if let Some(parent) = new_parent {
            scope.parent_id = Some(parent);
        }
        scope.updated_at = now;
        Ok(scope)
    }

    /// `generateScopesBasedOnPaths`: one leaf per path, in order; missing scopes on the way are
    /// created (inheriting the parent's grants when asked), existing ones reused by name.
    pub fn generate_scopes(
        &mut self,
        paths: &[String],
        inherit_access: bool,
        creator: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut leaves = Vec::with_capacity(paths.len());
        for path in paths {
            let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
            if segments.is_empty() {
                return Err(StoreError::Invalid(format!("Invalid path {path:?}")));
            }
            let mut parent: Option<String> = None;
            for name in segments {
                let existing = self
                    .scopes_ordered()
                    .into_iter()
                    .find(|s| s.name == name && s.parent_id == parent)
                    .map(|s| s.id.clone());
                let id = match existing {
                    Some(id) => id,
                    None => {
                        if let Some(parent) = parent.as_deref() {
                            self.require(creator, parent, AccessType::Write)?;
                        }
                        let id = self
                            .create_scope(None, name, parent.as_deref(), None)?
                            .id
                            .clone();
                        if inherit_access {
                            let inherited = parent
                                .as_deref()
                                .and_then(|p| self.scopes.get(p))
                                .map(|p| p.accesses.clone())
                                .unwrap_or_default();
                            if let Some(scope) = self.scopes.get_mut(&id) {
                                scope.accesses = inherited;
                            }
                        }
                        id
                    }
                };
                parent = Some(id);
            }
            if let Some(leaf) = parent {
                leaves.push(leaf);
            }
        }
        Ok(leaves)
    }

    /// `bulkMove`: re-parents every scope (files keep their owner). Returns the number of
    /// contents owned by the moved subtrees.
    pub fn bulk_move(&mut self, scope_ids: &[String], target: &str) -> Result<usize, StoreError> {
        self.scope(target)?;
        for id in scope_ids {
            self.scope(id)?;
            if self.subtree(id).iter().any(|s| s == target) {
                return Err(StoreError::Invalid(format!(
                    "Cannot move scope {id} below itself"
                )));
            }
        }
        let mut owners = BTreeSet::new();
        for id in scope_ids {
            owners.extend(self.subtree(id));
        }
        let now = Utc::now();
        for id in scope_ids {
            if let Some(scope) = self.scopes.get_mut(id) {
                scope.parent_id = Some(target.to_owned());
                scope.updated_at = now;
            }
        }
        Ok(self
            .contents
            .values()
            .filter(|c| owners.contains(&c.owner_id))
            .count())
    }

    /// `deleteFolder`: non-recursive refuses a folder with sub-scopes or content; recursive
    /// removes the subtree and every content it owns. Failures are reported, never thrown.
    pub fn delete_folder(&mut self, id: &str, recursive: bool) -> DeleteFolderOutcome {
        let mut outcome = DeleteFolderOutcome::default();
        let Some(scope) = self.scopes.get(id) else {
            outcome.failed.push((
                id.to_owned(),
                String::new(),
                "Folder not found".into(),
                String::new(),
            ));
            return outcome;
        };
        let path = self.scope_path(id);
        let subtree = self.subtree(id);
        if !recursive {
            let has_children = subtree.len() > 1;
            let has_content = self.contents.values().any(|c| c.owner_id == id);
            if has_children || has_content {
                outcome.failed.push((
                    id.to_owned(),
                    scope.name.clone(),
                    "Folder is not empty".into(),
                    path,
                ));
                return outcome;
            }
        }
        // Children first, as the service reports them.
        for scope_id in subtree.iter().rev() {
            let path = self.scope_path(scope_id);
            let owned: Vec<String> = self
                .contents
                .values()
                .filter(|c| &c.owner_id == scope_id)
                .map(|c| c.id.clone())
                .collect();
            for content_id in owned {
                self.delete_content(&content_id);
            }
            if let Some(removed) = self.scopes.remove(scope_id) {
                outcome.success.push((removed.id, removed.name, path));
            }
        }
        outcome
    }

    /// Removes one content; `true` when it existed.
    pub fn delete_content(&mut self, id: &str) -> bool {
        match self.contents.remove(id) {
            Some(c) => {
                self.by_key.remove(&c.key);
                true
            }
            None => false,
        }
    }

    /// `contentUpsert` without `fileUrl`: creates or refreshes the content stored under the key
    /// (stable id), clears any earlier upload and opens a new registration generation.
    pub fn register(&mut self, input: UpsertInput) -> Result<&mut ContentRecord, StoreError> {
        let owner_id = self.owner_of(&input)?;
        let explicit_access = input
            .file_access
            .as_deref()
            .map(parse_file_access)
            .transpose()?;
        let inherited = self
            .scopes
            .get(&owner_id)
            .map(|s| s.accesses.clone())
            .unwrap_or_default();
        let now = Utc::now();
        let existing = self.by_key.get(&input.key).cloned();
        let id = match existing {
            Some(id) => id,
            None => {
                let id = new_id("cont");
                let seq = self.next_seq();
                self.contents.insert(
                    id.clone(),
                    ContentRecord {
                        id: id.clone(),
                        key: input.key.clone(),
                        title: None,
                        mime_type: String::new(),
                        owner_type: input.owner_type,
                        owner_id: owner_id.clone(),
                        url: None,
                        declared_byte_size: None,
                        uploaded_size: None,
                        sha256: None,
                        bytes: None,
                        metadata: None,
                        ingestion_config: None,
                        source_kind: None,
                        source_name: None,
                        source_owner_type: None,
                        base_url: None,
                        store_internally: false,
                        state: ContentState::Registered,
                        ingestion_state: IngestionState::Queued,
                        created_at: now,
                        updated_at: now,
                        internally_stored_at: None,
                        expires_at: None,
                        generation: 0,
                        write_url: None,
                        read_url: None,
                        accesses: inherited,
                        seq,
                    },
                );
                self.by_key.insert(input.key.clone(), id.clone());
                id
            }
        };
        let record = self
            .contents
            .get_mut(&id)
            .ok_or_else(|| StoreError::ContentNotFound(input.key.clone()))?;
        apply_input(record, input, owner_id, now);
        if let Some(accesses) = explicit_access {
            record.accesses = accesses;
        }
        record.generation += 1;
        record.state = ContentState::Registered;
        record.ingestion_state = IngestionState::Queued;
        record.uploaded_size = None;
        record.sha256 = None;
        record.bytes = None;
        record.write_url = None;
        record.read_url = None;
        Ok(record)
    }

    /// `contentUpsert` with `fileUrl`: the finalize signal. The URL must be the read URL of the
    /// content's current registration; ingestion "fails" when nothing was uploaded.
    pub fn finalize(
        &mut self,
        input: UpsertInput,
        file_url: &str,
    ) -> Result<&mut ContentRecord, StoreError> {
        let owner_id = self.owner_of(&input)?;
        let id = self
            .by_key
            .get(&input.key)
            .cloned()
            .ok_or_else(|| StoreError::ContentNotFound(input.key.clone()))?;
        let record = self
            .contents
            .get_mut(&id)
            .ok_or_else(|| StoreError::ContentNotFound(input.key.clone()))?;
        if record.read_url.as_deref() != Some(file_url) {
            return Err(StoreError::Invalid(format!(
                "fileUrl does not match the read URL issued by the latest registration of {}",
                input.key
            )));
        }
        let now = Utc::now();
        apply_input(record, input, owner_id, now);
        record.ingestion_state = if record.uploaded_size.is_some() {
            IngestionState::Finished
        } else {
            IngestionState::FailedGettingFile
        };
        record.state = ContentState::Finalized;
        Ok(record)
    }

    fn owner_of(&self, input: &UpsertInput) -> Result<String, StoreError> {
        if input.key.is_empty() {
            return Err(StoreError::Invalid("input.key must not be empty".into()));
        }
        if input.owner_type != OwnerType::Scope {
            return Err(StoreError::Invalid(
                "the sandbox only models ownerType SCOPE".into(),
            ));
        }
        let scope_id = input
            .scope_id
            .as_deref()
            .ok_or_else(|| StoreError::Invalid("scopeId is required for ownerType SCOPE".into()))?;
        self.scope(scope_id)?;
        if let Some(meta) = &input.metadata {
            if !meta.is_object() {
                return Err(StoreError::Invalid(
                    "input.metadata must be a JSON object".into(),
                ));
            }
        }
        Ok(scope_id.to_owned())
    }

    /// Records a finished upload if the grant still names the current registration.
    pub fn record_upload(
        &mut self,
        target: &UploadTarget,
        size: u64,
        sha256: String,
        bytes: Option<Vec<u8>>,
    ) -> Result<(), StoreError> {
        let record = self
            .contents
            .get_mut(&target.content_id)
            .filter(|c| c.generation == target.generation)
            .ok_or_else(|| StoreError::ContentNotFound(target.content_id.clone()))?;
        record.uploaded_size = Some(size);
        record.sha256 = Some(sha256);
        record.bytes = bytes;
        if record.state == ContentState::Registered {
            record.state = ContentState::Uploaded;
        }
        Ok(())
    }

    /// The file diff as the service computes it (see `unique-api-detail.md` §6).
    pub fn file_diff(
        &self,
        partial_key: &str,
        source_kind: Option<&str>,
        source_name: Option<&str>,
        items: &[DiffItem],
        reports_moves: bool,
    ) -> FileDiff {
        let prefix = format!("{partial_key}/");
        let stored: HashMap<&str, &ContentRecord> = self
            .contents
            .values()
            .filter(|c| c.key.starts_with(&prefix))
            .map(|c| (last_segment(&c.key), c))
            .collect();
        let submitted: BTreeSet<&str> = items.iter().map(|i| i.key.as_str()).collect();
        let mut diff = FileDiff::default();
        let mut seen = BTreeSet::new();
        for item in items {
            if !seen.insert(item.key.as_str()) {
                continue;
            }
            match stored.get(item.key.as_str()) {
                Some(content) => {
                    if is_newer(&item.updated_at, content.updated_at) {
                        diff.updated_files.push(item.key.clone());
                    }
                }
                None => {
                    let elsewhere = reports_moves
                        && self.contents.values().any(|c| {
                            !c.key.starts_with(&prefix)
                                && last_segment(&c.key) == item.key
                                && (source_kind.is_none()
                                    || c.source_kind.as_deref() == source_kind)
                                && (source_name.is_none()
                                    || c.source_name.as_deref() == source_name)
                        });
                    if elsewhere {
                        diff.moved_files.push(item.key.clone());
                    } else {
                        diff.new_files.push(item.key.clone());
                    }
                }
            }
        }
        let mut deleted: Vec<(&u64, String)> = stored
            .iter()
            .filter(|(k, _)| !submitted.contains(*k))
            .map(|(k, c)| (&c.seq, (*k).to_owned()))
            .collect();
        deleted.sort();
        diff.deleted_files = deleted.into_iter().map(|(_, k)| k).collect();
        diff
    }

    /// Seeds a finished content directly (e.g. files left by an earlier connector).
    pub fn seed_content(&mut self, seed: SeedFileRecord) -> Result<&ContentRecord, StoreError> {
        self.scope(&seed.scope_id)?;
        if self.by_key.contains_key(&seed.key) {
            return Err(StoreError::Invalid(format!(
                "Content with key {} already exists",
                seed.key
            )));
        }
        let id = seed.id.unwrap_or_else(|| new_id("cont"));
        if self.contents.contains_key(&id) {
            return Err(StoreError::Invalid(format!("Content {id} already exists")));
        }
        let now = Utc::now();
        let seq = self.next_seq();
        let inherited = self
            .scopes
            .get(&seed.scope_id)
            .map(|s| s.accesses.clone())
            .unwrap_or_default();
        let (uploaded_size, sha256) = match &seed.bytes {
            Some(b) => (Some(b.len() as u64), Some(sha256_hex(b))),
            None => (None, None),
        };
        self.contents.insert(
            id.clone(),
            ContentRecord {
                id: id.clone(),
                key: seed.key.clone(),
                title: seed.title,
                mime_type: seed.mime_type,
                owner_type: OwnerType::Scope,
                owner_id: seed.scope_id,
                url: seed.url,
                declared_byte_size: seed.byte_size,
                uploaded_size,
                sha256,
                bytes: seed.bytes,
                metadata: seed.metadata,
                ingestion_config: None,
                source_kind: seed.source_kind,
                source_name: seed.source_name,
                source_owner_type: Some("COMPANY".into()),
                base_url: None,
                store_internally: true,
                state: ContentState::Finalized,
                ingestion_state: IngestionState::Finished,
                created_at: seed.updated_at.unwrap_or(now),
                updated_at: seed.updated_at.unwrap_or(now),
                internally_stored_at: None,
                expires_at: None,
                generation: 0,
                write_url: None,
                read_url: None,
                accesses: inherited,
                seq,
            },
        );
        self.by_key.insert(seed.key, id.clone());
        Ok(&self.contents[&id])
    }

    /// `fileAccess` of a content: its own file accesses (`u:<id>R`, `g:<id>W`, …).
    pub fn file_access(&self, content: &ContentRecord) -> Vec<String> {
        content.accesses.iter().map(file_access_key).collect()
    }
}

/// A content to seed, already resolved by the caller.
#[derive(Debug, Clone)]
pub(crate) struct SeedFileRecord {
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
    pub updated_at: Option<DateTime<Utc>>,
    pub bytes: Option<Vec<u8>>,
}

fn apply_input(
    record: &mut ContentRecord,
    input: UpsertInput,
    owner_id: String,
    now: DateTime<Utc>,
) {
    record.title = input.title;
    record.mime_type = input.mime_type;
    record.owner_type = input.owner_type;
    record.owner_id = owner_id;
    record.url = input.url;
    record.declared_byte_size = input.byte_size;
    record.metadata = input.metadata;
    record.ingestion_config = input.ingestion_config;
    record.expires_at = input.expires_at;
    record.source_kind = input.source_kind;
    record.source_name = input.source_name;
    record.source_owner_type = input.source_owner_type;
    record.base_url = input.base_url;
    record.store_internally = input.store_internally;
    record.internally_stored_at = input.store_internally.then_some(now);
    record.updated_at = now;
}

fn last_segment(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

/// `submitted` is newer than `stored`: compared as instants when it parses (Cloud `Z` and DC
/// offset forms alike), otherwise not newer (an empty or garbled timestamp never forces a
/// re-ingestion).
fn is_newer(submitted: &str, stored: DateTime<Utc>) -> bool {
    DateTime::parse_from_rfc3339(submitted)
        .map(|t| t.with_timezone(&Utc) > stored)
        .unwrap_or(false)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn upsert(key: &str, scope: &str) -> UpsertInput {
        UpsertInput {
            key: key.into(),
            title: Some("t".into()),
            mime_type: "text/html".into(),
            owner_type: OwnerType::Scope,
            url: None,
            byte_size: Some(3),
            metadata: None,
            ingestion_config: None,
            expires_at: None,
            scope_id: Some(scope.into()),
            source_kind: Some("ATLASSIAN_CONFLUENCE_CLOUD".into()),
            source_name: Some("https://x".into()),
            source_owner_type: Some("COMPANY".into()),
            base_url: None,
            store_internally: true,
            file_access: None,
        }
    }

    #[test]
    fn generate_scopes_reuses_existing_and_inherits_grants() {
        let mut store = Store::default();
        let root = store
            .create_scope(None, "Org", None, None)
            .unwrap()
            .id
            .clone();
        let grant = ScopeAccess {
            entity_id: "u1".into(),
            entity_type: EntityType::User,
            access_type: AccessType::Read,
        };
        store
            .grant(&root, std::slice::from_ref(&grant), false)
            .unwrap();
        let leaves = store
            .generate_scopes(
                &["/Org/A".into(), "/Org/B".into(), "/Org/A".into()],
                true,
                None,
            )
            .unwrap();
        assert_eq!(leaves.len(), 3);
        assert_eq!(leaves[0], leaves[2]);
        assert!(store.scopes[&leaves[1]].accesses.contains(&grant));
        assert_eq!(store.scope_path(&leaves[1]), "/Org/B");
    }

    #[test]
    fn re_registration_keeps_the_id_and_clears_the_upload() {
        let mut store = Store::default();
        let scope = store
            .create_scope(None, "S", None, None)
            .unwrap()
            .id
            .clone();
        let first = store.register(upsert("k/1", &scope)).unwrap().id.clone();
        let target = UploadTarget {
            content_id: first.clone(),
            generation: 1,
        };
        store.record_upload(&target, 3, "h".into(), None).unwrap();
        let again = store.register(upsert("k/1", &scope)).unwrap();
        assert_eq!(again.id, first);
        assert_eq!(again.generation, 2);
        assert_eq!(again.uploaded_size, None);
        assert!(store.record_upload(&target, 3, "h".into(), None).is_err());
    }

    #[test]
    fn timestamps_with_offsets_compare_as_instants() {
        let stored = DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(is_newer("2026-01-01T11:30:00+01:00", stored));
        assert!(!is_newer("2026-01-01T10:30:00+01:00", stored));
        assert!(!is_newer("", stored));
    }
}

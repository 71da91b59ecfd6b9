//! The simulator's state: configuration, the dataset with its lookup index, issued tokens, and
//! the in-process mutation API that the control routes and tests share.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::access::{AccessModel, PermissionsConfig};
use super::model::{Attachment, Content, ContentType, Dataset, DatasetError, Space};

/// Server-side page-size caps. Confluence treats `limit` as a hint and clips it; clients must
/// count what arrives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Default `limit` of v1 search when the request names none.
    pub search_default: usize,
    /// Cloud v1 `content/search` without body expansion.
    pub cloud_search: usize,
    /// Cloud v1 `content/search` with any `body.*` expansion.
    pub cloud_search_with_body: usize,
    /// DC `content/search` without expansion.
    pub dc_search: usize,
    /// DC `content/search` with expansions other than bodies.
    pub dc_search_with_expand: usize,
    /// DC `content/search` with any `body.*` expansion.
    pub dc_search_with_body: usize,
    /// Attachments inlined by `expand=children.attachment`.
    pub inline_attachments: usize,
    /// Default and maximum of the v1 `child/attachment` listing (DC).
    pub child_attachment_default: usize,
    pub child_attachment_max: usize,
    /// v2 `limit` bounds (requests outside 1..=max are rejected, like Cloud does).
    pub v2_default: usize,
    pub v2_attachments_default: usize,
    pub v2_max: usize,
    /// Most ids one v2 `?id=` filter may name.
    pub v2_max_ids: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            search_default: 25,
            cloud_search: 250,
            cloud_search_with_body: 50,
            dc_search: 1000,
            dc_search_with_expand: 200,
            dc_search_with_body: 50,
            inline_attachments: 25,
            child_attachment_default: 50,
            child_attachment_max: 200,
            v2_default: 25,
            v2_attachments_default: 50,
            v2_max: 250,
            v2_max_ids: 250,
        }
    }
}

/// How the Confluence half behaves. Credentials default to the documented sandbox values.
#[derive(Clone)]
pub struct ConfluenceConfig {
    pub dataset: Dataset,
    pub cloud_id: String,
    /// OAuth client (Cloud and DC).
    pub client_id: String,
    pub client_secret: String,
    pub dc_pat: String,
    pub dc_username: String,
    pub dc_password: String,
    /// DC context path, `""` or e.g. `"/confluence"`.
    pub dc_context_path: String,
    /// The `id` of the DC applinks manifest.
    pub dc_instance_id: String,
    /// Lifetime of OAuth access tokens (Atlassian: about an hour).
    pub token_ttl: Duration,
    /// Lifetime of the signed media download links.
    pub media_link_ttl: Duration,
    pub limits: Limits,
    /// Serve the v1 `GET /wiki/rest/api/content?spaceKey=&title=` lookup on Cloud. Off by
    /// default: Cloud answers 410 there behind the gateway (see api-pitfalls.md); use CQL
    /// `space="KEY" AND title="..."` instead.
    pub cloud_legacy_content_listing: bool,
    /// Give Cloud v1 search `_links.next` as `/rest/api/content/search?…` (no `/wiki`), as Cloud
    /// often does. The gateway serves that path too, so `<api root> + next` works either way;
    /// a client that resolves the link against `_links.base` instead goes to the wrong host.
    pub cloud_next_links_without_wiki: bool,
    /// Users, groups, space permissions, restrictions and the client's identity (empty by
    /// default: the client reads everything, as before permissions existed).
    pub access: AccessModel,
    /// How the permission read endpoints behave (docs/sandbox.md, "Permissions").
    pub permissions: PermissionsConfig,
}

impl Default for ConfluenceConfig {
    fn default() -> Self {
        Self {
            dataset: Dataset::builtin(),
            cloud_id: "sandbox-cloud".into(),
            client_id: "sandbox-client-id".into(),
            client_secret: "sandbox-client-secret".into(),
            dc_pat: "sandbox-pat".into(),
            dc_username: "sandbox-user".into(),
            dc_password: "sandbox-password".into(),
            dc_context_path: String::new(),
            dc_instance_id: "5d1a3f0e-5a1d-4b0c-9a8e-5a4db0c0ffee".into(),
            token_ttl: Duration::from_secs(3600),
            media_link_ttl: Duration::from_secs(300),
            limits: Limits::default(),
            cloud_legacy_content_listing: false,
            cloud_next_links_without_wiki: false,
            access: AccessModel::default(),
            permissions: PermissionsConfig::default(),
        }
    }
}

/// Secrets stay out of Debug output (even sandbox ones: the habit is what matters), and the
/// dataset is summarised rather than dumped.
impl std::fmt::Debug for ConfluenceConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfluenceConfig")
            .field(
                "dataset",
                &format_args!(
                    "{} spaces, {} content",
                    self.dataset.spaces.len(),
                    self.dataset.content.len()
                ),
            )
            .field("cloud_id", &self.cloud_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("dc_pat", &"[redacted]")
            .field("dc_username", &self.dc_username)
            .field("dc_password", &"[redacted]")
            .field("dc_context_path", &self.dc_context_path)
            .field("dc_instance_id", &self.dc_instance_id)
            .field("token_ttl", &self.token_ttl)
            .field("media_link_ttl", &self.media_link_ttl)
            .field("limits", &self.limits)
            .field(
                "cloud_legacy_content_listing",
                &self.cloud_legacy_content_listing,
            )
            .field(
                "cloud_next_links_without_wiki",
                &self.cloud_next_links_without_wiki,
            )
            .field(
                "access",
                &format_args!(
                    "{} users, {} groups",
                    self.access.users.len(),
                    self.access.groups.len()
                ),
            )
            .field("permissions", &self.permissions)
            .finish()
    }
}

/// Which flavour a token or request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Cloud,
    DataCenter,
}

/// Base URLs the routers need to build links, known once the listeners are bound.
#[derive(Debug, Clone, Default)]
pub struct ConfluenceUrls {
    pub cloud_gateway: String,
    pub cloud_site: String,
    pub media: String,
    /// Including the context path.
    pub dc_base: String,
}

/// The dataset plus an id → position index; content stays sorted by numeric id so cursors can
/// be keysets ("after id N") that survive deletions between pages.
#[derive(Debug, Default)]
pub(crate) struct Store {
    pub dataset: Dataset,
    /// The permission model; mutations keep it, minus what refers to deleted content.
    pub access: AccessModel,
    /// Content id → position in `dataset.content`.
    index: HashMap<String, usize>,
    /// Space key → position in `dataset.spaces`.
    spaces: HashMap<String, usize>,
    /// Attachment id → position of the content holding it.
    attachments: HashMap<String, usize>,
}

impl Store {
    fn new(dataset: Dataset) -> Self {
        Self::with_access(dataset, AccessModel::default())
    }

    pub(crate) fn with_access(mut dataset: Dataset, access: AccessModel) -> Self {
        dataset.content.sort_by_key(Content::numeric_id);
        let index = dataset
            .content
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i))
            .collect();
        let spaces = dataset
            .spaces
            .iter()
            .enumerate()
            .map(|(i, s)| (s.key.clone(), i))
            .collect();
        let attachments = dataset
            .content
            .iter()
            .enumerate()
            .flat_map(|(i, c)| c.attachments.iter().map(move |a| (a.id.clone(), i)))
            .collect();
        Self {
            dataset,
            access,
            index,
            spaces,
            attachments,
        }
    }

    fn reindex(&mut self) {
        let dataset = std::mem::take(&mut self.dataset);
        let mut access = std::mem::take(&mut self.access);
        access.prune(&dataset);
        *self = Store::with_access(dataset, access);
    }

    pub fn content(&self, id: &str) -> Option<&Content> {
        self.index.get(id).map(|i| &self.dataset.content[*i])
    }

    /// Position of content in `dataset.content` (which is sorted by numeric id).
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    pub fn space(&self, key: &str) -> Option<&Space> {
        self.spaces.get(key).map(|i| &self.dataset.spaces[*i])
    }

    /// An attachment and the content holding it.
    pub fn attachment(&self, id: &str) -> Option<(&Content, &Attachment)> {
        let content = &self.dataset.content[*self.attachments.get(id)?];
        content
            .attachments
            .iter()
            .find(|a| a.id == id)
            .map(|a| (content, a))
    }

    /// Ancestor ids, nearest first.
    pub fn ancestors(&self, id: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut current = self.content(id).and_then(|c| c.parent.clone());
        while let Some(parent) = current {
            if out.contains(&parent) {
                break;
            }
            current = self.content(&parent).and_then(|c| c.parent.clone());
            out.push(parent);
        }
        out
    }
}

#[derive(Debug)]
struct IssuedToken {
    flavour: Flavour,
    expires_at: Instant,
}

pub(crate) struct Inner {
    pub config: ConfluenceConfig,
    pub store: RwLock<Store>,
    tokens: RwLock<HashMap<String, IssuedToken>>,
    pub urls: RwLock<ConfluenceUrls>,
    /// Key of the media link signatures.
    pub media_secret: String,
    pub(crate) tamper: super::tamper::TamperSlot,
    /// The permission endpoints' modes, switchable at run time (starts as
    /// `config.permissions`).
    pub(crate) permissions: RwLock<PermissionsConfig>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfluenceSim")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// The Confluence simulator: shared by its routers, the control API and tests. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConfluenceSim {
    pub(crate) inner: Arc<Inner>,
}

/// A mutation the dataset refused.
#[derive(Debug, thiserror::Error)]
pub enum MutationError {
    #[error("no content with id {0}")]
    UnknownContent(String),
    #[error("no attachment with id {0}")]
    UnknownAttachment(String),
    #[error("no space with key {0}")]
    UnknownSpace(String),
    #[error(transparent)]
    Invalid(#[from] DatasetError),
}

/// Changes to a page; every edit bumps the version and its timestamp, like a save in the editor.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentEdit {
    pub title: Option<String>,
    pub body: Option<String>,
}

/// Changes to an attachment; every update is a new version with a new timestamp, like an
/// upload of a new file version.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct AttachmentUpdate {
    pub title: Option<String>,
    pub media_type: Option<String>,
    pub data: Option<super::model::AttachmentData>,
}

/// Where to move content.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContentMove {
    /// New parent id, or `None` for the top of the space.
    pub parent: Option<String>,
    /// New space key; `None` keeps the space (or takes the parent's).
    pub space: Option<String>,
}

impl ConfluenceSim {
    pub fn new(config: ConfluenceConfig) -> Result<Self, DatasetError> {
        config.dataset.validate()?;
        config.access.validate(&config.dataset)?;
        let store = Store::with_access(config.dataset.clone(), config.access.clone());
        let media_secret = uuid::Uuid::new_v4().to_string();
        let permissions = RwLock::new(config.permissions.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store: RwLock::new(store),
                tokens: RwLock::new(HashMap::new()),
                urls: RwLock::new(ConfluenceUrls::default()),
                media_secret,
                tamper: Default::default(),
                permissions,
            }),
        })
    }

    pub fn config(&self) -> &ConfluenceConfig {
        &self.inner.config
    }

    pub(crate) fn read(&self) -> std::sync::RwLockReadGuard<'_, Store> {
        self.inner.store.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write(&self) -> std::sync::RwLockWriteGuard<'_, Store> {
        self.inner.store.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn urls(&self) -> ConfluenceUrls {
        self.inner
            .urls
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_urls(&self, urls: ConfluenceUrls) {
        *self.inner.urls.write().unwrap_or_else(|p| p.into_inner()) = urls;
    }

    // ---- tokens -------------------------------------------------------------------------

    pub(crate) fn issue_token(&self, flavour: Flavour) -> String {
        let token = format!("sandbox-{}", uuid::Uuid::new_v4().simple());
        self.inner
            .tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                token.clone(),
                IssuedToken {
                    flavour,
                    expires_at: Instant::now() + self.inner.config.token_ttl,
                },
            );
        token
    }

    pub(crate) fn token_valid(&self, token: &str, flavour: Flavour) -> bool {
        self.inner
            .tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .is_some_and(|t| t.flavour == flavour && t.expires_at > Instant::now())
    }

    /// Makes every issued OAuth token invalid, as if they all expired now.
    pub fn expire_tokens(&self) {
        self.inner
            .tokens
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }

    /// OAuth tokens issued and not yet expired.
    pub fn live_tokens(&self) -> usize {
        let now = Instant::now();
        self.inner
            .tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|t| t.expires_at > now)
            .count()
    }

    // ---- dataset ------------------------------------------------------------------------

    /// A copy of the whole dataset.
    pub fn dataset(&self) -> Dataset {
        self.read().dataset.clone()
    }

    /// Replaces the whole dataset; the permission model starts empty again (use
    /// `replace_dataset_and_access` to set both).
    pub fn replace_dataset(&self, dataset: Dataset) -> Result<(), MutationError> {
        dataset.validate()?;
        *self.write() = Store::new(dataset);
        Ok(())
    }

    /// One piece of content.
    pub fn content(&self, id: &str) -> Option<Content> {
        self.read().content(id).cloned()
    }

    fn mutate<T>(
        &self,
        change: impl FnOnce(&mut Dataset) -> Result<T, MutationError>,
    ) -> Result<T, MutationError> {
        let mut store = self.write();
        let mut candidate = store.dataset.clone();
        let out = change(&mut candidate)?;
        candidate.validate()?;
        store.dataset = candidate;
        store.reindex();
        Ok(out)
    }

    /// Adds a space.
    pub fn add_space(&self, space: Space) -> Result<(), MutationError> {
        self.mutate(|d| {
            d.spaces.push(space);
            Ok(())
        })
    }

    /// Adds content; an empty `id` gets the next free one. Returns the id.
    pub fn add_content(&self, mut content: Content) -> Result<String, MutationError> {
        self.mutate(|d| {
            if content.id.is_empty() {
                content.id = d.next_content_id().to_string();
            }
            let mut next_att = d.next_attachment_id();
            for att in &mut content.attachments {
                if att.id.is_empty() {
                    att.id = format!("att{next_att}");
                    next_att += 1;
                }
            }
            let id = content.id.clone();
            d.content.push(content);
            Ok(id)
        })
    }

    /// Convenience for tests: adds a page with a title, labels and a body.
    pub fn add_page(
        &self,
        space: &str,
        parent: Option<&str>,
        title: &str,
        labels: &[&str],
    ) -> Result<String, MutationError> {
        self.add_content(Content {
            id: String::new(),
            content_type: ContentType::Page,
            title: title.into(),
            space: space.into(),
            parent: parent.map(Into::into),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            body: format!("<p>{title}</p>"),
            version: 1,
            when: chrono::Utc::now(),
            attachments: Vec::new(),
        })
    }

    /// Edits title and/or body, bumping the version.
    pub fn edit_content(&self, id: &str, edit: ContentEdit) -> Result<u32, MutationError> {
        self.mutate(|d| {
            let c = d
                .content_by_id_mut(id)
                .ok_or_else(|| MutationError::UnknownContent(id.into()))?;
            if let Some(title) = edit.title {
                c.title = title;
            }
            if let Some(body) = edit.body {
                c.body = body;
            }
            bump(c);
            Ok(c.version)
        })
    }

    /// Replaces the labels. Like Confluence, this does not bump the version, which is what makes
    /// label changes easy to miss in change detection.
    pub fn set_labels(&self, id: &str, labels: Vec<String>) -> Result<(), MutationError> {
        self.mutate(|d| {
            let c = d
                .content_by_id_mut(id)
                .ok_or_else(|| MutationError::UnknownContent(id.into()))?;
            c.labels = labels;
            Ok(())
        })
    }

    /// Moves content (and its whole subtree when the space changes). Bumps the version.
    pub fn move_content(&self, id: &str, to: ContentMove) -> Result<(), MutationError> {
        self.mutate(|d| {
            let space = match (&to.space, &to.parent) {
                (Some(s), _) => s.clone(),
                (None, Some(p)) => d
                    .content_by_id(p)
                    .map(|c| c.space.clone())
                    .ok_or_else(|| MutationError::UnknownContent(p.clone()))?,
                (None, None) => d
                    .content_by_id(id)
                    .map(|c| c.space.clone())
                    .ok_or_else(|| MutationError::UnknownContent(id.into()))?,
            };
            if d.space_by_key(&space).is_none() {
                return Err(MutationError::UnknownSpace(space));
            }
            let subtree = subtree_ids(d, id);
            let c = d
                .content_by_id_mut(id)
                .ok_or_else(|| MutationError::UnknownContent(id.into()))?;
            c.parent = to.parent.clone();
            bump(c);
            for cid in subtree {
                if let Some(c) = d.content_by_id_mut(&cid) {
                    c.space = space.clone();
                }
            }
            Ok(())
        })
    }

    /// Deletes content; its children move up to its parent (as Confluence does).
    pub fn delete_content(&self, id: &str) -> Result<(), MutationError> {
        self.mutate(|d| {
            let pos = d
                .content
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| MutationError::UnknownContent(id.into()))?;
            let removed = d.content.remove(pos);
            for c in &mut d.content {
                if c.parent.as_deref() == Some(id) {
                    c.parent = removed.parent.clone();
                }
            }
            Ok(())
        })
    }

    /// Adds an attachment to content; an empty id gets the next free one. Returns the id.
    pub fn add_attachment(
        &self,
        content_id: &str,
        mut attachment: Attachment,
    ) -> Result<String, MutationError> {
        self.mutate(|d| {
            if attachment.id.is_empty() {
                attachment.id = format!("att{}", d.next_attachment_id());
            }
            let id = attachment.id.clone();
            let c = d
                .content_by_id_mut(content_id)
                .ok_or_else(|| MutationError::UnknownContent(content_id.into()))?;
            c.attachments.push(attachment);
            Ok(id)
        })
    }

    /// Uploads a new version of an attachment. Returns the new version number.
    pub fn update_attachment(
        &self,
        attachment_id: &str,
        update: AttachmentUpdate,
    ) -> Result<u32, MutationError> {
        self.mutate(|d| {
            let attachment = d
                .content
                .iter_mut()
                .flat_map(|c| c.attachments.iter_mut())
                .find(|a| a.id == attachment_id)
                .ok_or_else(|| MutationError::UnknownAttachment(attachment_id.into()))?;
            if let Some(title) = update.title {
                attachment.title = title;
            }
            if let Some(media_type) = update.media_type {
                attachment.media_type = media_type;
            }
            if let Some(data) = update.data {
                attachment.data = data;
            }
            attachment.version += 1;
            let now = chrono::Utc::now();
            attachment.when = if now > attachment.when {
                now
            } else {
                attachment.when + chrono::Duration::milliseconds(1)
            };
            Ok(attachment.version)
        })
    }

    /// Removes an attachment.
    pub fn remove_attachment(&self, attachment_id: &str) -> Result<(), MutationError> {
        self.mutate(|d| {
            for c in &mut d.content {
                if let Some(pos) = c.attachments.iter().position(|a| a.id == attachment_id) {
                    c.attachments.remove(pos);
                    return Ok(());
                }
            }
            Err(MutationError::UnknownAttachment(attachment_id.into()))
        })
    }
}

fn bump(c: &mut Content) {
    c.version += 1;
    let now = chrono::Utc::now();
    // Keep `when` strictly increasing even when edits land within one clock tick.
    c.when = if now > c.when {
        now
    } else {
        c.when + chrono::Duration::milliseconds(1)
    };
}

fn subtree_ids(d: &Dataset, root: &str) -> Vec<String> {
    let mut out = vec![root.to_owned()];
    let mut i = 0;
    while i < out.len() {
        let current = out[i].clone();
        out.extend(
            d.content
                .iter()
                .filter(|c| c.parent.as_deref() == Some(current.as_str()))
                .map(|c| c.id.clone()),
        );
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn debug_output_keeps_secrets_out() {
        let sim = ConfluenceSim::new(ConfluenceConfig::default()).unwrap();
        let token = sim.issue_token(Flavour::Cloud);
        let debug = format!("{sim:?} {:?}", sim.config());
        for secret in [
            "sandbox-client-secret",
            "sandbox-pat",
            "sandbox-password",
            token.as_str(),
        ] {
            assert!(!debug.contains(secret), "{secret} leaked into {debug}");
        }
    }
}

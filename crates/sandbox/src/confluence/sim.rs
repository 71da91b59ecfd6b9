//! The simulator's state: configuration, the dataset with its lookup index, issued tokens, and
//! the in-process mutation API that the control routes and tests share.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::access::{AccessModel, PermissionsConfig};
use super::dc_paging::DcQuirks;
use super::model::{Attachment, Content, ContentType, Dataset, DatasetError, Space};
use super::overload::SearchOverload;
use super::tamper::{PaginationTamperRule, TamperSlot};

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
    /// Data Center's pagination quirks at start; switchable later with
    /// [`ConfluenceSim::set_dc_quirks`]. Default: every quirk on (docs/sandbox.md, "Data Center
    /// pagination").
    pub dc_quirks: super::dc_paging::DcQuirks,
    /// The overloaded-search mode in force from the start (default off; see `overload.rs`).
    pub cloud_search_overload: Option<super::overload::SearchOverload>,
    /// Cloud OAuth clients besides the default one (`client_id`, which holds every read
    /// scope); a client with the default's id replaces it (fewer scopes, another secret).
    pub cloud_clients: Vec<super::scopes::CloudOAuthClient>,
    /// The shape of Cloud v1 search `_links.next` (default: as Cloud sends it). Also switchable
    /// at run time ([`ConfluenceSim::set_cloud_search_next_link`], the control API, `serve
    /// --cloud-search-next-link`).
    pub cloud_search_next_link: CloudSearchNextLink,
    /// Users, groups, space permissions, restrictions and the client's identity (empty by
    /// default: the client reads everything, as before permissions existed).
    pub access: AccessModel,
    /// How the permission read endpoints behave (docs/sandbox.md, "Permissions").
    pub permissions: PermissionsConfig,
}

/// How Cloud v1 `content/search` words `_links.next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudSearchNextLink {
    /// As Cloud sends it: `/rest/api/content/search?next=true&cursor=…&limit=…&start=…&cql=…`,
    /// relative to the site's `/wiki` base (the gateway serves it under the API root too) and
    /// without the request's `expand`. Whether Cloud always drops `expand` is unconfirmed
    /// (docs/sandbox.md); dropping it is the worse case, so a client must put its expansions
    /// back when it follows the link. `start` is there and ignored, as on Cloud.
    #[default]
    AsCloud,
    /// `/wiki/rest/api/content/search?next=true&cursor=…&expand=…&limit=…&cql=…`: the full
    /// gateway path carrying every parameter of the request, the friendliest link a server
    /// could give.
    WikiWithExpand,
}

impl std::str::FromStr for CloudSearchNextLink {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "as-cloud" | "as_cloud" => Ok(Self::AsCloud),
            "wiki-with-expand" | "wiki_with_expand" => Ok(Self::WikiWithExpand),
            other => Err(format!(
                "unknown next-link shape {other:?}: use as-cloud or wiki-with-expand"
            )),
        }
    }
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
            dc_quirks: super::dc_paging::DcQuirks::default(),
            cloud_search_overload: None,
            cloud_clients: Vec::new(),
            cloud_search_next_link: CloudSearchNextLink::default(),
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
            .field("dc_quirks", &self.dc_quirks)
            .field("cloud_search_overload", &self.cloud_search_overload)
            .field("cloud_clients", &self.cloud_clients)
            .field("cloud_search_next_link", &self.cloud_search_next_link)
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
    /// The scopes of the client it was issued to (Cloud).
    scopes: Vec<String>,
}

pub(crate) struct Inner {
    pub config: ConfluenceConfig,
    pub store: RwLock<Store>,
    tokens: RwLock<HashMap<String, IssuedToken>>,
    pub urls: RwLock<ConfluenceUrls>,
    /// Key of the media link signatures.
    pub media_secret: String,
    pub(crate) tamper: Arc<TamperSlot>,
    pub(crate) dc_quirks: RwLock<super::dc_paging::DcQuirks>,
    pub(crate) overload: super::overload::OverloadSlot,
    cloud_clients: RwLock<Vec<super::scopes::CloudOAuthClient>>,
    /// Starts as `config.cloud_search_next_link`; the control API may change it.
    cloud_search_next_link: RwLock<CloudSearchNextLink>,
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
        let dc_quirks = RwLock::new(config.dc_quirks.clone());
        let mut cloud_clients = vec![super::scopes::CloudOAuthClient {
            id: config.client_id.clone(),
            secret: config.client_secret.clone(),
            scopes: super::scopes::ALL_READ_SCOPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        }];
        for client in &config.cloud_clients {
            cloud_clients.retain(|c| c.id != client.id);
            cloud_clients.push(client.clone());
        }
        let next_link = config.cloud_search_next_link;
        let sim = Self {
            inner: Arc::new(Inner {
                store: RwLock::new(store),
                tokens: RwLock::new(HashMap::new()),
                urls: RwLock::new(ConfluenceUrls::default()),
                media_secret,
                tamper: Default::default(),
                dc_quirks,
                overload: Default::default(),
                cloud_clients: RwLock::new(cloud_clients),
                config,
                cloud_search_next_link: RwLock::new(next_link),
                permissions,
            }),
        };
        sim.set_cloud_search_overload(sim.inner.config.cloud_search_overload);
        Ok(sim)
    }

    pub fn config(&self) -> &ConfluenceConfig {
        &self.inner.config
    }

    /// The shape Cloud search `_links.next` has now.
    pub fn cloud_search_next_link(&self) -> CloudSearchNextLink {
        *self
            .inner
            .cloud_search_next_link
            .read()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Changes the shape of Cloud search `_links.next` from the next response on.
    pub fn set_cloud_search_next_link(&self, shape: CloudSearchNextLink) {
        *self
            .inner
            .cloud_search_next_link
            .write()
            .unwrap_or_else(|p| p.into_inner()) = shape;
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

    /// Every Cloud OAuth client (secrets included: this is the sandbox's own registry).
    pub fn cloud_clients(&self) -> Vec<super::scopes::CloudOAuthClient> {
        self.inner
            .cloud_clients
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds a Cloud OAuth client, or replaces the one with its id (its secret and scopes).
    /// Tokens issued before keep the scopes they were issued with, as on the real gateway.
    pub fn set_cloud_client(&self, client: super::scopes::CloudOAuthClient) {
        let mut clients = self
            .inner
            .cloud_clients
            .write()
            .unwrap_or_else(|p| p.into_inner());
        clients.retain(|c| c.id != client.id);
        clients.push(client);
    }

    /// The client with these credentials, if any.
    pub(crate) fn cloud_client(
        &self,
        id: &str,
        secret: &str,
    ) -> Option<super::scopes::CloudOAuthClient> {
        self.cloud_clients()
            .into_iter()
            .find(|c| c.id == id && c.secret == secret)
    }

    pub(crate) fn issue_token(&self, flavour: Flavour) -> String {
        self.issue_token_with_scopes(flavour, Vec::new())
    }

    pub(crate) fn issue_token_with_scopes(&self, flavour: Flavour, scopes: Vec<String>) -> String {
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
                    scopes,
                },
            );
        token
    }

    pub(crate) fn token_valid(&self, token: &str, flavour: Flavour) -> bool {
        self.token_scopes(token, flavour).is_some()
    }

    /// The scopes of a live token of this flavour; `None` when it is unknown or expired.
    pub(crate) fn token_scopes(&self, token: &str, flavour: Flavour) -> Option<Vec<String>> {
        self.inner
            .tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .filter(|t| t.flavour == flavour && t.expires_at > Instant::now())
            .map(|t| t.scopes.clone())
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

/// The behaviour modes switched at run time (pagination tamper, search overload, DC paging).
impl ConfluenceSim {
    /// Arms (or with `None` disarms) a pagination tamper; the loop forgets its first page.
    pub fn set_pagination_tamper(&self, rule: Option<PaginationTamperRule>) {
        self.inner.tamper.arm(rule);
    }

    /// How many responses the armed tamper has rewritten.
    pub fn pagination_tamper_fired(&self) -> u64 {
        self.inner.tamper.state().1
    }

    /// The armed pagination tamper and how many responses it has rewritten.
    pub(crate) fn pagination_tamper(&self) -> (Option<PaginationTamperRule>, u64) {
        self.inner.tamper.state()
    }

    /// The tamper state the routers' middleware reads.
    pub(crate) fn pagination_tamper_slot(&self) -> Arc<TamperSlot> {
        Arc::clone(&self.inner.tamper)
    }

    /// Sets (or with `None` turns off) the overloaded-search mode; its counters restart.
    pub fn set_cloud_search_overload(&self, mode: Option<SearchOverload>) {
        self.inner.overload.set(mode);
    }

    /// The mode in force and how many searches it answered with 500.
    pub fn cloud_search_overload(&self) -> (Option<SearchOverload>, u64) {
        self.inner.overload.state()
    }

    /// The Data Center pagination modes in force.
    pub fn dc_quirks(&self) -> DcQuirks {
        self.inner
            .dc_quirks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Switches the Data Center pagination modes; takes effect with the next request.
    pub fn set_dc_quirks(&self, quirks: DcQuirks) {
        *self
            .inner
            .dc_quirks
            .write()
            .unwrap_or_else(|p| p.into_inner()) = quirks;
    }
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

//! What the engine sees of Confluence: pages, spaces, attachments and bodies, the same for Cloud
//! and Data Center. The wire shapes they are parsed from live in `wire.rs`.

use http_transport::ByteStream;

/// Which Confluence flavour a client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceType {
    Cloud,
    DataCenter,
}

impl InstanceType {
    /// The spelling used in scope external ids (`confc:<type>:<id>`) and tenant files.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceType::Cloud => "cloud",
            InstanceType::DataCenter => "data-center",
        }
    }
}

impl std::fmt::Display for InstanceType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of a Confluence instance: Cloud → the configured cloudId; Data Center → the
/// application-links manifest id. Root scopes are owned through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceId {
    pub instance_type: InstanceType,
    pub id: String,
}

impl InstanceId {
    /// `confc:cloud:<cloudId>` / `confc:data-center:<id>`: the root scope's external id.
    pub fn root_scope_external_id(&self) -> String {
        format!("confc:{}:{}", self.instance_type, self.id)
    }
}

/// The content types the label search may return. Atlassian adds types (folders, databases,
/// whiteboards and Smart Link embeds all arrived after 2022), so a type this client does not
/// know is [`ContentType::Unknown`]: never ingested, and never a reason to delete what an
/// earlier version of the item left in Unique. The client logs its name when it meets one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContentType {
    Page,
    Blogpost,
    Folder,
    Database,
    Whiteboard,
    Embed,
    Unknown,
}

impl ContentType {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "page" => ContentType::Page,
            "blogpost" => ContentType::Blogpost,
            "folder" => ContentType::Folder,
            "database" => ContentType::Database,
            "whiteboard" => ContentType::Whiteboard,
            "embed" => ContentType::Embed,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ContentType::Page => "page",
            ContentType::Blogpost => "blogpost",
            ContentType::Folder => "folder",
            ContentType::Database => "database",
            ContentType::Whiteboard => "whiteboard",
            ContentType::Embed => "embed",
            ContentType::Unknown => "unknown",
        }
    }

    /// Whether the type can carry a storage-format body. Databases, whiteboards and embeds never
    /// do; folders are accepted by discovery and fall out on the empty-body check.
    pub fn may_have_body(self) -> bool {
        matches!(
            self,
            ContentType::Page | ContentType::Blogpost | ContentType::Folder
        )
    }
}

impl std::fmt::Display for ContentType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A space; `id` is a string even where Data Center sends a number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Space {
    pub id: String,
    pub key: String,
    pub name: String,
}

/// One attachment, in the same shape whether it came inline (v1) or from the Cloud v2 listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub id: String,
    pub title: String,
    /// Raw media type as Confluence reports it (may carry parameters or odd case).
    pub media_type: String,
    pub file_size: u64,
    /// The attachment's own version timestamp; absent → callers use the page's.
    pub version_when: Option<String>,
    /// `_links.download` (v1) / `downloadLink` (v2). Data Center downloads from it; Cloud ignores
    /// it (the path answers 500 through the gateway) and uses the REST download endpoint.
    pub download_path: String,
}

/// What the search response said about the inline attachment list, before any completion.
/// `size >= limit` means the list is possibly truncated (exactly-at-cap included).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InlineAttachmentInfo {
    pub size: Option<u64>,
    pub limit: Option<u64>,
    /// Data Center's `children.attachment._links.next` (Cloud's is ignored: the v1 attachment
    /// pager is gone behind the gateway).
    pub next: Option<String>,
}

impl InlineAttachmentInfo {
    pub fn possibly_truncated(&self) -> bool {
        matches!((self.size, self.limit), (Some(size), Some(limit)) if size >= limit)
    }
}

/// A page (or blog post, folder, …) as discovery sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub id: String,
    pub title: String,
    pub content_type: ContentType,
    pub space: Space,
    /// `version.when`: the change marker compared against Unique.
    pub version_when: String,
    /// `_links.webui` (Cloud page URLs are built from it).
    pub webui: String,
    pub labels: Vec<String>,
    /// Inline attachments, completed by the client when `inline_attachments` said the inline list
    /// was possibly truncated (Cloud: replaced by the v2 listing; Data Center: appended).
    pub attachments: Vec<Attachment>,
    /// `None` when the response carried no `children.attachment` block.
    pub inline_attachments: Option<InlineAttachmentInfo>,
    /// The attachment listing answered 404 or 403 (the page was deleted or restricted between
    /// the search and the listing): `attachments` holds only what the search inlined, so an
    /// attachment missing from it proves nothing.
    pub attachments_incomplete: bool,
    /// The page's own view restriction and ancestors: `Some` only when the client was built
    /// with [`crate::ConfluenceConfig::view_restrictions`] (`permissions.mode: page`), and the
    /// search answered the expansions.
    pub access: Option<ContentAccess>,
}

impl Page {
    pub fn has_label(&self, label: &str) -> bool {
        self.labels.iter().any(|l| l == label)
    }
}

/// Identifies content whose body is wanted. The type matters on Cloud, where pages and blog posts
/// live under different v2 endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContentRef {
    pub id: String,
    pub content_type: ContentType,
}

impl From<&Page> for ContentRef {
    fn from(page: &Page) -> Self {
        ContentRef {
            id: page.id.clone(),
            content_type: page.content_type,
        }
    }
}

/// A storage-format body from a batched fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageBody {
    pub id: String,
    pub title: String,
    /// `body.storage.value`; `None` when absent. Empty strings are kept as they came.
    pub storage: Option<String>,
    /// Cloud v2 `version.createdAt` / Data Center `version.when`.
    pub version_when: Option<String>,
    /// Labels of the freshly fetched content: Data Center only. Cloud v2 bodies carry no labels,
    /// so the engine uses the ones discovery saw moments before.
    pub labels: Option<Vec<String>>,
}

/// The attachments of a page looked up by space key and title (image inlining of `<ri:page>`
/// references).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAttachments {
    pub page_id: String,
    pub attachments: Vec<Attachment>,
}

/// An attachment's bytes, streamed: never buffered whole by the client.
pub struct AttachmentStream {
    /// `Content-Length` of the final response, when the server sent one.
    pub content_length: Option<u64>,
    /// `Content-Type` of the final response, when the server sent one.
    pub content_type: Option<String>,
    pub stream: ByteStream,
}

impl std::fmt::Debug for AttachmentStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttachmentStream")
            .field("content_length", &self.content_length)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_at_cap_counts_as_possibly_truncated() {
        let info = |size, limit| InlineAttachmentInfo {
            size,
            limit,
            next: None,
        };
        assert!(info(Some(25), Some(25)).possibly_truncated());
        assert!(info(Some(26), Some(25)).possibly_truncated());
        assert!(!info(Some(24), Some(25)).possibly_truncated());
        assert!(!info(None, Some(25)).possibly_truncated());
        assert!(!info(Some(25), None).possibly_truncated());
    }

    #[test]
    fn root_scope_external_ids_match_the_reference() {
        let cloud = InstanceId {
            instance_type: InstanceType::Cloud,
            id: "cloud-1".into(),
        };
        let dc = InstanceId {
            instance_type: InstanceType::DataCenter,
            id: "abc".into(),
        };
        assert_eq!(cloud.root_scope_external_id(), "confc:cloud:cloud-1");
        assert_eq!(dc.root_scope_external_id(), "confc:data-center:abc");
    }
}

/// Who a space read grant or a view restriction names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Principal {
    /// A Confluence account (Cloud account id, Data Center user key).
    User(String),
    /// A Confluence group (Cloud group id, Data Center group name).
    Group(String),
    /// Anonymous users (a space open to the public).
    Anonymous,
    /// Anything else (a space `role`, a principal type Confluence added later), with what
    /// Confluence called it. Never mapped to anyone: it can only narrow access.
    Other(String),
}

/// A page's own view restriction and where it sits, as a search with the restriction and
/// ancestor expansions reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ContentAccess {
    /// The principals the content's own `read` restriction names; empty = not restricted.
    pub view: Vec<Principal>,
    /// Ancestor content ids (pages and folders), top first.
    pub ancestors: Vec<String>,
}

/// What kind of account this is, as far as Confluence says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    Person,
    /// Apps and bots (Cloud `accountType: app`): no person to grant to.
    App,
    /// Anything else Confluence reports (`customer`, `unknown`): never mapped.
    Other,
}

/// A Confluence account, with what the connector needs to map it to a Unique user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Cloud account id, Data Center user key.
    pub id: String,
    /// The email Unique users are matched by; `None` when Confluence hides it (privacy
    /// setting, masked or empty on Data Center).
    pub email: Option<String>,
    pub kind: AccountKind,
    /// `false` for accounts Confluence shows as deactivated (Cloud: an empty `operations`
    /// expansion). Data Center cannot tell (reported as active).
    pub active: bool,
}

/// A Confluence group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Cloud group id, Data Center group name.
    pub id: String,
    pub name: String,
}

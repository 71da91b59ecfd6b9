//! Who may read what in Confluence, as the permission reads return it (`permissions.mode`
//! `space` and `page`). Flavour-neutral: Cloud names accounts by account id and groups by group
//! id, Data Center by user key and group name; both arrive here as plain strings.

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

/// Placeholder until the permission reads land (no tenant can enable them before).
pub(crate) fn not_built() -> crate::ConfluenceError {
    crate::ConfluenceError::Decode {
        endpoint: "permission reads".into(),
        reason: http_transport::RemoteText::new(
            "not built yet",
            http_transport::Disclosure::Disclose,
        ),
    }
}

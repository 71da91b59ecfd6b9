//! Who may read what in Confluence, as the permission reads return it (`permissions.mode`
//! `space` and `page`). Flavour-neutral: Cloud names accounts by account id and groups by group
//! id, Data Center by user key and group name; both arrive here as plain strings.
//!
//! Below the public types: the wire shapes of those reads and the parts both flavours share
//! (the view-restriction expansion of searches and its completion, the batched ancestor
//! lookup, group and member listings). Every read is a GET (docs/permissions-api.md has each
//! endpoint, its paging and its source). Parsing is lenient where a strict parse would cost
//! more than the item: a restriction whose shape is unexpected leaves that page's access
//! unknown (fail closed) instead of failing discovery.

use std::collections::{BTreeSet, HashMap};

use serde::Deserialize;
use url::Url;

use crate::core::{endpoint_of, Core, ListedItem};
use crate::model::{InstanceType, Page};
use crate::wire::{next_link, ListLinks, StringOrNumber, V1List};
use crate::ConfluenceError;

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

/// Expansions that make a content search return each result's own view restriction (users
/// and groups) and its ancestors, top first.
pub(crate) const ACCESS_EXPAND: &str =
    "ancestors,restrictions.read.restrictions.user,restrictions.read.restrictions.group";
/// Content ids per `id in (…)` search of [`Core::content_access`].
pub(crate) const ACCESS_BATCH: usize = 100;
/// Subjects per `byOperation/read` page (the v1 default, and the inline cap the sandbox models).
const SUBJECTS_PAGE: usize = 100;
/// Group and member listings: the documented maximum (Cloud answers 400 above it).
pub(crate) const MEMBERS_LIMIT: usize = 200;

/// An ancestor in the `ancestors` expansion (`{id, type, status, title}`).
#[derive(Debug, Deserialize)]
struct V1Ancestor {
    id: StringOrNumber,
}

/// `restrictions` as the search expansion returns it; only `read` is asked for.
#[derive(Debug, Deserialize)]
struct V1Restrictions {
    #[serde(default)]
    read: Option<V1Restriction>,
}

/// One `ContentRestriction` (also the answer of `byOperation/read`).
#[derive(Debug, Deserialize)]
pub(crate) struct V1Restriction {
    #[serde(default)]
    restrictions: Option<V1Subjects>,
}

#[derive(Debug, Deserialize)]
struct V1Subjects {
    #[serde(default)]
    user: Option<SubjectList<V1User>>,
    #[serde(default)]
    group: Option<SubjectList<V1Group>>,
}

/// One page of a restriction's users or groups.
#[derive(Debug, Deserialize)]
struct SubjectList<T> {
    #[serde(default = "Vec::new")]
    results: Vec<T>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    limit: Option<u64>,
    #[serde(rename = "_links", default)]
    links: ListLinks,
}

impl<T> SubjectList<T> {
    /// Whether more subjects follow this page: a `next` link, or a page as full as its limit
    /// (the inline cap is unconfirmed, so a full page is taken as possibly capped).
    fn more(&self) -> bool {
        let full = match (self.size, self.limit) {
            (Some(size), Some(limit)) => limit > 0 && size >= limit,
            _ => false,
        };
        next_link(&self.links).is_some() || full
    }
}

/// A v1 user: Cloud (`accountId`, `accountType`, `email`, `operations` when expanded) or
/// Data Center (`userKey`, `details.personal.email` when expanded).
#[derive(Debug, Deserialize)]
pub(crate) struct V1User {
    #[serde(rename = "accountId", default)]
    account_id: Option<String>,
    #[serde(rename = "userKey", default)]
    user_key: Option<String>,
    #[serde(rename = "accountType", default)]
    account_type: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    operations: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    details: Option<V1UserDetails>,
}

#[derive(Debug, Deserialize)]
struct V1UserDetails {
    #[serde(default)]
    personal: Option<V1UserPersonal>,
}

#[derive(Debug, Deserialize)]
struct V1UserPersonal {
    #[serde(default)]
    email: Option<String>,
}

impl V1User {
    fn id(&self) -> Option<&str> {
        self.account_id
            .as_deref()
            .or(self.user_key.as_deref())
            .filter(|id| !id.trim().is_empty())
    }

    fn principal(&self) -> Principal {
        match self.id() {
            Some(id) => Principal::User(id.to_owned()),
            None => Principal::Other("user without an id".to_owned()),
        }
    }

    /// The account as the connector maps it; `None` without an id.
    fn into_account(self, flavour: InstanceType) -> Option<Account> {
        let id = self.id()?.to_owned();
        Some(match flavour {
            InstanceType::Cloud => Account {
                id,
                email: plausible_email(self.email.as_deref()),
                kind: match self.account_type.as_deref() {
                    Some("atlassian") => AccountKind::Person,
                    Some("app") => AccountKind::App,
                    _ => AccountKind::Other,
                },
                // v1 users carry no status: deactivated accounts have no operations
                // (CONFCLOUD-69909). Not expanded means not known, which is not "active".
                active: self.operations.is_some_and(|ops| !ops.is_empty()),
            },
            InstanceType::DataCenter => Account {
                id,
                email: plausible_email(
                    self.details
                        .and_then(|d| d.personal)
                        .and_then(|p| p.email)
                        .as_deref(),
                ),
                kind: AccountKind::Person,
                // Data Center reports no status (docs/permissions-api.md).
                active: true,
            },
        })
    }
}

/// An email address as Confluence showed it, or `None` when hidden (`""`) or masked
/// (`alice at example dot com`): something that is not an address is never matched.
fn plausible_email(raw: Option<&str>) -> Option<String> {
    let email = raw?.trim();
    let (local, domain) = email.split_once('@')?;
    let plain = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && email.matches('@').count() == 1;
    plain.then(|| email.to_owned())
}

/// A v1 group: Cloud `{type, name, id}`, Data Center `{type, name}`.
#[derive(Debug, Deserialize)]
pub(crate) struct V1Group {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

impl V1Group {
    /// Cloud names groups by id (names can change), Data Center by name.
    fn key(&self, flavour: InstanceType) -> Option<&str> {
        match flavour {
            InstanceType::Cloud => self.id.as_deref(),
            InstanceType::DataCenter => self.name.as_deref(),
        }
        .filter(|k| !k.trim().is_empty())
    }

    fn principal(&self, flavour: InstanceType) -> Principal {
        match self.key(flavour) {
            Some(key) => Principal::Group(key.to_owned()),
            None => Principal::Other("group without an id".to_owned()),
        }
    }
}

impl ListedItem for V1User {
    fn listing_id(&self) -> Option<String> {
        self.id().map(str::to_owned)
    }
}

impl ListedItem for V1Group {
    fn listing_id(&self) -> Option<String> {
        self.id.clone().or_else(|| self.name.clone())
    }
}

/// What a search result said about its access: the restriction and ancestors, and whether the
/// restriction's inline subject lists were capped (then they are completed by
/// `byOperation/read`).
#[derive(Debug)]
pub(crate) struct ListedAccess {
    pub(crate) access: ContentAccess,
    pub(crate) capped: bool,
}

/// The access of one search result from its raw `ancestors` and `restrictions`; `None` when
/// the search did not answer both expansions in a shape this client reads.
pub(crate) fn listed_access(
    content_id: &str,
    ancestors: Option<serde_json::Value>,
    restrictions: Option<serde_json::Value>,
    flavour: InstanceType,
) -> Option<ListedAccess> {
    let (ancestors, restrictions) = (ancestors?, restrictions?);
    let parsed = serde_json::from_value::<Vec<V1Ancestor>>(ancestors)
        .and_then(|a| serde_json::from_value::<V1Restrictions>(restrictions).map(|r| (a, r)));
    let (ancestors, restrictions) = match parsed {
        Ok(parts) => parts,
        Err(e) => {
            tracing::warn!(content_id, error = %e, "unexpected view restriction or ancestors; this content's readers stay unknown");
            return None;
        }
    };
    let (view, capped) = restriction_subjects(restrictions.read?, flavour)?;
    Some(ListedAccess {
        access: ContentAccess {
            view,
            ancestors: ancestors.into_iter().map(|a| a.id.0).collect(),
        },
        capped,
    })
}

/// The principals of one page of a restriction and whether more follow; `None` when either
/// subject list was not expanded (nobody can tell who it names).
fn restriction_subjects(
    restriction: V1Restriction,
    flavour: InstanceType,
) -> Option<(Vec<Principal>, bool)> {
    let subjects = restriction.restrictions?;
    let (users, groups) = (subjects.user?, subjects.group?);
    let capped = users.more() || groups.more();
    let mut view: Vec<Principal> = users.results.iter().map(V1User::principal).collect();
    view.extend(groups.results.iter().map(|g| g.principal(flavour)));
    Some((view, capped))
}

fn dedup(mut principals: Vec<Principal>) -> Vec<Principal> {
    let mut seen = BTreeSet::new();
    principals.retain(|p| seen.insert(p.clone()));
    principals
}

/// A content search result reduced to what [`Core::content_access`] needs.
#[derive(Debug, Deserialize)]
struct V1AccessItem {
    id: String,
    #[serde(default)]
    ancestors: Option<serde_json::Value>,
    #[serde(default)]
    restrictions: Option<serde_json::Value>,
}

impl ListedItem for V1AccessItem {
    fn listing_id(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

impl Core {
    /// `<v1 REST root><path>`: `/wiki/rest/api` behind the Cloud gateway, `/rest/api` on Data
    /// Center.
    pub(crate) fn v1_url(&self, path_and_query: &str) -> Result<Url, ConfluenceError> {
        match self.instance_type {
            InstanceType::Cloud => self.api_url(&format!("/wiki/rest/api{path_and_query}")),
            InstanceType::DataCenter => self.api_url(&format!("/rest/api{path_and_query}")),
        }
    }

    /// Every principal of the content's view restriction, through `byOperation/read` pages:
    /// for a restriction whose inline subject list a search capped. Both lists page with the
    /// same `start`; the listing ends when neither has more.
    pub(crate) async fn read_restriction(
        &self,
        content_id: &str,
    ) -> Result<Vec<Principal>, ConfluenceError> {
        let mut view = Vec::new();
        let mut start = 0usize;
        for _ in 0..self.page_cap.max(1) {
            let url = self.v1_url(&format!(
                "/content/{}/restriction/byOperation/read?expand=restrictions.user,restrictions.group&start={start}&limit={SUBJECTS_PAGE}",
                crate::urls::encode_component(content_id)
            ))?;
            let endpoint = endpoint_of(&url);
            let restriction: V1Restriction = self.get_json(url).await?;
            let (principals, more) = restriction_subjects(restriction, self.instance_type)
                .ok_or_else(|| ConfluenceError::Decode {
                    endpoint: endpoint.clone(),
                    // Our own words about the answer, quoting nothing Confluence wrote.
                    reason: http_transport::RemoteText::new(
                        format!("the read restriction of {content_id} lists no users or groups"),
                        http_transport::Disclosure::Disclose,
                    ),
                })?;
            let received = principals.len();
            view.extend(principals);
            if !more || received == 0 {
                return Ok(dedup(view));
            }
            start += SUBJECTS_PAGE;
        }
        Err(ConfluenceError::Decode {
            endpoint: format!("/content/{content_id}/restriction/byOperation/read"),
            reason: http_transport::RemoteText::new(
                format!(
                    "more than {} pages of subjects; the restriction is left unread",
                    self.page_cap
                ),
                http_transport::Disclosure::Disclose,
            ),
        })
    }

    /// Fills [`Page::access`] of discovered pages from their search results' expansions;
    /// restrictions the search capped are completed. A page whose restriction cannot be read
    /// keeps `access: None` (its readers are unknown), and discovery goes on.
    pub(crate) async fn fill_access(&self, pages: &mut [Page], listed: Vec<Option<ListedAccess>>) {
        for (page, listed) in pages.iter_mut().zip(listed) {
            if let Some(listed) = listed {
                page.access = self.completed(&page.id, listed).await;
            }
        }
    }

    /// The access a search listed, with a capped subject list completed; `None` (unknown) when
    /// the completion fails.
    async fn completed(&self, content_id: &str, mut listed: ListedAccess) -> Option<ContentAccess> {
        if listed.capped {
            match self.read_restriction(content_id).await {
                Ok(view) => listed.access.view = view,
                Err(e) => {
                    tracing::warn!(content_id, err = %e, "the view restriction could not be read in full; this content's readers stay unknown");
                    return None;
                }
            }
        }
        Some(listed.access)
    }

    /// [`crate::ConfluenceApi::content_access`] for both flavours: `id in (…)` searches with
    /// the restriction and ancestor expansions, [`ACCESS_BATCH`] ids each.
    pub(crate) async fn content_access(
        &self,
        search_path: &str,
        ids: &[String],
    ) -> Result<HashMap<String, ContentAccess>, ConfluenceError> {
        let mut out = HashMap::new();
        for batch in ids.chunks(ACCESS_BATCH) {
            let url = self.search_url(
                search_path,
                &crate::cql::by_ids(batch),
                ACCESS_EXPAND,
                batch.len(),
                false,
            )?;
            for item in self.get_all::<V1List<V1AccessItem>>(url).await? {
                let listed = listed_access(
                    &item.id,
                    item.ancestors,
                    item.restrictions,
                    self.instance_type,
                );
                if let Some(listed) = listed {
                    if let Some(access) = self.completed(&item.id, listed).await {
                        out.insert(item.id, access);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Every group of the site (`group?limit=200`, offset pages).
    pub(crate) async fn groups(&self) -> Result<Vec<Group>, ConfluenceError> {
        let url = self.v1_url(&format!("/group?limit={MEMBERS_LIMIT}&start=0"))?;
        let flavour = self.instance_type;
        Ok(self
            .get_all::<V1List<V1Group>>(url)
            .await?
            .into_iter()
            .filter_map(|g| {
                let id = g.key(flavour)?.to_owned();
                let name = g.name.clone().unwrap_or_else(|| id.clone());
                Some(Group { id, name })
            })
            .collect())
    }

    /// Every account of a listing of users (group members).
    pub(crate) async fn accounts_listed(&self, url: Url) -> Result<Vec<Account>, ConfluenceError> {
        let flavour = self.instance_type;
        Ok(self
            .get_all::<V1List<V1User>>(url)
            .await?
            .into_iter()
            .filter_map(|u| u.into_account(flavour))
            .collect())
    }

    /// The accounts of one answer that is not paged (`user/bulk`, DC `user?key=`).
    pub(crate) fn accounts_of(&self, users: Vec<V1User>) -> Vec<Account> {
        users
            .into_iter()
            .filter_map(|u| u.into_account(self.instance_type))
            .collect()
    }
}

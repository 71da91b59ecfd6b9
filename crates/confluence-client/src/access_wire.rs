//! The wire shapes of the permission reads and what both flavours parse from them: the
//! view-restriction and ancestor expansions of content searches, restriction subjects, users and
//! groups. Lenient where a strict parse would cost more than the item: a restriction whose shape
//! is unexpected leaves that page's access unknown (fail closed) instead of failing discovery.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::model::{Account, AccountKind, ContentAccess, InstanceType, Principal};
use crate::wire::{next_link, ListLinks, StringOrNumber};

/// Expansions that make a content search return each result's own view restriction (users
/// and groups) and its ancestors, top first.
pub(crate) const ACCESS_EXPAND: &str =
    "ancestors,restrictions.read.restrictions.user,restrictions.read.restrictions.group";
/// Content ids per `id in (…)` search of [`Core::content_access`].
pub(crate) const ACCESS_BATCH: usize = 100;
/// Subjects per `byOperation/read` page (the v1 default, and the inline cap the sandbox models).
pub(crate) const SUBJECTS_PAGE: usize = 100;
/// Group and member listings: the documented maximum (Cloud answers 400 above it).
pub(crate) const MEMBERS_LIMIT: usize = 200;

/// An ancestor in the `ancestors` expansion (`{id, type, status, title}`).
#[derive(Debug, Deserialize)]
pub(crate) struct V1Ancestor {
    pub(crate) id: StringOrNumber,
}

/// `restrictions` as the search expansion returns it; only `read` is asked for.
#[derive(Debug, Deserialize)]
pub(crate) struct V1Restrictions {
    #[serde(default)]
    pub(crate) read: Option<V1Restriction>,
}

/// One `ContentRestriction` (also the answer of `byOperation/read`).
#[derive(Debug, Deserialize)]
pub(crate) struct V1Restriction {
    #[serde(default)]
    pub(crate) restrictions: Option<V1Subjects>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1Subjects {
    #[serde(default)]
    pub(crate) user: Option<SubjectList<V1User>>,
    #[serde(default)]
    pub(crate) group: Option<SubjectList<V1Group>>,
}

/// One page of a restriction's users or groups.
#[derive(Debug, Deserialize)]
pub(crate) struct SubjectList<T> {
    #[serde(default = "Vec::new")]
    pub(crate) results: Vec<T>,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default)]
    pub(crate) limit: Option<u64>,
    #[serde(rename = "_links", default)]
    pub(crate) links: ListLinks,
}

impl<T> SubjectList<T> {
    /// Whether more subjects follow this page: a `next` link, or a page as full as its limit
    /// (the inline cap is unconfirmed, so a full page is taken as possibly capped).
    pub(crate) fn more(&self) -> bool {
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
    pub(crate) account_id: Option<String>,
    #[serde(rename = "userKey", default)]
    pub(crate) user_key: Option<String>,
    #[serde(rename = "accountType", default)]
    pub(crate) account_type: Option<String>,
    #[serde(default)]
    pub(crate) email: Option<String>,
    #[serde(default)]
    pub(crate) operations: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    pub(crate) details: Option<V1UserDetails>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1UserDetails {
    #[serde(default)]
    pub(crate) personal: Option<V1UserPersonal>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1UserPersonal {
    #[serde(default)]
    pub(crate) email: Option<String>,
}

impl V1User {
    pub(crate) fn id(&self) -> Option<&str> {
        self.account_id
            .as_deref()
            .or(self.user_key.as_deref())
            .filter(|id| !id.trim().is_empty())
    }

    pub(crate) fn principal(&self) -> Principal {
        match self.id() {
            Some(id) => Principal::User(id.to_owned()),
            None => Principal::Other("user without an id".to_owned()),
        }
    }

    /// The account as the connector maps it; `None` without an id.
    pub(crate) fn into_account(self, flavour: InstanceType) -> Option<Account> {
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
pub(crate) fn plausible_email(raw: Option<&str>) -> Option<String> {
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
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) id: Option<String>,
}

impl V1Group {
    /// Cloud names groups by id (names can change), Data Center by name.
    pub(crate) fn key(&self, flavour: InstanceType) -> Option<&str> {
        match flavour {
            InstanceType::Cloud => self.id.as_deref(),
            InstanceType::DataCenter => self.name.as_deref(),
        }
        .filter(|k| !k.trim().is_empty())
    }

    pub(crate) fn principal(&self, flavour: InstanceType) -> Principal {
        match self.key(flavour) {
            Some(key) => Principal::Group(key.to_owned()),
            None => Principal::Other("group without an id".to_owned()),
        }
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
pub(crate) fn restriction_subjects(
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

pub(crate) fn dedup(mut principals: Vec<Principal>) -> Vec<Principal> {
    let mut seen = BTreeSet::new();
    principals.retain(|p| seen.insert(p.clone()));
    principals
}

/// A content search result reduced to what [`Core::content_access`] needs.
#[derive(Debug, Deserialize)]
pub(crate) struct V1AccessItem {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) ancestors: Option<serde_json::Value>,
    #[serde(default)]
    pub(crate) restrictions: Option<serde_json::Value>,
}

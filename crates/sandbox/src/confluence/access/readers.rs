//! Who can read what: the ground truth the permission tests compare Unique against, and the
//! client-identity filter the read endpoints apply.
//!
//! Confluence's rule (docs/permissions-api.md, "How restrictions combine"): a person can read
//! a piece of content when they can view its space, and they satisfy the view restriction of
//! the content itself and of every ancestor (pages and folders alike). Edit restrictions do not
//! restrict reading. Only active accounts read anything.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use serde::{Serialize, Serializer};

use super::{AccessModel, AccountStatus, Principal, Restriction, RestrictionOperation};
use crate::confluence::model::{Content, Dataset};
use crate::confluence::sim::Store;

/// Who can read one piece of content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PageReaders {
    /// Active accounts that can read it (by user or group grant), sorted. Shared between
    /// pieces of content with the same readers, so 10,000 pages of 2,000 readers stay small.
    #[serde(serialize_with = "serialize_set")]
    pub users: Arc<BTreeSet<String>>,
    /// Everyone can read it, logged in or not: the space grants anonymous `read/space` and no
    /// view restriction applies on it or above it. The explicit `users` are listed besides.
    pub anonymous: bool,
}

fn serialize_set<S: Serializer>(set: &Arc<BTreeSet<String>>, s: S) -> Result<S::Ok, S::Error> {
    set.as_ref().serialize(s)
}

impl PageReaders {
    /// Whether this active account can read it (anonymous access counts for logged-in users
    /// too).
    pub fn includes(&self, account_id: &str, access: &AccessModel) -> bool {
        self.users.contains(account_id)
            || (self.anonymous
                && access
                    .user(account_id)
                    .is_some_and(|u| u.status == AccountStatus::Active))
    }
}

/// Who can read every piece of content of the dataset, keyed by content id (attachments read
/// like the page holding them). A pure function: the same inputs give the same answer.
pub fn page_readers(dataset: &Dataset, access: &AccessModel) -> BTreeMap<String, PageReaders> {
    let active: HashSet<&str> = access
        .users
        .iter()
        .filter(|u| u.status == AccountStatus::Active)
        .map(|u| u.account_id.as_str())
        .collect();
    let members: HashMap<&str, BTreeSet<&str>> = access
        .groups
        .iter()
        .map(|g| {
            let set = access
                .members(g)
                .into_iter()
                .map(|u| u.account_id.as_str())
                .filter(|a| active.contains(a))
                .collect();
            (g.name.as_str(), set)
        })
        .collect();

    let mut space_readers: HashMap<&str, (BTreeSet<&str>, bool)> = HashMap::new();
    for p in access.space_permissions.iter().filter(|p| p.grants_read()) {
        let entry = space_readers.entry(p.space.as_str()).or_default();
        match p.principal() {
            Some(Principal::User(u)) if active.contains(u) => {
                entry.0.insert(u);
            }
            Some(Principal::Group(g)) => {
                if let Some(m) = members.get(g) {
                    entry.0.extend(m.iter().copied());
                }
            }
            Some(Principal::Anonymous) => entry.1 = true,
            _ => {}
        }
    }
    let mut allowed: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for r in &access.restrictions {
        if r.operation != RestrictionOperation::Read || r.is_empty() {
            continue;
        }
        let mut set: BTreeSet<&str> = r
            .users
            .iter()
            .map(String::as_str)
            .filter(|u| active.contains(u))
            .collect();
        for g in &r.groups {
            if let Some(m) = members.get(g.as_str()) {
                set.extend(m.iter().copied());
            }
        }
        allowed.insert(r.content.as_str(), set);
    }
    let parents: HashMap<&str, Option<&str>> = dataset
        .content
        .iter()
        .map(|c| (c.id.as_str(), c.parent.as_deref()))
        .collect();

    let empty = (BTreeSet::new(), false);
    // The readers of a piece of content depend only on its space and on the view restrictions
    // above it, so they are computed once per (space, nearest restricted node) and shared.
    let mut memo: HashMap<(&str, Option<&str>), Arc<BTreeSet<String>>> = HashMap::new();
    let mut out = BTreeMap::new();
    for c in &dataset.content {
        let (base, anonymous) = space_readers.get(c.space.as_str()).unwrap_or(&empty);
        let mut chain: Vec<&str> = Vec::new();
        let mut seen = HashSet::new();
        let mut node = Some(c.id.as_str());
        while let Some(id) = node {
            if !seen.insert(id) {
                break;
            }
            if allowed.contains_key(id) {
                chain.push(id);
            }
            node = parents.get(id).copied().flatten();
        }
        let mut set = memo
            .entry((c.space.as_str(), None))
            .or_insert_with(|| Arc::new(base.iter().map(|u| (*u).to_owned()).collect()))
            .clone();
        for depth in (0..chain.len()).rev() {
            let key = (c.space.as_str(), Some(chain[depth]));
            set = match memo.get(&key) {
                Some(known) => known.clone(),
                None => {
                    let within = &allowed[chain[depth]];
                    let narrowed: Arc<BTreeSet<String>> = Arc::new(
                        set.iter()
                            .filter(|u| within.contains(u.as_str()))
                            .cloned()
                            .collect(),
                    );
                    memo.insert(key, narrowed.clone());
                    narrowed
                }
            };
        }
        out.insert(
            c.id.clone(),
            PageReaders {
                users: set,
                anonymous: *anonymous && chain.is_empty(),
            },
        );
    }
    out
}

/// What the connector's client may see: everything (no client account configured, the
/// behaviour before permissions existed) or what one account can read.
#[derive(Debug)]
pub(crate) enum ClientFilter<'a> {
    Everything,
    Account(ClientView<'a>),
}

#[derive(Debug)]
pub(crate) struct ClientView<'a> {
    active: bool,
    readable_spaces: HashSet<&'a str>,
    /// View restrictions by content id, and whether the client satisfies each.
    passes: HashMap<&'a str, bool>,
}

impl<'a> ClientFilter<'a> {
    pub fn of(access: &'a AccessModel) -> Self {
        let Some(account) = access.client_account.as_deref() else {
            return ClientFilter::Everything;
        };
        let groups = access.groups_of(account);
        let satisfies = |r: &Restriction| {
            r.users.iter().any(|u| u == account)
                || r.groups.iter().any(|g| groups.contains(g.as_str()))
        };
        let readable_spaces = access
            .space_permissions
            .iter()
            .filter(|p| p.grants_read())
            .filter(|p| match p.principal() {
                Some(Principal::User(u)) => u == account,
                Some(Principal::Group(g)) => groups.contains(g),
                Some(Principal::Anonymous) => true,
                None => false,
            })
            .map(|p| p.space.as_str())
            .collect();
        let passes = access
            .restrictions
            .iter()
            .filter(|r| r.operation == RestrictionOperation::Read && !r.is_empty())
            .map(|r| (r.content.as_str(), satisfies(r)))
            .collect();
        ClientFilter::Account(ClientView {
            active: access
                .user(account)
                .is_some_and(|u| u.status == AccountStatus::Active),
            readable_spaces,
            passes,
        })
    }

    /// Whether the client may view the space.
    pub fn reads_space(&self, key: &str) -> bool {
        match self {
            ClientFilter::Everything => true,
            ClientFilter::Account(v) => v.active && v.readable_spaces.contains(key),
        }
    }

    /// Whether the client may view the content (its space, its own view restriction and every
    /// ancestor's).
    pub fn reads(&self, store: &Store, content: &Content) -> bool {
        let ClientFilter::Account(view) = self else {
            return true;
        };
        if !self.reads_space(&content.space) {
            return false;
        }
        let mut seen = HashSet::new();
        let mut node = Some(content);
        while let Some(c) = node {
            if !seen.insert(c.id.as_str()) {
                break;
            }
            if view.passes.get(c.id.as_str()) == Some(&false) {
                return false;
            }
            node = c.parent.as_deref().and_then(|p| store.content(p));
        }
        true
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::confluence::access::{Group, SpacePermission, User};
    use crate::confluence::model::{ContentType, Space, SpaceType};

    fn page(id: &str, parent: Option<&str>) -> Content {
        Content {
            id: id.into(),
            content_type: ContentType::Page,
            title: format!("Page {id}"),
            space: "S".into(),
            parent: parent.map(Into::into),
            labels: vec![],
            body: String::new(),
            version: 1,
            when: crate::confluence::model::default_when(),
            attachments: vec![],
        }
    }

    /// S: 1 ─ 2 ─ 3 ─ 4, and 5 at the top; a folder 6 under 1 holding 7.
    fn tree() -> Dataset {
        let mut folder = page("6", Some("1"));
        folder.content_type = ContentType::Folder;
        Dataset {
            spaces: vec![Space {
                id: "10".into(),
                key: "S".into(),
                name: "S".into(),
                space_type: SpaceType::Global,
            }],
            content: vec![
                page("1", None),
                page("2", Some("1")),
                page("3", Some("2")),
                page("4", Some("3")),
                page("5", None),
                folder,
                page("7", Some("6")),
            ],
        }
    }

    fn group(name: &str, members: &[&str]) -> Group {
        Group {
            name: name.into(),
            id: String::new(),
            members: members.iter().map(|m| (*m).to_owned()).collect(),
            all_users: false,
        }
    }

    fn model() -> AccessModel {
        let users = ["ann", "bob", "cat", "dan", "eve"]
            .iter()
            .map(|u| User::person(u, u, &format!("{u}@example.com")))
            .collect();
        AccessModel {
            users,
            groups: vec![
                group("staff", &["ann", "bob", "cat", "dan"]),
                group("eng", &["ann", "bob"]),
                group("ops", &["bob", "cat"]),
            ],
            space_permissions: vec![
                SpacePermission::group_reads("S", "staff"),
                SpacePermission::user_reads("S", "eve"),
            ],
            ..AccessModel::default()
        }
    }

    fn users(r: &PageReaders) -> Vec<&str> {
        r.users.iter().map(String::as_str).collect()
    }

    #[test]
    fn unrestricted_content_is_readable_by_the_space_readers() {
        let readers = page_readers(&tree(), &model());
        assert_eq!(users(&readers["4"]), ["ann", "bob", "cat", "dan", "eve"]);
        assert!(!readers["4"].anonymous);
    }

    #[test]
    fn nested_restrictions_intersect_rather_than_take_the_nearest() {
        let mut access = model();
        access.restrictions = vec![
            Restriction::read("2", &[], &["eng"]),
            Restriction::read("4", &["cat"], &["ops"]),
        ];
        let readers = page_readers(&tree(), &access);
        assert_eq!(users(&readers["1"]), ["ann", "bob", "cat", "dan", "eve"]);
        assert_eq!(users(&readers["2"]), ["ann", "bob"]);
        assert_eq!(users(&readers["3"]), ["ann", "bob"], "inherited from 2");
        // The nearest restriction alone (ops + cat) would let cat in; the intersection does not.
        assert_eq!(users(&readers["4"]), ["bob"]);
        assert_eq!(users(&readers["5"]), ["ann", "bob", "cat", "dan", "eve"]);
    }

    #[test]
    fn a_restriction_cannot_widen_beyond_the_space() {
        let mut access = model();
        access
            .users
            .push(User::person("zed", "zed", "zed@example.com"));
        access.restrictions = vec![Restriction::read("1", &["zed", "ann"], &[])];
        let readers = page_readers(&tree(), &access);
        assert_eq!(users(&readers["2"]), ["ann"], "zed cannot view the space");
    }

    #[test]
    fn folders_pass_their_view_restriction_down() {
        let mut access = model();
        access.restrictions = vec![Restriction::read("6", &["dan"], &[])];
        let readers = page_readers(&tree(), &access);
        assert_eq!(users(&readers["7"]), ["dan"]);
    }

    #[test]
    fn edit_restrictions_do_not_restrict_reading() {
        let mut access = model();
        access.restrictions = vec![Restriction {
            operation: RestrictionOperation::Update,
            ..Restriction::read("2", &["ann"], &[])
        }];
        let readers = page_readers(&tree(), &access);
        assert_eq!(users(&readers["3"]).len(), 5);
    }

    #[test]
    fn inactive_accounts_read_nothing_and_all_users_groups_cover_people_only() {
        let mut access = model();
        access.users[1].status = AccountStatus::Inactive;
        access.users.push(User {
            account_type: crate::confluence::access::AccountType::App,
            email: None,
            ..User::person("bot", "Bot", "")
        });
        access.groups.push(Group {
            all_users: true,
            ..group("confluence-users", &[])
        });
        access.space_permissions = vec![SpacePermission::group_reads("S", "confluence-users")];
        let readers = page_readers(&tree(), &access);
        assert_eq!(users(&readers["1"]), ["ann", "cat", "dan", "eve"]);
    }

    #[test]
    fn anonymous_space_access_ends_at_the_first_restriction() {
        let mut access = model();
        access
            .space_permissions
            .push(SpacePermission::anonymous_reads("S"));
        access.restrictions = vec![Restriction::read("3", &["ann"], &[])];
        let readers = page_readers(&tree(), &access);
        assert!(readers["2"].anonymous);
        assert!(readers["2"].includes("dan", &access));
        assert!(!readers["4"].anonymous);
        assert!(!readers["4"].includes("dan", &access));
        assert!(readers["4"].includes("ann", &access));
    }

    #[test]
    fn a_space_without_read_grants_is_readable_by_nobody() {
        let mut access = model();
        access.space_permissions.clear();
        let readers = page_readers(&tree(), &access);
        assert!(readers.values().all(|r| r.users.is_empty() && !r.anonymous));
    }
}

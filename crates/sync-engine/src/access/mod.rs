//! Who may read a page (a transform, like `plan`): from the space's read grants, the page's own
//! view restriction and every ancestor's, the Confluence accounts and groups that may read it.
//!
//! Effective read access is the **intersection** of those layers, never "the nearest restricted
//! ancestor": a deeper restriction naming someone an upper one excludes does not let them in
//! (docs/permissions-api.md, "How restrictions combine"). Everything here fails closed:
//! - a layer that could not be read, or a group whose members could not be listed, makes the
//!   page's readers [`Readers::Unknown`]: the caller keeps the page's old access (or grants none),
//!   it never widens it;
//! - a principal this module does not understand (a space role, a type Confluence added later) is
//!   left out of the grant it appears in, which can only narrow the result, and is reported;
//! - accounts that cannot be mapped to a person (no visible email, apps, deactivated) are left
//!   out and reported, never guessed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

mod gather;
pub use gather::{gather, AccessSnapshot, SpaceAccess};

pub use confluence_client::{Account, AccountKind, Principal};

/// One layer of the intersection.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Layer {
    /// The principals the layer lets read (for a view restriction: the principals it names).
    Grants(Vec<Principal>),
    /// The layer could not be read (an API error, an ancestor the connector may not view).
    Unreadable(String),
}

impl Layer {
    /// A view restriction that names nobody restricts nothing.
    fn restricts(&self) -> bool {
        !matches!(self, Layer::Grants(p) if p.is_empty())
    }
}

/// Accounts and group memberships, as read this cycle.
#[derive(Debug, Default, Clone)]
pub struct Directory {
    pub accounts: HashMap<String, Account>,
    /// Members of each group; `Err` with the reason when the listing failed.
    pub members: HashMap<String, Result<Vec<String>, String>>,
}

/// How much of Confluence's permissions a tenant carries into Unique (`permissions.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PermissionMode {
    /// Today's behaviour: no permission read or write at all.
    #[default]
    None,
    /// Space read permissions become access on the space scope and its files.
    Space,
    /// Space permissions plus page view restrictions become access on each file.
    Page,
}

/// `permissions.*` of a tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSettings {
    /// `permissions.mode` (default `none`: not one request or byte changes).
    pub mode: PermissionMode,
    /// `permissions.anonymous`: what an anonymous grant on a space means in Unique.
    pub anonymous: AnonymousPolicy,
    /// `permissions.allUsersGroups`: the groups that stand for "all logged-in users", by name.
    pub all_users_groups: Vec<String>,
    /// `permissions.allUsers`: what a grant to one of them means in Unique.
    pub all_users: AllUsersPolicy,
}

/// What an anonymous grant on a space means in Unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnonymousPolicy {
    /// Nobody gains access through it (the default: fail closed).
    #[default]
    Ignore,
    /// Every mapped, active person of the directory may read.
    AllUsers,
}

/// What a grant to an "all logged-in users" group (Data Center's `confluence-users`, Cloud's
/// product-access groups, named in `permissions.allUsersGroups`) means in Unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AllUsersPolicy {
    /// A group like any other: mirrored with the members Confluence lists, who are exactly the
    /// people who can log in.
    #[default]
    Mirror,
    /// Nobody gains access through it; a restriction naming only it lets nobody read (counted
    /// as `unknown_principal`).
    Ignore,
}

/// Why an account or principal was left out of a page's readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LeftOut {
    NoEmail,
    App,
    /// An account type that is neither a person nor an app (Cloud `customer`, `unknown`).
    NotAPerson,
    Deactivated,
    /// Named by a grant but unknown to the directory.
    UnknownAccount,
    /// A principal type this connector does not map (`role`, …).
    UnknownPrincipal,
    /// An anonymous grant under [`AnonymousPolicy::Ignore`].
    Anonymous,
}

impl LeftOut {
    /// The metric label and run-record word.
    pub fn as_str(self) -> &'static str {
        match self {
            LeftOut::NoEmail => "no_email",
            LeftOut::App => "app",
            LeftOut::NotAPerson => "not_a_person",
            LeftOut::Deactivated => "deactivated",
            LeftOut::UnknownAccount => "unknown_account",
            LeftOut::UnknownPrincipal => "unknown_principal",
            LeftOut::Anonymous => "anonymous",
        }
    }
}

/// Who may read a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readers {
    /// Computed: these groups as a whole (every member satisfies every layer) and these further
    /// people, by email (lower-cased), with what was left out.
    Known {
        groups: BTreeSet<String>,
        emails: BTreeSet<String>,
        left_out: BTreeMap<String, LeftOut>,
    },
    /// Not computable; the reason names the layer or group.
    Unknown(String),
}

/// The readers of a page whose layers are `space` (the space's read grants) and `restrictions`
/// (the page's own view restriction and every ancestor's, in any order).
pub fn readers(
    space: &Layer,
    restrictions: &[Layer],
    directory: &Directory,
    anonymous: AnonymousPolicy,
) -> Readers {
    let layers: Vec<&Layer> = std::iter::once(space)
        .chain(restrictions.iter().filter(|l| l.restricts()))
        .collect();
    let mut left_out = BTreeMap::new();
    let mut resolved = Vec::with_capacity(layers.len());
    for layer in layers {
        match resolve(layer, directory, anonymous, &mut left_out) {
            Ok(set) => resolved.push(set),
            Err(reason) => return Readers::Unknown(reason),
        }
    }
    // Groups named in every layer keep their name: each of their members passes every layer.
    let groups: BTreeSet<String> = match resolved.split_first() {
        Some((first, rest)) => first
            .groups
            .iter()
            .filter(|g| rest.iter().all(|l| l.everyone || l.groups.contains(*g)))
            .cloned()
            .collect(),
        None => BTreeSet::new(),
    };
    let in_kept_groups: HashSet<&str> = groups
        .iter()
        .filter_map(|g| match directory.members.get(g) {
            Some(Ok(members)) => Some(members),
            _ => None,
        })
        .flatten()
        .map(String::as_str)
        .collect();
    let in_kept_group = |account: &str| in_kept_groups.contains(account);
    // Candidates: the accounts of the narrowest layer that is not "everyone".
    let bounded: Vec<&Resolved> = resolved.iter().filter(|l| !l.everyone).collect();
    let candidates: BTreeSet<&String> = match bounded.iter().min_by_key(|l| l.accounts.len()) {
        Some(narrowest) => narrowest.accounts.iter().collect(),
        None => directory.accounts.keys().collect(),
    };
    let mut emails = BTreeSet::new();
    for account in candidates {
        if !bounded.iter().all(|l| l.accounts.contains(account)) || in_kept_group(account) {
            continue;
        }
        match mapped_email(account, directory) {
            Ok(email) => {
                emails.insert(email);
            }
            Err(reason) => {
                left_out.insert(account.clone(), reason);
            }
        }
    }
    Readers::Known {
        groups,
        emails,
        left_out,
    }
}

/// A layer as sets: the accounts it lets read (groups expanded) and the groups it names.
#[derive(Debug, Default)]
struct Resolved {
    everyone: bool,
    accounts: BTreeSet<String>,
    groups: BTreeSet<String>,
}

fn resolve(
    layer: &Layer,
    directory: &Directory,
    anonymous: AnonymousPolicy,
    left_out: &mut BTreeMap<String, LeftOut>,
) -> Result<Resolved, String> {
    let principals = match layer {
        Layer::Grants(p) => p,
        Layer::Unreadable(reason) => return Err(reason.clone()),
    };
    let mut out = Resolved::default();
    for principal in principals {
        match principal {
            Principal::User(id) => {
                out.accounts.insert(id.clone());
            }
            Principal::Group(id) => match directory.members.get(id) {
                Some(Ok(members)) => {
                    out.groups.insert(id.clone());
                    out.accounts.extend(members.iter().cloned());
                }
                Some(Err(reason)) => {
                    return Err(format!(
                        "the members of group {id} could not be read: {reason}"
                    ))
                }
                None => return Err(format!("the members of group {id} were not read")),
            },
            Principal::Anonymous => match anonymous {
                AnonymousPolicy::AllUsers => out.everyone = true,
                AnonymousPolicy::Ignore => {
                    left_out.insert("anonymous".to_owned(), LeftOut::Anonymous);
                }
            },
            Principal::Other(kind) => {
                left_out.insert(kind.clone(), LeftOut::UnknownPrincipal);
            }
        }
    }
    Ok(out)
}

fn mapped_email(account: &str, directory: &Directory) -> Result<String, LeftOut> {
    let Some(found) = directory.accounts.get(account) else {
        return Err(LeftOut::UnknownAccount);
    };
    if !found.active {
        return Err(LeftOut::Deactivated);
    }
    match found.kind {
        AccountKind::Person => {}
        AccountKind::App => return Err(LeftOut::App),
        AccountKind::Other => return Err(LeftOut::NotAPerson),
    }
    match found.email.as_deref().map(str::trim) {
        Some(email) if !email.is_empty() => Ok(email.to_lowercase()),
        _ => Err(LeftOut::NoEmail),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn person(email: &str) -> Account {
        Account {
            id: email.split('@').next().unwrap_or_default().to_owned(),
            email: Some(email.to_owned()),
            kind: AccountKind::Person,
            active: true,
        }
    }

    /// alice, bob, carol, dave; group eng = alice, bob; group ops = bob, carol.
    fn directory() -> Directory {
        let mut d = Directory::default();
        for name in ["alice", "bob", "carol", "dave"] {
            d.accounts
                .insert(name.to_owned(), person(&format!("{name}@Example.com")));
        }
        d.members
            .insert("eng".into(), Ok(vec!["alice".into(), "bob".into()]));
        d.members
            .insert("ops".into(), Ok(vec!["bob".into(), "carol".into()]));
        d
    }

    fn user(id: &str) -> Principal {
        Principal::User(id.to_owned())
    }

    fn group(id: &str) -> Principal {
        Principal::Group(id.to_owned())
    }

    fn known(r: &Readers) -> (Vec<&str>, Vec<&str>) {
        match r {
            Readers::Known { groups, emails, .. } => (
                groups.iter().map(String::as_str).collect(),
                emails.iter().map(String::as_str).collect(),
            ),
            Readers::Unknown(reason) => panic!("unknown: {reason}"),
        }
    }

    #[test]
    fn without_restrictions_the_space_grants_are_the_readers() {
        let space = Layer::Grants(vec![group("eng"), user("dave")]);
        let r = readers(&space, &[], &directory(), AnonymousPolicy::Ignore);
        assert_eq!(known(&r), (vec!["eng"], vec!["dave@example.com"]));
    }

    #[test]
    fn restrictions_intersect_instead_of_the_nearest_one_winning() {
        // The space lets everyone in eng and ops read; the parent is restricted to eng, the page
        // itself to ops. Only bob is in both: carol (ops only) must not read, although the
        // nearest restriction names her.
        let space = Layer::Grants(vec![group("eng"), group("ops")]);
        let parent = Layer::Grants(vec![group("eng")]);
        let page = Layer::Grants(vec![group("ops")]);
        let r = readers(
            &space,
            &[page, parent],
            &directory(),
            AnonymousPolicy::Ignore,
        );
        assert_eq!(known(&r), (vec![], vec!["bob@example.com"]));
    }

    #[test]
    fn a_group_named_by_every_layer_is_granted_as_a_group() {
        let space = Layer::Grants(vec![group("eng"), user("dave")]);
        let page = Layer::Grants(vec![group("eng"), user("carol")]);
        let r = readers(&space, &[page], &directory(), AnonymousPolicy::Ignore);
        assert_eq!(known(&r), (vec!["eng"], vec![]));
    }

    #[test]
    fn a_restriction_naming_nobody_restricts_nothing() {
        let space = Layer::Grants(vec![user("alice")]);
        let r = readers(
            &space,
            &[Layer::Grants(vec![])],
            &directory(),
            AnonymousPolicy::Ignore,
        );
        assert_eq!(known(&r), (vec![], vec!["alice@example.com"]));
    }

    #[test]
    fn an_unreadable_ancestor_or_group_makes_the_readers_unknown() {
        let space = Layer::Grants(vec![group("eng")]);
        let gone = Layer::Unreadable("ancestor 42 answered 403".into());
        assert_eq!(
            readers(&space, &[gone], &directory(), AnonymousPolicy::Ignore),
            Readers::Unknown("ancestor 42 answered 403".into())
        );
        let mut d = directory();
        d.members.insert("eng".into(), Err("HTTP 500".into()));
        assert!(matches!(
            readers(&space, &[], &d, AnonymousPolicy::Ignore),
            Readers::Unknown(reason) if reason.contains("eng") && reason.contains("HTTP 500")
        ));
        let unlisted = Layer::Grants(vec![group("sales")]);
        assert!(matches!(
            readers(&unlisted, &[], &directory(), AnonymousPolicy::Ignore),
            Readers::Unknown(_)
        ));
    }

    #[test]
    fn accounts_without_a_person_behind_them_are_left_out_and_counted() {
        let mut d = directory();
        d.accounts.insert(
            "hidden".into(),
            Account {
                email: None,
                ..person("")
            },
        );
        d.accounts.insert(
            "bot".into(),
            Account {
                kind: AccountKind::App,
                ..person("bot@example.com")
            },
        );
        d.accounts.insert(
            "gone".into(),
            Account {
                active: false,
                ..person("gone@example.com")
            },
        );
        let space = Layer::Grants(
            ["alice", "hidden", "bot", "gone", "stranger"]
                .map(user)
                .to_vec(),
        );
        let Readers::Known {
            emails, left_out, ..
        } = readers(&space, &[], &d, AnonymousPolicy::Ignore)
        else {
            panic!()
        };
        assert_eq!(
            emails.into_iter().collect::<Vec<_>>(),
            ["alice@example.com"]
        );
        assert_eq!(
            left_out.into_iter().collect::<Vec<_>>(),
            [
                ("bot".to_owned(), LeftOut::App),
                ("gone".to_owned(), LeftOut::Deactivated),
                ("hidden".to_owned(), LeftOut::NoEmail),
                ("stranger".to_owned(), LeftOut::UnknownAccount),
            ]
        );
    }

    #[test]
    fn anonymous_access_follows_the_policy_and_is_never_wider_than_a_restriction() {
        let space = Layer::Grants(vec![Principal::Anonymous]);
        let ignored = readers(&space, &[], &directory(), AnonymousPolicy::Ignore);
        assert_eq!(known(&ignored), (vec![], vec![]));
        let all = readers(&space, &[], &directory(), AnonymousPolicy::AllUsers);
        assert_eq!(known(&all).1.len(), 4);
        let page = Layer::Grants(vec![user("carol")]);
        let restricted = readers(&space, &[page], &directory(), AnonymousPolicy::AllUsers);
        assert_eq!(known(&restricted), (vec![], vec!["carol@example.com"]));
    }

    #[test]
    fn an_unknown_principal_only_narrows() {
        let space = Layer::Grants(vec![Principal::Other("role".into()), user("alice")]);
        let Readers::Known {
            emails, left_out, ..
        } = readers(&space, &[], &directory(), AnonymousPolicy::Ignore)
        else {
            panic!()
        };
        assert_eq!(emails.len(), 1);
        assert_eq!(left_out.get("role"), Some(&LeftOut::UnknownPrincipal));
    }

    /// Runs `compute` over every combination of three layers (space, own, ancestor) built from
    /// the four accounts and two groups, and returns, per combination where it differs from a
    /// brute-force check, the accounts it grants without their passing every layer
    /// (over-granted) and those it leaves out although they do (under-granted).
    fn disagreements(
        compute: impl Fn(&Layer, &[Layer], &Directory, AnonymousPolicy) -> Readers,
    ) -> Vec<(BTreeSet<String>, BTreeSet<String>)> {
        let d = directory();
        let choices: Vec<Vec<Principal>> = vec![
            vec![],
            vec![group("eng")],
            vec![group("ops")],
            vec![user("alice"), user("carol")],
            vec![group("eng"), user("dave")],
            vec![group("ops"), group("eng")],
        ];
        let passes = |layer: &[Principal], account: &str| {
            layer.iter().any(|p| match p {
                Principal::User(u) => u == account,
                Principal::Group(g) => d.members[g].as_ref().unwrap().iter().any(|m| m == account),
                _ => false,
            })
        };
        let mut found = Vec::new();
        for space in &choices {
            for own in &choices {
                for ancestor in &choices {
                    let r = compute(
                        &Layer::Grants(space.clone()),
                        &[Layer::Grants(own.clone()), Layer::Grants(ancestor.clone())],
                        &d,
                        AnonymousPolicy::Ignore,
                    );
                    let Readers::Known { groups, emails, .. } = r else {
                        panic!()
                    };
                    let mut granted: BTreeSet<String> = emails
                        .iter()
                        .map(|e| e.replace("@example.com", ""))
                        .collect();
                    for g in &groups {
                        granted.extend(d.members[g].as_ref().unwrap().iter().cloned());
                    }
                    let entitled: BTreeSet<String> = d
                        .accounts
                        .keys()
                        .filter(|a| passes(space, a))
                        .filter(|a| [own, ancestor].iter().all(|l| l.is_empty() || passes(l, a)))
                        .cloned()
                        .collect();
                    if granted != entitled {
                        found.push((
                            granted.difference(&entitled).cloned().collect(),
                            entitled.difference(&granted).cloned().collect(),
                        ));
                    }
                }
            }
        }
        found
    }

    #[test]
    fn the_result_never_holds_anyone_who_fails_a_layer() {
        // The readers the function returns (directly or through a kept group) are exactly those
        // who pass every layer — nobody more (an over-grant), nobody less.
        assert_eq!(disagreements(readers), []);
    }

    #[test]
    fn the_check_catches_a_planted_over_grant() {
        // The leak other connectors shipped: only the nearest restriction counts. The check
        // above must see it over-grant (carol, ops only, under an eng-only ancestor).
        let nearest = |space: &Layer, restrictions: &[Layer], d: &Directory, p| {
            let first: Vec<Layer> = restrictions
                .iter()
                .filter(|l| l.restricts())
                .take(1)
                .cloned()
                .collect();
            readers(space, &first, d, p)
        };
        let found = disagreements(nearest);
        assert!(
            found.iter().any(|(over, _)| over.contains("carol")),
            "{found:?}"
        );
    }
}

//! Permission-aware sync against the binary, Cloud and Data Center: who may read a page in
//! Confluence may read its files in Unique, and nobody else.
//!
//! The bar is the comparison [`over_grants`]: for every file in the sandbox's Unique, every
//! user who can read it must be an active Confluence account with that email who can read the
//! page in the sandbox's Confluence (its ground truth, `page_readers`). It must find a planted
//! over-grant, so it cannot pass vacuously.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sandbox::confluence::access::{
    page_readers, AccessModel, AccessSpec, AccountStatus, AccountType, Group, PageReaders,
    Restriction, RestrictionOperation, SpacePermission, User,
};
use sandbox::confluence::{Dataset, GenerateSpec};
use sandbox::unique::SeedUser;
use sandbox::SandboxHandle;
use support::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Flavour {
    Cloud,
    DataCenter,
}

const FLAVOURS: [Flavour; 2] = [Flavour::Cloud, Flavour::DataCenter];

struct World {
    sb: SandboxHandle,
    dir: tempfile::TempDir,
    root: String,
    flavour: Flavour,
}

impl World {
    async fn new(flavour: Flavour, dataset: Dataset, access: AccessModel) -> Self {
        let sb = spawn_sandbox().await;
        sb.confluence
            .replace_dataset_and_access(dataset, access)
            .unwrap();
        let root = seed_root(&sb, "Confluence");
        let world = World {
            sb,
            dir: tempfile::tempdir().unwrap(),
            root,
            flavour,
        };
        world.mirror_people_into_unique();
        world
    }

    /// Every Confluence account with an email exists in Unique too (as the company directory
    /// of a real customer would have it), deactivated and hidden-email ones included: the
    /// connector must not map them anyway.
    fn mirror_people_into_unique(&self) {
        for user in self.sb.confluence.access().users {
            if let Some(email) = user.email {
                self.sb
                    .unique
                    .seed_user(SeedUser {
                        email: email.to_uppercase(),
                        ..SeedUser::default()
                    })
                    .unwrap();
            }
        }
    }

    fn config(&self, permissions: &str) -> PathBuf {
        let unique = cluster_local(&self.sb);
        let mut tenant = match self.flavour {
            Flavour::Cloud => cloud_tenant(
                &self.sb,
                "perm",
                &self.root,
                "sandbox-client-secret",
                &unique,
            ),
            Flavour::DataCenter => dc_tenant(
                &self.sb,
                "perm",
                &self.root,
                "{ mode: pat, token: sandbox-pat }",
                &unique,
            ),
        };
        tenant.push_str(&format!("      permissions: {permissions}\n"));
        write_config(self.dir.path(), ANY_PORT, "warn", &[tenant])
    }

    async fn sync(&self, permissions: &str) -> String {
        sync_with(&self.config(permissions)).await
    }

    /// Emails of the users (other than the service user) who can read each file's page in
    /// Unique, by Confluence content id of the page.
    fn unique_readers(&self) -> BTreeMap<String, BTreeSet<String>> {
        let emails: BTreeMap<String, String> = self
            .sb
            .unique
            .users()
            .into_iter()
            .map(|u| (u.id, u.email.to_lowercase()))
            .collect();
        let service = format!("{}@service.unique.sandbox", self.sb.unique.config().user_id);
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in self.sb.unique.readers() {
            let readers = out.entry(page_of(&file.key)).or_default();
            readers.extend(
                file.readers
                    .iter()
                    .filter_map(|id| emails.get(id).cloned())
                    .filter(|e| *e != service),
            );
        }
        out
    }

    /// The permission model and who can read each page, as the connector can know them. Data
    /// Center's REST user has no status, so a deactivated account is indistinguishable from an
    /// active one there (docs/operator/permissions-sync.md): on Data Center the truth counts
    /// every account as active. Cloud is held to the real truth.
    fn truth(&self) -> (AccessModel, BTreeMap<String, PageReaders>) {
        let mut access = self.sb.confluence.access();
        if self.flavour == Flavour::DataCenter {
            for user in &mut access.users {
                user.status = AccountStatus::Active;
                user.account_type = AccountType::Atlassian;
            }
        }
        let readers = page_readers(&self.sb.confluence.dataset(), &access);
        (access, readers)
    }

    /// Emails of the people Confluence lets read each page, limited to what the connector can
    /// map: active persons whose email it can see. An anonymous grant counts for everyone only
    /// under `permissions.anonymous: allUsers` (the default policy gives it to nobody).
    fn confluence_readers(&self, anonymous_all_users: bool) -> BTreeMap<String, BTreeSet<String>> {
        let (access, truth) = self.truth();
        let dc = self.flavour == Flavour::DataCenter;
        let mappable = |id: &str| {
            access.user(id).and_then(|u| {
                let visible = u.email_visible || dc;
                (u.status == AccountStatus::Active
                    && u.account_type == AccountType::Atlassian
                    && visible)
                    .then(|| u.email.clone())
                    .flatten()
                    .map(|e| e.to_lowercase())
            })
        };
        truth
            .into_iter()
            .map(|(page, readers)| {
                let emails = access
                    .users
                    .iter()
                    .filter(|u| {
                        readers.users.contains(&u.account_id)
                            || (anonymous_all_users && readers.includes(&u.account_id, &access))
                    })
                    .filter_map(|u| mappable(&u.account_id))
                    .collect();
                (page, emails)
            })
            .collect()
    }

    /// `(page, email)` pairs Unique lets read that Confluence does not: over-grants. Always
    /// checked against every active account with that email, so a reader Confluence allows
    /// under an unmappable twin is not hidden.
    fn over_grants(&self) -> Vec<(String, String)> {
        let (access, truth) = self.truth();
        let mut leaks = Vec::new();
        for (page, emails) in self.unique_readers() {
            for email in emails {
                let allowed = truth.get(&page).is_some_and(|r| {
                    access.users.iter().any(|u| {
                        u.email.as_deref().map(str::to_lowercase).as_deref() == Some(&email)
                            && r.includes(&u.account_id, &access)
                    })
                });
                if !allowed {
                    leaks.push((page.clone(), email));
                }
            }
        }
        leaks
    }

    /// What Unique's readers should be under the default anonymous policy, for the pages that
    /// have files.
    fn expected(&self) -> BTreeMap<String, BTreeSet<String>> {
        let have: BTreeSet<String> = self.unique_readers().into_keys().collect();
        self.confluence_readers(false)
            .into_iter()
            .filter(|(p, _)| have.contains(p))
            .collect()
    }
}

/// `<tenant>/<spaceId>_<key>/<pageId>[::<attachmentId>]` → `<pageId>`.
fn page_of(key: &str) -> String {
    let item = key.rsplit('/').next().unwrap();
    item.split("::").next().unwrap().to_owned()
}

async fn sync_with(config: &Path) -> String {
    let out = run(Some(config), &["sync", "--json"], &[]).await;
    assert!(
        out.status.success(),
        "sync failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Grants a user read access to a file the way an administrator would: through Unique's API.
async fn grant_read(sb: &SandboxHandle, file: &sandbox::unique::FileSnapshot, user_id: &str) {
    let body = serde_json::json!({
        "operationName": "CreateFileAccessesForContents",
        "query": "mutation CreateFileAccessesForContents($scopeId: String!, $fileAccesses: [FileAccessContentChangeDto!]!) { createFileAccessesForContents(scopeId: $scopeId, fileAccesses: $fileAccesses) }",
        "variables": {
            "scopeId": file.scope_id,
            "fileAccesses": [{
                "contentId": file.id,
                "accessType": "READ",
                "entityId": user_id,
                "entityType": "USER",
            }],
        },
    });
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/graphql", sb.urls.unique_ingestion))
        .header("x-service-id", "an-administrator")
        .header("x-company-id", "sandbox-company")
        .header("x-user-id", "sandbox-user")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        answer["data"]["createFileAccessesForContents"],
        serde_json::json!(true),
        "{answer}"
    );
}

/// GraphQL operations that change who can read something.
fn is_permission_write(operation: &str) -> bool {
    [
        "CreateGroup",
        "UpdateGroup",
        "DeleteGroup",
        "AddGroupMembers",
        "RemoveGroupMember",
        "CreateScopeAccesses",
        "DeleteScopeAccesses",
        "CreateFileAccessesForContents",
        "RemoveFileAccessesForContents",
    ]
    .contains(&operation)
}

fn emails(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|n| format!("{n}@example.com")).collect()
}

fn person(name: &str) -> User {
    User::person(name, name, &format!("{name}@example.com"))
}

/// Space `ENG` (viewable by `staff`, and directly by `erin`) holds a labelled tree:
///
/// - 100 root, unrestricted
///   - 101 restricted to group `leads` (alice, carol)
///     - 102 restricted to `bob` and group `eng` (alice, bob): only alice satisfies both
///       (the nearest restriction alone would let bob in)
///   - 103 unrestricted
///
/// Space `PUB` is anonymous-readable only; page 200 there is labelled.
/// `hidden` hides her email (Cloud), `bot` is an app, `gone` is deactivated; all are in
/// `staff` and `eng`.
fn handmade() -> (Dataset, AccessModel) {
    let mut content = vec![
        page(100, "ENG", None, &["ai-ingest-all"]),
        page(101, "ENG", Some(100), &[]),
        page(102, "ENG", Some(101), &[]),
        page(103, "ENG", Some(100), &[]),
        page(200, "PUB", None, &["ai-ingest"]),
    ];
    content[3].attachments = Vec::new();
    let dataset = Dataset {
        spaces: vec![space("1001", "ENG"), space("1002", "PUB")],
        content,
    };
    let mut users: Vec<User> = ["alice", "bob", "carol", "erin"]
        .into_iter()
        .map(person)
        .collect();
    users.push(User {
        email_visible: false,
        ..person("hidden")
    });
    users.push(User {
        account_type: AccountType::App,
        ..person("bot")
    });
    users.push(User {
        status: AccountStatus::Inactive,
        ..person("gone")
    });
    let group = |name: &str, members: &[&str]| Group {
        name: name.into(),
        id: String::new(),
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        all_users: false,
    };
    let access = AccessModel {
        users,
        groups: vec![
            group("staff", &["alice", "bob", "carol", "hidden", "bot", "gone"]),
            group("leads", &["alice", "carol"]),
            group("eng", &["alice", "bob", "hidden", "bot", "gone"]),
        ],
        space_permissions: vec![
            SpacePermission::group_reads("ENG", "staff"),
            SpacePermission::user_reads("ENG", "erin"),
            SpacePermission::anonymous_reads("PUB"),
        ],
        restrictions: vec![
            Restriction::read("101", &[], &["leads"]),
            Restriction::read("102", &["bob"], &["eng"]),
        ],
        client_account: None,
    };
    (dataset, access)
}

const PAGE: &str = "{ mode: page }";

#[tokio::test]
async fn restricted_pages_are_readable_by_the_intersection_of_every_layer() {
    for flavour in FLAVOURS {
        let (dataset, access) = handmade();
        let w = World::new(flavour, dataset, access).await;
        w.sync(PAGE).await;
        let got = w.unique_readers();
        // Data Center shows `hidden`'s email (a site setting, not a profile one) and cannot tell
        // that `gone` is deactivated or that `bot` is not a person.
        let staff_and_erin = if flavour == Flavour::DataCenter {
            emails(&["alice", "bob", "bot", "carol", "erin", "hidden", "gone"])
        } else {
            emails(&["alice", "bob", "carol", "erin"])
        };
        assert_eq!(got["100"], staff_and_erin, "{flavour:?}: unrestricted root");
        assert_eq!(
            got["103"], staff_and_erin,
            "{flavour:?}: unrestricted child"
        );
        assert_eq!(got["101"], emails(&["alice", "carol"]), "{flavour:?}: 101");
        assert_eq!(
            got["102"],
            emails(&["alice"]),
            "{flavour:?}: 102 is the intersection, not the nearest restriction"
        );
        assert_eq!(
            got["200"],
            BTreeSet::new(),
            "{flavour:?}: an anonymous space gives nobody access under the default policy"
        );
        assert_eq!(w.over_grants(), Vec::new(), "{flavour:?}");
        assert_eq!(
            got,
            w.expected(),
            "{flavour:?}: and nobody mappable is left out"
        );
    }
}

#[tokio::test]
async fn the_comparison_catches_a_planted_over_grant() {
    let (dataset, access) = handmade();
    let w = World::new(Flavour::Cloud, dataset, access).await;
    w.sync(PAGE).await;
    assert_eq!(w.over_grants(), Vec::new());
    // bob is in `eng` but not in `leads`: give him page 102's file by hand.
    let bob =
        w.sb.unique
            .users()
            .into_iter()
            .find(|u| u.email.eq_ignore_ascii_case("bob@example.com"))
            .unwrap();
    let file =
        w.sb.unique
            .files()
            .into_iter()
            .find(|f| page_of(&f.key) == "102")
            .unwrap();
    grant_read(&w.sb, &file, &bob.id).await;
    assert_eq!(
        w.over_grants(),
        vec![("102".to_owned(), "bob@example.com".to_owned())]
    );
}

#[tokio::test]
async fn restriction_and_membership_changes_reach_unique_in_one_cycle_without_reupload() {
    for flavour in FLAVOURS {
        let (dataset, access) = handmade();
        let w = World::new(flavour, dataset, access).await;
        w.sync(PAGE).await;
        let uploads = w.sb.unique.calls_of("ContentUpsert").len();

        // Removing 102's own restriction widens it to 101's readers.
        w.sb.confluence.clear_restrictions("102").unwrap();
        // Restricting 103 to bob narrows it.
        w.sb.confluence
            .set_restriction(
                "103",
                RestrictionOperation::Read,
                vec!["bob".into()],
                Vec::new(),
            )
            .unwrap();
        // carol leaves `leads`; erin joins.
        w.sb.confluence
            .remove_group_member("leads", "carol")
            .unwrap();
        w.sb.confluence.add_group_member("leads", "erin").unwrap();
        w.sync(PAGE).await;

        let got = w.unique_readers();
        assert_eq!(got["101"], emails(&["alice", "erin"]), "{flavour:?}");
        assert_eq!(got["102"], emails(&["alice", "erin"]), "{flavour:?}");
        assert_eq!(got["103"], emails(&["bob"]), "{flavour:?}");
        assert_eq!(w.over_grants(), Vec::new(), "{flavour:?}");
        assert_eq!(
            w.sb.unique.calls_of("ContentUpsert").len(),
            uploads,
            "{flavour:?}: no content was uploaded again"
        );
    }
}

#[tokio::test]
async fn a_permission_read_error_keeps_the_access_a_page_had() {
    for flavour in FLAVOURS {
        let (dataset, access) = handmade();
        let w = World::new(flavour, dataset, access).await;
        w.sync(PAGE).await;
        let before = w.unique_readers();

        // The space permissions can no longer be read, and meanwhile 101 lost its restriction:
        // nothing about ENG may change this cycle (not widened, not narrowed).
        w.sb.confluence.clear_restrictions("101").unwrap();
        w.sb.faults.add_rule(sandbox::common::FaultRule {
            service: "*".into(),
            route: Some("permissions".into()),
            error_ratio: 1.0,
            error_status: 403,
            ..Default::default()
        });
        w.sync(PAGE).await;
        assert_eq!(w.unique_readers(), before, "{flavour:?}");

        w.sb.faults.clear();
        w.sync(PAGE).await;
        assert_eq!(
            w.unique_readers()["101"],
            before["100"],
            "{flavour:?}: applied once readable"
        );
        assert_eq!(w.over_grants(), Vec::new(), "{flavour:?}");
    }
}

#[tokio::test]
async fn anonymous_spaces_follow_the_policy() {
    for flavour in FLAVOURS {
        let (dataset, access) = handmade();
        let w = World::new(flavour, dataset, access).await;
        w.sync("{ mode: page, anonymous: allUsers }").await;
        let got = w.unique_readers();
        // Every active person the connector can map may read the public page.
        let everyone = if flavour == Flavour::DataCenter {
            emails(&["alice", "bob", "bot", "carol", "erin", "hidden", "gone"])
        } else {
            emails(&["alice", "bob", "carol", "erin"])
        };
        assert_eq!(got["200"], everyone, "{flavour:?}");
        assert_eq!(got["102"], emails(&["alice"]), "{flavour:?}");
    }
}

#[tokio::test]
async fn an_ignored_all_users_group_gives_nobody_access() {
    for flavour in FLAVOURS {
        let (dataset, access) = handmade();
        let w = World::new(flavour, dataset, access).await;
        w.sync("{ mode: page, allUsers: ignore, allUsersGroups: [staff] }")
            .await;
        let got = w.unique_readers();
        // ENG is readable through `staff` and directly by erin: only erin remains, and she is
        // in neither restriction below.
        assert_eq!(got["100"], emails(&["erin"]), "{flavour:?}");
        assert_eq!(got["103"], emails(&["erin"]), "{flavour:?}");
        assert_eq!(got["101"], BTreeSet::new(), "{flavour:?}");
        assert_eq!(got["102"], BTreeSet::new(), "{flavour:?}");
        assert_eq!(w.over_grants(), Vec::new(), "{flavour:?}");
    }
}

#[tokio::test]
async fn switching_back_to_none_removes_exactly_what_the_connector_granted() {
    for flavour in FLAVOURS {
        let (dataset, access) = handmade();
        let w = World::new(flavour, dataset, access).await;
        // Someone grants dave (a Unique-only user) a file by hand: not ours to remove.
        let dave =
            w.sb.unique
                .seed_user(SeedUser {
                    email: "dave@example.com".into(),
                    ..SeedUser::default()
                })
                .unwrap();
        w.sync(PAGE).await;
        let file =
            w.sb.unique
                .files()
                .into_iter()
                .find(|f| page_of(&f.key) == "100")
                .unwrap();
        grant_read(&w.sb, &file, &dave.id).await;
        assert!(
            !w.sb.unique.groups().is_empty(),
            "{flavour:?}: groups mirrored"
        );

        w.sync("{ mode: none }").await;
        let got = w.unique_readers();
        assert_eq!(got["100"], emails(&["dave"]), "{flavour:?}");
        assert!(
            got.iter().all(|(p, r)| p == "100" || r.is_empty()),
            "{flavour:?}: {got:?}"
        );
        assert_eq!(
            w.sb.unique.groups(),
            Vec::new(),
            "{flavour:?}: the connector's groups are gone"
        );
        // Files stay where they were.
        assert_eq!(w.sb.unique.files().len(), 5, "{flavour:?}");
    }
}

#[tokio::test]
async fn a_generated_tenant_is_never_over_granted() {
    for flavour in FLAVOURS {
        let spec = GenerateSpec {
            seed: 14,
            spaces: 4,
            pages_per_space: 40,
            max_attachments_per_page: 1,
            access: AccessSpec {
                users: 60,
                groups: 8,
                anonymous_spaces: 1,
                restricted_ratio: 0.2,
                nested_ratio: 0.5,
                ..AccessSpec::default()
            },
            ..GenerateSpec::default()
        };
        let (dataset, access) = spec.generate_with_access();
        let w = World::new(flavour, dataset, access).await;
        w.sync(PAGE).await;
        assert_eq!(w.over_grants(), Vec::new(), "{flavour:?}");
        assert_eq!(w.unique_readers(), w.expected(), "{flavour:?}");
        // A second cycle with nothing changed writes no access at all (besides the service
        // user's own access to the root, which every cycle asserts, as the reference does).
        w.sb.unique.clear_calls();
        w.sync(PAGE).await;
        let writes: Vec<String> =
            w.sb.unique
                .calls()
                .into_iter()
                .filter(|c| is_permission_write(&c.operation))
                .filter(|c| c.variables["scopeId"] != w.root.as_str())
                .map(|c| format!("{} {}", c.operation, c.variables))
                .collect();
        assert_eq!(writes, Vec::<String>::new(), "{flavour:?}");
    }
}

#[tokio::test]
async fn an_apply_cut_short_converges_on_the_next_cycle() {
    for flavour in FLAVOURS {
        let (dataset, access) = handmade();
        let w = World::new(flavour, dataset, access).await;
        // Every file-access write fails this cycle, as if the process died after the groups
        // and scope accesses were applied and before the files were.
        w.sb.unique.add_fault(sandbox::unique::UniqueFault {
            target: "CreateFileAccessesForContents".into(),
            graphql_error: Some("Internal server error".into()),
            times: Some(50),
            ..Default::default()
        });
        let out = run(Some(&w.config(PAGE)), &["sync", "--json"], &[]).await;
        let _ = out.status;
        assert_eq!(w.over_grants(), Vec::new(), "{flavour:?}: a partial apply");

        w.sb.unique.clear_faults();
        w.sync(PAGE).await;
        assert_eq!(w.over_grants(), Vec::new(), "{flavour:?}");
        assert_eq!(w.unique_readers(), w.expected(), "{flavour:?}: converged");
    }
}

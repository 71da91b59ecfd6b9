//! The permission apply step, run in the cycle against the sandbox's Unique with hand-built
//! access snapshots (the Confluence permission reads are tested on their own): who can read
//! each file afterwards, which accesses and groups exist, and which requests were sent.
#![allow(clippy::unwrap_used)]

mod cycle_common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use cycle_common::*;
use sandbox::unique::{SeedScope, SeedUser, UniqueFault};
use sync_engine::access::{
    AccessSnapshot, Account, AccountKind, Directory, Layer, LeftOut, PermissionMode, Readers,
    SpaceAccess,
};
use sync_engine::{CancellationToken, CycleMode, PermissionReport, RunOutcome, RunTrigger};
use unique_client::{AccessType, Entity, FileAccess};

const SINGLE: &str = "ai-ingest";
const SERVICE_USER: &str = "sandbox-user";

/// Pages 1001 (with a text attachment) and 1002 in space SP.
fn pages() -> sandbox::confluence::Dataset {
    let mut first = page(1001, "SP", None, &[SINGLE]);
    first.attachments = vec![attachment(1, "notes.txt", "text/plain", "notes")];
    dataset(vec![first, page(1002, "SP", None, &[SINGLE])])
}

fn known(groups: &[&str], emails: &[&str]) -> Readers {
    Readers::Known {
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        emails: emails.iter().map(|e| (*e).to_owned()).collect(),
        left_out: BTreeMap::new(),
    }
}

fn unknown() -> Readers {
    Readers::Unknown("an ancestor could not be read".into())
}

fn person(id: &str, email: &str) -> Account {
    Account {
        id: id.into(),
        email: Some(email.into()),
        kind: AccountKind::Person,
        active: true,
    }
}

/// Confluence accounts alice, bob, carol (emails in mixed case: matching ignores case) and
/// group `eng` with `members`.
fn directory(members: &[&str]) -> Directory {
    let mut d = Directory::default();
    for (id, email) in [
        ("alice", "Alice@Example.com"),
        ("bob", "bob@example.com"),
        ("carol", "carol@example.com"),
    ] {
        d.accounts.insert(id.into(), person(id, email));
    }
    d.members.insert(
        "eng".into(),
        Ok(members.iter().map(|m| (*m).to_owned()).collect()),
    );
    d
}

fn snapshot(space: Readers, pages: &[(&str, Readers)], members: &[&str]) -> AccessSnapshot {
    let mut s = AccessSnapshot {
        directory: directory(members),
        ..AccessSnapshot::default()
    };
    s.group_names.insert("eng".into(), "Engineering".into());
    s.spaces.insert(
        SP.1.into(),
        SpaceAccess {
            space: confluence_client::Space {
                id: SP.0.into(),
                key: SP.1.into(),
                name: "Space SP".into(),
            },
            grants: Layer::Grants(Vec::new()),
            readers: space,
            pages: pages
                .iter()
                .map(|(id, r)| ((*id).to_owned(), r.clone()))
                .collect(),
        },
    );
    s
}

/// A harness with Unique users for alice, bob and carol; the snapshot each cycle applies is
/// whatever `access` holds at that moment.
struct Perms {
    h: Harness,
    access: Arc<Mutex<AccessSnapshot>>,
    /// Unique user id by Confluence account.
    ids: BTreeMap<&'static str, String>,
}

impl Perms {
    async fn new() -> Self {
        let h = Harness::new(Flavour::Cloud, pages()).await;
        let mut ids = BTreeMap::new();
        for (name, email) in [
            ("alice", "alice@example.com"),
            ("bob", "BOB@example.com"),
            ("carol", "carol@example.com"),
        ] {
            let user =
                h.sb.unique
                    .seed_user(SeedUser {
                        email: email.into(),
                        ..SeedUser::default()
                    })
                    .unwrap();
            ids.insert(name, user.id);
        }
        Self {
            h,
            access: Arc::new(Mutex::new(AccessSnapshot::default())),
            ids,
        }
    }

    fn set(&self, snapshot: AccessSnapshot) {
        *self.access.lock().unwrap() = snapshot;
    }

    async fn cycle(&self, mode: PermissionMode) -> (RunOutcome, Option<PermissionReport>) {
        let mut spec = self.h.spec();
        spec.permissions.mode = mode;
        let access = self.access.clone();
        let sync = self
            .h
            .sync(spec)
            .with_access_snapshot(Arc::new(move || access.lock().unwrap().clone()));
        let report = sync
            .run_cycle(RunTrigger::Cli, CycleMode::Normal, CancellationToken::new())
            .await
            .unwrap();
        (report.status, sync.last_permission_report())
    }

    /// Who can read the file under `item` (user ids mapped back to names; the service user as
    /// `svc`).
    fn readers(&self, item: &str) -> BTreeSet<String> {
        let key = key(SP, item);
        let file = self
            .h
            .sb
            .unique
            .readers()
            .into_iter()
            .find(|f| f.key == key)
            .unwrap_or_else(|| panic!("no file {key}"));
        assert!(file.orphaned.is_empty(), "{:?}", file.orphaned);
        file.readers.iter().map(|id| self.name(id)).collect()
    }

    fn name(&self, id: &str) -> String {
        if id == SERVICE_USER {
            return "svc".into();
        }
        self.ids
            .iter()
            .find(|(_, v)| *v == id)
            .map_or_else(|| id.to_owned(), |(k, _)| (*k).to_owned())
    }

    fn space_scope(&self) -> sandbox::unique::ScopeSnapshot {
        self.h
            .sb
            .unique
            .scopes()
            .into_iter()
            .find(|s| s.path == "/Confluence/SP")
            .unwrap()
    }

    /// The space scope's accesses other than the service user's, as `user:<name>` /
    /// `group:<name>`.
    fn scope_readers(&self) -> BTreeSet<String> {
        let groups = self.h.sb.unique.groups();
        self.space_scope()
            .accesses
            .iter()
            .filter(|a| a.entity_id != SERVICE_USER)
            .map(|a| match groups.iter().find(|g| g.id == a.entity_id) {
                Some(g) => format!("group:{}", g.name),
                None => format!("user:{}", self.name(&a.entity_id)),
            })
            .collect()
    }

    /// Someone other than the connector grants `user` READ on the file under `item`.
    async fn grant_by_hand(&self, item: &str, user: &str) {
        let file = self.h.sb.unique.file_by_key(&key(SP, item)).unwrap();
        self.h
            .unique_client()
            .add_file_accesses(
                &file.scope_id,
                &[FileAccess {
                    content_id: file.id,
                    entity: Entity::User(self.ids[user].clone()),
                    access: AccessType::Read,
                }],
            )
            .await
            .unwrap();
    }

    fn calls(&self, operation: &str) -> usize {
        self.h.sb.unique.calls_of(operation).len()
    }

    /// `PaginatedContent` requests reading file access back (the diff's lookups select more).
    fn read_backs(&self) -> usize {
        self.h
            .sb
            .unique
            .calls_of("PaginatedContent")
            .iter()
            .filter(|c| !c.document.contains("ingestionState"))
            .count()
    }

    /// Requests that changed groups or accesses on anything but the root scope.
    fn permission_writes(&self) -> usize {
        let scope_writes = ["CreateScopeAccesses", "DeleteScopeAccesses"]
            .iter()
            .flat_map(|op| self.h.sb.unique.calls_of(op))
            .filter(|c| c.variables["scopeId"] != self.h.root_id.as_str())
            .count();
        scope_writes
            + [
                "CreateGroup",
                "DeleteGroup",
                "AddGroupMembers",
                "RemoveGroupMember",
                "CreateFileAccessesForContents",
                "RemoveFileAccessesForContents",
            ]
            .iter()
            .map(|op| self.calls(op))
            .sum::<usize>()
    }
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn each_file_gets_exactly_its_readers_and_attachments_read_like_their_page() {
    let p = Perms::new().await;
    p.set(snapshot(
        known(&["eng"], &["carol@example.com"]),
        &[
            ("1001", known(&[], &["alice@example.com"])),
            ("1002", known(&["eng"], &[])),
        ],
        &["alice", "bob"],
    ));

    let (status, report) = p.cycle(PermissionMode::Page).await;

    assert_eq!(status, RunOutcome::Success);
    assert_eq!(p.readers("1001"), set(&["svc", "alice"]));
    assert_eq!(p.readers("1001::att1"), set(&["svc", "alice"]));
    assert_eq!(p.readers("1002"), set(&["svc", "alice", "bob"]));
    assert_eq!(
        p.scope_readers(),
        set(&["group:[Confluence] Engineering", "user:carol"])
    );
    let groups = p.h.sb.unique.groups();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0].created_by.as_deref(),
        Some("confluence-connector")
    );
    assert_eq!(
        groups[0].external_id.as_deref(),
        Some(format!("{}:group:eng", p.h.owner()).as_str())
    );
    let report = report.unwrap();
    assert_eq!(report.groups_created, 1);
    assert_eq!(report.group_members_added, 2);
    assert_eq!(report.scope_accesses_added, 2);
    assert_eq!(report.file_accesses_added, 3);
    assert_eq!(report.file_accesses_removed, 0);
    // Registered readable by the service user alone, before the access was applied.
    for call in p.h.sb.unique.calls_of("ContentUpsert") {
        let input = &call.variables["input"];
        if call.variables.get("fileUrl").is_none() {
            let access: Vec<&str> = input["fileAccess"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().unwrap())
                .collect();
            assert_eq!(
                access,
                ["u:sandbox-userR", "u:sandbox-userW", "u:sandbox-userM"]
            );
        } else {
            assert!(input.get("fileAccess").is_none());
        }
    }
}

#[tokio::test]
async fn space_mode_gives_every_file_the_space_readers() {
    let p = Perms::new().await;
    p.set(snapshot(
        known(&[], &["bob@example.com", "carol@example.com"]),
        &[],
        &[],
    ));

    p.cycle(PermissionMode::Space).await;

    for item in ["1001", "1001::att1", "1002"] {
        assert_eq!(p.readers(item), set(&["svc", "bob", "carol"]), "{item}");
    }
    assert_eq!(p.scope_readers(), set(&["user:bob", "user:carol"]));
}

#[tokio::test]
async fn a_removed_restriction_widens_and_an_added_one_narrows_without_reuploading() {
    let p = Perms::new().await;
    let space = known(&["eng"], &["carol@example.com"]);
    let only_alice = [
        ("1001", known(&[], &["alice@example.com"])),
        ("1002", space.clone()),
    ];
    p.set(snapshot(space.clone(), &only_alice, &["alice", "bob"]));
    p.cycle(PermissionMode::Page).await;
    assert_eq!(p.readers("1001"), set(&["svc", "alice"]));
    p.h.sb.unique.clear_calls();

    // The restriction on 1001 is lifted: it reads like its space.
    p.set(snapshot(
        space.clone(),
        &[("1001", space.clone()), ("1002", space.clone())],
        &["alice", "bob"],
    ));
    let (_, report) = p.cycle(PermissionMode::Page).await;

    assert_eq!(p.readers("1001"), set(&["svc", "alice", "bob", "carol"]));
    assert_eq!(
        p.readers("1001::att1"),
        set(&["svc", "alice", "bob", "carol"])
    );
    assert_eq!(p.calls("ContentUpsert"), 0, "nothing is re-uploaded");
    let report = report.unwrap();
    assert_eq!(
        report.files_read_back, 2,
        "only the two files whose access changed"
    );
    assert_eq!(report.file_accesses_removed, 2, "alice's own access, twice");
    p.h.sb.unique.clear_calls();

    // Restricted again.
    p.set(snapshot(space, &only_alice, &["alice", "bob"]));
    p.cycle(PermissionMode::Page).await;

    assert_eq!(p.readers("1001"), set(&["svc", "alice"]));
    assert_eq!(p.readers("1001::att1"), set(&["svc", "alice"]));
    assert_eq!(p.readers("1002"), set(&["svc", "alice", "bob", "carol"]));
    assert_eq!(p.calls("ContentUpsert"), 0);
}

#[tokio::test]
async fn group_members_follow_confluence_without_touching_file_access() {
    let p = Perms::new().await;
    let readers = known(&["eng"], &[]);
    let pages = [("1001", readers.clone()), ("1002", readers.clone())];
    p.set(snapshot(readers.clone(), &pages, &["alice"]));
    p.cycle(PermissionMode::Page).await;
    assert_eq!(p.readers("1002"), set(&["svc", "alice"]));
    p.h.sb.unique.clear_calls();

    p.set(snapshot(readers.clone(), &pages, &["alice", "carol"]));
    let (_, report) = p.cycle(PermissionMode::Page).await;
    assert_eq!(p.readers("1002"), set(&["svc", "alice", "carol"]));
    assert_eq!(report.unwrap().group_members_added, 1);
    assert_eq!(p.calls("AddGroupMembers"), 1);
    assert_eq!(p.calls("CreateFileAccessesForContents"), 0);
    assert_eq!(p.read_backs(), 0, "the files' desired access is unchanged");
    p.h.sb.unique.clear_calls();

    p.set(snapshot(readers, &pages, &["carol"]));
    let (_, report) = p.cycle(PermissionMode::Page).await;
    assert_eq!(p.readers("1002"), set(&["svc", "carol"]));
    assert_eq!(report.unwrap().group_members_removed, 1);
    assert_eq!(p.calls("RemoveFileAccessesForContents"), 0);
}

#[tokio::test]
async fn unknown_readers_keep_the_access_a_file_had() {
    let p = Perms::new().await;
    let space = known(&[], &["alice@example.com", "bob@example.com"]);
    p.set(snapshot(
        space.clone(),
        &[
            ("1001", known(&[], &["bob@example.com"])),
            ("1002", space.clone()),
        ],
        &[],
    ));
    p.cycle(PermissionMode::Page).await;
    assert_eq!(p.readers("1001"), set(&["svc", "bob"]));
    p.h.sb.unique.clear_calls();

    p.set(snapshot(
        space.clone(),
        &[("1001", unknown()), ("1002", space)],
        &[],
    ));
    let (status, report) = p.cycle(PermissionMode::Page).await;

    assert_eq!(status, RunOutcome::Success);
    assert_eq!(p.readers("1001"), set(&["svc", "bob"]));
    assert_eq!(p.readers("1001::att1"), set(&["svc", "bob"]));
    assert_eq!(report.unwrap().files_unknown, 2);
    assert_eq!(p.permission_writes(), 0);
}

#[tokio::test]
async fn unknown_readers_keep_the_groups_a_file_relies_on() {
    let p = Perms::new().await;
    let readers = known(&["eng"], &[]);
    p.set(snapshot(
        readers.clone(),
        &[("1001", readers.clone()), ("1002", readers)],
        &["alice", "bob"],
    ));
    p.cycle(PermissionMode::Page).await;
    assert_eq!(p.readers("1002"), set(&["svc", "alice", "bob"]));
    p.h.sb.unique.clear_calls();

    // The permission reads fail: nobody known names the group any more.
    p.set(snapshot(
        unknown(),
        &[("1001", unknown()), ("1002", unknown())],
        &["alice", "bob"],
    ));
    let (status, _) = p.cycle(PermissionMode::Page).await;

    assert_eq!(status, RunOutcome::Success);
    assert_eq!(p.h.sb.unique.groups().len(), 1);
    assert_eq!(p.readers("1002"), set(&["svc", "alice", "bob"]));
    assert_eq!(p.permission_writes(), 0);
}

#[tokio::test]
async fn a_new_file_under_unknown_readers_is_readable_by_the_service_user_only() {
    let p = Perms::new().await;
    // The space scope exists already, and carol has access to it: a file registered without
    // its own access would inherit hers.
    let scope =
        p.h.sb
            .unique
            .seed_scope(SeedScope {
                name: "SP".into(),
                parent_id: Some(p.h.root_id.clone()),
                external_id: Some(format!("confc:{TENANT}:{}:{}", SP.0, SP.1)),
                ..SeedScope::default()
            })
            .unwrap();
    p.h.unique_client()
        .add_scope_accesses(
            &scope.id,
            &[(Entity::User(p.ids["carol"].clone()), AccessType::Read)],
        )
        .await
        .unwrap();
    p.set(snapshot(
        unknown(),
        &[("1001", unknown()), ("1002", unknown())],
        &[],
    ));

    let (_, report) = p.cycle(PermissionMode::Page).await;

    for item in ["1001", "1001::att1", "1002"] {
        assert_eq!(p.readers(item), set(&["svc"]), "{item}");
    }
    assert_eq!(report.unwrap().files_unknown, 3);
}

#[tokio::test]
async fn the_service_user_and_accesses_granted_by_others_are_never_removed() {
    let p = Perms::new().await;
    let space = known(&[], &["alice@example.com"]);
    p.set(snapshot(space.clone(), &[("1001", space.clone())], &[]));
    p.cycle(PermissionMode::Page).await;
    // Someone grants carol access by hand.
    p.grant_by_hand("1001", "carol").await;
    let scope = p.space_scope().id;
    p.h.unique_client()
        .add_scope_accesses(
            &scope,
            &[(Entity::User(p.ids["carol"].clone()), AccessType::Read)],
        )
        .await
        .unwrap();

    // Nobody may read the page any more.
    p.set(snapshot(known(&[], &[]), &[("1001", known(&[], &[]))], &[]));
    p.cycle(PermissionMode::Page).await;

    assert_eq!(p.readers("1001"), set(&["svc", "carol"]));
    assert_eq!(p.scope_readers(), set(&["user:carol"]));
}

#[tokio::test]
async fn switching_from_page_to_none_removes_exactly_what_was_granted() {
    let p = Perms::new().await;
    p.set(snapshot(
        known(&["eng"], &["carol@example.com"]),
        &[
            ("1001", known(&[], &["alice@example.com"])),
            ("1002", known(&["eng"], &[])),
        ],
        &["alice", "bob"],
    ));
    p.cycle(PermissionMode::Page).await;
    p.grant_by_hand("1002", "carol").await;
    p.h.sb.unique.clear_calls();

    let (status, report) = p.cycle(PermissionMode::None).await;

    assert_eq!(status, RunOutcome::Success);
    assert_eq!(p.readers("1001"), set(&["svc"]));
    assert_eq!(p.readers("1001::att1"), set(&["svc"]));
    assert_eq!(
        p.readers("1002"),
        set(&["svc", "carol"]),
        "carol's access is not ours"
    );
    assert_eq!(p.scope_readers(), set(&[]));
    assert!(p.h.sb.unique.groups().is_empty());
    let report = report.unwrap();
    assert_eq!(report.groups_deleted, 1);
    assert_eq!(report.scope_accesses_removed, 2);
    assert_eq!(report.file_accesses_removed, 3);
    assert!(p
        .h
        .ledger
        .granted_accesses(TENANT)
        .await
        .unwrap()
        .is_empty());
    p.h.sb.unique.clear_calls();

    // Nothing left to withdraw: mode none is silent again.
    let (_, report) = p.cycle(PermissionMode::None).await;
    assert_eq!(report, None);
    assert_eq!(
        p.permission_writes() + p.read_backs() + p.calls("ListUsers"),
        0
    );
}

#[tokio::test]
async fn a_failure_mid_apply_converges_on_the_next_cycle() {
    let p = Perms::new().await;
    let space = known(&["eng"], &[]);
    p.set(snapshot(
        space.clone(),
        &[
            (
                "1001",
                known(&[], &["alice@example.com", "bob@example.com"]),
            ),
            ("1002", space),
        ],
        &["alice", "carol"],
    ));
    p.h.sb.unique.add_fault(
        UniqueFault::graphql_error("CreateFileAccessesForContents", "node-ingestion timed out")
            .times(1),
    );

    let (status, report) = p.cycle(PermissionMode::Page).await;
    assert_eq!(status, RunOutcome::PartialSuccess);
    assert!(report.unwrap().error.is_some());
    assert_eq!(p.readers("1001"), set(&["svc"]), "nothing was granted yet");

    let (status, report) = p.cycle(PermissionMode::Page).await;

    assert_eq!(status, RunOutcome::Success);
    assert_eq!(report.unwrap().error, None);
    assert_eq!(p.readers("1001"), set(&["svc", "alice", "bob"]));
    assert_eq!(p.readers("1001::att1"), set(&["svc", "alice", "bob"]));
    assert_eq!(p.readers("1002"), set(&["svc", "alice", "carol"]));
    assert_eq!(
        p.h.sb.unique.groups().len(),
        1,
        "the group is not created twice"
    );
}

#[tokio::test]
async fn a_cycle_dropped_mid_apply_converges_on_the_next() {
    let p = Perms::new().await;
    let readers = known(&[], &["alice@example.com"]);
    p.set(snapshot(
        readers.clone(),
        &[("1001", readers.clone()), ("1002", readers)],
        &[],
    ));
    // The first file-access write hangs; the cycle is dropped while it waits (a crash).
    p.h.sb.unique.add_fault(
        UniqueFault::latency(
            "CreateFileAccessesForContents",
            std::time::Duration::from_secs(30),
        )
        .times(1),
    );
    let mut spec = p.h.spec();
    spec.permissions.mode = PermissionMode::Page;
    let access = p.access.clone();
    let sync =
        p.h.sync(spec)
            .with_access_snapshot(Arc::new(move || access.lock().unwrap().clone()));
    let dropped = tokio::time::timeout(
        std::time::Duration::from_secs(3),
        sync.run_cycle(RunTrigger::Cli, CycleMode::Normal, CancellationToken::new()),
    )
    .await;
    assert!(dropped.is_err(), "the cycle was still applying");
    assert!(p
        .h
        .ledger
        .access_fingerprints(TENANT)
        .await
        .unwrap()
        .is_empty());
    p.h.sb.unique.clear_faults();

    let (status, _) = p.cycle(PermissionMode::Page).await;

    assert_eq!(status, RunOutcome::Success);
    for item in ["1001", "1001::att1", "1002"] {
        assert_eq!(p.readers(item), set(&["svc", "alice"]), "{item}");
    }
}

#[tokio::test]
async fn a_second_cycle_without_changes_writes_and_reads_back_nothing() {
    let p = Perms::new().await;
    p.set(snapshot(
        known(&["eng"], &["carol@example.com"]),
        &[
            ("1001", known(&[], &["alice@example.com"])),
            ("1002", known(&["eng"], &[])),
        ],
        &["alice", "bob"],
    ));
    p.cycle(PermissionMode::Page).await;
    p.h.sb.unique.clear_calls();

    let (status, report) = p.cycle(PermissionMode::Page).await;

    assert_eq!(status, RunOutcome::Success);
    assert_eq!(p.permission_writes(), 0);
    assert_eq!(p.read_backs(), 0);
    let report = report.unwrap();
    assert_eq!(report.files_read_back, 0);
    assert_eq!(report.file_accesses_added + report.scope_accesses_added, 0);
}

#[tokio::test]
async fn left_out_accounts_are_counted_by_reason() {
    let p = Perms::new().await;
    let mut left_out = BTreeMap::new();
    left_out.insert("bot".to_owned(), LeftOut::App);
    left_out.insert("hidden".to_owned(), LeftOut::NoEmail);
    let readers = Readers::Known {
        groups: BTreeSet::new(),
        emails: set(&["alice@example.com", "stranger@example.com"]),
        left_out,
    };
    p.set(snapshot(
        readers.clone(),
        &[("1001", readers.clone()), ("1002", readers)],
        &[],
    ));

    let (_, report) = p.cycle(PermissionMode::Page).await;

    let counted = report.unwrap().left_out;
    assert_eq!(
        counted,
        BTreeMap::from([
            ("app".to_owned(), 1),
            ("no_email".to_owned(), 1),
            (sync_engine::NO_UNIQUE_USER.to_owned(), 1),
        ])
    );
    assert_eq!(p.readers("1002"), set(&["svc", "alice"]));
}

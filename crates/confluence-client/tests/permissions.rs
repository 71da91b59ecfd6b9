//! The permission reads against the sandbox, both flavours: space read grants (paged, filtered
//! to "View space"), view restrictions with discovery (capped subject lists completed),
//! the batched ancestor lookup, groups, members past the 200 cap, accounts; Data Center below
//! 9.1 and with OAuth 2.0; and that nothing changes on the wire with the restrictions off.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use common::*;
use confluence_client::{AccountKind, ConfluenceApi, ConfluenceError, Principal};
use sandbox::confluence::access::{
    AccessModel, AccountStatus, AccountType, CloudAnonymousPrincipal, DcEmailVisibility, Group,
    Restriction, SpacePermission, User,
};
use sandbox::confluence::Dataset;
use sandbox::SandboxHandle;

const LABEL: &str = "ai-ingest";

fn user_id(n: usize) -> String {
    format!("u{n:03}")
}

fn person(n: usize) -> User {
    User::person(
        &user_id(n),
        &format!("User {n}"),
        &format!("user{n}@example.com"),
    )
}

fn group(name: &str, members: impl IntoIterator<Item = usize>) -> Group {
    Group {
        name: name.into(),
        id: String::new(),
        members: members.into_iter().map(user_id).collect(),
        all_users: false,
    }
}

/// 300 people; `big` has 250 of them (u000 deactivated, u001 an app, u002 with a hidden
/// email), `eng` u010–u019; page 1 (labelled) restricted to 150 people and `eng`, page 2 below
/// it, page 3 below 2 and restricted to `eng`.
fn model() -> (Dataset, AccessModel) {
    let ds = dataset(vec![
        page(1, "SP", None, &[LABEL]),
        page(2, "SP", Some(1), &[]),
        page(3, "SP", Some(2), &[LABEL]),
    ]);
    let mut users: Vec<User> = (0..300).map(person).collect();
    users[0].status = AccountStatus::Inactive;
    users[1].account_type = AccountType::App;
    users[1].email = None;
    users[2].email_visible = false;
    let big_readers: Vec<String> = (100..250).map(user_id).collect();
    let big_readers: Vec<&str> = big_readers.iter().map(String::as_str).collect();
    let access = AccessModel {
        users,
        groups: vec![group("big", 0..250), group("eng", 10..20)],
        space_permissions: vec![
            SpacePermission::group_reads("SP", "eng"),
            SpacePermission::user_reads("SP", "u250"),
            SpacePermission::anonymous_reads("SP"),
            SpacePermission {
                operations: vec!["create/page".into()],
                ..SpacePermission::group_reads("SP", "big")
            },
        ],
        restrictions: vec![
            Restriction::read("1", &big_readers, &["eng"]),
            Restriction::read("3", &[], &["eng"]),
        ],
        client_account: None,
    };
    (ds, access)
}

async fn spawn(tweak: impl FnOnce(&mut sandbox::SandboxConfig)) -> SandboxHandle {
    let (ds, access) = model();
    spawn_sandbox_with(ds, |c| {
        c.confluence.access = access;
        tweak(c);
    })
    .await
}

/// Cloud, and Data Center with a personal access token (OAuth 2.0 is refused these reads).
fn permission_client(
    sb: &SandboxHandle,
    flavour: Flavour,
    restrictions: bool,
) -> confluence_client::ConfluenceClient {
    let mut config = match flavour {
        Flavour::Cloud => cloud_config(sb),
        Flavour::DataCenter => dc_config(sb, dc_pat()),
    };
    config.view_restrictions = restrictions;
    client(config)
}

fn group_key(sb: &SandboxHandle, flavour: Flavour, name: &str) -> String {
    match flavour {
        Flavour::Cloud => sb.confluence.access().group(name).unwrap().cloud_id(),
        Flavour::DataCenter => name.to_owned(),
    }
}

fn space_of(pages: &[confluence_client::Page]) -> confluence_client::Space {
    pages[0].space.clone()
}

#[tokio::test]
async fn space_read_grants_are_the_view_space_assignments_only_on_every_page() {
    let sb = spawn(|_| {}).await;
    // 130 more people with View and Add page: 260 more rows, past one page of 250 on Cloud.
    for n in 300..430 {
        sb.confluence.add_user(person(n)).unwrap();
        sb.confluence
            .grant_space_permission(SpacePermission {
                operations: vec!["read/space".into(), "create/page".into()],
                ..SpacePermission::user_reads("SP", &user_id(n))
            })
            .unwrap();
    }
    for flavour in BOTH {
        let client = permission_client(&sb, flavour, false);
        let space = space_of(&client.discover_labelled_pages().await.unwrap());
        sb.requests.reset();
        let grants = client.space_read_grants(&space).await.unwrap();
        let mut expected: Vec<Principal> = (300..430)
            .map(|n| Principal::User(user_id(n)))
            .chain([
                Principal::Group(group_key(&sb, flavour, "eng")),
                Principal::User("u250".into()),
                Principal::Anonymous,
            ])
            .collect();
        expected.sort();
        assert_eq!(grants, expected, "{flavour:?}: big only has Add page");
        let listings = sb
            .requests
            .count_matching(flavour.service(), "GET", "/permissions");
        let expected_requests = match flavour {
            Flavour::Cloud => 2,      // 263 assignments at 250 a page
            Flavour::DataCenter => 1, // one unpaged array
        };
        assert_eq!(listings, expected_requests, "{flavour:?}");
    }
    assert_only_gets_and_token_posts(&sb);
}

#[tokio::test]
async fn cloud_anonymous_access_is_anonymous_in_either_spelling() {
    let sb = spawn(|_| {}).await;
    let client = permission_client(&sb, Flavour::Cloud, false);
    let space = space_of(&client.discover_labelled_pages().await.unwrap());
    for spelling in [
        CloudAnonymousPrincipal::UserNamedAnonymous,
        CloudAnonymousPrincipal::AnonymousType,
    ] {
        let mut config = sb.confluence.permissions_config();
        config.cloud_anonymous_principal = spelling;
        sb.confluence.set_permissions_config(config);
        let grants = client.space_read_grants(&space).await.unwrap();
        assert!(grants.contains(&Principal::Anonymous), "{spelling:?}");
        assert!(
            !grants.contains(&Principal::User("anonymous".into())),
            "{spelling:?}"
        );
    }
}

#[tokio::test]
async fn data_center_below_9_1_says_space_permissions_need_9_1() {
    let sb = spawn(|c| c.confluence.permissions.dc_version = "8.5.14".into()).await;
    let client = permission_client(&sb, Flavour::DataCenter, false);
    let space = space_of(&client.discover_labelled_pages().await.unwrap());
    let err = client.space_read_grants(&space).await.unwrap_err();
    assert!(
        matches!(err, ConfluenceError::PermissionReadsUnsupported { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("9.1 or later") && text.contains("8.5.14"),
        "{text}"
    );
}

#[tokio::test]
async fn data_center_with_oauth_says_permission_reads_need_a_token_or_basic_auth() {
    let sb = spawn(|_| {}).await;
    let oauth = client_for(&sb, Flavour::DataCenter);
    let space = space_of(&oauth.discover_labelled_pages().await.unwrap());
    let errors = [
        oauth.space_read_grants(&space).await.unwrap_err(),
        oauth.group_members("eng").await.unwrap_err(),
        oauth.groups().await.unwrap_err(),
        oauth.accounts(&["u010".to_owned()]).await.unwrap_err(),
    ];
    for err in errors {
        assert!(
            matches!(err, ConfluenceError::PermissionReadsUnsupported { .. }),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(
            text.contains("personal access token") && text.contains("basic auth"),
            "{text}"
        );
    }
    // Basic auth is served.
    let basic = client(dc_config(&sb, dc_basic()));
    assert!(!basic.space_read_grants(&space).await.unwrap().is_empty());
}

#[tokio::test]
async fn group_members_page_at_200_with_status_kind_and_email() {
    let sb =
        spawn(|c| c.confluence.permissions.dc_email_visibility = DcEmailVisibility::Public).await;
    for flavour in BOTH {
        let client = permission_client(&sb, flavour, false);
        sb.requests.reset();
        let members = client
            .group_members(&group_key(&sb, flavour, "big"))
            .await
            .unwrap();
        assert_eq!(members.len(), 250, "{flavour:?}");
        let listing: Vec<_> = requests(&sb, flavour.service())
            .into_iter()
            .filter(|(method, _, _)| method == "GET")
            .collect();
        assert_eq!(listing.len(), 2, "{flavour:?}: 250 members at 200 a page");
        assert!(
            listing.iter().all(|(_, _, q)| q.contains("limit=200")),
            "{flavour:?}: never above the documented cap: {listing:?}"
        );
        let by_id = |id: &str| members.iter().find(|a| a.id == id).unwrap();
        assert_eq!(by_id("u010").email.as_deref(), Some("user10@example.com"));
        assert_eq!(by_id("u010").kind, AccountKind::Person);
        assert!(by_id("u010").active);
        match flavour {
            Flavour::Cloud => {
                assert!(!by_id("u000").active, "deactivated: empty operations");
                assert_eq!(by_id("u002").email, None, "hidden email");
            }
            // Data Center shows no status; its email setting is site-wide.
            Flavour::DataCenter => assert!(by_id("u000").active),
        }
    }
    // The app account is not an Atlassian person: Cloud lists it as `app`.
    let cloud = permission_client(&sb, Flavour::Cloud, false);
    let accounts = cloud.accounts(&["u001".to_owned()]).await.unwrap();
    assert_eq!(accounts[0].kind, AccountKind::App);
    assert_eq!(accounts[0].email, None);
}

#[tokio::test]
async fn masked_and_hidden_data_center_emails_are_none() {
    for visibility in [DcEmailVisibility::Masked, DcEmailVisibility::AdminsOnly] {
        let sb = spawn(|c| c.confluence.permissions.dc_email_visibility = visibility).await;
        let client = permission_client(&sb, Flavour::DataCenter, false);
        let members = client.group_members("eng").await.unwrap();
        assert_eq!(members.len(), 10);
        assert!(members.iter().all(|a| a.email.is_none()), "{visibility:?}");
    }
}

#[tokio::test]
async fn accounts_are_looked_up_in_batches_and_unknown_ones_are_absent() {
    let sb = spawn(|_| {}).await;
    let mut ids: Vec<String> = (20..170).map(user_id).collect();
    ids.push("nobody".into());
    for flavour in BOTH {
        let client = permission_client(&sb, flavour, false);
        sb.requests.reset();
        let accounts = client.accounts(&ids).await.unwrap();
        let found: BTreeSet<&str> = accounts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(found.len(), 150, "{flavour:?}");
        assert!(!found.contains("nobody"));
        let lookups = sb
            .requests
            .records_for(flavour.service())
            .into_iter()
            .filter(|r| r.method == "GET")
            .count();
        match flavour {
            Flavour::Cloud => assert_eq!(lookups, 2, "151 ids, 100 per user/bulk"),
            Flavour::DataCenter => assert_eq!(lookups, 151, "no bulk lookup on DC"),
        }
    }
    assert_only_gets_and_token_posts(&sb);
}

#[tokio::test]
async fn groups_are_listed_with_their_names() {
    let sb = spawn(|_| {}).await;
    for flavour in BOTH {
        let groups = permission_client(&sb, flavour, false)
            .groups()
            .await
            .unwrap();
        let eng = groups.iter().find(|g| g.name == "eng").unwrap();
        assert_eq!(eng.id, group_key(&sb, flavour, "eng"), "{flavour:?}");
        assert_eq!(groups.len(), 2);
    }
}

#[tokio::test]
async fn discovery_fills_view_restrictions_and_completes_capped_subject_lists() {
    let sb = spawn(|_| {}).await;
    for flavour in BOTH {
        let client = permission_client(&sb, flavour, true);
        sb.requests.reset();
        let pages = client.discover_labelled_pages().await.unwrap();
        let by_id = |id: &str| pages.iter().find(|p| p.id == id).unwrap();
        let root = by_id("1").access.clone().unwrap();
        let mut expected: BTreeSet<Principal> =
            (100..250).map(|n| Principal::User(user_id(n))).collect();
        expected.insert(Principal::Group(group_key(&sb, flavour, "eng")));
        assert_eq!(
            root.view.iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{flavour:?}: 151 subjects, past the inline cap of 100"
        );
        assert_eq!(root.view.len(), 151, "{flavour:?}: each once");
        assert!(root.ancestors.is_empty());
        let leaf = by_id("3").access.clone().unwrap();
        assert_eq!(leaf.ancestors, ["1", "2"], "{flavour:?}: top first");
        assert_eq!(
            leaf.view,
            [Principal::Group(group_key(&sb, flavour, "eng"))]
        );
        assert!(
            sb.requests
                .count_matching(flavour.service(), "GET", "/restriction/byOperation/{op}")
                >= 1,
            "{flavour:?}: the capped list was completed"
        );
        // Descendants carry it too.
        let below = client.descendant_pages(&["1".to_owned()]).await.unwrap();
        let two = below.iter().find(|p| p.id == "2").unwrap();
        assert_eq!(two.access.as_ref().unwrap().view, []);
        assert_eq!(two.access.as_ref().unwrap().ancestors, ["1"]);
    }
    assert_only_gets_and_token_posts(&sb);
}

#[tokio::test]
async fn a_restriction_that_cannot_be_completed_leaves_the_page_unknown() {
    // Cloud's v1 restriction endpoints answering 410 through the gateway (unconfirmed mode).
    let sb = spawn(|c| c.confluence.permissions.cloud_v1_restrictions_gone = true).await;
    let client = permission_client(&sb, Flavour::Cloud, true);
    let pages = client.discover_labelled_pages().await.unwrap();
    let by_id = |id: &str| pages.iter().find(|p| p.id == id).unwrap();
    assert_eq!(by_id("1").access, None, "capped and not completable");
    assert!(
        by_id("3").access.is_some(),
        "not capped: the search said it all"
    );
}

#[tokio::test]
async fn content_access_reads_ancestors_in_one_search_and_leaves_out_what_it_cannot_view() {
    let sb = spawn(|_| {}).await;
    // The connector's account is u300: not in eng, so pages 1 (and so 2 and 3) are hidden.
    sb.confluence.add_user(person(300)).unwrap();
    for flavour in BOTH {
        let client = permission_client(&sb, flavour, true);
        sb.confluence.set_client_account(None).unwrap();
        sb.requests.reset();
        let ids: Vec<String> = ["1", "2", "404"].map(String::from).to_vec();
        let found = client.content_access(&ids).await.unwrap();
        assert_eq!(found.len(), 2, "{flavour:?}");
        assert_eq!(found["2"].ancestors, ["1"]);
        assert_eq!(found["1"].view.len(), 151);
        assert_eq!(
            sb.requests
                .count_matching(flavour.service(), "GET", "content/search"),
            1,
            "{flavour:?}: one id search"
        );
        sb.confluence.set_client_account(Some("u300")).unwrap();
        let hidden = client.content_access(&ids).await.unwrap();
        assert!(hidden.is_empty(), "{flavour:?}: {hidden:?}");
    }
    sb.confluence.set_client_account(None).unwrap();
}

#[tokio::test]
async fn with_restrictions_off_nothing_on_the_wire_changes() {
    let sb = spawn(|_| {}).await;
    for flavour in BOTH {
        let run = |restrictions: bool| {
            let sb = &sb;
            async move {
                let client = permission_client(sb, flavour, restrictions);
                sb.requests.reset();
                let pages = client.discover_labelled_pages().await.unwrap();
                client.descendant_pages(&["1".to_owned()]).await.unwrap();
                let sent: Vec<String> = requests(sb, flavour.service())
                    .into_iter()
                    .filter(|(_, route, _)| route.ends_with("content/search"))
                    .map(|(m, _, q)| format!("{m} {q}"))
                    .collect();
                (pages, sent)
            }
        };
        let (off_pages, off) = run(false).await;
        assert!(off_pages.iter().all(|p| p.access.is_none()));
        assert!(
            off.iter()
                .all(|r| !r.contains("restrictions") && !r.contains("ancestors")),
            "{flavour:?}: {off:?}"
        );
        let (_, on) = run(true).await;
        // On: the same searches, each with the access expansions.
        assert!(!off.is_empty());
        let searches: Vec<String> = on
            .iter()
            .map(|r| {
                r.replace(
                    ",ancestors,restrictions.read.restrictions.user,restrictions.read.restrictions.group",
                    "",
                )
            })
            .collect();
        assert_eq!(searches, off, "{flavour:?}");
    }
}

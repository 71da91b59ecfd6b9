//! `confluence-connector access-report` against the sandbox (issue 14): read-only, in every
//! format, on a tenant generated with users, groups, space permissions and restrictions; and a
//! `permissions.mode: none` sync that makes not one permission request.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use sandbox::common::FaultRule;
use sandbox::confluence::access::{
    AccessModel, AccessSpec, AccountStatus, AccountType, PageReaders,
};
use sandbox::confluence::GenerateSpec;
use sandbox::{SandboxConfig, SandboxHandle};
use serde_json::Value;
use support::*;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Flavour {
    Cloud,
    DataCenter,
}

/// Three spaces of twelve pages, 30 people in 4 groups (some hidden e-mails, a deactivated
/// account, bots), about a fifth of the pages view-restricted, some below another restricted
/// page.
fn generated() -> (sandbox::confluence::Dataset, AccessModel) {
    GenerateSpec {
        seed: 14,
        spaces: 3,
        pages_per_space: 12,
        max_attachments_per_page: 0,
        access: AccessSpec {
            users: 30,
            groups: 4,
            restricted_ratio: 0.2,
            nested_ratio: 0.5,
            email_hidden_ratio: 0.1,
            ..AccessSpec::default()
        },
        ..GenerateSpec::default()
    }
    .generate_with_access()
}

/// The sandbox with the generated tenant and a config with one tenant `t` whose
/// `permissions` section is `permissions` (YAML mapping on one line, or empty for none).
async fn given(
    flavour: Flavour,
    permissions: &str,
) -> (SandboxHandle, tempfile::TempDir, std::path::PathBuf) {
    let mut config = SandboxConfig::default();
    (config.confluence.dataset, config.confluence.access) = generated();
    let sandbox = spawn_sandbox_with(config).await;
    let dir = tempfile::tempdir().unwrap();
    let root = seed_root(&sandbox, "Confluence");
    let unique = cluster_local(&sandbox);
    let mut tenant = match flavour {
        Flavour::Cloud => cloud_tenant(&sandbox, "t", &root, "sandbox-client-secret", &unique),
        Flavour::DataCenter => dc_tenant(
            &sandbox,
            "t",
            &root,
            "{ mode: pat, token: sandbox-pat }",
            &unique,
        ),
    };
    if !permissions.is_empty() {
        tenant.push_str(&format!("      permissions: {permissions}\n"));
    }
    let config = write_config(dir.path(), ANY_PORT, "warn", &[tenant]);
    (sandbox, dir, config)
}

async fn report(config: &std::path::Path, format: &str) -> String {
    let out = run(Some(config), &["access-report", format], &[]).await;
    assert!(
        out.status.success(),
        "access-report {format} failed ({}):\n{}\n{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Every request the sandbox saw, as `service METHOD route`.
fn requests(sandbox: &SandboxHandle) -> Vec<String> {
    sandbox
        .requests
        .records()
        .iter()
        .map(|r| {
            format!(
                "{} {} {} {}",
                r.service, r.method, r.route, r.path_and_query
            )
        })
        .collect()
}

/// Nothing reached Unique (no request at all, so no write), and no ledger was created.
fn nothing_written(sandbox: &SandboxHandle, dir: &std::path::Path) {
    let unique: Vec<String> = requests(sandbox)
        .into_iter()
        .filter(|r| r.starts_with("unique") || r.starts_with("zitadel"))
        .collect();
    assert_eq!(
        unique,
        Vec::<String>::new(),
        "access-report talked to Unique"
    );
    assert!(sandbox.unique.files().is_empty());
    assert!(
        !dir.join("state.db").exists(),
        "access-report created the ledger"
    );
}

fn space_keys(sandbox: &SandboxHandle) -> BTreeSet<String> {
    sandbox
        .confluence
        .readers()
        .keys()
        .filter_map(|id| {
            sandbox
                .confluence
                .dataset()
                .content
                .iter()
                .find(|c| &c.id == id)
                .map(|c| c.space.clone())
        })
        .collect()
}

/// The pages of a space in the report, each in exactly one of the three lists.
fn page_ids(space: &Value) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut seen = 0;
    for id in space["pagesReadableBySpaceReaders"].as_array().unwrap() {
        ids.insert(id.as_str().unwrap().to_owned());
        seen += 1;
    }
    for list in ["restrictedPages", "unknownPages"] {
        for page in space[list].as_array().unwrap() {
            ids.insert(page["id"].as_str().unwrap().to_owned());
            seen += 1;
        }
    }
    assert_eq!(ids.len(), seen, "a page is listed twice: {space:#}");
    assert_eq!(space["pages"]["total"], seen as u64, "{space:#}");
    ids
}

/// Space permissions refused with 403: whatever the permission reads do, every space's and
/// page's readers are unknown, so the report must say so with a reason (fail closed).
fn refuse_space_permissions(sandbox: &SandboxHandle, flavour: Flavour) {
    sandbox.faults.add_rule(FaultRule {
        service: match flavour {
            Flavour::Cloud => "cloud",
            Flavour::DataCenter => "dc",
        }
        .into(),
        route: Some("permissions".into()),
        error_ratio: 1.0,
        error_status: 403,
        ..FaultRule::default()
    });
}

async fn the_json_report_lists_every_discovered_page_once_and_unknown_ones_with_a_reason(
    flavour: Flavour,
) {
    let (sandbox, _dir, config) = given(flavour, "").await;
    refuse_space_permissions(&sandbox, flavour);

    let json: Value = serde_json::from_str(&report(&config, "--json").await).unwrap();

    assert_eq!(json["ok"], true, "{json:#}");
    let tenant = &json["tenants"][0];
    assert_eq!(tenant["tenant"], "t");
    assert_eq!(tenant["configuredMode"], "none", "works with mode none");
    assert_eq!(tenant["anonymousPolicy"], "ignore");
    assert_eq!(tenant["error"], Value::Null);
    assert_eq!(tenant["truncated"], false);
    let spaces = tenant["spaces"].as_array().unwrap();
    let keys: BTreeSet<String> = spaces
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !keys.is_empty() && keys.is_subset(&space_keys(&sandbox)),
        "{keys:?}"
    );
    let mut total = 0;
    for space in spaces {
        let ids = page_ids(space);
        total += ids.len();
        assert_eq!(space["readers"]["status"], "unknown", "{space:#}");
        assert!(
            !space["readers"]["reason"].as_str().unwrap().is_empty(),
            "{space:#}"
        );
        assert_eq!(space["pages"]["unknown"], ids.len() as u64, "{space:#}");
        for page in space["unknownPages"].as_array().unwrap() {
            assert!(!page["reason"].as_str().unwrap().is_empty(), "{page:#}");
            assert!(!page["title"].as_str().unwrap().is_empty(), "{page:#}");
        }
        assert!(space["anonymous"].is_boolean() && space["allUsers"].is_boolean());
        assert!(space["leftOut"].is_object());
    }
    // What a sync would discover: the labelled pages and their descendants, nothing else.
    let ingest = run(Some(&config), &["sync", "--dry-run", "--json"], &[]).await;
    let summary: Value = serde_json::from_slice(&ingest.stdout).unwrap();
    let discovered = summary["tenants"][0]["plan"]["spaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["new"].as_array().unwrap().len())
        .sum::<usize>();
    assert!(total > 0);
    assert_eq!(total, discovered, "the report's pages are the sync's pages");
    sandbox.faults.clear();
}

#[tokio::test(flavor = "multi_thread")]
async fn json_report_data_center() {
    the_json_report_lists_every_discovered_page_once_and_unknown_ones_with_a_reason(
        Flavour::DataCenter,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn json_report_cloud() {
    the_json_report_lists_every_discovered_page_once_and_unknown_ones_with_a_reason(Flavour::Cloud)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn access_report_writes_nothing_and_never_talks_to_unique() {
    let (sandbox, dir, config) = given(Flavour::DataCenter, "{ mode: page }").await;
    for format in ["--json", "--csv", ""] {
        let args: Vec<&str> = ["access-report", format]
            .into_iter()
            .filter(|a| !a.is_empty())
            .collect();
        let out = run(Some(&config), &args, &[]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    nothing_written(&sandbox, dir.path());
}

/// One CSV line's fields (RFC 4180 quoting; the report's cells hold no line breaks).
fn csv_fields(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_report_has_one_row_per_space_page_and_principal() {
    let (sandbox, dir, config) = given(Flavour::DataCenter, "").await;
    refuse_space_permissions(&sandbox, Flavour::DataCenter);

    let csv = report(&config, "--csv").await;

    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("tenant,space,page_id,page_title,status,principal_type,principal,detail")
    );
    let rows: Vec<Vec<String>> = lines.map(csv_fields).collect();
    assert!(!rows.is_empty());
    assert!(rows.iter().all(|r| r.len() == 8), "{csv}");
    let space_rows: Vec<_> = rows.iter().filter(|r| r[2].is_empty()).collect();
    let page_rows: Vec<_> = rows.iter().filter(|r| !r[2].is_empty()).collect();
    assert!(!space_rows.is_empty() && !page_rows.is_empty(), "{csv}");
    for row in page_rows {
        assert_eq!(row[0], "t");
        assert_eq!(row[4], "unknown", "{row:?}");
        assert!(
            !row[7].is_empty(),
            "an unknown page names its reason: {row:?}"
        );
    }
    nothing_written(&sandbox, dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_tenant_is_a_usage_error() {
    let (_sandbox, _dir, config) = given(Flavour::DataCenter, "").await;
    let out = run(
        Some(&config),
        &["access-report", "--tenant", "nope", "--json"],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("known: t"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sync_with_the_default_mode_none_makes_not_one_permission_request() {
    for flavour in [Flavour::DataCenter, Flavour::Cloud] {
        let (sandbox, _dir, config) = given(flavour, "").await;
        let out = run(Some(&config), &["sync", "--json"], &[]).await;
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(!sandbox.unique.files().is_empty());
        let permission_requests: Vec<String> = requests(&sandbox)
            .into_iter()
            .filter(|r| {
                [
                    "/permissions",
                    "/restriction",
                    "/group",
                    "/user",
                    "users-bulk",
                ]
                .iter()
                .any(|route| r.split(' ').nth(2).unwrap_or("").contains(route))
                    || r.contains("restrictions.read")
                    || r.contains("ancestors")
            })
            .collect();
        assert_eq!(
            permission_requests,
            Vec::<String>::new(),
            "{flavour:?}: permissions.mode none must not read permissions"
        );
    }
}

/// What the report says a set of readers is, as lower-cased e-mails (groups expanded with the
/// sandbox's own membership).
fn granted(readers: &Value, model: &AccessModel) -> BTreeSet<String> {
    assert_eq!(readers["status"], "known", "{readers:#}");
    let mut emails: BTreeSet<String> = readers["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    for group in readers["groups"].as_array().unwrap() {
        let id = group["id"].as_str().unwrap();
        let found = model
            .groups
            .iter()
            .find(|g| g.cloud_id() == id || g.name == id)
            .unwrap_or_else(|| panic!("group {id} is not in the sandbox"));
        emails.extend(
            model
                .members(found)
                .into_iter()
                // Unique's copy of the group holds only its mapped members: people, active.
                .filter(|u| {
                    u.status == AccountStatus::Active && u.account_type == AccountType::Atlassian
                })
                .filter_map(|u| u.email.as_ref().map(|e| e.to_lowercase())),
        );
    }
    emails
}

/// The sandbox's ground truth for a page, as the e-mails of the people who can read it and
/// whose e-mail the connector can see.
fn truth(
    page: &str,
    readers: &BTreeMap<String, PageReaders>,
    model: &AccessModel,
    flavour: Flavour,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut all = BTreeSet::new();
    let mut mappable = BTreeSet::new();
    for account in readers[page].users.iter() {
        let Some(user) = model.users.iter().find(|u| &u.account_id == account) else {
            continue;
        };
        let Some(email) = &user.email else { continue };
        all.insert(email.to_lowercase());
        if flavour == Flavour::DataCenter || user.email_visible {
            mappable.insert(email.to_lowercase());
        }
    }
    (all, mappable)
}

async fn effective_readers_match_the_sandboxs_ground_truth(flavour: Flavour) {
    let (sandbox, _dir, config) = given(flavour, "{ mode: page }").await;
    let json: Value = serde_json::from_str(&report(&config, "--json").await).unwrap();
    let model = sandbox.confluence.access();
    let readers = sandbox.confluence.readers();
    let mut restricted = 0;
    let mut compared = 0;
    for space in json["tenants"][0]["spaces"].as_array().unwrap() {
        assert_eq!(space["pages"]["unknown"], 0, "{space:#}");
        let space_readers = granted(&space["readers"], &model);
        let mut pages: Vec<(String, BTreeSet<String>)> = space["pagesReadableBySpaceReaders"]
            .as_array()
            .unwrap()
            .iter()
            .map(|id| (id.as_str().unwrap().to_owned(), space_readers.clone()))
            .collect();
        for page in space["restrictedPages"].as_array().unwrap() {
            restricted += 1;
            pages.push((
                page["id"].as_str().unwrap().to_owned(),
                granted(&page["readers"], &model),
            ));
        }
        for (id, granted) in pages {
            let (all, mappable) = truth(&id, &readers, &model, flavour);
            let over: Vec<_> = granted.difference(&all).collect();
            assert!(over.is_empty(), "page {id}: over-granted {over:?}");
            let under: Vec<_> = mappable.difference(&granted).collect();
            assert!(under.is_empty(), "page {id}: left out {under:?}");
            compared += 1;
        }
    }
    assert!(compared > 0 && restricted > 0, "{json:#}");
}

#[tokio::test(flavor = "multi_thread")]
async fn effective_readers_match_the_ground_truth_data_center() {
    effective_readers_match_the_sandboxs_ground_truth(Flavour::DataCenter).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn effective_readers_match_the_ground_truth_cloud() {
    effective_readers_match_the_sandboxs_ground_truth(Flavour::Cloud).await;
}

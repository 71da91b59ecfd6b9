//! `confluence-connector check` against the sandbox: a good config passes every line, a wrong
//! secret fails with an actionable line, an unloadable config exits 2.
#![allow(clippy::unwrap_used)]

mod support;

use sandbox::common::FaultRule;
use support::*;

#[tokio::test(flavor = "multi_thread")]
async fn check_passes_on_a_good_config_with_cloud_and_data_center() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let unique = cluster_local(&sandbox);
    let cloud_root = seed_root(&sandbox, "Cloud root");
    let dc_root = seed_root(&sandbox, "DC root");
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "info",
        &[
            cloud_tenant(
                &sandbox,
                "cloudy",
                &cloud_root,
                "os.environ/CLOUD_SECRET",
                &unique,
            ),
            dc_tenant(
                &sandbox,
                "dc",
                &dc_root,
                "{ mode: pat, token: os.environ/DC_PAT }",
                &unique,
            ),
        ],
    );
    let out = run(
        Some(&config),
        &["check"],
        &[
            ("CLOUD_SECRET", "sandbox-client-secret"),
            ("DC_PAT", "sandbox-pat"),
        ],
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(!stdout.contains('✗'), "{stdout}");
    for expected in [
        "✓ configuration loaded: 2 tenant(s)",
        "✓ cloudy: Confluence token obtained",
        "✓ cloudy: one-result CQL search answered",
        "✓ dc: Unique reachable",
        "✓ dc: root scope",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn check_fails_with_a_fix_when_the_confluence_secret_is_wrong() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let root = seed_root(&sandbox, "root");
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "info",
        &[cloud_tenant(
            &sandbox,
            "cloudy",
            &root,
            "not-the-secret",
            &cluster_local(&sandbox),
        )],
    );
    let out = run(Some(&config), &["check"], &[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ cloudy: Confluence credentials rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("fix: check confluence.auth"), "{stdout}");
    assert!(!stdout.contains("not-the-secret"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_exits_2_and_names_the_field_when_a_secret_variable_is_missing() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "info",
        &[cloud_tenant(
            &sandbox,
            "cloudy",
            "root",
            "os.environ/UNSET_SECRET",
            &cluster_local(&sandbox),
        )],
    );
    let out = run(Some(&config), &["check"], &[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(stdout.contains("✗ configuration"), "{stdout}");
    assert!(stdout.contains("clientSecret"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn check_fails_when_the_root_scope_does_not_exist() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "info",
        &[dc_tenant(
            &sandbox,
            "dc",
            "no-such-scope",
            "{ mode: pat, token: sandbox-pat }",
            &cluster_local(&sandbox),
        )],
    );
    let out = run(Some(&config), &["check"], &[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("✗ dc: root scope no-such-scope not found"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn check_fails_when_the_root_scope_belongs_to_another_instance() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let taken = sandbox
        .unique
        .seed_scope(sandbox::unique::SeedScope {
            id: None,
            name: "Taken root".into(),
            parent_id: None,
            external_id: Some("confc:other-instance".into()),
            accesses: Vec::new(),
        })
        .unwrap()
        .id;
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "info",
        &[dc_tenant(
            &sandbox,
            "dc",
            &taken,
            "{ mode: pat, token: sandbox-pat }",
            &cluster_local(&sandbox),
        )],
    );
    let out = run(Some(&config), &["check"], &[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "✗ dc: root scope {taken} belongs to confc:other-instance"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("two instances must never share"),
        "{stdout}"
    );
}

/// `check` and `sync` judge the state location through one code path: a SQLite path whose
/// directory cannot be created fails both, and each prints the OS error once.
#[tokio::test(flavor = "multi_thread")]
async fn check_fails_where_sync_would_on_a_state_directory_that_cannot_be_created() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let config = one_dc_tenant_config(&sandbox, dir.path());
    // A file where a directory of the state path has to go: not even root can create it.
    let blocker = dir.path().join("not-a-directory");
    std::fs::write(&blocker, b"").unwrap();
    let state = blocker.join("state/state.db");
    let yaml = std::fs::read_to_string(&config).unwrap().replace(
        &format!("sqlite://{}", dir.path().join("state.db").display()),
        &format!("sqlite://{}", state.display()),
    );
    std::fs::write(&config, yaml).unwrap();
    let os_error = std::io::Error::from_raw_os_error(20).to_string();

    let checked = run(Some(&config), &["check"], &[]).await;
    let stdout = text(&checked.stdout);
    assert_eq!(checked.status.code(), Some(1), "{stdout}");
    let ledger_line = stdout
        .lines()
        .find(|l| l.starts_with("✗ state ledger"))
        .unwrap_or_else(|| panic!("no failed ledger line in\n{stdout}"));
    assert_eq!(ledger_line.matches(&os_error).count(), 1, "{ledger_line}");
    assert!(
        stdout.contains("✓ dc: Confluence token obtained"),
        "{stdout}"
    );

    let synced = run(Some(&config), &["sync"], &[]).await;
    let stderr = text(&synced.stderr);
    assert_eq!(synced.status.code(), Some(1), "{stderr}");
    let error_line = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in\n{stderr}"));
    assert_eq!(error_line.matches(&os_error).count(), 1, "{error_line}");
    assert!(!blocker.join("state").exists());
}

/// A 403 names what the flavour's administrator grants: Data Center permissions for a Data
/// Center tenant (not the Cloud OAuth scopes), Cloud scopes for a Cloud tenant.
#[tokio::test(flavor = "multi_thread")]
async fn a_403_on_data_center_names_data_center_permissions_not_cloud_scopes() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let unique = cluster_local(&sandbox);
    let dc_root = seed_root(&sandbox, "dc");
    let cloud_root = seed_root(&sandbox, "cloud");
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "warn",
        &[
            dc_tenant(
                &sandbox,
                "dc",
                &dc_root,
                "{ mode: pat, token: sandbox-pat }",
                &unique,
            ),
            cloud_tenant(
                &sandbox,
                "cloudy",
                &cloud_root,
                "sandbox-client-secret",
                &unique,
            ),
        ],
    );
    for service in ["dc", "cloud"] {
        sandbox
            .faults
            .add_rule(FaultRule::error(service, 403, 1.0).on_route("content/search"));
    }

    let out = run(Some(&config), &["check"], &[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = |prefix: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(prefix) && l.contains("403"))
            .unwrap_or_else(|| panic!("no 403 line for {prefix} in\n{stdout}"))
            .to_owned()
    };
    let dc = line("✗ dc:");
    assert!(
        dc.contains("Can use") && dc.contains("View on the space"),
        "{dc}"
    );
    assert!(
        !dc.contains(":confluence"),
        "Cloud scopes in the DC hint: {dc}"
    );
    let cloud = line("✗ cloudy:");
    assert!(cloud.contains("read:page"), "{cloud}");

    let out = run(Some(&config), &["sync", "--json"], &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dc = json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == "dc")
        .unwrap()["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        dc.contains("Can use") && !dc.contains(":confluence"),
        "{dc}"
    );
}

//! `confluence-connector sync` against the sandbox: JSON summary, dry run, tenant selection and
//! the exit status.
#![allow(clippy::unwrap_used)]

mod support;

use serde_json::Value;
use support::*;
use sync_engine::{Ledger, LedgerOptions};

fn summary(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

fn tenant<'a>(json: &'a Value, name: &str) -> &'a Value {
    json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == name)
        .unwrap_or_else(|| panic!("no {name} in {json}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_json_reports_each_tenant_and_exits_0() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let unique = cluster_local(&sandbox);
    let cloud_root = seed_root(&sandbox, "Cloud root");
    let dc_root = seed_root(&sandbox, "DC root");
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "warn",
        &[
            cloud_tenant(
                &sandbox,
                "cloudy",
                &cloud_root,
                "sandbox-client-secret",
                &unique,
            ),
            dc_tenant(
                &sandbox,
                "dc",
                &dc_root,
                "{ mode: pat, token: sandbox-pat }",
                &unique,
            ),
        ],
    );

    // A dry run first: it diffs but writes nothing to Unique.
    let out = run(Some(&config), &["sync", "--dry-run", "--json"], &[]).await;
    let json = summary(&out);
    assert!(out.status.success(), "{json}\n{}", text(&out.stderr));
    assert_eq!(json["dryRun"], true);
    assert!(tenant(&json, "cloudy")["plan"].is_object(), "{json}");
    assert!(
        sandbox.unique.files().is_empty(),
        "a dry run uploaded content"
    );

    // Without --json the plan is one line per space.
    let out = run(Some(&config), &["sync", "--dry-run"], &[]).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("would sync"), "{stdout}");
    assert!(
        sandbox.unique.files().is_empty(),
        "a dry run uploaded content"
    );

    // The real run.
    let out = run(Some(&config), &["sync", "--json"], &[]).await;
    let json = summary(&out);
    assert!(out.status.success(), "{json}\n{}", text(&out.stderr));
    assert_eq!(json["ok"], true);
    assert_eq!(json["dryRun"], false);
    for name in ["cloudy", "dc"] {
        let t = tenant(&json, name);
        assert_eq!(t["status"], "success", "{t}");
        assert_eq!(t["kind"], "sync");
        assert!(t["run_id"].as_i64().is_some(), "{t}");
    }
    assert!(!sandbox.unique.files().is_empty());

    // Only one tenant.
    let out = run(Some(&config), &["sync", "--tenant", "dc", "--json"], &[]).await;
    let json = summary(&out);
    assert!(out.status.success(), "{json}");
    assert_eq!(json["tenants"].as_array().unwrap().len(), 1);
    assert_eq!(tenant(&json, "dc")["status"], "success");

    // An unknown tenant is a usage error.
    let out = run(Some(&config), &["sync", "--tenant", "nope"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no active or deleted tenant named `nope`"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_exits_1_when_a_tenant_fails_and_still_runs_the_others() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let unique = cluster_local(&sandbox);
    let good_root = seed_root(&sandbox, "good");
    let bad_root = seed_root(&sandbox, "bad");
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "warn",
        &[
            cloud_tenant(&sandbox, "bad", &bad_root, "wrong-secret", &unique),
            dc_tenant(
                &sandbox,
                "good",
                &good_root,
                "{ mode: pat, token: sandbox-pat }",
                &unique,
            ),
        ],
    );
    let out = run(Some(&config), &["sync", "--json"], &[]).await;
    let json = summary(&out);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["ok"], false);
    assert_eq!(tenant(&json, "bad")["status"], "failed");
    assert!(tenant(&json, "bad")["error"].as_str().unwrap().len() > 5);
    assert_eq!(tenant(&json, "good")["status"], "success");
}

/// A run that cannot start still answers `--json` with one JSON document (the error, no
/// tenants), and exits 1 as documented for a failed sync.
#[tokio::test(flavor = "multi_thread")]
async fn sync_json_prints_the_error_as_json_when_the_ledger_is_locked() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let config = one_dc_tenant_config(&sandbox, dir.path());
    // Another writer (as a running daemon would) holds the SQLite ledger.
    let holder = Ledger::open(
        dir.path().join("state.db").to_str().unwrap(),
        LedgerOptions::default(),
    )
    .await
    .unwrap();

    let out = run(Some(&config), &["sync", "--json"], &[]).await;
    let json = summary(&out);
    assert_eq!(out.status.code(), Some(1), "{json}");
    assert_eq!(json["ok"], false);
    assert_eq!(json["dryRun"], false);
    assert_eq!(json["tenants"], serde_json::json!([]));
    let error = json["error"].as_str().unwrap();
    assert!(
        error.contains("already in use by another process"),
        "{error}"
    );
    assert!(
        sandbox.requests.count_service("dc") == 0,
        "the run started anyway"
    );

    // A usage error too: the exit status stays 2.
    let out = run(Some(&config), &["sync", "--json", "--tenant", "nope"], &[]).await;
    let json = summary(&out);
    assert_eq!(out.status.code(), Some(2), "{json}");
    assert!(json["error"].as_str().unwrap().contains("`nope`"), "{json}");
    // And a configuration that does not load.
    let missing = dir.path().join("missing.yaml");
    let out = run(Some(&missing), &["sync", "--json"], &[]).await;
    let json = summary(&out);
    assert_eq!(out.status.code(), Some(2), "{json}");
    assert!(
        json["error"].as_str().unwrap().contains("missing.yaml"),
        "{json}"
    );
    holder.close().await;
}

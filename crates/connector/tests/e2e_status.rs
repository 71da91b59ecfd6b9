//! `confluence-connector status` reads recent runs from the ledger.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::*;
use sync_engine::{ItemPhase, Ledger, LedgerOptions, RunCounts, RunOutcome, RunTrigger};

async fn ledger_with_runs(path: &std::path::Path) {
    let ledger = Ledger::open(
        &format!("sqlite://{}", path.display()),
        LedgerOptions::default(),
    )
    .await
    .unwrap();
    for (tenant, outcome) in [
        ("acme", RunOutcome::Success),
        ("acme", RunOutcome::Failed),
        ("globex", RunOutcome::Success),
    ] {
        let lease = ledger
            .try_acquire_lease(tenant, Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        let run = ledger.start_run(tenant, RunTrigger::Cli).await.unwrap();
        let counts = RunCounts {
            diff_new: 3,
            ..RunCounts::default()
        };
        let error = matches!(outcome, RunOutcome::Failed).then_some("Confluence unreachable");
        if tenant == "globex" {
            ledger
                .record_item_failure(run, "globex/1_ENG/42", ItemPhase::Ingest, "upload refused")
                .await
                .unwrap();
        }
        ledger
            .finish_run(run, outcome, &counts, error)
            .await
            .unwrap();
        ledger.release_lease(lease).await.unwrap();
    }
    ledger.close().await;
}

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "state:\n  url: sqlite://{}\n",
            dir.join("state.db").display()
        ),
    )
    .unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn status_json_lists_recent_runs_per_tenant_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    ledger_with_runs(&dir.path().join("state.db")).await;
    let out = run(Some(&config(dir.path())), &["status", "--json"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let acme = json["tenants"]["acme"]["runs"].as_array().unwrap();
    assert_eq!(acme.len(), 2);
    assert_eq!(acme[0]["status"], "failed");
    assert_eq!(acme[0]["error"], "Confluence unreachable");
    assert_eq!(acme[1]["status"], "success");
    assert_eq!(
        json["tenants"]["globex"]["runs"][0]["counts"]["diff_new"],
        3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    ledger_with_runs(&dir.path().join("state.db")).await;
    let out = run(Some(&config(dir.path())), &["status"], &[]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("TENANT"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("acme")
            && l.contains("failed")
            && l.contains("Confluence unreachable")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("globex") && l.contains("success")),
        "{stdout}"
    );
}

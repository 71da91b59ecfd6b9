//! `confluence-connector run` against the sandbox: two tenants (Cloud and Data Center) sync at
//! start, readiness and metrics reflect it, a changed config file is picked up without a
//! restart (and a broken one is rejected), and SIGTERM stops the daemon with exit 0.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

fn synced(body: &Value, tenant: &str) -> bool {
    let t = &body["details"]["sync"]["tenants"][tenant];
    t["total"].as_u64().unwrap_or(0) >= 1 && t["failures"] == 0
}

fn configured(body: &Value) -> Vec<String> {
    body["details"]["config"]["tenants"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn run_syncs_both_flavours_reloads_and_stops_on_sigterm() {
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let unique = cluster_local(&sandbox);
    let cloud_root = seed_root(&sandbox, "Cloud root");
    let dc_root = seed_root(&sandbox, "DC root");
    let mut tenants = vec![
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
    ];
    let config = write_config(dir.path(), ANY_PORT, "info", &tenants);
    let mut daemon = Daemon::start(&config, dir.path()).await;

    // Given a running daemon, when both tenants have had their startup run…
    let body = daemon
        .wait_ready("both tenants synced", |b| {
            synced(b, "cloudy") && synced(b, "dc")
        })
        .await;
    // …then readiness is green with the reference's checks, and content landed.
    assert_eq!(body["status"], "ok", "{body}");
    for check in ["config", "ledger", "sync", "connectivity", "uniqueApi"] {
        assert_eq!(body["details"][check]["status"], "up", "{check}: {body}");
    }
    let files = sandbox.unique.files();
    let scopes = sandbox.unique.scopes();
    let under = |root: &str| {
        files
            .iter()
            .filter(|f| {
                scopes
                    .iter()
                    .any(|s| s.id == f.scope_id && s.parent_id.as_deref() == Some(root))
            })
            .count()
    };
    assert!(under(&cloud_root) > 0, "nothing under the Cloud root");
    assert!(under(&dc_root) > 0, "nothing under the DC root");

    // /healthz and /metrics.
    assert_eq!(daemon.get("/healthz").await.unwrap().0, 200);
    let (status, metrics) = daemon.get("/metrics").await.unwrap();
    assert_eq!(status, 200);
    for family in [
        "# TYPE cfc_sync_duration_seconds histogram",
        "cfc_sync_duration_seconds_bucket{tenant=\"cloudy\",result=\"success\",le=\"+Inf\"} 1",
        "cfc_sync_duration_seconds_count{tenant=\"dc\",result=\"success\"} 1",
        "# TYPE cfc_scan_duration_seconds histogram",
        "# TYPE cfc_pages_processed_total counter",
        "cfc_pages_processed_total{tenant=\"cloudy\",result=\"success\"}",
        "# TYPE cfc_attachments_processed_total counter",
        "# TYPE cfc_file_diff_events_total counter",
        "cfc_file_diff_events_total{tenant=\"dc\",diff_result_type=\"new\"}",
        "# TYPE cfc_confluence_api_request_duration_seconds histogram",
        "cfc_confluence_api_request_duration_seconds_count{tenant=\"cloudy\",endpoint=\"/rest/api/content/search\",result=\"success\"}",
        "# TYPE cfc_confluence_api_throttle_events_total counter",
        "# TYPE cfc_sync_phase gauge",
        "cfc_sync_phase{tenant=\"cloudy\",phase=\"idle\"} 1",
        "cfc_sync_pages_total{tenant=\"dc\"}",
        "cfc_ledger_runs_total{tenant=\"dc\",status=\"success\"} 1",
        "cfc_http_attempts_total{tenant=\"dc\",service=\"unique\",http_status_class=\"2xx\"}",
    ] {
        assert!(metrics.contains(family), "missing {family}\n{metrics}");
    }

    promtool_accepts(&metrics);

    // When a tenant is added to the config file, it is picked up without a restart: here a
    // deleted one (its cleanup runs at once; an active one would need another instance).
    let late_root = seed_root(&sandbox, "Late root");
    tenants.push(
        dc_tenant(
            &sandbox,
            "late",
            &late_root,
            "{ mode: basic, username: sandbox-user, password: sandbox-password }",
            &unique,
        )
        .replacen(":\n", ":\n      status: deleted\n", 1),
    );
    write_config(dir.path(), ANY_PORT, "info", &tenants);
    daemon
        .wait_ready("the added tenant synced", |b| {
            synced(b, "late") && configured(b).len() == 3
        })
        .await;

    // When the file becomes invalid, the current tenants stay.
    std::fs::write(
        &config,
        "tenants: [not, a, mapping]\nlog: {level: nonsense}\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !daemon.logs().contains("Reload rejected") {
        assert!(
            Instant::now() < deadline,
            "no rejection logged:\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let body = daemon.readyz().await.unwrap();
    assert_eq!(configured(&body), ["cloudy", "dc", "late"], "{body}");

    // When SIGTERM arrives, the daemon stops with 0 within the grace period (10 s).
    daemon.sigterm();
    let status = daemon.wait_exit(Duration::from_secs(12)).await;
    assert_eq!(status.code(), Some(0));
}

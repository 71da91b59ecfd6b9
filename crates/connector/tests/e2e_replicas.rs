//! Two `run` replicas sharing a PostgreSQL ledger: every tenant is synced, and no tenant ever
//! runs on both replicas at once (the lease). Needs `DATABASE_URL_POSTGRES` (scripts/test.sh
//! starts a throwaway cluster); skipped without it.
#![allow(clippy::unwrap_used)]

mod support;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::*;
use sync_engine::{Ledger, LedgerOptions, RunStatus};

async fn fresh_database() -> Option<String> {
    fresh_postgres_database("connector", "the replica test").await
}

struct Replica(Child);

impl Drop for Replica {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn replicas_share_tenants_through_leases_without_overlap() {
    let Some(url) = fresh_database().await else {
        return;
    };
    // Two Confluence sites (distinct cloud ids), two tenants each: four tenants to share.
    let mut second = sandbox::SandboxConfig::default();
    second.confluence.cloud_id = "sandbox-cloud-two".into();
    let (one, two) = (spawn_sandbox().await, spawn_sandbox_with(second).await);
    let mut tenants = Vec::new();
    for (i, sandbox) in [&one, &two].into_iter().enumerate() {
        let unique = cluster_local(sandbox);
        let cloud_root = seed_root(sandbox, "Cloud root");
        let dc_root = seed_root(sandbox, "DC root");
        tenants.push(cloud_tenant(
            sandbox,
            &format!("cloud{i}"),
            &cloud_root,
            "sandbox-client-secret",
            &unique,
        ));
        tenants.push(dc_tenant(
            sandbox,
            &format!("dc{i}"),
            &dc_root,
            "{ mode: pat, token: sandbox-pat }",
            &unique,
        ));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut replicas = Vec::new();
    for r in 0..2 {
        let sub = dir.path().join(format!("r{r}"));
        std::fs::create_dir_all(&sub).unwrap();
        let config = write_config(&sub, ANY_PORT, "info", &tenants);
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text.replace(
            &format!("sqlite://{}", sub.join("state.db").display()),
            &url,
        );
        std::fs::write(&config, text).unwrap();
        let log = std::fs::File::create(sub.join("log")).unwrap();
        replicas.push(Replica(
            command(Some(&config), &["run"], &[])
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap(),
        ));
    }

    let names = ["cloud0", "dc0", "cloud1", "dc1"];
    // Opened writable so the schema exists before the replicas have migrated it.
    let ledger = Ledger::open(&url, LedgerOptions::default()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = ledger.recent_runs(None, 100).await.unwrap();
        let done = names.iter().all(|t| {
            runs.iter()
                .any(|r| &r.tenant == t && r.status == RunStatus::SUCCESS)
        });
        if done {
            break;
        }
        if Instant::now() > deadline {
            let logs: Vec<String> = (0..2)
                .map(|r| {
                    std::fs::read_to_string(dir.path().join(format!("r{r}/log")))
                        .unwrap_or_default()
                })
                .collect();
            panic!(
                "not every tenant synced: {runs:#?}\nlogs:\n{}",
                logs.join("\n---\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for r in &replicas {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &r.0.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    for mut r in replicas {
        let deadline = Instant::now() + Duration::from_secs(12);
        let status = loop {
            if let Some(status) = r.0.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "a replica did not stop");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(status.code(), Some(0));
    }

    // No tenant's runs overlap in time, whichever replica ran them.
    let runs = ledger.recent_runs(None, 100).await.unwrap();
    for t in names {
        let mut mine: Vec<_> = runs.iter().filter(|r| r.tenant == t).collect();
        mine.sort_by_key(|r| r.started_at);
        for pair in mine.windows(2) {
            let finished = pair[0].finished_at.unwrap();
            assert!(finished <= pair[1].started_at, "{t} overlapped: {pair:#?}");
        }
    }
    let holders: std::collections::BTreeSet<_> = runs.iter().map(|r| r.holder.clone()).collect();
    println!("runs by {} holder(s)", holders.len());
}

//! Crash safety with a real crash: the engine runs in a child process (this test binary re-run
//! as `engine_child`) against the parent's sandbox and a SQLite ledger file, and is killed with
//! SIGKILL at a spread of points of its cycle. A fresh engine in the parent then reopens the
//! ledger (which marks the killed run `interrupted`) and converges to exactly the expected keys
//! and bytes, with no duplicates and every file finalized.
//!
//! A file of its own: the child inherits open file descriptors until it execs, so no other test
//! of this binary may hold a ledger lock meanwhile.
#![allow(clippy::unwrap_used)]

mod cycle_common;

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confluence_client::{ConfluenceClient, ConfluenceConfig, NoopObserver, SecretString};
use cycle_common::*;
use sandbox::unique::UniqueFault;
use sync_engine::{
    CancellationToken, CycleMode, Ledger, LedgerOptions, NoopCycleObserver, RunOutcome, RunStatus,
    RunTrigger, TenantSync,
};
use unique_client::{UniqueAuth, UniqueClient, UniqueConfig};

/// Set for the child: `<gateway>|<site>|<cloud id>|<ingestion>|<scope management>|<ledger>|<root>`.
const CHILD_ENV: &str = "SYNC_ENGINE_KILL9_CHILD";

fn tenant() -> sandbox::confluence::Dataset {
    dataset(
        (0..6u64)
            .map(|i| {
                let mut p = page(1000 + i, "SP", None, &["ai-ingest"]);
                p.attachments = vec![attachment(
                    2000 + i,
                    &format!("f{i}.pdf"),
                    "application/pdf",
                    &format!("attachment {i}"),
                )];
                p
            })
            .collect(),
    )
}

fn expected_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = (0..6u64)
        .flat_map(|i| {
            [
                (
                    key(SP, &(1000 + i).to_string()),
                    format!("<p>Body of {}</p>", 1000 + i).into_bytes(),
                ),
                (
                    key(SP, &format!("{}::att{}", 1000 + i, 2000 + i)),
                    format!("attachment {i}").into_bytes(),
                ),
            ]
        })
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_killed_engine_process_converges_on_the_next_start() {
    for stop_after in [2, 5, 10, 16, 24, 32] {
        let h = Harness::new(Flavour::Cloud, tenant()).await;
        // Slow uploads a little, so the cycle is long enough to be killed in every phase.
        h.sb.unique
            .add_fault(UniqueFault::latency("upload", Duration::from_millis(15)));
        let dir = tempfile::tempdir().unwrap();
        let ledger_path = dir.path().join("ledger.db");
        let urls = &h.sb.urls;
        let spec = [
            urls.cloud_gateway.as_str(),
            urls.cloud_site.as_str(),
            urls.cloud_id.as_str(),
            urls.unique_ingestion.as_str(),
            urls.unique_scope_management.as_str(),
            ledger_path.to_str().unwrap(),
            h.root_id.as_str(),
        ]
        .join("|");
        let mut child = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "engine_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, spec)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();

        let deadline = Instant::now() + Duration::from_secs(20);
        let killed = loop {
            if child.try_wait().unwrap().is_some() {
                break false;
            }
            if h.sb.requests.records().len() >= stop_after {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                break true;
            }
            assert!(Instant::now() < deadline, "child never got going");
            tokio::time::sleep(Duration::from_micros(300)).await;
        };
        assert!(killed, "the child finished before {stop_after} requests");

        // The next start: reopen the file, run a fresh engine.
        let ledger = Ledger::open(ledger_path.to_str().unwrap(), LedgerOptions::default())
            .await
            .unwrap();
        let confluence =
            ConfluenceClient::new(h.confluence_config(true), Arc::new(NoopObserver)).unwrap();
        let report = TenantSync::new(
            h.spec(),
            confluence,
            h.unique_client(),
            ledger.clone(),
            Arc::new(NoopCycleObserver),
        )
        .run_cycle(
            RunTrigger::Startup,
            CycleMode::Normal,
            CancellationToken::new(),
        )
        .await
        .unwrap();

        assert_eq!(
            report.status,
            RunOutcome::Success,
            "killed after {stop_after}"
        );
        let files = h.sb.unique.files();
        let mut actual: Vec<(String, Vec<u8>)> = files
            .iter()
            .map(|f| {
                (
                    f.key.clone(),
                    h.sb.unique.file_bytes(&f.key).unwrap_or_default(),
                )
            })
            .collect();
        actual.sort();
        assert_eq!(actual, expected_files(), "killed after {stop_after}");
        assert!(
            files.iter().all(|f| f.uploaded_size.is_some()),
            "every file finalized after a kill at {stop_after}"
        );
        let statuses: Vec<RunStatus> = ledger
            .recent_runs(Some(TENANT), 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.status)
            .collect();
        assert_eq!(
            statuses,
            [RunStatus::SUCCESS, RunStatus::Interrupted],
            "killed after {stop_after}"
        );
        ledger.close().await;
    }
}

/// Not a test on its own: the engine process `a_killed_engine_process_converges_on_the_next_start`
/// starts and kills.
#[tokio::test]
async fn engine_child() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = spec.split('|').collect();
    let [gateway, site, cloud_id, ingestion, scope_management, ledger_path, root_id] = parts[..]
    else {
        panic!("bad {CHILD_ENV}: {spec}");
    };
    let mut config = ConfluenceConfig::cloud(
        site.to_owned(),
        cloud_id.to_owned(),
        "sandbox-client-id",
        SecretString::from("sandbox-client-secret".to_owned()),
    );
    config.api_gateway_url = gateway.to_owned();
    config.token_url = Some(format!("{gateway}/oauth/token"));
    config.rate_limit_per_minute = NonZeroU32::new(600_000).unwrap();
    let confluence = ConfluenceClient::new(config, Arc::new(NoopObserver)).unwrap();
    let auth = UniqueAuth::ClusterLocal {
        extra_headers: BTreeMap::from([
            ("x-company-id".to_owned(), "sandbox-company".to_owned()),
            ("x-user-id".to_owned(), "sandbox-user".to_owned()),
        ]),
    };
    let mut unique_config =
        UniqueConfig::new(auth, ingestion.to_owned(), scope_management.to_owned());
    unique_config.api_rate_limit_per_minute = NonZeroU32::new(600_000).unwrap();
    let unique = UniqueClient::new(unique_config).unwrap();
    let ledger = Ledger::open(ledger_path, LedgerOptions::default())
        .await
        .unwrap();
    let mut spec = sync_engine::TenantSpec::new(TENANT, root_id);
    spec.attachments.allowed_mime_types = vec!["application/pdf".to_owned()];
    spec.attachments.image_ocr = false;
    spec.concurrency = 4;
    TenantSync::new(
        spec,
        confluence,
        unique,
        ledger,
        Arc::new(NoopCycleObserver),
    )
    .run_cycle(
        RunTrigger::Schedule,
        CycleMode::Normal,
        CancellationToken::new(),
    )
    .await
    .unwrap();
}

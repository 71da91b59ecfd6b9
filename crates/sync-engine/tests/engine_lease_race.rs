//! Two engines racing for one tenant on one PostgreSQL ledger never sync it at the same time:
//! two `TenantSync`s, each on its own `Ledger` (two replicas), loop "acquire the tenant's lease →
//! `run_cycle` → release" against one sandbox while the tenant's pages keep changing. No two
//! cycles may overlap — by the engines' own clocks, by the runs the ledger recorded, and by the
//! requests the sandbox saw — and the tenant converges to exactly its pages, once each.
//!
//! Runs when `DATABASE_URL_POSTGRES` is set (`scripts/test.sh` starts a throwaway server);
//! otherwise prints a skip line.
#![allow(clippy::unwrap_used)]

mod cycle_common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use confluence_client::{ConfluenceClient, NoopObserver};
use cycle_common::*;
use sandbox::confluence::ContentEdit;
use sync_engine::{
    CancellationToken, CycleMode, Ledger, LedgerOptions, NoopCycleObserver, RunOutcome, RunStatus,
    RunTrigger, TenantSync,
};

const PAGES: u64 = 12;
const ROUNDS_PER_ENGINE: usize = 6;

/// A fresh database on the PostgreSQL test server.
async fn fresh_database() -> Option<String> {
    sync_engine::testing::fresh_postgres_database("test", "two engines racing on PostgreSQL").await
}

/// One cycle as one engine saw it, lease held throughout.
#[derive(Debug, Clone)]
struct Cycle {
    engine: usize,
    start: Instant,
    end: Instant,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_engines_racing_for_one_tenant_on_postgres_never_overlap() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let pages = (0..PAGES)
        .map(|i| page(2000 + i, "SP", None, &["ai-ingest"]))
        .collect();
    let h = Arc::new(Harness::new(Flavour::Cloud, dataset(pages)).await);
    let ttl = Duration::from_secs(30);

    let mut ledgers = Vec::new();
    let mut engines = Vec::new();
    for name in ["replica-a", "replica-b"] {
        let ledger = Ledger::open(&url, LedgerOptions::default().with_holder_name(name))
            .await
            .unwrap();
        let confluence =
            ConfluenceClient::new(h.confluence_config(true), Arc::new(NoopObserver)).unwrap();
        engines.push(Arc::new(TenantSync::new(
            h.spec(),
            confluence,
            h.unique_client(),
            ledger.clone(),
            Arc::new(NoopCycleObserver),
        )));
        ledgers.push(ledger);
    }

    let log = Arc::new(Mutex::new(Vec::<Cycle>::new()));
    let mut tasks = Vec::new();
    for (engine, sync) in engines.iter().enumerate() {
        let (sync, ledger, log, h) = (
            Arc::clone(sync),
            ledgers[engine].clone(),
            Arc::clone(&log),
            Arc::clone(&h),
        );
        tasks.push(async move {
            let mut done = 0;
            let mut edits = 0u64;
            while done < ROUNDS_PER_ENGINE {
                let Some(lease) = ledger.try_acquire_lease(TENANT, ttl).await.unwrap() else {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                };
                // Give every cycle real work: one edited page to diff, fetch and upload.
                edits += 1;
                let page_id = (2000 + (engine as u64 * 5 + edits) % PAGES).to_string();
                h.sb.confluence
                    .edit_content(
                        &page_id,
                        ContentEdit {
                            body: Some(format!("<p>edit {edits} by engine {engine}</p>")),
                            ..Default::default()
                        },
                    )
                    .unwrap();
                let start = Instant::now();
                let report = sync
                    .run_cycle(
                        RunTrigger::Schedule,
                        CycleMode::Normal,
                        CancellationToken::new(),
                    )
                    .await
                    .unwrap();
                let end = Instant::now();
                assert_eq!(report.status, RunOutcome::Success, "{report:?}");
                assert!(!lease.expired_locally(), "a cycle outlived its lease");
                log.lock().unwrap().push(Cycle { engine, start, end });
                ledger.release_lease(lease).await.unwrap();
                done += 1;
                // Let the other engine in now and then, so the tenant changes hands.
                tokio::task::yield_now().await;
            }
        });
    }
    // Polled together, interleaving at every await: without the lease they would overlap.
    // (Joined rather than spawned: `run_cycle`'s future is `Send` but not provably `'static`
    // through `tokio::spawn`'s higher-ranked bounds from a test.)
    futures::future::join_all(tasks).await;

    // By the engines' clocks.
    let mut cycles = log.lock().unwrap().clone();
    cycles.sort_by_key(|c| c.start);
    assert_eq!(cycles.len(), 2 * ROUNDS_PER_ENGINE);
    let handovers = cycles
        .windows(2)
        .filter(|p| p[0].engine != p[1].engine)
        .count();
    assert!(handovers > 0, "the tenant never changed hands: {cycles:?}");
    for pair in cycles.windows(2) {
        assert!(
            pair[1].start >= pair[0].end,
            "overlap: {:?} still running when {:?} started",
            pair[0],
            pair[1]
        );
    }

    // By the ledger's record of runs.
    let mut runs = ledgers[0].recent_runs(Some(TENANT), 100).await.unwrap();
    runs.sort_by_key(|r| r.started_at);
    assert_eq!(runs.len(), 2 * ROUNDS_PER_ENGINE);
    assert!(runs.iter().all(|r| r.status == RunStatus::SUCCESS));
    for replica in &ledgers {
        assert!(
            runs.iter().any(|r| r.holder == replica.holder_id()),
            "{} never ran the tenant",
            replica.holder_id()
        );
    }
    let intervals: Vec<(DateTime<Utc>, DateTime<Utc>)> = runs
        .iter()
        .map(|r| (r.started_at, r.finished_at.unwrap()))
        .collect();
    for pair in intervals.windows(2) {
        assert!(
            pair[1].0 >= pair[0].1,
            "recorded runs overlap: {:?} then {:?}",
            pair[0],
            pair[1]
        );
    }

    // By the sandbox: every request to Confluence or Unique fell inside one recorded run.
    let requests: Vec<_> = h
        .confluence_requests()
        .into_iter()
        .chain(
            ["unique-ingestion", "unique-scope-management", "unique-blob"]
                .iter()
                .flat_map(|s| h.sb.requests.records_for(s)),
        )
        .collect();
    assert!(requests.len() > 2 * ROUNDS_PER_ENGINE);
    for r in &requests {
        assert!(
            intervals
                .iter()
                .any(|(start, end)| *start <= r.started_at && r.finished_at <= *end),
            "request outside every run: {} {} at {}",
            r.method,
            r.path_and_query,
            r.started_at
        );
    }

    // Converged: every page once, with its last body.
    let mut expected: Vec<String> = (0..PAGES)
        .map(|i| key(SP, &(2000 + i).to_string()))
        .collect();
    expected.sort();
    assert_eq!(h.keys(), expected);
    for i in 0..PAGES {
        let id = (2000 + i).to_string();
        let want = h.sb.confluence.content(&id).unwrap().body;
        assert_eq!(
            h.sb.unique.file_bytes(&key(SP, &id)).unwrap(),
            want.as_bytes(),
            "page {id}"
        );
    }
}

/// A cycle dropped mid-way under a live lease is recorded `interrupted` by the next cycle of the
/// same engine, on PostgreSQL as on SQLite (`cycle_requests` covers SQLite).
#[tokio::test]
async fn a_dropped_cycle_is_recorded_interrupted_on_postgres() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let pages = (0..PAGES)
        .map(|i| page(2000 + i, "SP", None, &["ai-ingest"]))
        .collect();
    let h = Harness::new(Flavour::Cloud, dataset(pages)).await;
    let ledger = Ledger::open(&url, LedgerOptions::default()).await.unwrap();
    let confluence =
        ConfluenceClient::new(h.confluence_config(true), Arc::new(NoopObserver)).unwrap();
    let sync = TenantSync::new(
        h.spec(),
        confluence,
        h.unique_client(),
        ledger.clone(),
        Arc::new(NoopCycleObserver),
    );
    let lease = ledger
        .try_acquire_lease(TENANT, Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();

    let dropped = tokio::select! {
        _ = sync.run_cycle(RunTrigger::Schedule, CycleMode::Normal, CancellationToken::new()) => false,
        () = async {
            while h.sb.requests.records().len() < 10 {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        } => true,
    };
    assert!(
        dropped,
        "the first cycle finished before it could be dropped"
    );
    let report = sync
        .run_cycle(
            RunTrigger::Schedule,
            CycleMode::Normal,
            CancellationToken::new(),
        )
        .await
        .unwrap();

    assert_eq!(report.status, RunOutcome::Success);
    let statuses: Vec<RunStatus> = ledger
        .recent_runs(Some(TENANT), 10)
        .await
        .unwrap()
        .iter()
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [RunStatus::SUCCESS, RunStatus::Interrupted]);
    assert_eq!(h.keys().len(), PAGES as usize);
    ledger.release_lease(lease).await.unwrap();
}

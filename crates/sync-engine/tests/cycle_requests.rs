//! Request economy and crash safety of the cycle against the sandbox.
//!
//! - An initial sync of a generated 2,000-page tenant makes no more Confluence requests than
//!   discovery + ⌈changed pages / pages per body request⌉: a regression to one body request per
//!   page fails here.
//! - A cycle dropped at any point (after N sandbox requests, for a spread of N) is followed by a
//!   full cycle that converges to exactly the expected keys and bytes, with no duplicates.
#![allow(clippy::unwrap_used)]

mod cycle_common;

use std::time::Duration;

use cycle_common::*;
use sandbox::unique::UniqueFault;
use sync_engine::{CancellationToken, CycleMode, RunOutcome, RunStatus, RunTrigger};

const SINGLE: &str = "ai-ingest";
const ALL: &str = "ai-ingest-all";

/// 1,000 pages labelled one by one, and one subtree root with 999 unlabelled descendants.
fn two_thousand_pages() -> sandbox::confluence::Dataset {
    let mut content: Vec<_> = (0..1000u64)
        .map(|i| page(10_000 + i, "SP", None, &[SINGLE]))
        .collect();
    content.push(page(20_000, "SP", None, &[ALL]));
    content.extend((1..1000u64).map(|i| page(20_000 + i, "SP", Some(20_000 + (i - 1) / 50), &[])));
    dataset(content)
}

async fn initial_sync_fetches_bodies_in_batches(flavour: Flavour) {
    let h = Harness::new(flavour, two_thousand_pages()).await;
    let mut spec = h.spec();
    spec.attachments.enabled = false;
    spec.concurrency = 8;

    // Discovery alone (a dry run reads the same listings and fetches no body).
    h.sync(spec.clone())
        .run_cycle(RunTrigger::Cli, CycleMode::DryRun, CancellationToken::new())
        .await
        .unwrap();
    let discovery = h.confluence_requests().len();
    h.sb.reset_requests();

    let report = h.run(spec).await.unwrap();

    assert_eq!(report.status, RunOutcome::Success);
    assert_eq!(report.counts.ingested_pages_ok, 2000);
    assert_eq!(h.keys().len(), 2000);
    // Cloud: v2 `?id=` takes 250 ids; Data Center caps body expansions at 50 per response.
    let per_request = match flavour {
        Flavour::Cloud => 250,
        Flavour::DataCenter => 50,
    };
    let body_requests = 2000usize.div_ceil(per_request);
    let total = h.confluence_requests().len();
    assert!(
        total <= discovery + body_requests,
        "{total} Confluence requests; expected at most {discovery} (discovery) + {body_requests} (bodies)"
    );
}

/// Six pages with an attachment each.
fn small_tenant() -> sandbox::confluence::Dataset {
    dataset(
        (0..6u64)
            .map(|i| {
                let mut p = page(1000 + i, "SP", None, &[SINGLE]);
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

async fn total_requests(h: &Harness) -> usize {
    h.sb.requests.records().len()
}

async fn a_cycle_dropped_anywhere_converges_on_the_next(flavour: Flavour) {
    for (round, stop_after) in [1, 2, 4, 6, 9, 13, 18, 24, 31, 40, 50, 13, 18, 24]
        .into_iter()
        .enumerate()
    {
        // Every other round the follow-up cycle runs on a fresh engine, as after a restart: it
        // cannot know what the dropped cycle had in flight, only that its run never finished.
        let restart = round % 2 == 1;
        let h = Harness::new(flavour, small_tenant()).await;
        let sync = h.sync(h.spec());

        let dropped = tokio::select! {
            report = sync.run_cycle(RunTrigger::Schedule, CycleMode::Normal, CancellationToken::new()) => {
                report.unwrap();
                false
            }
            () = async {
                while total_requests(&h).await < stop_after {
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            } => true,
        };
        // Every stop point lies inside a first cycle (which makes well over 50 requests), so
        // each round really drops a cycle midway rather than testing two clean cycles.
        assert!(
            dropped,
            "the first cycle finished before {stop_after} requests"
        );

        let sync = if restart { h.sync(h.spec()) } else { sync };
        let report = sync
            .run_cycle(
                RunTrigger::Schedule,
                CycleMode::Normal,
                CancellationToken::new(),
            )
            .await
            .unwrap();
        assert_eq!(
            report.status,
            RunOutcome::Success,
            "stopped after {stop_after} requests"
        );
        let files = h.sb.unique.files();
        assert_eq!(
            files.len(),
            12,
            "stopped after {stop_after} (dropped: {dropped}, restart: {restart})"
        );
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
        assert_eq!(
            actual,
            expected_files(),
            "stopped after {stop_after} (dropped: {dropped}, restart: {restart})"
        );
        assert!(
            files.iter().all(|f| f.uploaded_size.is_some()),
            "every file finalized with bytes after stopping at {stop_after}"
        );
        // The ledger tells the truth: the dropped run is interrupted, not running forever.
        let runs = h.ledger.recent_runs(Some(TENANT), 10).await.unwrap();
        let statuses: Vec<RunStatus> = runs.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [RunStatus::SUCCESS, RunStatus::Interrupted],
            "stopped after {stop_after}"
        );
    }
}

/// Body requests (the page fetches that carry storage bodies) and uploads, from the sandbox log.
fn body_requests(h: &Harness) -> Vec<sandbox::common::RequestRecord> {
    h.confluence_requests()
        .into_iter()
        .filter(|r| r.path_and_query.contains("body"))
        .collect()
}

fn uploads(h: &Harness) -> Vec<sandbox::common::RequestRecord> {
    h.sb.requests
        .records()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect()
}

async fn fetching_runs_ahead_of_uploading_but_only_a_bounded_way(flavour: Flavour) {
    let content = (0..40u64)
        .map(|i| page(1000 + i, "SP", None, &[SINGLE]))
        .collect();
    let h = Harness::new(flavour, dataset(content)).await;
    h.sb.unique
        .add_fault(UniqueFault::latency("upload", Duration::from_millis(40)));
    let mut spec = h.spec();
    spec.concurrency = 1;
    let mut config = h.confluence_config(false);
    config.body_batch_size = Some(2);

    let report = h
        .sync_with_config(
            spec,
            config,
            std::sync::Arc::new(sync_engine::NoopCycleObserver),
        )
        .run_cycle(RunTrigger::Cli, CycleMode::Normal, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(report.counts.ingested_pages_ok, 40);
    let bodies = body_requests(&h);
    assert_eq!(bodies.len(), 20, "two pages per body request");
    let first_upload_done = uploads(&h).iter().map(|r| r.finished_at).min().unwrap();
    let fetched_before = bodies
        .iter()
        .filter(|r| r.started_at < first_upload_done)
        .count();
    // Pipelined: the next batch is fetched while the first upload is still running ...
    assert!(
        fetched_before >= 2,
        "{fetched_before} body requests before the first upload finished"
    );
    // ... and bounded: the queue (2 items per upload slot) stops the fetcher long before the end.
    assert!(
        fetched_before <= 4,
        "{fetched_before} body requests before the first upload finished"
    );
}

async fn uploads_run_concurrency_at_a_time(flavour: Flavour) {
    let content = (0..12u64)
        .map(|i| page(1000 + i, "SP", None, &[SINGLE]))
        .collect();
    let h = Harness::new(flavour, dataset(content)).await;
    h.sb.unique
        .add_fault(UniqueFault::latency("upload", Duration::from_millis(30)));
    let mut spec = h.spec();
    spec.concurrency = 3;

    h.run(spec).await.unwrap();

    let puts = uploads(&h);
    assert_eq!(puts.len(), 12);
    let overlap = |at| {
        puts.iter()
            .filter(|r| r.started_at <= at && at < r.finished_at)
            .count()
    };
    let most = puts.iter().map(|r| overlap(r.started_at)).max().unwrap();
    assert!(
        (2..=3).contains(&most),
        "{most} uploads at once with concurrency 3"
    );
}

on_both_flavours!(
    uploads_run_concurrency_at_a_time,
    fetching_runs_ahead_of_uploading_but_only_a_bounded_way,
    initial_sync_fetches_bodies_in_batches,
    a_cycle_dropped_anywhere_converges_on_the_next,
);

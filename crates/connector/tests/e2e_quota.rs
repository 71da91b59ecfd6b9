//! Confluence Cloud's points quota end to end: the binary against the sandbox's quota, with short
//! windows instead of the hour.
//!
//! - The quota runs out mid-cycle: every Confluence request of the tenant waits for the reset,
//!   the run record, `status`, `/readyz` and `/metrics` say so meanwhile, and the same cycle
//!   then completes with the end state of a clean run and no deletion.
//! - Near the limit the connector slows down and stops before the wall: no request is refused.
//! - A shutdown during a quota wait ends the run at once, recorded as cancelled, nothing deleted.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use sandbox::common::FaultRule;
use sandbox::confluence::{CloudQuotaConfig, ConfluenceConfig, Dataset, GenerateSpec};
use sandbox::{SandboxConfig, SandboxHandle};
use serde_json::Value;
use support::*;
use sync_engine::{Ledger, LedgerOptions, RunRecord, RunStatus};

const TENANT: &str = "quota";
const WAITING: &str = "waiting for the Confluence quota until ";

fn dataset(pages_per_space: usize) -> Dataset {
    GenerateSpec {
        seed: 12,
        spaces: 2,
        pages_per_space,
        max_attachments_per_page: 2,
        attachment_min_bytes: 256,
        attachment_max_bytes: 2048,
        ..GenerateSpec::default()
    }
    .generate()
}

struct Env {
    sb: SandboxHandle,
    dir: tempfile::TempDir,
    config: PathBuf,
}

impl Env {
    async fn new(dataset: Dataset, quota: CloudQuotaConfig, confluence: ConfluenceConfig) -> Self {
        let sb = spawn_sandbox_with(SandboxConfig {
            confluence: ConfluenceConfig {
                dataset,
                ..confluence
            },
            cloud_quota: quota,
            ..SandboxConfig::default()
        })
        .await;
        let dir = tempfile::tempdir().unwrap();
        let root = seed_root(&sb, "Quota root");
        let mut tenant = cloud_tenant(
            &sb,
            TENANT,
            &root,
            "sandbox-client-secret",
            &cluster_local(&sb),
        );
        tenant.push_str("      processing:\n        concurrency: 2\n        bodyBatchSize: 5\n");
        let config = write_config(dir.path(), ANY_PORT, "info", &[tenant]);
        Self { sb, dir, config }
    }

    fn state_url(&self) -> String {
        format!("sqlite://{}", self.dir.path().join("state.db").display())
    }

    async fn runs(&self) -> Vec<RunRecord> {
        let ledger = Ledger::open(&self.state_url(), LedgerOptions::default().read_only())
            .await
            .unwrap();
        let mut runs = ledger.recent_runs(Some(TENANT), 100).await.unwrap();
        ledger.close().await;
        runs.sort_by_key(|r| r.id);
        runs
    }

    /// One `sync --json`: whether it exited 0, the tenant's summary.
    async fn sync(&self) -> (bool, Value) {
        let out = run(Some(&self.config), &["sync", "--json"], &[]).await;
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        (out.status.success(), json["tenants"][0].clone())
    }

    fn deletions(&self) -> u64 {
        ["ContentDeleteByContentIds", "ContentDelete", "DeleteFolder"]
            .iter()
            .map(|op| self.sb.requests.count_operation("unique-ingestion", op))
            .sum()
    }
}

/// What a clean run of `dataset` leaves in Unique, and the points it costs.
async fn clean_run(dataset: Dataset) -> ((Vec<StoredFile>, Vec<(String, Option<String>)>), u64) {
    let env = Env::new(
        dataset,
        CloudQuotaConfig::default(),
        ConfluenceConfig::default(),
    )
    .await;
    let (ok, summary) = env.sync().await;
    assert!(ok, "the clean run failed: {summary}");
    (unique_state(&env.sb), env.sb.cloud_quota.points_total())
}

fn epoch(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// Sleeps until `window` seconds have just begun (within the first `slack`), so a test knows how
/// long the current quota window still lasts.
async fn start_of_window(window: u64, slack: f64) -> SystemTime {
    loop {
        let now = epoch(SystemTime::now());
        let into = now % window as f64;
        if into < slack {
            return SystemTime::UNIX_EPOCH + Duration::from_secs(now as u64 - into as u64 + window);
        }
        tokio::time::sleep(Duration::from_secs_f64(window as f64 - into)).await;
    }
}

/// Polls `check` until it has a value; on a timeout panics naming `what`, with `logs()`.
async fn until<T>(
    what: &str,
    within: Duration,
    logs: impl Fn() -> String,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn metric(metrics: &str, name: &str) -> Option<f64> {
    let prefix = format!("{name}{{tenant=\"{TENANT}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
}

/// Given a daemon syncing a Cloud tenant, when another tenant of the same app spends the whole
/// pool mid-cycle, then every Confluence request waits for the reset — the run record, `status`
/// and `/metrics` say so, `/readyz` stays ready — and the same cycle then completes with the end
/// state of a clean run, without a deletion.
#[tokio::test(flavor = "multi_thread")]
async fn the_quota_running_out_mid_cycle_pauses_the_tenant_and_the_cycle_completes() {
    const WINDOW: u64 = 12;
    let data = dataset(6);
    let (expected, _) = clean_run(data.clone()).await;
    let env = Env::new(
        data,
        CloudQuotaConfig {
            window_secs: WINDOW,
            ..CloudQuotaConfig::default()
        },
        ConfluenceConfig::default(),
    )
    .await;
    // Slow enough that the cycle is still going when the pool runs out.
    env.sb
        .faults
        .add_rule(FaultRule::latency("cloud", Duration::from_millis(60)));
    let reset = start_of_window(WINDOW, 0.5).await;
    let mut daemon = Daemon::start(&env.config, env.dir.path()).await;
    until(
        "two files in Unique",
        Duration::from_secs(8),
        || daemon.logs(),
        async || (env.sb.unique.files().len() >= 2).then_some(()),
    )
    .await;
    assert!(
        epoch(reset) - epoch(SystemTime::now()) > 4.0,
        "the cycle was too slow to leave a wait to observe"
    );
    assert!(
        env.sb.unique.files().len() < expected.0.len(),
        "the cycle already ended"
    );
    // Another install of the app spends the global pool.
    env.sb.cloud_quota.spend(10_000_000);

    // While it waits: the run record and `status` say until when, readiness holds.
    let note = until(
        "the waiting note",
        Duration::from_secs(5),
        || daemon.logs(),
        async || {
            let runs = env.runs().await;
            let run = runs.last()?;
            (run.status == RunStatus::Running).then_some(())?;
            run.note.clone().filter(|n| n.starts_with(WAITING))
        },
    )
    .await;
    let hh_mm = chrono::DateTime::<chrono::Utc>::from(reset + Duration::from_secs(1))
        .format("%H:%M UTC")
        .to_string();
    assert_eq!(note, format!("{WAITING}{hh_mm}"));
    let status = run(Some(&env.config), &["status", "--json"], &[]).await;
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(
        status["tenants"][TENANT]["runs"][0]["note"],
        note.as_str(),
        "{status}"
    );
    let human = run(Some(&env.config), &["status"], &[]).await;
    assert!(
        text(&human.stdout).contains(&note),
        "{}",
        text(&human.stdout)
    );
    let (code, ready) = daemon.get("/readyz").await.unwrap();
    assert_eq!(code, 200, "{ready}");
    let (_, metrics) = daemon.get("/metrics").await.unwrap();
    assert_eq!(
        metric(&metrics, "cfc_confluence_quota_remaining_points"),
        Some(0.0),
        "{metrics}"
    );
    let announced = metric(&metrics, "cfc_confluence_quota_reset_timestamp_seconds").unwrap();
    assert!(
        (epoch(reset)..=epoch(reset) + 2.0).contains(&announced),
        "reset {announced} vs window end {}",
        epoch(reset)
    );
    assert_eq!(metric(&metrics, "cfc_confluence_quota_waiting"), Some(1.0));
    promtool_accepts(&metrics);

    // Then the same cycle completes, exactly as a clean run, deleting nothing.
    let finished = until(
        "the cycle to finish",
        Duration::from_secs(40),
        || daemon.logs(),
        async || {
            env.runs()
                .await
                .last()
                .filter(|r| r.status != RunStatus::Running)
                .cloned()
        },
    )
    .await;
    assert_eq!(
        finished.status,
        RunStatus::SUCCESS,
        "{finished:#?}\n{}",
        daemon.logs()
    );
    assert_eq!(env.runs().await.len(), 1, "one run");
    assert_eq!(unique_state(&env.sb), expected);
    assert_eq!(env.deletions(), 0);
    let note = finished.note.clone().unwrap_or_default();
    assert!(
        note.starts_with("waited ") && note.ends_with("for the Confluence quota (1 wait)"),
        "{note}"
    );
    // The whole tenant paused, not only the refused request: nothing reached Confluence
    // between the first refusal (and what was already under way) and the reset.
    let cloud = env.sb.requests.records_for("cloud");
    let first_refusal = cloud.iter().find(|r| r.status == 429).unwrap().finished_at;
    let in_pause = cloud
        .iter()
        .filter(|r| {
            r.status != 429
                && r.started_at > first_refusal + chrono::Duration::milliseconds(300)
                && r.started_at < chrono::DateTime::<chrono::Utc>::from(reset)
        })
        .count();
    assert_eq!(in_pause, 0, "requests went out during the pause");
    let refused = env.sb.cloud_quota.refused_total();
    assert!((1..=4).contains(&refused), "{refused} refusals");
    let (_, metrics) = daemon.get("/metrics").await.unwrap();
    assert_eq!(metric(&metrics, "cfc_confluence_quota_waiting"), Some(0.0));
    assert!(metrics.contains(&format!(
        "cfc_confluence_quota_waits_total{{tenant=\"{TENANT}\",cause=\"exhausted\"}} 1\n"
    )));
    println!(
        "quota spent mid-cycle: {} files, {refused} × 429, paused until the reset \
         ({WINDOW} s window), then the same run finished: {note}",
        expected.0.len()
    );
    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(20)).await.success());
}

/// Given a pool that is near its limit (less than 20 % left) and a cycle that costs more than
/// what is left, the connector spreads what is left over the window, stops before the wall and
/// goes on after the reset: the sandbox refuses nothing, and the cycle still completes in one
/// run with the end state of a clean run.
#[tokio::test(flavor = "multi_thread")]
async fn near_the_limit_the_connector_slows_down_instead_of_running_into_the_wall() {
    const WINDOW: u64 = 10;
    const POOL: u64 = 100_000;
    let data = dataset(12);
    // Five results per search page: no single request costs a large part of what is left.
    let mut confluence = ConfluenceConfig::default();
    confluence.limits.cloud_search = 5;
    let (expected, cost) = {
        let env = Env::new(
            data.clone(),
            CloudQuotaConfig::default(),
            confluence.clone(),
        )
        .await;
        let (ok, summary) = env.sync().await;
        assert!(ok, "{summary}");
        (unique_state(&env.sb), env.sb.cloud_quota.points_total())
    };
    let env = Env::new(
        data,
        CloudQuotaConfig {
            pool: POOL,
            window_secs: WINDOW,
            ..CloudQuotaConfig::default()
        },
        confluence,
    )
    .await;
    // Half of what the cycle costs is left, far below 20 % of the pool.
    let left = cost / 2;
    start_of_window(WINDOW, 0.3).await;
    env.sb.cloud_quota.spend(POOL - left);
    let (ok, summary) = env.sync().await;
    assert!(ok, "{summary}");
    assert_eq!(summary["status"], "success", "{summary}");
    assert_eq!(unique_state(&env.sb), expected);
    let refused = env.sb.cloud_quota.refused_total();
    let spent = env.sb.cloud_quota.points_total();
    let note = summary["note"].as_str().unwrap_or_default().to_owned();
    println!(
        "near the limit: the cycle costs {cost} points, {left} were left in a {WINDOW} s window; \
         {spent} points spent, {refused} requests refused; {note}"
    );
    assert_eq!(refused, 0, "ran into the wall");
    assert!(spent >= cost, "{spent} < {cost}");
    assert!(
        note.starts_with("waited ") && note.contains("for the Confluence quota"),
        "it never stopped to wait for the reset: {summary}"
    );
    assert_eq!(env.deletions(), 0);
}

/// Given a tenant waiting for the quota (until the top of the real hour), when the daemon gets
/// SIGTERM, then it stops at once instead of waiting out the hour or its grace period, the run is
/// recorded as cancelled, and nothing is deleted — although a page was deleted in Confluence.
#[tokio::test(flavor = "multi_thread")]
async fn a_shutdown_during_a_quota_wait_stops_at_once_and_deletes_nothing() {
    let env = Env::new(
        dataset(3),
        CloudQuotaConfig::default(),
        ConfluenceConfig::default(),
    )
    .await;
    let (ok, summary) = env.sync().await;
    assert!(ok, "{summary}");
    let before = stored_files(&env.sb);
    let gone = before
        .iter()
        .map(|f| f.key.as_str())
        .rfind(|k| !k.contains("::"))
        .unwrap()
        .to_owned();
    env.sb
        .confluence
        .delete_content(gone.rsplit('/').next().unwrap())
        .unwrap();
    // A long grace period: a run that ignored the shutdown would hold the daemon for a minute.
    let text = std::fs::read_to_string(&env.config).unwrap();
    std::fs::write(
        &env.config,
        text.replace(
            "shutdown_grace_period_secs: 10",
            "shutdown_grace_period_secs: 60",
        ),
    )
    .unwrap();
    // Not within seconds of the top of the hour, when the wait would end by itself.
    let to_hour = 3600.0 - epoch(SystemTime::now()) % 3600.0;
    if to_hour < 30.0 {
        tokio::time::sleep(Duration::from_secs_f64(to_hour + 1.0)).await;
    }
    env.sb.cloud_quota.spend(10_000_000);
    let mut daemon = Daemon::start(&env.config, env.dir.path()).await;
    until(
        "the waiting note",
        Duration::from_secs(10),
        || daemon.logs(),
        async || {
            let runs = env.runs().await;
            let run = runs.last().filter(|r| r.status == RunStatus::Running)?;
            run.note
                .as_deref()
                .filter(|n| n.starts_with(WAITING))
                .map(drop)
        },
    )
    .await;
    let stopping = Instant::now();
    daemon.sigterm();
    let exit = daemon.wait_exit(Duration::from_secs(30)).await;
    let took = stopping.elapsed();
    assert!(exit.success(), "{exit:?}\n{}", daemon.logs());
    let logs = daemon.logs();
    assert!(!logs.contains("grace period ended"), "{logs}");
    let last = env.runs().await.pop().unwrap();
    assert_eq!(last.status, RunStatus::CANCELLED, "{last:#?}");
    assert!(
        !last
            .note
            .as_deref()
            .unwrap_or_default()
            .starts_with(WAITING),
        "a finished run still says it waits: {last:#?}"
    );
    assert_eq!(env.deletions(), 0);
    assert_eq!(stored_files(&env.sb), before, "Unique changed");
    println!(
        "shutdown during a quota wait: stopped in {took:?}, run {:?}, nothing deleted",
        last.status
    );
}

//! kill -9 of the daemon at random moments, many times in a row, with restarts: a crash at any
//! await point must leave a ledger and a Unique that the next run completes.
//!
//! `confluence-connector run` syncs one Cloud tenant every second (SQLite ledger) against the
//! sandbox, whose every request is slowed down so that a cycle lasts a couple of seconds. Each
//! round edits a few pages (so every round has real work), starts the daemon, SIGKILLs it after a
//! random delay (seeded), and looks into the ledger read-only to see which run the kill cut
//! short. After the last round the daemon runs to a successful cycle and is stopped with
//! SIGTERM. Then:
//! - Unique holds exactly what a clean single `sync` of the final dataset into a fresh sandbox
//!   produces: the same keys, titles, MIME types, SHA-256 and bytes, the same scopes, no
//!   duplicates, every file finalized;
//! - the ledger's `interrupted` runs are exactly the runs found `running` after the kills.
//!
//! Rounds: `CFC_KILL9_ROUNDS` (default 8 for CI; 20 for the full run that
//! docs/reliability/crash-and-replicas.md records). Seed: `CFC_KILL9_SEED` (default fixed,
//! printed), so a failure replays.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use sandbox::common::FaultRule;
use sandbox::confluence::{ContentEdit, ContentType, Dataset, GenerateSpec};
use sandbox::{SandboxConfig, SandboxHandle};
use support::*;
use sync_engine::{Ledger, LedgerOptions, RunRecord, RunStatus};

const ROUNDS_ENV: &str = "CFC_KILL9_ROUNDS";
const CI_ROUNDS: u64 = 8;
const SEED_ENV: &str = "CFC_KILL9_SEED";
const DEFAULT_SEED: u64 = 0x6b69_6c6c_392d_3230;
/// Every sandbox request waits this long, so that the first cycle (~40 items, 3–4 requests each,
/// two at a time) lasts several seconds and a later one (a few edited pages) about a second: the
/// kills land in every phase of a cycle, and between cycles.
const REQUEST_LATENCY: Duration = Duration::from_millis(40);
/// Pages edited before each start, so every round has ingestion work.
const EDITS_PER_ROUND: u64 = 10;
/// Where a kill lands: in one round out of four, at a random moment counted from the spawn
/// (start-up, which takes a few tens of milliseconds, and the beginning of the first run);
/// otherwise at a random moment after the round's first run started, which
/// spreads the kills over a cycle (the first cycle ingests everything and lasts several
/// seconds, a later one about a second) and past its end (the schedule fires every second).
const STARTUP_KILL_MS: std::ops::Range<u64> = 0..400;
const IN_CYCLE_KILL_MS: std::ops::Range<u64> = 0..2_000;
const TENANT: &str = "kill9";

/// SplitMix64: seeded and dependency-free, so a failing run replays with its printed seed.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn in_range(&mut self, range: std::ops::Range<u64>) -> u64 {
        range.start + self.next() % (range.end - range.start)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        Err(_) => default,
    }
}

fn dataset() -> Dataset {
    GenerateSpec {
        seed: 8,
        spaces: 2,
        pages_per_space: 14,
        max_attachments_per_page: 2,
        attachment_min_bytes: 512,
        attachment_max_bytes: 16 * 1024,
        ..GenerateSpec::default()
    }
    .generate()
}

/// The tenant, syncing every second.
fn tenant_yaml(sandbox: &SandboxHandle, root: &str) -> String {
    let mut t = cloud_tenant(
        sandbox,
        TENANT,
        root,
        "sandbox-client-secret",
        &cluster_local(sandbox),
    );
    t.push_str(
        "      processing:\n        concurrency: 2\n        scanIntervalCron: \"* * * * * *\"\n",
    );
    t
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(config: &Path, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).unwrap();
        let child = command(Some(config), &["run"], &[])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn all_runs(ledger: &Ledger) -> Vec<RunRecord> {
    ledger.recent_runs(Some(TENANT), 100_000).await.unwrap()
}

async fn newest_run(ledger: &Ledger) -> i64 {
    all_runs(ledger)
        .await
        .iter()
        .map(|r| r.id.get())
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_daemon_converges_to_a_clean_run_and_the_ledger_shows_each_kill() {
    let rounds = env_u64(ROUNDS_ENV, CI_ROUNDS);
    let seed = env_u64(SEED_ENV, DEFAULT_SEED);
    println!("kill9 loop: {rounds} rounds, seed {seed} ({SEED_ENV} to replay)");
    let mut rng = SplitMix(seed);
    let began = Instant::now();

    let sb = spawn_sandbox_with(SandboxConfig {
        confluence: sandbox::confluence::ConfluenceConfig {
            dataset: dataset(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    sb.faults.add_rule(FaultRule::latency("*", REQUEST_LATENCY));
    let root = seed_root(&sb, "Kill9 root");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.db");
    let url = format!("sqlite://{}", state.display());
    // The schema exists before the first daemon, so a kill during its start-up still leaves a
    // ledger to look into.
    Ledger::open(&url, LedgerOptions::default())
        .await
        .unwrap()
        .close()
        .await;
    // Read-only, next to the daemons (WAL), as `confluence-connector status` reads it.
    let reader = Ledger::open(&url, LedgerOptions::default().read_only())
        .await
        .unwrap();
    let tenant = tenant_yaml(&sb, &root);
    let pages: Vec<String> = sb
        .confluence
        .dataset()
        .content
        .iter()
        .filter(|c| c.content_type == ContentType::Page)
        .map(|c| c.id.clone())
        .collect();

    let mut cut_short: BTreeSet<i64> = BTreeSet::new();
    let mut kills_in_a_run = 0u64;
    for round in 0..rounds {
        for k in 0..EDITS_PER_ROUND {
            let id = &pages[usize::try_from(rng.in_range(0..pages.len() as u64)).unwrap()];
            sb.confluence
                .edit_content(
                    id,
                    ContentEdit {
                        title: None,
                        body: Some(format!("<p>Round {round}, edit {k} of page {id}.</p>")),
                    },
                )
                .unwrap();
        }
        let config = write_config(dir.path(), ANY_PORT, "info", std::slice::from_ref(&tenant));
        let newest = newest_run(&reader).await;
        let mut daemon = Daemon::start(&config, dir.path().join(format!("daemon-{round}.log")));
        let spawned = Instant::now();
        let during_startup = rng.next().is_multiple_of(4);
        let delay = if during_startup {
            Duration::from_millis(rng.in_range(STARTUP_KILL_MS))
        } else {
            let deadline = Instant::now() + Duration::from_secs(30);
            while newest_run(&reader).await == newest {
                assert!(
                    Instant::now() < deadline,
                    "round {round}: no run started\n{}",
                    daemon.logs()
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Duration::from_millis(rng.in_range(IN_CYCLE_KILL_MS))
        };
        tokio::time::sleep(delay).await;
        assert!(
            daemon.child.try_wait().unwrap().is_none(),
            "round {round}: the daemon exited by itself\n{}",
            daemon.logs()
        );
        daemon.child.kill().unwrap(); // SIGKILL
        daemon.child.wait().unwrap();

        let alive_ms = spawned.elapsed().as_millis();
        let running: Vec<i64> = all_runs(&reader)
            .await
            .iter()
            .filter(|r| r.status == RunStatus::Running)
            .map(|r| r.id.get())
            .collect();
        assert!(
            running.len() <= 1,
            "round {round}: one tenant, yet several runs running: {running:?}"
        );
        if !running.is_empty() {
            kills_in_a_run += 1;
        }
        println!(
            "round {round}: killed {} ms after {}, {alive_ms} ms after the spawn, {}",
            delay.as_millis(),
            if during_startup {
                "the spawn"
            } else {
                "its first run started"
            },
            if running.is_empty() {
                "between runs".to_owned()
            } else {
                format!("cutting run {running:?} short")
            }
        );
        cut_short.extend(running);
    }

    // The last start: let it finish a cycle, then stop it gracefully.
    let last_start = chrono::Utc::now();
    let config = write_config(dir.path(), ANY_PORT, "info", std::slice::from_ref(&tenant));
    let mut daemon = Daemon::start(&config, dir.path().join("daemon-final.log"));
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = all_runs(&reader).await;
        if runs
            .iter()
            .any(|r| r.started_at >= last_start && r.status == RunStatus::SUCCESS)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no successful run after the last start: {runs:#?}\n{}",
            daemon.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let term = std::process::Command::new("kill")
        .args(["-TERM", &daemon.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exit = tokio::task::spawn_blocking(move || {
        let status = daemon.child.wait().unwrap();
        (status, daemon)
    })
    .await
    .unwrap();
    assert_eq!(exit.0.code(), Some(0), "{}", exit.1.logs());
    let loop_time = began.elapsed();

    // The ledger: exactly the runs the kills cut short are interrupted; nothing is left running.
    let runs = all_runs(&reader).await;
    let interrupted: BTreeSet<i64> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Interrupted)
        .map(|r| r.id.get())
        .collect();
    assert_eq!(
        interrupted, cut_short,
        "interrupted runs in the ledger vs runs found running after a kill"
    );
    assert!(
        runs.iter().all(|r| r.status != RunStatus::Running),
        "{runs:#?}"
    );
    let count = |s: RunStatus| runs.iter().filter(|r| r.status == s).count();

    // The reference: one clean `sync` of the final dataset into a fresh sandbox.
    let clean = spawn_sandbox_with(SandboxConfig {
        confluence: sandbox::confluence::ConfluenceConfig {
            dataset: sb.confluence.dataset(),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let clean_root = seed_root(&clean, "Kill9 root");
    let clean_dir = tempfile::tempdir().unwrap();
    let clean_config = write_config(
        clean_dir.path(),
        ANY_PORT,
        "info",
        &[tenant_yaml(&clean, &clean_root)],
    );
    let out = run(Some(&clean_config), &["sync", "--tenant", TENANT], &[]).await;
    assert!(out.status.success(), "clean sync: {}", text(&out.stderr));

    let (expected_files, expected_scopes) = unique_state(&clean);
    let (files, scopes) = unique_state(&sb);
    let attachments = expected_files
        .iter()
        .filter(|f| f.key.contains("::"))
        .count();
    assert!(
        expected_files.len() >= 20 && attachments >= 5,
        "the dataset should give real work: {} files, {attachments} attachments",
        expected_files.len()
    );
    assert_eq!(scopes, expected_scopes, "scopes differ from a clean run");
    let keys = |v: &[StoredFile]| v.iter().map(|f| f.key.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys(&files),
        keys(&expected_files),
        "keys differ from a clean run"
    );
    assert!(files == expected_files, "contents differ from a clean run");

    assert!(
        kills_in_a_run >= 1,
        "no kill hit a running cycle: the test proved nothing"
    );
    println!(
        "kill9 loop: {rounds} kills ({kills_in_a_run} inside a run), {} interrupted, {} success, \
         {} cancelled, {} runs in all; {} files ({attachments} attachments) equal to a clean run; \
         loop {:.1} s, total {:.1} s",
        interrupted.len(),
        count(RunStatus::SUCCESS),
        count(RunStatus::CANCELLED),
        runs.len(),
        expected_files.len(),
        loop_time.as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
}

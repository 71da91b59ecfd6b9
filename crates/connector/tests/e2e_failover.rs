//! Failover: two `run` replicas share one PostgreSQL ledger and three tenants; one
//! replica is SIGKILLed while it holds a tenant's lease in the middle of a cycle. The survivor
//! picks the dead replica's tenants up once their leases expire (a short `state.lease_ttl_secs`),
//! all three tenants converge to what a clean single sync produces, and no tenant is ever synced
//! by both replicas at once.
//!
//! How "never both at once" is proven from the sandbox's own log: every tenant has a sandbox of
//! its own, so each sandbox's Unique call log (`UniqueSim::calls`, with headers and arrival
//! times) holds exactly one tenant's calls; each replica sends its own `x-cfc-replica` header
//! (a cluster_local `serviceExtraHeaders` entry), so every call names the replica that made it.
//! Two checks on that log:
//! 1. Without the ledger: in each tenant's calls, in arrival order, the replica only ever
//!    changes at the first call of a cycle (reading the service user, or the grant on the
//!    tenant's root scope). Two
//!    overlapping cycles would interleave and switch back mid-cycle.
//! 2. With the ledger: every call of replica R lies inside a run of that tenant recorded by R
//!    (holder name = R), and a tenant's runs never overlap in time, whoever ran them.
//!
//! Confluence requests carry no replica identity in the sandbox's log; Unique calls include
//! every write, which is what double syncing would corrupt.
//!
//! Needs `DATABASE_URL_POSTGRES` (scripts/test.sh starts a throwaway cluster); skipped with a
//! message without it.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sandbox::common::FaultRule;
use sandbox::confluence::{ConfluenceConfig, ContentEdit, ContentType, GenerateSpec};
use sandbox::unique::UniqueCall;
use sandbox::{SandboxConfig, SandboxHandle};
use support::*;
use sync_engine::{Ledger, LedgerOptions, RunRecord, RunStatus};

/// Short, so that the takeover happens within the test; renewed every 2 s while a tenant runs.
const LEASE_TTL_SECS: u64 = 6;
/// Slows every sandbox request, so that a first sync lasts a few seconds and a replica can be
/// killed in the middle of one.
const REQUEST_LATENCY: Duration = Duration::from_millis(50);
/// Registrations and finalizations (`ContentUpsert`) a run must have made before its replica is
/// killed: in the middle of ingesting the edited pages.
const UPSERTS_BEFORE_KILL: usize = 6;
/// Pages edited in every tenant before the kill, so that the cycle cut short has work to do.
const PAGES_EDITED: usize = 15;
const REPLICAS: [&str; 2] = ["replica-a", "replica-b"];
const REPLICA_HEADER: &str = "x-cfc-replica";
/// A cycle's first Unique call: reading the service user (`User`, once per engine), or the
/// grant on the tenant's root scope (`CreateScopeAccesses`).
fn starts_a_cycle(call: &UniqueCall, root: &str) -> bool {
    call.operation == "User"
        || (call.operation == "CreateScopeAccesses" && call.variables.to_string().contains(root))
}

async fn fresh_database() -> Option<String> {
    fresh_postgres_database("failover", "the failover test").await
}

/// Tenant `i`'s sandbox: its own dataset and Cloud id.
fn sandbox_config(i: u64) -> SandboxConfig {
    SandboxConfig {
        confluence: ConfluenceConfig {
            dataset: GenerateSpec {
                seed: 40 + i,
                spaces: 2,
                pages_per_space: 10,
                max_attachments_per_page: 2,
                attachment_min_bytes: 512,
                attachment_max_bytes: 8 * 1024,
                ..GenerateSpec::default()
            }
            .generate(),
            cloud_id: format!("sandbox-cloud-{i}"),
            ..ConfluenceConfig::default()
        },
        ..SandboxConfig::default()
    }
}

fn tenant_name(i: usize) -> String {
    format!("tenant{i}")
}

/// Tenant `i` (Cloud, Data Center, Cloud), syncing every second; Unique calls carry `replica`.
fn tenant_yaml(i: usize, sb: &SandboxHandle, root: &str, replica: &str) -> String {
    let mut unique = cluster_local(sb);
    unique.yaml = unique.yaml.replace(
        "x-user-id: sandbox-user",
        &format!("x-user-id: sandbox-user\n          {REPLICA_HEADER}: {replica}"),
    );
    let name = tenant_name(i);
    let mut t = if i == 1 {
        dc_tenant(
            sb,
            &name,
            root,
            "{ mode: pat, token: sandbox-pat }",
            &unique,
        )
    } else {
        cloud_tenant(sb, &name, root, "sandbox-client-secret", &unique)
    };
    t.push_str(
        "      processing:\n        concurrency: 2\n        scanIntervalCron: \"* * * * * *\"\n",
    );
    t
}

/// A daemon config on `state_url` with the short lease TTL.
fn replica_config(
    dir: &std::path::Path,
    state_url: &str,
    tenants: &[String],
) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let config = write_config(dir, ANY_PORT, "info", tenants);
    let text = std::fs::read_to_string(&config).unwrap().replace(
        &format!("  url: sqlite://{}\n", dir.join("state.db").display()),
        &format!("  url: {state_url}\n  lease_ttl_secs: {LEASE_TTL_SECS}\n"),
    );
    assert!(text.contains("lease_ttl_secs"), "{text}");
    std::fs::write(&config, text).unwrap();
    config
}

struct Replica {
    name: &'static str,
    child: Child,
    log: std::path::PathBuf,
}

impl Replica {
    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The replica (`replica-a`) of a holder id (`replica-a/<pid>/<random>`).
fn replica_of(holder: &str) -> &str {
    holder.split('/').next().unwrap_or(holder)
}

fn replica_of_call(call: &UniqueCall) -> String {
    call.headers
        .get(REPLICA_HEADER)
        .cloned()
        .unwrap_or_else(|| panic!("a Unique call without {REPLICA_HEADER}: {call:#?}"))
}

fn upserts_of(sb: &SandboxHandle, replica: &str, since: DateTime<Utc>) -> usize {
    sb.unique
        .calls()
        .iter()
        .filter(|c| {
            c.operation == "ContentUpsert"
                && c.at >= since
                && c.headers.get(REPLICA_HEADER).map(String::as_str) == Some(replica)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_replicas_tenants_move_to_the_survivor_without_overlap() {
    let Some(url) = fresh_database().await else {
        return;
    };
    let began = Instant::now();
    let mut sandboxes = Vec::new();
    let mut roots = Vec::new();
    for i in 0..3 {
        let sb = spawn_sandbox_with(sandbox_config(i)).await;
        sb.faults.add_rule(FaultRule::latency("*", REQUEST_LATENCY));
        roots.push(seed_root(&sb, &format!("Root {i}")));
        sandboxes.push(sb);
    }
    let names: Vec<String> = (0..3).map(tenant_name).collect();
    // The schema exists before the replicas start; this handle also reads the ledger.
    let ledger = Ledger::open(&url, LedgerOptions::default()).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let mut replicas = Vec::new();
    for name in REPLICAS {
        let tenants: Vec<String> = (0..3)
            .map(|i| tenant_yaml(i, &sandboxes[i], &roots[i], name))
            .collect();
        let sub = dir.path().join(name);
        let config = replica_config(&sub, &url, &tenants);
        let log = sub.join("log");
        let child = command(Some(&config), &["run"], &[("HOSTNAME", name)])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        replicas.push(Replica { name, child, log });
    }
    let all_logs = |replicas: &[Replica]| {
        replicas
            .iter()
            .map(|r| format!("--- {}\n{}", r.name, r.logs()))
            .collect::<Vec<_>>()
            .join("\n")
    };

    // Given: both replicas sync, every tenant once at least, and some tenant has already moved
    // from one live replica to the other (the cron fires every second, the lease is released
    // after each run, and either replica may take it next).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let runs = ledger.recent_runs(None, 1000).await.unwrap();
        let synced = |t: &String| {
            runs.iter()
                .filter(|r| &r.tenant == t && r.status == RunStatus::SUCCESS)
                .map(|r| replica_of(&r.holder))
                .collect::<BTreeSet<_>>()
        };
        if names.iter().all(|t| !synced(t).is_empty()) && names.iter().any(|t| synced(t).len() == 2)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replicas did not share the tenants: {runs:#?}\n{}",
            all_logs(&replicas)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Work for the next cycles: edited pages in every tenant.
    for sb in &sandboxes {
        let pages: Vec<String> = sb
            .confluence
            .dataset()
            .content
            .iter()
            .filter(|c| c.content_type == ContentType::Page)
            .map(|c| c.id.clone())
            .collect();
        for id in pages.iter().take(PAGES_EDITED) {
            sb.confluence
                .edit_content(
                    id,
                    ContentEdit {
                        title: None,
                        body: Some(format!("<p>Edited while replicas run: {id}</p>")),
                    },
                )
                .unwrap();
        }
    }

    // When: a replica is killed while one of its runs is well into a cycle.
    let deadline = Instant::now() + Duration::from_secs(40);
    let (victim_run, victim_index) = loop {
        let runs = ledger.recent_runs(None, 1000).await.unwrap();
        let deep = runs.iter().find(|r| {
            r.status == RunStatus::Running && {
                let i = names.iter().position(|n| *n == r.tenant).unwrap();
                upserts_of(&sandboxes[i], replica_of(&r.holder), r.started_at)
                    >= UPSERTS_BEFORE_KILL
            }
        });
        if let Some(run) = deep {
            let index = REPLICAS
                .iter()
                .position(|n| *n == replica_of(&run.holder))
                .unwrap();
            break (run.clone(), index);
        }
        assert!(
            Instant::now() < deadline,
            "no run got going: {runs:#?}\n{}",
            all_logs(&replicas)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    replicas[victim_index].child.kill().unwrap(); // SIGKILL
    replicas[victim_index].child.wait().unwrap();
    let killed_at = Utc::now();
    let victim = REPLICAS[victim_index];
    let survivor = REPLICAS[1 - victim_index];
    // The leases the dead replica still holds, and when each runs out.
    let held: BTreeMap<String, DateTime<Utc>> = ledger
        .leases()
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.live && replica_of(&l.holder) == victim)
        .map(|l| (l.tenant.clone(), l.expires_at))
        .collect();
    assert!(
        held.contains_key(&victim_run.tenant),
        "{victim} was killed holding {}'s lease: {held:?}",
        victim_run.tenant
    );
    println!(
        "killed {victim} in run {} of {} ({} ContentUpsert calls in); it held {held:?}",
        victim_run.id.get(),
        victim_run.tenant,
        upserts_of(
            &sandboxes[names.iter().position(|n| *n == victim_run.tenant).unwrap()],
            victim,
            victim_run.started_at
        )
    );

    // Then: the survivor takes each of them over, and every tenant gets a successful run that
    // started after the kill.
    let deadline = Instant::now() + Duration::from_secs(LEASE_TTL_SECS + 40);
    let runs = loop {
        let runs = ledger.recent_runs(None, 1000).await.unwrap();
        let converged = names.iter().all(|t| {
            runs.iter().any(|r| {
                &r.tenant == t && r.status == RunStatus::SUCCESS && r.started_at > killed_at
            })
        });
        let closed = runs
            .iter()
            .find(|r| r.id == victim_run.id)
            .is_some_and(|r| r.status == RunStatus::Interrupted);
        if converged && closed {
            break runs;
        }
        assert!(
            Instant::now() < deadline,
            "no convergence after the kill: {runs:#?}\n{}",
            all_logs(&replicas)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut takeovers = Vec::new();
    for (tenant, expires_at) in &held {
        let first = runs
            .iter()
            .filter(|r| &r.tenant == tenant && r.started_at > killed_at)
            .min_by_key(|r| r.started_at)
            .unwrap();
        assert_eq!(replica_of(&first.holder), survivor, "{first:#?}");
        assert!(
            first.started_at >= *expires_at,
            "{tenant} was taken over at {} before the dead replica's lease ran out at {expires_at}",
            first.started_at
        );
        let delay = (first.started_at - killed_at).to_std().unwrap();
        assert!(
            delay < Duration::from_secs(LEASE_TTL_SECS + 10),
            "{tenant} taken over only after {delay:?}"
        );
        takeovers.push((
            tenant.clone(),
            delay,
            (*expires_at - killed_at).to_std().unwrap_or_default(),
        ));
    }

    // Stop the survivor gracefully; after that nothing writes any more.
    let survivor_replica = &mut replicas[1 - victim_index];
    let term = std::process::Command::new("kill")
        .args(["-TERM", &survivor_replica.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stop_deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = survivor_replica.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < stop_deadline, "the survivor did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "{}", survivor_replica.logs());

    // Never both at once. The ledger: a tenant's runs never overlap, whoever ran them.
    let runs = ledger.recent_runs(None, 10_000).await.unwrap();
    assert!(
        runs.iter().all(|r| r.status != RunStatus::Running),
        "{runs:#?}"
    );
    let by_tenant = |t: &str| {
        let mut mine: Vec<&RunRecord> = runs.iter().filter(|r| r.tenant == t).collect();
        mine.sort_by_key(|r| r.started_at);
        mine
    };
    let mut switches = 0;
    let mut calls_checked = 0;
    for (i, t) in names.iter().enumerate() {
        let mine = by_tenant(t);
        for pair in mine.windows(2) {
            assert!(
                pair[0].finished_at.unwrap() <= pair[1].started_at,
                "{t}'s runs overlap: {pair:#?}"
            );
        }
        let mut calls = sandboxes[i].unique.calls();
        calls.sort_by_key(|c| c.at);
        assert!(!calls.is_empty());
        // The sandbox's log alone: the replica changes only where a cycle starts, on this
        // tenant's root scope.
        for pair in calls.windows(2) {
            if replica_of_call(&pair[0]) != replica_of_call(&pair[1]) {
                switches += 1;
                assert!(
                    starts_a_cycle(&pair[1], &roots[i]),
                    "{t}: {} took over from {} in the middle of a cycle: {pair:#?}",
                    replica_of_call(&pair[1]),
                    replica_of_call(&pair[0])
                );
            }
        }
        // The log against the ledger: each call inside a run of its own replica.
        for call in &calls {
            let replica = replica_of_call(call);
            assert!(
                mine.iter().any(|r| replica_of(&r.holder) == replica
                    && r.started_at <= call.at
                    && r.finished_at.is_some_and(|f| call.at <= f)),
                "{t}: a call of {replica} outside its runs: {call:#?}\nruns: {mine:#?}"
            );
            calls_checked += 1;
        }
    }
    let holders: BTreeSet<&str> = runs.iter().map(|r| replica_of(&r.holder)).collect();
    assert_eq!(
        holders.len(),
        2,
        "both replicas should have synced: {runs:#?}"
    );

    // Converged: each tenant's Unique equals one clean sync of its dataset into a fresh sandbox.
    let mut clean = Vec::new();
    let mut clean_roots = Vec::new();
    for i in 0..3 {
        let mut config = sandbox_config(i);
        config.confluence.dataset = sandboxes[usize::try_from(i).unwrap()].confluence.dataset();
        let sb = spawn_sandbox_with(config).await;
        clean_roots.push(seed_root(&sb, &format!("Root {i}")));
        clean.push(sb);
    }
    let clean_dir = tempfile::tempdir().unwrap();
    let tenants: Vec<String> = (0..3)
        .map(|i| tenant_yaml(i, &clean[i], &clean_roots[i], "clean"))
        .collect();
    let config = write_config(clean_dir.path(), ANY_PORT, "info", &tenants);
    let out = run(Some(&config), &["sync"], &[]).await;
    assert!(out.status.success(), "clean sync: {}", text(&out.stderr));
    for i in 0..3 {
        let expected = unique_state(&clean[i]);
        assert!(
            expected.0.len() >= 10,
            "tenant {i}: too little data to judge"
        );
        assert!(
            unique_state(&sandboxes[i]) == expected,
            "{} differs from a clean sync",
            names[i]
        );
    }

    let count = |s: RunStatus| runs.iter().filter(|r| r.status == s).count();
    println!(
        "failover: lease TTL {LEASE_TTL_SECS} s; takeovers (tenant, delay after the kill, lease \
         left at the kill): {takeovers:?}; {} runs ({} success, {} interrupted, {} cancelled) by \
         {holders:?}; {calls_checked} Unique calls checked, {switches} hand-overs between \
         replicas, all at a cycle start; {:.1} s",
        runs.len(),
        count(RunStatus::SUCCESS),
        count(RunStatus::Interrupted),
        count(RunStatus::CANCELLED),
        began.elapsed().as_secs_f64()
    );
}

//! Faults end to end: `confluence-connector sync` against the sandbox while the sandbox
//! misbehaves. Every scenario prints its figure (items, faults injected, cycles needed, wall time)
//! under `--nocapture`; docs/reliability/faults.md records them with the command.
//!
//! "Right" means equal to a clean run: the same dataset synced once into a fresh, fault-free
//! sandbox gives the expected keys, titles, MIME types, sizes, SHA-256 and bytes, and the faulted
//! sandbox's Unique must hold exactly that, each key once, every file finalized.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sandbox::common::FaultRule;
use sandbox::confluence::{ConfluenceConfig, Dataset, GenerateSpec};
use sandbox::unique::{UniqueAuthMode, UniqueConfig};
use sandbox::{SandboxConfig, SandboxHandle};
use serde_json::Value;
use support::*;
use sync_engine::{Ledger, LedgerOptions, RunRecord, RunStatus};

const TENANT: &str = "faulty";

/// 2 spaces × 4 pages, at most 2 attachments a page: 10 files land (6 pages, 4 attachments; the
/// generator's labels decide which).
fn dataset() -> Dataset {
    spec_of_dataset().generate()
}

/// Set to `1` to run the storms on the full dataset (10 files) instead of CI's 3.
const FULL_ENV: &str = "CFC_FAULTS_FULL";

/// For the storms, where every 429 costs the tenant a second: in CI one space with one page (3
/// files: the page and its 2 attachments), with `CFC_FAULTS_FULL=1` the full dataset (10 files).
fn storm_dataset() -> Dataset {
    if std::env::var(FULL_ENV).is_ok_and(|v| v == "1") {
        return dataset();
    }
    GenerateSpec {
        spaces: 1,
        pages_per_space: 1,
        ..spec_of_dataset()
    }
    .generate()
}

fn spec_of_dataset() -> GenerateSpec {
    GenerateSpec {
        seed: 81,
        spaces: 2,
        pages_per_space: 4,
        max_attachments_per_page: 2,
        attachment_min_bytes: 512,
        attachment_max_bytes: 8 * 1024,
        ..GenerateSpec::default()
    }
}

fn keys(files: &[StoredFile]) -> Vec<&str> {
    files.iter().map(|f| f.key.as_str()).collect()
}

/// A sandbox, a root scope and a config with one tenant (Cloud, or Data Center with OAuth),
/// cluster-local or Zitadel.
struct Env {
    sb: SandboxHandle,
    _dir: tempfile::TempDir,
    config: PathBuf,
    state_url: String,
    /// The sandbox service Confluence requests go to (`cloud` or `dc`).
    confluence_service: &'static str,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Flavour {
    Cloud,
    DataCenter,
}

#[derive(Clone, Copy, PartialEq)]
enum UniqueAuth {
    ClusterLocal,
    Zitadel,
}

async fn env_with(confluence: ConfluenceConfig, unique: UniqueConfig, auth: UniqueAuth) -> Env {
    env_flavoured(confluence, unique, auth, Flavour::Cloud).await
}

async fn env_flavoured(
    confluence: ConfluenceConfig,
    unique: UniqueConfig,
    auth: UniqueAuth,
    flavour: Flavour,
) -> Env {
    let sb = spawn_sandbox_with(SandboxConfig {
        confluence,
        unique,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let root = seed_root(&sb, "Faults root");
    let side = match auth {
        UniqueAuth::ClusterLocal => cluster_local(&sb),
        UniqueAuth::Zitadel => external(&sb, "sandbox-zitadel-secret", "sandbox-project"),
    };
    let mut tenant = match flavour {
        Flavour::Cloud => cloud_tenant(&sb, TENANT, &root, "sandbox-client-secret", &side),
        Flavour::DataCenter => dc_tenant(
            &sb,
            TENANT,
            &root,
            "{ mode: oauth_2lo, clientId: sandbox-client-id, clientSecret: sandbox-client-secret }",
            &side,
        ),
    };
    tenant.push_str("      processing:\n        concurrency: 2\n");
    let config = write_config(dir.path(), ANY_PORT, "warn", &[tenant]);
    let state_url = format!("sqlite://{}", dir.path().join("state.db").display());
    Env {
        sb,
        _dir: dir,
        config,
        state_url,
        confluence_service: match flavour {
            Flavour::Cloud => "cloud",
            Flavour::DataCenter => "dc",
        },
    }
}

async fn env() -> Env {
    env_of(dataset()).await
}

async fn env_of(dataset: Dataset) -> Env {
    env_with(
        ConfluenceConfig {
            dataset,
            ..Default::default()
        },
        UniqueConfig::default(),
        UniqueAuth::ClusterLocal,
    )
    .await
}

/// The storms' tenant: Unique through Zitadel tokens, so the storm hits a token endpoint on each
/// side.
async fn storm_env() -> Env {
    env_with(
        ConfluenceConfig {
            dataset: storm_dataset(),
            ..Default::default()
        },
        UniqueConfig {
            auth_mode: UniqueAuthMode::External,
            ..Default::default()
        },
        UniqueAuth::Zitadel,
    )
    .await
}

/// The expected state: the dataset synced once into a fresh sandbox without faults.
async fn reference() -> Vec<StoredFile> {
    reference_of(dataset()).await
}

async fn reference_of(dataset: Dataset) -> Vec<StoredFile> {
    let env = env_of(dataset).await;
    let (ok, summary) = sync(&env).await;
    assert!(ok, "the clean reference run failed: {summary}");
    let files = stored_files(&env.sb);
    assert!(
        files.iter().any(|f| f.key.contains("::")) && files.iter().any(|f| !f.key.contains("::")),
        "the dataset must land pages and attachments: {:?}",
        keys(&files)
    );
    files
}

/// Shortens the retry budget of `env`'s config (default 5 minutes) for a test in which a
/// service stays down and the run must fail.
fn limit_retry_budget(env: &Env, secs: u64) {
    let text = std::fs::read_to_string(&env.config).unwrap();
    assert!(text.contains("\ntenants:\n"));
    let text = text.replacen(
        "\ntenants:\n",
        &format!("\nretry:\n  budget_secs: {secs}\ntenants:\n"),
        1,
    );
    std::fs::write(&env.config, text).unwrap();
}

/// One `sync --json`; returns whether it exited 0 and the tenant's summary.
async fn sync(env: &Env) -> (bool, Value) {
    let (ok, summary, _) = sync_logged(env).await;
    (ok, summary)
}

/// [`sync`], plus the binary's log (JSON lines on stderr, `warn` and up).
async fn sync_logged(env: &Env) -> (bool, Value, String) {
    let out = run(Some(&env.config), &["sync", "--json"], &[]).await;
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    let tenant = json["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == TENANT)
        .unwrap_or_else(|| panic!("no {TENANT} in {json}"))
        .clone();
    (out.status.success(), tenant, text(&out.stderr))
}

/// Syncs until a cycle succeeds (at most `max` cycles); returns the statuses seen.
async fn sync_until_success(env: &Env, max: usize) -> Vec<String> {
    let mut statuses = Vec::new();
    for _ in 0..max {
        let (ok, summary) = sync(env).await;
        let status = summary["status"].as_str().unwrap_or("?").to_owned();
        statuses.push(status.clone());
        if ok && status == "success" {
            return statuses;
        }
        if let Some(error) = summary["error"].as_str() {
            println!("  cycle {status}: {error}");
        }
        for failure in open_failures(env).await {
            println!(
                "  still failing: {} ({:?}): {}",
                failure.key, failure.phase, failure.error
            );
        }
    }
    panic!("no successful cycle in {max}: {statuses:?}");
}

async fn open_failures(env: &Env) -> Vec<sync_engine::ItemFailure> {
    let ledger = Ledger::open(&env.state_url, LedgerOptions::default().read_only())
        .await
        .unwrap();
    let open = ledger.open_failures(TENANT).await.unwrap();
    ledger.close().await;
    open
}

async fn runs(env: &Env) -> Vec<RunRecord> {
    let ledger = Ledger::open(&env.state_url, LedgerOptions::default().read_only())
        .await
        .unwrap();
    let mut runs = ledger.recent_runs(Some(TENANT), 1000).await.unwrap();
    ledger.close().await;
    runs.sort_by_key(|r| r.id);
    runs
}

/// Deletions Unique received: content by id, single content, folders.
fn deletion_requests(sb: &SandboxHandle) -> u64 {
    ["ContentDeleteByContentIds", "ContentDelete", "DeleteFolder"]
        .iter()
        .map(|op| sb.requests.count_operation("unique-ingestion", op))
        .sum()
}

/// Injected errors per service (`service=count`), from the request log.
fn injected_by_service(sb: &SandboxHandle) -> String {
    let mut by: std::collections::BTreeMap<String, u64> = Default::default();
    for r in sb.requests.records() {
        if matches!(r.status, 429 | 500 | 502 | 503) {
            *by.entry(r.service).or_default() += 1;
        }
    }
    by.iter()
        .map(|(s, n)| format!("{s}={n}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Upload `PUT`s: on the blob origin (external mode) or the ingestion service (cluster-local).
fn uploads(sb: &SandboxHandle) -> u64 {
    ["unique-blob", "unique-ingestion"]
        .iter()
        .map(|service| sb.requests.count_matching(service, "PUT", "scoped/upload"))
        .sum()
}

fn fired(sb: &SandboxHandle) -> u64 {
    sb.faults.rules().iter().map(|r| r.fired).sum()
}

// ---------------------------------------------------------------------------------------------
// Storms: the cycle completes and every key lands once with the right bytes.

/// The `level` field of every ERROR line of the binary's JSON log.
fn error_lines(logs: &str) -> Vec<&str> {
    logs.lines()
        .filter(|l| l.contains("\"level\":\"ERROR\""))
        .collect()
}

/// One `sync` under a storm: it must succeed in this one cycle, land every key once with the
/// right bytes, and log no ERROR (a retried attempt is a WARN; nothing finally failed).
async fn storm_converges_in_one_cycle(env: &Env, expected: &[StoredFile], label: &str) {
    let began = Instant::now();
    let (ok, summary, logs) = sync_logged(env).await;
    let took = began.elapsed();
    let injected = fired(&env.sb);
    let retried = logs
        .lines()
        .filter(|l| l.contains("\"level\":\"WARN\""))
        .count();
    println!(
        "{label} storm: {} files, {injected} injected ({}) of {} requests ({} uploads), \
         1 cycle {}, {retried} WARN lines, {took:?}",
        expected.len(),
        injected_by_service(&env.sb),
        env.sb.requests.records().len(),
        uploads(&env.sb),
        summary["status"],
    );
    assert!(injected > 15, "the storm barely happened: {injected}");
    assert!(ok, "{summary}\n{logs}");
    assert_eq!(summary["status"], "success", "{summary}");
    assert_eq!(stored_files(&env.sb), expected);
    assert_eq!(runs(env).await.len(), 1, "one cycle");
    assert_eq!(
        error_lines(&logs),
        Vec::<&str>::new(),
        "a storm with nothing failed logged errors"
    );
    assert!(retried > 0, "the retries were not logged at WARN:\n{logs}");
}

/// Half of all Confluence and Unique requests (both token endpoints — Cloud OAuth and Zitadel —,
/// search, bodies, downloads, media, GraphQL, file diff, uploads) answered 429 `Retry-After: 1`.
/// The requests retry within the retry budget (5 min), not six times, and an attachment whose
/// streamed upload was refused is tried again from a fresh download within it too: the cycle
/// converges in one go, every time.
#[tokio::test(flavor = "multi_thread")]
async fn a_429_storm_on_every_service_converges_in_one_cycle() {
    let expected = reference_of(storm_dataset()).await;
    let env = storm_env().await;
    env.sb.faults.reseed(429);
    env.sb
        .faults
        .add_rule(FaultRule::error("*", 429, 0.5).retry_after(1));
    storm_converges_in_one_cycle(&env, &expected, "429").await;
}

/// Half of all requests answered 500, 502 or 503 (a sixth of all requests each).
#[tokio::test(flavor = "multi_thread")]
async fn a_5xx_storm_on_every_service_converges_in_one_cycle() {
    let expected = reference_of(storm_dataset()).await;
    let env = storm_env().await;
    env.sb.faults.reseed(500);
    for status in [500, 502, 503] {
        // Each rule sees what the earlier ones let through: 1/6, 1/5, 1/4 of the rest make
        // a sixth of all requests each, half in total.
        let ratio = match status {
            500 => 1.0 / 6.0,
            502 => 1.0 / 5.0,
            _ => 1.0 / 4.0,
        };
        env.sb.faults.add_rule(FaultRule::error("*", status, ratio));
    }
    storm_converges_in_one_cycle(&env, &expected, "5xx").await;
}

/// Every second attachment upload answered 500. The transport cannot replay a streamed upload;
/// the engine tries the attachment again from a fresh download, so all land in one cycle.
#[tokio::test(flavor = "multi_thread")]
async fn refused_streamed_uploads_are_retried_from_a_fresh_download_in_the_same_cycle() {
    let expected = reference().await;
    let attachments = expected.iter().filter(|f| f.key.contains("::")).count();
    let env = env().await;
    env.sb
        .faults
        .add_rule(FaultRule::every_nth("unique-ingestion", 2, 500).on_route("/scoped/upload"));
    let began = Instant::now();
    let (ok, summary, logs) = sync_logged(&env).await;
    assert!(ok, "{summary}");
    assert_eq!(summary["status"], "success", "{summary}");
    // Page uploads are plain bytes, which the transport replays itself; the refused attachment
    // uploads are the engine's to try again.
    let retried_attachments = logs
        .lines()
        .filter(|l| l.contains("trying again from a fresh download"))
        .count();
    assert!(
        retried_attachments >= 1,
        "no attachment was tried again:\n{logs}"
    );
    let uploads = env
        .sb
        .requests
        .count_matching("unique-ingestion", "PUT", "scoped/upload");
    println!(
        "refused uploads: {} files ({attachments} attachments), {} × 500 on {uploads} uploads, \
         {retried_attachments} attachment tries repeated, one cycle, {:?}",
        expected.len(),
        fired(&env.sb),
        began.elapsed()
    );
    assert!(fired(&env.sb) >= 2, "too few refusals to prove anything");
    assert_eq!(stored_files(&env.sb), expected);
}

// ---------------------------------------------------------------------------------------------
// Outages, token endpoints, expiring tokens, cut downloads: failed items are retried on the next
// cycle and the state converges.

/// Every request a little slower, so a cycle lasts long enough to break in the middle.
const SLOW: Duration = Duration::from_millis(25);

/// An outage of a few seconds: shorter than the retry budget (5 minutes), so the requests in
/// flight when it starts wait it out, and longer than a retry count of six attempts with
/// `Retry-After: 1` would last, so the test fails if retries were counted again.
const OUTAGE: Duration = Duration::from_secs(8);

/// Starts `sync` in the background, waits (polling Unique) until `landed` files are in, then
/// makes `services` unreachable for `window`: every request answered 503 `Retry-After: 1`, as a
/// load balancer without a healthy backend answers. Returns the first cycle's summary.
async fn sync_with_outage_mid_cycle(
    env: &Env,
    services: &[&str],
    landed: usize,
    window: Duration,
) -> (bool, Value) {
    let config = env.config.clone();
    let cycle = tokio::spawn(async move {
        let env_config = config;
        run(Some(&env_config), &["sync", "--json"], &[]).await
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while env.sb.unique.files().len() < landed {
        assert!(Instant::now() < deadline, "nothing landed within 30 s");
        assert!(!cycle.is_finished(), "the cycle ended before the outage");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for service in services {
        env.sb.faults.add_rule(
            FaultRule::error(service, 503, 1.0)
                .retry_after(1)
                .active_for(window),
        );
    }
    let out = cycle.await.unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    (out.status.success(), json["tenants"][0].clone())
}

async fn outage_converges(services: &[&str], label: &str) {
    let expected = reference().await;
    let env = env().await;
    env.sb.faults.add_rule(FaultRule::latency("*", SLOW));
    let began = Instant::now();
    let (_, first) = sync_with_outage_mid_cycle(&env, services, 3, OUTAGE).await;
    let injected = fired(&env.sb);
    let first_status = first["status"].as_str().unwrap().to_owned();
    let failed_items = first["counts"]["ingested_pages_failed"]
        .as_u64()
        .unwrap_or(0)
        + first["counts"]["ingested_attachments_failed"]
            .as_u64()
            .unwrap_or(0);
    assert!(injected > 0, "the outage never hit a request");
    let mut statuses = vec![first_status.clone()];
    if first_status != "success" {
        statuses.extend(sync_until_success(&env, 2).await);
    }
    println!(
        "{label} outage: {} files, {injected} × 503 in an {OUTAGE:?} window, first cycle {first_status} \
         with {failed_items} failed items, cycles {statuses:?}, {:?}",
        expected.len(),
        began.elapsed()
    );
    assert_eq!(stored_files(&env.sb), expected);
    let runs = runs(&env).await;
    assert_eq!(runs.len(), statuses.len(), "one run per cycle: {runs:#?}");
    assert!(runs.last().unwrap().status == sync_engine::RunStatus::SUCCESS);
}

/// Confluence (gateway and media host) answers nothing but 503 for 8 s in the middle of the
/// ingest phase.
#[tokio::test(flavor = "multi_thread")]
async fn confluence_unreachable_mid_cycle_converges() {
    outage_converges(&["cloud", "media"], "Confluence").await;
}

/// Unique (GraphQL, uploads) answers nothing but 503 for 8 s in the middle of the ingest phase.
#[tokio::test(flavor = "multi_thread")]
async fn unique_unreachable_mid_cycle_converges() {
    outage_converges(&["unique-ingestion", "unique-blob"], "Unique").await;
}

/// Both token endpoints (Cloud OAuth and Zitadel) down: the cycle fails with the reason in the
/// ledger and writes nothing; briefly down (3 × 503 each): retried inside one cycle; back up:
/// the next cycle lands everything.
#[tokio::test(flavor = "multi_thread")]
async fn failing_token_endpoints_fail_the_cycle_cleanly_and_it_converges() {
    let expected = reference().await;
    let env = env_with(
        ConfluenceConfig {
            dataset: dataset(),
            ..Default::default()
        },
        UniqueConfig {
            auth_mode: UniqueAuthMode::External,
            ..Default::default()
        },
        UniqueAuth::Zitadel,
    )
    .await;
    // "Down for good" must fail within the test, not after five minutes.
    limit_retry_budget(&env, 10);
    let began = Instant::now();

    // Zitadel down for good.
    let zitadel = env
        .sb
        .faults
        .add_rule(FaultRule::error("zitadel", 503, 1.0).retry_after(0));
    let (ok, summary) = sync(&env).await;
    assert!(!ok, "{summary}");
    assert_eq!(summary["status"], "failed", "{summary}");
    let run = runs(&env).await.pop().unwrap();
    assert_eq!(run.status, RunStatus::FAILED);
    let why = run.error.clone().unwrap_or_default();
    assert!(why.to_lowercase().contains("token"), "{why}");
    assert!(env.sb.unique.files().is_empty());
    env.sb.faults.remove_rule(zitadel);

    // The Confluence token endpoint down for good.
    let cloud = env.sb.faults.add_rule(
        FaultRule::error("cloud", 503, 1.0)
            .on_route("oauth/token")
            .retry_after(0),
    );
    let (ok, summary) = sync(&env).await;
    assert!(!ok, "{summary}");
    let run = runs(&env).await.pop().unwrap();
    assert_eq!(run.status, RunStatus::FAILED);
    let why = run.error.clone().unwrap_or_default();
    assert!(why.to_lowercase().contains("token"), "{why}");
    assert!(env.sb.unique.files().is_empty());
    env.sb.faults.remove_rule(cloud);

    // Both fail three times, then recover: retried within the cycle.
    env.sb.faults.add_rule(
        FaultRule::error("cloud", 503, 1.0)
            .on_route("oauth/token")
            .retry_after(0)
            .times(3),
    );
    env.sb
        .faults
        .add_rule(FaultRule::error("zitadel", 502, 1.0).times(3));
    let (ok, summary) = sync(&env).await;
    assert!(ok, "{summary}");
    assert_eq!(summary["status"], "success", "{summary}");
    println!(
        "token endpoints: {} files, {} token failures injected, cycles [failed, failed, success], {:?}",
        expected.len(),
        fired(&env.sb) + 12,
        began.elapsed()
    );
    assert_eq!(stored_files(&env.sb), expected);
}

/// The Data Center OAuth token endpoint down: the cycle fails with the reason in the ledger and
/// writes nothing; failing 3 times and then answering: retried within one cycle.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_data_center_token_endpoint_fails_the_cycle_cleanly_and_it_converges() {
    let dc_env = || {
        env_flavoured(
            ConfluenceConfig {
                dataset: dataset(),
                ..Default::default()
            },
            UniqueConfig::default(),
            UniqueAuth::ClusterLocal,
            Flavour::DataCenter,
        )
    };
    let expected = {
        let clean = dc_env().await;
        let (ok, summary) = sync(&clean).await;
        assert!(ok, "the clean reference run failed: {summary}");
        stored_files(&clean.sb)
    };
    let env = dc_env().await;
    // "Down for good" must fail within the test, not after five minutes.
    limit_retry_budget(&env, 10);
    let down = env.sb.faults.add_rule(
        FaultRule::error("dc", 503, 1.0)
            .on_route("oauth2/latest/token")
            .retry_after(0),
    );
    let (ok, summary) = sync(&env).await;
    assert!(!ok, "{summary}");
    let run = runs(&env).await.pop().unwrap();
    assert_eq!(run.status, RunStatus::FAILED);
    let why = run.error.clone().unwrap_or_default();
    assert!(why.to_lowercase().contains("token"), "{why}");
    assert!(env.sb.unique.files().is_empty());
    env.sb.faults.remove_rule(down);
    env.sb.faults.add_rule(
        FaultRule::error("dc", 502, 1.0)
            .on_route("oauth2/latest/token")
            .times(3),
    );
    let (ok, summary) = sync(&env).await;
    assert!(ok, "{summary}");
    assert_eq!(summary["status"], "success", "{summary}");
    println!(
        "Data Center token endpoint: {} files, ledger error while down: {why}",
        expected.len()
    );
    assert_eq!(stored_files(&env.sb), expected);
}

/// Confluence and Zitadel tokens live one second while every request takes 100 ms more: the
/// tokens expire several times in the middle of the cycle, which still succeeds in one go.
#[tokio::test(flavor = "multi_thread")]
async fn tokens_expiring_mid_cycle_are_refreshed_without_losing_items() {
    let expected = reference().await;
    let env = env_with(
        ConfluenceConfig {
            dataset: dataset(),
            token_ttl: Duration::from_secs(1),
            ..Default::default()
        },
        UniqueConfig {
            auth_mode: UniqueAuthMode::External,
            token_ttl: Duration::from_secs(1),
            ..Default::default()
        },
        UniqueAuth::Zitadel,
    )
    .await;
    env.sb
        .faults
        .add_rule(FaultRule::latency("*", Duration::from_millis(100)));
    let began = Instant::now();
    let (ok, summary) = sync(&env).await;
    let took = began.elapsed();
    assert!(ok, "{summary}");
    assert_eq!(summary["status"], "success", "{summary}");
    let cloud_tokens = env
        .sb
        .requests
        .count_matching("cloud", "POST", "oauth/token");
    let zitadel_tokens = env.sb.requests.count_service("zitadel");
    println!(
        "expiring tokens: {} files, {cloud_tokens} Confluence and {zitadel_tokens} Zitadel tokens \
         in one cycle of {took:?}",
        expected.len()
    );
    assert!(
        took > Duration::from_secs(3) && cloud_tokens >= 3 && zitadel_tokens >= 3,
        "the tokens did not expire mid-cycle: {took:?}, {cloud_tokens}, {zitadel_tokens}"
    );
    assert_eq!(stored_files(&env.sb), expected);
}

/// Half of the attachment downloads (media host) break after 100 bytes, every cycle: the broken
/// ones fail, nothing half-written stays, and they land on later cycles.
#[tokio::test(flavor = "multi_thread")]
async fn downloads_cut_mid_body_are_retried_next_cycle_and_converge() {
    let expected = reference().await;
    let env = env().await;
    env.sb.faults.reseed(7);
    env.sb
        .faults
        .add_rule(FaultRule::cut_body("media", 0.5, 100));
    let began = Instant::now();
    let (_, first) = sync(&env).await;
    let cut_in_first = fired(&env.sb);
    assert!(cut_in_first > 0, "no download was cut");
    assert_eq!(first["status"], "partial_success", "{first}");
    assert!(
        first["counts"]["ingested_attachments_failed"]
            .as_u64()
            .unwrap()
            >= cut_in_first,
        "{first}"
    );
    // What landed is whole; the cut ones are not there half-written.
    let partial = stored_files(&env.sb);
    for file in &partial {
        assert!(expected.contains(file), "wrong bytes for {}", file.key);
    }
    let mut statuses = vec!["partial_success".to_owned()];
    statuses.extend(sync_until_success(&env, 8).await);
    println!(
        "cut downloads: {} files, {} downloads cut (cut_ratio 0.5 after 100 bytes, {cut_in_first} \
         in the first cycle), cycles {statuses:?}, {:?}",
        expected.len(),
        fired(&env.sb),
        began.elapsed()
    );
    assert_eq!(stored_files(&env.sb), expected);
    let open = open_failures(&env).await;
    assert!(
        open.is_empty(),
        "open failures after convergence: {open:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Discovery that fails, finds nothing or is cut short: zero deletions, and the run says why.

/// After a clean sync, each discovery fault in turn: 401 and 403 on the search, a search answer
/// cut mid-body, the second search page failing, `maxItemsToScan` cutting discovery short, and
/// every label removed. Unique keeps every file and receives no deletion at all; the ledger's
/// run record says what happened (an error for the failures; only counts for the last two).
#[tokio::test(flavor = "multi_thread")]
async fn broken_or_empty_discovery_deletes_nothing_and_the_run_says_why() {
    broken_or_empty_discovery(Flavour::Cloud).await;
}

/// The same on Data Center (offset pagination, OAuth 2.0 client credentials).
#[tokio::test(flavor = "multi_thread")]
async fn broken_or_empty_discovery_on_data_center_deletes_nothing_and_the_run_says_why() {
    broken_or_empty_discovery(Flavour::DataCenter).await;
}

async fn broken_or_empty_discovery(flavour: Flavour) {
    let mut confluence = ConfluenceConfig {
        dataset: dataset(),
        ..Default::default()
    };
    // Three results per search page, so discovery pages through several.
    confluence.limits.cloud_search = 3;
    confluence.limits.dc_search_with_expand = 3;
    let env = env_flavoured(
        confluence,
        UniqueConfig::default(),
        UniqueAuth::ClusterLocal,
        flavour,
    )
    .await;
    let svc = env.confluence_service;
    // The failing search page below must fail the run, not be retried for five minutes.
    limit_retry_budget(&env, 3);
    let began = Instant::now();
    let (ok, summary) = sync(&env).await;
    assert!(ok, "{summary}");
    let baseline = stored_files(&env.sb);
    assert!(baseline.len() >= 10, "{}", baseline.len());
    let search_pages = env.sb.requests.count_matching(svc, "GET", "content/search");
    assert!(search_pages >= 3, "discovery should page: {search_pages}");
    env.sb.reset_requests();

    let cases: Vec<(&str, FaultRule, &str)> = vec![
        (
            "401 on the search",
            FaultRule::error(svc, 401, 1.0).on_route("content/search"),
            "rejected our credentials",
        ),
        (
            "403 on the search",
            FaultRule::error(svc, 403, 1.0).on_route("content/search"),
            "403",
        ),
        (
            "search answer cut mid-body",
            FaultRule::cut_body(svc, 1.0, 200).on_route("content/search"),
            "discover",
        ),
        (
            "second search page failing",
            FaultRule::error(svc, 503, 1.0)
                .on_route("content/search")
                .retry_after(0)
                .skip_first(1),
            "503",
        ),
    ];
    for (what, rule, reason) in cases {
        let id = env.sb.faults.add_rule(rule);
        let (ok, summary) = sync(&env).await;
        assert!(!ok, "{what}: {summary}");
        assert_eq!(summary["status"], "failed", "{what}: {summary}");
        let run = runs(&env).await.pop().unwrap();
        assert_eq!(run.status, RunStatus::FAILED, "{what}: {run:#?}");
        let why = run.error.clone().unwrap_or_default();
        assert!(
            why.contains(reason),
            "{what}: the run does not say why: {why}"
        );
        assert_eq!((run.counts.diff_deleted, run.counts.deleted_ok), (0, 0));
        assert_eq!(
            deletion_requests(&env.sb),
            0,
            "{what}: Unique got a deletion"
        );
        assert_eq!(stored_files(&env.sb), baseline, "{what}: Unique changed");
        println!("{flavour:?}, {what}: failed, ledger error: {why}");
        env.sb.faults.remove_rule(id);
    }

    // Discovery cut short on purpose (`maxItemsToScan: 3`): what it saw is current, the rest is
    // not deleted.
    let capped = env.config.with_file_name("config-capped.yaml");
    let text = std::fs::read_to_string(&env.config).unwrap();
    assert!(text.contains("concurrency: 2\n"));
    std::fs::write(
        &capped,
        text.replace(
            "concurrency: 2\n",
            "concurrency: 2\n        maxItemsToScan: 3\n",
        ),
    )
    .unwrap();
    let out = run(Some(&capped), &["sync", "--json"], &[]).await;
    let run = runs(&env).await.pop().unwrap();
    println!(
        "{flavour:?}, maxItemsToScan 3: exit {:?}, ledger {:?}, discovered {} pages + {} \
         attachments, diff_deleted {}, deleted {}, abort reason {:?}",
        out.status.code(),
        run.status,
        run.counts.discovered_pages,
        run.counts.discovered_attachments,
        run.counts.diff_deleted,
        run.counts.deleted_ok,
        run.abort_reason
    );
    assert_eq!(
        run.counts.discovered_pages + run.counts.discovered_attachments,
        3,
        "{run:#?}"
    );
    assert_eq!(run.counts.deleted_ok, 0, "{run:#?}");
    let note = run.note.as_deref().unwrap_or_default();
    assert!(
        note.starts_with("discovery truncated by maxItemsToScan") && note.contains("held back"),
        "the run record says why nothing was deleted: {run:#?}"
    );
    let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        summary["tenants"][0]["note"].as_str(),
        Some(note),
        "{summary}"
    );
    assert_eq!(
        deletion_requests(&env.sb),
        0,
        "maxItemsToScan: Unique got a deletion"
    );
    assert_eq!(
        stored_files(&env.sb),
        baseline,
        "maxItemsToScan: Unique changed"
    );

    // Every label removed: discovery is complete but finds nothing.
    let original = env.sb.confluence.dataset();
    for content in env.sb.confluence.dataset().content {
        if !content.labels.is_empty() {
            env.sb
                .confluence
                .set_labels(&content.id, Vec::new())
                .unwrap();
        }
    }
    let (ok, summary) = sync(&env).await;
    let run = runs(&env).await.pop().unwrap();
    println!(
        "{flavour:?}, empty discovery: exit ok {ok}, status {}, ledger {:?} / {:?} / {:?}",
        summary["status"], run.status, run.abort_reason, run.error
    );
    assert_eq!(run.counts.discovered_pages, 0, "{run:#?}");
    assert_eq!(
        run.note.as_deref(),
        Some("discovery found no labelled pages: deletions and the removed-space cleanup skipped"),
        "the run record says why nothing was deleted: {run:#?}"
    );
    assert_eq!(summary["note"].as_str(), run.note.as_deref(), "{summary}");
    assert_eq!(
        deletion_requests(&env.sb),
        0,
        "empty discovery: Unique got a deletion"
    );
    assert_eq!(
        stored_files(&env.sb),
        baseline,
        "empty discovery: Unique changed"
    );

    // The control: with the labels back and one page deleted in Confluence, a sound discovery
    // does delete, so the counters above would have seen a deletion.
    env.sb.confluence.replace_dataset(original).unwrap();
    let gone = baseline
        .iter()
        .map(|f| f.key.as_str())
        .rfind(|k| !k.contains("::"))
        .unwrap()
        .to_owned();
    let page_id = gone.rsplit('/').next().unwrap();
    env.sb.confluence.delete_content(page_id).unwrap();
    let (ok, summary) = sync(&env).await;
    assert!(ok, "{summary}");
    assert!(
        deletion_requests(&env.sb) > 0,
        "the control deleted nothing"
    );
    assert!(
        env.sb.unique.file_by_key(&gone).is_none(),
        "{gone} is still there"
    );
    println!(
        "{flavour:?} discovery faults: {} files kept through 6 broken discoveries; the control \
         deleted {gone} with {} deletion request(s), {:?}",
        baseline.len(),
        deletion_requests(&env.sb),
        began.elapsed()
    );
}

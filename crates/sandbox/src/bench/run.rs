//! Running a scenario: the sandbox in this process, the release connector as a child process,
//! and the result assembled from what the sandbox saw.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use serde_json::{json, Value};

use super::metrics::{self, round3, ConfluenceWork};
use super::mutate::{MutationSpec, Mutations};
use super::scenario::{Scenario, ScenarioParams};
use crate::common::{FaultRule, FaultsConfig, RateLimit, RequestRecord};
use crate::confluence::access::AccessModel;
use crate::confluence::{
    AttachmentData, CloudQuotaConfig, ConfluenceConfig, ContentType, Dataset, RouteSpend,
};
use crate::unique::{SeedScope, SeedUser, UniqueConfig};
use crate::{SandboxConfig, SandboxHandle};

/// Name of the benchmark tenant in the connector config.
const TENANT: &str = "bench";
/// Environment variable the tenant's Confluence client secret is read from.
const SECRET_ENV: &str = "BENCH_CONFLUENCE_CLIENT_SECRET";
/// How often the child's `/proc` entries are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(20);

/// Settings shared by every scenario of one `bench` invocation.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// The release `confluence-connector` binary.
    pub connector: PathBuf,
    /// Per-scenario tenant config, state database and connector output go below this.
    pub work_dir: PathBuf,
    /// Multiplies page and attachment counts (1.0 = the sizes).
    pub scale: f64,
    /// The tenant's `processing.concurrency`.
    pub concurrency: usize,
    /// The tenant's `processing.bodyBatchSize`.
    pub body_batch_size: usize,
    /// Replace the scenario's rates (recorded in the result; the default is the issue's).
    pub confluence_rpm: Option<u32>,
    pub unique_rpm: Option<u32>,
}

/// Runs the scenarios in order and hands each result to `emit` as soon as it is known. The
/// resync scenarios run on the initial-10k tenant (its sandbox and state directory); when
/// initial-10k itself was not asked for, it runs first as setup and is emitted with
/// `"setup": true`.
pub async fn run_scenarios(
    scenarios: &[Scenario],
    options: &BenchOptions,
    mut emit: impl FnMut(&Value) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut chains: BTreeMap<Scenario, BenchTenant> = BTreeMap::new();
    let mut resync_nochange_requests: Option<u64> = None;
    for &scenario in scenarios {
        let Some(setup) = scenario.chain() else {
            let tenant = BenchTenant::start(scenario, options).await?;
            let result = tenant.sync(scenario, options).await?;
            emit(&result)?;
            tenant.sandbox.shutdown().await;
            continue;
        };
        if let std::collections::btree_map::Entry::Vacant(slot) = chains.entry(setup) {
            let tenant = BenchTenant::start(setup, options).await?;
            let mut result = tenant.sync(setup, options).await?;
            if scenario != setup {
                result["setup"] = json!(true);
            }
            emit(&result)?;
            slot.insert(tenant);
            if scenario == setup {
                continue;
            }
        }
        let tenant = chains.get(&setup).context("the resync chain's tenant")?;
        let mut extra = json!({});
        if scenario == Scenario::Resync1pct {
            let spec = MutationSpec::one_percent(tenant.params.spec.seed);
            let mutations = Mutations::plan(&tenant.sandbox.confluence.dataset(), &spec);
            mutations
                .apply(&tenant.sandbox.confluence, &spec)
                .context("mutating the tenant")?;
            extra = json!({
                "edited_pages": mutations.edited.len(),
                "deleted_pages": mutations.deleted.len(),
                "relabelled_pages": mutations.relabelled.len(),
            });
        }
        let mut result = tenant.sync(scenario, options).await?;
        result["mutations"] = extra;
        let requests = total_requests(&result);
        match scenario {
            Scenario::ResyncNochange => resync_nochange_requests = Some(requests),
            Scenario::PermissionsResync => {
                result["targets"]["at_most_twice_resync_nochange"] =
                    permission_cost_target(requests, resync_nochange_requests);
            }
            _ => {}
        }
        emit(&result)?;
    }
    for tenant in chains.into_values() {
        tenant.sandbox.shutdown().await;
    }
    Ok(())
}

/// Confluence and Unique requests of one result (each a map of route → count).
fn total_requests(result: &Value) -> u64 {
    ["confluence", "unique"]
        .iter()
        .filter_map(|s| result["requests"][s].as_object())
        .flat_map(|routes| routes.values().filter_map(Value::as_u64))
        .sum()
}

/// A no-change resync with permissions on costs at most twice the requests of one without
/// (measured in the same invocation: name `resync-nochange` too).
fn permission_cost_target(requests: u64, without: Option<u64>) -> Value {
    match without {
        Some(without) => json!({
            "target": format!("<= 2 x {without} (resync-nochange)"),
            "measured": requests,
            "ratio": round3(requests as f64 / without.max(1) as f64),
            "met": requests <= 2 * without,
        }),
        None => json!({
            "target": "<= 2 x resync-nochange (run it in the same invocation to compare)",
            "measured": requests,
            "met": Value::Null,
        }),
    }
}

/// A running sandbox with one generated tenant and the connector config that points at it.
struct BenchTenant {
    sandbox: SandboxHandle,
    params: ScenarioParams,
    dir: PathBuf,
    config_path: PathBuf,
}

impl BenchTenant {
    async fn start(scenario: Scenario, options: &BenchOptions) -> anyhow::Result<Self> {
        let mut params = scenario.params(options.scale);
        if let Some(rpm) = options.confluence_rpm {
            params.rates.confluence_per_minute = rpm;
        }
        if let Some(rpm) = options.unique_rpm {
            params.rates.unique_per_minute = rpm;
        }
        let name = match scenario.chain() {
            Some(Scenario::Initial10k) => "tenant-10k",
            Some(_) => "tenant-permissions",
            None => scenario.name(),
        };
        let dir = options.work_dir.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("clearing {}", dir.display()))?;
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;

        let started = Instant::now();
        let (dataset, access) = params.spec.generate_with_access();
        eprintln!(
            "bench: {name}: generated {} pages, {} attachments in {:.1?}",
            dataset.content.len(),
            dataset
                .content
                .iter()
                .map(|c| c.attachments.len())
                .sum::<usize>(),
            started.elapsed()
        );
        let sandbox = crate::spawn(sandbox_config(dataset, &params)).await?;
        if params.permissions {
            mirror_people(&sandbox, access)?;
        }
        let root = sandbox
            .unique
            .seed_scope(SeedScope {
                name: "Confluence benchmark".into(),
                ..SeedScope::default()
            })
            .context("seeding the root scope")?;
        let config_path = dir.join("config.yaml");
        let config = connector_config(&sandbox, &params, options, &root.id, &dir);
        std::fs::write(&config_path, config)
            .with_context(|| format!("writing {}", config_path.display()))?;
        Ok(Self {
            sandbox,
            params,
            dir,
            config_path,
        })
    }

    /// One `confluence-connector sync` against the tenant, measured.
    async fn sync(&self, scenario: Scenario, options: &BenchOptions) -> anyhow::Result<Value> {
        let sandbox = &self.sandbox;
        sandbox.reset_requests();
        sandbox.unique.clear_calls();
        let dataset = sandbox.confluence.dataset();
        let started_at = Utc::now();
        eprintln!("bench: {}: syncing", scenario.name());

        let run = {
            let connector = options.connector.clone();
            let config = self.config_path.clone();
            let out = self.dir.join(format!("{}.connector", scenario.name()));
            let dry_run = self.params.dry_run;
            tokio::task::spawn_blocking(move || run_connector(&connector, &config, dry_run, &out))
                .await
                .context("the connector monitor")??
        };
        eprintln!(
            "bench: {}: connector exited {:?} after {:.1?}",
            scenario.name(),
            run.exit_code,
            run.wall
        );

        let records = sandbox.requests.records();
        let counts = RequestCounts::from_records(&records);
        let points = points_report(
            sandbox.cloud_quota.points_total(),
            sandbox.cloud_quota.refused_total(),
            &sandbox.cloud_quota.by_route(),
            counts.confluence_limited,
        );
        // From the state, not the call log: the log keeps only the first 20,000 calls.
        let written: Vec<_> = sandbox
            .unique
            .files()
            .into_iter()
            .filter(|f| f.updated_at >= started_at)
            .collect();
        let changed_pages = written.iter().filter(|f| !f.key.contains("::")).count() as u64;
        let written_attachments = written.len() as u64 - changed_pages;
        let work = ConfluenceWork {
            changed_pages,
            body_batch_size: options.body_batch_size as u64,
            ..counts.confluence_work
        };
        let rates = self.params.rates;
        let floor = metrics::floor(counts.confluence_limited, counts.unique_limited, rates);
        let wall_secs = run.wall.as_secs_f64();
        let wall_over_floor = metrics::wall_over_floor(wall_secs, &floor);
        let bound = metrics::confluence_bound(&work);
        let uploaded_bytes: u64 = written.iter().filter_map(|f| f.uploaded_size).sum();
        let downloaded_bytes = downloaded_bytes(&records, &dataset);
        let peak_rss_mib = run.peak_rss_kib as f64 / 1024.0;

        let targets = targets(
            scenario,
            &counts,
            &bound,
            wall_over_floor,
            peak_rss_mib,
            spaces_synced(&dataset),
        );
        Ok(json!({
            "scenario": scenario.name(),
            "scale": options.scale,
            "dataset": describe(&dataset),
            "config": {
                "confluence_rpm": rates.confluence_per_minute,
                "unique_rpm": rates.unique_per_minute,
                "latency_ms": self.params.latency_ms,
                "concurrency": options.concurrency,
                "body_batch_size": options.body_batch_size,
                "dry_run": self.params.dry_run,
            },
            "connector": {
                "binary": options.connector.display().to_string(),
                "binary_modified": binary_modified(&options.connector),
                "exit_code": run.exit_code,
                "summary": run.summary,
            },
            "requests": {
                "confluence": counts.confluence,
                "unique": counts.unique,
                "rate_limited": {
                    "confluence": counts.confluence_limited,
                    "unique": counts.unique_limited,
                },
                "throttled_429": {
                    "confluence": counts.confluence_429,
                    "unique": counts.unique_429,
                },
                "active_span_secs": {
                    "confluence": round3(counts.confluence_span.secs()),
                    "unique": round3(counts.unique_span.secs()),
                },
                "effective_rpm": {
                    "confluence": counts.confluence_span.rpm(counts.confluence_limited).map(round3),
                    "unique": counts.unique_span.rpm(counts.unique_limited).map(round3),
                    "unique_with_uploads": counts
                        .unique_span
                        .rpm(counts.unique_limited + counts.uploads)
                        .map(round3),
                },
                "contents_written": {
                    "pages": changed_pages,
                    "attachments": written_attachments,
                },
                "log_complete": records.len() as u64 == counts.total,
            },
            "points": points,
            "confluence_work": work,
            "confluence_bound": bound,
            "bytes": {
                "downloaded_from_confluence": downloaded_bytes,
                "uploaded_to_unique": uploaded_bytes,
                "connector_write_syscalls": run.write_bytes,
            },
            "wall_secs": round3(wall_secs),
            "floor_secs": round3(floor.floor_secs),
            "floor": {
                "confluence_secs": round3(floor.confluence_secs),
                "unique_secs": round3(floor.unique_secs),
                "bound_by": floor.bound_by,
            },
            "wall_over_floor": wall_over_floor.map(round3),
            // The floor if uploads spent the Unique budget too (as the connector's one metered
            // Unique transport makes them do): explains a `wall_over_floor` near 1.5.
            "floor_if_uploads_metered_secs": round3(
                metrics::floor(counts.confluence_limited, counts.unique_limited + counts.uploads, rates)
                    .floor_secs
            ),
            "peak_rss_mib": round3(peak_rss_mib),
            "targets": targets,
            "started_at": started_at.to_rfc3339(),
        }))
    }
}

fn sandbox_config(dataset: Dataset, params: &ScenarioParams) -> SandboxConfig {
    let mut rate_limits = BTreeMap::new();
    rate_limits.insert(
        "cloud".to_owned(),
        RateLimit::per_minute(u64::from(params.rates.confluence_per_minute)),
    );
    SandboxConfig {
        confluence: ConfluenceConfig {
            dataset,
            ..ConfluenceConfig::default()
        },
        unique: UniqueConfig {
            rate_limit_per_minute: Some(params.rates.unique_per_minute),
            // Keep hashes and sizes only: 5,000 kept attachments would cost gigabytes here.
            keep_blob_bytes_up_to: 0,
            ..UniqueConfig::default()
        },
        faults: FaultsConfig {
            seed: 0,
            rules: vec![FaultRule::latency(
                "*",
                Duration::from_millis(params.latency_ms),
            )],
            rate_limits,
        },
        // Points are counted as Cloud charges them, but the pool is lifted: a scenario measures
        // throughput, and waiting for the top of the hour would measure the clock.
        cloud_quota: CloudQuotaConfig {
            pool: BENCH_POOL,
            ..CloudQuotaConfig::default()
        },
        ..SandboxConfig::default()
    }
}

/// Installs the permission model and gives every Confluence person with an email a Unique
/// user, as a customer's company directory would.
fn mirror_people(sandbox: &SandboxHandle, access: AccessModel) -> anyhow::Result<()> {
    for user in &access.users {
        if let Some(email) = &user.email {
            sandbox
                .unique
                .seed_user(SeedUser {
                    email: email.clone(),
                    ..SeedUser::default()
                })
                .with_context(|| format!("seeding the Unique user {email}"))?;
        }
    }
    sandbox
        .confluence
        .replace_access(access)
        .context("installing the permission model")
}

/// The pool of the bench's sandbox: counts like the real one, never runs out.
const BENCH_POOL: u64 = 1_000_000_000;

/// The Cloud points a scenario cost, as the sandbox charged them: the total, per charged
/// Confluence request, refused requests, and per route (gateway prefix dropped).
fn points_report(
    total: u64,
    refused: u64,
    by_route: &BTreeMap<String, RouteSpend>,
    confluence_requests: u64,
) -> Value {
    let routes: BTreeMap<&str, Value> = by_route
        .iter()
        .map(|(route, spend)| {
            (
                short_route(route),
                json!({"requests": spend.requests, "points": spend.points}),
            )
        })
        .collect();
    let per_request =
        (confluence_requests > 0).then(|| round3(total as f64 / confluence_requests as f64));
    json!({
        "total": total,
        "per_confluence_request": per_request,
        "refused": refused,
        "by_route": routes,
    })
}

/// The daemon config with one inline Cloud tenant, rates identical to what the sandbox enforces.
fn connector_config(
    sandbox: &SandboxHandle,
    params: &ScenarioParams,
    options: &BenchOptions,
    root_scope: &str,
    dir: &Path,
) -> String {
    let u = &sandbox.urls;
    format!(
        "listen:
  host: 127.0.0.1
  port: 0
log:
  level: warn
  format: json
state:
  url: sqlite://{state}
tenants:
  inline:
    {TENANT}:
      confluence:
        instanceType: cloud
        baseUrl: {site}
        cloudId: {cloud_id}
        apiBaseUrl: {gateway}
        tokenUrl: {gateway}/oauth/token
        auth:
          mode: oauth_2lo
          clientId: sandbox-client-id
          clientSecret: os.environ/{SECRET_ENV}
        apiRateLimitPerMinute: {confluence_rpm}
        ingestSingleLabel: ai-ingest
        ingestAllLabel: ai-ingest-all
      unique:
        serviceAuthMode: cluster_local
        serviceExtraHeaders:
          x-company-id: sandbox-company
          x-user-id: sandbox-user
        ingestionServiceBaseUrl: {ingestion}
        scopeManagementServiceBaseUrl: {scope_management}
        apiRateLimitPerMinute: {unique_rpm}
      ingestion:
        scopeId: {root_scope}
        attachments:
          maxFileSizeMb: {max_file_size_mb}
      processing:
        concurrency: {concurrency}
        bodyBatchSize: {batch}
      permissions:
        mode: {permissions}
",
        state = dir.join("state.db").display(),
        site = u.cloud_site,
        cloud_id = u.cloud_id,
        gateway = u.cloud_gateway,
        confluence_rpm = params.rates.confluence_per_minute,
        ingestion = u.unique_ingestion,
        scope_management = u.unique_scope_management,
        unique_rpm = params.rates.unique_per_minute,
        max_file_size_mb = params.max_file_size_mb,
        concurrency = options.concurrency,
        batch = options.body_batch_size,
        permissions = if params.permissions { "page" } else { "none" },
    )
}

/// What the monitor saw of one connector process.
#[derive(Debug)]
struct ConnectorRun {
    exit_code: Option<i32>,
    wall: Duration,
    /// Highest `VmHWM` sampled from `/proc/<pid>/status` (the kernel's own peak-RSS mark, so only
    /// growth in the last sampling interval before exit can be missed).
    peak_rss_kib: u64,
    /// `wchar` of `/proc/<pid>/io` at the last sample: bytes through write syscalls, socket
    /// sends and the state database included. (`rchar` is not reported: socket `recv` calls,
    /// which is how the connector reads, do not count towards it.)
    write_bytes: u64,
    /// The `--json` summary (the dry-run plan left out: it lists every key).
    summary: Value,
}

fn run_connector(
    connector: &Path,
    config: &Path,
    dry_run: bool,
    out: &Path,
) -> anyhow::Result<ConnectorRun> {
    let stdout_path = out.with_extension("stdout.json");
    let stderr_path = out.with_extension("stderr.log");
    let mut cmd = Command::new(connector);
    cmd.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env(SECRET_ENV, "sandbox-client-secret")
        .arg("--config")
        .arg(config)
        .args(["sync", "--json"]);
    if dry_run {
        cmd.arg("--dry-run");
    }
    cmd.stdin(Stdio::null())
        .stdout(std::fs::File::create(&stdout_path)?)
        .stderr(std::fs::File::create(&stderr_path)?);
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("starting {}", connector.display()))?;
    let pid = child.id();
    let (mut peak_rss_kib, mut write_bytes) = (0, 0);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if let Some(hwm) = proc_status_kib(pid, "VmHWM:") {
            peak_rss_kib = peak_rss_kib.max(hwm);
        }
        if let Some(w) = proc_io_wchar(pid) {
            write_bytes = w;
        }
        std::thread::sleep(SAMPLE_EVERY);
    };
    let wall = started.elapsed();
    let stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    let mut summary: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| {
        let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        let tail: String = stderr
            .chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        json!({ "unparsed_stdout": stdout, "stderr_tail": tail })
    });
    if let Some(tenants) = summary.get_mut("tenants").and_then(Value::as_array_mut) {
        for t in tenants {
            if let Some(t) = t.as_object_mut() {
                t.remove("plan");
            }
        }
    }
    Ok(ConnectorRun {
        exit_code: status.code(),
        wall,
        peak_rss_kib,
        write_bytes,
        summary,
    })
}

/// When the connector binary was built (which code a result measured).
fn binary_modified(path: &Path) -> Option<String> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(chrono::DateTime::<Utc>::from(modified).to_rfc3339())
}

/// A `kB` field of `/proc/<pid>/status`.
fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_kib(&status, field)
}

fn parse_status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn proc_io_wchar(pid: u32) -> Option<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Request counts by side and route, as the sandbox recorded them.
#[derive(Debug, Default)]
struct RequestCounts {
    /// `"<service> <METHOD> <route>"` → count, for the Confluence origins.
    confluence: BTreeMap<String, u64>,
    /// `"<service> <METHOD> <route>[ <operation>]"` → count, for the Unique origins.
    unique: BTreeMap<String, u64>,
    /// Gateway requests that were not refused with 429 (the rate-limited Confluence origin).
    confluence_limited: u64,
    /// GraphQL (both services) and file-diff requests not refused with 429.
    unique_limited: u64,
    confluence_429: u64,
    unique_429: u64,
    confluence_work: ConfluenceWork,
    /// Every request the counters saw (the log keeps the first 200,000).
    total: u64,
    file_diffs: u64,
    /// Blob uploads (not rate-limited by the sandbox, as by Unique).
    uploads: u64,
    /// First and last start of a rate-limited request, per side: the effective rate is the
    /// count over this span (what the limiters achieved, start-up and tail excluded).
    confluence_span: Span,
    unique_span: Span,
    /// Unique requests other than file diffs (for `resync-nochange`).
    unique_other_than_file_diff: u64,
}

impl RequestCounts {
    fn from_records(records: &[RequestRecord]) -> Self {
        let mut c = RequestCounts::default();
        for r in records {
            c.total += 1;
            let throttled = r.status == 429;
            let route = short_route(&r.route);
            match r.service.as_str() {
                "cloud" | "cloud-site" | "media" | "dc" => {
                    *c.confluence
                        .entry(format!("{} {} {route}", r.service, r.method))
                        .or_default() += 1;
                    if r.service != "cloud" {
                        continue;
                    }
                    if throttled {
                        c.confluence_429 += 1;
                        continue;
                    }
                    c.confluence_limited += 1;
                    c.confluence_span.add(r.started_at);
                    let w = &mut c.confluence_work;
                    if route.ends_with("/rest/api/content/search") {
                        w.discovery_requests += 1;
                    } else if route.ends_with("/api/v2/pages")
                        || route.ends_with("/api/v2/blogposts")
                    {
                        w.body_requests += 1;
                    } else if route.ends_with("/attachments") {
                        w.attachment_completion_requests += 1;
                    } else if route.ends_with("/download") {
                        w.download_requests += 1;
                    } else if route.ends_with("/oauth/token") {
                        w.token_requests += 1;
                    } else {
                        w.other_requests += 1;
                    }
                }
                service => {
                    let mut key = format!("{service} {} {route}", r.method);
                    if let Some(op) = &r.operation {
                        key.push(' ');
                        key.push_str(op);
                    }
                    *c.unique.entry(key).or_default() += 1;
                    let limited = route == "/graphql" || route == "/v2/content/file-diff";
                    if limited && throttled {
                        c.unique_429 += 1;
                    } else if limited {
                        c.unique_limited += 1;
                        c.unique_span.add(r.started_at);
                    }
                    if route == "/scoped/upload" && !throttled {
                        c.uploads += 1;
                    }
                    if route == "/v2/content/file-diff" && !throttled {
                        c.file_diffs += 1;
                    } else if !throttled {
                        c.unique_other_than_file_diff += 1;
                    }
                }
            }
        }
        c
    }
}

/// The time between the first and the last of a set of instants.
#[derive(Debug, Default, Clone, Copy)]
struct Span {
    first: Option<chrono::DateTime<Utc>>,
    last: Option<chrono::DateTime<Utc>>,
}

impl Span {
    fn add(&mut self, at: chrono::DateTime<Utc>) {
        self.first = Some(self.first.map_or(at, |f| f.min(at)));
        self.last = Some(self.last.map_or(at, |l| l.max(at)));
    }

    fn secs(&self) -> f64 {
        match (self.first, self.last) {
            (Some(f), Some(l)) => (l - f).num_milliseconds() as f64 / 1000.0,
            _ => 0.0,
        }
    }

    /// Requests per minute over the span.
    fn rpm(&self, requests: u64) -> Option<f64> {
        let secs = self.secs();
        (secs > 0.0).then(|| requests.saturating_sub(1) as f64 * 60.0 / secs)
    }
}

/// `/ex/confluence/{cloud_id}/wiki/…` → `/wiki/…`: the gateway prefix says nothing.
fn short_route(route: &str) -> &str {
    match route.find("/wiki/") {
        Some(at) if route.starts_with("/ex/confluence/") => &route[at..],
        _ => route,
    }
}

/// Bytes the media host served (each download's attachment size, from the dataset).
fn downloaded_bytes(records: &[RequestRecord], dataset: &Dataset) -> u64 {
    let sizes: HashMap<&str, u64> = dataset
        .content
        .iter()
        .flat_map(|c| &c.attachments)
        .filter_map(|a| match &a.data {
            AttachmentData::Generated { size, .. } => Some((a.id.as_str(), *size)),
            _ => None,
        })
        .collect();
    records
        .iter()
        .filter(|r| r.service == "media" && r.status == 200)
        .filter_map(|r| {
            let rest = r.path_and_query.strip_prefix("/file/")?;
            let id = rest.split('/').next()?;
            sizes.get(id).copied()
        })
        .sum()
}

fn spaces_synced(dataset: &Dataset) -> u64 {
    let mut spaces: Vec<&str> = dataset
        .content
        .iter()
        .filter(|c| c.labels.iter().any(|l| l.starts_with("ai-ingest")))
        .map(|c| c.space.as_str())
        .collect();
    spaces.sort_unstable();
    spaces.dedup();
    spaces.len() as u64
}

fn describe(dataset: &Dataset) -> Value {
    let pages = dataset
        .content
        .iter()
        .filter(|c| c.content_type == ContentType::Page)
        .count();
    let attachments: Vec<u64> = dataset
        .content
        .iter()
        .flat_map(|c| &c.attachments)
        .map(|a| match &a.data {
            AttachmentData::Generated { size, .. } => *size,
            _ => 0,
        })
        .collect();
    json!({
        "spaces": dataset.spaces.len(),
        "pages": pages,
        "attachments": attachments.len(),
        "attachment_bytes": attachments.iter().sum::<u64>(),
    })
}

/// The targets (docs/benchmarks.md) that apply to `scenario`, each with the measured value and whether it is
/// met.
fn targets(
    scenario: Scenario,
    counts: &RequestCounts,
    bound: &metrics::ConfluenceBound,
    wall_over_floor: Option<f64>,
    peak_rss_mib: f64,
    spaces: u64,
) -> Value {
    let mut t = serde_json::Map::new();
    let mut ratio = |name: &str| {
        t.insert(
            name.to_owned(),
            json!({
                "target": "<= 1.10",
                "measured": wall_over_floor.map(round3),
                "met": wall_over_floor.is_some_and(|r| r <= 1.10),
            }),
        );
    };
    match scenario {
        Scenario::Initial10k => {
            ratio("wall_over_floor");
            t.insert(
                "confluence_requests".into(),
                json!({
                    "target": format!("<= {}", bound.bound),
                    "measured": bound.measured,
                    "met": bound.within_bound,
                    "ratio_to_one_request_per_page": bound.ratio_to_one_request_per_page.map(round3),
                }),
            );
        }
        Scenario::Rate100rpm => ratio("wall_over_floor"),
        Scenario::ResyncNochange => {
            let w = &counts.confluence_work;
            let confluence_extra = w.body_requests
                + w.attachment_completion_requests
                + w.download_requests
                + w.other_requests;
            t.insert(
                "only_discovery_and_one_file_diff_per_space".into(),
                json!({
                    "target": format!("confluence: discovery only; unique: {spaces} file diffs, nothing else"),
                    "confluence_non_discovery": confluence_extra,
                    "file_diffs": counts.file_diffs,
                    "unique_other": counts.unique_other_than_file_diff,
                    "met": confluence_extra == 0
                        && counts.file_diffs == spaces
                        && counts.unique_other_than_file_diff == 0,
                }),
            );
        }
        Scenario::BigAttachment | Scenario::Discovery100k => {
            let limit = if scenario == Scenario::BigAttachment {
                64.0
            } else {
                256.0
            };
            t.insert(
                "peak_rss_mib".into(),
                json!({
                    "target": format!("<= {limit}"),
                    "measured": round3(peak_rss_mib),
                    "met": peak_rss_mib <= limit,
                }),
            );
        }
        Scenario::Resync1pct | Scenario::PermissionsInitial | Scenario::PermissionsResync => {}
    }
    Value::Object(t)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn record(service: &str, method: &str, route: &str, status: u16) -> RequestRecord {
        RequestRecord {
            service: service.into(),
            method: method.into(),
            route: route.into(),
            path_and_query: route.into(),
            operation: None,
            status,
            started_at: Utc::now(),
            finished_at: Utc::now(),
            had_authorization: false,
        }
    }

    #[test]
    fn only_unthrottled_gateway_graphql_and_diff_requests_count_towards_the_floor() {
        let search = "/ex/confluence/{cloud_id}/wiki/rest/api/content/search";
        let records = [
            record("cloud", "GET", search, 200),
            record("cloud", "GET", search, 429),
            record("cloud", "POST", "/oauth/token", 200),
            record("media", "GET", "/file/{attachment}/binary", 200),
            record("unique-ingestion", "POST", "/graphql", 200),
            record("unique-ingestion", "POST", "/graphql", 429),
            record("unique-ingestion", "POST", "/v2/content/file-diff", 200),
            record("unique-ingestion", "PUT", "/scoped/upload", 201),
            record("unique-scope-management", "POST", "/graphql", 200),
        ];
        let c = RequestCounts::from_records(&records);
        assert_eq!((c.confluence_limited, c.confluence_429), (2, 1));
        assert_eq!((c.unique_limited, c.unique_429), (3, 1));
        assert_eq!(c.confluence_work.discovery_requests, 1);
        assert_eq!(c.confluence_work.token_requests, 1);
        assert_eq!(c.confluence["cloud GET /wiki/rest/api/content/search"], 2);
        assert_eq!(c.file_diffs, 1);
        assert_eq!(c.uploads, 1);
        assert_eq!(c.unique_other_than_file_diff, 3);
        assert_eq!(c.total, 9);
    }

    #[test]
    fn effective_rate_counts_intervals_between_first_and_last_request() {
        let t0 = Utc::now();
        let mut span = Span::default();
        assert_eq!(span.rpm(0), None);
        span.add(t0 + chrono::Duration::seconds(30));
        span.add(t0);
        span.add(t0 + chrono::Duration::seconds(10));
        assert_eq!(span.secs(), 30.0);
        // 11 requests evenly over 30 s: 10 intervals of 3 s = 20 per minute.
        assert_eq!(span.rpm(11), Some(20.0));
    }

    #[test]
    fn reads_vmhwm_from_proc_status() {
        let status = "Name:\tx\nVmPeak:\t  2000 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(parse_status_kib(status, "VmHWM:"), Some(1234));
        assert_eq!(parse_status_kib(status, "VmSwap:"), None);
        // This process has one.
        assert!(proc_status_kib(std::process::id(), "VmHWM:").unwrap() > 0);
    }

    #[test]
    fn points_are_reported_in_total_per_request_and_per_route() {
        let mut by_route = BTreeMap::new();
        by_route.insert(
            "/ex/confluence/{cloud_id}/wiki/rest/api/content/search".to_owned(),
            RouteSpend {
                requests: 4,
                points: 300,
                refused: 0,
            },
        );
        let report = points_report(310, 0, &by_route, 8);
        assert_eq!(report["total"], 310);
        assert_eq!(report["per_confluence_request"], 38.75);
        assert_eq!(
            report["by_route"]["/wiki/rest/api/content/search"]["points"],
            300
        );
        assert_eq!(
            points_report(0, 0, &BTreeMap::new(), 0)["per_confluence_request"],
            Value::Null
        );
    }

    #[test]
    fn short_route_drops_the_gateway_prefix_only() {
        assert_eq!(
            short_route("/ex/confluence/{cloud_id}/wiki/api/v2/pages"),
            "/wiki/api/v2/pages"
        );
        assert_eq!(short_route("/oauth/token"), "/oauth/token");
    }

    #[test]
    fn total_requests_add_up_every_route_of_both_services() {
        let result = json!({"requests": {
            "confluence": {"cloud GET /search": 106, "cloud POST /oauth/token": 1},
            "unique": {"unique-ingestion POST /v2/content/file-diff": 20},
        }});
        assert_eq!(total_requests(&result), 127);
        let target = permission_cost_target(200, Some(127));
        assert_eq!(target["met"], json!(true));
        assert_eq!(permission_cost_target(300, Some(127))["met"], json!(false));
    }

    #[test]
    fn connector_config_carries_the_enforced_rates() {
        // The config must tell the connector exactly the budgets the sandbox enforces.
        let params = Scenario::Rate100rpm.params(0.01);
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let sb = crate::spawn(sandbox_config(params.spec.generate(), &params))
                .await
                .unwrap();
            assert_eq!(sb.faults.rate_limits()["cloud"].per_minute, 100);
            assert_eq!(sb.unique.config().rate_limit_per_minute, Some(1200));
            let options = BenchOptions {
                connector: PathBuf::from("x"),
                work_dir: PathBuf::from("/tmp"),
                scale: 0.01,
                concurrency: 4,
                body_batch_size: 250,
                confluence_rpm: None,
                unique_rpm: None,
            };
            let text = connector_config(&sb, &params, &options, "root", Path::new("/tmp"));
            assert!(text.contains("apiRateLimitPerMinute: 100\n"), "{text}");
            assert!(text.contains("apiRateLimitPerMinute: 1200\n"), "{text}");
            assert!(!text.contains("sandbox-client-secret"));
        });
    }
}

//! `confluence-connector sync [--tenant NAME] [--dry-run] [--json]`: one cycle per tenant, in
//! parallel, then a summary; exit 1 when any tenant failed.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use sync_engine::{CycleMode, RunTrigger};
use tokio_util::sync::CancellationToken;

use super::Outcome;
use crate::config::LoadedConfig;
use crate::engine::EngineRunner;
use crate::health::SyncHistory;
use crate::metrics::Metrics;
use crate::progress::{NoProgress, Progress};
use crate::runner::RunSummary;
use crate::scheduler::Scheduler;
use crate::tenants::{self, TenantRuntime};

/// One bar per tenant: a spinner with the phase until the item count is known.
struct Bars {
    bars: Mutex<BTreeMap<String, ProgressBar>>,
    /// Each tenant's phase, shown again when a quota wait ends.
    phases: Mutex<BTreeMap<String, String>>,
}

impl Bars {
    fn new(tenants: &[Arc<TenantRuntime>]) -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{spinner} {prefix:12} {msg:24} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        let bars = tenants
            .iter()
            .map(|t| {
                let bar = multi.add(ProgressBar::new(0));
                bar.set_style(style.clone());
                bar.set_prefix(t.name().to_owned());
                bar.set_message("starting");
                bar.enable_steady_tick(std::time::Duration::from_millis(120));
                (t.name().to_owned(), bar)
            })
            .collect();
        Self {
            bars: Mutex::new(bars),
            phases: Mutex::new(BTreeMap::new()),
        }
    }

    fn with(&self, tenant: &str, f: impl FnOnce(&ProgressBar)) {
        let bars = self
            .bars
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(bar) = bars.get(tenant) {
            f(bar);
        }
    }

    fn finish(&self, summary: &RunSummary) {
        self.with(&summary.tenant, |bar| {
            bar.finish_with_message(summary.status.to_string());
        });
    }
}

impl Progress for Bars {
    fn phase(&self, tenant: &str, phase: &str) {
        self.phases
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(tenant.to_owned(), phase.to_owned());
        let phase = phase.to_owned();
        self.with(tenant, |bar| bar.set_message(phase));
    }

    fn quota_wait(&self, tenant: &str, until: Option<std::time::SystemTime>) {
        let message = match until {
            Some(until) => {
                let until = chrono::DateTime::<chrono::Utc>::from(until);
                format!("quota: waiting until {} UTC", until.format("%H:%M"))
            }
            None => self
                .phases
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .get(tenant)
                .cloned()
                .unwrap_or_default(),
        };
        self.with(tenant, |bar| bar.set_message(message));
    }

    fn total(&self, tenant: &str, items: u64) {
        self.with(tenant, |bar| bar.set_length(items));
    }

    fn item_done(&self, tenant: &str) {
        self.with(tenant, |bar| bar.inc(1));
    }
}

pub(crate) async fn run(
    loaded: LoadedConfig,
    only: Option<String>,
    dry_run: bool,
    json_output: bool,
) -> Outcome {
    if let Some(name) = &only {
        if !loaded.tenants.iter().any(|t| &t.name == name) {
            let known: Vec<_> = loaded.tenants.iter().map(|t| t.name.as_str()).collect();
            let message = format!(
                "no active or deleted tenant named `{name}` (known: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
            return not_started(&message, dry_run, json_output, Outcome::ConfigInvalid);
        }
    }
    match run_inner(loaded, only, dry_run, json_output).await {
        Ok(code) => code,
        Err(e) => {
            let message = crate::errors::error_text(&e);
            tracing::error!(error = %message, "sync could not start");
            not_started(&message, dry_run, json_output, Outcome::Failed)
        }
    }
}

/// The run never started (unknown tenant, ledger in use, …): the error on stderr and, with
/// `--json`, [`print_not_started_json`].
fn not_started(message: &str, dry_run: bool, json_output: bool, outcome: Outcome) -> Outcome {
    eprintln!("error: {message}");
    if json_output {
        print_not_started_json(message, dry_run);
    }
    outcome
}

/// A summary without tenants, so that a script reading `sync --json`'s stdout always gets one
/// JSON document, also when the run could not start.
pub(crate) fn print_not_started_json(message: &str, dry_run: bool) {
    let out = json!({
        "ok": false,
        "dryRun": dry_run,
        "error": message,
        "tenants": [],
    });
    println!("{out:#}");
}

async fn run_inner(
    loaded: LoadedConfig,
    only: Option<String>,
    dry_run: bool,
    json_output: bool,
) -> anyhow::Result<Outcome> {
    let metrics = Arc::new(Metrics::new());
    let ledger = crate::daemon::open_ledger(&loaded.daemon, false).await?;
    let mut tenant_set = tenants::build_all(&loaded, &metrics, &ledger)?;
    if let Some(name) = &only {
        tenant_set.retain(|t| t.name() == name);
    }
    let history = Arc::new(SyncHistory::new(
        loaded.daemon.health.sync_history_size,
        loaded.daemon.health.sync_tenant_failure_threshold,
    ));
    let runner = Arc::new(EngineRunner::new(ledger.clone(), metrics.clone()));
    let scheduler = Scheduler::new(runner, Some(ledger.clone()), history, metrics)
        .with_lease_ttl(loaded.daemon.state.lease_ttl);

    let cancel = CancellationToken::new();
    let on_ctrl_c = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("interrupted: letting in-flight items finish");
            on_ctrl_c.cancel();
        }
    });

    let bars =
        (!json_output && std::io::stdout().is_terminal()).then(|| Arc::new(Bars::new(&tenant_set)));
    let progress: Arc<dyn Progress> = match &bars {
        Some(b) => b.clone(),
        None => Arc::new(NoProgress),
    };
    let mode = if dry_run {
        CycleMode::DryRun
    } else {
        CycleMode::Normal
    };
    let runs = tenant_set.iter().map(|t| {
        let scheduler = &scheduler;
        let cancel = &cancel;
        let bars = &bars;
        let progress = &progress;
        async move {
            let summary = scheduler
                .run_with(t, RunTrigger::Cli, mode, progress.clone(), cancel)
                .await;
            if let Some(b) = bars {
                b.finish(&summary);
            }
            summary
        }
    });
    let summaries: Vec<RunSummary> = futures::future::join_all(runs).await;
    ledger.close().await;

    let failed = summaries.iter().any(|s| s.status.is_failure());
    if json_output {
        let out = json!({
            "ok": !failed,
            "dryRun": dry_run,
            "error": null,
            "tenants": summaries,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print_text(&summaries);
    }
    Ok(if failed {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}

fn print_text(summaries: &[RunSummary]) {
    for s in summaries {
        let mut line = format!(
            "{:<16} {:<8} {:<16} {:>7} ms",
            s.tenant, s.kind, s.status, s.duration_ms
        );
        if let serde_json::Value::Object(counts) = &s.counts {
            let shown: Vec<String> = counts
                .iter()
                .filter(|(_, v)| v.as_u64().is_some_and(|n| n > 0))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            if !shown.is_empty() {
                line.push_str("  ");
                line.push_str(&shown.join(" "));
            }
        }
        if let Some(e) = &s.error {
            line.push_str(&format!("  error: {e}"));
        }
        println!("{line}");
        if let Some(plan) = &s.plan {
            print_plan(plan);
        }
    }
}

/// A dry run's plan, one line per space with work, then what would be deleted.
fn print_plan(plan: &serde_json::Value) {
    let len = |v: &serde_json::Value| v.as_array().map_or(0, Vec::len);
    let mut any = false;
    for space in plan["spaces"].as_array().into_iter().flatten() {
        let counts = [
            len(&space["new"]),
            len(&space["updated"]),
            len(&space["moved"]),
            len(&space["deleted"]),
        ];
        if counts.iter().any(|n| *n > 0) {
            any = true;
            println!(
                "    would sync {:<12} {} new, {} updated, {} moved, {} deleted",
                space["space_key"].as_str().unwrap_or("?"),
                counts[0],
                counts[1],
                counts[2],
                counts[3]
            );
        }
    }
    let ingest = len(&plan["planned_ingest"]);
    if ingest > 0 {
        any = true;
        println!("    would ingest {ingest} item(s) in total (new, updated and earlier failures)");
    }
    for key in plan["removed_spaces"].as_array().into_iter().flatten() {
        any = true;
        println!(
            "    would remove the scope of space {}",
            key.as_str().unwrap_or("?")
        );
    }
    if plan["truncated"] == true {
        println!("    discovery was truncated by maxItemsToScan: nothing would be deleted");
    }
    if !any {
        println!("    nothing to do");
    }
}

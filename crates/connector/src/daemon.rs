//! `confluence-connector run`: the HTTP endpoints, one loop per tenant, reload on SIGHUP or a
//! changed config/tenant file, and a graceful stop on SIGTERM/SIGINT.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use secrecy::ExposeSecret;
use sync_engine::{Ledger, LedgerError, LedgerOptions, LedgerProbe};
use tokio::signal::unix::{signal, SignalKind};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{DaemonConfig, DiagnosticsDataPolicy, Env, LoadedConfig};
use crate::engine::EngineRunner;
use crate::health::SyncHistory;
use crate::http::{self, AppState};
use crate::metrics::Metrics;
use crate::scheduler::Scheduler;
use crate::tenants::{self, TenantRuntime};

/// How often tenant and config files are checked for changes.
const FILE_POLL: Duration = Duration::from_secs(3);

pub(crate) async fn open_ledger(daemon: &DaemonConfig, read_only: bool) -> anyhow::Result<Ledger> {
    let mut options = ledger_options(daemon);
    if read_only {
        options = options.read_only();
    }
    Ledger::open(daemon.state.url.expose_secret(), options)
        .await
        .context("opening the state ledger (state.url)")
}

/// What `check` reports about the ledger: the same location rules as [`open_ledger`], no writes.
pub(crate) async fn probe_ledger(daemon: &DaemonConfig) -> Result<LedgerProbe, LedgerError> {
    Ledger::probe(daemon.state.url.expose_secret(), ledger_options(daemon)).await
}

/// Whether the ledger has been created yet (false: a SQLite file nothing has written).
pub(crate) fn ledger_exists(daemon: &DaemonConfig) -> anyhow::Result<bool> {
    Ledger::exists(daemon.state.url.expose_secret()).context("reading state.url")
}

fn ledger_options(daemon: &DaemonConfig) -> LedgerOptions {
    let options = LedgerOptions::default();
    // Under `conceal`, ids, queries and file names in the URLs of an error are masked in the
    // ledger as in the logs. (What a service wrote back is already concealed by the errors
    // themselves: the clients got the policy through `wiring::SharedTransport`.)
    if daemon.log.diagnostics_data_policy == DiagnosticsDataPolicy::Conceal {
        options.with_error_filter(crate::telemetry::conceal_error_text)
    } else {
        options
    }
}

/// `systemctl status` shows how many tenants are scheduled.
fn notify_tenant_count(loops: &Loops) {
    let status = format!("{} tenant(s) scheduled", loops.current.len());
    systemd_notify("STATUS", crate::sd_notify::notify_status(&status));
}

/// A lost systemd notification is worth a warning, never a stop: systemd times out on its own.
fn systemd_notify(what: &str, result: std::io::Result<()>) {
    if let Err(e) = result {
        tracing::warn!(error = %e, "Could not send {what} to systemd");
    }
}

/// Seeds the metrics of a tenant set and forgets tenants no longer in it.
fn register_metrics(
    metrics: &Metrics,
    tenants: &[Arc<TenantRuntime>],
    previous: &BTreeSet<String>,
) {
    let names: BTreeSet<String> = tenants.iter().map(|t| t.name().to_owned()).collect();
    for gone in previous.difference(&names) {
        metrics.forget_tenant(gone);
    }
    for t in tenants {
        if t.config.is_active() {
            metrics.seed_active_tenant(t.name());
        } else {
            metrics.seed_deleted_tenant(t.name());
        }
    }
    let active = tenants.iter().filter(|t| t.config.is_active()).count();
    metrics.set_tenants_configured(active, tenants.len() - active);
}

/// Files whose change triggers a reload, with their modification times.
fn snapshot(
    config_path: Option<&Path>,
    daemon: &DaemonConfig,
) -> Vec<(PathBuf, Option<SystemTime>, u64)> {
    let mut paths: Vec<PathBuf> = config_path.map(Path::to_path_buf).into_iter().collect();
    if let Some(pattern) = &daemon.tenants.files {
        if let Ok(entries) = glob::glob(pattern) {
            paths.extend(entries.flatten());
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let meta = std::fs::metadata(&p).ok();
            let modified = meta.as_ref().and_then(|m| m.modified().ok());
            let len = meta.map_or(0, |m| m.len());
            (p, modified, len)
        })
        .collect()
}

/// The running tenant loops, by tenant.
struct Loops {
    scheduler: Arc<Scheduler>,
    cancel: CancellationToken,
    /// The current set: each tenant's runtime and its loop's `stop` token.
    current: BTreeMap<String, (Arc<TenantRuntime>, CancellationToken)>,
    /// Every loop ever started (stopped ones may still finish a run).
    tasks: Vec<JoinHandle<()>>,
}

impl Loops {
    /// Makes `tenants` the running set: loops of unchanged tenants (same runtime) go on
    /// undisturbed, changed tenants get a new loop that keeps the schedule, new tenants one that
    /// syncs at once, and removed tenants' loops stop after their current run.
    fn start(&mut self, tenants: &[Arc<TenantRuntime>]) {
        let mut previous = std::mem::take(&mut self.current);
        for t in tenants {
            let name = t.name().to_owned();
            match previous.remove(&name) {
                Some((old, stop)) if Arc::ptr_eq(&old, t) => {
                    self.current.insert(name, (old, stop));
                    continue;
                }
                Some((_, stop)) => {
                    stop.cancel();
                    self.spawn(t, false);
                }
                None => self.spawn(t, true),
            }
        }
        for (_, stop) in previous.into_values() {
            stop.cancel();
        }
        self.tasks.retain(|t| !t.is_finished());
    }

    fn spawn(&mut self, tenant: &Arc<TenantRuntime>, run_at_start: bool) {
        let stop = CancellationToken::new();
        self.tasks
            .push(tokio::spawn(self.scheduler.clone().tenant_loop(
                tenant.clone(),
                run_at_start,
                stop.clone(),
                self.cancel.clone(),
            )));
        self.current
            .insert(tenant.name().to_owned(), (tenant.clone(), stop));
    }

    fn names(&self) -> BTreeSet<String> {
        self.current.keys().cloned().collect()
    }
}

pub(crate) async fn run(config_path: Option<PathBuf>, loaded: LoadedConfig) -> anyhow::Result<()> {
    let daemon = loaded.daemon.clone();
    let metrics = Arc::new(Metrics::new());
    let ledger = open_ledger(&daemon, false).await?;
    let history = Arc::new(SyncHistory::new(
        daemon.health.sync_history_size,
        daemon.health.sync_tenant_failure_threshold,
    ));
    let tenant_set = Arc::new(tenants::build_all(&loaded, &metrics, &ledger)?);
    tenants::log_registered(&tenant_set);
    register_metrics(&metrics, &tenant_set, &BTreeSet::new());
    if tenant_set.is_empty() {
        tracing::warn!("No tenants configured; nothing will be synced");
    }

    let state = Arc::new(AppState {
        tenants: RwLock::new(tenant_set.clone()),
        history: history.clone(),
        metrics: metrics.clone(),
        ledger: ledger.clone(),
        connectivity_timeout: daemon.health.connectivity_timeout,
        probe_client: crate::wiring::SharedTransport::from_daemon(&daemon)?.probe_client()?,
    });
    let http_stop = CancellationToken::new();
    let separate_metrics = daemon.listen.metrics.is_some();
    let (addr, http_task) = http::serve(
        daemon.listen.http,
        http::router(state.clone(), !separate_metrics),
        http_stop.clone(),
    )
    .await?;
    tracing::info!(%addr, "Serving /healthz, /readyz{}", if separate_metrics { "" } else { " and /metrics" });
    let mut servers = vec![http_task];
    if let Some(metrics_addr) = daemon.listen.metrics {
        let (addr, task) = http::serve(
            metrics_addr,
            http::metrics_router(state.clone()),
            http_stop.clone(),
        )
        .await?;
        tracing::info!(%addr, "Serving /metrics");
        servers.push(task);
    }

    let runner = Arc::new(EngineRunner::new(ledger.clone(), metrics.clone()));
    let scheduler = Arc::new(
        Scheduler::new(
            runner,
            Some(ledger.clone()),
            history.clone(),
            metrics.clone(),
        )
        .with_lease_ttl(daemon.state.lease_ttl),
    );
    let mut loops = Loops {
        scheduler,
        cancel: CancellationToken::new(),
        current: BTreeMap::new(),
        tasks: Vec::new(),
    };
    loops.start(&tenant_set);

    let mut sigterm = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let mut files = snapshot(config_path.as_deref(), &daemon);
    let mut poll = tokio::time::interval(FILE_POLL);
    // systemd (Type=notify): started once the config is loaded, the ledger open and the
    // endpoints listening; the watchdog is fed from this loop, which stalls if the daemon hangs.
    systemd_notify("READY=1", crate::sd_notify::notify_ready());
    notify_tenant_count(&loops);
    let watchdog_every = crate::sd_notify::watchdog_interval()
        .map(|interval| interval / 2)
        .unwrap_or(Duration::from_secs(3600));
    let mut watchdog = tokio::time::interval(watchdog_every);
    let watchdog_on = crate::sd_notify::watchdog_interval().is_some();
    loop {
        let reason = tokio::select! {
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
            _ = watchdog.tick() => {
                if watchdog_on {
                    systemd_notify("WATCHDOG=1", crate::sd_notify::notify_watchdog());
                }
                continue;
            }
            _ = sighup.recv() => "SIGHUP",
            _ = poll.tick() => {
                let now = snapshot(config_path.as_deref(), &daemon);
                if now == files {
                    continue;
                }
                files = now;
                "a config or tenant file changed"
            }
        };
        systemd_notify("RELOADING=1", crate::sd_notify::notify_reloading());
        reload(config_path.as_deref(), reason, &state, &mut loops);
        systemd_notify("READY=1", crate::sd_notify::notify_ready());
        notify_tenant_count(&loops);
    }
    systemd_notify("STOPPING=1", crate::sd_notify::notify_stopping());

    let grace = daemon.shutdown_grace_period;
    tracing::info!(
        grace_secs = grace.as_secs(),
        "Shutting down: no new runs, in-flight items may finish"
    );
    for (_, stop) in loops.current.values() {
        stop.cancel();
    }
    loops.cancel.cancel();
    let all = futures::future::join_all(std::mem::take(&mut loops.tasks));
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!("The grace period ended with runs still going; they are abandoned");
    }
    http_stop.cancel();
    for task in servers {
        let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
    }
    ledger.close().await;
    tracing::info!("Stopped");
    Ok(())
}

/// The new set, with the old runtime kept for every tenant whose settings did not change (it
/// remembers the instance id and the items a cancelled cycle left half-done).
fn keep_unchanged(
    built: Vec<Arc<TenantRuntime>>,
    old: &[Arc<TenantRuntime>],
) -> Vec<Arc<TenantRuntime>> {
    built
        .into_iter()
        .map(|new| {
            old.iter()
                .find(|o| o.name() == new.name() && o.fingerprint == new.fingerprint)
                .cloned()
                .unwrap_or(new)
        })
        .collect()
}

/// Loads and builds the new tenant set; on any error keeps the old one and says why.
fn reload(config_path: Option<&Path>, reason: &str, state: &AppState, loops: &mut Loops) {
    tracing::info!(reason, "Reloading the tenant set");
    let loaded = match DaemonConfig::load(config_path, &Env::from_process()) {
        Ok(loaded) => loaded,
        Err(errors) => {
            for e in errors.errors() {
                tracing::error!(problem = %e, "Reload rejected; keeping the current tenants");
            }
            return;
        }
    };
    let tenant_set = match tenants::build_all(&loaded, &state.metrics, &state.ledger) {
        Ok(built) => Arc::new(keep_unchanged(built, &state.tenants())),
        Err(e) => {
            tracing::error!(
                error = crate::errors::error_text(&e),
                "Reload rejected; keeping the current tenants"
            );
            return;
        }
    };
    let names: BTreeSet<String> = tenant_set.iter().map(|t| t.name().to_owned()).collect();
    register_metrics(&state.metrics, &tenant_set, &loops.names());
    state.history.retain(&names);
    state.set_tenants(tenant_set.clone());
    loops.start(&tenant_set);
    tracing::info!(tenants = names.len(), "Reloaded the tenant set");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn snapshot_changes_when_a_tenant_file_appears_or_changes() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.yaml");
        std::fs::write(&config, "log: {level: info}\n").unwrap();
        let daemon = DaemonConfig {
            tenants: crate::config::TenantsConfig {
                files: Some(format!("{}/*-tenant-config.yaml", dir.path().display())),
            },
            ..DaemonConfig::default()
        };
        let before = snapshot(Some(&config), &daemon);
        assert_eq!(before, snapshot(Some(&config), &daemon));
        let tenant = dir.path().join("acme-tenant-config.yaml");
        std::fs::write(&tenant, "status: active\n").unwrap();
        let added = snapshot(Some(&config), &daemon);
        assert_ne!(before, added);
        std::fs::write(&tenant, "status: inactive\n").unwrap();
        assert_ne!(added, snapshot(Some(&config), &daemon), "size changed");
    }
}

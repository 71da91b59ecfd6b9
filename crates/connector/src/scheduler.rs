//! Runs tenants: once at start, then on each tenant's cron, never overlapping itself, and —
//! with a ledger — only while holding the tenant's lease, so replicas sharing a PostgreSQL
//! ledger split the tenants between them.
//!
//! Two tokens, two meanings: `stop` ends the loops (no new runs); `cancel` reaches the engine,
//! which then finishes the items in flight and returns. Shutdown cancels both and waits for
//! the runs up to the grace period.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sync_engine::{CycleMode, Ledger, LedgerKind, RunTrigger};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::health::SyncHistory;
use crate::metrics::Metrics;
use crate::progress::{NoProgress, Progress};
use crate::runner::{RunState, RunSummary, TenantRunner};
use crate::telemetry::tenant_span;
use crate::tenants::TenantRuntime;

/// Up to 2 s, different per process, tenant and moment (no `rand` dependency for this).
fn spread_jitter(tenant: &str) -> Duration {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    tenant.hash(&mut hasher);
    std::process::id().hash(&mut hasher);
    std::time::SystemTime::now().hash(&mut hasher);
    Duration::from_millis(hasher.finish() % 2000)
}

/// The next time `cron` fires strictly after `after`.
pub(crate) fn next_fire(cron: &croner::Cron, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    cron.find_next_occurrence(&after, false).ok()
}

/// Shared by every tenant loop (and by loops of a reloaded tenant set, so the overlap guard
/// spans reloads).
#[derive(Debug)]
pub(crate) struct Scheduler {
    runner: Arc<dyn TenantRunner>,
    ledger: Option<Ledger>,
    lease_ttl: Duration,
    running: Mutex<HashSet<String>>,
    health: Arc<SyncHistory>,
    metrics: Arc<Metrics>,
}

/// Marks a tenant as running until dropped.
struct Running<'a> {
    set: &'a Mutex<HashSet<String>>,
    tenant: String,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&self.tenant);
    }
}

fn kind(tenant: &TenantRuntime) -> &'static str {
    if tenant.config.is_active() {
        "sync"
    } else {
        "cleanup"
    }
}

impl Scheduler {
    pub(crate) fn new(
        runner: Arc<dyn TenantRunner>,
        ledger: Option<Ledger>,
        health: Arc<SyncHistory>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            runner,
            ledger,
            lease_ttl: crate::config::DEFAULT_LEASE_TTL,
            running: Mutex::new(HashSet::new()),
            health,
            metrics,
        }
    }

    /// The lease TTL (`state.lease_ttl_secs`) instead of [`crate::config::DEFAULT_LEASE_TTL`].
    pub(crate) fn with_lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    fn claim(&self, tenant: &str) -> Option<Running<'_>> {
        let mut set = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        set.insert(tenant.to_owned()).then(|| Running {
            set: &self.running,
            tenant: tenant.to_owned(),
        })
    }

    /// Runs the tenant once unless it is already running here or another replica holds its
    /// lease (both → `skipped`, not recorded in health, as the reference's
    /// `skipped/sync_in_progress`).
    pub(crate) async fn run_once(
        &self,
        tenant: &Arc<TenantRuntime>,
        trigger: RunTrigger,
        cancel: &CancellationToken,
    ) -> RunSummary {
        self.run_with(
            tenant,
            trigger,
            CycleMode::Normal,
            Arc::new(NoProgress),
            cancel,
        )
        .await
    }

    /// [`Scheduler::run_once`] with a mode and a progress display (the `sync` command).
    pub(crate) async fn run_with(
        &self,
        tenant: &Arc<TenantRuntime>,
        trigger: RunTrigger,
        mode: CycleMode,
        progress: Arc<dyn Progress>,
        cancel: &CancellationToken,
    ) -> RunSummary {
        let name = tenant.name();
        let kind = kind(tenant);
        let Some(_running) = self.claim(name) else {
            tracing::info!("Skipping run: the tenant is already running");
            return RunSummary::skipped(name, kind, "already running");
        };
        let started = Instant::now();
        if let Some(ledger) = &self.ledger {
            if ledger.kind() == LedgerKind::Postgres && trigger != RunTrigger::Cli {
                // Replicas wake on the same cron second; a random head start spreads the
                // tenants between them instead of the fastest replica taking every lease.
                tokio::time::sleep(spread_jitter(name)).await;
            }
        }
        let lease = match &self.ledger {
            None => None,
            Some(ledger) => match ledger.try_acquire_lease(name, self.lease_ttl).await {
                Ok(Some(lease)) => Some((ledger, lease)),
                Ok(None) => {
                    tracing::debug!("Skipping run: another replica holds the tenant's lease");
                    return RunSummary::skipped(name, kind, "lease held by another replica");
                }
                Err(e) => {
                    let summary = RunSummary::failed(
                        name,
                        kind,
                        format!("taking the tenant's lease: {e}"),
                        started.elapsed(),
                    );
                    self.record(&summary);
                    return summary;
                }
            },
        };
        let run_cancel = cancel.child_token();
        let run = self
            .runner
            .run(tenant.clone(), trigger, mode, run_cancel.clone(), progress);
        let summary = match lease {
            None => run.await,
            Some((ledger, mut lease)) => {
                tokio::pin!(run);
                let period = self.lease_ttl / 3;
                let mut renew =
                    tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                let mut lost = false;
                let summary = loop {
                    tokio::select! {
                        summary = &mut run => break summary,
                        _ = renew.tick(), if !lost => {
                            if let Err(e) = ledger.renew_lease(&mut lease).await {
                                tracing::warn!(error = %e, "Lost the tenant's lease; stopping the run");
                                lost = true;
                                run_cancel.cancel();
                            }
                        }
                    }
                };
                if !lost {
                    if let Err(e) = ledger.release_lease(lease).await {
                        tracing::warn!(error = %e, "Could not release the tenant's lease; it expires by itself");
                    }
                }
                summary
            }
        };
        self.record(&summary);
        summary
    }

    fn record(&self, summary: &RunSummary) {
        if let RunState::Ran(outcome) = summary.status {
            self.health.record(&summary.tenant, outcome, Utc::now());
            self.metrics.ledger_run(&summary.tenant, outcome.as_str());
        }
        match summary.status {
            status if status.is_failure() => tracing::error!(
                kind = summary.kind,
                status = %summary.status,
                error = summary.error.as_deref().unwrap_or(""),
                duration_ms = summary.duration_ms,
                "Unexpected error in tenant job"
            ),
            _ => tracing::info!(
                kind = summary.kind,
                status = %summary.status,
                duration_ms = summary.duration_ms,
                "Run finished"
            ),
        }
    }

    /// One tenant's life: a run at start (when `run_at_start`), then one per cron fire, until
    /// `stop`. Everything inside carries the tenant span.
    pub(crate) async fn tenant_loop(
        self: Arc<Self>,
        tenant: Arc<TenantRuntime>,
        run_at_start: bool,
        stop: CancellationToken,
        cancel: CancellationToken,
    ) {
        let span = tenant_span(tenant.name());
        async move {
            let cron = &tenant.config.processing.schedule;
            tracing::info!(
                "Scheduled job with cron: {}",
                tenant.config.processing.scan_interval_cron
            );
            if run_at_start && !stop.is_cancelled() {
                self.run_once(&tenant, RunTrigger::Startup, &cancel).await;
            }
            loop {
                let Some(next) = next_fire(cron, Utc::now()) else {
                    tracing::warn!("The schedule never fires again; no more runs");
                    return;
                };
                let wait = (next - Utc::now()).to_std().unwrap_or_default();
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
                if stop.is_cancelled() {
                    tracing::info!("Skipping job due to shutdown");
                    return;
                }
                self.run_once(&tenant, RunTrigger::Schedule, &cancel).await;
            }
        }
        .instrument(span)
        .await;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::TimeZone;
    use futures::future::BoxFuture;

    use super::*;
    use crate::config::{DaemonConfig, Env};
    use sync_engine::RunOutcome;

    /// A tenant runtime from an inline tenant pointing at loopback (never contacted).
    pub(crate) async fn tenant(name: &str, cron: &str) -> Arc<TenantRuntime> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.yaml");
        std::fs::write(
            &path,
            format!(
                r#"
tenants:
  inline:
    {name}:
      confluence:
        instanceType: data-center
        baseUrl: http://127.0.0.1:9
        auth: {{ mode: pat, token: tok }}
        apiRateLimitPerMinute: 100
        ingestSingleLabel: ai-ingest
        ingestAllLabel: ai-ingest-all
      unique:
        serviceAuthMode: cluster_local
        serviceExtraHeaders: {{ x-company-id: c, x-user-id: u }}
        ingestionServiceBaseUrl: http://127.0.0.1:9
        scopeManagementServiceBaseUrl: http://127.0.0.1:9
      ingestion: {{ scopeId: root }}
      processing: {{ scanIntervalCron: "{cron}" }}
"#
            ),
        )
        .unwrap();
        let loaded = DaemonConfig::load(Some(&path), &Env::empty()).unwrap();
        let ledger = crate::tenants::tests::memory_ledger().await;
        crate::tenants::build_all(&loaded, &Arc::new(Metrics::new()), &ledger)
            .unwrap()
            .remove(0)
    }

    /// Sleeps, and tracks how many runs overlap.
    #[derive(Debug, Default)]
    struct SlowRunner {
        active: AtomicUsize,
        max_active: AtomicUsize,
        runs: AtomicUsize,
    }

    impl TenantRunner for SlowRunner {
        fn run(
            &self,
            tenant: Arc<TenantRuntime>,
            _trigger: RunTrigger,
            _mode: CycleMode,
            cancel: CancellationToken,
            _progress: Arc<dyn Progress>,
        ) -> BoxFuture<'_, RunSummary> {
            Box::pin(async move {
                let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
                self.max_active.fetch_max(now, Ordering::SeqCst);
                self.runs.fetch_add(1, Ordering::SeqCst);
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(300)) => {}
                    _ = cancel.cancelled() => {}
                }
                self.active.fetch_sub(1, Ordering::SeqCst);
                let mut s = RunSummary::skipped(tenant.name(), "sync", "");
                s.status = RunState::Ran(if cancel.is_cancelled() {
                    RunOutcome::Cancelled
                } else {
                    RunOutcome::Success
                });
                s.error = None;
                s
            })
        }
    }

    fn scheduler(runner: Arc<SlowRunner>, ledger: Option<Ledger>) -> Scheduler {
        Scheduler::new(
            runner,
            ledger,
            Arc::new(SyncHistory::new(
                std::num::NonZeroUsize::new(5).unwrap(),
                0.5,
            )),
            Arc::new(Metrics::new()),
        )
    }

    #[tokio::test]
    async fn next_fire_follows_the_cron_expression() {
        let t = tenant("t", "*/15 * * * *").await;
        let after = Utc.with_ymd_and_hms(2026, 1, 1, 10, 7, 30).unwrap();
        assert_eq!(
            next_fire(&t.config.processing.schedule, after),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 10, 15, 0).unwrap())
        );
        let on_the_dot = Utc.with_ymd_and_hms(2026, 1, 1, 10, 15, 0).unwrap();
        assert_eq!(
            next_fire(&t.config.processing.schedule, on_the_dot),
            Some(Utc.with_ymd_and_hms(2026, 1, 1, 10, 30, 0).unwrap()),
            "strictly after: a run at the fire time does not fire again at once"
        );
    }

    #[tokio::test]
    async fn a_tenant_never_overlaps_itself() {
        let runner = Arc::new(SlowRunner::default());
        let s = scheduler(runner.clone(), None);
        let t = tenant("t", "*/15 * * * *").await;
        let cancel = CancellationToken::new();
        let (a, b) = tokio::join!(
            s.run_once(&t, RunTrigger::Startup, &cancel),
            s.run_once(&t, RunTrigger::Schedule, &cancel)
        );
        let mut states = [a.status, b.status];
        states.sort_by_key(|s| s.as_str());
        assert_eq!(
            states,
            [RunState::Skipped, RunState::Ran(RunOutcome::Success)]
        );
        assert_eq!(runner.max_active.load(Ordering::SeqCst), 1);
        // After the first finished, the tenant can run again.
        assert_eq!(
            s.run_once(&t, RunTrigger::Schedule, &cancel).await.status,
            RunState::Ran(RunOutcome::Success)
        );
    }

    #[tokio::test]
    async fn different_tenants_run_in_parallel() {
        let runner = Arc::new(SlowRunner::default());
        let s = scheduler(runner.clone(), None);
        let (a, b) = (
            tenant("a", "* * * * *").await,
            tenant("b", "* * * * *").await,
        );
        let cancel = CancellationToken::new();
        tokio::join!(
            s.run_once(&a, RunTrigger::Startup, &cancel),
            s.run_once(&b, RunTrigger::Startup, &cancel)
        );
        assert_eq!(runner.max_active.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn only_the_lease_holder_runs_and_the_lease_is_released_after() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(
            &format!("sqlite://{}", dir.path().join("l.db").display()),
            sync_engine::LedgerOptions::default(),
        )
        .await
        .unwrap();
        let runner = Arc::new(SlowRunner::default());
        // Two "replicas" sharing one ledger: the overlap guard is per scheduler, the lease
        // spans both.
        let one =
            scheduler(runner.clone(), Some(ledger.clone())).with_lease_ttl(Duration::from_secs(3));
        let two =
            scheduler(runner.clone(), Some(ledger.clone())).with_lease_ttl(Duration::from_secs(3));
        let t = tenant("t", "* * * * *").await;
        let cancel = CancellationToken::new();
        let (a, b) = tokio::join!(
            one.run_once(&t, RunTrigger::Schedule, &cancel),
            two.run_once(&t, RunTrigger::Schedule, &cancel)
        );
        let mut states = [a.status, b.status];
        states.sort_by_key(|s| s.as_str());
        assert_eq!(
            states,
            [RunState::Skipped, RunState::Ran(RunOutcome::Success)]
        );
        assert_eq!(runner.runs.load(Ordering::SeqCst), 1);
        let leases = ledger.leases().await.unwrap();
        assert!(leases.iter().all(|l| !l.live), "{leases:?}");
        assert_eq!(
            two.run_once(&t, RunTrigger::Schedule, &cancel).await.status,
            RunState::Ran(RunOutcome::Success)
        );
    }

    #[tokio::test]
    async fn cancel_reaches_the_run_and_stop_ends_the_loop() {
        let runner = Arc::new(SlowRunner::default());
        let s = Arc::new(scheduler(runner.clone(), None));
        let t = tenant("t", "* * * * *").await;
        let (stop, cancel) = (CancellationToken::new(), CancellationToken::new());
        let task = tokio::spawn(s.clone().tenant_loop(t, true, stop.clone(), cancel.clone()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        stop.cancel();
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(2), task)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(runner.runs.load(Ordering::SeqCst), 1);
        assert_eq!(runner.active.load(Ordering::SeqCst), 0);
    }
}

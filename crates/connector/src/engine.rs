//! The adapter from the scheduler's [`TenantRunner`] to the sync engine: runs a tenant's
//! [`Work`] and turns the engine's report into the connector's [`RunSummary`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sync_engine::{
    CycleMode, CycleReport, EngineError, Ledger, RunOutcome, RunTrigger, TenantDeletion, TenantSync,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::metrics::Metrics;
use crate::progress::{NoProgress, Progress};
use crate::runner::{RunState, RunSummary, TenantRunner};
use crate::telemetry::tenant_span;
use crate::tenants::{TenantRuntime, Work};

/// Runs tenants through the sync engine, recording in `ledger` and reporting to `metrics`.
#[derive(Debug, Clone)]
pub(crate) struct EngineRunner {
    ledger: Ledger,
    metrics: Arc<Metrics>,
}

impl EngineRunner {
    pub(crate) fn new(ledger: Ledger, metrics: Arc<Metrics>) -> Self {
        Self { ledger, metrics }
    }

    /// The id the ledger gave the run that just finished (the tenant's newest).
    async fn last_run_id(&self, tenant: &str) -> Option<i64> {
        let runs = self.ledger.recent_runs(Some(tenant), 1).await.ok()?;
        runs.first().map(|r| r.id.get())
    }

    async fn sync(
        &self,
        tenant: &TenantRuntime,
        engine: &TenantSync,
        trigger: RunTrigger,
        mode: CycleMode,
        cancel: CancellationToken,
    ) -> RunSummary {
        let started = Instant::now();
        let name = tenant.name();
        let result = engine.run_cycle(trigger, mode, cancel).await;
        let took = started.elapsed();
        let mut summary = match result {
            Ok(report) => from_report(report, took),
            Err(e) => {
                let mut s = RunSummary::failed(name, "sync", e.to_string(), took);
                if matches!(e, EngineError::GuardAborted { .. }) {
                    s.status = RunState::Ran(RunOutcome::Aborted);
                }
                s
            }
        };
        if mode == CycleMode::Normal {
            summary.run_id = self.last_run_id(name).await;
            if summary.status != RunState::Ran(RunOutcome::Cancelled) {
                self.metrics
                    .sync_finished(name, !summary.status.is_failure(), took);
            }
        }
        self.metrics.set_phase(name, "idle");
        summary
    }

    async fn cleanup(
        &self,
        tenant: &TenantRuntime,
        deletion: &TenantDeletion,
        trigger: RunTrigger,
        cancel: CancellationToken,
    ) -> RunSummary {
        let started = Instant::now();
        let name = tenant.name();
        let result = deletion.run(trigger, cancel).await;
        let took = started.elapsed();
        let mut summary = RunSummary::failed(name, "cleanup", String::new(), took);
        summary.error = None;
        match result {
            Ok(report) => {
                let outcome = report.status.outcome();
                // Nothing to delete is a success too.
                summary.status = RunState::Ran(outcome.unwrap_or(RunOutcome::Success));
                summary.error = (!report.errors.is_empty()).then(|| report.errors.join("; "));
                summary.counts = serde_json::to_value(&report).unwrap_or_default();
                if let Some(outcome) = outcome {
                    // A cancelled deletion is neither a success nor a failure, as for cycles.
                    if outcome != RunOutcome::Cancelled {
                        self.metrics
                            .cleanup_finished(name, outcome == RunOutcome::Success, took);
                    }
                    summary.run_id = self.last_run_id(name).await;
                }
            }
            Err(e) => {
                summary.error = Some(e.to_string());
                summary.run_id = self.last_run_id(name).await;
            }
        }
        summary
    }
}

fn from_report(report: CycleReport, took: Duration) -> RunSummary {
    let dry_run = report.mode == CycleMode::DryRun;
    let status = RunState::Ran(report.status);
    let error = match report.status {
        RunOutcome::Aborted => report.aborted_reason.clone(),
        RunOutcome::PartialSuccess => Some(format!(
            "{} item(s) failed, first: {}",
            report.failures.len(),
            report.failures.first().map_or("", |f| f.error.as_str())
        )),
        _ => None,
    };
    let plan = dry_run.then(|| {
        serde_json::json!({
            "spaces": report.spaces,
            "planned_ingest": report.planned_ingest,
            "deleted_keys": report.deleted_keys,
            "removed_spaces": report.removed_spaces,
            "truncated": report.truncated,
        })
    });
    RunSummary {
        tenant: report.tenant.clone(),
        kind: "sync",
        status,
        dry_run,
        run_id: None,
        duration_ms: took.as_millis() as u64,
        counts: serde_json::to_value(&report.counts).unwrap_or_default(),
        error,
        note: report.note.clone(),
        plan,
    }
}

impl TenantRunner for EngineRunner {
    /// The run is spawned as its own task so a panic inside the engine becomes a failed run
    /// instead of taking the scheduler down; the tenant span is attached to every line it logs.
    /// Dropping the returned future (a run abandoned after the grace period) aborts the task, as
    /// dropping the engine's own future would: the engine is crash-safe at any await point.
    fn run(
        &self,
        tenant: Arc<TenantRuntime>,
        trigger: RunTrigger,
        mode: CycleMode,
        cancel: CancellationToken,
        progress: Arc<dyn Progress>,
    ) -> BoxFuture<'_, RunSummary> {
        tenant.observer.set_progress(progress);
        let runner = self.clone();
        let name = tenant.name().to_owned();
        let kind = kind(&tenant);
        Box::pin(async move {
            let observer = tenant.observer.clone();
            let span = tenant_span(tenant.name());
            let mut task = AbortOnDrop(tokio::spawn(
                async move { runner.run_here(&tenant, trigger, mode, cancel).await }
                    .instrument(span),
            ));
            let joined = (&mut task.0).await;
            observer.set_progress(Arc::new(NoProgress));
            joined.unwrap_or_else(|e| {
                RunSummary::failed(
                    &name,
                    kind,
                    format!("the run panicked: {e}"),
                    Duration::ZERO,
                )
            })
        })
    }
}

/// Aborts the spawned run when the future awaiting it is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn kind(tenant: &TenantRuntime) -> &'static str {
    if tenant.config.is_active() {
        "sync"
    } else {
        "cleanup"
    }
}

impl EngineRunner {
    async fn run_here(
        &self,
        tenant: &TenantRuntime,
        trigger: RunTrigger,
        mode: CycleMode,
        cancel: CancellationToken,
    ) -> RunSummary {
        match &tenant.work {
            Work::Sync(engine) => self.sync(tenant, engine, trigger, mode, cancel).await,
            Work::Delete(_) if mode == CycleMode::DryRun => RunSummary::skipped(
                tenant.name(),
                "cleanup",
                "a dry run does not delete tenants",
            ),
            Work::Delete(deletion) => self.cleanup(tenant, deletion, trigger, cancel).await,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn dropping_the_guard_aborts_the_spawned_run() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let guard = AbortOnDrop(tokio::spawn(async move {
            // Holds `tx` until aborted; never completes on its own.
            let _tx = tx;
            std::future::pending::<()>().await;
        }));
        drop(guard);
        // The sender is dropped only when the task is aborted.
        tokio::time::timeout(Duration::from_secs(2), rx)
            .await
            .expect("the task was not aborted")
            .unwrap_err();
    }

    #[test]
    fn reports_map_to_run_states() {
        let report = |status| CycleReport {
            tenant: "t".into(),
            mode: CycleMode::Normal,
            status,
            counts: Default::default(),
            truncated: false,
            spaces: Vec::new(),
            failures: Vec::new(),
            planned_ingest: Vec::new(),
            deleted_keys: Vec::new(),
            removed_spaces: Vec::new(),
            aborted_reason: Some("guard".into()),
            note: None,
            duration: Duration::ZERO,
        };
        let state = |s| from_report(report(s), Duration::ZERO).status;
        for outcome in [
            RunOutcome::Success,
            RunOutcome::PartialSuccess,
            RunOutcome::Aborted,
            RunOutcome::Cancelled,
        ] {
            assert_eq!(state(outcome), RunState::Ran(outcome));
        }
        let aborted = from_report(report(RunOutcome::Aborted), Duration::ZERO);
        assert!(aborted.status.is_failure());
        assert_eq!(aborted.error.as_deref(), Some("guard"));
    }
}

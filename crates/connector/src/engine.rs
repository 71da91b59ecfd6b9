//! The adapter from the scheduler's [`TenantRunner`] to the sync engine: the tenant's config
//! becomes a [`TenantSpec`], engine events become metrics and progress, and the engine's report
//! becomes the connector's [`RunSummary`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use sync_engine::{
    AttachmentRules, CycleMode, CycleObserver, CycleReport, EngineError, ItemKind, ItemResult,
    KeyFormat, Ledger, Phase, RunOutcome, RunTrigger, TenantDeletion, TenantSpec, TenantSync,
};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::config::TenantConfig;
use crate::metrics::Metrics;
use crate::runner::{NoProgress, Progress, RunState, RunSummary, TenantRunner};
use crate::telemetry::tenant_span;
use crate::tenants::{TenantRuntime, Work};

/// The engine's view of a tenant.
pub(crate) fn tenant_spec(config: &TenantConfig) -> TenantSpec {
    let mut spec = TenantSpec::new(config.name.clone(), config.ingestion.scope_id.clone());
    spec.key_format = KeyFormat::from_use_v1(config.ingestion.use_v1_key_format);
    spec.ingest_single_label = config.confluence.ingest_single_label.clone();
    spec.ingest_all_label = config.confluence.ingest_all_label.clone();
    let attachments = &config.ingestion.attachments;
    spec.attachments = AttachmentRules {
        enabled: attachments.enabled,
        allowed_mime_types: attachments.allowed_mime_types.clone(),
        max_file_size_mb: u64::from(attachments.max_file_size_mb.get()),
        image_ocr: attachments.image_ocr_enabled,
    };
    spec.store_internally = config.ingestion.store_internally;
    spec.page_ingestion_config = config.ingestion.page_ingestion_config.clone();
    spec.inline_images = config.ingestion.inline_images_enabled;
    spec.concurrency = config.processing.concurrency.get();
    spec.max_items_to_scan = config
        .processing
        .max_items_to_scan
        .map(|n| usize::try_from(n.get()).unwrap_or(usize::MAX));
    spec
}

/// Engine events → `cfc_*` metrics and the `sync` progress bars. One per tenant (the engine
/// keeps it for the tenant's life); the progress display is swapped in per run, which is safe
/// because a tenant never runs twice at once.
pub(crate) struct EngineObserver {
    tenant: String,
    metrics: Arc<Metrics>,
    progress: Mutex<Arc<dyn Progress>>,
}

impl std::fmt::Debug for EngineObserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineObserver")
            .field("tenant", &self.tenant)
            .finish_non_exhaustive()
    }
}

impl EngineObserver {
    pub(crate) fn new(tenant: &str, metrics: Arc<Metrics>) -> Self {
        Self {
            tenant: tenant.to_owned(),
            metrics,
            progress: Mutex::new(Arc::new(NoProgress)),
        }
    }

    fn set_progress(&self, progress: Arc<dyn Progress>) {
        *self
            .progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = progress;
    }

    fn progress(&self) -> Arc<dyn Progress> {
        self.progress
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

impl CycleObserver for EngineObserver {
    fn phase(&self, phase: Phase) {
        self.metrics.set_phase(&self.tenant, phase.as_str());
        self.progress().phase(&self.tenant, phase.as_str());
    }

    fn discovered(&self, pages: u64, attachments: u64, took: Duration) {
        tracing::info!(
            pages,
            attachments,
            took_ms = took.as_millis() as u64,
            "Discovery finished"
        );
        self.metrics.scan_finished(&self.tenant, took);
    }

    fn held_back(&self, unknown_type: u64, attachment_listings: u64) {
        self.metrics
            .held_back(&self.tenant, "unknown_type", unknown_type);
        self.metrics
            .held_back(&self.tenant, "attachment_listing", attachment_listings);
    }

    fn diffed(&self, new: u64, updated: u64, moved: u64, deleted: u64) {
        for (kind, n) in [
            ("new", new),
            ("updated", updated),
            ("moved", moved),
            ("deleted", deleted),
        ] {
            self.metrics.file_diff(&self.tenant, kind, n);
        }
    }

    fn totals(&self, pages: u64, attachments: u64) {
        self.metrics.sync_totals(&self.tenant, pages, attachments);
        self.progress().total(&self.tenant, pages + attachments);
    }

    fn item(&self, kind: ItemKind, result: ItemResult, upload: Option<Duration>) {
        match kind {
            ItemKind::Page => self.metrics.page_processed(&self.tenant, result.as_str()),
            // The reference counts attachments as success or failure only.
            ItemKind::Attachment if result != ItemResult::Skipped => {
                self.metrics
                    .attachment_processed(&self.tenant, result.as_str());
            }
            ItemKind::Attachment => {}
        }
        if let Some(took) = upload {
            self.metrics.attachment_uploaded(&self.tenant, took);
        }
        self.progress().item_done(&self.tenant);
    }

    fn quota_wait(&self, until: Option<std::time::SystemTime>) {
        self.progress().quota_wait(&self.tenant, until);
    }

    fn deleted(&self, ok: u64, failed: u64) {
        self.metrics.content_deleted(&self.tenant, true, ok);
        self.metrics.content_deleted(&self.tenant, false, failed);
    }

    fn orphans_cleaned(&self, scopes_ok: u64, scopes_failed: u64, files: u64) {
        self.metrics
            .orphaned_scopes_cleaned(&self.tenant, true, scopes_ok);
        self.metrics
            .orphaned_scopes_cleaned(&self.tenant, false, scopes_failed);
        self.metrics.orphaned_files_cleaned(&self.tenant, files);
    }

    fn tenant_cleanup(
        &self,
        content_ok: u64,
        content_failed: u64,
        scopes_ok: u64,
        scopes_failed: u64,
    ) {
        self.metrics
            .cleanup_content_deleted(&self.tenant, true, content_ok);
        self.metrics
            .cleanup_content_deleted(&self.tenant, false, content_failed);
        self.metrics
            .cleanup_scopes_deleted(&self.tenant, true, scopes_ok);
        self.metrics
            .cleanup_scopes_deleted(&self.tenant, false, scopes_failed);
    }
}

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
    async fn tenant_spec_carries_labels_attachments_keys_and_limits() {
        let tenant = crate::scheduler::tests::tenant("acme", "*/5 * * * *").await;
        let spec = tenant_spec(&tenant.config);
        assert_eq!(spec.name, "acme");
        assert_eq!(spec.root_scope_id, "root");
        assert_eq!(spec.ingest_single_label, "ai-ingest");
        assert_eq!(spec.ingest_all_label, "ai-ingest-all");
        assert_eq!(spec.key_format, KeyFormat::V2);
        assert_eq!(spec.concurrency, tenant.config.processing.concurrency.get());
        assert_eq!(
            spec.attachments.allowed_mime_types,
            tenant.config.ingestion.attachments.allowed_mime_types
        );
        assert_eq!(
            spec.attachments.max_file_size_mb,
            u64::from(tenant.config.ingestion.attachments.max_file_size_mb.get())
        );
        assert_eq!(spec.max_items_to_scan, None);
    }

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

//! The adapter from the scheduler's [`TenantRunner`] to the sync engine.

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use sync_engine::{Ledger, RunTrigger};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::runner::{Mode, Progress, RunSummary, TenantRunner};
use crate::tenants::TenantRuntime;

/// One run's reporting: engine events to metrics, progress display and the tenant's phase.
/// The engine's observer trait maps onto these methods one to one.
pub(crate) struct CycleReporter<'a> {
    tenant: String,
    metrics: Arc<Metrics>,
    progress: &'a dyn Progress,
}

#[allow(dead_code)] // ENGINE-WIRING: called from the engine observer
impl<'a> CycleReporter<'a> {
    pub(crate) fn new(tenant: &str, metrics: Arc<Metrics>, progress: &'a dyn Progress) -> Self {
        Self {
            tenant: tenant.to_owned(),
            metrics,
            progress,
        }
    }

    /// `phase` is one of [`crate::metrics::PHASES`].
    pub(crate) fn phase(&self, phase: &str) {
        self.metrics.set_phase(&self.tenant, phase);
        self.progress.phase(&self.tenant, phase);
    }

    pub(crate) fn scanned(&self, took: std::time::Duration) {
        self.metrics.scan_finished(&self.tenant, took);
    }

    pub(crate) fn diffed(&self, new: u64, updated: u64, deleted: u64, moved: u64) {
        for (kind, n) in [
            ("new", new),
            ("updated", updated),
            ("deleted", deleted),
            ("moved", moved),
        ] {
            self.metrics.file_diff(&self.tenant, kind, n);
        }
    }

    /// Pages and attachments with work in this cycle.
    pub(crate) fn totals(&self, pages: u64, attachments: u64) {
        self.metrics.sync_totals(&self.tenant, pages, attachments);
        self.progress.total(&self.tenant, pages + attachments);
    }

    /// `result`: `success`, `failure` or `skipped`.
    pub(crate) fn page(&self, result: &str) {
        self.metrics.page_processed(&self.tenant, result);
        self.progress.item_done(&self.tenant);
    }

    /// `upload`: how long the upload took, for successful standalone attachments.
    pub(crate) fn attachment(&self, ok: bool, upload: Option<std::time::Duration>) {
        self.metrics
            .attachment_processed(&self.tenant, if ok { "success" } else { "failure" });
        if let Some(took) = upload {
            self.metrics.attachment_uploaded(&self.tenant, took);
        }
        self.progress.item_done(&self.tenant);
    }

    pub(crate) fn deleted(&self, ok: bool, count: u64) {
        self.metrics.content_deleted(&self.tenant, ok, count);
    }

    pub(crate) fn orphans_cleaned(&self, scopes_ok: u64, scopes_failed: u64, files: u64) {
        self.metrics
            .orphaned_scopes_cleaned(&self.tenant, true, scopes_ok);
        self.metrics
            .orphaned_scopes_cleaned(&self.tenant, false, scopes_failed);
        self.metrics.orphaned_files_cleaned(&self.tenant, files);
    }

    pub(crate) fn cleanup(
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
#[derive(Debug)]
pub(crate) struct EngineRunner {
    #[allow(dead_code)]
    ledger: Ledger,
    #[allow(dead_code)]
    metrics: Arc<Metrics>,
}

impl EngineRunner {
    pub(crate) fn new(ledger: Ledger, metrics: Arc<Metrics>) -> Self {
        Self { ledger, metrics }
    }
}

impl TenantRunner for EngineRunner {
    fn run<'a>(
        &'a self,
        tenant: &'a TenantRuntime,
        _trigger: RunTrigger,
        _mode: Mode,
        _cancel: CancellationToken,
        _progress: &'a dyn Progress,
    ) -> BoxFuture<'a, RunSummary> {
        Box::pin(async move {
            let started = Instant::now();
            let kind = if tenant.config.is_active() {
                "sync"
            } else {
                "cleanup"
            };
            RunSummary::failed(
                tenant.name(),
                kind,
                "the sync engine is not wired in this build".to_owned(),
                started.elapsed(),
            )
        })
    }
}

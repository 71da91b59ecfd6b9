//! Engine events → `cfc_*` metrics and the `sync` progress bars.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sync_engine::{CycleObserver, ItemKind, ItemResult, Phase};

use crate::metrics::Metrics;
use crate::progress::{NoProgress, Progress};

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

    pub(crate) fn set_progress(&self, progress: Arc<dyn Progress>) {
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

    fn permissions_applied(&self, report: &sync_engine::PermissionReport) {
        for (reason, n) in &report.left_out {
            self.metrics.permission_unmapped(&self.tenant, reason, *n);
        }
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

#[cfg(test)]
mod permission_tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn left_out_counts_feed_the_metric_by_reason() {
        let metrics = Arc::new(Metrics::new());
        let observer = EngineObserver::new("t", metrics.clone());
        let report = sync_engine::PermissionReport {
            left_out: BTreeMap::from([
                ("no_email".to_owned(), 2),
                ("app".to_owned(), 1),
                ("deactivated".to_owned(), 0),
            ]),
            ..Default::default()
        };
        observer.permissions_applied(&report);
        let text = metrics.encode();
        assert!(
            text.contains("cfc_permission_unmapped_total{tenant=\"t\",reason=\"no_email\"} 2"),
            "{text}"
        );
        assert!(text.contains("reason=\"app\"} 1"), "{text}");
        assert!(!text.contains("reason=\"deactivated\""), "{text}");
    }
}

//! Deleting a tenant (`status: deleted`): every child scope of the root and its content go, and
//! the root's ownership mark is cleared only when all of that succeeded. The mark left behind is
//! the "not finished, retry me" signal for the next run; the root scope itself is kept.
//!
//! A cancelled deletion (shutdown) stops between batches — before the next child scope or the
//! next [`CONTENT_DELETE_BATCH`] content ids — keeps the mark, and is recorded as cancelled; the
//! next run lists what is left and finishes it.

use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;
use unique_client::UniqueClient;

use crate::error::{during, EngineError};
use crate::ledger::{Ledger, RunCounts, RunTrigger};
use crate::observer::{CycleObserver, Phase};
use crate::outcome::RunOutcome;
use crate::report::{DeletionStatus, TenantDeletionReport};

/// Content ids per deletion request batch; cancellation is checked between batches. A multiple
/// of the client's own batch, so the requests sent are the same as one call for all ids.
const CONTENT_DELETE_BATCH: usize = 100;

/// Whether [`TenantDeletion::delete_children`] went through every child scope.
enum Stopped {
    AfterEveryChild,
    /// The cancellation token fired first.
    Early,
}

/// A deleted tenant: no Confluence client, only Unique, the ledger and the observer.
pub struct TenantDeletion {
    tenant: String,
    root_scope_id: String,
    unique: UniqueClient,
    ledger: Ledger,
    observer: Arc<dyn CycleObserver>,
}

impl std::fmt::Debug for TenantDeletion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantDeletion")
            .field("tenant", &self.tenant)
            .field("root_scope_id", &self.root_scope_id)
            .finish_non_exhaustive()
    }
}

impl TenantDeletion {
    pub fn new(
        tenant: impl Into<String>,
        root_scope_id: impl Into<String>,
        unique: UniqueClient,
        ledger: Ledger,
        observer: Arc<dyn CycleObserver>,
    ) -> Self {
        Self {
            tenant: tenant.into(),
            root_scope_id: root_scope_id.into(),
            unique,
            ledger,
            observer,
        }
    }

    /// Runs the deletion once and records it in the ledger (skips are not recorded). `Err` only
    /// when the root scope cannot be read or the ledger fails; partial failures are a
    /// [`DeletionStatus::Failure`] report. When `cancel` fires, the request in flight finishes,
    /// nothing new starts, the mark stays and the run is recorded as cancelled
    /// ([`DeletionStatus::Cancelled`]); the next run picks up what is left.
    #[tracing::instrument(skip_all, fields(tenant = %self.tenant))]
    pub async fn run(
        &self,
        trigger: RunTrigger,
        cancel: CancellationToken,
    ) -> Result<TenantDeletionReport, EngineError> {
        let started = Instant::now();
        let mut report = TenantDeletionReport {
            tenant: self.tenant.clone(),
            status: DeletionStatus::Success,
            contents_deleted: 0,
            scopes_deleted: 0,
            failures: 0,
            errors: Vec::new(),
            duration: Default::default(),
        };
        let root = self
            .unique
            .scope_by_id(&self.root_scope_id)
            .await
            .map_err(during("reading the root scope"))?;
        let Some(root) = root else {
            tracing::warn!(scope_id = %self.root_scope_id, "Root scope not found, skipping");
            report.status = DeletionStatus::SkippedRootScopeNotFound;
            return Ok(report);
        };
        if root.external_id.is_none() {
            tracing::info!("Root scope externalId already cleared, skipping");
            report.status = DeletionStatus::SkippedAlreadyCleanedUp;
            return Ok(report);
        }
        // A run of ours that was dropped mid-way (aborted after the shutdown grace period): say
        // so, as cycles do.
        self.ledger
            .mark_own_dropped_run_interrupted(&self.tenant)
            .await?;
        let run = self.ledger.start_run(&self.tenant, trigger).await?;
        self.observer.phase(Phase::CleaningUp);
        let result = self.delete_children(&root.id, &cancel, &mut report).await;
        if let Err(e) = &result {
            report.failures += 1;
            report.errors.push(e.to_string());
        }
        // Stopped early with nothing failed; a token that fired after the last child changes
        // nothing, the mark is cleared as usual.
        let cancelled = matches!(result, Ok(Stopped::Early)) && report.failures == 0;
        if report.failures == 0 && !cancelled {
            if let Err(e) = self.unique.set_scope_external_id(&root.id, None).await {
                report.failures += 1;
                report
                    .errors
                    .push(format!("Failed to clear root scope externalId: {e}"));
            }
        }
        self.observer.phase(Phase::Idle);
        report.status = if cancelled {
            tracing::info!(
                contents_deleted = report.contents_deleted,
                scopes_deleted = report.scopes_deleted,
                "Tenant deletion cancelled; the next run finishes it"
            );
            DeletionStatus::Cancelled
        } else if report.failures == 0 {
            DeletionStatus::Success
        } else {
            tracing::warn!(failures = report.failures, "Partial scope deletion failure");
            DeletionStatus::Failure
        };
        report.duration = started.elapsed();
        let counts = RunCounts {
            deleted_ok: report.contents_deleted,
            spaces_cleaned: report.scopes_deleted,
            deleted_failed: report.failures,
            ..RunCounts::default()
        };
        let outcome = report.status.outcome().unwrap_or(RunOutcome::Failed);
        let error = (outcome == RunOutcome::Failed).then(|| report.errors.join("; "));
        self.ledger
            .finish_run(run, outcome, &counts, error.as_deref())
            .await?;
        Ok(report)
    }

    /// Deletes every child scope and its content, stopping between batches once `cancel` fires.
    async fn delete_children(
        &self,
        root_id: &str,
        cancel: &CancellationToken,
        report: &mut TenantDeletionReport,
    ) -> Result<Stopped, EngineError> {
        let children = self
            .unique
            .child_scopes(root_id)
            .await
            .map_err(during("listing the root scope's children"))?;
        for child in children {
            if cancel.is_cancelled() {
                return Ok(Stopped::Early);
            }
            let (mut content_ok, mut content_failed) = (0, 0);
            let deleted = self.delete_content(&child.id, cancel).await;
            let content_finished = match deleted {
                Ok((ok, failed, finished)) => {
                    content_ok = ok;
                    content_failed = failed;
                    report.contents_deleted += content_ok;
                    report.failures += content_failed;
                    finished
                }
                Err(e) => {
                    report.failures += 1;
                    report.errors.push(format!(
                        "Failed to delete content for scope {}: {e}",
                        child.id
                    ));
                    true
                }
            };
            if !content_finished {
                self.observer
                    .tenant_cleanup(content_ok, content_failed, 0, 0);
                return Ok(Stopped::Early);
            }
            let (scopes_ok, scopes_failed);
            match self.unique.delete_scope(&child.id, true).await {
                Ok(result) => {
                    scopes_ok = result.success_folders.len() as u64;
                    scopes_failed = result.failed_folders.len() as u64;
                    report.scopes_deleted += scopes_ok;
                    report.failures += scopes_failed;
                }
                Err(e) => {
                    scopes_ok = 0;
                    scopes_failed = 1;
                    report.failures += 1;
                    report
                        .errors
                        .push(format!("Failed to delete child scope {}: {e}", child.id));
                }
            }
            self.observer
                .tenant_cleanup(content_ok, content_failed, scopes_ok, scopes_failed);
        }
        Ok(Stopped::AfterEveryChild)
    }

    /// Deletes the content of one scope in batches: `(deleted, failed, finished)`, where
    /// `finished` is false when `cancel` stopped it before the last batch.
    async fn delete_content(
        &self,
        scope_id: &str,
        cancel: &CancellationToken,
    ) -> Result<(u64, u64, bool), unique_client::UniqueError> {
        let ids = self.unique.content_ids_in_scope(scope_id).await?;
        let (mut deleted, mut failed) = (0, 0);
        for batch in ids.chunks(CONTENT_DELETE_BATCH) {
            if cancel.is_cancelled() {
                return Ok((deleted, failed, false));
            }
            let report = self.unique.delete_content_by_ids(batch).await?;
            deleted += report.deleted as u64;
            failed += report.failed() as u64;
        }
        Ok((deleted, failed, true))
    }
}

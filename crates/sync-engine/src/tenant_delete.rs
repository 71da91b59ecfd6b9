//! Deleting a tenant (`status: deleted`): every child scope of the root and its content go, and
//! the root's ownership mark is cleared only when all of that succeeded. The mark left behind is
//! the "not finished, retry me" signal for the next run; the root scope itself is kept.

use std::sync::Arc;
use std::time::Instant;

use unique_client::UniqueClient;

use crate::error::{during, EngineError};
use crate::ledger::{Ledger, RunCounts, RunOutcome, RunTrigger};
use crate::observer::{CycleObserver, Phase};
use crate::report::{DeletionStatus, TenantDeletionReport};

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
    /// [`DeletionStatus::Failure`] report.
    #[tracing::instrument(skip_all, fields(tenant = %self.tenant))]
    pub async fn run(&self, trigger: RunTrigger) -> Result<TenantDeletionReport, EngineError> {
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
        let run = self.ledger.start_run(&self.tenant, trigger).await?;
        self.observer.phase(Phase::CleaningUp);
        let result = self.delete_children(&root.id, &mut report).await;
        if let Err(e) = &result {
            report.failures += 1;
            report.errors.push(e.to_string());
        }
        if report.failures == 0 {
            if let Err(e) = self.unique.set_scope_external_id(&root.id, None).await {
                report.failures += 1;
                report
                    .errors
                    .push(format!("Failed to clear root scope externalId: {e}"));
            }
        }
        self.observer.phase(Phase::Idle);
        report.status = if report.failures == 0 {
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
        let (outcome, error) = match report.status {
            DeletionStatus::Success => (RunOutcome::Success, None),
            _ => (RunOutcome::Failed, Some(report.errors.join("; "))),
        };
        self.ledger
            .finish_run(run, outcome, &counts, error.as_deref())
            .await?;
        Ok(report)
    }

    async fn delete_children(
        &self,
        root_id: &str,
        report: &mut TenantDeletionReport,
    ) -> Result<(), EngineError> {
        let children = self
            .unique
            .child_scopes(root_id)
            .await
            .map_err(during("listing the root scope's children"))?;
        for child in children {
            let (mut content_ok, mut content_failed) = (0, 0);
            match self.unique.delete_content_in_scope(&child.id).await {
                Ok(deleted) => {
                    content_ok = deleted.deleted as u64;
                    content_failed = deleted.failed() as u64;
                    report.contents_deleted += content_ok;
                    report.failures += content_failed;
                }
                Err(e) => {
                    report.failures += 1;
                    report.errors.push(format!(
                        "Failed to delete content for scope {}: {e}",
                        child.id
                    ));
                }
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
        Ok(())
    }
}

//! One tenant's cycle, top to bottom: root scope → discover → diff → ingest → delete → clean up
//! removed spaces → record.

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use confluence_client::{ConfluenceApi, ConfluenceClient, InstanceType, Page, QuotaWait};
use tokio::sync::watch;
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use unique_client::{SourceKind, UniqueClient};

use crate::access::{gather, AccessSnapshot, PermissionMode};
use crate::apply_access::{apply, withdraw_all, ApplyInput, PermissionReport};
use crate::diff::{diff_spaces, SpaceDiff};
use crate::discovery::{discover, DiscoveredPage, Discovery};
use crate::error::EngineError;
use crate::ingest::{ingest, AttachmentWork, InFlight, IngestContext, PageWork};
use crate::ledger::{Ledger, RunCounts, RunId, RunStatus, RunTrigger};
use crate::observer::{CycleObserver, Phase};
use crate::outcome::RunOutcome;
use crate::plan::{discovered_files, discovered_keys, plan, Plan};
use crate::report::{CycleMode, CycleReport, SpaceDiffReport};
use crate::scopes;
use crate::tenant::TenantSpec;

/// Keys per deletion: one content lookup by key, then deletions by id.
const DELETE_BATCH: usize = 100;

/// Keys per content lookup when checking what an unfinished run left behind.
const UNFINISHED_LOOKUP_BATCH: usize = 100;

/// One active tenant: its settings, clients, ledger and observer. Create once per tenant and
/// call [`TenantSync::run_cycle`] on every schedule tick; it remembers the instance id and the
/// items a dropped cycle left half-done.
pub struct TenantSync {
    spec: TenantSpec,
    confluence: ConfluenceClient,
    unique: UniqueClient,
    ledger: Ledger,
    observer: Arc<dyn CycleObserver>,
    /// `confc:<type>:<id>`, resolved once (Data Center asks the manifest).
    owner: OnceCell<String>,
    in_flight: InFlight,
    /// Tests only: the permission snapshot to apply instead of the one [`gather`] reads.
    access_override: Option<AccessOverride>,
    /// What the last cycle's permission step did (`None`: it did not run).
    last_permissions: Mutex<Option<PermissionReport>>,
}

/// A source of [`AccessSnapshot`]s that replaces the Confluence permission reads (tests).
pub type AccessOverride = Arc<dyn Fn() -> AccessSnapshot + Send + Sync>;

impl std::fmt::Debug for TenantSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantSync")
            .field("tenant", &self.spec.name)
            .finish_non_exhaustive()
    }
}

impl TenantSync {
    pub fn new(
        spec: TenantSpec,
        confluence: ConfluenceClient,
        unique: UniqueClient,
        ledger: Ledger,
        observer: Arc<dyn CycleObserver>,
    ) -> Self {
        Self {
            spec,
            confluence,
            unique,
            ledger,
            observer,
            owner: OnceCell::new(),
            in_flight: InFlight::default(),
            access_override: None,
            last_permissions: Mutex::new(None),
        }
    }

    /// Tests only: apply the snapshots `source` returns instead of reading Confluence's
    /// permissions, so the apply step can be tested against hand-built readers.
    #[doc(hidden)]
    pub fn with_access_snapshot(mut self, source: AccessOverride) -> Self {
        self.access_override = Some(source);
        self
    }

    /// What the permission step of the last cycle did: `None` when it did not run (mode
    /// `none` with nothing to withdraw, a dry run, a cancelled or failed cycle).
    pub fn last_permission_report(&self) -> Option<PermissionReport> {
        self.last_permissions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn spec(&self) -> &TenantSpec {
        &self.spec
    }

    /// Runs one cycle and records it in the ledger (dry runs are not recorded).
    ///
    /// `Ok` for every cycle that ran to an end the engine chose: success, partial success (item
    /// failures are in the report and the ledger), aborted by a deletion guard, cancelled, dry
    /// run. `Err` when it could not go on (root scope missing or foreign, discovery or diff
    /// failed, Unique unreachable); the run is recorded as failed first. On cancellation no new
    /// item starts, in-flight ones finish, and nothing is deleted.
    #[tracing::instrument(skip_all, fields(tenant = %self.spec.name, ?mode))]
    pub async fn run_cycle(
        &self,
        trigger: RunTrigger,
        mode: CycleMode,
        cancel: CancellationToken,
    ) -> Result<CycleReport, EngineError> {
        let started = Instant::now();
        tracing::info!(tenant = %self.spec.name, "Starting sync");
        let (run, previous_unclean) = match mode {
            CycleMode::Normal => {
                let previous = self.ledger.recent_runs(Some(&self.spec.name), 1).await?;
                let unclean = previous.first().is_some_and(|r| {
                    matches!(r.status, RunStatus::Running | RunStatus::Interrupted)
                });
                // A cycle of ours that was dropped mid-way: say so in the ledger instead of
                // leaving it running until the process restarts.
                self.ledger
                    .mark_own_dropped_run_interrupted(&self.spec.name)
                    .await?;
                (
                    Some(self.ledger.start_run(&self.spec.name, trigger).await?),
                    unclean,
                )
            }
            CycleMode::DryRun => (None, false),
        };
        let mut report = CycleReport {
            tenant: self.spec.name.clone(),
            mode,
            status: RunOutcome::Success,
            counts: RunCounts::default(),
            truncated: false,
            spaces: Vec::new(),
            failures: Vec::new(),
            planned_ingest: Vec::new(),
            deleted_keys: Vec::new(),
            removed_spaces: Vec::new(),
            aborted_reason: None,
            note: None,
            duration: Default::default(),
        };
        let quota_waits = QuotaWaitLog::default();
        let ended = {
            let waits = self.confluence.quota_waits();
            tokio::select! {
                result = self.cycle(mode, &cancel, run, previous_unclean, &mut report) => {
                    CycleEnd::Finished(result)
                }
                never = self.record_quota_waits(run, waits.clone(), &quota_waits) => match never {},
                () = cancelled_during_quota_wait(&cancel, waits) => CycleEnd::CancelledWhileWaiting,
            }
        };
        let result = match ended {
            CycleEnd::Finished(result) => result,
            CycleEnd::CancelledWhileWaiting => {
                // The wait can last an hour; shutdown cannot. Dropping the cycle here is safe at
                // any await point (items in flight are retried next cycle) and deletes nothing:
                // deletions come after the ingest phase, which this cycle never finished.
                tracing::warn!("stopping during a wait for the Confluence quota; nothing was deleted, the next cycle goes on");
                report.status = RunOutcome::Cancelled;
                Ok(())
            }
        };
        self.observer.phase(Phase::Idle);
        self.observer.quota_wait(None);
        let waited = quota_waits.summary();
        report.note = match (report.note.take(), waited.as_deref()) {
            (Some(held_back), Some(waited)) => Some(format!("{held_back}; {waited}")),
            (note, waited) => note.or(waited.map(str::to_owned)),
        };
        report.duration = started.elapsed();
        let result = match result {
            Err(e @ EngineError::GuardAborted { .. }) => {
                tracing::warn!(reason = %e, "{e}");
                report.status = RunOutcome::Aborted;
                report.aborted_reason = Some(e.to_string());
                Ok(())
            }
            other => other,
        };
        if let Some(run) = run {
            let (outcome, why) = match &result {
                Err(e) => (RunOutcome::Failed, Some(e.to_string())),
                Ok(()) => (report.status, report.aborted_reason.clone()),
            };
            match report.note.as_deref().filter(|_| result.is_ok()) {
                Some(note) => self.ledger.note_run(run, note).await?,
                // A failed or cancelled run must not keep saying it waits.
                None if quota_waits.noted() => self.ledger.clear_run_note(run).await?,
                None => {}
            }
            self.ledger
                .finish_run(run, outcome, &report.counts, why.as_deref())
                .await?;
        }
        match result {
            Ok(()) => {
                tracing::info!(status = ?report.status, "Sync work done");
                Ok(report)
            }
            Err(e) => {
                tracing::error!(err = %e, "Sync failed");
                Err(e)
            }
        }
    }

    /// Keeps the run record (and the observer) saying "waiting for the Confluence quota until
    /// HH:MM UTC" while every Confluence request of this tenant waits for the points quota to
    /// reset, and clears it when they resume. Runs beside the cycle and never ends by itself.
    async fn record_quota_waits(
        &self,
        run: Option<RunId>,
        mut waits: watch::Receiver<Option<QuotaWait>>,
        log: &QuotaWaitLog,
    ) -> std::convert::Infallible {
        loop {
            let wait = *waits.borrow_and_update();
            let changed = log.update(wait.map(|w| w.until));
            if changed {
                self.observer.quota_wait(wait.map(|w| w.until));
                if let Some(run) = run {
                    let written = match wait {
                        Some(w) => {
                            let note = waiting_note(w.until);
                            tracing::warn!(cause = w.cause.as_str(), "{note}");
                            self.ledger.note_run(run, &note).await
                        }
                        None => {
                            tracing::info!("the Confluence quota was reset: the cycle goes on");
                            self.ledger.clear_run_note(run).await
                        }
                    };
                    match written {
                        Ok(()) => log.mark_noted(),
                        Err(e) => {
                            tracing::warn!(err = %e, "recording the quota wait in the run record failed")
                        }
                    }
                }
            }
            if waits.changed().await.is_err() {
                // The client is gone (it never is while a cycle runs): nothing more to record.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The cycle, in the order things happen. Every step is a function of its own below.
    async fn cycle(
        &self,
        mode: CycleMode,
        cancel: &CancellationToken,
        run: Option<RunId>,
        previous_unclean: bool,
        report: &mut CycleReport,
    ) -> Result<(), EngineError> {
        let owner = self.owner().await?;
        let root = scopes::prepare_root(&self.unique, &self.spec, owner, mode).await?;
        let discovery = self.discover(report).await?;
        if cancel.is_cancelled() {
            report.status = RunOutcome::Cancelled;
            return Ok(());
        }
        let diffs = self.diff(&discovery, report).await?;
        if cancel.is_cancelled() {
            report.status = RunOutcome::Cancelled;
            return Ok(());
        }
        let open_failures = self.open_failures(mode).await?;
        let retry = self
            .retry_set(&open_failures, previous_unclean, &discovery)
            .await?;
        let mut plan = plan(&self.spec, &discovery, &diffs, &retry);
        report.note = held_back_note(&discovery, &plan, report.counts.diff_deleted);

        if mode == CycleMode::DryRun {
            report.planned_ingest = plan
                .pages
                .iter()
                .map(|w| w.key.as_str().to_owned())
                .chain(plan.attachments.iter().map(|w| w.key.as_str().to_owned()))
                .collect();
            if !discovery.truncated {
                report.deleted_keys = plan.deleted_keys;
                report.removed_spaces = scopes::removed_spaces(
                    &self.unique,
                    &self.spec,
                    &root,
                    &plan.discovered_spaces,
                )
                .await?
                .into_iter()
                .map(|s| s.space_key)
                .collect();
            }
            return Ok(());
        }

        let written: HashSet<String> = plan
            .pages
            .iter()
            .map(|w| w.key.as_str().to_owned())
            .chain(plan.attachments.iter().map(|w| w.key.as_str().to_owned()))
            .collect();
        self.ingest(&root, &mut plan, run, &open_failures, cancel, report)
            .await?;
        if cancel.is_cancelled() {
            report.status = RunOutcome::Cancelled;
            return Ok(());
        }
        if discovery.truncated {
            tracing::warn!(
                "discovery was truncated by maxItemsToScan: nothing is deleted this cycle"
            );
        } else {
            self.observer.phase(Phase::Deleting);
            self.delete(&plan.deleted_keys, &open_failures, report)
                .await;
            self.forget_vanished_failures(&open_failures, &discovery)
                .await;
            self.observer.phase(Phase::CleaningUp);
            self.clean_up_removed_spaces(&root, &plan.discovered_spaces, report)
                .await?;
        }
        self.permissions(&root, &discovery, &written, report).await;
        if !report.failures.is_empty() {
            report.status = RunOutcome::PartialSuccess;
        }
        Ok(())
    }

    /// The permission step, after content is in place: applies the readers in `space`/`page`
    /// mode, withdraws what an earlier mode granted in `none` mode. A failure stops the step
    /// (the run is a partial success and says why); the next cycle converges.
    async fn permissions(
        &self,
        root: &scopes::RootScope,
        discovery: &Discovery,
        written: &HashSet<String>,
        report: &mut CycleReport,
    ) {
        let mut permissions = PermissionReport::default();
        let result = match self.spec.permissions.mode {
            PermissionMode::None => {
                withdraw_all(
                    &self.unique,
                    &self.ledger,
                    &self.spec.name,
                    &mut permissions,
                )
                .await
            }
            mode => self
                .apply_permissions(mode, root, discovery, written, &mut permissions)
                .await
                .map(|()| true),
        };
        let ran = match result {
            Ok(ran) => ran,
            Err(e) => {
                tracing::error!(err = %e, "applying permissions failed; the next cycle goes on from here");
                permissions.error = Some(e.to_string());
                report.status = RunOutcome::PartialSuccess;
                let said = format!("permission apply stopped: {e}");
                report.note = Some(match report.note.take() {
                    Some(note) => format!("{note}; {said}"),
                    None => said,
                });
                true
            }
        };
        if ran {
            if let Some(said) = permissions.run_record_line() {
                report.note = Some(match report.note.take() {
                    Some(note) => format!("{note}; {said}"),
                    None => said,
                });
            }
            tracing::info!(?permissions, "Permission apply summary");
            self.observer.permissions_applied(&permissions);
        }
        *self
            .last_permissions
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = ran.then_some(permissions);
    }

    async fn apply_permissions(
        &self,
        mode: PermissionMode,
        root: &scopes::RootScope,
        discovery: &Discovery,
        written: &HashSet<String>,
        permissions: &mut PermissionReport,
    ) -> Result<(), EngineError> {
        let snapshot = match &self.access_override {
            Some(source) => source(),
            None => {
                let pages: Vec<Page> = discovery.pages.iter().map(|p| as_page(p)).collect();
                gather(&self.confluence, &pages, mode, &self.spec.permissions).await
            }
        };
        let files = discovered_files(&self.spec, discovery);
        let space_scopes = scopes::space_scope_ids(&self.unique, &self.spec, root).await?;
        let owner = self.owner().await?;
        let discovered: HashSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
        let held = &discovery.held_back;
        let gone = |key: &str| {
            !discovered.contains(key)
                && !held.unknown_type.contains(key)
                && !held.attachments_of.contains(key)
        };
        let complete = !discovery.truncated && !discovered.is_empty();
        let input = ApplyInput {
            unique: &self.unique,
            ledger: &self.ledger,
            tenant: &self.spec.name,
            mode,
            owner,
            service_user: &root.service_user,
            snapshot: &snapshot,
            files: &files,
            space_scopes: &space_scopes,
            written,
            gone: complete.then_some(&gone as &(dyn Fn(&str) -> bool + Sync)),
        };
        apply(&input, permissions).await
    }

    async fn discover(&self, report: &mut CycleReport) -> Result<Discovery, EngineError> {
        self.observer.phase(Phase::Scanning);
        let scan = Instant::now();
        let discovery = discover(&self.confluence, &self.spec)
            .await
            .map_err(EngineError::Discovery)?;
        let counts = &mut report.counts;
        counts.discovered_pages = discovery.pages.len() as u64;
        counts.discovered_attachments = discovery.attachments.len() as u64;
        counts.skipped_unknown_type = discovery.held_back.unknown_type.len() as u64;
        counts.attachments_held_back = discovery.held_back.attachments_of.len() as u64;
        report.truncated = discovery.truncated;
        self.observer
            .held_back(counts.skipped_unknown_type, counts.attachments_held_back);
        self.observer.discovered(
            counts.discovered_pages,
            counts.discovered_attachments,
            scan.elapsed(),
        );
        tracing::info!(count = discovery.pages.len(), "Discovery completed");
        Ok(discovery)
    }

    async fn diff(
        &self,
        discovery: &Discovery,
        report: &mut CycleReport,
    ) -> Result<Vec<SpaceDiff>, EngineError> {
        self.observer.phase(Phase::Diffing);
        let (source_kind, source_name) = self.source();
        let diffs = diff_spaces(
            &self.unique,
            &self.spec,
            source_kind,
            &source_name,
            discovery,
        )
        .await?;
        let counts = &mut report.counts;
        for d in &diffs {
            counts.diff_new += d.new.len() as u64;
            counts.diff_updated += d.updated.len() as u64;
            counts.diff_moved += d.moved.len() as u64;
            counts.diff_deleted += d.deleted.len() as u64;
        }
        self.observer.diffed(
            counts.diff_new,
            counts.diff_updated,
            counts.diff_moved,
            counts.diff_deleted,
        );
        report.spaces = diffs
            .iter()
            .map(|d| SpaceDiffReport {
                space_key: d.space_key.clone(),
                partial_key: d.partial_key.as_str().to_owned(),
                new: d.new.clone(),
                updated: d.updated.clone(),
                moved: d.moved.clone(),
                deleted: d.deleted.clone(),
                kept: d.kept.clone(),
            })
            .collect();
        Ok(diffs)
    }

    async fn open_failures(&self, mode: CycleMode) -> Result<HashSet<String>, EngineError> {
        Ok(match mode {
            CycleMode::Normal => self
                .ledger
                .open_failures(&self.spec.name)
                .await?
                .into_iter()
                .map(|f| f.key)
                .collect(),
            CycleMode::DryRun => HashSet::new(),
        })
    }

    /// Items to ingest whatever the diff says: those that failed last time, those a dropped
    /// cycle of this engine had in flight, and — after a run that never finished — those Unique
    /// still shows unfinished (the diff considers a registered-but-not-uploaded item current).
    async fn retry_set(
        &self,
        open_failures: &HashSet<String>,
        previous_unclean: bool,
        discovery: &Discovery,
    ) -> Result<HashSet<String>, EngineError> {
        let mut retry = open_failures.clone();
        {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            if !in_flight.is_empty() && !discovery.truncated {
                // Items that are gone will never be retried; do not carry them forever.
                let discovered: HashSet<String> =
                    discovered_keys(&self.spec, discovery).into_iter().collect();
                in_flight.retain(|key| discovered.contains(key));
            }
            retry.extend(in_flight.iter().cloned());
        }
        if previous_unclean {
            retry.extend(
                self.unfinished_items(&discovered_keys(&self.spec, discovery))
                    .await?,
            );
        }
        Ok(retry)
    }

    /// Ensures the space scopes, then runs the ingest pipeline.
    async fn ingest(
        &self,
        root: &scopes::RootScope,
        plan: &mut Plan,
        run: Option<RunId>,
        open_failures: &HashSet<String>,
        cancel: &CancellationToken,
        report: &mut CycleReport,
    ) -> Result<(), EngineError> {
        if !plan.has_ingest_work() {
            return Ok(());
        }
        let scope_ids =
            scopes::ensure_space_scopes(&self.unique, &self.spec, root, &plan.ingest_spaces())
                .await?;
        // Moved out, not copied: the plan's work lists are the largest thing a cycle holds.
        let pages: Vec<PageWork> = std::mem::take(&mut plan.pages);
        let attachments: Vec<AttachmentWork> = std::mem::take(&mut plan.attachments);
        self.observer
            .totals(pages.len() as u64, attachments.len() as u64);
        self.observer.phase(if pages.is_empty() {
            Phase::IngestingAttachments
        } else {
            Phase::IngestingPages
        });
        let (source_kind, source_name) = self.source();
        let service_only = ["R", "W", "M"].map(|a| format!("u:{}{a}", root.service_user));
        let ctx = IngestContext {
            confluence: &self.confluence,
            unique: &self.unique,
            spec: &self.spec,
            scope_ids: &scope_ids,
            source_kind,
            source_name: &source_name,
            ledger: run.map(|run| (&self.ledger, run)),
            open_failures,
            in_flight: &self.in_flight,
            observer: self.observer.as_ref(),
            cancel,
            new_file_access: (self.spec.permissions.mode != PermissionMode::None)
                .then_some(service_only.as_slice()),
        };
        let outcome = ingest(&ctx, pages, attachments).await;
        let counts = &mut report.counts;
        counts.ingested_pages_ok = outcome.pages_ok;
        counts.ingested_pages_failed = outcome.pages_failed;
        counts.ingested_pages_skipped = outcome.pages_skipped;
        counts.ingested_attachments_ok = outcome.attachments_ok;
        counts.ingested_attachments_failed = outcome.attachments_failed;
        counts.ingested_attachments_skipped = outcome.attachments_skipped;
        report.failures = outcome.failures;
        tracing::info!(
            total = counts.ingested_pages_ok
                + counts.ingested_pages_failed
                + counts.ingested_pages_skipped,
            ingested = counts.ingested_pages_ok,
            skipped = counts.ingested_pages_skipped,
            failed = counts.ingested_pages_failed,
            "Page ingestion summary"
        );
        tracing::info!(
            total = counts.ingested_attachments_ok
                + counts.ingested_attachments_failed
                + counts.ingested_attachments_skipped,
            ingested = counts.ingested_attachments_ok,
            failed = counts.ingested_attachments_failed,
            "Attachment ingestion summary"
        );
        Ok(())
    }

    /// Deletes the diff's deleted keys, [`DELETE_BATCH`] keys per lookup. A failed batch is
    /// counted and logged; the next cycle's diff reports the same keys again.
    async fn delete(
        &self,
        keys: &[String],
        open_failures: &HashSet<String>,
        report: &mut CycleReport,
    ) {
        for batch in keys.chunks(DELETE_BATCH) {
            match self.unique.delete_content_by_keys(batch).await {
                Ok(deleted) => {
                    let failed = deleted.failed() as u64;
                    report.counts.deleted_ok += deleted.deleted as u64;
                    report.counts.deleted_failed += failed;
                    self.observer.deleted(deleted.deleted as u64, failed);
                    report.deleted_keys.extend(batch.iter().cloned());
                    for key in batch.iter().filter(|k| open_failures.contains(*k)) {
                        if let Err(e) = self.ledger.clear_item_failure(&self.spec.name, key).await {
                            tracing::warn!(key = %key, err = %e, "clearing a deleted item's failure failed");
                        }
                    }
                }
                Err(e) => {
                    report.counts.deleted_failed += batch.len() as u64;
                    self.observer.deleted(0, batch.len() as u64);
                    tracing::error!(keys = ?batch, err = %e, "Failed to delete content, skipping");
                }
            }
        }
    }

    /// Open failures of items a complete discovery no longer finds: they will never succeed, so
    /// they would only haunt `status` until pruned.
    async fn forget_vanished_failures(
        &self,
        open_failures: &HashSet<String>,
        discovery: &Discovery,
    ) {
        if open_failures.is_empty() {
            return;
        }
        let discovered: HashSet<String> =
            discovered_keys(&self.spec, discovery).into_iter().collect();
        for key in open_failures.iter().filter(|k| !discovered.contains(*k)) {
            if let Err(e) = self.ledger.clear_item_failure(&self.spec.name, key).await {
                tracing::warn!(key = %key, err = %e, "clearing a vanished item's failure failed");
            }
        }
    }

    /// Removes the files and scopes of spaces that left discovery. Listing the root's children
    /// failing fails the cycle; one space failing does not stop the next.
    async fn clean_up_removed_spaces(
        &self,
        root: &scopes::RootScope,
        discovered: &BTreeSet<String>,
        report: &mut CycleReport,
    ) -> Result<(), EngineError> {
        let removed = scopes::removed_spaces(&self.unique, &self.spec, root, discovered).await?;
        let (mut ok, mut failed, mut files) = (0, 0, 0);
        for space in removed {
            match scopes::remove_space(&self.unique, &space).await {
                Ok(deleted) => {
                    ok += 1;
                    files += deleted;
                    report.removed_spaces.push(space.space_key);
                }
                Err(e) => {
                    failed += 1;
                    tracing::error!(space_key = %space.space_key, err = %e, "removing a space that left discovery failed");
                }
            }
        }
        report.counts.spaces_cleaned = ok;
        if ok + failed > 0 {
            self.observer.orphans_cleaned(ok, failed, files);
        }
        Ok(())
    }

    /// After a run that never finished (the process died, or the cycle was dropped), items it
    /// had registered but not finalized look current to the diff. Unique shows them as still
    /// queued: re-ingest those. An item that was finalized and is merely still queued is
    /// re-ingested too, which is harmless.
    async fn unfinished_items(&self, keys: &[String]) -> Result<HashSet<String>, EngineError> {
        let mut unfinished = HashSet::new();
        for chunk in keys.chunks(UNFINISHED_LOOKUP_BATCH) {
            let nodes = self
                .unique
                .content_by_keys(chunk)
                .await
                .map_err(crate::error::during(
                    "looking up items of an unfinished run",
                ))?;
            unfinished.extend(
                nodes
                    .into_iter()
                    .filter(|n| n.ingestion_state.as_deref().is_none_or(|s| s == "QUEUED"))
                    .filter_map(|n| n.key),
            );
        }
        if !unfinished.is_empty() {
            tracing::warn!(
                count = unfinished.len(),
                "re-ingesting items a previous, unfinished run may have left half-written"
            );
        }
        Ok(unfinished)
    }

    async fn owner(&self) -> Result<&str, EngineError> {
        self.owner
            .get_or_try_init(|| async {
                self.confluence
                    .resolve_instance_id()
                    .await
                    .map(|id| id.root_scope_external_id())
                    .map_err(EngineError::InstanceId)
            })
            .await
            .map(String::as_str)
    }

    fn source(&self) -> (SourceKind, String) {
        let kind = match self.confluence.instance_type() {
            InstanceType::Cloud => SourceKind::ConfluenceCloud,
            InstanceType::DataCenter => SourceKind::ConfluenceOnPrem,
        };
        let base = self
            .confluence
            .config()
            .base_url
            .trim_end_matches('/')
            .to_owned();
        (kind, base)
    }
}

/// The page as the permission reads take it (they need its id, space and access only).
fn as_page(page: &DiscoveredPage) -> Page {
    Page {
        id: page.id.clone(),
        title: page.title.clone(),
        content_type: page.content_type,
        space: page.space.clone(),
        version_when: page.version_when.clone(),
        webui: page.web_url.clone(),
        labels: page.labels.clone(),
        attachments: Vec::new(),
        inline_attachments: None,
        attachments_incomplete: false,
        access: page.access.clone(),
    }
}

/// How a cycle ended: by itself, or stopped by a shutdown while it waited for the quota.
enum CycleEnd {
    Finished(Result<(), EngineError>),
    CancelledWhileWaiting,
}

/// Resolves once the cycle is cancelled while (or after which) its Confluence requests wait for
/// the points quota: a wait that may last until the top of the hour must not hold a shutdown.
async fn cancelled_during_quota_wait(
    cancel: &CancellationToken,
    mut waits: watch::Receiver<Option<QuotaWait>>,
) {
    cancel.cancelled().await;
    loop {
        if waits.borrow_and_update().is_some() {
            return;
        }
        if waits.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// `waiting for the Confluence quota until 15:00 UTC`: what the run record and `status` say
/// during a quota wait. Hours and minutes suffice: quota windows reset at the top of the hour.
pub(crate) fn waiting_note(until: SystemTime) -> String {
    let until = chrono::DateTime::<chrono::Utc>::from(until);
    format!(
        "waiting for the Confluence quota until {} UTC",
        until.format("%H:%M")
    )
}

/// The quota waits of one cycle: how many, how long, and whether the run record was noted.
#[derive(Debug, Default)]
struct QuotaWaitLog(Mutex<QuotaWaitState>);

#[derive(Debug, Default)]
struct QuotaWaitState {
    /// The wait in force: its end as announced, and when it began.
    current: Option<(SystemTime, Instant)>,
    count: u32,
    waited: Duration,
    noted: bool,
}

impl QuotaWaitLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, QuotaWaitState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the published wait; true when it differs from what was recorded (a new wait, a
    /// moved end, or the end of the wait).
    fn update(&self, until: Option<SystemTime>) -> bool {
        let mut state = self.lock();
        match (state.current, until) {
            (None, None) => false,
            (Some((old, _)), Some(new)) if old == new => false,
            (Some((_, began)), Some(new)) => {
                state.current = Some((new, began));
                true
            }
            (None, Some(new)) => {
                state.count += 1;
                state.current = Some((new, Instant::now()));
                true
            }
            (Some((_, began)), None) => {
                state.waited += began.elapsed();
                state.current = None;
                true
            }
        }
    }

    fn mark_noted(&self) {
        self.lock().noted = true;
    }

    fn noted(&self) -> bool {
        self.lock().noted
    }

    /// `waited 12 min 3 s for the Confluence quota (2 waits)`, or `None` without a wait.
    fn summary(&self) -> Option<String> {
        let state = self.lock();
        if state.count == 0 {
            return None;
        }
        let waited = state.waited + state.current.map(|(_, b)| b.elapsed()).unwrap_or_default();
        let secs = waited.as_secs();
        let took = if secs >= 60 {
            format!("{} min {} s", secs / 60, secs % 60)
        } else {
            format!("{secs} s")
        };
        let waits = if state.count == 1 {
            "1 wait".to_owned()
        } else {
            format!("{} waits", state.count)
        };
        Some(format!("waited {took} for the Confluence quota ({waits})"))
    }
}

/// The run record's note for a cycle that held back deletions without failing, so that "nothing
/// was deleted" can be told apart from "nothing needed deleting".
fn held_back_note(discovery: &Discovery, plan: &Plan, diff_deleted: u64) -> Option<String> {
    let held = &discovery.held_back;
    if discovery.truncated {
        Some(format!(
            "discovery truncated by maxItemsToScan after {} pages and {} attachments: \
             {diff_deleted} deletions and the removed-space cleanup held back",
            discovery.pages.len(),
            discovery.attachments.len()
        ))
    } else if plan.discovered_spaces.is_empty() {
        Some(
            "discovery found no labelled pages: deletions and the removed-space cleanup skipped"
                .to_owned(),
        )
    } else if !held.is_empty() {
        let mut parts = Vec::new();
        if !held.unknown_type.is_empty() {
            parts.push(format!(
                "{} item(s) of a content type this connector does not know skipped (ids {})",
                held.unknown_type.len(),
                sample(&held.unknown_type)
            ));
        }
        if !held.attachments_of.is_empty() {
            parts.push(format!(
                "the attachment listing of {} page(s) answered 404/403 (ids {})",
                held.attachments_of.len(),
                sample(&held.attachments_of)
            ));
        }
        Some(format!(
            "{}: what Unique stores of them is kept",
            parts.join("; ")
        ))
    } else {
        None
    }
}

/// A few ids of a set, sorted, for a note that stays one line.
fn sample(ids: &HashSet<String>) -> String {
    const SHOWN: usize = 5;
    let mut sorted: Vec<&str> = ids.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut text = sorted
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if sorted.len() > SHOWN {
        text.push_str(", …");
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The daemon spawns cycles on the multi-threaded runtime: the future must stay `Send`
    /// (a borrowed closure without `Sync` in the permission step once broke that, and only the
    /// connector crate noticed).
    #[allow(dead_code)]
    fn the_cycle_future_is_send(sync: &TenantSync) {
        fn send<T: Send>(_: &T) {}
        send(&sync.run_cycle(RunTrigger::Cli, CycleMode::Normal, CancellationToken::new()));
    }

    #[test]
    fn the_waiting_note_names_the_reset_in_utc() {
        // 2025-10-08T15:00:01Z: the top of the hour plus the transport's second of margin.
        let until = SystemTime::UNIX_EPOCH + Duration::from_secs(1_759_935_601);
        assert_eq!(
            waiting_note(until),
            "waiting for the Confluence quota until 15:00 UTC"
        );
    }

    #[test]
    fn the_wait_log_counts_waits_not_moves_of_their_end() {
        let log = QuotaWaitLog::default();
        assert_eq!(log.summary(), None);
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        assert!(!log.update(None));
        assert!(log.update(Some(t)));
        assert!(!log.update(Some(t)), "same end, nothing to record");
        assert!(log.update(Some(t + Duration::from_secs(5))), "moved");
        assert!(log.update(None));
        assert!(log.update(Some(t + Duration::from_secs(3600))));
        assert!(log.update(None));
        assert_eq!(
            log.summary().unwrap(),
            "waited 0 s for the Confluence quota (2 waits)"
        );
        assert!(!log.noted());
        log.mark_noted();
        assert!(log.noted());
    }
}

//! One tenant's cycle, top to bottom: root scope → discover → diff → ingest → delete → clean up
//! removed spaces → record.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use confluence_client::{ConfluenceApi, ConfluenceClient, InstanceType};
use tokio::sync::OnceCell;
use tokio_util::sync::CancellationToken;
use unique_client::{SourceKind, UniqueClient};

use crate::diff::{diff_spaces, standalone};
use crate::discovery::discover;
use crate::error::EngineError;
use crate::ingest::{ingest, AttachmentWork, InFlight, PageWork, Sink};
use crate::inline::{is_image_media_type, ImageRef};
use crate::keys::{attachment_item_id, PartialKey};
use crate::ledger::{Ledger, RunCounts, RunOutcome, RunStatus, RunTrigger};
use crate::observer::{CycleObserver, Phase};
use crate::report::{CycleMode, CycleReport, CycleStatus, SpaceDiffReport};
use crate::scopes;
use crate::tenant::TenantSpec;

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
}

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
        }
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
            status: CycleStatus::Success,
            counts: RunCounts::default(),
            truncated: false,
            spaces: Vec::new(),
            failures: Vec::new(),
            deleted_keys: Vec::new(),
            removed_spaces: Vec::new(),
            aborted_reason: None,
            duration: Default::default(),
        };
        let result = self
            .cycle(mode, &cancel, run, previous_unclean, &mut report)
            .await;
        self.observer.phase(Phase::Idle);
        report.duration = started.elapsed();
        let result = match result {
            Err(EngineError::GuardAborted { reason, .. }) => {
                report.status = CycleStatus::Aborted;
                report.aborted_reason = Some(reason);
                Ok(())
            }
            other => other,
        };
        if let Some(run) = run {
            let (outcome, error) = match (&result, report.status) {
                (Err(e), _) => (RunOutcome::Failed, Some(e.to_string())),
                (Ok(()), CycleStatus::Aborted) => (
                    RunOutcome::Aborted {
                        reason: report.aborted_reason.clone().unwrap_or_default(),
                    },
                    None,
                ),
                (Ok(()), CycleStatus::Cancelled) => (RunOutcome::Cancelled, None),
                (Ok(()), CycleStatus::PartialSuccess) => (RunOutcome::PartialSuccess, None),
                (Ok(()), _) => (RunOutcome::Success, None),
            };
            self.ledger
                .finish_run(run, outcome, &report.counts, error.as_deref())
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

    async fn cycle(
        &self,
        mode: CycleMode,
        cancel: &CancellationToken,
        run: Option<crate::ledger::RunId>,
        previous_unclean: bool,
        report: &mut CycleReport,
    ) -> Result<(), EngineError> {
        let spec = &self.spec;
        let owner = self.owner().await?;
        let root = scopes::prepare_root(&self.unique, spec, owner, mode).await?;

        self.observer.phase(Phase::Scanning);
        let scan = Instant::now();
        let discovery = discover(&self.confluence, spec)
            .await
            .map_err(EngineError::Discovery)?;
        let counts = &mut report.counts;
        counts.discovered_pages = discovery.pages.len() as u64;
        counts.discovered_attachments = discovery.attachments.len() as u64;
        report.truncated = discovery.truncated;
        self.observer.discovered(
            counts.discovered_pages,
            counts.discovered_attachments,
            scan.elapsed(),
        );
        tracing::info!(count = discovery.pages.len(), "Discovery completed");
        if cancel.is_cancelled() {
            report.status = CycleStatus::Cancelled;
            return Ok(());
        }

        self.observer.phase(Phase::Diffing);
        let (source_kind, source_name) = self.source();
        let diffs = diff_spaces(&self.unique, spec, source_kind, &source_name, &discovery).await?;
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
            })
            .collect();

        if cancel.is_cancelled() {
            report.status = CycleStatus::Cancelled;
            return Ok(());
        }

        // What to ingest: the diff's new and updated items, plus items that failed or were cut
        // off last time (the diff may consider a half-written item current).
        let open_failures: HashSet<String> = match mode {
            CycleMode::Normal => self
                .ledger
                .open_failures(&spec.name)
                .await?
                .into_iter()
                .map(|f| f.key)
                .collect(),
            CycleMode::DryRun => HashSet::new(),
        };
        let interrupted: HashSet<String> = self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let changed: HashSet<(String, String)> = diffs
            .iter()
            .flat_map(|d| {
                d.new
                    .iter()
                    .chain(&d.updated)
                    .map(|item| (d.space_key.clone(), item.clone()))
            })
            .collect();
        let partial = |space: &confluence_client::Space| {
            PartialKey::new(spec.key_format, &spec.name, &space.id, &space.key)
        };
        let unfinished = if previous_unclean {
            let keys: Vec<String> = discovery
                .pages
                .iter()
                .map(|p| partial(&p.space).page_key(&p.id).into_string())
                .chain(
                    discovery
                        .attachments
                        .iter()
                        .filter(|a| standalone(spec, a))
                        .map(|a| {
                            partial(&a.space)
                                .attachment_key(&a.page_id, &a.id)
                                .into_string()
                        }),
                )
                .collect();
            self.unfinished_items(&keys).await?
        } else {
            HashSet::new()
        };
        let wanted = |space_key: &str, item: &str, key: &str| {
            changed.contains(&(space_key.to_owned(), item.to_owned()))
                || open_failures.contains(key)
                || interrupted.contains(key)
                || unfinished.contains(key)
        };
        let mut images: HashMap<&str, Vec<ImageRef>> = HashMap::new();
        if spec.inline_images {
            for a in discovery
                .attachments
                .iter()
                .filter(|a| is_image_media_type(&a.media_type))
            {
                images
                    .entry(a.page_id.as_str())
                    .or_default()
                    .push(ImageRef {
                        page_id: a.page_id.clone(),
                        attachment_id: a.id.clone(),
                        title: a.title.clone(),
                        media_type: a.media_type.clone(),
                        file_size: a.file_size,
                        download_path: a.download_path.clone(),
                    });
            }
        }
        let pages: Vec<PageWork> = discovery
            .pages
            .iter()
            .filter_map(|p| {
                let key = partial(&p.space).page_key(&p.id);
                wanted(&p.space.key, &p.id, key.as_str()).then(|| PageWork {
                    images: images.remove(p.id.as_str()).unwrap_or_default(),
                    page: p.clone(),
                    key,
                    scope_id: String::new(),
                })
            })
            .collect();
        let attachments: Vec<AttachmentWork> = discovery
            .attachments
            .iter()
            .filter(|a| standalone(spec, a))
            .filter_map(|a| {
                let key = partial(&a.space).attachment_key(&a.page_id, &a.id);
                let item = attachment_item_id(&a.page_id, &a.id);
                wanted(&a.space.key, &item, key.as_str()).then(|| AttachmentWork {
                    attachment: a.clone(),
                    key,
                    scope_id: String::new(),
                })
            })
            .collect();
        let deleted_keys: Vec<String> = diffs
            .iter()
            .flat_map(|d| {
                d.deleted
                    .iter()
                    .map(|item| d.partial_key.key_for_item(item).into_string())
            })
            .collect();
        let discovered_space_keys: BTreeSet<String> =
            discovery.spaces().into_iter().map(|s| s.key).collect();

        if mode == CycleMode::DryRun {
            report.status = CycleStatus::DryRun;
            if !discovery.truncated {
                report.deleted_keys = deleted_keys;
                report.removed_spaces =
                    scopes::removed_spaces(&self.unique, spec, &root, &discovered_space_keys)
                        .await?
                        .into_iter()
                        .map(|s| s.space_key)
                        .collect();
            }
            return Ok(());
        }

        if !pages.is_empty() || !attachments.is_empty() {
            let mut spaces = Vec::new();
            let mut seen = HashSet::new();
            for space in pages
                .iter()
                .map(|p| &p.page.space)
                .chain(attachments.iter().map(|a| &a.attachment.space))
            {
                if seen.insert(space.key.clone()) {
                    spaces.push(space.clone());
                }
            }
            let scope_ids = scopes::ensure_space_scopes(&self.unique, spec, &root, &spaces).await?;
            let scope_of = |key: &str| scope_ids.get(key).cloned().unwrap_or_default();
            let pages: Vec<PageWork> = pages
                .into_iter()
                .map(|mut w| {
                    w.scope_id = scope_of(&w.page.space.key);
                    w
                })
                .collect();
            let attachments: Vec<AttachmentWork> = attachments
                .into_iter()
                .map(|mut w| {
                    w.scope_id = scope_of(&w.attachment.space.key);
                    w
                })
                .collect();
            self.observer
                .totals(pages.len() as u64, attachments.len() as u64);
            self.observer.phase(if pages.is_empty() {
                Phase::IngestingAttachments
            } else {
                Phase::IngestingPages
            });
            let sink = Sink {
                confluence: &self.confluence,
                unique: &self.unique,
                spec,
                source_kind,
                source_name: &source_name,
                ledger: run.map(|run| (&self.ledger, run)),
                open_failures: &open_failures,
                in_flight: &self.in_flight,
                observer: self.observer.as_ref(),
                cancel,
            };
            let outcome = ingest(&sink, pages, attachments).await;
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
        }
        if cancel.is_cancelled() {
            report.status = CycleStatus::Cancelled;
            return Ok(());
        }
        if discovery.truncated {
            tracing::warn!(
                "discovery was truncated by maxItemsToScan: nothing is deleted this cycle"
            );
        } else {
            self.observer.phase(Phase::Deleting);
            self.delete(&deleted_keys, &open_failures, report).await;
            self.observer.phase(Phase::CleaningUp);
            self.clean_up_removed_spaces(&root, &discovered_space_keys, report)
                .await?;
        }
        if !report.failures.is_empty() {
            report.status = CycleStatus::PartialSuccess;
        }
        Ok(())
    }

    /// Deletes the diff's deleted keys. A failure is counted and logged; the next cycle's diff
    /// reports the same keys again.
    async fn delete(
        &self,
        keys: &[String],
        open_failures: &HashSet<String>,
        report: &mut CycleReport,
    ) {
        if keys.is_empty() {
            return;
        }
        match self.unique.delete_content_by_keys(keys).await {
            Ok(deleted) => {
                let failed = deleted.failed() as u64;
                report.counts.deleted_ok += deleted.deleted as u64;
                report.counts.deleted_failed += failed;
                self.observer.deleted(deleted.deleted as u64, failed);
                report.deleted_keys = keys.to_vec();
                for key in keys.iter().filter(|k| open_failures.contains(*k)) {
                    if let Err(e) = self.ledger.clear_item_failure(&self.spec.name, key).await {
                        tracing::warn!(key = %key, err = %e, "clearing a deleted item's failure failed");
                    }
                }
            }
            Err(e) => {
                report.counts.deleted_failed += keys.len() as u64;
                tracing::error!(keys = ?keys, err = %e, "Failed to delete content, skipping");
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

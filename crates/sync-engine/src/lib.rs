//! One tenant's sync cycle — discover → diff → ingest → delete — tenant deletion, and the state
//! ledger that remembers every run.
//!
//! Invariant: the engine knows no wire formats; it sees Confluence and Unique only through the
//! client crates' APIs, and its state only through [`Ledger`].
//!
//! # API for the daemon
//!
//! ```text
//! TenantSpec { name, root_scope_id, key_format, ingest_single_label, ingest_all_label,
//!              attachments: AttachmentRules { enabled, allowed_mime_types, max_file_size_mb, image_ocr },
//!              store_internally, page_ingestion_config: Option<serde_json::Value>,
//!              inline_images, concurrency, max_items_to_scan,
//!              attachment_retry_budget }                             // TenantSpec::new(name, scope) = defaults
//!
//! TenantSync::new(spec, confluence: ConfluenceClient, unique: UniqueClient, ledger: Ledger,
//!                 observer: Arc<dyn CycleObserver>) -> TenantSync
//! TenantSync::run_cycle(&self, trigger: RunTrigger, mode: CycleMode /* Normal | DryRun */,
//!                       cancel: CancellationToken) -> Result<CycleReport, EngineError>
//!
//! TenantDeletion::new(tenant, root_scope_id, unique: UniqueClient, ledger: Ledger,
//!                     observer: Arc<dyn CycleObserver>) -> TenantDeletion      // status: deleted
//! TenantDeletion::run(&self, trigger: RunTrigger, cancel: CancellationToken)
//!                     -> Result<TenantDeletionReport, EngineError>
//!
//! trait CycleObserver { phase(Phase), discovered(pages, attachments, took), diffed(new, updated,
//!     moved, deleted), totals(pages, attachments), item(ItemKind, ItemResult, upload: Option<Duration>),
//!     deleted(ok, failed), orphans_cleaned(scopes_ok, scopes_failed, files),
//!     tenant_cleanup(content_ok, content_failed, scopes_ok, scopes_failed),
//!     quota_wait(until: Option<SystemTime>) }                                  // all default no-ops
//! ```
//!
//! A cycle: root scope (access, ownership mark, migration) → discovery → per-space diff with
//! the mass-deletion guards → ingest (bodies fetched in batches, pipelined into Unique with
//! bounded queues) → deletions → removed-space cleanup → ledger record. `run_cycle` returns `Ok`
//! for every end the engine chose (success, partial success, guard abort, cancel, dry run; see
//! [`RunOutcome`]) and `Err` when it could not go on (the run is recorded as failed first).
//!
//! Guarantees beyond the reference connector:
//! - A truncated discovery (`maxItemsToScan`), a failed discovery and a cancelled cycle never
//!   delete anything.
//! - Bodies come `page_bodies` batches at a time, so an initial sync costs discovery +
//!   ⌈pages / batch⌉ body requests; fetching runs ahead of uploading by a bounded queue only.
//! - An item that failed is recorded in the ledger and retried next cycle even if the diff
//!   thinks it current; a success clears it.
//! - A cycle dropped mid-item (lease loss, crash) heals on the next: items this engine had in
//!   flight, and — after a run the ledger shows unfinished — items Unique still shows queued, are
//!   ingested again.
//! - With image inlining on, a new image version re-ingests its page.
//! - While Confluence's points quota holds every request, the run record says "waiting for the
//!   Confluence quota until HH:MM UTC"; the cycle then goes on where it was. A cancellation
//!   during such a wait stops the cycle at once (recorded as cancelled, nothing deleted).

#![deny(unsafe_code)]

pub mod access;
mod apply_access;
mod cycle;
mod diff;
mod discovery;
mod error;
mod ingest;
mod inline;
mod keys;
mod ledger;
mod observer;
mod outcome;
mod plan;
mod report;
mod scopes;
mod tenant;
mod tenant_delete;

/// For the fuzz targets in `fuzz/` only.
#[doc(hidden)]
pub mod fuzzing {
    /// The byte spans of the `<ac:image>` macros that [`crate::inline_images`] may replace;
    /// `None` when the body is unreadable (it is then returned unchanged).
    pub fn image_macro_spans(body: &str) -> Option<Vec<std::ops::Range<usize>>> {
        crate::inline::macro_spans(body)
    }
}

/// For the tests of this workspace only (PostgreSQL test databases).
#[doc(hidden)]
pub mod testing;

pub use access::PermissionSettings;
pub use apply_access::{PermissionReport, NO_UNIQUE_USER};
pub use cycle::{AccessOverride, TenantSync};
pub use discovery::discover_pages;
pub use error::{EngineError, Guard};
pub use observer::{CycleObserver, ItemKind, ItemResult, NoopCycleObserver, Phase};
pub use outcome::RunOutcome;
pub use report::{
    CycleMode, CycleReport, DeletionStatus, ItemFailureReport, SpaceDiffReport,
    TenantDeletionReport,
};
pub use tenant::{AttachmentRules, TenantSpec};
pub use tenant_delete::TenantDeletion;
/// The cancellation token [`TenantSync::run_cycle`] and [`TenantDeletion::run`] take.
pub use tokio_util::sync::CancellationToken;

pub use inline::{
    inline_images, is_image_media_type, normalize_mime_type, ImageRef, ImageSource, ImageStream,
    InlineConfig, InlineError, InlineOutcome, InlinedImage, OtherPage, PageContext,
    MAX_CONCURRENT_DOWNLOADS,
};
pub use keys::{
    attachment_item_id, parse_space_external_id, ContentKey, KeyFormat, PartialKey,
    ScopeExternalId, SpaceExternalId,
};

pub use ledger::{
    GrantTarget, GrantedAccess, ItemFailure, ItemPhase, Lease, LeaseRecord, Ledger, LedgerError,
    LedgerKind, LedgerOptions, LedgerProbe, MirroredGroup, RunCounts, RunFailure, RunId, RunRecord,
    RunStatus, RunTrigger,
};

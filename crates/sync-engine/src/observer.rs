//! [`CycleObserver`]: what a cycle tells the outside world while it runs (metrics, progress).
//!
//! Every method maps one-to-one onto a reference `cfc_*` metric, so the connector can forward
//! them without interpretation. All methods default to doing nothing.

use std::time::Duration;

/// The phases of a cycle, as the `cfc_sync_phase` gauge names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Idle,
    Scanning,
    Diffing,
    IngestingPages,
    IngestingAttachments,
    Deleting,
    CleaningUp,
}

impl Phase {
    /// Every phase, in cycle order (for seeding the gauge).
    pub const ALL: [Phase; 7] = [
        Phase::Idle,
        Phase::Scanning,
        Phase::Diffing,
        Phase::IngestingPages,
        Phase::IngestingAttachments,
        Phase::Deleting,
        Phase::CleaningUp,
    ];

    /// The `phase` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Scanning => "scanning",
            Phase::Diffing => "diffing",
            Phase::IngestingPages => "ingesting_pages",
            Phase::IngestingAttachments => "ingesting_attachments",
            Phase::Deleting => "deleting",
            Phase::CleaningUp => "cleaning_up",
        }
    }
}

/// Page or attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Page,
    Attachment,
}

/// How one item of the ingest phase ended (`result` label of `cfc_pages_processed_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemResult {
    Success,
    Failure,
    /// Nothing to ingest (empty body, zero bytes, content gone since discovery).
    Skipped,
}

impl ItemResult {
    /// The `result` label value.
    pub fn as_str(self) -> &'static str {
        match self {
            ItemResult::Success => "success",
            ItemResult::Failure => "failure",
            ItemResult::Skipped => "skipped",
        }
    }
}

/// Receives a cycle's events. Called from the cycle's task; keep implementations cheap.
pub trait CycleObserver: Send + Sync {
    /// `cfc_sync_phase`. The last call of every cycle (and tenant deletion) is `Idle`.
    fn phase(&self, _phase: Phase) {}
    /// `cfc_scan_duration_seconds`, with what discovery found.
    fn discovered(&self, _pages: u64, _attachments: u64, _took: Duration) {}
    /// `cfc_discovery_held_back_total`: items discovery skipped but kept in Unique — content of a
    /// type the connector does not know, pages whose attachment listing answered 404 or 403.
    fn held_back(&self, _unknown_type: u64, _attachment_listings: u64) {}
    /// `cfc_file_diff_events_total`, summed over the spaces of one cycle.
    fn diffed(&self, _new: u64, _updated: u64, _moved: u64, _deleted: u64) {}
    /// `cfc_sync_pages_total` / `cfc_sync_attachments_total`: items with work, only when there is
    /// some.
    fn totals(&self, _pages: u64, _attachments: u64) {}
    /// `cfc_pages_processed_total` / `cfc_attachments_processed_total`. `upload` is how long a
    /// successful attachment upload took (`cfc_attachment_upload_duration_seconds`).
    fn item(&self, _kind: ItemKind, _result: ItemResult, _upload: Option<Duration>) {}
    /// `cfc_content_deleted_total`, per diff-driven deletion batch.
    fn deleted(&self, _ok: u64, _failed: u64) {}
    /// `cfc_orphaned_scopes_cleaned_total` and `cfc_orphaned_files_cleaned_total`: removed-space
    /// cleanup.
    fn orphans_cleaned(&self, _scopes_ok: u64, _scopes_failed: u64, _files: u64) {}
    /// Every Confluence request of the cycle waits for the points quota until `until` (wall
    /// clock); `None` when the wait is over. (The metrics come from the transport; this is for
    /// progress displays.)
    fn quota_wait(&self, _until: Option<std::time::SystemTime>) {}
    /// Permission sync applied (or withdrew) accesses this cycle: the counts for the run record
    /// and `cfc_permission_unmapped_total{reason}` (from `left_out`). Not called in
    /// `permissions.mode: none` unless accesses granted earlier were withdrawn.
    fn permissions_applied(&self, _report: &crate::PermissionReport) {}
    /// `cfc_cleanup_content_deleted_total` and `cfc_cleanup_scopes_deleted_total`: tenant
    /// deletion.
    fn tenant_cleanup(
        &self,
        _content_ok: u64,
        _content_failed: u64,
        _scopes_ok: u64,
        _scopes_failed: u64,
    ) {
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopCycleObserver;

impl CycleObserver for NoopCycleObserver {}

//! [`CycleReport`] and [`TenantDeletionReport`]: what one run did, for `sync --json` and logs.

use std::time::Duration;

use serde::Serialize;

use crate::ledger::RunCounts;
use crate::observer::ItemKind;
use crate::outcome::RunOutcome;

/// Normal or dry run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CycleMode {
    /// Discover, diff, ingest, delete, record.
    #[default]
    Normal,
    /// Discover and diff only: nothing is written to Unique (no scope, no claim, no ingest, no
    /// delete) and nothing to the ledger; the report lists what would happen.
    DryRun,
}

/// One space's file-diff result, as item ids (`<pageId>` / `<pageId>::<attachmentId>`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SpaceDiffReport {
    pub space_key: String,
    pub partial_key: String,
    pub new: Vec<String>,
    pub updated: Vec<String>,
    pub moved: Vec<String>,
    pub deleted: Vec<String>,
    /// Items the diff called deleted that are kept: discovery saw them but could not submit
    /// them (a content type the connector does not know, an attachment listing that answered
    /// 404 or 403).
    pub kept: Vec<String>,
}

/// One item that failed in this run.
#[derive(Debug, Clone, Serialize)]
pub struct ItemFailureReport {
    pub key: String,
    pub kind: ItemKind,
    pub error: String,
}

/// What a cycle did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    pub tenant: String,
    pub mode: CycleMode,
    /// Never `Failed`: a cycle that could not go on is an `Err`. `Aborted` comes with
    /// `aborted_reason`, `PartialSuccess` with `failures`.
    pub status: RunOutcome,
    pub counts: RunCounts,
    /// `maxItemsToScan` cut discovery short: nothing was deleted and no space cleaned up.
    pub truncated: bool,
    pub spaces: Vec<SpaceDiffReport>,
    pub failures: Vec<ItemFailureReport>,
    /// Dry run only: the full keys that would be ingested (the diff's new and updated items
    /// plus retries of earlier failures).
    pub planned_ingest: Vec<String>,
    /// Full keys that were (or would be) deleted because of the diff.
    pub deleted_keys: Vec<String>,
    /// Space keys whose scope and files were (or would be) removed.
    pub removed_spaces: Vec<String>,
    pub aborted_reason: Option<String>,
    /// Why deletions were held back although the cycle did not fail: a truncated or an empty
    /// discovery. Also recorded in the ledger's run record.
    pub note: Option<String>,
    #[serde(serialize_with = "as_millis", rename = "duration_ms")]
    pub duration: Duration,
}

/// How a tenant deletion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeletionStatus {
    /// Every child scope and its content is gone and the ownership mark is cleared.
    Success,
    /// Something failed: the ownership mark stays, so the next run tries again.
    Failure,
    /// The cancellation token fired (shutdown): the request in flight finished, nothing new
    /// started, the mark stays and the next run finishes the deletion.
    Cancelled,
    /// The root scope does not exist.
    SkippedRootScopeNotFound,
    /// The ownership mark is already cleared: an earlier run finished.
    SkippedAlreadyCleanedUp,
}

/// What a tenant deletion did.
#[derive(Debug, Clone, Serialize)]
pub struct TenantDeletionReport {
    pub tenant: String,
    pub status: DeletionStatus,
    pub contents_deleted: u64,
    pub scopes_deleted: u64,
    /// Failed content deletions, scope deletions and the failed clear of the mark.
    pub failures: u64,
    pub errors: Vec<String>,
    #[serde(serialize_with = "as_millis", rename = "duration_ms")]
    pub duration: Duration,
}

impl DeletionStatus {
    /// The run's outcome; `None` for the skips, which record no run.
    pub fn outcome(self) -> Option<RunOutcome> {
        match self {
            Self::Success => Some(RunOutcome::Success),
            Self::Failure => Some(RunOutcome::Failed),
            Self::Cancelled => Some(RunOutcome::Cancelled),
            Self::SkippedRootScopeNotFound | Self::SkippedAlreadyCleanedUp => None,
        }
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

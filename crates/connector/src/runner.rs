//! What the scheduler and the `sync` command ask of "something that runs a tenant" (the engine
//! in production, a fake in the scheduler's tests), and what a run reports back.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde::Serialize;
use sync_engine::{CycleMode, RunOutcome, RunTrigger};
use tokio_util::sync::CancellationToken;

use crate::progress::Progress;
use crate::tenants::TenantRuntime;

/// How a run went, as printed by `sync` and counted in metrics and readiness: the engine's
/// outcome, or not run at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunState {
    Ran(RunOutcome),
    /// Not run here: another replica holds the tenant's lease (or this process is already
    /// running it, or a dry run met a deleted tenant). Why is in [`RunSummary::error`].
    Skipped,
}

impl RunState {
    /// `sync` exits non-zero when any tenant's state is a failure.
    pub(crate) fn is_failure(self) -> bool {
        matches!(self, Self::Ran(outcome) if outcome.is_failure())
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Ran(outcome) => outcome.as_str(),
            Self::Skipped => "skipped",
        }
    }
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RunState {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One run's result, the unit of `sync --json` output.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunSummary {
    pub(crate) tenant: String,
    /// `sync` for active tenants, `cleanup` for deleted ones.
    pub(crate) kind: &'static str,
    pub(crate) status: RunState,
    pub(crate) dry_run: bool,
    /// The ledger's run id, when one was recorded.
    pub(crate) run_id: Option<i64>,
    pub(crate) duration_ms: u64,
    /// Counters of the run (engine-defined field names).
    pub(crate) counts: serde_json::Value,
    pub(crate) error: Option<String>,
    /// Why a run that did not fail held back deletions (a truncated or empty discovery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
    /// Dry run: what a real run would do.
    pub(crate) plan: Option<serde_json::Value>,
}

impl RunSummary {
    pub(crate) fn skipped(tenant: &str, kind: &'static str, why: &str) -> Self {
        Self {
            tenant: tenant.to_owned(),
            kind,
            status: RunState::Skipped,
            dry_run: false,
            run_id: None,
            duration_ms: 0,
            counts: serde_json::Value::Null,
            error: Some(why.to_owned()),
            note: None,
            plan: None,
        }
    }

    pub(crate) fn failed(tenant: &str, kind: &'static str, error: String, took: Duration) -> Self {
        Self {
            tenant: tenant.to_owned(),
            kind,
            status: RunState::Ran(RunOutcome::Failed),
            dry_run: false,
            run_id: None,
            duration_ms: took.as_millis() as u64,
            counts: serde_json::Value::Null,
            error: Some(error),
            note: None,
            plan: None,
        }
    }
}

/// Runs one tenant once (sync for active tenants, cleanup for deleted ones).
pub(crate) trait TenantRunner: Send + Sync + fmt::Debug {
    fn run(
        &self,
        tenant: Arc<TenantRuntime>,
        trigger: RunTrigger,
        mode: CycleMode,
        cancel: CancellationToken,
        progress: Arc<dyn Progress>,
    ) -> BoxFuture<'_, RunSummary>;
}

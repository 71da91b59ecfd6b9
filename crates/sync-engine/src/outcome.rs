//! [`RunOutcome`]: how a run ended, the one answer the engine gives and everyone else reuses.
//! The ledger stores it (adding only the states a run has before it ends), the connector prints
//! it, counts it in metrics and feeds it to readiness (adding only "not run here").

use std::fmt;

use serde::Serialize;

/// How a sync cycle or a tenant deletion ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    /// Everything went through (a dry run that completed included).
    Success,
    /// The cycle completed, but some items failed (see the report's and the run's failures).
    PartialSuccess,
    /// The run could not complete (e.g. discovery or Unique unreachable).
    Failed,
    /// A deletion guard stopped the cycle on purpose; nothing was written after it.
    Aborted,
    /// Shutdown or lease loss stopped the run in an orderly way: in-flight items finished,
    /// nothing was deleted.
    Cancelled,
}

impl RunOutcome {
    /// The name in `sync --json`, logs and the `status` label of `cfc_ledger_runs_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::PartialSuccess => "partial_success",
            Self::Failed => "failed",
            Self::Aborted => "aborted",
            Self::Cancelled => "cancelled",
        }
    }

    /// A run an operator must look at: `sync` exits non-zero and readiness counts it against the
    /// tenant. Item failures are not one (they are retried next cycle), nor is a cancellation.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::Failed | Self::Aborted)
    }
}

impl fmt::Display for RunOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_serialized_form() {
        for outcome in [
            RunOutcome::Success,
            RunOutcome::PartialSuccess,
            RunOutcome::Failed,
            RunOutcome::Aborted,
            RunOutcome::Cancelled,
        ] {
            assert_eq!(
                serde_json::to_value(outcome).ok(),
                Some(serde_json::Value::from(outcome.as_str()))
            );
        }
    }
}

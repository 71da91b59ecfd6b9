//! [`EngineError`]: why a tenant's cycle (or deletion) did not complete.

use confluence_client::ConfluenceError;
use unique_client::UniqueError;

use crate::ledger::LedgerError;

/// A failure that stops a tenant's cycle. Per-item failures are not errors: they are recorded in
/// the ledger and the report, and the cycle goes on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The configured root scope does not exist (or we cannot see it).
    #[error("root scope {scope_id} not found in Unique; create it or fix unique.scopeId")]
    RootScopeNotFound { scope_id: String },

    /// A parent of the root scope is missing: the scope tree is inconsistent.
    #[error("parent scope {scope_id} of the root scope not found in Unique")]
    ParentScopeNotFound { scope_id: String },

    /// The root scope belongs to another Confluence instance; syncing would mix two instances.
    #[error("root scope {scope_id} ownership mismatch: expected {expected}, found {found}; point this tenant at its own root scope")]
    OwnershipMismatch {
        scope_id: String,
        expected: String,
        found: String,
    },

    /// Moving the space scopes of an old root owned by this instance failed; nothing was claimed.
    #[error("root scope migration from {old_root} failed: {reason}")]
    MigrationFailed { old_root: String, reason: String },

    /// Confluence discovery failed; nothing was diffed, written or deleted.
    #[error("discovery failed: {0}")]
    Discovery(#[source] ConfluenceError),

    /// Resolving the Confluence instance id (Data Center manifest) failed.
    #[error("resolving the Confluence instance id failed: {0}")]
    InstanceId(#[source] ConfluenceError),

    /// A mass-deletion guard stopped the cycle; nothing of that space was deleted.
    #[error("the {guard} deletion guard aborted the cycle for {partial_key}: {reason}")]
    GuardAborted {
        guard: Guard,
        partial_key: String,
        reason: String,
    },

    /// A Unique call the cycle cannot go on without failed.
    #[error("{during} failed: {source}")]
    Unique {
        during: &'static str,
        #[source]
        source: UniqueError,
    },

    /// The ledger could not record the run.
    #[error("ledger: {0}")]
    Ledger(#[from] LedgerError),
}

/// Which mass-deletion guard fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Guard {
    /// Nothing was submitted to the diff but it returned deletions.
    EmptySubmission,
    /// Every stored file of the space would be deleted without a genuine replacement.
    WholeSpace,
}

impl std::fmt::Display for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Guard::EmptySubmission => "empty-submission",
            Guard::WholeSpace => "whole-space",
        })
    }
}

pub(crate) fn during(during: &'static str) -> impl FnOnce(UniqueError) -> EngineError {
    move |source| EngineError::Unique { during, source }
}

//! What can go wrong with the ledger, in words an operator can act on.

use std::path::PathBuf;

use super::run_id::RunId;

/// Every ledger failure. Database URLs inside these errors are always redacted
/// (`postgres://user:***@host/db`): errors end up in logs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// The URL names neither SQLite nor PostgreSQL.
    #[error(
        "unsupported ledger URL {url}: use a file path, sqlite://PATH, sqlite::memory: or postgres://…"
    )]
    UnsupportedUrl { url: String },

    /// Another process (or another `Ledger` in this one) has the SQLite file open for writing.
    #[error(
        "the SQLite ledger {path} is already in use by another process: SQLite state is \
         single-process; stop the other process, give each process its own file, or use \
         PostgreSQL (postgres://…) to run several replicas"
    )]
    AlreadyInUse { path: PathBuf },

    /// The directory for the SQLite file could not be created (first start).
    #[error("cannot create the directory {path} for the SQLite ledger: {source}")]
    CreateDirectory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The SQLite file, or the directory it lives in, exists but this process may not write it.
    #[error("the SQLite ledger cannot be written at {path}: {source}")]
    NotWritable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The sidecar lock file next to the SQLite file could not be opened or locked.
    #[error("cannot lock the SQLite ledger through {path}: {source}")]
    LockFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The database could not be reached or opened.
    #[error("cannot open the ledger at {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },

    /// Applying the embedded migrations failed (e.g. a migration file changed after it was
    /// applied, or the database was written by a newer connector).
    #[error("cannot apply the ledger migrations to {url}: {source}")]
    Migrate {
        url: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },

    /// A query failed; `operation` says which ledger call it was.
    #[error("ledger {operation} failed: {source}")]
    Query {
        operation: &'static str,
        #[source]
        source: sqlx::Error,
    },

    /// The run does not exist (never started, or pruned from the history).
    #[error("run {run} is not in the ledger")]
    UnknownRun { run: RunId },

    /// `finish_run` on a run that already has an outcome.
    #[error("run {run} is already finished")]
    RunAlreadyFinished { run: RunId },

    /// On PostgreSQL a run may only start under the tenant's lease: without one, another
    /// replica could be syncing the same tenant, and the run would look orphaned to the others.
    #[error(
        "cannot start a run of tenant {tenant} without holding its lease: on PostgreSQL, call \
         try_acquire_lease first (another replica may be syncing it)"
    )]
    NoLease { tenant: String },

    /// The lease expired or another holder took it: stop working on the tenant now.
    #[error(
        "lost the lease on tenant {tenant} (generation {generation}): it expired or another \
         replica took it"
    )]
    LeaseLost { tenant: String, generation: u64 },

    /// A lease needs a positive time to live that fits the database's interval arithmetic.
    #[error("invalid lease time to live {ttl:?}: it must be between 1 ms and one year")]
    InvalidLeaseTtl { ttl: std::time::Duration },

    /// A value in the database that this version does not understand (written by a newer
    /// version, or edited by hand).
    #[error("unexpected value {value:?} in ledger column {column}")]
    Corrupt { column: &'static str, value: String },
}

/// `map_err` helper: tags a sqlx error with the ledger call it came from.
pub(crate) fn query(operation: &'static str) -> impl FnOnce(sqlx::Error) -> LedgerError {
    move |source| LedgerError::Query { operation, source }
}

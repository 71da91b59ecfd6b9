//! The state ledger: every run, its counts and failed items, and per-tenant leases; SQLite or
//! PostgreSQL through one code path.
//!
//! Why two databases: SQLite needs no infrastructure and is the right default for one process;
//! PostgreSQL is what several replicas can share. The Rust code is the same for both: every
//! query is written once and executed on whichever pool [`Backend`] holds ([`on_backend!`]
//! expands the body once per pool type). The SQL differs only where the dialects do, which is the
//! expression for "now" and "now plus a TTL" ([`dialect::Dialect`]); time always comes from the
//! database, never from this process, so replicas with skewed clocks still agree on lease expiry.
//!
//! Layout: `location` parses and redacts URLs, `sqlite_path` decides whether a SQLite file can
//! be created or written where it is configured, `sqlite_lock` makes SQLite single-process,
//! `runs` records runs and failed items, `leases` shares tenants between replicas, `permissions`
//! records what permission sync granted.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

/// Runs `$body` with `$pool` bound to the concrete pool and `$dialect` to its
/// [`dialect::Dialect`]. The body is compiled once per backend, so it must be written against
/// what both sqlx drivers support: that restriction *is* the "same code path" guarantee.
macro_rules! on_backend {
    ($ledger:expr, |$pool:ident, $dialect:ident| $body:block) => {
        match &$ledger.inner.backend {
            $crate::ledger::Backend::Sqlite($pool) => {
                let $dialect = $crate::ledger::dialect::Dialect::Sqlite;
                $body
            }
            $crate::ledger::Backend::Postgres($pool) => {
                let $dialect = $crate::ledger::dialect::Dialect::Postgres;
                $body
            }
        }
    };
}

mod dialect;
mod error;
mod leases;
mod location;
mod permissions;
mod run_id;
mod runs;
mod sqlite_lock;
mod sqlite_path;

pub use error::LedgerError;
pub use leases::{Lease, LeaseRecord};
pub use permissions::{GrantTarget, GrantedAccess, MirroredGroup};
pub use runs::{
    ItemFailure, ItemPhase, RunCounts, RunFailure, RunId, RunRecord, RunStatus, RunTrigger,
};

use error::query;
use location::Location;
use sqlite_lock::SqliteLock;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// How long a SQLite writer waits for another connection of this process to finish writing.
/// Writes are small and few, so hitting this means something is stuck.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Which database a [`Ledger`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LedgerKind {
    /// One process only, enforced by a lock file; leases are trivially this process's.
    Sqlite,
    /// Shared by several replicas; leases decide who syncs which tenant.
    Postgres,
}

impl fmt::Display for LedgerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// How to open a [`Ledger`]. The URL is separate because it is the one thing that must be given.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LedgerOptions {
    /// Runs kept per tenant; older finished runs (and their failed items) are deleted whenever a
    /// run of that tenant finishes. At least 1. Default 500: months of history at a typical
    /// 15-minute schedule without the file growing without bound.
    pub history_per_tenant: u32,
    /// A human-readable name for this process in lease and run records (e.g. the pod name).
    /// The holder id is always `<name>/<pid>/<random>`, unique per `Ledger::open`, because run
    /// recovery relies on a restarted process never inheriting its predecessor's identity.
    /// Default: `$HOSTNAME`, else the kernel's host name.
    pub holder_name: Option<String>,
    /// Connections in the pool. Default 5: the engine writes a handful of rows per item at most.
    pub max_connections: u32,
    /// How long to wait for a connection (PostgreSQL down, SQLite busy) before giving up.
    pub connect_timeout: Duration,
    /// Open for reading only (e.g. `confluence-connector status` next to a running daemon): no
    /// lock file, no migrations, no recovery of interrupted runs; writes fail.
    pub read_only: bool,
    /// Applied to every error message and abort reason before it is stored. The connector
    /// passes its `conceal` masking here, so that what an upstream service quoted in an error (a
    /// title, a file name) never lands in the ledger. Default: stored as given.
    pub error_filter: Option<fn(&str) -> String>,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        Self {
            history_per_tenant: 500,
            holder_name: None,
            max_connections: 5,
            connect_timeout: Duration::from_secs(10),
            read_only: false,
            error_filter: None,
        }
    }
}

impl LedgerOptions {
    /// Options with a different history bound; the rest default.
    pub fn with_history_per_tenant(mut self, runs: u32) -> Self {
        self.history_per_tenant = runs;
        self
    }

    /// Options with a holder name (see [`LedgerOptions::holder_name`]).
    pub fn with_holder_name(mut self, name: impl Into<String>) -> Self {
        self.holder_name = Some(name.into());
        self
    }

    /// Options with an error filter (see [`LedgerOptions::error_filter`]).
    pub fn with_error_filter(mut self, filter: fn(&str) -> String) -> Self {
        self.error_filter = Some(filter);
        self
    }

    /// Read-only options (see [`LedgerOptions::read_only`]).
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }
}

/// What [`Ledger::probe`] found at a ledger URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerProbe {
    /// The database answered a query.
    Reachable {
        kind: LedgerKind,
        /// SQLite only: a writer holds the file right now (a running daemon, or a `sync`), so
        /// another writer could not open it until that one stops.
        in_use: bool,
    },
    /// A SQLite file that does not exist yet; opening the ledger for writing would create it,
    /// and the directories it needs, at `path`.
    NotCreatedYet { path: PathBuf },
}

/// The state ledger. Cheap to clone: clones share one pool (and, for SQLite, one lock that is
/// released when the last clone is dropped).
#[derive(Clone)]
pub struct Ledger {
    inner: Arc<Inner>,
}

struct Inner {
    backend: Backend,
    kind: LedgerKind,
    location: String,
    holder: String,
    history_per_tenant: i64,
    error_filter: Option<fn(&str) -> String>,
    /// Held, never read: dropping it releases the SQLite file for the next process.
    _lock: Option<SqliteLock>,
}

enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl fmt::Debug for Ledger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ledger")
            .field("kind", &self.inner.kind)
            .field("location", &self.inner.location)
            .field("holder", &self.inner.holder)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// Opens (and on first start creates) the ledger at `url`, applies the embedded migrations
    /// and marks runs that a crashed predecessor left `running` as `interrupted`.
    ///
    /// `url` is a file path, `sqlite://PATH`, `sqlite::memory:` or `postgres://…`.
    pub async fn open(url: &str, options: LedgerOptions) -> Result<Self, LedgerError> {
        let location = Location::parse(url)?;
        let shown = location.display();
        let connect_err = |source| LedgerError::Connect {
            url: shown.clone(),
            source,
        };
        let (backend, lock) = match &location {
            Location::SqliteFile(path) => {
                if !options.read_only {
                    sqlite_path::check_writable(path)?;
                }
                let path = sqlite_path::prepare(path)?;
                let lock = if options.read_only {
                    None
                } else {
                    Some(SqliteLock::acquire(&path)?)
                };
                let mut connect = SqliteConnectOptions::new()
                    .filename(&path)
                    .busy_timeout(SQLITE_BUSY_TIMEOUT)
                    .foreign_keys(true);
                connect = if options.read_only {
                    connect.read_only(true)
                } else {
                    // WAL lets `status` read while the daemon writes; NORMAL is durable across
                    // process crashes, which is the failure the ledger is for.
                    connect
                        .create_if_missing(true)
                        .journal_mode(SqliteJournalMode::Wal)
                        .synchronous(SqliteSynchronous::Normal)
                };
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(options.connect_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(connect_err)?;
                (Backend::Sqlite(pool), lock)
            }
            Location::SqliteMemory => {
                // One connection that never closes: an in-memory database lives exactly as long
                // as its connection, and several shared-cache connections would fail with
                // SQLITE_LOCKED instead of waiting.
                let connect = SqliteConnectOptions::from_str("sqlite::memory:")
                    .map_err(connect_err)?
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(options.connect_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(connect_err)?;
                (Backend::Sqlite(pool), None)
            }
            Location::Postgres(url) => {
                // The application name lets a DBA tell the ledger's sessions apart.
                let mut connect = PgConnectOptions::from_str(url)
                    .map_err(connect_err)?
                    .application_name("confluence-connector ledger");
                if options.read_only {
                    connect = connect.options([("default_transaction_read_only", "on")]);
                }
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections.max(1))
                    .acquire_timeout(options.connect_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(connect_err)?;
                (Backend::Postgres(pool), None)
            }
        };
        let kind = match backend {
            Backend::Sqlite(_) => LedgerKind::Sqlite,
            Backend::Postgres(_) => LedgerKind::Postgres,
        };
        let ledger = Self {
            inner: Arc::new(Inner {
                backend,
                kind,
                location: shown.clone(),
                holder: holder_id(options.holder_name.as_deref()),
                history_per_tenant: i64::from(options.history_per_tenant.max(1)),
                error_filter: options.error_filter,
                _lock: lock,
            }),
        };
        if !options.read_only {
            ledger.migrate(&shown).await?;
            ledger.recover_after_restart().await?;
        }
        tracing::info!(
            kind = %ledger.kind(),
            location = %ledger.location(),
            holder = %ledger.holder_id(),
            read_only = options.read_only,
            "state ledger opened"
        );
        Ok(ledger)
    }

    /// Fails where [`Ledger::open`] for writing would fail on the location (a SQLite directory
    /// that cannot be created, a file that cannot be written, an unreachable database), without
    /// creating or changing anything: what `confluence-connector check` reports. An existing
    /// database is opened read-only and queried once.
    pub async fn probe(url: &str, options: LedgerOptions) -> Result<LedgerProbe, LedgerError> {
        let mut in_use = false;
        if let Location::SqliteFile(path) = Location::parse(url)? {
            sqlite_path::check_writable(&path)?;
            if !path.exists() {
                return Ok(LedgerProbe::NotCreatedYet { path });
            }
            // The directory exists, so this only makes the path absolute, as the lock's is.
            in_use = sqlite_lock::held_by_a_writer(&sqlite_path::prepare(&path)?);
        }
        let ledger = Self::open(url, options.read_only()).await?;
        let pinged = ledger.ping().await;
        ledger.close().await;
        pinged?;
        Ok(LedgerProbe::Reachable {
            kind: ledger.kind(),
            in_use,
        })
    }

    /// False only for a SQLite file that has not been created yet (nothing has run with this
    /// URL): what readers such as `confluence-connector status` check before opening read-only.
    pub fn exists(url: &str) -> Result<bool, LedgerError> {
        Ok(match Location::parse(url)? {
            Location::SqliteFile(path) => path.exists(),
            Location::SqliteMemory | Location::Postgres(_) => true,
        })
    }

    /// Which database this is.
    pub fn kind(&self) -> LedgerKind {
        self.inner.kind
    }

    /// Where the ledger lives, with any password replaced by `***`: safe to log.
    pub fn location(&self) -> &str {
        &self.inner.location
    }

    /// This instance's identity in runs and leases: `<name>/<pid>/<random>`.
    pub fn holder_id(&self) -> &str {
        &self.inner.holder
    }

    /// `text` as it may be stored: through [`LedgerOptions::error_filter`] when one is set.
    pub(crate) fn filtered<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        match self.inner.error_filter {
            Some(filter) => std::borrow::Cow::Owned(filter(text)),
            None => std::borrow::Cow::Borrowed(text),
        }
    }

    /// Readiness check: one round trip to the database.
    pub async fn ping(&self) -> Result<(), LedgerError> {
        on_backend!(self, |pool, _dialect| {
            sqlx::query("SELECT 1")
                .execute(pool)
                .await
                .map_err(query("ping"))?;
        });
        Ok(())
    }

    /// Closes the pool, waiting for queries in flight. Later calls fail. The SQLite lock is
    /// released when the last clone is dropped.
    pub async fn close(&self) {
        match &self.inner.backend {
            Backend::Sqlite(pool) => pool.close().await,
            Backend::Postgres(pool) => pool.close().await,
        }
    }

    async fn migrate(&self, shown: &str) -> Result<(), LedgerError> {
        // On PostgreSQL sqlx serialises concurrent migrators with an advisory lock, so replicas
        // starting together apply each migration once.
        let result = match &self.inner.backend {
            Backend::Sqlite(pool) => SQLITE_MIGRATIONS.run(pool).await,
            Backend::Postgres(pool) => POSTGRES_MIGRATIONS.run(pool).await,
        };
        result.map_err(|source| LedgerError::Migrate {
            url: shown.to_owned(),
            source,
        })
    }

    /// What a fresh process does before its first run. SQLite: the lock file proves no other
    /// process is alive, so every lease in the file belongs to a dead one and is expired, which
    /// makes every `running` run interrupted. PostgreSQL: only runs whose holder no longer holds
    /// a live lease on their tenant are interrupted; a run under a live lease may belong to a
    /// healthy replica, and is left for whoever takes the lease after it expires.
    async fn recover_after_restart(&self) -> Result<(), LedgerError> {
        if self.kind() == LedgerKind::Sqlite {
            self.expire_all_leases().await?;
        }
        self.mark_interrupted_runs().await?;
        Ok(())
    }
}

/// `<name>/<pid>/<random>`: readable in `status` output, unique per open.
fn holder_id(name: Option<&str>) -> String {
    let name = name
        .map(str::to_owned)
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "connector".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{name}/{}/{}", std::process::id(), &random[..12])
}

//! Runs and failed items: what happened in each sync, kept for a bounded history.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::{query, LedgerError};
use super::{Ledger, LedgerKind};
use crate::outcome::RunOutcome;

pub use super::run_id::RunId;

/// What started a run; shown by `status` so operators can tell a cron run from a manual one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RunTrigger {
    /// The tenant's cron schedule.
    Schedule,
    /// The daemon's first cycle after start.
    Startup,
    /// An operator asked the running daemon (HTTP).
    Manual,
    /// `confluence-connector sync`.
    Cli,
}

/// A run's state as recorded: the engine's [`RunOutcome`] once it ended, plus the two states
/// only the ledger knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    /// Started and not finished yet.
    Running,
    Finished(RunOutcome),
    /// Never reported by the engine: the ledger sets it on runs whose process died (or whose
    /// cycle was dropped) before finishing them.
    Interrupted,
}

impl RunStatus {
    /// Shorthands for comparisons, e.g. `record.status == RunStatus::SUCCESS`.
    pub const SUCCESS: Self = Self::Finished(RunOutcome::Success);
    pub const PARTIAL_SUCCESS: Self = Self::Finished(RunOutcome::PartialSuccess);
    pub const FAILED: Self = Self::Finished(RunOutcome::Failed);
    pub const ABORTED: Self = Self::Finished(RunOutcome::Aborted);
    pub const CANCELLED: Self = Self::Finished(RunOutcome::Cancelled);

    /// The value stored in the database; `partial` predates the shared outcome names and stays,
    /// so existing ledgers read back without a migration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished(RunOutcome::Success) => "success",
            Self::Finished(RunOutcome::PartialSuccess) => "partial",
            Self::Finished(RunOutcome::Failed) => "failed",
            Self::Finished(RunOutcome::Aborted) => "aborted",
            Self::Finished(RunOutcome::Cancelled) => "cancelled",
            Self::Interrupted => "interrupted",
        }
    }

    fn parse(text: &str) -> Result<Self, LedgerError> {
        [
            Self::Running,
            Self::SUCCESS,
            Self::PARTIAL_SUCCESS,
            Self::FAILED,
            Self::ABORTED,
            Self::CANCELLED,
            Self::Interrupted,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
        .ok_or_else(|| LedgerError::Corrupt {
            column: "runs.status",
            value: text.to_owned(),
        })
    }

    /// The name in `status --json`: the outcome's own name once finished.
    fn label(self) -> &'static str {
        match self {
            Self::Running => "running",
            Self::Finished(outcome) => outcome.as_str(),
            Self::Interrupted => "interrupted",
        }
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RunStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.label())
    }
}

/// The phase of a cycle an item failed in. Only ingestion records item failures; the column
/// stays so that another phase can be added without a migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ItemPhase {
    Ingest,
}

macro_rules! text_enum {
    ($ty:ident, $column:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The value stored in the database.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            fn parse(text: &str) -> Result<Self, LedgerError> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(LedgerError::Corrupt { column: $column, value: other.to_owned() }),
                }
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(RunTrigger, "runs.trigger_kind", {
    Schedule => "schedule", Startup => "startup", Manual => "manual", Cli => "cli",
});
text_enum!(ItemPhase, "phase", {
    Ingest => "ingest",
});

/// Counts per phase and category. Stored one column each (not JSON) so that operators can sum
/// and filter them in plain SQL on either database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunCounts {
    pub discovered_pages: u64,
    pub discovered_attachments: u64,
    pub diff_new: u64,
    pub diff_updated: u64,
    pub diff_moved: u64,
    pub diff_deleted: u64,
    pub ingested_pages_ok: u64,
    pub ingested_pages_failed: u64,
    pub ingested_pages_skipped: u64,
    pub ingested_attachments_ok: u64,
    pub ingested_attachments_failed: u64,
    pub ingested_attachments_skipped: u64,
    pub deleted_ok: u64,
    pub deleted_failed: u64,
    pub spaces_cleaned: u64,
    /// Search results of a content type the connector does not know: not ingested, and any
    /// copy already in Unique kept.
    pub skipped_unknown_type: u64,
    /// Pages whose attachment listing answered 404 or 403: their stored attachments kept.
    pub attachments_held_back: u64,
}

/// The count columns, in the order of [`RunCounts::to_columns`].
const COUNT_COLUMNS: [&str; 17] = [
    "discovered_pages",
    "discovered_attachments",
    "diff_new",
    "diff_updated",
    "diff_moved",
    "diff_deleted",
    "ingested_pages_ok",
    "ingested_pages_failed",
    "ingested_pages_skipped",
    "ingested_attachments_ok",
    "ingested_attachments_failed",
    "ingested_attachments_skipped",
    "deleted_ok",
    "deleted_failed",
    "spaces_cleaned",
    "skipped_unknown_type",
    "attachments_held_back",
];

impl RunCounts {
    fn to_columns(&self) -> [i64; 17] {
        [
            self.discovered_pages,
            self.discovered_attachments,
            self.diff_new,
            self.diff_updated,
            self.diff_moved,
            self.diff_deleted,
            self.ingested_pages_ok,
            self.ingested_pages_failed,
            self.ingested_pages_skipped,
            self.ingested_attachments_ok,
            self.ingested_attachments_failed,
            self.ingested_attachments_skipped,
            self.deleted_ok,
            self.deleted_failed,
            self.spaces_cleaned,
            self.skipped_unknown_type,
            self.attachments_held_back,
        ]
        .map(|count| i64::try_from(count).unwrap_or(i64::MAX))
    }
}

/// One run as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunRecord {
    pub id: RunId,
    pub tenant: String,
    pub trigger: RunTrigger,
    /// The [`Ledger::holder_id`] of the process that ran it.
    pub holder: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Set when `status` is `Aborted`.
    pub abort_reason: Option<String>,
    pub error: Option<String>,
    /// An operator's note on the run. While it runs: `waiting for the Confluence quota until
    /// HH:MM UTC` during a points-quota wait. Once finished: why a run that did not fail held
    /// back deletions (a truncated or empty discovery), and how long it waited for the quota.
    pub note: Option<String>,
    pub counts: RunCounts,
    /// How many item failures were recorded against this run.
    pub failed_items: u64,
}

/// An item that is failing now: recorded by [`Ledger::record_item_failure`], gone after
/// [`Ledger::clear_item_failure`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemFailure {
    pub tenant: String,
    pub key: String,
    /// The phase of the latest failure.
    pub phase: ItemPhase,
    /// The latest error.
    pub error: String,
    /// Failed attempts since the item last succeeded (or was first seen).
    pub attempts: u64,
    pub first_run: RunId,
    pub last_run: RunId,
    pub first_failed_at: DateTime<Utc>,
    pub last_failed_at: DateTime<Utc>,
}

/// One failure recorded against one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunFailure {
    pub run: RunId,
    pub key: String,
    pub phase: ItemPhase,
    pub error: String,
    /// The item's consecutive failed attempts at that point, this one included.
    pub attempts: u64,
    pub failed_at: DateTime<Utc>,
}

/// The error recorded on runs the ledger marks interrupted.
const INTERRUPTED_ERROR: &str =
    "the process running this sync stopped before finishing it (crash, kill or lost lease)";

/// The error recorded on a run whose cycle was dropped while its process lived on.
const DROPPED_ERROR: &str = "the cycle was dropped before finishing it (its task was cancelled)";

#[derive(sqlx::FromRow)]
struct RunRow {
    id: i64,
    tenant: String,
    trigger_kind: String,
    holder: String,
    status: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    abort_reason: Option<String>,
    error: Option<String>,
    note: Option<String>,
    discovered_pages: i64,
    discovered_attachments: i64,
    diff_new: i64,
    diff_updated: i64,
    diff_moved: i64,
    diff_deleted: i64,
    ingested_pages_ok: i64,
    ingested_pages_failed: i64,
    ingested_pages_skipped: i64,
    ingested_attachments_ok: i64,
    ingested_attachments_failed: i64,
    ingested_attachments_skipped: i64,
    deleted_ok: i64,
    deleted_failed: i64,
    spaces_cleaned: i64,
    skipped_unknown_type: i64,
    attachments_held_back: i64,
    failed_items: i64,
}

const RUN_SELECT: &str = "SELECT id, tenant, trigger_kind, holder, status, started_at, \
     finished_at, abort_reason, error, note, discovered_pages, discovered_attachments, diff_new, \
     diff_updated, diff_moved, diff_deleted, ingested_pages_ok, ingested_pages_failed, \
     ingested_pages_skipped, ingested_attachments_ok, ingested_attachments_failed, \
     ingested_attachments_skipped, deleted_ok, deleted_failed, spaces_cleaned, \
     skipped_unknown_type, attachments_held_back, \
     (SELECT COUNT(*) FROM run_failures f WHERE f.run_id = runs.id) AS failed_items FROM runs";

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl TryFrom<RunRow> for RunRecord {
    type Error = LedgerError;

    fn try_from(row: RunRow) -> Result<Self, LedgerError> {
        Ok(Self {
            id: RunId(row.id),
            tenant: row.tenant,
            trigger: RunTrigger::parse(&row.trigger_kind)?,
            holder: row.holder,
            status: RunStatus::parse(&row.status)?,
            started_at: row.started_at,
            finished_at: row.finished_at,
            abort_reason: row.abort_reason,
            error: row.error,
            note: row.note,
            counts: RunCounts {
                discovered_pages: count(row.discovered_pages),
                discovered_attachments: count(row.discovered_attachments),
                diff_new: count(row.diff_new),
                diff_updated: count(row.diff_updated),
                diff_moved: count(row.diff_moved),
                diff_deleted: count(row.diff_deleted),
                ingested_pages_ok: count(row.ingested_pages_ok),
                ingested_pages_failed: count(row.ingested_pages_failed),
                ingested_pages_skipped: count(row.ingested_pages_skipped),
                ingested_attachments_ok: count(row.ingested_attachments_ok),
                ingested_attachments_failed: count(row.ingested_attachments_failed),
                ingested_attachments_skipped: count(row.ingested_attachments_skipped),
                deleted_ok: count(row.deleted_ok),
                deleted_failed: count(row.deleted_failed),
                spaces_cleaned: count(row.spaces_cleaned),
                skipped_unknown_type: count(row.skipped_unknown_type),
                attachments_held_back: count(row.attachments_held_back),
            },
            failed_items: count(row.failed_items),
        })
    }
}

#[derive(sqlx::FromRow)]
struct ItemFailureRow {
    tenant: String,
    item_key: String,
    phase: String,
    error: String,
    attempts: i64,
    first_run_id: i64,
    last_run_id: i64,
    first_failed_at: DateTime<Utc>,
    last_failed_at: DateTime<Utc>,
}

impl TryFrom<ItemFailureRow> for ItemFailure {
    type Error = LedgerError;

    fn try_from(row: ItemFailureRow) -> Result<Self, LedgerError> {
        Ok(Self {
            tenant: row.tenant,
            key: row.item_key,
            phase: ItemPhase::parse(&row.phase)?,
            error: row.error,
            attempts: count(row.attempts),
            first_run: RunId(row.first_run_id),
            last_run: RunId(row.last_run_id),
            first_failed_at: row.first_failed_at,
            last_failed_at: row.last_failed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct RunFailureRow {
    run_id: i64,
    item_key: String,
    phase: String,
    error: String,
    attempts: i64,
    failed_at: DateTime<Utc>,
}

impl TryFrom<RunFailureRow> for RunFailure {
    type Error = LedgerError;

    fn try_from(row: RunFailureRow) -> Result<Self, LedgerError> {
        Ok(Self {
            run: RunId(row.run_id),
            key: row.item_key,
            phase: ItemPhase::parse(&row.phase)?,
            error: row.error,
            attempts: count(row.attempts),
            failed_at: row.failed_at,
        })
    }
}

impl Ledger {
    /// Records the start of a run; the run is `running` until [`Ledger::finish_run`].
    ///
    /// On PostgreSQL this instance must hold the tenant's live lease
    /// ([`Ledger::try_acquire_lease`]), else [`LedgerError::NoLease`]: other replicas treat a
    /// `running` run whose holder has no live lease as the remains of a dead replica, so a run
    /// outside a lease would be both unsafe and soon mislabelled. Checked in the same statement
    /// as the insert, so the answer cannot go stale in between. SQLite has one process, so no
    /// lease is needed there.
    pub async fn start_run(&self, tenant: &str, trigger: RunTrigger) -> Result<RunId, LedgerError> {
        let lease_needed = self.kind() == LedgerKind::Postgres;
        let id: Option<i64> = on_backend!(self, |pool, dialect| {
            let sql = format!(
                "INSERT INTO runs (tenant, trigger_kind, holder, status, started_at) \
                 SELECT $1, $2, $3, 'running', {now} \
                 WHERE NOT $4 OR EXISTS (SELECT 1 FROM leases WHERE tenant = $1 \
                 AND holder = $3 AND expires_at > {now}) \
                 RETURNING id",
                now = dialect.now()
            );
            sqlx::query_scalar(&sql)
                .bind(tenant)
                .bind(trigger.as_str())
                .bind(self.holder_id())
                .bind(lease_needed)
                .fetch_optional(pool)
                .await
                .map_err(query("start_run"))?
        });
        id.map(RunId).ok_or_else(|| LedgerError::NoLease {
            tenant: tenant.to_owned(),
        })
    }

    /// Sets the run's note (see [`RunRecord::note`]), replacing any; the note is filtered like
    /// errors are.
    pub async fn note_run(&self, run: RunId, note: &str) -> Result<(), LedgerError> {
        let note = self.filtered(note);
        on_backend!(self, |pool, _dialect| {
            sqlx::query("UPDATE runs SET note = $2 WHERE id = $1")
                .bind(run.0)
                .bind(note.as_ref())
                .execute(pool)
                .await
                .map_err(query("note_run"))?;
            Ok(())
        })
    }

    /// Removes a run's note (a "waiting for the Confluence quota" note once the wait is over).
    pub async fn clear_run_note(&self, run: RunId) -> Result<(), LedgerError> {
        on_backend!(self, |pool, _dialect| {
            sqlx::query("UPDATE runs SET note = NULL WHERE id = $1")
                .bind(run.0)
                .execute(pool)
                .await
                .map_err(query("clear_run_note"))?;
            Ok(())
        })
    }

    /// Records a run's outcome and counts, then prunes the tenant's history to the configured
    /// number of runs (failed-item rows of pruned runs go with them; open failures last seen in a
    /// pruned run are dropped too, as the item has evidently gone away).
    ///
    /// `why` says why the run did not succeed: the guard's reason for an aborted run (kept as
    /// [`RunRecord::abort_reason`]), the error otherwise.
    ///
    /// A run already marked `interrupted` can still be finished: if its process was alive after
    /// all, the true outcome is worth more than the guess.
    pub async fn finish_run(
        &self,
        run: RunId,
        outcome: RunOutcome,
        counts: &RunCounts,
        why: Option<&str>,
    ) -> Result<(), LedgerError> {
        let why = why.map(|text| self.filtered(text));
        let (abort_reason, error) = match outcome {
            RunOutcome::Aborted => (why.as_deref(), None),
            _ => (None, why.as_deref()),
        };
        let history = self.inner.history_per_tenant;
        on_backend!(self, |pool, dialect| {
            let assignments: Vec<String> = COUNT_COLUMNS
                .iter()
                .enumerate()
                .map(|(i, column)| format!("{column} = ${}", i + 5))
                .collect();
            let sql = format!(
                "UPDATE runs SET status = $2, abort_reason = $3, error = $4, \
                 finished_at = {now}, {counts} \
                 WHERE id = $1 AND status IN ('running', 'interrupted') RETURNING tenant",
                now = dialect.now(),
                counts = assignments.join(", ")
            );
            let mut tx = pool.begin().await.map_err(query("finish_run"))?;
            let mut update = sqlx::query_scalar::<_, String>(&sql)
                .bind(run.0)
                .bind(RunStatus::Finished(outcome).as_str())
                .bind(abort_reason)
                .bind(error);
            for value in counts.to_columns() {
                update = update.bind(value);
            }
            let tenant = update
                .fetch_optional(&mut *tx)
                .await
                .map_err(query("finish_run"))?;
            let Some(tenant) = tenant else {
                let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM runs WHERE id = $1")
                    .bind(run.0)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(query("finish_run"))?;
                return Err(match exists {
                    Some(_) => LedgerError::RunAlreadyFinished { run },
                    None => LedgerError::UnknownRun { run },
                });
            };
            sqlx::query(
                "DELETE FROM runs WHERE tenant = $1 AND status <> 'running' AND id <= \
                 (SELECT id FROM runs WHERE tenant = $1 ORDER BY id DESC LIMIT 1 OFFSET $2)",
            )
            .bind(&tenant)
            .bind(history)
            .execute(&mut *tx)
            .await
            .map_err(query("prune runs"))?;
            sqlx::query(
                "DELETE FROM item_failures WHERE tenant = $1 \
                 AND last_run_id < (SELECT MIN(id) FROM runs WHERE tenant = $1)",
            )
            .bind(&tenant)
            .execute(&mut *tx)
            .await
            .map_err(query("prune item failures"))?;
            tx.commit().await.map_err(query("finish_run"))?;
            Ok(())
        })
    }

    /// Records that `key` failed in `run`. Returns the item's consecutive failed attempts,
    /// counted across runs of the same tenant until [`Ledger::clear_item_failure`] (so the engine
    /// can give up on, or alert about, an item that keeps failing).
    pub async fn record_item_failure(
        &self,
        run: RunId,
        key: &str,
        phase: ItemPhase,
        error: &str,
    ) -> Result<u64, LedgerError> {
        let error = self.filtered(error);
        let error = error.as_ref();
        on_backend!(self, |pool, dialect| {
            let now = dialect.now();
            let mut tx = pool.begin().await.map_err(query("record_item_failure"))?;
            // SQLite needs the WHERE on an INSERT … SELECT … ON CONFLICT to parse it; it is
            // there anyway, to take the tenant from the run.
            let upsert = format!(
                "INSERT INTO item_failures (tenant, item_key, phase, error, attempts, \
                 first_run_id, last_run_id, first_failed_at, last_failed_at) \
                 SELECT tenant, $2, $3, $4, 1, id, id, {now}, {now} FROM runs WHERE id = $1 \
                 ON CONFLICT (tenant, item_key) DO UPDATE SET phase = excluded.phase, \
                 error = excluded.error, attempts = item_failures.attempts + 1, \
                 last_run_id = excluded.last_run_id, last_failed_at = excluded.last_failed_at \
                 RETURNING attempts"
            );
            let attempts: Option<i64> = sqlx::query_scalar(&upsert)
                .bind(run.0)
                .bind(key)
                .bind(phase.as_str())
                .bind(error)
                .fetch_optional(&mut *tx)
                .await
                .map_err(query("record_item_failure"))?;
            let Some(attempts) = attempts else {
                return Err(LedgerError::UnknownRun { run });
            };
            let insert = format!(
                "INSERT INTO run_failures (run_id, item_key, phase, error, attempts, failed_at) \
                 VALUES ($1, $2, $3, $4, $5, {now})"
            );
            sqlx::query(&insert)
                .bind(run.0)
                .bind(key)
                .bind(phase.as_str())
                .bind(error)
                .bind(attempts)
                .execute(&mut *tx)
                .await
                .map_err(query("record_item_failure"))?;
            tx.commit().await.map_err(query("record_item_failure"))?;
            Ok(count(attempts))
        })
    }

    /// Forgets a failing item once it has gone through (or has been deleted). Returns whether it
    /// was failing. Cheap, but one write per call: load [`Ledger::open_failures`] at the start of
    /// a cycle and clear only the keys found there.
    pub async fn clear_item_failure(&self, tenant: &str, key: &str) -> Result<bool, LedgerError> {
        on_backend!(self, |pool, _dialect| {
            let done = sqlx::query("DELETE FROM item_failures WHERE tenant = $1 AND item_key = $2")
                .bind(tenant)
                .bind(key)
                .execute(pool)
                .await
                .map_err(query("clear_item_failure"))?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// The tenant's items that are failing now, by key.
    pub async fn open_failures(&self, tenant: &str) -> Result<Vec<ItemFailure>, LedgerError> {
        on_backend!(self, |pool, _dialect| {
            let rows: Vec<ItemFailureRow> = sqlx::query_as(
                "SELECT tenant, item_key, phase, error, attempts, first_run_id, last_run_id, \
                 first_failed_at, last_failed_at FROM item_failures WHERE tenant = $1 \
                 ORDER BY item_key",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await
            .map_err(query("open_failures"))?;
            rows.into_iter().map(ItemFailure::try_from).collect()
        })
    }

    /// The failures recorded against one run, in the order they happened.
    pub async fn run_failures(&self, run: RunId) -> Result<Vec<RunFailure>, LedgerError> {
        on_backend!(self, |pool, _dialect| {
            let rows: Vec<RunFailureRow> = sqlx::query_as(
                "SELECT run_id, item_key, phase, error, attempts, failed_at FROM run_failures \
                 WHERE run_id = $1 ORDER BY id",
            )
            .bind(run.0)
            .fetch_all(pool)
            .await
            .map_err(query("run_failures"))?;
            rows.into_iter().map(RunFailure::try_from).collect()
        })
    }

    /// The newest runs first, of one tenant or of all.
    pub async fn recent_runs(
        &self,
        tenant: Option<&str>,
        limit: u32,
    ) -> Result<Vec<RunRecord>, LedgerError> {
        on_backend!(self, |pool, _dialect| {
            let sql =
                format!("{RUN_SELECT} WHERE ($1 IS NULL OR tenant = $1) ORDER BY id DESC LIMIT $2");
            let rows: Vec<RunRow> = sqlx::query_as(&sql)
                .bind(tenant)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await
                .map_err(query("recent_runs"))?;
            rows.into_iter().map(RunRecord::try_from).collect()
        })
    }

    /// One run, if it is (still) in the history.
    pub async fn run(&self, run: RunId) -> Result<Option<RunRecord>, LedgerError> {
        on_backend!(self, |pool, _dialect| {
            let sql = format!("{RUN_SELECT} WHERE id = $1");
            let row: Option<RunRow> = sqlx::query_as(&sql)
                .bind(run.0)
                .fetch_optional(pool)
                .await
                .map_err(query("run"))?;
            row.map(RunRecord::try_from).transpose()
        })
    }

    /// Marks `interrupted` every `running` run whose process is gone, and returns how many.
    /// Called on open and whenever a lease is taken; callable any time (e.g. from a periodic
    /// sweep).
    ///
    /// "Gone" means: started by another `Ledger` instance that holds no live lease on the run's
    /// tenant. A live process renews its lease while it runs, so a run without one is an orphan;
    /// a run whose holder still has a live lease is left alone however old it is. On SQLite,
    /// opening expired every lease first (the lock file proves the previous process is dead), so
    /// every leftover run counts as gone.
    pub async fn mark_interrupted_runs(&self) -> Result<u64, LedgerError> {
        self.mark_interrupted(None).await
    }

    /// Marks the tenant's latest run `interrupted` if it is this instance's own and still
    /// `running`. Runs of one tenant go one at a time, so such a run was dropped mid-way (its
    /// future cancelled, e.g. after the shutdown grace period) and never recorded an outcome; the
    /// engine calls this before starting the next one. Returns whether a run was marked.
    pub(crate) async fn mark_own_dropped_run_interrupted(
        &self,
        tenant: &str,
    ) -> Result<bool, LedgerError> {
        let marked = on_backend!(self, |pool, dialect| {
            let sql = format!(
                "UPDATE runs SET status = 'interrupted', finished_at = {now}, \
                 error = COALESCE(error, $3) \
                 WHERE id = (SELECT MAX(id) FROM runs WHERE tenant = $1) \
                 AND holder = $2 AND status = 'running'",
                now = dialect.now()
            );
            sqlx::query(&sql)
                .bind(tenant)
                .bind(self.holder_id())
                .bind(DROPPED_ERROR)
                .execute(pool)
                .await
                .map_err(query("mark_own_dropped_run_interrupted"))?
                .rows_affected()
        });
        Ok(marked > 0)
    }

    pub(crate) async fn mark_interrupted(&self, tenant: Option<&str>) -> Result<u64, LedgerError> {
        let marked = on_backend!(self, |pool, dialect| {
            let sql = format!(
                "UPDATE runs SET status = 'interrupted', finished_at = {now}, \
                 error = COALESCE(error, $3) \
                 WHERE status = 'running' AND holder <> $1 AND ($2 IS NULL OR tenant = $2) \
                 AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.tenant = runs.tenant \
                 AND l.holder = runs.holder AND l.expires_at > {now})",
                now = dialect.now()
            );
            sqlx::query(&sql)
                .bind(self.holder_id())
                .bind(tenant)
                .bind(INTERRUPTED_ERROR)
                .execute(pool)
                .await
                .map_err(query("mark_interrupted_runs"))?
                .rows_affected()
        });
        if marked > 0 {
            tracing::warn!(
                runs = marked,
                tenant = tenant.unwrap_or("*"),
                "marked runs left running by a stopped process as interrupted"
            );
        }
        Ok(marked)
    }
}

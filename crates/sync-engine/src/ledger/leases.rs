//! Per-tenant leases, so that several replicas share the tenants and no tenant is ever synced by
//! two of them at once.
//!
//! The rules, all enforced by single SQL statements and the database's clock:
//! - acquire: insert the tenant's row, or take it over only when it has expired (or was
//!   released); every acquisition increments `generation`, the fencing token;
//! - renew: only while the row still has our holder and generation *and* has not expired. An
//!   expired lease is lost even if nobody took it yet: the holder must stop and acquire again,
//!   which keeps "who may work" a function of the row alone;
//! - release: expire the row now but keep it, so `generation` keeps growing.
//!
//! No re-entrant acquisition: a holder that already holds the lease gets `None` like everyone
//! else. The holder is the `Ledger` instance, so two tasks of one process that forgot to
//! coordinate still never overlap.
//!
//! On SQLite the same statements run on the same table; the lock file already makes every lease
//! this process's to hand out, so leases there only serialise this process's own tasks.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::error::{query, LedgerError};
use super::{Ledger, LedgerKind};

/// A held lease on one tenant. Hold it while syncing the tenant, renew it well within `ttl`
/// (a third of it is a good rhythm) and stop working when renewal fails or
/// [`Lease::expired_locally`] says so.
#[derive(Debug, Clone)]
pub struct Lease {
    tenant: String,
    holder: String,
    generation: u64,
    ttl: Duration,
    acquired_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    local_deadline: Instant,
}

impl Lease {
    /// The tenant this lease is for.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The holder ([`Ledger::holder_id`]) that acquired it.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// The fencing token: grows with every acquisition of the tenant by anyone. A holder whose
    /// generation is no longer the row's has lost the lease, whatever its clock says.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The time to live asked for at acquisition, reused by every renewal.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// When the lease was acquired, by the database's clock.
    pub fn acquired_at(&self) -> DateTime<Utc> {
        self.acquired_at
    }

    /// When the lease expires unless renewed, by the database's clock (for display; decide with
    /// [`Lease::expired_locally`]).
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// Time left by this process's monotonic clock. The deadline is counted from just *before*
    /// the acquire/renew request was sent, and the database counts its expiry from when it ran
    /// the statement, which is later; so this deadline always comes first, whatever the clocks
    /// of this host and the database say. Stop working when it reaches zero.
    pub fn time_left(&self) -> Duration {
        self.local_deadline
            .saturating_duration_since(Instant::now())
    }

    /// Whether the lease must be considered lost by now (see [`Lease::time_left`]).
    pub fn expired_locally(&self) -> bool {
        self.time_left().is_zero()
    }
}

/// A tenant's lease row as `status` shows it: who holds (or last held) the tenant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct LeaseRecord {
    pub tenant: String,
    pub holder: String,
    pub generation: i64,
    pub acquired_at: DateTime<Utc>,
    pub renewed_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Whether the lease is held right now, by the database's clock. `false` after a release
    /// or an expiry; the row stays so that the generation keeps growing.
    pub live: bool,
}

fn ttl_millis(ttl: Duration) -> Result<i64, LedgerError> {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    if ttl < Duration::from_millis(1) || ttl > YEAR {
        return Err(LedgerError::InvalidLeaseTtl { ttl });
    }
    i64::try_from(ttl.as_millis()).map_err(|_| LedgerError::InvalidLeaseTtl { ttl })
}

impl Ledger {
    /// Takes the tenant's lease for `ttl` if nobody holds it (never held, released, or expired
    /// by the database's clock). `None` means another holder (possibly this very instance) has
    /// it: try again later. After a takeover, the previous holder's unfinished runs of the
    /// tenant are marked interrupted.
    pub async fn try_acquire_lease(
        &self,
        tenant: &str,
        ttl: Duration,
    ) -> Result<Option<Lease>, LedgerError> {
        let millis = ttl_millis(ttl)?;
        let sent = Instant::now();
        let row: Option<(i64, DateTime<Utc>, DateTime<Utc>)> =
            on_backend!(self, |pool, dialect| {
                let sql = format!(
                    "INSERT INTO leases (tenant, holder, generation, acquired_at, renewed_at, \
                 expires_at) VALUES ($1, $2, 1, {now}, {now}, {expires}) \
                 ON CONFLICT (tenant) DO UPDATE SET holder = excluded.holder, \
                 generation = leases.generation + 1, acquired_at = excluded.acquired_at, \
                 renewed_at = excluded.renewed_at, expires_at = excluded.expires_at \
                 WHERE leases.expires_at <= {now} \
                 RETURNING generation, acquired_at, expires_at",
                    now = dialect.now(),
                    expires = dialect.now_plus_millis("$3"),
                );
                sqlx::query_as(&sql)
                    .bind(tenant)
                    .bind(self.holder_id())
                    .bind(millis)
                    .fetch_optional(pool)
                    .await
                    .map_err(query("try_acquire_lease"))?
            });
        let Some((generation, acquired_at, expires_at)) = row else {
            return Ok(None);
        };
        let lease = Lease {
            tenant: tenant.to_owned(),
            holder: self.holder_id().to_owned(),
            generation: u64::try_from(generation).unwrap_or(0),
            ttl,
            acquired_at,
            expires_at,
            local_deadline: sent + ttl,
        };
        if generation > 1 {
            self.mark_interrupted(Some(tenant)).await?;
        }
        Ok(Some(lease))
    }

    /// Extends the lease by its TTL from now. Fails with [`LedgerError::LeaseLost`] when it
    /// expired or another holder has taken it since: stop working on the tenant.
    pub async fn renew_lease(&self, lease: &mut Lease) -> Result<(), LedgerError> {
        let millis = ttl_millis(lease.ttl)?;
        let sent = Instant::now();
        let generation = i64::try_from(lease.generation).unwrap_or(i64::MAX);
        let expires_at: Option<DateTime<Utc>> = on_backend!(self, |pool, dialect| {
            let sql = format!(
                "UPDATE leases SET renewed_at = {now}, expires_at = {expires} \
                 WHERE tenant = $1 AND holder = $2 AND generation = $3 AND expires_at > {now} \
                 RETURNING expires_at",
                now = dialect.now(),
                expires = dialect.now_plus_millis("$4"),
            );
            sqlx::query_scalar(&sql)
                .bind(&lease.tenant)
                .bind(&lease.holder)
                .bind(generation)
                .bind(millis)
                .fetch_optional(pool)
                .await
                .map_err(query("renew_lease"))?
        });
        match expires_at {
            Some(expires_at) => {
                lease.expires_at = expires_at;
                lease.local_deadline = sent + lease.ttl;
                Ok(())
            }
            None => Err(LedgerError::LeaseLost {
                tenant: lease.tenant.clone(),
                generation: lease.generation,
            }),
        }
    }

    /// Gives the lease up so another replica can take the tenant at once rather than after the
    /// TTL. Returns `false` when it had already been lost (nothing to release).
    pub async fn release_lease(&self, lease: Lease) -> Result<bool, LedgerError> {
        let generation = i64::try_from(lease.generation).unwrap_or(i64::MAX);
        on_backend!(self, |pool, dialect| {
            let sql = format!(
                "UPDATE leases SET expires_at = {now} \
                 WHERE tenant = $1 AND holder = $2 AND generation = $3 AND expires_at > {now}",
                now = dialect.now(),
            );
            let done = sqlx::query(&sql)
                .bind(&lease.tenant)
                .bind(&lease.holder)
                .bind(generation)
                .execute(pool)
                .await
                .map_err(query("release_lease"))?;
            Ok(done.rows_affected() > 0)
        })
    }

    /// Every tenant's lease, by tenant (for `status` and debugging "who syncs what").
    pub async fn leases(&self) -> Result<Vec<LeaseRecord>, LedgerError> {
        on_backend!(self, |pool, dialect| {
            let sql = format!(
                "SELECT tenant, holder, generation, acquired_at, renewed_at, expires_at, \
                 expires_at > {now} AS live FROM leases ORDER BY tenant",
                now = dialect.now()
            );
            sqlx::query_as(&sql)
                .fetch_all(pool)
                .await
                .map_err(query("leases"))
        })
    }

    /// Only for SQLite on open: the lock file proves that whoever wrote these leases is dead.
    pub(crate) async fn expire_all_leases(&self) -> Result<(), LedgerError> {
        debug_assert_eq!(self.kind(), LedgerKind::Sqlite);
        on_backend!(self, |pool, dialect| {
            let sql = format!(
                "UPDATE leases SET expires_at = {now} WHERE expires_at > {now}",
                now = dialect.now()
            );
            sqlx::query(&sql)
                .execute(pool)
                .await
                .map_err(query("expire stale leases"))?;
        });
        Ok(())
    }
}

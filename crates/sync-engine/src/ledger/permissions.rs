//! What permission sync granted in Unique: the accesses (scope and file), the groups it owns,
//! and per file a fingerprint of the access last applied in full.
//!
//! The ledger is the only proof that an access is the connector's: an access it does not list
//! is never removed, a group it does not list is never deleted.

use std::collections::HashMap;

use super::error::query;
use super::{Ledger, LedgerError};

/// What an access is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantTarget {
    Scope,
    File,
}

impl GrantTarget {
    fn as_str(self) -> &'static str {
        match self {
            Self::Scope => "scope",
            Self::File => "file",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "scope" => Some(Self::Scope),
            "file" => Some(Self::File),
            _ => None,
        }
    }
}

/// One access the connector granted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrantedAccess {
    pub target: GrantTarget,
    /// The scope id, or the file's content key.
    pub target_key: String,
    /// The scope id, or the file's content id.
    pub target_id: String,
    /// The scope the access is changed through (a file's owner scope).
    pub owner_scope_id: String,
    /// `user` or `group`.
    pub entity_kind: String,
    pub entity_id: String,
    /// `READ`, `WRITE` or `MANAGE`.
    pub access: String,
}

/// A Unique group the connector owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirroredGroup {
    pub external_id: String,
    pub group_id: String,
}

type GrantRow = (String, String, String, String, String, String, String);

impl Ledger {
    /// Every access the connector granted for `tenant`.
    pub async fn granted_accesses(&self, tenant: &str) -> Result<Vec<GrantedAccess>, LedgerError> {
        on_backend!(self, |pool, _dialect| {
            let rows: Vec<GrantRow> = sqlx::query_as(
                "SELECT target_kind, target_key, target_id, owner_scope_id, entity_kind, \
                 entity_id, access FROM permission_grants WHERE tenant = $1 \
                 ORDER BY target_kind, target_key, entity_kind, entity_id, access",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await
            .map_err(query("granted_accesses"))?;
            Ok(rows
                .into_iter()
                .filter_map(|(kind, key, id, owner, entity_kind, entity_id, access)| {
                    Some(GrantedAccess {
                        target: GrantTarget::parse(&kind)?,
                        target_key: key,
                        target_id: id,
                        owner_scope_id: owner,
                        entity_kind,
                        entity_id,
                        access,
                    })
                })
                .collect())
        })
    }

    /// Records accesses about to be granted (before the grant is sent). Recording one twice is
    /// not an error.
    pub async fn record_grants(
        &self,
        tenant: &str,
        grants: &[GrantedAccess],
    ) -> Result<(), LedgerError> {
        if grants.is_empty() {
            return Ok(());
        }
        on_backend!(self, |pool, _dialect| {
            let mut tx = pool.begin().await.map_err(query("record_grants"))?;
            for g in grants {
                sqlx::query(
                    "INSERT INTO permission_grants (tenant, target_kind, target_key, target_id, \
                     owner_scope_id, entity_kind, entity_id, access) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (tenant, target_kind, target_key, entity_kind, entity_id, access) \
                     DO UPDATE SET target_id = excluded.target_id, \
                     owner_scope_id = excluded.owner_scope_id",
                )
                .bind(tenant)
                .bind(g.target.as_str())
                .bind(&g.target_key)
                .bind(&g.target_id)
                .bind(&g.owner_scope_id)
                .bind(&g.entity_kind)
                .bind(&g.entity_id)
                .bind(&g.access)
                .execute(&mut *tx)
                .await
                .map_err(query("record_grants"))?;
            }
            tx.commit().await.map_err(query("record_grants"))?;
            Ok(())
        })
    }

    /// Forgets accesses that were removed (after the removal succeeded) or that are gone.
    pub async fn forget_grants(
        &self,
        tenant: &str,
        grants: &[GrantedAccess],
    ) -> Result<(), LedgerError> {
        if grants.is_empty() {
            return Ok(());
        }
        on_backend!(self, |pool, _dialect| {
            let mut tx = pool.begin().await.map_err(query("forget_grants"))?;
            for g in grants {
                sqlx::query(
                    "DELETE FROM permission_grants WHERE tenant = $1 AND target_kind = $2 \
                     AND target_key = $3 AND entity_kind = $4 AND entity_id = $5 AND access = $6",
                )
                .bind(tenant)
                .bind(g.target.as_str())
                .bind(&g.target_key)
                .bind(&g.entity_kind)
                .bind(&g.entity_id)
                .bind(&g.access)
                .execute(&mut *tx)
                .await
                .map_err(query("forget_grants"))?;
            }
            tx.commit().await.map_err(query("forget_grants"))?;
            Ok(())
        })
    }

    /// The fingerprint of the access last applied in full, per file key.
    pub async fn access_fingerprints(
        &self,
        tenant: &str,
    ) -> Result<HashMap<String, String>, LedgerError> {
        on_backend!(self, |pool, _dialect| {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT item_key, fingerprint FROM permission_fingerprints WHERE tenant = $1",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await
            .map_err(query("access_fingerprints"))?;
            Ok(rows.into_iter().collect())
        })
    }

    /// Sets (`Some`) or forgets (`None`) the applied-access fingerprint of each file key.
    pub async fn set_access_fingerprints(
        &self,
        tenant: &str,
        fingerprints: &[(String, Option<String>)],
    ) -> Result<(), LedgerError> {
        if fingerprints.is_empty() {
            return Ok(());
        }
        on_backend!(self, |pool, _dialect| {
            let mut tx = pool
                .begin()
                .await
                .map_err(query("set_access_fingerprints"))?;
            for (key, fingerprint) in fingerprints {
                let statement = match fingerprint {
                    Some(_) => {
                        "INSERT INTO permission_fingerprints (tenant, item_key, fingerprint) \
                         VALUES ($1, $2, $3) ON CONFLICT (tenant, item_key) \
                         DO UPDATE SET fingerprint = excluded.fingerprint"
                    }
                    None => {
                        "DELETE FROM permission_fingerprints WHERE tenant = $1 AND item_key = $2"
                    }
                };
                let mut q = sqlx::query(statement).bind(tenant).bind(key);
                if let Some(fingerprint) = fingerprint {
                    q = q.bind(fingerprint);
                }
                q.execute(&mut *tx)
                    .await
                    .map_err(query("set_access_fingerprints"))?;
            }
            tx.commit()
                .await
                .map_err(query("set_access_fingerprints"))?;
            Ok(())
        })
    }

    /// Forgets every applied-access fingerprint of `tenant` (permission sync was turned off:
    /// turning it on again must re-read every file).
    pub async fn clear_access_fingerprints(&self, tenant: &str) -> Result<(), LedgerError> {
        on_backend!(self, |pool, _dialect| {
            sqlx::query("DELETE FROM permission_fingerprints WHERE tenant = $1")
                .bind(tenant)
                .execute(pool)
                .await
                .map_err(query("clear_access_fingerprints"))?;
            Ok(())
        })
    }

    /// The Unique groups the connector owns for `tenant`.
    pub async fn mirrored_groups(&self, tenant: &str) -> Result<Vec<MirroredGroup>, LedgerError> {
        on_backend!(self, |pool, _dialect| {
            let rows: Vec<(String, String)> = sqlx::query_as(
                "SELECT external_id, group_id FROM permission_groups WHERE tenant = $1 \
                 ORDER BY external_id",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await
            .map_err(query("mirrored_groups"))?;
            Ok(rows
                .into_iter()
                .map(|(external_id, group_id)| MirroredGroup {
                    external_id,
                    group_id,
                })
                .collect())
        })
    }

    /// Records a group the connector created or adopted.
    pub async fn record_mirrored_group(
        &self,
        tenant: &str,
        group: &MirroredGroup,
    ) -> Result<(), LedgerError> {
        on_backend!(self, |pool, _dialect| {
            sqlx::query(
                "INSERT INTO permission_groups (tenant, external_id, group_id) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant, external_id) DO UPDATE SET group_id = excluded.group_id",
            )
            .bind(tenant)
            .bind(&group.external_id)
            .bind(&group.group_id)
            .execute(pool)
            .await
            .map_err(query("record_mirrored_group"))?;
            Ok(())
        })
    }

    /// Forgets a group after it was deleted.
    pub async fn forget_mirrored_group(
        &self,
        tenant: &str,
        external_id: &str,
    ) -> Result<(), LedgerError> {
        on_backend!(self, |pool, _dialect| {
            sqlx::query("DELETE FROM permission_groups WHERE tenant = $1 AND external_id = $2")
                .bind(tenant)
                .bind(external_id)
                .execute(pool)
                .await
                .map_err(query("forget_mirrored_group"))?;
            Ok(())
        })
    }
}

//! Scope management: the root scope (access, ownership mark, migration from an old root), the
//! space scopes under it, and the cleanup of spaces that left discovery.
//!
//! Ownership: a root scope's external id `confc:<cloud|data-center>:<instance id>` says which
//! Confluence instance syncs into it. A root marked by another instance stops the tenant before
//! anything is written; an unmarked root is claimed, after moving the space scopes of an old root
//! that still carries our mark (the operator pointed the tenant at a new root).

use std::collections::{BTreeMap, BTreeSet};

use confluence_client::Space;
use unique_client::{AccessType, Scope, UniqueClient};

use crate::error::{during, EngineError};
use crate::keys::{parse_space_external_id, PartialKey, ScopeExternalId};
use crate::report::CycleMode;
use crate::tenant::TenantSpec;

/// The root scope as a cycle uses it.
#[derive(Debug, Clone)]
pub(crate) struct RootScope {
    pub id: String,
    /// `/<top>/…/<root name>`: space scopes are created at `<path>/<spaceKey>`.
    pub path: String,
    /// The service user's Unique id (`me`).
    pub service_user: String,
}

/// Grants us access to the root and its ancestors, checks or claims ownership, and builds the
/// root's path. In a dry run nothing is granted, migrated or claimed (an unmarked root is
/// reported as "would be claimed" by simply not failing).
pub(crate) async fn prepare_root(
    unique: &UniqueClient,
    spec: &TenantSpec,
    expected_owner: &str,
    mode: CycleMode,
) -> Result<RootScope, EngineError> {
    let writes = mode == CycleMode::Normal;
    let user = unique
        .current_user_id()
        .await
        .map_err(during("reading the service user"))?;
    let not_found = || EngineError::RootScopeNotFound {
        scope_id: spec.root_scope_id.clone(),
    };
    if writes {
        let granted = unique
            .grant_scope_access(
                &spec.root_scope_id,
                &user,
                &[AccessType::Manage, AccessType::Read, AccessType::Write],
            )
            .await;
        if let Err(e) = granted {
            // Granting on a scope that does not exist fails too; say which problem it is.
            return Err(match unique.scope_by_id(&spec.root_scope_id).await {
                Ok(None) => not_found(),
                _ => during("granting access to the root scope")(e),
            });
        }
    }
    let root = unique
        .scope_by_id(&spec.root_scope_id)
        .await
        .map_err(during("reading the root scope"))?
        .ok_or_else(not_found)?;
    match root.external_id.as_deref() {
        Some(found) if found == expected_owner => {}
        Some(found) => {
            return Err(EngineError::OwnershipMismatch {
                scope_id: root.id.clone(),
                expected: expected_owner.to_owned(),
                found: found.to_owned(),
            })
        }
        None if writes => {
            migrate_from_old_root(unique, spec, &root, expected_owner).await?;
            claim(unique, &root, expected_owner).await?;
        }
        None => {}
    }
    let path = root_path(unique, &root, &user, writes).await?;
    Ok(RootScope {
        id: root.id,
        path,
        service_user: user,
    })
}

/// Moves the children of the scope that still carries our mark under `root`, then deletes it.
///
/// The ownership mark names the Confluence instance, not the tenant: a second tenant of the same
/// instance pointed at another root would find the first tenant's root here. Moving another
/// tenant's spaces (and deleting its root) would be a disaster, so that is refused.
async fn migrate_from_old_root(
    unique: &UniqueClient,
    spec: &TenantSpec,
    root: &Scope,
    owner: &str,
) -> Result<(), EngineError> {
    let failed = |old_root: &str, reason: String| EngineError::MigrationFailed {
        old_root: old_root.to_owned(),
        reason,
    };
    let old = match unique.scope_by_external_id(owner).await {
        Ok(Some(old)) if old.id != root.id => old,
        Ok(_) => return Ok(()),
        Err(e) => return Err(failed("(lookup)", e.to_string())),
    };
    tracing::info!(old_root = %old.id, new_root = %root.id, "migrating space scopes from the old root scope");
    let children = unique
        .child_scopes(&old.id)
        .await
        .map_err(|e| failed(&old.id, e.to_string()))?;
    if let Some(foreign) = children
        .iter()
        .filter_map(|c| parse_space_external_id(c.external_id.as_deref()))
        .find(|space| space.tenant != spec.name)
    {
        return Err(failed(
            &old.id,
            format!(
                "it holds space {} of tenant {}, not {}: two tenants of one Confluence instance \
                 cannot own separate root scopes",
                foreign.space_key, foreign.tenant, spec.name
            ),
        ));
    }
    if !children.is_empty() {
        let ids: Vec<String> = children.into_iter().map(|c| c.id).collect();
        unique
            .move_scopes(&ids, &root.id)
            .await
            .map_err(|e| failed(&old.id, e.to_string()))?;
    }
    let deleted = unique
        .delete_scope(&old.id, false)
        .await
        .map_err(|e| failed(&old.id, e.to_string()))?;
    if !deleted.failed_folders.is_empty() {
        return Err(failed(
            &old.id,
            "Failed to delete old root scope".to_owned(),
        ));
    }
    Ok(())
}

async fn claim(unique: &UniqueClient, root: &Scope, owner: &str) -> Result<(), EngineError> {
    let claimed = unique
        .set_scope_external_id(&root.id, Some(owner))
        .await
        .map_err(during("claiming the root scope"))?;
    match claimed.external_id.as_deref() {
        Some(found) if found == owner => Ok(()),
        found => Err(EngineError::OwnershipMismatch {
            scope_id: root.id.clone(),
            expected: owner.to_owned(),
            found: found.unwrap_or("(none)").to_owned(),
        }),
    }
}

/// Walks up the parents (granting READ on each, so the names can be read) and joins the names.
async fn root_path(
    unique: &UniqueClient,
    root: &Scope,
    user: &str,
    writes: bool,
) -> Result<String, EngineError> {
    let mut names = vec![root.name.clone()];
    let mut parent = root.parent_id.clone();
    let mut seen = BTreeSet::new();
    while let Some(id) = parent {
        if !seen.insert(id.clone()) {
            break;
        }
        if writes {
            unique
                .grant_scope_access(&id, user, &[AccessType::Read])
                .await
                .map_err(during("granting read access to a parent of the root scope"))?;
        }
        let scope = unique
            .scope_by_id(&id)
            .await
            .map_err(during("reading a parent of the root scope"))?
            .ok_or(EngineError::ParentScopeNotFound { scope_id: id })?;
        names.push(scope.name);
        parent = scope.parent_id;
    }
    names.reverse();
    Ok(format!("/{}", names.join("/")))
}

/// Ensures a scope `<root path>/<spaceKey>` exists for each space and carries the space's
/// external id; returns space key → scope id.
pub(crate) async fn ensure_space_scopes(
    unique: &UniqueClient,
    spec: &TenantSpec,
    root: &RootScope,
    spaces: &[Space],
) -> Result<BTreeMap<String, String>, EngineError> {
    if spaces.is_empty() {
        return Ok(BTreeMap::new());
    }
    let paths: Vec<String> = spaces
        .iter()
        .map(|s| format!("{}/{}", root.path, s.key))
        .collect();
    let scopes = unique
        .create_scopes_for_paths(&paths)
        .await
        .map_err(during("creating space scopes"))?;
    let mut ids = BTreeMap::new();
    for (space, scope) in spaces.iter().zip(scopes) {
        let expected = ScopeExternalId::space(&spec.name, &space.id, &space.key);
        if scope.external_id.as_deref() != Some(expected.as_str()) {
            unique
                .set_scope_external_id(&scope.id, Some(expected.as_str()))
                .await
                .map_err(during("marking a space scope"))?;
        }
        ids.insert(space.key.clone(), scope.id);
    }
    Ok(ids)
}

/// Space key → scope id of this tenant's space scopes under the root.
pub(crate) async fn space_scope_ids(
    unique: &UniqueClient,
    spec: &TenantSpec,
    root: &RootScope,
) -> Result<BTreeMap<String, String>, EngineError> {
    Ok(tenant_space_scopes(unique, spec, root)
        .await?
        .into_iter()
        .map(|(scope_id, space)| (space.space_key, scope_id))
        .collect())
}

/// The children of the root that are space scopes of this tenant: scope id and parsed external
/// id. Children without a parseable space external id, or another tenant's, are left out.
async fn tenant_space_scopes(
    unique: &UniqueClient,
    spec: &TenantSpec,
    root: &RootScope,
) -> Result<Vec<(String, crate::keys::SpaceExternalId)>, EngineError> {
    let children = unique
        .child_scopes(&root.id)
        .await
        .map_err(during("listing the space scopes"))?;
    Ok(children
        .into_iter()
        .filter_map(|child| {
            let parsed = parse_space_external_id(child.external_id.as_deref())?;
            (parsed.tenant == spec.name).then_some((child.id, parsed))
        })
        .collect())
}

/// A space scope under the root whose space is no longer discovered.
#[derive(Debug, Clone)]
pub(crate) struct RemovedSpace {
    pub scope_id: String,
    pub space_key: String,
    pub partial_key: PartialKey,
}

/// The children of the root that are space scopes of this tenant whose space key was not
/// discovered. Children without a parseable space external id, or another tenant's, are never
/// touched. An empty discovery means "something is wrong", not "every space is gone".
pub(crate) async fn removed_spaces(
    unique: &UniqueClient,
    spec: &TenantSpec,
    root: &RootScope,
    discovered_space_keys: &BTreeSet<String>,
) -> Result<Vec<RemovedSpace>, EngineError> {
    if discovered_space_keys.is_empty() {
        return Ok(Vec::new());
    }
    Ok(tenant_space_scopes(unique, spec, root)
        .await?
        .into_iter()
        .filter(|(_, parsed)| !discovered_space_keys.contains(&parsed.space_key))
        .map(|(scope_id, parsed)| RemovedSpace {
            scope_id,
            partial_key: PartialKey::new(
                spec.key_format,
                &spec.name,
                &parsed.space_id,
                &parsed.space_key,
            ),
            space_key: parsed.space_key,
        })
        .collect())
}

/// Deletes a removed space's files, then its scope. Returns the number of files deleted.
pub(crate) async fn remove_space(
    unique: &UniqueClient,
    space: &RemovedSpace,
) -> Result<u64, EngineError> {
    let report = unique
        .delete_content_with_key_prefix(space.partial_key.as_str())
        .await
        .map_err(during("deleting the files of a removed space"))?;
    let result = unique
        .delete_scope(&space.scope_id, false)
        .await
        .map_err(during("deleting the scope of a removed space"))?;
    if let Some(failed) = result.failed_folders.first() {
        tracing::warn!(scope_id = %space.scope_id, reason = ?failed.fail_reason, "removed space's scope could not be deleted");
    }
    Ok(report.deleted as u64)
}

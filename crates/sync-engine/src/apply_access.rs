//! The apply step of permission sync (a sink): makes Unique's groups, scope accesses and file
//! accesses agree with the readers [`crate::access::gather`] computed, touching only what the
//! ledger says this connector granted.
//!
//! Rules, all fail closed (docs/engine.md, "Permission apply"):
//! - readers [`Readers::Unknown`] leave the file's or scope's access exactly as it is;
//! - the service user's access is never removed, and an access the ledger does not list (granted
//!   by someone else) is never removed;
//! - a grant is written to the ledger before it is sent, a removal forgotten after it succeeded,
//!   so a crash leaves at worst a ledger row for an access that is not there (removal tolerates
//!   that), never an access of ours the ledger does not know;
//! - a file's fingerprint (its desired access) is written only after its changes succeeded: a
//!   file whose fingerprint matches is not read back, one without is read back and diffed.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use sha2::{Digest, Sha256};
use unique_client::{AccessType, ContentAccess, Entity, FileAccess, UniqueClient};

use crate::access::{AccessSnapshot, PermissionMode, Readers};
use crate::error::{during, EngineError};
use crate::ledger::{GrantTarget, GrantedAccess, Ledger, MirroredGroup};

/// The Unique name of a mirrored Confluence group.
fn mirrored_group_name(name: &str) -> String {
    format!("[Confluence] {name}")
}

/// What the apply step did, for the run report and the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PermissionReport {
    pub scope_accesses_added: u64,
    pub scope_accesses_removed: u64,
    pub file_accesses_added: u64,
    pub file_accesses_removed: u64,
    pub groups_created: u64,
    pub groups_deleted: u64,
    pub group_members_added: u64,
    pub group_members_removed: u64,
    /// Files whose readers could not be computed: their access was left as it was.
    pub files_unknown: u64,
    /// Files whose current access was read back (desired access changed, or never applied).
    pub files_read_back: u64,
    /// Accounts left out of every grant, by reason (`LeftOut::as_str`, plus `no_unique_user`
    /// for a mapped email without an active Unique user), each account counted once.
    pub left_out: BTreeMap<String, u64>,
    /// Why the step stopped early; the next cycle picks up where it left off.
    pub error: Option<String>,
}

impl PermissionReport {
    /// What the run record says about the cycle's permissions when something was not carried
    /// over: accounts left out (by reason) and files whose readers were unknown.
    pub fn run_record_line(&self) -> Option<String> {
        let mut parts = Vec::new();
        let left_out: u64 = self.left_out.values().sum();
        if left_out > 0 {
            let reasons: Vec<String> = self
                .left_out
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(reason, n)| format!("{n} {reason}"))
                .collect();
            parts.push(format!(
                "{left_out} account(s) left out ({})",
                reasons.join(", ")
            ));
        }
        if self.files_unknown > 0 {
            parts.push(format!(
                "{} file(s) kept their access (readers could not be computed)",
                self.files_unknown
            ));
        }
        (!parts.is_empty()).then(|| format!("permissions: {}", parts.join("; ")))
    }
}

/// The reason word for an email without an active Unique user.
pub const NO_UNIQUE_USER: &str = "no_unique_user";

/// One file the cycle knows: its key and whose readers it takes.
#[derive(Debug, Clone)]
pub(crate) struct FileItem {
    pub key: String,
    pub space_key: String,
    /// The page whose readers apply (an attachment's page).
    pub page_id: String,
}

/// Everything one apply needs.
pub(crate) struct ApplyInput<'a> {
    pub unique: &'a UniqueClient,
    pub ledger: &'a Ledger,
    pub tenant: &'a str,
    pub mode: PermissionMode,
    /// `confc:<flavour>:<instance>`: mirrored groups get `<owner>:group:<id>`.
    pub owner: &'a str,
    pub service_user: &'a str,
    pub snapshot: &'a AccessSnapshot,
    pub files: &'a [FileItem],
    /// Space key → scope id.
    pub space_scopes: &'a BTreeMap<String, String>,
    /// Files written this cycle: their stored access may have changed, whatever the ledger says.
    pub written: &'a HashSet<String>,
    /// Keys whose ledger rows may be forgotten because the file is gone (`None`: discovery was
    /// incomplete, forget nothing).
    pub gone: Option<&'a (dyn Fn(&str) -> bool + Sync)>,
}

/// The desired accesses of one target.
type Desired = BTreeSet<(Entity, AccessType)>;

/// Runs the apply. Counts go into `report` as the work is done, so a failure part-way still
/// reports what was changed.
pub(crate) async fn apply(
    input: &ApplyInput<'_>,
    report: &mut PermissionReport,
) -> Result<(), EngineError> {
    let users: HashMap<String, String> = input
        .unique
        .active_users()
        .await
        .map_err(during("listing the Unique users"))?
        .into_iter()
        .map(|u| (u.email.trim().to_lowercase(), u.id))
        .collect();
    let mut resolver = Resolver::new(input, &users);
    count_left_out(input.snapshot, &mut resolver, report);

    let groups = sync_groups(input, &resolver, report).await?;
    resolver.groups = groups.ids.clone();

    // What the ledger held before this apply, read once: the scope and file steps touch
    // disjoint rows, and a gone file gains no row or fingerprint in this cycle.
    let granted = input.ledger.granted_accesses(input.tenant).await?;
    let applied = input.ledger.access_fingerprints(input.tenant).await?;
    apply_scopes(input, &resolver, &granted, report).await?;
    apply_files(input, &resolver, &granted, &applied, report).await?;
    // A file or space whose readers are unknown may still rely on a group nobody known names:
    // retiring it would change that file's access, which unknown readers must never do.
    let all_known = report.files_unknown == 0
        && input.space_scopes.keys().all(|space| {
            resolver
                .space_readers(space)
                .is_some_and(|r| matches!(r, Readers::Known { .. }))
        });
    if all_known {
        retire_groups(input, &groups.unneeded, report).await?;
    }
    forget_gone_files(input, &granted, &applied).await?;
    Ok(())
}

/// Maps Confluence readers to Unique entities.
struct Resolver<'a> {
    input: &'a ApplyInput<'a>,
    /// Lower-cased email → Unique user id.
    users: &'a HashMap<String, String>,
    /// Confluence group id → Unique group id, for groups with at least one mapped member.
    groups: BTreeMap<String, String>,
}

impl<'a> Resolver<'a> {
    fn new(input: &'a ApplyInput<'a>, users: &'a HashMap<String, String>) -> Self {
        Self {
            input,
            users,
            groups: BTreeMap::new(),
        }
    }

    /// `None` when the readers are unknown.
    fn desired(&self, readers: &Readers) -> Option<Desired> {
        let Readers::Known { groups, emails, .. } = readers else {
            return None;
        };
        let mut out = Desired::new();
        for g in groups {
            if let Some(id) = self.groups.get(g) {
                out.insert((Entity::Group(id.clone()), AccessType::Read));
            }
        }
        for email in emails {
            if let Some(id) = self.users.get(email) {
                if id != self.input.service_user {
                    out.insert((Entity::User(id.clone()), AccessType::Read));
                }
            }
        }
        Some(out)
    }

    /// The Unique user ids of a Confluence group's members that map to a person.
    fn group_members(&self, group: &str) -> BTreeSet<String> {
        let directory = &self.input.snapshot.directory;
        let Some(Ok(members)) = directory.members.get(group) else {
            return BTreeSet::new();
        };
        members
            .iter()
            .filter_map(|account| directory.accounts.get(account))
            .filter(|a| a.active && a.kind == crate::access::AccountKind::Person)
            .filter_map(|a| a.email.as_deref())
            .filter_map(|email| self.users.get(&email.trim().to_lowercase()))
            .cloned()
            .collect()
    }

    fn space_readers(&self, space_key: &str) -> Option<&'a Readers> {
        self.input
            .snapshot
            .spaces
            .get(space_key)
            .map(|s| &s.readers)
    }

    fn file_readers(&self, file: &FileItem) -> Option<&'a Readers> {
        let space = self.input.snapshot.spaces.get(&file.space_key)?;
        match self.input.mode {
            PermissionMode::Page => space.pages.get(&file.page_id),
            PermissionMode::Space => Some(&space.readers),
            PermissionMode::None => None,
        }
    }
}

/// Every account left out of the readers of a space or file in use, once per account; emails
/// without a Unique user counted under [`NO_UNIQUE_USER`].
fn count_left_out(
    snapshot: &AccessSnapshot,
    resolver: &mut Resolver<'_>,
    report: &mut PermissionReport,
) {
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let mut unmatched: BTreeSet<String> = BTreeSet::new();
    let all = snapshot
        .spaces
        .values()
        .flat_map(|s| std::iter::once(&s.readers).chain(s.pages.values()));
    for readers in all {
        if let Readers::Known {
            emails, left_out, ..
        } = readers
        {
            for (account, reason) in left_out {
                seen.entry(account.clone())
                    .or_insert_with(|| reason.as_str().to_owned());
            }
            unmatched.extend(
                emails
                    .iter()
                    .filter(|e| !resolver.users.contains_key(*e))
                    .cloned(),
            );
        }
    }
    for reason in seen.into_values() {
        *report.left_out.entry(reason).or_default() += 1;
    }
    if !unmatched.is_empty() {
        report
            .left_out
            .insert(NO_UNIQUE_USER.to_owned(), unmatched.len() as u64);
    }
}

/// The groups after [`sync_groups`].
struct GroupState {
    /// Confluence group id → Unique group id, for the groups in use.
    ids: BTreeMap<String, String>,
    /// Groups of this connector no longer in use.
    unneeded: Vec<MirroredGroup>,
}

/// Ensures a Unique group, with the right members, for every Confluence group named by the
/// readers of a space or file in use that has at least one mapped member.
async fn sync_groups(
    input: &ApplyInput<'_>,
    resolver: &Resolver<'_>,
    report: &mut PermissionReport,
) -> Result<GroupState, EngineError> {
    let prefix = format!("{}:group:", input.owner);
    let existing: HashMap<String, unique_client::UniqueGroup> = input
        .unique
        .groups_with_external_id_prefix(&prefix)
        .await
        .map_err(during("listing the connector's Unique groups"))?
        .into_iter()
        .filter_map(|g| Some((g.external_id.clone()?, g)))
        .collect();
    let owned: BTreeMap<String, String> = input
        .ledger
        .mirrored_groups(input.tenant)
        .await?
        .into_iter()
        .map(|g| (g.external_id, g.group_id))
        .collect();

    let mut named: BTreeSet<&String> = BTreeSet::new();
    for file in input.files {
        if let Some(Readers::Known { groups, .. }) = resolver.file_readers(file) {
            named.extend(groups);
        }
    }
    for space in input.snapshot.spaces.keys() {
        if !input.space_scopes.contains_key(space) {
            continue;
        }
        if let Some(Readers::Known { groups, .. }) = resolver.space_readers(space) {
            named.extend(groups);
        }
    }

    let mut ids = BTreeMap::new();
    for group in named {
        let members = resolver.group_members(group);
        if members.is_empty() {
            continue;
        }
        let external_id = format!("{prefix}{group}");
        let (group_id, current) = match existing.get(&external_id) {
            Some(found) => {
                if owned.get(&external_id) != Some(&found.id) {
                    // Created by a cycle that stopped before recording it: adopt it.
                    input
                        .ledger
                        .record_mirrored_group(
                            input.tenant,
                            &MirroredGroup {
                                external_id: external_id.clone(),
                                group_id: found.id.clone(),
                            },
                        )
                        .await?;
                }
                (
                    found.id.clone(),
                    found.members.iter().cloned().collect::<BTreeSet<_>>(),
                )
            }
            None => {
                let name = input
                    .snapshot
                    .group_names
                    .get(group)
                    .map_or(group.as_str(), String::as_str);
                let created = input
                    .unique
                    .create_group(&mirrored_group_name(name), &external_id)
                    .await
                    .map_err(during("creating a mirrored group"))?;
                report.groups_created += 1;
                input
                    .ledger
                    .record_mirrored_group(
                        input.tenant,
                        &MirroredGroup {
                            external_id: external_id.clone(),
                            group_id: created.id.clone(),
                        },
                    )
                    .await?;
                (created.id, BTreeSet::new())
            }
        };
        let missing: Vec<String> = members.difference(&current).cloned().collect();
        input
            .unique
            .add_group_members(&group_id, &missing)
            .await
            .map_err(during("adding members to a mirrored group"))?;
        report.group_members_added += missing.len() as u64;
        for extra in current.difference(&members) {
            input
                .unique
                .remove_group_member(&group_id, extra)
                .await
                .map_err(during("removing a member from a mirrored group"))?;
            report.group_members_removed += 1;
        }
        ids.insert(group.clone(), group_id);
    }
    let in_use: HashSet<&String> = ids.values().collect();
    let unneeded = owned
        .into_iter()
        .filter(|(_, id)| !in_use.contains(id))
        .map(|(external_id, group_id)| MirroredGroup {
            external_id,
            group_id,
        })
        .collect();
    Ok(GroupState { ids, unneeded })
}

fn entity_of(grant: &GrantedAccess) -> Option<(Entity, AccessType)> {
    let entity = match grant.entity_kind.as_str() {
        "user" => Entity::User(grant.entity_id.clone()),
        "group" => Entity::Group(grant.entity_id.clone()),
        _ => return None,
    };
    let access = [AccessType::Read, AccessType::Write, AccessType::Manage]
        .into_iter()
        .find(|a| access_word(*a) == grant.access)?;
    Some((entity, access))
}

fn grant_of(
    target: GrantTarget,
    target_key: &str,
    target_id: &str,
    owner_scope_id: &str,
    (entity, access): &(Entity, AccessType),
) -> GrantedAccess {
    let (entity_kind, entity_id) = match entity {
        Entity::User(id) => ("user", id),
        Entity::Group(id) => ("group", id),
    };
    GrantedAccess {
        target,
        target_key: target_key.to_owned(),
        target_id: target_id.to_owned(),
        owner_scope_id: owner_scope_id.to_owned(),
        entity_kind: entity_kind.to_owned(),
        entity_id: entity_id.clone(),
        access: access_word(*access).to_owned(),
    }
}

/// `READ`, `WRITE`, `MANAGE`: the ledger's and the wire's word for an access type.
fn access_word(access: AccessType) -> &'static str {
    match access {
        AccessType::Read => "READ",
        AccessType::Write => "WRITE",
        AccessType::Manage => "MANAGE",
    }
}

fn is_service_user(entity: &Entity, service_user: &str) -> bool {
    matches!(entity, Entity::User(id) if id == service_user)
}

/// Each space scope's READ accesses = the space's mapped readers. Unique cannot be asked for a
/// scope's accesses here, so the ledger stands for what is there: only its rows are removed,
/// and adding an access that is already there is harmless.
async fn apply_scopes(
    input: &ApplyInput<'_>,
    resolver: &Resolver<'_>,
    ledger_grants: &[GrantedAccess],
    report: &mut PermissionReport,
) -> Result<(), EngineError> {
    let mut granted: BTreeMap<String, Vec<GrantedAccess>> = BTreeMap::new();
    for g in ledger_grants {
        if g.target == GrantTarget::Scope {
            granted
                .entry(g.target_key.clone())
                .or_default()
                .push(g.clone());
        }
    }
    for (space_key, scope_id) in input.space_scopes {
        let Some(desired) = resolver
            .space_readers(space_key)
            .and_then(|r| resolver.desired(r))
        else {
            continue;
        };
        let ours: Vec<GrantedAccess> = granted.remove(scope_id).unwrap_or_default();
        let ours_set: BTreeSet<(Entity, AccessType)> = ours.iter().filter_map(entity_of).collect();
        let add: Vec<(Entity, AccessType)> = desired.difference(&ours_set).cloned().collect();
        let remove: Vec<(Entity, AccessType)> = ours_set
            .difference(&desired)
            .filter(|(e, _)| !is_service_user(e, input.service_user))
            .cloned()
            .collect();
        let rows = |list: &[(Entity, AccessType)]| -> Vec<GrantedAccess> {
            list.iter()
                .map(|a| grant_of(GrantTarget::Scope, scope_id, scope_id, scope_id, a))
                .collect()
        };
        if !add.is_empty() {
            input
                .ledger
                .record_grants(input.tenant, &rows(&add))
                .await?;
            input
                .unique
                .add_scope_accesses(scope_id, &add)
                .await
                .map_err(during("granting space scope access"))?;
            report.scope_accesses_added += add.len() as u64;
        }
        if !remove.is_empty() {
            input
                .unique
                .remove_scope_accesses(scope_id, &remove)
                .await
                .map_err(during("removing space scope access"))?;
            input
                .ledger
                .forget_grants(input.tenant, &rows(&remove))
                .await?;
            report.scope_accesses_removed += remove.len() as u64;
        }
    }
    Ok(())
}

/// A stable fingerprint of a desired access set.
fn fingerprint(desired: &Desired) -> String {
    let mut hasher = Sha256::new();
    for (entity, access) in desired {
        let (kind, id) = match entity {
            Entity::User(id) => ("u", id),
            Entity::Group(id) => ("g", id),
        };
        hasher.update(format!("{kind}:{id}:{}\n", access_word(*access)).as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Per file: desired − current added, (current ∩ ours) − desired removed, by owner scope; only
/// files whose desired access changed since it was last applied are read back.
async fn apply_files(
    input: &ApplyInput<'_>,
    resolver: &Resolver<'_>,
    ledger_grants: &[GrantedAccess],
    applied: &HashMap<String, String>,
    report: &mut PermissionReport,
) -> Result<(), EngineError> {
    let mut wanted: BTreeMap<String, (Desired, String)> = BTreeMap::new();
    for file in input.files {
        let desired = resolver
            .file_readers(file)
            .and_then(|r| resolver.desired(r));
        let Some(desired) = desired else {
            report.files_unknown += 1;
            continue;
        };
        let print = fingerprint(&desired);
        if applied.get(&file.key) == Some(&print) && !input.written.contains(&file.key) {
            continue;
        }
        wanted.insert(file.key.clone(), (desired, print));
    }
    if wanted.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = wanted.keys().cloned().collect();
    let current = input
        .unique
        .content_accesses(&keys)
        .await
        .map_err(during("reading back file access"))?;
    report.files_read_back += keys.len() as u64;
    let mut ours: HashMap<String, Vec<GrantedAccess>> = HashMap::new();
    for g in ledger_grants {
        if g.target == GrantTarget::File && wanted.contains_key(&g.target_key) {
            ours.entry(g.target_key.clone())
                .or_default()
                .push(g.clone());
        }
    }
    let mut by_scope: BTreeMap<String, Vec<FileChange>> = BTreeMap::new();
    for content in current {
        let Some((desired, print)) = wanted.get(&content.key) else {
            continue;
        };
        let change = file_change(
            &content,
            desired,
            print,
            ours.remove(&content.key).unwrap_or_default(),
            input.service_user,
        );
        by_scope
            .entry(content.owner_id.clone())
            .or_default()
            .push(change);
    }
    for (scope_id, changes) in by_scope {
        apply_file_changes(input, &scope_id, &changes, report).await?;
    }
    Ok(())
}

/// What one file needs.
struct FileChange {
    key: String,
    fingerprint: String,
    add: Vec<GrantedAccess>,
    remove: Vec<GrantedAccess>,
    /// Ledger rows for accesses no longer on the file (removed by hand, or a grant that never
    /// landed): forgotten without a request.
    stale: Vec<GrantedAccess>,
}

fn file_change(
    content: &ContentAccess,
    desired: &Desired,
    print: &str,
    ours: Vec<GrantedAccess>,
    service_user: &str,
) -> FileChange {
    let current: Desired = content.accesses.iter().cloned().collect();
    let row = |a: &(Entity, AccessType)| {
        grant_of(
            GrantTarget::File,
            &content.key,
            &content.id,
            &content.owner_id,
            a,
        )
    };
    let add = desired.difference(&current).map(row).collect();
    let mut remove = Vec::new();
    let mut stale = Vec::new();
    for grant in ours {
        let Some(access) = entity_of(&grant) else {
            continue;
        };
        if !current.contains(&access) {
            stale.push(grant);
        } else if !desired.contains(&access) && !is_service_user(&access.0, service_user) {
            remove.push(row(&access));
        }
    }
    FileChange {
        key: content.key.clone(),
        fingerprint: print.to_owned(),
        add,
        remove,
        stale,
    }
}

fn file_access(grant: &GrantedAccess) -> Option<FileAccess> {
    let (entity, access) = entity_of(grant)?;
    Some(FileAccess {
        content_id: grant.target_id.clone(),
        entity,
        access,
    })
}

async fn apply_file_changes(
    input: &ApplyInput<'_>,
    scope_id: &str,
    changes: &[FileChange],
    report: &mut PermissionReport,
) -> Result<(), EngineError> {
    let add: Vec<GrantedAccess> = changes.iter().flat_map(|c| c.add.clone()).collect();
    let remove: Vec<GrantedAccess> = changes.iter().flat_map(|c| c.remove.clone()).collect();
    let stale: Vec<GrantedAccess> = changes.iter().flat_map(|c| c.stale.clone()).collect();
    input.ledger.forget_grants(input.tenant, &stale).await?;
    if !add.is_empty() {
        input.ledger.record_grants(input.tenant, &add).await?;
        let accesses: Vec<FileAccess> = add.iter().filter_map(file_access).collect();
        input
            .unique
            .add_file_accesses(scope_id, &accesses)
            .await
            .map_err(during("granting file access"))?;
        report.file_accesses_added += accesses.len() as u64;
    }
    if !remove.is_empty() {
        let accesses: Vec<FileAccess> = remove.iter().filter_map(file_access).collect();
        input
            .unique
            .remove_file_accesses(scope_id, &accesses)
            .await
            .map_err(during("removing file access"))?;
        input.ledger.forget_grants(input.tenant, &remove).await?;
        report.file_accesses_removed += accesses.len() as u64;
    }
    let prints: Vec<(String, Option<String>)> = changes
        .iter()
        .map(|c| (c.key.clone(), Some(c.fingerprint.clone())))
        .collect();
    input
        .ledger
        .set_access_fingerprints(input.tenant, &prints)
        .await?;
    Ok(())
}

/// Removes every access of ours naming a group no longer in use, then deletes the group
/// (Unique leaves a deleted group's accesses behind, and they cannot be removed afterwards).
async fn retire_groups(
    input: &ApplyInput<'_>,
    unneeded: &[MirroredGroup],
    report: &mut PermissionReport,
) -> Result<(), EngineError> {
    if unneeded.is_empty() {
        return Ok(());
    }
    let ids: HashSet<&str> = unneeded.iter().map(|g| g.group_id.as_str()).collect();
    let naming: Vec<GrantedAccess> = input
        .ledger
        .granted_accesses(input.tenant)
        .await?
        .into_iter()
        .filter(|g| g.entity_kind == "group" && ids.contains(g.entity_id.as_str()))
        .collect();
    withdraw_grants(input.unique, input.ledger, input.tenant, naming, report).await?;
    for group in unneeded {
        input
            .unique
            .delete_group(&group.group_id)
            .await
            .map_err(during("deleting a mirrored group"))?;
        input
            .ledger
            .forget_mirrored_group(input.tenant, &group.external_id)
            .await?;
        report.groups_deleted += 1;
    }
    Ok(())
}

/// Removes `grants` from Unique (files: only those still on the file, as read back) and forgets
/// them.
async fn withdraw_grants(
    unique: &UniqueClient,
    ledger: &Ledger,
    tenant: &str,
    grants: Vec<GrantedAccess>,
    report: &mut PermissionReport,
) -> Result<(), EngineError> {
    let (files, scopes): (Vec<GrantedAccess>, Vec<GrantedAccess>) = grants
        .into_iter()
        .partition(|g| g.target == GrantTarget::File);
    let mut per_scope: BTreeMap<String, Vec<GrantedAccess>> = BTreeMap::new();
    for g in scopes {
        per_scope.entry(g.target_id.clone()).or_default().push(g);
    }
    for (scope_id, grants) in per_scope {
        let accesses: Vec<(Entity, AccessType)> = grants.iter().filter_map(entity_of).collect();
        unique
            .remove_scope_accesses(&scope_id, &accesses)
            .await
            .map_err(during("removing space scope access"))?;
        ledger.forget_grants(tenant, &grants).await?;
        report.scope_accesses_removed += accesses.len() as u64;
    }
    if files.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = files
        .iter()
        .map(|g| g.target_key.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let current: HashMap<String, ContentAccess> = unique
        .content_accesses(&keys)
        .await
        .map_err(during("reading back file access"))?
        .into_iter()
        .map(|c| (c.key.clone(), c))
        .collect();
    report.files_read_back += keys.len() as u64;
    let mut per_owner: BTreeMap<String, Vec<GrantedAccess>> = BTreeMap::new();
    let mut gone = Vec::new();
    for g in files {
        let present = current.get(&g.target_key).and_then(|c| {
            let access = entity_of(&g)?;
            c.accesses
                .contains(&access)
                .then(|| (c.owner_id.clone(), c.id.clone()))
        });
        match present {
            Some((owner, id)) => per_owner
                .entry(owner)
                .or_default()
                .push(GrantedAccess { target_id: id, ..g }),
            None => gone.push(g),
        }
    }
    ledger.forget_grants(tenant, &gone).await?;
    for (owner, grants) in per_owner {
        let accesses: Vec<FileAccess> = grants.iter().filter_map(file_access).collect();
        unique
            .remove_file_accesses(&owner, &accesses)
            .await
            .map_err(during("removing file access"))?;
        ledger.forget_grants(tenant, &grants).await?;
        let keys: Vec<(String, Option<String>)> = grants
            .iter()
            .map(|g| (g.target_key.clone(), None))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        // The files' access changed: the next apply must read them back.
        ledger.set_access_fingerprints(tenant, &keys).await?;
        report.file_accesses_removed += accesses.len() as u64;
    }
    Ok(())
}

/// Forgets the ledger rows of files that are gone from Unique (deleted this cycle or earlier).
async fn forget_gone_files(
    input: &ApplyInput<'_>,
    ledger_grants: &[GrantedAccess],
    applied: &HashMap<String, String>,
) -> Result<(), EngineError> {
    let Some(gone) = input.gone else {
        return Ok(());
    };
    let stale: Vec<GrantedAccess> = ledger_grants
        .iter()
        .filter(|g| g.target == GrantTarget::File && gone(&g.target_key))
        .cloned()
        .collect();
    input.ledger.forget_grants(input.tenant, &stale).await?;
    let prints: Vec<(String, Option<String>)> = applied
        .keys()
        .filter(|k| gone(k))
        .map(|k| (k.clone(), None))
        .collect();
    input
        .ledger
        .set_access_fingerprints(input.tenant, &prints)
        .await?;
    Ok(())
}

/// `permissions.mode: none` after `space` or `page`: removes every access the ledger says the
/// connector granted and deletes its groups, nothing else. Sends nothing when the ledger holds
/// nothing (a tenant that never synced permissions).
pub(crate) async fn withdraw_all(
    unique: &UniqueClient,
    ledger: &Ledger,
    tenant: &str,
    report: &mut PermissionReport,
) -> Result<bool, EngineError> {
    let grants = ledger.granted_accesses(tenant).await?;
    let groups = ledger.mirrored_groups(tenant).await?;
    if grants.is_empty() && groups.is_empty() {
        return Ok(false);
    }
    withdraw_grants(unique, ledger, tenant, grants, report).await?;
    for group in groups {
        unique
            .delete_group(&group.group_id)
            .await
            .map_err(during("deleting a mirrored group"))?;
        ledger
            .forget_mirrored_group(tenant, &group.external_id)
            .await?;
        report.groups_deleted += 1;
    }
    ledger.clear_access_fingerprints(tenant).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_record_says_who_was_left_out_and_which_files_kept_their_access() {
        let report = PermissionReport {
            left_out: BTreeMap::from([
                ("no_email".to_owned(), 2),
                ("app".to_owned(), 1),
                ("deactivated".to_owned(), 0),
            ]),
            files_unknown: 4,
            ..Default::default()
        };
        assert_eq!(
            report.run_record_line().as_deref(),
            Some(
                "permissions: 3 account(s) left out (1 app, 2 no_email); 4 file(s) kept their \
                 access (readers could not be computed)"
            )
        );
        assert_eq!(PermissionReport::default().run_record_line(), None);
    }

    fn user(id: &str) -> (Entity, AccessType) {
        (Entity::User(id.into()), AccessType::Read)
    }

    fn content(accesses: &[(Entity, AccessType)]) -> ContentAccess {
        ContentAccess {
            id: "c1".into(),
            key: "k1".into(),
            owner_id: "s1".into(),
            accesses: accesses.to_vec(),
        }
    }

    fn ours(access: &(Entity, AccessType)) -> GrantedAccess {
        grant_of(GrantTarget::File, "k1", "c1", "s1", access)
    }

    #[test]
    fn only_our_accesses_are_removed_and_never_the_service_user() {
        let svc = (Entity::User("svc".into()), AccessType::Manage);
        let current = content(&[user("alice"), user("bob"), user("carol"), svc.clone()]);
        let desired: Desired = [user("alice"), user("dave")].into();
        // bob was granted by us, carol by someone else; the ledger also lists svc and a grant
        // that is no longer on the file.
        let change = file_change(
            &current,
            &desired,
            "fp",
            vec![ours(&user("bob")), ours(&svc), ours(&user("erin"))],
            "svc",
        );
        assert_eq!(change.add, [ours(&user("dave"))]);
        assert_eq!(change.remove, [ours(&user("bob"))]);
        assert_eq!(change.stale, [ours(&user("erin"))]);
    }

    #[test]
    fn the_fingerprint_depends_on_the_set_only() {
        let a: Desired = [user("a"), user("b")].into();
        let b: Desired = [user("b"), user("a")].into();
        let c: Desired = [user("a")].into();
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_ne!(fingerprint(&a), fingerprint(&c));
        assert_eq!(fingerprint(&a).len(), 64);
    }
}

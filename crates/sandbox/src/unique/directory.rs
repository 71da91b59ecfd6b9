//! Users, groups and memberships of the Unique platform, the file-access operations, and who
//! can read each file.
//!
//! Semantics (docs/permissions-api.md has the sources; what could not be confirmed is modelled
//! as the worse case):
//! - A content's `fileAccess` is its own list: copied from the owner scope when the content is
//!   created without `input.fileAccess`, replaced by `input.fileAccess` when given, changed by
//!   `createFileAccessesForContents` / `removeFileAccessesForContents`, and by scope-access
//!   changes only when they do not pass `skipFileAccessPropagation: true`.
//! - `deleteGroup` removes the group and its memberships but leaves every scope and file access
//!   naming it in place (orphaned), as the Unique connectors report the platform doing
//!   (UN-15272 in the SharePoint connector).
//! - Who can read a file: every user named by a READ, WRITE or MANAGE file access, groups
//!   resolved to their members. Scope accesses make the folder visible; they are reported
//!   beside (`via_scope`) but do not make the file readable. The SharePoint connector relies on
//!   exactly that: it gives a top folder the aggregate of its descendants' permissions and each
//!   file its own, which would leak if scope access opened the files.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::state::{AccessType, EntityType, ScopeAccess, Store, StoreError};

#[derive(Debug, Clone)]
pub(crate) struct UserRecord {
    pub id: String,
    pub email: String,
    pub active: bool,
    pub company_id: String,
    pub display_name: String,
    seq: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct GroupRecord {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub created_by: Option<String>,
    pub members: BTreeSet<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    seq: u64,
}

/// The users and groups of the company.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    pub users: BTreeMap<String, UserRecord>,
    pub groups: BTreeMap<String, GroupRecord>,
    seq: u64,
}

/// A user to create (tests, control API, the service user at start).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SeedUser {
    /// Minted when absent.
    pub id: Option<String>,
    pub email: String,
    /// Default true.
    pub active: Option<bool>,
    pub display_name: Option<String>,
}

/// A user as the control API and the in-process accessors return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSnapshot {
    pub id: String,
    pub email: String,
    pub active: bool,
    pub company_id: String,
    pub display_name: String,
}

/// A group as the control API and the in-process accessors return it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupSnapshot {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub created_by: Option<String>,
    pub member_ids: Vec<String>,
}

/// Who can read one file, and through which accesses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileReaders {
    pub key: String,
    pub content_id: String,
    pub scope_id: String,
    /// Every user that can read the file: the users its file accesses name, groups resolved.
    pub readers: BTreeSet<String>,
    /// Users the owner scope's accesses name (folder visibility; not a read of the file).
    pub via_scope: BTreeSet<String>,
    /// The file's `fileAccess` as the API answers it.
    pub file_access: Vec<String>,
    /// Accesses naming a group that no longer exists (left behind by `deleteGroup`).
    pub orphaned: Vec<String>,
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

/// `u:<id>R` / `g:<id>W` / `…M`, the `fileAccess` key of one access.
pub(crate) fn file_access_key(a: &ScopeAccess) -> String {
    let who = match a.entity_type {
        EntityType::User => "u",
        EntityType::Group => "g",
    };
    let what = match a.access_type {
        AccessType::Read => "R",
        AccessType::Write => "W",
        AccessType::Manage => "M",
    };
    format!("{who}:{}{what}", a.entity_id)
}

/// Parses `input.fileAccess` keys (`u:<id>R`, …); any other shape is a bad input.
pub(crate) fn parse_file_access(keys: &[String]) -> Result<BTreeSet<ScopeAccess>, StoreError> {
    keys.iter()
        .map(|key| {
            let bad = || StoreError::Invalid(format!("Invalid file access key {key:?}"));
            let (who, rest) = key.split_once(':').ok_or_else(bad)?;
            let entity_type = match who {
                "u" => EntityType::User,
                "g" => EntityType::Group,
                _ => return Err(bad()),
            };
            let mut chars = rest.chars();
            let access_type = match chars.next_back() {
                Some('R') => AccessType::Read,
                Some('W') => AccessType::Write,
                Some('M') => AccessType::Manage,
                _ => return Err(bad()),
            };
            let entity_id = chars.as_str();
            if entity_id.is_empty() {
                return Err(bad());
            }
            Ok(ScopeAccess {
                entity_id: entity_id.to_owned(),
                entity_type,
                access_type,
            })
        })
        .collect()
}

/// One item of `createFileAccessesForContents` / `removeFileAccessesForContents`.
#[derive(Debug, Clone)]
pub(crate) struct FileAccessChange {
    pub content_id: String,
    pub access: ScopeAccess,
}

impl Directory {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    pub fn add_user(
        &mut self,
        seed: SeedUser,
        company_id: &str,
    ) -> Result<&UserRecord, StoreError> {
        if seed.email.is_empty() {
            return Err(StoreError::Invalid("email is required".into()));
        }
        if self
            .users
            .values()
            .any(|u| u.email.eq_ignore_ascii_case(&seed.email))
        {
            return Err(StoreError::Invalid(format!(
                "A user with email {} already exists",
                seed.email
            )));
        }
        let id = seed.id.unwrap_or_else(|| new_id("user"));
        if self.users.contains_key(&id) {
            return Err(StoreError::Invalid(format!("User {id} already exists")));
        }
        let seq = self.next_seq();
        self.users.insert(
            id.clone(),
            UserRecord {
                id: id.clone(),
                display_name: seed.display_name.unwrap_or_else(|| seed.email.clone()),
                email: seed.email,
                active: seed.active.unwrap_or(true),
                company_id: company_id.to_owned(),
                seq,
            },
        );
        Ok(&self.users[&id])
    }

    pub fn users_ordered(&self) -> Vec<&UserRecord> {
        let mut all: Vec<&UserRecord> = self.users.values().collect();
        all.sort_by_key(|u| u.seq);
        all
    }

    pub fn groups_ordered(&self) -> Vec<&GroupRecord> {
        let mut all: Vec<&GroupRecord> = self.groups.values().collect();
        all.sort_by_key(|g| g.seq);
        all
    }

    fn group_mut(&mut self, id: &str) -> Result<&mut GroupRecord, StoreError> {
        self.groups
            .get_mut(id)
            .ok_or_else(|| StoreError::NotFound(format!("Group {id} not found")))
    }

    /// `createGroup`: the external id is unique among groups (taken → conflict).
    pub fn create_group(
        &mut self,
        name: &str,
        external_id: Option<&str>,
        created_by: Option<&str>,
    ) -> Result<&GroupRecord, StoreError> {
        if name.is_empty() {
            return Err(StoreError::Invalid("Group name must not be empty".into()));
        }
        if let Some(ext) = external_id {
            if self
                .groups
                .values()
                .any(|g| g.external_id.as_deref() == Some(ext))
            {
                return Err(StoreError::Conflict(format!(
                    "A group with external id {ext} already exists"
                )));
            }
        }
        let id = new_id("group");
        let now = Utc::now();
        let seq = self.next_seq();
        self.groups.insert(
            id.clone(),
            GroupRecord {
                id: id.clone(),
                name: name.to_owned(),
                external_id: external_id.map(str::to_owned),
                created_by: created_by.map(str::to_owned),
                members: BTreeSet::new(),
                created_at: now,
                updated_at: now,
                seq,
            },
        );
        Ok(&self.groups[&id])
    }

    pub fn rename_group(&mut self, id: &str, name: &str) -> Result<&GroupRecord, StoreError> {
        if name.is_empty() {
            return Err(StoreError::Invalid("Group name must not be empty".into()));
        }
        let group = self.group_mut(id)?;
        group.name = name.to_owned();
        group.updated_at = Utc::now();
        Ok(group)
    }

    /// `deleteGroup`: the group and its memberships go; accesses naming it stay (orphaned).
    pub fn delete_group(&mut self, id: &str) -> Result<GroupRecord, StoreError> {
        self.groups
            .remove(id)
            .ok_or_else(|| StoreError::NotFound(format!("Group {id} not found")))
    }

    /// `createMemberships`: every user must exist; adding a member twice changes nothing.
    pub fn add_members(&mut self, group_id: &str, user_ids: &[String]) -> Result<(), StoreError> {
        if !self.groups.contains_key(group_id) {
            return Err(StoreError::NotFound(format!("Group {group_id} not found")));
        }
        if let Some(unknown) = user_ids.iter().find(|u| !self.users.contains_key(*u)) {
            return Err(StoreError::NotFound(format!("User {unknown} not found")));
        }
        let group = self.group_mut(group_id)?;
        group.members.extend(user_ids.iter().cloned());
        group.updated_at = Utc::now();
        Ok(())
    }

    /// `deleteMemberships`: removes the user from each group (unknown groups: not found).
    pub fn remove_member(&mut self, group_ids: &[String], user_id: &str) -> Result<(), StoreError> {
        if let Some(unknown) = group_ids.iter().find(|g| !self.groups.contains_key(*g)) {
            return Err(StoreError::NotFound(format!("Group {unknown} not found")));
        }
        let now = Utc::now();
        for id in group_ids {
            let group = self.group_mut(id)?;
            if group.members.remove(user_id) {
                group.updated_at = now;
            }
        }
        Ok(())
    }

    pub fn user_snapshot(u: &UserRecord) -> UserSnapshot {
        UserSnapshot {
            id: u.id.clone(),
            email: u.email.clone(),
            active: u.active,
            company_id: u.company_id.clone(),
            display_name: u.display_name.clone(),
        }
    }

    pub fn group_snapshot(g: &GroupRecord) -> GroupSnapshot {
        GroupSnapshot {
            id: g.id.clone(),
            name: g.name.clone(),
            external_id: g.external_id.clone(),
            created_by: g.created_by.clone(),
            member_ids: g.members.iter().cloned().collect(),
        }
    }

    /// The users an access names: the user itself, or the group's members; `None` for a group
    /// that does not exist.
    fn resolve(&self, a: &ScopeAccess) -> Option<Vec<String>> {
        match a.entity_type {
            EntityType::User => Some(vec![a.entity_id.clone()]),
            EntityType::Group => self
                .groups
                .get(&a.entity_id)
                .map(|g| g.members.iter().cloned().collect()),
        }
    }

    fn entity_exists(&self, a: &ScopeAccess) -> bool {
        match a.entity_type {
            EntityType::User => self.users.contains_key(&a.entity_id),
            EntityType::Group => self.groups.contains_key(&a.entity_id),
        }
    }
}

impl Store {
    /// After a scope-access change without `skipFileAccessPropagation`: the same change on
    /// every file owned by the affected scopes.
    pub fn propagate_to_files(
        &mut self,
        scope_ids: &[String],
        accesses: &[ScopeAccess],
        add: bool,
    ) {
        let scopes: BTreeSet<&String> = scope_ids.iter().collect();
        for content in self.contents.values_mut() {
            if !scopes.contains(&content.owner_id) {
                continue;
            }
            for a in accesses {
                if add {
                    content.accesses.insert(a.clone());
                } else {
                    content.accesses.remove(a);
                }
            }
        }
    }

    /// `deleteScopeAccesses`: removes the accesses from the scope (and its subtree when asked);
    /// returns the scopes it touched.
    pub fn revoke(
        &mut self,
        scope_id: &str,
        accesses: &[ScopeAccess],
        apply_to_sub_scopes: bool,
    ) -> Result<Vec<String>, StoreError> {
        if !self.scopes.contains_key(scope_id) {
            return Err(StoreError::ScopeNotFound(scope_id.to_owned()));
        }
        let targets = if apply_to_sub_scopes {
            self.subtree(scope_id)
        } else {
            vec![scope_id.to_owned()]
        };
        let now = Utc::now();
        for id in &targets {
            if let Some(scope) = self.scopes.get_mut(id) {
                let before = scope.accesses.len();
                for a in accesses {
                    scope.accesses.remove(a);
                }
                if scope.accesses.len() != before {
                    scope.updated_at = now;
                }
            }
        }
        Ok(targets)
    }

    /// The scopes `createScopeAccesses` touched (for propagation).
    pub fn grant_targets(&self, scope_id: &str, apply_to_sub_scopes: bool) -> Vec<String> {
        if apply_to_sub_scopes {
            self.subtree(scope_id)
        } else {
            vec![scope_id.to_owned()]
        }
    }

    /// `createFileAccessesForContents` / `removeFileAccessesForContents`: all or nothing. Each
    /// content must exist and be owned by `scope_id`; added accesses must name an existing
    /// user or group (removals may name a deleted group, to clean up orphans).
    pub fn change_file_accesses(
        &mut self,
        scope_id: &str,
        changes: &[FileAccessChange],
        add: bool,
    ) -> Result<(), StoreError> {
        if !self.scopes.contains_key(scope_id) {
            return Err(StoreError::ScopeNotFound(scope_id.to_owned()));
        }
        for change in changes {
            match self.contents.get(&change.content_id) {
                None => {
                    return Err(StoreError::Invalid(format!(
                        "Content {} not found",
                        change.content_id
                    )))
                }
                Some(c) if c.owner_id != scope_id => {
                    return Err(StoreError::Invalid(format!(
                        "Content {} is not in scope {scope_id}",
                        change.content_id
                    )))
                }
                Some(_) => {}
            }
            if add && !self.directory.entity_exists(&change.access) {
                return Err(StoreError::Invalid(format!(
                    "Unknown {:?} {}",
                    change.access.entity_type, change.access.entity_id
                )));
            }
        }
        for change in changes {
            if let Some(c) = self.contents.get_mut(&change.content_id) {
                if add {
                    c.accesses.insert(change.access.clone());
                } else {
                    c.accesses.remove(&change.access);
                }
            }
        }
        Ok(())
    }

    /// Who can read each file (see the module comment), in creation order.
    pub fn readers(&self) -> Vec<FileReaders> {
        let resolve_all = |accesses: &mut dyn Iterator<Item = &ScopeAccess>,
                           orphaned: &mut Vec<String>| {
            let mut users = BTreeSet::new();
            for a in accesses {
                match self.directory.resolve(a) {
                    Some(list) => users.extend(list),
                    None => orphaned.push(file_access_key(a)),
                }
            }
            users
        };
        self.contents_ordered()
            .into_iter()
            .map(|c| {
                let mut orphaned = Vec::new();
                let readers = resolve_all(&mut c.accesses.iter(), &mut orphaned);
                let scope_accesses = self
                    .scopes
                    .get(&c.owner_id)
                    .map(|s| s.accesses.clone())
                    .unwrap_or_default();
                let via_scope = resolve_all(&mut scope_accesses.iter(), &mut orphaned);
                orphaned.sort();
                orphaned.dedup();
                FileReaders {
                    key: c.key.clone(),
                    content_id: c.id.clone(),
                    scope_id: c.owner_id.clone(),
                    readers,
                    via_scope,
                    file_access: self.file_access(c),
                    orphaned,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_access_keys_round_trip_and_bad_ones_are_refused() {
        let keys = vec![
            "u:user_1R".to_owned(),
            "g:group_2W".to_owned(),
            "u:a:bM".to_owned(),
        ];
        let parsed = parse_file_access(&keys).unwrap();
        let mut back: Vec<String> = parsed.iter().map(file_access_key).collect();
        back.sort();
        let mut expected = keys.clone();
        expected.sort();
        assert_eq!(back, expected);
        for bad in ["x:1R", "u:1", "u:R", "user_1R", ""] {
            assert!(parse_file_access(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn memberships_need_existing_users_and_deleting_a_group_orphans_its_accesses() {
        let mut store = Store::default();
        let alice = store
            .directory
            .add_user(
                SeedUser {
                    email: "alice@example.com".into(),
                    ..SeedUser::default()
                },
                "c",
            )
            .unwrap()
            .id
            .clone();
        let group = store
            .directory
            .create_group("G", Some("ext-1"), Some("test"))
            .unwrap()
            .id
            .clone();
        assert!(store
            .directory
            .create_group("H", Some("ext-1"), None)
            .is_err());
        assert!(store
            .directory
            .add_members(&group, &[alice.clone(), "ghost".into()])
            .is_err());
        assert!(
            store.directory.groups[&group].members.is_empty(),
            "all or nothing"
        );
        store
            .directory
            .add_members(&group, std::slice::from_ref(&alice))
            .unwrap();
        let scope = store
            .create_scope(None, "S", None, None)
            .unwrap()
            .id
            .clone();
        let grant = ScopeAccess {
            entity_id: group.clone(),
            entity_type: EntityType::Group,
            access_type: AccessType::Read,
        };
        store
            .grant(&scope, std::slice::from_ref(&grant), false)
            .unwrap();
        store
            .seed_content(super::super::state::SeedFileRecord {
                id: None,
                key: "k/1".into(),
                scope_id: scope.clone(),
                title: None,
                mime_type: "text/html".into(),
                url: None,
                byte_size: None,
                metadata: None,
                source_kind: None,
                source_name: None,
                updated_at: None,
                bytes: None,
            })
            .unwrap();
        let readers = store.readers();
        assert_eq!(readers[0].readers.iter().collect::<Vec<_>>(), [&alice]);
        assert_eq!(
            readers[0].readers, readers[0].via_scope,
            "inherited at creation"
        );
        store.directory.delete_group(&group).unwrap();
        let readers = store.readers();
        assert!(readers[0].readers.is_empty());
        assert_eq!(readers[0].orphaned, [format!("g:{group}R")]);
    }
}

//! File accesses: the store's operations on a content's `fileAccess` list, and who can read
//! each file.
//!
//! Semantics (docs/permissions-api.md has the sources; what could not be confirmed is modelled
//! as the worse case):
//! - A content's `fileAccess` is its own list: copied from the owner scope when the content is
//!   created without `input.fileAccess`, replaced by `input.fileAccess` when given, changed by
//!   `createFileAccessesForContents` / `removeFileAccessesForContents`, and by scope-access
//!   changes only when they do not pass `skipFileAccessPropagation: true`.
//! - Who can read a file: every user named by a READ, WRITE or MANAGE file access, groups
//!   resolved to their members. Scope accesses make the folder visible; they are reported
//!   beside (`via_scope`) but do not make the file readable. The SharePoint connector relies on
//!   exactly that: it gives a top folder the aggregate of its descendants' permissions and each
//!   file its own, which would leak if scope access opened the files.

use std::collections::BTreeSet;

use serde::Serialize;

use super::access::{file_access_key, ScopeAccess};
use super::error::StoreError;
use super::state::Store;

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

/// One item of `createFileAccessesForContents` / `removeFileAccessesForContents`.
#[derive(Debug, Clone)]
pub(crate) struct FileAccessChange {
    pub content_id: String,
    pub access: ScopeAccess,
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
    use crate::unique::access::{AccessType, EntityType};
    use crate::unique::directory::SeedUser;
    use crate::unique::state::SeedFileRecord;

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
            .seed_content(SeedFileRecord {
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

//! Users, groups and memberships of the Unique platform.
//!
//! Semantics (docs/permissions-api.md has the sources; what could not be confirmed is modelled
//! as the worse case): `deleteGroup` removes the group and its memberships but leaves every
//! scope and file access naming it in place (orphaned), as the Unique connectors report the
//! platform doing (UN-15272 in the SharePoint connector).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::access::{EntityType, ScopeAccess};
use super::error::StoreError;

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

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
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
    pub fn resolve(&self, a: &ScopeAccess) -> Option<Vec<String>> {
        match a.entity_type {
            EntityType::User => Some(vec![a.entity_id.clone()]),
            EntityType::Group => self
                .groups
                .get(&a.entity_id)
                .map(|g| g.members.iter().cloned().collect()),
        }
    }

    pub fn entity_exists(&self, a: &ScopeAccess) -> bool {
        match a.entity_type {
            EntityType::User => self.users.contains_key(&a.entity_id),
            EntityType::Group => self.groups.contains_key(&a.entity_id),
        }
    }
}

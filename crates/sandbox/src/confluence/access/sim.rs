//! The in-process mutations of the permission model. None of them touches a page's version or
//! `when`: Confluence changes neither when restrictions, space permissions or group membership
//! change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{
    page_readers, AccessModel, AccountStatus, Group, PageReaders, PermissionsConfig, Restriction,
    RestrictionOperation, SpacePermission, User,
};
use crate::confluence::model::{Dataset, DatasetError};
use crate::confluence::sim::{ConfluenceSim, MutationError, Store};

/// Changes to a user (deactivation, hiding the email, a new address).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UserUpdate {
    pub display_name: Option<String>,
    /// `Some(None)` removes the address.
    pub email: Option<Option<String>>,
    pub email_visible: Option<bool>,
    pub status: Option<AccountStatus>,
}

fn invalid(message: String) -> MutationError {
    MutationError::Invalid(DatasetError::Invalid(message))
}

fn group_mut<'a>(access: &'a mut AccessModel, name: &str) -> Result<&'a mut Group, MutationError> {
    access
        .groups
        .iter_mut()
        .find(|g| g.name == name)
        .ok_or_else(|| invalid(format!("no group {name}")))
}

impl ConfluenceSim {
    /// The permission endpoints' modes now in force.
    pub fn permissions_config(&self) -> PermissionsConfig {
        self.inner
            .permissions
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Switches the permission endpoints' modes (takes effect on the next request).
    pub fn set_permissions_config(&self, config: PermissionsConfig) {
        *self
            .inner
            .permissions
            .write()
            .unwrap_or_else(|p| p.into_inner()) = config;
    }

    /// A copy of the permission model.
    pub fn access(&self) -> AccessModel {
        self.read().access.clone()
    }

    /// Replaces the permission model (validated against the current dataset).
    pub fn replace_access(&self, access: AccessModel) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            *a = access;
            Ok(())
        })
    }

    /// Replaces the dataset and the permission model together.
    pub fn replace_dataset_and_access(
        &self,
        dataset: Dataset,
        access: AccessModel,
    ) -> Result<(), MutationError> {
        dataset.validate()?;
        access.validate(&dataset)?;
        *self.write() = Store::with_access(dataset, access);
        Ok(())
    }

    /// Who can read each piece of content now (the ground truth; see [`page_readers`]).
    pub fn readers(&self) -> BTreeMap<String, PageReaders> {
        let store = self.read();
        page_readers(&store.dataset, &store.access)
    }

    /// Adds a user.
    pub fn add_user(&self, user: User) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            a.users.push(user);
            Ok(())
        })
    }

    /// Deactivates, renames, hides or changes the email of a user.
    pub fn update_user(&self, account_id: &str, update: UserUpdate) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            let user = a
                .users
                .iter_mut()
                .find(|u| u.account_id == account_id)
                .ok_or_else(|| invalid(format!("no user {account_id}")))?;
            if let Some(name) = update.display_name {
                user.display_name = name;
            }
            if let Some(email) = update.email {
                user.email = email;
            }
            if let Some(visible) = update.email_visible {
                user.email_visible = visible;
            }
            if let Some(status) = update.status {
                user.status = status;
            }
            Ok(())
        })
    }

    /// Adds a group.
    pub fn add_group(&self, group: Group) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            a.groups.push(group);
            Ok(())
        })
    }

    /// Deletes a group, and with it every space permission and restriction entry naming it.
    pub fn remove_group(&self, name: &str) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            let before = a.groups.len();
            a.groups.retain(|g| g.name != name);
            if a.groups.len() == before {
                return Err(invalid(format!("no group {name}")));
            }
            a.space_permissions
                .retain(|p| p.group.as_deref() != Some(name));
            for r in &mut a.restrictions {
                r.groups.retain(|g| g != name);
            }
            Ok(())
        })
    }

    /// Adds a member to a group (no effect when already a member).
    pub fn add_group_member(&self, group: &str, account_id: &str) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            let g = group_mut(a, group)?;
            if !g.members.iter().any(|m| m == account_id) {
                g.members.push(account_id.to_owned());
            }
            Ok(())
        })
    }

    /// Removes a member from a group.
    pub fn remove_group_member(&self, group: &str, account_id: &str) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            let g = group_mut(a, group)?;
            let before = g.members.len();
            g.members.retain(|m| m != account_id);
            if g.members.len() == before {
                return Err(invalid(format!("{account_id} is not a member of {group}")));
            }
            Ok(())
        })
    }

    /// Replaces every permission of one space.
    pub fn set_space_permissions(
        &self,
        space: &str,
        permissions: Vec<SpacePermission>,
    ) -> Result<(), MutationError> {
        self.mutate_access(|a, d| {
            if d.space_by_key(space).is_none() {
                return Err(MutationError::UnknownSpace(space.into()));
            }
            if let Some(other) = permissions.iter().find(|p| p.space != space) {
                return Err(invalid(format!(
                    "a permission of {space} names space {}",
                    other.space
                )));
            }
            a.space_permissions.retain(|p| p.space != space);
            a.space_permissions.extend(permissions);
            Ok(())
        })
    }

    /// Adds one space permission.
    pub fn grant_space_permission(&self, permission: SpacePermission) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            if !a.space_permissions.contains(&permission) {
                a.space_permissions.push(permission);
            }
            Ok(())
        })
    }

    /// Removes one space permission (equal in every field).
    pub fn revoke_space_permission(
        &self,
        permission: &SpacePermission,
    ) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            let before = a.space_permissions.len();
            a.space_permissions.retain(|p| p != permission);
            if a.space_permissions.len() == before {
                return Err(invalid(format!(
                    "no such permission on {}",
                    permission.space
                )));
            }
            Ok(())
        })
    }

    /// Sets the restriction of `operation` on a content to exactly these users and groups
    /// (both empty: no restriction).
    pub fn set_restriction(
        &self,
        content: &str,
        operation: RestrictionOperation,
        users: Vec<String>,
        groups: Vec<String>,
    ) -> Result<(), MutationError> {
        self.mutate_access(|a, d| {
            if d.content_by_id(content).is_none() {
                return Err(MutationError::UnknownContent(content.into()));
            }
            a.restrictions
                .retain(|r| !(r.content == content && r.operation == operation));
            if !(users.is_empty() && groups.is_empty()) {
                a.restrictions.push(Restriction {
                    content: content.into(),
                    operation,
                    users,
                    groups,
                });
            }
            Ok(())
        })
    }

    /// Removes every restriction (view and edit) from a content.
    pub fn clear_restrictions(&self, content: &str) -> Result<(), MutationError> {
        self.mutate_access(|a, d| {
            if d.content_by_id(content).is_none() {
                return Err(MutationError::UnknownContent(content.into()));
            }
            a.restrictions.retain(|r| r.content != content);
            Ok(())
        })
    }

    /// Sets (or with `None` clears) the account the connector's client authenticates as.
    pub fn set_client_account(&self, account_id: Option<&str>) -> Result<(), MutationError> {
        self.mutate_access(|a, _| {
            a.client_account = account_id.map(str::to_owned);
            Ok(())
        })
    }

    /// Applies a change to a copy of the model, validates it against the dataset, and keeps it
    /// only when valid: an invalid mutation changes nothing.
    fn mutate_access<T>(
        &self,
        change: impl FnOnce(&mut AccessModel, &Dataset) -> Result<T, MutationError>,
    ) -> Result<T, MutationError> {
        let mut store = self.write();
        let mut candidate = store.access.clone();
        let out = change(&mut candidate, &store.dataset)?;
        candidate.validate(&store.dataset)?;
        store.access = candidate;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::confluence::sim::ConfluenceConfig;

    fn sim() -> ConfluenceSim {
        let sim = ConfluenceSim::new(ConfluenceConfig::default()).unwrap();
        sim.add_user(User::person("ann", "Ann", "ann@example.com"))
            .unwrap();
        sim.add_user(User::person("bob", "Bob", "bob@example.com"))
            .unwrap();
        sim.add_group(Group {
            name: "eng".into(),
            id: String::new(),
            members: vec!["ann".into()],
            all_users: false,
        })
        .unwrap();
        sim.grant_space_permission(SpacePermission::group_reads("ENG", "eng"))
            .unwrap();
        sim
    }

    #[test]
    fn permission_changes_leave_versions_and_timestamps_alone() {
        let sim = sim();
        let before = sim.content("2003").unwrap();
        sim.set_restriction(
            "2002",
            RestrictionOperation::Read,
            vec!["ann".into()],
            vec![],
        )
        .unwrap();
        sim.add_group_member("eng", "bob").unwrap();
        sim.remove_group_member("eng", "bob").unwrap();
        sim.set_space_permissions("ENG", vec![SpacePermission::user_reads("ENG", "bob")])
            .unwrap();
        sim.clear_restrictions("2002").unwrap();
        let after = sim.content("2003").unwrap();
        assert_eq!((before.version, before.when), (after.version, after.when));
    }

    #[test]
    fn an_invalid_mutation_changes_nothing() {
        let sim = sim();
        let before = sim.access();
        assert!(sim.add_group_member("eng", "ghost").is_err());
        assert!(sim
            .set_restriction(
                "2002",
                RestrictionOperation::Read,
                vec![],
                vec!["nope".into()]
            )
            .is_err());
        assert!(matches!(
            sim.set_restriction("404", RestrictionOperation::Read, vec![], vec![]),
            Err(MutationError::UnknownContent(_))
        ));
        assert_eq!(sim.access(), before);
    }

    #[test]
    fn deleting_a_page_drops_its_restrictions_and_the_readers_follow() {
        let sim = sim();
        sim.set_restriction(
            "2002",
            RestrictionOperation::Read,
            vec!["bob".into()],
            vec![],
        )
        .unwrap();
        assert!(
            sim.readers()["2003"].users.is_empty(),
            "bob cannot view ENG"
        );
        sim.delete_content("2002").unwrap();
        assert!(sim.access().restrictions.is_empty());
        let readers = sim.readers();
        assert_eq!(
            readers["2003"].users.iter().collect::<Vec<_>>(),
            ["ann"],
            "2003 moved up under 2001 and lost the inherited restriction"
        );
    }

    #[test]
    fn replacing_the_dataset_starts_the_permission_model_over() {
        let sim = sim();
        sim.replace_dataset(Dataset::builtin()).unwrap();
        assert!(sim.access().is_empty());
    }
}

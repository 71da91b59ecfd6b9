//! The permission half of the generator: users, groups and memberships, space permissions and
//! page restrictions (some nested), deterministic per seed. With `users: 0` (the default) it
//! generates nothing, so every generated dataset is what it was before permissions existed.

use std::collections::{BTreeSet, HashMap};

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::{
    AccessModel, AccountStatus, AccountType, Group, Restriction, RestrictionOperation,
    SpacePermission, User,
};
use crate::confluence::model::{ContentType, Dataset};

/// What permission model to generate (the `access` field of `GenerateSpec`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessSpec {
    /// People (accountType `atlassian`); 0 generates no permission model at all.
    pub users: usize,
    /// Groups besides the all-users group.
    pub groups: usize,
    /// Groups each person belongs to (at random).
    pub groups_per_user: usize,
    /// Bots (accountType `app`, no email).
    pub app_users: usize,
    /// Share of people whose email is hidden by their profile visibility.
    pub email_hidden_ratio: f64,
    /// Share of people who are deactivated.
    pub deactivated_ratio: f64,
    /// Name of the group every person is in (Data Center's default group); empty: none.
    pub all_users_group: String,
    /// Share of spaces the all-users group can view; the others are viewable by
    /// `groups_per_space` groups.
    pub open_space_ratio: f64,
    pub groups_per_space: usize,
    /// People granted `read/space` directly, per space.
    pub users_per_space: usize,
    /// Spaces (the first ones) that anonymous users can view.
    pub anonymous_spaces: usize,
    /// Share of pages with a view restriction.
    pub restricted_ratio: f64,
    /// Share of the restricted pages placed below another restricted page.
    pub nested_ratio: f64,
    /// Share of pages with only an edit restriction (which does not restrict reading).
    pub edit_restricted_ratio: f64,
}

impl Default for AccessSpec {
    fn default() -> Self {
        Self {
            users: 0,
            groups: 10,
            groups_per_user: 3,
            app_users: 2,
            email_hidden_ratio: 0.05,
            deactivated_ratio: 0.02,
            all_users_group: "confluence-users".into(),
            open_space_ratio: 0.5,
            groups_per_space: 3,
            users_per_space: 2,
            anonymous_spaces: 0,
            restricted_ratio: 0.05,
            nested_ratio: 0.2,
            edit_restricted_ratio: 0.01,
        }
    }
}

/// `712020:<uuid>`, the shape of Cloud account ids of people.
fn account_id(n: usize) -> String {
    format!("712020:5b10ac8d-82e0-4b22-8c7d-{n:012x}")
}

impl AccessSpec {
    /// The permission model for `dataset`, from its own RNG stream (the content half is
    /// unaffected by it).
    pub fn generate(&self, seed: u64, dataset: &Dataset) -> AccessModel {
        if self.users == 0 {
            return AccessModel::default();
        }
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed_acce_55ed_0001);
        let mut access = AccessModel::default();
        // Exact counts (at least one when the ratio is not zero), so small datasets still hold
        // every case.
        let count = |ratio: f64| match (ratio * self.users as f64).round() as usize {
            0 if ratio > 0.0 => 1,
            n => n.min(self.users),
        };
        let mut order: Vec<usize> = (0..self.users).collect();
        order.shuffle(&mut rng);
        let deactivated: BTreeSet<usize> = order
            .iter()
            .take(count(self.deactivated_ratio))
            .copied()
            .collect();
        order.shuffle(&mut rng);
        let hidden: BTreeSet<usize> = order
            .iter()
            .take(count(self.email_hidden_ratio))
            .copied()
            .collect();
        for n in 0..self.users {
            let deactivated = deactivated.contains(&n);
            access.users.push(User {
                account_id: account_id(n),
                username: format!("user{n:05}"),
                display_name: format!("Generated User {n}"),
                email: Some(format!("user{n:05}@example.com")),
                email_visible: !hidden.contains(&n),
                account_type: AccountType::Atlassian,
                status: if deactivated {
                    AccountStatus::Inactive
                } else {
                    AccountStatus::Active
                },
            });
        }
        for n in 0..self.app_users {
            access.users.push(User {
                account_id: format!("557058:a9b1c0de-0000-4000-8000-{n:012x}"),
                username: format!("app{n:03}"),
                display_name: format!("Generated App {n}"),
                email: None,
                email_visible: true,
                account_type: AccountType::App,
                status: AccountStatus::Active,
            });
        }
        let mut groups: Vec<Group> = (0..self.groups)
            .map(|n| Group {
                name: format!("group-{n:03}"),
                id: String::new(),
                members: Vec::new(),
                all_users: false,
            })
            .collect();
        if !groups.is_empty() {
            for n in 0..self.users {
                let mut picks: Vec<usize> = (0..groups.len()).collect();
                picks.shuffle(&mut rng);
                for g in picks.into_iter().take(self.groups_per_user) {
                    groups[g].members.push(account_id(n));
                }
            }
        }
        let group_names: Vec<String> = groups.iter().map(|g| g.name.clone()).collect();
        access.groups = groups;
        if !self.all_users_group.is_empty() {
            access.groups.push(Group {
                name: self.all_users_group.clone(),
                id: String::new(),
                members: Vec::new(),
                all_users: true,
            });
        }

        // Space permissions; the groups each space grants are also what its restrictions name,
        // so restricted pages stay readable by someone.
        let mut space_groups: HashMap<&str, Vec<String>> = HashMap::new();
        for (i, space) in dataset.spaces.iter().enumerate() {
            let key = space.key.as_str();
            let open = !self.all_users_group.is_empty()
                && (rng.random::<f64>() < self.open_space_ratio || group_names.is_empty());
            let mut granted: Vec<String> = group_names
                .choose_multiple(&mut rng, self.groups_per_space.min(group_names.len()))
                .cloned()
                .collect();
            if open {
                access
                    .space_permissions
                    .push(SpacePermission::group_reads(key, &self.all_users_group));
            }
            for g in &granted {
                access.space_permissions.push(SpacePermission {
                    // Editors too: a client must pick `read/space` out of the assignments.
                    operations: vec![
                        super::READ_SPACE.to_owned(),
                        "create/page".to_owned(),
                        "delete/page".to_owned(),
                    ],
                    ..SpacePermission::group_reads(key, g)
                });
            }
            for _ in 0..self.users_per_space {
                let n = rng.random_range(0..self.users);
                let grant = SpacePermission::user_reads(key, &account_id(n));
                if !access.space_permissions.contains(&grant) {
                    access.space_permissions.push(grant);
                }
            }
            if i < self.anonymous_spaces {
                access
                    .space_permissions
                    .push(SpacePermission::anonymous_reads(key));
            }
            if granted.is_empty() {
                granted = group_names.clone();
            }
            space_groups.insert(key, granted);
        }

        // View restrictions: primaries first, then nested ones below them.
        let pages: Vec<&crate::confluence::model::Content> = dataset
            .content
            .iter()
            .filter(|c| c.content_type == ContentType::Page)
            .collect();
        let wanted = (pages.len() as f64 * self.restricted_ratio).round() as usize;
        let nested = (wanted as f64 * self.nested_ratio).round() as usize;
        let mut order: Vec<usize> = (0..pages.len()).collect();
        order.shuffle(&mut rng);
        let primaries: BTreeSet<&str> = order
            .iter()
            .take(wanted.saturating_sub(nested))
            .map(|i| pages[*i].id.as_str())
            .collect();
        let mut restrictions: Vec<Restriction> = Vec::new();
        for id in &primaries {
            let Some(page) = pages.iter().find(|p| p.id == *id) else {
                continue;
            };
            let candidates = space_groups
                .get(page.space.as_str())
                .cloned()
                .unwrap_or_default();
            let count = rng.random_range(1..=2).min(candidates.len());
            let chosen: Vec<String> = candidates
                .choose_multiple(&mut rng, count)
                .cloned()
                .collect();
            let users = (0..rng.random_range(0..=2))
                .map(|_| account_id(rng.random_range(0..self.users)))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            restrictions.push(Restriction {
                content: (*id).to_owned(),
                operation: RestrictionOperation::Read,
                users,
                groups: chosen,
            });
        }
        let parents: HashMap<&str, Option<&str>> = dataset
            .content
            .iter()
            .map(|c| (c.id.as_str(), c.parent.as_deref()))
            .collect();
        let restricted_ancestor = |id: &str| -> Option<String> {
            let mut node = parents.get(id).copied().flatten();
            let mut guard = 0;
            while let Some(p) = node {
                if primaries.contains(p) {
                    return Some(p.to_owned());
                }
                node = parents.get(p).copied().flatten();
                guard += 1;
                if guard > 10_000 {
                    break;
                }
            }
            None
        };
        let below: Vec<(&str, String)> = pages
            .iter()
            .filter(|p| !primaries.contains(p.id.as_str()))
            .filter_map(|p| restricted_ancestor(&p.id).map(|a| (p.id.as_str(), a)))
            .collect();
        let mut below_order: Vec<usize> = (0..below.len()).collect();
        below_order.shuffle(&mut rng);
        for i in below_order.into_iter().take(nested) {
            let (id, ancestor) = &below[i];
            let inherited = restrictions
                .iter()
                .find(|r| &r.content == ancestor)
                .map(|r| r.groups.clone())
                .unwrap_or_default();
            // One of the ancestor's groups plus another of the space's: the intersection of
            // the two is a strict subset of either, which is what "intersection, not nearest"
            // tests need, and restrictions keep to the groups a space works with.
            let space_of_page = pages
                .iter()
                .find(|p| p.id == *id)
                .map(|p| p.space.as_str())
                .unwrap_or_default();
            let pool = space_groups
                .get(space_of_page)
                .filter(|g| !g.is_empty())
                .unwrap_or(&group_names);
            let mut groups: Vec<String> = inherited.into_iter().take(1).collect();
            if let Some(extra) = pool.choose(&mut rng) {
                if !groups.contains(extra) {
                    groups.push(extra.clone());
                }
            }
            restrictions.push(Restriction {
                content: (*id).to_owned(),
                operation: RestrictionOperation::Read,
                users: vec![account_id(rng.random_range(0..self.users))],
                groups,
            });
        }
        let edit_only = (pages.len() as f64 * self.edit_restricted_ratio).round() as usize;
        for page in pages.iter().rev().take(edit_only) {
            restrictions.push(Restriction {
                content: page.id.clone(),
                operation: RestrictionOperation::Update,
                users: vec![account_id(rng.random_range(0..self.users))],
                groups: Vec::new(),
            });
        }
        restrictions.sort_by(|a, b| {
            (a.content.parse::<u64>().unwrap_or(0), a.operation)
                .cmp(&(b.content.parse::<u64>().unwrap_or(0), b.operation))
        });
        access.restrictions = restrictions;
        access
    }
}

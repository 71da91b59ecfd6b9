//! Who may read what in the simulated Confluence: users, groups and their members, space
//! permissions, page restrictions, and the identity the connector's client authenticates as.
//!
//! The model sits beside the [`Dataset`] (same YAML file, its own top-level keys) so that a
//! dataset without it is byte-for-byte what it was before permissions existed. Nothing here
//! bumps a page's version or `when`: in Confluence, changing restrictions, space permissions or
//! group membership leaves `lastmodified` alone, which is exactly what makes such changes easy
//! to miss.
//!
//! - [`readers`]: the ground truth, a pure function of dataset and model (who can read each
//!   piece of content).
//! - `api`: the REST read endpoints of both flavours, and the client-identity filter that makes
//!   restricted content answer as it does for a real account that lacks access.
//! - `generate`: the generator's permission half ([`AccessSpec`]).
//! - `control`: the control routes.

pub(crate) mod api;
pub(crate) mod control;
mod generate;
pub(crate) mod json;
mod readers;
mod sim;

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::model::{ContentType, Dataset, DatasetError};

pub use generate::AccessSpec;
pub use readers::{page_readers, PageReaders};
pub use sim::UserUpdate;

/// Cloud `accountType`. Data Center has no such field; every DC user is a person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountType {
    #[default]
    Atlassian,
    /// A bot created on behalf of an app: no email, never a person.
    App,
    /// A Jira Service Management customer account.
    Customer,
}

impl AccountType {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountType::Atlassian => "atlassian",
            AccountType::App => "app",
            AccountType::Customer => "customer",
        }
    }
}

/// Cloud `accountStatus` (v2). Only `active` accounts can read anything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    #[default]
    Active,
    /// Deactivated: still listed as a group member and in restrictions, cannot log in.
    Inactive,
    /// Deleted account ("Former user").
    Closed,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Inactive => "inactive",
            AccountStatus::Closed => "closed",
        }
    }
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

fn is_true(value: &bool) -> bool {
    *value
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn yes() -> bool {
    true
}

/// A Confluence user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// Cloud `accountId`; Data Center answers it as `userKey`.
    pub account_id: String,
    /// Data Center `username`; empty = the account id.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    pub display_name: String,
    /// `None`: the account has no email at all (app users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Cloud profile visibility: `false` answers `email: ""` (the user hid it). Data Center
    /// uses the site-wide setting `PermissionsConfig::dc_email_visibility` instead.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub email_visible: bool,
    #[serde(default, skip_serializing_if = "is_default")]
    pub account_type: AccountType,
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: AccountStatus,
}

impl User {
    /// A person with a visible email (the common case in tests).
    pub fn person(account_id: &str, display_name: &str, email: &str) -> Self {
        Self {
            account_id: account_id.into(),
            username: String::new(),
            display_name: display_name.into(),
            email: Some(email.into()),
            email_visible: true,
            account_type: AccountType::Atlassian,
            status: AccountStatus::Active,
        }
    }

    /// The Data Center `username`.
    pub fn dc_username(&self) -> &str {
        if self.username.is_empty() {
            &self.account_id
        } else {
            &self.username
        }
    }
}

/// A group. Confluence Cloud identifies groups by id (names can change), Data Center by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub name: String,
    /// Cloud group id; empty = derived from the name (stable).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Account ids of the direct members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
    /// Every person is a member (Data Center's `confluence-users`, Cloud's product-access
    /// groups): members are all `atlassian` accounts, whatever `members` says.
    #[serde(default, skip_serializing_if = "is_false")]
    pub all_users: bool,
}

impl Group {
    /// The Cloud group id, derived from the name when the dataset does not give one.
    pub fn cloud_id(&self) -> String {
        if !self.id.is_empty() {
            return self.id.clone();
        }
        let (a, b) = (fnv(self.name.as_bytes(), 0), fnv(self.name.as_bytes(), 1));
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }
}

fn fnv(bytes: &[u8], salt: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt;
    for b in bytes {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// One space permission grant. Exactly one of `user`, `group`, `anonymous`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SpacePermission {
    /// Space key.
    pub space: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Group name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Anonymous (not logged-in) access.
    #[serde(default, skip_serializing_if = "is_false")]
    pub anonymous: bool,
    /// `key/targetType` pairs as the APIs name them; only `read/space` ("View space") grants
    /// reading. Default `[read/space]`.
    #[serde(default = "read_space", skip_serializing_if = "is_read_space")]
    pub operations: Vec<String>,
}

/// The operation that means "can view the space".
pub const READ_SPACE: &str = "read/space";

fn read_space() -> Vec<String> {
    vec![READ_SPACE.to_owned()]
}

fn is_read_space(ops: &[String]) -> bool {
    ops.len() == 1 && ops[0] == READ_SPACE
}

/// Operation keys and target types the v2 space-permission assignment names
/// (`SpacePermissionAssignment` in the v2 OpenAPI description).
const OPERATION_KEYS: [&str; 15] = [
    "use",
    "create",
    "read",
    "update",
    "delete",
    "copy",
    "move",
    "export",
    "purge",
    "purge_version",
    "administer",
    "restore",
    "create_space",
    "restrict_content",
    "archive",
];
const TARGET_TYPES: [&str; 11] = [
    "page",
    "blogpost",
    "comment",
    "attachment",
    "whiteboard",
    "database",
    "embed",
    "folder",
    "space",
    "application",
    "userProfile",
];

/// Who a space permission names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal<'a> {
    User(&'a str),
    Group(&'a str),
    Anonymous,
}

impl SpacePermission {
    /// A `read/space` grant to a group.
    pub fn group_reads(space: &str, group: &str) -> Self {
        Self {
            space: space.into(),
            user: None,
            group: Some(group.into()),
            anonymous: false,
            operations: read_space(),
        }
    }

    /// A `read/space` grant to a user.
    pub fn user_reads(space: &str, account_id: &str) -> Self {
        Self {
            user: Some(account_id.into()),
            group: None,
            ..Self::group_reads(space, "")
        }
    }

    /// Anonymous `read/space`.
    pub fn anonymous_reads(space: &str) -> Self {
        Self {
            group: None,
            anonymous: true,
            ..Self::group_reads(space, "")
        }
    }

    pub fn principal(&self) -> Option<Principal<'_>> {
        match (&self.user, &self.group, self.anonymous) {
            (Some(u), None, false) => Some(Principal::User(u)),
            (None, Some(g), false) => Some(Principal::Group(g)),
            (None, None, true) => Some(Principal::Anonymous),
            _ => None,
        }
    }

    pub fn grants_read(&self) -> bool {
        self.operations.iter().any(|o| o == READ_SPACE)
    }
}

/// The two operations a page restriction can restrict.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RestrictionOperation {
    /// View: inherited by every descendant; restricts reading.
    #[default]
    Read,
    /// Edit: not inherited, does not restrict reading.
    Update,
}

impl RestrictionOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            RestrictionOperation::Read => "read",
            RestrictionOperation::Update => "update",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(RestrictionOperation::Read),
            "update" => Some(RestrictionOperation::Update),
            _ => None,
        }
    }
}

/// A restriction on one piece of content: only these users and members of these groups may
/// perform the operation. An entry naming nobody is no restriction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Restriction {
    /// Content id.
    pub content: String,
    #[serde(default, skip_serializing_if = "is_default")]
    pub operation: RestrictionOperation,
    /// Account ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Group names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
}

impl Restriction {
    /// A view restriction.
    pub fn read(content: &str, users: &[&str], groups: &[&str]) -> Self {
        Self {
            content: content.into(),
            operation: RestrictionOperation::Read,
            users: users.iter().map(|u| (*u).to_owned()).collect(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }
}

/// The whole permission model of one Confluence instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct AccessModel {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<User>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<Group>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub space_permissions: Vec<SpacePermission>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restrictions: Vec<Restriction>,
    /// The account the connector's client authenticates as (every credential of both
    /// flavours). `None`: the client sees everything, as before permissions existed. Set, it
    /// sees what that user can read, and restricted content answers as for a real account
    /// without access.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_account: Option<String>,
}

impl AccessModel {
    pub fn is_empty(&self) -> bool {
        *self == AccessModel::default()
    }

    pub fn user(&self, account_id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.account_id == account_id)
    }

    pub fn group(&self, name: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.name == name)
    }

    pub fn group_by_cloud_id(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.cloud_id() == id)
    }

    /// Members of a group as the APIs list them (deactivated members included, as Confluence
    /// lists them), in account-id order.
    pub fn members(&self, group: &Group) -> Vec<&User> {
        let mut out: Vec<&User> = if group.all_users {
            self.users
                .iter()
                .filter(|u| u.account_type == AccountType::Atlassian)
                .collect()
        } else {
            group.members.iter().filter_map(|m| self.user(m)).collect()
        };
        out.sort_by(|a, b| a.account_id.cmp(&b.account_id));
        out.dedup_by(|a, b| a.account_id == b.account_id);
        out
    }

    /// Names of the groups `account_id` belongs to.
    pub fn groups_of(&self, account_id: &str) -> HashSet<&str> {
        let person = self
            .user(account_id)
            .is_some_and(|u| u.account_type == AccountType::Atlassian);
        self.groups
            .iter()
            .filter(|g| (g.all_users && person) || g.members.iter().any(|m| m == account_id))
            .map(|g| g.name.as_str())
            .collect()
    }

    /// The restriction of `operation` on a content, if it restricts anything.
    pub fn restriction(
        &self,
        content: &str,
        operation: RestrictionOperation,
    ) -> Option<&Restriction> {
        self.restrictions
            .iter()
            .find(|r| r.content == content && r.operation == operation && !r.is_empty())
    }

    /// The grants of one space, in dataset order.
    pub fn space_permissions_of(&self, space: &str) -> Vec<&SpacePermission> {
        self.space_permissions
            .iter()
            .filter(|p| p.space == space)
            .collect()
    }

    /// Checks every reference and uniqueness rule against the dataset, reporting every
    /// problem at once.
    pub fn validate(&self, dataset: &Dataset) -> Result<(), DatasetError> {
        let mut problems = Vec::new();
        let mut accounts = HashSet::new();
        let mut usernames = HashSet::new();
        for u in &self.users {
            if u.account_id.is_empty() {
                problems.push("a user has an empty accountId".to_owned());
            }
            if !accounts.insert(u.account_id.as_str()) {
                problems.push(format!("user {} appears twice", u.account_id));
            }
            if !usernames.insert(u.dc_username()) {
                problems.push(format!("username {} appears twice", u.dc_username()));
            }
        }
        let mut names = HashSet::new();
        let mut ids = HashSet::new();
        for g in &self.groups {
            if g.name.is_empty() {
                problems.push("a group has an empty name".to_owned());
            }
            if !names.insert(g.name.as_str()) {
                problems.push(format!("group {} appears twice", g.name));
            }
            if !ids.insert(g.cloud_id()) {
                problems.push(format!("group id {} appears twice", g.cloud_id()));
            }
            for m in &g.members {
                if !accounts.contains(m.as_str()) {
                    problems.push(format!("group {}: unknown member {m}", g.name));
                }
            }
        }
        let spaces: HashSet<&str> = dataset.spaces.iter().map(|s| s.key.as_str()).collect();
        for p in &self.space_permissions {
            if !spaces.contains(p.space.as_str()) {
                problems.push(format!("space permission: unknown space {}", p.space));
            }
            match p.principal() {
                None => problems.push(format!(
                    "space permission on {}: needs exactly one of user, group, anonymous",
                    p.space
                )),
                Some(Principal::User(u)) if !accounts.contains(u) => {
                    problems.push(format!("space permission on {}: unknown user {u}", p.space))
                }
                Some(Principal::Group(g)) if !names.contains(g) => problems.push(format!(
                    "space permission on {}: unknown group {g}",
                    p.space
                )),
                Some(_) => {}
            }
            for op in &p.operations {
                let valid = op
                    .split_once('/')
                    .is_some_and(|(k, t)| OPERATION_KEYS.contains(&k) && TARGET_TYPES.contains(&t));
                if !valid {
                    problems.push(format!(
                        "space permission on {}: unknown operation {op:?} (key/targetType)",
                        p.space
                    ));
                }
            }
        }
        let contents: HashMap<&str, &ContentType> = dataset
            .content
            .iter()
            .map(|c| (c.id.as_str(), &c.content_type))
            .collect();
        let mut restricted = BTreeSet::new();
        for r in &self.restrictions {
            if !contents.contains_key(r.content.as_str()) {
                problems.push(format!("restriction: unknown content {}", r.content));
            }
            if !restricted.insert((r.content.as_str(), r.operation)) {
                problems.push(format!(
                    "content {} has two {} restrictions",
                    r.content,
                    r.operation.as_str()
                ));
            }
            for u in &r.users {
                if !accounts.contains(u.as_str()) {
                    problems.push(format!("restriction on {}: unknown user {u}", r.content));
                }
            }
            for g in &r.groups {
                if !names.contains(g.as_str()) {
                    problems.push(format!("restriction on {}: unknown group {g}", r.content));
                }
            }
        }
        if let Some(client) = &self.client_account {
            if !accounts.contains(client.as_str()) {
                problems.push(format!("clientAccount: unknown user {client}"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DatasetError::Invalid(problems.join("; ")))
        }
    }

    /// Drops what refers to content or spaces that no longer exist (Confluence deletes a
    /// page's restrictions with the page).
    pub(crate) fn prune(&mut self, dataset: &Dataset) {
        let contents: HashSet<&str> = dataset.content.iter().map(|c| c.id.as_str()).collect();
        let spaces: HashSet<&str> = dataset.spaces.iter().map(|s| s.key.as_str()).collect();
        self.restrictions
            .retain(|r| contents.contains(r.content.as_str()));
        self.space_permissions
            .retain(|p| spaces.contains(p.space.as_str()));
    }
}

/// How the read endpoints behave where the real services differ or where the sources leave a
/// choice (each documented in docs/sandbox.md, "Permissions").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "snake_case")]
pub struct PermissionsConfig {
    /// Status of DC v1 `GET /rest/api/content/{id}` for content the client may not view: the
    /// v1 description documents both 404 ("does not have permission") and 403 ("can not view");
    /// default 404.
    pub v1_restricted_status: u16,
    /// Cloud v1 restriction endpoints answer 410 through the gateway, as v1 `content/{id}`
    /// does (unconfirmed; off: they are documented and answer).
    pub cloud_v1_restrictions_gone: bool,
    /// The version Data Center reports (applinks manifest). Below 9.1 the space-permission
    /// endpoint does not exist (404).
    pub dc_version: String,
    /// DC answers 403 to OAuth 2.0 bearer tokens on the permission, restriction, group and
    /// user resources ("Forge and OAuth2 apps cannot access this REST resource" in the DC REST
    /// reference); PAT and basic auth are served. On by default.
    pub dc_oauth_permission_reads_forbidden: bool,
    /// Data Center's site-wide email visibility.
    pub dc_email_visibility: DcEmailVisibility,
    /// How Cloud v2 space permissions name anonymous access (unconfirmed).
    pub cloud_anonymous_principal: CloudAnonymousPrincipal,
}

impl Default for PermissionsConfig {
    fn default() -> Self {
        Self {
            v1_restricted_status: 404,
            cloud_v1_restrictions_gone: false,
            dc_version: "9.2.0".into(),
            dc_oauth_permission_reads_forbidden: true,
            dc_email_visibility: DcEmailVisibility::Public,
            cloud_anonymous_principal: CloudAnonymousPrincipal::UserNamedAnonymous,
        }
    }
}

impl PermissionsConfig {
    fn dc_version_parts(&self) -> (u32, u32, u32) {
        let mut parts = self
            .dc_version
            .split('.')
            .map(|p| p.parse::<u32>().unwrap_or(0));
        (
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
            parts.next().unwrap_or(0),
        )
    }

    /// Whether the configured DC version serves `rest/api/space/{key}/permissions` (9.1+).
    pub fn dc_has_space_permissions_api(&self) -> bool {
        let (major, minor, _) = self.dc_version_parts();
        (major, minor) >= (9, 1)
    }

    /// The manifest's `version` and `buildNumber` (`9.2.0` → 9200).
    pub(crate) fn dc_version_and_build(&self) -> (&str, u32) {
        let (major, minor, patch) = self.dc_version_parts();
        (&self.dc_version, major * 1000 + minor * 100 + patch.min(99))
    }
}

/// Data Center's "email address visibility" setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DcEmailVisibility {
    /// Emails are shown.
    #[default]
    Public,
    /// Shown obfuscated (`alice at example dot com`): a string that is not an address.
    Masked,
    /// Only administrators see them; the connector's account gets an empty string.
    AdminsOnly,
}

/// How an anonymous `read/space` grant appears in Cloud's v2 `spaces/{id}/permissions`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudAnonymousPrincipal {
    /// `{"type": "user", "id": "anonymous"}`, after v1's documented convention
    /// (`PermissionSubjectWithGroupId`: `identifier` is `anonymous` for anonymous users).
    #[default]
    UserNamedAnonymous,
    /// `{"type": "anonymous"}`, after the principal types of the v2 role API.
    AnonymousType,
}

/// A dataset file: the content half ([`Dataset`]) and the permission half ([`AccessModel`])
/// side by side at the top level. Without permission keys it is exactly a [`Dataset`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetFile {
    #[serde(flatten)]
    pub dataset: Dataset,
    #[serde(flatten)]
    pub access: AccessModel,
}

impl DatasetFile {
    /// Parses and validates both halves.
    pub fn from_yaml(text: &str) -> Result<Self, DatasetError> {
        let file: DatasetFile = serde_yaml_ng::from_str(text)?;
        file.validate()?;
        Ok(file)
    }

    pub fn to_yaml(&self) -> Result<String, DatasetError> {
        Ok(serde_yaml_ng::to_string(self)?)
    }

    pub fn validate(&self) -> Result<(), DatasetError> {
        self.dataset.validate()?;
        self.access.validate(&self.dataset)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_file_without_permissions_is_exactly_a_dataset() {
        let builtin = Dataset::builtin();
        let file = DatasetFile {
            dataset: builtin.clone(),
            access: AccessModel::default(),
        };
        assert_eq!(file.to_yaml().unwrap(), builtin.to_yaml().unwrap());
        assert_eq!(
            serde_json::to_string(&file).unwrap(),
            serde_json::to_string(&builtin).unwrap()
        );
        let back = DatasetFile::from_yaml(&builtin.to_yaml().unwrap()).unwrap();
        assert_eq!(back.dataset, builtin);
        assert!(back.access.is_empty());
    }

    #[test]
    fn the_example_dataset_loads_with_its_permissions() {
        let text = include_str!("../../../datasets/example.yaml");
        let file = DatasetFile::from_yaml(text).unwrap();
        assert!(!file.access.users.is_empty());
        assert!(!file.access.restrictions.is_empty());
        let again = DatasetFile::from_yaml(&file.to_yaml().unwrap()).unwrap();
        assert_eq!(again, file);
    }

    #[test]
    fn validation_reports_every_broken_reference() {
        let mut access = AccessModel {
            users: vec![User::person("a1", "A", "a@example.com")],
            groups: vec![Group {
                name: "eng".into(),
                id: String::new(),
                members: vec!["ghost".into()],
                all_users: false,
            }],
            space_permissions: vec![
                SpacePermission::group_reads("NOPE", "eng"),
                SpacePermission::user_reads("ENG", "nobody"),
            ],
            restrictions: vec![Restriction::read("9999", &["a1"], &["sales"])],
            client_account: Some("who".into()),
        };
        access.space_permissions.push(SpacePermission {
            operations: vec!["fly/space".into()],
            ..SpacePermission::group_reads("ENG", "eng")
        });
        let err = access
            .validate(&Dataset::builtin())
            .unwrap_err()
            .to_string();
        for expected in [
            "unknown member ghost",
            "unknown space NOPE",
            "unknown user nobody",
            "unknown content 9999",
            "unknown group sales",
            "unknown operation \"fly/space\"",
            "clientAccount: unknown user who",
        ] {
            assert!(err.contains(expected), "{expected} missing from {err}");
        }
    }

    #[test]
    fn group_ids_are_stable_and_distinct() {
        let g = |name: &str| Group {
            name: name.into(),
            id: String::new(),
            members: vec![],
            all_users: false,
        };
        assert_eq!(g("eng").cloud_id(), g("eng").cloud_id());
        assert_ne!(g("eng").cloud_id(), g("sales").cloud_id());
        assert_eq!(g("eng").cloud_id().len(), 36);
    }

    #[test]
    fn dc_space_permission_api_starts_at_9_1() {
        let with = |v: &str| PermissionsConfig {
            dc_version: v.into(),
            ..PermissionsConfig::default()
        };
        assert!(with("9.1.0").dc_has_space_permissions_api());
        assert!(with("10.0.1").dc_has_space_permissions_api());
        assert!(!with("9.0.3").dc_has_space_permissions_api());
        assert!(!with("8.5.16").dc_has_space_permissions_api());
    }
}

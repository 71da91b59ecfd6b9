//! Permission sync on the Unique side: users (matched by email), the groups this connector
//! mirrors, scope accesses and file accesses — read back, so the engine applies only the
//! difference. Used only when a tenant syncs permissions.

use serde::Deserialize;
use serde_json::{json, Value};

use crate::documents::{
    Operation, OP_ADD_GROUP_MEMBERS, OP_CREATE_FILE_ACCESSES, OP_CREATE_GROUP,
    OP_CREATE_SCOPE_ACCESSES, OP_DELETE_GROUP, OP_DELETE_SCOPE_ACCESSES, OP_LIST_GROUPS,
    OP_LIST_USERS, OP_PAGINATED_CONTENT_ACCESS, OP_REMOVE_FILE_ACCESSES, OP_REMOVE_GROUP_MEMBER,
};
use crate::requests::{GraphQlCall, PAGE_SIZE};
use crate::types::AccessType;
use crate::{UniqueClient, UniqueError};

/// File accesses per mutation, as Unique's own connectors send them: Unique makes a call to
/// node-ingestion and Zitadel for each one.
pub const FILE_ACCESS_BATCH: usize = 20;

/// The `createdBy` of the groups this connector mirrors.
pub const GROUP_CREATED_BY: &str = "confluence-connector";

/// An active Unique user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueUser {
    pub id: String,
    /// As Unique stores it; match case-insensitively.
    pub email: String,
}

/// A Unique group with its members' user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniqueGroup {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    pub members: Vec<String>,
}

/// Who an access is for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    User(String),
    Group(String),
}

impl Entity {
    fn wire(&self) -> (&str, &'static str) {
        match self {
            Entity::User(id) => (id, "USER"),
            Entity::Group(id) => (id, "GROUP"),
        }
    }
}

/// One access on one content.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileAccess {
    pub content_id: String,
    pub entity: Entity,
    pub access: AccessType,
}

/// A content's file accesses as Unique reports them (`u:<id>R`, `g:<id>W`, …), parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentAccess {
    pub id: String,
    pub key: String,
    /// The owner scope: file accesses are changed per owner scope.
    pub owner_id: String,
    pub accesses: Vec<(Entity, AccessType)>,
}

impl UniqueClient {
    /// Every active user (pages of 100).
    pub async fn active_users(&self) -> Result<Vec<UniqueUser>, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            list_users: Page,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page {
            total_count: u64,
            nodes: Vec<Node>,
        }
        #[derive(Deserialize)]
        struct Node {
            id: String,
            #[serde(default)]
            active: Option<bool>,
            #[serde(default)]
            email: Option<String>,
        }
        let mut users = Vec::new();
        for page in 0.. {
            let call = GraphQlCall::scope_management(
                OP_LIST_USERS,
                json!({
                    "skip": page * PAGE_SIZE,
                    "take": PAGE_SIZE,
                    "where": { "active": { "equals": true } },
                }),
            );
            let data: Data = self.graphql(&call).await?;
            let received = data.list_users.nodes.len() as u64;
            users.extend(
                data.list_users
                    .nodes
                    .into_iter()
                    // A user without an email cannot be matched; an inactive one must not be.
                    .filter(|n| n.active != Some(false))
                    .filter_map(|n| match n.email {
                        Some(email) if !email.trim().is_empty() => {
                            Some(UniqueUser { id: n.id, email })
                        }
                        _ => None,
                    }),
            );
            if received < PAGE_SIZE || (page + 1) * PAGE_SIZE >= data.list_users.total_count {
                break;
            }
        }
        Ok(users)
    }

    /// The groups whose external id starts with `prefix`, with their members (pages of 100,
    /// until a short one).
    pub async fn groups_with_external_id_prefix(
        &self,
        prefix: &str,
    ) -> Result<Vec<UniqueGroup>, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            list_groups: Vec<Node>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Node {
            id: String,
            name: String,
            #[serde(default)]
            external_id: Option<String>,
            #[serde(default)]
            members: Vec<Member>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Member {
            entity_id: String,
        }
        if prefix.is_empty() {
            // An empty prefix would claim every group of the company as the connector's.
            return Err(self.answered_unexpectedly(
                OP_LIST_GROUPS.name,
                "refusing to list groups by an empty external-id prefix",
            ));
        }
        let mut groups = Vec::new();
        for page in 0.. {
            let call = GraphQlCall::scope_management(
                OP_LIST_GROUPS,
                json!({
                    "where": { "externalId": { "startsWith": prefix } },
                    "skip": page * PAGE_SIZE,
                    "take": PAGE_SIZE,
                }),
            );
            let data: Data = self.graphql(&call).await?;
            let received = data.list_groups.len() as u64;
            groups.extend(
                data.list_groups
                    .into_iter()
                    // Never trust the filter alone: a group outside the prefix is not ours.
                    .filter(|g| {
                        g.external_id
                            .as_deref()
                            .is_some_and(|e| e.starts_with(prefix))
                    })
                    .map(|g| UniqueGroup {
                        id: g.id,
                        name: g.name,
                        external_id: g.external_id,
                        members: g.members.into_iter().map(|m| m.entity_id).collect(),
                    }),
            );
            if received < PAGE_SIZE {
                break;
            }
        }
        Ok(groups)
    }

    /// Creates a group this connector owns.
    pub async fn create_group(
        &self,
        name: &str,
        external_id: &str,
    ) -> Result<UniqueGroup, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            create_group: Node,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Node {
            id: String,
            name: String,
            #[serde(default)]
            external_id: Option<String>,
        }
        let call = GraphQlCall::scope_management(
            OP_CREATE_GROUP,
            json!({ "name": name, "externalId": external_id, "createdBy": GROUP_CREATED_BY }),
        );
        let data: Data = self.graphql(&call).await?;
        if data.create_group.id.is_empty() {
            return Err(self.unexpected(&call, "empty group id"));
        }
        Ok(UniqueGroup {
            id: data.create_group.id,
            name: data.create_group.name,
            external_id: data.create_group.external_id,
            members: Vec::new(),
        })
    }

    /// Deletes a group. Remove every access naming it first: Unique leaves the accesses of a
    /// deleted group behind, and they cannot be removed afterwards.
    pub async fn delete_group(&self, group_id: &str) -> Result<(), UniqueError> {
        let call = GraphQlCall::scope_management(OP_DELETE_GROUP, json!({ "groupId": group_id }));
        let _: Value = self.graphql(&call).await?;
        Ok(())
    }

    /// Adds users to a group in one call; nothing is sent for an empty list.
    pub async fn add_group_members(
        &self,
        group_id: &str,
        user_ids: &[String],
    ) -> Result<(), UniqueError> {
        if user_ids.is_empty() {
            return Ok(());
        }
        let call = GraphQlCall::scope_management(
            OP_ADD_GROUP_MEMBERS,
            json!({ "groupId": group_id, "userIds": user_ids }),
        );
        let _: Value = self.graphql(&call).await?;
        Ok(())
    }

    /// Removes one user from a group (Unique has no batch form).
    pub async fn remove_group_member(
        &self,
        group_id: &str,
        user_id: &str,
    ) -> Result<(), UniqueError> {
        let call = GraphQlCall::scope_management(
            OP_REMOVE_GROUP_MEMBER,
            json!({ "groupId": group_id, "userId": user_id }),
        );
        let _: Value = self.graphql(&call).await?;
        Ok(())
    }

    /// Grants accesses on one scope, without touching its files or sub-scopes.
    pub async fn add_scope_accesses(
        &self,
        scope_id: &str,
        accesses: &[(Entity, AccessType)],
    ) -> Result<(), UniqueError> {
        self.change_scope_accesses(OP_CREATE_SCOPE_ACCESSES, scope_id, accesses)
            .await
    }

    /// Removes accesses from one scope, without touching its files or sub-scopes.
    pub async fn remove_scope_accesses(
        &self,
        scope_id: &str,
        accesses: &[(Entity, AccessType)],
    ) -> Result<(), UniqueError> {
        self.change_scope_accesses(OP_DELETE_SCOPE_ACCESSES, scope_id, accesses)
            .await
    }

    async fn change_scope_accesses(
        &self,
        operation: Operation,
        scope_id: &str,
        accesses: &[(Entity, AccessType)],
    ) -> Result<(), UniqueError> {
        if accesses.is_empty() {
            return Ok(());
        }
        require_id(operation, "scopeId", scope_id, self.disclosure())?;
        let scope_accesses: Vec<Value> = accesses
            .iter()
            .map(|(entity, access)| {
                let (id, kind) = entity.wire();
                json!({ "accessType": access, "entityId": id, "entityType": kind })
            })
            .collect();
        let call = GraphQlCall::ingestion(
            operation,
            json!({
                "scopeId": scope_id,
                "scopeAccesses": scope_accesses,
                "applyToSubScopes": false,
                "skipFileAccessPropagation": true,
            }),
        );
        let _: Value = self.graphql(&call).await?;
        Ok(())
    }

    /// Grants file accesses on contents owned by `scope_id`, 20 per call.
    pub async fn add_file_accesses(
        &self,
        scope_id: &str,
        accesses: &[FileAccess],
    ) -> Result<(), UniqueError> {
        self.change_file_accesses(OP_CREATE_FILE_ACCESSES, scope_id, accesses)
            .await
    }

    /// Removes file accesses from contents owned by `scope_id`, 20 per call.
    pub async fn remove_file_accesses(
        &self,
        scope_id: &str,
        accesses: &[FileAccess],
    ) -> Result<(), UniqueError> {
        self.change_file_accesses(OP_REMOVE_FILE_ACCESSES, scope_id, accesses)
            .await
    }

    async fn change_file_accesses(
        &self,
        operation: Operation,
        scope_id: &str,
        accesses: &[FileAccess],
    ) -> Result<(), UniqueError> {
        require_id(operation, "scopeId", scope_id, self.disclosure())?;
        for batch in accesses.chunks(FILE_ACCESS_BATCH) {
            let file_accesses = batch
                .iter()
                .map(|a| {
                    require_id(operation, "contentId", &a.content_id, self.disclosure())?;
                    let (id, kind) = a.entity.wire();
                    Ok(json!({
                        "contentId": a.content_id,
                        "accessType": a.access,
                        "entityId": id,
                        "entityType": kind,
                    }))
                })
                .collect::<Result<Vec<Value>, UniqueError>>()?;
            let call = GraphQlCall::ingestion(
                operation,
                json!({ "scopeId": scope_id, "fileAccesses": file_accesses }),
            );
            let _: Value = self.graphql(&call).await?;
        }
        Ok(())
    }

    /// The contents with these keys and their file accesses (100 keys per request). An access
    /// string this client cannot parse fails the call: an access it cannot see is one it could
    /// not keep or remove correctly.
    pub async fn content_accesses(
        &self,
        keys: &[String],
    ) -> Result<Vec<ContentAccess>, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            paginated_content: Page,
        }
        #[derive(Deserialize)]
        struct Page {
            nodes: Vec<Node>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Node {
            id: String,
            key: String,
            owner_id: String,
            #[serde(default)]
            file_access: Vec<String>,
        }
        let mut out = Vec::new();
        for chunk in keys.chunks(PAGE_SIZE as usize) {
            let call = GraphQlCall::ingestion(
                OP_PAGINATED_CONTENT_ACCESS,
                json!({
                    "skip": 0,
                    "take": PAGE_SIZE,
                    "where": { "key": { "in": chunk } },
                }),
            );
            let data: Data = self.graphql(&call).await?;
            for node in data.paginated_content.nodes {
                let accesses = node
                    .file_access
                    .iter()
                    .map(|raw| {
                        parse_file_access(raw).ok_or_else(|| {
                            self.unexpected(
                                &call,
                                format!("unreadable file access {raw:?} on content {}", node.id),
                            )
                        })
                    })
                    .collect::<Result<_, _>>()?;
                out.push(ContentAccess {
                    id: node.id,
                    key: node.key,
                    owner_id: node.owner_id,
                    accesses,
                });
            }
        }
        Ok(out)
    }
}

/// An empty id is a bug upstream, never something to send to Unique.
fn require_id(
    operation: Operation,
    field: &str,
    id: &str,
    disclosure: http_transport::Disclosure,
) -> Result<(), UniqueError> {
    if id.trim().is_empty() {
        return Err(UniqueError::UnexpectedResponse {
            operation: operation.name,
            reason: http_transport::RemoteText::new(
                format!("refusing to send an empty {field}"),
                disclosure,
            ),
        });
    }
    Ok(())
}

/// `u:<id>R`, `g:<id>W`, `u:<id>M` (the package's `FileAccessKey`).
fn parse_file_access(raw: &str) -> Option<(Entity, AccessType)> {
    let (kind, rest) = raw.split_once(':')?;
    let access = match rest.chars().last()? {
        'R' => AccessType::Read,
        'W' => AccessType::Write,
        'M' => AccessType::Manage,
        _ => return None,
    };
    let id = &rest[..rest.len() - 1];
    if id.is_empty() {
        return None;
    }
    let entity = match kind {
        "u" => Entity::User(id.to_owned()),
        "g" => Entity::Group(id.to_owned()),
        _ => return None,
    };
    Some((entity, access))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_access_keys_parse_and_anything_else_is_refused() {
        assert_eq!(
            parse_file_access("u:abc123R"),
            Some((Entity::User("abc123".into()), AccessType::Read))
        );
        assert_eq!(
            parse_file_access("g:grp-1M"),
            Some((Entity::Group("grp-1".into()), AccessType::Manage))
        );
        for bad in ["", "u:R", "x:abcR", "u:abcX", "uabcR", "g:"] {
            assert_eq!(parse_file_access(bad), None, "{bad:?}");
        }
    }
}

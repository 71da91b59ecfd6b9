//! The GraphQL operations on users, groups, memberships, scope accesses and file accesses, with
//! the names, arguments and result types of the documents `Unique-AG/connectors` sends
//! (`packages/unique-api/src/{users,groups,files,scopes}/*.queries.ts`):
//!
//! - scope management: `paginatedUsers` (`ListUsers`), `allGroups` (`ListGroups`),
//!   `createGroup`, `updateGroup`, `deleteGroup`, `createMemberships` (`AddGroupMembers`),
//!   `deleteMemberships` (`RemoveGroupMember`);
//! - ingestion: `deleteScopeAccesses`, `createFileAccessesForContents`,
//!   `removeFileAccessesForContents` (`createScopeAccesses` lives with the scope operations).
//!
//! Where the documents do not show the server's types (the enum of a file access, the
//! nullability of arguments) the types follow the existing scope types; see docs/sandbox.md.

use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::access::{AccessType, EntityType, ScopeAccess};
use super::directory::GroupRecord;
use super::error::StoreError;
use super::file_access::FileAccessChange;
use super::schema::{
    count, page, shared, store_error, GqlDateTime, ScopeAccessChangeDto, StringFilter,
    StringNullableFilter, UserNode,
};

// ---- inputs ---------------------------------------------------------------------------------

/// Prisma-style boolean filter.
#[derive(InputObject, Debug, Default)]
pub(crate) struct BoolFilter {
    equals: Option<bool>,
    not: Option<bool>,
}

impl BoolFilter {
    fn matches(&self, value: bool) -> bool {
        self.equals.is_none_or(|e| e == value) && self.not.is_none_or(|n| n != value)
    }
}

#[derive(InputObject, Debug, Default)]
pub(crate) struct UserWhereInput {
    id: Option<StringFilter>,
    /// `{equals, mode: insensitive}` matches the address case-insensitively.
    email: Option<StringFilter>,
    active: Option<BoolFilter>,
}

#[derive(InputObject, Debug, Default)]
pub(crate) struct GroupWhereInput {
    id: Option<StringFilter>,
    name: Option<StringFilter>,
    external_id: Option<StringNullableFilter>,
}

#[derive(InputObject, Debug)]
pub(crate) struct GroupCreateInput {
    name: String,
    external_id: Option<String>,
    created_by: Option<String>,
}

#[derive(InputObject, Debug)]
pub(crate) struct GroupUpdateInput {
    name: Option<String>,
}

/// One file access to add or remove (`FileAccessInput` in the package).
#[derive(InputObject, Debug)]
pub(crate) struct FileAccessContentChangeDto {
    content_id: String,
    access_type: AccessType,
    entity_id: String,
    entity_type: EntityType,
}

// ---- outputs --------------------------------------------------------------------------------

#[derive(SimpleObject, Debug)]
#[graphql(name = "PaginatedUser")]
pub(crate) struct PaginatedUserNode {
    nodes: Vec<UserNode>,
    total_count: i32,
}

#[derive(SimpleObject, Debug, Clone)]
#[graphql(name = "GroupMember")]
pub(crate) struct GroupMemberNode {
    entity_id: String,
    group_id: String,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "Group")]
pub(crate) struct GroupNode {
    id: String,
    name: String,
    external_id: Option<String>,
    created_by: Option<String>,
    members: Vec<GroupMemberNode>,
    created_at: GqlDateTime,
    updated_at: GqlDateTime,
}

impl From<&GroupRecord> for GroupNode {
    fn from(g: &GroupRecord) -> Self {
        Self {
            id: g.id.clone(),
            name: g.name.clone(),
            external_id: g.external_id.clone(),
            created_by: g.created_by.clone(),
            members: g
                .members
                .iter()
                .map(|m| GroupMemberNode {
                    entity_id: m.clone(),
                    group_id: g.id.clone(),
                })
                .collect(),
            created_at: GqlDateTime(g.created_at),
            updated_at: GqlDateTime(g.updated_at),
        }
    }
}

// ---- scope management -----------------------------------------------------------------------

#[derive(Debug, Default)]
pub(crate) struct IdentityQuery;

#[Object]
impl IdentityQuery {
    /// Users of the company matching `where`, in creation order; `take: 0` gives only the count.
    async fn paginated_users(
        &self,
        ctx: &Context<'_>,
        skip: Option<i32>,
        take: Option<i32>,
        #[graphql(name = "where")] filter: Option<UserWhereInput>,
    ) -> async_graphql::Result<PaginatedUserNode> {
        let (skip, take) = page(skip, take)?;
        let filter = filter.unwrap_or_default();
        let store = shared(ctx)?.store();
        let matching: Vec<_> = store
            .directory
            .users_ordered()
            .into_iter()
            .filter(|u| {
                filter.id.as_ref().is_none_or(|f| f.matches(&u.id))
                    && filter.email.as_ref().is_none_or(|f| f.matches(&u.email))
                    && filter.active.as_ref().is_none_or(|f| f.matches(u.active))
            })
            .collect();
        Ok(PaginatedUserNode {
            total_count: count(matching.len()),
            nodes: matching
                .into_iter()
                .skip(skip)
                .take(take.unwrap_or(usize::MAX))
                .map(UserNode::from)
                .collect(),
        })
    }

    /// Groups matching `where`, in creation order (a plain list: the caller pages until a short
    /// page).
    async fn all_groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "where")] filter: Option<GroupWhereInput>,
        skip: Option<i32>,
        take: Option<i32>,
    ) -> async_graphql::Result<Vec<GroupNode>> {
        let (skip, take) = page(skip, take)?;
        let filter = filter.unwrap_or_default();
        let store = shared(ctx)?.store();
        Ok(store
            .directory
            .groups_ordered()
            .into_iter()
            .filter(|g| {
                filter.id.as_ref().is_none_or(|f| f.matches(&g.id))
                    && filter.name.as_ref().is_none_or(|f| f.matches(&g.name))
                    && filter
                        .external_id
                        .as_ref()
                        .is_none_or(|f| f.matches(g.external_id.as_deref()))
            })
            .skip(skip)
            .take(take.unwrap_or(usize::MAX))
            .map(GroupNode::from)
            .collect())
    }
}

#[derive(Debug, Default)]
pub(crate) struct IdentityMutation;

#[Object]
impl IdentityMutation {
    /// Creates a group; the external id must be free.
    async fn create_group(
        &self,
        ctx: &Context<'_>,
        input: GroupCreateInput,
    ) -> async_graphql::Result<GroupNode> {
        let mut store = shared(ctx)?.store();
        let group = store
            .directory
            .create_group(
                &input.name,
                input.external_id.as_deref(),
                input.created_by.as_deref(),
            )
            .map_err(store_error)?;
        Ok(GroupNode::from(group))
    }

    /// Renames a group.
    async fn update_group(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: GroupUpdateInput,
    ) -> async_graphql::Result<GroupNode> {
        let mut store = shared(ctx)?.store();
        let group = match input.name {
            Some(name) => store.directory.rename_group(&id, &name),
            None => store
                .directory
                .groups
                .get(&id)
                .ok_or_else(|| StoreError::NotFound(format!("Group {id} not found"))),
        }
        .map_err(store_error)?;
        Ok(GroupNode::from(group))
    }

    /// Deletes a group and its memberships; scope and file accesses naming it stay behind.
    async fn delete_group(
        &self,
        ctx: &Context<'_>,
        id: String,
    ) -> async_graphql::Result<GroupNode> {
        let mut store = shared(ctx)?.store();
        let removed = store.directory.delete_group(&id).map_err(store_error)?;
        Ok(GroupNode::from(&removed))
    }

    /// Adds users to a group; every user must exist (else nothing changes).
    async fn create_memberships(
        &self,
        ctx: &Context<'_>,
        group_id: String,
        user_ids: Vec<String>,
    ) -> async_graphql::Result<Vec<GroupMemberNode>> {
        let mut store = shared(ctx)?.store();
        store
            .directory
            .add_members(&group_id, &user_ids)
            .map_err(store_error)?;
        Ok(user_ids
            .into_iter()
            .map(|entity_id| GroupMemberNode {
                entity_id,
                group_id: group_id.clone(),
            })
            .collect())
    }

    /// Removes one user from each of the groups.
    async fn delete_memberships(
        &self,
        ctx: &Context<'_>,
        group_ids: Vec<String>,
        user_id: String,
    ) -> async_graphql::Result<bool> {
        let mut store = shared(ctx)?.store();
        store
            .directory
            .remove_member(&group_ids, &user_id)
            .map_err(store_error)?;
        Ok(true)
    }
}

// ---- ingestion ------------------------------------------------------------------------------

#[derive(Debug, Default)]
pub(crate) struct AccessMutation;

/// Applies one file-access batch (`add` or remove) as a whole.
fn change_file_accesses(
    ctx: &Context<'_>,
    scope_id: &str,
    list: Vec<FileAccessContentChangeDto>,
    add: bool,
) -> async_graphql::Result<bool> {
    let changes: Vec<FileAccessChange> = list
        .into_iter()
        .map(|c| FileAccessChange {
            content_id: c.content_id,
            access: ScopeAccess {
                entity_id: c.entity_id,
                entity_type: c.entity_type,
                access_type: c.access_type,
            },
        })
        .collect();
    shared(ctx)?
        .store()
        .change_file_accesses(scope_id, &changes, add)
        .map_err(store_error)?;
    Ok(true)
}

#[Object]
impl AccessMutation {
    /// Removes accesses from a scope (and its subtree when asked); without
    /// `skipFileAccessPropagation: true`, from the scopes' files too.
    async fn delete_scope_accesses(
        &self,
        ctx: &Context<'_>,
        scope_id: String,
        scope_accesses: Vec<ScopeAccessChangeDto>,
        apply_to_sub_scopes: Option<bool>,
        skip_file_access_propagation: Option<bool>,
    ) -> async_graphql::Result<bool> {
        let accesses: Vec<ScopeAccess> = scope_accesses.into_iter().map(Into::into).collect();
        let mut store = shared(ctx)?.store();
        let targets = store
            .revoke(&scope_id, &accesses, apply_to_sub_scopes.unwrap_or(false))
            .map_err(store_error)?;
        if !skip_file_access_propagation.unwrap_or(false) {
            store.propagate_to_files(&targets, &accesses, false);
        }
        Ok(true)
    }

    /// Adds file accesses to contents of one scope; all or nothing (a bad item fails the whole
    /// batch with BAD_USER_INPUT, which the package answers by retrying one by one).
    async fn create_file_accesses_for_contents(
        &self,
        ctx: &Context<'_>,
        scope_id: String,
        file_accesses: Vec<FileAccessContentChangeDto>,
    ) -> async_graphql::Result<bool> {
        change_file_accesses(ctx, &scope_id, file_accesses, true)
    }

    /// Removes file accesses from contents of one scope; all or nothing.
    async fn remove_file_accesses_for_contents(
        &self,
        ctx: &Context<'_>,
        scope_id: String,
        file_accesses: Vec<FileAccessContentChangeDto>,
    ) -> async_graphql::Result<bool> {
        change_file_accesses(ctx, &scope_id, file_accesses, false)
    }
}

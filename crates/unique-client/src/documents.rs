//! Every GraphQL document this client sends, one `const` per operation.
//!
//! They are the documents the reference connector (`@unique-ag/unique-api`) sends, modulo
//! whitespace: same operation names, same variable definitions, same arguments, same selections.
//! Unique (and whoever reads its logs or dashboards per operation) must not be able to tell the
//! two connectors apart. A change here is a change of the wire protocol: the snapshot tests and
//! the schema test (`tests/schema.rs`) must both be updated on purpose.

/// The service user's id (scope-management GraphQL), used to grant it access to scopes.
pub const USER: &str = r#"query User {
  me {
    user {
      id
    }
  }
}"#;

/// Grants accesses on one scope (ingestion GraphQL).
pub const CREATE_SCOPE_ACCESSES: &str = r#"mutation CreateScopeAccesses(
  $scopeAccesses: [ScopeAccessChangeDto!]!
  $scopeId: String!
  $applyToSubScopes: Boolean
  $skipFileAccessPropagation: Boolean
) {
  createScopeAccesses(
    scopeAccesses: $scopeAccesses
    scopeId: $scopeId
    applyToSubScopes: $applyToSubScopes
    skipFileAccessPropagation: $skipFileAccessPropagation
  )
}"#;

/// Scopes by id, external id or parent (ingestion GraphQL).
pub const PAGINATED_SCOPE: &str = r#"query PaginatedScope($skip: Int!, $take: Int!, $where: ScopeWhereInput!) {
  paginatedScope(skip: $skip, take: $take, where: $where) {
    totalCount
    nodes {
      id
      name
      parentId
      externalId
    }
  }
}"#;

/// Sets (or clears) a scope's external id (ingestion GraphQL).
pub const UPDATE_SCOPE: &str = r#"mutation UpdateScope($id: String!, $input: ScopeUpdateInput!) {
  updateScope(id: $id, input: $input) {
    id
    name
    externalId
    parentId
  }
}"#;

/// Creates the scopes along absolute paths, returning the leaf of each (ingestion GraphQL).
pub const GENERATE_SCOPES_BASED_ON_PATHS: &str = r#"mutation GenerateScopesBasedOnPaths($paths: [String!]!, $inheritAccess: Boolean) {
  generateScopesBasedOnPaths(paths: $paths, inheritAccess: $inheritAccess) {
    id
    name
    parentId
    externalId
  }
}"#;

/// Re-parents scopes (root-scope migration; ingestion GraphQL).
pub const BULK_MOVE: &str = r#"mutation BulkMove($input: BulkMoveInput!) {
  bulkMove(input: $input) {
    scopeIds
    asyncMetadataRebuild
    jobId
    affectedFiles
    message
  }
}"#;

/// Deletes a scope, optionally with its subtree (ingestion GraphQL).
pub const DELETE_FOLDER: &str = r#"mutation DeleteFolder($scopeId: String!, $recursive: Boolean!) {
  deleteFolder(scopeId: $scopeId, recursive: $recursive) {
    failedFolders {
      id
      name
      failReason
      path
    }
    successFolders {
      id
      name
      path
    }
  }
}"#;

/// Registers (without `fileUrl`) and finalizes (with `fileUrl`) a content (ingestion GraphQL).
pub const CONTENT_UPSERT: &str = r#"mutation ContentUpsert(
  $input: ContentCreateInput!
  $fileUrl: String
  $chatId: String
  $scopeId: String
  $sourceOwnerType: String
  $sourceName: String
  $sourceKind: String
  $storeInternally: Boolean
  $baseUrl: String
) {
  contentUpsert(
    input: $input
    fileUrl: $fileUrl
    chatId: $chatId
    scopeId: $scopeId
    sourceOwnerType: $sourceOwnerType
    sourceName: $sourceName
    sourceKind: $sourceKind
    storeInternally: $storeInternally
    baseUrl: $baseUrl
  ) {
    id
    key
    title
    byteSize
    mimeType
    ownerType
    ownerId
    writeUrl
    readUrl
    createdAt
    internallyStoredAt
    source {
      kind
      name
    }
  }
}"#;

/// Contents by keys or key prefix, full node set (ingestion GraphQL).
pub const PAGINATED_CONTENT: &str = r#"query PaginatedContent($skip: Int!, $take: Int!, $where: ContentWhereInput) {
  paginatedContent(skip: $skip, take: $take, where: $where) {
    nodes {
      id
      fileAccess
      key
      ownerType
      ownerId
      metadata
      byteSize
      expiresAt
      ingestionState
    }
    totalCount
  }
}"#;

/// Content ids owned by a scope. Same operation name as [`PAGINATED_CONTENT`], as in the
/// reference: two documents, one name.
pub const PAGINATED_CONTENT_IDS: &str = r#"query PaginatedContent($skip: Int!, $take: Int!, $where: ContentWhereInput) {
  paginatedContent(skip: $skip, take: $take, where: $where) {
    nodes {
      id
    }
    totalCount
  }
}"#;

/// How many contents match, without fetching any (`skip: 0, take: 0` inline, as the reference).
pub const PAGINATED_CONTENT_COUNT: &str = r#"query PaginatedContentCount($where: ContentWhereInput) {
  paginatedContent(where: $where, skip: 0, take: 0) {
    totalCount
  }
}"#;

/// Deletes contents by id; answers with the ids actually deleted (ingestion GraphQL).
pub const CONTENT_DELETE_BY_CONTENT_IDS: &str = r#"mutation ContentDeleteByContentIds($contentIds: [String!]!) {
  contentDeleteByContentIds(contentIds: $contentIds) {
    id
  }
}"#;

// ------------------------------------------------------------------ permission sync
//
// Sent only when a tenant syncs permissions (`permissions.mode` other than `none`); the reference
// connector has no such feature. These are the documents the Unique platform's own connectors
// send for it (`packages/unique-api` of `Unique-AG/connectors`: users, groups, scope and file
// accesses), so Unique sees the operations it already serves for them.

/// Active users, by page (scope-management GraphQL).
pub const LIST_USERS: &str = r#"query ListUsers($skip: Int!, $take: Int!, $where: UserWhereInput) {
  listUsers: paginatedUsers(skip: $skip, take: $take, where: $where) {
    totalCount
    nodes {
      id
      active
      companyId
      email
    }
  }
}"#;

/// Groups whose external id starts with the connector's prefix, with members
/// (scope-management GraphQL).
pub const LIST_GROUPS: &str = r#"query ListGroups($where: GroupWhereInput!, $skip: Int!, $take: Int!) {
  listGroups: allGroups(where: $where, skip: $skip, take: $take) {
    id
    name
    externalId
    members {
      entityId
    }
  }
}"#;

/// Mirrors a Confluence group (scope-management GraphQL).
pub const CREATE_GROUP: &str = r#"mutation CreateGroup($name: String!, $externalId: String!, $createdBy: String!) {
  createGroup(input: { name: $name, externalId: $externalId, createdBy: $createdBy }) {
    id
    name
    externalId
  }
}"#;

/// Deletes a mirrored group no longer needed (scope-management GraphQL).
pub const DELETE_GROUP: &str = r#"mutation DeleteGroup($groupId: String!) {
  deleteGroup(id: $groupId) {
    id
  }
}"#;

/// Adds members to a group, all in one call (scope-management GraphQL).
pub const ADD_GROUP_MEMBERS: &str = r#"mutation AddGroupMembers($groupId: String!, $userIds: [String!]!) {
  addGroupMembers: createMemberships(groupId: $groupId, userIds: $userIds) {
    entityId
    groupId
  }
}"#;

/// Removes one member from a group (scope-management GraphQL).
pub const REMOVE_GROUP_MEMBER: &str = r#"mutation RemoveGroupMember($groupId: String!, $userId: String!) {
  removeGroupMember: deleteMemberships(groupIds: [$groupId], userId: $userId)
}"#;

/// Removes accesses from one scope (ingestion GraphQL).
pub const DELETE_SCOPE_ACCESSES: &str = r#"mutation DeleteScopeAccesses(
  $scopeAccesses: [ScopeAccessChangeDto!]!
  $scopeId: String!
  $applyToSubScopes: Boolean
  $skipFileAccessPropagation: Boolean
) {
  deleteScopeAccesses(
    scopeAccesses: $scopeAccesses
    scopeId: $scopeId
    applyToSubScopes: $applyToSubScopes
    skipFileAccessPropagation: $skipFileAccessPropagation
  )
}"#;

/// Grants accesses on contents of one owner scope (ingestion GraphQL).
pub const CREATE_FILE_ACCESSES: &str = r#"mutation CreateFileAccessesForContents($scopeId: String!, $fileAccesses: [FileAccessContentChangeDto!]!) {
  createFileAccessesForContents(scopeId: $scopeId, fileAccesses: $fileAccesses)
}"#;

/// Removes accesses from contents of one owner scope (ingestion GraphQL).
pub const REMOVE_FILE_ACCESSES: &str = r#"mutation RemoveFileAccessesForContents($scopeId: String!, $fileAccesses: [FileAccessContentChangeDto!]!) {
  removeFileAccessesForContents(scopeId: $scopeId, fileAccesses: $fileAccesses)
}"#;

/// Contents by key with their file accesses (ingestion GraphQL).
pub const PAGINATED_CONTENT_ACCESS: &str = r#"query PaginatedContent($skip: Int!, $take: Int!, $where: ContentWhereInput) {
  paginatedContent(skip: $skip, take: $take, where: $where) {
    nodes {
      id
      key
      ownerId
      fileAccess
    }
    totalCount
  }
}"#;

/// The anonymous health ping sent to both GraphQL endpoints (no `operationName`, no variables).
pub const HEALTH_PING: &str = "{ __typename }";

/// A named GraphQL operation: its name goes into `operationName`, errors and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Operation {
    pub(crate) name: &'static str,
    pub(crate) document: &'static str,
    /// Sending it twice leaves Unique as sending it once, so the transport retries it within the
    /// retry budget (a 5xx may come after Unique acted; repeating must then change nothing).
    /// Every operation we send is: queries read; `CreateScopeAccesses` grants what is granted;
    /// `UpdateScope` and `BulkMove` set a value or a parent; `GenerateScopesBasedOnPaths` reuses
    /// the scopes a path already has; `ContentUpsert` upserts by key (register and finalize
    /// alike); `DeleteFolder` and `ContentDeleteByContentIds` leave the content gone either way.
    pub(crate) safe_to_repeat: bool,
}

pub(crate) const OP_USER: Operation = Operation {
    name: "User",
    document: USER,
    safe_to_repeat: true,
};
pub(crate) const OP_CREATE_SCOPE_ACCESSES: Operation = Operation {
    name: "CreateScopeAccesses",
    document: CREATE_SCOPE_ACCESSES,
    safe_to_repeat: true,
};
pub(crate) const OP_PAGINATED_SCOPE: Operation = Operation {
    name: "PaginatedScope",
    document: PAGINATED_SCOPE,
    safe_to_repeat: true,
};
pub(crate) const OP_UPDATE_SCOPE: Operation = Operation {
    name: "UpdateScope",
    document: UPDATE_SCOPE,
    safe_to_repeat: true,
};
pub(crate) const OP_GENERATE_SCOPES_BASED_ON_PATHS: Operation = Operation {
    name: "GenerateScopesBasedOnPaths",
    document: GENERATE_SCOPES_BASED_ON_PATHS,
    safe_to_repeat: true,
};
pub(crate) const OP_BULK_MOVE: Operation = Operation {
    name: "BulkMove",
    document: BULK_MOVE,
    safe_to_repeat: true,
};
pub(crate) const OP_DELETE_FOLDER: Operation = Operation {
    name: "DeleteFolder",
    document: DELETE_FOLDER,
    safe_to_repeat: true,
};
pub(crate) const OP_CONTENT_UPSERT: Operation = Operation {
    name: "ContentUpsert",
    document: CONTENT_UPSERT,
    safe_to_repeat: true,
};
pub(crate) const OP_PAGINATED_CONTENT: Operation = Operation {
    name: "PaginatedContent",
    document: PAGINATED_CONTENT,
    safe_to_repeat: true,
};
pub(crate) const OP_PAGINATED_CONTENT_IDS: Operation = Operation {
    name: "PaginatedContent",
    document: PAGINATED_CONTENT_IDS,
    safe_to_repeat: true,
};
pub(crate) const OP_PAGINATED_CONTENT_COUNT: Operation = Operation {
    name: "PaginatedContentCount",
    document: PAGINATED_CONTENT_COUNT,
    safe_to_repeat: true,
};
pub(crate) const OP_CONTENT_DELETE_BY_CONTENT_IDS: Operation = Operation {
    name: "ContentDeleteByContentIds",
    document: CONTENT_DELETE_BY_CONTENT_IDS,
    safe_to_repeat: true,
};

pub(crate) const OP_LIST_USERS: Operation = Operation {
    name: "ListUsers",
    document: LIST_USERS,
    safe_to_repeat: true,
};
pub(crate) const OP_LIST_GROUPS: Operation = Operation {
    name: "ListGroups",
    document: LIST_GROUPS,
    safe_to_repeat: true,
};
/// Not repeated: a second call would mirror the group twice.
pub(crate) const OP_CREATE_GROUP: Operation = Operation {
    name: "CreateGroup",
    document: CREATE_GROUP,
    safe_to_repeat: false,
};
/// Not repeated: a second call for a deleted group is an error, not a no-op.
pub(crate) const OP_DELETE_GROUP: Operation = Operation {
    name: "DeleteGroup",
    document: DELETE_GROUP,
    safe_to_repeat: false,
};
/// Not repeated: whether adding a member twice is an error is unconfirmed.
pub(crate) const OP_ADD_GROUP_MEMBERS: Operation = Operation {
    name: "AddGroupMembers",
    document: ADD_GROUP_MEMBERS,
    safe_to_repeat: false,
};
pub(crate) const OP_REMOVE_GROUP_MEMBER: Operation = Operation {
    name: "RemoveGroupMember",
    document: REMOVE_GROUP_MEMBER,
    safe_to_repeat: true,
};
pub(crate) const OP_DELETE_SCOPE_ACCESSES: Operation = Operation {
    name: "DeleteScopeAccesses",
    document: DELETE_SCOPE_ACCESSES,
    safe_to_repeat: true,
};
pub(crate) const OP_CREATE_FILE_ACCESSES: Operation = Operation {
    name: "CreateFileAccessesForContents",
    document: CREATE_FILE_ACCESSES,
    safe_to_repeat: true,
};
pub(crate) const OP_REMOVE_FILE_ACCESSES: Operation = Operation {
    name: "RemoveFileAccessesForContents",
    document: REMOVE_FILE_ACCESSES,
    safe_to_repeat: true,
};
pub(crate) const OP_PAGINATED_CONTENT_ACCESS: Operation = Operation {
    name: "PaginatedContent",
    document: PAGINATED_CONTENT_ACCESS,
    safe_to_repeat: true,
};

const PERMISSION_SYNC: &[(&str, &str)] = &[
    (OP_LIST_USERS.name, OP_LIST_USERS.document),
    (OP_LIST_GROUPS.name, OP_LIST_GROUPS.document),
    (OP_CREATE_GROUP.name, OP_CREATE_GROUP.document),
    (OP_DELETE_GROUP.name, OP_DELETE_GROUP.document),
    (OP_ADD_GROUP_MEMBERS.name, OP_ADD_GROUP_MEMBERS.document),
    (OP_REMOVE_GROUP_MEMBER.name, OP_REMOVE_GROUP_MEMBER.document),
    (
        OP_DELETE_SCOPE_ACCESSES.name,
        OP_DELETE_SCOPE_ACCESSES.document,
    ),
    (
        OP_CREATE_FILE_ACCESSES.name,
        OP_CREATE_FILE_ACCESSES.document,
    ),
    (
        OP_REMOVE_FILE_ACCESSES.name,
        OP_REMOVE_FILE_ACCESSES.document,
    ),
    (
        OP_PAGINATED_CONTENT_ACCESS.name,
        OP_PAGINATED_CONTENT_ACCESS.document,
    ),
];

/// The permission-sync documents as `(operation name, document)`, for the schema test. Users and
/// groups go to the scope-management service, accesses and contents to ingestion.
#[doc(hidden)]
pub fn permission_sync_documents() -> &'static [(&'static str, &'static str)] {
    PERMISSION_SYNC
}

const ALL: &[(&str, &str)] = &[
    (OP_USER.name, OP_USER.document),
    (
        OP_CREATE_SCOPE_ACCESSES.name,
        OP_CREATE_SCOPE_ACCESSES.document,
    ),
    (OP_PAGINATED_SCOPE.name, OP_PAGINATED_SCOPE.document),
    (OP_UPDATE_SCOPE.name, OP_UPDATE_SCOPE.document),
    (
        OP_GENERATE_SCOPES_BASED_ON_PATHS.name,
        OP_GENERATE_SCOPES_BASED_ON_PATHS.document,
    ),
    (OP_BULK_MOVE.name, OP_BULK_MOVE.document),
    (OP_DELETE_FOLDER.name, OP_DELETE_FOLDER.document),
    (OP_CONTENT_UPSERT.name, OP_CONTENT_UPSERT.document),
    (OP_PAGINATED_CONTENT.name, OP_PAGINATED_CONTENT.document),
    (
        OP_PAGINATED_CONTENT_IDS.name,
        OP_PAGINATED_CONTENT_IDS.document,
    ),
    (
        OP_PAGINATED_CONTENT_COUNT.name,
        OP_PAGINATED_CONTENT_COUNT.document,
    ),
    (
        OP_CONTENT_DELETE_BY_CONTENT_IDS.name,
        OP_CONTENT_DELETE_BY_CONTENT_IDS.document,
    ),
];

/// Every named document as `(operation name, document)`, for the schema test. `User` goes to
/// the scope-management service, everything else to ingestion. The anonymous
/// [`HEALTH_PING`] is not listed (it has no operation name); it is valid on both services.
#[doc(hidden)]
pub fn all_documents() -> &'static [(&'static str, &'static str)] {
    ALL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_document_names_its_operation() {
        for (name, document) in all_documents().iter().chain(permission_sync_documents()) {
            let head = document
                .split(['(', '{'])
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .collect::<Vec<_>>();
            assert_eq!(head.len(), 2, "{document}");
            assert!(matches!(head[0], "query" | "mutation"), "{document}");
            assert_eq!(head[1], *name, "{document}");
        }
    }
}

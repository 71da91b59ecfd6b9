//! The two GraphQL schemas (ingestion, scope management) with the types, fields, arguments and
//! input types the connector's documents use (`unique-api-detail.md` §3–§5), resolved against
//! [`super::state::Store`].
//!
//! Where the reference does not show the real schema (open question 9) the types follow the
//! service's Prisma/NestJS conventions: `<Name>WhereInput` with `{equals, in, startsWith, …}`
//! filters, nullable `skip`/`take`, `DateTime` and `JSON` scalars.

use std::sync::Arc;

use async_graphql::{
    Context, ErrorExtensions, InputObject, InputValueError, InputValueResult, Json, MaybeUndefined,
    Object, Scalar, ScalarType, SimpleObject, Value,
};
use chrono::{DateTime, Utc};

use super::access::{AccessType, EntityType, ScopeAccess};
use super::error::StoreError;
use super::shared::Shared;
use super::signing::GrantKind;
use super::state::{
    ContentRecord, DeleteFolderOutcome, IngestionState, OwnerType, ScopeRecord, Store,
    UploadTarget, UpsertInput,
};

/// Per-request facts the HTTP layer learned before executing: who calls, and which origin
/// serves the write URLs minted in this request.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub user_id: String,
    pub blob_base_url: String,
}

// ---------------------------------------------------------------------------------------------
// Scalars

/// `DateTime`: an RFC 3339 string with milliseconds, UTC (`2026-11-23T09:12:52.000Z`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct GqlDateTime(pub DateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for GqlDateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => DateTime::parse_from_rfc3339(s)
                .map(|t| GqlDateTime(t.with_timezone(&Utc)))
                .map_err(|e| InputValueError::custom(format!("invalid DateTime {s:?}: {e}"))),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(iso(self.0))
    }
}

pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

// ---------------------------------------------------------------------------------------------
// Filters

/// Prisma's `QueryMode`: `insensitive` compares strings case-insensitively.
#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "QueryMode", rename_items = "lowercase")]
pub(crate) enum QueryMode {
    Default,
    Insensitive,
}

/// Prisma-style filter on a non-null string column.
#[derive(InputObject, Debug, Default, Clone)]
pub(crate) struct StringFilter {
    equals: Option<String>,
    #[graphql(name = "in")]
    in_list: Option<Vec<String>>,
    #[graphql(name = "notIn")]
    not_in: Option<Vec<String>>,
    starts_with: Option<String>,
    ends_with: Option<String>,
    contains: Option<String>,
    not: Option<String>,
    mode: Option<QueryMode>,
}

impl StringFilter {
    pub(crate) fn matches(&self, value: &str) -> bool {
        if self.mode != Some(QueryMode::Insensitive) {
            return self.matches_exactly(value);
        }
        let lower = |v: &Option<String>| v.as_ref().map(|s| s.to_lowercase());
        let lower_all = |v: &Option<Vec<String>>| {
            v.as_ref()
                .map(|l| l.iter().map(|s| s.to_lowercase()).collect())
        };
        StringFilter {
            equals: lower(&self.equals),
            in_list: lower_all(&self.in_list),
            not_in: lower_all(&self.not_in),
            starts_with: lower(&self.starts_with),
            ends_with: lower(&self.ends_with),
            contains: lower(&self.contains),
            not: lower(&self.not),
            mode: None,
        }
        .matches_exactly(&value.to_lowercase())
    }

    fn matches_exactly(&self, value: &str) -> bool {
        self.equals.as_deref().is_none_or(|e| e == value)
            && self
                .in_list
                .as_ref()
                .is_none_or(|l| l.iter().any(|v| v == value))
            && self
                .not_in
                .as_ref()
                .is_none_or(|l| l.iter().all(|v| v != value))
            && self
                .starts_with
                .as_deref()
                .is_none_or(|p| value.starts_with(p))
            && self.ends_with.as_deref().is_none_or(|p| value.ends_with(p))
            && self.contains.as_deref().is_none_or(|p| value.contains(p))
            && self.not.as_deref().is_none_or(|n| n != value)
    }
}

/// Prisma-style filter on a nullable string column; `equals: null` matches NULL.
#[derive(InputObject, Debug, Default)]
pub(crate) struct StringNullableFilter {
    equals: MaybeUndefined<String>,
    #[graphql(name = "in")]
    in_list: Option<Vec<String>>,
    #[graphql(name = "notIn")]
    not_in: Option<Vec<String>>,
    starts_with: Option<String>,
    ends_with: Option<String>,
    contains: Option<String>,
    not: MaybeUndefined<String>,
}

impl StringNullableFilter {
    pub(crate) fn matches(&self, value: Option<&str>) -> bool {
        let equals = match &self.equals {
            MaybeUndefined::Undefined => true,
            MaybeUndefined::Null => value.is_none(),
            MaybeUndefined::Value(e) => value == Some(e.as_str()),
        };
        let not = match &self.not {
            MaybeUndefined::Undefined => true,
            MaybeUndefined::Null => value.is_some(),
            MaybeUndefined::Value(n) => value != Some(n.as_str()),
        };
        let text = |f: &dyn Fn(&str) -> bool| value.is_some_and(f);
        equals
            && not
            && self
                .in_list
                .as_ref()
                .is_none_or(|l| text(&|v| l.iter().any(|x| x == v)))
            && self
                .not_in
                .as_ref()
                .is_none_or(|l| value.is_none_or(|v| l.iter().all(|x| x != v)))
            && self
                .starts_with
                .as_deref()
                .is_none_or(|p| text(&|v| v.starts_with(p)))
            && self
                .ends_with
                .as_deref()
                .is_none_or(|p| text(&|v| v.ends_with(p)))
            && self
                .contains
                .as_deref()
                .is_none_or(|p| text(&|v| v.contains(p)))
    }
}

/// Filter on the `ownerType` enum column.
#[derive(InputObject, Debug, Default)]
#[graphql(name = "EnumOwnerTypeFilter")]
pub(crate) struct OwnerTypeFilter {
    equals: Option<OwnerType>,
    #[graphql(name = "in")]
    in_list: Option<Vec<OwnerType>>,
    not: Option<OwnerType>,
}

impl OwnerTypeFilter {
    fn matches(&self, value: OwnerType) -> bool {
        self.equals.is_none_or(|e| e == value)
            && self.in_list.as_ref().is_none_or(|l| l.contains(&value))
            && self.not.is_none_or(|n| n != value)
    }
}

#[derive(InputObject, Debug, Default)]
pub(crate) struct ScopeWhereInput {
    id: Option<StringFilter>,
    name: Option<StringFilter>,
    /// `null` selects top-level scopes.
    parent_id: MaybeUndefined<StringNullableFilter>,
    external_id: Option<StringNullableFilter>,
}

impl ScopeWhereInput {
    fn matches(&self, s: &ScopeRecord) -> bool {
        self.id.as_ref().is_none_or(|f| f.matches(&s.id))
            && self.name.as_ref().is_none_or(|f| f.matches(&s.name))
            && match &self.parent_id {
                MaybeUndefined::Undefined => true,
                MaybeUndefined::Null => s.parent_id.is_none(),
                MaybeUndefined::Value(f) => f.matches(s.parent_id.as_deref()),
            }
            && self
                .external_id
                .as_ref()
                .is_none_or(|f| f.matches(s.external_id.as_deref()))
    }
}

#[derive(InputObject, Debug, Default)]
pub(crate) struct ContentWhereInput {
    id: Option<StringFilter>,
    key: Option<StringFilter>,
    owner_id: Option<StringFilter>,
    owner_type: Option<OwnerTypeFilter>,
    title: Option<StringNullableFilter>,
    mime_type: Option<StringFilter>,
}

impl ContentWhereInput {
    /// The keys a `key.equals` / `key.in` filter allows, so the store can look them up
    /// instead of scanning every content.
    fn indexed_keys(&self) -> Option<Vec<&str>> {
        let key = self.key.as_ref()?;
        match (&key.equals, &key.in_list) {
            (Some(e), _) => Some(vec![e.as_str()]),
            (None, Some(list)) => Some(list.iter().map(String::as_str).collect()),
            (None, None) => None,
        }
    }

    fn matches(&self, c: &ContentRecord) -> bool {
        self.id.as_ref().is_none_or(|f| f.matches(&c.id))
            && self.key.as_ref().is_none_or(|f| f.matches(&c.key))
            && self
                .owner_id
                .as_ref()
                .is_none_or(|f| f.matches(&c.owner_id))
            && self
                .owner_type
                .as_ref()
                .is_none_or(|f| f.matches(c.owner_type))
            && self
                .title
                .as_ref()
                .is_none_or(|f| f.matches(c.title.as_deref()))
            && self
                .mime_type
                .as_ref()
                .is_none_or(|f| f.matches(&c.mime_type))
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs of mutations

#[derive(InputObject, Debug)]
pub(crate) struct ScopeAccessChangeDto {
    access_type: AccessType,
    entity_id: String,
    entity_type: EntityType,
}

impl From<ScopeAccessChangeDto> for ScopeAccess {
    fn from(a: ScopeAccessChangeDto) -> Self {
        ScopeAccess {
            entity_id: a.entity_id,
            entity_type: a.entity_type,
            access_type: a.access_type,
        }
    }
}

#[derive(InputObject, Debug)]
pub(crate) struct ScopeConnectInput {
    id: String,
}

#[derive(InputObject, Debug)]
pub(crate) struct ScopeParentRelationInput {
    connect: ScopeConnectInput,
}

#[derive(InputObject, Debug)]
pub(crate) struct ScopeUpdateInput {
    /// `null` clears the external id (the tenant-deletion marker).
    external_id: MaybeUndefined<String>,
    name: Option<String>,
    /// Re-parenting, spelt as the real API spells it.
    #[graphql(name = "parrentScope")]
    parrent_scope: Option<ScopeParentRelationInput>,
}

#[derive(InputObject, Debug)]
pub(crate) struct BulkMoveInput {
    scope_ids: Vec<String>,
    target_scope_id: String,
}

#[derive(InputObject, Debug)]
pub(crate) struct ContentCreateInput {
    key: String,
    title: Option<String>,
    mime_type: String,
    owner_type: Option<OwnerType>,
    url: Option<String>,
    byte_size: Option<i64>,
    metadata: Option<Json<serde_json::Value>>,
    ingestion_config: Option<Json<serde_json::Value>>,
    expires_at: Option<GqlDateTime>,
    file_access: Option<Vec<String>>,
}

// ---------------------------------------------------------------------------------------------
// Output types

#[derive(SimpleObject, Debug)]
#[graphql(name = "ScopeAccess")]
pub(crate) struct ScopeAccessNode {
    entity_id: String,
    #[graphql(name = "type")]
    access_type: AccessType,
    entity_type: EntityType,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "Scope")]
pub(crate) struct ScopeNode {
    id: String,
    name: String,
    parent_id: Option<String>,
    external_id: Option<String>,
    scope_access: Vec<ScopeAccessNode>,
    created_at: GqlDateTime,
    updated_at: GqlDateTime,
}

impl From<&ScopeRecord> for ScopeNode {
    fn from(s: &ScopeRecord) -> Self {
        Self {
            id: s.id.clone(),
            name: s.name.clone(),
            parent_id: s.parent_id.clone(),
            external_id: s.external_id.clone(),
            scope_access: s
                .accesses
                .iter()
                .map(|a: &ScopeAccess| ScopeAccessNode {
                    entity_id: a.entity_id.clone(),
                    access_type: a.access_type,
                    entity_type: a.entity_type,
                })
                .collect(),
            created_at: GqlDateTime(s.created_at),
            updated_at: GqlDateTime(s.updated_at),
        }
    }
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "PaginatedScope")]
pub(crate) struct PaginatedScopeNode {
    nodes: Vec<ScopeNode>,
    total_count: i32,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "ContentSource")]
pub(crate) struct ContentSourceNode {
    kind: Option<String>,
    name: Option<String>,
    owner_type: Option<String>,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "Content")]
pub(crate) struct ContentNode {
    id: String,
    key: String,
    title: Option<String>,
    byte_size: i64,
    mime_type: String,
    owner_type: OwnerType,
    owner_id: String,
    url: Option<String>,
    write_url: Option<String>,
    read_url: Option<String>,
    created_at: GqlDateTime,
    updated_at: GqlDateTime,
    internally_stored_at: Option<GqlDateTime>,
    expires_at: Option<GqlDateTime>,
    metadata: Option<Json<serde_json::Value>>,
    ingestion_config: Option<Json<serde_json::Value>>,
    ingestion_state: IngestionState,
    file_access: Vec<String>,
    store_internally: bool,
    source: ContentSourceNode,
}

fn content_node(c: &ContentRecord, file_access: Vec<String>) -> ContentNode {
    ContentNode {
        id: c.id.clone(),
        key: c.key.clone(),
        title: c.title.clone(),
        byte_size: c.byte_size().unwrap_or(0),
        mime_type: c.mime_type.clone(),
        owner_type: c.owner_type,
        owner_id: c.owner_id.clone(),
        url: c.url.clone(),
        write_url: c.write_url.clone(),
        read_url: c.read_url.clone(),
        created_at: GqlDateTime(c.created_at),
        updated_at: GqlDateTime(c.updated_at),
        internally_stored_at: c.internally_stored_at.map(GqlDateTime),
        expires_at: c.expires_at.map(GqlDateTime),
        metadata: c.metadata.clone().map(Json),
        ingestion_config: c.ingestion_config.clone().map(Json),
        ingestion_state: c.ingestion_state,
        file_access,
        store_internally: c.store_internally,
        source: ContentSourceNode {
            kind: c.source_kind.clone(),
            name: c.source_name.clone(),
            owner_type: c.source_owner_type.clone(),
        },
    }
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "PaginatedContent")]
pub(crate) struct PaginatedContentNode {
    nodes: Vec<ContentNode>,
    total_count: i32,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "DeletedContent")]
pub(crate) struct DeletedContentNode {
    id: String,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "BulkMoveResult")]
pub(crate) struct BulkMoveResultNode {
    scope_ids: Vec<String>,
    async_metadata_rebuild: bool,
    job_id: Option<String>,
    affected_files: Option<i32>,
    message: Option<String>,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "DeletedFolder")]
pub(crate) struct DeletedFolderNode {
    id: String,
    name: String,
    path: String,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "FailedFolder")]
pub(crate) struct FailedFolderNode {
    id: String,
    name: String,
    fail_reason: String,
    path: String,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "DeleteFolderResult")]
pub(crate) struct DeleteFolderResultNode {
    success_folders: Vec<DeletedFolderNode>,
    failed_folders: Vec<FailedFolderNode>,
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "User")]
pub(crate) struct UserNode {
    pub id: String,
    pub email: String,
    pub active: bool,
    pub company_id: String,
    pub display_name: String,
}

impl From<&super::directory::UserRecord> for UserNode {
    fn from(u: &super::directory::UserRecord) -> Self {
        Self {
            id: u.id.clone(),
            email: u.email.clone(),
            active: u.active,
            company_id: u.company_id.clone(),
            display_name: u.display_name.clone(),
        }
    }
}

#[derive(SimpleObject, Debug)]
#[graphql(name = "Me")]
pub(crate) struct MeNode {
    user: UserNode,
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A GraphQL error in the NestJS/Apollo shape the reference client reads
/// (`extensions.code`, `extensions.response.statusCode`).
pub(crate) fn gql_error(code: &str, status: u16, message: &str) -> async_graphql::Error {
    let code = code.to_owned();
    let msg = message.to_owned();
    async_graphql::Error::new(message).extend_with(move |_, ext| {
        ext.set("code", code.clone());
        if let Ok(response) = Value::from_json(serde_json::json!({
            "statusCode": status,
            "message": msg,
        })) {
            ext.set("response", response);
        }
    })
}

pub(crate) fn store_error(e: StoreError) -> async_graphql::Error {
    {
        let (code, status) = match &e {
            StoreError::ScopeNotFound(_)
            | StoreError::ContentNotFound(_)
            | StoreError::NotFound(_) => ("NOT_FOUND", 404),
            StoreError::ExternalIdTaken(_)
            | StoreError::ScopeExists(_)
            | StoreError::Conflict(_) => ("CONFLICT", 409),
            StoreError::Invalid(_) => ("BAD_USER_INPUT", 400),
            StoreError::Forbidden(_) => ("FORBIDDEN", 403),
        };
        gql_error(code, status, &e.to_string())
    }
}

pub(crate) fn shared<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Arc<Shared>> {
    ctx.data::<Arc<Shared>>()
}

/// The user whose scope grants are checked, or `None` when enforcement is off.
fn enforced_user<'a>(ctx: &Context<'a>) -> async_graphql::Result<Option<&'a str>> {
    if !shared(ctx)?.config.enforce_scope_access {
        return Ok(None);
    }
    Ok(Some(ctx.data::<Caller>()?.user_id.as_str()))
}

/// Whether the content may be deleted (unknown ids pass: deleting them is a no-op).
fn writable(store: &Store, user: Option<&str>, content_id: &str) -> bool {
    match (user, store.contents.get(content_id)) {
        (Some(u), Some(c)) => store.allows(&c.owner_id, u, AccessType::Write),
        _ => true,
    }
}

fn visible(store: &Store, user: Option<&str>, scope_id: &str) -> bool {
    user.is_none_or(|u| store.allows(scope_id, u, AccessType::Read))
}

pub(crate) fn page(
    skip: Option<i32>,
    take: Option<i32>,
) -> async_graphql::Result<(usize, Option<usize>)> {
    let skip = skip.unwrap_or(0);
    if skip < 0 {
        return Err(gql_error(
            "BAD_USER_INPUT",
            400,
            "skip must not be negative",
        ));
    }
    let take = match take {
        Some(t) if t < 0 => {
            return Err(gql_error(
                "BAD_USER_INPUT",
                400,
                "take must not be negative",
            ))
        }
        Some(t) => Some(usize::try_from(t).unwrap_or(0)),
        None => None,
    };
    Ok((usize::try_from(skip).unwrap_or(0), take))
}

pub(crate) fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Ingestion roots

#[derive(Debug, Default)]
pub(crate) struct IngestionQuery;

#[Object(name = "Query")]
impl IngestionQuery {
    /// Scopes matching `where`, in creation order; `take: 0` returns only the count.
    async fn paginated_scope(
        &self,
        ctx: &Context<'_>,
        skip: Option<i32>,
        take: Option<i32>,
        #[graphql(name = "where")] filter: Option<ScopeWhereInput>,
    ) -> async_graphql::Result<PaginatedScopeNode> {
        let (skip, take) = page(skip, take)?;
        let filter = filter.unwrap_or_default();
        let user = enforced_user(ctx)?;
        let store = shared(ctx)?.store();
        let matching: Vec<&ScopeRecord> = store
            .scopes_ordered()
            .into_iter()
            .filter(|s| filter.matches(s) && visible(&store, user, &s.id))
            .collect();
        Ok(PaginatedScopeNode {
            total_count: count(matching.len()),
            nodes: matching
                .into_iter()
                .skip(skip)
                .take(take.unwrap_or(usize::MAX))
                .map(ScopeNode::from)
                .collect(),
        })
    }

    /// Contents matching `where`, in creation order; `take: 0` returns only the count.
    async fn paginated_content(
        &self,
        ctx: &Context<'_>,
        skip: Option<i32>,
        take: Option<i32>,
        #[graphql(name = "where")] filter: Option<ContentWhereInput>,
    ) -> async_graphql::Result<PaginatedContentNode> {
        let (skip, take) = page(skip, take)?;
        let filter = filter.unwrap_or_default();
        let user = enforced_user(ctx)?;
        let store = shared(ctx)?.store();
        let keys = filter.indexed_keys();
        let matching = store.contents_matching(keys.as_deref(), |c| {
            filter.matches(c) && visible(&store, user, &c.owner_id)
        });
        Ok(PaginatedContentNode {
            total_count: count(matching.len()),
            nodes: matching
                .into_iter()
                .skip(skip)
                .take(take.unwrap_or(usize::MAX))
                .map(|c| content_node(c, store.file_access(c)))
                .collect(),
        })
    }

    /// One content by id (`null` when unknown).
    async fn content_by_id(
        &self,
        ctx: &Context<'_>,
        content_id: String,
    ) -> async_graphql::Result<Option<ContentNode>> {
        let user = enforced_user(ctx)?;
        let store = shared(ctx)?.store();
        Ok(store
            .contents
            .get(&content_id)
            .filter(|c| visible(&store, user, &c.owner_id))
            .map(|c| content_node(c, store.file_access(c))))
    }
}

#[derive(Debug, Default)]
pub(crate) struct IngestionMutation;

#[Object(name = "IngestionMutationCore")]
impl IngestionMutation {
    /// Grants access on a scope (idempotent).
    async fn create_scope_accesses(
        &self,
        ctx: &Context<'_>,
        scope_id: String,
        scope_accesses: Vec<ScopeAccessChangeDto>,
        apply_to_sub_scopes: Option<bool>,
        skip_file_access_propagation: Option<bool>,
    ) -> async_graphql::Result<bool> {
        let accesses: Vec<ScopeAccess> = scope_accesses.into_iter().map(Into::into).collect();
        let sub_scopes = apply_to_sub_scopes.unwrap_or(false);
        let mut store = shared(ctx)?.store();
        store
            .grant(&scope_id, &accesses, sub_scopes)
            .map_err(store_error)?;
        // Without `skipFileAccessPropagation: true` the files of the scopes get the accesses
        // too (the parameter's name says propagation is the default; unconfirmed).
        if !skip_file_access_propagation.unwrap_or(false) {
            let targets = store.grant_targets(&scope_id, sub_scopes);
            store.propagate_to_files(&targets, &accesses, true);
        }
        Ok(true)
    }

    /// Sets or clears the external id, renames or re-parents a scope.
    async fn update_scope(
        &self,
        ctx: &Context<'_>,
        id: String,
        input: ScopeUpdateInput,
    ) -> async_graphql::Result<ScopeNode> {
        let external_id = match input.external_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(v) => Some(Some(v)),
        };
        let parent = input.parrent_scope.map(|p| p.connect.id);
        let user = enforced_user(ctx)?;
        let mut store = shared(ctx)?.store();
        store
            .require(user, &id, AccessType::Manage)
            .map_err(store_error)?;
        if let Some(parent) = &parent {
            store
                .require(user, parent, AccessType::Manage)
                .map_err(store_error)?;
        }
        let scope = store
            .update_scope(&id, external_id, input.name, parent)
            .map_err(store_error)?;
        Ok(ScopeNode::from(scope))
    }

    /// One leaf scope per path, in order, creating what is missing.
    async fn generate_scopes_based_on_paths(
        &self,
        ctx: &Context<'_>,
        paths: Vec<String>,
        inherit_access: Option<bool>,
    ) -> async_graphql::Result<Vec<ScopeNode>> {
        let user = enforced_user(ctx)?;
        let mut store = shared(ctx)?.store();
        let leaves = store
            .generate_scopes(&paths, inherit_access.unwrap_or(false), user)
            .map_err(store_error)?;
        Ok(leaves
            .iter()
            .filter_map(|id| store.scopes.get(id))
            .map(ScopeNode::from)
            .collect())
    }

    /// Re-parents scopes under a target scope.
    async fn bulk_move(
        &self,
        ctx: &Context<'_>,
        input: BulkMoveInput,
    ) -> async_graphql::Result<BulkMoveResultNode> {
        let user = enforced_user(ctx)?;
        let mut store = shared(ctx)?.store();
        for id in input.scope_ids.iter().chain([&input.target_scope_id]) {
            store
                .require(user, id, AccessType::Manage)
                .map_err(store_error)?;
        }
        let affected = store
            .bulk_move(&input.scope_ids, &input.target_scope_id)
            .map_err(store_error)?;
        Ok(BulkMoveResultNode {
            scope_ids: input.scope_ids,
            async_metadata_rebuild: false,
            job_id: None,
            affected_files: Some(count(affected)),
            message: None,
        })
    }

    /// Deletes a scope (recursively: its subtree and content). Failures are reported in
    /// `failedFolders`, not thrown.
    async fn delete_folder(
        &self,
        ctx: &Context<'_>,
        scope_id: String,
        recursive: bool,
    ) -> async_graphql::Result<DeleteFolderResultNode> {
        let user = enforced_user(ctx)?;
        let mut store = shared(ctx)?.store();
        let outcome = match store.require(user, &scope_id, AccessType::Manage) {
            Ok(()) => store.delete_folder(&scope_id, recursive),
            Err(e) => DeleteFolderOutcome {
                success: Vec::new(),
                failed: vec![(
                    scope_id.clone(),
                    store
                        .scopes
                        .get(&scope_id)
                        .map(|s| s.name.clone())
                        .unwrap_or_default(),
                    e.to_string(),
                    store.scope_path(&scope_id),
                )],
            },
        };
        Ok(DeleteFolderResultNode {
            success_folders: outcome
                .success
                .into_iter()
                .map(|(id, name, path)| DeletedFolderNode { id, name, path })
                .collect(),
            failed_folders: outcome
                .failed
                .into_iter()
                .map(|(id, name, fail_reason, path)| FailedFolderNode {
                    id,
                    name,
                    fail_reason,
                    path,
                })
                .collect(),
        })
    }

    /// Register (no `fileUrl`: returns a signed write URL) or finalize (`fileUrl` = the read
    /// URL from the registration) a content, upserted by key.
    #[allow(clippy::too_many_arguments)]
    async fn content_upsert(
        &self,
        ctx: &Context<'_>,
        input: ContentCreateInput,
        file_url: Option<String>,
        chat_id: Option<String>,
        scope_id: Option<String>,
        source_owner_type: Option<String>,
        source_name: Option<String>,
        source_kind: Option<String>,
        store_internally: Option<bool>,
        base_url: Option<String>,
    ) -> async_graphql::Result<ContentNode> {
        let _ = chat_id;
        let shared = shared(ctx)?;
        let caller = ctx.data::<Caller>()?;
        let upsert = UpsertInput {
            key: input.key,
            title: input.title,
            mime_type: input.mime_type,
            owner_type: input.owner_type.unwrap_or(OwnerType::Scope),
            url: input.url,
            byte_size: input.byte_size,
            metadata: input.metadata.map(|j| j.0),
            ingestion_config: input.ingestion_config.map(|j| j.0),
            expires_at: input.expires_at.map(|t| t.0),
            scope_id,
            source_kind,
            source_name,
            source_owner_type,
            base_url,
            store_internally: store_internally.unwrap_or(false),
            file_access: input.file_access,
        };
        let user = enforced_user(ctx)?;
        let mut store = shared.store();
        if let Some(scope_id) = &upsert.scope_id {
            store
                .require(user, scope_id, AccessType::Write)
                .map_err(store_error)?;
        }
        let record = match file_url {
            None => {
                let record = store.register(upsert).map_err(store_error)?;
                let target = UploadTarget {
                    content_id: record.id.clone(),
                    generation: record.generation,
                };
                let base = caller.blob_base_url.trim_end_matches('/');
                let write = shared.sign(GrantKind::Write, &target);
                let read = shared.sign(GrantKind::Read, &target);
                record.write_url = Some(format!("{base}/scoped/upload?key={write}"));
                record.read_url = Some(format!("{base}/scoped/read?key={read}"));
                &*record
            }
            Some(file_url) => &*store.finalize(upsert, &file_url).map_err(store_error)?,
        };
        let record = record.clone();
        Ok(content_node(&record, store.file_access(&record)))
    }

    /// Deletes contents by id; returns the ids actually deleted.
    async fn content_delete_by_content_ids(
        &self,
        ctx: &Context<'_>,
        content_ids: Vec<String>,
    ) -> async_graphql::Result<Vec<DeletedContentNode>> {
        let user = enforced_user(ctx)?;
        let mut store = shared(ctx)?.store();
        Ok(content_ids
            .into_iter()
            .filter(|id| writable(&store, user, id) && store.delete_content(id))
            .map(|id| DeletedContentNode { id })
            .collect())
    }

    /// Deletes one content; `false` when it did not exist.
    async fn content_delete(&self, ctx: &Context<'_>, id: String) -> async_graphql::Result<bool> {
        let user = enforced_user(ctx)?;
        let mut store = shared(ctx)?.store();
        Ok(writable(&store, user, &id) && store.delete_content(&id))
    }
}

// ---------------------------------------------------------------------------------------------
// Scope-management root

#[derive(Debug, Default)]
pub(crate) struct ScopeManagementQuery;

#[Object(name = "ScopeManagementQueryCore")]
impl ScopeManagementQuery {
    /// The calling service user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<MeNode> {
        let caller = ctx.data::<Caller>()?;
        let store = shared(ctx)?.store();
        let user = match store.directory.users.get(&caller.user_id) {
            Some(u) => UserNode::from(u),
            None => UserNode {
                id: caller.user_id.clone(),
                email: String::new(),
                active: true,
                company_id: shared(ctx)?.config.company_id.clone(),
                display_name: caller.user_id.clone(),
            },
        };
        Ok(MeNode { user })
    }
}

#[cfg(test)]
mod probe {
    struct Q;
    #[async_graphql::Object]
    impl Q {
        async fn a(&self, x: String) -> i32 {
            let _ = x;
            1
        }
    }
    #[test]
    fn probe() {
        let schema = async_graphql::Schema::new(
            Q,
            async_graphql::EmptyMutation,
            async_graphql::EmptySubscription,
        );
        let r = futures::executor::block_on(schema.execute("query Z($x: Int!) { a(x: $x) }"));
        eprintln!("{:?}", r.errors);
        let r = futures::executor::block_on(schema.execute(
            async_graphql::Request::new("query Z($x: Int!) { a(x: $x) }").variables(
                async_graphql::Variables::from_json(serde_json::json!({"x": 1})),
            ),
        ));
        eprintln!("{:?}", r.errors);
    }
}

//! The permission read endpoints of both flavours, with the shapes and paging of the real APIs
//! (docs/permissions-api.md has each request, answer and source):
//!
//! | Cloud (under `/ex/confluence/<cloudId>/wiki`) | Data Center |
//! |---|---|
//! | `GET /api/v2/spaces/{id}/permissions` (cursor) | `GET /rest/api/space/{key}/permissions` (9.1+, unpaged) |
//! | `GET /rest/api/content/{id}/restriction/byOperation[/{op}]` | the same path |
//! | `expand=restrictions.read.restrictions.user,…` on content search | the same |
//! | `GET /rest/api/group`, `GET /rest/api/group/{groupId}/membersByGroupId` | `GET /rest/api/group`, `GET /rest/api/group/{name}/member` |
//! | `GET /rest/api/user?accountId=`, `GET /rest/api/user/bulk`, `POST /api/v2/users-bulk` | `GET /rest/api/user?username=\|key=` |
//!
//! The client identity ([`super::AccessModel::client_account`]) hides what that account cannot
//! view: 404 on restrictions of content it cannot read and on permissions of spaces it cannot
//! view, as the real APIs answer for content that "does not exist or is not viewable".

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Map, Value};

use super::json::{
    cloud_user_v1, dc_user_v1, group_v1, restriction_v1, Subjects, RESTRICTION_SUBJECTS_PAGE,
};
use super::readers::ClientFilter;
use super::{AccessModel, CloudAnonymousPrincipal, Group, Principal, RestrictionOperation};
use crate::confluence::api::{v2_limit, v2_response};
use crate::confluence::sim::{ConfluenceSim, Flavour, Store};
use crate::confluence::view::View;
use crate::confluence::web::{
    decode_cursor, encode_cursor, query_string, v1_error, v2_error, Params,
};

/// Default and maximum page size of the v1 group and member listings.
const GROUPS_PAGE: usize = 200;

const WIKI: &str = "/ex/confluence/{cloud_id}/wiki";

fn at(path: &str) -> String {
    [WIKI, path].concat()
}

impl Store {
    /// What the connector's client may see (everything unless a client account is set).
    pub(crate) fn client_filter(&self) -> ClientFilter<'_> {
        ClientFilter::of(&self.access)
    }
}

/// Cloud routes, merged into the gateway router inside its token check.
pub(crate) fn cloud_routes() -> Router<ConfluenceSim> {
    Router::new()
        .route(
            &at("/api/v2/spaces/{id}/permissions"),
            get(cloud_space_permissions),
        )
        .route(
            &at("/rest/api/content/{id}/restriction/byOperation"),
            get(cloud_restrictions_all),
        )
        .route(
            &at("/rest/api/content/{id}/restriction/byOperation/{op}"),
            get(cloud_restrictions_one),
        )
        .route(&at("/rest/api/group"), get(cloud_groups))
        .route(
            &at("/rest/api/group/{group_id}/membersByGroupId"),
            get(cloud_group_members),
        )
        .route(&at("/rest/api/user"), get(cloud_user))
        .route(&at("/rest/api/user/bulk"), get(cloud_user_bulk))
        .route(&at("/api/v2/users-bulk"), post(cloud_users_bulk_v2))
}

/// Data Center routes, merged into the DC router inside its credential check.
pub(crate) fn dc_routes() -> Router<ConfluenceSim> {
    Router::new()
        .route(
            "/rest/api/space/{key}/permissions",
            get(dc_space_permissions),
        )
        .route(
            "/rest/api/content/{id}/restriction/byOperation",
            get(dc_restrictions_all),
        )
        .route(
            "/rest/api/content/{id}/restriction/byOperation/{op}",
            get(dc_restrictions_one),
        )
        .route("/rest/api/group", get(dc_groups))
        .route("/rest/api/group/{name}/member", get(dc_group_members))
        .route("/rest/api/user", get(dc_user))
}

fn view<'a>(
    sim: &ConfluenceSim,
    flavour: Flavour,
    store: &'a Store,
    urls: &'a crate::confluence::sim::ConfluenceUrls,
) -> View<'a> {
    View {
        flavour,
        urls,
        store,
        inline_attachments: sim.config().limits.inline_attachments,
    }
}

fn bad_request(message: &str) -> Response {
    v1_error(StatusCode::BAD_REQUEST, message)
}

/// `start` and `limit` of a v1 listing: `limit` defaults to `default` and is clipped to `max`.
fn offset_page(params: &Params, default: usize, max: usize) -> Result<(usize, usize), String> {
    match (params.usize("start"), params.usize("limit")) {
        (Ok(s), Ok(l)) => Ok((s.unwrap_or(0), l.unwrap_or(default).clamp(1, max))),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// A v1 offset list: `{results, start, limit, size, _links{base, context, next?}}`.
fn v1_list(
    view: &View<'_>,
    results: Vec<Value>,
    start: usize,
    limit: usize,
    total: usize,
    next_path: &str,
    extra: &[(&str, String)],
) -> Value {
    let size = results.len();
    let mut links = Map::new();
    links.insert("base".into(), json!(view.base()));
    links.insert("context".into(), json!(view.context()));
    if start + size < total {
        let mut pairs: Vec<(&str, String)> = extra.to_vec();
        pairs.push(("limit", limit.to_string()));
        pairs.push(("start", (start + size).to_string()));
        links.insert(
            "next".into(),
            json!(format!("{next_path}?{}", query_string(&pairs))),
        );
    }
    json!({"results": results, "start": start, "limit": limit, "size": size, "_links": links})
}

// ---- rendering ------------------------------------------------------------------------------

/// Reads `expand` for one restriction: `restrictions.user`, `restrictions.group`, or with the
/// operation in front (`read.restrictions.user`) as `byOperation` takes them.
fn subjects_of(params: &Params, op: RestrictionOperation) -> Subjects {
    let list = params.expand();
    let has = |what: &str| {
        list.iter().any(|e| {
            e == &format!("restrictions.{what}")
                || e == &format!("{}.restrictions.{what}", op.as_str())
        })
    };
    Subjects {
        user: has("user"),
        group: has("group"),
    }
}

// ---- shared handlers ------------------------------------------------------------------------

fn restrictions(
    sim: &ConfluenceSim,
    flavour: Flavour,
    id: &str,
    op: Option<&str>,
    params: &Params,
) -> Response {
    let store = sim.read();
    let urls = sim.urls();
    let v = view(sim, flavour, &store, &urls);
    let not_found = || {
        v1_error(
            StatusCode::NOT_FOUND,
            &format!("No content found with id : ContentId{{id={id}}}"),
        )
    };
    let Some(content) = store.content(id) else {
        return not_found();
    };
    if !store.client_filter().reads(&store, content) {
        return not_found();
    }
    let (start, limit) =
        match offset_page(params, RESTRICTION_SUBJECTS_PAGE, RESTRICTION_SUBJECTS_PAGE) {
            Ok(p) => p,
            Err(e) => return bad_request(&e),
        };
    match op {
        Some(key) => {
            let Some(op) = RestrictionOperation::parse(key) else {
                return bad_request(&format!(
                    "Unsupported operation key: {key} (read or update)"
                ));
            };
            axum::Json(restriction_v1(
                &v,
                content,
                op,
                subjects_of(params, op),
                start,
                limit,
            ))
            .into_response()
        }
        None => {
            let mut out = Map::new();
            for op in [RestrictionOperation::Read, RestrictionOperation::Update] {
                out.insert(
                    op.as_str().into(),
                    restriction_v1(
                        &v,
                        content,
                        op,
                        subjects_of(params, op),
                        0,
                        RESTRICTION_SUBJECTS_PAGE,
                    ),
                );
            }
            out.insert(
                "_links".into(),
                json!({"base": v.base(), "context": v.context(), "self": format!("{}/rest/api/content/{id}/restriction/byOperation", v.base())}),
            );
            axum::Json(Value::Object(out)).into_response()
        }
    }
}

/// Groups in name order (Cloud documents alphabetical order), offset pages of at most 200.
fn groups(sim: &ConfluenceSim, flavour: Flavour, params: &Params) -> Response {
    let (start, limit) = match offset_page(params, GROUPS_PAGE, GROUPS_PAGE) {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    let store = sim.read();
    let urls = sim.urls();
    let v = view(sim, flavour, &store, &urls);
    let mut all: Vec<&Group> = store.access.groups.iter().collect();
    all.sort_by(|a, b| a.name.cmp(&b.name));
    let results = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|g| group_v1(&v, g))
        .collect();
    axum::Json(v1_list(
        &v,
        results,
        start,
        limit,
        all.len(),
        "/rest/api/group",
        &[],
    ))
    .into_response()
}

fn members_page(
    sim: &ConfluenceSim,
    flavour: Flavour,
    group: &Group,
    params: &Params,
    next_path: &str,
    start: usize,
    limit: usize,
) -> Response {
    let store = sim.read();
    let urls = sim.urls();
    let v = view(sim, flavour, &store, &urls);
    let members = store.access.members(group);
    let with_operations = params.expand().iter().any(|e| e == "operations");
    let email = match flavour {
        Flavour::DataCenter if params.expand().iter().any(|e| e == "details.personal") => {
            Some(sim.permissions_config().dc_email_visibility)
        }
        _ => None,
    };
    let results = members
        .iter()
        .skip(start)
        .take(limit)
        .map(|u| match flavour {
            Flavour::Cloud => cloud_user_v1(&v, u, with_operations),
            Flavour::DataCenter => dc_user_v1(&v, u, email),
        })
        .collect();
    let expand = params.expand().join(",");
    let extra: Vec<(&str, String)> = if expand.is_empty() {
        vec![]
    } else {
        vec![("expand", expand)]
    };
    axum::Json(v1_list(
        &v,
        results,
        start,
        limit,
        members.len(),
        next_path,
        &extra,
    ))
    .into_response()
}

// ---- Cloud ----------------------------------------------------------------------------------

async fn cloud_space_permissions(
    State(sim): State<ConfluenceSim>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let params = Params::parse(q.as_deref());
    let limits = &sim.config().limits;
    let limit = match v2_limit(&params, limits.v2_default, limits.v2_max) {
        Ok(l) => l,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, &e),
    };
    if id.parse::<u64>().is_err() {
        return v2_error(
            StatusCode::BAD_REQUEST,
            &format!("id must be numeric, got {id:?}"),
        );
    }
    let after = match params.get("cursor") {
        None | Some("") => None,
        Some(c) => match decode_cursor("v2spacepermissions", limit, c) {
            Ok((after, _)) => Some(after),
            Err(e) => return v2_error(StatusCode::BAD_REQUEST, &e),
        },
    };
    let store = sim.read();
    let urls = sim.urls();
    let v = view(&sim, Flavour::Cloud, &store, &urls);
    let Some(space) = store.dataset.spaces.iter().find(|s| s.id == id) else {
        return v2_error(
            StatusCode::NOT_FOUND,
            &format!("No space found with id {id}"),
        );
    };
    if !store.client_filter().reads_space(&space.key) {
        return v2_error(
            StatusCode::NOT_FOUND,
            &format!("No space found with id {id}"),
        );
    }
    let access = &store.access;
    let anonymous = sim.permissions_config().cloud_anonymous_principal;
    let assignments: Vec<Value> = access
        .space_permissions_of(&space.key)
        .into_iter()
        .flat_map(|p| {
            let principal = match p.principal() {
                Some(Principal::User(u)) => json!({"type": "user", "id": u}),
                Some(Principal::Group(g)) => json!({
                    "type": "group",
                    "id": access.group(g).map(Group::cloud_id).unwrap_or_default(),
                }),
                Some(Principal::Anonymous) => match anonymous {
                    CloudAnonymousPrincipal::UserNamedAnonymous => {
                        json!({"type": "user", "id": "anonymous"})
                    }
                    CloudAnonymousPrincipal::AnonymousType => json!({"type": "anonymous"}),
                },
                None => Value::Null,
            };
            p.operations
                .iter()
                .map(move |op| {
                    let (key, target) = op.split_once('/').unwrap_or((op, "space"));
                    (principal.clone(), key.to_owned(), target.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .enumerate()
        .map(|(i, (principal, key, target))| {
            json!({
                "id": (i + 1).to_string(),
                "principal": principal,
                "operation": {"key": key, "targetType": target},
            })
        })
        .collect();
    let first = after.map_or(0, |a| usize::try_from(a).unwrap_or(usize::MAX));
    let page: Vec<Value> = assignments
        .into_iter()
        .skip(first)
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    let page: Vec<Value> = page.into_iter().take(limit).collect();
    let next = more.then(|| encode_cursor("v2spacepermissions", limit, (first + limit) as u64, 0));
    v2_response(
        &v,
        &format!("/wiki/api/v2/spaces/{id}/permissions"),
        &params,
        page,
        next,
    )
}

fn cloud_gone_restrictions(sim: &ConfluenceSim) -> Option<Response> {
    sim.permissions_config().cloud_v1_restrictions_gone.then(|| {
        v1_error(
            StatusCode::GONE,
            "This v1 endpoint has been removed through the API gateway; use the v2 API or v1 content/search",
        )
    })
}

async fn cloud_restrictions_all(
    State(sim): State<ConfluenceSim>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(gone) = cloud_gone_restrictions(&sim) {
        return gone;
    }
    restrictions(
        &sim,
        Flavour::Cloud,
        &id,
        None,
        &Params::parse(q.as_deref()),
    )
}

async fn cloud_restrictions_one(
    State(sim): State<ConfluenceSim>,
    Path((_, id, op)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(gone) = cloud_gone_restrictions(&sim) {
        return gone;
    }
    restrictions(
        &sim,
        Flavour::Cloud,
        &id,
        Some(&op),
        &Params::parse(q.as_deref()),
    )
}

async fn cloud_groups(State(sim): State<ConfluenceSim>, RawQuery(q): RawQuery) -> Response {
    groups(&sim, Flavour::Cloud, &Params::parse(q.as_deref()))
}

/// `membersByGroupId`: a `limit` above 200 is refused (400), as documented, not clipped.
async fn cloud_group_members(
    State(sim): State<ConfluenceSim>,
    Path((_, group_id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let params = Params::parse(q.as_deref());
    let (start, limit) = match (params.usize("start"), params.usize("limit")) {
        (Ok(s), Ok(l)) => (s.unwrap_or(0), l.unwrap_or(GROUPS_PAGE)),
        (Err(e), _) | (_, Err(e)) => return bad_request(&e),
    };
    if limit == 0 || limit > GROUPS_PAGE {
        return bad_request(&format!(
            "limit must be between 1 and {GROUPS_PAGE}, got {limit}"
        ));
    }
    let group = sim.read().access.group_by_cloud_id(&group_id).cloned();
    match group {
        Some(g) => members_page(
            &sim,
            Flavour::Cloud,
            &g,
            &params,
            &format!("/rest/api/group/{group_id}/membersByGroupId"),
            start,
            limit,
        ),
        None => v1_error(
            StatusCode::NOT_FOUND,
            &format!("No group found with id {group_id}"),
        ),
    }
}

async fn cloud_user(State(sim): State<ConfluenceSim>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let Some(account) = params.get("accountId").filter(|a| !a.is_empty()) else {
        return bad_request("accountId is required");
    };
    let store = sim.read();
    let urls = sim.urls();
    let v = view(&sim, Flavour::Cloud, &store, &urls);
    match store.access.user(account) {
        Some(u) => axum::Json(cloud_user_v1(
            &v,
            u,
            params.expand().iter().any(|e| e == "operations"),
        ))
        .into_response(),
        None => v1_error(
            StatusCode::NOT_FOUND,
            &format!("No user found with accountId {account}"),
        ),
    }
}

/// `user/bulk`: the known accounts among the requested ones (at most 200), unknown ones left
/// out.
async fn cloud_user_bulk(State(sim): State<ConfluenceSim>, RawQuery(q): RawQuery) -> Response {
    let params = Params::parse(q.as_deref());
    let ids = params.list("accountId");
    if ids.is_empty() {
        return bad_request("accountId is required");
    }
    if ids.len() > GROUPS_PAGE {
        return bad_request(&format!(
            "at most {GROUPS_PAGE} accountIds, got {}",
            ids.len()
        ));
    }
    let with_operations = params.expand().iter().any(|e| e == "operations");
    let store = sim.read();
    let urls = sim.urls();
    let v = view(&sim, Flavour::Cloud, &store, &urls);
    let results: Vec<Value> = ids
        .iter()
        .filter_map(|id| store.access.user(id))
        .map(|u| cloud_user_v1(&v, u, with_operations))
        .collect();
    let size = results.len();
    axum::Json(json!({
        "results": results,
        "start": 0,
        "limit": GROUPS_PAGE,
        "size": size,
        "_links": {"base": v.base(), "context": v.context()},
    }))
    .into_response()
}

/// v2 `POST /users-bulk` (`{"accountIds": [...]}`): the one Cloud answer that carries
/// `accountStatus`. A POST, so a read-only client cannot use it; served so that a decision to
/// allow it can be tested.
async fn cloud_users_bulk_v2(State(sim): State<ConfluenceSim>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return v2_error(
            StatusCode::BAD_REQUEST,
            "body must be JSON {\"accountIds\": [...]}",
        );
    };
    let Some(ids) = request["accountIds"].as_array() else {
        return v2_error(StatusCode::BAD_REQUEST, "accountIds is required");
    };
    let store = sim.read();
    let urls = sim.urls();
    let v = view(&sim, Flavour::Cloud, &store, &urls);
    let results: Vec<Value> = ids
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|id| store.access.user(id))
        .map(|u| {
            json!({
                "accountId": u.account_id,
                "accountType": u.account_type.as_str(),
                "accountStatus": u.status.as_str(),
                "email": if u.email_visible { u.email.clone().unwrap_or_default() } else { String::new() },
                "publicName": u.display_name,
                "displayName": u.display_name,
                "timeZone": null,
                "personalSpaceId": null,
                "isExternalCollaborator": false,
                "profilePicture": {"path": format!("/wiki/aa-avatar/{}", u.account_id), "isDefault": true},
            })
        })
        .collect();
    axum::Json(json!({"results": results, "_links": {"base": v.base()}})).into_response()
}

// ---- Data Center ----------------------------------------------------------------------------

/// DC refuses OAuth 2.0 bearer tokens on these resources ("Forge and OAuth2 apps cannot access
/// this REST resource"); personal access tokens and basic auth are served.
fn dc_oauth_refused(sim: &ConfluenceSim, headers: &HeaderMap) -> Option<Response> {
    if !sim.permissions_config().dc_oauth_permission_reads_forbidden {
        return None;
    }
    let token = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))?;
    let oauth = token != sim.config().dc_pat && sim.token_valid(token, Flavour::DataCenter);
    oauth.then(|| {
        v1_error(
            StatusCode::FORBIDDEN,
            "OAuth 2.0 apps cannot access this REST resource",
        )
    })
}

/// 9.1+: every grant of the space as one unpaged array; below 9.1 the resource does not exist.
async fn dc_space_permissions(
    State(sim): State<ConfluenceSim>,
    Path(key): Path<String>,
    headers: HeaderMap,
) -> Response {
    if !sim.permissions_config().dc_has_space_permissions_api() {
        return v1_error(
            StatusCode::NOT_FOUND,
            &format!(
                "null for uri: {}/rest/api/space/{key}/permissions",
                sim.urls().dc_base
            ),
        );
    }
    if let Some(refused) = dc_oauth_refused(&sim, &headers) {
        return refused;
    }
    let store = sim.read();
    let Some(space) = store.space(&key) else {
        return v1_error(StatusCode::NOT_FOUND, &format!("No space with key : {key}"));
    };
    if !store.client_filter().reads_space(&key) {
        return v1_error(StatusCode::NOT_FOUND, &format!("No space with key : {key}"));
    }
    let access: &AccessModel = &store.access;
    let space_id: u64 = space.id.parse().unwrap_or_default();
    let out: Vec<Value> = access
        .space_permissions_of(&key)
        .into_iter()
        .flat_map(|p| {
            let subject = match p.principal() {
                Some(Principal::User(u)) => json!({
                    "type": "user",
                    "userKey": u,
                    "displayName": access.user(u).map(|u| u.display_name.clone()).unwrap_or_default(),
                }),
                Some(Principal::Group(g)) => json!({"type": "group", "name": g, "displayName": g}),
                Some(Principal::Anonymous) => json!({"type": "anonymous", "displayName": "Anonymous"}),
                None => Value::Null,
            };
            p.operations
                .iter()
                .map(|op| {
                    let (key_part, target) = op.split_once('/').unwrap_or((op, "space"));
                    json!({
                        "operation": {"targetType": target, "operationKey": key_part},
                        "subject": subject.clone(),
                        "spaceKey": key,
                        "spaceId": space_id,
                    })
                })
                .collect::<Vec<_>>()
        })
        .collect();
    axum::Json(out).into_response()
}

async fn dc_restrictions_all(
    State(sim): State<ConfluenceSim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(refused) = dc_oauth_refused(&sim, &headers) {
        return refused;
    }
    restrictions(
        &sim,
        Flavour::DataCenter,
        &id,
        None,
        &Params::parse(q.as_deref()),
    )
}

async fn dc_restrictions_one(
    State(sim): State<ConfluenceSim>,
    Path((id, op)): Path<(String, String)>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(refused) = dc_oauth_refused(&sim, &headers) {
        return refused;
    }
    restrictions(
        &sim,
        Flavour::DataCenter,
        &id,
        Some(&op),
        &Params::parse(q.as_deref()),
    )
}

async fn dc_groups(
    State(sim): State<ConfluenceSim>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(refused) = dc_oauth_refused(&sim, &headers) {
        return refused;
    }
    groups(&sim, Flavour::DataCenter, &Params::parse(q.as_deref()))
}

async fn dc_group_members(
    State(sim): State<ConfluenceSim>,
    Path(name): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(refused) = dc_oauth_refused(&sim, &headers) {
        return refused;
    }
    let params = Params::parse(q.as_deref());
    let (start, limit) = match offset_page(&params, GROUPS_PAGE, GROUPS_PAGE) {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    let group = sim.read().access.group(&name).cloned();
    match group {
        Some(g) => members_page(
            &sim,
            Flavour::DataCenter,
            &g,
            &params,
            &format!("/rest/api/group/{name}/member"),
            start,
            limit,
        ),
        None => v1_error(StatusCode::NOT_FOUND, &format!("Group not found: {name}")),
    }
}

async fn dc_user(
    State(sim): State<ConfluenceSim>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if let Some(refused) = dc_oauth_refused(&sim, &headers) {
        return refused;
    }
    let params = Params::parse(q.as_deref());
    let store = sim.read();
    let user = match (params.get("username"), params.get("key")) {
        (Some(name), _) => store.access.users.iter().find(|u| u.dc_username() == name),
        (None, Some(key)) => store.access.user(key),
        (None, None) => return bad_request("username or key is required"),
    };
    let urls = sim.urls();
    let v = view(&sim, Flavour::DataCenter, &store, &urls);
    let email = params
        .expand()
        .iter()
        .any(|e| e == "details.personal")
        .then_some(sim.permissions_config().dc_email_visibility);
    match user {
        Some(u) => axum::Json(dc_user_v1(&v, u, email)).into_response(),
        None => v1_error(StatusCode::NOT_FOUND, "No user found"),
    }
}

//! Control routes of the permission model, merged into `/_sandbox/confluence`. Each mirrors a
//! `ConfluenceSim` method.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    AccessModel, Group, PermissionsConfig, RestrictionOperation, SpacePermission, User, UserUpdate,
};
use crate::confluence::sim::{ConfluenceSim, MutationError};
use crate::confluence::web::{json_or_yaml, v1_error, Params};

pub(crate) fn routes() -> Router<ConfluenceSim> {
    Router::new()
        .route("/access", get(get_access).put(put_access))
        .route("/access/readers", get(readers))
        .route("/access/users", post(add_user))
        .route("/access/users/{account}", patch(update_user))
        .route("/access/groups", post(add_group))
        .route("/access/groups/{name}", axum::routing::delete(remove_group))
        .route(
            "/access/groups/{name}/members/{account}",
            put(add_member).delete(remove_member),
        )
        .route(
            "/access/spaces/{key}/permissions",
            put(set_space_permissions),
        )
        .route("/access/client", put(set_client))
        .route("/access/config", get(get_config).put(put_config))
        .route(
            "/content/{id}/restrictions",
            put(set_restriction).delete(clear_restrictions),
        )
}

fn respond(result: Result<Value, MutationError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => {
            let status = match e {
                MutationError::UnknownContent(_)
                | MutationError::UnknownAttachment(_)
                | MutationError::UnknownSpace(_) => StatusCode::NOT_FOUND,
                MutationError::Invalid(_) => StatusCode::BAD_REQUEST,
            };
            v1_error(status, &e.to_string())
        }
    }
}

async fn get_access(State(sim): State<ConfluenceSim>, RawQuery(q): RawQuery) -> Response {
    let access = sim.access();
    if Params::parse(q.as_deref()).get("format") == Some("yaml") {
        match serde_yaml_ng::to_string(&access) {
            Ok(yaml) => ([(http::header::CONTENT_TYPE, "application/yaml")], yaml).into_response(),
            Err(e) => v1_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    } else {
        Json(access).into_response()
    }
}

/// JSON, or YAML when the content type says so.
async fn put_access(State(sim): State<ConfluenceSim>, headers: HeaderMap, body: Bytes) -> Response {
    match json_or_yaml::<AccessModel>(&headers, &body) {
        Ok(access) => respond(
            sim.replace_access(access)
                .map(|()| json!({"replaced": true})),
        ),
        Err(e) => v1_error(StatusCode::BAD_REQUEST, &e),
    }
}

async fn readers(State(sim): State<ConfluenceSim>) -> Response {
    Json(sim.readers()).into_response()
}

async fn add_user(State(sim): State<ConfluenceSim>, Json(user): Json<User>) -> Response {
    respond(sim.add_user(user).map(|()| json!({"added": true})))
}

async fn update_user(
    State(sim): State<ConfluenceSim>,
    Path(account): Path<String>,
    Json(update): Json<UserUpdate>,
) -> Response {
    respond(
        sim.update_user(&account, update)
            .map(|()| json!({"updated": true})),
    )
}

async fn add_group(State(sim): State<ConfluenceSim>, Json(group): Json<Group>) -> Response {
    respond(sim.add_group(group).map(|()| json!({"added": true})))
}

async fn remove_group(State(sim): State<ConfluenceSim>, Path(name): Path<String>) -> Response {
    respond(sim.remove_group(&name).map(|()| json!({"deleted": name})))
}

async fn add_member(
    State(sim): State<ConfluenceSim>,
    Path((name, account)): Path<(String, String)>,
) -> Response {
    respond(
        sim.add_group_member(&name, &account)
            .map(|()| json!({"added": true})),
    )
}

async fn remove_member(
    State(sim): State<ConfluenceSim>,
    Path((name, account)): Path<(String, String)>,
) -> Response {
    respond(
        sim.remove_group_member(&name, &account)
            .map(|()| json!({"removed": true})),
    )
}

/// A list of grants; each may leave out `space` (it is the path's).
async fn set_space_permissions(
    State(sim): State<ConfluenceSim>,
    Path(key): Path<String>,
    Json(mut grants): Json<Vec<Value>>,
) -> Response {
    for grant in &mut grants {
        if let Some(obj) = grant.as_object_mut() {
            obj.entry("space").or_insert_with(|| json!(key));
        }
    }
    let parsed: Result<Vec<SpacePermission>, _> = serde_json::from_value(Value::Array(grants));
    match parsed {
        Ok(list) => respond(
            sim.set_space_permissions(&key, list)
                .map(|()| json!({"replaced": true})),
        ),
        Err(e) => v1_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ClientBody {
    account_id: Option<String>,
}

async fn set_client(State(sim): State<ConfluenceSim>, Json(body): Json<ClientBody>) -> Response {
    respond(
        sim.set_client_account(body.account_id.as_deref())
            .map(|()| json!({"clientAccount": body.account_id})),
    )
}

#[derive(Debug, Deserialize)]
#[serde(default)]
struct RestrictionBody {
    operation: RestrictionOperation,
    users: Vec<String>,
    groups: Vec<String>,
}

impl Default for RestrictionBody {
    fn default() -> Self {
        Self {
            operation: RestrictionOperation::Read,
            users: Vec::new(),
            groups: Vec::new(),
        }
    }
}

async fn set_restriction(
    State(sim): State<ConfluenceSim>,
    Path(id): Path<String>,
    Json(body): Json<RestrictionBody>,
) -> Response {
    respond(
        sim.set_restriction(&id, body.operation, body.users, body.groups)
            .map(|()| json!({"updated": true})),
    )
}

async fn clear_restrictions(State(sim): State<ConfluenceSim>, Path(id): Path<String>) -> Response {
    respond(
        sim.clear_restrictions(&id)
            .map(|()| json!({"cleared": true})),
    )
}

async fn get_config(State(sim): State<ConfluenceSim>) -> Response {
    Json(sim.permissions_config()).into_response()
}

/// Replaces the modes; fields left out take their defaults.
async fn put_config(
    State(sim): State<ConfluenceSim>,
    Json(config): Json<PermissionsConfig>,
) -> Response {
    sim.set_permissions_config(config.clone());
    Json(config).into_response()
}

//! Control routes of the Confluence half, mounted under `/_sandbox/confluence` on the control
//! origin. Each mirrors a [`ConfluenceSim`] method so scripts and in-process tests mutate the
//! dataset the same way.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use serde::Deserialize;

use super::access::DatasetFile;
use super::dc_paging::DcQuirks;
use super::generate::GenerateSpec;
use super::model::{Attachment, Content, Space};
use super::overload::SearchOverload;
use super::scopes::CloudOAuthClient;
use super::sim::{
    AttachmentUpdate, CloudSearchNextLink, ConfluenceSim, ContentEdit, ContentMove, MutationError,
};
use super::tamper::PaginationTamperRule;
use super::web::{json_or_yaml, v1_error, Params};

pub(crate) fn router(sim: ConfluenceSim) -> Router {
    Router::new()
        .route("/dataset", get(get_dataset).put(put_dataset))
        .route("/generate", post(generate))
        .route("/spaces", post(add_space))
        .route("/content", post(add_content))
        .route(
            "/content/{id}",
            get(get_content).patch(edit_content).delete(delete_content),
        )
        .route("/content/{id}/labels", put(set_labels))
        .route("/content/{id}/move", post(move_content))
        .route("/content/{id}/attachments", post(add_attachment))
        .route(
            "/attachments/{id}",
            delete(remove_attachment).patch(update_attachment),
        )
        .route("/tokens", get(tokens))
        .route("/tokens/expire", post(expire_tokens))
        .route(
            "/cloud-search-next-link",
            get(get_cloud_search_next_link).put(put_cloud_search_next_link),
        )
        .merge(tamper_routes())
        .merge(dc_quirks_routes())
        .merge(overload_routes())
        .merge(cloud_client_routes())
        .merge(super::access::control::routes())
        .with_state(sim)
}

fn mutation_error(e: MutationError) -> Response {
    let status = match e {
        MutationError::UnknownContent(_)
        | MutationError::UnknownAttachment(_)
        | MutationError::UnknownSpace(_) => StatusCode::NOT_FOUND,
        MutationError::Invalid(_) => StatusCode::BAD_REQUEST,
    };
    v1_error(status, &e.to_string())
}

fn respond<T: serde::Serialize>(result: Result<T, MutationError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => mutation_error(e),
    }
}

/// The dataset file: content, and the permission model when there is one.
async fn get_dataset(State(sim): State<ConfluenceSim>, RawQuery(q): RawQuery) -> Response {
    let dataset = DatasetFile {
        dataset: sim.dataset(),
        access: sim.access(),
    };
    if Params::parse(q.as_deref()).get("format") == Some("yaml") {
        match dataset.to_yaml() {
            Ok(yaml) => ([(http::header::CONTENT_TYPE, "application/yaml")], yaml).into_response(),
            Err(e) => v1_error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        }
    } else {
        Json(dataset).into_response()
    }
}

/// Accepts JSON, or YAML when the content type says so.
async fn put_dataset(
    State(sim): State<ConfluenceSim>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match json_or_yaml::<DatasetFile>(&headers, &body) {
        Ok(file) => respond(
            sim.replace_dataset_and_access(file.dataset, file.access)
                .map(|()| json!({"replaced": true})),
        ),
        Err(e) => v1_error(StatusCode::BAD_REQUEST, &e),
    }
}

async fn generate(State(sim): State<ConfluenceSim>, Json(spec): Json<GenerateSpec>) -> Response {
    let (dataset, access) = spec.generate_with_access();
    let pages = dataset.content.len();
    respond(
        sim.replace_dataset_and_access(dataset, access)
            .map(|()| json!({"spaces": spec.spaces, "content": pages})),
    )
}

async fn add_space(State(sim): State<ConfluenceSim>, Json(space): Json<Space>) -> Response {
    respond(sim.add_space(space).map(|()| json!({"added": true})))
}

async fn add_content(State(sim): State<ConfluenceSim>, Json(content): Json<Content>) -> Response {
    respond(sim.add_content(content).map(|id| json!({"id": id})))
}

async fn get_content(State(sim): State<ConfluenceSim>, Path(id): Path<String>) -> Response {
    match sim.content(&id) {
        Some(c) => Json(c).into_response(),
        None => mutation_error(MutationError::UnknownContent(id)),
    }
}

async fn edit_content(
    State(sim): State<ConfluenceSim>,
    Path(id): Path<String>,
    Json(edit): Json<ContentEdit>,
) -> Response {
    respond(sim.edit_content(&id, edit).map(|v| json!({"version": v})))
}

async fn delete_content(State(sim): State<ConfluenceSim>, Path(id): Path<String>) -> Response {
    respond(sim.delete_content(&id).map(|()| json!({"deleted": id})))
}

async fn set_labels(
    State(sim): State<ConfluenceSim>,
    Path(id): Path<String>,
    Json(labels): Json<Vec<String>>,
) -> Response {
    respond(
        sim.set_labels(&id, labels)
            .map(|()| json!({"updated": true})),
    )
}

async fn move_content(
    State(sim): State<ConfluenceSim>,
    Path(id): Path<String>,
    Json(to): Json<ContentMove>,
) -> Response {
    respond(sim.move_content(&id, to).map(|()| json!({"moved": true})))
}

async fn add_attachment(
    State(sim): State<ConfluenceSim>,
    Path(id): Path<String>,
    Json(attachment): Json<Attachment>,
) -> Response {
    respond(
        sim.add_attachment(&id, attachment)
            .map(|id| json!({"id": id})),
    )
}

async fn update_attachment(
    State(sim): State<ConfluenceSim>,
    Path(id): Path<String>,
    Json(update): Json<AttachmentUpdate>,
) -> Response {
    respond(
        sim.update_attachment(&id, update)
            .map(|v| json!({"version": v})),
    )
}

async fn remove_attachment(State(sim): State<ConfluenceSim>, Path(id): Path<String>) -> Response {
    respond(sim.remove_attachment(&id).map(|()| json!({"deleted": id})))
}

async fn tokens(State(sim): State<ConfluenceSim>) -> Response {
    Json(json!({"live": sim.live_tokens()})).into_response()
}

async fn expire_tokens(State(sim): State<ConfluenceSim>) -> Response {
    sim.expire_tokens();
    Json(json!({"expired": true})).into_response()
}

#[derive(serde::Deserialize)]
struct NextLinkShape {
    shape: CloudSearchNextLink,
}

async fn get_cloud_search_next_link(State(sim): State<ConfluenceSim>) -> Response {
    Json(json!({"shape": sim.cloud_search_next_link()})).into_response()
}

/// `{"shape": "as_cloud" | "wiki_with_expand"}`.
async fn put_cloud_search_next_link(State(sim): State<ConfluenceSim>, body: Bytes) -> Response {
    match serde_json::from_slice::<NextLinkShape>(&body) {
        Ok(NextLinkShape { shape }) => {
            sim.set_cloud_search_next_link(shape);
            Json(json!({"shape": shape})).into_response()
        }
        Err(e) => v1_error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// `GET|PUT|DELETE /pagination-tamper` under `/_sandbox/confluence`.
fn tamper_routes() -> Router<ConfluenceSim> {
    async fn show(State(sim): State<ConfluenceSim>) -> Response {
        let (rule, fired) = sim.pagination_tamper();
        Json(json!({"rule": rule, "fired": fired})).into_response()
    }
    async fn arm(
        State(sim): State<ConfluenceSim>,
        Json(rule): Json<Option<PaginationTamperRule>>,
    ) -> Response {
        sim.set_pagination_tamper(rule);
        show(State(sim)).await
    }
    async fn disarm(State(sim): State<ConfluenceSim>) -> Response {
        sim.set_pagination_tamper(None);
        show(State(sim)).await
    }
    Router::new().route("/pagination-tamper", get(show).put(arm).delete(disarm))
}

fn overload_routes() -> Router<ConfluenceSim> {
    async fn show(State(sim): State<ConfluenceSim>) -> Response {
        let (mode, fired) = sim.cloud_search_overload();
        Json(serde_json::json!({"mode": mode, "fired": fired})).into_response()
    }
    async fn set(
        State(sim): State<ConfluenceSim>,
        Json(mode): Json<Option<SearchOverload>>,
    ) -> Response {
        sim.set_cloud_search_overload(mode);
        show(State(sim)).await
    }
    async fn clear(State(sim): State<ConfluenceSim>) -> Response {
        sim.set_cloud_search_overload(None);
        show(State(sim)).await
    }
    Router::new().route("/search-overload", get(show).put(set).delete(clear))
}

/// `GET|PUT /dc-quirks` under `/_sandbox/confluence`; `PUT` takes any subset of the fields
/// (the rest keep their defaults, not their current values) and answers the modes now in force.
fn dc_quirks_routes() -> Router<ConfluenceSim> {
    async fn show(State(sim): State<ConfluenceSim>) -> Response {
        Json(sim.dc_quirks()).into_response()
    }
    async fn set(State(sim): State<ConfluenceSim>, Json(quirks): Json<DcQuirks>) -> Response {
        sim.set_dc_quirks(quirks);
        show(State(sim)).await
    }
    Router::new().route("/dc-quirks", get(show).put(set))
}

#[derive(Debug, Deserialize)]
struct ClientBody {
    secret: String,
    #[serde(default)]
    scopes: Vec<String>,
}

fn cloud_client_routes() -> Router<ConfluenceSim> {
    async fn list(State(sim): State<ConfluenceSim>) -> Response {
        let clients: Vec<serde_json::Value> = sim
            .cloud_clients()
            .into_iter()
            .map(|c| serde_json::json!({"id": c.id, "scopes": c.scopes}))
            .collect();
        Json(clients).into_response()
    }
    async fn set(
        State(sim): State<ConfluenceSim>,
        Path(id): Path<String>,
        Json(body): Json<ClientBody>,
    ) -> Response {
        sim.set_cloud_client(CloudOAuthClient {
            id: id.clone(),
            secret: body.secret,
            scopes: body.scopes.clone(),
        });
        Json(serde_json::json!({"id": id, "scopes": body.scopes})).into_response()
    }
    Router::new()
        .route("/cloud-clients", get(list))
        .route("/cloud-clients/{id}", put(set))
}

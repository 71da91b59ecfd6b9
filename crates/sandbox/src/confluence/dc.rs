//! Confluence Data Center: its own origin with an optional context path; OAuth (form, `scope=READ`
//! required), personal access tokens and basic auth; v1 only, offset pagination.

use axum::extract::{Form, Path, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use std::collections::HashMap;

use super::api;
use super::media::attachment_response;
use super::sim::{ConfluenceSim, Flavour};
use super::web::{v1_error, Params};
use crate::common::OmittedIds;

/// The DC origin, nested under the configured context path.
pub(crate) fn router(sim: ConfluenceSim) -> Router {
    let api = Router::new()
        .route("/rest/api/content/search", get(search))
        .route("/rest/api/content", get(content_listing))
        .route("/rest/api/content/{id}", get(content_by_id))
        .route(
            "/rest/api/content/{id}/child/attachment",
            get(child_attachments),
        )
        .route("/download/attachments/{page}/{filename}", get(download))
        .merge(super::access::api::dc_routes())
        .route_layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            require_credentials,
        ));
    let routes = Router::new()
        .route("/rest/oauth2/latest/token", post(token))
        .route("/rest/applinks/1.0/manifest", get(manifest))
        .merge(api)
        .with_state(sim.clone());
    let context = sim
        .config()
        .dc_context_path
        .trim_end_matches('/')
        .to_owned();
    if context.is_empty() {
        routes
    } else {
        Router::new().nest(&context, routes)
    }
}

fn credentials_ok(sim: &ConfluenceSim, headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let config = sim.config();
    if let Some(token) = value.strip_prefix("Bearer ") {
        return token == config.dc_pat || sim.token_valid(token, Flavour::DataCenter);
    }
    if let Some(encoded) = value.strip_prefix("Basic ") {
        let expected = format!("{}:{}", config.dc_username, config.dc_password);
        return base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .is_ok_and(|decoded| decoded == expected.as_bytes());
    }
    false
}

async fn require_credentials(
    State(sim): State<ConfluenceSim>,
    request: Request,
    next: Next,
) -> Response {
    if credentials_ok(&sim, request.headers()) {
        next.run(request).await
    } else {
        v1_error(
            StatusCode::UNAUTHORIZED,
            "This request requires authentication: missing, wrong or expired credentials",
        )
    }
}

/// `POST /rest/oauth2/latest/token`: form-encoded client credentials; DC service accounts need
/// an explicit `scope=READ`.
async fn token(
    State(sim): State<ConfluenceSim>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let config = sim.config();
    if form.get("client_id") != Some(&config.client_id)
        || form.get("client_secret") != Some(&config.client_secret)
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let has_read = form
        .get("scope")
        .is_some_and(|s| s.split([' ', ',']).any(|scope| scope == "READ"));
    if !has_read {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The requested scope is invalid: client credentials require scope=READ",
        );
    }
    Json(json!({
        "access_token": sim.issue_token(Flavour::DataCenter),
        "token_type": "bearer",
        "expires_in": config.token_ttl.as_secs(),
        "scope": "READ",
    }))
    .into_response()
}

/// `GET /rest/applinks/1.0/manifest`: public; JSON only when asked for, XML otherwise (as
/// Confluence 10 does).
async fn manifest(State(sim): State<ConfluenceSim>, headers: HeaderMap) -> Response {
    let config = sim.config();
    let base = sim.urls().dc_base;
    let permissions = sim.permissions_config();
    let (version, build) = permissions.dc_version_and_build();
    let wants_json = headers
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        Json(json!({
            "id": config.dc_instance_id,
            "name": "Confluence Sandbox",
            "typeId": "confluence",
            "version": version,
            "buildNumber": build,
            "applinksVersion": "9.0.0",
            "url": base,
            "iconUrl": format!("{base}/images/icons/favicon.png"),
            "publicSignup": false,
        }))
        .into_response()
    } else {
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><manifest><id>{}</id><name>Confluence Sandbox</name><typeId>confluence</typeId><version>{}</version><buildNumber>{}</buildNumber><applinksVersion>9.0.0</applinksVersion><url>{}</url><publicSignup>false</publicSignup></manifest>",
            config.dc_instance_id, version, build, base
        );
        ([(http::header::CONTENT_TYPE, "application/xml")], xml).into_response()
    }
}

async fn search(
    State(sim): State<ConfluenceSim>,
    omitted: OmittedIds,
    RawQuery(q): RawQuery,
) -> Response {
    api::content_search(
        &sim,
        Flavour::DataCenter,
        &Params::parse(q.as_deref()),
        &omitted,
    )
}

async fn content_listing(State(sim): State<ConfluenceSim>, RawQuery(q): RawQuery) -> Response {
    api::content_listing(&sim, Flavour::DataCenter, &Params::parse(q.as_deref()))
}

async fn content_by_id(
    State(sim): State<ConfluenceSim>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    api::content_by_id(&sim, &id, &Params::parse(q.as_deref()))
}

async fn child_attachments(
    State(sim): State<ConfluenceSim>,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    api::child_attachments(&sim, Flavour::DataCenter, &id, &Params::parse(q.as_deref()))
}

/// `GET /download/attachments/{page}/{filename}?version=N&api=v2`, with normal credentials.
async fn download(
    State(sim): State<ConfluenceSim>,
    Path((page_id, filename)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let params = Params::parse(q.as_deref());
    let store = sim.read();
    let Some(attachment) = store
        .content(&page_id)
        .filter(|c| !c.content_type.cloud_only())
        .filter(|c| store.client_filter().reads(&store, c))
        .and_then(|c| c.attachments.iter().find(|a| a.title == filename))
    else {
        return v1_error(
            StatusCode::NOT_FOUND,
            &format!("No attachment {filename} on page {page_id}"),
        );
    };
    let requested_version = params.get("version").and_then(|v| v.parse::<u32>().ok());
    if requested_version.is_some_and(|v| v > attachment.version) {
        return v1_error(StatusCode::NOT_FOUND, "No such attachment version");
    }
    attachment_response(attachment)
}

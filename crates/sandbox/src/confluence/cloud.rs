//! Confluence Cloud behind the Atlassian gateway: `POST /oauth/token` and the API under
//! `/ex/confluence/<cloudId>/wiki/…`, including the v1 paths that answer 410 there now.

use axum::body::Bytes;
use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::api;
use super::media::signed_media_url;
use super::model::ContentType;
use super::scopes;
use super::sim::{ConfluenceSim, Flavour};
use super::web::{gateway_error, v1_error, Params};
use crate::common::OmittedIds;

const WIKI: &str = "/ex/confluence/{cloud_id}/wiki";

fn at(path: &str) -> String {
    [WIKI, path].concat()
}

/// The gateway origin.
pub(crate) fn gateway_router(sim: ConfluenceSim) -> Router {
    let api = Router::new()
        .route(&at("/rest/api/content/search"), get(search))
        // The gateway also answers without the `/wiki` segment, the shape Cloud's own
        // `_links.next` often has.
        .route(
            "/ex/confluence/{cloud_id}/rest/api/content/search",
            get(search),
        )
        .route(&at("/rest/api/content"), get(content_listing))
        .route(&at("/rest/api/content/{id}"), get(gone))
        .route(&at("/rest/api/content/{id}/child"), get(gone))
        .route(&at("/rest/api/content/{id}/child/attachment"), get(gone))
        .route(&at("/rest/api/content/{id}/child/page"), get(gone))
        .route(
            &at("/rest/api/content/{id}/child/attachment/{att}/download"),
            get(download),
        )
        .route(&at("/rest/api/space"), get(gone))
        .route(&at("/rest/api/space/{key}"), get(gone))
        .route(&at("/api/v2/pages"), get(v2_pages))
        .route(&at("/api/v2/blogposts"), get(v2_blogposts))
        .route(&at("/api/v2/pages/{id}"), get(v2_page))
        .route(&at("/api/v2/blogposts/{id}"), get(v2_blogpost))
        .route(&at("/api/v2/spaces"), get(v2_spaces))
        .route(
            &at("/api/v2/pages/{id}/attachments"),
            get(v2_page_attachments),
        )
        .route(
            &at("/api/v2/blogposts/{id}/attachments"),
            get(v2_blogpost_attachments),
        )
        .route(&at("/download/{*rest}"), get(web_download))
        .merge(super::access::api::cloud_routes())
        .route_layer(axum::middleware::from_fn_with_state(
            sim.clone(),
            require_token,
        ));
    Router::new()
        .route("/oauth/token", post(token))
        .merge(api)
        .with_state(sim)
}

/// The site origin (`https://<site>.atlassian.net`): only web links point here; it answers
/// 200 so reachability checks pass.
pub(crate) fn site_router() -> Router {
    async fn page() -> impl IntoResponse {
        (
            [(http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<html><body>Confluence sandbox site</body></html>",
        )
    }
    Router::new()
        .route("/", get(page))
        .route("/wiki", get(page))
        .route("/wiki/{*rest}", get(page))
}

/// A valid, unexpired token whose scopes cover the route (see `scopes.rs`).
async fn require_token(State(sim): State<ConfluenceSim>, request: Request, next: Next) -> Response {
    let expected = format!("/ex/confluence/{}/", sim.config().cloud_id);
    if !request.uri().path().starts_with(&expected) {
        return gateway_error(StatusCode::NOT_FOUND, "Unknown cloud id");
    }
    let token = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // The gateway says no more than this, whether the token is missing, unknown or expired.
    let Some(granted) = token.and_then(|t| sim.token_scopes(t, Flavour::Cloud)) else {
        return gateway_error(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let route = route
        .strip_prefix("/ex/confluence/{cloud_id}")
        .unwrap_or(&route);
    if !scopes::allows(&granted, route) {
        return scopes::scope_mismatch();
    }
    next.run(request).await
}

/// `POST /oauth/token`: JSON client credentials (2LO).
async fn token(State(sim): State<ConfluenceSim>, headers: HeaderMap, body: Bytes) -> Response {
    let is_json = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let oauth_error = |status: StatusCode, error: &str, description: &str| {
        (
            status,
            Json(json!({"error": error, "error_description": description})),
        )
            .into_response()
    };
    if !is_json {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/json",
        );
    }
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "body is not JSON",
        );
    };
    if request["grant_type"] != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    let Some(client) = sim.cloud_client(
        request["client_id"].as_str().unwrap_or_default(),
        request["client_secret"].as_str().unwrap_or_default(),
    ) else {
        return oauth_error(StatusCode::UNAUTHORIZED, "access_denied", "Unauthorized");
    };
    let scope = client.scopes.join(" ");
    Json(json!({
        "access_token": sim.issue_token_with_scopes(Flavour::Cloud, client.scopes),
        "expires_in": sim.config().token_ttl.as_secs(),
        "token_type": "Bearer",
        "scope": scope,
    }))
    .into_response()
}

async fn search(
    State(sim): State<ConfluenceSim>,
    omitted: OmittedIds,
    RawQuery(q): RawQuery,
) -> Response {
    api::content_search(&sim, Flavour::Cloud, &Params::parse(q.as_deref()), &omitted)
}

async fn content_listing(State(sim): State<ConfluenceSim>, RawQuery(q): RawQuery) -> Response {
    if !sim.config().cloud_legacy_content_listing {
        return gone_response();
    }
    api::content_listing(&sim, Flavour::Cloud, &Params::parse(q.as_deref()))
}

fn gone_response() -> Response {
    v1_error(
        StatusCode::GONE,
        "This v1 endpoint has been removed through the API gateway; use the v2 API or v1 content/search",
    )
}

async fn gone() -> Response {
    gone_response()
}

/// The `_links.download` path fails through the gateway (the REST download must be used).
async fn web_download() -> Response {
    v1_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "web download paths are not served through the API gateway",
    )
}

/// `GET …/content/{page}/child/attachment/{att}/download` → 302 to the media origin.
async fn download(
    State(sim): State<ConfluenceSim>,
    Path((_, page_id, attachment_id)): Path<(String, String, String)>,
) -> Response {
    let store = sim.read();
    let Some(attachment) = store
        .content(&page_id)
        .filter(|c| store.client_filter().reads(&store, c))
        .and_then(|c| c.attachments.iter().find(|a| a.id == attachment_id))
    else {
        return v1_error(
            StatusCode::NOT_FOUND,
            &format!("No attachment {attachment_id} on content {page_id}"),
        );
    };
    let location = signed_media_url(&sim, attachment);
    (StatusCode::FOUND, [(http::header::LOCATION, location)]).into_response()
}

async fn v2_pages(
    State(sim): State<ConfluenceSim>,
    omitted: OmittedIds,
    RawQuery(q): RawQuery,
) -> Response {
    api::v2_content(
        &sim,
        ContentType::Page,
        &Params::parse(q.as_deref()),
        &omitted,
    )
}

async fn v2_blogposts(
    State(sim): State<ConfluenceSim>,
    omitted: OmittedIds,
    RawQuery(q): RawQuery,
) -> Response {
    api::v2_content(
        &sim,
        ContentType::Blogpost,
        &Params::parse(q.as_deref()),
        &omitted,
    )
}

async fn v2_page_attachments(
    State(sim): State<ConfluenceSim>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    api::v2_attachments(&sim, ContentType::Page, &id, &Params::parse(q.as_deref()))
}

async fn v2_blogpost_attachments(
    State(sim): State<ConfluenceSim>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    api::v2_attachments(
        &sim,
        ContentType::Blogpost,
        &id,
        &Params::parse(q.as_deref()),
    )
}

async fn v2_page(
    State(sim): State<ConfluenceSim>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    api::v2_single(&sim, ContentType::Page, &id, &Params::parse(q.as_deref()))
}

async fn v2_blogpost(
    State(sim): State<ConfluenceSim>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    api::v2_single(
        &sim,
        ContentType::Blogpost,
        &id,
        &Params::parse(q.as_deref()),
    )
}

async fn v2_spaces(State(sim): State<ConfluenceSim>, RawQuery(q): RawQuery) -> Response {
    api::v2_spaces(&sim, &Params::parse(q.as_deref()))
}

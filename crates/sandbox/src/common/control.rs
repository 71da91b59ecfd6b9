//! Control routes for faults, rate limits and the request log, mounted under `/_sandbox` on the
//! control origin.

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::faults::{json_error, FaultRule, Faults, RateLimit};
use super::log::RequestLog;

#[derive(Debug, Clone)]
struct ControlState {
    faults: Faults,
    log: RequestLog,
}

/// Routes: `/faults`, `/faults/{id}`, `/faults/seed`, `/rate-limits/{service}`, `/requests`,
/// `/requests/counts`.
pub fn router(faults: &Faults, log: &RequestLog) -> Router {
    Router::new()
        .route(
            "/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/faults/{id}", delete(remove_fault))
        .route("/faults/seed", post(reseed))
        .route(
            "/rate-limits/{service}",
            put(set_rate_limit).delete(clear_rate_limit),
        )
        .route("/requests", get(requests).delete(reset_requests))
        .route("/requests/counts", get(counts))
        .with_state(ControlState {
            faults: faults.clone(),
            log: log.clone(),
        })
}

async fn list_faults(State(s): State<ControlState>) -> Response {
    Json(json!({"rules": s.faults.rules(), "rate_limits": s.faults.rate_limits()})).into_response()
}

async fn add_fault(State(s): State<ControlState>, Json(rule): Json<FaultRule>) -> Response {
    Json(json!({"id": s.faults.add_rule(rule)})).into_response()
}

async fn clear_faults(State(s): State<ControlState>) -> Response {
    s.faults.clear();
    Json(json!({"cleared": true})).into_response()
}

async fn remove_fault(State(s): State<ControlState>, Path(id): Path<u64>) -> Response {
    if s.faults.remove_rule(id) {
        Json(json!({"removed": id})).into_response()
    } else {
        json_error(StatusCode::NOT_FOUND, &format!("no fault rule {id}"))
    }
}

#[derive(Debug, Deserialize)]
struct Seed {
    seed: u64,
}

async fn reseed(State(s): State<ControlState>, Json(seed): Json<Seed>) -> Response {
    s.faults.reseed(seed.seed);
    Json(json!({"seed": seed.seed})).into_response()
}

async fn set_rate_limit(
    State(s): State<ControlState>,
    Path(service): Path<String>,
    Json(limit): Json<RateLimit>,
) -> Response {
    s.faults.set_rate_limit(&service, limit);
    Json(json!({"service": service, "limit": limit})).into_response()
}

async fn clear_rate_limit(State(s): State<ControlState>, Path(service): Path<String>) -> Response {
    s.faults.clear_rate_limit(&service);
    Json(json!({"cleared": service})).into_response()
}

/// `?service=` and `?route=` (a suffix of the route template) narrow the log.
async fn requests(State(s): State<ControlState>, RawQuery(q): RawQuery) -> Response {
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let service = get("service");
    let route = get("route");
    let records: Vec<_> = s
        .log
        .records()
        .into_iter()
        .filter(|r| service.as_ref().is_none_or(|svc| &r.service == svc))
        .filter(|r| {
            route
                .as_ref()
                .is_none_or(|rt| r.route.ends_with(rt.as_str()))
        })
        .collect();
    Json(records).into_response()
}

async fn counts(State(s): State<ControlState>) -> Response {
    Json(s.log.counts()).into_response()
}

async fn reset_requests(State(s): State<ControlState>) -> Response {
    s.log.reset();
    Json(json!({"reset": true})).into_response()
}

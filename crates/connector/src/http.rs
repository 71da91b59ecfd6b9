//! `/healthz` (the process answers), `/readyz` (config loaded, ledger reachable, recent syncs
//! healthy, Confluence and Unique reachable — JSON details in the reference's shape) and
//! `/metrics` (Prometheus text).

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use sync_engine::Ledger;
use tokio_util::sync::CancellationToken;

use crate::health::{self, Check, SyncHistory};
use crate::metrics::Metrics;
use crate::tenants::TenantRuntime;

/// What the endpoints read. The tenant set is swapped on reload.
#[derive(Debug)]
pub(crate) struct AppState {
    pub(crate) tenants: RwLock<Arc<Vec<Arc<TenantRuntime>>>>,
    pub(crate) history: Arc<SyncHistory>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) ledger: Ledger,
    pub(crate) connectivity_timeout: Duration,
    pub(crate) probe_client: reqwest::Client,
}

impl AppState {
    pub(crate) fn tenants(&self) -> Arc<Vec<Arc<TenantRuntime>>> {
        self.tenants
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub(crate) fn set_tenants(&self, tenants: Arc<Vec<Arc<TenantRuntime>>>) {
        *self
            .tenants
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = tenants;
    }
}

pub(crate) fn router(state: Arc<AppState>, with_metrics: bool) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if with_metrics {
        router = router.route("/metrics", get(metrics));
    }
    router.with_state(state)
}

pub(crate) fn metrics_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Binds `addr` and serves `router` until `shutdown`; returns the bound address.
pub(crate) async fn serve(
    addr: SocketAddr,
    router: Router,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "HTTP server stopped");
        }
    });
    Ok((bound, task))
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.encode(),
    )
}

async fn readyz(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let checks = readiness(&state).await;
    let (ok, body) = health::render(&checks);
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// One round trip to the ledger within `timeout`; a timeout reads `ETIMEDOUT`, as the
/// connectivity check's does.
async fn ledger_check(ledger: &Ledger, timeout: Duration) -> Check {
    ping_check(ledger.ping(), &ledger.kind().to_string(), timeout).await
}

async fn ping_check<E: std::fmt::Display>(
    ping: impl std::future::Future<Output = Result<(), E>>,
    kind: &str,
    timeout: Duration,
) -> Check {
    match tokio::time::timeout(timeout, ping).await {
        Ok(Ok(())) => Check::up(json!({ "kind": kind })),
        Ok(Err(e)) => Check::down(json!({ "error": e.to_string() })),
        Err(_) => Check::down(json!({ "error": "ETIMEDOUT" })),
    }
}

/// Every check, probes run concurrently.
pub(crate) async fn readiness(state: &AppState) -> Vec<(&'static str, Check)> {
    let tenants = state.tenants();
    let timeout = state.connectivity_timeout;
    let config = Check::up(json!({
        "tenants": tenants.iter().map(|t| json!({
            "name": t.name(),
            "status": if t.config.is_active() { "active" } else { "deleted" },
        })).collect::<Vec<_>>(),
    }));
    let ledger = ledger_check(&state.ledger, timeout);
    let targets: Vec<_> = tenants
        .iter()
        .filter(|t| t.config.is_active())
        .map(|t| crate::wiring::connectivity_target(&t.config))
        .collect();
    let connectivity = health::confluence_connectivity(&state.probe_client, &targets, timeout);
    let unique = async {
        let pings = tenants
            .iter()
            .map(|t| async move { (t.name().to_owned(), t.unique.ping(timeout).await) });
        health::unique_check(&futures::future::join_all(pings).await)
    };
    let (ledger, connectivity, unique) = tokio::join!(ledger, connectivity, unique);
    vec![
        ("config", config),
        ("ledger", ledger),
        ("sync", state.history.check()),
        ("connectivity", connectivity),
        ("uniqueApi", unique),
    ]
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    async fn ledger() -> Ledger {
        Ledger::open("sqlite::memory:", sync_engine::LedgerOptions::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_reachable_ledger_is_up_with_its_kind() {
        let check = ledger_check(&ledger().await, Duration::from_secs(10)).await;
        assert!(check.up);
        assert_eq!(check.details, json!({ "kind": "sqlite" }));
    }

    #[tokio::test]
    async fn a_ledger_that_does_not_answer_in_time_is_down_with_etimedout() {
        let never = std::future::pending::<Result<(), sync_engine::LedgerError>>();
        let check = ping_check(never, "postgres", Duration::from_millis(50)).await;
        assert!(!check.up);
        assert_eq!(check.details, json!({ "error": "ETIMEDOUT" }));
    }
}

//! The middleware every simulated service goes through, and the listeners they run on.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::faults::{cut_body, request_content_ids, Faults, OmittedIds};
use super::log::{RequestLog, RequestRecord};

/// Put into every request's extensions by [`instrument`], so a handler can apply faults per
/// operation (GraphQL) and name the operation in the request log:
/// `async fn graphql(Extension(ctx): Extension<ServiceContext>, ...)`.
#[derive(Debug, Clone)]
pub struct ServiceContext {
    service: &'static str,
    faults: Faults,
    operation: Arc<Mutex<Option<String>>>,
}

impl ServiceContext {
    /// The service this request reached.
    pub fn service(&self) -> &'static str {
        self.service
    }

    /// Names the operation (e.g. the GraphQL operation) in the request log and counters.
    pub fn set_operation(&self, operation: &str) {
        *self.operation.lock().unwrap_or_else(|p| p.into_inner()) = Some(operation.to_owned());
    }

    /// Names the operation and applies the faults configured for it (rules whose `route` is the
    /// operation name). Returns the response to send instead of handling it, if a fault fires.
    pub async fn apply_faults(&self, operation: &str) -> Option<Response> {
        self.set_operation(operation);
        self.faults.apply(self.service, operation).await
    }
}

#[derive(Debug, Clone)]
struct Instrumentation {
    service: &'static str,
    log: RequestLog,
    faults: Faults,
}

/// Wraps a service's router with the request log and the faults for `service`.
pub fn instrument(
    router: Router,
    service: &'static str,
    log: &RequestLog,
    faults: &Faults,
) -> Router {
    let state = Instrumentation {
        service,
        log: log.clone(),
        faults: faults.clone(),
    };
    router.layer(axum::middleware::from_fn_with_state(state, observe))
}

async fn observe(
    State(inst): State<Instrumentation>,
    mut request: Request,
    next: Next,
) -> Response {
    let started_at = chrono::Utc::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let had_authorization = request.headers().contains_key(http::header::AUTHORIZATION);
    let operation = Arc::new(Mutex::new(None));
    request.extensions_mut().insert(ServiceContext {
        service: inst.service,
        faults: inst.faults.clone(),
        operation: operation.clone(),
    });

    let ids = if inst.faults.has_batch_rules() {
        request_content_ids(request.uri())
    } else {
        Vec::new()
    };
    let decision = inst.faults.decide_for_ids(inst.service, &route, &ids);
    if !decision.omit.is_empty() {
        request
            .extensions_mut()
            .insert(OmittedIds(decision.omit.clone()));
    }
    if !decision.latency.is_zero() {
        tokio::time::sleep(decision.latency).await;
    }
    let mut response = match decision.error {
        Some(error) => error,
        None => next.run(request).await,
    };
    if let Some(after) = decision.cut_after {
        let (parts, body) = response.into_parts();
        response = Response::from_parts(parts, cut_body(body, after));
    }
    let operation = operation.lock().unwrap_or_else(|p| p.into_inner()).take();
    inst.log.record(RequestRecord {
        service: inst.service.to_owned(),
        method,
        route,
        path_and_query,
        operation,
        status: response.status().as_u16(),
        started_at,
        finished_at: chrono::Utc::now(),
        had_authorization,
    });
    response
}

/// Binds a loopback listener on a random port (or `addr` when given).
pub async fn bind(addr: Option<SocketAddr>) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener =
        TcpListener::bind(addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)))).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Serves `router` until `shutdown` is cancelled, then stops accepting and lets in-flight
/// requests finish.
pub fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let result = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "sandbox listener stopped");
        }
    })
}

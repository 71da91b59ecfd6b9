//! A tiny recording HTTP stub for the wire tests: every request is logged with its headers and
//! body, and a test-supplied function decides the answer. Used where the exact bytes we send
//! matter, or to script failures (429, 5xx, 401) precisely.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use unique_client::{ExternalAuth, SecretString, TransportConfig, UniqueAuth, UniqueConfig};

/// One request the stub received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    pub fn operation(&self) -> Option<String> {
        serde_json::from_slice::<serde_json::Value>(&self.body)
            .ok()?
            .get("operationName")?
            .as_str()
            .map(str::to_owned)
    }
}

/// The stub's answer.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn json(value: serde_json::Value) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type", "application/json".to_owned())],
            body: value.to_string(),
        }
    }

    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: String::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
}

type Responder = Arc<dyn Fn(&Recorded, usize) -> Reply + Send + Sync>;

#[derive(Clone)]
struct StubState {
    log: Arc<Mutex<Vec<Recorded>>>,
    responder: Responder,
}

pub struct Stub {
    pub addr: SocketAddr,
    log: Arc<Mutex<Vec<Recorded>>>,
}

impl Stub {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().unwrap().clone()
    }

    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path_and_query.split('?').next() == Some(path))
            .collect()
    }
}

/// Serves `responder(request, index of this request)` on a random loopback port.
pub async fn spawn_stub(
    responder: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static,
) -> Stub {
    let log = Arc::new(Mutex::new(Vec::new()));
    let state = StubState {
        log: log.clone(),
        responder: Arc::new(responder),
    };
    let app = Router::new().fallback(handle).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Stub { addr, log }
}

async fn handle(State(state): State<StubState>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        headers: parts.headers,
        body,
    };
    let index = {
        let mut log = state.log.lock().unwrap();
        log.push(recorded.clone());
        log.len() - 1
    };
    let reply = (state.responder)(&recorded, index);
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in reply.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(reply.body)).unwrap()
}

/// Transport settings for tests: tiny retry delays, generous rate.
pub fn fast_transport() -> TransportConfig {
    let mut transport = TransportConfig::new("unique", std::num::NonZeroU32::new(6000).unwrap());
    transport.retry.base_delay = Duration::from_millis(5);
    transport.retry.max_delay = Duration::from_millis(50);
    transport.retry.max_retries = 3;
    transport.retry.budget = Duration::from_secs(3);
    transport
}

pub fn cluster_local_auth() -> UniqueAuth {
    UniqueAuth::ClusterLocal {
        extra_headers: BTreeMap::from([
            ("x-company-id".to_owned(), "sandbox-company".to_owned()),
            ("x-user-id".to_owned(), "sandbox-user".to_owned()),
        ]),
    }
}

pub fn external_auth(token_url: String) -> UniqueAuth {
    UniqueAuth::External(ExternalAuth::new(
        token_url,
        "sandbox-zitadel-client",
        SecretString::from("sandbox-zitadel-secret"),
        SecretString::from("sandbox-project"),
    ))
}

pub fn config(auth: UniqueAuth, ingestion: String, scope_management: String) -> UniqueConfig {
    let mut config = UniqueConfig::new(auth, ingestion, scope_management);
    config.api_rate_limit_per_minute = std::num::NonZeroU32::new(6000).unwrap();
    config.transport = fast_transport();
    config
}

/// Records how long the rate limiter held each request back, per transport service, as the
/// transport reports it: a limiter test asserts the waits instead of timing the requests.
#[derive(Debug, Default)]
pub struct ThrottleLog(Mutex<Vec<(&'static str, Duration)>>);

impl ThrottleLog {
    pub fn waits(&self) -> Vec<(&'static str, Duration)> {
        self.0.lock().unwrap().clone()
    }
}

impl http_transport::TransportObserver for ThrottleLog {
    fn throttled(&self, service: &'static str, waited: Duration) {
        self.0.lock().unwrap().push((service, waited));
    }
}

//! The transport against real HTTP servers on loopback: retries, 401 refresh, redirects,
//! plain-HTTP policy, timeouts, the limiter and the observer.
#![allow(clippy::unwrap_used)]

mod common;

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::Path;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{any, get};
use axum::Router;
use bytes::Bytes;
use common::{config, serve, Hits, RecordingObserver};
use futures::StreamExt as _;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_transport::{
    AuthError, Authorizer, Body, NoAuth, ReadOnly, ReadWrite, Request, StaticAuthorizer, Token,
    TokenCache, TokenSource, Transport, TransportConfig, TransportError, TransportObserver,
};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;

fn read_only(config: TransportConfig) -> (Transport<ReadOnly>, Arc<RecordingObserver>) {
    let observer = Arc::new(RecordingObserver::default());
    let transport =
        Transport::<ReadOnly>::new(config, observer.clone() as Arc<dyn TransportObserver>).unwrap();
    (transport, observer)
}

fn read_write(config: TransportConfig) -> (Transport<ReadWrite>, Arc<RecordingObserver>) {
    let observer = Arc::new(RecordingObserver::default());
    let transport =
        Transport::<ReadWrite>::new(config, observer.clone() as Arc<dyn TransportObserver>)
            .unwrap();
    (transport, observer)
}

/// Answers `status` (with `headers`) `failures` times, then 200 "ok".
fn flaky(
    hits: Hits,
    failures: u32,
    status: StatusCode,
    headers: Vec<(&'static str, &'static str)>,
) -> Router {
    Router::new().route(
        "/flaky",
        get(move || {
            let hits = hits.clone();
            let headers = headers.clone();
            async move {
                if hits.hit() <= failures {
                    let mut map = HeaderMap::new();
                    for (name, value) in headers {
                        map.insert(name, HeaderValue::from_static(value));
                    }
                    (status, map, "try later").into_response()
                } else {
                    "ok".into_response()
                }
            }
        }),
    )
}

#[tokio::test]
async fn gets_a_body_as_bytes_json_and_stream() {
    let base = serve(Router::new().route("/doc", get(|| async { r#"{"a":1}"# }))).await;
    let (transport, observer) = read_only(config());
    let url = base.join("doc").unwrap();
    let value: serde_json::Value = transport
        .get(url.clone(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(value, serde_json::json!({"a": 1}));
    let bytes = transport
        .get(url.clone(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&bytes[..], br#"{"a":1}"#);
    let mut stream = transport
        .get(url, HeaderMap::new(), &NoAuth)
        .await
        .unwrap()
        .into_stream();
    let mut streamed = Vec::new();
    while let Some(chunk) = stream.next().await {
        streamed.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(streamed, bytes);
    assert_eq!(observer.received.load(Ordering::SeqCst), 21);
    assert_eq!(observer.attempt_count(), 3);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_decode_error_naming_the_url() {
    let base = serve(Router::new().route("/doc", get(|| async { "<html>" }))).await;
    let (transport, _) = read_only(config());
    let err = transport
        .get(base.join("doc").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Decode { url, .. } if url.ends_with("/doc")),
        "{err}"
    );
}

#[tokio::test]
async fn retries_each_retryable_status_then_succeeds() {
    for code in [429, 500, 502, 503, 504] {
        let status = StatusCode::from_u16(code).unwrap();
        let hits = Hits::default();
        let base = serve(flaky(hits.clone(), 2, status, vec![])).await;
        let (transport, observer) = read_only(config());
        let response = transport
            .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "ok");
        assert_eq!(hits.count(), 3, "status {code}");
        assert_eq!(observer.retry_count(), 2, "status {code}");
    }
}

#[tokio::test]
async fn a_get_gives_up_when_the_retry_budget_runs_out() {
    let hits = Hits::default();
    let base = serve(flaky(
        hits.clone(),
        u32::MAX,
        StatusCode::SERVICE_UNAVAILABLE,
        vec![],
    ))
    .await;
    let config = config();
    let retry = config.retry;
    let (transport, observer) = read_only(config);
    let started = Instant::now();
    let err = transport
        .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    let TransportError::RetriesExhausted {
        status, attempts, ..
    } = err
    else {
        panic!("{err}")
    };
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(hits.count(), attempts);
    // Not a count: it went on past `max_retries`, every retry the observer saw was planned
    // inside the budget, and it stopped only when one more pause would have ended past it.
    assert!(attempts > retry.max_retries + 1, "{attempts} attempts");
    let retries = observer.retries.lock().unwrap().clone();
    assert_eq!(retries.len() as u32, attempts - 1);
    assert!(retries.iter().map(|(_, delay)| *delay).sum::<Duration>() < retry.budget);
    // The budget is real time spent on a real socket, so this bound is about real time; being a
    // lower bound, a slow machine can only make it hold more easily.
    assert!(started.elapsed() >= retry.budget - retry.max_delay);
}

#[tokio::test]
async fn a_request_not_safe_to_repeat_gives_up_after_max_retries() {
    let hits = Hits::default();
    let base = serve(Router::new().route(
        "/submit",
        any({
            let hits = hits.clone();
            move || {
                let hits = hits.clone();
                async move {
                    hits.hit();
                    StatusCode::BAD_GATEWAY
                }
            }
        }),
    ))
    .await;
    let (transport, _) = read_write(config());
    let request = Request::new(Method::POST, base.join("submit").unwrap());
    assert!(!request.idempotent);
    let err = transport.send(request, &NoAuth).await.unwrap_err();
    assert!(
        matches!(err, TransportError::RetriesExhausted { attempts: 4, .. }),
        "{err}"
    );
    assert_eq!(hits.count(), 4);
    // The same POST marked safe to repeat retries within the budget instead.
    let request = Request::new(Method::POST, base.join("submit").unwrap()).idempotent(true);
    transport.send(request, &NoAuth).await.unwrap_err();
    assert!(hits.count() > 8, "{}", hits.count());
}

#[tokio::test]
async fn does_not_retry_client_errors_and_keeps_a_short_body_excerpt() {
    let long = "x".repeat(5_000);
    let hits = Hits::default();
    let counter = hits.clone();
    let base = serve(Router::new().route(
        "/missing",
        get(move || {
            let counter = counter.clone();
            let long = long.clone();
            async move {
                counter.hit();
                (StatusCode::NOT_FOUND, long)
            }
        }),
    ))
    .await;
    let (transport, _) = read_only(config());
    let err = transport
        .get(base.join("missing").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    match &err {
        TransportError::Status { status, body, url } => {
            assert_eq!(*status, StatusCode::NOT_FOUND);
            assert!(body.as_str().chars().count() <= 512);
            assert!(body.as_str().starts_with("xxxx"));
            assert!(url.ends_with("/missing"));
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(hits.count(), 1);
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn an_empty_error_body_reads_no_response_body() {
    let base =
        serve(Router::new().route("/forbidden", get(|| async { StatusCode::FORBIDDEN }))).await;
    let (transport, _) = read_only(config());
    let err = transport
        .get(base.join("forbidden").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Status { body, .. } if body == "No response body"),
        "{err}"
    );
}

#[tokio::test]
async fn gone_is_permanent() {
    let hits = Hits::default();
    let base = serve(flaky(hits.clone(), u32::MAX, StatusCode::GONE, vec![])).await;
    let (transport, _) = read_only(config());
    let err = transport
        .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Gone { .. }), "{err}");
    assert_eq!(hits.count(), 1);
}

#[tokio::test]
async fn a_429_with_limit_zero_means_blocked() {
    let hits = Hits::default();
    let base = serve(flaky(
        hits.clone(),
        u32::MAX,
        StatusCode::TOO_MANY_REQUESTS,
        vec![("x-ratelimit-limit", "0")],
    ))
    .await;
    let (transport, observer) = read_only(config());
    let err = transport
        .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Blocked { .. }), "{err}");
    assert_eq!(hits.count(), 1);
    assert_eq!(observer.rate_limited.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_absurd_retry_after_means_blocked() {
    let hits = Hits::default();
    let base = serve(flaky(
        hits.clone(),
        u32::MAX,
        StatusCode::TOO_MANY_REQUESTS,
        vec![("retry-after", "9223372036854775807")],
    ))
    .await;
    let (transport, _) = read_only(config());
    let err = transport
        .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    match err {
        TransportError::Blocked { retry_after, .. } => {
            assert_eq!(retry_after, Duration::from_secs(9_223_372_036_854_775_807))
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(hits.count(), 1);
}

#[tokio::test]
async fn a_429_pauses_the_whole_tenant_for_retry_after_not_capped() {
    let hits = Hits::default();
    let base = serve(flaky(
        hits.clone(),
        1,
        StatusCode::TOO_MANY_REQUESTS,
        vec![("retry-after", "1")],
    ))
    .await;
    let mut config = config();
    config.retry.max_delay = Duration::from_millis(150);
    config.retry.budget = Duration::from_secs(5);
    let (transport, observer) = read_only(config);
    transport
        .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    // Retry-After 1 s is a minimum, not capped at max_delay 150 ms: the retry waited 1 s.
    assert_eq!(
        observer.rate_limited.lock().unwrap().as_slice(),
        &[Some(Duration::from_secs(1))]
    );
    assert_eq!(
        observer.retries.lock().unwrap()[0].1,
        Duration::from_secs(1)
    );

    // While a pause is in force, another request of the tenant waits too: the limiter reports
    // holding it back, and it was not sent before the pause ended (real time: the pause is a
    // deadline on the clock; a lower bound, which a slow machine cannot break).
    let waits_before = observer.throttle_waits.lock().unwrap().len();
    transport.limiter().pause_for(Duration::from_millis(120));
    let started = Instant::now();
    transport
        .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    assert!(started.elapsed() >= Duration::from_millis(110));
    let waits = observer.throttle_waits.lock().unwrap().clone();
    assert_eq!(waits.len(), waits_before + 1, "{waits:?}");
}

#[tokio::test]
async fn requests_are_spaced_by_the_limiter_and_retries_pay_too() {
    let hits = Hits::default();
    let base = serve(flaky(hits.clone(), 2, StatusCode::BAD_GATEWAY, vec![])).await;
    let mut config = config();
    config.rate_limit_per_minute = NonZeroU32::new(600).unwrap(); // one slot per 100 ms
    config.burst = NonZeroU32::MIN;
    let (transport, observer) = read_only(config);
    let started = Instant::now();
    transport
        .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    // Three attempts: free, +100 ms, +100 ms. The two retries each waited for the limiter.
    assert_eq!(observer.attempt_count(), 3);
    assert!(observer.throttle_waits.lock().unwrap().len() >= 2);
    // The grid is real time (requests per real minute); a lower bound, which a slow machine
    // cannot break. How long each wait was is the limiter's own paused-clock tests' business.
    assert!(started.elapsed() >= Duration::from_millis(180));
}

#[tokio::test]
async fn retries_a_refused_connection_then_reports_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let (transport, observer) = read_only(config());
    let url = Url::parse(&format!("http://127.0.0.1:{port}/x")).unwrap();
    let err = transport
        .get(url, HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");
    // Retried until the budget ran out, every retry reported.
    assert!(observer.retry_count() >= 1);
    assert_eq!(observer.attempt_count(), observer.retry_count() + 1);
}

/// Closes the first connection right after reading the request; answers the second one.
async fn close_first_then_answer() -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut accepted = 0;
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            accepted += 1;
            let mut buffer = vec![0u8; 4096];
            let _ = socket.read(&mut buffer).await;
            if accepted == 1 {
                drop(socket);
                continue;
            }
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        }
    });
    Url::parse(&format!("http://{addr}/")).unwrap()
}

#[tokio::test]
async fn retries_a_connection_closed_before_the_answer() {
    let base = close_first_then_answer().await;
    let (transport, observer) = read_only(config());
    let response = transport
        .get(base.join("x").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "ok");
    assert_eq!(observer.retry_count(), 1);
}

#[tokio::test]
async fn times_out_waiting_for_headers_without_retrying() {
    let hits = Hits::default();
    let counter = hits.clone();
    let base = serve(Router::new().route(
        "/slow",
        get(move || {
            let counter = counter.clone();
            async move {
                counter.hit();
                tokio::time::sleep(Duration::from_millis(500)).await;
                "late"
            }
        }),
    ))
    .await;
    let mut config = config();
    config.timeouts.headers = Duration::from_millis(100);
    let (transport, _) = read_only(config);
    let err = transport
        .get(base.join("slow").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
    assert_eq!(hits.count(), 1);
}

#[tokio::test]
async fn times_out_when_the_body_stalls_between_chunks() {
    let base = serve(Router::new().route(
        "/stall",
        get(|| async {
            let first =
                futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"first"))]);
            axum::body::Body::from_stream(first.chain(futures::stream::pending()))
        }),
    ))
    .await;
    let mut config = config();
    config.timeouts.idle_body = Duration::from_millis(100);
    let (transport, _) = read_only(config);
    let mut stream = transport
        .get(base.join("stall").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap()
        .into_stream();
    assert_eq!(&stream.next().await.unwrap().unwrap()[..], b"first");
    let err = stream.next().await.unwrap().unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                what: "the next response body chunk",
                ..
            }
        ),
        "{err}"
    );
    assert!(stream.next().await.is_none());

    // `bytes` and `json` apply the same timeout.
    let err = transport
        .get(base.join("stall").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn a_connection_cut_mid_body_surfaces_as_a_stream_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buffer = vec![0u8; 4096];
        let _ = socket.read(&mut buffer).await;
        socket
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789")
            .await
            .unwrap();
        socket.flush().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(socket);
    });
    let (transport, _) = read_only(config());
    let url = Url::parse(&format!("http://{addr}/file")).unwrap();
    let mut stream = transport
        .get(url, HeaderMap::new(), &NoAuth)
        .await
        .unwrap()
        .into_stream();
    let mut received = Vec::new();
    let error = loop {
        match stream.next().await {
            Some(Ok(chunk)) => received.extend_from_slice(&chunk),
            Some(Err(error)) => break error,
            None => panic!(
                "the stream ended without an error after {} bytes",
                received.len()
            ),
        }
    };
    assert!(matches!(error, TransportError::Body { .. }), "{error}");
    assert_eq!(received, b"0123456789");
}

// ---- authorization -------------------------------------------------------------------------

/// Hands out `token-1`, `token-2`, … and counts fetches.
#[derive(Debug, Default)]
struct SequenceSource(AtomicU32);

impl TokenSource for SequenceSource {
    fn fetch(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Token, AuthError>> + Send + '_>>
    {
        Box::pin(async move {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Token {
                access_token: SecretString::from(format!("token-{n}")),
                expires_at: None,
            })
        })
    }
}

/// Accepts only `Authorization: Bearer <accepted>`; records every header it saw.
fn guarded(accepted: &'static str, seen: Arc<Mutex<Vec<Option<String>>>>) -> Router {
    Router::new().route(
        "/guarded",
        get(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let auth = headers
                    .get("authorization")
                    .map(|v| v.to_str().unwrap().to_owned());
                seen.lock().unwrap().push(auth.clone());
                if auth.as_deref() == Some(accepted) {
                    (StatusCode::OK, "welcome")
                } else {
                    (StatusCode::UNAUTHORIZED, "who are you")
                }
            }
        }),
    )
}

#[tokio::test]
async fn a_401_refreshes_the_token_and_retries_once() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = serve(guarded("Bearer token-2", seen.clone())).await;
    let (transport, _) = read_only(config());
    let cache = TokenCache::new(SequenceSource::default());
    // Warm the cache with token-1, which the server rejects.
    assert_eq!(
        cache.authorization().await.unwrap().unwrap(),
        "Bearer token-1"
    );
    let response = transport
        .get(base.join("guarded").unwrap(), HeaderMap::new(), &cache)
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "welcome");
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        &[
            Some("Bearer token-1".to_owned()),
            Some("Bearer token-2".to_owned())
        ]
    );
}

#[tokio::test]
async fn a_second_401_is_unauthorized() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = serve(guarded("Bearer never", seen.clone())).await;
    let (transport, _) = read_only(config());
    let cache = TokenCache::new(SequenceSource::default());
    let err = transport
        .get(base.join("guarded").unwrap(), HeaderMap::new(), &cache)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Unauthorized {
                service: "test",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(cache.source().0.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn static_credentials_reach_the_server() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let base = serve(guarded("Bearer pat-secret", seen.clone())).await;
    let (transport, _) = read_only(config());
    let auth = StaticAuthorizer::bearer(&SecretString::from("pat-secret".to_owned())).unwrap();
    transport
        .get(base.join("guarded").unwrap(), HeaderMap::new(), &auth)
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
}

// ---- redirects -----------------------------------------------------------------------------

/// Records the `Authorization` and `Cookie` headers of every request to `/target`.
/// `(Authorization, Cookie)` of each request a server saw.
type SeenCredentials = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

fn recording_target(seen: SeenCredentials) -> Router {
    Router::new().route(
        "/target",
        get(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let get = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
                seen.lock()
                    .unwrap()
                    .push((get("authorization"), get("cookie")));
                "landed"
            }
        }),
    )
}

fn redirecting_to(location: String) -> Router {
    Router::new().route(
        "/start",
        get(move || {
            let location = location.clone();
            async move { Redirect::temporary(&location) }
        }),
    )
}

fn cookie_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("cookie", HeaderValue::from_static("session=abc"));
    headers
}

#[tokio::test]
async fn keeps_authorization_on_a_same_origin_redirect() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let router = redirecting_to("/target".to_owned()).merge(recording_target(seen.clone()));
    let base = serve(router).await;
    let (transport, observer) = read_only(config());
    let auth = StaticAuthorizer::bearer(&SecretString::from("tok".to_owned())).unwrap();
    let response = transport
        .get(base.join("start").unwrap(), cookie_headers(), &auth)
        .await
        .unwrap();
    assert_eq!(response.url().path(), "/target");
    assert_eq!(response.text().await.unwrap(), "landed");
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        &[(
            Some("Bearer tok".to_owned()),
            Some("session=abc".to_owned())
        )]
    );
    assert_eq!(observer.attempt_count(), 2, "each hop is an attempt");
}

#[tokio::test]
async fn drops_authorization_on_cross_origin_redirect() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let media = serve(recording_target(seen.clone())).await;
    let api = serve(redirecting_to(media.join("target").unwrap().to_string())).await;
    let (transport, _) = read_only(config());
    let auth = StaticAuthorizer::bearer(&SecretString::from("tok".to_owned())).unwrap();
    let response = transport
        .get(api.join("start").unwrap(), cookie_headers(), &auth)
        .await
        .unwrap();
    assert_eq!(response.url().port(), media.port());
    assert_eq!(seen.lock().unwrap().as_slice(), &[(None, None)]);
}

#[tokio::test]
async fn a_redirect_loop_is_an_error() {
    let router = Router::new()
        .route("/a", get(|| async { Redirect::temporary("/b") }))
        .route("/b", get(|| async { Redirect::permanent("/a") }));
    let base = serve(router).await;
    let (transport, _) = read_only(config());
    let err = transport
        .get(base.join("a").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Redirect { reason, .. } if reason.contains("loop")),
        "{err}"
    );
}

#[tokio::test]
async fn too_many_redirects_is_an_error() {
    let router = Router::new().route(
        "/hop/{n}",
        get(|Path(n): Path<u32>| async move { Redirect::to(&format!("/hop/{}", n + 1)) }),
    );
    let base = serve(router).await;
    let mut config = config();
    config.max_redirects = 3;
    let (transport, observer) = read_only(config);
    let err = transport
        .get(base.join("hop/0").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, TransportError::Redirect { reason, .. } if reason.contains("more than 3")),
        "{err}"
    );
    assert_eq!(observer.attempt_count(), 4);
}

#[tokio::test]
async fn follows_up_to_max_redirects() {
    let router = Router::new().route(
        "/hop/{n}",
        get(|Path(n): Path<u32>| async move {
            if n < 3 {
                Redirect::to(&format!("/hop/{}", n + 1)).into_response()
            } else {
                "done".into_response()
            }
        }),
    );
    let base = serve(router).await;
    let mut config = config();
    config.max_redirects = 3;
    let (transport, _) = read_only(config);
    let response = transport
        .get(base.join("hop/0").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "done");
}

#[tokio::test]
async fn refuses_plain_http_to_a_non_loopback_host() {
    let (transport, observer) = read_only(config());
    let err = transport
        .get(
            Url::parse("http://example.invalid/").unwrap(),
            HeaderMap::new(),
            &NoAuth,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::PlainHttpRefused { .. }),
        "{err}"
    );
    assert_eq!(observer.attempt_count(), 0);
}

#[tokio::test]
async fn refuses_a_redirect_to_plain_http_on_a_non_loopback_host() {
    let base = serve(redirecting_to("http://example.invalid/target".to_owned())).await;
    let (transport, _) = read_only(config());
    let err = transport
        .get(base.join("start").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::PlainHttpRefused { .. }),
        "{err}"
    );
}

// ---- read-write ----------------------------------------------------------------------------

#[tokio::test]
async fn sends_a_json_post_and_replays_it_on_retry() {
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let hits = Hits::default();
    let (b, h) = (bodies.clone(), hits.clone());
    let router = Router::new().route(
        "/graphql",
        any(move |method: Method, headers: HeaderMap, body: Bytes| {
            let (bodies, hits) = (b.clone(), h.clone());
            async move {
                bodies
                    .lock()
                    .unwrap()
                    .push((method, headers.get("content-type").cloned(), body));
                if hits.hit() == 1 {
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                } else {
                    r#"{"data":{}}"#.into_response()
                }
            }
        }),
    );
    let base = serve(router).await;
    let (transport, observer) = read_write(config());
    let request = Request::json(
        Method::POST,
        base.join("graphql").unwrap(),
        &serde_json::json!({"query": "{ x }"}),
    )
    .unwrap();
    let value: serde_json::Value = transport
        .send(request, &NoAuth)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(value, serde_json::json!({"data": {}}));
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 2);
    for (method, content_type, body) in bodies.iter() {
        assert_eq!(method, Method::POST);
        assert_eq!(content_type.as_ref().unwrap(), "application/json");
        assert_eq!(&body[..], br#"{"query":"{ x }"}"#);
    }
    assert_eq!(observer.sent.load(Ordering::SeqCst), 2 * 17);
}

#[tokio::test]
async fn never_retries_a_streamed_body() {
    let received = Arc::new(Mutex::new(Vec::new()));
    let r = received.clone();
    let router = Router::new().route(
        "/upload",
        any(move |headers: HeaderMap, body: Bytes| {
            let received = r.clone();
            async move {
                received
                    .lock()
                    .unwrap()
                    .push((headers.get("content-length").cloned(), body));
                StatusCode::SERVICE_UNAVAILABLE
            }
        }),
    );
    let base = serve(router).await;
    let (transport, observer) = read_write(config());
    let chunks = futures::stream::iter([
        Ok(Bytes::from_static(b"hello ")),
        Ok(Bytes::from_static(b"world")),
    ]);
    let request = Request {
        method: Method::PUT,
        url: base.join("upload").unwrap(),
        headers: HeaderMap::new(),
        body: Body::stream(chunks, Some(11)),
        idempotent: true,
    };
    let err = transport.send(request, &NoAuth).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Status {
                status: StatusCode::SERVICE_UNAVAILABLE,
                ..
            }
        ),
        "{err}"
    );
    let received = received.lock().unwrap();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].0.as_ref().unwrap(), "11");
    assert_eq!(&received[0].1[..], b"hello world");
    assert_eq!(observer.retry_count(), 0);
}

#[tokio::test]
async fn a_303_after_a_post_continues_with_a_get() {
    let methods = Arc::new(Mutex::new(Vec::new()));
    let m = methods.clone();
    let router = Router::new()
        .route("/submit", any(|| async { Redirect::to("/result") }))
        .route(
            "/result",
            any(move |method: Method, body: Bytes| {
                let methods = m.clone();
                async move {
                    methods.lock().unwrap().push((method, body.len()));
                    "result"
                }
            }),
        );
    let base = serve(router).await;
    let (transport, _) = read_write(config());
    let request = Request {
        method: Method::POST,
        url: base.join("submit").unwrap(),
        headers: HeaderMap::new(),
        body: Body::from("payload".to_owned()),
        idempotent: false,
    };
    let response = transport.send(request, &NoAuth).await.unwrap();
    assert_eq!(response.text().await.unwrap(), "result");
    assert_eq!(methods.lock().unwrap().as_slice(), &[(Method::GET, 0)]);
}

#[tokio::test]
async fn a_read_write_transport_can_get_too() {
    let base = serve(Router::new().route("/x", get(|| async { "x" }))).await;
    let (transport, _) = read_write(config());
    let response = transport
        .get(base.join("x").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

/// `(Content-Length, body)` of every upload a server received.
type Uploads = Arc<Mutex<Vec<(Option<HeaderValue>, Bytes)>>>;

/// Stores every upload and answers `stored`.
fn upload_sink(received: Uploads) -> Router {
    Router::new().route(
        "/upload",
        any(move |headers: HeaderMap, body: Bytes| {
            let received = received.clone();
            async move {
                received
                    .lock()
                    .unwrap()
                    .push((headers.get("content-length").cloned(), body));
                "stored"
            }
        }),
    )
}

fn slow_chunks(
    count: u32,
    gap: Duration,
) -> impl futures::Stream<Item = Result<Bytes, TransportError>> {
    futures::stream::unfold(0, move |i| async move {
        if i == count {
            return None;
        }
        tokio::time::sleep(gap).await;
        Some((Ok(Bytes::from(format!("chunk{i};"))), i + 1))
    })
}

#[tokio::test]
async fn a_slow_upload_is_not_cut_by_the_header_timeout() {
    let received = Uploads::default();
    let base = serve(upload_sink(received.clone())).await;
    let mut config = config();
    config.timeouts.headers = Duration::from_millis(150);
    let (transport, observer) = read_write(config);
    let request = Request {
        method: Method::PUT,
        url: base.join("upload").unwrap(),
        headers: HeaderMap::new(),
        body: Body::stream(slow_chunks(5, Duration::from_millis(70)), None),
        idempotent: true,
    };
    let started = Instant::now();
    let response = transport.send(request, &NoAuth).await.unwrap();
    // The upload really outlasted the 150 ms header timeout (a lower bound on real time, which
    // a slow machine cannot break), so the timeout cannot have been armed during it.
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(response.text().await.unwrap(), "stored");
    assert_eq!(
        &received.lock().unwrap()[0].1[..],
        b"chunk0;chunk1;chunk2;chunk3;chunk4;"
    );
    assert_eq!(
        observer.sent.load(Ordering::SeqCst),
        35,
        "streamed bytes are counted"
    );
}

#[tokio::test]
async fn a_stalled_upload_times_out() {
    let received = Uploads::default();
    let base = serve(upload_sink(received.clone())).await;
    let mut config = config();
    config.timeouts.headers = Duration::from_millis(150);
    let (transport, _) = read_write(config);
    let stalled = slow_chunks(1, Duration::ZERO).chain(futures::stream::pending());
    let request = Request {
        method: Method::PUT,
        url: base.join("upload").unwrap(),
        headers: HeaderMap::new(),
        body: Body::stream(stalled, None),
        idempotent: true,
    };
    let err = transport.send(request, &NoAuth).await.unwrap_err();
    // The header timeout (150 ms; connect and idle-body are 2 s) is what ended it.
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                what: "the response headers",
                ..
            }
        ),
        "{err}"
    );
    assert!(received.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_large_buffered_body_arrives_intact_with_its_length() {
    let received = Uploads::default();
    let base = serve(upload_sink(received.clone())).await;
    let (transport, observer) = read_write(config());
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let request = Request {
        method: Method::PUT,
        url: base.join("upload").unwrap(),
        headers: HeaderMap::new(),
        body: Body::from(payload.clone()),
        idempotent: true,
    };
    transport.send(request, &NoAuth).await.unwrap();
    let received = received.lock().unwrap();
    assert_eq!(received[0].0.as_ref().unwrap(), "300000");
    assert_eq!(&received[0].1[..], &payload[..]);
    assert_eq!(observer.sent.load(Ordering::SeqCst), 300_000);
}

#[tokio::test]
async fn a_garbage_retry_after_falls_back_to_backoff() {
    let hits = Hits::default();
    let base = serve(flaky(
        hits.clone(),
        1,
        StatusCode::SERVICE_UNAVAILABLE,
        vec![("retry-after", "whenever")],
    ))
    .await;
    let (transport, observer) = read_only(config());
    transport
        .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    let retries = observer.retries.lock().unwrap();
    assert_eq!(retries.len(), 1);
    assert!(retries[0].1 <= Duration::from_millis(2), "{:?}", retries[0]);
}

#[tokio::test]
async fn a_retry_after_date_is_honoured() {
    let hits = Hits::default();
    let date: &'static str = Box::leak(
        httpdate::fmt_http_date(std::time::SystemTime::now() - Duration::from_secs(5))
            .into_boxed_str(),
    );
    let base = serve(flaky(
        hits.clone(),
        1,
        StatusCode::SERVICE_UNAVAILABLE,
        vec![("retry-after", date)],
    ))
    .await;
    let (transport, observer) = read_only(config());
    transport
        .get(base.join("flaky").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    // A date in the past means "now": only the jittered backoff (at most base_delay) is left.
    assert!(observer.retries.lock().unwrap()[0].1 <= Duration::from_millis(2));
}

#[tokio::test]
async fn every_redirect_hop_pays_the_limiter() {
    let router = Router::new()
        .route("/one", get(|| async { Redirect::temporary("/two") }))
        .route("/two", get(|| async { Redirect::temporary("/three") }))
        .route("/three", get(|| async { "arrived" }));
    let base = serve(router).await;
    let mut config = config();
    config.rate_limit_per_minute = NonZeroU32::new(600).unwrap(); // one slot per 100 ms
    config.burst = NonZeroU32::MIN;
    let (transport, observer) = read_only(config);
    let started = Instant::now();
    let response = transport
        .get(base.join("one").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "arrived");
    assert_eq!(observer.attempt_count(), 3);
    assert!(observer.throttle_waits.lock().unwrap().len() >= 2);
    // The grid is real time; a lower bound, which a slow machine cannot break.
    assert!(started.elapsed() >= Duration::from_millis(180));
}

#[tokio::test]
async fn errors_do_not_show_the_signature_of_a_presigned_url() {
    let base = serve(Router::new().route("/blob", any(|| async { StatusCode::FORBIDDEN }))).await;
    let (transport, _) = read_write(config());
    let mut url = base.join("blob").unwrap();
    url.set_query(Some("sv=2023&sig=very-secret-signature"));
    let err = transport
        .send(Request::new(Method::PUT, url), &NoAuth)
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(!shown.contains("very-secret-signature"), "{shown}");
    assert!(shown.contains("sv=2023"), "{shown}");
}

//! Confluence Cloud's points quota against a real HTTP server on loopback: a quota 429 pauses
//! the tenant until the reset and the request goes on (no retry counted, no retry budget spent,
//! `max_delay` not applied); an absurd quota wait fails; near the limit the tenant stops before
//! the wall.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::{config, serve, RecordingObserver};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_transport::{
    NoAuth, QuotaWaitCause, ReadOnly, Transport, TransportConfig, TransportError, TransportObserver,
};

fn transport(config: TransportConfig) -> (Transport<ReadOnly>, Arc<RecordingObserver>) {
    let observer = Arc::new(RecordingObserver::default());
    let transport =
        Transport::<ReadOnly>::new(config, observer.clone() as Arc<dyn TransportObserver>).unwrap();
    (transport, observer)
}

fn iso(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// When each request arrived; the first `refusals` get a quota 429 asking to wait
/// `retry_after` seconds.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<Instant>>>);

impl Arrivals {
    fn all(&self) -> Vec<Instant> {
        self.0.lock().unwrap().clone()
    }

    /// Records one arrival; returns how many there were, this one included.
    fn arrive(&self) -> usize {
        let mut all = self.0.lock().unwrap();
        all.push(Instant::now());
        all.len()
    }
}

/// Serves `GET /wiki/x`, answering the n-th request (counting from 1) with `answer(n)`.
async fn serve_counted(
    arrivals: &Arrivals,
    answer: impl Fn(usize) -> Response + Clone + Send + Sync + 'static,
) -> url::Url {
    let arrivals = arrivals.clone();
    serve(Router::new().route(
        "/wiki/x",
        get(move || {
            let arrivals = arrivals.clone();
            let answer = answer.clone();
            async move { answer(arrivals.arrive()) }
        }),
    ))
    .await
}

/// The first `refusals` requests get a quota 429 asking to wait `retry_after` seconds.
async fn quota_server(arrivals: &Arrivals, refusals: usize, retry_after: &'static str) -> url::Url {
    serve_counted(arrivals, move |n| {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("65000"));
        if n <= refusals {
            headers.insert("retry-after", HeaderValue::from_static(retry_after));
            headers.insert("beta-retry-after", HeaderValue::from_static(retry_after));
            headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
            headers.insert(
                "ratelimit-reason",
                HeaderValue::from_static("confluence-quota-global-based"),
            );
            return (StatusCode::TOO_MANY_REQUESTS, headers, "quota").into_response();
        }
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("64000"));
        (headers, "ok").into_response()
    })
    .await
}

#[tokio::test]
async fn a_quota_429_pauses_the_tenant_until_the_reset_without_spending_a_retry() {
    let arrivals = Arrivals::default();
    let base = quota_server(&arrivals, 1, "2").await;
    let mut config = config();
    // No retries at all, and backoff capped far below the wait: neither applies to the quota.
    config.retry.budget = Duration::ZERO;
    config.retry.max_retries = 0;
    config.retry.max_delay = Duration::from_millis(20);
    let (transport, observer) = transport(config);
    let mut waits = transport.quota_waits();
    let url = base.join("wiki/x").unwrap();
    let first = tokio::spawn({
        let transport = transport.clone();
        let url = url.clone();
        async move { transport.get(url, HeaderMap::new(), &NoAuth).await }
    });
    waits.changed().await.unwrap();
    let wait = (*waits.borrow_and_update()).unwrap();
    assert_eq!(wait.cause, QuotaWaitCause::Exhausted);
    // Another request of the tenant, sent during the pause, waits for the reset too.
    let second = transport.get(url, HeaderMap::new(), &NoAuth).await.unwrap();
    assert_eq!(second.text().await.unwrap(), "ok");
    assert_eq!(first.await.unwrap().unwrap().text().await.unwrap(), "ok");

    let arrivals = arrivals.all();
    assert_eq!(
        arrivals.len(),
        3,
        "the refused request, then both after the reset"
    );
    for later in &arrivals[1..] {
        assert!(
            *later - arrivals[0] >= Duration::from_secs(2),
            "sent before the reset: {:?}",
            *later - arrivals[0]
        );
    }
    assert_eq!(observer.retry_count(), 0, "a quota wait is no retry");
    assert_eq!(observer.quota_waits.lock().unwrap().len(), 1);
    assert_eq!(observer.quota_resumed.lock().unwrap().len(), 1);
    assert_eq!(*waits.borrow(), None, "the wait is over");
    let readings = observer.quota_readings.lock().unwrap();
    assert!(readings.iter().any(|r| r.remaining == Some(64_000)));
}

#[tokio::test]
async fn a_quota_wait_longer_than_its_bound_fails_at_once() {
    let arrivals = Arrivals::default();
    let base = quota_server(&arrivals, usize::MAX, "7200").await;
    let mut config = config();
    config.retry.quota_max_wait = Duration::from_secs(3900);
    let (transport, _) = transport(config);
    let err = transport
        .get(base.join("wiki/x").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    match err {
        TransportError::QuotaWaitTooLong { wait, bound, .. } => {
            assert_eq!(wait, Duration::from_secs(7200));
            assert_eq!(bound, Duration::from_secs(3900));
        }
        other => panic!("{other}"),
    }
    assert_eq!(arrivals.all().len(), 1);
}

#[tokio::test]
async fn a_burst_429_is_not_a_quota_wait() {
    let arrivals = Arrivals::default();
    let base = serve_counted(&arrivals, |n| {
        if n == 1 {
            let headers = [
                ("retry-after", "0"),
                ("ratelimit-reason", "confluence-burst-based"),
            ];
            return (StatusCode::TOO_MANY_REQUESTS, headers, "slow").into_response();
        }
        "ok".into_response()
    })
    .await;
    let (transport, observer) = transport(config());
    transport
        .get(base.join("wiki/x").unwrap(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    assert_eq!(observer.retry_count(), 1);
    assert!(observer.quota_waits.lock().unwrap().is_empty());
}

#[tokio::test]
async fn near_the_limit_the_tenant_stops_before_the_wall_until_the_reset() {
    // One point left of 1,000, the reset 2 s away: not even one more request fits.
    let arrivals = Arrivals::default();
    let base = serve_counted(&arrivals, |n| {
        let reset = iso(SystemTime::now() + Duration::from_secs(2));
        let (remaining, near) = if n == 1 {
            ("1", "true")
        } else {
            ("999", "false")
        };
        let headers = [
            ("x-ratelimit-limit", "1000".to_owned()),
            ("x-ratelimit-remaining", remaining.to_owned()),
            ("x-ratelimit-nearlimit", near.to_owned()),
            ("x-ratelimit-reset", reset),
        ];
        (headers, "ok").into_response()
    })
    .await;
    let (transport, observer) = transport(config());
    let url = base.join("wiki/x").unwrap();
    transport
        .get(url.clone(), HeaderMap::new(), &NoAuth)
        .await
        .unwrap();
    let waits = observer.quota_waits.lock().unwrap().clone();
    assert_eq!(waits.len(), 1);
    assert_eq!(waits[0].cause, QuotaWaitCause::NearLimit);
    transport.get(url, HeaderMap::new(), &NoAuth).await.unwrap();
    let arrivals = arrivals.all();
    // The reset is at a whole second (ISO 8601 without fractions), so at least 1 s away.
    assert!(arrivals[1] - arrivals[0] >= Duration::from_secs(1));
    assert_eq!(
        observer.rate_limited.lock().unwrap().len(),
        0,
        "never met the wall"
    );
}

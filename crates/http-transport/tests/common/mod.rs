//! Shared helpers: an in-process axum server on 127.0.0.1:0 and a recording observer.
#![allow(clippy::unwrap_used, dead_code)]

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use http::{Method, StatusCode};
use http_transport::{
    QuotaReading, QuotaWait, RequestOutcome, RetryPolicy, Timeouts, TransportConfig,
    TransportObserver,
};
use url::Url;

/// Serves `router` on a random loopback port; returns its base URL (`http://127.0.0.1:<port>/`).
pub async fn serve(router: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Url::parse(&format!("http://{addr}/")).unwrap()
}

/// Fast settings: a generous limiter, millisecond backoff, short timeouts.
pub fn config() -> TransportConfig {
    let mut config = TransportConfig::new("test", NonZeroU32::new(60_000).unwrap());
    config.burst = NonZeroU32::new(1_000).unwrap();
    config.retry = RetryPolicy {
        budget: Duration::from_millis(300),
        max_retries: 3,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
        blocked_after: Duration::from_secs(60),
        quota_max_wait: Duration::from_secs(60),
    };
    config.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        headers: Duration::from_secs(2),
        idle_body: Duration::from_secs(2),
    };
    config
}

/// A counter a handler can bump; returns the new count.
#[derive(Clone, Default)]
pub struct Hits(Arc<AtomicU32>);

impl Hits {
    pub fn hit(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    pub fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Default)]
pub struct RecordingObserver {
    pub attempts: Mutex<Vec<(Method, String, Option<StatusCode>)>>,
    pub throttled: AtomicU32,
    /// How long the rate limiter held each request back, as the transport reported it.
    pub throttle_waits: Mutex<Vec<Duration>>,
    pub rate_limited: Mutex<Vec<Option<Duration>>>,
    pub retries: Mutex<Vec<(u32, Duration)>>,
    pub received: AtomicU64,
    pub sent: AtomicU64,
    pub quota_readings: Mutex<Vec<QuotaReading>>,
    pub quota_waits: Mutex<Vec<QuotaWait>>,
    pub quota_resumed: Mutex<Vec<Duration>>,
}

impl RecordingObserver {
    pub fn attempt_count(&self) -> usize {
        self.attempts.lock().unwrap().len()
    }
    pub fn retry_count(&self) -> usize {
        self.retries.lock().unwrap().len()
    }
}

impl TransportObserver for RecordingObserver {
    fn attempt(
        &self,
        _service: &'static str,
        method: &Method,
        url: &Url,
        outcome: &RequestOutcome,
        _elapsed: Duration,
    ) {
        let status = match outcome {
            RequestOutcome::Response(status) => Some(*status),
            RequestOutcome::Failed => None,
        };
        self.attempts
            .lock()
            .unwrap()
            .push((method.clone(), url.to_string(), status));
    }
    fn throttled(&self, _service: &'static str, waited: Duration) {
        self.throttled.fetch_add(1, Ordering::SeqCst);
        self.throttle_waits.lock().unwrap().push(waited);
    }
    fn rate_limited(&self, _service: &'static str, retry_after: Option<Duration>) {
        self.rate_limited.lock().unwrap().push(retry_after);
    }
    fn retry(&self, _service: &'static str, attempt: u32, delay: Duration) {
        self.retries.lock().unwrap().push((attempt, delay));
    }
    fn bytes(&self, _service: &'static str, received: u64, sent: u64) {
        self.received.fetch_add(received, Ordering::SeqCst);
        self.sent.fetch_add(sent, Ordering::SeqCst);
    }
    fn quota(&self, _service: &'static str, reading: &QuotaReading) {
        self.quota_readings.lock().unwrap().push(reading.clone());
    }
    fn quota_wait(&self, _service: &'static str, wait: &QuotaWait) {
        self.quota_waits.lock().unwrap().push(*wait);
    }
    fn quota_resumed(&self, _service: &'static str, waited: Duration) {
        self.quota_resumed.lock().unwrap().push(waited);
    }
}

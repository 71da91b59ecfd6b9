//! Hooks for metrics. The transport reports what happened; the binary decides what to count.

use std::time::Duration;

use http::{Method, StatusCode};
use url::Url;

use crate::quota::{QuotaReading, QuotaWait};

/// How one HTTP attempt ended.
#[derive(Debug, Clone)]
pub enum RequestOutcome {
    Response(StatusCode),
    /// No response: connect error, timeout, reset.
    Failed,
}

/// Receives transport events. Implementations must be cheap and must not block.
pub trait TransportObserver: Send + Sync + std::fmt::Debug {
    /// One attempt (one HTTP exchange, redirect hops included as separate attempts) finished.
    fn attempt(
        &self,
        _service: &'static str,
        _method: &Method,
        _url: &Url,
        _outcome: &RequestOutcome,
        _elapsed: Duration,
    ) {
    }
    /// The rate limiter held a request back for `waited`.
    fn throttled(&self, _service: &'static str, _waited: Duration) {}
    /// The server answered 429.
    fn rate_limited(&self, _service: &'static str, _retry_after: Option<Duration>) {}
    /// An attempt is retried after `delay`.
    fn retry(&self, _service: &'static str, _attempt: u32, _delay: Duration) {}
    /// Body bytes received (downloads) or sent (uploads).
    fn bytes(&self, _service: &'static str, _received: u64, _sent: u64) {}
    /// An answer carried points-quota headers (Confluence Cloud).
    fn quota(&self, _service: &'static str, _reading: &QuotaReading) {}
    /// Every request of the tenant now waits for the quota to reset (a new pause, or one
    /// moved later).
    fn quota_wait(&self, _service: &'static str, _wait: &QuotaWait) {}
    /// A quota pause ended after `waited`; requests resume.
    fn quota_resumed(&self, _service: &'static str, _waited: Duration) {}
}

/// Observes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopObserver;

impl TransportObserver for NoopObserver {}

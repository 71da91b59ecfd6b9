//! The transport observer: turns one tenant's HTTP events into metrics. The transport does not
//! know tenants, so each tenant's clients get their own observer carrying the tenant's name
//! (context passed, not ambient).

use std::sync::Arc;
use std::time::Duration;

use http_transport::{QuotaReading, QuotaWait, RequestOutcome, TransportObserver};

use crate::metrics::{endpoint_label, Metrics};

#[derive(Debug)]
pub(crate) struct TransportMetrics {
    tenant: String,
    metrics: Arc<Metrics>,
}

impl TransportMetrics {
    pub(crate) fn new(tenant: &str, metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Self {
            tenant: tenant.to_owned(),
            metrics,
        })
    }
}

impl TransportObserver for TransportMetrics {
    fn attempt(
        &self,
        service: &'static str,
        _method: &http::Method,
        url: &url::Url,
        outcome: &RequestOutcome,
        elapsed: Duration,
    ) {
        let status = match outcome {
            RequestOutcome::Response(s) => Some(s.as_u16()),
            RequestOutcome::Failed => None,
        };
        self.metrics.http_attempt(&self.tenant, service, status);
        if service == "confluence" {
            self.metrics
                .confluence_request(&self.tenant, &endpoint_label(url), status, elapsed);
        }
    }

    fn throttled(&self, service: &'static str, waited: Duration) {
        self.metrics.throttled(&self.tenant, service, waited);
    }

    fn rate_limited(&self, service: &'static str, _retry_after: Option<Duration>) {
        self.metrics.rate_limited(&self.tenant, service);
    }

    fn retry(&self, service: &'static str, _attempt: u32, _delay: Duration) {
        self.metrics.retried(&self.tenant, service);
    }

    fn bytes(&self, service: &'static str, received: u64, sent: u64) {
        self.metrics.bytes(&self.tenant, service, received, sent);
    }

    fn quota(&self, service: &'static str, reading: &QuotaReading) {
        if service == "confluence" {
            self.metrics.quota_reading(
                &self.tenant,
                reading.limit,
                reading.remaining,
                reading.reset_at.map(unix_secs),
                reading.near_limit,
            );
        }
    }

    fn quota_wait(&self, service: &'static str, wait: &QuotaWait) {
        if service == "confluence" {
            self.metrics.quota_wait_started(
                &self.tenant,
                wait.cause.as_str(),
                unix_secs(wait.until),
            );
        }
    }

    fn quota_resumed(&self, service: &'static str, waited: Duration) {
        if service == "confluence" {
            self.metrics.quota_wait_ended(&self.tenant, waited);
        }
    }
}

fn unix_secs(at: std::time::SystemTime) -> f64 {
    at.duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

//! Request counters and the request log.
//!
//! Benchmarks and tests judge the clients by what reached the servers ("one body request per 250
//! pages", "no `Authorization` on the media host"), so every request is recorded with the route
//! template it matched, not just its path.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Most requests kept in the log; the counters keep counting past it. Large benchmark runs
/// would otherwise grow the log without bound.
const LOG_CAPACITY: usize = 200_000;

/// One request as the sandbox saw it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RequestRecord {
    /// Which simulated service answered: `cloud`, `cloud-site`, `media`, `dc`, `unique-ingestion`, ...
    pub service: String,
    pub method: String,
    /// The axum route template (`MatchedPath`), e.g. `/wiki/rest/api/content/search`, or the raw
    /// path when no route matched.
    pub route: String,
    /// Path and query exactly as received.
    pub path_and_query: String,
    /// GraphQL operation name or similar sub-route key, when the handler reported one.
    pub operation: Option<String>,
    pub status: u16,
    pub started_at: DateTime<Utc>,
    /// When the response head was produced (streamed bodies may still be flowing).
    pub finished_at: DateTime<Utc>,
    /// Whether the request carried an `Authorization` header (its value is never recorded).
    pub had_authorization: bool,
}

/// Key of the request counters: (service, method, route).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct RouteKey {
    pub service: String,
    pub method: String,
    pub route: String,
}

#[derive(Debug, Default)]
struct LogInner {
    records: Vec<RequestRecord>,
    dropped: u64,
    counts: BTreeMap<RouteKey, u64>,
    operation_counts: BTreeMap<(String, String), u64>,
}

/// Shared request log and counters; cheap to clone.
#[derive(Clone, Default)]
pub struct RequestLog {
    inner: Arc<Mutex<LogInner>>,
}

/// Summarised: a benchmark's log has hundreds of thousands of entries.
impl std::fmt::Debug for RequestLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("RequestLog")
            .field("records", &inner.records.len())
            .field("dropped", &inner.dropped)
            .finish()
    }
}

/// Counter snapshot entry, as served by the control API.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RouteCount {
    pub service: String,
    pub method: String,
    pub route: String,
    pub count: u64,
}

impl RequestLog {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogInner> {
        // A panic while holding this lock cannot leave the log inconsistent in a way that
        // matters for a test double, so poisoning is ignored.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one finished request.
    pub fn record(&self, record: RequestRecord) {
        let mut inner = self.lock();
        let key = RouteKey {
            service: record.service.clone(),
            method: record.method.clone(),
            route: record.route.clone(),
        };
        *inner.counts.entry(key).or_default() += 1;
        if let Some(op) = &record.operation {
            *inner
                .operation_counts
                .entry((record.service.clone(), op.clone()))
                .or_default() += 1;
        }
        if inner.records.len() >= LOG_CAPACITY {
            inner.dropped += 1;
        } else {
            inner.records.push(record);
        }
    }

    /// Requests answered for (service, method, route template).
    pub fn count(&self, service: &str, method: &str, route: &str) -> u64 {
        let key = RouteKey {
            service: service.to_owned(),
            method: method.to_ascii_uppercase(),
            route: route.to_owned(),
        };
        self.lock().counts.get(&key).copied().unwrap_or(0)
    }

    /// Requests answered for a service, any route whose template ends with `route_suffix`
    /// (pass `""` for every route; `""` as method for every method). Saves tests from spelling out `{cloud_id}` prefixes.
    pub fn count_matching(&self, service: &str, method: &str, route_suffix: &str) -> u64 {
        self.lock()
            .counts
            .iter()
            .filter(|(k, _)| {
                k.service == service
                    && (method.is_empty() || k.method.eq_ignore_ascii_case(method))
                    && k.route.ends_with(route_suffix)
            })
            .map(|(_, n)| n)
            .sum()
    }

    /// Requests that reported GraphQL operation `operation` on `service`.
    pub fn count_operation(&self, service: &str, operation: &str) -> u64 {
        self.lock()
            .operation_counts
            .get(&(service.to_owned(), operation.to_owned()))
            .copied()
            .unwrap_or(0)
    }

    /// Total requests answered by a service.
    pub fn count_service(&self, service: &str) -> u64 {
        self.lock()
            .counts
            .iter()
            .filter(|(k, _)| k.service == service)
            .map(|(_, n)| n)
            .sum()
    }

    /// Every counter.
    pub fn counts(&self) -> Vec<RouteCount> {
        self.lock()
            .counts
            .iter()
            .map(|(k, n)| RouteCount {
                service: k.service.clone(),
                method: k.method.clone(),
                route: k.route.clone(),
                count: *n,
            })
            .collect()
    }

    /// The log, oldest first (at most the first 200 000 requests since the last reset).
    pub fn records(&self) -> Vec<RequestRecord> {
        self.lock().records.clone()
    }

    /// Records of one service, oldest first.
    pub fn records_for(&self, service: &str) -> Vec<RequestRecord> {
        self.lock()
            .records
            .iter()
            .filter(|r| r.service == service)
            .cloned()
            .collect()
    }

    /// Forgets every record and counter.
    pub fn reset(&self) {
        *self.lock() = LogInner::default();
    }
}

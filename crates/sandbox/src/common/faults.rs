//! Fault injection and rate limiting.
//!
//! Clients must survive 429 storms, 5xx bursts, slow servers and connections cut mid-body; the
//! sandbox produces each on demand. Faults are chosen with a seeded RNG so a failing test replays
//! the same sequence (given the same request order).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use http::{HeaderValue, StatusCode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// One fault rule. A request matches when its service equals `service` (or `service` is `*`),
/// if `route` is set, its route template or operation name equals or ends with `route`, and, if
/// `batch_id` is set, the request names that content id. Every matching rule adds its latency;
/// the first rule that decides to fail the request answers it; `omit` rules instead leave their
/// id out of the answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultRule {
    /// Service name (`cloud`, `media`, `dc`, `unique-ingestion`, ...) or `*` for all.
    pub service: String,
    /// Suffix of the route template (`content/search`) or GraphQL operation name; `None` = all.
    pub route: Option<String>,
    /// Share of matching requests answered with `error_status` (0.0–1.0).
    pub error_ratio: f64,
    /// Fail every Nth matching request instead of (or in addition to) the ratio.
    pub every_nth: Option<u64>,
    /// Status of injected errors (default 500).
    pub error_status: u16,
    /// `Retry-After` seconds sent with injected errors (defaults to 1 for 429 and 503).
    pub retry_after_secs: Option<u64>,
    /// A raw `Retry-After` value instead (an HTTP date, or an absurd number such as
    /// `9223372036854775807`, which a blocked Data Center account gets).
    pub retry_after_raw: Option<String>,
    /// Latency added before the request is handled.
    pub latency_ms: u64,
    /// Share of matching requests whose response body is cut after `cut_after_bytes`.
    pub cut_ratio: f64,
    pub cut_after_bytes: u64,
    /// The rule fires (error or cut) at most this many times; `None` = forever.
    pub times: Option<u64>,
    /// The first this-many matching requests pass untouched (no latency, no error): a fault
    /// that starts mid-way, e.g. a search whose second page fails.
    pub skip_first: u64,
    /// The rule acts only during this many milliseconds after it was added, then never again:
    /// an outage window ("Unique is down for 3 s"). `None` = no end.
    pub active_for_ms: Option<u64>,
    /// Only requests that name this content id match: among the ids of a batch (v2
    /// `?id=1,2,3`, a CQL `id in (…)` or `id = …`) or as a path segment (`/pages/123/attachments`,
    /// `/content/123/child/attachment`). One item of a batched request can so be made to fail.
    pub batch_id: Option<String>,
    /// Instead of failing the request, answer it without the item `batch_id`, which is what
    /// Confluence does with content deleted or restricted since the client learned its id (v2
    /// bulk reads and CQL searches simply leave it out).
    pub omit: bool,
}

impl Default for FaultRule {
    fn default() -> Self {
        Self {
            service: "*".into(),
            route: None,
            error_ratio: 0.0,
            every_nth: None,
            error_status: 500,
            retry_after_secs: None,
            retry_after_raw: None,
            latency_ms: 0,
            cut_ratio: 0.0,
            cut_after_bytes: 0,
            times: None,
            skip_first: 0,
            active_for_ms: None,
            batch_id: None,
            omit: false,
        }
    }
}

impl FaultRule {
    /// Fails `ratio` of the service's requests with `status`.
    pub fn error(service: &str, status: u16, ratio: f64) -> Self {
        Self {
            service: service.into(),
            error_status: status,
            error_ratio: ratio,
            ..Self::default()
        }
    }

    /// Fails every `n`th request of the service with `status` (a "429 storm" with 429).
    pub fn every_nth(service: &str, n: u64, status: u16) -> Self {
        Self {
            service: service.into(),
            error_status: status,
            every_nth: Some(n),
            ..Self::default()
        }
    }

    /// Adds latency to every request of the service.
    pub fn latency(service: &str, latency: Duration) -> Self {
        Self {
            service: service.into(),
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            ..Self::default()
        }
    }

    /// Cuts `ratio` of response bodies after `after_bytes` bytes.
    pub fn cut_body(service: &str, ratio: f64, after_bytes: u64) -> Self {
        Self {
            service: service.into(),
            cut_ratio: ratio,
            cut_after_bytes: after_bytes,
            ..Self::default()
        }
    }

    /// Matches only requests that name content `id` (in a batch or in the path); fails them
    /// with `status`.
    pub fn failing_batch_id(service: &str, id: &str, status: u16) -> Self {
        Self {
            service: service.into(),
            batch_id: Some(id.into()),
            error_status: status,
            error_ratio: 1.0,
            ..Self::default()
        }
    }

    /// Answers requests whose batch names content `id` without that item, as Confluence answers
    /// for content deleted or restricted since its id was learned.
    pub fn omitting_batch_id(service: &str, id: &str) -> Self {
        Self {
            service: service.into(),
            batch_id: Some(id.into()),
            omit: true,
            ..Self::default()
        }
    }

    /// Restricts the rule to routes (or operations) ending with `route`.
    pub fn on_route(mut self, route: &str) -> Self {
        self.route = Some(route.into());
        self
    }

    /// Limits how often the rule fires.
    pub fn times(mut self, times: u64) -> Self {
        self.times = Some(times);
        self
    }

    /// Lets the first `n` matching requests through untouched.
    pub fn skip_first(mut self, n: u64) -> Self {
        self.skip_first = n;
        self
    }

    /// Ends the rule `window` after it was added (an outage of that length).
    pub fn active_for(mut self, window: Duration) -> Self {
        self.active_for_ms = Some(u64::try_from(window.as_millis()).unwrap_or(u64::MAX));
        self
    }

    /// Sets the `Retry-After` seconds of injected errors.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    fn matches(&self, service: &str, key: &str, ids: &[String]) -> bool {
        (self.service == "*" || self.service == service)
            && self
                .route
                .as_deref()
                .is_none_or(|r| key == r || key.ends_with(r))
            && self
                .batch_id
                .as_deref()
                .is_none_or(|id| ids.iter().any(|i| i == id))
    }
}

/// A per-service rate limit: a token bucket refilled continuously at `per_minute / 60` per
/// second, holding at most `burst` tokens (default: ten seconds' worth, at least 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_minute: u64,
    #[serde(default)]
    pub burst: Option<u64>,
}

impl RateLimit {
    pub fn per_minute(per_minute: u64) -> Self {
        Self {
            per_minute,
            burst: None,
        }
    }

    fn capacity(&self) -> f64 {
        if self.per_minute == 0 {
            // A limit of zero is a blocked account: nothing gets through.
            return 0.0;
        }
        self.burst.unwrap_or((self.per_minute / 6).max(1)).max(1) as f64
    }
}

#[derive(Debug)]
struct Bucket {
    limit: RateLimit,
    tokens: f64,
    updated: Instant,
}

impl Bucket {
    fn new(limit: RateLimit) -> Self {
        Self {
            tokens: limit.capacity(),
            limit,
            updated: Instant::now(),
        }
    }

    /// Takes a token, or returns how long until one is available.
    fn take(&mut self, now: Instant) -> Result<u64, Duration> {
        let rate_per_sec = self.limit.per_minute as f64 / 60.0;
        let elapsed = now.duration_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate_per_sec).min(self.limit.capacity());
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(self.tokens.floor() as u64)
        } else if rate_per_sec <= 0.0 {
            Err(Duration::MAX)
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / rate_per_sec))
        }
    }
}

#[derive(Debug)]
struct RuleState {
    id: u64,
    rule: FaultRule,
    matched: u64,
    fired: u64,
    /// When the rule was added; `active_for_ms` counts from here.
    added: Instant,
}

#[derive(Debug)]
struct FaultsInner {
    rng: StdRng,
    next_id: u64,
    rules: Vec<RuleState>,
    rate_limits: BTreeMap<String, Bucket>,
}

/// Configuration of the faults at start-up (all of it can be changed at run time).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FaultsConfig {
    /// Seed of the RNG that picks which requests fail.
    pub seed: u64,
    pub rules: Vec<FaultRule>,
    /// Rate limit per service name.
    pub rate_limits: BTreeMap<String, RateLimit>,
}

/// A rule as listed by [`Faults::rules`], with its id and how often it matched and fired.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActiveRule {
    pub id: u64,
    #[serde(flatten)]
    pub rule: FaultRule,
    pub matched: u64,
    pub fired: u64,
}

/// Shared, switchable fault state; cheap to clone.
#[derive(Debug, Clone)]
pub struct Faults {
    inner: Arc<Mutex<FaultsInner>>,
}

/// What to do with one request.
#[derive(Debug, Default)]
pub struct FaultDecision {
    /// Wait this long before handling (or before answering with `error`).
    pub latency: Duration,
    /// Answer with this instead of handling the request.
    pub error: Option<Response>,
    /// Cut the response body after this many bytes.
    pub cut_after: Option<u64>,
    /// Content ids the answer must leave out (`omit` rules).
    pub omit: Vec<String>,
}

/// The content ids an `omit` rule removed from this request's answer; put into the request's
/// extensions by the middleware for the handlers of batched reads.
#[derive(Debug, Clone, Default)]
pub struct OmittedIds(pub Vec<String>);

impl OmittedIds {
    pub fn contains(&self, id: &str) -> bool {
        self.0.iter().any(|i| i == id)
    }
}

/// A handler argument: the ids to leave out of this request's answer (none without a rule).
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for OmittedIds {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<OmittedIds>()
            .cloned()
            .unwrap_or_default())
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self::new(FaultsConfig::default())
    }
}

impl Faults {
    pub fn new(config: FaultsConfig) -> Self {
        let faults = Self {
            inner: Arc::new(Mutex::new(FaultsInner {
                rng: StdRng::seed_from_u64(config.seed),
                next_id: 1,
                rules: Vec::new(),
                rate_limits: BTreeMap::new(),
            })),
        };
        for rule in config.rules {
            faults.add_rule(rule);
        }
        for (service, limit) in config.rate_limits {
            faults.set_rate_limit(&service, limit);
        }
        faults
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FaultsInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a rule; returns its id for [`Faults::remove_rule`].
    pub fn add_rule(&self, rule: FaultRule) -> u64 {
        let mut inner = self.lock();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.rules.push(RuleState {
            id,
            rule,
            matched: 0,
            fired: 0,
            added: Instant::now(),
        });
        id
    }

    /// Removes one rule; false when it did not exist.
    pub fn remove_rule(&self, id: u64) -> bool {
        let mut inner = self.lock();
        let before = inner.rules.len();
        inner.rules.retain(|r| r.id != id);
        inner.rules.len() != before
    }

    /// Removes every rule and rate limit.
    pub fn clear(&self) {
        let mut inner = self.lock();
        inner.rules.clear();
        inner.rate_limits.clear();
    }

    /// Restarts the RNG, so the next decisions repeat a known sequence.
    pub fn reseed(&self, seed: u64) {
        self.lock().rng = StdRng::seed_from_u64(seed);
    }

    /// The rules with their counters.
    pub fn rules(&self) -> Vec<ActiveRule> {
        self.lock()
            .rules
            .iter()
            .map(|r| ActiveRule {
                id: r.id,
                rule: r.rule.clone(),
                matched: r.matched,
                fired: r.fired,
            })
            .collect()
    }

    /// Sets (or replaces, refilling the bucket) a service's rate limit.
    pub fn set_rate_limit(&self, service: &str, limit: RateLimit) {
        self.lock()
            .rate_limits
            .insert(service.to_owned(), Bucket::new(limit));
    }

    pub fn clear_rate_limit(&self, service: &str) {
        self.lock().rate_limits.remove(service);
    }

    /// The rate limits in force.
    pub fn rate_limits(&self) -> BTreeMap<String, RateLimit> {
        self.lock()
            .rate_limits
            .iter()
            .map(|(k, b)| (k.clone(), b.limit))
            .collect()
    }

    /// Decides the fate of one request to `service` with route template or operation `key`.
    pub fn decide(&self, service: &str, key: &str) -> FaultDecision {
        self.decide_scoped(service, key, &[], Scope::Request)
    }

    /// [`Faults::decide`] for a request that names content `ids` (see `FaultRule::batch_id`).
    pub fn decide_for_ids(&self, service: &str, key: &str, ids: &[String]) -> FaultDecision {
        self.decide_scoped(service, key, ids, Scope::Request)
    }

    /// Whether any rule targets a content id, so that requests need their ids extracted.
    pub fn has_batch_rules(&self) -> bool {
        self.lock().rules.iter().any(|r| r.rule.batch_id.is_some())
    }

    /// `Scope::Request` is the middleware's decision for a whole HTTP request: rate limit and
    /// every matching rule. `Scope::Operation` is a handler's second look at one operation inside
    /// that request (a GraphQL operation): only rules naming a route or operation apply, so that
    /// a service-wide rule or the rate limit is not counted twice for one request.
    fn decide_scoped(
        &self,
        service: &str,
        key: &str,
        ids: &[String],
        scope: Scope,
    ) -> FaultDecision {
        let mut inner = self.lock();
        let mut decision = FaultDecision::default();
        let now = Instant::now();
        if scope == Scope::Request {
            if let Some(bucket) = inner.rate_limits.get_mut(service) {
                if let Err(wait) = bucket.take(now) {
                    decision.error = Some(rate_limited(bucket.limit, wait));
                    return decision;
                }
            }
        }
        let FaultsInner { rng, rules, .. } = &mut *inner;
        for state in rules.iter_mut() {
            if !state.rule.matches(service, key, ids) {
                continue;
            }
            if scope == Scope::Operation && state.rule.route.is_none() {
                continue;
            }
            state.matched += 1;
            let rule = &state.rule;
            let window_over = rule
                .active_for_ms
                .is_some_and(|ms| now.duration_since(state.added) >= Duration::from_millis(ms));
            if state.matched <= rule.skip_first || window_over {
                continue;
            }
            decision.latency = decision.latency.max(Duration::from_millis(rule.latency_ms));
            let exhausted = rule.times.is_some_and(|t| state.fired >= t);
            if exhausted || decision.error.is_some() {
                continue;
            }
            if rule.omit {
                if let Some(id) = &rule.batch_id {
                    state.fired += 1;
                    decision.omit.push(id.clone());
                }
                continue;
            }
            let nth = rule
                .every_nth
                .is_some_and(|n| n > 0 && state.matched % n == 0);
            let by_ratio = rule.error_ratio > 0.0 && rng.random::<f64>() < rule.error_ratio;
            if nth || by_ratio {
                state.fired += 1;
                decision.error = Some(injected_error(rule));
                continue;
            }
            if decision.cut_after.is_none()
                && rule.cut_ratio > 0.0
                && rng.random::<f64>() < rule.cut_ratio
            {
                state.fired += 1;
                decision.cut_after = Some(rule.cut_after_bytes);
            }
        }
        decision
    }

    /// Applies the faults for one operation inside a handler (e.g. a GraphQL operation): waits
    /// the injected latency and returns the error response to send, if any. Body cuts do not
    /// apply here; they are applied by the middleware to whole responses.
    pub async fn apply(&self, service: &str, operation: &str) -> Option<Response> {
        let decision = self.decide_scoped(service, operation, &[], Scope::Operation);
        if !decision.latency.is_zero() {
            tokio::time::sleep(decision.latency).await;
        }
        decision.error
    }
}

/// The content ids a request names, for `FaultRule::batch_id`: numeric path segments, every
/// `id` query value (repeated or comma-separated, as v2 bulk reads take them) and the ids a CQL
/// `cql` parameter pins (`id = …`, `id in (…)`).
pub fn request_content_ids(uri: &http::Uri) -> Vec<String> {
    let mut ids: Vec<String> = uri
        .path()
        .split('/')
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect();
    for (name, value) in url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes()) {
        match name.as_ref() {
            "id" => ids.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
            ),
            "cql" => {
                if let Some(pinned) = crate::confluence::parse_cql(&value)
                    .ok()
                    .as_ref()
                    .and_then(crate::confluence::CqlExpr::id_restriction)
                {
                    ids.extend(pinned.into_iter().map(str::to_owned));
                }
            }
            _ => {}
        }
    }
    ids
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Request,
    Operation,
}

/// The JSON error body shared by every simulated service (Confluence's shape).
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({
            "statusCode": status.as_u16(),
            "message": message,
        })),
    )
        .into_response()
}

fn injected_error(rule: &FaultRule) -> Response {
    let status =
        StatusCode::from_u16(rule.error_status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = json_error(status, "sandbox: injected fault");
    if let Some(raw) = rule
        .retry_after_raw
        .as_deref()
        .and_then(|r| HeaderValue::from_str(r).ok())
    {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, raw);
        return response;
    }
    let retry_after = rule.retry_after_secs.or(matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    )
    .then_some(1));
    if let Some(secs) = retry_after {
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn rate_limited(limit: RateLimit, wait: Duration) -> Response {
    if limit.per_minute == 0 {
        // What a blocked Data Center account answers (see api-pitfalls.md).
        let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
        let headers = response.headers_mut();
        headers.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_static("9223372036854775807"),
        );
        headers.insert("x-ratelimit-limit", HeaderValue::from(0u64));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(0u64));
        return response;
    }
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = json_error(StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded");
    let reset = chrono::Utc::now() + chrono::Duration::seconds(i64::try_from(secs).unwrap_or(0));
    let headers = response.headers_mut();
    headers.insert(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    headers.insert("x-ratelimit-limit", HeaderValue::from(limit.per_minute));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(0u64));
    if let Ok(v) = HeaderValue::from_str(&reset.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    {
        headers.insert("x-ratelimit-reset", v);
    }
    headers.insert("ratelimit-reason", HeaderValue::from_static("sandbox"));
    response
}

/// Wraps a body so that it fails after `after` bytes, the way a dropped connection looks to a
/// client. Bodies shorter than `after` fail at their end.
pub fn cut_body(body: Body, after: u64) -> Body {
    let mut inner = body.into_data_stream();
    let stream = async_stream::stream! {
        let mut sent = 0u64;
        while let Some(chunk) = inner.next().await {
            match chunk {
                Ok(bytes) => {
                    let remaining = after.saturating_sub(sent);
                    if bytes.len() as u64 > remaining {
                        let keep = usize::try_from(remaining).unwrap_or(usize::MAX);
                        if keep > 0 {
                            yield Ok(bytes.slice(..keep));
                        }
                        break;
                    }
                    sent += bytes.len() as u64;
                    yield Ok(bytes);
                }
                Err(e) => {
                    yield Err(std::io::Error::other(e));
                    return;
                }
            }
        }
        // Let the server flush the head and the bytes sent so far, so the client sees a
        // response that breaks mid-body rather than no response at all.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        yield Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox: connection cut mid-body",
        ));
    };
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bucket_allows_burst_then_refills_over_time() {
        let mut bucket = Bucket::new(RateLimit {
            per_minute: 60,
            burst: Some(2),
        });
        let start = Instant::now();
        assert!(bucket.take(start).is_ok());
        assert!(bucket.take(start).is_ok());
        let wait = bucket.take(start).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        assert!(bucket.take(start + Duration::from_millis(1010)).is_ok());
    }

    #[test]
    fn rules_match_service_wildcards_and_route_suffixes() {
        let faults = Faults::default();
        faults.add_rule(
            FaultRule::error("*", 503, 1.0)
                .on_route("content/search")
                .times(2),
        );
        assert!(faults
            .decide("dc", "/rest/api/content/{id}")
            .error
            .is_none());
        assert!(faults
            .decide("dc", "/rest/api/content/search")
            .error
            .is_some());
        assert!(faults
            .decide(
                "cloud",
                "/ex/confluence/{cloud_id}/wiki/rest/api/content/search"
            )
            .error
            .is_some());
        assert!(
            faults
                .decide("cloud", "/wiki/rest/api/content/search")
                .error
                .is_none(),
            "times(2) is spent"
        );
        let rules = faults.rules();
        assert_eq!((rules[0].matched, rules[0].fired), (3, 2));
    }

    #[tokio::test]
    async fn an_operation_check_does_not_count_service_wide_rules_or_the_rate_limit_twice() {
        let faults = Faults::default();
        faults.add_rule(FaultRule::every_nth("unique-ingestion", 2, 500));
        faults.add_rule(FaultRule::error("unique-ingestion", 502, 1.0).on_route("ContentUpsert"));
        faults.set_rate_limit(
            "unique-ingestion",
            RateLimit {
                per_minute: 60,
                burst: Some(1),
            },
        );
        // One GraphQL request: the middleware decides for `/graphql`, then the handler asks
        // about the operation inside it.
        assert!(faults
            .decide("unique-ingestion", "/graphql")
            .error
            .is_none());
        let operation = faults
            .apply("unique-ingestion", "ContentUpsert")
            .await
            .unwrap();
        assert_eq!(operation.status(), StatusCode::BAD_GATEWAY);
        let rules = faults.rules();
        assert_eq!(rules[0].matched, 1, "the service-wide rule saw one request");
        assert_eq!(rules[1].matched, 1);
        assert!(
            faults
                .apply("unique-ingestion", "PaginatedScope")
                .await
                .is_none(),
            "the operation check takes no rate-limit token"
        );
    }

    #[test]
    fn zero_rate_is_a_blocked_account() {
        let faults = Faults::default();
        faults.set_rate_limit("dc", RateLimit::per_minute(0));
        let response = faults.decide("dc", "/r").error.unwrap();
        assert_eq!(response.headers()["retry-after"], "9223372036854775807");
        assert_eq!(response.headers()["x-ratelimit-limit"], "0");
    }

    #[test]
    fn raw_retry_after_is_sent_verbatim() {
        let faults = Faults::default();
        faults.add_rule(FaultRule {
            retry_after_raw: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
            ..FaultRule::error("x", 429, 1.0)
        });
        let response = faults.decide("x", "/r").error.unwrap();
        assert_eq!(
            response.headers()["retry-after"],
            "Wed, 21 Oct 2015 07:28:00 GMT"
        );
    }

    #[test]
    fn skip_first_lets_the_first_matches_through_then_fires() {
        let faults = Faults::default();
        faults.add_rule(
            FaultRule::error("dc", 503, 1.0)
                .on_route("content/search")
                .skip_first(2)
                .times(1),
        );
        let fails = |route| faults.decide("dc", route).error.is_some();
        assert!(
            !fails("/rest/api/content/{id}"),
            "another route does not count"
        );
        assert!(!fails("/rest/api/content/search"), "first page");
        assert!(!fails("/rest/api/content/search"), "second page");
        assert!(fails("/rest/api/content/search"), "third page fails");
        assert!(!fails("/rest/api/content/search"), "times(1) is spent");
        let rules = faults.rules();
        assert_eq!((rules[0].matched, rules[0].fired), (4, 1));
    }

    #[test]
    fn an_outage_window_ends_after_its_duration_latency_included() {
        let faults = Faults::default();
        faults.add_rule(
            FaultRule {
                latency_ms: 5,
                ..FaultRule::error("unique-ingestion", 502, 1.0)
            }
            .active_for(Duration::from_millis(150)),
        );
        let during = faults.decide("unique-ingestion", "/graphql");
        assert_eq!(during.error.unwrap().status(), StatusCode::BAD_GATEWAY);
        assert_eq!(during.latency, Duration::from_millis(5));
        std::thread::sleep(Duration::from_millis(200));
        let after = faults.decide("unique-ingestion", "/graphql");
        assert!(after.error.is_none(), "the outage is over");
        assert!(after.latency.is_zero());
        assert_eq!(faults.rules()[0].fired, 1);
    }

    #[test]
    fn new_fields_default_when_absent_from_json() {
        let rule: FaultRule =
            serde_json::from_str(r#"{"service":"cloud","error_ratio":1.0}"#).unwrap();
        assert_eq!((rule.skip_first, rule.active_for_ms), (0, None));
        let rule: FaultRule = serde_json::from_str(
            r#"{"service":"cloud","error_ratio":1.0,"skip_first":3,"active_for_ms":2000}"#,
        )
        .unwrap();
        assert_eq!((rule.skip_first, rule.active_for_ms), (3, Some(2000)));
    }

    #[test]
    fn same_seed_same_decisions() {
        let run = |seed| {
            let faults = Faults::new(FaultsConfig {
                seed,
                rules: vec![
                    FaultRule::error("x", 500, 0.3),
                    FaultRule::cut_body("x", 0.3, 10),
                ],
                ..FaultsConfig::default()
            });
            (0..50)
                .map(|_| {
                    let d = faults.decide("x", "/r");
                    (d.error.is_some(), d.cut_after)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
    }
}

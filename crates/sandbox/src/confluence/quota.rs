//! Confluence Cloud's points quota (enforced since 2026-03-02): every API request costs points,
//! an app's pool refills at the top of every UTC hour, and once it is spent everything is
//! refused with 429 until the reset.
//!
//! Cost of one answered request (developer.atlassian.com/cloud/confluence/rate-limiting): 1 base
//! point, plus 1 per object returned, 2 per identity object (user, group, permission). "Objects
//! returned" here: every element of every `results` array in a JSON answer, at any depth (so the
//! attachments and labels a search expands count too: "unlisted objects default to 1 point"), or
//! 1 for a single object (an answer with an `id` and no `results`), or 1 for a download (the
//! attachment). Answers that are not 2xx/3xx cost the base point only. Which parts of a response
//! Atlassian counts exactly is unconfirmed; this is the more expensive reading. Refused requests
//! (429) cost nothing. The token endpoint and the media host are not the Confluence REST API and
//! are not charged.
//!
//! Headers on every charged answer: `X-RateLimit-Limit` (the pool), `X-RateLimit-Remaining`,
//! `X-RateLimit-Reset` (ISO 8601), `X-RateLimit-NearLimit` (`true` below 20 % left),
//! `Beta-RateLimit-Policy: "global-app-quota";q=<pool>;w=<window s>` and `Beta-RateLimit:
//! "global-app-quota";[r=<remaining>;]t=<s to reset>` (`r` only below 20 %, as documented; the
//! `Beta-` prefix off with `beta_headers: false`, as once enforcement reaches the app). On a
//! refusal also `Retry-After` and `Beta-Retry-After` (seconds to the reset) and `RateLimit-Reason:
//! confluence-quota-global-based` (or `-tenant-based`, or `reason` verbatim, e.g. the
//! `conf-global-based` seen live).
//!
//! On by default (the real Cloud always charges). The window is configurable for tests and
//! aligned to multiples of itself since the Unix epoch, so the default hour resets at the top of
//! every UTC hour and a 10-second window at every tenth second.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Below this share of the pool left, `X-RateLimit-NearLimit` is `true` and `r` is sent.
const NEAR_LIMIT_SHARE: f64 = 0.2;

/// Which pool an app draws from (the `RateLimit-Reason` and policy name differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum QuotaPool {
    /// Tier 1: one pool for the app across all its tenants (65,000 points/hour).
    #[default]
    Global,
    /// Tier 2: a pool per tenant, granted after Atlassian's review.
    Tenant,
}

impl QuotaPool {
    fn policy(self) -> &'static str {
        match self {
            Self::Global => "global-app-quota",
            Self::Tenant => "tenant-app-quota",
        }
    }

    fn reason(self) -> &'static str {
        match self {
            Self::Global => "confluence-quota-global-based",
            Self::Tenant => "confluence-quota-tenant-based",
        }
    }
}

/// How the Cloud points quota behaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CloudQuotaConfig {
    /// Charge and refuse at all (default on, as the real Cloud does).
    pub enabled: bool,
    /// Points per window (default 65,000: the global pool of one app).
    pub pool: u64,
    /// Window length in seconds, aligned to multiples of itself since the epoch (default 3600:
    /// the top of every UTC hour).
    pub window_secs: u64,
    pub kind: QuotaPool,
    /// Structured headers with the `Beta-` prefix (default) or without (as sent once
    /// enforcement reached the app).
    pub beta_headers: bool,
    /// `RateLimit-Reason` text instead of the documented one.
    pub reason: Option<String>,
}

impl Default for CloudQuotaConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            pool: 65_000,
            window_secs: 3600,
            kind: QuotaPool::Global,
            beta_headers: true,
            reason: None,
        }
    }
}

/// A change to the quota through the control API: absent fields keep their value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CloudQuotaPatch {
    pub enabled: Option<bool>,
    pub pool: Option<u64>,
    pub window_secs: Option<u64>,
    pub kind: Option<QuotaPool>,
    pub beta_headers: Option<bool>,
    pub reason: Option<Option<String>>,
}

/// Points and requests per route template.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RouteSpend {
    /// Charged requests.
    pub requests: u64,
    pub points: u64,
    /// Requests refused with 429 because the pool was spent.
    pub refused: u64,
}

/// The quota as the control API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloudQuotaSnapshot {
    #[serde(flatten)]
    pub config: CloudQuotaConfig,
    /// Points spent in the current window.
    pub spent: u64,
    pub remaining: u64,
    /// When the current window ends (RFC 3339).
    pub reset_at: String,
    /// Points charged since the sandbox started or the counters were reset, every window.
    pub points_total: u64,
    /// Requests refused since then.
    pub refused_total: u64,
    pub by_route: BTreeMap<String, RouteSpend>,
}

#[derive(Debug)]
struct QuotaState {
    config: CloudQuotaConfig,
    /// Which window `spent` belongs to: `epoch seconds / window_secs`.
    window: u64,
    spent: u64,
    points_total: u64,
    refused_total: u64,
    by_route: BTreeMap<String, RouteSpend>,
}

/// The Cloud points quota: shared, switchable, cheap to clone.
#[derive(Debug, Clone)]
pub struct CloudQuota {
    inner: Arc<Mutex<QuotaState>>,
}

impl Default for CloudQuota {
    fn default() -> Self {
        Self::new(CloudQuotaConfig::default())
    }
}

fn epoch_secs_f64(at: SystemTime) -> f64 {
    at.duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

impl CloudQuota {
    pub fn new(config: CloudQuotaConfig) -> Self {
        Self {
            inner: Arc::new(Mutex::new(QuotaState {
                config,
                window: 0,
                spent: 0,
                points_total: 0,
                refused_total: 0,
                by_route: BTreeMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QuotaState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn config(&self) -> CloudQuotaConfig {
        self.lock().config.clone()
    }

    /// Replaces the configuration. Points spent in the current window stay spent unless the
    /// window length changes (a new window begins).
    pub fn set_config(&self, mut config: CloudQuotaConfig) {
        config.window_secs = config.window_secs.max(1);
        let mut state = self.lock();
        if state.config.window_secs != config.window_secs {
            state.spent = 0;
            state.window = 0;
        }
        state.config = config;
    }

    /// Applies a control-API change.
    pub fn patch(&self, patch: CloudQuotaPatch) {
        let mut config = self.config();
        if let Some(v) = patch.enabled {
            config.enabled = v;
        }
        if let Some(v) = patch.pool {
            config.pool = v;
        }
        if let Some(v) = patch.window_secs {
            config.window_secs = v;
        }
        if let Some(v) = patch.kind {
            config.kind = v;
        }
        if let Some(v) = patch.beta_headers {
            config.beta_headers = v;
        }
        if let Some(v) = patch.reason {
            config.reason = v;
        }
        self.set_config(config);
    }

    /// Spends points in the current window as another tenant of the same app would (the global
    /// pool is shared by every install of an app).
    pub fn spend(&self, points: u64) {
        let now = SystemTime::now();
        let mut state = self.lock();
        state.roll(now);
        state.spent = state.spent.saturating_add(points);
    }

    /// Points spent in the current window.
    pub fn spent(&self) -> u64 {
        let mut state = self.lock();
        state.roll(SystemTime::now());
        state.spent
    }

    /// Points charged since the start or [`CloudQuota::reset_counters`], across windows.
    pub fn points_total(&self) -> u64 {
        self.lock().points_total
    }

    /// Requests refused since then.
    pub fn refused_total(&self) -> u64 {
        self.lock().refused_total
    }

    pub fn by_route(&self) -> BTreeMap<String, RouteSpend> {
        self.lock().by_route.clone()
    }

    /// Forgets the totals and per-route counters (not what the current window has spent).
    pub fn reset_counters(&self) {
        let mut state = self.lock();
        state.points_total = 0;
        state.refused_total = 0;
        state.by_route.clear();
    }

    pub fn snapshot(&self) -> CloudQuotaSnapshot {
        let now = SystemTime::now();
        let mut state = self.lock();
        state.roll(now);
        let reset = state.reset_at(now);
        CloudQuotaSnapshot {
            config: state.config.clone(),
            spent: state.spent,
            remaining: state.remaining(),
            reset_at: iso(reset),
            points_total: state.points_total,
            refused_total: state.refused_total,
            by_route: state.by_route.clone(),
        }
    }

    /// The middleware for the Cloud gateway router.
    pub(crate) fn layer(&self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(self.clone(), charge))
    }
}

impl QuotaState {
    /// Starts a new window when the clock has passed the current one.
    fn roll(&mut self, now: SystemTime) {
        let window = epoch_secs_f64(now) as u64 / self.config.window_secs.max(1);
        if window != self.window {
            self.window = window;
            self.spent = 0;
        }
    }

    fn reset_at(&self, now: SystemTime) -> SystemTime {
        let w = self.config.window_secs.max(1);
        let next = (epoch_secs_f64(now) as u64 / w + 1) * w;
        SystemTime::UNIX_EPOCH + Duration::from_secs(next)
    }

    fn remaining(&self) -> u64 {
        self.config.pool.saturating_sub(self.spent)
    }

    /// The headers every answer carries, after this request was charged.
    fn headers(&self, now: SystemTime, refused: bool) -> HeaderMap {
        let config = &self.config;
        let reset = self.reset_at(now);
        let to_reset = reset.duration_since(now).unwrap_or_default();
        let secs_to_reset = to_reset.as_secs() + u64::from(to_reset.subsec_nanos() > 0);
        let remaining = if refused { 0 } else { self.remaining() };
        let near = (remaining as f64) < NEAR_LIMIT_SHARE * config.pool as f64;
        let prefix = if config.beta_headers { "beta-" } else { "" };
        let policy = config.kind.policy();
        let mut headers = HeaderMap::new();
        let mut put = |name: String, value: String| {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                headers.insert(name, value);
            }
        };
        put("x-ratelimit-limit".into(), config.pool.to_string());
        put("x-ratelimit-remaining".into(), remaining.to_string());
        put("x-ratelimit-reset".into(), iso(reset));
        put("x-ratelimit-nearlimit".into(), near.to_string());
        put(
            format!("{prefix}ratelimit-policy"),
            format!("\"{policy}\";q={};w={}", config.pool, config.window_secs),
        );
        let state = if near {
            format!("\"{policy}\";r={remaining};t={secs_to_reset}")
        } else {
            format!("\"{policy}\";t={secs_to_reset}")
        };
        put(format!("{prefix}ratelimit"), state);
        if refused {
            let wait = secs_to_reset.max(1).to_string();
            put("retry-after".into(), wait.clone());
            put("beta-retry-after".into(), wait);
            let reason = config
                .reason
                .clone()
                .unwrap_or_else(|| config.kind.reason().to_owned());
            put("ratelimit-reason".into(), reason);
        }
        headers
    }
}

fn iso(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An element of a listing: 2 points for users, groups and permissions, else 1.
fn element_cost(element: &Value) -> u64 {
    let Some(object) = element.as_object() else {
        return 1;
    };
    let identity_type = object
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| matches!(t, "user" | "known" | "anonymous" | "app" | "group"));
    let identity = object.contains_key("accountId")
        || identity_type
        || ["operation", "principal", "subject", "subjects"]
            .iter()
            .any(|k| object.contains_key(*k));
    if identity {
        2
    } else {
        1
    }
}

/// Object points in `value`: each element of every `results` array at any depth.
fn listed_cost(value: &Value) -> u64 {
    match value {
        Value::Object(object) => object
            .iter()
            .map(|(key, inner)| match (key.as_str(), inner) {
                ("results", Value::Array(items)) => items
                    .iter()
                    .map(|item| element_cost(item) + listed_cost(item))
                    .sum(),
                _ => listed_cost(inner),
            })
            .sum(),
        Value::Array(items) => items.iter().map(listed_cost).sum(),
        _ => 0,
    }
}

/// Points for one successful answer: the base point plus its objects.
pub(crate) fn answer_cost(body: Option<&Value>, route: &str) -> u64 {
    let objects = match body {
        Some(value) => {
            let listed = listed_cost(value);
            let single = value.get("results").is_none() && value.get("id").is_some();
            if single {
                element_cost(value) + listed
            } else {
                listed
            }
        }
        // Not JSON: a download is the attachment.
        None if route.contains("download") => 1,
        None => 0,
    };
    1 + objects
}

/// Bodies larger than this are not read to count them (no Confluence listing comes close).
const COUNT_LIMIT: usize = 64 * 1024 * 1024;

async fn charge(State(quota): State<CloudQuota>, request: Request, next: Next) -> Response {
    let charged =
        quota.lock().config.enabled && request.uri().path().starts_with("/ex/confluence/");
    if !charged {
        return next.run(request).await;
    }
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let now = SystemTime::now();
    {
        let mut state = quota.lock();
        state.roll(now);
        if state.spent >= state.config.pool {
            state.refused_total += 1;
            state.by_route.entry(route).or_default().refused += 1;
            let headers = state.headers(now, true);
            drop(state);
            let body = Json(json!({
                "statusCode": 429,
                "message": "Rate limit exceeded: the app's points quota is spent until the window resets",
            }));
            return (StatusCode::TOO_MANY_REQUESTS, headers, body).into_response();
        }
    }
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let (mut parts, body) = response.into_parts();
    let (cost, body) = if !(status.is_success() || status.is_redirection()) {
        (1, body)
    } else if is_json {
        match axum::body::to_bytes(body, COUNT_LIMIT).await {
            Ok(bytes) => {
                let value = serde_json::from_slice::<Value>(&bytes).ok();
                (answer_cost(value.as_ref(), &route), Body::from(bytes))
            }
            Err(_) => (1, Body::empty()),
        }
    } else {
        (answer_cost(None, &route), body)
    };
    let mut state = quota.lock();
    state.roll(now);
    state.spent = state.spent.saturating_add(cost);
    state.points_total += cost;
    let spend = state.by_route.entry(route).or_default();
    spend.requests += 1;
    spend.points += cost;
    for (name, value) in &state.headers(now, false) {
        parts.headers.insert(name.clone(), value.clone());
    }
    drop(state);
    Response::from_parts(parts, body)
}

/// `GET|PUT /` (snapshot, patch), `POST /spend` (`{points}`), `DELETE /counters`, mounted at
/// `/_sandbox/cloud-quota`.
pub(crate) fn control_router(quota: CloudQuota) -> Router {
    async fn show(State(q): State<CloudQuota>) -> Response {
        Json(q.snapshot()).into_response()
    }
    async fn change(State(q): State<CloudQuota>, Json(patch): Json<CloudQuotaPatch>) -> Response {
        q.patch(patch);
        Json(q.snapshot()).into_response()
    }
    #[derive(Deserialize)]
    struct Spend {
        points: u64,
    }
    async fn spend(State(q): State<CloudQuota>, Json(s): Json<Spend>) -> Response {
        q.spend(s.points);
        Json(q.snapshot()).into_response()
    }
    async fn reset(State(q): State<CloudQuota>) -> Response {
        q.reset_counters();
        Json(q.snapshot()).into_response()
    }
    Router::new()
        .route("/", get(show).put(change))
        .route("/spend", post(spend))
        .route("/counters", axum::routing::delete(reset))
        .with_state(quota)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_search_costs_its_results_and_what_they_expand() {
        let search = json!({
            "results": [
                {"id": "1", "type": "page", "children": {"attachment": {"results": [
                    {"id": "att1", "type": "attachment"}, {"id": "att2", "type": "attachment"}
                ]}}, "metadata": {"labels": {"results": [{"name": "ai-ingest"}]}}},
                {"id": "2", "type": "blogpost"}
            ],
            "size": 2, "_links": {}
        });
        // 1 base + 2 pages + 2 attachments + 1 label.
        assert_eq!(
            answer_cost(Some(&search), "/wiki/rest/api/content/search"),
            6
        );
    }

    #[test]
    fn identity_objects_cost_two_and_single_objects_one() {
        let users = json!({"results": [{"accountId": "a", "type": "known"}, {"type": "group", "name": "g"}]});
        assert_eq!(answer_cost(Some(&users), "/x"), 5);
        let page = json!({"id": "123", "title": "t"});
        assert_eq!(answer_cost(Some(&page), "/wiki/api/v2/pages/{id}"), 2);
        let empty = json!({"results": [], "_links": {}});
        assert_eq!(answer_cost(Some(&empty), "/x"), 1);
        assert_eq!(
            answer_cost(
                None,
                "/wiki/rest/api/content/{id}/child/attachment/{att}/download"
            ),
            2
        );
        assert_eq!(answer_cost(None, "/other"), 1);
    }

    #[test]
    fn permission_reads_cost_two_points_per_identity_object() {
        // v2 space permission assignments, member and bulk user pages, group listings.
        let assignments = json!({"results": [
            {"id": "1", "principal": {"type": "group", "id": "g"}, "operation": {"key": "read", "targetType": "space"}},
            {"id": "2", "principal": {"type": "user", "id": "a"}, "operation": {"key": "create", "targetType": "page"}}
        ], "_links": {}});
        assert_eq!(
            answer_cost(Some(&assignments), "/wiki/api/v2/spaces/{id}/permissions"),
            5
        );
        let members = json!({"results": [
            {"type": "known", "accountId": "a", "operations": [{"operation": "use", "targetType": "application"}]},
            {"type": "known", "accountId": "b", "operations": []}
        ], "start": 0, "limit": 200, "size": 2, "_links": {}});
        assert_eq!(
            answer_cost(Some(&members), "/wiki/rest/api/group/{id}/membersByGroupId"),
            5
        );
        let groups =
            json!({"results": [{"type": "group", "name": "eng", "id": "g"}], "_links": {}});
        assert_eq!(answer_cost(Some(&groups), "/wiki/rest/api/group"), 3);
    }

    #[test]
    fn headers_follow_the_documented_shapes() {
        let mut state = QuotaState {
            config: CloudQuotaConfig {
                pool: 1000,
                window_secs: 3600,
                ..CloudQuotaConfig::default()
            },
            window: 0,
            spent: 0,
            points_total: 0,
            refused_total: 0,
            by_route: BTreeMap::new(),
        };
        // 2025-10-08T14:30:00Z
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_759_933_800);
        state.roll(now);
        state.spent = 100;
        let h = state.headers(now, false);
        assert_eq!(h["x-ratelimit-limit"], "1000");
        assert_eq!(h["x-ratelimit-remaining"], "900");
        assert_eq!(h["x-ratelimit-reset"], "2025-10-08T15:00:00Z");
        assert_eq!(h["x-ratelimit-nearlimit"], "false");
        assert_eq!(
            h["beta-ratelimit-policy"],
            "\"global-app-quota\";q=1000;w=3600"
        );
        assert_eq!(h["beta-ratelimit"], "\"global-app-quota\";t=1800");
        assert!(h.get("retry-after").is_none());
        state.spent = 850;
        let h = state.headers(now, false);
        assert_eq!(h["x-ratelimit-nearlimit"], "true");
        assert_eq!(h["beta-ratelimit"], "\"global-app-quota\";r=150;t=1800");
        state.config.kind = QuotaPool::Tenant;
        state.config.beta_headers = false;
        let h = state.headers(now, true);
        assert_eq!(h["retry-after"], "1800");
        assert_eq!(h["beta-retry-after"], "1800");
        assert_eq!(h["ratelimit-reason"], "confluence-quota-tenant-based");
        assert_eq!(h["ratelimit"], "\"tenant-app-quota\";r=0;t=1800");
        assert!(h.get("beta-ratelimit").is_none());
    }

    #[test]
    fn windows_are_aligned_to_multiples_of_their_length() {
        let quota = CloudQuota::new(CloudQuotaConfig {
            window_secs: 10,
            ..CloudQuotaConfig::default()
        });
        let mut state = quota.lock();
        let at = |s| SystemTime::UNIX_EPOCH + Duration::from_secs(s);
        state.roll(at(1_000_003));
        state.spent = 5;
        assert_eq!(state.reset_at(at(1_000_003)), at(1_000_010));
        state.roll(at(1_000_009));
        assert_eq!(state.spent, 5, "same window");
        state.roll(at(1_000_010));
        assert_eq!(state.spent, 0, "a new window");
    }

    #[test]
    fn spending_and_patches_change_what_is_left() {
        let quota = CloudQuota::default();
        quota.spend(64_000);
        assert_eq!(quota.snapshot().remaining, 1_000);
        quota.patch(CloudQuotaPatch {
            pool: Some(70_000),
            kind: Some(QuotaPool::Tenant),
            ..CloudQuotaPatch::default()
        });
        let snapshot = quota.snapshot();
        assert_eq!(
            (snapshot.remaining, snapshot.config.kind),
            (6_000, QuotaPool::Tenant)
        );
        quota.patch(CloudQuotaPatch {
            window_secs: Some(5),
            ..CloudQuotaPatch::default()
        });
        assert_eq!(quota.spent(), 0, "a new window length starts a new window");
    }
}

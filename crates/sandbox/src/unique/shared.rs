//! The state every Unique router and resolver shares ([`Shared`]): the store, tokens, rate
//! windows, armed faults and the call log.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::config::{UniqueAuthMode, UniqueConfig};
use super::signing::{GrantKind, Signer};
use super::state::{Store, UploadTarget};

/// Lock that ignores poisoning: a panic in one handler must not wedge every later test request,
/// and no operation leaves the state half-updated in a way that matters for a test double.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Rate-limited request classes, matching the reference client's three limiters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Limited {
    IngestionGraphql,
    ScopeManagementGraphql,
    FileDiff,
}

/// One fault rule of the Unique simulator. A rule matches a request when `target` is `*`, the
/// GraphQL operation name (`ContentUpsert`, `PaginatedContent`, `User`, …) or one of the REST
/// targets `file-diff`, `upload`, `read`, `token`.
/// JSON fields are snake_case, like the shared `FaultRule`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UniqueFault {
    pub target: String,
    /// Answer with this HTTP status (JSON error body).
    pub status: Option<u16>,
    /// Answer GraphQL requests with HTTP 200 and this message in `errors` (ignored by REST
    /// targets when `status` is unset).
    pub graphql_error: Option<String>,
    /// Sent as `Retry-After` with injected errors.
    pub retry_after_secs: Option<u64>,
    /// Added before the request is handled (also when no error is injected).
    pub latency_ms: u64,
    /// Fires at most this many times; `None` = every matching request.
    pub times: Option<u32>,
    /// Only requests whose subject contains every one of these texts match: for GraphQL the
    /// JSON of the variables (so `"p2"` picks one key, `"fileUrl"` only finalize calls), for
    /// the file diff its body, for uploads and reads the content key.
    pub when_contains: Vec<String>,
}

impl Default for UniqueFault {
    fn default() -> Self {
        Self {
            target: "*".into(),
            status: None,
            graphql_error: None,
            retry_after_secs: None,
            latency_ms: 0,
            times: None,
            when_contains: Vec::new(),
        }
    }
}

impl UniqueFault {
    /// Answers `times` requests to `target` with HTTP `status`.
    pub fn status(target: &str, status: u16) -> Self {
        Self {
            target: target.into(),
            status: Some(status),
            ..Self::default()
        }
    }

    /// Answers GraphQL operation `target` with a 200 `errors` response.
    pub fn graphql_error(target: &str, message: &str) -> Self {
        Self {
            target: target.into(),
            graphql_error: Some(message.into()),
            ..Self::default()
        }
    }

    /// Delays every request to `target`.
    pub fn latency(target: &str, latency: Duration) -> Self {
        Self {
            target: target.into(),
            latency_ms: u64::try_from(latency.as_millis()).unwrap_or(u64::MAX),
            ..Self::default()
        }
    }

    pub fn times(mut self, times: u32) -> Self {
        self.times = Some(times);
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    /// Restricts the rule to requests whose subject contains `text` (see `when_contains`);
    /// repeat to require several texts.
    pub fn when_contains(mut self, text: &str) -> Self {
        self.when_contains.push(text.into());
        self
    }

    fn matches(&self, target: &str, subject: &str) -> bool {
        (self.target == "*" || self.target == target)
            && self
                .when_contains
                .iter()
                .all(|t| subject.contains(t.as_str()))
    }
}

/// What a matching fault decided for one request.
#[derive(Debug, Default)]
pub(crate) struct FaultOutcome {
    pub latency: Duration,
    pub status: Option<(u16, Option<u64>)>,
    pub graphql_error: Option<String>,
}

/// Most API calls kept in the call log; older ones are dropped first.
pub(crate) const CALL_LOG_CAPACITY: usize = 20_000;

/// One API call as the simulator parsed it, for tests that assert what a client sent (the
/// shared request log has routes and operation names; this has the variables and bodies).
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct UniqueCall {
    /// `ingestion-graphql`, `scope-management-graphql` or `file-diff`.
    pub surface: String,
    /// GraphQL operation name (`anonymous` for `{ __typename }`), or `file-diff`.
    pub operation: String,
    /// The GraphQL document, empty for the file diff.
    pub document: String,
    /// GraphQL `variables`, or the file-diff JSON body.
    pub variables: Value,
    /// The request headers (names lower-case), as `unique-api-detail.md` §10 asks the log to
    /// keep for assertions. `authorization` keeps only its scheme (`Bearer …`), so a token
    /// never lands in a test failure message.
    pub headers: BTreeMap<String, String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug)]
pub(crate) struct IssuedToken {
    pub(crate) expires: Instant,
    pub(crate) user_id: String,
}

/// State shared by every router and resolver.
#[derive(Debug)]
pub(crate) struct Shared {
    pub config: UniqueConfig,
    pub(crate) store: Mutex<Store>,
    pub(crate) signer: Signer,
    pub(crate) blob_base_url: Mutex<Option<String>>,
    pub(crate) tokens: Mutex<HashMap<String, IssuedToken>>,
    pub(crate) rate_limit: Mutex<Option<u32>>,
    pub(crate) auth_mode: Mutex<UniqueAuthMode>,
    pub(crate) windows: Mutex<HashMap<Limited, VecDeque<Instant>>>,
    pub(crate) faults: Mutex<Vec<UniqueFault>>,
    pub(crate) calls: Mutex<VecDeque<UniqueCall>>,
}

impl Shared {
    /// Appends to the call log.
    pub fn record_call(
        &self,
        surface: &str,
        operation: &str,
        document: &str,
        variables: Value,
        headers: &http::HeaderMap,
    ) {
        let headers = headers
            .iter()
            .map(|(name, value)| {
                let value = value.to_str().unwrap_or("<binary>");
                let value = if name == http::header::AUTHORIZATION {
                    match value.split_once(' ') {
                        Some((scheme, _)) => format!("{scheme} …"),
                        None => "…".to_owned(),
                    }
                } else {
                    value.to_owned()
                };
                (name.as_str().to_owned(), value)
            })
            .collect();
        let mut calls = lock(&self.calls);
        if calls.len() >= CALL_LOG_CAPACITY {
            calls.pop_front();
        }
        calls.push_back(UniqueCall {
            surface: surface.to_owned(),
            operation: operation.to_owned(),
            document: document.to_owned(),
            variables,
            headers,
            at: Utc::now(),
        });
    }

    pub fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    pub fn sign(&self, kind: GrantKind, target: &UploadTarget) -> String {
        let ttl = u64::try_from(self.config.upload_url_ttl.as_millis()).unwrap_or(u64::MAX);
        self.signer.sign(kind, target, ttl)
    }

    pub fn verify(
        &self,
        kind: GrantKind,
        token: &str,
    ) -> Result<UploadTarget, super::signing::GrantError> {
        self.signer.verify(kind, token)
    }

    pub fn blob_base_url(&self) -> Option<String> {
        lock(&self.blob_base_url).clone()
    }

    pub fn issue_token(&self) -> (String, Duration) {
        let token = format!(
            "sbx_{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let ttl = self.config.token_ttl;
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        tokens.retain(|_, t| t.expires > now);
        tokens.insert(
            token.clone(),
            IssuedToken {
                expires: now + ttl,
                user_id: self.config.user_id.clone(),
            },
        );
        (token, ttl)
    }

    /// The user a bearer token stands for, if it was issued here and has not expired.
    pub fn token_user(&self, token: &str) -> Option<String> {
        let tokens = lock(&self.tokens);
        tokens
            .get(token)
            .filter(|t| t.expires > Instant::now())
            .map(|t| t.user_id.clone())
    }

    /// Takes one request from the sliding one-minute window of `class`, or says how long until
    /// one is free.
    pub fn take_rate(&self, class: Limited) -> Result<(), Duration> {
        let Some(limit) = *lock(&self.rate_limit) else {
            return Ok(());
        };
        let now = Instant::now();
        let window = Duration::from_secs(60);
        let mut windows = lock(&self.windows);
        let queue = windows.entry(class).or_default();
        while queue
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            queue.pop_front();
        }
        if queue.len() < limit as usize {
            queue.push_back(now);
            return Ok(());
        }
        match queue.front() {
            Some(oldest) => Err(window.saturating_sub(now.duration_since(*oldest))),
            None => Err(window),
        }
    }

    /// Consumes the first firing fault matching `target` and `subject` (every match adds its
    /// latency).
    pub fn fault_for(&self, target: &str, subject: &str) -> FaultOutcome {
        let mut outcome = FaultOutcome::default();
        let mut faults = lock(&self.faults);
        for fault in faults.iter_mut().filter(|f| f.matches(target, subject)) {
            outcome.latency = outcome.latency.max(Duration::from_millis(fault.latency_ms));
            let fires = fault.status.is_some() || fault.graphql_error.is_some();
            if !fires || outcome.status.is_some() || outcome.graphql_error.is_some() {
                continue;
            }
            if fault.times == Some(0) {
                continue;
            }
            if let Some(t) = fault.times.as_mut() {
                *t -= 1;
            }
            match (fault.status, &fault.graphql_error) {
                (Some(status), _) => outcome.status = Some((status, fault.retry_after_secs)),
                (None, Some(message)) => outcome.graphql_error = Some(message.clone()),
                (None, None) => {}
            }
        }
        faults.retain(|f| f.times != Some(0));
        outcome
    }
}

//! [`Transport`]: one logical request in, one final response out — after the rate limiter,
//! authorization, retries and redirects.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt as _};
use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, PROXY_AUTHORIZATION,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::config::check_url;
use crate::observer::RequestOutcome;
use crate::quota::{Pace, QuotaGate, QuotaPacer, QuotaReading, QuotaWait, QuotaWaitCause};
use crate::redact::redact_url;
use crate::retry::{has_zero_limit, is_retryable_status, retry_after, retry_delay};
use crate::{Authorizer, RateLimiter, TransportConfig, TransportError, TransportObserver};

/// A response body as a stream of chunks; errors are transport errors (idle timeout, cut
/// connection).
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, TransportError>> + Send>>;

/// Marker: the transport can only send `GET`.
#[derive(Debug, Clone, Copy)]
pub struct ReadOnly;

/// Marker: the transport can send any method (Unique: GraphQL `POST`, blob `PUT`).
#[derive(Debug, Clone, Copy)]
pub struct ReadWrite;

/// A request for [`Transport<ReadWrite>::send`].
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Body,
    /// Sending it twice leaves the server as sending it once (RFC 9110 §9.2.2): retried within
    /// the retry budget. Otherwise at most `max_retries` times, since a 5xx may come after the
    /// server acted. [`Request::new`] and [`Request::json`] set it from the method (`GET`,
    /// `HEAD`, `OPTIONS`, `PUT`, `DELETE`); a caller that knows better sets it itself.
    pub idempotent: bool,
}

/// The methods RFC 9110 defines as idempotent.
pub fn is_idempotent_method(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may be credentials (`x-api-key`, cluster-local identity headers).
        let header_names: Vec<&str> = self.headers.keys().map(|name| name.as_str()).collect();
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("url", &redact_url(&self.url))
            .field("headers", &header_names)
            .field("body", &self.body)
            .field("idempotent", &self.idempotent)
            .finish()
    }
}

impl Request {
    /// A request with no extra headers and no body.
    pub fn new(method: Method, url: Url) -> Self {
        Self {
            idempotent: is_idempotent_method(&method),
            method,
            url,
            headers: HeaderMap::new(),
            body: Body::Empty,
        }
    }

    /// Marks the request as safe (or not) to send twice, whatever its method.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = idempotent;
        self
    }

    /// A request with a JSON body (`Content-Type: application/json`), replayable on retry.
    pub fn json<T: serde::Serialize + ?Sized>(
        method: Method,
        url: Url,
        body: &T,
    ) -> Result<Self, TransportError> {
        let bytes = serde_json::to_vec(body).map_err(|e| {
            TransportError::Setup(format!(
                "the request body for {} is not serialisable as JSON: {e}",
                redact_url(&url)
            ))
        })?;
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(Self {
            idempotent: is_idempotent_method(&method),
            method,
            url,
            headers,
            body: Body::Bytes(Bytes::from(bytes)),
        })
    }
}

/// A request body. Buffered bodies are replayed on retry; a streamed body can be sent only once,
/// so a request with one is never retried after its body started to flow.
pub enum Body {
    Empty,
    Bytes(Bytes),
    Stream {
        stream: ByteStream,
        /// Sent as `Content-Length` when known.
        length: Option<u64>,
    },
}

impl Body {
    /// A streamed body of known or unknown length. It is sent at most once: a request that
    /// carries it is never retried and cannot follow a 307/308 redirect.
    pub fn stream<S>(stream: S, length: Option<u64>) -> Self
    where
        S: Stream<Item = Result<Bytes, TransportError>> + Send + 'static,
    {
        Body::Stream {
            stream: Box::pin(stream),
            length,
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        Body::Bytes(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Body::Bytes(Bytes::from(bytes))
    }
}

impl From<String> for Body {
    fn from(text: String) -> Self {
        Body::Bytes(Bytes::from(text))
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Stream { length, .. } => write!(f, "Stream(length: {length:?})"),
        }
    }
}

/// The final (non-redirect) 2xx response of a logical request.
pub struct Response {
    inner: reqwest::Response,
    /// The URL that produced this response, after redirects.
    url: Url,
    service: &'static str,
    observer: Arc<dyn TransportObserver>,
    idle_body: Duration,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status())
            .field("url", &redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl Response {
    pub fn status(&self) -> StatusCode {
        self.inner.status()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    pub fn url(&self) -> &Url {
        &self.url
    }

    /// `Content-Length` announced by the server, if any.
    pub fn content_length(&self) -> Option<u64> {
        self.inner.content_length()
    }

    /// The whole body parsed as JSON; a parse failure is [`TransportError::Decode`] naming the URL.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, TransportError> {
        let url = redact_url(&self.url);
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| TransportError::Decode {
            url,
            reason: e.to_string(),
        })
    }

    /// The whole body, read with the idle-body timeout between chunks.
    pub async fn bytes(self) -> Result<Bytes, TransportError> {
        let mut stream = self.into_stream();
        let mut buffer = BytesMut::new();
        while let Some(chunk) = stream.next().await {
            buffer.extend_from_slice(&chunk?);
        }
        Ok(buffer.freeze())
    }

    /// The whole body as text (lossy UTF-8).
    pub async fn text(self) -> Result<String, TransportError> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The body as a stream, with the idle-body timeout applied between chunks.
    pub fn into_stream(self) -> ByteStream {
        let state = BodyState {
            chunks: Box::pin(self.inner.bytes_stream()),
            url: self.url,
            service: self.service,
            observer: self.observer,
            idle_body: self.idle_body,
        };
        Box::pin(futures::stream::unfold(Some(state), |state| async move {
            let mut state = state?;
            match tokio::time::timeout(state.idle_body, state.chunks.next()).await {
                Err(_) => {
                    let error = TransportError::Timeout {
                        url: redact_url(&state.url),
                        what: "the next response body chunk",
                    };
                    Some((Err(error), None))
                }
                Ok(None) => None,
                Ok(Some(Ok(chunk))) => {
                    let received = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
                    state.observer.bytes(state.service, received, 0);
                    Some((Ok(chunk), Some(state)))
                }
                Ok(Some(Err(e))) => {
                    let error = TransportError::Body {
                        url: redact_url(&state.url),
                        message: error_chain(&e.without_url()),
                    };
                    Some((Err(error), None))
                }
            }
        }))
    }
}

/// What [`Response::into_stream`] carries between chunks.
struct BodyState {
    chunks: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    url: Url,
    service: &'static str,
    observer: Arc<dyn TransportObserver>,
    idle_body: Duration,
}

/// The longest response-body excerpt an error carries.
const EXCERPT_CHARS: usize = 512;
/// How much of an error body we read to make the excerpt.
const EXCERPT_READ_LIMIT: usize = 16 * 1024;

/// A short excerpt of an error response body, or `No response body` if it cannot be read.
/// The Atlassian gateway's answer to a token whose scopes do not cover the endpoint: 401 with
/// `X-Failure-Category: FAILURE_CLIENT_SCOPE_CHECK` and the body `{"code": 401, "message":
/// "Unauthorized; scope does not match"}` (the header is not always reported, the body is).
const SCOPE_MISMATCH_MESSAGE: &str = "scope does not match";

fn is_scope_check_failure(headers: &HeaderMap) -> bool {
    headers
        .get("x-failure-category")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("FAILURE_CLIENT_SCOPE_CHECK"))
}

async fn body_excerpt(response: Response) -> String {
    let mut stream = response.into_stream();
    let mut buffer = Vec::new();
    while buffer.len() < EXCERPT_READ_LIMIT {
        match stream.next().await {
            Some(Ok(chunk)) => buffer.extend_from_slice(&chunk),
            Some(Err(_)) => return "No response body".to_owned(),
            None => break,
        }
    }
    let text = String::from_utf8_lossy(&buffer);
    let text = text.trim();
    if text.is_empty() {
        return "No response body".to_owned();
    }
    if text.chars().count() <= EXCERPT_CHARS {
        return text.to_owned();
    }
    let mut excerpt: String = text.chars().take(EXCERPT_CHARS - 1).collect();
    excerpt.push('…');
    excerpt
}

/// `error: source: source…` without the URL (the caller names it once).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// Builds the `reqwest` client shared by [`Transport`] and [`crate::TokenEndpoint`]: rustls
/// with the platform's roots (plus the bundled Mozilla roots, so a minimal container still
/// works) and the extra CA bundle; the proxy; the connect timeout. Redirects are never followed
/// by `reqwest`: we follow them ourselves so that every hop pays the limiter and credentials are
/// dropped on a change of origin. Public so that callers' own probes (the connector's
/// connectivity checks) trust and route exactly as the transport does.
pub fn build_http_client(config: &TransportConfig) -> Result<reqwest::Client, TransportError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.timeouts.connect)
        .user_agent(config.user_agent.clone());
    if let Some(pem) = &config.extra_ca_pem {
        for certificate in parse_certificates(pem, "extra CA bundle")? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder = crate::config::apply_proxy(builder, &config.proxy)?;
    builder.build().map_err(|e| {
        TransportError::Setup(format!("building the HTTP client: {}", error_chain(&e)))
    })
}

pub(crate) fn parse_certificates(
    pem: &[u8],
    what: &str,
) -> Result<Vec<reqwest::Certificate>, TransportError> {
    let certificates = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| TransportError::Setup(format!("reading the {what}: {}", error_chain(&e))))?;
    if certificates.is_empty() {
        return Err(TransportError::Setup(format!(
            "the {what} contains no PEM certificate"
        )));
    }
    Ok(certificates)
}

struct Inner {
    config: TransportConfig,
    /// Shared with the transports [`Transport::with_retry_policy`] derives.
    limiter: Arc<RateLimiter>,
    observer: Arc<dyn TransportObserver>,
    http: reqwest::Client,
    /// Closed while a points quota is spent; every request of the tenant waits at it. Shared,
    /// like the pacer and the outage, with the transports [`Transport::with_retry_policy`]
    /// derives: the quota and the service's health are the tenant's, not one policy's.
    quota: Arc<QuotaGate>,
    pacer: Arc<Mutex<QuotaPacer>>,
    /// Since when the service has answered nothing but failures (a retryable status or no
    /// answer), with the quota pause time at that moment; cleared by any other answer. The retry
    /// budget of every request counts from here at the latest.
    outage: Arc<Mutex<Option<(tokio::time::Instant, Duration)>>>,
}

/// The per-tenant, per-service HTTP transport. Cheap to clone; clones share the limiter.
///
/// The mode parameter is a type-level promise about which methods can be sent:
/// `Transport<ReadOnly>` has [`get`](Transport::get) and nothing that takes a method, so a client
/// holding one cannot send anything but `GET`:
///
/// ```compile_fail
/// # use http_transport::*;
/// async fn try_to_post(transport: Transport<ReadOnly>, url: url::Url) {
///     let request = Request::new(http::Method::POST, url);
///     let _ = transport.send(request, &NoAuth).await; // no `send` on Transport<ReadOnly>
/// }
/// ```
///
/// `Transport<ReadWrite>` has [`send`](Transport::send) for any method:
///
/// ```no_run
/// # use http_transport::*;
/// async fn post(transport: Transport<ReadWrite>, url: url::Url) -> Result<(), TransportError> {
///     let request = Request::json(http::Method::POST, url, &serde_json::json!({"query": "{}"}))?;
///     transport.send(request, &NoAuth).await?.bytes().await?;
///     Ok(())
/// }
/// ```
pub struct Transport<M = ReadOnly> {
    inner: Arc<Inner>,
    _mode: PhantomData<M>,
}

impl<M> Clone for Transport<M> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            _mode: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Transport<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("service", &self.inner.config.service)
            .finish_non_exhaustive()
    }
}

impl<M> Transport<M> {
    /// Builds the HTTP client (TLS roots, proxy, timeouts) and the rate limiter.
    pub fn new(
        config: TransportConfig,
        observer: Arc<dyn TransportObserver>,
    ) -> Result<Self, TransportError> {
        let http = build_http_client(&config)?;
        let limiter = Arc::new(RateLimiter::new(config.rate_limit_per_minute, config.burst));
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                limiter,
                observer,
                http,
                quota: Arc::default(),
                pacer: Arc::default(),
                outage: Arc::default(),
            }),
            _mode: PhantomData,
        })
    }

    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    /// The same transport (rate limiter, observer, connection pool) with another retry policy,
    /// for requests whose caller has a better answer to a failure than waiting and asking
    /// again: the Confluence search halves its page size on a 5xx instead.
    pub fn with_retry_policy(&self, retry: crate::RetryPolicy) -> Self {
        let mut config = self.inner.config.clone();
        config.retry = retry;
        Self {
            inner: Arc::new(Inner {
                config,
                limiter: Arc::clone(&self.inner.limiter),
                observer: Arc::clone(&self.inner.observer),
                http: self.inner.http.clone(),
                quota: Arc::clone(&self.inner.quota),
                pacer: Arc::clone(&self.inner.pacer),
                outage: Arc::clone(&self.inner.outage),
            }),
            _mode: PhantomData,
        }
    }

    /// The limiter every attempt and redirect hop of this transport pays into.
    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    pub fn observer(&self) -> &Arc<dyn TransportObserver> {
        &self.inner.observer
    }

    /// The tenant's quota pauses as they start and end: `Some` while every request waits for a
    /// points quota to reset, `None` otherwise. For the run record and `status`.
    pub fn quota_waits(&self) -> tokio::sync::watch::Receiver<Option<QuotaWait>> {
        self.inner.quota.subscribe()
    }

    /// Retry-budget time a request that started at `started` (with `paused_at_start` of quota
    /// pauses behind the gate then) has used: since it started, or since the service's outage
    /// started if that is earlier, without the time spent in quota pauses.
    fn budget_used(&self, started: tokio::time::Instant, paused_at_start: Duration) -> Duration {
        let now = tokio::time::Instant::now();
        let paused_now = self.inner.quota.paused_total(now);
        let since = |from: tokio::time::Instant, paused_then: Duration| {
            now.saturating_duration_since(from)
                .saturating_sub(paused_now.saturating_sub(paused_then))
        };
        let own = since(started, paused_at_start);
        let outage = self
            .inner
            .outage
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|(from, paused_then)| since(from, paused_then))
            .unwrap_or_default();
        own.max(outage)
    }

    /// Whether one more retry after `delay` is allowed.
    fn may_retry(
        &self,
        idempotent: bool,
        retries: u32,
        started: tokio::time::Instant,
        paused_at_start: Duration,
        delay: Duration,
    ) -> bool {
        let policy = &self.inner.config.retry;
        if idempotent {
            self.budget_used(started, paused_at_start) + delay < policy.budget
        } else {
            retries < policy.max_retries
        }
    }

    fn record_failure(&self) {
        let mut outage = self.inner.outage.lock().unwrap_or_else(|p| p.into_inner());
        if outage.is_none() {
            let now = tokio::time::Instant::now();
            *outage = Some((now, self.inner.quota.paused_total(now)));
        }
    }

    fn record_answer(&self) {
        *self.inner.outage.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Reads the quota headers of one answer: tells the observer, and paces or stops the
    /// tenant when the quota is near its limit.
    fn observe_quota(&self, headers: &HeaderMap, status: StatusCode) -> Option<QuotaReading> {
        let now = SystemTime::now();
        let reading = QuotaReading::from_headers(headers, now)?;
        let service = self.inner.config.service;
        self.inner.observer.quota(service, &reading);
        let pace = self
            .inner
            .pacer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .observe(&reading, now);
        let limiter = &self.inner.limiter;
        match pace {
            Pace::Free => limiter.clear_pace(),
            Pace::Spaced { interval, until } => {
                let left = until.duration_since(now).unwrap_or_default();
                limiter.pace(interval, tokio::time::Instant::now() + left);
            }
            // A refusal is handled as such by the caller.
            Pace::StopUntil(_) if status == StatusCode::TOO_MANY_REQUESTS => {}
            Pace::StopUntil(until) => {
                let wait = until.duration_since(now).unwrap_or_default();
                self.pause_for_quota(wait, QuotaWaitCause::NearLimit);
            }
        }
        Some(reading)
    }

    /// Holds every request of the tenant until the quota resets. A second after the announced
    /// reset, so that rounding to whole seconds never wakes us just before it.
    fn pause_for_quota(&self, wait: Duration, cause: QuotaWaitCause) {
        let wait = wait + QUOTA_MARGIN;
        self.inner.limiter.pause_for(wait);
        if let Some(published) = self.inner.quota.close(wait, cause) {
            let service = self.inner.config.service;
            let until = chrono::DateTime::<chrono::Utc>::from(published.until);
            tracing::warn!(
                service,
                cause = cause.as_str(),
                until = %until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                wait_s = wait.as_secs(),
                "points quota: every request of this tenant waits for the reset"
            );
            self.inner.observer.quota_wait(service, &published);
        }
    }

    /// One logical request: retries (statuses 429/500/502/503/504 and connection failures)
    /// within the retry budget, quota pauses, the 401 → invalidate → retry-once rule, and within
    /// each attempt the redirect chain.
    async fn execute(
        &self,
        method: Method,
        url: Url,
        headers: HeaderMap,
        body: Body,
        idempotent: bool,
        auth: &dyn Authorizer,
    ) -> Result<Response, TransportError> {
        let config = &self.inner.config;
        let policy = config.retry;
        let service = config.service;
        let observer = &self.inner.observer;
        let mut body = PendingBody::new(body);
        let mut attempts: u32 = 0;
        let mut retries: u32 = 0;
        let mut refreshed_after_401 = false;
        let started = tokio::time::Instant::now();
        let paused_at_start = self.inner.quota.paused_total(started);
        loop {
            attempts += 1;
            let hop = match self
                .follow_redirects(&method, &url, &headers, &mut body, auth)
                .await
            {
                Ok(hop) => hop,
                Err(Failure::Retryable(error)) => {
                    self.record_failure();
                    let delay = retry_delay(&policy, retries + 1, None);
                    if body.replayable()
                        && self.may_retry(idempotent, retries, started, paused_at_start, delay)
                    {
                        retries += 1;
                        tracing::warn!(service, url = %redact_url(&url), retry = retries, delay_ms = delay.as_millis() as u64, error = %error, "request failed, retrying");
                        observer.retry(service, retries, delay);
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(error);
                }
                Err(Failure::Fatal(error)) => return Err(error),
            };
            let status = hop.response.status();
            let final_url = redact_url(&hop.url);
            let quota = self.observe_quota(hop.response.headers(), status);
            if !is_retryable_status(status) {
                self.record_answer();
            }
            if status.is_success() {
                return Ok(Response {
                    inner: hop.response,
                    url: hop.url,
                    service,
                    observer: Arc::clone(observer),
                    idle_body: config.timeouts.idle_body,
                });
            }
            if status == StatusCode::UNAUTHORIZED {
                let Hop {
                    response,
                    url: hop_url,
                    authorization,
                } = hop;
                let scope_check = is_scope_check_failure(response.headers());
                let excerpt = body_excerpt(self.response(response, hop_url)).await;
                if scope_check || excerpt.contains(SCOPE_MISMATCH_MESSAGE) {
                    // A fresh token carries the same scopes: refreshing cannot help.
                    tracing::warn!(service, url = %final_url, "401: the token's scopes do not cover this endpoint");
                    return Err(TransportError::ScopeMismatch {
                        service,
                        url: final_url,
                    });
                }
                match authorization {
                    Some(rejected) if !refreshed_after_401 && body.replayable() => {
                        tracing::info!(service, url = %final_url, "401: refreshing credentials and retrying once");
                        auth.invalidate(&rejected);
                        refreshed_after_401 = true;
                        continue;
                    }
                    _ => {
                        return Err(TransportError::Unauthorized {
                            service,
                            url: final_url,
                        })
                    }
                }
            }
            if status == StatusCode::GONE {
                return Err(TransportError::Gone { url: final_url });
            }
            if is_retryable_status(status) {
                let headers = hop.response.headers();
                let server_delay = retry_after(headers);
                let quota_refusal = (status == StatusCode::TOO_MANY_REQUESTS)
                    .then_some(quota)
                    .flatten()
                    .filter(QuotaReading::is_quota_refusal);
                if status == StatusCode::TOO_MANY_REQUESTS {
                    observer.rate_limited(service, server_delay);
                    // A blocked account: `X-RateLimit-Limit: 0`, or an absurd `Retry-After`
                    // that no points quota explains.
                    let absurd = quota_refusal.is_none()
                        && server_delay.is_some_and(|d| d > policy.blocked_after);
                    if has_zero_limit(headers) || absurd {
                        let retry_after = server_delay.unwrap_or(Duration::ZERO);
                        tracing::error!(service, url = %final_url, retry_after_s = retry_after.as_secs(), "the upstream service blocked this account");
                        return Err(TransportError::Blocked {
                            service,
                            url: final_url,
                            retry_after,
                        });
                    }
                }
                if let Some(reading) = quota_refusal {
                    // The points quota: not a failure of the service, not a retry. Every
                    // request of the tenant waits for the reset, this one included, and then
                    // goes on where it was.
                    let wait = reading.quota_wait(SystemTime::now());
                    if wait > policy.quota_max_wait {
                        return Err(TransportError::QuotaWaitTooLong {
                            service,
                            url: final_url,
                            wait,
                            bound: policy.quota_max_wait,
                        });
                    }
                    self.pause_for_quota(wait, QuotaWaitCause::Exhausted);
                    if body.replayable() {
                        drop(hop.response);
                        continue;
                    }
                } else {
                    self.record_failure();
                }
                if !body.replayable() {
                    // The streamed body is gone: report the answer as it is.
                    let body = body_excerpt(self.response(hop.response, hop.url)).await;
                    return Err(TransportError::Status {
                        url: final_url,
                        status,
                        body,
                    });
                }
                let delay = retry_delay(&policy, retries + 1, server_delay);
                if self.may_retry(idempotent, retries, started, paused_at_start, delay) {
                    retries += 1;
                    if status == StatusCode::TOO_MANY_REQUESTS {
                        // The whole tenant slows down, not only this request.
                        self.inner.limiter.pause_for(delay);
                    }
                    tracing::warn!(service, url = %final_url, status = status.as_u16(), retry = retries, delay_ms = delay.as_millis() as u64, "retryable status, retrying");
                    observer.retry(service, retries, delay);
                    drop(hop.response);
                    tokio::time::sleep(delay).await;
                    continue;
                }
                return Err(TransportError::RetriesExhausted {
                    url: final_url,
                    status,
                    attempts,
                });
            }
            let body = body_excerpt(self.response(hop.response, hop.url)).await;
            return Err(TransportError::Status {
                url: final_url,
                status,
                body,
            });
        }
    }

    fn response(&self, inner: reqwest::Response, url: Url) -> Response {
        Response {
            inner,
            url,
            service: self.inner.config.service,
            observer: Arc::clone(&self.inner.observer),
            idle_body: self.inner.config.timeouts.idle_body,
        }
    }

    /// One attempt: sends the request and follows redirects by hand. Every hop pays the
    /// limiter; after a hop to another origin no credentials are sent any more.
    async fn follow_redirects(
        &self,
        method: &Method,
        url: &Url,
        headers: &HeaderMap,
        body: &mut PendingBody,
        auth: &dyn Authorizer,
    ) -> Result<Hop, Failure> {
        let config = &self.inner.config;
        let mut method = method.clone();
        let mut current = url.clone();
        let mut headers = headers.clone();
        let mut visited: HashSet<String> = HashSet::from([current.as_str().to_owned()]);
        let mut send_credentials = true;
        let mut send_body = true;
        let mut hops = 0usize;
        loop {
            check_url(config.plain_http, &current).map_err(Failure::Fatal)?;
            if let Some(waited) = self.inner.quota.pass().await {
                tracing::info!(
                    service = config.service,
                    waited_s = waited.as_secs(),
                    "points quota reset: requests resume"
                );
                self.inner.observer.quota_resumed(config.service, waited);
            }
            let waited = self.inner.limiter.acquire().await;
            if !waited.is_zero() {
                self.inner.observer.throttled(config.service, waited);
            }
            let authorization = if send_credentials {
                auth.authorization()
                    .await
                    .map_err(|e| Failure::Fatal(e.into()))?
            } else {
                None
            };
            let mut request_headers = headers.clone();
            if let Some(value) = &authorization {
                request_headers.insert(AUTHORIZATION, value.clone());
            }
            let request_body = if send_body {
                body.for_attempt(&current)?
            } else {
                None
            };
            let response = self
                .exchange(&method, &current, request_headers, request_body)
                .await?;
            let status = response.status();
            if !is_followed_redirect(status) {
                return Ok(Hop {
                    response,
                    url: current,
                    authorization,
                });
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    redirect_error(
                        &current,
                        format!("{status} without a usable Location header"),
                    )
                })?;
            let next = current
                .join(location)
                .map_err(|e| redirect_error(&current, format!("invalid Location header: {e}")))?;
            hops += 1;
            if hops > config.max_redirects {
                return Err(redirect_error(
                    &current,
                    format!("more than {} redirects", config.max_redirects),
                ));
            }
            if !visited.insert(next.as_str().to_owned()) {
                return Err(redirect_error(
                    &current,
                    format!("redirect loop: {} was already visited", redact_url(&next)),
                ));
            }
            if next.origin() != current.origin() {
                // The Cloud media redirect: the other origin must never see our credentials.
                send_credentials = false;
                for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION] {
                    headers.remove(name);
                }
            }
            let switch_to_get = status == StatusCode::SEE_OTHER && method != Method::HEAD
                || matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND)
                    && method == Method::POST;
            if switch_to_get {
                method = Method::GET;
                send_body = false;
                headers.remove(CONTENT_TYPE);
                headers.remove(CONTENT_LENGTH);
            }
            tracing::debug!(service = config.service, from = %redact_url(&current), to = %redact_url(&next), status = status.as_u16(), "following redirect");
            current = next;
        }
    }

    /// One HTTP exchange, bounded by the response-header timeout, reported to the observer.
    async fn exchange(
        &self,
        method: &Method,
        url: &Url,
        mut headers: HeaderMap,
        body: Option<(OutgoingBody, Option<u64>)>,
    ) -> Result<reqwest::Response, Failure> {
        let config = &self.inner.config;
        let observer = &self.inner.observer;
        let progress = Progress::new();
        let mut sent = None;
        let mut builder = self.inner.http.request(method.clone(), url.clone());
        if let Some((body, length)) = body {
            if let Some(length) = length {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
            }
            sent = Some(match &body {
                OutgoingBody::Bytes(bytes) => u64::try_from(bytes.len()).unwrap_or(u64::MAX),
                // A stream's length is what actually flowed, whatever was announced.
                OutgoingBody::Stream(_) => 0,
            });
            builder = builder.body(body.into_reqwest(&progress));
        }
        let started = Instant::now();
        let send = builder.headers(headers).send();
        tokio::pin!(send);
        // The response-header timeout counts from the last moment the request body made
        // progress: a large upload may take minutes, a server that goes silent may not.
        let mut deadline = tokio::time::Instant::now() + config.timeouts.headers;
        let result = loop {
            tokio::select! {
                result = &mut send => break Some(result),
                () = tokio::time::sleep_until(deadline) => {
                    let extended = progress.last() + config.timeouts.headers;
                    if extended > tokio::time::Instant::now() {
                        deadline = extended;
                    } else {
                        break None;
                    }
                }
            }
        };
        let elapsed = started.elapsed();
        let outcome = match &result {
            Some(Ok(response)) => RequestOutcome::Response(response.status()),
            _ => RequestOutcome::Failed,
        };
        observer.attempt(config.service, method, url, &outcome, elapsed);
        match result {
            Some(Ok(response)) => {
                let sent = sent.map(|declared| declared.max(progress.sent()));
                if let Some(sent) = sent.filter(|n| *n > 0) {
                    observer.bytes(config.service, 0, sent);
                }
                Ok(response)
            }
            Some(Err(error)) => Err(classify_send_error(error, url)),
            None => Err(Failure::Fatal(TransportError::Timeout {
                url: redact_url(url),
                what: "the response headers",
            })),
        }
    }
}

impl Transport<ReadOnly> {
    /// `GET url` with `headers` and the authorizer's header; returns the final 2xx response.
    pub async fn get(
        &self,
        url: Url,
        headers: HeaderMap,
        auth: &dyn Authorizer,
    ) -> Result<Response, TransportError> {
        self.execute(Method::GET, url, headers, Body::Empty, true, auth)
            .await
    }
}

impl Transport<ReadWrite> {
    /// Sends any request; same limiter, retry, redirect and 401 rules as `get`.
    pub async fn send(
        &self,
        request: Request,
        auth: &dyn Authorizer,
    ) -> Result<Response, TransportError> {
        let Request {
            method,
            url,
            headers,
            body,
            idempotent,
        } = request;
        self.execute(method, url, headers, body, idempotent, auth)
            .await
    }

    /// `GET url`, same as [`Transport<ReadOnly>::get`].
    pub async fn get(
        &self,
        url: Url,
        headers: HeaderMap,
        auth: &dyn Authorizer,
    ) -> Result<Response, TransportError> {
        self.execute(Method::GET, url, headers, Body::Empty, true, auth)
            .await
    }
}

/// The redirects we follow (300 and 304 are not redirects to follow).
fn is_followed_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn redirect_error(url: &Url, reason: String) -> Failure {
    Failure::Fatal(TransportError::Redirect {
        url: redact_url(url),
        reason,
    })
}

/// Added to a quota wait, so that rounding to whole seconds never wakes the tenant just before
/// the reset.
const QUOTA_MARGIN: Duration = Duration::from_secs(1);

/// The final hop of one attempt.
struct Hop {
    response: reqwest::Response,
    url: Url,
    /// The `Authorization` value sent on this hop (what to invalidate on a 401).
    authorization: Option<HeaderValue>,
}

/// Whether a failed attempt may be retried.
enum Failure {
    /// Nothing reached the server or the connection broke before an answer: safe to repeat.
    Retryable(TransportError),
    Fatal(TransportError),
}

/// Decides which send errors are retried: connection failures (refused, reset, DNS, closed
/// before the answer) are; timeouts are not (the server may be working on it, and the reference
/// connector does not retry them either), and neither are TLS failures (a wrong certificate does
/// not fix itself).
fn classify_send_error(error: reqwest::Error, url: &Url) -> Failure {
    let is_timeout = error.is_timeout();
    let is_connect = error.is_connect();
    let error = error.without_url();
    let message = error_chain(&error);
    let url = redact_url(url);
    if is_timeout {
        let what = if is_connect {
            "the connection"
        } else {
            "the response"
        };
        return Failure::Fatal(TransportError::Timeout { url, what });
    }
    if is_tls_failure(&error) {
        return Failure::Fatal(TransportError::Connect { url, message });
    }
    let kinds = io_error_kinds(&error);
    let broken = kinds.iter().any(|kind| {
        matches!(
            kind,
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
        )
    }) || message.contains("connection closed before message completed");
    if is_connect || broken {
        return Failure::Retryable(TransportError::Connect { url, message });
    }
    Failure::Fatal(TransportError::Connect { url, message })
}

/// A rustls error anywhere in the chain: an unknown issuer, an expired certificate, a failed
/// handshake.
pub(crate) fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    causes(error)
        .iter()
        .any(|cause| cause.is::<tokio_rustls::rustls::Error>())
}

/// The kinds of every `io::Error` in the chain.
fn io_error_kinds(error: &(dyn std::error::Error + 'static)) -> Vec<std::io::ErrorKind> {
    causes(error)
        .iter()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .collect()
}

/// The error and its causes. An `io::Error` wrapping another error skips it in `source()`
/// (it returns the inner error's source), so we descend into it explicitly: that is where
/// rustls errors hide.
fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut chain = Vec::new();
    let mut current = Some(error);
    while let Some(cause) = current {
        chain.push(cause);
        current = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    chain
}

/// The body of a logical request across attempts: buffered bodies are replayed, a stream is
/// handed out once.
enum PendingBody {
    Empty,
    Bytes(Bytes),
    Stream(Option<(ByteStream, Option<u64>)>),
}

impl PendingBody {
    fn new(body: Body) -> Self {
        match body {
            Body::Empty => Self::Empty,
            Body::Bytes(bytes) => Self::Bytes(bytes),
            Body::Stream { stream, length } => Self::Stream(Some((stream, length))),
        }
    }

    /// Whether another attempt could send the body again.
    fn replayable(&self) -> bool {
        !matches!(self, Self::Stream(None))
    }

    fn for_attempt(&mut self, url: &Url) -> Result<Option<(OutgoingBody, Option<u64>)>, Failure> {
        match self {
            Self::Empty => Ok(None),
            Self::Bytes(bytes) => {
                let length = u64::try_from(bytes.len()).ok();
                Ok(Some((OutgoingBody::Bytes(bytes.clone()), length)))
            }
            Self::Stream(stream) => match stream.take() {
                Some((stream, length)) => Ok(Some((OutgoingBody::Stream(stream), length))),
                None => Err(Failure::Fatal(TransportError::Redirect {
                    url: redact_url(url),
                    reason: "a streamed request body cannot be sent twice".to_owned(),
                })),
            },
        }
    }
}

/// The body of one exchange.
enum OutgoingBody {
    Bytes(Bytes),
    Stream(ByteStream),
}

/// Bodies up to this size are handed to `reqwest` whole; larger ones are fed in chunks of this
/// size so that their progress is visible to the response-header timeout.
const UPLOAD_CHUNK: usize = 64 * 1024;

impl OutgoingBody {
    fn into_reqwest(self, progress: &Progress) -> reqwest::Body {
        let chunks: ByteStream = match self {
            OutgoingBody::Bytes(bytes) if bytes.len() <= UPLOAD_CHUNK => {
                return reqwest::Body::from(bytes)
            }
            OutgoingBody::Bytes(bytes) => {
                let length = bytes.len();
                Box::pin(futures::stream::iter(
                    (0..length)
                        .step_by(UPLOAD_CHUNK)
                        .map(move |start| Ok(bytes.slice(start..length.min(start + UPLOAD_CHUNK)))),
                ))
            }
            OutgoingBody::Stream(stream) => stream,
        };
        let progress = progress.clone();
        reqwest::Body::wrap_stream(futures::stream::unfold(
            (chunks, progress),
            |(mut chunks, progress)| async move {
                let item = chunks.next().await;
                progress.touch();
                if let Some(Ok(chunk)) = &item {
                    progress.count(chunk.len());
                }
                item.map(|item| (item, (chunks, progress)))
            },
        ))
    }
}

/// When the request body last moved (a chunk was taken by the connection, or it ended).
#[derive(Clone)]
struct Progress {
    origin: tokio::time::Instant,
    nanos_since_origin: Arc<std::sync::atomic::AtomicU64>,
    /// Body bytes taken by the connection so far.
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Progress {
    fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
            nanos_since_origin: Arc::default(),
            sent: Arc::default(),
        }
    }

    fn count(&self, bytes: usize) {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        self.sent
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn touch(&self) {
        let nanos = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos_since_origin
            .fetch_max(nanos, std::sync::atomic::Ordering::Relaxed);
    }

    fn last(&self) -> tokio::time::Instant {
        let nanos = self
            .nanos_since_origin
            .load(std::sync::atomic::Ordering::Relaxed);
        self.origin + Duration::from_nanos(nanos)
    }
}

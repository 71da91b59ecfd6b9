//! [`Transport`]: one logical request in, one final response out — after the rate limiter,
//! authorization, retries and redirects.

use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, PROXY_AUTHORIZATION,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use url::Url;

use crate::config::check_url;
use crate::failure::{classify_send_error, redirect_error, Failure};
use crate::http_client::build_http_client;
use crate::message::{
    body_excerpt, is_scope_check_failure, Body, ReadOnly, ReadWrite, Request, Response,
    SCOPE_MISMATCH_MESSAGE,
};
use crate::observer::RequestOutcome;
use crate::outage::Outage;
use crate::quota::{Pace, QuotaGate, QuotaPacer, QuotaReading, QuotaWait, QuotaWaitCause};
use crate::redact::redact_url;
use crate::retry::{has_zero_limit, is_retryable_status, retry_after, retry_delay};
use crate::upload::{OutgoingBody, PendingBody, Progress};
use crate::{Authorizer, RateLimiter, TransportConfig, TransportError, TransportObserver};

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
    /// The retry budget of every request counts from the outage's start at the latest.
    outage: Arc<Outage>,
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

    /// Retry-budget time used by a request that started at `started` ([`Outage::budget_used`]).
    fn budget_used(&self, started: tokio::time::Instant, paused_at_start: Duration) -> Duration {
        let now = tokio::time::Instant::now();
        let paused_now = self.inner.quota.paused_total(now);
        self.inner
            .outage
            .budget_used(now, paused_now, started, paused_at_start)
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
        let now = tokio::time::Instant::now();
        self.inner
            .outage
            .record_failure(now, self.inner.quota.paused_total(now));
    }

    fn record_answer(&self) {
        self.inner.outage.record_answer();
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
                    remote_text: config.remote_text,
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
                if scope_check || excerpt.as_str().contains(SCOPE_MISMATCH_MESSAGE) {
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
            remote_text: self.inner.config.remote_text,
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

//! The HTTP transport shared by the Confluence and the Unique clients.
//!
//! One [`Transport`] per tenant and per upstream service. It owns everything that is the same for
//! every request no matter which API it talks to: TLS (rustls, optional extra CA bundle), the
//! outbound proxy, timeouts, a smooth per-tenant rate limiter that retries and redirect hops also
//! pay for, retries with `Retry-After` or jittered exponential backoff, manual redirect following
//! that drops credentials when the origin changes, and authorization with a 401 → refresh → retry
//! once rule.
//!
//! Invariants:
//! - A [`Transport<ReadOnly>`] can only send `GET`. The Confluence client holds one of those, so
//!   the type system guarantees that nothing but `GET` reaches Confluence; the one exception, the
//!   OAuth token `POST`, goes through the separate [`TokenEndpoint`].
//! - Secrets are [`SecretString`]s; no `Debug`, `Display` or error of this crate shows one
//!   (authorization headers are marked sensitive; proxy passwords, keys and proxy header values
//!   are redacted from `Debug`; URLs in errors and logs go through [`redact_url`], which masks
//!   userinfo passwords, signatures and tokens in query strings, and the query of capability
//!   URLs such as Unique's signed upload URLs). It is the workspace's one URL redactor.
//! - What a service wrote back (a body excerpt, a decoder's reason) is a [`RemoteText`] in the
//!   error, shown or concealed as [`TransportConfig::remote_text`] says; the policy is handed
//!   down by the caller, never read from a global.
//! - Plain `http://` is refused for anything but loopback unless the config allows it — for the
//!   first URL and for every redirect target.
//! - This crate knows nothing about Confluence or Unique wire formats.
//!
//! What one logical request ([`Transport::get`] / [`Transport::send`]) does:
//! 1. Every HTTP exchange — first attempt, retry, redirect hop, 401 refresh — first waits for the
//!    [`RateLimiter`] (GCRA: `rate_limit_per_minute` spread evenly, `burst` back to back, plus a
//!    tenant-wide pause set by a 429). A non-zero wait is reported as
//!    [`TransportObserver::throttled`].
//! 2. The [`Authorizer`] is asked for the `Authorization` header before every exchange, so a
//!    token refreshed by one request serves all of them.
//! 3. Redirects are followed by hand (`reqwest`'s are off): 301/302/303/307/308, at most
//!    `max_redirects` hops, relative `Location` resolved against the current URL, a revisited URL
//!    is an error. After a hop to another origin, `Authorization`, `Cookie` and
//!    `Proxy-Authorization` are not sent any more (the Cloud download redirect to the media
//!    host). 303, and 301/302 after a `POST`, continue with a bodiless `GET`.
//! 4. Answers: 2xx → [`Response`]. 401 → [`Authorizer::invalidate`] with the rejected header and
//!    one more attempt; a second 401 → [`TransportError::Unauthorized`]. 410 →
//!    [`TransportError::Gone`]. 429/500/502/503/504 → retried after `Retry-After` (seconds or
//!    HTTP date, a minimum) or exponential backoff from `base_delay` with full jitter, whichever
//!    is longer: a request that is safe to repeat ([`Request::idempotent`], every `GET`) for as
//!    long as the retry `budget` allows, counted from its first attempt or the start of the
//!    service's current outage (see [`RetryPolicy`]); others up to `max_retries` times. A 429
//!    also pauses the whole limiter for that delay; a 429 with `X-RateLimit-Limit: 0`, or with a
//!    `Retry-After` above `blocked_after` that is not a points quota →
//!    [`TransportError::Blocked`] at once; when the budget runs out →
//!    [`TransportError::RetriesExhausted`]. Anything else → [`TransportError::Status`] with a
//!    body excerpt of at most 512 characters (`No response body` when there is none).
//!    A points-quota 429 (Confluence Cloud, [`QuotaReading::is_quota_refusal`]) is no failure
//!    and no retry: every request of the tenant waits until the reset (`Retry-After`, else
//!    `X-RateLimit-Reset`, else the top of the UTC hour, plus a second), up to `quota_max_wait`
//!    ([`TransportError::QuotaWaitTooLong`] beyond), then the request goes on; the wait is
//!    published ([`Transport::quota_waits`]) and reported to the observer, and no retry budget
//!    pays for it. Near the limit (`X-RateLimit-NearLimit`, `r` below 20 %) the limiter spreads
//!    what is left over the time to the reset, and stops the tenant until then when not even
//!    one more request fits (`quota.rs`, `QuotaPacer`).
//! 5. Failures without an answer: connection refused/reset/closed early and DNS failures are
//!    retried like a 503 (nothing was processed). Timeouts (connect, response headers) are not
//!    retried — the server may still be working on it, and the reference connector does not
//!    retry them either — and neither are TLS failures, which do not fix themselves.
//! 6. A [`Body::Stream`] is sent at most once: such a request is never retried and cannot follow
//!    a 307/308.
//!
//! Timeouts: `connect` (TCP + TLS), `headers` (until the response headers arrive, counted from
//! the last moment the request body made progress, so uploads are not cut) and `idle_body` (the longest silence between two body chunks, applied by
//! [`Response::into_stream`], [`Response::bytes`] and [`Response::json`]).
//!
//! TLS and proxy: rustls with the platform's roots plus the bundled Mozilla roots, plus
//! `extra_ca_pem`. [`ProxyConfig::None`] ignores `HTTP(S)_PROXY` variables; with a proxy, basic
//! credentials go in `Proxy-Authorization`, extra headers to the proxy, the proxy CA joins the
//! trusted roots and a TLS client certificate is presented on TLS handshakes (`reqwest` cannot
//! limit either to the proxy connection).
//!
//! Tokens: [`TokenEndpoint`] posts the client-credentials request (JSON, form, or form with
//! HTTP basic client authentication) with its own retries (transport errors, 429, 5xx), through
//! the same proxy/TLS/timeouts but not the limiter; [`TokenCache`] serves its token with
//! single-flight refresh.

#![deny(unsafe_code)]

mod auth;
mod config;
mod encode;
mod error;
mod failure;
mod http_client;
mod limiter;
mod message;
mod observer;
mod outage;
mod pagination;
mod quota;
mod redact;
mod retry;
mod token;
mod transport;
mod upload;

pub use auth::{Authorizer, NoAuth, StaticAuthorizer, Token, TokenCache, TokenSource};
pub use config::{
    PlainHttpPolicy, ProxyAuth, ProxyConfig, RetryPolicy, Timeouts, TransportConfig,
    DEFAULT_QUOTA_MAX_WAIT, DEFAULT_RETRY_BUDGET,
};
pub use encode::encode_uri_component;
pub use error::{AuthError, TransportError};
pub use http_client::build_http_client;
pub use limiter::RateLimiter;
pub use message::{Body, ByteStream, ReadOnly, ReadWrite, Request, Response};
pub use observer::{NoopObserver, RequestOutcome, TransportObserver};
pub use pagination::{LinkGuard, PaginationError};
pub use quota::{parse_reset, QuotaReading, QuotaWait, QuotaWaitCause, NEAR_LIMIT_SHARE};
pub use redact::{
    redact_capability, redact_url, Concealed, Disclosure, RemoteText, CAPABILITY_PATHS, MASK,
    SECRET_PARAMETERS,
};
pub use retry::parse_retry_after;
pub use secrecy::{ExposeSecret, SecretString};
pub use token::{TokenEndpoint, TokenRequest};
pub use transport::Transport;

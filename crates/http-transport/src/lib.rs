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
//! - Secrets are [`SecretString`]s; no `Debug`, `Display` or error of this crate shows one.
//! - Plain `http://` is refused for anything but loopback unless the config allows it.
//! - This crate knows nothing about Confluence or Unique wire formats.

#![deny(unsafe_code)]

mod auth;
mod client;
mod config;
mod error;
mod limiter;
mod observer;
mod pagination;
mod retry;
mod token;

pub use auth::{Authorizer, NoAuth, StaticAuthorizer, Token, TokenCache, TokenSource};
pub use client::{Body, ByteStream, ReadOnly, ReadWrite, Request, Response, Transport};
pub use config::{PlainHttpPolicy, ProxyAuth, ProxyConfig, RetryPolicy, Timeouts, TransportConfig};
pub use error::{AuthError, TransportError};
pub use limiter::RateLimiter;
pub use observer::{NoopObserver, RequestOutcome, TransportObserver};
pub use pagination::{LinkGuard, PaginationError};
pub use retry::parse_retry_after;
pub use secrecy::{ExposeSecret, SecretString};
pub use token::{TokenEndpoint, TokenRequest};

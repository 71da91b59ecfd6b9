//! Credentials: how a request gets its `Authorization` header.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use http::HeaderValue;

use crate::AuthError;

/// Supplies the authorization header for a request. Asked before every attempt, so that a token
/// refreshed by one request is used by all the others.
pub trait Authorizer: Send + Sync + std::fmt::Debug {
    /// The `Authorization` header value, or `None` for unauthenticated requests. The value must be
    /// marked sensitive (`HeaderValue::set_sensitive(true)`).
    fn authorization(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Option<HeaderValue>, AuthError>> + Send + '_>>;

    /// Called when the server answered 401 to a request sent with `rejected`: a cached token
    /// equal to `rejected` must not be served again. Static credentials ignore it.
    fn invalidate(&self, rejected: &HeaderValue);
}

/// No `Authorization` header (the DC manifest, cluster-local Unique with header auth).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

impl Authorizer for NoAuth {
    fn authorization(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Option<HeaderValue>, AuthError>> + Send + '_>> {
        Box::pin(async { Ok(None) })
    }

    fn invalidate(&self, _rejected: &HeaderValue) {}
}

/// A fixed header: a personal access token (`Bearer …`) or basic auth (`Basic …`).
pub struct StaticAuthorizer {
    header: HeaderValue,
}

impl StaticAuthorizer {
    /// `Bearer <token>`.
    pub fn bearer(token: &secrecy::SecretString) -> Result<Self, AuthError> {
        let _ = token;
        unimplemented!("http-transport helper")
    }

    /// `Basic base64(utf8("<username>:<password>"))`.
    pub fn basic(
        username: &secrecy::SecretString,
        password: &secrecy::SecretString,
    ) -> Result<Self, AuthError> {
        let _ = (username, password);
        unimplemented!("http-transport helper")
    }
}

impl std::fmt::Debug for StaticAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaticAuthorizer([REDACTED])")
    }
}

impl Authorizer for StaticAuthorizer {
    fn authorization(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Option<HeaderValue>, AuthError>> + Send + '_>> {
        let header = self.header.clone();
        Box::pin(async move { Ok(Some(header)) })
    }

    fn invalidate(&self, _rejected: &HeaderValue) {}
}

/// A bearer token with its expiry (`None` = never expires).
#[derive(Clone)]
pub struct Token {
    pub access_token: secrecy::SecretString,
    pub expires_at: Option<Instant>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Fetches a fresh token (an OAuth client-credentials request, usually a [`crate::TokenEndpoint`]).
pub trait TokenSource: Send + Sync + std::fmt::Debug + 'static {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Token, AuthError>> + Send + '_>>;
}

/// Caches a token from a [`TokenSource`] and serves it as `Bearer <token>`.
///
/// - served from cache while it expires more than `refresh_before` from now (default 5 min);
/// - single flight: concurrent callers during a fetch share that one fetch;
/// - a failed fetch is not cached; the next caller tries again;
/// - [`Authorizer::invalidate`] drops the cached token if it is the rejected one.
pub struct TokenCache<S: TokenSource> {
    source: S,
    refresh_before: Duration,
}

impl<S: TokenSource> TokenCache<S> {
    pub fn new(source: S) -> Self {
        Self::with_refresh_before(source, Duration::from_secs(300))
    }

    pub fn with_refresh_before(source: S, refresh_before: Duration) -> Self {
        Self {
            source,
            refresh_before,
        }
    }
}

impl<S: TokenSource> std::fmt::Debug for TokenCache<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("source", &self.source)
            .field("refresh_before", &self.refresh_before)
            .finish_non_exhaustive()
    }
}

impl<S: TokenSource> Authorizer for TokenCache<S> {
    fn authorization(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Option<HeaderValue>, AuthError>> + Send + '_>> {
        unimplemented!("http-transport helper")
    }

    fn invalidate(&self, _rejected: &HeaderValue) {
        unimplemented!("http-transport helper")
    }
}

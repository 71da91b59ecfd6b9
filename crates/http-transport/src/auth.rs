//! Credentials: how a request gets its `Authorization` header.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::future::{BoxFuture, FutureExt as _, Shared};
use http::HeaderValue;
use secrecy::ExposeSecret as _;

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
        let header = bearer_header(token.expose_secret())
            .ok_or(AuthError::InvalidCredential { what: "token" })?;
        Ok(Self { header })
    }

    /// `Basic base64(utf8("<username>:<password>"))`.
    pub fn basic(
        username: &secrecy::SecretString,
        password: &secrecy::SecretString,
    ) -> Result<Self, AuthError> {
        Ok(Self {
            header: basic_header(username.expose_secret(), password.expose_secret()),
        })
    }
}

/// `Bearer <token>`, marked sensitive; `None` when the token cannot be a header value.
pub(crate) fn bearer_header(token: &str) -> Option<HeaderValue> {
    let mut header = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    header.set_sensitive(true);
    Some(header)
}

/// `Basic base64(utf8("<username>:<password>"))`, marked sensitive. Colons and non-ASCII
/// characters are kept as they are (UTF-8), like the reference connector does.
pub(crate) fn basic_header(username: &str, password: &str) -> HeaderValue {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut header = HeaderValue::from_str(&format!("Basic {encoded}"))
        .expect("base64 output is always a valid header value");
    header.set_sensitive(true);
    header
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
///   for a token that lives less than twice `refresh_before`, the margin shrinks to half its
///   lifetime, so that a short-lived token is still reused instead of being fetched per request;
/// - single flight: concurrent callers during a fetch share that one fetch (and its outcome);
/// - a failed fetch is not cached; the next caller tries again;
/// - [`Authorizer::invalidate`] drops the cached token if it is the rejected one.
pub struct TokenCache<S: TokenSource> {
    source: Arc<S>,
    refresh_before: Duration,
    state: Mutex<CacheState>,
}

#[derive(Clone)]
struct CachedHeader {
    header: HeaderValue,
    /// When to stop serving it: `expires_at` minus the refresh margin; `None` = forever.
    stale_at: Option<Instant>,
}

type SharedFetch = Shared<BoxFuture<'static, Result<CachedHeader, AuthError>>>;

#[derive(Default)]
struct CacheState {
    cached: Option<CachedHeader>,
    in_flight: Option<(u64, SharedFetch)>,
    next_fetch_id: u64,
}

impl<S: TokenSource> TokenCache<S> {
    pub fn new(source: S) -> Self {
        Self::with_refresh_before(source, Duration::from_secs(300))
    }

    pub fn with_refresh_before(source: S, refresh_before: Duration) -> Self {
        Self {
            source: Arc::new(source),
            refresh_before,
            state: Mutex::new(CacheState::default()),
        }
    }

    /// The token source (e.g. to show its URL in diagnostics).
    pub fn source(&self) -> &S {
        &self.source
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The cached header if still fresh, else the fetch every caller should await (started
    /// here if nobody else has).
    fn cached_or_fetch(&self) -> Result<HeaderValue, (u64, SharedFetch)> {
        let mut state = self.lock();
        if let Some(cached) = &state.cached {
            if cached.stale_at.is_none_or(|at| Instant::now() < at) {
                return Ok(cached.header.clone());
            }
        }
        if let Some(in_flight) = &state.in_flight {
            return Err(in_flight.clone());
        }
        let source = Arc::clone(&self.source);
        let refresh_before = self.refresh_before;
        let fetch = async move {
            let fetched_at = Instant::now();
            let token = source.fetch().await?;
            let header = bearer_header(token.access_token.expose_secret()).ok_or(
                AuthError::InvalidCredential {
                    what: "access token",
                },
            )?;
            let stale_at = token.expires_at.map(|expires_at| {
                let lifetime = expires_at.saturating_duration_since(fetched_at);
                let margin = refresh_before.min(lifetime / 2);
                expires_at.checked_sub(margin).unwrap_or(fetched_at)
            });
            Ok(CachedHeader { header, stale_at })
        }
        .boxed()
        .shared();
        let id = state.next_fetch_id;
        state.next_fetch_id += 1;
        state.in_flight = Some((id, fetch.clone()));
        Err((id, fetch))
    }

    async fn header(&self) -> Result<HeaderValue, AuthError> {
        let (id, fetch) = match self.cached_or_fetch() {
            Ok(header) => return Ok(header),
            Err(fetch) => fetch,
        };
        let outcome = fetch.await;
        let mut state = self.lock();
        if state
            .in_flight
            .as_ref()
            .is_some_and(|(current, _)| *current == id)
        {
            state.in_flight = None;
            match &outcome {
                Ok(fresh) => state.cached = Some(fresh.clone()),
                Err(_) => state.cached = None,
            }
        }
        outcome.map(|fresh| fresh.header)
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
        Box::pin(async move { self.header().await.map(Some) })
    }

    fn invalidate(&self, rejected: &HeaderValue) {
        let mut state = self.lock();
        if state
            .cached
            .as_ref()
            .is_some_and(|cached| cached.header == rejected)
        {
            state.cached = None;
        }
    }
}

impl<A: Authorizer + ?Sized> Authorizer for Arc<A> {
    fn authorization(
        &self,
    ) -> Pin<Box<dyn Future<Output = Result<Option<HeaderValue>, AuthError>> + Send + '_>> {
        (**self).authorization()
    }

    fn invalidate(&self, rejected: &HeaderValue) {
        (**self).invalidate(rejected)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicU32, Ordering};

    use secrecy::SecretString;

    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    async fn header_of(auth: &dyn Authorizer) -> HeaderValue {
        auth.authorization().await.unwrap().unwrap()
    }

    #[tokio::test]
    async fn bearer_header_is_sensitive_and_exact() {
        let auth = StaticAuthorizer::bearer(&secret("pat-123")).unwrap();
        let header = header_of(&auth).await;
        assert_eq!(header, "Bearer pat-123");
        assert!(header.is_sensitive());
    }

    #[tokio::test]
    async fn basic_header_keeps_colons_and_non_ascii() {
        let auth = StaticAuthorizer::basic(&secret("jürgen"), &secret("pa:ss")).unwrap();
        let header = header_of(&auth).await;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("jürgen:pa:ss".as_bytes())
        );
        assert_eq!(header, expected.as_str());
        assert!(header.is_sensitive());
    }

    #[test]
    fn bearer_refuses_a_token_with_a_newline() {
        let err = StaticAuthorizer::bearer(&secret("abc\ndef")).unwrap_err();
        assert!(matches!(err, AuthError::InvalidCredential { .. }));
        assert!(!err.to_string().contains("abc"));
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let auth = StaticAuthorizer::basic(&secret("user"), &secret("hunter2-secret")).unwrap();
        assert!(!format!("{auth:?}").contains("hunter2"));
        let token = Token {
            access_token: secret("tok-secret-value"),
            expires_at: None,
        };
        assert!(!format!("{token:?}").contains("tok-secret-value"));
    }

    /// Counts fetches; hands out `token-<n>`; fails when told to.
    #[derive(Debug, Default)]
    struct CountingSource {
        fetches: AtomicU32,
        fail_next: std::sync::atomic::AtomicBool,
        ttl: Option<Duration>,
        delay: Duration,
    }

    impl TokenSource for CountingSource {
        fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Token, AuthError>> + Send + '_>> {
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                let n = self.fetches.fetch_add(1, Ordering::SeqCst) + 1;
                if self.fail_next.swap(false, Ordering::SeqCst) {
                    return Err(AuthError::TokenStatus {
                        url: "http://127.0.0.1/token".into(),
                        status: 500,
                        body: crate::RemoteText::new("down", crate::Disclosure::Disclose),
                    });
                }
                Ok(Token {
                    access_token: secret(&format!("token-{n}")),
                    expires_at: self.ttl.map(|ttl| Instant::now() + ttl),
                })
            })
        }
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let cache = TokenCache::new(CountingSource {
            delay: Duration::from_millis(50),
            ..Default::default()
        });
        let (a, b, c) = tokio::join!(
            cache.authorization(),
            cache.authorization(),
            cache.authorization()
        );
        assert_eq!(cache.source().fetches.load(Ordering::SeqCst), 1);
        for header in [a, b, c] {
            assert_eq!(header.unwrap().unwrap(), "Bearer token-1");
        }
    }

    #[tokio::test]
    async fn serves_a_fresh_token_from_cache() {
        let cache = TokenCache::new(CountingSource {
            ttl: Some(Duration::from_secs(3600)),
            ..Default::default()
        });
        header_of(&cache).await;
        header_of(&cache).await;
        assert_eq!(cache.source().fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_without_expiry_is_cached_forever() {
        let cache =
            TokenCache::with_refresh_before(CountingSource::default(), Duration::from_secs(3600));
        header_of(&cache).await;
        header_of(&cache).await;
        assert_eq!(cache.source().fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn refreshes_a_token_close_to_expiry() {
        // Lives 400 ms, far less than the 5 min margin: reused for half its life, then refetched.
        let cache = TokenCache::with_refresh_before(
            CountingSource {
                ttl: Some(Duration::from_millis(400)),
                ..Default::default()
            },
            Duration::from_secs(300),
        );
        assert_eq!(header_of(&cache).await, "Bearer token-1");
        assert_eq!(header_of(&cache).await, "Bearer token-1");
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(header_of(&cache).await, "Bearer token-2");
    }

    #[tokio::test]
    async fn a_long_lived_token_is_replaced_refresh_before_ahead_of_its_expiry() {
        // Lives 1000 ms with a 200 ms margin (the 5 min default, scaled down): still served
        // past half its life, replaced 200 ms before it expires — not at half-life, not late.
        let cache = TokenCache::with_refresh_before(
            CountingSource {
                ttl: Some(Duration::from_millis(1000)),
                ..Default::default()
            },
            Duration::from_millis(200),
        );
        assert_eq!(header_of(&cache).await, "Bearer token-1");
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(
            header_of(&cache).await,
            "Bearer token-1",
            "past half-life, still fresh"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            header_of(&cache).await,
            "Bearer token-2",
            "inside the margin, before expiry"
        );
    }

    #[test]
    fn the_default_margin_is_five_minutes() {
        let cache = TokenCache::new(CountingSource::default());
        assert_eq!(cache.refresh_before, Duration::from_secs(300));
    }

    #[tokio::test]
    async fn a_failed_fetch_is_not_cached() {
        let source = CountingSource::default();
        source.fail_next.store(true, Ordering::SeqCst);
        let cache = TokenCache::new(source);
        assert!(cache.authorization().await.is_err());
        assert_eq!(header_of(&cache).await, "Bearer token-2");
        assert_eq!(cache.source().fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn invalidate_drops_only_the_rejected_token() {
        let cache = TokenCache::new(CountingSource::default());
        let first = header_of(&cache).await;
        cache.invalidate(&HeaderValue::from_static("Bearer something-else"));
        assert_eq!(header_of(&cache).await, first);
        cache.invalidate(&first);
        assert_eq!(header_of(&cache).await, "Bearer token-2");
    }
}

//! [`Transport`]: one logical request in, one final response out — after the rate limiter,
//! authorization, retries and redirects.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use http::{HeaderMap, Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

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
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Body,
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
#[derive(Debug)]
pub struct Response {
    inner: reqwest::Response,
    /// The URL that produced this response, after redirects.
    url: Url,
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

    /// The whole body parsed as JSON; a parse failure is [`TransportError::Decode`] naming the URL.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, TransportError> {
        unimplemented!("http-transport helper")
    }

    pub async fn bytes(self) -> Result<Bytes, TransportError> {
        unimplemented!("http-transport helper")
    }

    /// The body as a stream, with the idle-body timeout applied between chunks.
    pub fn into_stream(self) -> ByteStream {
        unimplemented!("http-transport helper")
    }
}

struct Inner {
    config: TransportConfig,
    limiter: RateLimiter,
    observer: Arc<dyn TransportObserver>,
}

/// The per-tenant, per-service HTTP transport. Cheap to clone; clones share the limiter.
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
        let limiter = RateLimiter::new(config.rate_limit_per_minute, config.burst);
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                limiter,
                observer,
            }),
            _mode: PhantomData,
        })
    }

    pub fn config(&self) -> &TransportConfig {
        &self.inner.config
    }

    /// The limiter every attempt and redirect hop of this transport pays into.
    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    pub fn observer(&self) -> &Arc<dyn TransportObserver> {
        &self.inner.observer
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
        let _ = (url, headers, auth);
        unimplemented!("http-transport helper")
    }
}

impl Transport<ReadWrite> {
    /// Sends any request; same limiter, retry, redirect and 401 rules as `get`.
    pub async fn send(
        &self,
        request: Request,
        auth: &dyn Authorizer,
    ) -> Result<Response, TransportError> {
        let _ = (request, auth);
        unimplemented!("http-transport helper")
    }
}

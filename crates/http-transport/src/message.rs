//! What goes in and comes out of a [`crate::Transport`]: requests with their bodies, and the
//! final response with its idle-timed body stream.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt as _};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::failure::error_chain;
use crate::redact::{redact_url, Disclosure, RemoteText};
use crate::{TransportError, TransportObserver};

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
    pub(crate) inner: reqwest::Response,
    /// The URL that produced this response, after redirects.
    pub(crate) url: Url,
    pub(crate) service: &'static str,
    pub(crate) observer: Arc<dyn TransportObserver>,
    pub(crate) idle_body: Duration,
    /// How errors about this response show what the service wrote.
    pub(crate) remote_text: Disclosure,
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
        let disclosure = self.remote_text;
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| TransportError::Decode {
            url,
            reason: RemoteText::new(e.to_string(), disclosure),
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
pub(crate) struct BodyState {
    chunks: Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>,
    url: Url,
    service: &'static str,
    observer: Arc<dyn TransportObserver>,
    idle_body: Duration,
}

/// The longest response-body excerpt an error carries.
pub(crate) const EXCERPT_CHARS: usize = 512;
/// How much of an error body we read to make the excerpt.
pub(crate) const EXCERPT_READ_LIMIT: usize = 16 * 1024;

/// The Atlassian gateway's answer to a token whose scopes do not cover the endpoint: 401 with
/// `X-Failure-Category: FAILURE_CLIENT_SCOPE_CHECK` and the body `{"code": 401, "message":
/// "Unauthorized; scope does not match"}` (the header is not always reported, the body is).
pub(crate) const SCOPE_MISMATCH_MESSAGE: &str = "scope does not match";

pub(crate) fn is_scope_check_failure(headers: &HeaderMap) -> bool {
    headers
        .get("x-failure-category")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("FAILURE_CLIENT_SCOPE_CHECK"))
}

/// A short excerpt of an error response body, or `No response body` if it cannot be read.
pub(crate) async fn body_excerpt(response: Response) -> RemoteText {
    let disclosure = response.remote_text;
    RemoteText::new(excerpt_text(response).await, disclosure)
}

async fn excerpt_text(response: Response) -> String {
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

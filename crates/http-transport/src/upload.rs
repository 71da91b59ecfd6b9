//! A request body across attempts: buffered bodies are replayed, a stream is sent once, and
//! the upload's progress is counted for the headers timeout.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt as _;
use url::Url;

use crate::failure::Failure;
use crate::message::{Body, ByteStream};
use crate::redact::redact_url;
use crate::TransportError;

/// The body of a logical request across attempts: buffered bodies are replayed, a stream is
/// handed out once.
pub(crate) enum PendingBody {
    Empty,
    Bytes(Bytes),
    Stream(Option<(ByteStream, Option<u64>)>),
}

impl PendingBody {
    pub(crate) fn new(body: Body) -> Self {
        match body {
            Body::Empty => Self::Empty,
            Body::Bytes(bytes) => Self::Bytes(bytes),
            Body::Stream { stream, length } => Self::Stream(Some((stream, length))),
        }
    }

    /// Whether another attempt could send the body again.
    pub(crate) fn replayable(&self) -> bool {
        !matches!(self, Self::Stream(None))
    }

    pub(crate) fn for_attempt(
        &mut self,
        url: &Url,
    ) -> Result<Option<(OutgoingBody, Option<u64>)>, Failure> {
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
pub(crate) enum OutgoingBody {
    Bytes(Bytes),
    Stream(ByteStream),
}

/// Bodies up to this size are handed to `reqwest` whole; larger ones are fed in chunks of this
/// size so that their progress is visible to the response-header timeout.
pub(crate) const UPLOAD_CHUNK: usize = 64 * 1024;

impl OutgoingBody {
    pub(crate) fn into_reqwest(self, progress: &Progress) -> reqwest::Body {
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
pub(crate) struct Progress {
    origin: tokio::time::Instant,
    nanos_since_origin: Arc<std::sync::atomic::AtomicU64>,
    /// Body bytes taken by the connection so far.
    sent: Arc<std::sync::atomic::AtomicU64>,
}

impl Progress {
    pub(crate) fn new() -> Self {
        Self {
            origin: tokio::time::Instant::now(),
            nanos_since_origin: Arc::default(),
            sent: Arc::default(),
        }
    }

    pub(crate) fn count(&self, bytes: usize) {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        self.sent
            .fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn sent(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn touch(&self) {
        let nanos = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.nanos_since_origin
            .fetch_max(nanos, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn last(&self) -> tokio::time::Instant {
        let nanos = self
            .nanos_since_origin
            .load(std::sync::atomic::Ordering::Relaxed);
        self.origin + Duration::from_nanos(nanos)
    }
}

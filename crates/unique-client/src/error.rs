//! The one error type of the crate. Every variant names what was being done, so an operator
//! reading a log line knows which call failed; none carries a secret or a capability URL.

use http_transport::{RemoteText, TransportError};

/// A failed Unique call.
#[derive(Debug, thiserror::Error)]
pub enum UniqueError {
    /// The tenant's `unique:` block is invalid; every problem is listed with its path.
    #[error("invalid Unique configuration: {0}")]
    InvalidConfig(crate::ConfigErrors),

    /// The HTTP exchange failed (connection, timeout, non-2xx after retries, 401 after a token
    /// refresh, token endpoint failure).
    #[error("Unique {operation} failed: {source}")]
    Transport {
        operation: &'static str,
        #[source]
        source: TransportError,
    },

    /// HTTP 200 with a GraphQL `errors` array: Unique refused the operation. The messages are
    /// Unique's own words, which may quote a title or a file name back.
    #[error("Unique GraphQL {operation} returned errors: {}", messages.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    GraphQl {
        operation: &'static str,
        messages: Vec<RemoteText>,
    },

    /// The answer did not have the shape the operation promises (missing root field, wrong
    /// types, an id missing). The reason describes Unique's answer and may quote it.
    #[error("Unique {operation} answered unexpectedly: {reason}")]
    UnexpectedResponse {
        operation: &'static str,
        reason: RemoteText,
    },

    /// The blob upload failed. `url` is the write URL without its query (which holds the
    /// upload capability).
    #[error("upload of {key} to {url} failed: {message}")]
    Upload {
        key: String,
        url: String,
        status: Option<u16>,
        message: String,
    },

    /// The registered content came back without a usable write or read URL.
    #[error("Unique returned no usable {what} for {key}: {reason}")]
    InvalidUploadTarget {
        key: String,
        what: &'static str,
        reason: String,
    },

    /// A step of [`crate::UniqueClient::ingest`] after register failed; the half-registered
    /// content was deleted again unless `cleanup_error` says otherwise.
    #[error("ingesting {key} failed at {stage}: {source}{}", cleanup_error.as_ref().map(|e| format!(" (and removing the half-registered content {content_id} failed: {e})")).unwrap_or_default())]
    Ingest {
        key: String,
        content_id: String,
        stage: IngestStage,
        #[source]
        source: Box<UniqueError>,
        cleanup_error: Option<Box<UniqueError>>,
    },

    /// A listing did not end: the server kept returning full pages.
    #[error("Unique {operation} listing did not end after {pages} pages")]
    PaginationRunaway {
        operation: &'static str,
        pages: usize,
    },
}

/// Where an ingestion failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestStage {
    Upload,
    Finalize,
}

impl std::fmt::Display for IngestStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Upload => "upload",
            Self::Finalize => "finalize",
        })
    }
}

impl UniqueError {
    /// The HTTP status behind the error, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Transport { source, .. } => source.status().map(|s| s.as_u16()),
            Self::Upload { status, .. } => *status,
            Self::Ingest { source, .. } => source.status(),
            _ => None,
        }
    }
}

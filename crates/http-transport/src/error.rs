//! Errors an operator can act on. None of them carries a secret; what the service wrote back is
//! a [`RemoteText`], shown as the operator's [`crate::Disclosure`] policy says.

use std::time::Duration;

use http::StatusCode;

use crate::RemoteText;

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// A non-2xx answer that was not retried or whose retries ran out. `body` is a short,
    /// truncated excerpt of the response text.
    #[error("Error response from {url}: {status} {body}")]
    Status {
        url: String,
        status: StatusCode,
        body: RemoteText,
    },
    /// 401 because the token's scopes do not cover the endpoint (the Atlassian gateway's
    /// "scope does not match"); not refreshed, since a new token has the same scopes.
    #[error("{service} refused {url}: the token's scopes do not cover this endpoint (401 \"scope does not match\")")]
    ScopeMismatch { service: &'static str, url: String },
    /// 401 even after refreshing the credentials once.
    #[error("{service} rejected our credentials at {url} (401 after a token refresh)")]
    Unauthorized { service: &'static str, url: String },
    /// 410: the endpoint has been removed upstream; retrying cannot help.
    #[error("{url} answered 410 Gone: the endpoint has been removed by the upstream service")]
    Gone { url: String },
    /// A `Retry-After` so large (or `X-RateLimit-Limit: 0`) that the account is blocked.
    #[error("{service} blocked this account: {url} answered 429 with Retry-After {retry_after:?}")]
    Blocked {
        service: &'static str,
        url: String,
        retry_after: Duration,
    },
    /// A points-quota 429 asking for a longer wait than a quota window can explain.
    #[error("{service}'s points quota is spent and {url} asks to wait {wait:?}, longer than the {bound:?} a quota wait may last")]
    QuotaWaitTooLong {
        service: &'static str,
        url: String,
        wait: Duration,
        bound: Duration,
    },
    /// Retries exhausted on a retryable status.
    #[error("{url} still answered {status} after {attempts} attempts")]
    RetriesExhausted {
        url: String,
        status: StatusCode,
        attempts: u32,
    },
    #[error("could not connect to {url}: {message}")]
    Connect { url: String, message: String },
    #[error("timed out waiting for {what} from {url}")]
    Timeout { url: String, what: &'static str },
    #[error("redirect from {url} failed: {reason}")]
    Redirect { url: String, reason: String },
    #[error("refusing plain HTTP to {url}: use https, or allow plain HTTP for this endpoint")]
    PlainHttpRefused { url: String },
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// The body is not what the caller expected; the decoder's `reason` may quote it.
    #[error("invalid response body from {url}: {reason}")]
    Decode { url: String, reason: RemoteText },
    #[error("reading the response body from {url} failed: {message}")]
    Body { url: String, message: String },
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("transport setup failed: {0}")]
    Setup(String),
}

impl TransportError {
    /// The HTTP status, when the error came from an answer rather than a transport failure.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } | Self::RetriesExhausted { status, .. } => Some(*status),
            Self::Unauthorized { .. } | Self::ScopeMismatch { .. } => {
                Some(StatusCode::UNAUTHORIZED)
            }
            Self::Gone { .. } => Some(StatusCode::GONE),
            Self::Blocked { .. } | Self::QuotaWaitTooLong { .. } => {
                Some(StatusCode::TOO_MANY_REQUESTS)
            }
            _ => None,
        }
    }
}

/// Obtaining credentials failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuthError {
    #[error("token request to {url} failed: {message}")]
    TokenRequest { url: String, message: String },
    #[error("Error response from {url}: {status} {body}")]
    TokenStatus {
        url: String,
        status: u16,
        body: RemoteText,
    },
    #[error("invalid token response from {url}: {reason}")]
    TokenResponse { url: String, reason: RemoteText },
    /// A credential that cannot be sent in an HTTP header (a control character, a newline).
    #[error("the {what} contains characters that cannot be sent in an HTTP header")]
    InvalidCredential { what: &'static str },
}

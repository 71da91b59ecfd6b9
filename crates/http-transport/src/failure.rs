//! How a failed attempt is classified: which send errors may be retried.

use url::Url;

use crate::redact::redact_url;
use crate::TransportError;

/// `error: source: source…` without the URL (the caller names it once).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

pub(crate) fn redirect_error(url: &Url, reason: String) -> Failure {
    Failure::Fatal(TransportError::Redirect {
        url: redact_url(url),
        reason,
    })
}

/// Whether a failed attempt may be retried.
pub(crate) enum Failure {
    /// Nothing reached the server or the connection broke before an answer: safe to repeat.
    Retryable(TransportError),
    Fatal(TransportError),
}

/// Decides which send errors are retried: connection failures (refused, reset, DNS, closed
/// before the answer) are; timeouts are not (the server may be working on it, and the reference
/// connector does not retry them either), and neither are TLS failures (a wrong certificate does
/// not fix itself).
pub(crate) fn classify_send_error(error: reqwest::Error, url: &Url) -> Failure {
    let is_timeout = error.is_timeout();
    let is_connect = error.is_connect();
    let error = error.without_url();
    let message = error_chain(&error);
    let url = redact_url(url);
    if is_timeout {
        let what = if is_connect {
            "the connection"
        } else {
            "the response"
        };
        return Failure::Fatal(TransportError::Timeout { url, what });
    }
    if is_tls_failure(&error) {
        return Failure::Fatal(TransportError::Connect { url, message });
    }
    let kinds = io_error_kinds(&error);
    let broken = kinds.iter().any(|kind| {
        matches!(
            kind,
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::BrokenPipe
                | std::io::ErrorKind::UnexpectedEof
        )
    }) || message.contains("connection closed before message completed");
    if is_connect || broken {
        return Failure::Retryable(TransportError::Connect { url, message });
    }
    Failure::Fatal(TransportError::Connect { url, message })
}

/// A rustls error anywhere in the chain: an unknown issuer, an expired certificate, a failed
/// handshake.
pub(crate) fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    causes(error)
        .iter()
        .any(|cause| cause.is::<tokio_rustls::rustls::Error>())
}

/// The kinds of every `io::Error` in the chain.
pub(crate) fn io_error_kinds(error: &(dyn std::error::Error + 'static)) -> Vec<std::io::ErrorKind> {
    causes(error)
        .iter()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .collect()
}

/// The error and its causes. An `io::Error` wrapping another error skips it in `source()`
/// (it returns the inner error's source), so we descend into it explicitly: that is where
/// rustls errors hide.
pub(crate) fn causes<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Vec<&'a (dyn std::error::Error + 'static)> {
    let mut chain = Vec::new();
    let mut current = Some(error);
    while let Some(cause) = current {
        chain.push(cause);
        current = match cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => cause.source(),
        };
    }
    chain
}

//! Transport configuration: what an operator can tune per tenant and per process.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use secrecy::SecretString;
use url::{Host, Url};

use crate::redact::Disclosure;
use crate::TransportError;

/// Everything a [`crate::Transport`] needs to know, built by the caller from tenant and process
/// configuration.
#[derive(Clone)]
pub struct TransportConfig {
    /// Short name of the upstream service (`confluence`, `unique`), used in logs and metrics.
    pub service: &'static str,
    /// Requests per minute, spread evenly (GCRA), shared by every attempt and redirect hop.
    pub rate_limit_per_minute: NonZeroU32,
    /// Burst allowance of the limiter; 1 means perfectly smooth.
    pub burst: NonZeroU32,
    pub proxy: ProxyConfig,
    /// PEM bundle of extra root certificates trusted in addition to the system roots.
    pub extra_ca_pem: Option<Vec<u8>>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    pub plain_http: PlainHttpPolicy,
    /// Maximum redirect hops followed for one logical request.
    pub max_redirects: usize,
    /// `User-Agent` sent with every request.
    pub user_agent: String,
    /// How errors show what the service wrote back (body excerpts, decoder reasons): see
    /// [`crate::RemoteText`]. The connector sets it from its `conceal`/`disclose` policy.
    pub remote_text: Disclosure,
}

impl TransportConfig {
    /// Defaults that match what the reference connector does, for a given service and rate.
    pub fn new(service: &'static str, rate_limit_per_minute: NonZeroU32) -> Self {
        Self {
            service,
            rate_limit_per_minute,
            burst: NonZeroU32::MIN,
            proxy: ProxyConfig::None,
            extra_ca_pem: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            plain_http: PlainHttpPolicy::LoopbackOnly,
            max_redirects: 10,
            user_agent: concat!("confluence-connector/", env!("CARGO_PKG_VERSION")).to_owned(),
            remote_text: Disclosure::default(),
        }
    }
}

/// Connect, response-header and idle-body timeouts (reference: 15 s, 30 s, 60 s).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// Time from sending the request until the response headers arrive. While a request body
    /// is still flowing the clock restarts with every chunk, so a long upload is not cut; a
    /// stalled upload is.
    pub headers: Duration,
    /// Longest silence between two body chunks.
    pub idle_body: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(15),
            headers: Duration::from_secs(30),
            idle_body: Duration::from_secs(60),
        }
    }
}

/// Which failures are retried, for how long, and how long we wait.
///
/// Requests that are safe to repeat ([`crate::Request::idempotent`]: every `GET`, and what the
/// caller marks) retry 429, 5xx and connection failures for as long as `budget` allows, not a
/// fixed number of times: under a storm that fails half of all requests, a request needs a
/// handful of tries on average but an unlucky one needs ten, and a count that is right for the
/// average fails the unlucky one and with it a whole cycle. The budget counts from the first
/// attempt, or from the start of the service's current outage if that began earlier (so that a
/// service that stays down fails each new request quickly instead of holding every item for a
/// full budget), and it does not count time spent waiting for a points quota. Requests that are
/// not safe to repeat retry at most `max_retries` times. A streamed body is sent once.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// How long a request that is safe to repeat may keep retrying (default 5 minutes).
    pub budget: Duration,
    /// Retries after the first attempt for requests that are not safe to repeat (reference: 5).
    pub max_retries: u32,
    /// First exponential backoff step (reference: 500 ms), doubled each retry, with full jitter.
    pub base_delay: Duration,
    /// Upper bound for one backoff step. A server's `Retry-After` is honoured as a minimum, not
    /// capped: retrying before it only meets another refusal.
    pub max_delay: Duration,
    /// A `Retry-After` above this on a 429 that is not a points quota means the account is
    /// blocked: fail instead of waiting.
    pub blocked_after: Duration,
    /// Longest wait for a points quota to reset (default 65 minutes: the hourly window plus
    /// room for clock skew). A quota 429 asking for more fails the request.
    pub quota_max_wait: Duration,
}

/// The default retry budget: long enough to ride out a rolling restart of Unique or a burst of
/// Confluence throttling, short enough that a dead service fails the cycle within minutes.
pub const DEFAULT_RETRY_BUDGET: Duration = Duration::from_secs(300);

/// The default bound of a quota wait: one hourly window and five minutes.
pub const DEFAULT_QUOTA_MAX_WAIT: Duration = Duration::from_secs(3900);

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            budget: DEFAULT_RETRY_BUDGET,
            max_retries: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            blocked_after: Duration::from_secs(3600),
            quota_max_wait: DEFAULT_QUOTA_MAX_WAIT,
        }
    }
}

/// Whether `http://` URLs may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlainHttpPolicy {
    /// Only to loopback addresses (`127.0.0.0/8`, `::1`, `localhost`): tests and sidecars.
    #[default]
    LoopbackOnly,
    /// Explicitly allowed by the operator (a cluster-local Unique endpoint).
    Allowed,
}

/// The outbound proxy (reference `PROXY_*` variables).
///
/// The proxy CA is added to the trusted roots and the client certificate is presented on every
/// TLS handshake the transport makes (`reqwest` cannot scope either to the proxy connection
/// alone); both are operator-provided, so trusting them more widely does not weaken anything the
/// operator did not choose.
#[derive(Clone, Default)]
pub enum ProxyConfig {
    #[default]
    None,
    Proxy {
        /// `http://host:port` or `https://host:port`.
        url: String,
        auth: ProxyAuth,
        /// PEM CA bundle for the proxy's own certificate.
        ca_pem: Option<Vec<u8>>,
        /// Extra headers sent to the proxy.
        headers: Vec<(String, String)>,
    },
}

/// How the transport authenticates to the proxy.
#[derive(Clone, Default)]
pub enum ProxyAuth {
    #[default]
    None,
    Basic {
        username: String,
        password: SecretString,
    },
    /// TLS client certificate presented to the proxy (PEM certificate chain + private key).
    ClientCertificate {
        cert_pem: Vec<u8>,
        key_pem: SecretString,
    },
}

impl std::fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportConfig")
            .field("service", &self.service)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("burst", &self.burst)
            .field("proxy", &self.proxy)
            .field(
                "extra_ca_pem",
                &self.extra_ca_pem.as_ref().map(|pem| PemLength(pem.len())),
            )
            .field("timeouts", &self.timeouts)
            .field("retry", &self.retry)
            .field("plain_http", &self.plain_http)
            .field("max_redirects", &self.max_redirects)
            .field("user_agent", &self.user_agent)
            .field("remote_text", &self.remote_text)
            .finish()
    }
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyConfig::None => f.write_str("None"),
            ProxyConfig::Proxy {
                url,
                auth,
                ca_pem,
                headers,
            } => {
                // Header values may be credentials; a URL may carry a password.
                let header_names: Vec<&str> =
                    headers.iter().map(|(name, _)| name.as_str()).collect();
                f.debug_struct("Proxy")
                    .field("url", &crate::redact::redact_url(url))
                    .field("auth", auth)
                    .field("ca_pem", &ca_pem.as_ref().map(|pem| PemLength(pem.len())))
                    .field("headers", &header_names)
                    .finish()
            }
        }
    }
}

impl std::fmt::Debug for ProxyAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyAuth::None => f.write_str("None"),
            ProxyAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"[REDACTED]")
                .finish(),
            ProxyAuth::ClientCertificate { cert_pem, .. } => f
                .debug_struct("ClientCertificate")
                .field("cert_pem", &PemLength(cert_pem.len()))
                .field("key_pem", &"[REDACTED]")
                .finish(),
        }
    }
}

/// Shows a PEM blob as its size rather than a wall of bytes.
struct PemLength(usize);

impl std::fmt::Debug for PemLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} bytes of PEM>", self.0)
    }
}

/// Refuses schemes other than http(s), and plain `http://` to a non-loopback host unless the
/// policy allows it. Checked for the first URL and for every redirect target.
pub(crate) fn check_url(policy: PlainHttpPolicy, url: &Url) -> Result<(), TransportError> {
    match url.scheme() {
        "https" => Ok(()),
        "http" if policy == PlainHttpPolicy::Allowed || is_loopback(url) => Ok(()),
        "http" => Err(TransportError::PlainHttpRefused {
            url: crate::redact::redact_url(url),
        }),
        other => Err(TransportError::InvalidUrl {
            url: crate::redact::redact_url(url),
            reason: format!("unsupported scheme {other:?}: only http and https are spoken"),
        }),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn plain_http_only_to_loopback_by_default() {
        let policy = PlainHttpPolicy::LoopbackOnly;
        for ok in [
            "http://127.0.0.1:8080/x",
            "http://127.1.2.3/x",
            "http://[::1]:80/x",
            "http://localhost/x",
            "http://LOCALHOST:1/x",
            "https://example.com/x",
        ] {
            check_url(policy, &url(ok)).unwrap();
        }
        for refused in [
            "http://example.invalid/",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
        ] {
            let err = check_url(policy, &url(refused)).unwrap_err();
            assert!(
                matches!(err, TransportError::PlainHttpRefused { .. }),
                "{err}"
            );
        }
        check_url(PlainHttpPolicy::Allowed, &url("http://example.invalid/")).unwrap();
    }

    #[test]
    fn refuses_other_schemes() {
        let err = check_url(PlainHttpPolicy::Allowed, &url("ftp://example.com/")).unwrap_err();
        assert!(matches!(err, TransportError::InvalidUrl { .. }), "{err}");
    }

    #[test]
    fn debug_of_config_never_shows_proxy_secrets() {
        let mut config = TransportConfig::new("confluence", NonZeroU32::MIN);
        config.proxy = ProxyConfig::Proxy {
            url: "http://user:url-password-secret@proxy.example:3128".to_owned(),
            auth: ProxyAuth::Basic {
                username: "proxy-user".to_owned(),
                password: SecretString::from("proxy-password-secret"),
            },
            ca_pem: None,
            headers: vec![("X-Proxy-Token".to_owned(), "header-value-secret".to_owned())],
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(
            debug.contains("proxy-user") && debug.contains("X-Proxy-Token"),
            "{debug}"
        );

        config.proxy = ProxyConfig::Proxy {
            url: "https://proxy.example:3128".to_owned(),
            auth: ProxyAuth::ClientCertificate {
                cert_pem: b"cert".to_vec(),
                key_pem: SecretString::from("private-key-secret"),
            },
            ca_pem: Some(b"ca".to_vec()),
            headers: Vec::new(),
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("secret"), "{debug}");
    }
}

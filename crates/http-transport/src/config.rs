//! Transport configuration: what an operator can tune per tenant and per process.

use std::num::NonZeroU32;
use std::time::Duration;

use secrecy::SecretString;

/// Everything a [`crate::Transport`] needs to know, built by the caller from tenant and process
/// configuration.
#[derive(Debug, Clone)]
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
        }
    }
}

/// Connect, response-header and idle-body timeouts (reference: 15 s, 30 s, 60 s).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    /// Time from sending the request until the response headers arrive.
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

/// Which failures are retried, how often, and how long we wait.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt (reference: 5).
    pub max_retries: u32,
    /// First exponential backoff step (reference: 500 ms), doubled each retry, with full jitter.
    pub base_delay: Duration,
    /// Upper bound for one backoff step and for a server's `Retry-After` (reference: 30 s).
    pub max_delay: Duration,
    /// A `Retry-After` above this means the account is blocked: fail instead of waiting.
    pub blocked_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_retries: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            blocked_after: Duration::from_secs(3600),
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
#[derive(Debug, Clone, Default)]
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

#[derive(Debug, Clone, Default)]
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

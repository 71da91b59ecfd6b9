//! Daemon settings: everything that is not per tenant.
//!
//! Layered setting by setting, lowest to highest: built-in defaults < the config file <
//! the reference connector's environment variables (`PORT`, `LOG_LEVEL`, `PROXY_*`, ...) <
//! `CONFLUENCE_CONNECTOR__<SECTION>__<KEY>` variables. Environment beats file so that a
//! deployment that sets the reference's variables keeps working even after an operator copies
//! `config.example.yaml` (which spells every default out); our own prefixed variables beat the
//! reference's generic names because they are the more specific, deliberate override.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use super::raw;
use super::read::{join, Diag, Need, Numbers};

/// Prefix of environment variables that override any daemon setting.
pub const ENV_PREFIX: &str = "CONFLUENCE_CONNECTOR";
/// Separator between the prefix, sections and keys in those variables.
pub const ENV_SEPARATOR: &str = "__";

pub const DEFAULT_PORT: u16 = 51349;
pub const DEFAULT_STATE_URL: &str = "sqlite://./state/confluence-connector.db";
const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 30;
pub const DEFAULT_RETRY_BUDGET_SECS: u64 = 300;
pub const DEFAULT_QUOTA_MAX_WAIT_SECS: u64 = 3900;
/// How long a tenant's lease lasts without renewal unless `state.lease_ttl_secs` says otherwise.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(60);

/// The reference connector's environment variables and the setting each one feeds.
pub(crate) const REFERENCE_ENV_VARS: &[(&str, &str)] = &[
    ("PORT", "listen.port"),
    ("OTEL_EXPORTER_PROMETHEUS_PORT", "listen.metrics_port"),
    ("LOG_LEVEL", "log.level"),
    (
        "LOGS_DIAGNOSTICS_DATA_POLICY",
        "log.diagnostics_data_policy",
    ),
    ("TENANT_CONFIG_PATH_PATTERN", "tenants.files"),
    ("HEALTH_SYNC_HISTORY_SIZE", "health.sync_history_size"),
    (
        "HEALTH_SYNC_TENANT_FAILURE_THRESHOLD",
        "health.sync_tenant_failure_threshold",
    ),
    (
        "HEALTH_CONNECTIVITY_TIMEOUT_MS",
        "health.connectivity_timeout_ms",
    ),
    ("PROXY_AUTH_MODE", "proxy.mode"),
    ("PROXY_HOST", "proxy.host"),
    ("PROXY_PORT", "proxy.port"),
    ("PROXY_PROTOCOL", "proxy.protocol"),
    ("PROXY_SSL_CA_BUNDLE_PATH", "proxy.ca_bundle_path"),
    ("PROXY_HEADERS", "proxy.headers"),
    ("PROXY_USERNAME", "proxy.username"),
    ("PROXY_PASSWORD", "proxy.password"),
    ("PROXY_SSL_CERT_PATH", "proxy.cert_path"),
    ("PROXY_SSL_KEY_PATH", "proxy.key_path"),
];

/// Settings of the daemon process.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub listen: ListenConfig,
    pub log: LogConfig,
    pub state: StateConfig,
    pub health: HealthConfig,
    pub proxy: ProxyConfig,
    /// PEM bundle trusted in addition to the system roots (a corporate CA in front of
    /// Confluence, say).
    pub extra_ca_bundle_path: Option<PathBuf>,
    /// How long a stopping daemon waits for running work to finish or checkpoint.
    pub shutdown_grace_period: Duration,
    pub retry: RetryConfig,
    pub tenants: TenantsConfig,
}

/// Retries of requests to Confluence and Unique, for every tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// How long a request that is safe to repeat keeps retrying 429, 5xx and connection
    /// failures (and an attachment its streamed upload), counted from its first attempt or the
    /// start of the service's outage; time waiting for a Confluence points quota not counted.
    pub budget: Duration,
    /// The longest wait for a Confluence Cloud points quota to reset; a quota 429 asking for
    /// more fails the request.
    pub quota_max_wait: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(DEFAULT_RETRY_BUDGET_SECS),
            quota_max_wait: Duration::from_secs(DEFAULT_QUOTA_MAX_WAIT_SECS),
        }
    }
}

impl Default for DaemonConfig {
    fn default() -> Self {
        Self {
            listen: ListenConfig {
                http: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), DEFAULT_PORT),
                metrics: None,
            },
            log: LogConfig {
                level: LogLevel::Info,
                format: LogFormat::Auto,
                diagnostics_data_policy: DiagnosticsDataPolicy::Conceal,
            },
            state: StateConfig {
                url: SecretString::from(DEFAULT_STATE_URL),
                backend: StateBackend::Sqlite,
                lease_ttl: DEFAULT_LEASE_TTL,
            },
            health: HealthConfig::default(),
            proxy: ProxyConfig::None,
            extra_ca_bundle_path: None,
            shutdown_grace_period: Duration::from_secs(DEFAULT_SHUTDOWN_GRACE_SECS),
            retry: RetryConfig::default(),
            tenants: TenantsConfig { files: None },
        }
    }
}

/// Where the HTTP endpoints listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenConfig {
    /// `/healthz`, `/readyz` and (unless `metrics` is set) `/metrics`.
    pub http: SocketAddr,
    /// A separate listener for `/metrics`; `None` serves it on `http`.
    pub metrics: Option<SocketAddr>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    pub level: LogLevel,
    pub format: LogFormat,
    pub diagnostics_data_policy: DiagnosticsDataPolicy,
}

/// The reference's levels; `fatal` behaves as `error` and `silent` turns logging off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    Fatal,
    Error,
    Warn,
    Info,
    Debug,
    Trace,
    Silent,
}

impl LogLevel {
    /// The `tracing` filter directive for this level.
    pub fn as_filter_directive(self) -> &'static str {
        match self {
            Self::Fatal | Self::Error => "error",
            Self::Warn => "warn",
            Self::Info => "info",
            Self::Debug => "debug",
            Self::Trace => "trace",
            Self::Silent => "off",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
    /// Text on a terminal, JSON otherwise.
    Auto,
}

impl LogFormat {
    /// Resolves `auto` for the given output.
    pub fn is_json(self, stdout_is_terminal: bool) -> bool {
        match self {
            Self::Json => true,
            Self::Text => false,
            Self::Auto => !stdout_is_terminal,
        }
    }
}

/// Whether logs may show page titles, e-mail addresses and ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiagnosticsDataPolicy {
    /// Mask them.
    Conceal,
    /// Show them (for troubleshooting).
    Disclose,
}

/// The state ledger.
#[derive(Debug, Clone)]
pub struct StateConfig {
    /// `sqlite://…` or `postgres://…`; secret because a PostgreSQL URL carries a password.
    pub url: SecretString,
    pub backend: StateBackend,
    /// How long a tenant's lease lasts without renewal (renewed every third of it while the
    /// tenant runs): a replica that dies frees its tenants after this long.
    pub lease_ttl: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateBackend {
    /// One replica.
    Sqlite,
    /// Several replicas sharing tenants through leases.
    Postgres,
}

/// Thresholds of the readiness check.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthConfig {
    /// How many recent sync results per tenant are considered.
    pub sync_history_size: NonZeroUsize,
    /// A tenant is unhealthy when more than this fraction of them failed.
    pub sync_tenant_failure_threshold: f64,
    /// Timeout of each connectivity probe.
    pub connectivity_timeout: Duration,
}

impl Default for HealthConfig {
    fn default() -> Self {
        Self {
            sync_history_size: NonZeroUsize::new(5).expect("5 is not zero"),
            sync_tenant_failure_threshold: 0.5,
            connectivity_timeout: Duration::from_millis(3000),
        }
    }
}

/// Outbound proxy for Confluence traffic (and Unique traffic in `external` mode).
#[derive(Debug, Clone)]
pub enum ProxyConfig {
    /// Connect directly.
    None,
    /// Go through the proxy.
    Proxy {
        endpoint: ProxyEndpoint,
        auth: ProxyAuth,
    },
}

#[derive(Debug, Clone)]
pub struct ProxyEndpoint {
    pub host: String,
    pub port: u16,
    pub protocol: ProxyProtocol,
    /// CA bundle that signed the proxy's own TLS certificate.
    pub ca_bundle_path: Option<PathBuf>,
    /// Sent on CONNECT; values are secret because they often carry credentials.
    pub headers: BTreeMap<String, SecretString>,
    /// `proxy.allow_plain_http`: the operator accepts that credentials for a non-loopback
    /// proxy reached over plain HTTP cross the network in clear.
    pub allow_plain_http: bool,
}

impl ProxyEndpoint {
    /// `<protocol>://<host>:<port>`.
    pub fn uri(&self) -> String {
        let scheme = match self.protocol {
            ProxyProtocol::Http => "http",
            ProxyProtocol::Https => "https",
        };
        format!("{scheme}://{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyProtocol {
    Http,
    Https,
}

#[derive(Debug, Clone)]
pub enum ProxyAuth {
    /// Mode `no_auth`.
    NoAuth,
    /// Mode `username_password`: `Proxy-Authorization: Basic …`.
    UsernamePassword {
        username: SecretString,
        password: SecretString,
    },
    /// Mode `ssl_tls`: a client certificate presented to the proxy.
    SslTls {
        cert_path: PathBuf,
        key_path: PathBuf,
    },
}

/// Where tenant definitions come from (inline tenants are returned in
/// [`LoadedConfig::tenants`](super::LoadedConfig), not kept here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantsConfig {
    /// Glob of `<name>-tenant-config.yaml` files, relative to the working directory.
    pub files: Option<String>,
}

/// The environment variables that set daemon settings, lowest precedence first (the
/// reference's names, then `CONFLUENCE_CONNECTOR__<SECTION>__<KEY>`), as (setting path,
/// variable name, value). An empty variable counts as unset.
pub(crate) fn env_overrides(env: &super::Env) -> Vec<(String, String, String)> {
    let reference = REFERENCE_ENV_VARS.iter().filter_map(|(name, path)| {
        Some((
            (*path).to_owned(),
            (*name).to_owned(),
            env.get(name)?.to_owned(),
        ))
    });
    // Names are case-insensitive, as they were with the `config` crate.
    let prefix = format!("{ENV_PREFIX}{ENV_SEPARATOR}").to_lowercase();
    let prefixed = env.iter().filter_map(|(name, value)| {
        let lower = name.to_lowercase();
        let path = lower.strip_prefix(&prefix)?.replace(ENV_SEPARATOR, ".");
        Some((path, name.to_owned(), value.to_owned()))
    });
    reference
        .chain(prefixed)
        .filter(|(_, _, value)| !value.trim().is_empty())
        .collect()
}

/// Reads the merged daemon settings (the `tenants.inline` subtree already removed).
pub(crate) fn read_daemon(d: &mut Diag<'_>, root: Map<String, Value>) -> DaemonConfig {
    let defaults = DaemonConfig::default();
    let root: raw::Daemon = d
        .section("", Some(&Value::Object(root)), Need::Optional)
        .unwrap_or_default();
    fn section<T: for<'de> serde::Deserialize<'de> + Default>(
        d: &mut Diag<'_>,
        name: &str,
        v: &raw::Field,
    ) -> T {
        // A section that is not a mapping is reported; its settings keep their defaults.
        d.section(name, v.as_ref(), Need::Optional)
            .unwrap_or_default()
    }

    let listen: raw::Listen = section(d, "listen", &root.listen);
    let host = d
        .text(
            "listen.host",
            listen.host.as_ref(),
            Need::Optional,
            "an IP address such as 0.0.0.0 or 127.0.0.1",
        )
        .and_then(|h| match h.trim().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                d.error(
                    "listen.host",
                    format!("'{h}' is not an IP address"),
                    "an IP address such as 0.0.0.0 or 127.0.0.1",
                );
                None
            }
        })
        .unwrap_or(defaults.listen.http.ip());
    let port = d
        .number("listen.port", listen.port.as_ref(), (0, 65535))
        .unwrap_or(u64::from(DEFAULT_PORT));
    let metrics_port = d.number(
        "listen.metrics_port",
        listen.metrics_port.as_ref(),
        (0, 65535),
    );
    let to_port = |p: u64| u16::try_from(p).unwrap_or(DEFAULT_PORT);
    let listen = ListenConfig {
        http: SocketAddr::new(host, to_port(port)),
        metrics: metrics_port.map(|p| SocketAddr::new(host, to_port(p))),
    };

    let log: raw::Log = section(d, "log", &root.log);
    let log = LogConfig {
        level: d
            .choice(
                "log.level",
                log.level.as_ref(),
                &[
                    ("fatal", LogLevel::Fatal),
                    ("error", LogLevel::Error),
                    ("warn", LogLevel::Warn),
                    ("info", LogLevel::Info),
                    ("debug", LogLevel::Debug),
                    ("trace", LogLevel::Trace),
                    ("silent", LogLevel::Silent),
                ],
            )
            .unwrap_or(defaults.log.level),
        format: d
            .choice(
                "log.format",
                log.format.as_ref(),
                &[
                    ("json", LogFormat::Json),
                    ("text", LogFormat::Text),
                    ("auto", LogFormat::Auto),
                ],
            )
            .unwrap_or(defaults.log.format),
        diagnostics_data_policy: d
            .choice(
                "log.diagnostics_data_policy",
                log.diagnostics_data_policy.as_ref(),
                &[
                    ("conceal", DiagnosticsDataPolicy::Conceal),
                    ("disclose", DiagnosticsDataPolicy::Disclose),
                ],
            )
            .unwrap_or(defaults.log.diagnostics_data_policy),
    };

    let state_map: raw::State = section(d, "state", &root.state);
    let lease_ttl = d
        .number(
            "state.lease_ttl_secs",
            state_map.lease_ttl_secs.as_ref(),
            (3, 3600),
        )
        .map(Duration::from_secs)
        .unwrap_or(defaults.state.lease_ttl);
    let state = match d.secret("state.url", state_map.url.as_ref(), Need::Optional) {
        None => defaults.state,
        Some(url) => {
            let backend = {
                let text = url.expose_secret();
                if text.starts_with("sqlite:") {
                    Some(StateBackend::Sqlite)
                } else if text.starts_with("postgres://") || text.starts_with("postgresql://") {
                    Some(StateBackend::Postgres)
                } else {
                    None
                }
            };
            match backend {
                Some(backend) => StateConfig {
                    url,
                    backend,
                    lease_ttl,
                },
                None => {
                    d.error(
                        "state.url",
                        "is neither a sqlite: nor a postgres:// URL",
                        "sqlite://<path> (one replica) or postgres://user:password@host/db (several)",
                    );
                    defaults.state
                }
            }
        }
    };

    let health: raw::Health = section(d, "health", &root.health);
    let health = HealthConfig {
        sync_history_size: d
            .number(
                "health.sync_history_size",
                health.sync_history_size.as_ref(),
                (1, 10_000),
            )
            .and_then(|n| NonZeroUsize::new(usize::try_from(n).ok()?))
            .unwrap_or(defaults.health.sync_history_size),
        sync_tenant_failure_threshold: d
            .decimal(
                "health.sync_tenant_failure_threshold",
                health.sync_tenant_failure_threshold.as_ref(),
                (0.0, 1.0),
            )
            .unwrap_or(defaults.health.sync_tenant_failure_threshold),
        connectivity_timeout: d
            .number(
                "health.connectivity_timeout_ms",
                health.connectivity_timeout_ms.as_ref(),
                (1, 600_000),
            )
            .map(Duration::from_millis)
            .unwrap_or(defaults.health.connectivity_timeout),
    };

    let proxy: raw::Proxy = section(d, "proxy", &root.proxy);
    let proxy = read_proxy(d, &proxy);

    let extra_ca_bundle_path = read_file_path(
        d,
        "extra_ca_bundle_path",
        root.extra_ca_bundle_path.as_ref(),
        Need::Optional,
    );
    let shutdown_grace_period = d
        .number(
            "shutdown_grace_period_secs",
            root.shutdown_grace_period_secs.as_ref(),
            (0, 3600),
        )
        .map(Duration::from_secs)
        .unwrap_or(defaults.shutdown_grace_period);

    let retry: raw::Retry = section(d, "retry", &root.retry);
    let retry = RetryConfig {
        budget: d
            .number("retry.budget_secs", retry.budget_secs.as_ref(), (0, 86_400))
            .map(Duration::from_secs)
            .unwrap_or(defaults.retry.budget),
        quota_max_wait: d
            .number(
                "retry.quota_max_wait_secs",
                retry.quota_max_wait_secs.as_ref(),
                (0, 86_400),
            )
            .map(Duration::from_secs)
            .unwrap_or(defaults.retry.quota_max_wait),
    };

    let tenants: raw::Tenants = section(d, "tenants", &root.tenants);
    let files = d.non_blank(
        "tenants.files",
        tenants.files.as_ref(),
        Need::Optional,
        "a glob of tenant files, e.g. ./tenants/*-tenant-config.yaml",
    );

    DaemonConfig {
        listen,
        log,
        state: StateConfig { lease_ttl, ..state },
        health,
        // On a bad proxy section the error is recorded and loading fails anyway.
        proxy: proxy.unwrap_or(ProxyConfig::None),
        extra_ca_bundle_path,
        shutdown_grace_period,
        retry,
        tenants: TenantsConfig { files },
    }
}

/// A path to a file that must exist now: these are read at startup, and a typo found at the
/// first TLS handshake would be much harder to trace.
fn read_file_path(d: &mut Diag<'_>, path: &str, v: Option<&Value>, need: Need) -> Option<PathBuf> {
    const EXPECTED: &str = "the path of an existing, readable PEM file";
    let text = d.non_blank(path, v, need, EXPECTED)?;
    let file = PathBuf::from(&text);
    if !file.is_file() {
        d.error(path, format!("'{text}' is not an existing file"), EXPECTED);
        return None;
    }
    Some(file)
}

fn read_proxy(d: &mut Diag<'_>, map: &raw::Proxy) -> Option<ProxyConfig> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        None,
        NoAuth,
        UsernamePassword,
        SslTls,
    }
    const MODES: &str = "one of: none, no_auth, username_password, ssl_tls";
    let mode = d.choice(
        "proxy.mode",
        map.mode.as_ref(),
        &[
            ("none", Mode::None),
            ("no_auth", Mode::NoAuth),
            ("username_password", Mode::UsernamePassword),
            ("ssl_tls", Mode::SslTls),
        ],
    );
    let mode_absent = map.mode.as_ref().is_none_or(Value::is_null);
    let mode = match mode {
        Some(mode) => mode,
        None if mode_absent => {
            let set: Vec<String> = match serde_json::to_value(map) {
                Ok(Value::Object(fields)) => fields
                    .into_iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, _)| k)
                    .collect(),
                _ => Vec::new(),
            };
            if !set.is_empty() {
                d.error(
                    "proxy.mode",
                    format!(
                        "is missing although other proxy settings are set ({})",
                        set.join(", ")
                    ),
                    MODES,
                );
                return None;
            }
            Mode::None
        }
        None => return None,
    };
    if mode == Mode::None {
        return Some(ProxyConfig::None);
    }
    let host = d.non_blank(
        "proxy.host",
        map.host.as_ref(),
        Need::Required,
        "the proxy's host name",
    );
    let port = d.whole_number(
        "proxy.port",
        map.port.as_ref(),
        Need::Required,
        Numbers::FromText,
        (1, 65535),
    );
    let protocol = d
        .choice(
            "proxy.protocol",
            map.protocol.as_ref(),
            &[
                ("http", ProxyProtocol::Http),
                ("https", ProxyProtocol::Https),
            ],
        )
        .unwrap_or(ProxyProtocol::Http);
    let ca_bundle_path = read_file_path(
        d,
        "proxy.ca_bundle_path",
        map.ca_bundle_path.as_ref(),
        Need::Optional,
    );
    let headers = read_proxy_headers(d, map.headers.as_ref());
    let auth = match mode {
        Mode::None | Mode::NoAuth => Some(ProxyAuth::NoAuth),
        Mode::UsernamePassword => {
            let username = d.secret("proxy.username", map.username.as_ref(), Need::Required);
            let password = d.secret("proxy.password", map.password.as_ref(), Need::Required);
            username
                .zip(password)
                .map(|(username, password)| ProxyAuth::UsernamePassword { username, password })
        }
        Mode::SslTls => {
            let cert = read_file_path(d, "proxy.cert_path", map.cert_path.as_ref(), Need::Required);
            let key = read_file_path(d, "proxy.key_path", map.key_path.as_ref(), Need::Required);
            cert.zip(key)
                .map(|(cert_path, key_path)| ProxyAuth::SslTls {
                    cert_path,
                    key_path,
                })
        }
    };
    // Behind an `http` proxy the tunnelled traffic is still TLS end to end; what crosses the
    // hop to the proxy in clear is the proxy's own credentials. So plain HTTP to a proxy that is
    // not on this host is refused when it would carry any (a password or CONNECT headers),
    // unless explicitly allowed; a credential-less proxy keeps working as in the reference.
    let allow_plain_http = d.boolean(
        "proxy.allow_plain_http",
        map.allow_plain_http.as_ref(),
        false,
    );
    let carries_credentials =
        mode == Mode::UsernamePassword || headers.as_ref().is_some_and(|h| !h.is_empty());
    if let Some(host) = &host {
        if protocol == ProxyProtocol::Http
            && carries_credentials
            && !allow_plain_http
            && !is_loopback_host(host)
        {
            d.error(
                "proxy.protocol",
                format!(
                    "is http: the proxy credentials (username/password or headers) would cross the network to {host} in clear"
                ),
                "protocol: https (with ca_bundle_path for the proxy's CA if needed), or proxy.allow_plain_http: true to allow plain HTTP to this proxy",
            );
        }
    }
    Some(ProxyConfig::Proxy {
        endpoint: ProxyEndpoint {
            host: host?,
            port: u16::try_from(port?).ok()?,
            protocol,
            ca_bundle_path,
            headers: headers?,
            allow_plain_http,
        },
        auth: auth?,
    })
}

/// `localhost` or a loopback address: a proxy sidecar on this host.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => bare.eq_ignore_ascii_case("localhost"),
    }
}

/// A mapping, or (from `PROXY_HEADERS`) a JSON object in text.
fn read_proxy_headers(
    d: &mut Diag<'_>,
    v: Option<&Value>,
) -> Option<BTreeMap<String, SecretString>> {
    const EXPECTED: &str =
        "a mapping of header names to text values (or a JSON object in PROXY_HEADERS)";
    let parsed;
    let map = match v.filter(|v| !v.is_null()) {
        None => return Some(BTreeMap::new()),
        Some(Value::Object(map)) => map,
        Some(Value::String(text)) => {
            parsed = serde_json::from_str::<Value>(text).ok();
            match &parsed {
                Some(Value::Object(map)) => map,
                _ => {
                    d.error("proxy.headers", "is not a JSON object", EXPECTED);
                    return None;
                }
            }
        }
        Some(_) => {
            d.error("proxy.headers", "is not a mapping", EXPECTED);
            return None;
        }
    };
    let mut out = BTreeMap::new();
    for (name, value) in map {
        match value.as_str() {
            Some(s) => {
                out.insert(name.clone(), SecretString::from(s.to_owned()));
            }
            None => d.error(&join("proxy.headers", name), "is not text", EXPECTED),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::Env;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<DaemonConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connector.yaml");
        std::fs::write(&path, text).unwrap();
        DaemonConfig::load_without_tenants(Some(&path), &env.iter().copied().collect::<Env>())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn lease_ttl_is_read_from_file_and_environment_and_bounded() {
        assert_eq!(
            load("{}", &[]).unwrap().state.lease_ttl,
            Duration::from_secs(60)
        );
        let file = "state: {url: 'postgres://u@db/cc', lease_ttl_secs: 9}";
        let d = load(file, &[]).unwrap();
        assert_eq!(d.state.lease_ttl, Duration::from_secs(9));
        assert_eq!(d.state.backend, StateBackend::Postgres);
        let env = [("CONFLUENCE_CONNECTOR__STATE__LEASE_TTL_SECS", "12")];
        assert_eq!(
            load(file, &env).unwrap().state.lease_ttl,
            Duration::from_secs(12)
        );
        let err = load("state: {lease_ttl_secs: 1}", &[]).unwrap_err();
        assert!(err.contains("state.lease_ttl_secs"), "{err}");
    }

    #[test]
    fn the_retry_budget_and_quota_bound_are_read_from_file_and_environment() {
        let defaults = load("{}", &[]).unwrap().retry;
        assert_eq!(defaults.budget, Duration::from_secs(300));
        assert_eq!(defaults.quota_max_wait, Duration::from_secs(3900));
        let file = "retry: {budget_secs: 20, quota_max_wait_secs: 4000}";
        let d = load(file, &[]).unwrap().retry;
        assert_eq!(
            (d.budget, d.quota_max_wait),
            (Duration::from_secs(20), Duration::from_secs(4000))
        );
        let env = [("CONFLUENCE_CONNECTOR__RETRY__BUDGET_SECS", "0")];
        assert_eq!(load(file, &env).unwrap().retry.budget, Duration::ZERO);
        let err = load("retry: {budget_secs: -1}", &[]).unwrap_err();
        assert!(err.contains("retry.budget_secs"), "{err}");
    }
}

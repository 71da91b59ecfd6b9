//! Daemon and tenant configuration.
//!
//! [`DaemonConfig::load`] reads the daemon config file layered with the environment (see
//! `daemon.rs` for the precedence), then every tenant (reference-format `*-tenant-config.yaml`
//! files and `tenants.inline`), and returns typed, validated values or *every* problem found.
//! Nothing here talks to the network or depends on the client crates: the binary maps these
//! structs onto the clients' own config types.
//!
//! Invariant: secret values (`SecretString`) never reach `Debug`, `Display`, logs or errors.

mod daemon;
mod env;
mod error;
mod http_url;
mod load;
mod raw;
mod read;
mod tenant;

pub use daemon::{
    DaemonConfig, DiagnosticsDataPolicy, HealthConfig, ListenConfig, LogConfig, LogFormat,
    LogLevel, ProxyAuth, ProxyConfig, ProxyEndpoint, ProxyProtocol, RetryConfig, StateBackend,
    StateConfig, TenantsConfig, DEFAULT_LEASE_TTL, DEFAULT_PORT, DEFAULT_STATE_URL, ENV_PREFIX,
    ENV_SEPARATOR,
};
pub use env::Env;
pub use error::{ConfigError, ConfigErrors, ConfigWarning};
pub use http_url::HttpUrl;
pub use load::{LoadedConfig, TENANT_FILE_SUFFIX};
pub use read::ENV_REFERENCE_PREFIX;
pub use tenant::{
    AllUsersPolicy, AnonymousPolicy, AttachmentsConfig, ConfluenceAuth, ConfluenceConfig,
    ConfluenceInstance, IngestionConfig, IngestionMode, PermissionMode, PermissionSettings,
    ProcessingConfig, TenantConfig, TenantSource, TenantStatus, UniqueAuth, UniqueConfig,
    DEFAULT_ALLOWED_MIME_TYPES, DEFAULT_CLOUD_API_BASE_URL, DEFAULT_CLOUD_TOKEN_URL,
    DEFAULT_SCAN_INTERVAL_CRON, MAX_CLOUD_BODY_BATCH_SIZE, MAX_DATA_CENTER_BODY_BATCH_SIZE,
};

/// Every setting an operator can write, as a dotted path: daemon settings (`listen.port`,
/// snake_case) and tenant settings (`confluence.baseUrl`, camelCase, as in the tenant file).
///
/// Taken from the raw structs the loader reads, so a field cannot be parsed without being
/// listed here; a test checks the operator guide mentions each one.
pub fn documented_fields() -> Vec<String> {
    raw::documented_fields()
}

/// The reference connector's environment variables that are still honoured, with the daemon
/// setting each one feeds.
pub fn reference_env_vars() -> &'static [(&'static str, &'static str)] {
    daemon::REFERENCE_ENV_VARS
}

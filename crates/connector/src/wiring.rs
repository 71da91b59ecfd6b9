//! From `connector::config` (the operator's vocabulary) to the clients' own config types.
//!
//! The only place that knows both sides: the config module knows no client crate, the clients
//! know no YAML. Files named by the config (CA bundles, proxy client certificates) are read
//! here, once per load, so a missing file is a load error and not a failure mid-cycle.

use std::path::Path;

use anyhow::Context;
use http_transport::{ExposeSecret, PlainHttpPolicy, SecretString};

use crate::config::{
    ConfluenceAuth, ConfluenceInstance, DaemonConfig, ProxyAuth, ProxyConfig, TenantConfig,
    UniqueAuth,
};

/// Transport settings shared by every tenant (proxy and extra CA), read from disk once.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedTransport {
    pub(crate) proxy: http_transport::ProxyConfig,
    pub(crate) extra_ca_pem: Option<Vec<u8>>,
    /// The retry budget and the quota-wait bound (`retry.*`), the rest the transport's defaults.
    pub(crate) retry: http_transport::RetryPolicy,
    /// `log.diagnostics_data_policy`, handed to the clients so that their errors show what a
    /// service wrote back only under `disclose`.
    pub(crate) remote_text: http_transport::Disclosure,
}

fn read_file(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading the {what} {}", path.display()))
}

impl SharedTransport {
    /// Feeds everything, secrets included, into `hasher` (see `tenants::fingerprint`).
    pub(crate) fn fingerprint_into(&self, hasher: &mut impl std::hash::Hasher) {
        use std::hash::Hash;
        self.extra_ca_pem.hash(hasher);
        self.retry.budget.hash(hasher);
        self.retry.quota_max_wait.hash(hasher);
        self.remote_text.hash(hasher);
        if let http_transport::ProxyConfig::Proxy {
            url,
            auth,
            ca_pem,
            headers,
        } = &self.proxy
        {
            url.hash(hasher);
            ca_pem.hash(hasher);
            headers.hash(hasher);
            match auth {
                http_transport::ProxyAuth::None => 0u8.hash(hasher),
                http_transport::ProxyAuth::Basic { username, password } => {
                    username.hash(hasher);
                    password.expose_secret().hash(hasher);
                }
                http_transport::ProxyAuth::ClientCertificate { cert_pem, key_pem } => {
                    cert_pem.hash(hasher);
                    key_pem.expose_secret().hash(hasher);
                }
            }
        }
    }

    pub(crate) fn from_daemon(daemon: &DaemonConfig) -> anyhow::Result<Self> {
        let extra_ca_pem = daemon
            .extra_ca_bundle_path
            .as_deref()
            .map(|p| read_file(p, "extra CA bundle"))
            .transpose()?;
        let proxy = match &daemon.proxy {
            ProxyConfig::None => http_transport::ProxyConfig::None,
            ProxyConfig::Proxy { endpoint, auth } => {
                let auth = match auth {
                    ProxyAuth::NoAuth => http_transport::ProxyAuth::None,
                    ProxyAuth::UsernamePassword { username, password } => {
                        http_transport::ProxyAuth::Basic {
                            username: username.expose_secret().to_owned(),
                            password: password.clone(),
                        }
                    }
                    ProxyAuth::SslTls {
                        cert_path,
                        key_path,
                    } => {
                        let key = read_file(key_path, "proxy client key")?;
                        let key = String::from_utf8(key)
                            .context("the proxy client key is not PEM text")?;
                        http_transport::ProxyAuth::ClientCertificate {
                            cert_pem: read_file(cert_path, "proxy client certificate")?,
                            key_pem: SecretString::from(key),
                        }
                    }
                };
                http_transport::ProxyConfig::Proxy {
                    url: endpoint.uri(),
                    auth,
                    ca_pem: endpoint
                        .ca_bundle_path
                        .as_deref()
                        .map(|p| read_file(p, "proxy CA bundle"))
                        .transpose()?,
                    headers: endpoint
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), v.expose_secret().to_owned()))
                        .collect(),
                }
            }
        };
        let retry = http_transport::RetryPolicy {
            budget: daemon.retry.budget,
            quota_max_wait: daemon.retry.quota_max_wait,
            ..http_transport::RetryPolicy::default()
        };
        Ok(Self {
            proxy,
            extra_ca_pem,
            retry,
            remote_text: daemon.log.diagnostics_data_policy.into(),
        })
    }

    /// The client for the connectivity probes (`check`, `/readyz`): the same trust (extra CA)
    /// and proxy as the tenants' transports, so a probe fails only where a sync would.
    pub(crate) fn probe_client(&self) -> anyhow::Result<reqwest::Client> {
        let mut config =
            http_transport::TransportConfig::new("confluence", std::num::NonZeroU32::MIN);
        config.proxy = self.proxy.clone();
        config.extra_ca_pem = self.extra_ca_pem.clone();
        http_transport::build_http_client(&config).context("building the probe HTTP client")
    }
}

fn trimmed(url: &str) -> String {
    url.trim_end_matches('/').to_owned()
}

fn plain_http(allowed: bool) -> PlainHttpPolicy {
    if allowed {
        PlainHttpPolicy::Allowed
    } else {
        PlainHttpPolicy::LoopbackOnly
    }
}

/// The tenant's Confluence client config.
pub(crate) fn confluence_config(
    tenant: &TenantConfig,
    shared: &SharedTransport,
) -> confluence_client::ConfluenceConfig {
    use confluence_client::{AuthConfig, ConfluenceConfig};
    let c = &tenant.confluence;
    let auth = match &c.auth {
        ConfluenceAuth::OAuth2Lo {
            client_id,
            client_secret,
        } => AuthConfig::OAuth2lo {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
        },
        ConfluenceAuth::Pat { token } => AuthConfig::Pat {
            token: token.clone(),
        },
        ConfluenceAuth::Basic { username, password } => AuthConfig::Basic {
            username: username.clone(),
            password: password.clone(),
        },
    };
    let base_url = trimmed(c.base_url.as_str());
    let mut config = match &c.instance {
        ConfluenceInstance::Cloud {
            cloud_id,
            api_base_url,
            token_url,
        } => {
            let mut config = ConfluenceConfig::data_center(base_url, auth);
            config.instance_type = confluence_client::InstanceType::Cloud;
            config.cloud_id = Some(cloud_id.clone());
            config.api_gateway_url = trimmed(api_base_url.as_str());
            config.token_url = Some(token_url.as_str().to_owned());
            config
        }
        ConfluenceInstance::DataCenter { token_url } => {
            let mut config = ConfluenceConfig::data_center(base_url, auth);
            config.token_url = Some(token_url.as_str().to_owned());
            config
        }
    };
    config.ingest_single_label = c.ingest_single_label.clone();
    config.ingest_all_label = c.ingest_all_label.clone();
    config.attachments_enabled = tenant.ingestion.attachments.enabled;
    config.rate_limit_per_minute = c.api_rate_limit_per_minute;
    config.space_types = Some(c.space_types.clone());
    config.body_batch_size = Some(tenant.processing.body_batch_size.get());
    config.proxy = shared.proxy.clone();
    config.extra_ca_pem = shared.extra_ca_pem.clone();
    config.retry = shared.retry;
    config.plain_http = plain_http(c.allow_plain_http);
    // The engine's `page` mode reads each page's view restriction and ancestors with discovery;
    // in every other mode not one search parameter changes.
    config.view_restrictions = tenant.permissions.mode == crate::config::PermissionMode::Page;
    config.remote_text = shared.remote_text;
    config
}

/// The tenant's Unique client config.
pub(crate) fn unique_config(
    tenant: &TenantConfig,
    shared: &SharedTransport,
) -> unique_client::UniqueConfig {
    let u = &tenant.unique;
    let auth = match &u.auth {
        UniqueAuth::ClusterLocal {
            service_extra_headers,
        } => unique_client::UniqueAuth::ClusterLocal {
            extra_headers: service_extra_headers.clone(),
        },
        UniqueAuth::External {
            zitadel_oauth_token_url,
            zitadel_project_id,
            zitadel_client_id,
            zitadel_client_secret,
        } => unique_client::UniqueAuth::External(unique_client::ExternalAuth::new(
            zitadel_oauth_token_url.as_str(),
            zitadel_client_id.clone(),
            zitadel_client_secret.clone(),
            zitadel_project_id.clone(),
        )),
    };
    let mut config = unique_client::UniqueConfig::new(
        auth,
        trimmed(u.ingestion_service_base_url.as_str()),
        trimmed(u.scope_management_service_base_url.as_str()),
    );
    config.api_rate_limit_per_minute = u.api_rate_limit_per_minute;
    config.transport.rate_limit_per_minute = u.api_rate_limit_per_minute;
    config.transport.proxy = shared.proxy.clone();
    config.transport.extra_ca_pem = shared.extra_ca_pem.clone();
    config.transport.retry = shared.retry;
    config.transport.plain_http = plain_http(u.allow_plain_http);
    config.transport.remote_text = shared.remote_text;
    config
}

/// Where the connectivity check pings for this tenant.
pub(crate) fn connectivity_target(tenant: &TenantConfig) -> crate::health::ConfluenceTarget {
    let c = &tenant.confluence;
    crate::health::ConfluenceTarget {
        tenant: tenant.name.clone(),
        cloud_gateway: match &c.instance {
            ConfluenceInstance::Cloud { api_base_url, .. } => Some(trimmed(api_base_url.as_str())),
            ConfluenceInstance::DataCenter { .. } => None,
        },
        base_url: trimmed(c.base_url.as_str()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{Env, LoadedConfig};

    fn load(yaml: &str) -> LoadedConfig {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, yaml).unwrap();
        let env = Env::from([("CLIENT_SECRET", "s3cret-value"), ("PAT", "pat-value")]);
        DaemonConfig::load(Some(&path), &env).unwrap()
    }

    const TENANTS: &str = r#"
tenants:
  inline:
    cloudy:
      confluence:
        instanceType: cloud
        baseUrl: https://acme.atlassian.net
        cloudId: cloud-123
        apiBaseUrl: http://127.0.0.1:9000
        tokenUrl: http://127.0.0.1:9000/oauth/token
        auth: { mode: oauth_2lo, clientId: cid, clientSecret: os.environ/CLIENT_SECRET }
        apiRateLimitPerMinute: 42
        ingestSingleLabel: one
        ingestAllLabel: all
      unique:
        serviceAuthMode: cluster_local
        serviceExtraHeaders: { x-company-id: c1, x-user-id: u1 }
        ingestionServiceBaseUrl: http://127.0.0.1:9001
        scopeManagementServiceBaseUrl: http://127.0.0.1:9002
        apiRateLimitPerMinute: 7
      ingestion: { scopeId: root-1 }
      processing: { bodyBatchSize: 10 }
    dc:
      confluence:
        instanceType: data-center
        baseUrl: http://127.0.0.1:9003/confluence
        auth: { mode: pat, token: os.environ/PAT }
        apiRateLimitPerMinute: 100
        ingestSingleLabel: ai-ingest
        ingestAllLabel: ai-ingest-all
      unique:
        serviceAuthMode: cluster_local
        serviceExtraHeaders: { x-company-id: c1, x-user-id: u1 }
        ingestionServiceBaseUrl: http://127.0.0.1:9001
        scopeManagementServiceBaseUrl: http://127.0.0.1:9002
      ingestion: { scopeId: root-2 }
"#;

    #[test]
    fn view_restrictions_are_read_exactly_in_page_mode() {
        let loaded = load(TENANTS);
        for t in &loaded.tenants {
            assert!(!confluence_config(t, &SharedTransport::default()).view_restrictions);
        }
        let mut t = loaded.tenants[0].clone();
        for (mode, expected) in [
            (crate::config::PermissionMode::None, false),
            (crate::config::PermissionMode::Space, false),
            (crate::config::PermissionMode::Page, true),
        ] {
            t.permissions.mode = mode;
            assert_eq!(
                confluence_config(&t, &SharedTransport::default()).view_restrictions,
                expected,
                "{mode:?}"
            );
        }
    }

    #[test]
    fn cloud_tenant_maps_gateway_token_url_labels_and_limits() {
        let loaded = load(TENANTS);
        let t = loaded.tenants.iter().find(|t| t.name == "cloudy").unwrap();
        let c = confluence_config(t, &SharedTransport::default());
        assert_eq!(c.instance_type, confluence_client::InstanceType::Cloud);
        assert_eq!(c.base_url, "https://acme.atlassian.net");
        assert_eq!(trimmed("http://x/"), "http://x");
        assert_eq!(c.cloud_id.as_deref(), Some("cloud-123"));
        assert_eq!(c.api_gateway_url, "http://127.0.0.1:9000");
        assert_eq!(
            c.token_url.as_deref(),
            Some("http://127.0.0.1:9000/oauth/token")
        );
        assert_eq!(c.ingest_single_label, "one");
        assert_eq!(c.ingest_all_label, "all");
        assert_eq!(c.rate_limit_per_minute.get(), 42);
        assert_eq!(c.body_batch_size, Some(10));
        assert!(matches!(
            &c.auth,
            confluence_client::AuthConfig::OAuth2lo { client_secret, .. }
                if client_secret.expose_secret() == "s3cret-value"
        ));
        c.validate().unwrap();
    }

    #[test]
    fn data_center_tenant_keeps_its_context_path_and_pat() {
        let loaded = load(TENANTS);
        let t = loaded.tenants.iter().find(|t| t.name == "dc").unwrap();
        let c = confluence_config(t, &SharedTransport::default());
        assert_eq!(c.instance_type, confluence_client::InstanceType::DataCenter);
        assert_eq!(c.base_url, "http://127.0.0.1:9003/confluence");
        assert!(matches!(&c.auth, confluence_client::AuthConfig::Pat { .. }));
        c.validate().unwrap();
    }

    #[test]
    fn unique_config_trims_slashes_and_carries_headers_and_rate() {
        let loaded = load(TENANTS);
        let t = loaded.tenants.iter().find(|t| t.name == "cloudy").unwrap();
        let u = unique_config(t, &SharedTransport::default());
        assert_eq!(u.ingestion_service_base_url, "http://127.0.0.1:9001");
        assert_eq!(u.api_rate_limit_per_minute.get(), 7);
        match &u.auth {
            unique_client::UniqueAuth::ClusterLocal { extra_headers } => {
                assert_eq!(extra_headers["x-company-id"], "c1");
            }
            other => panic!("{other:?}"),
        }
        u.validate().unwrap();
    }

    #[test]
    fn proxy_and_extra_ca_reach_both_clients() {
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, b"PEM").unwrap();
        let daemon = DaemonConfig {
            extra_ca_bundle_path: Some(ca),
            ..DaemonConfig::default()
        };
        let shared = SharedTransport::from_daemon(&daemon).unwrap();
        assert_eq!(shared.extra_ca_pem.as_deref(), Some(&b"PEM"[..]));
        let loaded = load(TENANTS);
        let c = confluence_config(&loaded.tenants[0], &shared);
        assert_eq!(c.extra_ca_pem.as_deref(), Some(&b"PEM"[..]));
        let u = unique_config(&loaded.tenants[0], &shared);
        assert_eq!(u.transport.extra_ca_pem.as_deref(), Some(&b"PEM"[..]));
    }

    #[test]
    fn the_retry_settings_reach_both_clients() {
        let daemon = DaemonConfig {
            retry: crate::config::RetryConfig {
                budget: std::time::Duration::from_secs(42),
                quota_max_wait: std::time::Duration::from_secs(600),
            },
            ..DaemonConfig::default()
        };
        let shared = SharedTransport::from_daemon(&daemon).unwrap();
        let loaded = load(TENANTS);
        let c = confluence_config(&loaded.tenants[0], &shared);
        assert_eq!(c.retry.budget.as_secs(), 42);
        assert_eq!(c.retry.quota_max_wait.as_secs(), 600);
        let u = unique_config(&loaded.tenants[0], &shared);
        assert_eq!(u.transport.retry.budget.as_secs(), 42);
    }

    #[test]
    fn missing_ca_file_is_a_load_error_naming_the_file() {
        let daemon = DaemonConfig {
            extra_ca_bundle_path: Some("/nonexistent/ca.pem".into()),
            ..DaemonConfig::default()
        };
        let err = SharedTransport::from_daemon(&daemon).unwrap_err();
        assert!(format!("{err:#}").contains("/nonexistent/ca.pem"));
    }

    #[test]
    fn connectivity_target_pings_the_gateway_for_cloud_only() {
        let loaded = load(TENANTS);
        let cloud = loaded.tenants.iter().find(|t| t.name == "cloudy").unwrap();
        let dc = loaded.tenants.iter().find(|t| t.name == "dc").unwrap();
        assert_eq!(
            connectivity_target(cloud).cloud_gateway.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert_eq!(connectivity_target(dc).cloud_gateway, None);
    }
}

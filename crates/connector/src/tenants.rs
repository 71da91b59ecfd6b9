//! Each configured tenant with what it needs to run: active tenants get the engine's
//! [`TenantSync`] (which owns their Confluence client), deleted tenants a [`TenantDeletion`]
//! (they make no Confluence calls at all, reference §13), and every tenant its Unique client
//! for the readiness ping. Built from a [`LoadedConfig`] in one go, so a reload either yields a
//! whole new set or an error and the old set stays.

use std::sync::Arc;

use anyhow::Context;
use sync_engine::{AttachmentRules, KeyFormat, Ledger, TenantDeletion, TenantSpec, TenantSync};

use secrecy::ExposeSecret;

use crate::config::{ConfluenceAuth, LoadedConfig, TenantConfig, UniqueAuth};
use crate::engine_observer::EngineObserver;
use crate::metrics::Metrics;
use crate::transport_metrics::TransportMetrics;
use crate::wiring::{confluence_config, unique_config, SharedTransport};

/// What a tenant's runs do.
#[derive(Debug)]
pub(crate) enum Work {
    Sync(Box<TenantSync>),
    Delete(TenantDeletion),
}

/// A tenant's clients, built from its config: what `check` probes. The engine takes them over
/// in a [`TenantRuntime`].
#[derive(Debug)]
pub(crate) struct TenantClients {
    pub(crate) config: TenantConfig,
    pub(crate) unique: unique_client::UniqueClient,
    /// `None` for deleted tenants: they make no Confluence calls.
    pub(crate) confluence: Option<confluence_client::ConfluenceClient>,
}

impl TenantClients {
    pub(crate) fn build(
        config: TenantConfig,
        shared: &SharedTransport,
        metrics: &Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let transport_observer = TransportMetrics::new(&config.name, metrics.clone());
        let unique = unique_client::UniqueClient::with_observer(
            unique_config(&config, shared),
            transport_observer.clone(),
        )
        .with_context(|| format!("tenant {}: building the Unique client", config.name))?;
        let confluence = if config.is_active() {
            let client = confluence_client::ConfluenceClient::new(
                confluence_config(&config, shared),
                transport_observer,
            )
            .with_context(|| format!("tenant {}: building the Confluence client", config.name))?;
            Some(client)
        } else {
            None
        };
        Ok(Self {
            config,
            unique,
            confluence,
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }
}

/// One tenant, ready to run: its engine (which owns the Confluence client), its Unique client
/// for the readiness ping, and the observer that turns engine events into metrics.
#[derive(Debug)]
pub(crate) struct TenantRuntime {
    pub(crate) config: TenantConfig,
    pub(crate) unique: unique_client::UniqueClient,
    pub(crate) work: Work,
    pub(crate) observer: Arc<EngineObserver>,
    /// Changes whenever anything the runtime was built from changes (secrets included).
    pub(crate) fingerprint: u64,
}

impl TenantRuntime {
    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    pub(crate) fn build(
        config: TenantConfig,
        shared: &SharedTransport,
        metrics: &Arc<Metrics>,
        ledger: &Ledger,
    ) -> anyhow::Result<Self> {
        let fingerprint = fingerprint(&config, shared);
        let TenantClients {
            config,
            unique,
            confluence,
        } = TenantClients::build(config, shared, metrics)?;
        let observer = Arc::new(EngineObserver::new(&config.name, metrics.clone()));
        let work = match confluence {
            Some(client) => Work::Sync(Box::new(TenantSync::new(
                TenantSpec {
                    attachment_retry_budget: shared.retry.budget,
                    ..tenant_spec(&config)
                },
                client,
                unique.clone(),
                ledger.clone(),
                observer.clone(),
            ))),
            None => Work::Delete(TenantDeletion::new(
                config.name.clone(),
                config.ingestion.scope_id.clone(),
                unique.clone(),
                ledger.clone(),
                observer.clone(),
            )),
        };
        Ok(Self {
            fingerprint,
            config,
            unique,
            work,
            observer,
        })
    }
}

/// The engine's view of a tenant.
pub(crate) fn tenant_spec(config: &TenantConfig) -> TenantSpec {
    let mut spec = TenantSpec::new(config.name.clone(), config.ingestion.scope_id.clone());
    spec.key_format = KeyFormat::from_use_v1(config.ingestion.use_v1_key_format);
    spec.ingest_single_label = config.confluence.ingest_single_label.clone();
    spec.ingest_all_label = config.confluence.ingest_all_label.clone();
    let attachments = &config.ingestion.attachments;
    spec.attachments = AttachmentRules {
        enabled: attachments.enabled,
        allowed_mime_types: attachments.allowed_mime_types.clone(),
        max_file_size_mb: u64::from(attachments.max_file_size_mb.get()),
        image_ocr: attachments.image_ocr_enabled,
    };
    spec.store_internally = config.ingestion.store_internally;
    spec.page_ingestion_config = config.ingestion.page_ingestion_config.clone();
    spec.inline_images = config.ingestion.inline_images_enabled;
    spec.concurrency = config.processing.concurrency.get();
    spec.max_items_to_scan = config
        .processing
        .max_items_to_scan
        .map(|n| usize::try_from(n.get()).unwrap_or(usize::MAX));
    spec.permissions = config.permissions.clone();
    spec
}

/// A hash of everything a runtime is built from. `Debug` of the configs hides secrets, so
/// those are hashed separately: a rotated secret must rebuild the clients.
fn fingerprint(config: &TenantConfig, shared: &SharedTransport) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    format!("{config:?}").hash(&mut hasher);
    shared.fingerprint_into(&mut hasher);
    let mut secret = |s: &secrecy::SecretString| s.expose_secret().hash(&mut hasher);
    match &config.confluence.auth {
        ConfluenceAuth::OAuth2Lo { client_secret, .. } => secret(client_secret),
        ConfluenceAuth::Pat { token } => secret(token),
        ConfluenceAuth::Basic { username, password } => {
            secret(username);
            secret(password);
        }
    }
    if let UniqueAuth::External {
        zitadel_project_id,
        zitadel_client_secret,
        ..
    } = &config.unique.auth
    {
        secret(zitadel_project_id);
        secret(zitadel_client_secret);
    }
    hasher.finish()
}

/// Every tenant of `loaded`, ready to run, or the first error.
pub(crate) fn build_all(
    loaded: &LoadedConfig,
    metrics: &Arc<Metrics>,
    ledger: &Ledger,
) -> anyhow::Result<Vec<Arc<TenantRuntime>>> {
    let shared = SharedTransport::from_daemon(&loaded.daemon)?;
    loaded
        .tenants
        .iter()
        .map(|t| TenantRuntime::build(t.clone(), &shared, metrics, ledger).map(Arc::new))
        .collect()
}

/// The clients of every tenant of `loaded`, or the first error.
pub(crate) fn build_clients(
    loaded: &LoadedConfig,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Vec<TenantClients>> {
    let shared = SharedTransport::from_daemon(&loaded.daemon)?;
    loaded
        .tenants
        .iter()
        .map(|t| TenantClients::build(t.clone(), &shared, metrics))
        .collect()
}

/// The reference's start-up lines (behaviours 278, 280): `Tenant registered` for each active
/// tenant, `Deleted tenant registered for cleanup` for each deleted one.
pub(crate) fn log_registered(tenants: &[Arc<TenantRuntime>]) {
    for tenant in tenants {
        let _span = crate::telemetry::tenant_span(tenant.name()).entered();
        if tenant.config.is_active() {
            tracing::info!("Tenant registered");
        } else {
            tracing::info!("Deleted tenant registered for cleanup");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{DaemonConfig, DiagnosticsDataPolicy, Env};

    #[test]
    fn tenant_spec_carries_labels_attachments_keys_and_limits() {
        let loaded = load("one", "ai-ingest");
        let tenant = &loaded.tenants[0];
        let spec = tenant_spec(tenant);
        assert_eq!(spec.name, "t");
        assert_eq!(spec.root_scope_id, "root");
        assert_eq!(spec.ingest_single_label, "ai-ingest");
        assert_eq!(spec.ingest_all_label, "ai-ingest-all");
        assert_eq!(spec.key_format, KeyFormat::V2);
        assert_eq!(spec.concurrency, tenant.processing.concurrency.get());
        assert_eq!(
            spec.attachments.allowed_mime_types,
            tenant.ingestion.attachments.allowed_mime_types
        );
        assert_eq!(
            spec.attachments.max_file_size_mb,
            u64::from(tenant.ingestion.attachments.max_file_size_mb.get())
        );
        assert_eq!(spec.max_items_to_scan, None);
        assert_eq!(spec.permissions, sync_engine::PermissionSettings::default());
    }

    #[test]
    fn tenant_spec_carries_the_permission_settings() {
        let loaded = load("one", "ai-ingest");
        let mut tenant = loaded.tenants[0].clone();
        for mode in [
            crate::config::PermissionMode::None,
            crate::config::PermissionMode::Space,
            crate::config::PermissionMode::Page,
        ] {
            tenant.permissions.mode = mode;
            assert_eq!(tenant_spec(&tenant).permissions.mode, mode);
        }
    }

    #[tokio::test]
    async fn each_active_tenant_is_logged_as_registered_with_its_name() {
        let loaded = load("one", "ai-ingest");
        let tenants =
            build_all(&loaded, &Arc::new(Metrics::new()), &memory_ledger().await).unwrap();
        let logs = crate::telemetry::tests::capture(true, DiagnosticsDataPolicy::Conceal, || {
            log_registered(&tenants)
        });
        let line: serde_json::Value = serde_json::from_str(logs.trim()).unwrap();
        assert_eq!(line["message"], "Tenant registered", "{logs}");
        assert_eq!(line["tenant"], "t", "{logs}");
        assert_eq!(line["level"], "INFO", "{logs}");
    }

    /// A ledger that lives as long as the test.
    pub(crate) async fn memory_ledger() -> Ledger {
        Ledger::open("sqlite::memory:", sync_engine::LedgerOptions::default())
            .await
            .unwrap()
    }

    /// Always the same file, as on a reload (the file path is part of the config).
    pub(crate) fn load(secret: &str, label: &str) -> LoadedConfig {
        let dir = std::env::temp_dir().join(format!("fingerprint-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.yaml");
        std::fs::write(
            &path,
            format!(
                r#"
tenants:
  inline:
    t:
      confluence:
        instanceType: data-center
        baseUrl: http://127.0.0.1:9
        auth: {{ mode: pat, token: os.environ/PAT }}
        apiRateLimitPerMinute: 100
        ingestSingleLabel: {label}
        ingestAllLabel: ai-ingest-all
      unique:
        serviceAuthMode: cluster_local
        serviceExtraHeaders: {{ x-company-id: c, x-user-id: u }}
        ingestionServiceBaseUrl: http://127.0.0.1:9
        scopeManagementServiceBaseUrl: http://127.0.0.1:9
      ingestion: {{ scopeId: root }}
"#
            ),
        )
        .unwrap();
        DaemonConfig::load(Some(&path), &Env::from([("PAT", secret)])).unwrap()
    }

    fn fingerprint_of(secret: &str, label: &str) -> u64 {
        let loaded = load(secret, label);
        let shared = SharedTransport::from_daemon(&loaded.daemon).unwrap();
        fingerprint(&loaded.tenants[0], &shared)
    }

    #[test]
    fn fingerprint_is_stable_and_changes_with_settings_and_secrets() {
        let base = fingerprint_of("one", "ai-ingest");
        assert_eq!(base, fingerprint_of("one", "ai-ingest"));
        assert_ne!(base, fingerprint_of("two", "ai-ingest"), "rotated secret");
        assert_ne!(
            base,
            fingerprint_of("one", "other-label"),
            "changed setting"
        );
    }
}

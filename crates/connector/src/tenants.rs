//! Each configured tenant with the clients it needs: active tenants get a Confluence and a Unique
//! client, deleted tenants only the Unique client (they make no Confluence calls at all,
//! reference §13). Built from a [`LoadedConfig`] in one go, so a reload either yields a whole
//! new set or an error and the old set stays.

use std::sync::Arc;

use anyhow::Context;

use crate::config::{LoadedConfig, TenantConfig};
use crate::metrics::Metrics;
use crate::observer::TenantObserver;
use crate::wiring::{confluence_config, unique_config, SharedTransport};

/// One tenant, ready to run.
#[derive(Debug)]
pub(crate) struct TenantRuntime {
    pub(crate) config: TenantConfig,
    pub(crate) unique: Arc<unique_client::UniqueClient>,
    /// `None` for deleted tenants.
    pub(crate) confluence: Option<Arc<confluence_client::ConfluenceClient>>,
}

impl TenantRuntime {
    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    pub(crate) fn build(
        config: TenantConfig,
        shared: &SharedTransport,
        metrics: &Arc<Metrics>,
    ) -> anyhow::Result<Self> {
        let observer = TenantObserver::new(&config.name, metrics.clone());
        let unique = unique_client::UniqueClient::with_observer(
            unique_config(&config, shared),
            observer.clone(),
        )
        .with_context(|| format!("tenant {}: building the Unique client", config.name))?;
        let confluence = if config.is_active() {
            let client = confluence_client::ConfluenceClient::new(
                confluence_config(&config, shared),
                observer,
            )
            .with_context(|| format!("tenant {}: building the Confluence client", config.name))?;
            Some(Arc::new(client))
        } else {
            None
        };
        Ok(Self {
            config,
            unique: Arc::new(unique),
            confluence,
        })
    }
}

/// Every tenant of `loaded`, or the first error.
pub(crate) fn build_all(
    loaded: &LoadedConfig,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Vec<Arc<TenantRuntime>>> {
    let shared = SharedTransport::from_daemon(&loaded.daemon)?;
    loaded
        .tenants
        .iter()
        .map(|t| TenantRuntime::build(t.clone(), &shared, metrics).map(Arc::new))
        .collect()
}

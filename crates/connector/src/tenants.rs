//! Each configured tenant with what it needs to run: active tenants get the engine's
//! [`TenantSync`] (which owns their Confluence client), deleted tenants a [`TenantDeletion`]
//! (they make no Confluence calls at all, reference §13), and every tenant its Unique client
//! for the readiness ping. Built from a [`LoadedConfig`] in one go, so a reload either yields a
//! whole new set or an error and the old set stays.

use std::sync::Arc;

use anyhow::Context;
use sync_engine::{Ledger, TenantDeletion, TenantSync};

use crate::config::{LoadedConfig, TenantConfig};
use crate::engine::{tenant_spec, EngineObserver};
use crate::metrics::Metrics;
use crate::observer::TenantObserver;
use crate::wiring::{confluence_config, unique_config, SharedTransport};

/// What a tenant's runs do.
#[derive(Debug)]
pub(crate) enum Work {
    Sync(Box<TenantSync>),
    Delete(TenantDeletion),
}

/// One tenant, ready to run.
#[derive(Debug)]
pub(crate) struct TenantRuntime {
    pub(crate) config: TenantConfig,
    pub(crate) unique: unique_client::UniqueClient,
    /// Only when built without a ledger (`check`): the engine owns the client otherwise.
    pub(crate) confluence: Option<confluence_client::ConfluenceClient>,
    /// Only when built with a ledger.
    pub(crate) work: Option<Work>,
    pub(crate) observer: Arc<EngineObserver>,
}

impl TenantRuntime {
    pub(crate) fn name(&self) -> &str {
        &self.config.name
    }

    /// With `ledger`, the engine is built; without, only the clients (for `check`).
    pub(crate) fn build(
        config: TenantConfig,
        shared: &SharedTransport,
        metrics: &Arc<Metrics>,
        ledger: Option<&Ledger>,
    ) -> anyhow::Result<Self> {
        let transport_observer = TenantObserver::new(&config.name, metrics.clone());
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
        let observer = Arc::new(EngineObserver::new(&config.name, metrics.clone()));
        let (confluence, work) = match ledger {
            None => (confluence, None),
            Some(ledger) => {
                let work = match confluence {
                    Some(client) => Work::Sync(Box::new(TenantSync::new(
                        tenant_spec(&config),
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
                (None, Some(work))
            }
        };
        Ok(Self {
            config,
            unique,
            confluence,
            work,
            observer,
        })
    }
}

/// Every tenant of `loaded`, or the first error.
pub(crate) fn build_all(
    loaded: &LoadedConfig,
    metrics: &Arc<Metrics>,
    ledger: Option<&Ledger>,
) -> anyhow::Result<Vec<Arc<TenantRuntime>>> {
    let shared = SharedTransport::from_daemon(&loaded.daemon)?;
    loaded
        .tenants
        .iter()
        .map(|t| TenantRuntime::build(t.clone(), &shared, metrics, ledger).map(Arc::new))
        .collect()
}

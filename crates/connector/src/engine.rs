//! The adapter from the scheduler's [`TenantRunner`] to the sync engine.

use std::sync::Arc;
use std::time::Instant;

use futures::future::BoxFuture;
use sync_engine::{Ledger, RunTrigger};
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;
use crate::runner::{Mode, Progress, RunSummary, TenantRunner};
use crate::tenants::TenantRuntime;

/// Runs tenants through the sync engine, recording in `ledger` and reporting to `metrics`.
#[derive(Debug)]
pub(crate) struct EngineRunner {
    #[allow(dead_code)]
    ledger: Ledger,
    #[allow(dead_code)]
    metrics: Arc<Metrics>,
}

impl EngineRunner {
    pub(crate) fn new(ledger: Ledger, metrics: Arc<Metrics>) -> Self {
        Self { ledger, metrics }
    }
}

impl TenantRunner for EngineRunner {
    fn run<'a>(
        &'a self,
        tenant: &'a TenantRuntime,
        _trigger: RunTrigger,
        _mode: Mode,
        _cancel: CancellationToken,
        _progress: &'a dyn Progress,
    ) -> BoxFuture<'a, RunSummary> {
        Box::pin(async move {
            let started = Instant::now();
            let kind = if tenant.config.is_active() {
                "sync"
            } else {
                "cleanup"
            };
            RunSummary::failed(
                tenant.name(),
                kind,
                "the sync engine is not wired in this build".to_owned(),
                started.elapsed(),
            )
        })
    }
}

//! The Confluence routers as served: each flavour's API with the pagination tamper middleware
//! in front of it.

use axum::Router;

use super::sim::ConfluenceSim;
use super::{cloud, dc, tamper};

/// The Cloud gateway router with the tamper applied.
pub(crate) fn cloud_gateway_router(sim: ConfluenceSim) -> Router {
    let prefix = format!("/ex/confluence/{}", sim.config().cloud_id);
    tamper::layer(
        cloud::gateway_router(sim.clone()),
        sim.pagination_tamper_slot(),
        prefix,
    )
}

/// The Data Center router with the tamper applied.
pub(crate) fn dc_router(sim: ConfluenceSim) -> Router {
    let prefix = sim
        .config()
        .dc_context_path
        .trim_end_matches('/')
        .to_owned();
    tamper::layer(
        dc::router(sim.clone()),
        sim.pagination_tamper_slot(),
        prefix,
    )
}

//! Faithful simulators of Confluence Cloud, Confluence Data Center and the Unique platform.
//!
//! The sandbox stands in for both upstream services in every test, benchmark and in `demo`, so it
//! is strict where the real services are strict: it parses the CQL it receives, paginates for
//! real, caps page sizes, expires tokens, answers 429 with `Retry-After`, and can inject faults.
//!
//! Invariant: the sandbox depends on none of the project's crates, not even for wire types, so a
//! client bug can never be mirrored here and pass.
//!
//! Layout:
//! - `common`: what both halves share: fault injection, rate limiting, request counters and the
//!   request log, listeners.
//! - `confluence`: Cloud (gateway, token endpoint, media host) and Data Center simulators, the
//!   dataset model and generator, the CQL parser, and the permission model (`access`).
//! - `unique`: the Unique GraphQL APIs, file diff, blob store and Zitadel token endpoint.
//!
//! Entry point: [`spawn`] binds every origin on `127.0.0.1:0` and returns a [`SandboxHandle`]
//! with the base URLs and in-process access to the state; dropping the handle stops the servers.

#![deny(unsafe_code)]

pub mod bench;
pub mod common;
pub mod confluence;
pub mod unique;

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use common::{Faults, FaultsConfig, RequestLog};
use confluence::{CloudQuota, CloudQuotaConfig, ConfluenceConfig, ConfluenceSim, ConfluenceUrls};

/// Fixed listen addresses, for `confluence-sandbox serve`; `None` = `127.0.0.1:0`.
#[derive(Debug, Clone, Default)]
pub struct ListenAddrs {
    pub control: Option<SocketAddr>,
    pub cloud_gateway: Option<SocketAddr>,
    pub cloud_site: Option<SocketAddr>,
    pub media: Option<SocketAddr>,
    pub dc: Option<SocketAddr>,
    pub unique_ingestion: Option<SocketAddr>,
    pub unique_scope_management: Option<SocketAddr>,
    pub unique_blob: Option<SocketAddr>,
    pub zitadel: Option<SocketAddr>,
}

/// Everything [`spawn`] needs; `SandboxConfig::default()` is a working sandbox with the small
/// built-in dataset and the documented credentials.
#[derive(Debug, Clone, Default)]
pub struct SandboxConfig {
    pub confluence: ConfluenceConfig,
    pub unique: unique::UniqueConfig,
    /// Fault rules and rate limits in force from the start (changeable at run time).
    pub faults: FaultsConfig,
    /// Confluence Cloud's points quota (on by default, as on the real Cloud; changeable at run
    /// time through [`SandboxHandle::cloud_quota`] and `/_sandbox/cloud-quota`).
    pub cloud_quota: CloudQuotaConfig,
    pub addrs: ListenAddrs,
}

/// Base URLs of every simulated origin (no trailing slash).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SandboxUrls {
    /// Stand-in for `https://api.atlassian.com`: `POST /oauth/token` and
    /// `/ex/confluence/<cloudId>/wiki/...`.
    pub cloud_gateway: String,
    /// `cloud_gateway` + `/ex/confluence/<cloudId>`: the API root Cloud clients prefix paths with.
    pub cloud_api: String,
    pub cloud_id: String,
    /// Stand-in for `https://<site>.atlassian.net` (the tenant `baseUrl`; web links only).
    pub cloud_site: String,
    /// Stand-in for `api.media.atlassian.com`, where Cloud downloads redirect.
    pub media: String,
    /// Data Center `baseUrl`, including the context path.
    pub dc_base: String,
    pub unique_ingestion: String,
    pub unique_scope_management: String,
    pub unique_blob: String,
    /// Zitadel origin.
    pub zitadel: String,
    /// Zitadel token endpoint (`<zitadel>/oauth/v2/token`).
    pub zitadel_token: String,
    /// Control API origin; routes live under `/_sandbox/`.
    pub control: String,
}

/// A running sandbox. Dropping it stops every listener.
#[derive(Debug)]
pub struct SandboxHandle {
    pub urls: SandboxUrls,
    /// The Confluence dataset, tokens and mutations.
    pub confluence: ConfluenceSim,
    /// The Unique state.
    pub unique: unique::UniqueSim,
    /// Fault rules and rate limits of every service.
    pub faults: Faults,
    /// Request counters and log of every service.
    pub requests: RequestLog,
    /// Confluence Cloud's points quota: points spent per window and per route, the pool.
    pub cloud_quota: CloudQuota,
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl SandboxHandle {
    /// Stops every listener and waits for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }

    /// Expires every OAuth token both halves issued (Confluence Cloud/DC and Zitadel), as if
    /// an hour had passed.
    pub fn expire_all_tokens(&self) {
        self.confluence.expire_tokens();
        self.unique.expire_tokens();
    }

    /// Forgets the request log and counters of every service, and the quota's point counters
    /// (not what the current quota window has spent).
    pub fn reset_requests(&self) {
        self.requests.reset();
        self.cloud_quota.reset_counters();
    }

    /// Resolves when the sandbox is shut down (used by the binary).
    pub async fn stopped(&self) {
        self.shutdown.cancelled().await;
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn url_of(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Starts every simulated origin on loopback and returns once all accept connections.
pub async fn spawn(config: SandboxConfig) -> anyhow::Result<SandboxHandle> {
    let faults = Faults::new(config.faults.clone());
    let cloud_quota = CloudQuota::new(config.cloud_quota.clone());
    let requests = RequestLog::new();
    let sim =
        ConfluenceSim::new(config.confluence.clone()).context("loading the Confluence dataset")?;
    let unique_sim = unique::UniqueSim::new(config.unique.clone());
    let addrs = &config.addrs;

    let (gateway_l, gateway_a) = common::bind(addrs.cloud_gateway)
        .await
        .context("binding cloud gateway")?;
    let (site_l, site_a) = common::bind(addrs.cloud_site)
        .await
        .context("binding cloud site")?;
    let (media_l, media_a) = common::bind(addrs.media)
        .await
        .context("binding media host")?;
    let (dc_l, dc_a) = common::bind(addrs.dc)
        .await
        .context("binding data center")?;
    let (ing_l, ing_a) = common::bind(addrs.unique_ingestion)
        .await
        .context("binding unique ingestion")?;
    let (scope_l, scope_a) = common::bind(addrs.unique_scope_management)
        .await
        .context("binding unique scope management")?;
    let (blob_l, blob_a) = common::bind(addrs.unique_blob)
        .await
        .context("binding unique blob")?;
    let (zitadel_l, zitadel_a) = common::bind(addrs.zitadel)
        .await
        .context("binding zitadel")?;
    let (control_l, control_a) = common::bind(addrs.control)
        .await
        .context("binding control")?;

    let cloud_id = config.confluence.cloud_id.clone();
    let dc_context = config
        .confluence
        .dc_context_path
        .trim_end_matches('/')
        .to_owned();
    let urls = SandboxUrls {
        cloud_gateway: url_of(gateway_a),
        cloud_api: format!("{}/ex/confluence/{cloud_id}", url_of(gateway_a)),
        cloud_id,
        cloud_site: url_of(site_a),
        media: url_of(media_a),
        dc_base: format!("{}{dc_context}", url_of(dc_a)),
        unique_ingestion: url_of(ing_a),
        unique_scope_management: url_of(scope_a),
        unique_blob: url_of(blob_a),
        zitadel: url_of(zitadel_a),
        zitadel_token: format!("{}/oauth/v2/token", url_of(zitadel_a)),
        control: url_of(control_a),
    };
    sim.set_urls(ConfluenceUrls {
        cloud_gateway: urls.cloud_gateway.clone(),
        cloud_site: urls.cloud_site.clone(),
        media: urls.media.clone(),
        dc_base: urls.dc_base.clone(),
    });

    unique_sim.set_blob_base_url(&urls.unique_blob);
    let unique_routers = unique_sim.routers();
    let shutdown = CancellationToken::new();
    let instrument = |router: Router, service: &'static str| {
        common::instrument(router, service, &requests, &faults)
    };
    let control = Router::new()
        .nest(
            "/_sandbox/confluence",
            confluence::control::router(sim.clone()),
        )
        .nest("/_sandbox/unique", unique_routers.control)
        .nest(
            "/_sandbox/cloud-quota",
            confluence::quota_control_router(cloud_quota.clone()),
        )
        .nest("/_sandbox", common::control_router(&faults, &requests))
        .route(
            "/_sandbox/urls",
            axum::routing::get({
                let urls = urls.clone();
                move || async move { axum::Json(urls) }
            }),
        );
    let servers = [
        (
            gateway_l,
            instrument(
                cloud_quota.layer(confluence::cloud_gateway_router(sim.clone())),
                "cloud",
            ),
        ),
        (
            site_l,
            instrument(confluence::cloud_site_router(), "cloud-site"),
        ),
        (
            media_l,
            instrument(confluence::media_router(sim.clone()), "media"),
        ),
        (dc_l, instrument(confluence::dc_router(sim.clone()), "dc")),
        (
            ing_l,
            instrument(unique_routers.ingestion, "unique-ingestion"),
        ),
        (
            scope_l,
            instrument(unique_routers.scope_management, "unique-scope-management"),
        ),
        (blob_l, instrument(unique_routers.blob, "unique-blob")),
        (zitadel_l, instrument(unique_routers.zitadel, "zitadel")),
        (control_l, control),
    ];
    let tasks = servers
        .into_iter()
        .map(|(listener, router)| common::serve(listener, router, shutdown.clone()))
        .collect();
    Ok(SandboxHandle {
        urls,
        confluence: sim,
        unique: unique_sim,
        faults,
        requests,
        cloud_quota,
        shutdown,
        tasks,
    })
}

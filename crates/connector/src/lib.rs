//! The `confluence-connector` daemon around the sync engine: configuration, tenants, scheduler,
//! HTTP endpoints, CLI and logging.
//!
//! Invariant: this is the only crate that reads files, environment variables and the clock of
//! the operator's world; everything below it receives typed, validated values.
//!
//! Layout: `cli` parses the command line and dispatches to one module per verb (`daemon` for
//! `run`, `sync_cmd`, `check`, `status`, `demo`); `tenants` builds each tenant's clients from
//! the config through `wiring`; `scheduler` runs tenants on their cron without overlap and under
//! leases; `engine` adapts the sync engine; `http` serves `/healthz`, `/readyz` and `/metrics`
//! from `health` and `metrics`; `telemetry` sets up logging once.

#![deny(unsafe_code)]

mod check;
pub mod cli;
pub mod config;
mod daemon;
#[cfg(feature = "demo")]
mod demo;
#[cfg(not(feature = "demo"))]
#[path = "no_demo.rs"]
mod demo;
mod engine;
mod health;
mod http;
mod metrics;
mod observer;
mod runner;
mod scheduler;
mod sd_notify;
mod status;
mod sync_cmd;
pub mod telemetry;
mod tenants;
mod wiring;

pub use metrics::Metrics;
pub use telemetry::Diag;

//! The `confluence-connector` daemon around the sync engine: configuration, tenants, scheduler,
//! HTTP endpoints, CLI and logging.
//!
//! Invariant: this is the only crate that reads files, environment variables and the clock of
//! the operator's world; everything below it receives typed, validated values.
//!
//! Layout: `cli` parses the command line, dispatches to the verbs (`daemon` for `run`; `cmd`
//! for `sync`, `check` and `status`, which return a `cmd::Outcome`; `demo`) and maps what they
//! return to exit codes; `tenants` builds each tenant's clients from the config through `wiring`; `scheduler` runs tenants on their cron without overlap and under
//! leases; `engine` adapts the sync engine; `http` serves `/healthz`, `/readyz` and `/metrics`
//! from `health` and `metrics`; `telemetry` sets up logging once.

#![deny(unsafe_code)]

pub mod cli;
mod cmd;
pub mod config;
mod daemon;
#[cfg(feature = "demo")]
mod demo;
#[cfg(not(feature = "demo"))]
#[path = "no_demo.rs"]
mod demo;
mod engine;
mod engine_observer;
mod errors;
mod health;
mod http;
mod metrics;
mod progress;
mod runner;
mod scheduler;
mod sd_notify;
pub mod telemetry;
mod tenants;
mod transport_metrics;
mod wiring;

pub use metrics::Metrics;
pub use telemetry::Diag;

//! The `confluence-connector` daemon around the sync engine: configuration, tenants, scheduler,
//! HTTP endpoints, CLI and logging.
//!
//! Invariant: this is the only crate that reads files, environment variables and the clock of
//! the operator's world; everything below it receives typed, validated values.

#![deny(unsafe_code)]

pub mod config;

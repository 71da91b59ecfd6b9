//! Shared pieces of both halves: fault injection, rate limits, the request log and counters,
//! listeners.
//!
//! Every simulated service is wrapped with [`instrument`], which records each request and applies
//! the faults configured for that service; handlers that multiplex operations over one route
//! (GraphQL) read the [`ServiceContext`] extension to apply faults per operation.

mod control;
mod faults;
mod log;
mod service;

pub use control::router as control_router;
pub use faults::{
    cut_body, json_error, request_content_ids, ActiveRule, FaultDecision, FaultRule, Faults,
    FaultsConfig, OmittedIds, RateLimit,
};
pub use log::{RequestLog, RequestRecord, RouteCount, RouteKey};
pub use service::{bind, instrument, serve, ServiceContext};

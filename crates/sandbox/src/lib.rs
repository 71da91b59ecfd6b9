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
//!   dataset model and generator, the CQL parser.
//! - `unique`: the Unique GraphQL APIs, file diff, blob store and Zitadel token endpoint.

#![deny(unsafe_code)]

pub mod common;
pub mod confluence;
pub mod unique;

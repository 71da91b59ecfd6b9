//! One tenant's sync cycle — discover → diff → ingest → delete — tenant deletion, and the state
//! ledger that remembers every run.
//!
//! Invariant: the engine knows no wire formats; it sees Confluence and Unique only through the
//! client crates' APIs, and its state only through [`Ledger`].

#![deny(unsafe_code)]

mod inline;
mod keys;
mod ledger;

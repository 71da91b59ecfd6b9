//! Client for the Unique platform: scopes, content ingestion (register → upload → finalize),
//! the file diff, deletion, and the health ping.
//!
//! Invariant: Unique receives from this crate exactly the requests the reference TypeScript
//! connector sends — same GraphQL documents (modulo whitespace, all in [`documents`]), same
//! operation names, variables, headers and REST bodies — so an operator can switch connectors
//! without Unique seeing a difference. Rate limiting, retries, proxy and token caching are not
//! done here but by the shared `http-transport`, one transport per tenant.
//!
//! This crate knows nothing about Confluence beyond the `sourceKind` names: keys, titles,
//! metadata and URLs are built by the engine and passed in as [`ContentItem`]s.

#![deny(unsafe_code)]

mod auth;
mod client;
mod config;
pub mod documents;
mod error;
mod requests;
mod types;

pub use client::UniqueClient;
pub use config::{
    ConfigErrors, ConfigProblem, ExternalAuth, UniqueAuth, UniqueConfig,
    DEFAULT_API_RATE_LIMIT_PER_MINUTE, SERVICE_ID,
};
pub use documents::all_documents;
pub use error::{IngestStage, UniqueError};
pub use types::{
    AccessType, BulkMoveResult, ContentItem, ContentNode, ContentSource, DeleteFolderResult,
    DeletedFolder, DeletionReport, FailedFolder, FileDiff, FileDiffItem, FileDiffRequest,
    HealthReport, PingFailure, Scope, SourceKind, UpsertedContent,
};

/// The transport types callers need to hand in bodies and transport settings.
pub use http_transport::{Body, ByteStream, SecretString, TransportConfig, TransportError};

//! Client for the Unique platform: scopes, content ingestion (register → upload → finalize),
//! the file diff, deletion, the health ping, and (for permission sync only) users, groups and
//! scope and file accesses.
//!
//! Invariant: Unique receives from this crate exactly the requests the reference TypeScript
//! connector sends — same GraphQL documents (modulo whitespace, all in [`documents`]), same
//! operation names, variables, headers and REST bodies — so an operator can switch connectors
//! without Unique seeing a difference. Permission sync, which the reference does not have, sends
//! the documents of Unique's own connectors instead ([`documents::permission_sync_documents`]).
//! Rate limiting, retries, proxy and token caching are not done here but by the shared
//! `http-transport`, one transport per tenant.
//!
//! This crate knows nothing about Confluence beyond the `sourceKind` names: keys, titles,
//! metadata and URLs are built by the engine and passed in as [`ContentItem`]s.

#![deny(unsafe_code)]

mod auth;
mod client;
mod config;
pub mod documents;
mod error;
mod permissions;
mod requests;
mod types;

pub use client::UniqueClient;
pub use config::{
    ConfigErrors, ConfigProblem, ExternalAuth, UniqueAuth, UniqueConfig,
    DEFAULT_API_RATE_LIMIT_PER_MINUTE, SERVICE_ID,
};
pub use documents::all_documents;
pub use error::{IngestStage, UniqueError};
pub use permissions::{
    ContentAccess, Entity, FileAccess, UniqueGroup, UniqueUser, FILE_ACCESS_BATCH, GROUP_CREATED_BY,
};
pub use types::{
    AccessType, BulkMoveResult, ContentItem, ContentNode, ContentSource, DeleteFolderResult,
    DeletedFolder, DeletionReport, FailedFolder, FileDiff, FileDiffItem, FileDiffRequest,
    HealthReport, PingFailure, Scope, SourceKind, UpsertedContent,
};

/// The workspace's one URL redactor, re-exported so that the engine (which depends on the
/// clients, not on the transport) shows its database URL the same way.
pub use http_transport::redact_url;
/// The transport types callers need to hand in bodies and transport settings.
pub use http_transport::{
    Body, ByteStream, Disclosure, RemoteText, SecretString, TransportConfig, TransportError,
};

//! Confluence Cloud and Data Center REST clients behind one trait, [`ConfluenceApi`].
//!
//! Invariants:
//! - confluence-client never sends anything but `GET` to Confluence: it holds only a
//!   `Transport<ReadOnly>`; the one `POST`, the OAuth token request, goes through the
//!   transport's `TokenEndpoint`.
//! - Every `_links.next` chain is guarded (repeated link, foreign origin, page cap → error), and
//!   the server's links are the only pagination driver: a server that gives fewer items per page
//!   than asked is followed, never mistaken for a complete listing.
//! - CQL is written in one place (`cql.rs`) with every string value escaped.
//! - Secrets live in `SecretString`s; no `Debug`, `Display` or error of this crate shows one.
//! - The engine sees the same [`Page`], [`Attachment`] and [`PageBody`] whichever flavour and API
//!   version they came from; wire shapes stay private in `wire.rs`.

//!
//! ```no_run
//! use std::sync::Arc;
//! use confluence_client::{
//!     ConfluenceApi, ConfluenceClient, ConfluenceConfig, ContentRef, NoopObserver, SecretString,
//! };
//!
//! # async fn run() -> Result<(), confluence_client::ConfluenceError> {
//! let config = ConfluenceConfig::cloud(
//!     "https://acme.atlassian.net",
//!     "0b1c2d3e-cloud-id",
//!     "client-id",
//!     SecretString::from("client-secret".to_owned()),
//! );
//! let client = ConfluenceClient::new(config, Arc::new(NoopObserver))?;
//! let labelled = client.discover_labelled_pages().await?;
//! let roots: Vec<String> = labelled
//!     .iter()
//!     .filter(|p| p.has_label(&client.config().ingest_all_label))
//!     .map(|p| p.id.clone())
//!     .collect();
//! let descendants = client.descendant_pages(&roots).await?;
//! let wanted: Vec<ContentRef> = labelled.iter().chain(&descendants).map(ContentRef::from).collect();
//! let bodies = client.page_bodies(&wanted).await?;
//! # let _ = bodies;
//! # Ok(())
//! # }
//! ```

#![deny(unsafe_code)]

mod access_wire;
mod api;
mod client;
mod cloud;
mod config;
mod core;
mod cql;
mod data_center;
mod error;
/// For the fuzz targets in `fuzz/` only.
#[doc(hidden)]
pub mod fuzzing;
mod limits;
mod model;
mod permissions;
mod scopes;
mod urls;
mod wire;

pub use api::ConfluenceApi;
pub use client::ConfluenceClient;
pub use cloud::CloudClient;
pub use config::{
    AuthConfig, ConfluenceConfig, CLOUD_DEFAULT_SPACE_TYPES, CLOUD_MAX_BODY_BATCH,
    DATA_CENTER_DEFAULT_SPACE_TYPES, DATA_CENTER_MAX_BODY_BATCH, DATA_CENTER_TOKEN_PATH,
    DEFAULT_API_GATEWAY_URL, DEFAULT_CLOUD_TOKEN_URL,
};
pub use data_center::DataCenterClient;
pub use error::{ConfigProblem, ConfluenceError};
/// Transport pieces that appear in [`ConfluenceConfig`], [`ConfluenceError`] or
/// [`ConfluenceClient::new`].
pub use http_transport::{
    ByteStream, Disclosure, NoopObserver, PlainHttpPolicy, ProxyAuth, ProxyConfig, QuotaWait,
    QuotaWaitCause, RemoteText, RetryPolicy, SecretString, Timeouts, TransportError,
    TransportObserver,
};
pub use model::{
    Account, AccountKind, Attachment, AttachmentStream, ContentAccess, ContentRef, ContentType,
    Group, InlineAttachmentInfo, InstanceId, InstanceType, Page, PageAttachments, PageBody,
    Principal, Space,
};

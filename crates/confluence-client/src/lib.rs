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

#![deny(unsafe_code)]

mod api;
mod cloud;
mod config;
mod core;
mod cql;
mod data_center;
mod error;
mod model;
mod urls;
mod wire;

pub use api::{ConfluenceApi, ConfluenceClient};
pub use cloud::CloudClient;
pub use config::{
    AuthConfig, ConfluenceConfig, CLOUD_MAX_BODY_BATCH, DEFAULT_API_GATEWAY_URL,
    DEFAULT_CLOUD_TOKEN_URL,
};
pub use data_center::DataCenterClient;
pub use error::{ConfigProblem, ConfluenceError};
/// Transport pieces that appear in [`ConfluenceConfig`] or [`ConfluenceClient::new`].
pub use http_transport::{
    ByteStream, NoopObserver, PlainHttpPolicy, ProxyAuth, ProxyConfig, RetryPolicy, SecretString,
    Timeouts, TransportError, TransportObserver,
};
pub use model::{
    Attachment, AttachmentStream, ContentRef, ContentType, InlineAttachmentInfo, InstanceId,
    InstanceType, Page, PageAttachments, PageBody, Space,
};

//! Unique platform simulator: the ingestion GraphQL API (content, files and scopes), the
//! scope-management GraphQL API (`me`), the file-diff REST endpoint, a blob store for the
//! signed write URLs, and a Zitadel-style token endpoint — each as its own [`UniqueRouters`]
//! field so it can run on its own origin, like the real services.
//!
//! What it is faithful to is `shared/reference/unique-api-detail.md`: the GraphQL schemas carry
//! exactly the types, fields, arguments and input types the reference connector's documents use,
//! so those documents validate and execute, and a misspelt field fails here as it would there
//! ([`validate_document`] checks a document without running it). GraphQL errors come back in
//! `errors` with HTTP 200. State lives in memory behind one mutex.
//!
//! Semantics worth knowing (the reference leaves them open; these are the choices):
//! - `contentUpsert` is an upsert by key (stable id); a registration (no `fileUrl`) mints a
//!   signed, expiring write URL `<blob origin>/scoped/upload?key=<grant>` and a read URL
//!   `<blob origin>/scoped/read?key=<grant>`; the finalize call must pass that read URL as
//!   `fileUrl`. A re-registration supersedes earlier URLs. Finalizing without an upload succeeds
//!   with `ingestionState: FAILED_GETTING_FILE`, as the real asynchronous ingestion would.
//! - The blob origin is set by whoever binds the listeners, with
//!   [`UniqueSim::set_blob_base_url`]; until then URLs are minted on the ingestion request's
//!   `Host` origin, which serves the same upload route (the cluster-local gateway path).
//! - Uploads need the headers the reference sends: `x-ms-blob-type: BlockBlob`, a
//!   `Content-Length` (chunked bodies get 411) and a `Content-Type` equal to the registered
//!   MIME type. Bodies are hashed while streaming, never buffered; bytes are kept only up to
//!   [`UniqueConfig::keep_blob_bytes_up_to`].
//! - File diff: only content under `<partialKey>/` is compared, by the last `/` segment of its
//!   key; `updatedAt` compares as instants against the time of the last registration.
//!   `movedFiles` is empty unless [`UniqueConfig::file_diff_reports_moves`] is on.
//! - `deleteFolder` without `recursive` refuses non-empty folders (reported in
//!   `failedFolders`); with it, removes the subtree and its content.
//! - Rate limits count a sliding minute per service (ingestion GraphQL, scope-management
//!   GraphQL, file diff), answering 429 with `Retry-After`.
//! - Faults ([`UniqueFault`]) target a GraphQL operation name (`anonymous` for the health
//!   ping) or `file-diff`, `upload`, `read`, `token`, optionally only requests whose variables,
//!   body or content key contain given texts. When the routers are wrapped by
//!   `common::instrument`, GraphQL operations are also named in the shared request log and the
//!   shared `FaultRule`s whose `route` is the operation name apply.
//! - Scope grants are recorded always and enforced only with
//!   [`UniqueConfig::enforce_scope_access`].
//! - Every authenticated GraphQL and file-diff call is kept with its variables or body
//!   ([`UniqueSim::calls`]), so tests can assert exactly what a client sent.
//! - Users, groups, memberships, scope accesses and file accesses follow the
//!   documents of `Unique-AG/connectors`' `packages/unique-api`; a content's `fileAccess` is
//!   its own list, and [`UniqueSim::readers`] says who can read each file (see `file_access`).

mod access;
mod config;
mod directory;
mod error;
mod file_access;
mod http;
mod identity_schema;
mod schema;
mod service_schemas;
mod shared;
mod signing;
mod sim;
mod state;
mod variables;

pub use access::{AccessType, EntityType, ScopeAccess};
pub use config::{UniqueAuthMode, UniqueConfig};
pub use directory::{GroupSnapshot, SeedUser, UserSnapshot};
pub use file_access::FileReaders;
pub use http::UniqueRouters;
pub use service_schemas::{
    ingestion_schema_sdl, scope_management_schema_sdl, validate_document, UniqueService,
};
pub use shared::{UniqueCall, UniqueFault};
pub use sim::{
    FileSnapshot, ScopeSnapshot, ScopeTreeNode, SeedError, SeedFile, SeedScope, UniqueSim,
};
pub use state::{ContentState, FileDiff, IngestionState, OwnerType};

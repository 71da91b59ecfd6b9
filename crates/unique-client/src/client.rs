//! [`UniqueClient`]: one tenant's view of Unique.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use http::header::{ACCEPT, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_transport::{
    redact_url, Body, Disclosure, NoAuth, NoopObserver, PlainHttpPolicy, ProxyConfig, ReadWrite,
    RemoteText, Request, Transport, TransportConfig, TransportError, TransportObserver,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use url::Url;

use crate::auth::ServiceAuth;
use crate::requests::{self, Endpoint, GraphQlCall, DELETE_BATCH, PAGE_SIZE, PATHS_BATCH};
use crate::types::{
    AccessType, BulkMoveResult, ContentItem, ContentNode, DeleteFolderResult, DeletionReport,
    FileDiff, FileDiffRequest, HealthReport, PingFailure, Scope, UpsertedContent,
};
use crate::{IngestStage, UniqueConfig, UniqueError};

/// A listing that returns full pages this many times is not going to end.
const MAX_PAGES: u64 = 10_000;

/// Unique for one tenant: scopes, content ingestion, file diff, deletion, health.
///
/// Every API request of the tenant (GraphQL, file diff) shares one
/// [`http_transport::Transport`], hence one rate limit (`apiRateLimitPerMinute`) and one retry
/// policy (429 and 5xx, `Retry-After` honoured). Retrying is safe for everything we send:
/// reads, upserts by key, and deletions that report what they actually deleted. Uploads, health
/// pings and token requests go through side transports that do not spend the tenant's budget:
/// Unique's limit counts its API calls, not the blob store's (the reference limits no upload
/// either), and metering uploads made an ingest take three slots per item instead of two. Cheap
/// to clone.
#[derive(Debug, Clone)]
pub struct UniqueClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    transport: Transport<ReadWrite>,
    /// Blob uploads: the tenant's retry policy, but not its rate limit.
    upload_transport: Transport<ReadWrite>,
    /// Health pings: not rate limited and not retried (a probe must answer now).
    ping_transport: Transport<ReadWrite>,
    auth: ServiceAuth,
    ingestion_graphql: Url,
    scope_management_graphql: Url,
    file_diff: Url,
    /// `Some(ingestion base)` in cluster-local mode, where uploads are rewritten to it.
    cluster_local_ingestion_base: Option<String>,
}

/// Requests per minute of the side transports (uploads, token, health): high enough to never
/// matter.
const UNMETERED_PER_MINUTE: NonZeroU32 = match NonZeroU32::new(60_000) {
    Some(n) => n,
    None => unreachable!(),
};

impl UniqueClient {
    /// Validates the config and builds the tenant's transports.
    pub fn new(config: UniqueConfig) -> Result<Self, UniqueError> {
        Self::with_observer(config, Arc::new(NoopObserver))
    }

    /// As [`UniqueClient::new`], reporting every HTTP attempt to `observer` (metrics).
    pub fn with_observer(
        config: UniqueConfig,
        observer: Arc<dyn TransportObserver>,
    ) -> Result<Self, UniqueError> {
        config.validate().map_err(UniqueError::InvalidConfig)?;
        let setup = |source: TransportError| UniqueError::Transport {
            operation: "client setup",
            source,
        };
        let invalid_url = |what: &'static str, e: url::ParseError| {
            setup(TransportError::InvalidUrl {
                url: what.to_owned(),
                reason: e.to_string(),
            })
        };
        let cluster_local = matches!(config.auth, crate::UniqueAuth::ClusterLocal { .. });

        let mut transport_config: TransportConfig = config.transport.clone();
        transport_config.service = "unique";
        transport_config.rate_limit_per_minute = config.api_rate_limit_per_minute;
        if cluster_local {
            transport_config.proxy = ProxyConfig::None;
            transport_config.plain_http = PlainHttpPolicy::Allowed;
        }
        let transport =
            Transport::new(transport_config.clone(), Arc::clone(&observer)).map_err(setup)?;

        let mut unmetered = transport_config.clone();
        unmetered.rate_limit_per_minute = UNMETERED_PER_MINUTE;
        unmetered.burst = NonZeroU32::MIN.saturating_add(99);
        let upload_transport =
            Transport::new(unmetered.clone(), Arc::clone(&observer)).map_err(setup)?;
        let mut ping_config = unmetered.clone();
        // A ping answers "reachable now?": no retries at all.
        ping_config.retry.max_retries = 0;
        ping_config.retry.budget = std::time::Duration::ZERO;
        let ping_transport = Transport::new(ping_config, Arc::clone(&observer)).map_err(setup)?;

        let auth = ServiceAuth::new(&config.auth, || {
            let mut token_config = unmetered.clone();
            token_config.service = "zitadel";
            Transport::new(token_config, Arc::clone(&observer))
        })
        .map_err(setup)?;

        let ingestion = config.ingestion_service_base_url.as_str();
        let scope_management = config.scope_management_service_base_url.as_str();
        Ok(Self {
            inner: Arc::new(Inner {
                transport,
                upload_transport,
                ping_transport,
                auth,
                ingestion_graphql: requests::graphql_url(ingestion)
                    .map_err(|e| invalid_url("unique.ingestionServiceBaseUrl", e))?,
                scope_management_graphql: requests::graphql_url(scope_management)
                    .map_err(|e| invalid_url("unique.scopeManagementServiceBaseUrl", e))?,
                file_diff: requests::file_diff_url(ingestion)
                    .map_err(|e| invalid_url("unique.ingestionServiceBaseUrl", e))?,
                cluster_local_ingestion_base: cluster_local.then(|| ingestion.to_owned()),
            }),
        })
    }

    // ---------------------------------------------------------------- users and scopes

    /// The id of the user we act as (the Zitadel service user, or `x-user-id`); scopes are
    /// granted to it.
    pub async fn current_user_id(&self) -> Result<String, UniqueError> {
        #[derive(Deserialize)]
        struct Data {
            me: Me,
        }
        #[derive(Deserialize)]
        struct Me {
            user: User,
        }
        #[derive(Deserialize)]
        struct User {
            id: String,
        }
        let call = requests::current_user();
        let data: Data = self.graphql(&call).await?;
        if data.me.user.id.is_empty() {
            return Err(self.unexpected(&call, "empty user id"));
        }
        Ok(data.me.user.id)
    }

    /// Grants `user_id` the given accesses on one scope (not its sub-scopes). Idempotent; the
    /// engine calls it every cycle with MANAGE+READ+WRITE on the root and READ on each ancestor.
    pub async fn grant_scope_access(
        &self,
        scope_id: &str,
        user_id: &str,
        accesses: &[AccessType],
    ) -> Result<(), UniqueError> {
        let call = requests::create_scope_accesses(scope_id, user_id, accesses);
        let _: serde_json::Value = self.graphql(&call).await?;
        Ok(())
    }

    /// The scope with this id, or `None`.
    pub async fn scope_by_id(&self, scope_id: &str) -> Result<Option<Scope>, UniqueError> {
        let mut page = self.scope_page(&requests::scope_by_id(scope_id)).await?;
        Ok(page.pop())
    }

    /// The scope carrying this external id (the ownership mark), or `None`.
    pub async fn scope_by_external_id(
        &self,
        external_id: &str,
    ) -> Result<Option<Scope>, UniqueError> {
        let mut page = self
            .scope_page(&requests::scope_by_external_id(external_id))
            .await?;
        Ok(page.pop())
    }

    /// Every direct child of a scope, following pages of 100 until a short one.
    pub async fn child_scopes(&self, parent_id: &str) -> Result<Vec<Scope>, UniqueError> {
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let nodes = self
                .scope_page(&requests::child_scopes_page(parent_id, page))
                .await?;
            let full = nodes.len() as u64 >= PAGE_SIZE;
            all.extend(nodes);
            if !full {
                return Ok(all);
            }
        }
        Err(UniqueError::PaginationRunaway {
            operation: "PaginatedScope",
            pages: MAX_PAGES as usize,
        })
    }

    async fn scope_page(&self, call: &GraphQlCall) -> Result<Vec<Scope>, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            paginated_scope: Page<Scope>,
        }
        let data: Data = self.graphql(call).await?;
        Ok(data.paginated_scope.nodes)
    }

    /// Sets (`Some`) or clears (`None`) a scope's external id and returns the scope as stored.
    /// The ownership mark of a root scope is its external id: `confc:cloud:<cloudId>`.
    pub async fn set_scope_external_id(
        &self,
        scope_id: &str,
        external_id: Option<&str>,
    ) -> Result<Scope, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            update_scope: Scope,
        }
        let call = requests::update_scope_external_id(scope_id, external_id);
        let data: Data = self.graphql(&call).await?;
        Ok(data.update_scope)
    }

    /// Ensures a scope exists for every absolute path (`/<root path>/<SPACEKEY>`), creating
    /// missing ones with access inherited from their parent; returns the leaf scope of each path,
    /// in order. Sent in batches of 100 paths.
    pub async fn create_scopes_for_paths(
        &self,
        paths: &[String],
    ) -> Result<Vec<Scope>, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            generate_scopes_based_on_paths: Vec<Scope>,
        }
        let mut scopes = Vec::with_capacity(paths.len());
        for batch in paths.chunks(PATHS_BATCH) {
            let call = requests::generate_scopes_based_on_paths(batch);
            let data: Data = self.graphql(&call).await?;
            if data.generate_scopes_based_on_paths.len() != batch.len() {
                return Err(self.unexpected(
                    &call,
                    format!(
                        "asked for {} paths, got {} scopes",
                        batch.len(),
                        data.generate_scopes_based_on_paths.len()
                    ),
                ));
            }
            scopes.extend(data.generate_scopes_based_on_paths);
        }
        Ok(scopes)
    }

    /// Re-parents scopes under `target_scope_id` (root-scope migration). All ids in one call.
    pub async fn move_scopes(
        &self,
        scope_ids: &[String],
        target_scope_id: &str,
    ) -> Result<BulkMoveResult, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            bulk_move: BulkMoveResult,
        }
        let data: Data = self
            .graphql(&requests::bulk_move(scope_ids, target_scope_id))
            .await?;
        Ok(data.bulk_move)
    }

    /// Deletes a scope (`recursive`: with its sub-scopes). Per-folder failures are reported in
    /// the result, not as an error.
    pub async fn delete_scope(
        &self,
        scope_id: &str,
        recursive: bool,
    ) -> Result<DeleteFolderResult, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            delete_folder: DeleteFolderResult,
        }
        let data: Data = self
            .graphql(&requests::delete_folder(scope_id, recursive))
            .await?;
        Ok(data.delete_folder)
    }

    // ---------------------------------------------------------------- content ingestion

    /// Registers, uploads and finalizes one item; on a failed upload or finalize the
    /// half-registered content is deleted again (a failure of that cleanup is reported inside
    /// the error). `body` is sent as is: pass `Body::Stream` to stream an attachment straight
    /// from Confluence; its length is taken from `item.byte_size`.
    ///
    /// Empty items (zero bytes) should not be ingested at all; the engine skips them.
    #[tracing::instrument(level = "debug", skip_all, fields(key = %item.key))]
    pub async fn ingest(
        &self,
        item: &ContentItem,
        body: Body,
    ) -> Result<UpsertedContent, UniqueError> {
        let registered = self.register_content(item).await?;
        let outcome = async {
            let write_url = registered.write_url.as_deref().ok_or_else(|| {
                (
                    IngestStage::Upload,
                    UniqueError::InvalidUploadTarget {
                        key: item.key.clone(),
                        what: "writeUrl",
                        reason: "missing".to_owned(),
                    },
                )
            })?;
            self.upload_content(item, write_url, body)
                .await
                .map_err(|e| (IngestStage::Upload, e))?;
            let read_url = registered.read_url.as_deref().ok_or_else(|| {
                (
                    IngestStage::Finalize,
                    UniqueError::InvalidUploadTarget {
                        key: item.key.clone(),
                        what: "readUrl",
                        reason: "missing".to_owned(),
                    },
                )
            })?;
            self.finalize_content(item, read_url)
                .await
                .map_err(|e| (IngestStage::Finalize, e))
        }
        .await;
        match outcome {
            Ok(finalized) => Ok(finalized),
            Err((stage, source)) => {
                let cleanup = self
                    .delete_content_by_ids(std::slice::from_ref(&registered.id))
                    .await;
                let cleanup_error = match cleanup {
                    Ok(_) => None,
                    Err(e) => {
                        tracing::warn!(key = %item.key, content_id = %registered.id, error = %e,
                            "removing half-registered content failed");
                        Some(Box::new(e))
                    }
                };
                Err(UniqueError::Ingest {
                    key: item.key.clone(),
                    content_id: registered.id,
                    stage,
                    source: Box::new(source),
                    cleanup_error,
                })
            }
        }
    }

    /// Step 1: `contentUpsert` without `fileUrl`. Creates or updates the record for `item.key`
    /// (same id on re-ingestion) and returns where to upload.
    pub async fn register_content(
        &self,
        item: &ContentItem,
    ) -> Result<UpsertedContent, UniqueError> {
        self.content_upsert(&requests::content_upsert(item, None))
            .await
    }

    /// Step 2: `PUT` the bytes to the write URL (rewritten to the ingestion service in
    /// cluster-local mode) with `Content-Type`, `Content-Length` and `x-ms-blob-type: BlockBlob`,
    /// and no credentials. A stream body is sent once and never buffered.
    pub async fn upload_content(
        &self,
        item: &ContentItem,
        write_url: &str,
        body: Body,
    ) -> Result<(), UniqueError> {
        let url = requests::upload_url(
            write_url,
            self.inner.cluster_local_ingestion_base.as_deref(),
        )
        .map_err(|reason| UniqueError::InvalidUploadTarget {
            key: item.key.clone(),
            what: "writeUrl",
            reason,
        })?;
        let mut headers = HeaderMap::new();
        let content_type =
            HeaderValue::from_str(&item.mime_type).map_err(|e| UniqueError::Upload {
                key: item.key.clone(),
                url: redact_url(&url),
                status: None,
                message: format!("MIME type is not a valid header value: {e}"),
            })?;
        headers.insert(CONTENT_TYPE, content_type);
        headers.insert(
            HeaderName::from_static("x-ms-blob-type"),
            HeaderValue::from_static("BlockBlob"),
        );
        let body = match body {
            Body::Stream { stream, .. } => Body::Stream {
                stream,
                length: Some(item.byte_size),
            },
            other => other,
        };
        // A PUT of the whole object to a signed URL: repeating it stores the same bytes.
        let request = Request {
            method: Method::PUT,
            url: url.clone(),
            headers,
            body,
            idempotent: true,
        };
        self.inner
            .upload_transport
            .send(request, &NoAuth)
            .await
            .map(drop)
            .map_err(|e| UniqueError::Upload {
                key: item.key.clone(),
                url: redact_url(&url),
                status: e.status().map(|s| s.as_u16()),
                // The transport already shows `url` through the same redactor.
                message: e.to_string(),
            })
    }

    /// Step 3: `contentUpsert` again, with the same variables plus `fileUrl: <readUrl>`, which
    /// tells Unique the bytes are there and ingestion can start.
    pub async fn finalize_content(
        &self,
        item: &ContentItem,
        read_url: &str,
    ) -> Result<UpsertedContent, UniqueError> {
        self.content_upsert(&requests::content_upsert(item, Some(read_url)))
            .await
    }

    async fn content_upsert(&self, call: &GraphQlCall) -> Result<UpsertedContent, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            content_upsert: Option<UpsertedContent>,
        }
        let data: Data = self.graphql(call).await?;
        match data.content_upsert {
            Some(content) if !content.id.is_empty() => Ok(content),
            _ => Err(self.unexpected(call, "no content id")),
        }
    }

    // ---------------------------------------------------------------- file diff

    /// Asks Unique which items of one space are new, updated, moved or deleted compared with
    /// what is stored under `partial_key/`.
    pub async fn file_diff(&self, request: &FileDiffRequest) -> Result<FileDiff, UniqueError> {
        const OPERATION: &str = "file diff";
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        // Credentials win over our own headers on a name collision, as in the reference.
        for (name, value) in self.inner.auth.headers() {
            headers.insert(name.clone(), value.clone());
        }
        let body = serde_json::to_vec(&requests::file_diff_body(request))
            .map_err(|e| self.answered_unexpectedly(OPERATION, e.to_string()))?;
        let response = self
            .inner
            .transport
            .send(
                Request {
                    method: Method::POST,
                    url: self.inner.file_diff.clone(),
                    headers,
                    body: Body::Bytes(body.into()),
                    // The diff only compares; it stores nothing.
                    idempotent: true,
                },
                self.inner.auth.authorizer(),
            )
            .await
            .map_err(|source| UniqueError::Transport {
                operation: OPERATION,
                source,
            })?;
        let bytes = response
            .bytes()
            .await
            .map_err(|source| UniqueError::Transport {
                operation: OPERATION,
                source,
            })?;
        serde_json::from_slice(&bytes).map_err(|e| {
            self.answered_unexpectedly(OPERATION, format!("not a file-diff result: {e}"))
        })
    }

    // ---------------------------------------------------------------- content queries, deletion

    /// The stored contents whose key is one of `keys` (full keys), following every page.
    pub async fn content_by_keys(&self, keys: &[String]) -> Result<Vec<ContentNode>, UniqueError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let nodes = self
                .content_page::<ContentNode>(&requests::content_by_keys_page(keys, page))
                .await?;
            let full = nodes.len() as u64 >= PAGE_SIZE;
            all.extend(nodes);
            if !full {
                return Ok(all);
            }
        }
        Err(UniqueError::PaginationRunaway {
            operation: "PaginatedContent",
            pages: MAX_PAGES as usize,
        })
    }

    /// How many contents are stored under `<partial_key>/` (the full-deletion guard).
    pub async fn count_content_with_key_prefix(
        &self,
        partial_key: &str,
    ) -> Result<u64, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            paginated_content: Count,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Count {
            total_count: u64,
        }
        let data: Data = self
            .graphql(&requests::content_count_with_key_prefix(partial_key))
            .await?;
        Ok(data.paginated_content.total_count)
    }

    /// The ids of the contents a scope owns directly (not those of its sub-scopes).
    pub async fn content_ids_in_scope(&self, scope_id: &str) -> Result<Vec<String>, UniqueError> {
        #[derive(Deserialize)]
        struct IdOnly {
            id: String,
        }
        let mut all = Vec::new();
        for page in 0..MAX_PAGES {
            let nodes = self
                .content_page::<IdOnly>(&requests::content_ids_in_scope_page(scope_id, page))
                .await?;
            let full = nodes.len() as u64 >= PAGE_SIZE;
            all.extend(nodes.into_iter().map(|n| n.id));
            if !full {
                return Ok(all);
            }
        }
        Err(UniqueError::PaginationRunaway {
            operation: "PaginatedContent",
            pages: MAX_PAGES as usize,
        })
    }

    async fn content_page<T: DeserializeOwned>(
        &self,
        call: &GraphQlCall,
    ) -> Result<Vec<T>, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", bound = "T: DeserializeOwned")]
        struct Data<T> {
            paginated_content: Page<T>,
        }
        let data: Data<T> = self.graphql(call).await?;
        Ok(data.paginated_content.nodes)
    }

    /// Deletes contents by id, 20 per request. Unknown ids are not an error: they count as
    /// requested but not deleted.
    pub async fn delete_content_by_ids(
        &self,
        ids: &[String],
    ) -> Result<DeletionReport, UniqueError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Data {
            content_delete_by_content_ids: Vec<serde_json::Value>,
        }
        let mut report = DeletionReport::default();
        for batch in ids.chunks(DELETE_BATCH) {
            let data: Data = self
                .graphql(&requests::content_delete_by_content_ids(batch))
                .await?;
            report.add(DeletionReport {
                requested: batch.len(),
                deleted: data.content_delete_by_content_ids.len(),
                not_found: 0,
            });
        }
        Ok(report)
    }

    /// Resolves full keys to content ids and deletes them. Keys Unique does not know are
    /// counted in `not_found`.
    pub async fn delete_content_by_keys(
        &self,
        keys: &[String],
    ) -> Result<DeletionReport, UniqueError> {
        let nodes = self.content_by_keys(keys).await?;
        let ids: Vec<String> = nodes.into_iter().map(|n| n.id).collect();
        let mut report = self.delete_content_by_ids(&ids).await?;
        report.not_found = keys.len().saturating_sub(ids.len());
        Ok(report)
    }

    /// Deletes every content stored under `<partial_key>/` (a removed space): query the first
    /// page, delete it, repeat until nothing is left.
    pub async fn delete_content_with_key_prefix(
        &self,
        partial_key: &str,
    ) -> Result<DeletionReport, UniqueError> {
        let mut report = DeletionReport::default();
        for _ in 0..MAX_PAGES {
            let call = requests::content_with_key_prefix_first_page(partial_key);
            let nodes = self.content_page::<ContentNode>(&call).await?;
            if nodes.is_empty() {
                return Ok(report);
            }
            let ids: Vec<String> = nodes.into_iter().map(|n| n.id).collect();
            let round = self.delete_content_by_ids(&ids).await?;
            report.add(round);
            if round.deleted == 0 {
                // The same page would come back forever.
                return Err(self.unexpected(
                    &call,
                    format!(
                        "{} contents under {partial_key}/ could not be deleted",
                        ids.len()
                    ),
                ));
            }
        }
        Err(UniqueError::PaginationRunaway {
            operation: "PaginatedContent",
            pages: MAX_PAGES as usize,
        })
    }

    /// Deletes every content a scope owns directly (tenant deletion, before the scope itself).
    pub async fn delete_content_in_scope(
        &self,
        scope_id: &str,
    ) -> Result<DeletionReport, UniqueError> {
        let ids = self.content_ids_in_scope(scope_id).await?;
        self.delete_content_by_ids(&ids).await
    }

    // ---------------------------------------------------------------- health

    /// `{ __typename }` to both GraphQL endpoints in parallel, each bounded by `timeout`. Not
    /// rate limited and not retried: a readiness probe needs a prompt, honest answer.
    pub async fn ping(&self, timeout: Duration) -> HealthReport {
        let (ingestion, scope_management) = futures::join!(
            self.ping_one(&self.inner.ingestion_graphql, timeout),
            self.ping_one(&self.inner.scope_management_graphql, timeout),
        );
        HealthReport {
            ingestion,
            scope_management,
        }
    }

    async fn ping_one(&self, url: &Url, timeout: Duration) -> Result<(), PingFailure> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in self.inner.auth.headers() {
            headers.insert(name.clone(), value.clone());
        }
        let body = requests::health_ping_body().to_string();
        let request = Request {
            method: Method::POST,
            url: url.clone(),
            headers,
            body: Body::Bytes(body.into()),
            // `{ __typename }` reads nothing (and the ping transport does not retry anyway).
            idempotent: true,
        };
        let send = self
            .inner
            .ping_transport
            .send(request, self.inner.auth.authorizer());
        match tokio::time::timeout(timeout, send).await {
            Err(_) | Ok(Err(TransportError::Timeout { .. })) => Err(PingFailure::Timeout),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(TransportError::Auth(e))) => Err(PingFailure::AuthFailure(e.to_string())),
            Ok(Err(e)) => match e.status() {
                Some(status) => Err(PingFailure::Http(status.as_u16())),
                None => Err(PingFailure::Network(e.to_string())),
            },
        }
    }

    // ---------------------------------------------------------------- GraphQL envelope

    pub(crate) async fn graphql<T: DeserializeOwned>(
        &self,
        call: &GraphQlCall,
    ) -> Result<T, UniqueError> {
        let operation = call.operation.name;
        let url = match call.endpoint {
            Endpoint::Ingestion => &self.inner.ingestion_graphql,
            Endpoint::ScopeManagement => &self.inner.scope_management_graphql,
        };
        let body = serde_json::to_vec(&call.body())
            .map_err(|e| self.answered_unexpectedly(operation, e.to_string()))?;
        let request = Request {
            method: Method::POST,
            url: url.clone(),
            headers: graphql_headers(self.inner.auth.headers()),
            body: Body::Bytes(body.into()),
            idempotent: call.operation.safe_to_repeat,
        };
        tracing::debug!(operation, "Unique GraphQL request");
        let transport_error = |source| UniqueError::Transport { operation, source };
        let response = self
            .inner
            .transport
            .send(request, self.inner.auth.authorizer())
            .await
            .map_err(transport_error)?;
        let bytes = response.bytes().await.map_err(transport_error)?;
        requests::parse_graphql_response(operation, &bytes, self.disclosure())
    }

    /// How errors show what Unique wrote back: the `conceal`/`disclose` choice handed down in
    /// the transport config.
    pub(crate) fn disclosure(&self) -> Disclosure {
        self.inner.transport.config().remote_text
    }

    /// `call`'s answer did not have the promised shape.
    pub(crate) fn unexpected(&self, call: &GraphQlCall, reason: impl Into<String>) -> UniqueError {
        self.answered_unexpectedly(call.operation.name, reason)
    }

    pub(crate) fn answered_unexpectedly(
        &self,
        operation: &'static str,
        reason: impl Into<String>,
    ) -> UniqueError {
        UniqueError::UnexpectedResponse {
            operation,
            reason: RemoteText::new(reason, self.disclosure()),
        }
    }
}

/// The GraphQL envelope's headers as graphql-request builds them: its `Accept`, then the
/// credentials, then `Content-Type: application/json`, which wins over any configured header.
pub(crate) fn graphql_headers(auth_headers: &HeaderMap) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        ACCEPT,
        HeaderValue::from_static("application/graphql-response+json, application/json"),
    );
    for (name, value) in auth_headers {
        headers.insert(name.clone(), value.clone());
    }
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

#[derive(Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
struct Page<T> {
    #[serde(default = "Vec::new")]
    nodes: Vec<T>,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use http_transport::SecretString;

    use super::*;
    use crate::{ExternalAuth, UniqueAuth};

    fn header_lines(headers: &HeaderMap) -> Vec<String> {
        let mut lines: Vec<_> = headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", value.to_str().unwrap()))
            .collect();
        lines.sort();
        lines
    }

    fn token_transport() -> Result<Transport<ReadWrite>, TransportError> {
        Transport::new(
            TransportConfig::new("zitadel", UNMETERED_PER_MINUTE),
            Arc::new(NoopObserver),
        )
    }

    #[test]
    fn graphql_headers_in_cluster_local_mode() {
        let auth = ServiceAuth::new(
            &UniqueAuth::ClusterLocal {
                extra_headers: BTreeMap::from([
                    ("x-company-id".to_owned(), "company-1".to_owned()),
                    ("x-user-id".to_owned(), "user-1".to_owned()),
                    ("content-type".to_owned(), "text/plain".to_owned()),
                ]),
            },
            token_transport,
        )
        .unwrap();
        insta::assert_yaml_snapshot!(header_lines(&graphql_headers(auth.headers())));
    }

    #[test]
    fn graphql_headers_in_external_mode_carry_no_identity_headers() {
        // The bearer token is added per attempt by the token cache, not here.
        let auth = ServiceAuth::new(
            &UniqueAuth::External(ExternalAuth::new(
                "https://auth.example/oauth/v2/token",
                "client",
                SecretString::from("secret"),
                SecretString::from("project"),
            )),
            token_transport,
        )
        .unwrap();
        insta::assert_yaml_snapshot!(header_lines(&graphql_headers(auth.headers())));
        let debug = format!("{auth:?}");
        assert!(!debug.contains("secret"), "{debug}");
        assert!(!debug.contains("project"), "{debug}");
    }
}

//! The HTTP surfaces: GraphQL on both services, the file diff, the blob store, the Zitadel-style
//! token endpoint and the control API. Each handler does auth → rate limit → faults → work, in
//! that order, so a test can reason about which check answers first.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};
use base64::Engine;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::Digest;

use super::config::UniqueAuthMode;
use super::directory::SeedUser;
use super::error::StoreError;
use super::file_access::FileReaders;
use super::schema::Caller;
use super::service_schemas::{type_map, UniqueService};
use super::shared::{Limited, UniqueFault};
use super::signing::GrantKind;
use super::sim::{SeedFile, SeedScope, UniqueSim};
use super::state::{hex, DiffItem};
use crate::common::ServiceContext;

/// The routers of the Unique simulator, one per origin. Each is self-contained (state applied).
#[derive(Debug)]
pub struct UniqueRouters {
    /// `POST /graphql`, `POST /v2/content/file-diff`, `PUT /scoped/upload?key=` (the
    /// cluster-local upload path) and `GET /scoped/read?key=`.
    pub ingestion: Router,
    /// `POST /graphql` (only `me` and `__typename`).
    pub scope_management: Router,
    /// `PUT /scoped/upload?key=` and `GET /scoped/read?key=`: where write/read URLs point.
    pub blob: Router,
    /// `POST /oauth/v2/token`.
    pub zitadel: Router,
    /// The control API, meant to be nested under `/_sandbox/unique`.
    pub control: Router,
}

const GRAPHQL_BODY_LIMIT: usize = 16 * 1024 * 1024;

impl UniqueSim {
    /// Builds the routers; call once per listener set (they share this simulator's state).
    pub fn routers(&self) -> UniqueRouters {
        let ingestion = Router::new()
            .route("/graphql", post(ingestion_graphql))
            .route("/v2/content/file-diff", post(file_diff))
            .route("/scoped/upload", put(upload))
            .route("/scoped/read", get(read))
            .layer(DefaultBodyLimit::max(GRAPHQL_BODY_LIMIT))
            .with_state(self.clone());
        let scope_management = Router::new()
            .route("/graphql", post(scope_management_graphql))
            .with_state(self.clone());
        let blob = Router::new()
            .route("/scoped/upload", put(upload))
            .route("/scoped/read", get(read))
            .with_state(self.clone());
        let zitadel = Router::new()
            .route("/oauth/v2/token", post(token))
            .with_state(self.clone());
        let control = Router::new()
            .route("/scopes", get(control_scopes).post(control_seed_scope))
            .route("/files", get(control_files).post(control_seed_file))
            .route("/files/content", get(control_file_content))
            .route("/reset", post(control_reset))
            .route(
                "/faults",
                get(control_faults)
                    .post(control_add_fault)
                    .delete(control_clear_faults),
            )
            .route("/rate-limit", put(control_rate_limit))
            .route("/tokens/expire", post(control_expire_tokens))
            .route(
                "/auth-mode",
                get(control_auth_mode).put(control_set_auth_mode),
            )
            .route("/calls", get(control_calls).delete(control_clear_calls))
            .merge(directory_control_routes())
            .with_state(self.clone());
        UniqueRouters {
            ingestion,
            scope_management,
            blob,
            zitadel,
            control,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared answers

/// The NestJS error body the Unique services send for HTTP-level failures.
fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({
            "statusCode": status.as_u16(),
            "message": message,
            "error": status.canonical_reason().unwrap_or(""),
        })),
    )
        .into_response()
}

fn with_retry_after(mut response: Response, secs: u64) -> Response {
    response
        .headers_mut()
        .insert(http::header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
    response
}

fn rate_limited(wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    with_retry_after(
        error(
            StatusCode::TOO_MANY_REQUESTS,
            "ThrottlerException: Too Many Requests",
        ),
        secs,
    )
}

/// Applies latency and returns an injected HTTP error, if a fault fires. A GraphQL-style
/// fault on a REST target is answered as 500.
async fn rest_fault(sim: &UniqueSim, target: &str, subject: &str) -> Option<Response> {
    let outcome = sim.shared.fault_for(target, subject);
    if !outcome.latency.is_zero() {
        tokio::time::sleep(outcome.latency).await;
    }
    if let Some((status, retry_after)) = outcome.status {
        return Some(injected(status, retry_after));
    }
    outcome
        .graphql_error
        .map(|m| error(StatusCode::INTERNAL_SERVER_ERROR, &m))
}

fn injected(status: u16, retry_after: Option<u64>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let response = error(status, "sandbox: injected fault");
    let retry_after = retry_after.or(matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    )
    .then_some(1));
    match retry_after {
        Some(secs) => with_retry_after(response, secs),
        None => response,
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Who is calling, per the configured auth mode; otherwise why not (answered as 401). Reasons
/// name the missing or wrong header, never a value.
fn authenticate(sim: &UniqueSim, headers: &HeaderMap) -> Result<String, &'static str> {
    let config = &sim.shared.config;
    match sim.auth_mode() {
        UniqueAuthMode::ClusterLocal => {
            if header(headers, "x-service-id").is_none() {
                return Err("missing x-service-id header");
            }
            match header(headers, "x-company-id") {
                None => return Err("missing x-company-id header"),
                Some(c) if c != config.company_id => {
                    return Err("x-company-id does not name a known company")
                }
                Some(_) => {}
            }
            match header(headers, "x-user-id") {
                None => Err("missing x-user-id header"),
                Some(u) if u != config.user_id => {
                    Err("x-user-id does not name a service user of the company")
                }
                Some(u) => Ok(u.to_owned()),
            }
        }
        UniqueAuthMode::External => {
            let value = header(headers, "authorization").ok_or("missing Authorization header")?;
            let token = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
                .ok_or("Authorization is not a Bearer token")?;
            sim.shared
                .token_user(token.trim())
                .ok_or("invalid or expired token")
        }
    }
}

fn unauthorized(reason: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, reason)
}

/// Origin for write/read URLs: the configured blob origin, else this request's `Host`.
fn blob_base(sim: &UniqueSim, headers: &HeaderMap) -> String {
    sim.shared
        .blob_base_url()
        .unwrap_or_else(|| format!("http://{}", header(headers, "host").unwrap_or("127.0.0.1")))
}

// ---------------------------------------------------------------------------------------------
// GraphQL

async fn ingestion_graphql(
    State(sim): State<UniqueSim>,
    service: Option<Extension<ServiceContext>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    graphql(sim, service, headers, body, Limited::IngestionGraphql).await
}

async fn scope_management_graphql(
    State(sim): State<UniqueSim>,
    service: Option<Extension<ServiceContext>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    graphql(sim, service, headers, body, Limited::ScopeManagementGraphql).await
}

/// The operation a request runs: `operationName`, else the document's single named operation,
/// else `anonymous` (the health ping `{ __typename }`).
fn operation_name(request: &async_graphql::Request) -> String {
    if let Some(name) = &request.operation_name {
        return name.clone();
    }
    match async_graphql::parser::parse_query(&request.query) {
        Ok(doc) => doc
            .operations
            .iter()
            .next()
            .and_then(|(name, _)| name.map(|n| n.to_string()))
            .unwrap_or_else(|| "anonymous".into()),
        Err(_) => "anonymous".into(),
    }
}

/// `service` is present when the sandbox's shared middleware (`common::instrument`) wraps the
/// router: the operation name then reaches the request log, and the shared fault rules whose
/// route names the operation apply, besides the simulator's own [`UniqueFault`]s.
async fn graphql(
    sim: UniqueSim,
    service: Option<Extension<ServiceContext>>,
    headers: HeaderMap,
    body: Bytes,
    class: Limited,
) -> Response {
    let user_id = match authenticate(&sim, &headers) {
        Ok(user) => user,
        Err(reason) => return unauthorized(reason),
    };
    if let Err(wait) = sim.shared.take_rate(class) {
        return rate_limited(wait);
    }
    let is_json = header(&headers, "content-type").is_some_and(|c| c.contains("json"));
    if !is_json {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "GraphQL requests must be POSTed as application/json",
        );
    }
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid GraphQL body: {e}"),
            )
        }
    };
    let operation = operation_name(&request);
    let surface = match class {
        Limited::ScopeManagementGraphql => "scope-management-graphql",
        Limited::IngestionGraphql | Limited::FileDiff => "ingestion-graphql",
    };
    sim.shared.record_call(
        surface,
        &operation,
        &request.query,
        serde_json::to_value(&request.variables).unwrap_or_default(),
        &headers,
    );
    if let Some(Extension(service)) = &service {
        if let Some(response) = service.apply_faults(&operation).await {
            return response;
        }
    }
    let variables_json = serde_json::to_value(&request.variables).unwrap_or_default();
    let outcome = sim
        .shared
        .fault_for(&operation, &variables_json.to_string());
    if !outcome.latency.is_zero() {
        tokio::time::sleep(outcome.latency).await;
    }
    if let Some((status, retry_after)) = outcome.status {
        return injected(status, retry_after);
    }
    if let Some(message) = outcome.graphql_error {
        return Json(json!({
            "data": null,
            "errors": [{
                "message": message,
                "path": [],
                "extensions": {
                    "code": "INTERNAL_SERVER_ERROR",
                    "response": {"statusCode": 500, "message": message},
                },
            }],
        }))
        .into_response();
    }
    // async-graphql does not check variable types against their positions; the real service
    // does, so the sandbox checks them before executing.
    let schema_of = match class {
        Limited::ScopeManagementGraphql => UniqueService::ScopeManagement,
        Limited::IngestionGraphql | Limited::FileDiff => UniqueService::Ingestion,
    };
    if let Ok(doc) = async_graphql::parser::parse_query(&request.query) {
        let misplaced = type_map(schema_of).misplaced_variables(&doc);
        if !misplaced.is_empty() {
            let errors: Vec<_> = misplaced
                .iter()
                .map(|m| json!({"message": m, "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}}))
                .collect();
            return Json(json!({"errors": errors})).into_response();
        }
    }
    let caller = Caller {
        user_id,
        blob_base_url: blob_base(&sim, &headers),
    };
    let request = request.data(caller);
    let response = match class {
        Limited::ScopeManagementGraphql => sim.scope_management_schema.execute(request).await,
        Limited::IngestionGraphql | Limited::FileDiff => {
            sim.ingestion_schema.execute(request).await
        }
    };
    // Errors travel in the body with HTTP 200, as the real (Apollo) services answer.
    Json(response).into_response()
}

// ---------------------------------------------------------------------------------------------
// File diff

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileDiffRequest {
    partial_key: String,
    source_kind: Option<String>,
    source_name: Option<String>,
    file_list: Vec<FileDiffItem>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileDiffItem {
    key: String,
    #[allow(dead_code)]
    url: Option<String>,
    updated_at: String,
}

async fn file_diff(State(sim): State<UniqueSim>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(reason) = authenticate(&sim, &headers) {
        return unauthorized(reason);
    }
    if let Err(wait) = sim.shared.take_rate(Limited::FileDiff) {
        return rate_limited(wait);
    }
    sim.shared.record_call(
        "file-diff",
        "file-diff",
        "",
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        &headers,
    );
    let subject = String::from_utf8_lossy(&body);
    if let Some(response) = rest_fault(&sim, "file-diff", &subject).await {
        return response;
    }
    let request: FileDiffRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("invalid file-diff body: {e}"),
            )
        }
    };
    if request.partial_key.is_empty() {
        return error(StatusCode::BAD_REQUEST, "partialKey must not be empty");
    }
    if request.file_list.iter().any(|i| i.key.is_empty()) {
        return error(StatusCode::BAD_REQUEST, "fileList keys must not be empty");
    }
    let items: Vec<DiffItem> = request
        .file_list
        .into_iter()
        .map(|i| DiffItem {
            key: i.key,
            updated_at: i.updated_at,
        })
        .collect();
    let diff = sim.shared.store().file_diff(
        &request.partial_key,
        request.source_kind.as_deref(),
        request.source_name.as_deref(),
        &items,
        sim.shared.config.file_diff_reports_moves,
    );
    Json(diff).into_response()
}

// ---------------------------------------------------------------------------------------------
// Blob store

#[derive(Debug, Deserialize)]
struct KeyParam {
    key: Option<String>,
}

/// `PUT <writeUrl>`: checks the grant and the headers the reference sends, then streams the body
/// through SHA-256 without buffering it (only bodies up to `keep_blob_bytes_up_to` are kept).
async fn upload(
    State(sim): State<UniqueSim>,
    Query(params): Query<KeyParam>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(token) = params.key else {
        return error(StatusCode::BAD_REQUEST, "missing key query parameter");
    };
    let target = match sim.shared.verify(GrantKind::Write, &token) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::FORBIDDEN, &format!("AuthenticationFailed: {e}")),
    };
    let (registered_mime, key) = {
        let store = sim.shared.store();
        match store.contents.get(&target.content_id) {
            None => return error(StatusCode::NOT_FOUND, "BlobNotFound: content was deleted"),
            Some(c) if c.generation != target.generation => {
                return error(
                    StatusCode::FORBIDDEN,
                    "AuthenticationFailed: write URL of a superseded registration",
                )
            }
            Some(c) => (c.mime_type.clone(), c.key.clone()),
        }
    };
    if let Some(response) = rest_fault(&sim, "upload", &key).await {
        return response;
    }
    if header(&headers, "x-ms-blob-type") != Some("BlockBlob") {
        return error(
            StatusCode::BAD_REQUEST,
            "MissingRequiredHeader: x-ms-blob-type must be BlockBlob",
        );
    }
    let Some(length) = header(&headers, "content-length").and_then(|v| v.parse::<u64>().ok())
    else {
        return error(
            StatusCode::LENGTH_REQUIRED,
            "MissingContentLength: uploads need a Content-Length",
        );
    };
    let content_type = header(&headers, "content-type").unwrap_or("");
    if !content_type.eq_ignore_ascii_case(&registered_mime) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "Content-Type {content_type:?} does not match the registered mimeType {registered_mime:?}"
            ),
        );
    }

    let keep_limit = sim.shared.config.keep_blob_bytes_up_to;
    let mut kept: Option<Vec<u8>> =
        (length <= keep_limit).then(|| Vec::with_capacity(usize::try_from(length).unwrap_or(0)));
    let mut hasher = sha2::Sha256::new();
    let mut received: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("upload body failed after {received} bytes: {e}"),
                )
            }
        };
        received += chunk.len() as u64;
        hasher.update(&chunk);
        if let Some(buf) = kept.as_mut() {
            if received <= keep_limit {
                buf.extend_from_slice(&chunk);
            } else {
                kept = None;
            }
        }
    }
    if received != length {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("body has {received} bytes, Content-Length said {length}"),
        );
    }
    let sha = hex(&hasher.finalize());
    match sim
        .shared
        .store()
        .record_upload(&target, received, sha, kept)
    {
        Ok(()) => StatusCode::CREATED.into_response(),
        Err(StoreError::ContentNotFound(_)) => error(
            StatusCode::CONFLICT,
            "content was deleted or re-registered during the upload",
        ),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

/// `GET <readUrl>`: the uploaded bytes when they were small enough to keep.
async fn read(State(sim): State<UniqueSim>, Query(params): Query<KeyParam>) -> Response {
    let Some(token) = params.key else {
        return error(StatusCode::BAD_REQUEST, "missing key query parameter");
    };
    let target = match sim.shared.verify(GrantKind::Read, &token) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::FORBIDDEN, &format!("AuthenticationFailed: {e}")),
    };
    let key = sim
        .shared
        .store()
        .contents
        .get(&target.content_id)
        .map(|c| c.key.clone())
        .unwrap_or_default();
    if let Some(response) = rest_fault(&sim, "read", &key).await {
        return response;
    }
    let store = sim.shared.store();
    match store
        .contents
        .get(&target.content_id)
        .filter(|c| c.generation == target.generation)
    {
        Some(c) => match &c.bytes {
            Some(bytes) => (
                [(http::header::CONTENT_TYPE, c.mime_type.clone())],
                bytes.clone(),
            )
                .into_response(),
            None if c.uploaded_size.is_some() => error(
                StatusCode::NOT_IMPLEMENTED,
                "the sandbox keeps only the hash of uploads this large",
            ),
            None => error(StatusCode::NOT_FOUND, "BlobNotFound: nothing uploaded yet"),
        },
        None => error(StatusCode::NOT_FOUND, "BlobNotFound"),
    }
}

// ---------------------------------------------------------------------------------------------
// Zitadel token endpoint

fn oauth_error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": code, "error_description": description})),
    )
        .into_response()
}

/// `POST /oauth/v2/token`: client credentials via HTTP Basic (the reference) or form fields;
/// the scope must carry the project audience `urn:zitadel:iam:org:project:id:<id>:aud`.
async fn token(State(sim): State<UniqueSim>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(response) = rest_fault(&sim, "token", "").await {
        return response;
    }
    let config = &sim.shared.config;
    let is_form = header(&headers, "content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "body must be application/x-www-form-urlencoded",
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let basic = header(&headers, "authorization")
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(id, secret)| (id.to_owned(), secret.to_owned()))
        });
    let credentials = basic.or_else(|| {
        Some((
            form.get("client_id")?.clone(),
            form.get("client_secret")?.clone(),
        ))
    });
    let authenticated = credentials.is_some_and(|(id, secret)| {
        id == config.zitadel_client_id && secret == config.zitadel_client_secret
    });
    if !authenticated {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let audience = format!(
        "urn:zitadel:iam:org:project:id:{}:aud",
        config.zitadel_project_id
    );
    let has_audience = form
        .get("scope")
        .is_some_and(|s| s.split_whitespace().any(|part| part == audience));
    if !has_audience {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope must include the project audience urn:zitadel:iam:org:project:id:<projectId>:aud",
        );
    }
    let (access_token, ttl) = sim.shared.issue_token();
    let expires_in = (ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0)).max(1);
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// Control API

#[derive(Debug, Deserialize)]
struct ScopesQuery {
    #[serde(default)]
    flat: bool,
}

async fn control_scopes(State(sim): State<UniqueSim>, Query(q): Query<ScopesQuery>) -> Response {
    if q.flat {
        Json(sim.scopes()).into_response()
    } else {
        Json(sim.scope_tree()).into_response()
    }
}

async fn control_seed_scope(State(sim): State<UniqueSim>, Json(seed): Json<SeedScope>) -> Response {
    match sim.seed_scope(seed) {
        Ok(scope) => (StatusCode::CREATED, Json(scope)).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilesQuery {
    key_prefix: Option<String>,
    scope_id: Option<String>,
}

async fn control_files(State(sim): State<UniqueSim>, Query(q): Query<FilesQuery>) -> Response {
    let files: Vec<_> = sim
        .files()
        .into_iter()
        .filter(|f| q.key_prefix.as_deref().is_none_or(|p| f.key.starts_with(p)))
        .filter(|f| q.scope_id.as_deref().is_none_or(|s| f.scope_id == s))
        .collect();
    Json(files).into_response()
}

async fn control_seed_file(State(sim): State<UniqueSim>, Json(seed): Json<SeedFile>) -> Response {
    match sim.seed_file(seed) {
        Ok(file) => (StatusCode::CREATED, Json(file)).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

#[derive(Debug, Deserialize)]
struct FileContentQuery {
    key: String,
}

async fn control_file_content(
    State(sim): State<UniqueSim>,
    Query(q): Query<FileContentQuery>,
) -> Response {
    match sim.file_bytes(&q.key) {
        Some(bytes) => bytes.into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            "no kept bytes for this key (unknown, not uploaded, or too large to keep)",
        ),
    }
}

async fn control_reset(State(sim): State<UniqueSim>) -> StatusCode {
    sim.reset();
    StatusCode::NO_CONTENT
}

async fn control_faults(State(sim): State<UniqueSim>) -> Response {
    Json(sim.faults()).into_response()
}

async fn control_add_fault(
    State(sim): State<UniqueSim>,
    Json(fault): Json<UniqueFault>,
) -> StatusCode {
    sim.add_fault(fault);
    StatusCode::CREATED
}

async fn control_clear_faults(State(sim): State<UniqueSim>) -> StatusCode {
    sim.clear_faults();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct RateLimitBody {
    per_minute: Option<u32>,
}

async fn control_rate_limit(
    State(sim): State<UniqueSim>,
    Json(body): Json<RateLimitBody>,
) -> StatusCode {
    sim.set_rate_limit(body.per_minute);
    StatusCode::NO_CONTENT
}

async fn control_expire_tokens(State(sim): State<UniqueSim>) -> StatusCode {
    sim.expire_tokens();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
struct AuthModeBody {
    mode: UniqueAuthMode,
}

async fn control_auth_mode(State(sim): State<UniqueSim>) -> Response {
    Json(serde_json::json!({"mode": sim.auth_mode()})).into_response()
}

/// `{"mode": "cluster_local" | "external"}`.
async fn control_set_auth_mode(
    State(sim): State<UniqueSim>,
    Json(body): Json<AuthModeBody>,
) -> Response {
    sim.set_auth_mode(body.mode);
    Json(serde_json::json!({"mode": body.mode})).into_response()
}

#[derive(Debug, Deserialize)]
struct CallsQuery {
    operation: Option<String>,
}

async fn control_calls(State(sim): State<UniqueSim>, Query(q): Query<CallsQuery>) -> Response {
    match q.operation {
        Some(op) => Json(sim.calls_of(&op)).into_response(),
        None => Json(sim.calls()).into_response(),
    }
}

async fn control_clear_calls(State(sim): State<UniqueSim>) -> StatusCode {
    sim.clear_calls();
    StatusCode::NO_CONTENT
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReadersQuery {
    key_prefix: Option<String>,
}

/// `GET/POST /users`, `GET /groups`, `GET /readers[?keyPrefix=]`.
fn directory_control_routes() -> axum::Router<UniqueSim> {
    use axum::extract::{Query, State};
    use axum::response::IntoResponse;
    use axum::routing::get;
    use axum::Json;

    async fn users(State(sim): State<UniqueSim>) -> axum::response::Response {
        Json(sim.users()).into_response()
    }
    async fn add_user(
        State(sim): State<UniqueSim>,
        Json(seed): Json<SeedUser>,
    ) -> axum::response::Response {
        match sim.seed_user(seed) {
            Ok(user) => (http::StatusCode::CREATED, Json(user)).into_response(),
            Err(e) => (
                http::StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"statusCode": 400, "message": e.to_string()})),
            )
                .into_response(),
        }
    }
    async fn groups(State(sim): State<UniqueSim>) -> axum::response::Response {
        Json(sim.groups()).into_response()
    }
    async fn readers(
        State(sim): State<UniqueSim>,
        Query(q): Query<ReadersQuery>,
    ) -> axum::response::Response {
        let all: Vec<FileReaders> = sim
            .readers()
            .into_iter()
            .filter(|r| q.key_prefix.as_deref().is_none_or(|p| r.key.starts_with(p)))
            .collect();
        Json(all).into_response()
    }
    axum::Router::new()
        .route("/users", get(users).post(add_user))
        .route("/groups", get(groups))
        .route("/readers", get(readers))
}

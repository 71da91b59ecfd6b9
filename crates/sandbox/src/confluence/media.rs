//! Attachment bytes: the Cloud media origin (signed, expiring links; refuses `Authorization`)
//! and the byte streams both flavours serve. Generated attachments are produced while streaming,
//! so their size costs no memory.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

use super::model::{Attachment, AttachmentData};
use super::sim::ConfluenceSim;
use super::web::{v1_error, Params};

/// Generated data repeats a block of this size derived from the seed.
const BLOCK: usize = 64 * 1024;

/// The bytes of a generated attachment's repeating block: printable ASCII from a seeded
/// xorshift, so `text/plain` attachments stay readable.
fn generated_block(seed: u64) -> Bytes {
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    if state == 0 {
        state = 1;
    }
    let mut block = Vec::with_capacity(BLOCK);
    while block.len() < BLOCK {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        for b in state.to_le_bytes() {
            block.push(b' ' + b % 95);
        }
    }
    block.truncate(BLOCK);
    Bytes::from(block)
}

/// The body of an attachment and its length.
pub(crate) fn attachment_body(attachment: &Attachment) -> (Body, u64) {
    match &attachment.data {
        AttachmentData::Text(t) => (Body::from(t.clone()), t.len() as u64),
        AttachmentData::Base64(b) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default();
            let len = bytes.len() as u64;
            (Body::from(bytes), len)
        }
        AttachmentData::Generated { seed, size } => {
            let block = generated_block(*seed);
            let size = *size;
            let stream = async_stream::stream! {
                let mut remaining = size;
                while remaining > 0 {
                    let n = usize::try_from(remaining.min(BLOCK as u64)).unwrap_or(BLOCK);
                    remaining -= n as u64;
                    yield Ok::<Bytes, std::io::Error>(block.slice(..n));
                }
            };
            (Body::from_stream(stream), size)
        }
    }
}

/// A 200 response streaming the attachment with its length and type.
pub(crate) fn attachment_response(attachment: &Attachment) -> Response {
    let (body, len) = attachment_body(attachment);
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    if let Ok(v) = HeaderValue::from_str(&attachment.media_type) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    let disposition = format!(
        "attachment; filename*=UTF-8''{}",
        super::web::path_encode(&attachment.title)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(http::header::CONTENT_DISPOSITION, v);
    }
    response
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn signature(secret: &str, attachment_id: &str, expires: u64) -> String {
    let digest = Sha256::digest(format!("{secret}|{attachment_id}|{expires}").as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// The media URL the Cloud download redirects to: the token is in the query, so the client
/// needs (and must not send) any `Authorization`.
pub(crate) fn signed_media_url(sim: &ConfluenceSim, attachment: &Attachment) -> String {
    let expires = now_secs() + sim.config().media_link_ttl.as_secs();
    let token = format!(
        "{expires}.{}",
        signature(&sim.inner.media_secret, &attachment.id, expires)
    );
    format!(
        "{}/file/{}/binary?token={token}&client=sandbox-client&dl=true&name={}",
        sim.urls().media,
        attachment.id,
        super::web::path_encode(&attachment.title)
    )
}

/// The media origin: `GET /file/{attachment}/binary?token=…`.
pub(crate) fn router(sim: ConfluenceSim) -> Router {
    Router::new()
        .route("/file/{attachment}/binary", get(media_binary))
        .with_state(sim)
}

async fn media_binary(
    State(sim): State<ConfluenceSim>,
    Path(attachment_id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    if headers.contains_key(http::header::AUTHORIZATION) {
        // The real media host rejects Atlassian API tokens; a client that forwards the
        // gateway's Authorization across origins leaks it and must fail here.
        return v1_error(
            StatusCode::BAD_REQUEST,
            "Authorization header is not accepted by the media host; the token is in the URL",
        );
    }
    let params = Params::parse(query.as_deref());
    let valid = params
        .get("token")
        .and_then(|t| t.split_once('.'))
        .and_then(|(exp, sig)| exp.parse::<u64>().ok().map(|e| (e, sig)))
        .is_some_and(|(expires, sig)| {
            expires >= now_secs()
                && sig == signature(&sim.inner.media_secret, &attachment_id, expires)
        });
    if !valid {
        return v1_error(
            StatusCode::UNAUTHORIZED,
            "media token missing, invalid or expired",
        );
    }
    let store = sim.read();
    match store.attachment(&attachment_id) {
        Some((_, attachment)) => attachment_response(attachment),
        None => v1_error(StatusCode::NOT_FOUND, "file not found").into_response(),
    }
}

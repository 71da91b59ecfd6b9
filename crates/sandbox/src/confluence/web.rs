//! Small HTTP helpers shared by the Cloud and DC routers: query parsing (repeated keys kept),
//! opaque cursors, error bodies, timestamps.

use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use http::StatusCode;

pub(crate) use crate::common::json_error as v1_error;

/// A query string with repeated keys kept, decoded with form rules (`+` is a space).
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(raw: Option<&str>) -> Self {
        Params(
            url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .into_owned()
                .collect(),
        )
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated parameter, with comma-separated values split.
    pub fn list(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// A non-negative integer parameter; `Err` carries the 400 to answer.
    pub fn usize(&self, name: &str) -> Result<Option<usize>, String> {
        match self.get(name) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("parameter {name} must be a non-negative integer, got {v:?}")),
        }
    }

    /// The `expand` parameter as a list.
    pub fn expand(&self) -> Vec<String> {
        self.list("expand").into_iter().map(str::to_owned).collect()
    }
}

/// A control-API body: YAML when the `Content-Type` says so, JSON otherwise; `Err` is the
/// 400's message.
pub(crate) fn json_or_yaml<T: serde::de::DeserializeOwned>(
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<T, String> {
    let is_yaml = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("yaml"));
    if is_yaml {
        std::str::from_utf8(body)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_yaml_ng::from_str(text).map_err(|e| e.to_string()))
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    }
}

/// Serialises query pairs (form encoding) for `_links.next`.
pub(crate) fn query_string(pairs: &[(&str, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Opaque cursor: base64url of `<kind>:<limit>:<last numeric id>:<items before>`. Keyed on
/// the last id rather than an offset, so deleting an earlier item between two pages skips
/// nothing. The page size is bound to the chain: a request that changes `limit` mid-chain is
/// refused (on real Confluence it can skip or repeat items silently).
pub(crate) fn encode_cursor(kind: &str, limit: usize, after: u64, offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{kind}:{limit}:{after}:{offset}"))
}

/// `(last id, items before)`, or the 400 message for a cursor this endpoint did not issue or
/// one issued for another page size.
pub(crate) fn decode_cursor(
    kind: &str,
    limit: usize,
    cursor: &str,
) -> Result<(u64, usize), String> {
    let invalid = || format!("Invalid cursor {cursor:?}");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(raw).map_err(|_| invalid())?;
    let parts: Vec<&str> = text.split(':').collect();
    let [k, l, after, offset] = parts.as_slice() else {
        return Err(invalid());
    };
    if *k != kind {
        return Err(invalid());
    }
    let issued: usize = l.parse().map_err(|_| invalid())?;
    if issued != limit {
        return Err(format!(
            "limit changed within a cursor chain: the cursor was issued for limit={issued}, the request asks for {limit}"
        ));
    }
    Ok((
        after.parse().map_err(|_| invalid())?,
        offset.parse().map_err(|_| invalid())?,
    ))
}

/// The shape the Atlassian API gateway answers its own refusals in (a missing, invalid or
/// expired token; a scope that does not match): `{"code": 401, "message": "Unauthorized"}`.
/// What Confluence behind it refuses keeps Confluence's shapes ([`v1_error`], [`v2_error`]).
pub(crate) fn gateway_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({
            "code": status.as_u16(),
            "message": message,
        })),
    )
        .into_response()
}

/// v2's error shape.
pub(crate) fn v2_error(status: StatusCode, title: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({
            "errors": [{
                "status": status.as_u16(),
                "code": match status {
                    StatusCode::BAD_REQUEST => "INVALID_REQUEST_PARAMETER",
                    StatusCode::NOT_FOUND => "NOT_FOUND",
                    StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
                    _ => "ERROR",
                },
                "title": title,
                "detail": null,
            }]
        })),
    )
        .into_response()
}

/// `2024-01-01T00:00:00.000Z`, the format both flavours use.
pub(crate) fn iso(when: DateTime<Utc>) -> String {
    when.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `Title With Spaces` → `Title+With+Spaces`, as in Confluence web links.
pub(crate) fn plus_encode(title: &str) -> String {
    url::form_urlencoded::byte_serialize(title.as_bytes()).collect()
}

/// Percent-encodes one path segment (file names in download links).
pub(crate) fn path_encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC)
        .to_string()
        .replace("%2E", ".")
        .replace("%2D", "-")
        .replace("%5F", "_")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_other_kinds() {
        let c = encode_cursor("search", 25, 42, 7);
        assert_eq!(decode_cursor("search", 25, &c), Ok((42, 7)));
        assert!(decode_cursor("v2pages", 25, &c).is_err());
        assert!(decode_cursor("search", 25, "garbage!").is_err());
        let err = decode_cursor("search", 50, &c).unwrap_err();
        assert!(err.contains("limit changed"), "{err}");
    }

    #[test]
    fn repeated_and_comma_separated_ids_are_both_read() {
        let p = Params::parse(Some("id=1,2&id=3&limit=5"));
        assert_eq!(p.list("id"), vec!["1", "2", "3"]);
        assert_eq!(p.usize("limit").unwrap(), Some(5));
        assert!(p.usize("id").is_err());
    }
}

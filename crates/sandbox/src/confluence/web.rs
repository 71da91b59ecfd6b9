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

/// Serialises query pairs (form encoding) for `_links.next`.
pub(crate) fn query_string(pairs: &[(&str, String)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// Opaque cursor: base64url of `<kind>:<last numeric id>:<items before>`. Keyed on the last id
/// rather than an offset, so deleting an earlier item between two pages skips nothing.
pub(crate) fn encode_cursor(kind: &str, after: u64, offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{after}:{offset}"))
}

/// `(last id, items before)`, or `None` for a cursor this endpoint did not issue.
pub(crate) fn decode_cursor(kind: &str, cursor: &str) -> Option<(u64, usize)> {
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let mut parts = text.splitn(3, ':');
    if parts.next()? != kind {
        return None;
    }
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
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
        let c = encode_cursor("search", 42, 7);
        assert_eq!(decode_cursor("search", &c), Some((42, 7)));
        assert_eq!(decode_cursor("v2pages", &c), None);
        assert_eq!(decode_cursor("search", "garbage!"), None);
    }

    #[test]
    fn repeated_and_comma_separated_ids_are_both_read() {
        let p = Params::parse(Some("id=1,2&id=3&limit=5"));
        assert_eq!(p.list("id"), vec!["1", "2", "3"]);
        assert_eq!(p.usize("limit").unwrap(), Some(5));
        assert!(p.usize("id").is_err());
    }
}

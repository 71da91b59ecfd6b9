//! Tampered pagination: a Confluence whose listings answer with a `_links.next` that points back
//! to the listing's first page (a loop) or to another origin. Real servers have done both (a
//! cursor that resets; a base URL misconfigured behind a proxy), and a client must refuse to
//! follow either: a loop never ends, and a foreign origin would receive the credentials.
//!
//! Off unless armed, in process with `ConfluenceSim::set_pagination_tamper` or through
//! `PUT /_sandbox/confluence/pagination-tamper` (`null` or `DELETE` disarms). Only successful
//! JSON responses of requests whose path ends with the rule's `path_suffix` are rewritten.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How `_links.next` is falsified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PaginationTamper {
    /// The first matching response is left alone; every later one (whether it had a `next` or
    /// not) gets `next` = the first matching request's own link, so an unguarded client cycles
    /// through the same pages forever.
    LoopToFirstPage,
    /// Every `next` becomes absolute on `origin` (e.g. `http://127.0.0.1:9`), same path and
    /// query.
    ForeignOrigin { origin: String },
}

/// An armed tamper and the listings it applies to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaginationTamperRule {
    #[serde(flatten)]
    pub tamper: PaginationTamper,
    /// Suffix of the request path (default `/content/search`, the CQL search of both flavours).
    #[serde(default = "default_path_suffix")]
    pub path_suffix: String,
}

fn default_path_suffix() -> String {
    "/content/search".into()
}

impl PaginationTamperRule {
    /// `tamper` on the CQL search of both flavours.
    pub fn search(tamper: PaginationTamper) -> Self {
        Self {
            tamper,
            path_suffix: default_path_suffix(),
        }
    }
}

#[derive(Debug, Default)]
struct Armed {
    rule: Option<PaginationTamperRule>,
    /// The first matching request's link (relative to the API root), for the loop.
    first: Option<String>,
    /// Responses rewritten since the rule was armed.
    fired: u64,
}

/// The tamper state of one simulator, shared by its routers' middleware and its control API.
#[derive(Debug, Default)]
pub(crate) struct TamperSlot(Mutex<Armed>);

impl TamperSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Armed> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms (or with `None` disarms) a rule; the loop forgets its first page.
    pub(crate) fn arm(&self, rule: Option<PaginationTamperRule>) {
        *self.lock() = Armed {
            rule,
            ..Armed::default()
        };
    }

    /// The armed rule and how many responses it has rewritten.
    pub(crate) fn state(&self) -> (Option<PaginationTamperRule>, u64) {
        let armed = self.lock();
        (armed.rule.clone(), armed.fired)
    }

    /// The replacement `next` for one response, if the armed rule applies. `own_link` is the
    /// request's link relative to the API root; `served` the `next` the handler produced.
    fn rewrite(&self, path: &str, own_link: &str, served: Option<&str>) -> Option<String> {
        let mut armed = self.lock();
        let rule = armed.rule.clone()?;
        if !path.ends_with(&rule.path_suffix) {
            return None;
        }
        let replacement = match &rule.tamper {
            PaginationTamper::LoopToFirstPage => match &armed.first {
                None => {
                    armed.first = Some(own_link.to_owned());
                    return None;
                }
                Some(first) => first.clone(),
            },
            PaginationTamper::ForeignOrigin { origin } => {
                format!("{}{}", origin.trim_end_matches('/'), served?)
            }
        };
        armed.fired += 1;
        Some(replacement)
    }
}

#[derive(Clone)]
struct Layer {
    slot: Arc<TamperSlot>,
    /// What precedes the API root in request paths (`/ex/confluence/<id>`, the DC context path).
    prefix: String,
}

/// `router` with the armed tamper of `slot` applied to its responses. `prefix` is what precedes
/// the API root in request paths (`/ex/confluence/<id>`, the DC context path).
pub(crate) fn layer(router: Router, slot: Arc<TamperSlot>, prefix: String) -> Router {
    router.layer(axum::middleware::from_fn_with_state(
        Layer { slot, prefix },
        rewrite_next,
    ))
}

async fn rewrite_next(State(layer): State<Layer>, request: Request, next: Next) -> Response {
    if layer.slot.lock().rule.is_none() {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    let own_link = request
        .uri()
        .path_and_query()
        .map_or(path.as_str(), |p| p.as_str())
        .strip_prefix(layer.prefix.as_str())
        .unwrap_or(&path)
        .to_owned();
    let response = next.run(request).await;
    if !response.status().is_success() {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let Ok(mut json) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let served = json["_links"]["next"].as_str().map(str::to_owned);
    let Some(link) = layer.slot.rewrite(&path, &own_link, served.as_deref()) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    json["_links"]["next"] = Value::String(link);
    parts.headers.remove(http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn armed(tamper: PaginationTamper) -> TamperSlot {
        let slot = TamperSlot::default();
        slot.lock().rule = Some(PaginationTamperRule::search(tamper));
        slot
    }

    const SEARCH: &str = "/wiki/rest/api/content/search";

    #[test]
    fn the_loop_points_every_later_page_at_the_first() {
        let slot = armed(PaginationTamper::LoopToFirstPage);
        assert_eq!(slot.rewrite(SEARCH, "/first?start=0", Some("/p2")), None);
        assert_eq!(
            slot.rewrite(SEARCH, "/p2", Some("/p3")).as_deref(),
            Some("/first?start=0")
        );
        // Even the last page gets a `next`: an unguarded client never stops.
        assert_eq!(
            slot.rewrite(SEARCH, "/p3", None).as_deref(),
            Some("/first?start=0")
        );
        assert_eq!(slot.lock().fired, 2);
    }

    #[test]
    fn a_foreign_origin_keeps_path_and_query_and_leaves_the_last_page_alone() {
        let slot = armed(PaginationTamper::ForeignOrigin {
            origin: "http://evil.example:9/".into(),
        });
        assert_eq!(
            slot.rewrite(
                SEARCH,
                "/first",
                Some("/wiki/rest/api/content/search?cursor=x")
            )
            .as_deref(),
            Some("http://evil.example:9/wiki/rest/api/content/search?cursor=x")
        );
        assert_eq!(slot.rewrite(SEARCH, "/last", None), None);
    }

    #[test]
    fn other_paths_and_a_disarmed_slot_are_untouched() {
        let slot = armed(PaginationTamper::LoopToFirstPage);
        assert_eq!(
            slot.rewrite("/wiki/api/v2/pages/1/attachments", "/a", Some("/b")),
            None
        );
        assert_eq!(
            TamperSlot::default().rewrite(SEARCH, "/a", Some("/b")),
            None
        );
    }

    #[test]
    fn the_rule_reads_as_the_control_api_takes_it() {
        let rule: PaginationTamperRule =
            serde_json::from_str(r#"{"kind":"foreign_origin","origin":"http://x"}"#).unwrap();
        assert_eq!(rule.path_suffix, "/content/search");
        let rule: PaginationTamperRule =
            serde_json::from_str(r#"{"kind":"loop_to_first_page","path_suffix":"/attachments"}"#)
                .unwrap();
        assert_eq!(rule.tamper, PaginationTamper::LoopToFirstPage);
    }
}

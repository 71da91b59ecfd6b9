//! The REST operations both flavours share, parameterised by flavour: CQL search, the v1
//! content listing, attachment listings, v2 bulk reads.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode};
use serde_json::{json, Value};

use super::cql::{self, Field};
use super::dc_paging::{offset_page, DcQuirks};
use super::model::{Content, ContentType};
use super::render::{sorted_attachments, Expand};
use super::sim::{CloudSearchNextLink, ConfluenceSim, Flavour};
use super::view::View;
use super::web::{decode_cursor, encode_cursor, query_string, v1_error, v2_error, Params};
use crate::common::OmittedIds;

fn bad_request(message: &str) -> Response {
    v1_error(StatusCode::BAD_REQUEST, message)
}

/// `GET …/rest/api/content/search`: CQL, expansions, capped `limit`; cursor pages on Cloud
/// (`start` ignored), offset pages on DC. `omitted` content is left out, as content deleted or
/// restricted since the client learned its id is.
pub(crate) fn content_search(
    sim: &ConfluenceSim,
    flavour: Flavour,
    params: &Params,
    omitted: &OmittedIds,
) -> Response {
    let Some(query) = params.get("cql").filter(|q| !q.trim().is_empty()) else {
        return bad_request("The CQL query parameter 'cql' is required");
    };
    let expr = match cql::parse(query) {
        Ok(expr) => expr,
        Err(e) => return bad_request(&e.to_string()),
    };
    let expand_list = params.expand();
    let expand = Expand::parse(&expand_list);
    let limits = &sim.config().limits;
    let cap = match flavour {
        Flavour::Cloud if expand.body => limits.cloud_search_with_body,
        Flavour::Cloud => limits.cloud_search,
        Flavour::DataCenter if expand.body => limits.dc_search_with_body,
        Flavour::DataCenter if expand.any => limits.dc_search_with_expand,
        Flavour::DataCenter => limits.dc_search,
    };
    let requested = match params.usize("limit") {
        Ok(l) => l.unwrap_or(limits.search_default),
        Err(e) => return bad_request(&e),
    };
    let limit = requested.clamp(1, cap.max(1));
    if flavour == Flavour::Cloud {
        if let Some(overloaded) = sim.inner.overload.check(limit, expand.any) {
            return overloaded;
        }
    }

    let store = sim.read();
    let urls = sim.urls();
    let view = View {
        flavour,
        urls: &urls,
        store: &store,
        inline_attachments: limits.inline_attachments,
    };
    if flavour == Flavour::DataCenter {
        if let Some(missing) = expr
            .space_keys()
            .into_iter()
            .find(|k| store.space(k).is_none())
        {
            return bad_request(&format!("No space with key : {missing}"));
        }
        // Data Center has no such types (unconfirmed how it words the refusal; a 400 is the
        // worse case for a client that names them).
        if let Some(cloud_only) = expr.values_of(Field::Type).into_iter().find(|t| {
            [
                ContentType::Folder,
                ContentType::Database,
                ContentType::Whiteboard,
                ContentType::Embed,
            ]
            .iter()
            .any(|c| c.as_str() == *t)
        }) {
            return bad_request(&format!(
                "Could not parse cql : {query} (no content type '{cloud_only}' on Data Center)"
            ));
        }
    }
    let needs_ancestors = expr.mentions(Field::Ancestor);
    // Content the client's account may not view is left out, as real search leaves it out.
    let client = store.client_filter();
    let content = &store.dataset.content;
    let (first_index, start) = match flavour {
        Flavour::Cloud => match params.get("cursor") {
            None | Some("") => (0, 0),
            Some(cursor) => match decode_cursor("search", limit, cursor) {
                Ok((after, offset)) => {
                    (content.partition_point(|c| c.numeric_id() <= after), offset)
                }
                Err(e) => return bad_request(&e),
            },
        },
        Flavour::DataCenter => match params.usize("start") {
            Ok(s) => (0, s.unwrap_or(0)),
            Err(e) => return bad_request(&e),
        },
    };
    // Queries that pin ids (the batched body fetch) look those up instead of scanning.
    let pinned: Option<Vec<&Content>> = expr.id_restriction().map(|ids| {
        let mut positions: Vec<usize> = ids.iter().filter_map(|id| store.position(id)).collect();
        positions.sort_unstable();
        positions.dedup();
        positions
            .into_iter()
            .filter(|p| *p >= first_index)
            .map(|p| &content[p])
            .collect()
    });
    let matches = |c: &&Content| {
        if !view.serves(c) || omitted.contains(&c.id) {
            return false;
        }
        let space_type = store
            .space(&c.space)
            .map(|s| view.space_type(s).as_str())
            .unwrap_or("");
        let ancestors = if needs_ancestors {
            view.ancestors(&c.id)
        } else {
            Vec::new()
        };
        expr.matches(&view.candidate(c, &ancestors, space_type)) && client.reads(&store, c)
    };
    let scan = || -> Box<dyn Iterator<Item = &Content> + '_> {
        match &pinned {
            Some(list) => Box::new(list.iter().copied().filter(matches)),
            None => Box::new(content[first_index..].iter().filter(matches)),
        }
    };
    // Cloud: a cursor page; Data Center: the offset page the DC modes make of it.
    let (page, next_start): (Vec<&Content>, Option<usize>) = match flavour {
        Flavour::Cloud => {
            let mut page: Vec<&Content> = scan().take(limit + 1).collect();
            let more = page.len() > limit;
            page.truncate(limit);
            (page, more.then_some(start + limit))
        }
        Flavour::DataCenter => {
            let mut first: Vec<&Content> = scan().skip(start).take(limit + 1).collect();
            // The total is counted only where the listing ends (a full scan, once per listing).
            let total = match first.len() {
                n if n > limit => None,
                0 => Some(scan().count()),
                n => Some(start + n),
            };
            let window = offset_page(&sim.dc_quirks(), start, requested, limit, total);
            if window.items.start == start {
                first.truncate(window.items.len());
            } else {
                first = scan()
                    .skip(window.items.start)
                    .take(window.items.len())
                    .collect();
            }
            (first, window.next_start)
        }
    };
    let results: Vec<Value> = page.iter().map(|c| view.content_v1(c, &expand)).collect();

    let next_link = sim.cloud_search_next_link();
    let path = match flavour {
        Flavour::Cloud if next_link == CloudSearchNextLink::WikiWithExpand => {
            "/wiki/rest/api/content/search"
        }
        Flavour::Cloud | Flavour::DataCenter => "/rest/api/content/search",
    };
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let mut links = serde_json::Map::new();
    links.insert("base".into(), json!(view.base()));
    links.insert("context".into(), json!(view.context()));
    if let Some(next_start) = next_start {
        let next_query = match flavour {
            Flavour::Cloud => {
                let last = page.last().map(|c| c.numeric_id()).unwrap_or(0);
                pairs.push(("next", "true".into()));
                pairs.push((
                    "cursor",
                    encode_cursor("search", limit, last, start + page.len()),
                ));
                if next_link == CloudSearchNextLink::WikiWithExpand && !expand_list.is_empty() {
                    pairs.push(("expand", expand_list.join(",")));
                }
                pairs.push(("limit", limit.to_string()));
                if next_link == CloudSearchNextLink::AsCloud {
                    pairs.push(("start", (start + page.len()).to_string()));
                }
                pairs.push(("cql", query.to_owned()));
                query_string(&pairs)
            }
            Flavour::DataCenter => {
                pairs.push(("cql", query.to_owned()));
                if !expand_list.is_empty() {
                    pairs.push(("expand", expand_list.join(",")));
                }
                pairs.push(("limit", limit.to_string()));
                pairs.push(("start", next_start.to_string()));
                query_string(&pairs)
            }
        };
        links.insert("next".into(), json!(format!("{path}?{next_query}")));
    }
    links.insert(
        "self".into(),
        json!(format!("{}/rest/api/content/search", view.base())),
    );
    axum::Json(json!({
        "results": results,
        "start": start,
        "limit": limit,
        "size": page.len(),
        "_links": links,
    }))
    .into_response()
}

/// `GET …/rest/api/content?spaceKey=&title=&type=`: the v1 listing used for title lookups.
pub(crate) fn content_listing(sim: &ConfluenceSim, flavour: Flavour, params: &Params) -> Response {
    if flavour == Flavour::DataCenter && sim.dc_quirks().content_listing_blocked {
        // What a blocked endpoint answers (CONFSERVER-57639; kovetskiy/mark#778).
        return v1_error(
            StatusCode::FORBIDDEN,
            "The server understood the request but refuses to authorize it.",
        );
    }
    let content_type = params.get("type").unwrap_or("page");
    let expand_list = params.expand();
    let expand = Expand::parse(&expand_list);
    let limits = &sim.config().limits;
    let (start, requested) = match (params.usize("start"), params.usize("limit")) {
        (Ok(s), Ok(l)) => (s.unwrap_or(0), l.unwrap_or(limits.search_default)),
        (Err(e), _) | (_, Err(e)) => return bad_request(&e),
    };
    let limit = requested.clamp(1, 200);
    let store = sim.read();
    let urls = sim.urls();
    let view = View {
        flavour,
        urls: &urls,
        store: &store,
        inline_attachments: limits.inline_attachments,
    };
    let client = store.client_filter();
    if let Some(key) = params.get("spaceKey") {
        if store.space(key).is_none() {
            return v1_error(StatusCode::NOT_FOUND, &format!("No space with key : {key}"));
        }
    }
    let matching: Vec<&Content> = store
        .dataset
        .content
        .iter()
        .filter(|c| view.serves(c) && c.content_type.as_str() == content_type)
        .filter(|c| params.get("spaceKey").is_none_or(|k| c.space == k))
        .filter(|c| params.get("title").is_none_or(|t| c.title == t))
        .filter(|c| client.reads(&store, c))
        .collect();
    let page = match flavour {
        Flavour::DataCenter => offset_page(
            &sim.dc_quirks(),
            start,
            requested,
            limit,
            Some(matching.len()),
        ),
        Flavour::Cloud => offset_page(&DcQuirks::none(), start, limit, limit, Some(matching.len())),
    };
    let window: Vec<Value> = matching
        .get(page.items.start.min(matching.len())..page.items.end.min(matching.len()))
        .unwrap_or_default()
        .iter()
        .map(|c| view.content_v1(c, &expand))
        .collect();
    let mut links = serde_json::Map::new();
    links.insert("base".into(), json!(view.base()));
    links.insert("context".into(), json!(view.context()));
    if let Some(next_start) = page.next_start {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        for key in ["spaceKey", "title", "type"] {
            if let Some(v) = params.get(key) {
                pairs.push((key, v.to_owned()));
            }
        }
        if !expand_list.is_empty() {
            pairs.push(("expand", expand_list.join(",")));
        }
        pairs.push(("limit", limit.to_string()));
        pairs.push(("start", next_start.to_string()));
        let prefix = if flavour == Flavour::Cloud {
            "/wiki"
        } else {
            ""
        };
        links.insert(
            "next".into(),
            json!(format!(
                "{prefix}/rest/api/content?{}",
                query_string(&pairs)
            )),
        );
    }
    axum::Json(json!({
        "results": window,
        "start": start,
        "limit": limit,
        "size": window.len(),
        "_links": links,
    }))
    .into_response()
}

/// DC `GET /rest/api/content/{id}`.
pub(crate) fn content_by_id(sim: &ConfluenceSim, id: &str, params: &Params) -> Response {
    let expand = Expand::parse(&params.expand());
    let store = sim.read();
    let urls = sim.urls();
    let view = View {
        flavour: Flavour::DataCenter,
        urls: &urls,
        store: &store,
        inline_attachments: sim.config().limits.inline_attachments,
    };
    match store.content(id).filter(|c| view.serves(c)) {
        Some(c) if !store.client_filter().reads(&store, c) => {
            let status = StatusCode::from_u16(sim.permissions_config().v1_restricted_status)
                .unwrap_or(StatusCode::NOT_FOUND);
            v1_error(
                status,
                &format!("No content found with id : ContentId{{id={id}}}"),
            )
        }
        Some(c) => axum::Json(view.content_v1(c, &expand)).into_response(),
        None => v1_error(
            StatusCode::NOT_FOUND,
            &format!("No content found with id : ContentId{{id={id}}}"),
        ),
    }
}

/// `GET …/rest/api/content/{id}/child/attachment?start=&limit=` (DC; gone on Cloud).
pub(crate) fn child_attachments(
    sim: &ConfluenceSim,
    flavour: Flavour,
    id: &str,
    params: &Params,
) -> Response {
    let limits = &sim.config().limits;
    let (start, requested) = match (params.usize("start"), params.usize("limit")) {
        (Ok(s), Ok(l)) => (s.unwrap_or(0), l.unwrap_or(limits.child_attachment_default)),
        (Err(e), _) | (_, Err(e)) => return bad_request(&e),
    };
    let limit = requested.clamp(1, limits.child_attachment_max);
    let with_version = params.expand().iter().any(|e| e == "version");
    let store = sim.read();
    let urls = sim.urls();
    let view = View {
        flavour,
        urls: &urls,
        store: &store,
        inline_attachments: limits.inline_attachments,
    };
    let quirks = match flavour {
        Flavour::DataCenter => sim.dc_quirks(),
        Flavour::Cloud => DcQuirks::none(),
    };
    match store
        .content(id)
        .filter(|c| view.serves(c))
        .filter(|c| store.client_filter().reads(&store, c))
    {
        Some(c) => {
            let page = offset_page(&quirks, start, requested, limit, Some(c.attachments.len()));
            axum::Json(view.attachment_list_v1(c, start, limit, &page, with_version))
                .into_response()
        }
        None => v1_error(
            StatusCode::NOT_FOUND,
            &format!("No content found with id : ContentId{{id={id}}}"),
        ),
    }
}

/// Reads and checks v2's `limit` (1..=max, else 400 like Cloud); `Err` is the 400's message.
pub(crate) fn v2_limit(params: &Params, default: usize, max: usize) -> Result<usize, String> {
    match params.get("limit") {
        None | Some("") => Ok(default),
        Some(raw) => match raw.parse::<usize>() {
            Ok(l) if (1..=max).contains(&l) => Ok(l),
            _ => Err(format!("limit must be between 1 and {max}, got {raw:?}")),
        },
    }
}

/// Builds the v2 next link from the request's own parameters plus a new cursor, and answers
/// with `_links.next` in the body and the `Link` header, as Cloud does.
pub(crate) fn v2_response(
    view: &View<'_>,
    path: &str,
    params: &Params,
    results: Vec<Value>,
    next_cursor: Option<String>,
) -> Response {
    let base = view.base();
    let mut links = serde_json::Map::new();
    links.insert("base".into(), json!(base));
    let next = next_cursor.map(|cursor| {
        let mut pairs: Vec<(&str, String)> = params_without_cursor(params);
        pairs.push(("cursor", cursor));
        format!("{path}?{}", query_string(&pairs))
    });
    if let Some(next) = &next {
        links.insert("next".into(), json!(next));
    }
    let mut response = axum::Json(json!({"results": results, "_links": links})).into_response();
    if let Some(next) = next {
        if let Ok(v) =
            HeaderValue::from_str(&format!("<{next}>; rel=\"next\", <{base}>; rel=\"base\""))
        {
            response.headers_mut().insert(http::header::LINK, v);
        }
    }
    response
}

fn params_without_cursor(params: &Params) -> Vec<(&str, String)> {
    params
        .pairs()
        .iter()
        .filter(|(k, _)| k != "cursor")
        .map(|(k, v)| (k.as_str(), v.clone()))
        .collect()
}

/// Cloud v2 `GET /wiki/api/v2/pages` and `/blogposts`: bulk reads, the batched body fetch.
/// Ids it cannot return (unknown, another type, `omitted`) are simply absent from the answer.
pub(crate) fn v2_content(
    sim: &ConfluenceSim,
    kind: ContentType,
    params: &Params,
    omitted: &OmittedIds,
) -> Response {
    let limits = &sim.config().limits;
    let limit = match v2_limit(params, limits.v2_default, limits.v2_max) {
        Ok(l) => l,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, &e),
    };
    let ids = params.list("id");
    if ids.len() > limits.v2_max_ids {
        return v2_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "id accepts at most {} values, got {}",
                limits.v2_max_ids,
                ids.len()
            ),
        );
    }
    if let Some(bad) = ids
        .iter()
        .chain(params.list("space-id").iter())
        .find(|i| i.parse::<u64>().is_err())
    {
        return v2_error(
            StatusCode::BAD_REQUEST,
            &format!("ids must be numeric, got {bad:?}"),
        );
    }
    let with_body = match wants_storage_body(params) {
        Ok(with_body) => with_body,
        Err(response) => return *response,
    };
    let kind_name = if kind == ContentType::Blogpost {
        "v2blogposts"
    } else {
        "v2pages"
    };
    let after = match params.get("cursor") {
        None | Some("") => None,
        Some(c) => match decode_cursor(kind_name, limit, c) {
            Ok((after, _)) => Some(after),
            Err(e) => return v2_error(StatusCode::BAD_REQUEST, &e),
        },
    };
    let space_ids = params.list("space-id");
    let store = sim.read();
    let urls = sim.urls();
    let view = View {
        flavour: Flavour::Cloud,
        urls: &urls,
        store: &store,
        inline_attachments: limits.inline_attachments,
    };
    let content = &store.dataset.content;
    let first = after.map_or(0, |a| content.partition_point(|c| c.numeric_id() <= a));
    let candidates: Box<dyn Iterator<Item = &Content>> = if ids.is_empty() {
        Box::new(content[first..].iter())
    } else {
        let mut positions: Vec<usize> = ids.iter().filter_map(|id| store.position(id)).collect();
        positions.sort_unstable();
        positions.dedup();
        Box::new(
            positions
                .into_iter()
                .filter(move |p| *p >= first)
                .map(|p| &content[p]),
        )
    };
    let client = store.client_filter();
    let page: Vec<&Content> = candidates
        .filter(|c| c.content_type == kind && !omitted.contains(&c.id))
        .filter(|c| client.reads(&store, c))
        .filter(|c| {
            space_ids.is_empty()
                || store
                    .space(&c.space)
                    .is_some_and(|s| space_ids.contains(&s.id.as_str()))
        })
        .filter(|c| params.get("title").is_none_or(|t| c.title == t))
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    let page = &page[..page.len().min(limit)];
    let next = more.then(|| {
        encode_cursor(
            kind_name,
            limit,
            page.last().map_or(0, |c| c.numeric_id()),
            0,
        )
    });
    let results = page.iter().map(|c| view.content_v2(c, with_body)).collect();
    let path = if kind == ContentType::Blogpost {
        "/wiki/api/v2/blogposts"
    } else {
        "/wiki/api/v2/pages"
    };
    v2_response(&view, path, params, results, next)
}

/// Cloud v2 `GET /wiki/api/v2/{pages|blogposts}/{id}/attachments`.
pub(crate) fn v2_attachments(
    sim: &ConfluenceSim,
    kind: ContentType,
    id: &str,
    params: &Params,
) -> Response {
    let limits = &sim.config().limits;
    let limit = match v2_limit(params, limits.v2_attachments_default, limits.v2_max) {
        Ok(l) => l,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, &e),
    };
    if id.parse::<u64>().is_err() {
        return v2_error(
            StatusCode::BAD_REQUEST,
            &format!("id must be numeric, got {id:?}"),
        );
    }
    let after = match params.get("cursor") {
        None | Some("") => None,
        Some(c) => match decode_cursor("v2attachments", limit, c) {
            Ok((after, _)) => Some(after),
            Err(e) => return v2_error(StatusCode::BAD_REQUEST, &e),
        },
    };
    let store = sim.read();
    let urls = sim.urls();
    let view = View {
        flavour: Flavour::Cloud,
        urls: &urls,
        store: &store,
        inline_attachments: limits.inline_attachments,
    };
    let Some(c) = store
        .content(id)
        .filter(|c| c.content_type == kind && store.client_filter().reads(&store, c))
    else {
        return v2_error(
            StatusCode::NOT_FOUND,
            &format!("No {} found with id {id}", kind.as_str()),
        );
    };
    let page: Vec<_> = sorted_attachments(c)
        .into_iter()
        .filter(|a| after.is_none_or(|after| a.numeric_id() > after))
        .filter(|a| params.get("filename").is_none_or(|f| a.title == f))
        .filter(|a| params.get("mediaType").is_none_or(|m| a.media_type == m))
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    let page = &page[..page.len().min(limit)];
    let next = more.then(|| {
        encode_cursor(
            "v2attachments",
            limit,
            page.last().map_or(0, |a| a.numeric_id()),
            0,
        )
    });
    let results = page.iter().map(|a| view.attachment_v2(c, a)).collect();
    let path = format!(
        "/wiki/api/v2/{}/{id}/attachments",
        if kind == ContentType::Blogpost {
            "blogposts"
        } else {
            "pages"
        }
    );
    v2_response(&view, &path, params, results, next)
}

/// Cloud v2 `GET /wiki/api/v2/{pages|blogposts}/{id}?body-format=`: one item, `_links.base` added.
pub(crate) fn v2_single(
    sim: &ConfluenceSim,
    kind: ContentType,
    id: &str,
    params: &Params,
) -> Response {
    if id.parse::<u64>().is_err() {
        return v2_error(
            StatusCode::BAD_REQUEST,
            &format!("id must be numeric, got {id:?}"),
        );
    }
    let with_body = match wants_storage_body(params) {
        Ok(with_body) => with_body,
        Err(response) => return *response,
    };
    let store = sim.read();
    let urls = sim.urls();
    let view = View {
        flavour: Flavour::Cloud,
        urls: &urls,
        store: &store,
        inline_attachments: sim.config().limits.inline_attachments,
    };
    match store
        .content(id)
        .filter(|c| c.content_type == kind && store.client_filter().reads(&store, c))
    {
        Some(c) => {
            let mut v = view.content_v2(c, with_body);
            v["_links"]["base"] = json!(view.base());
            axum::Json(v).into_response()
        }
        None => v2_error(
            StatusCode::NOT_FOUND,
            &format!("No {} found with id {id}", kind.as_str()),
        ),
    }
}

/// Cloud v2 `GET /wiki/api/v2/spaces?ids=&keys=&type=&limit=&cursor=`.
pub(crate) fn v2_spaces(sim: &ConfluenceSim, params: &Params) -> Response {
    let limits = &sim.config().limits;
    let limit = match v2_limit(params, limits.v2_default, limits.v2_max) {
        Ok(l) => l,
        Err(e) => return v2_error(StatusCode::BAD_REQUEST, &e),
    };
    let after = match params.get("cursor") {
        None | Some("") => None,
        Some(c) => match decode_cursor("v2spaces", limit, c) {
            Ok((after, _)) => Some(after),
            Err(e) => return v2_error(StatusCode::BAD_REQUEST, &e),
        },
    };
    let ids = params.list("ids");
    let keys = params.list("keys");
    let store = sim.read();
    let urls = sim.urls();
    let view = View {
        flavour: Flavour::Cloud,
        urls: &urls,
        store: &store,
        inline_attachments: limits.inline_attachments,
    };
    let client = store.client_filter();
    let mut spaces: Vec<_> = store.dataset.spaces.iter().collect();
    spaces.sort_by_key(|s| s.id.parse::<u64>().unwrap_or(u64::MAX));
    let page: Vec<_> = spaces
        .into_iter()
        .filter(|s| after.is_none_or(|a| s.id.parse::<u64>().unwrap_or(u64::MAX) > a))
        .filter(|s| client.reads_space(&s.key))
        .filter(|s| ids.is_empty() || ids.contains(&s.id.as_str()))
        .filter(|s| keys.is_empty() || keys.contains(&s.key.as_str()))
        .filter(|s| {
            params
                .get("type")
                .is_none_or(|t| s.space_type.as_str() == t)
        })
        .take(limit + 1)
        .collect();
    let more = page.len() > limit;
    let page = &page[..page.len().min(limit)];
    let next = more.then(|| {
        encode_cursor(
            "v2spaces",
            limit,
            page.last().and_then(|s| s.id.parse().ok()).unwrap_or(0),
            0,
        )
    });
    let results = page
        .iter()
        .map(|s| {
            let homepage = store
                .dataset
                .content
                .iter()
                .find(|c| {
                    c.space == s.key && c.parent.is_none() && c.content_type == ContentType::Page
                })
                .map(|c| c.id.clone());
            json!({
                "id": s.id,
                "key": s.key,
                "name": s.name,
                "type": s.space_type.as_str(),
                "status": "current",
                "authorId": "sandbox-account",
                "createdAt": super::web::iso(super::model::default_when()),
                "homepageId": homepage,
                "description": null,
                "icon": null,
                "_links": {"webui": format!("/spaces/{}", s.key)},
            })
        })
        .collect();
    v2_response(&view, "/wiki/api/v2/spaces", params, results, next)
}

/// The v2 `body-format` parameter: absent means no body, `storage` the storage format; the
/// sandbox serves no other representation and says so with a 400.
fn wants_storage_body(params: &Params) -> Result<bool, Box<Response>> {
    match params.get("body-format") {
        None | Some("") => Ok(false),
        Some("storage") => Ok(true),
        Some(other) => Err(Box::new(v2_error(
            StatusCode::BAD_REQUEST,
            &format!("body-format {other:?} is not supported by the sandbox (only storage)"),
        ))),
    }
}

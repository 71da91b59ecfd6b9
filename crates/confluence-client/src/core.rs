//! What the Cloud and the Data Center clients share: one GET with error mapping, JSON parsing
//! that names the endpoint, and the guarded `_links.next` loop.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use http::HeaderMap;
use http_transport::{Authorizer, LinkGuard, ReadOnly, Response, Transport, TransportError};
use serde::de::DeserializeOwned;
use url::Url;

use http_transport::{
    StaticAuthorizer, TokenCache, TokenEndpoint, TokenRequest, TransportObserver,
};

use crate::api::ConfluenceApi;
use crate::config::{AuthConfig, ConfluenceConfig};
use crate::cql;
use crate::error::ConfigProblem;
use crate::limits::dc_search_cap;
use crate::model::{AttachmentStream, InlineAttachmentInfo, InstanceType, Page, PageAttachments};
use crate::wire::{self, next_link, V1Attachment, V1List, V1Page, V2Attachment, V2Content, V2List};
use crate::ConfluenceError;

/// Expansions of every page listing (labels, version, space for keys and change detection).
pub(crate) const PAGE_EXPAND: &str = "metadata.labels,version,space";
/// Appended when attachments are enabled: the first N attachments come inline with the search.
pub(crate) const ATT_EXPAND: &str =
    ",children.attachment,children.attachment.version,children.attachment.extensions";
/// Expansions of a body fetch through v1 (Data Center).
pub(crate) const BODY_EXPAND: &str = "body.storage,version,space,metadata.labels";
/// Pages whose attachment lists are completed at the same time.
pub(crate) const COMPLETION_CONCURRENCY: usize = 4;
/// Page size asked of label and descendant searches; the server may give fewer.
pub(crate) const SEARCH_LIMIT: usize = 100;
/// The smallest page size the search falls back to (v1 search's own default). Below it a 5xx
/// is not the page size's fault.
pub(crate) const SEARCH_LIMIT_FLOOR: usize = 25;

/// An item of a listing, by the id it is deduplicated on.
pub(crate) trait ListedItem {
    /// `None` for an item without a usable id: kept, never taken for a duplicate.
    fn listing_id(&self) -> Option<String>;
}

impl ListedItem for V1Page {
    fn listing_id(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

impl ListedItem for V1Attachment {
    fn listing_id(&self) -> Option<String> {
        Some(self.id.clone())
    }
}

impl ListedItem for V2Attachment {
    fn listing_id(&self) -> Option<String> {
        Some(self.id.0.clone())
    }
}

impl ListedItem for V2Content {
    fn listing_id(&self) -> Option<String> {
        Some(self.id.0.clone())
    }
}

/// Body batches stay raw JSON until each item is parsed leniently.
impl ListedItem for serde_json::Value {
    fn listing_id(&self) -> Option<String> {
        match self.get("id")? {
            serde_json::Value::String(id) => Some(id.clone()),
            serde_json::Value::Number(id) => Some(id.to_string()),
            _ => None,
        }
    }
}

/// A list response: its items and the raw `next` link.
pub(crate) trait Listing: DeserializeOwned {
    type Item: ListedItem;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
    /// The `limit` the server actually applied, when it says (v1 only).
    fn effective_limit(&self) -> Option<u64> {
        None
    }
}

impl<T: DeserializeOwned + ListedItem> Listing for V1List<T> {
    type Item = T;
    fn effective_limit(&self) -> Option<u64> {
        self.limit
    }
    fn into_parts(self) -> (Vec<T>, Option<String>) {
        let next = next_link(&self.links).map(str::to_owned);
        (self.results, next)
    }
}

impl<T: DeserializeOwned + ListedItem> Listing for V2List<T> {
    type Item = T;
    fn into_parts(self) -> (Vec<T>, Option<String>) {
        let next = next_link(&self.links).map(str::to_owned);
        (self.results, next)
    }
}

/// The path of a URL, which is how errors name an endpoint (queries can be long).
pub(crate) fn endpoint_of(url: &Url) -> String {
    url.path().to_owned()
}

/// The decoded value of a query parameter.
fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// `url` with `name=<encoded>` replacing that parameter (or appended); every other parameter
/// keeps its bytes, so the server's own encoding of `cql` goes back as it came.
fn with_query_param(url: &Url, name: &str, encoded: &str) -> Url {
    let mut found = false;
    let mut pairs: Vec<String> = url
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            if pair.split('=').next() == Some(name) {
                found = true;
                format!("{name}={encoded}")
            } else {
                pair.to_owned()
            }
        })
        .collect();
    if !found {
        pairs.push(format!("{name}={encoded}"));
    }
    let mut out = url.clone();
    out.set_query(Some(&pairs.join("&")));
    out
}

/// `url` whose `expand` list includes `expansion`; commas stay raw, as the clients send them.
pub(crate) fn with_expansion(url: &Url, expansion: &str) -> Url {
    let mut list: Vec<String> = query_param(url, "expand")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if list.iter().any(|e| e == expansion) {
        return url.clone();
    }
    list.push(expansion.to_owned());
    let encoded: Vec<String> = list
        .iter()
        .map(|e| crate::urls::encode_component(e))
        .collect();
    with_query_param(url, "expand", &encoded.join(","))
}

/// What the Cloud and the Data Center clients share: their configuration, the transports, the
/// credentials and the remembered search page size. Cheap to clone: all of it is shared.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    pub(crate) instance_type: InstanceType,
    pub(crate) transport: Transport<ReadOnly>,
    /// `transport` without retries, for search pages above [`SEARCH_LIMIT_FLOOR`]: a 5xx there
    /// halves the page size at once instead of waiting through the retry policy.
    pub(crate) search_transport: Transport<ReadOnly>,
    /// The search page size that works this cycle (see [`Core::search_all_pages`]).
    pub(crate) search_limit: Arc<AtomicUsize>,
    pub(crate) auth: Arc<dyn Authorizer>,
    /// Cloud `<gateway>/ex/confluence/<cloudId>`, Data Center the base URL.
    pub(crate) api_root: String,
    /// How errors name the instance.
    pub(crate) instance: String,
    pub(crate) page_cap: usize,
    pub(crate) attachments_enabled: bool,
    pub(crate) config: Arc<ConfluenceConfig>,
    /// The space types discovery searches ([`ConfluenceConfig::effective_space_types`]).
    pub(crate) space_types: Arc<[String]>,
}

impl Core {
    /// The CQL of the label search: either ingest label, in a space of an allowed type.
    pub(crate) fn label_cql(&self) -> String {
        cql::labelled_pages(
            &self.config.ingest_single_label,
            &self.config.ingest_all_label,
            &self.space_types,
        )
    }

    /// `API + path_and_query`, parsed.
    pub(crate) fn api_url(&self, path_and_query: &str) -> Result<Url, ConfluenceError> {
        self.parse_url(&format!("{}{}", self.api_root, path_and_query))
    }

    pub(crate) fn parse_url(&self, raw: &str) -> Result<Url, ConfluenceError> {
        Url::parse(raw).map_err(|e| ConfluenceError::Transport {
            instance: self.instance.clone(),
            endpoint: raw.split('?').next().unwrap_or(raw).to_owned(),
            source: Box::new(TransportError::InvalidUrl {
                url: raw.to_owned(),
                reason: e.to_string(),
            }),
        })
    }

    /// The absolute URL of a server-provided `next` link. Like the reference, relative links
    /// are appended to the API root. On Cloud, v1 links relative to the site's `/wiki` base
    /// (`/rest/api/…`) get `/wiki` in front, since the gateway serves everything under `/wiki`.
    pub(crate) fn resolve_next(&self, link: &str) -> Result<Url, ConfluenceError> {
        if link.starts_with("https://") || link.starts_with("http://") {
            // Absolute links are followed only on the API's own origin: credentials go nowhere
            // else (the transport drops them on redirects; this covers links in bodies).
            let url = self.parse_url(link)?;
            let root = self.parse_url(&self.api_root)?;
            if url.origin() != root.origin() {
                return Err(ConfluenceError::Pagination {
                    instance: self.instance.clone(),
                    endpoint: endpoint_of(&url),
                    source: Box::new(http_transport::PaginationError::ForeignOrigin {
                        url: url.to_string(),
                        origin: root.origin().ascii_serialization(),
                    }),
                });
            }
            return Ok(url);
        }
        let link = if link.starts_with('/') {
            link.to_owned()
        } else {
            format!("/{link}")
        };
        match self.instance_type {
            InstanceType::Cloud if !link.starts_with("/wiki/") => {
                self.api_url(&format!("/wiki{link}"))
            }
            _ => self.api_url(&link),
        }
    }

    /// A transport failure on `endpoint` as the variant an operator acts on.
    pub(crate) fn transport_error(
        &self,
        endpoint: &str,
        source: TransportError,
    ) -> ConfluenceError {
        ConfluenceError::from_transport(self.instance_type, &self.instance, endpoint, source)
    }

    /// One authorised GET; the final 2xx response.
    pub(crate) async fn get(&self, url: Url) -> Result<Response, ConfluenceError> {
        self.get_with(url, HeaderMap::new(), self.auth.as_ref())
            .await
    }

    pub(crate) async fn get_with(
        &self,
        url: Url,
        headers: HeaderMap,
        auth: &dyn Authorizer,
    ) -> Result<Response, ConfluenceError> {
        let endpoint = endpoint_of(&url);
        self.transport
            .get(url, headers, auth)
            .await
            .map_err(|e| self.transport_error(&endpoint, e))
    }

    /// The raw body of a GET (parsed by the caller, so every decode error names the endpoint).
    pub(crate) async fn get_bytes(&self, url: Url) -> Result<bytes::Bytes, ConfluenceError> {
        let endpoint = endpoint_of(&url);
        let response = self.get(url).await?;
        response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&endpoint, e))
    }

    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: Url,
    ) -> Result<T, ConfluenceError> {
        let endpoint = endpoint_of(&url);
        let bytes = self.get_bytes(url).await?;
        wire::parse(&bytes, &endpoint, self.transport.config().remote_text)
    }

    /// Every item of a listing, each id once (first occurrence wins: a server that repeats an
    /// item must not make it ingested twice).
    ///
    /// Cloud pages by cursor: its `next` links are the only driver, followed as given. Data
    /// Center pages by offset, and nothing in its `next` is to be trusted but its presence:
    /// some versions advance `start` by the limit asked for after serving fewer, which skips
    /// items silently; past about 200 items (CONFSERVER-95396) the last page keeps a `next`,
    /// and so does every page after it, empty or repeating items already served; and a link
    /// that names another query would read the wrong listing. So on Data Center the next page is
    /// this request with `start` moved on by the items received (too small an offset only
    /// repeats items, which are dropped; too large a one loses them), and a page that brings no
    /// new id ends the listing. The [`LinkGuard`] stops a repeated link, a link to another
    /// origin and a chain longer than the page cap.
    pub(crate) async fn get_all<L: Listing>(
        &self,
        first: Url,
    ) -> Result<Vec<L::Item>, ConfluenceError> {
        let endpoint = endpoint_of(&first);
        let first_expand = expand_of(&first);
        let mut guard = LinkGuard::new(&first, self.page_cap);
        let mut url = first;
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut repeated = 0usize;
        loop {
            let listing: L = self.get_json(url.clone()).await?;
            let limit = listing.effective_limit();
            let (results, next) = listing.into_parts();
            let received = results.len();
            let before = items.len();
            for item in results {
                if item.listing_id().is_some_and(|id| !seen.insert(id)) {
                    repeated += 1;
                    continue;
                }
                items.push(item);
            }
            let fresh = items.len() - before;
            tracing::debug!(
                endpoint = %endpoint,
                items = received,
                new = fresh,
                server_limit = ?limit,
                more = next.is_some(),
                "Confluence listing page"
            );
            let Some(next) = next else {
                break;
            };
            url = match self.instance_type {
                InstanceType::Cloud => with_expansions_of(&first_expand, self.resolve_next(&next)?),
                InstanceType::DataCenter if fresh == 0 => {
                    tracing::debug!(
                        endpoint = %endpoint,
                        "Data Center listing page brought nothing new; taking it as the end"
                    );
                    break;
                }
                InstanceType::DataCenter => {
                    let start = query_param(&url, "start")
                        .and_then(|s| s.parse::<usize>().ok())
                        .unwrap_or(0);
                    with_query_param(&url, "start", &(start + received).to_string())
                }
            };
            guard
                .admit(&url)
                .map_err(|source| ConfluenceError::Pagination {
                    instance: self.instance.clone(),
                    endpoint: endpoint.clone(),
                    source: Box::new(source),
                })?;
        }
        if repeated > 0 {
            tracing::warn!(
                endpoint = %endpoint,
                repeated,
                "Confluence listed items more than once; each was kept once"
            );
        }
        Ok(items)
    }

    /// A v1 page listing (content search), every page converted strictly, with what each
    /// result said about its access (`None` unless the access expansions were asked for).
    async fn get_all_pages(&self, first: Url) -> Result<ListedPages, ConfluenceError> {
        let endpoint = endpoint_of(&first);
        let mut pages = Vec::new();
        let mut access = Vec::new();
        for mut item in self.get_all::<V1List<V1Page>>(first).await? {
            let listed = crate::access_wire::listed_access(
                &item.id,
                item.ancestors.take(),
                item.restrictions.take(),
                self.instance_type,
            );
            pages.push(item.into_page(&endpoint)?);
            access.push(listed);
        }
        Ok((pages, access))
    }

    /// `expand` of page listings, with attachments when enabled.
    pub(crate) fn page_expand(&self) -> String {
        if self.attachments_enabled {
            format!("{PAGE_EXPAND}{ATT_EXPAND}")
        } else {
            PAGE_EXPAND.to_owned()
        }
    }

    /// `expand` of the discovery and descendant searches: [`Core::page_expand`], and with
    /// `view_restrictions` each page's view restriction and ancestors too.
    fn discovery_expand(&self) -> String {
        let mut expand = self.page_expand();
        if self.config.view_restrictions {
            expand.push(',');
            expand.push_str(crate::access_wire::ACCESS_EXPAND);
        }
        expand
    }
}

/// Pages of a search and, per page, what it said about its access.
type ListedPages = (Vec<Page>, Vec<Option<crate::access_wire::ListedAccess>>);

/// The `expand` parameter of a request, as sent.
fn expand_of(url: &Url) -> Option<String> {
    url.query_pairs()
        .find(|(name, _)| name == "expand")
        .map(|(_, value)| value.into_owned())
}

/// `next` with the listing's expansions when the server left them out. Cloud's search links
/// carry `next`, `cursor`, `limit`, `start` and `cql` only (other connectors re-send their own
/// parameters for that reason; docs/sandbox.md); followed as given, every page after the first
/// would come back without labels, versions, spaces or bodies. A link that names its own
/// `expand` is left alone.
fn with_expansions_of(expand: &Option<String>, mut next: Url) -> Url {
    if let Some(expand) = expand {
        if expand_of(&next).is_none() {
            // Spelled as in the first request (commas unescaped), so every page asks alike.
            let expand = crate::urls::encode_component(expand).replace("%2C", ",");
            let query = match next.query() {
                Some(query) if !query.is_empty() => format!("{query}&expand={expand}"),
                _ => format!("expand={expand}"),
            };
            next.set_query(Some(&query));
        }
    }
    next
}

/// Dedupes by page id, first occurrence wins, order kept.
pub(crate) fn dedupe_pages(pages: Vec<Page>) -> Vec<Page> {
    let mut seen = std::collections::HashSet::new();
    pages
        .into_iter()
        .filter(|p| seen.insert(p.id.clone()))
        .collect()
}

impl Core {
    /// A content-search URL: `cql` encoded like `encodeURIComponent`, `expand` raw, as the
    /// reference sends them. On Data Center `limit` never exceeds the cap for `expand`.
    pub(crate) fn search_url(
        &self,
        search_path: &str,
        cql: &str,
        expand: &str,
        limit: usize,
        with_start: bool,
    ) -> Result<Url, ConfluenceError> {
        let limit = match self.instance_type {
            InstanceType::DataCenter => limit.min(dc_search_cap(expand)),
            InstanceType::Cloud => limit,
        };
        let start = if with_start { "&start=0" } else { "" };
        self.api_url(&format!(
            "{search_path}?cql={}&expand={expand}&limit={limit}{start}",
            crate::urls::encode_component(cql)
        ))
    }

    /// Label search, then descendants; shared by both flavours (only the search path differs).
    /// A label search starts a cycle, so it starts again from the full page size.
    pub(crate) async fn search_labelled(
        &self,
        search_path: &str,
        cql: &str,
    ) -> Result<Vec<Page>, ConfluenceError> {
        self.search_limit.store(SEARCH_LIMIT, Ordering::Relaxed);
        self.search_all_pages(search_path, cql, true).await
    }

    pub(crate) async fn search_descendants(
        &self,
        search_path: &str,
        root_ids: &[String],
    ) -> Result<Vec<Page>, ConfluenceError> {
        let mut pages = Vec::new();
        for batch in root_ids.chunks(DESCENDANT_BATCH) {
            let cql = crate::cql::descendants(batch);
            pages.extend(self.search_all_pages(search_path, &cql, false).await?);
        }
        Ok(dedupe_pages(pages))
    }

    /// The page with exactly this title in this space, found by CQL on both flavours: Cloud
    /// answers 410 to v1 `content?spaceKey=…&title=…` behind the gateway, and Data Center
    /// administrators often block that listing (403; CONFSERVER-57639).
    pub(crate) async fn page_by_title(
        &self,
        search_path: &str,
        space_key: &str,
        title: &str,
    ) -> Result<Option<Page>, ConfluenceError> {
        let cql = crate::cql::page_by_title(space_key, title);
        let url = self.search_url(search_path, &cql, &self.page_expand(), 25, false)?;
        let endpoint = endpoint_of(&url);
        let list: V1List<V1Page> = self.get_json(url).await?;
        let mut pages = list
            .results
            .into_iter()
            .map(|p| p.into_page(&endpoint))
            .collect::<Result<Vec<_>, _>>()?;
        // CQL title matching can be looser than equality; only the exact title counts.
        Ok(pages
            .iter()
            .position(|p| p.title == title && p.content_type != crate::model::ContentType::Unknown)
            .map(|index| pages.swap_remove(index)))
    }

    /// Every result of one expanded CQL search. Cloud answers 5xx for pages it cannot expand in
    /// time, and a smaller page is the cure: on a 500, 502 or 504 the listing restarts from its
    /// first page at half the size, down to [`SEARCH_LIMIT_FLOOR`]. What the failed attempt had
    /// fetched is dropped, never merged: a cursor chain must keep one page size throughout (a
    /// changed `limit` can skip or repeat items), so the restart is a new chain from the start.
    /// The size that worked is kept for the rest of the cycle (`search_limit`; the next label
    /// search resets it, so a passing overload does not shrink every later cycle).
    ///
    /// Above the floor, pages go through a transport without retries; a 429, a 503 or a
    /// connection failure there is not the page size's fault, so the same size is tried again
    /// with the normal retry policy.
    async fn search_all_pages(
        &self,
        search_path: &str,
        cql: &str,
        with_start: bool,
    ) -> Result<Vec<Page>, ConfluenceError> {
        let expand = self.discovery_expand();
        let mut patient = false;
        loop {
            let limit = self.search_limit.load(Ordering::Relaxed);
            let url = self.search_url(search_path, cql, &expand, limit, with_start)?;
            let impatient = limit > SEARCH_LIMIT_FLOOR && !patient;
            let attempt = if impatient {
                self.with_transport(self.search_transport.clone())
                    .get_all_pages(url)
                    .await
            } else {
                self.get_all_pages(url).await
            };
            match attempt {
                Ok((mut pages, access)) => {
                    if self.config.view_restrictions {
                        self.fill_access(&mut pages, access).await;
                    }
                    return Ok(pages);
                }
                Err(e) if limit > SEARCH_LIMIT_FLOOR && is_overloaded(&e) => {
                    let smaller = (limit / 2).max(SEARCH_LIMIT_FLOOR);
                    tracing::warn!(err = %e, from = limit, to = smaller, "search answered a server error: restarting the listing from its first page with a smaller page size");
                    self.search_limit.store(smaller, Ordering::Relaxed);
                    patient = false;
                }
                Err(e) if impatient && is_transient(&e) => patient = true,
                Err(e) => return Err(e),
            }
        }
    }

    /// This core, sending through `transport` (same limiter, credentials and settings).
    fn with_transport(&self, transport: Transport<ReadOnly>) -> Core {
        Core {
            transport,
            ..self.clone()
        }
    }

    /// One `limit=1` search page, not followed.
    pub(crate) async fn probe_search(
        &self,
        search_path: &str,
        cql: &str,
    ) -> Result<(), ConfluenceError> {
        let url = self.search_url(search_path, cql, PAGE_EXPAND, 1, true)?;
        let endpoint = endpoint_of(&url);
        let list: V1List<V1Page> = self.get_json(url).await?;
        for page in list.results {
            page.into_page(&endpoint)?;
        }
        Ok(())
    }
}

/// A server error a smaller search page may avoid (503 says "come back later", not "too big").
fn is_overloaded(error: &ConfluenceError) -> bool {
    matches!(error.status(), Some(500 | 502 | 504))
}

/// What the normal retry policy would have waited out: a 429, a 503, no answer at all.
fn is_transient(error: &ConfluenceError) -> bool {
    match error.status() {
        Some(status) => matches!(status, 429 | 503),
        None => matches!(
            error,
            ConfluenceError::Transport { source, .. }
                if matches!(source.as_ref(), TransportError::Connect { .. } | TransportError::Timeout { .. } | TransportError::Body { .. })
        ),
    }
}

impl Core {
    /// Builds the transport and credentials for a validated configuration.
    pub(crate) fn connect(
        config: ConfluenceConfig,
        observer: Arc<dyn TransportObserver>,
    ) -> Result<Core, ConfluenceError> {
        let instance = config.instance_label();
        let transport_config = config.transport_config();
        let setup_error = |endpoint: &str, source| ConfluenceError::Transport {
            instance: instance.clone(),
            endpoint: endpoint.to_owned(),
            source: Box::new(source),
        };
        let auth: Arc<dyn Authorizer> = match &config.auth {
            AuthConfig::OAuth2lo {
                client_id,
                client_secret,
            } => {
                let token_url = config.effective_token_url();
                let url = url::Url::parse(&token_url).map_err(|e| ConfluenceError::Config {
                    problems: vec![ConfigProblem {
                        path: "auth.tokenUrl".to_owned(),
                        message: e.to_string(),
                    }],
                })?;
                let request = match config.instance_type {
                    InstanceType::Cloud => TokenRequest::JsonClientCredentials {
                        client_id: client_id.clone(),
                        client_secret: client_secret.clone(),
                    },
                    // Data Center service accounts get no scope unless they ask for READ.
                    InstanceType::DataCenter => TokenRequest::FormClientCredentials {
                        client_id: client_id.clone(),
                        client_secret: client_secret.clone(),
                        extra: vec![("scope".to_owned(), "READ".to_owned())],
                    },
                };
                let endpoint = TokenEndpoint::new(&transport_config, url, request)
                    .map_err(|e| setup_error(&token_url, e))?;
                Arc::new(TokenCache::with_refresh_before(
                    endpoint,
                    config.token_refresh_before,
                ))
            }
            AuthConfig::Pat { token } => Arc::new(
                StaticAuthorizer::bearer(token).map_err(|_| invalid_credential("auth.token"))?,
            ),
            AuthConfig::Basic { username, password } => Arc::new(
                StaticAuthorizer::basic(username, password)
                    .map_err(|_| invalid_credential("auth.username"))?,
            ),
        };
        let retry = transport_config.retry;
        let transport = Transport::<ReadOnly>::new(transport_config, observer)
            .map_err(|e| setup_error("(transport setup)", e))?;
        // No retries at all: neither the count nor the time budget (what a GET is retried by).
        let search_transport = transport.with_retry_policy(http_transport::RetryPolicy {
            max_retries: 0,
            budget: std::time::Duration::ZERO,
            ..retry
        });
        Ok(Core {
            space_types: config.effective_space_types().into(),
            instance_type: config.instance_type,
            transport,
            search_transport,
            search_limit: Arc::new(std::sync::atomic::AtomicUsize::new(SEARCH_LIMIT)),
            auth,
            api_root: config.api_root(),
            instance,
            page_cap: config.page_cap,
            attachments_enabled: config.attachments_enabled,
            config: Arc::new(config),
        })
    }
}

fn invalid_credential(path: &str) -> ConfluenceError {
    ConfluenceError::Config {
        problems: vec![ConfigProblem {
            path: path.to_owned(),
            message: "cannot be sent in an HTTP header".to_owned(),
        }],
    }
}

/// Wraps a download response; the body is never buffered here.
pub(crate) fn attachment_stream(response: Response) -> AttachmentStream {
    let header = |name: http::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_length = header(http::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let content_type = header(http::header::CONTENT_TYPE);
    AttachmentStream {
        content_length,
        content_type,
        stream: response.into_stream(),
    }
}

/// Completes the attachment list of every page whose inline list may be truncated, a few pages
/// at a time: each completion is a short chain of requests, and the rate limiter, not this loop,
/// should set the pace. Shared by both flavours; only `complete_attachments` differs.
///
/// A listing that answers 404 or 403 means that page was deleted or restricted since the
/// search: the page keeps what the search inlined and is marked
/// [`Page::attachments_incomplete`], and discovery goes on. Any other error fails it.
pub(crate) async fn complete_truncated_attachments<C: ConfluenceApi>(
    client: &C,
    pages: &mut [Page],
) -> Result<(), ConfluenceError> {
    // Plain loops rather than stream combinators: closures over borrowed pages would make the
    // future lose `Send` (higher-ranked lifetime inference).
    let mut truncated: Vec<&mut Page> = Vec::new();
    for page in pages.iter_mut() {
        if page
            .inline_attachments
            .as_ref()
            .is_some_and(InlineAttachmentInfo::possibly_truncated)
        {
            truncated.push(page);
        }
    }
    for group in truncated.chunks_mut(COMPLETION_CONCURRENCY) {
        let mut completions = Vec::with_capacity(group.len());
        let mut ids = Vec::with_capacity(group.len());
        for page in group.iter_mut() {
            ids.push(page.id.clone());
            completions.push(client.complete_attachments(page));
        }
        let results = futures::future::join_all(completions).await;
        let mut unavailable = Vec::new();
        for (id, result) in ids.into_iter().zip(results) {
            match result {
                Ok(()) => {}
                Err(e) if matches!(e.status(), Some(403 | 404)) => {
                    tracing::warn!(page_id = %id, err = %e, "attachment listing unavailable (page deleted or restricted since the search): keeping the page's stored attachments this cycle");
                    unavailable.push(id);
                }
                Err(e) => return Err(e),
            }
        }
        for page in group.iter_mut().filter(|p| unavailable.contains(&p.id)) {
            page.attachments_incomplete = true;
        }
    }
    Ok(())
}

/// The attachments of the page titled `title` in `space_key` (image inlining), found by CQL on
/// both flavours ([`Core::page_by_title`]) and completed past the inline cap; `None` when
/// attachments are disabled or there is no such page.
pub(crate) async fn attachments_of_page_titled<C: ConfluenceApi>(
    client: &C,
    core: &Core,
    search_path: &str,
    space_key: &str,
    title: &str,
) -> Result<Option<PageAttachments>, ConfluenceError> {
    if !core.attachments_enabled {
        return Ok(None);
    }
    let Some(mut page) = core.page_by_title(search_path, space_key, title).await? else {
        return Ok(None);
    };
    client.complete_attachments(&mut page).await?;
    Ok(Some(PageAttachments {
        page_id: page.id,
        attachments: page.attachments,
    }))
}

/// Roots per descendant query (CQL `ancestor IN (…)` length stays modest).
pub(crate) const DESCENDANT_BATCH: usize = 100;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{AuthConfig, ConfluenceConfig};
    use http_transport::{NoopObserver, SecretString};

    fn cloud_core(attachments: bool) -> Core {
        let mut config = ConfluenceConfig::cloud(
            "https://tenant1.atlassian.net",
            "cloud-1",
            "id",
            SecretString::from("secret".to_owned()),
        );
        config.attachments_enabled = attachments;
        Core::connect(config, Arc::new(NoopObserver)).unwrap()
    }

    fn dc_core() -> Core {
        let config = ConfluenceConfig::data_center(
            "https://dc.acme.com/confluence",
            AuthConfig::OAuth2lo {
                client_id: "id".into(),
                client_secret: SecretString::from("secret".to_owned()),
            },
        );
        Core::connect(config, Arc::new(NoopObserver)).unwrap()
    }

    #[test]
    fn label_search_url_matches_the_reference_shape() {
        let core = cloud_core(true);
        let cql =
            crate::cql::labelled_pages("ai-ingest", "ai-ingest-all", &["global", "collaboration"]);
        let url = core
            .search_url(
                "/wiki/rest/api/content/search",
                &cql,
                &core.page_expand(),
                SEARCH_LIMIT,
                true,
            )
            .unwrap();
        insta::assert_snapshot!(url.as_str(), @"https://api.atlassian.com/ex/confluence/cloud-1/wiki/rest/api/content/search?cql=((label%3D%22ai-ingest%22)%20OR%20(label%3D%22ai-ingest-all%22))%20AND%20(space.type%3Dglobal%20OR%20space.type%3Dcollaboration)%20AND%20type%20!%3D%20attachment&expand=metadata.labels,version,space,children.attachment,children.attachment.version,children.attachment.extensions&limit=100&start=0");
        assert!(!url.as_str().contains("os_authType"));
    }

    #[test]
    fn no_attachment_expansion_when_attachments_are_disabled() {
        let core = cloud_core(false);
        assert_eq!(core.page_expand(), "metadata.labels,version,space");
    }

    #[test]
    fn descendant_search_url_has_no_start() {
        let core = dc_core();
        let url = core
            .search_url(
                "/rest/api/content/search",
                &crate::cql::descendants(&["10", "20"]),
                &core.page_expand(),
                SEARCH_LIMIT,
                false,
            )
            .unwrap();
        insta::assert_snapshot!(url.as_str(), @"https://dc.acme.com/confluence/rest/api/content/search?cql=ancestor%20IN%20(10%2C20)%20AND%20type%20!%3D%20attachment&expand=metadata.labels,version,space,children.attachment,children.attachment.version,children.attachment.extensions&limit=100");
    }

    #[test]
    fn a_next_link_without_expand_gets_the_listing_s_expansions_back() {
        let first = Url::parse(
            "https://gw/ex/confluence/c/wiki/rest/api/content/search?cql=x&expand=metadata.labels,version,space&limit=100",
        )
        .unwrap();
        let expand = expand_of(&first);
        let bare = Url::parse(
            "https://gw/ex/confluence/c/wiki/rest/api/content/search?next=true&cursor=abc&limit=100&start=100&cql=x",
        )
        .unwrap();
        assert_eq!(
            with_expansions_of(&expand, bare).as_str(),
            "https://gw/ex/confluence/c/wiki/rest/api/content/search?next=true&cursor=abc&limit=100&start=100&cql=x&expand=metadata.labels,version,space"
        );
        // A link with its own `expand` keeps it; a listing without expansions adds none.
        let own = Url::parse("https://gw/x?cursor=abc&expand=version").unwrap();
        assert_eq!(with_expansions_of(&expand, own.clone()), own);
        let bare = Url::parse("https://gw/x?cursor=abc").unwrap();
        assert_eq!(with_expansions_of(&None, bare.clone()), bare);
    }

    #[test]
    fn cloud_next_links_are_appended_to_the_gateway() {
        let core = cloud_core(true);
        assert_eq!(
            core.resolve_next("/wiki/rest/api/content/search?cql=x&start=25")
                .unwrap()
                .as_str(),
            "https://api.atlassian.com/ex/confluence/cloud-1/wiki/rest/api/content/search?cql=x&start=25"
        );
        // Relative to the site's `/wiki` base, as real v1 search links are.
        assert_eq!(
            core.resolve_next("/rest/api/content/search?cursor=abc")
                .unwrap()
                .as_str(),
            "https://api.atlassian.com/ex/confluence/cloud-1/wiki/rest/api/content/search?cursor=abc"
        );
        assert_eq!(
            core.resolve_next("/wiki/api/v2/pages/1/attachments?cursor=z")
                .unwrap()
                .as_str(),
            "https://api.atlassian.com/ex/confluence/cloud-1/wiki/api/v2/pages/1/attachments?cursor=z"
        );
    }

    #[test]
    fn data_center_next_links_are_appended_to_the_base_url_with_context_path() {
        let core = dc_core();
        assert_eq!(
            core.resolve_next("/rest/api/content/700/child/attachment?start=25")
                .unwrap()
                .as_str(),
            "https://dc.acme.com/confluence/rest/api/content/700/child/attachment?start=25"
        );
    }

    #[test]
    fn absolute_links_to_another_origin_are_refused() {
        let core = dc_core();
        let err = core
            .resolve_next("https://evil.example.com/rest/api/content/search")
            .unwrap_err();
        assert!(matches!(err, ConfluenceError::Pagination { .. }), "{err}");
        assert!(core
            .resolve_next("https://dc.acme.com/confluence/rest/api/content/search?start=5")
            .is_ok());
    }

    #[test]
    fn data_center_searches_never_ask_more_than_the_cap_for_their_expansion() {
        assert_eq!(dc_search_cap(""), 1000);
        assert_eq!(dc_search_cap("metadata.labels,version,space"), 200);
        assert_eq!(dc_search_cap(BODY_EXPAND), 50);
        let core = dc_core();
        let limit_of = |expand: &str, asked: usize| {
            let url = core
                .search_url(
                    "/rest/api/content/search",
                    "type=page",
                    expand,
                    asked,
                    false,
                )
                .unwrap();
            query_param(&url, "limit").unwrap()
        };
        assert_eq!(limit_of(BODY_EXPAND, 100), "50");
        assert_eq!(limit_of(&core.page_expand(), SEARCH_LIMIT), "100");
        assert_eq!(limit_of(&core.page_expand(), 500), "200");
        assert_eq!(limit_of("", 5000), "1000");
        // Cloud has its own caps and cursors; its limits go as asked.
        let cloud = cloud_core(true);
        let url = cloud
            .search_url(
                "/wiki/rest/api/content/search",
                "type=page",
                BODY_EXPAND,
                100,
                false,
            )
            .unwrap();
        assert_eq!(query_param(&url, "limit").unwrap(), "100");
    }

    #[test]
    fn a_query_parameter_is_replaced_or_added_and_the_rest_keeps_its_bytes() {
        let url = Url::parse(
            "https://dc.example/rest/api/content/search?cql=type%20%3D%20page&expand=a,b&limit=100&start=100",
        )
        .unwrap();
        assert_eq!(
            with_query_param(&url, "start", "50").as_str(),
            "https://dc.example/rest/api/content/search?cql=type%20%3D%20page&expand=a,b&limit=100&start=50"
        );
        let bare =
            Url::parse("https://dc.example/rest/api/content/1/child/attachment?limit=25").unwrap();
        assert_eq!(
            with_query_param(&bare, "start", "25").as_str(),
            "https://dc.example/rest/api/content/1/child/attachment?limit=25&start=25"
        );
        // `starting` is not `start`.
        let tricky = Url::parse("https://dc.example/x?starting=1").unwrap();
        assert_eq!(
            with_query_param(&tricky, "start", "2").as_str(),
            "https://dc.example/x?starting=1&start=2"
        );
    }

    #[test]
    fn an_expansion_is_added_once() {
        let link =
            Url::parse("https://dc.example/rest/api/content/1/child/attachment?limit=25&start=25")
                .unwrap();
        let with = with_expansion(&link, "version");
        assert_eq!(
            with.as_str(),
            "https://dc.example/rest/api/content/1/child/attachment?limit=25&start=25&expand=version"
        );
        assert_eq!(with_expansion(&with, "version"), with);
        let listed = Url::parse("https://dc.example/a?expand=extensions&start=0").unwrap();
        assert_eq!(
            with_expansion(&listed, "version").as_str(),
            "https://dc.example/a?expand=extensions,version&start=0"
        );
    }

    #[test]
    fn listed_items_are_deduplicated_by_their_id() {
        assert_eq!(
            serde_json::json!({"id": "12"}).listing_id().as_deref(),
            Some("12")
        );
        assert_eq!(
            serde_json::json!({"id": 12}).listing_id().as_deref(),
            Some("12")
        );
        assert_eq!(serde_json::json!({"title": "x"}).listing_id(), None);
    }

    #[test]
    fn dedupe_keeps_the_first_occurrence() {
        let page = |id: &str, title: &str| Page {
            id: id.into(),
            title: title.into(),
            content_type: crate::model::ContentType::Page,
            space: crate::model::Space {
                id: "1".into(),
                key: "SP".into(),
                name: "S".into(),
            },
            version_when: "t".into(),
            webui: "/x".into(),
            labels: vec![],
            attachments: vec![],
            inline_attachments: None,
            attachments_incomplete: false,
            access: None,
        };
        let pages = dedupe_pages(vec![page("1", "a"), page("2", "b"), page("1", "c")]);
        let titles: Vec<&str> = pages.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["a", "b"]);
    }
}

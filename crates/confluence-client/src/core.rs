//! What the Cloud and the Data Center clients share: one GET with error mapping, JSON parsing
//! that names the endpoint, and the guarded `_links.next` loop.

use std::sync::Arc;

use http::HeaderMap;
use http_transport::{Authorizer, LinkGuard, ReadOnly, Response, Transport, TransportError};
use serde::de::DeserializeOwned;
use url::Url;

use crate::model::{InstanceType, Page};
use crate::wire::{self, next_link, V1List, V1Page, V2List};
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

/// A list response: its items and the raw `next` link.
pub(crate) trait Listing: DeserializeOwned {
    type Item;
    fn into_parts(self) -> (Vec<Self::Item>, Option<String>);
    /// The `limit` the server actually applied, when it says (v1 only).
    fn effective_limit(&self) -> Option<u64> {
        None
    }
}

impl<T: DeserializeOwned> Listing for V1List<T> {
    type Item = T;
    fn effective_limit(&self) -> Option<u64> {
        self.limit
    }
    fn into_parts(self) -> (Vec<T>, Option<String>) {
        let next = next_link(&self.links).map(str::to_owned);
        (self.results, next)
    }
}

impl<T: DeserializeOwned> Listing for V2List<T> {
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

#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) instance_type: InstanceType,
    pub(crate) transport: Transport<ReadOnly>,
    pub(crate) auth: Arc<dyn Authorizer>,
    /// Cloud `<gateway>/ex/confluence/<cloudId>`, Data Center the base URL.
    pub(crate) api_root: String,
    /// How errors name the instance.
    pub(crate) instance: String,
    pub(crate) page_cap: usize,
    pub(crate) attachments_enabled: bool,
}

impl Core {
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
        wire::parse(&bytes, &endpoint)
    }

    /// Every item of a listing, following `_links.next` until absent. The server's links are the
    /// only driver (no offsets computed here, so a server that caps `limit` lower than asked is
    /// followed correctly); the [`LinkGuard`] stops a repeated link, a link to another origin and
    /// a chain longer than the page cap.
    pub(crate) async fn get_all<L: Listing>(
        &self,
        first: Url,
    ) -> Result<Vec<L::Item>, ConfluenceError> {
        let endpoint = endpoint_of(&first);
        let first_expand = expand_of(&first);
        let mut guard = LinkGuard::new(&first, self.page_cap);
        let mut url = first;
        let mut items = Vec::new();
        loop {
            let listing: L = self.get_json(url).await?;
            let limit = listing.effective_limit();
            let (results, next) = listing.into_parts();
            tracing::debug!(
                endpoint = %endpoint,
                items = results.len(),
                server_limit = ?limit,
                more = next.is_some(),
                "Confluence listing page"
            );
            items.extend(results);
            let Some(next) = next else {
                return Ok(items);
            };
            url = with_expansions_of(&first_expand, self.resolve_next(&next)?);
            guard
                .admit(&url)
                .map_err(|source| ConfluenceError::Pagination {
                    instance: self.instance.clone(),
                    endpoint: endpoint.clone(),
                    source: Box::new(source),
                })?;
        }
    }

    /// A v1 page listing (content search), every page converted strictly.
    pub(crate) async fn get_all_pages(&self, first: Url) -> Result<Vec<Page>, ConfluenceError> {
        let endpoint = endpoint_of(&first);
        self.get_all::<V1List<V1Page>>(first)
            .await?
            .into_iter()
            .map(|p| p.into_page(&endpoint))
            .collect()
    }

    /// `expand` of page listings, with attachments when enabled.
    pub(crate) fn page_expand(&self) -> String {
        if self.attachments_enabled {
            format!("{PAGE_EXPAND}{ATT_EXPAND}")
        } else {
            PAGE_EXPAND.to_owned()
        }
    }
}

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
    /// reference sends them.
    pub(crate) fn search_url(
        &self,
        search_path: &str,
        cql: &str,
        expand: &str,
        limit: usize,
        with_start: bool,
    ) -> Result<Url, ConfluenceError> {
        let start = if with_start { "&start=0" } else { "" };
        self.api_url(&format!(
            "{search_path}?cql={}&expand={expand}&limit={limit}{start}",
            crate::urls::encode_component(cql)
        ))
    }

    /// Label search, then descendants; shared by both flavours (only the search path differs).
    pub(crate) async fn search_labelled(
        &self,
        search_path: &str,
        cql: &str,
    ) -> Result<Vec<Page>, ConfluenceError> {
        let url = self.search_url(search_path, cql, &self.page_expand(), SEARCH_LIMIT, true)?;
        self.get_all_pages(url).await
    }

    pub(crate) async fn search_descendants(
        &self,
        search_path: &str,
        root_ids: &[String],
    ) -> Result<Vec<Page>, ConfluenceError> {
        let mut pages = Vec::new();
        for batch in root_ids.chunks(DESCENDANT_BATCH) {
            let cql = crate::cql::descendants(batch);
            let url =
                self.search_url(search_path, &cql, &self.page_expand(), SEARCH_LIMIT, false)?;
            pages.extend(self.get_all_pages(url).await?);
        }
        Ok(dedupe_pages(pages))
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
        crate::api::build_core(&config, Arc::new(NoopObserver)).unwrap()
    }

    fn dc_core() -> Core {
        let config = ConfluenceConfig::data_center(
            "https://dc.acme.com/confluence",
            AuthConfig::OAuth2lo {
                client_id: "id".into(),
                client_secret: SecretString::from("secret".to_owned()),
            },
        );
        crate::api::build_core(&config, Arc::new(NoopObserver)).unwrap()
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
        };
        let pages = dedupe_pages(vec![page("1", "a"), page("2", "b"), page("1", "c")]);
        let titles: Vec<&str> = pages.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["a", "b"]);
    }
}

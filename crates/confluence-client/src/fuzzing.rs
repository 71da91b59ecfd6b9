//! Entry points for the fuzz targets in `fuzz/` — not an API (hidden, may change at any time).
//! Each runs exactly what a client runs on a response body, without a network.

use std::sync::Arc;

use http_transport::{NoopObserver, SecretString};
use url::Url;

use crate::config::{AuthConfig, ConfluenceConfig};
use crate::core::{Core, Listing};
use crate::model::{Attachment, Page, PageBody};
use crate::wire::{self, V1Attachment, V1List, V1Page, V2Attachment, V2Content, V2List};
use crate::{cql, ConfluenceError};

/// The credential of [`LinkResolver`]'s clients: must never show in an error.
pub const PLANTED_CREDENTIAL: &str = "PLANTED-fuzz-credential-5e1f";

/// The items of one listing page and its raw `_links.next`.
pub type ListingPage<T> = Result<(Vec<T>, Option<String>), ConfluenceError>;

fn listing<L: Listing>(bytes: &[u8], endpoint: &str) -> ListingPage<L::Item> {
    Ok(wire::parse::<L>(bytes, endpoint, http_transport::Disclosure::Disclose)?.into_parts())
}

/// A v1 content search page (label, descendant and title searches), pages converted strictly.
pub fn v1_page_listing(bytes: &[u8]) -> ListingPage<Page> {
    let endpoint = "/rest/api/content/search";
    let (items, next) = listing::<V1List<V1Page>>(bytes, endpoint)?;
    let pages = items
        .into_iter()
        .map(|p| p.into_page(endpoint))
        .collect::<Result<_, _>>()?;
    Ok((pages, next))
}

/// A Data Center `child/attachment` page.
pub fn v1_attachment_listing(bytes: &[u8]) -> ListingPage<Attachment> {
    let (items, next) = listing::<V1List<V1Attachment>>(bytes, "/rest/api/content/child")?;
    Ok((items.into_iter().map(Attachment::from).collect(), next))
}

/// A Cloud v2 attachment page.
pub fn v2_attachment_listing(bytes: &[u8]) -> ListingPage<Attachment> {
    let (items, next) = listing::<V2List<V2Attachment>>(bytes, "/wiki/api/v2/attachments")?;
    Ok((items.into_iter().map(Attachment::from).collect(), next))
}

/// A Data Center body batch (v1 search with `body.storage`), bad items skipped.
pub fn v1_body_batch(bytes: &[u8]) -> ListingPage<PageBody> {
    let endpoint = "/rest/api/content/search";
    let (items, next) = listing::<V1List<serde_json::Value>>(bytes, endpoint)?;
    let bodies = items
        .into_iter()
        .filter_map(|item| wire::lenient_item::<V1Page>(item, endpoint))
        .filter_map(|page| page.into_body(endpoint).ok())
        .collect();
    Ok((bodies, next))
}

/// A Cloud v2 body batch (`pages?id=…&body-format=storage`), bad items skipped.
pub fn v2_body_batch(bytes: &[u8]) -> ListingPage<PageBody> {
    let endpoint = "/wiki/api/v2/pages";
    let (items, next) = listing::<V2List<serde_json::Value>>(bytes, endpoint)?;
    let bodies = items
        .into_iter()
        .filter_map(|item| wire::lenient_item::<V2Content>(item, endpoint))
        .map(PageBody::from)
        .collect();
    Ok((bodies, next))
}

/// The Data Center application-links manifest id.
pub fn manifest_id(bytes: &[u8]) -> Result<String, ConfluenceError> {
    wire::manifest_id(bytes, "/rest/applinks/1.0/manifest")
}

/// The CQL of the label search.
pub fn cql_labelled_pages(single_label: &str, all_label: &str, space_types: &[&str]) -> String {
    cql::labelled_pages(single_label, all_label, space_types)
}

/// The CQL of the descendant search.
pub fn cql_descendants(root_ids: &[&str]) -> String {
    cql::descendants(root_ids)
}

/// The CQL of the Data Center body batch.
pub fn cql_by_ids(ids: &[&str]) -> String {
    cql::by_ids(ids)
}

/// The CQL of the Cloud title lookup.
pub fn cql_page_by_title(space_key: &str, title: &str) -> String {
    cql::page_by_title(space_key, title)
}

/// Resolves server-provided `next` links (and Data Center download paths) as a client does.
#[derive(Debug)]
pub struct LinkResolver {
    core: Core,
}

impl LinkResolver {
    fn new(config: &ConfluenceConfig) -> Self {
        let core = Core::connect(config.clone(), Arc::new(NoopObserver))
            .expect("the fixed fuzzing configuration is valid");
        Self { core }
    }

    /// A Cloud client's resolver (API root behind the default gateway).
    pub fn cloud() -> Self {
        Self::new(&ConfluenceConfig::cloud(
            "https://acme.atlassian.net",
            "cloud-1",
            "id",
            SecretString::from(PLANTED_CREDENTIAL.to_owned()),
        ))
    }

    /// A Data Center client's resolver for `base_url` (which may carry a context path).
    pub fn data_center(base_url: &str) -> Self {
        Self::new(&ConfluenceConfig::data_center(
            base_url,
            AuthConfig::Pat {
                token: SecretString::from(PLANTED_CREDENTIAL.to_owned()),
            },
        ))
    }

    /// The API root every request and followed link must stay on.
    pub fn api_root(&self) -> Result<Url, ConfluenceError> {
        self.core.parse_url(&self.core.api_root)
    }

    /// The absolute URL of `link`, or the error that stops the listing.
    pub fn resolve_next(&self, link: &str) -> Result<Url, ConfluenceError> {
        self.core.resolve_next(link)
    }
}

//! Confluence Data Center: v1 REST straight to the base URL (which includes any context path).

use std::collections::HashMap;

use crate::model::Space;
use crate::permissions::{Account, ContentAccess, Group, Principal};
use http::header::{HeaderValue, ACCEPT};
use http::HeaderMap;
use http_transport::NoAuth;

use crate::api::ConfluenceApi;
use crate::config::ConfluenceConfig;
use crate::core::{attachment_stream, attachments_of_page_titled, complete_truncated_attachments};
use crate::core::{endpoint_of, with_expansion, Core, BODY_EXPAND};
use crate::model::{
    Attachment, AttachmentStream, ContentRef, InstanceId, InstanceType, Page, PageAttachments,
    PageBody,
};
use crate::urls::{data_center_attachment_url, data_center_page_url};
use crate::wire::{self, V1Attachment, V1List, V1Page};
use crate::{cql, ConfluenceError};

const SEARCH_PATH: &str = "/rest/api/content/search";
const MANIFEST_PATH: &str = "/rest/applinks/1.0/manifest";

/// The Data Center implementation of [`ConfluenceApi`].
#[derive(Debug)]
pub struct DataCenterClient {
    core: Core,
}

impl DataCenterClient {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    pub fn config(&self) -> &ConfluenceConfig {
        &self.core.config
    }

    pub(crate) fn core(&self) -> &Core {
        &self.core
    }
}

impl ConfluenceApi for DataCenterClient {
    fn instance_type(&self) -> InstanceType {
        InstanceType::DataCenter
    }

    async fn resolve_instance_id(&self) -> Result<InstanceId, ConfluenceError> {
        // Public endpoint: no credentials. Confluence 10 answers XML unless JSON is asked for.
        let url = self.core.api_url(MANIFEST_PATH)?;
        let endpoint = endpoint_of(&url);
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let response = self.core.get_with(url, headers, &NoAuth).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.core.transport_error(&endpoint, e))?;
        Ok(InstanceId {
            instance_type: InstanceType::DataCenter,
            id: wire::manifest_id(&bytes, &endpoint)?,
        })
    }

    async fn discover_labelled_pages(&self) -> Result<Vec<Page>, ConfluenceError> {
        let mut pages = self
            .core
            .search_labelled(SEARCH_PATH, &self.core.label_cql())
            .await?;
        complete_truncated_attachments(self, &mut pages).await?;
        Ok(pages)
    }

    async fn descendant_pages(&self, root_ids: &[String]) -> Result<Vec<Page>, ConfluenceError> {
        let mut pages = self.core.search_descendants(SEARCH_PATH, root_ids).await?;
        complete_truncated_attachments(self, &mut pages).await?;
        Ok(pages)
    }

    async fn page_bodies(&self, content: &[ContentRef]) -> Result<Vec<PageBody>, ConfluenceError> {
        let ids: Vec<&str> = content
            .iter()
            .filter(|c| c.content_type.may_have_body())
            .map(|c| c.id.as_str())
            .collect();
        let mut bodies = Vec::new();
        for batch in ids.chunks(self.core.config.effective_body_batch_size()) {
            // Batches are at most the server's cap for bodies (50), so one request serves one
            // batch; any `next` is still followed, by what arrived.
            let url = self.core.search_url(
                SEARCH_PATH,
                &cql::by_ids(batch),
                BODY_EXPAND,
                batch.len(),
                false,
            )?;
            let endpoint = endpoint_of(&url);
            for item in self.core.get_all::<V1List<serde_json::Value>>(url).await? {
                let Some(page) = wire::lenient_item::<V1Page>(item, &endpoint) else {
                    continue;
                };
                match page.into_body(&endpoint) {
                    Ok(body) => bodies.push(body),
                    Err(e) => tracing::warn!(error = %e, "skipping content in a body batch"),
                }
            }
        }
        Ok(bodies)
    }

    async fn page_attachments_by_title(
        &self,
        space_key: &str,
        title: &str,
    ) -> Result<Option<PageAttachments>, ConfluenceError> {
        attachments_of_page_titled(self, &self.core, SEARCH_PATH, space_key, title).await
    }

    async fn complete_attachments(&self, page: &mut Page) -> Result<(), ConfluenceError> {
        let Some(info) = page.inline_attachments.as_ref() else {
            return Ok(());
        };
        let Some(next) = info.next.as_deref().filter(|_| info.possibly_truncated()) else {
            return Ok(());
        };
        if !self.core.attachments_enabled {
            return Ok(());
        }
        // The inline block's `next` comes without `expand`: asked as it is, attachments past the
        // first 25 would have no version, and a new upload of one without a page edit would
        // never be seen. (Later pages are this request with another `start`, so they keep it.)
        let url = with_expansion(&self.core.resolve_next(next)?, "version");
        let rest = self.core.get_all::<V1List<V1Attachment>>(url).await?;
        page.attachments
            .extend(rest.into_iter().map(Attachment::from));
        let mut seen = std::collections::HashSet::new();
        page.attachments.retain(|a| seen.insert(a.id.clone()));
        Ok(())
    }

    async fn download_attachment(
        &self,
        _page_id: &str,
        _attachment_id: &str,
        download_path: &str,
    ) -> Result<AttachmentStream, ConfluenceError> {
        let url = self.core.resolve_next(download_path)?;
        Ok(attachment_stream(self.core.get(url).await?))
    }

    async fn space_read_grants(&self, _space: &Space) -> Result<Vec<Principal>, ConfluenceError> {
        Err(crate::permissions::not_built())
    }

    async fn content_access(
        &self,
        _ids: &[String],
    ) -> Result<HashMap<String, ContentAccess>, ConfluenceError> {
        Err(crate::permissions::not_built())
    }

    async fn groups(&self) -> Result<Vec<Group>, ConfluenceError> {
        Err(crate::permissions::not_built())
    }

    async fn group_members(&self, _group: &str) -> Result<Vec<Account>, ConfluenceError> {
        Err(crate::permissions::not_built())
    }

    async fn accounts(&self, _ids: &[String]) -> Result<Vec<Account>, ConfluenceError> {
        Err(crate::permissions::not_built())
    }

    async fn probe(&self) -> Result<(), ConfluenceError> {
        self.core
            .probe_search(SEARCH_PATH, &self.core.label_cql())
            .await
    }

    fn page_web_url(&self, page: &Page) -> String {
        data_center_page_url(&self.core.config.base_url, &page.id)
    }

    fn attachment_web_url(&self, page_id: &str, attachment_id: &str, title: &str) -> String {
        data_center_attachment_url(&self.core.config.base_url, page_id, attachment_id, title)
    }
}

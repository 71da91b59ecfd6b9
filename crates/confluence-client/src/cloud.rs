//! Confluence Cloud through the Atlassian API gateway. v1 only where Cloud still serves it
//! (CQL `content/search` and the attachment download); v2 for bodies and attachment listings.

use std::collections::HashMap;

use crate::access_wire::{V1User, MEMBERS_LIMIT};
use crate::api::ConfluenceApi;
use crate::config::ConfluenceConfig;
use crate::core::{attachment_stream, attachments_of_page_titled, complete_truncated_attachments};
use crate::core::{endpoint_of, Core};
use crate::model::Space;
use crate::model::{Account, ContentAccess, Group, Principal};
use crate::model::{
    Attachment, AttachmentStream, ContentRef, ContentType, InstanceId, InstanceType, Page,
    PageAttachments, PageBody,
};
use crate::urls::{cloud_attachment_url, cloud_page_url, encode_component};
use crate::wire::{self, StringOrNumber, V1List, V2Attachment, V2Content, V2List};
use crate::ConfluenceError;

const SEARCH_PATH: &str = "/wiki/rest/api/content/search";
/// v2 attachment listings: the maximum page size.
const V2_ATTACHMENT_LIMIT: usize = 250;
/// v2 space permission listings: the maximum page size.
const SPACE_PERMISSIONS_LIMIT: usize = 250;
/// Account ids per `user/bulk` request. The API takes 200; at ~55 characters an id that is an
/// 11 KB URL, past the 8 KB many proxies allow, so half of it.
const USER_BULK_BATCH: usize = 100;

/// One v2 space permission assignment (principal × operation).
#[derive(Debug, serde::Deserialize)]
struct V2SpacePermission {
    #[serde(default)]
    id: Option<StringOrNumber>,
    #[serde(default)]
    principal: Option<V2Principal>,
    #[serde(default)]
    operation: Option<V2Operation>,
}

#[derive(Debug, serde::Deserialize)]
struct V2Principal {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    id: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct V2Operation {
    #[serde(default)]
    key: Option<String>,
    #[serde(rename = "targetType", default)]
    target_type: Option<String>,
}

impl crate::core::ListedItem for V2SpacePermission {
    fn listing_id(&self) -> Option<String> {
        self.id.as_ref().map(|id| id.0.clone())
    }
}

impl V2SpacePermission {
    /// "View space": `read` on the `space` target. Every other assignment is another
    /// permission (one row per principal × operation).
    fn grants_read(&self) -> bool {
        self.operation.as_ref().is_some_and(|op| {
            op.key.as_deref() == Some("read") && op.target_type.as_deref() == Some("space")
        })
    }

    /// Users by account id, groups by group id; anonymous access in either spelling seen
    /// (`{type: user, id: anonymous}` after v1's convention, `{type: anonymous}` after the
    /// role API's); roles and anything else are [`Principal::Other`], which only narrows.
    fn principal(self) -> Principal {
        let Some(principal) = self.principal else {
            return Principal::Other("assignment without a principal".to_owned());
        };
        let kind = principal.kind.unwrap_or_default().to_ascii_lowercase();
        let id = principal.id.filter(|id| !id.trim().is_empty());
        match (kind.as_str(), id) {
            ("anonymous", _) => Principal::Anonymous,
            ("user", Some(id)) if id.eq_ignore_ascii_case("anonymous") => Principal::Anonymous,
            ("user", Some(id)) => Principal::User(id),
            ("group", Some(id)) => Principal::Group(id),
            (other, _) => Principal::Other(other.to_owned()),
        }
    }
}

/// The Cloud implementation of [`ConfluenceApi`].
#[derive(Debug)]
pub struct CloudClient {
    core: Core,
}

impl CloudClient {
    pub(crate) fn new(core: Core) -> Self {
        Self { core }
    }

    pub fn config(&self) -> &ConfluenceConfig {
        &self.core.config
    }

    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    /// One v2 body listing per batch of ids of one kind (`pages` or `blogposts`).
    async fn bodies_of(
        &self,
        collection: &str,
        ids: &[&str],
    ) -> Result<Vec<PageBody>, ConfluenceError> {
        let mut bodies = Vec::new();
        for batch in ids.chunks(self.core.config.effective_body_batch_size()) {
            let ids = batch
                .iter()
                .map(|id| encode_component(id))
                .collect::<Vec<_>>()
                .join(",");
            let url = self.core.api_url(&format!(
                "/wiki/api/v2/{collection}?id={ids}&body-format=storage&limit={}",
                batch.len()
            ))?;
            let endpoint = endpoint_of(&url);
            let found = self.core.get_all::<V2List<serde_json::Value>>(url).await?;
            bodies.extend(
                found
                    .into_iter()
                    .filter_map(|item| wire::lenient_item::<V2Content>(item, &endpoint))
                    .map(PageBody::from),
            );
        }
        Ok(bodies)
    }
}

impl ConfluenceApi for CloudClient {
    fn instance_type(&self) -> InstanceType {
        InstanceType::Cloud
    }

    async fn resolve_instance_id(&self) -> Result<InstanceId, ConfluenceError> {
        Ok(InstanceId {
            instance_type: InstanceType::Cloud,
            id: self
                .core
                .config
                .cloud_id
                .as_deref()
                .unwrap_or_default()
                .trim()
                .to_owned(),
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
        // v2 ids are int64: anything else would fail the whole batch with a 400.
        let of_type = |t: ContentType| -> Vec<&str> {
            content
                .iter()
                .filter(|c| c.content_type == t)
                .map(|c| c.id.as_str())
                .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
                .collect()
        };
        // Folders, databases, whiteboards and embeds have no storage body on Cloud.
        let mut bodies = self.bodies_of("pages", &of_type(ContentType::Page)).await?;
        bodies.extend(
            self.bodies_of("blogposts", &of_type(ContentType::Blogpost))
                .await?,
        );
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
        let truncated = page
            .inline_attachments
            .as_ref()
            .is_some_and(|info| info.possibly_truncated());
        if !self.core.attachments_enabled || !truncated {
            return Ok(());
        }
        // The v1 attachment pager is gone behind the gateway: v2, which also lists blog posts'
        // attachments under their own collection (the reference always used `pages`). Other
        // types have no v2 attachment listing; their inline list is kept rather than failing
        // the whole discovery on a 404.
        let collection = match page.content_type {
            ContentType::Page => "pages",
            ContentType::Blogpost => "blogposts",
            other => {
                tracing::debug!(
                    page_id = %page.id,
                    content_type = %other,
                    "inline attachment list possibly truncated; no v2 listing for this type"
                );
                return Ok(());
            }
        };
        let url = self.core.api_url(&format!(
            "/wiki/api/v2/{collection}/{}/attachments?limit={V2_ATTACHMENT_LIMIT}",
            encode_component(&page.id)
        ))?;
        let all = self.core.get_all::<V2List<V2Attachment>>(url).await?;
        page.attachments = all.into_iter().map(Attachment::from).collect();
        Ok(())
    }

    async fn download_attachment(
        &self,
        page_id: &str,
        attachment_id: &str,
        _download_path: &str,
    ) -> Result<AttachmentStream, ConfluenceError> {
        // `_links.download` answers 500 through the gateway; this endpoint redirects to the media
        // host, and the transport drops `Authorization` on that cross-origin hop.
        let url = self.core.api_url(&format!(
            "/wiki/rest/api/content/{}/child/attachment/{}/download",
            encode_component(page_id),
            encode_component(attachment_id)
        ))?;
        Ok(attachment_stream(self.core.get(url).await?))
    }

    async fn space_read_grants(&self, space: &Space) -> Result<Vec<Principal>, ConfluenceError> {
        let url = self.core.api_url(&format!(
            "/wiki/api/v2/spaces/{}/permissions?limit={SPACE_PERMISSIONS_LIMIT}",
            encode_component(&space.id)
        ))?;
        let assignments = self.core.get_all::<V2List<V2SpacePermission>>(url).await?;
        let mut grants: Vec<Principal> = assignments
            .into_iter()
            .filter(V2SpacePermission::grants_read)
            .map(V2SpacePermission::principal)
            .collect();
        grants.sort();
        grants.dedup();
        Ok(grants)
    }

    async fn content_access(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, ContentAccess>, ConfluenceError> {
        self.core.content_access(SEARCH_PATH, ids).await
    }

    async fn groups(&self) -> Result<Vec<Group>, ConfluenceError> {
        self.core.groups().await
    }

    async fn group_members(&self, group: &str) -> Result<Vec<Account>, ConfluenceError> {
        // `expand=operations` is the only sign of a deactivated account in v1 (CONFCLOUD-69909).
        let url = self.core.api_url(&format!(
            "/wiki/rest/api/group/{}/membersByGroupId?limit={MEMBERS_LIMIT}&expand=operations",
            encode_component(group)
        ))?;
        self.core.accounts_listed(url).await
    }

    async fn accounts(&self, ids: &[String]) -> Result<Vec<Account>, ConfluenceError> {
        let mut out = Vec::new();
        for batch in ids.chunks(USER_BULK_BATCH) {
            let query: String = batch
                .iter()
                .map(|id| format!("accountId={}&", encode_component(id)))
                .collect();
            let url = self.core.api_url(&format!(
                "/wiki/rest/api/user/bulk?{query}expand=operations&limit={USER_BULK_BATCH}"
            ))?;
            let found: V1List<V1User> = self.core.get_json(url).await?;
            out.extend(self.core.accounts_of(found.results));
        }
        Ok(out)
    }

    async fn probe(&self) -> Result<(), ConfluenceError> {
        self.core
            .probe_search(SEARCH_PATH, &self.core.label_cql())
            .await?;
        // v2 wants granular scopes that v1 does not: probe it too, so `check` catches an app
        // that can search but cannot read bodies or attachments.
        let url = self
            .core
            .api_url("/wiki/api/v2/pages?limit=1&body-format=storage")?;
        let pages = self.core.get_json::<V2List<V2Content>>(url).await?;
        // Attachment listings want their own scope (read:attachment:confluence); a page to ask
        // about is needed, and the one just read will do.
        if let Some(page) = pages
            .results
            .first()
            .filter(|_| self.core.attachments_enabled)
        {
            let url = self.core.api_url(&format!(
                "/wiki/api/v2/pages/{}/attachments?limit=1",
                encode_component(&page.id.0)
            ))?;
            self.core.get_json::<V2List<V2Attachment>>(url).await?;
        }
        Ok(())
    }

    fn page_web_url(&self, page: &Page) -> String {
        cloud_page_url(&self.core.config.base_url, &page.webui)
    }

    fn attachment_web_url(&self, page_id: &str, attachment_id: &str, title: &str) -> String {
        cloud_attachment_url(&self.core.config.base_url, page_id, attachment_id, title)
    }
}

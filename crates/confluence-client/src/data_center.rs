//! Confluence Data Center: v1 REST straight to the base URL (which includes any context path).

use std::collections::HashMap;

use crate::access_wire::{V1User, MEMBERS_LIMIT};
use crate::model::Space;
use crate::model::{Account, ContentAccess, Group, Principal};
use http::header::{HeaderValue, ACCEPT};
use http::HeaderMap;
use http_transport::NoAuth;

use crate::api::ConfluenceApi;
use crate::config::{AuthConfig, ConfluenceConfig};
use crate::core::{attachment_stream, attachments_of_page_titled, complete_truncated_attachments};
use crate::core::{endpoint_of, with_expansion, Core, BODY_EXPAND, COMPLETION_CONCURRENCY};
use crate::model::{
    Attachment, AttachmentStream, ContentRef, InstanceId, InstanceType, Page, PageAttachments,
    PageBody,
};
use crate::urls::{data_center_attachment_url, data_center_page_url, encode_component};
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

    /// A permission read refused (403) to OAuth 2.0 credentials: Data Center documents these
    /// resources as "Forge and OAuth2 apps cannot access this REST resource", so the fix is
    /// other credentials, not a permission. Every other error is returned as it is.
    fn permission_read_error(&self, error: ConfluenceError) -> ConfluenceError {
        let oauth = matches!(self.core.config.auth, AuthConfig::OAuth2lo { .. });
        match error {
            ConfluenceError::Forbidden {
                instance,
                endpoint,
                source,
                ..
            } if oauth => ConfluenceError::PermissionReadsUnsupported {
                instance,
                endpoint,
                fix: "Data Center refuses OAuth 2.0 on its space permission, restriction, group \
                      and user resources (\"Forge and OAuth2 apps cannot access this REST \
                      resource\"): permissions.mode space and page need a personal access token \
                      (auth.mode pat) or basic auth on Data Center (see \
                      docs/operator/permissions.md)"
                    .to_owned(),
                source,
            },
            other => other,
        }
    }

    /// A 404 from `space/{key}/permissions`: below Confluence 9.1 the resource does not exist
    /// (CONFSERVER-100505), which the version in the application-links manifest tells apart
    /// from a space this account may not view. If the version cannot be read, the error says
    /// both.
    async fn space_permissions_missing(&self, error: ConfluenceError) -> ConfluenceError {
        let ConfluenceError::Transport {
            instance,
            endpoint,
            source,
        } = error
        else {
            return error;
        };
        let fix = match self.manifest_version().await {
            Some(version) if !at_least_9_1(&version) => format!(
                "space permission reads need Confluence Data Center 9.1 or later (this instance \
                 reports {version}); upgrade it, or use permissions.mode none"
            ),
            Some(_) => {
                return ConfluenceError::Transport {
                    instance,
                    endpoint,
                    source,
                }
            }
            None => "space permission reads need Confluence Data Center 9.1 or later (the \
                     resource answered 404 and the version could not be read); upgrade it, or \
                     check that the connector's account can view the space"
                .to_owned(),
        };
        ConfluenceError::PermissionReadsUnsupported {
            instance,
            endpoint,
            fix,
            source,
        }
    }

    /// The `version` of the application-links manifest, if it can be read.
    async fn manifest_version(&self) -> Option<String> {
        let url = self.core.api_url(MANIFEST_PATH).ok()?;
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let response = self.core.get_with(url, headers, &NoAuth).await.ok()?;
        let bytes = response.bytes().await.ok()?;
        let manifest: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        manifest
            .get("version")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    }
}

/// Whether a Confluence version string (`9.2.0`, `8.5.14`) is 9.1 or later; an unparsable one
/// is taken as older (the error then names it).
fn at_least_9_1(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| {
        p.chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .ok()
    });
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (9, 1),
        (Some(major), None) => major > 9,
        _ => false,
    }
}

/// One Data Center space permission (`{operation: {targetType, operationKey}, subject}`).
#[derive(Debug, serde::Deserialize)]
struct DcSpacePermission {
    #[serde(default)]
    operation: Option<DcOperation>,
    #[serde(default)]
    subject: Option<DcSubject>,
}

#[derive(Debug, serde::Deserialize)]
struct DcOperation {
    #[serde(rename = "targetType", default)]
    target_type: Option<String>,
    #[serde(rename = "operationKey", default)]
    operation_key: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
struct DcSubject {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(rename = "userKey", default)]
    user_key: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

impl DcSpacePermission {
    fn grants_read(&self) -> bool {
        self.operation.as_ref().is_some_and(|op| {
            op.operation_key.as_deref() == Some("read")
                && op.target_type.as_deref() == Some("space")
        })
    }

    /// Users by user key, groups by name, anonymous; anything else only narrows.
    fn principal(self) -> Principal {
        let Some(subject) = self.subject else {
            return Principal::Other("permission without a subject".to_owned());
        };
        let kind = subject.kind.unwrap_or_default().to_ascii_lowercase();
        let non_empty = |v: Option<String>| v.filter(|v| !v.trim().is_empty());
        match kind.as_str() {
            "anonymous" => Principal::Anonymous,
            "user" => match non_empty(subject.user_key) {
                Some(key) => Principal::User(key),
                None => Principal::Other("user without a key".to_owned()),
            },
            "group" => match non_empty(subject.name) {
                Some(name) => Principal::Group(name),
                None => Principal::Other("group without a name".to_owned()),
            },
            other => Principal::Other(other.to_owned()),
        }
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

    async fn space_read_grants(&self, space: &Space) -> Result<Vec<Principal>, ConfluenceError> {
        let url = self.core.api_url(&format!(
            "/rest/api/space/{}/permissions",
            encode_component(&space.key)
        ))?;
        let grants: Vec<DcSpacePermission> = match self.core.get_json(url).await {
            Ok(grants) => grants,
            Err(e) if e.is_not_found() => return Err(self.space_permissions_missing(e).await),
            Err(e) => return Err(self.permission_read_error(e)),
        };
        let mut grants: Vec<Principal> = grants
            .into_iter()
            .filter(DcSpacePermission::grants_read)
            .map(DcSpacePermission::principal)
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
        self.core
            .groups()
            .await
            .map_err(|e| self.permission_read_error(e))
    }

    async fn group_members(&self, group: &str) -> Result<Vec<Account>, ConfluenceError> {
        let url = self.core.api_url(&format!(
            "/rest/api/group/{}/member?limit={MEMBERS_LIMIT}&start=0&expand=details.personal",
            encode_component(group)
        ))?;
        self.core
            .accounts_listed(url)
            .await
            .map_err(|e| self.permission_read_error(e))
    }

    async fn accounts(&self, ids: &[String]) -> Result<Vec<Account>, ConfluenceError> {
        // No bulk lookup on Data Center: one request per account, a few at a time.
        let mut out = Vec::new();
        for batch in ids.chunks(COMPLETION_CONCURRENCY) {
            let mut lookups = Vec::with_capacity(batch.len());
            for id in batch {
                let url = self.core.api_url(&format!(
                    "/rest/api/user?key={}&expand=details.personal",
                    encode_component(id)
                ))?;
                lookups.push(self.core.get_json::<V1User>(url));
            }
            for found in futures::future::join_all(lookups).await {
                match found {
                    Ok(user) => out.extend(self.core.accounts_of(vec![user])),
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(self.permission_read_error(e)),
                }
            }
        }
        Ok(out)
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

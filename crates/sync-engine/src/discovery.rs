//! Discovery (the source): labelled pages, their descendants, and their attachments, filtered
//! by content type, MIME allow-list and size, capped by `maxItemsToScan`.

use std::collections::HashSet;

use confluence_client::{
    ConfluenceApi, ConfluenceClient, ConfluenceError, ContentType, Page, Space,
};

use crate::inline::normalize_mime_type;
use crate::tenant::TenantSpec;

/// A page (or blog post, folder) to diff and maybe ingest.
#[derive(Debug, Clone)]
pub(crate) struct DiscoveredPage {
    pub id: String,
    pub title: String,
    pub content_type: ContentType,
    pub space: Space,
    pub version_when: String,
    pub web_url: String,
    pub labels: Vec<String>,
}

/// An attachment that passed the filters.
#[derive(Debug, Clone)]
pub(crate) struct DiscoveredAttachment {
    pub id: String,
    pub page_id: String,
    pub title: String,
    /// Raw, as Confluence reports it (sent verbatim as the file's MIME type).
    pub media_type: String,
    pub file_size: u64,
    pub download_path: String,
    /// The attachment's version time, else its page's.
    pub version_when: String,
    pub space: Space,
    pub web_url: String,
}

/// What discovery found.
#[derive(Debug, Default)]
pub(crate) struct Discovery {
    pub pages: Vec<DiscoveredPage>,
    pub attachments: Vec<DiscoveredAttachment>,
    /// `maxItemsToScan` was reached: the lists are incomplete, so their absence proves nothing.
    pub truncated: bool,
}

impl Discovery {
    /// Every space with a discovered page or attachment.
    pub(crate) fn spaces(&self) -> Vec<Space> {
        let mut seen = HashSet::new();
        self.pages
            .iter()
            .map(|p| &p.space)
            .chain(self.attachments.iter().map(|a| &a.space))
            .filter(|s| seen.insert(s.key.clone()))
            .cloned()
            .collect()
    }
}

/// Labelled pages first, then descendants of the subtree roots, deduplicated (first occurrence
/// wins); bodiless types skipped; attachments of the accepted pages take what is left of the cap.
pub(crate) async fn discover(
    confluence: &ConfluenceClient,
    spec: &TenantSpec,
) -> Result<Discovery, ConfluenceError> {
    let labelled = confluence.discover_labelled_pages().await?;
    let roots: Vec<String> = labelled
        .iter()
        .filter(|p| p.has_label(&spec.ingest_all_label))
        .map(|p| p.id.clone())
        .collect();
    let descendants = confluence.descendant_pages(&roots).await?;

    let cap = spec.max_items_to_scan.unwrap_or(usize::MAX);
    let mut discovery = Discovery::default();
    let mut seen = HashSet::new();
    let mut accepted: Vec<Page> = Vec::new();
    for page in labelled.into_iter().chain(descendants) {
        if !seen.insert(page.id.clone()) {
            continue;
        }
        if !page.content_type.may_have_body() {
            tracing::debug!(page_id = %page.id, r#type = %page.content_type, "Skipping non-page content type");
            continue;
        }
        if accepted.len() >= cap {
            discovery.truncated = true;
            tracing::warn!(limit = cap, "maxItemsToScan limit reached");
            break;
        }
        accepted.push(page);
    }

    let mut remaining = cap - accepted.len();
    for page in &accepted {
        if !spec.attachments.enabled {
            break;
        }
        for attachment in &page.attachments {
            if !attachment_allowed(spec, &attachment.media_type, attachment.file_size) {
                continue;
            }
            if remaining == 0 {
                discovery.truncated = true;
                tracing::warn!(limit = cap, "maxItemsToScan limit reached");
                break;
            }
            remaining -= 1;
            discovery.attachments.push(DiscoveredAttachment {
                id: attachment.id.clone(),
                page_id: page.id.clone(),
                title: attachment.title.clone(),
                media_type: attachment.media_type.clone(),
                file_size: attachment.file_size,
                download_path: attachment.download_path.clone(),
                version_when: attachment
                    .version_when
                    .clone()
                    .unwrap_or_else(|| page.version_when.clone()),
                space: page.space.clone(),
                web_url: confluence.attachment_web_url(&page.id, &attachment.id, &attachment.title),
            });
        }
    }
    discovery.pages = accepted
        .into_iter()
        .map(|page| DiscoveredPage {
            web_url: confluence.page_web_url(&page),
            id: page.id,
            title: page.title,
            content_type: page.content_type,
            space: page.space,
            version_when: page.version_when,
            labels: page.labels,
        })
        .collect();
    tracing::info!(count = discovery.pages.len(), "Page discovery completed");
    tracing::info!(
        count = discovery.attachments.len(),
        "Attachment discovery completed"
    );
    Ok(discovery)
}

/// MIME (normalised: lower case, no parameters, trimmed) in the allow-list and size within the
/// cap.
pub(crate) fn attachment_allowed(spec: &TenantSpec, media_type: &str, file_size: u64) -> bool {
    let mime = normalize_mime_type(media_type);
    !mime.is_empty()
        && file_size <= spec.attachments.max_file_size_bytes()
        && spec
            .attachments
            .allowed_mime_types
            .iter()
            .any(|allowed| normalize_mime_type(allowed) == mime)
}

//! The planner (a transform): from what discovery found and what the diff said, the work of
//! this cycle — pages and attachments to ingest, keys to delete.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use confluence_client::Space;

use crate::apply_access::FileItem;
use crate::diff::{standalone, SpaceDiff};
use crate::discovery::Discovery;
use crate::ingest::{AttachmentWork, PageWork};
use crate::inline::{is_image_media_type, ImageRef};
use crate::keys::{attachment_item_id, PartialKey};
use crate::tenant::TenantSpec;

/// One cycle's work.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub pages: Vec<PageWork>,
    pub attachments: Vec<AttachmentWork>,
    /// Full keys the diff reported deleted.
    pub deleted_keys: Vec<String>,
    /// Every discovered space key (removed-space cleanup keeps these).
    pub discovered_spaces: BTreeSet<String>,
}

impl Plan {
    pub(crate) fn has_ingest_work(&self) -> bool {
        !self.pages.is_empty() || !self.attachments.is_empty()
    }

    /// The spaces of the items to ingest, in first-seen order: their scopes must exist.
    pub(crate) fn ingest_spaces(&self) -> Vec<Space> {
        let mut seen = HashSet::new();
        self.pages
            .iter()
            .map(|p| &p.page.space)
            .chain(self.attachments.iter().map(|a| &a.attachment.space))
            .filter(|s| seen.insert(s.key.clone()))
            .cloned()
            .collect()
    }
}

/// Ingest the diff's new and updated items plus every discovered item whose key is in `retry`
/// (failed last time, or cut off mid-ingestion); delete the diff's deleted items. With inlining
/// on, image attachments are not standalone work: they ride along with their page.
pub(crate) fn plan(
    spec: &TenantSpec,
    discovery: &Discovery,
    diffs: &[SpaceDiff],
    retry: &HashSet<String>,
) -> Plan {
    let changed: HashSet<(&str, &str)> = diffs
        .iter()
        .flat_map(|d| {
            d.new
                .iter()
                .chain(&d.updated)
                .map(|item| (d.space_key.as_str(), item.as_str()))
        })
        .collect();
    let new: HashSet<(&str, &str)> = diffs
        .iter()
        .flat_map(|d| {
            d.new
                .iter()
                .map(|item| (d.space_key.as_str(), item.as_str()))
        })
        .collect();
    let wanted = |space_key: &str, item: &str, key: &str| {
        changed.contains(&(space_key, item)) || retry.contains(key)
    };
    let mut images: HashMap<&str, Vec<ImageRef>> = HashMap::new();
    if spec.inline_images {
        for a in discovery
            .attachments
            .iter()
            .filter(|a| is_image_media_type(&a.media_type))
        {
            images
                .entry(a.page_id.as_str())
                .or_default()
                .push(ImageRef {
                    page_id: a.page_id.clone(),
                    attachment_id: a.id.clone(),
                    title: a.title.clone(),
                    media_type: a.media_type.clone(),
                    file_size: a.file_size,
                    download_path: a.download_path.clone(),
                });
        }
    }
    let pages = discovery
        .pages
        .iter()
        .filter_map(|p| {
            let key = partial_key(spec, &p.space).page_key(&p.id);
            wanted(&p.space.key, &p.id, key.as_str()).then(|| PageWork {
                images: images.remove(p.id.as_str()).unwrap_or_default(),
                page: Arc::clone(p),
                key,
                is_new: new.contains(&(p.space.key.as_str(), p.id.as_str())),
            })
        })
        .collect();
    let attachments = discovery
        .attachments
        .iter()
        .filter(|a| standalone(spec, a))
        .filter_map(|a| {
            let key = partial_key(spec, &a.space).attachment_key(&a.page_id, &a.id);
            let item = attachment_item_id(&a.page_id, &a.id);
            wanted(&a.space.key, &item, key.as_str()).then(|| AttachmentWork {
                attachment: Arc::clone(a),
                key,
                is_new: new.contains(&(a.space.key.as_str(), item.as_str())),
            })
        })
        .collect();
    let deleted_keys = diffs
        .iter()
        .flat_map(|d| {
            d.deleted
                .iter()
                .map(|item| d.partial_key.key_for_item(item).into_string())
        })
        .collect();
    Plan {
        pages,
        attachments,
        deleted_keys,
        discovered_spaces: discovery.spaces().into_iter().map(|s| s.key).collect(),
    }
}

/// The keys of every discovered item that takes part in the diff.
pub(crate) fn discovered_keys(spec: &TenantSpec, discovery: &Discovery) -> Vec<String> {
    discovery
        .pages
        .iter()
        .map(|p| partial_key(spec, &p.space).page_key(&p.id).into_string())
        .chain(
            discovery
                .attachments
                .iter()
                .filter(|a| standalone(spec, a))
                .map(|a| {
                    partial_key(spec, &a.space)
                        .attachment_key(&a.page_id, &a.id)
                        .into_string()
                }),
        )
        .collect()
}

/// Every discovered file (pages and standalone attachments) with whose readers it takes: an
/// attachment reads like its page.
pub(crate) fn discovered_files(spec: &TenantSpec, discovery: &Discovery) -> Vec<FileItem> {
    discovery
        .pages
        .iter()
        .map(|p| FileItem {
            key: partial_key(spec, &p.space).page_key(&p.id).into_string(),
            space_key: p.space.key.clone(),
            page_id: p.id.clone(),
        })
        .chain(
            discovery
                .attachments
                .iter()
                .filter(|a| standalone(spec, a))
                .map(|a| FileItem {
                    key: partial_key(spec, &a.space)
                        .attachment_key(&a.page_id, &a.id)
                        .into_string(),
                    space_key: a.space.key.clone(),
                    page_id: a.page_id.clone(),
                }),
        )
        .collect()
}

fn partial_key(spec: &TenantSpec, space: &Space) -> PartialKey {
    PartialKey::new(spec.key_format, &spec.name, &space.id, &space.key)
}

//! The differ (a transform): per space, ask Unique which items are new, updated, moved or
//! deleted, and stop the cycle when the answer looks like a mistake.

use std::collections::{BTreeMap, HashSet};

use unique_client::{FileDiffItem, FileDiffRequest, SourceKind, UniqueClient};

use crate::discovery::{DiscoveredAttachment, DiscoveredPage, Discovery};
use crate::error::{during, EngineError, Guard};
use crate::inline::is_image_media_type;
use crate::keys::{attachment_item_id, PartialKey};
use crate::tenant::TenantSpec;

/// One space's diff.
#[derive(Debug, Clone)]
pub(crate) struct SpaceDiff {
    pub space_key: String,
    pub partial_key: PartialKey,
    pub new: Vec<String>,
    pub updated: Vec<String>,
    pub moved: Vec<String>,
    pub deleted: Vec<String>,
}

/// Whether an attachment takes part in the diff and standalone ingestion: with inlining on,
/// images travel inside their page instead.
pub(crate) fn standalone(spec: &TenantSpec, attachment: &DiscoveredAttachment) -> bool {
    !(spec.inline_images && is_image_media_type(&attachment.media_type))
}

/// Diffs every discovered space, in discovery order, and applies both guards to each.
pub(crate) async fn diff_spaces(
    unique: &UniqueClient,
    spec: &TenantSpec,
    source_kind: SourceKind,
    source_name: &str,
    discovery: &Discovery,
) -> Result<Vec<SpaceDiff>, EngineError> {
    let mut by_space: BTreeMap<String, (Vec<&DiscoveredPage>, Vec<&DiscoveredAttachment>)> =
        BTreeMap::new();
    let spaces = discovery.spaces();
    for page in &discovery.pages {
        by_space
            .entry(page.space.key.clone())
            .or_default()
            .0
            .push(page);
    }
    for attachment in discovery.attachments.iter().filter(|a| standalone(spec, a)) {
        by_space
            .entry(attachment.space.key.clone())
            .or_default()
            .1
            .push(attachment);
    }
    let mut diffs = Vec::new();
    for space in spaces {
        let Some((pages, attachments)) = by_space.remove(&space.key) else {
            continue;
        };
        let partial_key = PartialKey::new(spec.key_format, &spec.name, &space.id, &space.key);
        let file_list: Vec<FileDiffItem> = pages
            .iter()
            .map(|p| FileDiffItem {
                key: p.id.clone(),
                url: p.web_url.clone(),
                updated_at: p.version_when.clone(),
            })
            .chain(attachments.iter().map(|a| FileDiffItem {
                key: attachment_item_id(&a.page_id, &a.id),
                url: a.web_url.clone(),
                updated_at: a.version_when.clone(),
            }))
            .collect();
        if file_list.is_empty() {
            continue;
        }
        let request = FileDiffRequest {
            partial_key: partial_key.as_str().to_owned(),
            source_kind,
            source_name: source_name.to_owned(),
            file_list,
        };
        let diff = unique
            .file_diff(&request)
            .await
            .map_err(during("file diff"))?;
        guard(unique, &request, &diff.new_files, &diff.deleted_files).await?;
        diffs.push(SpaceDiff {
            space_key: space.key.clone(),
            partial_key,
            new: diff.new_files,
            updated: diff.updated_files,
            moved: diff.moved_files,
            deleted: diff.deleted_files,
        });
    }
    Ok(diffs)
}

/// The reference's two mass-deletion guards (behaviours T.196–201).
async fn guard(
    unique: &UniqueClient,
    request: &FileDiffRequest,
    new: &[String],
    deleted: &[String],
) -> Result<(), EngineError> {
    if deleted.is_empty() {
        return Ok(());
    }
    let abort = |guard, reason: String| EngineError::GuardAborted {
        guard,
        partial_key: request.partial_key.clone(),
        reason,
    };
    if request.file_list.is_empty() {
        return Err(abort(
            Guard::EmptySubmission,
            format!(
                "Submitted 0 items to file diff but {} files would be deleted. Aborting sync.",
                deleted.len()
            ),
        ));
    }
    let stored = unique
        .count_content_with_key_prefix(&request.partial_key)
        .await
        .map_err(during("counting stored files for the deletion guard"))?;
    if deleted.len() as u64 != stored {
        return Ok(());
    }
    let submitted: HashSet<&str> = request.file_list.iter().map(|i| i.key.as_str()).collect();
    let resubmitted = deleted.iter().any(|k| submitted.contains(k.as_str()));
    if new.is_empty() || resubmitted {
        return Err(abort(
            Guard::WholeSpace,
            format!(
                "File diff would delete all {stored} files stored in Unique for partialKey {}",
                request.partial_key
            ),
        ));
    }
    tracing::warn!(partial_key = %request.partial_key, count = stored, "file diff replaces every stored file of the space");
    Ok(())
}

//! The differ (a transform): per space, ask Unique which items are new, updated, moved or
//! deleted, and stop the cycle when the answer looks like a mistake.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, FixedOffset};
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
    /// Reported deleted by the file diff, but held back by discovery: not deleted.
    pub kept: Vec<String>,
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
            .push(&**page);
    }
    for attachment in discovery.attachments.iter().filter(|a| standalone(spec, a)) {
        by_space
            .entry(attachment.space.key.clone())
            .or_default()
            .1
            .push(&**attachment);
    }
    let image_changes = latest_image_change(spec, discovery);
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
                updated_at: page_updated_at(p, image_changes.get(p.id.as_str())),
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
        // Not submitted is not gone: discovery saw these and could not submit them.
        let (kept, deleted): (Vec<String>, Vec<String>) = diff
            .deleted_files
            .into_iter()
            .partition(|item| discovery.held_back.holds(item));
        if !kept.is_empty() {
            tracing::warn!(space_key = %space.key, count = kept.len(), "keeping stored items the file diff calls deleted: discovery held them back");
        }
        // A truncated discovery deletes nothing, so its deletions cannot be a mistake to stop.
        if !discovery.truncated {
            guard(unique, &request, &diff.new_files, &deleted).await?;
        }
        diffs.push(SpaceDiff {
            space_key: space.key.clone(),
            partial_key,
            new: diff.new_files,
            updated: diff.updated_files,
            moved: diff.moved_files,
            deleted,
            kept,
        });
    }
    Ok(diffs)
}

/// With inlining on, a page's images are part of its body, so a new image version must count as
/// a change of the page (the reference misses it: it diffs pages by their own version only).
/// Page id → the newest version time of its image attachments.
fn latest_image_change<'a>(
    spec: &TenantSpec,
    discovery: &'a Discovery,
) -> BTreeMap<&'a str, DateTime<FixedOffset>> {
    let mut latest: BTreeMap<&str, DateTime<FixedOffset>> = BTreeMap::new();
    if !spec.inline_images {
        return latest;
    }
    for a in discovery
        .attachments
        .iter()
        .filter(|a| !standalone(spec, a))
    {
        let Ok(when) = DateTime::parse_from_rfc3339(&a.version_when) else {
            continue;
        };
        latest
            .entry(a.page_id.as_str())
            .and_modify(|t| *t = (*t).max(when))
            .or_insert(when);
    }
    latest
}

/// The page's own version time, or its newest image's when that is later.
fn page_updated_at(page: &DiscoveredPage, image_change: Option<&DateTime<FixedOffset>>) -> String {
    match (
        image_change,
        DateTime::parse_from_rfc3339(&page.version_when),
    ) {
        (Some(image), Ok(own)) if *image > own => image.to_rfc3339(),
        _ => page.version_when.clone(),
    }
}

/// The reference's two mass-deletion guards (behaviours T.196–201), with the stored-file count
/// fetched only when there are deletions.
async fn guard(
    unique: &UniqueClient,
    request: &FileDiffRequest,
    new: &[String],
    deleted: &[String],
) -> Result<(), EngineError> {
    if deleted.is_empty() {
        return Ok(());
    }
    let stored = if request.file_list.is_empty() {
        0
    } else {
        unique
            .count_content_with_key_prefix(&request.partial_key)
            .await
            .map_err(during("counting stored files for the deletion guard"))?
    };
    let submitted: Vec<&str> = request.file_list.iter().map(|i| i.key.as_str()).collect();
    match guard_verdict(&submitted, new, deleted, stored, &request.partial_key) {
        Some((guard, reason)) => Err(EngineError::GuardAborted {
            guard,
            partial_key: request.partial_key.clone(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Whether a space's diff looks like a mistake: deletions although nothing was submitted, or
/// every stored file deleted with no new file or with a deleted key among the submitted ones
/// (a key-format change). Deleting everything for genuinely new files is a legitimate
/// replacement.
pub(crate) fn guard_verdict(
    submitted: &[&str],
    new: &[String],
    deleted: &[String],
    stored: u64,
    partial_key: &str,
) -> Option<(Guard, String)> {
    if deleted.is_empty() {
        return None;
    }
    if submitted.is_empty() {
        return Some((
            Guard::EmptySubmission,
            format!(
                "Submitted 0 items to file diff but {} files would be deleted. Aborting sync.",
                deleted.len()
            ),
        ));
    }
    if deleted.len() as u64 != stored {
        return None;
    }
    let submitted: HashSet<&str> = submitted.iter().copied().collect();
    let resubmitted = deleted.iter().any(|k| submitted.contains(k.as_str()));
    if new.is_empty() || resubmitted {
        return Some((
            Guard::WholeSpace,
            format!("File diff would delete all {stored} files stored in Unique for partialKey {partial_key}"),
        ));
    }
    tracing::warn!(
        partial_key,
        count = stored,
        "file diff replaces every stored file of the space"
    );
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ids(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn deletions_for_an_empty_submission_abort() {
        let verdict = guard_verdict(&[], &[], &ids(&["a", "b"]), 2, "t/1_SP");
        let (guard, reason) = verdict.unwrap();
        assert_eq!(guard, Guard::EmptySubmission);
        assert_eq!(
            reason,
            "Submitted 0 items to file diff but 2 files would be deleted. Aborting sync."
        );
    }

    #[test]
    fn partial_deletions_pass() {
        for (deleted, stored) in [(3, 6), (5, 6), (1, 5), (10, 20)] {
            let deleted: Vec<String> = (0..deleted).map(|i| format!("d{i}")).collect();
            assert!(guard_verdict(&["x"], &[], &deleted, stored, "p").is_none());
        }
    }

    #[test]
    fn no_deletions_pass() {
        assert!(guard_verdict(&[], &[], &[], 0, "p").is_none());
    }

    #[test]
    fn deleting_everything_without_new_files_aborts() {
        let (guard, reason) =
            guard_verdict(&["x"], &[], &ids(&["a", "b", "c"]), 3, "t/1_SP").unwrap();
        assert_eq!(guard, Guard::WholeSpace);
        assert_eq!(
            reason,
            "File diff would delete all 3 files stored in Unique for partialKey t/1_SP"
        );
    }

    #[test]
    fn deleting_everything_for_genuinely_new_files_passes() {
        assert!(guard_verdict(&["n"], &ids(&["n"]), &ids(&["a"]), 1, "p").is_none());
    }

    #[test]
    fn deleting_everything_that_is_resubmitted_aborts_even_with_new_files() {
        let verdict = guard_verdict(&["a", "n"], &ids(&["n"]), &ids(&["a"]), 1, "p");
        assert_eq!(verdict.unwrap().0, Guard::WholeSpace);
    }
}

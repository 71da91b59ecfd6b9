//! Discovery (the source): labelled pages, their descendants, and their attachments, filtered
//! by content type, MIME allow-list and size, capped by `maxItemsToScan`.

use std::collections::HashSet;
use std::sync::Arc;

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
    /// The page's own view restriction and ancestors (`permissions.mode: page` only).
    pub access: Option<confluence_client::ContentAccess>,
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

/// What discovery found. Items are shared with the plan's work lists, not copied: for a large
/// tenant a copy of every discovered item was a large share of the peak memory (docs/engine.md,
/// Performance).
#[derive(Debug, Default)]
pub(crate) struct Discovery {
    pub pages: Vec<Arc<DiscoveredPage>>,
    pub attachments: Vec<Arc<DiscoveredAttachment>>,
    /// `maxItemsToScan` was reached: the lists are incomplete, so their absence proves nothing.
    pub truncated: bool,
    /// Items discovery saw but cannot submit: what Unique stores of them must stay.
    pub held_back: HeldBack,
}

impl Discovery {
    /// Every space with a discovered page or attachment, or with an item held back (so that the
    /// removed-space cleanup keeps it).
    pub(crate) fn spaces(&self) -> Vec<Space> {
        let mut seen = HashSet::new();
        self.pages
            .iter()
            .map(|p| &p.space)
            .chain(self.attachments.iter().map(|a| &a.space))
            .chain(&self.held_back.spaces)
            .filter(|s| seen.insert(s.key.clone()))
            .cloned()
            .collect()
    }
}

/// Items discovery found but does not submit to the file diff, whose stored copies must not be
/// deleted because of that: the diff reports every stored key that is not submitted as
/// deleted, and these are absent for a reason other than being gone from Confluence.
#[derive(Debug, Default)]
pub(crate) struct HeldBack {
    /// Content of a type this connector does not know (Atlassian adds types): its own key and
    /// its attachments' keys.
    pub unknown_type: HashSet<String>,
    /// Pages whose attachment listing answered 404 or 403: their attachments' keys (the page
    /// itself is submitted as usual).
    pub attachments_of: HashSet<String>,
    /// The spaces of both.
    pub spaces: Vec<Space>,
}

impl HeldBack {
    /// Whether the file-diff item `<pageId>` or `<pageId>::<attachmentId>` must be kept.
    pub(crate) fn holds(&self, item: &str) -> bool {
        match item.split_once("::") {
            Some((page, _)) => {
                self.unknown_type.contains(page) || self.attachments_of.contains(page)
            }
            None => self.unknown_type.contains(item),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.unknown_type.is_empty() && self.attachments_of.is_empty()
    }

    fn add_space(&mut self, space: &Space) {
        if !self.spaces.iter().any(|s| s.key == space.key) {
            self.spaces.push(space.clone());
        }
    }
}

/// Labelled pages first, then descendants of the subtree roots, deduplicated (first occurrence
/// wins, for attachments too); bodiless types skipped; attachments of the accepted pages take
/// what is left of the cap.
pub(crate) async fn discover(
    confluence: &ConfluenceClient,
    spec: &TenantSpec,
) -> Result<Discovery, ConfluenceError> {
    let (labelled, descendants) = labelled_and_descendants(confluence, spec).await?;
    let discovery = select(
        labelled,
        descendants,
        spec,
        |page| confluence.page_web_url(page),
        |page_id, id, title| confluence.attachment_web_url(page_id, id, title),
    );
    tracing::info!(count = discovery.pages.len(), "Page discovery completed");
    tracing::info!(
        count = discovery.attachments.len(),
        "Attachment discovery completed"
    );
    let held = &discovery.held_back;
    if !held.is_empty() {
        tracing::warn!(
            unknown_type = held.unknown_type.len(),
            attachment_listings_unavailable = held.attachments_of.len(),
            "Items discovery could not submit: their copies in Unique are kept this cycle"
        );
    }
    Ok(discovery)
}

/// The two searches: labelled pages, then the descendants of those carrying the subtree label.
async fn labelled_and_descendants(
    confluence: &ConfluenceClient,
    spec: &TenantSpec,
) -> Result<(Vec<Page>, Vec<Page>), ConfluenceError> {
    let labelled = confluence.discover_labelled_pages().await?;
    let roots: Vec<String> = labelled
        .iter()
        .filter(|p| p.has_label(&spec.ingest_all_label))
        .map(|p| p.id.clone())
        .collect();
    let descendants = confluence.descendant_pages(&roots).await?;
    Ok((labelled, descendants))
}

/// The pure part of discovery: dedupe, type filter, cap, attachment filters. Web URLs come from
/// the client (they differ by flavour) through the two closures.
pub(crate) fn select(
    labelled: Vec<Page>,
    descendants: Vec<Page>,
    spec: &TenantSpec,
    page_url: impl Fn(&Page) -> String,
    attachment_url: impl Fn(&str, &str, &str) -> String,
) -> Discovery {
    let cap = spec.max_items_to_scan.unwrap_or(usize::MAX);
    let mut discovery = Discovery::default();
    let mut seen = HashSet::new();
    let mut accepted: Vec<Page> = Vec::new();
    for page in labelled.into_iter().chain(descendants) {
        if !seen.insert(page.id.clone()) {
            continue;
        }
        if page.content_type == ContentType::Unknown {
            // The client named the type when it logged the item; here it is only counted.
            discovery.held_back.add_space(&page.space);
            discovery.held_back.unknown_type.insert(page.id);
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
    // An attachment listed twice (a listing that repeats items) is ingested once.
    let mut seen_attachments = HashSet::new();
    for page in &accepted {
        if !spec.attachments.enabled {
            break;
        }
        if page.attachments_incomplete {
            discovery.held_back.add_space(&page.space);
            discovery.held_back.attachments_of.insert(page.id.clone());
        }
        for attachment in &page.attachments {
            if !attachment_allowed(spec, &attachment.media_type, attachment.file_size) {
                continue;
            }
            if !seen_attachments.insert(attachment.id.as_str()) {
                tracing::debug!(attachment_id = %attachment.id, "Skipping an attachment listed twice");
                continue;
            }
            if remaining == 0 {
                discovery.truncated = true;
                tracing::warn!(limit = cap, "maxItemsToScan limit reached");
                break;
            }
            remaining -= 1;
            discovery.attachments.push(Arc::new(DiscoveredAttachment {
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
                web_url: attachment_url(&page.id, &attachment.id, &attachment.title),
            }));
        }
    }
    discovery.pages = accepted
        .into_iter()
        .map(|page| {
            Arc::new(DiscoveredPage {
                web_url: page_url(&page),
                id: page.id,
                title: page.title,
                content_type: page.content_type,
                space: page.space,
                version_when: page.version_when,
                labels: page.labels,
                access: page.access,
            })
        })
        .collect();
    discovery
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

/// The pages a cycle of `spec` would submit, as the client returned them (so with
/// [`Page::access`] when the client reads view restrictions), and whether `maxItemsToScan`
/// truncated them: labelled pages, then descendants of the subtree roots, with [`select`]'s
/// dedupe, type filter and cap. For read-only callers (the connector's `access-report`) that
/// need what a sync sees and none of what a cycle does with it.
pub async fn discover_pages(
    confluence: &ConfluenceClient,
    spec: &TenantSpec,
) -> Result<(Vec<Page>, bool), ConfluenceError> {
    let (labelled, descendants) = labelled_and_descendants(confluence, spec).await?;
    let chosen = select(
        labelled.clone(),
        descendants.clone(),
        spec,
        |_| String::new(),
        |_, _, _| String::new(),
    );
    let mut wanted: HashSet<&str> = chosen.pages.iter().map(|p| p.id.as_str()).collect();
    let pages = labelled
        .into_iter()
        .chain(descendants)
        .filter(|p| wanted.remove(p.id.as_str()))
        .collect();
    Ok((pages, chosen.truncated))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use confluence_client::Attachment;

    use super::*;

    fn space() -> Space {
        Space {
            id: "1".into(),
            key: "SP".into(),
            name: "Space".into(),
        }
    }

    fn page(id: &str, content_type: ContentType, attachments: Vec<Attachment>) -> Page {
        Page {
            id: id.into(),
            title: format!("T{id}"),
            content_type,
            space: space(),
            version_when: "2024-01-01T00:00:00Z".into(),
            webui: format!("/p/{id}"),
            labels: vec![],
            attachments,
            inline_attachments: None,
            attachments_incomplete: false,
            access: None,
        }
    }

    fn att(id: &str, media_type: &str, file_size: u64) -> Attachment {
        Attachment {
            id: id.into(),
            title: format!("{id}.bin"),
            media_type: media_type.into(),
            file_size,
            version_when: None,
            download_path: format!("/download/{id}"),
        }
    }

    fn spec(cap: Option<usize>) -> TenantSpec {
        let mut spec = TenantSpec::new("t", "root");
        spec.attachments.allowed_mime_types = vec!["application/pdf".into(), "image/png".into()];
        spec.attachments.max_file_size_mb = 10;
        spec.max_items_to_scan = cap;
        spec
    }

    fn run(labelled: Vec<Page>, descendants: Vec<Page>, spec: &TenantSpec) -> Discovery {
        select(
            labelled,
            descendants,
            spec,
            |p| format!("url:{}", p.id),
            |p, a, _| format!("url:{p}:{a}"),
        )
    }

    fn ids(d: &Discovery) -> (Vec<&str>, Vec<&str>) {
        (
            d.pages.iter().map(|p| p.id.as_str()).collect(),
            d.attachments.iter().map(|a| a.id.as_str()).collect(),
        )
    }

    #[test]
    fn labelled_first_then_descendants_without_duplicates() {
        let d = run(
            vec![
                page("parent", ContentType::Page, vec![]),
                page("b", ContentType::Blogpost, vec![]),
            ],
            vec![
                page("child", ContentType::Page, vec![]),
                page("b", ContentType::Page, vec![]),
            ],
            &spec(None),
        );
        assert_eq!(ids(&d).0, ["parent", "b", "child"]);
        assert!(!d.truncated);
    }

    #[test]
    fn bodiless_types_are_skipped_and_do_not_count_toward_the_cap() {
        let d = run(
            vec![
                page("db", ContentType::Database, vec![]),
                page("wb", ContentType::Whiteboard, vec![]),
                page("em", ContentType::Embed, vec![]),
                page("p", ContentType::Page, vec![]),
            ],
            vec![],
            &spec(Some(1)),
        );
        assert_eq!(ids(&d).0, ["p"]);
        assert!(!d.truncated);
    }

    #[test]
    fn an_unknown_type_is_held_back_with_its_attachments_and_its_space_kept() {
        let mut other = page("new", ContentType::Unknown, vec![]);
        other.space.key = "OTHER".into();
        let mut incomplete = page("p", ContentType::Page, vec![att("a", "application/pdf", 1)]);
        incomplete.attachments_incomplete = true;
        let d = run(vec![other, incomplete], vec![], &spec(Some(2)));
        assert_eq!(
            ids(&d),
            (vec!["p"], vec!["a"]),
            "the cap ignores the unknown item"
        );
        assert!(!d.truncated);
        let held = &d.held_back;
        assert!(held.holds("new") && held.holds("new::att9"));
        assert!(held.holds("p::att7"), "the incomplete page's attachments");
        assert!(!held.holds("p"), "the page itself is submitted");
        assert!(!held.holds("other"));
        let spaces: Vec<String> = d.spaces().into_iter().map(|s| s.key).collect();
        assert_eq!(spaces, ["SP", "OTHER"]);
    }

    #[test]
    fn the_cap_cuts_pages_and_marks_the_discovery_truncated() {
        let d = run(
            vec![
                page("a", ContentType::Page, vec![]),
                page("b", ContentType::Page, vec![]),
            ],
            vec![],
            &spec(Some(1)),
        );
        assert_eq!(ids(&d).0, ["a"]);
        assert!(d.truncated);
    }

    #[test]
    fn attachments_take_what_the_pages_left_of_the_cap() {
        let pages = vec![
            page("1", ContentType::Page, vec![]),
            page("2", ContentType::Page, vec![]),
            page(
                "3",
                ContentType::Page,
                vec![
                    att("a1", "application/pdf", 1),
                    att("a2", "application/pdf", 1),
                ],
            ),
        ];
        let d = run(pages.clone(), vec![], &spec(Some(4)));
        assert_eq!(ids(&d), (vec!["1", "2", "3"], vec!["a1"]));
        assert!(d.truncated);

        let one = vec![page(
            "1",
            ContentType::Page,
            vec![
                att("a1", "application/pdf", 1),
                att("a2", "application/pdf", 1),
            ],
        )];
        let d = run(one, vec![], &spec(Some(2)));
        assert_eq!(ids(&d), (vec!["1"], vec!["a1"]));
        assert!(d.truncated);
    }

    #[test]
    fn attachments_are_filtered_by_normalised_mime_and_size() {
        let max = 10 * 1024 * 1024;
        let d = run(
            vec![page(
                "1",
                ContentType::Page,
                vec![
                    att("ok", "APPLICATION/PDF", 5),
                    att("params", " image/png; charset=binary ", 5),
                    att("zip", "application/zip", 5),
                    att("empty", "", 5),
                    att("octet", "application/octet-stream", 5),
                    att("at-cap", "application/pdf", max),
                    att("too-big", "application/pdf", max + 1),
                ],
            )],
            vec![],
            &spec(None),
        );
        assert_eq!(ids(&d).1, ["ok", "params", "at-cap"]);
    }

    #[test]
    fn attachments_inherit_the_page_version_and_belong_to_their_page() {
        let d = run(
            vec![],
            vec![page(
                "child",
                ContentType::Page,
                vec![att("a", "application/pdf", 1)],
            )],
            &spec(None),
        );
        let a = &d.attachments[0];
        assert_eq!(a.page_id, "child");
        assert_eq!(a.version_when, "2024-01-01T00:00:00Z");
        assert_eq!(a.web_url, "url:child:a");
    }

    #[test]
    fn an_attachment_listed_twice_is_discovered_once() {
        let d = run(
            vec![page(
                "1",
                ContentType::Page,
                vec![
                    att("a", "application/pdf", 1),
                    att("b", "application/pdf", 1),
                    att("a", "application/pdf", 1),
                ],
            )],
            vec![page(
                "1",
                ContentType::Page,
                vec![att("b", "application/pdf", 1)],
            )],
            &spec(Some(3)),
        );
        assert_eq!(ids(&d), (vec!["1"], vec!["a", "b"]));
        assert!(!d.truncated, "a repeat takes no room under the cap");
    }

    #[test]
    fn attachments_disabled_discovers_none() {
        let mut spec = spec(None);
        spec.attachments.enabled = false;
        let d = run(
            vec![page(
                "1",
                ContentType::Page,
                vec![att("a", "application/pdf", 1)],
            )],
            vec![],
            &spec,
        );
        assert!(d.attachments.is_empty());
    }
}

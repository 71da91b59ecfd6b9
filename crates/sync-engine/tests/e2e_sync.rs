//! End-to-end behaviours A–E of the reference catalogue (single page, subtree, content types,
//! attachments, updates/deletes/moves), each run on Confluence Cloud and on Data Center against
//! the sandbox.
#![allow(clippy::unwrap_used)]

mod cycle_common;

use cycle_common::*;
use sandbox::confluence::{ContentEdit, ContentMove, ContentType, Dataset};
use sync_engine::RunOutcome;

const SINGLE: &str = "ai-ingest";
const ALL: &str = "ai-ingest-all";

fn sp(item: &str) -> String {
    key(SP, item)
}

// ---- A. single-page sync -------------------------------------------------------------------

async fn single_labelled_page_lands_in_its_space_scope(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![page(1001, "SP", None, &[SINGLE, "engineering"])]),
    )
    .await;

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.status, RunOutcome::Success);
    assert_eq!(h.scope_paths(), ["/Confluence", "/Confluence/SP"]);
    assert_eq!(h.root_external_id().as_deref(), Some(h.owner().as_str()));
    let space_scope =
        h.sb.unique
            .scopes()
            .into_iter()
            .find(|s| s.path == "/Confluence/SP")
            .unwrap();
    assert_eq!(
        space_scope.external_id.as_deref(),
        Some("confc:tenant1:98304:SP")
    );
    assert_eq!(h.keys(), [sp("1001")]);
    let file = h.sb.unique.file_by_key(&sp("1001")).unwrap();
    assert_eq!(file.scope_id, space_scope.id);
    assert_eq!(file.mime_type, "text/html");
    assert_eq!(
        h.sb.unique.file_bytes(&sp("1001")).unwrap(),
        b"<p>Body of 1001</p>"
    );
    let metadata = file.metadata.unwrap();
    assert_eq!(metadata["spaceKey"], "SP");
    assert_eq!(metadata["spaceName"], "Space SP");
    assert_eq!(
        metadata["confluenceLabels"],
        serde_json::json!(["engineering"])
    );
    assert_eq!(file.ingestion_config, None);
}

async fn page_and_its_pdf_become_two_files(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.body = "<p>See attached.</p>".into();
    p.attachments = vec![attachment(
        2001,
        "report.pdf",
        "application/pdf",
        "%PDF-1.4 sandbox bytes",
    )];
    let h = Harness::new(flavour, dataset(vec![p])).await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1001"), sp("1001::att2001")]);
    assert_eq!(
        h.sb.unique.file_bytes(&sp("1001")).unwrap(),
        b"<p>See attached.</p>"
    );
    let pdf = h.sb.unique.file_by_key(&sp("1001::att2001")).unwrap();
    assert_eq!(pdf.mime_type, "application/pdf");
    assert_eq!(pdf.declared_byte_size, Some(22));
    assert_eq!(
        h.sb.unique.file_bytes(&sp("1001::att2001")).unwrap(),
        b"%PDF-1.4 sandbox bytes"
    );
}

async fn only_labelled_pages_are_ingested(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            page(1001, "SP", None, &[SINGLE]),
            page(1002, "SP", None, &[]),
            page(1003, "SP", None, &["draft"]),
        ]),
    )
    .await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1001")]);
}

// ---- B. subtree sync -----------------------------------------------------------------------

async fn subtree_root_brings_its_descendants(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            page(1001, "SP", None, &[ALL]),
            page(1002, "SP", Some(1001), &[]),
            page(1003, "SP", Some(1001), &[]),
        ]),
    )
    .await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1001"), sp("1002"), sp("1003")]);
    assert_eq!(h.scope_paths(), ["/Confluence", "/Confluence/SP"]);
}

async fn two_subtree_roots_share_one_space_scope(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            page(1001, "SP", None, &[ALL]),
            page(1002, "SP", Some(1001), &[]),
            page(1003, "SP", None, &[ALL]),
            page(1004, "SP", Some(1003), &[]),
        ]),
    )
    .await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1001"), sp("1002"), sp("1003"), sp("1004")]);
    assert_eq!(h.scope_paths(), ["/Confluence", "/Confluence/SP"]);
}

async fn subtrees_in_two_spaces_get_two_scopes_and_their_own_keys(flavour: Flavour) {
    let data = Dataset {
        spaces: vec![space("501", "ENG"), space("502", "HR")],
        content: vec![
            page(1001, "ENG", None, &[ALL]),
            page(1002, "ENG", Some(1001), &[]),
            page(1003, "HR", None, &[ALL]),
        ],
    };
    let h = Harness::new(flavour, data).await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(
        h.scope_paths(),
        ["/Confluence", "/Confluence/ENG", "/Confluence/HR"]
    );
    assert_eq!(
        h.keys(),
        [
            key(("501", "ENG"), "1001"),
            key(("501", "ENG"), "1002"),
            key(("502", "HR"), "1003")
        ]
    );
}

async fn fifty_descendants_are_all_ingested(flavour: Flavour) {
    let mut content = vec![page(1000, "SP", None, &[ALL])];
    content.extend((1..=50).map(|i| page(1000 + i, "SP", Some(1000 + (i - 1) / 10 * 10), &[])));
    let h = Harness::new(flavour, dataset(content)).await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys().len(), 51);
}

async fn label_and_subtree_union_has_no_duplicates(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            page(1001, "SP", None, &[SINGLE]),
            page(1002, "SP", None, &[ALL]),
            page(1003, "SP", Some(1002), &[SINGLE]),
        ]),
    )
    .await;

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1001"), sp("1002"), sp("1003")]);
    assert_eq!(report.counts.ingested_pages_ok, 3);
}

async fn single_label_ignores_the_hierarchy(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            page(1001, "SP", None, &[]),
            page(1002, "SP", Some(1001), &[SINGLE]),
        ]),
    )
    .await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1002")]);
}

// ---- C. content types ----------------------------------------------------------------------

async fn blog_posts_are_ingested_like_pages(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            page(1001, "SP", None, &[SINGLE]),
            content(1002, ContentType::Blogpost, "SP", None, &[SINGLE]),
        ]),
    )
    .await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1001"), sp("1002")]);
    assert_eq!(
        h.sb.unique.file_bytes(&sp("1002")).unwrap(),
        b"<p>Body of 1002</p>"
    );
}

async fn bodiless_content_types_are_skipped(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            content(1001, ContentType::Database, "SP", None, &[SINGLE]),
            content(1002, ContentType::Whiteboard, "SP", None, &[SINGLE]),
            content(1003, ContentType::Embed, "SP", None, &[SINGLE]),
            page(1004, "SP", None, &[SINGLE]),
        ]),
    )
    .await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1004")]);
}

/// Cloud only: Data Center has no databases, whiteboards or embeds, and the sandbox serves
/// none there.
#[tokio::test]
async fn children_of_bodiless_subtree_roots_are_ingested() {
    let h = Harness::new(
        Flavour::Cloud,
        dataset(vec![
            content(1001, ContentType::Database, "SP", None, &[ALL]),
            page(1002, "SP", Some(1001), &[]),
            content(1003, ContentType::Whiteboard, "SP", None, &[ALL]),
            content(1004, ContentType::Blogpost, "SP", Some(1003), &[]),
            content(1005, ContentType::Embed, "SP", None, &[ALL]),
            page(1006, "SP", Some(1005), &[]),
        ]),
    )
    .await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1002"), sp("1004"), sp("1006")]);
}

// ---- D. attachments ------------------------------------------------------------------------

async fn images_keep_their_mime_type_and_space_metadata(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![
        attachment(2001, "a.png", "image/png", "png bytes"),
        attachment(2002, "b.jpg", "image/jpeg", "jpeg bytes"),
    ];
    let h = Harness::new(flavour, dataset(vec![p])).await;

    h.run(h.spec()).await.unwrap();

    let png = h.sb.unique.file_by_key(&sp("1001::att2001")).unwrap();
    let jpg = h.sb.unique.file_by_key(&sp("1001::att2002")).unwrap();
    assert_eq!(
        (png.mime_type.as_str(), jpg.mime_type.as_str()),
        ("image/png", "image/jpeg")
    );
    for file in [png, jpg] {
        let metadata = file.metadata.unwrap();
        assert_eq!(metadata["spaceKey"], "SP");
        assert_eq!(metadata["spaceName"], "Space SP");
        assert_eq!(file.ingestion_config, None);
    }
}

async fn mime_allow_list_filters_attachments(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![
        attachment(2001, "a.pdf", "application/pdf", "pdf"),
        attachment(2002, "b.png", "image/png", "png"),
        attachment(2003, "c.svg", "image/svg+xml", "svg"),
    ];
    let h = Harness::new(flavour, dataset(vec![p])).await;
    let mut spec = h.spec();
    spec.attachments.allowed_mime_types = vec!["APPLICATION/PDF".into()];

    h.run(spec).await.unwrap();

    assert_eq!(h.keys(), [sp("1001"), sp("1001::att2001")]);
}

async fn attachments_over_the_size_cap_are_skipped(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![attachment(2001, "small.txt", "text/plain", "tiny"), {
        let mut big = attachment(2002, "big.pdf", "application/pdf", "");
        big.data = sandbox::confluence::AttachmentData::Generated {
            seed: 7,
            size: 2 * 1024 * 1024,
        };
        big
    }];
    let h = Harness::new(flavour, dataset(vec![p])).await;
    let mut spec = h.spec();
    spec.attachments.max_file_size_mb = 1;

    h.run(spec).await.unwrap();

    assert_eq!(h.keys(), [sp("1001"), sp("1001::att2001")]);
}

async fn ocr_config_goes_on_png_and_jpeg_only(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![
        attachment(2001, "a.png", "image/png", "png"),
        attachment(2002, "b.jpg", "image/JPEG; charset=binary", "jpg"),
        attachment(2003, "c.pdf", "application/pdf", "pdf"),
    ];
    let h = Harness::new(flavour, dataset(vec![p])).await;
    let mut spec = h.spec();
    spec.attachments.image_ocr = true;

    h.run(spec).await.unwrap();

    let ocr = serde_json::json!({"jpgReadMode": "DOC_INTELLIGENCE_DEFAULT"});
    let config = |item: &str| h.sb.unique.file_by_key(&sp(item)).unwrap().ingestion_config;
    assert_eq!(config("1001::att2001"), Some(ocr.clone()));
    assert_eq!(config("1001::att2002"), Some(ocr));
    assert_eq!(config("1001::att2003"), None);
    assert_eq!(config("1001"), None);
}

async fn fifty_attachments_past_the_inline_cap_all_arrive(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = (1..=50)
        .map(|i| {
            attachment(
                2000 + i,
                &format!("f{i}.pdf"),
                "application/pdf",
                &format!("pdf {i}"),
            )
        })
        .collect();
    let h = Harness::new(flavour, dataset(vec![p])).await;

    h.run(h.spec()).await.unwrap();

    let attachments: Vec<String> = h.keys().into_iter().filter(|k| k.contains("::")).collect();
    let expected: Vec<String> = (1..=50)
        .map(|i| sp(&format!("1001::att{}", 2000 + i)))
        .collect();
    assert_eq!(attachments, expected);
}

async fn attachments_disabled_ingests_only_pages(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![attachment(2001, "a.pdf", "application/pdf", "pdf")];
    let h = Harness::new(flavour, dataset(vec![p])).await;
    let mut spec = h.spec();
    spec.attachments.enabled = false;

    h.run(spec).await.unwrap();

    assert_eq!(h.keys(), [sp("1001")]);
}

// ---- E. updates, deletes, moves ------------------------------------------------------------

async fn an_edited_page_is_reingested_under_the_same_key(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();
    let id_before = h.sb.unique.file_by_key(&sp("1001")).unwrap().id;

    h.sb.confluence
        .edit_content(
            "1001",
            ContentEdit {
                body: Some("<p>new content</p>".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.counts.diff_updated, 1);
    assert_eq!(h.keys(), [sp("1001")]);
    assert_eq!(h.sb.unique.file_by_key(&sp("1001")).unwrap().id, id_before);
    assert_eq!(
        h.sb.unique.file_bytes(&sp("1001")).unwrap(),
        b"<p>new content</p>"
    );
}

/// Only the attachment is new: its space still gets its scope resolved (S.176) and the
/// unchanged page is not ingested again (S.174–175).
async fn a_new_attachment_on_an_unchanged_page_is_ingested_alone(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();
    h.sb.unique.clear_calls();
    h.sb.confluence
        .add_attachment(
            "1001",
            attachment(2001, "new.pdf", "application/pdf", "new pdf"),
        )
        .unwrap();

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.status, RunOutcome::Success);
    assert_eq!(h.keys(), [sp("1001"), sp("1001::att2001")]);
    assert_eq!(
        h.sb.unique.file_bytes(&sp("1001::att2001")).unwrap(),
        b"new pdf"
    );
    let registered: Vec<String> =
        h.sb.unique
            .calls_of("ContentUpsert")
            .iter()
            .map(|c| {
                c.variables["input"]["key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
    assert!(
        !registered.is_empty() && registered.iter().all(|k| k == &sp("1001::att2001")),
        "only the attachment is registered: {registered:?}"
    );
    let attachment_scope =
        h.sb.unique
            .file_by_key(&sp("1001::att2001"))
            .unwrap()
            .scope_id;
    assert_eq!(
        attachment_scope,
        h.sb.unique.file_by_key(&sp("1001")).unwrap().scope_id
    );
}

async fn full_replacement_with_new_ids_is_allowed(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            page(1001, "SP", None, &[SINGLE]),
            page(1002, "SP", None, &[SINGLE]),
        ]),
    )
    .await;
    h.run(h.spec()).await.unwrap();

    h.sb.confluence
        .replace_dataset(dataset(vec![
            page(1003, "SP", None, &[SINGLE]),
            page(1004, "SP", None, &[SINGLE]),
        ]))
        .unwrap();
    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.status, RunOutcome::Success);
    assert_eq!(h.keys(), [sp("1003"), sp("1004")]);
}

async fn a_page_that_lost_its_label_is_deleted(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            page(1001, "SP", None, &[SINGLE]),
            page(1002, "SP", None, &[SINGLE]),
        ]),
    )
    .await;
    h.run(h.spec()).await.unwrap();

    h.sb.confluence.set_labels("1002", vec![]).unwrap();
    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1001")]);
    assert_eq!(report.deleted_keys, [sp("1002")]);
    assert_eq!(report.counts.deleted_ok, 1);
}

async fn a_removed_attachment_is_deleted_and_the_rest_stays(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![
        attachment(2001, "keeper.pdf", "application/pdf", "keep"),
        attachment(2002, "removed.pdf", "application/pdf", "remove"),
    ];
    let h = Harness::new(flavour, dataset(vec![p])).await;
    h.run(h.spec()).await.unwrap();

    h.sb.confluence.remove_attachment("att2002").unwrap();
    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [sp("1001"), sp("1001::att2001")]);
}

fn two_spaces() -> Dataset {
    Dataset {
        spaces: vec![space("501", "ENG"), space("502", "HR")],
        content: vec![
            page(1001, "ENG", None, &[SINGLE]),
            page(1002, "HR", None, &[SINGLE]),
            page(1003, "HR", None, &[SINGLE]),
        ],
    }
}

async fn a_space_without_labelled_pages_is_removed(flavour: Flavour) {
    let h = Harness::new(flavour, two_spaces()).await;
    h.run(h.spec()).await.unwrap();
    assert_eq!(
        h.scope_paths(),
        ["/Confluence", "/Confluence/ENG", "/Confluence/HR"]
    );

    h.sb.confluence.set_labels("1002", vec![]).unwrap();
    h.sb.confluence.set_labels("1003", vec![]).unwrap();
    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(h.scope_paths(), ["/Confluence", "/Confluence/ENG"]);
    assert_eq!(h.keys(), [key(("501", "ENG"), "1001")]);
    assert_eq!(report.removed_spaces, ["HR"]);
}

async fn a_space_gone_from_confluence_is_removed(flavour: Flavour) {
    let h = Harness::new(flavour, two_spaces()).await;
    h.run(h.spec()).await.unwrap();

    h.sb.confluence
        .replace_dataset(Dataset {
            spaces: vec![space("501", "ENG")],
            content: vec![page(1001, "ENG", None, &[SINGLE])],
        })
        .unwrap();
    h.run(h.spec()).await.unwrap();

    assert_eq!(h.scope_paths(), ["/Confluence", "/Confluence/ENG"]);
    assert_eq!(h.keys(), [key(("501", "ENG"), "1001")]);
}

async fn an_unchanged_tenant_changes_nothing(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();
    h.sb.unique.clear_calls();

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.status, RunOutcome::Success);
    assert_eq!(h.scope_paths(), ["/Confluence", "/Confluence/SP"]);
    let space_scope =
        h.sb.unique
            .scopes()
            .into_iter()
            .find(|s| s.path == "/Confluence/SP")
            .unwrap();
    assert_eq!(
        space_scope.external_id.as_deref(),
        Some("confc:tenant1:98304:SP")
    );
    assert_eq!(h.keys(), [sp("1001")]);
    assert!(h.sb.unique.calls_of("ContentUpsert").is_empty());
    assert!(h.sb.unique.calls_of("ContentDeleteByContentIds").is_empty());
}

async fn a_page_moved_to_another_space_changes_key(flavour: Flavour) {
    let data = Dataset {
        spaces: vec![space("501", "A"), space("502", "B")],
        content: vec![
            page(1001, "A", None, &[SINGLE]),
            page(1002, "A", None, &[SINGLE]),
            page(1003, "B", None, &[SINGLE]),
        ],
    };
    let h = Harness::new(flavour, data).await;
    h.run(h.spec()).await.unwrap();
    let keeper_before = h.sb.unique.file_by_key(&key(("501", "A"), "1002")).unwrap();
    h.sb.unique.clear_calls();

    h.sb.confluence
        .move_content(
            "1001",
            ContentMove {
                parent: None,
                space: Some("B".into()),
            },
        )
        .unwrap();
    h.run(h.spec()).await.unwrap();

    assert_eq!(
        h.keys(),
        [
            key(("501", "A"), "1002"),
            key(("502", "B"), "1001"),
            key(("502", "B"), "1003")
        ]
    );
    assert_eq!(
        h.sb.unique.file_by_key(&key(("501", "A"), "1002")).unwrap(),
        keeper_before
    );
    let registered: Vec<String> =
        h.sb.unique
            .calls_of("ContentUpsert")
            .iter()
            .map(|c| c.variables["input"]["key"].as_str().unwrap().to_owned())
            .collect();
    assert!(
        registered.iter().all(|k| k == &key(("502", "B"), "1001")),
        "{registered:?}"
    );
}

on_both_flavours!(
    a_new_attachment_on_an_unchanged_page_is_ingested_alone,
    single_labelled_page_lands_in_its_space_scope,
    page_and_its_pdf_become_two_files,
    only_labelled_pages_are_ingested,
    subtree_root_brings_its_descendants,
    two_subtree_roots_share_one_space_scope,
    subtrees_in_two_spaces_get_two_scopes_and_their_own_keys,
    fifty_descendants_are_all_ingested,
    label_and_subtree_union_has_no_duplicates,
    single_label_ignores_the_hierarchy,
    blog_posts_are_ingested_like_pages,
    bodiless_content_types_are_skipped,
    images_keep_their_mime_type_and_space_metadata,
    mime_allow_list_filters_attachments,
    attachments_over_the_size_cap_are_skipped,
    ocr_config_goes_on_png_and_jpeg_only,
    fifty_attachments_past_the_inline_cap_all_arrive,
    attachments_disabled_ingests_only_pages,
    an_edited_page_is_reingested_under_the_same_key,
    full_replacement_with_new_ids_is_allowed,
    a_page_that_lost_its_label_is_deleted,
    a_removed_attachment_is_deleted_and_the_rest_stays,
    a_space_without_labelled_pages_is_removed,
    a_space_gone_from_confluence_is_removed,
    an_unchanged_tenant_changes_nothing,
    a_page_moved_to_another_space_changes_key,
);

//! The cycle's safety properties: failure isolation with ledger-backed retries (G), the
//! mass-deletion guards, truncated discovery, dry runs, cancellation and image inlining — on
//! Cloud and on Data Center.
#![allow(clippy::unwrap_used)]

mod cycle_common;

use std::sync::Arc;

use cycle_common::*;
use sandbox::common::FaultRule;
use sandbox::confluence::{ContentEdit, Dataset};
use sandbox::unique::{SeedFile, SeedScope, UniqueFault};
use sync_engine::{
    CancellationToken, CycleMode, CycleObserver, EngineError, Guard, ItemKind, ItemResult,
    RunOutcome, RunStatus, RunTrigger,
};

const SINGLE: &str = "ai-ingest";

fn sp(item: &str) -> String {
    key(SP, item)
}

fn three_pages() -> Dataset {
    dataset(vec![
        page(1001, "SP", None, &[SINGLE]),
        page(1002, "SP", None, &[SINGLE]),
        page(1003, "SP", None, &[SINGLE]),
    ])
}

// ---- G. failure isolation ------------------------------------------------------------------

/// Fails the batched body request, then the single-page fetch of the second page: the route and
/// how many requests of it discovery makes first differ by flavour.
fn fail_second_page_body(h: &Harness) {
    let (service, route, before) = match h.flavour {
        Flavour::Cloud => ("cloud", "/wiki/api/v2/pages", 0),
        Flavour::DataCenter => ("dc", "/rest/api/content/search", 1),
    };
    h.sb.faults.add_rule(
        FaultRule::every_nth(service, before + 1, 400)
            .on_route(route)
            .times(1),
    );
    h.sb.faults.add_rule(
        FaultRule::every_nth(service, before + 3, 400)
            .on_route(route)
            .times(1),
    );
}

async fn a_failed_body_fetch_skips_only_that_page_and_is_retried(flavour: Flavour) {
    let h = Harness::new(flavour, three_pages()).await;
    fail_second_page_body(&h);

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.status, RunOutcome::PartialSuccess);
    assert_eq!(h.keys(), [sp("1001"), sp("1003")]);
    assert_eq!(report.counts.ingested_pages_failed, 1);
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].key, sp("1002"));
    let open = h.ledger.open_failures(TENANT).await.unwrap();
    assert_eq!(
        open.iter().map(|f| f.key.as_str()).collect::<Vec<_>>(),
        [sp("1002")]
    );
    let runs = h.ledger.recent_runs(Some(TENANT), 1).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::PARTIAL_SUCCESS);

    h.sb.faults.clear();
    let retry = h.run(h.spec()).await.unwrap();

    assert_eq!(retry.status, RunOutcome::Success);
    assert_eq!(h.keys(), [sp("1001"), sp("1002"), sp("1003")]);
    assert!(h.ledger.open_failures(TENANT).await.unwrap().is_empty());
}

async fn a_failing_page_that_leaves_discovery_is_forgotten(flavour: Flavour) {
    let h = Harness::new(flavour, three_pages()).await;
    fail_second_page_body(&h);
    h.run(h.spec()).await.unwrap();
    assert_eq!(h.ledger.open_failures(TENANT).await.unwrap().len(), 1);

    h.sb.faults.clear();
    h.sb.confluence.set_labels("1002", vec![]).unwrap();
    h.run(h.spec()).await.unwrap();

    assert!(h.ledger.open_failures(TENANT).await.unwrap().is_empty());
}

async fn a_rejected_registration_skips_only_that_page(flavour: Flavour) {
    let h = Harness::new(flavour, three_pages()).await;
    h.sb.unique.add_fault(
        UniqueFault::graphql_error("ContentUpsert", "rejected").when_contains(&sp("1002")),
    );

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.status, RunOutcome::PartialSuccess);
    assert_eq!(h.keys(), [sp("1001"), sp("1003")]);
}

async fn a_failed_attachment_upload_leaves_no_orphan(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![attachment(2001, "a.pdf", "application/pdf", "pdf bytes")];
    let h = Harness::new(flavour, dataset(vec![p])).await;
    h.sb.unique
        .add_fault(UniqueFault::status("upload", 500).when_contains("::att2001"));

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.status, RunOutcome::PartialSuccess);
    assert_eq!(report.counts.ingested_attachments_failed, 1);
    assert_eq!(h.keys(), [sp("1001")]);
    let items = h.observer.items.lock().unwrap().clone();
    assert!(items.contains(&(ItemKind::Page, ItemResult::Success)));
    assert!(items.contains(&(ItemKind::Attachment, ItemResult::Failure)));
}

async fn a_failed_deletion_is_counted_and_retried_next_cycle(flavour: Flavour) {
    let h = Harness::new(flavour, three_pages()).await;
    h.run(h.spec()).await.unwrap();
    h.sb.confluence.set_labels("1003", vec![]).unwrap();
    h.sb.unique
        .add_fault(UniqueFault::graphql_error("ContentDeleteByContentIds", "nope").times(1));

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.counts.deleted_failed, 1);
    assert!(h.keys().contains(&sp("1003")));

    h.run(h.spec()).await.unwrap();
    assert_eq!(h.keys(), [sp("1001"), sp("1002")]);
}

async fn one_failing_removed_space_does_not_stop_the_next(flavour: Flavour) {
    let data = Dataset {
        spaces: vec![space("501", "ENG"), space("502", "HR"), space("503", "OPS")],
        content: vec![
            page(1001, "ENG", None, &[SINGLE]),
            page(1002, "HR", None, &[SINGLE]),
            page(1003, "OPS", None, &[SINGLE]),
        ],
    };
    let h = Harness::new(flavour, data).await;
    h.run(h.spec()).await.unwrap();
    h.sb.confluence.set_labels("1002", vec![]).unwrap();
    h.sb.confluence.set_labels("1003", vec![]).unwrap();
    h.sb.unique.add_fault(
        UniqueFault::graphql_error("PaginatedContent", "listing failed").when_contains("502_HR"),
    );

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.removed_spaces, ["OPS"]);
    assert_eq!(
        h.scope_paths(),
        ["/Confluence", "/Confluence/ENG", "/Confluence/HR"]
    );
    assert!(h.keys().contains(&key(("502", "HR"), "1002")));

    h.sb.unique.clear_faults();
    h.run(h.spec()).await.unwrap();
    assert_eq!(h.scope_paths(), ["/Confluence", "/Confluence/ENG"]);
    assert_eq!(h.keys(), [key(("501", "ENG"), "1001")]);
}

// ---- T. deletion guards --------------------------------------------------------------------

/// Stored: 1001 and 1002 in SP. Confluence now has only 1003 in SP, which Unique already holds
/// in another space: with moves reported, the diff for SP has no new file and deletes all.
async fn deleting_every_stored_file_without_replacement_aborts(flavour: Flavour) {
    let h = Harness::with_sandbox(
        flavour,
        dataset(vec![page(1003, "SP", None, &[SINGLE])]),
        |c| {
            c.unique.file_diff_reports_moves = true;
        },
    )
    .await;
    h.sb.unique
        .seed_scope(SeedScope {
            id: Some("s".into()),
            name: "SP".into(),
            parent_id: Some(h.root_id.clone()),
            ..SeedScope::default()
        })
        .unwrap();
    for k in [sp("1001"), sp("1002"), "tenant1/1_ELSE/1003".to_owned()] {
        h.sb.unique
            .seed_file(SeedFile {
                key: k,
                scope_id: "s".into(),
                mime_type: "text/html".into(),
                source_kind: Some(
                    match flavour {
                        Flavour::Cloud => "ATLASSIAN_CONFLUENCE_CLOUD",
                        Flavour::DataCenter => "ATLASSIAN_CONFLUENCE_ONPREM",
                    }
                    .into(),
                ),
                source_name: Some(
                    h.confluence_config(true)
                        .base_url
                        .trim_end_matches('/')
                        .to_owned(),
                ),
                content: Some("stored".into()),
                ..SeedFile::default()
            })
            .unwrap();
    }

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.status, RunOutcome::Aborted);
    let reason = report.aborted_reason.unwrap();
    assert!(reason.contains("would delete all 2 files"), "{reason}");
    assert!(reason.contains(&format!("{TENANT}/98304_SP")), "{reason}");
    assert!(reason.contains("whole-space"), "{reason}");
    assert_eq!(h.keys().len(), 3, "nothing deleted");
    assert!(
        h.sb.unique.calls_of("ContentUpsert").is_empty(),
        "nothing ingested"
    );
    let runs = h.ledger.recent_runs(Some(TENANT), 1).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::ABORTED);
    assert!(runs[0]
        .abort_reason
        .as_deref()
        .unwrap()
        .contains("would delete all"));
}

#[test]
fn guard_errors_name_the_space() {
    let error = EngineError::GuardAborted {
        guard: Guard::WholeSpace,
        partial_key: "t/1_SP".into(),
        reason: "File diff would delete all 3 files".into(),
    };
    assert!(error.to_string().contains("t/1_SP"));
}

// ---- truncated discovery -------------------------------------------------------------------

async fn a_truncated_discovery_ingests_but_deletes_nothing(flavour: Flavour) {
    let data = Dataset {
        spaces: vec![space(SP.0, SP.1), space("502", "HR")],
        content: vec![
            page(1001, "SP", None, &[SINGLE]),
            page(1002, "SP", None, &[SINGLE]),
            page(1003, "HR", None, &[SINGLE]),
        ],
    };
    let h = Harness::new(flavour, data).await;
    h.run(h.spec()).await.unwrap();
    let before = h.keys();
    h.sb.confluence
        .edit_content(
            "1001",
            ContentEdit {
                body: Some("<p>v2</p>".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let mut spec = h.spec();
    spec.max_items_to_scan = Some(1);

    let report = h.run(spec).await.unwrap();

    assert!(report.truncated);
    assert!(report.deleted_keys.is_empty());
    assert!(report.removed_spaces.is_empty());
    assert_eq!(h.keys(), before);
    assert_eq!(
        h.scope_paths(),
        ["/Confluence", "/Confluence/HR", "/Confluence/SP"]
    );
    assert_eq!(h.sb.unique.file_bytes(&sp("1001")).unwrap(), b"<p>v2</p>");
}

// ---- dry run -------------------------------------------------------------------------------

const MUTATIONS: [&str; 7] = [
    "CreateScopeAccesses",
    "UpdateScope",
    "GenerateScopesBasedOnPaths",
    "ContentUpsert",
    "ContentDeleteByContentIds",
    "DeleteFolder",
    "BulkMove",
];

async fn a_dry_run_writes_nothing_and_reports_the_plan(flavour: Flavour) {
    let h = Harness::new(flavour, three_pages()).await;
    h.run(h.spec()).await.unwrap();
    h.sb.confluence
        .edit_content(
            "1001",
            ContentEdit {
                body: Some("<p>v2</p>".into()),
                ..Default::default()
            },
        )
        .unwrap();
    h.sb.confluence.set_labels("1002", vec![]).unwrap();
    h.sb.confluence
        .add_content(page(1004, "SP", None, &[SINGLE]))
        .unwrap();
    let (files, scopes) = (h.sb.unique.files(), h.sb.unique.scopes());
    let runs_before = h.ledger.recent_runs(Some(TENANT), 10).await.unwrap().len();
    h.sb.unique.clear_calls();
    h.sb.reset_requests();

    let report = h
        .sync(h.spec())
        .run_cycle(RunTrigger::Cli, CycleMode::DryRun, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(
        (report.mode, report.status),
        (CycleMode::DryRun, RunOutcome::Success)
    );
    assert_eq!(report.spaces[0].new, ["1004"]);
    assert_eq!(report.spaces[0].updated, ["1001"]);
    assert_eq!(report.deleted_keys, [sp("1002")]);
    assert_eq!(report.planned_ingest, [sp("1001"), sp("1004")]);
    assert_eq!(h.sb.unique.files(), files);
    assert_eq!(h.sb.unique.scopes(), scopes);
    let operations: Vec<String> =
        h.sb.unique
            .calls()
            .into_iter()
            .map(|c| c.operation)
            .collect();
    assert!(
        operations
            .iter()
            .all(|op| !MUTATIONS.contains(&op.as_str())),
        "{operations:?}"
    );
    assert!(operations.iter().any(|op| op == "file-diff"));
    assert!(h.sb.requests.records_for("unique-blob").is_empty());
    assert_eq!(
        h.ledger.recent_runs(Some(TENANT), 10).await.unwrap().len(),
        runs_before
    );
}

async fn a_dry_run_does_not_claim_the_root(flavour: Flavour) {
    let h = Harness::new(flavour, three_pages()).await;

    let report = h
        .sync(h.spec())
        .run_cycle(RunTrigger::Cli, CycleMode::DryRun, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(report.spaces[0].new.len(), 3);
    assert_eq!(h.root_external_id(), None);
    assert_eq!(h.scope_paths(), ["/Confluence"]);
    assert!(h.keys().is_empty());
}

// ---- cancellation --------------------------------------------------------------------------

/// Cancels the cycle as soon as the first item finished.
struct CancelAfterFirstItem(CancellationToken);

impl CycleObserver for CancelAfterFirstItem {
    fn item(&self, _: ItemKind, _: ItemResult, _: Option<std::time::Duration>) {
        self.0.cancel();
    }
}

async fn a_cancelled_cycle_stops_taking_items_and_deletes_nothing(flavour: Flavour) {
    let mut content: Vec<_> = (0..20)
        .map(|i| page(1100 + i, "SP", None, &[SINGLE]))
        .collect();
    content.push(page(1001, "SP", None, &[SINGLE]));
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();
    h.sb.confluence
        .replace_dataset(dataset(content[..20].to_vec()))
        .unwrap();
    let cancel = CancellationToken::new();
    let mut spec = h.spec();
    spec.concurrency = 1;

    let report = h
        .sync_with(spec, Arc::new(CancelAfterFirstItem(cancel.clone())))
        .run_cycle(RunTrigger::Schedule, CycleMode::Normal, cancel)
        .await
        .unwrap();

    assert_eq!(report.status, RunOutcome::Cancelled);
    assert!(report.counts.ingested_pages_ok < 20, "{:?}", report.counts);
    assert!(
        h.keys().contains(&sp("1001")),
        "nothing deleted after a cancel"
    );
    let runs = h.ledger.recent_runs(Some(TENANT), 1).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::CANCELLED);

    h.run(h.spec()).await.unwrap();
    assert_eq!(h.keys().len(), 20);
    assert!(!h.keys().contains(&sp("1001")));
}

// ---- S. image inlining ---------------------------------------------------------------------

fn page_with_image_and_pdf() -> Dataset {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.body = r#"<p>x</p><ac:image><ri:attachment ri:filename="a.png" /></ac:image>"#.into();
    p.attachments = vec![
        attachment(2001, "a.png", "image/png", "png bytes"),
        attachment(2002, "b.pdf", "application/pdf", "pdf bytes"),
    ];
    let mut other = page(1002, "SP", None, &[SINGLE]);
    other.attachments = vec![attachment(2003, "c.png", "image/png", "other png")];
    dataset(vec![p, other])
}

async fn inlined_images_live_in_the_page_and_are_never_ingested_alone(flavour: Flavour) {
    let h = Harness::new(flavour, page_with_image_and_pdf()).await;
    let mut spec = h.spec();
    spec.inline_images = true;

    h.run(spec).await.unwrap();

    assert_eq!(h.keys(), [sp("1001"), sp("1001::att2002"), sp("1002")]);
    let body = String::from_utf8(h.sb.unique.file_bytes(&sp("1001")).unwrap()).unwrap();
    assert!(body.contains("data:image/png;base64,"), "{body}");
    assert!(!body.contains("<ac:image"), "{body}");
    let other = String::from_utf8(h.sb.unique.file_bytes(&sp("1002")).unwrap()).unwrap();
    assert!(
        other.contains("data:image/png;base64,"),
        "appended: {other}"
    );
}

async fn a_new_image_version_reingests_its_inlining_page(flavour: Flavour) {
    let h = Harness::new(flavour, page_with_image_and_pdf()).await;
    let mut spec = h.spec();
    spec.inline_images = true;
    h.run(spec.clone()).await.unwrap();
    let before = h.sb.unique.file_bytes(&sp("1001")).unwrap();

    h.sb.confluence
        .update_attachment(
            "att2001",
            sandbox::confluence::AttachmentUpdate {
                data: Some(sandbox::confluence::AttachmentData::Text(
                    "new png bytes".into(),
                )),
                ..Default::default()
            },
        )
        .unwrap();
    let report = h.run(spec).await.unwrap();

    assert_eq!(report.counts.diff_updated, 1, "{:?}", report.spaces);
    let after = h.sb.unique.file_bytes(&sp("1001")).unwrap();
    assert_ne!(before, after);
}

async fn without_inlining_images_are_ingested_alone_and_bodies_verbatim(flavour: Flavour) {
    let h = Harness::new(flavour, page_with_image_and_pdf()).await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(
        h.keys(),
        [
            sp("1001"),
            sp("1001::att2001"),
            sp("1001::att2002"),
            sp("1002"),
            sp("1002::att2003")
        ]
    );
    let body = String::from_utf8(h.sb.unique.file_bytes(&sp("1001")).unwrap()).unwrap();
    assert!(body.contains("<ac:image>"), "{body}");
}

on_both_flavours!(
    a_failed_body_fetch_skips_only_that_page_and_is_retried,
    a_rejected_registration_skips_only_that_page,
    a_failing_page_that_leaves_discovery_is_forgotten,
    a_failed_attachment_upload_leaves_no_orphan,
    a_failed_deletion_is_counted_and_retried_next_cycle,
    one_failing_removed_space_does_not_stop_the_next,
    deleting_every_stored_file_without_replacement_aborts,
    a_truncated_discovery_ingests_but_deletes_nothing,
    a_dry_run_writes_nothing_and_reports_the_plan,
    a_dry_run_does_not_claim_the_root,
    a_cancelled_cycle_stops_taking_items_and_deletes_nothing,
    inlined_images_live_in_the_page_and_are_never_ingested_alone,
    a_new_image_version_reingests_its_inlining_page,
    without_inlining_images_are_ingested_alone_and_bodies_verbatim,
);

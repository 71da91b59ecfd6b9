//! Details of what Unique receives and what the cycle reports: key formats, constant fields,
//! forwarded configuration, space-scope marks, phases and the ledger record — on Cloud and on
//! Data Center.
#![allow(clippy::unwrap_used)]

mod cycle_common;

use cycle_common::*;
use sandbox::unique::SeedScope;
use sync_engine::{KeyFormat, Phase, RunStatus};

const SINGLE: &str = "ai-ingest";

async fn v1_keys_have_no_tenant_prefix(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![attachment(2001, "a.pdf", "application/pdf", "pdf")];
    let h = Harness::new(flavour, dataset(vec![p])).await;
    let mut spec = h.spec();
    spec.key_format = KeyFormat::V1;

    h.run(spec).await.unwrap();

    assert_eq!(h.keys(), ["98304_SP/1001", "98304_SP/1001::att2001"]);
    let diff = &h.sb.unique.calls_of("file-diff")[0];
    assert_eq!(diff.variables["partialKey"], "98304_SP");
    // The space scope's mark keeps the tenant whatever the key format.
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
}

/// Keys, diff keys and scope marks as literal strings, exactly as the reference writes them
/// (behaviours P, unique-api-detail §8): a user switching connectors must not re-ingest.
async fn v2_keys_and_scope_marks_match_the_reference_literally(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![attachment(2001, "a.pdf", "application/pdf", "pdf")];
    let h = Harness::new(flavour, dataset(vec![p])).await;

    h.run(h.spec()).await.unwrap();

    assert_eq!(
        h.keys(),
        ["tenant1/98304_SP/1001", "tenant1/98304_SP/1001::att2001"]
    );
    let diff = &h.sb.unique.calls_of("file-diff")[0];
    assert_eq!(diff.variables["partialKey"], "tenant1/98304_SP");
    let diff_keys: Vec<&str> = diff.variables["fileList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(diff_keys, ["1001", "1001::att2001"]);
    let mark_of = |path: &str| {
        h.sb.unique
            .scopes()
            .into_iter()
            .find(|s| s.path == path)
            .and_then(|s| s.external_id)
            .unwrap()
    };
    assert_eq!(mark_of("/Confluence/SP"), "confc:tenant1:98304:SP");
    let root_mark = match flavour {
        Flavour::Cloud => "confc:cloud:sandbox-cloud",
        Flavour::DataCenter => "confc:data-center:5d1a3f0e-5a1d-4b0c-9a8e-5a4db0c0ffee",
    };
    assert_eq!(mark_of("/Confluence"), root_mark);
}

async fn constant_fields_and_forwarded_config_reach_unique(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![page(
            1001,
            "SP",
            None,
            &[SINGLE, "zebra", "alpha", "ai-ingest-all"],
        )]),
    )
    .await;
    let config = serde_json::json!({"htmlConfig": {"imageContentExtraction": {"enabled": false}}});
    let mut spec = h.spec();
    spec.store_internally = false;
    spec.page_ingestion_config = Some(config.clone());

    h.run(spec).await.unwrap();

    let file = h.sb.unique.file_by_key(&key(SP, "1001")).unwrap();
    assert_eq!(file.ingestion_config, Some(config));
    assert!(!file.store_internally);
    assert_eq!(
        file.metadata.unwrap()["confluenceLabels"],
        serde_json::json!(["alpha", "zebra"])
    );
    let (kind, base) = match flavour {
        Flavour::Cloud => ("ATLASSIAN_CONFLUENCE_CLOUD", h.sb.urls.cloud_site.clone()),
        Flavour::DataCenter => ("ATLASSIAN_CONFLUENCE_ONPREM", h.sb.urls.dc_base.clone()),
    };
    assert_eq!(file.source_kind.as_deref(), Some(kind));
    assert_eq!(
        file.source_name.as_deref(),
        Some(base.trim_end_matches('/'))
    );
    assert!(file.url.unwrap().contains("1001"));
}

async fn an_old_format_space_mark_is_rewritten(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique
        .seed_scope(SeedScope {
            id: Some("sp-scope".into()),
            name: "SP".into(),
            parent_id: Some(h.root_id.clone()),
            external_id: Some("confc:tenant1:SP".into()),
            ..SeedScope::default()
        })
        .unwrap();

    h.run(h.spec()).await.unwrap();

    let scope =
        h.sb.unique
            .scopes()
            .into_iter()
            .find(|s| s.id == "sp-scope")
            .unwrap();
    assert_eq!(scope.external_id.as_deref(), Some("confc:tenant1:98304:SP"));
    assert_eq!(
        h.sb.unique.file_by_key(&key(SP, "1001")).unwrap().scope_id,
        "sp-scope"
    );
}

async fn nothing_discovered_cleans_up_nothing(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();

    h.sb.confluence.set_labels("1001", vec![]).unwrap();
    let report = h.run(h.spec()).await.unwrap();

    assert!(report.spaces.is_empty());
    assert!(report.removed_spaces.is_empty());
    assert_eq!(h.keys(), [key(SP, "1001")]);
}

async fn a_full_run_walks_every_phase_and_is_recorded(flavour: Flavour) {
    let mut p = page(1001, "SP", None, &[SINGLE]);
    p.attachments = vec![attachment(2001, "a.pdf", "application/pdf", "pdf")];
    let h = Harness::new(flavour, dataset(vec![p])).await;

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(
        *h.observer.phases.lock().unwrap(),
        [
            Phase::Scanning,
            Phase::Diffing,
            Phase::IngestingPages,
            Phase::IngestingAttachments,
            Phase::Deleting,
            Phase::CleaningUp,
            Phase::Idle
        ]
    );
    let run = &h.ledger.recent_runs(Some(TENANT), 1).await.unwrap()[0];
    assert_eq!(run.status, RunStatus::SUCCESS);
    assert_eq!(run.counts, report.counts);
    assert_eq!(run.counts.discovered_pages, 1);
    assert_eq!(run.counts.discovered_attachments, 1);
    assert_eq!(run.counts.diff_new, 2);
    assert_eq!(run.counts.ingested_pages_ok, 1);
    assert_eq!(run.counts.ingested_attachments_ok, 1);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["status"], "success");
    assert!(json["duration_ms"].is_u64());
}

async fn a_failed_discovery_is_recorded_and_ends_idle(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    let service = match flavour {
        Flavour::Cloud => "cloud",
        Flavour::DataCenter => "dc",
    };
    h.sb.faults
        .add_rule(sandbox::common::FaultRule::error(service, 400, 1.0).on_route("content/search"));

    let error = h.run(h.spec()).await.unwrap_err();

    assert!(
        matches!(error, sync_engine::EngineError::Discovery(_)),
        "{error:?}"
    );
    assert_eq!(h.observer.phases.lock().unwrap().last(), Some(&Phase::Idle));
    assert!(
        h.sb.unique.calls_of("file-diff").is_empty(),
        "no diff after a failed discovery"
    );
    let run = &h.ledger.recent_runs(Some(TENANT), 1).await.unwrap()[0];
    assert_eq!(run.status, RunStatus::FAILED);
    assert!(run.error.as_deref().unwrap().contains("discovery failed"));
}

/// S.173: a failing diff fails the cycle before anything is fetched, written or deleted.
async fn a_failed_diff_fails_the_cycle_before_any_write(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique
        .add_fault(sandbox::unique::UniqueFault::status("file-diff", 400));

    let error = h.run(h.spec()).await.unwrap_err();

    assert!(error.to_string().contains("file diff"), "{error}");
    assert!(h.keys().is_empty());
    assert!(h.sb.unique.calls_of("ContentUpsert").is_empty());
    assert!(
        h.confluence_requests()
            .iter()
            .all(|r| !r.path_and_query.contains("body")),
        "no body fetched after a failed diff"
    );
    assert_eq!(h.observer.phases.lock().unwrap().last(), Some(&Phase::Idle));
    let run = &h.ledger.recent_runs(Some(TENANT), 1).await.unwrap()[0];
    assert_eq!(run.status, RunStatus::FAILED);
}

async fn a_large_attachment_streams_through_whole(flavour: Flavour) {
    let size = 8 * 1024 * 1024;
    let mut p = page(1001, "SP", None, &[SINGLE]);
    let mut big = attachment(2001, "big.pdf", "application/pdf", "");
    big.data = sandbox::confluence::AttachmentData::Generated { seed: 3, size };
    p.attachments = vec![big];
    let h = Harness::new(flavour, dataset(vec![p])).await;

    h.run(h.spec()).await.unwrap();

    let file = h.sb.unique.file_by_key(&key(SP, "1001::att2001")).unwrap();
    assert_eq!(file.uploaded_size, Some(size));
    assert_eq!(file.declared_byte_size, Some(size as i64));
    assert!(file.sha256.is_some());
}

async fn empty_pages_and_zero_byte_attachments_are_skipped(flavour: Flavour) {
    let mut empty = page(1001, "SP", None, &[SINGLE]);
    empty.body = String::new();
    let mut p = page(1002, "SP", None, &[SINGLE]);
    p.attachments = vec![
        attachment(2001, "empty.txt", "text/plain", ""),
        attachment(2002, "full.txt", "text/plain", "text"),
    ];
    let h = Harness::new(flavour, dataset(vec![empty, p])).await;

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.status, sync_engine::RunOutcome::Success);
    assert_eq!(h.keys(), [key(SP, "1002"), key(SP, "1002::att2002")]);
    assert_eq!(report.counts.ingested_pages_skipped, 1);
    assert_eq!(report.counts.ingested_attachments_skipped, 1);
}

/// Deletes a page from Confluence once the diff starts: after discovery found it, before its
/// body is fetched.
#[derive(Debug)]
struct DeleteWhenDiffing(sandbox::confluence::ConfluenceSim, &'static str);

impl sync_engine::CycleObserver for DeleteWhenDiffing {
    fn phase(&self, phase: Phase) {
        if phase == Phase::Diffing {
            self.0.delete_content(self.1).unwrap();
        }
    }
}

async fn a_page_deleted_before_its_body_is_fetched_is_skipped(flavour: Flavour) {
    let h = Harness::new(
        flavour,
        dataset(vec![
            page(1001, "SP", None, &[SINGLE]),
            page(1002, "SP", None, &[SINGLE]),
        ]),
    )
    .await;
    let observer = std::sync::Arc::new(DeleteWhenDiffing(h.sb.confluence.clone(), "1001"));

    let report = h
        .sync_with(h.spec(), observer)
        .run_cycle(
            sync_engine::RunTrigger::Cli,
            sync_engine::CycleMode::Normal,
            sync_engine::CancellationToken::new(),
        )
        .await
        .unwrap();

    assert_eq!(report.status, sync_engine::RunOutcome::Success);
    assert_eq!(report.counts.ingested_pages_ok, 1);
    assert_eq!(report.counts.ingested_pages_skipped, 1);
    assert_eq!(report.counts.ingested_pages_failed, 0);
    assert_eq!(h.keys(), [key(SP, "1002")]);
}

on_both_flavours!(
    a_page_deleted_before_its_body_is_fetched_is_skipped,
    empty_pages_and_zero_byte_attachments_are_skipped,
    a_large_attachment_streams_through_whole,
    v1_keys_have_no_tenant_prefix,
    v2_keys_and_scope_marks_match_the_reference_literally,
    constant_fields_and_forwarded_config_reach_unique,
    an_old_format_space_mark_is_rewritten,
    nothing_discovered_cleans_up_nothing,
    a_full_run_walks_every_phase_and_is_recorded,
    a_failed_discovery_is_recorded_and_ends_idle,
    a_failed_diff_fails_the_cycle_before_any_write,
);

/// W.249: the Data Center instance id (the manifest) is asked once per engine, not per cycle.
#[tokio::test]
async fn the_instance_id_is_resolved_once_across_cycles() {
    let h = Harness::new(
        Flavour::DataCenter,
        dataset(vec![page(1001, "SP", None, &[SINGLE])]),
    )
    .await;
    let sync = h.sync(h.spec());

    for _ in 0..3 {
        sync.run_cycle(
            sync_engine::RunTrigger::Schedule,
            sync_engine::CycleMode::Normal,
            sync_engine::CancellationToken::new(),
        )
        .await
        .unwrap();
    }

    let manifests = h
        .confluence_requests()
        .iter()
        .filter(|r| r.route.ends_with("/applinks/1.0/manifest"))
        .count();
    assert_eq!(manifests, 1);
}

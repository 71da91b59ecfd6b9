//! End-to-end behaviours F (root scope ownership and migration) and H (tenant deletion), on
//! Cloud and Data Center against the sandbox.
#![allow(clippy::unwrap_used)]

mod cycle_common;

use cycle_common::*;
use sandbox::unique::{SeedFile, SeedScope, UniqueFault};
use sync_engine::{
    CancellationToken, CycleObserver, DeletionStatus, EngineError, NoopCycleObserver, RunStatus,
    RunTrigger, TenantDeletion,
};

const SINGLE: &str = "ai-ingest";

fn seed_scope(h: &Harness, id: &str, name: &str, parent: Option<&str>, external_id: Option<&str>) {
    h.sb.unique
        .seed_scope(SeedScope {
            id: Some(id.into()),
            name: name.into(),
            parent_id: parent.map(str::to_owned),
            external_id: external_id.map(str::to_owned),
            ..SeedScope::default()
        })
        .unwrap();
}

fn seed_file(h: &Harness, key: &str, scope_id: &str) {
    h.sb.unique
        .seed_file(SeedFile {
            key: key.into(),
            scope_id: scope_id.into(),
            mime_type: "text/html".into(),
            content: Some("<p>stored</p>".into()),
            ..SeedFile::default()
        })
        .unwrap();
}

fn external_id_of(h: &Harness, id: &str) -> Option<String> {
    h.sb.unique
        .scopes()
        .into_iter()
        .find(|s| s.id == id)
        .and_then(|s| s.external_id)
}

// ---- F. root scope ownership and migration -------------------------------------------------

async fn first_sync_claims_an_unowned_root(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    assert_eq!(h.root_external_id(), None);

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.root_external_id(), Some(h.owner()));
}

async fn a_root_we_own_stays_ours_and_syncs(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique.reset();
    seed_scope(&h, "root-scope-id", "Confluence", None, Some(&h.owner()));

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.root_external_id(), Some(h.owner()));
    assert_eq!(h.keys(), [key(SP, "1001")]);
}

async fn a_root_owned_by_another_instance_aborts_before_any_write(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique.reset();
    seed_scope(
        &h,
        "root-scope-id",
        "Confluence",
        None,
        Some("confc:cloud:other-instance"),
    );

    let error = h.run(h.spec()).await.unwrap_err();

    match &error {
        EngineError::OwnershipMismatch {
            expected, found, ..
        } => {
            assert_eq!(expected, &h.owner());
            assert_eq!(found, "confc:cloud:other-instance");
        }
        other => panic!("expected an ownership mismatch, got {other:?}"),
    }
    assert!(error.to_string().contains("confc:cloud:other-instance"));
    assert_eq!(
        h.root_external_id().as_deref(),
        Some("confc:cloud:other-instance")
    );
    assert!(h.keys().is_empty());
    assert_eq!(h.scope_paths(), ["/Confluence"]);
    let runs = h.ledger.recent_runs(Some(TENANT), 1).await.unwrap();
    assert_eq!(runs[0].status, sync_engine::RunStatus::FAILED);
}

async fn an_unmarked_old_root_is_left_alone(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    seed_scope(
        &h,
        "old-space",
        "OLD",
        Some("root-scope-id"),
        Some("confc:tenant1:777:OLD"),
    );
    seed_file(&h, "tenant1/777_OLD/999", "old-space");
    seed_scope(&h, "new-root", "Confluence v2", None, None);
    let mut spec = h.spec();
    spec.root_scope_id = "new-root".into();

    h.run(spec).await.unwrap();

    assert_eq!(external_id_of(&h, "new-root"), Some(h.owner()));
    assert_eq!(external_id_of(&h, "root-scope-id"), None);
    assert_eq!(
        h.scope_paths(),
        [
            "/Confluence",
            "/Confluence v2",
            "/Confluence v2/SP",
            "/Confluence/OLD"
        ]
    );
    assert_eq!(
        h.keys(),
        ["tenant1/777_OLD/999".to_owned(), key(SP, "1001")]
    );
}

async fn space_scopes_move_from_our_old_root_without_reingestion(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique.reset();
    seed_scope(&h, "old-root", "Confluence", None, Some(&h.owner()));
    seed_scope(
        &h,
        "scope-sp",
        "SP",
        Some("old-root"),
        Some("confc:tenant1:98304:SP"),
    );
    seed_file(&h, &key(SP, "1001"), "scope-sp");
    seed_scope(&h, "new-root", "Confluence v2", None, None);
    let mut spec = h.spec();
    spec.root_scope_id = "new-root".into();

    h.run(spec).await.unwrap();

    assert_eq!(h.scope_paths(), ["/Confluence v2", "/Confluence v2/SP"]);
    assert_eq!(external_id_of(&h, "new-root"), Some(h.owner()));
    let moved =
        h.sb.unique
            .scopes()
            .into_iter()
            .find(|s| s.id == "scope-sp")
            .unwrap();
    assert_eq!(moved.parent_id.as_deref(), Some("new-root"));
    assert!(h.sb.unique.calls_of("ContentUpsert").is_empty());
    assert_eq!(h.keys(), [key(SP, "1001")]);
}

async fn a_failed_migration_claims_nothing(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique.reset();
    seed_scope(&h, "old-root", "Confluence", None, Some(&h.owner()));
    seed_scope(
        &h,
        "scope-sp",
        "SP",
        Some("old-root"),
        Some("confc:tenant1:98304:SP"),
    );
    seed_scope(&h, "new-root", "Confluence v2", None, None);
    h.sb.unique
        .add_fault(UniqueFault::graphql_error("BulkMove", "cannot move"));
    let mut spec = h.spec();
    spec.root_scope_id = "new-root".into();

    let error = h.run(spec).await.unwrap_err();

    assert!(
        matches!(error, EngineError::MigrationFailed { .. }),
        "{error:?}"
    );
    assert_eq!(external_id_of(&h, "new-root"), None);
    assert_eq!(external_id_of(&h, "old-root"), Some(h.owner()));
    assert!(h.keys().is_empty());
}

/// X.260: an old root carrying our mark but no children is simply deleted, then the new root
/// is claimed and the cycle goes on.
async fn an_empty_old_root_is_deleted_and_the_new_root_claimed(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique.reset();
    seed_scope(&h, "old-root", "Confluence", None, Some(&h.owner()));
    seed_scope(&h, "new-root", "Confluence v2", None, None);
    let mut spec = h.spec();
    spec.root_scope_id = "new-root".into();

    h.run(spec).await.unwrap();

    assert!(h.sb.unique.scopes().iter().all(|s| s.id != "old-root"));
    assert_eq!(external_id_of(&h, "new-root"), Some(h.owner()));
    assert_eq!(h.scope_paths(), ["/Confluence v2", "/Confluence v2/SP"]);
    assert_eq!(h.keys(), [key(SP, "1001")]);
}

/// X.262: the old root cannot be deleted (it still holds a file of its own) → the migration
/// fails with `Failed to delete old root scope` and the new root is not claimed.
async fn an_old_root_that_cannot_be_deleted_fails_the_migration(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique.reset();
    seed_scope(&h, "old-root", "Confluence", None, Some(&h.owner()));
    seed_file(&h, "loose/1", "old-root");
    seed_scope(&h, "new-root", "Confluence v2", None, None);
    let mut spec = h.spec();
    spec.root_scope_id = "new-root".into();

    let error = h.run(spec).await.unwrap_err();

    assert!(
        matches!(error, EngineError::MigrationFailed { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("Failed to delete old root scope"),
        "{error}"
    );
    assert_eq!(external_id_of(&h, "new-root"), None);
    assert_eq!(external_id_of(&h, "old-root"), Some(h.owner()));
    assert_eq!(h.keys(), ["loose/1"]);
}

/// W.248 (second half): a claim that fails fails the cycle before anything is written.
async fn a_failed_claim_fails_the_cycle_before_any_write(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique
        .add_fault(UniqueFault::graphql_error("UpdateScope", "no"));

    let error = h.run(h.spec()).await.unwrap_err();

    assert!(
        error.to_string().contains("claiming the root scope"),
        "{error}"
    );
    assert_eq!(h.root_external_id(), None);
    assert!(h.keys().is_empty());
    assert_eq!(h.scope_paths(), ["/Confluence"]);
}

async fn another_tenants_root_is_never_migrated(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique.reset();
    seed_scope(&h, "old-root", "Confluence", None, Some(&h.owner()));
    seed_scope(
        &h,
        "other-sp",
        "SP",
        Some("old-root"),
        Some("confc:tenant2:98304:SP"),
    );
    seed_scope(&h, "new-root", "Confluence v2", None, None);
    let mut spec = h.spec();
    spec.root_scope_id = "new-root".into();

    let error = h.run(spec).await.unwrap_err();

    assert!(error.to_string().contains("tenant2"), "{error}");
    let other =
        h.sb.unique
            .scopes()
            .into_iter()
            .find(|s| s.id == "other-sp")
            .unwrap();
    assert_eq!(other.parent_id.as_deref(), Some("old-root"));
    assert_eq!(external_id_of(&h, "new-root"), None);
}

async fn the_cycle_grants_itself_the_access_it_needs(flavour: Flavour) {
    let h = Harness::with_sandbox(
        flavour,
        dataset(vec![page(1001, "SP", None, &[SINGLE])]),
        |c| {
            c.unique.enforce_scope_access = true;
        },
    )
    .await;
    h.sb.unique.reset();
    seed_scope(&h, "company", "Company", None, None);
    seed_scope(&h, "root-scope-id", "Confluence", Some("company"), None);

    h.run(h.spec()).await.unwrap();

    assert_eq!(h.keys(), [key(SP, "1001")]);
    assert_eq!(
        h.scope_paths(),
        ["/Company", "/Company/Confluence", "/Company/Confluence/SP"]
    );
}

async fn a_missing_root_scope_fails_the_cycle_by_name(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.sb.unique.reset();

    let error = h.run(h.spec()).await.unwrap_err();

    assert!(
        matches!(error, EngineError::RootScopeNotFound { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("root-scope-id"));
    assert!(h.keys().is_empty());
}

// ---- H. tenant deletion --------------------------------------------------------------------

fn deletion(h: &Harness) -> TenantDeletion {
    TenantDeletion::new(
        TENANT,
        &h.root_id,
        h.unique_client(),
        h.ledger.clone(),
        std::sync::Arc::new(NoopCycleObserver),
    )
}

fn two_space_dataset() -> sandbox::confluence::Dataset {
    sandbox::confluence::Dataset {
        spaces: vec![space("501", "ENG"), space("502", "HR")],
        content: vec![
            page(1001, "ENG", None, &[SINGLE]),
            page(1002, "ENG", None, &[SINGLE]),
            page(1003, "HR", None, &[SINGLE]),
        ],
    }
}

async fn deleting_a_tenant_removes_its_scopes_and_files_and_releases_the_root(flavour: Flavour) {
    let h = Harness::new(flavour, two_space_dataset()).await;
    h.run(h.spec()).await.unwrap();
    assert_eq!(h.keys().len(), 3);

    let report = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(report.status, DeletionStatus::Success);
    assert_eq!(report.contents_deleted, 3);
    assert_eq!(h.scope_paths(), ["/Confluence"]);
    assert_eq!(h.root_external_id(), None);
    assert!(h.keys().is_empty());
}

async fn deleting_a_tenant_without_children_clears_the_mark(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![])).await;
    h.sb.unique.reset();
    seed_scope(&h, "root-scope-id", "Confluence", None, Some(&h.owner()));

    let report = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(report.status, DeletionStatus::Success);
    assert_eq!(h.root_external_id(), None);
}

async fn a_partly_failed_tenant_deletion_keeps_the_mark_and_is_retried(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();
    h.sb.unique
        .add_fault(UniqueFault::graphql_error("DeleteFolder", "boom").times(1));

    let first = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(first.status, DeletionStatus::Failure);
    assert!(first.failures >= 1);
    let run = &h.ledger.recent_runs(Some(TENANT), 1).await.unwrap()[0];
    assert_eq!(run.status, sync_engine::RunStatus::FAILED);
    assert!(
        run.error.as_deref().unwrap().contains("boom"),
        "{:?}",
        run.error
    );
    assert_eq!(h.root_external_id(), Some(h.owner()));

    let second = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(second.status, DeletionStatus::Success);
    assert_eq!(h.scope_paths(), ["/Confluence"]);
    assert_eq!(h.root_external_id(), None);
    assert!(h.keys().is_empty());
}

async fn a_failed_content_deletion_keeps_the_mark_and_is_retried(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();
    h.sb.unique
        .add_fault(UniqueFault::graphql_error("ContentDeleteByContentIds", "boom").times(1));

    let first = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(first.status, DeletionStatus::Failure);
    assert!(
        first
            .errors
            .iter()
            .any(|e| e.contains("Failed to delete content for scope")),
        "{:?}",
        first.errors
    );
    assert_eq!(
        h.root_external_id(),
        Some(h.owner()),
        "mark kept for a retry"
    );

    let second = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(second.status, DeletionStatus::Success);
    assert_eq!(h.scope_paths(), ["/Confluence"]);
    assert_eq!(h.root_external_id(), None);
    assert!(h.keys().is_empty());
}

async fn a_failed_mark_clearing_fails_the_deletion_and_is_retried(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();
    h.sb.unique
        .add_fault(UniqueFault::graphql_error("UpdateScope", "boom").times(1));

    let first = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(first.status, DeletionStatus::Failure);
    assert_eq!(first.failures, 1);
    assert!(
        first
            .errors
            .iter()
            .any(|e| e.contains("Failed to clear root scope externalId")),
        "{:?}",
        first.errors
    );
    assert_eq!(h.root_external_id(), Some(h.owner()));
    assert!(
        h.keys().is_empty(),
        "children went before the clearing failed"
    );

    let second = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(second.status, DeletionStatus::Success);
    assert_eq!(h.root_external_id(), None);
}

/// Fires the token once the first child scope is done: a shutdown in the middle of a deletion.
#[derive(Debug)]
struct CancelAfterFirstChild(CancellationToken);

impl CycleObserver for CancelAfterFirstChild {
    fn tenant_cleanup(&self, _: u64, _: u64, _: u64, _: u64) {
        self.0.cancel();
    }
}

async fn a_cancelled_tenant_deletion_stops_between_scopes_and_the_next_run_finishes_it(
    flavour: Flavour,
) {
    let h = Harness::new(flavour, two_space_dataset()).await;
    h.run(h.spec()).await.unwrap();
    assert_eq!(h.scope_paths().len(), 3, "{:?}", h.scope_paths());
    let cancel = CancellationToken::new();
    let interrupted = TenantDeletion::new(
        TENANT,
        &h.root_id,
        h.unique_client(),
        h.ledger.clone(),
        std::sync::Arc::new(CancelAfterFirstChild(cancel.clone())),
    );

    let first = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        interrupted.run(RunTrigger::Schedule, cancel),
    )
    .await
    .expect("a cancelled deletion returns without finishing")
    .unwrap();

    assert_eq!(first.status, DeletionStatus::Cancelled);
    assert_eq!(first.scopes_deleted, 1, "stopped after the first child");
    assert_eq!(first.failures, 0);
    assert_eq!(h.scope_paths().len(), 2, "{:?}", h.scope_paths());
    assert!(
        !h.keys().is_empty(),
        "the second space's files are still there"
    );
    assert_eq!(
        h.root_external_id(),
        Some(h.owner()),
        "mark kept for the next run"
    );
    let run = &h.ledger.recent_runs(Some(TENANT), 1).await.unwrap()[0];
    assert_eq!(run.status, RunStatus::CANCELLED);
    assert!(run.finished_at.is_some());

    let second = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(second.status, DeletionStatus::Success);
    assert_eq!(second.scopes_deleted, 1);
    assert_eq!(h.scope_paths(), ["/Confluence"]);
    assert!(h.keys().is_empty());
    assert_eq!(h.root_external_id(), None);
    let run = &h.ledger.recent_runs(Some(TENANT), 1).await.unwrap()[0];
    assert_eq!(run.status, RunStatus::SUCCESS);
}

/// A shutdown in the middle of one scope's content stops after the batch in flight (100 ids):
/// the scope and the rest of its content stay for the next run.
async fn a_tenant_deletion_cancelled_mid_scope_stops_after_the_batch_in_flight(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();
    let child =
        h.sb.unique
            .scopes()
            .into_iter()
            .find(|s| s.parent_id.as_deref() == Some(h.root_id.as_str()))
            .unwrap();
    for i in 0..249 {
        seed_file(&h, &format!("{TENANT}/extra/{i}"), &child.id);
    }
    assert_eq!(h.keys().len(), 250);
    // Slow deletions, so the test sees the first one land before the batch is done.
    h.sb.unique.add_fault(UniqueFault::latency(
        "ContentDeleteByContentIds",
        std::time::Duration::from_millis(300),
    ));
    let cancel = CancellationToken::new();
    let running = tokio::spawn({
        let deletion = deletion(&h);
        let cancel = cancel.clone();
        async move { deletion.run(RunTrigger::Schedule, cancel).await }
    });
    while h.keys().len() == 250 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    cancel.cancel();

    let report = running.await.unwrap().unwrap();

    assert_eq!(report.status, DeletionStatus::Cancelled);
    assert_eq!(report.contents_deleted, 100, "the batch in flight finished");
    assert_eq!(h.keys().len(), 150);
    assert!(h.sb.unique.scopes().iter().any(|s| s.id == child.id));
    assert_eq!(h.root_external_id(), Some(h.owner()));

    h.sb.unique.clear_faults();
    let second = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(second.status, DeletionStatus::Success);
    assert_eq!(second.contents_deleted, 150);
    assert!(h.keys().is_empty());
}

/// A shutdown after the last child scope stops nothing: the mark is cleared as usual.
async fn a_tenant_deletion_cancelled_after_its_last_scope_still_finishes(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    h.run(h.spec()).await.unwrap();
    let cancel = CancellationToken::new();
    let deletion = TenantDeletion::new(
        TENANT,
        &h.root_id,
        h.unique_client(),
        h.ledger.clone(),
        std::sync::Arc::new(CancelAfterFirstChild(cancel.clone())),
    );

    let report = deletion.run(RunTrigger::Schedule, cancel).await.unwrap();

    assert_eq!(report.status, DeletionStatus::Success);
    assert_eq!(h.root_external_id(), None);
    let run = &h.ledger.recent_runs(Some(TENANT), 1).await.unwrap()[0];
    assert_eq!(run.status, RunStatus::SUCCESS);
}

/// A deletion aborted mid-way (the daemon drops it after the shutdown grace period) leaves its
/// run `running`; the next deletion of this engine says it was interrupted.
async fn a_dropped_tenant_deletion_is_recorded_as_interrupted_by_the_next(flavour: Flavour) {
    let h = Harness::new(flavour, two_space_dataset()).await;
    h.run(h.spec()).await.unwrap();
    let dropped = h
        .ledger
        .start_run(TENANT, RunTrigger::Schedule)
        .await
        .unwrap();

    let report = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(report.status, DeletionStatus::Success);
    let runs = h.ledger.recent_runs(Some(TENANT), 2).await.unwrap();
    assert_eq!(runs[0].status, RunStatus::SUCCESS);
    assert_eq!(runs[1].id, dropped);
    assert_eq!(runs[1].status, RunStatus::Interrupted);
}

// ---- W. removed-space cleanup --------------------------------------------------------------

/// W.254–255: only this tenant's parseable space scopes whose space left discovery go; unmarked
/// children, old-format marks and another tenant's spaces under the same root are never touched.
async fn removed_space_cleanup_touches_only_this_tenants_marked_spaces(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![page(1001, "SP", None, &[SINGLE])])).await;
    let root = h.root_id.clone();
    seed_scope(
        &h,
        "gone",
        "GONE",
        Some(&root),
        Some("confc:tenant1:777:GONE"),
    );
    seed_file(&h, "tenant1/777_GONE/5", "gone");
    seed_scope(&h, "manual", "Manual", Some(&root), None);
    seed_file(&h, "manual/1", "manual");
    seed_scope(&h, "legacy", "LEG", Some(&root), Some("confc:tenant1:LEG"));
    seed_file(&h, "tenant1/888_LEG/6", "legacy");
    seed_scope(&h, "other", "OT", Some(&root), Some("confc:tenant2:700:OT"));
    seed_file(&h, "tenant2/700_OT/7", "other");

    let report = h.run(h.spec()).await.unwrap();

    assert_eq!(report.removed_spaces, ["GONE"]);
    assert_eq!(
        h.scope_paths(),
        [
            "/Confluence",
            "/Confluence/LEG",
            "/Confluence/Manual",
            "/Confluence/OT",
            "/Confluence/SP"
        ]
    );
    assert_eq!(
        h.keys(),
        [
            "manual/1",
            "tenant1/888_LEG/6",
            "tenant1/98304_SP/1001",
            "tenant2/700_OT/7"
        ]
    );
}

async fn a_cleaned_up_tenant_is_skipped(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![])).await;

    let report = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(report.status, DeletionStatus::SkippedAlreadyCleanedUp);
}

async fn a_missing_root_is_skipped_by_deletion(flavour: Flavour) {
    let h = Harness::new(flavour, dataset(vec![])).await;
    h.sb.unique.reset();

    let report = deletion(&h)
        .run(RunTrigger::Schedule, CancellationToken::new())
        .await
        .unwrap();

    assert_eq!(report.status, DeletionStatus::SkippedRootScopeNotFound);
}

on_both_flavours!(
    first_sync_claims_an_unowned_root,
    a_root_we_own_stays_ours_and_syncs,
    a_root_owned_by_another_instance_aborts_before_any_write,
    an_unmarked_old_root_is_left_alone,
    space_scopes_move_from_our_old_root_without_reingestion,
    a_failed_migration_claims_nothing,
    another_tenants_root_is_never_migrated,
    an_empty_old_root_is_deleted_and_the_new_root_claimed,
    an_old_root_that_cannot_be_deleted_fails_the_migration,
    a_failed_claim_fails_the_cycle_before_any_write,
    a_missing_root_scope_fails_the_cycle_by_name,
    the_cycle_grants_itself_the_access_it_needs,
    deleting_a_tenant_removes_its_scopes_and_files_and_releases_the_root,
    deleting_a_tenant_without_children_clears_the_mark,
    a_partly_failed_tenant_deletion_keeps_the_mark_and_is_retried,
    a_failed_content_deletion_keeps_the_mark_and_is_retried,
    a_failed_mark_clearing_fails_the_deletion_and_is_retried,
    a_cleaned_up_tenant_is_skipped,
    a_cancelled_tenant_deletion_stops_between_scopes_and_the_next_run_finishes_it,
    a_dropped_tenant_deletion_is_recorded_as_interrupted_by_the_next,
    a_tenant_deletion_cancelled_after_its_last_scope_still_finishes,
    a_tenant_deletion_cancelled_mid_scope_stops_after_the_batch_in_flight,
    removed_space_cleanup_touches_only_this_tenants_marked_spaces,
    a_missing_root_is_skipped_by_deletion,
);

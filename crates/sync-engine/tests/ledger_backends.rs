//! The ledger's behaviour, run once on SQLite and once on PostgreSQL: the same scenarios on both
//! databases are how we know the "one code path" claim holds.
//!
//! PostgreSQL scenarios need `DATABASE_URL_POSTGRES` (scripts/test.sh starts a throwaway cluster
//! and sets it); each gets a database of its own, so they run in parallel.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sync_engine::{
    GrantTarget, GrantedAccess, ItemPhase, Ledger, LedgerError, LedgerKind, LedgerOptions,
    MirroredGroup, RunCounts, RunOutcome, RunStatus, RunTrigger,
};

/// One database for one test: a file in a temporary directory, or a fresh PostgreSQL database.
struct Fixture {
    url: String,
    kind: LedgerKind,
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        // A directory that does not exist yet: the first start creates it.
        let path = dir.path().join("state").join("ledger.db");
        Self {
            url: path.display().to_string(),
            kind: LedgerKind::Sqlite,
            _dir: Some(dir),
        }
    }

    async fn postgres() -> Option<Self> {
        let url =
            sync_engine::testing::fresh_postgres_database("test", "the PostgreSQL ledger test")
                .await?;
        Some(Self {
            url,
            kind: LedgerKind::Postgres,
            _dir: None,
        })
    }

    async fn open(&self) -> Ledger {
        self.open_with(LedgerOptions::default()).await
    }

    async fn open_with(&self, options: LedgerOptions) -> Ledger {
        let ledger = Ledger::open(&self.url, options).await.unwrap();
        assert_eq!(ledger.kind(), self.kind);
        ledger
    }

    /// Two holders of one database: two `Ledger`s on PostgreSQL (two replicas); on SQLite, where
    /// a second process is refused, two clones of one (leases are not re-entrant, so a clone
    /// competes like a stranger would).
    async fn two_holders(&self) -> (Ledger, Ledger) {
        let first = self.open().await;
        let second = match self.kind {
            LedgerKind::Sqlite => first.clone(),
            LedgerKind::Postgres => self.open().await,
        };
        (first, second)
    }
}

fn counts() -> RunCounts {
    RunCounts {
        discovered_pages: 120,
        discovered_attachments: 40,
        diff_new: 10,
        diff_updated: 5,
        diff_moved: 2,
        diff_deleted: 3,
        ingested_pages_ok: 13,
        ingested_pages_failed: 1,
        ingested_pages_skipped: 1,
        ingested_attachments_ok: 3,
        ingested_attachments_failed: 1,
        ingested_attachments_skipped: 0,
        deleted_ok: 2,
        deleted_failed: 1,
        spaces_cleaned: 1,
        skipped_unknown_type: 2,
        attachments_held_back: 1,
    }
}

/// Takes the tenants' leases, as every run on PostgreSQL must (harmless on SQLite).
async fn hold(ledger: &Ledger, tenants: &[&str], ttl: Duration) {
    for tenant in tenants {
        ledger
            .try_acquire_lease(tenant, ttl)
            .await
            .unwrap()
            .expect("lease free");
    }
}

const LONG: Duration = Duration::from_secs(60);

async fn creates_the_ledger_on_first_start_and_reopens_it(fx: Fixture) {
    let ledger = fx.open().await;
    ledger.ping().await.unwrap();
    hold(&ledger, &["acme"], LONG).await;
    let run = ledger.start_run("acme", RunTrigger::Startup).await.unwrap();
    ledger
        .finish_run(run, RunOutcome::Success, &RunCounts::default(), None)
        .await
        .unwrap();
    ledger.close().await;
    drop(ledger);

    let reopened = fx.open().await;
    reopened.ping().await.unwrap();
    let runs = reopened.recent_runs(None, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].id, run);
    assert_eq!(runs[0].status, RunStatus::SUCCESS);
    assert!(!reopened.location().is_empty());
}

async fn records_a_run_with_its_counts_and_failed_items(fx: Fixture) {
    let ledger = fx.open().await;
    hold(&ledger, &["acme", "globex"], LONG).await;
    let first = ledger
        .start_run("acme", RunTrigger::Schedule)
        .await
        .unwrap();
    let running = ledger.run(first).await.unwrap().unwrap();
    assert_eq!(running.status, RunStatus::Running);
    assert_eq!(running.trigger, RunTrigger::Schedule);
    assert_eq!(running.holder, ledger.holder_id());
    assert!(running.finished_at.is_none());

    let page = "acme/1_SP/100";
    let attachment = "acme/1_SP/100::att200";
    let attempts = ledger
        .record_item_failure(first, page, ItemPhase::Ingest, "upload: 502 Bad Gateway")
        .await
        .unwrap();
    assert_eq!(attempts, 1);
    ledger
        .record_item_failure(first, attachment, ItemPhase::Ingest, "content id not found")
        .await
        .unwrap();
    ledger
        .finish_run(
            first,
            RunOutcome::PartialSuccess,
            &counts(),
            Some("2 items failed"),
        )
        .await
        .unwrap();

    let recorded = ledger.run(first).await.unwrap().unwrap();
    assert_eq!(recorded.status, RunStatus::PARTIAL_SUCCESS);
    assert_eq!(recorded.counts, counts());
    assert_eq!(recorded.error.as_deref(), Some("2 items failed"));
    assert_eq!(recorded.failed_items, 2);
    assert!(recorded.finished_at.unwrap() >= recorded.started_at);
    let failures = ledger.run_failures(first).await.unwrap();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0].key, page);
    assert_eq!(failures[0].phase, ItemPhase::Ingest);
    assert_eq!(failures[0].error, "upload: 502 Bad Gateway");

    // Next run: the page fails again, the attachment goes through.
    let second = ledger.start_run("acme", RunTrigger::Manual).await.unwrap();
    let attempts = ledger
        .record_item_failure(second, page, ItemPhase::Ingest, "upload: 503")
        .await
        .unwrap();
    assert_eq!(attempts, 2);
    assert!(ledger.clear_item_failure("acme", attachment).await.unwrap());
    assert!(!ledger.clear_item_failure("acme", attachment).await.unwrap());
    ledger
        .finish_run(
            second,
            RunOutcome::Aborted,
            &RunCounts::default(),
            Some("diff would delete space SP"),
        )
        .await
        .unwrap();

    let open = ledger.open_failures("acme").await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].key, page);
    assert_eq!(open[0].attempts, 2);
    assert_eq!(open[0].error, "upload: 503");
    assert_eq!((open[0].first_run, open[0].last_run), (first, second));
    assert!(ledger.open_failures("other").await.unwrap().is_empty());

    let aborted = ledger.run(second).await.unwrap().unwrap();
    assert_eq!(aborted.status, RunStatus::ABORTED);
    assert_eq!(
        aborted.abort_reason.as_deref(),
        Some("diff would delete space SP")
    );

    // Newest first, filtered by tenant, limited.
    let other = ledger.start_run("globex", RunTrigger::Cli).await.unwrap();
    let all = ledger.recent_runs(None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![other, second, first]
    );
    let acme = ledger.recent_runs(Some("acme"), 1).await.unwrap();
    assert_eq!(acme.iter().map(|r| r.id).collect::<Vec<_>>(), vec![second]);
}

async fn refuses_to_finish_a_run_twice_or_an_unknown_run(fx: Fixture) {
    let ledger = fx.open().await;
    hold(&ledger, &["acme"], LONG).await;
    let run = ledger
        .start_run("acme", RunTrigger::Schedule)
        .await
        .unwrap();
    ledger
        .finish_run(
            run,
            RunOutcome::Failed,
            &RunCounts::default(),
            Some("unique unreachable"),
        )
        .await
        .unwrap();
    let again = ledger
        .finish_run(run, RunOutcome::Success, &RunCounts::default(), None)
        .await;
    assert!(
        matches!(again, Err(LedgerError::RunAlreadyFinished { .. })),
        "{again:?}"
    );
    assert_eq!(
        ledger.run(run).await.unwrap().unwrap().status,
        RunStatus::FAILED
    );

    let unknown = sync_engine::RunId::from_raw(run.get() + 1000);
    let finish = ledger
        .finish_run(unknown, RunOutcome::Success, &RunCounts::default(), None)
        .await;
    assert!(
        matches!(finish, Err(LedgerError::UnknownRun { .. })),
        "{finish:?}"
    );
    let failure = ledger
        .record_item_failure(unknown, "k", ItemPhase::Ingest, "e")
        .await;
    assert!(
        matches!(failure, Err(LedgerError::UnknownRun { .. })),
        "{failure:?}"
    );
}

async fn keeps_only_the_configured_number_of_runs_per_tenant(fx: Fixture) {
    let ledger = fx
        .open_with(LedgerOptions::default().with_history_per_tenant(3))
        .await;
    hold(&ledger, &["acme", "globex"], LONG).await;
    let mut acme = Vec::new();
    for i in 0..5 {
        let run = ledger
            .start_run("acme", RunTrigger::Schedule)
            .await
            .unwrap();
        if i == 0 {
            // Failing only in the oldest run: by the time that run is pruned, the item is gone.
            ledger
                .record_item_failure(run, "acme/1_SP/gone", ItemPhase::Ingest, "404")
                .await
                .unwrap();
        }
        ledger
            .record_item_failure(run, "acme/1_SP/stuck", ItemPhase::Ingest, "500")
            .await
            .unwrap();
        ledger
            .finish_run(run, RunOutcome::PartialSuccess, &RunCounts::default(), None)
            .await
            .unwrap();
        acme.push(run);
    }
    let globex = ledger
        .start_run("globex", RunTrigger::Schedule)
        .await
        .unwrap();
    ledger
        .finish_run(globex, RunOutcome::Success, &RunCounts::default(), None)
        .await
        .unwrap();

    let kept = ledger.recent_runs(Some("acme"), 100).await.unwrap();
    assert_eq!(
        kept.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![acme[4], acme[3], acme[2]]
    );
    assert!(ledger.run(acme[0]).await.unwrap().is_none());
    assert!(ledger.run_failures(acme[0]).await.unwrap().is_empty());
    assert_eq!(
        ledger.recent_runs(Some("globex"), 100).await.unwrap().len(),
        1
    );

    let open = ledger.open_failures("acme").await.unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].key, "acme/1_SP/stuck");
    assert_eq!(open[0].attempts, 5);
}

async fn marks_runs_of_a_crashed_process_interrupted_on_next_start(fx: Fixture) {
    let crashed = fx.open().await;
    let ttl = Duration::from_millis(300);
    hold(&crashed, &["acme"], ttl).await;
    let run = crashed
        .start_run("acme", RunTrigger::Schedule)
        .await
        .unwrap();
    crashed
        .record_item_failure(run, "acme/1_SP/100", ItemPhase::Ingest, "timeout")
        .await
        .unwrap();
    // The crash: the process goes away without finishing the run or releasing the lease.
    drop(crashed);
    // SQLite needs no wait (the lock file proves the process gone); PostgreSQL waits for the
    // lease to expire (see `postgres_replicas` for the waiting itself).
    if fx.kind == LedgerKind::Postgres {
        tokio::time::sleep(ttl + Duration::from_millis(100)).await;
    }

    let next = fx.open().await;
    let record = next.run(run).await.unwrap().unwrap();
    assert_eq!(record.status, RunStatus::Interrupted);
    assert!(record.finished_at.is_some());
    assert!(record.error.unwrap().contains("stopped before finishing"));
    assert_eq!(record.failed_items, 1);
    // Its failed items stay open for the next run to retry.
    assert_eq!(next.open_failures("acme").await.unwrap().len(), 1);
    // Nothing left to mark.
    assert_eq!(next.mark_interrupted_runs().await.unwrap(), 0);
}

async fn leaves_the_runs_of_its_own_process_alone(fx: Fixture) {
    let ledger = fx.open().await;
    hold(&ledger, &["acme"], LONG).await;
    let run = ledger
        .start_run("acme", RunTrigger::Schedule)
        .await
        .unwrap();
    assert_eq!(ledger.mark_interrupted_runs().await.unwrap(), 0);
    assert_eq!(
        ledger.run(run).await.unwrap().unwrap().status,
        RunStatus::Running
    );
}

async fn hands_out_a_lease_to_one_holder_at_a_time_with_fencing(fx: Fixture) {
    let (a, b) = fx.two_holders().await;
    let ttl = Duration::from_secs(30);

    let mut lease = a.try_acquire_lease("acme", ttl).await.unwrap().unwrap();
    assert_eq!(lease.tenant(), "acme");
    assert_eq!(lease.holder(), a.holder_id());
    assert_eq!(lease.generation(), 1);
    assert!(lease.expires_at() > lease.acquired_at());
    assert!(lease.time_left() > Duration::from_secs(25));
    assert!(b.try_acquire_lease("acme", ttl).await.unwrap().is_none());
    // Not re-entrant either: the holder itself must renew, not re-acquire.
    assert!(a.try_acquire_lease("acme", ttl).await.unwrap().is_none());
    // Other tenants are independent.
    let other = b.try_acquire_lease("globex", ttl).await.unwrap().unwrap();
    assert_eq!(other.generation(), 1);

    let before = lease.expires_at();
    a.renew_lease(&mut lease).await.unwrap();
    assert!(lease.expires_at() >= before);
    assert_eq!(lease.generation(), 1);

    let stale = lease.clone();
    assert!(a.release_lease(lease).await.unwrap());
    let mut taken = b.try_acquire_lease("acme", ttl).await.unwrap().unwrap();
    assert_eq!(taken.generation(), 2);
    assert_eq!(taken.holder(), b.holder_id());

    // The old holder finds out through its fencing token.
    let mut stale_copy = stale.clone();
    let renew = a.renew_lease(&mut stale_copy).await;
    assert!(
        matches!(renew, Err(LedgerError::LeaseLost { ref tenant, generation: 1 }) if tenant == "acme"),
        "{renew:?}"
    );
    assert!(!a.release_lease(stale).await.unwrap());
    b.renew_lease(&mut taken).await.unwrap();
    let leases = a.leases().await.unwrap();
    assert_eq!(
        leases
            .iter()
            .map(|l| (l.tenant.as_str(), l.holder.as_str(), l.generation, l.live))
            .collect::<Vec<_>>(),
        vec![
            ("acme", b.holder_id(), 2, true),
            ("globex", b.holder_id(), 1, true)
        ]
    );
    assert!(b.release_lease(taken).await.unwrap());
    assert!(!a.leases().await.unwrap()[0].live);

    let again = a.try_acquire_lease("acme", ttl).await.unwrap().unwrap();
    assert_eq!(again.generation(), 3, "generation survives release");
}

async fn lets_another_holder_take_an_expired_lease(fx: Fixture) {
    let (a, b) = fx.two_holders().await;
    let short = Duration::from_millis(300);
    let mut lease = a.try_acquire_lease("acme", short).await.unwrap().unwrap();
    assert!(b.try_acquire_lease("acme", short).await.unwrap().is_none());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(lease.expired_locally());

    // Expired means lost, even before anyone takes it.
    let renew = a.renew_lease(&mut lease).await;
    assert!(
        matches!(renew, Err(LedgerError::LeaseLost { .. })),
        "{renew:?}"
    );
    let taken = b
        .try_acquire_lease("acme", Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(taken.generation(), 2);
    assert!(!a.release_lease(lease).await.unwrap());
}

async fn rejects_a_lease_time_to_live_of_zero(fx: Fixture) {
    let ledger = fx.open().await;
    let result = ledger.try_acquire_lease("acme", Duration::ZERO).await;
    assert!(
        matches!(result, Err(LedgerError::InvalidLeaseTtl { .. })),
        "{result:?}"
    );
}

fn grant(target: GrantTarget, key: &str, entity: &str) -> GrantedAccess {
    GrantedAccess {
        target,
        target_key: key.into(),
        target_id: format!("id-{key}"),
        owner_scope_id: "scope-1".into(),
        entity_kind: "user".into(),
        entity_id: entity.into(),
        access: "READ".into(),
    }
}

async fn records_permission_grants_groups_and_fingerprints_per_tenant(fx: Fixture) {
    let ledger = fx.open().await;
    let file = grant(GrantTarget::File, "acme/1_SP/p1", "alice");
    let scope = grant(GrantTarget::Scope, "scope-1", "bob");
    ledger
        .record_grants("acme", &[file.clone(), scope.clone(), file.clone()])
        .await
        .unwrap();
    ledger
        .record_grants("other", &[grant(GrantTarget::File, "k", "carol")])
        .await
        .unwrap();
    assert_eq!(
        ledger.granted_accesses("acme").await.unwrap(),
        [file.clone(), scope.clone()]
    );
    ledger.forget_grants("acme", &[file]).await.unwrap();
    assert_eq!(ledger.granted_accesses("acme").await.unwrap(), [scope]);
    assert_eq!(ledger.granted_accesses("other").await.unwrap().len(), 1);

    ledger
        .set_access_fingerprints(
            "acme",
            &[
                ("k1".into(), Some("a".into())),
                ("k2".into(), Some("b".into())),
            ],
        )
        .await
        .unwrap();
    ledger
        .set_access_fingerprints(
            "acme",
            &[("k1".into(), Some("c".into())), ("k2".into(), None)],
        )
        .await
        .unwrap();
    let prints = ledger.access_fingerprints("acme").await.unwrap();
    assert_eq!(prints.len(), 1);
    assert_eq!(prints["k1"], "c");
    ledger.clear_access_fingerprints("acme").await.unwrap();
    assert!(ledger.access_fingerprints("acme").await.unwrap().is_empty());

    let group = MirroredGroup {
        external_id: "confc:cloud:x:group:eng".into(),
        group_id: "g1".into(),
    };
    ledger.record_mirrored_group("acme", &group).await.unwrap();
    ledger.record_mirrored_group("acme", &group).await.unwrap();
    assert_eq!(
        ledger.mirrored_groups("acme").await.unwrap(),
        std::slice::from_ref(&group)
    );
    assert!(ledger.mirrored_groups("other").await.unwrap().is_empty());
    ledger
        .forget_mirrored_group("acme", &group.external_id)
        .await
        .unwrap();
    assert!(ledger.mirrored_groups("acme").await.unwrap().is_empty());

    // Survives a reopen (it is state, not a cache).
    ledger
        .record_grants("acme", &[grant(GrantTarget::File, "k", "dave")])
        .await
        .unwrap();
    ledger.close().await;
    drop(ledger);
    let reopened = fx.open().await;
    assert_eq!(reopened.granted_accesses("acme").await.unwrap().len(), 2);
}

macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::$scenario(super::Fixture::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(fixture) = super::Fixture::postgres().await else { return };
                    super::$scenario(fixture).await;
                }
            )*
        }
    };
}

on_both_databases!(
    creates_the_ledger_on_first_start_and_reopens_it,
    records_a_run_with_its_counts_and_failed_items,
    refuses_to_finish_a_run_twice_or_an_unknown_run,
    keeps_only_the_configured_number_of_runs_per_tenant,
    marks_runs_of_a_crashed_process_interrupted_on_next_start,
    leaves_the_runs_of_its_own_process_alone,
    hands_out_a_lease_to_one_holder_at_a_time_with_fencing,
    lets_another_holder_take_an_expired_lease,
    rejects_a_lease_time_to_live_of_zero,
    records_permission_grants_groups_and_fingerprints_per_tenant,
);

/// Run recovery with several replicas (PostgreSQL only: SQLite has one process by construction).
/// A run is interrupted only once its process has provably stopped, i.e. when its lease has
/// expired, never while a healthy replica may still be working on it.
mod postgres_replicas {
    use super::*;

    #[tokio::test]
    async fn interrupts_a_dead_replicas_run_only_after_its_lease_expires() {
        let Some(fx) = Fixture::postgres().await else {
            return;
        };
        let url = fx.url.clone();
        let ttl = Duration::from_millis(800);
        let dead = Ledger::open(&url, LedgerOptions::default().with_holder_name("replica-a"))
            .await
            .unwrap();
        let _lease = dead.try_acquire_lease("acme", ttl).await.unwrap().unwrap();
        let run = dead.start_run("acme", RunTrigger::Schedule).await.unwrap();
        // Replica A dies without finishing or releasing anything.
        drop(dead);

        // Replica B starts at once: A's lease is still live, so A may still be working.
        let survivor = Ledger::open(&url, LedgerOptions::default().with_holder_name("replica-b"))
            .await
            .unwrap();
        assert_eq!(
            survivor.run(run).await.unwrap().unwrap().status,
            RunStatus::Running
        );
        assert!(survivor
            .try_acquire_lease("acme", ttl)
            .await
            .unwrap()
            .is_none());
        assert_eq!(survivor.mark_interrupted_runs().await.unwrap(), 0);

        // Once the lease has expired, taking the tenant over marks A's run.
        tokio::time::sleep(ttl + Duration::from_millis(200)).await;
        let lease = survivor
            .try_acquire_lease("acme", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lease.generation(), 2);
        let record = survivor.run(run).await.unwrap().unwrap();
        assert_eq!(record.status, RunStatus::Interrupted);
        assert!(record.holder.starts_with("replica-a/"), "{}", record.holder);
    }

    #[tokio::test]
    async fn a_starting_replica_interrupts_runs_whose_lease_has_expired() {
        let Some(fx) = Fixture::postgres().await else {
            return;
        };
        let url = fx.url.clone();
        let dead = Ledger::open(&url, LedgerOptions::default()).await.unwrap();
        let _lease = dead
            .try_acquire_lease("acme", Duration::from_millis(300))
            .await
            .unwrap()
            .unwrap();
        let run = dead.start_run("acme", RunTrigger::Schedule).await.unwrap();
        drop(dead);
        tokio::time::sleep(Duration::from_millis(400)).await;

        let next = Ledger::open(&url, LedgerOptions::default()).await.unwrap();
        assert_eq!(
            next.run(run).await.unwrap().unwrap().status,
            RunStatus::Interrupted
        );
    }

    #[tokio::test]
    async fn a_replica_marked_dead_can_still_record_its_true_outcome() {
        let Some(fx) = Fixture::postgres().await else {
            return;
        };
        let url = fx.url.clone();
        let slow = Ledger::open(&url, LedgerOptions::default()).await.unwrap();
        let ttl = Duration::from_millis(300);
        hold(&slow, &["acme"], ttl).await;
        let run = slow.start_run("acme", RunTrigger::Schedule).await.unwrap();
        // `slow` stalls past its lease; a replica starting now takes its run for orphaned.
        tokio::time::sleep(ttl + Duration::from_millis(100)).await;
        let other = Ledger::open(&url, LedgerOptions::default()).await.unwrap();
        assert_eq!(
            other.run(run).await.unwrap().unwrap().status,
            RunStatus::Interrupted
        );

        slow.finish_run(run, RunOutcome::Success, &RunCounts::default(), None)
            .await
            .unwrap();
        assert_eq!(
            other.run(run).await.unwrap().unwrap().status,
            RunStatus::SUCCESS
        );
    }

    #[tokio::test]
    async fn refuses_to_start_a_run_without_the_tenants_lease() {
        let Some(fx) = Fixture::postgres().await else {
            return;
        };
        let (a, b) = (fx.open().await, fx.open().await);
        let started = a.start_run("acme", RunTrigger::Cli).await;
        assert!(
            matches!(started, Err(LedgerError::NoLease { ref tenant }) if tenant == "acme"),
            "{started:?}"
        );
        // Someone else's lease does not count, nor does an expired one of our own.
        hold(&b, &["acme"], Duration::from_millis(300)).await;
        assert!(a.start_run("acme", RunTrigger::Cli).await.is_err());
        b.start_run("acme", RunTrigger::Cli).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
        let late = b.start_run("acme", RunTrigger::Cli).await;
        assert!(matches!(late, Err(LedgerError::NoLease { .. })), "{late:?}");
        assert!(late.unwrap_err().to_string().contains("try_acquire_lease"));
    }

    #[tokio::test]
    async fn never_shows_the_database_password() {
        let Some(fx) = Fixture::postgres().await else {
            return;
        };
        // The throwaway cluster trusts every local connection, so any password gets in.
        let (scheme, rest) = fx.url.split_once("://").unwrap();
        let (user, host) = match rest.split_once('@') {
            Some((userinfo, host)) => (userinfo.split(':').next().unwrap().to_owned(), host),
            None => (std::env::var("USER").unwrap(), rest),
        };
        let url = format!("{scheme}://{user}:hunter2@{host}");
        let ledger = Ledger::open(&url, LedgerOptions::default()).await.unwrap();
        for shown in [format!("{ledger:?}"), ledger.location().to_owned()] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains(&format!("{user}:***@")), "{shown}");
        }

        let unreachable = "postgres://cfc:hunter2@127.0.0.1:1/cfc";
        let mut options = LedgerOptions::default();
        options.connect_timeout = Duration::from_secs(2);
        let err = Ledger::open(unreachable, options).await.unwrap_err();
        let text = format!("{err} / {err:?}");
        assert!(matches!(err, LedgerError::Connect { .. }), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
}

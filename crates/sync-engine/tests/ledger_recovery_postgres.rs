//! Run recovery with several replicas (PostgreSQL): a run is interrupted only once its process
//! has provably stopped, i.e. when its lease has expired, never while a healthy replica may still
//! be working on it.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sqlx::Connection;
use sync_engine::{Ledger, LedgerOptions, RunCounts, RunOutcome, RunStatus, RunTrigger};

async fn fresh_database() -> Option<String> {
    let Ok(base) = std::env::var("DATABASE_URL_POSTGRES") else {
        println!("skipped: DATABASE_URL_POSTGRES not set");
        return None;
    };
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&base).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let (without_query, query) = match base.split_once('?') {
        Some((url, query)) => (url, format!("?{query}")),
        None => (base.as_str(), String::new()),
    };
    let (server, _) = without_query.rsplit_once('/').unwrap();
    Some(format!("{server}/{name}{query}"))
}

#[tokio::test]
async fn interrupts_a_dead_replicas_run_only_after_its_lease_expires() {
    let Some(url) = fresh_database().await else {
        return;
    };
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
    let Some(url) = fresh_database().await else {
        return;
    };
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
    let Some(url) = fresh_database().await else {
        return;
    };
    let slow = Ledger::open(&url, LedgerOptions::default()).await.unwrap();
    let run = slow.start_run("acme", RunTrigger::Schedule).await.unwrap();
    // Another replica starts; `slow` holds no lease (it should have), so its run looks orphaned.
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
        RunStatus::Success
    );
}

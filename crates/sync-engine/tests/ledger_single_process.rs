//! SQLite mode is single-process, and says so: a second writer on the same file is refused with
//! an error that tells the operator what to do, whether it is another process or another
//! `Ledger` in this one.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use sync_engine::{
    Ledger, LedgerError, LedgerKind, LedgerOptions, LedgerProbe, RunStatus, RunTrigger,
};

#[tokio::test]
async fn refuses_a_second_open_of_the_same_file_until_the_first_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let first = Ledger::open(path.to_str().unwrap(), LedgerOptions::default())
        .await
        .unwrap();
    assert_eq!(first.kind(), LedgerKind::Sqlite);

    // Another spelling of the same file is the same file.
    let url = format!("sqlite://{}/./ledger.db", dir.path().display());
    let second = Ledger::open(&url, LedgerOptions::default()).await;
    let Err(err) = second else {
        panic!("second open succeeded");
    };
    assert!(matches!(err, LedgerError::AlreadyInUse { ref path } if path.ends_with("ledger.db")));
    let message = err.to_string();
    assert!(message.contains("single-process"), "{message}");
    assert!(message.contains("PostgreSQL"), "{message}");

    // Clones share the lock; it goes with the last one.
    let clone = first.clone();
    drop(first);
    assert!(Ledger::open(&url, LedgerOptions::default()).await.is_err());
    drop(clone);
    Ledger::open(&url, LedgerOptions::default()).await.unwrap();
}

#[tokio::test]
async fn lets_a_reader_look_while_the_daemon_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let daemon = Ledger::open(path.to_str().unwrap(), LedgerOptions::default())
        .await
        .unwrap();
    let run = daemon
        .start_run("acme", RunTrigger::Schedule)
        .await
        .unwrap();

    let status = Ledger::open(path.to_str().unwrap(), LedgerOptions::default().read_only())
        .await
        .unwrap();
    let runs = status.recent_runs(None, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    // A reader does not take the daemon's live run for a crashed one.
    assert_eq!(runs[0].status, RunStatus::Running);
    assert!(status.start_run("acme", RunTrigger::Cli).await.is_err());
    assert_eq!(
        daemon.run(run).await.unwrap().unwrap().status,
        RunStatus::Running
    );
}

#[tokio::test]
async fn restart_interrupts_runs_even_under_an_unexpired_lease() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let crashed = Ledger::open(path.to_str().unwrap(), LedgerOptions::default())
        .await
        .unwrap();
    let _lease = crashed
        .try_acquire_lease("acme", Duration::from_secs(3600))
        .await
        .unwrap()
        .unwrap();
    let run = crashed
        .start_run("acme", RunTrigger::Schedule)
        .await
        .unwrap();
    drop(crashed);

    // The lock file proves the old process is gone: no need to wait out its lease.
    let next = Ledger::open(path.to_str().unwrap(), LedgerOptions::default())
        .await
        .unwrap();
    assert_eq!(
        next.run(run).await.unwrap().unwrap().status,
        RunStatus::Interrupted
    );
    let lease = next
        .try_acquire_lease("acme", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.generation(), 2);
}

#[tokio::test]
async fn works_in_memory_for_tests_and_demos() {
    let ledger = Ledger::open("sqlite::memory:", LedgerOptions::default())
        .await
        .unwrap();
    ledger.ping().await.unwrap();
    let run = ledger.start_run("acme", RunTrigger::Cli).await.unwrap();
    assert_eq!(ledger.recent_runs(None, 5).await.unwrap()[0].id, run);
    // Each in-memory ledger is its own database.
    let other = Ledger::open("sqlite::memory:", LedgerOptions::default())
        .await
        .unwrap();
    assert!(other.recent_runs(None, 5).await.unwrap().is_empty());
}

#[tokio::test]
async fn names_the_problem_when_the_directory_cannot_be_created() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let url = blocker.join("ledger.db");
    let result = Ledger::open(url.to_str().unwrap(), LedgerOptions::default()).await;
    assert!(
        matches!(result, Err(LedgerError::CreateDirectory { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn probe_tells_what_open_would_meet_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/ledger.db");
    let url = path.to_str().unwrap();
    assert_eq!(
        Ledger::probe(url, LedgerOptions::default()).await.unwrap(),
        LedgerProbe::NotCreatedYet { path: path.clone() }
    );
    assert!(
        !dir.path().join("sub").exists(),
        "the probe created the directory"
    );

    let writer = Ledger::open(url, LedgerOptions::default()).await.unwrap();
    assert_eq!(
        Ledger::probe(url, LedgerOptions::default()).await.unwrap(),
        LedgerProbe::Reachable {
            kind: LedgerKind::Sqlite,
            in_use: true
        }
    );
    drop(writer);
    assert_eq!(
        Ledger::probe(url, LedgerOptions::default()).await.unwrap(),
        LedgerProbe::Reachable {
            kind: LedgerKind::Sqlite,
            in_use: false
        }
    );

    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"").unwrap();
    let below_a_file = blocker.join("ledger.db");
    let probed = Ledger::probe(below_a_file.to_str().unwrap(), LedgerOptions::default()).await;
    assert!(
        matches!(probed, Err(LedgerError::CreateDirectory { .. })),
        "{probed:?}"
    );
}

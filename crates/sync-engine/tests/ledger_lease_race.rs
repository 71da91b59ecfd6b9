//! The promise leases exist for: several replicas competing for one tenant never work on it at
//! the same time. Tasks loop acquire → work → release (some "crash" instead of releasing, so
//! takeovers after expiry are raced too) and record when they worked; no two intervals may
//! overlap, and the fencing token must grow with every hand-over.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sync_engine::{Ledger, LedgerOptions};

/// One stretch of work under a lease.
#[derive(Debug, Clone)]
struct Held {
    holder: String,
    generation: u64,
    start: Instant,
    end: Instant,
}

async fn race(replicas: Vec<Ledger>, tasks_per_replica: usize, run_for: Duration) -> Vec<Held> {
    // Short enough that "crashed" holders are taken over within the test, long enough that work
    // (a few ms) always ends well before the lease could expire.
    let ttl = Duration::from_millis(250);
    let log = Arc::new(Mutex::new(Vec::new()));
    let deadline = Instant::now() + run_for;
    let mut tasks = Vec::new();
    for (r, ledger) in replicas.iter().enumerate() {
        for t in 0..tasks_per_replica {
            let ledger = ledger.clone();
            let log = Arc::clone(&log);
            tasks.push(tokio::spawn(async move {
                let mut round = 0u64;
                while Instant::now() < deadline {
                    round += 1;
                    let Some(lease) = ledger.try_acquire_lease("acme", ttl).await.unwrap() else {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        continue;
                    };
                    let start = Instant::now();
                    let work = Duration::from_millis(1 + (round * 7 + t as u64 * 3 + r as u64) % 5);
                    tokio::time::sleep(work).await;
                    let end = Instant::now();
                    assert!(!lease.expired_locally(), "work outlived the lease");
                    log.lock().unwrap().push(Held {
                        holder: lease.holder().to_owned(),
                        generation: lease.generation(),
                        start,
                        end,
                    });
                    // Every 25th round the holder "crashes": stops working, releases nothing.
                    if !round.is_multiple_of(25) {
                        ledger.release_lease(lease).await.unwrap();
                    }
                }
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut held = log.lock().unwrap().clone();
    held.sort_by_key(|h| h.start);
    held
}

fn assert_never_overlapping(held: &[Held]) {
    assert!(
        held.len() > 20,
        "too few acquisitions to mean anything: {}",
        held.len()
    );
    for pair in held.windows(2) {
        let (before, after) = (&pair[0], &pair[1]);
        assert!(
            after.start >= before.end,
            "overlap: {before:?} still working when {after:?} started"
        );
        assert!(
            after.generation > before.generation,
            "fencing token did not grow: {before:?} then {after:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_never_hold_one_tenant_at_once_on_postgres() {
    let Some(url) =
        sync_engine::testing::fresh_postgres_database("test", "two replicas racing for a lease")
            .await
    else {
        return;
    };

    let a = Ledger::open(&url, LedgerOptions::default().with_holder_name("replica-a"))
        .await
        .unwrap();
    let b = Ledger::open(&url, LedgerOptions::default().with_holder_name("replica-b"))
        .await
        .unwrap();
    let held = race(vec![a.clone(), b.clone()], 3, Duration::from_secs(3)).await;
    assert_never_overlapping(&held);
    for replica in [&a, &b] {
        assert!(
            held.iter().any(|h| h.holder == replica.holder_id()),
            "{} never got the tenant",
            replica.holder_id()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_of_one_process_never_hold_one_tenant_at_once_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::open(
        dir.path().join("ledger.db").to_str().unwrap(),
        LedgerOptions::default(),
    )
    .await
    .unwrap();
    let held = race(vec![ledger], 4, Duration::from_secs(2)).await;
    assert_never_overlapping(&held);
}

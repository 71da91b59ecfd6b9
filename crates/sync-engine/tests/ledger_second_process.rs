//! SQLite mode is single-process across processes too: the test re-runs this test binary as the
//! second process.
//!
//! A file of its own on purpose: forking copies every open file descriptor of the parent into the
//! child until it execs, including other tests' lock files, which would then look busy for a
//! moment. Alone in its binary, this test has no neighbours to disturb.

#![allow(clippy::unwrap_used)]

use sync_engine::{Ledger, LedgerError, LedgerOptions};

/// Set by `refuses_a_second_process_on_the_same_file` when it re-runs this test binary as the
/// second process.
const PROBE_ENV: &str = "LEDGER_SECOND_PROCESS_PROBE";

#[tokio::test]
async fn refuses_a_second_process_on_the_same_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let _daemon = Ledger::open(path.to_str().unwrap(), LedgerOptions::default())
        .await
        .unwrap();

    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "second_process_probe",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PROBE_ENV, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("probe: AlreadyInUse"), "{stdout}");
}

/// Not a test on its own: the second process of `refuses_a_second_process_on_the_same_file`.
#[tokio::test]
async fn second_process_probe() {
    let Ok(path) = std::env::var(PROBE_ENV) else {
        return;
    };
    match Ledger::open(&path, LedgerOptions::default()).await {
        Err(LedgerError::AlreadyInUse { .. }) => println!("probe: AlreadyInUse"),
        other => println!("probe: unexpected {other:?}"),
    }
}

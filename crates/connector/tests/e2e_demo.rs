//! `confluence-connector demo` needs no flags and no setup, and shows what landed; a build
//! without the `demo` feature (the container image, the systemd build) says it has none.
#![allow(clippy::unwrap_used)]

mod support;

#[cfg(feature = "demo")]
use std::time::{Duration, Instant};

use support::*;

#[cfg(feature = "demo")]
#[tokio::test(flavor = "multi_thread")]
async fn demo_syncs_the_generated_dataset_and_exits_0_within_a_minute() {
    let started = Instant::now();
    let out = run(None, &["demo"], &[]).await;
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(stdout.contains("Tenant demo: success"), "{stdout}");
    assert!(stdout.contains("What landed in Unique"), "{stdout}");
    assert!(
        stdout.contains("Most attachments on one page: 30 "),
        "the page with more than 25 attachments is incomplete:\n{stdout}"
    );
}

#[cfg(not(feature = "demo"))]
#[tokio::test(flavor = "multi_thread")]
async fn demo_in_a_build_without_the_feature_says_so_and_exits_1() {
    let out = run(None, &["demo"], &[]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("this build of confluence-connector has no demo"),
        "{stderr}"
    );
    assert!(text(&out.stdout).is_empty());
}

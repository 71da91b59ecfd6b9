//! Memory stays flat however large an attachment is: its bytes flow from the Confluence
//! download straight into the Unique upload. A 64 MiB attachment goes through a whole cycle and
//! the process's peak resident memory (`VmHWM`) may grow by far less than the attachment; any
//! copy of the whole attachment (`.bytes()`, a collected `Vec<u8>`) on the way fails this.
//!
//! Its own test binary, one test, so nothing else runs in the process while it measures.
#![allow(clippy::unwrap_used)]

mod cycle_common;

use cycle_common::*;
use sandbox::confluence::AttachmentData;

const SIZE: u64 = 64 * 1024 * 1024;

/// The process's peak resident set so far, in bytes (Linux); `None` elsewhere.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[tokio::test]
async fn a_large_attachment_streams_without_being_held_in_memory() {
    let Some(_) = peak_rss() else {
        println!("skipped: no /proc/self/status to read peak memory from");
        return;
    };
    let mut p = page(1001, "SP", None, &["ai-ingest"]);
    let mut big = attachment(2001, "big.pdf", "application/pdf", "");
    big.data = AttachmentData::Generated {
        seed: 7,
        size: SIZE,
    };
    p.attachments = vec![big];
    let h = Harness::new(Flavour::Cloud, dataset(vec![p])).await;
    // Warm up every client, pool and the sandbox with a first cycle without the attachment.
    let mut spec = h.spec();
    spec.attachments.enabled = false;
    h.run(spec).await.unwrap();
    let before = peak_rss().unwrap();

    let mut spec = h.spec();
    spec.attachments.max_file_size_mb = 100;
    h.run(spec).await.unwrap();

    let grown = peak_rss().unwrap().saturating_sub(before);
    println!("peak memory grew by {} KiB", grown >> 10);
    let file = h.sb.unique.file_by_key(&key(SP, "1001::att2001")).unwrap();
    assert_eq!(
        file.uploaded_size,
        Some(SIZE),
        "the whole attachment arrived"
    );
    assert!(
        grown < SIZE / 2,
        "peak memory grew by {} MiB moving a {} MiB attachment",
        grown >> 20,
        SIZE >> 20
    );
}

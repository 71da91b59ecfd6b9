//! What a run tells a progress display (the `sync` command's bars) while it goes.

/// Receives progress of a run, for the `sync` progress bar.
pub(crate) trait Progress: Send + Sync {
    /// The engine entered a phase (`scanning`, `diffing`, …).
    fn phase(&self, _tenant: &str, _phase: &str) {}
    /// Work items of the ingest phase became known.
    fn total(&self, _tenant: &str, _items: u64) {}
    /// One item was handled.
    fn item_done(&self, _tenant: &str) {}
    /// The tenant waits for the Confluence points quota until `until`; `None` once it goes on.
    fn quota_wait(&self, _tenant: &str, _until: Option<std::time::SystemTime>) {}
}

/// No progress display (the daemon).
#[derive(Debug)]
pub(crate) struct NoProgress;

impl Progress for NoProgress {}

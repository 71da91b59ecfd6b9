//! The verbs that run and end: `sync`, `check`, `status`, `access-report`. Each returns how it ended; `cli`
//! turns that into the exit code. (`run` is the daemon in `daemon.rs`, `demo` in `demo.rs`.)

pub(crate) mod access_report;
pub(crate) mod check;
pub(crate) mod status;
pub(crate) mod sync;

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// A tenant failed (`sync`, `access-report`) or a check failed (`check`).
    Failed,
    /// The configuration could not be loaded.
    ConfigInvalid,
}

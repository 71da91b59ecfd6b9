//! Logging, set up once per process: JSON lines in production, readable text on a terminal,
//! level from the config, always on stderr (stdout belongs to command output such as
//! `sync --json`).
//!
//! Every line logged inside a tenant's work carries `tenant`, because that work runs inside
//! [`tenant_span`]. Titles, e-mail addresses and ids go through [`Diag`], which masks them under
//! the `conceal` diagnostics policy.
//!
//! Secrets: our crates never log them (they are `SecretString`s). The HTTP stack underneath
//! (`hyper`, `h2`, `reqwest`, `rustls`) can print headers at `trace`, so those targets are
//! capped at `info` whatever level the operator picks.

use std::fmt;
use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;

use crate::config::{DiagnosticsDataPolicy, LogFormat, LogLevel};

/// Targets that may print request or response headers below `info`.
const NOISY_TARGETS: &[&str] = &["hyper", "hyper_util", "h2", "reqwest", "rustls", "sqlx"];

static POLICY: OnceLock<DiagnosticsDataPolicy> = OnceLock::new();

/// Installs the global subscriber. Later calls are ignored (tests, `demo` after a failed load).
pub fn init(level: LogLevel, format: LogFormat, policy: DiagnosticsDataPolicy) {
    let _ = POLICY.set(policy);
    let filter = filter(level);
    let json = format.is_json(std::io::stderr().is_terminal());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = if json {
        builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .flatten_event(true)
            .try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
}

fn filter(level: LogLevel) -> EnvFilter {
    let level = level.as_filter_directive();
    let mut directives = vec![level.to_owned()];
    if level != "off" {
        let capped = match level {
            "debug" | "trace" => "info",
            other => other,
        };
        directives.extend(NOISY_TARGETS.iter().map(|t| format!("{t}={capped}")));
    }
    EnvFilter::new(directives.join(","))
}

/// The span all of one tenant's work runs in.
pub(crate) fn tenant_span(tenant: &str) -> tracing::Span {
    tracing::info_span!("tenant", tenant = %tenant)
}

/// The diagnostics policy in force (`conceal` until [`init`] says otherwise).
pub fn policy() -> DiagnosticsDataPolicy {
    POLICY
        .get()
        .copied()
        .unwrap_or(DiagnosticsDataPolicy::Conceal)
}

/// A title, e-mail address or id for a log line: shown as is under `disclose`, and under
/// `conceal` as `[redacted:<hash>]`, where the short stable hash still lets an operator see
/// that two lines are about the same item without learning what it is.
#[derive(Clone, Copy)]
pub struct Diag<'a> {
    value: &'a str,
    policy: DiagnosticsDataPolicy,
}

impl<'a> Diag<'a> {
    /// Under the process-wide policy.
    pub fn new(value: &'a str) -> Self {
        Self::with_policy(value, policy())
    }

    pub fn with_policy(value: &'a str, policy: DiagnosticsDataPolicy) -> Self {
        Self { value, policy }
    }
}

impl fmt::Display for Diag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.policy {
            DiagnosticsDataPolicy::Disclose => f.write_str(self.value),
            DiagnosticsDataPolicy::Conceal => {
                write!(f, "[redacted:{:06x}]", short_hash(self.value))
            }
        }
    }
}

impl fmt::Debug for Diag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// FNV-1a folded to 24 bits: stable across runs and processes, not reversible for anything
/// but very short values (and titles, e-mails and ids are not that short).
fn short_hash(value: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    ((hash >> 40) ^ (hash & 0xff_ffff)) as u32 & 0xff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conceal_masks_and_disclose_shows() {
        let concealed = Diag::with_policy("jane@example.com", DiagnosticsDataPolicy::Conceal);
        let shown = concealed.to_string();
        assert!(!shown.contains("jane"), "{shown}");
        assert!(shown.starts_with("[redacted:"));
        let disclosed = Diag::with_policy("jane@example.com", DiagnosticsDataPolicy::Disclose);
        assert_eq!(disclosed.to_string(), "jane@example.com");
    }

    #[test]
    fn conceal_is_stable_so_lines_can_be_correlated() {
        let a = Diag::with_policy("Page title", DiagnosticsDataPolicy::Conceal).to_string();
        let b = Diag::with_policy("Page title", DiagnosticsDataPolicy::Conceal).to_string();
        let c = Diag::with_policy("Other title", DiagnosticsDataPolicy::Conceal).to_string();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn http_stack_is_capped_below_debug() {
        let f = filter(LogLevel::Debug).to_string();
        assert!(f.contains("hyper=info"), "{f}");
        assert!(f.split(',').any(|d| d == "debug"), "{f}");
        assert_eq!(filter(LogLevel::Silent).to_string(), "off");
    }
}

//! Retry decisions and `Retry-After` parsing.

use std::time::{Duration, SystemTime};

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (relative to `now`). Returns
/// `None` when it is neither. Absurd values are returned as they are (saturating); the caller
/// decides between "wait" and "blocked".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let _ = (value, now);
    unimplemented!("http-transport helper")
}

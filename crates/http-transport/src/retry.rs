//! Retry decisions and `Retry-After` parsing.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode};
use rand::Rng;

use crate::RetryPolicy;

/// Parses a `Retry-After` value: delta-seconds or an HTTP date (relative to `now`). Returns
/// `None` when it is neither. Absurd values are returned as they are (saturating); the caller
/// decides between "wait" and "blocked".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Digits only: delta-seconds. Too many digits for a u64 is "forever", not garbage.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The statuses that mean "try again later" rather than "this request is wrong".
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` of a response, if present and parseable.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// A 429 with `X-RateLimit-Limit: 0`: the account may not send anything at all.
pub(crate) fn has_zero_limit(headers: &HeaderMap) -> bool {
    headers
        .get("x-ratelimit-limit")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0")
}

/// Exponential backoff with full jitter for retry number `retry` (1-based):
/// uniformly random in `[0, min(base · 2^(retry-1), max)]`. Jitter keeps the tenants that failed
/// together from retrying together.
pub(crate) fn backoff_delay(policy: &RetryPolicy, retry: u32) -> Duration {
    let exponent = retry.saturating_sub(1).min(31);
    let ceiling = policy
        .base_delay
        .saturating_mul(1u32 << exponent)
        .min(policy.max_delay);
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    if nanos == 0 {
        return Duration::ZERO;
    }
    Duration::from_nanos(rand::rng().random_range(0..=nanos))
}

/// The pause before retry number `retry`: the server's `Retry-After` is a minimum (Atlassian:
/// "use the Retry-After header value as the minimum delay"), the jittered backoff keeps a
/// `Retry-After: 0` or a missing one from hammering a struggling server.
pub(crate) fn retry_delay(
    policy: &RetryPolicy,
    retry: u32,
    server_delay: Option<Duration>,
) -> Duration {
    backoff_delay(policy, retry).max(server_delay.unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_delta_seconds() {
        let now = SystemTime::now();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
    }

    #[test]
    fn parses_http_date_relative_to_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(30)));
    }

    #[test]
    fn a_date_in_the_past_means_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let date = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(parse_retry_after(&date, now), Some(Duration::ZERO));
    }

    #[test]
    fn garbage_is_none() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
    }

    #[test]
    fn huge_values_saturate_instead_of_failing() {
        let now = SystemTime::now();
        assert_eq!(
            parse_retry_after("9223372036854775807", now),
            Some(Duration::from_secs(9_223_372_036_854_775_807))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        for retry in 1..40 {
            let ceiling =
                Duration::from_millis(100 * (1 << (retry - 1).min(10))).min(policy.max_delay);
            let delay = backoff_delay(&policy, retry);
            assert!(delay <= ceiling, "retry {retry}: {delay:?} > {ceiling:?}");
        }
    }

    #[test]
    fn retry_after_is_a_minimum_and_the_backoff_a_floor() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            ..RetryPolicy::default()
        };
        for retry in 1..10 {
            let long = retry_delay(&policy, retry, Some(Duration::from_secs(45)));
            assert_eq!(long, Duration::from_secs(45), "not capped at max_delay");
            let zero = retry_delay(&policy, retry, Some(Duration::ZERO));
            assert!(zero <= Duration::from_millis(300));
        }
    }

    #[test]
    fn retryable_statuses_are_the_transient_ones() {
        for code in [429, 500, 502, 503, 504] {
            assert!(is_retryable_status(StatusCode::from_u16(code).unwrap()));
        }
        for code in [400, 401, 403, 404, 410, 501] {
            assert!(!is_retryable_status(StatusCode::from_u16(code).unwrap()));
        }
    }
}

//! Confluence Cloud's points quota, as far as the transport can see it: what the headers of one
//! answer say ([`QuotaReading`]), whether a 429 is the quota ([`QuotaReading::is_quota_refusal`])
//! and how long it asks us to wait, the tenant-wide pause until the reset ([`QuotaGate`]), and
//! the slow-down near the limit ([`QuotaPacer`]).
//!
//! The header vocabulary (developer.atlassian.com/cloud/confluence/rate-limiting, changelog
//! CHANGE-3045/CHANGE-3080): `X-RateLimit-Limit`, `-Remaining`, `-Reset` (ISO 8601), `-NearLimit`
//! (`true` below 20 % of the quota); the structured `RateLimit-Policy: "global-app-quota";q=65000;
//! w=3600` and `RateLimit: "global-app-quota";r=11000;t=600` (`Beta-` prefixed until enforcement
//! reaches the app; `r` only below ~20 %); on a quota 429 `Retry-After`, `Beta-Retry-After` and
//! `RateLimit-Reason: confluence-quota-global-based | confluence-quota-tenant-based` (seen live:
//! `conf-global-based`, so the reason is matched loosely). Atlassian also says it will stop
//! sending quota figures in `X-RateLimit-*` (which keep serving the burst limits), so those are
//! trusted as quota figures only when their limit equals the structured policy's `q`, or when no
//! structured policy is present.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::retry::parse_retry_after;

/// Below this share of the pool left, Confluence sets `X-RateLimit-NearLimit: true` and starts
/// sending `r` (the documented "less than 20 % of the quota remains").
pub const NEAR_LIMIT_SHARE: f64 = 0.2;

/// What the quota headers of one answer say. Every field is optional: Confluence sends some of
/// them on some answers only.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuotaReading {
    /// The pool size in points (`q`, or a trusted `X-RateLimit-Limit`).
    pub limit: Option<u64>,
    /// Points left in the current window (`r`, or a trusted `X-RateLimit-Remaining`). `None`
    /// when Confluence did not say, which it does while the app is well within its quota.
    pub remaining: Option<u64>,
    /// When the window resets (a trusted `X-RateLimit-Reset`, else now + `t`).
    pub reset_at: Option<SystemTime>,
    /// The window length (`w`).
    pub window: Option<Duration>,
    /// Less than 20 % of the pool is left.
    pub near_limit: bool,
    /// The structured policy's name (`global-app-quota`, `tenant-app-quota`).
    pub policy: Option<String>,
    /// `RateLimit-Reason` (429 only).
    pub reason: Option<String>,
    /// `Retry-After`, or `Beta-Retry-After` when only that was sent.
    pub retry_after: Option<Duration>,
    /// `Beta-Retry-After` was present: Confluence says this answer hit (or would hit) the quota.
    pub beta_retry_after: bool,
}

/// One entry of a structured `RateLimit` / `RateLimit-Policy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PolicyEntry {
    name: String,
    attributes: Vec<(String, u64)>,
}

impl PolicyEntry {
    fn get(&self, key: &str) -> Option<u64> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| *v)
    }

    /// The points quotas (`global-app-quota`, `tenant-app-quota`), not the burst limits.
    fn is_quota(&self) -> bool {
        self.name.contains("quota")
    }
}

/// `"<name>";k=v;k=v, "<name>";k=v`: any number of entries in any order (as documented); values
/// that are not whole numbers are skipped.
fn parse_structured(value: &str) -> Vec<PolicyEntry> {
    value
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';');
            let name = parts.next()?.trim().trim_matches('"').trim().to_owned();
            if name.is_empty() {
                return None;
            }
            let attributes = parts
                .filter_map(|attribute| {
                    let (key, value) = attribute.split_once('=')?;
                    let value = value.trim().trim_matches('"').parse::<u64>().ok()?;
                    Some((key.trim().to_ascii_lowercase(), value))
                })
                .collect();
            Some(PolicyEntry { name, attributes })
        })
        .collect()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The quota entry of the enforced header, else of the `Beta-` one.
fn quota_entry(headers: &HeaderMap, name: &str) -> Option<PolicyEntry> {
    [name.to_owned(), format!("beta-{name}")]
        .iter()
        .filter_map(|n| header(headers, n))
        .flat_map(parse_structured)
        .find(PolicyEntry::is_quota)
}

/// ISO 8601 as Atlassian sends it: `2025-10-08T15:00:00Z`, also without seconds
/// (`2026-03-26T16:00Z`, seen live) or with an offset.
pub fn parse_reset(value: &str) -> Option<SystemTime> {
    let value = value.trim();
    let parsed = chrono::DateTime::parse_from_rfc3339(value)
        .map(|d| d.with_timezone(&chrono::Utc))
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%MZ").map(|d| d.and_utc())
        })
        .or_else(|_| {
            chrono::NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%SZ").map(|d| d.and_utc())
        })
        .ok()?;
    let millis = u64::try_from(parsed.timestamp_millis()).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(millis))
}

impl QuotaReading {
    /// Reads the quota headers of one answer; `None` when it carries none (Data Center, Unique,
    /// or a Cloud answer that says nothing about the quota).
    pub fn from_headers(headers: &HeaderMap, now: SystemTime) -> Option<Self> {
        let policy = quota_entry(headers, "ratelimit-policy");
        let state = quota_entry(headers, "ratelimit");
        let legacy_limit = header(headers, "x-ratelimit-limit").and_then(|v| v.parse::<u64>().ok());
        let q = policy.as_ref().and_then(|p| p.get("q"));
        // `X-RateLimit-*` carry the burst limits too; they are the quota's figures when their
        // limit is the pool's, or when there is no structured header to tell.
        let legacy_is_quota = match (q, legacy_limit) {
            (Some(q), Some(limit)) => q == limit,
            (Some(_), None) => false,
            (None, _) => policy.is_none() && state.is_none(),
        };
        let legacy = |name: &str| header(headers, name).filter(|_| legacy_is_quota);
        let near_limit_flag = header(headers, "x-ratelimit-nearlimit")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let reason = header(headers, "ratelimit-reason").map(str::to_owned);
        let beta_retry_after =
            header(headers, "beta-retry-after").and_then(|v| parse_retry_after(v, now));
        let retry_after = header(headers, "retry-after")
            .and_then(|v| parse_retry_after(v, now))
            .or(beta_retry_after);

        let limit = q.or(legacy_limit.filter(|_| legacy_is_quota));
        let remaining = state
            .as_ref()
            .and_then(|s| s.get("r"))
            .or_else(|| legacy("x-ratelimit-remaining").and_then(|v| v.parse().ok()));
        let reset_at = legacy("x-ratelimit-reset")
            .and_then(parse_reset)
            .or_else(|| {
                let t = state.as_ref().and_then(|s| s.get("t"))?;
                now.checked_add(Duration::from_secs(t))
            });
        let below_share = match (remaining, limit) {
            (Some(r), Some(l)) if l > 0 => (r as f64) < NEAR_LIMIT_SHARE * l as f64,
            _ => false,
        };
        // `r` is only sent once usage passed ~80 %.
        let r_sent = state.as_ref().and_then(|s| s.get("r")).is_some();
        let reading = Self {
            limit,
            remaining,
            reset_at,
            window: policy
                .as_ref()
                .and_then(|p| p.get("w"))
                .map(Duration::from_secs),
            near_limit: near_limit_flag || below_share || r_sent,
            policy: policy.or(state).map(|p| p.name),
            reason,
            retry_after,
            beta_retry_after: beta_retry_after.is_some(),
        };
        let says_something = reading.limit.is_some()
            || reading.remaining.is_some()
            || reading.reset_at.is_some()
            || reading.near_limit
            || reading.policy.is_some()
            || reading.reason.is_some()
            || reading.beta_retry_after;
        says_something.then_some(reading)
    }

    /// A 429 that is the points quota, not a burst limit: the reason names a quota pool
    /// (`confluence-quota-global-based`, `-tenant-based`, and the `conf-global-based` seen
    /// live), or the structured header reports the quota spent (`r=0`), or `Beta-Retry-After`
    /// (sent only for the quota) is there.
    pub fn is_quota_refusal(&self) -> bool {
        let reason = self.reason.as_deref().unwrap_or("").to_ascii_lowercase();
        let reason_says_quota = reason.contains("quota")
            || reason.ends_with("global-based")
            || reason.ends_with("tenant-based");
        let spent = self.policy.is_some() && self.remaining == Some(0);
        reason_says_quota || spent || self.beta_retry_after
    }

    /// How long a quota refusal asks us to wait: `Retry-After`, else until the reset, else until
    /// the top of the next UTC hour (the documented window), which is the worst case.
    pub fn quota_wait(&self, now: SystemTime) -> Duration {
        if let Some(wait) = self.retry_after {
            return wait;
        }
        if let Some(wait) = self.reset_at.and_then(|r| r.duration_since(now).ok()) {
            return wait;
        }
        let since_epoch = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        Duration::from_secs(3600 - since_epoch % 3600)
    }
}

/// Why a tenant waits for the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaWaitCause {
    /// Confluence refused a request (429) because the pool is spent.
    Exhausted,
    /// Too few points were left for even one more request; the tenant stopped before the wall.
    NearLimit,
}

impl QuotaWaitCause {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Exhausted => "exhausted",
            Self::NearLimit => "near_limit",
        }
    }
}

/// A tenant-wide pause until the quota resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaWait {
    /// When requests resume (wall clock, for the run record and status).
    pub until: SystemTime,
    pub cause: QuotaWaitCause,
}

#[derive(Debug, Default)]
struct GateState {
    /// The pause in force: (its end, when it started, what it says).
    closed: Option<(Instant, Instant, QuotaWait)>,
    /// Time spent in pauses that are over.
    paused_before: Duration,
}

/// A later end that moves a pause by less than this is the same pause.
const EXTENSION_THRESHOLD: Duration = Duration::from_secs(1);

/// Holds every request of the tenant while the quota is spent, publishes the wait (for the run
/// record and `status`) and keeps count of the time spent waiting (which no retry budget pays).
#[derive(Debug)]
pub(crate) struct QuotaGate {
    state: Mutex<GateState>,
    waits: watch::Sender<Option<QuotaWait>>,
}

impl Default for QuotaGate {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            waits: watch::Sender::new(None),
        }
    }
}

impl QuotaGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Closes the gate for `wait` (extends, never shortens, a pause in force). Returns the wait
    /// that is now published when this call started or moved a pause.
    pub(crate) fn close(&self, wait: Duration, cause: QuotaWaitCause) -> Option<QuotaWait> {
        let now = Instant::now();
        let until = now.checked_add(wait)?;
        let until_wall = SystemTime::now().checked_add(wait)?;
        let mut state = self.lock();
        let published = match state.closed {
            // Several requests refused at once each ask for the same reset, a few milliseconds
            // apart: one pause, not a string of moves.
            Some((end, _, _)) if end + EXTENSION_THRESHOLD >= until => return None,
            Some((_, started, current)) => {
                // A refusal beats a near-limit stop as the reason shown.
                let cause = if current.cause == QuotaWaitCause::Exhausted {
                    current.cause
                } else {
                    cause
                };
                let wait = QuotaWait {
                    until: until_wall,
                    cause,
                };
                state.closed = Some((until, started, wait));
                wait
            }
            None => {
                let wait = QuotaWait {
                    until: until_wall,
                    cause,
                };
                state.closed = Some((until, now, wait));
                wait
            }
        };
        drop(state);
        self.waits.send_replace(Some(published));
        Some(published)
    }

    /// Waits while the gate is closed. When this call finds a pause over, it ends it (and
    /// returns how long it lasted, for the observer).
    pub(crate) async fn pass(&self) -> Option<Duration> {
        loop {
            let end = match self.lock().closed {
                None => return None,
                Some((end, _, _)) => end,
            };
            if end > Instant::now() {
                tokio::time::sleep_until(end).await;
                continue;
            }
            let mut state = self.lock();
            match state.closed {
                Some((end, started, _)) if end <= Instant::now() => {
                    let lasted = end.saturating_duration_since(started);
                    state.paused_before += lasted;
                    state.closed = None;
                    drop(state);
                    self.waits.send_replace(None);
                    return Some(lasted);
                }
                // Extended meanwhile: wait again.
                Some(_) => continue,
                None => return None,
            }
        }
    }

    /// Time spent in quota pauses since this gate was made, the current one up to `now`
    /// included. A request's retry budget subtracts the part of it that fell in its lifetime.
    pub(crate) fn paused_total(&self, now: Instant) -> Duration {
        let state = self.lock();
        let current = state
            .closed
            .map(|(end, started, _)| end.min(now).saturating_duration_since(started))
            .unwrap_or_default();
        state.paused_before + current
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<QuotaWait>> {
        self.waits.subscribe()
    }
}

/// What the pacer decided after one reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pace {
    /// No pacing: the quota is not near its limit (or the window is over).
    Free,
    /// At most one request per `interval` until `until` (the reset).
    Spaced {
        interval: Duration,
        until: SystemTime,
    },
    /// Not even one more request fits before the reset: stop until then.
    StopUntil(SystemTime),
}

/// Recent per-request costs kept to estimate the next one.
const COST_HISTORY: usize = 32;

/// Points one request is assumed to cost before any has been measured: the cheapest request
/// (an empty listing) costs 1, so this underestimates until the first two readings, which is
/// why a reserve of one request is always kept.
const UNMEASURED_COST: u64 = 1;

/// Near the limit, spreads the points that are left over the time left to the reset instead of
/// spending them at full speed and meeting a 429 (a tenant-wide wall until the top of the hour).
///
/// The model: `remaining` points, `cost` points per request (the largest decrease between two
/// consecutive readings among the last 32: pessimistic, since a search page with expanded
/// attachments costs dozens of points and a download 2), one request's worth kept in reserve. So
/// `n = (remaining - cost) / cost` more requests fit; they are spaced `time_left / n` apart. When
/// none fits, the tenant stops until the reset (also when Confluence gave the figure without
/// calling it near the limit: a small pool, or requests that cost a good part of it). When Confluence says "near the limit" without a
/// number, 20 % of the pool (or, without a pool size, 100 requests) is assumed left. Decreases
/// include other tenants of the same app spending the shared global pool, which is what the
/// spacing has to make room for.
#[derive(Debug, Default)]
pub(crate) struct QuotaPacer {
    last: Option<(u64, Option<SystemTime>)>,
    costs: VecDeque<u64>,
}

impl QuotaPacer {
    /// The estimate of one request's cost.
    fn cost(&self) -> u64 {
        self.costs
            .iter()
            .copied()
            .max()
            .unwrap_or(UNMEASURED_COST)
            .max(1)
    }

    pub(crate) fn observe(&mut self, reading: &QuotaReading, now: SystemTime) -> Pace {
        if let Some(remaining) = reading.remaining {
            match self.last {
                Some((previous, previous_reset)) if previous_reset == reading.reset_at => {
                    let spent = previous.saturating_sub(remaining);
                    // No read request costs a quarter of a pool (a 250-page batch costs 251
                    // points of 65,000): a drop that large is another install of the app
                    // spending the shared pool, not what our next request will cost.
                    let plausible = reading.limit.is_none_or(|limit| spent <= limit / 4);
                    if remaining <= previous && plausible {
                        if self.costs.len() == COST_HISTORY {
                            self.costs.pop_front();
                        }
                        self.costs.push_back(spent);
                    }
                }
                // A new window: what requests cost in the last one says little about this one.
                Some(_) => self.costs.clear(),
                None => {}
            }
            self.last = Some((remaining, reading.reset_at));
        }
        let Some(reset) = reading.reset_at else {
            return Pace::Free;
        };
        let Ok(time_left) = reset.duration_since(now) else {
            return Pace::Free;
        };
        let cost = self.cost();
        // A known figure that cannot pay for one more request and the reserve stops the tenant
        // even before Confluence calls it near the limit (a small pool, or costly requests).
        if let Some(remaining) = reading.remaining {
            if remaining.saturating_sub(cost) / cost == 0 {
                return Pace::StopUntil(reset);
            }
        }
        if !reading.near_limit {
            return Pace::Free;
        }
        let (remaining, per_request) = match (reading.remaining, reading.limit) {
            (Some(r), _) => (r, cost),
            (None, Some(limit)) => ((limit as f64 * NEAR_LIMIT_SHARE) as u64, cost),
            // Neither a number nor a pool size: assume room for 100 requests.
            (None, None) => (100, 1),
        };
        let fits = remaining.saturating_sub(per_request) / per_request;
        if fits == 0 {
            return Pace::StopUntil(reset);
        }
        let interval = time_left / u32::try_from(fits).unwrap_or(u32::MAX);
        Pace::Spaced {
            interval,
            until: reset,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    /// 2025-10-08T14:30:00Z
    const HALF_PAST: u64 = 1_759_933_800;

    #[test]
    fn reads_the_documented_quota_429() {
        let now = at(HALF_PAST);
        let h = headers(&[
            ("retry-after", "1800"),
            ("x-ratelimit-limit", "40000"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2025-10-08T15:00:00Z"),
            ("ratelimit-reason", "confluence-quota-global-based"),
        ]);
        let r = QuotaReading::from_headers(&h, now).unwrap();
        assert_eq!(r.limit, Some(40_000));
        assert_eq!(r.remaining, Some(0));
        assert_eq!(r.reset_at, Some(at(HALF_PAST + 1800)));
        assert!(r.near_limit);
        assert!(r.is_quota_refusal());
        assert_eq!(r.quota_wait(now), Duration::from_secs(1800));
    }

    #[test]
    fn reads_the_structured_headers_with_or_without_the_beta_prefix() {
        let now = at(HALF_PAST);
        let beta = headers(&[
            (
                "beta-ratelimit-policy",
                "\"global-app-quota\";q=65000;w=3600",
            ),
            ("beta-ratelimit", "\"global-app-quota\";r=11000;t=600"),
        ]);
        let r = QuotaReading::from_headers(&beta, now).unwrap();
        assert_eq!(
            (r.limit, r.remaining, r.window),
            (Some(65_000), Some(11_000), Some(Duration::from_secs(3600)))
        );
        assert_eq!(r.reset_at, Some(at(HALF_PAST + 600)));
        assert!(r.near_limit, "r is sent only past ~80 %");
        assert_eq!(r.policy.as_deref(), Some("global-app-quota"));
        assert!(!r.is_quota_refusal());

        // Enforced: no prefix; well within the quota: no `r`. Several policies, any order.
        let enforced = headers(&[
            (
                "ratelimit-policy",
                "\"jira-burst-based\";q=100;w=1, \"tenant-app-quota\";q=100100;w=3600",
            ),
            (
                "ratelimit",
                "\"jira-burst-based\";r=90;t=1,\"tenant-app-quota\";t=2107",
            ),
        ]);
        let r = QuotaReading::from_headers(&enforced, now).unwrap();
        assert_eq!((r.limit, r.remaining), (Some(100_100), None));
        assert!(!r.near_limit);
        assert_eq!(r.policy.as_deref(), Some("tenant-app-quota"));
    }

    #[test]
    fn burst_figures_in_x_ratelimit_are_not_taken_for_the_quota() {
        let now = at(HALF_PAST);
        let h = headers(&[
            (
                "beta-ratelimit-policy",
                "\"global-app-quota\";q=65000;w=3600",
            ),
            ("beta-ratelimit", "\"global-app-quota\";t=1800"),
            ("x-ratelimit-limit", "350"),
            ("x-ratelimit-remaining", "3"),
            ("x-ratelimit-reset", "2026-01-01T01:01:01Z"),
        ]);
        let r = QuotaReading::from_headers(&h, now).unwrap();
        assert_eq!((r.limit, r.remaining), (Some(65_000), None));
        assert_eq!(r.reset_at, Some(at(HALF_PAST + 1800)));
        assert!(!r.near_limit);
    }

    #[test]
    fn a_reset_without_seconds_as_seen_live_parses() {
        assert_eq!(
            parse_reset("2026-03-26T16:00Z"),
            parse_reset("2026-03-26T16:00:00Z")
        );
        assert!(parse_reset("2026-03-26T16:00:00+00:00").is_some());
        assert!(parse_reset("soon").is_none());
    }

    #[test]
    fn quota_reasons_are_matched_loosely_and_burst_is_not_quota() {
        let now = at(HALF_PAST);
        for reason in [
            "confluence-quota-global-based",
            "confluence-quota-tenant-based",
            "conf-global-based",
        ] {
            let h = headers(&[("retry-after", "60"), ("ratelimit-reason", reason)]);
            let r = QuotaReading::from_headers(&h, now).unwrap();
            assert!(r.is_quota_refusal(), "{reason}");
        }
        let burst = headers(&[
            ("retry-after", "1"),
            ("ratelimit-reason", "confluence-burst-based"),
        ]);
        assert!(!QuotaReading::from_headers(&burst, now)
            .unwrap()
            .is_quota_refusal());
        let spent = headers(&[
            ("beta-ratelimit", "\"global-app-quota\";r=0;t=50"),
            ("beta-retry-after", "50"),
        ]);
        let r = QuotaReading::from_headers(&spent, now).unwrap();
        assert!(r.is_quota_refusal());
        assert_eq!(r.quota_wait(now), Duration::from_secs(50));
    }

    #[test]
    fn without_any_timing_the_wait_is_until_the_top_of_the_hour() {
        let now = at(HALF_PAST + 5);
        let h = headers(&[("ratelimit-reason", "confluence-quota-global-based")]);
        let r = QuotaReading::from_headers(&h, now).unwrap();
        assert_eq!(r.quota_wait(now), Duration::from_secs(1795));
    }

    #[test]
    fn answers_without_quota_headers_read_nothing() {
        assert!(QuotaReading::from_headers(&HeaderMap::new(), at(0)).is_none());
        let dc_style = headers(&[("retry-after", "5")]);
        assert!(QuotaReading::from_headers(&dc_style, at(0)).is_none());
    }

    fn reading(remaining: u64, reset: u64, near: bool) -> QuotaReading {
        QuotaReading {
            limit: Some(1000),
            remaining: Some(remaining),
            reset_at: Some(at(reset)),
            near_limit: near,
            ..QuotaReading::default()
        }
    }

    #[test]
    fn the_pacer_is_free_until_the_limit_is_near() {
        let mut pacer = QuotaPacer::default();
        assert_eq!(pacer.observe(&reading(900, 100, false), at(0)), Pace::Free);
        assert_eq!(pacer.observe(&reading(880, 100, false), at(1)), Pace::Free);
    }

    #[test]
    fn a_figure_too_small_for_one_more_request_stops_even_without_the_near_limit_flag() {
        let mut pacer = QuotaPacer::default();
        pacer.observe(&reading(500, 100, false), at(0));
        // One request cost 200: the 300 left cannot pay for another and the reserve.
        assert_eq!(
            pacer.observe(&reading(300, 100, false), at(1)),
            Pace::StopUntil(at(100))
        );
    }

    #[test]
    fn near_the_limit_the_pacer_spreads_what_is_left_over_the_time_left() {
        let mut pacer = QuotaPacer::default();
        pacer.observe(&reading(200, 100, false), at(0));
        // Costs seen: 10, 20, 10.
        pacer.observe(&reading(190, 100, false), at(1));
        pacer.observe(&reading(170, 100, false), at(2));
        // 160 left, 20 per request (the largest seen), one in reserve: 7 more fit in the 70 s
        // left.
        let pace = pacer.observe(&reading(160, 100, true), at(30));
        assert_eq!(
            pace,
            Pace::Spaced {
                interval: Duration::from_secs(10),
                until: at(100)
            }
        );
        // Only the reserve left: stop until the reset.
        assert_eq!(
            pacer.observe(&reading(30, 100, true), at(90)),
            Pace::StopUntil(at(100))
        );
    }

    #[test]
    fn a_new_window_is_not_mistaken_for_a_cost() {
        let mut pacer = QuotaPacer::default();
        pacer.observe(&reading(10, 100, true), at(99));
        pacer.observe(&reading(5, 100, true), at(99));
        assert_eq!(pacer.cost(), 5);
        // The pool refilled at the reset: a jump up, no cost recorded, the old costs forgotten.
        pacer.observe(&reading(1000, 200, false), at(101));
        assert_eq!(pacer.cost(), UNMEASURED_COST);
        pacer.observe(&reading(990, 200, false), at(102));
        assert_eq!(pacer.cost(), 10);
        // A reading with a reset in the past never paces.
        assert_eq!(pacer.observe(&reading(5, 100, true), at(150)), Pace::Free);
    }

    #[test]
    fn another_install_draining_the_pool_is_not_taken_for_a_request_cost() {
        let mut pacer = QuotaPacer::default();
        pacer.observe(&reading(900, 100, false), at(0));
        pacer.observe(&reading(890, 100, false), at(1));
        // 880 points gone between two readings: someone else's, not our next request's.
        pacer.observe(&reading(10, 100, true), at(2));
        assert_eq!(pacer.cost(), 10);
    }

    #[test]
    fn near_the_limit_without_a_number_assumes_a_fifth_of_the_pool() {
        let mut pacer = QuotaPacer::default();
        let r = QuotaReading {
            limit: Some(65_000),
            remaining: None,
            reset_at: Some(at(600)),
            near_limit: true,
            ..QuotaReading::default()
        };
        // 13,000 points assumed, cost 1 unmeasured: 12,999 requests over 600 s.
        match pacer.observe(&r, at(0)) {
            Pace::Spaced { interval, until } => {
                assert_eq!(until, at(600));
                assert_eq!(interval, Duration::from_secs(600) / 12_999);
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_gate_holds_until_the_end_and_counts_the_time_paused() {
        let gate = QuotaGate::default();
        let mut waits = gate.subscribe();
        let start = Instant::now();
        let published = gate
            .close(Duration::from_millis(60), QuotaWaitCause::Exhausted)
            .unwrap();
        assert_eq!(*waits.borrow_and_update(), Some(published));
        // A shorter pause does not shorten it; a longer one extends it.
        assert!(gate
            .close(Duration::from_millis(10), QuotaWaitCause::NearLimit)
            .is_none());
        // A few milliseconds later is the same pause; a second or more moves it.
        assert!(gate
            .close(Duration::from_millis(90), QuotaWaitCause::NearLimit)
            .is_none());
        let extended = gate
            .close(Duration::from_millis(1090), QuotaWaitCause::NearLimit)
            .unwrap();
        assert_eq!(
            extended.cause,
            QuotaWaitCause::Exhausted,
            "the refusal stays the reason"
        );
        assert!(extended.until > published.until);
        let during = gate.paused_total(Instant::now());
        assert!(during < Duration::from_millis(1090), "{during:?}");
        let lasted = gate.pass().await.unwrap();
        assert!(Instant::now() - start >= Duration::from_millis(1090));
        assert!(lasted >= Duration::from_millis(1090), "{lasted:?}");
        assert_eq!(*waits.borrow_and_update(), None);
        assert!(gate.pass().await.is_none(), "open: no wait");
        // Once over, the pause counts exactly what it lasted, however late it is read.
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(gate.paused_total(Instant::now()), lasted);
    }
}

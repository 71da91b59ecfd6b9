//! A smooth per-tenant rate limiter (GCRA) that a 429 can pause as a whole.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Slots are spaced this much wider than `60 s / per_minute` (0.5 %). A server that counts
/// requests in a sliding or fixed one-minute window sees request `k + N` one period after
/// request `k`; sent exactly on schedule, a millisecond of jitter in favour of the later one
/// puts `N + 1` requests in that window and draws a 429 whose `Retry-After` (whole seconds)
/// pauses the tenant for far longer than the headroom costs: 300 ms per minute.
const HEADROOM: f64 = 0.005;

/// Spreads requests evenly over the minute instead of bursting and stalling. Every attempt and
/// every redirect hop calls [`RateLimiter::acquire`]. A `429` with `Retry-After` calls
/// [`RateLimiter::pause_for`], which holds back *every* request of the tenant, not only the one
/// that was refused.
///
/// GCRA by virtual scheduling: each caller *reserves* the next slot on a fixed grid and sleeps
/// until it. A sleeper that wakes a little late (timer granularity, a busy runtime) does not push
/// the grid back, so a backlogged limiter runs at exactly its rate. (`governor`'s
/// `until_ready`, used before, re-checked after waking and restarted the spacing from the late
/// wake-up: at 100 requests per second with burst 1 it ran about 10 % slow.)
pub struct RateLimiter {
    per_minute: NonZeroU32,
    burst: NonZeroU32,
    /// Spacing of the slots.
    period: Duration,
    /// How far ahead of the grid a caller may go after a quiet period: `(burst - 1) · period`.
    tolerance: Duration,
    /// Theoretical arrival time of the next slot on the grid.
    next: Mutex<Option<Instant>>,
    /// No slot is handed out before this instant (set by a 429).
    paused_until: Mutex<Option<Instant>>,
    /// A wider spacing in force until an instant, without burst: the quota pacer's, near the
    /// limit of a points quota.
    pace: Mutex<Option<(Duration, Instant)>>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("per_minute", &self.per_minute)
            .field("burst", &self.burst)
            .field("paused_until", &self.current_pause())
            .finish_non_exhaustive()
    }
}

impl RateLimiter {
    pub fn new(per_minute: NonZeroU32, burst: NonZeroU32) -> Self {
        let period =
            Duration::from_secs(60).mul_f64((1.0 + HEADROOM) / f64::from(per_minute.get()));
        Self {
            per_minute,
            burst,
            period,
            tolerance: period * (burst.get() - 1),
            next: Mutex::new(None),
            paused_until: Mutex::new(None),
            pace: Mutex::new(None),
        }
    }

    /// Waits for a slot; returns how long it was held back (for metrics): zero when its slot was
    /// already due, so the timer's rounding is never reported as throttling.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        let mut held = false;
        loop {
            held |= self.wait_for_pause().await;
            let now = Instant::now();
            let slot = self.reserve(now);
            if slot > now {
                held = true;
                tokio::time::sleep_until(slot).await;
            }
            // A 429 that arrived while we queued holds us back too: the server just told the
            // tenant to slow down, and this request has not been sent yet. Everyone queued would
            // wake at the pause's end together, a burst straight into the next 429; instead each
            // takes a new slot on the grid, which the pause moved past its end.
            if self.current_pause().is_none() {
                return if held {
                    started.elapsed()
                } else {
                    Duration::ZERO
                };
            }
        }
    }

    /// Takes the next slot at or after `now`: `max(now, next - tolerance)`, and moves the grid
    /// one period on.
    fn reserve(&self, now: Instant) -> Instant {
        let (period, tolerance) = match self.current_pace(now) {
            Some(interval) => (interval.max(self.period), Duration::ZERO),
            None => (self.period, self.tolerance),
        };
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        let grid = next.unwrap_or(now);
        let slot = grid
            .checked_sub(tolerance)
            .map_or(now, |early| early.max(now));
        *next = Some(grid.max(slot) + period);
        slot
    }

    /// Spaces slots at least `interval` apart, without burst, until `until` (then the configured
    /// rate again). Replaces any pace in force; a pace narrower than the configured rate has no
    /// effect.
    pub fn pace(&self, interval: Duration, until: Instant) {
        *self.pace.lock().unwrap_or_else(|p| p.into_inner()) = Some((interval, until));
    }

    /// Back to the configured rate.
    pub fn clear_pace(&self) {
        *self.pace.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The pacing interval in force at `now`, if any.
    pub fn current_pace(&self, now: Instant) -> Option<Duration> {
        self.pace
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .filter(|(_, until)| *until > now)
            .map(|(interval, _)| interval)
    }

    /// Nobody gets a slot before `now + delay` (extends, never shortens, an existing pause).
    pub fn pause_for(&self, delay: Duration) {
        let Some(until) = Instant::now().checked_add(delay) else {
            return;
        };
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
            // Slots resume on the grid after the pause, one period apart.
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            if next.is_none_or(|grid| grid < until) {
                *next = Some(until);
            }
        }
    }

    /// The end of the current pause, if one is in force.
    pub fn paused_until(&self) -> Option<Instant> {
        self.current_pause()
    }

    pub fn per_minute(&self) -> NonZeroU32 {
        self.per_minute
    }

    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }

    fn current_pause(&self) -> Option<Instant> {
        let paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        paused.filter(|until| *until > Instant::now())
    }

    /// Whether there was a pause to wait for.
    async fn wait_for_pause(&self) -> bool {
        let mut paused = false;
        // Loop: the pause may be extended while we sleep.
        while let Some(until) = self.current_pause() {
            paused = true;
            tokio::time::sleep_until(until).await;
        }
        paused
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    /// Tokio's timers fire on whole milliseconds: on the paused clock a wait for a slot ends at
    /// the slot rounded up to the next millisecond, never earlier.
    const TIMER_RESOLUTION: Duration = Duration::from_millis(1);

    #[tokio::test(start_paused = true)]
    async fn spaces_requests_evenly_over_the_minute() {
        // 600/min → one slot every 100 ms (plus the headroom); burst 1 → the first one is free.
        let limiter = RateLimiter::new(nz(600), nz(1));
        let started = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        let elapsed = started.elapsed();
        assert!(
            limiter.period >= Duration::from_millis(100),
            "{:?}",
            limiter.period
        );
        assert!(elapsed >= limiter.period * 4, "{elapsed:?}");
        assert!(
            elapsed < limiter.period * 4 + TIMER_RESOLUTION,
            "{elapsed:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_get_evenly_spaced_slots() {
        let limiter = std::sync::Arc::new(RateLimiter::new(nz(600), nz(1)));
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    limiter.acquire().await;
                    Instant::now()
                })
            })
            .collect();
        let mut granted = Vec::new();
        for task in tasks {
            granted.push(task.await.unwrap());
        }
        granted.sort();
        for pair in granted.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap + TIMER_RESOLUTION > limiter.period,
                "slots too close: {gap:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn burst_allows_back_to_back_slots() {
        let limiter = RateLimiter::new(nz(60), nz(3));
        let started = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn reports_the_time_it_waited() {
        let limiter = RateLimiter::new(nz(600), nz(1));
        assert_eq!(limiter.acquire().await, Duration::ZERO);
        let waited = limiter.acquire().await;
        assert!(waited >= limiter.period, "{waited:?}");
        assert!(waited < limiter.period + TIMER_RESOLUTION, "{waited:?}");
    }

    /// Real clock: a due slot returns without a timer, so nothing is reported as throttled even
    /// when the runtime's timer would round a zero wait up to a millisecond.
    #[tokio::test]
    async fn a_slot_already_due_is_not_reported_as_a_wait() {
        let limiter = RateLimiter::new(nz(60), nz(5));
        for _ in 0..5 {
            assert_eq!(limiter.acquire().await, Duration::ZERO);
        }
        assert!(limiter.acquire().await > Duration::ZERO);
    }

    #[tokio::test]
    async fn late_wake_ups_do_not_slow_a_backlogged_limiter() {
        // 6,000/min: a slot every 10 ms (plus the headroom). Every caller asks 3 ms after its
        // predecessor's slot, as a late timer would; the grid must not move.
        let limiter = RateLimiter::new(nz(6000), nz(1));
        let period = limiter.period;
        let start = Instant::now();
        let mut asked = start;
        let mut slots = Vec::new();
        for _ in 0..1000 {
            let slot = limiter.reserve(asked);
            slots.push(slot);
            asked = slot + Duration::from_millis(3);
        }
        for (k, slot) in slots.iter().enumerate() {
            assert_eq!(*slot, start + period * k as u32, "slot {k}");
        }
        // 1,000 slots in 10 s and 50 ms: the configured rate less the headroom, no drift.
        let span = slots[999] - slots[0];
        assert!(span < Duration::from_millis(10_060), "{span:?}");
    }

    #[test]
    fn no_minute_holds_more_than_the_rate_even_with_jitter() {
        // A server counting a sliding one-minute window: request k + N must land at least a
        // minute after request k, even when k was sent 40 ms late and k + N on time.
        let limiter = RateLimiter::new(nz(1200), nz(1));
        let start = Instant::now();
        let slots: Vec<Instant> = (0..2400).map(|_| limiter.reserve(start)).collect();
        for pair in slots.windows(1201) {
            let gap = pair[1200] - pair[0];
            assert!(
                gap >= Duration::from_secs(60) + Duration::from_millis(40),
                "{gap:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn pause_holds_back_every_acquire() {
        let limiter = std::sync::Arc::new(RateLimiter::new(nz(60_000), nz(10)));
        limiter.pause_for(Duration::from_millis(150));
        let started = Instant::now();
        let a = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        let b = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        let pause = Duration::from_millis(150);
        assert!(started.elapsed() >= pause, "{:?}", started.elapsed());
        assert!(a >= pause && b >= pause, "{a:?} {b:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn callers_queued_through_a_pause_leave_it_one_period_apart() {
        // 600/min: a slot every ~100 ms. Five callers queue; a 429 pauses the tenant for
        // 300 ms before most of their slots come up. They must not all go at the pause's end.
        let limiter = std::sync::Arc::new(RateLimiter::new(nz(600), nz(1)));
        limiter.acquire().await;
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    limiter.acquire().await;
                    Instant::now()
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        limiter.pause_for(Duration::from_millis(300));
        let pause_end = limiter.paused_until().unwrap();
        let mut granted = Vec::new();
        for task in tasks {
            granted.push(task.await.unwrap());
        }
        granted.sort();
        assert!(granted[0] >= pause_end, "a caller went during the pause");
        for pair in granted.windows(2) {
            let gap = pair[1] - pair[0];
            assert!(
                gap + TIMER_RESOLUTION > limiter.period,
                "a burst after the pause: {gap:?}"
            );
        }
    }

    #[test]
    fn a_pace_spaces_slots_wider_and_without_burst_until_it_ends() {
        // 60,000/min with burst 10: normally ten back to back, then 1 ms apart.
        let limiter = RateLimiter::new(nz(60_000), nz(10));
        let start = Instant::now();
        limiter.pace(Duration::from_secs(2), start + Duration::from_secs(5));
        let slots: Vec<Instant> = (0..3).map(|_| limiter.reserve(start)).collect();
        assert_eq!(
            slots,
            [
                start,
                start + Duration::from_secs(2),
                start + Duration::from_secs(4)
            ]
        );
        // After the pace ends, the configured spacing returns.
        let later = start + Duration::from_secs(6);
        let a = limiter.reserve(later);
        let b = limiter.reserve(later);
        assert!(b - a <= limiter.period, "{:?}", b - a);
        assert_eq!(limiter.current_pace(later), None);
        limiter.pace(Duration::from_secs(1), later + Duration::from_secs(1));
        limiter.clear_pace();
        assert_eq!(limiter.current_pace(later), None);
    }

    #[tokio::test(start_paused = true)]
    async fn pause_extends_but_never_shortens() {
        let limiter = RateLimiter::new(nz(60_000), nz(10));
        limiter.pause_for(Duration::from_millis(200));
        let long = limiter.paused_until().unwrap();
        limiter.pause_for(Duration::from_millis(10));
        assert_eq!(limiter.paused_until().unwrap(), long);
        limiter.pause_for(Duration::from_millis(400));
        assert!(limiter.paused_until().unwrap() > long);
    }
}

//! A smooth per-tenant rate limiter (GCRA) that a 429 can pause as a whole.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use governor::clock::DefaultClock;
use governor::state::{InMemoryState, NotKeyed};
use governor::Quota;
use tokio::time::Instant;

type Gcra = governor::RateLimiter<NotKeyed, InMemoryState, DefaultClock>;

/// Spreads requests evenly over the minute instead of bursting and stalling. Every attempt and
/// every redirect hop calls [`RateLimiter::acquire`]. A `429` with `Retry-After` calls
/// [`RateLimiter::pause_for`], which holds back *every* request of the tenant, not only the one
/// that was refused.
pub struct RateLimiter {
    per_minute: NonZeroU32,
    burst: NonZeroU32,
    gcra: Gcra,
    /// No slot is handed out before this instant (set by a 429).
    paused_until: Mutex<Option<Instant>>,
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
        // `per_minute(n)` replenishes one cell every 60 s / n: the smooth spacing we want. The
        // burst is how many cells may be spent back to back after a quiet period.
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Self {
            per_minute,
            burst,
            gcra: governor::RateLimiter::direct(quota),
            paused_until: Mutex::new(None),
        }
    }

    /// Waits for a slot; returns how long it waited (for metrics).
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        self.wait_for_pause().await;
        self.gcra.until_ready().await;
        // A 429 that arrived while we queued holds us back too: the server just told the tenant
        // to slow down, and this request has not been sent yet.
        self.wait_for_pause().await;
        started.elapsed()
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

    async fn wait_for_pause(&self) {
        // Loop: the pause may be extended while we sleep.
        while let Some(until) = self.current_pause() {
            tokio::time::sleep_until(until).await;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn nz(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    #[tokio::test]
    async fn spaces_requests_evenly_over_the_minute() {
        // 600/min → one slot every 100 ms; burst 1 → the first one is free.
        let limiter = RateLimiter::new(nz(600), nz(1));
        let started = std::time::Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(380), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(900), "{elapsed:?}");
    }

    #[tokio::test]
    async fn concurrent_callers_get_evenly_spaced_slots() {
        let limiter = std::sync::Arc::new(RateLimiter::new(nz(600), nz(1)));
        let tasks: Vec<_> = (0..5)
            .map(|_| {
                let limiter = limiter.clone();
                tokio::spawn(async move {
                    limiter.acquire().await;
                    std::time::Instant::now()
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
            assert!(gap >= Duration::from_millis(70), "slots too close: {gap:?}");
        }
    }

    #[tokio::test]
    async fn burst_allows_back_to_back_slots() {
        let limiter = RateLimiter::new(nz(60), nz(3));
        let started = std::time::Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert!(started.elapsed() < Duration::from_millis(200));
    }

    #[tokio::test]
    async fn reports_the_time_it_waited() {
        let limiter = RateLimiter::new(nz(600), nz(1));
        assert!(limiter.acquire().await < Duration::from_millis(20));
        let waited = limiter.acquire().await;
        assert!(waited >= Duration::from_millis(60), "{waited:?}");
    }

    #[tokio::test]
    async fn pause_holds_back_every_acquire() {
        let limiter = std::sync::Arc::new(RateLimiter::new(nz(60_000), nz(10)));
        limiter.pause_for(Duration::from_millis(150));
        let started = std::time::Instant::now();
        let a = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        let b = tokio::spawn({
            let limiter = limiter.clone();
            async move { limiter.acquire().await }
        });
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        assert!(started.elapsed() >= Duration::from_millis(140));
        assert!(a >= Duration::from_millis(130) && b >= Duration::from_millis(130));
    }

    #[tokio::test]
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

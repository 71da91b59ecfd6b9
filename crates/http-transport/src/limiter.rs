//! A smooth per-tenant rate limiter (GCRA) that a 429 can pause as a whole.

use std::num::NonZeroU32;
use std::time::Duration;

/// Spreads requests evenly over the minute instead of bursting and stalling. Every attempt and
/// every redirect hop calls [`RateLimiter::acquire`]. A `429` with `Retry-After` calls
/// [`RateLimiter::pause_for`], which holds back *every* request of the tenant, not only the one
/// that was refused.
#[derive(Debug)]
pub struct RateLimiter {
    per_minute: NonZeroU32,
    burst: NonZeroU32,
}

impl RateLimiter {
    pub fn new(per_minute: NonZeroU32, burst: NonZeroU32) -> Self {
        Self { per_minute, burst }
    }

    /// Waits for a slot; returns how long it waited (for metrics).
    pub async fn acquire(&self) -> Duration {
        unimplemented!("http-transport helper")
    }

    /// Nobody gets a slot before `now + delay` (extends, never shortens, an existing pause).
    pub fn pause_for(&self, delay: Duration) {
        let _ = delay;
        unimplemented!("http-transport helper")
    }

    pub fn per_minute(&self) -> NonZeroU32 {
        self.per_minute
    }

    pub fn burst(&self) -> NonZeroU32 {
        self.burst
    }
}

//! The retry budget's clock: how long a request has been failing, counted from the start of the
//! service's outage when that is earlier, without the time the tenant spent in quota pauses.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Since when the service has answered nothing but failures (a retryable status or no answer),
/// with the quota pause total at that moment; cleared by any other answer. Shared by a
/// transport and the transports derived from it: the service's health is the tenant's, not one
/// retry policy's.
#[derive(Debug, Default)]
pub(crate) struct Outage {
    since: Mutex<Option<(Instant, Duration)>>,
}

impl Outage {
    /// A failure: starts the outage unless one is already running.
    pub(crate) fn record_failure(&self, now: Instant, paused_total: Duration) {
        let mut since = self.since.lock().unwrap_or_else(|p| p.into_inner());
        if since.is_none() {
            *since = Some((now, paused_total));
        }
    }

    /// Any other answer: the service is back.
    pub(crate) fn record_answer(&self) {
        *self.since.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Retry-budget time a request that started at `started` (with `paused_at_start` of quota
    /// pauses behind the gate then) has used at `now` (with `paused_now`): since it started, or
    /// since the outage started if that is earlier, without the time spent in quota pauses.
    pub(crate) fn budget_used(
        &self,
        now: Instant,
        paused_now: Duration,
        started: Instant,
        paused_at_start: Duration,
    ) -> Duration {
        let since = |from: Instant, paused_then: Duration| {
            now.saturating_duration_since(from)
                .saturating_sub(paused_now.saturating_sub(paused_then))
        };
        let own = since(started, paused_at_start);
        let outage = self
            .since
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|(from, paused_then)| since(from, paused_then))
            .unwrap_or_default();
        own.max(outage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[tokio::test(start_paused = true)]
    async fn a_request_during_an_outage_counts_from_the_outage_start() {
        let outage = Outage::default();
        outage.record_failure(Instant::now(), Duration::ZERO);
        tokio::time::advance(40 * SECOND).await;
        let started = Instant::now();
        tokio::time::advance(5 * SECOND).await;
        let used = outage.budget_used(Instant::now(), Duration::ZERO, started, Duration::ZERO);
        assert_eq!(used, 45 * SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn an_answer_ends_the_outage() {
        let outage = Outage::default();
        outage.record_failure(Instant::now(), Duration::ZERO);
        tokio::time::advance(40 * SECOND).await;
        outage.record_answer();
        let started = Instant::now();
        tokio::time::advance(5 * SECOND).await;
        let used = outage.budget_used(Instant::now(), Duration::ZERO, started, Duration::ZERO);
        assert_eq!(used, 5 * SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_failure_does_not_restart_the_outage() {
        let outage = Outage::default();
        let first = Instant::now();
        outage.record_failure(first, Duration::ZERO);
        tokio::time::advance(10 * SECOND).await;
        outage.record_failure(Instant::now(), Duration::ZERO);
        let used = outage.budget_used(
            Instant::now(),
            Duration::ZERO,
            Instant::now(),
            Duration::ZERO,
        );
        assert_eq!(used, 10 * SECOND);
    }

    #[tokio::test(start_paused = true)]
    async fn quota_pauses_are_not_charged_to_the_budget() {
        let outage = Outage::default();
        let started = Instant::now();
        tokio::time::advance(100 * SECOND).await;
        let used = outage.budget_used(Instant::now(), 60 * SECOND, started, Duration::ZERO);
        assert_eq!(used, 40 * SECOND);
    }
}

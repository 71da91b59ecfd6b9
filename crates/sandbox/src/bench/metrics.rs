//! The arithmetic of a benchmark result: the rate-limit floor, `wall / floor`, and the Confluence
//! request bound the suite targets. Pure functions, so the numbers in `docs/benchmarks.md` can be
//! checked by unit tests rather than trusted.

use serde::Serialize;

/// The request budgets the sandbox enforces (and the connector is configured with).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rates {
    pub confluence_per_minute: u32,
    pub unique_per_minute: u32,
}

/// The fastest a cycle could possibly be: each side's rate-limited requests spread exactly at its
/// rate, the slower side deciding. Bursts the server would allow at the start are ignored (the
/// connector's limiter is smooth, and they are worth seconds against a floor of minutes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Floor {
    pub confluence_secs: f64,
    pub unique_secs: f64,
    pub floor_secs: f64,
    /// `"confluence"` or `"unique"`: the side whose quota sets the floor.
    pub bound_by: &'static str,
}

/// `max(confluence_requests / confluence_rate, unique_requests / unique_rate)`, in seconds.
pub fn floor(confluence_requests: u64, unique_requests: u64, rates: Rates) -> Floor {
    let secs = |requests: u64, per_minute: u32| {
        if per_minute == 0 {
            return if requests == 0 { 0.0 } else { f64::INFINITY };
        }
        requests as f64 * 60.0 / f64::from(per_minute)
    };
    let confluence_secs = secs(confluence_requests, rates.confluence_per_minute);
    let unique_secs = secs(unique_requests, rates.unique_per_minute);
    let (floor_secs, bound_by) = if confluence_secs >= unique_secs {
        (confluence_secs, "confluence")
    } else {
        (unique_secs, "unique")
    };
    Floor {
        confluence_secs,
        unique_secs,
        floor_secs,
        bound_by,
    }
}

/// `wall / floor`; `None` when the floor is zero (no rate-limited request at all), where the ratio
/// says nothing.
pub fn wall_over_floor(wall_secs: f64, floor: &Floor) -> Option<f64> {
    (floor.floor_secs > 0.0 && floor.floor_secs.is_finite()).then(|| wall_secs / floor.floor_secs)
}

/// The Confluence requests of a cycle, by kind, as counted by the sandbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ConfluenceWork {
    /// CQL search pages (discovery, including subtree descendants).
    pub discovery_requests: u64,
    /// Batched body reads (`/api/v2/pages?id=…`, `/api/v2/blogposts?id=…`).
    pub body_requests: u64,
    /// Paginated attachment listings for pages whose inline list was full.
    pub attachment_completion_requests: u64,
    /// Attachment downloads (the gateway request that redirects to the media host).
    pub download_requests: u64,
    /// Token requests.
    pub token_requests: u64,
    /// Everything else the connector asked the gateway (single-page reads, spaces, ...).
    pub other_requests: u64,
    /// New or updated pages whose bodies had to be fetched.
    pub changed_pages: u64,
    /// Pages per body request the connector was configured with.
    pub body_batch_size: u64,
}

/// The request target (docs/benchmarks.md, "Targets"): `discovery pages + ⌈changed pages / batch size⌉ + attachment completions +
/// downloads`, and how the measured count compares with it and with one body request per page.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConfluenceBound {
    /// Gateway requests except token requests.
    pub measured: u64,
    pub bound: u64,
    pub within_bound: bool,
    /// The same cycle with one body request per changed page (the reference connector).
    pub one_request_per_page: u64,
    /// `measured / one_request_per_page`.
    pub ratio_to_one_request_per_page: Option<f64>,
}

pub fn confluence_bound(work: &ConfluenceWork) -> ConfluenceBound {
    let measured = work.discovery_requests
        + work.body_requests
        + work.attachment_completion_requests
        + work.download_requests
        + work.other_requests;
    let fixed =
        work.discovery_requests + work.attachment_completion_requests + work.download_requests;
    let bound = fixed + work.changed_pages.div_ceil(work.body_batch_size.max(1));
    let one_request_per_page = fixed + work.changed_pages;
    ConfluenceBound {
        measured,
        bound,
        within_bound: measured <= bound,
        one_request_per_page,
        ratio_to_one_request_per_page: (one_request_per_page > 0)
            .then(|| measured as f64 / one_request_per_page as f64),
    }
}

/// Rounds for the JSON output (three decimals are plenty for seconds and ratios).
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const ISSUE_RATES: Rates = Rates {
        confluence_per_minute: 600,
        unique_per_minute: 1200,
    };

    #[test]
    fn initial_10k_is_bound_by_unique_at_the_issue_rates() {
        // 15,000 items × (register + finalize) against 1,200 rpm; ~5,100 gateway requests at 600.
        let f = floor(5_100, 30_000, ISSUE_RATES);
        assert_eq!(f.unique_secs, 1_500.0);
        assert_eq!(f.confluence_secs, 510.0);
        assert_eq!(f.floor_secs, 1_500.0);
        assert_eq!(f.bound_by, "unique");
    }

    #[test]
    fn confluence_side_sets_the_floor_when_it_is_slower() {
        let f = floor(
            50,
            10,
            Rates {
                confluence_per_minute: 100,
                unique_per_minute: 1200,
            },
        );
        assert_eq!(f.floor_secs, 30.0);
        assert_eq!(f.bound_by, "confluence");
    }

    #[test]
    fn wall_over_floor_is_a_plain_ratio_and_undefined_without_limited_requests() {
        let f = floor(0, 1_200, ISSUE_RATES);
        assert_eq!(f.floor_secs, 60.0);
        assert_eq!(wall_over_floor(66.0, &f), Some(1.1));
        assert_eq!(wall_over_floor(5.0, &floor(0, 0, ISSUE_RATES)), None);
    }

    #[test]
    fn a_zero_rate_with_requests_is_an_infinite_floor() {
        let f = floor(
            1,
            0,
            Rates {
                confluence_per_minute: 0,
                unique_per_minute: 1,
            },
        );
        assert!(f.floor_secs.is_infinite());
        assert_eq!(wall_over_floor(1.0, &f), None);
    }

    #[test]
    fn batched_bodies_stay_within_the_bound_and_per_page_bodies_do_not() {
        let batched = ConfluenceWork {
            discovery_requests: 40,
            body_requests: 40,
            attachment_completion_requests: 3,
            download_requests: 5_000,
            token_requests: 1,
            other_requests: 0,
            changed_pages: 10_000,
            body_batch_size: 250,
        };
        let b = confluence_bound(&batched);
        assert_eq!(b.measured, 5_083);
        assert_eq!(b.bound, 40 + 40 + 3 + 5_000);
        assert!(b.within_bound);
        assert_eq!(b.one_request_per_page, 15_043);
        let ratio = b.ratio_to_one_request_per_page.unwrap();
        assert!((ratio - 5_083.0 / 15_043.0).abs() < 1e-12);

        let per_page = ConfluenceWork {
            body_requests: 10_000,
            ..batched
        };
        let b = confluence_bound(&per_page);
        assert!(!b.within_bound);
        assert_eq!(b.ratio_to_one_request_per_page, Some(1.0));
    }

    #[test]
    fn stray_requests_count_against_the_bound() {
        let work = ConfluenceWork {
            discovery_requests: 4,
            body_requests: 1,
            other_requests: 1,
            changed_pages: 10,
            body_batch_size: 250,
            ..ConfluenceWork::default()
        };
        let b = confluence_bound(&work);
        assert_eq!((b.measured, b.bound), (6, 5));
        assert!(!b.within_bound);
    }

    #[test]
    fn rounds_to_three_decimals() {
        assert_eq!(round3(1.23456), 1.235);
        assert_eq!(round3(1500.0), 1500.0);
    }
}

//! An overloaded Cloud search: `content/search` with expansions and a large `limit` answers 500.
//!
//! Connectors that read Confluence Cloud at scale halve their search page size on server errors
//! because "Confluence often times out on large result sets" (Onyx,
//! `backend/onyx/connectors/confluence/onyx_confluence.py`, `_paginate_url`). The threshold is
//! not documented anywhere; the mode takes it as a parameter and answers the worse case: every
//! such search fails, every time, so retrying the same request never helps.
//!
//! Off unless set, in process with `ConfluenceSim::set_cloud_search_overload`, through
//! `PUT /_sandbox/confluence/search-overload` (`DELETE` turns it off), or with
//! `serve --cloud-search-overload N[:PASS_FIRST]`.

use std::sync::Mutex;

use axum::response::Response;
use http::StatusCode;
use serde::{Deserialize, Serialize};

use super::web::v1_error;

/// When an expanded Cloud search fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchOverload {
    /// A Cloud `content/search` with any `expand` and an effective `limit` above this answers
    /// 500.
    pub max_limit_with_expand: usize,
    /// The first this-many searches that would fail still pass: the overload starts mid-listing
    /// (the third page of a chain, say), as load does.
    pub pass_first: u64,
}

impl Default for SearchOverload {
    fn default() -> Self {
        Self {
            max_limit_with_expand: 50,
            pass_first: 0,
        }
    }
}

impl SearchOverload {
    /// Parses `N` or `N:PASS_FIRST` (the `serve` flag).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (limit, pass) = text.split_once(':').unwrap_or((text, "0"));
        let invalid = |_| format!("expected N or N:PASS_FIRST (numbers), got {text:?}");
        Ok(Self {
            max_limit_with_expand: limit.trim().parse().map_err(invalid)?,
            pass_first: pass.trim().parse().map_err(invalid)?,
        })
    }
}

#[derive(Debug, Default)]
struct OverloadState {
    mode: Option<SearchOverload>,
    /// Searches above the threshold seen since the mode was set.
    seen: u64,
    /// Searches answered with 500.
    fired: u64,
}

/// The overload state of one simulator.
#[derive(Debug, Default)]
pub(crate) struct OverloadSlot(Mutex<OverloadState>);

impl OverloadSlot {
    fn lock(&self) -> std::sync::MutexGuard<'_, OverloadState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sets (or with `None` turns off) the mode; its counters restart.
    pub(crate) fn set(&self, mode: Option<SearchOverload>) {
        *self.lock() = OverloadState {
            mode,
            ..OverloadState::default()
        };
    }

    /// The mode in force and how many searches it answered with 500.
    pub(crate) fn state(&self) -> (Option<SearchOverload>, u64) {
        let state = self.lock();
        (state.mode, state.fired)
    }

    /// The 500 to answer instead of a Cloud search with this effective `limit`, if any.
    pub(crate) fn check(&self, limit: usize, expanded: bool) -> Option<Response> {
        let mut state = self.lock();
        let mode = state.mode?;
        if !expanded || limit <= mode.max_limit_with_expand {
            return None;
        }
        state.seen += 1;
        if state.seen <= mode.pass_first {
            return None;
        }
        state.fired += 1;
        Some(v1_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "java.util.concurrent.TimeoutException: search with expansions took too long",
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_expanded_searches_above_the_limit_fail_after_the_first_passes() {
        let slot = OverloadSlot::default();
        assert!(slot.check(100, true).is_none(), "off by default");
        slot.lock().mode = Some(SearchOverload {
            max_limit_with_expand: 50,
            pass_first: 1,
        });
        assert!(slot.check(100, false).is_none(), "no expansion");
        assert!(slot.check(50, true).is_none(), "at the threshold");
        assert!(slot.check(100, true).is_none(), "the first passes");
        let failed = slot.check(100, true).unwrap();
        assert_eq!(failed.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(slot.lock().fired, 1);
    }

    #[test]
    fn the_flag_reads_n_or_n_and_pass_first() {
        assert_eq!(
            SearchOverload::parse("50").unwrap(),
            SearchOverload {
                max_limit_with_expand: 50,
                pass_first: 0
            }
        );
        assert_eq!(SearchOverload::parse("25:2").unwrap().pass_first, 2);
        assert!(SearchOverload::parse("x").is_err());
    }
}

//! Data Center's offset pagination as real DC versions answer it, quirks included.
//!
//! Every DC listing (`content/search`, `content/{id}/child/attachment`, `content`) pages by
//! `start` and `limit`, and the server caps `limit` per endpoint and expansion. Two behaviours of
//! real versions are modelled as switchable modes ([`DcQuirks`], set in process with
//! `ConfluenceSim::set_dc_quirks`, through `PUT /_sandbox/confluence/dc-quirks` or from
//! `confluence-sandbox serve --dc-…` flags):
//!
//! - `_links.next` advances `start` by the *requested* `limit` after the page was capped lower
//!   (asked 100 with bodies, got 50, `next` says `start=100`): an unguarded client skips 50 items
//!   without an error (onyx-dot-app/onyx#4129, #11291).
//! - CONFSERVER-95396: a listing longer than about 200 items does not end. The page that reaches
//!   the end still carries `next`, and so does every page after it. Which content those pages
//!   carry differs between reports: the ticket's example answers `size: 50` where 28 items were
//!   left, so the page is padded with items already served ([`PastEnd::RepeatTail`], the
//!   default); other reports describe `next` with zero results ([`PastEnd::EmptyPages`]).
//!
//! A third mode belongs to the deployment, not the version: administrators often block
//! `GET /rest/api/content` (CONFSERVER-57639: the unfiltered listing hurts large instances),
//! which then answers 403 while `content/search` and `content/{id}` keep working.

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// What a DC listing sends once it has served its last item, for listings longer than
/// [`DcQuirks::past_end_after`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PastEnd {
    /// The last page has no `next` (fixed versions; listings up to the threshold everywhere).
    Terminates,
    /// The last page and every page after it carry `next`; pages past the end are empty.
    EmptyPages,
    /// The last page and every page after it carry `next` and hold the listing's last `limit`
    /// items, so `size` is always `limit` (CONFSERVER-95396's example: `size: 50`, 28 left).
    #[default]
    RepeatTail,
}

/// The Data Center pagination modes; [`Default`] is the worse case of each (docs/sandbox.md says
/// why).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DcQuirks {
    /// `_links.next` says `start + requested limit` instead of `start + served limit`.
    pub next_start_by_requested_limit: bool,
    /// CONFSERVER-95396, past the end of a long listing.
    pub past_end: PastEnd,
    /// Listings with more items than this misbehave past their end (the ticket: 200).
    pub past_end_after: usize,
    /// `GET /rest/api/content` (the listing, not `content/search` or `content/{id}`) answers 403.
    pub content_listing_blocked: bool,
}

impl Default for DcQuirks {
    fn default() -> Self {
        Self {
            next_start_by_requested_limit: true,
            past_end: PastEnd::RepeatTail,
            past_end_after: 200,
            content_listing_blocked: true,
        }
    }
}

impl DcQuirks {
    /// A Data Center that pages exactly as documented and serves the content listing.
    pub fn none() -> Self {
        Self {
            next_start_by_requested_limit: false,
            past_end: PastEnd::Terminates,
            past_end_after: 200,
            content_listing_blocked: false,
        }
    }
}

/// One page of an offset listing: which items it holds and the `start` its `next` link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetPage {
    pub items: Range<usize>,
    pub next_start: Option<usize>,
}

/// The page a DC listing answers for `start` and the `requested` limit, served `limit` items at
/// most (the cap already applied). `total` is the listing's length, `None` when it is known only
/// to exceed `start + limit` (the search stops scanning there).
pub(crate) fn offset_page(
    quirks: &DcQuirks,
    start: usize,
    requested: usize,
    limit: usize,
    total: Option<usize>,
) -> OffsetPage {
    let step = if quirks.next_start_by_requested_limit {
        requested.max(limit)
    } else {
        limit
    };
    let Some(total) = total.filter(|t| *t <= start + limit) else {
        return OffsetPage {
            items: start..start + limit,
            next_start: Some(start + step),
        };
    };
    let honest = start.min(total)..total;
    if total <= quirks.past_end_after {
        return OffsetPage {
            items: honest,
            next_start: None,
        };
    }
    match quirks.past_end {
        PastEnd::Terminates => OffsetPage {
            items: honest,
            next_start: None,
        },
        PastEnd::EmptyPages => OffsetPage {
            items: honest,
            next_start: Some(start + step),
        },
        PastEnd::RepeatTail => OffsetPage {
            items: total.saturating_sub(limit)..total,
            next_start: Some(start + step),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn page(
        quirks: &DcQuirks,
        start: usize,
        requested: usize,
        limit: usize,
        total: usize,
    ) -> OffsetPage {
        let known = (total <= start + limit).then_some(total);
        offset_page(quirks, start, requested, limit, known)
    }

    #[test]
    fn an_honest_server_advances_by_what_it_served_and_ends_at_the_end() {
        let q = DcQuirks::none();
        assert_eq!(
            page(&q, 0, 100, 50, 120),
            OffsetPage {
                items: 0..50,
                next_start: Some(50)
            }
        );
        assert_eq!(
            page(&q, 100, 100, 50, 120),
            OffsetPage {
                items: 100..120,
                next_start: None
            }
        );
        assert_eq!(
            page(&q, 500, 50, 50, 300),
            OffsetPage {
                items: 300..300,
                next_start: None
            }
        );
    }

    #[test]
    fn a_capped_page_can_name_the_requested_limit_in_next() {
        let q = DcQuirks {
            past_end: PastEnd::Terminates,
            ..DcQuirks::default()
        };
        // Asked 100 with bodies, got 50: `next` skips items 50..100.
        assert_eq!(
            page(&q, 0, 100, 50, 180),
            OffsetPage {
                items: 0..50,
                next_start: Some(100)
            }
        );
        // Asking no more than the cap leaves nothing to skip.
        assert_eq!(page(&q, 0, 50, 50, 180).next_start, Some(50));
    }

    #[test]
    fn long_listings_do_not_end_past_two_hundred() {
        let empty = DcQuirks {
            past_end: PastEnd::EmptyPages,
            next_start_by_requested_limit: false,
            ..DcQuirks::default()
        };
        // CONFSERVER-95396's example: 228 attachments, limit 50 from 200.
        assert_eq!(
            page(&empty, 200, 50, 50, 228),
            OffsetPage {
                items: 200..228,
                next_start: Some(250)
            }
        );
        assert_eq!(
            page(&empty, 250, 50, 50, 228),
            OffsetPage {
                items: 228..228,
                next_start: Some(300)
            }
        );
        let tail = DcQuirks {
            next_start_by_requested_limit: false,
            ..DcQuirks::default()
        };
        assert_eq!(
            page(&tail, 200, 50, 50, 228),
            OffsetPage {
                items: 178..228,
                next_start: Some(250)
            }
        );
        assert_eq!(
            page(&tail, 250, 50, 50, 228),
            OffsetPage {
                items: 178..228,
                next_start: Some(300)
            }
        );
        // Up to the threshold, listings end properly whatever the mode.
        assert_eq!(page(&tail, 150, 50, 50, 200).next_start, None);
    }

    #[test]
    fn the_modes_read_as_the_control_api_takes_them() {
        let q: DcQuirks = serde_json::from_str(r#"{"past_end":"empty_pages"}"#).unwrap();
        assert_eq!(q.past_end, PastEnd::EmptyPages);
        assert!(q.next_start_by_requested_limit && q.content_listing_blocked);
        assert_eq!(q.past_end_after, 200);
    }
}

//! Guards for following server-provided `next` links.

use std::collections::HashSet;

use url::Url;

#[derive(Debug, thiserror::Error)]
pub enum PaginationError {
    #[error("pagination loop: {url} was already fetched in this listing")]
    Repeated { url: String },
    #[error("pagination stopped after {cap} pages at {url}: raise the page cap if the listing is really that long")]
    TooManyPages { cap: usize, url: String },
    #[error("pagination link {url} leaves the API origin {origin}")]
    ForeignOrigin { url: String, origin: String },
    #[error("invalid pagination link {link}: {reason}")]
    Invalid { link: String, reason: String },
}

/// Tracks the URLs of one listing: refuses a repeated URL, a URL on another origin than the
/// first one, and more than `cap` pages.
#[derive(Debug)]
pub struct LinkGuard {
    origin: url::Origin,
    seen: HashSet<String>,
    cap: usize,
}

impl LinkGuard {
    /// Starts a listing at `first` (which counts as page 1).
    pub fn new(first: &Url, cap: usize) -> Self {
        let mut seen = HashSet::new();
        seen.insert(first.as_str().to_owned());
        Self {
            origin: first.origin(),
            seen,
            cap,
        }
    }

    /// Checks the next page's URL before it is fetched.
    pub fn admit(&mut self, next: &Url) -> Result<(), PaginationError> {
        let _ = (&self.origin, &self.seen, self.cap, next);
        unimplemented!("http-transport helper")
    }
}

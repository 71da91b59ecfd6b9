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
        if self.seen.contains(next.as_str()) {
            return Err(PaginationError::Repeated {
                url: next.as_str().to_owned(),
            });
        }
        if next.origin() != self.origin {
            return Err(PaginationError::ForeignOrigin {
                url: next.as_str().to_owned(),
                origin: self.origin.ascii_serialization(),
            });
        }
        if self.seen.len() >= self.cap {
            return Err(PaginationError::TooManyPages {
                cap: self.cap,
                url: next.as_str().to_owned(),
            });
        }
        self.seen.insert(next.as_str().to_owned());
        Ok(())
    }

    /// Resolves a server-provided link (absolute, or relative such as v2's `/wiki/api/v2/...`)
    /// against `base` and admits it.
    pub fn admit_link(&mut self, base: &Url, link: &str) -> Result<Url, PaginationError> {
        let next = base.join(link).map_err(|e| PaginationError::Invalid {
            link: link.to_owned(),
            reason: e.to_string(),
        })?;
        self.admit(&next)?;
        Ok(next)
    }

    /// Pages admitted so far, the first one included.
    pub fn pages(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn admits_new_links_on_the_same_origin() {
        let mut guard = LinkGuard::new(&url("https://a.example/wiki?start=0"), 10);
        guard
            .admit(&url("https://a.example/wiki?start=25"))
            .unwrap();
        guard
            .admit(&url("https://a.example/wiki?start=50"))
            .unwrap();
        assert_eq!(guard.pages(), 3);
    }

    #[test]
    fn refuses_a_repeated_link() {
        let mut guard = LinkGuard::new(&url("https://a.example/wiki?start=0"), 10);
        guard
            .admit(&url("https://a.example/wiki?start=25"))
            .unwrap();
        let err = guard
            .admit(&url("https://a.example/wiki?start=25"))
            .unwrap_err();
        assert!(matches!(err, PaginationError::Repeated { .. }), "{err}");
        let err = guard
            .admit(&url("https://a.example/wiki?start=0"))
            .unwrap_err();
        assert!(matches!(err, PaginationError::Repeated { .. }), "{err}");
    }

    #[test]
    fn refuses_a_link_to_another_origin() {
        let mut guard = LinkGuard::new(&url("https://a.example/wiki"), 10);
        for other in [
            "https://b.example/wiki?start=25",
            "http://a.example/wiki?start=25",
            "https://a.example:8443/wiki?start=25",
        ] {
            let err = guard.admit(&url(other)).unwrap_err();
            assert!(
                matches!(err, PaginationError::ForeignOrigin { .. }),
                "{err}"
            );
        }
    }

    #[test]
    fn stops_after_the_page_cap() {
        let mut guard = LinkGuard::new(&url("https://a.example/p?n=1"), 3);
        guard.admit(&url("https://a.example/p?n=2")).unwrap();
        guard.admit(&url("https://a.example/p?n=3")).unwrap();
        let err = guard.admit(&url("https://a.example/p?n=4")).unwrap_err();
        assert!(
            matches!(err, PaginationError::TooManyPages { cap: 3, .. }),
            "{err}"
        );
    }

    #[test]
    fn resolves_relative_links_against_the_current_page() {
        let mut guard = LinkGuard::new(&url("https://a.example/wiki/api/v2/pages?limit=5"), 10);
        let next = guard
            .admit_link(
                &url("https://a.example/wiki/api/v2/pages?limit=5"),
                "/wiki/api/v2/pages?cursor=abc",
            )
            .unwrap();
        assert_eq!(
            next.as_str(),
            "https://a.example/wiki/api/v2/pages?cursor=abc"
        );
    }
}

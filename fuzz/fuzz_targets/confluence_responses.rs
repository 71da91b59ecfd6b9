//! Confluence response parsing: every body the Cloud and Data Center clients parse (v1 search
//! pages, v1/v2 attachment pages, v1/v2 body batches, the DC manifest) is fed the same bytes.
//!
//! Asserts: no parser panics; every link a client would follow from a parsed response (`_links.next`,
//! an inline attachment block's `next`, a DC attachment's download path), and the raw input
//! itself taken as a link, either resolves onto the API origin or is refused — through
//! `resolve_next` and again through the `LinkGuard` the listing loop uses, which must also refuse
//! the same link twice.

#![no_main]

use std::sync::OnceLock;

use confluence_client::fuzzing::{self, LinkResolver};
use http_transport::LinkGuard;
use libfuzzer_sys::fuzz_target;

struct Resolvers {
    cloud: LinkResolver,
    data_center: LinkResolver,
    data_center_root: LinkResolver,
}

fn resolvers() -> &'static Resolvers {
    static RESOLVERS: OnceLock<Resolvers> = OnceLock::new();
    RESOLVERS.get_or_init(|| Resolvers {
        cloud: LinkResolver::cloud(),
        data_center: LinkResolver::data_center("https://dc.acme.com/confluence"),
        data_center_root: LinkResolver::data_center("http://127.0.0.1:8090"),
    })
}

/// A followed link must stay on the API origin, whichever way the client reaches it.
fn check_link(resolver: &LinkResolver, link: &str) {
    let root = resolver.api_root().expect("fixed API root parses");
    match resolver.resolve_next(link) {
        Ok(url) => {
            assert_eq!(
                url.origin(),
                root.origin(),
                "link {link:?} resolved to {url} off the API origin {root}"
            );
            let mut guard = LinkGuard::new(&root, 10);
            if url != root {
                guard
                    .admit(&url)
                    .expect("same-origin, first-seen link is admitted");
            }
            assert!(
                guard.admit(&url).is_err(),
                "a repeated link must be refused"
            );
        }
        Err(e) => {
            // Errors render without panicking and never carry a credential.
            let text = format!("{e} {e:?}");
            let planted = fuzzing::PLANTED_CREDENTIAL;
            assert!(!text.contains(planted) || link.contains(planted), "{text}");
        }
    }
}

fn check_all(link: &str) {
    let r = resolvers();
    check_link(&r.cloud, link);
    check_link(&r.data_center, link);
    check_link(&r.data_center_root, link);
}

fuzz_target!(|data: &[u8]| {
    if let Ok((pages, next)) = fuzzing::v1_page_listing(data) {
        next.iter().for_each(|n| check_all(n));
        for page in &pages {
            let _ = page
                .inline_attachments
                .as_ref()
                .map(|i| i.possibly_truncated());
            if let Some(n) = page
                .inline_attachments
                .as_ref()
                .and_then(|i| i.next.as_deref())
            {
                check_all(n);
            }
            for a in &page.attachments {
                check_all(&a.download_path);
            }
        }
    }
    let attachment_pages = [
        fuzzing::v1_attachment_listing(data),
        fuzzing::v2_attachment_listing(data),
    ];
    for (attachments, next) in attachment_pages.into_iter().flatten() {
        next.iter().for_each(|n| check_all(n));
        for a in &attachments {
            check_all(&a.download_path);
        }
    }
    for parsed in [fuzzing::v1_body_batch(data), fuzzing::v2_body_batch(data)] {
        match parsed {
            Ok((_, next)) => next.iter().for_each(|n| check_all(n)),
            Err(e) => drop(format!("{e} {e:?}")),
        }
    }
    let _ = fuzzing::manifest_id(data);
    if let Ok(text) = std::str::from_utf8(data) {
        if text.len() < 4096 {
            check_all(text);
        }
    }
});

//! A validated endpoint URL.

use std::fmt;

use url::Url;

/// An absolute `http`/`https` URL without a trailing `/`, user name or password.
///
/// Kept as the operator wrote it (the `url` crate would add a `/` after a bare host), because
/// the text matters: clients append paths to it directly and the Data Center instance key
/// (`data-center:<baseUrl>`) is the exact string.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUrl {
    text: String,
    url: Url,
}

impl HttpUrl {
    pub(crate) fn new(text: String, url: Url) -> Self {
        Self { text, url }
    }

    /// The URL exactly as configured (never ends with `/`).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The parsed form.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// This URL with `path` (which should start with `/`) appended verbatim.
    pub fn join_path(&self, path: &str) -> String {
        format!("{}{}", self.text, path)
    }

    /// True for `localhost` and loopback IP addresses, where plain HTTP is always allowed.
    pub fn is_loopback(&self) -> bool {
        is_loopback(&self.url)
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl fmt::Debug for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text)
    }
}

impl fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

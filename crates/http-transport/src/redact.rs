//! What may leave the process in an error, a log line, `Debug` output or the run record. Two
//! things are taken out, for two different reasons:
//!
//! - **Secrets**, always: [`redact_url`] replaces with [`MASK`] (`***`) the password of a URL's
//!   userinfo, the values of secret-ish query parameters ([`SECRET_PARAMETERS`]: signatures,
//!   tokens, keys, passwords, OAuth codes), and every query value of a capability path
//!   ([`CAPABILITY_PATHS`]: Unique's signed upload and read URLs, whose whole query grants
//!   access). [`redact_capability`] does the same for a value that is a capability as a whole,
//!   and masks it entirely when it is not a URL. Every crate uses these two; there is no other
//!   URL redactor.
//! - **User data**, under the operator's [`Disclosure`] policy (`conceal` or `disclose`):
//!   what a remote service wrote back to us (a response body excerpt, a GraphQL error message, a
//!   decoder's complaint about a body) is kept in a [`RemoteText`], whose `Display` shows it
//!   under `disclose` and a stable hash ([`Concealed`]) under `conceal`, since a service may
//!   quote a title or a file name back at us. The policy is chosen once by the connector
//!   and handed down through [`crate::TransportConfig::remote_text`] and the clients' configs;
//!   nothing reads it from a global.

use std::fmt;

/// What replaces a secret. Short and unmistakable, and the same everywhere, so an operator
/// learns it once (`postgres://cfc:***@db/cfc`, `…?sv=2023&sig=***`).
pub const MASK: &str = "***";

/// Query parameters whose values are credentials (compared case-insensitively, after
/// percent-decoding the name).
pub const SECRET_PARAMETERS: &[&str] = &[
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "x-goog-signature",
    "x-goog-credential",
    "token",
    "access_token",
    "id_token",
    "refresh_token",
    "client_secret",
    "password",
    "secret",
    "api_key",
    "apikey",
    "key",
    "code",
];

/// Paths (their last two segments) whose whole query is a capability: Unique's signed upload
/// and read URLs (`<ingestion>/scoped/upload?key=…`, `…/scoped/read?key=…`). Every value of
/// their query is masked, whatever the parameter is called.
pub const CAPABILITY_PATHS: &[&str] = &["scoped/upload", "scoped/read"];

/// `url` as it may appear in errors, logs and `Debug`: the userinfo password, the values of
/// [`SECRET_PARAMETERS`], and all query values of a [`CAPABILITY_PATHS`] URL replaced by
/// [`MASK`]; everything else kept byte for byte, so the operator can still tell which request
/// failed. Takes a [`Url`] or any text, and works on text that is not a valid URL too (a
/// database URL, a mistyped proxy), because those are the ones that end up in error messages.
pub fn redact_url(url: &(impl AsRef<str> + ?Sized)) -> String {
    redact(url.as_ref(), false)
}

/// A value that grants access as a whole (Unique's `writeUrl`/`readUrl`): as [`redact_url`]
/// with every query value masked, or [`MASK`] alone when it is not a URL (an opaque token).
pub fn redact_capability(value: &str) -> String {
    if value.contains("://") {
        redact(value, true)
    } else {
        MASK.to_owned()
    }
}

fn redact(text: &str, whole_query: bool) -> String {
    // `scheme://` is optional: `user:password@proxy:3128` is as secret as the URL it misspells.
    let (scheme, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, text),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let mut shown = String::with_capacity(text.len());
    if let Some(scheme) = scheme {
        shown.push_str(scheme);
        shown.push_str("://");
    }
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    shown.push_str(user);
                    shown.push(':');
                    shown.push_str(MASK);
                }
                None => shown.push_str(userinfo),
            }
            shown.push('@');
            shown.push_str(host);
        }
        None => shown.push_str(authority),
    }
    let (before_fragment, fragment) = match tail.split_once('#') {
        Some((before, fragment)) => (before, Some(fragment)),
        None => (tail, None),
    };
    let (path, query) = match before_fragment.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (before_fragment, None),
    };
    shown.push_str(path);
    if let Some(query) = query {
        let capability = whole_query || is_capability_path(path);
        shown.push('?');
        shown.push_str(&mask_query(query, capability));
    }
    if let Some(fragment) = fragment {
        shown.push('#');
        shown.push_str(fragment);
    }
    shown
}

fn is_capability_path(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    CAPABILITY_PATHS
        .iter()
        .any(|tail| path.ends_with(&format!("/{tail}")))
}

fn is_secret_parameter(raw_name: &str) -> bool {
    let name = url::form_urlencoded::parse(raw_name.as_bytes())
        .next()
        .map_or_else(|| raw_name.to_owned(), |(name, _)| name.into_owned());
    SECRET_PARAMETERS
        .iter()
        .any(|candidate| candidate.eq_ignore_ascii_case(&name))
}

/// The query with the values to hide masked and every other byte as it was.
fn mask_query(query: &str, every_value: bool) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if every_value || is_secret_parameter(name) => {
                format!("{name}={MASK}")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The operator's choice for user data in diagnostics (logs, errors, the run record): titles,
/// ids and what a remote service wrote back to us.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Disclosure {
    /// Shown as `[redacted:<hash>]` (see [`Concealed`]).
    Conceal,
    /// Shown as they are. The transport's default, because a library has no operator to ask;
    /// the connector hands down its own choice, `conceal` unless configured otherwise.
    #[default]
    Disclose,
}

/// A piece of user data shown as `conceal` shows it: `[redacted:<hash>]`, where the short,
/// stable hash still lets an operator see that two lines are about the same item without
/// learning what it is.
#[derive(Clone, Copy)]
pub struct Concealed<'a>(pub &'a str);

impl fmt::Display for Concealed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[redacted:{:06x}]", short_hash(self.0))
    }
}

impl fmt::Debug for Concealed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// FNV-1a folded to 24 bits: stable across runs and processes, not reversible for anything
/// but very short values (and titles, e-mails and ids are not that short).
fn short_hash(value: &str) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in value.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    ((hash >> 40) ^ (hash & 0xff_ffff)) as u32 & 0xff_ffff
}

/// Text a remote service wrote, kept in an error as a field of its own: a response body
/// excerpt, a GraphQL error message, a decoder's reason about a body it could not read (which
/// quotes the body). A service may quote a title or a file name back at us, so `Display` and
/// `Debug` follow the [`Disclosure`] it was received under; [`RemoteText::as_str`] gives the
/// text itself, for deciding what an error means, never for showing it.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteText {
    text: String,
    disclosure: Disclosure,
}

impl RemoteText {
    pub fn new(text: impl Into<String>, disclosure: Disclosure) -> Self {
        Self {
            text: text.into(),
            disclosure,
        }
    }

    /// The text as the service wrote it, whatever the policy.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn disclosure(&self) -> Disclosure {
        self.disclosure
    }
}

impl fmt::Display for RemoteText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.disclosure {
            // Nothing to hide in nothing: an empty excerpt stays empty.
            Disclosure::Conceal if !self.text.trim().is_empty() => Concealed(&self.text).fmt(f),
            _ => f.write_str(&self.text),
        }
    }
}

impl fmt::Debug for RemoteText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl PartialEq<str> for RemoteText {
    fn eq(&self, other: &str) -> bool {
        self.text == other
    }
}

impl PartialEq<&str> for RemoteText {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use url::Url;

    use super::*;

    #[test]
    fn masks_the_values_of_secret_parameters_and_keeps_the_rest_byte_for_byte() {
        let url = Url::parse(
            "https://blob.example/container/file?sv=2023-01-03&se=2030-01-01&sp=rw&sig=abc%2Bdef",
        )
        .unwrap();
        assert_eq!(
            redact_url(&url),
            "https://blob.example/container/file?sv=2023-01-03&se=2030-01-01&sp=rw&sig=***"
        );
    }

    #[test]
    fn matches_parameter_names_case_insensitively_and_percent_decoded() {
        let shown =
            redact_url("https://s3.example/k?X-Amz-Signature=s1&X-Amz-Credential=c1&Token=t1&a=1");
        assert_eq!(
            shown,
            "https://s3.example/k?X-Amz-Signature=***&X-Amz-Credential=***&Token=***&a=1"
        );
        assert_eq!(
            redact_url("https://h.example/p?%73ig=s1"),
            "https://h.example/p?%73ig=***"
        );
    }

    #[test]
    fn masks_a_userinfo_password_and_keeps_the_user() {
        let url = Url::parse("https://user:hunter2@host.example/x").unwrap();
        assert_eq!(redact_url(&url), "https://user:***@host.example/x");
        assert_eq!(
            redact_url("postgres://cfc:s3cr%40t@db.internal:5432/cfc?sslmode=require"),
            "postgres://cfc:***@db.internal:5432/cfc?sslmode=require"
        );
        assert_eq!(redact_url("postgres://cfc@db/cfc"), "postgres://cfc@db/cfc");
        assert_eq!(
            redact_url("postgres://db/cfc?user=cfc&password=s3cret"),
            "postgres://db/cfc?user=cfc&password=***"
        );
    }

    #[test]
    fn works_on_text_that_is_not_a_valid_url() {
        assert_eq!(
            redact_url("postgres://a:b:c@@host/x"),
            "postgres://a:***@host/x"
        );
        assert_eq!(
            redact_url("proxyuser:hunter2@proxy.internal:3128"),
            "proxyuser:***@proxy.internal:3128"
        );
        assert_eq!(redact_url("sqlite:ledger.db"), "sqlite:ledger.db");
        assert_eq!(redact_url(""), "");
    }

    #[test]
    fn masks_every_query_value_of_a_capability_path() {
        assert_eq!(
            redact_url("http://127.0.0.1:9/ingestion/scoped/upload?key=k%2F1&x=2"),
            "http://127.0.0.1:9/ingestion/scoped/upload?key=***&x=***"
        );
        assert_eq!(
            redact_url("https://u.example/scoped/read?grant=abc"),
            "https://u.example/scoped/read?grant=***"
        );
        // Only the path's end decides; a page called "scoped" is not a capability.
        assert_eq!(
            redact_url("https://wiki.example/scoped/uploads?limit=25"),
            "https://wiki.example/scoped/uploads?limit=25"
        );
    }

    #[test]
    fn a_capability_value_loses_its_whole_query_or_all_of_itself() {
        assert_eq!(
            redact_capability("https://acct.blob.core.windows.net/c/b?sv=1&sig=secret"),
            "https://acct.blob.core.windows.net/c/b?sv=***&sig=***"
        );
        assert_eq!(redact_capability("opaque-read-secret"), MASK);
    }

    #[test]
    fn leaves_ordinary_urls_untouched() {
        let raw = "https://site.example/wiki/rest/api/content/search?cql=label%3D%22x%22&limit=25";
        assert_eq!(redact_url(&Url::parse(raw).unwrap()), raw);
        assert_eq!(redact_url(raw), raw);
        let fragment = "https://site.example/wiki/spaces/SP#section";
        assert_eq!(redact_url(fragment), fragment);
    }

    #[test]
    fn remote_text_shows_under_disclose_and_hashes_under_conceal() {
        let quoted = "a file named 'Q3 salaries.xlsx' already exists";
        let shown = RemoteText::new(quoted, Disclosure::Disclose);
        assert_eq!(shown.to_string(), quoted);
        assert_eq!(format!("{shown:?}"), format!("{quoted:?}"));

        let concealed = RemoteText::new(quoted, Disclosure::Conceal);
        let text = concealed.to_string();
        assert!(
            text.starts_with("[redacted:") && text.ends_with(']'),
            "{text}"
        );
        assert!(!text.contains("salaries"), "{text}");
        assert!(!format!("{concealed:?}").contains("salaries"));
        assert_eq!(text, Concealed(quoted).to_string());
        // The text itself stays available for deciding what the error means.
        assert_eq!(concealed.as_str(), quoted);
        assert!(concealed == quoted);
    }

    #[test]
    fn concealed_is_stable_and_tells_values_apart() {
        let a = Concealed("Page title").to_string();
        assert_eq!(a, Concealed("Page title").to_string());
        assert_ne!(a, Concealed("Other title").to_string());
        assert_eq!(a.len(), "[redacted:".len() + 6 + 1);
    }

    #[test]
    fn empty_remote_text_stays_empty_under_conceal() {
        assert_eq!(RemoteText::new("", Disclosure::Conceal).to_string(), "");
    }
}

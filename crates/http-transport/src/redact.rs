//! URLs as they may appear in errors and logs: without the signatures and tokens that
//! pre-signed upload URLs (`sig=`, `X-Amz-Signature=`) and some APIs carry in the query string.

use url::Url;

/// Query parameters whose values are credentials (compared case-insensitively).
const SENSITIVE_PARAMETERS: &[&str] = &[
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

/// `url` with the values of credential-like query parameters and any userinfo password
/// replaced by `[REDACTED]`; everything else is kept so the operator can still tell which
/// request failed.
pub fn redact_url(url: &Url) -> String {
    let sensitive = |name: &str| {
        SENSITIVE_PARAMETERS
            .iter()
            .any(|candidate| candidate.eq_ignore_ascii_case(name))
    };
    let has_sensitive_query = url.query_pairs().any(|(name, _)| sensitive(&name));
    if !has_sensitive_query && url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("[REDACTED]"));
    }
    if has_sensitive_query {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let value = if sensitive(&name) {
                    "[REDACTED]".to_owned()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), value)
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    shown.to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hides_signatures_and_keeps_the_rest() {
        let url = Url::parse(
            "https://blob.example/container/file?sv=2023-01-03&se=2030-01-01&sp=rw&sig=abc%2Bdef",
        )
        .unwrap();
        let shown = redact_url(&url);
        assert!(!shown.contains("abc"), "{shown}");
        assert!(
            shown.contains("sv=2023-01-03") && shown.contains("sp=rw"),
            "{shown}"
        );
        assert!(
            shown.starts_with("https://blob.example/container/file?"),
            "{shown}"
        );
    }

    #[test]
    fn hides_amazon_style_and_token_parameters_case_insensitively() {
        let url =
            Url::parse("https://s3.example/k?X-Amz-Signature=s1&X-Amz-Credential=c1&Token=t1&a=1")
                .unwrap();
        let shown = redact_url(&url);
        for secret in ["s1", "c1", "t1"] {
            assert!(!shown.contains(&format!("={secret}")), "{shown}");
        }
        assert!(shown.contains("a=1"));
    }

    #[test]
    fn hides_a_userinfo_password() {
        let url = Url::parse("https://user:hunter2@host.example/x").unwrap();
        assert!(!redact_url(&url).contains("hunter2"));
    }

    #[test]
    fn leaves_ordinary_urls_untouched() {
        let raw = "https://site.example/wiki/rest/api/content/search?cql=label%3D%22x%22&limit=25";
        assert_eq!(redact_url(&Url::parse(raw).unwrap()), raw);
    }
}

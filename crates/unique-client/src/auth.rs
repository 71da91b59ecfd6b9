//! How API requests prove who they are: cluster-local identity headers, or a Zitadel token.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use http_transport::{
    AuthError, Authorizer, Body, Disclosure, ExposeSecret, NoAuth, ReadWrite, RemoteText, Request,
    SecretString, StaticAuthorizer, Token, TokenCache, TokenSource, Transport, TransportError,
};
use serde::Deserialize;
use url::Url;

use crate::config::{ExternalAuth, UniqueAuth, SERVICE_ID};

/// The credentials of every API request (GraphQL, file diff, health ping). Uploads carry none.
#[derive(Debug, Clone)]
pub(crate) struct ServiceAuth {
    /// Cluster-local: the identity headers; external: empty.
    headers: HeaderMap,
    /// Cluster-local: [`NoAuth`]; external: the shared token cache.
    authorizer: Arc<dyn Authorizer>,
}

impl ServiceAuth {
    /// `token_transport` carries the Zitadel request (external mode only): it has the tenant's
    /// proxy and TLS settings but not its rate limit.
    pub(crate) fn new(
        auth: &UniqueAuth,
        token_transport: impl FnOnce() -> Result<Transport<ReadWrite>, TransportError>,
    ) -> Result<Self, TransportError> {
        match auth {
            UniqueAuth::ClusterLocal { extra_headers } => Ok(Self {
                headers: cluster_local_headers(extra_headers)?,
                authorizer: Arc::new(NoAuth),
            }),
            UniqueAuth::External(external) => {
                let source = ZitadelTokenSource::new(external, token_transport()?)?;
                Ok(Self {
                    headers: HeaderMap::new(),
                    authorizer: Arc::new(TokenCache::with_refresh_before(
                        source,
                        external.refresh_before,
                    )),
                })
            }
        }
    }

    /// Headers added to every API request (before the authorizer's `Authorization`).
    pub(crate) fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    pub(crate) fn authorizer(&self) -> &dyn Authorizer {
        self.authorizer.as_ref()
    }
}

/// `x-service-id: confluence-connector`, then every configured extra header; an extra header
/// with the same name replaces the service id, as the reference's object spread does.
fn cluster_local_headers(
    extra: &std::collections::BTreeMap<String, String>,
) -> Result<HeaderMap, TransportError> {
    let mut headers = HeaderMap::new();
    headers.insert(
        HeaderName::from_static("x-service-id"),
        HeaderValue::from_static(SERVICE_ID),
    );
    for (name, value) in extra {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| {
            TransportError::Setup(format!(
                "invalid header name `{name}` in serviceExtraHeaders: {e}"
            ))
        })?;
        let value = HeaderValue::from_str(value).map_err(|e| {
            TransportError::Setup(format!(
                "invalid value of `{name}` in serviceExtraHeaders: {e}"
            ))
        })?;
        headers.insert(name, value);
    }
    Ok(headers)
}

/// The Zitadel client-credentials request, exactly as the reference sends it:
/// `POST <origin+path of zitadelOauthTokenUrl>`, `Authorization: Basic base64(id:secret)`,
/// form body `scope=<…>&grant_type=client_credentials`.
///
/// The shared [`http_transport::TokenEndpoint`] puts the client credentials in the body, which
/// Zitadel would accept but which is not what the reference sends; so this source builds the
/// request itself and sends it through a [`Transport`] (proxy, TLS, retries with backoff).
pub(crate) struct ZitadelTokenSource {
    transport: Transport<ReadWrite>,
    url: Url,
    basic: StaticAuthorizer,
    /// The form body; contains the project id, so it is kept out of `Debug`.
    body: SecretString,
}

impl std::fmt::Debug for ZitadelTokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZitadelTokenSource")
            .field("url", &http_transport::redact_url(&self.url))
            .finish_non_exhaustive()
    }
}

impl ZitadelTokenSource {
    pub(crate) fn new(
        external: &ExternalAuth,
        transport: Transport<ReadWrite>,
    ) -> Result<Self, TransportError> {
        let mut url = Url::parse(&external.token_url).map_err(|e| TransportError::InvalidUrl {
            url: external.token_url.clone(),
            reason: e.to_string(),
        })?;
        url.set_query(None);
        url.set_fragment(None);
        let basic = StaticAuthorizer::basic(
            &SecretString::from(external.client_id.clone()),
            &external.client_secret,
        )?;
        Ok(Self {
            transport,
            url,
            basic,
            body: SecretString::from(token_request_body(external.project_id.expose_secret())),
        })
    }

    async fn fetch_token(&self) -> Result<Token, AuthError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let request = Request {
            method: Method::POST,
            url: self.url.clone(),
            headers,
            body: Body::Bytes(bytes::Bytes::from(
                self.body.expose_secret().as_bytes().to_vec(),
            )),
            // Client credentials: each answer is just a new token.
            idempotent: true,
        };
        let url = self.url.to_string();
        let response = self
            .transport
            .send(request, &self.basic)
            .await
            .map_err(|e| match e {
                TransportError::Auth(auth) => auth,
                TransportError::Status { status, body, .. } => AuthError::TokenStatus {
                    url: url.clone(),
                    status: status.as_u16(),
                    body,
                },
                other => AuthError::TokenRequest {
                    url: url.clone(),
                    message: other.to_string(),
                },
            })?;
        let body = response
            .bytes()
            .await
            .map_err(|e| AuthError::TokenRequest {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let disclosure = self.transport.config().remote_text;
        parse_token_response(&url, &body, Instant::now(), disclosure)
    }
}

impl TokenSource for ZitadelTokenSource {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Token, AuthError>> + Send + '_>> {
        Box::pin(self.fetch_token())
    }
}

/// `scope=<the reference's scopes>&grant_type=client_credentials`, form-encoded (`+` for
/// spaces), in this order.
pub(crate) fn token_request_body(project_id: &str) -> String {
    let scope = format!(
        "openid profile email urn:zitadel:iam:user:resourceowner \
         urn:zitadel:iam:org:projects:roles urn:zitadel:iam:org:project:id:{project_id}:aud"
    );
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("scope", &scope)
        .append_pair("grant_type", "client_credentials")
        .finish()
}

#[derive(Deserialize)]
struct ZitadelTokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// Parses the body whatever its content type (as the reference does); rejects an empty token
/// and an `expires_in` that is not a positive number.
pub(crate) fn parse_token_response(
    url: &str,
    body: &[u8],
    now: Instant,
    disclosure: Disclosure,
) -> Result<Token, AuthError> {
    let invalid = |reason: String| AuthError::TokenResponse {
        url: url.to_owned(),
        reason: RemoteText::new(reason, disclosure),
    };
    let parsed: ZitadelTokenResponse = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("not a JSON token response: {e}")))?;
    let access_token = parsed
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| invalid("missing access_token".to_owned()))?;
    let expires_in = parsed
        .expires_in
        .as_ref()
        .and_then(serde_json::Value::as_f64)
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| {
            invalid(format!(
                "expires_in must be a positive number, got {}",
                parsed
                    .expires_in
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| "nothing".to_owned())
            ))
        })?;
    Ok(Token {
        access_token: SecretString::from(access_token),
        expires_at: now.checked_add(Duration::from_secs_f64(expires_in.min(1e9))),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn token_body_matches_the_reference_encoding() {
        assert_eq!(
            token_request_body("P"),
            "scope=openid+profile+email+urn%3Azitadel%3Aiam%3Auser%3Aresourceowner+urn%3Azitadel%3Aiam%3Aorg%3Aprojects%3Aroles+urn%3Azitadel%3Aiam%3Aorg%3Aproject%3Aid%3AP%3Aaud&grant_type=client_credentials"
        );
    }

    #[test]
    fn cluster_local_sends_service_id_and_every_extra_header() {
        let headers = cluster_local_headers(&BTreeMap::from([
            ("x-company-id".to_owned(), "company-1".to_owned()),
            ("x-user-id".to_owned(), "user-1".to_owned()),
            ("x-extra".to_owned(), "forwarded".to_owned()),
        ]))
        .unwrap();
        let mut pairs: Vec<_> = headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
            .collect();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                "x-company-id: company-1",
                "x-extra: forwarded",
                "x-service-id: confluence-connector",
                "x-user-id: user-1"
            ]
        );
    }

    #[test]
    fn extra_header_overrides_service_id_like_the_reference_spread() {
        let headers = cluster_local_headers(&BTreeMap::from([(
            "x-service-id".to_owned(),
            "other".to_owned(),
        )]))
        .unwrap();
        assert_eq!(headers.get_all("x-service-id").iter().count(), 1);
        assert_eq!(headers["x-service-id"], "other");
    }

    #[test]
    fn token_response_needs_a_token_and_a_positive_lifetime() {
        let now = Instant::now();
        let token = parse_token_response(
            "u",
            br#"{"access_token":"abc","expires_in":3600,"token_type":"Bearer"}"#,
            now,
            Disclosure::Disclose,
        )
        .unwrap();
        assert_eq!(token.access_token.expose_secret(), "abc");
        assert_eq!(token.expires_at, Some(now + Duration::from_secs(3600)));

        for body in [
            r#"{"expires_in":3600}"#,
            r#"{"access_token":"","expires_in":3600}"#,
            r#"{"access_token":"abc","expires_in":0}"#,
            r#"{"access_token":"abc","expires_in":"3600"}"#,
            r#"{"access_token":"abc"}"#,
            "not json",
        ] {
            let err = parse_token_response(
                "https://auth/token",
                body.as_bytes(),
                now,
                Disclosure::Disclose,
            )
            .unwrap_err();
            assert!(
                matches!(err, AuthError::TokenResponse { .. }),
                "{body}: {err}"
            );
            assert!(!err.to_string().contains("abc"), "{err}");
        }
    }
}

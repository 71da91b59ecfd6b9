//! The OAuth 2.0 client-credentials token request: the only `POST` the Confluence side ever sends.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::HeaderValue;
use secrecy::{ExposeSecret as _, SecretString};

use crate::config::check_url;
use crate::failure::{error_chain, is_tls_failure};
use crate::http_client::build_http_client;
use crate::redact::{redact_url, Disclosure, RemoteText};
use crate::retry::{is_retryable_status, retry_after, retry_delay};
use crate::{AuthError, RetryPolicy, Timeouts, Token, TokenSource, TransportConfig};

/// How the token request body is encoded.
#[derive(Debug, Clone)]
pub enum TokenRequest {
    /// Confluence Cloud: `{"grant_type":"client_credentials","client_id":…,"client_secret":…}`.
    JsonClientCredentials {
        client_id: String,
        client_secret: SecretString,
    },
    /// Form-encoded `grant_type=client_credentials&client_id=…&client_secret=…` plus `extra`
    /// fields in order (Confluence DC: `scope=READ`; Zitadel: `scope=…`).
    FormClientCredentials {
        client_id: String,
        client_secret: SecretString,
        extra: Vec<(String, String)>,
    },
    /// Client authentication in the header, `Authorization: Basic base64(id:secret)`, and
    /// exactly `form` as the form-encoded body, in order (the reference's Zitadel request:
    /// `scope=…&grant_type=client_credentials`).
    FormBasicAuth {
        client_id: String,
        client_secret: SecretString,
        form: Vec<(String, String)>,
    },
}

/// `POST`s a [`TokenRequest`] to one URL, retrying transport errors, 429 and 5xx within the
/// retry budget (a client-credentials request is safe to repeat: each answer is just a token);
/// parses `{access_token, expires_in}`. Uses the proxy, TLS and timeouts of a
/// [`TransportConfig`] but not its rate limiter.
pub struct TokenEndpoint {
    url: url::Url,
    request: TokenRequest,
    service: &'static str,
    http: reqwest::Client,
    retry: RetryPolicy,
    timeouts: Timeouts,
    remote_text: Disclosure,
}

impl std::fmt::Debug for TokenEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenEndpoint")
            .field("url", &redact_url(&self.url))
            .field("request", &self.request)
            .field("service", &self.service)
            .finish_non_exhaustive()
    }
}

impl TokenEndpoint {
    pub fn new(
        config: &TransportConfig,
        url: url::Url,
        request: TokenRequest,
    ) -> Result<Self, crate::TransportError> {
        check_url(config.plain_http, &url)?;
        Ok(Self {
            http: build_http_client(config)?,
            url,
            request,
            service: config.service,
            retry: config.retry,
            timeouts: config.timeouts,
            remote_text: config.remote_text,
        })
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }

    /// The request's content type and body. The secret is only ever inside this body (or the
    /// sensitive `Authorization` header), never in a log line or an error.
    fn encode(&self) -> (&'static str, Option<HeaderValue>, Vec<u8>) {
        match &self.request {
            TokenRequest::JsonClientCredentials {
                client_id,
                client_secret,
            } => {
                // A struct, not `json!`, so that the field order is exactly the documented one.
                #[derive(serde::Serialize)]
                struct Body<'a> {
                    grant_type: &'a str,
                    client_id: &'a str,
                    client_secret: &'a str,
                }
                let body = serde_json::to_vec(&Body {
                    grant_type: "client_credentials",
                    client_id,
                    client_secret: client_secret.expose_secret(),
                })
                .expect("a struct of strings always serialises");
                ("application/json", None, body)
            }
            TokenRequest::FormClientCredentials {
                client_id,
                client_secret,
                extra,
            } => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "client_credentials")
                    .append_pair("client_id", client_id)
                    .append_pair("client_secret", client_secret.expose_secret());
                for (name, value) in extra {
                    form.append_pair(name, value);
                }
                (
                    "application/x-www-form-urlencoded",
                    None,
                    form.finish().into_bytes(),
                )
            }
            TokenRequest::FormBasicAuth {
                client_id,
                client_secret,
                form,
            } => {
                let mut body = url::form_urlencoded::Serializer::new(String::new());
                for (name, value) in form {
                    body.append_pair(name, value);
                }
                let header = crate::auth::basic_header(client_id, client_secret.expose_secret());
                (
                    "application/x-www-form-urlencoded",
                    Some(header),
                    body.finish().into_bytes(),
                )
            }
        }
    }

    async fn fetch_with_retries(&self) -> Result<Token, AuthError> {
        let started = Instant::now();
        let mut retries = 0;
        loop {
            let (error, server_delay) = match self.fetch_once().await {
                Ok(token) => return Ok(token),
                Err(Attempt::Final(error)) => return Err(error),
                Err(Attempt::Retryable(error, server_delay)) => (error, server_delay),
            };
            let delay = retry_delay(&self.retry, retries + 1, server_delay);
            if started.elapsed() + delay >= self.retry.budget {
                return Err(error);
            }
            retries += 1;
            tracing::warn!(service = self.service, url = %redact_url(&self.url), retry = retries, delay_ms = delay.as_millis() as u64, error = %error, "token request failed, retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn fetch_once(&self) -> Result<Token, Attempt> {
        let url = redact_url(&self.url);
        let (content_type, authorization, body) = self.encode();
        let mut request = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, content_type)
            .header(ACCEPT, "application/json")
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header(AUTHORIZATION, authorization);
        }
        let request_error = |message: String| AuthError::TokenRequest {
            url: url.clone(),
            message,
        };
        let response = match tokio::time::timeout(self.timeouts.headers, request.send()).await {
            Err(_) => {
                let error = request_error("timed out waiting for the response".to_owned());
                return Err(Attempt::Retryable(error, None));
            }
            // A token request is idempotent: any transport failure is worth another try, except
            // a TLS failure (a wrong certificate does not fix itself).
            Ok(Err(e)) if is_tls_failure(&e) => {
                return Err(Attempt::Final(request_error(describe(e))))
            }
            Ok(Err(e)) => return Err(Attempt::Retryable(request_error(describe(e)), None)),
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let server_delay = retry_after(response.headers());
        let text = match tokio::time::timeout(self.timeouts.idle_body, response.bytes()).await {
            Ok(Ok(bytes)) => Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Ok(Err(e)) => Err(describe(e)),
            Err(_) => Err("timed out reading the response body".to_owned()),
        };
        if !status.is_success() {
            let body = match &text {
                Ok(text) if !text.trim().is_empty() => excerpt(text.trim()),
                _ => "No response body".to_owned(),
            };
            let error = AuthError::TokenStatus {
                url,
                status: status.as_u16(),
                body: RemoteText::new(body, self.remote_text),
            };
            return Err(if is_retryable_status(status) {
                Attempt::Retryable(error, server_delay)
            } else {
                Attempt::Final(error)
            });
        }
        let text = text.map_err(|message| Attempt::Retryable(request_error(message), None))?;
        parse_token_response(&text).map_err(|reason| {
            Attempt::Final(AuthError::TokenResponse {
                url: url.clone(),
                reason: RemoteText::new(reason, self.remote_text),
            })
        })
    }
}

impl TokenSource for TokenEndpoint {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Token, AuthError>> + Send + '_>> {
        Box::pin(async move {
            tracing::info!(service = self.service, url = %redact_url(&self.url), "Acquiring {} token via OAuth 2.0 client credentials", self.service);
            let result = self.fetch_with_retries().await;
            if let Err(error) = &result {
                tracing::error!(service = self.service, url = %redact_url(&self.url), %error, "Failed to acquire {} token", self.service);
            }
            result
        })
    }
}

enum Attempt {
    /// Worth another try, after the server's `Retry-After` if it sent one.
    Retryable(AuthError, Option<Duration>),
    Final(AuthError),
}

/// `{access_token: string, expires_in: number > 0}`; other fields are ignored. The error names
/// the field, never its value.
fn parse_token_response(text: &str) -> Result<Token, String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("the body is not JSON ({e})"))?;
    let access_token = match json.get("access_token") {
        Some(serde_json::Value::String(token)) if !token.is_empty() => token.clone(),
        Some(_) => return Err("access_token is not a non-empty string".to_owned()),
        None => return Err("missing field access_token".to_owned()),
    };
    let expires_in = match json.get("expires_in") {
        Some(value) => value
            .as_f64()
            .filter(|seconds| seconds.is_finite() && *seconds > 0.0)
            .ok_or_else(|| "expires_in is not a positive number".to_owned())?,
        None => return Err("missing field expires_in".to_owned()),
    };
    let lifetime = Duration::try_from_secs_f64(expires_in).unwrap_or(Duration::MAX);
    Ok(Token {
        access_token: SecretString::from(access_token),
        expires_at: Instant::now().checked_add(lifetime),
    })
}

fn excerpt(text: &str) -> String {
    const MAX: usize = 512;
    if text.chars().count() <= MAX {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(MAX - 1).collect();
    short.push('…');
    short
}

fn describe(error: reqwest::Error) -> String {
    error_chain(&error.without_url())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn parses_a_token_response() {
        let token = parse_token_response(
            r#"{"access_token":"abc","expires_in":3600,"token_type":"Bearer"}"#,
        )
        .unwrap();
        assert_eq!(token.access_token.expose_secret(), "abc");
        let remaining = token.expires_at.unwrap() - Instant::now();
        assert!(remaining > Duration::from_secs(3590) && remaining <= Duration::from_secs(3600));
    }

    #[test]
    fn names_the_missing_field() {
        let err = parse_token_response(r#"{"expires_in":3600}"#).unwrap_err();
        assert!(err.contains("access_token"), "{err}");
        let err = parse_token_response(r#"{"access_token":"abc"}"#).unwrap_err();
        assert!(err.contains("expires_in"), "{err}");
        let err =
            parse_token_response(r#"{"access_token":"abc","expires_in":"soon"}"#).unwrap_err();
        assert!(err.contains("expires_in"), "{err}");
        let err = parse_token_response(r#"{"access_token":42,"expires_in":1}"#).unwrap_err();
        assert!(err.contains("access_token"), "{err}");
    }

    #[test]
    fn a_non_json_body_is_an_error_without_its_content() {
        let err = parse_token_response("<html>token=leaked</html>").unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
        assert!(!err.contains("leaked"), "{err}");
    }

    #[test]
    fn debug_of_a_token_request_hides_the_secret() {
        let request = TokenRequest::FormClientCredentials {
            client_id: "id".to_owned(),
            client_secret: SecretString::from("client-secret-value"),
            extra: vec![("scope".to_owned(), "READ".to_owned())],
        };
        assert!(!format!("{request:?}").contains("client-secret-value"));
        let request = TokenRequest::JsonClientCredentials {
            client_id: "id".to_owned(),
            client_secret: SecretString::from("client-secret-value"),
        };
        assert!(!format!("{request:?}").contains("client-secret-value"));
    }
}

//! The OAuth 2.0 client-credentials token request: the only `POST` the Confluence side ever sends.

use std::future::Future;
use std::pin::Pin;

use secrecy::SecretString;

use crate::{AuthError, Token, TokenSource, TransportConfig};

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
}

/// `POST`s a [`TokenRequest`] to one URL, retrying transport errors, 429 and 5xx with backoff;
/// parses `{access_token, expires_in}`. Uses the proxy, TLS and timeouts of a
/// [`TransportConfig`] but not its rate limiter.
#[derive(Debug)]
pub struct TokenEndpoint {
    url: url::Url,
    request: TokenRequest,
}

impl TokenEndpoint {
    pub fn new(
        config: &TransportConfig,
        url: url::Url,
        request: TokenRequest,
    ) -> Result<Self, crate::TransportError> {
        let _ = config;
        Ok(Self { url, request })
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }
}

impl TokenSource for TokenEndpoint {
    fn fetch(&self) -> Pin<Box<dyn Future<Output = Result<Token, AuthError>> + Send + '_>> {
        let _ = &self.request;
        unimplemented!("http-transport helper")
    }
}

//! The tenant's `unique:` block as a typed value, and its validation.

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::time::Duration;

use http::{HeaderName, HeaderValue};
use http_transport::{ExposeSecret, SecretString, TransportConfig};
use url::Url;

/// The default of `unique.apiRateLimitPerMinute`, as in the reference connector.
pub const DEFAULT_API_RATE_LIMIT_PER_MINUTE: NonZeroU32 = match NonZeroU32::new(100) {
    Some(n) => n,
    None => unreachable!(),
};

/// The service id every cluster-local request carries; Unique uses it to tell connectors apart.
pub const SERVICE_ID: &str = "confluence-connector";

/// Everything one tenant's [`crate::UniqueClient`] needs. `Debug` never shows a secret: the
/// credentials are [`SecretString`]s.
#[derive(Debug, Clone)]
pub struct UniqueConfig {
    /// `unique.serviceAuthMode` with its credentials.
    pub auth: UniqueAuth,
    /// `unique.ingestionServiceBaseUrl`, without a trailing `/`. Receives the GraphQL calls for
    /// content **and scopes**, the file diff, and (cluster-local) the uploads. May carry a path.
    pub ingestion_service_base_url: String,
    /// `unique.scopeManagementServiceBaseUrl`, without a trailing `/`. Receives only the
    /// current-user query and the health ping.
    pub scope_management_service_base_url: String,
    /// `unique.apiRateLimitPerMinute`: one smooth budget for every request of the tenant
    /// (retries included). Health pings and token requests do not spend it.
    pub api_rate_limit_per_minute: NonZeroU32,
    /// Proxy, extra CA, timeouts and retry policy. The client overrides `service` and
    /// `rate_limit_per_minute`; in cluster-local mode it also drops the proxy (in-cluster traffic
    /// never leaves through it) and allows plain HTTP (in-cluster services speak `http://`).
    pub transport: TransportConfig,
}

impl UniqueConfig {
    /// A config with the reference defaults: 100 requests per minute, default transport settings.
    pub fn new(
        auth: UniqueAuth,
        ingestion_service_base_url: impl Into<String>,
        scope_management_service_base_url: impl Into<String>,
    ) -> Self {
        Self {
            auth,
            ingestion_service_base_url: ingestion_service_base_url.into(),
            scope_management_service_base_url: scope_management_service_base_url.into(),
            api_rate_limit_per_minute: DEFAULT_API_RATE_LIMIT_PER_MINUTE,
            transport: TransportConfig::new("unique", DEFAULT_API_RATE_LIMIT_PER_MINUTE),
        }
    }

    /// Checks every field and returns *all* problems, each with its YAML path, so an operator
    /// can fix a tenant file in one go.
    pub fn validate(&self) -> Result<(), ConfigErrors> {
        let mut problems = Vec::new();
        check_base_url(
            "unique.ingestionServiceBaseUrl",
            &self.ingestion_service_base_url,
            &mut problems,
        );
        check_base_url(
            "unique.scopeManagementServiceBaseUrl",
            &self.scope_management_service_base_url,
            &mut problems,
        );
        match &self.auth {
            UniqueAuth::ClusterLocal { extra_headers } => {
                for required in ["x-company-id", "x-user-id"] {
                    let present = extra_headers
                        .iter()
                        .any(|(k, v)| k.eq_ignore_ascii_case(required) && !v.trim().is_empty());
                    if !present {
                        problems.push(ConfigProblem::new(
                            "unique.serviceExtraHeaders",
                            format!("must contain a non-empty `{required}` in cluster_local mode"),
                        ));
                    }
                }
                for (name, value) in extra_headers {
                    if HeaderName::from_bytes(name.as_bytes()).is_err() {
                        problems.push(ConfigProblem::new(
                            "unique.serviceExtraHeaders",
                            format!("`{name}` is not a valid HTTP header name"),
                        ));
                    } else if HeaderValue::from_str(value).is_err() {
                        problems.push(ConfigProblem::new(
                            "unique.serviceExtraHeaders",
                            format!("the value of `{name}` is not a valid HTTP header value"),
                        ));
                    }
                }
            }
            UniqueAuth::External(external) => {
                match Url::parse(&external.token_url) {
                    Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                    Ok(url) => problems.push(ConfigProblem::new(
                        "unique.zitadelOauthTokenUrl",
                        format!("scheme `{}` is not http or https", url.scheme()),
                    )),
                    Err(e) => problems.push(ConfigProblem::new(
                        "unique.zitadelOauthTokenUrl",
                        format!("`{}` is not a URL: {e}", external.token_url),
                    )),
                }
                if external.client_id.trim().is_empty() {
                    problems.push(ConfigProblem::new("unique.zitadelClientId", "is empty"));
                }
                if external.client_secret.expose_secret().is_empty() {
                    problems.push(ConfigProblem::new("unique.zitadelClientSecret", "is empty"));
                }
                if external.project_id.expose_secret().is_empty() {
                    problems.push(ConfigProblem::new("unique.zitadelProjectId", "is empty"));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors { problems })
        }
    }
}

fn check_base_url(path: &'static str, value: &str, problems: &mut Vec<ConfigProblem>) {
    if value.ends_with('/') {
        problems.push(ConfigProblem::new(
            path,
            format!("`{value}` must not end with `/`"),
        ));
    }
    match Url::parse(value) {
        Ok(url) => {
            if !matches!(url.scheme(), "http" | "https") {
                problems.push(ConfigProblem::new(
                    path,
                    format!("scheme `{}` is not http or https", url.scheme()),
                ));
            }
            if url.query().is_some() || url.fragment().is_some() {
                problems.push(ConfigProblem::new(
                    path,
                    format!("`{value}` must not carry a query or fragment"),
                ));
            }
            if url.cannot_be_a_base() || url.host().is_none() {
                problems.push(ConfigProblem::new(path, format!("`{value}` has no host")));
            }
        }
        Err(e) => problems.push(ConfigProblem::new(
            path,
            format!("`{value}` is not a URL: {e}"),
        )),
    }
}

/// `unique.serviceAuthMode` and the credentials that go with it.
#[derive(Debug, Clone)]
pub enum UniqueAuth {
    /// `cluster_local`: identity by headers, no token. Every API request carries
    /// `x-service-id: confluence-connector` and then every entry of `serviceExtraHeaders`
    /// (which must include `x-company-id` and `x-user-id`; an entry may override `x-service-id`,
    /// as in the reference).
    ClusterLocal {
        extra_headers: BTreeMap<String, String>,
    },
    /// `external`: a Zitadel client-credentials token as `Authorization: Bearer`, through the
    /// proxy.
    External(ExternalAuth),
}

/// The Zitadel client of `external` mode.
#[derive(Debug, Clone)]
pub struct ExternalAuth {
    /// `unique.zitadelOauthTokenUrl`; any query string is dropped when the token is requested.
    pub token_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    /// Goes into the requested scope `urn:zitadel:iam:org:project:id:<id>:aud`.
    pub project_id: SecretString,
    /// A cached token is replaced this long before it expires, so that no request is sent with a
    /// token that expires in flight.
    pub refresh_before: Duration,
}

impl ExternalAuth {
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
        project_id: SecretString,
    ) -> Self {
        Self {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            project_id,
            refresh_before: Duration::from_secs(60),
        }
    }
}

/// Every problem found in a [`UniqueConfig`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    pub problems: Vec<ConfigProblem>,
}

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// One invalid field: its YAML path and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub path: &'static str,
    pub message: String,
}

impl ConfigProblem {
    fn new(path: &'static str, message: impl Into<String>) -> Self {
        Self {
            path,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cluster_local() -> UniqueAuth {
        UniqueAuth::ClusterLocal {
            extra_headers: BTreeMap::from([
                ("x-company-id".to_owned(), "company".to_owned()),
                ("x-user-id".to_owned(), "user".to_owned()),
            ]),
        }
    }

    fn external() -> UniqueAuth {
        UniqueAuth::External(ExternalAuth::new(
            "https://auth.example.com/oauth/v2/token",
            "client-id",
            SecretString::from("very-secret-client-secret"),
            SecretString::from("secret-project-42"),
        ))
    }

    #[test]
    fn accepts_base_urls_with_a_path_and_no_trailing_slash() {
        let config = UniqueConfig::new(
            external(),
            "https://gateway.example.com/ingestion",
            "https://gateway.example.com/scope-management",
        );
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn reports_every_invalid_field_with_its_path() {
        let config = UniqueConfig::new(
            UniqueAuth::ClusterLocal {
                extra_headers: BTreeMap::from([("x-user-id".to_owned(), "u".to_owned())]),
            },
            "http://ingestion:8080/",
            "not a url",
        );
        let errors = config.validate().unwrap_err();
        let paths: Vec<_> = errors.problems.iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "unique.ingestionServiceBaseUrl",
                "unique.scopeManagementServiceBaseUrl",
                "unique.serviceExtraHeaders"
            ]
        );
        assert!(errors.to_string().contains("x-company-id"), "{errors}");
    }

    #[test]
    fn cluster_local_requires_company_and_user_headers() {
        let config = UniqueConfig::new(
            cluster_local(),
            "http://node-ingestion:8080",
            "http://node-scope-management:8081",
        );
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let config = UniqueConfig::new(external(), "https://a.example", "https://b.example");
        let debug = format!("{config:?}");
        assert!(!debug.contains("very-secret-client-secret"), "{debug}");
        assert!(!debug.contains("secret-project-42"), "{debug}");
        assert!(debug.contains("client-id"), "{debug}");
    }

    #[test]
    fn external_mode_rejects_empty_credentials() {
        let config = UniqueConfig::new(
            UniqueAuth::External(ExternalAuth::new(
                "ftp://auth",
                "",
                SecretString::from(""),
                SecretString::from(""),
            )),
            "https://a.example",
            "https://b.example",
        );
        let errors = config.validate().unwrap_err();
        let paths: Vec<_> = errors.problems.iter().map(|p| p.path).collect();
        assert_eq!(
            paths,
            [
                "unique.zitadelOauthTokenUrl",
                "unique.zitadelClientId",
                "unique.zitadelClientSecret",
                "unique.zitadelProjectId"
            ]
        );
    }
}

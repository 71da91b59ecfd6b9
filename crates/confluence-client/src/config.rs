//! Typed client configuration. The connector maps the tenant YAML onto it; the client validates
//! it as a whole and reports every problem with its path.

use std::num::NonZeroU32;
use std::time::Duration;

use http_transport::{
    Disclosure, ExposeSecret, PlainHttpPolicy, ProxyConfig, RetryPolicy, SecretString, Timeouts,
    TransportConfig,
};

use crate::error::ConfigProblem;
use crate::model::InstanceType;
use crate::ConfluenceError;

/// Where Cloud API calls and tokens go unless overridden (the sandbox overrides both).
pub const DEFAULT_API_GATEWAY_URL: &str = "https://api.atlassian.com";
/// The reference connector's Cloud token URL. Atlassian documents
/// `https://auth.atlassian.com/oauth/token` for service accounts: set `token_url` for that.
pub const DEFAULT_CLOUD_TOKEN_URL: &str = "https://api.atlassian.com/oauth/token";
/// v2 `id=` filters and `limit` accept at most 250.
pub const CLOUD_MAX_BODY_BATCH: usize = 250;
/// Data Center answers a search with bodies 50 items at a time whatever it is asked; a larger
/// batch would rely on the server's `next` arithmetic, which some versions get wrong.
pub const DATA_CENTER_MAX_BODY_BATCH: usize = crate::limits::DC_LIMIT_WITH_BODY;
/// Where a Data Center instance issues client-credentials tokens, below its base URL.
pub const DATA_CENTER_TOKEN_PATH: &str = "/rest/oauth2/latest/token";
/// Space types synced unless configured: the non-personal ones of each edition.
pub const CLOUD_DEFAULT_SPACE_TYPES: &[&str] = &["global", "collaboration", "knowledge_base"];
pub const DATA_CENTER_DEFAULT_SPACE_TYPES: &[&str] = &["global"];

/// How the client authenticates. Cloud allows only `OAuth2lo`.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// OAuth 2.0 client credentials (2LO). Cloud: JSON body to the gateway's token URL. Data
    /// Center: form body with `scope=READ` to `<baseUrl>/rest/oauth2/latest/token`.
    OAuth2lo {
        client_id: String,
        client_secret: SecretString,
    },
    /// Data Center personal access token, sent as `Bearer <token>`.
    Pat { token: SecretString },
    /// Data Center basic auth.
    Basic {
        username: SecretString,
        password: SecretString,
    },
}

impl AuthConfig {
    pub fn mode(&self) -> &'static str {
        match self {
            AuthConfig::OAuth2lo { .. } => "oauth_2lo",
            AuthConfig::Pat { .. } => "pat",
            AuthConfig::Basic { .. } => "basic",
        }
    }
}

/// One tenant's Confluence side.
#[derive(Debug, Clone)]
pub struct ConfluenceConfig {
    pub instance_type: InstanceType,
    /// The site's base URL, no trailing `/` (Cloud: `https://<x>.atlassian.net`; Data Center:
    /// including any context path). Cloud uses it for web links only.
    pub base_url: String,
    /// Cloud only, required there.
    pub cloud_id: Option<String>,
    /// Cloud only: the gateway; API calls go to `<this>/ex/confluence/<cloudId>`.
    pub api_gateway_url: String,
    /// OAuth token URL; `None` → Cloud [`DEFAULT_CLOUD_TOKEN_URL`], Data Center
    /// `<baseUrl>/rest/oauth2/latest/token`.
    pub token_url: Option<String>,
    pub auth: AuthConfig,
    /// Label that ingests one page (`ai-ingest`).
    pub ingest_single_label: String,
    /// Label that ingests a page and all its descendants (`ai-ingest-all`).
    pub ingest_all_label: String,
    /// Whether searches expand attachments and the >25 completion runs.
    pub attachments_enabled: bool,
    pub rate_limit_per_minute: NonZeroU32,
    /// Space types the label search accepts; `None` → Cloud `global, collaboration,
    /// knowledge_base`, Data Center `global`.
    pub space_types: Option<Vec<String>>,
    /// Most pages one `_links.next` chain may have before the listing fails.
    pub page_cap: usize,
    /// Ids per body request; `None` → 250 on Cloud (the v2 maximum), 50 on Data Center (its cap
    /// for searches with bodies). Larger values are lowered to those.
    pub body_batch_size: Option<usize>,
    /// A cached OAuth token is refreshed this long before it expires.
    pub token_refresh_before: Duration,
    pub proxy: ProxyConfig,
    /// Extra PEM root certificates (an internal CA for Data Center or a TLS-inspecting proxy).
    pub extra_ca_pem: Option<Vec<u8>>,
    pub timeouts: Timeouts,
    pub retry: RetryPolicy,
    /// Plain `http://` allowed beyond loopback (only for lab setups).
    pub plain_http: PlainHttpPolicy,
    /// How errors show what Confluence wrote back (see [`http_transport::RemoteText`]); the
    /// connector hands down its `conceal`/`disclose` policy.
    pub remote_text: Disclosure,
    /// Discovery and descendant searches also expand each page's view restriction and
    /// ancestors into [`crate::Page::access`] (`permissions.mode: page`). Off: not one request
    /// or parameter changes.
    pub view_restrictions: bool,
}

impl ConfluenceConfig {
    /// A Cloud tenant with the defaults of the reference connector.
    pub fn cloud(
        base_url: impl Into<String>,
        cloud_id: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: SecretString,
    ) -> Self {
        Self::with_defaults(
            InstanceType::Cloud,
            base_url.into(),
            Some(cloud_id.into()),
            AuthConfig::OAuth2lo {
                client_id: client_id.into(),
                client_secret,
            },
        )
    }

    /// A Data Center tenant with the defaults of the reference connector.
    pub fn data_center(base_url: impl Into<String>, auth: AuthConfig) -> Self {
        Self::with_defaults(InstanceType::DataCenter, base_url.into(), None, auth)
    }

    fn with_defaults(
        instance_type: InstanceType,
        base_url: String,
        cloud_id: Option<String>,
        auth: AuthConfig,
    ) -> Self {
        Self {
            instance_type,
            base_url,
            cloud_id,
            api_gateway_url: DEFAULT_API_GATEWAY_URL.to_owned(),
            token_url: None,
            auth,
            ingest_single_label: "ai-ingest".to_owned(),
            ingest_all_label: "ai-ingest-all".to_owned(),
            attachments_enabled: true,
            rate_limit_per_minute: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
            space_types: None,
            page_cap: 10_000,
            body_batch_size: None,
            token_refresh_before: Duration::from_secs(300),
            proxy: ProxyConfig::None,
            extra_ca_pem: None,
            timeouts: Timeouts::default(),
            retry: RetryPolicy::default(),
            plain_http: PlainHttpPolicy::LoopbackOnly,
            remote_text: Disclosure::default(),
            view_restrictions: false,
        }
    }

    /// The space types in effect.
    pub fn effective_space_types(&self) -> Vec<String> {
        match &self.space_types {
            Some(types) => types.clone(),
            None => match self.instance_type {
                InstanceType::Cloud => CLOUD_DEFAULT_SPACE_TYPES,
                InstanceType::DataCenter => DATA_CENTER_DEFAULT_SPACE_TYPES,
            }
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
        }
    }

    pub fn effective_body_batch_size(&self) -> usize {
        match (self.body_batch_size, self.instance_type) {
            (Some(n), InstanceType::Cloud) => n.min(CLOUD_MAX_BODY_BATCH),
            (Some(n), InstanceType::DataCenter) => n.min(DATA_CENTER_MAX_BODY_BATCH),
            (None, InstanceType::Cloud) => CLOUD_MAX_BODY_BATCH,
            (None, InstanceType::DataCenter) => DATA_CENTER_MAX_BODY_BATCH,
        }
    }

    pub fn effective_token_url(&self) -> String {
        match (&self.token_url, self.instance_type) {
            (Some(url), _) => url.clone(),
            (None, InstanceType::Cloud) => DEFAULT_CLOUD_TOKEN_URL.to_owned(),
            (None, InstanceType::DataCenter) => {
                format!("{}{DATA_CENTER_TOKEN_PATH}", self.base_url)
            }
        }
    }

    /// The API root that request URLs start with and relative `next` links are appended to:
    /// Cloud `<gateway>/ex/confluence/<cloudId>`, Data Center the base URL.
    pub fn api_root(&self) -> String {
        match self.instance_type {
            InstanceType::Cloud => format!(
                "{}/ex/confluence/{}",
                self.api_gateway_url.trim_end_matches('/'),
                self.cloud_id.as_deref().unwrap_or_default().trim()
            ),
            InstanceType::DataCenter => self.base_url.clone(),
        }
    }

    /// How errors name the instance.
    pub fn instance_label(&self) -> String {
        match self.instance_type {
            InstanceType::Cloud => format!(
                "Confluence Cloud {} (cloudId {})",
                self.base_url,
                self.cloud_id.as_deref().unwrap_or_default()
            ),
            InstanceType::DataCenter => format!("Confluence Data Center {}", self.base_url),
        }
    }

    /// The transport settings for this tenant's Confluence traffic.
    pub fn transport_config(&self) -> TransportConfig {
        let mut config = TransportConfig::new("confluence", self.rate_limit_per_minute);
        config.proxy = self.proxy.clone();
        config.extra_ca_pem = self.extra_ca_pem.clone();
        config.timeouts = self.timeouts;
        config.retry = self.retry;
        config.plain_http = self.plain_http;
        config.remote_text = self.remote_text;
        config
    }

    /// Checks everything and returns every problem found.
    pub fn validate(&self) -> Result<(), ConfluenceError> {
        let mut problems = Vec::new();
        let mut problem = |path: &str, message: String| {
            problems.push(ConfigProblem {
                path: path.to_owned(),
                message,
            })
        };

        check_url(&self.base_url, "baseUrl", &mut problem);
        if self.base_url.ends_with('/') {
            problem("baseUrl", "must not end with '/'".to_owned());
        }
        if let Some(url) = &self.token_url {
            check_url(url, "auth.tokenUrl", &mut problem);
        }
        match self.instance_type {
            InstanceType::Cloud => {
                match self.cloud_id.as_deref().map(str::trim) {
                    None | Some("") => problem("cloudId", "required for Cloud".to_owned()),
                    Some(id) if !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
                        problem(
                            "cloudId",
                            "must contain only letters, digits and '-'".to_owned(),
                        )
                    }
                    Some(_) => {}
                }
                check_url(&self.api_gateway_url, "apiGatewayUrl", &mut problem);
                if !matches!(self.auth, AuthConfig::OAuth2lo { .. }) {
                    problem(
                        "auth.mode",
                        format!(
                            "{} is not supported on Cloud; use oauth_2lo",
                            self.auth.mode()
                        ),
                    );
                }
            }
            InstanceType::DataCenter => {
                if self.cloud_id.is_some() {
                    problem("cloudId", "only valid for Cloud".to_owned());
                }
            }
        }
        match &self.auth {
            AuthConfig::OAuth2lo {
                client_id,
                client_secret,
            } => {
                if client_id.trim().is_empty() {
                    problem("auth.clientId", "must not be empty".to_owned());
                }
                check_secret(client_secret, "auth.clientSecret", &mut problem);
            }
            AuthConfig::Pat { token } => check_secret(token, "auth.token", &mut problem),
            AuthConfig::Basic { username, password } => {
                check_secret(username, "auth.username", &mut problem);
                check_secret(password, "auth.password", &mut problem);
            }
        }
        if self.ingest_single_label.trim().is_empty() {
            problem("ingestSingleLabel", "must not be empty".to_owned());
        }
        if self.ingest_all_label.trim().is_empty() {
            problem("ingestAllLabel", "must not be empty".to_owned());
        }
        let types = self.effective_space_types();
        if types.is_empty() {
            problem(
                "spaceTypes",
                "at least one space type is required".to_owned(),
            );
        }
        for t in &types {
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
                problem(
                    "spaceTypes",
                    format!("{t:?} is not a space type (lower-case letters and '_')"),
                );
            }
        }
        if self.page_cap == 0 {
            problem("pageCap", "must be at least 1".to_owned());
        }
        if self.body_batch_size == Some(0) {
            problem("bodyBatchSize", "must be at least 1".to_owned());
        }

        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfluenceError::Config { problems })
        }
    }
}

fn check_url(value: &str, path: &str, problem: &mut impl FnMut(&str, String)) {
    match url::Url::parse(value) {
        Ok(url) if !url.username().is_empty() || url.password().is_some() => problem(
            path,
            "must not contain credentials; configure them under auth".to_owned(),
        ),
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {}
        Ok(_) => problem(path, format!("{value:?} is not an http(s) URL")),
        Err(e) => problem(path, format!("{value:?} is not a valid URL: {e}")),
    }
}

fn check_secret(secret: &SecretString, path: &str, problem: &mut impl FnMut(&str, String)) {
    if secret.expose_secret().trim().is_empty() {
        problem(path, "must not be empty".to_owned());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    fn cloud() -> ConfluenceConfig {
        ConfluenceConfig::cloud(
            "https://tenant1.atlassian.net",
            "cloud-1",
            "client",
            secret("very-secret-value"),
        )
    }

    fn problems(config: &ConfluenceConfig) -> Vec<ConfigProblem> {
        match config.validate() {
            Err(ConfluenceError::Config { problems }) => problems,
            other => panic!("expected config problems, got {other:?}"),
        }
    }

    #[test]
    fn cloud_defaults_are_valid_and_point_at_the_gateway() {
        let config = cloud();
        config.validate().unwrap();
        assert_eq!(
            config.api_root(),
            "https://api.atlassian.com/ex/confluence/cloud-1"
        );
        assert_eq!(
            config.effective_token_url(),
            "https://api.atlassian.com/oauth/token"
        );
        assert_eq!(
            config.effective_space_types(),
            ["global", "collaboration", "knowledge_base"]
        );
        assert_eq!(config.effective_body_batch_size(), 250);
    }

    #[test]
    fn data_center_defaults() {
        let config = ConfluenceConfig::data_center(
            "https://confluence.acme.com/wiki",
            AuthConfig::Pat {
                token: secret("pat"),
            },
        );
        config.validate().unwrap();
        assert_eq!(config.api_root(), "https://confluence.acme.com/wiki");
        assert_eq!(
            config.effective_token_url(),
            "https://confluence.acme.com/wiki/rest/oauth2/latest/token"
        );
        assert_eq!(config.effective_space_types(), ["global"]);
    }

    #[test]
    fn cloud_rejects_pat_and_basic() {
        for auth in [
            AuthConfig::Pat { token: secret("t") },
            AuthConfig::Basic {
                username: secret("u"),
                password: secret("p"),
            },
        ] {
            let mut config = cloud();
            config.auth = auth;
            let found = problems(&config);
            assert!(found.iter().any(|p| p.path == "auth.mode"), "{found:?}");
        }
    }

    #[test]
    fn data_center_accepts_every_mode() {
        for auth in [
            AuthConfig::OAuth2lo {
                client_id: "id".into(),
                client_secret: secret("s"),
            },
            AuthConfig::Pat { token: secret("t") },
            AuthConfig::Basic {
                username: secret("u"),
                password: secret("p"),
            },
        ] {
            ConfluenceConfig::data_center("https://dc.example.com", auth)
                .validate()
                .unwrap();
        }
    }

    #[test]
    fn reports_every_problem_at_once() {
        let mut config = cloud();
        config.base_url = "https://tenant1.atlassian.net/".into();
        config.cloud_id = Some("  ".into());
        config.ingest_single_label = String::new();
        config.space_types = Some(vec!["global) OR (x".into()]);
        config.page_cap = 0;
        let paths: Vec<String> = problems(&config).into_iter().map(|p| p.path).collect();
        for expected in [
            "baseUrl",
            "cloudId",
            "ingestSingleLabel",
            "spaceTypes",
            "pageCap",
        ] {
            assert!(
                paths.iter().any(|p| p == expected),
                "{expected} in {paths:?}"
            );
        }
    }

    #[test]
    fn rejects_invalid_urls_and_empty_secrets() {
        let mut config = cloud();
        config.base_url = "not a url".into();
        config.auth = AuthConfig::OAuth2lo {
            client_id: " ".into(),
            client_secret: secret("  \n"),
        };
        let paths: Vec<String> = problems(&config).into_iter().map(|p| p.path).collect();
        assert!(paths.contains(&"baseUrl".to_owned()));
        assert!(paths.contains(&"auth.clientId".to_owned()));
        assert!(paths.contains(&"auth.clientSecret".to_owned()));
    }

    #[test]
    fn urls_with_credentials_are_rejected_without_echoing_them() {
        let mut config = cloud();
        config.base_url = "https://admin:hunter2@tenant1.atlassian.net".into();
        let found = problems(&config);
        assert!(found.iter().any(|p| p.path == "baseUrl"));
        assert!(!config
            .validate()
            .unwrap_err()
            .to_string()
            .contains("hunter2"));
    }

    #[test]
    fn cloud_body_batch_is_capped_at_the_v2_maximum() {
        let mut config = cloud();
        config.body_batch_size = Some(1000);
        assert_eq!(config.effective_body_batch_size(), 250);
    }

    #[test]
    fn data_center_body_batch_is_capped_at_the_search_cap_with_bodies() {
        let mut config = cloud();
        config.instance_type = InstanceType::DataCenter;
        assert_eq!(config.effective_body_batch_size(), 50);
        config.body_batch_size = Some(100);
        assert_eq!(config.effective_body_batch_size(), 50);
        config.body_batch_size = Some(20);
        assert_eq!(config.effective_body_batch_size(), 20);
    }

    #[test]
    fn debug_never_shows_secrets() {
        let mut config = cloud();
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret-value"), "{shown}");
        config.instance_type = InstanceType::DataCenter;
        config.auth = AuthConfig::Basic {
            username: secret("the-user"),
            password: secret("pass-word-123"),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("pass-word-123"));
        assert!(!shown.contains("the-user"));
        let err = config.validate().unwrap_err().to_string();
        assert!(!err.contains("pass-word-123"));
    }
}

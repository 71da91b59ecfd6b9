//! What can go wrong talking to Confluence, in terms an operator can act on. No variant carries a
//! secret: URLs and endpoint paths only (our URLs never contain credentials).

use std::time::Duration;

use http_transport::{AuthError, PaginationError, RemoteText, TransportError};

use crate::model::InstanceType;

/// One invalid configuration field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// Dotted path of the field (`auth.mode`, `cloudId`, …).
    pub path: String,
    pub message: String,
}

impl std::fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// What an operator grants after a 403, in the flavour's own terms.
fn forbidden_fix(instance_type: InstanceType) -> &'static str {
    match instance_type {
        InstanceType::Cloud => {
            "grant the app or user read access (search:confluence plus the granular \
             read:page/attachment/space/label:confluence scopes; see \
             docs/operator/authentication.md)"
        }
        InstanceType::DataCenter => {
            "the account the credentials belong to (the token's or password's user; for oauth_2lo \
             the service account or the incoming application link's user) needs the Can use \
             global permission (without it Data Center answers \"Current user not permitted to \
             use Confluence\") and View on the space, and an oauth_2lo client the READ scope; an \
             admin may also have blocked this endpoint (see docs/operator/authentication.md, \
             Confluence Data Center)"
        }
    }
}

fn join(problems: &[ConfigProblem]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[derive(Debug, thiserror::Error)]
pub enum ConfluenceError {
    /// Every problem found, not just the first.
    #[error("invalid Confluence configuration: {}", join(.problems))]
    Config { problems: Vec<ConfigProblem> },

    /// 401 even after a fresh token (or with static credentials).
    #[error("{instance} rejected our credentials at {endpoint}: check the client id and secret, token or password")]
    Unauthorized {
        instance: String,
        endpoint: String,
        #[source]
        source: Box<TransportError>,
    },

    /// 401 "scope does not match" (Cloud): the credentials are fine, but the OAuth app was not
    /// given the scope this endpoint requires. A new token would carry the same scopes.
    #[error("{instance} refused {endpoint} (401 \"scope does not match\"): the OAuth app lacks the scope {what} requires: add {scopes} to the app's permissions in the Atlassian developer console; the connector's next token carries it (see docs/operator/authentication.md)")]
    MissingScope {
        instance: String,
        endpoint: String,
        /// The endpoint in words (`attachment listings (v2 pages/{id}/attachments)`).
        what: String,
        /// The scope to add, with its classic alternative where there is one.
        scopes: String,
        #[source]
        source: Box<TransportError>,
    },

    /// The OAuth token endpoint refused the client credentials (400/401/403).
    #[error("{instance}: the token endpoint {token_url} refused our client credentials (HTTP {status}): check the client id and secret")]
    TokenRejected {
        instance: String,
        token_url: String,
        status: u16,
        #[source]
        source: Box<TransportError>,
    },

    /// 403: the credentials work but lack a permission or OAuth scope. The fix differs by
    /// flavour: Cloud grants OAuth scopes to the app, Data Center permissions to a user.
    #[error("{instance} refused access to {endpoint} (403): {}", forbidden_fix(*.instance_type))]
    Forbidden {
        instance: String,
        instance_type: InstanceType,
        endpoint: String,
        #[source]
        source: Box<TransportError>,
    },

    /// 410: Atlassian removed this endpoint. Retrying cannot help; the client must change.
    #[error("{instance} no longer serves {endpoint} (410 Gone): this Confluence API endpoint has been removed")]
    EndpointGone {
        instance: String,
        endpoint: String,
        #[source]
        source: Box<TransportError>,
    },

    /// 429 with an absurd `Retry-After` or `X-RateLimit-Limit: 0`.
    #[error("{instance} blocked this account (429, Retry-After {retry_after:?}) at {endpoint}: ask a Confluence admin to lift the rate-limit block")]
    Blocked {
        instance: String,
        endpoint: String,
        retry_after: Duration,
        #[source]
        source: Box<TransportError>,
    },

    /// A `_links.next` chain that repeats, leaves the API origin or exceeds the page cap.
    #[error("listing {endpoint} on {instance} stopped: {source}")]
    Pagination {
        instance: String,
        endpoint: String,
        #[source]
        source: Box<PaginationError>,
    },

    /// A body that is not the JSON we expect. The decoder's reason may quote the body.
    #[error("unexpected response from {endpoint}: {reason}")]
    Decode {
        endpoint: String,
        reason: RemoteText,
    },

    /// A body batch answered with content of a type outside page/blogpost/folder/database/
    /// whiteboard/embed (searches skip such content instead; see `ContentType::Unknown`).
    #[error("unknown Confluence content type {value:?} for content {content_id} in {endpoint}")]
    UnknownContentType {
        endpoint: String,
        content_id: String,
        value: String,
    },

    /// The Data Center application-links manifest did not identify the instance.
    #[error("the manifest at {endpoint} did not contain a valid \"id\" field")]
    InvalidManifest { endpoint: String },

    /// Confluence cannot serve a permission read to this connector as configured: Data Center
    /// below 9.1 has no space-permission resource, and Data Center refuses OAuth 2.0 on the
    /// permission, restriction, group and user resources. Retrying cannot help; `fix` says what
    /// does.
    #[error("{instance} cannot serve {endpoint} to this connector: {fix}")]
    PermissionReadsUnsupported {
        instance: String,
        endpoint: String,
        fix: String,
        #[source]
        source: Box<TransportError>,
    },

    /// Any other transport failure (connection, timeout, retries exhausted, token endpoint, …).
    #[error("request to {endpoint} on {instance} failed: {source}")]
    Transport {
        instance: String,
        endpoint: String,
        #[source]
        source: Box<TransportError>,
    },
}

impl ConfluenceError {
    /// Sorts a transport error into the variant an operator acts on.
    pub(crate) fn from_transport(
        instance_type: InstanceType,
        instance: &str,
        endpoint: &str,
        source: TransportError,
    ) -> Self {
        let instance = instance.to_owned();
        let endpoint = endpoint.to_owned();
        let status = source.status().map(|s| s.as_u16());
        let source = Box::new(source);
        match source.as_ref() {
            TransportError::ScopeMismatch { .. } => {
                let (what, scopes) = match crate::scopes::required_scopes(&endpoint) {
                    Some(required) => (required.what.to_owned(), required.to_string()),
                    None => (
                        "this endpoint".to_owned(),
                        "the scope Atlassian documents for it".to_owned(),
                    ),
                };
                Self::MissingScope {
                    instance,
                    endpoint,
                    what,
                    scopes,
                    source,
                }
            }
            TransportError::Unauthorized { .. } => Self::Unauthorized {
                instance,
                endpoint,
                source,
            },
            TransportError::Gone { .. } => Self::EndpointGone {
                instance,
                endpoint,
                source,
            },
            TransportError::Blocked { retry_after, .. } => Self::Blocked {
                instance,
                endpoint,
                retry_after: *retry_after,
                source,
            },
            TransportError::Auth(AuthError::TokenStatus { url, status, .. })
                if matches!(status, 400 | 401 | 403) =>
            {
                Self::TokenRejected {
                    instance,
                    token_url: url.clone(),
                    status: *status,
                    source,
                }
            }
            TransportError::Decode { reason, .. } => Self::Decode {
                endpoint,
                reason: reason.clone(),
            },
            _ => match status {
                Some(401) => Self::Unauthorized {
                    instance,
                    endpoint,
                    source,
                },
                Some(403) => Self::Forbidden {
                    instance,
                    instance_type,
                    endpoint,
                    source,
                },
                Some(410) => Self::EndpointGone {
                    instance,
                    endpoint,
                    source,
                },
                _ => Self::Transport {
                    instance,
                    endpoint,
                    source,
                },
            },
        }
    }

    /// The content is gone (404): a page or attachment deleted since discovery. Callers skip
    /// the item instead of failing the run.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The HTTP status behind the error, when there was one (404 → the page is gone, …).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Unauthorized { source, .. }
            | Self::MissingScope { source, .. }
            | Self::TokenRejected { source, .. }
            | Self::Forbidden { source, .. }
            | Self::EndpointGone { source, .. }
            | Self::Blocked { source, .. }
            | Self::PermissionReadsUnsupported { source, .. }
            | Self::Transport { source, .. } => source.status().map(|s| s.as_u16()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn gone_names_the_endpoint() {
        let err = ConfluenceError::from_transport(
            InstanceType::Cloud,
            "Confluence Cloud site https://x.atlassian.net",
            "/ex/confluence/c/wiki/rest/api/space",
            TransportError::Gone {
                url: "https://api.atlassian.com/ex/confluence/c/wiki/rest/api/space".into(),
            },
        );
        assert!(matches!(err, ConfluenceError::EndpointGone { .. }));
        assert!(err.to_string().contains("/wiki/rest/api/space"));
        assert!(err.to_string().contains("410"));
    }

    #[test]
    fn status_401_and_403_become_actionable_variants() {
        let status = |code| TransportError::Status {
            url: "u".into(),
            status: StatusCode::from_u16(code).unwrap_or(StatusCode::IM_A_TEAPOT),
            body: http_transport::RemoteText::new("", http_transport::Disclosure::Disclose),
        };
        assert!(matches!(
            ConfluenceError::from_transport(InstanceType::Cloud, "i", "e", status(401)),
            ConfluenceError::Unauthorized { .. }
        ));
        assert!(matches!(
            ConfluenceError::from_transport(InstanceType::Cloud, "i", "e", status(403)),
            ConfluenceError::Forbidden { .. }
        ));
        let not_found = ConfluenceError::from_transport(InstanceType::Cloud, "i", "e", status(404));
        assert!(matches!(not_found, ConfluenceError::Transport { .. }));
        assert_eq!(not_found.status(), Some(404));
        assert!(not_found.is_not_found());
    }

    #[test]
    fn a_scope_mismatch_names_the_scope_to_add() {
        let err = ConfluenceError::from_transport(
            InstanceType::Cloud,
            "Confluence Cloud site https://x.atlassian.net",
            "/ex/confluence/c/wiki/api/v2/pages/100/attachments",
            TransportError::ScopeMismatch {
                service: "confluence",
                url: "https://api.atlassian.com/ex/confluence/c/wiki/api/v2/pages/100/attachments"
                    .into(),
            },
        );
        assert!(matches!(err, ConfluenceError::MissingScope { .. }), "{err}");
        let text = err.to_string();
        assert!(text.contains("add read:attachment:confluence"), "{text}");
        assert!(text.contains("attachment listings"), "{text}");
        assert!(!text.contains("credentials"), "{text}");
        assert_eq!(err.status(), Some(401));
    }

    #[test]
    fn a_403_names_the_flavour_s_own_permissions() {
        let forbidden = |instance_type| {
            ConfluenceError::from_transport(
                instance_type,
                "i",
                "/rest/api/content/search",
                TransportError::Status {
                    url: "u".into(),
                    status: StatusCode::FORBIDDEN,
                    body: http_transport::RemoteText::new("", http_transport::Disclosure::Disclose),
                },
            )
            .to_string()
        };
        let dc = forbidden(InstanceType::DataCenter);
        assert!(
            dc.contains("Can use") && dc.contains("View on the space"),
            "{dc}"
        );
        assert!(
            !dc.contains(":confluence"),
            "Cloud scopes in a DC hint: {dc}"
        );
        let cloud = forbidden(InstanceType::Cloud);
        assert!(cloud.contains("read:page"), "{cloud}");
        assert!(!cloud.contains("Can use"), "{cloud}");
    }

    #[test]
    fn config_error_lists_every_problem() {
        let err = ConfluenceError::Config {
            problems: vec![
                ConfigProblem {
                    path: "cloudId".into(),
                    message: "required".into(),
                },
                ConfigProblem {
                    path: "auth.mode".into(),
                    message: "pat is not allowed".into(),
                },
            ],
        };
        assert_eq!(
            err.to_string(),
            "invalid Confluence configuration: cloudId: required; auth.mode: pat is not allowed"
        );
    }
}

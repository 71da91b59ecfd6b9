//! Cloud OAuth clients and the scopes each gateway route requires.
//!
//! Every Cloud OAuth 2.0 app has the scopes it was given in the developer console; its tokens
//! carry exactly those, and the gateway checks them on every call. A call the token's scopes do
//! not cover gets 401 with `X-Failure-Category: FAILURE_CLIENT_SCOPE_CHECK` and
//! `{"code": 401, "message": "Unauthorized; scope does not match"}` (reported verbatim in
//! kovetskiy/mark#917, Spenhouet/confluence-markdown-exporter#210, sooperset/mcp-atlassian#1323).
//! The answer does not say which scope is missing.
//!
//! The scopes per route are Atlassian's published API descriptions
//! (`shared/reference/atlassian/confluence-cloud-v{1,2}.openapi.json`, `security` of each
//! operation): v2 operations name one granular scope; the 2022 v1 copy names the classic scope
//! only, and the granular alternative of the two v1 operations still used comes from Atlassian's
//! current v1 reference (`read:content-details:confluence` for search, `read:attachment:confluence`
//! for the download). Either satisfies the gateway.
//!
//! On by default, as on the real gateway; the default client (`client_id`) holds every scope, so
//! nothing changes for a client that was given everything. Other clients, or fewer scopes for
//! the default one: `ConfluenceSim::set_cloud_client`, `PUT
//! /_sandbox/confluence/cloud-clients/{id}`, `serve --cloud-client ID:SECRET:SCOPE,SCOPE`.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

/// Scopes a route accepts: any one of them is enough.
pub(crate) type AnyOf = &'static [&'static str];

/// Everything the default Cloud client is granted: the classic and granular read scopes of
/// every route below.
pub const ALL_READ_SCOPES: [&str; 9] = [
    "search:confluence",
    "read:content-details:confluence",
    "readonly:content.attachment:confluence",
    "read:confluence-content.all",
    "read:confluence-space.summary",
    "read:page:confluence",
    "read:attachment:confluence",
    "read:space:confluence",
    "read:label:confluence",
];

/// The scopes a gateway route (its axum template, after `/ex/confluence/{cloud_id}`) requires;
/// `None` for routes that need none beyond a valid token (the 410 answers of removed paths).
pub(crate) fn required_scopes(route: &str) -> Option<AnyOf> {
    let route = route.trim_start_matches("/wiki");
    Some(match route {
        // v1 searchContentByCQL: classic search:confluence; granular read:content-details.
        "/rest/api/content/search" => &["search:confluence", "read:content-details:confluence"],
        // v1 downloadAttatchment: classic readonly:content.attachment; granular read:attachment.
        "/rest/api/content/{id}/child/attachment/{att}/download" => &[
            "readonly:content.attachment:confluence",
            "read:attachment:confluence",
        ],
        // v2 getPages, getBlogPosts, getPageById, getBlogPostById.
        "/api/v2/pages" | "/api/v2/blogposts" | "/api/v2/pages/{id}" | "/api/v2/blogposts/{id}" => {
            &["read:page:confluence"]
        }
        // v2 getPageAttachments, getBlogpostAttachments.
        "/api/v2/pages/{id}/attachments" | "/api/v2/blogposts/{id}/attachments" => {
            &["read:attachment:confluence"]
        }
        // v2 getSpaces.
        "/api/v2/spaces" => &["read:space:confluence"],
        _ => return None,
    })
}

/// A Cloud OAuth 2.0 (client credentials) app as the developer console defines it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudOAuthClient {
    pub id: String,
    pub secret: String,
    /// The scopes its tokens carry.
    pub scopes: Vec<String>,
}

impl std::fmt::Debug for CloudOAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudOAuthClient")
            .field("id", &self.id)
            .field("secret", &"[redacted]")
            .field("scopes", &self.scopes)
            .finish()
    }
}

impl CloudOAuthClient {
    /// Parses `ID:SECRET:SCOPE,SCOPE,…` (the `serve` flag; an empty scope list is allowed).
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.splitn(3, ':');
        let (Some(id), Some(secret), scopes) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("expected ID:SECRET:SCOPE,SCOPE, got {text:?}"));
        };
        if id.is_empty() || secret.is_empty() {
            return Err("the client id and secret must not be empty".into());
        }
        Ok(Self {
            id: id.to_owned(),
            secret: secret.to_owned(),
            scopes: scopes
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// Whether `granted` covers `route`.
pub(crate) fn allows(granted: &[String], route: &str) -> bool {
    required_scopes(route).is_none_or(|any| any.iter().any(|s| granted.iter().any(|g| g == s)))
}

/// What the gateway answers when the token's scopes do not cover the route.
pub(crate) fn scope_mismatch() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({"code": 401, "message": "Unauthorized; scope does not match"})),
    )
        .into_response();
    response.headers_mut().insert(
        "x-failure-category",
        HeaderValue::from_static("FAILURE_CLIENT_SCOPE_CHECK"),
    );
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn granted(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn classic_or_granular_scopes_satisfy_the_v1_routes() {
        let search = "/wiki/rest/api/content/search";
        assert!(allows(&granted(&["search:confluence"]), search));
        assert!(allows(
            &granted(&["read:content-details:confluence"]),
            search
        ));
        assert!(!allows(&granted(&["read:page:confluence"]), search));
        let download = "/wiki/rest/api/content/{id}/child/attachment/{att}/download";
        assert!(allows(&granted(&["read:attachment:confluence"]), download));
        assert!(!allows(&granted(&["search:confluence"]), download));
    }

    #[test]
    fn v2_routes_need_their_granular_scope_and_removed_paths_need_none() {
        let all: Vec<String> = granted(&ALL_READ_SCOPES);
        let no_attachments: Vec<String> = all
            .iter()
            .filter(|s| !s.contains("attachment"))
            .cloned()
            .collect();
        assert!(allows(&all, "/wiki/api/v2/pages/{id}/attachments"));
        assert!(!allows(
            &no_attachments,
            "/wiki/api/v2/pages/{id}/attachments"
        ));
        assert!(allows(&no_attachments, "/wiki/api/v2/pages"));
        assert!(allows(&[], "/wiki/rest/api/space"));
    }

    #[test]
    fn the_flag_reads_id_secret_and_scopes() {
        let c =
            CloudOAuthClient::parse("app:s3cret:search:confluence,read:page:confluence").unwrap();
        assert_eq!(c.id, "app");
        assert_eq!(c.secret, "s3cret");
        // Scopes contain colons: everything after the second separator is the scope list.
        assert_eq!(c.scopes, ["search:confluence", "read:page:confluence"]);
        assert!(CloudOAuthClient::parse("app").is_err());
        assert!(!format!("{c:?}").contains("s3cret"));
    }
}

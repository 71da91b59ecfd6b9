//! Which OAuth scopes each Cloud endpoint this client calls requires, so that a 401 "scope does
//! not match" (which names no scope) can be turned into "add this scope to the app".
//!
//! Source: Atlassian's published API descriptions (`shared/reference/atlassian/
//! confluence-cloud-v{1,2}.openapi.json`, the `security` of each operation). v2 operations name
//! one granular scope. The 2022 v1 description names the classic scope; the granular one beside
//! it is from Atlassian's current v1 reference. Either is enough.

/// The scopes an endpoint accepts (any one of them), in the words the developer console uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequiredScopes {
    /// What the endpoint is, for the operator.
    pub what: &'static str,
    pub granular: &'static str,
    /// The classic alternative, where Atlassian documents one.
    pub classic: Option<&'static str>,
}

impl std::fmt::Display for RequiredScopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.classic {
            Some(classic) => write!(f, "{} (or the classic {classic})", self.granular),
            None => f.write_str(self.granular),
        }
    }
}

/// The scopes of the endpoint at `path` (a URL path, with or without the gateway prefix).
pub(crate) fn required_scopes(path: &str) -> Option<RequiredScopes> {
    let path = path
        .find("/wiki/")
        .map_or(path, |at| &path[at + "/wiki".len()..]);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let scopes = match segments.as_slice() {
        ["rest", "api", "content", "search"] => RequiredScopes {
            what: "the CQL search (v1 content/search)",
            granular: "read:content-details:confluence",
            classic: Some("search:confluence"),
        },
        ["rest", "api", "content", _, "child", "attachment", _, "download"] => RequiredScopes {
            what: "attachment downloads (v1 …/child/attachment/{id}/download)",
            granular: "read:attachment:confluence",
            classic: Some("readonly:content.attachment:confluence"),
        },
        ["api", "v2", "pages" | "blogposts", _, "attachments"] => RequiredScopes {
            what: "attachment listings (v2 pages/{id}/attachments)",
            granular: "read:attachment:confluence",
            classic: None,
        },
        ["api", "v2", "pages" | "blogposts"] | ["api", "v2", "pages" | "blogposts", _] => {
            RequiredScopes {
                what: "page and blog post bodies (v2 pages, blogposts)",
                granular: "read:page:confluence",
                classic: None,
            }
        }
        ["api", "v2", "spaces"] => RequiredScopes {
            what: "spaces (v2 spaces)",
            granular: "read:space:confluence",
            classic: None,
        },
        // The permission reads (permissions.mode space and page; docs/permissions-api.md).
        ["api", "v2", "spaces", _, "permissions"] => RequiredScopes {
            what: "space permissions (v2 spaces/{id}/permissions)",
            granular: "read:space:confluence",
            classic: None,
        },
        ["rest", "api", "content", _, "restriction", ..] => RequiredScopes {
            what: "view restrictions (v1 content/{id}/restriction)",
            granular: "read:content.restriction:confluence",
            classic: Some("read:confluence-content.all"),
        },
        ["rest", "api", "group", ..] => RequiredScopes {
            what: "groups and their members (v1 group)",
            granular: "read:group:confluence",
            classic: Some("read:confluence-groups"),
        },
        ["rest", "api", "user", ..] => RequiredScopes {
            what: "users (v1 user, user/bulk)",
            granular: "read:content-details:confluence",
            classic: Some("read:confluence-user"),
        },
        _ => return None,
    };
    Some(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_the_cloud_client_calls_has_its_scope() {
        let gateway = "/ex/confluence/c-1/wiki";
        let cases = [
            (
                "/rest/api/content/search",
                "read:content-details:confluence",
            ),
            (
                "/rest/api/content/100/child/attachment/att1/download",
                "read:attachment:confluence",
            ),
            (
                "/api/v2/pages/100/attachments",
                "read:attachment:confluence",
            ),
            (
                "/api/v2/blogposts/100/attachments",
                "read:attachment:confluence",
            ),
            ("/api/v2/pages", "read:page:confluence"),
            ("/api/v2/blogposts", "read:page:confluence"),
            ("/api/v2/pages/100", "read:page:confluence"),
            ("/api/v2/spaces/98304/permissions", "read:space:confluence"),
            (
                "/rest/api/content/100/restriction/byOperation/read",
                "read:content.restriction:confluence",
            ),
            (
                "/rest/api/group/g-1/membersByGroupId",
                "read:group:confluence",
            ),
            ("/rest/api/group", "read:group:confluence"),
            ("/rest/api/user/bulk", "read:content-details:confluence"),
        ];
        for (path, granular) in cases {
            let scopes = required_scopes(&format!("{gateway}{path}")).unwrap_or_else(|| {
                panic!("{path} has no scope");
            });
            assert_eq!(scopes.granular, granular, "{path}");
        }
        assert_eq!(
            required_scopes("/wiki/rest/api/content/search")
                .map(|s| s.to_string())
                .as_deref(),
            Some("read:content-details:confluence (or the classic search:confluence)")
        );
        assert!(required_scopes("/rest/api/space").is_none());
    }
}

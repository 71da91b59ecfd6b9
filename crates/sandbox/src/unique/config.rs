//! Start-up configuration of the Unique simulator.

use std::fmt;
use std::time::Duration;

/// How callers prove who they are, mirroring the connector's `unique.serviceAuthMode`
/// (`cluster_local` / `external` in JSON, `cluster-local` / `external` on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UniqueAuthMode {
    /// In-cluster calls: `x-service-id` plus the configured `x-company-id` and `x-user-id`
    /// headers on every GraphQL and file-diff request; no `Authorization`.
    #[default]
    ClusterLocal,
    /// Calls through the gateway: `Authorization: Bearer <token>` with a token from the
    /// Zitadel-style token endpoint, unexpired.
    External,
}

impl std::str::FromStr for UniqueAuthMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cluster-local" | "cluster_local" => Ok(Self::ClusterLocal),
            "external" => Ok(Self::External),
            other => Err(format!(
                "unknown Unique auth mode {other:?}: use cluster-local or external"
            )),
        }
    }
}

/// Configuration of [`super::UniqueSim`]. Every field has a sandbox default (see
/// `docs/sandbox.md`), so tests only spell out what they exercise.
#[derive(Clone)]
pub struct UniqueConfig {
    /// The auth mode at start; [`super::UniqueSim::set_auth_mode`] and the control API change it.
    pub auth_mode: UniqueAuthMode,
    /// Required `x-company-id` in cluster_local mode.
    pub company_id: String,
    /// Required `x-user-id` in cluster_local mode; also the user `me` returns for bearer tokens.
    pub user_id: String,
    /// Zitadel client credentials accepted by the token endpoint (HTTP Basic or form fields).
    pub zitadel_client_id: String,
    pub zitadel_client_secret: String,
    /// The token request's scope must contain `urn:zitadel:iam:org:project:id:<this>:aud`.
    pub zitadel_project_id: String,
    /// Lifetime of issued bearer tokens.
    pub token_ttl: Duration,
    /// Lifetime of the signed write and read URLs minted by `contentUpsert`.
    pub upload_url_ttl: Duration,
    /// Requests per sliding minute, per service (ingestion GraphQL, scope-management GraphQL,
    /// file diff each count separately, like the reference client's three limiters). `None` =
    /// unlimited. Uploads, tokens and the control API are never limited.
    pub rate_limit_per_minute: Option<u32>,
    /// Uploaded bodies up to this size are kept (for tests that compare content); larger ones
    /// keep only their SHA-256 and size, so memory stays flat for any upload size.
    pub keep_blob_bytes_up_to: u64,
    /// When `true`, the file diff reports a submitted key that is stored under a *different*
    /// partial key of the same source as `movedFiles` instead of `newFiles`. Off by default:
    /// the reference connector's model of the service never reports moves for Confluence (a
    /// cross-space move is new in one space and deleted in the other).
    pub file_diff_reports_moves: bool,
    /// When `true`, the caller's USER grants on scopes are enforced: scopes and content are
    /// visible only with READ (WRITE and MANAGE imply it), content is written and deleted only
    /// with WRITE, scopes are created under a parent only with WRITE, and updated, moved or
    /// deleted only with MANAGE. `createScopeAccesses` is always allowed (the service user is
    /// an admin). Off by default: the reference does not pin these rules down, and the
    /// connector grants itself access before it relies on it anyway; turn it on to prove that.
    pub enforce_scope_access: bool,
}

impl Default for UniqueConfig {
    fn default() -> Self {
        Self {
            auth_mode: UniqueAuthMode::ClusterLocal,
            company_id: "sandbox-company".into(),
            user_id: "sandbox-user".into(),
            zitadel_client_id: "sandbox-zitadel-client".into(),
            zitadel_client_secret: "sandbox-zitadel-secret".into(),
            zitadel_project_id: "sandbox-project".into(),
            token_ttl: Duration::from_secs(3600),
            upload_url_ttl: Duration::from_secs(3600),
            rate_limit_per_minute: None,
            keep_blob_bytes_up_to: 1024 * 1024,
            file_diff_reports_moves: false,
            enforce_scope_access: false,
        }
    }
}

impl fmt::Debug for UniqueConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UniqueConfig")
            .field("auth_mode", &self.auth_mode)
            .field("company_id", &self.company_id)
            .field("user_id", &self.user_id)
            .field("zitadel_client_id", &self.zitadel_client_id)
            .field("zitadel_client_secret", &"[redacted]")
            .field("zitadel_project_id", &self.zitadel_project_id)
            .field("token_ttl", &self.token_ttl)
            .field("upload_url_ttl", &self.upload_url_ttl)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("keep_blob_bytes_up_to", &self.keep_blob_bytes_up_to)
            .field("file_diff_reports_moves", &self.file_diff_reports_moves)
            .field("enforce_scope_access", &self.enforce_scope_access)
            .finish()
    }
}

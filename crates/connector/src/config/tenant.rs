//! Tenant configuration: the reference connector's `<name>-tenant-config.yaml` format
//! (camelCase keys, `enabled | disabled` switches, `os.environ/VAR` secrets) plus our optional
//! additions, validated into typed structs.

use std::collections::BTreeMap;
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::SecretString;
use serde_json::Value;
pub use sync_engine::access::{AllUsersPolicy, AnonymousPolicy, PermissionMode};
pub use sync_engine::PermissionSettings;

use super::http_url::HttpUrl;
use super::raw;
use super::read::{join, kind, Diag, Need, Numbers};

/// Whether a tenant is synced, ignored, or being removed from Unique.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantStatus {
    /// Synced on its schedule.
    Active,
    /// Validated, then left out of [`LoadedConfig::tenants`](super::LoadedConfig).
    Inactive,
    /// Its content is deleted from Unique; no Confluence calls are made.
    Deleted,
}

/// Where a tenant was defined, for messages and the `status` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantSource {
    /// A `<name>-tenant-config.yaml` file matched by the tenant file pattern.
    File(PathBuf),
    /// Under `tenants.inline.<name>` in the daemon config file (`None`: no config file, which
    /// cannot actually happen for inline tenants but keeps the type honest).
    Inline(Option<PathBuf>),
}

/// One tenant: one Confluence instance synced into one root scope in Unique.
#[derive(Debug, Clone)]
pub struct TenantConfig {
    /// From the file name (`acme` for `acme-tenant-config.yaml`) or the inline key.
    pub name: String,
    pub status: TenantStatus,
    pub source: TenantSource,
    pub confluence: ConfluenceConfig,
    pub ingestion: IngestionConfig,
    pub processing: ProcessingConfig,
    pub unique: UniqueConfig,
    /// `permissions`: whether and how Confluence read access is carried into Unique (default
    /// `mode: none`, `anonymous: ignore`: today's behaviour, not one permission request).
    pub permissions: PermissionSettings,
}

impl TenantConfig {
    /// Active tenants are synced; the only other status kept after loading is `deleted`.
    pub fn is_active(&self) -> bool {
        self.status == TenantStatus::Active
    }
}

/// The Confluence side of a tenant.
#[derive(Debug, Clone)]
pub struct ConfluenceConfig {
    /// Cloud or Data Center, with what differs between them.
    pub instance: ConfluenceInstance,
    /// The site URL (`https://acme.atlassian.net`, or the Data Center URL including any context
    /// path). Data Center API calls go here; on Cloud it only builds web links.
    pub base_url: HttpUrl,
    /// Request budget towards this instance.
    pub api_rate_limit_per_minute: NonZeroU32,
    /// Label marking a single page for ingestion (conventionally `ai-ingest`).
    pub ingest_single_label: String,
    /// Label marking a page and all its descendants (conventionally `ai-ingest-all`).
    pub ingest_all_label: String,
    pub auth: ConfluenceAuth,
    /// Space types whose pages are synced (CQL `space.type`).
    pub space_types: Vec<String>,
    /// Whether plain `http://` is allowed for this instance's URLs (loopback always is).
    pub allow_plain_http: bool,
}

impl ConfluenceConfig {
    /// The key that identifies the instance (`cloud:<cloudId>`, `data-center:<baseUrl>`): two
    /// active tenants must not share one, since they would fight over the same root scope.
    pub fn instance_key(&self) -> String {
        match &self.instance {
            ConfluenceInstance::Cloud { cloud_id, .. } => format!("cloud:{cloud_id}"),
            ConfluenceInstance::DataCenter { .. } => format!("data-center:{}", self.base_url),
        }
    }

    /// Whether this is a Cloud instance.
    pub fn is_cloud(&self) -> bool {
        matches!(self.instance, ConfluenceInstance::Cloud { .. })
    }
}

/// What differs between Confluence Cloud and Data Center.
#[derive(Debug, Clone)]
pub enum ConfluenceInstance {
    Cloud {
        /// The site's cloud id; API calls go to `<api_base_url>/ex/confluence/<cloud_id>`.
        cloud_id: String,
        /// The OAuth API gateway (default `https://api.atlassian.com`).
        api_base_url: HttpUrl,
        /// Where client-credentials tokens are fetched (default
        /// `https://api.atlassian.com/oauth/token`).
        token_url: HttpUrl,
    },
    DataCenter {
        /// Where client-credentials tokens are fetched (default
        /// `<baseUrl>/rest/oauth2/latest/token`); unused for `pat` and `basic`.
        token_url: HttpUrl,
    },
}

/// How the connector authenticates to Confluence. Cloud allows only [`ConfluenceAuth::OAuth2Lo`].
#[derive(Debug, Clone)]
pub enum ConfluenceAuth {
    /// OAuth 2.0 client credentials ("2-legged OAuth").
    OAuth2Lo {
        client_id: String,
        client_secret: SecretString,
    },
    /// Data Center personal access token.
    Pat { token: SecretString },
    /// Data Center basic auth.
    Basic {
        username: SecretString,
        password: SecretString,
    },
}

/// The only ingestion mode; the reference rejects `recursive`, so do we.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestionMode {
    Flat,
}

/// What is ingested and how it lands in Unique.
#[derive(Debug, Clone)]
pub struct IngestionConfig {
    pub ingestion_mode: IngestionMode,
    /// The root scope id in Unique under which space scopes are created.
    pub scope_id: String,
    /// Whether Unique keeps a copy of the uploaded file.
    pub store_internally: bool,
    /// Content keys without the `<tenant>/` prefix, for installations ingested by v1.
    pub use_v1_key_format: bool,
    pub attachments: AttachmentsConfig,
    /// Forwarded verbatim on page registration and finalisation.
    pub page_ingestion_config: Option<Value>,
    /// Derived: `pageIngestionConfig.htmlConfig.imageContentExtraction` is enabled with a
    /// language model, so images in pages are inlined for the model to read.
    pub inline_images_enabled: bool,
}

/// Which attachments are ingested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentsConfig {
    pub enabled: bool,
    /// Lower-cased MIME types; attachments of other types are skipped.
    pub allowed_mime_types: Vec<String>,
    /// Larger attachments are skipped.
    pub max_file_size_mb: NonZeroU32,
    pub image_ocr_enabled: bool,
}

/// How much work a cycle does and when.
#[derive(Debug, Clone)]
pub struct ProcessingConfig {
    /// Parallelism of page and of attachment ingestion.
    pub concurrency: NonZeroUsize,
    /// The schedule as written (`*/15 * * * *`).
    pub scan_interval_cron: String,
    /// The parsed schedule; parsing at load turns a typo into a startup error naming the field.
    pub schedule: croner::Cron,
    /// Upper bound on pages + attachments discovered per cycle; `None` is unlimited.
    pub max_items_to_scan: Option<NonZeroU64>,
    /// Page bodies fetched per request.
    pub body_batch_size: NonZeroUsize,
}

/// The Unique side of a tenant.
#[derive(Debug, Clone)]
pub struct UniqueConfig {
    pub auth: UniqueAuth,
    pub ingestion_service_base_url: HttpUrl,
    pub scope_management_service_base_url: HttpUrl,
    /// Applied to each of the Unique client's limiters.
    pub api_rate_limit_per_minute: NonZeroU32,
    /// Accepted for compatibility; the reference never sends it.
    pub ingestion_config: Option<Value>,
    /// Whether plain `http://` is allowed for the Unique URLs (default: true for
    /// `cluster_local`, where services are addressed inside the cluster, false for `external`).
    pub allow_plain_http: bool,
}

/// How the connector authenticates to Unique.
#[derive(Debug, Clone)]
pub enum UniqueAuth {
    /// Inside the cluster: identity headers, no token. Always contains `x-company-id` and
    /// `x-user-id`; every entry is sent on every request.
    ClusterLocal {
        service_extra_headers: BTreeMap<String, String>,
    },
    /// Through the public gateway with a Zitadel client-credentials token.
    External {
        zitadel_oauth_token_url: HttpUrl,
        zitadel_project_id: SecretString,
        zitadel_client_id: String,
        zitadel_client_secret: SecretString,
    },
}

/// The reference's default attachment allow-list: the engine's, which applies it.
pub const DEFAULT_ALLOWED_MIME_TYPES: &[&str] = &sync_engine::AttachmentRules::DEFAULT_MIME_TYPES;

pub const DEFAULT_SCAN_INTERVAL_CRON: &str = "*/15 * * * *";
// The clients' own defaults and limits, so that the config and the clients cannot disagree.
use confluence_client::{
    CLOUD_DEFAULT_SPACE_TYPES, DATA_CENTER_DEFAULT_SPACE_TYPES, DATA_CENTER_TOKEN_PATH,
};
pub use confluence_client::{
    DEFAULT_API_GATEWAY_URL as DEFAULT_CLOUD_API_BASE_URL, DEFAULT_CLOUD_TOKEN_URL,
};
pub const MAX_CLOUD_BODY_BATCH_SIZE: u64 = confluence_client::CLOUD_MAX_BODY_BATCH as u64;
pub const MAX_DATA_CENTER_BODY_BATCH_SIZE: u64 =
    confluence_client::DATA_CENTER_MAX_BODY_BATCH as u64;
const CLOUD_SPACE_TYPES: &[&str] = &["global", "collaboration", "knowledge_base", "personal"];
const DATA_CENTER_SPACE_TYPES: &[&str] = &["global", "personal"];
const DEFAULT_UNIQUE_RATE_LIMIT: u32 = unique_client::DEFAULT_API_RATE_LIMIT_PER_MINUTE.get();

/// Reads a tenant document (the whole file, or one inline entry). `base` is the path prefix for
/// messages (empty for files, `tenants.inline.<name>` for inline tenants). `None` when anything
/// was wrong; the problems are in `d`.
pub(crate) fn read_tenant(
    d: &mut Diag<'_>,
    base: &str,
    name: &str,
    source: TenantSource,
    doc: &Value,
) -> Option<TenantConfig> {
    if !doc.is_object() {
        d.error(
            if base.is_empty() { "(document)" } else { base },
            "is not a mapping",
            "a YAML mapping with status, confluence, ingestion, processing and unique",
        );
        return None;
    }
    let errors_before = d.errors.len();
    let raw: raw::Tenant = d.section(base, Some(doc), Need::Required)?;
    let status = d
        .choice(
            &join(base, "status"),
            raw.status.as_ref(),
            &[
                ("active", TenantStatus::Active),
                ("inactive", TenantStatus::Inactive),
                ("deleted", TenantStatus::Deleted),
            ],
        )
        .unwrap_or(TenantStatus::Active);
    let confluence = read_confluence(d, &join(base, "confluence"), raw.confluence.as_ref());
    let ingestion = read_ingestion(d, &join(base, "ingestion"), raw.ingestion.as_ref());
    let processing = read_processing(
        d,
        &join(base, "processing"),
        raw.processing.as_ref(),
        confluence.as_ref().map(ConfluenceConfig::is_cloud),
    );
    let unique = read_unique(d, &join(base, "unique"), raw.unique.as_ref());
    let permissions = read_permissions(d, &join(base, "permissions"), raw.permissions.as_ref());
    if d.errors.len() > errors_before {
        return None;
    }
    Some(TenantConfig {
        name: name.to_owned(),
        status,
        source,
        confluence: confluence?,
        ingestion: ingestion?,
        processing: processing?,
        unique: unique?,
        permissions: permissions?,
    })
}

/// `permissions.*`; all optional, defaults are today's behaviour (no permission request at
/// all), the fail-closed anonymous policy and all-users groups mirrored like any group.
fn read_permissions(d: &mut Diag<'_>, base: &str, v: Option<&Value>) -> Option<PermissionSettings> {
    let raw: raw::Permissions = d.section(base, v, Need::Optional)?;
    let p = |k: &str| join(base, k);
    let absent = |v: &Option<Value>| v.as_ref().is_none_or(Value::is_null);
    let mode = d
        .choice(
            &p("mode"),
            raw.mode.as_ref(),
            &[
                ("none", PermissionMode::None),
                ("space", PermissionMode::Space),
                ("page", PermissionMode::Page),
            ],
        )
        .or_else(|| absent(&raw.mode).then_some(PermissionMode::None));
    let anonymous = d
        .choice(
            &p("anonymous"),
            raw.anonymous.as_ref(),
            &[
                ("ignore", AnonymousPolicy::Ignore),
                ("allUsers", AnonymousPolicy::AllUsers),
            ],
        )
        .or_else(|| absent(&raw.anonymous).then_some(AnonymousPolicy::Ignore));
    let all_users = d
        .choice(
            &p("allUsers"),
            raw.all_users.as_ref(),
            &[
                ("mirror", AllUsersPolicy::Mirror),
                ("ignore", AllUsersPolicy::Ignore),
            ],
        )
        .or_else(|| absent(&raw.all_users).then_some(AllUsersPolicy::Mirror));
    let all_users_groups = read_group_names(d, &p("allUsersGroups"), raw.all_users_groups.as_ref());
    Some(PermissionSettings {
        mode: mode?,
        anonymous: anonymous?,
        all_users: all_users?,
        all_users_groups: all_users_groups?,
    })
}

/// A list of group names (may be empty or absent).
fn read_group_names(d: &mut Diag<'_>, path: &str, v: Option<&Value>) -> Option<Vec<String>> {
    let expected = "a list of Confluence group names, e.g. [confluence-users]";
    let list = match v.filter(|v| !v.is_null()) {
        None => return Some(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(_) => {
            d.error(path, "is not a list", expected);
            return None;
        }
    };
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_str().map(str::trim) {
            Some(name) if !name.is_empty() => out.push(name.to_owned()),
            _ => d.error(&format!("{path}[{i}]"), "is not a group name", expected),
        }
    }
    Some(out)
}

fn read_confluence(d: &mut Diag<'_>, base: &str, v: Option<&Value>) -> Option<ConfluenceConfig> {
    let raw: raw::Confluence = d.section(base, v, Need::Required)?;
    let p = |k: &str| join(base, k);
    let is_cloud = d.choice(
        &p("instanceType"),
        raw.instance_type.as_ref(),
        &[("cloud", true), ("data-center", false)],
    );
    if raw.instance_type.as_ref().is_none_or(Value::is_null) {
        d.missing(&p("instanceType"), "one of: cloud, data-center");
    }
    let allow_plain_http = d.boolean(&p("allowPlainHttp"), raw.allow_plain_http.as_ref(), false);
    let switch = p("allowPlainHttp");
    let base_url = d.url(
        &p("baseUrl"),
        raw.base_url.as_ref(),
        Need::Required,
        allow_plain_http,
        &switch,
    );
    let rate = d.whole_number(
        &p("apiRateLimitPerMinute"),
        raw.api_rate_limit_per_minute.as_ref(),
        Need::Required,
        Numbers::FromText,
        (1, u64::from(u32::MAX)),
    );
    const LABEL: &str = "a non-empty Confluence label, e.g. ai-ingest";
    let single = d.non_blank(
        &p("ingestSingleLabel"),
        raw.ingest_single_label.as_ref(),
        Need::Required,
        LABEL,
    );
    let all = d.non_blank(
        &p("ingestAllLabel"),
        raw.ingest_all_label.as_ref(),
        Need::Required,
        LABEL,
    );
    let auth = read_confluence_auth(d, &p("auth"), raw.auth.as_ref(), is_cloud);
    let is_cloud = is_cloud?;

    let instance = if is_cloud {
        let cloud_id = d.non_blank(
            &p("cloudId"),
            raw.cloud_id.as_ref(),
            Need::Required,
            "the site's cloud id (a non-empty string), required for instanceType cloud",
        );
        let api_base_url = url_or_default(
            d,
            &p("apiBaseUrl"),
            raw.api_base_url.as_ref(),
            allow_plain_http,
            &switch,
            DEFAULT_CLOUD_API_BASE_URL,
        );
        let token_url = url_or_default(
            d,
            &p("tokenUrl"),
            raw.token_url.as_ref(),
            allow_plain_http,
            &switch,
            DEFAULT_CLOUD_TOKEN_URL,
        );
        ConfluenceInstance::Cloud {
            cloud_id: cloud_id?,
            api_base_url: api_base_url?,
            token_url: token_url?,
        }
    } else {
        d.not_applicable(
            base,
            &[
                ("cloudId", &raw.cloud_id),
                ("apiBaseUrl", &raw.api_base_url),
            ],
            "instanceType cloud",
        );
        let default_token_url = base_url
            .as_ref()
            .map(|b| b.join_path(DATA_CENTER_TOKEN_PATH));
        let token_url = match default_token_url {
            Some(default) => url_or_default(
                d,
                &p("tokenUrl"),
                raw.token_url.as_ref(),
                allow_plain_http,
                &switch,
                &default,
            ),
            None => None,
        };
        ConfluenceInstance::DataCenter {
            token_url: token_url?,
        }
    };
    let (allowed_types, default_types) = if is_cloud {
        (CLOUD_SPACE_TYPES, CLOUD_DEFAULT_SPACE_TYPES)
    } else {
        (DATA_CENTER_SPACE_TYPES, DATA_CENTER_DEFAULT_SPACE_TYPES)
    };
    let space_types =
        read_space_types(d, &p("spaceTypes"), raw.space_types.as_ref(), allowed_types)
            .unwrap_or_else(|| default_types.iter().map(|s| (*s).to_owned()).collect());

    Some(ConfluenceConfig {
        instance,
        base_url: base_url?,
        api_rate_limit_per_minute: NonZeroU32::new(u32::try_from(rate?).ok()?)?,
        ingest_single_label: single?,
        ingest_all_label: all?,
        auth: auth?,
        space_types,
        allow_plain_http,
    })
}

fn url_or_default(
    d: &mut Diag<'_>,
    path: &str,
    v: Option<&Value>,
    allow_plain_http: bool,
    switch: &str,
    default: &str,
) -> Option<HttpUrl> {
    let default = Value::String(default.to_owned());
    let v = v.filter(|v| !v.is_null()).unwrap_or(&default);
    d.url(path, Some(v), Need::Required, allow_plain_http, switch)
}

fn read_space_types(
    d: &mut Diag<'_>,
    path: &str,
    v: Option<&Value>,
    allowed: &[&str],
) -> Option<Vec<String>> {
    let expected = format!("a non-empty list of: {}", allowed.join(", "));
    let list = match v.filter(|v| !v.is_null())? {
        Value::Array(list) if !list.is_empty() => list,
        _ => {
            d.error(path, "is not a non-empty list", expected);
            return None;
        }
    };
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        match item.as_str().map(str::trim) {
            Some(t) if allowed.contains(&t) => {
                if !out.iter().any(|o| o == t) {
                    out.push(t.to_owned());
                }
            }
            _ => d.error(
                &format!("{path}[{i}]"),
                "is not a known space type",
                &expected,
            ),
        }
    }
    Some(out)
}

fn read_confluence_auth(
    d: &mut Diag<'_>,
    base: &str,
    v: Option<&Value>,
    is_cloud: Option<bool>,
) -> Option<ConfluenceAuth> {
    let raw: raw::ConfluenceAuth = d.section(base, v, Need::Required)?;
    let p = |k: &str| join(base, k);
    #[derive(Clone, Copy, PartialEq)]
    enum Mode {
        OAuth,
        Pat,
        Basic,
    }
    let Some(mode) = d.choice(
        &p("mode"),
        raw.mode.as_ref(),
        &[
            ("oauth_2lo", Mode::OAuth),
            ("pat", Mode::Pat),
            ("basic", Mode::Basic),
        ],
    ) else {
        if raw.mode.as_ref().is_none_or(Value::is_null) {
            d.missing(&p("mode"), "one of: oauth_2lo, pat, basic");
        }
        return None;
    };
    let auth = match mode {
        Mode::OAuth => {
            d.not_applicable(
                base,
                &[
                    ("token", &raw.token),
                    ("username", &raw.username),
                    ("password", &raw.password),
                ],
                "the other auth modes",
            );
            let client_id = d.non_blank(
                &p("clientId"),
                raw.client_id.as_ref(),
                Need::Required,
                "the OAuth client id (a non-empty string)",
            );
            let client_secret = d.secret(
                &p("clientSecret"),
                raw.client_secret.as_ref(),
                Need::Required,
            );
            client_id
                .zip(client_secret)
                .map(|(client_id, client_secret)| ConfluenceAuth::OAuth2Lo {
                    client_id,
                    client_secret,
                })
        }
        Mode::Pat => {
            d.not_applicable(
                base,
                &[
                    ("clientId", &raw.client_id),
                    ("clientSecret", &raw.client_secret),
                    ("username", &raw.username),
                    ("password", &raw.password),
                ],
                "the other auth modes",
            );
            let token = d.secret(&p("token"), raw.token.as_ref(), Need::Required);
            token.map(|token| ConfluenceAuth::Pat { token })
        }
        Mode::Basic => {
            d.not_applicable(
                base,
                &[
                    ("clientId", &raw.client_id),
                    ("clientSecret", &raw.client_secret),
                    ("token", &raw.token),
                ],
                "the other auth modes",
            );
            let username = d.secret(&p("username"), raw.username.as_ref(), Need::Required);
            let password = d.secret(&p("password"), raw.password.as_ref(), Need::Required);
            username
                .zip(password)
                .map(|(username, password)| ConfluenceAuth::Basic { username, password })
        }
    };
    if is_cloud == Some(true) && mode != Mode::OAuth {
        d.error(
            &p("mode"),
            "is not supported for instanceType cloud",
            "oauth_2lo (Confluence Cloud supports only OAuth 2.0 client credentials)",
        );
        return None;
    }
    auth
}

fn read_ingestion(d: &mut Diag<'_>, base: &str, v: Option<&Value>) -> Option<IngestionConfig> {
    let raw: raw::Ingestion = d.section(base, v, Need::Required)?;
    let p = |k: &str| join(base, k);
    let mode = d
        .choice(
            &p("ingestionMode"),
            raw.ingestion_mode.as_ref(),
            &[("flat", IngestionMode::Flat)],
        )
        .or_else(|| {
            raw.ingestion_mode
                .as_ref()
                .is_none_or(Value::is_null)
                .then_some(IngestionMode::Flat)
        });
    let scope_id = d.non_blank(
        &p("scopeId"),
        raw.scope_id.as_ref(),
        Need::Required,
        "the root scope id in Unique (a non-empty string)",
    );
    let store_internally = d.toggle(&p("storeInternally"), raw.store_internally.as_ref(), true);
    let use_v1_key_format = d.toggle(&p("useV1KeyFormat"), raw.use_v1_key_format.as_ref(), false);
    let attachments = read_attachments(d, &p("attachments"), raw.attachments.as_ref());
    let (page_ingestion_config, inline_images_enabled) = read_page_ingestion_config(
        d,
        &p("pageIngestionConfig"),
        raw.page_ingestion_config.as_ref(),
    );
    Some(IngestionConfig {
        ingestion_mode: mode?,
        scope_id: scope_id?,
        store_internally,
        use_v1_key_format,
        attachments: attachments?,
        page_ingestion_config,
        inline_images_enabled,
    })
}

fn read_attachments(d: &mut Diag<'_>, base: &str, v: Option<&Value>) -> Option<AttachmentsConfig> {
    let raw: raw::Attachments = d.section(base, v, Need::Optional)?;
    let p = |k: &str| join(base, k);
    let enabled = d.toggle(&p("mode"), raw.mode.as_ref(), true);
    let image_ocr_enabled = d.toggle(&p("imageOcr"), raw.image_ocr.as_ref(), true);
    let max = d
        .whole_number(
            &p("maxFileSizeMb"),
            raw.max_file_size_mb.as_ref(),
            Need::Optional,
            Numbers::Strict,
            (1, u64::from(u32::MAX)),
        )
        .map(Some)
        .unwrap_or_else(|| {
            raw.max_file_size_mb
                .as_ref()
                .is_none_or(Value::is_null)
                .then_some(200)
        });
    let mime = match raw.allowed_mime_types.as_ref().filter(|v| !v.is_null()) {
        None => Some(
            DEFAULT_ALLOWED_MIME_TYPES
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
        ),
        Some(Value::Array(list)) => {
            let mut out = Vec::new();
            let mut ok = true;
            for (i, item) in list.iter().enumerate() {
                match item.as_str().map(str::trim).filter(|s| !s.is_empty()) {
                    Some(s) => out.push(s.to_lowercase()),
                    None => {
                        ok = false;
                        d.error(
                            &format!("{}[{i}]", p("allowedMimeTypes")),
                            "is not a non-empty string",
                            "a MIME type such as application/pdf",
                        );
                    }
                }
            }
            ok.then_some(out)
        }
        Some(_) => {
            d.error(
                &p("allowedMimeTypes"),
                "is not a list",
                "a list of MIME types such as [application/pdf, image/png]",
            );
            None
        }
    };
    Some(AttachmentsConfig {
        enabled,
        allowed_mime_types: mime?,
        max_file_size_mb: NonZeroU32::new(u32::try_from(max?).ok()?)?,
        image_ocr_enabled,
    })
}

/// Returns the config kept verbatim and whether image inlining is on.
fn read_page_ingestion_config(
    d: &mut Diag<'_>,
    path: &str,
    v: Option<&Value>,
) -> (Option<Value>, bool) {
    let Some(map) = d.object(path, v, Need::Optional) else {
        return (None, false);
    };
    let extraction_path = format!("{path}.htmlConfig.imageContentExtraction");
    let extraction = map
        .get("htmlConfig")
        .and_then(|h| h.get("imageContentExtraction"));
    let enabled = extraction
        .and_then(|e| e.get("enabled"))
        .is_some_and(|e| *e == Value::Bool(true));
    let model_ok = extraction
        .and_then(|e| e.get("languageModel"))
        .and_then(Value::as_str)
        .is_some_and(|m| !m.trim().is_empty());
    if enabled && !model_ok {
        d.error(
            &format!("{extraction_path}.languageModel"),
            "languageModel is missing or empty while imageContentExtraction.enabled is true",
            "the name of the language model that describes images, or enabled: false",
        );
    }
    (Some(Value::Object(map.clone())), enabled && model_ok)
}

fn read_processing(
    d: &mut Diag<'_>,
    base: &str,
    v: Option<&Value>,
    is_cloud: Option<bool>,
) -> Option<ProcessingConfig> {
    let raw: raw::Processing = d.section(base, v, Need::Optional)?;
    let p = |k: &str| join(base, k);

    let concurrency = d
        .number(&p("concurrency"), raw.concurrency.as_ref(), (1, 1024))
        .or_else(|| raw.concurrency.is_none().then_some(1));

    let cron_text = d
        .text(
            &p("scanIntervalCron"),
            raw.scan_interval_cron.as_ref(),
            Need::Optional,
            "a cron expression, e.g. \"*/15 * * * *\"",
        )
        .or_else(|| {
            raw.scan_interval_cron
                .is_none()
                .then(|| DEFAULT_SCAN_INTERVAL_CRON.to_owned())
        });
    let schedule = cron_text
        .as_deref()
        .and_then(|text| match croner::Cron::from_str(text) {
            Ok(cron) => Some(cron),
            Err(e) => {
                d.error(
                    &p("scanIntervalCron"),
                    format!("'{text}' is not a valid cron expression ({e})"),
                    "five fields (minute hour day-of-month month day-of-week), optionally with \
                     seconds first, e.g. \"*/15 * * * *\"",
                );
                None
            }
        });

    // The reference treats '' as "not set" for this field only.
    let max_items = match raw.max_items_to_scan.as_ref() {
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        None | Some(Value::Null) => Some(None),
        v => d.number(&p("maxItemsToScan"), v, (1, u64::MAX)).map(Some),
    };

    let max_batch = if is_cloud == Some(false) {
        MAX_DATA_CENTER_BODY_BATCH_SIZE
    } else {
        MAX_CLOUD_BODY_BATCH_SIZE
    };
    let batch = d
        .number(
            &p("bodyBatchSize"),
            raw.body_batch_size.as_ref(),
            (1, max_batch),
        )
        .or_else(|| raw.body_batch_size.is_none().then_some(max_batch));

    Some(ProcessingConfig {
        concurrency: NonZeroUsize::new(usize::try_from(concurrency?).ok()?)?,
        scan_interval_cron: cron_text?,
        schedule: schedule?,
        max_items_to_scan: max_items?.and_then(NonZeroU64::new),
        body_batch_size: NonZeroUsize::new(usize::try_from(batch?).ok()?)?,
    })
}

fn read_unique(d: &mut Diag<'_>, base: &str, v: Option<&Value>) -> Option<UniqueConfig> {
    let raw: raw::Unique = d.section(base, v, Need::Required)?;
    let p = |k: &str| join(base, k);
    let Some(cluster_local) = d.choice(
        &p("serviceAuthMode"),
        raw.service_auth_mode.as_ref(),
        &[("cluster_local", true), ("external", false)],
    ) else {
        if raw.service_auth_mode.as_ref().is_none_or(Value::is_null) {
            d.missing(&p("serviceAuthMode"), "one of: cluster_local, external");
        }
        return None;
    };
    if cluster_local {
        d.not_applicable(
            base,
            &[
                ("zitadelOauthTokenUrl", &raw.zitadel_oauth_token_url),
                ("zitadelProjectId", &raw.zitadel_project_id),
                ("zitadelClientId", &raw.zitadel_client_id),
                ("zitadelClientSecret", &raw.zitadel_client_secret),
            ],
            "serviceAuthMode external",
        );
    } else {
        d.not_applicable(
            base,
            &[("serviceExtraHeaders", &raw.service_extra_headers)],
            "serviceAuthMode cluster_local",
        );
    }

    let allow_plain_http = d.boolean(
        &p("allowPlainHttp"),
        raw.allow_plain_http.as_ref(),
        cluster_local,
    );
    let switch = p("allowPlainHttp");
    let auth = if cluster_local {
        read_service_extra_headers(
            d,
            &p("serviceExtraHeaders"),
            raw.service_extra_headers.as_ref(),
        )
        .map(|service_extra_headers| UniqueAuth::ClusterLocal {
            service_extra_headers,
        })
    } else {
        let url = d.url(
            &p("zitadelOauthTokenUrl"),
            raw.zitadel_oauth_token_url.as_ref(),
            Need::Required,
            allow_plain_http,
            &switch,
        );
        let project = d.secret(
            &p("zitadelProjectId"),
            raw.zitadel_project_id.as_ref(),
            Need::Required,
        );
        let client_id = d.non_blank(
            &p("zitadelClientId"),
            raw.zitadel_client_id.as_ref(),
            Need::Required,
            "the Zitadel client id (a non-empty string)",
        );
        let secret = d.secret(
            &p("zitadelClientSecret"),
            raw.zitadel_client_secret.as_ref(),
            Need::Required,
        );
        match (url, project, client_id, secret) {
            (Some(url), Some(project), Some(client_id), Some(secret)) => {
                Some(UniqueAuth::External {
                    zitadel_oauth_token_url: url,
                    zitadel_project_id: project,
                    zitadel_client_id: client_id,
                    zitadel_client_secret: secret,
                })
            }
            _ => None,
        }
    };
    let ingestion = d.url(
        &p("ingestionServiceBaseUrl"),
        raw.ingestion_service_base_url.as_ref(),
        Need::Required,
        allow_plain_http,
        &switch,
    );
    let scope_management = d.url(
        &p("scopeManagementServiceBaseUrl"),
        raw.scope_management_service_base_url.as_ref(),
        Need::Required,
        allow_plain_http,
        &switch,
    );
    let rate = d
        .number(
            &p("apiRateLimitPerMinute"),
            raw.api_rate_limit_per_minute.as_ref(),
            (1, u64::from(u32::MAX)),
        )
        .or_else(|| {
            raw.api_rate_limit_per_minute
                .as_ref()
                .is_none_or(Value::is_null)
                .then_some(u64::from(DEFAULT_UNIQUE_RATE_LIMIT))
        });
    let ingestion_config = d
        .object(
            &p("ingestionConfig"),
            raw.ingestion_config.as_ref(),
            Need::Optional,
        )
        .map(|m| Value::Object(m.clone()));
    Some(UniqueConfig {
        auth: auth?,
        ingestion_service_base_url: ingestion?,
        scope_management_service_base_url: scope_management?,
        api_rate_limit_per_minute: NonZeroU32::new(u32::try_from(rate?).ok()?)?,
        ingestion_config,
        allow_plain_http,
    })
}

fn read_service_extra_headers(
    d: &mut Diag<'_>,
    path: &str,
    v: Option<&Value>,
) -> Option<BTreeMap<String, String>> {
    const EXPECTED: &str =
        "a mapping of header names to values that includes x-company-id and x-user-id";
    let Some(map) = d.object(path, v, Need::Optional) else {
        if v.is_none_or(Value::is_null) {
            d.error(
                path,
                "is missing (required for serviceAuthMode cluster_local)",
                EXPECTED,
            );
        }
        return None;
    };
    let mut headers = BTreeMap::new();
    let mut ok = true;
    for (name, value) in map {
        // Company ids are often all digits, which YAML reads as a number unless quoted.
        let value = match value {
            Value::String(s) => s.trim().to_owned(),
            Value::Number(n) if n.is_u64() || n.is_i64() => n.to_string(),
            other => {
                ok = false;
                d.error(
                    &join(path, name),
                    format!("is {}", kind(other)),
                    "a header value (text)",
                );
                continue;
            }
        };
        headers.insert(name.to_ascii_lowercase(), value);
    }
    for required in ["x-company-id", "x-user-id"] {
        if headers.get(required).is_none_or(|v| v.is_empty()) {
            ok = false;
            d.error(
                &join(path, required),
                "is missing or empty (required for serviceAuthMode cluster_local)",
                EXPECTED,
            );
        }
    }
    ok.then_some(headers)
}

//! `confluence-sandbox serve`: the simulators as a standalone server for scripts, benchmarks and
//! manual testing. Prints one JSON line with every base URL once listening, then serves until
//! SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sandbox::common::{FaultRule, RateLimit};
use sandbox::confluence::access::DatasetFile;
use sandbox::confluence::{
    CloudOAuthClient, CloudSearchNextLink, DcQuirks, GenerateSpec, PastEnd, QuotaPool,
    SearchOverload,
};
use sandbox::unique::UniqueAuthMode;
use sandbox::{spawn, SandboxConfig};

#[derive(Debug, Parser)]
#[command(
    name = "confluence-sandbox",
    version,
    about = "Confluence Cloud/DC and Unique simulators"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up; the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every simulated origin until SIGINT/SIGTERM.
    Serve(Box<ServeArgs>),
    /// Print a generated dataset as YAML (to inspect or edit it).
    Generate {
        /// SEED:SPACES:PAGES[:MAX_ATTACHMENTS[:MAX_BYTES]]
        spec: GenerateSpec,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// YAML dataset (see crates/sandbox/datasets/example.yaml). Default: the built-in dataset.
    #[arg(long, conflicts_with = "generate")]
    dataset: Option<PathBuf>,
    /// Generated dataset: SEED:SPACES:PAGES[:MAX_ATTACHMENTS[:MAX_BYTES]].
    #[arg(long)]
    generate: Option<GenerateSpec>,
    /// Generated dataset from a full `GenerateSpec` in YAML or JSON (tree depth, label mix,
    /// attachment sizes, ...; see docs/sandbox.md).
    #[arg(long, conflicts_with_all = ["dataset", "generate"])]
    generate_spec: Option<PathBuf>,
    /// Control API address (other origins get random ports unless given below).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    #[arg(long)]
    cloud_gateway_addr: Option<SocketAddr>,
    #[arg(long)]
    cloud_site_addr: Option<SocketAddr>,
    #[arg(long)]
    media_addr: Option<SocketAddr>,
    #[arg(long)]
    dc_addr: Option<SocketAddr>,
    #[arg(long)]
    unique_ingestion_addr: Option<SocketAddr>,
    #[arg(long)]
    unique_scope_management_addr: Option<SocketAddr>,
    #[arg(long)]
    unique_blob_addr: Option<SocketAddr>,
    #[arg(long)]
    zitadel_addr: Option<SocketAddr>,
    /// DC context path, e.g. /confluence.
    #[arg(long, default_value = "")]
    dc_context_path: String,
    /// Modes of the permission endpoints (`PermissionsConfig` in YAML or JSON: dc_version,
    /// dc_oauth_permission_reads_forbidden, …; see docs/sandbox.md, "Permissions").
    #[arg(long)]
    permissions_config: Option<PathBuf>,
    /// Lifetime of Confluence OAuth tokens, seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl_secs: u64,
    /// How Unique callers authenticate: `cluster-local` (the `x-company-id`/`x-user-id`
    /// headers) or `external` (a Zitadel bearer token from the `zitadel_token` URL).
    #[arg(long, default_value = "cluster-local", value_name = "MODE")]
    unique_auth: UniqueAuthMode,
    /// Shape of Cloud search `_links.next`: `as-cloud` (no `/wiki`, no `expand`) or
    /// `wiki-with-expand`.
    #[arg(long, default_value = "as-cloud", value_name = "SHAPE")]
    cloud_search_next_link: CloudSearchNextLink,
    /// Added latency per service: SERVICE=MILLIS (repeatable; SERVICE may be `*`).
    #[arg(long = "latency", value_name = "SERVICE=MS")]
    latency: Vec<String>,
    /// Rate limit per service: SERVICE=PER_MINUTE[/BURST] (repeatable). Excess gets 429.
    #[arg(long = "rate-limit", value_name = "SERVICE=PER_MINUTE")]
    rate_limits: Vec<String>,
    /// Seed of the fault RNG.
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,
    /// Turn Confluence Cloud's points quota off (on by default, as on the real Cloud).
    #[arg(long)]
    no_cloud_quota: bool,
    /// Points per quota window (65,000: one app's global pool).
    #[arg(long, default_value_t = 65_000)]
    cloud_quota_pool: u64,
    /// Quota window in seconds, aligned to multiples of itself since the epoch (3600: the top
    /// of every UTC hour).
    #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..))]
    cloud_quota_window_secs: u64,
    /// Which pool: global (Tier 1) or tenant (Tier 2); names the policy and the 429's reason.
    #[arg(long, default_value = "global", value_parser = ["global", "tenant"])]
    cloud_quota_kind: String,
    /// Quota headers without the `Beta-` prefix (as once enforcement reached the app).
    #[arg(long)]
    cloud_quota_enforced_headers: bool,
    /// Data Center `_links.next` advances `start` by the `requested` limit (some versions, after
    /// capping the page) or by the limit it `served`.
    #[arg(long, value_enum, default_value_t = DcNextStart::Requested)]
    dc_next_start: DcNextStart,
    /// What Data Center listings longer than --dc-past-end-after send past their end
    /// (CONFSERVER-95396): `repeat-tail`, `empty-pages` (both keep a `next` link) or `terminates`.
    #[arg(long, value_enum, default_value_t = DcPastEnd::RepeatTail)]
    dc_past_end: DcPastEnd,
    /// Listings with more items than this misbehave past their end.
    #[arg(long, default_value_t = 200)]
    dc_past_end_after: usize,
    /// Data Center `GET /rest/api/content` (the listing): `blocked` (403, as many admins set it)
    /// or `open`.
    #[arg(long, value_enum, default_value_t = DcContentListing::Blocked)]
    dc_content_listing: DcContentListing,
    /// Cloud `content/search` with expansions and a `limit` above N answers 500 (after the first
    /// PASS_FIRST such searches): the overloaded search of docs/sandbox.md.
    #[arg(long, value_name = "N[:PASS_FIRST]", value_parser = SearchOverload::parse)]
    cloud_search_overload: Option<SearchOverload>,
    /// A Cloud OAuth client and the scopes its tokens carry: ID:SECRET:SCOPE,SCOPE (repeatable;
    /// the default client's id replaces its every-scope grant).
    #[arg(long = "cloud-client", value_name = "ID:SECRET:SCOPES", value_parser = CloudOAuthClient::parse)]
    cloud_clients: Vec<CloudOAuthClient>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DcNextStart {
    Requested,
    Served,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DcPastEnd {
    RepeatTail,
    EmptyPages,
    Terminates,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DcContentListing {
    Blocked,
    Open,
}

fn dc_quirks_from(args: &ServeArgs) -> DcQuirks {
    DcQuirks {
        next_start_by_requested_limit: matches!(args.dc_next_start, DcNextStart::Requested),
        past_end: match args.dc_past_end {
            DcPastEnd::RepeatTail => PastEnd::RepeatTail,
            DcPastEnd::EmptyPages => PastEnd::EmptyPages,
            DcPastEnd::Terminates => PastEnd::Terminates,
        },
        past_end_after: args.dc_past_end_after,
        content_listing_blocked: matches!(args.dc_content_listing, DcContentListing::Blocked),
    }
}

fn split_kv(raw: &str) -> anyhow::Result<(&str, &str)> {
    raw.split_once('=')
        .with_context(|| format!("expected SERVICE=VALUE, got {raw:?}"))
}

fn config_from(args: &ServeArgs) -> anyhow::Result<SandboxConfig> {
    let mut config = SandboxConfig::default();
    if let Some(path) = &args.dataset {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading dataset {}", path.display()))?;
        let file = DatasetFile::from_yaml(&text)
            .with_context(|| format!("loading dataset {}", path.display()))?;
        config.confluence.dataset = file.dataset;
        config.confluence.access = file.access;
    }
    if let Some(spec) = &args.generate {
        config.confluence.dataset = spec.generate();
    }
    if let Some(path) = &args.generate_spec {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading generator spec {}", path.display()))?;
        let spec: GenerateSpec = serde_yaml_ng::from_str(&text)
            .with_context(|| format!("parsing generator spec {}", path.display()))?;
        (config.confluence.dataset, config.confluence.access) = spec.generate_with_access();
    }
    if let Some(path) = &args.permissions_config {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading permissions config {}", path.display()))?;
        config.confluence.permissions = serde_yaml_ng::from_str(&text)
            .with_context(|| format!("parsing permissions config {}", path.display()))?;
    }
    config.confluence.dc_context_path = args.dc_context_path.clone();
    config.confluence.token_ttl = Duration::from_secs(args.token_ttl_secs);
    config.confluence.dc_quirks = dc_quirks_from(args);
    config.confluence.cloud_search_next_link = args.cloud_search_next_link;
    config.unique.auth_mode = args.unique_auth;
    config.faults.seed = args.fault_seed;
    config.confluence.cloud_search_overload = args.cloud_search_overload;
    config.confluence.cloud_clients = args.cloud_clients.clone();
    config.cloud_quota.enabled = !args.no_cloud_quota;
    config.cloud_quota.pool = args.cloud_quota_pool;
    config.cloud_quota.window_secs = args.cloud_quota_window_secs;
    config.cloud_quota.kind = if args.cloud_quota_kind == "tenant" {
        QuotaPool::Tenant
    } else {
        QuotaPool::Global
    };
    config.cloud_quota.beta_headers = !args.cloud_quota_enforced_headers;
    for raw in &args.latency {
        let (service, ms) = split_kv(raw)?;
        let ms: u64 = ms
            .parse()
            .with_context(|| format!("latency millis in {raw:?}"))?;
        config
            .faults
            .rules
            .push(FaultRule::latency(service, Duration::from_millis(ms)));
    }
    for raw in &args.rate_limits {
        let (service, value) = split_kv(raw)?;
        let (per_minute, burst) = match value.split_once('/') {
            Some((p, b)) => (
                p,
                Some(b.parse().with_context(|| format!("burst in {raw:?}"))?),
            ),
            None => (value, None),
        };
        let per_minute = per_minute
            .parse()
            .with_context(|| format!("per-minute rate in {raw:?}"))?;
        config
            .faults
            .rate_limits
            .insert(service.to_owned(), RateLimit { per_minute, burst });
    }
    config.addrs.control = Some(args.addr);
    config.addrs.cloud_gateway = args.cloud_gateway_addr;
    config.addrs.cloud_site = args.cloud_site_addr;
    config.addrs.media = args.media_addr;
    config.addrs.dc = args.dc_addr;
    config.addrs.unique_ingestion = args.unique_ingestion_addr;
    config.addrs.unique_scope_management = args.unique_scope_management_addr;
    config.addrs.unique_blob = args.unique_blob_addr;
    config.addrs.zitadel = args.zitadel_addr;
    Ok(config)
}

async fn terminated() {
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Generate { spec } => {
            let (dataset, access) = spec.generate_with_access();
            print!("{}", DatasetFile { dataset, access }.to_yaml()?);
            Ok(())
        }
        Command::Serve(args) => {
            let handle = spawn(config_from(&args)?).await?;
            println!("{}", serde_json::to_string(&handle.urls)?);
            terminated().await;
            handle.shutdown().await;
            Ok(())
        }
    }
}

//! How close one initial sync runs to the rate-limit floor, engine and sandbox in one process:
//! the floor is the fewest requests the rates allow, so the gap above it is what the engine wastes.
//!
//! ```sh
//! cargo run --release -p sync-engine --example floor -- [cloud|dc] [PAGES] [ATTACHMENTS]
//! ```
//!
//! Environment: `SCALE` multiplies both rates (default 5: Confluence 3,000 rpm, Unique 6,000
//! rpm instead of 600 / 1,200), `LATENCY_MS` (default 20, every sandbox service),
//! `CONCURRENCY` (`processing.concurrency`, default 8).
//!
//! The sandbox enforces the same rates the clients are configured with (Confluence: token
//! bucket per service; Unique: sliding one-minute window per GraphQL target and for the file
//! diff). Printed: requests per service and route, 429s, wall time, the floor
//! `max(confluence / confluence_rate, unique / unique_rate)` where each side counts the requests
//! its limiter meters, and `wall / floor`.
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use confluence_client::{
    AuthConfig, ConfluenceClient, ConfluenceConfig, NoopObserver, SecretString,
};
use sandbox::common::{FaultRule, RateLimit};
use sandbox::confluence::{
    default_when, Attachment, AttachmentData, Content, ContentType, Dataset, Space, SpaceType,
};
use sandbox::unique::SeedScope;
use sandbox::SandboxConfig;
use sync_engine::{
    CancellationToken, CycleMode, Ledger, LedgerOptions, NoopCycleObserver, RunTrigger, TenantSpec,
    TenantSync,
};
use unique_client::{TransportConfig, UniqueAuth, UniqueClient, UniqueConfig};

const SPACES: u64 = 10;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `pages` over ten spaces, in each half labelled one by one and half a subtree under one
/// `ai-ingest-all` root; `attachments` PDFs of 4–68 KiB spread evenly over the pages.
fn dataset(pages: u64, attachments: u64) -> Dataset {
    let per_space = pages / SPACES;
    let mut content = Vec::new();
    let mut id = 100_000u64;
    let mut placed = 0u64;
    for s in 0..SPACES {
        let space = format!("S{s}");
        let root = id;
        for i in 0..per_space {
            let (parent, labels): (Option<u64>, Vec<String>) = if i < per_space / 2 {
                (None, vec!["ai-ingest".into()])
            } else if i == per_space / 2 {
                (None, vec!["ai-ingest-all".into()])
            } else {
                (Some(root + per_space / 2), Vec::new())
            };
            let index = s * per_space + i;
            // Attachment number k goes to page ⌊k · pages / attachments⌋.
            let mut files = Vec::new();
            while placed < attachments && placed * pages / attachments.max(1) == index {
                files.push(Attachment {
                    id: format!("att{}", 900_000 + placed),
                    title: format!("file{placed}.pdf"),
                    media_type: "application/pdf".into(),
                    version: 1,
                    when: default_when(),
                    data: AttachmentData::Generated {
                        seed: placed,
                        size: 4096 + (placed * 7919) % 65_536,
                    },
                });
                placed += 1;
            }
            content.push(Content {
                id: id.to_string(),
                content_type: ContentType::Page,
                title: format!("Page {id}"),
                space: space.clone(),
                parent: parent.map(|p| p.to_string()),
                labels,
                body: format!("<p>Body of {id}</p>").repeat(20),
                version: 1,
                when: default_when(),
                attachments: files,
            });
            id += 1;
        }
    }
    Dataset {
        spaces: (0..SPACES)
            .map(|s| Space {
                id: (10_000 + s).to_string(),
                key: format!("S{s}"),
                name: format!("Space {s}"),
                space_type: SpaceType::Global,
            })
            .collect(),
        content,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cloud = args.first().is_none_or(|f| f != "dc");
    let pages = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(1000);
    let attachments = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(500);
    let scale = env("SCALE", 5);
    let latency = env("LATENCY_MS", 20);
    let concurrency = env("CONCURRENCY", 8) as usize;
    let confluence_rpm = 600 * scale;
    let unique_rpm = 1200 * scale;

    let mut config = SandboxConfig::default();
    config.confluence.dataset = dataset(pages, attachments);
    config.unique.rate_limit_per_minute = Some(u32::try_from(unique_rpm).unwrap());
    config
        .faults
        .rules
        .push(FaultRule::latency("*", Duration::from_millis(latency)));
    let service = if cloud { "cloud" } else { "dc" };
    config
        .faults
        .rate_limits
        .insert(service.into(), RateLimit::per_minute(confluence_rpm));
    let sb = sandbox::spawn(config).await.unwrap();
    let root = sb
        .unique
        .seed_scope(SeedScope {
            name: "Confluence".into(),
            ..SeedScope::default()
        })
        .unwrap()
        .id;

    let mut confluence = if cloud {
        let mut c = ConfluenceConfig::cloud(
            sb.urls.cloud_site.clone(),
            sb.urls.cloud_id.clone(),
            "sandbox-client-id",
            SecretString::from("sandbox-client-secret".to_owned()),
        );
        c.api_gateway_url = sb.urls.cloud_gateway.clone();
        c.token_url = Some(format!("{}/oauth/token", sb.urls.cloud_gateway));
        c
    } else {
        ConfluenceConfig::data_center(
            sb.urls.dc_base.clone(),
            AuthConfig::Pat {
                token: SecretString::from("sandbox-pat".to_owned()),
            },
        )
    };
    confluence.rate_limit_per_minute =
        NonZeroU32::new(u32::try_from(confluence_rpm).unwrap()).unwrap();
    let confluence = ConfluenceClient::new(confluence, Arc::new(NoopObserver)).unwrap();
    let auth = UniqueAuth::ClusterLocal {
        extra_headers: BTreeMap::from([
            ("x-company-id".to_owned(), "sandbox-company".to_owned()),
            ("x-user-id".to_owned(), "sandbox-user".to_owned()),
        ]),
    };
    let mut unique = UniqueConfig::new(
        auth,
        sb.urls.unique_ingestion.clone(),
        sb.urls.unique_scope_management.clone(),
    );
    let unique_rate = NonZeroU32::new(u32::try_from(unique_rpm).unwrap()).unwrap();
    unique.api_rate_limit_per_minute = unique_rate;
    unique.transport = TransportConfig::new("unique", unique_rate);
    let unique = UniqueClient::new(unique).unwrap();

    let mut spec = TenantSpec::new("bench", root);
    spec.concurrency = concurrency;
    spec.attachments.image_ocr = false;
    let ledger = Ledger::open("sqlite::memory:", LedgerOptions::default())
        .await
        .unwrap();
    let sync = TenantSync::new(
        spec,
        confluence,
        unique,
        ledger,
        Arc::new(NoopCycleObserver),
    );

    let started = Instant::now();
    let report = sync
        .run_cycle(RunTrigger::Cli, CycleMode::Normal, CancellationToken::new())
        .await
        .unwrap();
    let wall = started.elapsed().as_secs_f64();

    let counts = sb.requests.counts();
    let mut too_many = 0u64;
    for c in &counts {
        eprintln!(
            "{:<24} {:<6} {:<70} {}",
            c.service, c.method, c.route, c.count
        );
    }
    for r in sb.requests.records() {
        if r.status == 429 {
            too_many += 1;
        }
    }
    // What each side's limiter meters: every Confluence request (gateway, media host or DC),
    // and every Unique GraphQL or file-diff request. Uploads and tokens are not metered.
    let confluence_reqs: u64 = ["cloud", "media", "dc"]
        .iter()
        .map(|s| sb.requests.count_service(s))
        .sum::<u64>()
        - sb.requests.count_matching("cloud", "POST", "/oauth/token");
    let unique_reqs = sb
        .requests
        .count_matching("unique-ingestion", "POST", "/graphql")
        + sb.requests
            .count_matching("unique-ingestion", "POST", "/file-diff")
        + sb.requests.count_service("unique-scope-management");
    let uploads = sb.requests.count_matching("unique-ingestion", "PUT", "");
    let floor_confluence = confluence_reqs as f64 / (confluence_rpm as f64 / 60.0);
    let floor_unique = unique_reqs as f64 / (unique_rpm as f64 / 60.0);
    let floor = floor_confluence.max(floor_unique);
    println!(
        "{}",
        serde_json::json!({
            "flavour": if cloud { "cloud" } else { "dc" },
            "pages": pages,
            "attachments": attachments,
            "concurrency": concurrency,
            "latency_ms": latency,
            "confluence_rpm": confluence_rpm,
            "unique_rpm": unique_rpm,
            "status": format!("{:?}", report.status),
            "pages_ok": report.counts.ingested_pages_ok,
            "attachments_ok": report.counts.ingested_attachments_ok,
            "confluence_requests": confluence_reqs,
            "unique_metered_requests": unique_reqs,
            "unique_uploads": uploads,
            "responses_429": too_many,
            "floor_confluence_s": floor_confluence,
            "floor_unique_s": floor_unique,
            "wall_s": wall,
            "wall_over_floor": wall / floor,
        })
    );
}

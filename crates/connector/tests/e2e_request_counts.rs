//! Request economy of `confluence-connector sync`, counted by the sandbox (cheap versions of
//! benchmark scenarios 2 and 6, so that CI catches what the benchmarks would). Exact counts per route: a regression to one body
//! request per page, or any per-item request on a sync where nothing changed, fails here.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use sandbox::confluence::{default_when, Attachment, AttachmentData, Content, Dataset};
use sandbox::{SandboxConfig, SandboxHandle};
use support::*;

fn pdf(id: u64) -> Attachment {
    Attachment {
        id: format!("att{id}"),
        title: format!("file{id}.pdf"),
        media_type: "application/pdf".into(),
        version: 1,
        when: default_when(),
        data: AttachmentData::Text(format!("attachment {id}")),
    }
}

/// Space `ONE`: `single` pages labelled one by one. Space `TWO`: a subtree root and `subtree`
/// unlabelled descendants. Every tenth labelled page carries one PDF.
fn tenant(single: u64, subtree: u64) -> Dataset {
    let mut content: Vec<Content> = (0..single)
        .map(|i| {
            let mut p = page(10_000 + i, "ONE", None, &["ai-ingest"]);
            if i % 10 == 0 {
                p.attachments = vec![pdf(50_000 + i)];
            }
            p
        })
        .collect();
    content.push(page(20_000, "TWO", None, &["ai-ingest-all"]));
    content
        .extend((1..=subtree).map(|i| page(20_000 + i, "TWO", Some(20_000 + (i - 1) / 20), &[])));
    Dataset {
        spaces: vec![space("1001", "ONE"), space("1002", "TWO")],
        content,
    }
}

#[derive(Clone, Copy, Debug)]
enum Flavour {
    Cloud,
    DataCenter,
}

async fn given(
    flavour: Flavour,
    dataset: Dataset,
) -> (SandboxHandle, tempfile::TempDir, std::path::PathBuf) {
    let mut config = SandboxConfig::default();
    config.confluence.dataset = dataset;
    let sandbox = spawn_sandbox_with(config).await;
    let dir = tempfile::tempdir().unwrap();
    let root = seed_root(&sandbox, "Confluence");
    let unique = cluster_local(&sandbox);
    let tenant = match flavour {
        Flavour::Cloud => {
            cloud_tenant(&sandbox, "counted", &root, "sandbox-client-secret", &unique)
        }
        Flavour::DataCenter => dc_tenant(
            &sandbox,
            "counted",
            &root,
            "{ mode: pat, token: sandbox-pat }",
            &unique,
        ),
    };
    let config = write_config(dir.path(), ANY_PORT, "warn", &[tenant]);
    (sandbox, dir, config)
}

async fn sync(config: &std::path::Path) {
    let out = run(Some(config), &["sync", "--json"], &[]).await;
    assert!(
        out.status.success(),
        "sync failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// Every request since the last reset as `service METHOD route [operation]` → count; the
/// Confluence body fetches (Data Center reads them through the search route with
/// `expand=body.storage`) are told apart from discovery's searches as `… (bodies)`.
fn routes(sandbox: &SandboxHandle) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for r in sandbox.requests.records() {
        let mut name = format!("{} {} {}", r.service, r.method, r.route);
        if let Some(op) = &r.operation {
            name = format!("{name} {op}");
        }
        if r.path_and_query.contains("body.storage") || r.path_and_query.contains("body-format") {
            name.push_str(" (bodies)");
        }
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

fn of(entries: &[(&str, u64)]) -> BTreeMap<String, u64> {
    entries
        .iter()
        .filter(|(_, n)| *n > 0)
        .fold(BTreeMap::new(), |mut map, (k, n)| {
            *map.entry((*k).to_owned()).or_insert(0) += n;
            map
        })
}

/// The Confluence side of `routes`: the simulated Confluence origins only.
fn confluence(counts: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    counts
        .iter()
        .filter(|(k, _)| k.starts_with("cloud ") || k.starts_with("media ") || k.starts_with("dc "))
        .map(|(k, n)| (k.clone(), *n))
        .collect()
}

fn unique(counts: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    counts
        .iter()
        .filter(|(k, _)| k.starts_with("unique") || k.starts_with("zitadel"))
        .map(|(k, n)| (k.clone(), *n))
        .collect()
}

const SEARCH_LIMIT: u64 = 100;

/// The requests every cycle makes whatever changed: the token (Cloud) or the instance id
/// (Data Center), and Unique's root-scope bookkeeping (service user, access grant, root read,
/// the listing of the root's children for removed-space cleanup). Constant in the tenant's size.
fn per_cycle(flavour: Flavour) -> Vec<(&'static str, u64)> {
    let mut fixed = vec![
        ("unique-scope-management POST /graphql User", 1),
        ("unique-ingestion POST /graphql CreateScopeAccesses", 1),
        ("unique-ingestion POST /graphql PaginatedScope", 2),
    ];
    fixed.push(match flavour {
        Flavour::Cloud => ("cloud POST /oauth/token", 1),
        Flavour::DataCenter => ("dc GET /rest/applinks/1.0/manifest", 1),
    });
    fixed
}

fn search_route(flavour: Flavour) -> &'static str {
    match flavour {
        Flavour::Cloud => "cloud GET /ex/confluence/{cloud_id}/wiki/rest/api/content/search",
        Flavour::DataCenter => "dc GET /rest/api/content/search",
    }
}

/// Discovery's searches: labelled pages, then descendants of the one subtree root, each
/// `SEARCH_LIMIT` per page.
fn discovery_requests(labelled: u64, descendants: u64) -> u64 {
    labelled.div_ceil(SEARCH_LIMIT) + descendants.div_ceil(SEARCH_LIMIT)
}

async fn a_resync_with_nothing_changed_makes_only_discovery_and_diff_requests(flavour: Flavour) {
    let (single, subtree) = (150, 149);
    let (sandbox, _dir, config) = given(flavour, tenant(single, subtree)).await;
    sync(&config).await;
    assert_eq!(
        sandbox.unique.files().len() as u64,
        single + 1 + subtree + single / 10
    );

    sandbox.reset_requests();
    sync(&config).await;

    let counts = routes(&sandbox);
    let mut expected = per_cycle(flavour);
    expected.push((
        search_route(flavour),
        discovery_requests(single + 1, subtree),
    ));
    expected.push(("unique-ingestion POST /v2/content/file-diff", 2));
    assert_eq!(
        counts,
        of(&expected),
        "a sync with nothing changed: discovery, one file diff per space, the fixed per-cycle \
         bookkeeping and nothing else"
    );
}

async fn an_initial_sync_fetches_bodies_in_batches(flavour: Flavour) {
    let (single, subtree) = (150, 149);
    let pages = single + 1 + subtree;
    let attachments = single / 10;
    let (sandbox, _dir, config) = given(flavour, tenant(single, subtree)).await;

    sync(&config).await;

    let counts = routes(&sandbox);
    // Cloud: v2 `?id=` takes 250 ids per request. Data Center: 100 ids per CQL `id in (…)`,
    // and the server returns 50 bodies per page of it.
    let (body_route, per_body_request) = match flavour {
        Flavour::Cloud => (
            "cloud GET /ex/confluence/{cloud_id}/wiki/api/v2/pages (bodies)",
            250,
        ),
        Flavour::DataCenter => ("dc GET /rest/api/content/search (bodies)", 50),
    };
    let mut expected_confluence = vec![
        (
            search_route(flavour),
            discovery_requests(single + 1, subtree),
        ),
        (body_route, pages.div_ceil(per_body_request)),
    ];
    match flavour {
        Flavour::Cloud => {
            expected_confluence.push(("cloud POST /oauth/token", 1));
            expected_confluence.push((
                "cloud GET /ex/confluence/{cloud_id}/wiki/rest/api/content/{id}/child/attachment/{att}/download",
                attachments,
            ));
            expected_confluence.push(("media GET /file/{attachment}/binary", attachments));
        }
        Flavour::DataCenter => {
            expected_confluence.push(("dc GET /rest/applinks/1.0/manifest", 1));
            expected_confluence.push((
                "dc GET /download/attachments/{page}/{filename}",
                attachments,
            ));
        }
    }
    assert_eq!(
        confluence(&counts),
        of(&expected_confluence),
        "{pages} pages: discovery + ⌈pages / {per_body_request}⌉ body requests + one download \
         per attachment"
    );

    let items = pages + attachments;
    let mut expected_unique: Vec<(&str, u64)> = per_cycle(flavour)
        .into_iter()
        .filter(|(k, _)| k.starts_with("unique"))
        .collect();
    expected_unique.extend([
        // Register and finalize: two API requests per item, the upload besides.
        ("unique-ingestion POST /graphql ContentUpsert", 2 * items),
        ("unique-ingestion PUT /scoped/upload", items),
        ("unique-ingestion POST /v2/content/file-diff", 2),
        // The root is unmarked on the first sync: is there an old root carrying our mark?
        ("unique-ingestion POST /graphql PaginatedScope", 1),
        // The two space scopes, created in one request, then marked (and the root claimed).
        (
            "unique-ingestion POST /graphql GenerateScopesBasedOnPaths",
            1,
        ),
        ("unique-ingestion POST /graphql UpdateScope", 3),
    ]);
    assert_eq!(unique(&counts), of(&expected_unique), "{items} items");
}

macro_rules! on_both_flavours {
    ($($name:ident),+ $(,)?) => {
        mod cloud {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(super::Flavour::Cloud).await;
                }
            )+
        }
        mod data_center {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $name() {
                    super::$name(super::Flavour::DataCenter).await;
                }
            )+
        }
    };
}

on_both_flavours!(
    a_resync_with_nothing_changed_makes_only_discovery_and_diff_requests,
    an_initial_sync_fetches_bodies_in_batches,
);

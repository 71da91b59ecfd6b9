//! Unexpected content and partial failures end to end: `confluence-connector sync`
//! and `check` against a sandbox that serves a content type nobody knows, loses a page or an
//! attachment listing between the search and the next request, overloads its search, or was
//! given an OAuth app without a scope. Each scenario runs on Cloud and, where Data Center has
//! the behaviour, on Data Center; docs/reliability.md quotes the figures.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;

use sandbox::common::FaultRule;
use sandbox::confluence::{
    default_when, CloudOAuthClient, ConfluenceConfig, Content, ContentEdit, ContentType, Dataset,
    SearchOverload, Space, SpaceType, ALL_READ_SCOPES,
};
use sandbox::{SandboxConfig, SandboxHandle};
use serde_json::Value;
use support::*;

const TENANT: &str = "partial";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Flavour {
    Cloud,
    DataCenter,
}

const BOTH: [Flavour; 2] = [Flavour::Cloud, Flavour::DataCenter];

impl Flavour {
    fn service(self) -> &'static str {
        match self {
            Flavour::Cloud => "cloud",
            Flavour::DataCenter => "dc",
        }
    }

    /// The route of the batched body fetch (v2 bulk read on Cloud, CQL `id in` on DC).
    fn body_route(self) -> &'static str {
        match self {
            Flavour::Cloud => "/api/v2/pages",
            Flavour::DataCenter => "content/search",
        }
    }

    /// The route of the paginated attachment listing.
    fn attachment_listing_route(self) -> &'static str {
        match self {
            Flavour::Cloud => "/attachments",
            Flavour::DataCenter => "/child/attachment",
        }
    }
}

struct Env {
    sb: SandboxHandle,
    _dir: tempfile::TempDir,
    config: PathBuf,
}

async fn env(flavour: Flavour, confluence: ConfluenceConfig) -> Env {
    let sb = spawn_sandbox_with(SandboxConfig {
        confluence,
        ..Default::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let root = seed_root(&sb, "Partial root");
    let side = cluster_local(&sb);
    let tenant = match flavour {
        Flavour::Cloud => cloud_tenant(&sb, TENANT, &root, "sandbox-client-secret", &side),
        Flavour::DataCenter => dc_tenant(
            &sb,
            TENANT,
            &root,
            "{ mode: pat, token: sandbox-pat }",
            &side,
        ),
    };
    let config = write_config(dir.path(), ANY_PORT, "warn", &[tenant]);
    Env {
        sb,
        _dir: dir,
        config,
    }
}

/// One `sync --json`: whether it exited 0, the tenant's summary, and the log.
async fn sync(env: &Env) -> (bool, Value, String) {
    let out = run(Some(&env.config), &["sync", "--json"], &[]).await;
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    let tenant = json["tenants"][0].clone();
    (out.status.success(), tenant, text(&out.stderr))
}

async fn sync_ok(env: &Env) -> Value {
    let (ok, summary, log) = sync(env).await;
    assert!(ok, "sync failed: {summary}\n{log}");
    assert_eq!(summary["status"], "success", "{summary}\n{log}");
    summary
}

fn keys(files: &[StoredFile]) -> Vec<&str> {
    files.iter().map(|f| f.key.as_str()).collect()
}

fn with_type(sb: &SandboxHandle, ids: &[&str], name: &str) {
    let mut dataset = sb.confluence.dataset();
    for c in dataset
        .content
        .iter_mut()
        .filter(|c| ids.contains(&c.id.as_str()))
    {
        c.content_type = ContentType::Other(name.into());
    }
    sb.confluence.replace_dataset(dataset).unwrap();
}

/// Runbooks (2004, 30 attachments, found as a descendant) and the only page of the KB space
/// (2201, labelled) become a type the connector does not know. Their stored page, the 30
/// attachments and the KB space scope stay; everything else syncs; the run says so.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_content_type_is_skipped_counted_and_its_stored_copy_kept() {
    for flavour in BOTH {
        let env = env(flavour, ConfluenceConfig::default()).await;
        sync_ok(&env).await;
        let before = unique_state(&env.sb);
        let runbooks = keys(&before.0)
            .into_iter()
            .filter(|k| k.contains("/2004"))
            .count();
        assert_eq!(runbooks, 31, "{flavour:?}: the page and its 30 attachments");
        assert!(keys(&before.0).iter().any(|k| k.ends_with("_KB/2201")));

        with_type(&env.sb, &["2004", "2201"], "livedoc");
        env.sb
            .confluence
            .edit_content(
                "2002",
                ContentEdit {
                    body: Some("<p>architecture, revised</p>".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let summary = sync_ok(&env).await;
        assert_eq!(summary["counts"]["skipped_unknown_type"], 2, "{summary}");
        assert_eq!(summary["counts"]["diff_deleted"], 0, "{summary}");
        assert_eq!(
            summary["counts"]["ingested_pages_ok"], 1,
            "{flavour:?}: the edited page"
        );
        let after = unique_state(&env.sb);
        assert_eq!(
            keys(&after.0),
            keys(&before.0),
            "{flavour:?}: nothing deleted"
        );
        assert_eq!(
            after.1, before.1,
            "{flavour:?}: every scope kept, KB included"
        );
        let edited = after.0.iter().find(|f| f.key.ends_with("/2002")).unwrap();
        assert_eq!(
            edited.bytes.as_deref(),
            Some(&b"<p>architecture, revised</p>"[..]),
            "{flavour:?}: the rest of the tenant synced"
        );
        // The ledger's note, as `status` shows it.
        let status = run(Some(&env.config), &["status"], &[]).await;
        let shown = text(&status.stdout);
        assert!(
            shown.contains(
                "2 item(s) of a content type this connector does not know skipped (ids 2004, 2201)"
            ),
            "{shown}"
        );
        let json = run(Some(&env.config), &["status", "--json"], &[]).await;
        let json: Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(
            json["tenants"][TENANT]["runs"][0]["counts"]["skipped_unknown_type"],
            2
        );
    }
}

/// A page edited in Confluence is deleted (or restricted) before its body is fetched: the
/// batched fetch answers 404/403 for the batch naming it, the page is skipped, the rest of the
/// batch lands, nothing is deleted, and the next cycle heals.
#[tokio::test(flavor = "multi_thread")]
async fn a_page_gone_before_its_body_fetch_is_skipped_not_failed_and_nothing_is_deleted() {
    for (flavour, status) in [(Flavour::Cloud, 404), (Flavour::DataCenter, 403)] {
        let env = env(flavour, ConfluenceConfig::default()).await;
        // The folder (2006) has no body and is skipped on every cycle.
        let always_skipped = sync_ok(&env).await["counts"]["ingested_pages_skipped"]
            .as_u64()
            .unwrap();
        let before = stored_files(&env.sb);
        for id in ["2002", "2003"] {
            env.sb
                .confluence
                .edit_content(
                    id,
                    ContentEdit {
                        body: Some(format!("<p>{id} v2</p>")),
                        ..Default::default()
                    },
                )
                .unwrap();
        }
        let rule = env.sb.faults.add_rule(
            FaultRule::failing_batch_id(flavour.service(), "2002", status)
                .on_route(flavour.body_route()),
        );
        let summary = sync_ok(&env).await;
        let counts = &summary["counts"];
        assert_eq!(counts["ingested_pages_failed"], 0, "{flavour:?}: {summary}");
        assert_eq!(
            counts["ingested_pages_skipped"].as_u64(),
            Some(always_skipped + 1),
            "{flavour:?}: {summary}"
        );
        assert_eq!(counts["ingested_pages_ok"], 1, "{flavour:?}: {summary}");
        let after = stored_files(&env.sb);
        assert_eq!(keys(&after), keys(&before), "{flavour:?}: nothing deleted");
        let body = |files: &[StoredFile], id: &str| {
            files
                .iter()
                .find(|f| f.key.ends_with(&format!("/{id}")))
                .and_then(|f| f.bytes.clone())
                .unwrap()
        };
        assert_eq!(body(&after, "2003"), b"<p>2003 v2</p>");
        assert_eq!(
            body(&after, "2002"),
            body(&before, "2002"),
            "{flavour:?}: the old copy stays"
        );
        // It comes back: the next cycle brings it up to date.
        env.sb.faults.remove_rule(rule);
        sync_ok(&env).await;
        assert_eq!(body(&stored_files(&env.sb), "2002"), b"<p>2002 v2</p>");
        // A batch that simply leaves the page out (what Cloud's `pages?id=…` does with an id it
        // cannot return) is the same: skipped, kept.
        env.sb
            .confluence
            .edit_content(
                "2003",
                ContentEdit {
                    body: Some("<p>2003 v3</p>".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        env.sb.faults.add_rule(
            FaultRule::omitting_batch_id(flavour.service(), "2003").on_route(flavour.body_route()),
        );
        let summary = sync_ok(&env).await;
        assert_eq!(summary["counts"]["ingested_pages_failed"], 0, "{summary}");
        assert_eq!(body(&stored_files(&env.sb), "2003"), b"<p>2003 v2</p>");
    }
}

/// Runbooks (2004) has 30 attachments; the 5 beyond the 25 the search inlines come from the
/// attachment listing, which now answers 404 (Cloud) or 403 (DC): the page is still synced,
/// none of its 30 stored attachments is deleted, the run counts it.
#[tokio::test(flavor = "multi_thread")]
async fn an_attachment_listing_that_is_gone_holds_back_that_pages_attachments_only() {
    for (flavour, status) in [(Flavour::Cloud, 404), (Flavour::DataCenter, 403)] {
        let env = env(flavour, ConfluenceConfig::default()).await;
        sync_ok(&env).await;
        let before = stored_files(&env.sb);
        env.sb.faults.add_rule(
            FaultRule::failing_batch_id(flavour.service(), "2004", status)
                .on_route(flavour.attachment_listing_route()),
        );
        env.sb
            .confluence
            .edit_content(
                "2004",
                ContentEdit {
                    body: Some("<p>runbooks v2</p>".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        let summary = sync_ok(&env).await;
        assert_eq!(summary["counts"]["attachments_held_back"], 1, "{summary}");
        assert_eq!(summary["counts"]["diff_deleted"], 0, "{summary}");
        let after = stored_files(&env.sb);
        assert_eq!(
            keys(&after),
            keys(&before),
            "{flavour:?}: all 30 attachments kept"
        );
        let page = after.iter().find(|f| f.key.ends_with("/2004")).unwrap();
        assert_eq!(page.bytes.as_deref(), Some(&b"<p>runbooks v2</p>"[..]));
    }
}

/// 260 labelled pages, Cloud search overloaded above 50 results with expansions from the third
/// page on: the listing restarts at 50 and every page lands once.
#[tokio::test(flavor = "multi_thread")]
async fn an_overloaded_cloud_search_halves_its_page_size_and_misses_nothing() {
    const PAGES: u64 = 260;
    let space = Space {
        id: "98304".into(),
        key: "SP".into(),
        name: "Space SP".into(),
        space_type: SpaceType::Global,
    };
    let content = (1..=PAGES)
        .map(|id| Content {
            id: (100_000 + id).to_string(),
            content_type: ContentType::Page,
            title: format!("Page {id}"),
            space: "SP".into(),
            parent: None,
            labels: vec!["ai-ingest".into()],
            body: format!("<p>{id}</p>"),
            version: 1,
            when: default_when(),
            attachments: Vec::new(),
        })
        .collect();
    let env = env(
        Flavour::Cloud,
        ConfluenceConfig {
            dataset: Dataset {
                spaces: vec![space],
                content,
            },
            cloud_search_overload: Some(SearchOverload {
                max_limit_with_expand: 50,
                pass_first: 2,
            }),
            ..Default::default()
        },
    )
    .await;
    let started = std::time::Instant::now();
    sync_ok(&env).await;
    println!("overloaded search, {PAGES} pages: {:?}", started.elapsed());
    let expected: Vec<String> = (1..=PAGES)
        .map(|id| format!("{TENANT}/98304_SP/{}", 100_000 + id))
        .collect();
    let mut stored: Vec<String> = stored_files(&env.sb).into_iter().map(|f| f.key).collect();
    stored.sort();
    assert_eq!(stored, expected, "every page, each once");
    let limits: Vec<String> = env
        .sb
        .requests
        .records_for("cloud")
        .into_iter()
        .filter(|r| r.route.ends_with("content/search"))
        .map(|r| {
            let after = r.path_and_query.split("limit=").nth(1).unwrap();
            after.split('&').next().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        limits,
        ["100", "100", "100", "50", "50", "50", "50", "50", "50"],
        "pages 1–2 at 100, the 500 on page 3, then the whole listing again at 50"
    );
    assert_eq!(env.sb.confluence.cloud_search_overload().1, 1);
}

/// The Cloud app was given no attachment scope: `check` and `sync` name the scope to add
/// instead of blaming the credentials, and no token is fetched twice for it.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_cloud_scope_is_named_by_check_and_sync() {
    let scopes: Vec<String> = ALL_READ_SCOPES
        .iter()
        .filter(|s| !s.contains("attachment"))
        .map(|s| (*s).to_owned())
        .collect();
    let env = env(
        Flavour::Cloud,
        ConfluenceConfig {
            cloud_clients: vec![CloudOAuthClient {
                id: "sandbox-client-id".into(),
                secret: "sandbox-client-secret".into(),
                scopes,
            }],
            ..Default::default()
        },
    )
    .await;
    let check = run(Some(&env.config), &["check"], &[]).await;
    let stdout = text(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("Confluence OAuth scope missing"),
        "{stdout}"
    );
    assert!(
        stdout.contains("add read:attachment:confluence"),
        "{stdout}"
    );
    assert!(!stdout.contains("credentials rejected"), "{stdout}");

    env.sb.reset_requests();
    let (ok, summary, log) = sync(&env).await;
    assert!(!ok, "{summary}");
    let error = summary["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("add read:attachment:confluence"),
        "{error}\n{log}"
    );
    assert!(!error.contains("credentials"), "{error}");
    assert_eq!(
        env.sb.requests.count_matching("cloud", "POST", "token"),
        1,
        "a scope mismatch does not refresh the token"
    );
    assert!(
        stored_files(&env.sb).is_empty(),
        "a failed discovery writes nothing"
    );
}

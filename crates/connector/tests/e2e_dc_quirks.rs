//! Data Center's pagination quirks against the built binary. The sandbox's DC answers the way real versions do (docs/sandbox.md,
//! "Data Center pagination"): `_links.next` advanced by the requested limit after capping,
//! listings past a threshold that never end (CONFSERVER-95396), `child/attachment` links
//! without `expand`, `GET /rest/api/content` blocked. Each test counts what one sync of the
//! binary left out; every figure must be zero.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use sandbox::confluence::{
    default_when, Attachment, AttachmentData, AttachmentUpdate, Content, Dataset, DcQuirks, PastEnd,
};
use sandbox::{SandboxConfig, SandboxHandle};
use serde_json::{json, Value};
use support::*;

const TENANT: &str = "dcquirks";
const SINGLE: &str = "ai-ingest";
const ALL: &str = "ai-ingest-all";

fn pdf(id: u64, text: &str) -> Attachment {
    Attachment {
        id: format!("att{id}"),
        title: format!("file{id}.pdf"),
        media_type: "application/pdf".into(),
        version: 1,
        when: default_when(),
        data: AttachmentData::Text(text.into()),
    }
}

/// The key every page and attachment of `dataset` must have in Unique.
fn expected_keys(dataset: &Dataset) -> BTreeSet<String> {
    let space_id = |key: &str| {
        dataset
            .spaces
            .iter()
            .find(|s| s.key == key)
            .map(|s| s.id.clone())
            .unwrap()
    };
    let mut keys = BTreeSet::new();
    for c in &dataset.content {
        let base = format!("{TENANT}/{}_{}/{}", space_id(&c.space), c.space, c.id);
        for a in &c.attachments {
            keys.insert(format!("{base}::{}", a.id));
        }
        keys.insert(base);
    }
    keys
}

/// A DC sandbox with `dataset` and `tweak` applied, a tenant on it, and its config file.
async fn given(
    dataset: Dataset,
    tweak: impl FnOnce(&mut SandboxConfig),
) -> (SandboxHandle, tempfile::TempDir, std::path::PathBuf) {
    given_with_ingestion(dataset, tweak, "").await
}

async fn given_with_ingestion(
    dataset: Dataset,
    tweak: impl FnOnce(&mut SandboxConfig),
    ingestion_extra: &str,
) -> (SandboxHandle, tempfile::TempDir, std::path::PathBuf) {
    let mut config = SandboxConfig::default();
    config.confluence.dataset = dataset;
    tweak(&mut config);
    let sb = spawn_sandbox_with(config).await;
    let root = seed_root(&sb, "DC quirks");
    let dir = tempfile::tempdir().unwrap();
    let tenant = dc_tenant(
        &sb,
        TENANT,
        &root,
        "{ mode: pat, token: sandbox-pat }",
        &cluster_local(&sb),
    )
    .replacen(
        "      ingestion:\n",
        &format!("      ingestion:\n{ingestion_extra}"),
        1,
    );
    let config = write_config(dir.path(), ANY_PORT, "warn", &[tenant]);
    (sb, dir, config)
}

async fn sync_ok(config: &std::path::Path) -> Value {
    let out = run(Some(config), &["sync", "--json"], &[]).await;
    assert!(
        out.status.success(),
        "sync failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Expected keys Unique does not hold.
fn missed(sb: &SandboxHandle, expected: &BTreeSet<String>) -> Vec<String> {
    let stored: BTreeSet<String> = stored_files(sb).into_iter().map(|f| f.key).collect();
    expected.difference(&stored).cloned().collect()
}

/// How many times each key was registered (`ContentUpsert` without `fileUrl`).
fn registrations(sb: &SandboxHandle) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for call in sb.unique.calls_of("ContentUpsert") {
        if call.variables.get("fileUrl").is_some_and(|v| !v.is_null()) {
            continue;
        }
        let key = call.variables["input"]["key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        *counts.entry(key).or_insert(0) += 1;
    }
    counts
}

/// 150 pages labelled one by one, a subtree of 121, a capped deployment: the search serves 40
/// per page where the client asks 100, bodies 20 where it asks 50, and every `next` advances
/// `start` by the requested limit.
#[tokio::test]
async fn capped_pages_whose_next_skips_ahead_lose_no_page() {
    let mut content: Vec<Content> = (0..150)
        .map(|i| page(100_000 + i, "CAP", None, &[SINGLE]))
        .collect();
    content.push(page(200_000, "SUB", None, &[ALL]));
    content.extend((1..=120).map(|i| page(200_000 + i, "SUB", Some(200_000), &[])));
    let dataset = Dataset {
        spaces: vec![space("3001", "CAP"), space("3002", "SUB")],
        content,
    };
    let expected = expected_keys(&dataset);
    let (sb, _dir, config) = given(dataset, |c| {
        // An administrator's lower maximum (real deployments configure one).
        c.confluence.limits.dc_search_with_expand = 40;
        c.confluence.limits.dc_search_with_body = 20;
        c.confluence.dc_quirks = DcQuirks::default();
    })
    .await;

    sync_ok(&config).await;

    let missed = missed(&sb, &expected);
    println!(
        "capped DC pages, next by requested limit: {} of {} items missed",
        missed.len(),
        expected.len()
    );
    assert_eq!(missed, Vec::<String>::new(), "{} missed", missed.len());
}

/// Past `past_end_after` items the last page of every listing keeps a `next`, and so does every
/// page after it (CONFSERVER-95396; the threshold is lowered from 200 to keep the test small):
/// 45 labelled pages in one search, a page with 60 attachments. Each must arrive exactly once.
async fn a_listing_that_does_not_end(past_end: PastEnd) {
    let mut content: Vec<Content> = (0..45)
        .map(|i| page(300_000 + i, "LONG", None, &[SINGLE]))
        .collect();
    content[0].attachments = (0..60)
        .map(|i| pdf(600_000 + i, &format!("attachment {i}")))
        .collect();
    let dataset = Dataset {
        spaces: vec![space("3003", "LONG")],
        content,
    };
    let expected = expected_keys(&dataset);
    let (sb, _dir, config) = given(dataset, |_| {}).await;
    // Switched through the control API, as a script would.
    reqwest::Client::new()
        .put(format!("{}/_sandbox/confluence/dc-quirks", sb.urls.control))
        .json(&json!({"past_end": past_end, "past_end_after": 30}))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();

    sync_ok(&config).await;

    let missed = missed(&sb, &expected);
    let twice: Vec<(String, usize)> = registrations(&sb)
        .into_iter()
        .filter(|(_, n)| *n > 1)
        .collect();
    println!(
        "DC listing past its end ({past_end:?}): {} of {} items missed, {} registered twice",
        missed.len(),
        expected.len(),
        twice.len()
    );
    assert_eq!(missed, Vec::<String>::new());
    assert_eq!(twice, Vec::<(String, usize)>::new(), "registered twice");
    // Each listing ends one request past its last item, not at the page cap: the label search
    // and the body batch (45 ids) two requests each, the attachments at 25, 50 and one more.
    let searches = sb.requests.count_matching("dc", "GET", "content/search");
    let attachment_pages = sb.requests.count_matching("dc", "GET", "child/attachment");
    assert_eq!(searches, 4, "label search, body batch");
    assert_eq!(attachment_pages, 3, "25, 50, then one with nothing new");
}

#[tokio::test]
async fn a_listing_that_repeats_its_tail_past_the_end_yields_each_item_once() {
    a_listing_that_does_not_end(PastEnd::RepeatTail).await;
}

#[tokio::test]
async fn a_listing_with_empty_pages_past_the_end_stops_at_the_first() {
    a_listing_that_does_not_end(PastEnd::EmptyPages).await;
}

/// A page with 30 attachments: the 28th gets new bytes while the page is untouched. It lies past
/// the 25 listed inline, so only the followed `child/attachment` page can tell its version.
#[tokio::test]
async fn an_attachment_reuploaded_past_the_inline_25_is_uploaded_again() {
    let mut holder = page(400_000, "ATT", None, &[SINGLE]);
    holder.attachments = (0..30)
        .map(|i| pdf(700_000 + i, &format!("first bytes {i}")))
        .collect();
    let dataset = Dataset {
        spaces: vec![space("3004", "ATT")],
        content: vec![holder],
    };
    let expected = expected_keys(&dataset);
    let (sb, _dir, config) = given(dataset, |_| {}).await;
    sync_ok(&config).await;
    assert_eq!(missed(&sb, &expected), Vec::<String>::new());

    let key = format!("{TENANT}/3004_ATT/400000::att700027");
    sb.confluence
        .update_attachment(
            "att700027",
            AttachmentUpdate {
                data: Some(AttachmentData::Text("second bytes".into())),
                ..AttachmentUpdate::default()
            },
        )
        .unwrap();
    sb.unique.clear_calls();
    sync_ok(&config).await;

    let bytes = sb.unique.file_bytes(&key).unwrap();
    println!(
        "re-uploaded attachment at position 28: Unique holds {:?}",
        text(&bytes)
    );
    assert_eq!(text(&bytes), "second bytes");
    assert_eq!(
        registrations(&sb).into_keys().collect::<Vec<_>>(),
        [key],
        "only that attachment is ingested again"
    );
}

/// Image inlining looks another page up by title. Administrators often block
/// `GET /rest/api/content` (403, the sandbox's default); CQL search stays open.
#[tokio::test]
async fn image_inlining_finds_the_other_page_by_cql_when_the_content_listing_is_blocked() {
    let mut other = page(500_001, "IMG", None, &[]);
    other.title = "Diagrams".into();
    other.attachments = vec![Attachment {
        id: "att800000".into(),
        title: "flow.png".into(),
        media_type: "image/png".into(),
        version: 1,
        when: default_when(),
        data: AttachmentData::Text("png bytes".into()),
    }];
    let mut referrer = page(500_000, "IMG", None, &[SINGLE]);
    referrer.body = "<p>see</p><ac:image><ri:attachment ri:filename=\"flow.png\"><ri:page ri:content-title=\"Diagrams\"/></ri:attachment></ac:image>".into();
    let dataset = Dataset {
        spaces: vec![space("3005", "IMG")],
        content: vec![referrer, other],
    };
    let extraction = json!({"htmlConfig": {"imageContentExtraction": {
        "enabled": true, "languageModel": "AZURE_GPT_4o_2024_1120"}}});
    let (sb, _dir, config) = given_with_ingestion(
        dataset,
        |c| c.confluence.dc_quirks = DcQuirks::default(),
        &format!("        pageIngestionConfig: {extraction}\n"),
    )
    .await;

    sync_ok(&config).await;

    let key = format!("{TENANT}/3005_IMG/500000");
    let stored = text(&sb.unique.file_bytes(&key).unwrap());
    println!("inlined body on a DC with the content listing blocked: {stored}");
    assert_eq!(
        stored,
        "<p>see</p><img src=\"data:image/png;base64,cG5nIGJ5dGVz\" alt=\"flow.png\" />"
    );
    let listing_calls = sb
        .requests
        .records_for("dc")
        .into_iter()
        .filter(|r| r.route.ends_with("/rest/api/content"))
        .count();
    assert_eq!(listing_calls, 0, "the blocked listing is never asked");
}

/// The built-in dataset holds a folder, a database and a whiteboard below `2001`; Data Center
/// has no such types, so the connector must never see one there.
#[tokio::test]
async fn data_center_discovery_sees_no_cloud_only_types() {
    let (sb, _dir, config) = given(sandbox::confluence::Dataset::builtin(), |_| {}).await;
    sync_ok(&config).await;
    // Discovery's hits go on to the batched body fetch (CQL `id in (…)`), folders included.
    let fetched: Vec<String> = sb
        .requests
        .records_for("dc")
        .into_iter()
        .filter_map(|r| {
            let url = url::Url::parse(&format!("http://x{}", r.path_and_query)).ok()?;
            let cql = url.query_pairs().find(|(k, _)| k == "cql")?.1.into_owned();
            Some(
                cql.strip_prefix("id in (")?
                    .trim_end_matches(')')
                    .to_owned(),
            )
        })
        .flat_map(|ids| ids.split(',').map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(fetched.iter().any(|id| id == "2004"), "{fetched:?}");
    for id in ["2006", "2007", "2008"] {
        assert!(
            !fetched.iter().any(|f| f == id),
            "{id} reached the connector"
        );
    }
    let stored: Vec<String> = stored_files(&sb).into_iter().map(|f| f.key).collect();
    assert!(stored.iter().any(|k| k.ends_with("/2004")), "{stored:?}");
}

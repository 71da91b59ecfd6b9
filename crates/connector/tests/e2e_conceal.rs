//! The `conceal` diagnostics policy against the built binary: a title that reaches us only
//! inside an upstream error (Unique quoting it back when it refuses a page or an attachment)
//! appears neither in the logs nor in the ledger; under `disclose` it appears in both. The
//! attachment's failure line has no title field to mask by name, only the quoting error.
#![allow(clippy::unwrap_used)]

mod support;

use sandbox::confluence::{
    Attachment, AttachmentData, Content, ContentType, Dataset, Space, SpaceType,
};
use sandbox::unique::UniqueFault;
use sandbox::SandboxConfig;
use support::*;
use sync_engine::{Ledger, LedgerOptions, RunStatus};

const PLANTED: &str = "Zebra Quartz planted title 4471";
const TENANT: &str = "acme";

fn dataset() -> Dataset {
    let page = |id: &str, title: &str| Content {
        id: id.into(),
        content_type: ContentType::Page,
        title: title.into(),
        space: "SEC".into(),
        parent: None,
        labels: vec!["ai-ingest".into()],
        body: format!("<p>Body of {id}</p>"),
        version: 1,
        when: sandbox::confluence::default_when(),
        attachments: Vec::new(),
    };
    let mut ordinary = page("9102", "An ordinary page");
    ordinary.attachments.push(Attachment {
        id: "att9201".into(),
        title: format!("{PLANTED}.pdf"),
        media_type: "application/pdf".into(),
        version: 1,
        when: sandbox::confluence::default_when(),
        data: AttachmentData::Text("%PDF-1.4 not really".into()),
    });
    Dataset {
        spaces: vec![Space {
            id: "9001".into(),
            key: "SEC".into(),
            name: "Secret space".into(),
            space_type: SpaceType::Global,
        }],
        content: vec![page("9101", PLANTED), ordinary],
    }
}

/// What one `sync` left behind: its stderr, and every error text of its run in the ledger.
struct Outcome {
    stderr: String,
    ledger_errors: Vec<String>,
}

async fn sync_a_page_unique_refuses_by_title(policy: &str) -> Outcome {
    let mut config = SandboxConfig::default();
    config.confluence.dataset = dataset();
    let sb = spawn_sandbox_with(config).await;
    let root = seed_root(&sb, "Conceal root");
    // Unique refuses the page and the attachment, quoting their titles, as a service naming a
    // conflict would.
    for (item, title) in [
        ("9001_SEC/9101", PLANTED.to_owned()),
        ("att9201", format!("{PLANTED}.pdf")),
    ] {
        sb.unique.add_fault(
            UniqueFault::graphql_error(
                "ContentUpsert",
                &format!("Content with title \"{title}\" is not allowed"),
            )
            .when_contains(item),
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let tenant = dc_tenant(
        &sb,
        TENANT,
        &root,
        "{ mode: pat, token: sandbox-pat }",
        &cluster_local(&sb),
    );
    let config = write_config(dir.path(), ANY_PORT, "info", &[tenant]);

    let out = run(
        Some(&config),
        &["sync", "--json"],
        &[("LOGS_DIAGNOSTICS_DATA_POLICY", policy)],
    )
    .await;

    let stderr = text(&out.stderr);
    let state = dir.path().join("state.db");
    let ledger = Ledger::open(
        &format!("sqlite://{}", state.display()),
        LedgerOptions::default().read_only(),
    )
    .await
    .unwrap();
    let run = ledger.recent_runs(Some(TENANT), 1).await.unwrap().remove(0);
    assert_eq!(run.status, RunStatus::PARTIAL_SUCCESS, "{run:?}\n{stderr}");
    let failures = ledger.run_failures(run.id).await.unwrap();
    assert_eq!(failures.len(), 2, "{failures:?}\n{stderr}");
    let mut ledger_errors: Vec<String> = failures.into_iter().map(|f| f.error).collect();
    ledger_errors.extend(run.error);
    ledger_errors.extend(
        ledger
            .open_failures(TENANT)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.error),
    );
    ledger.close().await;
    // Nothing else in the file either (all tables, whatever the ledger's API shows).
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("state.db")
        {
            raw.extend(std::fs::read(&path).unwrap());
        }
    }
    ledger_errors.push(String::from_utf8_lossy(&raw).into_owned());
    Outcome {
        stderr,
        ledger_errors,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn conceal_keeps_a_title_quoted_in_an_upstream_error_out_of_logs_and_ledger() {
    let out = sync_a_page_unique_refuses_by_title("conceal").await;

    for line in [
        "Failed to ingest page, skipping",
        "Failed to ingest attachment, skipping",
    ] {
        assert!(
            out.stderr.contains(line),
            "{line} is logged:\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("Zebra"), "{}", out.stderr);
    for error in &out.ledger_errors[..2] {
        assert!(
            error.contains("ContentUpsert returned errors: [redacted:"),
            "the ledger still says what failed: {error}"
        );
    }
    for error in &out.ledger_errors {
        assert!(!error.contains("Zebra"), "in the ledger: {error:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn disclose_keeps_a_title_quoted_in_an_upstream_error_in_logs_and_ledger() {
    let out = sync_a_page_unique_refuses_by_title("disclose").await;

    assert!(out.stderr.contains(PLANTED), "{}", out.stderr);
    for error in &out.ledger_errors[..2] {
        assert!(error.contains(PLANTED), "{error}");
    }
}

/// Failures on paths that carry ids: one retried 503 on the Data Center attachment listing of
/// page 2004 (30 attachments, more than the 25 inlined) and on the Cloud download of att3001 on
/// page 2001; and the media host refusing every download (400), so that each Cloud attachment
/// fails with an error quoting `/file/<attachment id>/binary`.
fn fail_on_paths_with_ids(sb: &sandbox::SandboxHandle) {
    use sandbox::common::FaultRule;
    for (service, route) in [("dc", "{id}/child/attachment"), ("cloud", "{att}/download")] {
        sb.faults
            .add_rule(FaultRule::error(service, 503, 1.0).on_route(route).times(1));
    }
    sb.faults
        .add_rule(FaultRule::error("media", 400, 1.0).on_route("/file/{attachment}/binary"));
}

/// Ids travel in URL paths too (`/rest/api/content/<page id>/child/attachment`, the Cloud
/// download `…/content/<page id>/child/attachment/<attachment id>/download`, the media host's
/// `/file/<attachment id>/binary`): under `conceal` the `url` and error fields mask them as the
/// `*_id` fields are masked, with the same stable hash; under `disclose` they show.
#[tokio::test(flavor = "multi_thread")]
async fn conceal_masks_ids_inside_urls_in_url_and_error_fields() {
    let ids = ["2004", "2001", "att3001"];
    let masked = |id: &str| {
        connector::Diag::with_policy(id, connector::config::DiagnosticsDataPolicy::Conceal)
            .to_string()
    };

    for policy in ["conceal", "disclose"] {
        // A sandbox of its own, so that the second run downloads again.
        let sb = spawn_sandbox().await;
        let unique = cluster_local(&sb);
        let tenants = [
            dc_tenant(
                &sb,
                "dc",
                &seed_root(&sb, "dc"),
                "{ mode: pat, token: sandbox-pat }",
                &unique,
            ),
            cloud_tenant(
                &sb,
                "cloudy",
                &seed_root(&sb, "cloud"),
                "sandbox-client-secret",
                &unique,
            ),
        ];
        fail_on_paths_with_ids(&sb);
        let dir = tempfile::tempdir().unwrap();
        let config = write_config(dir.path(), ANY_PORT, "info", &tenants);
        let out = run(
            Some(&config),
            &["sync", "--json"],
            &[("LOGS_DIAGNOSTICS_DATA_POLICY", policy)],
        )
        .await;
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // The `url` and error fields of every line.
        let fields: Vec<String> = stderr
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .flat_map(|l| {
                ["url", "error", "err"].map(|f| l[f].as_str().unwrap_or_default().to_owned())
            })
            .collect();
        let all = fields.join("\n");
        for (path, masked_path) in [
            (
                "/content/2004/child/attachment",
                format!("/content/{}/child/attachment", masked("2004")),
            ),
            (
                "/content/2001/child/attachment/att3001/download",
                format!(
                    "/content/{}/child/attachment/{}/download",
                    masked("2001"),
                    masked("att3001")
                ),
            ),
            (
                "/file/att3001/binary",
                format!("/file/{}/binary", masked("att3001")),
            ),
        ] {
            let shown = if policy == "conceal" {
                &masked_path
            } else {
                path
            };
            assert!(all.contains(shown), "{shown} under {policy}:\n{all}");
        }
        for id in ids {
            let in_a_path = format!("/{id}/");
            assert_eq!(
                all.contains(&in_a_path),
                policy == "disclose",
                "{id} in a URL under {policy}:\n{all}"
            );
        }
    }
}

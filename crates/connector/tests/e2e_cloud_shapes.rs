//! The binary against the shape of real Confluence Cloud's search `_links.next`: without
//! `/wiki` and without the request's `expand` (docs/sandbox.md, "Real-service behaviours and
//! their sources").
#![allow(clippy::unwrap_used)]

mod support;

use sandbox::confluence::{CloudSearchNextLink, ConfluenceConfig, Limits};
use sandbox::SandboxConfig;
use support::*;

/// A sandbox whose Cloud search answers three items a page, so every listing follows links.
async fn sandbox_with_small_search_pages() -> sandbox::SandboxHandle {
    spawn_sandbox_with(SandboxConfig {
        confluence: ConfluenceConfig {
            limits: Limits {
                cloud_search: 3,
                cloud_search_with_body: 3,
                ..Limits::default()
            },
            ..ConfluenceConfig::default()
        },
        ..SandboxConfig::default()
    })
    .await
}

/// Syncs one Cloud tenant; returns its summary.
async fn sync_cloud(sandbox: &sandbox::SandboxHandle) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let root = seed_root(sandbox, "root");
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "warn",
        &[cloud_tenant(
            sandbox,
            "cloudy",
            &root,
            "sandbox-client-secret",
            &cluster_local(sandbox),
        )],
    );
    let out = run(Some(&config), &["sync", "--json"], &[]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}):\n{}", text(&out.stderr));
    });
    assert!(out.status.success(), "{json}\n{}", text(&out.stderr));
    json["tenants"][0].clone()
}

/// Files in Unique as (key, sha256), sorted.
fn landed(sandbox: &sandbox::SandboxHandle) -> Vec<(String, Option<String>)> {
    let mut files: Vec<_> = sandbox
        .unique
        .files()
        .into_iter()
        .map(|f| (f.key, f.sha256))
        .collect();
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn cloud_search_pages_whose_next_link_drops_expand_sync_like_full_links() {
    // Against Cloud's shape (the default) ...
    let as_cloud = sandbox_with_small_search_pages().await;
    assert_eq!(
        as_cloud.confluence.cloud_search_next_link(),
        CloudSearchNextLink::AsCloud
    );
    let tenant = sync_cloud(&as_cloud).await;
    assert_eq!(tenant["status"], "success", "{tenant}");

    // ... every followed link asked for the listing's expansions again ...
    let searches: Vec<String> = as_cloud
        .requests
        .records_for("cloud")
        .into_iter()
        .filter(|r| r.route.ends_with("/content/search"))
        .map(|r| r.path_and_query)
        .collect();
    let followed: Vec<&String> = searches.iter().filter(|q| q.contains("cursor=")).collect();
    assert!(followed.len() >= 2, "no link was followed: {searches:?}");
    for query in &followed {
        assert!(
            query.contains("expand=metadata.labels,version,space"),
            "{query}"
        );
    }

    // ... and the outcome equals a sync against links that carry everything.
    let full = sandbox_with_small_search_pages().await;
    full.confluence
        .set_cloud_search_next_link(CloudSearchNextLink::WikiWithExpand);
    let reference = sync_cloud(&full).await;
    assert_eq!(reference["status"], "success", "{reference}");
    assert_eq!(tenant["counts"], reference["counts"]);
    assert!(!landed(&as_cloud).is_empty());
    assert_eq!(landed(&as_cloud), landed(&full));
}

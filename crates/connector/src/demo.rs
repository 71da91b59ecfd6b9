//! `confluence-connector demo`: the sandbox in-process with a generated dataset, one sync on
//! SQLite in a temporary directory, and a listing of what landed in the sandbox's Unique.
//! No flags, no setup, no network beyond loopback.

use std::sync::Arc;

use anyhow::Context;
use sandbox::confluence::{Attachment, AttachmentData, GenerateSpec};
use sandbox::unique::SeedScope;
use sandbox::{SandboxConfig, SandboxHandle};
use sync_engine::RunTrigger;
use tokio_util::sync::CancellationToken;

use crate::config::{DaemonConfig, DiagnosticsDataPolicy, Env, LogFormat, LogLevel};
use crate::engine::EngineRunner;
use crate::health::SyncHistory;
use crate::metrics::Metrics;
use crate::progress::NoProgress;
use crate::runner::RunState;
use crate::scheduler::Scheduler;

/// Attachments on the demo's big page: more than the 25 a search inlines.
const MANY_ATTACHMENTS: usize = 30;

/// A small generated dataset: three spaces, trees with both labels, attachments, and one page
/// with more attachments than the search inlines.
fn dataset() -> sandbox::confluence::Dataset {
    let spec = GenerateSpec {
        seed: 7,
        spaces: 3,
        pages_per_space: 12,
        max_attachments_per_page: 2,
        attachment_max_bytes: 16 * 1024,
        ..GenerateSpec::default()
    };
    let mut dataset = spec.generate();
    // Make sure both labels are there whatever the seed produced: the first space syncs its
    // whole tree, the second has a single labelled page carrying many attachments.
    let first_space = dataset.spaces[0].key.clone();
    let second_space = dataset.spaces[1].key.clone();
    if let Some(root) = dataset
        .content
        .iter_mut()
        .find(|c| c.space == first_space && c.parent.is_none())
    {
        if !root.labels.contains(&spec.all_label) {
            root.labels.push(spec.all_label.clone());
        }
    }
    let mut next_attachment = dataset.next_attachment_id();
    if let Some(page) = dataset
        .content
        .iter_mut()
        .find(|c| c.space == second_space && c.parent.is_some())
    {
        page.labels.retain(|l| l != &spec.all_label);
        if !page.labels.contains(&spec.single_label) {
            page.labels.push(spec.single_label.clone());
        }
        let when = sandbox::confluence::default_when();
        page.attachments.clear();
        for i in 0..MANY_ATTACHMENTS {
            page.attachments.push(Attachment {
                id: format!("att{next_attachment}"),
                title: format!("many-{i:02}.txt"),
                media_type: "text/plain".into(),
                version: 1,
                when,
                data: AttachmentData::Text(format!("attachment number {i}\n")),
            });
            next_attachment += 1;
        }
    }
    dataset
}

/// The daemon config the demo writes: one Cloud tenant against the sandbox.
pub(crate) fn tenant_yaml(sandbox: &SandboxHandle, root_scope: &str, state_url: &str) -> String {
    let u = &sandbox.urls;
    format!(
        r#"state:
  url: {state_url}
tenants:
  inline:
    demo:
      confluence:
        instanceType: cloud
        baseUrl: {site}
        cloudId: {cloud_id}
        apiBaseUrl: {gateway}
        tokenUrl: {gateway}/oauth/token
        auth:
          mode: oauth_2lo
          clientId: sandbox-client-id
          clientSecret: sandbox-client-secret
        apiRateLimitPerMinute: 60000
        ingestSingleLabel: ai-ingest
        ingestAllLabel: ai-ingest-all
      unique:
        serviceAuthMode: cluster_local
        serviceExtraHeaders:
          x-company-id: sandbox-company
          x-user-id: sandbox-user
        ingestionServiceBaseUrl: {ingestion}
        scopeManagementServiceBaseUrl: {scopes}
        apiRateLimitPerMinute: 60000
      ingestion:
        scopeId: {root_scope}
      processing:
        concurrency: 4
"#,
        site = u.cloud_site,
        cloud_id = u.cloud_id,
        gateway = u.cloud_gateway,
        ingestion = u.unique_ingestion,
        scopes = u.unique_scope_management,
    )
}

pub(crate) async fn run() -> anyhow::Result<()> {
    crate::telemetry::init(
        LogLevel::Warn,
        LogFormat::Text,
        DiagnosticsDataPolicy::Disclose,
    );
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    println!("Starting the sandbox (Confluence Cloud + Unique) on loopback…");
    let mut config = SandboxConfig::default();
    config.confluence.dataset = dataset();
    let sandbox = sandbox::spawn(config).await?;
    let root = sandbox
        .unique
        .seed_scope(SeedScope {
            id: None,
            name: "Confluence".into(),
            parent_id: None,
            external_id: None,
            accesses: Vec::new(),
        })
        .map_err(|e| anyhow::anyhow!("seeding the root scope: {e:?}"))?;
    let state_url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let config_path = dir.path().join("demo-config.yaml");
    std::fs::write(&config_path, tenant_yaml(&sandbox, &root.id, &state_url))?;
    let loaded = DaemonConfig::load(Some(&config_path), &Env::empty())
        .map_err(|e| anyhow::anyhow!("the demo config is invalid: {e}"))?;
    println!("Syncing into the sandbox's Unique (state in {state_url})…");

    let metrics = Arc::new(Metrics::new());
    let ledger = crate::daemon::open_ledger(&loaded.daemon, false).await?;
    let tenants = crate::tenants::build_all(&loaded, &metrics, &ledger)?;
    let history = Arc::new(SyncHistory::new(
        loaded.daemon.health.sync_history_size,
        loaded.daemon.health.sync_tenant_failure_threshold,
    ));
    let runner = Arc::new(EngineRunner::new(ledger.clone(), metrics.clone()));
    let scheduler = Scheduler::new(runner, Some(ledger.clone()), history, metrics);
    let cancel = CancellationToken::new();
    let mut failed = false;
    for tenant in &tenants {
        let summary = scheduler
            .run_with(
                tenant,
                RunTrigger::Cli,
                sync_engine::CycleMode::Normal,
                Arc::new(NoProgress),
                &cancel,
            )
            .await;
        println!(
            "Tenant {}: {} in {} ms{}",
            summary.tenant,
            summary.status,
            summary.duration_ms,
            summary
                .error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
        failed |= summary.status.is_failure() || summary.status == RunState::Skipped;
    }
    ledger.close().await;

    print_landed(&sandbox);
    sandbox.shutdown().await;
    if failed {
        anyhow::bail!("the demo sync did not succeed");
    }
    Ok(())
}

fn print_landed(sandbox: &SandboxHandle) {
    let scopes = sandbox.unique.scopes();
    let files = sandbox.unique.files();
    let attachments = files.iter().filter(|f| f.key.contains("::")).count();
    println!();
    println!(
        "What landed in Unique: {} scope(s), {} file(s): {} page(s) and {} attachment(s)",
        scopes.len(),
        files.len(),
        files.len() - attachments,
        attachments
    );
    for scope in &scopes {
        let in_scope: Vec<_> = files.iter().filter(|f| f.scope_id == scope.id).collect();
        println!(
            "  {}  [{}]  {} file(s)",
            scope.path,
            scope.external_id.as_deref().unwrap_or("no external id"),
            in_scope.len()
        );
        for f in in_scope.iter().take(6) {
            println!(
                "      {:<40} {:<16} {:>7} bytes  {}",
                f.title.as_deref().unwrap_or("(untitled)"),
                f.mime_type,
                f.uploaded_size.unwrap_or_default(),
                f.key
            );
        }
        if in_scope.len() > 6 {
            println!("      … and {} more", in_scope.len() - 6);
        }
    }
    let mut per_page: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for f in &files {
        if let Some((page, _)) = f.key.split_once("::") {
            *per_page.entry(page).or_default() += 1;
        }
    }
    if let Some((page, n)) = per_page.iter().max_by_key(|(_, n)| **n) {
        println!();
        println!("Most attachments on one page: {n} ({page}); the search inlines only 25, the rest were paged in.");
    }
}

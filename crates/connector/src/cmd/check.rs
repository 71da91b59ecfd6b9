//! `confluence-connector check`: everything a first run needs, each as one line `✓` or `✗`
//! with what to do about it. Exit 1 on any `✗`, 2 when the config itself cannot be loaded.
//!
//! Nothing here writes: no scope access is granted and no root scope is claimed, so `check` is
//! safe to run against production next to a running daemon.

use std::path::Path;
use std::sync::Arc;

use confluence_client::{ConfluenceApi, ConfluenceError, InstanceType};
use sync_engine::LedgerProbe;

use super::Outcome;
use crate::config::{DaemonConfig, Env};
use crate::metrics::Metrics;
use crate::tenants::TenantClients;

#[derive(Debug, Default)]
struct Report {
    failed: bool,
}

impl Report {
    fn ok(&mut self, what: impl AsRef<str>) {
        println!("✓ {}", what.as_ref());
    }

    /// Works today but will not do what the operator asked for: printed, not a failure.
    fn warn(&mut self, what: impl AsRef<str>, fix: impl AsRef<str>) {
        println!("! {}", what.as_ref());
        println!("    fix: {}", fix.as_ref());
    }

    fn fail(&mut self, what: impl AsRef<str>, fix: impl AsRef<str>) {
        self.failed = true;
        println!("✗ {}", what.as_ref());
        println!("    fix: {}", fix.as_ref());
    }
}

pub(crate) async fn run(config_path: Option<&Path>) -> Outcome {
    let mut report = Report::default();
    let loaded = match DaemonConfig::load(config_path, &Env::from_process()) {
        Ok(loaded) => loaded,
        Err(errors) => {
            println!("✗ configuration: {} problem(s)", errors.len());
            for e in errors.errors() {
                println!("    {e}");
            }
            println!("    fix: correct the fields above (a missing os.environ/VAR means that variable is not set)");
            return Outcome::ConfigInvalid;
        }
    };
    crate::telemetry::init_quiet(&loaded.daemon);
    report.ok(format!(
        "configuration loaded: {} tenant(s), secrets resolved{}",
        loaded.tenants.len(),
        if loaded.warnings.is_empty() {
            String::new()
        } else {
            format!(", {} warning(s)", loaded.warnings.len())
        }
    ));
    for w in &loaded.warnings {
        println!("    warning: {w}");
    }
    if loaded.tenants.is_empty() {
        report.fail(
            "no active or deleted tenants",
            "add a <name>-tenant-config.yaml matching tenants.files, or tenants.inline",
        );
    }

    check_ledger(&loaded.daemon, &mut report).await;

    let metrics = Arc::new(Metrics::new());
    let tenants = match crate::tenants::build_clients(&loaded, &metrics) {
        Ok(t) => t,
        Err(e) => {
            report.fail(
                format!("building the clients: {}", crate::errors::error_text(&e)),
                "correct the tenant's URLs and credentials",
            );
            return exit(&report);
        }
    };
    let probe = match crate::wiring::SharedTransport::from_daemon(&loaded.daemon)
        .and_then(|shared| shared.probe_client())
    {
        Ok(client) => client,
        Err(e) => {
            report.fail(
                format!(
                    "building the connectivity probe: {}",
                    crate::errors::error_text(&e)
                ),
                "check extra_ca_bundle_path and the proxy settings",
            );
            return exit(&report);
        }
    };
    let timeout = loaded.daemon.health.connectivity_timeout;
    for tenant in &tenants {
        check_tenant(tenant, &probe, timeout, &mut report).await;
    }
    exit(&report)
}

fn exit(report: &Report) -> Outcome {
    if report.failed {
        Outcome::Failed
    } else {
        Outcome::Success
    }
}

/// The same location rules `sync` and `run` apply when they open the ledger, so a state path
/// they could not use fails here too.
async fn check_ledger(daemon: &DaemonConfig, report: &mut Report) {
    match crate::daemon::probe_ledger(daemon).await {
        Ok(LedgerProbe::NotCreatedYet { path }) => report.ok(format!(
            "state ledger: {} does not exist yet and can be created on the first run",
            path.display()
        )),
        Ok(LedgerProbe::Reachable { kind, in_use }) => report.ok(format!(
            "state ledger reachable ({kind}){}",
            if in_use {
                "; in use by a running process, so `sync` can only run once that one stops"
            } else {
                ""
            }
        )),
        Err(e) => report.fail(
            format!("state ledger (state.url): {e}"),
            "check state.url: the directory of a SQLite file must exist or be creatable and be writable by this user; a PostgreSQL database must be up and accept the credentials",
        ),
    }
}

async fn check_tenant(
    tenant: &TenantClients,
    client: &reqwest::Client,
    timeout: std::time::Duration,
    report: &mut Report,
) {
    let name = tenant.name();
    if let Some(warning) = permission_auth_warning(&tenant.config) {
        report.warn(format!("{name}: {warning}"), "give the tenant a personal access token (auth.mode: pat) or basic auth on Data Center 9.1 or later, or set permissions.mode: none");
    }
    if let Some(confluence) = &tenant.confluence {
        let target = crate::wiring::connectivity_target(&tenant.config);
        let check =
            crate::health::confluence_connectivity(client, std::slice::from_ref(&target), timeout)
                .await;
        if check.up {
            report.ok(format!(
                "{name}: Confluence reachable at {}",
                target.base_url
            ));
        } else {
            report.fail(
                format!("{name}: Confluence unreachable at {} ({})", target.base_url, check.details),
                "check confluence.baseUrl (and apiBaseUrl on Cloud), DNS, firewall and the proxy settings",
            );
        }
        match confluence.probe().await {
            Ok(()) => {
                report.ok(format!("{name}: Confluence token obtained"));
                report.ok(format!("{name}: one-result CQL search answered"));
            }
            Err(e @ ConfluenceError::MissingScope { .. }) => report.fail(
                format!("{name}: Confluence OAuth scope missing: {e}"),
                "add the scope named above to the OAuth app (Atlassian developer console → your app → Permissions → Confluence API), then run check again; the client id and secret are fine",
            ),
            Err(
                e @ (ConfluenceError::TokenRejected { .. } | ConfluenceError::Unauthorized { .. }),
            ) => report.fail(
                format!("{name}: Confluence credentials rejected: {e}"),
                "check confluence.auth (client id and secret, token or password) and the token URL",
            ),
            Err(e @ ConfluenceError::Forbidden { .. }) => report.fail(
                format!("{name}: {e}"),
                match confluence.instance_type() {
                    InstanceType::Cloud => "grant the app the read scopes and the service account View on the spaces to sync",
                    InstanceType::DataCenter => "give the connector's Data Center account Can use and View on the spaces to sync (and an oauth_2lo client the READ scope)",
                },
            ),
            Err(e) => report.fail(
                format!("{name}: CQL search failed: {e}"),
                "check confluence.baseUrl/cloudId and that the instance answers the REST API",
            ),
        }
    }
    let ping = tenant.unique.ping(timeout).await;
    match (&ping.ingestion, &ping.scope_management) {
        (Ok(()), Ok(())) => report.ok(format!("{name}: Unique reachable (ingestion and scope management{})",
            if matches!(tenant.config.unique.auth, crate::config::UniqueAuth::External { .. }) { ", token obtained" } else { "" })),
        (i, s) => report.fail(
            format!(
                "{name}: Unique not reachable: ingestion {}, scope management {}",
                i.as_ref().map_or_else(|e| e.to_string(), |()| "ok".into()),
                s.as_ref().map_or_else(|e| e.to_string(), |()| "ok".into())
            ),
            "check unique.ingestionServiceBaseUrl / scopeManagementServiceBaseUrl and the auth mode (AUTH_FAILURE: the Zitadel client id, secret or project id)",
        ),
    }
    if ping.is_healthy() {
        check_root_scope(tenant, report).await;
    }
}

/// Data Center refuses the permission resources to OAuth 2.0 apps ("Forge and OAuth2 apps
/// cannot access this REST resource", Atlassian's REST reference for space permissions and
/// restrictions), so `space` and `page` modes cannot work with `oauth_2lo` there.
fn permission_auth_warning(config: &crate::config::TenantConfig) -> Option<String> {
    use crate::config::{ConfluenceAuth, PermissionMode};
    let mode = config.permissions.mode;
    let oauth = matches!(config.confluence.auth, ConfluenceAuth::OAuth2Lo { .. });
    (config.is_active() && !config.confluence.is_cloud() && oauth && mode != PermissionMode::None).then(|| {
        format!(
            "permissions.mode: {} needs Data Center's space-permission, restriction, group and user resources, which Atlassian documents as refused to OAuth 2.0 apps: with auth.mode oauth_2lo every page's readers stay unknown (fail closed: old access kept, new pages readable by the service user only)",
            if mode == PermissionMode::Page { "page" } else { "space" }
        )
    })
}

async fn check_root_scope(tenant: &TenantClients, report: &mut Report) {
    let name = tenant.name();
    let scope_id = &tenant.config.ingestion.scope_id;
    let expected = match &tenant.confluence {
        Some(c) => match c.resolve_instance_id().await {
            Ok(id) => Some(id.root_scope_external_id()),
            Err(e) => {
                report.fail(
                    format!("{name}: cannot tell which Confluence instance this is: {e}"),
                    "Data Center: the application-links manifest must be reachable at <baseUrl>/rest/applinks/1.0/manifest",
                );
                return;
            }
        },
        None => None,
    };
    match tenant.unique.scope_by_id(scope_id).await {
        Ok(Some(scope)) => match (&scope.external_id, &expected) {
            (None, _) => report.ok(format!("{name}: root scope {scope_id} found, not yet owned (the first run claims it)")),
            (Some(owner), Some(expected)) if owner == expected => {
                report.ok(format!("{name}: root scope {scope_id} found and owned by this instance"))
            }
            (Some(owner), None) => report.ok(format!("{name}: root scope {scope_id} found (owner {owner}); cleanup will use it")),
            (Some(owner), Some(expected)) => report.fail(
                format!("{name}: root scope {scope_id} belongs to {owner}, not {expected}"),
                "point ingestion.scopeId at a scope of its own; two instances must never share a root scope",
            ),
        },
        Ok(None) => report.fail(
            format!("{name}: root scope {scope_id} not found"),
            "create the scope in Unique (or correct ingestion.scopeId) and give the service user access",
        ),
        Err(e) => report.fail(
            format!("{name}: reading root scope {scope_id}: {e}"),
            "check that the service user may read the scope",
        ),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::config::{ConfluenceAuth, ConfluenceInstance, HttpUrl, PermissionMode};

    /// The Data Center tenant of the tenants tests, with `auth` and `mode` swapped in.
    fn tenant(oauth: bool, mode: PermissionMode) -> crate::config::TenantConfig {
        let mut t = crate::tenants::tests::load("pat", "ai-ingest")
            .tenants
            .remove(0);
        if oauth {
            t.confluence.auth = ConfluenceAuth::OAuth2Lo {
                client_id: "c".into(),
                client_secret: "s".to_owned().into(),
            };
        }
        t.permissions.mode = mode;
        t
    }

    #[test]
    fn data_center_oauth_with_permission_sync_is_warned_about_and_nothing_else() {
        let warning = permission_auth_warning(&tenant(true, PermissionMode::Page)).unwrap();
        assert!(warning.contains("permissions.mode: page"), "{warning}");
        assert!(warning.contains("OAuth 2.0"), "{warning}");
        assert!(permission_auth_warning(&tenant(true, PermissionMode::Space)).is_some());
        assert!(permission_auth_warning(&tenant(true, PermissionMode::None)).is_none());
        assert!(permission_auth_warning(&tenant(false, PermissionMode::Page)).is_none());
        let mut cloud = tenant(true, PermissionMode::Page);
        let url = url::Url::parse("https://api.atlassian.com").unwrap();
        cloud.confluence.instance = ConfluenceInstance::Cloud {
            cloud_id: "c-1".into(),
            api_base_url: HttpUrl::new(url.to_string(), url.clone()),
            token_url: HttpUrl::new(url.to_string(), url),
        };
        assert!(permission_auth_warning(&cloud).is_none());
    }
}

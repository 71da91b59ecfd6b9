//! `confluence-connector status [--json]`: recent runs per tenant, and who holds which lease,
//! read from the ledger without disturbing a running daemon (read-only, no lock).

use std::collections::BTreeMap;

use serde_json::json;
use sync_engine::RunRecord;

use crate::config::DaemonConfig;

/// Runs read from the ledger to fill the per-tenant lists.
const SCAN: u32 = 1000;

pub(crate) async fn run(
    daemon: &DaemonConfig,
    json_output: bool,
    per_tenant: u32,
) -> anyhow::Result<()> {
    if !crate::daemon::ledger_exists(daemon)? {
        if json_output {
            println!("{}", json!({ "tenants": {} }));
        } else {
            println!("No runs recorded yet (the state database does not exist yet).");
        }
        return Ok(());
    }
    let ledger = crate::daemon::open_ledger(daemon, true).await?;
    let runs = ledger.recent_runs(None, SCAN).await?;
    let leases = ledger.leases().await.unwrap_or_default();
    let mut by_tenant: BTreeMap<String, Vec<RunRecord>> = BTreeMap::new();
    for run in runs {
        let list = by_tenant.entry(run.tenant.clone()).or_default();
        if list.len() < per_tenant as usize {
            list.push(run);
        }
    }
    let mut failing = BTreeMap::new();
    for tenant in by_tenant.keys() {
        let open = ledger.open_failures(tenant).await.unwrap_or_default();
        failing.insert(tenant.clone(), open);
    }
    ledger.close().await;
    if json_output {
        let tenants: serde_json::Map<String, serde_json::Value> = by_tenant
            .iter()
            .map(|(t, runs)| {
                let lease = leases.iter().find(|l| &l.tenant == t);
                (
                    t.clone(),
                    json!({
                        "runs": runs,
                        "failingItems": failing.get(t),
                        "lease": lease.map(|l| json!({
                            "holder": l.holder,
                            "live": l.live,
                            "expiresAt": l.expires_at,
                        })),
                    }),
                )
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({ "tenants": tenants }))?
        );
        return Ok(());
    }
    if by_tenant.is_empty() {
        println!("No runs recorded yet in {}.", ledger.location());
        return Ok(());
    }
    println!(
        "{:<16} {:>6} {:<10} {:<16} {:<25} {:>9} {:>6} {:>6} {:>6} {:>6}  error",
        "TENANT", "RUN", "TRIGGER", "STATUS", "STARTED", "SECONDS", "NEW", "UPD", "DEL", "FAIL"
    );
    for (tenant, runs) in &by_tenant {
        for r in runs {
            let seconds = r
                .finished_at
                .map(|f| {
                    format!(
                        "{:.1}",
                        (f - r.started_at).num_milliseconds() as f64 / 1000.0
                    )
                })
                .unwrap_or_else(|| "-".to_owned());
            let trigger = serde_json::to_value(r.trigger)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let status = serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            println!(
                "{:<16} {:>6} {:<10} {:<16} {:<25} {:>9} {:>6} {:>6} {:>6} {:>6}  {}",
                tenant,
                r.id.get(),
                trigger,
                status,
                r.started_at.format("%Y-%m-%d %H:%M:%S UTC"),
                seconds,
                r.counts.diff_new,
                r.counts.diff_updated,
                r.counts.diff_deleted,
                r.failed_items,
                r.error
                    .as_deref()
                    .or(r.abort_reason.as_deref())
                    .or(r.note.as_deref())
                    .unwrap_or("")
            );
        }
        if let Some(open) = failing.get(tenant).filter(|f| !f.is_empty()) {
            println!(
                "{:<16} {} item(s) failing now, e.g. {} ({} attempt(s)): {}",
                "",
                open.len(),
                open[0].key,
                open[0].attempts,
                open[0].error
            );
        }
        if let Some(lease) = leases.iter().find(|l| &l.tenant == tenant && l.live) {
            println!(
                "{:<16} lease held by {} until {}",
                "", lease.holder, lease.expires_at
            );
        }
    }
    Ok(())
}

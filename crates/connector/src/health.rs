//! Readiness: the reference's three checks (`sync`, `connectivity`, `uniqueApi`, §15) plus ours
//! (`config`, `ledger`), in the reference's Terminus-like JSON shape.
//!
//! The sync check is a pure function of the recent results ([`SyncHistory::check`]), so the
//! thresholds are unit-tested without any HTTP; the probes only gather facts.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::num::NonZeroUsize;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use sync_engine::RunOutcome;

/// One check's verdict and the details shown for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Check {
    pub(crate) up: bool,
    pub(crate) details: Value,
}

impl Check {
    pub(crate) fn up(details: Value) -> Self {
        Self { up: true, details }
    }

    pub(crate) fn down(details: Value) -> Self {
        Self { up: false, details }
    }

    fn with_status(&self) -> Value {
        let mut map = match &self.details {
            Value::Object(m) => m.clone(),
            other => {
                let mut m = Map::new();
                m.insert("details".into(), other.clone());
                m
            }
        };
        map.insert(
            "status".into(),
            Value::String(if self.up { "up" } else { "down" }.into()),
        );
        Value::Object(map)
    }
}

type Rings = BTreeMap<String, VecDeque<(RunOutcome, DateTime<Utc>)>>;

/// A ring buffer of recent results per tenant. Every run counts in `total`; only
/// [`RunOutcome::is_failure`] ones count as failures (a cancelled run never does, reference
/// behaviour 299).
#[derive(Debug)]
pub(crate) struct SyncHistory {
    capacity: NonZeroUsize,
    threshold: f64,
    records: Mutex<Rings>,
}

impl SyncHistory {
    pub(crate) fn new(capacity: NonZeroUsize, threshold: f64) -> Self {
        Self {
            capacity,
            threshold,
            records: Mutex::new(BTreeMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Rings> {
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn record(&self, tenant: &str, outcome: RunOutcome, at: DateTime<Utc>) {
        let mut records = self.lock();
        let ring = records.entry(tenant.to_owned()).or_default();
        ring.push_back((outcome, at));
        while ring.len() > self.capacity.get() {
            ring.pop_front();
        }
    }

    /// Forgets tenants that are no longer configured.
    pub(crate) fn retain(&self, tenants: &BTreeSet<String>) {
        self.lock().retain(|t, _| tenants.contains(t));
    }

    /// `(failures, total)` per tenant with records.
    pub(crate) fn counts(&self) -> BTreeMap<String, (usize, usize)> {
        self.lock()
            .iter()
            .filter(|(_, ring)| !ring.is_empty())
            .map(|(t, ring)| {
                let failures = ring.iter().filter(|(o, _)| o.is_failure()).count();
                (t.clone(), (failures, ring.len()))
            })
            .collect()
    }

    /// The reference's sync check: down when any tenant's failure share is strictly above the
    /// threshold.
    pub(crate) fn check(&self) -> Check {
        let records = self.lock();
        let latest = records
            .values()
            .flat_map(|ring| ring.iter().map(|(_, at)| *at))
            .max();
        let Some(latest) = latest else {
            return Check::up(json!({ "message": "No sync records yet" }));
        };
        drop(records);
        let mut tenants = Map::new();
        let mut failing = Vec::new();
        for (tenant, (failures, total)) in self.counts() {
            if failures as f64 / total as f64 > self.threshold {
                failing.push(tenant.clone());
            }
            tenants.insert(tenant, json!({ "failures": failures, "total": total }));
        }
        let last = latest.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        if failing.is_empty() {
            Check::up(json!({ "lastSyncAt": last, "tenants": tenants }))
        } else {
            Check::down(json!({
                "lastSyncAt": last,
                "threshold": self.threshold,
                "failingTenants": failing,
                "tenants": tenants,
            }))
        }
    }
}

/// The reference's response: `{status, info, error, details}`; 200 when every check is up.
pub(crate) fn render(checks: &[(&str, Check)]) -> (bool, Value) {
    let mut info = Map::new();
    let mut error = Map::new();
    let mut details = Map::new();
    for (name, check) in checks {
        let shown = check.with_status();
        if check.up {
            info.insert((*name).to_owned(), shown.clone());
        } else {
            error.insert((*name).to_owned(), shown.clone());
        }
        details.insert((*name).to_owned(), shown);
    }
    let ok = error.is_empty();
    (
        ok,
        json!({
            "status": if ok { "ok" } else { "error" },
            "info": info,
            "error": error,
            "details": details,
        }),
    )
}

/// What a Confluence connectivity probe needs to know about a tenant.
#[derive(Debug, Clone)]
pub(crate) struct ConfluenceTarget {
    pub(crate) tenant: String,
    /// The gateway (Cloud) — pinged once for all Cloud tenants — or `None` for Data Center.
    pub(crate) cloud_gateway: Option<String>,
    pub(crate) base_url: String,
}

/// The reference's connectivity check: an unauthenticated `GET` of the Atlassian gateway when
/// any tenant is Cloud, and of each distinct base URL; any HTTP status means reachable.
pub(crate) async fn confluence_connectivity(
    client: &reqwest::Client,
    targets: &[ConfluenceTarget],
    timeout: Duration,
) -> Check {
    let mut up = true;
    let mut details = Map::new();
    let gateways: BTreeSet<&str> = targets
        .iter()
        .filter_map(|t| t.cloud_gateway.as_deref())
        .collect();
    if !gateways.is_empty() {
        let mut errors = Vec::new();
        for gateway in &gateways {
            if let Err(code) = ping(client, &format!("{gateway}/"), timeout).await {
                errors.push(code);
            }
        }
        if errors.is_empty() {
            details.insert("atlassian".into(), json!("reachable"));
        } else {
            up = false;
            details.insert("atlassian".into(), json!("unreachable"));
            details.insert("atlassianError".into(), json!(errors.join(",")));
        }
    }
    let mut results: BTreeMap<&str, Result<(), String>> = BTreeMap::new();
    for target in targets {
        if !results.contains_key(target.base_url.as_str()) {
            let url = format!("{}/", target.base_url.trim_end_matches('/'));
            results.insert(&target.base_url, ping(client, &url, timeout).await);
        }
    }
    let per_tenant: Vec<Value> = targets
        .iter()
        .map(|t| match &results[t.base_url.as_str()] {
            Ok(()) => json!({ "tenant": t.tenant, "status": "reachable" }),
            Err(code) => {
                up = false;
                json!({ "tenant": t.tenant, "status": "unreachable", "error": code })
            }
        })
        .collect();
    details.insert("confluence".into(), Value::Array(per_tenant));
    Check {
        up,
        details: Value::Object(details),
    }
}

async fn ping(client: &reqwest::Client, url: &str, timeout: Duration) -> Result<(), String> {
    match client.get(url).timeout(timeout).send().await {
        Ok(_) => Ok(()),
        Err(e) => Err(error_code(&e)),
    }
}

/// The reference's codes (Node's `ETIMEDOUT`, `ECONNREFUSED`), which dashboards may match on.
fn error_code(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "ETIMEDOUT".into()
    } else if is_dns_failure(e) {
        "ENOTFOUND".into()
    } else if e.is_connect() {
        "ECONNREFUSED".into()
    } else {
        "UNKNOWN".into()
    }
}

/// reqwest reports a failed name lookup as a connect error; only the message down the source
/// chain (hyper-util's "dns error") tells it apart from a refused connection.
fn is_dns_failure(e: &reqwest::Error) -> bool {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if err.to_string().contains("dns error") {
            return true;
        }
        source = err.source();
    }
    false
}

/// The `uniqueApi` check from each tenant's [`unique_client::HealthReport`].
pub(crate) fn unique_check(reports: &[(String, unique_client::HealthReport)]) -> Check {
    let mut up = true;
    let mut tenants = Map::new();
    for (tenant, report) in reports {
        let entry = |r: &Result<(), unique_client::PingFailure>| match r {
            Ok(()) => json!({ "status": "reachable" }),
            Err(e) => json!({ "status": "unreachable", "error": e.to_string() }),
        };
        if !report.is_healthy() {
            up = false;
        }
        tenants.insert(
            tenant.clone(),
            json!({
                "ingestion": entry(&report.ingestion),
                "scopeManagement": entry(&report.scope_management),
            }),
        );
    }
    Check {
        up,
        details: json!({ "tenants": tenants }),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn history(cap: usize) -> SyncHistory {
        SyncHistory::new(NonZeroUsize::new(cap).unwrap(), 0.5)
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn no_records_is_up_with_a_message() {
        let check = history(3).check();
        assert!(check.up);
        assert_eq!(check.details, json!({ "message": "No sync records yet" }));
    }

    #[test]
    fn oldest_record_is_dropped_beyond_capacity() {
        let h = history(3);
        h.record("t", RunOutcome::Failed, at(0));
        for i in 1..4 {
            h.record("t", RunOutcome::Success, at(i));
        }
        assert_eq!(h.counts()["t"], (0, 3));
    }

    #[test]
    fn tenant_over_the_threshold_fails_readiness() {
        let h = history(4);
        for (i, o) in [
            RunOutcome::Failed,
            RunOutcome::Failed,
            RunOutcome::Failed,
            RunOutcome::Success,
        ]
        .into_iter()
        .enumerate()
        {
            h.record("bad", o, at(i as i64));
        }
        h.record("good", RunOutcome::Success, at(10));
        let check = h.check();
        assert!(!check.up);
        assert_eq!(check.details["failingTenants"], json!(["bad"]));
        assert_eq!(check.details["threshold"], json!(0.5));
        assert_eq!(
            check.details["tenants"]["bad"],
            json!({"failures": 3, "total": 4})
        );
        assert_eq!(
            check.details["lastSyncAt"],
            json!("2023-11-14T22:13:30.000Z")
        );
    }

    #[test]
    fn exactly_at_the_threshold_is_still_ready() {
        let h = history(4);
        h.record("t", RunOutcome::Failed, at(0));
        h.record("t", RunOutcome::Success, at(1));
        assert!(h.check().up);
    }

    #[test]
    fn skipped_runs_count_in_total_not_as_failures() {
        let h = history(4);
        h.record("t", RunOutcome::Failed, at(0));
        h.record("t", RunOutcome::Cancelled, at(1));
        h.record("t", RunOutcome::Cancelled, at(2));
        let check = h.check();
        assert!(check.up);
        assert_eq!(
            check.details["tenants"]["t"],
            json!({"failures": 1, "total": 3})
        );
    }

    #[test]
    fn render_puts_down_checks_under_error_and_all_under_details() {
        let (ok, body) = render(&[
            ("sync", Check::down(json!({"x": 1}))),
            ("ledger", Check::up(json!({}))),
        ]);
        assert!(!ok);
        assert_eq!(body["status"], "error");
        assert_eq!(body["error"]["sync"]["status"], "down");
        assert_eq!(body["info"]["ledger"]["status"], "up");
        assert_eq!(body["details"].as_object().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn connectivity_pings_each_base_url_once_and_reports_per_tenant() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        let app = axum::Router::new().fallback(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { "hi" }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        let base = format!("http://{addr}");
        let targets = vec![
            ConfluenceTarget {
                tenant: "a".into(),
                cloud_gateway: None,
                base_url: base.clone(),
            },
            ConfluenceTarget {
                tenant: "b".into(),
                cloud_gateway: None,
                base_url: base.clone(),
            },
            ConfluenceTarget {
                tenant: "c".into(),
                cloud_gateway: None,
                base_url: "http://127.0.0.1:1".into(),
            },
        ];
        let check =
            confluence_connectivity(&reqwest::Client::new(), &targets, Duration::from_secs(2))
                .await;
        assert!(!check.up);
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(check.details.get("atlassian").is_none());
        assert_eq!(check.details["confluence"][0]["status"], "reachable");
        assert_eq!(check.details["confluence"][1]["status"], "reachable");
        assert_eq!(check.details["confluence"][2]["status"], "unreachable");
    }

    #[tokio::test]
    async fn a_base_url_that_does_not_answer_in_time_is_unreachable_with_etimedout() {
        // Accepts connections and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let targets = vec![ConfluenceTarget {
            tenant: "slow".into(),
            cloud_gateway: None,
            base_url: format!("http://{addr}"),
        }];
        let check = confluence_connectivity(
            &reqwest::Client::builder().no_proxy().build().unwrap(),
            &targets,
            Duration::from_millis(200),
        )
        .await;
        assert!(!check.up);
        assert_eq!(
            check.details["confluence"][0],
            json!({ "tenant": "slow", "status": "unreachable", "error": "ETIMEDOUT" })
        );
    }

    #[tokio::test]
    async fn a_base_url_whose_name_does_not_resolve_is_unreachable_with_enotfound() {
        let targets = vec![ConfluenceTarget {
            tenant: "nowhere".into(),
            cloud_gateway: None,
            base_url: "http://no-such-host.invalid".into(),
        }];
        let check = confluence_connectivity(
            &reqwest::Client::builder().no_proxy().build().unwrap(),
            &targets,
            Duration::from_secs(5),
        )
        .await;
        assert!(!check.up);
        assert_eq!(check.details["confluence"][0]["error"], "ENOTFOUND");
    }
}

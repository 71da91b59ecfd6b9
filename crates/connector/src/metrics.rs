//! Prometheus metrics: the reference connector's `cfc_*` families (same names, same labels) plus
//! our own transport and ledger counters, served in the classic text exposition format (0.0.4).
//!
//! `prometheus-client` holds the registry, the counter, gauge and histogram cells, and writes the
//! text format. What stays here is the family type ([`Family`]): the crate's own family keys
//! series by a hash map, which would print them in a different order on every scrape, and cannot
//! drop every series of one tenant (the first label) when the tenant leaves the configuration.
//!
//! `promtool check metrics` rules kept by construction: every family has `# HELP` and
//! `# TYPE`; counters end in `_total` (the crate appends the suffix, so counters are registered
//! without it); the two reference gauges whose names end in `_total` (`cfc_sync_pages_total`,
//! `cfc_sync_attachments_total`) are typed `untyped`, the one type the linter lets carry that
//! suffix, so the reference's names survive unchanged.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::encoding::{
    prometheus_text, CounterValueEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeMetric,
    GaugeValueEncoder, MetricEncoder, NoLabelSet,
};
use prometheus_client::metrics::{counter, gauge, histogram, MetricType};
use prometheus_client::registry::Registry;

/// The phases of `cfc_sync_phase`, in the reference's order.
pub(crate) const PHASES: [&str; 7] = [
    "idle",
    "scanning",
    "diffing",
    "ingesting_pages",
    "ingesting_attachments",
    "deleting",
    "cleaning_up",
];

const SYNC_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
];
const SCAN_BUCKETS: &[f64] = &[0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];
const UPLOAD_BUCKETS: &[f64] = &[0.1, 0.2, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0];
const API_BUCKETS: &[f64] = &[0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Counter,
    Gauge,
    /// A gauge whose reference name ends in `_total` (see the module comment).
    UntypedGauge,
    Histogram(&'static [f64]),
}

/// One series' value, in the crate's atomic cells.
#[derive(Debug)]
enum Cell {
    Counter(counter::Counter<f64, AtomicU64>),
    Gauge(gauge::Gauge<f64, AtomicU64>),
    Histogram(histogram::Histogram),
}

impl Cell {
    fn new(kind: Kind) -> Self {
        match kind {
            Kind::Counter => Self::Counter(counter::Counter::default()),
            Kind::Gauge | Kind::UntypedGauge => Self::Gauge(gauge::Gauge::default()),
            Kind::Histogram(bounds) => {
                Self::Histogram(histogram::Histogram::new(bounds.iter().copied()))
            }
        }
    }

    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        match self {
            Self::Counter(c) => {
                encoder.encode_counter::<NoLabelSet, _, f64>(&Sample(c.get()), None)
            }
            Self::Gauge(g) => encoder.encode_gauge(&Sample(g.get())),
            Self::Histogram(h) => h.encode(encoder),
        }
    }
}

/// A sample value printed as an integer when it is one (`0`, `9000`), as the reference
/// connector's exposition and the dashboards' tests read it, else as a float (`0.02`, `NaN`).
struct Sample(f64);

impl Sample {
    fn whole(&self) -> Option<i64> {
        let n = self.0;
        (n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15).then_some(n as i64)
    }
}

impl EncodeGaugeValue for Sample {
    fn encode(&self, encoder: &mut GaugeValueEncoder) -> Result<(), std::fmt::Error> {
        match self.whole() {
            Some(n) => EncodeGaugeValue::encode(&n, encoder),
            None => EncodeGaugeValue::encode(&self.0, encoder),
        }
    }
}

impl EncodeCounterValue for Sample {
    fn encode(&self, encoder: &mut CounterValueEncoder) -> Result<(), std::fmt::Error> {
        match self.whole().and_then(|n| u64::try_from(n).ok()) {
            Some(n) => EncodeCounterValue::encode(&n, encoder),
            None => EncodeCounterValue::encode(&self.0, encoder),
        }
    }
}

/// One metric family: a name, its label names and one series per label set, in label order.
#[derive(Debug)]
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    labels: &'static [&'static str],
    series: RwLock<BTreeMap<Vec<String>, Cell>>,
}

impl Family {
    fn new(
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &'static [&'static str],
    ) -> Arc<Self> {
        Arc::new(Self {
            name,
            help,
            kind,
            labels,
            series: RwLock::new(BTreeMap::new()),
        })
    }

    /// Runs `f` on the series of `labels`, creating it first if needed. The cells are atomic, so
    /// an existing series needs only the read lock.
    fn with<R>(&self, labels: &[&str], f: impl FnOnce(&Cell) -> R) -> R {
        let key = self.key(labels);
        {
            // A poisoned lock only means a panic elsewhere mid-update; the numbers are still usable.
            let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(cell) = series.get(&key) {
                return f(cell);
            }
        }
        let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
        f(series.entry(key).or_insert_with(|| Cell::new(self.kind)))
    }

    fn key(&self, labels: &[&str]) -> Vec<String> {
        debug_assert_eq!(labels.len(), self.labels.len(), "{}", self.name);
        labels.iter().map(|l| (*l).to_owned()).collect()
    }

    fn add(&self, labels: &[&str], by: f64) {
        self.with(labels, |cell| match cell {
            Cell::Counter(c) => {
                c.inc_by(by);
            }
            Cell::Gauge(g) => {
                g.inc_by(by);
            }
            Cell::Histogram(_) => {}
        });
    }

    fn get(&self, labels: &[&str]) -> Option<f64> {
        let key = self.key(labels);
        let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
        match series.get(&key) {
            Some(Cell::Counter(c)) => Some(c.get()),
            Some(Cell::Gauge(g)) => Some(g.get()),
            _ => None,
        }
    }

    fn set(&self, labels: &[&str], to: f64) {
        self.with(labels, |cell| {
            if let Cell::Gauge(g) = cell {
                g.set(to);
            }
        });
    }

    fn observe(&self, labels: &[&str], value: f64) {
        self.with(labels, |cell| {
            if let Cell::Histogram(h) = cell {
                h.observe(value);
            }
        });
    }

    /// Drops every series of a tenant (its first label), e.g. after it left the config.
    fn forget_tenant(&self, tenant: &str) {
        if self.labels.first() == Some(&"tenant") {
            let mut series = self.series.write().unwrap_or_else(PoisonError::into_inner);
            series.retain(|key, _| key.first().map(String::as_str) != Some(tenant));
        }
    }

    /// The name to register: the crate appends `_total` to counters itself.
    fn registered_name(&self) -> &'static str {
        match self.kind {
            Kind::Counter => self.name.strip_suffix("_total").unwrap_or(self.name),
            _ => self.name,
        }
    }
}

/// A family as the registry holds it (the registry takes ownership; [`Metrics`] keeps the other
/// handle to record into).
#[derive(Debug)]
struct Registered(Arc<Family>);

impl EncodeMetric for Registered {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let family = &self.0;
        let series = family.series.read().unwrap_or_else(PoisonError::into_inner);
        for (values, cell) in series.iter() {
            let labels: Vec<(&str, &str)> = family
                .labels
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            cell.encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        match self.0.kind {
            Kind::Counter => MetricType::Counter,
            Kind::Gauge => MetricType::Gauge,
            Kind::UntypedGauge => MetricType::Unknown,
            Kind::Histogram(_) => MetricType::Histogram,
        }
    }
}

/// Every metric the connector exports. One instance per process, shared by `Arc`.
#[derive(Debug)]
pub struct Metrics {
    /// Holds the other handle of every family below, in exposition order.
    registry: Registry,
    sync_duration: Arc<Family>,
    scan_duration: Arc<Family>,
    attachment_upload_duration: Arc<Family>,
    pages_processed: Arc<Family>,
    attachments_processed: Arc<Family>,
    content_deleted: Arc<Family>,
    file_diff_events: Arc<Family>,
    api_request_duration: Arc<Family>,
    api_throttle_events: Arc<Family>,
    api_errors: Arc<Family>,
    cleanup_duration: Arc<Family>,
    cleanup_content_deleted: Arc<Family>,
    cleanup_scopes_deleted: Arc<Family>,
    orphaned_scopes_cleaned: Arc<Family>,
    orphaned_files_cleaned: Arc<Family>,
    sync_phase: Arc<Family>,
    sync_pages: Arc<Family>,
    sync_attachments: Arc<Family>,
    // Ours.
    limiter_wait: Arc<Family>,
    rate_limited: Arc<Family>,
    retries: Arc<Family>,
    bytes: Arc<Family>,
    http_attempts: Arc<Family>,
    ledger_runs: Arc<Family>,
    tenants_configured: Arc<Family>,
    discovery_held_back: Arc<Family>,
    quota_remaining: Arc<Family>,
    quota_limit: Arc<Family>,
    quota_reset: Arc<Family>,
    quota_near_limit: Arc<Family>,
    quota_waiting: Arc<Family>,
    quota_waits: Arc<Family>,
    quota_wait_seconds: Arc<Family>,
    permission_unmapped: Arc<Family>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        use Kind::*;
        let mut metrics = Self {
            registry: Registry::default(),
            sync_duration: Family::new(
                "cfc_sync_duration_seconds",
                "Duration of a tenant's sync cycle.",
                Histogram(SYNC_BUCKETS),
                &["tenant", "result"],
            ),
            scan_duration: Family::new(
                "cfc_scan_duration_seconds",
                "Duration of discovery (the label scan).",
                Histogram(SCAN_BUCKETS),
                &["tenant"],
            ),
            attachment_upload_duration: Family::new(
                "cfc_attachment_upload_duration_seconds",
                "Duration of one successful attachment upload.",
                Histogram(UPLOAD_BUCKETS),
                &["tenant"],
            ),
            pages_processed: Family::new(
                "cfc_pages_processed_total",
                "Pages handled in the ingest phase, by result.",
                Counter,
                &["tenant", "result"],
            ),
            attachments_processed: Family::new(
                "cfc_attachments_processed_total",
                "Attachments handled in the ingest phase, by result.",
                Counter,
                &["tenant", "result"],
            ),
            content_deleted: Family::new(
                "cfc_content_deleted_total",
                "Content deleted from Unique because the diff reported it deleted.",
                Counter,
                &["tenant", "result"],
            ),
            file_diff_events: Family::new(
                "cfc_file_diff_events_total",
                "Items the file diff classified, by category.",
                Counter,
                &["tenant", "diff_result_type"],
            ),
            api_request_duration: Family::new(
                "cfc_confluence_api_request_duration_seconds",
                "Duration of Confluence HTTP requests.",
                Histogram(API_BUCKETS),
                &["tenant", "endpoint", "result"],
            ),
            api_throttle_events: Family::new(
                "cfc_confluence_api_throttle_events_total",
                "Confluence requests held back by the local rate limiter.",
                Counter,
                &["tenant"],
            ),
            api_errors: Family::new(
                "cfc_confluence_api_errors_total",
                "Failed Confluence requests, by status class.",
                Counter,
                &["tenant", "http_status_class"],
            ),
            cleanup_duration: Family::new(
                "cfc_cleanup_duration_seconds",
                "Duration of a deleted tenant's cleanup run.",
                Histogram(SYNC_BUCKETS),
                &["tenant", "result"],
            ),
            cleanup_content_deleted: Family::new(
                "cfc_cleanup_content_deleted_total",
                "Content deleted by tenant cleanup.",
                Counter,
                &["tenant", "result"],
            ),
            cleanup_scopes_deleted: Family::new(
                "cfc_cleanup_scopes_deleted_total",
                "Scopes deleted by tenant cleanup.",
                Counter,
                &["tenant", "result"],
            ),
            orphaned_scopes_cleaned: Family::new(
                "cfc_orphaned_scopes_cleaned_total",
                "Scopes of spaces that left discovery, removed.",
                Counter,
                &["tenant", "result"],
            ),
            orphaned_files_cleaned: Family::new(
                "cfc_orphaned_files_cleaned_total",
                "Files removed with the scopes of spaces that left discovery.",
                Counter,
                &["tenant"],
            ),
            sync_phase: Family::new(
                "cfc_sync_phase",
                "1 for the phase the tenant's sync is in, 0 for the others.",
                Gauge,
                &["tenant", "phase"],
            ),
            sync_pages: Family::new(
                "cfc_sync_pages_total",
                "Pages of the current or last sync that had work (a gauge; reference name).",
                UntypedGauge,
                &["tenant"],
            ),
            sync_attachments: Family::new(
                "cfc_sync_attachments_total",
                "Attachments of the current or last sync that had work (a gauge; reference name).",
                UntypedGauge,
                &["tenant"],
            ),
            limiter_wait: Family::new(
                "cfc_rate_limiter_wait_seconds_total",
                "Time requests spent waiting for the tenant's local rate limiter.",
                Counter,
                &["tenant", "service"],
            ),
            rate_limited: Family::new(
                "cfc_http_rate_limited_total",
                "HTTP 429 answers received.",
                Counter,
                &["tenant", "service"],
            ),
            retries: Family::new(
                "cfc_http_retries_total",
                "HTTP attempts retried (after 429, 5xx or a connection failure).",
                Counter,
                &["tenant", "service"],
            ),
            bytes: Family::new(
                "cfc_http_body_bytes_total",
                "Body bytes streamed (received: downloads; sent: uploads).",
                Counter,
                &["tenant", "service", "direction"],
            ),
            http_attempts: Family::new(
                "cfc_http_attempts_total",
                "HTTP exchanges (retries and redirect hops included), by status class.",
                Counter,
                &["tenant", "service", "http_status_class"],
            ),
            ledger_runs: Family::new(
                "cfc_ledger_runs_total",
                "Runs recorded in the state ledger by this process, by final status.",
                Counter,
                &["tenant", "status"],
            ),
            tenants_configured: Family::new(
                "cfc_tenants_configured",
                "Tenants in the loaded configuration, by status.",
                Gauge,
                &["status"],
            ),
            discovery_held_back: Family::new(
                "cfc_discovery_held_back_total",
                "Items discovery skipped but kept in Unique: content of a type the connector does not know (unknown_type), pages whose attachment listing answered 404/403 (attachment_listing).",
                Counter,
                &["tenant", "reason"],
            ),
            quota_remaining: Family::new(
                "cfc_confluence_quota_remaining_points",
                "Points left in the Confluence Cloud quota window, as last reported (NaN while Confluence only says the app is well within its quota).",
                Gauge,
                &["tenant"],
            ),
            quota_limit: Family::new(
                "cfc_confluence_quota_limit_points",
                "Size of the Confluence Cloud points quota (points per window), as last reported.",
                Gauge,
                &["tenant"],
            ),
            quota_reset: Family::new(
                "cfc_confluence_quota_reset_timestamp_seconds",
                "When the Confluence Cloud quota window resets (Unix time), as last reported.",
                Gauge,
                &["tenant"],
            ),
            quota_near_limit: Family::new(
                "cfc_confluence_quota_near_limit",
                "1 while Confluence reports less than 20 % of the points quota left (the connector then paces itself).",
                Gauge,
                &["tenant"],
            ),
            quota_waiting: Family::new(
                "cfc_confluence_quota_waiting",
                "1 while every Confluence request of the tenant waits for the points quota to reset.",
                Gauge,
                &["tenant"],
            ),
            quota_waits: Family::new(
                "cfc_confluence_quota_waits_total",
                "Waits for the Confluence points quota to reset, by cause (exhausted: a 429; near_limit: stopped before it).",
                Counter,
                &["tenant", "cause"],
            ),
            quota_wait_seconds: Family::new(
                "cfc_confluence_quota_wait_seconds_total",
                "Time spent waiting for the Confluence points quota to reset.",
                Counter,
                &["tenant"],
            ),
            permission_unmapped: Family::new(
                "cfc_permission_unmapped_total",
                "Confluence accounts and principals permission sync left out of a page's or space's readers, by reason (no_email, app, not_a_person, deactivated, unknown_account, unknown_principal, anonymous, no_unique_user).",
                Counter,
                &["tenant", "reason"],
            ),
        };
        for family in metrics.families().map(Arc::clone) {
            // The crate adds the final full stop to every help text itself.
            let help = family.help.strip_suffix('.').unwrap_or(family.help);
            let registered = Registered(Arc::clone(&family));
            metrics
                .registry
                .register(family.registered_name(), help, registered);
        }
        metrics
    }

    fn families(&self) -> [&Arc<Family>; 34] {
        [
            &self.sync_duration,
            &self.scan_duration,
            &self.attachment_upload_duration,
            &self.pages_processed,
            &self.attachments_processed,
            &self.content_deleted,
            &self.file_diff_events,
            &self.api_request_duration,
            &self.api_throttle_events,
            &self.api_errors,
            &self.cleanup_duration,
            &self.cleanup_content_deleted,
            &self.cleanup_scopes_deleted,
            &self.orphaned_scopes_cleaned,
            &self.orphaned_files_cleaned,
            &self.sync_phase,
            &self.sync_pages,
            &self.sync_attachments,
            &self.limiter_wait,
            &self.rate_limited,
            &self.retries,
            &self.bytes,
            &self.http_attempts,
            &self.ledger_runs,
            &self.tenants_configured,
            &self.discovery_held_back,
            &self.quota_remaining,
            &self.quota_limit,
            &self.quota_reset,
            &self.quota_near_limit,
            &self.quota_waiting,
            &self.quota_waits,
            &self.quota_wait_seconds,
            &self.permission_unmapped,
        ]
    }

    /// The Prometheus text exposition (content type `text/plain; version=0.0.4`).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a `String` cannot fail, and no family's encoding returns an error of its own.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// Zero-seeds an active tenant's series, as the reference does at registration, so
    /// dashboards and alerts see 0 rather than "no data" before the first event.
    pub fn seed_active_tenant(&self, tenant: &str) {
        for result in ["success", "failure", "skipped"] {
            self.pages_processed.add(&[tenant, result], 0.0);
        }
        for result in ["success", "failure"] {
            self.attachments_processed.add(&[tenant, result], 0.0);
            self.content_deleted.add(&[tenant, result], 0.0);
            self.orphaned_scopes_cleaned.add(&[tenant, result], 0.0);
        }
        for kind in ["new", "updated", "deleted", "moved"] {
            self.file_diff_events.add(&[tenant, kind], 0.0);
        }
        self.api_throttle_events.add(&[tenant], 0.0);
        self.orphaned_files_cleaned.add(&[tenant], 0.0);
        for reason in ["unknown_type", "attachment_listing"] {
            self.discovery_held_back.add(&[tenant, reason], 0.0);
        }
        self.set_phase(tenant, "idle");
        self.sync_pages.set(&[tenant], 0.0);
        self.sync_attachments.set(&[tenant], 0.0);
    }

    /// Zero-seeds a deleted tenant's cleanup series.
    pub fn seed_deleted_tenant(&self, tenant: &str) {
        for result in ["success", "failure"] {
            self.cleanup_content_deleted.add(&[tenant, result], 0.0);
            self.cleanup_scopes_deleted.add(&[tenant, result], 0.0);
        }
    }

    /// Drops a tenant that left the configuration.
    pub fn forget_tenant(&self, tenant: &str) {
        for family in self.families() {
            family.forget_tenant(tenant);
        }
    }

    pub fn set_tenants_configured(&self, active: usize, deleted: usize) {
        self.tenants_configured.set(&["active"], active as f64);
        self.tenants_configured.set(&["deleted"], deleted as f64);
    }

    /// `phase` must be one of [`PHASES`]; the others are set to 0.
    pub fn set_phase(&self, tenant: &str, phase: &str) {
        for p in PHASES {
            self.sync_phase
                .set(&[tenant, p], if p == phase { 1.0 } else { 0.0 });
        }
    }

    pub fn sync_finished(&self, tenant: &str, success: bool, took: Duration) {
        self.sync_duration
            .observe(&[tenant, result(success)], took.as_secs_f64());
    }

    pub fn scan_finished(&self, tenant: &str, took: Duration) {
        self.scan_duration.observe(&[tenant], took.as_secs_f64());
    }

    pub fn attachment_uploaded(&self, tenant: &str, took: Duration) {
        self.attachment_upload_duration
            .observe(&[tenant], took.as_secs_f64());
    }

    /// `result`: `success`, `failure` or `skipped`.
    pub fn page_processed(&self, tenant: &str, result: &str) {
        self.pages_processed.add(&[tenant, result], 1.0);
    }

    /// `result`: `success` or `failure`.
    pub fn attachment_processed(&self, tenant: &str, result: &str) {
        self.attachments_processed.add(&[tenant, result], 1.0);
    }

    pub fn content_deleted(&self, tenant: &str, success: bool, count: u64) {
        self.content_deleted
            .add(&[tenant, result(success)], count as f64);
    }

    /// `reason`: `unknown_type` or `attachment_listing`.
    pub fn held_back(&self, tenant: &str, reason: &str, count: u64) {
        self.discovery_held_back
            .add(&[tenant, reason], count as f64);
    }

    /// `reason`: a [`sync_engine::access::LeftOut`] label. Only non-zero counts are recorded, so
    /// a tenant with `permissions.mode: none` shows no series.
    pub fn permission_unmapped(&self, tenant: &str, reason: &str, count: u64) {
        if count > 0 {
            self.permission_unmapped
                .add(&[tenant, reason], count as f64);
        }
    }

    /// Only non-zero categories are recorded, as in the reference.
    pub fn file_diff(&self, tenant: &str, kind: &str, count: u64) {
        if count > 0 {
            self.file_diff_events.add(&[tenant, kind], count as f64);
        }
    }

    pub fn orphaned_scopes_cleaned(&self, tenant: &str, success: bool, count: u64) {
        self.orphaned_scopes_cleaned
            .add(&[tenant, result(success)], count as f64);
    }

    pub fn orphaned_files_cleaned(&self, tenant: &str, count: u64) {
        self.orphaned_files_cleaned.add(&[tenant], count as f64);
    }

    pub fn cleanup_finished(&self, tenant: &str, success: bool, took: Duration) {
        self.cleanup_duration
            .observe(&[tenant, result(success)], took.as_secs_f64());
    }

    pub fn cleanup_content_deleted(&self, tenant: &str, success: bool, count: u64) {
        self.cleanup_content_deleted
            .add(&[tenant, result(success)], count as f64);
    }

    pub fn cleanup_scopes_deleted(&self, tenant: &str, success: bool, count: u64) {
        self.cleanup_scopes_deleted
            .add(&[tenant, result(success)], count as f64);
    }

    pub fn sync_totals(&self, tenant: &str, pages: u64, attachments: u64) {
        self.sync_pages.set(&[tenant], pages as f64);
        self.sync_attachments.set(&[tenant], attachments as f64);
    }

    pub fn ledger_run(&self, tenant: &str, status: &str) {
        self.ledger_runs.add(&[tenant, status], 1.0);
    }

    /// One Confluence request: duration histogram, and the error counter when it failed.
    pub fn confluence_request(
        &self,
        tenant: &str,
        endpoint: &str,
        status: Option<u16>,
        took: Duration,
    ) {
        let ok = status.is_some_and(|s| (200..400).contains(&s));
        self.api_request_duration.observe(
            &[tenant, endpoint, if ok { "success" } else { "error" }],
            took.as_secs_f64(),
        );
        if !ok {
            self.api_errors.add(&[tenant, &status_class(status)], 1.0);
        }
    }

    pub fn http_attempt(&self, tenant: &str, service: &str, status: Option<u16>) {
        self.http_attempts
            .add(&[tenant, service, &status_class(status)], 1.0);
    }

    /// The local limiter held a request back.
    pub fn throttled(&self, tenant: &str, service: &str, waited: Duration) {
        if service == "confluence" {
            self.api_throttle_events.add(&[tenant], 1.0);
        }
        self.limiter_wait
            .add(&[tenant, service], waited.as_secs_f64());
    }

    pub fn rate_limited(&self, tenant: &str, service: &str) {
        self.rate_limited.add(&[tenant, service], 1.0);
    }

    pub fn retried(&self, tenant: &str, service: &str) {
        self.retries.add(&[tenant, service], 1.0);
    }

    /// What one Confluence answer said about the points quota. `remaining: None` is "well
    /// within the quota, no figure given" (NaN), not "unchanged": an old figure would be stale
    /// after the window reset.
    pub fn quota_reading(
        &self,
        tenant: &str,
        limit: Option<u64>,
        remaining: Option<u64>,
        reset_unix_secs: Option<f64>,
        near_limit: bool,
    ) {
        self.quota_remaining
            .set(&[tenant], remaining.map_or(f64::NAN, |r| r as f64));
        if let Some(limit) = limit {
            self.quota_limit.set(&[tenant], limit as f64);
        }
        if let Some(reset) = reset_unix_secs {
            self.quota_reset.set(&[tenant], reset);
        }
        self.quota_near_limit
            .set(&[tenant], if near_limit { 1.0 } else { 0.0 });
    }

    /// A quota wait began (counted) or was moved later (not counted again).
    pub fn quota_wait_started(&self, tenant: &str, cause: &str, until_unix_secs: f64) {
        if self.quota_waiting.get(&[tenant]) != Some(1.0) {
            self.quota_waits.add(&[tenant, cause], 1.0);
        }
        self.quota_waiting.set(&[tenant], 1.0);
        // The reset is when the wait ends, whatever the last answer said.
        self.quota_reset.set(&[tenant], until_unix_secs);
    }

    pub fn quota_wait_ended(&self, tenant: &str, waited: Duration) {
        self.quota_waiting.set(&[tenant], 0.0);
        self.quota_wait_seconds.add(&[tenant], waited.as_secs_f64());
    }

    pub fn bytes(&self, tenant: &str, service: &str, received: u64, sent: u64) {
        if received > 0 {
            self.bytes
                .add(&[tenant, service, "received"], received as f64);
        }
        if sent > 0 {
            self.bytes.add(&[tenant, service, "sent"], sent as f64);
        }
    }
}

fn result(success: bool) -> &'static str {
    if success {
        "success"
    } else {
        "failure"
    }
}

/// The reference's `http_status_class`: `2xx`, `3xx`, the exact code for 4xx, `5xx`, or
/// `unknown` when no response was obtained.
pub(crate) fn status_class(status: Option<u16>) -> String {
    match status {
        Some(s @ 400..=499) => s.to_string(),
        Some(s @ 200..=299) => {
            let _ = s;
            "2xx".to_owned()
        }
        Some(300..=399) => "3xx".to_owned(),
        Some(500..=599) => "5xx".to_owned(),
        _ => "unknown".to_owned(),
    }
}

/// The reference's `endpoint` label: the path from the first `/rest/api/` or `/api/v2/` on,
/// query dropped, id-like segments replaced by `{id}`; other paths raw; unparsable → `unknown`.
pub(crate) fn endpoint_label(url: &url::Url) -> String {
    let path = url.path();
    let start = ["/rest/api/", "/api/v2/"]
        .iter()
        .filter_map(|marker| path.find(marker))
        .min();
    let Some(start) = start else {
        return path.to_owned();
    };
    let rest = &path[start..];
    rest.split('/')
        .map(|segment| {
            if is_id_segment(segment) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn is_id_segment(segment: &str) -> bool {
    let hexish = segment.len() >= 8
        && segment.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
        && segment.chars().any(|c| c.is_ascii_digit());
    let digits = segment.strip_prefix("att").unwrap_or(segment);
    let numeric = digits.len() >= 4 && digits.chars().all(|c| c.is_ascii_digit());
    hexish || numeric
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The `promtool check metrics` rules that our families could break, applied to the text.
    fn lint(text: &str) -> Vec<String> {
        let mut problems = Vec::new();
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        let mut helps = std::collections::BTreeSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helps.insert(rest.split(' ').next().unwrap().to_owned());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let name = parts.next().unwrap().to_owned();
                let kind = parts.next().unwrap().to_owned();
                if !helps.contains(&name) {
                    problems.push(format!("{name}: no HELP"));
                }
                if kind == "counter" && !name.ends_with("_total") {
                    problems.push(format!("{name}: counter without _total"));
                }
                if kind != "counter" && kind != "untyped" && name.ends_with("_total") {
                    problems.push(format!("{name}: non-counter with _total"));
                }
                if types.insert(name.clone(), kind).is_some() {
                    problems.push(format!("{name}: declared twice"));
                }
            } else if !line.is_empty() {
                let name = line.split(['{', ' ']).next().unwrap();
                let family = types.keys().find(|f| {
                    name == f.as_str()
                        || ["_bucket", "_sum", "_count"]
                            .iter()
                            .any(|s| name == format!("{f}{s}"))
                });
                if family.is_none() {
                    problems.push(format!("{name}: sample without TYPE"));
                }
                let value = line.rsplit(' ').next().unwrap();
                if value.parse::<f64>().is_err() {
                    problems.push(format!("{line}: bad value"));
                }
            }
        }
        problems
    }

    #[test]
    fn encoding_passes_the_promtool_rules_with_every_family_populated() {
        let m = Metrics::new();
        m.seed_active_tenant("acme");
        m.seed_deleted_tenant("gone");
        m.sync_finished("acme", true, Duration::from_secs(3));
        m.scan_finished("acme", Duration::from_millis(700));
        m.attachment_uploaded("acme", Duration::from_millis(150));
        m.confluence_request(
            "acme",
            "/rest/api/content/search",
            Some(200),
            Duration::ZERO,
        );
        m.confluence_request(
            "acme",
            "/rest/api/content/search",
            Some(404),
            Duration::ZERO,
        );
        m.cleanup_finished("gone", true, Duration::from_secs(1));
        m.throttled("acme", "confluence", Duration::from_millis(20));
        m.rate_limited("acme", "confluence");
        m.retried("acme", "unique");
        m.bytes("acme", "confluence", 10, 0);
        m.http_attempt("acme", "unique", Some(200));
        m.ledger_run("acme", "success");
        m.set_tenants_configured(1, 1);
        m.quota_reading("acme", Some(65_000), Some(1_200), Some(1.7e9), true);
        m.quota_wait_started("acme", "exhausted", 1.7e9);
        m.quota_wait_ended("acme", Duration::from_secs(3));
        let text = m.encode();
        assert_eq!(lint(&text), Vec::<String>::new(), "{text}");
    }

    fn populated() -> Metrics {
        let m = Metrics::new();
        m.seed_active_tenant("acme");
        m.seed_deleted_tenant("gone");
        m.sync_finished("acme", false, Duration::from_secs(3));
        m.scan_finished("acme", Duration::from_millis(700));
        m.attachment_uploaded("acme", Duration::from_millis(150));
        m.confluence_request("acme", "/api/v2/pages/{id}", Some(503), Duration::ZERO);
        m.cleanup_finished("gone", true, Duration::from_secs(1));
        m.cleanup_content_deleted("gone", true, 4);
        m.throttled("acme", "confluence", Duration::from_millis(20));
        m.bytes("acme", "unique", 0, 2048);
        m.http_attempt("acme", "confluence", None);
        m.ledger_run("acme", "partial_success");
        m.set_tenants_configured(1, 1);
        m.held_back("acme", "unknown_type", 2);
        m.quota_reading("acme", Some(65_000), None, Some(1_760_000_400.0), false);
        m.quota_wait_started("acme", "near_limit", 1_760_000_401.0);
        m
    }

    #[test]
    fn quota_gauges_show_the_last_reading_and_waits_are_counted_once() {
        let m = Metrics::new();
        m.quota_reading(
            "acme",
            Some(65_000),
            Some(9_000),
            Some(1_760_000_400.0),
            true,
        );
        m.quota_wait_started("acme", "exhausted", 1_760_000_401.0);
        m.quota_wait_started("acme", "exhausted", 1_760_000_461.0);
        let text = m.encode();
        for line in [
            "cfc_confluence_quota_remaining_points{tenant=\"acme\"} 9000\n",
            "cfc_confluence_quota_limit_points{tenant=\"acme\"} 65000\n",
            "cfc_confluence_quota_near_limit{tenant=\"acme\"} 1\n",
            "cfc_confluence_quota_waiting{tenant=\"acme\"} 1\n",
            "cfc_confluence_quota_waits_total{tenant=\"acme\",cause=\"exhausted\"} 1\n",
            "cfc_confluence_quota_reset_timestamp_seconds{tenant=\"acme\"} 1760000461\n",
        ] {
            assert!(text.contains(line), "missing {line}in {text}");
        }
        m.quota_wait_ended("acme", Duration::from_secs(60));
        m.quota_reading("acme", Some(65_000), None, Some(1_760_004_000.0), false);
        let text = m.encode();
        assert!(text.contains("cfc_confluence_quota_waiting{tenant=\"acme\"} 0\n"));
        assert!(text.contains("cfc_confluence_quota_wait_seconds_total{tenant=\"acme\"} 60\n"));
        assert!(text.contains("cfc_confluence_quota_remaining_points{tenant=\"acme\"} NaN\n"));
    }

    /// The real linter, where installed (`apt-get install prometheus` provides it); CI without
    /// it still runs the rule check above.
    #[test]
    fn promtool_check_metrics_accepts_the_exposition() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let Ok(mut child) = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
        else {
            eprintln!("promtool not installed; skipped");
            return;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(populated().encode().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let m = Metrics::new();
        m.attachment_uploaded("t", Duration::from_millis(150));
        m.attachment_uploaded("t", Duration::from_secs(100));
        let text = m.encode();
        assert!(text.contains(
            "cfc_attachment_upload_duration_seconds_bucket{tenant=\"t\",le=\"0.1\"} 0\n"
        ));
        assert!(text.contains(
            "cfc_attachment_upload_duration_seconds_bucket{tenant=\"t\",le=\"0.2\"} 1\n"
        ));
        assert!(text
            .contains("cfc_attachment_upload_duration_seconds_bucket{tenant=\"t\",le=\"60\"} 1\n"));
        assert!(text.contains(
            "cfc_attachment_upload_duration_seconds_bucket{tenant=\"t\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains("cfc_attachment_upload_duration_seconds_count{tenant=\"t\"} 2\n"));
        assert!(text.contains("cfc_attachment_upload_duration_seconds_sum{tenant=\"t\"} 100.15\n"));
    }

    #[test]
    fn seeding_reports_zeroes_and_the_idle_phase() {
        let m = Metrics::new();
        m.seed_active_tenant("acme");
        let text = m.encode();
        for line in [
            "cfc_pages_processed_total{tenant=\"acme\",result=\"skipped\"} 0",
            "cfc_file_diff_events_total{tenant=\"acme\",diff_result_type=\"moved\"} 0",
            "cfc_sync_phase{tenant=\"acme\",phase=\"idle\"} 1",
            "cfc_sync_phase{tenant=\"acme\",phase=\"scanning\"} 0",
            "cfc_sync_pages_total{tenant=\"acme\"} 0",
        ] {
            assert!(text.contains(line), "missing {line}");
        }
    }

    #[test]
    fn phase_gauge_has_exactly_one_phase_set() {
        let m = Metrics::new();
        m.set_phase("t", "diffing");
        let text = m.encode();
        let ones: Vec<_> = text
            .lines()
            .filter(|l| l.starts_with("cfc_sync_phase{") && l.ends_with(" 1"))
            .collect();
        assert_eq!(ones, ["cfc_sync_phase{tenant=\"t\",phase=\"diffing\"} 1"]);
    }

    #[test]
    fn status_classes_follow_the_reference() {
        assert_eq!(status_class(Some(204)), "2xx");
        assert_eq!(status_class(Some(302)), "3xx");
        assert_eq!(status_class(Some(404)), "404");
        assert_eq!(status_class(Some(503)), "5xx");
        assert_eq!(status_class(None), "unknown");
    }

    #[test]
    fn endpoint_labels_replace_ids_and_drop_queries() {
        let label = |u: &str| endpoint_label(&url::Url::parse(u).unwrap());
        assert_eq!(
            label("https://api.atlassian.com/ex/confluence/0b1c2d3e-4f5a/wiki/rest/api/content/search?cql=x"),
            "/rest/api/content/search"
        );
        assert_eq!(
            label("https://x/wiki/api/v2/pages/123456/attachments?cursor=a"),
            "/api/v2/pages/{id}/attachments"
        );
        assert_eq!(
            label("https://x/wiki/rest/api/content/98765/child/attachment/att12345/download"),
            "/rest/api/content/{id}/child/attachment/{id}/download"
        );
        assert_eq!(
            label("https://dc/download/attachments/1/a.pdf"),
            "/download/attachments/1/a.pdf"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new();
        m.ledger_run("a\"b\\c", "success");
        assert!(m
            .encode()
            .contains("cfc_ledger_runs_total{tenant=\"a\\\"b\\\\c\",status=\"success\"} 1"));
    }
}

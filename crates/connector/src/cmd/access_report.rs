//! `confluence-connector access-report [--tenant NAME] [--json|--csv]`: who can read what in
//! Confluence, per space, as permission sync would compute it (docs/operator/permissions-sync.md).
//!
//! Read-only: it discovers the pages a sync would see (the engine's own discovery), gathers
//! their permissions with the engine's [`sync_engine::access::gather`] in `page` mode whatever
//! `permissions.mode` says, and prints. It builds no Unique client and opens no ledger, so it
//! needs neither to be reachable and can run beside a daemon. The JSON is documented in
//! docs/operator/cli.md and kept stable: fields are only ever added.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::sync::Arc;

use confluence_client::{ConfluenceClient, Page, Principal};
use serde::Serialize;
use sync_engine::access::{
    gather, AccessSnapshot, Layer, LeftOut, PermissionMode, Readers, SpaceAccess,
};

use super::Outcome;
use crate::config::{AnonymousPolicy, LoadedConfig, TenantConfig};
use crate::metrics::Metrics;
use crate::transport_metrics::TransportMetrics;
use crate::wiring::{confluence_config, SharedTransport};

/// How the report is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Text,
    Json,
    /// One row per (space, page, principal).
    Csv,
}

/// The whole report: `--json` prints exactly this.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccessReport {
    /// False when a tenant could not be reported (its `error` says why).
    pub(crate) ok: bool,
    pub(crate) tenants: Vec<TenantReport>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TenantReport {
    pub(crate) tenant: String,
    /// `permissions.mode` as configured; the report itself is always computed as `page`.
    pub(crate) configured_mode: &'static str,
    /// `permissions.anonymous`, which decides what an anonymous grant means.
    pub(crate) anonymous_policy: &'static str,
    /// Discovery failed: nothing below was computed.
    pub(crate) error: Option<String>,
    /// `maxItemsToScan` cut discovery short: pages past the cap are not in the report.
    pub(crate) truncated: bool,
    pub(crate) spaces: Vec<SpaceReport>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SpaceReport {
    pub(crate) key: String,
    pub(crate) name: String,
    /// Who can read the space.
    pub(crate) readers: ReadersReport,
    /// The space grants anonymous users `read/space`.
    pub(crate) anonymous: bool,
    /// Every mapped, active person may read the space (an anonymous grant under
    /// `anonymous: allUsers`).
    pub(crate) all_users: bool,
    pub(crate) pages: PageCounts,
    /// Pages whose readers differ from the space's: a view restriction of their own or of an
    /// ancestor narrows them.
    pub(crate) restricted_pages: Vec<PageReport>,
    /// Ids of pages readable by everyone who can read the space.
    pub(crate) pages_readable_by_space_readers: Vec<String>,
    /// Pages whose readers could not be computed, with the reason (sync keeps their old access,
    /// or gives a new one only the service user's).
    pub(crate) unknown_pages: Vec<UnknownPage>,
    /// Accounts left out of the space's or a page's readers, counted once each, by reason.
    pub(crate) left_out: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageCounts {
    pub(crate) total: u64,
    pub(crate) readable_by_space_readers: u64,
    pub(crate) restricted: u64,
    pub(crate) unknown: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageReport {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) readers: ReadersReport,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UnknownPage {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) reason: String,
}

/// One set of readers: known (groups as a whole plus further people) or not computable.
#[derive(Debug, Serialize)]
#[serde(tag = "status", rename_all = "camelCase")]
pub(crate) enum ReadersReport {
    #[serde(rename_all = "camelCase")]
    Known {
        groups: Vec<GroupReport>,
        /// People granted besides the groups, by e-mail (lower-cased), sorted.
        users: Vec<String>,
        /// Accounts left out of these readers, by reason.
        left_out: BTreeMap<&'static str, u64>,
    },
    Unknown {
        reason: String,
    },
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GroupReport {
    /// Cloud group id, Data Center group name.
    pub(crate) id: String,
    pub(crate) name: String,
    /// Accounts listed in the group (every account, mapped or not).
    pub(crate) members: u64,
}

pub(crate) async fn run(loaded: LoadedConfig, only: Option<String>, format: Format) -> Outcome {
    if let Some(name) = &only {
        if !loaded.tenants.iter().any(|t| &t.name == name) {
            let known: Vec<_> = loaded.tenants.iter().map(|t| t.name.as_str()).collect();
            eprintln!(
                "error: no active or deleted tenant named `{name}` (known: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            );
            return Outcome::ConfigInvalid;
        }
    }
    let shared = match SharedTransport::from_daemon(&loaded.daemon) {
        Ok(shared) => shared,
        Err(e) => {
            eprintln!("error: {}", crate::errors::error_text(&e));
            return Outcome::Failed;
        }
    };
    let metrics = Arc::new(Metrics::new());
    let mut tenants = Vec::new();
    for tenant in &loaded.tenants {
        if only.as_ref().is_some_and(|n| n != &tenant.name) {
            continue;
        }
        if !tenant.is_active() {
            // A deleted tenant makes no Confluence calls (reference §13).
            tracing::info!(tenant = %tenant.name, "Skipping a deleted tenant: it has no Confluence side");
            continue;
        }
        let _span = crate::telemetry::tenant_span(&tenant.name).entered();
        tenants.push(tenant_report(tenant, &shared, &metrics).await);
    }
    let report = AccessReport {
        ok: tenants.iter().all(|t| t.error.is_none()),
        tenants,
    };
    match format {
        Format::Json => match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: {e}");
                return Outcome::Failed;
            }
        },
        Format::Csv => print!("{}", to_csv(&report)),
        Format::Text => print!("{}", to_text(&report)),
    }
    for t in report.tenants.iter().filter(|t| t.error.is_some()) {
        eprintln!(
            "error: tenant {}: {}",
            t.tenant,
            t.error.as_deref().unwrap_or_default()
        );
    }
    if report.ok {
        Outcome::Success
    } else {
        Outcome::Failed
    }
}

async fn tenant_report(
    tenant: &TenantConfig,
    shared: &SharedTransport,
    metrics: &Arc<Metrics>,
) -> TenantReport {
    let mut report = TenantReport {
        tenant: tenant.name.clone(),
        configured_mode: mode_name(tenant.permissions.mode),
        anonymous_policy: policy_name(tenant.permissions.anonymous),
        error: None,
        truncated: false,
        spaces: Vec::new(),
    };
    // Always `page`: the report shows restrictions whatever the tenant syncs.
    let mut config = confluence_config(tenant, shared);
    config.view_restrictions = true;
    let client =
        match ConfluenceClient::new(config, TransportMetrics::new(&tenant.name, metrics.clone())) {
            Ok(client) => client,
            Err(e) => {
                report.error = Some(format!("building the Confluence client: {e}"));
                return report;
            }
        };
    let spec = crate::tenants::tenant_spec(tenant);
    let (pages, truncated) = match sync_engine::discover_pages(&client, &spec).await {
        Ok(found) => found,
        Err(e) => {
            report.error = Some(format!("discovery failed: {e}"));
            return report;
        }
    };
    let snapshot = gather(&client, &pages, PermissionMode::Page, &tenant.permissions).await;
    report.truncated = truncated;
    report.spaces = space_reports(&pages, &snapshot, tenant.permissions.anonymous);
    report
}

fn mode_name(mode: PermissionMode) -> &'static str {
    match mode {
        PermissionMode::None => "none",
        PermissionMode::Space => "space",
        PermissionMode::Page => "page",
    }
}

fn policy_name(policy: AnonymousPolicy) -> &'static str {
    match policy {
        AnonymousPolicy::Ignore => "ignore",
        AnonymousPolicy::AllUsers => "allUsers",
    }
}

/// The report's spaces from what `gather` found (a pure function).
pub(crate) fn space_reports(
    pages: &[Page],
    snapshot: &AccessSnapshot,
    anonymous: AnonymousPolicy,
) -> Vec<SpaceReport> {
    let titles: BTreeMap<&str, &str> = pages
        .iter()
        .map(|p| (p.id.as_str(), p.title.as_str()))
        .collect();
    snapshot
        .spaces
        .values()
        .map(|space| space_report(space, snapshot, &titles, anonymous))
        .collect()
}

fn space_report(
    space: &SpaceAccess,
    snapshot: &AccessSnapshot,
    titles: &BTreeMap<&str, &str>,
    policy: AnonymousPolicy,
) -> SpaceReport {
    let anonymous = matches!(&space.grants, Layer::Grants(p) if p.contains(&Principal::Anonymous));
    let mut report = SpaceReport {
        key: space.space.key.clone(),
        name: space.space.name.clone(),
        readers: readers_report(&space.readers, snapshot),
        anonymous,
        all_users: anonymous && policy == AnonymousPolicy::AllUsers,
        pages: PageCounts::default(),
        restricted_pages: Vec::new(),
        pages_readable_by_space_readers: Vec::new(),
        unknown_pages: Vec::new(),
        left_out: BTreeMap::new(),
    };
    let mut left_out: BTreeMap<&str, LeftOut> = BTreeMap::new();
    collect_left_out(&space.readers, &mut left_out);
    for (id, readers) in &space.pages {
        report.pages.total += 1;
        let title = titles
            .get(id.as_str())
            .copied()
            .unwrap_or_default()
            .to_owned();
        collect_left_out(readers, &mut left_out);
        match readers {
            Readers::Unknown(reason) => {
                report.pages.unknown += 1;
                report.unknown_pages.push(UnknownPage {
                    id: id.clone(),
                    title,
                    reason: reason.clone(),
                });
            }
            known if *known == space.readers => {
                report.pages.readable_by_space_readers += 1;
                report.pages_readable_by_space_readers.push(id.clone());
            }
            known => {
                report.pages.restricted += 1;
                report.restricted_pages.push(PageReport {
                    id: id.clone(),
                    title,
                    readers: readers_report(known, snapshot),
                });
            }
        }
    }
    report.left_out = count_by_reason(left_out.values().copied());
    report
}

fn collect_left_out<'a>(readers: &'a Readers, into: &mut BTreeMap<&'a str, LeftOut>) {
    if let Readers::Known { left_out, .. } = readers {
        for (account, reason) in left_out {
            into.entry(account.as_str()).or_insert(*reason);
        }
    }
}

/// Counts by reason, keyed by the metric label (`no_email`, `app`, …).
pub(crate) fn count_by_reason(
    reasons: impl IntoIterator<Item = LeftOut>,
) -> BTreeMap<&'static str, u64> {
    let mut counts = BTreeMap::new();
    for reason in reasons {
        *counts.entry(reason.as_str()).or_insert(0) += 1;
    }
    counts
}

fn readers_report(readers: &Readers, snapshot: &AccessSnapshot) -> ReadersReport {
    match readers {
        Readers::Unknown(reason) => ReadersReport::Unknown {
            reason: reason.clone(),
        },
        Readers::Known {
            groups,
            emails,
            left_out,
        } => ReadersReport::Known {
            groups: groups
                .iter()
                .map(|id| GroupReport {
                    id: id.clone(),
                    name: snapshot
                        .group_names
                        .get(id)
                        .cloned()
                        .unwrap_or_else(|| id.clone()),
                    members: match snapshot.directory.members.get(id) {
                        Some(Ok(members)) => members.iter().collect::<BTreeSet<_>>().len() as u64,
                        _ => 0,
                    },
                })
                .collect(),
            users: emails.iter().cloned().collect(),
            left_out: count_by_reason(left_out.values().copied()),
        },
    }
}

/// Plain text, one block per tenant and space.
pub(crate) fn to_text(report: &AccessReport) -> String {
    let mut out = String::new();
    for t in &report.tenants {
        let _ = writeln!(
            out,
            "tenant {} (permissions.mode: {}, anonymous: {}; computed as page mode)",
            t.tenant, t.configured_mode, t.anonymous_policy
        );
        if let Some(error) = &t.error {
            let _ = writeln!(out, "  error: {error}");
            continue;
        }
        if t.truncated {
            let _ = writeln!(
                out,
                "  discovery was truncated by maxItemsToScan: pages past the cap are not listed"
            );
        }
        if t.spaces.is_empty() {
            let _ = writeln!(out, "  no labelled pages found");
        }
        for s in &t.spaces {
            let _ = writeln!(out, "  space {} ({})", s.key, s.name);
            let _ = writeln!(out, "    readers: {}", readers_text(&s.readers));
            let _ = writeln!(
                out,
                "    anonymous access: {}{}",
                if s.anonymous { "yes" } else { "no" },
                if s.all_users {
                    " (every mapped person may read: anonymous: allUsers)"
                } else if s.anonymous {
                    " (ignored: anonymous: ignore)"
                } else {
                    ""
                }
            );
            let p = &s.pages;
            let _ = writeln!(
                out,
                "    pages: {} in all, {} readable by every space reader, {} restricted, {} unknown",
                p.total, p.readable_by_space_readers, p.restricted, p.unknown
            );
            for page in &s.restricted_pages {
                let _ = writeln!(
                    out,
                    "    restricted {} \"{}\": {}",
                    page.id,
                    page.title,
                    readers_text(&page.readers)
                );
            }
            for page in &s.unknown_pages {
                let _ = writeln!(
                    out,
                    "    unknown {} \"{}\": {}",
                    page.id, page.title, page.reason
                );
            }
            if !s.left_out.is_empty() {
                let _ = writeln!(out, "    left out: {}", counts_text(&s.left_out));
            }
        }
    }
    out
}

fn readers_text(readers: &ReadersReport) -> String {
    match readers {
        ReadersReport::Unknown { reason } => format!("unknown ({reason})"),
        ReadersReport::Known { groups, users, .. } => {
            let groups: Vec<String> = groups
                .iter()
                .map(|g| format!("{} ({} members)", g.name, g.members))
                .collect();
            format!(
                "{} group(s){}{}, {} user(s)",
                groups.len(),
                if groups.is_empty() { "" } else { ": " },
                groups.join(", "),
                users.len()
            )
        }
    }
}

fn counts_text(counts: &BTreeMap<&'static str, u64>) -> String {
    counts
        .iter()
        .map(|(reason, n)| format!("{n} {reason}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The CSV header; one row per (space, page, principal). `page_id` is empty for the space's
/// own readers.
pub(crate) const CSV_HEADER: &str =
    "tenant,space,page_id,page_title,status,principal_type,principal,detail";

/// CSV (RFC 4180): `status` is `known` or `unknown`; `principal_type` is `group` (detail:
/// member count), `user` (an e-mail), `anonymous`, `space_readers` (the page is readable by
/// every space reader), `left_out` (principal: the reason; detail: the count) or empty for an
/// unknown set (detail: the reason).
pub(crate) fn to_csv(report: &AccessReport) -> String {
    let mut out = String::new();
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for t in &report.tenants {
        for s in &t.spaces {
            let mut row =
                |page_id: &str, title: &str, status: &str, kind: &str, who: &str, detail: &str| {
                    let fields = [&t.tenant, &s.key, page_id, title, status, kind, who, detail];
                    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
                    out.push_str(&line.join(","));
                    out.push_str("\r\n");
                };
            readers_rows(&s.readers, "", "", &mut row);
            if s.anonymous {
                row(
                    "",
                    "",
                    "known",
                    "anonymous",
                    "anonymous",
                    if s.all_users { "allUsers" } else { "ignored" },
                );
            }
            for page in &s.restricted_pages {
                readers_rows(&page.readers, &page.id, &page.title, &mut row);
            }
            for id in &s.pages_readable_by_space_readers {
                row(id, "", "known", "space_readers", &s.key, "");
            }
            for page in &s.unknown_pages {
                row(&page.id, &page.title, "unknown", "", "", &page.reason);
            }
        }
    }
    out
}

fn readers_rows(
    readers: &ReadersReport,
    page_id: &str,
    title: &str,
    row: &mut impl FnMut(&str, &str, &str, &str, &str, &str),
) {
    match readers {
        ReadersReport::Unknown { reason } => row(page_id, title, "unknown", "", "", reason),
        ReadersReport::Known {
            groups,
            users,
            left_out,
        } => {
            for g in groups {
                row(
                    page_id,
                    title,
                    "known",
                    "group",
                    &g.name,
                    &g.members.to_string(),
                );
            }
            for u in users {
                row(page_id, title, "known", "user", u, "");
            }
            for (reason, n) in left_out {
                row(page_id, title, "known", "left_out", reason, &n.to_string());
            }
        }
    }
}

/// Quoted when it holds a comma, quote or line break; quotes doubled. A field starting with
/// `=`, `+`, `-` or `@` gets a leading `'`, so a spreadsheet does not run a title as a formula.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use confluence_client::{Account, AccountKind, ContentType, Space};
    use sync_engine::access::Directory;

    fn page(id: &str, title: &str) -> Page {
        Page {
            id: id.into(),
            title: title.into(),
            content_type: ContentType::Page,
            space: space(),
            version_when: String::new(),
            webui: String::new(),
            labels: Vec::new(),
            attachments: Vec::new(),
            inline_attachments: None,
            attachments_incomplete: false,
            access: None,
        }
    }

    fn space() -> Space {
        Space {
            id: "1".into(),
            key: "ENG".into(),
            name: "Engineering".into(),
        }
    }

    fn known(groups: &[&str], emails: &[&str], left_out: &[(&str, LeftOut)]) -> Readers {
        Readers::Known {
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            emails: emails.iter().map(|e| (*e).to_owned()).collect(),
            left_out: left_out
                .iter()
                .map(|(a, r)| ((*a).to_owned(), *r))
                .collect(),
        }
    }

    /// ENG: readable by group eng (2 members) and dave, anonymous granted; page 1 as the
    /// space, page 2 restricted to bob, page 3 unknown.
    fn snapshot() -> AccessSnapshot {
        let mut directory = Directory::default();
        directory
            .members
            .insert("g-eng".into(), Ok(vec!["alice".into(), "bob".into()]));
        directory.accounts.insert(
            "alice".into(),
            Account {
                id: "alice".into(),
                email: Some("alice@example.com".into()),
                kind: AccountKind::Person,
                active: true,
            },
        );
        let space_readers = known(
            &["g-eng"],
            &["dave@example.com"],
            &[("bot", LeftOut::App), ("anonymous", LeftOut::Anonymous)],
        );
        let mut pages = BTreeMap::new();
        pages.insert("1".to_owned(), space_readers.clone());
        pages.insert(
            "2".to_owned(),
            known(&[], &["bob@example.com"], &[("hidden", LeftOut::NoEmail)]),
        );
        pages.insert(
            "3".to_owned(),
            Readers::Unknown("ancestor 9 answered 403".into()),
        );
        let mut spaces = BTreeMap::new();
        spaces.insert(
            "ENG".to_owned(),
            SpaceAccess {
                space: space(),
                grants: Layer::Grants(vec![Principal::Group("g-eng".into()), Principal::Anonymous]),
                readers: space_readers,
                pages,
            },
        );
        AccessSnapshot {
            directory,
            group_names: [("g-eng".to_owned(), "eng".to_owned())].into(),
            spaces,
        }
    }

    fn report() -> AccessReport {
        let pages = [
            page("1", "One"),
            page("2", "Two, restricted"),
            page("3", "=Three"),
        ];
        AccessReport {
            ok: true,
            tenants: vec![TenantReport {
                tenant: "t".into(),
                configured_mode: "none",
                anonymous_policy: "ignore",
                error: None,
                truncated: false,
                spaces: space_reports(&pages, &snapshot(), AnonymousPolicy::Ignore),
            }],
        }
    }

    #[test]
    fn pages_are_split_into_as_the_space_restricted_and_unknown() {
        let report = report();
        let s = &report.tenants[0].spaces[0];
        assert_eq!(s.pages.total, 3);
        assert_eq!(s.pages_readable_by_space_readers, ["1"]);
        assert_eq!(s.restricted_pages.len(), 1);
        assert_eq!(s.restricted_pages[0].id, "2");
        assert_eq!(s.unknown_pages[0].reason, "ancestor 9 answered 403");
        assert!(s.anonymous && !s.all_users);
        assert_eq!(
            s.left_out,
            BTreeMap::from([("anonymous", 1), ("app", 1), ("no_email", 1)])
        );
        let ReadersReport::Known { groups, users, .. } = &s.readers else {
            panic!()
        };
        assert_eq!((groups[0].name.as_str(), groups[0].members), ("eng", 2));
        assert_eq!(users, &["dave@example.com"]);
    }

    #[test]
    fn the_json_has_the_documented_shape() {
        let json = serde_json::to_value(report()).unwrap();
        let s = &json["tenants"][0]["spaces"][0];
        assert_eq!(s["readers"]["status"], "known");
        assert_eq!(s["readers"]["groups"][0]["members"], 2);
        assert_eq!(s["pages"]["readableBySpaceReaders"], 1);
        assert_eq!(
            s["restrictedPages"][0]["readers"]["users"][0],
            "bob@example.com"
        );
        assert_eq!(s["unknownPages"][0]["id"], "3");
        assert_eq!(s["leftOut"]["no_email"], 1);
        assert_eq!(json["tenants"][0]["configuredMode"], "none");
    }

    #[test]
    fn csv_has_one_row_per_space_page_and_principal_and_escapes_titles() {
        let csv = to_csv(&report());
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines[0], CSV_HEADER);
        assert!(lines.contains(&"t,ENG,,,known,group,eng,2"), "{csv}");
        assert!(
            lines.contains(&"t,ENG,,,known,user,dave@example.com,"),
            "{csv}"
        );
        assert!(
            lines.contains(&"t,ENG,,,known,anonymous,anonymous,ignored"),
            "{csv}"
        );
        assert!(
            lines.contains(&"t,ENG,2,\"Two, restricted\",known,user,bob@example.com,"),
            "{csv}"
        );
        assert!(
            lines.contains(&"t,ENG,1,,known,space_readers,ENG,"),
            "{csv}"
        );
        assert!(
            lines.contains(&"t,ENG,3,'=Three,unknown,,,ancestor 9 answered 403"),
            "{csv}"
        );
    }

    #[test]
    fn text_names_every_finding() {
        let text = to_text(&report());
        for needle in [
            "space ENG (Engineering)",
            "readers: 1 group(s): eng (2 members), 1 user(s)",
            "anonymous access: yes (ignored: anonymous: ignore)",
            "pages: 3 in all, 1 readable by every space reader, 1 restricted, 1 unknown",
            "restricted 2 \"Two, restricted\": 0 group(s), 1 user(s)",
            "unknown 3 \"=Three\": ancestor 9 answered 403",
            "left out: 1 anonymous, 1 app, 1 no_email",
        ] {
            assert!(text.contains(needle), "{needle:?} not in\n{text}");
        }
    }
}

//! Every query of the Grafana dashboard (`deploy/grafana/confluence-connector.json`, which the
//! Helm chart provisions) names metrics that `/metrics` exports, and groups or filters only by
//! labels those metrics carry, so a renamed metric or label fails here instead of leaving a
//! panel silently empty.
//!
//! Exported names come from the registry `/metrics` encodes (`# TYPE` lines: every family, with
//! or without series; histograms add `_bucket`, `_sum`, `_count`). Labels are checked for the
//! families that have series after one event of each kind.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use connector::Metrics;
use serde_json::Value;

/// One PromQL expression: the metrics it selects (with the labels its matchers name) and the
/// labels it groups or matches by.
#[derive(Debug, Default)]
struct Query {
    metrics: Vec<(String, BTreeSet<String>)>,
    grouping: BTreeSet<String>,
}

const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "inf", "nan"];
const GROUPING: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// A small PromQL scanner: enough to find metric names, matcher labels and grouping labels in
/// dashboard queries (Grafana's `$variables` included), not a parser.
fn scan(expr: &str) -> Query {
    let chars: Vec<char> = expr.chars().collect();
    let mut query = Query::default();
    let mut i = 0;
    let ident_start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':';
    let ident_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let skip_spaces = |mut j: usize| {
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        j
    };
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == '[' {
            // Range and subquery selectors: durations and Grafana variables only.
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
        } else if c == '$' {
            i += 1;
            if i < chars.len() && chars[i] == '{' {
                while i < chars.len() && chars[i] != '}' {
                    i += 1;
                }
                i += 1;
            } else {
                while i < chars.len() && ident_char(chars[i]) {
                    i += 1;
                }
            }
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '{' {
            // Matchers without a metric name in front (`{__name__=…}`): not used by the dashboard.
            panic!("a selector without a metric name in {expr:?}");
        } else if ident_start(c) {
            let start = i;
            while i < chars.len() && ident_char(chars[i]) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = skip_spaces(i);
            if GROUPING.contains(&word.as_str()) {
                if chars.get(next) == Some(&'(') {
                    let close = next + chars[next..].iter().position(|&c| c == ')').unwrap();
                    let labels: String = chars[next + 1..close].iter().collect();
                    query.grouping.extend(
                        labels
                            .split(',')
                            .map(str::trim)
                            .filter(|l| !l.is_empty())
                            .map(String::from),
                    );
                    i = close + 1;
                }
            } else if chars.get(next) == Some(&'(')
                || KEYWORDS.contains(&word.to_lowercase().as_str())
                || ["by", "without"]
                    .iter()
                    .any(|w| chars[next..].starts_with(&w.chars().collect::<Vec<_>>()))
            {
                // A function, an aggregation (`sum (…)`, `sum by (…) (…)`) or an operator keyword.
            } else {
                let mut labels = BTreeSet::new();
                if chars.get(next) == Some(&'{') {
                    let close = next + chars[next..].iter().position(|&c| c == '}').unwrap();
                    let body: String = chars[next + 1..close].iter().collect();
                    for matcher in split_matchers(&body) {
                        let label: String = matcher
                            .trim()
                            .chars()
                            .take_while(|&c| ident_char(c))
                            .collect();
                        assert!(!label.is_empty(), "matcher {matcher:?} in {expr:?}");
                        labels.insert(label);
                    }
                    i = close + 1;
                }
                query.metrics.push((word, labels));
            }
        } else {
            i += 1;
        }
    }
    query
}

/// Splits a matcher list on the commas outside quoted values.
fn split_matchers(body: &str) -> Vec<String> {
    let mut parts = vec![String::new()];
    let mut quote = None;
    let mut escaped = false;
    for c in body.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
                parts.last_mut().unwrap().push(c);
            }
            None if c == '"' || c == '\'' || c == '`' => {
                quote = Some(c);
                parts.last_mut().unwrap().push(c);
            }
            None if c == ',' => parts.push(String::new()),
            None => parts.last_mut().unwrap().push(c),
        }
    }
    parts.retain(|p| !p.trim().is_empty());
    parts
}

/// The registry as `/metrics` serves it, after one event of each kind so that every family the
/// connector records has series to read label names from.
fn exported() -> (BTreeSet<String>, BTreeMap<String, BTreeSet<String>>) {
    let metrics = Metrics::new();
    let second = Duration::from_secs(1);
    metrics.seed_active_tenant("t");
    metrics.seed_deleted_tenant("t");
    metrics.set_tenants_configured(1, 1);
    metrics.sync_finished("t", true, second);
    metrics.scan_finished("t", second);
    metrics.attachment_uploaded("t", second);
    metrics.page_processed("t", "success");
    metrics.attachment_processed("t", "success");
    metrics.content_deleted("t", true, 1);
    metrics.file_diff("t", "new", 1);
    metrics.orphaned_scopes_cleaned("t", true, 1);
    metrics.orphaned_files_cleaned("t", 1);
    metrics.cleanup_finished("t", true, second);
    metrics.cleanup_content_deleted("t", true, 1);
    metrics.cleanup_scopes_deleted("t", true, 1);
    metrics.sync_totals("t", 1, 1);
    metrics.ledger_run("t", "success");
    metrics.confluence_request("t", "/rest/api/content/search", Some(500), second);
    metrics.http_attempt("t", "confluence", Some(429));
    metrics.throttled("t", "confluence", second);
    metrics.rate_limited("t", "confluence");
    metrics.retried("t", "confluence");
    metrics.bytes("t", "confluence", 1, 1);
    let text = metrics.encode();

    let mut names = BTreeSet::new();
    let mut labels: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut words = rest.split_whitespace();
            let (name, kind) = (words.next().unwrap(), words.next().unwrap());
            names.insert(name.to_string());
            if kind == "histogram" {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.insert(format!("{name}{suffix}"));
                }
            }
        } else if !line.starts_with('#') && !line.is_empty() {
            let series = line.split_whitespace().next().unwrap();
            let (name, rest) = series.split_once('{').unwrap_or((series, ""));
            let found = labels.entry(name.to_string()).or_default();
            for pair in split_matchers(rest.trim_end_matches('}')) {
                found.insert(pair.split('=').next().unwrap().to_string());
            }
        }
    }
    (names, labels)
}

/// Every query of the dashboard: panel targets (rows nested or not) and variable queries, with
/// where each one is.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    fn panels(list: &Value, out: &mut Vec<(String, String)>) {
        for panel in list.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("?");
            for target in panel["targets"].as_array().into_iter().flatten() {
                let expr = target["expr"].as_str().unwrap();
                out.push((format!("panel '{title}'"), expr.to_string()));
            }
            panels(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    panels(&dashboard["panels"], &mut out);
    for variable in dashboard["templating"]["list"].as_array().unwrap() {
        if variable["type"] != "query" {
            continue;
        }
        let query = variable["query"]["query"]
            .as_str()
            .or(variable["query"].as_str())
            .unwrap();
        // label_values(<selector>, <label>): the selector is PromQL; the label must be on it.
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("unexpected variable query {query:?}"));
        let (selector, label) = inner.rsplit_once(',').unwrap();
        out.push((
            format!("variable '{}'", variable["name"].as_str().unwrap()),
            format!("max by ({}) ({selector})", label.trim()),
        ));
    }
    out
}

#[test]
fn every_dashboard_query_names_exported_metrics_and_their_labels() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/grafana/confluence-connector.json");
    let dashboard: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (names, labels) = exported();
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() > 20, "only {} queries found", queries.len());

    let mut unknown_metrics = BTreeSet::new();
    let mut problems = Vec::new();
    for (place, expr) in &queries {
        let query = scan(expr);
        if query.metrics.is_empty() {
            problems.push(format!("{place}: no metric in {expr:?}"));
        }
        for (metric, matcher_labels) in &query.metrics {
            if !names.contains(metric) {
                unknown_metrics.insert(metric.clone());
                continue;
            }
            // Families with no series after the events above cannot be checked for labels.
            let Some(has) = labels.get(metric) else {
                continue;
            };
            for label in matcher_labels.iter().chain(&query.grouping) {
                // `job` and `instance` are added by Prometheus at scrape time.
                if !has.contains(label) && label != "job" && label != "instance" {
                    problems.push(format!(
                        "{place}: {metric} has no label '{label}' ({has:?})"
                    ));
                }
            }
        }
    }
    assert!(
        unknown_metrics.is_empty() && problems.is_empty(),
        "the dashboard names metrics /metrics does not export: {unknown_metrics:?}\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scanner_finds_names_matchers_and_grouping() {
    let query = scan(
        r#"time() - max by (tenant) (max_over_time(timestamp(increase(cfc_a_count{job=~"$job", tenant=~"$tenant", result="a,b"}[2m]) > 0)[1d:1m])) / on(tenant) cfc_b or vector(0)"#,
    );
    let names: Vec<&str> = query.metrics.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["cfc_a_count", "cfc_b"]);
    assert_eq!(
        query.metrics[0].1,
        ["job", "result", "tenant"].map(String::from).into()
    );
    assert_eq!(query.grouping, ["tenant"].map(String::from).into());
}

//! Logging, set up once per process: JSON lines in production, readable text on a terminal,
//! level from the config, always on stderr (stdout belongs to command output such as
//! `sync --json`).
//!
//! Every line logged inside a tenant's work carries `tenant`, because that work runs inside
//! [`tenant_span`]. Titles, e-mail addresses and ids go through [`Diag`], which masks them under
//! the `conceal` diagnostics policy; under `conceal` the formatter also masks user-data fields,
//! their values wherever they recur in the line, and the ids, queries and file names inside URLs.
//! What a remote service wrote back is not this module's business: the errors keep it in an
//! [`http_transport::RemoteText`], concealed by the policy the clients were handed
//! (`wiring::SharedTransport`). The policy is a value passed in, never a global.
//!
//! Secrets: our crates never log them (they are `SecretString`s). The HTTP stack underneath
//! (`hyper`, `h2`, `reqwest`, `rustls`) can print headers at `trace`, so those targets are
//! capped at `info` whatever level the operator picks.

use std::fmt;
use std::io::IsTerminal;

use http_transport::{Concealed, Disclosure};
use tracing_subscriber::EnvFilter;

use crate::config::{DiagnosticsDataPolicy, LogFormat, LogLevel};

/// Targets that may print request or response headers below `info`.
const NOISY_TARGETS: &[&str] = &["hyper", "hyper_util", "h2", "reqwest", "rustls", "sqlx"];

/// Installs the global subscriber. Later calls are ignored (tests, `demo` after a failed load).
pub fn init(level: LogLevel, format: LogFormat, policy: DiagnosticsDataPolicy) {
    let json = format.is_json(std::io::stderr().is_terminal());
    let _ =
        tracing::subscriber::set_global_default(subscriber(level, json, policy, std::io::stderr));
}

/// The subscriber [`init`] installs, writing to `writer` (tests capture it).
pub(crate) fn subscriber<W>(
    level: LogLevel,
    json: bool,
    policy: DiagnosticsDataPolicy,
    writer: W,
) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_writer(writer)
        .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
        .event_format(LineFormat {
            json,
            conceal: policy == DiagnosticsDataPolicy::Conceal,
        })
        .finish()
}

/// Field names whose values are user data: masked under `conceal`, whoever logs them (the
/// engine and the clients log through the same subscriber but cannot use [`Diag`]).
fn is_user_data(field: &str) -> bool {
    const EXACT: &[&str] = &["title", "email", "id", "key", "name_of_page", "author"];
    const SUFFIXES: &[&str] = &["_title", "_email", "_id", "_ids", "_key", "_keys"];
    const NEVER: &[&str] = &["run_id", "tenant", "message"];
    !NEVER.contains(&field)
        && (EXACT.contains(&field) || SUFFIXES.iter().any(|s| field.ends_with(s)))
}

/// Values shorter than this are not searched for in free text: masking "7" inside a message
/// would garble counts and times while protecting nothing.
const MIN_MASKED_IN_TEXT: usize = 3;

/// Masks the user-data fields and returns their original text with its mask, so the same
/// values can be masked where they also appear inside free text (a message, an error).
fn mask(fields: &mut serde_json::Map<String, serde_json::Value>) -> Vec<(String, String)> {
    let mut masked = Vec::new();
    for (name, value) in fields.iter_mut() {
        if is_user_data(name) {
            let text = match &*value {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let hidden = concealed(&text);
            *value = serde_json::Value::String(hidden.clone());
            masked.push((text, hidden));
        }
    }
    masked
}

/// Masks the free-text fields (`message`, `err`, …; the user-data fields are masked whole):
/// every `masked` value inside them, since `warn!(title = %t, "Failed to ingest {t}")` must not
/// print `t` in the message, then the user data inside URLs ([`conceal_error_text`]).
fn conceal_free_text(
    fields: &mut serde_json::Map<String, serde_json::Value>,
    masked: &[(String, String)],
) {
    for (name, value) in fields.iter_mut() {
        if is_user_data(name) {
            continue;
        }
        if let serde_json::Value::String(text) = value {
            for (raw, hidden) in masked {
                if raw.chars().count() >= MIN_MASKED_IN_TEXT && text.contains(raw.as_str()) {
                    *text = text.replace(raw.as_str(), hidden);
                }
            }
            *text = conceal_error_text(text);
        }
    }
}

/// `text` as `conceal` shows user data: `[redacted:<hash>]`.
fn concealed(text: &str) -> String {
    Concealed(text).to_string()
}

/// `text` (an error, a message) with the query strings and download file names of the URLs in
/// it masked, and the ids in their paths: Confluence searches carry titles in their CQL,
/// attachment downloads end in the file name. Everything else — our wording, endpoint paths,
/// statuses, keys — is kept, so the line still says what failed. Used for log lines under
/// `conceal` and, through [`sync_engine::LedgerOptions::error_filter`], for the ledger.
///
/// Every `http(s)://` URL has its query string masked, its ids masked as the `*_id` fields are
/// ([`is_id_segment`]), and its last path segment when it is a download
/// (`…/download/attachments/<page id>/<file name>`); bare paths (`request to
/// /rest/api/content/<page id>/child/attachment on …`) get their ids masked too.
pub fn conceal_error_text(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        shown.push_str(&conceal_bare_paths(&rest[..at]));
        let len = rest[at..]
            .find(char::is_whitespace)
            .unwrap_or(rest.len() - at);
        // A URL ends before the punctuation our messages put after it.
        let url = rest[at..at + len].trim_end_matches([':', ',', ';', ')', '.']);
        shown.push_str(&conceal_url(url));
        rest = &rest[at + url.len()..];
    }
    shown.push_str(&conceal_bare_paths(rest));
    shown
}

fn conceal_url(url: &str) -> String {
    let (path, query) = match url.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (url, None),
    };
    // The origin (`scheme://host:port`) stays; ids live in the path.
    let path_at = path
        .find("://")
        .and_then(|scheme_end| path[scheme_end + 3..].find('/').map(|i| scheme_end + 3 + i))
        .unwrap_or(path.len());
    let mut shown = path[..path_at].to_owned();
    shown.push_str(&conceal_path(&path[path_at..]));
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        shown.push('?');
        shown.push_str(&concealed(query));
    }
    shown
}

/// Words of free text that are absolute paths (`/rest/…`), with their ids masked.
fn conceal_bare_paths(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    let mut word_start = true;
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if word_start && c == '/' {
            let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let path = rest[..len].trim_end_matches([':', ',', ';', ')', '.']);
            shown.push_str(&conceal_path(path));
            rest = &rest[path.len()..];
            word_start = false;
            continue;
        }
        word_start = c.is_whitespace() || c == '(' || c == '"' || c == '\'';
        shown.push(c);
        rest = &rest[c.len_utf8()..];
    }
    shown
}

/// A URL path with every id segment masked, and a download's file name.
fn conceal_path(path: &str) -> String {
    let segments: Vec<&str> = path.split('/').collect();
    let is_download = path.contains("/download/");
    segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let after_gateway =
                i >= 2 && segments[i - 2] == "ex" && segments[i - 1] == "confluence";
            let file_name = is_download && i == segments.len() - 1;
            if !segment.is_empty() && (is_id_segment(segment) || after_gateway || file_name) {
                concealed(segment)
            } else {
                (*segment).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Path segments that are ids: Confluence content and space ids (digits), attachment ids
/// (`att<digits>`), and UUIDs (Cloud ids, Unique ids). Endpoint words (`content`, `v2`, `1.0`)
/// are not.
fn is_id_segment(segment: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let uuid = segment.len() == 36
        && segment.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    digits(segment) || segment.strip_prefix("att").is_some_and(digits) || uuid
}

/// Collects an event's fields as JSON values.
struct FieldVisitor<'a>(&'a mut serde_json::Map<String, serde_json::Value>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_i64(&mut self, field: &tracing::field::Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &tracing::field::Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), format!("{value:?}").into());
    }
}

/// One line per event, JSON or text, with the `tenant` of the enclosing spans lifted to the
/// top and user data masked under `conceal`.
struct LineFormat {
    json: bool,
    conceal: bool,
}

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for LineFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        use serde_json::{Map, Value};
        let mut fields = Map::new();
        event.record(&mut FieldVisitor(&mut fields));
        let mut spans: Vec<(&'static str, Map<String, Value>)> = Vec::new();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let recorded = extensions
                    .get::<tracing_subscriber::fmt::FormattedFields<N>>()
                    .and_then(|f| serde_json::from_str::<Map<String, Value>>(&f.fields).ok())
                    .unwrap_or_default();
                spans.push((span.name(), recorded));
            }
        }
        let tenant = spans
            .iter()
            .rev()
            .find_map(|(_, f)| f.get("tenant").cloned())
            .or_else(|| fields.get("tenant").cloned());
        if self.conceal {
            let mut masked = mask(&mut fields);
            for (_, f) in &mut spans {
                masked.extend(mask(f));
            }
            // Longest first, so a value containing another is masked whole.
            masked.sort_by_key(|m| std::cmp::Reverse(m.0.len()));
            conceal_free_text(&mut fields, &masked);
            for (_, f) in &mut spans {
                conceal_free_text(f, &masked);
            }
        }
        let level = event.metadata().level().as_str();
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let message = fields.remove("message").unwrap_or(Value::Null);
        if self.json {
            let mut line = Map::new();
            line.insert("timestamp".into(), now.into());
            line.insert("level".into(), level.into());
            line.insert("message".into(), message);
            if let Some(tenant) = tenant {
                line.insert("tenant".into(), tenant);
            }
            for (k, v) in fields {
                line.entry(k).or_insert(v);
            }
            if let Some((name, span_fields)) = spans.pop() {
                let mut span = span_fields;
                span.insert("name".into(), name.into());
                line.insert("span".into(), Value::Object(span));
            }
            let text = serde_json::to_string(&Value::Object(line)).map_err(|_| fmt::Error)?;
            writeln!(writer, "{text}")
        } else {
            write!(writer, "{now} {level:>5} ")?;
            if let Some(tenant) = tenant {
                let tenant = tenant
                    .as_str()
                    .map_or_else(|| tenant.to_string(), str::to_owned);
                write!(writer, "[{tenant}] ")?;
            }
            match message {
                Value::String(m) => write!(writer, "{m}")?,
                Value::Null => {}
                other => write!(writer, "{other}")?,
            }
            for (k, v) in fields {
                match v {
                    Value::String(s) => write!(writer, " {k}={s:?}")?,
                    other => write!(writer, " {k}={other}")?,
                }
            }
            writeln!(writer)
        }
    }
}

fn filter(level: LogLevel) -> EnvFilter {
    let level = level.as_filter_directive();
    let mut directives = vec![level.to_owned()];
    if level != "off" {
        let capped = match level {
            "debug" | "trace" => "info",
            other => other,
        };
        directives.extend(NOISY_TARGETS.iter().map(|t| format!("{t}={capped}")));
    }
    EnvFilter::new(directives.join(","))
}

/// The span all of one tenant's work runs in.
pub(crate) fn tenant_span(tenant: &str) -> tracing::Span {
    tracing::info_span!("tenant", tenant = %tenant)
}

impl From<DiagnosticsDataPolicy> for Disclosure {
    fn from(policy: DiagnosticsDataPolicy) -> Self {
        match policy {
            DiagnosticsDataPolicy::Conceal => Disclosure::Conceal,
            DiagnosticsDataPolicy::Disclose => Disclosure::Disclose,
        }
    }
}

/// A title, e-mail address or id for a log line: shown as is under `disclose`, and under
/// `conceal` as [`Concealed`] shows it (`[redacted:<hash>]`), where the short stable hash still
/// lets an operator see that two lines are about the same item without learning what it is.
#[derive(Clone, Copy)]
pub struct Diag<'a> {
    value: &'a str,
    policy: DiagnosticsDataPolicy,
}

impl<'a> Diag<'a> {
    pub fn with_policy(value: &'a str, policy: DiagnosticsDataPolicy) -> Self {
        Self { value, policy }
    }
}

impl fmt::Display for Diag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.policy {
            DiagnosticsDataPolicy::Disclose => f.write_str(self.value),
            DiagnosticsDataPolicy::Conceal => Concealed(self.value).fmt(f),
        }
    }
}

impl fmt::Debug for Diag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// Sets logging up as the config says.
pub(crate) fn init_from_config(daemon: &crate::config::DaemonConfig) {
    init(
        daemon.log.level,
        daemon.log.format,
        daemon.log.diagnostics_data_policy,
    );
}

/// `check` prints its own findings; logs only for warnings and worse.
pub(crate) fn init_quiet(daemon: &crate::config::DaemonConfig) {
    let level = match daemon.log.level {
        crate::config::LogLevel::Debug | crate::config::LogLevel::Trace => daemon.log.level,
        _ => crate::config::LogLevel::Warn,
    };
    init(level, daemon.log.format, daemon.log.diagnostics_data_policy);
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn conceal_masks_and_disclose_shows() {
        let concealed = Diag::with_policy("jane@example.com", DiagnosticsDataPolicy::Conceal);
        let shown = concealed.to_string();
        assert!(!shown.contains("jane"), "{shown}");
        assert!(shown.starts_with("[redacted:"));
        let disclosed = Diag::with_policy("jane@example.com", DiagnosticsDataPolicy::Disclose);
        assert_eq!(disclosed.to_string(), "jane@example.com");
    }

    #[test]
    fn conceal_is_stable_so_lines_can_be_correlated() {
        let a = Diag::with_policy("Page title", DiagnosticsDataPolicy::Conceal).to_string();
        let b = Diag::with_policy("Page title", DiagnosticsDataPolicy::Conceal).to_string();
        let c = Diag::with_policy("Other title", DiagnosticsDataPolicy::Conceal).to_string();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// Everything logged while `f` runs, as written by the real subscriber.
    pub(crate) fn capture(json: bool, policy: DiagnosticsDataPolicy, f: impl FnOnce()) -> String {
        use std::sync::{Arc, Mutex};
        #[derive(Clone, Default)]
        struct Buf(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Buf::default();
        let writer = buf.clone();
        let sub = subscriber(LogLevel::Debug, json, policy, move || writer.clone());
        tracing::subscriber::with_default(sub, f);
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn log_a_page() {
        let span = tenant_span("acme");
        let _entered = span.enter();
        let inner = tracing::info_span!("run_cycle", mode = "Normal");
        let _inner = inner.enter();
        tracing::warn!(
            page_id = "2006",
            title = "Salaries 2026",
            run_id = 7,
            "Page not found"
        );
    }

    #[test]
    fn conceal_masks_titles_and_ids_in_json_lines_and_every_line_has_the_tenant() {
        let out = capture(true, DiagnosticsDataPolicy::Conceal, log_a_page);
        let line: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(line["tenant"], "acme");
        assert_eq!(line["message"], "Page not found");
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["run_id"], 7);
        assert_eq!(line["span"]["name"], "run_cycle");
        assert!(!out.contains("Salaries") && !out.contains("2006"), "{out}");
        assert!(line["title"].as_str().unwrap().starts_with("[redacted:"));
    }

    #[test]
    fn conceal_masks_titles_and_ids_repeated_inside_the_message_and_errors() {
        let log = || {
            let span = tenant_span("acme");
            let _entered = span.enter();
            tracing::error!(
                page_id = "2006",
                title = "Salaries 2026",
                err = "upload of Salaries 2026 (page 2006) failed",
                "Failed to ingest Salaries 2026, skipping"
            );
        };
        for json in [true, false] {
            let out = capture(json, DiagnosticsDataPolicy::Conceal, log);
            assert!(!out.contains("Salaries") && !out.contains("2006"), "{out}");
            assert!(out.contains("Failed to ingest [redacted:"), "{out}");
        }
        let out = capture(false, DiagnosticsDataPolicy::Disclose, log);
        assert!(out.contains("Failed to ingest Salaries 2026"), "{out}");
    }

    #[test]
    fn disclose_shows_them_and_text_lines_carry_the_tenant() {
        let out = capture(false, DiagnosticsDataPolicy::Disclose, log_a_page);
        assert!(out.contains(" WARN [acme] Page not found"), "{out}");
        assert!(out.contains("title=\"Salaries 2026\""), "{out}");
        assert!(out.contains("page_id=\"2006\""), "{out}");
    }

    const PLANTED: &str = "Zebra Quartz planted title";

    /// The errors a failed upload of a page titled [`PLANTED`] can carry, when Unique quotes the
    /// title back in a GraphQL error, a response body, or a blob store's answer, and when a
    /// Confluence URL carries it (a CQL title lookup, an attachment download), as the clients
    /// build them when handed `disclosure`.
    fn errors_quoting_the_title(disclosure: Disclosure) -> Vec<String> {
        use http_transport::{RemoteText, TransportError};
        use unique_client::{IngestStage, UniqueError};
        let remote = |text: String| RemoteText::new(text, disclosure);
        let status = TransportError::Status {
            url: "https://unique.example/ingestion/graphql".into(),
            status: http::StatusCode::UNPROCESSABLE_ENTITY,
            body: remote(format!(
                r#"{{"message":"title '{PLANTED}' is not allowed"}}"#
            )),
        };
        let graphql = UniqueError::GraphQl {
            operation: "ContentUpsert",
            messages: vec![remote(format!(
                "Content with title \"{PLANTED}\" already exists"
            ))],
        };
        let blob_store = TransportError::Status {
            url: "https://blob.example/c/2006".into(),
            status: http::StatusCode::BAD_REQUEST,
            body: remote(format!("<Error>{PLANTED}</Error>")),
        };
        let upload = UniqueError::Ingest {
            key: "acme/98304_SP/2006".into(),
            content_id: "cont_1".into(),
            stage: IngestStage::Upload,
            source: Box::new(UniqueError::Upload {
                key: "acme/98304_SP/2006".into(),
                url: "https://blob.example/c/2006".into(),
                status: Some(400),
                message: blob_store.to_string(),
            }),
            cleanup_error: None,
        };
        let encoded = PLANTED.replace(' ', "%20");
        vec![
            UniqueError::Transport {
                operation: "ContentUpsert",
                source: status,
            }
            .to_string(),
            graphql.to_string(),
            upload.to_string(),
            format!(
                "downloading: Error response from https://wiki.example/download/attachments/2006/{encoded}.pdf?version=1: 404 Not Found"
            ),
            format!(
                "Error response from https://wiki.example/rest/api/content/search?cql=title%3D%22{encoded}%22: 500 Internal Server Error"
            ),
        ]
    }

    #[test]
    fn conceal_masks_what_an_upstream_service_quoted_but_keeps_our_wording() {
        for (error, disclosed) in errors_quoting_the_title(Disclosure::Conceal)
            .into_iter()
            .zip(errors_quoting_the_title(Disclosure::Disclose))
        {
            assert!(
                disclosed.contains(PLANTED) || disclosed.contains("Zebra%20Quartz"),
                "{disclosed}"
            );
            let shown = conceal_error_text(&error);
            assert!(!shown.contains("Zebra"), "{error}\n=> {shown}");
            assert!(shown.contains("[redacted:"), "{shown}");
        }
        let shown = conceal_error_text(&errors_quoting_the_title(Disclosure::Conceal)[0]);
        assert!(
            shown.starts_with(
                "Unique ContentUpsert failed: Error response from \
                 https://unique.example/ingestion/graphql: 422 Unprocessable Entity [redacted:"
            ),
            "{shown}"
        );
        let shown = conceal_error_text(&errors_quoting_the_title(Disclosure::Conceal)[2]);
        assert!(
            shown.starts_with("ingesting acme/98304_SP/2006 failed at upload: upload of"),
            "{shown}"
        );
        let ours = "the All deletion guard aborted the cycle for acme/98304_SP: 3 of 3";
        assert_eq!(conceal_error_text(ours), ours);
    }

    #[test]
    fn conceal_masks_a_title_quoted_only_inside_an_error_in_the_logs() {
        // An attachment's failure line names no title field, only its id and the error.
        // The clients were handed the same policy as the logs.
        let log = |policy: DiagnosticsDataPolicy| {
            let errors = errors_quoting_the_title(policy.into());
            move || {
                let span = tenant_span("acme");
                let _entered = span.enter();
                for error in &errors {
                    tracing::error!(err = %error, "Failed to ingest attachment, skipping");
                    tracing::warn!(error = %error, "Run finished");
                }
            }
        };
        for json in [true, false] {
            let conceal = DiagnosticsDataPolicy::Conceal;
            let out = capture(json, conceal, log(conceal));
            assert!(!out.contains("Zebra"), "{out}");
            assert!(
                out.contains("Failed to ingest attachment, skipping"),
                "{out}"
            );
        }
        let disclose = DiagnosticsDataPolicy::Disclose;
        let out = capture(true, disclose, log(disclose));
        assert!(out.contains(PLANTED), "{out}");
    }

    #[test]
    fn conceal_masks_ids_in_url_paths_as_it_masks_id_fields() {
        let id = |v: &str| concealed(v);
        let cases = [
            (
                "http://127.0.0.1:1/rest/api/content/2004/child/attachment?limit=25",
                format!("http://127.0.0.1:1/rest/api/content/{}/child/attachment?{}", id("2004"), id("limit=25")),
            ),
            (
                "https://api.atlassian.com/ex/confluence/0f9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c/wiki/rest/api/content/2001/child/attachment/att3001/download",
                format!(
                    "https://api.atlassian.com/ex/confluence/{}/wiki/rest/api/content/{}/child/attachment/{}/download",
                    id("0f9e8d7c-6b5a-4f3e-9d2c-1b0a9f8e7d6c"),
                    id("2001"),
                    id("att3001")
                ),
            ),
            (
                "request to /wiki/api/v2/pages/2004/attachments on Confluence Cloud failed",
                format!("request to /wiki/api/v2/pages/{}/attachments on Confluence Cloud failed", id("2004")),
            ),
            (
                "GET https://wiki.example/download/attachments/2006/report.pdf: 404",
                format!("GET https://wiki.example/download/attachments/{}/{}: 404", id("2006"), id("report.pdf")),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(conceal_error_text(text), expected);
        }
        // Endpoint words, versions, keys and ports are not ids.
        for kept in [
            "http://127.0.0.1:8080/rest/applinks/1.0/manifest",
            "https://unique.example/v2/content/file-diff",
            "key acme/98304_SP/2006 failed at upload",
        ] {
            assert_eq!(conceal_error_text(kept), kept);
        }
    }

    #[test]
    fn http_stack_is_capped_below_debug() {
        let f = filter(LogLevel::Debug).to_string();
        assert!(f.contains("hyper=info"), "{f}");
        assert!(f.split(',').any(|d| d == "debug"), "{f}");
        assert_eq!(filter(LogLevel::Silent).to_string(), "off");
    }
}

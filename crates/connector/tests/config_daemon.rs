//! Daemon settings: defaults, the example file, layering with the environment, and the docs.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/config/support.rs"]
mod support;

use std::path::PathBuf;
use std::time::Duration;

use connector::config::{
    documented_fields, reference_env_vars, DaemonConfig, DiagnosticsDataPolicy, Env, LogFormat,
    LogLevel, ProxyAuth, ProxyConfig, ProxyProtocol, StateBackend,
};
use secrecy::ExposeSecret;
use support::*;

fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connector.yaml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

fn daemon(text: &str, env: &[(&str, &str)]) -> DaemonConfig {
    let (_dir, path) = config_file(text);
    DaemonConfig::load_without_tenants(Some(&path), &env.iter().copied().collect()).unwrap()
}

fn daemon_err(text: &str, env: &[(&str, &str)]) -> connector::config::ConfigErrors {
    let (_dir, path) = config_file(text);
    DaemonConfig::load_without_tenants(Some(&path), &env.iter().copied().collect()).unwrap_err()
}

#[test]
fn defaults_match_the_reference() {
    let d = DaemonConfig::load_without_tenants(None, &Env::empty()).unwrap();
    assert_eq!(d.listen.http.to_string(), "0.0.0.0:51349");
    assert_eq!(d.listen.metrics, None);
    assert_eq!(d.log.level, LogLevel::Info);
    assert_eq!(d.log.format, LogFormat::Auto);
    assert_eq!(
        d.log.diagnostics_data_policy,
        DiagnosticsDataPolicy::Conceal
    );
    assert_eq!(
        d.state.url.expose_secret(),
        "sqlite://./state/confluence-connector.db"
    );
    assert_eq!(d.state.backend, StateBackend::Sqlite);
    assert_eq!(d.health.sync_history_size.get(), 5);
    assert_eq!(d.health.sync_tenant_failure_threshold, 0.5);
    assert_eq!(d.health.connectivity_timeout, Duration::from_millis(3000));
    assert!(matches!(d.proxy, ProxyConfig::None));
    assert_eq!(d.extra_ca_bundle_path, None);
    assert_eq!(d.shutdown_grace_period, Duration::from_secs(30));
    assert_eq!(d.tenants.files, None);
    assert_eq!(format!("{d:?}"), format!("{:?}", DaemonConfig::default()));
}

#[test]
fn example_config_parses_and_equals_the_defaults() {
    let example = repo_root().join("config.example.yaml");
    let d = DaemonConfig::load_without_tenants(Some(&example), &Env::empty()).unwrap();
    assert_eq!(format!("{d:#?}"), format!("{:#?}", DaemonConfig::default()));
}

#[test]
fn example_config_inline_tenant_is_valid_once_uncommented() {
    let example = std::fs::read_to_string(repo_root().join("config.example.yaml")).unwrap();
    let mut text = String::from("tenants:\n");
    let mut inside = false;
    for line in example.lines() {
        if line.starts_with("  # inline:") {
            inside = true;
        }
        if inside {
            text.push_str(&line.replacen("  # ", "  ", 1));
            text.push('\n');
        }
    }
    let (_dir, path) = config_file(&text);
    let env: Env = [("CONFLUENCE_CLIENT_SECRET", "s")].into();
    let loaded = DaemonConfig::load(Some(&path), &env).unwrap();
    assert_eq!(loaded.tenants[0].name, "acme");
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

#[test]
fn file_values_are_read() {
    let ca = tempfile::NamedTempFile::new().unwrap();
    let d = daemon(
        &format!(
            "listen: {{host: 127.0.0.1, port: 8080, metrics_port: 9090}}\n\
             log: {{level: debug, format: json, diagnostics_data_policy: disclose}}\n\
             state: {{url: 'postgres://cc:db-password-x@db/cc'}}\n\
             health: {{sync_history_size: 10, sync_tenant_failure_threshold: 0.25, connectivity_timeout_ms: 500}}\n\
             extra_ca_bundle_path: {}\n\
             shutdown_grace_period_secs: 5\n\
             tenants: {{files: ./t/*-tenant-config.yaml}}\n",
            ca.path().display()
        ),
        &[],
    );
    assert_eq!(d.listen.http.to_string(), "127.0.0.1:8080");
    assert_eq!(d.listen.metrics.unwrap().to_string(), "127.0.0.1:9090");
    assert_eq!(d.log.level, LogLevel::Debug);
    assert!(d.log.format.is_json(true));
    assert_eq!(
        d.log.diagnostics_data_policy,
        DiagnosticsDataPolicy::Disclose
    );
    assert_eq!(d.state.backend, StateBackend::Postgres);
    assert!(!format!("{d:?}").contains("db-password-x"));
    assert_eq!(d.health.sync_history_size.get(), 10);
    assert_eq!(d.health.sync_tenant_failure_threshold, 0.25);
    assert_eq!(d.health.connectivity_timeout, Duration::from_millis(500));
    assert_eq!(d.extra_ca_bundle_path.as_deref(), Some(ca.path()));
    assert_eq!(d.shutdown_grace_period, Duration::from_secs(5));
    assert_eq!(d.tenants.files.as_deref(), Some("./t/*-tenant-config.yaml"));
}

#[test]
fn precedence_is_defaults_then_file_then_reference_env_then_prefixed_env() {
    let file = "listen: {port: 1000}\nlog: {level: warn}\n";
    assert_eq!(daemon(file, &[]).listen.http.port(), 1000);
    assert_eq!(daemon(file, &[("PORT", "2000")]).listen.http.port(), 2000);
    let d = daemon(
        file,
        &[
            ("PORT", "2000"),
            ("CONFLUENCE_CONNECTOR__LISTEN__PORT", "3000"),
        ],
    );
    assert_eq!(d.listen.http.port(), 3000);
    assert_eq!(
        d.log.level,
        LogLevel::Warn,
        "settings not overridden keep the file value"
    );
    assert_eq!(daemon("", &[]).listen.http.port(), 51349);
}

#[test]
fn prefixed_env_overrides_nested_settings() {
    let d = daemon(
        "",
        &[
            ("CONFLUENCE_CONNECTOR__STATE__URL", "postgres://u:p@db/x"),
            ("CONFLUENCE_CONNECTOR__HEALTH__SYNC_HISTORY_SIZE", "7"),
            ("CONFLUENCE_CONNECTOR__LOG__FORMAT", "text"),
            ("CONFLUENCE_CONNECTOR__SHUTDOWN_GRACE_PERIOD_SECS", "12"),
        ],
    );
    assert_eq!(d.state.backend, StateBackend::Postgres);
    assert_eq!(d.health.sync_history_size.get(), 7);
    assert_eq!(d.log.format, LogFormat::Text);
    assert_eq!(d.shutdown_grace_period, Duration::from_secs(12));
}

#[test]
fn reference_env_vars_keep_working() {
    let d = daemon(
        "",
        &[
            ("PORT", "4000"),
            ("LOG_LEVEL", "trace"),
            ("LOGS_DIAGNOSTICS_DATA_POLICY", "disclose"),
            ("TENANT_CONFIG_PATH_PATTERN", "/etc/cc/*-tenant-config.yaml"),
            ("HEALTH_SYNC_HISTORY_SIZE", "9"),
            ("HEALTH_SYNC_TENANT_FAILURE_THRESHOLD", "0.75"),
            ("HEALTH_CONNECTIVITY_TIMEOUT_MS", "1500"),
            ("OTEL_EXPORTER_PROMETHEUS_PORT", "51350"),
            ("PROXY_AUTH_MODE", "username_password"),
            ("PROXY_HOST", "proxy.internal"),
            ("PROXY_PORT", "8080"),
            ("PROXY_PROTOCOL", "https"),
            ("PROXY_HEADERS", r#"{"X-Proxy-Tenant":"acme"}"#),
            ("PROXY_USERNAME", "proxy-user"),
            ("PROXY_PASSWORD", "proxy-password-planted"),
        ],
    );
    assert_eq!(d.listen.http.port(), 4000);
    assert_eq!(d.listen.metrics.unwrap().port(), 51350);
    assert_eq!(d.log.level, LogLevel::Trace);
    assert_eq!(
        d.log.diagnostics_data_policy,
        DiagnosticsDataPolicy::Disclose
    );
    assert_eq!(
        d.tenants.files.as_deref(),
        Some("/etc/cc/*-tenant-config.yaml")
    );
    assert_eq!(d.health.sync_history_size.get(), 9);
    assert_eq!(d.health.sync_tenant_failure_threshold, 0.75);
    assert_eq!(d.health.connectivity_timeout, Duration::from_millis(1500));
    let ProxyConfig::Proxy { endpoint, auth } = &d.proxy else {
        panic!("no proxy: {:?}", d.proxy)
    };
    assert_eq!(endpoint.uri(), "https://proxy.internal:8080");
    assert_eq!(endpoint.protocol, ProxyProtocol::Https);
    assert_eq!(endpoint.headers["X-Proxy-Tenant"].expose_secret(), "acme");
    let ProxyAuth::UsernamePassword { username, password } = auth else {
        panic!("wrong auth")
    };
    assert_eq!(username.expose_secret(), "proxy-user");
    assert_eq!(password.expose_secret(), "proxy-password-planted");
    assert!(!format!("{d:?}").contains("proxy-password-planted"));
}

#[test]
fn proxy_modes_are_validated() {
    let e = daemon_err("proxy: {host: proxy.internal, port: 8080}", &[]);
    assert_error(
        &e,
        "proxy.mode",
        "is missing although other proxy settings are set",
    );
    let e = daemon_err(
        "proxy: {mode: username_password, host: p, port: 8080, username: u}",
        &[],
    );
    assert_error(&e, "proxy.password", "is missing");
    let e = daemon_err("proxy: {mode: ssl_tls, host: p, port: 8080, cert_path: /nonexistent/c.pem, key_path: /nonexistent/k.pem}", &[]);
    assert_error(&e, "proxy.cert_path", "is not an existing file");
    assert_error(&e, "proxy.key_path", "is not an existing file");
    let e = daemon_err("proxy: {mode: no_auth, host: p, port: 70000}", &[]);
    assert_error(&e, "proxy.port", "out of range");
    let e = daemon_err("proxy: {mode: carrier_pigeon}", &[]);
    assert_error(
        &e,
        "proxy.mode",
        "expected one of: none, no_auth, username_password, ssl_tls",
    );
    let d = daemon("proxy: {mode: no_auth, host: p, port: 3128}", &[]);
    assert!(matches!(
        d.proxy,
        ProxyConfig::Proxy {
            auth: ProxyAuth::NoAuth,
            ..
        }
    ));
}

#[test]
fn errors_from_env_values_name_the_variable() {
    let e = daemon_err("", &[("PORT", "eighty")]);
    assert_eq!(e.errors()[0].file, "environment variable PORT");
    assert_eq!(e.errors()[0].field, "listen.port");
    let e = daemon_err("", &[("CONFLUENCE_CONNECTOR__LOG__LEVEL", "loud")]);
    assert_eq!(
        e.errors()[0].file,
        "environment variable CONFLUENCE_CONNECTOR__LOG__LEVEL"
    );
    assert!(e.to_string().contains(
        "'loud' is not allowed; expected one of: fatal, error, warn, info, debug, trace, silent"
    ));
}

#[test]
fn several_daemon_errors_are_reported_together() {
    let e = daemon_err(
        "listen: {port: -1, host: everywhere}\nlog: {format: xml}\nstate: {url: 'mysql://x'}\nhealth: {sync_tenant_failure_threshold: 2}\n",
        &[],
    );
    for field in [
        "listen.port",
        "listen.host",
        "log.format",
        "state.url",
        "health.sync_tenant_failure_threshold",
    ] {
        assert!(
            e.errors().iter().any(|x| x.field == field),
            "no error on {field}: {e}"
        );
    }
    assert_eq!(e.to_string().lines().count(), 5, "{e}");
}

#[test]
fn unknown_daemon_keys_warn_naming_the_source() {
    let dir = TenantDir::new();
    dir.write("acme-tenant-config.yaml", &cloud_doc());
    let (_tmp, path) = config_file(&format!(
        "listen: {{prot: 1}}\ntenants: {{files: '{}'}}\n",
        dir.pattern()
    ));
    let env: Env = [("CONFLUENCE_CONNECTOR__LOG__LEVLE", "debug")].into();
    let loaded = DaemonConfig::load(Some(&path), &env).unwrap();
    let fields: Vec<(&str, &str)> = loaded
        .warnings
        .iter()
        .map(|w| (w.field.as_str(), w.file.as_str()))
        .collect();
    assert!(
        fields.contains(&("listen.prot", path.to_str().unwrap())),
        "{fields:?}"
    );
    assert!(
        fields.contains(&(
            "log.levle",
            "environment variable CONFLUENCE_CONNECTOR__LOG__LEVLE"
        )),
        "{fields:?}"
    );
}

#[test]
fn tenant_names_must_be_unique_between_files_and_inline() {
    let dir = TenantDir::new();
    dir.write("acme-tenant-config.yaml", &cloud_doc());
    let inline = serde_yaml_ng::to_string(&serde_json::json!({
        "tenants": {"files": dir.pattern(), "inline": {"acme": with(cloud_doc(), "confluence.cloudId", serde_json::json!("other"))}}
    }))
    .unwrap();
    let (_tmp, path) = config_file(&inline);
    let e = DaemonConfig::load(Some(&path), &Env::empty()).unwrap_err();
    assert_error(&e, "tenants.inline.acme", "Duplicate tenant name 'acme'");
}

#[test]
fn inline_tenants_cannot_come_from_the_environment() {
    let e = DaemonConfig::load(
        None,
        &[(
            "CONFLUENCE_CONNECTOR__TENANTS__INLINE__ACME__STATUS",
            "active",
        )]
        .into(),
    )
    .unwrap_err();
    assert_error(
        &e,
        "tenants.inline",
        "cannot be set through environment variables",
    );
}

#[test]
fn missing_config_file_is_an_error_naming_it() {
    let e = DaemonConfig::load_without_tenants(
        Some(std::path::Path::new("/nonexistent/cc.yaml")),
        &Env::empty(),
    )
    .unwrap_err();
    assert_eq!(e.errors()[0].file, "/nonexistent/cc.yaml");
    assert!(e.to_string().contains("cannot be read"));
}

#[test]
fn env_debug_shows_names_not_values() {
    let env: Env = [("SECRET_VAR", "planted-env-value")].into();
    let text = format!("{env:?}");
    assert!(text.contains("SECRET_VAR"));
    assert!(!text.contains("planted-env-value"));
}

#[test]
fn operator_guide_mentions_every_field() {
    let guide =
        std::fs::read_to_string(repo_root().join("docs/operator/configuration.md")).unwrap();
    let missing: Vec<String> = documented_fields()
        .into_iter()
        .filter(|f| !guide.contains(&format!("`{f}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/operator/configuration.md lacks: {missing:?}"
    );
    for (var, _) in reference_env_vars() {
        assert!(guide.contains(&format!("`{var}`")), "guide lacks {var}");
    }
    assert!(guide.contains("CONFLUENCE_CONNECTOR__"));
}

#[test]
fn documented_fields_cover_both_schemas() {
    let fields = documented_fields();
    for f in [
        "listen.port",
        "proxy.password",
        "tenants.inline",
        "confluence.auth.clientSecret",
        "processing.bodyBatchSize",
        "unique.allowPlainHttp",
        "status",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} not listed");
    }
}

#[test]
fn empty_sections_in_the_file_are_filled_from_the_environment() {
    let d = daemon(
        "listen:\nproxy:\nhealth: {}\n",
        &[
            ("PROXY_AUTH_MODE", "no_auth"),
            ("PROXY_HOST", "proxy.internal"),
            ("PROXY_PORT", "3128"),
            ("HEALTH_SYNC_HISTORY_SIZE", "3"),
            ("PORT", ""),
        ],
    );
    assert!(
        matches!(&d.proxy, ProxyConfig::Proxy { endpoint, .. } if endpoint.uri() == "http://proxy.internal:3128")
    );
    assert_eq!(d.health.sync_history_size.get(), 3);
    assert_eq!(
        d.listen.http.port(),
        51349,
        "an empty variable counts as unset"
    );
}

#[test]
fn log_levels_map_to_tracing_directives() {
    assert_eq!(LogLevel::Fatal.as_filter_directive(), "error");
    assert_eq!(LogLevel::Silent.as_filter_directive(), "off");
    assert_eq!(LogLevel::Debug.as_filter_directive(), "debug");
}

#[test]
fn proxy_headers_from_the_file_keep_their_case() {
    let d = daemon(
        "proxy: {mode: no_auth, host: p, port: 3128, protocol: https, headers: {X-Proxy-Tenant: Acme}}",
        &[],
    );
    let ProxyConfig::Proxy { endpoint, .. } = &d.proxy else {
        panic!("no proxy")
    };
    assert_eq!(endpoint.headers["X-Proxy-Tenant"].expose_secret(), "Acme");
}

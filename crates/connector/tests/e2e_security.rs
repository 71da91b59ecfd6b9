//! Security properties of the built binary, end to end against the sandbox:
//! what Confluence is sent (GET only, plus the token POST with the reference's body and
//! `scope=READ` on Data Center), where `Authorization` goes on redirects, plain HTTP refused per
//! endpoint, TLS verification that no key turns off, and planted secrets absent from every
//! output: trace logs, failing runs, `/metrics`, `/readyz`, the ledger and panic output.
//!
//! `e2e_secrets.rs` covers a debug-level cycle (Cloud OAuth, DC basic, Zitadel) and the tenant
//! field in log lines; this file adds the rest.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sandbox::unique::UniqueAuthMode;
use sandbox::{SandboxConfig, SandboxHandle};
use support::*;

// ---------------------------------------------------------------------------------------------
// (a)–(c): methods, token requests, Authorization across origins
// ---------------------------------------------------------------------------------------------

/// One token request as it left the binary.
#[derive(Debug, Clone)]
struct TokenRequest {
    method: String,
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// A loopback relay in front of the sandbox's two token endpoints that records each request's
/// exact body (the sandbox logs methods and routes, not bodies) and forwards it unchanged.
async fn token_relay(sandbox: &SandboxHandle) -> (String, Arc<Mutex<Vec<TokenRequest>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let gateway = sandbox.urls.cloud_gateway.clone();
    let dc_base = sandbox.urls.dc_base.clone();
    let record = seen.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let (record, gateway, dc_base) = (record.clone(), gateway.clone(), dc_base.clone());
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            let path = parts.uri.path_and_query().unwrap().as_str().to_owned();
            let header = |name: http::HeaderName| {
                parts
                    .headers
                    .get(name)
                    .map(|v| v.to_str().unwrap().to_owned())
                    .unwrap_or_default()
            };
            record.lock().unwrap().push(TokenRequest {
                method: parts.method.to_string(),
                path: path.clone(),
                content_type: header(http::header::CONTENT_TYPE),
                body: body.to_vec(),
            });
            let origin = if path.starts_with("/rest/oauth2/") {
                dc_base
            } else {
                gateway
            };
            let mut forward = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .request(parts.method.clone(), format!("{origin}{path}"));
            for (name, value) in &parts.headers {
                if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
                    forward = forward.header(name, value);
                }
            }
            let answer = forward.body(body.to_vec()).send().await.unwrap();
            let status = answer.status();
            let content_type = answer.headers().get(http::header::CONTENT_TYPE).cloned();
            let bytes = answer.bytes().await.unwrap();
            let mut response = axum::response::Response::new(axum::body::Body::from(bytes));
            *response.status_mut() = status;
            if let Some(content_type) = content_type {
                response
                    .headers_mut()
                    .insert(http::header::CONTENT_TYPE, content_type);
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (origin, seen)
}

fn form(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

const CONFLUENCE_SERVICES: [&str; 4] = ["cloud", "cloud-site", "media", "dc"];

#[tokio::test(flavor = "multi_thread")]
async fn confluence_sees_only_get_and_the_token_post_and_no_authorization_crosses_origins() {
    // Given both flavours on OAuth, small search pages (so discovery and the batched body fetch
    // paginate), the built-in page with 30 attachments (more than the 25 inlined, so the
    // attachment listing paginates) and Cloud downloads that redirect to the media origin…
    let mut config = SandboxConfig::default();
    let limits = &mut config.confluence.limits;
    limits.cloud_search = 3;
    limits.cloud_search_with_body = 3;
    limits.dc_search = 3;
    limits.dc_search_with_expand = 3;
    limits.dc_search_with_body = 3;
    config.unique.auth_mode = UniqueAuthMode::External;
    let sandbox = spawn_sandbox_with(config).await;
    let (relay, token_requests) = token_relay(&sandbox).await;
    let dir = tempfile::tempdir().unwrap();
    let unique = external(&sandbox, "sandbox-zitadel-secret", "sandbox-project");
    let cloud_root = seed_root(&sandbox, "Cloud root");
    let dc_root = seed_root(&sandbox, "DC root");
    let cloud = cloud_tenant(
        &sandbox,
        "cloudy",
        &cloud_root,
        "sandbox-client-secret",
        &unique,
    )
    .replace(
        &format!("tokenUrl: {}/oauth/token", sandbox.urls.cloud_gateway),
        &format!("tokenUrl: {relay}/oauth/token"),
    );
    assert!(
        cloud.contains(&relay),
        "the Cloud token URL was not replaced"
    );
    let dc = dc_tenant(
        &sandbox,
        "dc",
        &dc_root,
        "{ mode: oauth_2lo, clientId: sandbox-client-id, clientSecret: sandbox-client-secret }",
        &unique,
    )
    .replace(
        "instanceType: data-center\n",
        &format!("instanceType: data-center\n        tokenUrl: {relay}/rest/oauth2/latest/token\n"),
    );
    let config = write_config(dir.path(), ANY_PORT, "info", &[cloud, dc]);

    // …when one full cycle runs…
    let out = run(Some(&config), &["sync", "--json"], &[]).await;
    assert!(
        out.status.success(),
        "the cycle must succeed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );

    // …then everything that reached a Confluence origin was a GET, except the token POSTs.
    let records = sandbox.requests.records();
    let confluence: Vec<_> = records
        .iter()
        .filter(|r| CONFLUENCE_SERVICES.contains(&r.service.as_str()))
        .collect();
    let is_token_route =
        |route: &str| route == "/oauth/token" || route == "/rest/oauth2/latest/token";
    for r in &confluence {
        assert!(
            r.method == "GET" || (r.method == "POST" && is_token_route(&r.route)),
            "Confluence was sent {} {} ({})",
            r.method,
            r.path_and_query,
            r.service
        );
    }
    let gets = confluence.iter().filter(|r| r.method == "GET").count();
    let posts: Vec<_> = confluence.iter().filter(|r| r.method == "POST").collect();
    let cloud_posts = posts.iter().filter(|r| r.service == "cloud").count();
    let dc_posts = posts.iter().filter(|r| r.service == "dc").count();
    assert!(cloud_posts >= 1 && dc_posts >= 1, "{posts:?}");

    // The run really covered pagination, attachments and redirects.
    let count = |service: &str, suffix: &str| {
        confluence
            .iter()
            .filter(|r| r.service == service && r.route.ends_with(suffix))
            .count()
    };
    let cloud_searches = count("cloud", "/rest/api/content/search");
    let dc_searches = count("dc", "/rest/api/content/search");
    assert!(
        cloud_searches >= 3,
        "Cloud search did not paginate: {cloud_searches}"
    );
    assert!(
        dc_searches >= 3,
        "DC search did not paginate: {dc_searches}"
    );
    assert!(
        count("cloud", "/attachments") >= 1,
        "no Cloud attachment listing"
    );
    assert!(
        count("dc", "/child/attachment") >= 1,
        "no DC attachment listing"
    );
    let redirects: Vec<_> = confluence
        .iter()
        .filter(|r| r.service == "cloud" && r.route.ends_with("/download"))
        .collect();
    assert!(
        redirects.len() >= 32,
        "expected every Cloud attachment download (32) to go through the gateway: {}",
        redirects.len()
    );
    for r in &redirects {
        assert_eq!(r.status, 302, "a Cloud download did not redirect: {r:?}");
        assert!(r.had_authorization, "the gateway download needs the token");
    }

    // (c) The media origin never saw an Authorization header (it would answer 401), and every
    // redirect was followed there.
    let media = sandbox.requests.records_for("media");
    assert!(media.len() >= redirects.len(), "{} media GETs", media.len());
    for r in &media {
        assert!(
            !r.had_authorization,
            "Authorization crossed to the media origin: {r:?}"
        );
        assert_eq!(r.status, 200, "{r:?}");
    }
    // The pre-signed upload URLs on Unique's blob origin get no bearer token either.
    let blob = sandbox.requests.records_for("unique-blob");
    assert!(!blob.is_empty());
    assert!(
        blob.iter().all(|r| !r.had_authorization),
        "Authorization sent to the blob origin"
    );

    // (b) Every token POST passed the relay, with the reference's body.
    let token_requests = token_requests.lock().unwrap().clone();
    assert_eq!(
        token_requests.len(),
        cloud_posts + dc_posts,
        "{token_requests:?}"
    );
    for t in &token_requests {
        assert_eq!(t.method, "POST");
        if t.path == "/oauth/token" {
            assert!(t.content_type.starts_with("application/json"), "{t:?}");
            let body: serde_json::Value = serde_json::from_slice(&t.body).unwrap();
            let keys: Vec<&str> = body
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                ["client_id", "client_secret", "grant_type"],
                "the reference sends no audience and no scope on Cloud"
            );
            assert_eq!(body["grant_type"], "client_credentials");
        } else {
            assert_eq!(t.path, "/rest/oauth2/latest/token");
            assert!(
                t.content_type
                    .starts_with("application/x-www-form-urlencoded"),
                "{t:?}"
            );
            let mut fields = form(&t.body);
            fields.sort();
            let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, ["client_id", "client_secret", "grant_type", "scope"]);
            let scope: Vec<&str> = fields
                .iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.as_str())
                .collect();
            assert_eq!(
                scope,
                ["READ"],
                "Data Center must ask for exactly scope=READ"
            );
            assert!(fields.contains(&("grant_type".into(), "client_credentials".into())));
        }
    }
    println!(
        "figure: {gets} GETs and {} token POSTs (cloud {cloud_posts}, dc {dc_posts}) reached Confluence; \
         searches cloud {cloud_searches} / dc {dc_searches}; {} Cloud download redirects, {} media GETs \
         without Authorization",
        posts.len(),
        redirects.len(),
        media.len()
    );
}

// ---------------------------------------------------------------------------------------------
// (d): plain HTTP
// ---------------------------------------------------------------------------------------------

/// A config whose only tenant is inactive: it is validated in full but never contacted, so the
/// endpoints can name hosts that do not exist.
fn inactive_config(dir: &Path, tenant_yaml: &str) -> std::path::PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "listen: {{host: 127.0.0.1, port: {port}}}
state: {{url: 'sqlite://{state}'}}
tenants:
  inline:
    t1:
      status: inactive
{tenant_yaml}",
            port = ANY_PORT,
            state = dir.join("state.db").display(),
        ),
    )
    .unwrap();
    path
}

const CLOUD_CONFLUENCE: &str = "      confluence:
        instanceType: cloud
        baseUrl: https://acme.atlassian.example.invalid
        cloudId: acme
        apiBaseUrl: https://api.atlassian.example.invalid
        tokenUrl: https://api.atlassian.example.invalid/oauth/token
        auth: { mode: oauth_2lo, clientId: c, clientSecret: s }
        apiRateLimitPerMinute: 100
        ingestSingleLabel: a
        ingestAllLabel: b
";

const DC_CONFLUENCE: &str = "      confluence:
        instanceType: data-center
        baseUrl: https://wiki.example.invalid
        tokenUrl: https://wiki.example.invalid/rest/oauth2/latest/token
        auth: { mode: oauth_2lo, clientId: c, clientSecret: s }
        apiRateLimitPerMinute: 100
        ingestSingleLabel: a
        ingestAllLabel: b
";

const EXTERNAL_UNIQUE: &str = "      unique:
        serviceAuthMode: external
        zitadelOauthTokenUrl: https://zitadel.example.invalid/oauth/v2/token
        zitadelProjectId: p
        zitadelClientId: c
        zitadelClientSecret: s
        ingestionServiceBaseUrl: https://unique.example.invalid/ingestion
        scopeManagementServiceBaseUrl: https://unique.example.invalid/scope-management
      ingestion:
        scopeId: root
";

const CLUSTER_LOCAL_UNIQUE: &str = "      unique:
        serviceAuthMode: cluster_local
        serviceExtraHeaders: { x-company-id: c, x-user-id: u }
        ingestionServiceBaseUrl: http://ingestion.unique.svc.example.invalid:8091
        scopeManagementServiceBaseUrl: http://scope.unique.svc.example.invalid:8094
      ingestion:
        scopeId: root
";

/// Turns the `https://` of `field` (in the given tenant section text) into `http://`.
fn downgrade(section: &str, field: &str) -> String {
    let needle = format!("{field}: https://");
    assert!(section.contains(&needle), "{field} not in section");
    section.replacen(&needle, &format!("{field}: http://"), 1)
}

fn with_switch(section: &str, header: &str) -> String {
    section.replacen(
        &format!("{header}:\n"),
        &format!("{header}:\n        allowPlainHttp: true\n"),
        1,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_http_is_refused_for_every_endpoint_unless_allowed_for_that_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    // (section text, its name, its field) for every endpoint an operator configures per tenant.
    let cases: Vec<(String, &str, &str, &str)> = vec![
        (
            CLOUD_CONFLUENCE.into(),
            EXTERNAL_UNIQUE,
            "confluence",
            "baseUrl",
        ),
        (
            CLOUD_CONFLUENCE.into(),
            EXTERNAL_UNIQUE,
            "confluence",
            "apiBaseUrl",
        ),
        (
            CLOUD_CONFLUENCE.into(),
            EXTERNAL_UNIQUE,
            "confluence",
            "tokenUrl",
        ),
        (
            DC_CONFLUENCE.into(),
            EXTERNAL_UNIQUE,
            "confluence",
            "baseUrl",
        ),
        (
            DC_CONFLUENCE.into(),
            EXTERNAL_UNIQUE,
            "confluence",
            "tokenUrl",
        ),
        (
            EXTERNAL_UNIQUE.into(),
            DC_CONFLUENCE,
            "unique",
            "zitadelOauthTokenUrl",
        ),
        (
            EXTERNAL_UNIQUE.into(),
            DC_CONFLUENCE,
            "unique",
            "ingestionServiceBaseUrl",
        ),
        (
            EXTERNAL_UNIQUE.into(),
            DC_CONFLUENCE,
            "unique",
            "scopeManagementServiceBaseUrl",
        ),
    ];
    let mut refused = 0;
    for (section, other, name, field) in &cases {
        let downgraded = downgrade(section, field);
        let tenant = |s: &str| {
            if *name == "confluence" {
                format!("{s}{other}")
            } else {
                format!("{other}{s}")
            }
        };
        // Refused, with the file, the field and the fix in one line.
        let config = inactive_config(dir.path(), &tenant(&downgraded));
        let out = run(Some(&config), &["check"], &[]).await;
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{name}.{field}:\n{stdout}");
        let expected = format!(
            "{file}: tenants.inline.t1.{name}.{field}: 'http://",
            file = config.display()
        );
        let line = stdout
            .lines()
            .find(|l| l.contains(&expected))
            .unwrap_or_else(|| panic!("no error naming {expected}:\n{stdout}"));
        assert!(
            line.contains("uses plain http")
                && line.contains(&format!(
                    "an https:// URL, or tenants.inline.t1.{name}.allowPlainHttp: true"
                )),
            "{line}"
        );
        assert!(stdout.contains("1 problem(s)"), "{stdout}");
        refused += 1;

        // Allowed with the switch of that endpoint's section: the config loads (the inactive
        // tenant leaves only the "no active tenant" complaint).
        let allowed = with_switch(&downgraded, &format!("      {name}"));
        let config = inactive_config(dir.path(), &tenant(&allowed));
        let out = run(Some(&config), &["check"], &[]).await;
        let stdout = text(&out.stdout);
        assert!(!stdout.contains("plain http"), "{name}.{field}:\n{stdout}");
        assert!(
            stdout.contains("No tenant configurations found"),
            "{stdout}"
        );

        // The other section's switch does not help.
        let other_header = if *name == "confluence" {
            "      unique"
        } else {
            "      confluence"
        };
        let other_switched = with_switch(other, other_header);
        let config = inactive_config(
            dir.path(),
            &if *name == "confluence" {
                format!("{downgraded}{other_switched}")
            } else {
                format!("{other_switched}{downgraded}")
            },
        );
        let out = run(Some(&config), &["check"], &[]).await;
        assert!(
            text(&out.stdout).contains("uses plain http"),
            "the other endpoint's switch allowed {name}.{field}"
        );
    }

    // cluster_local Unique services are in-cluster plain HTTP by nature: allowed by default for
    // that section only, refused once the operator says allowPlainHttp: false.
    let config = inactive_config(
        dir.path(),
        &format!("{DC_CONFLUENCE}{CLUSTER_LOCAL_UNIQUE}"),
    );
    let out = run(Some(&config), &["check"], &[]).await;
    assert!(
        !text(&out.stdout).contains("plain http"),
        "{}",
        text(&out.stdout)
    );
    let strict = CLUSTER_LOCAL_UNIQUE.replacen(
        "      unique:\n",
        "      unique:\n        allowPlainHttp: false\n",
        1,
    );
    let config = inactive_config(dir.path(), &format!("{DC_CONFLUENCE}{strict}"));
    let out = run(Some(&config), &["check"], &[]).await;
    let stdout = text(&out.stdout);
    for field in ["ingestionServiceBaseUrl", "scopeManagementServiceBaseUrl"] {
        assert!(
            stdout.contains(&format!("tenants.inline.t1.unique.{field}: 'http://")),
            "{stdout}"
        );
        refused += 1;
    }

    // A tenant file names itself and the field as written in the file.
    let tenants_dir = dir.path().join("tenants");
    std::fs::create_dir_all(&tenants_dir).unwrap();
    let tenant_file = tenants_dir.join("acme-tenant-config.yaml");
    let unindent = |s: &str| {
        s.lines()
            .map(|l| l.strip_prefix("      ").unwrap_or(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    std::fs::write(
        &tenant_file,
        format!(
            "{}\n{}\n",
            unindent(&downgrade(DC_CONFLUENCE, "baseUrl")),
            unindent(EXTERNAL_UNIQUE)
        ),
    )
    .unwrap();
    let config = dir.path().join("files.yaml");
    std::fs::write(
        &config,
        format!(
            "state: {{url: 'sqlite://{}'}}\ntenants:\n  files: {}/*-tenant-config.yaml\n",
            dir.path().join("state.db").display(),
            tenants_dir.display()
        ),
    )
    .unwrap();
    let out = run(Some(&config), &["check"], &[]).await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "{}: confluence.baseUrl: 'http://wiki.example.invalid' uses plain http; expected an https:// URL, or confluence.allowPlainHttp: true",
            tenant_file.display()
        )),
        "{stdout}"
    );
    refused += 1;

    // The proxy: over plain HTTP to a host that is not loopback, refused while it would carry
    // credentials (they would cross in clear); the tunnelled traffic itself is TLS, so a proxy
    // without credentials keeps working as in the reference.
    let tenant = format!("{DC_CONFLUENCE}{EXTERNAL_UNIQUE}");
    let proxied = |proxy: &str| {
        let config = inactive_config(dir.path(), &tenant);
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(&config, format!("proxy: {proxy}\n{text}")).unwrap();
        config
    };
    for proxy in [
        "{mode: username_password, host: proxy.example.invalid, port: 3128, username: u, password: p}",
        "{mode: no_auth, host: proxy.example.invalid, port: 3128, headers: {X-Proxy-Token: t}}",
        "{mode: username_password, host: 10.0.0.8, port: 3128, protocol: http, username: u, password: p}",
    ] {
        let config = proxied(proxy);
        let out = run(Some(&config), &["check"], &[]).await;
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(2), "{proxy}:\n{stdout}");
        let line = stdout
            .lines()
            .find(|l| l.contains(&format!("{}: proxy.protocol: is http", config.display())))
            .unwrap_or_else(|| panic!("{proxy}: no proxy.protocol error:\n{stdout}"));
        assert!(
            line.contains("in clear")
                && line.contains("protocol: https")
                && line.contains("proxy.allow_plain_http: true"),
            "{line}"
        );
        refused += 1;
    }
    // The same from the reference's environment variables.
    let config = inactive_config(dir.path(), &tenant);
    let out = run(
        Some(&config),
        &["check"],
        &[
            ("PROXY_AUTH_MODE", "username_password"),
            ("PROXY_HOST", "proxy.example.invalid"),
            ("PROXY_PORT", "3128"),
            ("PROXY_PROTOCOL", "http"),
            ("PROXY_USERNAME", "u"),
            ("PROXY_PASSWORD", "p"),
        ],
    )
    .await;
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("proxy.protocol: is http") && stdout.contains("PROXY_PROTOCOL"),
        "{stdout}"
    );
    refused += 1;
    // Allowed: explicitly, over https, on loopback, or without credentials.
    for proxy in [
        "{mode: username_password, host: proxy.example.invalid, port: 3128, username: u, password: p, allow_plain_http: true}",
        "{mode: username_password, host: proxy.example.invalid, port: 3128, protocol: https, username: u, password: p}",
        "{mode: username_password, host: 127.0.0.1, port: 3128, username: u, password: p}",
        "{mode: no_auth, host: proxy.example.invalid, port: 3128}",
    ] {
        let out = run(Some(&proxied(proxy)), &["check"], &[]).await;
        let stdout = text(&out.stdout);
        assert!(!stdout.contains("proxy.protocol"), "{proxy}:\n{stdout}");
        assert!(
            stdout.contains("No tenant configurations found"),
            "{proxy}:\n{stdout}"
        );
    }
    println!(
        "figure: {refused} plain-http endpoint configurations refused with file, field and fix"
    );
}

// ---------------------------------------------------------------------------------------------
// (e): TLS verification
// ---------------------------------------------------------------------------------------------

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../http-transport/tests/fixtures"
);

/// `openssl s_server` with a certificate from a private test CA (not in any system store),
/// serving files from `root` over HTTPS on the loopback port it picked and reported
/// (`ACCEPT 127.0.0.1:<port>` on stdout). Killed on drop.
struct TlsServer {
    child: Child,
    port: u16,
}

impl TlsServer {
    fn start(root: &Path) -> Self {
        use std::io::BufRead as _;
        let mut child = std::process::Command::new("openssl")
            .args(["s_server", "-WWW", "-accept", "127.0.0.1:0"])
            .arg("-cert")
            .arg(format!("{FIXTURES}/server.pem"))
            .arg("-key")
            .arg(format!("{FIXTURES}/server.key"))
            .current_dir(root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl (the Debian package, part of the machine image) runs the TLS server");
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut seen = String::new();
        let port = loop {
            let mut line = String::new();
            if stdout.read_line(&mut line).unwrap() == 0 {
                panic!("openssl s_server exited without accepting:\n{seen}");
            }
            if let Some(addr) = line.trim().strip_prefix("ACCEPT ") {
                break addr.parse::<std::net::SocketAddr>().unwrap().port();
            }
            seen.push_str(&line);
        };
        // It keeps writing to stdout per connection; a full pipe would stall it.
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        Self { child, port }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_verification_cannot_be_turned_off_and_the_extra_ca_is_the_way_in() {
    // No setting of either schema (daemon or tenant) is about skipping verification: the list
    // is built from the key lists the loader recognises.
    let fields = connector::config::documented_fields();
    assert!(fields.len() > 50, "{fields:?}");
    for field in &fields {
        let lower = field.to_lowercase();
        for word in [
            "insecure",
            "verify",
            "reject",
            "danger",
            "skip",
            "accept_invalid",
        ] {
            assert!(!lower.contains(word), "a TLS escape hatch? {field}");
        }
    }
    let sandbox = spawn_sandbox().await;
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    std::fs::create_dir_all(www.join("rest/applinks/1.0")).unwrap();
    std::fs::write(
        www.join("rest/applinks/1.0/manifest"),
        r#"{"id":"tls-test-instance"}"#,
    )
    .unwrap();
    let server = TlsServer::start(&www);
    let root = seed_root(&sandbox, "TLS root");
    let base = format!("https://localhost:{}", server.port);
    // Every spelling of "skip verification" an operator might try, in the tenant's Confluence
    // section and at the top level of the daemon config.
    let tenant = dc_tenant(
        &sandbox,
        "tls",
        &root,
        "{ mode: pat, token: sandbox-pat }",
        &cluster_local(&sandbox),
    )
    .replace(&sandbox.urls.dc_base, &base)
    .replace(
        "instanceType: data-center\n",
        "instanceType: data-center
        insecureSkipVerify: true
        rejectUnauthorized: false
        danger_accept_invalid_certs: true
        tls: { verify: false, insecure: true }
",
    );
    let config = write_config(dir.path(), ANY_PORT, "info", &[tenant]);
    let text_of = |config: &Path| std::fs::read_to_string(config).unwrap();
    let insecure_keys = "insecureSkipVerify: true
rejectUnauthorized: false
danger_accept_invalid_certs: true
tls_insecure_skip_verify: true
";
    std::fs::write(&config, format!("{insecure_keys}{}", text_of(&config))).unwrap();
    // The reference is a Node service: its escape hatch must do nothing here either.
    let env = [("NODE_TLS_REJECT_UNAUTHORIZED", "0")];

    let out = run(Some(&config), &["check"], &env).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // Each key is reported as unknown and ignored…
    for key in [
        "insecureSkipVerify",
        "rejectUnauthorized",
        "danger_accept_invalid_certs",
        "tls_insecure_skip_verify",
        "confluence.insecureSkipVerify",
        "confluence.rejectUnauthorized",
        "confluence.danger_accept_invalid_certs",
        "confluence.tls",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.contains("warning:") && l.contains(&format!("{key}: unknown key"))),
            "{key} not reported as unknown:\n{stdout}"
        );
    }
    // …and the connection fails on the certificate.
    let probe = stdout
        .lines()
        .find(|l| l.starts_with("✗ tls: CQL search failed") || l.starts_with("✗ tls: Confluence"))
        .unwrap_or_else(|| panic!("no failed Confluence probe:\n{stdout}"));
    let lower = stdout.to_lowercase();
    assert!(
        lower.contains("certificate") || lower.contains("unknownissuer"),
        "the failure is not about the certificate: {probe}\n{stdout}"
    );

    // With the test CA as the extra CA bundle the same server is trusted: the handshake works
    // and the request reaches it (the file server's answer is not JSON, so the probe still
    // fails, but no longer on TLS), and the manifest is read over TLS.
    std::fs::write(
        &config,
        format!(
            "extra_ca_bundle_path: {FIXTURES}/ca.pem\n{}",
            text_of(&config)
        ),
    )
    .unwrap();
    let out = run(Some(&config), &["check"], &env).await;
    let trusted = text(&out.stdout);
    let probe = trusted
        .lines()
        .find(|l| {
            l.starts_with("✗ tls: CQL search failed") || l.starts_with("✓ tls: Confluence token")
        })
        .unwrap_or_else(|| panic!("no Confluence probe line:\n{trusted}"));
    assert!(
        !probe.to_lowercase().contains("certificate"),
        "still a certificate failure with the CA given: {probe}"
    );
    assert!(
        !trusted.contains("cannot tell which Confluence instance"),
        "the manifest was not read over TLS:\n{trusted}"
    );
    // The connectivity probe (`check` and `/readyz`) trusts exactly what the sync trusts.
    assert!(
        stdout.contains(&format!("✗ tls: Confluence unreachable at {base}")),
        "{stdout}"
    );
    assert!(
        trusted.contains(&format!("✓ tls: Confluence reachable at {base}")),
        "{trusted}"
    );
    println!("figure: untrusted -> {}", probe_line(&stdout));
    println!("figure: with extra CA -> {probe}");
}

fn probe_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with("✗ tls: CQL"))
        .unwrap_or("")
}

// ---------------------------------------------------------------------------------------------
// (f): planted secrets
// ---------------------------------------------------------------------------------------------

const CLOUD_SECRET: &str = "PLANTED-cloud-client-secret-51c2";
const DC_CLIENT_SECRET: &str = "PLANTED-dc-client-secret-a7e4";
const DC_PAT: &str = "PLANTED-dc-pat-93b1";
const DC_USER: &str = "PLANTED-dc-user-77d0";
const WRONG_PASSWORD: &str = "PLANTED-dc-wrong-password-0c6f";
const ZITADEL_SECRET: &str = "PLANTED-zitadel-secret-3f88";
const HEADER_VALUE: &str = "PLANTED-extra-header-value-e2d9";
const DB_PASSWORD: &str = "PLANTED-db-password-4b6a";

/// Every planted value, plus the ones a run adds.
fn planted() -> Vec<&'static str> {
    vec![
        CLOUD_SECRET,
        DC_CLIENT_SECRET,
        DC_PAT,
        DC_USER,
        WRONG_PASSWORD,
        ZITADEL_SECRET,
        HEADER_VALUE,
        DB_PASSWORD,
    ]
}

fn assert_clean(what: &str, haystack: &[u8]) {
    for secret in planted() {
        assert!(
            !haystack
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "{secret} found in {what}"
        );
    }
    // Access tokens the sandbox issues look like `sandbox-<32 hex>`; an Authorization value.
    let text = String::from_utf8_lossy(haystack);
    let shows_token = text.match_indices("sandbox-").any(|(i, m)| {
        let rest = &text[i + m.len()..];
        rest.len() >= 32 && rest[..32].chars().all(|c| c.is_ascii_hexdigit())
    });
    assert!(!shows_token, "an access token in {what}");
    assert!(
        !text.to_lowercase().contains("bearer "),
        "an Authorization value in {what}"
    );
}

/// Three sandboxes: the Unique simulator speaks one auth mode at a time (`external` with Zitadel,
/// `local` with cluster_local headers, the planted header value as its company id), and each
/// Confluence instance may be synced by one active tenant only (the failing tenant's is `_wrong`).
struct SecretWorld {
    external: SandboxHandle,
    local: SandboxHandle,
    /// Confluence of the failing tenant (its Unique side is `local`'s).
    _wrong: SandboxHandle,
    tenants: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
}

async fn secret_world() -> SecretWorld {
    let mut config = SandboxConfig::default();
    config.confluence.client_secret = CLOUD_SECRET.into();
    config.confluence.dc_pat = DC_PAT.into();
    config.unique.auth_mode = UniqueAuthMode::External;
    config.unique.zitadel_client_secret = ZITADEL_SECRET.into();
    let external_sb = spawn_sandbox_with(config).await;
    let mut config = SandboxConfig::default();
    config.confluence.client_secret = DC_CLIENT_SECRET.into();
    config.unique.company_id = HEADER_VALUE.into();
    let local_sb = spawn_sandbox_with(config).await;
    // One active tenant per Confluence instance: the failing tenant gets its own.
    let mut config = SandboxConfig::default();
    config.confluence.dc_username = DC_USER.into();
    config.confluence.dc_instance_id = "0e0e0e0e-1111-4222-8333-444455556666".into();
    let wrong_sb = spawn_sandbox_with(config).await;

    let zitadel = external(&external_sb, ZITADEL_SECRET, "sandbox-project");
    let local = UniqueSide {
        yaml: cluster_local(&local_sb).yaml.replace(
            "x-company-id: sandbox-company",
            &format!("x-company-id: {HEADER_VALUE}"),
        ),
    };
    let tenants = vec![
        cloud_tenant(
            &external_sb,
            "cloudy",
            &seed_root(&external_sb, "cloudy"),
            "os.environ/CLOUD_SECRET",
            &zitadel,
        ),
        dc_tenant(
            &external_sb,
            "dc-pat",
            &seed_root(&external_sb, "dc-pat"),
            &format!("{{ mode: pat, token: {DC_PAT} }}"),
            &zitadel,
        ),
        dc_tenant(
            &local_sb,
            "dc-oauth",
            &seed_root(&local_sb, "dc-oauth"),
            "{ mode: oauth_2lo, clientId: sandbox-client-id, clientSecret: os.environ/DC_CLIENT_SECRET }",
            &local,
        ),
        // Fails: the sandbox knows another password. Its error must not quote the one sent.
        dc_tenant(
            &wrong_sb,
            "dc-wrong",
            &seed_root(&local_sb, "dc-wrong"),
            &format!("{{ mode: basic, username: {DC_USER}, password: {WRONG_PASSWORD} }}"),
            &local,
        ),
    ];
    SecretWorld {
        external: external_sb,
        local: local_sb,
        _wrong: wrong_sb,
        tenants,
        env: vec![
            ("CLOUD_SECRET", CLOUD_SECRET),
            ("DC_CLIENT_SECRET", DC_CLIENT_SECRET),
        ],
    }
}

/// Text of every row of every ledger table, from a PostgreSQL database.
async fn postgres_rows(url: &str) -> String {
    use sqlx::{Connection as _, Row as _};
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>(0))
    .collect();
    assert!(tables.iter().any(|t| t == "runs"), "{tables:?}");
    let mut all = String::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT t::text FROM \"{table}\" t"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for row in rows {
            all.push_str(&row.get::<String, _>(0));
            all.push('\n');
        }
    }
    conn.close().await.unwrap();
    all
}

/// A fresh PostgreSQL database with the planted password in its URL, when
/// `DATABASE_URL_POSTGRES` names a server (scripts/test.sh's cluster trusts local connections,
/// so the password is sent and ignored). Returns the URL and the password it carries.
async fn postgres_with_password() -> Option<(String, String)> {
    let url = fresh_postgres_database("security", "the PostgreSQL part").await?;
    let mut url = url::Url::parse(&url).unwrap();
    let password = match url.password() {
        // The server checks passwords: keep the real one (it is a secret too).
        Some(p) => p.to_owned(),
        None => {
            url.set_password(Some(DB_PASSWORD)).unwrap();
            DB_PASSWORD.to_owned()
        }
    };
    Some((url.to_string(), password))
}

#[tokio::test(flavor = "multi_thread")]
async fn planted_secrets_stay_out_of_trace_logs_failures_metrics_readyz_and_the_ledger() {
    let world = secret_world().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), ANY_PORT, "trace", &world.tenants);
    let log = dir.path().join("daemon.log");
    let out_log = dir.path().join("daemon.out");
    let mut env = world.env.clone();
    env.push(("RUST_BACKTRACE", "full"));
    let mut daemon = command(Some(&config), &["run"], &env)
        .stdout(std::fs::File::create(&out_log).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let port = bound_port(&mut daemon, &log).await;
    let guard = Kill(&mut daemon);

    // Wait until every tenant has had its startup run (three succeed, one fails).
    let get = |path: &'static str| async move {
        let response = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .ok()?;
        response.text().await.ok()
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    let readyz = loop {
        if let Some(body) = get("/readyz").await {
            let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            let tenants = &json["details"]["sync"]["tenants"];
            let done = ["cloudy", "dc-pat", "dc-oauth", "dc-wrong"]
                .iter()
                .all(|t| tenants[t]["total"].as_u64().unwrap_or(0) >= 1);
            if done {
                break body;
            }
        }
        assert!(
            Instant::now() < deadline,
            "tenants did not all run:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let metrics = get("/metrics").await.unwrap();
    let healthz = get("/healthz").await.unwrap();
    drop(guard);

    let logs = std::fs::read(&log).unwrap();
    let logs_text = String::from_utf8_lossy(&logs).into_owned();
    assert!(
        logs_text.lines().count() > 100,
        "expected trace-level logs, got {} lines",
        logs_text.lines().count()
    );
    assert!(
        logs_text.contains("\"level\":\"TRACE\""),
        "no trace line in the logs"
    );
    // The failing tenant really failed on its credential, and the others really worked.
    let json: serde_json::Value = serde_json::from_str(&readyz).unwrap();
    let tenants = &json["details"]["sync"]["tenants"];
    assert!(
        tenants["dc-wrong"]["failures"].as_u64().unwrap() >= 1,
        "{readyz}"
    );
    let problems: Vec<&str> = logs_text
        .lines()
        .filter(|l| l.contains("\"level\":\"ERROR\"") || l.contains("\"level\":\"WARN\""))
        .collect();
    for t in ["cloudy", "dc-pat", "dc-oauth"] {
        assert_eq!(tenants[t]["failures"], 0, "{t}: {readyz}\n{problems:#?}");
    }
    assert!(metrics.contains("cfc_"), "{metrics}");
    assert!(!world.external.unique.files().is_empty());
    assert!(!world.local.unique.files().is_empty());

    assert_clean("the trace logs", &logs);
    assert_clean("stdout", &std::fs::read(&out_log).unwrap());
    assert_clean("/readyz", readyz.as_bytes());
    assert_clean("/metrics", metrics.as_bytes());
    assert_clean("/healthz", healthz.as_bytes());
    // The ledger file, byte for byte (plus its journal files, if any are left).
    let mut ledger_bytes = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("state.db") {
            let bytes = std::fs::read(&path).unwrap();
            ledger_bytes += bytes.len();
            assert_clean(&name, &bytes);
        }
    }
    assert!(ledger_bytes > 0, "no ledger file");
    // The failure was recorded, with a message (so there was something to leak).
    let status = run(Some(&config), &["status", "--json"], &world.env).await;
    let status_text = text(&status.stdout);
    assert!(status_text.contains("dc-wrong"), "{status_text}");
    assert_clean("status --json", &status.stdout);

    // `check` names the rejected credential, never its value.
    let check = run(Some(&config), &["check"], &world.env).await;
    let check_text = text(&check.stdout);
    assert_eq!(check.status.code(), Some(1), "{check_text}");
    assert!(
        check_text.contains("dc-wrong: Confluence credentials rejected"),
        "{check_text}"
    );
    assert_clean("check's stdout", &check.stdout);
    assert_clean("check's stderr", &check.stderr);

    // The same tenants once more on PostgreSQL with a password in its URL, from the
    // environment; the failing run's error goes into the tables.
    let Some((pg_url, pg_password)) = postgres_with_password().await else {
        println!(
            "figure: {} log lines, {ledger_bytes} ledger bytes: no planted secret",
            logs_text.lines().count()
        );
        return;
    };
    let pg_dir = tempfile::tempdir().unwrap();
    let pg_config = write_config(pg_dir.path(), ANY_PORT, "trace", &world.tenants);
    let pg_config_text = std::fs::read_to_string(&pg_config).unwrap();
    let state_line = pg_config_text
        .lines()
        .find(|l| l.trim_start().starts_with("url: sqlite://"))
        .unwrap()
        .to_owned();
    std::fs::write(
        &pg_config,
        pg_config_text.replace(&state_line, "  url: os.environ/STATE_URL"),
    )
    .unwrap();
    let mut env = world.env.clone();
    env.push(("STATE_URL", &pg_url));
    let out = run(Some(&pg_config), &["sync", "--json"], &env).await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "dc-wrong must fail: {}",
        text(&out.stderr)
    );
    assert!(!text(&out.stderr).contains(&pg_password) && !text(&out.stdout).contains(&pg_password));
    assert_clean("PostgreSQL sync stdout", &out.stdout);
    assert_clean("PostgreSQL sync stderr", &out.stderr);
    let rows = postgres_rows(&pg_url).await;
    assert!(
        rows.contains("dc-wrong"),
        "the failing run is not in the tables"
    );
    assert!(
        !rows.contains(&pg_password),
        "the database password is in the tables"
    );
    assert_clean("the PostgreSQL tables", rows.as_bytes());
    println!(
        "figure: {} log lines, {ledger_bytes} SQLite ledger bytes, {} PostgreSQL row bytes: no planted secret",
        logs_text.lines().count(),
        rows.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panic_after_a_full_cycle_prints_no_secret() {
    // The one panic the binary can be driven into from outside: `println!` of the JSON summary
    // into a closed pipe panics ("failed printing to stdout"), after every secret has been used.
    let world = secret_world().await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), ANY_PORT, "trace", &world.tenants);
    let mut env = world.env.clone();
    env.push(("RUST_BACKTRACE", "full"));
    let mut child = command(Some(&config), &["sync", "--json"], &env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("panicked") && stderr.contains("failed printing to stdout"),
        "expected the stdout panic:\n{}",
        &stderr[stderr.len().saturating_sub(3000)..]
    );
    assert!(!out.status.success());
    assert!(
        stderr.contains("stack backtrace"),
        "RUST_BACKTRACE=full gave no backtrace"
    );
    assert_clean("the panic output", &out.stderr);
    // Every run finished before the panic, and the ledger kept no secret either.
    let ledger = std::fs::read(dir.path().join("state.db")).unwrap();
    assert_clean("the ledger after the panic", &ledger);
}

const PROXY_USER: &str = "PLANTED-proxy-user-5e1a";
const PROXY_PASSWORD: &str = "PLANTED-proxy-password-c08d";
const PROXY_HEADER: &str = "PLANTED-proxy-header-value-19f3";

/// Standard base64 with padding (the connector crate does not depend on a base64 crate).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A forward proxy on loopback that records each request head and refuses it with 407, so
/// every Confluence call fails at once while the credentials were really sent.
async fn refusing_proxy() -> (u16, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let heads = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let record = heads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                record
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                          Proxy-Authenticate: Basic realm=\"test\"\r\n\
                          Content-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            });
        }
    });
    (port, heads)
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_credentials_stay_out_of_a_failing_run() {
    let sandbox = spawn_sandbox().await;
    let (proxy_port, heads) = refusing_proxy().await;
    let dir = tempfile::tempdir().unwrap();
    let root = seed_root(&sandbox, "proxied");
    let tenant = dc_tenant(
        &sandbox,
        "proxied",
        &root,
        "{ mode: pat, token: sandbox-pat }",
        &cluster_local(&sandbox),
    );
    let config = write_config(dir.path(), ANY_PORT, "trace", &[tenant]);
    let text_before = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        format!(
            "proxy:
  mode: username_password
  host: 127.0.0.1
  port: {proxy_port}
  username: {PROXY_USER}
  password: os.environ/PROXY_SECRET
  headers:
    X-Proxy-Token: {PROXY_HEADER}
{text_before}"
        ),
    )
    .unwrap();
    let env = [("PROXY_SECRET", PROXY_PASSWORD)];
    let out = run(Some(&config), &["sync", "--json"], &env).await;
    let check = run(Some(&config), &["check"], &env).await;
    let status = run(Some(&config), &["status", "--json"], &env).await;

    // The run failed on the proxy, and the proxy got the credentials.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let heads = heads.lock().unwrap().clone();
    assert!(!heads.is_empty(), "nothing went through the proxy");
    let basic = base64(format!("{PROXY_USER}:{PROXY_PASSWORD}").as_bytes());
    let head = heads[0].to_lowercase();
    assert!(
        head.contains(&format!(
            "proxy-authorization: basic {}",
            basic.to_lowercase()
        )),
        "{}",
        heads[0]
    );
    assert!(
        head.contains(&format!("x-proxy-token: {}", PROXY_HEADER.to_lowercase())),
        "{}",
        heads[0]
    );
    assert!(
        text(&status.stdout).contains("failed"),
        "{}",
        text(&status.stdout)
    );

    let ledger = std::fs::read(dir.path().join("state.db")).unwrap();
    for (what, bytes) in [
        ("sync stdout", &out.stdout),
        ("sync stderr (trace)", &out.stderr),
        ("check stdout", &check.stdout),
        ("check stderr", &check.stderr),
        ("status --json", &status.stdout),
        ("the ledger", &ledger),
    ] {
        let shown = String::from_utf8_lossy(bytes);
        for secret in [PROXY_USER, PROXY_PASSWORD, PROXY_HEADER, basic.as_str()] {
            assert!(!shown.contains(secret), "{secret} in {what}");
        }
    }
    println!(
        "figure: {} requests refused by the proxy (407); proxy user, password, Basic value and \
         header absent from sync/check/status output and the ledger",
        heads.len()
    );
}

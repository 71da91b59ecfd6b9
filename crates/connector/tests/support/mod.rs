//! Shared by the end-to-end tests: the sandbox in this process, a generated config pointing the
//! built binary at it, and helpers to run the binary.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use sandbox::unique::SeedScope;
use sandbox::{SandboxConfig, SandboxHandle};

pub const BIN: &str = env!("CARGO_BIN_EXE_confluence-connector");

/// A global space `key` named `Space <key>`.
pub fn space(id: &str, key: &str) -> sandbox::confluence::Space {
    sandbox::confluence::Space {
        id: id.into(),
        key: key.into(),
        name: format!("Space {key}"),
        space_type: sandbox::confluence::SpaceType::Global,
    }
}

/// A page titled `Title <id>` with the body `<p>Body of <id></p>`, version 1 at the default time.
pub fn page(
    id: u64,
    space: &str,
    parent: Option<u64>,
    labels: &[&str],
) -> sandbox::confluence::Content {
    sandbox::confluence::Content {
        id: id.to_string(),
        content_type: sandbox::confluence::ContentType::Page,
        title: format!("Title {id}"),
        space: space.into(),
        parent: parent.map(|p| p.to_string()),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        body: format!("<p>Body of {id}</p>"),
        version: 1,
        when: sandbox::confluence::default_when(),
        attachments: Vec::new(),
    }
}

/// The sandbox with its default (built-in) dataset and documented credentials.
pub async fn spawn_sandbox() -> SandboxHandle {
    spawn_sandbox_with(SandboxConfig::default()).await
}

pub async fn spawn_sandbox_with(config: SandboxConfig) -> SandboxHandle {
    sandbox::spawn(config).await.unwrap()
}

/// A fresh, unowned root scope in the sandbox's Unique; returns its id.
pub fn seed_root(sandbox: &SandboxHandle, name: &str) -> String {
    sandbox
        .unique
        .seed_scope(SeedScope {
            id: None,
            name: name.into(),
            parent_id: None,
            external_id: None,
            accesses: Vec::new(),
        })
        .unwrap()
        .id
}

/// Where the tenant's Unique side and credentials come from.
#[derive(Clone)]
pub struct UniqueSide {
    /// `cluster_local` block, or an `external` one with the secret reference.
    pub yaml: String,
}

pub fn cluster_local(sandbox: &SandboxHandle) -> UniqueSide {
    let u = &sandbox.urls;
    UniqueSide {
        yaml: format!(
            "serviceAuthMode: cluster_local
        serviceExtraHeaders:
          x-company-id: sandbox-company
          x-user-id: sandbox-user
        ingestionServiceBaseUrl: {}
        scopeManagementServiceBaseUrl: {}
        apiRateLimitPerMinute: 60000",
            u.unique_ingestion, u.unique_scope_management
        ),
    }
}

pub fn external(sandbox: &SandboxHandle, secret_ref: &str, project_ref: &str) -> UniqueSide {
    let u = &sandbox.urls;
    UniqueSide {
        yaml: format!(
            "serviceAuthMode: external
        zitadelOauthTokenUrl: {}
        zitadelProjectId: {project_ref}
        zitadelClientId: sandbox-zitadel-client
        zitadelClientSecret: {secret_ref}
        ingestionServiceBaseUrl: {}
        scopeManagementServiceBaseUrl: {}
        apiRateLimitPerMinute: 60000",
            u.zitadel_token, u.unique_ingestion, u.unique_scope_management
        ),
    }
}

/// An inline Cloud tenant (indented for `tenants.inline`).
pub fn cloud_tenant(
    sandbox: &SandboxHandle,
    name: &str,
    root: &str,
    secret_ref: &str,
    unique: &UniqueSide,
) -> String {
    let u = &sandbox.urls;
    format!(
        "    {name}:
      confluence:
        instanceType: cloud
        baseUrl: {site}
        cloudId: {cloud_id}
        apiBaseUrl: {gw}
        tokenUrl: {gw}/oauth/token
        auth:
          mode: oauth_2lo
          clientId: sandbox-client-id
          clientSecret: {secret_ref}
        apiRateLimitPerMinute: 60000
        ingestSingleLabel: ai-ingest
        ingestAllLabel: ai-ingest-all
      unique:
        {unique}
      ingestion:
        scopeId: {root}
",
        site = u.cloud_site,
        cloud_id = u.cloud_id,
        gw = u.cloud_gateway,
        unique = unique.yaml,
    )
}

/// An inline Data Center tenant; `auth` is the YAML of `confluence.auth` on one line.
pub fn dc_tenant(
    sandbox: &SandboxHandle,
    name: &str,
    root: &str,
    auth: &str,
    unique: &UniqueSide,
) -> String {
    format!(
        "    {name}:
      confluence:
        instanceType: data-center
        baseUrl: {base}
        auth: {auth}
        apiRateLimitPerMinute: 60000
        ingestSingleLabel: ai-ingest
        ingestAllLabel: ai-ingest-all
      unique:
        {unique}
      ingestion:
        scopeId: {root}
",
        base = sandbox.urls.dc_base,
        unique = unique.yaml,
    )
}

/// A daemon config file in `dir` with the given inline tenants.
pub fn write_config(dir: &Path, port: u16, level: &str, tenants: &[String]) -> PathBuf {
    let text = format!(
        "listen:
  host: 127.0.0.1
  port: {port}
log:
  level: {level}
  format: json
state:
  url: sqlite://{state}
shutdown_grace_period_secs: 10
tenants:
  inline:
{tenants}",
        state = dir.join("state.db").display(),
        tenants = tenants.concat(),
    );
    let path = dir.join("config.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A config in `dir` with one Data Center tenant `dc` (personal access token, cluster_local
/// Unique, a fresh root scope), state in `dir/state.db`.
pub fn one_dc_tenant_config(sandbox: &SandboxHandle, dir: &Path) -> PathBuf {
    let root = seed_root(sandbox, "root");
    let tenant = dc_tenant(
        sandbox,
        "dc",
        &root,
        "{ mode: pat, token: sandbox-pat }",
        &cluster_local(sandbox),
    );
    write_config(dir, ANY_PORT, "info", &[tenant])
}

/// The `listen.port` to give a child daemon: 0, so that it binds a port the kernel picks (no
/// window in which another process can take it) and logs it; [`bound_port`] reads it back.
pub const ANY_PORT: u16 = 0;

/// The port a daemon started with [`ANY_PORT`] bound: read from its `Serving /healthz` log line
/// (`log.level` info or lower) in the file its stderr goes to. Panics with the log when the
/// daemon exits or has not listened within a minute.
pub async fn bound_port(child: &mut Child, log: &Path) -> u16 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let addr = text
            .lines()
            .filter(|line| line.contains("Serving /healthz"))
            .find_map(|line| logged_addr(&serde_json::from_str(line).ok()?));
        if let Some(addr) = addr {
            return addr.port();
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the daemon exited ({status}) before listening\nlogs:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not log its address within a minute\nlogs:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `addr` field of a JSON log line, wherever the log format nests it.
fn logged_addr(line: &Value) -> Option<std::net::SocketAddr> {
    let object = line.as_object()?;
    match object.get("addr").and_then(Value::as_str) {
        Some(addr) => addr.parse().ok(),
        None => object.values().find_map(logged_addr),
    }
}

/// The binary with a clean environment plus `env`.
pub fn command(config: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear();
    if let Ok(path) = std::env::var("PATH") {
        cmd.env("PATH", path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// Runs the binary to completion off the async runtime (the sandbox keeps serving meanwhile).
pub async fn run(config: Option<&Path>, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command(config, args, env);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh database on the PostgreSQL test server (see `sync_engine::testing`, which decides
/// whether PostgreSQL tests run).
pub async fn fresh_postgres_database(prefix: &str, what: &str) -> Option<String> {
    sync_engine::testing::fresh_postgres_database(prefix, what).await
}

/// What a clean run determines about one file Unique stores (ids and times excluded).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StoredFile {
    pub key: String,
    pub title: Option<String>,
    pub mime_type: String,
    pub size: Option<u64>,
    pub sha256: Option<String>,
    pub bytes: Option<Vec<u8>>,
    /// The path of its scope.
    pub scope: String,
}

/// Unique's files, sorted; panics on a duplicate key or a file not finalized and uploaded.
pub fn stored_files(sb: &SandboxHandle) -> Vec<StoredFile> {
    let scopes = sb.unique.scopes();
    let files = sb.unique.files();
    let keys: std::collections::BTreeSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys.len(), files.len(), "duplicate keys in Unique");
    let mut stored: Vec<StoredFile> = files
        .iter()
        .map(|f| {
            assert_eq!(
                f.state,
                sandbox::unique::ContentState::Finalized,
                "not finalized: {f:#?}"
            );
            assert!(f.uploaded_size.is_some(), "never uploaded: {f:#?}");
            StoredFile {
                key: f.key.clone(),
                title: f.title.clone(),
                mime_type: f.mime_type.clone(),
                size: f.uploaded_size,
                sha256: f.sha256.clone(),
                bytes: sb.unique.file_bytes(&f.key),
                scope: scopes
                    .iter()
                    .find(|s| s.id == f.scope_id)
                    .map(|s| s.path.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    stored.sort();
    stored
}

/// [`stored_files`], plus every scope's path and external id, sorted: the whole of Unique's
/// state that one clean run determines.
pub fn unique_state(sb: &SandboxHandle) -> (Vec<StoredFile>, Vec<(String, Option<String>)>) {
    let mut scopes: Vec<(String, Option<String>)> = sb
        .unique
        .scopes()
        .iter()
        .map(|s| (s.path.clone(), s.external_id.clone()))
        .collect();
    scopes.sort();
    (stored_files(sb), scopes)
}

/// `confluence-connector run` as a child process, its log in a file; killed if a test fails
/// before stopping it.
pub struct Daemon {
    pub child: Child,
    pub port: u16,
    log: std::path::PathBuf,
}

impl Daemon {
    /// Starts `run` on `config` (written with [`ANY_PORT`]) and waits until it listens.
    pub async fn start(config: &std::path::Path, dir: &std::path::Path) -> Self {
        let log = dir.join("daemon.log");
        let file = std::fs::File::create(&log).unwrap();
        let mut child = command(Some(config), &["run"], &[])
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap();
        let port = bound_port(&mut child, &log).await;
        Self { child, port, log }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let response = reqwest::get(url).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    pub async fn readyz(&self) -> Option<Value> {
        let (_, body) = self.get("/readyz").await?;
        serde_json::from_str(&body).ok()
    }

    /// Polls `/readyz` until `done` holds.
    pub async fn wait_ready(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(body) = self.readyz().await {
                if done(&body) {
                    return body;
                }
                if Instant::now() > deadline {
                    panic!(
                        "timed out waiting for {what}; last /readyz: {body}\nlogs:\n{}",
                        self.logs()
                    );
                }
            } else if Instant::now() > deadline {
                panic!(
                    "timed out waiting for {what}; no /readyz\nlogs:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    pub fn sigterm(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the daemon did not stop within {within:?}\nlogs:\n{}",
                    self.logs()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// `promtool check metrics` over the live exposition, where promtool is installed.
pub fn promtool_accepts(metrics: &str) {
    use std::io::Write;
    let Ok(mut child) = std::process::Command::new("promtool")
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
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A failing test must not leave the daemon running.
impl Drop for Daemon {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

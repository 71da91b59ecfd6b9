//! The Helm chart (`deploy/helm/confluence-connector`) renders, for every CI value file, a daemon
//! config and tenant files that the real loader accepts without a single warning, with the
//! secrets the tenant files name supplied by the Deployment. So a key the chart misspells, or a
//! reference-chart value it maps wrongly (`authMode` → `serviceAuthMode`, `zitadel.*`), fails here
//! instead of at an operator's first start.
//!
//! Needs `helm`: `CFC_HELM`, else the copy `scripts/check-deploy.sh` caches under
//! `~/.cache/confluence-connector/tools/helm/`, else `helm` on PATH. Without one the test says so
//! loudly and passes, except under CI (`CI` set), where it fails.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use connector::config::{DaemonConfig, Env};
use serde::Deserialize;
use serde_yaml_ng::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn chart_dir() -> PathBuf {
    repo_root().join("deploy/helm/confluence-connector")
}

/// `helm` to use, newest cached version first.
fn find_helm() -> Option<PathBuf> {
    if let Some(helm) = std::env::var_os("CFC_HELM") {
        return Some(helm.into());
    }
    let tools = std::env::var_os("CFC_TOOLS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache/confluence-connector/tools"))
        });
    if let Some(Ok(versions)) = tools.map(|t| std::fs::read_dir(t.join("helm"))) {
        let mut found: Vec<(Vec<u64>, PathBuf)> = versions
            .flatten()
            .filter(|dir| dir.path().join("helm").is_file())
            .map(|dir| {
                let version = dir
                    .file_name()
                    .to_string_lossy()
                    .split('.')
                    .map(|part| part.parse().unwrap_or(0))
                    .collect();
                (version, dir.path().join("helm"))
            })
            .collect();
        found.sort();
        if let Some((_, helm)) = found.pop() {
            return Some(helm);
        }
    }
    let on_path = Command::new("helm").arg("version").output();
    on_path
        .is_ok_and(|out| out.status.success())
        .then(|| PathBuf::from("helm"))
}

/// Follows a dotted path through nested mappings.
fn lookup<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, key| v.get(key))
        .filter(|v| !v.is_null())
}

fn yaml_file(path: &Path) -> Value {
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What one CI value file asks for, with the chart's defaults where it says nothing.
struct Expected<'a> {
    case: &'a Value,
    defaults: &'a Value,
}

impl Expected<'_> {
    fn get(&self, path: &str) -> Option<&Value> {
        lookup(self.case, path).or_else(|| lookup(self.defaults, path))
    }

    fn u64(&self, path: &str) -> Option<u64> {
        self.get(path).and_then(Value::as_u64)
    }

    fn str(&self, path: &str) -> String {
        self.get(path)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// Tenants the daemon keeps after loading (inactive ones are validated and dropped).
    fn loaded_tenant_names(&self) -> BTreeSet<String> {
        let tenants = self.get("connectorConfig.tenants").unwrap();
        tenants
            .as_sequence()
            .unwrap()
            .iter()
            .filter(|t| lookup(t, "status").and_then(Value::as_str) != Some("inactive"))
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }
}

/// The objects `helm template` printed, by kind and name.
struct Rendered {
    objects: Vec<Value>,
}

impl Rendered {
    fn render(helm: &Path, values: &Path) -> Self {
        let out = Command::new(helm)
            .args(["template", "cfc"])
            .arg(chart_dir())
            .args(["--namespace", "connectors", "--values"])
            .arg(values)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "helm template -f {}:\n{}",
            values.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let objects = serde_yaml_ng::Deserializer::from_str(&text)
            .map(|doc| Value::deserialize(doc).unwrap())
            .filter(|doc| !doc.is_null())
            .collect();
        Self { objects }
    }

    fn find(&self, kind: &str, name: &str) -> Option<&Value> {
        self.objects.iter().find(|o| {
            o["kind"].as_str() == Some(kind) && o["metadata"]["name"].as_str() == Some(name)
        })
    }

    fn string_data(&self, name: &str) -> BTreeMap<String, String> {
        let Some(map) = self
            .find("ConfigMap", name)
            .and_then(|cm| cm["data"].as_mapping())
        else {
            return BTreeMap::new();
        };
        map.iter()
            .map(|(k, v)| {
                (
                    k.as_str().unwrap().to_string(),
                    v.as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

/// The environment the connector container would see: literal values as rendered, values from
/// Secrets (`valueFrom`, the chart's own env Secret) as stand-ins.
fn container_env(rendered: &Rendered, fullname: &str) -> BTreeMap<String, String> {
    let deployment = rendered.find("Deployment", fullname).unwrap();
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    let mut env = BTreeMap::new();
    for var in container["env"].as_sequence().unwrap() {
        let name = var["name"].as_str().unwrap().to_string();
        let value = match var["value"].as_str() {
            Some(value) => value.to_string(),
            None if name == "CONFLUENCE_CONNECTOR__STATE__URL" => {
                "postgres://cfc:stand-in@127.0.0.1:5432/cfc".to_string()
            }
            None => format!("stand-in for {name}"),
        };
        env.insert(name, value);
    }
    if let Some(secret) = rendered.find("Secret", &format!("{fullname}-env")) {
        for key in secret["data"].as_mapping().unwrap().keys() {
            let key = key.as_str().unwrap().to_string();
            env.insert(key.clone(), format!("stand-in for {key}"));
        }
    }
    env
}

#[test]
fn every_ci_values_file_renders_a_config_the_daemon_loads_without_warnings() {
    let Some(helm) = find_helm() else {
        let notice = "helm not found (CFC_HELM, ~/.cache/confluence-connector/tools/helm/*/helm, \
                      PATH): the chart's rendered configs are NOT checked. \
                      `bash scripts/check-deploy.sh` installs it.";
        assert!(std::env::var_os("CI").is_none(), "{notice}");
        eprintln!("\n######## SKIPPED: {notice}\n");
        return;
    };
    let defaults = yaml_file(&chart_dir().join("values.yaml"));
    let mut cases: Vec<PathBuf> = std::fs::read_dir(chart_dir().join("ci"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    cases.sort();
    assert!(cases.len() >= 8, "expected the eight CI cases: {cases:?}");

    for case_path in &cases {
        let case_name = case_path.file_name().unwrap().to_string_lossy();
        let case = yaml_file(case_path);
        let want = Expected {
            case: &case,
            defaults: &defaults,
        };
        let fullname = want.str("fullnameOverride");

        // Given the chart rendered with this value file…
        let rendered = Rendered::render(&helm, case_path);
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.yaml");
        let config = rendered.string_data(&format!("{fullname}-config"));
        std::fs::write(&config_path, &config["config.yaml"]).unwrap();
        let tenant_dir = dir.path().join("tenants");
        std::fs::create_dir(&tenant_dir).unwrap();
        let tenant_files = rendered.string_data(&format!("{fullname}-tenant-config"));
        for (file, text) in &tenant_files {
            std::fs::write(tenant_dir.join(file), text).unwrap();
        }
        let mut env = container_env(&rendered, &fullname);
        // The files sit under /app/tenant-configs in the pod; here, in the temporary directory.
        env.insert(
            "TENANT_CONFIG_PATH_PATTERN".into(),
            format!("{}/*-tenant-config.yaml", tenant_dir.display()),
        );

        // …the daemon loads the rendered files with the container's environment…
        let loaded = DaemonConfig::load(Some(&config_path), &env.clone().into_iter().collect::<Env>())
            .unwrap_or_else(|errors| {
                panic!(
                    "{case_name}: the rendered config does not load:\n{errors}\n\nconfig.yaml:\n{}\ntenants: {tenant_files:#?}",
                    config["config.yaml"]
                )
            });
        assert!(
            loaded.warnings.is_empty(),
            "{case_name}: {:?}",
            loaded.warnings
        );

        // …and it is what the values asked for.
        let names: BTreeSet<String> = loaded.tenants.iter().map(|t| t.name.clone()).collect();
        assert_eq!(names, want.loaded_tenant_names(), "{case_name}: tenants");
        let backend = format!("{:?}", loaded.daemon.state.backend).to_lowercase();
        assert_eq!(backend, want.str("state.backend"), "{case_name}: state");
        assert_eq!(
            loaded.daemon.state.lease_ttl.as_secs(),
            want.u64("state.lease_ttl_secs").unwrap(),
            "{case_name}: lease TTL"
        );
        assert_eq!(
            u64::from(loaded.daemon.listen.http.port()),
            want.u64("ports.application").unwrap(),
            "{case_name}: port"
        );
        assert_eq!(
            loaded.daemon.listen.metrics.map(|a| u64::from(a.port())),
            want.u64("ports.metrics"),
            "{case_name}: metrics port"
        );
        if want.str("proxyConfig.authMode") != "none" {
            assert_eq!(
                env.get("PROXY_AUTH_MODE").map(String::as_str),
                Some(want.str("proxyConfig.authMode").as_str()),
                "{case_name}: proxy"
            );
        }
    }
}

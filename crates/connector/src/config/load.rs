//! Loading: daemon settings from file and environment, then every tenant from the tenant files
//! and the inline section, then the checks that span tenants.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::daemon::{env_overrides, read_daemon, DaemonConfig};
use super::env::Env;
use super::error::{ConfigError, ConfigErrors, ConfigWarning};
use super::read::Diag;
use super::tenant::{read_tenant, TenantConfig, TenantSource, TenantStatus};

/// Suffix every tenant file name must have; the tenant name is what precedes it.
pub const TENANT_FILE_SUFFIX: &str = "-tenant-config.yaml";

/// A fully validated configuration.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub daemon: DaemonConfig,
    /// Active and deleted tenants, tenant files first (in path order), then inline tenants (in
    /// name order). Inactive tenants were validated and left out.
    pub tenants: Vec<TenantConfig>,
    /// Unknown keys and other things accepted but worth a look; already logged.
    pub warnings: Vec<ConfigWarning>,
}

impl std::fmt::Display for LoadedConfig {
    /// A summary for `check` and startup logs: one line per tenant, no secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "listening on {}, state {:?}, {} tenant(s)",
            self.daemon.listen.http,
            self.daemon.state.backend,
            self.tenants.len()
        )?;
        for t in &self.tenants {
            writeln!(
                f,
                "  {} ({:?}): {} -> scope {}, every '{}'",
                t.name,
                t.status,
                t.confluence.instance_key(),
                t.ingestion.scope_id,
                t.processing.scan_interval_cron
            )?;
        }
        Ok(())
    }
}

impl DaemonConfig {
    /// Loads the daemon settings from `path` (if any) layered with `env`, then every tenant.
    /// Returns every problem found, not only the first.
    pub fn load(path: Option<&Path>, env: &Env) -> Result<LoadedConfig, ConfigErrors> {
        let mut part = read_daemon_part(path, env);
        let tenants = load_tenants(&mut part, path, env);
        let warnings = part.warnings;
        for w in &warnings {
            tracing::warn!(file = %w.file, field = %w.field, "{}", w.message);
        }
        if !part.errors.is_empty() {
            return Err(ConfigErrors::new(part.errors));
        }
        Ok(LoadedConfig {
            daemon: part.daemon,
            tenants,
            warnings,
        })
    }

    /// Loads only the daemon settings, ignoring where tenants are: for tools that need the
    /// listen address or the state URL, and for checking `config.example.yaml`.
    pub fn load_without_tenants(path: Option<&Path>, env: &Env) -> Result<Self, ConfigErrors> {
        let part = read_daemon_part(path, env);
        if part.errors.is_empty() {
            Ok(part.daemon)
        } else {
            Err(ConfigErrors::new(part.errors))
        }
    }
}

struct DaemonPart {
    daemon: DaemonConfig,
    /// `tenants.inline`, taken out of the file before layering: it is read with the tenant
    /// schema, and the environment may not add to it.
    inline: Option<Value>,
    /// Source label and env origins, for problems about where tenants are.
    diag_label: String,
    origins: BTreeMap<String, String>,
    errors: Vec<ConfigError>,
    warnings: Vec<ConfigWarning>,
}

fn read_daemon_part(path: Option<&Path>, env: &Env) -> DaemonPart {
    let label = path.map_or_else(|| "environment".to_owned(), |p| p.display().to_string());
    let mut problems = Vec::new();
    let mut doc = Map::new();
    if let Some(path) = path {
        match std::fs::read_to_string(path) {
            Err(e) => problems.push((
                "(file)",
                format!("cannot be read: {e}"),
                "a readable YAML file",
            )),
            Ok(text) => match serde_yaml_ng::from_str::<Value>(&text) {
                Ok(Value::Null) => {}
                Ok(Value::Object(map)) => doc = map,
                Ok(_) => problems.push((
                    "(document)",
                    "is not a mapping".to_owned(),
                    "a YAML mapping of settings",
                )),
                Err(e) => problems.push((
                    "(document)",
                    format!("is not valid YAML: {e}"),
                    "valid YAML",
                )),
            },
        }
    }
    // Inline tenants are read by the tenant schema, not the daemon's.
    let inline = doc
        .get_mut("tenants")
        .and_then(Value::as_object_mut)
        .and_then(|t| t.remove("inline"))
        .filter(|v| !v.is_null());

    // The environment beats the file, setting by setting (see `daemon.rs`).
    let mut origins = BTreeMap::new();
    let mut env_errors = Vec::new();
    for (setting, var, value) in env_overrides(env) {
        if setting == "tenants.inline" || setting.starts_with("tenants.inline.") {
            env_errors.push(ConfigError {
                file: format!("environment variable {var}"),
                field: "tenants.inline".to_owned(),
                problem: "cannot be set through environment variables".to_owned(),
                expected: "inline tenants in the config file, or tenant files (secrets via \
                           os.environ/VAR)"
                    .to_owned(),
            });
        } else if let Err(section) = set_setting(&mut doc, &setting, Value::String(value)) {
            env_errors.push(ConfigError {
                file: format!("environment variable {var}"),
                field: setting,
                problem: format!("cannot be applied: '{section}' in {label} is not a mapping"),
                expected: format!("'{section}' written as a mapping of settings, or not at all"),
            });
        } else {
            origins.insert(setting, var);
        }
    }

    let mut d = Diag::new(label.clone(), env).with_env_origins(origins.clone());
    for (field, problem, expected) in problems {
        d.error(field, problem, expected);
    }
    d.errors.append(&mut env_errors);
    let daemon = read_daemon(&mut d, doc);
    DaemonPart {
        daemon,
        inline,
        diag_label: label,
        origins,
        errors: d.errors,
        warnings: d.warnings,
    }
}

/// Sets the dotted `setting` in `doc`, creating sections that are absent or empty. `Err` names
/// the section on the way that holds something other than a mapping.
fn set_setting(doc: &mut Map<String, Value>, setting: &str, value: Value) -> Result<(), String> {
    let Some((sections, key)) = setting.rsplit_once('.') else {
        doc.insert(setting.to_owned(), value);
        return Ok(());
    };
    let mut map = doc;
    let mut walked = String::new();
    for section in sections.split('.') {
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(section);
        let slot = map.entry(section.to_owned()).or_insert(Value::Null);
        if slot.is_null() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(inner) = slot else {
            return Err(walked);
        };
        map = inner;
    }
    map.insert(key.to_owned(), value);
    Ok(())
}

/// One tenant found, before the cross-tenant checks.
struct Candidate {
    name: String,
    /// Where it came from, as shown in messages.
    file: String,
    /// The field naming it (`file name`, or `tenants.inline.<name>`).
    field: String,
    config: Option<TenantConfig>,
}

fn load_tenants(part: &mut DaemonPart, config_path: Option<&Path>, env: &Env) -> Vec<TenantConfig> {
    let mut d = Diag::new(part.diag_label.clone(), env).with_env_origins(part.origins.clone());
    let mut candidates = Vec::new();

    let pattern = part.daemon.tenants.files.clone();
    let inline = part.inline.take();
    match (&pattern, &inline) {
        (None, None) => d.error(
            "tenants.files",
            "TENANT_CONFIG_PATH_PATTERN environment variable is not set, and the config file \
             defines neither tenants.files nor tenants.inline",
            "TENANT_CONFIG_PATH_PATTERN or tenants.files set to a glob such as \
             ./tenants/*-tenant-config.yaml, or tenants under tenants.inline",
        ),
        (Some(pattern), _) => {
            for file in glob_tenant_files(&mut d, pattern) {
                candidates.push(load_tenant_file(
                    &file,
                    env,
                    &mut part.errors,
                    &mut part.warnings,
                ));
            }
        }
        (None, Some(_)) => {}
    }
    if let Some(inline) = &inline {
        match inline {
            Value::Object(map) => {
                for (name, doc) in map {
                    let field = format!("tenants.inline.{name}");
                    let mut td = Diag::new(part.diag_label.clone(), env);
                    check_tenant_name(&mut td, &field, name);
                    let source = TenantSource::Inline(config_path.map(Path::to_path_buf));
                    let config = read_tenant(&mut td, &field, name, source, doc);
                    part.errors.append(&mut td.errors);
                    part.warnings.append(&mut td.warnings);
                    candidates.push(Candidate {
                        name: name.clone(),
                        file: part.diag_label.clone(),
                        field,
                        config,
                    });
                }
            }
            _ => d.error(
                "tenants.inline",
                "is not a mapping",
                "a mapping from tenant name to a tenant configuration",
            ),
        }
    }

    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for c in &candidates {
        if let Some(first) = seen.insert(&c.name, &c.file) {
            part.errors.push(ConfigError {
                file: c.file.clone(),
                field: c.field.clone(),
                problem: format!("Duplicate tenant name '{}'", c.name),
                expected: format!("each tenant name used once (also defined in {first})"),
            });
        }
    }

    part.errors.append(&mut d.errors);
    part.warnings.append(&mut d.warnings);
    // The checks below run on the tenants that did parse, so a duplicate instance is reported
    // together with unrelated mistakes in other files.
    let had_errors = !part.errors.is_empty();

    let tenants: Vec<(String, TenantConfig)> = candidates
        .into_iter()
        .filter_map(|c| Some((c.file, c.config?)))
        .filter(|(_, t)| t.status != TenantStatus::Inactive)
        .collect();
    let mut instances: BTreeMap<String, &str> = BTreeMap::new();
    for (file, t) in &tenants {
        if t.status != TenantStatus::Active {
            continue;
        }
        let key = t.confluence.instance_key();
        if let Some(other) = instances.get(&key) {
            part.errors.push(ConfigError {
                file: file.clone(),
                field: "confluence".to_owned(),
                problem: format!(
                    "Duplicate Confluence instance in tenants '{other}' and '{}': {key}",
                    t.name
                ),
                expected: "each Confluence instance synced by one active tenant only".to_owned(),
            });
        } else {
            instances.insert(key, &t.name);
        }
    }
    if tenants.is_empty() && !had_errors {
        part.errors.push(ConfigError {
            file: part.diag_label.clone(),
            field: "tenants".to_owned(),
            problem: "No tenant configurations found. At least one tenant must have status \
                      \"active\" or \"deleted\"."
                .to_owned(),
            expected: "at least one tenant with status active or deleted".to_owned(),
        });
    }
    if !part.errors.is_empty() {
        return Vec::new();
    }
    tenants.into_iter().map(|(_, t)| t).collect()
}

fn glob_tenant_files(d: &mut Diag<'_>, pattern: &str) -> Vec<PathBuf> {
    let paths = match glob::glob(pattern) {
        Ok(paths) => paths,
        Err(e) => {
            d.error(
                "tenants.files",
                format!("'{pattern}' is not a valid glob pattern ({e})"),
                "a glob such as ./tenants/*-tenant-config.yaml",
            );
            return Vec::new();
        }
    };
    let mut files = Vec::new();
    for entry in paths {
        match entry {
            Ok(path) => files.push(path),
            Err(e) => d.error(
                "tenants.files",
                format!("cannot read {}: {}", e.path().display(), e.error()),
                "readable directories and tenant files",
            ),
        }
    }
    if files.is_empty() && !d.has_errors() {
        d.error(
            "tenants.files",
            format!("No tenant configuration files found matching pattern '{pattern}'"),
            format!("at least one file matching the pattern, named <tenant>{TENANT_FILE_SUFFIX}"),
        );
    }
    files
}

fn load_tenant_file(
    path: &Path,
    env: &Env,
    errors: &mut Vec<ConfigError>,
    warnings: &mut Vec<ConfigWarning>,
) -> Candidate {
    let file = path.display().to_string();
    let mut d = Diag::new(file.clone(), env);
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match file_name.strip_suffix(TENANT_FILE_SUFFIX) {
        Some(name) => {
            check_tenant_name(&mut d, "file name", name);
            name.to_owned()
        }
        None => {
            d.error(
                "file name",
                format!("'{file_name}' does not end with '{TENANT_FILE_SUFFIX}'"),
                format!("a file named <tenant>{TENANT_FILE_SUFFIX}, e.g. acme{TENANT_FILE_SUFFIX}"),
            );
            file_name.clone()
        }
    };
    let config = match std::fs::read_to_string(path) {
        Err(e) => {
            d.error(
                "(file)",
                format!("cannot be read: {e}"),
                "a readable YAML file",
            );
            None
        }
        Ok(text) => match serde_yaml_ng::from_str::<Value>(&text) {
            Err(e) => {
                d.error(
                    "(document)",
                    format!("is not valid YAML: {e}"),
                    "valid YAML",
                );
                None
            }
            Ok(doc) => read_tenant(
                &mut d,
                "",
                &name,
                TenantSource::File(path.to_path_buf()),
                &doc,
            ),
        },
    };
    errors.append(&mut d.errors);
    warnings.append(&mut d.warnings);
    Candidate {
        name,
        file,
        field: "file name".to_owned(),
        config,
    }
}

/// `^[a-z0-9]+(-[a-z0-9]+)*$`: the name ends up in content keys and scope ids.
fn check_tenant_name(d: &mut Diag<'_>, field: &str, name: &str) {
    let valid = !name.is_empty()
        && name.split('-').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    if !valid {
        d.error(
            field,
            format!("Invalid tenant name '{name}'"),
            "lower-case letters and digits in groups joined by single dashes, e.g. acme-corp",
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, DaemonPart) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connector.yaml");
        std::fs::write(&path, text).unwrap();
        let part = read_daemon_part(Some(&path), &env.iter().copied().collect());
        (dir, part)
    }

    #[test]
    fn prefixed_variable_names_are_case_insensitive() {
        let (_dir, part) = load("", &[("confluence_connector__listen__port", "4242")]);
        assert!(part.errors.is_empty(), "{:?}", part.errors);
        assert_eq!(part.daemon.listen.http.port(), 4242);
    }

    #[test]
    fn a_variable_under_a_file_value_that_is_no_section_is_an_error_naming_both() {
        let (_dir, part) = load("listen: 8080\n", &[("PORT", "9090")]);
        let e = &part.errors;
        assert!(
            e.iter().any(|e| e.file == "environment variable PORT"
                && e.field == "listen.port"
                && e.problem.contains("'listen'")
                && e.problem.contains("is not a mapping")),
            "{e:?}"
        );
    }

    #[test]
    fn the_unknown_key_warning_lists_the_keys_of_its_section() {
        let (_dir, part) = load("listen: {prot: 1}\n", &[]);
        let w = &part.warnings[0];
        assert_eq!(w.field, "listen.prot");
        assert!(
            w.message
                .contains("unknown key 'prot' ignored (known keys here: host, port, metrics_port)"),
            "{w}"
        );
    }
}

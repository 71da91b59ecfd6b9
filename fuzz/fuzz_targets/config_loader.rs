//! The config loader on arbitrary files: a daemon YAML file, two tenant files and `tenants.inline`
//! (inside the daemon file), layered with an environment that holds planted secrets — the
//! variables the tenant files reference through `os.environ/…`, the reference's `PROXY_*`
//! credentials and a PostgreSQL state URL with a password.
//!
//! Asserts: `DaemonConfig::load` and `load_without_tenants` never panic; no error, warning,
//! `Display` or `Debug` output of the result contains a planted secret value (unless the input
//! itself spelled it out).
//!
//! Input: `daemon YAML ⟨FF⟩ tenant file alpha ⟨FF⟩ tenant file beta ⟨FF⟩ env selector byte`
//! (0xFF never occurs in UTF-8). The selector's bits choose which planted variables are set
//! (all when absent).

#![no_main]

use std::path::Path;

use connector::config::{DaemonConfig, Env};
use libfuzzer_sys::fuzz_target;

/// Variables referenced as secrets by the fixture tenant files, plus the reference's proxy
/// credentials; each holds a distinctive value that must never be echoed.
const PLANTED: [&str; 10] = [
    "CONFLUENCE_CLIENT_SECRET",
    "ACME_CONFLUENCE_CLIENT_SECRET",
    "OPS_CONFLUENCE_CLIENT_SECRET",
    "CONFLUENCE_PAT",
    "CONFLUENCE_USERNAME",
    "CONFLUENCE_PASSWORD",
    "ZITADEL_CLIENT_SECRET",
    "ZITADEL_PROJECT_ID",
    "PROXY_USERNAME",
    "PROXY_PASSWORD",
];
const STATE_URL_VAR: &str = "CONFLUENCE_CONNECTOR__STATE__URL";
const STATE_PASSWORD: &str = "PLANTEDdbpw91c4";

fn planted_value(name: &str) -> String {
    format!(
        "PLANTED-{}-7c1e",
        name.to_ascii_lowercase().replace('_', "-")
    )
}

fn scratch_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = tempfile::Builder::new()
        .prefix("fuzz-config-")
        .tempdir_in(shm);
    builder
        .or_else(|_| tempfile::tempdir())
        .expect("a scratch directory")
}

fuzz_target!(|data: &[u8]| {
    let parts: Vec<&[u8]> = data.splitn(4, |b| *b == 0xFF).collect();
    let selector = parts.get(3).and_then(|p| p.first()).map_or(u16::MAX, |b| {
        // Eight bits for eleven variables: the last three follow bit 7.
        let b = u16::from(*b);
        b | if b & 0x80 != 0 { 0x700 } else { 0 }
    });

    let dir = scratch_dir();
    let tenants = dir.path().join("tenants");
    std::fs::create_dir(&tenants).expect("tenant directory");
    let config_path = dir.path().join("config.yaml");
    std::fs::write(&config_path, parts[0]).expect("daemon file");
    for (name, part) in ["alpha", "beta"].iter().zip(parts.iter().skip(1).take(2)) {
        std::fs::write(tenants.join(format!("{name}-tenant-config.yaml")), part)
            .expect("tenant file");
    }

    let mut secrets = Vec::new();
    let mut vars: Vec<(String, String)> = vec![(
        // Always ours, so a fuzzed `tenants.files` can never glob the machine.
        "CONFLUENCE_CONNECTOR__TENANTS__FILES".to_owned(),
        format!("{}/*-tenant-config.yaml", tenants.display()),
    )];
    for (bit, name) in PLANTED.iter().enumerate() {
        if selector & (1 << bit) != 0 {
            let value = planted_value(name);
            secrets.push(value.clone());
            vars.push(((*name).to_owned(), value));
        }
    }
    if selector & (1 << PLANTED.len()) != 0 {
        secrets.push(STATE_PASSWORD.to_owned());
        vars.push((
            STATE_URL_VAR.to_owned(),
            format!("postgres://connector:{STATE_PASSWORD}@db.internal/connector"),
        ));
    }
    // Input that spells a secret out may legitimately see it quoted back.
    secrets.retain(|s| !data.windows(s.len()).any(|w| w == s.as_bytes()));
    let env: Env = vars.into_iter().collect();

    let check = |what: &str, text: String| {
        for secret in &secrets {
            assert!(
                !text.contains(secret.as_str()),
                "{what} reveals a planted secret:\n{text}"
            );
        }
    };
    match DaemonConfig::load(Some(&config_path), &env) {
        Ok(loaded) => {
            check("loaded config (Display)", loaded.to_string());
            check("loaded config (Debug)", format!("{loaded:?}"));
            for w in &loaded.warnings {
                check("warning", w.to_string());
            }
        }
        Err(errors) => {
            check("errors (Display)", errors.to_string());
            check("errors (Debug)", format!("{errors:?}"));
        }
    }
    match DaemonConfig::load_without_tenants(Some(&config_path), &env) {
        Ok(daemon) => check("daemon config (Debug)", format!("{daemon:?}")),
        Err(errors) => check("daemon errors", format!("{errors} {errors:?}")),
    }
});

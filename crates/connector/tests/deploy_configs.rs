//! The configuration files shipped under `deploy/` load with the real loader and without a
//! single unknown-key warning, so a renamed key fails CI instead of an operator's first install.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use connector::config::{DaemonConfig, Env};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The example tenant shipped with the Kubernetes base, found through the reference's variable.
fn env_with_example_tenant() -> Env {
    let pattern = repo_root().join("deploy/kubernetes/base/tenants/*-tenant-config.yaml");
    [
        ("TENANT_CONFIG_PATH_PATTERN", pattern.to_str().unwrap()),
        ("ACME_CONFLUENCE_CLIENT_SECRET", "planted-secret"),
    ]
    .into()
}

#[test]
fn shipped_configs_load_with_the_example_tenant_and_no_warnings() {
    for relative in [
        "deploy/kubernetes/base/config.yaml",
        "deploy/systemd/config.yaml",
    ] {
        let path = repo_root().join(relative);
        let loaded = DaemonConfig::load(Some(&path), &env_with_example_tenant())
            .unwrap_or_else(|errors| panic!("{relative} does not load:\n{errors}"));
        assert!(
            loaded.warnings.is_empty(),
            "{relative}: {:?}",
            loaded.warnings
        );
        assert_eq!(loaded.tenants.len(), 1, "{relative}");
        assert_eq!(loaded.tenants[0].name, "acme");
    }
}

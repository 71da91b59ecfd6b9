//! Tenant files written for the reference connector load unchanged.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/config/support.rs"]
mod support;

use connector::config::{
    ConfluenceAuth, DaemonConfig, Env, LoadedConfig, TenantStatus, UniqueAuth,
};
use secrecy::ExposeSecret;
use support::*;

const PLANTED_PROJECT: &str = "planted-project-id-Zr1";
const PLANTED_USER: &str = "planted-basic-user-Ux3";
const PLANTED_PASSWORD: &str = "planted-basic-password-Pw4";
const PLANTED_OPS_SECRET: &str = "planted-ops-secret-Op5";

fn reference_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("CONFLUENCE_CLIENT_SECRET", PLANTED_CLIENT_SECRET),
        ("ZITADEL_PROJECT_ID", PLANTED_PROJECT),
        ("ZITADEL_CLIENT_SECRET", PLANTED_ZITADEL_SECRET),
        ("CONFLUENCE_PAT", PLANTED_PAT),
        ("CONFLUENCE_USERNAME", PLANTED_USER),
        // Kubernetes secrets mounted as env often end with a newline.
        ("CONFLUENCE_PASSWORD", "planted-basic-password-Pw4\n"),
        ("OPS_CONFLUENCE_CLIENT_SECRET", PLANTED_OPS_SECRET),
    ]
}

fn planted() -> [&'static str; 7] {
    [
        PLANTED_CLIENT_SECRET,
        PLANTED_PROJECT,
        PLANTED_ZITADEL_SECRET,
        PLANTED_PAT,
        PLANTED_USER,
        PLANTED_PASSWORD,
        PLANTED_OPS_SECRET,
    ]
}

fn load_reference() -> LoadedConfig {
    let pattern = fixtures().join("reference/*-tenant-config.yaml");
    load_pattern(pattern.to_str().unwrap(), &reference_env()).unwrap()
}

#[test]
fn reference_tenant_files_load_unchanged() {
    let loaded = load_reference();
    let names: Vec<&str> = loaded.tenants.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "acme-cloud",
            "corp-dc-pat",
            "legal-dc-basic",
            "oldteam-deleted",
            "ops-dc-oauth"
        ],
        "the inactive tenant is validated and left out"
    );

    let acme = &loaded.tenants[0];
    assert!(acme.confluence.is_cloud());
    assert_eq!(
        acme.confluence.instance_key(),
        "cloud:0f3c9a4e-1d2b-4c5e-9f80-1234567890ab"
    );
    assert!(acme.ingestion.inline_images_enabled);
    assert_eq!(
        acme.confluence.space_types,
        ["global", "collaboration", "knowledge_base"]
    );
    match &acme.unique.auth {
        UniqueAuth::External {
            zitadel_project_id,
            zitadel_client_secret,
            zitadel_client_id,
            ..
        } => {
            assert_eq!(zitadel_project_id.expose_secret(), PLANTED_PROJECT);
            assert_eq!(
                zitadel_client_secret.expose_secret(),
                PLANTED_ZITADEL_SECRET
            );
            assert_eq!(zitadel_client_id, "confluence-connector");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(!acme.unique.allow_plain_http);

    let corp = &loaded.tenants[1];
    assert_eq!(corp.confluence.api_rate_limit_per_minute.get(), 50);
    assert_eq!(corp.confluence.space_types, ["global"]);
    assert_eq!(corp.processing.concurrency.get(), 3);
    assert_eq!(corp.processing.max_items_to_scan, None);
    assert_eq!(corp.processing.body_batch_size.get(), 50);
    assert!(corp.ingestion.use_v1_key_format);
    assert_eq!(
        corp.ingestion.attachments.allowed_mime_types,
        ["application/pdf", "text/plain"]
    );
    assert!(!corp.ingestion.attachments.image_ocr_enabled);
    assert!(
        matches!(&corp.confluence.auth, ConfluenceAuth::Pat { token } if token.expose_secret() == PLANTED_PAT)
    );
    match &corp.unique.auth {
        UniqueAuth::ClusterLocal {
            service_extra_headers,
        } => {
            assert_eq!(service_extra_headers["x-company-id"], "225317577440629999");
            assert_eq!(service_extra_headers["x-user-id"], "225318102862626816");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        corp.unique.allow_plain_http,
        "cluster_local allows plain http by default"
    );

    let legal = &loaded.tenants[2];
    assert_eq!(
        legal.confluence.base_url.as_str(),
        "https://wiki.legal.example.com/confluence"
    );
    assert_eq!(
        legal.confluence.instance_key(),
        "data-center:https://wiki.legal.example.com/confluence"
    );
    assert!(!legal.ingestion.store_internally);
    assert!(!legal.ingestion.attachments.enabled);
    assert_eq!(
        legal.processing.max_items_to_scan.map(|n| n.get()),
        Some(5000)
    );
    match &legal.confluence.auth {
        ConfluenceAuth::Basic { username, password } => {
            assert_eq!(username.expose_secret(), PLANTED_USER);
            assert_eq!(
                password.expose_secret(),
                PLANTED_PASSWORD,
                "trailing newline trimmed"
            );
        }
        other => panic!("unexpected {other:?}"),
    }

    assert_eq!(loaded.tenants[3].status, TenantStatus::Deleted);
    assert!(
        matches!(&loaded.tenants[4].confluence.auth, ConfluenceAuth::OAuth2Lo { client_id, .. } if client_id == "ops-confluence-app")
    );
}

#[test]
fn unknown_keys_are_ignored_with_a_warning_naming_file_and_key() {
    let loaded = load_reference();
    let step_timeouts: Vec<String> = loaded
        .warnings
        .iter()
        .filter(|w| w.field == "processing.stepTimeoutSeconds")
        .map(|w| w.file.clone())
        .collect();
    assert_eq!(step_timeouts.len(), 2, "{:?}", loaded.warnings);
    assert!(step_timeouts
        .iter()
        .any(|f| f.ends_with("corp-dc-pat-tenant-config.yaml")));
    assert!(step_timeouts
        .iter()
        .any(|f| f.ends_with("ops-dc-oauth-tenant-config.yaml")));
    assert!(loaded.warnings[0]
        .to_string()
        .contains("unknown key 'stepTimeoutSeconds' ignored"));
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
}

#[test]
fn debug_of_the_loaded_config_never_shows_secrets() {
    let loaded = load_reference();
    let text = format!("{loaded:?}\n{loaded:#?}\n{loaded}");
    for secret in planted() {
        assert!(!text.contains(secret), "leaks {secret}");
    }
    assert!(text.contains("REDACTED"));
}

#[test]
fn errors_never_show_secrets_even_when_other_fields_are_wrong() {
    let dir = TenantDir::new();
    let mut doc = cloud_doc();
    set(
        &mut doc,
        "confluence.auth.clientSecret",
        serde_json::json!(PLANTED_CLIENT_SECRET),
    );
    set(
        &mut doc,
        "confluence.baseUrl",
        serde_json::json!("http://user:pw-in-url@acme.atlassian.net"),
    );
    set(
        &mut doc,
        "unique.serviceAuthMode",
        serde_json::json!("external"),
    );
    set(
        &mut doc,
        "unique.zitadelClientSecret",
        serde_json::json!("os.environ/Z"),
    );
    set(
        &mut doc,
        "unique.zitadelProjectId",
        serde_json::json!(["not", "text", PLANTED_PROJECT]),
    );
    dir.write("acme-tenant-config.yaml", &doc);
    let e = dir.load(&[("Z", "   ")]).unwrap_err();
    let text = format!("{e}\n{e:?}");
    for secret in [PLANTED_CLIENT_SECRET, PLANTED_PROJECT, "pw-in-url"] {
        assert!(!text.contains(secret), "leaks {secret}: {text}");
    }
    assert_error(&e, "confluence.baseUrl", "contains a user name or password");
}

#[test]
fn inline_tenants_use_the_tenant_file_schema() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("connector.yaml");
    let tenant =
        std::fs::read_to_string(fixtures().join("reference/corp-dc-pat-tenant-config.yaml"))
            .unwrap();
    let indented: String = tenant.lines().map(|l| format!("      {l}\n")).collect();
    std::fs::write(
        &config,
        format!("tenants:\n  inline:\n    corp:\n{indented}"),
    )
    .unwrap();
    let env: Env = [("CONFLUENCE_PAT", "p")].into();
    let loaded = DaemonConfig::load(Some(&config), &env).unwrap();
    assert_eq!(loaded.tenants.len(), 1);
    let corp = &loaded.tenants[0];
    assert_eq!(corp.name, "corp");
    assert_eq!(
        corp.confluence.api_rate_limit_per_minute.get(),
        50,
        "text still converted"
    );
    assert!(
        matches!(&corp.source, connector::config::TenantSource::Inline(Some(p)) if p == &config)
    );
    assert!(loaded
        .warnings
        .iter()
        .any(|w| w.field == "tenants.inline.corp.processing.stepTimeoutSeconds"));
}

#[test]
fn display_summarises_tenants() {
    let text = load_reference().to_string();
    assert!(text.contains("5 tenant(s)"), "{text}");
    assert!(text.contains("corp-dc-pat (Active): data-center:https://confluence.corp.example.com"));
}

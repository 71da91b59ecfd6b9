//! Section O of the behaviour catalogue (configuration), one test per line, numbered.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/config/support.rs"]
mod support;

use connector::config::{
    ConfluenceAuth, ConfluenceInstance, TenantSource, TenantStatus, UniqueAuth,
    DEFAULT_ALLOWED_MIME_TYPES,
};
use secrecy::ExposeSecret;
use serde_json::json;
use support::*;

// 111
#[test]
fn o111_cloud_config_parses_wraps_client_secret_and_coerces_rate_limit_text() {
    let doc = with(
        cloud_doc(),
        "confluence.apiRateLimitPerMinute",
        json!("200"),
    );
    let t = load_one(&doc, &[]).unwrap();
    assert_eq!(t.confluence.api_rate_limit_per_minute.get(), 200);
    match &t.confluence.auth {
        ConfluenceAuth::OAuth2Lo {
            client_id,
            client_secret,
        } => {
            assert_eq!(client_id, "client-id");
            assert_eq!(client_secret.expose_secret(), "client-secret");
            assert!(format!("{client_secret:?}").contains("REDACTED"));
            assert!(!format!("{t:?}").contains("client-secret\""));
        }
        other => panic!("unexpected auth {other:?}"),
    }
    match &t.confluence.instance {
        ConfluenceInstance::Cloud {
            cloud_id,
            api_base_url,
            token_url,
        } => {
            assert_eq!(cloud_id, "cloud-1");
            assert_eq!(api_base_url.as_str(), "https://api.atlassian.com");
            assert_eq!(token_url.as_str(), "https://api.atlassian.com/oauth/token");
        }
        other => panic!("unexpected instance {other:?}"),
    }
}

// 112
#[test]
fn o112_cloud_rejects_trailing_slash_base_url() {
    let e = load_one_err(&with(
        cloud_doc(),
        "confluence.baseUrl",
        json!("https://tenant1.atlassian.net/"),
    ));
    assert_error(&e, "confluence.baseUrl", "ends with '/'");
}

#[test]
fn o112_cloud_rejects_invalid_base_url() {
    let e = load_one_err(&with(cloud_doc(), "confluence.baseUrl", json!("not-a-url")));
    assert_error(&e, "confluence.baseUrl", "is not a valid URL");
}

#[test]
fn o112_cloud_rejects_missing_cloud_id() {
    let e = load_one_err(&without(cloud_doc(), "confluence.cloudId"));
    assert_error(&e, "confluence.cloudId", "is missing");
}

#[test]
fn o112_cloud_rejects_pat_auth() {
    let e = load_one_err(&with(
        cloud_doc(),
        "confluence.auth",
        json!({"mode": "pat", "token": "t"}),
    ));
    assert_error(&e, "confluence.auth.mode", "oauth_2lo");
}

// 113
#[test]
fn o113_data_center_accepts_oauth_pat_and_basic() {
    let oauth = with(
        dc_doc(),
        "confluence.auth",
        json!({"mode": "oauth_2lo", "clientId": "id", "clientSecret": "s"}),
    );
    let t = load_one(&oauth, &[]).unwrap();
    assert!(matches!(t.confluence.auth, ConfluenceAuth::OAuth2Lo { .. }));
    match &t.confluence.instance {
        ConfluenceInstance::DataCenter { token_url } => assert_eq!(
            token_url.as_str(),
            "https://confluence.acme.com/rest/oauth2/latest/token"
        ),
        other => panic!("unexpected instance {other:?}"),
    }

    let t = load_one(&dc_doc(), &[]).unwrap();
    match &t.confluence.auth {
        ConfluenceAuth::Pat { token } => {
            assert_eq!(token.expose_secret(), "pat-token");
            assert!(!format!("{t:?}").contains("pat-token"));
        }
        other => panic!("unexpected auth {other:?}"),
    }

    let basic = with(
        dc_doc(),
        "confluence.auth",
        json!({"mode": "basic", "username": "u", "password": "p:w"}),
    );
    let t = load_one(&basic, &[]).unwrap();
    match &t.confluence.auth {
        ConfluenceAuth::Basic { username, password } => {
            assert_eq!(username.expose_secret(), "u");
            assert_eq!(password.expose_secret(), "p:w");
        }
        other => panic!("unexpected auth {other:?}"),
    }
}

// 114
#[test]
fn o114_env_references_resolve_for_client_secret_and_basic_username() {
    let doc = with(
        cloud_doc(),
        "confluence.auth.clientSecret",
        json!("os.environ/MY_SECRET"),
    );
    let t = load_one(&doc, &[("MY_SECRET", "from-env")]).unwrap();
    let ConfluenceAuth::OAuth2Lo { client_secret, .. } = &t.confluence.auth else {
        panic!("not oauth")
    };
    assert_eq!(client_secret.expose_secret(), "from-env");

    let doc = with(
        dc_doc(),
        "confluence.auth",
        json!({"mode": "basic", "username": "os.environ/CONF_USER", "password": "pw"}),
    );
    let t = load_one(&doc, &[("CONF_USER", "alice")]).unwrap();
    let ConfluenceAuth::Basic { username, .. } = &t.confluence.auth else {
        panic!("not basic")
    };
    assert_eq!(username.expose_secret(), "alice");
    assert!(!format!("{t:?}").contains("alice"));
}

// 115
#[test]
fn o115_ingestion_defaults() {
    let t = load_one(&cloud_doc(), &[]).unwrap();
    let i = &t.ingestion;
    assert!(i.store_internally);
    assert!(!i.use_v1_key_format);
    assert!(i.attachments.enabled);
    assert!(i.attachments.image_ocr_enabled);
    assert_eq!(i.attachments.max_file_size_mb.get(), 200);
    assert_eq!(i.attachments.allowed_mime_types, DEFAULT_ALLOWED_MIME_TYPES);
    assert!(i
        .attachments
        .allowed_mime_types
        .iter()
        .any(|m| m.ends_with("wordprocessingml.document")));
}

// 116
#[test]
fn o116_ingestion_switches_and_mime_types_are_parsed() {
    let doc = with(
        cloud_doc(),
        "ingestion",
        json!({
            "scopeId": "s",
            "storeInternally": "disabled",
            "useV1KeyFormat": "enabled",
            "attachments": {
                "mode": "disabled",
                "allowedMimeTypes": ["Application/PDF", "IMAGE/png"],
                "maxFileSizeMb": 50,
                "imageOcr": "disabled"
            }
        }),
    );
    let i = load_one(&doc, &[]).unwrap().ingestion;
    assert!(!i.store_internally);
    assert!(i.use_v1_key_format);
    assert!(!i.attachments.enabled);
    assert_eq!(
        i.attachments.allowed_mime_types,
        ["application/pdf", "image/png"]
    );
    assert!(!i.attachments.image_ocr_enabled);
    assert_eq!(i.attachments.max_file_size_mb.get(), 50);
}

// 117
#[test]
fn o117_ingestion_rejects_missing_or_empty_scope_id_and_zero_max_file_size() {
    let e = load_one_err(&without(cloud_doc(), "ingestion.scopeId"));
    assert_error(&e, "ingestion.scopeId", "is missing");
    let e = load_one_err(&with(cloud_doc(), "ingestion.scopeId", json!("")));
    assert_error(&e, "ingestion.scopeId", "is empty");
    let e = load_one_err(&with(
        cloud_doc(),
        "ingestion.attachments.maxFileSizeMb",
        json!(0),
    ));
    assert_error(&e, "ingestion.attachments.maxFileSizeMb", "out of range");
}

// 118
#[test]
fn o118_inline_images_enabled_only_with_enabled_true_and_a_language_model() {
    let extraction = "ingestion.pageIngestionConfig.htmlConfig.imageContentExtraction";
    let on = with(
        cloud_doc(),
        extraction,
        json!({"enabled": true, "languageModel": "GPT"}),
    );
    assert!(load_one(&on, &[]).unwrap().ingestion.inline_images_enabled);

    let absent = load_one(&cloud_doc(), &[]).unwrap();
    assert!(!absent.ingestion.inline_images_enabled);
    let no_enabled = with(cloud_doc(), extraction, json!({"languageModel": "GPT"}));
    assert!(
        !load_one(&no_enabled, &[])
            .unwrap()
            .ingestion
            .inline_images_enabled
    );
    let off = with(
        cloud_doc(),
        extraction,
        json!({"enabled": false, "languageModel": "GPT"}),
    );
    assert!(!load_one(&off, &[]).unwrap().ingestion.inline_images_enabled);

    let attachments_off = with(
        on,
        "ingestion.attachments",
        json!({"mode": "disabled", "imageOcr": "disabled"}),
    );
    assert!(
        load_one(&attachments_off, &[])
            .unwrap()
            .ingestion
            .inline_images_enabled
    );
}

// 119
#[test]
fn o119_enabled_extraction_without_language_model_is_a_load_error() {
    let extraction = "ingestion.pageIngestionConfig.htmlConfig.imageContentExtraction";
    for bad in [
        json!({"enabled": true}),
        json!({"enabled": true, "languageModel": "   "}),
    ] {
        let e = load_one_err(&with(cloud_doc(), extraction, bad));
        assert_error(
            &e,
            &format!("{extraction}.languageModel"),
            "languageModel is missing or empty",
        );
    }
}

// 120
#[test]
fn o120_page_ingestion_config_is_kept_verbatim_or_absent() {
    let config = json!({"htmlConfig": {"keep": [1, "two", {"three": null}]}, "other": true});
    let doc = with(cloud_doc(), "ingestion.pageIngestionConfig", config.clone());
    assert_eq!(
        load_one(&doc, &[]).unwrap().ingestion.page_ingestion_config,
        Some(config)
    );
    assert_eq!(
        load_one(&cloud_doc(), &[])
            .unwrap()
            .ingestion
            .page_ingestion_config,
        None
    );
}

// 121
#[test]
fn o121_processing_defaults() {
    let p = load_one(&cloud_doc(), &[]).unwrap().processing;
    assert_eq!(p.concurrency.get(), 1);
    assert_eq!(p.scan_interval_cron, "*/15 * * * *");
    assert_eq!(p.max_items_to_scan, None);
    assert_eq!(p.body_batch_size.get(), 250);
    let dc = load_one(&dc_doc(), &[]).unwrap().processing;
    assert_eq!(dc.body_batch_size.get(), 50);
}

#[test]
fn o121_processing_coerces_text_and_keeps_custom_cron() {
    let doc = with(
        cloud_doc(),
        "processing",
        json!({"concurrency": "3", "scanIntervalCron": "0 */2 * * *", "maxItemsToScan": "500"}),
    );
    let p = load_one(&doc, &[]).unwrap().processing;
    assert_eq!(p.concurrency.get(), 3);
    assert_eq!(p.scan_interval_cron, "0 */2 * * *");
    assert_eq!(p.max_items_to_scan.map(|n| n.get()), Some(500));
    let doc = with(cloud_doc(), "processing.maxItemsToScan", json!(""));
    assert_eq!(
        load_one(&doc, &[]).unwrap().processing.max_items_to_scan,
        None
    );
}

#[test]
fn o121_processing_rejects_zero_or_negative_concurrency_and_zero_max_items() {
    for bad in [json!(0), json!(-1)] {
        let e = load_one_err(&with(cloud_doc(), "processing.concurrency", bad));
        assert_error(&e, "processing.concurrency", "out of range");
    }
    let e = load_one_err(&with(cloud_doc(), "processing.maxItemsToScan", json!(0)));
    assert_error(&e, "processing.maxItemsToScan", "out of range");
}

// 122
#[test]
fn o122_secrets_are_trimmed_and_whitespace_only_is_rejected() {
    let doc = with(
        cloud_doc(),
        "confluence.auth.clientSecret",
        json!("os.environ/K8S_SECRET"),
    );
    let t = load_one(&doc, &[("K8S_SECRET", "value-with-newline\n")]).unwrap();
    let ConfluenceAuth::OAuth2Lo { client_secret, .. } = &t.confluence.auth else {
        panic!()
    };
    assert_eq!(client_secret.expose_secret(), "value-with-newline");

    let doc = with(
        cloud_doc(),
        "confluence.auth.clientSecret",
        json!("  padded  "),
    );
    let t = load_one(&doc, &[]).unwrap();
    let ConfluenceAuth::OAuth2Lo { client_secret, .. } = &t.confluence.auth else {
        panic!()
    };
    assert_eq!(client_secret.expose_secret(), "padded");

    let e = load_one_err(&with(
        cloud_doc(),
        "confluence.auth.clientSecret",
        json!(" \n\t "),
    ));
    assert_error(&e, "confluence.auth.clientSecret", "only whitespace");
    let doc = with(
        cloud_doc(),
        "confluence.auth.clientSecret",
        json!("os.environ/BLANK"),
    );
    let e = load_one(&doc, &[("BLANK", "  \n")]).unwrap_err();
    assert_error(
        &e,
        "confluence.auth.clientSecret",
        "empty or only whitespace",
    );
}

// 123
#[test]
fn o123_tenant_name_is_the_file_name_without_the_suffix() {
    let dir = TenantDir::new();
    for name in ["acme", "acme-corp", "default"] {
        let mut doc = cloud_doc();
        set(
            &mut doc,
            "confluence.cloudId",
            json!(format!("cloud-{name}")),
        );
        dir.write(&format!("{name}-tenant-config.yaml"), &doc);
    }
    let names: Vec<String> = dir
        .load(&[])
        .unwrap()
        .tenants
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["acme-corp", "acme", "default"]); // path order
}

// 124
#[test]
fn o124_invalid_tenant_names_are_rejected() {
    for bad in ["Acme", "acme_corp", "acme-"] {
        let dir = TenantDir::new();
        dir.write(&format!("{bad}-tenant-config.yaml"), &cloud_doc());
        let e = dir.load(&[]).unwrap_err();
        assert_error(&e, "file name", &format!("Invalid tenant name '{bad}'"));
    }
}

#[test]
fn o124_duplicate_tenant_names_across_directories_are_rejected() {
    let dir = TenantDir::new();
    dir.write("one/acme-tenant-config.yaml", &cloud_doc());
    dir.write(
        "two/acme-tenant-config.yaml",
        &with(cloud_doc(), "confluence.cloudId", json!("other")),
    );
    let e = dir.load(&[]).unwrap_err();
    assert_error(&e, "file name", "Duplicate tenant name 'acme'");
}

// 125
#[test]
fn o125_two_active_tenants_on_one_instance_are_rejected() {
    let dir = TenantDir::new();
    let cloud = with(cloud_doc(), "confluence.cloudId", json!("test-cloud-id"));
    dir.write("alpha-tenant-config.yaml", &cloud);
    dir.write("beta-tenant-config.yaml", &cloud);
    let e = dir.load(&[]).unwrap_err();
    assert_error(
        &e,
        "confluence",
        "Duplicate Confluence instance in tenants 'alpha' and 'beta': cloud:test-cloud-id",
    );

    let dir = TenantDir::new();
    dir.write("alpha-tenant-config.yaml", &dc_doc());
    dir.write("beta-tenant-config.yaml", &dc_doc());
    let e = dir.load(&[]).unwrap_err();
    assert_error(
        &e,
        "confluence",
        "Duplicate Confluence instance in tenants 'alpha' and 'beta': data-center:https://confluence.acme.com",
    );
}

// 126
#[test]
fn o126_different_instances_are_allowed_and_inactive_sharing_an_instance_is_excluded() {
    let dir = TenantDir::new();
    dir.write(
        "alpha-tenant-config.yaml",
        &with(cloud_doc(), "confluence.cloudId", json!("a")),
    );
    dir.write(
        "beta-tenant-config.yaml",
        &with(cloud_doc(), "confluence.cloudId", json!("b")),
    );
    let mut paused = with(cloud_doc(), "confluence.cloudId", json!("a"));
    set(&mut paused, "status", json!("inactive"));
    dir.write("gamma-tenant-config.yaml", &paused);
    let names: Vec<String> = dir
        .load(&[])
        .unwrap()
        .tenants
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
}

// 127
#[test]
fn o127_status_defaults_to_active_and_inactive_is_validated_then_excluded() {
    let t = load_one(&cloud_doc(), &[]).unwrap();
    assert_eq!(t.status, TenantStatus::Active);

    let dir = TenantDir::new();
    dir.write("live-tenant-config.yaml", &cloud_doc());
    dir.write(
        "paused-tenant-config.yaml",
        &with(
            with(cloud_doc(), "status", json!("inactive")),
            "confluence.cloudId",
            json!("p"),
        ),
    );
    let tenants = dir.load(&[]).unwrap().tenants;
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].name, "live");

    let broken = without(
        with(cloud_doc(), "status", json!("inactive")),
        "ingestion.scopeId",
    );
    let dir = TenantDir::new();
    dir.write("live-tenant-config.yaml", &cloud_doc());
    let broken_path = dir.write("paused-tenant-config.yaml", &broken);
    let e = dir.load(&[]).unwrap_err();
    assert_error(&e, "ingestion.scopeId", "is missing");
    assert_eq!(e.errors()[0].file, broken_path.display().to_string());
}

// 128
#[test]
fn o128_deleted_tenants_are_kept_in_order_fully_validated_and_may_be_the_only_ones() {
    let dir = TenantDir::new();
    dir.write(
        "a-tenant-config.yaml",
        &with(
            with(cloud_doc(), "status", json!("deleted")),
            "confluence.cloudId",
            json!("x"),
        ),
    );
    dir.write("b-tenant-config.yaml", &cloud_doc());
    dir.write(
        "c-tenant-config.yaml",
        &with(
            with(cloud_doc(), "status", json!("deleted")),
            "confluence.cloudId",
            json!("y"),
        ),
    );
    let statuses: Vec<(String, TenantStatus)> = dir
        .load(&[])
        .unwrap()
        .tenants
        .into_iter()
        .map(|t| (t.name, t.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("a".to_owned(), TenantStatus::Deleted),
            ("b".to_owned(), TenantStatus::Active),
            ("c".to_owned(), TenantStatus::Deleted)
        ]
    );

    let only_deleted = with(cloud_doc(), "status", json!("deleted"));
    assert_eq!(
        load_one(&only_deleted, &[]).unwrap().status,
        TenantStatus::Deleted
    );

    let invalid_deleted = without(only_deleted, "confluence.baseUrl");
    assert_error(
        &load_one_err(&invalid_deleted),
        "confluence.baseUrl",
        "is missing",
    );
}

// 129
#[test]
fn o129_all_tenants_inactive_is_an_error() {
    let e = load_one_err(&with(cloud_doc(), "status", json!("inactive")));
    assert_error(
        &e,
        "tenants",
        "No tenant configurations found. At least one tenant must have status \"active\" or \"deleted\".",
    );
}

// 130
#[test]
fn o130_cloud_oauth_and_dc_pat_load_with_env_secrets_in_file_order() {
    let dir = TenantDir::new();
    dir.write(
        "a-cloud-tenant-config.yaml",
        &with(
            cloud_doc(),
            "confluence.auth.clientSecret",
            json!("os.environ/CLOUD_SECRET"),
        ),
    );
    dir.write(
        "b-dc-tenant-config.yaml",
        &with(
            dc_doc(),
            "confluence.auth.token",
            json!("os.environ/DC_PAT"),
        ),
    );
    let tenants = dir
        .load(&[("CLOUD_SECRET", "cs"), ("DC_PAT", "pt")])
        .unwrap()
        .tenants;
    assert_eq!(tenants[0].name, "a-cloud");
    assert!(
        matches!(&tenants[0].confluence.auth, ConfluenceAuth::OAuth2Lo { client_secret, .. } if client_secret.expose_secret() == "cs")
    );
    assert_eq!(tenants[1].name, "b-dc");
    assert!(
        matches!(&tenants[1].confluence.auth, ConfluenceAuth::Pat { token } if token.expose_secret() == "pt")
    );
    assert!(
        matches!(&tenants[0].source, TenantSource::File(p) if p.ends_with("a-cloud-tenant-config.yaml"))
    );
}

// 131
#[test]
fn o131_missing_env_var_for_a_secret_fails_load() {
    let e = load_one_err(&with(
        cloud_doc(),
        "confluence.auth.clientSecret",
        json!("os.environ/NOPE_1"),
    ));
    assert_error(
        &e,
        "confluence.auth.clientSecret",
        "environment variable NOPE_1, which is not set",
    );
    let e = load_one_err(&with(
        dc_doc(),
        "confluence.auth.token",
        json!("os.environ/NOPE_2"),
    ));
    assert_error(&e, "confluence.auth.token", "NOPE_2");
    let external = with(
        cloud_doc(),
        "unique",
        json!({
            "serviceAuthMode": "external",
            "zitadelOauthTokenUrl": "https://auth.example.com/oauth/v2/token",
            "zitadelProjectId": "project",
            "zitadelClientId": "client",
            "zitadelClientSecret": "os.environ/NOPE_3",
            "ingestionServiceBaseUrl": "https://gw.example.com/ingestion",
            "scopeManagementServiceBaseUrl": "https://gw.example.com/scope-management"
        }),
    );
    assert_error(
        &load_one_err(&external),
        "unique.zitadelClientSecret",
        "NOPE_3",
    );
    let t = load_one(&external, &[("NOPE_3", "z")]).unwrap();
    assert!(matches!(t.unique.auth, UniqueAuth::External { .. }));
}

// 132
#[test]
fn o132_unset_pattern_and_pattern_without_matches_are_errors() {
    let e =
        connector::config::DaemonConfig::load(None, &connector::config::Env::empty()).unwrap_err();
    assert_error(
        &e,
        "tenants.files",
        "TENANT_CONFIG_PATH_PATTERN environment variable is not set",
    );

    let dir = TenantDir::new();
    let pattern = dir.pattern();
    let e = dir.load(&[]).unwrap_err();
    assert_error(
        &e,
        "tenants.files",
        &format!("No tenant configuration files found matching pattern '{pattern}'"),
    );
    assert_eq!(
        e.errors()[0].file,
        "environment variable TENANT_CONFIG_PATH_PATTERN"
    );
}

// 133
#[test]
fn o133_invalid_tenant_files_fail_with_an_error_naming_the_file() {
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "invalid yaml",
            "confluence: [unclosed\n".to_owned(),
            "(document)",
        ),
        (
            "missing required fields",
            serde_yaml_ng::to_string(&without(cloud_doc(), "unique")).unwrap(),
            "unique",
        ),
        (
            "pat with cloud",
            serde_yaml_ng::to_string(&with(
                cloud_doc(),
                "confluence.auth",
                json!({"mode": "pat", "token": "x"}),
            ))
            .unwrap(),
            "confluence.auth.mode",
        ),
        (
            "unknown auth mode",
            serde_yaml_ng::to_string(&with(cloud_doc(), "confluence.auth.mode", json!("saml")))
                .unwrap(),
            "confluence.auth.mode",
        ),
        (
            "recursive ingestion",
            serde_yaml_ng::to_string(&with(
                cloud_doc(),
                "ingestion.ingestionMode",
                json!("recursive"),
            ))
            .unwrap(),
            "ingestion.ingestionMode",
        ),
    ];
    for (case, text, field) in cases {
        let dir = TenantDir::new();
        let path = dir.write_text("acme-tenant-config.yaml", &text);
        let e = dir.load(&[]).unwrap_err();
        let error = e
            .errors()
            .iter()
            .find(|e| e.field == field)
            .unwrap_or_else(|| panic!("{case}: no error on {field}: {e}"));
        assert_eq!(error.file, path.display().to_string(), "{case}");
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{case}"
        );
    }
}

// 134
#[test]
fn o134_matched_file_without_the_suffix_is_an_error_naming_the_suffix() {
    let dir = TenantDir::new();
    dir.write("acme.yaml", &cloud_doc());
    let e = load_pattern(&format!("{}/*.yaml", dir.dir.path().display()), &[]).unwrap_err();
    assert_error(&e, "file name", "does not end with '-tenant-config.yaml'");
}

// 135: the reference caches its loader's result. Here loading is a plain function whose result
// owns everything; the binary loads once at startup and passes the value down, so nothing is
// re-read behind its back.
#[test]
fn o135_loaded_config_owns_its_data_and_files_are_not_read_again() {
    let dir = TenantDir::new();
    let path = dir.write("acme-tenant-config.yaml", &cloud_doc());
    let loaded = dir.load(&[]).unwrap();
    std::fs::remove_file(path).unwrap();
    let copy = loaded.clone();
    assert_eq!(copy.tenants[0].name, "acme");
    assert_eq!(copy.tenants[0].ingestion.scope_id, "root-scope-id");
}

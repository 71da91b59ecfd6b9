//! Our optional additions to the reference tenant format, and the Unique auth rules.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/config/support.rs"]
mod support;

use connector::config::{
    AllUsersPolicy, AnonymousPolicy, ConfluenceInstance, PermissionMode, PermissionSettings,
    UniqueAuth,
};
use serde_json::json;
use support::*;

#[test]
fn cloud_gateway_and_token_url_can_be_overridden() {
    let doc = with(
        with(
            cloud_doc(),
            "confluence.apiBaseUrl",
            json!("http://127.0.0.1:4010"),
        ),
        "confluence.tokenUrl",
        json!("https://auth.atlassian.com/oauth/token"),
    );
    let t = load_one(&doc, &[]).unwrap();
    let ConfluenceInstance::Cloud {
        api_base_url,
        token_url,
        ..
    } = &t.confluence.instance
    else {
        panic!("not cloud")
    };
    assert_eq!(api_base_url.as_str(), "http://127.0.0.1:4010");
    assert_eq!(token_url.as_str(), "https://auth.atlassian.com/oauth/token");
}

#[test]
fn data_center_token_url_can_be_overridden_and_api_base_url_is_ignored_with_a_warning() {
    let doc = with(
        with(
            dc_doc(),
            "confluence.tokenUrl",
            json!("https://sso.acme.com/token"),
        ),
        "confluence.apiBaseUrl",
        json!("https://api.atlassian.com"),
    );
    let dir = TenantDir::new();
    dir.write("dc-tenant-config.yaml", &doc);
    let loaded = dir.load(&[]).unwrap();
    let ConfluenceInstance::DataCenter { token_url } = &loaded.tenants[0].confluence.instance
    else {
        panic!("not dc")
    };
    assert_eq!(token_url.as_str(), "https://sso.acme.com/token");
    assert!(loaded
        .warnings
        .iter()
        .any(|w| w.field == "confluence.apiBaseUrl"));
}

#[test]
fn space_types_can_be_chosen_per_flavour() {
    let doc = with(
        cloud_doc(),
        "confluence.spaceTypes",
        json!(["global", "personal", "global"]),
    );
    assert_eq!(
        load_one(&doc, &[]).unwrap().confluence.space_types,
        ["global", "personal"]
    );

    let doc = with(dc_doc(), "confluence.spaceTypes", json!(["knowledge_base"]));
    assert_error(
        &load_one_err(&doc),
        "confluence.spaceTypes[0]",
        "expected a non-empty list of: global, personal",
    );
    let doc = with(cloud_doc(), "confluence.spaceTypes", json!([]));
    assert_error(
        &load_one_err(&doc),
        "confluence.spaceTypes",
        "is not a non-empty list",
    );
}

#[test]
fn plain_http_to_confluence_needs_allow_plain_http_except_on_loopback() {
    let doc = with(
        dc_doc(),
        "confluence.baseUrl",
        json!("http://confluence.acme.com"),
    );
    assert_error(
        &load_one_err(&doc),
        "confluence.baseUrl",
        "confluence.allowPlainHttp: true",
    );
    let allowed = with(doc, "confluence.allowPlainHttp", json!(true));
    assert!(load_one(&allowed, &[]).unwrap().confluence.allow_plain_http);
    for loopback in [
        "http://127.0.0.1:8090",
        "http://localhost:8090/confluence",
        "http://[::1]:8090",
    ] {
        let doc = with(dc_doc(), "confluence.baseUrl", json!(loopback));
        let t = load_one(&doc, &[]).unwrap();
        assert!(t.confluence.base_url.is_loopback());
        assert!(!t.confluence.allow_plain_http);
    }
}

#[test]
fn unique_plain_http_is_allowed_in_cluster_local_and_not_in_external_mode() {
    assert!(load_one(&cloud_doc(), &[]).unwrap().unique.allow_plain_http);
    let strict = with(cloud_doc(), "unique.allowPlainHttp", json!(false));
    assert_error(
        &load_one_err(&strict),
        "unique.ingestionServiceBaseUrl",
        "unique.allowPlainHttp: true",
    );

    let external = with(
        cloud_doc(),
        "unique",
        json!({
            "serviceAuthMode": "external",
            "zitadelOauthTokenUrl": "http://auth.example.com/oauth/v2/token",
            "zitadelProjectId": "p",
            "zitadelClientId": "c",
            "zitadelClientSecret": "s",
            "ingestionServiceBaseUrl": "https://gw.example.com/ingestion",
            "scopeManagementServiceBaseUrl": "https://gw.example.com/scope-management/"
        }),
    );
    let e = load_one_err(&external);
    assert_error(&e, "unique.zitadelOauthTokenUrl", "uses plain http");
    assert_error(&e, "unique.scopeManagementServiceBaseUrl", "ends with '/'");
}

#[test]
fn body_batch_size_is_bounded_by_what_the_api_allows() {
    let doc = with(cloud_doc(), "processing.bodyBatchSize", json!(100));
    assert_eq!(
        load_one(&doc, &[])
            .unwrap()
            .processing
            .body_batch_size
            .get(),
        100
    );
    let doc = with(dc_doc(), "processing.bodyBatchSize", json!(51));
    assert_error(
        &load_one_err(&doc),
        "processing.bodyBatchSize",
        "expected a whole number from 1 to 50",
    );
    let doc = with(cloud_doc(), "processing.bodyBatchSize", json!(251));
    assert_error(
        &load_one_err(&doc),
        "processing.bodyBatchSize",
        "from 1 to 250",
    );
}

#[test]
fn cluster_local_requires_company_and_user_headers() {
    let doc = with(
        cloud_doc(),
        "unique.serviceExtraHeaders",
        json!({"x-company-id": "c"}),
    );
    assert_error(
        &load_one_err(&doc),
        "unique.serviceExtraHeaders.x-user-id",
        "is missing or empty",
    );
    let doc = without(cloud_doc(), "unique.serviceExtraHeaders");
    assert_error(
        &load_one_err(&doc),
        "unique.serviceExtraHeaders",
        "is missing",
    );
    let doc = with(
        cloud_doc(),
        "unique.serviceExtraHeaders",
        json!({"x-company-id": 225317577440629999_u64, "x-user-id": "u", "x-extra": "kept"}),
    );
    let t = load_one(&doc, &[]).unwrap();
    let UniqueAuth::ClusterLocal {
        service_extra_headers,
    } = &t.unique.auth
    else {
        panic!("not cluster_local")
    };
    assert_eq!(service_extra_headers["x-company-id"], "225317577440629999");
    assert_eq!(service_extra_headers["x-extra"], "kept");
}

#[test]
fn unique_defaults_and_ingestion_config_are_kept() {
    let t = load_one(&cloud_doc(), &[]).unwrap();
    assert_eq!(t.unique.api_rate_limit_per_minute.get(), 100);
    assert_eq!(t.unique.ingestion_config, None);
    let doc = with(
        cloud_doc(),
        "unique.ingestionConfig",
        json!({"uniqueIngestionMode": "SKIP_INGESTION"}),
    );
    assert_eq!(
        load_one(&doc, &[]).unwrap().unique.ingestion_config,
        Some(json!({"uniqueIngestionMode": "SKIP_INGESTION"}))
    );
}

#[test]
fn keys_of_the_other_auth_mode_are_warned_about() {
    let doc = with(cloud_doc(), "unique.zitadelClientId", json!("left-over"));
    let dir = TenantDir::new();
    dir.write("t-tenant-config.yaml", &doc);
    let loaded = dir.load(&[]).unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.field == "unique.zitadelClientId"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn permissions_default_to_none_and_the_fail_closed_anonymous_policy() {
    let t = load_one(&cloud_doc(), &[]).unwrap();
    assert_eq!(t.permissions.mode, PermissionMode::None);
    assert_eq!(t.permissions.anonymous, AnonymousPolicy::Ignore);
    let t = load_one(&with(dc_doc(), "permissions", json!({})), &[]).unwrap();
    assert_eq!(t.permissions, PermissionSettings::default());
}

#[test]
fn permissions_mode_and_anonymous_accept_their_documented_values() {
    for (written, mode) in [
        ("none", PermissionMode::None),
        ("space", PermissionMode::Space),
        ("page", PermissionMode::Page),
    ] {
        let doc = with(dc_doc(), "permissions.mode", json!(written));
        assert_eq!(load_one(&doc, &[]).unwrap().permissions.mode, mode);
    }
    let doc = with(
        with(cloud_doc(), "permissions.mode", json!("page")),
        "permissions.anonymous",
        json!("allUsers"),
    );
    let doc = with(
        with(doc, "permissions.allUsers", json!("ignore")),
        "permissions.allUsersGroups",
        json!(["confluence-users", "everyone"]),
    );
    let t = load_one(&doc, &[]).unwrap();
    assert_eq!(
        t.permissions,
        PermissionSettings {
            mode: PermissionMode::Page,
            anonymous: AnonymousPolicy::AllUsers,
            all_users: AllUsersPolicy::Ignore,
            all_users_groups: vec!["confluence-users".into(), "everyone".into()],
        }
    );
}

#[test]
fn a_bad_permissions_value_names_the_file_the_field_and_every_valid_value() {
    let doc = with(
        with(dc_doc(), "permissions.mode", json!("pages")),
        "permissions.anonymous",
        json!(true),
    );
    let errors = load_one_err(&doc);
    assert_error(
        &errors,
        "permissions.mode",
        "'pages' is not allowed; expected one of: none, space, page",
    );
    assert_error(
        &errors,
        "permissions.anonymous",
        "expected one of: ignore, allUsers",
    );
    let doc = with(
        with(dc_doc(), "permissions.allUsers", json!("expand")),
        "permissions.allUsersGroups",
        json!("confluence-users"),
    );
    let errors = load_one_err(&doc);
    assert_error(
        &errors,
        "permissions.allUsers",
        "expected one of: mirror, ignore",
    );
    assert_error(
        &errors,
        "permissions.allUsersGroups",
        "a list of Confluence group names",
    );
    assert!(
        errors
            .errors()
            .iter()
            .all(|e| e.file.ends_with("t-tenant-config.yaml")),
        "{errors}"
    );
    let doc = with(dc_doc(), "permissions", json!("page"));
    assert_error(&load_one_err(&doc), "permissions", "mapping");
}

#[test]
fn an_unknown_permissions_key_is_warned_about_with_the_known_ones() {
    let dir = TenantDir::new();
    dir.write(
        "t-tenant-config.yaml",
        &with(dc_doc(), "permissions.everyone", json!("expand")),
    );
    let loaded = dir.load(&[]).unwrap();
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.field == "permissions.everyone" && w.message.contains("mode, anonymous")),
        "{:?}",
        loaded.warnings
    );
}

//! The corpus of bad tenant files under `fixtures/config/bad/<case>/`: each yields a clear error
//! naming the file, the field and what would be accepted.
#![allow(clippy::unwrap_used)]

#[path = "fixtures/config/support.rs"]
mod support;

use support::*;

/// Every error of `case` names a file of that case directory, and one error on `field`
/// contains `needle`.
#[track_caller]
fn assert_case(case: &str, field: &str, needle: &str) -> connector::config::ConfigErrors {
    let errors = load_bad(case);
    let dir = fixtures().join("bad").join(case);
    for e in errors.errors() {
        assert!(
            e.file.starts_with(&dir.display().to_string()),
            "{case}: error does not name a file of the case: {e}"
        );
        assert!(!e.expected.is_empty(), "{case}: no 'expected' in {e}");
        assert!(e.to_string().contains("; expected "), "{case}: {e}");
    }
    assert_error(&errors, field, needle);
    errors
}

#[test]
fn missing_fields_are_all_reported() {
    let e = assert_case("missing-fields", "confluence.baseUrl", "is missing");
    assert_error(&e, "ingestion.scopeId", "is missing");
}

#[test]
fn wrong_types_are_reported_with_the_type_found() {
    let e = assert_case(
        "wrong-types",
        "confluence.apiRateLimitPerMinute",
        "is a list",
    );
    assert_error(&e, "processing.concurrency", "is a boolean");
}

#[test]
fn unknown_status_lists_the_accepted_ones() {
    assert_case(
        "unknown-status",
        "status",
        "'paused' is not allowed; expected one of: active, inactive, deleted",
    );
}

#[test]
fn bad_cron_is_a_load_error_naming_the_field() {
    assert_case(
        "bad-cron",
        "processing.scanIntervalCron",
        "is not a valid cron expression",
    );
}

#[test]
fn missing_env_secret_names_the_variable() {
    assert_case(
        "missing-env-secret",
        "confluence.auth.clientSecret",
        "refers to environment variable CONFLUENCE_SECRET_THAT_IS_NOT_SET, which is not set",
    );
}

#[test]
fn duplicate_tenant_names_across_directories() {
    assert_case(
        "duplicate-tenant",
        "file name",
        "Duplicate tenant name 'acme'",
    );
}

#[test]
fn duplicate_instance_names_both_tenants() {
    assert_case(
        "duplicate-instance",
        "confluence",
        "Duplicate Confluence instance in tenants 'alpha' and 'beta': cloud:test-cloud-id",
    );
}

#[test]
fn trailing_slash_url_suggests_the_fix() {
    assert_case(
        "trailing-slash",
        "confluence.baseUrl",
        "expected the same URL without the trailing '/': 'https://acme.atlassian.net'",
    );
}

#[test]
fn bad_glob_is_reported_on_the_pattern() {
    let e = load_pattern("/tmp/[unclosed/*-tenant-config.yaml", &[]).unwrap_err();
    assert_error(&e, "tenants.files", "is not a valid glob pattern");
    assert_eq!(
        e.errors()[0].file,
        "environment variable TENANT_CONFIG_PATH_PATTERN"
    );
}

#[test]
fn whitespace_only_secret_is_rejected() {
    assert_case(
        "whitespace-secret",
        "confluence.auth.clientSecret",
        "is empty or only whitespace",
    );
}

#[test]
fn cloud_with_pat_is_rejected() {
    assert_case(
        "cloud-pat",
        "confluence.auth.mode",
        "not supported for instanceType cloud; expected oauth_2lo",
    );
}

#[test]
fn recursive_ingestion_mode_is_rejected() {
    assert_case(
        "recursive-mode",
        "ingestion.ingestionMode",
        "'recursive' is not allowed; expected one of: flat",
    );
}

#[test]
fn max_file_size_as_text_is_not_converted() {
    assert_case(
        "max-file-size-string",
        "ingestion.attachments.maxFileSizeMb",
        "is text (\"10\"), which this field does not convert",
    );
}

#[test]
fn zero_concurrency_is_rejected() {
    assert_case(
        "concurrency-zero",
        "processing.concurrency",
        "is 0, out of range",
    );
}

#[test]
fn several_errors_in_one_file_are_reported_together_one_per_line() {
    let e = assert_case("several-errors", "confluence.baseUrl", "is not a valid URL");
    for (field, needle) in [
        ("confluence.auth.clientSecret", "only whitespace"),
        ("processing.concurrency", "out of range"),
        ("processing.scanIntervalCron", "not a valid cron expression"),
        ("ingestion.ingestionMode", "'recursive'"),
        ("ingestion.attachments.maxFileSizeMb", "does not convert"),
    ] {
        assert_error(&e, field, needle);
    }
    assert_eq!(e.len(), 6, "{e}");
    assert_eq!(e.to_string().lines().count(), 6);
}

#[test]
fn invalid_yaml_names_the_document_and_position() {
    assert_case("invalid-yaml", "(document)", "is not valid YAML");
}

#[test]
fn file_without_the_tenant_suffix_is_rejected() {
    assert_case(
        "wrong-suffix",
        "file name",
        "does not end with '-tenant-config.yaml'",
    );
}

#[test]
fn invalid_tenant_name_in_the_file_name_is_rejected() {
    assert_case(
        "invalid-name",
        "file name",
        "Invalid tenant name 'Acme_Corp'",
    );
}

#[test]
fn no_error_of_the_corpus_shows_a_planted_secret() {
    let cases = std::fs::read_dir(fixtures().join("bad")).unwrap();
    for case in cases {
        let case = case.unwrap().file_name().into_string().unwrap();
        let e = load_bad(&case);
        for text in [e.to_string(), format!("{e:?}")] {
            for planted in ["planted-literal-secret", "planted-pat-value"] {
                assert!(!text.contains(planted), "{case} leaks {planted}: {text}");
            }
        }
    }
}

#[test]
fn duplicate_instance_is_reported_together_with_errors_in_other_files() {
    let dir = TenantDir::new();
    let cloud = serde_json::json!("dup-id");
    dir.write(
        "alpha-tenant-config.yaml",
        &with(cloud_doc(), "confluence.cloudId", cloud.clone()),
    );
    dir.write(
        "beta-tenant-config.yaml",
        &with(cloud_doc(), "confluence.cloudId", cloud),
    );
    dir.write(
        "gamma-tenant-config.yaml",
        &without(cloud_doc(), "ingestion.scopeId"),
    );
    let e = dir.load(&[]).unwrap_err();
    assert_error(
        &e,
        "confluence",
        "Duplicate Confluence instance in tenants 'alpha' and 'beta'",
    );
    assert_error(&e, "ingestion.scopeId", "is missing");
    assert_eq!(e.len(), 2, "{e}");
}

/// The exact wording operators see, reviewed as a diff when it changes.
#[test]
fn several_errors_message_snapshot() {
    let e = load_bad("several-errors");
    let text = e
        .to_string()
        .replace(&fixtures().display().to_string(), "<fixtures>");
    insta::with_settings!({snapshot_path => "fixtures/config/snapshots", prepend_module_to_snapshot => false}, {
        insta::assert_snapshot!("several_errors", text);
    });
}

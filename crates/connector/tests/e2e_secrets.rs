//! Secrets never reach the logs: known secrets are planted in the sandbox and the config, a full
//! cycle runs with debug logs, and none of them appears in anything the binary printed.
#![allow(clippy::unwrap_used)]

mod support;

use sandbox::unique::UniqueAuthMode;
use sandbox::SandboxConfig;
use support::*;

const CLOUD_SECRET: &str = "PLANTED-cloud-secret-7f3a91";
const DC_PASSWORD: &str = "PLANTED-dc-password-91b2c3";
const ZITADEL_SECRET: &str = "PLANTED-zitadel-secret-c4d5e6";
const PROJECT_ID: &str = "PLANTED-project-e6f7a8";

#[tokio::test(flavor = "multi_thread")]
async fn a_debug_logged_cycle_shows_no_secret() {
    let mut config = SandboxConfig::default();
    config.confluence.client_secret = CLOUD_SECRET.into();
    config.confluence.dc_password = DC_PASSWORD.into();
    config.unique.auth_mode = UniqueAuthMode::External;
    config.unique.zitadel_client_secret = ZITADEL_SECRET.into();
    config.unique.zitadel_project_id = PROJECT_ID.into();
    let sandbox = spawn_sandbox_with(config).await;
    let dir = tempfile::tempdir().unwrap();
    let unique = external(&sandbox, "os.environ/ZITADEL_SECRET", PROJECT_ID);
    let cloud_root = seed_root(&sandbox, "Cloud root");
    let dc_root = seed_root(&sandbox, "DC root");
    let config = write_config(
        dir.path(),
        ANY_PORT,
        "debug",
        &[
            cloud_tenant(
                &sandbox,
                "cloudy",
                &cloud_root,
                "os.environ/CLOUD_SECRET",
                &unique,
            ),
            dc_tenant(
                &sandbox,
                "dc",
                &dc_root,
                &format!("{{ mode: basic, username: sandbox-user, password: {DC_PASSWORD} }}"),
                &unique,
            ),
        ],
    );
    let out = run(
        Some(&config),
        &["sync", "--json"],
        &[
            ("CLOUD_SECRET", CLOUD_SECRET),
            ("ZITADEL_SECRET", ZITADEL_SECRET),
        ],
    )
    .await;
    let stdout = text(&out.stdout);
    let stderr = text(&out.stderr);
    assert!(
        out.status.success(),
        "the cycle must really run:\n{stdout}\n{stderr}"
    );
    assert!(
        stderr.lines().count() > 10,
        "expected debug logs, got:\n{stderr}"
    );
    assert!(!sandbox.unique.files().is_empty(), "nothing was ingested");
    for secret in [CLOUD_SECRET, DC_PASSWORD, ZITADEL_SECRET, PROJECT_ID] {
        assert!(!stdout.contains(secret), "{secret} on stdout");
        assert!(!stderr.contains(secret), "{secret} in the logs");
    }
    // Every line logged inside a span (the engine's and the clients' work all runs in the
    // tenant's) carries the tenant at the top level.
    let mut in_spans = 0;
    for line in stderr.lines() {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        if json.get("span").is_some() {
            in_spans += 1;
            let tenant = json["tenant"].as_str();
            assert!(
                matches!(tenant, Some("cloudy" | "dc")),
                "a line inside a span without its tenant: {line}"
            );
        }
    }
    assert!(
        in_spans > 10,
        "expected lines from the tenants' work:\n{stderr}"
    );
    let lower = stderr.to_lowercase();
    assert!(
        !lower.contains("bearer "),
        "an authorization header value was logged"
    );
    assert!(
        !lower.contains("basic c2fu"),
        "a basic credential was logged"
    );
}

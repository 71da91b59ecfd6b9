//! Planted secrets never show: not in `Debug` of configs or clients (before and after a token
//! was fetched), not in any error a wrong credential produces, on every auth mode.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use confluence_client::{AuthConfig, ConfluenceApi, ConfluenceError};

const CLIENT_SECRET: &str = "planted-client-secret-4711";
const PAT: &str = "planted-pat-0815";
const USER: &str = "planted-user-name";
const PASSWORD: &str = "planted-password-1234";

/// Access tokens the sandbox issues look like `sandbox-<32 hex>`.
fn shows_an_access_token(text: &str) -> bool {
    text.match_indices("sandbox-").any(|(i, m)| {
        let rest = &text[i + m.len()..];
        rest.len() >= 32 && rest[..32].chars().all(|c| c.is_ascii_hexdigit())
    })
}

fn assert_hidden(text: &str) {
    for planted in [CLIENT_SECRET, PAT, PASSWORD] {
        assert!(!text.contains(planted), "{planted} shown in: {text}");
    }
    assert!(
        !shows_an_access_token(text),
        "access token shown in: {text}"
    );
}

fn oauth(secret_value: &str) -> AuthConfig {
    AuthConfig::OAuth2lo {
        client_id: "sandbox-client-id".into(),
        client_secret: secret(secret_value),
    }
}

#[tokio::test]
async fn planted_secrets_never_appear_in_debug_or_errors_on_any_auth_mode() {
    let sb = spawn_sandbox_with(dataset(vec![page(1, "SP", None, &["ai-ingest"])]), |c| {
        c.confluence.client_secret = CLIENT_SECRET.into();
        c.confluence.dc_pat = PAT.into();
        c.confluence.dc_username = USER.into();
        c.confluence.dc_password = PASSWORD.into();
    })
    .await;

    let mut cloud = cloud_config(&sb);
    cloud.auth = oauth(CLIENT_SECRET);
    let dc_modes = [
        oauth(CLIENT_SECRET),
        AuthConfig::Pat { token: secret(PAT) },
        AuthConfig::Basic {
            username: secret(USER),
            password: secret(PASSWORD),
        },
    ];
    let mut configs = vec![cloud];
    configs.extend(dc_modes.into_iter().map(|auth| dc_config(&sb, auth)));

    for config in configs {
        assert_hidden(&format!("{config:?}"));
        let c = client(config.clone());
        assert_hidden(&format!("{c:?}"));
        // A working client holds a token (OAuth) or a credential: still hidden.
        assert_eq!(c.discover_labelled_pages().await.unwrap().len(), 1);
        assert_hidden(&format!("{c:?}"));
    }
    assert!(
        sb.confluence.live_tokens() >= 2,
        "both OAuth clients got tokens"
    );

    // Wrong credentials: the error names the problem, never the value sent.
    let wrong = [
        (true, oauth("wrong-planted-client-secret")),
        (false, oauth("wrong-planted-client-secret")),
        (
            false,
            AuthConfig::Pat {
                token: secret("wrong-planted-pat"),
            },
        ),
        (
            false,
            AuthConfig::Basic {
                username: secret(USER),
                password: secret("wrong-planted-password"),
            },
        ),
    ];
    for (is_cloud, auth) in wrong {
        let mut config = if is_cloud {
            cloud_config(&sb)
        } else {
            dc_config(&sb, auth.clone())
        };
        config.auth = auth;
        config.retry.max_retries = 0;
        config.retry.budget = std::time::Duration::ZERO;
        let err = client(config).discover_labelled_pages().await.unwrap_err();
        assert!(
            matches!(
                err,
                ConfluenceError::Unauthorized { .. } | ConfluenceError::TokenRejected { .. }
            ),
            "{err:?}"
        );
        let shown = format!("{err} {err:?}");
        assert_hidden(&shown);
        for wrong_value in [
            "wrong-planted-client-secret",
            "wrong-planted-pat",
            "wrong-planted-password",
        ] {
            assert!(
                !shown.contains(wrong_value),
                "{wrong_value} shown in: {shown}"
            );
        }
    }
}

//! Planted secrets never show: the Zitadel client secret, the project id (it scopes the token)
//! and the access token stay out of `Debug` of the config and the client (before and after the
//! token was fetched) and out of errors, including a rejected token and a failing token endpoint.
#![allow(clippy::unwrap_used)]

mod common;

use common::{config, spawn_stub, Reply};
use serde_json::json;
use unique_client::{ExternalAuth, SecretString, UniqueAuth, UniqueClient};

const CLIENT_SECRET: &str = "planted-zitadel-secret-9931";
const PROJECT_ID: &str = "planted-project-7214";
const ACCESS_TOKEN: &str = "planted-access-token-5521";

fn assert_hidden(text: &str) {
    for planted in [CLIENT_SECRET, PROJECT_ID, ACCESS_TOKEN] {
        assert!(!text.contains(planted), "{planted} shown in: {text}");
    }
}

fn client_for(stub: &common::Stub) -> UniqueClient {
    let auth = UniqueAuth::External(ExternalAuth::new(
        stub.url("/oauth/v2/token"),
        "client-id",
        SecretString::from(CLIENT_SECRET),
        SecretString::from(PROJECT_ID),
    ));
    let config = config(auth, stub.url(""), stub.url(""));
    assert_hidden(&format!("{config:?}"));
    UniqueClient::new(config).unwrap()
}

#[tokio::test]
async fn planted_secrets_stay_out_of_debug_and_errors() {
    // Token endpoint works; GraphQL accepts the first call and rejects every later one.
    let stub = spawn_stub(|request, _| {
        if request.path_and_query.ends_with("/oauth/v2/token") {
            Reply::json(
                json!({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600}),
            )
        } else if request.operation().as_deref() == Some("User") {
            Reply::json(json!({"data": {"me": {"user": {"id": "user-1"}}}}))
        } else {
            Reply::status(401)
        }
    })
    .await;
    let client = client_for(&stub);
    assert_hidden(&format!("{client:?}"));
    client.current_user_id().await.unwrap();
    assert_hidden(&format!("{client:?}"));
    // The secrets were really sent (so a leak would have had something to leak).
    let token_request = &stub.requests()[0];
    assert!(token_request
        .header("authorization")
        .unwrap()
        .starts_with("Basic "));
    assert!(String::from_utf8_lossy(&token_request.body).contains(PROJECT_ID));

    let err = client.scope_by_id("s1").await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("401") || shown.to_lowercase().contains("unauthorized"),
        "{shown}"
    );
    assert_hidden(&shown);

    // A token endpoint that echoes nothing useful: the error names the URL, not the secret.
    let failing = spawn_stub(|_, _| Reply::status(400)).await;
    let err = client_for(&failing).current_user_id().await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("/oauth/v2/token"), "{shown}");
    assert_hidden(&shown);
}

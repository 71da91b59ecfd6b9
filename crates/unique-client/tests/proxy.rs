//! The outbound proxy applies in `external` mode only (token request and API calls go through
//! it), while `cluster_local` traffic stays inside the cluster and never touches it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{cluster_local_auth, config, external_auth, spawn_stub, Reply};
use http_transport::{ProxyAuth, ProxyConfig};
use serde_json::json;
use unique_client::UniqueClient;

fn via(proxy: &common::Stub) -> ProxyConfig {
    ProxyConfig::Proxy {
        url: proxy.url(""),
        auth: ProxyAuth::None,
        ca_pem: None,
        headers: Vec::new(),
    }
}

/// A forward proxy that answers like Zitadel and Unique would, so the call succeeds through it.
async fn answering_proxy() -> common::Stub {
    spawn_stub(|request, _| {
        if request.path_and_query.ends_with("/oauth/v2/token") {
            Reply::json(
                json!({"access_token": "via-proxy", "token_type": "Bearer", "expires_in": 3600}),
            )
        } else {
            Reply::json(json!({"data": {"me": {"user": {"id": "user-1"}}}}))
        }
    })
    .await
}

#[tokio::test]
async fn external_mode_sends_the_token_request_and_api_calls_through_the_proxy() {
    let proxy = answering_proxy().await;
    // Nothing listens on these: only the proxy can have answered.
    let mut config = config(
        external_auth("http://127.0.0.1:9/oauth/v2/token".into()),
        "http://127.0.0.1:9".into(),
        "http://127.0.0.1:9".into(),
    );
    config.transport.proxy = via(&proxy);
    let client = UniqueClient::new(config).unwrap();
    assert_eq!(client.current_user_id().await.unwrap(), "user-1");

    let seen = proxy.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].method, "POST");
    assert!(seen[0].path_and_query.ends_with("/oauth/v2/token"));
    assert_eq!(seen[1].path_and_query, "/graphql");
    assert_eq!(seen[1].header("authorization"), Some("Bearer via-proxy"));
}

#[tokio::test]
async fn cluster_local_mode_ignores_a_configured_proxy() {
    let proxy = answering_proxy().await;
    let service =
        spawn_stub(|_, _| Reply::json(json!({"data": {"me": {"user": {"id": "direct-user"}}}})))
            .await;
    let mut config = config(cluster_local_auth(), service.url(""), service.url(""));
    config.transport.proxy = via(&proxy);
    let client = UniqueClient::new(config).unwrap();

    assert_eq!(client.current_user_id().await.unwrap(), "direct-user");
    assert!(proxy.requests().is_empty(), "{:?}", proxy.requests());
    assert_eq!(service.requests().len(), 1);
}

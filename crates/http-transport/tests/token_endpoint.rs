//! The OAuth client-credentials request against a loopback token server.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use bytes::Bytes;
use common::{config, serve, Hits};
use http::{HeaderMap, StatusCode};
use http_transport::{
    AuthError, Authorizer, ExposeSecret, SecretString, TokenCache, TokenEndpoint, TokenRequest,
    TokenSource,
};

type Seen = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// A token server that answers the scripted `(status, body)` pairs in order (the last one
/// repeats) and records every request.
async fn token_server(script: Vec<(StatusCode, &'static str)>) -> (url::Url, Seen, Hits) {
    let seen: Seen = Arc::default();
    let hits = Hits::default();
    let (s, h) = (seen.clone(), hits.clone());
    let router = Router::new().route(
        "/oauth/token",
        post(move |headers: HeaderMap, body: Bytes| {
            let (seen, hits, script) = (s.clone(), h.clone(), script.clone());
            async move {
                seen.lock().unwrap().push((headers, body));
                let n = hits.hit() as usize;
                let (status, body) = script[(n - 1).min(script.len() - 1)];
                (status, body).into_response()
            }
        }),
    );
    let base = serve(router).await;
    (base.join("oauth/token").unwrap(), seen, hits)
}

const GOOD: &str = r#"{"access_token":"tok-1","expires_in":3600,"token_type":"Bearer"}"#;

fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

fn json_request() -> TokenRequest {
    TokenRequest::JsonClientCredentials {
        client_id: "client-id".to_owned(),
        client_secret: secret("super-secret-value"),
    }
}

#[tokio::test]
async fn posts_the_cloud_json_body_exactly() {
    let (url, seen, _) = token_server(vec![(StatusCode::OK, GOOD)]).await;
    let endpoint = TokenEndpoint::new(&config(), url, json_request()).unwrap();
    let token = endpoint.fetch().await.unwrap();
    assert_eq!(token.access_token.expose_secret(), "tok-1");
    assert!(token.expires_at.is_some());
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        std::str::from_utf8(body).unwrap(),
        r#"{"grant_type":"client_credentials","client_id":"client-id","client_secret":"super-secret-value"}"#
    );
}

#[tokio::test]
async fn posts_the_form_body_with_extra_fields_in_order() {
    let (url, seen, _) = token_server(vec![(StatusCode::OK, GOOD)]).await;
    let request = TokenRequest::FormClientCredentials {
        client_id: "client id".to_owned(),
        client_secret: secret("s&cret=1"),
        extra: vec![("scope".to_owned(), "READ".to_owned())],
    };
    let endpoint = TokenEndpoint::new(&config(), url, request).unwrap();
    endpoint.fetch().await.unwrap();
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    assert_eq!(
        std::str::from_utf8(body).unwrap(),
        "grant_type=client_credentials&client_id=client+id&client_secret=s%26cret%3D1&scope=READ"
    );
}

#[tokio::test]
async fn basic_auth_form_puts_the_client_in_the_header() {
    let (url, seen, _) = token_server(vec![(StatusCode::OK, GOOD)]).await;
    let request = TokenRequest::FormBasicAuth {
        client_id: "zitadel-client".to_owned(),
        client_secret: secret("zitadel-secret"),
        form: vec![
            ("scope".to_owned(), "openid profile".to_owned()),
            ("grant_type".to_owned(), "client_credentials".to_owned()),
        ],
    };
    let endpoint = TokenEndpoint::new(&config(), url, request).unwrap();
    endpoint.fetch().await.unwrap();
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(
        headers["authorization"],
        "Basic eml0YWRlbC1jbGllbnQ6eml0YWRlbC1zZWNyZXQ="
    );
    assert_eq!(
        std::str::from_utf8(body).unwrap(),
        "scope=openid+profile&grant_type=client_credentials"
    );
}

#[tokio::test]
async fn retries_a_server_error_then_succeeds() {
    let (url, _, hits) = token_server(vec![
        (StatusCode::INTERNAL_SERVER_ERROR, "boom"),
        (StatusCode::TOO_MANY_REQUESTS, "slow down"),
        (StatusCode::OK, GOOD),
    ])
    .await;
    let endpoint = TokenEndpoint::new(&config(), url, json_request()).unwrap();
    endpoint.fetch().await.unwrap();
    assert_eq!(hits.count(), 3);
}

#[tokio::test]
async fn a_client_error_is_not_retried_and_never_shows_the_secret() {
    let (url, _, hits) = token_server(vec![(
        StatusCode::UNAUTHORIZED,
        r#"{"error":"invalid_client"}"#,
    )])
    .await;
    let endpoint = TokenEndpoint::new(&config(), url, json_request()).unwrap();
    let err = endpoint.fetch().await.unwrap_err();
    match &err {
        AuthError::TokenStatus { status, body, url } => {
            assert_eq!(*status, 401);
            assert!(body.as_str().contains("invalid_client"));
            assert!(url.ends_with("/oauth/token"));
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(hits.count(), 1);
    assert!(!err.to_string().contains("super-secret-value"));
    assert!(!format!("{err:?}").contains("super-secret-value"));
    assert!(!format!("{endpoint:?}").contains("super-secret-value"));
}

#[tokio::test]
async fn gives_up_when_the_retry_budget_runs_out_with_the_last_status() {
    let (url, _, hits) = token_server(vec![(StatusCode::BAD_GATEWAY, "")]).await;
    let config = config();
    let endpoint = TokenEndpoint::new(&config, url, json_request()).unwrap();
    let started = std::time::Instant::now();
    let err = endpoint.fetch().await.unwrap_err();
    assert!(
        matches!(&err, AuthError::TokenStatus { status: 502, body, .. } if body == "No response body"),
        "{err}"
    );
    // Not a count: it retried past `max_retries`, ...
    assert!(
        hits.count() > config.retry.max_retries + 1,
        "{}",
        hits.count()
    );
    // ... and stopped before a retry would end past the budget: at most one backoff step early.
    // The budget is real time spent on a real socket; a lower bound, which a slow machine cannot
    // break.
    assert!(
        started.elapsed() >= config.retry.budget - config.retry.max_delay,
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn names_the_missing_field() {
    for (body, field) in [
        (r#"{"expires_in":3600}"#, "access_token"),
        (r#"{"access_token":"tok"}"#, "expires_in"),
    ] {
        let (url, _, _) = token_server(vec![(StatusCode::OK, body)]).await;
        let endpoint = TokenEndpoint::new(&config(), url, json_request()).unwrap();
        let err = endpoint.fetch().await.unwrap_err();
        assert!(
            matches!(&err, AuthError::TokenResponse { reason, .. } if reason.as_str().contains(field)),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_non_json_success_is_an_error() {
    let (url, _, hits) = token_server(vec![(StatusCode::OK, "<html>hello</html>")]).await;
    let endpoint = TokenEndpoint::new(&config(), url, json_request()).unwrap();
    let err = endpoint.fetch().await.unwrap_err();
    assert!(matches!(err, AuthError::TokenResponse { .. }), "{err}");
    assert_eq!(hits.count(), 1);
}

#[tokio::test]
async fn a_refused_connection_is_retried_then_reported() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = url::Url::parse(&format!("http://127.0.0.1:{port}/oauth/token")).unwrap();
    let endpoint = TokenEndpoint::new(&config(), url, json_request()).unwrap();
    let err = endpoint.fetch().await.unwrap_err();
    assert!(matches!(err, AuthError::TokenRequest { .. }), "{err}");
}

#[tokio::test]
async fn refuses_plain_http_to_a_remote_token_url() {
    let url = url::Url::parse("http://example.invalid/oauth/token").unwrap();
    let err = TokenEndpoint::new(&config(), url, json_request()).unwrap_err();
    assert!(
        matches!(err, http_transport::TransportError::PlainHttpRefused { .. }),
        "{err}"
    );
}

#[tokio::test]
async fn three_concurrent_callers_share_one_token_fetch() {
    let (url, _, hits) = token_server(vec![(StatusCode::OK, GOOD)]).await;
    let cache = TokenCache::new(TokenEndpoint::new(&config(), url, json_request()).unwrap());
    let (a, b, c) = tokio::join!(
        cache.authorization(),
        cache.authorization(),
        cache.authorization()
    );
    for header in [a, b, c] {
        let header = header.unwrap().unwrap();
        assert_eq!(header, "Bearer tok-1");
        assert!(header.is_sensitive());
    }
    assert_eq!(hits.count(), 1);
    // Still fresh: no new fetch.
    cache.authorization().await.unwrap();
    assert_eq!(hits.count(), 1);
}

#[tokio::test]
async fn an_api_401_fetches_a_new_token_from_the_endpoint_and_retries() {
    use axum::routing::get;
    use http_transport::{NoopObserver, ReadOnly, Transport};

    let (token_url, _, token_hits) = token_server(vec![
        (
            StatusCode::OK,
            r#"{"access_token":"old","expires_in":3600}"#,
        ),
        (
            StatusCode::OK,
            r#"{"access_token":"new","expires_in":3600}"#,
        ),
    ])
    .await;
    let api = serve(Router::new().route(
        "/api",
        get(|headers: HeaderMap| async move {
            if headers["authorization"] == "Bearer new" {
                (StatusCode::OK, "data")
            } else {
                (StatusCode::UNAUTHORIZED, "expired")
            }
        }),
    ))
    .await;
    let cache = TokenCache::new(TokenEndpoint::new(&config(), token_url, json_request()).unwrap());
    let transport = Transport::<ReadOnly>::new(config(), Arc::new(NoopObserver)).unwrap();
    let response = transport
        .get(api.join("api").unwrap(), HeaderMap::new(), &cache)
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "data");
    assert_eq!(token_hits.count(), 2);
}

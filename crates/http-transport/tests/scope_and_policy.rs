//! A 401 for missing OAuth scopes is reported as such without a useless token refresh, and a
//! transport derived with another retry policy keeps the limiter of the one it came from.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use common::{config, serve, Hits, RecordingObserver};
use http::{HeaderMap, StatusCode};
use http_transport::{
    AuthError, ReadOnly, RetryPolicy, Token, TokenCache, TokenSource, Transport, TransportError,
    TransportObserver,
};
use secrecy::SecretString;

#[derive(Debug, Default)]
struct CountingSource(AtomicU32);

impl TokenSource for CountingSource {
    fn fetch(
        &self,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Token, AuthError>> + Send + '_>>
    {
        Box::pin(async move {
            let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Token {
                access_token: SecretString::from(format!("token-{n}")),
                expires_at: None,
            })
        })
    }
}

fn transport() -> Transport<ReadOnly> {
    Transport::<ReadOnly>::new(
        config(),
        Arc::new(RecordingObserver::default()) as Arc<dyn TransportObserver>,
    )
    .unwrap()
}

/// Answers every request as the Atlassian gateway answers a token that lacks the route's scope.
fn scope_check(hits: Hits, with_header: bool) -> Router {
    Router::new().route(
        "/wiki/api/v2/pages/1/attachments",
        get(move || {
            let hits = hits.clone();
            async move {
                hits.hit();
                let mut headers = HeaderMap::new();
                if with_header {
                    headers.insert(
                        "x-failure-category",
                        "FAILURE_CLIENT_SCOPE_CHECK".parse().unwrap(),
                    );
                }
                (
                    StatusCode::UNAUTHORIZED,
                    headers,
                    r#"{"code":401,"message":"Unauthorized; scope does not match"}"#,
                )
                    .into_response()
            }
        }),
    )
}

#[tokio::test]
async fn a_scope_mismatch_is_reported_without_refreshing_the_token() {
    for with_header in [true, false] {
        let hits = Hits::default();
        let base = serve(scope_check(hits.clone(), with_header)).await;
        let cache = TokenCache::new(CountingSource::default());
        let err = transport()
            .get(
                base.join("wiki/api/v2/pages/1/attachments").unwrap(),
                HeaderMap::new(),
                &cache,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                TransportError::ScopeMismatch {
                    service: "test",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(err.status(), Some(StatusCode::UNAUTHORIZED));
        assert!(err.to_string().contains("scope does not match"), "{err}");
        assert_eq!(hits.count(), 1, "no retry with a fresh token");
        assert_eq!(cache.source().0.load(Ordering::SeqCst), 1, "no refresh");
    }
}

#[tokio::test]
async fn a_derived_transport_uses_its_own_retry_policy_and_the_same_limiter() {
    let hits = Hits::default();
    let counter = hits.clone();
    let base = serve(Router::new().route(
        "/busy",
        get(move || {
            let hits = counter.clone();
            async move {
                hits.hit();
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }),
    ))
    .await;
    let patient = transport();
    let impatient = patient.with_retry_policy(RetryPolicy {
        max_retries: 0,
        budget: std::time::Duration::ZERO,
        ..patient.config().retry
    });
    let url = base.join("busy").unwrap();
    let err = impatient
        .get(url.clone(), HeaderMap::new(), &http_transport::NoAuth)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert_eq!(hits.count(), 1);
    patient
        .get(url, HeaderMap::new(), &http_transport::NoAuth)
        .await
        .unwrap_err();
    // A GET is retried within the time budget, so the count depends on the jittered backoff.
    assert!(
        hits.count() > 1 + 2,
        "the original still retries within its budget: {} attempts",
        hits.count() - 1
    );
    // One limiter: a pause set through either holds back both.
    impatient.limiter().pause_for(Duration::from_secs(60));
    let shown = format!("{:?}", patient.limiter());
    assert!(shown.contains("paused_until: Some"), "{shown}");
}

//! TLS trust (extra CA bundle), the proxy modes (no auth, basic, headers, TLS client
//! certificate, proxy CA) against loopback servers.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::Request as AxumRequest;
use axum::Router;
use base64::Engine as _;
use common::{config, serve};
use http::HeaderMap;
use http_transport::{
    NoAuth, ProxyAuth, ProxyConfig, SecretString, StaticAuthorizer, Transport, TransportConfig,
    TransportError,
};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use url::Url;

const CA: &[u8] = include_bytes!("fixtures/ca.pem");
const SERVER_CERT: &[u8] = include_bytes!("fixtures/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("fixtures/server.key");
const CLIENT_CERT: &[u8] = include_bytes!("fixtures/client.pem");
const CLIENT_KEY: &str = include_str!("fixtures/client.key");

/// A minimal HTTPS/1.1 server signed by the test CA. With `require_client_cert`, the handshake
/// fails unless the client presents a certificate from the test CA. Every answer is `200` with
/// the request line and `client-cert` or `anonymous` as the body.
async fn tls_server(require_client_cert: bool) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap();
    let builder = if require_client_cert {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(CA) {
            roots.add(cert.unwrap()).unwrap();
        }
        let verifier =
            rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let chain: Vec<_> = CertificateDer::pem_slice_iter(SERVER_CERT)
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap();
    let server_config = builder.with_single_cert(chain, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                let client = if tls.get_ref().1.peer_certificates().is_some() {
                    "client-cert"
                } else {
                    "anonymous"
                };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request);
                let request_line = text.lines().next().unwrap_or_default().to_owned();
                let body = format!("{client}\n{request_line}\n{text}");
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    port
}

fn transport(config: TransportConfig) -> Transport {
    Transport::new(config, Arc::new(http_transport::NoopObserver)).unwrap()
}

#[tokio::test]
async fn trusts_a_server_signed_by_the_extra_ca() {
    let port = tls_server(false).await;
    let mut config = config();
    config.extra_ca_pem = Some(CA.to_vec());
    let url = Url::parse(&format!("https://localhost:{port}/secure")).unwrap();
    let body = transport(config)
        .get(url, HeaderMap::new(), &NoAuth)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.starts_with("anonymous\nGET /secure HTTP/1.1"),
        "{body}"
    );
}

#[tokio::test]
async fn refuses_an_unknown_server_certificate_without_retrying() {
    let port = tls_server(false).await;
    let observer = Arc::new(common::RecordingObserver::default());
    let transport = Transport::<http_transport::ReadOnly>::new(config(), observer.clone()).unwrap();
    let url = Url::parse(&format!("https://127.0.0.1:{port}/secure")).unwrap();
    let err = transport
        .get(url, HeaderMap::new(), &NoAuth)
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");
    assert_eq!(
        observer.retry_count(),
        0,
        "a certificate problem does not fix itself"
    );
}

#[tokio::test]
async fn an_invalid_extra_ca_bundle_is_a_setup_error() {
    let mut config = config();
    config.extra_ca_pem = Some(b"not a certificate".to_vec());
    let err =
        Transport::<http_transport::ReadOnly>::new(config, Arc::new(http_transport::NoopObserver))
            .unwrap_err();
    assert!(matches!(err, TransportError::Setup(_)), "{err}");
}

#[tokio::test]
async fn presents_the_client_certificate_to_an_https_proxy_it_trusts_by_the_proxy_ca() {
    let proxy_port = tls_server(true).await;
    let mut config = config();
    config.proxy = ProxyConfig::Proxy {
        url: format!("https://localhost:{proxy_port}"),
        auth: ProxyAuth::ClientCertificate {
            cert_pem: CLIENT_CERT.to_vec(),
            key_pem: SecretString::from(CLIENT_KEY.to_owned()),
        },
        ca_pem: Some(CA.to_vec()),
        headers: vec![("x-proxy-team".to_owned(), "connectors".to_owned())],
    };
    // The proxy answers itself; the target is never contacted.
    let url = Url::parse("http://127.0.0.1:9/resource").unwrap();
    let body = transport(config)
        .get(url, HeaderMap::new(), &NoAuth)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.starts_with("client-cert\nGET http://127.0.0.1:9/resource HTTP/1.1"),
        "{body}"
    );
    assert!(
        body.to_ascii_lowercase()
            .contains("x-proxy-team: connectors"),
        "{body}"
    );
}

#[tokio::test]
async fn an_invalid_client_key_is_a_setup_error_that_hides_the_key() {
    let mut config = config();
    config.proxy = ProxyConfig::Proxy {
        url: "https://localhost:3128".to_owned(),
        auth: ProxyAuth::ClientCertificate {
            cert_pem: CLIENT_CERT.to_vec(),
            key_pem: SecretString::from(
                "-----BEGIN PRIVATE KEY-----\nbroken-key-material\n".to_owned(),
            ),
        },
        ca_pem: None,
        headers: Vec::new(),
    };
    let err =
        Transport::<http_transport::ReadOnly>::new(config, Arc::new(http_transport::NoopObserver))
            .unwrap_err();
    assert!(matches!(err, TransportError::Setup(_)), "{err}");
    assert!(!err.to_string().contains("broken-key-material"));
}

/// A plain HTTP forward proxy: records what it receives and answers itself.
type Seen = Arc<Mutex<Vec<(String, HeaderMap)>>>;

async fn forward_proxy() -> (Url, Seen) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    let router = Router::new().fallback(move |request: AxumRequest| {
        let seen = s.clone();
        async move {
            seen.lock()
                .unwrap()
                .push((request.uri().to_string(), request.headers().clone()));
            "from the proxy"
        }
    });
    (serve(router).await, seen)
}

fn proxied(url: &Url, auth: ProxyAuth, headers: Vec<(String, String)>) -> TransportConfig {
    let mut config = config();
    config.proxy = ProxyConfig::Proxy {
        url: url.as_str().trim_end_matches('/').to_owned(),
        auth,
        ca_pem: None,
        headers,
    };
    config
}

#[tokio::test]
async fn goes_through_a_proxy_without_credentials() {
    let (proxy, seen) = forward_proxy().await;
    let config = proxied(&proxy, ProxyAuth::None, Vec::new());
    let auth = StaticAuthorizer::bearer(&SecretString::from("api-token".to_owned())).unwrap();
    let body = transport(config)
        .get(
            Url::parse("http://127.0.0.1:9/wiki/x").unwrap(),
            HeaderMap::new(),
            &auth,
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "from the proxy");
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].0, "http://127.0.0.1:9/wiki/x");
    assert!(seen[0].1.get("proxy-authorization").is_none());
    assert_eq!(seen[0].1["authorization"], "Bearer api-token");
}

#[tokio::test]
async fn sends_basic_credentials_and_extra_headers_to_the_proxy() {
    let (proxy, seen) = forward_proxy().await;
    let config = proxied(
        &proxy,
        ProxyAuth::Basic {
            username: "proxy-user".to_owned(),
            password: SecretString::from("proxy:pass".to_owned()),
        },
        vec![("x-proxy-team".to_owned(), "connectors".to_owned())],
    );
    transport(config)
        .get(
            Url::parse("http://127.0.0.1:9/x").unwrap(),
            HeaderMap::new(),
            &NoAuth,
        )
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("proxy-user:proxy:pass")
    );
    assert_eq!(seen[0].1["proxy-authorization"], expected.as_str());
    assert_eq!(seen[0].1["x-proxy-team"], "connectors");
}

#[tokio::test]
async fn the_token_endpoint_uses_the_proxy_too() {
    let (proxy, seen) = forward_proxy().await;
    let config = proxied(&proxy, ProxyAuth::None, Vec::new());
    let endpoint = http_transport::TokenEndpoint::new(
        &config,
        Url::parse("http://127.0.0.1:9/oauth/token").unwrap(),
        http_transport::TokenRequest::JsonClientCredentials {
            client_id: "id".to_owned(),
            client_secret: SecretString::from("s".to_owned()),
        },
    )
    .unwrap();
    // The proxy answers text, not a token: the point is that it was asked.
    let _ = http_transport::TokenSource::fetch(&endpoint).await;
    assert_eq!(seen.lock().unwrap()[0].0, "http://127.0.0.1:9/oauth/token");
}

#[tokio::test]
async fn a_stalled_tls_handshake_hits_the_connect_timeout_and_is_not_retried() {
    // Accepts TCP connections and never answers the ClientHello.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let mut config = config();
    config.timeouts.connect = std::time::Duration::from_millis(150);
    let observer = Arc::new(common::RecordingObserver::default());
    let transport = Transport::<http_transport::ReadOnly>::new(config, observer.clone()).unwrap();
    let err = transport
        .get(
            Url::parse(&format!("https://127.0.0.1:{port}/")).unwrap(),
            HeaderMap::new(),
            &NoAuth,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                what: "the connection",
                ..
            }
        ),
        "{err}"
    );
    // `what` names the connect timeout (150 ms), not the 2 s header timeout, and the observer
    // saw no retry: no wall-clock bound is needed to tell which one ended it.
    assert_eq!(observer.retry_count(), 0);
}

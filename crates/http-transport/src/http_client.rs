//! Building the `reqwest` client from a [`TransportConfig`]: TLS roots, the proxy, the connect
//! timeout.

use http::{HeaderMap, HeaderName, HeaderValue};
use secrecy::ExposeSecret as _;

use crate::config::{ProxyAuth, ProxyConfig};
use crate::failure::error_chain;
use crate::redact::redact_url;
use crate::{TransportConfig, TransportError};

/// Builds the `reqwest` client shared by [`Transport`] and [`crate::TokenEndpoint`]: rustls
/// with the platform's roots (plus the bundled Mozilla roots, so a minimal container still
/// works) and the extra CA bundle; the proxy; the connect timeout. Redirects are never followed
/// by `reqwest`: we follow them ourselves so that every hop pays the limiter and credentials are
/// dropped on a change of origin. Public so that callers' own probes (the connector's
/// connectivity checks) trust and route exactly as the transport does.
pub fn build_http_client(config: &TransportConfig) -> Result<reqwest::Client, TransportError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(config.timeouts.connect)
        .user_agent(config.user_agent.clone());
    if let Some(pem) = &config.extra_ca_pem {
        for certificate in parse_certificates(pem, "extra CA bundle")? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder = apply_proxy(builder, &config.proxy)?;
    builder.build().map_err(|e| {
        TransportError::Setup(format!("building the HTTP client: {}", error_chain(&e)))
    })
}

pub(crate) fn parse_certificates(
    pem: &[u8],
    what: &str,
) -> Result<Vec<reqwest::Certificate>, TransportError> {
    let certificates = reqwest::Certificate::from_pem_bundle(pem)
        .map_err(|e| TransportError::Setup(format!("reading the {what}: {}", error_chain(&e))))?;
    if certificates.is_empty() {
        return Err(TransportError::Setup(format!(
            "the {what} contains no PEM certificate"
        )));
    }
    Ok(certificates)
}

/// Applies the proxy mode to the client builder. `ProxyConfig::None` also ignores the
/// `HTTP(S)_PROXY` environment variables, like the reference's plain agent does: the proxy is
/// configured in one place only.
pub(crate) fn apply_proxy(
    mut builder: reqwest::ClientBuilder,
    proxy: &ProxyConfig,
) -> Result<reqwest::ClientBuilder, TransportError> {
    let ProxyConfig::Proxy {
        url,
        auth,
        ca_pem,
        headers,
    } = proxy
    else {
        return Ok(builder.no_proxy());
    };
    let mut reqwest_proxy = reqwest::Proxy::all(url.as_str()).map_err(|e| {
        TransportError::Setup(format!(
            "invalid proxy URL {}: {}",
            redact_url(url),
            e.without_url()
        ))
    })?;
    match auth {
        ProxyAuth::None => {}
        ProxyAuth::Basic { username, password } => {
            reqwest_proxy = reqwest_proxy.custom_http_auth(crate::auth::basic_header(
                username,
                password.expose_secret(),
            ));
        }
        ProxyAuth::ClientCertificate { cert_pem, key_pem } => {
            let mut pem = cert_pem.clone();
            pem.push(b'\n');
            pem.extend_from_slice(key_pem.expose_secret().as_bytes());
            let identity = reqwest::Identity::from_pem(&pem).map_err(|_| {
                TransportError::Setup(
                    "the proxy client certificate or key is not a valid PEM certificate chain and private key"
                        .to_owned(),
                )
            })?;
            builder = builder.identity(identity);
        }
    }
    if !headers.is_empty() {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                TransportError::Setup(format!("invalid proxy header name {name:?}"))
            })?;
            let mut header_value = HeaderValue::from_str(value).map_err(|_| {
                TransportError::Setup(format!("invalid value for proxy header {name:?}"))
            })?;
            header_value.set_sensitive(true);
            map.append(header_name, header_value);
        }
        reqwest_proxy = reqwest_proxy.headers(map);
    }
    if let Some(pem) = ca_pem {
        for certificate in parse_certificates(pem, "proxy CA bundle")? {
            builder = builder.add_root_certificate(certificate);
        }
    }
    Ok(builder.proxy(reqwest_proxy))
}

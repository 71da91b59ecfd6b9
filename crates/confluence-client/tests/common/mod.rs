//! Shared set-up of the integration tests: a sandbox in-process, clients of both flavours with
//! tiny retry delays and a generous rate limit, and dataset builders.
#![allow(clippy::unwrap_used, dead_code)]

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use confluence_client::{AuthConfig, ConfluenceClient, ConfluenceConfig, SecretString};
use futures::StreamExt;
use http_transport::{NoopObserver, RetryPolicy, Timeouts};
use sandbox::confluence::{
    default_when, Attachment, AttachmentData, Content, ContentType, Dataset, Space, SpaceType,
};
use sandbox::{SandboxConfig, SandboxHandle};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    Cloud,
    DataCenter,
}

pub const BOTH: [Flavour; 2] = [Flavour::Cloud, Flavour::DataCenter];

impl Flavour {
    /// The sandbox service name in the request log.
    pub fn service(self) -> &'static str {
        match self {
            Flavour::Cloud => "cloud",
            Flavour::DataCenter => "dc",
        }
    }
}

pub fn secret(s: &str) -> SecretString {
    SecretString::from(s.to_owned())
}

pub async fn spawn_sandbox(dataset: Dataset) -> SandboxHandle {
    spawn_sandbox_with(dataset, |_| {}).await
}

pub async fn spawn_sandbox_with(
    dataset: Dataset,
    tweak: impl FnOnce(&mut SandboxConfig),
) -> SandboxHandle {
    let mut config = SandboxConfig::default();
    config.confluence.dataset = dataset;
    tweak(&mut config);
    sandbox::spawn(config).await.unwrap()
}

/// Fast tests: no meaningful rate limit, millisecond retries.
pub fn make_fast(config: &mut ConfluenceConfig) {
    config.rate_limit_per_minute = NonZeroU32::new(600_000).unwrap();
    config.retry = RetryPolicy {
        budget: Duration::from_millis(300),
        max_retries: 5,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    };
    config.timeouts = Timeouts {
        connect: Duration::from_secs(5),
        headers: Duration::from_secs(10),
        idle_body: Duration::from_secs(10),
    };
}

pub fn cloud_config(sb: &SandboxHandle) -> ConfluenceConfig {
    let mut config = ConfluenceConfig::cloud(
        sb.urls.cloud_site.clone(),
        sb.urls.cloud_id.clone(),
        "sandbox-client-id",
        secret("sandbox-client-secret"),
    );
    config.api_gateway_url = sb.urls.cloud_gateway.clone();
    config.token_url = Some(format!("{}/oauth/token", sb.urls.cloud_gateway));
    make_fast(&mut config);
    config
}

pub fn dc_oauth() -> AuthConfig {
    AuthConfig::OAuth2lo {
        client_id: "sandbox-client-id".into(),
        client_secret: secret("sandbox-client-secret"),
    }
}

pub fn dc_pat() -> AuthConfig {
    AuthConfig::Pat {
        token: secret("sandbox-pat"),
    }
}

pub fn dc_basic() -> AuthConfig {
    AuthConfig::Basic {
        username: secret("sandbox-user"),
        password: secret("sandbox-password"),
    }
}

pub fn dc_config(sb: &SandboxHandle, auth: AuthConfig) -> ConfluenceConfig {
    let mut config = ConfluenceConfig::data_center(sb.urls.dc_base.clone(), auth);
    make_fast(&mut config);
    config
}

pub fn config_for(sb: &SandboxHandle, flavour: Flavour) -> ConfluenceConfig {
    match flavour {
        Flavour::Cloud => cloud_config(sb),
        Flavour::DataCenter => dc_config(sb, dc_oauth()),
    }
}

pub fn client(config: ConfluenceConfig) -> ConfluenceClient {
    ConfluenceClient::new(config, Arc::new(NoopObserver)).unwrap()
}

pub fn client_for(sb: &SandboxHandle, flavour: Flavour) -> ConfluenceClient {
    client(config_for(sb, flavour))
}

// ---- datasets ----------------------------------------------------------------------------

pub fn space(id: &str, key: &str, space_type: SpaceType) -> Space {
    Space {
        id: id.into(),
        key: key.into(),
        name: format!("Space {key}"),
        space_type,
    }
}

pub fn content(
    id: u64,
    content_type: ContentType,
    space: &str,
    parent: Option<u64>,
    labels: &[&str],
) -> Content {
    Content {
        id: id.to_string(),
        content_type,
        title: format!("Title {id}"),
        space: space.into(),
        parent: parent.map(|p| p.to_string()),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        body: format!("<p>Body of {id}</p>"),
        version: 1,
        when: default_when(),
        attachments: Vec::new(),
    }
}

pub fn page(id: u64, space: &str, parent: Option<u64>, labels: &[&str]) -> Content {
    content(id, ContentType::Page, space, parent, labels)
}

/// The bytes the sandbox serves for [`attachment`] `id`.
pub fn attachment_text(id: &str) -> String {
    format!("contents of {id}: {}", "x".repeat(40))
}

pub fn attachment(id: &str, title: &str, media_type: &str) -> Attachment {
    Attachment {
        id: id.into(),
        title: title.into(),
        media_type: media_type.into(),
        version: 1,
        when: default_when(),
        data: AttachmentData::Text(attachment_text(id)),
    }
}

/// `count` attachments with ids `att<page_id * 1000 + i>`.
pub fn attachments_for(page_id: u64, count: usize) -> Vec<Attachment> {
    (0..count)
        .map(|i| {
            let id = format!("att{}", page_id * 1000 + i as u64);
            attachment(&id, &format!("file-{i}.pdf"), "application/pdf")
        })
        .collect()
}

/// One global space `SP` (id 98304) and the given content.
pub fn dataset(content: Vec<Content>) -> Dataset {
    Dataset {
        spaces: vec![space("98304", "SP", SpaceType::Global)],
        content,
    }
}

pub async fn collect_stream(stream: confluence_client::ByteStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut stream = stream;
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.unwrap());
    }
    out
}

/// The sandbox's request log for one service, as (method, route, path_and_query).
pub fn requests(sb: &SandboxHandle, service: &str) -> Vec<(String, String, String)> {
    sb.requests
        .records_for(service)
        .into_iter()
        .map(|r| (r.method, r.route, r.path_and_query))
        .collect()
}

/// Nothing but GET reached Confluence, apart from the OAuth token POST.
pub fn assert_only_gets_and_token_posts(sb: &SandboxHandle) {
    for service in ["cloud", "cloud-site", "media", "dc"] {
        for record in sb.requests.records_for(service) {
            let token_post = record.method == "POST"
                && (record.route == "/oauth/token"
                    || record.route.ends_with("/rest/oauth2/latest/token"));
            assert!(
                record.method == "GET" || token_post,
                "{} {} {} reached the sandbox",
                service,
                record.method,
                record.path_and_query
            );
        }
    }
}

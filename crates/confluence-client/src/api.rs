//! The engine-facing contract: one trait, two implementations, and an enum that picks one at
//! run time so the engine need not be generic.

use std::future::Future;
use std::sync::Arc;

use http_transport::{
    Authorizer, QuotaWait, ReadOnly, Response, StaticAuthorizer, TokenCache, TokenEndpoint,
    TokenRequest, Transport, TransportObserver,
};

use crate::cloud::CloudClient;
use crate::config::{AuthConfig, ConfluenceConfig};
use crate::core::{Core, COMPLETION_CONCURRENCY};
use crate::data_center::DataCenterClient;
use crate::error::ConfigProblem;
use crate::model::{
    AttachmentStream, ContentRef, InlineAttachmentInfo, InstanceId, InstanceType, Page,
    PageAttachments, PageBody,
};
use crate::ConfluenceError;

/// Everything the engine asks of Confluence. Every request is a `GET` (the client holds only a
/// [`Transport<ReadOnly>`]); OAuth token `POST`s go through the transport's token endpoint.
pub trait ConfluenceApi: Send + Sync {
    fn instance_type(&self) -> InstanceType;

    /// Cloud: the configured cloudId, no HTTP. Data Center: the application-links manifest,
    /// fetched without credentials.
    fn resolve_instance_id(
        &self,
    ) -> impl Future<Output = Result<InstanceId, ConfluenceError>> + Send;

    /// Every page carrying either ingest label in a space of an allowed type, all result pages
    /// followed, attachments completed past the inline cap.
    fn discover_labelled_pages(
        &self,
    ) -> impl Future<Output = Result<Vec<Page>, ConfluenceError>> + Send;

    /// All descendants (any depth) of the roots, in batches of 100 roots, deduplicated by id
    /// (first occurrence wins), attachments completed. Empty input → no request.
    fn descendant_pages(
        &self,
        root_ids: &[String],
    ) -> impl Future<Output = Result<Vec<Page>, ConfluenceError>> + Send;

    /// Storage bodies of the given content, as few requests as the API allows. Content that no
    /// longer exists (or has no body endpoint, like folders on Cloud) is simply absent.
    fn page_bodies(
        &self,
        content: &[ContentRef],
    ) -> impl Future<Output = Result<Vec<PageBody>, ConfluenceError>> + Send;

    /// The page with this exact title in this space, with all its attachments; `None` when
    /// attachments are disabled or no such page exists (image inlining of other pages' images).
    fn page_attachments_by_title(
        &self,
        space_key: &str,
        title: &str,
    ) -> impl Future<Output = Result<Option<PageAttachments>, ConfluenceError>> + Send;

    /// Completes a page's attachment list when the inline list was possibly truncated
    /// (`size >= limit`): Cloud replaces it with the v2 listing, Data Center appends the pages
    /// behind `children.attachment._links.next`. Discovery already calls this.
    fn complete_attachments(
        &self,
        page: &mut Page,
    ) -> impl Future<Output = Result<(), ConfluenceError>> + Send;

    /// The attachment's bytes as a stream. Cloud: the REST download endpoint (redirects to the
    /// media host, which gets no `Authorization`); Data Center: `download_path`.
    fn download_attachment(
        &self,
        page_id: &str,
        attachment_id: &str,
        download_path: &str,
    ) -> impl Future<Output = Result<AttachmentStream, ConfluenceError>> + Send;

    /// A small authenticated CQL search (`limit=1`): proves reachability, credentials and that
    /// the search endpoint still exists. For `confluence-connector check`.
    fn probe(&self) -> impl Future<Output = Result<(), ConfluenceError>> + Send;

    /// The page's web URL (metadata only).
    fn page_web_url(&self, page: &Page) -> String;

    /// The attachment's web URL (metadata only).
    fn attachment_web_url(&self, page_id: &str, attachment_id: &str, title: &str) -> String;
}

/// A Cloud or Data Center client, chosen by the configuration.
#[derive(Debug)]
pub enum ConfluenceClient {
    Cloud(CloudClient),
    DataCenter(DataCenterClient),
}

impl ConfluenceClient {
    /// Validates the configuration and builds the transport and credentials for it.
    pub fn new(
        config: ConfluenceConfig,
        observer: Arc<dyn TransportObserver>,
    ) -> Result<Self, ConfluenceError> {
        config.validate()?;
        let core = build_core(&config, observer)?;
        Ok(match config.instance_type {
            InstanceType::Cloud => ConfluenceClient::Cloud(CloudClient::new(config, core)),
            InstanceType::DataCenter => {
                ConfluenceClient::DataCenter(DataCenterClient::new(config, core))
            }
        })
    }

    pub fn config(&self) -> &ConfluenceConfig {
        match self {
            ConfluenceClient::Cloud(c) => c.config(),
            ConfluenceClient::DataCenter(c) => c.config(),
        }
    }

    /// `Some` while every request of this tenant waits for Confluence Cloud's points quota to
    /// reset (the transport holds them; see `http_transport::QuotaWait`), `None` otherwise. Data
    /// Center has no points quota and never waits.
    pub fn quota_waits(&self) -> tokio::sync::watch::Receiver<Option<QuotaWait>> {
        let core = match self {
            ConfluenceClient::Cloud(c) => c.core(),
            ConfluenceClient::DataCenter(c) => c.core(),
        };
        core.transport.quota_waits()
    }
}

pub(crate) fn build_core(
    config: &ConfluenceConfig,
    observer: Arc<dyn TransportObserver>,
) -> Result<Core, ConfluenceError> {
    let instance = config.instance_label();
    let transport_config = config.transport_config();
    let setup_error = |endpoint: &str, source| ConfluenceError::Transport {
        instance: instance.clone(),
        endpoint: endpoint.to_owned(),
        source: Box::new(source),
    };
    let auth: Arc<dyn Authorizer> = match &config.auth {
        AuthConfig::OAuth2lo {
            client_id,
            client_secret,
        } => {
            let token_url = config.effective_token_url();
            let url = url::Url::parse(&token_url).map_err(|e| ConfluenceError::Config {
                problems: vec![ConfigProblem {
                    path: "auth.tokenUrl".to_owned(),
                    message: e.to_string(),
                }],
            })?;
            let request = match config.instance_type {
                InstanceType::Cloud => TokenRequest::JsonClientCredentials {
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                },
                // Data Center service accounts get no scope unless they ask for READ.
                InstanceType::DataCenter => TokenRequest::FormClientCredentials {
                    client_id: client_id.clone(),
                    client_secret: client_secret.clone(),
                    extra: vec![("scope".to_owned(), "READ".to_owned())],
                },
            };
            let endpoint = TokenEndpoint::new(&transport_config, url, request)
                .map_err(|e| setup_error(&token_url, e))?;
            Arc::new(TokenCache::with_refresh_before(
                endpoint,
                config.token_refresh_before,
            ))
        }
        AuthConfig::Pat { token } => {
            Arc::new(StaticAuthorizer::bearer(token).map_err(|_| invalid_credential("auth.token"))?)
        }
        AuthConfig::Basic { username, password } => Arc::new(
            StaticAuthorizer::basic(username, password)
                .map_err(|_| invalid_credential("auth.username"))?,
        ),
    };
    let retry = transport_config.retry;
    let transport = Transport::<ReadOnly>::new(transport_config, observer)
        .map_err(|e| setup_error("(transport setup)", e))?;
    // No retries at all: neither the count nor the time budget (what a GET is retried by).
    let search_transport = transport.with_retry_policy(http_transport::RetryPolicy {
        max_retries: 0,
        budget: std::time::Duration::ZERO,
        ..retry
    });
    Ok(Core {
        instance_type: config.instance_type,
        transport,
        search_transport,
        search_limit: Arc::new(std::sync::atomic::AtomicUsize::new(
            crate::core::SEARCH_LIMIT,
        )),
        auth,
        api_root: config.api_root(),
        instance,
        page_cap: config.page_cap,
        attachments_enabled: config.attachments_enabled,
    })
}

fn invalid_credential(path: &str) -> ConfluenceError {
    ConfluenceError::Config {
        problems: vec![ConfigProblem {
            path: path.to_owned(),
            message: "cannot be sent in an HTTP header".to_owned(),
        }],
    }
}

/// Wraps a download response; the body is never buffered here.
pub(crate) fn attachment_stream(response: Response) -> AttachmentStream {
    let header = |name: http::HeaderName| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_length = header(http::header::CONTENT_LENGTH).and_then(|v| v.parse().ok());
    let content_type = header(http::header::CONTENT_TYPE);
    AttachmentStream {
        content_length,
        content_type,
        stream: response.into_stream(),
    }
}

impl ConfluenceApi for ConfluenceClient {
    fn instance_type(&self) -> InstanceType {
        match self {
            ConfluenceClient::Cloud(c) => c.instance_type(),
            ConfluenceClient::DataCenter(c) => c.instance_type(),
        }
    }

    async fn resolve_instance_id(&self) -> Result<InstanceId, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.resolve_instance_id().await,
            ConfluenceClient::DataCenter(c) => c.resolve_instance_id().await,
        }
    }

    async fn discover_labelled_pages(&self) -> Result<Vec<Page>, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.discover_labelled_pages().await,
            ConfluenceClient::DataCenter(c) => c.discover_labelled_pages().await,
        }
    }

    async fn descendant_pages(&self, root_ids: &[String]) -> Result<Vec<Page>, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.descendant_pages(root_ids).await,
            ConfluenceClient::DataCenter(c) => c.descendant_pages(root_ids).await,
        }
    }

    async fn page_bodies(&self, content: &[ContentRef]) -> Result<Vec<PageBody>, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.page_bodies(content).await,
            ConfluenceClient::DataCenter(c) => c.page_bodies(content).await,
        }
    }

    async fn page_attachments_by_title(
        &self,
        space_key: &str,
        title: &str,
    ) -> Result<Option<PageAttachments>, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.page_attachments_by_title(space_key, title).await,
            ConfluenceClient::DataCenter(c) => c.page_attachments_by_title(space_key, title).await,
        }
    }

    async fn complete_attachments(&self, page: &mut Page) -> Result<(), ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.complete_attachments(page).await,
            ConfluenceClient::DataCenter(c) => c.complete_attachments(page).await,
        }
    }

    async fn download_attachment(
        &self,
        page_id: &str,
        attachment_id: &str,
        download_path: &str,
    ) -> Result<AttachmentStream, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => {
                c.download_attachment(page_id, attachment_id, download_path)
                    .await
            }
            ConfluenceClient::DataCenter(c) => {
                c.download_attachment(page_id, attachment_id, download_path)
                    .await
            }
        }
    }

    async fn probe(&self) -> Result<(), ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.probe().await,
            ConfluenceClient::DataCenter(c) => c.probe().await,
        }
    }

    fn page_web_url(&self, page: &Page) -> String {
        match self {
            ConfluenceClient::Cloud(c) => c.page_web_url(page),
            ConfluenceClient::DataCenter(c) => c.page_web_url(page),
        }
    }

    fn attachment_web_url(&self, page_id: &str, attachment_id: &str, title: &str) -> String {
        match self {
            ConfluenceClient::Cloud(c) => c.attachment_web_url(page_id, attachment_id, title),
            ConfluenceClient::DataCenter(c) => c.attachment_web_url(page_id, attachment_id, title),
        }
    }
}

/// Completes the attachment list of every page whose inline list may be truncated, a few pages
/// at a time: each completion is a short chain of requests, and the rate limiter, not this loop,
/// should set the pace. Shared by both flavours; only `complete_attachments` differs.
///
/// A listing that answers 404 or 403 means that page was deleted or restricted since the
/// search: the page keeps what the search inlined and is marked
/// [`Page::attachments_incomplete`], and discovery goes on. Any other error fails it.
pub(crate) async fn complete_truncated_attachments<C: ConfluenceApi>(
    client: &C,
    pages: &mut [Page],
) -> Result<(), ConfluenceError> {
    // Plain loops rather than stream combinators: closures over borrowed pages would make the
    // future lose `Send` (higher-ranked lifetime inference).
    let mut truncated: Vec<&mut Page> = Vec::new();
    for page in pages.iter_mut() {
        if page
            .inline_attachments
            .as_ref()
            .is_some_and(InlineAttachmentInfo::possibly_truncated)
        {
            truncated.push(page);
        }
    }
    for group in truncated.chunks_mut(COMPLETION_CONCURRENCY) {
        let mut completions = Vec::with_capacity(group.len());
        let mut ids = Vec::with_capacity(group.len());
        for page in group.iter_mut() {
            ids.push(page.id.clone());
            completions.push(client.complete_attachments(page));
        }
        let results = futures::future::join_all(completions).await;
        let mut unavailable = Vec::new();
        for (id, result) in ids.into_iter().zip(results) {
            match result {
                Ok(()) => {}
                Err(e) if matches!(e.status(), Some(403 | 404)) => {
                    tracing::warn!(page_id = %id, err = %e, "attachment listing unavailable (page deleted or restricted since the search): keeping the page's stored attachments this cycle");
                    unavailable.push(id);
                }
                Err(e) => return Err(e),
            }
        }
        for page in group.iter_mut().filter(|p| unavailable.contains(&p.id)) {
            page.attachments_incomplete = true;
        }
    }
    Ok(())
}

/// The attachments of the page titled `title` in `space_key` (image inlining), found by CQL on
/// both flavours ([`Core::page_by_title`]) and completed past the inline cap; `None` when
/// attachments are disabled or there is no such page.
pub(crate) async fn attachments_of_page_titled<C: ConfluenceApi>(
    client: &C,
    core: &Core,
    search_path: &str,
    space_key: &str,
    title: &str,
) -> Result<Option<PageAttachments>, ConfluenceError> {
    if !core.attachments_enabled {
        return Ok(None);
    }
    let Some(mut page) = core.page_by_title(search_path, space_key, title).await? else {
        return Ok(None);
    };
    client.complete_attachments(&mut page).await?;
    Ok(Some(PageAttachments {
        page_id: page.id,
        attachments: page.attachments,
    }))
}

//! [`ConfluenceClient`]: the Cloud or the Data Center client, chosen by the configuration.

use std::collections::HashMap;

use crate::model::Space;
use crate::model::{Account, ContentAccess, Group, Principal};
use std::sync::Arc;

use http_transport::{QuotaWait, TransportObserver};

use crate::api::ConfluenceApi;
use crate::cloud::CloudClient;
use crate::config::ConfluenceConfig;
use crate::core::Core;
use crate::data_center::DataCenterClient;
use crate::model::{
    AttachmentStream, ContentRef, InstanceId, InstanceType, Page, PageAttachments, PageBody,
};
use crate::ConfluenceError;

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
        let core = Core::connect(config, observer)?;
        Ok(match core.instance_type {
            InstanceType::Cloud => ConfluenceClient::Cloud(CloudClient::new(core)),
            InstanceType::DataCenter => ConfluenceClient::DataCenter(DataCenterClient::new(core)),
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

    async fn space_read_grants(&self, space: &Space) -> Result<Vec<Principal>, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.space_read_grants(space).await,
            ConfluenceClient::DataCenter(c) => c.space_read_grants(space).await,
        }
    }

    async fn content_access(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, ContentAccess>, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.content_access(ids).await,
            ConfluenceClient::DataCenter(c) => c.content_access(ids).await,
        }
    }

    async fn groups(&self) -> Result<Vec<Group>, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.groups().await,
            ConfluenceClient::DataCenter(c) => c.groups().await,
        }
    }

    async fn group_members(&self, group: &str) -> Result<Vec<Account>, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.group_members(group).await,
            ConfluenceClient::DataCenter(c) => c.group_members(group).await,
        }
    }

    async fn accounts(&self, ids: &[String]) -> Result<Vec<Account>, ConfluenceError> {
        match self {
            ConfluenceClient::Cloud(c) => c.accounts(ids).await,
            ConfluenceClient::DataCenter(c) => c.accounts(ids).await,
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

//! The engine-facing contract: one trait, implemented by the Cloud and the Data Center clients
//! and by [`crate::ConfluenceClient`], which picks one at run time so the engine need not be
//! generic.

use std::future::Future;

use crate::model::{Account, ContentAccess, Group, Principal};
use crate::model::{
    AttachmentStream, ContentRef, InstanceId, InstanceType, Page, PageAttachments, PageBody, Space,
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

    /// The principals granted the space's `read/space` ("View space") permission; every other
    /// operation is left out. Cloud: v2 `spaces/{id}/permissions`, all pages; Data Center:
    /// `space/{key}/permissions` (9.1+; older versions and OAuth 2.0 get an error that says so).
    fn space_read_grants(
        &self,
        space: &Space,
    ) -> impl Future<Output = Result<Vec<Principal>, ConfluenceError>> + Send;

    /// The view restriction and ancestors of each content id (ancestors that discovery did not
    /// return), as few searches as the API allows. Content the client cannot view is absent
    /// from the map: the caller treats it as unreadable.
    fn content_access(
        &self,
        ids: &[String],
    ) -> impl Future<
        Output = Result<std::collections::HashMap<String, ContentAccess>, ConfluenceError>,
    > + Send;

    /// Every group of the site (for the names of groups that space permissions name by id).
    fn groups(&self) -> impl Future<Output = Result<Vec<Group>, ConfluenceError>> + Send;

    /// Every member of the group (Cloud group id, Data Center group name), with email, kind
    /// and status as far as Confluence shows them.
    fn group_members(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Vec<Account>, ConfluenceError>> + Send;

    /// The accounts with these ids (users named directly by a grant or restriction); unknown
    /// ids are absent.
    fn accounts(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Account>, ConfluenceError>> + Send;

    /// The page's web URL (metadata only).
    fn page_web_url(&self, page: &Page) -> String;

    /// The attachment's web URL (metadata only).
    fn attachment_web_url(&self, page_id: &str, attachment_id: &str, title: &str) -> String;
}

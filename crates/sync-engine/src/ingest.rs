//! The ingester (the ctx): a two-stage pipeline from Confluence into Unique.
//!
//! Stage 1 (one task) fetches page bodies in batches and queues pages with the attachments
//! spread evenly among them ([`Interleave`]).
//! Stage 2 (`concurrency` at a time) inlines images, opens attachment downloads and uploads into
//! Unique. The queue between them is a bounded channel, so at most one body batch plus a few
//! queued items are in memory, however large the tenant; attachment bytes flow from the download
//! straight into the upload and are never held whole.
//!
//! One item's failure is logged, counted, recorded in the ledger and skipped; it never stops the
//! others. A success clears the item's earlier failure.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use confluence_client::{ConfluenceApi, ConfluenceClient, ContentRef, PageBody};
use futures::stream::{FuturesUnordered, StreamExt as _, TryStreamExt as _};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use unique_client::{Body, ContentItem, SourceKind, UniqueClient};

use crate::discovery::{DiscoveredAttachment, DiscoveredPage};
use crate::inline::{
    inline_images, normalize_mime_type, ImageRef, ImageSource, ImageStream, InlineConfig,
    InlineError, OtherPage, PageContext,
};
use crate::keys::ContentKey;
use crate::ledger::{ItemPhase, Ledger, RunId};
use crate::observer::{CycleObserver, ItemKind, ItemResult, Phase};
use crate::report::ItemFailureReport;
use crate::tenant::TenantSpec;

/// After a failed batch, pages are fetched one by one to isolate the bad one; this many failures
/// in a row mean the whole service is failing, and the rest of the batch fails without trying.
const MAX_CONSECUTIVE_SINGLE_FAILURES: usize = 3;

/// Items queued between fetching and uploading, per upload slot.
const QUEUE_PER_SLOT: usize = 2;

/// A page to ingest, with its key.
#[derive(Debug, Clone)]
pub(crate) struct PageWork {
    pub page: Arc<DiscoveredPage>,
    pub key: ContentKey,
    /// The page's image attachments, for inlining (empty when inlining is off).
    pub images: Vec<ImageRef>,
    /// The diff reported it new: Unique has no file under its key yet.
    pub is_new: bool,
}

/// An attachment to ingest, with its key.
#[derive(Debug, Clone)]
pub(crate) struct AttachmentWork {
    pub attachment: Arc<DiscoveredAttachment>,
    pub key: ContentKey,
    /// The diff reported it new: Unique has no file under its key yet.
    pub is_new: bool,
}

/// What the pipeline needs besides its work lists: the clients, the ledger, the cancel token
/// and the space scopes items are ingested into.
pub(crate) struct IngestContext<'a> {
    pub confluence: &'a ConfluenceClient,
    pub unique: &'a UniqueClient,
    pub spec: &'a TenantSpec,
    /// Space key → the id of its scope in Unique, for every space with work.
    pub scope_ids: &'a BTreeMap<String, String>,
    pub source_kind: SourceKind,
    pub source_name: &'a str,
    /// `None` in tests of the pipeline alone; the cycle always records.
    pub ledger: Option<(&'a Ledger, RunId)>,
    /// Keys with an open failure in the ledger, cleared on success.
    pub open_failures: &'a HashSet<String>,
    /// Keys being ingested right now; what is left here after a dropped cycle is retried.
    pub in_flight: &'a Mutex<HashSet<String>>,
    pub observer: &'a dyn CycleObserver,
    pub cancel: &'a CancellationToken,
    /// With permission sync on: the `fileAccess` new files are registered with (the service
    /// user's own), so that nothing is readable before its access is applied. `None` keeps
    /// today's registration byte for byte.
    pub new_file_access: Option<&'a [String]>,
}

/// Counts and failures of one ingest phase.
#[derive(Debug, Default)]
pub(crate) struct IngestOutcome {
    pub pages_ok: u64,
    pub pages_failed: u64,
    pub pages_skipped: u64,
    pub attachments_ok: u64,
    pub attachments_failed: u64,
    pub attachments_skipped: u64,
    pub failures: Vec<ItemFailureReport>,
}

/// How one item went.
#[derive(Debug, PartialEq, Eq)]
enum ItemOutcome {
    Done,
    /// Nothing to ingest (empty body, zero bytes, content gone since discovery).
    Skipped,
    /// `transient`: the service may well answer the next try (429, 5xx).
    Failed {
        error: String,
        transient: bool,
    },
}

impl ItemOutcome {
    fn failed(error: impl std::fmt::Display) -> Self {
        Self::Failed {
            error: error.to_string(),
            transient: false,
        }
    }

    fn result(&self) -> ItemResult {
        match self {
            Self::Done => ItemResult::Success,
            Self::Skipped => ItemResult::Skipped,
            Self::Failed { .. } => ItemResult::Failure,
        }
    }
}

/// The scope a space's items go into. Every space with work has one once the cycle ensured
/// them; an item whose space has none fails rather than reaching Unique without a scope.
fn scope_id(scope_ids: &BTreeMap<String, String>, space_key: &str) -> Result<String, ItemOutcome> {
    scope_ids
        .get(space_key)
        .cloned()
        .ok_or_else(|| ItemOutcome::failed(format!("no scope in Unique for space {space_key}")))
}

enum Job {
    Page {
        work: PageWork,
        body: Result<Option<PageBody>, String>,
    },
    Attachment(AttachmentWork),
}

/// Runs the pipeline over `pages` then `attachments`.
pub(crate) async fn ingest(
    ctx: &IngestContext<'_>,
    pages: Vec<PageWork>,
    attachments: Vec<AttachmentWork>,
) -> IngestOutcome {
    let concurrency = ctx.spec.concurrency.max(1);
    let (tx, mut rx) = mpsc::channel::<Job>(concurrency * QUEUE_PER_SLOT);
    let batch = ctx.confluence.config().effective_body_batch_size().max(1);
    let outcome = Mutex::new(IngestOutcome::default());

    let produce = async move {
        let mut interleave = Interleave::new(pages.len(), attachments.len());
        // Attachments run alongside the pages, so the phase is "pages" until the last page is
        // queued and "attachments" after (the cycle announced it already when there are no pages).
        let announce_attachments = !pages.is_empty() && !attachments.is_empty();
        let mut attachments = attachments.into_iter();
        for chunk in pages.chunks(batch) {
            if ctx.cancel.is_cancelled() {
                return;
            }
            for (work, body) in fetch_bodies(ctx.confluence, chunk).await {
                if tx.send(Job::Page { work, body }).await.is_err() {
                    return;
                }
                for work in attachments.by_ref().take(interleave.after_page()) {
                    if ctx.cancel.is_cancelled() || tx.send(Job::Attachment(work)).await.is_err() {
                        return;
                    }
                }
            }
        }
        if announce_attachments {
            ctx.observer.phase(Phase::IngestingAttachments);
        }
        for work in attachments {
            if ctx.cancel.is_cancelled() || tx.send(Job::Attachment(work)).await.is_err() {
                return;
            }
        }
    };
    // A hand-written bounded pool, not `for_each_concurrent` with a closure: closures returning
    // futures that borrow locals made the cycle's future not `Send` (rust-lang/rust#64552), so
    // the daemon could not spawn it.
    let consume = async {
        let mut running = FuturesUnordered::new();
        let mut open = true;
        while open || !running.is_empty() {
            tokio::select! {
                job = rx.recv(), if open && running.len() < concurrency => match job {
                    Some(job) => running.push(run_job(ctx, &outcome, job)),
                    None => open = false,
                },
                Some(()) = running.next(), if !running.is_empty() => {}
            }
        }
    };
    tokio::join!(produce, consume);
    outcome.into_inner().unwrap_or_else(|e| e.into_inner())
}

/// Spreads attachments evenly among the pages, so that both rate limits are spent all cycle
/// long. Pages cost Unique two requests and Confluence a share of a body batch; an attachment
/// costs Unique the same two and Confluence a download (two requests on Cloud: gateway and
/// media host). Queued pages-then-attachments, the first half of a cycle left Confluence idle
/// and the second half left Unique idle.
struct Interleave {
    pages: usize,
    attachments: usize,
    pages_sent: usize,
    attachments_sent: usize,
}

impl Interleave {
    fn new(pages: usize, attachments: usize) -> Self {
        Self {
            pages,
            attachments,
            pages_sent: 0,
            attachments_sent: 0,
        }
    }

    /// How many attachments to queue after the next page: enough that the share of attachments
    /// queued keeps up with the share of pages.
    fn after_page(&mut self) -> usize {
        self.pages_sent += 1;
        // ⌈pages_sent · attachments / pages⌉ attachments are due by now.
        let due = (self.pages_sent * self.attachments).div_ceil(self.pages.max(1));
        let now = due
            .min(self.attachments)
            .saturating_sub(self.attachments_sent);
        self.attachments_sent += now;
        now
    }
}

/// One queued job, from the cancel check to its settled outcome.
async fn run_job(ctx: &IngestContext<'_>, totals: &Mutex<IngestOutcome>, job: Job) {
    // Queued but not started: leave it for the next cycle.
    if ctx.cancel.is_cancelled() {
        return;
    }
    let key = match &job {
        Job::Page { work, .. } => work.key.as_str(),
        Job::Attachment(work) => work.key.as_str(),
    };
    ctx.in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(key.to_owned());
    match job {
        Job::Page { work, body } => {
            let outcome = page_job(ctx, &work, body).await;
            settle(ctx, totals, ItemKind::Page, &work.key, outcome, None).await;
        }
        Job::Attachment(work) => {
            let started = Instant::now();
            let outcome = attachment_job(ctx, &work).await;
            let took = (outcome == ItemOutcome::Done).then(|| started.elapsed());
            settle(ctx, totals, ItemKind::Attachment, &work.key, outcome, took).await;
        }
    }
}

/// One batch of bodies. A failing batch is retried page by page, so one bad page (e.g. one that
/// makes the server fail) costs only itself. A page the batch leaves out, or whose own request
/// answers 404 or 403, was deleted or restricted since discovery: it is skipped (`Ok(None)`),
/// and since discovery submitted it, nothing of it is deleted this cycle either.
async fn fetch_bodies(
    confluence: &ConfluenceClient,
    chunk: &[PageWork],
) -> Vec<(PageWork, Result<Option<PageBody>, String>)> {
    let refs: Vec<ContentRef> = chunk
        .iter()
        .map(|w| ContentRef {
            id: w.page.id.clone(),
            content_type: w.page.content_type,
        })
        .collect();
    match confluence.page_bodies(&refs).await {
        Ok(bodies) => {
            let mut bodies: std::collections::HashMap<String, PageBody> =
                bodies.into_iter().map(|b| (b.id.clone(), b)).collect();
            chunk
                .iter()
                .map(|w| (w.clone(), Ok(bodies.remove(&w.page.id))))
                .collect()
        }
        Err(batch_error) if chunk.len() > 1 => {
            tracing::warn!(error = %batch_error, pages = chunk.len(), "batched body fetch failed, fetching page by page");
            let mut out = Vec::with_capacity(chunk.len());
            let mut consecutive_failures = 0;
            for (work, one) in chunk.iter().zip(refs) {
                // Confluence itself is failing, not one page: do not multiply the requests. A
                // 404/403 counts here too, so that a refusal of everything is not turned into a
                // batch of quiet skips.
                if consecutive_failures >= MAX_CONSECUTIVE_SINGLE_FAILURES {
                    out.push((work.clone(), Err(batch_error.to_string())));
                    continue;
                }
                let body = match confluence.page_bodies(std::slice::from_ref(&one)).await {
                    Ok(bodies) => {
                        consecutive_failures = 0;
                        Ok(bodies.into_iter().next())
                    }
                    Err(e) => {
                        consecutive_failures += 1;
                        gone_or_error(&work.page.id, e)
                    }
                };
                out.push((work.clone(), body));
            }
            out
        }
        Err(error) if chunk.len() == 1 => {
            let body = gone_or_error(&chunk[0].page.id, error);
            vec![(chunk[0].clone(), body)]
        }
        Err(error) => chunk
            .iter()
            .map(|w| (w.clone(), Err(error.to_string())))
            .collect(),
    }
}

/// A body request for one page that answered 404 or 403 means the page was deleted or
/// restricted since discovery: no body (the page is skipped), not a failure.
fn gone_or_error(
    page_id: &str,
    error: confluence_client::ConfluenceError,
) -> Result<Option<PageBody>, String> {
    if matches!(error.status(), Some(403 | 404)) {
        tracing::warn!(page_id, err = %error, "page deleted or restricted since discovery, skipping it this cycle");
        Ok(None)
    } else {
        Err(error.to_string())
    }
}

async fn page_job(
    ctx: &IngestContext<'_>,
    work: &PageWork,
    body: Result<Option<PageBody>, String>,
) -> ItemOutcome {
    let page = &work.page;
    let fetched = match body {
        Ok(Some(fetched)) => fetched,
        Ok(None) => {
            tracing::warn!(page_id = %page.id, title = %page.title, "Page not found, possibly deleted");
            return ItemOutcome::Skipped;
        }
        Err(error) => {
            tracing::error!(page_id = %page.id, err = %error, "Failed to fetch page, possibly deleted in the meantime");
            return ItemOutcome::failed(format!("fetching the body: {error}"));
        }
    };
    let storage = fetched.storage.unwrap_or_default();
    if storage.is_empty() {
        tracing::debug!(page_id = %page.id, title = %page.title, "Page has no body, skipping");
        return ItemOutcome::Skipped;
    }
    let scope_id = match scope_id(ctx.scope_ids, &page.space.key) {
        Ok(id) => id,
        Err(failed) => return failed,
    };
    let spec = ctx.spec;
    let inline_config = if spec.inline_images {
        InlineConfig {
            enabled: true,
            allowed_mime_types: spec.attachments.allowed_mime_types.clone(),
            max_file_size_bytes: spec.attachments.max_file_size_bytes(),
        }
    } else {
        InlineConfig::disabled()
    };
    let source = ConfluenceImages(ctx.confluence);
    let context = PageContext {
        page_id: &page.id,
        space_key: &page.space.key,
        attachments: &work.images,
    };
    let inlined = inline_images(&storage, &context, &source, &inline_config).await;
    // Unchanged, the body is the fetched string itself: moved, not copied (pages can be tens of
    // megabytes, and `concurrency` of them are in flight).
    let body = match inlined.body {
        std::borrow::Cow::Owned(changed) => changed,
        std::borrow::Cow::Borrowed(_) => storage,
    };

    let mut labels: Vec<String> = fetched
        .labels
        .unwrap_or_else(|| page.labels.clone())
        .into_iter()
        .filter(|l| !spec.is_sync_label(l))
        .collect();
    // JavaScript's default sort, as the reference's: by UTF-16 code units, which differs from
    // Rust's byte order between an astral character (emoji) and one in U+E000..U+FFFF.
    labels.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
    labels.dedup();
    let item = ContentItem {
        key: work.key.as_str().to_owned(),
        title: page.title.clone(),
        mime_type: "text/html".to_owned(),
        url: page.web_url.clone(),
        byte_size: body.len() as u64,
        metadata: serde_json::json!({
            "confluenceLabels": labels,
            "spaceKey": page.space.key,
            "spaceName": page.space.name,
        }),
        ingestion_config: spec.page_ingestion_config.clone(),
        scope_id,
        source_kind: ctx.source_kind,
        source_name: ctx.source_name.to_owned(),
        store_internally: spec.store_internally,
        file_access: ctx
            .new_file_access
            .filter(|_| work.is_new)
            .map(<[String]>::to_vec),
    };
    match ctx.unique.ingest(&item, Body::Bytes(body.into())).await {
        Ok(_) => ItemOutcome::Done,
        Err(error) => {
            tracing::error!(page_id = %page.id, title = %page.title, err = %error, "Failed to ingest page, skipping");
            ItemOutcome::failed(error)
        }
    }
}

/// First pause between two tries of an attachment, doubled each time up to
/// [`ATTACHMENT_RETRY_MAX_DELAY`]. The transport retries everything it can replay, but a streamed
/// upload is sent once; the engine replays it from a fresh download, within the tenant's retry
/// budget, so a 429 or 5xx storm on the uploads costs a retry here instead of a whole cycle.
const ATTACHMENT_RETRY_DELAY: Duration = Duration::from_millis(500);
const ATTACHMENT_RETRY_MAX_DELAY: Duration = Duration::from_secs(30);

async fn attachment_job(ctx: &IngestContext<'_>, work: &AttachmentWork) -> ItemOutcome {
    let started = std::time::Instant::now();
    let mut tries: u32 = 1;
    loop {
        let outcome = attachment_try(ctx, work).await;
        let ItemOutcome::Failed { error, transient } = &outcome else {
            return outcome;
        };
        let delay = ATTACHMENT_RETRY_DELAY
            .saturating_mul(2u32.saturating_pow(tries.saturating_sub(1).min(16)))
            .min(ATTACHMENT_RETRY_MAX_DELAY);
        let within_budget = started.elapsed() + delay < ctx.spec.attachment_retry_budget;
        if !transient || !within_budget || ctx.cancel.is_cancelled() {
            tracing::error!(attachment_id = %work.attachment.id, tries, err = %error, "Failed to ingest attachment, skipping");
            return outcome;
        }
        tracing::warn!(attachment_id = %work.attachment.id, tries, delay_ms = delay.as_millis() as u64, err = %error, "attachment failed on a transient answer, trying again from a fresh download");
        // A shutdown does not wait for the pause; the item is retried next cycle.
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = ctx.cancel.cancelled() => return outcome,
        }
        tries += 1;
    }
}

/// 429 and 5xx: the service may well answer the next try.
fn is_transient(status: Option<u16>) -> bool {
    status.is_some_and(|s| s == 429 || (500..=599).contains(&s))
}

/// One try: download and upload. It logs nothing on failure: whether this was the final try is the caller's to say, and only the
/// final failure of an item is an error.
async fn attachment_try(ctx: &IngestContext<'_>, work: &AttachmentWork) -> ItemOutcome {
    let attachment = &work.attachment;
    if attachment.file_size == 0 {
        tracing::info!(attachment_id = %attachment.id, "Skipping zero-byte attachment");
        return ItemOutcome::Skipped;
    }
    let scope_id = match scope_id(ctx.scope_ids, &attachment.space.key) {
        Ok(id) => id,
        Err(failed) => return failed,
    };
    let download = match ctx
        .confluence
        .download_attachment(
            &attachment.page_id,
            &attachment.id,
            &attachment.download_path,
        )
        .await
    {
        Ok(download) => download,
        Err(error) => {
            return ItemOutcome::Failed {
                transient: is_transient(error.status()),
                error: format!("downloading: {error}"),
            };
        }
    };
    let byte_size = download.content_length.unwrap_or(attachment.file_size);
    if byte_size == 0 {
        tracing::info!(attachment_id = %attachment.id, "Skipping zero-byte attachment");
        return ItemOutcome::Skipped;
    }
    let spec = ctx.spec;
    let ocr = spec.attachments.image_ocr
        && matches!(
            normalize_mime_type(&attachment.media_type).as_str(),
            "image/png" | "image/jpeg"
        );
    let item = ContentItem {
        key: work.key.as_str().to_owned(),
        title: attachment.title.clone(),
        mime_type: attachment.media_type.clone(),
        url: attachment.web_url.clone(),
        byte_size,
        metadata: serde_json::json!({
            "spaceKey": attachment.space.key,
            "spaceName": attachment.space.name,
        }),
        ingestion_config: ocr
            .then(|| serde_json::json!({"jpgReadMode": "DOC_INTELLIGENCE_DEFAULT"})),
        scope_id,
        source_kind: ctx.source_kind,
        source_name: ctx.source_name.to_owned(),
        store_internally: spec.store_internally,
        file_access: ctx
            .new_file_access
            .filter(|_| work.is_new)
            .map(<[String]>::to_vec),
    };
    let body = Body::Stream {
        stream: download.stream,
        length: Some(byte_size),
    };
    match ctx.unique.ingest(&item, body).await {
        Ok(_) => ItemOutcome::Done,
        Err(error) => ItemOutcome::Failed {
            transient: is_transient(error.status()),
            error: error.to_string(),
        },
    }
}

/// Counts, reports and records one finished item.
async fn settle(
    ctx: &IngestContext<'_>,
    totals: &Mutex<IngestOutcome>,
    kind: ItemKind,
    key: &ContentKey,
    outcome: ItemOutcome,
    upload: Option<Duration>,
) {
    let result = outcome.result();
    let error = match outcome {
        ItemOutcome::Failed { error, .. } => Some(error),
        ItemOutcome::Done | ItemOutcome::Skipped => None,
    };
    ctx.observer.item(kind, result, upload);
    {
        let mut o = totals.lock().unwrap_or_else(|e| e.into_inner());
        let counter = match (kind, result) {
            (ItemKind::Page, ItemResult::Success) => &mut o.pages_ok,
            (ItemKind::Page, ItemResult::Failure) => &mut o.pages_failed,
            (ItemKind::Page, ItemResult::Skipped) => &mut o.pages_skipped,
            (ItemKind::Attachment, ItemResult::Success) => &mut o.attachments_ok,
            (ItemKind::Attachment, ItemResult::Failure) => &mut o.attachments_failed,
            (ItemKind::Attachment, ItemResult::Skipped) => &mut o.attachments_skipped,
        };
        *counter += 1;
        if let Some(error) = &error {
            o.failures.push(ItemFailureReport {
                key: key.as_str().to_owned(),
                kind,
                error: error.clone(),
            });
        }
    }
    if let Some((ledger, run)) = ctx.ledger {
        let recorded = match &error {
            Some(error) => ledger
                .record_item_failure(run, key.as_str(), ItemPhase::Ingest, error)
                .await
                .map(|_| ()),
            None if ctx.open_failures.contains(key.as_str()) => ledger
                .clear_item_failure(&ctx.spec.name, key.as_str())
                .await
                .map(|_| ()),
            None => Ok(()),
        };
        if let Err(e) = recorded {
            tracing::error!(key = %key, err = %e, "recording the item's outcome in the ledger failed");
        }
    }
    // Only now is the item done: a cycle dropped before this point retries it.
    ctx.in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(key.as_str());
}

/// [`ImageSource`] over the Confluence client, for inlining.
struct ConfluenceImages<'a>(&'a ConfluenceClient);

impl ImageSource for ConfluenceImages<'_> {
    async fn download(&self, image: &ImageRef) -> Result<ImageStream, InlineError> {
        let download = self
            .0
            .download_attachment(&image.page_id, &image.attachment_id, &image.download_path)
            .await
            .map_err(|e| InlineError::Download(Box::new(e)))?;
        Ok(download
            .stream
            .map_err(|e| InlineError::Download(Box::new(e)))
            .boxed())
    }

    async fn other_page_images(
        &self,
        space_key: &str,
        title: &str,
    ) -> Result<Option<OtherPage>, InlineError> {
        let found = self
            .0
            .page_attachments_by_title(space_key, title)
            .await
            .map_err(|e| InlineError::Lookup(Box::new(e)))?;
        Ok(found.map(|page| OtherPage {
            attachments: page
                .attachments
                .into_iter()
                .map(|a| ImageRef {
                    page_id: page.page_id.clone(),
                    attachment_id: a.id,
                    title: a.title,
                    media_type: a.media_type,
                    file_size: a.file_size,
                    download_path: a.download_path,
                })
                .collect(),
            page_id: page.page_id,
        }))
    }
}

/// The shared in-flight set of a [`crate::TenantSync`].
pub(crate) type InFlight = Arc<Mutex<HashSet<String>>>;

#[cfg(test)]
mod tests {
    use super::{scope_id, Interleave, ItemOutcome};

    #[test]
    fn an_item_of_a_space_without_a_scope_fails_instead_of_going_out_unscoped() {
        let scopes = [("SP".to_owned(), "scope_1".to_owned())].into();
        assert_eq!(scope_id(&scopes, "SP"), Ok("scope_1".to_owned()));
        assert_eq!(
            scope_id(&scopes, "OTHER"),
            Err(ItemOutcome::Failed {
                error: "no scope in Unique for space OTHER".to_owned(),
                transient: false,
            })
        );
    }

    fn order(pages: usize, attachments: usize) -> String {
        let mut interleave = Interleave::new(pages, attachments);
        let mut out = String::new();
        let mut queued = 0;
        for _ in 0..pages {
            out.push('p');
            let n = interleave.after_page();
            queued += n;
            out.push_str(&"a".repeat(n));
        }
        out.push_str(&"a".repeat(attachments - queued));
        out
    }

    #[test]
    fn attachments_are_spread_evenly_among_the_pages() {
        assert_eq!(order(4, 2), "pappap");
        assert_eq!(order(2, 4), "paapaa");
        assert_eq!(order(3, 1), "papp");
        assert_eq!(order(1, 1), "pa");
    }

    #[test]
    fn without_pages_or_attachments_the_other_kind_goes_alone() {
        assert_eq!(order(0, 3), "aaa");
        assert_eq!(order(3, 0), "ppp");
    }
}

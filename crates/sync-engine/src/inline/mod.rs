//! Page image inlining: `<ac:image>` macros become `<img src="data:…;base64,…">`, so Unique's
//! HTML pipeline sees a page's images without a second trip to Confluence.
//!
//! Invariants:
//! - Inlining never loses or damages a page. Anything outside a replaced macro's span — CDATA,
//!   tables, entities, whitespace — is copied byte for byte; a body that cannot be read, or a
//!   macro whose image cannot be resolved, filtered in or downloaded, stays exactly as it was.
//! - Only the page's own image attachments and images referenced by its macros are fetched,
//!   through [`ImageSource`], at most [`MAX_CONCURRENT_DOWNLOADS`] at a time.
//!
//! Image attachments of the page that no macro references are appended at the end, so that
//! every image of an inlining tenant reaches Unique inside its page; the engine therefore never
//! ingests images standalone when inlining is on (whether or not they were inlined here).

mod parse;
mod render;

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::error::Error as StdError;
use std::future::Future;
use std::ops::Range;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt as _};

use crate::keys::attachment_item_id;
use parse::{find_image_macros, ImageMacro, ImageTarget};
use render::img_tag;
pub use render::normalize_mime_type;

/// How many image downloads (with their other-page lookups) run at once for one page, as in the
/// reference connector. Macros are resolved first, then the appended images.
pub const MAX_CONCURRENT_DOWNLOADS: usize = 20;

/// The most a download buffer reserves up front, whatever size the listing claims.
const INITIAL_BUFFER_LIMIT: u64 = 16 * 1024 * 1024;

/// A boxed error from the component behind an [`ImageSource`].
type BoxError = Box<dyn StdError + Send + Sync>;

/// The bytes of one image, as they arrive.
pub type ImageStream = BoxStream<'static, Result<Bytes, InlineError>>;

/// Why one image could not be fetched. Never fails the page: the macro stays as it was.
#[derive(Debug, thiserror::Error)]
pub enum InlineError {
    /// The download could not start or broke off.
    #[error("downloading the image failed")]
    Download(#[source] BoxError),
    /// Listing the attachments of a page referenced by title failed.
    #[error("looking up the attachments of the referenced page failed")]
    Lookup(#[source] BoxError),
    /// The download delivered more bytes than the size cap, whatever the listing said.
    #[error("the image is larger than the {max_bytes}-byte limit")]
    TooLarge {
        /// The configured cap.
        max_bytes: u64,
    },
}

/// One attachment that may be inlined: what is needed to filter it and to download it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The page the attachment belongs to (for other-page references, that other page).
    pub page_id: String,
    /// The attachment id (Cloud ids carry an `att` prefix).
    pub attachment_id: String,
    /// The file name; `ri:filename` in a macro is matched against it.
    pub title: String,
    /// The media type as Confluence reports it (may carry parameters or upper case).
    pub media_type: String,
    /// The size Confluence reports, in bytes.
    pub file_size: u64,
    /// `_links.download` of the attachment.
    pub download_path: String,
}

/// The attachments of a page found by space key and title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherPage {
    /// The page's id; downloads use it, whatever the attachments' own `page_id` says.
    pub page_id: String,
    /// All its attachments (unfiltered: the inliner filters them itself).
    pub attachments: Vec<ImageRef>,
}

/// Where images come from. The engine implements it over the Confluence client; tests use fakes.
pub trait ImageSource: Send + Sync {
    /// Starts downloading one attachment.
    fn download(
        &self,
        image: &ImageRef,
    ) -> impl Future<Output = Result<ImageStream, InlineError>> + Send;

    /// The attachments of the page titled `title` in space `space_key`; `None` if there is no
    /// such page.
    fn other_page_images(
        &self,
        space_key: &str,
        title: &str,
    ) -> impl Future<Output = Result<Option<OtherPage>, InlineError>> + Send;
}

/// The page being inlined.
#[derive(Debug, Clone, Copy)]
pub struct PageContext<'a> {
    /// The page id (for logs).
    pub page_id: &'a str,
    /// The page's space key: other-page references without `ri:space-key` look there.
    pub space_key: &'a str,
    /// The page's attachments as discovery found them (already size/MIME filtered). Macros
    /// referencing the current page are resolved against these by title; the image ones no
    /// macro references are appended. Non-image attachments are simply never used.
    pub attachments: &'a [ImageRef],
}

/// Inlining settings of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineConfig {
    /// `pageIngestionConfig.htmlConfig.imageContentExtraction.enabled` with a language model:
    /// without one, Unique would not look at the images, so bodies stay as Confluence sent them.
    pub enabled: bool,
    /// `ingestion.attachments.allowedMimeTypes`. An image is inlined only if its normalised
    /// media type starts with `image/` and is in this list (compared normalised as well).
    pub allowed_mime_types: Vec<String>,
    /// `ingestion.attachments.maxFileSizeMb` in bytes; larger images are left alone.
    pub max_file_size_bytes: u64,
}

impl InlineConfig {
    /// Inlining off: [`inline_images`] returns every body unchanged.
    pub fn disabled() -> Self {
        Self {
            enabled: false,
            allowed_mime_types: Vec::new(),
            max_file_size_bytes: 0,
        }
    }

    fn allows_mime(&self, normalized: &str) -> bool {
        self.allowed_mime_types
            .iter()
            .any(|allowed| normalize_mime_type(allowed) == normalized)
    }
}

/// Whether an attachment's media type is an image. With inlining on, the engine keeps every
/// image attachment out of standalone ingestion (and out of the diff), inlined or not.
pub fn is_image_media_type(media_type: &str) -> bool {
    normalize_mime_type(media_type).starts_with("image/")
}

/// An attachment that now lives inside the page body.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InlinedImage {
    /// The page the attachment belongs to.
    pub page_id: String,
    /// The attachment id.
    pub attachment_id: String,
}

impl InlinedImage {
    /// `<pageId>::<attachmentId>`, the file-diff item id of the attachment.
    pub fn item_id(&self) -> String {
        attachment_item_id(&self.page_id, &self.attachment_id)
    }
}

/// The result of [`inline_images`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineOutcome<'a> {
    /// The new body; `Cow::Borrowed` (the very input) when nothing changed.
    pub body: Cow<'a, str>,
    /// Attachments inlined in place of a macro, in document order, without repeats.
    pub inlined: Vec<InlinedImage>,
    /// Attachments appended at the end of the body, in attachment order.
    pub appended: Vec<InlinedImage>,
}

impl<'a> InlineOutcome<'a> {
    fn unchanged(body: &'a str) -> Self {
        Self {
            body: Cow::Borrowed(body),
            inlined: Vec::new(),
            appended: Vec::new(),
        }
    }

    /// Whether the body is the input, untouched.
    pub fn is_unchanged(&self) -> bool {
        matches!(self.body, Cow::Borrowed(_))
    }
}

/// Replaces every resolvable `<ac:image>` macro of `body` by an `<img>` with a `data:` URI, and
/// appends the page's image attachments that no macro references as `<p><img … /></p>`.
///
/// Never fails: whatever cannot be done leaves the body as it was (see the module invariants).
pub async fn inline_images<'a, S: ImageSource>(
    body: &'a str,
    page: &PageContext<'_>,
    source: &S,
    config: &InlineConfig,
) -> InlineOutcome<'a> {
    if !config.enabled || body.is_empty() {
        return InlineOutcome::unchanged(body);
    }
    let macros = if body.contains("<ac:image") {
        match find_image_macros(body) {
            Ok(macros) => macros,
            Err(error) => {
                tracing::warn!(
                    page_id = page.page_id,
                    error = &error as &dyn StdError,
                    "Image inlining failed, leaving page body unchanged"
                );
                return InlineOutcome::unchanged(body);
            }
        }
    } else {
        Vec::new()
    };

    // Later attachments with the same title win, as in the reference.
    let by_title: HashMap<&str, &ImageRef> = page
        .attachments
        .iter()
        .map(|attachment| (attachment.title.as_str(), attachment))
        .collect();

    let replacements = run_bounded(
        macros
            .iter()
            .map(|image_macro| resolve_macro(image_macro, page, &by_title, source, config)),
    )
    .await;

    // A current-page file named by any closed macro is "shown" by it, even if that macro could
    // not be inlined: appending it too would show it twice.
    let referenced: HashSet<&str> = macros
        .iter()
        .filter_map(|image_macro| match &image_macro.target {
            ImageTarget::CurrentPage { filename } => Some(filename.as_str()),
            _ => None,
        })
        .collect();
    let appended = run_bounded(
        page.attachments
            .iter()
            .filter(|attachment| !referenced.contains(attachment.title.as_str()))
            .map(|attachment| encode_image(attachment.clone(), None, page, source, config)),
    )
    .await;

    if replacements.iter().chain(&appended).all(Option::is_none) {
        return InlineOutcome::unchanged(body);
    }

    let mut inlined = Vec::new();
    let patches: Vec<(&Range<usize>, String)> = macros
        .iter()
        .zip(replacements)
        .filter_map(|(image_macro, replacement)| {
            let resolved = replacement?;
            if !inlined.contains(&resolved.image) {
                inlined.push(resolved.image);
            }
            Some((&image_macro.span, resolved.html))
        })
        .collect();
    let Some(mut new_body) = splice(body, &patches) else {
        tracing::warn!(
            page_id = page.page_id,
            "Image macro spans do not fit the body, leaving page body unchanged"
        );
        return InlineOutcome::unchanged(body);
    };
    let mut appended_images = Vec::new();
    for resolved in appended.into_iter().flatten() {
        new_body.push_str("<p>");
        new_body.push_str(&resolved.html);
        new_body.push_str("</p>");
        appended_images.push(resolved.image);
    }
    InlineOutcome {
        body: Cow::Owned(new_body),
        inlined,
        appended: appended_images,
    }
}

/// The spans [`inline_images`] may replace, found the way it finds them; `None` when the body
/// is unreadable (and is then left alone). For the fuzz targets, through `crate::fuzzing`.
pub(crate) fn macro_spans(body: &str) -> Option<Vec<Range<usize>>> {
    if !body.contains("<ac:image") {
        return Some(Vec::new());
    }
    let macros = find_image_macros(body).ok()?;
    Some(macros.into_iter().map(|found| found.span).collect())
}

/// Runs the futures at most [`MAX_CONCURRENT_DOWNLOADS`] at a time; results in input order.
///
/// The futures are created up front, outside the stream: a stream whose combinator closures
/// borrow locals makes the whole inlining future fail the `Send` check ("implementation of
/// `FnOnce` is not general enough"), and the engine spawns it.
async fn run_bounded<F: Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let futures: Vec<F> = futures.collect();
    stream::iter(futures)
        .buffered(MAX_CONCURRENT_DOWNLOADS)
        .collect()
        .await
}

/// Copies `body`, replacing each span (ascending, non-overlapping) by its text. `None` if a span
/// does not fit — the parser guarantees they do, but a page must never be lost to a bad offset.
fn splice(body: &str, patches: &[(&Range<usize>, String)]) -> Option<String> {
    let mut spliced = String::with_capacity(body.len());
    let mut cursor = 0;
    for (span, replacement) in patches {
        spliced.push_str(body.get(cursor..span.start)?);
        spliced.push_str(replacement);
        cursor = span.end;
    }
    spliced.push_str(body.get(cursor..)?);
    Some(spliced)
}

/// An image that made it into the body.
struct Resolved {
    image: InlinedImage,
    html: String,
}

async fn resolve_macro<S: ImageSource>(
    image_macro: &ImageMacro,
    page: &PageContext<'_>,
    by_title: &HashMap<&str, &ImageRef>,
    source: &S,
    config: &InlineConfig,
) -> Option<Resolved> {
    let image = match &image_macro.target {
        // Nothing to download: the reader's browser fetches it, and so can Unique.
        ImageTarget::ExternalUrl => return None,
        ImageTarget::Unresolvable => {
            tracing::warn!(
                page_id = page.page_id,
                "Image macro references an unresolvable attachment, leaving macro untouched"
            );
            return None;
        }
        ImageTarget::CurrentPage { filename } => {
            let Some(image) = by_title.get(filename.as_str()) else {
                tracing::debug!(
                    page_id = page.page_id,
                    "Image filename not found among page attachments, leaving macro untouched"
                );
                return None;
            };
            (*image).clone()
        }
        ImageTarget::OtherPage {
            filename,
            space_key,
            title,
        } => {
            let space_key = space_key.as_deref().unwrap_or(page.space_key);
            resolve_other_page(filename, space_key, title, page, source).await?
        }
    };
    encode_image(image, Some(image_macro), page, source, config).await
}

/// Finds `filename` on the page titled `title`. Each reference looks the page up again, even
/// when several macros point at the same page — as the reference connector does; a per-page
/// cache would save requests on image-heavy pages.
async fn resolve_other_page<S: ImageSource>(
    filename: &str,
    space_key: &str,
    title: &str,
    page: &PageContext<'_>,
    source: &S,
) -> Option<ImageRef> {
    let other = match source.other_page_images(space_key, title).await {
        Ok(Some(other)) => other,
        Ok(None) => {
            tracing::debug!(
                page_id = page.page_id,
                space_key,
                "Referenced page not found when resolving image on another page"
            );
            return None;
        }
        Err(error) => {
            tracing::warn!(
                page_id = page.page_id,
                space_key,
                error = &error as &dyn StdError,
                "Failed to look up the page of a referenced image, leaving macro untouched"
            );
            return None;
        }
    };
    let OtherPage {
        page_id,
        attachments,
    } = other;
    let Some(found) = attachments
        .into_iter()
        .find(|attachment| attachment.title == filename)
    else {
        tracing::debug!(
            page_id = page.page_id,
            other_page_id = page_id,
            "Image filename not found on referenced other page"
        );
        return None;
    };
    Some(ImageRef { page_id, ..found })
}

/// Filters, downloads and renders one image; `None` (logged) when it is filtered out or fails.
async fn encode_image<S: ImageSource>(
    image: ImageRef,
    image_macro: Option<&ImageMacro>,
    page: &PageContext<'_>,
    source: &S,
    config: &InlineConfig,
) -> Option<Resolved> {
    let mime = normalize_mime_type(&image.media_type);
    // Other-page attachments never went through discovery's filters, so both apply here.
    if !is_image_media_type(&mime) || !config.allows_mime(&mime) {
        tracing::debug!(
            page_id = page.page_id,
            attachment_id = image.attachment_id,
            media_type = mime,
            "Attachment is not an allowed image type, skipping inlining"
        );
        return None;
    }
    if image.file_size > config.max_file_size_bytes {
        tracing::warn!(
            page_id = page.page_id,
            attachment_id = image.attachment_id,
            file_size = image.file_size,
            max_file_size_bytes = config.max_file_size_bytes,
            "Image exceeds max file size, skipping inlining"
        );
        return None;
    }
    let bytes = match download_capped(source, &image, config.max_file_size_bytes).await {
        Ok(bytes) => bytes,
        Err(error) => {
            tracing::warn!(
                page_id = page.page_id,
                attachment_id = image.attachment_id,
                error = &error as &dyn StdError,
                "Failed to inline image, leaving it untouched"
            );
            return None;
        }
    };
    let html = img_tag(&mime, &bytes, &image.title, image_macro);
    Some(Resolved {
        image: InlinedImage {
            page_id: image.page_id,
            attachment_id: image.attachment_id,
        },
        html,
    })
}

/// Buffers one download, giving up as soon as it outgrows the cap: the listed size is only what
/// Confluence claims, and a base64 copy of an unbounded body must not end up in memory.
async fn download_capped<S: ImageSource>(
    source: &S,
    image: &ImageRef,
    max_bytes: u64,
) -> Result<Vec<u8>, InlineError> {
    let mut chunks = source.download(image).await?;
    // The listed size is a hint, not a promise: reserve it, but not beyond a sane amount.
    let reserve = image.file_size.min(INITIAL_BUFFER_LIMIT);
    let mut bytes = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
    while let Some(chunk) = chunks.next().await {
        bytes.extend_from_slice(&chunk?);
        if bytes.len() as u64 > max_bytes {
            return Err(InlineError::TooLarge { max_bytes });
        }
    }
    Ok(bytes)
}

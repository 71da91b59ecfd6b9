//! Page image inlining, against a fake `ImageSource` that counts every call.
//!
//! `behaviour` has one test per line 217–241 of section V of the behaviour catalogue (the line
//! number is in each test's doc comment); `properties` checks, over generated bodies, that
//! inlining never changes a byte it should not.

#![allow(clippy::unwrap_used)]

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, StreamExt as _};
use sync_engine::{
    inline_images, ImageRef, ImageSource, ImageStream, InlineConfig, InlineError, InlineOutcome,
    InlinedImage, OtherPage, PageContext,
};

const MIB: u64 = 1024 * 1024;
const PNGDATA_B64: &str = "UE5HREFUQQ=="; // base64("PNGDATA"), the fake's default download

const BODY_SINGLE: &str = "<p>before</p><ac:image ac:alt=\"diagram\"><ri:attachment ri:filename=\"diagram.png\"/></ac:image><p>after</p>";
const BODY_OTHER_PAGE: &str = "<p>see other page</p><ac:image><ri:attachment ri:filename=\"other.png\"><ri:page ri:space-key=\"OTHER\" ri:content-title=\"Other Page\"/></ri:attachment></ac:image>";

// ---------------------------------------------------------------------------------------------
// The fake image source
// ---------------------------------------------------------------------------------------------

/// What a download of one attachment id does.
#[derive(Clone)]
enum Download {
    Chunks(Vec<&'static [u8]>),
    FailToStart,
    FailMidStream,
}

/// What a lookup of one `(space key, title)` does.
#[derive(Clone)]
enum Lookup {
    Found(OtherPage),
    Fail,
}

#[derive(Default)]
struct FakeSource {
    downloads: HashMap<String, Download>,
    lookups: HashMap<(String, String), Lookup>,
    /// How long each download takes, to observe concurrency.
    latency: Option<Duration>,
    download_calls: Mutex<Vec<ImageRef>>,
    lookup_calls: Mutex<Vec<(String, String)>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl FakeSource {
    fn new() -> Self {
        Self::default()
    }

    fn with_download(mut self, attachment_id: &str, download: Download) -> Self {
        self.downloads.insert(attachment_id.to_owned(), download);
        self
    }

    fn with_lookup(mut self, space_key: &str, title: &str, lookup: Lookup) -> Self {
        self.lookups
            .insert((space_key.to_owned(), title.to_owned()), lookup);
        self
    }

    fn downloads(&self) -> Vec<ImageRef> {
        self.download_calls.lock().unwrap().clone()
    }

    fn download_count(&self) -> usize {
        self.download_calls.lock().unwrap().len()
    }

    fn lookups(&self) -> Vec<(String, String)> {
        self.lookup_calls.lock().unwrap().clone()
    }
}

fn source_error(message: &str) -> Box<dyn std::error::Error + Send + Sync> {
    message.to_owned().into()
}

impl ImageSource for FakeSource {
    async fn download(&self, image: &ImageRef) -> Result<ImageStream, InlineError> {
        self.download_calls.lock().unwrap().push(image.clone());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        if let Some(latency) = self.latency {
            tokio::time::sleep(latency).await;
        }
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        let download = self
            .downloads
            .get(&image.attachment_id)
            .cloned()
            .unwrap_or(Download::Chunks(vec![b"PNGDATA"]));
        match download {
            Download::Chunks(chunks) => Ok(stream::iter(
                chunks
                    .into_iter()
                    .map(|chunk| Ok(Bytes::from_static(chunk))),
            )
            .boxed()),
            Download::FailToStart => Err(InlineError::Download(source_error("connection reset"))),
            Download::FailMidStream => Ok(stream::iter([
                Ok(Bytes::from_static(b"PNG")),
                Err(InlineError::Download(source_error("download failed"))),
            ])
            .boxed()),
        }
    }

    async fn other_page_images(
        &self,
        space_key: &str,
        title: &str,
    ) -> Result<Option<OtherPage>, InlineError> {
        let key = (space_key.to_owned(), title.to_owned());
        self.lookup_calls.lock().unwrap().push(key.clone());
        match self.lookups.get(&key) {
            Some(Lookup::Found(page)) => Ok(Some(page.clone())),
            Some(Lookup::Fail) => Err(InlineError::Lookup(source_error("lookup boom"))),
            None => Ok(None),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn config() -> InlineConfig {
    InlineConfig {
        enabled: true,
        allowed_mime_types: vec![
            "image/png".into(),
            "image/jpeg".into(),
            "application/pdf".into(),
        ],
        max_file_size_bytes: 200 * MIB,
    }
}

fn image(id: &str, title: &str) -> ImageRef {
    ImageRef {
        page_id: "1".into(),
        attachment_id: id.into(),
        title: title.into(),
        media_type: "image/png".into(),
        file_size: 4096,
        download_path: format!("/download/attachments/1/{title}"),
    }
}

fn diagram() -> ImageRef {
    image("att-image-1", "diagram.png")
}

fn pdf() -> ImageRef {
    ImageRef {
        media_type: "application/pdf".into(),
        ..image("att-pdf-1", "spec.pdf")
    }
}

fn other_page(attachments: Vec<ImageRef>) -> OtherPage {
    OtherPage {
        page_id: "77".into(),
        attachments,
    }
}

fn remote(id: &str, title: &str) -> ImageRef {
    ImageRef {
        // The lookup's page id is authoritative; this one must be ignored.
        page_id: "ignored".into(),
        download_path: format!("/download/attachments/77/{title}"),
        ..image(id, title)
    }
}

fn page(attachments: &[ImageRef]) -> PageContext<'_> {
    PageContext {
        page_id: "1",
        space_key: "SP",
        attachments,
    }
}

async fn run<'a>(
    body: &'a str,
    attachments: &[ImageRef],
    source: &FakeSource,
) -> InlineOutcome<'a> {
    inline_images(body, &page(attachments), source, &config()).await
}

fn inlined(page_id: &str, attachment_id: &str) -> InlinedImage {
    InlinedImage {
        page_id: page_id.into(),
        attachment_id: attachment_id.into(),
    }
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Nothing changed, and the body is the caller's own string, not a copy.
fn assert_same_body(outcome: &InlineOutcome<'_>, body: &str) {
    match &outcome.body {
        Cow::Borrowed(returned) => assert!(std::ptr::eq(*returned, body)),
        Cow::Owned(changed) => panic!("body changed to {changed:?}"),
    }
    assert!(outcome.is_unchanged());
    assert!(outcome.inlined.is_empty());
    assert!(outcome.appended.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Section V, line by line
// ---------------------------------------------------------------------------------------------

mod behaviour {
    use super::*;

    /// V.217
    #[tokio::test]
    async fn empty_body_is_returned_unchanged_without_download() {
        let source = FakeSource::new();
        let body = "";
        let outcome = run(body, &[diagram()], &source).await;
        assert_same_body(&outcome, body);
        assert_eq!(source.download_count(), 0);
    }

    /// V.217
    #[tokio::test]
    async fn body_without_macros_or_image_attachments_is_returned_unchanged() {
        let source = FakeSource::new();
        let body = "<p>just text</p>";
        let outcome = run(body, &[pdf()], &source).await;
        assert_same_body(&outcome, body);
        assert_eq!(source.download_count(), 0);
    }

    /// V.218
    #[tokio::test]
    async fn disabled_inlining_keeps_macros_and_downloads_nothing() {
        let source = FakeSource::new();
        let outcome = inline_images(
            BODY_SINGLE,
            &page(&[diagram()]),
            &source,
            &InlineConfig::disabled(),
        )
        .await;
        assert_same_body(&outcome, BODY_SINGLE);
        assert_eq!(source.download_count(), 0);
        assert!(source.lookups().is_empty());
    }

    /// V.219
    #[tokio::test]
    async fn replaces_a_current_page_macro_with_a_data_uri_img() {
        let source = FakeSource::new();
        let outcome = run(BODY_SINGLE, &[diagram()], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<p>before</p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram\" /><p>after</p>"
            )
        );
        assert!(!outcome.body.contains("<ac:image"));
        assert_eq!(outcome.inlined, [inlined("1", "att-image-1")]);
        assert_eq!(outcome.inlined[0].item_id(), "1::att-image-1");
        assert!(outcome.appended.is_empty());
        assert_eq!(source.downloads(), [diagram()]);
    }

    /// V.220
    #[tokio::test]
    async fn preserves_cdata_and_content_outside_the_macro() {
        let code = "<ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[const x = \"<not a tag>\" & 1 < 2; <ac:image>]]></ac:plain-text-body></ac:structured-macro>";
        let body = format!(
            "{code}<p>a&nbsp;b</p><ac:image><ri:attachment ri:filename=\"diagram.png\"/></ac:image>\n  <!-- note -->"
        );
        let source = FakeSource::new();
        let outcome = run(&body, &[diagram()], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "{code}<p>a&nbsp;b</p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram.png\" />\n  <!-- note -->"
            )
        );
    }

    /// V.221
    #[tokio::test]
    async fn each_macro_gets_its_own_data_uri_and_mime() {
        let body = "<h1>Title</h1><ac:image><ri:attachment ri:filename=\"one.png\"/></ac:image><p>middle</p><ac:image><ri:attachment ri:filename=\"two.jpg\"/></ac:image>";
        let one = image("att-one", "one.png");
        let two = ImageRef {
            media_type: "image/jpeg".into(),
            ..image("att-two", "two.jpg")
        };
        let source = FakeSource::new()
            .with_download("att-one", Download::Chunks(vec![b"one"]))
            .with_download("att-two", Download::Chunks(vec![b"two"]));
        let outcome = run(body, &[one, two], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<h1>Title</h1><img src=\"data:image/png;base64,{}\" alt=\"one.png\" /><p>middle</p><img src=\"data:image/jpeg;base64,{}\" alt=\"two.jpg\" />",
                b64(b"one"),
                b64(b"two")
            )
        );
        assert_eq!(
            outcome.inlined,
            [inlined("1", "att-one"), inlined("1", "att-two")]
        );
    }

    /// V.222
    #[tokio::test]
    async fn maps_alt_title_width_height_and_drops_align_and_thumbnail() {
        let body = "<ac:image ac:align=\"center\" ac:height=\"240\" ac:thumbnail=\"true\" ac:title=\"A title\" ac:alt=\"An alt\" ac:width=\"320\"><ri:attachment ri:filename=\"diagram.png\"/></ac:image>";
        let source = FakeSource::new();
        let outcome = run(body, &[diagram()], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"An alt\" title=\"A title\" width=\"320\" height=\"240\" />"
            )
        );
    }

    /// V.223
    #[tokio::test]
    async fn leaves_macro_when_filename_is_not_a_page_attachment() {
        let source = FakeSource::new();
        let outcome = run(BODY_SINGLE, &[], &source).await;
        assert_same_body(&outcome, BODY_SINGLE);
        assert_eq!(source.download_count(), 0);
    }

    /// V.223
    #[tokio::test]
    async fn leaves_macro_when_attachment_is_not_an_image() {
        let body = "<ac:image><ri:attachment ri:filename=\"spec.pdf\"/></ac:image>";
        let source = FakeSource::new();
        let outcome = run(body, &[pdf()], &source).await;
        assert_same_body(&outcome, body);
        assert_eq!(source.download_count(), 0);
    }

    /// V.223
    #[tokio::test]
    async fn leaves_macro_when_image_exceeds_the_size_cap() {
        let oversize = ImageRef {
            file_size: 5 * MIB,
            ..diagram()
        };
        let source = FakeSource::new();
        let small_cap = InlineConfig {
            max_file_size_bytes: MIB,
            ..config()
        };
        let outcome = inline_images(BODY_SINGLE, &page(&[oversize]), &source, &small_cap).await;
        assert_same_body(&outcome, BODY_SINGLE);
        assert_eq!(source.download_count(), 0);
    }

    /// V.223
    #[tokio::test]
    async fn leaves_macro_when_image_mime_is_not_allowlisted() {
        let gif = ImageRef {
            media_type: "image/gif".into(),
            ..diagram()
        };
        let source = FakeSource::new();
        let outcome = run(BODY_SINGLE, &[gif], &source).await;
        assert_same_body(&outcome, BODY_SINGLE);
        assert_eq!(source.download_count(), 0);
    }

    /// V.224
    #[tokio::test]
    async fn download_error_leaves_macro_untouched() {
        for failure in [Download::FailToStart, Download::FailMidStream] {
            let source = FakeSource::new().with_download("att-image-1", failure);
            let outcome = run(BODY_SINGLE, &[diagram()], &source).await;
            assert_same_body(&outcome, BODY_SINGLE);
            assert_eq!(source.download_count(), 1);
        }
    }

    /// V.225
    #[tokio::test]
    async fn external_url_images_are_never_fetched_or_looked_up() {
        let body = "<ac:image><ri:url ri:value=\"https://example.com/banner.png\"/></ac:image>";
        let source = FakeSource::new();
        let outcome = run(body, &[], &source).await;
        assert_same_body(&outcome, body);
        assert_eq!(source.download_count(), 0);
        assert!(source.lookups().is_empty());
    }

    /// V.226
    #[tokio::test]
    async fn other_page_reference_is_looked_up_and_inlined() {
        let source = FakeSource::new().with_lookup(
            "OTHER",
            "Other Page",
            Lookup::Found(other_page(vec![remote("remote-att-1", "other.png")])),
        );
        let outcome = run(BODY_OTHER_PAGE, &[], &source).await;
        assert_eq!(source.lookups(), [("OTHER".into(), "Other Page".into())]);
        let downloads = source.downloads();
        assert_eq!(downloads.len(), 1);
        assert_eq!(downloads[0].attachment_id, "remote-att-1");
        assert_eq!(downloads[0].page_id, "77");
        assert_eq!(
            downloads[0].download_path,
            "/download/attachments/77/other.png"
        );
        assert_eq!(
            outcome.body,
            format!(
                "<p>see other page</p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"other.png\" />"
            )
        );
        assert_eq!(outcome.inlined, [inlined("77", "remote-att-1")]);
    }

    /// V.227
    #[tokio::test]
    async fn two_references_to_the_same_other_page_look_it_up_twice() {
        let body = "<ac:image><ri:attachment ri:filename=\"a.png\"><ri:page ri:space-key=\"OTHER\" ri:content-title=\"Other Page\"/></ri:attachment></ac:image><ac:image><ri:attachment ri:filename=\"b.png\"><ri:page ri:space-key=\"OTHER\" ri:content-title=\"Other Page\"/></ri:attachment></ac:image>";
        let source = FakeSource::new().with_lookup(
            "OTHER",
            "Other Page",
            Lookup::Found(other_page(vec![
                remote("remote-a", "a.png"),
                remote("remote-b", "b.png"),
            ])),
        );
        let outcome = run(body, &[], &source).await;
        assert_eq!(source.lookups().len(), 2);
        assert_eq!(
            outcome.inlined,
            [inlined("77", "remote-a"), inlined("77", "remote-b")]
        );
        assert!(!outcome.body.contains("<ac:image"));
    }

    /// V.228
    #[tokio::test]
    async fn other_page_image_with_non_allowlisted_mime_is_left_untouched() {
        let gif = ImageRef {
            media_type: "image/gif".into(),
            ..remote("remote-gif", "other.png")
        };
        let source = FakeSource::new().with_lookup(
            "OTHER",
            "Other Page",
            Lookup::Found(other_page(vec![gif])),
        );
        let outcome = run(BODY_OTHER_PAGE, &[], &source).await;
        assert_same_body(&outcome, BODY_OTHER_PAGE);
        assert_eq!(source.download_count(), 0);
    }

    /// V.228
    #[tokio::test]
    async fn other_page_not_found_leaves_macro_untouched() {
        let source = FakeSource::new();
        let outcome = run(BODY_OTHER_PAGE, &[], &source).await;
        assert_same_body(&outcome, BODY_OTHER_PAGE);
        assert_eq!(source.lookups().len(), 1);
        assert_eq!(source.download_count(), 0);
    }

    /// V.228
    #[tokio::test]
    async fn other_page_lookup_error_leaves_macro_untouched() {
        let source = FakeSource::new().with_lookup("OTHER", "Other Page", Lookup::Fail);
        let outcome = run(BODY_OTHER_PAGE, &[], &source).await;
        assert_same_body(&outcome, BODY_OTHER_PAGE);
        assert_eq!(source.download_count(), 0);
    }

    /// V.229
    #[tokio::test]
    async fn page_reference_without_space_key_looks_in_the_current_space() {
        let body = "<ac:image><ri:attachment ri:filename=\"other.png\"><ri:page ri:content-title=\"Other Page\"/></ri:attachment></ac:image>";
        let source = FakeSource::new().with_lookup(
            "SP",
            "Other Page",
            Lookup::Found(other_page(vec![remote("remote-att-1", "other.png")])),
        );
        let outcome = run(body, &[], &source).await;
        assert_eq!(source.lookups(), [("SP".into(), "Other Page".into())]);
        assert_eq!(outcome.inlined, [inlined("77", "remote-att-1")]);
    }

    /// V.230 (the warning itself is checked in `warnings`)
    #[tokio::test]
    async fn page_reference_without_title_is_left_and_same_named_image_appended() {
        let body = "<ac:image><ri:attachment ri:filename=\"other.png\"><ri:page ri:space-key=\"OTHER\"/></ri:attachment></ac:image>";
        let decoy = image("att-decoy", "other.png");
        let source = FakeSource::new();
        let outcome = run(body, &[decoy], &source).await;
        assert!(source.lookups().is_empty());
        assert_eq!(
            outcome.body,
            format!(
                "{body}<p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"other.png\" /></p>"
            )
        );
        assert!(outcome.inlined.is_empty());
        assert_eq!(outcome.appended, [inlined("1", "att-decoy")]);
    }

    /// V.231
    #[tokio::test]
    async fn self_closing_macro_is_kept_and_attachment_appended() {
        let body = "<p>before</p><ac:image/><p>after</p>";
        let source = FakeSource::new();
        let outcome = run(body, &[diagram()], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<p>before</p><ac:image/><p>after</p><p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram.png\" /></p>"
            )
        );
        assert_eq!(outcome.appended, [inlined("1", "att-image-1")]);
        assert_eq!(source.download_count(), 1);
    }

    /// V.232
    #[tokio::test]
    async fn unclosed_macro_is_kept_with_trailing_content_and_attachment_appended() {
        let body = "<p>start</p><ac:image><ri:attachment ri:filename=\"diagram.png\"/><p>more</p>";
        let source = FakeSource::new();
        let outcome = run(body, &[diagram()], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "{body}<p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram.png\" /></p>"
            )
        );
        assert!(outcome.inlined.is_empty());
        assert_eq!(outcome.appended, [inlined("1", "att-image-1")]);
    }

    /// V.233
    #[tokio::test]
    async fn url_macro_is_kept_next_to_an_inlined_attachment_macro() {
        let url_macro =
            "<ac:image><ri:url ri:value=\"https://example.com/banner.png\"/></ac:image>";
        let body = format!(
            "<p>external first</p>{url_macro}<p>then attachment</p><ac:image><ri:attachment ri:filename=\"diagram.png\"/></ac:image>"
        );
        let source = FakeSource::new();
        let outcome = run(&body, &[diagram()], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<p>external first</p>{url_macro}<p>then attachment</p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram.png\" />"
            )
        );
        assert_eq!(source.download_count(), 1);
        assert_eq!(outcome.inlined.len(), 1);
    }

    /// V.234
    #[tokio::test]
    async fn macros_nested_in_tables_are_inlined_and_table_markup_kept() {
        let body = "<table><tbody><tr><td><p>cell text</p><ac:image><ri:attachment ri:filename=\"diagram.png\"/></ac:image></td></tr></tbody></table>";
        let source = FakeSource::new();
        let outcome = run(body, &[diagram()], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<table><tbody><tr><td><p>cell text</p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram.png\" /></td></tr></tbody></table>"
            )
        );
    }

    /// V.235
    #[tokio::test]
    async fn adjacent_macros_become_adjacent_imgs() {
        let body = "<ac:image><ri:attachment ri:filename=\"one.png\"/></ac:image><ac:image><ri:attachment ri:filename=\"two.png\"/></ac:image>";
        let source = FakeSource::new()
            .with_download("att-one", Download::Chunks(vec![b"one"]))
            .with_download("att-two", Download::Chunks(vec![b"two"]));
        let attachments = [image("att-one", "one.png"), image("att-two", "two.png")];
        let outcome = run(body, &attachments, &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<img src=\"data:image/png;base64,{}\" alt=\"one.png\" /><img src=\"data:image/png;base64,{}\" alt=\"two.png\" />",
                b64(b"one"),
                b64(b"two")
            )
        );
    }

    /// V.235
    #[tokio::test]
    async fn body_of_only_a_macro_becomes_only_an_img() {
        let body = "<ac:image><ri:attachment ri:filename=\"diagram.png\"/></ac:image>";
        let source = FakeSource::new();
        let outcome = run(body, &[diagram()], &source).await;
        assert_eq!(
            outcome.body,
            format!("<img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram.png\" />")
        );
    }

    /// V.236
    #[tokio::test]
    async fn partial_success_inlines_what_resolves_and_keeps_the_rest() {
        let unknown = "<ac:image><ri:attachment ri:filename=\"unknown.png\"/></ac:image>";
        let body = format!(
            "<p>a</p><ac:image><ri:attachment ri:filename=\"known.png\"/></ac:image><p>b</p>{unknown}<p>c</p>"
        );
        let source = FakeSource::new();
        let outcome = run(&body, &[image("att-known", "known.png")], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<p>a</p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"known.png\" /><p>b</p>{unknown}<p>c</p>"
            )
        );
        assert_eq!(outcome.inlined, [inlined("1", "att-known")]);
        assert_eq!(source.download_count(), 1);
    }

    /// V.237
    #[tokio::test]
    async fn mime_with_parameters_and_uppercase_is_emitted_normalised() {
        let odd_mime = ImageRef {
            media_type: "image/PNG; charset=binary".into(),
            ..diagram()
        };
        let source = FakeSource::new();
        let outcome = run(BODY_SINGLE, &[odd_mime], &source).await;
        assert!(outcome.body.contains("src=\"data:image/png;base64,"));
        assert!(!outcome.body.contains("charset=binary"));
        assert!(!outcome.body.contains("PNG;"));
    }

    /// V.238
    #[tokio::test]
    async fn downloads_arriving_in_chunks_are_concatenated() {
        let source = FakeSource::new().with_download(
            "att-image-1",
            Download::Chunks(vec![b"PNG", b"", b"DA", b"TA"]),
        );
        let outcome = run(BODY_SINGLE, &[diagram()], &source).await;
        assert!(outcome
            .body
            .contains(&format!("src=\"data:image/png;base64,{PNGDATA_B64}\"")));
    }

    /// V.239
    #[tokio::test]
    async fn alt_from_filename_with_special_characters_is_escaped() {
        let tricky = image("att-tricky", "a&b \"c\" <d>.png");
        let body =
            "<ac:image><ri:attachment ri:filename=\"a&amp;b &quot;c&quot; &lt;d>.png\"/></ac:image>";
        let source = FakeSource::new();
        let outcome = run(body, &[tricky], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"a&amp;b &quot;c&quot; &lt;d>.png\" />"
            )
        );
    }

    /// V.240
    #[tokio::test]
    async fn unreferenced_images_are_appended_and_referenced_ones_never_duplicated() {
        let body = "<p>x</p><ac:image><ri:attachment ri:filename=\"diagram.png\"/></ac:image>";
        let extra = image("att-extra", "extra.png");
        let source = FakeSource::new().with_download("att-extra", Download::Chunks(vec![b"extra"]));
        let outcome = run(body, &[diagram(), pdf(), extra], &source).await;
        assert_eq!(
            outcome.body,
            format!(
                "<p>x</p><img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram.png\" /><p><img src=\"data:image/png;base64,{}\" alt=\"extra.png\" /></p>",
                b64(b"extra")
            )
        );
        assert_eq!(outcome.inlined, [inlined("1", "att-image-1")]);
        assert_eq!(outcome.appended, [inlined("1", "att-extra")]);
        // The macro is resolved (and downloaded) before any appended image.
        let order: Vec<_> = source
            .downloads()
            .into_iter()
            .map(|image| image.attachment_id)
            .collect();
        assert_eq!(order, ["att-image-1", "att-extra"]);
    }

    /// V.240: a referenced image whose macro could not be inlined is not appended either.
    #[tokio::test]
    async fn referenced_image_that_fails_is_not_appended() {
        let source = FakeSource::new().with_download("att-image-1", Download::FailToStart);
        let outcome = run(BODY_SINGLE, &[diagram()], &source).await;
        assert_same_body(&outcome, BODY_SINGLE);
        assert_eq!(source.download_count(), 1);
    }

    /// V.241
    #[tokio::test]
    async fn unreferenced_images_over_cap_or_not_allowlisted_are_not_appended() {
        let body = "<p>no macros here</p>";
        let big = ImageRef {
            file_size: 300 * MIB,
            ..image("att-big", "big.png")
        };
        let gif = ImageRef {
            media_type: "image/gif".into(),
            ..image("att-gif", "anim.gif")
        };
        let source = FakeSource::new();
        let outcome = run(body, &[big, gif, pdf()], &source).await;
        assert_same_body(&outcome, body);
        assert_eq!(source.download_count(), 0);
    }

    // ---- beyond the catalogue -----------------------------------------------------------------

    #[tokio::test]
    async fn inlining_future_can_be_spawned() {
        let body = tokio::spawn(async move {
            let source = FakeSource::new();
            let attachments = [diagram()];
            let page = page(&attachments);
            let outcome = inline_images(BODY_SINGLE, &page, &source, &config()).await;
            outcome.body.into_owned()
        })
        .await
        .unwrap();
        assert!(body.contains("data:image/png;base64,"));
    }

    #[tokio::test]
    async fn never_more_than_twenty_downloads_at_once() {
        let attachments: Vec<ImageRef> = (0..50)
            .map(|n| image(&format!("att-{n}"), &format!("img-{n}.png")))
            .collect();
        let source = FakeSource {
            latency: Some(Duration::from_millis(5)),
            ..FakeSource::new()
        };
        let outcome = run("<p>gallery</p>", &attachments, &source).await;
        assert_eq!(outcome.appended.len(), 50);
        assert_eq!(source.download_count(), 50);
        let max = source.max_in_flight.load(Ordering::SeqCst);
        assert!(
            max <= sync_engine::MAX_CONCURRENT_DOWNLOADS,
            "max in flight {max}"
        );
        assert!(max > 1, "downloads should overlap, max in flight {max}");
        // Appended in attachment order, whatever order the downloads finished in.
        let expected: Vec<_> = attachments
            .iter()
            .map(|attachment| inlined("1", &attachment.attachment_id))
            .collect();
        assert_eq!(outcome.appended, expected);
    }

    #[tokio::test]
    async fn download_larger_than_the_cap_is_dropped_whatever_the_listing_says() {
        let understated = ImageRef {
            file_size: 4,
            ..diagram()
        };
        let source = FakeSource::new()
            .with_download("att-image-1", Download::Chunks(vec![b"0123", b"456789"]));
        let cap = InlineConfig {
            max_file_size_bytes: 8,
            ..config()
        };
        let outcome = inline_images(BODY_SINGLE, &page(&[understated]), &source, &cap).await;
        assert_same_body(&outcome, BODY_SINGLE);
    }

    #[tokio::test]
    async fn unreadable_body_is_returned_unchanged_without_download() {
        let body =
            "<ac:image><ri:attachment ri:filename=\"diagram.png\"/></ac:image><!-- never closed";
        let source = FakeSource::new();
        let outcome = run(body, &[diagram()], &source).await;
        assert_same_body(&outcome, body);
        assert_eq!(source.download_count(), 0);
    }

    #[tokio::test]
    async fn same_image_referenced_twice_is_inlined_twice_and_reported_once() {
        let single = "<ac:image><ri:attachment ri:filename=\"diagram.png\"/></ac:image>";
        let body = format!("{single}<p>again</p>{single}");
        let source = FakeSource::new();
        let outcome = run(&body, &[diagram()], &source).await;
        let img =
            format!("<img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram.png\" />");
        assert_eq!(outcome.body, format!("{img}<p>again</p>{img}"));
        assert_eq!(outcome.inlined, [inlined("1", "att-image-1")]);
    }

    #[tokio::test]
    async fn inlined_ids_are_scoped_by_the_owning_page() {
        let source = FakeSource::new().with_lookup(
            "OTHER",
            "Other Page",
            Lookup::Found(OtherPage {
                page_id: "99".into(),
                attachments: vec![remote("shared-id", "other.png")],
            }),
        );
        let outcome = run(BODY_OTHER_PAGE, &[], &source).await;
        assert_eq!(outcome.inlined, [inlined("99", "shared-id")]);
        assert_eq!(outcome.inlined[0].item_id(), "99::shared-id");
    }
}

// ---------------------------------------------------------------------------------------------
// The V.230 warning
// ---------------------------------------------------------------------------------------------

mod warnings {
    use std::fmt;
    use std::sync::Arc;

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Level, Metadata, Subscriber};

    use super::*;

    /// Records `(level, message)` of every event on the current thread.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<(Level, String)>>>);

    struct Message(String);

    impl Visit for Message {
        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if field.name() == "message" {
                self.0 = format!("{value:?}");
            }
        }
    }

    impl Subscriber for Capture {
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut message = Message(String::new());
            event.record(&mut message);
            self.0
                .lock()
                .unwrap()
                .push((*event.metadata().level(), message.0));
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// V.230
    #[tokio::test(flavor = "current_thread")]
    async fn page_reference_without_title_warns_unresolvable() {
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(capture.clone());
        let body = "<ac:image><ri:attachment ri:filename=\"other.png\"><ri:page ri:space-key=\"OTHER\"/></ri:attachment></ac:image>";
        let source = FakeSource::new();
        let outcome = run(body, &[], &source).await;
        assert_same_body(&outcome, body);
        let events = capture.0.lock().unwrap().clone();
        assert!(
            events.contains(&(
                Level::WARN,
                "Image macro references an unresolvable attachment, leaving macro untouched"
                    .to_owned()
            )),
            "{events:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Properties over generated bodies
// ---------------------------------------------------------------------------------------------

mod properties {
    use super::*;

    /// A small deterministic generator (xorshift64*), so failures reproduce from the seed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
            items[self.below(items.len())]
        }
    }

    /// Pieces of storage format, well-formed or not, to glue together at random.
    const NOISE: &[&str] = &[
        "<p>",
        "</p>",
        "text",
        " ",
        "\n",
        "&nbsp;",
        "&amp;",
        "& ",
        "&#160;",
        "<",
        ">",
        "<br/>",
        "<ac:structured-macro ac:name=\"code\">",
        "</ac:structured-macro>",
        "<![CDATA[x < y & <ac:imag]]>",
        "<!-- c -->",
        "<ri:attachment ri:filename=\"diagram.png\"/>",
        "<ac:imag",
        "<ac:images>",
        "</ac:image>",
        "<table><tr><td>",
        "</td></tr></table>",
        "ünï🎉",
        "\"",
        "'",
        "<ac:emoticon ac:name=\"smile\"/>",
    ];

    /// Macros whose image cannot be inlined with `failing_source()` and `failing_attachments()`.
    const FAILING_MACROS: &[&str] = &[
        "<ac:image><ri:attachment ri:filename=\"missing.png\"/></ac:image>",
        "<ac:image ac:alt=\"x\"><ri:attachment ri:filename=\"broken.png\"/></ac:image>",
        "<ac:image><ri:attachment ri:filename=\"cut.png\"/></ac:image>",
        "<ac:image><ri:attachment ri:filename=\"anim.gif\"/></ac:image>",
        "<ac:image><ri:attachment ri:filename=\"huge.png\"/></ac:image>",
        "<ac:image><ri:url ri:value=\"https://example.com/x.png\"/></ac:image>",
        "<ac:image><ri:attachment ri:filename=\"o.png\"><ri:page ri:content-title=\"Gone\"/></ri:attachment></ac:image>",
        "<ac:image><ri:attachment ri:filename=\"o.png\"><ri:page ri:space-key=\"X\" ri:content-title=\"Boom\"/></ri:attachment></ac:image>",
        "<ac:image><ri:attachment ri:filename=\"o.png\"><ri:page ri:space-key=\"X\"/></ri:attachment></ac:image>",
        "<ac:image/>",
        "<ac:image><p>nothing</p></ac:image>",
    ];

    fn failing_attachments() -> Vec<ImageRef> {
        vec![
            image("att-broken", "broken.png"),
            image("att-cut", "cut.png"),
            ImageRef {
                media_type: "image/gif".into(),
                ..image("att-gif", "anim.gif")
            },
            ImageRef {
                file_size: 300 * MIB,
                ..image("att-huge", "huge.png")
            },
            pdf(),
        ]
    }

    fn failing_source() -> FakeSource {
        FakeSource::new()
            .with_download("att-broken", Download::FailToStart)
            .with_download("att-cut", Download::FailMidStream)
            .with_lookup("X", "Boom", Lookup::Fail)
    }

    fn random_noise(rng: &mut Rng) -> String {
        let len = rng.below(40);
        (0..len).map(|_| rng.pick(NOISE)).collect()
    }

    #[tokio::test]
    async fn bodies_without_image_macros_come_back_unchanged() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for case in 0..500 {
            let body = random_noise(&mut rng);
            if body.contains("<ac:image") {
                continue;
            }
            // Image attachments that the filters reject, so nothing may be appended either.
            let attachments = &failing_attachments()[2..];
            let source = failing_source();
            let outcome = run(&body, attachments, &source).await;
            assert!(outcome.is_unchanged(), "case {case}: {body:?}");
            assert_eq!(outcome.body, body, "case {case}");
            assert_eq!(source.download_count(), 0, "case {case}");
        }
    }

    #[tokio::test]
    async fn bodies_whose_macros_all_fail_come_back_unchanged() {
        let mut rng = Rng(0xD1B5_4A32_D192_ED03);
        for case in 0..300 {
            let mut body = String::new();
            for _ in 0..rng.below(6) + 1 {
                body.push_str(&random_noise(&mut rng));
                body.push_str(rng.pick(FAILING_MACROS));
            }
            body.push_str(&random_noise(&mut rng));
            // Referencing every image attachment keeps them from being appended.
            body.push_str(FAILING_MACROS[1]);
            body.push_str(FAILING_MACROS[2]);
            let attachments = failing_attachments();
            let source = failing_source();
            let outcome = run(&body, &attachments, &source).await;
            assert!(outcome.is_unchanged(), "case {case}: {body:?}");
            assert_eq!(outcome.body, body, "case {case}");
        }
    }

    #[tokio::test]
    async fn only_the_macro_spans_change_in_well_formed_bodies() {
        const WELL_FORMED: &[&str] = &[
            "<p>text &amp; more</p>",
            "<p>a&nbsp;b</p>",
            "<ac:structured-macro ac:name=\"code\"><ac:plain-text-body><![CDATA[<ac:image>&]]></ac:plain-text-body></ac:structured-macro>",
            "<table><tbody><tr><td>cell</td></tr></tbody></table>",
            "\n  ",
            "<!-- <ac:image> -->",
            "ünï🎉",
            "<ac:image><ri:url ri:value=\"https://example.com/x.png\"/></ac:image>",
        ];
        let good = "<ac:image><ri:attachment ri:filename=\"diagram.png\"/></ac:image>";
        let img =
            format!("<img src=\"data:image/png;base64,{PNGDATA_B64}\" alt=\"diagram.png\" />");
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        for case in 0..300 {
            let (mut body, mut expected) = (String::new(), String::new());
            for _ in 0..rng.below(12) {
                if rng.below(3) == 0 {
                    body.push_str(good);
                    expected.push_str(&img);
                } else {
                    let piece = rng.pick(WELL_FORMED);
                    body.push_str(piece);
                    expected.push_str(piece);
                }
            }
            let source = FakeSource::new();
            let outcome = run(&body, &[diagram()], &source).await;
            if !body.is_empty() && !body.contains(good) {
                // No macro references the image: it is appended instead.
                expected.push_str(&format!("<p>{img}</p>"));
            }
            assert_eq!(outcome.body, expected, "case {case}: {body:?}");
        }
    }
}

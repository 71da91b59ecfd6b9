//! Storage-format image inlining: `sync_engine::inline_images` on an arbitrary body, with
//! attachments named after the body's own `ri:filename`s and arbitrary image bytes.
//!
//! Asserts, beyond "never panics":
//! - every byte outside the `<ac:image>` spans the parser reports is copied unchanged, in order;
//! - each span is either kept byte for byte or replaced by one well-formed
//!   `<img src="data:…;base64,…" …/>` whose decoded bytes are exactly one served image;
//! - appended images are `<p><img …/></p>` after the untouched tail, one per reported append;
//! - an unreadable body, or one with nothing to do, comes back as the very input;
//! - a body that is well-formed XML is still well-formed XML after inlining.
//!
//! Input: `storage body ⟨FF⟩ image bytes` (0xFF never occurs in UTF-8; the body is decoded
//! lossily, the image bytes are used as they are).

#![no_main]

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use futures::stream;
use libfuzzer_sys::fuzz_target;
use quick_xml::events::Event;
use sync_engine::{
    inline_images, ImageRef, ImageSource, ImageStream, InlineConfig, InlineError, OtherPage,
    PageContext,
};

const MEDIA_TYPES: [&str; 5] = [
    "image/png",
    "IMAGE/JPEG; charset=binary",
    "application/pdf",
    "image/gif",
    "image/svg+xml",
];
const MAX_BYTES: u64 = 4096;

/// Serves each attachment's bytes by id; some downloads and page lookups fail on purpose.
struct FakeSource {
    served: HashMap<String, Vec<u8>>,
    failing: Vec<String>,
    other_pages: Vec<ImageRef>,
}

#[derive(Debug)]
struct Refused;
impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused by the fake source")
    }
}
impl std::error::Error for Refused {}

impl ImageSource for FakeSource {
    async fn download(&self, image: &ImageRef) -> Result<ImageStream, InlineError> {
        if self.failing.contains(&image.attachment_id) {
            return Err(InlineError::Download(Box::new(Refused)));
        }
        let bytes = self
            .served
            .get(&image.attachment_id)
            .cloned()
            .unwrap_or_default();
        let chunks: Vec<Result<Bytes, InlineError>> = bytes
            .chunks(7)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect();
        Ok(Box::pin(stream::iter(chunks)))
    }

    async fn other_page_images(
        &self,
        _space_key: &str,
        title: &str,
    ) -> Result<Option<OtherPage>, InlineError> {
        match title.len() % 3 {
            0 => Ok(None),
            1 => Err(InlineError::Lookup(Box::new(Refused))),
            _ => Ok(Some(OtherPage {
                page_id: "200".to_owned(),
                attachments: self.other_pages.clone(),
            })),
        }
    }
}

/// The raw values of `attr="…"` in the body (entity references left as written: a name that
/// needs decoding simply resolves to no attachment, which is one more path to cover).
fn attribute_values(body: &str, attr: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    let mut values = Vec::new();
    let mut rest = body;
    while let Some(at) = rest.find(&needle) {
        rest = &rest[at + needle.len()..];
        if let Some(end) = rest.find('"') {
            values.push(rest[..end].to_owned());
        }
        if values.len() == 8 {
            break;
        }
    }
    values
}

fn attachment(page_id: &str, id: String, title: String, i: usize, size: u64) -> ImageRef {
    ImageRef {
        page_id: page_id.to_owned(),
        download_path: format!("/download/attachments/{page_id}/{id}"),
        attachment_id: id,
        title,
        media_type: MEDIA_TYPES[i % MEDIA_TYPES.len()].to_owned(),
        // Every third listing understates the size: the download cap must still hold.
        file_size: if i % 3 == 2 { 1 } else { size },
    }
}

/// Parses one `<img src="data:MIME;base64,B64" name="value"… />` at the start of `s`; the length
/// and the decoded bytes.
fn parse_img(s: &str) -> Option<(usize, Vec<u8>)> {
    let rest = s.strip_prefix("<img src=\"data:")?;
    let (mime, rest) = rest.split_once(";base64,")?;
    if mime.is_empty() || mime.contains(['"', '<', '>']) {
        return None;
    }
    let end = rest.find('"')?;
    let bytes = STANDARD.decode(&rest[..end]).ok()?;
    let mut rest = &rest[end + 1..];
    loop {
        if let Some(after) = rest.strip_prefix(" />") {
            return Some((s.len() - after.len(), bytes));
        }
        let attr = rest.strip_prefix(' ')?;
        let (name, value) = attr.split_once("=\"")?;
        if !matches!(name, "alt" | "title" | "width" | "height") {
            return None;
        }
        let end = value.find('"')?;
        if value[..end].contains('<') {
            return None;
        }
        rest = &value[end + 1..];
    }
}

/// Well-formed by quick-xml's strict reading: end tags match, everything opened is closed.
fn well_formed(text: &str) -> bool {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0_usize;
    loop {
        match reader.read_event() {
            Err(_) => return false,
            Ok(Event::Eof) => return depth == 0,
            Ok(Event::Start(_)) => depth += 1,
            Ok(Event::End(_)) => depth = depth.saturating_sub(1),
            Ok(_) => {}
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (body_bytes, image) = match data.iter().position(|b| *b == 0xFF) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"\x89PNG\r\n"[..]),
    };
    let body = String::from_utf8_lossy(body_bytes);

    let mut served = HashMap::new();
    let mut failing = Vec::new();
    let mut attachments = Vec::new();
    let mut other_pages = Vec::new();
    let names = attribute_values(&body, "ri:filename");
    for (i, name) in names.iter().enumerate() {
        let mut bytes = image.to_vec();
        bytes.push(i as u8);
        let size = bytes.len() as u64;
        let id = format!("att{i}");
        served.insert(id.clone(), bytes.clone());
        if i % 5 == 4 {
            failing.push(id.clone());
        }
        attachments.push(attachment("100", id, name.clone(), i, size));
        bytes.push(0xEE);
        let other = format!("other{i}");
        served.insert(other.clone(), bytes);
        other_pages.push(attachment("ignored", other, name.clone(), i + 1, size + 1));
    }
    if image.first().is_some_and(|b| b % 2 == 1) {
        let bytes = [image, b"appended"].concat();
        let size = bytes.len() as u64;
        served.insert("att-extra".to_owned(), bytes);
        attachments.push(attachment(
            "100",
            "att-extra".into(),
            "extra.png".into(),
            0,
            size,
        ));
    }
    let source = FakeSource {
        served,
        failing,
        other_pages,
    };
    let page = PageContext {
        page_id: "100",
        space_key: "SP",
        attachments: &attachments,
    };
    let config = InlineConfig {
        enabled: true,
        allowed_mime_types: vec!["image/png".into(), "image/jpeg".into(), "image/gif".into()],
        max_file_size_bytes: MAX_BYTES,
    };
    let outcome = futures::executor::block_on(inline_images(&body, &page, &source, &config));

    let spans = sync_engine::fuzzing::image_macro_spans(&body);
    if outcome.is_unchanged() {
        assert_eq!(&*outcome.body, &*body);
        assert!(outcome.inlined.is_empty() && outcome.appended.is_empty());
        return;
    }
    let spans = spans.expect("a body that was changed must have been readable");
    let out: &str = &outcome.body;
    let is_served = |bytes: &[u8]| {
        source.served.values().any(|s| s == bytes) && bytes.len() as u64 <= MAX_BYTES
    };

    let mut o = 0;
    let mut cursor = 0;
    let mut replaced = 0;
    for span in &spans {
        let gap = &body[cursor..span.start];
        assert!(out[o..].starts_with(gap), "bytes before {span:?} changed");
        o += gap.len();
        let original = &body[span.clone()];
        if out[o..].starts_with(original) {
            o += original.len();
        } else {
            let (len, bytes) = parse_img(&out[o..])
                .unwrap_or_else(|| panic!("span {span:?} replaced by something not an <img>"));
            assert!(is_served(&bytes), "inlined bytes are not a served image");
            o += len;
            replaced += 1;
        }
        cursor = span.end;
    }
    let tail = &body[cursor..];
    assert!(
        out[o..].starts_with(tail),
        "bytes after the last macro changed"
    );
    o += tail.len();
    for _ in &outcome.appended {
        let rest = out[o..]
            .strip_prefix("<p>")
            .expect("appended image opens a <p>");
        let (len, bytes) = parse_img(rest).expect("appended image is an <img>");
        assert!(is_served(&bytes), "appended bytes are not a served image");
        let rest = rest[len..]
            .strip_prefix("</p>")
            .expect("appended image closes its <p>");
        o = out.len() - rest.len();
    }
    assert_eq!(o, out.len(), "unexpected bytes at the end of the body");
    assert!(replaced >= outcome.inlined.len());
    assert_eq!(replaced == 0, outcome.inlined.is_empty());
    if well_formed(&body) {
        assert!(well_formed(out), "inlining broke a well-formed body");
    }
});

//! Finds the `<ac:image>` macros of a storage-format body, with their byte spans.
//!
//! The body is XHTML with undeclared namespace prefixes (`ac:`, `ri:`) and HTML entities
//! (`&nbsp;`), so it is read as plain, non-namespaced XML that tolerates unknown references,
//! stray `&` and mismatched end tags. Element nesting follows the lenient rule of the reference
//! connector's parser (htmlparser2 in XML mode): an end tag closes the nearest open element of
//! that name and everything opened inside it; an end tag with no open element is ignored.
//!
//! Only a macro whose own `</ac:image>` closes it is reported: an `<ac:image>` that is closed
//! implicitly (by an enclosing end tag) or never closed would otherwise "extend" over unrelated
//! content, and splicing that span would delete it. Self-closing `<ac:image/>` carries no
//! reference and is not reported either.

use std::ops::Range;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

const IMAGE: &[u8] = b"ac:image";
const URL: &[u8] = b"ri:url";
const ATTACHMENT: &[u8] = b"ri:attachment";
const PAGE: &[u8] = b"ri:page";

/// The body could not be read as XML; the caller leaves the page untouched.
#[derive(Debug, thiserror::Error)]
#[error("the storage-format body is not readable XML at byte {position}")]
pub(crate) struct ParseError {
    position: u64,
    #[source]
    source: Option<quick_xml::Error>,
}

/// What an image macro points at, judged from its direct children only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImageTarget {
    /// `<ri:url>`: an external image; never fetched.
    ExternalUrl,
    /// `<ri:attachment ri:filename=F/>` without `<ri:page>`: an attachment of the page itself.
    CurrentPage { filename: String },
    /// `<ri:attachment ri:filename=F><ri:page ri:content-title=T [ri:space-key=K]/>`.
    OtherPage {
        filename: String,
        /// `None`: the referenced page is in the current page's space.
        space_key: Option<String>,
        title: String,
    },
    /// No attachment, no filename, or an `<ri:page>` without a title. Guessing "current page"
    /// here could inline the wrong image, so these are left alone.
    Unresolvable,
}

/// One closed `<ac:image>…</ac:image>` macro.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageMacro {
    /// Byte range in the body, from `<ac:image` to the end of `</ac:image>`.
    pub(crate) span: Range<usize>,
    /// The macro's own attributes (`ac:alt`, `ac:width`, …), entity-decoded, in source order.
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) target: ImageTarget,
}

impl ImageMacro {
    /// The first value of a macro attribute, e.g. `ac:alt`.
    pub(crate) fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// An open element, identified by a serial number so "direct child of that element" survives
/// siblings with the same depth.
struct OpenElement<'a> {
    name: &'a [u8],
    serial: u64,
}

/// State of the `<ri:attachment>` chosen for the open macro (the first direct child one).
struct AttachmentChild {
    serial: u64,
    filename: Option<String>,
    /// The first direct `<ri:page>` child: `(content title, space key)`.
    page: Option<(Option<String>, Option<String>)>,
}

/// The outermost `<ac:image>` currently open.
struct OpenMacro {
    start: usize,
    /// Index of the macro in the open-element stack.
    depth: usize,
    serial: u64,
    attributes: Vec<(String, String)>,
    has_url: bool,
    attachment: Option<AttachmentChild>,
}

impl OpenMacro {
    fn into_macro(self, end: usize) -> ImageMacro {
        let target = if self.has_url {
            ImageTarget::ExternalUrl
        } else {
            classify_attachment(self.attachment)
        };
        ImageMacro {
            span: self.start..end,
            attributes: self.attributes,
            target,
        }
    }

    fn observe_child(&mut self, element: &BytesStart<'_>, parent: u64, serial: u64) {
        let name = element.name().into_inner();
        if parent == self.serial {
            if name == URL {
                self.has_url = true;
            } else if name == ATTACHMENT && self.attachment.is_none() {
                self.attachment = Some(AttachmentChild {
                    serial,
                    filename: attribute_value(element, "ri:filename"),
                    page: None,
                });
            }
        } else if name == PAGE {
            if let Some(attachment) = self.attachment.as_mut() {
                if attachment.serial == parent && attachment.page.is_none() {
                    attachment.page = Some((
                        attribute_value(element, "ri:content-title"),
                        attribute_value(element, "ri:space-key"),
                    ));
                }
            }
        }
    }
}

fn classify_attachment(attachment: Option<AttachmentChild>) -> ImageTarget {
    let Some(attachment) = attachment else {
        return ImageTarget::Unresolvable;
    };
    let Some(filename) = attachment.filename.filter(|name| !name.is_empty()) else {
        return ImageTarget::Unresolvable;
    };
    match attachment.page {
        None => ImageTarget::CurrentPage { filename },
        Some((Some(title), space_key)) if !title.is_empty() => ImageTarget::OtherPage {
            filename,
            space_key: space_key.filter(|key| !key.is_empty()),
            title,
        },
        Some(_) => ImageTarget::Unresolvable,
    }
}

/// Every closed `<ac:image>` macro at any depth, in document order, outermost only.
pub(crate) fn find_image_macros(body: &str) -> Result<Vec<ImageMacro>, ParseError> {
    let mut reader = Reader::from_str(body);
    let config = reader.config_mut();
    config.check_end_names = false;
    config.allow_unmatched_ends = true;
    config.allow_dangling_amp = true;

    let mut stack: Vec<OpenElement<'_>> = Vec::new();
    let mut next_serial = 0_u64;
    let mut open: Option<OpenMacro> = None;
    let mut macros = Vec::new();

    loop {
        let start = to_offset(reader.buffer_position())?;
        let event = reader.read_event().map_err(|source| ParseError {
            position: reader.error_position(),
            source: Some(source),
        })?;
        let end = to_offset(reader.buffer_position())?;
        match event {
            Event::Start(element) => {
                let serial = next_serial;
                next_serial += 1;
                let name = element_name(body, start, &element)?;
                if let Some(current) = open.as_mut() {
                    let parent = stack.last().map_or(u64::MAX, |parent| parent.serial);
                    current.observe_child(&element, parent, serial);
                } else if name == IMAGE {
                    open = Some(OpenMacro {
                        start,
                        depth: stack.len(),
                        serial,
                        attributes: all_attributes(&element),
                        has_url: false,
                        attachment: None,
                    });
                }
                stack.push(OpenElement { name, serial });
            }
            Event::Empty(element) => {
                if let Some(current) = open.as_mut() {
                    let parent = stack.last().map_or(u64::MAX, |parent| parent.serial);
                    current.observe_child(&element, parent, next_serial);
                    next_serial += 1;
                }
            }
            Event::End(element) => {
                let name = element.name().into_inner();
                let Some(index) = stack.iter().rposition(|open| open.name == name) else {
                    continue;
                };
                stack.truncate(index);
                if let Some(current) = open.take_if(|current| current.depth >= index) {
                    // Closed by its own end tag: a macro. Closed by an ancestor's: dropped.
                    if current.depth == index {
                        macros.push(current.into_macro(end));
                    }
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    // A macro still open at the end of the body was never closed: dropped.
    Ok(macros)
}

fn to_offset(position: u64) -> Result<usize, ParseError> {
    usize::try_from(position).map_err(|_| ParseError {
        position,
        source: None,
    })
}

/// The element's name as a slice of the body itself, so the open-element stack borrows the body
/// rather than copying every tag name.
fn element_name<'a>(
    body: &'a str,
    start: usize,
    element: &BytesStart<'_>,
) -> Result<&'a [u8], ParseError> {
    let len = element.name().into_inner().len();
    // `start` is the `<`; the name follows it directly.
    body.as_bytes()
        .get(start + 1..start + 1 + len)
        .filter(|name| *name == element.name().into_inner())
        .ok_or(ParseError {
            position: start as u64,
            source: None,
        })
}

fn all_attributes(element: &BytesStart<'_>) -> Vec<(String, String)> {
    element
        .html_attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .map(|attribute| {
            let key = String::from_utf8_lossy(attribute.key.into_inner()).into_owned();
            (key, decode_value(&attribute))
        })
        .collect()
}

fn attribute_value(element: &BytesStart<'_>, name: &str) -> Option<String> {
    element
        .html_attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .find(|attribute| attribute.key.into_inner() == name.as_bytes())
        .map(|attribute| decode_value(&attribute))
}

/// Decodes an attribute value the way the reference parser (htmlparser2 in XML mode) does, so
/// `ri:filename` compares equal to the attachment title: the five XML entities and numeric
/// references are decoded; anything else (`&nbsp;`, a lone `&`) is kept as written.
fn decode_value(attribute: &Attribute<'_>) -> String {
    decode_xml_references(&String::from_utf8_lossy(&attribute.value))
}

fn decode_xml_references(raw: &str) -> String {
    let mut decoded = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        decoded.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let resolved = rest
            .find(';')
            .and_then(|semi| Some((resolve_reference(&rest[1..semi])?, semi)));
        match resolved {
            Some((character, semi)) => {
                decoded.push(character);
                rest = &rest[semi + 1..];
            }
            None => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

/// The character of `name` in `&name;`, for XML's predefined entities and numeric references.
fn resolve_reference(name: &str) -> Option<char> {
    let code = match name {
        "amp" => return Some('&'),
        "lt" => return Some('<'),
        "gt" => return Some('>'),
        "quot" => return Some('"'),
        "apos" => return Some('\''),
        _ => name.strip_prefix('#')?,
    };
    let number = match code.strip_prefix(['x', 'X']) {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => code.parse().ok()?,
    };
    char::from_u32(number)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn spans(body: &str) -> Vec<&str> {
        find_image_macros(body)
            .unwrap()
            .into_iter()
            .map(|found| &body[found.span])
            .collect()
    }

    fn targets(body: &str) -> Vec<ImageTarget> {
        find_image_macros(body)
            .unwrap()
            .into_iter()
            .map(|found| found.target)
            .collect()
    }

    #[test]
    fn span_covers_the_macro_exactly() {
        let body = "<p>before</p><ac:image ac:alt=\"d\"><ri:attachment ri:filename=\"d.png\"/></ac:image><p>after</p>";
        assert_eq!(
            spans(body),
            ["<ac:image ac:alt=\"d\"><ri:attachment ri:filename=\"d.png\"/></ac:image>"]
        );
    }

    #[test]
    fn close_tag_with_whitespace_counts_as_a_close() {
        let body = "<ac:image><ri:attachment ri:filename=\"d.png\"/></ac:image ><p/>";
        assert_eq!(
            spans(body),
            ["<ac:image><ri:attachment ri:filename=\"d.png\"/></ac:image >"]
        );
    }

    #[test]
    fn tolerates_html_entities_undeclared_prefixes_and_stray_ampersands() {
        let body = "<p>a&nbsp;b &amp; c & d &mdash;</p><ac:image><ri:attachment ri:filename=\"x&nbsp;y.png\"/></ac:image>";
        assert_eq!(
            targets(body),
            [ImageTarget::CurrentPage {
                filename: "x&nbsp;y.png".into()
            }]
        );
        let right_after_entity =
            "<p>a&nbsp;<ac:image><ri:attachment ri:filename=\"z.png\"/></ac:image>&#160;</p>";
        assert_eq!(
            spans(right_after_entity),
            ["<ac:image><ri:attachment ri:filename=\"z.png\"/></ac:image>"]
        );
    }

    #[test]
    fn decodes_entities_in_filenames() {
        let body = "<ac:image><ri:attachment ri:filename=\"a&amp;b &quot;c&quot; &lt;d>.png\"/></ac:image>";
        assert_eq!(
            targets(body),
            [ImageTarget::CurrentPage {
                filename: "a&b \"c\" <d>.png".into()
            }]
        );
    }

    #[test]
    fn decodes_xml_and_numeric_references_and_keeps_the_rest() {
        assert_eq!(
            decode_xml_references("a &amp; b&nbsp;c &#65;&#x42;&#X43; & d &bogus &amp"),
            "a & b&nbsp;c ABC & d &bogus &amp"
        );
        assert_eq!(decode_xml_references("&lt;&gt;&quot;&apos;"), "<>\"'");
        assert_eq!(
            decode_xml_references("&#xD800;&#99999999;"),
            "&#xD800;&#99999999;"
        );
        assert_eq!(decode_xml_references("ä&amp;ö"), "ä&ö");
    }

    #[test]
    fn self_closing_and_unclosed_macros_are_not_reported() {
        assert!(spans("<p>before</p><ac:image/><p>after</p>").is_empty());
        assert!(
            spans("<p>start</p><ac:image><ri:attachment ri:filename=\"d.png\"/><p>more</p>")
                .is_empty()
        );
    }

    #[test]
    fn macro_closed_by_an_ancestor_is_not_reported() {
        let body = "<div><ac:image><ri:attachment ri:filename=\"d.png\"/></div><ac:image><ri:attachment ri:filename=\"e.png\"/></ac:image>";
        assert_eq!(
            targets(body),
            [ImageTarget::CurrentPage {
                filename: "e.png".into()
            }]
        );
    }

    #[test]
    fn unclosed_child_is_closed_by_the_macro_end_tag() {
        let body = "<ac:image><ri:attachment ri:filename=\"d.png\"></ac:image>";
        assert_eq!(spans(body), [body]);
    }

    #[test]
    fn stray_end_tags_are_ignored() {
        let body = "</p><ac:image><ri:attachment ri:filename=\"d.png\"/></span></ac:image>";
        assert_eq!(spans(body).len(), 1);
    }

    #[test]
    fn only_direct_children_classify_the_macro() {
        let nested_url = "<ac:image><span><ri:url ri:value=\"x\"/></span><ri:attachment ri:filename=\"d.png\"/></ac:image>";
        assert_eq!(
            targets(nested_url),
            [ImageTarget::CurrentPage {
                filename: "d.png".into()
            }]
        );
        let nested_page = "<ac:image><ri:attachment ri:filename=\"d.png\"><span><ri:page ri:content-title=\"T\"/></span></ri:attachment></ac:image>";
        assert_eq!(
            targets(nested_page),
            [ImageTarget::CurrentPage {
                filename: "d.png".into()
            }]
        );
        let sibling_page = "<ac:image><ri:attachment ri:filename=\"d.png\"/><ri:page ri:content-title=\"T\"/></ac:image>";
        assert_eq!(
            targets(sibling_page),
            [ImageTarget::CurrentPage {
                filename: "d.png".into()
            }]
        );
    }

    #[test]
    fn url_child_wins_over_an_attachment_child() {
        let body =
            "<ac:image><ri:attachment ri:filename=\"d.png\"/><ri:url ri:value=\"x\"/></ac:image>";
        assert_eq!(targets(body), [ImageTarget::ExternalUrl]);
    }

    #[test]
    fn classifies_other_page_references() {
        let body = "<ac:image><ri:attachment ri:filename=\"o.png\"><ri:page ri:space-key=\"OTHER\" ri:content-title=\"Other Page\"/></ri:attachment></ac:image><ac:image><ri:attachment ri:filename=\"o.png\"><ri:page ri:content-title=\"Same Space\"/></ri:attachment></ac:image><ac:image><ri:attachment ri:filename=\"o.png\"><ri:page ri:space-key=\"OTHER\"/></ri:attachment></ac:image>";
        assert_eq!(
            targets(body),
            [
                ImageTarget::OtherPage {
                    filename: "o.png".into(),
                    space_key: Some("OTHER".into()),
                    title: "Other Page".into()
                },
                ImageTarget::OtherPage {
                    filename: "o.png".into(),
                    space_key: None,
                    title: "Same Space".into()
                },
                ImageTarget::Unresolvable,
            ]
        );
    }

    #[test]
    fn missing_attachment_or_filename_is_unresolvable() {
        let body = "<ac:image><ri:attachment/></ac:image><ac:image><p/></ac:image><ac:image><ri:attachment ri:filename=\"\"/></ac:image>";
        assert_eq!(targets(body), vec![ImageTarget::Unresolvable; 3]);
    }

    #[test]
    fn nested_macro_is_part_of_the_outer_one() {
        let body = "<ac:image><ri:attachment ri:filename=\"a.png\"/><ac:image><ri:attachment ri:filename=\"b.png\"/></ac:image></ac:image>";
        assert_eq!(spans(body), [body]);
    }

    #[test]
    fn cdata_and_comments_do_not_hide_or_fake_macros() {
        let body = "<![CDATA[<ac:image><ri:attachment ri:filename=\"fake.png\"/></ac:image>]]><!-- <ac:image> --><ac:image><ri:attachment ri:filename=\"real.png\"/></ac:image>";
        assert_eq!(
            targets(body),
            [ImageTarget::CurrentPage {
                filename: "real.png".into()
            }]
        );
    }

    #[test]
    fn keeps_macro_attributes_in_order() {
        let body = "<ac:image ac:alt=\"An alt\" ac:width=\"320\"><ri:attachment ri:filename=\"d.png\"/></ac:image>";
        let found = find_image_macros(body).unwrap();
        assert_eq!(found[0].attribute("ac:alt"), Some("An alt"));
        assert_eq!(found[0].attribute("ac:width"), Some("320"));
        assert_eq!(found[0].attribute("ac:title"), None);
    }

    #[test]
    fn spans_are_byte_offsets_with_multibyte_text() {
        let body = "<p>ünïcødé 🎉</p><ac:image><ri:attachment ri:filename=\"ä.png\"/></ac:image>";
        assert_eq!(
            spans(body),
            ["<ac:image><ri:attachment ri:filename=\"ä.png\"/></ac:image>"]
        );
    }

    #[test]
    fn reads_a_realistic_storage_format_page() {
        let body = concat!(
            "<ac:layout><ac:layout-section ac:type=\"two_equal\" ac:breakout-mode=\"default\">",
            "<ac:layout-cell><h2 style=\"text-align: center;\">Design&nbsp;notes &ndash; v2</h2>",
            "<ac:structured-macro ac:name=\"info\" ac:schema-version=\"1\" ac:macro-id=\"0b3e\">",
            "<ac:parameter ac:name=\"title\">Heads up</ac:parameter><ac:rich-text-body>",
            "<p>See <ac:link><ri:page ri:content-title=\"Q&amp;A\" /><ac:plain-text-link-body>",
            "<![CDATA[Q&A <here>]]></ac:plain-text-link-body></ac:link> by <time datetime=\"2024-01-01\" />",
            "&rsquo;s <ac:emoticon ac:name=\"smile\" /></p></ac:rich-text-body></ac:structured-macro>",
            "<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status>",
            "<ac:task-body>check a > b</ac:task-body></ac:task></ac:task-list>",
            "<p><ac:image ac:align=\"center\" ac:layout=\"center\" ac:original-height=\"600\" ac:width=\"760\">",
            "<ri:attachment ri:filename=\"arch & flow.png\" ri:version-at-save=\"3\" /></ac:image></p>",
            "</ac:layout-cell><ac:layout-cell><p><a href=\"https://x.example/?a=1&amp;b=2\">x</a><br /></p>",
            "</ac:layout-cell></ac:layout-section></ac:layout>",
        );
        let found = find_image_macros(body).unwrap();
        assert_eq!(found.len(), 1);
        assert!(body[found[0].span.clone()].starts_with("<ac:image ac:align"));
        assert!(body[found[0].span.clone()].ends_with("</ac:image>"));
        assert_eq!(
            found[0].target,
            ImageTarget::CurrentPage {
                filename: "arch & flow.png".into()
            }
        );
        assert_eq!(found[0].attribute("ac:width"), Some("760"));
    }

    #[test]
    fn unterminated_markup_is_an_error() {
        assert!(find_image_macros("<p>text<!-- never closed").is_err());
        assert!(find_image_macros("<ac:image><ri:attachment ri:filename=\"d.png").is_err());
    }
}

//! The `<img>` element that replaces a macro, exactly as the reference connector writes it, so a
//! page ingested by either connector reads the same to Unique's HTML pipeline.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::parse::ImageMacro;

/// Macro attributes carried over to `<img>`, in output order after `alt`. Presentational hints
/// (`ac:align`, `ac:thumbnail`, …) mean nothing outside Confluence and are dropped.
const KEPT_ATTRIBUTES: [(&str, &str); 3] = [
    ("ac:title", "title"),
    ("ac:width", "width"),
    ("ac:height", "height"),
];

/// `image/PNG; charset=binary` → `image/png`: the part before `;`, trimmed, lower-cased — the
/// form every MIME comparison uses (allow-list, "is it an image", the `data:` URI).
pub fn normalize_mime_type(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Escapes what would end or confuse a double-quoted attribute value. `>` is legal there and
/// left alone, as the reference does.
fn escape_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// `<img src="data:<mime>;base64,<b64>" alt="…" [title="…"] [width="…"] [height="…"] />`.
///
/// `alt` is the macro's `ac:alt`, else the attachment's file name; an empty alt is omitted.
/// `image_macro` is `None` for images appended at the end of the body.
pub(crate) fn img_tag(
    normalized_mime: &str,
    bytes: &[u8],
    filename: &str,
    image_macro: Option<&ImageMacro>,
) -> String {
    let attribute = |name: &str| image_macro.and_then(|found| found.attribute(name));
    let mut tag = format!(
        "<img src=\"data:{normalized_mime};base64,{}\"",
        STANDARD.encode(bytes)
    );
    let alt = attribute("ac:alt").unwrap_or(filename);
    if !alt.is_empty() {
        push_attribute(&mut tag, "alt", alt);
    }
    for (macro_name, html_name) in KEPT_ATTRIBUTES {
        if let Some(value) = attribute(macro_name) {
            push_attribute(&mut tag, html_name, value);
        }
    }
    tag.push_str(" />");
    tag
}

fn push_attribute(tag: &mut String, name: &str, value: &str) {
    tag.push(' ');
    tag.push_str(name);
    tag.push_str("=\"");
    tag.push_str(&escape_attribute(value));
    tag.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_parameters_and_case() {
        assert_eq!(
            normalize_mime_type("image/PNG; charset=binary"),
            "image/png"
        );
        assert_eq!(normalize_mime_type("  Image/JPEG "), "image/jpeg");
        assert_eq!(normalize_mime_type(""), "");
    }

    #[test]
    fn escapes_ampersand_quote_and_less_than_only() {
        assert_eq!(
            escape_attribute("a&b \"c\" <d>.png"),
            "a&amp;b &quot;c&quot; &lt;d>.png"
        );
    }

    #[test]
    fn appended_image_uses_the_filename_as_alt() {
        assert_eq!(
            img_tag("image/png", b"PNG", "diagram.png", None),
            "<img src=\"data:image/png;base64,UE5H\" alt=\"diagram.png\" />"
        );
    }

    #[test]
    fn empty_alt_is_omitted() {
        assert_eq!(
            img_tag("image/png", b"", "", None),
            "<img src=\"data:image/png;base64,\" />"
        );
    }
}

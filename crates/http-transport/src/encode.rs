//! Percent-encoding with JavaScript's `encodeURIComponent` rules. Both clients must encode query
//! values exactly as the reference connector did (CQL, space keys, titles, content keys), so the
//! rule lives in one place.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )` is encoded.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// `encodeURIComponent(value)`: spaces become `%20`, `(`, `)`, `'`, `!`, `*` stay literal, and
/// non-ASCII is UTF-8 percent-encoded.
pub fn encode_uri_component(value: &str) -> String {
    utf8_percent_encode(value, URI_COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::encode_uri_component;

    #[test]
    fn encodes_like_javascript_encode_uri_component() {
        assert_eq!(encode_uri_component("TST SPACE"), "TST%20SPACE");
        assert_eq!(
            encode_uri_component(r#"Page With "Quotes" & Stuff"#),
            "Page%20With%20%22Quotes%22%20%26%20Stuff"
        );
        assert_eq!(
            encode_uri_component("a-b_c.d!e~f*g'h(i)"),
            "a-b_c.d!e~f*g'h(i)"
        );
        assert_eq!(encode_uri_component("/?#=+,é"), "%2F%3F%23%3D%2B%2C%C3%A9");
    }
}

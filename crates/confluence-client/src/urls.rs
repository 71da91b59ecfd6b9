//! Percent-encoding and the web URLs stored as metadata in Unique (never fetched). The URLs must
//! stay byte-identical to the reference connector's so that switching does not re-key anything.

/// `encodeURIComponent(value)`, shared with the Unique client through the transport crate.
pub(crate) fn encode_component(value: &str) -> String {
    http_transport::encode_uri_component(value)
}

/// Cloud page: `BASE/wiki` + the page's `_links.webui`.
pub(crate) fn cloud_page_url(base_url: &str, webui: &str) -> String {
    format!("{base_url}/wiki{webui}")
}

/// Data Center page: the stable `viewpage.action` form (`webui` is a pretty URL that changes with
/// the title, so the reference ignores it).
pub(crate) fn data_center_page_url(base_url: &str, page_id: &str) -> String {
    format!("{base_url}/pages/viewpage.action?pageId={page_id}")
}

/// `<prefix>/pages/viewpageattachments.action?pageId=<p>&preview=<enc(/p/att/title)>`.
/// On Cloud the prefix is `BASE/wiki` and the attachment id loses a leading `att`
/// (`att360608` → `360608`); on Data Center ids are used unchanged.
pub(crate) fn attachment_url(
    prefix: &str,
    page_id: &str,
    attachment_id: &str,
    title: &str,
) -> String {
    let preview = encode_component(&format!("/{page_id}/{attachment_id}/{title}"));
    format!("{prefix}/pages/viewpageattachments.action?pageId={page_id}&preview={preview}")
}

pub(crate) fn cloud_attachment_url(
    base_url: &str,
    page_id: &str,
    attachment_id: &str,
    title: &str,
) -> String {
    let id = attachment_id.strip_prefix("att").unwrap_or(attachment_id);
    attachment_url(&format!("{base_url}/wiki"), page_id, id, title)
}

pub(crate) fn data_center_attachment_url(
    base_url: &str,
    page_id: &str,
    attachment_id: &str,
    title: &str,
) -> String {
    attachment_url(base_url, page_id, attachment_id, title)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOUD: &str = "https://tenant1.atlassian.net";
    const DC: &str = "https://confluence.acme.com/confluence";

    #[test]
    fn encodes_like_encode_uri_component() {
        assert_eq!(encode_component("TST SPACE"), "TST%20SPACE");
        assert_eq!(
            encode_component(r#"Page With "Quotes" & Stuff"#),
            "Page%20With%20%22Quotes%22%20%26%20Stuff"
        );
        assert_eq!(encode_component("a-b_c.d!e~f*g'h(i)"), "a-b_c.d!e~f*g'h(i)");
        assert_eq!(encode_component("/?#=+,é"), "%2F%3F%23%3D%2B%2C%C3%A9");
    }

    #[test]
    fn cloud_page_url_is_base_wiki_webui() {
        assert_eq!(
            cloud_page_url(CLOUD, "/spaces/SP/pages/100/Test+Page"),
            "https://tenant1.atlassian.net/wiki/spaces/SP/pages/100/Test+Page"
        );
    }

    #[test]
    fn data_center_page_url_uses_viewpage_action() {
        assert_eq!(
            data_center_page_url(DC, "99"),
            "https://confluence.acme.com/confluence/pages/viewpage.action?pageId=99"
        );
    }

    #[test]
    fn cloud_attachment_url_strips_att_prefix_and_keeps_parentheses() {
        assert_eq!(
            cloud_attachment_url(CLOUD, "100", "att200", "report.pdf"),
            "https://tenant1.atlassian.net/wiki/pages/viewpageattachments.action?pageId=100&preview=%2F100%2F200%2Freport.pdf"
        );
        assert_eq!(
            cloud_attachment_url(CLOUD, "100", "att200", "report (final).pdf"),
            "https://tenant1.atlassian.net/wiki/pages/viewpageattachments.action?pageId=100&preview=%2F100%2F200%2Freport%20(final).pdf"
        );
        assert_eq!(
            cloud_attachment_url(CLOUD, "100", "360608", "a.png"),
            "https://tenant1.atlassian.net/wiki/pages/viewpageattachments.action?pageId=100&preview=%2F100%2F360608%2Fa.png"
        );
    }

    #[test]
    fn data_center_attachment_url_keeps_ids_unchanged() {
        assert_eq!(
            data_center_attachment_url(DC, "100", "att200", "my report.pdf"),
            "https://confluence.acme.com/confluence/pages/viewpageattachments.action?pageId=100&preview=%2F100%2Fatt200%2Fmy%20report.pdf"
        );
    }
}

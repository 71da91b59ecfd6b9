//! The JSON shapes Confluence sends, and their conversion into the engine's types. Parsing never
//! panics: any mismatch is a [`ConfluenceError`] naming the endpoint. Strict where the reference is
//! strict (v1 list envelopes need `results` and `_links`; a page needs id, title, a known type,
//! space, version, webui link and labels), lenient on fields we do not read.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::model::{Attachment, ContentType, InlineAttachmentInfo, Page, PageBody, Space};
use crate::ConfluenceError;
use http_transport::{Disclosure, RemoteText};

/// Parses `bytes` as `T`, naming `endpoint` in the error. The decoder's reason may quote the
/// body, so it is shown as `disclosure` says.
pub(crate) fn parse<T: DeserializeOwned>(
    bytes: &[u8],
    endpoint: &str,
    disclosure: Disclosure,
) -> Result<T, ConfluenceError> {
    serde_json::from_slice(bytes).map_err(|e| ConfluenceError::Decode {
        endpoint: endpoint.to_owned(),
        reason: RemoteText::new(e.to_string(), disclosure),
    })
}

/// One item of a body batch. A malformed item is skipped with a warning instead of failing the
/// batch: the reference fetched bodies one by one and skipped a page whose body it could not
/// read, so one bad page must not cost the other pages of its batch.
pub(crate) fn lenient_item<T: DeserializeOwned>(
    item: serde_json::Value,
    endpoint: &str,
) -> Option<T> {
    let id = item.get("id").map(ToString::to_string).unwrap_or_default();
    match serde_json::from_value(item) {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            tracing::warn!(endpoint, content_id = %id, error = %e, "skipping malformed content in a body batch");
            None
        }
    }
}

/// A string that some servers send as a number (Data Center space ids).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StringOrNumber(pub String);

impl<'de> Deserialize<'de> for StringOrNumber {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(serde_json::Number),
        }
        Ok(StringOrNumber(match Raw::deserialize(deserializer)? {
            Raw::Text(s) => s,
            Raw::Number(n) => n.to_string(),
        }))
    }
}

/// `_links` of a list; `next` is relative to the API root.
#[derive(Debug, Deserialize, Default)]
pub(crate) struct ListLinks {
    #[serde(default)]
    pub next: Option<String>,
}

/// A v1 list envelope (`content/search`, `child/attachment`): `results` and `_links` required.
#[derive(Debug, Deserialize)]
pub(crate) struct V1List<T> {
    pub results: Vec<T>,
    #[serde(rename = "_links")]
    pub links: ListLinks,
    #[serde(default)]
    pub limit: Option<u64>,
}

/// A v2 list envelope: `_links` is absent on the last page of some listings.
#[derive(Debug, Deserialize)]
pub(crate) struct V2List<T> {
    pub results: Vec<T>,
    #[serde(rename = "_links", default)]
    pub links: ListLinks,
}

/// A non-empty `next` link, as the reference treats it.
pub(crate) fn next_link(links: &ListLinks) -> Option<&str> {
    links.next.as_deref().filter(|n| !n.is_empty())
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1Space {
    pub id: StringOrNumber,
    pub key: String,
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1Version {
    pub when: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1PageLinks {
    pub webui: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1Label {
    pub name: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1Labels {
    pub results: Vec<V1Label>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1Metadata {
    pub labels: V1Labels,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Storage {
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Body {
    #[serde(default)]
    pub storage: Option<Storage>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1AttachmentExtensions {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    #[serde(rename = "fileSize")]
    pub file_size: u64,
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1AttachmentLinks {
    pub download: String,
}

/// v1 attachment (inline `children.attachment.results`, DC `child/attachment` pages).
#[derive(Debug, Deserialize)]
pub(crate) struct V1Attachment {
    pub id: String,
    pub title: String,
    pub extensions: V1AttachmentExtensions,
    #[serde(default)]
    pub version: Option<V1Version>,
    #[serde(rename = "_links")]
    pub links: V1AttachmentLinks,
}

impl From<V1Attachment> for Attachment {
    fn from(a: V1Attachment) -> Self {
        Attachment {
            id: a.id,
            title: a.title,
            media_type: a.extensions.media_type,
            file_size: a.extensions.file_size,
            version_when: a.version.map(|v| v.when),
            download_path: a.links.download,
        }
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct V1AttachmentBlock {
    pub results: Vec<V1Attachment>,
    #[serde(default)]
    pub limit: Option<u64>,
    #[serde(default)]
    pub size: Option<u64>,
    #[serde(rename = "_links", default)]
    pub links: ListLinks,
}

#[derive(Debug, Deserialize, Default)]
pub(crate) struct V1Children {
    #[serde(default)]
    pub attachment: Option<V1AttachmentBlock>,
}

/// v1 content (search results, title lookup, DC body batch). Only `id`, `type` and `space` are
/// required of every item: an item of a type this client does not know is skipped by id and
/// space, whatever else it lacks. A known type needs the rest too (see [`V1Page::into_page`]).
#[derive(Debug, Deserialize)]
pub(crate) struct V1Page {
    pub id: String,
    #[serde(rename = "type")]
    pub content_type: String,
    pub space: V1Space,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub version: Option<V1Version>,
    #[serde(rename = "_links", default)]
    pub links: Option<V1PageLinks>,
    #[serde(default)]
    pub metadata: Option<V1Metadata>,
    #[serde(default)]
    pub children: Option<V1Children>,
    #[serde(default)]
    pub body: Option<Body>,
    /// Raw `ancestors` and `restrictions` expansions (asked for only with
    /// `view_restrictions`), read leniently by `access_wire::listed_access`.
    #[serde(default)]
    pub ancestors: Option<serde_json::Value>,
    #[serde(default)]
    pub restrictions: Option<serde_json::Value>,
}

fn content_type(id: &str, value: &str, endpoint: &str) -> Result<ContentType, ConfluenceError> {
    ContentType::parse(value).ok_or_else(|| ConfluenceError::UnknownContentType {
        endpoint: endpoint.to_owned(),
        content_id: id.to_owned(),
        value: value.to_owned(),
    })
}

/// A field a known content type must carry.
fn required<T>(
    value: Option<T>,
    field: &str,
    id: &str,
    endpoint: &str,
) -> Result<T, ConfluenceError> {
    value.ok_or_else(|| ConfluenceError::Decode {
        endpoint: endpoint.to_owned(),
        // Our own words about the answer, quoting nothing Confluence wrote.
        reason: RemoteText::new(
            format!("missing field `{field}` in content {id}"),
            Disclosure::Disclose,
        ),
    })
}

impl V1Page {
    fn space(&self) -> Space {
        Space {
            id: self.space.id.0.clone(),
            key: self.space.key.clone(),
            name: self.space.name.clone(),
        }
    }

    /// A search result as the engine sees it. A type this client does not know becomes a
    /// [`ContentType::Unknown`] page with its id and space only, logged with the type's name.
    pub(crate) fn into_page(self, endpoint: &str) -> Result<Page, ConfluenceError> {
        let Some(content_type) = ContentType::parse(&self.content_type) else {
            tracing::warn!(
                endpoint,
                content_id = %self.id,
                r#type = %self.content_type,
                "skipping content of a type this connector does not know; a copy already in Unique is kept"
            );
            return Ok(Page {
                space: self.space(),
                id: self.id,
                title: self.title.unwrap_or_default(),
                content_type: ContentType::Unknown,
                version_when: String::new(),
                webui: String::new(),
                labels: Vec::new(),
                attachments: Vec::new(),
                inline_attachments: None,
                attachments_incomplete: false,
                access: None,
            });
        };
        let space = self.space();
        let title = required(self.title, "title", &self.id, endpoint)?;
        let version = required(self.version, "version", &self.id, endpoint)?;
        let links = required(self.links, "_links", &self.id, endpoint)?;
        let metadata = required(self.metadata, "metadata", &self.id, endpoint)?;
        let (attachments, inline) = match self.children.and_then(|c| c.attachment) {
            Some(block) => {
                let info = InlineAttachmentInfo {
                    size: block.size,
                    limit: block.limit,
                    next: next_link(&block.links).map(str::to_owned),
                };
                let list = block.results.into_iter().map(Attachment::from).collect();
                (list, Some(info))
            }
            None => (Vec::new(), None),
        };
        Ok(Page {
            id: self.id,
            title,
            content_type,
            space,
            version_when: version.when,
            webui: links.webui,
            labels: metadata
                .labels
                .results
                .into_iter()
                .map(|l| l.name)
                .collect(),
            attachments,
            inline_attachments: inline,
            attachments_incomplete: false,
            access: None,
        })
    }

    pub(crate) fn into_body(self, endpoint: &str) -> Result<PageBody, ConfluenceError> {
        content_type(&self.id, &self.content_type, endpoint)?;
        let title = required(self.title, "title", &self.id, endpoint)?;
        let version = required(self.version, "version", &self.id, endpoint)?;
        let metadata = required(self.metadata, "metadata", &self.id, endpoint)?;
        Ok(PageBody {
            id: self.id,
            title,
            storage: self.body.and_then(|b| b.storage).and_then(|s| s.value),
            version_when: Some(version.when),
            labels: Some(
                metadata
                    .labels
                    .results
                    .into_iter()
                    .map(|l| l.name)
                    .collect(),
            ),
        })
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct V2Version {
    #[serde(rename = "createdAt", default)]
    pub created_at: Option<String>,
}

/// Cloud v2 attachment (`/wiki/api/v2/{pages|blogposts}/<id>/attachments`).
#[derive(Debug, Deserialize)]
pub(crate) struct V2Attachment {
    pub id: StringOrNumber,
    pub title: String,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    #[serde(rename = "fileSize")]
    pub file_size: u64,
    #[serde(rename = "downloadLink")]
    pub download_link: String,
    #[serde(default)]
    pub version: Option<V2Version>,
}

/// The v2 → v1 mapping of the reference: `mediaType`/`fileSize` → extensions, `downloadLink` →
/// `_links.download`, `version.createdAt` → `version.when`.
impl From<V2Attachment> for Attachment {
    fn from(a: V2Attachment) -> Self {
        Attachment {
            id: a.id.0,
            title: a.title,
            media_type: a.media_type,
            file_size: a.file_size,
            version_when: a.version.and_then(|v| v.created_at),
            download_path: a.download_link,
        }
    }
}

/// Cloud v2 page or blog post with `body-format=storage`.
#[derive(Debug, Deserialize)]
pub(crate) struct V2Content {
    pub id: StringOrNumber,
    pub title: String,
    #[serde(default)]
    pub version: Option<V2Version>,
    #[serde(default)]
    pub body: Option<Body>,
}

impl From<V2Content> for PageBody {
    fn from(c: V2Content) -> Self {
        PageBody {
            id: c.id.0,
            title: c.title,
            storage: c.body.and_then(|b| b.storage).and_then(|s| s.value),
            version_when: c.version.and_then(|v| v.created_at),
            labels: None,
        }
    }
}

/// Data Center application-links manifest: only `id` matters, and it must be a non-empty string.
pub(crate) fn manifest_id(bytes: &[u8], endpoint: &str) -> Result<String, ConfluenceError> {
    let invalid = || ConfluenceError::InvalidManifest {
        endpoint: endpoint.to_owned(),
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| invalid())?;
    match value.get("id").and_then(serde_json::Value::as_str) {
        Some(id) if !id.trim().is_empty() => Ok(id.to_owned()),
        _ => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const EP: &str = "/wiki/rest/api/content/search";

    fn page_json() -> serde_json::Value {
        json!({
            "id": "100", "title": "Test Page", "type": "page",
            "space": {"id": 98304, "key": "SP", "name": "Space One"},
            "version": {"when": "2024-01-01T00:00:00.000Z", "number": 3},
            "_links": {"webui": "/spaces/SP/pages/100/Test+Page"},
            "metadata": {"labels": {"results": [{"name": "ai-ingest"}, {"name": "eng"}]}},
            "children": {"attachment": {
                "results": [{
                    "id": "att1", "title": "a.pdf",
                    "extensions": {"mediaType": "application/pdf", "fileSize": 12},
                    "version": {"when": "2024-02-01T00:00:00.000Z"},
                    "_links": {"download": "/download/attachments/100/a.pdf?version=1&api=v2"}
                }],
                "start": 0, "limit": 25, "size": 1,
                "_links": {"next": "/rest/api/content/100/child/attachment?start=25"}
            }},
            "unknownField": {"ignored": true}
        })
    }

    fn list(items: serde_json::Value) -> Vec<u8> {
        serde_json::to_vec(&json!({"results": items, "_links": {}, "limit": 100, "size": 1}))
            .unwrap()
    }

    fn parse<T: DeserializeOwned>(bytes: &[u8], endpoint: &str) -> Result<T, ConfluenceError> {
        super::parse(bytes, endpoint, Disclosure::Disclose)
    }

    fn parse_pages(bytes: &[u8]) -> Result<Vec<Page>, ConfluenceError> {
        let list: V1List<V1Page> = parse(bytes, EP)?;
        list.results.into_iter().map(|p| p.into_page(EP)).collect()
    }

    #[test]
    fn parses_a_v1_page_with_numeric_space_id_and_inline_attachments() {
        let pages = parse_pages(&list(json!([page_json()]))).unwrap();
        let page = &pages[0];
        assert_eq!(page.space.id, "98304");
        assert_eq!(page.content_type, ContentType::Page);
        assert_eq!(page.labels, ["ai-ingest", "eng"]);
        assert_eq!(page.webui, "/spaces/SP/pages/100/Test+Page");
        assert_eq!(page.attachments.len(), 1);
        assert_eq!(page.attachments[0].media_type, "application/pdf");
        assert_eq!(page.attachments[0].file_size, 12);
        assert_eq!(
            page.attachments[0].version_when.as_deref(),
            Some("2024-02-01T00:00:00.000Z")
        );
        let info = page.inline_attachments.as_ref().unwrap();
        assert_eq!((info.size, info.limit), (Some(1), Some(25)));
        assert_eq!(
            info.next.as_deref(),
            Some("/rest/api/content/100/child/attachment?start=25")
        );
    }

    #[test]
    fn empty_children_means_no_attachments() {
        let mut p = page_json();
        p["children"] = json!({});
        let pages = parse_pages(&list(json!([p]))).unwrap();
        assert!(pages[0].attachments.is_empty());
        assert_eq!(pages[0].inline_attachments, None);
    }

    #[test]
    fn an_unknown_content_type_is_kept_by_id_and_space_only() {
        // A type added after this client was written, carrying only what every item has.
        let unknown = json!({"id": "900", "type": "livedoc",
                             "space": {"id": 98304, "key": "SP", "name": "Space One"}});
        let pages = parse_pages(&list(json!([page_json(), unknown]))).unwrap();
        assert_eq!(pages.len(), 2);
        let skipped = &pages[1];
        assert_eq!(skipped.content_type, ContentType::Unknown);
        assert!(!skipped.content_type.may_have_body());
        assert_eq!(
            (skipped.id.as_str(), skipped.space.key.as_str()),
            ("900", "SP")
        );
        // Without a space it cannot be placed: that is a malformed item, as for any type.
        let no_space = json!({"id": "901", "type": "livedoc"});
        assert!(parse_pages(&list(json!([no_space]))).is_err());
    }

    #[test]
    fn a_known_type_missing_a_field_names_it() {
        let mut p = page_json();
        p.as_object_mut().unwrap().remove("version");
        let err = parse_pages(&list(json!([p]))).unwrap_err();
        assert!(err.to_string().contains("`version`"), "{err}");
        assert!(err.to_string().contains("content 100"), "{err}");
    }

    #[test]
    fn malformed_json_is_a_decode_error_naming_the_endpoint() {
        for body in [
            &b"{not json"[..],
            b"null",
            b"\"text\"",
            b"{\"results\": []}",
            b"{\"_links\": {}}",
        ] {
            let err = parse_pages(body).unwrap_err();
            assert!(
                matches!(err, ConfluenceError::Decode { ref endpoint, .. } if endpoint == EP),
                "{err}"
            );
        }
    }

    #[test]
    fn a_page_missing_required_fields_is_rejected() {
        for field in [
            "id", "title", "space", "version", "_links", "metadata", "type",
        ] {
            let mut p = page_json();
            p.as_object_mut().unwrap().remove(field);
            assert!(parse_pages(&list(json!([p]))).is_err(), "{field}");
        }
        let mut p = page_json();
        p["id"] = json!(100);
        assert!(parse_pages(&list(json!([p]))).is_err());
    }

    #[test]
    fn v2_attachment_maps_onto_the_v1_shape() {
        let v2: V2List<V2Attachment> = parse(
            &serde_json::to_vec(&json!({
                "results": [
                    {"id": "att-1", "title": "x.png", "mediaType": "image/png", "fileSize": 7,
                     "downloadLink": "/download/attachments/1/x.png", "version": {"createdAt": "2024-03-01T00:00:00Z"},
                     "status": "current"},
                    {"id": "att-2", "title": "y.pdf", "mediaType": "application/pdf", "fileSize": 9,
                     "downloadLink": "/download/attachments/1/y.pdf"}
                ],
                "_links": {"next": "/wiki/api/v2/pages/1/attachments?cursor=abc"}
            }))
            .unwrap(),
            "/wiki/api/v2/pages/1/attachments",
        )
        .unwrap();
        assert_eq!(
            next_link(&v2.links),
            Some("/wiki/api/v2/pages/1/attachments?cursor=abc")
        );
        let atts: Vec<Attachment> = v2.results.into_iter().map(Attachment::from).collect();
        assert_eq!(
            atts[0],
            Attachment {
                id: "att-1".into(),
                title: "x.png".into(),
                media_type: "image/png".into(),
                file_size: 7,
                version_when: Some("2024-03-01T00:00:00Z".into()),
                download_path: "/download/attachments/1/x.png".into(),
            }
        );
        assert_eq!(atts[1].version_when, None);
    }

    #[test]
    fn v2_list_without_links_is_the_last_page() {
        let v2: V2List<V2Content> = parse(br#"{"results": []}"#, "/wiki/api/v2/pages").unwrap();
        assert!(next_link(&v2.links).is_none());
    }

    #[test]
    fn empty_next_link_means_done() {
        let links = ListLinks {
            next: Some(String::new()),
        };
        assert!(next_link(&links).is_none());
    }

    #[test]
    fn v2_body_carries_storage_and_version() {
        let v2: V2List<V2Content> = parse(
            br#"{"results": [{"id": "5", "title": "T", "spaceId": "9", "version": {"createdAt": "2024-01-01T00:00:00Z", "number": 2},
                 "body": {"storage": {"representation": "storage", "value": "<p>x</p>"}}}], "_links": {}}"#,
            "/wiki/api/v2/pages",
        )
        .unwrap();
        let body = PageBody::from(v2.results.into_iter().next().unwrap());
        assert_eq!(body.storage.as_deref(), Some("<p>x</p>"));
        assert_eq!(body.version_when.as_deref(), Some("2024-01-01T00:00:00Z"));
        assert_eq!(body.labels, None);
    }

    #[test]
    fn v1_body_keeps_labels() {
        let mut p = page_json();
        p["body"] = json!({"storage": {"value": "<p>hi</p>", "representation": "storage"}});
        let list: V1List<V1Page> = parse(&list(json!([p])), EP).unwrap();
        let body = list
            .results
            .into_iter()
            .next()
            .unwrap()
            .into_body(EP)
            .unwrap();
        assert_eq!(body.storage.as_deref(), Some("<p>hi</p>"));
        assert_eq!(body.labels.unwrap(), ["ai-ingest", "eng"]);
    }

    #[test]
    fn a_malformed_body_item_is_skipped_not_fatal() {
        let good = serde_json::json!({"id": "1", "title": "T"});
        let bad = serde_json::json!({"id": 2});
        assert!(lenient_item::<V2Content>(good, "/wiki/api/v2/pages").is_some());
        assert!(lenient_item::<V2Content>(bad, "/wiki/api/v2/pages").is_none());
    }

    #[test]
    fn manifest_needs_a_non_empty_string_id() {
        let ep = "/rest/applinks/1.0/manifest";
        assert_eq!(
            manifest_id(br#"{"id": "abc-123", "name": "Confluence"}"#, ep).unwrap(),
            "abc-123"
        );
        for bad in [
            &br#"{"name": "x"}"#[..],
            br#"{"id": 42}"#,
            br#"{"id": ""}"#,
            b"null",
            b"<manifest/>",
        ] {
            let err = manifest_id(bad, ep).unwrap_err();
            assert!(err
                .to_string()
                .contains("did not contain a valid \"id\" field"));
        }
    }
}

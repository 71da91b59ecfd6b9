//! JSON shapes of content, spaces and attachments, v1 (both flavours) and v2 (Cloud), checked
//! against Atlassian's OpenAPI descriptions.

use serde_json::{json, Map, Value};

use super::cql::Candidate;
use super::dc_paging::{offset_page, DcQuirks, OffsetPage};
use super::model::{Attachment, Content, ContentType, Space, SpaceType};
use super::sim::Flavour;
use super::view::View;
use super::web::{iso, path_encode, plus_encode};

/// What `expand=` asked for.
#[derive(Debug, Default, Clone)]
pub(crate) struct Expand {
    pub any: bool,
    pub body: bool,
    pub labels: bool,
    pub version: bool,
    pub space: bool,
    pub ancestors: bool,
    pub attachments: bool,
    pub attachment_version: bool,
    /// `restrictions.<op>[.restrictions.<user|group>]` entries, as asked.
    pub restrictions: Vec<String>,
}

impl Expand {
    pub fn parse(list: &[String]) -> Self {
        let has = |name: &str| list.iter().any(|e| e == name);
        Self {
            any: !list.is_empty(),
            body: list.iter().any(|e| e.starts_with("body.")),
            labels: has("metadata.labels"),
            version: has("version"),
            space: has("space"),
            ancestors: has("ancestors"),
            attachments: list.iter().any(|e| e.starts_with("children.attachment")),
            attachment_version: has("children.attachment.version"),
            restrictions: list
                .iter()
                .filter(|e| e.starts_with("restrictions."))
                .cloned()
                .collect(),
        }
    }
}

impl View<'_> {
    pub fn space_type(&self, space: &Space) -> SpaceType {
        match self.flavour {
            Flavour::Cloud => space.space_type,
            Flavour::DataCenter => space.space_type.on_data_center(),
        }
    }

    /// Whether this flavour has the content at all: Data Center has no Cloud-only types.
    pub fn serves(&self, c: &Content) -> bool {
        self.flavour == Flavour::Cloud || !c.content_type.cloud_only()
    }

    /// The nearest ancestor this flavour serves (on Data Center a page below a Cloud folder
    /// hangs below the folder's parent).
    pub fn parent_of<'s>(&'s self, c: &'s Content) -> Option<&'s str> {
        let mut parent = c.parent.as_deref();
        for _ in 0..self.store.dataset.content.len() {
            match parent.and_then(|p| self.store.content(p)) {
                Some(p) if !self.serves(p) => parent = p.parent.as_deref(),
                _ => break,
            }
        }
        parent
    }

    /// Ancestor ids, nearest first, that this flavour serves.
    pub fn ancestors(&self, id: &str) -> Vec<String> {
        let mut ancestors = self.store.ancestors(id);
        if self.flavour == Flavour::DataCenter {
            ancestors.retain(|a| self.store.content(a).is_some_and(|c| self.serves(c)));
        }
        ancestors
    }

    /// The CQL view of one piece of content.
    pub fn candidate<'c>(
        &'c self,
        c: &'c Content,
        ancestors: &'c [String],
        space_type: &'static str,
    ) -> Candidate<'c> {
        Candidate {
            id: &c.id,
            content_type: c.content_type.as_str(),
            title: &c.title,
            labels: &c.labels,
            space_key: &c.space,
            space_type,
            parent: self.parent_of(c),
            ancestors,
        }
    }

    pub fn webui(&self, c: &Content) -> String {
        let key = &c.space;
        let title = plus_encode(&c.title);
        match self.flavour {
            Flavour::Cloud => match &c.content_type {
                ContentType::Page => format!("/spaces/{key}/pages/{}/{title}", c.id),
                ContentType::Blogpost => format!(
                    "/spaces/{key}/blog/{}/{}/{title}",
                    c.when.format("%Y/%m/%d"),
                    c.id
                ),
                other => format!("/spaces/{key}/{}/{}", other.as_str(), c.id),
            },
            Flavour::DataCenter => match c.content_type {
                ContentType::Blogpost => {
                    format!("/display/{key}/{}/{title}", c.when.format("%Y/%m/%d"))
                }
                _ => format!("/pages/viewpage.action?pageId={}", c.id),
            },
        }
    }

    fn space_webui(&self, key: &str) -> String {
        match self.flavour {
            Flavour::Cloud => format!("/spaces/{key}"),
            Flavour::DataCenter => format!("/display/{key}"),
        }
    }

    pub fn space_v1(&self, space: &Space) -> Value {
        json!({
            "id": space.id.parse::<u64>().unwrap_or_default(),
            "key": space.key,
            "name": space.name,
            "type": self.space_type(space).as_str(),
            "status": "current",
            "_expandable": {"homepage": "", "description": "", "metadata": "", "settings": ""},
            "_links": {
                "webui": self.space_webui(&space.key),
                "self": format!("{}/rest/api/space/{}", self.base(), space.key),
            },
        })
    }

    fn version_v1(&self, number: u32, when: chrono::DateTime<chrono::Utc>) -> Value {
        json!({
            "by": {"type": "known", "displayName": "Sandbox User", "accountId": "sandbox-account"},
            "when": iso(when),
            "friendlyWhen": iso(when),
            "message": "",
            "number": number,
            "minorEdit": false,
            "_expandable": {"content": ""},
        })
    }

    /// The download path of an attachment as `_links.download` gives it (relative to base).
    pub fn download_path(&self, c: &Content, a: &Attachment) -> String {
        format!(
            "/download/attachments/{}/{}?version={}&modificationDate={}&api=v2",
            c.id,
            path_encode(&a.title),
            a.version,
            a.when.timestamp_millis()
        )
    }

    pub fn attachment_v1(&self, c: &Content, a: &Attachment, with_version: bool) -> Value {
        let preview_id = match self.flavour {
            Flavour::Cloud => a.id.trim_start_matches("att"),
            Flavour::DataCenter => a.id.as_str(),
        };
        let preview = path_encode(&format!("/{}/{}/{}", c.id, preview_id, a.title));
        let mut v = json!({
            "id": a.id,
            "type": "attachment",
            "status": "current",
            "title": a.title,
            "metadata": {"mediaType": a.media_type, "comment": ""},
            "extensions": {"mediaType": a.media_type, "fileSize": a.file_size(), "comment": ""},
            "_expandable": {"container": "", "operations": "", "children": "", "history": "", "ancestors": "", "body": "", "space": ""},
            "_links": {
                "webui": format!("/pages/viewpageattachments.action?pageId={}&preview={}", c.id, preview),
                "download": self.download_path(c, a),
                "self": format!("{}/rest/api/content/{}", self.base(), a.id),
            },
        });
        if with_version {
            v["version"] = self.version_v1(a.version, a.when);
        } else {
            v["_expandable"]["version"] = json!("");
        }
        v
    }

    /// A v1 attachment list (`children.attachment` or `child/attachment`): the window `page`
    /// chose of the page's attachments (by [`offset_page`]), `_links.next` when it names one.
    pub fn attachment_list_v1(
        &self,
        c: &Content,
        start: usize,
        limit: usize,
        page: &OffsetPage,
        with_version: bool,
    ) -> Value {
        let atts = sorted_attachments(c);
        let window: Vec<Value> = atts
            .get(page.items.start.min(atts.len())..page.items.end.min(atts.len()))
            .unwrap_or_default()
            .iter()
            .map(|a| self.attachment_v1(c, a, with_version))
            .collect();
        let mut links = Map::new();
        links.insert("base".into(), json!(self.base()));
        links.insert("context".into(), json!(self.context()));
        links.insert(
            "self".into(),
            json!(format!(
                "{}/rest/api/content/{}/child/attachment",
                self.base(),
                c.id
            )),
        );
        // Real links drop `expand`: a client that wants versions on later pages must add it
        // again (unconfirmed for every version; the worse case).
        if let Some(next_start) = page.next_start {
            links.insert(
                "next".into(),
                json!(format!(
                    "/rest/api/content/{}/child/attachment?limit={}&start={}",
                    c.id, limit, next_start
                )),
            );
        }
        json!({
            "results": window,
            "start": start,
            "limit": limit,
            "size": window.len(),
            "_links": links,
        })
    }

    /// `children.attachment`: the first `inline_attachments` attachments; the inline
    /// block pages honestly on every version.
    fn inline_attachment_block(&self, c: &Content, with_version: bool) -> Value {
        let limit = self.inline_attachments;
        let page = offset_page(
            &DcQuirks::none(),
            0,
            limit,
            limit,
            Some(c.attachments.len()),
        );
        self.attachment_list_v1(c, 0, limit, &page, with_version)
    }

    /// A v1 content object with the requested expansions.
    pub fn content_v1(&self, c: &Content, expand: &Expand) -> Value {
        let mut v = Map::new();
        let mut expandable = Map::new();
        v.insert("id".into(), json!(c.id));
        v.insert("type".into(), json!(c.content_type.as_str()));
        v.insert("status".into(), json!("current"));
        v.insert("title".into(), json!(c.title));
        let space = self.store.space(&c.space);
        match (expand.space, space) {
            (true, Some(space)) => {
                v.insert("space".into(), self.space_v1(space));
            }
            _ => {
                expandable.insert(
                    "space".into(),
                    json!(format!("/rest/api/space/{}", c.space)),
                );
            }
        }
        if expand.version {
            v.insert("version".into(), self.version_v1(c.version, c.when));
        } else {
            expandable.insert("version".into(), json!(""));
        }
        if expand.labels {
            let labels: Vec<Value> = c
                .labels
                .iter()
                .map(|l| json!({"prefix": "global", "name": l, "id": label_id(l), "label": l}))
                .collect();
            v.insert(
                "metadata".into(),
                json!({
                    "labels": {
                        "results": labels,
                        "start": 0,
                        "limit": 200,
                        "size": c.labels.len(),
                        "_links": {"self": format!("{}/rest/api/content/{}/label", self.base(), c.id)},
                    },
                    "_expandable": {"currentuser": "", "properties": "", "frontend": "", "editorHtml": ""},
                }),
            );
        } else {
            expandable.insert("metadata".into(), json!(""));
        }
        if expand.body {
            v.insert(
                "body".into(),
                json!({
                    "storage": {
                        "value": c.body,
                        "representation": "storage",
                        "embeddedContent": [],
                        "_expandable": {"content": format!("/rest/api/content/{}", c.id)},
                    },
                    "_expandable": {"editor": "", "view": "", "export_view": "", "styled_view": "", "dynamic": "", "atlas_doc_format": "", "anonymous_export_view": ""},
                }),
            );
        } else {
            expandable.insert("body".into(), json!(""));
        }
        if expand.ancestors {
            let ancestors: Vec<Value> = self
                .ancestors(&c.id)
                .iter()
                .rev()
                .filter_map(|id| self.store.content(id))
                .map(|a| json!({"id": a.id, "type": a.content_type.as_str(), "status": "current", "title": a.title}))
                .collect();
            v.insert("ancestors".into(), json!(ancestors));
        } else {
            expandable.insert("ancestors".into(), json!(""));
        }
        if expand.attachments {
            v.insert(
                "children".into(),
                json!({
                    "attachment": self.inline_attachment_block(c, expand.attachment_version),
                    "_expandable": {"comment": "", "page": format!("/rest/api/content/{}/child/page", c.id)},
                    "_links": {"self": format!("{}/rest/api/content/{}/child", self.base(), c.id)},
                }),
            );
        } else {
            expandable.insert(
                "children".into(),
                json!(format!("/rest/api/content/{}/child", c.id)),
            );
        }
        if !expand.restrictions.is_empty() {
            v.insert(
                "restrictions".into(),
                super::access::json::restrictions_expansion(self, c, &expand.restrictions),
            );
        }
        expandable.insert("history".into(), json!(""));
        expandable.insert("container".into(), json!(""));
        expandable.insert("operations".into(), json!(""));
        v.insert("_expandable".into(), Value::Object(expandable));
        v.insert(
            "_links".into(),
            json!({
                "webui": self.webui(c),
                "edit": format!("/pages/resumedraft.action?draftId={}", c.id),
                "tinyui": format!("/x/{}", c.id),
                "self": format!("{}/rest/api/content/{}", self.base(), c.id),
            }),
        );
        Value::Object(v)
    }

    /// A v2 page or blog post (`PageBulk` / `BlogPostBulk`).
    pub fn content_v2(&self, c: &Content, with_body: bool) -> Value {
        let space_id = self
            .store
            .space(&c.space)
            .map(|s| s.id.clone())
            .unwrap_or_default();
        let mut v = json!({
            "id": c.id,
            "status": "current",
            "title": c.title,
            "spaceId": space_id,
            "authorId": "sandbox-account",
            "createdAt": iso(c.when),
            "version": {
                "createdAt": iso(c.when),
                "message": "",
                "number": c.version,
                "minorEdit": false,
                "authorId": "sandbox-account",
            },
            "body": {},
            "_links": {
                "webui": self.webui(c),
                "editui": format!("/pages/resumedraft.action?draftId={}", c.id),
                "tinyui": format!("/x/{}", c.id),
            },
        });
        if c.content_type == ContentType::Page {
            v["parentId"] = json!(c.parent);
            v["parentType"] = match &c.parent {
                Some(p) => json!(self
                    .store
                    .content(p)
                    .map(|p| p.content_type.as_str())
                    .unwrap_or("page")),
                None => Value::Null,
            };
            v["position"] = json!(0);
            v["ownerId"] = json!("sandbox-account");
            v["lastOwnerId"] = Value::Null;
        }
        if with_body {
            v["body"] = json!({"storage": {"representation": "storage", "value": c.body}});
        }
        v
    }

    /// A v2 attachment (`AttachmentBulk`).
    pub fn attachment_v2(&self, c: &Content, a: &Attachment) -> Value {
        let container = match c.content_type {
            ContentType::Blogpost => "blogPostId",
            _ => "pageId",
        };
        let preview = path_encode(&format!(
            "/{}/{}/{}",
            c.id,
            a.id.trim_start_matches("att"),
            a.title
        ));
        let webui = format!(
            "/pages/viewpageattachments.action?pageId={}&preview={}",
            c.id, preview
        );
        let mut v = json!({
            "id": a.id,
            "status": "current",
            "title": a.title,
            "createdAt": iso(a.when),
            "mediaType": a.media_type,
            "mediaTypeDescription": "",
            "comment": "",
            "fileId": format!("sandbox-file-{}", a.id),
            "fileSize": a.file_size(),
            "webuiLink": webui,
            "downloadLink": self.download_path(c, a),
            "version": {
                "createdAt": iso(a.when),
                "message": "",
                "number": a.version,
                "minorEdit": false,
                "authorId": "sandbox-account",
            },
            "_links": {"webui": webui, "download": self.download_path(c, a)},
        });
        v[container] = json!(c.id);
        v
    }
}

/// A page's attachments in listing order (by numeric id), so offsets and cursors are stable.
pub(crate) fn sorted_attachments(c: &Content) -> Vec<&Attachment> {
    let mut atts: Vec<&Attachment> = c.attachments.iter().collect();
    atts.sort_by_key(|a| a.numeric_id());
    atts
}

fn label_id(label: &str) -> String {
    // Stable, numeric-looking id per label name.
    let mut h: u64 = 1469598103934665603;
    for b in label.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(1099511628211);
    }
    (h % 1_000_000_000).to_string()
}

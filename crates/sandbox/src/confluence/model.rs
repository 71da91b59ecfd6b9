//! The dataset both Confluence flavours serve: spaces, content, attachments.
//!
//! The YAML form is flat (content refers to its space by key and to its parent by id), so the
//! same type is loaded, served by the control API and mutated.

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

/// Space types as Cloud names them. Data Center knows only `global` and `personal`; it reports
/// every non-personal space as `global`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpaceType {
    Global,
    Collaboration,
    KnowledgeBase,
    Personal,
}

impl SpaceType {
    pub fn as_str(self) -> &'static str {
        match self {
            SpaceType::Global => "global",
            SpaceType::Collaboration => "collaboration",
            SpaceType::KnowledgeBase => "knowledge_base",
            SpaceType::Personal => "personal",
        }
    }

    /// The type Data Center reports for this space.
    pub fn on_data_center(self) -> SpaceType {
        match self {
            SpaceType::Personal => SpaceType::Personal,
            _ => SpaceType::Global,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Space {
    /// Numeric string, e.g. `"98306"`.
    pub id: String,
    pub key: String,
    pub name: String,
    #[serde(rename = "type")]
    pub space_type: SpaceType,
}

/// Content types. `folder`, `database`, `whiteboard` and `embed` (Smart Links in the content
/// tree) are absent from Atlassian's 2022 v1 API description and present in the 2025 v2 one:
/// Atlassian adds types, and a search result may carry one a client has never seen. Any other
/// `type` string in a dataset is kept as [`ContentType::Other`] and served as it is (v1 search
/// and content; never by the v2 page or blog post endpoints).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContentType {
    Page,
    Blogpost,
    Folder,
    Database,
    Whiteboard,
    Embed,
    /// A type the sandbox has no special behaviour for, named as Confluence would send it.
    Other(String),
}

impl ContentType {
    pub fn as_str(&self) -> &str {
        match self {
            ContentType::Page => "page",
            ContentType::Blogpost => "blogpost",
            ContentType::Folder => "folder",
            ContentType::Database => "database",
            ContentType::Whiteboard => "whiteboard",
            ContentType::Embed => "embed",
            ContentType::Other(name) => name,
        }
    }

    /// Types only Cloud has; Data Center serves none of them (it has no folders, databases,
    /// whiteboards or Smart Link embeds).
    pub fn cloud_only(&self) -> bool {
        matches!(
            self,
            ContentType::Folder
                | ContentType::Database
                | ContentType::Whiteboard
                | ContentType::Embed
        )
    }

    fn from_name(name: &str) -> Self {
        match name {
            "page" => ContentType::Page,
            "blogpost" => ContentType::Blogpost,
            "folder" => ContentType::Folder,
            "database" => ContentType::Database,
            "whiteboard" => ContentType::Whiteboard,
            "embed" => ContentType::Embed,
            other => ContentType::Other(other.to_owned()),
        }
    }
}

impl Serialize for ContentType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ContentType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !valid {
            return Err(serde::de::Error::custom(format!(
                "content type {name:?} must be a word (letters, digits, _ - . :)"
            )));
        }
        Ok(ContentType::from_name(&name))
    }
}

/// Where an attachment's bytes come from. Written as a map with exactly one key (`text`,
/// `base64` or `generated`), in YAML and JSON alike.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DataRepr", into = "DataRepr")]
pub enum AttachmentData {
    /// Literal UTF-8 text.
    Text(String),
    /// Literal bytes, standard base64.
    Base64(String),
    /// `size` pseudo-random printable bytes derived from `seed`, produced while streaming so a
    /// 1 GiB attachment costs no memory.
    Generated { seed: u64, size: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct GeneratedRepr {
    seed: u64,
    size: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataRepr {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    base64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generated: Option<GeneratedRepr>,
}

impl TryFrom<DataRepr> for AttachmentData {
    type Error = String;

    fn try_from(repr: DataRepr) -> Result<Self, Self::Error> {
        match (repr.text, repr.base64, repr.generated) {
            (Some(text), None, None) => Ok(AttachmentData::Text(text)),
            (None, Some(b64), None) => Ok(AttachmentData::Base64(b64)),
            (None, None, Some(g)) => Ok(AttachmentData::Generated {
                seed: g.seed,
                size: g.size,
            }),
            _ => Err("attachment data needs exactly one of text, base64, generated".into()),
        }
    }
}

impl From<AttachmentData> for DataRepr {
    fn from(data: AttachmentData) -> Self {
        match data {
            AttachmentData::Text(text) => DataRepr {
                text: Some(text),
                ..DataRepr::default()
            },
            AttachmentData::Base64(b64) => DataRepr {
                base64: Some(b64),
                ..DataRepr::default()
            },
            AttachmentData::Generated { seed, size } => DataRepr {
                generated: Some(GeneratedRepr { seed, size }),
                ..DataRepr::default()
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// `att<digits>`; may be left out when adding through the control API.
    #[serde(default)]
    pub id: String,
    /// The file name.
    pub title: String,
    pub media_type: String,
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default = "default_when")]
    pub when: DateTime<Utc>,
    pub data: AttachmentData,
}

impl Attachment {
    /// Size in bytes, without materialising generated data.
    pub fn file_size(&self) -> u64 {
        match &self.data {
            AttachmentData::Text(t) => t.len() as u64,
            AttachmentData::Base64(b) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map(|v| v.len() as u64)
                    .unwrap_or(0)
            }
            AttachmentData::Generated { size, .. } => *size,
        }
    }

    /// Numeric part of the id (`att123` → 123), used for ordering and cursors.
    pub fn numeric_id(&self) -> u64 {
        self.id
            .trim_start_matches("att")
            .parse()
            .unwrap_or(u64::MAX)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// Numeric string; may be left out when adding through the control API.
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "page_type")]
    pub content_type: ContentType,
    pub title: String,
    /// Key of the space holding the content.
    pub space: String,
    /// Id of the parent content, `None` at the top of the space.
    #[serde(default)]
    pub parent: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    /// Storage-format XHTML.
    #[serde(default)]
    pub body: String,
    #[serde(default = "one")]
    pub version: u32,
    #[serde(default = "default_when")]
    pub when: DateTime<Utc>,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

impl Content {
    pub fn numeric_id(&self) -> u64 {
        self.id.parse().unwrap_or(u64::MAX)
    }
}

/// A whole Confluence instance's worth of content.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    #[serde(default)]
    pub spaces: Vec<Space>,
    #[serde(default)]
    pub content: Vec<Content>,
}

/// A dataset that cannot be served as it is.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("reading dataset: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
    #[error("invalid dataset: {0}")]
    Invalid(String),
}

fn one() -> u32 {
    1
}

fn page_type() -> ContentType {
    ContentType::Page
}

/// The fixed timestamp of content that does not state one, so snapshots are stable.
pub fn default_when() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

impl Dataset {
    /// Parses and validates YAML.
    pub fn from_yaml(text: &str) -> Result<Self, DatasetError> {
        let dataset: Dataset = serde_yaml_ng::from_str(text)?;
        dataset.validate()?;
        Ok(dataset)
    }

    pub fn to_yaml(&self) -> Result<String, DatasetError> {
        Ok(serde_yaml_ng::to_string(self)?)
    }

    /// Checks ids, references and uniqueness, reporting every problem at once.
    pub fn validate(&self) -> Result<(), DatasetError> {
        let mut problems = Vec::new();
        let mut space_ids = std::collections::HashSet::new();
        let mut space_keys = std::collections::HashSet::new();
        for space in &self.spaces {
            if space.id.parse::<u64>().is_err() {
                problems.push(format!(
                    "space {}: id {:?} is not numeric",
                    space.key, space.id
                ));
            }
            if !space_ids.insert(&space.id) {
                problems.push(format!("space id {} appears twice", space.id));
            }
            if !space_keys.insert(&space.key) {
                problems.push(format!("space key {} appears twice", space.key));
            }
        }
        let mut ids = std::collections::HashSet::new();
        let mut att_ids = std::collections::HashSet::new();
        for content in &self.content {
            if content.id.parse::<u64>().is_err() {
                problems.push(format!("content id {:?} is not numeric", content.id));
            }
            if !ids.insert(&content.id) {
                problems.push(format!("content id {} appears twice", content.id));
            }
            if !space_keys.contains(&content.space) {
                problems.push(format!(
                    "content {}: unknown space {}",
                    content.id, content.space
                ));
            }
            for att in &content.attachments {
                if !att.id.starts_with("att") || att.id[3..].parse::<u64>().is_err() {
                    problems.push(format!("attachment id {:?} is not att<digits>", att.id));
                }
                if !att_ids.insert(&att.id) {
                    problems.push(format!("attachment id {} appears twice", att.id));
                }
            }
        }
        for content in &self.content {
            if let Some(parent) = &content.parent {
                if !ids.contains(parent) {
                    problems.push(format!("content {}: unknown parent {}", content.id, parent));
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(DatasetError::Invalid(problems.join("; ")))
        }
    }

    pub fn space_by_key(&self, key: &str) -> Option<&Space> {
        self.spaces.iter().find(|s| s.key == key)
    }

    pub fn content_by_id(&self, id: &str) -> Option<&Content> {
        self.content.iter().find(|c| c.id == id)
    }

    pub fn content_by_id_mut(&mut self, id: &str) -> Option<&mut Content> {
        self.content.iter_mut().find(|c| c.id == id)
    }

    /// The attachment and the content holding it.
    pub fn attachment(&self, att_id: &str) -> Option<(&Content, &Attachment)> {
        self.content.iter().find_map(|c| {
            c.attachments
                .iter()
                .find(|a| a.id == att_id)
                .map(|a| (c, a))
        })
    }

    /// One more than the largest numeric content or space id, for new items.
    pub fn next_content_id(&self) -> u64 {
        self.content
            .iter()
            .map(Content::numeric_id)
            .chain(self.spaces.iter().map(|s| s.id.parse().unwrap_or(0)))
            .filter(|n| *n != u64::MAX)
            .max()
            .unwrap_or(0)
            + 1
    }

    pub fn next_attachment_id(&self) -> u64 {
        self.content
            .iter()
            .flat_map(|c| c.attachments.iter().map(Attachment::numeric_id))
            .filter(|n| *n != u64::MAX)
            .max()
            .unwrap_or(0)
            + 1
    }

    /// The small built-in dataset: three spaces (one of each non-personal Cloud type), a personal
    /// space, labelled single pages and a labelled subtree, a blog post, content types without
    /// bodies, a label that needs CQL escaping, and a page with 30 attachments (more than the
    /// 25 inlined by the search).
    pub fn builtin() -> Self {
        let when = default_when();
        let page =
            |id: &str, space: &str, parent: Option<&str>, title: &str, labels: &[&str]| Content {
                id: id.into(),
                content_type: ContentType::Page,
                title: title.into(),
                space: space.into(),
                parent: parent.map(Into::into),
                labels: labels.iter().map(|l| (*l).to_owned()).collect(),
                body: format!("<p>{title}</p><p>Body of page {id}.</p>"),
                version: 1,
                when,
                attachments: Vec::new(),
            };
        let text_att = |id: u64, title: &str, media: &str, text: &str| Attachment {
            id: format!("att{id}"),
            title: title.into(),
            media_type: media.into(),
            version: 1,
            when,
            data: AttachmentData::Text(text.into()),
        };
        let spaces = vec![
            Space {
                id: "1001".into(),
                key: "ENG".into(),
                name: "Engineering".into(),
                space_type: SpaceType::Global,
            },
            Space {
                id: "1002".into(),
                key: "TEAM".into(),
                name: "Team Space".into(),
                space_type: SpaceType::Collaboration,
            },
            Space {
                id: "1003".into(),
                key: "KB".into(),
                name: "Knowledge Base".into(),
                space_type: SpaceType::KnowledgeBase,
            },
            Space {
                id: "1004".into(),
                key: "~alice".into(),
                name: "Alice".into(),
                space_type: SpaceType::Personal,
            },
        ];
        let mut content = vec![
            page("2001", "ENG", None, "Engineering Home", &["ai-ingest-all"]),
            page("2002", "ENG", Some("2001"), "Architecture", &[]),
            page("2003", "ENG", Some("2002"), "Storage Layer", &["design"]),
            page("2004", "ENG", Some("2001"), "Runbooks", &[]),
            page("2005", "ENG", None, "Unlabelled Page", &[]),
            page("2101", "TEAM", None, "Team Charter", &["ai-ingest"]),
            page(
                "2102",
                "TEAM",
                None,
                "Quoted \"Label\" Page",
                &["say \"hi\""],
            ),
            page(
                "2201",
                "KB",
                None,
                "How To Reset A Password",
                &["ai-ingest"],
            ),
            page("2301", "~alice", None, "Alice Notes", &["ai-ingest"]),
        ];
        content.push(Content {
            content_type: ContentType::Blogpost,
            ..page("2103", "TEAM", None, "Team News", &["ai-ingest"])
        });
        content.push(Content {
            content_type: ContentType::Folder,
            body: String::new(),
            ..page("2006", "ENG", Some("2001"), "Folder Of Things", &[])
        });
        content.push(Content {
            content_type: ContentType::Database,
            body: String::new(),
            ..page("2007", "ENG", Some("2006"), "Tracker Database", &[])
        });
        content.push(Content {
            content_type: ContentType::Whiteboard,
            body: String::new(),
            ..page("2008", "ENG", Some("2001"), "Whiteboard", &[])
        });
        if let Some(home) = content.iter_mut().find(|c| c.id == "2001") {
            home.attachments = vec![
                text_att(3001, "notes.txt", "text/plain", "plain notes\n"),
                text_att(
                    3002,
                    "report (final).pdf",
                    "application/pdf",
                    "%PDF-1.4 sandbox\n",
                ),
            ];
        }
        if let Some(runbooks) = content.iter_mut().find(|c| c.id == "2004") {
            runbooks.attachments = (0..30u64)
                .map(|i| {
                    text_att(
                        3100 + i,
                        &format!("runbook-{i:02}.txt"),
                        "text/plain",
                        &format!("runbook {i}\n"),
                    )
                })
                .collect();
        }
        Dataset { spaces, content }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn builtin_dataset_round_trips_through_yaml() {
        let builtin = Dataset::builtin();
        let yaml = builtin.to_yaml().unwrap();
        assert_eq!(Dataset::from_yaml(&yaml).unwrap(), builtin);
        let json = serde_json::to_string(&builtin).unwrap();
        assert_eq!(serde_json::from_str::<Dataset>(&json).unwrap(), builtin);
    }

    #[test]
    fn validation_reports_every_problem() {
        let mut d = Dataset::builtin();
        d.content[0].parent = Some("999".into());
        d.content[1].space = "NOPE".into();
        d.content[2].attachments.push(Attachment {
            id: "x1".into(),
            title: "t".into(),
            media_type: "text/plain".into(),
            version: 1,
            when: default_when(),
            data: AttachmentData::Text(String::new()),
        });
        let err = d.validate().unwrap_err().to_string();
        assert!(err.contains("unknown parent 999"), "{err}");
        assert!(err.contains("unknown space NOPE"), "{err}");
        assert!(err.contains("not att<digits>"), "{err}");
    }

    #[test]
    fn attachment_data_needs_exactly_one_source() {
        let err = serde_yaml_ng::from_str::<AttachmentData>("{text: a, base64: b}").unwrap_err();
        assert!(err.to_string().contains("exactly one"), "{err}");
    }
}

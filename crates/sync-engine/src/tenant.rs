//! [`TenantSpec`]: what the engine needs to know about one tenant, as plain data.
//!
//! The connector maps its YAML onto this; the engine never reads files or the environment.

use crate::keys::KeyFormat;

/// One tenant's sync settings. Confluence and Unique connection settings are not here: they
/// live in the clients handed to [`crate::TenantSync::new`].
#[derive(Debug, Clone)]
pub struct TenantSpec {
    /// The tenant name: the `<tenant>` of v2 keys and of space-scope external ids.
    pub name: String,
    /// The Unique scope that holds every space scope of this tenant (`unique.scopeId`).
    pub root_scope_id: String,
    /// `ingestion.useV1KeyFormat`. Must never change for an ingested tenant: other keys look
    /// like "delete everything, upload everything" (the deletion guard stops that).
    pub key_format: KeyFormat,
    /// `confluence.ingestSingleLabel`; must equal the Confluence client's. Stripped from the
    /// `confluenceLabels` metadata.
    pub ingest_single_label: String,
    /// `confluence.ingestAllLabel`; must equal the Confluence client's.
    pub ingest_all_label: String,
    /// `ingestion.attachments`.
    pub attachments: AttachmentRules,
    /// `ingestion.storeInternally`.
    pub store_internally: bool,
    /// `ingestion.pageIngestionConfig`, forwarded verbatim as a page's `ingestionConfig`.
    pub page_ingestion_config: Option<serde_json::Value>,
    /// Whether image attachments are inlined into page bodies: the connector sets it when
    /// `pageIngestionConfig.htmlConfig.imageContentExtraction` is enabled with a language model.
    /// When on, image attachments are neither diffed nor ingested standalone.
    pub inline_images: bool,
    /// `processing.concurrency`: items uploading to Unique at once (at least 1).
    pub concurrency: usize,
    /// `processing.maxItemsToScan`: discovery stops after this many items. A truncated discovery
    /// ingests what it found but never deletes anything.
    pub max_items_to_scan: Option<usize>,
    /// `retry.budget_secs`: how long an attachment whose streamed upload met a transient answer
    /// is tried again from a fresh download (the transport cannot replay a stream; the
    /// transport's own retries of everything else use the same budget).
    pub attachment_retry_budget: std::time::Duration,
    /// `permissions`: whether and how Confluence read access is carried into Unique.
    pub permissions: crate::access::PermissionSettings,
}

impl TenantSpec {
    /// A spec with the reference connector's defaults (labels `ai-ingest` / `ai-ingest-all`,
    /// v2 keys, attachments on with the default allow-list, 200 MB, OCR on, store internally,
    /// concurrency 1, no inlining, no scan cap).
    pub fn new(name: impl Into<String>, root_scope_id: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            root_scope_id: root_scope_id.into(),
            key_format: KeyFormat::V2,
            ingest_single_label: "ai-ingest".to_owned(),
            ingest_all_label: "ai-ingest-all".to_owned(),
            attachments: AttachmentRules::default(),
            store_internally: true,
            page_ingestion_config: None,
            inline_images: false,
            concurrency: 1,
            max_items_to_scan: None,
            attachment_retry_budget: std::time::Duration::from_secs(300),
            permissions: crate::access::PermissionSettings::default(),
        }
    }

    pub(crate) fn is_sync_label(&self, label: &str) -> bool {
        label == self.ingest_single_label || label == self.ingest_all_label
    }
}

/// `ingestion.attachments`: which attachments are ingested.
#[derive(Debug, Clone)]
pub struct AttachmentRules {
    /// `enabled`; off → no attachment is discovered or ingested.
    pub enabled: bool,
    /// `allowedMimeTypes`; compared after lower-casing and dropping parameters on both sides.
    pub allowed_mime_types: Vec<String>,
    /// `maxFileSizeMb`, in MiB; larger attachments are skipped.
    pub max_file_size_mb: u64,
    /// `imageOcr`: PNG and JPEG attachments get `{"jpgReadMode":"DOC_INTELLIGENCE_DEFAULT"}`.
    pub image_ocr: bool,
}

impl AttachmentRules {
    /// The reference's default allow-list.
    pub const DEFAULT_MIME_TYPES: [&'static str; 9] = [
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "text/plain",
        "text/csv",
        "text/html",
        "image/png",
        "image/jpeg",
    ];

    pub(crate) fn max_file_size_bytes(&self) -> u64 {
        self.max_file_size_mb.saturating_mul(1024 * 1024)
    }
}

impl Default for AttachmentRules {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_mime_types: Self::DEFAULT_MIME_TYPES
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
            max_file_size_mb: 200,
            image_ocr: true,
        }
    }
}

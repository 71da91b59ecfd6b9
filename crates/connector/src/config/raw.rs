//! The configuration as written: one serde struct per mapping, every field a raw YAML value.
//!
//! Fields are kept as [`Field`] (any value, or absent) rather than typed, so that a wrong type
//! is not a serde error about "invalid type: string, expected u32" but one of our own messages,
//! naming the file, the field and what would be accepted, produced by the validation in
//! `daemon.rs` and `tenant.rs`. Nested mappings are fields too and are read on their own, so a
//! broken section does not hide the problems of its siblings. The field names serde derives are
//! also the list of known keys (for the unknown-key warning) and of documented settings.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One setting as written; `None` when absent or written as `key:` (YAML null).
pub(crate) type Field = Option<Value>;

/// The keys serde accepts for `T`, as written in the file.
pub(crate) fn keys_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    let mut keys: &'static [&'static str] = &[];
    // The probe always fails (it only records the struct's field list), so the result is moot.
    let _ = T::deserialize(KeyProbe(&mut keys));
    keys
}

/// A deserializer that records the field list a derived struct asks for, then stops.
struct KeyProbe<'a>(&'a mut &'static [&'static str]);

impl<'de> Deserializer<'de> for KeyProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("keys recorded"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

/// Every leaf setting of a schema as a dotted path, from its sections' key lists.
fn leaves(sections: &[(&str, &[&str])]) -> Vec<String> {
    let is_section = |path: &str| sections.iter().any(|(s, _)| *s == path);
    sections
        .iter()
        .flat_map(|(section, keys)| {
            keys.iter().map(move |k| {
                if section.is_empty() {
                    (*k).to_owned()
                } else {
                    format!("{section}.{k}")
                }
            })
        })
        .filter(|path| !is_section(path))
        .collect()
}

/// Daemon settings (`listen.port`) then tenant settings (`confluence.baseUrl`).
pub(crate) fn documented_fields() -> Vec<String> {
    let mut fields = leaves(&[
        ("", keys_of::<Daemon>()),
        ("listen", keys_of::<Listen>()),
        ("log", keys_of::<Log>()),
        ("state", keys_of::<State>()),
        ("health", keys_of::<Health>()),
        ("proxy", keys_of::<Proxy>()),
        ("retry", keys_of::<Retry>()),
        ("tenants", keys_of::<Tenants>()),
    ]);
    fields.extend(leaves(&[
        ("", keys_of::<Tenant>()),
        ("confluence", keys_of::<Confluence>()),
        ("confluence.auth", keys_of::<ConfluenceAuth>()),
        ("ingestion", keys_of::<Ingestion>()),
        ("ingestion.attachments", keys_of::<Attachments>()),
        ("processing", keys_of::<Processing>()),
        ("unique", keys_of::<Unique>()),
    ]));
    fields
}

// Daemon config file: snake_case, as in `config.example.yaml`.

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Daemon {
    pub listen: Field,
    pub log: Field,
    pub state: Field,
    pub health: Field,
    pub proxy: Field,
    pub extra_ca_bundle_path: Field,
    pub shutdown_grace_period_secs: Field,
    pub retry: Field,
    pub tenants: Field,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Listen {
    pub host: Field,
    pub port: Field,
    pub metrics_port: Field,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Log {
    pub level: Field,
    pub format: Field,
    pub diagnostics_data_policy: Field,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct State {
    pub url: Field,
    pub lease_ttl_secs: Field,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Health {
    pub sync_history_size: Field,
    pub sync_tenant_failure_threshold: Field,
    pub connectivity_timeout_ms: Field,
}

/// `Serialize` lists the settings that are set when `mode` is missing.
#[derive(Deserialize, Serialize, Default)]
#[serde(default)]
pub(crate) struct Proxy {
    pub mode: Field,
    pub host: Field,
    pub port: Field,
    pub protocol: Field,
    pub ca_bundle_path: Field,
    pub headers: Field,
    pub username: Field,
    pub password: Field,
    pub cert_path: Field,
    pub key_path: Field,
    pub allow_plain_http: Field,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Retry {
    pub budget_secs: Field,
    pub quota_max_wait_secs: Field,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct Tenants {
    pub files: Field,
    pub inline: Field,
}

// Tenant file: the reference connector's camelCase schema plus our additions.

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Tenant {
    pub status: Field,
    pub confluence: Field,
    pub ingestion: Field,
    pub processing: Field,
    pub unique: Field,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Confluence {
    pub instance_type: Field,
    pub base_url: Field,
    pub cloud_id: Field,
    pub api_rate_limit_per_minute: Field,
    pub ingest_single_label: Field,
    pub ingest_all_label: Field,
    pub auth: Field,
    pub api_base_url: Field,
    pub token_url: Field,
    pub space_types: Field,
    pub allow_plain_http: Field,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct ConfluenceAuth {
    pub mode: Field,
    pub client_id: Field,
    pub client_secret: Field,
    pub token: Field,
    pub username: Field,
    pub password: Field,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Ingestion {
    pub ingestion_mode: Field,
    pub scope_id: Field,
    pub store_internally: Field,
    pub use_v1_key_format: Field,
    pub attachments: Field,
    pub page_ingestion_config: Field,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Attachments {
    pub mode: Field,
    pub allowed_mime_types: Field,
    pub max_file_size_mb: Field,
    pub image_ocr: Field,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Processing {
    pub concurrency: Field,
    pub scan_interval_cron: Field,
    pub max_items_to_scan: Field,
    pub body_batch_size: Field,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
pub(crate) struct Unique {
    pub service_auth_mode: Field,
    pub service_extra_headers: Field,
    pub zitadel_oauth_token_url: Field,
    pub zitadel_project_id: Field,
    pub zitadel_client_id: Field,
    pub zitadel_client_secret: Field,
    pub ingestion_service_base_url: Field,
    pub scope_management_service_base_url: Field,
    pub api_rate_limit_per_minute: Field,
    pub ingestion_config: Field,
    pub allow_plain_http: Field,
}

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
        ("permissions", keys_of::<Permissions>()),
    ]));
    fields
}

/// Declares raw structs: every field a [`Field`], absent fields `None`.
macro_rules! raw_structs {
    ($($(#[$attr:meta])* $name:ident { $($field:ident),* $(,)? })*) => {$(
        #[derive(Deserialize, Default)]
        #[serde(default)]
        $(#[$attr])*
        pub(crate) struct $name { $(pub $field: Field,)* }
    )*};
}

// The daemon config file: snake_case, as in `config.example.yaml`.
raw_structs! {
    Daemon {
        listen, log, state, health, proxy, extra_ca_bundle_path, shutdown_grace_period_secs, retry,
        tenants,
    }
    Listen { host, port, metrics_port }
    Log { level, format, diagnostics_data_policy }
    State { url, lease_ttl_secs }
    Health { sync_history_size, sync_tenant_failure_threshold, connectivity_timeout_ms }
    /// `Serialize` lists the settings that are set when `mode` is missing.
    #[derive(Serialize)]
    Proxy {
        mode, host, port, protocol, ca_bundle_path, headers, username, password, cert_path,
        key_path, allow_plain_http,
    }
    Retry { budget_secs, quota_max_wait_secs }
    Tenants { files, inline }
}

// A tenant file: the reference connector's camelCase schema plus our additions.
raw_structs! {
    #[serde(rename_all = "camelCase")]
    Tenant { status, confluence, ingestion, processing, unique, permissions }
    #[serde(rename_all = "camelCase")]
    Confluence {
        instance_type, base_url, cloud_id, api_rate_limit_per_minute, ingest_single_label,
        ingest_all_label, auth, api_base_url, token_url, space_types, allow_plain_http,
    }
    #[serde(rename_all = "camelCase")]
    ConfluenceAuth { mode, client_id, client_secret, token, username, password }
    #[serde(rename_all = "camelCase")]
    Ingestion {
        ingestion_mode, scope_id, store_internally, use_v1_key_format, attachments,
        page_ingestion_config,
    }
    #[serde(rename_all = "camelCase")]
    Attachments { mode, allowed_mime_types, max_file_size_mb, image_ocr }
    #[serde(rename_all = "camelCase")]
    Processing { concurrency, scan_interval_cron, max_items_to_scan, body_batch_size }
    #[serde(rename_all = "camelCase")]
    Permissions { mode, anonymous, all_users, all_users_groups }
    #[serde(rename_all = "camelCase")]
    Unique {
        service_auth_mode, service_extra_headers, zitadel_oauth_token_url, zitadel_project_id,
        zitadel_client_id, zitadel_client_secret, ingestion_service_base_url,
        scope_management_service_base_url, api_rate_limit_per_minute, ingestion_config,
        allow_plain_http,
    }
}

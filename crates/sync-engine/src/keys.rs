//! Content keys, partial keys and scope external ids.
//!
//! These strings are the identity of everything we store in Unique. They must stay byte-for-byte
//! identical to the reference connector's, so that a user can switch connectors without
//! re-ingesting anything: a different key would look like "delete everything, upload everything".
//!
//! | Item        | v2 (default)                                   | v1 (`useV1KeyFormat: enabled`) |
//! |-------------|------------------------------------------------|--------------------------------|
//! | partial key | `<tenant>/<spaceId>_<spaceKey>`                | `<spaceId>_<spaceKey>`         |
//! | page        | `<partialKey>/<pageId>`                        | same rule                      |
//! | attachment  | `<partialKey>/<pageId>::<attachmentId>`        | same rule                      |
//!
//! The file-diff endpoint only looks at the text after the last `/` (the *item id*: `<pageId>` or
//! `<pageId>::<attachmentId>`), which is why the attachment separator is `::` and not `/`.
//! Space scope external ids are always tenant-prefixed, whatever the key format.

use std::fmt;

const EXTERNAL_ID_PREFIX: &str = "confc:";
const ATTACHMENT_SEPARATOR: &str = "::";

/// Which content-key layout a tenant uses (`ingestion.useV1KeyFormat`). Only the partial key
/// differs: v1 has no `<tenant>/` prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyFormat {
    /// `<spaceId>_<spaceKey>/…` — kept for tenants ingested by the first connector version.
    V1,
    /// `<tenant>/<spaceId>_<spaceKey>/…` — the default.
    #[default]
    V2,
}

impl KeyFormat {
    /// Maps the tenant file's `useV1KeyFormat` flag.
    pub fn from_use_v1(use_v1_key_format: bool) -> Self {
        if use_v1_key_format {
            Self::V1
        } else {
            Self::V2
        }
    }
}

/// The per-space key prefix, without a trailing slash (the file diff is sent exactly this).
///
/// A newtype so a partial key is never confused with a full key or a scope id: the diff, the
/// deletion-by-prefix and the full-deletion guard all take one.
///
/// ```
/// use sync_engine::{ContentKey, KeyFormat, PartialKey};
///
/// let space = PartialKey::new(KeyFormat::V2, "tenant1", "space-1", "SP");
/// let key = space.attachment_key("p1", "att-png");
/// assert_eq!(key.as_str(), "tenant1/space-1_SP/p1::att-png");
///
/// let parsed = ContentKey::parse(key.as_str()).unwrap();
/// assert_eq!((parsed.page_id(), parsed.attachment_id()), ("p1", Some("att-png")));
/// assert_eq!(parsed.partial_key(), space);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartialKey(String);

impl PartialKey {
    /// Builds the partial key of one space.
    pub fn new(format: KeyFormat, tenant: &str, space_id: &str, space_key: &str) -> Self {
        match format {
            KeyFormat::V1 => Self(format!("{space_id}_{space_key}")),
            KeyFormat::V2 => Self(format!("{tenant}/{space_id}_{space_key}")),
        }
    }

    /// The partial key as sent to Unique.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `<partialKey>/`: the prefix that selects this space's files in content queries. The slash
    /// matters: without it, space `1_SP` would also match `1_SPX`.
    pub fn key_prefix(&self) -> String {
        format!("{}/", self.0)
    }

    /// The key of a page's body.
    pub fn page_key(&self, page_id: &str) -> ContentKey {
        ContentKey(format!("{}/{page_id}", self.0))
    }

    /// The key of an attachment, scoped by its page because attachment ids are not unique
    /// across pages.
    pub fn attachment_key(&self, page_id: &str, attachment_id: &str) -> ContentKey {
        ContentKey(format!(
            "{}/{}",
            self.0,
            attachment_item_id(page_id, attachment_id)
        ))
    }

    /// The full key of an item id returned by the file diff (`<pageId>` or
    /// `<pageId>::<attachmentId>`): deletions are resolved by `<partialKey>/<itemId>`.
    pub fn key_for_item(&self, item_id: &str) -> ContentKey {
        ContentKey(format!("{}/{item_id}", self.0))
    }
}

impl fmt::Display for PartialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The file-diff item id of an attachment: `<pageId>::<attachmentId>`.
pub fn attachment_item_id(page_id: &str, attachment_id: &str) -> String {
    format!("{page_id}{ATTACHMENT_SEPARATOR}{attachment_id}")
}

/// The full key of a page or attachment in Unique.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentKey(String);

impl ContentKey {
    /// Parses a key read back from Unique, e.g. one returned by a content query, so the engine
    /// can tell which space, page and attachment it belongs to. `None` unless the key has a
    /// non-empty partial key, a non-empty page id and, after `::`, a non-empty attachment id.
    pub fn parse(key: &str) -> Option<Self> {
        let parsed = Self(key.to_owned());
        let (partial, item) = key.rsplit_once('/')?;
        if partial.is_empty() || item.is_empty() {
            return None;
        }
        let page_id = parsed.page_id();
        let attachment_ok = parsed.attachment_id().is_none_or(|id| !id.is_empty());
        (!page_id.is_empty() && attachment_ok).then_some(parsed)
    }

    /// The key as stored in Unique.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key as an owned string, for request bodies.
    pub fn into_string(self) -> String {
        self.0
    }

    /// Everything before the last `/`.
    pub fn partial_key(&self) -> PartialKey {
        let partial = self.0.rsplit_once('/').map_or("", |(partial, _)| partial);
        PartialKey(partial.to_owned())
    }

    /// The text after the last `/`: what the file diff calls the item id.
    pub fn item_id(&self) -> &str {
        self.0.rsplit_once('/').map_or(&self.0, |(_, item)| item)
    }

    /// The page the key belongs to (for an attachment, the page it is attached to).
    pub fn page_id(&self) -> &str {
        let item = self.item_id();
        item.split_once(ATTACHMENT_SEPARATOR)
            .map_or(item, |(page_id, _)| page_id)
    }

    /// The attachment id, for attachment keys.
    pub fn attachment_id(&self) -> Option<&str> {
        self.item_id()
            .split_once(ATTACHMENT_SEPARATOR)
            .map(|(_, attachment_id)| attachment_id)
    }
}

impl fmt::Display for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The `externalId` we put on space scopes: it lets orphan cleanup find the spaces of this
/// tenant. (The root scope's mark names the Confluence instance and comes from the client's
/// `InstanceId::root_scope_external_id`.)
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ScopeExternalId(String);

impl ScopeExternalId {
    /// `confc:<tenant>:<spaceId>:<spaceKey>`.
    pub fn space(tenant: &str, space_id: &str, space_key: &str) -> Self {
        Self(format!(
            "{EXTERNAL_ID_PREFIX}{tenant}:{space_id}:{space_key}"
        ))
    }

    /// The external id as stored in Unique.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ScopeExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The parts of a space scope's external id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SpaceExternalId {
    /// The tenant that created the scope.
    pub tenant: String,
    /// The Confluence space id.
    pub space_id: String,
    /// The Confluence space key.
    pub space_key: String,
}

impl SpaceExternalId {
    /// The partial key of the space this scope holds.
    pub fn partial_key(&self, format: KeyFormat) -> PartialKey {
        PartialKey::new(format, &self.tenant, &self.space_id, &self.space_key)
    }

    /// Rebuilds the external id.
    pub fn external_id(&self) -> ScopeExternalId {
        ScopeExternalId::space(&self.tenant, &self.space_id, &self.space_key)
    }
}

/// Parses a scope's `externalId` as a space external id `confc:<tenant>:<spaceId>:<spaceKey>`.
///
/// `None` for a missing or empty id, another prefix, anything but exactly three segments (root
/// ids have two, the legacy `confc:<tenant>:<spaceKey>` has two) — and, stricter than the
/// reference, for empty segments: we never write those, and orphan cleanup deletes by the
/// partial key built from them, so a garbage id must not parse.
pub fn parse_space_external_id(external_id: Option<&str>) -> Option<SpaceExternalId> {
    let rest = external_id?.strip_prefix(EXTERNAL_ID_PREFIX)?;
    let mut segments = rest.split(':');
    let (tenant, space_id, space_key) = (segments.next()?, segments.next()?, segments.next()?);
    if segments.next().is_some() || [tenant, space_id, space_key].contains(&"") {
        return None;
    }
    Some(SpaceExternalId {
        tenant: tenant.to_owned(),
        space_id: space_id.to_owned(),
        space_key: space_key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn v2_partial_key_is_tenant_prefixed() {
        let key = PartialKey::new(KeyFormat::V2, "tenant1", "space-1", "SP");
        assert_eq!(key.as_str(), "tenant1/space-1_SP");
    }

    #[test]
    fn v1_partial_key_has_no_tenant_prefix() {
        let key = PartialKey::new(KeyFormat::V1, "tenant1", "space-1", "SP");
        assert_eq!(key.as_str(), "space-1_SP");
        assert_eq!(KeyFormat::from_use_v1(true), KeyFormat::V1);
        assert_eq!(KeyFormat::from_use_v1(false), KeyFormat::V2);
        assert_eq!(KeyFormat::default(), KeyFormat::V2);
    }

    #[test]
    fn partial_keys_per_space_match_the_file_diff_examples() {
        assert_eq!(
            PartialKey::new(KeyFormat::V2, "test-tenant", "sa-id", "SA").as_str(),
            "test-tenant/sa-id_SA"
        );
        assert_eq!(
            PartialKey::new(KeyFormat::V2, "test-tenant", "sb-id", "SB").as_str(),
            "test-tenant/sb-id_SB"
        );
    }

    #[test]
    fn page_and_attachment_keys_follow_the_reference_layout() {
        let v2 = PartialKey::new(KeyFormat::V2, "tenant1", "space-1", "SP");
        assert_eq!(v2.page_key("p1").as_str(), "tenant1/space-1_SP/p1");
        assert_eq!(
            v2.attachment_key("p1", "att-png").as_str(),
            "tenant1/space-1_SP/p1::att-png"
        );
        let v1 = PartialKey::new(KeyFormat::V1, "tenant1", "space-1", "SP");
        assert_eq!(v1.page_key("p1").as_str(), "space-1_SP/p1");
        assert_eq!(
            v1.attachment_key("p1", "att-png").as_str(),
            "space-1_SP/p1::att-png"
        );
    }

    #[test]
    fn key_prefix_ends_with_a_slash() {
        let key = PartialKey::new(KeyFormat::V2, "tenant1", "space-1", "SP");
        assert_eq!(key.key_prefix(), "tenant1/space-1_SP/");
    }

    #[test]
    fn deleted_diff_items_become_full_keys() {
        let partial = PartialKey::new(KeyFormat::V2, "tenant1", "space-1", "SP");
        assert_eq!(partial.key_for_item("1").as_str(), "tenant1/space-1_SP/1");
        assert_eq!(
            partial.key_for_item("1::att-9").as_str(),
            "tenant1/space-1_SP/1::att-9"
        );
        assert_eq!(attachment_item_id("1", "att-9"), "1::att-9");
    }

    #[test]
    fn parses_a_page_key_back_into_its_parts() {
        let key = ContentKey::parse("tenant1/space-1_SP/p1").unwrap();
        assert_eq!(key.partial_key().as_str(), "tenant1/space-1_SP");
        assert_eq!(key.item_id(), "p1");
        assert_eq!(key.page_id(), "p1");
        assert_eq!(key.attachment_id(), None);
    }

    #[test]
    fn parses_an_attachment_key_back_into_its_parts() {
        let key = ContentKey::parse("tenant1/space-1_SP/p1::att-png").unwrap();
        assert_eq!(key.partial_key().as_str(), "tenant1/space-1_SP");
        assert_eq!(key.item_id(), "p1::att-png");
        assert_eq!(key.page_id(), "p1");
        assert_eq!(key.attachment_id(), Some("att-png"));
    }

    #[test]
    fn parses_v1_keys() {
        let key = ContentKey::parse("space-1_SP/p1::att-png").unwrap();
        assert_eq!(
            key.partial_key(),
            PartialKey::new(KeyFormat::V1, "t", "space-1", "SP")
        );
        assert_eq!(key.page_id(), "p1");
        assert_eq!(key.attachment_id(), Some("att-png"));
    }

    #[test]
    fn built_keys_round_trip_through_parse() {
        let partial = PartialKey::new(KeyFormat::V2, "tenant1", "space-1", "SP");
        for key in [partial.page_key("42"), partial.attachment_key("42", "att7")] {
            let parsed = ContentKey::parse(key.as_str()).unwrap();
            assert_eq!(parsed, key);
            assert_eq!(parsed.partial_key(), partial);
        }
    }

    #[test]
    fn rejects_keys_without_partial_key_or_ids() {
        for bad in [
            "",
            "p1",
            "/p1",
            "tenant1/space-1_SP/",
            "tenant1/space-1_SP/::att",
            "tenant1/space-1_SP/p1::",
        ] {
            assert_eq!(ContentKey::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn space_external_id_is_tenant_prefixed() {
        assert_eq!(
            ScopeExternalId::space("tenant1", "space-1", "SP").as_str(),
            "confc:tenant1:space-1:SP"
        );
    }

    #[test]
    fn parses_a_space_external_id_into_its_three_parts() {
        let parsed = parse_space_external_id(Some("confc:tenant1:space-1:SP")).unwrap();
        assert_eq!(parsed.tenant, "tenant1");
        assert_eq!(parsed.space_id, "space-1");
        assert_eq!(parsed.space_key, "SP");
        assert_eq!(
            parsed.partial_key(KeyFormat::V2).as_str(),
            "tenant1/space-1_SP"
        );
    }

    #[test]
    fn space_external_id_round_trips() {
        let built = ScopeExternalId::space("my-tenant", "98765", "ENG");
        let parsed = parse_space_external_id(Some(built.as_str())).unwrap();
        assert_eq!(parsed.external_id(), built);
        assert_eq!(
            (
                parsed.tenant.as_str(),
                parsed.space_id.as_str(),
                parsed.space_key.as_str()
            ),
            ("my-tenant", "98765", "ENG")
        );
    }

    #[test]
    fn unparseable_space_external_ids_are_none() {
        assert_eq!(parse_space_external_id(None), None);
        for bad in [
            "",
            "confc:",
            "other:tenant1:space-1:SP",
            "tenant1:space-1:SP",
            "confc:tenant1:SP",
            "confc:tenant1:space-1:SP:extra",
            "confc:cloud:cloud-1",
            "confc:tenant1::SP",
            "confc:::",
        ] {
            assert_eq!(parse_space_external_id(Some(bad)), None, "{bad:?}");
        }
    }
}

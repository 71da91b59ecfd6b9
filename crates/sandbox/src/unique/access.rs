//! The access vocabulary that scopes, files and the user directory share: who (`EntityType`,
//! an id), what (`AccessType`), and the `fileAccess` key form (`u:<id>R`) the API speaks.
//! It imports nothing of the simulator but its error type, so every module that keeps
//! accesses can use it without importing the others.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::StoreError;

/// Access level in a scope grant (`ScopeAccessType`).
#[derive(
    async_graphql::Enum,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
)]
#[graphql(name = "ScopeAccessType")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessType {
    Manage,
    Read,
    Write,
}

/// Grantee kind in a scope grant (`ScopeAccessEntityType`).
#[derive(
    async_graphql::Enum,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
)]
#[graphql(name = "ScopeAccessEntityType")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityType {
    User,
    Group,
}

/// One access grant on a scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeAccess {
    pub entity_id: String,
    pub entity_type: EntityType,
    pub access_type: AccessType,
}

/// `granted` covers `needed`: MANAGE covers everything, WRITE covers READ.
pub(crate) fn covers(granted: AccessType, needed: AccessType) -> bool {
    granted == needed
        || granted == AccessType::Manage
        || (granted == AccessType::Write && needed == AccessType::Read)
}

/// `u:<id>R` / `g:<id>W` / `…M`, the `fileAccess` key of one access.
pub(crate) fn file_access_key(a: &ScopeAccess) -> String {
    let who = match a.entity_type {
        EntityType::User => "u",
        EntityType::Group => "g",
    };
    let what = match a.access_type {
        AccessType::Read => "R",
        AccessType::Write => "W",
        AccessType::Manage => "M",
    };
    format!("{who}:{}{what}", a.entity_id)
}

/// Parses `input.fileAccess` keys (`u:<id>R`, …); any other shape is a bad input.
pub(crate) fn parse_file_access(keys: &[String]) -> Result<BTreeSet<ScopeAccess>, StoreError> {
    keys.iter()
        .map(|key| {
            let bad = || StoreError::Invalid(format!("Invalid file access key {key:?}"));
            let (who, rest) = key.split_once(':').ok_or_else(bad)?;
            let entity_type = match who {
                "u" => EntityType::User,
                "g" => EntityType::Group,
                _ => return Err(bad()),
            };
            let mut chars = rest.chars();
            let access_type = match chars.next_back() {
                Some('R') => AccessType::Read,
                Some('W') => AccessType::Write,
                Some('M') => AccessType::Manage,
                _ => return Err(bad()),
            };
            let entity_id = chars.as_str();
            if entity_id.is_empty() {
                return Err(bad());
            }
            Ok(ScopeAccess {
                entity_id: entity_id.to_owned(),
                entity_type,
                access_type,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn file_access_keys_round_trip_and_bad_ones_are_refused() {
        let keys = vec![
            "u:user_1R".to_owned(),
            "g:group_2W".to_owned(),
            "u:a:bM".to_owned(),
        ];
        let parsed = parse_file_access(&keys).unwrap();
        let mut back: Vec<String> = parsed.iter().map(file_access_key).collect();
        back.sort();
        let mut expected = keys.clone();
        expected.sort();
        assert_eq!(back, expected);
        for bad in ["x:1R", "u:1", "u:R", "user_1R", ""] {
            assert!(parse_file_access(&[bad.to_owned()]).is_err(), "{bad}");
        }
    }
}

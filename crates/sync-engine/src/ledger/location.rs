//! Where the ledger lives: parsing the configured URL, and showing it without its password.

use std::path::PathBuf;

// The workspace's one URL redactor (password and `password=` masked as `***`), which works on
// malformed URLs too: those are the ones that end up in error messages.
use unique_client::redact_url;

use super::error::LedgerError;

/// The database a ledger URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    /// A SQLite file; created (with its parent directories) on first start.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database: gone when the `Ledger` is dropped. For tests and
    /// `demo`.
    SqliteMemory,
    /// A PostgreSQL URL, passed to sqlx unchanged.
    Postgres(String),
}

impl Location {
    /// Accepts `postgres://…` / `postgresql://…`, `sqlite::memory:`, `sqlite://PATH`,
    /// `sqlite:PATH` and a bare file path (the common case in a config file). Query parameters on
    /// a SQLite URL are rejected rather than ignored: the ledger sets its own pragmas.
    pub(crate) fn parse(url: &str) -> Result<Self, LedgerError> {
        let unsupported = || LedgerError::UnsupportedUrl {
            url: redact_url(url),
        };
        let trimmed = url.trim();
        if trimmed.is_empty() {
            return Err(unsupported());
        }
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            return Ok(Self::Postgres(trimmed.to_owned()));
        }
        if trimmed == "sqlite::memory:" || trimmed == "sqlite://:memory:" {
            return Ok(Self::SqliteMemory);
        }
        let path = if let Some(rest) = trimmed.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = trimmed.strip_prefix("sqlite:") {
            rest
        } else if trimmed.contains("://") {
            return Err(unsupported());
        } else {
            trimmed
        };
        if path.is_empty() || path.contains('?') {
            return Err(unsupported());
        }
        Ok(Self::SqliteFile(PathBuf::from(path)))
    }

    /// The location as it may appear in logs and errors.
    pub(crate) fn display(&self) -> String {
        match self {
            Self::SqliteFile(path) => format!("sqlite://{}", path.display()),
            Self::SqliteMemory => "sqlite::memory:".to_owned(),
            Self::Postgres(url) => redact_url(url),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn reads_every_supported_spelling() {
        assert_eq!(
            Location::parse("/var/lib/cfc/state.db").unwrap(),
            Location::SqliteFile("/var/lib/cfc/state.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:///var/lib/cfc/state.db").unwrap(),
            Location::SqliteFile("/var/lib/cfc/state.db".into())
        );
        assert_eq!(
            Location::parse("sqlite://state/ledger.db").unwrap(),
            Location::SqliteFile("state/ledger.db".into())
        );
        assert_eq!(
            Location::parse("sqlite:ledger.db").unwrap(),
            Location::SqliteFile("ledger.db".into())
        );
        assert_eq!(
            Location::parse("sqlite::memory:").unwrap(),
            Location::SqliteMemory
        );
        assert_eq!(
            Location::parse("postgresql://u:p@db/cfc").unwrap(),
            Location::Postgres("postgresql://u:p@db/cfc".into())
        );
    }

    #[test]
    fn rejects_other_databases_without_showing_the_password() {
        let err = Location::parse("mysql://root:hunter2@db/cfc").unwrap_err();
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("mysql://root:***@db/cfc"), "{text}");
        assert!(Location::parse("").is_err());
        assert!(Location::parse("sqlite://ledger.db?mode=ro").is_err());
    }

    #[test]
    fn shows_locations_without_secrets() {
        let location = Location::parse("postgres://cfc:pw@db/cfc").unwrap();
        assert_eq!(location.display(), "postgres://cfc:***@db/cfc");
    }
}

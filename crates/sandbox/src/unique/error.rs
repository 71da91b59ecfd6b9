//! The one error type of the Unique simulator's state operations: the store, the directory and
//! the file accesses all fail with it, and the GraphQL layer turns it into `errors` entries.

/// Failures of state operations.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("Scope {0} not found")]
    ScopeNotFound(String),
    #[error("Content with key {0} not found")]
    ContentNotFound(String),
    #[error("External id {0} is already taken by another scope")]
    ExternalIdTaken(String),
    #[error("Scope with id {0} already exists")]
    ScopeExists(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    /// A user or group that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A unique value (a group's external id) already taken.
    #[error("{0}")]
    Conflict(String),
}

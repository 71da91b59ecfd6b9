//! A run's id: a leaf both the runs and the ledger's errors name.

use std::fmt;

use serde::Serialize;

/// A run's id in the ledger. Ids grow monotonically and are never reused, even after pruning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct RunId(pub(super) i64);

impl RunId {
    /// The id as stored, e.g. to print it or to accept it from a CLI argument via
    /// [`RunId::from_raw`].
    pub fn get(self) -> i64 {
        self.0
    }

    /// An id read back from outside (a CLI argument); the ledger checks it exists when used.
    pub fn from_raw(id: i64) -> Self {
        Self(id)
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

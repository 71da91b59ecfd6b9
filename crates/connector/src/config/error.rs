//! Errors and warnings produced while loading configuration.
//!
//! Every problem names where it was found (a file, or the environment variable that supplied the
//! value), the field path inside it, what is wrong and what would be accepted, so an operator can
//! fix all of them in one edit instead of one restart per mistake. Values of secret fields are
//! never quoted.

use std::fmt;

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Where the value came from: a file path, `environment variable NAME`, or `environment`.
    pub file: String,
    /// Dotted path of the field inside that source (`confluence.auth.clientSecret`), or a short
    /// description for problems about the file as a whole (`file name`).
    pub field: String,
    /// What is wrong.
    pub problem: String,
    /// What would be accepted instead.
    pub expected: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}; expected {}",
            self.file, self.field, self.problem, self.expected
        )
    }
}

/// Every problem found while loading, in the order found. Never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    pub(crate) fn new(errors: Vec<ConfigError>) -> Self {
        debug_assert!(!errors.is_empty());
        Self { errors }
    }

    /// The individual problems.
    pub fn errors(&self) -> &[ConfigError] {
        &self.errors
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false; present because `len` is.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Something accepted but probably not what the operator meant (an unknown key, which the
/// reference connector silently dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// Where: a file path or an environment variable, as in [`ConfigError::file`].
    pub file: String,
    /// Dotted path of the field.
    pub field: String,
    /// What was noticed.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file, self.field, self.message)
    }
}

//! The only SQL that differs between SQLite and PostgreSQL: reading the database's clock.

/// Which SQL dialect a query is being written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The database's current time, in the column format of the timestamp columns.
    ///
    /// SQLite: fixed-width ISO 8601 with milliseconds, so TEXT comparison is time comparison.
    /// PostgreSQL: `now()`, the statement's transaction start; for the single-statement
    /// transactions the ledger runs that is the statement start, which errs towards shorter
    /// leases and later takeovers, never the other way.
    pub(crate) fn now(self) -> &'static str {
        match self {
            Self::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            Self::Postgres => "now()",
        }
    }

    /// The database's current time plus the number of milliseconds bound to `param` (an i64).
    pub(crate) fn now_plus_millis(self, param: &str) -> String {
        match self {
            // `||` binds tighter than `/` in SQLite: the parentheses matter.
            Self::Sqlite => {
                format!("strftime('%Y-%m-%dT%H:%M:%fZ', 'now', (({param} / 1000.0) || ' seconds'))")
            }
            Self::Postgres => format!("(now() + make_interval(secs => {param}::float8 / 1000))"),
        }
    }
}

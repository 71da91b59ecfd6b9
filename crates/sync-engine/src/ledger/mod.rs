//! The state ledger: runs, failed items, leases; SQLite or PostgreSQL through one code path.

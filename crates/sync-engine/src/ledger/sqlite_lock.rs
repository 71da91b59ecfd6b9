//! SQLite mode is single-process: a second process writing the same file would break run
//! recovery (it would mark the first one's live runs interrupted) and leases (each would think
//! it holds every tenant). An advisory lock on a sidecar file makes that impossible rather than
//! merely documented.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use super::error::LedgerError;

/// An exclusive lock on `<db>.lock`, held until dropped. A sidecar rather than the database file
/// itself, because SQLite takes its own POSIX locks on that file and mixing lock kinds on one
/// file is asking for trouble. The OS releases the lock when the process dies, so a crash never
/// leaves a stale lock behind (unlike a pid file).
#[derive(Debug)]
pub(crate) struct SqliteLock {
    _file: File,
}

impl SqliteLock {
    /// Locks `<db_path>.lock` or fails with [`LedgerError::AlreadyInUse`] at once: waiting would
    /// only hide a misconfiguration (two daemons on one file).
    pub(crate) fn acquire(db_path: &Path) -> Result<Self, LedgerError> {
        let lock_path = lock_path(db_path);
        let lock_err = |source| LedgerError::LockFile {
            path: lock_path.clone(),
            source,
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(LedgerError::AlreadyInUse {
                path: db_path.to_path_buf(),
            }),
            Err(TryLockError::Error(source)) => Err(lock_err(source)),
        }
    }
}

/// Whether a writer (another process, or another `Ledger` in this one) holds the lock on
/// `db_path` right now. Writes nothing: a missing lock
/// file means nobody has opened the ledger for writing yet; an existing one is locked shared for
/// a moment, which fails only while a writer holds it.
pub(crate) fn held_by_a_writer(db_path: &Path) -> bool {
    let Ok(file) = File::open(lock_path(db_path)) else {
        return false;
    };
    matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
}

fn lock_path(db_path: &Path) -> PathBuf {
    let mut name = db_path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

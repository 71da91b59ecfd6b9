//! Where a SQLite ledger file goes, and whether this process can put it there.
//!
//! [`check_writable`] is the one decision both `Ledger::open` (before it creates anything) and
//! `Ledger::probe` (which `confluence-connector check` runs, and which must not write) rely on,
//! so `check` fails exactly where `sync` and `run` would.

use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::Access;

use super::error::LedgerError;

/// The directory a SQLite file lives in (`.` for a bare file name).
pub(crate) fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Fails the way opening the ledger for writing at `path` would, without creating anything:
/// the missing directories must be creatable (the nearest existing one is a directory this
/// process may write into), an existing directory must be writable (the lock file and SQLite's
/// `-wal`/`-shm` files go next to the database), and an existing file must be writable.
pub(crate) fn check_writable(path: &Path) -> Result<(), LedgerError> {
    let directory = directory_of(path);
    let Some(existing) = nearest_existing_directory(&directory)? else {
        // Nothing exists up to the root, so nothing could be created either.
        return Err(LedgerError::CreateDirectory {
            path: directory,
            source: io::Error::from(io::ErrorKind::NotFound),
        });
    };
    if let Err(source) = writable(&existing) {
        return Err(if existing == directory {
            LedgerError::NotWritable {
                path: directory,
                source,
            }
        } else {
            LedgerError::CreateDirectory {
                path: directory,
                source,
            }
        });
    }
    if path.exists() {
        writable(path).map_err(|source| LedgerError::NotWritable {
            path: path.to_path_buf(),
            source,
        })?;
    }
    Ok(())
}

/// Creates the parent directories of a SQLite file (first start) and makes the path absolute,
/// so that two spellings of one file share one lock.
pub(crate) fn prepare(path: &Path) -> Result<PathBuf, LedgerError> {
    let directory = directory_of(path);
    let create_err = |source| LedgerError::CreateDirectory {
        path: directory.clone(),
        source,
    };
    std::fs::create_dir_all(&directory).map_err(create_err)?;
    let directory = directory.canonicalize().map_err(create_err)?;
    match path.file_name() {
        Some(name) => Ok(directory.join(name)),
        None => Err(LedgerError::UnsupportedUrl {
            url: path.display().to_string(),
        }),
    }
}

/// `directory` or its closest ancestor that exists, failing with the OS error
/// `create_dir_all` would meet: `File exists` when `directory` itself is a file, `Not a
/// directory` (from looking below it) when an ancestor is.
fn nearest_existing_directory(directory: &Path) -> Result<Option<PathBuf>, LedgerError> {
    for candidate in directory.ancestors() {
        let candidate = if candidate.as_os_str().is_empty() {
            Path::new(".")
        } else {
            candidate
        };
        match std::fs::metadata(candidate) {
            Ok(meta) if meta.is_dir() => return Ok(Some(candidate.to_path_buf())),
            // Only `directory` itself can get here: below a file, stat answers ENOTDIR.
            Ok(_) => {
                return Err(LedgerError::CreateDirectory {
                    path: directory.to_path_buf(),
                    source: io::Error::from(rustix::io::Errno::EXIST),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(LedgerError::CreateDirectory {
                    path: directory.to_path_buf(),
                    source,
                })
            }
        }
    }
    Ok(None)
}

/// access(2): what this process's real uid may do, read-only file systems included.
fn writable(path: &Path) -> io::Result<()> {
    let wanted = if path.is_dir() {
        Access::WRITE_OK | Access::EXEC_OK
    } else {
        Access::WRITE_OK
    };
    rustix::fs::access(path, wanted).map_err(io::Error::from)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_under_a_writable_one_is_fine() {
        let dir = tempfile::tempdir().unwrap();
        check_writable(&dir.path().join("a/b/ledger.db")).unwrap();
        assert!(
            !dir.path().join("a").exists(),
            "the check created something"
        );
    }

    /// A file in the way, below the directory (`Not a directory`) or as the directory itself
    /// (`File exists`): the check fails with the very error creating the directory would give.
    #[test]
    fn a_file_in_the_way_fails_with_the_os_error_create_dir_all_gives() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"").unwrap();
        for (path, os_error) in [
            (blocker.join("sub/ledger.db"), 20),
            (blocker.join("ledger.db"), 17),
        ] {
            let checked = check_writable(&path).unwrap_err().to_string();
            assert_eq!(checked, prepare(&path).unwrap_err().to_string());
            let expected = io::Error::from_raw_os_error(os_error).to_string();
            assert!(checked.contains(&expected), "{checked}");
        }
    }

    #[test]
    fn a_bare_file_name_lives_in_the_working_directory() {
        assert_eq!(directory_of(Path::new("ledger.db")), PathBuf::from("."));
        check_writable(Path::new("surely-not-here.db")).unwrap();
    }
}

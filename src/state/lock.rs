//! One `publish` at a time per site: an OS file lock on `state_dir/publish.lock`. The OS drops
//! the lock when the process dies, so a killed run never leaves a stale lock behind.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

use crate::error::{Error, IoContext, Result};

/// Held for the whole run; released on drop or process exit.
/// The lock file inside `state_dir`.
pub const FILE: &str = "publish.lock";

#[derive(Debug)]
pub struct PublishLock {
    _file: File,
}

impl PublishLock {
    /// Takes the lock, or fails at once with [`Error::Locked`] (exit 75).
    pub fn acquire(state_dir: &Path, shown: &Path) -> Result<PublishLock> {
        std::fs::create_dir_all(state_dir).with_path(state_dir)?;
        let path = state_dir.join(FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_path(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(PublishLock { _file: file }),
            Err(TryLockError::WouldBlock) => Err(Error::Locked {
                path: shown.to_path_buf(),
            }),
            Err(TryLockError::Error(e)) => Err(Error::io(&path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_and_release_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let shown = Path::new("state/publish.lock");
        let first = PublishLock::acquire(dir.path(), shown).unwrap();
        let err = PublishLock::acquire(dir.path(), shown).unwrap_err();
        assert_eq!(err.exit_status().code(), 75);
        assert_eq!(
            err.to_string(),
            "another publish holds state/publish.lock; try again later"
        );
        drop(first);
        assert!(PublishLock::acquire(dir.path(), shown).is_ok());
    }
}

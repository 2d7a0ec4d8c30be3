//! The HMAC secret: 32 random bytes in `state_dir/secret.key`, created with mode 0600 on first
//! use. It signs unsubscribe and confirmation tokens; it never leaves this file.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, IoContext, Result};

pub const FILE: &str = "secret.key";

/// Reads the secret, creating it on first use.
pub fn load_or_create(state_dir: &Path) -> Result<[u8; 32]> {
    let path = state_dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            return bytes.try_into().map_err(|_| {
                Error::msg(format!(
                    "{}: expected 32 bytes; delete it to make a new one (old links stop working)",
                    path.display()
                ))
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(&path, e)),
    }
    std::fs::create_dir_all(state_dir).with_path(state_dir)?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key)
        .map_err(|e| Error::msg(format!("no randomness for {}: {e}", path.display())))?;
    // Written whole to a temp file (mode 0600), then linked into place only if no other
    // process got there first: a reader never sees a partly written key.
    let mut tmp = tempfile::NamedTempFile::new_in(state_dir).with_path(state_dir)?;
    tmp.write_all(&key).with_path(tmp.path())?;
    tmp.as_file().sync_all().with_path(tmp.path())?;
    match tmp.persist_noclobber(&path) {
        Ok(_) => Ok(key),
        // Another process created it first: use theirs.
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(state_dir),
        Err(e) => Err(Error::io(&path, e.error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_create(dir.path()).unwrap();
        let b = load_or_create(dir.path()).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, [0u8; 32]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn processes_starting_together_share_one_whole_key() {
        for _ in 0..100 {
            let dir = tempfile::tempdir().unwrap();
            let barrier = std::sync::Barrier::new(4);
            let keys: Vec<[u8; 32]> = std::thread::scope(|s| {
                let runs: Vec<_> = (0..4)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            load_or_create(dir.path())
                        })
                    })
                    .collect();
                runs.into_iter()
                    .map(|r| r.join().unwrap().unwrap())
                    .collect()
            });
            assert!(keys.iter().all(|k| *k == keys[0]));
        }
    }

    #[test]
    fn a_key_of_the_wrong_length_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE), b"short").unwrap();
        let err = load_or_create(dir.path()).unwrap_err().to_string();
        assert!(err.contains("secret.key: expected 32 bytes"), "{err}");
    }
}

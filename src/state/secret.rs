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
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    match opts.open(&path) {
        Ok(mut f) => {
            f.write_all(&key).with_path(&path)?;
            f.sync_all().with_path(&path)?;
            Ok(key)
        }
        // Another process created it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => load_or_create(state_dir),
        Err(e) => Err(Error::io(&path, e)),
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
}

//! Writing files: only inside the directories herald owns (`output_dir`, `state_dir`,
//! `outbox_dir`), each file replaced atomically (temp file in the same folder, then rename),
//! and files whose bytes would not change are left alone, modification time included.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Written,
    Unchanged,
}

/// `dir.join(rel)`, refusing anything that could leave `dir` (absolute paths, `..`, NUL).
pub fn confined(dir: &Path, rel: &str) -> Result<PathBuf> {
    let p = Path::new(rel);
    let ok = !rel.is_empty()
        && !rel.contains('\0')
        && p.components().all(|c| matches!(c, Component::Normal(_)));
    if !ok {
        return Err(Error::msg(format!(
            "refusing to write \"{rel}\": it would leave {}",
            dir.display()
        )));
    }
    Ok(dir.join(p))
}

/// Writes `bytes` to `path` atomically unless the file already holds exactly these bytes.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<Written> {
    if let Ok(old) = std::fs::read(path)
        && old == bytes
    {
        return Ok(Written::Unchanged);
    }
    write_atomic(path, bytes, 0o644)?;
    Ok(Written::Written)
}

/// Writes `bytes` to `path` through a temp file in the same folder and a rename, so readers
/// see the old file or the new one, never a torn one. `mode` applies on Unix.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_path(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".herald-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_path(dir)?;
    tmp.write_all(bytes).with_path(tmp.path())?;
    set_mode(tmp.as_file(), mode).with_path(tmp.path())?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

#[cfg(unix)]
fn set_mode(file: &std::fs::File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &std::fs::File, _: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confinement() {
        let d = Path::new("/site/public");
        assert!(confined(d, "tags/x/rss.xml").is_ok());
        for bad in ["../x", "tags/../../x", "/etc/passwd", "", "a\0b"] {
            assert!(confined(d, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unchanged_files_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b.xml");
        assert_eq!(write_if_changed(&p, b"one").unwrap(), Written::Written);
        let before = std::fs::metadata(&p).unwrap().modified().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        assert_eq!(write_if_changed(&p, b"one").unwrap(), Written::Unchanged);
        assert_eq!(std::fs::metadata(&p).unwrap().modified().unwrap(), before);
        assert_eq!(write_if_changed(&p, b"two").unwrap(), Written::Written);
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let leftovers = std::fs::read_dir(dir.path().join("a")).unwrap().count();
        assert_eq!(leftovers, 1, "no temp files left behind");
    }
}

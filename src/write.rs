//! Writing files: only inside the directories herald owns (`output_dir`, `state_dir`,
//! `outbox_dir`), each file replaced atomically (temp file in the same folder, then rename),
//! and files whose bytes would not change are left alone, modification time included.

use std::io::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, IoContext, Result};

/// The longest path the platform takes, in bytes, counting the NUL that ends it (Linux's
/// `PATH_MAX`): a path of 4096 bytes or more cannot be opened.
pub const PATH_MAX: usize = 4096;

/// The temp file [`write_atomic`] makes beside its target: prefix, random part, suffix.
const TEMP_PREFIX: &str = ".herald-";
const TEMP_RANDOM: usize = 6;
const TEMP_SUFFIX: &str = ".tmp";

/// Why `path` cannot be written, or `None` when it can: a name in it longer than
/// [`NAME_MAX`](crate::slug::NAME_MAX) bytes, or a path of [`PATH_MAX`] bytes or more (for the
/// target or for the temp file written beside it, whichever is longer). Looks at the path
/// only, never at the disk, so that a run can check every path before its first write.
pub fn unwritable(path: &Path) -> Option<String> {
    use crate::slug::NAME_MAX;
    for c in path.components() {
        if let Component::Normal(name) = c
            && name.len() > NAME_MAX
        {
            return Some(format!(
                "a folder or file name in it is {} bytes long, and a file system takes at most \
                 {NAME_MAX}",
                name.len()
            ));
        }
    }
    let name = path.file_name().map_or(0, |n| n.len());
    let temp = TEMP_PREFIX.len() + TEMP_RANDOM + TEMP_SUFFIX.len();
    let longest = path.as_os_str().len() - name + name.max(temp);
    (longest >= PATH_MAX).then(|| {
        format!(
            "its path is {longest} bytes long, and the system takes at most {}",
            PATH_MAX - 1
        )
    })
}

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
            "refusing to write \"{}\": it would leave {}",
            crate::error::cut(rel),
            dir.display()
        )));
    }
    Ok(dir.join(p))
}

/// Whether the file at `path` holds exactly `bytes` (a missing file does not).
pub fn is_unchanged(path: &Path, bytes: &[u8]) -> bool {
    std::fs::read(path).is_ok_and(|old| old == bytes)
}

/// Writes `bytes` to `path` atomically unless the file already holds exactly these bytes.
pub fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<Written> {
    if is_unchanged(path, bytes) {
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
        .prefix(TEMP_PREFIX)
        .rand_bytes(TEMP_RANDOM)
        .suffix(TEMP_SUFFIX)
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
    fn paths_too_long_for_the_platform_are_named() {
        let d = Path::new("/site/public");
        assert_eq!(unwritable(&d.join("tags/x/rss.xml")), None);
        let name = "n".repeat(255);
        assert_eq!(unwritable(&d.join(&name).join("rss.xml")), None);
        let long = d.join(format!("{name}n")).join("rss.xml");
        assert!(unwritable(&long).is_some_and(|w| w.contains("256 bytes")));
        // 4095 bytes in all fit, 4096 do not; a short name counts as long as the temp file.
        let dirs = |n: usize| d.join(vec!["a".repeat(99); n].join("/"));
        let base = dirs(40);
        let fill = |len: usize| base.join("b".repeat(len - base.as_os_str().len() - 1));
        assert_eq!(unwritable(&fill(4095)), None);
        assert!(unwritable(&fill(4096)).is_some_and(|w| w.contains("4096 bytes")));
        let short = base.join("x".repeat(4095 - base.as_os_str().len() - 1 - 17));
        assert!(
            unwritable(&short.join("a")).is_some(),
            "its temp file would not fit"
        );
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

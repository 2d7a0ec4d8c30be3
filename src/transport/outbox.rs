//! The outbox transport: each message becomes `<outbox_dir>/<folder>/<address>.eml`, written
//! atomically, so a reader never sees half a message.

use std::path::PathBuf;

use super::{Envelope, Failure, Transport};
use crate::error::Result;
use crate::write;

pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> Outbox {
        Outbox { dir }
    }

    /// Where the message for `to` in `folder` is written.
    pub fn path(&self, folder: &str, to: &str) -> Result<PathBuf> {
        write::confined(
            &self.dir,
            &format!(
                "{}/{}.eml",
                file_part(folder),
                file_part(&to.to_lowercase())
            ),
        )
    }
}

/// A safe single path component: `/`, `\`, NUL and `%` are percent-encoded, and a leading dot
/// is too, so an address like `../x@y` cannot name another folder or a hidden file.
pub fn file_part(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '/' | '\\' | '\0' | '%' => out.push_str(&format!("%{:02X}", c as u32)),
            '.' if i == 0 => out.push_str("%2E"),
            c if c.is_control() => out.push_str(&format!("%{:02X}", c as u32 & 0xff)),
            c => out.push(c),
        }
    }
    if out.is_empty() { "%00".into() } else { out }
}

impl Transport for Outbox {
    fn send(&self, folder: &str, envelope: &Envelope, raw: &[u8]) -> Result<String, Failure> {
        let path = self.path(folder, &envelope.to).map_err(Failure::Local)?;
        write::write_atomic(&path, raw, 0o644).map_err(Failure::Local)?;
        Ok(format!("written to {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_cannot_escape_the_outbox() {
        assert_eq!(file_part("a@example.com"), "a@example.com");
        assert_eq!(file_part("../x@y"), "%2E.%2Fx@y");
        assert_eq!(file_part("a/b@c"), "a%2Fb@c");
        let o = Outbox::new(PathBuf::from("/site/outbox"));
        let p = o.path("post", "../../etc/passwd").unwrap();
        assert!(p.starts_with("/site/outbox/post/"), "{}", p.display());
    }

    #[test]
    fn writes_one_file_per_address() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::new(dir.path().to_path_buf());
        let env = Envelope {
            from: "f@e.com".into(),
            to: "Ann@Example.com".into(),
        };
        o.send("hello", &env, b"Subject: x\r\n\r\nbody").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("hello/ann@example.com.eml")).unwrap(),
            b"Subject: x\r\n\r\nbody"
        );
    }
}

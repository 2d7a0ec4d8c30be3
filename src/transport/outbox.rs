//! The outbox transport: each message becomes `<outbox_dir>/<folder>/<address>.eml`, written
//! atomically, so a reader never sees half a message. A folder or file name longer than a file
//! system takes is shortened by [`fit_name`], `.eml` kept.

use std::path::{Path, PathBuf};

use super::{Envelope, Failure, Transport};
use crate::error::Result;
use crate::slug::{NAME_MAX, fit_name};
use crate::write::{self, PATH_MAX};

pub struct Outbox {
    dir: PathBuf,
    /// Whether each file starts with `Return-Path: <envelope sender>`, as a mailbox's copy
    /// does once an MTA has delivered it.
    return_path: bool,
}

impl Outbox {
    pub fn new(dir: PathBuf) -> Outbox {
        Outbox {
            dir,
            return_path: false,
        }
    }

    /// Starts each file with the envelope sender as a `Return-Path:` line (the line a
    /// delivering MTA adds), so that the envelope is on record beside the message: with
    /// `newsletter.return_path` set it carries the delivery's VERP token.
    pub fn recording_return_path(mut self) -> Outbox {
        self.return_path = true;
        self
    }

    /// Where the message for `to` in `folder` is written.
    pub fn path(&self, folder: &str, to: &str) -> Result<PathBuf> {
        let folder = fit_name(file_part(folder), 0);
        let file = fit_name(file_part(&to.to_lowercase()), ".eml".len());
        write::confined(&self.dir, &format!("{folder}/{file}.eml"))
    }

    /// Where `herald preview` writes the mail of the post `slug`: `preview/<slug>.eml` and
    /// `preview/<slug>.html`, one name for both.
    pub fn preview_paths(&self, slug: &str) -> Result<(PathBuf, PathBuf)> {
        let stem = fit_name(file_part(slug), ".html".len());
        Ok((
            write::confined(&self.dir, &format!("preview/{stem}.eml"))?,
            write::confined(&self.dir, &format!("preview/{stem}.html"))?,
        ))
    }
}

/// Why some message could not be written in the outbox `dir`, or `None` when every one can:
/// a message's folder and file name take up to [`NAME_MAX`] bytes each, so the longest path
/// is `dir` and 2 + 2 × 255 bytes more.
pub fn unwritable_dir(dir: &Path) -> Option<String> {
    if let Some(why) = write::unwritable(&dir.join("x")) {
        return Some(why);
    }
    let longest = dir.as_os_str().len() + 2 + 2 * NAME_MAX;
    (longest >= PATH_MAX).then(|| {
        format!(
            "a message's path in it may be {longest} bytes long (a folder and a file name of up \
             to {NAME_MAX} bytes each), and the system takes at most {}",
            PATH_MAX - 1
        )
    })
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
        if self.return_path {
            let from: String = envelope
                .from
                .chars()
                .filter(|c| !c.is_control() && !matches!(c, '<' | '>'))
                .collect();
            let mut bytes = format!("Return-Path: <{from}>\r\n").into_bytes();
            bytes.extend_from_slice(raw);
            write::write_atomic(&path, &bytes, 0o644).map_err(Failure::Local)?;
        } else {
            write::write_atomic(&path, raw, 0o644).map_err(Failure::Local)?;
        }
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
    fn long_folders_and_addresses_are_shortened_and_keep_eml() {
        let o = Outbox::new(PathBuf::from("/site/outbox"));
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
        let folder = |p: &Path| name(p.parent().unwrap());
        let p = o
            .path("post", &format!("{}@example.com", "a".repeat(238)))
            .unwrap();
        assert_eq!(name(&p), format!("{}@example.com.eml", "a".repeat(238)));
        for local in [239, 300, 5000] {
            let to = format!("{}@example.com", "a".repeat(local));
            let p = o.path(&"p".repeat(local), &to).unwrap();
            assert!(
                name(&p).len() <= NAME_MAX && name(&p).ends_with(".eml"),
                "{p:?}"
            );
            assert!(folder(&p).len() <= NAME_MAX);
            assert_eq!(p, o.path(&"p".repeat(local), &to).unwrap(), "stable");
            let other = o
                .path("post", &format!("{}b@example.com", "a".repeat(local)))
                .unwrap();
            assert_ne!(name(&p), name(&other));
        }
        let (eml, html) = o.preview_paths(&"夜".repeat(100)).unwrap();
        assert!(name(&html).len() <= NAME_MAX && name(&html).ends_with(".html"));
        assert_eq!(
            name(&eml).strip_suffix(".eml"),
            name(&html).strip_suffix(".html")
        );
    }

    #[test]
    fn an_outbox_too_deep_for_the_longest_message_is_named() {
        assert_eq!(unwritable_dir(Path::new("/site/outbox")), None);
        let deep = PathBuf::from(format!("/{}", vec!["d".repeat(200); 18].join("/")));
        assert!(unwritable_dir(&deep).is_some_and(|w| w.contains("4130 bytes")));
        let wide = PathBuf::from(format!("/site/{}", "w".repeat(256)));
        assert!(unwritable_dir(&wide).is_some_and(|w| w.contains("256 bytes")));
    }

    #[test]
    fn the_envelope_sender_is_recorded_as_return_path_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::new(dir.path().to_path_buf()).recording_return_path();
        let env = Envelope {
            from: "bounces+abc@e.com\r\nBcc: x@y".into(),
            to: "a@example.com".into(),
        };
        o.send("hello", &env, b"Subject: x\r\n\r\nbody").unwrap();
        assert_eq!(
            std::fs::read(dir.path().join("hello/a@example.com.eml")).unwrap(),
            b"Return-Path: <bounces+abc@e.comBcc: x@y>\r\nSubject: x\r\n\r\nbody"
        );
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

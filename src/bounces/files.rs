//! Returned mail from files (`herald bounces import PATH…`): a file holding one message, an
//! mbox (a file whose first line starts with `From `; `>From ` lines unquoted, as mboxrd
//! writes them), or a Maildir (a folder with `cur/` or `new/`: every file in `new/`, then in
//! `cur/`, by name). No message is held whole in memory past [`MAX_MESSAGE`]: a larger one is
//! reported as too large, and the rest is read on.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::MAX_MESSAGE;
use crate::error::{Error, IoContext, Result};

/// One message found in a file.
#[derive(Debug)]
pub struct Message {
    /// Where it is, for messages: `path`, `path, message 3`.
    pub origin: String,
    /// Its bytes, or `None` when it is larger than [`MAX_MESSAGE`].
    pub bytes: Option<Vec<u8>>,
}

/// Calls `each` for every message under `path`, in order. An error names the file.
pub fn read(path: &Path, each: &mut dyn FnMut(Message) -> Result<()>) -> Result<()> {
    let meta = std::fs::metadata(path).with_path(path)?;
    if meta.is_dir() {
        return maildir(path, each);
    }
    let mut file = BufReader::new(File::open(path).with_path(path)?);
    let start = file.fill_buf().with_path(path)?;
    if start.starts_with(b"From ") {
        return mbox(path, file, each);
    }
    each(Message {
        origin: path.display().to_string(),
        bytes: read_capped(path, file, meta.len())?,
    })
}

/// The whole of `r` (`len` bytes by its metadata), or `None` past [`MAX_MESSAGE`].
fn read_capped(path: &Path, r: impl Read, len: u64) -> Result<Option<Vec<u8>>> {
    if len > MAX_MESSAGE as u64 {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(len as usize);
    r.take(MAX_MESSAGE as u64 + 1)
        .read_to_end(&mut bytes)
        .with_path(path)?;
    Ok((bytes.len() <= MAX_MESSAGE).then_some(bytes))
}

fn maildir(path: &Path, each: &mut dyn FnMut(Message) -> Result<()>) -> Result<()> {
    let subs: Vec<_> = ["new", "cur"]
        .iter()
        .map(|s| path.join(s))
        .filter(|p| p.is_dir())
        .collect();
    if subs.is_empty() {
        return Err(Error::msg(format!(
            "{}: a folder, and no Maildir (it has no cur/ or new/ folder); give a message file, an mbox or a Maildir",
            path.display()
        )));
    }
    for sub in subs {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(&sub).with_path(&sub)? {
            let entry = entry.with_path(&sub)?;
            // Maildir's own dot files, and anything that is no file, are no messages.
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            if entry.file_type().with_path(entry.path())?.is_file() {
                names.push(entry.path());
            }
        }
        names.sort();
        for file in names {
            let len = std::fs::metadata(&file).with_path(&file)?.len();
            let bytes = read_capped(&file, File::open(&file).with_path(&file)?, len)?;
            each(Message {
                origin: file.display().to_string(),
                bytes,
            })?;
        }
    }
    Ok(())
}

/// Splits an mbox at its `From ` lines.
fn mbox(
    path: &Path,
    mut r: BufReader<File>,
    each: &mut dyn FnMut(Message) -> Result<()>,
) -> Result<()> {
    // A line longer than this is read in pieces (a piece never starts a message).
    const PIECE: u64 = 1 << 20;
    let mut current: Option<(usize, Option<Vec<u8>>)> = None;
    let mut count = 0;
    let mut line = Vec::new();
    let mut at_line_start = true;
    let origin = |n: usize| format!("{}, message {n}", path.display());
    loop {
        line.clear();
        let n = (&mut r)
            .take(PIECE)
            .read_until(b'\n', &mut line)
            .with_path(path)?;
        if n == 0 {
            break;
        }
        let starts = at_line_start;
        at_line_start = line.ends_with(b"\n");
        if starts && line.starts_with(b"From ") {
            if let Some((n, bytes)) = current.take() {
                each(Message {
                    origin: origin(n),
                    bytes,
                })?;
            }
            count += 1;
            current = Some((count, Some(Vec::new())));
            continue;
        }
        let Some((_, Some(bytes))) = &mut current else {
            continue;
        };
        // mboxrd: `>From `, `>>From ` ... lose one `>`.
        let quoted = starts
            && line.first() == Some(&b'>')
            && line
                .iter()
                .position(|b| *b != b'>')
                .is_some_and(|i| line[i..].starts_with(b"From "));
        bytes.extend_from_slice(if quoted { &line[1..] } else { &line });
        if bytes.len() > MAX_MESSAGE {
            current = current.map(|(n, _)| (n, None));
        }
    }
    if let Some((n, bytes)) = current {
        each(Message {
            origin: origin(n),
            bytes,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(path: &Path) -> Vec<(String, Option<Vec<u8>>)> {
        let mut out = Vec::new();
        read(path, &mut |m| {
            out.push((m.origin, m.bytes));
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn an_mbox_is_split_at_its_from_lines_and_unquoted() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("box");
        std::fs::write(
            &p,
            "From a@b Mon Jan  1 00:00:00 2025\nSubject: one\n\n>From here\n>>From there\n\nFrom b@c Mon Jan  1 00:00:00 2025\nSubject: two\n\nbody",
        )
        .unwrap();
        let got = all(&p);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].1.as_deref(),
            Some(&b"Subject: one\n\nFrom here\n>From there\n\n"[..])
        );
        assert!(got[1].0.ends_with("box, message 2"), "{}", got[1].0);
        assert_eq!(got[1].1.as_deref(), Some(&b"Subject: two\n\nbody"[..]));
    }

    #[test]
    fn a_maildir_is_read_new_then_cur_and_a_plain_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let md = dir.path().join("Maildir");
        for sub in ["new", "cur", "tmp"] {
            std::fs::create_dir_all(md.join(sub)).unwrap();
        }
        std::fs::write(md.join("cur/1.x:2,S"), "Subject: old\n\n").unwrap();
        std::fs::write(md.join("new/2.y"), "Subject: new\n\n").unwrap();
        std::fs::write(md.join("tmp/3.z"), "Subject: half written\n\n").unwrap();
        std::fs::write(md.join("new/.hidden"), "x").unwrap();
        let got: Vec<Vec<u8>> = all(&md).into_iter().map(|(_, b)| b.unwrap()).collect();
        assert_eq!(
            got,
            [b"Subject: new\n\n".to_vec(), b"Subject: old\n\n".to_vec()]
        );
        let err = read(dir.path(), &mut |_| Ok(())).unwrap_err().to_string();
        assert!(err.contains("no Maildir"), "{err}");
        let err = read(&dir.path().join("missing"), &mut |_| Ok(()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing"), "{err}");
    }

    #[test]
    fn one_message_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("one.eml");
        std::fs::write(&p, b"Subject: x\r\n\r\n\xff\xfe").unwrap();
        assert_eq!(
            all(&p)[0].1.as_deref(),
            Some(&b"Subject: x\r\n\r\n\xff\xfe"[..])
        );
        std::fs::write(&p, b"").unwrap();
        assert_eq!(all(&p)[0].1.as_deref(), Some(&b""[..]));
    }
}

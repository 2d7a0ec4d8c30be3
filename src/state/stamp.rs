//! The build stamp: what the last build saw (a digest of every input file's size, mtime and
//! inode, of the config and templates, and of every output file), and when its result stops
//! being valid (the next scheduled post). When nothing changed and no post became due, a cron
//! run can skip loading, rendering and planning entirely.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::write;

pub const FILE: &str = "build.stamp";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// Digest of herald's version, the config, the templates and every post file's metadata.
    pub inputs: String,
    /// Digest of the metadata of every feed file written.
    pub outputs: String,
    /// The `--now` of the build (a run with an earlier clock must rebuild).
    pub built_at: i64,
    /// When the next scheduled post becomes due; the stamp is stale from then on.
    pub next_due: Option<i64>,
    pub posts: usize,
    pub tags: usize,
    pub files: usize,
    /// Set by `publish` once every mailable post has its recipients fixed.
    pub planned: bool,
}

impl Stamp {
    /// Whether this stamp still describes the site at `now`, given the digest of its inputs
    /// and, asked for only when all else holds, of its outputs.
    pub fn fresh(
        &self,
        inputs: &str,
        now: i64,
        outputs: impl FnOnce() -> Result<String>,
    ) -> Result<bool> {
        if self.inputs != inputs || now < self.built_at || self.next_due.is_some_and(|d| now >= d) {
            return Ok(false);
        }
        Ok(outputs()? == self.outputs)
    }
}

pub fn read(state_dir: &Path) -> Option<Stamp> {
    let bytes = std::fs::read(state_dir.join(FILE)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn save(state_dir: &Path, stamp: &Stamp) -> Result<()> {
    let bytes = serde_json::to_vec(stamp).map_err(|e| Error::msg(format!("build stamp: {e}")))?;
    write::write_atomic(&state_dir.join(FILE), &bytes, 0o644)
}

pub fn remove(state_dir: &Path) {
    let _ = std::fs::remove_file(state_dir.join(FILE));
}

/// Digest of files' metadata (path, size, mtime in ns, inode); a missing file counts too.
/// The `stat` calls run in parallel: on a cron run they are most of the work.
pub fn digest_files<P: AsRef<Path> + Sync>(extra: &[&[u8]], files: &[P]) -> String {
    use rayon::prelude::*;
    let stamps: Vec<Option<(u64, u128, u64)>> = files
        .par_iter()
        .map(|f| {
            let m = std::fs::metadata(f.as_ref()).ok()?;
            let mtime = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            #[cfg(unix)]
            let ino = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let ino = 0;
            Some((m.len(), mtime, ino))
        })
        .collect();
    let mut h = Sha256::new();
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    for e in extra {
        h.update((e.len() as u64).to_le_bytes());
        h.update(e);
    }
    for (f, stamp) in files.iter().zip(stamps) {
        h.update(f.as_ref().as_os_str().as_encoded_bytes());
        h.update([0]);
        match stamp {
            Some((len, mtime, ino)) => {
                h.update(len.to_le_bytes());
                h.update(mtime.to_le_bytes());
                h.update(ino.to_le_bytes());
            }
            None => h.update(b"missing"),
        }
    }
    format!("{:x}", h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            inputs: "in".into(),
            outputs: "out".into(),
            built_at: 100,
            next_due: Some(200),
            posts: 1,
            tags: 1,
            files: 3,
            planned: true,
        }
    }

    fn fresh(s: &Stamp, inputs: &str, now: i64, outputs: &str) -> bool {
        s.fresh(inputs, now, || Ok(outputs.to_string())).unwrap()
    }

    #[test]
    fn a_stamp_is_fresh_only_for_the_same_files_between_its_build_and_the_next_due_post() {
        let s = stamp();
        assert!(fresh(&s, "in", 100, "out"));
        assert!(fresh(&s, "in", 199, "out"));
        assert!(!fresh(&s, "changed", 150, "out"), "an input changed");
        assert!(!fresh(&s, "in", 150, "changed"), "an output changed");
        assert!(!fresh(&s, "in", 99, "out"), "a clock before the build");
        assert!(!fresh(&s, "in", 200, "out"), "a scheduled post became due");
        let none_due = Stamp {
            next_due: None,
            ..stamp()
        };
        assert!(fresh(&none_due, "in", i64::MAX, "out"));
    }

    #[test]
    fn outputs_are_not_looked_at_when_the_inputs_already_differ() {
        let looked = std::cell::Cell::new(false);
        let fresh = stamp()
            .fresh("changed", 150, || {
                looked.set(true);
                Ok("out".into())
            })
            .unwrap();
        assert!(!fresh && !looked.get());
    }
}

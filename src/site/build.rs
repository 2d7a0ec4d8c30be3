//! Building the feeds: render every feed, then write them; on any error nothing is written.
//! The build stamp lets a run on an unchanged site skip all of it.

use std::collections::BTreeSet;
use std::path::Path;

use rayon::prelude::*;

use super::{Event, Phase, Progress, Site};
use crate::config::Config;
use crate::content::{self, Content};
use crate::error::Result;
use crate::feeds::{self, FeedFile};
use crate::newsletter::templates;
use crate::state::stamp::{self, Stamp};
use crate::write::{self, Written};

/// What a build did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BuildReport {
    /// The build stamp matched: no post was loaded and no file written; the counts are the
    /// last build's.
    pub up_to_date: bool,
    pub posts: usize,
    pub tags: usize,
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

/// The list of files herald wrote into `output_dir`, so that it deletes only its own files.
const MANIFEST: &str = "feeds.manifest";

impl Site<'_> {
    /// Writes the feeds, unless the build stamp says nothing changed since the last build.
    /// Reports [`Event::Unchanged`] or the content's warnings and the files written, then
    /// [`Event::Built`].
    pub fn build(&self, progress: &dyn Progress) -> Result<BuildReport> {
        let fresh = self.freshness()?;
        if let Some(stamp) = &fresh.stamp {
            return Ok(self.unchanged(stamp, progress));
        }
        let content = content::load_from(self.config, &fresh.sources)?;
        for w in &content.warnings {
            progress.event(Event::ContentWarning(w));
        }
        let report = self.write_feeds(&content, progress)?;
        self.save_stamp(&fresh, &content, &report, false)?;
        progress.event(Event::Built(&report));
        Ok(report)
    }

    /// What the last build's stamp says about this run.
    pub(super) fn freshness(&self) -> Result<Freshness> {
        let config = self.config;
        let sources = content::Sources::find(config)?;
        let inputs = inputs_digest(config, &sources);
        let stamp = match stamp::read(&config.state_dir) {
            Some(s) if s.fresh(&inputs, self.now.timestamp(), || outputs_digest(config))? => {
                Some(s)
            }
            _ => None,
        };
        Ok(Freshness {
            stamp,
            inputs,
            sources,
        })
    }

    /// The run found the site as the last build left it: says so, and reports that build's
    /// counts as this one's.
    pub(super) fn unchanged(&self, s: &Stamp, progress: &dyn Progress) -> BuildReport {
        progress.event(Event::Unchanged);
        let report = BuildReport {
            up_to_date: true,
            posts: s.posts,
            tags: s.tags,
            unchanged: s.files,
            ..Default::default()
        };
        progress.event(Event::Built(&report));
        report
    }

    /// Records what this build saw, so that an unchanged site is not loaded again.
    pub(super) fn save_stamp(
        &self,
        fresh: &Freshness,
        content: &Content,
        report: &BuildReport,
        planned: bool,
    ) -> Result<()> {
        let s = Stamp {
            inputs: fresh.inputs.clone(),
            outputs: outputs_digest(self.config)?,
            built_at: self.now.timestamp(),
            // The next post due or the next digest slot, whichever comes first.
            next_due: content
                .next_change(self.now)
                .map(|d| d.timestamp())
                .into_iter()
                .chain(
                    crate::newsletter::digests::next_change(self.config, self.now)
                        .map(|d| d.timestamp()),
                )
                .min(),
            posts: report.posts,
            tags: report.tags,
            files: report.written + report.unchanged,
            planned,
        };
        stamp::save(&self.config.state_dir, &s)
    }

    /// Renders all feeds (failing before any write), then writes the changed ones and removes
    /// tag feeds herald wrote earlier whose tag has no due post any more.
    pub(super) fn write_feeds(
        &self,
        content: &Content,
        progress: &dyn Progress,
    ) -> Result<BuildReport> {
        let (config, now) = (self.config, self.now);
        // From here on the outputs may change: a crash must not leave a stamp claiming otherwise.
        stamp::remove(&config.state_dir);
        let plan = feeds::plan(config, content, now);
        let files = feeds::render(config, &plan)?;
        let mut report = BuildReport {
            posts: content.published(now).len(),
            tags: plan.tags.len(),
            ..Default::default()
        };
        // Check every target path before writing the first file.
        let targets = feeds::targets(config, &plan, &files)?;
        let manifest_path = config.state_dir.join(MANIFEST);
        let old = read_manifest(&manifest_path)?;
        let new: BTreeSet<String> = files.iter().map(|f| f.path.clone()).collect();
        // Record the union first: a crash mid-build must not make herald forget a file it wrote.
        let union: BTreeSet<String> = old.union(&new).cloned().collect();
        if union != old {
            write_manifest(&manifest_path, &union)?;
        }
        progress.event(Event::Started {
            phase: Phase::Writing,
            len: files.len() as u64,
        });
        // Writing is mostly the file system's work (creating and renaming files): in parallel.
        let outcomes: Vec<Result<Written>> = files
            .par_iter()
            .zip(&targets)
            .map(|(FeedFile { bytes, .. }, target)| {
                let w = write::write_if_changed(target, bytes);
                progress.event(Event::Step);
                w
            })
            .collect();
        progress.event(Event::Finished(Phase::Writing));
        for (outcome, target) in outcomes.into_iter().zip(&targets) {
            match outcome? {
                Written::Written => {
                    report.written += 1;
                    progress.event(Event::Wrote(target));
                }
                Written::Unchanged => report.unchanged += 1,
            }
        }
        for stale in old.difference(&new) {
            let Ok(target) = write::confined(&config.output_dir, stale) else {
                continue;
            };
            match std::fs::remove_file(&target) {
                Ok(()) => report.removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(crate::error::Error::io(&target, e)),
            }
            remove_empty_parents(&config.output_dir, &target);
        }
        if union != new {
            write_manifest(&manifest_path, &new)?;
        }
        Ok(report)
    }
}

/// What the last build's stamp says about this run.
pub(super) struct Freshness {
    /// The last build's stamp, if nothing it depends on changed since and no post became due.
    pub stamp: Option<Stamp>,
    /// The digest of the inputs as they are now, before loading: a file edited while the
    /// build runs then makes the next run build again.
    inputs: String,
    /// The post files digested into `inputs`: loading them needs no second walk.
    pub sources: content::Sources,
}

fn inputs_digest(config: &Config, sources: &content::Sources) -> String {
    // The config as loaded: what this run was built from (no second read).
    let config_bytes = config.source().as_bytes();
    let templates: Vec<_> = templates::DEFAULTS
        .iter()
        .map(|(name, _)| config.templates_dir.join(name))
        .collect();
    let files: Vec<&Path> = sources
        .paths()
        .chain(templates.iter().map(|p| p.as_path()))
        .collect();
    let root = config.root.as_os_str().as_encoded_bytes();
    stamp::digest_files(&[config_bytes, root], &files)
}

fn outputs_digest(config: &Config) -> Result<String> {
    let written = read_manifest(&config.state_dir.join(MANIFEST))?;
    let files: Vec<_> = written.iter().map(|f| config.output_dir.join(f)).collect();
    Ok(stamp::digest_files(&[], &files))
}

fn read_manifest(path: &Path) -> Result<BTreeSet<String>> {
    match std::fs::read_to_string(path) {
        Ok(s) => Ok(s
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(crate::error::Error::io(path, e)),
    }
}

fn write_manifest(path: &Path, files: &BTreeSet<String>) -> Result<()> {
    let mut text = String::new();
    for f in files {
        text.push_str(f);
        text.push('\n');
    }
    write::write_atomic(path, text.as_bytes(), 0o644)
}

/// Removes now-empty folders between `target` and `root` (a tag folder emptied by a removal).
fn remove_empty_parents(root: &Path, target: &Path) {
    let mut dir = target.parent();
    while let Some(d) = dir {
        if d == root || !d.starts_with(root) {
            break;
        }
        if std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

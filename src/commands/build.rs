//! `herald build`: render every feed, then write them; on any error nothing is written.

use std::collections::BTreeSet;
use std::path::Path;

use rayon::prelude::*;

use super::Ctx;
use crate::config::Config;
use crate::content::{self, Content};
use crate::error::{ExitStatus, Result};
use crate::feeds::{self, FeedFile};
use crate::newsletter::templates;
use crate::state::stamp::{self, Stamp};
use crate::write::{self, Written};

/// What a build did.
#[derive(Debug, Default)]
pub struct BuildReport {
    pub posts: usize,
    pub tags: usize,
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

/// The list of files herald wrote into `output_dir`, so that it deletes only its own files.
const MANIFEST: &str = "feeds.manifest";

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let fresh = freshness(ctx, &config)?;
    if let Some(stamp) = &fresh.stamp {
        ctx.ui.detail(UNCHANGED);
        print_report(ctx, &report_of(stamp))?;
        return Ok(ExitStatus::Success);
    }
    let content = content::load_from(&config, &fresh.sources)?;
    for w in &content.warnings {
        ctx.ui.detail(format!("warning: {w}"));
    }
    let report = build_feeds(ctx, &config, &content)?;
    save_stamp(ctx, &config, &fresh, &content, &report, false)?;
    print_report(ctx, &report)?;
    Ok(ExitStatus::Success)
}

/// The `-v` line of a run that found nothing changed since the last build.
pub(super) const UNCHANGED: &str = "nothing changed since the last build: no post loaded";

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

pub(super) fn freshness(ctx: &Ctx, config: &Config) -> Result<Freshness> {
    let sources = content::Sources::find(config)?;
    let inputs = inputs_digest(config, &sources);
    let stamp = match stamp::read(&config.state_dir) {
        Some(s) if s.fresh(&inputs, ctx.now.timestamp(), || outputs_digest(config))? => Some(s),
        _ => None,
    };
    Ok(Freshness {
        stamp,
        inputs,
        sources,
    })
}

pub(super) fn report_of(s: &Stamp) -> BuildReport {
    BuildReport {
        posts: s.posts,
        tags: s.tags,
        unchanged: s.files,
        ..Default::default()
    }
}

/// Records what this build saw, so that an unchanged site is not loaded again.
pub(super) fn save_stamp(
    ctx: &Ctx,
    config: &Config,
    fresh: &Freshness,
    content: &Content,
    report: &BuildReport,
    planned: bool,
) -> Result<()> {
    let s = Stamp {
        inputs: fresh.inputs.clone(),
        outputs: outputs_digest(config)?,
        built_at: ctx.now.timestamp(),
        next_due: content.next_change(ctx.now).map(|d| d.timestamp()),
        posts: report.posts,
        tags: report.tags,
        files: report.written + report.unchanged,
        planned,
    };
    stamp::save(&config.state_dir, &s)
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

pub(super) fn print_report(ctx: &Ctx, r: &BuildReport) -> Result<()> {
    ctx.ui.out(format!(
        "built {} posts, {} tags: {} files written, {} unchanged{}",
        r.posts,
        r.tags,
        r.written,
        r.unchanged,
        if r.removed > 0 {
            format!(", {} removed", r.removed)
        } else {
            String::new()
        }
    ))
}

/// Renders all feeds (failing before any write), then writes the changed ones and removes
/// tag feeds herald wrote earlier whose tag has no due post any more.
pub fn build_feeds(ctx: &Ctx, config: &Config, content: &Content) -> Result<BuildReport> {
    // From here on the outputs may change: a crash must not leave a stamp claiming otherwise.
    stamp::remove(&config.state_dir);
    let plan = feeds::plan(config, content, ctx.now);
    let files = feeds::render(config, &plan)?;
    let mut report = BuildReport {
        posts: content.published(ctx.now).len(),
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
    let bar = ctx.ui.progress(files.len() as u64, "writing");
    // Writing is mostly the file system's work (creating and renaming files): in parallel.
    let outcomes: Vec<Result<Written>> = files
        .par_iter()
        .zip(&targets)
        .map(|(FeedFile { bytes, .. }, target)| {
            let w = write::write_if_changed(target, bytes);
            bar.inc(1);
            w
        })
        .collect();
    bar.finish_and_clear();
    for (outcome, target) in outcomes.into_iter().zip(&targets) {
        match outcome? {
            Written::Written => {
                report.written += 1;
                ctx.ui
                    .detail(format!("wrote {}", config.display(target).display()));
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

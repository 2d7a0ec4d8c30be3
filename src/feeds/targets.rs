//! Where each feed file goes, checked before the first one is written: inside `output_dir`,
//! and within the platform's limits on names and paths (README "Subscribing to a tag").

use std::path::PathBuf;

use super::{FeedFile, Plan};
use crate::config::Config;
use crate::error::{Diagnostic, Error, Location, Result, cut};
use crate::write;

/// The path of each of `files` under `output_dir`, in order. A path that cannot be written is
/// an error with its cause's place: the post and the line of its tag when the tag's folder
/// makes the path too long, else the config's `output_dir` line. One problem per place.
pub fn targets(config: &Config, plan: &Plan, files: &[FeedFile]) -> Result<Vec<PathBuf>> {
    let mut problems: Vec<Diagnostic> = Vec::new();
    let mut targets = Vec::with_capacity(files.len());
    for f in files {
        let target = write::confined(&config.output_dir, &f.path)?;
        if let Some(why) = write::unwritable(&target) {
            let location = cause(config, plan, &f.path);
            if !problems
                .iter()
                .any(|p| p.location.as_ref() == Some(&location))
            {
                let shown = config.display(&target);
                problems.push(Diagnostic::at(
                    location,
                    format!("cannot write {}: {why}", cut(&shown.to_string_lossy())),
                ));
            }
        }
        targets.push(target);
    }
    if problems.is_empty() {
        Ok(targets)
    } else {
        Err(Error::Invalid(problems))
    }
}

/// Where the problem with the feed file `path` (relative to `output_dir`) comes from: a tag
/// when the same file right in `output_dir` could be written, else `output_dir` itself.
fn cause(config: &Config, plan: &Plan, path: &str) -> Location {
    let name = path.rsplit('/').next().unwrap_or(path);
    let slug = path
        .strip_prefix("tags/")
        .and_then(|rest| rest.split_once('/'))
        .map(|(slug, _)| slug);
    if let Some(slug) = slug
        && write::unwritable(&config.output_dir.join(name)).is_none()
        && let Some(post) = plan.tags.get(slug).and_then(|(_, posts)| posts.first())
        && let Some(tag) = post.tags.iter().find(|t| t.slug == slug)
    {
        return Location::line(&post.source, tag.line);
    }
    config.location(&["output_dir"])
}

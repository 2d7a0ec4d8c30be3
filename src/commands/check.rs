//! `herald check`: load, plan and render everything, report every problem, write nothing.

use super::Ctx;
use crate::content;
use crate::error::{Error, ExitStatus, Result};
use crate::feeds;

pub fn run(ctx: &Ctx) -> Result<ExitStatus> {
    // A config that does not parse stops the run: nothing else can be checked without it.
    let config = ctx.config()?;
    let mut problems = Vec::new();
    let content = match content::load(&config) {
        Ok(c) => Some(c),
        Err(Error::Invalid(d)) => {
            problems.extend(d);
            None
        }
        Err(e) => return Err(e),
    };
    if let Some(content) = &content {
        for w in &content.warnings {
            ctx.ui.warn(w.to_string());
        }
        let plan = feeds::plan(&config, content, ctx.now);
        let files = feeds::render(&config, &plan)?;
        match feeds::targets(&config, &plan, &files) {
            Ok(_) => {}
            Err(Error::Invalid(d)) => problems.extend(d),
            Err(e) => return Err(e),
        }
    }
    for (key, dir) in private_dirs(&config) {
        if content::source::is_published(&config, &dir) {
            ctx.ui.warn(format!(
                "{}: `{key}` ({}) is inside what {} publishes: move it to a dot-folder such as .herald/",
                config.shown_file().display(),
                config.display(&dir).display(),
                config.site.generator.name()
            ));
        }
    }
    if let Some(n) = &config.newsletter
        && let Some(d) = &n.dkim
        && let Some(w) = crate::dkim::alignment_warning(&d.domain, &n.from.email)
    {
        ctx.ui.warn(format!(
            "{}: {w}",
            config.location(&["newsletter", "dkim", "domain"])
        ));
    }
    problems.extend(crate::newsletter::check(&config));
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    if let Some(content) = &content {
        ctx.ui.out(format!(
            "ok: {} posts published, {} scheduled, {} drafts",
            content.published(ctx.now).len(),
            content.scheduled(ctx.now).len(),
            content.posts.iter().filter(|p| p.draft).count()
        ))?;
    }
    Ok(ExitStatus::Success)
}

/// The folders that hold what must never be published: state (database, secret key) and the
/// outbox (addresses).
fn private_dirs(config: &crate::config::Config) -> Vec<(&'static str, std::path::PathBuf)> {
    let mut dirs = vec![("state_dir", config.state_dir.clone())];
    if let Some(n) = &config.newsletter {
        dirs.push(("newsletter.outbox_dir", n.outbox_dir.clone()));
    }
    dirs
}

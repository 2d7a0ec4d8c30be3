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
        feeds::render(&config, &feeds::plan(&config, content, ctx.now))?;
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
        ));
    }
    Ok(ExitStatus::Success)
}

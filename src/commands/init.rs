//! `herald init DIR`: a new working site with a config, one post, the templates and one list.
//! `herald init --from DIR`: `DIR/herald.yaml` for an existing Hugo, Jekyll, Zola or Eleventy
//! blog, and nothing else written.

use std::io::Write;
use std::path::Path;

use super::Ctx;
use crate::cli::InitArgs;
use crate::content::source::detect;
use crate::error::{Error, ExitStatus, IoContext, Result};
use crate::newsletter::templates;

pub fn run(ctx: &Ctx, args: &InitArgs) -> Result<ExitStatus> {
    match (&args.dir, &args.from) {
        (_, Some(blog)) => from_blog(ctx, blog),
        (Some(dir), None) => new_site(ctx, dir),
        (None, None) => Err(Error::msg("herald init needs DIR, or --from DIR")),
    }
}

/// `herald init --from DIR`: reads the blog's config, writes `DIR/herald.yaml` (never over an
/// existing one), prints the warnings, the `.gitignore` lines and the next steps.
fn from_blog(ctx: &Ctx, dir: &Path) -> Result<ExitStatus> {
    let target = dir.join("herald.yaml");
    if target.symlink_metadata().is_ok() {
        return Err(Error::msg(format!(
            "{} already exists: herald init --from never overwrites it (edit it, or move it \
             away and run init again)",
            target.display()
        )));
    }
    let detected = detect::detect(dir)?;
    let text = detect::herald_yaml(&detected);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .with_path(&target)?;
    file.write_all(text.as_bytes()).with_path(&target)?;
    file.sync_all().with_path(&target)?;
    ctx.ui.out(format!(
        "wrote {}: herald reads this {} blog as it is (read {})",
        target.display(),
        detected.generator.name(),
        detected.config_files.join(", ")
    ))?;
    for warning in &detected.warnings {
        ctx.ui.warn(warning);
    }
    for line in detect::advice(&detected) {
        ctx.ui.out(line)?;
    }
    Ok(ExitStatus::Success)
}

fn new_site(ctx: &Ctx, dir: &Path) -> Result<ExitStatus> {
    if let Ok(mut entries) = std::fs::read_dir(dir)
        && entries.next().is_some()
    {
        return Err(Error::msg(format!(
            "{} is not empty: init only creates a new site in an empty or new folder",
            dir.display()
        )));
    }
    let today = ctx.now.format("%Y-%m-%d").to_string();
    let config = format!(
        "site:\n  title: My Blog\n  base_url: https://example.com/\n  description: Notes and news\n  \
         language: en\n  timezone: UTC\n  author: {{ name: My Blog }}\n\
         feeds:\n  formats: [rss, atom, json]\n  limit: 20\n\
         newsletter:\n  start: {today}\n  from: {{ name: My Blog, email: newsletter@example.com }}\n  \
         transport: outbox\n  lists:\n    - id: all\n      name: Everything\n      tags: [\"*\"]\n      \
         subscribers: config/subscribers/all.csv\n"
    );
    let post = format!(
        "---\ntitle: Hello, world\ndate: {today}\ntags: [news]\n---\n\nThis is the first post of \
         the new site. Edit it in `content/posts/`, then run `herald build`.\n"
    );
    let mut files: Vec<(String, String)> = vec![
        ("config/herald.yaml".into(), config),
        ("config/subscribers/all.csv".into(), "email,name\n".into()),
        (format!("content/posts/{today}-hello-world.md"), post),
        (".gitignore".into(), "/public/\n/outbox/\n/state/\n".into()),
    ];
    for (name, text) in templates::DEFAULTS {
        files.push((format!("templates/{name}"), text.to_string()));
    }
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_path(parent)?;
        }
        std::fs::write(&path, text).with_path(&path)?;
    }
    ctx.ui.out(format!(
        "created a new site in {}: run `herald --site {} build`",
        dir.display(),
        dir.display()
    ))?;
    Ok(ExitStatus::Success)
}

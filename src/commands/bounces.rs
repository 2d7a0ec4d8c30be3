//! `herald bounces fetch` (the IMAP mailbox, once) and `herald bounces import PATH…` (files):
//! returned mail read into the state, one line per message with -v (and one per message left
//! alone), then a summary.

use super::Ctx;
use crate::bounces::{self, Read, Reader, Summary, files, imap};
use crate::cli::BouncesCommand;
use crate::error::{Error, ExitStatus, Result};
use crate::state::{Db, PublishLock};

pub fn run(ctx: &Ctx, cmd: BouncesCommand) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let n = bounces::newsletter(&config)?;
    let now = ctx.now.timestamp();
    match cmd {
        BouncesCommand::Fetch => {
            let Some(settings) = &n.imap else {
                return Err(Error::msg(format!(
                    "{}: no `newsletter.bounces.imap`, so there is no mailbox to fetch from \
                     (`herald bounces import` reads files)",
                    config.shown_file().display()
                )));
            };
            // One reader of the mailbox at a time: `publish` reads it too.
            let _lock = PublishLock::acquire(
                &config.state_dir,
                &config.display(&config.state_dir.join(crate::state::lock::FILE)),
            )?;
            let db = Db::open(&config.state_dir)?;
            let reader = Reader::new(&config, n, &db, now)?;
            let fetched = imap::fetch(settings, &reader, &db, &mut |r| show(ctx, None, r))?;
            let disposed = match settings.processed {
                crate::config::Processed::Move(ref to) => format!("moved to {to}"),
                crate::config::Processed::Delete => "deleted".into(),
            };
            ctx.ui.out(format!(
                "bounces: {}; {} {disposed}, {} left in {}",
                fetched.summary.line(),
                fetched.processed,
                fetched.left,
                settings.folder
            ))?;
        }
        BouncesCommand::Import { paths } => {
            let db = Db::open(&config.state_dir)?;
            let reader = Reader::new(&config, n, &db, now)?;
            let mut summary = Summary::default();
            for path in &paths {
                files::read(path, &mut |m| {
                    let r = match &m.bytes {
                        Some(bytes) => reader.read(bytes)?,
                        None => reader.unreadable(
                            &format!("file:{}", m.origin),
                            &format!("larger than {} MiB", bounces::MAX_MESSAGE >> 20),
                        )?,
                    };
                    summary.add(&r);
                    show(ctx, Some(&m.origin), &r);
                    Ok(())
                })?;
            }
            ctx.ui.out(format!("bounces: {}", summary.line()))?;
        }
    }
    Ok(ExitStatus::Success)
}

/// One message's line: shown with -v, and whenever a message is left alone for a person to
/// look at.
fn show(ctx: &Ctx, origin: Option<&str>, r: &Read) {
    let line = match origin {
        Some(o) => format!("{o}: {}", r.describe()),
        None => r.describe(),
    };
    if r.processed() || r.again {
        ctx.ui.detail(line);
    } else {
        ctx.ui.log(line);
    }
}

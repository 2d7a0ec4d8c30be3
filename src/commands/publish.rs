//! `herald publish [--dry-run]` and `herald preview`: [`Site::publish`], [`Site::dry_run`] and
//! [`Site::preview`], their events and reports printed, and the exit status.

use super::show::{self, Printer};
use super::{Ctx, unless_closed};
use crate::error::{ExitStatus, Result, cut};
use crate::site::{Mailing, Preview, Site};

pub fn run(ctx: &Ctx, dry_run: bool, send_late: &[String]) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let site = Site::new(&config, ctx.now);
    let printer = Printer::new(ctx.ui, &config);
    if dry_run {
        return dry(ctx, &site, &printer);
    }
    let report = site.publish(send_late, &printer)?;
    // A reader that went away stops nothing here: the mail is sent and the run recorded.
    unless_closed(printer.printed())?;
    let outcome = match report.mailing {
        Mailing::NoNewsletter => return Ok(ExitStatus::Success),
        Mailing::NothingToSend => {
            ctx.ui.detail("nothing to send");
            return Ok(ExitStatus::Success);
        }
        Mailing::Delivered(outcome) => outcome,
    };
    let summary = format!(
        "mail: {} sent, {} deferred, {} failed{}{}",
        outcome.sent,
        outcome.deferred,
        outcome.failed,
        if outcome.bounced > 0 {
            format!(" ({} bounced)", outcome.bounced)
        } else {
            String::new()
        },
        if outcome.cancelled > 0 {
            format!(", {} cancelled", outcome.cancelled)
        } else {
            String::new()
        },
    );
    printer.unnamed_problems();
    unless_closed(ctx.ui.out(&summary))?;
    if outcome.deferred > 0 {
        ctx.ui.warn(format!(
            "{} deliveries remain deferred; the next run retries them",
            outcome.deferred
        ));
        return Ok(ExitStatus::TempFail);
    }
    Ok(ExitStatus::Success)
}

/// `--dry-run`: the feed lines come as an event (before the CSVs are merged), the mail plan
/// with the report.
fn dry(ctx: &Ctx, site: &Site, printer: &Printer) -> Result<ExitStatus> {
    let dry = site.dry_run(printer)?;
    printer.printed()?;
    let Some(plan) = dry.mail else {
        return Ok(ExitStatus::Success);
    };
    for m in &plan.posts {
        ctx.ui.out(format!(
            "would mail {} (\"{}\") to {} addresses via lists {}",
            cut(&m.slug),
            cut(&m.subject),
            m.recipients,
            m.lists.join(", ")
        ))?;
    }
    for d in &plan.digests {
        let name = show::digest_name(site.config, &d.digest);
        ctx.ui.out(match d.digest.posts.len() {
            0 => format!("{name}: no new post, no mail"),
            n => format!(
                "would mail the {name} (\"{}\", {}) to {} addresses",
                cut(&d.subject),
                show::posts(n),
                d.digest.recipients
            ),
        })?;
    }
    for l in &plan.late {
        ctx.ui.out(format!(
            "would not mail {}: it became mailable {} after it was due (newsletter.max_lateness)",
            cut(&l.slug),
            crate::dates::span(l.late_by)
        ))?;
    }
    ctx.ui.out(format!(
        "would send {} messages in all through the {} transport",
        plan.messages, plan.transport
    ))?;
    Ok(ExitStatus::Success)
}

/// `herald preview SLUG [--list ID] [--to ADDR]`.
pub fn preview(ctx: &Ctx, slug: &str, list: Option<&str>, to: Option<&str>) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let preview = Site::new(&config, ctx.now).preview(slug, list, to)?;
    show_preview(ctx, &config, slug, to, preview)
}

/// `herald preview --digest LIST [--to ADDR]`.
pub fn preview_digest(ctx: &Ctx, list: &str, to: Option<&str>) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let preview = Site::new(&config, ctx.now).preview_digest(list, to)?;
    show_preview(
        ctx,
        &config,
        &format!("the next digest of {list}"),
        to,
        preview,
    )
}

fn show_preview(
    ctx: &Ctx,
    config: &crate::config::Config,
    what: &str,
    to: Option<&str>,
    preview: Preview,
) -> Result<ExitStatus> {
    match preview {
        Preview::Sent { reply } => {
            let address = to.unwrap_or_default();
            ctx.ui
                .out(format!("sent a test mail of {what} to {address}: {reply}"))?;
        }
        Preview::Written { eml, html } => ctx.ui.out(format!(
            "wrote {} and {}",
            config.display(&eml).display(),
            config.display(&html).display()
        ))?,
    }
    Ok(ExitStatus::Success)
}

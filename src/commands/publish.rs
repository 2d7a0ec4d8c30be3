//! `herald publish [--dry-run]` and `herald preview`: [`Site::publish`], [`Site::dry_run`] and
//! [`Site::preview`], their events and reports printed, and the exit status.

use super::Ctx;
use super::show::{MAX_LOGGED, Printer};
use crate::config::TransportKind;
use crate::error::{ExitStatus, Result};
use crate::site::{Mailing, Preview, Site};

pub fn run(ctx: &Ctx, dry_run: bool) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let site = Site::new(&config, ctx.now);
    let printer = Printer::new(ctx.ui, &config);
    if dry_run {
        return dry(ctx, &site, &printer);
    }
    let report = site.publish(&printer)?;
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
    let problems = printer.problems();
    if problems > MAX_LOGGED && !ctx.ui.verbose {
        ctx.ui.warn(format!(
            "… and {} more not sent; `herald status` lists them",
            problems - MAX_LOGGED
        ));
    }
    ctx.ui.out(&summary);
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
    let Some(plan) = site.dry_run(printer)?.mail else {
        return Ok(ExitStatus::Success);
    };
    for m in &plan.posts {
        ctx.ui.out(format!(
            "would mail {} (\"{}\") to {} addresses via lists {}",
            m.slug,
            m.subject,
            m.recipients,
            m.lists.join(", ")
        ));
    }
    ctx.ui.out(format!(
        "would send {} messages in all through the {} transport",
        plan.messages,
        match plan.transport {
            TransportKind::Outbox => "outbox",
            TransportKind::Smtp => "smtp",
        }
    ));
    Ok(ExitStatus::Success)
}

/// `herald preview SLUG [--list ID] [--to ADDR]`.
pub fn preview(ctx: &Ctx, slug: &str, list: Option<&str>, to: Option<&str>) -> Result<ExitStatus> {
    let config = ctx.config()?;
    match Site::new(&config, ctx.now).preview(slug, list, to)? {
        Preview::Sent { reply } => {
            let address = to.unwrap_or_default();
            ctx.ui
                .out(format!("sent a test mail of {slug} to {address}: {reply}"));
        }
        Preview::Written { eml, html } => ctx.ui.out(format!(
            "wrote {} and {}",
            config.display(&eml).display(),
            config.display(&html).display()
        )),
    }
    Ok(ExitStatus::Success)
}

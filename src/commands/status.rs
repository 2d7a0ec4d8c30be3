//! `herald status [--json]`: what is scheduled, what the last run did, what is still pending,
//! deferred or failed, how big each list is, and what came back (bounces and complaints per
//! list, the complaint rate of the last 30 days, messages attributed to nobody). Reads only.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Ctx, print};
use crate::bounces::plural;
use crate::content;
use crate::error::{ExitStatus, Result};
use crate::newsletter::digests;
use crate::state::digests::Skipped;
use crate::state::journal::{Problem, Run};
use crate::state::{Db, DeliveryStatus};

#[derive(Serialize)]
struct Status {
    now: String,
    scheduled: Vec<Scheduled>,
    last_run: Option<RunView>,
    deliveries: Deliveries,
    problems: Vec<Problem>,
    /// Posts not mailed because they became mailable too late.
    skipped: Vec<Skipped>,
    digests: Vec<DigestView>,
    lists: Vec<ListSize>,
    /// Returned mail: bounces, complaints and what could not be attributed.
    bounces: Bounces,
}

/// Returned mail, as `herald bounces` and `publish` recorded it: each report once.
#[derive(Serialize, Default)]
struct Bounces {
    hard: i64,
    soft: i64,
    complaints: i64,
    /// Auto-replies, delay warnings and reports of no consequence.
    ignored: i64,
    /// Messages attributed to nobody: left alone, changed nothing.
    unattributable: i64,
    last_30_days: Window,
}

/// The last 30 days of returned mail, and of mail sent.
#[derive(Serialize, Default)]
struct Window {
    /// Messages that went out.
    sent: i64,
    hard: i64,
    soft: i64,
    complaints: i64,
    /// Complaints per message sent (`null` when nothing was sent).
    complaint_rate: Option<f64>,
}

/// A digest list's next mail.
#[derive(Serialize)]
struct DigestView {
    list: String,
    schedule: String,
    /// When its next digest is fixed, in the site's time zone (RFC 3339).
    next_slot: String,
    /// Slugs of the posts waiting for it, oldest first.
    waiting: Vec<String>,
}

#[derive(Serialize)]
struct Scheduled {
    slug: String,
    title: String,
    due: String,
}

#[derive(Serialize)]
struct RunView {
    started_at: String,
    finished_at: Option<String>,
    sent: i64,
    deferred: i64,
    failed: i64,
    outcome: Option<String>,
}

#[derive(Serialize, Default)]
struct Deliveries {
    pending: i64,
    sent: i64,
    deferred: i64,
    failed: i64,
    cancelled: i64,
}

#[derive(Serialize)]
struct ListSize {
    id: String,
    name: String,
    active: i64,
    /// Members whose address bounced.
    bounced: i64,
    /// Members who reported mail as spam.
    complained: i64,
}

fn time(ts: i64) -> String {
    DateTime::<Utc>::from_timestamp(ts, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default()
}

pub fn run(ctx: &Ctx, json: bool) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let content = content::load(&config)?;
    let scheduled = content
        .scheduled(ctx.now)
        .iter()
        .map(|p| Scheduled {
            slug: p.slug.clone(),
            title: p.title.clone(),
            due: p.due().to_rfc3339(),
        })
        .collect();
    let db_exists = config.state_dir.join(crate::state::Db::FILE).exists();
    let mut digest_views = Vec::new();
    let mut bounces = Bounces::default();
    let mut bounced_by_list = Default::default();
    let (last_run, deliveries, problems, sizes, skipped) = if db_exists {
        let db = Db::open(&config.state_dir)?;
        if let Some(n) = &config.newsletter {
            for list in n.lists.iter().filter(|l| l.digest.is_some()) {
                let last = db.last_digest_slot(&list.id)?;
                let digested = db.digested(&list.id)?;
                let (next, waiting) =
                    digests::next(&config, n, list, &content, ctx.now, last, &digested)
                        .unwrap_or_default();
                digest_views.push(DigestView {
                    list: list.id.clone(),
                    schedule: crate::newsletter::render::schedule(list),
                    next_slot: next.with_timezone(&config.site.timezone).to_rfc3339(),
                    waiting: waiting.iter().map(|p| p.slug.clone()).collect(),
                });
            }
        }
        let counts = db.journal_counts()?;
        let d = Deliveries {
            pending: counts.get(DeliveryStatus::Queued) + counts.get(DeliveryStatus::Sending),
            sent: counts.get(DeliveryStatus::Sent),
            deferred: counts.get(DeliveryStatus::Deferred),
            failed: counts.get(DeliveryStatus::Failed),
            cancelled: counts.get(DeliveryStatus::Cancelled),
        };
        let skipped = db.skipped()?;
        let r = db.returned_summary((ctx.now - chrono::TimeDelta::days(30)).timestamp())?;
        bounces = Bounces {
            hard: r.hard,
            soft: r.soft,
            complaints: r.complaints,
            ignored: r.ignored,
            unattributable: r.unattributable,
            last_30_days: Window {
                sent: r.recent_sent,
                hard: r.recent_hard,
                soft: r.recent_soft,
                complaints: r.recent_complaints,
                complaint_rate: (r.recent_sent > 0)
                    .then(|| r.recent_complaints as f64 / r.recent_sent as f64),
            },
        };
        bounced_by_list = db.bounced_by_list()?;
        (
            db.last_run()?,
            d,
            db.problems(50)?,
            db.list_sizes()?,
            skipped,
        )
    } else {
        (
            None,
            Deliveries::default(),
            Vec::new(),
            Default::default(),
            Vec::new(),
        )
    };
    let lists = config
        .newsletter
        .iter()
        .flat_map(|n| n.lists.iter())
        .map(|l| {
            let (bounced, complained) = bounced_by_list.get(&l.id).copied().unwrap_or((0, 0));
            ListSize {
                id: l.id.clone(),
                name: l.name.clone(),
                active: sizes.get(&l.id).copied().unwrap_or(0),
                bounced,
                complained,
            }
        })
        .collect();
    let status = Status {
        now: ctx.now.to_rfc3339(),
        scheduled,
        last_run: last_run.map(|r: Run| RunView {
            started_at: time(r.started_at),
            finished_at: r.finished_at.map(time),
            sent: r.sent,
            deferred: r.deferred,
            failed: r.failed,
            outcome: r.outcome,
        }),
        deliveries,
        problems,
        skipped,
        digests: digest_views,
        lists,
        bounces,
    };
    if json {
        let text = serde_json::to_string_pretty(&status).unwrap_or_default();
        print(format!("{text}\n"))?;
        return Ok(ExitStatus::Success);
    }
    print(human(&status))?;
    Ok(ExitStatus::Success)
}

/// `herald status` as people read it.
fn human(status: &Status) -> String {
    let mut out = String::new();
    let mut line = |text: String| {
        out.push_str(&text);
        out.push('\n');
    };
    line(format!("scheduled posts: {}", status.scheduled.len()));
    for s in &status.scheduled {
        line(format!("  {}  {} ({})", s.due, s.title, s.slug));
    }
    line(match &status.last_run {
        Some(r) => format!(
            "last run: {} ({}): {} sent, {} deferred, {} failed",
            r.started_at,
            r.outcome.as_deref().unwrap_or("did not finish"),
            r.sent,
            r.deferred,
            r.failed
        ),
        None => "last run: never".to_string(),
    });
    let d = &status.deliveries;
    line(format!(
        "deliveries: {} pending, {} sent, {} deferred, {} failed, {} cancelled",
        d.pending, d.sent, d.deferred, d.failed, d.cancelled
    ));
    for p in &status.problems {
        line(format!(
            "  {} {} -> {} after {} attempts: {}",
            p.status,
            p.post,
            p.email,
            p.attempts,
            p.reply.as_deref().unwrap_or("")
        ));
    }
    if !status.skipped.is_empty() {
        line(format!("skipped as late: {}", status.skipped.len()));
        for s in &status.skipped {
            line(format!(
                "  {}  {}: {}",
                time(s.skipped_at),
                s.slug,
                s.reason
            ));
        }
    }
    for d in &status.digests {
        line(format!(
            "digest {} ({}): next {}, {} waiting",
            d.list,
            d.schedule,
            d.next_slot,
            super::show::posts(d.waiting.len())
        ));
        for slug in &d.waiting {
            line(format!("  {slug}"));
        }
    }
    let b = &status.bounces;
    line(format!(
        "returned mail: {}, {}, {}, {} ignored, {} unattributable",
        plural(b.hard, "hard bounce"),
        plural(b.soft, "soft bounce"),
        plural(b.complaints, "complaint"),
        b.ignored,
        b.unattributable
    ));
    let w = &b.last_30_days;
    line(format!(
        "  last 30 days: {} sent, {}, {}, {} (complaint rate {})",
        w.sent,
        plural(w.hard, "hard bounce"),
        plural(w.soft, "soft bounce"),
        plural(w.complaints, "complaint"),
        match w.complaint_rate {
            Some(rate) => format!("{:.3}%", rate * 100.0),
            None => "n/a: nothing sent".into(),
        }
    ));
    line("lists:".to_string());
    for l in &status.lists {
        let mut text = format!("  {}  {} active", l.id, l.active);
        if l.bounced + l.complained > 0 {
            text.push_str(&format!(
                ", {} bounced, {} complained",
                l.bounced, l.complained
            ));
        }
        line(format!("{text}  ({})", l.name));
    }
    out
}

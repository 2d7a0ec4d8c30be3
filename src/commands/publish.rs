//! `herald publish [--dry-run]` and `herald preview`.
//!
//! publish: load everything and render every feed (an error stops the run before anything is
//! written), take the lock, write the feeds, merge the list CSVs, fix the recipients of each
//! newly mailable post, then send every open delivery through the journal.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use super::Ctx;
use super::build::{self, build_feeds, print_report};
use crate::config::{Config, Newsletter, TransportKind};
use crate::content::{self, Content, Post};
use crate::error::{Error, ExitStatus, Result};
use crate::feeds;
use crate::newsletter::deliver::{self, Event, Job};
use crate::newsletter::lists;
use crate::newsletter::render::{PostMailer, Recipient};
use crate::newsletter::templates::Templates;
use crate::state::{Db, DeliveryStatus, PublishLock, secret};
use crate::transport;

/// Problem deliveries named one by one in the log; the rest are counted.
const MAX_LOGGED: usize = 20;

pub fn run(ctx: &Ctx, dry_run: bool) -> Result<ExitStatus> {
    let config = ctx.config()?;
    if dry_run {
        let (content, templates) = load(&config, &content::Sources::find(&config)?)?;
        return dry(ctx, &config, &content, templates.as_ref());
    }
    let _lock = PublishLock::acquire(
        &config.state_dir,
        &config.display(&config.state_dir.join(crate::state::lock::FILE)),
    )?;
    // A cron run on an unchanged site: no post to load, no feed to render, no post to plan.
    let fresh = build::freshness(ctx, &config)?;
    let mut loaded = None;
    match fresh
        .stamp
        .as_ref()
        .filter(|s| s.planned || config.newsletter.is_none())
    {
        Some(stamp) => {
            ctx.ui.detail(build::UNCHANGED);
            print_report(ctx, &build::report_of(stamp));
        }
        None => {
            let (content, templates) = load(&config, &fresh.sources)?;
            let report = build_feeds(ctx, &config, &content)?;
            print_report(ctx, &report);
            loaded = Some((content, templates, report));
        }
    }
    let Some(n) = &config.newsletter else {
        if let Some((content, _, report)) = &loaded {
            build::save_stamp(ctx, &config, &fresh, content, report, true)?;
        }
        return Ok(ExitStatus::Success);
    };
    // Check the transport's settings (and the password variable) before touching the state.
    let transport = transport::from_config(&config)?;
    let db = Db::open(&config.state_dir)?;
    let now = ctx.now.timestamp();
    let run_id = db.start_run(now)?;
    merge_csvs(ctx, &config, n, &db)?;
    if let Some((content, _, report)) = &loaded {
        for (post, count) in plan_campaigns(n, content, &db, ctx)? {
            ctx.ui
                .log(format!("\"{}\": {count} recipients", post.title));
        }
        build::save_stamp(ctx, &config, &fresh, content, report, true)?;
    }
    let open_slugs = db.open_slugs()?;
    if open_slugs.is_empty() {
        db.finish_run(run_id, now, 0, 0, 0, "nothing to send")?;
        ctx.ui.detail("nothing to send");
        return Ok(ExitStatus::Success);
    }
    let (content, templates) = match loaded {
        Some((content, Some(templates), _)) => (content, templates),
        _ => (
            content::load_from(&config, &fresh.sources)?,
            Templates::load(&config)?,
        ),
    };
    let secret = secret::load_or_create(&config.state_dir)?;
    let mailers = mailers(&config, n, &templates, &content, &open_slugs, ctx)?;
    let bar = ctx.ui.progress(db.open_count()? as u64, "sending");
    let ui = ctx.ui;
    // Under cron every line is mailed to the owner: name the first few problems, count the rest.
    let logged = std::sync::atomic::AtomicUsize::new(0);
    let on_event = |e: Event| {
        bar.inc(1);
        if e.status == DeliveryStatus::Cancelled {
            ui.detail(format!(
                "{} for {}: {}",
                e.delivery.email, e.delivery.post_slug, e.reply
            ));
        } else if e.status != DeliveryStatus::Sent {
            // A problem: shown even with -q, so that cron mails it to the owner.
            if logged.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < MAX_LOGGED || ui.verbose
            {
                bar.suspend(|| {
                    ui.warn(format!(
                        "{} {} for {}: {}",
                        e.delivery.email, e.status, e.delivery.post_slug, e.reply
                    ))
                });
            }
        } else {
            ui.detail(format!(
                "sent {} to {}",
                e.delivery.post_slug, e.delivery.email
            ));
        }
    };
    let concurrency = match n.transport {
        TransportKind::Smtp => config.smtp.as_ref().map(|s| s.concurrency).unwrap_or(1),
        TransportKind::Outbox => 2,
    };
    let job = Job {
        config: &config,
        newsletter: n,
        transport: transport.as_ref(),
        mailers: &mailers,
        secret: &secret,
        now: ctx.now,
        concurrency,
        on_event: &on_event,
    };
    let result = deliver::deliver(&job, &db);
    bar.finish_and_clear();
    let outcome = match result {
        Ok(o) => o,
        Err(e) => {
            db.finish_run(run_id, now, 0, 0, 0, &format!("error: {e}"))?;
            return Err(e);
        }
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
    let problems = logged.into_inner();
    if problems > MAX_LOGGED && !ctx.ui.verbose {
        ctx.ui.warn(format!(
            "… and {} more not sent; `herald status` lists them",
            problems - MAX_LOGGED
        ));
    }
    ctx.ui.out(&summary);
    let status = if outcome.deferred > 0 {
        "deferred"
    } else {
        "ok"
    };
    db.finish_run(
        run_id,
        now,
        outcome.sent as i64,
        outcome.deferred as i64,
        outcome.failed as i64,
        status,
    )?;
    if outcome.deferred > 0 {
        ctx.ui.warn(format!(
            "{} deliveries remain deferred; the next run retries them",
            outcome.deferred
        ));
        return Ok(ExitStatus::TempFail);
    }
    Ok(ExitStatus::Success)
}

/// The posts, and the templates when there is a newsletter: everything checked before the
/// first write.
fn load(config: &Config, sources: &content::Sources) -> Result<(Content, Option<Templates>)> {
    let content = content::load_from(config, sources)?;
    let templates = config
        .newsletter
        .as_ref()
        .map(|_| Templates::load(config))
        .transpose()?;
    Ok((content, templates))
}

/// `--dry-run`: everything on an in-memory copy of the state; nothing is written or sent.
fn dry(
    ctx: &Ctx,
    config: &Config,
    content: &Content,
    templates: Option<&Templates>,
) -> Result<ExitStatus> {
    let files = feeds::render(config, &feeds::plan(config, content, ctx.now))?;
    let mut changed = 0;
    for f in &files {
        let target = crate::write::confined(&config.output_dir, &f.path)?;
        if std::fs::read(&target).ok().as_deref() != Some(f.bytes.as_slice()) {
            changed += 1;
            ctx.ui
                .out(format!("would write {}", config.display(&target).display()));
        }
    }
    ctx.ui.out(format!(
        "feeds: {changed} of {} files would change",
        files.len()
    ));
    let (Some(n), Some(templates)) = (&config.newsletter, templates) else {
        return Ok(ExitStatus::Success);
    };
    let db = Db::scratch_copy(&config.state_dir)?;
    merge_csvs(ctx, config, n, &db)?;
    for (post, count) in plan_campaigns(n, content, &db, ctx)? {
        let names: Vec<&str> = lists::matching(n, post)
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        let subject = lists::matching(n, post)
            .first()
            .map(|l| PostMailer::new(config, n, templates, post, ctx.now)?.subject(l))
            .transpose()?
            .unwrap_or_default();
        ctx.ui.out(format!(
            "would mail {} (\"{subject}\") to {count} addresses via lists {}",
            post.slug,
            names.join(", ")
        ));
    }
    let open = db.open_count()?;
    ctx.ui.out(format!(
        "would send {open} messages in all through the {} transport",
        match n.transport {
            TransportKind::Outbox => "outbox",
            TransportKind::Smtp => "smtp",
        }
    ));
    Ok(ExitStatus::Success)
}

/// Merges each list's CSV. Invalid rows are reported and skipped; the run goes on. A CSV
/// whose bytes match its last merge is not parsed again, so its invalid rows are reported once
/// per change (every cron run's output is mailed to the owner), and always by `herald check`.
fn merge_csvs(ctx: &Ctx, config: &Config, n: &Newsletter, db: &Db) -> Result<()> {
    let now = ctx.now.timestamp();
    for list in &n.lists {
        let Some(path) = &list.subscribers else {
            continue;
        };
        let shown = config.display(path);
        let bytes = std::fs::read(path).map_err(|e| Error::io(&shown, e))?;
        let digest = format!("{:x}", Sha256::digest(&bytes));
        let m = db.merge_csv(&list.id, &digest, now, || {
            let (rows, problems) = lists::read_csv(&bytes, &shown, lists::Invalid::Skip);
            for p in problems {
                ctx.ui.warn(p.to_string());
            }
            rows.into_iter().map(|r| (r.email, r.name)).collect()
        })?;
        if !m.unchanged {
            ctx.ui.detail(format!(
                "{}: {} added, {} removed, {} skipped (unsubscribed or bounced)",
                shown.display(),
                m.added,
                m.removed,
                m.suppressed
            ));
        }
    }
    Ok(())
}

/// Fixes the recipients of each post that became mailable since the last run.
fn plan_campaigns<'a>(
    n: &Newsletter,
    content: &'a Content,
    db: &Db,
    ctx: &Ctx,
) -> Result<Vec<(&'a Post, usize)>> {
    let done = db.campaigns()?;
    let mut out = Vec::new();
    // Oldest first, so that mail goes out in the order the posts were dated.
    for post in content.published(ctx.now).into_iter().rev() {
        if post.date < n.start || done.contains(&post.slug) {
            continue;
        }
        let list_ids: Vec<String> = lists::matching(n, post)
            .iter()
            .map(|l| l.id.clone())
            .collect();
        let count = db.plan_campaign(&post.slug, &list_ids, ctx.now.timestamp())?;
        out.push((post, count));
    }
    Ok(out)
}

fn mailers<'a>(
    config: &'a Config,
    n: &Newsletter,
    templates: &'a Templates,
    content: &Content,
    slugs: &[String],
    ctx: &Ctx,
) -> Result<HashMap<String, PostMailer<'a>>> {
    let mut out = HashMap::new();
    for post in content.published(ctx.now) {
        if slugs.contains(&post.slug) {
            let mailer = PostMailer::new(config, n, templates, post, ctx.now)?;
            out.insert(post.slug.clone(), mailer);
        }
    }
    Ok(out)
}

/// `herald preview SLUG [--list ID] [--to ADDR]`.
pub fn preview(ctx: &Ctx, slug: &str, list: Option<&str>, to: Option<&str>) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let n = config.newsletter.as_ref().ok_or_else(|| {
        Error::msg(format!(
            "{}: no `newsletter:` section, so there is no mail to preview",
            config.shown_file().display()
        ))
    })?;
    let content = content::load(&config)?;
    let post = content
        .posts
        .iter()
        .find(|p| p.slug == slug)
        .ok_or_else(|| Error::msg(format!("no post has the slug \"{slug}\"")))?;
    let list = match list {
        Some(id) => n
            .lists
            .iter()
            .find(|l| l.id == id)
            .ok_or_else(|| unknown_list(&config, id))?,
        None => lists::matching(n, post)
            .first()
            .copied()
            .unwrap_or(&n.lists[0]),
    };
    let templates = Templates::load(&config)?;
    let address = to.unwrap_or("preview@example.com");
    if !lists::valid_address(address) {
        return Err(Error::msg(format!("\"{address}\" is not an email address")));
    }
    let secret = secret::load_or_create(&config.state_dir)?;
    let url = deliver::unsubscribe_url(
        &config,
        &secret,
        &crate::state::normalize(address),
        std::slice::from_ref(&list.id),
    );
    let mailer = PostMailer::new(&config, n, &templates, post, ctx.now)?;
    let recipient = Recipient {
        email: address,
        name: "",
        list,
        unsubscribe_url: &url,
    };
    let raw = mailer.message(&recipient)?;
    let envelope = mailer.envelope(&recipient);
    if to.is_some() {
        let transport = transport::from_config(&config)?;
        let reply = transport
            .send("preview", &envelope, &raw)
            .map_err(|f| match f {
                transport::Failure::Transient(r) => {
                    Error::msg(format!("the server deferred the test mail: {r}"))
                }
                transport::Failure::Permanent { reply, .. } => {
                    Error::msg(format!("the server refused the test mail: {reply}"))
                }
                transport::Failure::Local(e) => e,
            })?;
        ctx.ui
            .out(format!("sent a test mail of {slug} to {address}: {reply}"));
        return Ok(ExitStatus::Success);
    }
    let dir = n.outbox_dir.join("preview");
    let eml = crate::write::confined(&dir, &format!("{slug}.eml"))?;
    let html_path = crate::write::confined(&dir, &format!("{slug}.html"))?;
    crate::write::write_atomic(&eml, &raw, 0o644)?;
    let html = mailer.preview_html(&recipient)?;
    crate::write::write_atomic(&html_path, html.as_bytes(), 0o644)?;
    ctx.ui.out(format!(
        "wrote {} and {}",
        config.display(&eml).display(),
        config.display(&html_path).display()
    ));
    Ok(ExitStatus::Success)
}

pub(super) fn unknown_list(config: &Config, id: &str) -> Error {
    let known: Vec<&str> = config
        .newsletter
        .iter()
        .flat_map(|n| n.lists.iter().map(|l| l.id.as_str()))
        .collect();
    Error::msg(format!(
        "unknown list \"{id}\": the lists are {}",
        known.join(", ")
    ))
}

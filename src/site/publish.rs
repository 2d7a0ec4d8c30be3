//! Publishing: load everything and render every feed (an error stops the run before anything is
//! written), take the lock, write the feeds, merge the list CSVs, fix the recipients of each
//! newly mailable post, then send every open delivery through the journal. Also the dry run of
//! all that, and the preview of one post's mail.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, TimeDelta, Utc};

use sha2::{Digest, Sha256};

use super::{Event, Phase, Progress, Site};
use crate::config::{Config, Newsletter};
use crate::content::{self, Content, Post};
use crate::error::{Error, Result, cut};
use crate::feeds;
use crate::newsletter::deliver::{self, Job, Outcome};
use crate::newsletter::digests;
use crate::newsletter::render::{Mailer, Recipient};
use crate::newsletter::templates::Templates;
use crate::newsletter::{self, links, lists};
use crate::state::{Db, PublishLock, secret};
use crate::transport;

use super::build::BuildReport;

/// What [`Site::publish`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishReport {
    pub build: BuildReport,
    /// Posts whose recipients this run fixed, oldest first.
    pub campaigns: Vec<Campaign>,
    /// Digests whose posts and recipients this run fixed, in config order.
    pub digests: Vec<DigestCampaign>,
    /// Posts this run found too late to mail.
    pub late: Vec<LatePost>,
    pub mailing: Mailing,
}

/// A digest whose posts and recipients were fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestCampaign {
    pub list: String,
    pub slot: DateTime<Utc>,
    /// Slugs of its posts, oldest first (none: no mail for this slot).
    pub posts: Vec<String>,
    pub recipients: usize,
}

/// A digest a publish would mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDigest {
    pub digest: DigestCampaign,
    /// As the list's subject template renders it (empty when there is no post).
    pub subject: String,
}

/// A post not mailed: it first became mailable more than `newsletter.max_lateness` after it
/// was due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatePost {
    pub slug: String,
    pub title: String,
    /// How long after its due time this run found it.
    pub late_by: TimeDelta,
}

/// A post whose recipients were fixed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Campaign {
    pub slug: String,
    pub title: String,
    /// Addresses queued (each once, however many of its lists take the post).
    pub recipients: usize,
}

/// The mail part of a publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mailing {
    /// The config has no `newsletter:` section.
    NoNewsletter,
    /// No delivery was open.
    NothingToSend,
    /// The delivery run's counts.
    Delivered(Outcome),
}

/// What [`Site::dry_run`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DryRun {
    pub feeds: FeedCheck,
    /// `None` without a `newsletter:` section.
    pub mail: Option<MailPlan>,
}

/// The feed files a build would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedCheck {
    /// Absolute paths of the files whose bytes would change, in render order.
    pub would_write: Vec<PathBuf>,
    /// Every feed file the build renders.
    pub files: usize,
}

/// The mail a publish would send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailPlan {
    /// Posts that would be mailed for the first time, oldest first.
    pub posts: Vec<PlannedMail>,
    /// Digests whose slot came, in config order (one without posts sends nothing).
    pub digests: Vec<PlannedDigest>,
    /// Posts that would be skipped as late.
    pub late: Vec<LatePost>,
    /// Messages in all: these posts' and those still open from earlier runs.
    pub messages: usize,
    /// Its name in `newsletter.transport`.
    pub transport: &'static str,
}

/// A post a publish would mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedMail {
    pub slug: String,
    /// As the first list that takes the post would render it.
    pub subject: String,
    pub recipients: usize,
    /// Ids of the lists that take the post.
    pub lists: Vec<String>,
}

/// What [`Site::preview`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Preview {
    /// The test mail went through the transport; the server's reply.
    Sent { reply: String },
    /// The mail was written as `.eml` and `.html` (absolute paths).
    Written { eml: PathBuf, html: PathBuf },
}

impl Site<'_> {
    /// `herald publish`: builds the feeds, merges the list CSVs, fixes the recipients of each
    /// newly mailable post and of each digest whose slot came, and sends every open delivery,
    /// under the publish lock. A run on a site unchanged since the last one loads no post.
    /// `send_late`: slugs of posts to mail even though they are late (`--send-late`).
    pub fn publish(&self, send_late: &[String], progress: &dyn Progress) -> Result<PublishReport> {
        let config = self.config;
        transport::check_outbox(config)?;
        let _lock = PublishLock::acquire(
            &config.state_dir,
            &config.display(&config.state_dir.join(crate::state::lock::FILE)),
        )?;
        // A cron run on an unchanged site: no post to load, no feed to render, no post to plan.
        let fresh = self.freshness()?;
        let mut loaded = None;
        let build = match fresh
            .stamp
            .as_ref()
            .filter(|s| (s.planned || config.newsletter.is_none()) && send_late.is_empty())
        {
            Some(stamp) => self.unchanged(stamp, progress),
            None => {
                let (content, templates) = load(config, &fresh.sources)?;
                self.check_send_late(&content, send_late)?;
                let report = self.write_feeds(&content, progress)?;
                progress.event(Event::Built(&report));
                loaded = Some((content, templates));
                report
            }
        };
        let mut report = PublishReport {
            build,
            campaigns: Vec::new(),
            digests: Vec::new(),
            late: Vec::new(),
            mailing: Mailing::NoNewsletter,
        };
        let Some(n) = &config.newsletter else {
            if let Some((content, _)) = &loaded {
                self.save_stamp(&fresh, content, &report.build, true)?;
            }
            return Ok(report);
        };
        // Check the transport's settings (and the password variable) before touching the state.
        let transport = transport::from_config(config)?;
        let db = Db::open(&config.state_dir)?;
        let now = self.now.timestamp();
        let run_id = db.start_run(now)?;
        // Returned mail first, so that no address it bounced is planned for a new post.
        self.read_returned_mail(n, &db, progress)?;
        self.merge_csvs(n, &db, progress)?;
        if let Some((content, _)) = &loaded {
            let (campaigns, late) = self.plan_campaigns(n, content, &db, send_late)?;
            for l in &late {
                progress.event(Event::Late(l));
            }
            report.late = late;
            report.campaigns = campaigns
                .into_iter()
                .map(|(post, recipients)| Campaign {
                    slug: post.slug.clone(),
                    title: post.title.clone(),
                    recipients,
                })
                .collect();
            progress.event(Event::Planned(&report.campaigns));
            report.digests = self.plan_digests(n, content, &db)?;
            if !report.digests.is_empty() {
                progress.event(Event::Digests(&report.digests));
            }
            self.save_stamp(&fresh, content, &report.build, true)?;
        }
        let open_slugs = db.open_slugs()?;
        if open_slugs.is_empty() {
            db.finish_run(run_id, now, 0, 0, 0, "nothing to send")?;
            report.mailing = Mailing::NothingToSend;
            return Ok(report);
        }
        let (content, templates) = match loaded {
            Some((content, Some(templates))) => (content, templates),
            _ => (
                content::load_from(config, &fresh.sources)?,
                Templates::load(config)?,
            ),
        };
        let secret = secret::load_or_create(&config.state_dir)?;
        let mailers = mailers(config, n, &templates, &content, &db, &open_slugs, self.now)?;
        progress.event(Event::Started {
            phase: Phase::Sending,
            len: db.open_count()? as u64,
        });
        let on_event = |e: deliver::Event| progress.event(Event::Delivery(e));
        let job = Job {
            config,
            newsletter: n,
            transport: transport.as_ref(),
            mailers: &mailers,
            secret: &secret,
            now: self.now,
            concurrency: n.transport.concurrency(),
            on_event: &on_event,
        };
        let result = deliver::deliver(&job, &db);
        progress.event(Event::Finished(Phase::Sending));
        let outcome = match result {
            Ok(o) => o,
            Err(e) => {
                db.finish_run(run_id, now, 0, 0, 0, &format!("error: {e}"))?;
                return Err(e);
            }
        };
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
        report.mailing = Mailing::Delivered(outcome);
        Ok(report)
    }

    /// `herald publish --dry-run`: everything on an in-memory copy of the state; nothing is
    /// written or sent. Reports [`Event::FeedsChecked`] before the CSVs are merged.
    pub fn dry_run(&self, progress: &dyn Progress) -> Result<DryRun> {
        let config = self.config;
        transport::check_outbox(config)?;
        let (content, templates) = load(config, &content::Sources::find(config)?)?;
        let plan = feeds::plan(config, &content, self.now);
        let files = feeds::render(config, &plan)?;
        let targets = feeds::targets(config, &plan, &files)?;
        let mut would_write = Vec::new();
        for (f, target) in files.iter().zip(targets) {
            if !crate::write::is_unchanged(&target, &f.bytes) {
                would_write.push(target);
            }
        }
        let feeds = FeedCheck {
            would_write,
            files: files.len(),
        };
        progress.event(Event::FeedsChecked(&feeds));
        let (Some(n), Some(templates)) = (&config.newsletter, templates) else {
            return Ok(DryRun { feeds, mail: None });
        };
        let db = Db::scratch_copy(&config.state_dir)?;
        self.merge_csvs(n, &db, progress)?;
        let mut posts = Vec::new();
        let (campaigns, late) = self.plan_campaigns(n, &content, &db, &[])?;
        for (post, recipients) in campaigns {
            let matching = lists::per_post(n, post);
            let subject = matching
                .first()
                .map(|l| Mailer::post(config, n, &templates, post, self.now)?.subject(l))
                .transpose()?
                .unwrap_or_default();
            posts.push(PlannedMail {
                slug: post.slug.clone(),
                subject,
                recipients,
                lists: matching.iter().map(|l| l.id.clone()).collect(),
            });
        }
        let mut digests = Vec::new();
        let published = by_slug(&content, self.now);
        for digest in self.plan_digests(n, &content, &db)? {
            let subject = digest_mailer(config, n, &templates, &published, &digest, self.now)?
                .map(|(m, list)| m.subject(list))
                .transpose()?
                .unwrap_or_default();
            digests.push(PlannedDigest { digest, subject });
        }
        let mail = MailPlan {
            posts,
            digests,
            late,
            messages: db.open_count()?,
            transport: n.transport.name(),
        };
        Ok(DryRun {
            feeds,
            mail: Some(mail),
        })
    }

    /// `herald preview`: renders `slug`'s mail as `list` would send it (default: the first
    /// list that takes the post) to `to` (default: a placeholder address), then sends it
    /// through the transport when `to` is given (not journaled), or else writes it to
    /// `outbox/preview/SLUG.eml` and `.html`.
    pub fn preview(&self, slug: &str, list: Option<&str>, to: Option<&str>) -> Result<Preview> {
        let config = self.config;
        let n = self.newsletter_to_preview()?;
        let content = content::load(config)?;
        let post = content
            .posts
            .iter()
            .find(|p| p.slug == slug)
            .ok_or_else(|| Error::msg(format!("no post has the slug \"{}\"", cut(slug))))?;
        let list = match list {
            Some(id) => config.list(id)?,
            None => lists::matching(n, post)
                .first()
                .copied()
                .unwrap_or(&n.lists[0]),
        };
        let templates = Templates::load(config)?;
        let mailer = Mailer::post(config, n, &templates, post, self.now)?;
        self.send_preview(n, &mailer, list, slug, to)
    }

    /// `herald preview --digest LIST`: renders the next digest of `list` with the posts waiting
    /// for it now, then sends or writes it as [`Site::preview`] does
    /// (`outbox/preview/digest:LIST.eml`).
    pub fn preview_digest(&self, list: &str, to: Option<&str>) -> Result<Preview> {
        let config = self.config;
        let n = self.newsletter_to_preview()?;
        let list = config.list(list)?;
        if list.digest.is_none() {
            return Err(Error::msg(format!(
                "list \"{}\" has no `digest:`: it mails every post on its own (`herald preview SLUG`)",
                cut(&list.id)
            )));
        }
        let content = content::load(config)?;
        let db = Db::scratch_copy(&config.state_dir)?;
        let last = db.last_digest_slot(&list.id)?;
        let digested = db.digested(&list.id)?;
        let (slot, posts) =
            digests::next(config, n, list, &content, self.now, last, &digested).unwrap_or_default();
        if posts.is_empty() {
            return Err(Error::msg(format!(
                "no post is waiting for the next digest of \"{}\" ({})",
                cut(&list.id),
                slot.with_timezone(&config.site.timezone).to_rfc3339()
            )));
        }
        let templates = Templates::load(config)?;
        let mailer = Mailer::digest(config, n, &templates, list, slot, &posts, self.now)?;
        self.send_preview(n, &mailer, list, &format!("digest:{}", list.id), to)
    }

    fn newsletter_to_preview(&self) -> Result<&Newsletter> {
        let config = self.config;
        config.newsletter.as_ref().ok_or_else(|| {
            Error::msg(format!(
                "{}: no `newsletter:` section, so there is no mail to preview",
                config.shown_file().display()
            ))
        })
    }

    /// Sends `mailer`'s mail for `list` to `to` as a test, or writes it as `name.eml` and
    /// `name.html` in `outbox/preview/`.
    fn send_preview<'a>(
        &self,
        n: &Newsletter,
        mailer: &Mailer<'a>,
        list: &'a crate::config::List,
        name: &str,
        to: Option<&str>,
    ) -> Result<Preview> {
        let config = self.config;
        let address = to.unwrap_or("preview@example.com");
        if !lists::valid_address(address) {
            return Err(Error::msg(format!(
                "\"{}\" is not an email address",
                cut(address)
            )));
        }
        let secret = secret::load_or_create(&config.state_dir)?;
        // A subscriber's own links; for any other address, links that lead to the "not
        // valid" page.
        let key = match config.state_dir.join(Db::FILE).exists() {
            true => Db::open(&config.state_dir)?.key_of(address)?,
            false => None,
        }
        .unwrap_or_else(|| "preview".into());
        let ids = std::slice::from_ref(&list.id);
        let url = links::unsubscribe_url(config, &secret, &key, ids);
        let prefs = links::preferences_url(config, &secret, &key);
        let recipient = Recipient {
            email: address,
            name: "",
            list,
            unsubscribe_url: &url,
            preferences_url: &prefs,
        };
        let raw = mailer.message(&recipient)?;
        let envelope = mailer.envelope(&recipient);
        if to.is_some() {
            let transport = transport::from_config(config)?;
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
            return Ok(Preview::Sent { reply });
        }
        transport::check_outbox(config)?;
        let (eml, html_path) = transport::Outbox::new(n.outbox_dir.clone()).preview_paths(name)?;
        crate::write::write_atomic(&eml, &raw, 0o644)?;
        let html = mailer.preview_html(&recipient)?;
        crate::write::write_atomic(&html_path, html.as_bytes(), 0o644)?;
        Ok(Preview::Written {
            eml,
            html: html_path,
        })
    }

    /// Reads the IMAP mailbox of returned mail, when there is one. A mailbox that cannot be
    /// reached (or a message that stops the reading) is a warning: the run goes on, and the
    /// next one reads what this one did not. Only the state failing is an error.
    fn read_returned_mail(&self, n: &Newsletter, db: &Db, progress: &dyn Progress) -> Result<()> {
        let Some(imap) = &n.imap else {
            return Ok(());
        };
        let reader = crate::bounces::Reader::new(self.config, n, db, self.now.timestamp())?;
        let fetched = crate::bounces::imap::fetch(imap, &reader, db, &mut |r| {
            progress.event(Event::Returned(r))
        });
        match fetched {
            Ok(f) => progress.event(Event::ReturnedFetched(&f)),
            Err(e @ Error::State { .. }) => return Err(e),
            Err(e) => progress.event(Event::ReturnedFailed(&e)),
        }
        Ok(())
    }

    /// Merges each list's CSV. Invalid rows are reported and skipped; the run goes on. A CSV
    /// whose bytes match its last merge is not parsed again, so its invalid rows are reported
    /// once per change (every cron run's output is mailed to the owner), and always by
    /// `herald check`.
    fn merge_csvs(&self, n: &Newsletter, db: &Db, progress: &dyn Progress) -> Result<()> {
        let now = self.now.timestamp();
        for (i, list) in n.lists.iter().enumerate() {
            let Some(path) = &list.subscribers else {
                continue;
            };
            let shown = self.config.display(path);
            let bytes = newsletter::read_subscribers(self.config, i, list, path)
                .map_err(|d| Error::Invalid(vec![d]))?;
            let digest = format!("{:x}", Sha256::digest(&bytes));
            let m = db.merge_csv(&list.id, &digest, now, || {
                let (rows, problems) = lists::read_csv(&bytes, &shown, lists::Invalid::Skip);
                for p in &problems {
                    progress.event(Event::CsvProblem(p));
                }
                rows.into_iter().map(|r| (r.email, r.name)).collect()
            })?;
            if !m.unchanged {
                progress.event(Event::CsvMerged { path, merged: &m });
            }
        }
        Ok(())
    }

    /// Fixes the recipients of each post that became mailable since the last run, on the
    /// lists that mail it on its own; returns them, oldest first, with their recipient counts,
    /// and the posts newly found late (not mailed, unless in `send_late`).
    fn plan_campaigns<'c>(
        &self,
        n: &Newsletter,
        content: &'c Content,
        db: &Db,
        send_late: &[String],
    ) -> Result<PostPlan<'c>> {
        let done = db.campaigns()?;
        let skipped: HashSet<String> = db.skipped()?.into_iter().map(|s| s.slug).collect();
        let now = self.now.timestamp();
        let (mut out, mut late) = (Vec::new(), Vec::new());
        // Oldest first, so that mail goes out in the order the posts were dated.
        for post in content.published(self.now).into_iter().rev() {
            if post.date < n.start || done.contains(&post.slug) {
                continue;
            }
            let list_ids: Vec<String> = lists::per_post(n, post)
                .iter()
                .map(|l| l.id.clone())
                .collect();
            let late_by = self.now - post.due().with_timezone(&Utc);
            if send_late.contains(&post.slug) {
                db.unskip_post(&post.slug)?;
            } else if !list_ids.is_empty() && late_by > n.max_lateness {
                if !skipped.contains(&post.slug) {
                    let reason = format!(
                        "first mailable {} after it was due (newsletter.max_lateness: {})",
                        crate::dates::span(late_by),
                        crate::dates::span(n.max_lateness)
                    );
                    db.skip_post(&post.slug, post.due().timestamp(), &reason, now)?;
                    late.push(LatePost {
                        slug: post.slug.clone(),
                        title: post.title.clone(),
                        late_by,
                    });
                }
                continue;
            }
            let count = db.plan_campaign(&post.slug, &list_ids, now)?;
            out.push((post, count));
        }
        Ok((out, late))
    }

    /// Fixes the digest of each digest list whose slot came since its last one (see
    /// [`digests`]): its posts and recipients. A slot with no post is recorded, without mail.
    fn plan_digests(
        &self,
        n: &Newsletter,
        content: &Content,
        db: &Db,
    ) -> Result<Vec<DigestCampaign>> {
        let mut out = Vec::new();
        for list in &n.lists {
            let last = db.last_digest_slot(&list.id)?;
            let Some(slot) = digests::due_slot(self.config, list, self.now, last) else {
                continue;
            };
            let digested = db.digested(&list.id)?;
            let posts: Vec<String> = digests::posts(n, list, content, slot, last, &digested)
                .iter()
                .map(|p| p.slug.clone())
                .collect();
            let recipients =
                db.plan_digest(&list.id, slot.timestamp(), &posts, self.now.timestamp())?;
            out.push(DigestCampaign {
                list: list.id.clone(),
                slot,
                posts,
                recipients,
            });
        }
        Ok(out)
    }

    /// `--send-late` names published posts (one already mailed is not mailed again).
    fn check_send_late(&self, content: &Content, send_late: &[String]) -> Result<()> {
        let published = by_slug(content, self.now);
        for slug in send_late {
            if !published.contains_key(slug.as_str()) {
                return Err(Error::msg(format!(
                    "--send-late: no published post has the slug \"{}\"",
                    cut(slug)
                )));
            }
        }
        Ok(())
    }
}

/// What planning the posts found: the posts whose recipients were fixed, oldest first, with
/// their counts; the posts newly found late.
type PostPlan<'c> = (Vec<(&'c Post, usize)>, Vec<LatePost>);

/// One mail renderer per campaign key among `keys` (a post's slug, a digest's key) that
/// still has something to mail.
fn mailers<'a>(
    config: &'a Config,
    n: &'a Newsletter,
    templates: &'a Templates,
    content: &Content,
    db: &Db,
    keys: &[String],
    now: DateTime<Utc>,
) -> Result<HashMap<String, Mailer<'a>>> {
    let published = by_slug(content, now);
    let mut out = HashMap::new();
    for key in keys {
        if let Some(d) = db.digest(key)? {
            let Some(slot) = DateTime::from_timestamp(d.slot, 0) else {
                continue;
            };
            let digest = DigestCampaign {
                list: d.list,
                slot,
                posts: d.posts,
                recipients: 0,
            };
            if let Some((mailer, _)) =
                digest_mailer(config, n, templates, &published, &digest, now)?
            {
                out.insert(key.clone(), mailer);
            }
        } else if let Some(post) = published.get(key.as_str()) {
            out.insert(key.clone(), Mailer::post(config, n, templates, post, now)?);
        }
    }
    Ok(out)
}

/// The published posts by slug.
fn by_slug(content: &Content, now: DateTime<Utc>) -> HashMap<&str, &Post> {
    content
        .published(now)
        .into_iter()
        .map(|p| (p.slug.as_str(), p))
        .collect()
}

/// The mailer of a fixed digest, and its list; `None` when the list is no longer a digest list
/// of the config or none of the digest's posts is still published.
fn digest_mailer<'a>(
    config: &'a Config,
    n: &'a Newsletter,
    templates: &'a Templates,
    published: &HashMap<&str, &Post>,
    digest: &DigestCampaign,
    now: DateTime<Utc>,
) -> Result<Option<(Mailer<'a>, &'a crate::config::List)>> {
    let Some(list) = n
        .lists
        .iter()
        .find(|l| l.id == digest.list && l.digest.is_some())
    else {
        return Ok(None);
    };
    let posts: Vec<&Post> = digest
        .posts
        .iter()
        .filter_map(|s| published.get(s.as_str()).copied())
        .collect();
    if posts.is_empty() {
        return Ok(None);
    }
    let mailer = Mailer::digest(config, n, templates, list, digest.slot, &posts, now)?;
    Ok(Some((mailer, list)))
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::sync::Mutex;

    use chrono::{DateTime, TimeZone, Utc};

    use super::*;
    use crate::site::Event;

    /// A copy of the repository's example site (`config/`, `content/`, `templates/`).
    fn example() -> tempfile::TempDir {
        fn copy(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for entry in std::fs::read_dir(from).unwrap() {
                let entry = entry.unwrap();
                let target = to.join(entry.file_name());
                if entry.file_type().unwrap().is_dir() {
                    copy(&entry.path(), &target);
                } else {
                    std::fs::copy(entry.path(), target).unwrap();
                }
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for sub in ["config", "content", "templates"] {
            copy(&repo.join(sub), &dir.path().join(sub));
        }
        dir
    }

    /// After every post of the example site is due.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2027, 7, 1, 0, 0, 0).unwrap()
    }

    /// Every `.eml` file under `dir`, by path relative to it.
    fn mails(dir: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        let Ok(folders) = std::fs::read_dir(dir) else {
            return out;
        };
        for folder in folders {
            let folder = folder.unwrap().path();
            for file in std::fs::read_dir(&folder).unwrap() {
                let path = file.unwrap().path();
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
        out
    }

    /// The kinds of events a run reported, in order, one word each (deliveries as their
    /// status).
    fn run<T>(op: impl FnOnce(&dyn Progress) -> T) -> (T, Vec<String>) {
        let events = Mutex::new(Vec::new());
        let progress = |e: Event| {
            let word = match e {
                Event::Delivery(d) => d.status.to_string(),
                Event::Started { phase, .. } => format!("start {phase:?}"),
                Event::Finished(phase) => format!("finish {phase:?}"),
                Event::Step | Event::Wrote(_) => return,
                other => format!("{other:?}")
                    .split(['(', ' '])
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            };
            events.lock().unwrap().push(word);
        };
        let out = op(&progress);
        (out, events.into_inner().unwrap())
    }

    #[test]
    fn publishing_the_example_site_twice_sends_each_mail_once() {
        let dir = example();
        let config = Config::load(dir.path(), None).unwrap();
        let site = Site::new(&config, now());
        let outbox = config.newsletter.as_ref().unwrap().outbox_dir.clone();

        let (first, events) = run(|p| site.publish(&[], p).unwrap());
        let Mailing::Delivered(outcome) = &first.mailing else {
            panic!("nothing sent: {first:?}");
        };
        assert!(outcome.sent > 0, "{first:?}");
        assert_eq!(
            (outcome.deferred, outcome.failed, outcome.cancelled),
            (0, 0, 0)
        );
        assert!(!first.build.up_to_date);
        assert!(first.build.written > 0);
        let planned: usize = first.campaigns.iter().map(|c| c.recipients).sum();
        assert_eq!(planned, outcome.sent);
        let slugs: Vec<&str> = first.campaigns.iter().map(|c| c.slug.as_str()).collect();
        assert_eq!(
            slugs,
            [
                "lead-magnets-that-convert",
                "lead-scoring-without-a-data-team"
            ],
            "due posts since newsletter.start, oldest first"
        );
        let sent = mails(&outbox);
        assert_eq!(sent.len(), outcome.sent);
        // One merge per list CSV, then the campaigns, then one event per delivery.
        let mut want = vec!["start Writing", "finish Writing", "Built"];
        want.extend(["CsvMerged"; 3]);
        want.extend(["Planned", "start Sending"]);
        want.extend(std::iter::repeat_n("sent", outcome.sent));
        want.push("finish Sending");
        assert_eq!(events, want);

        // The second run finds the site and the CSVs unchanged and nothing open: no mail is
        // sent again.
        let (second, events) = run(|p| site.publish(&[], p).unwrap());
        assert_eq!(second.mailing, Mailing::NothingToSend);
        assert!(second.build.up_to_date);
        assert!(second.campaigns.is_empty());
        assert_eq!(events, ["Unchanged", "Built"]);
        assert_eq!(mails(&outbox), sent);
    }

    #[test]
    fn a_dry_run_plans_what_publish_then_does_and_writes_nothing() {
        let dir = example();
        let config = Config::load(dir.path(), None).unwrap();
        let site = Site::new(&config, now());
        let (dry, events) = run(|p| site.dry_run(p).unwrap());
        assert_eq!(
            events,
            ["FeedsChecked", "CsvMerged", "CsvMerged", "CsvMerged"]
        );
        assert_eq!(dry.feeds.would_write.len(), dry.feeds.files);
        assert!(!config.output_dir.exists());
        assert!(!config.state_dir.join(Db::FILE).exists());
        let plan = dry.mail.expect("the example site has a newsletter");
        assert_eq!(plan.transport, "outbox");

        let report = site.publish(&[], &()).unwrap();
        let planned: Vec<(&str, usize)> = plan
            .posts
            .iter()
            .map(|m| (m.slug.as_str(), m.recipients))
            .collect();
        let done: Vec<(&str, usize)> = report
            .campaigns
            .iter()
            .map(|c| (c.slug.as_str(), c.recipients))
            .collect();
        assert_eq!(planned, done);
        assert_eq!(
            report.mailing,
            Mailing::Delivered(Outcome {
                sent: plan.messages,
                ..Default::default()
            })
        );
        let (after, _) = run(|p| site.dry_run(p).unwrap());
        assert!(after.feeds.would_write.is_empty());
        assert_eq!(
            after.mail.map(|m| (m.posts.len(), m.messages)),
            Some((0, 0))
        );
    }
}

//! Delivery: the one place where the journal and the transport meet.
//!
//! The journal is walked in pages; `concurrency` workers each take one delivery at a time,
//! commit it as `sending`, hand it to the transport, and commit the result. So at any moment at
//! most `concurrency` deliveries are unconfirmed: after a crash, those (and only those) are sent
//! again. Transient failures are retried in the same run after a pause, then in later runs,
//! until `retry_days` have passed since the first attempt.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::links;
use super::render::{Mailer, Recipient};
use crate::config::{Config, Newsletter};
use crate::error::{Error, Result};
use crate::state::journal::{Delivery, Mark};
use crate::state::{Db, DeliveryStatus, MemberStatus};
use crate::transport::{Failure, Transport};

/// Pauses before the second and third pass over deferred deliveries within one run.
#[cfg(not(test))]
const IN_RUN_BACKOFF: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(4)];
/// The unit tests below make every pass without waiting.
#[cfg(test)]
const IN_RUN_BACKOFF: [Duration; 2] = [Duration::ZERO; 2];
/// Journal rows read per page.
const PAGE: usize = 512;

/// What a run of deliveries did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub sent: usize,
    /// Deliveries still open at the end of the run (deferred, or not reached because the
    /// server kept failing): a later run sends them.
    pub deferred: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub bounced: usize,
}

/// What happened to one delivery, for progress bars and `-v` logs.
#[derive(Debug)]
pub struct Event<'a> {
    pub delivery: &'a Delivery,
    /// The status the delivery took: `Sent`, `Deferred`, `Failed` or `Cancelled`.
    pub status: DeliveryStatus,
    pub reply: &'a str,
}

/// Everything a delivery run needs.
pub struct Job<'a> {
    pub config: &'a Config,
    pub newsletter: &'a Newsletter,
    pub transport: &'a dyn Transport,
    /// One mail renderer per post slug that may have open deliveries.
    pub mailers: &'a HashMap<String, Mailer<'a>>,
    pub secret: &'a [u8; 32],
    pub now: DateTime<Utc>,
    pub concurrency: usize,
    pub on_event: &'a (dyn Fn(Event) + Sync),
}

/// Sends every open delivery in the journal. `db` reads the journal; each pass opens one more
/// connection, owned by its journal writer.
pub fn deliver(job: &Job, db: &Db) -> Result<Outcome> {
    let mut total = Outcome::default();
    // One pass, then one more after each pause while deliveries stay open.
    for pause in IN_RUN_BACKOFF.iter().map(Some).chain([None]) {
        let o = one_pass(job, db)?;
        total.sent += o.sent;
        total.failed += o.failed;
        total.cancelled += o.cancelled;
        total.bounced += o.bounced;
        let open = db.open_count()?;
        total.deferred = open;
        match pause {
            Some(pause) if open > 0 => std::thread::sleep(*pause),
            _ => break,
        }
    }
    Ok(total)
}

/// Outcomes a worker keeps before it commits them without waiting for its next send.
const RECORD_BATCH: usize = 256;

/// What became of one delivery: the status it took, and whether the server refused the
/// address (a bounce, counted among the failures too).
#[derive(Debug, Clone, Copy)]
struct Done {
    status: DeliveryStatus,
    bounced: bool,
}

/// A pass's counters, shared by its workers: one per delivery status, and the bounces.
#[derive(Default)]
struct Tally {
    by_status: [AtomicUsize; DeliveryStatus::ALL.len()],
    bounced: AtomicUsize,
}

impl Tally {
    fn add(&self, done: Done) {
        self.by_status[done.status.index()].fetch_add(1, Ordering::SeqCst);
        if done.bounced {
            self.bounced.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn outcome(&self) -> Outcome {
        let n = |s: DeliveryStatus| self.by_status[s.index()].load(Ordering::SeqCst);
        Outcome {
            sent: n(DeliveryStatus::Sent),
            deferred: n(DeliveryStatus::Deferred),
            failed: n(DeliveryStatus::Failed),
            cancelled: n(DeliveryStatus::Cancelled),
            bounced: self.bounced.load(Ordering::SeqCst),
        }
    }
}

/// Marks sent to the journal writer in one request, and where to say they are committed.
type MarkRequest = (Vec<(Delivery, Mark)>, mpsc::SyncSender<Result<(), String>>);

/// A worker's handle on the journal. A worker's outcome mark (`sent`, `deferred`, ...) waits
/// and travels with its next `sending`, which the worker waits for: the crash window stays one
/// unconfirmed delivery per worker, with one round trip to the writer per message.
struct Journal {
    tx: mpsc::Sender<MarkRequest>,
    pending: std::cell::RefCell<Vec<(Delivery, Mark)>>,
}

impl Journal {
    fn new(tx: mpsc::Sender<MarkRequest>) -> Self {
        Journal {
            tx,
            pending: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Commits `mark` for `d` (and any outcome still waiting) before returning.
    fn mark(&self, d: &Delivery, mark: Mark) -> Result<()> {
        self.pending.borrow_mut().push((d.clone(), mark));
        self.flush()
    }

    /// Records an outcome, committed with the worker's next mark or at the end of the pass
    /// (or now, once [`RECORD_BATCH`] are waiting: a run that only cancels stays bounded).
    fn record(&self, d: &Delivery, mark: Mark) -> Result<()> {
        let mut pending = self.pending.borrow_mut();
        pending.push((d.clone(), mark));
        let full = pending.len() >= RECORD_BATCH;
        drop(pending);
        if full { self.flush() } else { Ok(()) }
    }

    /// Commits whatever is waiting, and returns once it is durable.
    fn flush(&self) -> Result<()> {
        let marks = std::mem::take(&mut *self.pending.borrow_mut());
        if marks.is_empty() {
            return Ok(());
        }
        let stopped = || Error::msg("the journal writer stopped");
        let (done_tx, done_rx) = mpsc::sync_channel(1);
        self.tx.send((marks, done_tx)).map_err(|_| stopped())?;
        match done_rx.recv() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(Error::msg(e)),
            Err(_) => Err(stopped()),
        }
    }
}

/// Group commit: one thread owns the write connection, takes every request waiting (from all
/// workers), commits them in one transaction, then answers each. Consecutive deliveries share
/// table pages, so one commit for several workers writes little more than one for one.
fn journal_writer(db: Db, rx: mpsc::Receiver<MarkRequest>, now: i64) {
    let mut failed: Option<String> = None;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        batch.extend(rx.try_iter());
        let result = match &failed {
            Some(e) => Err(e.clone()),
            None => {
                let marks: Vec<(&Delivery, &Mark)> = batch
                    .iter()
                    .flat_map(|(m, _)| m.iter().map(|(d, m)| (d, m)))
                    .collect();
                db.apply_marks(&marks, now).map_err(|e| e.to_string())
            }
        };
        if let Err(e) = &result {
            failed.get_or_insert_with(|| e.clone());
        }
        for (_, done) in &batch {
            let _ = done.send(result.clone());
        }
    }
    // Best effort: a later connection checkpoints anyway.
    let _ = db.checkpoint();
}

fn one_pass(job: &Job, reader: &Db) -> Result<Outcome> {
    let writer = Db::open(&job.config.state_dir)?;
    writer.defer_checkpoints()?;
    let stop = AtomicBool::new(false);
    let tally = Tally::default();
    // Consecutive transient failures across workers: when the relay is down, every message
    // would fail the same way, so the pass stops and the rest wait, untouched, for a later run.
    let streak = AtomicUsize::new(0);
    let give_up_after = (job.concurrency * 3).max(6);
    let fatal: Mutex<Option<Error>> = Mutex::new(None);
    let bounced: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let (tx, rx) = mpsc::sync_channel::<Delivery>(job.concurrency * 4);
    let rx = Mutex::new(rx);
    let now = job.now.timestamp();
    let (mark_tx, mark_rx) = mpsc::channel::<MarkRequest>();
    std::thread::scope(|s| -> Result<()> {
        s.spawn(move || journal_writer(writer, mark_rx, now));
        for _ in 0..job.concurrency.max(1) {
            let (stop, tally, streak, fatal, rx, bounced) =
                (&stop, &tally, &streak, &fatal, &rx, &bounced);
            let journal = Journal::new(mark_tx.clone());
            s.spawn(move || {
                let fail = |e: Error| {
                    stop.store(true, Ordering::SeqCst);
                    fatal
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .get_or_insert(e);
                };
                loop {
                    let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(d) = next else { break };
                    if stop.load(Ordering::SeqCst) {
                        continue;
                    }
                    match one(job, &journal, &d, bounced) {
                        Ok(done) => {
                            tally.add(done);
                            if done.status == DeliveryStatus::Deferred {
                                if streak.fetch_add(1, Ordering::SeqCst) + 1 >= give_up_after {
                                    stop.store(true, Ordering::SeqCst);
                                }
                            } else {
                                streak.store(0, Ordering::SeqCst);
                            }
                        }
                        Err(e) => fail(e),
                    }
                }
                if let Err(e) = journal.flush() {
                    fail(e);
                }
            });
        }
        drop(mark_tx);
        let mut after: Option<(String, String)> = None;
        'pages: loop {
            let page = reader
                .open_deliveries(after.as_ref().map(|(a, b)| (a.as_str(), b.as_str())), PAGE)?;
            let Some(last) = page.last() else { break };
            after = Some((last.post_slug.clone(), last.email_norm.clone()));
            for d in page {
                if stop.load(Ordering::SeqCst) || tx.send(d).is_err() {
                    break 'pages;
                }
            }
        }
        drop(tx);
        Ok(())
    })?;
    if let Some(e) = fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(tally.outcome())
}

/// Handles one delivery; returns what became of it. An `Err` stops the run.
fn one(
    job: &Job,
    journal: &Journal,
    d: &Delivery,
    bounced: &Mutex<HashSet<String>>,
) -> Result<Done> {
    use DeliveryStatus::{Cancelled, Deferred, Failed, Sent};
    let now = job.now.timestamp();
    let report = |status: DeliveryStatus, reply: &str| {
        (job.on_event)(Event {
            delivery: d,
            status,
            reply,
        });
        Done {
            status,
            bounced: false,
        }
    };
    // The status came with the page; an address that bounced earlier in this pass counts too.
    let bounced_now = bounced
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&d.email_norm);
    if d.subscriber_status != MemberStatus::Active || bounced_now {
        let status = if bounced_now {
            MemberStatus::Bounced
        } else {
            d.subscriber_status
        };
        let why = format!("not sent: the address is {status}");
        journal.record(d, Mark::Cancelled(why.clone()))?;
        return Ok(report(Cancelled, &why));
    }
    let n = job.newsletter;
    // The first of the delivery's lists still in the config gives `List-Id`.
    let list = n.lists.iter().find(|l| d.lists.contains(&l.id));
    let (Some(mailer), Some(list)) = (job.mailers.get(&d.post_slug), list) else {
        let why = "not sent: the post or its lists are no longer published";
        journal.record(d, Mark::Cancelled(why.into()))?;
        return Ok(report(Cancelled, why));
    };
    if d.status == Deferred
        && let Some(first) = d.first_attempt
        && now - first >= i64::from(n.retry_days) * 86_400
    {
        let why = format!("gave up after {} days of temporary failures", n.retry_days);
        journal.record(d, Mark::Failed(why.clone()))?;
        return Ok(report(Failed, &why));
    }
    let url = links::unsubscribe_url(job.config, job.secret, &d.key, &d.lists);
    let prefs = links::preferences_url(job.config, job.secret, &d.key);
    let recipient = Recipient {
        email: &d.email,
        name: &d.name,
        list,
        unsubscribe_url: &url,
        preferences_url: &prefs,
    };
    let raw = match mailer.message(&recipient) {
        Ok(raw) => raw,
        // One recipient's bad data must not stop everyone else's mail.
        Err(e) => {
            let why = format!("not sent: the mail could not be built: {e}");
            journal.record(d, Mark::Failed(why.clone()))?;
            return Ok(report(Failed, &why));
        }
    };
    let envelope = mailer.delivery_envelope(&recipient, job.secret, &d.key);
    journal.mark(d, Mark::Sending)?;
    match job.transport.send(&d.post_slug, &envelope, &raw) {
        Ok(reply) => {
            journal.record(d, Mark::Sent(reply.clone()))?;
            Ok(report(Sent, &reply))
        }
        Err(Failure::Transient(reply)) => {
            journal.record(d, Mark::Deferred(reply.clone()))?;
            Ok(report(Deferred, &reply))
        }
        Err(Failure::Permanent { reply, bounce }) => {
            let mark = if bounce {
                bounced
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(d.email_norm.clone());
                Mark::Bounced(reply.clone())
            } else {
                Mark::Failed(reply.clone())
            };
            journal.record(d, mark)?;
            Ok(Done {
                bounced: bounce,
                ..report(Failed, &reply)
            })
        }
        Err(Failure::Local(e)) => {
            // Not delivered: keep it for a later run, and stop this one.
            journal.mark(d, Mark::Deferred(e.to_string()))?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    //! Delivery against a fake transport and a real SQLite file in a temp dir.

    use std::path::{Path, PathBuf};

    use chrono::TimeZone;
    use rusqlite::params;

    use super::*;
    use crate::content::{self, Content};
    use crate::newsletter::templates::Templates;
    use crate::state::subscribers::Source;
    use crate::transport::Envelope;

    /// 2025-06-01T00:00:00Z, after both posts.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()
    }

    const DAY: i64 = 86_400;

    /// A site with two posts mailed to list `all`, and its state with `addresses` in `all`.
    struct Fixture {
        /// Kept for its lifetime: the site and its state are removed with it.
        _dir: tempfile::TempDir,
        config: Config,
        content: Content,
        templates: Templates,
    }

    impl Fixture {
        fn new(addresses: &[&str]) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let write = |rel: &str, text: &str| {
                let path = dir.path().join(rel);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, text).unwrap();
            };
            write(
                "config/herald.yaml",
                "site: { title: T, base_url: 'https://t.example.com/', timezone: UTC }\n\
                 newsletter:\n  start: 2025-01-01\n  from: { name: T, email: t@t.example.com }\n  \
                 transport: outbox\n  lists:\n    - { id: all, name: All, tags: ['*'] }\n\
                 serve: { public_url: 'https://t.example.com/herald/' }\n",
            );
            write(
                "content/posts/2025-03-01-one.md",
                "---\ntitle: One\ndate: 2025-03-01\n---\nFirst.\n",
            );
            write(
                "content/posts/2025-04-01-two.md",
                "---\ntitle: Two\ndate: 2025-04-01\n---\nSecond.\n",
            );
            let config = Config::load(dir.path(), None).unwrap();
            let content = content::load(&config).unwrap();
            let templates = Templates::load(&config).unwrap();
            let f = Fixture {
                _dir: dir,
                config,
                content,
                templates,
            };
            let db = f.db();
            for a in addresses {
                db.add_member(a, "", "all", Source::Cli, 0).unwrap();
            }
            f
        }

        fn state_dir(&self) -> PathBuf {
            self.config.state_dir.clone()
        }

        fn db(&self) -> Db {
            Db::open(&self.config.state_dir).unwrap()
        }

        /// Queues `slug` for every active member of `all`.
        fn plan(&self, slug: &str) {
            self.db()
                .plan_campaign(slug, &["all".into()], now().timestamp())
                .unwrap();
        }

        /// Runs [`deliver`] through `transport` at `now` with `concurrency` workers; returns
        /// the outcome and the statuses the events reported, in order.
        fn run(
            &self,
            transport: &dyn Transport,
            now: DateTime<Utc>,
            concurrency: usize,
        ) -> (Outcome, Vec<(String, DeliveryStatus)>) {
            let n = self.config.newsletter.as_ref().unwrap();
            let mailers: HashMap<String, Mailer> = self
                .content
                .posts
                .iter()
                .map(|p| {
                    let m = Mailer::post(&self.config, n, &self.templates, p, now).unwrap();
                    (p.slug.clone(), m)
                })
                .collect();
            let events = Mutex::new(Vec::new());
            let on_event = |e: Event| {
                let key = format!("{} {}", e.delivery.post_slug, e.delivery.email_norm);
                events.lock().unwrap().push((key, e.status));
            };
            let job = Job {
                config: &self.config,
                newsletter: n,
                transport,
                mailers: &mailers,
                secret: &[7; 32],
                now,
                concurrency,
                on_event: &on_event,
            };
            let outcome = deliver(&job, &self.db()).unwrap();
            (outcome, events.into_inner().unwrap())
        }
    }

    /// A row's status, attempts and first attempt, read on a connection of its own.
    fn row(state_dir: &Path, slug: &str, email: &str) -> (DeliveryStatus, i64, Option<i64>) {
        Db::open(state_dir)
            .unwrap()
            .conn
            .query_row(
                "SELECT status, attempts, first_attempt FROM deliveries
                 WHERE post_slug = ?1 AND email_norm = ?2",
                params![slug, email],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap()
    }

    /// Every journal row as (slug, address, status), in key order.
    type Rows = Vec<(String, String, DeliveryStatus)>;

    /// A transport that answers with `reply` for each address and, before answering, reads
    /// the journal on its own connection: what it saw is kept in `seen`.
    struct Fake {
        state_dir: PathBuf,
        reply: fn(&str) -> Result<String, Failure>,
        /// (slug, address, every row's (slug, address, status) at the time of the call).
        seen: Mutex<Vec<(String, String, Rows)>>,
    }

    impl Fake {
        fn new(f: &Fixture, reply: fn(&str) -> Result<String, Failure>) -> Fake {
            Fake {
                state_dir: f.state_dir(),
                reply,
                seen: Mutex::new(Vec::new()),
            }
        }

        fn calls(&self) -> Vec<(String, String)> {
            let seen = self.seen.lock().unwrap();
            seen.iter()
                .map(|(s, a, _)| (s.clone(), a.clone()))
                .collect()
        }
    }

    impl Transport for Fake {
        fn send(&self, folder: &str, envelope: &Envelope, _raw: &[u8]) -> Result<String, Failure> {
            let db = Db::open(&self.state_dir).map_err(Failure::Local)?;
            let rows = db
                .conn
                .prepare("SELECT post_slug, email_norm, status FROM deliveries ORDER BY 1, 2")
                .unwrap()
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap();
            self.seen
                .lock()
                .unwrap()
                .push((folder.to_string(), envelope.to.clone(), rows));
            (self.reply)(&envelope.to)
        }
    }

    fn accept(_: &str) -> Result<String, Failure> {
        Ok("250 ok".into())
    }

    fn defer(_: &str) -> Result<String, Failure> {
        Err(Failure::Transient("451 try later".into()))
    }

    /// Each delivery is committed `sending` before the transport is called, and `sent` after;
    /// a worker's `sent` is durable before its next message goes out, so at most one
    /// delivery per worker is ever unconfirmed.
    #[test]
    fn a_row_is_sending_during_the_call_and_sent_after() {
        let f = Fixture::new(&["a@example.com", "b@example.com", "c@example.com"]);
        f.plan("one");
        let fake = Fake::new(&f, accept);
        let (outcome, events) = f.run(&fake, now(), 1);
        assert_eq!(
            outcome,
            Outcome {
                sent: 3,
                ..Default::default()
            }
        );
        let seen = fake.seen.lock().unwrap();
        assert_eq!(seen.len(), 3);
        for (i, (slug, to, rows)) in seen.iter().enumerate() {
            for (j, (s, a, status)) in rows.iter().enumerate() {
                let want = match j.cmp(&i) {
                    std::cmp::Ordering::Less => DeliveryStatus::Sent,
                    std::cmp::Ordering::Equal => DeliveryStatus::Sending,
                    std::cmp::Ordering::Greater => DeliveryStatus::Queued,
                };
                assert_eq!(*status, want, "{s} {a} while sending {slug} to {to}");
            }
        }
        for a in ["a@example.com", "b@example.com", "c@example.com"] {
            let (status, attempts, first) = row(&f.state_dir(), "one", a);
            assert_eq!(
                (status, attempts, first),
                (DeliveryStatus::Sent, 1, Some(now().timestamp()))
            );
        }
        assert!(events.iter().all(|(_, s)| *s == DeliveryStatus::Sent));
        assert_eq!(events.len(), 3);
    }

    /// A transient failure defers the delivery: the run tries it once per pass, then leaves
    /// it open; a later run sends it; one that finds it deferred for `retry_days` fails it
    /// without calling the transport.
    #[test]
    fn a_transient_failure_defers_and_a_later_run_retries_it() {
        let f = Fixture::new(&["a@example.com", "b@example.com"]);
        f.plan("one");
        let down = Fake::new(&f, defer);
        let (outcome, events) = f.run(&down, now(), 1);
        assert_eq!(
            outcome,
            Outcome {
                deferred: 2,
                ..Default::default()
            }
        );
        let passes = IN_RUN_BACKOFF.len() + 1;
        assert_eq!(down.calls().len(), 2 * passes);
        assert!(events.iter().all(|(_, s)| *s == DeliveryStatus::Deferred));
        let t0 = now().timestamp();
        assert_eq!(
            row(&f.state_dir(), "one", "a@example.com"),
            (DeliveryStatus::Deferred, passes as i64, Some(t0))
        );

        // An hour later the server is back: the next run sends both.
        let up = Fake::new(&f, accept);
        let (outcome, _) = f.run(&up, now() + chrono::Duration::hours(1), 1);
        assert_eq!(outcome.sent, 2);
        assert_eq!(outcome.deferred, 0);
        assert_eq!(
            row(&f.state_dir(), "one", "a@example.com").0,
            DeliveryStatus::Sent
        );

        // A delivery deferred since `retry_days` ago fails, and the transport is not called.
        f.plan("two");
        let (outcome, _) = f.run(&down, now(), 1);
        assert_eq!(outcome.deferred, 2);
        let retry_days = i64::from(f.config.newsletter.as_ref().unwrap().retry_days);
        let later = now() + chrono::Duration::seconds(retry_days * DAY);
        let untouched = Fake::new(&f, accept);
        let (outcome, events) = f.run(&untouched, later, 1);
        assert_eq!(
            outcome,
            Outcome {
                failed: 2,
                ..Default::default()
            }
        );
        assert!(untouched.calls().is_empty());
        assert!(events.iter().all(|(_, s)| *s == DeliveryStatus::Failed));
        assert_eq!(
            row(&f.state_dir(), "two", "b@example.com").0,
            DeliveryStatus::Failed
        );
    }

    /// A permanent failure fails the delivery and is not retried; one that refuses the
    /// address (a bounce) also suppresses it, so its next mail in the same run is cancelled
    /// without a call, and no later post is queued for it.
    #[test]
    fn a_permanent_failure_fails_and_a_bounce_suppresses_the_address() {
        fn refuse(to: &str) -> Result<String, Failure> {
            Err(Failure::Permanent {
                reply: format!("550 no such user {to}"),
                bounce: to.starts_with("gone"),
            })
        }
        let f = Fixture::new(&["gone@example.com", "full@example.com"]);
        f.plan("one");
        f.plan("two");
        let fake = Fake::new(&f, refuse);
        let (outcome, events) = f.run(&fake, now(), 1);
        assert_eq!(
            outcome,
            Outcome {
                failed: 3,
                cancelled: 1,
                bounced: 1,
                ..Default::default()
            }
        );
        let calls = fake.calls();
        assert_eq!(
            calls,
            [
                ("one".to_string(), "full@example.com".to_string()),
                ("one".to_string(), "gone@example.com".to_string()),
                ("two".to_string(), "full@example.com".to_string()),
            ]
        );
        assert_eq!(
            events.last(),
            Some(&(
                "two gone@example.com".to_string(),
                DeliveryStatus::Cancelled
            ))
        );
        let state = f.state_dir();
        assert_eq!(
            row(&state, "one", "gone@example.com").0,
            DeliveryStatus::Failed
        );
        assert_eq!(
            row(&state, "one", "full@example.com").0,
            DeliveryStatus::Failed
        );
        assert_eq!(
            row(&state, "two", "gone@example.com").0,
            DeliveryStatus::Cancelled
        );
        let db = f.db();
        let bounced = db
            .members(None, Some(crate::state::MemberStatus::Bounced))
            .unwrap();
        assert_eq!(bounced.len(), 1);
        assert_eq!(bounced[0].email, "gone@example.com");
        // Failed is final: nothing is open, and a new post is not queued for the bounced.
        assert_eq!(db.open_count().unwrap(), 0);
        assert_eq!(db.plan_campaign("three", &["all".into()], 0).unwrap(), 1);
    }

    /// The journal writer commits every request waiting for it in one transaction: when one
    /// mark of the batch cannot be written, none of the batch is, and every worker that sent
    /// one hears of it.
    #[test]
    fn the_marks_of_several_workers_are_committed_together() {
        let f = Fixture::new(&["a@example.com", "b@example.com", "c@example.com"]);
        f.plan("one");
        let db = f.db();
        let open = db.open_deliveries(None, 10).unwrap();
        assert_eq!(open.len(), 3);
        let batch = |writer: Db, marks: Vec<Mark>| -> Vec<Result<(), String>> {
            let (tx, rx) = mpsc::channel::<MarkRequest>();
            // Every request is waiting before the writer starts: it takes them as one batch.
            let answers: Vec<_> = open
                .iter()
                .zip(marks)
                .map(|(d, m)| {
                    let (done_tx, done_rx) = mpsc::sync_channel(1);
                    tx.send((vec![(d.clone(), m)], done_tx)).unwrap();
                    done_rx
                })
                .collect();
            drop(tx);
            journal_writer(writer, rx, now().timestamp());
            answers.into_iter().map(|r| r.recv().unwrap()).collect()
        };
        let sent = || vec![Mark::Sent("250 ok".into()); 3];

        // The third row cannot be written: the first two are not either.
        let writer = f.db();
        writer
            .conn
            .execute_batch(
                "CREATE TEMP TRIGGER boom BEFORE UPDATE ON deliveries
                 WHEN NEW.email_norm = 'c@example.com'
                 BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
            )
            .unwrap();
        let answers = batch(writer, sent());
        assert!(answers.iter().all(|a| a.is_err()), "{answers:?}");
        let counts = db.journal_counts().unwrap();
        assert_eq!(counts.get(DeliveryStatus::Queued), 3);

        // Without the fault, one batch writes all three.
        let answers = batch(f.db(), sent());
        assert!(answers.iter().all(|a| a.is_ok()), "{answers:?}");
        assert_eq!(db.journal_counts().unwrap().get(DeliveryStatus::Sent), 3);
    }

    /// Two workers: every message is sent once, and no row is left open or `sending`.
    #[test]
    fn concurrent_workers_send_each_delivery_once() {
        let addresses: Vec<String> = (0..40).map(|i| format!("r{i:02}@example.com")).collect();
        let refs: Vec<&str> = addresses.iter().map(String::as_str).collect();
        let f = Fixture::new(&refs);
        f.plan("one");
        f.plan("two");
        let fake = Fake::new(&f, accept);
        let (outcome, events) = f.run(&fake, now(), 2);
        assert_eq!(outcome.sent, 80);
        let mut calls = fake.calls();
        calls.sort();
        calls.dedup();
        assert_eq!(calls.len(), 80);
        assert_eq!(events.len(), 80);
        let counts = f.db().journal_counts().unwrap();
        assert_eq!(counts.get(DeliveryStatus::Sent), 80);
        assert_eq!(f.db().open_count().unwrap(), 0);
    }
}

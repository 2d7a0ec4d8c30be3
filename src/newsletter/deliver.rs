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

use super::render::{PostMailer, Recipient};
use crate::config::{Config, Newsletter};
use crate::error::{Error, Result};
use crate::state::journal::{Delivery, Mark};
use crate::state::{Db, DeliveryStatus, MemberStatus, tokens};
use crate::transport::{Failure, Transport};

/// Pauses before the second and third pass over deferred deliveries within one run.
const IN_RUN_BACKOFF: [Duration; 2] = [Duration::from_secs(1), Duration::from_secs(4)];
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
    pub mailers: &'a HashMap<String, PostMailer<'a>>,
    pub secret: &'a [u8; 32],
    pub now: DateTime<Utc>,
    pub concurrency: usize,
    pub on_event: &'a (dyn Fn(Event) + Sync),
}

/// The unsubscribe URL for an address and the lists that caused a mail.
pub fn unsubscribe_url(
    config: &Config,
    secret: &[u8; 32],
    email_norm: &str,
    lists: &[String],
) -> String {
    let token = tokens::sign_unsubscribe(secret, email_norm, lists);
    format!("{}unsubscribe?token={token}", config.serve.public_url)
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
    let url = unsubscribe_url(job.config, job.secret, &d.email_norm, &d.lists);
    let recipient = Recipient {
        email: &d.email,
        name: &d.name,
        list,
        unsubscribe_url: &url,
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
    let envelope = mailer.envelope(&recipient);
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

//! Delivery: the one place where the journal and the transport meet.
//!
//! The journal is walked in pages; `concurrency` workers each take one delivery at a time,
//! commit it as `sending`, hand it to the transport, and commit the result. So at any moment at
//! most `concurrency` deliveries are unconfirmed: after a crash, those (and only those) are sent
//! again. Transient failures are retried in the same run after a pause, then in later runs,
//! until `retry_days` have passed since the first attempt.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::render::{PostMailer, Recipient};
use crate::config::{Config, List};
use crate::error::{Error, Result};
use crate::state::journal::Delivery;
use crate::state::{Db, tokens};
use crate::transport::{Envelope, Failure, Transport};

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
    /// `sent`, `deferred`, `failed`, `cancelled`.
    pub status: &'static str,
    pub reply: &'a str,
}

/// Everything a delivery run needs.
pub struct Job<'a> {
    pub config: &'a Config,
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

/// Sends every open delivery in the journal.
pub fn deliver(job: &Job, state_dir: &Path) -> Result<Outcome> {
    let mut total = Outcome::default();
    // One pass, then one more after each pause while deliveries stay open.
    for pause in IN_RUN_BACKOFF.iter().map(Some).chain([None]) {
        let o = one_pass(job, state_dir)?;
        total.sent += o.sent;
        total.failed += o.failed;
        total.cancelled += o.cancelled;
        total.bounced += o.bounced;
        let open = Db::open(state_dir)?.open_count()?;
        total.deferred = open;
        match pause {
            Some(pause) if open > 0 => std::thread::sleep(*pause),
            _ => break,
        }
    }
    Ok(total)
}

fn one_pass(job: &Job, state_dir: &Path) -> Result<Outcome> {
    // One connection for the whole pass: workers take turns on it for their short
    // transactions, instead of contending for SQLite's write lock (and sleeping in its busy
    // handler) from separate connections.
    let db = Mutex::new(Db::open(state_dir)?);
    let stop = AtomicBool::new(false);
    let counts = [(); 5].map(|_| AtomicUsize::new(0));
    // Consecutive transient failures across workers: when the relay is down, every message
    // would fail the same way, so the pass stops and the rest wait, untouched, for a later run.
    let streak = AtomicUsize::new(0);
    let give_up_after = (job.concurrency * 3).max(6);
    let fatal: Mutex<Option<Error>> = Mutex::new(None);
    let (tx, rx) = mpsc::sync_channel::<Delivery>(job.concurrency * 4);
    let rx = Mutex::new(rx);
    std::thread::scope(|s| -> Result<()> {
        for _ in 0..job.concurrency.max(1) {
            s.spawn(|| {
                loop {
                    let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(d) = next else { break };
                    if stop.load(Ordering::SeqCst) {
                        continue;
                    }
                    match one(job, &db, &d) {
                        Ok(k) => {
                            counts[k].fetch_add(1, Ordering::SeqCst);
                            if k == DEFERRED {
                                if streak.fetch_add(1, Ordering::SeqCst) + 1 >= give_up_after {
                                    stop.store(true, Ordering::SeqCst);
                                }
                            } else {
                                streak.store(0, Ordering::SeqCst);
                            }
                        }
                        Err(e) => {
                            stop.store(true, Ordering::SeqCst);
                            fatal
                                .lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .get_or_insert(e);
                        }
                    }
                }
            });
        }
        let mut after: Option<(String, String)> = None;
        'pages: loop {
            let page = db
                .lock()
                .unwrap_or_else(|p| p.into_inner())
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
    let [sent, deferred, failed, cancelled, bounced] = counts.map(|c| c.into_inner());
    Ok(Outcome {
        sent,
        deferred,
        failed: failed + bounced,
        cancelled,
        bounced,
    })
}

const SENT: usize = 0;
const DEFERRED: usize = 1;
const FAILED: usize = 2;
const CANCELLED: usize = 3;
const BOUNCED: usize = 4;

/// Handles one delivery; returns which counter it adds to. An `Err` stops the run.
fn one(job: &Job, shared: &Mutex<Db>, d: &Delivery) -> Result<usize> {
    let db = || shared.lock().unwrap_or_else(|p| p.into_inner());
    let now = job.now.timestamp();
    let report = |status: &'static str, reply: &str| {
        (job.on_event)(Event {
            delivery: d,
            status,
            reply,
        })
    };
    if d.subscriber_status != "active" {
        let why = format!("not sent: the address is {}", d.subscriber_status);
        db().mark_cancelled(d, &why, now)?;
        report("cancelled", &why);
        return Ok(CANCELLED);
    }
    let Some(n) = &job.config.newsletter else {
        return Ok(CANCELLED);
    };
    let lists: Vec<&List> = n.lists.iter().filter(|l| d.lists.contains(&l.id)).collect();
    let Some(mailer) = job.mailers.get(&d.post_slug).filter(|_| !lists.is_empty()) else {
        let why = "not sent: the post or its lists are no longer published";
        db().mark_cancelled(d, why, now)?;
        report("cancelled", why);
        return Ok(CANCELLED);
    };
    if d.status == "deferred"
        && let Some(first) = d.first_attempt
        && now - first >= i64::from(n.retry_days) * 86_400
    {
        let why = format!("gave up after {} days of temporary failures", n.retry_days);
        db().mark_failed(d, &why, now)?;
        report("failed", &why);
        return Ok(FAILED);
    }
    let url = unsubscribe_url(job.config, job.secret, &d.email_norm, &d.lists);
    let raw = mailer.message(&Recipient {
        email: &d.email,
        name: &d.name,
        lists: &lists,
        unsubscribe_url: &url,
    })?;
    let envelope = Envelope {
        from: n.from.email.clone().unwrap_or_default(),
        to: d.email.clone(),
    };
    db().mark_sending(d, now)?;
    match job.transport.send(&d.post_slug, &envelope, &raw) {
        Ok(reply) => {
            db().mark_sent(d, &reply, now)?;
            report("sent", &reply);
            Ok(SENT)
        }
        Err(Failure::Transient(reply)) => {
            db().mark_deferred(d, &reply, now)?;
            report("deferred", &reply);
            Ok(DEFERRED)
        }
        Err(Failure::Permanent { reply, bounce }) => {
            db().mark_failed(d, &reply, now)?;
            if bounce {
                db().mark_bounced(&d.email_norm, &reply, now)?;
            }
            report("failed", &reply);
            Ok(if bounce { BOUNCED } else { FAILED })
        }
        Err(Failure::Local(e)) => {
            // Not delivered: keep it for a later run, and stop this one.
            db().mark_deferred(d, &e.to_string(), now)?;
            Err(e)
        }
    }
}

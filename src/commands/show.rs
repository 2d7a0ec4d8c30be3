//! How `build` and `publish` show the events of [`crate::site`]: result lines on stdout,
//! log lines, warnings and progress bars on stderr.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::ProgressBar;

use super::Ui;
use crate::config::Config;
use crate::error::{Error, Result, cut};
use crate::site::{BuildReport, DigestCampaign, Event, Phase, Progress};
use crate::state::DeliveryStatus;

/// Problem deliveries named one by one in the log; the rest are counted.
const MAX_LOGGED: usize = 20;

/// The `-v` line of a run that found nothing changed since the last build.
const UNCHANGED: &str = "nothing changed since the last build: no post loaded";

/// Turns events into lines as they come.
pub(super) struct Printer<'a> {
    ui: Ui,
    config: &'a Config,
    /// The current phase's bar (hidden off a terminal, or between phases).
    bar: Mutex<ProgressBar>,
    /// Delivery problems seen; under cron every line is mailed to the owner, so only the first
    /// [`MAX_LOGGED`] are named (all of them with -v).
    problems: AtomicUsize,
    /// The first failed write to stdout: events cannot return it, so [`Printer::printed`] does.
    failed: Mutex<Option<Error>>,
}

impl<'a> Printer<'a> {
    pub(super) fn new(ui: Ui, config: &'a Config) -> Printer<'a> {
        Printer {
            ui,
            config,
            bar: Mutex::new(ProgressBar::hidden()),
            problems: AtomicUsize::new(0),
            failed: Mutex::new(None),
        }
    }

    /// After a delivery run: a warning that counts the problems the log did not name (with -v
    /// it named them all).
    pub(super) fn unnamed_problems(&self) {
        let problems = self.problems.load(Ordering::Relaxed);
        if problems > MAX_LOGGED && !self.ui.verbose {
            self.ui.warn(format!(
                "… and {} more not sent; `herald status` lists them",
                problems - MAX_LOGGED
            ));
        }
    }

    /// Whether every result line reached stdout: the first failure if not
    /// ([`Error::StdoutClosed`] when the reader went away).
    pub(super) fn printed(&self) -> Result<()> {
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// A result line on stdout; once one fails, the rest are dropped.
    fn out(&self, line: String) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        if failed.is_none()
            && let Err(e) = self.ui.out(line)
        {
            *failed = Some(e);
        }
    }

    fn bar(&self) -> ProgressBar {
        self.bar.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Progress for Printer<'_> {
    fn event(&self, event: Event<'_>) {
        let ui = &self.ui;
        match event {
            Event::Unchanged => ui.detail(UNCHANGED),
            // Only `build` reports them; `publish` leaves them to `check`.
            Event::ContentWarning(w) => ui.detail(format!("warning: {w}")),
            Event::Started { phase, len } => {
                let what = match phase {
                    Phase::Writing => "writing",
                    Phase::Sending => "sending",
                };
                *self.bar.lock().unwrap_or_else(|p| p.into_inner()) = ui.progress(len, what);
            }
            Event::Step => self.bar().inc(1),
            Event::Finished(_) => self.bar().finish_and_clear(),
            // The -v lines of every file and delivery are made only when shown.
            Event::Wrote(path) if ui.verbose => {
                ui.detail(format!("wrote {}", self.config.display(path).display()));
            }
            Event::Wrote(_) => {}
            Event::Built(report) => self.out(built(report)),
            Event::FeedsChecked(check) => {
                for path in &check.would_write {
                    self.out(format!(
                        "would write {}",
                        self.config.display(path).display()
                    ));
                }
                self.out(format!(
                    "feeds: {} of {} files would change",
                    check.would_write.len(),
                    check.files
                ));
            }
            Event::CsvProblem(p) => ui.warn(p.to_string()),
            Event::CsvMerged { path, merged: m } => ui.detail(format!(
                "{}: {} added, {} removed, {} skipped (unsubscribed, bounced or complained)",
                self.config.display(path).display(),
                m.added,
                m.removed,
                m.suppressed
            )),
            Event::Late(l) => ui.warn(format!(
                "not mailing \"{}\" ({}): it became mailable {} after it was due, more than \
                 newsletter.max_lateness; `herald publish --send-late {}` mails it",
                cut(&l.title),
                cut(&l.slug),
                crate::dates::span(l.late_by),
                cut(&l.slug)
            )),
            Event::Digests(digests) => {
                for d in digests {
                    let name = digest_name(self.config, d);
                    ui.log(match d.posts.len() {
                        0 => format!("{name}: no new post, no mail"),
                        n => format!("{name}: {}, {} recipients", posts(n), d.recipients),
                    });
                }
            }
            Event::Planned(campaigns) => {
                for c in campaigns {
                    ui.log(format!(
                        "\"{}\": {} recipients",
                        cut(&c.title),
                        c.recipients
                    ));
                }
            }
            Event::Returned(r) => {
                if r.processed() || r.again {
                    ui.detail(format!("returned mail: {}", r.describe()));
                } else {
                    ui.log(format!("returned mail: {}", r.describe()));
                }
            }
            Event::ReturnedFetched(f) => {
                let line = format!(
                    "returned mail: {}; {} processed, {} left in the mailbox",
                    f.summary.line(),
                    f.processed,
                    f.left
                );
                if f.summary.read > 0 {
                    ui.log(line);
                } else {
                    ui.detail(line);
                }
            }
            Event::ReturnedFailed(e) => ui.warn(format!(
                "returned mail not read: {e}; the run goes on, the next one tries again"
            )),
            Event::Delivery(e) => {
                let bar = self.bar();
                bar.inc(1);
                if e.status == DeliveryStatus::Cancelled {
                    if !ui.verbose {
                        return;
                    }
                    ui.detail(format!(
                        "{} for {}: {}",
                        cut(&e.delivery.email),
                        cut(&e.delivery.post_slug),
                        e.reply
                    ));
                } else if e.status != DeliveryStatus::Sent {
                    // A problem: shown even with -q, so that cron mails it to the owner.
                    if self.problems.fetch_add(1, Ordering::Relaxed) < MAX_LOGGED || ui.verbose {
                        bar.suspend(|| {
                            ui.warn(format!(
                                "{} {} for {}: {}",
                                cut(&e.delivery.email),
                                e.status,
                                cut(&e.delivery.post_slug),
                                e.reply
                            ))
                        });
                    }
                } else if ui.verbose {
                    ui.detail(format!(
                        "sent {} to {}",
                        cut(&e.delivery.post_slug),
                        cut(&e.delivery.email)
                    ));
                }
            }
        }
    }
}

/// The line a build ends with.
fn built(r: &BuildReport) -> String {
    format!(
        "built {} posts, {} tags: {} files written, {} unchanged{}",
        r.posts,
        r.tags,
        r.written,
        r.unchanged,
        if r.removed > 0 {
            format!(", {} removed", r.removed)
        } else {
            String::new()
        }
    )
}

/// How lines name a digest: `digest weekly of 2026-12-07 08:00 GMT` (the slot in the site's
/// time zone).
pub fn digest_name(config: &Config, d: &DigestCampaign) -> String {
    let slot = d.slot.with_timezone(&config.site.timezone);
    format!("digest {} of {}", d.list, slot.format("%Y-%m-%d %H:%M %Z"))
}

/// `1 post`, `3 posts`.
pub fn posts(n: usize) -> String {
    format!("{n} post{}", if n == 1 { "" } else { "s" })
}

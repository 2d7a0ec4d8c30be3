//! What herald does to a site, as a library: [`Site::build`] writes the feeds;
//! [`Site::publish`] builds, merges the list CSVs, fixes the recipients of each newly mailable
//! post and sends every open delivery through the journal; [`Site::dry_run`] plans all that and
//! writes nothing; [`Site::preview`] renders one mail or sends it as a test.
//!
//! Each returns plain data (a report); `build`, `publish` and `dry_run` also tell a
//! [`Progress`] what happens along the way, as [`Event`]s, at the moment it happens. Nothing here prints: the commands turn events and
//! reports into lines and exit statuses.

mod build;
mod publish;

use std::path::Path;

use chrono::{DateTime, Utc};

pub use build::BuildReport;
pub use publish::{
    Campaign, DigestCampaign, DryRun, FeedCheck, LatePost, MailPlan, Mailing, PlannedDigest,
    PlannedMail, Preview, PublishReport,
};

use crate::config::Config;
use crate::error::Diagnostic;
use crate::newsletter::deliver;
use crate::state::subscribers::Merged;

/// A loaded config and the run's one clock reading.
#[derive(Debug, Clone, Copy)]
pub struct Site<'a> {
    pub config: &'a Config,
    /// `--now`, or the clock: every decision of the run uses this instant.
    pub now: DateTime<Utc>,
}

impl<'a> Site<'a> {
    pub fn new(config: &'a Config, now: DateTime<Utc>) -> Site<'a> {
        Site { config, now }
    }
}

/// A stretch of work with a known number of steps (a progress bar's worth).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Writing feed files: one [`Event::Step`] per file.
    Writing,
    /// Sending the open deliveries: one [`Event::Delivery`] per delivery.
    Sending,
}

/// Something that happened during an operation, reported when it happens.
#[derive(Debug)]
pub enum Event<'a> {
    /// The build stamp matched: nothing changed since the last build, so no post was loaded
    /// and no feed rendered.
    Unchanged,
    /// A post problem that does not stop the build.
    ContentWarning(&'a Diagnostic),
    /// A [`Phase`] of `len` steps begins.
    Started { phase: Phase, len: u64 },
    /// One step of [`Phase::Writing`] is done (reported from several threads at once).
    Step,
    /// The phase's steps are done.
    Finished(Phase),
    /// A feed file was written (its path; files found unchanged are not reported).
    Wrote(&'a Path),
    /// The feeds are written, or were found as the last build left them.
    Built(&'a BuildReport),
    /// `--dry-run`: the feed files that would change.
    FeedsChecked(&'a FeedCheck),
    /// A list CSV row is invalid and was skipped; the run goes on.
    CsvProblem(&'a Diagnostic),
    /// A list CSV was merged (not reported for a CSV unchanged since its last merge).
    CsvMerged { path: &'a Path, merged: &'a Merged },
    /// The recipients of these posts were fixed, oldest post first (reported whenever the run
    /// loaded the posts, even if no post became mailable).
    Planned(&'a [Campaign]),
    /// A post newly found too late to mail (it is recorded as skipped).
    Late(&'a LatePost),
    /// Digest slots this run fixed, in config order (reported when some slot came).
    Digests(&'a [DigestCampaign]),
    /// One delivery was dealt with (reported from the delivery workers).
    Delivery(deliver::Event<'a>),
    /// One message of the IMAP mailbox of returned mail was read (at the start of a
    /// publish).
    Returned(&'a crate::bounces::Read),
    /// The IMAP mailbox of returned mail was read: what it held and what was done with it.
    ReturnedFetched(&'a crate::bounces::imap::Fetched),
    /// The IMAP mailbox of returned mail could not be read; the run went on.
    ReturnedFailed(&'a crate::error::Error),
}

/// Where an operation reports its [`Event`]s. Shared by worker threads.
pub trait Progress: Sync {
    fn event(&self, event: Event<'_>);
}

impl<F: Fn(Event<'_>) + Sync> Progress for F {
    fn event(&self, event: Event<'_>) {
        self(event)
    }
}

/// Ignores every event.
impl Progress for () {
    fn event(&self, _: Event<'_>) {}
}

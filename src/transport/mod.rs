//! Transports, one interface: a transport takes an envelope and the raw bytes of a message and
//! either delivers them or says why not, as a transient (retry) or permanent (give up) failure.
//!
//! | transport | what it does |
//! |---|---|
//! | [`Outbox`] | writes `outbox/<folder>/<address>.eml` atomically (the default: nothing is mailed by accident) |
//! | [`Smtp`] | lettre's SMTP client on up to `concurrency` connections of herald's own, each kept open and reused: STARTTLS, implicit TLS or (loopback only) plain |
//!
//! Knows envelopes and bytes, never posts or lists.

mod outbox;
mod smtp;

pub use outbox::Outbox;
use outbox::unwritable_dir;
pub use smtp::Smtp;

use crate::config::{self, Config};
use crate::error::{Error, Result};

/// Who the message is from and to, for the SMTP envelope (bare addresses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub from: String,
    pub to: String,
}

/// Why a message was not delivered.
#[derive(Debug)]
pub enum Failure {
    /// 4xx, a timeout or a dropped connection: try again later.
    Transient(String),
    /// 5xx: do not try again. `bounce` is true when the server refused the recipient
    /// (550, 551, 553): the address is suppressed.
    Permanent { reply: String, bounce: bool },
    /// A local failure (disk full, no permission) that will hit every message: stop the run.
    Local(Error),
}

/// A way to deliver messages. Implementations are shared across worker threads.
pub trait Transport: Send + Sync {
    /// Delivers `raw`. `folder` groups messages in the outbox (a post slug, `confirm`,
    /// `preview`); SMTP ignores it. Returns the server's reply on success.
    fn send(&self, folder: &str, envelope: &Envelope, raw: &[u8]) -> Result<String, Failure>;
}

/// Checks, before anything is written, that every message and preview the outbox may hold
/// can be written (see [`unwritable_dir`]); an error names the config's `outbox_dir` line.
pub fn check_outbox(config: &Config) -> Result<()> {
    let Some(n) = &config.newsletter else {
        return Ok(());
    };
    let Some(why) = unwritable_dir(&n.outbox_dir) else {
        return Ok(());
    };
    Err(Error::at(
        config.location(&["newsletter", "outbox_dir"]),
        format!("`newsletter.outbox_dir` cannot hold every message: {why}"),
    ))
}

/// The transport the config asks for.
pub fn from_config(config: &Config) -> Result<Box<dyn Transport>> {
    let Some(n) = &config.newsletter else {
        return Err(Error::msg(format!(
            "{}: no `newsletter:` section, so there is no transport to send mail with",
            config.shown_file().display()
        )));
    };
    match &n.transport {
        config::Transport::Outbox => {
            let outbox = Outbox::new(n.outbox_dir.clone());
            Ok(Box::new(match n.return_path {
                Some(_) => outbox.recording_return_path(),
                None => outbox,
            }))
        }
        config::Transport::Smtp(smtp) => Ok(Box::new(Smtp::new(smtp)?)),
    }
}

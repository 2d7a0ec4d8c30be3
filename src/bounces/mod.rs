//! Returned mail: bounces, complaints and auto-replies, read from the IMAP mailbox of
//! `newsletter.bounces.imap` ([`imap`]) or from files ([`files`]: one message, an mbox, a
//! Maildir), understood ([`parse`]), attributed to the delivery they are about, and recorded
//! with their effect ([`crate::state::bounces`]).
//!
//! Attribution, in order:
//!
//! 1. a VERP token (`newsletter::verp`) anywhere in the message, verified with the site
//!    secret: the subscriber and the campaign. A token-shaped tag that does not verify (forged,
//!    altered, another site's) makes the message unattributable: nothing else is tried;
//! 2. the original's `Message-ID`, which herald makes from (campaign, address): matched
//!    against the campaigns sent to a recipient the report names, or, when it names none
//!    herald knows, against every delivery that went out;
//! 3. a recipient the report names that is a subscriber herald mailed: its newest campaign.
//!
//! Whatever is attributed to nobody changes no subscriber: it is recorded as unattributable
//! (counted once, in `status`) and, in IMAP, left where it is.

pub mod files;
pub mod imap;
pub mod parse;

use std::cell::OnceCell;

use serde::Serialize;

use crate::config::{Config, Newsletter};
use crate::error::{Error, Result};
use crate::newsletter::{render, verp};
use crate::state::bounces::{Recorded, Returned, ReturnedKind};
use crate::state::{Db, MemberStatus, normalize, secret};
use parse::{Parsed, Verdict};

/// The largest message herald reads (a bounce quotes the original, which may carry large
/// parts); a larger one is left alone.
pub const MAX_MESSAGE: usize = 25 * 1024 * 1024;

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// The report's identity.
    pub id: String,
    /// What it was recorded as (now, or the first time when `again`).
    pub kind: ReturnedKind,
    /// It had been read before: nothing changed.
    pub again: bool,
    /// Whom it is about.
    pub email: Option<String>,
    /// Which campaign it is about.
    pub campaign: Option<String>,
    /// `5.1.1`, `abuse`.
    pub code: Option<String>,
    /// The relay's words, or why it was not attributed or ignored.
    pub detail: String,
    /// The subscriber's new status, when it changed.
    pub changed: Option<MemberStatus>,
}

impl Read {
    /// Whether herald dealt with the message (IMAP moves or deletes it); else it is left
    /// where it is.
    pub fn processed(&self) -> bool {
        self.kind != ReturnedKind::Unattributable
    }

    /// One line for logs: `hard bounce 5.1.1 for a@b.c (post): ...`.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            ReturnedKind::Hard => "hard bounce",
            ReturnedKind::Soft => "soft bounce",
            ReturnedKind::Complaint => "complaint",
            ReturnedKind::Ignored => "not a bounce",
            ReturnedKind::Unattributable => "unattributable",
        };
        let mut line = what.to_string();
        if let Some(code) = &self.code {
            line.push_str(&format!(" {}", crate::error::cut(code)));
        }
        if let Some(email) = &self.email {
            line.push_str(&format!(" for {}", crate::error::cut(email)));
        }
        if let Some(c) = &self.campaign {
            line.push_str(&format!(" ({})", crate::error::cut(c)));
        }
        if self.again {
            line.push_str(": read before, nothing changed");
        } else {
            if let Some(s) = self.changed {
                line.push_str(&format!(": now {s}"));
            }
            if !self.detail.is_empty() {
                line.push_str(&format!(": {}", crate::error::cut(&self.detail)));
            }
        }
        line
    }
}

/// What a batch of messages did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Messages read.
    pub read: usize,
    pub hard: usize,
    pub soft: usize,
    pub complaints: usize,
    /// Auto-replies, delay warnings, reports of other kinds.
    pub ignored: usize,
    /// Read before: nothing changed.
    pub again: usize,
    /// Attributed to nobody; left alone.
    pub unattributable: usize,
    /// Subscribers that became `bounced`.
    pub bounced: usize,
    /// Subscribers that became `complained`.
    pub complained: usize,
}

impl Summary {
    pub fn add(&mut self, r: &Read) {
        self.read += 1;
        if r.again {
            self.again += 1;
        } else {
            match r.kind {
                ReturnedKind::Hard => self.hard += 1,
                ReturnedKind::Soft => self.soft += 1,
                ReturnedKind::Complaint => self.complaints += 1,
                ReturnedKind::Ignored => self.ignored += 1,
                ReturnedKind::Unattributable => self.unattributable += 1,
            }
        }
        match r.changed {
            Some(MemberStatus::Bounced) => self.bounced += 1,
            Some(MemberStatus::Complained) => self.complained += 1,
            _ => {}
        }
    }

    /// `3 read: 1 hard bounce, 2 unattributable; 1 address now bounced`: the counts that
    /// are not zero.
    pub fn line(&self) -> String {
        let parts: Vec<String> = [
            (self.hard, "hard bounce"),
            (self.soft, "soft bounce"),
            (self.complaints, "complaint"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| plural(*n, what))
        .chain(
            [
                (self.ignored, "ignored (auto-replies, delay warnings)"),
                (self.again, "read before"),
                (self.unattributable, "unattributable"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}")),
        )
        .collect();
        let mut line = format!("{} read", self.read);
        if !parts.is_empty() {
            line.push_str(&format!(": {}", parts.join(", ")));
        }
        let changed: Vec<String> = [(self.bounced, "bounced"), (self.complained, "complained")]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{} now {what}", plural(*n, "address")))
            .collect();
        if !changed.is_empty() {
            line.push_str(&format!("; {}", changed.join(", ")));
        }
        line
    }
}

/// `1 hard bounce`, `2 hard bounces`, `3 addresses`.
pub fn plural(n: impl std::fmt::Display, what: &str) -> String {
    let n = n.to_string();
    match (n.as_str(), what.ends_with('s')) {
        ("1", _) => format!("1 {what}"),
        (_, true) => format!("{n} {what}es"),
        _ => format!("{n} {what}s"),
    }
}

/// Whom a report was attributed to.
struct Attribution {
    email: String,
    campaign: Option<String>,
}

/// Reads returned mail into one state.
pub struct Reader<'a> {
    db: &'a Db,
    secret: [u8; 32],
    /// The domain of herald's Message-IDs.
    domain: String,
    soft_limit: u32,
    now: i64,
    /// Campaign keys, newest first, read on first use.
    campaigns: OnceCell<Vec<String>>,
}

impl<'a> Reader<'a> {
    pub fn new(config: &Config, n: &Newsletter, db: &'a Db, now: i64) -> Result<Reader<'a>> {
        let domain = n
            .from
            .email
            .rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .unwrap_or_default();
        Ok(Reader {
            db,
            secret: secret::load_or_create(&config.state_dir)?,
            domain,
            soft_limit: n.soft_bounce_limit,
            now,
            campaigns: OnceCell::new(),
        })
    }

    /// Reads one message (any bytes) and records what it says; `Err` only when the state
    /// cannot be read or written.
    pub fn read(&self, raw: &[u8]) -> Result<Read> {
        if raw.len() > MAX_MESSAGE {
            let id = format!("sha256:{}", hex_digest(raw));
            return self.record(
                &id,
                ReturnedKind::Unattributable,
                None,
                None,
                None,
                &format!("larger than {} MiB", MAX_MESSAGE >> 20),
            );
        }
        let parsed = parse::parse(raw);
        // Read before: say so without looking further.
        if let Some(kind) = self.db.returned_kind(&parsed.id)? {
            return Ok(Read {
                id: parsed.id,
                kind,
                again: true,
                email: None,
                campaign: None,
                code: None,
                detail: String::new(),
                changed: None,
            });
        }
        let code = parsed.code.as_deref();
        let kind = match &parsed.verdict {
            Verdict::Hard => ReturnedKind::Hard,
            Verdict::Soft => ReturnedKind::Soft,
            Verdict::Complaint => ReturnedKind::Complaint,
            Verdict::Ignored(why) => {
                return self.record(&parsed.id, ReturnedKind::Ignored, None, None, code, why);
            }
            Verdict::Unknown(why) => {
                return self.record(
                    &parsed.id,
                    ReturnedKind::Unattributable,
                    None,
                    None,
                    code,
                    why,
                );
            }
        };
        match self.attribute(&parsed)? {
            Ok(a) => self.record(
                &parsed.id,
                kind,
                Some(&a.email),
                a.campaign.as_deref(),
                code,
                &parsed.detail,
            ),
            Err(why) => self.record(
                &parsed.id,
                ReturnedKind::Unattributable,
                None,
                None,
                code,
                why,
            ),
        }
    }

    /// A report that names nothing and changes nothing, under its own id (a message too large
    /// to read).
    pub fn unreadable(&self, id: &str, why: &str) -> Result<Read> {
        self.record(id, ReturnedKind::Unattributable, None, None, None, why)
    }

    fn record(
        &self,
        id: &str,
        kind: ReturnedKind,
        email: Option<&str>,
        campaign: Option<&str>,
        code: Option<&str>,
        detail: &str,
    ) -> Result<Read> {
        let r = Returned {
            report: id,
            kind,
            email_norm: email,
            campaign,
            code,
            detail,
        };
        let (kind, again, changed) = match self.db.record_returned(&r, self.soft_limit, self.now)? {
            Recorded::Again(k) => (k, true, None),
            Recorded::New(changed) => (kind, false, changed),
        };
        Ok(Read {
            id: id.to_string(),
            kind,
            again,
            email: email.map(str::to_string),
            campaign: campaign.map(str::to_string),
            code: code.map(str::to_string),
            detail: detail.to_string(),
            changed,
        })
    }

    fn campaigns(&self) -> Result<&[String]> {
        if let Some(c) = self.campaigns.get() {
            return Ok(c);
        }
        let keys = self.db.campaign_keys()?;
        Ok(self.campaigns.get_or_init(|| keys))
    }

    /// The newest campaign that went out to `email`.
    fn latest_campaign(&self, email: &str) -> Result<Option<String>> {
        for c in self.campaigns()? {
            if self.db.delivered(c, email)? {
                return Ok(Some(c.clone()));
            }
        }
        Ok(None)
    }

    /// Whom `p` is about (see the module's text), or why nobody.
    fn attribute(&self, p: &Parsed) -> Result<std::result::Result<Attribution, &'static str>> {
        // 1. VERP.
        if !p.tokens.is_empty() {
            let Some(named) = p.tokens.iter().find_map(|t| verp::verify(&self.secret, t)) else {
                return Ok(Err(
                    "its VERP token is not this site's (forged, altered, or another site's)",
                ));
            };
            let Some(email) = self.db.subscriber_by_key_prefix(&named.key_prefix)? else {
                return Ok(Err(
                    "its VERP token names a subscriber this site no longer has",
                ));
            };
            let mut campaign = None;
            for c in self.campaigns()? {
                if verp::campaign_hash(c) == named.campaign_hash && self.db.delivered(c, &email)? {
                    campaign = Some(c.clone());
                    break;
                }
            }
            if campaign.is_none() {
                campaign = self.latest_campaign(&email)?;
            }
            return Ok(Ok(Attribution { email, campaign }));
        }
        // 2. The original's Message-ID.
        let ours: Vec<String> = p
            .message_ids
            .iter()
            .filter(|id| self.herald_message_id(id))
            .map(|id| format!("<{}>", id.to_ascii_lowercase()))
            .collect();
        if !ours.is_empty() {
            let mut known = Vec::new();
            for r in &p.recipients {
                if self.db.is_subscriber(&normalize(r))? {
                    known.push(normalize(r));
                }
            }
            for email in &known {
                for c in self.campaigns()? {
                    let id = render::message_id(c, email, &self.domain).to_ascii_lowercase();
                    if ours.contains(&id) && self.db.delivered(c, email)? {
                        return Ok(Ok(Attribution {
                            email: email.clone(),
                            campaign: Some(c.clone()),
                        }));
                    }
                }
            }
            if known.is_empty() {
                let mut found = None;
                self.db.each_delivered(&mut |campaign, email| {
                    let id = render::message_id(campaign, email, &self.domain);
                    if ours.contains(&id.to_ascii_lowercase()) {
                        found = Some(Attribution {
                            email: email.to_string(),
                            campaign: Some(campaign.to_string()),
                        });
                        return false;
                    }
                    true
                })?;
                if let Some(a) = found {
                    return Ok(Ok(a));
                }
            }
        }
        // 3. A recipient herald mailed.
        for r in &p.recipients {
            let email = normalize(r);
            if self.db.is_subscriber(&email)?
                && let Some(campaign) = self.latest_campaign(&email)?
            {
                return Ok(Ok(Attribution {
                    email,
                    campaign: Some(campaign),
                }));
            }
        }
        Ok(Err(
            "it names no VERP token, Message-ID or recipient of mail this site sent",
        ))
    }

    /// Whether `id` (without angle brackets) has the form of herald's Message-IDs for this
    /// site: 32 hex digits at the sender's domain.
    fn herald_message_id(&self, id: &str) -> bool {
        id.split_once('@').is_some_and(|(local, domain)| {
            local.len() == 32
                && local.bytes().all(|b| b.is_ascii_hexdigit())
                && domain.eq_ignore_ascii_case(&self.domain)
        })
    }
}

fn hex_digest(raw: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(raw))
}

/// The newsletter section, or an error saying there is none to read returned mail for.
pub fn newsletter(config: &Config) -> Result<&Newsletter> {
    config.newsletter.as_ref().ok_or_else(|| {
        Error::msg(format!(
            "{}: no `newsletter:` section, so there is no returned mail to read",
            config.shown_file().display()
        ))
    })
}

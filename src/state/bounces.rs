//! Returned mail: every report read, once (its id is the key, so reading it again changes
//! nothing), the soft bounces per (address, campaign), the IMAP messages left in their folder,
//! and what a report does to its subscriber:
//!
//! - a hard bounce makes an `active` or `pending` address `bounced`;
//! - a soft bounce is kept per (address, campaign); when the address's `limit` newest
//!   campaigns that went out to it (`sent` in the journal) all soft-bounced, it is `bounced`.
//!   A newer campaign that went out and did not bounce breaks the row;
//! - a complaint makes the address `complained`, whatever it was.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, MemberStatus};
use crate::error::Result;

/// What a report was recorded as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReturnedKind {
    Hard,
    Soft,
    Complaint,
    /// Understood and of no consequence: an auto-reply, a delay warning.
    Ignored,
    /// Nobody herald mailed could be named: it changed nothing.
    Unattributable,
}

impl ReturnedKind {
    pub const ALL: [ReturnedKind; 5] = [
        ReturnedKind::Hard,
        ReturnedKind::Soft,
        ReturnedKind::Complaint,
        ReturnedKind::Ignored,
        ReturnedKind::Unattributable,
    ];

    /// The word the schema's CHECK lists.
    pub fn as_str(self) -> &'static str {
        match self {
            ReturnedKind::Hard => "hard",
            ReturnedKind::Soft => "soft",
            ReturnedKind::Complaint => "complaint",
            ReturnedKind::Ignored => "ignored",
            ReturnedKind::Unattributable => "unattributable",
        }
    }

    fn parse(s: &str) -> Option<ReturnedKind> {
        ReturnedKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One report to record.
#[derive(Debug, Clone)]
pub struct Returned<'a> {
    /// The report's identity (see `bounces::parse`).
    pub report: &'a str,
    pub kind: ReturnedKind,
    /// Whom it is about (hard, soft, complaint).
    pub email_norm: Option<&'a str>,
    /// Which campaign it is about, when known (always for a soft bounce).
    pub campaign: Option<&'a str>,
    /// `5.1.1`, `abuse`.
    pub code: Option<&'a str>,
    /// One line of the relay's words, kept as the subscriber's reason.
    pub detail: &'a str,
}

/// What recording a report did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Read before: nothing changed. What it was recorded as then.
    Again(ReturnedKind),
    /// Recorded now; the subscriber's new status, if it changed.
    New(Option<MemberStatus>),
}

/// Returned mail for `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReturnedSummary {
    /// Reports ever recorded, by kind.
    pub hard: i64,
    pub soft: i64,
    pub complaints: i64,
    pub ignored: i64,
    pub unattributable: i64,
    /// Since the start of the window (the last 30 days).
    pub recent_hard: i64,
    pub recent_soft: i64,
    pub recent_complaints: i64,
    /// Messages that went out (journal rows marked `sent`) in the window.
    pub recent_sent: i64,
}

impl Db {
    /// Records `r` and applies it to its subscriber, in one transaction; a report recorded
    /// before changes nothing. `soft_limit`: `newsletter.soft_bounce_limit`.
    pub fn record_returned(&self, r: &Returned<'_>, soft_limit: u32, now: i64) -> Result<Recorded> {
        let run = || -> rusqlite::Result<Recorded> {
            let tx = self.write_transaction()?;
            let before: Option<String> = tx
                .query_row(
                    "SELECT kind FROM returned_mail WHERE report = ?1",
                    [r.report],
                    |row| row.get(0),
                )
                .optional()?;
            if let Some(kind) = before {
                return Ok(Recorded::Again(
                    ReturnedKind::parse(&kind).unwrap_or(ReturnedKind::Unattributable),
                ));
            }
            tx.execute(
                "INSERT INTO returned_mail (report, kind, email_norm, campaign, code, detail, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    r.report,
                    r.kind.as_str(),
                    r.email_norm,
                    r.campaign,
                    r.code,
                    r.detail,
                    now
                ],
            )?;
            let changed = match (r.kind, r.email_norm) {
                (ReturnedKind::Hard, Some(email)) => {
                    let reason = format!("bounced: {}", r.detail);
                    self.bounce(email, &reason, now)?
                }
                (ReturnedKind::Soft, Some(email)) => {
                    if let Some(campaign) = r.campaign {
                        tx.execute(
                            "INSERT OR IGNORE INTO soft_bounces (email_norm, campaign, at) VALUES (?1, ?2, ?3)",
                            params![email, campaign, now],
                        )?;
                    }
                    let in_a_row = self.soft_bounces_in_a_row(email, soft_limit)?;
                    if in_a_row >= soft_limit {
                        let reason =
                            format!("{in_a_row} soft bounces in a row, the last: {}", r.detail);
                        self.bounce(email, &reason, now)?
                    } else {
                        None
                    }
                }
                (ReturnedKind::Complaint, Some(email)) => {
                    let n = tx.execute(
                        "UPDATE subscribers SET status = 'complained', reason = ?2, updated_at = ?3
                         WHERE email_norm = ?1 AND status != 'complained'",
                        params![email, format!("complained: {}", r.detail), now],
                    )?;
                    (n > 0).then_some(MemberStatus::Complained)
                }
                _ => None,
            };
            tx.commit()?;
            Ok(Recorded::New(changed))
        };
        run().map_err(|e| self.err(e))
    }

    /// An `active` or `pending` address becomes `bounced`.
    fn bounce(
        &self,
        email: &str,
        reason: &str,
        now: i64,
    ) -> rusqlite::Result<Option<MemberStatus>> {
        let n = self.conn.execute(
            "UPDATE subscribers SET status = 'bounced', reason = ?2, updated_at = ?3
             WHERE email_norm = ?1 AND status IN ('active', 'pending')",
            params![email, reason, now],
        )?;
        Ok((n > 0).then_some(MemberStatus::Bounced))
    }

    /// How many of the newest campaigns that went out to `email` soft-bounced, counted from
    /// the newest until one that did not (at most `limit`).
    fn soft_bounces_in_a_row(&self, email: &str, limit: u32) -> rusqlite::Result<u32> {
        let mut n = 0;
        for campaign in self.campaign_keys_raw()? {
            if !self.delivered_raw(&campaign, email)? {
                continue;
            }
            let bounced: bool = self
                .conn
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM soft_bounces WHERE email_norm = ?1 AND campaign = ?2)",
                )?
                .query_row(params![email, campaign], |r| r.get(0))?;
            if !bounced {
                break;
            }
            n += 1;
            if n >= limit {
                break;
            }
        }
        Ok(n)
    }

    /// What report `report` was recorded as, if it was.
    pub fn returned_kind(&self, report: &str) -> Result<Option<ReturnedKind>> {
        self.conn
            .query_row(
                "SELECT kind FROM returned_mail WHERE report = ?1",
                [report],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map(|k| k.and_then(|k| ReturnedKind::parse(&k)))
            .map_err(|e| self.err(e))
    }

    fn campaign_keys_raw(&self) -> rusqlite::Result<Vec<String>> {
        let mut st = self.conn.prepare_cached(
            // Campaigns fixed in one run come in the order they were fixed (oldest post
            // first): the later rowid is the newer one.
            "SELECT post_slug, planned_at, rowid FROM campaigns
             UNION ALL SELECT campaign, planned_at, slot FROM digests WHERE recipients > 0
             ORDER BY 2 DESC, 3 DESC",
        )?;
        st.query_map([], |r| r.get(0))?.collect()
    }

    /// Every campaign key (post slugs, digest keys), the newest first.
    pub fn campaign_keys(&self) -> Result<Vec<String>> {
        self.campaign_keys_raw().map_err(|e| self.err(e))
    }

    fn delivered_raw(&self, campaign: &str, email: &str) -> rusqlite::Result<bool> {
        self.conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM deliveries WHERE post_slug = ?1 AND email_norm = ?2
                                AND status IN ('sent', 'sending'))",
            )?
            .query_row(params![campaign, email], |r| r.get(0))
    }

    /// Whether `campaign` went out to `email` (its row is `sent`, or `sending` after a crash).
    pub fn delivered(&self, campaign: &str, email: &str) -> Result<bool> {
        self.delivered_raw(campaign, email).map_err(|e| self.err(e))
    }

    /// The subscriber whose key starts with `prefix` (hex), by address.
    pub fn subscriber_by_key_prefix(&self, prefix: &str) -> Result<Option<String>> {
        if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        // Keys are lowercase hex: every key with the prefix sorts in [prefix, prefix + 'g').
        let prefix = prefix.to_ascii_lowercase();
        self.conn
            .query_row(
                "SELECT email_norm FROM subscribers WHERE key >= ?1 AND key < ?2 LIMIT 1",
                params![prefix, format!("{prefix}g")],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Whether `email` is a subscriber.
    pub fn is_subscriber(&self, email: &str) -> Result<bool> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM subscribers WHERE email_norm = ?1)",
                [email],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Calls `f(campaign, email)` for every delivery that went out, until it returns false.
    pub fn each_delivered(&self, f: &mut dyn FnMut(&str, &str) -> bool) -> Result<()> {
        let mut run = || -> rusqlite::Result<()> {
            let mut st = self.conn.prepare(
                "SELECT post_slug, email_norm FROM deliveries WHERE status IN ('sent', 'sending')",
            )?;
            let mut rows = st.query([])?;
            while let Some(row) = rows.next()? {
                let campaign: String = row.get(0)?;
                let email: String = row.get(1)?;
                if !f(&campaign, &email) {
                    break;
                }
            }
            Ok(())
        };
        run().map_err(|e| self.err(e))
    }

    /// The UIDs of the messages left in `folder` (of this UIDVALIDITY) as not herald's.
    pub fn imap_left(&self, folder: &str, uidvalidity: u32) -> Result<HashSet<u32>> {
        let run = || -> rusqlite::Result<HashSet<u32>> {
            let mut st = self
                .conn
                .prepare("SELECT uid FROM imap_left WHERE folder = ?1 AND uidvalidity = ?2")?;
            st.query_map(params![folder, uidvalidity], |r| r.get(0))?
                .collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Remembers messages left in `folder`, so that no later fetch reads them again.
    pub fn leave_imap(&self, folder: &str, uidvalidity: u32, uids: &[u32]) -> Result<()> {
        let run = || -> rusqlite::Result<()> {
            let tx = self.write_transaction()?;
            for uid in uids {
                tx.execute(
                    "INSERT OR IGNORE INTO imap_left (folder, uidvalidity, uid) VALUES (?1, ?2, ?3)",
                    params![folder, uidvalidity, uid],
                )?;
            }
            tx.commit()
        };
        run().map_err(|e| self.err(e))
    }

    /// Counts of returned mail, all time and since `since` (Unix seconds).
    pub fn returned_summary(&self, since: i64) -> Result<ReturnedSummary> {
        let run = || -> rusqlite::Result<ReturnedSummary> {
            let mut s = ReturnedSummary::default();
            let mut st = self.conn.prepare(
                "SELECT kind, count(*), sum(received_at >= ?1) FROM returned_mail GROUP BY kind",
            )?;
            let rows = st.query_map([since], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })?;
            for row in rows {
                let (kind, all, recent) = row?;
                match ReturnedKind::parse(&kind) {
                    Some(ReturnedKind::Hard) => (s.hard, s.recent_hard) = (all, recent),
                    Some(ReturnedKind::Soft) => (s.soft, s.recent_soft) = (all, recent),
                    Some(ReturnedKind::Complaint) => {
                        (s.complaints, s.recent_complaints) = (all, recent)
                    }
                    Some(ReturnedKind::Ignored) => s.ignored = all,
                    Some(ReturnedKind::Unattributable) | None => s.unattributable += all,
                }
            }
            s.recent_sent = self.conn.query_row(
                "SELECT count(*) FROM deliveries WHERE status = 'sent' AND updated_at >= ?1",
                [since],
                |r| r.get(0),
            )?;
            Ok(s)
        };
        run().map_err(|e| self.err(e))
    }

    /// Per list id: its members that are (bounced, complained).
    pub fn bounced_by_list(&self) -> Result<BTreeMap<String, (i64, i64)>> {
        let run = || -> rusqlite::Result<BTreeMap<String, (i64, i64)>> {
            let mut st = self.conn.prepare(
                "SELECT m.list_id, sum(s.status = 'bounced'), sum(s.status = 'complained')
                 FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id
                 WHERE m.status != 'unsubscribed' AND s.status IN ('bounced', 'complained')
                 GROUP BY m.list_id",
            )?;
            st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))?
                .collect()
        };
        run().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::journal::Mark;
    use crate::state::subscribers::Source;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        (dir, db)
    }

    /// Mails `slug` to every active member of `all` at `at`, as a publish would.
    fn send(db: &Db, slug: &str, at: i64) {
        db.plan_campaign(slug, &["all".into()], at).unwrap();
        for d in db.open_deliveries(None, 100).unwrap() {
            db.apply_marks(&[(&d, &Mark::Sending)], at).unwrap();
            db.apply_marks(&[(&d, &Mark::Sent("250 ok".into()))], at)
                .unwrap();
        }
    }

    fn returned<'a>(report: &'a str, kind: ReturnedKind, campaign: &'a str) -> Returned<'a> {
        Returned {
            report,
            kind,
            email_norm: Some("a@example.com"),
            campaign: Some(campaign),
            code: Some("4.2.2"),
            detail: "mailbox full",
        }
    }

    fn status(db: &Db) -> MemberStatus {
        db.members(None, None).unwrap()[0].status
    }

    #[test]
    fn soft_bounces_count_only_in_a_row_and_once_per_report() {
        let (_d, db) = db();
        db.add_member("a@example.com", "", "all", Source::Cli, 1)
            .unwrap();
        for (i, slug) in ["p1", "p2", "p3", "p4"].iter().enumerate() {
            send(&db, slug, 10 + i as i64);
        }
        let soft = ReturnedKind::Soft;
        assert_eq!(
            db.record_returned(&returned("r1", soft, "p1"), 3, 20)
                .unwrap(),
            Recorded::New(None)
        );
        // p2 went out after p1 and did not bounce (yet): the row is broken.
        assert_eq!(
            db.record_returned(&returned("r3", soft, "p3"), 3, 21)
                .unwrap(),
            Recorded::New(None)
        );
        assert_eq!(
            db.record_returned(&returned("r3", soft, "p3"), 3, 22)
                .unwrap(),
            Recorded::Again(ReturnedKind::Soft)
        );
        assert_eq!(
            db.record_returned(&returned("r4", soft, "p4"), 3, 23)
                .unwrap(),
            Recorded::New(None)
        );
        assert_eq!(status(&db), MemberStatus::Active);
        // p2's bounce arrives late: p4, p3, p2 in a row.
        assert_eq!(
            db.record_returned(&returned("r2", soft, "p2"), 3, 24)
                .unwrap(),
            Recorded::New(Some(MemberStatus::Bounced))
        );
        assert_eq!(status(&db), MemberStatus::Bounced);
        let s = db.returned_summary(0).unwrap();
        assert_eq!((s.soft, s.recent_sent), (4, 4));
    }

    #[test]
    fn a_complaint_outranks_a_bounce_and_a_csv() {
        let (_d, db) = db();
        db.add_member("a@example.com", "", "all", Source::Cli, 1)
            .unwrap();
        send(&db, "p1", 10);
        let complaint = Returned {
            kind: ReturnedKind::Complaint,
            code: Some("abuse"),
            ..returned("c1", ReturnedKind::Complaint, "p1")
        };
        assert_eq!(
            db.record_returned(&complaint, 3, 20).unwrap(),
            Recorded::New(Some(MemberStatus::Complained))
        );
        let hard = Returned {
            kind: ReturnedKind::Hard,
            ..returned("h1", ReturnedKind::Hard, "p1")
        };
        assert_eq!(
            db.record_returned(&hard, 3, 21).unwrap(),
            Recorded::New(None)
        );
        assert_eq!(db.bounced_by_list().unwrap()["all"], (0, 1));
        db.mark_bounced("a@example.com", "550", 22).unwrap();
        db.unsubscribe("a@example.com", None, 23).unwrap();
        assert_eq!(status(&db), MemberStatus::Complained);
        let m = db
            .merge_csv("all", "d", 24, || {
                vec![("a@example.com".into(), String::new())]
            })
            .unwrap();
        assert_eq!(m.suppressed, 1);
        assert_eq!(
            db.add_member("A@example.com", "", "all", Source::Import, 25)
                .unwrap(),
            crate::state::subscribers::Added::Suppressed(MemberStatus::Complained)
        );
        // A confirmed sign-up is the one way back.
        assert!(
            db.confirm("n", "a@example.com", "", &["all".into()], 26)
                .unwrap()
        );
        assert_eq!(status(&db), MemberStatus::Active);
    }

    #[test]
    fn keys_are_found_by_their_prefix() {
        let (_d, db) = db();
        db.add_member("a@example.com", "", "all", Source::Cli, 1)
            .unwrap();
        let key = db.key_of("a@example.com").unwrap().unwrap();
        assert_eq!(
            db.subscriber_by_key_prefix(&key[..20]).unwrap().as_deref(),
            Some("a@example.com")
        );
        assert_eq!(db.subscriber_by_key_prefix("").unwrap(), None);
        assert_eq!(db.subscriber_by_key_prefix("zz'; --").unwrap(), None);
    }
}

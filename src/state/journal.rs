//! The delivery journal, keyed by (post slug, address).
//!
//! A post's recipients are fixed once, when the post first becomes mailable (a *campaign*):
//! every active member of a matching list gets a `queued` row, one per address however many of
//! their lists match. Then each row goes `sending` (committed before the SMTP transaction),
//! and `sent` after the server's 250; or `deferred` (4xx, timeout, dropped line: retried), or
//! `failed` (5xx, or deferred longer than `retry_days`), or `cancelled` (the address left
//! before its turn). A crash leaves at most one `sending` row per worker; the next run sends
//! those again: the only duplicates herald can cause.
//!
//! Rows are read and written as [`DeliveryStatus`]. The queries below spell the open statuses
//! out as literals (`IN ('queued', 'sending', 'deferred')`), the words of
//! `DeliveryStatus::is_open` (a test holds them together): SQLite's planner decides from the
//! query's text, not from bound values, whether the partial index `deliveries_open` applies.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, DeliveryStatus, MemberStatus};
use crate::error::Result;

/// One journal row to work on, with what is needed to address the mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub post_slug: String,
    pub email_norm: String,
    /// The address as the subscriber typed it.
    pub email: String,
    pub name: String,
    /// The list ids that caused this mail.
    pub lists: Vec<String>,
    pub status: DeliveryStatus,
    pub first_attempt: Option<i64>,
    /// The subscriber's current status (a row for an address that left is cancelled).
    pub subscriber_status: MemberStatus,
    /// The subscriber's random key, which the links in the mail name.
    pub key: String,
}

/// A delivery that needs the owner's attention, for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    pub post: String,
    pub email: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub reply: Option<String>,
}

/// The last `publish`, for `status`.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub sent: i64,
    pub deferred: i64,
    pub failed: i64,
    pub outcome: Option<String>,
}

/// Journal rows per status, for `status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalCounts([i64; DeliveryStatus::ALL.len()]);

impl JournalCounts {
    pub fn get(&self, status: DeliveryStatus) -> i64 {
        self.0[status.index()]
    }
}

/// A change to one delivery's journal row, applied by [`Db::apply_marks`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// Before the transport is called.
    Sending,
    /// After the server's 250 (the reply).
    Sent(String),
    /// 4xx, timeout, dropped connection, or a local failure (the reason).
    Deferred(String),
    /// 5xx, or deferred for longer than `retry_days`.
    Failed(String),
    /// 550/551/553: failed, and the subscriber is bounced.
    Bounced(String),
    /// Not sent: the address or the post went away.
    Cancelled(String),
}

impl Mark {
    /// The status the row takes.
    pub fn status(&self) -> DeliveryStatus {
        match self {
            Mark::Sending => DeliveryStatus::Sending,
            Mark::Sent(_) => DeliveryStatus::Sent,
            Mark::Deferred(_) => DeliveryStatus::Deferred,
            Mark::Failed(_) | Mark::Bounced(_) => DeliveryStatus::Failed,
            Mark::Cancelled(_) => DeliveryStatus::Cancelled,
        }
    }

    /// The server's reply or the reason, kept in the row (`Sending` keeps the last one).
    fn reply(&self) -> Option<&str> {
        match self {
            Mark::Sending => None,
            Mark::Sent(r)
            | Mark::Deferred(r)
            | Mark::Failed(r)
            | Mark::Bounced(r)
            | Mark::Cancelled(r) => Some(r),
        }
    }
}

impl Db {
    /// Applies many marks in one transaction (group commit: several workers' marks share one
    /// commit). When this returns `Ok`, every mark is durable.
    pub fn apply_marks(&self, marks: &[(&Delivery, &Mark)], now: i64) -> Result<()> {
        let tx = self.conn.unchecked_transaction().map_err(|e| self.err(e))?;
        for (d, m) in marks {
            // Only `sending` is an attempt: it is committed before the transport is called.
            let attempt = matches!(m, Mark::Sending);
            self.set_status(d, m.status(), m.reply(), now, attempt)?;
            if let Mark::Bounced(r) = m {
                self.mark_bounced(&d.email_norm, r, now)?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Slugs of posts whose recipients were already fixed.
    pub fn campaigns(&self) -> Result<HashSet<String>> {
        let run = || -> rusqlite::Result<HashSet<String>> {
            let mut st = self.conn.prepare("SELECT post_slug FROM campaigns")?;
            st.query_map([], |r| r.get(0))?.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Fixes the recipients of `slug`: one `queued` row per active member of any of `lists`
    /// (an address already journaled for this slug is never queued again). Returns the count.
    pub fn plan_campaign(&self, slug: &str, lists: &[String], now: i64) -> Result<usize> {
        let lists_json = serde_json::to_string(lists).unwrap_or_else(|_| "[]".into());
        let run = || -> rusqlite::Result<usize> {
            let tx = self.conn.unchecked_transaction()?;
            let n = tx.execute(
                "INSERT OR IGNORE INTO deliveries (post_slug, email_norm, lists, status, updated_at)
                 SELECT ?1, s.email_norm, group_concat(m.list_id, ','), 'queued', ?2
                 FROM subscribers s JOIN memberships m ON m.subscriber_id = s.id
                 WHERE s.status = 'active' AND m.status = 'active'
                   AND m.list_id IN (SELECT value FROM json_each(?3))
                 GROUP BY s.id",
                params![slug, now, lists_json],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO campaigns (post_slug, planned_at, recipients) VALUES (?1, ?2, ?3)",
                params![slug, now, n as i64],
            )?;
            tx.commit()?;
            Ok(n)
        };
        run().map_err(|e| self.err(e))
    }

    /// How many deliveries are open (`queued`, `sending`, `deferred`).
    pub fn open_count(&self) -> Result<usize> {
        self.conn
            .query_row(
                "SELECT count(*) FROM deliveries WHERE status IN ('queued', 'sending', 'deferred')",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// Post slugs that still have open deliveries.
    pub fn open_slugs(&self) -> Result<Vec<String>> {
        let run = || -> rusqlite::Result<Vec<String>> {
            let mut st = self.conn.prepare(
                "SELECT DISTINCT post_slug FROM deliveries WHERE status IN ('queued', 'sending', 'deferred')",
            )?;
            st.query_map([], |r| r.get(0))?.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Open deliveries (`queued`, `sending`, `deferred`) after `after` in key order, at most
    /// `limit`: the journal is walked in pages, never loaded whole.
    pub fn open_deliveries(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<Delivery>> {
        let (a_slug, a_email) = after.unwrap_or(("", ""));
        let run = || -> rusqlite::Result<Vec<Delivery>> {
            let mut st = self.conn.prepare_cached(
                "SELECT d.post_slug, d.email_norm, coalesce(s.email, d.email_norm), coalesce(s.name, ''),
                        d.lists, d.status, d.first_attempt, coalesce(s.status, 'unsubscribed'),
                        coalesce(s.key, '')
                 FROM deliveries d LEFT JOIN subscribers s ON s.email_norm = d.email_norm
                 WHERE d.status IN ('queued', 'sending', 'deferred')
                   AND (d.post_slug, d.email_norm) > (?1, ?2)
                 ORDER BY d.post_slug, d.email_norm
                 LIMIT ?3",
            )?;
            st.query_map(params![a_slug, a_email, limit as i64], |r| {
                let lists: String = r.get(4)?;
                Ok(Delivery {
                    post_slug: r.get(0)?,
                    email_norm: r.get(1)?,
                    email: r.get(2)?,
                    name: r.get(3)?,
                    lists: lists
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                    status: r.get(5)?,
                    first_attempt: r.get(6)?,
                    subscriber_status: r.get(7)?,
                    key: r.get(8)?,
                })
            })?
            .collect()
        };
        run().map_err(|e| self.err(e))
    }

    fn set_status(
        &self,
        d: &Delivery,
        status: DeliveryStatus,
        reply: Option<&str>,
        now: i64,
        attempt: bool,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "UPDATE deliveries SET status = ?3, reply = coalesce(?4, reply), updated_at = ?5,
                        attempts = attempts + ?6, first_attempt = coalesce(first_attempt, CASE WHEN ?6 = 1 THEN ?5 END)
                 WHERE post_slug = ?1 AND email_norm = ?2",
            )
            .and_then(|mut st| st.execute(params![d.post_slug, d.email_norm, status, reply, now, attempt as i64]))
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Row counts per journal status.
    pub fn journal_counts(&self) -> Result<JournalCounts> {
        let run = || -> rusqlite::Result<JournalCounts> {
            let mut st = self
                .conn
                .prepare("SELECT status, count(*) FROM deliveries GROUP BY status")?;
            let mut counts = JournalCounts::default();
            for row in st.query_map([], |r| Ok((r.get::<_, DeliveryStatus>(0)?, r.get(1)?)))? {
                let (status, n) = row?;
                counts.0[status.index()] = n;
            }
            Ok(counts)
        };
        run().map_err(|e| self.err(e))
    }

    /// Deferred and failed deliveries (at most `limit`), newest first.
    pub fn problems(&self, limit: usize) -> Result<Vec<Problem>> {
        let run = || -> rusqlite::Result<Vec<Problem>> {
            let mut st = self.conn.prepare(
                "SELECT d.post_slug, coalesce(s.email, d.email_norm), d.status, d.attempts, d.reply
                 FROM deliveries d LEFT JOIN subscribers s ON s.email_norm = d.email_norm
                 WHERE d.status IN ('deferred', 'failed')
                 ORDER BY d.updated_at DESC, d.post_slug, d.email_norm LIMIT ?1",
            )?;
            st.query_map([limit as i64], |r| {
                Ok(Problem {
                    post: r.get(0)?,
                    email: r.get(1)?,
                    status: r.get(2)?,
                    attempts: r.get(3)?,
                    reply: r.get(4)?,
                })
            })?
            .collect()
        };
        run().map_err(|e| self.err(e))
    }

    pub fn start_run(&self, now: i64) -> Result<i64> {
        self.conn
            .execute("INSERT INTO runs (started_at) VALUES (?1)", [now])
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_run(
        &self,
        id: i64,
        now: i64,
        sent: i64,
        deferred: i64,
        failed: i64,
        outcome: &str,
    ) -> Result<()> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, sent = ?3, deferred = ?4, failed = ?5, outcome = ?6 WHERE id = ?1",
                params![id, now, sent, deferred, failed, outcome],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn last_run(&self) -> Result<Option<Run>> {
        self.conn
            .query_row(
                "SELECT started_at, finished_at, sent, deferred, failed, outcome FROM runs ORDER BY id DESC LIMIT 1",
                [],
                |r| {
                    Ok(Run {
                        started_at: r.get(0)?,
                        finished_at: r.get(1)?,
                        sent: r.get(2)?,
                        deferred: r.get(3)?,
                        failed: r.get(4)?,
                        outcome: r.get(5)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal status of (post, address), if it was ever journaled.
    fn delivery_status(db: &Db, slug: &str, email_norm: &str) -> Option<DeliveryStatus> {
        db.conn
            .query_row(
                "SELECT status FROM deliveries WHERE post_slug = ?1 AND email_norm = ?2",
                params![slug, email_norm],
                |r| r.get(0),
            )
            .optional()
            .unwrap()
    }
    use crate::state::subscribers::Source;

    #[test]
    fn a_campaign_queues_each_address_once_and_only_once() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.add_member("a@example.com", "", "all", Source::Cli, 1)
            .unwrap();
        db.add_member("a@example.com", "", "seo", Source::Cli, 1)
            .unwrap();
        db.add_member("b@example.com", "", "seo", Source::Cli, 1)
            .unwrap();
        db.add_member("c@example.com", "", "other", Source::Cli, 1)
            .unwrap();
        let n = db
            .plan_campaign("post", &["all".into(), "seo".into()], 2)
            .unwrap();
        assert_eq!(n, 2);
        assert!(db.campaigns().unwrap().contains("post"));
        assert_eq!(
            db.plan_campaign("post", &["all".into(), "seo".into()], 3)
                .unwrap(),
            0
        );
        let open = db.open_deliveries(None, 10).unwrap();
        assert_eq!(open.len(), 2);
        let mut lists = open[0].lists.clone();
        lists.sort();
        assert_eq!(lists, vec!["all", "seo"]);
        let page = db
            .open_deliveries(Some(("post", "a@example.com")), 10)
            .unwrap();
        assert_eq!(page.len(), 1);
        db.apply_marks(&[(&open[0], &Mark::Sending)], 4).unwrap();
        db.apply_marks(&[(&open[0], &Mark::Sent("250 ok".into()))], 5)
            .unwrap();
        assert_eq!(db.open_deliveries(None, 10).unwrap().len(), 1);
        assert_eq!(
            delivery_status(&db, "post", "a@example.com"),
            Some(DeliveryStatus::Sent)
        );
        let counts = db.journal_counts().unwrap();
        assert_eq!(counts.get(DeliveryStatus::Sent), 1);
        assert_eq!(counts.get(DeliveryStatus::Queued), 1);
    }

    /// The queries' literal open statuses are exactly [`DeliveryStatus::is_open`]'s.
    #[test]
    fn the_open_rows_are_the_open_statuses() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        for s in DeliveryStatus::ALL {
            db.conn
                .execute(
                    "INSERT INTO deliveries (post_slug, email_norm, lists, status, updated_at)
                     VALUES ('p', ?1, 'all', ?2, 0)",
                    params![format!("{s}@example.com"), s],
                )
                .unwrap();
        }
        let open: Vec<DeliveryStatus> = DeliveryStatus::ALL
            .iter()
            .copied()
            .filter(|s| s.is_open())
            .collect();
        assert_eq!(db.open_count().unwrap(), open.len());
        let read: Vec<DeliveryStatus> = db
            .open_deliveries(None, 10)
            .unwrap()
            .iter()
            .map(|d| d.status)
            .collect();
        let mut want = open.clone();
        want.sort_by_key(|s| s.to_string());
        assert_eq!(read, want, "ordered by address, which is the status here");
    }
}

//! Digests and skipped posts.
//!
//! A digest list's mail goes out per *slot* of its schedule. The first `publish` at or after a
//! slot fixes that digest once, in one transaction: a `digests` row (list, slot, the posts it
//! holds), a `digest_posts` row per post (a post is in at most one digest of a list, so an
//! edited post is never sent again), and one `queued` delivery per active member, keyed by the
//! digest's campaign key. From there a digest is delivered like a post, through the journal.
//! A slot with no post is recorded too, with no delivery, so the next digest starts after it.
//!
//! A post that first became mailable more than `newsletter.max_lateness` after its date is
//! recorded in `skipped` instead of being mailed.

use std::collections::HashSet;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::Db;
use crate::error::Result;

/// A digest as fixed in the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDigest {
    pub list: String,
    /// Unix seconds.
    pub slot: i64,
    /// The slugs of its posts, oldest first.
    pub posts: Vec<String>,
}

/// A post not mailed because it became mailable too late, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub slug: String,
    /// The post's date and when it was skipped, Unix seconds.
    pub post_date: i64,
    pub skipped_at: i64,
    pub reason: String,
}

/// The campaign key of a digest: the journal's key for its deliveries and the outbox's folder.
/// Post slugs never hold a `:`, so no post has this key.
pub fn campaign(list: &str, slot: i64) -> String {
    let slot = chrono::DateTime::from_timestamp(slot, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%MZ").to_string())
        .unwrap_or_else(|| slot.to_string());
    format!("digest:{list}:{slot}")
}

impl Db {
    /// The latest slot of `list` already fixed.
    pub fn last_digest_slot(&self, list: &str) -> Result<Option<i64>> {
        self.conn
            .query_row(
                "SELECT max(slot) FROM digests WHERE list_id = ?1",
                [list],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))
    }

    /// Slugs of the posts already in a digest of `list`.
    pub fn digested(&self, list: &str) -> Result<HashSet<String>> {
        let run = || -> rusqlite::Result<HashSet<String>> {
            let mut st = self
                .conn
                .prepare("SELECT post_slug FROM digest_posts WHERE list_id = ?1")?;
            st.query_map([list], |r| r.get(0))?.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Fixes the digest of `list` at `slot` with `posts`: one `queued` delivery per active
    /// member of the list (none when `posts` is empty). Returns the recipient count; 0 and
    /// nothing changed when the slot was fixed before.
    pub fn plan_digest(&self, list: &str, slot: i64, posts: &[String], now: i64) -> Result<usize> {
        let key = campaign(list, slot);
        let posts_json = serde_json::to_string(posts).unwrap_or_else(|_| "[]".into());
        let run = || -> rusqlite::Result<usize> {
            let tx = self.write_transaction()?;
            let fresh = tx.execute(
                "INSERT OR IGNORE INTO digests (list_id, slot, campaign, posts, planned_at, recipients)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0)",
                params![list, slot, key, posts_json, now],
            )? == 1;
            if !fresh {
                return Ok(0);
            }
            let mut n = 0;
            if !posts.is_empty() {
                for p in posts {
                    tx.execute(
                        "INSERT OR IGNORE INTO digest_posts (list_id, post_slug, slot) VALUES (?1, ?2, ?3)",
                        params![list, p, slot],
                    )?;
                }
                n = tx.execute(
                    "INSERT OR IGNORE INTO deliveries (post_slug, email_norm, lists, status, updated_at)
                     SELECT ?1, s.email_norm, ?2, 'queued', ?3
                     FROM subscribers s JOIN memberships m ON m.subscriber_id = s.id
                     WHERE s.status = 'active' AND m.status = 'active' AND m.list_id = ?2",
                    params![key, list, now],
                )?;
                tx.execute(
                    "UPDATE digests SET recipients = ?3 WHERE list_id = ?1 AND slot = ?2",
                    params![list, slot, n as i64],
                )?;
            }
            tx.commit()?;
            Ok(n)
        };
        run().map_err(|e| self.err(e))
    }

    /// The digest whose campaign key is `key`, if it is one.
    pub fn digest(&self, key: &str) -> Result<Option<PlannedDigest>> {
        let run = || -> rusqlite::Result<Option<(String, i64, String)>> {
            self.conn
                .query_row(
                    "SELECT list_id, slot, posts FROM digests WHERE campaign = ?1",
                    [key],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()
        };
        let row = run().map_err(|e| self.err(e))?;
        Ok(row.map(|(list, slot, posts)| PlannedDigest {
            list,
            slot,
            posts: serde_json::from_str(&posts).unwrap_or_default(),
        }))
    }

    /// Records that `slug` is not mailed (late); false if it was recorded before.
    pub fn skip_post(&self, slug: &str, post_date: i64, reason: &str, now: i64) -> Result<bool> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO skipped (post_slug, post_date, skipped_at, reason) VALUES (?1, ?2, ?3, ?4)",
                params![slug, post_date, now, reason],
            )
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Forgets that `slug` was skipped (`publish --send-late`).
    pub fn unskip_post(&self, slug: &str) -> Result<bool> {
        self.conn
            .execute("DELETE FROM skipped WHERE post_slug = ?1", [slug])
            .map(|n| n == 1)
            .map_err(|e| self.err(e))
    }

    /// Every skipped post, newest skip first.
    pub fn skipped(&self) -> Result<Vec<Skipped>> {
        let run = || -> rusqlite::Result<Vec<Skipped>> {
            let mut st = self.conn.prepare(
                "SELECT post_slug, post_date, skipped_at, reason FROM skipped
                 ORDER BY skipped_at DESC, post_slug",
            )?;
            st.query_map([], |r| {
                Ok(Skipped {
                    slug: r.get(0)?,
                    post_date: r.get(1)?,
                    skipped_at: r.get(2)?,
                    reason: r.get(3)?,
                })
            })?
            .collect()
        };
        run().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::subscribers::Source;

    #[test]
    fn a_digest_is_fixed_once_and_its_posts_are_never_in_another() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.add_member("a@example.com", "", "weekly", Source::Cli, 1)
            .unwrap();
        db.add_member("b@example.com", "", "daily", Source::Cli, 1)
            .unwrap();
        assert_eq!(db.last_digest_slot("weekly").unwrap(), None);
        let posts = vec!["p1".to_string(), "p2".to_string()];
        assert_eq!(db.plan_digest("weekly", 100, &posts, 101).unwrap(), 1);
        assert_eq!(db.plan_digest("weekly", 100, &posts, 102).unwrap(), 0);
        assert_eq!(db.last_digest_slot("weekly").unwrap(), Some(100));
        assert_eq!(
            db.digested("weekly").unwrap(),
            posts.iter().cloned().collect()
        );
        assert!(db.digested("daily").unwrap().is_empty());
        let key = campaign("weekly", 100);
        assert_eq!(key, "digest:weekly:1970-01-01T00:01Z");
        assert_eq!(
            db.digest(&key).unwrap(),
            Some(PlannedDigest {
                list: "weekly".into(),
                slot: 100,
                posts
            })
        );
        let open = db.open_deliveries(None, 10).unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(
            (open[0].post_slug.as_str(), open[0].email.as_str()),
            (key.as_str(), "a@example.com")
        );
        // An empty slot is recorded without mail.
        assert_eq!(db.plan_digest("weekly", 200, &[], 201).unwrap(), 0);
        assert_eq!(db.last_digest_slot("weekly").unwrap(), Some(200));
        assert_eq!(db.open_deliveries(None, 10).unwrap().len(), 1);
    }

    #[test]
    fn a_skipped_post_is_recorded_once_until_it_is_sent_late() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        assert!(db.skip_post("old", 1, "late", 10).unwrap());
        assert!(!db.skip_post("old", 1, "late", 11).unwrap());
        assert_eq!(db.skipped().unwrap().len(), 1);
        assert!(db.unskip_post("old").unwrap());
        assert!(db.skipped().unwrap().is_empty());
    }
}

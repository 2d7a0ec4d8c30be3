//! Subscribers and list membership.
//!
//! A subscriber has one status: `pending` (signed up, not confirmed), `active`, `unsubscribed`,
//! `bounced` or `complained`. Each membership has its own status too, so that unsubscribing
//! from one list is remembered for that list. Only an active subscriber with an active
//! membership gets mail. An unsubscribed, bounced or complained address is never brought back
//! by a CSV, an import or `add`: only by a new confirmed sign-up ([`Db::confirm`]) or by the
//! person ticking a list on their preferences page ([`Db::set_preferences`]), whose link came
//! in a mail to that address.
//!
//! A sign-up waits for its confirmation in `signups`, under the nonce of the link mailed for
//! it ([`Db::sign_up`]): the link itself names nobody.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Db, MemberStatus, normalize};
use crate::error::Result;

/// Where a membership came from. Only `csv` memberships are removed when a CSV row goes away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Csv,
    Cli,
    Import,
    Serve,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Csv => "csv",
            Source::Cli => "cli",
            Source::Import => "import",
            Source::Serve => "serve",
        }
    }
}

/// What adding a member did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    Added,
    AlreadyMember,
    /// Not added: the address unsubscribed, bounced or complained (which one: `Unsubscribed`
    /// also when only this list's membership was).
    Suppressed(MemberStatus),
}

/// One subscriber as `subscribers list` shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Member {
    pub email: String,
    pub name: String,
    /// Printed and serialised as its word (`pending`, `active`, `unsubscribed`, `bounced`,
    /// `complained`).
    pub status: MemberStatus,
    /// Lists with an active (or, for pending subscribers, pending) membership.
    pub lists: Vec<String>,
}

/// A sign-up waiting for its confirmation: what the person asked for, stored under the nonce
/// of the link mailed to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignUp {
    pub email: String,
    pub name: String,
    /// List ids, in the order chosen.
    pub lists: Vec<String>,
    pub nonce: String,
    /// Unix seconds after which its link is refused; the row is dropped by a later sign-up.
    pub expires: i64,
}

/// The subscriber a preferences link names, as their page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub email: String,
    pub name: String,
    pub status: MemberStatus,
    /// The lists they get mail from: their active memberships while they are active; none
    /// while they are pending, unsubscribed or bounced. In list id order.
    pub lists: Vec<String>,
}

/// What merging a list's CSV did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Merged {
    pub added: usize,
    pub removed: usize,
    /// Rows skipped because the address unsubscribed, bounced or complained.
    pub suppressed: usize,
    /// The CSV was the same as last time: nothing was done.
    pub unchanged: bool,
}

impl Db {
    fn subscriber(&self, norm: &str) -> rusqlite::Result<Option<(i64, MemberStatus)>> {
        self.conn
            .prepare_cached("SELECT id, status FROM subscribers WHERE email_norm = ?1")?
            .query_row([norm], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
    }

    fn create(
        &self,
        email: &str,
        name: &str,
        status: MemberStatus,
        now: i64,
    ) -> rusqlite::Result<i64> {
        self.conn
            .prepare_cached(
                "INSERT INTO subscribers (email, email_norm, name, status, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
            )?
            .execute(params![email.trim(), normalize(email), name, status, now])?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Sets a membership's status, creating it (as coming from `serve`, which links and
    /// sign-ups are) when there is none.
    fn set_membership(
        &self,
        id: i64,
        list: &str,
        status: MemberStatus,
        now: i64,
    ) -> rusqlite::Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO memberships (subscriber_id, list_id, status, source, updated_at)
                 VALUES (?1, ?2, ?3, ?5, ?4)
                 ON CONFLICT (subscriber_id, list_id) DO UPDATE SET status = ?3, updated_at = ?4",
            )?
            .execute(params![id, list, status, now, Source::Serve.as_str()])?;
        Ok(())
    }

    fn add_member_raw(
        &self,
        email: &str,
        name: &str,
        list: &str,
        source: Source,
        now: i64,
    ) -> rusqlite::Result<Added> {
        let norm = normalize(email);
        let id = match self.subscriber(&norm)? {
            Some((
                _,
                status @ (MemberStatus::Unsubscribed
                | MemberStatus::Bounced
                | MemberStatus::Complained),
            )) => {
                return Ok(Added::Suppressed(status));
            }
            Some((id, status)) => {
                if status != MemberStatus::Active {
                    self.conn
                        .prepare_cached("UPDATE subscribers SET status = 'active', updated_at = ?2 WHERE id = ?1")?
                        .execute(params![id, now])?;
                }
                if !name.is_empty() {
                    self.conn
                        .prepare_cached(
                            "UPDATE subscribers SET name = ?2 WHERE id = ?1 AND name = ''",
                        )?
                        .execute(params![id, name])?;
                }
                id
            }
            None => self.create(email, name, MemberStatus::Active, now)?,
        };
        let existing: Option<MemberStatus> = self
            .conn
            .prepare_cached(
                "SELECT status FROM memberships WHERE subscriber_id = ?1 AND list_id = ?2",
            )?
            .query_row(params![id, list], |r| r.get(0))
            .optional()?;
        match existing {
            Some(MemberStatus::Unsubscribed) => Ok(Added::Suppressed(MemberStatus::Unsubscribed)),
            Some(MemberStatus::Active) => Ok(Added::AlreadyMember),
            Some(MemberStatus::Pending | MemberStatus::Bounced | MemberStatus::Complained) => {
                self.conn
                    .prepare_cached("UPDATE memberships SET status = 'active', updated_at = ?3 WHERE subscriber_id = ?1 AND list_id = ?2")?
                    .execute(params![id, list, now])?;
                Ok(Added::Added)
            }
            None => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO memberships (subscriber_id, list_id, status, source, updated_at)
                         VALUES (?1, ?2, 'active', ?3, ?4)",
                    )?
                    .execute(params![id, list, source.as_str(), now])?;
                Ok(Added::Added)
            }
        }
    }

    /// The address a link names (its key resolved; an address as it is), if it is known.
    pub fn address_of(&self, who: &crate::state::tokens::Who) -> Result<Option<String>> {
        use crate::state::tokens::Who;
        let run = || -> rusqlite::Result<Option<String>> {
            match who {
                Who::Key(k) => self
                    .conn
                    .prepare_cached("SELECT email FROM subscribers WHERE key = ?1")?
                    .query_row([k], |r| r.get(0))
                    .optional(),
                Who::Email(e) => Ok(Some(e.clone())),
            }
        };
        run().map_err(|e| self.err(e))
    }

    /// The random key of `email`'s subscriber, which links in mail name instead of the address.
    pub fn key_of(&self, email: &str) -> Result<Option<String>> {
        self.conn
            .prepare_cached("SELECT key FROM subscribers WHERE email_norm = ?1")
            .and_then(|mut st| st.query_row([normalize(email)], |r| r.get(0)).optional())
            .map_err(|e| self.err(e))
    }

    /// Adds an active member to `list` (CLI `add`, imports).
    pub fn add_member(
        &self,
        email: &str,
        name: &str,
        list: &str,
        source: Source,
        now: i64,
    ) -> Result<Added> {
        let row = [(email.to_string(), name.to_string())];
        // One row in, one outcome out.
        Ok(self.add_members(&row, list, source, now)?.remove(0))
    }

    /// Adds many members in one transaction; returns one outcome per row.
    pub fn add_members(
        &self,
        rows: &[(String, String)],
        list: &str,
        source: Source,
        now: i64,
    ) -> Result<Vec<Added>> {
        let run = || -> rusqlite::Result<Vec<Added>> {
            let tx = self.write_transaction()?;
            let out = rows
                .iter()
                .map(|(e, n)| self.add_member_raw(e, n, list, source, now))
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(out)
        };
        run().map_err(|e| self.err(e))
    }

    /// Removes `email` from `list` (the owner's decision, not a suppression). Returns whether
    /// it was a member.
    pub fn remove_member(&self, email: &str, list: &str) -> Result<bool> {
        let n = self
            .conn
            .execute(
                "DELETE FROM memberships WHERE list_id = ?2
                 AND subscriber_id = (SELECT id FROM subscribers WHERE email_norm = ?1)",
                params![normalize(email), list],
            )
            .map_err(|e| self.err(e))?;
        Ok(n > 0)
    }

    /// Unsubscribes `email` from `lists`, or from everything when `lists` is `None`. The
    /// subscriber becomes `unsubscribed` once no active membership is left. Returns whether
    /// the address was known.
    pub fn unsubscribe(&self, email: &str, lists: Option<&[String]>, now: i64) -> Result<bool> {
        let run = || -> rusqlite::Result<bool> {
            let tx = self.write_transaction()?;
            let Some((id, _)) = self.subscriber(&normalize(email))? else {
                return Ok(false);
            };
            match lists {
                None => {
                    tx.execute(
                        "UPDATE memberships SET status = 'unsubscribed', updated_at = ?2 WHERE subscriber_id = ?1",
                        params![id, now],
                    )?;
                }
                Some(lists) => {
                    for l in lists {
                        self.set_membership(id, l, MemberStatus::Unsubscribed, now)?;
                    }
                }
            }
            self.unsubscribed_if_none_left(id, now)?;
            tx.commit()?;
            Ok(true)
        };
        run().map_err(|e| self.err(e))
    }

    /// The end of every unsubscription: with no active membership left, the subscriber is
    /// `unsubscribed` (a bounced one stays `bounced`).
    fn unsubscribed_if_none_left(&self, id: i64, now: i64) -> rusqlite::Result<()> {
        let left: i64 = self.conn.query_row(
            "SELECT count(*) FROM memberships WHERE subscriber_id = ?1 AND status = 'active'",
            [id],
            |r| r.get(0),
        )?;
        if left == 0 {
            self.conn.execute(
                "UPDATE subscribers SET status = 'unsubscribed', updated_at = ?2
                 WHERE id = ?1 AND status NOT IN ('bounced', 'complained')",
                params![id, now],
            )?;
        }
        Ok(())
    }

    fn profile_by_id(&self, id: i64) -> rusqlite::Result<Option<Profile>> {
        let Some((email, name, status)) = self
            .conn
            .prepare_cached("SELECT email, name, status FROM subscribers WHERE id = ?1")?
            .query_row([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
            })
            .optional()?
        else {
            return Ok(None);
        };
        let lists = if status == MemberStatus::Active {
            let mut st = self.conn.prepare_cached(
                "SELECT list_id FROM memberships WHERE subscriber_id = ?1 AND status = 'active'
                 ORDER BY list_id",
            )?;
            st.query_map([id], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?
        } else {
            Vec::new()
        };
        Ok(Some(Profile {
            email,
            name,
            status,
            lists,
        }))
    }

    fn id_by_key(&self, key: &str) -> rusqlite::Result<Option<i64>> {
        self.conn
            .prepare_cached("SELECT id FROM subscribers WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()
    }

    /// The subscriber with `key`, as their preferences page shows them.
    pub fn profile(&self, key: &str) -> Result<Option<Profile>> {
        let run = || -> rusqlite::Result<Option<Profile>> {
            match self.id_by_key(key)? {
                Some(id) => self.profile_by_id(id),
                None => Ok(None),
            }
        };
        run().map_err(|e| self.err(e))
    }

    /// Saves the preferences page of the subscriber with `key`, in one transaction: their
    /// name becomes `name`, and afterwards they get mail from exactly `lists`.
    ///
    /// Every other active membership is left as [`Db::unsubscribe`] leaves it (marked
    /// `unsubscribed`, so no CSV brings it back; the subscriber `unsubscribed` when none is
    /// left). Joining needs no confirmation (the link came in a mail to the address): a ticked
    /// list becomes an active membership, and a subscriber who is pending, unsubscribed or
    /// bounced becomes active again, as a confirmed sign-up would make them. Returns the
    /// profile as saved, or `None` (and nothing changed) when no subscriber has `key`.
    pub fn set_preferences(
        &self,
        key: &str,
        name: &str,
        lists: &[String],
        now: i64,
    ) -> Result<Option<Profile>> {
        let run = || -> rusqlite::Result<Option<Profile>> {
            let tx = self.write_transaction()?;
            let Some(id) = self.id_by_key(key)? else {
                return Ok(None);
            };
            tx.execute(
                "UPDATE subscribers SET name = ?2, updated_at = ?3 WHERE id = ?1 AND name != ?2",
                params![id, name, now],
            )?;
            let joined: Vec<String> = {
                let mut st = tx.prepare(
                    "SELECT list_id FROM memberships WHERE subscriber_id = ?1 AND status != 'unsubscribed'",
                )?;
                st.query_map([id], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?
            };
            for l in joined.iter().filter(|l| !lists.contains(l)) {
                self.set_membership(id, l, MemberStatus::Unsubscribed, now)?;
            }
            for l in lists {
                self.set_membership(id, l, MemberStatus::Active, now)?;
            }
            if lists.is_empty() {
                self.unsubscribed_if_none_left(id, now)?;
            } else {
                tx.execute(
                    "UPDATE subscribers SET status = 'active', reason = NULL, updated_at = ?2
                     WHERE id = ?1 AND status != 'active'",
                    params![id, now],
                )?;
            }
            let profile = self.profile_by_id(id)?;
            tx.commit()?;
            Ok(profile)
        };
        run().map_err(|e| self.err(e))
    }

    /// A hard bounce: the address gets no more mail until it signs up and confirms again (a
    /// complaint stays a complaint).
    pub fn mark_bounced(&self, email: &str, reason: &str, now: i64) -> Result<()> {
        self.conn
            .execute(
                "UPDATE subscribers SET status = 'bounced', reason = ?2, updated_at = ?3
                 WHERE email_norm = ?1 AND status != 'complained'",
                params![normalize(email), reason, now],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// A sign-up through `serve`, before confirmation, stored under its link's nonce. A new
    /// address becomes `pending`; a known one keeps its status, name and lists until it
    /// confirms (no change an outsider could observe). Sign-ups whose links expired are
    /// dropped on the way.
    pub fn sign_up(&self, s: &SignUp, now: i64) -> Result<()> {
        let run = || -> rusqlite::Result<()> {
            // Write-locked before the read: two sign-ups of one new address cannot both
            // find it absent.
            let tx = self.write_transaction()?;
            tx.execute("DELETE FROM signups WHERE expires_at < ?1", [now])?;
            let id = match self.subscriber(&normalize(&s.email))? {
                Some((id, _)) => id,
                None => self.create(&s.email, &s.name, MemberStatus::Pending, now)?,
            };
            let lists = serde_json::to_string(&s.lists).unwrap_or_else(|_| "[]".into());
            tx.execute(
                "INSERT INTO signups (nonce, subscriber_id, name, lists, expires_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![s.nonce, id, s.name, lists, s.expires, now],
            )?;
            tx.commit()
        };
        run().map_err(|e| self.err(e))
    }

    /// The sign-up stored under `nonce`, if it waits for its confirmation still.
    pub fn pending_sign_up(&self, nonce: &str) -> Result<Option<SignUp>> {
        let run = || -> rusqlite::Result<Option<SignUp>> {
            self.conn
                .prepare_cached(
                    "SELECT s.email, g.name, g.lists, g.expires_at FROM signups g
                     JOIN subscribers s ON s.id = g.subscriber_id WHERE g.nonce = ?1",
                )?
                .query_row([nonce], |r| {
                    let lists: String = r.get(2)?;
                    let lists = serde_json::from_str(&lists).map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            2,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?;
                    Ok(SignUp {
                        email: r.get(0)?,
                        name: r.get(1)?,
                        lists,
                        nonce: nonce.to_string(),
                        expires: r.get(3)?,
                    })
                })
                .optional()
        };
        run().map_err(|e| self.err(e))
    }

    /// Whether the confirmation link with `nonce` was used.
    pub fn nonce_used(&self, nonce: &str) -> Result<bool> {
        self.conn
            .prepare_cached("SELECT 1 FROM used_tokens WHERE nonce = ?1")
            .and_then(|mut st| st.exists([nonce]))
            .map_err(|e| self.err(e))
    }

    /// A confirmed sign-up: the address becomes active in `lists`, even if it had
    /// unsubscribed, bounced or complained before (this is the one way back: the person
    /// asked for the mail again, from that mailbox). The confirmation link's `nonce` is spent,
    /// and its stored sign-up dropped, in the same transaction: false, and nothing changed,
    /// when it was spent before; a confirmation that fails leaves the link usable.
    pub fn confirm(
        &self,
        nonce: &str,
        email: &str,
        name: &str,
        lists: &[String],
        now: i64,
    ) -> Result<bool> {
        let run = || -> rusqlite::Result<bool> {
            let tx = self.write_transaction()?;
            let fresh = tx.execute(
                "INSERT OR IGNORE INTO used_tokens (nonce, used_at) VALUES (?1, ?2)",
                params![nonce, now],
            )? == 1;
            if !fresh {
                return Ok(false);
            }
            tx.execute("DELETE FROM signups WHERE nonce = ?1", [nonce])?;
            let id = match self.subscriber(&normalize(email))? {
                Some((id, _)) => {
                    tx.execute(
                        "UPDATE subscribers SET status = 'active', reason = NULL, updated_at = ?2,
                         name = CASE WHEN ?3 = '' THEN name ELSE ?3 END WHERE id = ?1",
                        params![id, now, name],
                    )?;
                    id
                }
                None => self.create(email, name, MemberStatus::Active, now)?,
            };
            for l in lists {
                self.set_membership(id, l, MemberStatus::Active, now)?;
            }
            tx.commit()?;
            Ok(true)
        };
        run().map_err(|e| self.err(e))
    }

    /// Merges a list's CSV: rows join the list, `csv` members no longer in it leave. Skipped
    /// entirely when `digest` matches the last merge of this list: `rows` (which reads the
    /// CSV) is called only when the file changed.
    pub fn merge_csv(
        &self,
        list: &str,
        digest: &str,
        now: i64,
        rows: impl FnOnce() -> Vec<(String, String)>,
    ) -> Result<Merged> {
        let run = || -> rusqlite::Result<Merged> {
            let last: Option<String> = self
                .conn
                .query_row(
                    "SELECT digest FROM csv_merges WHERE list_id = ?1",
                    [list],
                    |r| r.get(0),
                )
                .optional()?;
            if last.as_deref() == Some(digest) {
                return Ok(Merged {
                    unchanged: true,
                    ..Default::default()
                });
            }
            let rows = rows();
            let tx = self.write_transaction()?;
            let mut m = Merged::default();
            let mut keep = HashSet::new();
            for (email, name) in &rows {
                keep.insert(normalize(email));
                match self.add_member_raw(email, name, list, Source::Csv, now)? {
                    Added::Added => m.added += 1,
                    Added::AlreadyMember => {}
                    Added::Suppressed(_) => m.suppressed += 1,
                }
            }
            let csv_members: Vec<(i64, String)> = {
                let mut st = tx.prepare(
                    "SELECT s.id, s.email_norm FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id
                     WHERE m.list_id = ?1 AND m.source = 'csv' AND m.status != 'unsubscribed'",
                )?;
                st.query_map([list], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<rusqlite::Result<_>>()?
            };
            for (id, norm) in csv_members {
                if !keep.contains(&norm) {
                    tx.execute(
                        "DELETE FROM memberships WHERE subscriber_id = ?1 AND list_id = ?2",
                        params![id, list],
                    )?;
                    m.removed += 1;
                }
            }
            tx.execute(
                "INSERT INTO csv_merges (list_id, digest, merged_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (list_id) DO UPDATE SET digest = ?2, merged_at = ?3",
                params![list, digest, now],
            )?;
            tx.commit()?;
            Ok(m)
        };
        run().map_err(|e| self.err(e))
    }

    /// Subscribers, filtered by list membership and status, ordered by address.
    pub fn members(&self, list: Option<&str>, status: Option<MemberStatus>) -> Result<Vec<Member>> {
        let run = || -> rusqlite::Result<Vec<Member>> {
            let mut st = self.conn.prepare(
                "SELECT s.email, s.name, s.status,
                        (SELECT group_concat(list_id, ',') FROM
                           (SELECT list_id FROM memberships WHERE subscriber_id = s.id AND status != 'unsubscribed' ORDER BY list_id))
                 FROM subscribers s
                 WHERE (?1 IS NULL OR EXISTS (SELECT 1 FROM memberships m WHERE m.subscriber_id = s.id
                          AND m.list_id = ?1 AND (m.status != 'unsubscribed' OR s.status = 'unsubscribed')))
                   AND (?2 IS NULL OR s.status = ?2)
                 ORDER BY s.email_norm",
            )?;
            st.query_map(params![list, status], |r| {
                let lists: Option<String> = r.get(3)?;
                Ok(Member {
                    email: r.get(0)?,
                    name: r.get(1)?,
                    status: r.get(2)?,
                    lists: lists
                        .map(|l| l.split(',').map(str::to_string).collect())
                        .unwrap_or_default(),
                })
            })?
            .collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// Active members per list id.
    pub fn list_sizes(&self) -> Result<BTreeMap<String, i64>> {
        let run = || -> rusqlite::Result<BTreeMap<String, i64>> {
            let mut st = self.conn.prepare(
                "SELECT m.list_id, count(*) FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id
                 WHERE m.status = 'active' AND s.status = 'active' GROUP BY m.list_id",
            )?;
            st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect()
        };
        run().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        (dir, db)
    }

    fn rows(v: &[&str]) -> Vec<(String, String)> {
        v.iter().map(|e| (e.to_string(), String::new())).collect()
    }

    #[test]
    fn addresses_compare_case_insensitively() {
        let (_d, db) = db();
        assert_eq!(
            db.add_member("Ann@Example.com", "Ann", "all", Source::Cli, 1)
                .unwrap(),
            Added::Added
        );
        assert_eq!(
            db.add_member("ann@example.COM", "", "all", Source::Cli, 1)
                .unwrap(),
            Added::AlreadyMember
        );
        assert_eq!(db.members(Some("all"), None).unwrap().len(), 1);
    }

    #[test]
    fn csv_merge_adds_and_removes_only_its_own_members() {
        let (_d, db) = db();
        db.add_member("cli@example.com", "", "all", Source::Cli, 1)
            .unwrap();
        let m = db
            .merge_csv("all", "d1", 1, || rows(&["a@example.com", "b@example.com"]))
            .unwrap();
        assert_eq!((m.added, m.removed), (2, 0));
        let m = db
            .merge_csv("all", "d2", 2, || rows(&["a@example.com"]))
            .unwrap();
        assert_eq!((m.added, m.removed), (0, 1));
        let emails: Vec<String> = db
            .members(Some("all"), Some(MemberStatus::Active))
            .unwrap()
            .into_iter()
            .map(|m| m.email)
            .collect();
        assert_eq!(emails, vec!["a@example.com", "cli@example.com"]);
        assert!(
            db.merge_csv("all", "d2", 3, || rows(&["a@example.com"]))
                .unwrap()
                .unchanged
        );
    }

    #[test]
    fn unsubscribed_and_bounced_are_never_brought_back_by_csv_or_add() {
        let (_d, db) = db();
        db.merge_csv("all", "d1", 1, || rows(&["a@example.com", "b@example.com"]))
            .unwrap();
        db.unsubscribe("A@example.com", Some(&["all".into()]), 2)
            .unwrap();
        db.mark_bounced("b@example.com", "550 no such user", 2)
            .unwrap();
        let m = db
            .merge_csv("all", "d2", 3, || rows(&["a@example.com", "b@example.com"]))
            .unwrap();
        assert_eq!((m.added, m.suppressed), (0, 2));
        assert!(matches!(
            db.add_member("a@example.com", "", "all", Source::Import, 4)
                .unwrap(),
            Added::Suppressed(_)
        ));
        assert!(
            db.members(Some("all"), Some(MemberStatus::Active))
                .unwrap()
                .is_empty()
        );
        // Only a confirmed sign-up brings an address back.
        assert!(
            db.confirm("n0", "a@example.com", "", &["all".into()], 5)
                .unwrap()
        );
        assert_eq!(
            db.members(Some("all"), Some(MemberStatus::Active))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn unsubscribing_one_list_keeps_the_others() {
        let (_d, db) = db();
        db.add_member("a@example.com", "", "all", Source::Cli, 1)
            .unwrap();
        db.add_member("a@example.com", "", "seo", Source::Cli, 1)
            .unwrap();
        db.unsubscribe("a@example.com", Some(&["seo".into()]), 2)
            .unwrap();
        let m = &db.members(None, None).unwrap()[0];
        assert_eq!(m.status, MemberStatus::Active);
        assert_eq!(m.lists, vec!["all"]);
        db.unsubscribe("a@example.com", Some(&["all".into()]), 3)
            .unwrap();
        assert_eq!(
            db.members(None, None).unwrap()[0].status,
            MemberStatus::Unsubscribed
        );
    }

    /// Makes every new membership fail, as a full disk or a broken database would.
    fn fail_memberships(db: &Db) {
        db.conn
            .execute_batch(
                "CREATE TEMP TRIGGER boom BEFORE INSERT ON memberships
                 BEGIN SELECT RAISE(ABORT, 'boom'); END;",
            )
            .unwrap();
    }

    fn subscriber_count(db: &Db) -> i64 {
        db.conn
            .query_row("SELECT COUNT(*) FROM subscribers", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_failed_add_leaves_no_subscriber_behind() {
        let (_d, db) = db();
        fail_memberships(&db);
        assert!(
            db.add_member("a@example.com", "", "all", Source::Cli, 1)
                .is_err()
        );
        assert_eq!(subscriber_count(&db), 0);
    }

    #[test]
    fn a_failed_confirmation_leaves_its_link_usable() {
        let (_d, db) = db();
        let all = ["all".to_string()];
        fail_memberships(&db);
        assert!(db.confirm("n1", "a@example.com", "", &all, 1).is_err());
        assert_eq!(subscriber_count(&db), 0);
        db.conn.execute_batch("DROP TRIGGER boom").unwrap();
        assert!(db.confirm("n1", "a@example.com", "", &all, 2).unwrap());
    }

    #[test]
    fn concurrent_sign_ups_of_one_new_address_both_succeed() {
        let dir = tempfile::tempdir().unwrap();
        Db::open(dir.path()).unwrap();
        for i in 0..50 {
            let email = format!("n{i}@example.com");
            let barrier = std::sync::Barrier::new(2);
            std::thread::scope(|s| {
                let runs: Vec<_> = (0..2)
                    .map(|t| {
                        let (dir, barrier, email) = (&dir, &barrier, &email);
                        s.spawn(move || {
                            let db = Db::open(dir.path()).unwrap();
                            barrier.wait();
                            db.sign_up(&sign_up(email, &format!("{email}-{t}"), &[]), 1)
                        })
                    })
                    .collect();
                for r in runs {
                    r.join().unwrap().unwrap();
                }
            });
        }
    }

    fn sign_up(email: &str, nonce: &str, lists: &[&str]) -> SignUp {
        SignUp {
            email: email.into(),
            name: "Eve".into(),
            lists: lists.iter().map(|l| l.to_string()).collect(),
            nonce: nonce.into(),
            expires: 100,
        }
    }

    fn key(db: &Db, email: &str) -> String {
        db.key_of(email).unwrap().unwrap()
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_sign_up_waits_under_its_nonce_and_leaves_a_known_address_as_it_was() {
        let (_d, db) = db();
        db.add_member("ann@example.com", "Ann", "all", Source::Cli, 1)
            .unwrap();
        let before = db.members(None, None).unwrap();
        db.sign_up(&sign_up("Ann@Example.com", "n1", &["seo", "all"]), 2)
            .unwrap();
        assert_eq!(db.members(None, None).unwrap(), before, "nothing changed");
        let waiting = db.pending_sign_up("n1").unwrap().unwrap();
        assert_eq!(
            (
                waiting.email.as_str(),
                waiting.name.as_str(),
                waiting.lists.clone()
            ),
            ("ann@example.com", "Eve", ids(&["seo", "all"]))
        );
        assert!(!db.nonce_used("n1").unwrap());
        // A new address waits as `pending`, with no list yet.
        db.sign_up(&sign_up("new@example.com", "n2", &["all"]), 2)
            .unwrap();
        let new = db.members(None, Some(MemberStatus::Pending)).unwrap();
        assert_eq!(
            (new[0].email.as_str(), new[0].lists.len()),
            ("new@example.com", 0)
        );

        assert!(
            db.confirm("n1", "ann@example.com", "Eve", &waiting.lists, 3)
                .unwrap()
        );
        assert_eq!(db.pending_sign_up("n1").unwrap(), None, "spent");
        assert!(db.nonce_used("n1").unwrap());
        assert!(!db.nonce_used("n2").unwrap());
        let ann = &db.members(None, Some(MemberStatus::Active)).unwrap()[0];
        assert_eq!(
            (ann.name.as_str(), ann.lists.clone()),
            ("Eve", ids(&["all", "seo"]))
        );
    }

    #[test]
    fn expired_sign_ups_are_dropped_by_the_next_one() {
        let (_d, db) = db();
        db.sign_up(&sign_up("a@example.com", "old", &["all"]), 1)
            .unwrap();
        db.sign_up(&sign_up("b@example.com", "edge", &["all"]), 1)
            .unwrap();
        // At the second its link expires, a sign-up is kept; one second later, dropped.
        db.sign_up(&sign_up("c@example.com", "new", &["all"]), 100)
            .unwrap();
        assert!(db.pending_sign_up("old").unwrap().is_some());
        db.sign_up(&sign_up("d@example.com", "newer", &["all"]), 101)
            .unwrap();
        assert_eq!(db.pending_sign_up("old").unwrap(), None);
        assert_eq!(db.pending_sign_up("edge").unwrap(), None);
        assert!(db.pending_sign_up("newer").unwrap().is_some());
    }

    #[test]
    fn preferences_join_leave_and_rename_in_one_save() {
        let (_d, db) = db();
        db.merge_csv("all", "d1", 1, || rows(&["a@example.com"]))
            .unwrap();
        db.add_member("a@example.com", "", "seo", Source::Cli, 1)
            .unwrap();
        let k = key(&db, "a@example.com");
        let p = db.profile(&k).unwrap().unwrap();
        assert_eq!(
            (p.email.as_str(), p.status, p.lists),
            ("a@example.com", MemberStatus::Active, ids(&["all", "seo"]))
        );

        let p = db
            .set_preferences(&k, "Ann Lee", &ids(&["seo", "weekly"]), 2)
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.name.as_str(), p.lists),
            ("Ann Lee", ids(&["seo", "weekly"]))
        );
        assert_eq!(db.profile(&k).unwrap().unwrap().name, "Ann Lee");
        // Leaving a list is an unsubscription: the list's CSV does not bring it back.
        let m = db
            .merge_csv("all", "d2", 3, || rows(&["a@example.com", "b@example.com"]))
            .unwrap();
        assert_eq!((m.added, m.suppressed), (1, 1));
        assert_eq!(
            db.members(Some("all"), Some(MemberStatus::Active))
                .unwrap()
                .len(),
            1,
            "only b"
        );
    }

    #[test]
    fn leaving_every_list_unsubscribes_and_ticking_one_brings_them_back() {
        let (_d, db) = db();
        db.add_member("a@example.com", "Ann", "all", Source::Cli, 1)
            .unwrap();
        let k = key(&db, "a@example.com");
        let p = db.set_preferences(&k, "Ann", &[], 2).unwrap().unwrap();
        assert_eq!((p.status, p.lists.len()), (MemberStatus::Unsubscribed, 0));
        assert_eq!(
            db.members(None, None).unwrap()[0].status,
            MemberStatus::Unsubscribed
        );
        // Unsubscribed: ticking a list is the way back, no confirmation needed.
        let p = db
            .set_preferences(&k, "Ann", &ids(&["seo"]), 3)
            .unwrap()
            .unwrap();
        assert_eq!((p.status, p.lists), (MemberStatus::Active, ids(&["seo"])));

        // Bounced: saving with nothing ticked keeps it bounced; ticking a list revives it.
        db.mark_bounced("a@example.com", "550 no such user", 4)
            .unwrap();
        let p = db.profile(&k).unwrap().unwrap();
        assert_eq!((p.status, p.lists.len()), (MemberStatus::Bounced, 0));
        let p = db.set_preferences(&k, "Ann", &[], 5).unwrap().unwrap();
        assert_eq!(p.status, MemberStatus::Bounced);
        let p = db
            .set_preferences(&k, "Ann", &ids(&["all"]), 6)
            .unwrap()
            .unwrap();
        assert_eq!((p.status, p.lists), (MemberStatus::Active, ids(&["all"])));
        let reason: Option<String> = db
            .conn
            .query_row("SELECT reason FROM subscribers", [], |r| r.get(0))
            .unwrap();
        assert_eq!(reason, None);
    }

    #[test]
    fn preferences_of_an_unknown_key_change_nothing() {
        let (_d, db) = db();
        db.add_member("a@example.com", "Ann", "all", Source::Cli, 1)
            .unwrap();
        let before = db.members(None, None).unwrap();
        assert_eq!(db.profile("nobody").unwrap(), None);
        assert_eq!(
            db.set_preferences("nobody", "X", &ids(&["seo"]), 2)
                .unwrap(),
            None
        );
        assert_eq!(db.set_preferences("", "X", &[], 2).unwrap(), None);
        assert_eq!(db.members(None, None).unwrap(), before);
    }

    #[test]
    fn a_failed_save_changes_nothing() {
        let (_d, db) = db();
        db.add_member("a@example.com", "Ann", "all", Source::Cli, 1)
            .unwrap();
        let k = key(&db, "a@example.com");
        let before = db.members(None, None).unwrap();
        fail_memberships(&db);
        assert!(db.set_preferences(&k, "Eve", &ids(&["seo"]), 2).is_err());
        assert_eq!(db.members(None, None).unwrap(), before, "name kept too");
    }

    #[test]
    fn nonces_work_once() {
        let (_d, db) = db();
        let all = ["all".to_string()];
        assert!(db.confirm("n1", "a@example.com", "", &all, 1).unwrap());
        assert!(!db.confirm("n1", "a@example.com", "", &all, 2).unwrap());
    }
}

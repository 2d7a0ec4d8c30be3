//! The statuses stored in the database, one vocabulary each: [`DeliveryStatus`] for journal
//! rows (and the events delivery reports), [`MemberStatus`] for subscribers and their list
//! memberships.
//!
//! Each is stored as the same lowercase word it always was (`'queued'`, `'active'`...), the
//! words the schema's `CHECK` constraints list, so existing databases keep working. A word
//! this herald does not know is a conversion error, which [`super::Db::err`] reports with the
//! database's path.

use std::fmt;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use serde::Serialize;

/// A stored word that names no status: which kind of status, and the word.
#[derive(Debug)]
struct Unknown {
    what: &'static str,
    text: String,
    known: String,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown {} \"{}\" (this herald knows {})",
            self.what, self.text, self.known
        )
    }
}

impl std::error::Error for Unknown {}

/// Defines a status enum stored as text: `as_str`, `parse`, `ALL`, `Display`, `Serialize`
/// (as the word), and rusqlite's `ToSql`/`FromSql`.
macro_rules! text_status {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every status, in declaration order (the order of `index`).
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The word stored in the database and shown to users.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The status a stored word names, if any.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }

            /// A dense index (`0..ALL.len()`), for arrays of counters.
            pub fn index(self) -> usize {
                self as usize
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $name {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                $name::parse(text).ok_or_else(|| {
                    FromSqlError::Other(Box::new(Unknown {
                        what: $what,
                        text: text.to_string(),
                        known: $name::ALL
                            .iter()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", "),
                    }))
                })
            }
        }
    };
}

text_status! {
    /// Where one delivery (a post to an address) stands in the journal. `Queued`, `Sending`
    /// and `Deferred` are open: a run sends them.
    DeliveryStatus, "delivery status" {
        /// Recipients fixed, not tried yet.
        Queued => "queued",
        /// Committed before the transport is called: a crash leaves it to be sent again.
        Sending => "sending",
        /// The server accepted it (or the outbox holds it).
        Sent => "sent",
        /// A transient failure: a later pass or run tries again.
        Deferred => "deferred",
        /// A permanent failure, or deferred for longer than `retry_days`.
        Failed => "failed",
        /// Not sent: the address left, or the post or its lists went away.
        Cancelled => "cancelled",
    }
}

impl DeliveryStatus {
    /// Whether a run still has to send it.
    #[cfg(test)]
    pub fn is_open(self) -> bool {
        matches!(
            self,
            DeliveryStatus::Queued | DeliveryStatus::Sending | DeliveryStatus::Deferred
        )
    }
}

text_status! {
    /// A subscriber's status, and a list membership's (a membership is never `Bounced` or
    /// `Complained`: those are the address's, and the schema refuses them there).
    MemberStatus, "subscriber status" {
        /// Signed up through `serve`, not confirmed yet.
        Pending => "pending",
        /// Gets mail.
        Active => "active",
        /// Left; only a new confirmed sign-up brings the address back.
        Unsubscribed => "unsubscribed",
        /// The server refused the address (550, 551, 553), a returned mail said it does not
        /// exist (a 5.x.x status), or it soft-bounced `soft_bounce_limit` times in a row; as
        /// final as `Unsubscribed`.
        Bounced => "bounced",
        /// The recipient reported a mail as spam (an ARF complaint): never mailed again; not
        /// brought back by a CSV, an import or `subscribers add`, only by a new confirmed
        /// sign-up.
        Complained => "complained",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Db;

    /// Every status is a word the schema's CHECK accepts, and reads back as itself.
    #[test]
    fn every_status_round_trips_through_the_schema() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        for (i, s) in MemberStatus::ALL.iter().enumerate() {
            db.conn
                .execute(
                    "INSERT INTO subscribers (email, email_norm, status, created_at, updated_at)
                     VALUES (?1, ?1, ?2, 0, 0)",
                    rusqlite::params![format!("{i}@example.com"), s],
                )
                .unwrap();
            let back: MemberStatus = db
                .conn
                .query_row(
                    "SELECT status FROM subscribers WHERE email_norm = ?1",
                    [format!("{i}@example.com")],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(back, *s);
            assert_eq!(s.index(), i);
        }
        for (i, s) in DeliveryStatus::ALL.iter().enumerate() {
            db.conn
                .execute(
                    "INSERT INTO deliveries (post_slug, email_norm, lists, status, updated_at)
                     VALUES ('p', ?1, 'all', ?2, 0)",
                    rusqlite::params![format!("{i}@example.com"), s],
                )
                .unwrap();
            let back: DeliveryStatus = db
                .conn
                .query_row(
                    "SELECT status FROM deliveries WHERE email_norm = ?1",
                    [format!("{i}@example.com")],
                    |r| r.get(0),
                )
                .unwrap();
            assert_eq!(back, *s);
            assert_eq!(s.index(), i);
            assert_eq!(DeliveryStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(
            serde_json::to_string(&DeliveryStatus::Deferred).unwrap(),
            "\"deferred\""
        );
    }

    /// A word this herald does not know (a newer herald's, or a hand edit) is an error that
    /// names the database and the word, not a panic.
    #[test]
    fn an_unknown_stored_status_is_an_error_naming_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path()).unwrap();
        db.conn
            .execute_batch(
                "PRAGMA ignore_check_constraints = ON;
                 INSERT INTO subscribers (email, email_norm, status, created_at, updated_at)
                 VALUES ('a@example.com', 'a@example.com', 'paused', 0, 0);",
            )
            .unwrap();
        let err = db.members(None, None).expect_err("refused").to_string();
        assert!(err.contains("herald.db"), "{err}");
        assert!(
            err.contains("unknown subscriber status \"paused\""),
            "{err}"
        );
    }
}

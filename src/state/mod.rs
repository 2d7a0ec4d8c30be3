//! herald's state under `state_dir`: one SQLite database (subscribers, list membership, the
//! delivery journal, runs, sign-ups waiting for their confirmation, used confirmation tokens,
//! returned mail), the HMAC secret, and the publish lock.
//!
//! Knows rows, never Markdown or mail. Every write is one short transaction, so `publish` and
//! `serve` can share the database (WAL, busy timeout).

pub mod bounces;
mod db;
pub mod digests;
pub mod journal;
pub mod lock;
pub mod secret;
pub mod stamp;
mod status;
pub mod subscribers;
pub mod tokens;

pub use db::Db;
pub use lock::PublishLock;
pub use status::{DeliveryStatus, MemberStatus};

/// An address as stored and compared: trimmed and lowercased.
pub fn normalize(email: &str) -> String {
    email.trim().to_lowercase()
}

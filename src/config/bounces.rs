//! Returned mail: `newsletter.return_path` (the VERP envelope sender),
//! `newsletter.soft_bounce_limit` and `newsletter.bounces.imap` (the mailbox bounces and
//! complaint reports arrive in), their raw forms and their checks.

use serde::Deserialize;

use super::{Security, Validator, is_loopback};
use crate::error::cut;

/// The longest local part `return_path` may have: the VERP address adds `+` and the token, and
/// a local part holds at most 64 octets (RFC 5321).
pub const MAX_RETURN_PATH_LOCAL: usize = 64 - 1 - crate::newsletter::verp::TOKEN_LEN;

/// `newsletter.bounces:` as typed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBounces {
    pub imap: Option<RawImap>,
}

/// `newsletter.bounces.imap:` as typed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImap {
    pub host: String,
    /// Default 993 with `security: tls`, else 143.
    pub port: Option<u16>,
    /// `tls` (default, implicit TLS), `starttls` or `none` (loopback only).
    pub security: Option<String>,
    pub username: String,
    /// Default `HERALD_IMAP_PASSWORD`.
    pub password_env: Option<String>,
    /// Default `INBOX`.
    pub folder: Option<String>,
    /// `move` (default) or `delete`.
    pub processed: Option<String>,
    /// Default `herald-processed`.
    pub processed_folder: Option<String>,
    /// Default 30.
    pub timeout_secs: Option<u64>,
}

/// What becomes of a message herald has dealt with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// Moved to this folder (created when missing).
    Move(String),
    Delete,
}

/// `newsletter.bounces.imap`, validated.
#[derive(Debug, Clone)]
pub struct Imap {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: String,
    /// The name of the environment variable holding the password (never the password).
    pub password_env: String,
    pub folder: String,
    pub processed: Processed,
    pub timeout_secs: u64,
}

/// `newsletter.return_path`: the envelope sender's parts, `bounces` and `leadcraftr.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPath {
    pub local: String,
    pub domain: String,
}

impl ReturnPath {
    /// The bare address, for mail that names no delivery (confirmations, previews).
    pub fn address(&self) -> String {
        format!("{}@{}", self.local, self.domain)
    }
}

/// A folder name IMAP can be asked for in a quoted string.
fn plain_folder(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\' || !c.is_ascii())
}

impl Validator<'_> {
    /// `newsletter.return_path`.
    pub(super) fn return_path(&mut self, raw: Option<&str>) -> Option<ReturnPath> {
        let at = ["newsletter", "return_path"];
        let email = self.email(&at, raw?);
        let (local, domain) = email.rsplit_once('@')?;
        if !local.is_ascii() || local.starts_with('"') {
            self.problem(
                &at,
                format!(
                    "`return_path` \"{}\" needs a plain ASCII local part: herald adds `+` and a token to it",
                    cut(&email)
                ),
            );
        } else if local.len() > MAX_RETURN_PATH_LOCAL {
            self.problem(
                &at,
                format!(
                    "the local part of `return_path` \"{}\" is {} characters long; at most \
                     {MAX_RETURN_PATH_LOCAL} leave room for `+` and the {}-character token",
                    cut(&email),
                    local.len(),
                    crate::newsletter::verp::TOKEN_LEN
                ),
            );
        }
        Some(ReturnPath {
            local: local.to_string(),
            domain: domain.to_string(),
        })
    }

    /// `newsletter.soft_bounce_limit`, default 3.
    pub(super) fn soft_bounce_limit(&mut self, raw: Option<u32>) -> u32 {
        let limit = raw.unwrap_or(3);
        if !(1..=100).contains(&limit) {
            self.problem(
                &["newsletter", "soft_bounce_limit"],
                "`newsletter.soft_bounce_limit` must be between 1 and 100",
            );
            return 3;
        }
        limit
    }

    /// `newsletter.bounces.imap`.
    pub(super) fn bounces(&mut self, raw: Option<RawBounces>) -> Option<Imap> {
        let raw = raw?.imap?;
        let at = |key: &'static str| ["newsletter", "bounces", "imap", key];
        let security = match raw.security.as_deref().unwrap_or("tls") {
            "tls" => Security::Tls,
            "starttls" => Security::StartTls,
            "none" => Security::None,
            other => {
                self.problem(
                    &at("security"),
                    format!(
                        "unknown security \"{}\": expected tls, starttls or none",
                        cut(other)
                    ),
                );
                Security::Tls
            }
        };
        let host = raw.host.trim().to_string();
        if host.is_empty() {
            self.problem(&at("host"), "`newsletter.bounces.imap.host` is empty");
        }
        if security == Security::None && !is_loopback(&host) {
            self.problem(
                &at("security"),
                format!(
                    "`security: none` sends the mailbox's password in clear text; it is only \
                     allowed for a loopback host, not \"{}\"",
                    cut(&host)
                ),
            );
        }
        let username = raw.username.trim().to_string();
        if username.is_empty() || username.contains(['\r', '\n', '\0']) {
            self.problem(
                &at("username"),
                "`newsletter.bounces.imap.username` must be one non-empty line",
            );
        }
        let folder = raw.folder.unwrap_or_else(|| "INBOX".into());
        if !plain_folder(&folder) {
            self.problem(
                &at("folder"),
                format!(
                    "invalid folder \"{}\": expected a name in ASCII without quotes, backslashes or control characters",
                    cut(&folder)
                ),
            );
        }
        let processed_folder = raw
            .processed_folder
            .unwrap_or_else(|| "herald-processed".into());
        let processed = match raw.processed.as_deref().unwrap_or("move") {
            "move" => Processed::Move(processed_folder.clone()),
            "delete" => Processed::Delete,
            other => {
                self.problem(
                    &at("processed"),
                    format!(
                        "unknown processed \"{}\": expected move or delete",
                        cut(other)
                    ),
                );
                Processed::Delete
            }
        };
        if let Processed::Move(to) = &processed {
            if !plain_folder(to) {
                self.problem(
                    &at("processed_folder"),
                    format!(
                        "invalid processed_folder \"{}\": expected a name in ASCII without quotes, backslashes or control characters",
                        cut(to)
                    ),
                );
            } else if to.eq_ignore_ascii_case(&folder) {
                self.problem(
                    &at("processed_folder"),
                    "`processed_folder` must differ from `folder`: processed messages would be read again",
                );
            }
        }
        let timeout_secs = raw.timeout_secs.unwrap_or(30);
        if timeout_secs == 0 {
            self.problem(
                &at("timeout_secs"),
                "`newsletter.bounces.imap.timeout_secs` must be at least 1",
            );
        }
        Some(Imap {
            port: raw
                .port
                .unwrap_or(if security == Security::Tls { 993 } else { 143 }),
            host,
            security,
            username,
            password_env: raw
                .password_env
                .unwrap_or_else(|| "HERALD_IMAP_PASSWORD".into()),
            folder,
            processed,
            timeout_secs: timeout_secs.max(1),
        })
    }
}

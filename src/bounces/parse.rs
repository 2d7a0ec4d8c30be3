//! What one returned message says, from its bytes alone: a hard or soft bounce, a complaint,
//! something understood and beside the point (an auto-reply, a delay warning), or nothing
//! herald understands; and every clue to whom it is about (VERP tokens, the original
//! message's Message-ID, the original recipient).
//!
//! In order:
//!
//! 1. RFC 5965 ARF (`multipart/report; report-type=feedback-report`): a `Feedback-Type` of
//!    `abuse` or `fraud` is a complaint; the original's headers come as `text/rfc822-headers`
//!    or `message/rfc822`.
//! 2. RFC 3464 DSNs (a `message/delivery-status` part): per-recipient `Action` and `Status`.
//!    `failed` with a 5.x.x status is hard, with 4.x.x soft; `delayed` is a warning, not a
//!    bounce.
//! 3. The bounces of relays that send no DSN (Postfix, Exim, qmail, Sendmail, and the texts of
//!    Gmail, Outlook and Yahoo): a message from the mail system (`MAILER-DAEMON`, `postmaster`,
//!    an empty `Return-Path`, `X-Failed-Recipients`) whose text holds a status code or an
//!    SMTP reply (and the failed address) before the copy of the original.
//! 4. Auto-replies (`Auto-Submitted` other than `no`, `X-Autoreply`, "Out of office"
//!    subjects) are not bounces.
//!
//! A 5.x.x status is hard, except those that say nothing about the address: 5.2.2 (mailbox
//! full), 5.3.4 (message too big), 5.4.7 (delivery time expired), 5.6.x (content) and 5.7.x
//! (policy: the sender was blocked, not the address missing). Those count as soft, so a relay
//! that blocks herald for a day does not empty a list.
//!
//! Never panics, whatever the bytes; text is read as UTF-8 with invalid bytes replaced.

use std::borrow::Cow;

use mail_parser::{MessageParser, MimeHeaders, PartType};
use sha2::{Digest, Sha256};

use crate::newsletter::verp;

/// How much of a message's text the heuristics read (a bounce's words are at its top).
const TEXT_MAX: usize = 64 * 1024;

/// What a message is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The address does not take mail: a 5.x.x status.
    Hard,
    /// A temporary failure the relay gave up on: a 4.x.x status (or a 5.x.x that says nothing
    /// about the address, see the module's text).
    Soft,
    /// The recipient reported the mail as spam.
    Complaint,
    /// Understood, and not about the address: why.
    Ignored(&'static str),
    /// Nothing herald understands: why.
    Unknown(&'static str),
}

/// One returned message, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// The report's identity, which makes a second reading of it change nothing: its
    /// Message-ID, else the SHA-256 of its bytes.
    pub id: String,
    pub verdict: Verdict,
    /// The status code (`5.1.1`) or the feedback type (`abuse`).
    pub code: Option<String>,
    /// The relay's words (one line, at most 200 characters).
    pub detail: String,
    /// Token-shaped VERP tags found anywhere in it, first seen first (not yet verified).
    pub tokens: Vec<String>,
    /// The Message-IDs of the original message, without angle brackets.
    pub message_ids: Vec<String>,
    /// Who the original was for, most telling first (lowercase).
    pub recipients: Vec<String>,
}

/// Reads one message. Any bytes at all.
pub fn parse(raw: &[u8]) -> Parsed {
    // mail-parser promises not to panic; a message it chokes on anyway is one herald does not
    // understand, not the end of the run.
    std::panic::catch_unwind(|| parse_inner(raw)).unwrap_or_else(|_| Parsed {
        id: hash_id(raw),
        verdict: Verdict::Unknown("the MIME parser failed on it"),
        code: None,
        detail: String::new(),
        tokens: verp::find_tokens(raw),
        message_ids: Vec::new(),
        recipients: Vec::new(),
    })
}

fn hash_id(raw: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(raw))
}

/// The message's identity: its Message-ID when it has a sane one.
fn report_id(headers: &Fields, raw: &[u8]) -> String {
    match headers.get("message-id").map(|v| strip_angles(v.trim())) {
        Some(id) if !id.is_empty() && id.len() <= 250 && !id.contains(char::is_whitespace) => {
            format!("mid:{id}")
        }
        _ => hash_id(raw),
    }
}

fn parse_inner(raw: &[u8]) -> Parsed {
    let top = Fields::read(raw);
    let mut out = Parsed {
        id: report_id(&top, raw),
        verdict: Verdict::Unknown("not a bounce, complaint or auto-reply herald understands"),
        code: None,
        detail: String::new(),
        tokens: verp::find_tokens(raw),
        message_ids: Vec::new(),
        recipients: Vec::new(),
    };
    let Some(msg) = MessageParser::default().parse(raw) else {
        out.verdict = Verdict::Unknown("not a mail message");
        return out;
    };
    if top.fields.is_empty() {
        out.verdict = Verdict::Unknown("not a mail message");
        return out;
    }

    // The parts of a report, and the plain text of the message.
    let mut dsn: Option<Vec<Fields>> = None;
    let mut arf: Option<Fields> = None;
    let mut text = String::new();
    for part in &msg.parts {
        let (ctype, subtype) = match part.content_type() {
            Some(ct) => (
                ct.ctype().to_ascii_lowercase(),
                ct.subtype().unwrap_or("").to_ascii_lowercase(),
            ),
            None => ("text".into(), "plain".into()),
        };
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                dsn.get_or_insert_with(|| Fields::groups(part.contents()));
            }
            ("message", "feedback-report") => {
                arf.get_or_insert_with(|| Fields::read_all(part.contents()));
            }
            ("message", "rfc822" | "global") => {
                if let PartType::Message(original) = &part.body {
                    original_clues(&Fields::read(original.raw_message()), &mut out);
                }
            }
            ("text" | "message", "rfc822-headers" | "global-headers") => {
                original_clues(&Fields::read(part.contents()), &mut out);
            }
            ("text", "plain") if text.len() < TEXT_MAX => {
                if let PartType::Text(t) = &part.body {
                    text.push_str(t);
                    text.push('\n');
                }
            }
            _ => {}
        }
    }
    if text.is_empty()
        && let Some(t) = msg.body_text(0)
    {
        text.push_str(&t);
    }
    let text = cut_at_char(&text, TEXT_MAX);

    if let Some(report) = arf {
        complaint(&report, &mut out);
        return out;
    }
    if let Some(groups) = dsn
        && delivery_status(&groups, &mut out)
    {
        return out;
    }
    let subject = msg.subject().unwrap_or("").to_string();
    let system = from_mail_system(&msg, &top);
    let null_sender = top
        .get("return-path")
        .is_some_and(|v| strip_angles(v.trim()).is_empty());
    if system || null_sender {
        // The original's headers, where the bounce quotes them in its text.
        quoted_clues(text, &mut out);
        if plain_bounce(&top, &subject, text, &mut out) {
            return out;
        }
        // A mail system does not go on holiday: its `Auto-Submitted` says nothing here.
        if system {
            out.verdict = Verdict::Unknown("a message from a mail system herald cannot read");
            return out;
        }
    }
    if auto_reply(&top, &subject) {
        out.verdict = Verdict::Ignored("an auto-reply");
    }
    out
}

/// An RFC 5965 feedback report.
fn complaint(report: &Fields, out: &mut Parsed) {
    let kind = report
        .get("feedback-type")
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    for key in ["original-rcpt-to", "removal-recipient"] {
        for v in report.all(key) {
            push_addresses(v, &mut out.recipients);
        }
    }
    out.code = (!kind.is_empty()).then(|| one_line(&kind, 40));
    out.verdict = match kind.as_str() {
        "abuse" | "fraud" => Verdict::Complaint,
        "" => Verdict::Unknown("a feedback report without a Feedback-Type"),
        _ => Verdict::Ignored("a feedback report that is no complaint (not abuse or fraud)"),
    };
    out.detail = one_line(&format!("feedback report of type {kind}"), 200);
}

/// An RFC 3464 DSN's recipients: whether it said anything (false: no recipient in it, and
/// the text may).
fn delivery_status(groups: &[Fields], out: &mut Parsed) -> bool {
    struct Rcpt {
        action: String,
        code: Option<String>,
        diagnostic: String,
        addresses: Vec<String>,
    }
    let mut rcpts = Vec::new();
    for g in groups {
        let action = g
            .get("action")
            .map(|a| a.trim().to_ascii_lowercase())
            .unwrap_or_default();
        let status = g.get("status").and_then(status_code);
        if action.is_empty() && status.is_none() && g.get("final-recipient").is_none() {
            continue;
        }
        let diagnostic = g
            .get("diagnostic-code")
            .map(|d| after_type(d).to_string())
            .unwrap_or_default();
        let code = status.or_else(|| code_in(&diagnostic));
        let mut addresses = Vec::new();
        // Original-Recipient first: Final-Recipient may be where an alias forwarded to.
        for key in [
            "original-recipient",
            "final-recipient",
            "x-actual-recipient",
        ] {
            if let Some(v) = g.get(key) {
                push_addresses(after_type(v), &mut addresses);
            }
        }
        rcpts.push(Rcpt {
            action,
            code,
            diagnostic,
            addresses,
        });
    }
    if rcpts.is_empty() {
        return false;
    }
    // The most severe recipient decides: a hard failure, then a soft one, then the rest.
    let rank = |r: &Rcpt| {
        let failed = r.action == "failed"
            || (r.action.is_empty() && r.code.as_deref().is_some_and(|c| !c.starts_with('2')));
        match (failed, r.code.as_deref().map(severity)) {
            (true, Some(Verdict::Hard)) => 0,
            (true, _) => 1,
            (false, _) if r.action == "delayed" => 2,
            _ => 3,
        }
    };
    let Some(worst) = rcpts.iter().min_by_key(|r| rank(r)) else {
        return false;
    };
    for r in rcpts.iter().filter(|r| rank(r) == rank(worst)) {
        for a in &r.addresses {
            if !out.recipients.contains(a) {
                out.recipients.push(a.clone());
            }
        }
    }
    out.code = worst.code.clone();
    out.detail = one_line(&worst.diagnostic, 200);
    out.verdict = match rank(worst) {
        // `failed` without any code: the relay gave up, not saying why; it only counts.
        0 | 1 => worst
            .code
            .as_deref()
            .map(severity)
            .filter(|v| *v == Verdict::Hard)
            .unwrap_or(Verdict::Soft),
        2 => Verdict::Ignored("a delay warning: the relay is still trying"),
        _ => Verdict::Ignored("a delivery report that is no failure"),
    };
    true
}

/// Hard or soft, by an `x.y.z` status code (see the module's text).
fn severity(code: &str) -> Verdict {
    let mut parts = code.split('.');
    let (class, subject) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match class {
        "5" if matches!(subject, "6" | "7") => Verdict::Soft,
        "5" if matches!(code, "5.2.2" | "5.3.4" | "5.4.7") => Verdict::Soft,
        "5" => Verdict::Hard,
        "4" => Verdict::Soft,
        _ => Verdict::Ignored("a delivery report that is no failure"),
    }
}

/// A bounce in prose, from a mail system that sent no DSN: whether it was one.
fn plain_bounce(top: &Fields, subject: &str, text: &str, out: &mut Parsed) -> bool {
    let subject_l = subject.to_ascii_lowercase();
    let diagnostic = before_original(text);
    let lower = diagnostic.to_ascii_lowercase();
    let failed_rcpts: Vec<&str> = top.all("x-failed-recipients").collect();
    let bouncy_subject = [
        "undeliver",
        "returned mail",
        "returned to sender",
        "delivery status notification",
        "failure notice",
        "delivery failure",
        "mail delivery failed",
        "delivery has failed",
        "non-delivery",
        "nondeliverable",
        "not delivered",
        "delivery problem",
    ]
    .iter()
    .any(|s| subject_l.contains(s));
    let delay = subject_l.contains("delay")
        || [
            "still being retried",
            "will continue to try",
            "will retry",
            "has not yet been delivered",
            "has been delayed",
            "is delayed",
            "temporarily deferred",
        ]
        .iter()
        .any(|s| lower.contains(s));
    if !bouncy_subject && failed_rcpts.is_empty() && !delay {
        return false;
    }
    for r in &failed_rcpts {
        push_addresses(r, &mut out.recipients);
    }
    failed_addresses(diagnostic, &mut out.recipients);
    if delay && failed_rcpts.is_empty() && !lower.contains("permanent") {
        out.verdict = Verdict::Ignored("a delay warning: the relay is still trying");
        return true;
    }
    let (code, detail) = match smtp_code_in(diagnostic) {
        Some(found) => found,
        None => {
            let permanent = [
                "permanent error",
                "permanently",
                "does not exist",
                "doesn't exist",
                "doesn't have a",
                "user unknown",
                "unknown user",
                "no such user",
                "address not found",
                "couldn't be found",
                "could not be found",
                "mailbox unavailable",
            ];
            let temporary = [
                "temporary",
                "retry timeout exceeded",
                "mailbox full",
                "mailbox is full",
                "over quota",
                "quota exceeded",
            ];
            if temporary.iter().any(|s| lower.contains(s)) {
                ("4.0.0".to_string(), String::new())
            } else if permanent.iter().any(|s| lower.contains(s)) {
                ("5.0.0".to_string(), String::new())
            } else {
                out.verdict = Verdict::Unknown("a bounce without a status herald can read");
                return true;
            }
        }
    };
    out.verdict = severity(&code);
    out.code = Some(code);
    out.detail = one_line(&detail, 200);
    true
}

/// The part of a bounce's text before its copy of the original message.
fn before_original(text: &str) -> &str {
    let mut end = 0;
    for line in text.split_inclusive('\n') {
        let l = line.trim().to_ascii_lowercase();
        if l.contains("copy of the message")
            || l.contains("original message")
            || l.contains("below this line")
            || l.contains("original message headers")
            || l.starts_with("return-path:")
            || l.starts_with("received:")
            || l.starts_with("message-id:")
        {
            break;
        }
        end += line.len();
    }
    &text[..end]
}

/// Addresses a bounce's prose names as failed: `<addr>:` lines (Postfix, qmail, Yahoo), the
/// lines after "address(es) failed:" (Exim) or "recipients or groups:" (Outlook), and
/// "delivered to addr" (Gmail).
fn failed_addresses(text: &str, out: &mut Vec<String>) {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let lower = line.to_ascii_lowercase();
        if line.starts_with('<') && line.contains(">:") {
            push_addresses(line.split(">:").next().unwrap_or(""), out);
        }
        let announces = lower.ends_with("failed:")
            || lower.ends_with("recipients or groups:")
            || lower.ends_with("failed permanently:")
            || lower.ends_with("following address.")
            || lower.ends_with("following addresses:");
        if announces && let Some(next) = lines[i + 1..].iter().find(|l| !l.is_empty()) {
            push_addresses(next, out);
        }
        for marker in ["delivered to ", "delivery to "] {
            if let Some(at) = lower.find(marker) {
                let rest = line.get(at + marker.len()..).unwrap_or("");
                let first = rest.split_whitespace().next().unwrap_or("");
                push_addresses(first, out);
            }
        }
    }
}

/// The first status code in `text` with the reply it stands in (`5.1.1`, and the line), or
/// a bare SMTP reply code turned into one (`550` -> `5.0.0`, `552` -> `5.2.2`).
fn smtp_code_in(text: &str) -> Option<(String, String)> {
    for line in text.lines() {
        if let Some(code) = enhanced_code(line) {
            return Some((code, line.trim().to_string()));
        }
    }
    for line in text.lines() {
        if let Some(code) = basic_code(line) {
            return Some((code, line.trim().to_string()));
        }
    }
    None
}

/// An `x.y.z` code in a field's value or a diagnostic.
fn code_in(text: &str) -> Option<String> {
    enhanced_code(text).or_else(|| basic_code(text))
}

/// A DSN's `Status:` value: `5.1.1` (and whatever comments follow).
fn status_code(value: &str) -> Option<String> {
    enhanced_code(value.trim())
}

/// The first `2|4|5 . 1-3 digits . 1-3 digits` standing alone in `text` (not part of an IP
/// address or a longer number).
fn enhanced_code(text: &str) -> Option<String> {
    let b = text.as_bytes();
    for i in 0..b.len() {
        if !matches!(b[i], b'2' | b'4' | b'5') {
            continue;
        }
        if i > 0 && (b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'.' | b'-' | b'/')) {
            continue;
        }
        let mut j = i + 1;
        let mut groups = 0;
        while groups < 2 && b.get(j) == Some(&b'.') {
            let start = j + 1;
            let mut k = start;
            while k < b.len() && b[k].is_ascii_digit() && k - start < 3 {
                k += 1;
            }
            if k == start {
                break;
            }
            groups += 1;
            j = k;
        }
        if groups == 2 && !b.get(j).is_some_and(|c| c.is_ascii_digit() || *c == b'.') {
            return text.get(i..j).map(str::to_string);
        }
    }
    None
}

/// A bare SMTP reply code at the start of `text` or after `said:`/`error:`-like words, as an
/// `x.y.z` code.
fn basic_code(text: &str) -> Option<String> {
    const CODES: &[&str] = &[
        "421", "450", "451", "452", "454", "500", "501", "502", "503", "504", "521", "530", "535",
        "541", "550", "551", "552", "553", "554", "556",
    ];
    let b = text.as_bytes();
    for i in 0..b.len().saturating_sub(2) {
        let Some(code) = text.get(i..i + 3) else {
            continue;
        };
        if !CODES.contains(&code) {
            continue;
        }
        let before_ok = i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'(' | b'\'' | b'"' | b':');
        let after_ok = matches!(
            b.get(i + 3),
            None | Some(b' ' | b'-' | b':' | b')' | b'\r' | b'\n')
        );
        if before_ok && after_ok {
            return Some(match code {
                "552" => "5.2.2".into(),
                c if c.starts_with('4') => "4.0.0".into(),
                _ => "5.0.0".into(),
            });
        }
    }
    None
}

/// Whether the message comes from a mail system (`MAILER-DAEMON`, `postmaster`, "Mail
/// Delivery System", or Exim's `X-Failed-Recipients`) rather than a person.
fn from_mail_system(msg: &mail_parser::Message<'_>, top: &Fields) -> bool {
    let system = msg.from().and_then(|f| f.first()).is_some_and(|a| {
        let local = a
            .address()
            .and_then(|e| e.split('@').next())
            .unwrap_or("")
            .to_ascii_lowercase();
        let name = a.name().unwrap_or("").to_ascii_lowercase();
        matches!(
            local.as_str(),
            "mailer-daemon" | "mailerdaemon" | "mail-daemon" | "maildaemon" | "postmaster"
        ) || name.contains("mail delivery")
            || name.contains("mailer-daemon")
            || name.contains("mail system")
    });
    system || top.get("x-failed-recipients").is_some()
}

/// RFC 3834's `Auto-Submitted`, the headers of common responders, or a vacation subject.
fn auto_reply(top: &Fields, subject: &str) -> bool {
    let header = |k: &str| top.get(k).map(|v| v.trim().to_ascii_lowercase());
    if header("auto-submitted").is_some_and(|v| !v.is_empty() && !v.starts_with("no")) {
        return true;
    }
    if header("x-autoreply").is_some()
        || header("x-autorespond").is_some()
        || header("precedence").is_some_and(|p| p == "auto_reply")
    {
        return true;
    }
    let s = subject.trim().to_lowercase();
    [
        "auto:",
        "automatic reply",
        "autoreply",
        "auto-reply",
        "auto reply",
        "out of office",
        "out of the office",
        "vacation",
        "away from the office",
        "abwesenheitsnotiz",
        "réponse automatique",
    ]
    .iter()
    .any(|p| s.starts_with(p))
}

/// Clues from the original message's headers: its Message-ID and recipients.
fn original_clues(headers: &Fields, out: &mut Parsed) {
    if let Some(id) = headers.get("message-id") {
        let id = strip_angles(id.trim()).to_string();
        if !id.is_empty() && !out.message_ids.contains(&id) {
            out.message_ids.push(id);
        }
    }
    for v in headers.all("to") {
        push_addresses(v, &mut out.recipients);
    }
}

/// Clues from a copy of the original quoted in a bounce's text: `Message-ID:` and `To:`
/// lines after the bounce's own words.
fn quoted_clues(text: &str, out: &mut Parsed) {
    let start = before_original(text).len();
    let quoted = Fields::read_all(text.get(start..).unwrap_or("").as_bytes());
    original_clues(&quoted, out);
}

/// The value of a DSN field after its type: `rfc822; a@b` -> `a@b`, `smtp; 550 ...`.
fn after_type(value: &str) -> &str {
    match value.split_once(';') {
        Some((_, rest)) => rest.trim(),
        None => value.trim(),
    }
}

fn strip_angles(s: &str) -> &str {
    s.trim_start_matches('<').trim_end_matches('>').trim()
}

/// Every address in `text`, lowercased, each once.
fn push_addresses(text: &str, out: &mut Vec<String>) {
    let is_local = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c);
    let is_domain = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-';
    for (at, _) in text.match_indices('@') {
        let local_start = text[..at]
            .char_indices()
            .rev()
            .take_while(|(_, c)| is_local(*c))
            .last()
            .map(|(i, _)| i)
            .unwrap_or(at);
        let domain_end = text[at + 1..]
            .char_indices()
            .take_while(|(_, c)| is_domain(*c))
            .last()
            .map(|(i, c)| at + 1 + i + c.len_utf8())
            .unwrap_or(at + 1);
        let local = text[local_start..at].trim_matches('.');
        let domain = text[at + 1..domain_end].trim_matches(|c| c == '.' || c == '-');
        if local.is_empty() || !domain.contains('.') {
            continue;
        }
        let addr = format!("{local}@{domain}").to_ascii_lowercase();
        if addr.parse::<lettre::Address>().is_ok() && !out.contains(&addr) {
            out.push(addr);
        }
    }
}

/// `s` on one line (whitespace runs become one space), at most `max` characters.
fn one_line(s: &str, max: usize) -> String {
    let line: String = s
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect();
    match line.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line,
    }
}

fn cut_at_char(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Header-style fields (`Name: value`, folded lines joined), names lowercased, values read
/// as UTF-8 with invalid bytes replaced.
#[derive(Debug, Default)]
struct Fields {
    fields: Vec<(String, String)>,
}

impl Fields {
    /// The fields up to the first empty line (a message's header).
    fn read(bytes: &[u8]) -> Fields {
        Fields::groups(bytes).into_iter().next().unwrap_or_default()
    }

    /// Every field, empty lines or not (a feedback report; a quoted header).
    fn read_all(bytes: &[u8]) -> Fields {
        Fields {
            fields: Fields::groups(bytes)
                .into_iter()
                .flat_map(|g| g.fields)
                .collect(),
        }
    }

    /// Groups of fields separated by empty lines (a DSN: the message's, then one per
    /// recipient). Lines that are no field end nothing and are skipped.
    fn groups(bytes: &[u8]) -> Vec<Fields> {
        let text: Cow<'_, str> = String::from_utf8_lossy(&bytes[..bytes.len().min(TEXT_MAX)]);
        let mut groups = vec![Fields::default()];
        for line in text.lines() {
            let last = groups.len() - 1;
            if line.trim().is_empty() {
                if !groups[last].fields.is_empty() {
                    groups.push(Fields::default());
                }
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, v)) = groups[last].fields.last_mut() {
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            match line.split_once(':') {
                Some((name, value))
                    if !name.is_empty()
                        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':') =>
                {
                    groups[last]
                        .fields
                        .push((name.to_ascii_lowercase(), value.trim().to_string()));
                }
                _ => {}
            }
        }
        groups.retain(|g| !g.fields.is_empty());
        groups
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    fn all<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a str> + use<'a> {
        let name = name.to_string();
        self.fields
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enhanced_codes_stand_alone() {
        assert_eq!(
            enhanced_code("550 5.1.1 <a@b.c> unknown"),
            Some("5.1.1".into())
        );
        assert_eq!(
            enhanced_code("Status: 4.2.2 (mailbox full)"),
            Some("4.2.2".into())
        );
        assert_eq!(enhanced_code("#5.7.26 DMARC"), Some("5.7.26".into()));
        assert_eq!(enhanced_code("host 192.5.1.1 said"), None);
        assert_eq!(enhanced_code("10.4.4.4"), None);
        assert_eq!(enhanced_code("v5.1.1"), None);
        assert_eq!(enhanced_code("5.1.1.2"), None);
        assert_eq!(enhanced_code("5.1"), None);
        assert_eq!(enhanced_code(""), None);
    }

    #[test]
    fn bare_smtp_codes_become_status_codes() {
        assert_eq!(basic_code("554: delivery error: dd"), Some("5.0.0".into()));
        assert_eq!(basic_code("said: 552 quota"), Some("5.2.2".into()));
        assert_eq!(basic_code("(450) try later"), Some("4.0.0".into()));
        assert_eq!(basic_code("room 5501"), None);
        assert_eq!(basic_code("1550 bytes"), None);
    }

    #[test]
    fn severity_spares_what_is_not_the_address() {
        assert_eq!(severity("5.1.1"), Verdict::Hard);
        assert_eq!(severity("5.0.0"), Verdict::Hard);
        assert_eq!(severity("5.2.2"), Verdict::Soft);
        assert_eq!(severity("5.7.1"), Verdict::Soft);
        assert_eq!(severity("4.4.1"), Verdict::Soft);
        assert!(matches!(severity("2.0.0"), Verdict::Ignored(_)));
    }

    #[test]
    fn addresses_are_found_in_prose() {
        let mut out = Vec::new();
        push_addresses(
            "rfc822; Ann.Lee@Example.COM, <bob@example.org>: x@y nobody@localhost. a@b.c.",
            &mut out,
        );
        assert_eq!(out, ["ann.lee@example.com", "bob@example.org", "a@b.c"]);
        push_addresses("@@@ é@é.é @. .@.", &mut out);
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn fields_unfold_and_group() {
        let g = Fields::groups(
            b"Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822;\r\n a@b.c\r\nAction: failed\r\n\r\n\r\nnot a field\r\nStatus: 5.1.1\r\n",
        );
        assert_eq!(g.len(), 3);
        assert_eq!(g[1].get("final-recipient"), Some("rfc822; a@b.c"));
        assert_eq!(g[2].get("status"), Some("5.1.1"));
    }

    const TOKEN: &str = "verptokenverptokenverptokenverptoken";
    const MID: &str = "5d0f1e2a3b4c5d6e7f8091a2b3c4d5e6@notes.example.com";
    const ANN: &str = "ann@example.com";

    fn fixture(name: &str) -> Parsed {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/bounces")
            .join(name);
        parse(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
    }

    /// A bounce of herald's fixture message to ann@example.com: its verdict and code, and
    /// every clue to whom it is about.
    #[track_caller]
    fn check(name: &str, verdict: Verdict, code: Option<&str>, message_id: bool) {
        let p = fixture(name);
        assert_eq!(p.verdict, verdict, "{name}: {p:?}");
        assert_eq!(p.code.as_deref(), code, "{name}: {p:?}");
        assert_eq!(
            p.recipients.first().map(String::as_str),
            Some(ANN),
            "{name}: {p:?}"
        );
        assert_eq!(p.tokens, [TOKEN], "{name}");
        assert_eq!(!p.message_ids.is_empty(), message_id, "{name}: {p:?}");
        if message_id {
            assert_eq!(p.message_ids, [MID], "{name}");
        }
        assert!(p.id.starts_with("mid:"), "{name}: {}", p.id);
    }

    #[test]
    fn rfc_3464_reports_say_hard_soft_or_not_yet() {
        check("dsn-hard.eml", Verdict::Hard, Some("5.1.1"), true);
        let hard = fixture("dsn-hard.eml");
        assert!(
            hard.detail
                .starts_with("550 5.1.1 <ann@example.com>: Recipient"),
            "{}",
            hard.detail
        );
        assert_eq!(hard.id, "mid:20250501073004.9F3C21E0042@mx.example.com");
        check("dsn-soft.eml", Verdict::Soft, Some("4.2.2"), true);
        let delayed = fixture("dsn-delayed.eml");
        assert_eq!(
            delayed.verdict,
            Verdict::Ignored("a delay warning: the relay is still trying")
        );
    }

    #[test]
    fn an_arf_abuse_report_is_a_complaint() {
        check("arf-complaint.eml", Verdict::Complaint, Some("abuse"), true);
        // Another feedback type is no complaint.
        let raw = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/bounces/arf-complaint.eml"),
        )
        .unwrap();
        let text = String::from_utf8(raw)
            .unwrap()
            .replace("Feedback-Type: abuse", "Feedback-Type: not-spam");
        assert!(matches!(
            parse(text.as_bytes()).verdict,
            Verdict::Ignored(_)
        ));
    }

    #[test]
    fn bounces_in_prose_are_read_too() {
        check("postfix-plain.eml", Verdict::Hard, Some("5.1.1"), true);
        check("exim.eml", Verdict::Hard, Some("5.1.1"), true);
        check("qmail.eml", Verdict::Hard, Some("5.1.1"), true);
        check("gmail.eml", Verdict::Hard, Some("5.0.0"), false);
        check("outlook.eml", Verdict::Hard, Some("5.5.0"), true);
        check("yahoo.eml", Verdict::Hard, Some("5.0.0"), true);
    }

    #[test]
    fn an_auto_reply_is_no_bounce_and_a_letter_is_nothing() {
        let p = fixture("vacation.eml");
        assert_eq!(p.verdict, Verdict::Ignored("an auto-reply"));
        let p = fixture("human.eml");
        assert!(matches!(p.verdict, Verdict::Unknown(_)), "{p:?}");
        // A mail system's message in a form herald cannot read is left for a person, not
        // taken for an auto-reply because it says `Auto-Submitted`.
        let p = parse(
            b"From: MAILER-DAEMON@mx.example.com\r\nAuto-Submitted: auto-replied\r\nSubject: hello\r\n\r\nSomething happened.\r\n",
        );
        assert!(matches!(p.verdict, Verdict::Unknown(_)), "{p:?}");
    }

    #[test]
    fn garbage_and_invalid_utf8_are_read_without_a_panic() {
        let p = fixture("garbage.bin");
        assert!(matches!(p.verdict, Verdict::Unknown(_)), "{p:?}");
        assert!(p.id.starts_with("sha256:"));
        let p = fixture("invalid-utf8.eml");
        assert_eq!(p.verdict, Verdict::Hard, "{p:?}");
        assert_eq!(p.code.as_deref(), Some("5.1.1"));
        assert_eq!(p.recipients, [ANN]);
        assert!(p.detail.contains("Bo\u{fffd}te"), "{}", p.detail);
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 256,
            failure_persistence: None,
            ..Default::default()
        })]

        /// Every fixture, cut anywhere and with bytes changed anywhere (CR, LF, NUL, `:`,
        /// `<`, invalid UTF-8): read, never a panic, and its identity stable.
        #[test]
        fn mangled_returned_mail_is_read_without_a_panic(
            which in 0usize..14,
            cut in proptest::prelude::any::<proptest::sample::Index>(),
            edits in proptest::collection::vec(
                (proptest::prelude::any::<proptest::sample::Index>(),
                 proptest::sample::select(vec![b'\r', b'\n', 0, b':', b'<', b'>', b'@', b'+', 0xff, 0xc3, b' '])),
                0..20,
            ),
        ) {
            let names = [
                "dsn-hard.eml", "dsn-soft.eml", "dsn-delayed.eml", "arf-complaint.eml",
                "postfix-plain.eml", "exim.eml", "qmail.eml", "gmail.eml", "outlook.eml",
                "yahoo.eml", "vacation.eml", "human.eml", "garbage.bin", "invalid-utf8.eml",
            ];
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/bounces")
                .join(names[which]);
            let mut raw = std::fs::read(path).unwrap();
            raw.truncate(cut.index(raw.len() + 1));
            for (at, byte) in edits {
                if !raw.is_empty() {
                    let i = at.index(raw.len());
                    raw[i] = byte;
                }
            }
            // Without `parse`'s catch_unwind: a panic here fails the test.
            let p = parse_inner(&raw);
            proptest::prop_assert_eq!(p.id, parse_inner(&raw).id);
        }
    }

    #[test]
    fn anything_at_all_is_read_without_a_panic() {
        let samples: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"\r\n\r\n".to_vec(),
            vec![0xff; 10_000],
            b"Content-Type: multipart/report; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: message/delivery-status\r\n\r\nStatus: 5.1.1\r\nAction: failed\r\n".to_vec(),
            b"From: MAILER-DAEMON@x.y\r\nSubject: Undelivered\r\n\r\n<".repeat(1000),
            (0..=255u8).cycle().take(100_000).collect(),
        ];
        for s in samples {
            let p = parse_inner(&s);
            assert!(!p.id.is_empty());
        }
    }
}

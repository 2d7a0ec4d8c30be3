//! Mail rendering: handlebars templates -> CSS inlined HTML + plain text -> one
//! `multipart/alternative` message with the list headers of RFC 2369 and RFC 8058.
//!
//! A [`Mailer`] renders one post's mail, or one digest of several posts. Each (list,
//! has-a-name) variant is rendered and CSS-inlined once, with placeholders for the
//! per-recipient parts (address, name, unsubscribe and preferences URLs); each recipient then
//! costs only a string substitution and the MIME encoding.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::SystemTime;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MessageBuilder, MultiPart, SinglePart};
use lettre::{Address, Message};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::templates::Templates;
use crate::config::{Config, List, Newsletter, one_line};
use crate::content::{Post, Rendered};
use crate::error::{Error, Result};
use crate::transport::Envelope;

const EMAIL_MARK: &str = "herald-subscriber-email-2f7c91";
const NAME_MARK: &str = "herald-subscriber-name-2f7c91";
const UNSUB_MARK: &str = "herald-unsubscribe-url-2f7c91";
const PREFS_MARK: &str = "herald-preferences-url-2f7c91";

#[derive(Serialize)]
pub struct SiteData {
    pub title: String,
    pub url: String,
    pub description: String,
    pub language: String,
}

impl SiteData {
    pub fn new(config: &Config) -> SiteData {
        SiteData {
            title: config.site.title.clone(),
            url: config.site.base_url.to_string(),
            description: config.site.description.clone(),
            language: config.site.language.clone(),
        }
    }
}

#[derive(Serialize, Clone)]
pub struct TagData {
    pub name: String,
    pub slug: String,
    pub url: String,
}

#[derive(Serialize, Clone)]
pub struct PostData {
    pub slug: String,
    pub title: String,
    pub url: String,
    /// `8 May 2025`, in the post's own offset.
    pub date: String,
    pub date_iso: String,
    pub summary: String,
    pub image: Option<String>,
    pub content_html: String,
    pub content_text: String,
    pub tags: Vec<TagData>,
    pub author: String,
}

impl PostData {
    pub fn new(config: &Config, post: &Post, rendered: &Rendered) -> PostData {
        let content_text = html2text::from_read(rendered.html.as_bytes(), 72)
            .unwrap_or_else(|_| rendered.summary.clone());
        PostData {
            slug: post.slug.clone(),
            title: post.title.clone(),
            url: post.permalink.to_string(),
            date: post.date.format("%-d %B %Y").to_string(),
            date_iso: post.date.to_rfc3339(),
            summary: post.summary(rendered).to_string(),
            image: post.image.clone(),
            content_html: rendered.html.clone(),
            content_text,
            tags: post
                .tags
                .iter()
                .map(|t| TagData {
                    name: t.name.clone(),
                    slug: t.slug.clone(),
                    url: crate::content::site_url(config, &format!("tags/{}/", t.slug))
                        .map(|u| u.to_string())
                        .unwrap_or_default(),
                })
                .collect(),
            author: post.author.clone(),
        }
    }
}

#[derive(Serialize)]
struct ListData<'a> {
    id: &'a str,
    name: &'a str,
    /// "every post", or the digest's schedule ("weekly on Monday at 08:00").
    schedule: String,
}

impl<'a> ListData<'a> {
    fn new(list: &'a List) -> Self {
        ListData {
            id: &list.id,
            name: &list.name,
            schedule: schedule(list),
        }
    }
}

/// How often `list` mails: "every post", or its digest's schedule.
pub fn schedule(list: &List) -> String {
    match &list.digest {
        Some(d) => d.describe(),
        None => "every post".into(),
    }
}

#[derive(Serialize)]
struct SubscriberData<'a> {
    email: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct MailData<'a> {
    site: &'a SiteData,
    post: &'a PostData,
    list: ListData<'a>,
    subscriber: SubscriberData<'a>,
    unsubscribe_url: &'a str,
    preferences_url: &'a str,
}

#[derive(Serialize)]
struct DigestMailData<'a> {
    site: &'a SiteData,
    list: ListData<'a>,
    /// Oldest first.
    posts: &'a [PostData],
    count: usize,
    /// One post: "1 new post".
    one: bool,
    /// The slot's date, `7 December 2026`, in the site's time zone.
    date: &'a str,
    full_content: bool,
    subscriber: SubscriberData<'a>,
    unsubscribe_url: &'a str,
    preferences_url: &'a str,
}

/// What a mail carries.
enum Body {
    Post(Box<PostData>),
    Digest {
        posts: Vec<PostData>,
        /// The slot's date, as [`DigestMailData::date`].
        date: String,
        full_content: bool,
    },
}

struct Variant {
    subject: Pieces,
    /// CSS inlined, line ends already CRLF.
    html: Pieces,
    text: Pieces,
    /// `List-Id`, the same for every recipient of the variant.
    list_id: HeaderValue,
}

/// One part of a rendered variant: text as it is, or a per-recipient hole.
#[derive(Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Email,
    Name,
    Unsubscribe,
    Preferences,
}

/// A rendered variant split at its placeholders once, so that each recipient costs one pass.
#[derive(Debug, PartialEq, Eq)]
struct Pieces(Vec<Piece>);

impl Pieces {
    fn split(mut s: &str) -> Pieces {
        let marks = [
            (EMAIL_MARK, Piece::Email),
            (NAME_MARK, Piece::Name),
            (UNSUB_MARK, Piece::Unsubscribe),
            (PREFS_MARK, Piece::Preferences),
        ];
        let mut out = Vec::new();
        loop {
            let next = marks
                .iter()
                .filter_map(|(m, _)| s.find(m).map(|i| (i, *m)))
                .min_by_key(|(i, _)| *i);
            let Some((i, mark)) = next else { break };
            if i > 0 {
                out.push(Piece::Text(s[..i].to_string()));
            }
            out.push(match mark {
                EMAIL_MARK => Piece::Email,
                NAME_MARK => Piece::Name,
                UNSUB_MARK => Piece::Unsubscribe,
                _ => Piece::Preferences,
            });
            s = &s[i + mark.len()..];
        }
        if !s.is_empty() {
            out.push(Piece::Text(s.to_string()));
        }
        Pieces(out)
    }

    /// The text with the holes filled by `values` (address, name, unsubscribe URL,
    /// preferences URL).
    fn fill(&self, values: [&str; 4]) -> String {
        let len: usize = self
            .0
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.len(),
                _ => 64,
            })
            .sum();
        let mut out = String::with_capacity(len);
        for p in &self.0 {
            out.push_str(match p {
                Piece::Text(t) => t,
                Piece::Email => values[0],
                Piece::Name => values[1],
                Piece::Unsubscribe => values[2],
                Piece::Preferences => values[3],
            });
        }
        out
    }
}

/// `\n` and lone `\r` become `\r\n`, the canonical form of text in mail (RFC 2045).
fn crlf(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 32);
    let mut prev_cr = false;
    for c in s.chars() {
        match c {
            '\n' if !prev_cr => out.push_str("\r\n"),
            '\n' => out.push('\n'),
            '\r' => out.push('\r'),
            c => {
                if prev_cr {
                    out.push('\n');
                }
                out.push(c);
            }
        }
        prev_cr = c == '\r';
    }
    if prev_cr {
        out.push('\n');
    }
    out
}

/// One recipient of a post (`'l`: the config its list comes from).
pub struct Recipient<'r, 'l> {
    pub email: &'r str,
    pub name: &'r str,
    /// The first (in config order) of the lists that caused this mail: it gives `List-Id`.
    pub list: &'l List,
    pub unsubscribe_url: &'r str,
    /// The preferences page of this subscriber.
    pub preferences_url: &'r str,
}

/// The newsletter's sender as every mail carries it: From and Reply-To, parsed once, and the
/// DKIM key every message is signed with.
pub struct Sender {
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// `newsletter.from.email`: the envelope sender and the domain of Message-IDs.
    email: String,
    /// `newsletter.return_path`: the envelope sender instead, with a VERP token per delivery.
    return_path: Option<crate::config::ReturnPath>,
    /// `newsletter.dkim`'s signer, loaded once with the config; `None`: mail goes unsigned.
    dkim: Option<std::sync::Arc<crate::dkim::Signer>>,
}

impl Sender {
    pub fn new(n: &Newsletter) -> Result<Sender> {
        Ok(Sender {
            from: mailbox(&n.from.name, &n.from.email)?,
            reply_to: n.reply_to.as_deref().map(|r| mailbox("", r)).transpose()?,
            email: n.from.email.clone(),
            return_path: n.return_path.clone(),
            dkim: n.dkim.as_ref().map(|d| d.signer.clone()),
        })
    }

    /// The bytes of `message` as they are sent or written to the outbox: DKIM-signed when
    /// `newsletter.dkim` is set, else as built. Every message herald makes, whatever its kind,
    /// goes out through here (never through lettre's `Message::formatted` directly), so none
    /// is left unsigned.
    pub fn formatted(&self, mut message: Message) -> Vec<u8> {
        if let Some(dkim) = &self.dkim {
            dkim.sign(&mut message);
        }
        message.formatted()
    }

    /// A message from this sender to `to`: From, To, Subject, Date, Message-ID, Reply-To.
    pub fn message(
        &self,
        to: Mailbox,
        subject: String,
        date: SystemTime,
        message_id: String,
    ) -> MessageBuilder {
        let b = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .date(date)
            .message_id(Some(message_id));
        match &self.reply_to {
            Some(r) => b.reply_to(r.clone()),
            None => b,
        }
    }

    /// The SMTP envelope of a message to `to`: from `return_path` when it is set (mail that
    /// names no delivery, such as a confirmation), else from `from.email`.
    pub fn envelope(&self, to: &str) -> Envelope {
        Envelope {
            from: match &self.return_path {
                Some(r) => r.address(),
                None => self.email.clone(),
            },
            to: to.to_string(),
        }
    }

    /// The SMTP envelope of one delivery: with `return_path` set and a VERP `token`, from
    /// `local+token@domain`, so that mail returned to it names the delivery.
    pub fn delivery_envelope(&self, to: &str, token: Option<&str>) -> Envelope {
        match (&self.return_path, token) {
            (Some(r), Some(t)) => Envelope {
                from: format!("{}+{t}@{}", r.local, r.domain),
                to: to.to_string(),
            },
            _ => self.envelope(to),
        }
    }

    /// The domain of the sender's address, for Message-IDs.
    pub fn domain(&self) -> &str {
        mail_domain(&self.email)
    }
}

/// Renders the mails of one post, or of one digest.
pub struct Mailer<'a> {
    config: &'a Config,
    templates: &'a Templates,
    sender: Sender,
    site: SiteData,
    body: Body,
    /// The journal's key of the mail (a post's slug, a digest's campaign key), which keeps
    /// Message-IDs stable.
    key: String,
    date: SystemTime,
    /// Each (list id, has a name) variant, rendered by the first message that needs it; the
    /// lock is held while it renders, so concurrent workers never render one twice.
    variants: Mutex<HashMap<(&'a str, bool), std::sync::Arc<Variant>>>,
}

impl<'a> Mailer<'a> {
    /// The mail of `post`: its Markdown is rendered now; the templates run per variant, on
    /// first use.
    pub fn post(
        config: &'a Config,
        n: &Newsletter,
        templates: &'a Templates,
        post: &Post,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let rendered = post.render(config.unsafe_html);
        let body = Body::Post(Box::new(PostData::new(config, post, &rendered)));
        Mailer::new(config, n, templates, body, post.slug.clone(), now)
    }

    /// The digest of `list` at `slot`, holding `posts`, oldest first.
    pub fn digest(
        config: &'a Config,
        n: &Newsletter,
        templates: &'a Templates,
        list: &List,
        slot: DateTime<Utc>,
        posts: &[&Post],
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let key = crate::state::digests::campaign(&list.id, slot.timestamp());
        let full_content = list.digest.as_ref().is_some_and(|d| d.full_content);
        let body = Body::Digest {
            posts: posts
                .iter()
                .map(|p| PostData::new(config, p, &p.render(config.unsafe_html)))
                .collect(),
            date: slot
                .with_timezone(&config.site.timezone)
                .format("%-d %B %Y")
                .to_string(),
            full_content,
        };
        Mailer::new(config, n, templates, body, key, now)
    }

    fn new(
        config: &'a Config,
        n: &Newsletter,
        templates: &'a Templates,
        body: Body,
        key: String,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        Ok(Mailer {
            config,
            templates,
            sender: Sender::new(n)?,
            site: SiteData::new(config),
            body,
            key,
            date: SystemTime::from(now),
            variants: Mutex::new(HashMap::new()),
        })
    }

    fn variant(&self, list: &'a List, has_name: bool) -> Result<std::sync::Arc<Variant>> {
        let mut variants = self.variants.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = variants.get(&(list.id.as_str(), has_name)) {
            return Ok(v.clone());
        }
        let subscriber = || SubscriberData {
            email: EMAIL_MARK,
            name: if has_name { NAME_MARK } else { "" },
        };
        let (html, text, subject) = match &self.body {
            Body::Post(post) => {
                let data = MailData {
                    site: &self.site,
                    post,
                    list: ListData::new(list),
                    subscriber: subscriber(),
                    unsubscribe_url: UNSUB_MARK,
                    preferences_url: PREFS_MARK,
                };
                (
                    self.templates.render("email.html.hbs", &data)?,
                    self.templates.render("email.txt.hbs", &data)?,
                    self.templates.subject(&data)?,
                )
            }
            Body::Digest {
                posts,
                date,
                full_content,
            } => {
                let data = DigestMailData {
                    site: &self.site,
                    list: ListData::new(list),
                    posts,
                    count: posts.len(),
                    one: posts.len() == 1,
                    date,
                    full_content: *full_content,
                    subscriber: subscriber(),
                    unsubscribe_url: UNSUB_MARK,
                    preferences_url: PREFS_MARK,
                };
                (
                    self.templates.render("digest.html.hbs", &data)?,
                    self.templates.render("digest.txt.hbs", &data)?,
                    self.templates.digest_subject(&list.id, &data)?,
                )
            }
        };
        let v = std::sync::Arc::new(Variant {
            subject: Pieces::split(&subject),
            html: Pieces::split(&crlf(&inline_css(&html)?)),
            text: Pieces::split(&text),
            list_id: header("List-Id", list_id(self.config, list)),
        });
        variants.insert((list.id.as_str(), has_name), v.clone());
        Ok(v)
    }

    /// The subject line for a recipient (for `--dry-run`).
    pub fn subject(&self, list: &'a List) -> Result<String> {
        Ok(self.variant(list, false)?.subject.fill(["", "", "", ""]))
    }

    /// The HTML part for one recipient, as a file a browser can open (`preview`).
    pub fn preview_html(&self, r: &Recipient<'_, 'a>) -> Result<String> {
        let v = self.variant(r.list, !r.name.is_empty())?;
        let esc = |s: &str| handlebars::html_escape(s);
        Ok(v.html.fill([
            &esc(r.email),
            &esc(r.name),
            &esc(r.unsubscribe_url),
            &esc(r.preferences_url),
        ]))
    }

    /// The SMTP envelope of `r`'s message.
    pub fn envelope(&self, r: &Recipient<'_, '_>) -> Envelope {
        self.sender.envelope(r.email)
    }

    /// The SMTP envelope of `r`'s message as one delivery of this mail, carrying its VERP
    /// token (see [`super::verp`]) when `newsletter.return_path` is set; `key` is the
    /// subscriber's random key.
    pub fn delivery_envelope(
        &self,
        r: &Recipient<'_, '_>,
        secret: &[u8; 32],
        key: &str,
    ) -> Envelope {
        // Made only where it is used: the HMAC costs a little on every message.
        let token = match self.sender.return_path {
            Some(_) => super::verp::token(secret, key, &self.key),
            None => None,
        };
        self.sender.delivery_envelope(r.email, token.as_deref())
    }

    /// The raw message for one recipient.
    pub fn message(&self, r: &Recipient<'_, 'a>) -> Result<Vec<u8>> {
        let name = header_text(r.name);
        let v = self.variant(r.list, !name.is_empty())?;
        let esc = |s: &str| handlebars::html_escape(s);
        let html = v.html.fill([
            &esc(r.email),
            &esc(&name),
            &esc(r.unsubscribe_url),
            &esc(r.preferences_url),
        ]);
        let text = v
            .text
            .fill([r.email, &name, r.unsubscribe_url, r.preferences_url]);
        let subject = header_text(&v.subject.fill([r.email, &name, "", ""]));
        let id = message_id(&self.key, r.email, self.sender.domain());
        let msg = self
            .sender
            .message(mailbox(&name, r.email)?, subject, self.date, id)
            .raw_header(v.list_id.clone())
            .raw_header(header(
                "List-Unsubscribe",
                format!("<{}>", r.unsubscribe_url),
            ))
            .raw_header(header(
                "List-Unsubscribe-Post",
                "List-Unsubscribe=One-Click".into(),
            ))
            .multipart(alternative_crlf(text, html.into_bytes()))
            .map_err(|e| {
                Error::msg(format!(
                    "building the mail to {}: {e}",
                    crate::error::cut(r.email)
                ))
            })?;
        Ok(self.sender.formatted(msg))
    }
}

/// A multipart/alternative body: plain text first, HTML last (the preferred part).
pub fn alternative(text: String, html: String) -> MultiPart {
    alternative_crlf(text, crlf(&html).into_bytes())
}

/// [`alternative`] with HTML already in CRLF form. The HTML goes as base64: CSS-inlined HTML
/// has long lines that quoted-printable would break up anyway, and base64 of bytes skips
/// lettre's per-character passes, which matter once per recipient.
fn alternative_crlf(text: String, html: Vec<u8>) -> MultiPart {
    MultiPart::alternative()
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(text),
        )
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_HTML)
                .header(ContentTransferEncoding::Base64)
                .body(html),
        )
}

/// Inlines the `<style>` rules into `style` attributes (mail clients drop `<style>`);
/// `<style data-css-inline="ignore">` blocks (dark mode, media queries) stay as they are.
pub fn inline_css(html: &str) -> Result<String> {
    let inliner = css_inline::CSSInliner::options()
        .load_remote_stylesheets(false)
        .build();
    inliner
        .inline(html)
        .map_err(|e| Error::msg(format!("inlining CSS: {e}")))
}

/// Text for a header (a subject, a display name): one line, and no control characters, which
/// RFC 5322 does not allow there (a NUL even keeps lettre from reading its own `To` back).
fn header_text(s: &str) -> String {
    one_line(s).chars().filter(|c| !c.is_control()).collect()
}

/// A mailbox whose display name cannot carry a line break into a header.
pub fn mailbox(name: &str, email: &str) -> Result<Mailbox> {
    let addr: Address = email.trim().parse().map_err(|e| {
        Error::msg(format!(
            "\"{}\" is not an email address: {e}",
            crate::error::cut(email)
        ))
    })?;
    let name = header_text(name);
    Ok(Mailbox::new((!name.is_empty()).then_some(name), addr))
}

/// A raw header whose value is one line.
pub fn header(name: &'static str, value: String) -> HeaderValue {
    // Header names here are constants, always valid ASCII; values are ASCII URLs or ids.
    let name = HeaderName::new_from_ascii_str(name);
    HeaderValue::new(name, one_line(&value))
}

/// `Message-ID`, stable for (post, address): a re-send after a crash has the same id, so
/// receiving systems can drop the duplicate.
pub fn message_id(slug: &str, email: &str, domain: &str) -> String {
    let mut h = Sha256::new();
    h.update(slug.as_bytes());
    h.update([0]);
    h.update(crate::state::normalize(email).as_bytes());
    // The first 128 bits of the SHA-256, in hex.
    let mut hex = format!("{:x}", h.finalize());
    hex.truncate(32);
    format!("<{hex}@{domain}>")
}

/// The domain of a mail address (a placeholder when it has none).
fn mail_domain(email: &str) -> &str {
    email
        .rsplit_once('@')
        .map(|(_, d)| d)
        .unwrap_or("herald.invalid")
}

/// `List-Id` (RFC 2919): `"Name" <id.host>`, the phrase left out when it is not plain ASCII.
fn list_id(config: &Config, list: &List) -> String {
    let host = config.site.base_url.host_str().unwrap_or("localhost");
    let plain = list
        .name
        .chars()
        .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ');
    if plain && !list.name.is_empty() {
        format!("\"{}\" <{}.{host}>", list.name, list.id)
    } else {
        format!("<{}.{host}>", list.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_fill_every_hole_once() {
        let p = Pieces::split(&format!(
            "Hi {NAME_MARK} <{EMAIL_MARK}>: {UNSUB_MARK}{EMAIL_MARK} {PREFS_MARK}"
        ));
        assert_eq!(
            p.fill(["a@b.c", "Ann", "u", "p"]),
            "Hi Ann <a@b.c>: ua@b.c p"
        );
        assert_eq!(Pieces::split("plain").fill(["x", "y", "z", "w"]), "plain");
    }

    #[test]
    fn line_ends_become_crlf() {
        assert_eq!(crlf("a\nb\r\nc\rd\n"), "a\r\nb\r\nc\r\nd\r\n");
    }

    #[test]
    fn message_ids_are_stable_per_post_and_address() {
        let domain = mail_domain("n@leadcraftr.com");
        let a = message_id("p", "A@Example.com", domain);
        assert_eq!(a, message_id("p", "a@example.com", domain));
        assert_ne!(a, message_id("q", "a@example.com", domain));
        assert!(a.ends_with("@leadcraftr.com>"));
    }

    #[test]
    fn mailbox_names_lose_line_breaks() {
        let m = mailbox("Eve\r\nBcc: x@evil.example", "eve@example.com").unwrap();
        assert_eq!(m.name.as_deref(), Some("Eve Bcc: x@evil.example"));
        assert!(mailbox("", "not an address").is_err());
        let m = mailbox("Nul\0Bell\x07", "n@example.com").unwrap();
        assert_eq!(m.name.as_deref(), Some("NulBell"));
    }
}

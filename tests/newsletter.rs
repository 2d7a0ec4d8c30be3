//! The newsletter as subscribers and the site owner see it (README "Subscribers and
//! lists", the `newsletter:` and `smtp:` configuration, "Commands"): the real binary runs `publish`,
//! `preview`, `status`, `subscribers` and `unsubscribe` on a copy of
//! `tests/fixtures/newsletter/`, sending through the in-process SMTP server of
//! `support::smtp` (plain SMTP on 127.0.0.1, `concurrency: 2`, `timeout_secs: 2`), and every
//! received message is parsed back with mail-parser.
//!
//! The fixture at `NOW` (2025-06-01), with `newsletter.start` 2025-02-01:
//!
//! | post (slug) | tags | mailed to |
//! |---|---|---|
//! | before-the-start (2025-01-15) | rust lang, cooking | nobody: before `newsletter.start` |
//! | trait-objects | Rust Lang | ann (all), bob (all + rust: one mail), cara (rust) |
//! | soup-and-bread | Cooking | ann, bob (all), cara, dan (cooking) |
//! | creme-brulee (UTF-8 title) | cooking, rust lang | ann, bob, cara (rust + cooking: one mail), dan |
//! | unfinished (draft) | cooking | nobody |
//! | scheduled (2025-07-01T09:00Z) | Rust Lang | ann, bob, cara, once `--now` reaches it |
//!
//! Lists: `all` ("*": ann, "Bob, Jr."), `rust` (Bob@Example.com, cara), `cooking` (cara, dan).

use std::collections::BTreeSet;
use std::time::Duration;

use mail_parser::{Message, MessageParser, MimeHeaders};
use serde_json::Value;

use crate::support::mail::head;
use crate::support::smtp::{Attempt, Gate, Received, Reply, Rules, SmtpServer, Stage};
use crate::support::{NOW, Site};

const FROM: &str = "letters@notes.example.com";
const UNSUBSCRIBE_BASE: &str = "https://notes.example.com/herald/unsubscribe?token=";

/// Post titles by slug: messages are told apart by their decoded subject.
const TITLES: &[(&str, &str)] = &[
    ("before-the-start", "Before the Start"),
    ("trait-objects", "Trait Objects, Plainly"),
    ("soup-and-bread", "Soup & Bread"),
    ("creme-brulee", "Crème brûlée — 温度 matters ✓"),
    ("unfinished", "Unfinished"),
    ("scheduled", "Scheduled for July"),
    ("more-soup", "More Soup"),
    ("more-rust", "More Rust"),
    ("evil", "Hello Bcc: victim@evil.example"),
];

/// Every (post, address) the fixture mails at `NOW`.
const FIRST_RUN: &[(&str, &str)] = &[
    ("creme-brulee", "ann@example.com"),
    ("creme-brulee", "bob@example.com"),
    ("creme-brulee", "cara@example.com"),
    ("creme-brulee", "dan@example.com"),
    ("soup-and-bread", "ann@example.com"),
    ("soup-and-bread", "bob@example.com"),
    ("soup-and-bread", "cara@example.com"),
    ("soup-and-bread", "dan@example.com"),
    ("trait-objects", "ann@example.com"),
    ("trait-objects", "bob@example.com"),
    ("trait-objects", "cara@example.com"),
];

/// The newsletter fixture, sending through `server` with a 2 s SMTP timeout.
fn smtp_site(server: &SmtpServer) -> Site {
    smtp_site_with_timeout(server, 2)
}

fn smtp_site_with_timeout(server: &SmtpServer, timeout_secs: u64) -> Site {
    server.site("newsletter", 2, timeout_secs)
}

fn parse(bytes: &[u8]) -> Message<'_> {
    MessageParser::default()
        .parse(bytes)
        .expect("a parseable message")
}

fn subject(bytes: &[u8]) -> String {
    parse(bytes)
        .subject()
        .expect("a Subject header")
        .to_string()
}

/// The slug of the post a message carries (by its subject).
fn slug_of(bytes: &[u8]) -> &'static str {
    let s = subject(bytes);
    TITLES
        .iter()
        .find(|(_, title)| *title == s)
        .map(|(slug, _)| *slug)
        .unwrap_or_else(|| panic!("a message with an unknown subject {s:?}"))
}

/// (post slug, recipient) of each message, sorted; duplicates stay in, so comparing with a
/// set-like list also proves "one email per (post, address)".
fn deliveries(messages: &[Received]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = messages
        .iter()
        .map(|m| {
            assert_eq!(m.to.len(), 1, "one recipient per message: {:?}", m.to);
            (slug_of(&m.data).to_string(), m.to[0].to_lowercase())
        })
        .collect();
    out.sort();
    out
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = list
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    out.sort();
    out
}

/// The one message for `slug` to `addr`.
fn message_for(server: &SmtpServer, slug: &str, addr: &str) -> Received {
    let found: Vec<Received> = server
        .messages_to(addr)
        .into_iter()
        .filter(|m| slug_of(&m.data) == slug)
        .collect();
    assert_eq!(found.len(), 1, "{slug} to {addr}: {} messages", found.len());
    found.into_iter().next().expect("one message")
}

fn header_raw(msg: &Message, name: &str) -> String {
    msg.header_raw(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .trim()
        .to_string()
}

/// The `token=` value of a message's `List-Unsubscribe` header.
fn unsubscribe_token(bytes: &[u8]) -> String {
    let msg = parse(bytes);
    let value = header_raw(&msg, "List-Unsubscribe");
    let url = value
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .expect("<url>");
    url.strip_prefix(UNSUBSCRIBE_BASE)
        .expect("the serve.public_url unsubscribe link")
        .to_string()
}

/// (content type, decoded text) of the two parts of a multipart/alternative message.
fn alternative_parts(msg: &Message) -> Vec<(String, String)> {
    let root = msg.root_part();
    let ct = root.content_type().expect("a Content-Type");
    assert_eq!(
        (ct.ctype(), ct.subtype()),
        ("multipart", Some("alternative")),
        "the message is multipart/alternative"
    );
    root.sub_parts()
        .expect("sub-parts")
        .iter()
        .map(|id| {
            let part = msg.part(*id).expect("a part");
            let ct = part.content_type().expect("a part Content-Type");
            let kind = format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or(""));
            (kind, part.text_contents().expect("a text part").to_string())
        })
        .collect()
}

/// (text/plain, text/html) of a message.
fn text_and_html(bytes: &[u8]) -> (String, String) {
    let msg = parse(bytes);
    let parts = alternative_parts(&msg);
    let kinds: Vec<&str> = parts.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        ["text/plain", "text/html"],
        "plain text first, HTML last"
    );
    (parts[0].1.clone(), parts[1].1.clone())
}

/// Undoes the HTML escaping of an attribute value (handlebars escapes `=` and `&`).
fn unescape_attr(s: &str) -> String {
    s.replace("&#x3D;", "=")
        .replace("&#61;", "=")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#x60;", "`")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every `href` and `src` value in `html`, unescaped.
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            let end = rest.find('"').expect("a closing quote");
            out.push(unescape_attr(&rest[..end]));
        }
    }
    out
}

fn status_json(site: &Site) -> Value {
    site.run_json(&["status", "--json"])
}

fn members(site: &Site, args: &[&str]) -> Value {
    site.run_json(&[&["subscribers", "list", "--json"][..], args].concat())
}

fn member<'a>(list: &'a Value, email: &str) -> Option<&'a Value> {
    list.as_array()
        .expect("an array")
        .iter()
        .find(|m| m["email"].as_str() == Some(email))
}

fn lists_of(list: &Value, email: &str) -> Vec<String> {
    let m = member(list, email).unwrap_or_else(|| panic!("{email} is not listed: {list}"));
    m["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

fn post(slug: &str, title: &str, date: &str, tags: &str) -> String {
    format!(
        "---\ntitle: \"{title}\"\ndate: {date}\ntags: [{tags}]\nslug: {slug}\n---\n\nAbout {title}.\n"
    )
}

// --- who gets which post, exactly once ----------------------------------------------------

#[test]
fn each_due_post_is_mailed_once_to_the_members_of_its_lists() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    let run = site.run(&["publish"]).success();
    assert!(
        run.stdout.contains("mail: 11 sent, 0 deferred, 0 failed"),
        "{run}"
    );
    // Posts before newsletter.start, drafts and scheduled posts are not there; bob (all +
    // rust) gets trait-objects once, cara (rust + cooking) gets creme-brulee once.
    assert_eq!(deliveries(&server.messages()), pairs(FIRST_RUN));
    for m in server.messages() {
        assert_eq!(m.from, FROM, "envelope sender");
    }
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["sent"], 11, "{status}");
    assert_eq!(status["last_run"]["sent"], 11, "{status}");

    // A rerun sends nothing, and says so with exit 0.
    let again = site.run(&["publish"]).success();
    assert!(
        !again.stdout.contains("sent") || again.stdout.contains("mail: 0 sent"),
        "{again}"
    );
    assert_eq!(server.messages().len(), 11, "nothing twice on a rerun");
    assert_eq!(status_json(&site)["deliveries"]["sent"], 11);
}

#[test]
fn a_scheduled_post_is_mailed_once_when_now_reaches_it() {
    let server = SmtpServer::start();
    let mut site = smtp_site(&server);
    site.run(&["publish"]).success();
    let status = status_json(&site);
    let scheduled = status["scheduled"].as_array().expect("scheduled");
    assert_eq!(scheduled.len(), 1, "{status}");
    assert_eq!(scheduled[0]["slug"], "scheduled");
    assert_eq!(scheduled[0]["due"], "2025-07-01T09:00:00+00:00");

    site.set_now("2025-07-01T08:59:59Z");
    site.run(&["publish"]).success();
    assert_eq!(server.messages().len(), 11, "not due a second early");

    site.set_now("2025-07-01T09:00:00Z");
    site.run(&["publish"]).success();
    let mut expected = FIRST_RUN.to_vec();
    expected.extend([
        ("scheduled", "ann@example.com"),
        ("scheduled", "bob@example.com"),
        ("scheduled", "cara@example.com"),
    ]);
    assert_eq!(deliveries(&server.messages()), pairs(&expected));

    site.set_now("2025-08-01T00:00:00Z");
    site.run(&["publish"]).success();
    assert_eq!(
        server.messages().len(),
        14,
        "sent once, however often cron runs"
    );
    assert!(
        status_json(&site)["scheduled"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_edited_post_is_not_mailed_again() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    site.run(&["publish"]).success();
    let path = "content/posts/2025-04-01-soup-and-bread.md";
    let edited = site
        .read(path)
        .replace("Soup & Bread", "Soup & Bread, revised");
    site.write(
        path,
        edited.replace("tags: [Cooking]", "tags: [Cooking, Rust Lang]"),
    );
    site.run(&["publish"]).success();
    assert_eq!(
        server.messages().len(),
        11,
        "each (post, address) at most once, ever"
    );
}

// --- the message itself ---------------------------------------------------------------------

#[test]
fn headers_and_mime_structure_parse_back() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    site.run(&["publish"]).success();
    let m = message_for(&server, "creme-brulee", "cara@example.com");
    let msg = parse(&m.data);

    let from = msg.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.name(), Some("Field Notes"));
    assert_eq!(from.address(), Some(FROM));
    let to = msg.to().and_then(|a| a.first()).expect("To");
    assert_eq!(
        (to.name(), to.address()),
        (Some("Cara"), Some("cara@example.com"))
    );
    let reply_to = msg.reply_to().and_then(|a| a.first()).expect("Reply-To");
    assert_eq!(reply_to.address(), Some("noor@notes.example.com"));

    // The UTF-8 subject travels RFC 2047-encoded and decodes to the exact title.
    assert_eq!(msg.subject(), Some("Crème brûlée — 温度 matters ✓"));
    let headers = head(&m.data);
    assert!(
        headers.is_ascii(),
        "headers are ASCII on the wire:\n{headers}"
    );
    assert!(
        headers.to_lowercase().contains("subject: =?utf-8?"),
        "{headers}"
    );
    assert!(
        headers.lines().all(|l| l.len() <= 998),
        "RFC 5322 line length"
    );

    let now = chrono::DateTime::parse_from_rfc3339(NOW)
        .unwrap()
        .timestamp();
    assert_eq!(
        msg.date().expect("Date").to_timestamp(),
        now,
        "Date comes from --now"
    );
    let id = msg.message_id().expect("Message-ID");
    assert!(id.ends_with("@notes.example.com"), "{id}");

    // List-Id of the first matching list in config order (cara: rust, cooking).
    let list_id = header_raw(&msg, "List-Id");
    assert_eq!(list_id, "\"Rust notes\" <rust.notes.example.com>");
    assert_eq!(
        header_raw(&msg, "List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let token = unsubscribe_token(&m.data);
    let url = format!("{UNSUBSCRIBE_BASE}{token}");

    let (text, html) = text_and_html(&m.data);
    let permalink = "https://notes.example.com/posts/creme-brulee/";
    assert!(
        text.contains(permalink) && text.contains(&url),
        "text part:\n{text}"
    );
    let html_links = links(&html);
    assert!(
        html_links.contains(&permalink.to_string()),
        "{html_links:?}"
    );
    assert!(
        html_links.contains(&url),
        "the unsubscribe link in the HTML: {html_links:?}"
    );
    assert!(
        text.contains("186 °C") && html.contains("186 °C"),
        "UTF-8 body decodes"
    );
    // CSS inlined: style attributes, no <style> block left but the ignored dark-mode one.
    assert!(html.matches("style=\"").count() > 5, "inlined CSS:\n{html}");
    assert_eq!(
        html.matches("<style").count(),
        html.matches("data-css-inline").count()
    );
    assert!(html.contains("600"), "a 600 px layout");

    // Every message has the same structure; each recipient gets its own token and id.
    let mut ids = BTreeSet::new();
    let mut tokens = BTreeSet::new();
    for m in server.messages() {
        let (text, _) = text_and_html(&m.data);
        let msg = parse(&m.data);
        assert_eq!(
            msg.to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(str::to_lowercase),
            Some(m.to[0].to_lowercase()),
            "To matches the envelope"
        );
        assert!(text.contains(UNSUBSCRIBE_BASE));
        ids.insert(msg.message_id().expect("Message-ID").to_string());
        tokens.insert(unsubscribe_token(&m.data));
    }
    assert_eq!(ids.len(), 11, "one Message-ID per (post, address)");
    // One token per (address, lists that caused the mail): ann {all}; bob {all}, {all, rust};
    // cara {rust}, {cooking}, {cooking, rust}; dan {cooking}.
    assert_eq!(tokens.len(), 7, "{tokens:?}");
}

#[test]
fn links_and_images_in_mails_are_absolute() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    site.run(&["publish"]).success();
    let m = message_for(&server, "trait-objects", "ann@example.com");
    let (text, html) = text_and_html(&m.data);
    let links = links(&html);
    for l in &links {
        assert!(
            l.starts_with("https://") || l.starts_with("mailto:"),
            "relative link {l:?}"
        );
    }
    // Site-relative and page-relative links resolve against the post's permalink.
    assert!(links.contains(&"https://notes.example.com/posts/soup-and-bread/".to_string()));
    assert!(links.contains(&"https://notes.example.com/media/vtable.png".to_string()));
    assert!(
        !text.contains("](/") && !text.contains("](../"),
        "text part:\n{text}"
    );
    // The hero image of a post.
    let soup = message_for(&server, "soup-and-bread", "ann@example.com");
    let (_, html) = text_and_html(&soup.data);
    assert!(
        links_contain(&html, "https://notes.example.com/media/soup.webp"),
        "{html}"
    );
}

fn links_contain(html: &str, url: &str) -> bool {
    links(html).iter().any(|l| l == url)
}

#[test]
fn no_input_can_inject_a_header_or_a_script() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    let config = site.read("config/herald.yaml");
    // Raw HTML on: even then no script, event handler or javascript: URL reaches a mail.
    site.write(
        "config/herald.yaml",
        format!("{config}\nrender:\n  unsafe_html: true\n"),
    );
    site.write(
        "content/posts/2025-05-10-evil.md",
        "---\ntitle: \"Hello\\r\\nBcc: victim@evil.example\"\ndate: 2025-05-10\ntags: [cooking]\nslug: evil\n---\n\n\
         Hi <script>alert(1)</script> there.\n\n\
         <a href=\"javascript:alert(2)\" onclick=\"alert(3)\">click</a>\n\n\
         <img src=\"/x.png\" onerror=\"alert(4)\">\n",
    );
    site.write(
        "config/subscribers/cooking.csv",
        "email,name\ncara@example.com,Cara\ndan@example.com,\neve@example.com,\"Eve\r\nBcc: victim2@evil.example\"\n",
    );
    site.run(&["publish"]).success();
    for m in server.messages() {
        for to in &m.to {
            assert!(
                to.ends_with("@example.com"),
                "only subscribers get mail: {to}"
            );
        }
        let headers = head(&m.data);
        assert!(
            !headers
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc")),
            "an injected header:\n{headers}"
        );
        let msg = parse(&m.data);
        assert!(msg.bcc().is_none());
        assert_eq!(
            msg.headers()
                .iter()
                .filter(|h| h.name().eq_ignore_ascii_case("to"))
                .count(),
            1
        );
        let (text, html) = text_and_html(&m.data);
        for part in [&text, &html] {
            let lower = part.to_lowercase();
            for bad in ["<script", "javascript:", "onclick", "onerror"] {
                assert!(!lower.contains(bad), "{bad} reached a mail:\n{part}");
            }
        }
        // The script's text goes with it from the post body (the preheader summary is plain
        // text, escaped, and may keep it: harmless, so not checked here).
        let content = html
            .split("class=\"content\"")
            .nth(1)
            .expect("the content cell");
        assert!(!content.contains("alert("), "{content}");
    }
    let m = message_for(&server, "evil", "eve@example.com");
    let msg = parse(&m.data);
    assert_eq!(msg.subject(), Some("Hello Bcc: victim@evil.example"));
    let to = msg.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some("eve@example.com"));
    assert!(!to.name().unwrap_or("").contains(['\r', '\n']));
}

#[test]
fn scripts_in_a_body_are_escaped_when_raw_html_is_off() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    site.write(
        "content/posts/2025-05-10-evil.md",
        "---\ntitle: Evil\ndate: 2025-05-10\ntags: [cooking]\nslug: evil\n---\n\nHi <script>alert(1)</script>\n",
    );
    site.run(&["publish"]).success();
    let m = server.messages_to("dan@example.com");
    let evil = m
        .iter()
        .find(|m| subject(&m.data) == "Evil")
        .expect("the evil post");
    let (_, html) = text_and_html(&evil.data);
    assert!(!html.to_lowercase().contains("<script"), "{html}");
}

// --- unsubscribing and the subscriber CSVs ----------------------------------------------------

#[test]
fn unsubscribe_token_from_a_mail_stops_mail_for_its_lists() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    site.run(&["publish"]).success();
    // cara got soup-and-bread through `cooking` only: her token names that list.
    let soup = message_for(&server, "soup-and-bread", "cara@example.com");
    let token = unsubscribe_token(&soup.data);

    // A forged or altered token is refused, and changes nothing.
    let mut altered = token.clone();
    let last = altered.pop().expect("a token");
    altered.push(if last == 'A' { 'B' } else { 'A' });
    for bad in [altered.as_str(), "not-a-token", "e30.e30"] {
        let run = site.run(&["unsubscribe", bad]).code(1);
        assert!(run.stderr.contains("not valid"), "{run}");
    }
    assert_eq!(
        lists_of(&members(&site, &[]), "cara@example.com"),
        ["cooking", "rust"]
    );

    let run = site.run(&["unsubscribe", &token]).success();
    assert!(
        run.stdout.contains("cara@example.com") && run.stdout.contains("cooking"),
        "{run}"
    );
    let all = members(&site, &[]);
    assert_eq!(lists_of(&all, "cara@example.com"), ["rust"], "{all}");
    assert_eq!(
        member(&all, "cara@example.com").unwrap()["status"],
        "active"
    );

    // The CSV still lists her, and changes (so it is merged again): she stays out of cooking.
    site.write(
        "config/subscribers/cooking.csv",
        "email,name\ncara@example.com,Cara\ndan@example.com,\nerin@example.com,Erin\n",
    );
    site.write(
        "content/posts/2025-05-20-more-soup.md",
        post("more-soup", "More Soup", "2025-05-20", "cooking"),
    );
    site.write(
        "content/posts/2025-05-21-more-rust.md",
        post("more-rust", "More Rust", "2025-05-21", "rust lang"),
    );
    site.run(&["publish"]).success();
    let new: Vec<(String, String)> = deliveries(&server.messages())
        .into_iter()
        .filter(|(slug, _)| slug.starts_with("more-"))
        .collect();
    assert_eq!(
        new,
        pairs(&[
            ("more-rust", "ann@example.com"),
            ("more-rust", "bob@example.com"),
            ("more-rust", "cara@example.com"),
            ("more-soup", "ann@example.com"),
            ("more-soup", "bob@example.com"),
            ("more-soup", "dan@example.com"),
            ("more-soup", "erin@example.com"),
        ])
    );
    assert_eq!(lists_of(&members(&site, &[]), "cara@example.com"), ["rust"]);
    assert!(member(&members(&site, &["--list", "cooking"]), "cara@example.com").is_none());

    // A token for every list the address is on unsubscribes it altogether.
    let rust = message_for(&server, "more-rust", "cara@example.com");
    site.run(&["unsubscribe", &unsubscribe_token(&rust.data)])
        .success();
    let all = members(&site, &[]);
    assert_eq!(
        member(&all, "cara@example.com").unwrap()["status"],
        "unsubscribed",
        "{all}"
    );
}

#[test]
fn a_removed_csv_row_leaves_the_list_but_command_line_members_stay() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    site.run(&["publish"]).success();
    site.run(&[
        "subscribers",
        "add",
        "erin@example.com",
        "--list",
        "cooking",
    ])
    .success();
    site.write(
        "config/subscribers/cooking.csv",
        "email,name\ncara@example.com,Cara\n",
    );
    site.write(
        "content/posts/2025-05-20-more-soup.md",
        post("more-soup", "More Soup", "2025-05-20", "cooking"),
    );
    site.run(&["publish"]).success();
    let got: Vec<String> = deliveries(&server.messages())
        .into_iter()
        .filter(|(slug, _)| slug == "more-soup")
        .map(|(_, to)| to)
        .collect();
    assert_eq!(
        got,
        [
            "ann@example.com",
            "bob@example.com",
            "cara@example.com",
            "erin@example.com"
        ]
    );
    let cooking = members(&site, &["--list", "cooking"]);
    let emails: Vec<&str> = cooking
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["cara@example.com", "erin@example.com"],
        "{cooking}"
    );
}

#[test]
fn invalid_csv_rows_are_reported_with_file_and_line_and_skipped() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    site.write(
        "config/subscribers/all.csv",
        "email,name\nann@example.com,Ann\nbob@,Broken\nzed@example.com,Zed\nnot an address,X\n",
    );
    let run = site.run(&["publish"]).success();
    assert!(
        run.stderr.contains(
            "config/subscribers/all.csv:3: row skipped: \"bob@\" is not an email address"
        ),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("config/subscribers/all.csv:5: row skipped:"),
        "{run}"
    );
    assert_eq!(run.stderr.matches("all.csv:").count(), 2, "{run}");
    // The run went on: the good rows joined and were mailed.
    assert_eq!(server.messages_to("zed@example.com").len(), 3);
    assert!(!server.messages().is_empty());

    // The next cron run does not repeat them while the file is unchanged; `check` still lists
    // them; a changed file is read again and its remaining bad rows are reported again.
    let again = site.run(&["publish"]).success();
    assert!(!again.stderr.contains("all.csv:"), "{again}");
    let check = site.run(&["check"]).code(1);
    assert_eq!(check.stderr.matches("all.csv:").count(), 2, "{check}");
    site.write(
        "config/subscribers/all.csv",
        "email,name\nann@example.com,Ann\nbob@,Broken\nzed@example.com,Zed\n",
    );
    let changed = site.run(&["publish"]).success();
    assert!(
        changed.stderr.contains(
            "config/subscribers/all.csv:3: row skipped: \"bob@\" is not an email address"
        ),
        "{changed}"
    );
    assert_eq!(changed.stderr.matches("all.csv:").count(), 1, "{changed}");
}

#[test]
fn subscriber_commands_add_remove_list_import_and_export() {
    let site = Site::fixture("newsletter");
    site.run(&["publish"]).success();

    let run = site.run(&[
        "subscribers",
        "add",
        "Eve@Example.com",
        "--list",
        "rust",
        "--name",
        "Eve",
    ]);
    assert!(run.success().stdout.contains("added"));
    let again = site
        .run(&["subscribers", "add", "eve@example.com", "--list", "rust"])
        .success();
    assert!(
        again.stdout.contains("already"),
        "addresses compare case-insensitively: {again}"
    );
    site.run(&["subscribers", "add", "not-an-address", "--list", "rust"])
        .code(1);
    let run = site
        .run(&["subscribers", "add", "x@example.com", "--list", "nosuch"])
        .code(1);
    assert!(run.stderr.contains("unknown list \"nosuch\""), "{run}");

    let rust = members(&site, &["--list", "rust"]);
    let emails: Vec<&str> = rust
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        ["bob@example.com", "cara@example.com", "Eve@Example.com"],
        "{rust}"
    );
    let eve = member(&rust, "Eve@Example.com").unwrap();
    assert_eq!(
        (eve["name"].as_str(), eve["status"].as_str()),
        (Some("Eve"), Some("active"))
    );

    // Remove from one list, then unsubscribe from every list.
    site.run(&["subscribers", "remove", "eve@example.com", "--list", "rust"])
        .success();
    assert!(member(&members(&site, &["--list", "rust"]), "Eve@Example.com").is_none());
    site.run(&["subscribers", "remove", "ann@example.com"])
        .success();
    let unsubscribed = members(&site, &["--status", "unsubscribed"]);
    assert!(
        member(&unsubscribed, "ann@example.com").is_some(),
        "{unsubscribed}"
    );

    // An import with bad rows is rejected whole, every bad line reported...
    let file = site.path("import.csv");
    site.write(
        "import.csv",
        "email,name\nfay@example.com,Fay\nbroken@,B\nann@example.com,Ann again\nalso broken,C\ngus@example.com,\n",
    );
    let file = file.to_str().unwrap();
    let run = site
        .run(&["subscribers", "import", file, "--list", "cooking"])
        .code(1);
    assert!(
        run.stderr.contains("import.csv:3:") && run.stderr.contains("import.csv:5:"),
        "{run}"
    );
    // Nothing was skipped: the whole file was refused, and the messages say only what is wrong.
    assert!(
        run.stderr
            .contains("import.csv:3: \"broken@\" is not an email address")
            && !run.stderr.contains("row skipped"),
        "{run}"
    );
    assert!(
        member(&members(&site, &[]), "fay@example.com").is_none(),
        "nothing imported"
    );
    // ...or, with --skip-invalid, imported without them; ann unsubscribed and stays out.
    let run = site
        .run(&[
            "subscribers",
            "import",
            file,
            "--list",
            "cooking",
            "--skip-invalid",
        ])
        .success();
    assert!(
        run.stderr.contains("import.csv:3: row skipped:")
            && run.stderr.contains("import.csv:5: row skipped:"),
        "{run}"
    );
    let cooking = members(&site, &["--list", "cooking", "--status", "active"]);
    let emails: Vec<&str> = cooking
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            "cara@example.com",
            "dan@example.com",
            "fay@example.com",
            "gus@example.com"
        ],
        "{cooking}"
    );

    let export = site
        .run(&["subscribers", "export", "--list", "cooking"])
        .success();
    let lines: Vec<&str> = export.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "email,name",
            "cara@example.com,Cara",
            "dan@example.com,",
            "fay@example.com,Fay",
            "gus@example.com,"
        ],
        "{export}"
    );
    let all = site
        .run(&["subscribers", "export", "--list", "all"])
        .success();
    assert!(
        all.stdout.contains("\"Bob, Jr.\""),
        "RFC 4180 quoting: {all}"
    );
    assert!(
        !all.stdout.contains("ann@example.com"),
        "unsubscribed members are not exported"
    );
}

// --- failures: 4xx, 5xx, dropped lines, timeouts ------------------------------------------

#[test]
fn transient_failures_are_retried_in_the_same_run() {
    let server = SmtpServer::scripted(
        Rules::new()
            .first(
                1,
                Stage::Message,
                "ann@example.com",
                Reply::code(451, "4.3.0 try again later"),
            )
            .first(
                1,
                Stage::Rcpt,
                "dan@example.com",
                Reply::code(450, "4.2.1 mailbox busy"),
            )
            .first(1, Stage::Data, "bob@example.com", Reply::Drop)
            .first(1, Stage::Message, "cara@example.com", Reply::Stall),
    );
    let site = smtp_site(&server);
    let run = site.run(&["publish"]).success();
    assert!(run.stdout.contains("mail: 11 sent, 0 deferred"), "{run}");
    assert_eq!(
        deliveries(&server.messages()),
        pairs(FIRST_RUN),
        "each sent exactly once"
    );
    let codes = |stage, to| -> Vec<Option<u16>> {
        server
            .attempts(stage, to)
            .into_iter()
            .map(|l| l.code)
            .collect()
    };
    assert_eq!(codes(Stage::Message, "ann@example.com")[0], Some(451));
    assert_eq!(
        codes(Stage::Message, "ann@example.com").len(),
        4,
        "3 posts, one retry"
    );
    assert_eq!(codes(Stage::Rcpt, "dan@example.com")[0], Some(450));
    assert_eq!(
        codes(Stage::Data, "bob@example.com")[0],
        None,
        "dropped mid-DATA"
    );
    assert_eq!(
        codes(Stage::Message, "cara@example.com")[0],
        None,
        "stalled past the timeout"
    );
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["sent"], 11, "{status}");
    assert_eq!(status["deliveries"]["deferred"], 0, "{status}");
}

#[test]
fn a_lasting_4xx_is_deferred_with_exit_75_and_sent_by_a_later_run() {
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let f = failing.clone();
    let server = SmtpServer::scripted(move |a: &Attempt| {
        if a.stage == Stage::Message
            && a.to == "ann@example.com"
            && f.load(std::sync::atomic::Ordering::SeqCst)
        {
            Reply::code(451, "4.7.1 greylisted, try again later")
        } else {
            Reply::Accept
        }
    });
    let site = smtp_site(&server);
    // -q, as under cron: the problem still reaches stderr (and the owner's mailbox).
    let run = site.run(&["-q", "publish"]).code(75);
    assert!(run.stdout.is_empty(), "{run}");
    assert!(
        run.stderr.contains("warning: ann@example.com deferred for"),
        "{run}"
    );
    assert!(
        run.stderr.contains("warning: 3 deliveries remain deferred"),
        "{run}"
    );
    // Retried within the run (three passes) before giving up for now.
    assert_eq!(server.attempts(Stage::Message, "ann@example.com").len(), 9);
    assert!(server.messages_to("ann@example.com").is_empty());

    let status = status_json(&site);
    assert_eq!(status["deliveries"]["deferred"], 3, "{status}");
    assert_eq!(status["last_run"]["deferred"], 3, "{status}");
    let problems = status["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 3, "{status}");
    for p in problems {
        assert_eq!(p["email"], "ann@example.com");
        assert_eq!(p["status"], "deferred");
        assert!(p["reply"].as_str().unwrap().contains("451"), "{p}");
    }

    // The server recovers; the next cron run delivers, once.
    failing.store(false, std::sync::atomic::Ordering::SeqCst);
    site.run(&["publish"]).success();
    assert_eq!(deliveries(&server.messages()), pairs(FIRST_RUN));
    let status = status_json(&site);
    assert_eq!(
        (
            status["deliveries"]["sent"].as_i64(),
            status["deliveries"]["deferred"].as_i64()
        ),
        (Some(11), Some(0))
    );
    assert!(
        status["problems"].as_array().unwrap().is_empty(),
        "{status}"
    );
}

#[test]
fn deliveries_whose_post_or_address_left_are_cancelled_not_sent() {
    // The relay is down for the first run: every delivery of FIRST_RUN stays open. Before the
    // next run, soup-and-bread becomes a draft and dan unsubscribes from everything.
    let refuse = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let r = refuse.clone();
    let server = SmtpServer::scripted(move |a: &Attempt| match a.stage {
        Stage::Message if r.load(std::sync::atomic::Ordering::SeqCst) => {
            Reply::code(451, "4.3.0 try again later")
        }
        _ => Reply::Accept,
    });
    let site = smtp_site(&server);
    site.run(&["publish"]).code(75);
    assert!(server.messages().is_empty());
    let post = "content/posts/2025-04-01-soup-and-bread.md";
    site.write(
        post,
        site.read(post).replacen("---\n", "---\ndraft: true\n", 1),
    );
    site.run(&["subscribers", "remove", "dan@example.com"])
        .success();
    refuse.store(false, std::sync::atomic::Ordering::SeqCst);

    let run = site.run(&["-v", "publish"]).success();
    let expected: Vec<(&str, &str)> = FIRST_RUN
        .iter()
        .copied()
        .filter(|(slug, to)| *slug != "soup-and-bread" && *to != "dan@example.com")
        .collect();
    assert_eq!(deliveries(&server.messages()), pairs(&expected));
    assert!(
        run.stderr.contains(
            "ann@example.com for soup-and-bread: not sent: the post or its lists are no longer published"
        ),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("dan@example.com for creme-brulee: not sent: the address is unsubscribed"),
        "{run}"
    );
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["cancelled"], 5, "{status}");
    assert_eq!(status["deliveries"]["pending"], 0, "{status}");
}

#[test]
fn a_deferral_older_than_retry_days_fails() {
    let server = SmtpServer::scripted(Rules::new().always(
        Stage::Rcpt,
        "dan@example.com",
        Reply::code(421, "4.3.2 shutting down"),
    ));
    let mut site = smtp_site(&server);
    site.run(&["publish"]).code(75);
    let tried = server.attempts(Stage::Rcpt, "dan@example.com").len();
    site.set_now("2025-06-04T00:00:01Z");
    let run = site.run(&["publish"]).success();
    assert!(run.stdout.contains("0 deferred, 2 failed"), "{run}");
    assert_eq!(
        server.attempts(Stage::Rcpt, "dan@example.com").len(),
        tried,
        "gave up without another attempt"
    );
    let status = status_json(&site);
    let problems = status["problems"].as_array().unwrap();
    assert!(
        problems
            .iter()
            .all(|p| p["status"] == "failed" && p["email"] == "dan@example.com")
    );
    assert!(
        problems[0]["reply"].as_str().unwrap().contains("3 days"),
        "{status}"
    );
    // dan is not a bounce (never a 5xx).
    assert_eq!(
        member(&members(&site, &[]), "dan@example.com").unwrap()["status"],
        "active"
    );
}

#[test]
fn a_550_fails_the_delivery_and_bounces_the_address_for_good() {
    let server = SmtpServer::scripted(
        Rules::new()
            .always(
                Stage::Rcpt,
                "dan@example.com",
                Reply::code(550, "5.1.1 <dan@example.com>: no such user"),
            )
            .always(
                Stage::Message,
                "ann@example.com",
                Reply::code(554, "5.7.1 message refused"),
            ),
    );
    let site = smtp_site(&server);
    let run = site.run(&["publish"]).success();
    assert!(run.stdout.contains("0 deferred"), "{run}");
    assert!(server.messages_to("dan@example.com").is_empty());
    assert!(server.messages_to("ann@example.com").is_empty());
    assert_eq!(
        server.attempts(Stage::Message, "ann@example.com").len(),
        3,
        "a 5xx is not retried"
    );

    let status = status_json(&site);
    let problems = status["problems"].as_array().unwrap();
    let dan: Vec<&Value> = problems
        .iter()
        .filter(|p| p["email"] == "dan@example.com")
        .collect();
    assert!(!dan.is_empty(), "{status}");
    assert!(
        dan.iter()
            .any(|p| p["status"] == "failed" && p["reply"].as_str().unwrap().contains("550"))
    );
    let ann: Vec<&Value> = problems
        .iter()
        .filter(|p| p["email"] == "ann@example.com")
        .collect();
    assert_eq!(ann.len(), 3, "{status}");
    assert!(
        ann.iter()
            .all(|p| p["status"] == "failed" && p["reply"].as_str().unwrap().contains("554"))
    );

    // A 550 to the recipient is a hard bounce; a 554 to the message is not.
    let all = members(&site, &[]);
    assert_eq!(
        member(&all, "dan@example.com").unwrap()["status"],
        "bounced",
        "{all}"
    );
    assert_eq!(
        member(&all, "ann@example.com").unwrap()["status"],
        "active",
        "{all}"
    );

    // Never mailed again, and a CSV merge or an import does not bring the address back.
    site.write(
        "config/subscribers/cooking.csv",
        "email,name\ncara@example.com,Cara\ndan@example.com,Dan\n",
    );
    site.write(
        "content/posts/2025-05-20-more-soup.md",
        post("more-soup", "More Soup", "2025-05-20", "cooking"),
    );
    let before = server.attempts(Stage::Rcpt, "dan@example.com").len();
    site.run(&["publish"]).success();
    assert_eq!(
        server.attempts(Stage::Rcpt, "dan@example.com").len(),
        before
    );
    site.write("dan.csv", "email\ndan@example.com\n");
    let dan_csv = site.path("dan.csv");
    let run = site
        .run(&[
            "subscribers",
            "import",
            dan_csv.to_str().unwrap(),
            "--list",
            "all",
        ])
        .success();
    assert!(run.stdout.contains("1 skipped"), "{run}");
    let run = site
        .run(&["subscribers", "add", "dan@example.com", "--list", "all"])
        .code(1);
    assert!(run.stderr.contains("bounced"), "{run}");
}

// --- dry runs, the lock, preview, the outbox ------------------------------------------------

#[test]
fn dry_run_prints_the_plan_and_writes_and_sends_nothing() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    let run = site.run(&["publish", "--dry-run"]).success();
    assert!(
        run.stdout
            .contains("would mail trait-objects (\"Trait Objects, Plainly\") to 3 addresses"),
        "{run}"
    );
    assert!(
        run.stdout
            .contains("would mail soup-and-bread (\"Soup & Bread\") to 4 addresses"),
        "{run}"
    );
    assert!(run.stdout.contains("would send 11 messages"), "{run}");
    for dir in ["state", "outbox", "public"] {
        assert!(!site.exists(dir), "{dir} was created by a dry run");
    }
    assert_eq!(server.sessions(), 0, "the server was contacted");
    assert!(site.stray_files().is_empty());

    // On an existing state: the plan for what is new, and the journal stays as it was.
    site.run(&["publish"]).success();
    site.write(
        "content/posts/2025-05-20-more-soup.md",
        post("more-soup", "More Soup", "2025-05-20", "cooking"),
    );
    let db_before = site.read_bytes("state/herald.db");
    let public_before = site.stamps("public");
    let state_before = site.stamps("state");
    let run = site.run(&["publish", "--dry-run"]).success();
    assert!(
        run.stdout
            .contains("would mail more-soup (\"More Soup\") to 4 addresses"),
        "{run}"
    );
    assert!(run.stdout.contains("would send 4 messages"), "{run}");
    assert_eq!(site.read_bytes("state/herald.db"), db_before);
    assert_eq!(site.stamps("public"), public_before);
    assert_eq!(
        site.stamps("state"),
        state_before,
        "not even SQLite's -wal/-shm files appear"
    );
    assert_eq!(server.messages().len(), 11);
    assert_eq!(status_json(&site)["deliveries"]["sent"], 11);
}

#[test]
fn a_second_publish_exits_75_while_the_first_holds_the_lock() {
    let gate = Gate::new();
    let server = SmtpServer::scripted(Rules::new().always(
        Stage::Message,
        "*",
        Reply::hold(&gate, Reply::Accept),
    ));
    let site = smtp_site_with_timeout(&server, 30);
    let first = site.spawn(&["publish"]);
    assert!(
        gate.wait_reached(1, Duration::from_secs(30)),
        "the first run never reached the server"
    );
    let second = site.run(&["publish"]).code(75);
    assert!(
        second
            .stderr
            .contains("another publish holds state/publish.lock; try again later"),
        "{second}"
    );
    assert_eq!(second.stderr.lines().count(), 1, "{second}");
    gate.open();
    let first = first.finish();
    assert_eq!(first.code, Some(0), "{first}");
    assert_eq!(deliveries(&server.messages()), pairs(FIRST_RUN));
}

#[test]
fn a_killed_publish_leaves_no_stale_lock_and_its_unconfirmed_mail_goes_out_next_run() {
    // The first attempt for each address is held: the run is killed with two (concurrency)
    // messages in the middle of their SMTP transaction, unconfirmed.
    let gate = Gate::new();
    let killed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (g, k) = (gate.clone(), killed.clone());
    let server = SmtpServer::scripted(move |a: &Attempt| match a.stage {
        Stage::Message if !k.load(std::sync::atomic::Ordering::SeqCst) => {
            Reply::hold(&g, Reply::Accept)
        }
        _ => Reply::Accept,
    });
    let site = smtp_site_with_timeout(&server, 30);
    let first = site.spawn(&["publish"]);
    assert!(gate.wait_reached(2, Duration::from_secs(30)));
    drop(first); // killed
    killed.store(true, std::sync::atomic::Ordering::SeqCst);
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["pending"], 11, "{status}");
    let run = site.run(&["publish"]).success();
    assert!(run.stdout.contains("mail: 11 sent"), "{run}");
    assert_eq!(deliveries(&server.messages()), pairs(FIRST_RUN));
}

#[test]
fn preview_writes_files_and_a_test_mail_is_not_journaled() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    let run = site.run(&["preview", "soup-and-bread"]).success();
    assert!(
        run.stdout.contains("outbox/preview/soup-and-bread.eml"),
        "{run}"
    );
    assert_eq!(server.sessions(), 0, "a preview is written, not sent");
    let eml = site.read_bytes("outbox/preview/soup-and-bread.eml");
    let html = site.read("outbox/preview/soup-and-bread.html");
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("Soup &amp; Bread"),
        "{html}"
    );
    let (_, part) = text_and_html(&eml);
    assert!(part.contains("style=\""));
    let id = parse(&eml).message_id().unwrap().to_string();
    site.run(&["preview", "soup-and-bread"]).success();
    let eml2 = site.read_bytes("outbox/preview/soup-and-bread.eml");
    assert_eq!(
        parse(&eml2).message_id(),
        Some(id.as_str()),
        "Message-ID is stable"
    );
    let run = site.run(&["preview", "nope"]).code(1);
    assert!(run.stderr.contains("nope"), "{run}");

    // --to sends one mail through the transport, outside the journal.
    site.run(&["preview", "soup-and-bread", "--to", "ann@example.com"])
        .success();
    let sent = server.messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, ["ann@example.com"]);
    assert_eq!(status_json(&site)["deliveries"]["sent"], 0);
    site.run(&["publish"]).success();
    let soup: Vec<Received> = server
        .messages_to("ann@example.com")
        .into_iter()
        .filter(|m| slug_of(&m.data) == "soup-and-bread")
        .collect();
    assert_eq!(soup.len(), 2, "the test mail did not count as the delivery");
    assert_eq!(
        parse(&soup[0].data).message_id(),
        parse(&soup[1].data).message_id()
    );
}

#[test]
fn the_outbox_transport_writes_one_file_per_post_and_address() {
    let site = Site::fixture("newsletter");
    let run = site.run(&["publish"]).success();
    assert!(run.stdout.contains("mail: 11 sent"), "{run}");
    let files = site.files("outbox");
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    let expected: Vec<String> = pairs(FIRST_RUN)
        .iter()
        .map(|(slug, to)| format!("outbox/{slug}/{to}.eml"))
        .collect();
    assert_eq!(names, expected);
    for (name, bytes) in &files {
        let msg = parse(bytes);
        let to = msg
            .to()
            .and_then(|a| a.first())
            .and_then(|a| a.address())
            .unwrap()
            .to_lowercase();
        assert!(name.ends_with(&format!("/{to}.eml")), "{name}");
        text_and_html(bytes);
    }
    let before = site.stamps("outbox");
    site.run(&["publish"]).success();
    assert_eq!(site.stamps("outbox"), before, "a rerun writes nothing");
}

#[test]
fn runs_write_only_inside_the_site() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    site.run(&["publish"]).success();
    site.run(&["preview", "soup-and-bread"]).success();
    site.run(&["status"]).success();
    assert!(site.stray_files().is_empty(), "{:?}", site.stray_files());
}

// --- SMTP settings: credentials, rate ---------------------------------------------------------

const PASSWORD: &str = "s3cret-Pa55-7f1d";

/// `smtp_site` with `username: mailer` (the password comes from HERALD_SMTP_PASSWORD).
fn smtp_site_with_login(server: &SmtpServer) -> Site {
    let site = smtp_site(server);
    let config = site.read("config/herald.yaml");
    site.write(
        "config/herald.yaml",
        format!("{config}  username: mailer\n"),
    );
    site
}

/// Runs `herald ARGS` with HERALD_SMTP_PASSWORD set; returns (exit code, stdout + stderr).
fn run_with_password(site: &Site, args: &[&str]) -> (Option<i32>, String) {
    let run = site
        .run_env(args, &[("HERALD_SMTP_PASSWORD", PASSWORD)])
        .no_panic();
    (run.code, format!("{}{}", run.stdout, run.stderr))
}

#[test]
fn the_smtp_password_comes_from_the_environment_and_is_never_printed() {
    let server = SmtpServer::start();
    let site = smtp_site_with_login(&server);
    // Without the variable: a clear error before anything is sent or journaled.
    let run = site.run(&["publish"]).code(1);
    assert!(run.stderr.contains("HERALD_SMTP_PASSWORD"), "{run}");
    assert_eq!(server.sessions(), 0);

    let (code, output) = run_with_password(&site, &["-v", "publish"]);
    assert_eq!(code, Some(0), "{output}");
    assert_eq!(server.messages().len(), 11);
    let logins = server.logins();
    assert!(!logins.is_empty());
    assert!(
        logins.iter().all(|(u, p)| u == "mailer" && p == PASSWORD),
        "{logins:?}"
    );
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["publish", "--dry-run"],
        &["check"],
    ] {
        let (_, out) = run_with_password(&site, args);
        assert!(
            !out.contains(PASSWORD),
            "herald {args:?} printed the password:\n{out}"
        );
    }
    assert!(!output.contains(PASSWORD), "{output}");
}

#[test]
fn a_refused_login_stops_the_run_and_fails_no_delivery() {
    let server = SmtpServer::scripted(Rules::new().always(
        Stage::Auth,
        "*",
        Reply::code(535, "5.7.8 authentication failed"),
    ));
    let site = smtp_site_with_login(&server);
    let (code, output) = run_with_password(&site, &["publish"]);
    assert_ne!(code, Some(0), "{output}");
    assert!(
        output.contains("535"),
        "the server's reply is shown:\n{output}"
    );
    assert!(!output.contains(PASSWORD), "{output}");
    assert!(server.messages().is_empty());
    // A wrong password is the owner's to fix: no subscriber loses the post over it.
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["failed"], 0, "{status}");
    assert_eq!(status["deliveries"]["sent"], 0, "{status}");
    let all = members(&site, &[]);
    assert!(
        all.as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "active"),
        "{all}"
    );
}

#[test]
fn rate_per_second_spaces_the_messages() {
    let server = SmtpServer::start();
    let site = smtp_site(&server);
    let config = site.read("config/herald.yaml");
    site.write(
        "config/herald.yaml",
        format!("{config}  rate_per_second: 10\n"),
    );
    site.run(&["publish"]).success();
    let messages = server.messages();
    assert_eq!(messages.len(), 11);
    let first = messages.iter().map(|m| m.at).min().unwrap();
    let last = messages.iter().map(|m| m.at).max().unwrap();
    // 11 messages at 10 per second: at least a second from the first to the last (the
    // limiter spaces the starts; the server timestamps the ends, a little later than each).
    assert!(
        last - first >= Duration::from_millis(900),
        "{:?}",
        last - first
    );
}

#[test]
fn the_log_names_twenty_problems_and_counts_the_rest() {
    let server = SmtpServer::scripted(Rules::new().always(
        Stage::Message,
        "*",
        Reply::code(554, "5.7.1 message refused"),
    ));
    let site = smtp_site(&server);
    let mut csv = String::from("email,name\n");
    for i in 0..10 {
        csv.push_str(&format!("reader{i}@example.com,Reader {i}\n"));
    }
    site.write("config/subscribers/all.csv", csv);
    let run = site.run(&["publish"]).success();
    let failed: usize = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("mail: "))
        .and_then(|l| {
            l.split(", ")
                .find_map(|p| p.strip_suffix(" failed")?.parse().ok())
        })
        .unwrap_or_else(|| panic!("no failed count: {run}"));
    assert!(failed > 25, "{run}");
    let named = |run: &crate::support::Run| {
        run.stderr_lines()
            .iter()
            .filter(|l| l.starts_with("warning: ") && l.contains(" failed for "))
            .count()
    };
    assert_eq!(named(&run), 20, "{run}");
    assert!(
        run.stderr.contains(&format!(
            "… and {} more not sent; `herald status` lists them",
            failed - 20
        )),
        "{run}"
    );
    // With -v, on a fresh copy, every problem is named and none is left to count.
    let again = smtp_site(&server);
    again.write(
        "config/subscribers/all.csv",
        site.read("config/subscribers/all.csv"),
    );
    let verbose = again.run(&["-v", "publish"]).success();
    assert_eq!(named(&verbose), failed, "{verbose}");
    assert!(!verbose.stderr.contains("more not sent"), "{verbose}");
}

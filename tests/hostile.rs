//! Hostile values end to end, and the security promises (README "Posts",
//! "Configuration reference", "Subscribers and lists", "The web endpoint"):
//!
//! - CR/LF and header names in every field that reaches a mail (title, summary, tags, author,
//!   list name, subject template, subscriber names and addresses): no header injection, no
//!   extra recipient;
//! - markup and scripts in titles, summaries, bodies, tags and names: escaped in feeds, never a
//!   `<script>` in a mail;
//! - slugs, tags and addresses with `/`, `..`, NUL or only punctuation: nothing written outside
//!   `output_dir`, `state_dir` and `outbox_dir` (the whole temp dir is compared before and
//!   after);
//! - addresses that are not addresses: reported with file and line, never mailed;
//! - `security: none` only to loopback; the SMTP password in no output and no file, whatever
//!   the server does; unsubscribe tokens bound to their address and lists; `secret.key` 0600.
//!
//! Sites are copies of `tests/fixtures/newsletter/` (see tests/newsletter.rs for who gets
//! what) or of `tests/fixtures/hostile/` (one post, one list, written to be abused).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine;
use mail_parser::MessageParser;
use serde_json::Value;

use crate::support::Site;
use crate::support::mail::head;
use crate::support::smtp::{Received, Reply, Rules, SmtpServer, Stage};

/// A site sending through `server` (plain SMTP on loopback, concurrency 2, 2 s timeout).
fn smtp_site(fixture: &str, server: &SmtpServer) -> Site {
    server.site(fixture, 2, 2)
}

/// The names of the headers of a raw message, lower case, sorted.
fn header_names(bytes: &[u8]) -> Vec<String> {
    let mut names: Vec<String> = head(bytes)
        .split("\r\n")
        .filter(|l| !l.starts_with([' ', '\t']))
        .map(|l| l.split(':').next().unwrap_or("").to_ascii_lowercase())
        .collect();
    names.sort();
    names
}

/// Exactly the headers herald writes (Reply-To when the fixture has one).
fn assert_only_herald_headers(bytes: &[u8]) {
    let names = header_names(bytes);
    let mut want = vec![
        "content-type",
        "date",
        "from",
        "list-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "message-id",
        "mime-version",
        "subject",
        "to",
    ];
    if names.iter().any(|n| n == "reply-to") {
        want.push("reply-to");
        want.sort();
    }
    assert_eq!(names, want, "headers of\n{}", head(bytes));
    let h = head(bytes);
    assert!(h.is_ascii(), "{h}");
    assert!(
        !h.chars()
            .any(|c| c.is_ascii_control() && !matches!(c, '\r' | '\n' | '\t')),
        "a control character in a header: {h:?}"
    );
    assert!(
        !h.split("\r\n")
            .any(|l| l.contains('\r') || l.contains('\n')),
        "{h}"
    );
}

/// The decoded HTML parts of a message; the plain-text part is checked to be text/plain.
fn html_parts(bytes: &[u8]) -> Vec<String> {
    let msg = MessageParser::default().parse(bytes).expect("a message");
    assert_eq!(msg.text_body_count(), 1, "one plain-text part");
    let text = msg.text_part(0).expect("the plain-text part");
    let ct = mail_parser::MimeHeaders::content_type(text).expect("a Content-Type");
    assert_eq!((ct.ctype(), ct.subtype()), ("text", Some("plain")));
    (0..msg.html_body_count())
        .map(|i| msg.body_html(i).unwrap_or_default().into_owned())
        .collect()
}

fn members(site: &Site) -> Value {
    site.run_json(&["subscribers", "list", "--json"])
}

/// address -> (status, lists) of every subscriber.
fn memberships(site: &Site) -> BTreeMap<String, (String, Vec<String>)> {
    members(site)
        .as_array()
        .expect("members")
        .iter()
        .map(|m| {
            let lists = m["lists"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_string())
                .collect();
            (
                m["email"].as_str().unwrap().to_lowercase(),
                (m["status"].as_str().unwrap().to_string(), lists),
            )
        })
        .collect()
}

/// Every file under `dir` with its bytes, by path relative to `dir`.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), bytes);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// The site's temp dir: the site and anything written next to it.
fn temp_dir(site: &Site) -> PathBuf {
    site.root().parent().expect("the temp dir").to_path_buf()
}

/// Asserts that every file new or changed in the temp dir since `before` lies in one of the
/// folders herald may write (`site/public`, `site/state`, `site/outbox`).
fn assert_confined(site: &Site, before: &BTreeMap<PathBuf, Vec<u8>>) {
    let after = tree(&temp_dir(site));
    for (path, bytes) in &after {
        if before.get(path) == Some(bytes) {
            continue;
        }
        assert!(
            ["site/public", "site/state", "site/outbox"]
                .iter()
                .any(|d| path.starts_with(d)),
            "herald wrote {} outside its folders",
            path.display()
        );
    }
    for path in before.keys() {
        assert!(
            after.contains_key(path),
            "herald removed {}",
            path.display()
        );
    }
}

// --- CR, LF and header names: no injection, no extra recipient ---------------------------------

#[test]
fn line_breaks_and_header_names_in_every_field_inject_nothing() {
    // tests/newsletter.rs covers a CR/LF title and CSV name; this covers every other field that
    // reaches a header, all at once, and checks the envelope as well as the headers.
    let server = SmtpServer::start();
    let site = smtp_site("hostile", &server);
    let config = site.read("config/herald.yaml");
    site.write(
        "config/herald.yaml",
        config
            .replace(
                "name: Everything",
                "name: \"Everything\\r\\nBcc: list@evil.example\"",
            )
            .replace(
                "transport: smtp",
                "transport: smtp\n  subject: \"{{post.title}} | {{subscriber.name}}\\r\\nBcc: subject@evil.example\"",
            ),
    );
    site.write(
        "content/posts/2025-04-01-hostile.md",
        "---\n\
         title: \"Hello\\r\\nBcc: title@evil.example\\r\\n\\r\\n<h1>body?</h1>\"\n\
         date: 2025-05-01\n\
         summary: \"Sum\\nCc: summary@evil.example\"\n\
         tags: [\"news\\r\\nX-Injected: yes\", \"Bcc: tag@evil.example\"]\n\
         author: \"Ann\\r\\nReply-To: author@evil.example\"\n\
         ---\n\nBody.\n",
    );
    site.write(
        "config/subscribers/all.csv",
        "email,name\n\
         ann@example.com,\"Ann\r\nBcc: name@evil.example\"\n\
         bob@example.com,\"Bob\"\" <bob2@evil.example>, \"\"x\"\n\
         \"cara@example.com\r\nBcc: addr@evil.example\",Cara\n\
         \"dan@example.com, eve@evil.example\",Dan\n\
         \"<fay@example.com>\",Fay\n\
         \"Gus <gus@example.com>\",Gus\n\
         hal@example.com,\"\u{0}Hal\u{7}\u{1b}[31m\"\n",
    );
    // The command line too: a bad address is refused, a name loses its line break.
    let run = site
        .run(&[
            "subscribers",
            "add",
            "ivy@example.com\r\nBcc: cli@evil.example",
            "--list",
            "all",
        ])
        .code(1);
    assert!(run.stderr.contains("not an email address"), "{run}");
    site.run(&[
        "subscribers",
        "add",
        "joe@example.com",
        "--list",
        "all",
        "--name",
        "Joe\r\nBcc: cli-name@evil.example",
    ])
    .success();

    let run = site.run(&["publish"]).success();
    for line in [5, 7, 8, 9] {
        assert!(
            run.stderr
                .contains(&format!("config/subscribers/all.csv:{line}: row skipped:")),
            "line {line}: {run}"
        );
    }
    let messages = server.messages();
    let to: BTreeSet<String> = messages.iter().map(|m| m.to.join(",")).collect();
    assert_eq!(
        to,
        BTreeSet::from(
            [
                "ann@example.com",
                "bob@example.com",
                "hal@example.com",
                "joe@example.com"
            ]
            .map(String::from)
        ),
        "only the subscribers, one envelope recipient each"
    );
    for m in &messages {
        assert_only_herald_headers(&m.data);
        let msg = MessageParser::default().parse(&m.data).expect("a message");
        let tos: Vec<&str> = msg
            .to()
            .expect("To")
            .iter()
            .filter_map(|a| a.address())
            .collect();
        assert_eq!(tos, [m.to[0].as_str()], "the To header is the envelope");
        assert!(msg.cc().is_none() && msg.bcc().is_none() && msg.reply_to().is_none());
        let subject = msg.subject().expect("Subject");
        assert!(
            subject.starts_with("Hello Bcc: title@evil.example <h1>body?</h1> | "),
            "{subject}"
        );
        assert!(!subject.contains(['\r', '\n']));
        let list_id = msg.header_raw("List-Id").expect("List-Id");
        // The owner's list name, on one line, inside the quoted phrase.
        assert_eq!(
            list_id.trim(),
            "\"Everything Bcc: list@evil.example\" <all.hostile.example.com>"
        );
    }
    let ann = messages
        .iter()
        .find(|m| m.to[0] == "ann@example.com")
        .unwrap();
    let name = MessageParser::default()
        .parse(&ann.data)
        .unwrap()
        .to()
        .and_then(|a| a.first())
        .and_then(|a| a.name())
        .map(str::to_string);
    assert_eq!(name.as_deref(), Some("Ann Bcc: name@evil.example"));
}

// --- markup and scripts: escaped in feeds, never a script in mail -------------------------------

const SCRIPTY: &str = "---\n\
     title: \"<script>alert('t')</script> & <b>Bold</b> \\\"quoted\\\"\"\n\
     date: 2025-05-01\n\
     summary: \"<img src=x onerror=alert('s')> summary\"\n\
     tags: [\"<script>tag</script>\", \"<b>b</b>\"]\n\
     author: \"<script>author</script>\"\n\
     image: \"javascript:alert('i')\"\n\
     ---\n\n\
     Hello <script>alert('b')</script> <iframe src=\"https://evil.example/\"></iframe>\n\n\
     <a href=\"javascript:alert('l')\" onclick=\"alert('c')\">link</a>\n\
     <img src=\"/x.png\" onerror=\"alert('e')\"> <svg onload=\"alert('v')\"></svg>\n\n\
     [md link](javascript:alert('m')) ![img](javascript:alert('n'))\n";

fn assert_no_script(what: &str, html: &str) {
    // Real tags only: markup shown as text (`&lt;script&gt;`) is harmless and stays.
    let lower = html.to_lowercase();
    let mut rest = lower.as_str();
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        let end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..end];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        assert!(
            !["script", "iframe", "object", "embed"].contains(&name.as_str()),
            "<{tag}> in {what}:\n{html}"
        );
        let handler = tag
            .split(|c: char| c.is_whitespace() || c == '/')
            .any(|attr| attr.starts_with("on") && attr.contains('='));
        assert!(!handler, "an event handler in <{tag}> in {what}:\n{html}");
        assert!(
            !tag.contains("javascript:"),
            "a javascript: URL in <{tag}> in {what}:\n{html}"
        );
    }
}

#[test]
fn markup_in_titles_and_bodies_is_escaped_in_feeds_and_never_a_script_in_mail() {
    for unsafe_html in [false, true] {
        let server = SmtpServer::start();
        let site = smtp_site("hostile", &server);
        let config = site.read("config/herald.yaml");
        site.write(
            "config/herald.yaml",
            format!("{config}render:\n  unsafe_html: {unsafe_html}\n"),
        );
        site.write(
            "content/posts/2025-04-01-hostile.md",
            SCRIPTY.replace("image: \"javascript:alert('i')\"\n", ""),
        );
        site.write(
            "config/subscribers/all.csv",
            "email,name\nann@example.com,\"<script>alert('n')</script>\"\n",
        );
        // A javascript: hero image is refused with its line, before anything is written.
        site.write("content/posts/2025-05-02-image.md", SCRIPTY);
        let run = site.run(&["publish"]).code(1);
        assert!(
            run.stderr
                .contains("content/posts/2025-05-02-image.md:7: invalid image"),
            "{run}"
        );
        assert!(!site.exists("public") && server.sessions() == 0);
        site.remove("content/posts/2025-05-02-image.md");
        site.run(&["publish"]).success();

        let title = "<script>alert('t')</script> & <b>Bold</b> \"quoted\"";
        for f in ["public/rss.xml", "public/atom.xml"] {
            let raw = site.read(f);
            // Escaped by the format: no markup of the post reaches the XML as markup.
            for tag in ["<script", "<iframe", "<svg", "<b>"] {
                assert!(!raw.contains(tag), "{f}: {tag} unescaped\n{raw}");
            }
            assert!(!raw.contains("<b>Bold"), "{f}: an unescaped title\n{raw}");
            let feed = feed_rs::parser::parse(raw.as_bytes()).expect("a feed");
            let e = &feed.entries[0];
            assert_eq!(e.title.as_ref().map(|t| t.content.as_str()), Some(title));
            // A summary is HTML in RSS; in Atom it is text (no `type`), shown as typed.
            let summary = e
                .summary
                .as_ref()
                .filter(|t| t.content_type.to_string().starts_with("text/html"))
                .map(|t| t.content.clone());
            if f.ends_with("rss.xml") {
                assert!(summary.is_some(), "{f}: an HTML description");
            }
            let content = e.content.as_ref().and_then(|c| c.body.clone());
            assert!(content.is_some(), "{f}: full content");
            for html in [summary, content].into_iter().flatten() {
                assert_no_script(f, &html);
            }
        }
        let json = site.read_json("public/feed.json");
        let item = &json["items"][0];
        // JSON Feed titles and summaries are plain text: the text, exactly.
        assert_eq!(item["title"], title);
        assert_no_script("content_html", item["content_html"].as_str().unwrap());
        assert_no_script("feeds.opml", &site.read("public/feeds.opml"));

        let m = &server.messages()[0];
        // The HTML part is what a mail client renders: no script, handler or javascript: URL.
        // (The text/plain part shows the title as typed; plain text is never rendered.)
        let parts = html_parts(&m.data);
        assert!(!parts.is_empty());
        for part in parts {
            assert_no_script("the mail", &part);
        }
        let msg = MessageParser::default().parse(&m.data).unwrap();
        assert_eq!(msg.subject(), Some(title), "a subject is plain text");
        let html = msg.body_html(0).unwrap();
        assert!(
            html.contains("&lt;b&gt;Bold"),
            "the title is escaped in the HTML part"
        );
    }
}

// --- paths: nothing written outside the three folders ------------------------------------------

#[test]
fn slugs_tags_and_addresses_cannot_write_outside_the_output_folders() {
    let site = Site::fixture("hostile");
    let posts = [
        (
            "a.md",
            "../../../../tmp/herald-evil",
            "[\"../../escape\", \"a/b\"]",
        ),
        (
            "b.md",
            "/etc/passwd",
            "[\"..\\\\..\\\\win\", \"tags/../../up\"]",
        ),
        ("c.md", "a/b/../c", "[\"nul\\0byte\", \"%2e%2e%2fpct\"]"),
        ("d.md", "\\0\\0x", "[\"C:\\\\x\", \"~/home\"]"),
    ];
    for (i, (file, slug, tags)) in posts.iter().enumerate() {
        site.write(
            &format!("content/posts/{file}"),
            format!(
                "---\ntitle: P{i}\ndate: 2025-05-0{}\nslug: \"{slug}\"\ntags: {tags}\n---\nx\n",
                i + 1
            ),
        );
    }
    site.write(
        "config/subscribers/all.csv",
        "email,name\n\
         a/b@example.com,Slash\n\
         %2e%2e%2f@example.com,Percent\n\
         \"../../x\"@example.com,Quoted dots\n\
         ~root@example.com,Tilde\n\
         ann@example.com,Ann\n",
    );
    let before = tree(&temp_dir(&site));
    site.run(&["publish"]).success();
    assert_confined(&site, &before);
    // The first slug climbs out of the temp dir itself, where assert_confined cannot see.
    assert!(!std::path::Path::new("/tmp/herald-evil").exists());
    // Where things went: slugs and tag slugs are letters, digits and dashes.
    let dirs = child_names(&site, "public/tags");
    for d in &dirs {
        assert!(
            d.chars().all(|c| c.is_alphanumeric() || c == '-'),
            "tag folder {d:?}"
        );
    }
    for d in [
        "escape",
        "a-b",
        "win",
        "tags-up",
        "nul-byte",
        "2e-2e-2fpct",
        "c-x",
        "home",
    ] {
        assert!(dirs.contains(d), "no tags/{d}/ in {dirs:?}");
    }
    let outbox = site.files("outbox");
    for k in outbox.keys() {
        let parts: Vec<&str> = k.split('/').collect();
        assert_eq!(parts.len(), 3, "outbox/<slug>/<address>.eml: {k}");
        assert!(
            parts[1].chars().all(|c| c.is_alphanumeric() || c == '-'),
            "{k}"
        );
        assert!(!parts[2].starts_with('.'), "a hidden file: {k}");
    }
    assert_eq!(
        child_names(&site, "outbox"),
        BTreeSet::from(
            ["a-b-c", "etc-passwd", "hostile", "tmp-herald-evil", "x"].map(String::from)
        )
    );
    assert!(outbox.contains_key("outbox/tmp-herald-evil/a%2Fb@example.com.eml"));

    // Only punctuation: an error naming the file and line, and nothing written at all.
    for (what, fm) in [
        ("slug", "slug: \"../..\"\n"),
        ("slug", "slug: \"/\"\n"),
        ("tag", "tags: [\"..\"]\n"),
        ("tag", "tags: [\"/\\0/\"]\n"),
        ("tag", "tags: [\"!!!\"]\n"),
    ] {
        let site = Site::fixture("hostile");
        site.write(
            "content/posts/bad.md",
            format!("---\ntitle: Bad\ndate: 2025-05-01\n{fm}---\nx\n"),
        );
        let before = tree(&temp_dir(&site));
        let run = site.run(&["publish"]).code(1);
        assert!(
            run.stderr.contains("content/posts/bad.md:4:")
                && run.stderr.contains("has no letters or digits"),
            "{what} {fm:?}: {run}"
        );
        // No feed, no mail; at most the lock file in state/.
        assert_confined(&site, &before);
        assert!(!site.exists("public") && !site.exists("outbox"), "{fm:?}");
    }
}

// --- over-long names: shortened alike everywhere, or an error before the first write ----------

/// The name herald gives a folder or file for `name` followed by `room` bytes of extension, as
/// the README says: `name` when it fits in 255 bytes, else `name` cut at a character boundary
/// (no `-` left at the cut), `-` and 16 hex digits of the SHA-256 of the whole name.
fn short_name(name: &str, room: usize) -> String {
    use sha2::{Digest, Sha256};
    let max = 255 - room;
    if name.len() <= max {
        return name.to_string();
    }
    let hash: String = Sha256::digest(name.as_bytes())
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut end = max - 17;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}-{hash}", name[..end].trim_end_matches('-'))
}

/// Asserts that no output of `run` holds any of `values` whole (each longer than 80 characters).
/// The names of the files and folders right under `dir` (a folder of the site).
fn child_names(site: &Site, dir: &str) -> BTreeSet<String> {
    let prefix = format!("{dir}/");
    site.files(dir)
        .keys()
        .filter_map(|k| k.strip_prefix(&prefix)?.split('/').next())
        .map(str::to_string)
        .collect()
}

fn assert_not_echoed(run: &crate::support::site::Run, values: &[String]) {
    for v in values.iter().filter(|v| v.chars().count() > 80) {
        let head: String = v.chars().take(20).collect();
        assert!(
            !run.stderr.contains(v.as_str()) && !run.stdout.contains(v.as_str()),
            "{head}… ({} bytes) appears whole in the output of {:?}",
            v.len(),
            run.args
        );
    }
}

/// The values of every `attr="…"` in `text`.
fn attr_values(text: &str, attr: &str) -> BTreeSet<String> {
    text.split(&format!("{attr}=\""))
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The URL of `path` under the hostile fixture's base_url, percent-encoded as in the feeds.
fn hostile_url(path: &str) -> String {
    url::Url::parse("https://hostile.example.com/")
        .unwrap()
        .join(path)
        .unwrap()
        .to_string()
}

/// The hostile fixture's config with a second list, `long`, that takes `tag` only.
fn config_with_list_of(tag: &str) -> String {
    format!(
        "site:\n  title: Hostile\n  base_url: https://hostile.example.com/\n  timezone: UTC\n\
         newsletter:\n  start: 2025-01-01\n  max_lateness: 3650d\n  \
         from: {{ name: Hostile, email: letters@hostile.example.com }}\n  transport: outbox\n  lists:\n    - id: all\n      tags: [\"*\"]\n      \
         subscribers: config/subscribers/all.csv\n    - id: long\n      tags: [\"{tag}\"]\n      \
         subscribers: config/subscribers/long.csv\n\
         serve:\n  public_url: https://hostile.example.com/herald/\n"
    )
}

#[test]
fn over_long_tags_get_one_short_stable_folder_that_every_feed_the_opml_and_lists_agree_on() {
    let site = Site::fixture("hostile");
    let shared = "e".repeat(300);
    let tags: Vec<String> = vec![
        "a".repeat(254),
        "b".repeat(255),
        "c".repeat(256),
        "d".repeat(5000),
        "夜".repeat(100),     // 300 bytes
        "港".repeat(85),      // 255 bytes: kept
        "海".repeat(86),      // 258 bytes: cut after 79 characters
        format!("{shared}1"), // two tags that share their first 300 bytes
        format!("{shared}2"),
    ];
    let list: Vec<String> = tags.iter().map(|t| format!("\"{t}\"")).collect();
    site.write(
        "content/posts/long.md",
        format!(
            "---\ntitle: Long\ndate: 2025-05-01\ntags: [{}]\n---\nx\n",
            list.join(", ")
        ),
    );
    site.write("config/herald.yaml", config_with_list_of(&tags[3]));
    site.write("config/subscribers/long.csv", "email\nlong@example.com\n");
    let run = site.run(&["publish"]).success();
    assert_not_echoed(&run, &tags);

    let want: BTreeSet<String> = tags.iter().map(|t| short_name(t, 0)).collect();
    assert_eq!(want.len(), tags.len(), "two tags share a folder");
    assert!(want.contains(&"a".repeat(254)) && want.contains(&"港".repeat(85)));
    let public = site.files("public");
    let folders = child_names(&site, "public/tags");
    assert_eq!(folders, want);
    for f in &folders {
        assert!(f.len() <= 255, "{} bytes", f.len());
        for (file, self_link) in [
            ("rss.xml", "href"),
            ("atom.xml", "href"),
            ("feed.json", "feed_url"),
        ] {
            let text = site.read(&format!("public/tags/{f}/{file}"));
            let url = hostile_url(&format!("tags/{f}/{file}"));
            let found = match self_link {
                "href" => attr_values(&text, "href").contains(&url),
                _ => site.read_json(&format!("public/tags/{f}/{file}"))["feed_url"] == url,
            };
            assert!(found, "tags/{f}/{file} does not link itself as {url}");
        }
    }
    // The OPML lists exactly the feeds written, under the same folder names.
    let written: BTreeSet<String> = public
        .keys()
        .filter_map(|k| k.strip_prefix("public/"))
        .filter(|k| *k != "feeds.opml")
        .map(hostile_url)
        .collect();
    assert_eq!(
        attr_values(&site.read("public/feeds.opml"), "xmlUrl"),
        written
    );
    // The site's Atom feed names each tag of the post by its folder name.
    let terms = attr_values(&site.read("public/atom.xml"), "term");
    assert_eq!(terms, want);
    // The list that takes the 5,000-character tag matched the post: its subscriber got it.
    let outbox = site.files("outbox");
    assert!(
        outbox.contains_key("outbox/long/long@example.com.eml"),
        "{:?}",
        outbox.keys()
    );
    // A second run (the post written again, so it is loaded again) names everything alike and
    // rewrites nothing.
    site.write(
        "content/posts/long.md",
        site.read_bytes("content/posts/long.md"),
    );
    let again = site.run(&["-v", "build"]).success();
    assert!(
        !again
            .stderr
            .contains("nothing changed since the last build"),
        "loaded again: {again}"
    );
    assert!(again.stdout.contains(" 0 files written"), "{again}");
    assert_not_echoed(&again, &tags);
    let after = site.files("public");
    assert_eq!(after, public, "a rebuild changed the feeds");
}

#[test]
fn over_long_post_slugs_get_short_outbox_folders_and_preview_files() {
    let site = Site::fixture("hostile");
    let slugs: Vec<String> = vec![
        "s".repeat(5000),
        "t".repeat(256),
        "u".repeat(255),
        "v".repeat(250),
        "夜".repeat(100),
        "港".repeat(85),
    ];
    for (i, slug) in slugs.iter().enumerate() {
        site.write(
            &format!("content/posts/p{i}.md"),
            format!(
                "---\ntitle: P{i}\ndate: 2025-05-0{}\nslug: \"{slug}\"\n---\nx\n",
                i + 1
            ),
        );
    }
    // With -v, every delivery's line names its post: cut, like every quoted value.
    let run = site.run(&["-v", "publish"]).success();
    assert!(run.stderr.contains("herald: sent "), "{run}");
    assert_not_echoed(&run, &slugs);
    let outbox = site.files("outbox");
    let folders = child_names(&site, "outbox");
    let mut want: BTreeSet<String> = slugs.iter().map(|s| short_name(s, 0)).collect();
    want.insert("hostile".into());
    assert_eq!(folders, want);
    for f in &folders {
        assert!(
            outbox.contains_key(&format!("outbox/{f}/ann@example.com.eml")),
            "{f}"
        );
    }
    // Preview files keep room for `.html`: a 250-byte slug is kept, a 255-byte one is cut,
    // and the `.eml` and the `.html` share one name.
    for slug in &slugs {
        let run = site.run(&["preview", slug]).success();
        // `wrote <path>` names a file whole, so only a slug too long to be one may not appear.
        if slug.len() > 255 {
            assert_not_echoed(&run, std::slice::from_ref(slug));
        }
        let stem = short_name(slug, ".html".len());
        assert!(
            site.exists(&format!("outbox/preview/{stem}.eml"))
                && site.exists(&format!("outbox/preview/{stem}.html")),
            "no preview named {stem}"
        );
    }
    assert!(site.exists(&format!("outbox/preview/{}.html", "v".repeat(250))));
    assert_ne!(short_name(&slugs[2], ".html".len()), slugs[2]);
}

/// An address of `len` bytes: a local part of `len - 248` letters at a 247-byte domain.
fn address_of(len: usize, letter: char, tld: &str) -> String {
    let domain = format!("{}.{tld}", vec!["d".repeat(60); 4].join("."));
    assert_eq!(domain.len(), 244 + tld.len());
    let local = letter.to_string().repeat(len - 1 - domain.len());
    format!("{local}@{domain}")
}

#[test]
fn an_address_too_long_for_a_file_name_gets_a_short_eml_file() {
    let site = Site::fixture("hostile");
    // 251 bytes and `.eml` fit; 252 do not; the last two share all but their last bytes.
    let addresses = [
        address_of(251, 'a', "com"),
        address_of(252, 'b', "com"),
        address_of(312, 'c', "com"),
        address_of(312, 'c', "org"),
    ];
    site.write(
        "config/subscribers/all.csv",
        format!(
            "email,name\nann@example.com,Ann\n{}\n",
            addresses
                .iter()
                .map(|a| format!("{a},Long"))
                .collect::<Vec<_>>()
                .join("\n")
        ),
    );
    let run = site.run(&["publish"]).success();
    assert_not_echoed(&run, &addresses);
    let got = child_names(&site, "outbox/hostile");
    let mut want: BTreeSet<String> = addresses
        .iter()
        .map(|a| format!("{}.eml", short_name(a, ".eml".len())))
        .collect();
    want.insert("ann@example.com.eml".into());
    assert_eq!(got, want);
    assert!(got.contains(&format!("{}.eml", addresses[0])));
    assert!(got.iter().all(|n| n.len() <= 255), "{got:?}");
}

/// `rel`, a relative path under the site root whose absolute form is `len` bytes long: folders
/// of 200 letters.
fn deep_dir(site: &Site, first: &str, len: usize) -> String {
    let mut rel = first.to_string();
    let abs = |rel: &str| site.root().join(rel).as_os_str().len();
    while abs(&rel) + 201 < len {
        rel.push('/');
        rel.push_str(&"o".repeat(200));
    }
    let left = len - abs(&rel) - 1;
    rel.push('/');
    rel.push_str(&"p".repeat(left));
    assert_eq!(abs(&rel), len);
    rel
}

#[test]
fn a_path_longer_than_the_platform_takes_is_an_error_before_anything_is_written() {
    // A tag folder that makes the path too long: the post's tag line; the site feeds, which
    // fit, are not written either.
    let site = Site::fixture("hostile");
    let out = deep_dir(&site, "out", 3950);
    let config = site.read("config/herald.yaml");
    site.write("config/herald.yaml", format!("output_dir: {out}\n{config}"));
    site.build();
    assert!(site.exists(&format!("{out}/rss.xml")));
    let before = tree(&temp_dir(&site));
    let tag = "t".repeat(200);
    site.write(
        "content/posts/long.md",
        format!("---\ntitle: Long\ndate: 2025-05-01\ntags: [short, \"{tag}\"]\n---\nx\n"),
    );
    let mut before_with_post = before.clone();
    before_with_post.insert(
        PathBuf::from("site/content/posts/long.md"),
        site.read_bytes("content/posts/long.md"),
    );
    for cmd in [
        &["build"][..],
        &["publish"],
        &["publish", "--dry-run"],
        &["check"],
    ] {
        let run = site.run(cmd).code(1);
        assert!(
            run.stderr
                .contains("content/posts/long.md:4: cannot write ")
                && run
                    .stderr
                    .contains("bytes long, and the system takes at most 4095"),
            "{cmd:?}: {run}"
        );
        assert_not_echoed(&run, std::slice::from_ref(&tag));
        let now = tree(&temp_dir(&site));
        let public = |t: &BTreeMap<PathBuf, Vec<u8>>| {
            t.iter()
                .filter(|(k, _)| k.starts_with("site/out") || k.starts_with("site/outbox"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<BTreeMap<_, _>>()
        };
        assert_eq!(public(&now), public(&before_with_post), "{cmd:?} wrote");
    }

    // An output_dir that is itself too long: its line in the config, and nothing written.
    let site = Site::fixture("hostile");
    let out = deep_dir(&site, "out", 4090);
    let config = site.read("config/herald.yaml");
    let line = config.lines().count() + 1;
    site.write("config/herald.yaml", format!("{config}output_dir: {out}\n"));
    let run = site.run(&["build"]).code(1);
    assert!(
        run.stderr
            .contains(&format!("config/herald.yaml:{line}: cannot write ")),
        "{run}"
    );
    assert_not_echoed(&run, std::slice::from_ref(&out));
    assert!(!site.exists("out"));

    // An outbox where the longest message would not fit: its line, before any feed is written.
    let site = Site::fixture("hostile");
    let outbox = deep_dir(&site, "box", 3700);
    let config = site.read("config/herald.yaml").replace(
        "  transport: outbox\n",
        &format!("  transport: outbox\n  outbox_dir: {outbox}\n"),
    );
    let line = config
        .lines()
        .position(|l| l.contains("outbox_dir"))
        .unwrap()
        + 1;
    site.write("config/herald.yaml", config);
    for cmd in [
        &["publish"][..],
        &["publish", "--dry-run"],
        &["preview", "hostile"],
        &["check"],
    ] {
        let run = site.run(cmd).code(1);
        assert!(
            run.stderr.contains(&format!(
                "config/herald.yaml:{line}: `newsletter.outbox_dir` cannot hold every message"
            )),
            "{run}"
        );
        assert_not_echoed(&run, std::slice::from_ref(&outbox));
        assert!(
            !site.exists("public") && !site.exists("box"),
            "{cmd:?} wrote"
        );
    }
}

// --- addresses that are not addresses ----------------------------------------------------------

const NOT_ADDRESSES: &[&str] = &[
    "plainaddress",
    "@",
    "a@",
    "@example.com",
    "a b@example.com",
    "a@b@example.com",
    "<a@example.com>",
    "Ann <ann2@example.com>",
    "a@example.com,b@example.com",
    "a@example.com;b@example.com",
    ".leading@example.com",
    "double..dot@example.com",
    "a@example..com",
    "a@-example.com",
    "mailto:a@example.com",
];

#[test]
fn addresses_that_are_not_addresses_are_reported_and_never_mailed() {
    let server = SmtpServer::start();
    let site = smtp_site("hostile", &server);
    let mut csv = String::from("email,name\nok@example.com,Ok\n");
    for a in NOT_ADDRESSES {
        csv.push_str(&format!("\"{}\",x\n", a.replace('"', "\"\"")));
    }
    let long = format!("{}@example.com", "l".repeat(300));
    csv.push_str(&format!("{long},Long\n"));
    site.write("config/subscribers/all.csv", &csv);
    let run = site.run(&["publish"]).success();
    for (i, a) in NOT_ADDRESSES.iter().enumerate() {
        let line = i + 3;
        assert!(
            run.stderr.contains(&format!(
                "config/subscribers/all.csv:{line}: row skipped: \"{a}\" is not an email address"
            )),
            "{a}: {run}"
        );
    }
    assert!(
        run.stderr.contains(&format!(
            "config/subscribers/all.csv:{}: row skipped:",
            NOT_ADDRESSES.len() + 3
        )),
        "{run}"
    );
    let to: Vec<String> = server.messages().iter().map(|m| m.to.join(",")).collect();
    assert_eq!(to, ["ok@example.com"]);
    let listed: Vec<String> = memberships(&site).into_keys().collect();
    assert_eq!(listed, ["ok@example.com"]);

    // The command line refuses them too, with exit 1.
    for a in NOT_ADDRESSES.iter().chain([&long.as_str()]) {
        let run = site
            .run(&["subscribers", "add", a, "--list", "all"])
            .code(1);
        assert!(run.stderr.contains("not an email address"), "{a}: {run}");
        site.run(&["preview", "hostile", "--to", a]).code(1);
    }
    // An import with any of them is refused whole, every bad line named.
    site.write("import.csv", &csv);
    let file = site.path("import.csv");
    let run = site
        .run(&[
            "subscribers",
            "import",
            file.to_str().unwrap(),
            "--list",
            "all",
        ])
        .code(1);
    assert_eq!(
        run.stderr.matches("import.csv:").count(),
        NOT_ADDRESSES.len() + 1,
        "{run}"
    );
    assert_eq!(server.messages().len(), 1);
}

// --- security: none, the password, tokens, the secret -----------------------------------------

#[test]
fn security_none_is_refused_for_hosts_that_are_not_loopback() {
    for host in [
        "smtp.example.com",
        "10.0.0.1",
        "192.168.1.10",
        "0.0.0.0",
        "127.0.0.1.nip.io",
        "localhost.example.com",
        "::ffff:7f00:1",
    ] {
        let site = Site::fixture("hostile");
        site.use_smtp(&format!(
            "smtp:\n  host: \"{host}\"\n  port: 2525\n  security: none\n"
        ));
        for cmd in [&["check"][..], &["publish"], &["publish", "--dry-run"]] {
            let run = site.run(cmd).code(1);
            assert!(
                run.stderr
                    .contains("`security: none` sends mail and password in clear text")
                    && run.stderr.contains(&format!("not \"{host}\""))
                    && run.stderr.contains("config/herald.yaml:"),
                "{host} {cmd:?}: {run}"
            );
        }
        assert!(!site.exists("public") && !site.exists("state") && !site.exists("outbox"));
    }
    // Loopback in every spelling is fine (`check` does not connect).
    for host in [
        "127.0.0.1",
        "127.8.9.10",
        "localhost",
        "LOCALHOST",
        "::1",
        "[::1]",
    ] {
        let site = Site::fixture("hostile");
        site.use_smtp(&format!("smtp:\n  host: \"{host}\"\n  security: none\n"));
        site.run(&["check"]).success();
    }
}

const PASSWORD: &str = "Zq9-herald-test-pw-%$!-7Kx";

/// Every form the password could leak in: plain, base64 alone (AUTH LOGIN), and base64 of the
/// AUTH PLAIN response.
fn password_forms() -> Vec<Vec<u8>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    vec![
        PASSWORD.as_bytes().to_vec(),
        b64.encode(PASSWORD).into_bytes(),
        b64.encode(format!("\0mailer\0{PASSWORD}")).into_bytes(),
        PASSWORD.to_lowercase().into_bytes(),
    ]
}

fn leaks(haystack: &[u8]) -> bool {
    password_forms()
        .iter()
        .any(|p| haystack.windows(p.len()).any(|w| w == p.as_slice()))
}

/// Runs herald with the password in the environment; returns (exit code, stdout + stderr).
fn with_password(site: &Site, args: &[&str]) -> (Option<i32>, String) {
    let run = site
        .run_env(args, &[("HERALD_SMTP_PASSWORD", PASSWORD)])
        .no_panic();
    (run.code, format!("{}{}", run.stdout, run.stderr))
}

#[test]
fn the_smtp_password_appears_in_no_output_and_no_file() {
    // tests/newsletter.rs checks the output of a normal run; this adds every way a run can go
    // wrong around the login, every command, and every byte on disk.
    let servers = [
        ("accepted", SmtpServer::start()),
        (
            "refused",
            SmtpServer::scripted(Rules::new().always(
                Stage::Auth,
                "*",
                Reply::code(535, "5.7.8 authentication failed"),
            )),
        ),
        (
            "dropped",
            SmtpServer::scripted(Rules::new().always(Stage::Auth, "*", Reply::Drop)),
        ),
    ];
    for (what, server) in &servers {
        let site = smtp_site("hostile", server);
        let config = site.read("config/herald.yaml");
        site.write(
            "config/herald.yaml",
            format!("{config}  username: mailer\n"),
        );
        let mut outputs = Vec::new();
        // A failing server makes each `publish` wait out the in-run retries (5 s): once is
        // enough there.
        let again: &[&str] = if *what == "accepted" {
            &["publish"]
        } else {
            &["status"]
        };
        for args in [
            &["-v", "publish"][..],
            again,
            &["publish", "--dry-run"],
            &["status"],
            &["status", "--json"],
            &["check"],
            &["-v", "preview", "hostile", "--to", "ann@example.com"],
            &["preview", "hostile"],
            &["subscribers", "list", "--json"],
        ] {
            let (code, out) = with_password(&site, args);
            assert!(
                !leaks(out.as_bytes()),
                "{what}: herald {args:?} printed the password:\n{out}"
            );
            outputs.push((args, code, out));
        }
        // The runs did reach the login (so the checks above saw real failures).
        assert!(
            server
                .logins()
                .iter()
                .any(|(u, p)| u == "mailer" && p == PASSWORD),
            "{what}: {:?}",
            server.logins()
        );
        if *what == "refused" {
            let (_, code, out) = &outputs[0];
            assert_ne!(*code, Some(0), "{out}");
            assert!(out.contains("535"), "{out}");
        }
        for (path, bytes) in tree(&temp_dir(&site)) {
            assert!(
                !leaks(&bytes),
                "{what}: the password is in {}",
                path.display()
            );
        }
    }
}

/// The `token=` of a message's List-Unsubscribe header.
fn token_of(bytes: &[u8]) -> String {
    let msg = MessageParser::default().parse(bytes).expect("a message");
    let value = msg
        .header_raw("List-Unsubscribe")
        .expect("List-Unsubscribe");
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .split("token=")
        .nth(1)
        .expect("a token")
        .to_string()
}

/// The token with its payload rewritten by `edit` and the original signature kept.
fn forged(token: &str, edit: impl Fn(&mut Value)) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (body, tag) = token.split_once('.').expect("payload.signature");
    let mut payload: Value = serde_json::from_slice(&b64.decode(body).unwrap()).unwrap();
    edit(&mut payload);
    let body = b64.encode(serde_json::to_vec(&payload).unwrap());
    format!("{body}.{tag}")
}

fn message_to<'a>(messages: &'a [Received], slug_title: &str, to: &str) -> &'a Received {
    messages
        .iter()
        .find(|m| {
            m.is_to(to)
                && MessageParser::default()
                    .parse(&m.data)
                    .and_then(|p| p.subject().map(|s| s == slug_title))
                    .unwrap_or(false)
        })
        .unwrap_or_else(|| panic!("no {slug_title:?} to {to}"))
}

#[test]
fn an_unsubscribe_token_unsubscribes_its_own_address_from_its_own_lists_only() {
    let server = SmtpServer::start();
    let site = smtp_site("newsletter", &server);
    site.run(&["publish"]).success();
    let messages = server.messages();
    // cara got "Soup & Bread" through `cooking` only: her token names cooking.
    let token = token_of(&message_to(&messages, "Soup & Bread", "cara@example.com").data);
    let before = memberships(&site);
    assert_eq!(before["cara@example.com"].1, ["cooking", "rust"]);
    assert_eq!(before["dan@example.com"].1, ["cooking"]);

    // The same signature over another address, other lists, more lists: refused.
    let refused = [
        forged(&token, |p| p["email"] = "dan@example.com".into()),
        forged(&token, |p| p["email"] = "CARA@example.com".into()),
        forged(&token, |p| p["lists"] = serde_json::json!(["rust"])),
        forged(&token, |p| {
            p["lists"] = serde_json::json!(["cooking", "rust"])
        }),
        forged(&token, |p| p["t"] = "c".into()),
        // A token signed by another site's secret, for the same address and list.
        {
            let other = Site::fixture("newsletter");
            other.run(&["publish"]).success();
            token_of(&other.read_bytes("outbox/soup-and-bread/cara@example.com.eml"))
        },
        format!("{token}x"),
        token.replace('.', ""),
        String::new(),
    ];
    for bad in &refused {
        let run = site.run(&["unsubscribe", bad]).no_panic();
        assert!(matches!(run.code, Some(1 | 2)), "{bad}: {run}");
        assert_eq!(memberships(&site), before, "{bad} changed a membership");
    }

    // The real token: cara leaves cooking, keeps rust; dan, on cooking too, stays.
    let run = site.run(&["unsubscribe", &token]).success();
    assert!(run.stdout.contains("cara@example.com"), "{run}");
    let after = memberships(&site);
    assert_eq!(after["cara@example.com"].1, ["rust"]);
    assert_eq!(after["cara@example.com"].0, "active");
    let mut expected = before.clone();
    expected.insert("cara@example.com".into(), after["cara@example.com"].clone());
    assert_eq!(after, expected, "anyone else changed");
}

#[test]
fn the_secret_key_is_created_0600_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::fixture("hostile");
    // Under a wide-open umask, as a careless cron set-up might have.
    site.run_after("umask 000", &["publish"]).success();
    let meta = std::fs::metadata(site.path("state/secret.key")).expect("state/secret.key");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 32);
    // The key itself is in no mail and no other file.
    let key = site.read_bytes("state/secret.key");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&key);
    for (path, bytes) in tree(&temp_dir(&site)) {
        if path.ends_with("state/secret.key") {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&b64), "{}", path.display());
        assert!(
            !bytes.windows(32).any(|w| w == key.as_slice()),
            "{}",
            path.display()
        );
    }
}

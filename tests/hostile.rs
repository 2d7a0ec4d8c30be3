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
    let public = site.files("public");
    let dirs: BTreeSet<&str> = public
        .keys()
        .filter_map(|k| k.strip_prefix("public/tags/"))
        .filter_map(|k| k.split('/').next())
        .collect();
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
    let slugs: BTreeSet<&str> = outbox
        .keys()
        .map(|k| k.split('/').nth(1).unwrap())
        .collect();
    assert_eq!(
        slugs,
        BTreeSet::from(["a-b-c", "etc-passwd", "hostile", "tmp-herald-evil", "x"])
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

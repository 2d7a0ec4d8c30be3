//! Returned mail as the site owner meets it (README "Bounces and complaints"): the real binary
//! publishes the newsletter fixture through the outbox with `newsletter.return_path` set, each
//! `.eml` then starts with its VERP `Return-Path`; the tests craft bounces and complaints for
//! those messages from `tests/fixtures/bounces/` (their placeholder token, Message-ID and
//! recipient replaced by the real ones), read them with `herald bounces import` (one file, an
//! mbox, a Maildir), and check the subscribers, `status --json`, the next publish, and that a
//! second reading changes nothing. The IMAP side runs against a real Dovecot in `.ci/run`
//! (`.ci/imap_check.sh`).
//!
//! At `NOW` the fixture mails (see `tests/newsletter.rs`): ann, bob and cara three posts each
//! (trait-objects, soup-and-bread, creme-brulee), dan two (soup-and-bread, creme-brulee).

use serde_json::Value;

use crate::support::Site;
use crate::support::site::fixtures_dir;
use crate::support::smtp::SmtpServer;

/// The fixtures' placeholders, replaced by what herald really sent.
const FIXTURE_VERP: &str = "bounces+verptokenverptokenverptokenverptoken@notes.example.com";
const FIXTURE_MESSAGE_ID: &str = "5d0f1e2a3b4c5d6e7f8091a2b3c4d5e6@notes.example.com";
const FIXTURE_RECIPIENT: &str = "ann@example.com";

/// The newsletter fixture with `return_path` set, published once at `NOW`.
fn published() -> Site {
    let site = Site::fixture("newsletter");
    let config = site.read("config/herald.yaml").replace(
        "  transport: outbox\n",
        "  transport: outbox\n  return_path: bounces@notes.example.com\n",
    );
    site.write("config/herald.yaml", config);
    site.run(&["publish"]).success();
    site
}

/// A header's value in a raw message (the first occurrence, unfolded).
fn header(raw: &str, name: &str) -> String {
    crate::support::mail::header(raw.as_bytes(), name)
}

/// The fixture `name`, made about the message herald sent to `to` for `campaign`: its VERP
/// address, Message-ID and recipient put in, and its own Message-ID made unique to
/// (fixture, campaign, address), as a relay's would be.
fn craft(site: &Site, name: &str, campaign: &str, to: &str) -> Vec<u8> {
    let sent = site.read(&format!("outbox/{campaign}/{to}.eml"));
    let verp = header(&sent, "Return-Path");
    let verp = verp.trim_start_matches('<').trim_end_matches('>');
    let id = header(&sent, "Message-ID");
    let id = id.trim_start_matches('<').trim_end_matches('>');
    let raw = std::fs::read(fixtures_dir().join("bounces").join(name)).expect("fixture");
    let text = String::from_utf8_lossy(&raw)
        .replace(FIXTURE_VERP, verp)
        .replace(FIXTURE_MESSAGE_ID, id)
        .replace(FIXTURE_RECIPIENT, to);
    own_message_id(&text, &format!("{name}.{campaign}.{to}@relay.test"))
}

/// `text` with the Message-ID of its own header replaced by `id`.
fn own_message_id(text: &str, id: &str) -> Vec<u8> {
    let mut out = String::new();
    let mut in_header = true;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            in_header = false;
        }
        if in_header && line.to_ascii_lowercase().starts_with("message-id:") {
            out.push_str(&format!("Message-ID: <{id}>\n"));
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

fn members(site: &Site) -> Value {
    site.run_json(&["subscribers", "list", "--json"])
}

/// Each subscriber's status, by address.
fn statuses(site: &Site) -> Vec<(String, String)> {
    members(site)
        .as_array()
        .expect("an array")
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap_or_default().to_lowercase(),
                m["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn status_of(site: &Site, email: &str) -> String {
    statuses(site)
        .into_iter()
        .find(|(e, _)| e == email)
        .map(|(_, s)| s)
        .unwrap_or_else(|| panic!("{email} is no subscriber"))
}

fn import(site: &Site, paths: &[&str]) -> crate::support::Run {
    let mut args: Vec<String> = vec!["bounces".into(), "import".into()];
    args.extend(paths.iter().map(|p| site.path(p).display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    site.run(&args).success()
}

/// A post due after `NOW`, on every list, with the clock moved past it.
fn another_post(site: &mut Site) {
    site.write(
        "content/posts/2025-06-10-more-soup.md",
        "---\ntitle: More Soup\ndate: 2025-06-10 08:00\ntags: [cooking, rust lang]\n---\n\nBarley, this time.\n",
    );
    site.set_now("2025-06-11T00:00:00Z");
}

#[test]
fn each_delivery_has_its_own_verp_sender_recorded_in_the_outbox() {
    let site = published();
    let mut seen = std::collections::BTreeSet::new();
    for (path, bytes) in site.files("outbox") {
        let text = String::from_utf8(bytes).expect("UTF-8 mail");
        assert!(text.starts_with("Return-Path: <bounces+"), "{path}");
        let verp = header(&text, "Return-Path");
        let token = verp
            .trim_start_matches("<bounces+")
            .trim_end_matches("@notes.example.com>");
        assert_eq!(token.len(), 36, "{path}: {verp}");
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
            "{verp}"
        );
        // The local part fits RFC 5321's 64 octets (`<` aside).
        assert!(verp.split('@').next().unwrap_or("").len() <= 65, "{verp}");
        assert!(seen.insert(token.to_string()), "{path}: token used twice");
    }
    assert_eq!(seen.len(), 11);

    // Without `return_path`, nothing changes: no Return-Path line, the envelope from `from`.
    let plain = Site::fixture("newsletter");
    plain.run(&["publish"]).success();
    let mail = plain.read("outbox/creme-brulee/ann@example.com.eml");
    assert!(!mail.contains("Return-Path"), "{mail}");
}

#[test]
fn over_smtp_each_message_leaves_from_its_verp_address() {
    let server = SmtpServer::start();
    let site = server.site("newsletter", 2, 2);
    let config = site.read("config/herald.yaml").replace(
        "  transport: smtp\n",
        "  transport: smtp\n  return_path: bounces@notes.example.com\n",
    );
    site.write("config/herald.yaml", config);
    site.run(&["publish"]).success();
    let messages = server.messages();
    assert_eq!(messages.len(), 11);
    let mut senders = std::collections::BTreeSet::new();
    for m in &messages {
        let token = m
            .from
            .strip_prefix("bounces+")
            .and_then(|f| f.strip_suffix("@notes.example.com"))
            .unwrap_or_else(|| panic!("MAIL FROM {}", m.from));
        assert_eq!(token.len(), 36, "{}", m.from);
        assert!(senders.insert(m.from.clone()), "{} twice", m.from);
        // The headers are as without VERP: From is `from`, and no Return-Path (the
        // receiving MTA adds that).
        let head = crate::support::mail::head(&m.data);
        assert!(
            head.contains("From: \"Field Notes\" <letters@notes.example.com>"),
            "{head}"
        );
        assert!(!head.contains("Return-Path"), "{head}");
    }
}

#[test]
fn a_hard_bounce_is_read_once_and_the_next_publish_skips_the_address() {
    let mut site = published();
    site.write(
        "returned/hard.eml",
        craft(&site, "dsn-hard.eml", "creme-brulee", "ann@example.com"),
    );
    let run = import(&site, &["returned/hard.eml"]);
    assert!(
        run.stdout
            .contains("1 read: 1 hard bounce; 1 address now bounced"),
        "{run}"
    );
    assert_eq!(status_of(&site, "ann@example.com"), "bounced");
    assert_eq!(status_of(&site, "bob@example.com"), "active");

    // The same report again: nothing changes, nothing is counted twice.
    let before = site.run(&["status", "--json"]).success().stdout;
    let run = import(&site, &["returned/hard.eml"]);
    assert!(run.stdout.contains("1 read: 1 read before"), "{run}");
    assert_eq!(site.run(&["status", "--json"]).success().stdout, before);
    let status = site.run_json(&["status", "--json"]);
    assert_eq!(status["bounces"]["hard"], 1, "{status}");
    let all = &status["lists"][0];
    assert_eq!(
        (&all["id"], &all["active"], &all["bounced"]),
        (&Value::from("all"), &Value::from(1), &Value::from(1)),
        "{status}"
    );

    // The next post goes to everyone but ann.
    another_post(&mut site);
    site.run(&["publish"]).success();
    let sent: Vec<String> = site.files("outbox/more-soup").into_keys().collect();
    assert_eq!(
        sent,
        [
            "outbox/more-soup/bob@example.com.eml",
            "outbox/more-soup/cara@example.com.eml",
            "outbox/more-soup/dan@example.com.eml",
        ]
    );
}

#[test]
fn an_mbox_and_a_maildir_are_read_whole_and_once() {
    let site = published();
    // An mbox: cara's three campaigns soft-bounced (mailbox full), a `From ` line inside a
    // message quoted as mboxrd does.
    let mut mbox = Vec::new();
    for campaign in ["trait-objects", "soup-and-bread", "creme-brulee"] {
        mbox.extend_from_slice(b"From MAILER-DAEMON Mon May  5 07:31:10 2025\n");
        let bounce = craft(&site, "dsn-soft.eml", campaign, "cara@example.com");
        let text = String::from_utf8_lossy(&bounce).replace(
            "Message will be deleted from queue",
            ">From now on, this message will be deleted from queue",
        );
        mbox.extend_from_slice(text.as_bytes());
        mbox.extend_from_slice(b"\n");
    }
    site.write("returned/soft.mbox", &mbox);
    // A Maildir: bob's Exim bounce, dan's complaint, ann's holiday reply, a person's letter
    // and garbage.
    site.write(
        "returned/Maildir/new/1.exim",
        craft(&site, "exim.eml", "soup-and-bread", "bob@example.com"),
    );
    site.write(
        "returned/Maildir/cur/2.arf:2,S",
        craft(
            &site,
            "arf-complaint.eml",
            "creme-brulee",
            "dan@example.com",
        ),
    );
    site.write(
        "returned/Maildir/new/3.vacation",
        craft(&site, "vacation.eml", "creme-brulee", "ann@example.com"),
    );
    site.write(
        "returned/Maildir/new/4.human",
        craft(&site, "human.eml", "trait-objects", "ann@example.com"),
    );
    site.copy_fixture_file("bounces/garbage.bin", "returned/Maildir/new/5.garbage");
    site.write(
        "returned/Maildir/tmp/6.half",
        b"Subject: still being written\n",
    );

    let run = import(&site, &["returned/soft.mbox", "returned/Maildir"]);
    assert!(
        run.stdout.contains(
            "8 read: 1 hard bounce, 3 soft bounces, 1 complaint, 1 ignored (auto-replies, delay warnings), 2 unattributable; 2 addresses now bounced, 1 address now complained"
        ),
        "{run}"
    );
    // The two messages left for a person are named, with their files.
    assert!(run.stderr.contains("4.human: unattributable"), "{run}");
    assert!(run.stderr.contains("5.garbage: unattributable"), "{run}");
    let want = [
        ("ann@example.com", "active"),
        ("bob@example.com", "bounced"),
        ("cara@example.com", "bounced"),
        ("dan@example.com", "complained"),
    ];
    for (email, status) in want {
        assert_eq!(status_of(&site, email), status, "{email}");
    }
    let status = site.run_json(&["status", "--json"]);
    let b = &status["bounces"];
    let counts: Vec<i64> = ["hard", "soft", "complaints", "ignored", "unattributable"]
        .iter()
        .map(|k| b[k].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(counts, [1, 3, 1, 1, 2], "{status}");
    let w = &b["last_30_days"];
    assert_eq!(
        (&w["sent"], &w["complaints"]),
        (&Value::from(11), &Value::from(1))
    );
    let rate = w["complaint_rate"].as_f64().expect("a rate");
    assert!((rate - 1.0 / 11.0).abs() < 1e-9, "{rate}");
    let lists: Vec<(String, i64, i64, i64)> = status["lists"]
        .as_array()
        .expect("lists")
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap_or_default().to_string(),
                l["active"].as_i64().unwrap_or(-1),
                l["bounced"].as_i64().unwrap_or(-1),
                l["complained"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        lists,
        [
            ("all".into(), 1, 1, 0),
            ("rust".into(), 0, 2, 0),
            ("cooking".into(), 0, 1, 1),
        ]
    );

    // Both again: every report was read before; nothing changes.
    let before = statuses(&site);
    let run = import(&site, &["returned/soft.mbox", "returned/Maildir"]);
    assert!(run.stdout.contains("8 read: 8 read before"), "{run}");
    assert_eq!(statuses(&site), before);
    assert_eq!(site.run_json(&["status", "--json"])["bounces"], *b);
}

#[test]
fn soft_bounces_count_only_in_a_row() {
    let site = published();
    // cara's two newest campaigns soft-bounce: two in a row, under the limit of 3.
    for campaign in ["soup-and-bread", "creme-brulee"] {
        site.write(
            &format!("returned/{campaign}.eml"),
            craft(&site, "dsn-soft.eml", campaign, "cara@example.com"),
        );
    }
    import(
        &site,
        &["returned/soup-and-bread.eml", "returned/creme-brulee.eml"],
    );
    assert_eq!(status_of(&site, "cara@example.com"), "active");
    // A limit of 2 is reached by the next soft bounce only: one already counted is not
    // counted again.
    let config = site
        .read("config/herald.yaml")
        .replace("  return_path:", "  soft_bounce_limit: 2\n  return_path:");
    site.write("config/herald.yaml", config);
    import(&site, &["returned/creme-brulee.eml"]);
    assert_eq!(status_of(&site, "cara@example.com"), "active");
    site.write(
        "returned/trait-objects.eml",
        craft(&site, "dsn-soft.eml", "trait-objects", "cara@example.com"),
    );
    import(&site, &["returned/trait-objects.eml"]);
    assert_eq!(status_of(&site, "cara@example.com"), "bounced");
    // A delay warning is no bounce.
    site.write(
        "returned/delayed.eml",
        craft(&site, "dsn-delayed.eml", "creme-brulee", "dan@example.com"),
    );
    let run = import(&site, &["returned/delayed.eml"]);
    assert!(run.stdout.contains("1 ignored"), "{run}");
    assert_eq!(status_of(&site, "dan@example.com"), "active");
}

#[test]
fn a_complaint_is_never_brought_back_by_a_csv_an_import_or_add() {
    let mut site = published();
    site.write(
        "returned/arf.eml",
        craft(
            &site,
            "arf-complaint.eml",
            "soup-and-bread",
            "dan@example.com",
        ),
    );
    import(&site, &["returned/arf.eml"]);
    assert_eq!(status_of(&site, "dan@example.com"), "complained");

    // The list's CSV changes (and still names dan): merged, dan skipped.
    site.write(
        "config/subscribers/cooking.csv",
        "email,name\ncara@example.com,Cara\ndan@example.com,Dan\neve@example.com,Eve\n",
    );
    another_post(&mut site);
    site.run(&["publish"]).success();
    assert_eq!(status_of(&site, "dan@example.com"), "complained");
    assert!(!site.exists("outbox/more-soup/dan@example.com.eml"));
    assert!(site.exists("outbox/more-soup/eve@example.com.eml"));

    let run = site
        .run(&["subscribers", "add", "dan@example.com", "--list", "cooking"])
        .code(1);
    assert!(
        run.stderr
            .contains("dan@example.com reported this site's mail as spam"),
        "{run}"
    );
    site.write("people.csv", "email,name\ndan@example.com,Dan\n");
    let people = site.path("people.csv");
    let run = site
        .run(&[
            "subscribers",
            "import",
            people.to_str().expect("UTF-8 path"),
            "--list",
            "all",
        ])
        .success();
    assert!(run.stdout.contains("1 skipped"), "{run}");
    assert_eq!(status_of(&site, "dan@example.com"), "complained");
}

#[test]
fn without_a_token_a_report_is_attributed_by_message_id_or_recipient() {
    let site = published();
    // The VERP address gone (a relay that rewrote it): dsn-hard still has the original's
    // Message-ID; Gmail's text has only the recipient.
    let strip = |bytes: Vec<u8>| -> Vec<u8> {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let verp = text
            .lines()
            .find_map(|l| l.strip_prefix("To: "))
            .unwrap_or_default()
            .trim()
            .to_string();
        text.replace(&verp, "bounces@notes.example.com")
            .into_bytes()
    };
    site.write(
        "returned/by-id.eml",
        strip(craft(
            &site,
            "dsn-hard.eml",
            "trait-objects",
            "bob@example.com",
        )),
    );
    site.write(
        "returned/by-rcpt.eml",
        strip(craft(
            &site,
            "gmail.eml",
            "creme-brulee",
            "cara@example.com",
        )),
    );
    assert!(!site.read("returned/by-id.eml").contains("bounces+"));
    let run = site
        .run(&[
            "-v",
            "bounces",
            "import",
            site.path("returned/by-id.eml").to_str().expect("UTF-8"),
            site.path("returned/by-rcpt.eml").to_str().expect("UTF-8"),
        ])
        .success();
    assert!(
        run.stderr
            .contains("hard bounce 5.1.1 for bob@example.com (trait-objects)"),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("hard bounce 5.0.0 for cara@example.com (creme-brulee)"),
        "{run}"
    );
    assert_eq!(status_of(&site, "bob@example.com"), "bounced");
    assert_eq!(status_of(&site, "cara@example.com"), "bounced");
}

#[test]
fn what_names_nobody_changes_nobody() {
    let site = published();
    let before = statuses(&site);
    // The fixture's own placeholder token: token-shaped, and no token of this site.
    site.copy_fixture_file("bounces/dsn-hard.eml", "returned/forged.eml");
    // A bounce without a token, for an address herald never mailed, of a message it never
    // sent.
    let qmail = std::fs::read(fixtures_dir().join("bounces/qmail.eml")).expect("fixture");
    site.write(
        "returned/stranger.eml",
        String::from_utf8_lossy(&qmail)
            .replace(FIXTURE_VERP, "bounces@notes.example.com")
            .replace(FIXTURE_RECIPIENT, "stranger@example.com"),
    );
    site.copy_fixture_file("bounces/invalid-utf8.eml", "returned/latin1.eml");
    site.copy_fixture_file("bounces/garbage.bin", "returned/garbage.bin");
    site.write("returned/empty.eml", b"");
    site.write(
        "returned/crlf.eml",
        b"\r\n\r\n\r\nFrom: \r\n\r\n\0\0\xff".as_slice(),
    );
    let run = import(
        &site,
        &[
            "returned/forged.eml",
            "returned/stranger.eml",
            "returned/latin1.eml",
            "returned/garbage.bin",
            "returned/empty.eml",
            "returned/crlf.eml",
        ],
    );
    assert!(run.stdout.contains("6 read: 6 unattributable"), "{run}");
    assert!(
        run.stderr
            .contains("forged.eml: unattributable 5.1.1: its VERP token is not this site's"),
        "{run}"
    );
    assert_eq!(statuses(&site), before);
    let status = site.run_json(&["status", "--json"]);
    assert_eq!(status["bounces"]["unattributable"], 6, "{status}");
}

#[test]
fn unreadable_paths_are_errors_that_name_them() {
    let site = published();
    let missing = site.path("returned/missing.eml");
    let run = site
        .run(&["bounces", "import", missing.to_str().expect("UTF-8")])
        .code(1);
    assert!(run.stderr.contains("missing.eml"), "{run}");
    site.write("returned/plain/a.eml", "Subject: x\n\n");
    let folder = site.path("returned/plain");
    let run = site
        .run(&["bounces", "import", folder.to_str().expect("UTF-8")])
        .code(1);
    assert!(
        run.stderr
            .contains("returned/plain: a folder, and no Maildir"),
        "{run}"
    );
    let run = site.run(&["bounces", "fetch"]).code(1);
    assert!(run.stderr.contains("no `newsletter.bounces.imap`"), "{run}");
    let run = site.run_bare(&["bounces", "import"]).code(2);
    assert!(run.stderr.contains("PATH"), "{run}");
}

#[test]
fn an_unreachable_mailbox_is_a_warning_and_publish_goes_on() {
    // A port on loopback where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut site = published();
    let config = site.read("config/herald.yaml").replace(
        "  return_path:",
        &format!(
            "  bounces:\n    imap: {{ host: 127.0.0.1, port: {port}, security: none, username: bounces, timeout_secs: 5 }}\n  return_path:"
        ),
    );
    site.write("config/herald.yaml", config);
    another_post(&mut site);
    let run = site
        .run_env(
            &["-q", "publish"],
            &[("HERALD_IMAP_PASSWORD", "not-this-one-1f3a")],
        )
        .success();
    assert!(
        run.stderr.contains(&format!(
            "warning: returned mail not read: IMAP 127.0.0.1:{port}: connecting"
        )),
        "{run}"
    );
    assert!(!run.stderr.contains("not-this-one-1f3a"), "{run}");
    assert!(site.exists("outbox/more-soup/ann@example.com.eml"));
    // Without the password variable: a warning naming the variable, never a value.
    let run = site.run(&["bounces", "fetch"]).code(1);
    assert!(
        run.stderr
            .contains("the environment variable HERALD_IMAP_PASSWORD is not set"),
        "{run}"
    );
}

#[test]
fn the_bounce_settings_are_checked() {
    let site = Site::fixture("newsletter");
    let config = site.read("config/herald.yaml").replace(
        "  transport: outbox\n",
        "  transport: outbox\n  return_path: a-very-long-local-part-for-bounces@notes.example.com\n  soft_bounce_limit: 0\n  bounces:\n    imap: { host: imap.example.com, security: none, username: '', processed_folder: INBOX }\n",
    );
    site.write("config/herald.yaml", config);
    let run = site.run(&["check"]).code(1);
    for want in [
        "herald.yaml:17: the local part of `return_path`",
        "herald.yaml:18: `newsletter.soft_bounce_limit` must be between 1 and 100",
        "herald.yaml:20: `security: none` sends the mailbox's password in clear text",
        "`newsletter.bounces.imap.username` must be one non-empty line",
        "`processed_folder` must differ from `folder`",
    ] {
        assert!(run.stderr.contains(want), "{want}\n{run}");
    }
}

//! `herald serve` over real HTTP (README "The web endpoint"): the real binary on
//! `127.0.0.1:0` (the port is read from its "listening on" log line), driven with reqwest.
//!
//! Serve's clock starts at the site's `--now` and ticks, so tokens made here with the
//! library (and the site's `state/secret.key`) expire relative to `NOW`, not to the machine's
//! clock. Membership is read back through `herald::state::Db`, the same code `publish` uses.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald::state::subscribers::{Member, Source};
use herald::state::tokens::{self, Confirm};
use herald::state::{Db, MemberStatus};
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};

use crate::support::{NOW, Site};

/// Where links in mails point (`serve.public_url` of the test sites): a path prefix, as
/// behind a reverse proxy.
const PUBLIC: &str = "https://news.example.com/herald/";

/// The example site with `serve:` settings added.
fn site_with(serve: &str) -> Site {
    let site = Site::example();
    let mut config = site.read("config/herald.yaml");
    config.push_str(&format!("serve:\n  public_url: {PUBLIC}\n{serve}"));
    site.write("config/herald.yaml", config);
    site
}

fn site() -> Site {
    site_with("")
}

/// A running `herald serve`; SIGKILLed if a test fails before it stops it.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(site: &Site) -> Server {
        let mut cmd = site.command(&["serve", "--listen", "127.0.0.1:0"]);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start herald serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let lines = log.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split('/').next().unwrap_or("").to_string();
                    let _ = tx.send(addr);
                }
                lines.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "herald serve did not start:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        };
        Server {
            child,
            base: format!("http://{addr}/"),
            log,
            reader: Some(reader),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    /// A link from a mail, pointed at this server instead of the public URL.
    fn local(&self, link: &str) -> String {
        let rest = link
            .strip_prefix(PUBLIC)
            .unwrap_or_else(|| panic!("{link} does not start with {PUBLIC}"));
        self.url(rest)
    }

    fn addr(&self) -> String {
        self.base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string()
    }

    fn terminate(&self) {
        let ok = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -TERM failed");
    }

    /// SIGTERM, then the exit code and every log line.
    fn stop(mut self) -> (Option<i32>, String) {
        self.terminate();
        let code = self.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let log = self.log.lock().unwrap().join("\n");
        (code, log)
    }

    fn wait(&mut self) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "herald serve did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

fn text(r: Response) -> (StatusCode, String) {
    let status = r.status();
    (status, r.text().expect("body"))
}

fn sign_up(c: &Client, server: &Server, fields: &[(&str, &str)]) -> (StatusCode, String) {
    text(
        c.post(server.url("subscribe"))
            .form(fields)
            .send()
            .expect("POST /subscribe"),
    )
}

/// The confirmation link mailed to `email` (from the outbox).
fn confirm_link(site: &Site, email: &str) -> String {
    let raw = site.read_bytes(&format!("outbox/confirm/{}.eml", email.to_lowercase()));
    let msg = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("parse the confirmation mail");
    let body = msg.body_text(0).expect("a text part").to_string();
    let start = body
        .find(PUBLIC)
        .unwrap_or_else(|| panic!("no link to {PUBLIC} in:\n{body}"));
    body[start..]
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

fn token_of(link: &str) -> String {
    link.split_once("token=")
        .map(|(_, t)| t.to_string())
        .unwrap_or_else(|| panic!("no token in {link}"))
}

fn members(site: &Site) -> Vec<Member> {
    Db::open(&site.path("state"))
        .expect("open the state")
        .members(None, None)
        .expect("members")
}

fn member(site: &Site, email: &str) -> Option<Member> {
    members(site)
        .into_iter()
        .find(|m| m.email.eq_ignore_ascii_case(email))
}

/// The unsubscribe token of `email`'s subscriber, as a mail would carry it.
fn unsubscribe_token(site: &Site, secret: &[u8; 32], email: &str, lists: &[String]) -> String {
    let key = Db::open(&site.path("state"))
        .unwrap()
        .key_of(email)
        .unwrap()
        .unwrap_or_else(|| "no-such-subscriber".into());
    tokens::sign_unsubscribe(secret, &key, lists)
}

fn secret(site: &Site) -> [u8; 32] {
    herald::state::secret::load_or_create(&site.path("state")).expect("secret")
}

fn now_secs() -> i64 {
    chrono::DateTime::parse_from_rfc3339(NOW)
        .expect("NOW")
        .timestamp()
}

/// `POST` the confirmation form with `token`.
fn post_confirm(c: &Client, server: &Server, token: &str) -> (StatusCode, String) {
    text(
        c.post(server.url("confirm"))
            .form(&[("token", token)])
            .send()
            .expect("POST /confirm"),
    )
}

/// Sends raw bytes and reads the whole answer (for paths a client library would normalise).
fn raw_request(addr: &str, request: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    s.write_all(request.as_bytes()).expect("write");
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn healthz_answers_ok_and_each_request_is_logged_once() {
    let site = site();
    let server = Server::start(&site);
    let c = client();
    let (status, body) = text(c.get(server.url("healthz")).send().unwrap());
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.trim(), "ok");
    let (status, _) = text(
        c.get(server.url("unsubscribe?token=secret-looking-value"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (code, log) = server.stop();
    assert_eq!(code, Some(0), "{log}");
    let requests: Vec<&str> = log.lines().filter(|l| l.contains(" /")).collect();
    assert_eq!(requests.len(), 2, "{log}");
    assert!(
        requests[0].starts_with("herald: GET /healthz 200 "),
        "{log}"
    );
    assert!(requests[0].ends_with("ms"), "{log}");
    assert!(
        requests[1].starts_with("herald: GET /unsubscribe 400 "),
        "{log}"
    );
    assert!(
        !log.contains("secret-looking-value"),
        "the query string was logged:\n{log}"
    );
}

#[test]
fn sign_up_mails_a_link_that_confirms_into_the_chosen_lists() {
    let site = site();
    let server = Server::start(&site);
    let c = client();

    let (status, form) = text(c.get(server.url("subscribe")).send().unwrap());
    assert_eq!(status, StatusCode::OK);
    for id in ["all", "growth", "conversion"] {
        assert!(
            form.contains(&format!("name=\"list\" value=\"{id}\"")),
            "no checkbox for {id}:\n{form}"
        );
    }
    assert!(form.contains("name=\"website\""), "no honeypot field");
    assert!(
        form.contains("<title>Subscribe · LeadCraftr</title>"),
        "{form}"
    );
    assert!(!form.contains("<script"), "pages need no JavaScript");

    let (status, page) = sign_up(
        &c,
        &server,
        &[
            ("email", "Ann@Example.com"),
            ("name", "Ann"),
            ("list", ""),
            ("list", "growth"),
            ("list", "conversion"),
            ("website", ""),
        ],
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Check your inbox"), "{page}");
    assert_eq!(
        member(&site, "ann@example.com").map(|m| m.status),
        Some(MemberStatus::Pending)
    );

    let link = confirm_link(&site, "ann@example.com");
    assert!(
        link.starts_with(&format!("{PUBLIC}confirm?token=")),
        "{link}"
    );
    let token = token_of(&link);

    // Opening the link (as a mail scanner would) changes nothing: it shows one button.
    let (status, page) = text(c.get(server.local(&link)).send().unwrap());
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Yes, subscribe me"), "{page}");
    assert!(
        page.contains(&format!("value=\"{token}\"")),
        "the button carries the token"
    );
    assert!(
        page.contains("Business growth") && page.contains("Conversion rate"),
        "{page}"
    );
    assert_eq!(
        member(&site, "ann@example.com").map(|m| m.status),
        Some(MemberStatus::Pending)
    );

    let (status, page) = post_confirm(&c, &server, &token);
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("You’re subscribed"), "{page}");
    let ann = member(&site, "ann@example.com").expect("ann is a member");
    assert_eq!(ann.status, MemberStatus::Active);
    assert_eq!(
        ann.lists,
        vec!["conversion", "growth"],
        "exactly the lists ticked"
    );
    assert_eq!(ann.name, "Ann");

    // Single use.
    let (status, page) = post_confirm(&c, &server, &token);
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("already used"), "{page}");

    let (code, log) = server.stop();
    assert_eq!(code, Some(0));
    assert!(log.contains("herald: POST /confirm 400 "), "{log}");
    assert!(
        !log.contains(&token[..40]),
        "a token reached the log:\n{log}"
    );
}

#[test]
fn a_bare_form_gets_the_first_list_and_unticking_every_list_is_an_error() {
    let site = site();
    let server = Server::start(&site);
    let c = client();
    // A `<form>` pasted into a blog sends just the address.
    let (status, _) = sign_up(&c, &server, &[("email", "bare@example.com")]);
    assert_eq!(status, StatusCode::OK);
    let (status, _) = post_confirm(
        &c,
        &server,
        &token_of(&confirm_link(&site, "bare@example.com")),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        member(&site, "bare@example.com").unwrap().lists,
        vec!["all"]
    );

    let (status, page) = sign_up(&c, &server, &[("email", "none@example.com"), ("list", "")]);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Choose at least one list"), "{page}");
    assert!(
        page.contains("value=\"none@example.com\""),
        "the form keeps what was typed"
    );
    assert!(!site.exists("outbox/confirm/none@example.com.eml"));
}

#[test]
fn the_answer_is_the_same_whatever_the_address_state() {
    let site = site();
    let server = Server::start(&site);
    let c = client();
    let fields = [("email", "same@example.com"), ("list", ""), ("list", "all")];
    let (_, new) = sign_up(&c, &server, &fields);
    let (_, pending) = sign_up(&c, &server, &fields);
    assert_eq!(
        post_confirm(
            &c,
            &server,
            &token_of(&confirm_link(&site, "same@example.com"))
        )
        .0,
        StatusCode::OK
    );
    let (_, active) = sign_up(&c, &server, &fields);
    assert_eq!(
        member(&site, "same@example.com").unwrap().status,
        MemberStatus::Active,
        "signing up again changes nothing"
    );
    let unsub = unsubscribe_token(&site, &secret(&site), "same@example.com", &["all".into()]);
    let r = c
        .post(server.url("unsubscribe"))
        .form(&[("token", unsub.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (status, unsubscribed) = sign_up(&c, &server, &fields);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(new, pending);
    assert_eq!(new, active);
    assert_eq!(new, unsubscribed);
    // An address that unsubscribed comes back only through the new confirmation.
    assert_eq!(
        member(&site, "same@example.com").unwrap().status,
        MemberStatus::Unsubscribed
    );
    assert_eq!(
        post_confirm(
            &c,
            &server,
            &token_of(&confirm_link(&site, "same@example.com"))
        )
        .0,
        StatusCode::OK
    );
    let m = member(&site, "same@example.com").unwrap();
    assert_eq!(
        (m.status.as_str(), m.lists),
        ("active", vec!["all".to_string()])
    );
}

#[test]
fn expired_forged_and_foreign_tokens_get_a_clear_400() {
    let site = site();
    let server = Server::start(&site);
    let c = client();
    let key = secret(&site);
    let confirm = |expires: i64| Confirm {
        email: "late@example.com".into(),
        name: String::new(),
        lists: vec!["all".into()],
        expires,
        nonce: tokens::nonce(),
    };

    let expired = tokens::sign_confirm(&key, &confirm(now_secs() - 60));
    let (status, page) = text(
        c.get(server.url(&format!("confirm?token={expired}")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("This link has expired"), "{page}");
    let (status, page) = post_confirm(&c, &server, &expired);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("This link has expired"), "{page}");

    let good = tokens::sign_confirm(&key, &confirm(now_secs() + 3600));
    let forged = tokens::sign_confirm(&[7; 32], &confirm(now_secs() + 3600));
    let (body, tag) = good.split_once('.').unwrap();
    let altered = format!(
        "{body}.{}{}",
        if tag.starts_with('A') { "B" } else { "A" },
        &tag[1..]
    );
    let unsubscribe = unsubscribe_token(&site, &key, "late@example.com", &["all".into()]);
    for bad in [
        forged.as_str(),
        altered.as_str(),
        unsubscribe.as_str(),
        "garbage",
        "",
    ] {
        let (status, page) = post_confirm(&c, &server, bad);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {page}");
        assert!(page.contains("This link does not work"), "{bad}: {page}");
        let (status, _) = text(
            c.get(server.url(&format!("confirm?token={bad}")))
                .send()
                .unwrap(),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "GET {bad}");
    }
    assert!(
        member(&site, "late@example.com").is_none(),
        "nothing was confirmed"
    );
    // The genuine one still works.
    assert_eq!(post_confirm(&c, &server, &good).0, StatusCode::OK);
    assert_eq!(
        member(&site, "late@example.com").unwrap().status,
        MemberStatus::Active
    );
}

#[test]
fn unsubscribe_by_page_leaves_the_other_lists() {
    let site = site();
    let db = Db::open(&site.path("state")).unwrap();
    db.add_member("bob@example.com", "Bob", "all", Source::Cli, 1)
        .unwrap();
    db.add_member("bob@example.com", "Bob", "growth", Source::Cli, 1)
        .unwrap();
    drop(db);
    let server = Server::start(&site);
    let c = client();
    let token = unsubscribe_token(&site, &secret(&site), "bob@example.com", &["growth".into()]);

    let (status, page) = text(
        c.get(server.url(&format!("unsubscribe?token={token}")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("bob@example.com") && page.contains("<li>Business growth</li>"),
        "{page}"
    );
    assert!(
        page.contains("<button type=\"submit\">Unsubscribe</button>"),
        "{page}"
    );
    assert_eq!(
        member(&site, "bob@example.com").unwrap().lists,
        vec!["all", "growth"],
        "GET changes nothing"
    );

    let (status, page) = text(
        c.post(server.url("unsubscribe"))
            .form(&[("token", token.as_str())])
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("You’re unsubscribed"), "{page}");
    let bob = member(&site, "bob@example.com").unwrap();
    assert_eq!(
        (bob.status.as_str(), bob.lists),
        ("active", vec!["all".to_string()])
    );

    let forged = unsubscribe_token(&site, &[1; 32], "bob@example.com", &["all".into()]);
    let (status, page) = text(
        c.post(server.url("unsubscribe"))
            .form(&[("token", forged.as_str())])
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("This link does not work"), "{page}");
    assert_eq!(
        member(&site, "bob@example.com").unwrap().status,
        MemberStatus::Active
    );
}

#[test]
fn one_click_unsubscribe_answers_200_without_a_page() {
    let site = site();
    let db = Db::open(&site.path("state")).unwrap();
    for who in ["carol@example.com", "dave@example.com"] {
        db.add_member(who, "", "all", Source::Cli, 1).unwrap();
    }
    drop(db);
    let server = Server::start(&site);
    let c = client();
    let key = secret(&site);

    // RFC 8058: POST to the List-Unsubscribe URL, urlencoded...
    let carol = unsubscribe_token(&site, &key, "carol@example.com", &["all".into()]);
    let r = c
        .post(server.url(&format!("unsubscribe?token={carol}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    let (status, body) = text(r);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, "", "one-click gets no page");
    assert_eq!(
        member(&site, "carol@example.com").unwrap().status,
        MemberStatus::Unsubscribed
    );

    // ...or multipart/form-data.
    let dave = unsubscribe_token(&site, &key, "dave@example.com", &["all".into()]);
    let body = "--b0undary\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--b0undary--\r\n";
    let r = c
        .post(server.url(&format!("unsubscribe?token={dave}")))
        .header("content-type", "multipart/form-data; boundary=b0undary")
        .body(body)
        .send()
        .unwrap();
    let (status, body) = text(r);
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert_eq!(
        member(&site, "dave@example.com").unwrap().status,
        MemberStatus::Unsubscribed
    );

    // Applying it twice is harmless.
    let r = c
        .post(server.url(&format!("unsubscribe?token={dave}")))
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn too_many_sign_ups_from_one_client_get_429() {
    let site = site_with("  subscribe_per_hour: 2\n");
    let server = Server::start(&site);
    let c = client();
    assert_eq!(
        sign_up(&c, &server, &[("email", "a@example.com")]).0,
        StatusCode::OK
    );
    // Invalid attempts count too.
    assert_eq!(
        sign_up(&c, &server, &[("email", "not an address")]).0,
        StatusCode::BAD_REQUEST
    );
    let r = c
        .post(server.url("subscribe"))
        .header("x-forwarded-for", "198.51.100.9")
        .form(&[("email", "c@example.com")])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(r.headers().get("retry-after").is_some());
    let body = r.text().unwrap();
    assert!(body.contains("Too many sign-ups"), "{body}");
    assert!(!site.exists("outbox/confirm/c@example.com.eml"));
    // Only POST /subscribe is limited.
    assert_eq!(
        c.get(server.url("subscribe")).send().unwrap().status(),
        StatusCode::OK
    );
}

#[test]
fn behind_a_trusted_proxy_the_client_is_the_forwarded_address() {
    let site = site_with("  subscribe_per_hour: 1\n  trust_proxy: true\n");
    let server = Server::start(&site);
    let c = client();
    let from = |ip: &str, email: &str| {
        c.post(server.url("subscribe"))
            .header("x-forwarded-for", format!("10.9.9.9, {ip}"))
            .form(&[("email", email)])
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(from("203.0.113.1", "a@example.com"), StatusCode::OK);
    assert_eq!(
        from("203.0.113.1", "b@example.com"),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(from("203.0.113.2", "b@example.com"), StatusCode::OK);
}

#[test]
fn hostile_input_is_escaped_and_never_reaches_a_header() {
    let site = site();
    let server = Server::start(&site);
    let c = client();
    let script = "<script>alert(1)</script>";

    let (status, page) = sign_up(&c, &server, &[("email", script), ("name", script)]);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("is not an email address"), "{page}");
    assert!(!page.contains("<script"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );

    let quoted = "\"<script>alert(1)</script>\"@example.com";
    let (_, page) = sign_up(&c, &server, &[("email", quoted), ("name", script)]);
    assert!(!page.contains("<script"), "{page}");

    let name = "Eve\r\nBcc: victim@example.org <script>";
    let (status, page) = sign_up(&c, &server, &[("email", "eve@example.com"), ("name", name)]);
    assert_eq!(status, StatusCode::OK, "{page}");
    let raw = site.read("outbox/confirm/eve@example.com.eml");
    let headers = raw.split("\r\n\r\n").next().unwrap();
    assert!(
        !headers
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
        "{headers}"
    );
    let msg = mail_parser::MessageParser::default()
        .parse(raw.as_bytes())
        .unwrap();
    let html = msg.body_html(0).unwrap();
    assert!(!html.contains("<script"), "{html}");

    // The name comes back on the confirm page, escaped.
    let link = confirm_link(&site, "eve@example.com");
    let (_, page) = text(c.get(server.local(&link)).send().unwrap());
    assert!(!page.contains("<script"), "{page}");
}

#[test]
fn feeds_have_their_types_validators_and_gzip() {
    let site = site();
    site.build();
    let server = Server::start(&site);
    let c = client();
    let tag_feed = site
        .files("public/tags")
        .into_keys()
        .find(|k| k.ends_with("/rss.xml"))
        .expect("a tag feed")
        .trim_start_matches("public/")
        .to_string();
    let cases = [
        ("rss.xml", "application/rss+xml; charset=utf-8"),
        ("atom.xml", "application/atom+xml; charset=utf-8"),
        ("feed.json", "application/feed+json; charset=utf-8"),
        ("feeds.opml", "text/x-opml; charset=utf-8"),
        (tag_feed.as_str(), "application/rss+xml; charset=utf-8"),
    ];
    for (path, ctype) in cases {
        let file = site.read_bytes(&format!("public/{path}"));
        let r = c.get(server.url(path)).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        assert_eq!(r.headers()["content-type"], ctype, "{path}");
        assert!(
            r.headers().get("content-encoding").is_none(),
            "no gzip unless asked"
        );
        let etag = r.headers()["etag"].to_str().unwrap().to_string();
        let modified = r.headers()["last-modified"].to_str().unwrap().to_string();
        assert_eq!(r.bytes().unwrap().as_ref(), file.as_slice(), "{path}");

        let r = c
            .get(server.url(path))
            .header("if-none-match", &etag)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
        assert!(r.bytes().unwrap().is_empty());
        let r = c
            .get(server.url(path))
            .header("if-modified-since", &modified)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{path}");
        let r = c
            .get(server.url(path))
            .header("if-none-match", "\"something-else\"")
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");

        let r = c
            .get(server.url(path))
            .header("accept-encoding", "gzip, br")
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-encoding"], "gzip", "{path}");
        assert_eq!(r.headers()["vary"], "Accept-Encoding");
        let gz_etag = r.headers()["etag"].to_str().unwrap().to_string();
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(r.bytes().unwrap().as_ref())
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(plain, file, "{path}");
        let r = c
            .get(server.url(path))
            .header("accept-encoding", "gzip")
            .header("if-none-match", &gz_etag)
            .send()
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    // An unchanged rebuild keeps the validators: readers keep getting 304.
    let etag = c.get(server.url("rss.xml")).send().unwrap().headers()["etag"].clone();
    site.build();
    let r = c
        .get(server.url("rss.xml"))
        .header("if-none-match", etag)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);

    let r = c.head(server.url("atom.xml")).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.bytes().unwrap().is_empty());
    assert_eq!(
        c.get(server.url("nothing-here.xml"))
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    let (status, index) = text(c.get(server.url("")).send().unwrap());
    assert_eq!(status, StatusCode::OK);
    assert!(
        index.contains("href=\"rss.xml\"") && index.contains("href=\"subscribe\""),
        "{index}"
    );
    assert_eq!(
        c.post(server.url("rss.xml")).send().unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[test]
fn no_path_leaves_the_output_dir() {
    let site = site();
    site.build();
    site.write("public/../outside.txt", "outside");
    let server = Server::start(&site);
    // The secret exists once serve has started.
    assert!(site.exists("state/secret.key"));
    for path in [
        "/../config/herald.yaml",
        "/%2e%2e/config/herald.yaml",
        "/..%2fstate%2fsecret.key",
        "/tags/..%2F..%2Fstate/secret.key",
        "/%2E%2E/outside.txt",
        "/..\\outside.txt",
        "/.herald-x.tmp",
        "//etc/passwd",
    ] {
        let answer = raw_request(
            &server.addr(),
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        );
        let status = answer.split_whitespace().nth(1).unwrap_or("");
        assert!(status == "404" || status == "400", "{path}: {answer}");
        assert!(
            !answer.contains("outside")
                && !answer.contains("base_url")
                && !answer.contains("root:"),
            "{path}: {answer}"
        );
    }
}

#[test]
fn bodies_over_16_kib_are_refused() {
    let site = site();
    let server = Server::start(&site);
    let c = client();
    let big = "x".repeat(20 * 1024);
    let r = c
        .post(server.url("subscribe"))
        .form(&[("email", "a@example.com"), ("name", big.as_str())])
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!site.exists("outbox/confirm/a@example.com.eml"));
    // Without a Content-Length (chunked), too.
    let chunked = reqwest::blocking::Body::new(std::io::Cursor::new(format!(
        "email=a%40example.com&name={big}"
    )));
    let r = c
        .post(server.url("unsubscribe"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(chunked)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[test]
fn a_site_without_a_newsletter_serves_only_files() {
    let site = Site::fixture("basic");
    site.build();
    let server = Server::start(&site);
    let c = client();
    let (status, page) = text(c.get(server.url("subscribe")).send().unwrap());
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(page.contains("No newsletter here"), "{page}");
    assert_eq!(
        c.post(server.url("subscribe"))
            .form(&[("email", "a@example.com")])
            .send()
            .unwrap()
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(server.url("rss.xml")).send().unwrap().status(),
        StatusCode::OK
    );
}

#[test]
fn the_site_template_shapes_the_pages() {
    let site = site();
    site.write(
        "templates/page.html.hbs",
        "<!DOCTYPE html><p class=custom>{{kind}}: {{title}} for {{site.title}}</p>\n",
    );
    let server = Server::start(&site);
    let (_, page) = text(client().get(server.url("subscribe")).send().unwrap());
    assert_eq!(
        page,
        "<!DOCTYPE html><p class=custom>subscribe: Subscribe for LeadCraftr</p>\n"
    );
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let site = site();
    let server = Server::start(&site);
    let body = "email=slow%40example.com&list=all";
    let (first, rest) = body.split_at(10);
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "POST /subscribe HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    s.flush().unwrap();
    // Time for serve to read the headers: from then on the request is in flight.
    std::thread::sleep(Duration::from_millis(500));
    server.terminate();
    std::thread::sleep(Duration::from_millis(500));
    let mut server = server;
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "serve exited with a request in flight"
    );
    s.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("Check your inbox"), "{answer}");
    assert_eq!(server.wait(), Some(0));
    assert!(site.exists("outbox/confirm/slow@example.com.eml"));
    // Nothing listens any more.
    assert!(TcpStream::connect(server.addr()).is_err());
}

#[test]
fn publish_runs_while_serve_writes() {
    // A post is due and after `newsletter.start`, so publish writes the journal too.
    let site = site_with("  subscribe_per_hour: 0\n").at("2026-12-01T00:00:00Z");
    site.build();
    let server = Server::start(&site);
    let count = 12;
    let signups = std::thread::scope(|scope| {
        let signer = scope.spawn(|| {
            let c = client();
            let mut statuses = Vec::new();
            for i in 0..count {
                let email = format!("reader{i}@example.com");
                statuses.push(sign_up(&c, &server, &[("email", &email), ("list", "all")]).0);
                let token = token_of(&confirm_link(&site, &email));
                statuses.push(post_confirm(&c, &server, &token).0);
            }
            statuses
        });
        let runs: Vec<_> = (0..3).map(|_| site.run(&["publish"])).collect();
        for run in runs {
            assert!(
                matches!(run.code, Some(0)),
                "publish failed while serve wrote:\n{run}"
            );
        }
        signer.join().expect("sign-up thread")
    });
    assert!(signups.iter().all(|s| *s == StatusCode::OK), "{signups:?}");
    let active = members(&site)
        .into_iter()
        .filter(|m| m.email.starts_with("reader") && m.status == MemberStatus::Active)
        .count();
    assert_eq!(active, count, "every confirmed sign-up was kept");
    let (code, log) = server.stop();
    assert_eq!(code, Some(0));
    assert!(!log.contains(" 500 "), "{log}");
    // The next publish mails the due post to nobody twice and keeps working.
    site.run(&["publish"]).success();
}

#[test]
fn without_a_public_url_links_point_at_the_server_itself() {
    let site = Site::example();
    let server = Server::start(&site);
    let c = client();
    assert_eq!(
        sign_up(&c, &server, &[("email", "local@example.com")]).0,
        StatusCode::OK
    );
    let raw = site.read_bytes("outbox/confirm/local@example.com.eml");
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    let body = msg.body_text(0).unwrap().to_string();
    let link = body
        .split_whitespace()
        .find(|w| w.contains("/confirm?token="))
        .unwrap_or_else(|| panic!("no link in {body}"));
    assert!(
        link.starts_with(&format!("{}confirm?token=", server.base)),
        "{link}"
    );
    let (status, page) = text(c.get(link).send().unwrap());
    assert_eq!(status, StatusCode::OK, "{page}");
}

#[test]
fn the_confirmation_mail_is_dkim_signed() {
    let site = site();
    let published = crate::support::dkim::sign_with_new_key(&site, "rsa");
    let server = Server::start(&site);
    let c = client();
    assert_eq!(
        sign_up(&c, &server, &[("email", "signed@example.com")]).0,
        StatusCode::OK
    );
    let raw = site.read_bytes("outbox/confirm/signed@example.com.eml");
    crate::support::dkim::verify(&raw, &published.text())
        .unwrap_or_else(|e| panic!("{e}\n{}", String::from_utf8_lossy(&raw)));
    // Signed as absent: a List-Id added on the way breaks the signature.
    let with_list_id = String::from_utf8_lossy(&raw)
        .replacen(
            "\r\nSubject: ",
            "\r\nList-Id: <x.example.com>\r\nSubject: ",
            1,
        )
        .into_bytes();
    assert!(crate::support::dkim::verify(&with_list_id, &published.text()).is_err());
}

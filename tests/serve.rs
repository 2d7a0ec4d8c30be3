//! `herald serve` over real HTTP (README "The web endpoint"): the real binary on
//! `127.0.0.1:0` (the port is read from its "listening on" log line), driven with reqwest.
//!
//! Serve's clock starts at the site's `--now` and ticks, so tokens made here with the
//! library (and the site's `state/secret.key`) expire relative to `NOW`, not to the machine's
//! clock. Tokens of the older forms, which named the address and which mail already sent still
//! carries, are signed here by hand (JSON, base64url, HMAC-SHA256), not through the library.
//! Membership is read back through `herald::state::Db`, the same code `publish` uses.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use herald::state::subscribers::{Member, Source};
use herald::state::tokens;
use herald::state::{Db, MemberStatus};
use hmac::Mac;
use reqwest::StatusCode;
use reqwest::blocking::{Client, Response};

use crate::support::{self, NOW, Site};

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
    mail_link(site, "confirm", email, "confirm")
}

/// The link to `{PUBLIC}{route}` in the text part of the mail in outbox folder `folder` to
/// `email`.
fn mail_link(site: &Site, folder: &str, email: &str, route: &str) -> String {
    let raw = site.read_bytes(&format!("outbox/{folder}/{}.eml", email.to_lowercase()));
    let msg = mail_parser::MessageParser::default()
        .parse(&raw)
        .expect("parse the mail");
    let body = msg.body_text(0).expect("a text part").to_string();
    let want = format!("{PUBLIC}{route}?token=");
    let start = body
        .find(&want)
        .unwrap_or_else(|| panic!("no link to {want} in:\n{body}"));
    body[start..]
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_string()
}

/// A token as herald signs one, made by hand: base64url of the JSON `payload`, `.`, base64url
/// of its HMAC-SHA256 under the site's `secret`.
fn signed(secret: &[u8; 32], payload: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).expect("any key");
    mac.update(payload.as_bytes());
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

fn json(s: &str) -> String {
    serde_json::to_string(s).expect("a JSON string")
}

fn json_lists(lists: &[&str]) -> String {
    serde_json::to_string(lists).expect("a JSON array")
}

/// A confirmation token of the older form, which carried the whole sign-up (links mailed
/// before sign-ups waited in the database).
fn old_confirm_token(
    secret: &[u8; 32],
    email: &str,
    name: &str,
    lists: &[&str],
    expires: i64,
) -> String {
    let payload = format!(
        r#"{{"t":"c","email":{},"name":{},"lists":{},"expires":{expires},"nonce":{}}}"#,
        json(email),
        json(name),
        json_lists(lists),
        json(&tokens::nonce()),
    );
    signed(secret, &payload)
}

/// An unsubscribe token of the older form, by address (mail sent before subscribers had keys).
fn old_unsubscribe_token(secret: &[u8; 32], email: &str, lists: &[&str]) -> String {
    let payload = format!(
        r#"{{"t":"u","email":{},"lists":{}}}"#,
        json(email),
        json_lists(lists)
    );
    signed(secret, &payload)
}

/// The preferences token of `email`'s subscriber, as a mail would carry it.
fn preferences_token(site: &Site, email: &str) -> String {
    let key = Db::open(&site.path("state"))
        .unwrap()
        .key_of(email)
        .unwrap()
        .expect("a subscriber");
    tokens::sign_preferences(&secret(site), &key)
}

/// `POST /preferences` with `fields`.
fn post_preferences(c: &Client, server: &Server, fields: &[(&str, &str)]) -> (StatusCode, String) {
    text(
        c.post(server.url("preferences"))
            .form(fields)
            .send()
            .expect("POST /preferences"),
    )
}

/// Signs `email` up for `lists` (with `name`) and confirms through the mailed link.
fn sign_up_and_confirm(
    c: &Client,
    server: &Server,
    site: &Site,
    email: &str,
    name: &str,
    lists: &[&str],
) {
    let mut fields = vec![("email", email), ("name", name), ("list", "")];
    fields.extend(lists.iter().map(|l| ("list", *l)));
    let (status, page) = sign_up(c, server, &fields);
    assert_eq!(status, StatusCode::OK, "{page}");
    let (status, page) = post_confirm(c, server, &token_of(&confirm_link(site, email)));
    assert_eq!(status, StatusCode::OK, "{page}");
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
    // Links of the older form, which carried the sign-up: a database holds none of them.
    let confirm = |secret: &[u8; 32], expires: i64| {
        old_confirm_token(secret, "late@example.com", "", &["all"], expires)
    };

    let expired = confirm(&key, now_secs() - 60);
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

    // The current form expires as well.
    let stored_expired = tokens::sign_confirm(&key, &tokens::nonce(), now_secs() - 60);
    let (status, page) = post_confirm(&c, &server, &stored_expired);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("This link has expired"), "{page}");

    let good = confirm(&key, now_secs() + 3600);
    let forged = confirm(&[7; 32], now_secs() + 3600);
    // Genuine, but naming no sign-up the database holds.
    let unknown = tokens::sign_confirm(&key, "no-such-nonce", now_secs() + 3600);
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
        unknown.as_str(),
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
fn preferences_from_the_welcome_mail_join_leave_rename_and_leave_everything() {
    let site = site();
    let server = Server::start(&site);
    let c = client();
    sign_up_and_confirm(&c, &server, &site, "ann@example.com", "Ann", &["growth"]);

    // The welcome mail names the list joined, how often it mails, and links the preferences.
    let raw = site.read_bytes("outbox/welcome/ann@example.com.eml");
    let msg = mail_parser::MessageParser::default().parse(&raw).unwrap();
    assert_eq!(msg.subject(), Some("Welcome to LeadCraftr"));
    let body = msg.body_text(0).unwrap().replace("\r\n", "\n");
    assert!(body.contains("- Business growth: every post\n"), "{body}");
    assert!(!body.contains("Everything from LeadCraftr"), "{body}");
    let unsubscribe = support::mail::header(&raw, "List-Unsubscribe");
    assert!(
        unsubscribe.starts_with(&format!("<{PUBLIC}unsubscribe?token=")),
        "{unsubscribe}"
    );
    assert_eq!(
        support::mail::header(&raw, "List-Unsubscribe-Post"),
        "List-Unsubscribe=One-Click"
    );
    let link = mail_link(&site, "welcome", "ann@example.com", "preferences");
    let token = token_of(&link);

    let (status, page) = text(c.get(server.local(&link)).send().unwrap());
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("ann@example.com"), "{page}");
    assert!(page.contains(r#"name="name" value="Ann""#), "{page}");
    for (id, checked) in [("all", false), ("growth", true), ("conversion", false)] {
        let input = format!(
            r#"name="list" value="{id}"{}>"#,
            if checked { " checked" } else { "" }
        );
        let line = page
            .lines()
            .find(|l| l.contains(&input))
            .unwrap_or_else(|| panic!("no {input} in {page}"));
        assert!(line.contains("every post"), "{line}");
    }
    assert!(!page.contains("<script"), "pages need no JavaScript");

    // Join two lists, leave one, and change the name, in one save.
    let (status, page) = post_preferences(
        &c,
        &server,
        &[
            ("token", token.as_str()),
            ("name", "Ann Lee"),
            ("list", "all"),
            ("list", "conversion"),
            ("action", "save"),
        ],
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains(
            "Saved. ann@example.com gets Everything from LeadCraftr and Conversion rate."
        ),
        "{page}"
    );
    let ann = member(&site, "ann@example.com").unwrap();
    assert_eq!(
        (ann.status, ann.name.as_str(), ann.lists),
        (
            MemberStatus::Active,
            "Ann Lee",
            vec!["all".to_string(), "conversion".into()]
        )
    );

    // Leave everything: as the unsubscribe link does.
    let (status, page) = post_preferences(
        &c,
        &server,
        &[
            ("token", token.as_str()),
            ("name", "Ann Lee"),
            ("action", "leave"),
        ],
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("You left every list"), "{page}");
    let ann = member(&site, "ann@example.com").unwrap();
    assert_eq!(
        (ann.status, ann.lists.len()),
        (MemberStatus::Unsubscribed, 0)
    );

    // The same link brings them back, with no confirmation: the mail proved the address.
    let (status, _) = post_preferences(
        &c,
        &server,
        &[
            ("token", token.as_str()),
            ("name", "Ann Lee"),
            ("list", "growth"),
        ],
    );
    assert_eq!(status, StatusCode::OK);
    let ann = member(&site, "ann@example.com").unwrap();
    assert_eq!(
        (ann.status, ann.lists),
        (MemberStatus::Active, vec!["growth".to_string()])
    );
    // Only the confirmation and the welcome mail were sent.
    let folders: Vec<String> = site.files("outbox").into_keys().collect();
    assert_eq!(
        folders,
        [
            "outbox/confirm/ann@example.com.eml",
            "outbox/welcome/ann@example.com.eml"
        ]
    );
    let (code, log) = server.stop();
    assert_eq!(code, Some(0));
    assert!(log.contains("herald: POST /preferences 200 "), "{log}");
    assert!(
        !log.contains(&token[..30]),
        "a token reached the log:\n{log}"
    );
}

#[test]
fn forged_altered_and_foreign_preferences_links_get_400_and_change_nothing() {
    let site = site();
    let db = Db::open(&site.path("state")).unwrap();
    db.add_member("bob@example.com", "Bob", "all", Source::Cli, 1)
        .unwrap();
    db.add_member("eve@example.com", "Eve", "all", Source::Cli, 1)
        .unwrap();
    drop(db);
    let server = Server::start(&site);
    let c = client();
    let bob = preferences_token(&site, "bob@example.com");
    let eve = preferences_token(&site, "eve@example.com");
    let (bob_body, bob_tag) = bob.split_once('.').unwrap();
    let eve_body = eve.split_once('.').unwrap().0;
    let altered = format!(
        "{bob_body}.{}{}",
        if bob_tag.starts_with('A') { "B" } else { "A" },
        &bob_tag[1..]
    );
    // Eve's payload under Bob's tag: she cannot reach his page.
    let swapped = format!("{eve_body}.{bob_tag}");
    let key = Db::open(&site.path("state"))
        .unwrap()
        .key_of("bob@example.com")
        .unwrap()
        .unwrap();
    let foreign = tokens::sign_preferences(&[3; 32], &key);
    let unsubscribe = unsubscribe_token(&site, &secret(&site), "bob@example.com", &[]);
    let before = members(&site);
    for bad in [
        altered.as_str(),
        swapped.as_str(),
        foreign.as_str(),
        unsubscribe.as_str(),
        "garbage",
        "",
    ] {
        let (status, page) = text(
            c.get(server.url(&format!("preferences?token={bad}")))
                .send()
                .unwrap(),
        );
        assert_eq!(status, StatusCode::BAD_REQUEST, "GET {bad}: {page}");
        assert!(page.contains("This link does not work"), "{page}");
        assert!(!page.contains("@example.com"), "{page}");
        for action in ["save", "leave"] {
            let (status, page) = post_preferences(
                &c,
                &server,
                &[
                    ("token", bad),
                    ("name", "Mallory"),
                    ("list", "growth"),
                    ("action", action),
                ],
            );
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "POST {action} {bad}: {page}"
            );
        }
    }
    assert_eq!(members(&site), before, "nothing changed");
    // Bob's own link still works.
    let (status, page) = text(
        c.get(server.url(&format!("preferences?token={bob}")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("bob@example.com") && !page.contains("eve@"),
        "{page}"
    );
}

#[test]
fn hostile_names_on_the_preferences_page_are_escaped_and_kept_on_one_line() {
    let site = site();
    let script = "<script>alert(1)</script>";
    let db = Db::open(&site.path("state")).unwrap();
    db.add_member("eve@example.com", script, "all", Source::Cli, 1)
        .unwrap();
    drop(db);
    let server = Server::start(&site);
    let c = client();
    let token = preferences_token(&site, "eve@example.com");
    let (status, page) = text(
        c.get(server.url(&format!("preferences?token={token}")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("<script"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );

    let name = "\"><script>alert(2)</script>\r\nBcc: victim@example.org";
    let (status, page) = post_preferences(
        &c,
        &server,
        &[("token", token.as_str()), ("name", name), ("list", "all")],
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("&quot;&gt;&lt;script&gt;alert(2)"), "{page}");
    assert_eq!(
        member(&site, "eve@example.com").unwrap().name,
        "\"><script>alert(2)</script> Bcc: victim@example.org"
    );
}

#[test]
fn the_welcome_mail_is_sent_once_and_not_at_all_with_welcome_false() {
    let site = site();
    let server = Server::start(&site);
    let c = client();
    sign_up_and_confirm(&c, &server, &site, "ann@example.com", "", &["all"]);
    let first = site.read_bytes("outbox/welcome/ann@example.com.eml");
    let msg = mail_parser::MessageParser::default().parse(&first).unwrap();
    assert!(
        msg.body_text(0).unwrap().starts_with("Hello,"),
        "no name: no \"Hi\""
    );
    assert_eq!(
        support::mail::header(&first, "Auto-Submitted"),
        "auto-generated"
    );
    // The link again: refused, and no second welcome (each has its own Message-ID).
    let (status, _) = post_confirm(
        &c,
        &server,
        &token_of(&confirm_link(&site, "ann@example.com")),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(site.read_bytes("outbox/welcome/ann@example.com.eml"), first);
    drop(server);

    let quiet = Site::example();
    let config = quiet.read("config/herald.yaml").replace(
        "  transport: outbox\n",
        "  transport: outbox\n  welcome: false\n",
    );
    quiet.write(
        "config/herald.yaml",
        format!("{config}serve:\n  public_url: {PUBLIC}\n"),
    );
    let server = Server::start(&quiet);
    sign_up_and_confirm(&c, &server, &quiet, "bob@example.com", "Bob", &["all"]);
    assert_eq!(
        member(&quiet, "bob@example.com").unwrap().status,
        MemberStatus::Active
    );
    assert!(!quiet.exists("outbox/welcome"), "no welcome mail");
}

#[test]
fn old_form_confirmation_and_unsubscribe_links_keep_working() {
    let site = site();
    let db = Db::open(&site.path("state")).unwrap();
    db.add_member("old@example.com", "Old", "all", Source::Cli, 1)
        .unwrap();
    db.add_member("old@example.com", "Old", "growth", Source::Cli, 1)
        .unwrap();
    drop(db);
    let server = Server::start(&site);
    let c = client();
    let key = secret(&site);

    // Mailed before sign-ups waited in the database: the link carries the sign-up.
    let confirm = old_confirm_token(
        &key,
        "Cara@Example.com",
        "Cara",
        &["growth", "conversion"],
        now_secs() + 3600,
    );
    let (status, page) = text(
        c.get(server.url(&format!("confirm?token={confirm}")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Cara@Example.com"), "{page}");
    let (status, page) = post_confirm(&c, &server, &confirm);
    assert_eq!(status, StatusCode::OK, "{page}");
    let cara = member(&site, "cara@example.com").unwrap();
    assert_eq!(
        (cara.status, cara.name.as_str(), cara.lists),
        (
            MemberStatus::Active,
            "Cara",
            vec!["conversion".to_string(), "growth".into()]
        )
    );
    assert!(site.exists("outbox/welcome/cara@example.com.eml"));
    assert_eq!(
        post_confirm(&c, &server, &confirm).0,
        StatusCode::BAD_REQUEST
    );

    // Mailed before subscribers had keys: the link names the address.
    let unsubscribe = old_unsubscribe_token(&key, "old@example.com", &["growth"]);
    let (status, page) = text(
        c.get(server.url(&format!("unsubscribe?token={unsubscribe}")))
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<li>Business growth</li>"), "{page}");
    let r = c
        .post(server.url(&format!("unsubscribe?token={unsubscribe}")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let old = member(&site, "old@example.com").unwrap();
    assert_eq!(
        (old.status, old.lists),
        (MemberStatus::Active, vec!["all".to_string()])
    );
    // Tampering with an old-form link is refused as before.
    let forged = old_unsubscribe_token(&[5; 32], "old@example.com", &["all"]);
    let (status, _) = text(
        c.post(server.url("unsubscribe"))
            .form(&[("token", forged.as_str())])
            .send()
            .unwrap(),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(member(&site, "old@example.com").unwrap().lists, ["all"]);
}

/// Every URL in `raw` (headers unfolded, and each part decoded).
fn urls_in(raw: &[u8]) -> Vec<String> {
    let msg = mail_parser::MessageParser::default()
        .parse(raw)
        .expect("parse a mail");
    let mut texts = vec![
        support::mail::head(raw)
            .replace("\r\n ", " ")
            .replace("\r\n\t", " "),
    ];
    for i in 0.. {
        let Some(t) = msg.body_text(i) else { break };
        texts.push(t.to_string());
    }
    for i in 0.. {
        let Some(h) = msg.body_html(i) else { break };
        texts.push(h.replace("&amp;", "&"));
    }
    let mut urls = Vec::new();
    for t in texts {
        for (i, _) in t.match_indices("http") {
            let url: String = t[i..]
                .chars()
                .take_while(|c| !c.is_whitespace() && !"\"'<>".contains(*c))
                .collect();
            if url.starts_with("http://") || url.starts_with("https://") {
                urls.push(url);
            }
        }
    }
    urls
}

/// Why `url` gives `email` away, if it does: the address as it is, percent-encoded, in base64
/// (at any of the three alignments), or inside a base64url part of a token.
fn names_address(url: &str, given: &str) -> Option<String> {
    let email = given.to_lowercase();
    let lower = url.to_lowercase();
    if lower.contains(&email) {
        return Some("the address".into());
    }
    let encoded: String = url::form_urlencoded::byte_serialize(email.as_bytes()).collect();
    if lower.contains(&encoded.to_lowercase()) || lower.contains(&email.replace('@', "%40")) {
        return Some("the address, percent-encoded".into());
    }
    for (skip, form) in (0..3).flat_map(|s| [(s, email.clone()), (s, given.to_string())]) {
        // The address at each offset mod 3 of some base64 text: the part that does not depend
        // on what comes before or after it.
        let padded = format!("{}{form}", "x".repeat(skip));
        for engine in [&STANDARD, &URL_SAFE] {
            let b64 = engine.encode(padded.as_bytes());
            let start = (skip * 4).div_ceil(3) + 1;
            let end = b64.trim_end_matches('=').len().saturating_sub(2);
            if end > start && url.contains(&b64[start..end]) {
                return Some("the address in base64".into());
            }
        }
    }
    for part in url.split(['?', '&', '=', '.', '/']) {
        let decoded = URL_SAFE_NO_PAD
            .decode(part)
            .or_else(|_| STANDARD.decode(part))
            .unwrap_or_default();
        if String::from_utf8_lossy(&decoded)
            .to_lowercase()
            .contains(&email)
        {
            return Some(format!(
                "a token naming the address: {}",
                String::from_utf8_lossy(&decoded)
            ));
        }
    }
    None
}

#[test]
fn no_url_in_any_mail_names_the_subscriber() {
    // A post is due: publish mails it to the lists' CSV subscribers and to the new one.
    let site = site().at("2026-12-01T00:00:00Z");
    site.build();
    let server = Server::start(&site);
    let c = client();
    let who = "Reader.One+news@Example.org";
    sign_up_and_confirm(&c, &server, &site, who, "Rea Der", &["all", "growth"]);
    server.stop();
    site.run(&["publish"]).success();

    let mails = site.files("outbox");
    let folders: std::collections::BTreeSet<&str> =
        mails.keys().filter_map(|k| k.split('/').nth(1)).collect();
    assert!(
        folders.contains("confirm") && folders.contains("welcome") && folders.len() >= 3,
        "a confirmation, a welcome and post mail: {folders:?}"
    );
    let mut checked = 0;
    for (path, raw) in &mails {
        let to = support::mail::header(raw, "To");
        let address = to
            .rsplit_once('<')
            .map(|(_, a)| a.trim_end_matches('>'))
            .unwrap_or(&to)
            .to_string();
        let urls = urls_in(raw);
        assert!(
            urls.iter().any(|u| u.starts_with(PUBLIC)),
            "{path}: no link to serve in {urls:?}"
        );
        for url in &urls {
            for email in [address.as_str(), who] {
                if let Some(why) = names_address(url, email) {
                    panic!("{path}: {url} gives away {email}: {why}");
                }
            }
            checked += 1;
        }
    }
    assert!(checked > 10, "{checked} URLs checked");
    // The check itself finds the older forms.
    let old = format!(
        "{PUBLIC}unsubscribe?token={}",
        old_unsubscribe_token(&[1; 32], who, &["all"])
    );
    assert!(names_address(&old, who).is_some());
    let old = format!(
        "{PUBLIC}confirm?token={}",
        old_confirm_token(&[1; 32], who, "", &["all"], 1)
    );
    assert!(names_address(&old, who).is_some());
    assert!(names_address(&format!("{PUBLIC}x?e=reader.one%2Bnews%40example.org"), who).is_some());
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

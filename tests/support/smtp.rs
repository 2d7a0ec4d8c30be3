//! [`SmtpServer`]: a scripted SMTP server on `127.0.0.1:0`, run inside the test: no
//! system mail server, no fixed port.
//!
//! It speaks the plain ESMTP that lettre's client uses with `security: none` (EHLO/HELO, AUTH
//! PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP, VRFY, QUIT; 8BITMIME and SMTPUTF8 are
//! advertised, STARTTLS is not), one thread per connection, so `concurrency` parallel sessions
//! really run in parallel. Every message it accepts (answered with a 2xx after the final `.`)
//! is recorded with its envelope, raw bytes and arrival time ([`Received`]); every decision it
//! takes is logged ([`Logged`]), so a test can count attempts, sessions and retries; and the
//! credentials of every `AUTH` are kept ([`SmtpServer::logins`]).
//!
//! At each [`Stage`] of a transaction a [`Script`] decides the [`Reply`]: the normal answer,
//! any code (451, 550, ...), a dropped connection, a stall until the client gives up, or a
//! hold until the test opens a [`Gate`]. A script is either a closure over [`Attempt`] or
//! a list of [`Rules`] ("answer 451 to the first 2 messages for ann@example.com"):
//!
//! ```ignore
//! let server = SmtpServer::start(); // accepts everything
//! let server = SmtpServer::scripted(
//!     Rules::new()
//!         .always(Stage::Rcpt, "gone@example.com", Reply::code(550, "5.1.1 no such user"))
//!         .first(1, Stage::Message, "slow@example.com", Reply::code(451, "4.3.0 try later")),
//! );
//! let server = SmtpServer::scripted(|a: &Attempt| match a.stage {
//!     Stage::Data if a.nth == 1 => Reply::Drop, // the first DATA of each address is cut off
//!     _ => Reply::Accept,
//! });
//! // ... run herald with `smtp: { host: 127.0.0.1, port: server.port(), security: none }`
//! assert_eq!(server.messages_to("ann@example.com").len(), 1);
//! ```
//!
//! Dropping the server stops it: the listener and every session close within a few
//! milliseconds, and every thread is joined (a held [`Gate`] or a stall is released too).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::Site;

/// How often blocked threads look at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// The point in a session where the script is asked for a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// A client connected; [`Reply::Accept`] sends the `220` greeting. Any other code is sent
    /// and the connection closed (`421 busy`, `554 go away`).
    Connect,
    /// `AUTH PLAIN` or `AUTH LOGIN` with complete credentials ([`Attempt::to`] holds the user
    /// name); [`Reply::Accept`] sends `235`, `535` refuses them.
    Auth,
    /// `MAIL FROM:<from>`.
    Mail,
    /// `RCPT TO:<to>`: a refused recipient is not added to the transaction.
    Rcpt,
    /// The `DATA` command; [`Reply::Accept`] sends `354`. [`Reply::Drop`] here answers `354`,
    /// reads the first line of the message and hangs up: a connection lost mid-DATA.
    Data,
    /// The message has been read up to the final `.`; [`Reply::Accept`] (or any 2xx) accepts
    /// and records it.
    Message,
}

/// What the script sees when it decides a reply.
#[derive(Debug)]
pub struct Attempt<'a> {
    pub stage: Stage,
    /// At [`Stage::Rcpt`] the address being added; at [`Stage::Data`] and [`Stage::Message`]
    /// the first accepted recipient; at [`Stage::Auth`] the user name; empty before that.
    pub to: &'a str,
    /// How many times this stage has been reached for `to` (compared case-insensitively),
    /// over all sessions, counting this one: `1` for the first attempt, `2` for the first retry.
    pub nth: usize,
}

/// The server's answer at one [`Stage`].
#[derive(Debug, Clone)]
pub enum Reply {
    /// The normal answer: 220, 250, 354, or 250 for a message (which is then recorded).
    Accept,
    /// This code and text, e.g. `451 4.3.0 try again later`. A 421 closes the connection after
    /// it is sent, as RFC 5321 asks.
    Code(u16, String),
    /// Close the connection without answering (at [`Stage::Data`]: mid-DATA, see there).
    Drop,
    /// Answer nothing and keep the connection open until the client gives up (its timeout) or
    /// the server stops; then close it.
    Stall,
    /// Wait until the gate is opened (or the server stops), then give the inner reply.
    Hold(Gate, Box<Reply>),
}

impl Reply {
    pub fn code(code: u16, text: &str) -> Reply {
        Reply::Code(code, text.to_string())
    }

    pub fn hold(gate: &Gate, then: Reply) -> Reply {
        Reply::Hold(gate.clone(), Box::new(then))
    }
}

/// Decides the reply at each stage. Implemented by closures `Fn(&Attempt) -> Reply` and by
/// [`Rules`].
pub trait Script: Send + Sync + 'static {
    fn reply(&self, attempt: &Attempt) -> Reply;
}

impl<F: Fn(&Attempt) -> Reply + Send + Sync + 'static> Script for F {
    fn reply(&self, attempt: &Attempt) -> Reply {
        self(attempt)
    }
}

/// A list of rules; the first that matches an attempt gives the reply, otherwise
/// [`Reply::Accept`].
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    stage: Stage,
    /// Lower case; `*` matches every address.
    to: String,
    /// Only the first `n` attempts (by [`Attempt::nth`]).
    first: Option<usize>,
    reply: Reply,
}

impl Rules {
    pub fn new() -> Rules {
        Rules::default()
    }

    /// Answers `reply` at `stage` for `to` (`*`: any address) every time.
    pub fn always(mut self, stage: Stage, to: &str, reply: Reply) -> Rules {
        self.rules.push(Rule {
            stage,
            to: to.to_lowercase(),
            first: None,
            reply,
        });
        self
    }

    /// Answers `reply` at `stage` for `to` (`*`: any address) the first `n` times that stage
    /// is reached for that address, then lets later rules (or the normal answer) decide.
    pub fn first(mut self, n: usize, stage: Stage, to: &str, reply: Reply) -> Rules {
        self.rules.push(Rule {
            stage,
            to: to.to_lowercase(),
            first: Some(n),
            reply,
        });
        self
    }
}

impl Script for Rules {
    fn reply(&self, a: &Attempt) -> Reply {
        self.rules
            .iter()
            .find(|r| {
                r.stage == a.stage
                    && (r.to == "*" || r.to.eq_ignore_ascii_case(a.to))
                    && r.first.is_none_or(|n| a.nth <= n)
            })
            .map(|r| r.reply.clone())
            .unwrap_or(Reply::Accept)
    }
}

/// A barrier a [`Reply::Hold`] waits at until the test opens it.
#[derive(Debug, Clone, Default)]
pub struct Gate(Arc<GateInner>);

#[derive(Debug, Default)]
struct GateInner {
    /// (open, how many sessions have reached the gate so far)
    state: Mutex<(bool, usize)>,
    changed: Condvar,
}

impl Gate {
    pub fn new() -> Gate {
        Gate::default()
    }

    /// Lets every held reply (and every later one) through.
    pub fn open(&self) {
        lock(&self.0.state).0 = true;
        self.0.changed.notify_all();
    }

    /// Waits until the gate has been reached `n` times; false on timeout.
    pub fn wait_reached(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = lock(&self.0.state);
        while state.1 < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .0
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Blocks until open or `stop`.
    fn pass(&self, stop: &AtomicBool) {
        let mut state = lock(&self.0.state);
        state.1 += 1;
        self.0.changed.notify_all();
        while !state.0 && !stop.load(Ordering::SeqCst) {
            state = self
                .0
                .changed
                .wait_timeout(state, POLL)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }
}

/// A message the server accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// When the final `.` was read.
    pub at: Instant,
    /// `MAIL FROM`.
    pub from: String,
    /// The accepted `RCPT TO` addresses, as the client sent them.
    pub to: Vec<String>,
    /// The message, dot-unstuffed, without the final `.` line.
    pub data: Vec<u8>,
}

impl Received {
    /// Whether `addr` (case-insensitively) is one of the recipients.
    pub fn is_to(&self, addr: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(addr))
    }
}

/// One decision the server took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub stage: Stage,
    /// As in [`Attempt::to`].
    pub to: String,
    /// The code sent, or `None` when the connection was dropped or stalled.
    pub code: Option<u16>,
}

/// A running server; stops when dropped.
pub struct SmtpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

struct Shared {
    script: Box<dyn Script>,
    stop: AtomicBool,
    sessions: AtomicUsize,
    /// Accepted messages; `changed` is signalled on each.
    received: Mutex<Vec<Received>>,
    changed: Condvar,
    log: Mutex<Vec<Logged>>,
    logins: Mutex<Vec<(String, String)>>,
    counts: Mutex<HashMap<(Stage, String), usize>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl SmtpServer {
    /// A server that accepts every message.
    pub fn start() -> SmtpServer {
        SmtpServer::scripted(Rules::new())
    }

    /// A server whose replies `script` decides.
    pub fn scripted(script: impl Script) -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            script: Box::new(script),
            stop: AtomicBool::new(false),
            sessions: AtomicUsize::new(0),
            received: Mutex::new(Vec::new()),
            changed: Condvar::new(),
            log: Mutex::new(Vec::new()),
            logins: Mutex::new(Vec::new()),
            counts: Mutex::new(HashMap::new()),
            threads: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let accept = std::thread::Builder::new()
            .name("smtp-accept".into())
            .spawn(move || accept_loop(&listener, &s))
            .expect("spawn the accept thread");
        SmtpServer {
            addr,
            shared,
            accept: Some(accept),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The `smtp:` section of a herald config pointing at this server (plain SMTP, as
    /// `security: none` allows on loopback), with `concurrency` sessions and a timeout.
    pub fn config_yaml(&self, concurrency: usize, timeout_secs: u64) -> String {
        format!(
            "smtp:\n  host: 127.0.0.1\n  port: {}\n  security: none\n  concurrency: {concurrency}\n  timeout_secs: {timeout_secs}\n",
            self.port()
        )
    }

    /// A copy of fixture `name` that sends through this server (see [`Site::use_smtp`]).
    pub fn site(&self, fixture: &str, concurrency: usize, timeout_secs: u64) -> Site {
        let site = Site::fixture(fixture);
        site.use_smtp(&self.config_yaml(concurrency, timeout_secs));
        site
    }

    /// Every accepted message so far, in the order they were accepted.
    pub fn messages(&self) -> Vec<Received> {
        lock(&self.shared.received).clone()
    }

    /// The accepted messages with `addr` among their recipients.
    pub fn messages_to(&self, addr: &str) -> Vec<Received> {
        self.messages()
            .into_iter()
            .filter(|m| m.is_to(addr))
            .collect()
    }

    /// Waits until at least `n` messages were accepted; false on timeout.
    pub fn wait_for_messages(&self, n: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut got = lock(&self.shared.received);
        while got.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            got = self
                .shared
                .changed
                .wait_timeout(got, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Every decision so far, in order.
    pub fn log(&self) -> Vec<Logged> {
        lock(&self.shared.log).clone()
    }

    /// The decisions at `stage` for `to` (case-insensitively): one per attempt.
    pub fn attempts(&self, stage: Stage, to: &str) -> Vec<Logged> {
        self.log()
            .into_iter()
            .filter(|l| l.stage == stage && l.to.eq_ignore_ascii_case(to))
            .collect()
    }

    /// The (user name, password) of every `AUTH` a client completed, accepted or not.
    pub fn logins(&self) -> Vec<(String, String)> {
        lock(&self.shared.logins).clone()
    }

    /// How many connections were accepted so far.
    pub fn sessions(&self) -> usize {
        self.shared.sessions.load(Ordering::SeqCst)
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let threads = std::mem::take(&mut *lock(&self.shared.threads));
        for h in threads {
            let _ = h.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not hide the server's records from the others.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let id = shared.sessions.fetch_add(1, Ordering::SeqCst) + 1;
                let s = shared.clone();
                let h = std::thread::Builder::new()
                    .name(format!("smtp-session-{id}"))
                    .spawn(move || Session::new(stream, &s).run())
                    .expect("spawn a session thread");
                lock(&shared.threads).push(h);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
}

/// The answer once holds are over.
enum Final {
    /// `None`: the stage's normal answer.
    Answer(Option<(u16, String)>),
    Drop,
    Stall,
}

struct Session<'a> {
    stream: TcpStream,
    shared: &'a Shared,
    buf: Vec<u8>,
    /// A `MAIL` command opened the current transaction (its sender may be the null `<>`).
    mail: bool,
    from: String,
    recipients: Vec<String>,
}

impl<'a> Session<'a> {
    fn new(stream: TcpStream, shared: &'a Shared) -> Session<'a> {
        // Accepted sockets may inherit the listener's non-blocking mode on some platforms.
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(POLL));
        let _ = stream.set_nodelay(true);
        Session {
            stream,
            shared,
            buf: Vec::new(),
            mail: false,
            from: String::new(),
            recipients: Vec::new(),
        }
    }

    fn run(mut self) {
        let _ = self.converse();
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// `None` ends the session.
    fn converse(&mut self) -> Option<()> {
        match self.decide(Stage::Connect, "") {
            Final::Answer(None) => self.send("220 herald-test ESMTP ready")?,
            Final::Answer(Some((code, text))) => {
                self.send(&format!("{code} {text}"))?;
                if code != 220 {
                    return None;
                }
            }
            Final::Drop => return None,
            Final::Stall => return self.stall(),
        }
        loop {
            let line = self.line()?;
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            let verb = line.split(' ').next().unwrap_or("").to_ascii_uppercase();
            match verb.as_str() {
                "EHLO" => self.send(
                    "250-herald-test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n250 HELP",
                )?,
                "AUTH" => self.auth(line)?,
                "HELO" => self.send("250 herald-test")?,
                "NOOP" => self.send("250 2.0.0 ok")?,
                "VRFY" => self.send("252 2.1.5 cannot verify, will try")?,
                "RSET" => {
                    self.reset();
                    self.send("250 2.0.0 ok")?;
                }
                "QUIT" => {
                    let _ = self.send("221 2.0.0 bye");
                    return None;
                }
                "MAIL" => {
                    let Some(from) = angle(line) else {
                        self.send("501 5.5.4 syntax: MAIL FROM:<address>")?;
                        continue;
                    };
                    self.reset();
                    let outcome = self.decide(Stage::Mail, "");
                    if self.answer(outcome, "250 2.1.0 sender ok")? {
                        self.from = from;
                        self.mail = true;
                    }
                }
                "RCPT" => {
                    let Some(to) = angle(line) else {
                        self.send("501 5.5.4 syntax: RCPT TO:<address>")?;
                        continue;
                    };
                    if !self.mail {
                        self.send("503 5.5.1 MAIL first")?;
                        continue;
                    }
                    let outcome = self.decide(Stage::Rcpt, &to);
                    if self.answer(outcome, "250 2.1.5 recipient ok")? {
                        self.recipients.push(to);
                    }
                }
                "DATA" => self.data()?,
                _ => self.send("502 5.5.2 command not recognised")?,
            }
        }
    }

    /// `AUTH PLAIN [initial]` (RFC 4616) or `AUTH LOGIN`.
    fn auth(&mut self, line: &str) -> Option<()> {
        let mut words = line.split_whitespace().skip(1);
        let mechanism = words.next().unwrap_or("").to_ascii_uppercase();
        let initial = words.next().map(str::to_string);
        let (user, password) = match mechanism.as_str() {
            "PLAIN" => {
                let response = match initial {
                    Some(r) => r,
                    None => {
                        self.send("334 ")?;
                        self.text_line()?
                    }
                };
                let decoded = unbase64(&response);
                let mut fields = decoded.split('\0').skip(1);
                let user = fields.next().unwrap_or("").to_string();
                (user, fields.next().unwrap_or("").to_string())
            }
            "LOGIN" => {
                let user = match initial {
                    Some(u) => unbase64(&u),
                    None => {
                        self.send("334 VXNlcm5hbWU6")?;
                        unbase64(&self.text_line()?)
                    }
                };
                self.send("334 UGFzc3dvcmQ6")?;
                (user, unbase64(&self.text_line()?))
            }
            _ => return self.send("504 5.5.4 unrecognised authentication mechanism"),
        };
        lock(&self.shared.logins).push((user.clone(), password));
        let outcome = self.decide(Stage::Auth, &user);
        self.answer(outcome, "235 2.7.0 authentication succeeded")
            .map(|_| ())
    }

    /// The next line without its line end, as text.
    fn text_line(&mut self) -> Option<String> {
        let line = self.line()?;
        Some(
            String::from_utf8_lossy(&line)
                .trim_end_matches(['\r', '\n'])
                .to_string(),
        )
    }

    fn data(&mut self) -> Option<()> {
        if self.recipients.is_empty() {
            return self.send("503 5.5.1 RCPT first");
        }
        let to = self.recipients[0].clone();
        match self.decide(Stage::Data, &to) {
            Final::Answer(None) => self.send("354 end data with <CR><LF>.<CR><LF>")?,
            Final::Answer(Some((code, text))) => {
                self.send(&format!("{code} {text}"))?;
                if code == 421 {
                    return None;
                }
                if code != 354 {
                    return Some(());
                }
            }
            Final::Drop => {
                self.send("354 end data with <CR><LF>.<CR><LF>")?;
                self.line()?;
                return None;
            }
            Final::Stall => return self.stall(),
        }
        let mut data = Vec::new();
        loop {
            let line = self.line()?;
            if line == b".\r\n" || line == b".\n" {
                break;
            }
            let unstuffed = if line.starts_with(b"..") {
                &line[1..]
            } else {
                &line[..]
            };
            data.extend_from_slice(unstuffed);
        }
        let read_at = Instant::now();
        let outcome = self.decide(Stage::Message, &to);
        let queued = format!(
            "250 2.0.0 queued as {}",
            lock(&self.shared.received).len() + 1
        );
        let accepted = match &outcome {
            Final::Answer(None) => true,
            Final::Answer(Some((code, _))) => (200..300).contains(code),
            _ => false,
        };
        if accepted {
            // Recorded before the answer goes out: a client that saw the 250 finds it here.
            lock(&self.shared.received).push(Received {
                at: read_at,
                from: self.from.clone(),
                to: self.recipients.clone(),
                data,
            });
            self.shared.changed.notify_all();
        }
        self.answer(outcome, &queued)?;
        self.reset();
        Some(())
    }

    /// Asks the script, waits out delays and holds, and logs the decision.
    fn decide(&mut self, stage: Stage, to: &str) -> Final {
        let nth = {
            let mut counts = lock(&self.shared.counts);
            let n = counts.entry((stage, to.to_lowercase())).or_insert(0);
            *n += 1;
            *n
        };
        let attempt = Attempt { stage, to, nth };
        let mut reply = self.shared.script.reply(&attempt);
        let out = loop {
            reply = match reply {
                Reply::Accept => break Final::Answer(None),
                Reply::Code(code, text) => break Final::Answer(Some((code, text))),
                Reply::Drop => break Final::Drop,
                Reply::Stall => break Final::Stall,
                Reply::Hold(gate, then) => {
                    gate.pass(&self.shared.stop);
                    *then
                }
            };
            // A server that stops while a reply waits hangs up instead of answering.
            if self.stopping() {
                break Final::Drop;
            }
        };
        let code = match &out {
            Final::Answer(Some((code, _))) => Some(*code),
            Final::Answer(None) => Some(match stage {
                Stage::Connect => 220,
                Stage::Auth => 235,
                Stage::Data => 354,
                _ => 250,
            }),
            Final::Drop | Final::Stall => None,
        };
        lock(&self.shared.log).push(Logged {
            stage,
            to: to.to_string(),
            code,
        });
        out
    }

    /// Sends the decided answer (`normal` for [`Final::Answer(None)`]). `Some(true)` when it
    /// was a 2xx, `None` when the session ends.
    fn answer(&mut self, outcome: Final, normal: &str) -> Option<bool> {
        match outcome {
            Final::Answer(None) => {
                self.send(normal)?;
                Some(true)
            }
            Final::Answer(Some((code, text))) => {
                self.send(&format!("{code} {text}"))?;
                if code == 421 {
                    return None;
                }
                Some((200..300).contains(&code))
            }
            Final::Drop => None,
            Final::Stall => self.stall().map(|()| false),
        }
    }

    /// Says nothing until the client writes or hangs up, or the server stops; always ends the
    /// session.
    fn stall(&mut self) -> Option<()> {
        let mut chunk = [0u8; 512];
        while !self.stopping() {
            match self.stream.read(&mut chunk) {
                Ok(_) => break,
                Err(e) if is_timeout(&e) => {}
                Err(_) => break,
            }
        }
        None
    }

    fn reset(&mut self) {
        self.mail = false;
        self.from.clear();
        self.recipients.clear();
    }

    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    /// The next line, with its line end; `None` when the client hung up or the server stops.
    fn line(&mut self) -> Option<Vec<u8>> {
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(i) = self.buf.iter().position(|b| *b == b'\n') {
                return Some(self.buf.drain(..=i).collect());
            }
            if self.stopping() {
                return None;
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if is_timeout(&e) => {}
                Err(_) => return None,
            }
        }
    }

    /// Writes `reply` (lines joined by CRLF) and a final CRLF.
    fn send(&mut self, reply: &str) -> Option<()> {
        self.stream
            .write_all(format!("{reply}\r\n").as_bytes())
            .ok()
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

fn unbase64(s: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The address between `<` and `>` in `MAIL FROM:<a> BODY=8BITMIME` (may be empty).
fn angle(line: &str) -> Option<String> {
    let start = line.find('<')?;
    let end = start + line[start..].find('>')?;
    Some(line[start + 1..end].to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    /// A minimal client: sends each command and returns the server's reply line(s).
    struct Client {
        reader: std::io::BufReader<TcpStream>,
        writer: TcpStream,
    }

    impl Client {
        fn connect(server: &SmtpServer) -> (Client, String) {
            let s = TcpStream::connect(server.addr()).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut c = Client {
                reader: std::io::BufReader::new(s.try_clone().unwrap()),
                writer: s,
            };
            let greeting = c.read();
            (c, greeting)
        }

        fn read(&mut self) -> String {
            let mut out = String::new();
            loop {
                let mut line = String::new();
                if self.reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return out;
                }
                out.push_str(&line);
                if line.as_bytes().get(3) != Some(&b'-') {
                    return out;
                }
            }
        }

        fn cmd(&mut self, line: &str) -> String {
            self.writer
                .write_all(format!("{line}\r\n").as_bytes())
                .unwrap();
            self.read()
        }
    }

    #[test]
    fn records_a_message_and_scripts_replies() {
        let server = SmtpServer::scripted(
            Rules::new()
                .always(
                    Stage::Rcpt,
                    "gone@example.com",
                    Reply::code(550, "5.1.1 no such user"),
                )
                .first(1, Stage::Message, "*", Reply::code(451, "4.3.0 later")),
        );
        let (mut c, greeting) = Client::connect(&server);
        assert!(greeting.starts_with("220 "), "{greeting}");
        assert!(c.cmd("EHLO me").contains("250 HELP"));
        assert!(
            c.cmd("MAIL FROM:<a@example.com> BODY=8BITMIME")
                .starts_with("250")
        );
        assert!(c.cmd("RCPT TO:<gone@example.com>").starts_with("550"));
        assert!(c.cmd("RCPT TO:<b@example.com>").starts_with("250"));
        assert!(c.cmd("DATA").starts_with("354"));
        assert!(c.cmd("Subject: x\r\n\r\n..dot\r\n.").starts_with("451"));
        assert!(c.cmd("MAIL FROM:<a@example.com>").starts_with("250"));
        assert!(c.cmd("RCPT TO:<b@example.com>").starts_with("250"));
        assert!(c.cmd("DATA").starts_with("354"));
        assert!(c.cmd("Subject: x\r\n\r\n..dot\r\n.").starts_with("250"));
        assert!(c.cmd("QUIT").starts_with("221"));
        let got = server.messages();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].from, "a@example.com");
        assert_eq!(got[0].to, vec!["b@example.com"]);
        assert_eq!(got[0].data, b"Subject: x\r\n\r\n.dot\r\n");
        assert_eq!(server.attempts(Stage::Message, "B@example.com").len(), 2);
    }

    #[test]
    fn a_held_reply_waits_for_the_gate_and_drop_releases_everything() {
        let gate = Gate::new();
        let g = gate.clone();
        let server = SmtpServer::scripted(move |a: &Attempt| match a.stage {
            Stage::Mail => Reply::hold(&g, Reply::Accept),
            Stage::Rcpt => Reply::Stall,
            _ => Reply::Accept,
        });
        let (mut c, _) = Client::connect(&server);
        let w = c.writer.try_clone().unwrap();
        let t = std::thread::spawn(move || c.cmd("MAIL FROM:<a@example.com>"));
        assert!(gate.wait_reached(1, Duration::from_secs(5)));
        gate.open();
        assert!(t.join().unwrap().starts_with("250"));
        drop(w);
        let (mut c2, _) = Client::connect(&server);
        c2.cmd("MAIL FROM:<a@example.com>");
        c2.writer.write_all(b"RCPT TO:<x@example.com>\r\n").unwrap();
        let started = Instant::now();
        drop(server);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(c2.read(), "", "the stalled session is closed");
    }
}

//! herald under faults (README "The delivery guarantee"): a relay that
//! answers 421, 451 and 550, drops the line in the middle of DATA or stalls past
//! `timeout_secs`; `kill -9` in the middle of a large send and of a feed build; overlapping
//! runs; a locked or corrupt state database; an outbox or `public/` that cannot be written
//! (a file in the way, or a full tmpfs). Each test checks what the guarantee promises: every
//! deliverable address gets its mail exactly once (a crash may add at most `concurrency`
//! duplicates), nothing is marked sent that the server did not take, every feed file is the old
//! one or the new one, and the exit code is the documented one.
//!
//! Sites are copies of `tests/fixtures/faults/` (two due posts, one list fed by a CSV the tests
//! write) sending to the scripted server of `support::smtp`. The journal is read straight from
//! `state/herald.db` (read-only) where a test needs more than `status --json` shows.
//!
//! Random moments (where to `kill -9`) come from a fixed seed, so a failure can be replayed.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::mail::header;
use crate::support::smtp::{Attempt, Gate, Received, Reply, Rules, SmtpServer, Stage};
use crate::support::{NOW, Run, Site};

/// The posts of the fixture, by subject.
const POSTS: &[(&str, &str)] = &[("first", "First Fault"), ("second", "Second Fault")];

/// `n` subscribers `s0000@example.com`, ... in `config/subscribers/all.csv`.
fn subscribers(site: &Site, n: usize) -> Vec<String> {
    let emails: Vec<String> = (0..n).map(|i| format!("s{i:04}@example.com")).collect();
    let mut csv = String::from("email,name\n");
    for (i, e) in emails.iter().enumerate() {
        csv.push_str(&format!("{e},Subscriber {i}\n"));
    }
    site.write("config/subscribers/all.csv", csv);
    emails
}

/// The faults fixture sending through `server`.
fn smtp_site(server: &SmtpServer, concurrency: usize, timeout_secs: u64) -> Site {
    server.site("faults", concurrency, timeout_secs)
}

/// The post slug a message carries, by its subject.
fn slug_of(m: &Received) -> &'static str {
    let subject = header(&m.data, "Subject");
    POSTS
        .iter()
        .find(|(_, title)| *title == subject)
        .map(|(slug, _)| *slug)
        .unwrap_or_else(|| panic!("unknown subject {subject:?}"))
}

/// How many messages each (post, address) got.
fn tally(messages: &[Received]) -> BTreeMap<(String, String), usize> {
    let mut out = BTreeMap::new();
    for m in messages {
        assert_eq!(m.to.len(), 1, "one recipient per message: {:?}", m.to);
        *out.entry((slug_of(m).to_string(), m.to[0].to_lowercase()))
            .or_insert(0) += 1;
    }
    out
}

fn status_json(site: &Site) -> Value {
    site.run_json(&["status", "--json"])
}

fn members(site: &Site) -> Value {
    site.run_json(&["subscribers", "list", "--json"])
}

/// (post slug, address) -> status, read from the journal without taking any lock a writer
/// would wait for.
fn journal(site: &Site) -> BTreeMap<(String, String), String> {
    let path = site.path("state/herald.db");
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut st = conn
        .prepare("SELECT post_slug, email_norm, status FROM deliveries")
        .expect("the deliveries table");
    st.query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

fn count(journal: &BTreeMap<(String, String), String>, status: &str) -> usize {
    journal.values().filter(|s| *s == status).count()
}

/// xorshift64*: the kill moments, reproducible from `SEED`.
struct Rng(u64);

const SEED: u64 = 0x5eed_0f4e_7a1d;

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

// --- a relay that misbehaves ------------------------------------------------------------------

/// What the relay does to an address `sNNNN@example.com`, by `NNNN % 10`.
fn fault_of(addr: &str) -> usize {
    addr.trim_start_matches('s')
        .split('@')
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .map(|n| n % 10)
        .unwrap_or(9)
}

#[test]
fn a_misbehaving_relay_loses_nothing_and_duplicates_nothing() {
    // 60 addresses, two posts, concurrency 4, a 1 s timeout. By address (NNNN % 10):
    // 0: 550 to RCPT, always (a hard bounce); 1: 451 to the first message; 2: 421 to the first
    // message (and the line closed); 3: the line dropped in the middle of the first DATA;
    // 4: the first message stalled past the timeout; 5: 451 to every message until the relay
    // recovers (deferred past the run); 6: 450 to the first RCPT; 7-9: accepted.
    let recovered = Arc::new(AtomicBool::new(false));
    let r = recovered.clone();
    let server = SmtpServer::scripted(move |a: &Attempt| {
        let first = a.nth == 1;
        match (fault_of(a.to), a.stage) {
            (0, Stage::Rcpt) => Reply::code(550, "5.1.1 <x>: no such user"),
            (1, Stage::Message) if first => Reply::code(451, "4.3.0 try again later"),
            (2, Stage::Message) if first => Reply::code(421, "4.3.2 shutting down"),
            (3, Stage::Data) if first => Reply::Drop,
            (4, Stage::Message) if first => Reply::Stall,
            (5, Stage::Message) if !r.load(Ordering::SeqCst) => {
                Reply::code(451, "4.7.1 greylisted")
            }
            (6, Stage::Rcpt) if first => Reply::code(450, "4.2.1 mailbox busy"),
            _ => Reply::Accept,
        }
    });
    let site = smtp_site(&server, 4, 1);
    let emails = subscribers(&site, 60);
    let bounced: BTreeSet<&str> = emails
        .iter()
        .filter(|e| fault_of(e) == 0)
        .map(String::as_str)
        .collect();
    let late: Vec<&String> = emails.iter().filter(|e| fault_of(e) == 5).collect();

    // First run: everything but the bounces and the lasting 451s goes out; exit 75.
    let run = site.run(&["publish"]).code(75);
    assert!(
        run.stdout.contains("12 deferred"),
        "6 addresses x 2 posts stay deferred\n{run}"
    );
    assert!(run.stderr.contains("remain deferred"), "{run}");
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["deferred"], 12, "{status}");
    assert_eq!(status["last_run"]["outcome"], "deferred", "{status}");
    for addr in &late {
        assert!(server.messages_to(addr).is_empty());
    }
    // Everyone else got each post once; the bounces nothing.
    let got = tally(&server.messages());
    for e in &emails {
        for (slug, _) in POSTS {
            let n = got
                .get(&(slug.to_string(), e.clone()))
                .copied()
                .unwrap_or(0);
            let want = usize::from(fault_of(e) != 0 && fault_of(e) != 5);
            assert_eq!(n, want, "{slug} to {e} after the first run");
        }
    }
    // Nothing marked sent that the server did not take, and the other way round.
    let j = journal(&site);
    for ((slug, e), st) in &j {
        let n = got.get(&(slug.clone(), e.clone())).copied().unwrap_or(0);
        assert_eq!(
            st == "sent",
            n == 1,
            "{slug} to {e}: journal {st}, server {n}"
        );
    }

    // The 550s: recorded with the reply, the addresses bounced.
    let problems = status["problems"].as_array().expect("problems");
    for addr in &bounced {
        assert!(
            problems.iter().any(|p| p["email"] == *addr
                && p["status"] == "failed"
                && p["reply"].as_str().unwrap_or("").contains("550")),
            "{addr}: {status}"
        );
    }
    let all = members(&site);
    for m in all.as_array().expect("members") {
        let email = m["email"].as_str().unwrap();
        let want = if bounced.contains(email) {
            "bounced"
        } else {
            "active"
        };
        assert_eq!(m["status"], want, "{m}");
    }
    // One try in all: after the 550, the same run does not try the address for the next post.
    for a in &bounced {
        let n = server.attempts(Stage::Rcpt, a).len();
        assert_eq!(n, 1, "{a}: {n} RCPT attempts");
    }
    let rcpt_before: usize = bounced
        .iter()
        .map(|a| server.attempts(Stage::Rcpt, a).len())
        .sum();

    // The relay recovers: the next run sends the deferred mail, once, and exits 0.
    recovered.store(true, Ordering::SeqCst);
    let run = site.run(&["publish"]).success();
    assert!(run.stdout.contains("mail: 12 sent, 0 deferred"), "{run}");
    let got = tally(&server.messages());
    for e in &emails {
        for (slug, _) in POSTS {
            let n = got
                .get(&(slug.to_string(), e.clone()))
                .copied()
                .unwrap_or(0);
            let want = usize::from(fault_of(e) != 0);
            assert_eq!(n, want, "{slug} to {e}: exactly once, bounces never");
        }
    }
    // Same Message-ID for the same (post, address) is checked by the kill test; here every
    // message is distinct.
    let ids: BTreeSet<String> = server
        .messages()
        .iter()
        .map(|m| header(&m.data, "Message-ID"))
        .collect();
    assert_eq!(ids.len(), server.messages().len());
    let status = status_json(&site);
    let d = &status["deliveries"];
    assert_eq!(d["sent"], 108, "{status}");
    assert_eq!(d["deferred"], 0, "{status}");
    assert_eq!(d["pending"], 0, "{status}");
    assert_eq!(
        d["failed"].as_i64().unwrap() + d["cancelled"].as_i64().unwrap(),
        12,
        "the bounced addresses' deliveries: {status}"
    );
    // A bounced address is never tried again.
    let rcpt_after: usize = bounced
        .iter()
        .map(|a| server.attempts(Stage::Rcpt, a).len())
        .sum();
    assert_eq!(rcpt_after, rcpt_before, "a bounced address was tried again");

    // A third run has nothing to do.
    let before = server.messages().len();
    site.run(&["publish"]).success();
    assert_eq!(server.messages().len(), before);
}

// --- kill -9 in the middle of a large send ----------------------------------------------------

#[test]
fn kill_9_during_a_large_send_loses_nothing_and_duplicates_at_most_concurrency() {
    const N: usize = 3_000;
    const CONCURRENCY: usize = 4;
    let server = SmtpServer::start();
    let site = smtp_site(&server, CONCURRENCY, 30);
    site.remove("content/posts/2025-05-02-second.md");
    let emails = subscribers(&site, N);
    let mut rng = Rng(SEED);
    let mut kills = Vec::new();

    for round in 0..2 {
        let already = server.messages().len();
        // A seeded moment within the send: after 100 to ~1,300 more messages.
        let at = already + 100 + rng.below(1_200) as usize;
        let mut run = site.spawn(&["publish"]);
        let reached = server.wait_for_messages(at, Duration::from_secs(60));
        assert!(
            reached && run.running(),
            "round {round}: the send ended before message {at}"
        );
        run.kill9();
        kills.push(at);
        // At most `concurrency` deliveries are between `sending` and `sent`.
        let j = journal(&site);
        let sending = count(&j, "sending");
        assert!(
            sending <= CONCURRENCY,
            "round {round} (kill at {at}): {sending} deliveries unconfirmed"
        );
        // Nothing is `sent` that the server did not take. (A message the server took may
        // still be `sending`: that is the duplicate window.)
        std::thread::sleep(Duration::from_millis(50));
        let got = tally(&server.messages());
        for ((slug, e), st) in &j {
            if st == "sent" {
                assert!(
                    got.contains_key(&(slug.clone(), e.clone())),
                    "{e} sent but not received"
                );
            }
        }
    }

    // Reruns until done (one should do).
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 3, "still not done after {runs} reruns");
        if site
            .run(&["publish"])
            .success()
            .stdout
            .contains("0 deferred")
        {
            break;
        }
    }
    let messages = server.messages();
    let got = tally(&messages);
    let lost: Vec<&String> = emails
        .iter()
        .filter(|e| !got.contains_key(&("first".to_string(), (*e).clone())))
        .collect();
    assert!(lost.is_empty(), "kills at {kills:?} lost {lost:?}");
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= CONCURRENCY * kills.len(),
        "kills at {kills:?}: {duplicates} duplicates (allowed {})",
        CONCURRENCY * kills.len()
    );
    assert_eq!(messages.len(), N + duplicates);
    // A duplicate is the same message: same Message-ID, so the receiver can drop it.
    let mut ids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for m in &messages {
        ids.entry(m.to[0].to_lowercase())
            .or_default()
            .insert(header(&m.data, "Message-ID"));
    }
    assert!(
        ids.values().all(|s| s.len() == 1),
        "a re-send changed its Message-ID"
    );
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["sent"], N, "{status}");
    assert_eq!(status["deliveries"]["pending"], 0, "{status}");
    eprintln!("kill -9 at messages {kills:?}: {duplicates} duplicates");
}

// --- kill -9 in the middle of a feed build ----------------------------------------------------

/// A site of `n` small posts with 40 tags, every feed holding every post (`limit: 0`), so a
/// build writes a few hundred files and some megabytes.
fn big_site(title: &str, n: usize) -> Site {
    let site = Site::empty();
    site.write(
        "config/herald.yaml",
        format!(
            "site:\n  title: {title}\n  base_url: https://big.example.com/\nfeeds:\n  limit: 0\n"
        ),
    );
    for i in 0..n {
        site.write(
            &format!("content/posts/p{i:05}.md"),
            format!(
                "---\ntitle: Post {i}\ndate: 2025-0{}-{:02} {:02}:{:02}\ntags: [t{}, t{}]\n---\n\nPost {i} says *hello*, [twice](/p/{i}/).\n",
                1 + i % 5,
                1 + i % 28,
                i % 24,
                i % 60,
                i % 40,
                (i * 7) % 40
            ),
        );
    }
    site
}

/// Copies `from`'s site (every file, public/ and state/ included) into a fresh site.
fn clone_site(from: &Site) -> Site {
    let to = Site::empty();
    for (rel, bytes) in from.files("") {
        to.write(&rel, bytes);
    }
    to
}

#[test]
fn kill_9_during_a_build_leaves_every_feed_old_or_new() {
    let old_site = big_site("Old Title", 2_000);
    old_site.build();
    let old = old_site.files("public");
    assert!(old.len() > 100, "{} files", old.len());

    // The same change on a copy, built to the end: the new bytes of every file.
    let change = |site: &Site| {
        let c = site
            .read("config/herald.yaml")
            .replace("Old Title", "New Title");
        site.write("config/herald.yaml", c);
    };
    let new_site = clone_site(&old_site);
    change(&new_site);
    let start = Instant::now();
    new_site.build();
    let build_time = start.elapsed();
    let new = new_site.files("public");
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>()
    );
    assert!(old.iter().all(|(k, v)| new[k] != *v), "every file changes");

    let mut rng = Rng(SEED ^ 0xfeed);
    let mut mixed = 0;
    for round in 0..3 {
        let site = clone_site(&old_site);
        change(&site);
        let first = site.path("public/rss.xml");
        let before = std::fs::metadata(&first).unwrap().modified().unwrap();
        let mut run = site.spawn(&["build"]);
        if round == 0 {
            // Right after the first file was replaced: in the middle of the writes.
            let deadline = Instant::now() + Duration::from_secs(60);
            while std::fs::metadata(&first).unwrap().modified().unwrap() == before {
                assert!(Instant::now() < deadline && run.running(), "no write seen");
                std::thread::sleep(Duration::from_micros(200));
            }
        } else {
            // Anywhere in the build, loading and rendering included.
            let wait = rng.below(build_time.as_millis() as u64 + 1);
            std::thread::sleep(Duration::from_millis(wait));
        }
        if !run.running() {
            continue;
        }
        run.kill9();
        let now = site.files("public");
        let (mut olds, mut news) = (0, 0);
        for (rel, bytes) in &now {
            if let Some(o) = old.get(rel) {
                if bytes == o {
                    olds += 1;
                } else {
                    assert!(
                        new.get(rel) == Some(bytes),
                        "round {round}: {rel} is neither the old nor the new file (torn)"
                    );
                    news += 1;
                }
            } else {
                // Anything else is a temp file, and not named like a feed.
                let name = rel.rsplit('/').next().unwrap();
                assert!(
                    name.starts_with(".herald-") && name.ends_with(".tmp"),
                    "round {round}: {rel} left behind"
                );
            }
        }
        assert_eq!(
            olds + news,
            old.len(),
            "round {round}: a feed file vanished"
        );
        if olds > 0 && news > 0 {
            mixed += 1;
        }
        eprintln!(
            "round {round}: {olds} old, {news} new, {} temp files",
            now.len() - olds - news
        );
        // The next build finishes the job: every file new, nothing stale kept.
        site.build();
        for (rel, bytes) in &new {
            assert_eq!(
                &site.read_bytes(rel),
                bytes,
                "round {round}: {rel} after a rebuild"
            );
        }
    }
    assert!(mixed >= 1, "no kill landed in the middle of the writes");
}

// --- overlapping runs --------------------------------------------------------------------------

#[test]
fn two_publishes_started_together_send_everything_once() {
    // (tests/newsletter.rs shows a second run exiting 75 while the first sends; here both start
    // at the same instant, so they race for the lock itself.)
    let gate = Gate::new();
    let server = SmtpServer::scripted(Rules::new().always(
        Stage::Message,
        "*",
        Reply::hold(&gate, Reply::Accept),
    ));
    let site = smtp_site(&server, 2, 30);
    let emails = subscribers(&site, 10);
    let a = site.spawn(&["publish"]);
    let b = site.spawn(&["publish"]);
    assert!(
        gate.wait_reached(1, Duration::from_secs(60)),
        "no run reached the server"
    );
    // The loser is already gone, with 75, though the winner is still held at the gate.
    let start = Instant::now();
    let mut pending = vec![a, b];
    let loser = loop {
        if let Some(i) = pending.iter_mut().position(|r| !r.running()) {
            break pending.remove(i);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "neither run gave way"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let Run { code, stderr, .. } = loser.finish().no_panic();
    assert_eq!(code, Some(75), "{stderr}");
    assert!(
        stderr.contains("another publish holds state/publish.lock"),
        "{stderr}"
    );
    gate.open();
    let Run { code, stderr, .. } = pending.pop().unwrap().finish().no_panic();
    assert_eq!(code, Some(0), "{stderr}");
    let got = tally(&server.messages());
    assert_eq!(got.len(), emails.len() * POSTS.len());
    assert!(got.values().all(|n| *n == 1), "{got:?}");
}

#[test]
fn a_stale_lock_file_does_not_block_the_next_run() {
    // What a run killed while holding the lock leaves: the file, with nobody's lock on it.
    let site = Site::fixture("faults");
    site.write("state/publish.lock", "4242\n");
    let start = Instant::now();
    let run = site.run(&["publish"]).success();
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "it waited for a lock"
    );
    assert!(run.stdout.contains("mail: 4 sent"), "{run}");
    // And one killed for real, holding the lock in the middle of its work, neither.
    let site = big_site("Locked", 300);
    let mut run = site.spawn(&["publish"]);
    let lock = site.path("state/publish.lock");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !lock.exists() {
        assert!(Instant::now() < deadline && run.running(), "no lock taken");
        std::thread::sleep(Duration::from_millis(1));
    }
    run.kill9();
    site.run(&["publish"]).success();
}

// --- the state database: locked, corrupt ------------------------------------------------------

#[test]
fn a_state_database_locked_past_the_busy_timeout_is_a_clear_error_and_nothing_is_sent() {
    // src/state/db.rs waits 30 s for another process's lock (a stuck `sqlite3` shell, say).
    // After that: exit 1 naming the file, no mail, no delivery marked; the next run, with
    // the lock gone, sends everything. (The one test that takes 30 s of wall time.)
    let site = Site::fixture("faults");
    let emails = subscribers(&site, 5);
    site.run(&["subscribers", "add", "s0000@example.com", "--list", "all"])
        .success();
    let conn = rusqlite::Connection::open(site.path("state/herald.db")).expect("open");
    conn.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let start = Instant::now();
    let run = site.run(&["publish"]).code(1);
    let waited = start.elapsed();
    conn.execute_batch("COMMIT").expect("unlock");
    drop(conn);
    assert!(
        waited >= Duration::from_secs(29),
        "gave up after {waited:?}\n{run}"
    );
    assert!(run.stderr.contains("state/herald.db"), "{run}");
    assert!(
        run.stderr
            .contains("database is locked: another process held it for over 30 s"),
        "the reason is given\n{run}"
    );
    assert!(!site.exists("outbox"), "mail went out under a foreign lock");
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["sent"], 0, "{status}");

    site.run(&["publish"]).success();
    assert_eq!(site.files("outbox").len(), emails.len() * POSTS.len());
}

#[test]
fn a_locked_state_database_makes_publish_wait_then_succeed() {
    // A lock held for a moment, as `serve` or a second tool would, makes publish wait, then
    // finish normally (a lock held past the busy timeout: the test above).
    let site = Site::fixture("faults");
    let emails = subscribers(&site, 5);
    // The database exists (and is in WAL mode) before the lock is taken.
    site.run(&["subscribers", "add", "s0000@example.com", "--list", "all"])
        .success();

    let conn = rusqlite::Connection::open(site.path("state/herald.db")).expect("open");
    conn.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    let start = Instant::now();
    let mut run = site.spawn(&["publish"]);
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(run.running(), "publish did not wait for the lock");
    assert!(!site.exists("outbox"), "mail went out under a foreign lock");
    conn.execute_batch("COMMIT").expect("unlock");
    let Run { code, stderr, .. } = run.finish().no_panic();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(start.elapsed() >= Duration::from_millis(1_500));
    assert_eq!(site.files("outbox").len(), emails.len() * POSTS.len());
}

#[test]
fn writers_in_other_processes_make_a_change_wait_not_fail() {
    // Two processes changing subscribers at once, as `serve` (a confirmation, an unsubscribe)
    // and `publish` (the CSV merge, the journal) do. A transaction that read before it wrote
    // used to fail at once with "database is locked" instead of waiting its turn.
    let site = Site::fixture("faults");
    site.run(&["subscribers", "add", "s0000@example.com", "--list", "all"])
        .success();
    const N: usize = 80;
    let failures = std::thread::scope(|s| {
        let adder = s.spawn(|| {
            (0..N)
                .map(|i| {
                    let a = format!("w{i}@example.com");
                    site.run(&["subscribers", "add", &a, "--list", "all"])
                })
                .filter(|r| r.code != Some(0))
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
        });
        let mut failures = Vec::new();
        for i in 0..N {
            let a = format!("x{i}@example.com");
            for args in [
                &["subscribers", "add", &a, "--list", "all"][..],
                &["subscribers", "remove", &a],
            ] {
                let run = site.run(args);
                if run.code != Some(0) {
                    failures.push(run.to_string());
                }
            }
        }
        failures.extend(adder.join().expect("the other writer"));
        failures
    });
    assert!(
        failures.is_empty(),
        "{} failed, first:\n{}",
        failures.len(),
        failures[0]
    );
}

#[test]
fn a_corrupt_state_database_is_a_clear_error_and_nothing_is_sent() {
    let server = SmtpServer::start();
    let site = smtp_site(&server, 2, 2);
    subscribers(&site, 5);
    site.write(
        "state/herald.db",
        b"this is not a database, it is garbage \x00\xff\xfe".repeat(300),
    );
    for args in [&["publish"][..], &["status"], &["publish", "--dry-run"]] {
        let run = site.run(args).code(1);
        assert!(run.stderr.contains("state/herald.db"), "{args:?}: {run}");
        assert!(
            run.stderr.contains("not a database"),
            "{args:?}: the reason is given\n{run}"
        );
        assert!(run.stderr.lines().count() <= 3, "{run}");
    }
    assert_eq!(server.sessions(), 0, "the server was contacted");
    // The garbage is left for the owner to inspect, not replaced.
    assert!(
        site.read_bytes("state/herald.db")
            .starts_with(b"this is not a database")
    );
}

// --- an outbox or public/ that cannot be written ------------------------------------------------

#[test]
fn an_unwritable_outbox_stops_the_run_and_marks_nothing_sent() {
    let site = Site::fixture("faults");
    let emails = subscribers(&site, 8);
    // A file where the outbox folder should be: every write into it fails (as root, permission
    // bits would not stop anything).
    site.write("outbox", "not a folder\n");
    let run = site.run(&["publish"]).code(1);
    assert!(run.stderr.contains("outbox"), "the path is named: {run}");
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["sent"], 0, "{status}");
    assert_eq!(
        status["deliveries"]["pending"].as_i64().unwrap()
            + status["deliveries"]["deferred"].as_i64().unwrap(),
        (emails.len() * POSTS.len()) as i64,
        "every delivery still open: {status}"
    );
    assert!(
        status["last_run"]["outcome"]
            .as_str()
            .unwrap_or("")
            .starts_with("error"),
        "{status}"
    );
    // Fixed: the next run delivers each message once.
    site.remove("outbox");
    site.run(&["publish"]).success();
    assert_eq!(site.files("outbox").len(), emails.len() * POSTS.len());
    assert_eq!(status_json(&site)["deliveries"]["sent"], 16);
}

#[test]
fn an_unwritable_public_dir_stops_the_run_before_any_mail() {
    let server = SmtpServer::start();
    let site = smtp_site(&server, 2, 2);
    subscribers(&site, 4);
    site.write("public", "not a folder\n");
    let run = site.run(&["publish"]).code(1);
    assert!(run.stderr.contains("public"), "{run}");
    assert_eq!(server.sessions(), 0);
    let status = status_json(&site);
    assert_eq!(status["deliveries"]["sent"], 0, "{status}");
    site.remove("public");
    site.run(&["publish"]).success();
    assert_eq!(server.messages().len(), 8);
}

/// Runs `script` as root in a private mount namespace (`unshare -rm`), with `$SITE`,
/// `$HERALD` and `$NOW` set; `None` when this machine cannot make one (then the test says so
/// and checks nothing more: the file-in-the-way tests above still run).
fn in_namespace(site: &Site, script: &str) -> Option<(Option<i32>, String)> {
    // Can this machine make one, with a tmpfs in it? (Probed on an empty folder of the site.)
    let probe_dir = site.path("probe");
    std::fs::create_dir_all(&probe_dir).expect("probe dir");
    let probe = std::process::Command::new("unshare")
        .args(["-rm", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs \"$0\""])
        .arg(&probe_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    std::fs::remove_dir(&probe_dir).expect("remove the probe dir");
    if !probe.is_ok_and(|s| s.success()) {
        eprintln!("note: no mount namespace here (unshare -rm); full-disk check skipped");
        return None;
    }
    let mut cmd = site.wrap("unshare", &["-rm", "sh", "-c", script]);
    cmd.env("SITE", site.root())
        .env("HERALD", env!("CARGO_BIN_EXE_herald"))
        .env("NOW", NOW);
    let run = crate::support::site::run(cmd, &["unshare", "-rm", "sh", "-c", "…"]).no_panic();
    Some((run.code, run.stderr))
}

#[test]
fn a_full_disk_under_the_outbox_marks_sent_only_what_was_written() {
    let site = Site::fixture("faults");
    let emails = subscribers(&site, 40);
    std::fs::create_dir_all(site.path("outbox")).unwrap();
    // A 64 KiB tmpfs on outbox/: room for a few of the 80 messages. What is in it when herald
    // stops is copied out before the namespace (and the tmpfs) goes.
    let script = r#"
        mount -t tmpfs -o size=64k tmpfs "$SITE/outbox" || exit 99
        code=0
        "$HERALD" --site "$SITE" --now "$NOW" publish >/dev/null || code=$?
        mkdir -p "$SITE/written" && cp -r "$SITE/outbox/." "$SITE/written/"
        exit $code
    "#;
    let Some((code, stderr)) = in_namespace(&site, script) else {
        return;
    };
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("outbox"), "{stderr}");
    let written = site.files("written");
    assert!(
        !written.is_empty() && written.len() < 80,
        "{} written",
        written.len()
    );
    // Every file there is a whole message, and exactly those deliveries are `sent`.
    let j = journal(&site);
    let sent: BTreeSet<String> = j
        .iter()
        .filter(|(_, s)| *s == "sent")
        .map(|((slug, e), _)| format!("written/{slug}/{e}.eml"))
        .collect();
    let files: BTreeSet<String> = written
        .iter()
        .filter(|(k, _)| !k.rsplit('/').next().unwrap().starts_with('.'))
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(
        sent, files,
        "journal `sent` and files on the full disk differ"
    );
    for (k, bytes) in &written {
        if files.contains(k) {
            let msg = mail_parser::MessageParser::default()
                .parse(bytes)
                .expect("a message");
            assert!(msg.body_html(0).is_some(), "{k} is cut short");
        }
    }
    // Room again (the tmpfs is gone): the next run sends the rest, nothing twice.
    site.run(&["publish"]).success();
    let rest = site.files("outbox").len();
    assert_eq!(rest + files.len(), emails.len() * POSTS.len());
    assert_eq!(status_json(&site)["deliveries"]["sent"], 80);
}

#[test]
fn a_full_disk_under_public_fails_the_build_before_any_mail() {
    let site = Site::fixture("faults");
    subscribers(&site, 3);
    // Every post carries a long body, so that the feeds outgrow a 16 KiB tmpfs.
    for slug in ["first", "second"] {
        let path = format!(
            "content/posts/2025-05-0{}-{slug}.md",
            if slug == "first" { 1 } else { 2 }
        );
        let text = site.read(&path);
        site.write(
            &path,
            format!("{text}\n{}\n", "A long paragraph of words. ".repeat(400)),
        );
    }
    let expected = {
        let copy = clone_site(&site);
        copy.build();
        copy.files("public")
    };
    std::fs::create_dir_all(site.path("public")).unwrap();
    let script = r#"
        mount -t tmpfs -o size=16k tmpfs "$SITE/public" || exit 99
        code=0
        "$HERALD" --site "$SITE" --now "$NOW" publish >/dev/null || code=$?
        mkdir -p "$SITE/written" && cp -r "$SITE/public/." "$SITE/written/"
        exit $code
    "#;
    let Some((code, stderr)) = in_namespace(&site, script) else {
        return;
    };
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    // Each feed that made it is whole; no mail was planned or sent.
    for (rel, bytes) in site.files("written") {
        let name = rel.trim_start_matches("written/");
        if name.rsplit('/').next().unwrap().starts_with(".herald-") {
            continue;
        }
        assert_eq!(
            Some(&bytes),
            expected.get(&format!("public/{name}")),
            "{name} is torn"
        );
    }
    assert!(!site.exists("outbox"), "mail went out after a failed build");
    assert_eq!(status_json(&site)["deliveries"]["sent"], 0);
    site.run(&["publish"]).success();
    assert_eq!(site.files("outbox").len(), 6);
}

#[test]
fn one_recipient_whose_mail_cannot_be_built_fails_alone() {
    // A row no CSV or command would let in (an address lettre cannot parse), written straight
    // into the state: that delivery fails with the reason, everyone else still gets the mail.
    let site = Site::fixture("faults");
    site.write("config/subscribers/all.csv", "email,name\n");
    for e in ["a@example.com", "b@example.com", "c@example.com"] {
        site.run(&["subscribers", "add", e, "--list", "all"])
            .success();
    }
    let db = rusqlite::Connection::open(site.path("state/herald.db")).expect("open state");
    db.execute(
        "UPDATE subscribers SET email = 'b at example' WHERE email_norm = 'b@example.com'",
        [],
    )
    .expect("corrupt one address");
    drop(db);
    let run = site.run(&["publish"]).success();
    assert!(
        run.stdout.contains("mail: 4 sent, 0 deferred, 2 failed"),
        "{run}"
    );
    assert!(run.stderr.contains("the mail could not be built"), "{run}");
    assert_eq!(site.files("outbox").len(), 4, "{:?}", site.files("outbox"));
}

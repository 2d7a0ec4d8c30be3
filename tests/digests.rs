//! Digest lists and the stale-send guard (README "Digests" and "The delivery guarantee"): the
//! real binary run by a simulated cron with `--now` stepping across months and DST changes,
//! mailing through the scripted SMTP server on 127.0.0.1.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Duration as Span, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use crate::support::Site;
use crate::support::mail::header;
use crate::support::smtp::{Received, SmtpServer};

const BASE: &str = "https://weekly.example.com/";

/// A site in `tz` with a per-post list `every` (ann, both) and a digest list `weekly` (bob,
/// both) whose `digest:` is `digest`, mailing through `server` when given.
fn digest_site(tz: &str, start: &str, digest: &str, server: Option<&SmtpServer>) -> Site {
    let site = Site::empty();
    site.write(
        "config/herald.yaml",
        format!(
            "site:\n  title: Weekly Notes\n  base_url: {BASE}\n  timezone: {tz}\n\
             newsletter:\n  start: {start}\n  from: {{ name: Weekly Notes, email: letters@weekly.example.com }}\n  \
             transport: outbox\n  lists:\n    - id: every\n      name: Every post\n      tags: [\"*\"]\n      \
             subscribers: config/subscribers/every.csv\n    - id: weekly\n      name: Weekly roundup\n      \
             tags: [\"*\"]\n      subscribers: config/subscribers/weekly.csv\n      digest: {digest}\n\
             serve:\n  public_url: {BASE}herald/\n"
        ),
    );
    site.write(
        "config/subscribers/every.csv",
        "email,name\nann@example.com,Ann\nboth@example.com,Both\n",
    );
    site.write(
        "config/subscribers/weekly.csv",
        "email,name\nbob@example.com,Bob\nboth@example.com,Both\n",
    );
    if let Some(server) = server {
        site.use_smtp(&server.config_yaml(1, 10));
    }
    site
}

/// Writes a post `slug` dated `date` (RFC 3339).
fn post(site: &Site, slug: &str, date: &str, title: &str) {
    site.write(
        &format!("content/posts/{slug}.md"),
        format!("---\ntitle: \"{title}\"\ndate: {date}\ntags: [notes]\n---\nThe body of {slug}.\n"),
    );
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Runs `publish` at `now`; returns the run.
fn publish_at(site: &mut Site, now: DateTime<Utc>) -> crate::support::Run {
    site.set_now(&rfc(now));
    site.run(&["publish"])
}

/// The post slugs a message links, in order (each post's "/posts/SLUG/" URL, once).
fn posts_in(m: &[u8]) -> Vec<String> {
    let parsed = mail_parser::MessageParser::default()
        .parse(m)
        .expect("a parsable message");
    let text = parsed.body_text(0).expect("a text part").to_string();
    let mut out = Vec::new();
    for piece in text.split(&format!("{BASE}posts/")).skip(1) {
        let slug: String = piece
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        if !out.contains(&slug) {
            out.push(slug);
        }
    }
    out
}

/// The list a message came from, by its `List-Id`.
fn list_of(m: &Received) -> String {
    let id = header(&m.data, "List-Id");
    let inner = id.rsplit('<').next().unwrap_or_default();
    inner.split('.').next().unwrap_or_default().to_string()
}

/// Every digest the journal fixed: campaign key -> addresses.
fn digest_campaigns(site: &Site) -> BTreeMap<String, BTreeSet<String>> {
    let conn = rusqlite::Connection::open(site.path("state/herald.db")).unwrap();
    let mut st = conn
        .prepare(
            "SELECT post_slug, email_norm, status FROM deliveries WHERE post_slug LIKE 'digest:%'",
        )
        .unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .unwrap()
    {
        let (key, email, status) = row.unwrap();
        assert_eq!(status, "sent", "{key} to {email}");
        out.entry(key).or_default().insert(email);
    }
    out
}

/// The weekly slots (local `weekday` at `at`, in `tz`) from `from` to `to`, as UTC instants.
fn weekly_slots(
    tz: Tz,
    weekday: chrono::Weekday,
    at: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<DateTime<Utc>> {
    let at = NaiveTime::parse_from_str(at, "%H:%M").unwrap();
    let mut out = Vec::new();
    let mut d = from;
    while d <= to {
        if d.weekday() == weekday {
            let local = d.and_time(at);
            let t = tz
                .from_local_datetime(&local)
                .earliest()
                .unwrap_or_else(|| tz.from_local_datetime(&(local + Span::hours(1))).unwrap());
            out.push(t.with_timezone(&Utc));
        }
        d = d.succ_opt().unwrap();
    }
    out
}

use chrono::Datelike;

/// Four months of cron runs every six hours in Europe/London (across the March DST change): the
/// weekly digest and the per-post list each mail everything exactly once, in the right slot.
#[test]
fn a_weekly_digest_and_a_per_post_list_run_side_by_side_for_months() {
    let server = SmtpServer::start();
    let mut site = digest_site(
        "Europe/London",
        "2026-02-01",
        "{ every: week, weekday: mon, at: \"08:00\" }",
        Some(&server),
    );
    let london: Tz = "Europe/London".parse().unwrap();
    // Posts around slot boundaries (Monday 08:00 local), across 29 March (GMT -> BST), and a
    // three-week gap with none.
    let posts: &[(&str, &str)] = &[
        ("before-start", "2026-01-20T10:00:00Z"),
        ("first", "2026-02-03T09:00:00Z"),
        ("second", "2026-02-06T18:00:00Z"),
        ("just-before-slot", "2026-02-09T07:59:00Z"),
        ("on-the-slot", "2026-02-09T08:00:00Z"),
        ("just-after-slot", "2026-02-09T08:01:00Z"),
        ("winter", "2026-02-25T12:00:00Z"),
        ("night-of-the-change", "2026-03-29T01:30:00Z"),
        ("bst-before-slot", "2026-03-30T07:30:00+01:00"),
        ("bst-after-slot", "2026-03-30T08:30:00+01:00"),
        ("april", "2026-04-08T12:00:00+01:00"),
        ("may-one", "2026-05-05T12:00:00+01:00"),
        ("may-two", "2026-05-06T12:00:00+01:00"),
    ];
    for (slug, date) in posts {
        post(&site, slug, date, &format!("Post {slug}"));
    }
    let start = Utc.with_ymd_and_hms(2026, 2, 1, 0, 17, 0).unwrap();
    let end = Utc.with_ymd_and_hms(2026, 5, 31, 23, 0, 0).unwrap();
    let mut now = start;
    let mut runs = Vec::new();
    while now <= end {
        let run = publish_at(&mut site, now);
        assert!(run.code == Some(0), "{run}");
        runs.push(now);
        now += Span::hours(6);
    }

    // What should have happened, worked out here from the posts and the calendar.
    let slots = weekly_slots(
        london,
        chrono::Weekday::Mon,
        "08:00",
        NaiveDate::from_ymd_opt(2026, 1, 26).unwrap(),
        NaiveDate::from_ymd_opt(2026, 5, 31).unwrap(),
    );
    let due = |slug: &str| {
        let date = posts.iter().find(|(s, _)| *s == slug).unwrap().1;
        DateTime::parse_from_rfc3339(date)
            .unwrap()
            .with_timezone(&Utc)
    };
    let mailable: Vec<&str> = posts
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| *s != "before-start")
        .collect();
    let mut want_digests: Vec<(DateTime<Utc>, Vec<String>)> = Vec::new();
    for w in slots.windows(2) {
        let in_it: Vec<String> = mailable
            .iter()
            .filter(|s| due(s) > w[0] && due(s) <= w[1])
            .map(|s| s.to_string())
            .collect();
        if !in_it.is_empty() {
            want_digests.push((w[1], in_it));
        }
    }
    assert_eq!(want_digests.len(), 7, "{want_digests:?}");
    // The BST slot is 07:00 UTC, the GMT one 08:00.
    assert!(
        want_digests
            .iter()
            .any(|(t, _)| *t == Utc.with_ymd_and_hms(2026, 3, 30, 7, 0, 0).unwrap())
    );

    let messages = server.messages();
    let mut digests_got: BTreeMap<String, Vec<Vec<String>>> = BTreeMap::new();
    let mut posts_got: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in &messages {
        assert_eq!(m.to.len(), 1);
        let to = m.to[0].clone();
        match list_of(m).as_str() {
            "weekly" => digests_got.entry(to).or_default().push(posts_in(&m.data)),
            "every" => {
                let linked = posts_in(&m.data);
                assert_eq!(linked.len(), 1, "one post per per-post mail: {linked:?}");
                posts_got.entry(to).or_default().push(linked[0].clone());
            }
            other => panic!("unexpected list {other}"),
        }
    }
    let want: Vec<Vec<String>> = want_digests.iter().map(|(_, p)| p.clone()).collect();
    for who in ["bob@example.com", "both@example.com"] {
        assert_eq!(digests_got.get(who), Some(&want), "{who}'s digests");
    }
    assert!(
        !digests_got.contains_key("ann@example.com"),
        "ann chose no digest"
    );
    let every: Vec<String> = mailable.iter().map(|s| s.to_string()).collect();
    for who in ["ann@example.com", "both@example.com"] {
        let mut got = posts_got.get(who).cloned().unwrap_or_default();
        got.sort();
        let mut want = every.clone();
        want.sort();
        assert_eq!(got, want, "{who}'s per-post mail: each post once");
    }
    assert!(
        !posts_got.contains_key("bob@example.com"),
        "bob chose only the digest"
    );

    // Each digest went out in the first run at or after its slot, keyed by the slot itself.
    let campaigns = digest_campaigns(&site);
    let keys: Vec<String> = want_digests
        .iter()
        .map(|(t, _)| format!("digest:weekly:{}", t.format("%Y-%m-%dT%H:%MZ")))
        .collect();
    assert_eq!(campaigns.keys().cloned().collect::<Vec<_>>(), keys);
    let digest_dates: Vec<DateTime<Utc>> = messages
        .iter()
        .filter(|m| m.is_to("bob@example.com"))
        .map(|m| {
            DateTime::parse_from_rfc2822(&header(&m.data, "Date"))
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect();
    for ((slot, _), sent) in want_digests.iter().zip(&digest_dates) {
        let first_run = runs.iter().find(|r| *r >= slot).unwrap();
        assert_eq!(
            sent, first_run,
            "the digest of {slot} went out at the first run after it"
        );
    }
    // The subject says how many posts, with the list's name.
    let subjects: BTreeSet<String> = messages
        .iter()
        .filter(|m| m.is_to("bob@example.com"))
        .map(|m| header(&m.data, "Subject"))
        .collect();
    assert!(
        subjects.contains("Weekly roundup: 4 new posts"),
        "{subjects:?}"
    );
    // Every digest carries the list headers of post mail.
    for m in messages.iter().filter(|m| list_of(m) == "weekly") {
        let unsub = header(&m.data, "List-Unsubscribe");
        assert!(
            unsub.starts_with(&format!("<{BASE}herald/unsubscribe?token=")),
            "{unsub}"
        );
        assert_eq!(
            header(&m.data, "List-Unsubscribe-Post"),
            "List-Unsubscribe=One-Click"
        );
    }
}

/// America/New_York leaves DST on 1 November 2026: a Sunday 01:30 digest (a time that happens
/// twice that night) goes out at the first 01:30, and an hour later in UTC from then on.
#[test]
fn slots_follow_the_site_time_zone_across_the_november_change() {
    let mut site = digest_site(
        "America/New_York",
        "2026-10-01",
        "{ every: week, weekday: sun, at: \"01:30\" }",
        None,
    );
    post(&site, "october", "2026-10-28T12:00:00-04:00", "October");
    post(&site, "november", "2026-11-04T12:00:00-05:00", "November");
    let mut now = Utc.with_ymd_and_hms(2026, 10, 20, 0, 0, 0).unwrap();
    while now <= Utc.with_ymd_and_hms(2026, 11, 10, 0, 0, 0).unwrap() {
        publish_at(&mut site, now).success();
        now += Span::minutes(30);
    }
    let campaigns = digest_campaigns(&site);
    assert_eq!(
        campaigns.keys().collect::<Vec<_>>(),
        [
            "digest:weekly:2026-11-01T05:30Z", // 01:30 EDT, the first of the two
            "digest:weekly:2026-11-08T06:30Z", // 01:30 EST
        ]
    );
    assert!(campaigns.values().all(|to| to.len() == 2));
    // The mail of the first went out at 05:30 UTC, the run at the slot itself.
    let bob = &site.read_bytes("outbox/digest:weekly:2026-11-01T05:30Z/bob@example.com.eml");
    let date = DateTime::parse_from_rfc2822(&header(bob, "Date")).unwrap();
    assert_eq!(
        date.with_timezone(&Utc),
        Utc.with_ymd_and_hms(2026, 11, 1, 5, 30, 0).unwrap()
    );
    assert_eq!(posts_in(bob), ["october"]);
}

/// The machine was off for three weeks: the next run sends one digest holding everything since
/// the last one, not three; a post edited after its digest went out is not sent again.
#[test]
fn missed_slots_fold_into_one_digest_and_an_edited_post_is_not_sent_again() {
    let server = SmtpServer::start();
    let mut site = digest_site(
        "UTC",
        "2026-01-01",
        "{ every: week, weekday: mon, at: \"08:00\" }",
        Some(&server),
    );
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    post(&site, "one", "2026-03-03T10:00:00Z", "One");
    publish_at(&mut site, at("2026-03-09T09:00:00Z")).success();
    let to_bob = |server: &SmtpServer| -> Vec<Vec<String>> {
        server
            .messages_to("bob@example.com")
            .iter()
            .map(|m| posts_in(&m.data))
            .collect()
    };
    assert_eq!(to_bob(&server), [["one"]]);

    // Off from 9 March to 1 April: posts in each of the three missed weeks.
    post(&site, "two", "2026-03-11T10:00:00Z", "Two");
    post(&site, "three", "2026-03-18T10:00:00Z", "Three");
    post(&site, "four", "2026-03-25T10:00:00Z", "Four");
    post(
        &site,
        "after-the-last-slot",
        "2026-03-31T10:00:00Z",
        "Later",
    );
    // And "one" is edited: a new title, a new body.
    post(&site, "one", "2026-03-03T10:00:00Z", "One, revised");
    let run = publish_at(&mut site, at("2026-04-01T12:00:00Z")).success();
    assert!(
        run.stderr
            .contains("digest weekly of 2026-03-30 08:00 UTC: 3 posts, 2 recipients"),
        "{run}"
    );
    assert_eq!(to_bob(&server), [vec!["one"], vec!["two", "three", "four"]]);
    assert_eq!(
        digest_campaigns(&site).keys().collect::<Vec<_>>(),
        [
            "digest:weekly:2026-03-09T08:00Z",
            "digest:weekly:2026-03-30T08:00Z"
        ]
    );
    // The post due after the last slot waits for the next one; status says so.
    let status = site.run_json(&["status", "--json"]);
    let weekly = &status["digests"][0];
    assert_eq!(weekly["list"], "weekly");
    assert_eq!(weekly["schedule"], "weekly on Monday at 08:00");
    assert_eq!(weekly["next_slot"], "2026-04-06T08:00:00+00:00");
    assert_eq!(
        weekly["waiting"],
        serde_json::json!(["after-the-last-slot"])
    );
    publish_at(&mut site, at("2026-04-06T08:00:00Z")).success();
    assert_eq!(to_bob(&server).last().unwrap(), &["after-the-last-slot"]);
    // Rerunning anything sends nothing more.
    let before = server.messages().len();
    publish_at(&mut site, at("2026-04-06T09:00:00Z")).success();
    publish_at(&mut site, at("2026-04-13T09:00:00Z")).success();
    assert_eq!(
        server.messages().len(),
        before,
        "an empty week sends nothing"
    );
}

/// `newsletter.start` bounds the first digest; a week without posts sends nothing.
#[test]
fn the_first_digest_starts_at_newsletter_start() {
    let mut site = digest_site(
        "UTC",
        "2026-03-04",
        "{ every: month, day: 1, at: \"06:00\" }",
        None,
    );
    post(&site, "archive", "2026-03-03T10:00:00Z", "Archive");
    post(&site, "new", "2026-03-05T10:00:00Z", "New");
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    publish_at(&mut site, at("2026-03-10T00:00:00Z")).success();
    assert!(
        digest_campaigns(&site).is_empty(),
        "no slot since start had posts"
    );
    publish_at(&mut site, at("2026-04-01T06:00:00Z")).success();
    let bob = site.read_bytes("outbox/digest:weekly:2026-04-01T06:00Z/bob@example.com.eml");
    assert_eq!(posts_in(&bob), ["new"]);
    assert_eq!(header(&bob, "Subject"), "Weekly roundup: 1 new posts");
}

/// A post that first becomes mailable more than `max_lateness` after it was due is not mailed:
/// one warning, listed by `status`, and `--send-late` mails it on purpose.
#[test]
fn a_late_post_is_skipped_listed_and_sent_only_with_send_late() {
    let mut site = digest_site(
        "UTC",
        "2026-01-01",
        "{ every: week, weekday: mon, at: \"08:00\" }",
        None,
    );
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    post(&site, "fresh", "2026-03-01T10:00:00Z", "Fresh");
    publish_at(&mut site, at("2026-03-02T09:00:00Z")).success();
    assert!(site.exists("outbox/fresh/ann@example.com.eml"));
    // Back-dated by ten days (default max_lateness: 7d).
    post(&site, "backdated", "2026-02-20T10:00:00Z", "Back-dated");
    let run = publish_at(&mut site, at("2026-03-02T10:00:00Z")).success();
    let warnings: Vec<&str> = run
        .stderr_lines()
        .into_iter()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert_eq!(
        warnings,
        [
            "warning: not mailing \"Back-dated\" (backdated): it became mailable 10 days after it was due, \
          more than newsletter.max_lateness; `herald publish --send-late backdated` mails it"
        ]
    );
    assert!(!site.exists("outbox/backdated"));
    // Said once: the next run is quiet about it.
    post(&site, "other", "2026-03-02T10:30:00Z", "Other");
    let run = publish_at(&mut site, at("2026-03-02T11:00:00Z")).success();
    assert!(!run.stderr.contains("backdated"), "{run}");
    let status = site.run_json(&["status", "--json"]);
    assert_eq!(status["skipped"][0]["slug"], "backdated", "{status}");
    let text = site.run(&["status"]).success().stdout;
    assert!(text.contains("skipped as late: 1"), "{text}");
    // The back-dated post is in no digest either: it is dated before the digest's window.
    publish_at(&mut site, at("2026-03-09T09:00:00Z")).success();
    let digest = site.read_bytes("outbox/digest:weekly:2026-03-09T08:00Z/bob@example.com.eml");
    assert_eq!(posts_in(&digest), ["other"]);

    // On purpose.
    site.run(&["publish", "--send-late", "no-such-post"])
        .code(1);
    let run = site.run(&["publish", "--send-late", "backdated"]).success();
    assert!(run.stdout.contains("mail: 2 sent"), "{run}");
    assert!(site.exists("outbox/backdated/ann@example.com.eml"));
    assert!(site.exists("outbox/backdated/both@example.com.eml"));
    assert!(!site.exists("outbox/backdated/bob@example.com.eml"));
    let status = site.run_json(&["status", "--json"]);
    assert_eq!(status["skipped"], serde_json::json!([]));
    // And once: a second --send-late finds it mailed.
    let before = site.files("outbox");
    let run = site
        .run(&["-v", "publish", "--send-late", "backdated"])
        .success();
    assert!(run.stderr.contains("nothing to send"), "{run}");
    assert_eq!(site.files("outbox"), before);
}

/// `--dry-run` shows the digest that would go out; `preview --digest` renders the next one.
#[test]
fn dry_run_and_preview_show_the_next_digest() {
    let mut site = digest_site(
        "UTC",
        "2026-01-01",
        "{ every: week, weekday: mon, at: \"08:00\", full_content: true, subject: \"{{count}} from {{site.title}}\" }",
        None,
    );
    let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
    post(&site, "alpha", "2026-03-03T10:00:00Z", "Alpha");
    post(&site, "beta", "2026-03-04T10:00:00Z", "Beta");
    site.set_now("2026-03-05T00:00:00Z");
    let preview = site.run(&["preview", "--digest", "weekly"]).success();
    assert!(
        preview.stdout.contains("outbox/preview/digest:weekly.eml"),
        "{preview}"
    );
    let eml = site.read_bytes("outbox/preview/digest:weekly.eml");
    assert_eq!(posts_in(&eml), ["alpha", "beta"]);
    assert_eq!(header(&eml, "Subject"), "2 from Weekly Notes");
    let html = site.read("outbox/preview/digest:weekly.html");
    assert!(
        html.contains("The body of alpha."),
        "full_content puts whole posts in"
    );
    site.run(&["preview", "--digest", "every"]).code(1);

    site.set_now(&rfc(at("2026-03-09T08:00:00Z")));
    let dry = site.run(&["publish", "--dry-run"]).success();
    assert!(
        dry.stdout.contains(
            "would mail the digest weekly of 2026-03-09 08:00 UTC (\"2 from Weekly Notes\", 2 posts) to 2 addresses"
        ),
        "{dry}"
    );
    assert!(!site.exists("state/herald.db") || digest_campaigns(&site).is_empty());
    site.run(&["publish"]).success();
    assert!(site.exists("outbox/digest:weekly:2026-03-09T08:00Z/both@example.com.eml"));
}

/// A `digest:` with a wrong key is reported at its line.
#[test]
fn a_bad_digest_setting_is_reported_at_its_line() {
    let site = digest_site(
        "UTC",
        "2026-01-01",
        "{ every: fortnight, weekday: mon, at: \"25:00\" }",
        None,
    );
    let run = site.run(&["check"]).code(1);
    assert_eq!(
        run.stderr_lines(),
        [
            "config/herald.yaml:18: invalid every \"fortnight\": expected day, week or month",
            "config/herald.yaml:18: `weekday` applies only to `every: week`",
            "config/herald.yaml:18: invalid at \"25:00\": expected a time of day such as 08:00",
        ]
    );
}

/// kill -9 in the middle of a digest's send: nothing lost, at most `concurrency` duplicates,
/// as for post mail.
#[test]
fn kill_9_during_a_digest_send_loses_nothing_and_duplicates_at_most_concurrency() {
    const N: usize = 2_000;
    const CONCURRENCY: usize = 4;
    let server = SmtpServer::start();
    let mut site = digest_site(
        "UTC",
        "2026-01-01",
        "{ every: week, weekday: mon, at: \"08:00\" }",
        None,
    );
    site.use_smtp(&server.config_yaml(CONCURRENCY, 30));
    let mut csv = String::from("email,name\n");
    for i in 0..N {
        csv.push_str(&format!("d{i:04}@example.com,\n"));
    }
    site.write("config/subscribers/weekly.csv", csv);
    site.write("config/subscribers/every.csv", "email,name\n");
    post(&site, "alpha", "2026-03-03T10:00:00Z", "Alpha");
    post(&site, "beta", "2026-03-04T10:00:00Z", "Beta");
    site.set_now("2026-03-09T09:00:00Z");
    let mut kills = 0;
    for at in [300, 1_100] {
        let mut run = site.spawn(&["publish"]);
        let reached = server.wait_for_messages(at, Duration::from_secs(60));
        assert!(
            reached && run.running(),
            "the send ended before message {at}"
        );
        run.kill9();
        kills += 1;
    }
    // The slot has passed long ago by the rerun: the digest is still the one fixed before.
    site.set_now("2026-03-09T13:00:00Z");
    site.run(&["publish"]).success();
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for m in server.messages() {
        assert_eq!(posts_in(&m.data), ["alpha", "beta"]);
        *got.entry(m.to[0].to_lowercase()).or_default() += 1;
    }
    assert_eq!(got.len(), N, "every member got the digest");
    let duplicates: usize = got.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= CONCURRENCY * kills,
        "{duplicates} duplicates (allowed {})",
        CONCURRENCY * kills
    );
    let status: Value = site.run_json(&["status", "--json"]);
    assert_eq!(status["deliveries"]["sent"], N, "{status}");
    assert_eq!(status["deliveries"]["pending"], 0, "{status}");
}

//! Property tests: whatever a post, the config or a subscriber CSV holds,
//! herald either accepts it and its output is right, or reports an error naming the file and
//! line; it never panics, and it stays within a bounded time and memory (never a panic, for any
//! input).
//!
//! Most properties call the library directly (`Config::parse`, `content::load`,
//! `feeds::render`, `lists::read_csv`, `slugify`, `dates::parse`, mail rendering), so each runs
//! a few hundred cases in well under a second per property; the case counts are kept modest so
//! the whole module stays within a few seconds in a debug build. The last tests run the real
//! binary on the nastiest inputs (YAML alias bombs, deep nesting, huge lines, out-of-range
//! dates), under a memory limit where the shell allows one.
//!
//! A failing case is printed by proptest with its shrunk input; add it as a literal test below
//! the property when fixing it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use chrono_tz::Tz;
use herald::config::{Config, one_line};
use herald::content::{self, Post, TagRef};
use herald::error::Error;
use herald::feeds;
use herald::newsletter::lists::{Invalid, read_csv, valid_address};
use herald::newsletter::render::{Mailer, Recipient};
use herald::newsletter::templates::Templates;
use herald::slug::slugify;
use mail_parser::MessageParser;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

use crate::support::Site;

/// Time zones the date properties read local times in: UTC, both sides of the date line, DST
/// in either hemisphere, half- and quarter-hour offsets.
const ZONES: &[&str] = &[
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
];

/// No property or end-to-end run may take longer than this (bounded time).
const SLOW: Duration = Duration::from_secs(20);

fn cases(n: u32) -> ProptestConfig {
    ProptestConfig {
        cases: n,
        // Shrinking a slow failure must not hang CI either.
        max_shrink_iters: 2_000,
        // A failure is printed with its shrunk input; no regression files in the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// One of `fixed`, or up to `n` pieces of [`nasty_text`].
fn one_of(fixed: &'static [&'static str], n: usize) -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(fixed).prop_map(str::to_string),
        nasty_text(n)
    ]
}

fn zone() -> impl Strategy<Value = Tz> {
    prop::sample::select(ZONES).prop_map(|z| z.parse::<Tz>().expect("a known zone"))
}

/// Text with the characters that break things: markup, quotes, YAML and CSV syntax, line
/// breaks of every kind, NUL and other controls, BOMs, right-to-left marks, non-characters,
/// combining marks, CJK, emoji, and letters whose lower case is longer than they are (`İ`).
fn nasty_text(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-zA-Z0-9 ]{1,8}",
        1 => prop::sample::select(vec![
            "<script>alert(1)</script>", "]]>", "&amp;", "&#1;", "\"", "'", "\\", "`", "---",
            "...", ": ", "#", "&a", "*a", "!!binary", "{", "}", "[", "]", ",", "|", ">", "%",
            "\r\n", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{7f}", "\u{85}", "\u{2028}",
            "\u{feff}", "\u{200f}", "\u{fffe}", "\u{ffff}", "\u{301}", "İ", "ß", "ǅ", "Σ",
            "夜の港", "🦀", "Bcc: evil@example.net", "../", "/", "..", "%2e%2e",
        ])
        .prop_map(str::to_string),
        1 => any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

/// `s` as a YAML double-quoted scalar that reads back as exactly `s` (JSON escapes are YAML
/// escapes; the characters YAML does not allow raw are escaped too).
fn yaml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                out.push_str(&format!("\\u{:04X}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The characters XML 1.0 can carry.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{fffe}' | '\u{ffff}'))
}

/// A site folder with the config `text`; the temp dir goes when the value is dropped.
struct Scratch {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::Builder::new()
            .prefix("herald-prop-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().join("site");
        std::fs::create_dir_all(root.join("content/posts")).expect("content dir");
        Scratch { _dir: dir, root }
    }

    fn config(&self, text: &str) -> herald::Result<Config> {
        Config::parse(&self.root, &self.root.join("config/herald.yaml"), text)
    }

    fn write_post(&self, name: &str, bytes: impl AsRef<[u8]>) {
        std::fs::write(self.root.join("content/posts").join(name), bytes).expect("write a post");
    }
}

const SITE: &str = "site:\n  title: Prop\n  base_url: https://prop.example.com/blog/\n";

/// Every diagnostic of `err` names `file` (and a line, when `line` is set).
fn assert_names(err: &Error, file: &str, line: bool) -> Result<(), TestCaseError> {
    match err {
        Error::Invalid(diags) => {
            prop_assert!(!diags.is_empty());
            for d in diags {
                let loc = d.location.as_ref();
                prop_assert!(
                    loc.is_some_and(|l| l.path == Path::new(file)),
                    "{d} does not name {file}"
                );
                if line {
                    prop_assert!(
                        loc.and_then(|l| l.line).is_some_and(|l| l >= 1),
                        "{d}: no line"
                    );
                }
                prop_assert!(!d.message.is_empty());
            }
        }
        other => prop_assert!(false, "expected diagnostics for {file}, got {other}"),
    }
    Ok(())
}

// --- slugs and dates ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(512))]

    /// README "Posts": lowercase, letters and digits kept, every other run one `-`, no `-` at
    /// either end, empty is `None`. Also: a slug is its own slug (so a tag typed as its slug is
    /// the same tag), and no slug can name a path (`/`, `.`, NUL).
    #[test]
    fn slugs_keep_only_lowercase_letters_digits_and_single_dashes(s in nasty_text(12)) {
        match slugify(&s) {
            None => prop_assert!(!s.chars().any(char::is_alphanumeric), "{s:?} has letters"),
            Some(slug) => {
                prop_assert!(!slug.is_empty());
                prop_assert!(
                    slug.chars().all(|c| c == '-' || c.is_alphanumeric()),
                    "{slug:?} keeps a character that is not a letter, digit or -"
                );
                prop_assert!(!slug.starts_with('-') && !slug.ends_with('-') && !slug.contains("--"));
                prop_assert_eq!(slug.to_lowercase(), slug.clone());
                prop_assert_eq!(slugify(&slug), Some(slug.clone()), "not stable");
            }
        }
    }

    /// Any text as a date, in any zone: a date or `None`, never a panic; and every date is one
    /// a feed can carry (four-digit year).
    #[test]
    fn any_text_is_a_date_or_none(s in prop_oneof![
        nasty_text(6),
        concat!(
            "[-+]?[0-9]{1,6}-[0-9]{1,2}-[0-9]{1,2}",
            "([ T][0-9]{1,2}:[0-9]{1,2}(:[0-9]{1,2})?)?(Z|[-+][0-9]{2}:[0-9]{2})?",
        ),
    ], tz in zone()) {
        if let Some(d) = herald::dates::parse(&s, tz) {
            prop_assert!((0..=9999).contains(&d.year()), "{s:?} -> {d}");
            // The forms feeds write must not fail (RFC 2822 panics on other years).
            let _ = (d.to_rfc2822(), d.to_rfc3339());
        }
    }

    /// Every accepted form reads back the instant it names: RFC 3339 exactly, local forms as
    /// that wall-clock time in the zone (or an hour later, inside a DST gap).
    #[test]
    fn every_date_form_reads_back(
        y in 0i32..=9999, mo in 1u32..=12, d in 1u32..=28, h in 0u32..24, mi in 0u32..60,
        s in 0u32..60, off in -(14 * 60)..=(14 * 60i32), tz in zone(), form in 0usize..5,
    ) {
        let naive = NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_hms_opt(h, mi, s).unwrap();
        let text = match form {
            0 => format!(
                "{}{}{:02}:{:02}",
                naive.format("%Y-%m-%dT%H:%M:%S"),
                if off < 0 { '-' } else { '+' },
                off.abs() / 60,
                off.abs() % 60
            ),
            1 => naive.format("%Y-%m-%d").to_string(),
            2 => naive.format("%Y-%m-%d %H:%M").to_string(),
            3 => naive.format("%Y-%m-%dT%H:%M:%S").to_string(),
            _ => naive.format("%Y-%m-%dT%H:%M").to_string(),
        };
        let parsed = herald::dates::parse(&text, tz);
        let expected: NaiveDateTime = match form {
            1 => naive.date().and_hms_opt(0, 0, 0).unwrap(),
            2 | 4 => naive.with_second(0).unwrap(),
            _ => naive,
        };
        match (form, parsed) {
            (0, Some(p)) => {
                prop_assert_eq!(p.naive_local(), naive);
                prop_assert_eq!(p.offset().local_minus_utc(), off * 60);
            }
            (_, Some(p)) => {
                let local = p.naive_local();
                let gap = local - expected;
                let in_gap = gap > chrono::Duration::zero() && gap <= chrono::Duration::hours(1);
                prop_assert!(local == expected || in_gap, "{text} in {tz}: {p}");
            }
            (_, None) => prop_assert!(false, "{text} in {tz} was refused"),
        }
    }
}

// --- the config --------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    /// Any text as the config: a `Config` or diagnostics naming the file, never a panic.
    #[test]
    fn any_config_text_is_accepted_or_reported(text in prop_oneof![
        nasty_text(40),
        prop::collection::vec(any::<u8>(), 0..400)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        nasty_text(20).prop_map(|t| format!("{SITE}{t}")),
    ]) {
        let scratch = Scratch::new();
        if let Err(e) = scratch.config(&text) {
            assert_names(&e, "config/herald.yaml", false)?;
        }
    }

    /// Every config key with a random value: accepted values hold what the README promises,
    /// refused ones are reported with the file and line.
    #[test]
    fn config_values_are_accepted_or_reported(
        title in nasty_text(6),
        base_url in prop_oneof![
            Just("https://example.com".to_string()),
            Just("http://例え.jp/ブログ".to_string()),
            Just("javascript:alert(1)".to_string()),
            Just("ftp://x/".to_string()),
            Just("/relative/".to_string()),
            nasty_text(4),
        ],
        timezone in one_of(ZONES, 3),
        permalink in prop_oneof![
            Just("/posts/{slug}/".to_string()),
            Just("/{slug}".to_string()),
            Just("{slug}".to_string()),
            Just("/../../{slug}/".to_string()),
            nasty_text(3),
        ],
        language in one_of(&["en", "pt-BR"], 2),
        limit in prop_oneof![
            prop::sample::select(&["0", "-1", "18446744073709551616"][..]).prop_map(str::to_string),
            (0u64..100).prop_map(|n| n.to_string()),
        ],
        formats in prop::collection::vec(
            prop::sample::select(&["rss", "atom", "json", "RSS", "xml", ""][..]),
            0..4,
        ),
        list_ids in prop::collection::vec(one_of(&["all", "a-1"], 2), 1..3),
        list_tags in prop::collection::vec(one_of(&["*"], 2), 0..3),
        start in one_of(&["2025-01-01", "+10000-01-01"], 2),
        host in one_of(&[
            "127.0.0.1", "localhost", "[::1]", "127.0.0.1.evil.example",
            "localhost.evil.example", "smtp.example.com",
        ], 2),
        security in prop::sample::select(&["none", "tls", "starttls", "plain"][..]),
        numbers in (any::<u32>(), any::<u64>(), prop::sample::select(&[
            "0", "0.0000001", "1e-300", "-3", "14", ".nan", ".inf", "1e308",
        ][..])),
        public_url in one_of(&["https://example.com/herald/", "http://127.0.0.1:8080/"], 2),
    ) {
        let (concurrency, timeout, rate) = numbers;
        let tags = list_tags.iter().map(|t| yaml_str(t)).collect::<Vec<_>>().join(", ");
        let lists: String = list_ids
            .iter()
            .map(|id| format!("    - id: {}\n      tags: [{tags}]\n", yaml_str(id)))
            .collect();
        let text = [
            format!("site:\n  title: {}\n  base_url: {}\n", yaml_str(&title), yaml_str(&base_url)),
            format!("  timezone: {}\n  permalink: {}\n", yaml_str(&timezone), yaml_str(&permalink)),
            format!("  language: {}\n", yaml_str(&language)),
            format!("feeds:\n  limit: {limit}\n  formats: [{}]\n", formats.join(", ")),
            format!("newsletter:\n  start: {}\n", yaml_str(&start)),
            format!("  from: {{ email: a@example.com }}\n  transport: smtp\n  lists:\n{lists}"),
            format!("smtp:\n  host: {}\n  security: {security}\n", yaml_str(&host)),
            format!("  concurrency: {}\n  timeout_secs: {timeout}\n", concurrency % 100),
            format!("  rate_per_second: {rate}\n"),
            format!("serve:\n  public_url: {}\n", yaml_str(&public_url)),
        ]
        .concat();
        let scratch = Scratch::new();
        match scratch.config(&text) {
            Ok(c) => {
                prop_assert_eq!(&c.site.title, &one_line(&title));
                prop_assert!(!c.site.title.is_empty());
                prop_assert!(matches!(c.site.base_url.scheme(), "http" | "https"));
                prop_assert!(c.site.base_url.as_str().ends_with('/'));
                let permalink = &c.site.permalink;
                prop_assert!(permalink.starts_with('/') && permalink.contains("{slug}"), "{}", permalink);
                let n = c.newsletter.as_ref().expect("a newsletter");
                prop_assert!(!n.lists.is_empty());
                for (i, l) in n.lists.iter().enumerate() {
                    prop_assert!(!l.id.is_empty());
                    let id_char = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-';
                    prop_assert!(l.id.bytes().all(id_char));
                    prop_assert!(n.lists[..i].iter().all(|o| o.id != l.id), "list ids are unique");
                    prop_assert!(l.all || !l.tags.is_empty());
                }
                prop_assert!((0..=9999).contains(&n.start.year()));
                let herald::config::Transport::Smtp(s) = &n.transport else {
                    panic!("transport: smtp without its settings");
                };
                prop_assert!((1..=64).contains(&s.concurrency));
                prop_assert!(s.timeout_secs >= 1);
                prop_assert!(s.rate_per_second.is_none_or(|r| r.is_finite() && r >= 0.001));
                if s.security == herald::config::Security::None {
                    prop_assert!(herald::config::is_loopback(&s.host), "security: none to {}", s.host);
                }
                if !herald::config::is_loopback(&s.host) {
                    let public = c.serve.public_url.host_str();
                    prop_assert!(public.is_some_and(|h| !herald::config::is_loopback(h)));
                }
                // Paths stay what the config says, below the root.
                prop_assert!(c.output_dir.starts_with(&scratch.root));
            }
            Err(e) => assert_names(&e, "config/herald.yaml", false)?,
        }
    }
}

// --- subscriber CSVs ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    /// Any bytes as a list's CSV: the rows kept are mailable addresses with one-line names;
    /// every problem names the file and a line.
    #[test]
    fn any_csv_bytes_give_valid_rows_or_located_problems(
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..600),
            nasty_text(30).prop_map(String::into_bytes),
            prop::collection::vec(
                one_of(&["ann@example.com", "\"x\r\nBcc: y@z.org\"@example.com", "a@b", "@"], 3),
                0..8,
            )
            .prop_map(|rows| rows.join(",\n").into_bytes()),
        ],
        header in prop::sample::select(&[
            "email,name\n", "EMAIL;NAME\n", "name,email\n", "\u{feff}email\n", "",
        ][..]),
    ) {
        let mut bytes = header.as_bytes().to_vec();
        bytes.extend_from_slice(&body);
        let (rows, problems) = read_csv(&bytes, Path::new("config/subscribers/all.csv"), Invalid::Skip);
        let mut seen = std::collections::HashSet::new();
        for r in &rows {
            prop_assert!(valid_address(&r.email), "{:?} kept", r.email);
            prop_assert!(!r.email.contains(['\r', '\n', ',', '<', '>']), "{:?}", r.email);
            prop_assert_eq!(&r.name, &one_line(&r.name));
            prop_assert!(r.line >= 2, "row {r:?} on the header line");
            prop_assert!(seen.insert(r.email.to_lowercase()), "{} twice", r.email);
        }
        for p in &problems {
            let loc = p.location.as_ref().expect("a location");
            prop_assert_eq!(&loc.path, Path::new("config/subscribers/all.csv"));
            prop_assert!(loc.line.is_some_and(|l| l >= 1), "{p}: no line");
            prop_assert!(!p.message.contains(['\r', '\n']), "{p:?}");
        }
    }

    /// Valid rows written by a CSV writer come back: every address once (the first spelling),
    /// names as one line, in file order.
    #[test]
    fn written_rows_read_back(rows in prop::collection::vec((
        "[a-z0-9][a-z0-9._+-]{0,10}[a-z0-9]", "[a-z]{1,8}\\.(com|org|de)", nasty_text(4),
    ), 0..20)) {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["email", "name"]).unwrap();
        let mut expected: Vec<(String, String)> = Vec::new();
        for (local, domain, name) in &rows {
            let email = format!("{local}@{domain}");
            w.write_record([email.as_str(), name.as_str()]).unwrap();
            let seen = expected.iter().any(|(e, _)| e.eq_ignore_ascii_case(&email));
            if valid_address(&email) && !seen {
                expected.push((email, one_line(name)));
            }
        }
        let bytes = w.into_inner().unwrap();
        let (got, problems) = read_csv(&bytes, Path::new("all.csv"), Invalid::Skip);
        let got: Vec<(String, String)> = got.into_iter().map(|r| (r.email, r.name)).collect();
        prop_assert_eq!(got, expected);
        let bad = rows.iter().filter(|(l, d, _)| !valid_address(&format!("{l}@{d}"))).count();
        prop_assert_eq!(problems.len(), bad, "{:?}", problems);
    }
}

// --- posts and their feeds -----------------------------------------------------------------

/// Loads the posts of `scratch` and renders its feeds at the end of time; checks what every
/// accepted post must look like in every format.
fn load_and_render(scratch: &Scratch, config: &Config) -> Result<Option<usize>, TestCaseError> {
    let content = match content::load(config) {
        Ok(c) => c,
        Err(e) => {
            // Every problem names its post file and a line.
            if let Error::Invalid(diags) = &e {
                for d in diags {
                    let loc = d.location.as_ref();
                    prop_assert!(
                        loc.is_some_and(|l| l.path.starts_with("content/posts") && l.line.is_some()),
                        "{d}"
                    );
                }
            } else {
                prop_assert!(false, "{e}");
            }
            return Ok(None);
        }
    };
    let now: DateTime<Utc> = "9999-12-31T23:59:59Z".parse().unwrap();
    for p in &content.posts {
        prop_assert!(
            !p.title.is_empty() && !p.title.contains(['\r', '\n']),
            "{:?}",
            p.title
        );
        prop_assert_eq!(slugify(&p.slug), Some(p.slug.clone()));
        prop_assert!(
            p.permalink
                .as_str()
                .starts_with("https://prop.example.com/blog/posts/")
        );
        prop_assert!(p.permalink.as_str().is_ascii());
        for t in &p.tags {
            prop_assert_eq!(slugify(&t.slug), Some(t.slug.clone()));
            prop_assert!(!t.name.contains(['\r', '\n']));
        }
    }
    let files = feeds::render(config, &feeds::plan(config, &content, now))
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    for f in &files {
        let path = Path::new(&f.path);
        prop_assert!(
            path.components()
                .all(|c| matches!(c, std::path::Component::Normal(_))),
            "{} could leave public/",
            f.path
        );
        prop_assert!(herald::write::confined(&scratch.root.join("public"), &f.path).is_ok());
        if f.path.ends_with(".json") {
            let v: serde_json::Value = serde_json::from_slice(&f.bytes)
                .map_err(|e| TestCaseError::fail(format!("{}: {e}", f.path)))?;
            let items = v["items"].as_array().expect("items");
            if f.path == "feed.json" {
                let titles: Vec<&str> =
                    items.iter().map(|i| i["title"].as_str().unwrap()).collect();
                let want: Vec<&str> = content
                    .published(now)
                    .iter()
                    .map(|p| p.title.as_str())
                    .collect();
                prop_assert_eq!(titles, want);
            }
            continue;
        }
        let text = std::str::from_utf8(&f.bytes)
            .map_err(|e| TestCaseError::fail(format!("{}: {e}", f.path)))?;
        prop_assert!(
            text.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
            "{}",
            f.path
        );
        prop_assert!(
            text.chars().all(is_xml_char),
            "{}: a character XML cannot carry",
            f.path
        );
        if f.path == "rss.xml" || f.path == "atom.xml" {
            let feed = feed_rs::parser::parse(f.bytes.as_slice())
                .map_err(|e| TestCaseError::fail(format!("{}: {e}", f.path)))?;
            let titles: Vec<String> = feed
                .entries
                .iter()
                .map(|e| {
                    e.title
                        .as_ref()
                        .map(|t| t.content.clone())
                        .unwrap_or_default()
                })
                .collect();
            let want: Vec<String> = content
                .published(now)
                .iter()
                .map(|p| p.title.chars().filter(|c| is_xml_char(*c)).collect())
                .collect();
            prop_assert_eq!(titles, want, "{}", f.path);
        }
    }
    Ok(Some(content.posts.len()))
}

proptest! {
    #![proptest_config(cases(128))]

    /// Posts with random front matter values: accepted with the right title, slug, tags and
    /// feeds, or reported with the file and line.
    #[test]
    fn front_matter_values_are_accepted_or_reported(
        posts in prop::collection::vec((
            nasty_text(6),
            one_of(&[
                "2025-05-08", "2025-05-08 14:30", "2025-05-08T14:30:00+02:00", "-0001-01-01",
                "+10000-01-01", "0000-01-01T00:00:00+14:00",
            ], 2),
            prop::collection::vec(nasty_text(3), 0..4),
            prop::option::of(nasty_text(3)),
            prop::option::of(nasty_text(6)),
            any::<bool>(),
        ), 1..4),
        zone in prop::sample::select(ZONES),
        unsafe_html in any::<bool>(),
    ) {
        let scratch = Scratch::new();
        let config = scratch
            .config(&format!(
                "{SITE}  timezone: {zone}\nrender:\n  unsafe_html: {unsafe_html}\nfeeds:\n  limit: 0\n"
            ))
            .expect("a valid config");
        for (i, (title, date, tags, slug, summary, draft)) in posts.iter().enumerate() {
            let tags = tags.iter().map(|t| yaml_str(t)).collect::<Vec<_>>().join(", ");
            let mut fm = format!(
                "---\ntitle: {}\ndate: {}\ntags: [{tags}]\ndraft: {draft}\n",
                yaml_str(title),
                yaml_str(date),
            );
            if let Some(s) = slug {
                fm.push_str(&format!("slug: {}\n", yaml_str(s)));
            }
            if let Some(s) = summary {
                fm.push_str(&format!("summary: {}\n", yaml_str(s)));
            }
            fm.push_str(&format!(
                "---\n\n{title}\n\n<script>alert({i})</script> [x](javascript:alert(1))\n"
            ));
            scratch.write_post(&format!("2025-01-0{}-post-{i}.md", i + 1), fm.as_bytes());
        }
        if let Some(n) = load_and_render(&scratch, &config)? {
            prop_assert_eq!(n, posts.len());
            let content = content::load(&config).unwrap();
            for p in &content.posts {
                let file = p.source.to_string_lossy().into_owned();
                let i: usize = file.split("post-").nth(1).unwrap().trim_end_matches(".md").parse().unwrap();
                prop_assert_eq!(&p.title, &one_line(&posts[i].0));
                prop_assert_eq!(p.draft, posts[i].5);
                let want: Vec<String> = {
                    let mut v: Vec<String> = Vec::new();
                    for t in &posts[i].2 {
                        let s = slugify(&one_line(t)).expect("accepted tags have slugs");
                        if !v.contains(&s) {
                            v.push(s);
                        }
                    }
                    v
                };
                let got: Vec<String> = p.tags.iter().map(|t| t.slug.clone()).collect();
                prop_assert_eq!(got, want);
            }
        }
    }

    /// Any bytes as a post file (invalid UTF-8, NUL, BOMs, half front matter): a post or a
    /// problem naming the file, never a panic; accepted posts render into well-formed feeds.
    #[test]
    fn any_post_bytes_are_accepted_or_reported(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..300),
            (nasty_text(10), prop::collection::vec(any::<u8>(), 0..100)).prop_map(|(t, b)| {
                let mut v = format!("---\ntitle: {t}\ndate: 2025-01-01\n---\n").into_bytes();
                v.extend(b);
                v
            }),
            nasty_text(30).prop_map(|t| format!("---\n{t}\n---\n{t}").into_bytes()),
        ],
    ) {
        let scratch = Scratch::new();
        let config = scratch.config(SITE).expect("a valid config");
        scratch.write_post("fuzz.md", &bytes);
        load_and_render(&scratch, &config)?;
    }
}

// --- mail --------------------------------------------------------------------------------------

const NEWSLETTER: &str = "newsletter:
  start: 2025-01-01
  from: { name: Prop, email: letters@prop.example.com }
  lists:
    - id: all
      name: Everything
      tags: [\"*\"]
";

fn post(title: &str, summary: Option<String>, tag: &str) -> Post {
    let date = DateTime::parse_from_rfc3339("2025-05-01T08:00:00+02:00").unwrap();
    Post {
        source: "content/posts/p.md".into(),
        slug: "p".into(),
        title: one_line(title),
        date,
        updated: date,
        tags: slugify(tag)
            .map(|slug| {
                vec![TagRef {
                    slug,
                    name: one_line(tag),
                    line: 4,
                }]
            })
            .unwrap_or_default(),
        summary: summary.map(|s| one_line(&s)).filter(|s| !s.is_empty()),
        image: None,
        draft: false,
        author: "Prop".into(),
        body: format!("{title}\n\n<script>alert(1)</script>\n"),
        body_line: 5,
        unexpanded: None,
        summary_end: None,
        permalink: url::Url::parse("https://prop.example.com/blog/posts/p/").unwrap(),
        publish: None,
        expires: None,
        params: Default::default(),
    }
}

proptest! {
    #![proptest_config(cases(64))]

    /// Whatever the title, summary, tag and subscriber name hold (CR, LF, `Bcc:`, markup,
    /// non-ASCII), the message has exactly the headers herald writes, one recipient, a subject
    /// that decodes to the one-line title, and no script.
    #[test]
    fn mail_headers_cannot_be_injected(
        title in nasty_text(6).prop_filter("a title", |t| !one_line(t).is_empty()),
        summary in prop::option::of(nasty_text(6)),
        tag in nasty_text(3),
        name in nasty_text(6),
        local in "[a-zA-Z0-9!#$%&'*+/=?^_`{|}~-]{1,12}",
        domain in "[a-z0-9]{1,10}\\.(com|org|xn--p1ai)",
    ) {
        let email = format!("{local}@{domain}");
        prop_assume!(valid_address(&email));
        let scratch = Scratch::new();
        let config = scratch.config(&format!("{SITE}{NEWSLETTER}")).expect("a valid config");
        let templates = Templates::load(&config).expect("the built-in templates");
        let p = post(&title, summary, &tag);
        let now: DateTime<Utc> = "2025-06-01T00:00:00Z".parse().unwrap();
        let n = config.newsletter.as_ref().unwrap();
        let mailer = Mailer::post(&config, n, &templates, &p, now).expect("a mailer");
        let list = &n.lists[0];
        let recipient = Recipient {
            email: &email,
            name: &name,
            list,
            unsubscribe_url: "https://prop.example.com/u?token=t",
            preferences_url: "https://prop.example.com/p?token=t",
        };
        let raw = mailer.message(&recipient).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let head = String::from_utf8_lossy(&raw).split("\r\n\r\n").next().unwrap().to_string();
        prop_assert!(head.is_ascii(), "{head}");
        prop_assert!(
            !head.chars().any(|c| c.is_ascii_control() && !matches!(c, '\r' | '\n' | '\t')),
            "a control character in a header: {head:?}"
        );
        let mut names = Vec::new();
        for line in head.split("\r\n") {
            prop_assert!(!line.contains('\r') && !line.contains('\n'));
            if line.starts_with([' ', '\t']) {
                continue;
            }
            let name = line.split(':').next().unwrap_or("").to_ascii_lowercase();
            names.push(name);
        }
        names.sort();
        prop_assert_eq!(names, [
            "content-type", "date", "from", "list-id", "list-unsubscribe",
            "list-unsubscribe-post", "message-id", "mime-version", "subject", "to",
        ]);
        let msg = MessageParser::default().parse(&raw).expect("a parseable message");
        let to = msg.to().expect("To");
        prop_assert_eq!(to.iter().count(), 1);
        let address = to.first().and_then(|a| a.address()).map(str::to_lowercase);
        prop_assert_eq!(address, Some(email.to_lowercase()));
        prop_assert!(msg.cc().is_none() && msg.bcc().is_none());
        // The title on one line, without the control characters a header cannot carry.
        let want: String = one_line(&p.title).chars().filter(|c| !c.is_control()).collect();
        prop_assert_eq!(msg.subject().map(one_line).unwrap_or_default(), one_line(&want));
        for i in 0..msg.text_body_count() {
            let _ = msg.body_text(i);
        }
        for i in 0..msg.html_body_count() {
            let html = msg.body_html(i).unwrap_or_default().to_lowercase();
            prop_assert!(!html.contains("<script"), "a script in the mail");
        }
    }
}

// --- bombs and huge inputs, in the library ---------------------------------------------------

/// A YAML "billion laughs": nine levels of nine aliases each, 9^9 strings if expanded.
fn alias_bomb() -> String {
    let mut s = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        s.push_str(&format!("a{i}: &a{i} [{}]\n", vec![prev; 9].join(",")));
    }
    s
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    assert!(start.elapsed() < SLOW, "{what} took {:?}", start.elapsed());
    out
}

#[test]
fn yaml_bombs_and_deep_nesting_are_errors_in_bounded_time() {
    let deep_list = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let deep_map = "a: {".repeat(20_000);
    for (what, yaml) in [
        ("alias bomb", alias_bomb()),
        ("deep list", format!("x: {deep_list}\n")),
        ("deep map", format!("x: {deep_map}\n")),
        (
            "alias bomb as a title",
            format!("{}title: *a9\ndate: 2025-01-01\n", alias_bomb()),
        ),
    ] {
        // As the config...
        let scratch = Scratch::new();
        let err = timed(what, || scratch.config(&format!("{SITE}{yaml}"))).err();
        let err = err.unwrap_or_else(|| panic!("{what}: a config that should not load loaded"));
        assert!(
            err.to_string().starts_with("config/herald.yaml:"),
            "{what}: {err}"
        );
        // ...and as a post's front matter.
        let config = scratch.config(SITE).unwrap();
        scratch.write_post(
            "bomb.md",
            format!("---\ntitle: t\ndate: 2025-01-01\n{yaml}---\nbody\n"),
        );
        let err = timed(what, || content::load(&config)).err();
        let err = err.unwrap_or_else(|| panic!("{what}: a post that should not load loaded"));
        assert!(
            err.to_string().starts_with("content/posts/bomb.md:"),
            "{what}: {err}"
        );
    }
}

#[test]
fn huge_lines_load_and_render_in_bounded_time() {
    let scratch = Scratch::new();
    let config = scratch.config(&format!("{SITE}{NEWSLETTER}")).unwrap();
    // A megabyte of title (in words: one unbroken word over 998 characters cannot be folded
    // into a Subject line, a limit of lettre's header folding, not of herald's input).
    let title = "Wörd ".repeat(1 << 18).trim_end().to_string();
    let mut body = "word ".repeat(200_000);
    body.push('\n');
    body.push_str(&"x".repeat(1 << 20));
    scratch.write_post(
        "huge.md",
        format!(
            "---\ntitle: {title}\ndate: 2025-01-01\ntags: [{}]\n---\n{body}\n",
            "t,".repeat(5_000)
        ),
    );
    let content = timed("loading", || content::load(&config)).expect("a huge post is still a post");
    let post = &content.posts[0];
    assert_eq!(post.title, title);
    assert_eq!(post.tags.len(), 1, "5000 copies of one tag are one tag");
    let now: DateTime<Utc> = "2025-06-01T00:00:00Z".parse().unwrap();
    let files = timed("rendering feeds", || {
        feeds::render(&config, &feeds::plan(&config, &content, now))
    })
    .unwrap();
    assert!(files.iter().any(|f| f.path == "rss.xml"));
    // The summary is cut, whatever the first paragraph's length (at most 300 characters).
    let rendered = post.render(false);
    assert!(post.summary(&rendered).chars().count() <= 301);
    let templates = Templates::load(&config).unwrap();
    let n = config.newsletter.as_ref().unwrap();
    let mailer = Mailer::post(&config, n, &templates, post, now).unwrap();
    let list = &n.lists[0];
    let raw = timed("rendering a mail", || {
        mailer.message(&Recipient {
            email: "a@example.com",
            name: "A",
            list,
            unsubscribe_url: "https://x/u",
            preferences_url: "https://x/p",
        })
    })
    .unwrap();
    let head = String::from_utf8_lossy(&raw)
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_string();
    assert!(
        head.lines().all(|l| l.len() <= 998),
        "RFC 5322 line length in the headers"
    );
}

#[test]
fn huge_and_hostile_csv_rows_are_skipped_in_bounded_time() {
    let mut csv = b"email,name\nann@example.com,Ann\n".to_vec();
    csv.extend(std::iter::repeat_n(b'a', 4 << 20));
    csv.extend_from_slice(b"@example.com,Long\n\"unclosed@example.com,");
    csv.extend(std::iter::repeat_n(b'"', 100_000));
    csv.extend_from_slice(
        b"\n\xff\xfe@example.com,x\nbob@example.com,\"Bob\r\nBcc: x@evil.example\"\n",
    );
    let (rows, problems) = timed("reading the CSV", || {
        read_csv(&csv, Path::new("all.csv"), Invalid::Skip)
    });
    let emails: Vec<&str> = rows.iter().map(|r| r.email.as_str()).collect();
    assert!(emails.contains(&"ann@example.com"), "{emails:?}");
    assert!(
        rows.iter()
            .all(|r| r.email.len() < 1000 && !r.name.contains(['\r', '\n'])),
        "{rows:?}"
    );
    assert!(!problems.is_empty());
}

// --- end to end: the binary on the worst inputs -----------------------------------------------

/// Runs herald; checks the time bound, no panic, and an exit of 0 or 1.
fn run_bounded(site: &Site, args: &[&str]) -> crate::support::Run {
    let start = Instant::now();
    let run = site.run(args).no_panic();
    assert!(
        start.elapsed() < SLOW,
        "herald {args:?} took {:?}",
        start.elapsed()
    );
    assert!(matches!(run.code, Some(0 | 1)), "{run}");
    run
}

/// Runs herald under `ulimit -v` (2 GiB of address space: a billion laughs expanded would need
/// far more) when the shell allows it, else plainly; checks the time bound and no panic.
fn limited(site: &Site, args: &[&str]) -> (Option<i32>, String) {
    let start = Instant::now();
    let run = site
        .run_after("ulimit -v 2097152 2>/dev/null", args)
        .no_panic();
    assert!(
        start.elapsed() < SLOW,
        "herald {args:?} took {:?}",
        start.elapsed()
    );
    (run.code, format!("{}{}", run.stdout, run.stderr))
}

#[test]
fn the_binary_refuses_bombs_and_bad_dates_and_survives_huge_files() {
    let site = Site::fixture("basic");
    let config = site.read("config/herald.yaml");

    // An alias bomb in the config: exit 1 naming the file, in bounded memory.
    site.write("config/herald.yaml", format!("{config}{}", alias_bomb()));
    let (code, out) = limited(&site, &["check"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("config/herald.yaml:"), "{out}");
    site.write("config/herald.yaml", &config);

    // Invalid UTF-8 in the config.
    site.write(
        "config/herald.yaml",
        [config.as_bytes(), b"# \xff\xfe\n"].concat(),
    );
    let run = run_bounded(&site, &["build"]).code(1);
    assert!(run.stderr.contains("config/herald.yaml"), "{run}");
    site.write("config/herald.yaml", &config);

    let cases: &[(&str, String, &str)] = &[
        (
            "bomb.md",
            format!("---\n{}title: *a9\ndate: 2025-01-01\n---\n", alias_bomb()),
            "content/posts/bomb.md:",
        ),
        (
            "deep.md",
            format!(
                "---\ntitle: t\ndate: 2025-01-01\nx: {}\n---\n",
                "[".repeat(100_000)
            ),
            "content/posts/deep.md:",
        ),
        // Years no feed can carry: once a panic in the RSS writer, now a located error.
        (
            "bc.md",
            "---\ntitle: t\ndate: \"-0001-01-01\"\n---\n".into(),
            "content/posts/bc.md:3: invalid date \"-0001-01-01\"",
        ),
        (
            "far.md",
            "---\ntitle: t\ndate: 2025-01-01\nupdated: \"+10000-01-01\"\n---\n".into(),
            "content/posts/far.md:4: invalid date",
        ),
        (
            "edge.md",
            "---\ntitle: t\ndate: \"+262142-12-31 23:30\"\n---\n".into(),
            "content/posts/edge.md:3: invalid date",
        ),
    ];
    for (name, text, expected) in cases {
        let rel = format!("content/posts/{name}");
        site.write(&rel, text);
        let (code, out) = limited(&site, &["build"]);
        assert_eq!(code, Some(1), "{name}: {out}");
        assert!(out.contains(expected), "{name}: {out}");
        site.remove(&rel);
    }

    // Control characters: once they made every feed ill-formed XML.
    site.write(
        "content/posts/ctrl.md",
        b"---\ntitle: \"a\\x01b\\x00c\\uFFFE\"\ndate: 2025-01-03\ntags: [\"t\\x02\"]\nsummary: \"s\\x03\"\n---\nbody \x01 &#1; \xef\xbf\xbe\n".as_slice(),
    );
    run_bounded(&site, &["build"]).success();
    for f in [
        "public/rss.xml",
        "public/atom.xml",
        "public/feeds.opml",
        "public/tags/t/rss.xml",
    ] {
        let text = site.read(f);
        assert!(text.chars().all(is_xml_char), "{f}:\n{text}");
        if !f.ends_with(".opml") {
            let feed =
                feed_rs::parser::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(
                feed.entries
                    .iter()
                    .any(|e| e.title.as_ref().is_some_and(|t| t.content == "abc")),
                "{f}"
            );
        }
    }
    site.remove("content/posts/ctrl.md");

    // A 2 MiB title and an 8 MiB one-line body build, in bounded time and memory.
    site.write(
        "content/posts/huge.md",
        format!(
            "---\ntitle: {}\ndate: 2025-01-03\n---\n{}\n",
            "T".repeat(2 << 20),
            "word ".repeat(8 << 18)
        ),
    );
    let (code, out) = limited(&site, &["build"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(site.read("public/rss.xml").contains(&"T".repeat(2 << 20)));
    assert_eq!(site.stray_files(), Vec::<String>::new());
}

#[test]
fn hostile_csv_bytes_end_to_end_skip_rows_and_mail_the_rest() {
    let site = Site::fixture("newsletter");
    let mut csv = b"email,name\nann@example.com,Ann\n\xff\xfe@example.com,Bad\n".to_vec();
    csv.extend(std::iter::repeat_n(b'z', 1 << 20));
    csv.extend_from_slice(
        b"@example.com,Huge\n\"zed@example.com\",\"Zed\r\nBcc: evil@example.net\"\n\0\0\0\n",
    );
    site.write("config/subscribers/all.csv", csv);
    let run = run_bounded(&site, &["publish"]).success();
    assert!(
        run.stderr
            .contains("config/subscribers/all.csv:3: row skipped: not valid UTF-8"),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("config/subscribers/all.csv:4: row skipped:"),
        "{run}"
    );
    assert!(
        run.stderr.lines().all(|l| l.len() < 2000),
        "the huge row is not echoed whole"
    );
    let files = site.files("outbox");
    assert!(
        files.keys().any(|k| k.ends_with("/zed@example.com.eml")),
        "{:?}",
        files.keys()
    );
    for (name, bytes) in &files {
        let msg = MessageParser::default().parse(bytes).expect("a message");
        assert_eq!(msg.to().map(|t| t.iter().count()), Some(1), "{name}");
        assert!(msg.bcc().is_none(), "{name}");
    }
}

//! Feeds as a feed reader sees them (README "Posts", "Subscribing to a tag"): `herald build` on fixture
//! sites, then every feed read back with feed-rs (RSS, Atom) and serde_json (JSON Feed).
//!
//! Most tests use `tests/fixtures/hard/`, which `.ci/feeds_check.py` reads too. At `NOW`
//! (2025-06-01) it has ten due posts, newest first:
//!
//! | slug | date | what it is for |
//! |---|---|---|
//! | markup-paragraph | 2025-05-21 06:00 (Berlin) | markup as text in the first paragraph |
//! | markup-summary | 2025-05-20 06:00 | `<script>` in a front matter summary, `]]>` in a title |
//! | hero | 2025-05-15 | absolute hero image, body opens with it, front matter summary |
//! | unsafe | 2025-05-01T08:00:00-04:00 | scripts and handlers, relative links, site hero image |
//! | crlf-bom, tie-a, tie-b | 2025-04-01T10:00:00Z, written three ways | ties go by slug; BOM + CRLF |
//! | multiline | 2025-03-01 14:30 (Berlin) | a title over two YAML lines |
//! | cjk | 2025-02-01T09:00:00+09:00 | CJK and emoji title, CJK tag |
//! | quotes | 2025-01-10 | quotes, `&` and `<script>` in a title; oldest spelling of the tags |
//!
//! plus a draft and a post due on 2025-07-01T00:00:00Z.

use std::collections::BTreeSet;

use feed_rs::model::{Entry, Feed};
use serde_json::Value;

use crate::support::Site;

const BASE: &str = "https://hard.example.com/";
/// `夜の港`, percent-encoded.
const CJK_TAG_PATH: &str = "tags/%E5%A4%9C%E3%81%AE%E6%B8%AF/";

/// The titles of the hard fixture's due posts at `NOW`, newest first.
const HARD_TITLES: &[&str] = &[
    "Markup in the first paragraph",
    "Markup in a summary: 1 < 2 ]]> 0",
    "An absolute hero image",
    "Unsafe HTML & relative links",
    "CRLF and BOM",
    "Tie A",
    "Tie B",
    "A title over two lines",
    "夜の港で会いましょう 🚀 東京",
    "\"Quotes\" & 'apostrophes' <script>alert(1)</script> as text",
];

const HARD_SLUGS: &[&str] = &[
    "markup-paragraph",
    "markup-summary",
    "hero",
    "unsafe",
    "crlf-bom",
    "tie-a",
    "tie-b",
    "multiline",
    "cjk",
    "quotes",
];

/// The hard fixture, built at `NOW`.
fn hard() -> Site {
    let site = Site::fixture("hard");
    site.build();
    site
}

/// A feed file read back with feed-rs, exactly as written (no sanitising by the reader).
fn parse(site: &Site, rel: &str) -> Feed {
    let parser = feed_rs::parser::Builder::new()
        .sanitize_content(false)
        .build();
    parser
        .parse(site.read_bytes(rel).as_slice())
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn titles(feed: &Feed) -> Vec<String> {
    feed.entries
        .iter()
        .map(|e| {
            e.title
                .as_ref()
                .map(|t| t.content.clone())
                .unwrap_or_default()
        })
        .collect()
}

fn json_titles(feed: &Value) -> Vec<String> {
    items(feed)
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn items(feed: &Value) -> &Vec<Value> {
    feed["items"].as_array().expect("JSON Feed items")
}

fn permalink(slug: &str) -> String {
    format!("{BASE}posts/{slug}/")
}

/// The entry of `feed` whose id is `slug`'s permalink.
fn entry<'a>(feed: &'a Feed, slug: &str) -> &'a Entry {
    let id = permalink(slug);
    feed.entries
        .iter()
        .find(|e| e.id == id)
        .unwrap_or_else(|| panic!("no entry {id}"))
}

fn json_item<'a>(feed: &'a Value, slug: &str) -> &'a Value {
    let id = permalink(slug);
    items(feed)
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap_or_else(|| panic!("no item {id}"))
}

/// The HTML content of an RSS or Atom entry.
fn body(e: &Entry) -> String {
    e.content
        .as_ref()
        .and_then(|c| c.body.clone())
        .unwrap_or_default()
}

/// The feed files under `public/`, relative to the site root.
fn feed_files(site: &Site) -> Vec<String> {
    site.files("public")
        .into_keys()
        .filter(|p| p.ends_with("rss.xml") || p.ends_with("atom.xml") || p.ends_with("feed.json"))
        .collect()
}

#[test]
fn titles_round_trip_exactly_in_every_format() {
    let site = hard();
    assert_eq!(titles(&parse(&site, "public/rss.xml")), HARD_TITLES);
    assert_eq!(titles(&parse(&site, "public/atom.xml")), HARD_TITLES);
    assert_eq!(
        json_titles(&site.read_json("public/feed.json")),
        HARD_TITLES
    );
    // feed-rs reads JSON Feed too: the same titles through a second parser.
    assert_eq!(titles(&parse(&site, "public/feed.json")), HARD_TITLES);
}

#[test]
fn a_title_never_carries_a_line_break() {
    let site = hard();
    for rel in feed_files(&site) {
        let feed = parse(&site, &rel);
        for t in titles(&feed) {
            assert!(!t.contains(['\r', '\n']), "{rel}: {t:?}");
        }
    }
    let rss = site.read("public/rss.xml");
    assert!(
        rss.contains("<title>A title over two lines</title>"),
        "{rss}"
    );
    // The CR/LF inside a quoted summary becomes a space too.
    let json = site.read_json("public/feed.json");
    assert_eq!(
        json_item(&json, "multiline")["summary"],
        "A summary written over two lines"
    );
}

#[test]
fn items_are_newest_first_with_ties_by_slug() {
    let site = hard();
    let ids: Vec<String> = HARD_SLUGS.iter().map(|s| permalink(s)).collect();
    for rel in ["public/rss.xml", "public/atom.xml", "public/feed.json"] {
        let got: Vec<String> = parse(&site, rel)
            .entries
            .iter()
            .map(|e| e.id.clone())
            .collect();
        assert_eq!(got, ids, "{rel}");
    }
    // crlf-bom, tie-a and tie-b are one instant written with three offsets.
    let ties: Vec<String> = parse(&site, "public/tags/ties/atom.xml")
        .entries
        .iter()
        .map(|e| e.id.clone())
        .collect();
    assert_eq!(ties, [permalink("tie-a"), permalink("tie-b")]);
}

#[test]
fn every_item_has_its_permalink_as_link_and_stable_id() {
    let site = hard();
    let rss = site.read("public/rss.xml");
    assert!(
        rss.contains(&format!(
            "<guid isPermaLink=\"true\">{}</guid>",
            permalink("tie-a")
        )),
        "RSS guid must be the permalink, marked as such: {rss}"
    );
    for rel in ["public/rss.xml", "public/atom.xml"] {
        let feed = parse(&site, rel);
        for e in &feed.entries {
            assert!(
                e.links.iter().any(|l| l.href == e.id),
                "{rel}: {} has no link to itself",
                e.id
            );
        }
    }
    let json = site.read_json("public/feed.json");
    for i in items(&json) {
        assert_eq!(i["id"], i["url"]);
    }
}

#[test]
fn limit_keeps_the_newest_items_of_every_feed() {
    let site = Site::fixture("hard");
    let config = site
        .read("config/herald.yaml")
        .replace("limit: 0", "limit: 2");
    site.write("config/herald.yaml", config).build();
    assert_eq!(titles(&parse(&site, "public/rss.xml")), HARD_TITLES[..2]);
    assert_eq!(titles(&parse(&site, "public/atom.xml")), HARD_TITLES[..2]);
    assert_eq!(
        json_titles(&site.read_json("public/feed.json")),
        HARD_TITLES[..2]
    );
    // The tag feed has three due posts (quotes, cjk, multiline): the two newest stay.
    let tag = parse(&site, "public/tags/conversion-rate/atom.xml");
    assert_eq!(
        titles(&tag),
        ["A title over two lines", "夜の港で会いましょう 🚀 東京"]
    );
}

#[test]
fn limit_defaults_to_twenty() {
    let site = Site::fixture("basic");
    for n in 1..=25 {
        site.write(
            &format!("content/posts/p{n:02}.md"),
            format!("---\ntitle: Post {n}\ndate: 2025-03-{n:02}\n---\nText {n}.\n"),
        );
    }
    site.build();
    let feed = parse(&site, "public/atom.xml");
    assert_eq!(feed.entries.len(), 20);
    assert_eq!(titles(&feed)[0], "Post 25");
    assert_eq!(titles(&feed)[19], "Post 6");
}

#[test]
fn full_content_carries_the_whole_html() {
    let site = hard();
    let rss = parse(&site, "public/rss.xml");
    let atom = parse(&site, "public/atom.xml");
    let json = site.read_json("public/feed.json");
    let want = "<p>A second paragraph.</p>";
    assert!(body(entry(&rss, "markup-paragraph")).contains(want));
    assert!(body(entry(&atom, "markup-paragraph")).contains(want));
    assert!(
        json_item(&json, "markup-paragraph")["content_html"]
            .as_str()
            .unwrap_or_default()
            .contains(want)
    );
    assert!(site.read("public/rss.xml").contains("<content:encoded>"));
    assert!(
        site.read("public/atom.xml")
            .contains("<content type=\"html\">")
    );
}

#[test]
fn without_full_content_feeds_carry_the_summary_only() {
    let site = Site::fixture("hard");
    let config = site
        .read("config/herald.yaml")
        .replace("full_content: true", "full_content: false");
    site.write("config/herald.yaml", config).build();
    let rss_text = site.read("public/rss.xml");
    assert!(!rss_text.contains("content:encoded"), "{rss_text}");
    assert!(!site.read("public/atom.xml").contains("<content"));
    let json = site.read_json("public/feed.json");
    for i in items(&json) {
        assert!(i.get("content_html").is_none(), "{i}");
        assert_eq!(
            i["content_text"], i["summary"],
            "JSON Feed needs a content: the summary"
        );
    }
    let atom = parse(&site, "public/atom.xml");
    let summary = |slug| {
        entry(&atom, slug)
            .summary
            .as_ref()
            .map(|s| s.content.clone())
            .unwrap_or_default()
    };
    // The front matter summary wins; without one, the first paragraph as plain text.
    assert_eq!(
        summary("hero"),
        "The front matter summary wins over the first paragraph."
    );
    assert_eq!(
        summary("crlf-bom"),
        "Written on Windows: a byte order mark and CRLF line ends."
    );
    assert_eq!(
        summary("markup-paragraph"),
        "Use <img src=x onerror=alert(1)> and ]]> with care: this paragraph is the summary."
    );
}

#[test]
fn hero_image_is_carried_by_every_format() {
    let site = hard();
    let cases = [
        (
            "unsafe",
            "https://hard.example.com/media/hero.webp",
            "image/webp",
        ),
        (
            "hero",
            "https://cdn.example.net/heroes/big.jpg",
            "image/jpeg",
        ),
    ];
    let json = site.read_json("public/feed.json");
    for rel in ["public/rss.xml", "public/atom.xml"] {
        let feed = parse(&site, rel);
        for (slug, url, mime) in cases {
            let e = entry(&feed, slug);
            let content = e
                .media
                .iter()
                .flat_map(|m| &m.content)
                .next()
                .unwrap_or_else(|| panic!("{rel} {slug}: no media:content"));
            assert_eq!(
                content.url.as_ref().map(|u| u.as_str()),
                Some(url),
                "{rel} {slug}"
            );
            assert_eq!(
                content
                    .content_type
                    .as_ref()
                    .map(|t| t.to_string())
                    .as_deref(),
                Some(mime)
            );
            // The hero also opens the HTML, once.
            let html = body(e);
            assert!(
                html.starts_with(&format!("<p><img src=\"{url}\"")),
                "{rel} {slug}: {html}"
            );
            assert_eq!(html.matches(url).count(), 1, "{rel} {slug}: {html}");
        }
        assert!(
            entry(&feed, "tie-a").media.is_empty(),
            "{rel}: no image, no media"
        );
    }
    for (slug, url, _) in cases {
        assert_eq!(json_item(&json, slug)["image"], url);
    }
    assert!(json_item(&json, "tie-a").get("image").is_none());
    let rss = site.read("public/rss.xml");
    assert!(
        rss.contains("xmlns:media=\"http://search.yahoo.com/mrss/\""),
        "{rss}"
    );
    assert!(rss.contains("medium=\"image\""), "{rss}");
}

#[test]
fn authors_come_from_the_post_or_the_site() {
    let site = hard();
    for rel in ["public/rss.xml", "public/atom.xml", "public/feed.json"] {
        let feed = parse(&site, rel);
        let author = |slug| {
            entry(&feed, slug)
                .authors
                .iter()
                .map(|p| p.name.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(author("unsafe"), ["Mallory"], "{rel}");
        assert_eq!(author("cjk"), ["山田 花子"], "{rel}");
        assert_eq!(author("tie-a"), ["Fixture Author"], "{rel}");
    }
    let atom = parse(&site, "public/atom.xml");
    assert_eq!(atom.authors[0].name, "Fixture Author");
    assert_eq!(
        atom.authors[0].email.as_deref(),
        Some("author@hard.example.com")
    );
}

#[test]
fn categories_carry_tag_names_and_slugs() {
    let site = hard();
    let rss = parse(&site, "public/rss.xml");
    let cats: Vec<(String, Option<String>)> = entry(&rss, "cjk")
        .categories
        .iter()
        .map(|c| (c.term.clone(), c.scheme.clone()))
        .collect();
    let domain = Some(format!("{BASE}tags/"));
    assert_eq!(
        cats,
        [
            ("Conversion Rate".to_string(), domain.clone()),
            ("夜の港".to_string(), domain)
        ]
    );

    let atom = parse(&site, "public/atom.xml");
    let cats: Vec<(String, Option<String>)> = entry(&atom, "cjk")
        .categories
        .iter()
        .map(|c| (c.term.clone(), c.label.clone()))
        .collect();
    assert_eq!(
        cats,
        [
            (
                "conversion-rate".to_string(),
                Some("Conversion Rate".to_string())
            ),
            ("夜の港".to_string(), Some("夜の港".to_string()))
        ]
    );

    let json = site.read_json("public/feed.json");
    assert_eq!(
        json_item(&json, "cjk")["tags"],
        serde_json::json!(["Conversion Rate", "夜の港"])
    );
    // A tag written `../escape` keeps its name; only its slug is cleaned.
    assert_eq!(
        json_item(&json, "unsafe")["tags"],
        serde_json::json!(["Security", "../escape"])
    );
    assert!(json_item(&json, "hero").get("tags").is_some());
}

#[test]
fn every_feed_links_to_itself() {
    let site = hard();
    for rel in feed_files(&site) {
        let url = format!(
            "{BASE}{}",
            percent_encode_path(rel.trim_start_matches("public/"))
        );
        if rel.ends_with("feed.json") {
            assert_eq!(site.read_json(&rel)["feed_url"], url.as_str(), "{rel}");
            continue;
        }
        let feed = parse(&site, &rel);
        let own: Vec<&str> = feed
            .links
            .iter()
            .filter(|l| l.rel.as_deref() == Some("self"))
            .map(|l| l.href.as_str())
            .collect();
        assert_eq!(own, [url.as_str()], "{rel}");
    }
}

#[test]
fn feed_metadata_names_the_site_and_dates_from_the_posts() {
    let site = hard();
    let rss = parse(&site, "public/rss.xml");
    assert_eq!(
        rss.title.as_ref().map(|t| t.content.as_str()),
        Some("Hard & \"Odd\" Cases")
    );
    assert_eq!(
        rss.description.as_ref().map(|t| t.content.as_str()),
        Some("Odd titles, offsets, CRLF and BOM, drafts, scheduling, CJK tags, unsafe HTML")
    );
    assert_eq!(rss.language.as_deref(), Some("en"));
    let generator = rss
        .generator
        .as_ref()
        .map(|g| g.content.clone())
        .unwrap_or_default();
    assert_eq!(generator, format!("herald {}", env!("CARGO_PKG_VERSION")));
    // The newest `updated` of the items, never the clock.
    assert!(
        site.read("public/rss.xml")
            .contains("<lastBuildDate>Wed, 21 May 2025 06:00:00 +0200</lastBuildDate>")
    );
    assert!(
        site.read("public/atom.xml")
            .contains("<updated>2025-05-21T06:00:00+02:00</updated>")
    );
    let json = site.read_json("public/feed.json");
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(json["home_page_url"], BASE);
    assert_eq!(json["language"], "en");
}

#[test]
fn later_clock_same_posts_same_bytes() {
    let site = hard();
    let first = site.files("public");
    let site = site.at("2025-06-30T23:59:59Z");
    site.build();
    assert_eq!(
        site.files("public"),
        first,
        "a feed took a timestamp from the clock"
    );
}

#[test]
fn tags_merge_by_slug_and_take_the_oldest_spelling() {
    let site = hard();
    // `Conversion Rate` (quotes, oldest), `conversion rate` (cjk), `CONVERSION RATE` (multiline).
    let tags: Vec<String> = site
        .files("public/tags")
        .into_keys()
        .filter_map(|p| {
            p.strip_prefix("public/tags/")
                .and_then(|p| p.split('/').next())
                .map(str::to_string)
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        tags,
        [
            "conversion-rate",
            "escape",
            "images",
            "line-endings",
            "security",
            "ties",
            "夜の港"
        ]
    );
    let feed = parse(&site, "public/tags/conversion-rate/atom.xml");
    assert_eq!(
        feed.title.as_ref().map(|t| t.content.as_str()),
        Some("Hard & \"Odd\" Cases: Conversion Rate")
    );
    assert_eq!(
        titles(&feed),
        [HARD_TITLES[7], HARD_TITLES[8], HARD_TITLES[9]]
    );
    // Every post shows the site-wide name, whatever it wrote itself.
    let rss = parse(&site, "public/rss.xml");
    assert_eq!(
        entry(&rss, "multiline").categories[0].term,
        "Conversion Rate"
    );
}

#[test]
fn tag_spelling_tie_goes_to_the_first_file_path() {
    let site = Site::fixture("basic");
    let post = |title: &str, tag: &str| {
        format!("---\ntitle: {title}\ndate: 2025-03-01\ntags: [{tag}]\n---\nText.\n")
    };
    site.write("content/posts/b.md", post("B", "big tag"));
    site.write("content/posts/a.md", post("A", "Big TAG"));
    site.build();
    let feed = parse(&site, "public/tags/big-tag/rss.xml");
    assert_eq!(
        feed.title.as_ref().map(|t| t.content.as_str()),
        Some("Basic: Big TAG")
    );
}

#[test]
fn tag_feeds_are_titled_site_title_colon_tag_name() {
    let site = hard();
    let cases = [
        ("public/tags/ties/rss.xml", "Hard & \"Odd\" Cases: Ties"),
        (
            "public/tags/夜の港/atom.xml",
            "Hard & \"Odd\" Cases: 夜の港",
        ),
        (
            "public/tags/escape/feed.json",
            "Hard & \"Odd\" Cases: ../escape",
        ),
    ];
    for (rel, want) in cases {
        assert_eq!(
            parse(&site, rel).title.map(|t| t.content).as_deref(),
            Some(want),
            "{rel}"
        );
    }
}

#[test]
fn drafts_and_future_posts_stay_out_until_due() {
    let mut site = hard();
    let absent = |site: &Site, what: &str| {
        for (rel, bytes) in site.files("public") {
            assert!(
                !String::from_utf8_lossy(&bytes).contains(what),
                "{what} found in {rel}"
            );
        }
    };
    absent(&site, "Scheduled for July");
    absent(&site, "A draft that must never appear");
    assert!(!site.exists("public/tags/future-only"));
    assert!(!site.exists("public/tags/drafts-only"));
    assert!(
        site.run(&["check"])
            .success()
            .stdout
            .contains("ok: 10 posts published, 1 scheduled, 1 drafts")
    );

    // One second before its date, still out; at its date exactly, in: a post is due at or
    // after its date.
    site.set_now("2025-06-30T23:59:59Z");
    site.build();
    absent(&site, "Scheduled for July");
    site.set_now("2025-07-01T00:00:00Z");
    site.build();
    assert_eq!(
        titles(&parse(&site, "public/rss.xml"))[0],
        "Scheduled for July"
    );
    assert_eq!(
        titles(&parse(&site, "public/tags/future-only/atom.xml")),
        ["Scheduled for July"]
    );
    assert_eq!(
        titles(&parse(&site, "public/tags/conversion-rate/atom.xml"))[0],
        "Scheduled for July"
    );
    absent(&site, "A draft that must never appear");
    assert!(!site.exists("public/tags/drafts-only"));
}

#[test]
fn dates_keep_their_offsets_and_local_dates_use_site_timezone() {
    let site = hard();
    let rss = site.read("public/rss.xml");
    let atom = site.read("public/atom.xml");
    let json = site.read_json("public/feed.json");
    let cases = [
        // date only: midnight in site.timezone (Europe/Berlin, winter)
        (
            "quotes",
            "Fri, 10 Jan 2025 00:00:00 +0100",
            "2025-01-10T00:00:00+01:00",
        ),
        // RFC 3339 with an offset: kept as written
        (
            "cjk",
            "Sat, 1 Feb 2025 09:00:00 +0900",
            "2025-02-01T09:00:00+09:00",
        ),
        // `YYYY-MM-DD HH:MM`: local time in site.timezone
        (
            "multiline",
            "Sat, 1 Mar 2025 14:30:00 +0100",
            "2025-03-01T14:30:00+01:00",
        ),
        (
            "unsafe",
            "Thu, 1 May 2025 08:00:00 -0400",
            "2025-05-01T08:00:00-04:00",
        ),
        // date only in summer time
        (
            "hero",
            "Thu, 15 May 2025 00:00:00 +0200",
            "2025-05-15T00:00:00+02:00",
        ),
    ];
    for (slug, rfc2822, rfc3339) in cases {
        let link = permalink(slug);
        let item = rss
            .split("<item>")
            .find(|i| i.contains(&format!("<link>{link}</link>")))
            .unwrap_or_default();
        assert!(
            item.contains(&format!("<pubDate>{rfc2822}</pubDate>")),
            "RSS {slug}: {item}"
        );
        let e = atom
            .split("<entry>")
            .find(|e| e.contains(&format!("<id>{link}</id>")))
            .unwrap_or_default();
        assert!(
            e.contains(&format!("<published>{rfc3339}</published>")),
            "Atom {slug}: {e}"
        );
        assert!(
            e.contains(&format!("<updated>{rfc3339}</updated>")),
            "Atom {slug}: {e}"
        );
        assert_eq!(
            json_item(&json, slug)["date_published"],
            rfc3339,
            "JSON {slug}"
        );
        assert_eq!(
            json_item(&json, slug)["date_modified"],
            rfc3339,
            "JSON {slug}"
        );
    }
    // The same local time in another site.timezone is another instant.
    let ny = Site::fixture("hard");
    let config = ny
        .read("config/herald.yaml")
        .replace("Europe/Berlin", "America/New_York");
    ny.write("config/herald.yaml", config).build();
    let json = ny.read_json("public/feed.json");
    assert_eq!(
        json_item(&json, "multiline")["date_published"],
        "2025-03-01T14:30:00-05:00"
    );
    assert_eq!(
        json_item(&json, "cjk")["date_published"],
        "2025-02-01T09:00:00+09:00"
    );
}

#[test]
fn updated_defaults_to_date_and_can_be_later() {
    let site = Site::fixture("basic");
    site.write(
        "content/posts/edited.md",
        "---\ntitle: Edited\ndate: 2025-03-01T10:00:00Z\nupdated: 2025-04-02 08:15\n---\nText.\n",
    );
    site.build();
    let json = site.read_json("public/feed.json");
    let item = &items(&json)[0];
    assert_eq!(item["date_published"], "2025-03-01T10:00:00+00:00");
    assert_eq!(item["date_modified"], "2025-04-02T08:15:00+00:00");
    assert!(
        site.read("public/atom.xml")
            .contains("<updated>2025-04-02T08:15:00+00:00</updated>")
    );
}

#[test]
fn bom_and_crlf_files_load_like_any_other() {
    let raw = std::fs::read(
        crate::support::site::fixtures_dir().join("hard/content/posts/2025-04-01-crlf-bom.md"),
    )
    .expect("fixture");
    assert!(
        raw.starts_with(b"\xef\xbb\xbf---\r\n"),
        "the fixture lost its BOM or CRLF (git eol conversion?)"
    );
    let site = hard();
    let atom = parse(&site, "public/atom.xml");
    let e = entry(&atom, "crlf-bom");
    assert_eq!(
        e.title.as_ref().map(|t| t.content.as_str()),
        Some("CRLF and BOM")
    );
    assert_eq!(e.categories[0].term, "line-endings");
    assert!(!body(e).contains('\r'), "{:?}", body(e));
}

#[test]
fn links_and_images_become_absolute() {
    let site = hard();
    let want = [
        ("unsafe", "href=\"https://hard.example.com/about/\""),
        ("unsafe", "href=\"https://hard.example.com/posts/tie-a/\""),
        (
            "unsafe",
            "src=\"https://hard.example.com/media/inline.png\"",
        ),
        (
            "unsafe",
            "src=\"https://hard.example.com/posts/unsafe/img/local.png\"",
        ),
        (
            "unsafe",
            "src=\"https://hard.example.com/posts/unsafe/x.png\"",
        ),
        (
            "crlf-bom",
            "href=\"https://hard.example.com/posts/multiline/\"",
        ),
    ];
    let rss = parse(&site, "public/rss.xml");
    let atom = parse(&site, "public/atom.xml");
    let json = site.read_json("public/feed.json");
    for (slug, attr) in want {
        assert!(body(entry(&rss, slug)).contains(attr), "RSS {slug}: {attr}");
        assert!(
            body(entry(&atom, slug)).contains(attr),
            "Atom {slug}: {attr}"
        );
        let html = json_item(&json, slug)["content_html"]
            .as_str()
            .unwrap_or_default();
        assert!(html.contains(attr), "JSON {slug}: {attr} in {html}");
    }
    for rel in feed_files(&site) {
        let feed = parse(&site, &rel);
        for e in &feed.entries {
            for (attr, url) in urls_in(&body(e)) {
                assert!(
                    url.starts_with("https://") || url.starts_with("mailto:"),
                    "{rel} {}: {attr}={url}",
                    e.id
                );
            }
        }
    }
}

#[test]
fn nothing_executable_reaches_a_feed_even_with_unsafe_html() {
    let site = hard();
    for rel in feed_files(&site) {
        let feed = parse(&site, &rel);
        for e in &feed.entries {
            let mut html = vec![body(e)];
            // RSS descriptions are HTML; Atom and JSON Feed summaries are plain text.
            if let Some(s) = e
                .summary
                .as_ref()
                .filter(|s| s.content_type.to_string() == "text/html")
            {
                html.push(s.content.clone());
            }
            for h in html {
                for (name, attrs) in elements(&h) {
                    let what = format!("{rel} {}: <{name} {attrs:?}> in {h}", e.id);
                    assert!(
                        !["script", "iframe", "object", "embed", "style"].contains(&name.as_str()),
                        "{what}"
                    );
                    for (attr, value) in attrs {
                        assert!(!attr.starts_with("on"), "{what}");
                        assert!(
                            !value.trim().to_ascii_lowercase().starts_with("javascript:"),
                            "{what}"
                        );
                    }
                }
            }
        }
    }
    // What is harmless stays: the paragraph without its handler, the link without its href.
    let json = site.read_json("public/feed.json");
    let html = json_item(&json, "unsafe")["content_html"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        html.contains("<p>A paragraph with a handler.</p>"),
        "{html}"
    );
    assert!(html.contains("<a>a javascript link</a>"), "{html}");
    // A plain-text summary holding markup is escaped in RSS, whose description is HTML.
    let rss = site.read("public/rss.xml");
    assert!(
        rss.contains(
            "&lt;script&gt;alert('summary')&lt;/script&gt; &amp; &lt;b&gt;not bold&lt;/b&gt;"
        ),
        "{rss}"
    );
}

#[test]
fn raw_html_is_escaped_without_unsafe_html() {
    let site = Site::fixture("hard");
    let config = site
        .read("config/herald.yaml")
        .replace("unsafe_html: true", "unsafe_html: false");
    site.write("config/herald.yaml", config).build();
    let json = site.read_json("public/feed.json");
    let html = json_item(&json, "unsafe")["content_html"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(html.contains("&lt;script&gt;"), "shown as text: {html}");
    assert!(html.contains("&lt;p onclick="), "shown as text: {html}");
    assert!(
        !html.contains("<script") && !html.contains("<p onclick"),
        "{html}"
    );
}

#[test]
fn non_ascii_tag_slugs_are_percent_encoded_in_urls() {
    let site = hard();
    assert!(
        site.exists("public/tags/夜の港/rss.xml"),
        "the folder keeps the slug as is"
    );
    let atom = parse(&site, "public/tags/夜の港/atom.xml");
    assert_eq!(atom.id, format!("{BASE}{CJK_TAG_PATH}"));
    let json = site.read_json("public/tags/夜の港/feed.json");
    assert_eq!(json["home_page_url"], format!("{BASE}{CJK_TAG_PATH}"));
    assert_eq!(json["feed_url"], format!("{BASE}{CJK_TAG_PATH}feed.json"));
    let opml = site.read("public/feeds.opml");
    assert!(
        opml.contains(&format!("xmlUrl=\"{BASE}{CJK_TAG_PATH}rss.xml\"")),
        "{opml}"
    );
    for rel in feed_files(&site) {
        let feed = parse(&site, &rel);
        let mut urls: Vec<&str> = feed.links.iter().map(|l| l.href.as_str()).collect();
        urls.push(&feed.id);
        for e in &feed.entries {
            urls.push(&e.id);
            urls.extend(e.links.iter().map(|l| l.href.as_str()));
        }
        for u in urls {
            assert!(u.is_ascii(), "{rel}: {u}");
        }
    }
}

#[test]
fn rebuild_is_byte_identical_and_rewrites_nothing() {
    let site = hard();
    let before = site.stamps("public");
    std::thread::sleep(std::time::Duration::from_millis(50));
    let run = site.build();
    assert!(
        run.stdout.contains("0 files written, 25 unchanged"),
        "{run}"
    );
    assert_eq!(
        site.stamps("public"),
        before,
        "bytes or modification times changed"
    );
    // A second copy built from scratch gives the same bytes (no order from threads or dirs).
    let other = hard();
    assert_eq!(other.files("public"), site.files("public"));
    assert!(
        site.files("public").keys().all(|p| !p.contains(".herald-")),
        "temp files left behind"
    );
}

#[test]
fn a_deleted_or_edited_feed_is_restored_by_the_next_build() {
    let site = hard();
    let good = site.files("public");
    site.remove("public/rss.xml");
    site.write("public/tags/ties/atom.xml", "edited by hand");
    let run = site.build();
    assert!(
        run.stdout.contains("2 files written, 23 unchanged"),
        "{run}"
    );
    assert_eq!(site.files("public"), good);
}

#[test]
fn a_config_change_after_a_build_is_picked_up() {
    let site = hard();
    let config = site
        .read("config/herald.yaml")
        .replace("limit: 0", "limit: 1");
    site.write("config/herald.yaml", config).build();
    assert_eq!(titles(&parse(&site, "public/atom.xml")), HARD_TITLES[..1]);
}

#[test]
fn stale_tag_folder_is_removed_but_foreign_files_survive() {
    let site = hard();
    site.write("public/robots.txt", "User-agent: *\n");
    site.write("public/tags/images/notes.txt", "mine, not herald's\n");
    // `Line Endings` loses its only post to a draft; `Images` loses its only post entirely.
    let crlf = site
        .read("content/posts/2025-04-01-crlf-bom.md")
        .replace("---\r\n\r\n", "draft: true\r\n---\r\n\r\n");
    site.write("content/posts/2025-04-01-crlf-bom.md", crlf);
    site.remove("content/posts/2025-05-15-hero.md");
    let run = site.build();
    assert!(run.stdout.contains("6 removed"), "{run}");
    assert!(
        !site.exists("public/tags/line-endings"),
        "an emptied tag folder goes"
    );
    for f in ["rss.xml", "atom.xml", "feed.json"] {
        assert!(!site.exists(&format!("public/tags/images/{f}")), "{f}");
    }
    assert_eq!(
        site.read("public/tags/images/notes.txt"),
        "mine, not herald's\n"
    );
    assert_eq!(site.read("public/robots.txt"), "User-agent: *\n");
    assert!(!site.read("public/feeds.opml").contains("tags/images/"));
}

#[test]
fn files_herald_did_not_write_are_never_deleted() {
    let site = Site::fixture("basic");
    // A hand-made feed in a folder that looks like a tag folder herald would write.
    site.write("public/tags/handmade/rss.xml", "<rss/>");
    site.build();
    site.build();
    assert_eq!(site.read("public/tags/handmade/rss.xml"), "<rss/>");
}

#[test]
fn tag_slugs_cannot_leave_the_output_dir() {
    let site = hard();
    // `../escape` became `escape`, inside public/.
    assert!(site.exists("public/tags/escape/rss.xml"));
    assert_eq!(site.stray_files(), Vec::<String>::new());
    let top: BTreeSet<String> = std::fs::read_dir(site.root())
        .expect("site root")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        top,
        BTreeSet::from(["config", "content", "public", "state"].map(String::from))
    );
}

#[test]
fn opml_lists_every_feed() {
    let site = hard();
    let opml = site.read("public/feeds.opml");
    assert!(
        opml.starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">"),
        "{opml}"
    );
    let listed: BTreeSet<String> = opml
        .split("xmlUrl=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap_or_default().to_string())
        .collect();
    let written: BTreeSet<String> = feed_files(&site)
        .iter()
        .map(|rel| {
            format!(
                "{BASE}{}",
                percent_encode_path(rel.trim_start_matches("public/"))
            )
        })
        .collect();
    assert_eq!(listed, written);
    assert!(
        opml.contains("text=\"Hard &amp; &quot;Odd&quot; Cases: Ties (RSS)\""),
        "{opml}"
    );
}

#[test]
fn every_xml_file_starts_with_the_declaration() {
    let site = hard();
    for (rel, bytes) in site.files("public") {
        if rel.ends_with(".xml") || rel.ends_with(".opml") {
            assert!(
                bytes.starts_with(b"<?xml version=\"1.0\" encoding=\"utf-8\"?>"),
                "{rel}"
            );
        }
    }
}

#[test]
fn only_the_configured_formats_and_no_tag_feeds_without_per_tag() {
    let site = Site::fixture("hard");
    let config = site
        .read("config/herald.yaml")
        .replace("formats: [rss, atom, json]", "formats: [atom]")
        .replace("per_tag: true", "per_tag: false");
    site.write("config/herald.yaml", config).build();
    let files: Vec<String> = site.files("public").into_keys().collect();
    assert_eq!(files, ["public/atom.xml", "public/feeds.opml"]);
}

#[test]
fn the_example_site_builds() {
    let site = Site::example().at("2026-12-01T00:00:00Z");
    site.build();
    let rss = parse(&site, "public/rss.xml");
    assert_eq!(
        titles(&rss),
        [
            "Lead Magnets That Actually Convert",
            "Cold Email Benchmarks: What a \"Good\" Reply Rate Looks Like",
            "Who Is A Lead Generation Specialist?",
            "Is Lead Generation A Skill?",
        ]
    );
    assert!(site.exists("public/tags/conversion-rate/atom.xml"));
    assert!(!site.exists("public/tags/social"), "the draft's tag");
    assert!(
        !site.exists("public/tags/sales"),
        "the scheduled post's tag"
    );
}

/// Percent-encodes the non-ASCII bytes of a path, as URLs in feeds must be.
fn percent_encode_path(path: &str) -> String {
    let mut out = String::new();
    for b in path.bytes() {
        if b.is_ascii() {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `(attribute, value)` of every `href="…"` and `src="…"` in `html`.
fn urls_in(html: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for attr in ["href", "src"] {
        for piece in html.split(&format!(" {attr}=\"")).skip(1) {
            out.push((
                attr,
                piece.split('"').next().unwrap_or_default().to_string(),
            ));
        }
    }
    out
}

/// The elements of serialised HTML as `(name, [(attribute, value)])`, lowercased names. Good
/// enough for sanitised output, where text never holds a raw `<` and values are quoted.
fn elements(html: &str) -> Vec<(String, Vec<(String, String)>)> {
    let mut out = Vec::new();
    for piece in html.split('<').skip(1) {
        let tag = piece.split('>').next().unwrap_or_default();
        if tag.starts_with('/') || tag.starts_with('!') {
            continue;
        }
        let name_end = tag
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(tag.len());
        let mut rest = &tag[name_end..];
        let mut attrs = Vec::new();
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '/');
            if rest.is_empty() {
                break;
            }
            let key_end = rest
                .find(|c: char| c == '=' || c.is_whitespace())
                .unwrap_or(rest.len());
            let key = rest[..key_end].to_ascii_lowercase();
            rest = &rest[key_end..];
            let mut value = String::new();
            if let Some(r) = rest.strip_prefix('=') {
                let quote = r.chars().next().filter(|c| *c == '"' || *c == '\'');
                let (v, r) = match quote {
                    Some(q) => r[1..].split_once(q).unwrap_or((&r[1..], "")),
                    None => r.split_once(char::is_whitespace).unwrap_or((r, "")),
                };
                value = v.to_string();
                rest = r;
            }
            attrs.push((key, value));
        }
        out.push((tag[..name_end].to_ascii_lowercase(), attrs));
    }
    out
}

//! What readers and subscribers get, pinned byte for byte with insta snapshots
//! (`tests/snapshots/`): the example site's feeds, the hard fixture's site feeds, and one mail of
//! the example site, decoded. Any change to them shows up as a diff to review:
//! `cargo insta review` (or `INSTA_UPDATE=always cargo test --test integration snapshots`,
//! then `git diff tests/snapshots/`).
//!
//! The other topic modules check meaning (titles, order, links, headers); these catch every
//! other change, wanted or not, in the output's bytes.

use mail_parser::{MessageParser, MimeHeaders};

use crate::support::Site;

/// The example site at the moment its first newsletter post is due (as in `.ci/run`).
const EXAMPLE_NOW: &str = "2026-11-25T12:00:00Z";

fn snapshot_files(site: &Site, prefix: &str, files: &[&str]) {
    for rel in files {
        let name = format!("{prefix}__{}", rel.replace('/', "__"));
        insta::assert_snapshot!(name, site.read(rel));
    }
}

#[test]
fn the_example_sites_feeds() {
    let site = Site::example().at(EXAMPLE_NOW);
    site.build();
    snapshot_files(
        &site,
        "example",
        &[
            "public/rss.xml",
            "public/atom.xml",
            "public/feed.json",
            "public/feeds.opml",
            "public/tags/conversion-rate/rss.xml",
            "public/tags/conversion-rate/atom.xml",
            "public/tags/conversion-rate/feed.json",
        ],
    );
}

#[test]
fn the_hard_fixtures_site_feeds() {
    let site = Site::fixture("hard");
    site.build();
    snapshot_files(
        &site,
        "hard",
        &["public/rss.xml", "public/atom.xml", "public/feed.json"],
    );
}

#[test]
fn a_mail_of_the_example_site() {
    let site = Site::example().at(EXAMPLE_NOW);
    site.run(&["publish"]).success();
    let rel = "outbox/lead-magnets-that-convert/ava@example.com.eml";
    let bytes = site.read_bytes(rel);
    let msg = MessageParser::default().parse(&bytes).expect("a message");
    // The headers as sent, then each part decoded; redacted: the two values that differ on
    // every run, the MIME boundary (random) and the unsubscribe token (signed with the site's
    // own generated secret).
    let text = String::from_utf8_lossy(&bytes).replace("\r\n", "\n");
    let (head, _) = text.split_once("\n\n").expect("a header block");
    let mut out = String::new();
    for line in head.lines() {
        match line.find("boundary=\"") {
            Some(i) => out.push_str(&format!("{}boundary=\"[boundary]\"", &line[..i])),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    for part in msg.parts.iter().skip(1) {
        let ct = part.content_type().expect("a Content-Type");
        out.push_str(&format!(
            "\n--- {}/{} ({})\n",
            ct.ctype(),
            ct.subtype().unwrap_or(""),
            part.content_transfer_encoding().unwrap_or("7bit")
        ));
        out.push_str(part.text_contents().expect("a text part"));
        out.push('\n');
    }
    let out = redact_tokens(&out);
    insta::assert_snapshot!("example_mail", out);
}

/// Replaces every unsubscribe token (after `?token=`, or `?token&#x3D;` in HTML, where
/// handlebars escapes the `=`) by `[token]`.
fn redact_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((i, marker)) = ["?token=", "?token&#x3D;"]
        .iter()
        .filter_map(|m| rest.find(m).map(|i| (i, *m)))
        .min()
    {
        out.push_str(&rest[..i + marker.len()]);
        rest = &rest[i + marker.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
            .unwrap_or(rest.len());
        out.push_str("[token]");
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

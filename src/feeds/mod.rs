//! Feeds: which files exist (the site feeds and one set per tag), which posts each holds, and
//! their bytes in every configured format. Rendering is pure; writing happens in `build`.
//!
//! Never reads the clock: every timestamp comes from the posts, so an unchanged
//! site rebuilds byte for byte.

mod atom;
mod json;
mod opml;
mod rss;
mod targets;

pub use targets::targets;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, FixedOffset, Utc};
use rayon::prelude::*;
use url::Url;

use crate::config::{Config, FeedFormat, OPML_FILE};
use crate::content::{self, Content, Post, Rendered};
use crate::error::{Error, Result};

/// The generator string in every feed.
pub const GENERATOR: &str = "herald";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One feed file to write: its path under `output_dir` and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedFile {
    /// Relative to `output_dir`, `/`-separated: `rss.xml`, `tags/seo/atom.xml`.
    pub path: String,
    pub bytes: Vec<u8>,
}

/// Everything a format needs to write one feed.
pub struct Doc<'a> {
    pub title: String,
    pub description: String,
    /// The page this feed belongs to (site home or tag page).
    pub home: Url,
    /// This file's own URL (`rel=self`).
    pub self_url: Url,
    pub language: &'a str,
    /// Newest `updated` of the items; `None` for an empty feed.
    pub updated: Option<DateTime<FixedOffset>>,
    pub author: &'a crate::config::Person,
    pub items: Vec<Item<'a>>,
    /// `https://site/tags/`: the RSS category domain.
    pub tags_base: Url,
}

/// One entry of a feed.
pub struct Item<'a> {
    pub post: &'a Post,
    /// The whole HTML, when `full_content`.
    pub html: Option<&'a str>,
    pub summary: &'a str,
    /// (slug, site-wide display name).
    pub tags: Vec<(&'a str, &'a str)>,
}

/// Which posts go in which feed: the site feed and, with `per_tag`, each tag with a due post.
pub struct Plan<'a> {
    pub site: Vec<&'a Post>,
    /// Tag slug -> (display name, items), in slug order.
    pub tags: BTreeMap<String, (String, Vec<&'a Post>)>,
    /// Tag slug -> display name, for every tag of a published post (item categories).
    pub names: BTreeMap<String, String>,
}

/// Picks the items of every feed: due non-draft posts, newest first, at most `limit`.
pub fn plan<'a>(config: &Config, content: &'a Content, now: DateTime<Utc>) -> Plan<'a> {
    let published = content.published(now);
    let limit = config.feeds.limit.unwrap_or(usize::MAX);
    let names = content::tag_names(published.iter().copied());
    let mut tags: BTreeMap<String, (String, Vec<&Post>)> = BTreeMap::new();
    if config.feeds.per_tag {
        for p in &published {
            for t in &p.tags {
                let entry = tags.entry(t.slug.clone()).or_insert_with(|| {
                    (names.get(&t.slug).cloned().unwrap_or_default(), Vec::new())
                });
                if entry.1.len() < limit {
                    entry.1.push(p);
                }
            }
        }
    }
    Plan {
        site: published.into_iter().take(limit).collect(),
        tags,
        names,
    }
}

/// Renders every feed file of `plan`, and `feeds.opml`. Nothing is written.
pub fn render(config: &Config, plan: &Plan) -> Result<Vec<FeedFile>> {
    let names = &plan.names;
    // Render each shown post once, in parallel.
    let mut shown: Vec<&Post> = plan.site.clone();
    for (_, items) in plan.tags.values() {
        shown.extend(items.iter().copied());
    }
    shown.sort_by(|a, b| a.slug.cmp(&b.slug));
    shown.dedup_by(|a, b| a.slug == b.slug);
    let rendered: HashMap<&str, Rendered> = shown
        .par_iter()
        .map(|p| (p.slug.as_str(), p.render(config.unsafe_html)))
        .collect();

    // (folder under output_dir, which is also the page's path under base_url; title; items)
    let mut sets: Vec<(String, String, &[&Post])> = Vec::new();
    sets.push((String::new(), config.site.title.clone(), &plan.site));
    for (slug, (name, items)) in &plan.tags {
        sets.push((
            format!("tags/{slug}/"),
            format!("{}: {name}", config.site.title),
            items,
        ));
    }
    let tags_base = url(config, "tags/")?;
    let files: Vec<Result<Vec<(FeedFormat, Url, FeedFile)>>> = sets
        .par_iter()
        .map(|(dir, title, posts)| {
            let items = posts
                .iter()
                .map(|p| {
                    let r = &rendered[p.slug.as_str()];
                    Item {
                        post: p,
                        html: config.feeds.full_content.then_some(r.html.as_str()),
                        summary: p.summary(r),
                        tags: p
                            .tags
                            .iter()
                            .map(|t| {
                                let name =
                                    names.get(&t.slug).map(String::as_str).unwrap_or(&t.name);
                                (t.slug.as_str(), name)
                            })
                            .collect(),
                    }
                })
                .collect::<Vec<_>>();
            let updated = posts.iter().map(|p| p.updated).max();
            let description = if config.site.description.is_empty() {
                title.clone()
            } else {
                config.site.description.clone()
            };
            let mut out = Vec::new();
            let mut doc = Doc {
                title: title.clone(),
                description,
                home: url(config, dir)?,
                self_url: url(config, dir)?,
                language: &config.site.language,
                updated,
                author: &config.site.author,
                items,
                tags_base: tags_base.clone(),
            };
            for &f in &config.feeds.formats {
                let path = format!("{dir}{}", f.file_name());
                doc.self_url = url(config, &path)?;
                let bytes = match f {
                    FeedFormat::Rss => xml_chars_only(rss::render(&doc)?),
                    FeedFormat::Atom => xml_chars_only(atom::render(&doc)?),
                    FeedFormat::Json => json::render(&doc)?,
                };
                out.push((f, doc.self_url.clone(), FeedFile { path, bytes }));
            }
            Ok(out)
        })
        .collect();
    let mut all = Vec::new();
    // The OPML lists every feed written, JSON Feed included.
    let mut outlines = Vec::new();
    for (f, (_, title, _)) in files.into_iter().zip(&sets) {
        for (format, url, file) in f? {
            outlines.push(opml::Outline { title, format, url });
            all.push(file);
        }
    }
    if !outlines.is_empty() {
        all.push(FeedFile {
            path: OPML_FILE.into(),
            bytes: xml_chars_only(opml::render(config, &outlines)),
        });
    }
    Ok(all)
}

/// Drops the characters XML 1.0 cannot carry at all, not even as a character reference
/// (control characters but tab, LF and CR; U+FFFE and U+FFFF). A post may hold them (a YAML
/// `"\x01"` escape, a raw byte, an `&#1;` in Markdown); left in, they make the whole feed
/// ill-formed. Markup is plain ASCII, so this only ever touches text.
fn xml_chars_only(xml: Vec<u8>) -> Vec<u8> {
    // Nearly every feed is clean: find out with a byte scan before decoding anything.
    // U+FFFE and U+FFFF are EF BF BE and EF BF BF in UTF-8.
    let control = xml
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'));
    let nonchar = || {
        xml.windows(3)
            .any(|w| w[0] == 0xEF && w[1] == 0xBF && w[2] >= 0xBE)
    };
    if !control && !nonchar() {
        return xml;
    }
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && !matches!(c, '\u{fffe}' | '\u{ffff}'))
    };
    match String::from_utf8(xml) {
        Ok(s) if !s.chars().all(allowed) => s
            .chars()
            .filter(|c| allowed(*c))
            .collect::<String>()
            .into_bytes(),
        Ok(s) => s.into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

fn url(config: &Config, path: &str) -> Result<Url> {
    content::site_url(config, path)
        .ok_or_else(|| Error::msg(format!("cannot make a URL of {path:?} under site.base_url")))
}

/// Media RSS, which carries the hero image in RSS and Atom alike.
const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

/// A feed's extra namespace declarations: `media` when some item has a hero image.
fn media_namespaces(doc: &Doc) -> BTreeMap<String, String> {
    let mut namespaces = BTreeMap::new();
    if doc.items.iter().any(|i| i.post.image.is_some()) {
        namespaces.insert("media".to_string(), MEDIA_NS.to_string());
    }
    namespaces
}

/// An item's extensions: `media:content` for its hero image, if any. `make` builds the
/// extension element of the feed crate at hand (`rss` and `atom_syndication` each have their
/// own `Extension` type, with the same fields) from its name and attributes.
fn media_extensions<E>(
    image: Option<&str>,
    make: impl FnOnce(String, BTreeMap<String, String>) -> E,
) -> BTreeMap<String, BTreeMap<String, Vec<E>>> {
    let Some(image) = image else {
        return BTreeMap::new();
    };
    let content = make("media:content".to_string(), media_content_attrs(image));
    BTreeMap::from([(
        "media".to_string(),
        BTreeMap::from([("content".to_string(), vec![content])]),
    )])
}

/// The attributes of a Media RSS `media:content` element for a hero image: url,
/// `medium="image"` and the MIME type when the extension tells it.
fn media_content_attrs(image: &str) -> BTreeMap<String, String> {
    let mut attrs = BTreeMap::new();
    attrs.insert("url".to_string(), image.to_string());
    attrs.insert("medium".to_string(), "image".to_string());
    if let Some(t) = image_type(image) {
        attrs.insert("type".to_string(), t.to_string());
    }
    attrs
}

/// The MIME type of an image URL, from its extension.
fn image_type(url: &str) -> Option<&'static str> {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    let ext = path.rsplit('.').next()?;
    Some(match ext {
        "webp" => "image/webp",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

/// Escapes text for XML written by hand (OPML).
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let xml = "<t>a\u{1}b\u{0}c\u{fffe}\u{ffff}d\te\r\nf\u{7f}é</t>";
        assert_eq!(
            xml_chars_only(xml.as_bytes().to_vec()),
            "<t>abcd\te\r\nf\u{7f}é</t>".as_bytes()
        );
        assert_eq!(xml_chars_only(b"<t>ok</t>".to_vec()), b"<t>ok</t>");
    }
}

//! Posts: loading `*.md` files from `content_dir`, reading their front matter, and the rules
//! of DESIGN.md "Posts" (slugs, tags merged by slug, drafts, scheduling, permalinks).
//!
//! Loading only reads files. Markdown is rendered later, and only for posts that are shown.

mod front_matter;
pub mod markdown;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};
use rayon::prelude::*;
use url::Url;

use crate::config::{Config, one_line};
use crate::dates;
use crate::error::{Diagnostic, Error, Location, Result};
use crate::slug::slugify;
pub use markdown::Rendered;

/// One tag on a post: its slug (its identity) and the spelling this post used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRef {
    pub slug: String,
    pub name: String,
}

/// A loaded post.
#[derive(Debug, Clone)]
pub struct Post {
    /// The file, relative to the site root.
    pub source: PathBuf,
    pub slug: String,
    pub title: String,
    pub date: DateTime<FixedOffset>,
    pub updated: DateTime<FixedOffset>,
    /// Unique by slug, in the order the post lists them.
    pub tags: Vec<TagRef>,
    /// The front matter summary, if any (plain text, one line).
    pub summary: Option<String>,
    /// The hero image, absolute.
    pub image: Option<String>,
    pub draft: bool,
    pub author: String,
    pub body: String,
    pub permalink: Url,
}

impl Post {
    /// Due: dated at or before `now` (DESIGN.md "Posts").
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.date.with_timezone(&Utc) <= now
    }

    /// Shown in feeds and mails: due and not a draft.
    pub fn is_published(&self, now: DateTime<Utc>) -> bool {
        !self.draft && self.is_due(now)
    }

    /// Renders the body (with the hero image first) for feeds and mails.
    pub fn render(&self, unsafe_html: bool) -> Rendered {
        markdown::render(
            &self.body,
            &self.permalink,
            unsafe_html,
            self.image.as_deref(),
            &self.title,
        )
    }

    /// The summary: the front matter's, else the first paragraph of `rendered`.
    pub fn summary<'a>(&'a self, rendered: &'a Rendered) -> &'a str {
        self.summary.as_deref().unwrap_or(&rendered.first_paragraph)
    }
}

/// Every post of the site, and what loading noticed but did not reject.
#[derive(Debug, Default)]
pub struct Content {
    /// Newest first by date; ties by slug.
    pub posts: Vec<Post>,
    /// Non-fatal findings (unknown front matter keys), for `herald check`.
    pub warnings: Vec<Diagnostic>,
}

impl Content {
    /// The posts that appear anywhere: due and not drafts, newest first.
    pub fn published(&self, now: DateTime<Utc>) -> Vec<&Post> {
        self.posts.iter().filter(|p| p.is_published(now)).collect()
    }

    /// Posts not yet due (drafts excluded), soonest first.
    pub fn scheduled(&self, now: DateTime<Utc>) -> Vec<&Post> {
        let mut v: Vec<&Post> = self
            .posts
            .iter()
            .filter(|p| !p.draft && !p.is_due(now))
            .collect();
        v.sort_by(|a, b| a.date.cmp(&b.date).then_with(|| a.slug.cmp(&b.slug)));
        v
    }
}

/// Display names of the tags of `posts`: the spelling of the oldest post carrying each tag
/// (ties: the first file path), keyed by tag slug.
pub fn tag_names<'a>(posts: impl IntoIterator<Item = &'a Post>) -> BTreeMap<String, String> {
    let mut best: BTreeMap<String, (DateTime<FixedOffset>, &Path, &str)> = BTreeMap::new();
    for p in posts {
        for t in &p.tags {
            let cand = (p.date, p.source.as_path(), t.name.as_str());
            best.entry(t.slug.clone())
                .and_modify(|b| {
                    if (cand.0, cand.1) < (b.0, b.1) {
                        *b = cand;
                    }
                })
                .or_insert(cand);
        }
    }
    best.into_iter()
        .map(|(k, (_, _, n))| (k, n.to_string()))
        .collect()
}

/// Loads every post under `config.content_dir`. Every file is checked on its own; all problems
/// are returned together.
pub fn load(config: &Config) -> Result<Content> {
    let files = source_files(config)?;
    let results: Vec<Loaded> = files.par_iter().map(|f| load_post(config, f)).collect();
    let mut posts = Vec::with_capacity(results.len());
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for r in results {
        match r {
            Ok((p, w, line)) => {
                posts.push((p, line));
                warnings.extend(w);
            }
            Err(d) => problems.extend(d),
        }
    }
    let mut by_slug: BTreeMap<&str, &Post> = BTreeMap::new();
    for (p, line) in &posts {
        if let Some(other) = by_slug.insert(&p.slug, p) {
            problems.push(Diagnostic::at(
                Location::line(&p.source, *line),
                format!(
                    "slug \"{}\" is also the slug of {}: every post needs its own slug",
                    p.slug,
                    other.source.display()
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let mut posts: Vec<Post> = posts.into_iter().map(|(p, _)| p).collect();
    posts.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.slug.cmp(&b.slug)));
    Ok(Content { posts, warnings })
}

/// Every post file under `content_dir`, sorted (hidden files and folders skipped).
pub fn source_files(config: &Config) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    collect_md(&config.content_dir, &mut files)?;
    // Byte order is as deterministic as path order and much cheaper to compare.
    files.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
    Ok(files)
}

fn collect_md(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
        if kind.is_dir() {
            collect_md(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "md")
            // The entry's type comes with the directory listing; only a link costs a stat.
            && (kind.is_file() || kind.is_symlink() && path.is_file())
        {
            out.push(path);
        }
    }
    Ok(())
}

/// A post, its warnings and the line its slug comes from (`slug:`, or the opening `---`).
type Loaded = std::result::Result<(Post, Vec<Diagnostic>, usize), Vec<Diagnostic>>;

fn load_post(config: &Config, file: &Path) -> Loaded {
    let shown = config.display(file);
    let bytes = std::fs::read(file).map_err(|e| {
        vec![Diagnostic::at(
            Location::file(&shown),
            format!("cannot read: {e}"),
        )]
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let good = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = good.iter().filter(|b| **b == b'\n').count() + 1;
        vec![Diagnostic::at(
            Location::line(&shown, line),
            "not valid UTF-8",
        )]
    })?;
    let (yaml, first_line, body) = front_matter::split(&shown, &text).map_err(|d| vec![d])?;
    let fm = front_matter::parse(&shown, yaml, first_line)?;
    let tz = config.site.timezone;
    let mut problems = Vec::new();
    let at = |line: usize| Location::line(&shown, line);

    let title = match &fm.title {
        Some((t, line)) => {
            let t = one_line(t);
            if t.is_empty() {
                problems.push(Diagnostic::at(at(*line), "`title` is empty"));
            }
            t
        }
        None => {
            problems.push(Diagnostic::at(at(1), "missing `title` in front matter"));
            String::new()
        }
    };
    let mut date_of = |v: &(String, usize)| {
        dates::parse(&v.0, tz).or_else(|| {
            problems.push(Diagnostic::at(
                at(v.1),
                format!("invalid date \"{}\": {}", v.0, dates::EXPECTED),
            ));
            None
        })
    };
    let date = match &fm.date {
        Some(d) => date_of(d),
        None => None,
    };
    let updated = fm.updated.as_ref().and_then(&mut date_of);
    if fm.date.is_none() {
        problems.push(Diagnostic::at(at(1), "missing `date` in front matter"));
    }
    let slug = match &fm.slug {
        Some((s, line)) => slugify(s).or_else(|| {
            problems.push(Diagnostic::at(
                at(*line),
                format!("slug \"{s}\" has no letters or digits"),
            ));
            None
        }),
        None => {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            slugify(strip_date_prefix(&stem)).or_else(|| {
                problems.push(Diagnostic::at(
                    at(1),
                    format!("the file name \"{stem}\" gives an empty slug: add `slug:` to the front matter"),
                ));
                None
            })
        }
    };
    let mut tags: Vec<TagRef> = Vec::new();
    for (name, line) in &fm.tags {
        let name = one_line(name);
        match slugify(&name) {
            Some(slug) => {
                if !tags.iter().any(|t| t.slug == slug) {
                    tags.push(TagRef { slug, name });
                }
            }
            None => problems.push(Diagnostic::at(
                at(*line),
                format!("tag \"{name}\" has no letters or digits"),
            )),
        }
    }
    let permalink = slug.as_deref().and_then(|s| permalink(config, s));
    let image = match (&fm.image, &permalink) {
        (Some((img, line)), Some(base)) => match base.join(img.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u.to_string()),
            _ => {
                problems.push(Diagnostic::at(
                    at(*line),
                    format!("invalid image \"{img}\": expected /media/x.webp or an http(s) URL"),
                ));
                None
            }
        },
        _ => None,
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(date), Some(slug), Some(permalink)) = (date, slug, permalink) else {
        return Err(vec![Diagnostic::at(at(1), "invalid post")]);
    };
    let warnings = fm
        .unknown
        .iter()
        .map(|(k, line)| {
            Diagnostic::at(
                at(*line),
                format!("unknown front matter key `{k}` (ignored)"),
            )
        })
        .collect();
    let post = Post {
        source: shown.clone(),
        title,
        date,
        updated: updated.unwrap_or(date),
        tags,
        summary: fm.summary.map(|s| one_line(&s)).filter(|s| !s.is_empty()),
        image,
        draft: fm.draft,
        author: fm
            .author
            .map(|a| one_line(&a))
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| config.site.author.name.clone()),
        body: body.to_string(),
        permalink,
        slug,
    };
    let slug_line = fm.slug.as_ref().map_or(1, |(_, line)| *line);
    Ok((post, warnings, slug_line))
}

/// `2025-05-08-hello` -> `hello`.
fn strip_date_prefix(stem: &str) -> &str {
    let b = stem.as_bytes();
    let is_date = b.len() > 11
        && b[..10].iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        })
        && b[10] == b'-';
    if is_date { &stem[11..] } else { stem }
}

/// `site.base_url` joined with `site.permalink`, `{slug}` filled in (percent-encoded).
pub fn permalink(config: &Config, slug: &str) -> Option<Url> {
    site_url(config, &config.site.permalink.replace("{slug}", slug))
}

/// A site path (`/tags/x/rss.xml`) as an absolute URL under `site.base_url`.
pub fn site_url(config: &Config, path: &str) -> Option<Url> {
    let base = config.site.base_url.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/{}", path.trim_start_matches('/'))).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_prefix_is_stripped() {
        assert_eq!(strip_date_prefix("2025-05-08-hello"), "hello");
        assert_eq!(strip_date_prefix("hello"), "hello");
        assert_eq!(strip_date_prefix("2025-05-08"), "2025-05-08");
    }

    fn post(date: &str, source: &str, tag: &str) -> Post {
        let d = DateTime::parse_from_rfc3339(date).unwrap();
        Post {
            source: source.into(),
            slug: source.into(),
            title: "t".into(),
            date: d,
            updated: d,
            tags: vec![TagRef {
                slug: slugify(tag).unwrap(),
                name: tag.into(),
            }],
            summary: None,
            image: None,
            draft: false,
            author: "a".into(),
            body: String::new(),
            permalink: Url::parse("https://e.com/").unwrap(),
        }
    }

    #[test]
    fn tag_name_comes_from_the_oldest_post() {
        let posts = [
            post("2025-02-01T00:00:00Z", "b.md", "conversion rate"),
            post("2025-01-01T00:00:00Z", "c.md", "Conversion Rate"),
            post("2025-01-01T00:00:00Z", "d.md", "CONVERSION rate"),
        ];
        assert_eq!(tag_names(&posts)["conversion-rate"], "Conversion Rate");
    }
}

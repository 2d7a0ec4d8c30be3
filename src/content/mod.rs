//! Posts: loading them from `content_dir`, reading their front matter, and the rules of
//! README "Posts" (slugs, tags merged by slug, drafts, scheduling, permalinks).
//!
//! herald's own posts and a generator's (Hugo, Jekyll, Zola, Eleventy) go through one loader:
//! `source` knows each generator's files, names and URLs; the rules here are shared.
//! Loading only reads files. Markdown is rendered later, and only for posts that are shown.

pub mod front_matter;
pub mod markdown;
pub mod shortcodes;
pub mod source;

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
use source::SourceFile;

/// One tag on a post: its slug (its identity), the spelling this post used, and the line of
/// the post's file it was read from (for a problem its feed folder causes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRef {
    pub slug: String,
    pub name: String,
    pub line: usize,
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
    /// The file line the body starts on.
    pub body_line: usize,
    /// Template syntax (shortcodes, Liquid) in `body` still to expand, with the summary
    /// divider to cut after it: see `finish_bodies`.
    pub unexpanded: Option<Unexpanded>,
    /// Where the summary divider stood in `body`: the text before it is the summary, when the
    /// front matter gives none.
    pub summary_end: Option<usize>,
    pub permalink: Url,
    /// The front matter's scalar values by key path, for Hugo's `param` shortcode (kept only
    /// for Hugo posts that hold template syntax).
    pub params: BTreeMap<String, String>,
    /// Hugo's `publishDate`: not due before it (when later than `date`).
    pub publish: Option<DateTime<FixedOffset>>,
    /// Hugo's `expiryDate`: out of every feed from then on.
    pub expires: Option<DateTime<FixedOffset>>,
}

impl Post {
    /// When the post becomes due: its `publishDate` if it has one, else its date.
    pub fn due(&self) -> DateTime<FixedOffset> {
        self.publish.unwrap_or(self.date)
    }

    /// Due: dated at or before `now` (README "Posts").
    pub fn is_due(&self, now: DateTime<Utc>) -> bool {
        self.due().with_timezone(&Utc) <= now
    }

    /// Expired: past its `expiryDate`.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires.is_some_and(|e| e.with_timezone(&Utc) <= now)
    }

    /// Shown in feeds and mails: due, not expired and not a draft.
    pub fn is_published(&self, now: DateTime<Utc>) -> bool {
        !self.draft && self.is_due(now) && !self.is_expired(now)
    }

    /// Renders the body (with the hero image first) for feeds and mails.
    pub fn render(&self, unsafe_html: bool) -> Rendered {
        let mut rendered = markdown::render(
            &self.body,
            &self.permalink,
            unsafe_html,
            self.image.as_deref(),
            &self.title,
        );
        // Rendered here, for the posts shown, rather than when the divider is found in all; a
        // summary in the front matter wins, so then there is nothing to render.
        if self.summary.is_none()
            && let Some(before) = self.summary_end.and_then(|end| self.body.get(..end))
        {
            let text = one_line(&markdown::to_plain_text(before));
            if !text.is_empty() {
                rendered.summary = text;
            }
        }
        rendered
    }

    /// The summary: the front matter's, else the one the body gives.
    pub fn summary<'a>(&'a self, rendered: &'a Rendered) -> &'a str {
        self.summary.as_deref().unwrap_or(&rendered.summary)
    }
}

/// What a body holding template syntax still needs once every post's URL is known.
#[derive(Debug, Clone)]
pub struct Unexpanded {
    /// The post's own divider, else the site's.
    divider: Option<String>,
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
            .filter(|p| !p.draft && !p.is_due(now) && !p.is_expired(now))
            .collect();
        v.sort_by(|a, b| a.due().cmp(&b.due()).then_with(|| a.slug.cmp(&b.slug)));
        v
    }

    /// The next moment after `now` when the published posts change: a post becomes due or
    /// expires.
    pub fn next_change(&self, now: DateTime<Utc>) -> Option<DateTime<FixedOffset>> {
        let due = self.scheduled(now).first().map(|p| p.due());
        let expiry = self
            .posts
            .iter()
            .filter(|p| !p.draft)
            .filter_map(|p| p.expires)
            .filter(|e| e.with_timezone(&Utc) > now)
            .min();
        due.into_iter().chain(expiry).min()
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
    load_from(config, &Sources::find(config)?)
}

/// Loads the post files `sources` found: a caller that already walked the content folder (to
/// digest it) does not walk it again.
pub fn load_from(config: &Config, sources: &Sources) -> Result<Content> {
    let rules = source::rules(config.site.generator);
    let results: Vec<Loaded> = sources
        .0
        .par_iter()
        .map(|f| load_post(config, rules, f))
        .collect();
    let mut posts = Vec::with_capacity(results.len());
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    for r in results {
        match r {
            Ok((p, w)) => {
                warnings.extend(w);
                posts.extend(p);
            }
            Err(d) => problems.extend(d),
        }
    }
    let mut by_slug: BTreeMap<&str, &Post> = BTreeMap::new();
    let mut by_url: BTreeMap<&str, &Post> = BTreeMap::new();
    for (p, line) in &posts {
        if let Some(other) = by_slug.insert(&p.slug, p) {
            problems.push(Diagnostic::at(
                Location::line(&p.source, *line),
                format!(
                    "slug \"{}\" is also the slug of {}: every post needs its own slug",
                    crate::error::cut(&p.slug),
                    other.source.display()
                ),
            ));
        }
        if rules.is_some()
            && !p.draft
            && let Some(other) = by_url.insert(p.permalink.as_str(), p)
            && !other.draft
        {
            problems.push(Diagnostic::at(
                Location::line(&p.source, 1),
                format!(
                    "its URL {} is also the URL of {}: the generator would write one over the other",
                    p.permalink,
                    other.source.display()
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let mut posts: Vec<Post> = posts.into_iter().map(|(p, _)| p).collect();
    warnings.extend(finish_bodies(config, rules, &mut posts));
    posts.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.slug.cmp(&b.slug)));
    Ok(Content { posts, warnings })
}

/// Every post file under `content_dir`, sorted (hidden files and folders skipped).
pub struct Sources(Vec<SourceFile>);

impl Sources {
    pub fn find(config: &Config) -> Result<Sources> {
        post_files(config).map(Sources)
    }

    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.0.iter().map(|f| f.path.as_path())
    }
}

fn post_files(config: &Config) -> Result<Vec<SourceFile>> {
    let mut files = match source::rules(config.site.generator) {
        Some(rules) => (rules.walk)(config)?,
        None => {
            let mut files = Vec::new();
            collect_md(&config.content_dir, &mut files)?;
            files
                .into_iter()
                .map(|path| SourceFile {
                    path,
                    bundle: false,
                })
                .collect()
        }
    };
    // Byte order is as deterministic as path order and much cheaper to compare.
    files.sort_unstable_by(|a, b| a.path.as_os_str().cmp(b.path.as_os_str()));
    Ok(files)
}

/// herald's own posts: every `*.md` file below `dir`.
fn collect_md(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    source::walk_dir(dir, &mut |path, is_dir| {
        if !is_dir && source::has_ext(path, &["md"]) {
            out.push(path.to_path_buf());
        }
        Ok(is_dir)
    })
}

/// A post (with the line its slug comes from: `slug:`, or the opening `---`), or none when
/// the generator publishes no page for the file; and the warnings.
type Loaded = std::result::Result<(Option<(Post, usize)>, Vec<Diagnostic>), Vec<Diagnostic>>;

fn load_post(config: &Config, rules: Option<&source::Rules>, file: &SourceFile) -> Loaded {
    let shown = config.display(&file.path);
    let bytes = std::fs::read(&file.path).map_err(|e| {
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
    let (format, fm_text, first_line, body) = match rules {
        None => {
            let (yaml, line, body) = front_matter::split(&shown, &text).map_err(|d| vec![d])?;
            (front_matter::Format::Yaml, yaml, line, body)
        }
        Some(_) => match front_matter::split_any(&shown, &text).map_err(|d| vec![d])? {
            Some(parts) => parts,
            None => (front_matter::Format::Yaml, "", 1, text.as_str()),
        },
    };
    let body_line =
        memchr::memchr_iter(b'\n', &text.as_bytes()[..text.len() - body.len()]).count() + 1;
    // Looked for here, while the file is in cache: most posts hold no template syntax.
    let dialect = template_dialect(config).filter(|d| shortcodes::has_template_syntax(body, *d));
    let field = |key: &str| source::field_for(config, rules, key);
    let keys = front_matter::Keys {
        field: &field,
        ignore_case: rules.is_some_and(|r| r.ignore_case),
        strict: rules.is_none(),
        split_words: rules.is_some_and(|r| r.split_words),
        // Only Hugo's `param` shortcode reads them.
        params: dialect == Some(shortcodes::Dialect::Hugo),
    };
    let fm = front_matter::parse_any(&shown, format, fm_text, first_line, &keys)?;
    let tz = config.site.timezone;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    let at = |line: usize| Location::line(&shown, line);
    // herald's own dates are strict; a generator's, or any once `content.fields` maps names
    // (an Astro blog's `pubDate: 'Jul 08 2022'`), are read in every form generators write.
    let lenient = rules.is_some() || !config.content.fields.is_empty();
    let parse_date = |s: &str| match lenient {
        false => dates::parse(s, tz),
        true => dates::parse_lenient(s, tz).or_else(|| file_time(s, &file.path)),
    };
    let stem = file.name();

    let title = match &fm.title {
        Some((t, line)) => {
            let t = one_line(t);
            if t.is_empty() && rules.is_none() {
                problems.push(Diagnostic::at(at(*line), "`title` is empty"));
            }
            t
        }
        None if rules.is_none() => {
            problems.push(Diagnostic::at(at(1), "missing `title` in front matter"));
            String::new()
        }
        None => String::new(),
    };
    // A generator's post without a title is named as Jekyll names it: from its file.
    let title = if title.is_empty() && rules.is_some() {
        titleize(dates::date_prefix(&stem).map_or(stem.as_str(), |(_, rest)| rest))
    } else {
        title
    };
    let date_of = |v: &(String, usize), problems: &mut Vec<Diagnostic>| {
        parse_date(&v.0).or_else(|| {
            problems.push(Diagnostic::at(
                at(v.1),
                format!(
                    "invalid date \"{}\": {}",
                    crate::error::cut(&v.0),
                    dates::EXPECTED
                ),
            ));
            None
        })
    };
    let date = match (&fm.date, rules) {
        (Some(d), _) => date_of(d, &mut problems),
        (None, None) => {
            problems.push(Diagnostic::at(at(1), "missing `date` in front matter"));
            None
        }
        // A generator's post: the date in its file name, else its publish date; Eleventy
        // dates a page without either by its file (herald reads the modification time, which
        // a checkout keeps more often than the creation time Eleventy reads).
        (None, Some(_)) => dates::date_prefix(&stem)
            .and_then(|(d, _)| dates::parse(&d.format("%Y-%m-%d").to_string(), tz))
            .or_else(|| fm.publish_date.as_ref().and_then(|d| parse_date(&d.0)))
            .or_else(|| {
                let eleventy = config.site.generator == crate::config::Generator::Eleventy;
                let d = file_time("Last Modified", &file.path).filter(|_| eleventy)?;
                warnings.push(Diagnostic::at(
                    at(1),
                    "no date in the front matter or the file name: dated by the file's \
                     modification time, as Eleventy dates it by the file; add `date:` to pin it",
                ));
                Some(d)
            }),
    };
    // Dates a generator's post may get wrong without failing the build are warnings there.
    let mut soft = Vec::new();
    let soft_problems = if rules.is_some() {
        &mut soft
    } else {
        &mut problems
    };
    let updated = fm.updated.as_ref().and_then(|d| date_of(d, soft_problems));
    let publish = fm
        .publish_date
        .as_ref()
        .and_then(|d| date_of(d, soft_problems));
    let expires = fm
        .expiry_date
        .as_ref()
        .and_then(|d| date_of(d, soft_problems));
    warnings.extend(soft);

    let slug = match (&fm.slug, rules) {
        (Some((s, line)), None) => slugify(s).or_else(|| {
            problems.push(Diagnostic::at(
                at(*line),
                format!("slug \"{}\" has no letters or digits", crate::error::cut(s)),
            ));
            None
        }),
        (None, None) => slugify(strip_date_prefix(&stem)).or_else(|| {
            problems.push(Diagnostic::at(
                at(1),
                format!(
                    "the file name \"{}\" gives an empty slug: add `slug:` to the front matter",
                    crate::error::cut(&stem)
                ),
            ));
            None
        }),
        // A generator's post is known by its place: stable when the site's URL rules change.
        (_, Some(_)) => slugify(&identity(config, file)).or_else(|| {
            problems.push(Diagnostic::at(at(1), "its file name gives an empty slug"));
            None
        }),
    };
    let mut tags: Vec<TagRef> = Vec::new();
    for (raw, line) in &fm.tags {
        // The slug comes from the tag as written: a character a feed cannot show still
        // separates words (`nul\0byte` is `nul-byte`).
        let name = one_line(raw);
        match config.site.generator.tag_slug(raw) {
            Some(slug) => {
                if config.feeds.exclude_tags.contains(&slug) {
                    continue;
                }
                if !tags.iter().any(|t| t.slug == slug) {
                    tags.push(TagRef {
                        slug,
                        name,
                        line: *line,
                    });
                }
            }
            None if rules.is_some() => warnings.push(Diagnostic::at(
                at(*line),
                format!(
                    "tag \"{}\" has no letters or digits (left out)",
                    crate::error::cut(&name)
                ),
            )),
            None => problems.push(Diagnostic::at(
                at(*line),
                format!(
                    "tag \"{}\" has no letters or digits",
                    crate::error::cut(&name)
                ),
            )),
        }
    }
    let Some(date) = date else {
        if rules.is_some() && problems.is_empty() {
            warnings.push(Diagnostic::at(
                at(1),
                "no date in the front matter or the file name: left out of feeds and mail",
            ));
            return Ok((None, warnings));
        }
        return Err(problems);
    };
    let permalink = match (rules, slug.as_deref()) {
        (None, Some(s)) => permalink(config, s, date),
        (None, None) => None,
        (Some(r), _) => {
            let facts = source::Facts {
                config,
                file,
                date,
                title: &title,
                slug: fm.slug.as_ref().map(|(s, _)| s.as_str()),
                url: fm.url.as_ref().map(|(s, _)| s.as_str()),
                categories: &fm.categories,
            };
            match (r.url)(&facts) {
                Ok(path) => site_url(config, &path),
                Err(e) => {
                    let line = fm.url.as_ref().map_or(1, |(_, l)| *l);
                    warnings.push(Diagnostic::at(
                        at(line),
                        format!("{e}: left out of feeds and mail"),
                    ));
                    return Ok((None, warnings));
                }
            }
        }
    };
    let image = match (&fm.image, &permalink) {
        (Some((img, line)), Some(base)) => match base.join(img.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u.to_string()),
            _ if rules.is_some() => {
                warnings.push(Diagnostic::at(
                    at(*line),
                    format!("invalid image \"{}\" (left out)", crate::error::cut(img)),
                ));
                None
            }
            _ => {
                problems.push(Diagnostic::at(
                    at(*line),
                    format!(
                        "invalid image \"{}\": expected /media/x.webp or an http(s) URL",
                        crate::error::cut(img)
                    ),
                ));
                None
            }
        },
        _ => None,
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let (Some(slug), Some(permalink)) = (slug, permalink) else {
        return Err(vec![Diagnostic::at(at(1), "invalid post")]);
    };
    if rules.is_none() {
        warnings.extend(fm.unknown.iter().map(|(k, line)| {
            Diagnostic::at(
                at(*line),
                format!("unknown front matter key `{k}` (ignored)"),
            )
        }));
    }
    let summary = fm.summary.map(|s| one_line(&s)).filter(|s| !s.is_empty());
    let divider = fm.divider.as_deref().or(site_divider(config, rules));
    // A body without template syntax is final: its summary divider is cut at once.
    let ((body, summary_end), unexpanded) = match dialect {
        Some(_) => {
            let divider = divider.map(str::to_string);
            ((body.to_string(), None), Some(Unexpanded { divider }))
        }
        None => (cut_divider(body, divider), None),
    };
    let post = Post {
        source: shown.clone(),
        title,
        date,
        updated: updated.unwrap_or(date),
        tags,
        summary,
        image,
        draft: fm.draft || fm.no_page,
        author: fm
            .author
            .map(|a| one_line(&a))
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| config.site.author.name.clone()),
        body,
        body_line,
        unexpanded,
        summary_end,
        permalink,
        slug,
        publish,
        expires,
        params: fm.params,
    };
    let slug_line = match rules {
        None => fm.slug.as_ref().map_or(1, |(_, line)| *line),
        Some(_) => 1,
    };
    Ok((Some((post, slug_line)), warnings))
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

/// A generator's post's identity: its path below `content_dir` without extension (a bundle's
/// folder), `_posts` folders left out: `2014-01-01-update`, `recipes/2019-05-01-soup`.
fn identity(config: &Config, file: &SourceFile) -> String {
    let mut parts = file.parts_below(&config.content_dir);
    parts.retain(|c| c != "_posts");
    parts.join("/")
}

/// Eleventy's date words (`Last Modified`, `Created`, and their `git` forms): the file's
/// modification time.
fn file_time(s: &str, path: &Path) -> Option<DateTime<FixedOffset>> {
    let word = s.trim().trim_start_matches("git ").to_ascii_lowercase();
    if word != "last modified" && word != "created" {
        return None;
    }
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(DateTime::<Utc>::from(modified).fixed_offset())
}

/// `my-first-post` -> `My First Post` (Jekyll's title from a file name).
fn titleize(slug: &str) -> String {
    slug.split(['-', '_', ' '])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The body split at its summary divider (the divider's line removed), if it has one.
fn split_divider<'a>(body: &'a str, divider: &str) -> Option<(&'a str, &'a str)> {
    let at = memchr::memmem::find(body.as_bytes(), divider.as_bytes())?;
    let after = &body[at + divider.len()..];
    Some((&body[..at], after.strip_prefix('\n').unwrap_or(after)))
}

/// `body` without its first `divider`, and where the divider stood (the summary's end).
fn cut_divider(body: &str, divider: Option<&str>) -> (String, Option<usize>) {
    match divider.and_then(|d| split_divider(body, d)) {
        Some((before, after)) => (format!("{before}{after}"), Some(before.len())),
        None => (body.to_string(), None),
    }
}

/// The site's summary divider: `content.summary_divider`, else the generator's own.
fn site_divider<'a>(config: &'a Config, rules: Option<&source::Rules>) -> Option<&'a str> {
    config
        .content
        .summary_divider
        .as_deref()
        .or(rules.and_then(|r| r.divider))
}

/// The template syntax a generator's posts may hold.
fn template_dialect(config: &Config) -> Option<shortcodes::Dialect> {
    match config.site.generator {
        crate::config::Generator::Hugo => Some(shortcodes::Dialect::Hugo),
        // Eleventy runs Markdown through Liquid (or Nunjucks, the same tags) first.
        crate::config::Generator::Jekyll | crate::config::Generator::Eleventy => {
            Some(shortcodes::Dialect::Jekyll)
        }
        crate::config::Generator::Zola => Some(shortcodes::Dialect::Zola),
        crate::config::Generator::Herald => None,
    }
}

/// Finishes the bodies that hold template syntax once every post's URL is known: shortcodes
/// and Liquid tags become what the generator's built-ins make of them (references to other
/// posts resolve to their URLs), then the summary divider, if any, marks the summary's end.
fn finish_bodies(
    config: &Config,
    rules: Option<&source::Rules>,
    posts: &mut [Post],
) -> Vec<Diagnostic> {
    let Some(dialect) = template_dialect(config) else {
        return Vec::new();
    };
    // Built on the first reference only: most posts name no other post.
    let index = std::sync::OnceLock::new();
    let index_of = || index.get_or_init(|| RefIndex::new(config, rules, posts));
    let base = config.site.base_url.as_str();
    let jekyll_baseurl = config
        .site
        .base_url
        .path()
        .trim_end_matches('/')
        .to_string();
    let jekyll_url = {
        let mut u = config.site.base_url.clone();
        u.set_path("");
        u.as_str().trim_end_matches('/').to_string()
    };
    // The new body, where its summary ends, and what expanding it found.
    type Finished = (String, Option<usize>, Vec<Diagnostic>);
    let results: Vec<Option<Finished>> = posts
        .par_iter()
        .map(|p| {
            let divider = &p.unexpanded.as_ref()?.divider;
            let params = |key: &str| -> Option<String> {
                let key = if dialect == shortcodes::Dialect::Hugo {
                    key.to_lowercase()
                } else {
                    key.to_string()
                };
                p.params.get(&key).cloned()
            };
            let resolve = |r: shortcodes::Ref<'_>| index_of().resolve(r);
            let ctx = shortcodes::Context {
                dialect,
                base_url: base,
                jekyll_baseurl: &jekyll_baseurl,
                jekyll_url: &jekyll_url,
                param: &params,
                resolve: &resolve,
            };
            let out = shortcodes::expand(&p.body, &ctx);
            let found = out
                .findings
                .into_iter()
                .map(|f| {
                    Diagnostic::at(
                        Location::line(&p.source, f.line + p.body_line - 1),
                        f.message,
                    )
                })
                .collect();
            let (body, summary_end) = cut_divider(&out.body, divider.as_deref());
            Some((body, summary_end, found))
        })
        .collect();
    let mut warnings = Vec::new();
    for (p, done) in posts.iter_mut().zip(results) {
        if let Some((body, summary_end, found)) = done {
            p.body = body;
            p.summary_end = summary_end;
            p.unexpanded = None;
            warnings.extend(found);
        }
    }
    warnings
}

/// Every way a post can be named in a `ref`, `link`, `post_url` or `@/` reference.
struct RefIndex<'a> {
    by_key: std::collections::HashMap<String, String>,
    config: &'a Config,
    rules: Option<&'a source::Rules>,
}

impl<'a> RefIndex<'a> {
    fn new(config: &'a Config, rules: Option<&'a source::Rules>, posts: &[Post]) -> RefIndex<'a> {
        let mut by_key = std::collections::HashMap::new();
        for p in posts {
            let url = p.permalink.to_string();
            let abs = config.root.join(&p.source);
            let mut keys = vec![p.source.to_string_lossy().replace('\\', "/")];
            if let Ok(rel) = abs.strip_prefix(&config.content.root) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                keys.push(rel.clone());
                let no_ext = match rel.rsplit_once('.') {
                    Some((s, _)) => s.to_string(),
                    None => rel.clone(),
                };
                keys.push(no_ext.trim_end_matches("/index").to_string());
                keys.push(
                    no_ext
                        .replace("/_posts/", "/")
                        .trim_start_matches("_posts/")
                        .to_string(),
                );
            }
            if let Some(name) = abs.file_name() {
                let name = name.to_string_lossy().into_owned();
                if name.starts_with("index.") {
                    if let Some(dir) = abs.parent().and_then(|d| d.file_name()) {
                        keys.push(dir.to_string_lossy().into_owned());
                    }
                } else {
                    keys.push(name.clone());
                    if let Some((stem, _)) = name.rsplit_once('.') {
                        keys.push(stem.to_string());
                    }
                }
            }
            for k in keys {
                by_key.entry(k).or_insert_with(|| url.clone());
            }
        }
        RefIndex {
            by_key,
            config,
            rules,
        }
    }

    fn resolve(&self, r: shortcodes::Ref<'_>) -> Option<String> {
        let key = match r {
            shortcodes::Ref::Hugo(k)
            | shortcodes::Ref::JekyllLink(k)
            | shortcodes::Ref::JekyllPostUrl(k)
            | shortcodes::Ref::Zola(k) => k,
        };
        let key = key.trim().trim_start_matches("@/").trim_start_matches('/');
        let key = key.trim_end_matches('/');
        self.by_key
            .get(key)
            .cloned()
            .or_else(|| {
                let no_ext = key.rsplit_once('.').map_or(key, |(s, _)| s);
                self.by_key.get(no_ext).cloned()
            })
            .or_else(|| self.page(key))
    }

    /// A page that is no post (`about.md`, a section's `_index.md`): its URL by the
    /// generator's rule for its place, its front matter not read.
    fn page(&self, key: &str) -> Option<String> {
        let rules = self.rules?;
        let root = &self.config.content.root;
        if key.is_empty() || key.split('/').any(|c| c == "..") {
            return None;
        }
        let candidates = [
            (root.join(key), false),
            (root.join(format!("{key}.md")), false),
            (root.join(key).join("index.md"), true),
            (root.join(key).join("_index.md"), true),
        ];
        let (path, bundle) = candidates.into_iter().find(|(p, _)| p.is_file())?;
        if path.file_name().is_some_and(|n| n == "_index.md") {
            let dir = path.parent()?.strip_prefix(root).ok()?;
            let dir = dir.to_string_lossy().replace('\\', "/");
            let dir = if dir.is_empty() {
                dir
            } else {
                format!("{dir}/")
            };
            return site_url(self.config, &dir).map(|u| u.to_string());
        }
        let file = SourceFile { path, bundle };
        let facts = source::Facts {
            config: self.config,
            file: &file,
            date: DateTime::UNIX_EPOCH.fixed_offset(),
            title: "",
            slug: None,
            url: None,
            categories: &[],
        };
        let path = (rules.url)(&facts).ok()?;
        site_url(self.config, &path).map(|u| u.to_string())
    }
}

/// `site.base_url` joined with `site.permalink`: `{slug}` filled in (percent-encoded) and
/// `{year}`, `{month}`, `{day}` from the post's date in the site's time zone.
pub fn permalink(config: &Config, slug: &str, date: DateTime<FixedOffset>) -> Option<Url> {
    use chrono::Datelike;
    let crate::config::Permalinks::One(pattern) = &config.site.permalinks else {
        return None;
    };
    let d = date.with_timezone(&config.site.timezone);
    let path = pattern.expand(|t| match t {
        crate::permalink::Token::Year => format!("{:04}", d.year()),
        crate::permalink::Token::Month => format!("{:02}", d.month()),
        crate::permalink::Token::Day => format!("{:02}", d.day()),
        _ => slug.to_string(),
    });
    site_url(config, &path)
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
                line: 4,
            }],
            summary: None,
            image: None,
            draft: false,
            author: "a".into(),
            body: String::new(),
            body_line: 1,
            unexpanded: None,
            summary_end: None,
            permalink: Url::parse("https://e.com/").unwrap(),
            publish: None,
            expires: None,
            params: BTreeMap::new(),
        }
    }

    /// A blog of `generator` with `posts` (path, text), `content` keys added from `extra`,
    /// loaded.
    fn blog(generator: &str, extra: &str, posts: &[(&str, &str)]) -> Content {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in posts {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let yaml = format!(
            "site: {{ title: T, base_url: 'https://h.example.org/', generator: {generator} }}\n\
             content_dir: .\ncontent: {{ root: .{extra} }}\n"
        );
        let config = Config::parse(dir.path(), &dir.path().join("herald.yaml"), &yaml).unwrap();
        load(&config).unwrap()
    }

    /// The summary feeds and mails show for the only post of `content`.
    fn shown_summary(content: &Content) -> String {
        let p = &content.posts[0];
        p.summary(&p.render(false)).to_string()
    }

    #[test]
    fn the_divider_is_cut_after_the_shortcodes_are_expanded() {
        let content = blog(
            "hugo",
            "",
            &[(
                "a.md",
                "---\ntitle: A\ndate: 2024-01-01\nmood: sunny\n---\n\n\
                 It was {{< param \"mood\" >}} all day.\n\n<!--more-->\n\nThe rest.\n",
            )],
        );
        let p = &content.posts[0];
        assert_eq!(p.body, "\nIt was sunny all day.\n\n\nThe rest.\n");
        assert!(p.unexpanded.is_none());
        assert_eq!(shown_summary(&content), "It was sunny all day.");
    }

    #[test]
    fn a_divider_in_a_plain_body_is_cut_on_loading() {
        let content = blog(
            "hugo",
            "",
            &[(
                "a.md",
                "---\ntitle: A\ndate: 2024-01-01\n---\nFirst.\n\nSecond.\n<!--more-->\nThe rest.\n",
            )],
        );
        let p = &content.posts[0];
        assert_eq!(p.body, "First.\n\nSecond.\nThe rest.\n");
        assert!(p.unexpanded.is_none());
        // Every paragraph before the divider, where the default summary is the first only.
        assert_eq!(shown_summary(&content), "First. Second.");
    }

    #[test]
    fn a_posts_own_divider_wins_over_the_sites() {
        let content = blog(
            "jekyll",
            ", summary_divider: '<!-- site -->'",
            &[(
                "_posts/2024-01-01-a.md",
                "---\ntitle: A\ndate: 2024-01-01\nexcerpt_separator: '<!-- own -->'\n---\n\
                 One.\n\n<!-- own -->\n\nTwo.\n\n<!-- site -->\n\nThree.\n",
            )],
        );
        assert_eq!(shown_summary(&content), "One.");
        // Without a divider of its own, the site's.
        let content = blog(
            "jekyll",
            ", summary_divider: '<!-- site -->'",
            &[(
                "_posts/2024-01-01-a.md",
                "---\ntitle: A\ndate: 2024-01-01\n---\nOne.\n\nTwo.\n\n<!-- site -->\n\nThree.\n",
            )],
        );
        assert_eq!(shown_summary(&content), "One. Two.");
    }

    #[test]
    fn hugo_params_are_kept_only_for_bodies_with_template_syntax() {
        let content = blog(
            "hugo",
            "",
            &[
                (
                    "a.md",
                    "---\ntitle: A\ndate: 2024-01-01\nmood: x\n---\nPlain.\n",
                ),
                (
                    "b.md",
                    "---\ntitle: B\ndate: 2024-01-02\nmood: y\n---\n{{< param mood >}}\n",
                ),
            ],
        );
        let by_title = |t: &str| content.posts.iter().find(|p| p.title == t).unwrap();
        assert!(by_title("A").params.is_empty());
        assert_eq!(
            by_title("B").params.get("mood").map(String::as_str),
            Some("y")
        );
        assert_eq!(by_title("B").body, "y\n");
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

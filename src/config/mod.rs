//! The site configuration: `config/herald.yaml` parsed strictly (an unknown key is an error with
//! its line and a "did you mean"), then validated into [`Config`], whose paths are absolute.
//!
//! Owns: keys, defaults, and every check serde cannot make. Never touches content or state.

mod bounces;
mod digest;
mod feed_format;
mod raw;
mod suggest;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use chrono_tz::Tz;
use url::Url;

use crate::dates;
use crate::error::{Diagnostic, Error, IoContext, Location, Result, cut};
use crate::permalink::{HERALD_TOKENS, HUGO_TOKENS, Pattern, Syntax};
pub use bounces::{Imap, MAX_RETURN_PATH_LOCAL, Processed, ReturnPath};
pub use digest::{DEFAULT_SUBJECT as DEFAULT_DIGEST_SUBJECT, Digest, Every};
pub use feed_format::{FeedFormat, OPML_FILE, OPML_MIME};
use raw::*;

/// The blog generator whose posts, dates and URLs herald follows (`site.generator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generator {
    /// herald's own posts: YAML front matter, `site.permalink` with `{slug}`.
    Herald,
    Hugo,
    Jekyll,
    Zola,
    Eleventy,
}

impl Generator {
    pub const NAMES: &[(&str, Generator)] = &[
        ("herald", Generator::Herald),
        ("hugo", Generator::Hugo),
        ("jekyll", Generator::Jekyll),
        ("zola", Generator::Zola),
        ("eleventy", Generator::Eleventy),
    ];

    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(_, g)| *g == self)
            .map_or("herald", |(n, _)| n)
    }

    /// A tag's slug as the generator writes it in its term URLs (`/tags/<slug>/`). The slug is
    /// a folder name: one longer than a file system takes is shortened here, the one place a
    /// tag slug is made, so posts, `feeds.exclude_tags` and list tags agree on it.
    pub fn tag_slug(self, tag: &str) -> Option<String> {
        self.full_tag_slug(tag).map(|s| crate::slug::fit_name(s, 0))
    }

    /// The generator's own slug of `tag`, whatever its length.
    fn full_tag_slug(self, tag: &str) -> Option<String> {
        match self {
            Generator::Herald => crate::slug::slugify(tag),
            Generator::Hugo => crate::slug::hugo_urlize(tag),
            Generator::Jekyll => {
                crate::slug::jekyll_slugify(tag, crate::slug::JekyllSlugMode::Default, false)
            }
            Generator::Zola => crate::slug::zola_slugify(tag),
            Generator::Eleventy => crate::slug::eleventy_slugify(tag),
        }
    }

    /// The generator's content root when `content.root` is not set.
    fn default_root(self) -> &'static str {
        match self {
            Generator::Herald | Generator::Jekyll | Generator::Eleventy => ".",
            Generator::Hugo | Generator::Zola => "content",
        }
    }
}

/// How post URLs are made (`site.permalink`, `site.permalinks`), parsed.
#[derive(Debug, Clone)]
pub enum Permalinks {
    /// herald's `site.permalink` and Jekyll's: one pattern for every post.
    One(Pattern),
    /// Hugo's `[permalinks]`: section -> pattern.
    Sections(BTreeMap<String, Pattern>),
    /// Zola and Eleventy: from each file's place.
    FromFiles,
}

/// `content:`: where the generator's content starts and how its front matter is named.
#[derive(Debug, Clone)]
pub struct Content {
    /// The generator's content root (sections and output paths are relative to it), absolute.
    pub root: PathBuf,
    /// `content.fields`: herald's name -> the front matter's name.
    pub fields: BTreeMap<String, String>,
    /// The text that ends the summary; `None`: the generator's default.
    pub summary_divider: Option<String>,
}

/// The validated configuration. Paths are absolute (joined to the site root).
#[derive(Debug, Clone)]
pub struct Config {
    /// The site root: `--site DIR` or the current directory.
    pub root: PathBuf,
    /// The config file that was read.
    pub file: PathBuf,
    pub site: Site,
    pub content_dir: PathBuf,
    pub templates_dir: PathBuf,
    pub output_dir: PathBuf,
    pub state_dir: PathBuf,
    pub content: Content,
    /// `render.unsafe_html`: raw HTML in Markdown passes (sanitised) instead of being escaped.
    pub unsafe_html: bool,
    pub feeds: Feeds,
    pub newsletter: Option<Newsletter>,
    pub serve: Serve,
    /// Where each top-level key sits in the file, for later error messages.
    source: String,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    /// Always ends with `/`.
    pub base_url: Url,
    pub description: String,
    pub language: String,
    pub timezone: Tz,
    /// As written: herald's contains `{slug}`; Jekyll's is a style name or a pattern.
    pub permalink: String,
    /// The parsed permalink rules.
    pub permalinks: Permalinks,
    /// Hugo's `uglyURLs`: `/posts/x.html` instead of `/posts/x/`.
    pub ugly_urls: bool,
    pub author: Person,
    pub generator: Generator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    pub email: Option<String>,
}

/// `newsletter.from`: who the mails come from; the address is required.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub name: String,
    pub email: String,
}

#[derive(Debug, Clone)]
pub struct Feeds {
    pub formats: Vec<FeedFormat>,
    /// Items per feed; `None` means all (`limit: 0`).
    pub limit: Option<usize>,
    pub full_content: bool,
    pub per_tag: bool,
    /// `feeds.exclude_tags`, as slugs: tags dropped from every post (no feed, no category).
    pub exclude_tags: Vec<String>,
}

/// `newsletter.transport`, with the settings it sends with: `smtp:` belongs to the SMTP
/// choice, so a config that chose SMTP always has them.
#[derive(Debug, Clone)]
pub enum Transport {
    /// `.eml` files under [`Newsletter::outbox_dir`].
    Outbox,
    /// The top-level `smtp:` section.
    Smtp(Smtp),
}

impl Transport {
    /// Its name in `newsletter.transport`.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Outbox => "outbox",
            Transport::Smtp(_) => "smtp",
        }
    }

    /// How many messages are handed to it at once: `smtp.concurrency` sessions, or two
    /// writers for the outbox.
    pub fn concurrency(&self) -> usize {
        match self {
            Transport::Outbox => 2,
            Transport::Smtp(s) => s.concurrency,
        }
    }
}

/// `newsletter.transport` as written, before its settings are joined to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TransportName {
    Outbox,
    Smtp,
}

#[derive(Debug, Clone)]
pub struct Newsletter {
    /// Posts dated before this instant are never mailed.
    pub start: DateTime<FixedOffset>,
    pub from: Sender,
    pub reply_to: Option<String>,
    pub subject: String,
    pub transport: Transport,
    /// The outbox transport's folder, and `herald preview`'s whatever the transport.
    pub outbox_dir: PathBuf,
    pub retry_days: u32,
    /// A post that first becomes mailable later than this after its date is not mailed.
    pub max_lateness: chrono::TimeDelta,
    /// A welcome mail after a confirmed sign-up.
    pub welcome: bool,
    /// `newsletter.dkim`: the key every message is signed with, loaded with the config.
    pub dkim: Option<Dkim>,
    pub lists: Vec<List>,
    /// `newsletter.return_path`: the envelope sender becomes `local+TOKEN@domain` (VERP);
    /// `None`: `from.email`, as it is.
    pub return_path: Option<ReturnPath>,
    /// Soft bounces in a row that make an address bounced.
    pub soft_bounce_limit: u32,
    /// `newsletter.bounces.imap`: the mailbox returned mail is read from.
    pub imap: Option<Imap>,
}

/// `newsletter.dkim`, with its key read and checked (once per run: a [`crate::dkim::Signer`]
/// shared by every message).
#[derive(Debug, Clone)]
pub struct Dkim {
    /// The signing domain, `d=`.
    pub domain: String,
    pub selector: String,
    /// Absolute.
    pub private_key_file: PathBuf,
    pub signer: std::sync::Arc<crate::dkim::Signer>,
}

#[derive(Debug, Clone)]
pub struct List {
    /// `[a-z0-9-]+`, unique.
    pub id: String,
    pub name: String,
    /// `"*"`: every post.
    pub all: bool,
    /// Tag slugs the list takes.
    pub tags: Vec<String>,
    /// Absolute path of the list's CSV, if any.
    pub subscribers: Option<PathBuf>,
    /// A digest list's schedule; `None`: one mail per post.
    pub digest: Option<Digest>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    StartTls,
    Tls,
    None,
}

#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    /// The name of the environment variable holding the password (never the password).
    pub password_env: String,
    pub concurrency: usize,
    /// Messages per second over all sessions; `None` means no limit.
    pub rate_per_second: Option<f64>,
    pub timeout_secs: u64,
}

#[derive(Debug, Clone)]
pub struct Serve {
    pub listen: String,
    /// Always ends with `/`.
    pub public_url: Url,
    pub public_url_set: bool,
    pub confirm_ttl_hours: u64,
    pub subscribe_per_hour: u32,
    pub trust_proxy: bool,
}

/// The smallest positive `smtp.rate_per_second`: one message every 1000 seconds.
const MIN_RATE: f64 = 0.001;

/// What a list id may hold, as error messages say it.
const LIST_ID_CHARS: &str = "[a-z0-9-]+";

impl Config {
    /// Reads and validates the config file. `root` is the site root; `file` overrides
    /// `<root>/config/herald.yaml`.
    pub fn load(root: &Path, file: Option<&Path>) -> Result<Config> {
        let (file, _, text) = Config::read(root, file)?;
        Config::parse(root, &file, &text)
    }

    /// The config file (`file`, else the default one), as it will be named in messages, and
    /// its text.
    fn read(root: &Path, file: Option<&Path>) -> Result<(PathBuf, PathBuf, String)> {
        let file = match file {
            Some(f) => f.to_path_buf(),
            None => Config::default_file(root),
        };
        let bytes = std::fs::read(&file).with_path(&file)?;
        let shown = display_path(root, &file);
        let text = String::from_utf8(bytes)
            .map_err(|e| Error::at(Location::file(&shown), format!("not valid UTF-8: {e}")))?;
        Ok((file, shown, text))
    }

    /// `<root>/config/herald.yaml`, else `<root>/herald.yaml` when only that one exists (the
    /// file `herald init --from` writes into an existing blog).
    pub fn default_file(root: &Path) -> PathBuf {
        let nested = root.join("config").join("herald.yaml");
        let flat = root.join("herald.yaml");
        if !nested.exists() && flat.exists() {
            flat
        } else {
            nested
        }
    }

    /// Parses `text` as the config file `file` of the site at `root`.
    pub fn parse(root: &Path, file: &Path, text: &str) -> Result<Config> {
        let shown = display_path(root, file);
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if let Some(line) = too_deep(text) {
            return Err(Error::at(Location::line(&shown, line), TOO_DEEP));
        }
        let de = serde_yaml::Deserializer::from_str(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de)
            .map_err(|e| Error::Invalid(vec![yaml_error(&shown, e)]))?;
        let mut v = Validator {
            file: shown,
            text,
            problems: Vec::new(),
        };
        let config = v.config(root, file, raw);
        if v.problems.is_empty() {
            Ok(config)
        } else {
            Err(Error::Invalid(v.problems))
        }
    }

    /// What `herald dkim keygen` takes from the config file, which it reads with serde's
    /// checks only: nothing else is validated and no key file is read, since the key may be
    /// the very file keygen is about to write.
    pub fn keygen_defaults(root: &Path, file: Option<&Path>) -> Result<KeygenDefaults> {
        let (_, shown, text) = Config::read(root, file)?;
        let raw = raw_config(&shown, text.strip_prefix('\u{feff}').unwrap_or(&text))?;
        let n = raw.newsletter;
        Ok(KeygenDefaults {
            state_dir: root.join(raw.state_dir.unwrap_or_else(|| "state".into())),
            from_domain: n
                .as_ref()
                .and_then(|n| n.from.email.trim().rsplit_once('@'))
                .map(|(_, d)| d.to_ascii_lowercase()),
            dkim: n.and_then(|n| n.dkim).map(|d| {
                (
                    d.domain.trim().to_ascii_lowercase(),
                    d.selector.trim().to_string(),
                    root.join(d.private_key_file.trim()),
                )
            }),
        })
    }

    /// The config file's text, as it was loaded.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// A path as users see it: relative to the site root where possible.
    pub fn display(&self, path: &Path) -> PathBuf {
        display_path(&self.root, path)
    }

    /// The config file as users see it.
    pub fn shown_file(&self) -> PathBuf {
        self.display(&self.file)
    }

    /// The newsletter list `id`, or an error naming the lists there are.
    pub fn list(&self, id: &str) -> Result<&List> {
        let mut lists = self.newsletter.iter().flat_map(|n| &n.lists);
        lists.clone().find(|l| l.id == id).ok_or_else(|| {
            let known: Vec<&str> = lists.by_ref().map(|l| l.id.as_str()).collect();
            Error::msg(format!(
                "unknown list \"{id}\": the lists are {}",
                known.join(", ")
            ))
        })
    }

    /// Where a problem with a key path is shown: the line of `keys`, or of the longest part of
    /// it that is found, else the file. A step made by [`item`] is an entry of a sequence.
    pub fn location(&self, keys: &[&str]) -> Location {
        locate(&self.source, &self.shown_file(), keys)
    }
}

/// What `herald dkim keygen` takes from the config file ([`Config::keygen_defaults`]).
#[derive(Debug)]
pub struct KeygenDefaults {
    /// `state_dir`, absolute.
    pub state_dir: PathBuf,
    /// The domain of `newsletter.from.email`, lower case.
    pub from_domain: Option<String>,
    /// `newsletter.dkim` as written: domain, selector, and the key file's absolute path.
    pub dkim: Option<(String, String, PathBuf)>,
}

/// The file's text (`shown` in messages) as serde reads it, before any check of ours, as
/// [`Config::parse`] starts.
fn raw_config(shown: &Path, text: &str) -> Result<RawConfig> {
    if let Some(line) = too_deep(text) {
        return Err(Error::at(Location::line(shown, line), TOO_DEEP));
    }
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| Error::Invalid(vec![yaml_error(shown, e)]))
}

/// What [`too_deep`] reports.
pub const TOO_DEEP: &str = "nested more than 128 levels deep";

/// The line where `[` and `{` collections in `yaml` nest more than 128 levels deep, if they do.
///
/// serde_yaml refuses such input anyway (its recursion limit is 128), but only after libyaml
/// scanned all of it, and that scan takes time quadratic in the depth: 16,000 `[` took seconds,
/// a megabyte of them would take an hour. This linear pass refuses them first. It skips
/// comments and quoted scalars; a `[` or `{` inside a plain scalar (`title: a[b`) is text, not
/// a collection, so outside collections only one that starts a value counts.
pub fn too_deep(yaml: &str) -> Option<usize> {
    const LIMIT: usize = 128;
    let mut depth = 0usize;
    let mut line = 1;
    let mut prev = '\n';
    let mut chars = yaml.chars().peekable();
    while let Some(c) = chars.next() {
        let starts_value =
            prev.is_whitespace() || matches!(prev, '[' | '{' | ',' | ':' | '-' | '?');
        match c {
            '\n' => line += 1,
            '#' if prev.is_whitespace() => {
                if chars.by_ref().any(|c| c == '\n') {
                    line += 1;
                }
                prev = '\n';
                continue;
            }
            '"' | '\'' if starts_value => {
                // To the closing quote: `\"` escapes one in double quotes, `''` in single.
                let mut escaped = false;
                while let Some(q) = chars.next() {
                    if q == '\n' {
                        line += 1;
                    }
                    if q == c && !escaped {
                        if c == '\'' && chars.peek() == Some(&'\'') {
                            chars.next();
                            continue;
                        }
                        break;
                    }
                    escaped = c == '"' && q == '\\' && !escaped;
                }
            }
            '[' | '{' if depth > 0 || starts_value => {
                depth += 1;
                if depth > LIMIT {
                    return Some(line);
                }
            }
            // Text in a plain scalar: the next `[` does not start a value either.
            '[' | '{' => {
                prev = 'a';
                continue;
            }
            ']' | '}' if depth > 0 => depth -= 1,
            _ => {}
        }
        prev = c;
    }
    None
}

/// `path` relative to `root` when it lies below it.
pub fn display_path(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// Turns a serde_yaml error into `file:line: message`, rewriting serde's "unknown field" into
/// the section it was found in and a suggestion.
fn yaml_error(file: &Path, e: serde_path_to_error::Error<serde_yaml::Error>) -> Diagnostic {
    let path = e.path().to_string();
    let inner = e.inner();
    let line = inner.location().map(|l| l.line());
    let msg = inner.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
    // serde_yaml starts nested errors with its own path (`feeds: unknown field ...`); the
    // message names the section itself, so drop it.
    let msg = match msg.split_once(": ") {
        Some((p, rest)) if !p.is_empty() && !p.contains(' ') && path.starts_with(p) => {
            rest.to_string()
        }
        _ => msg,
    };
    let message = if let Some(rest) = msg.strip_prefix("unknown field `") {
        // `formts`, expected one of `formats`, `limit`: every other piece after the key.
        let key = rest.split('`').next().unwrap_or_default();
        let expected: Vec<&str> = rest.split('`').skip(2).step_by(2).collect();
        let section = path.rsplit_once('.').map(|(s, _)| s).unwrap_or("");
        let section = section_name(section);
        let mut m = if section.is_empty() {
            format!("unknown key `{key}`")
        } else {
            format!("unknown key `{key}` in `{section}`")
        };
        if let Some(s) = suggest::closest(key, &expected) {
            m.push_str(&format!(" (did you mean `{s}`?)"));
        } else if !expected.is_empty() {
            m.push_str(&format!(" (expected one of: {})", expected.join(", ")));
        }
        m
    } else if path.is_empty() || path == "." {
        msg
    } else {
        format!("`{}`: {msg}", section_name(&path))
    };
    match line {
        Some(l) => Diagnostic::at(Location::line(file, l), message),
        None => Diagnostic::at(Location::file(file), message),
    }
}

/// `newsletter.lists[0].tags` as users would name it: `newsletter.lists.tags`.
fn section_name(path: &str) -> String {
    let mut out = String::new();
    for part in path.split('.') {
        let part = part.split('[').next().unwrap_or(part);
        if part.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(part);
    }
    out
}

/// The key-path step for entry `index` (0-based) of a block sequence, as in
/// `["newsletter", "lists", &item(1), "tags"]`: the 2nd list's `tags`.
pub fn item(index: usize) -> String {
    format!("[{index}]")
}

/// The 1-based line where a block-style key path starts, e.g. `["newsletter", "start"]`; a step
/// made by [`item`] is an entry of the sequence the previous key holds (the line of its `-`).
fn find_key_line(text: &str, keys: &[&str]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    // Where the next key is looked for: from this line, in the block indented at least so far.
    let mut from = 0usize;
    let mut min_indent = 0usize;
    // The indent of the key found last, whose value a sequence step walks.
    let mut parent_indent = 0usize;
    let mut found = None;
    for key in keys {
        let index = key
            .strip_prefix('[')
            .and_then(|k| k.strip_suffix(']'))
            .and_then(|k| k.parse::<usize>().ok());
        let (i, indent) = match index {
            Some(n) => {
                let (i, dash) = nth_entry(&lines, from, parent_indent, n)?;
                // The entry's keys: the first on the `-` line itself, then the lines below.
                found = Some(i + 1);
                from = i;
                min_indent = dash + 1;
                parent_indent = dash;
                continue;
            }
            None => find_key(&lines, key, from, min_indent, found.is_some())?,
        };
        found = Some(i + 1);
        from = i + 1;
        min_indent = indent + 1;
        parent_indent = indent;
    }
    found
}

/// `file` at the line of `keys` in `text`, or of the longest part of it that is found (a key
/// left out, a flow collection such as `- { id: a, tags: [] }`), else `file` alone.
fn locate(text: &str, file: &Path, keys: &[&str]) -> Location {
    match (1..=keys.len())
        .rev()
        .find_map(|n| find_key_line(text, &keys[..n]))
    {
        Some(l) => Location::line(file, l),
        None => Location::file(file),
    }
}

/// A line's indent, and its text after the indent and any `- ` entry markers, with the column
/// that text starts at.
fn split_indent(line: &str) -> (usize, &str, usize) {
    let trimmed = line.trim_start();
    let indent = line.len() - trimmed.len();
    let mut text = trimmed;
    let mut column = indent;
    while let Some(rest) = text.strip_prefix("- ") {
        let rest_trimmed = rest.trim_start();
        column += text.len() - rest_trimmed.len();
        text = rest_trimmed;
    }
    (indent, text, column)
}

/// A line with nothing to read: blank or a comment.
fn is_blank(text: &str) -> bool {
    text.is_empty() || text.starts_with('#')
}

/// The line of `key:` from line `from`, in the block indented at least `min_indent` (`nested`:
/// inside a key already found, whose block ends at the first line indented less), and the
/// column it starts at.
fn find_key(
    lines: &[&str],
    key: &str,
    from: usize,
    min_indent: usize,
    nested: bool,
) -> Option<(usize, usize)> {
    let wanted = format!("{key}:");
    for (i, line) in lines.iter().enumerate().skip(from) {
        let (indent, text, column) = split_indent(line);
        if is_blank(line.trim_start()) {
            continue;
        }
        if nested && indent < min_indent && i > from {
            return None;
        }
        if text.starts_with(&wanted) && column >= min_indent {
            return Some((i, column));
        }
    }
    None
}

/// The line of entry `n` of the block sequence below line `from` that belongs to a key at
/// `parent` indent, and the indent of its `-`. `None` for a flow sequence (`[a, b]`) or when
/// there are fewer entries.
fn nth_entry(lines: &[&str], from: usize, parent: usize, n: usize) -> Option<(usize, usize)> {
    let mut dash = None;
    let mut seen = 0;
    for (i, line) in lines.iter().enumerate().skip(from) {
        let trimmed = line.trim_start();
        if is_blank(trimmed) {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let is_entry = trimmed == "-" || trimmed.starts_with("- ");
        // The sequence may sit at its key's own indent (`lists:` then `- id: a`).
        if indent < parent || (indent == parent && !is_entry) {
            return None;
        }
        let d = *dash.get_or_insert(indent);
        if indent < d {
            return None;
        }
        if indent == d && is_entry {
            if seen == n {
                return Some((i, d));
            }
            seen += 1;
        } else if indent == d {
            return None;
        }
    }
    None
}

struct Validator<'a> {
    file: PathBuf,
    text: &'a str,
    problems: Vec<Diagnostic>,
}

impl Validator<'_> {
    /// A problem at the line of `keys`, as [`Config::location`] finds it.
    fn problem(&mut self, keys: &[&str], message: impl Into<String>) {
        let loc = locate(self.text, &self.file, keys);
        self.problems.push(Diagnostic::at(loc, message));
    }

    fn email(&mut self, keys: &[&str], value: &str) -> String {
        let value = value.trim();
        if value.parse::<lettre::Address>().is_err() {
            self.problem(keys, format!("\"{}\" is not an email address", cut(value)));
        }
        value.to_string()
    }

    fn config(&mut self, root: &Path, file: &Path, raw: RawConfig) -> Config {
        let site = self.site(raw.site);
        let dir = |v: Option<String>, d: &str| root.join(v.unwrap_or_else(|| d.to_string()));
        let feeds = self.feeds(raw.feeds, site.generator);
        let content = self.content(root, raw.content, site.generator);
        let newsletter = raw
            .newsletter
            .map(|n| self.newsletter(root, n, site.timezone, site.generator));
        // An `smtp:` section is checked even when no newsletter sends through it.
        let smtp = raw.smtp.map(|s| self.smtp(s));
        let serve = self.serve(raw.serve);
        let newsletter = newsletter.map(|(mut n, name)| {
            n.transport = self.transport(name, smtp, &serve);
            n
        });
        Config {
            root: root.to_path_buf(),
            file: file.to_path_buf(),
            site,
            content_dir: dir(raw.content_dir, "content/posts"),
            templates_dir: dir(raw.templates_dir, "templates"),
            output_dir: dir(raw.output_dir, "public"),
            state_dir: dir(raw.state_dir, "state"),
            content,
            unsafe_html: raw.render.and_then(|r| r.unsafe_html).unwrap_or(false),
            feeds,
            newsletter,
            serve,
            source: self.text.to_string(),
        }
    }

    fn site(&mut self, raw: RawSite) -> Site {
        let title = one_line(&raw.title);
        if title.is_empty() {
            self.problem(&["site", "title"], "`site.title` is empty");
        }
        let base_url = match Url::parse(raw.base_url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => with_slash(u),
            _ => {
                self.problem(
                    &["site", "base_url"],
                    format!(
                        "invalid base_url \"{}\": expected an absolute http(s) URL",
                        cut(&raw.base_url)
                    ),
                );
                Url::parse("https://invalid.invalid/").unwrap_or_else(|_| unreachable!())
            }
        };
        let timezone = match raw.timezone.as_deref().unwrap_or("UTC").parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                self.problem(
                    &["site", "timezone"],
                    format!(
                        "unknown timezone \"{}\": expected an IANA name such as Europe/Berlin",
                        cut(&raw.timezone.unwrap_or_default())
                    ),
                );
                Tz::UTC
            }
        };
        let language = raw.language.unwrap_or_else(|| "en".into());
        if !valid_language(&language) {
            self.problem(
                &["site", "language"],
                format!(
                    "invalid language \"{}\": expected a code such as en or pt-BR",
                    cut(&language)
                ),
            );
        }
        let generator = match raw.generator.as_deref().map(str::trim) {
            None => Generator::Herald,
            Some(name) => match Generator::NAMES.iter().find(|(n, _)| *n == name) {
                Some((_, g)) => *g,
                None => {
                    self.problem(
                        &["site", "generator"],
                        format!(
                            "unknown generator \"{}\": expected herald, hugo, jekyll, zola or eleventy",
                            cut(name)
                        ),
                    );
                    Generator::Herald
                }
            },
        };
        let (permalink, permalinks) = self.permalinks(generator, raw.permalink, raw.permalinks);
        let author = match raw.author {
            Some(a) => {
                let email = a
                    .email
                    .map(|e| self.email(&["site", "author", "email"], &e));
                Person {
                    name: one_line(&a.name),
                    email,
                }
            }
            None => Person {
                name: title.clone(),
                email: None,
            },
        };
        if author.name.is_empty() {
            self.problem(&["site", "author", "name"], "`site.author.name` is empty");
        }
        Site {
            title,
            base_url,
            description: one_line(&raw.description.unwrap_or_default()),
            language,
            timezone,
            permalink,
            permalinks,
            ugly_urls: raw.ugly_urls.unwrap_or(false),
            author,
            generator,
        }
    }

    /// `site.permalink` and `site.permalinks`, checked for the generator that uses them.
    fn permalinks(
        &mut self,
        generator: Generator,
        one: Option<String>,
        table: Option<BTreeMap<String, String>>,
    ) -> (String, Permalinks) {
        let keys = ["site", "permalink"];
        if table.is_some() && generator != Generator::Hugo {
            self.problem(
                &["site", "permalinks"],
                "`site.permalinks` is Hugo's [permalinks] table: it needs `generator: hugo`",
            );
        }
        match generator {
            Generator::Herald => {
                let text = one.unwrap_or_else(|| "/posts/{slug}/".into());
                let parsed = Pattern::parse(&text, Syntax::Braces, HERALD_TOKENS);
                let pattern = match parsed {
                    Ok(p) if p.has(crate::permalink::Token::Slug) && text.starts_with('/') => p,
                    _ => {
                        self.problem(
                            &keys,
                            format!(
                                "invalid permalink \"{}\": expected a path with {{slug}}, such as \
                                 /posts/{{slug}}/ or /{{year}}/{{month}}/{{day}}/{{slug}}/",
                                cut(&text)
                            ),
                        );
                        Pattern { pieces: Vec::new() }
                    }
                };
                (text, Permalinks::One(pattern))
            }
            Generator::Jekyll => {
                let text = one.unwrap_or_else(|| "date".into());
                let pattern = crate::permalink::Pattern::jekyll(&text).unwrap_or_else(|e| {
                    self.problem(
                        &keys,
                        format!("invalid Jekyll permalink \"{}\": {e}", cut(&text)),
                    );
                    Pattern { pieces: Vec::new() }
                });
                (text, Permalinks::One(pattern))
            }
            Generator::Hugo => {
                if one.is_some() {
                    self.problem(
                        &keys,
                        "Hugo's URL rules go in `site.permalinks` (section: pattern), not `site.permalink`",
                    );
                }
                let mut map = BTreeMap::new();
                for (section, text) in table.unwrap_or_default() {
                    match Pattern::parse(&text, Syntax::Colon, HUGO_TOKENS) {
                        Ok(p) => {
                            map.insert(section, p);
                        }
                        Err(e) => self.problem(
                            &["site", "permalinks", &section],
                            format!("invalid Hugo permalink \"{}\": {e}", cut(&text)),
                        ),
                    }
                }
                (String::new(), Permalinks::Sections(map))
            }
            Generator::Zola | Generator::Eleventy => {
                if one.is_some() {
                    self.problem(
                        &keys,
                        format!(
                            "{} takes each post's URL from its file and front matter: remove `site.permalink`",
                            generator.name()
                        ),
                    );
                }
                (String::new(), Permalinks::FromFiles)
            }
        }
    }

    /// `content:`; its keys only mean something for a generator's blog.
    fn content(&mut self, root: &Path, raw: Option<RawContent>, generator: Generator) -> Content {
        let raw = raw.unwrap_or(RawContent {
            root: None,
            fields: None,
            summary_divider: None,
        });
        const FIELDS: &[&str] = &[
            "title", "date", "updated", "tags", "summary", "image", "slug", "draft", "author",
        ];
        let fields = raw.fields.unwrap_or_default();
        for herald_name in fields.keys() {
            if !FIELDS.contains(&herald_name.as_str()) {
                let mut m = format!("unknown field `{}` in `content.fields`", cut(herald_name));
                match suggest::closest(herald_name, FIELDS) {
                    Some(s) => m.push_str(&format!(" (did you mean `{s}`?)")),
                    None => m.push_str(&format!(" (expected one of: {})", FIELDS.join(", "))),
                }
                self.problem(&["content", "fields", herald_name], m);
            }
        }
        if raw
            .summary_divider
            .as_deref()
            .is_some_and(|d| d.trim().is_empty())
        {
            self.problem(
                &["content", "summary_divider"],
                "`content.summary_divider` is empty",
            );
        }
        Content {
            root: root.join(raw.root.unwrap_or_else(|| generator.default_root().into())),
            fields,
            summary_divider: raw.summary_divider.filter(|d| !d.trim().is_empty()),
        }
    }

    fn feeds(&mut self, raw: Option<RawFeeds>, generator: Generator) -> Feeds {
        let raw = raw.unwrap_or(RawFeeds {
            formats: None,
            limit: None,
            full_content: None,
            per_tag: None,
            exclude_tags: None,
        });
        let exclude_tags = raw
            .exclude_tags
            .unwrap_or_default()
            .iter()
            .filter_map(|t| generator.tag_slug(t))
            .collect();
        let mut formats = Vec::new();
        match raw.formats {
            None => formats.extend(FeedFormat::ALL),
            Some(names) => {
                for name in names {
                    match FeedFormat::from_config_name(&name) {
                        Some(f) => formats.push(f),
                        None => self.problem(
                            &["feeds", "formats"],
                            format!(
                                "unknown feed format \"{}\": expected rss, atom or json",
                                cut(&name)
                            ),
                        ),
                    }
                }
            }
        }
        formats.sort();
        formats.dedup();
        Feeds {
            formats,
            limit: match raw.limit.unwrap_or(20) {
                0 => None,
                n => Some(n),
            },
            full_content: raw.full_content.unwrap_or(true),
            per_tag: raw.per_tag.unwrap_or(true),
            exclude_tags,
        }
    }

    /// `newsletter:`, and the transport it names, whose settings [`Validator::transport`]
    /// joins to it (`Transport::Outbox` until then).
    fn newsletter(
        &mut self,
        root: &Path,
        raw: RawNewsletter,
        tz: Tz,
        generator: Generator,
    ) -> (Newsletter, TransportName) {
        let start = dates::parse(&raw.start, tz).unwrap_or_else(|| {
            self.problem(
                &["newsletter", "start"],
                format!("invalid start \"{}\": {}", cut(&raw.start), dates::EXPECTED),
            );
            DateTime::UNIX_EPOCH.fixed_offset()
        });
        let from = Sender {
            name: one_line(raw.from.name.as_deref().unwrap_or("")),
            email: self.email(&["newsletter", "from", "email"], &raw.from.email),
        };
        let reply_to = raw
            .reply_to
            .map(|r| self.email(&["newsletter", "reply_to"], &r));
        let transport = match raw.transport.as_deref().unwrap_or("outbox") {
            "outbox" => TransportName::Outbox,
            "smtp" => TransportName::Smtp,
            other => {
                self.problem(
                    &["newsletter", "transport"],
                    format!(
                        "unknown transport \"{}\": expected outbox or smtp",
                        cut(other)
                    ),
                );
                TransportName::Outbox
            }
        };
        if raw.lists.is_empty() {
            self.problem(
                &["newsletter", "lists"],
                "`newsletter.lists` needs at least one list",
            );
        }
        let mut lists: Vec<List> = Vec::new();
        for (i, l) in raw.lists.into_iter().enumerate() {
            // Each problem at its own list's line, or at the offending key's within it.
            let entry = item(i);
            let at = |key: &'static str| ["newsletter", "lists", entry.as_str(), key];
            if l.id.is_empty()
                || !l
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                self.problem(
                    &at("id"),
                    format!(
                        "invalid list id \"{}\": expected {LIST_ID_CHARS}",
                        cut(&l.id)
                    ),
                );
            }
            if lists.iter().any(|o| o.id == l.id) {
                self.problem(
                    &at("id"),
                    format!("list id \"{}\" is used twice", cut(&l.id)),
                );
            }
            let all = l.tags.iter().any(|t| t.trim() == "*");
            let mut tags = Vec::new();
            for t in l.tags.iter().filter(|t| t.trim() != "*") {
                match generator.tag_slug(t) {
                    Some(s) => tags.push(s),
                    None => self.problem(
                        &at("tags"),
                        format!(
                            "list \"{}\": tag \"{}\" has no letters or digits",
                            cut(&l.id),
                            cut(t)
                        ),
                    ),
                }
            }
            if !all && tags.is_empty() {
                self.problem(
                    &at("tags"),
                    format!(
                        "list \"{}\" has no tags: use [\"*\"] for every post",
                        cut(&l.id)
                    ),
                );
            }
            if l.subscribers
                .as_deref()
                .is_some_and(|s| s.trim().is_empty())
            {
                self.problem(
                    &at("subscribers"),
                    format!(
                        "list \"{}\": `subscribers` is empty: name a CSV file, or leave the key out",
                        cut(&l.id)
                    ),
                );
            }
            let digest = l.digest.map(|d| self.digest(&entry, d));
            lists.push(List {
                name: one_line(l.name.as_deref().unwrap_or(&l.id)),
                id: l.id,
                all,
                tags,
                subscribers: l.subscribers.map(|s| root.join(s)),
                digest,
            });
        }
        let newsletter = Newsletter {
            start,
            from,
            reply_to,
            subject: raw.subject.unwrap_or_else(|| "{{post.title}}".into()),
            transport: Transport::Outbox,
            outbox_dir: root.join(raw.outbox_dir.unwrap_or_else(|| "outbox".into())),
            retry_days: raw.retry_days.unwrap_or(3),
            max_lateness: self.max_lateness(raw.max_lateness.as_deref()),
            welcome: raw.welcome.unwrap_or(true),
            dkim: raw.dkim.and_then(|d| self.dkim(root, d)),
            lists,
            return_path: self.return_path(raw.return_path.as_deref()),
            soft_bounce_limit: self.soft_bounce_limit(raw.soft_bounce_limit),
            imap: self.bounces(raw.bounces),
        };
        (newsletter, transport)
    }

    /// `newsletter.dkim`: names checked, the key read (see [`crate::dkim::load`]); `None`
    /// when anything is wrong, each problem at its key's line.
    fn dkim(&mut self, root: &Path, raw: RawDkim) -> Option<Dkim> {
        let at = |key: &'static str| ["newsletter", "dkim", key];
        let domain = raw.domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let selector = raw.selector.trim().to_string();
        let mut ok = true;
        if !crate::dkim::valid_domain(&domain) {
            self.problem(
                &at("domain"),
                format!(
                    "invalid DKIM domain \"{}\": expected a domain name such as leadcraftr.com",
                    cut(&raw.domain)
                ),
            );
            ok = false;
        }
        if !crate::dkim::valid_selector(&selector) {
            self.problem(
                &at("selector"),
                format!(
                    "invalid DKIM selector \"{}\": expected letters, digits, `-` and `.`, \
                     such as herald-202611",
                    cut(&raw.selector)
                ),
            );
            ok = false;
        }
        let file = raw.private_key_file.trim();
        if file.is_empty() {
            self.problem(
                &at("private_key_file"),
                "`newsletter.dkim.private_key_file` is empty: name the PEM key file",
            );
            return None;
        }
        let path = root.join(file);
        let key = match crate::dkim::load(&path, &display_path(root, &path)) {
            Ok(key) => key,
            Err(problems) => {
                for p in problems {
                    self.problem(&at("private_key_file"), p);
                }
                return None;
            }
        };
        if !ok {
            return None;
        }
        match crate::dkim::Signer::new(&domain, &selector, &key) {
            Ok(signer) => Some(Dkim {
                domain,
                selector,
                private_key_file: path,
                signer: std::sync::Arc::new(signer),
            }),
            Err(e) => {
                self.problem(&at("private_key_file"), e.to_string());
                None
            }
        }
    }

    /// `newsletter.max_lateness`: a duration such as `7d`, `36h` or `2weeks`.
    fn max_lateness(&mut self, raw: Option<&str>) -> chrono::TimeDelta {
        let default = chrono::TimeDelta::days(7);
        let Some(raw) = raw else { return default };
        match humantime::parse_duration(raw.trim())
            .ok()
            .and_then(|d| chrono::TimeDelta::from_std(d).ok())
        {
            Some(d) => d,
            None => {
                self.problem(
                    &["newsletter", "max_lateness"],
                    format!(
                        "invalid max_lateness \"{}\": expected a duration such as 7d, 36h or 2weeks",
                        cut(raw)
                    ),
                );
                default
            }
        }
    }

    /// A list's `digest:` (`entry`: the list's item in `newsletter.lists`).
    fn digest(&mut self, entry: &str, raw: RawDigest) -> Digest {
        let at = |key: &'static str| ["newsletter", "lists", entry, "digest", key];
        let weekday = raw.weekday.as_deref().map(|w| {
            w.trim().parse::<chrono::Weekday>().unwrap_or_else(|_| {
                self.problem(
                    &at("weekday"),
                    format!(
                        "invalid weekday \"{}\": expected mon, tue, wed, thu, fri, sat or sun",
                        cut(w)
                    ),
                );
                chrono::Weekday::Mon
            })
        });
        let day = raw.day.inspect(|d| {
            if !(1..=31).contains(d) {
                self.problem(
                    &at("day"),
                    format!(
                        "invalid day {d}: expected 1 to 31 (a shorter month uses its last day)"
                    ),
                );
            }
        });
        let every = match raw.every.trim() {
            "day" => Every::Day,
            "week" => Every::Week(weekday.unwrap_or(chrono::Weekday::Mon)),
            "month" => Every::Month(day.unwrap_or(1)),
            other => {
                self.problem(
                    &at("every"),
                    format!(
                        "invalid every \"{}\": expected day, week or month",
                        cut(other)
                    ),
                );
                Every::Day
            }
        };
        if weekday.is_some() && !matches!(every, Every::Week(_)) {
            self.problem(&at("weekday"), "`weekday` applies only to `every: week`");
        }
        if day.is_some() && !matches!(every, Every::Month(_)) {
            self.problem(&at("day"), "`day` applies only to `every: month`");
        }
        let time = raw.at.as_deref().unwrap_or("08:00");
        let time = chrono::NaiveTime::parse_from_str(time.trim(), "%H:%M").unwrap_or_else(|_| {
            self.problem(
                &at("at"),
                format!(
                    "invalid at \"{}\": expected a time of day such as 08:00",
                    cut(time)
                ),
            );
            chrono::NaiveTime::MIN
        });
        Digest {
            every,
            at: time,
            full_content: raw.full_content.unwrap_or(false),
            subject: raw.subject.unwrap_or_else(|| DEFAULT_DIGEST_SUBJECT.into()),
        }
    }

    /// The transport `name` with its settings: `transport: smtp` needs the `smtp:` section, and
    /// a remote SMTP host needs a public `serve.public_url`. An `smtp:` section with
    /// `transport: outbox` is checked but not used.
    fn transport(&mut self, name: TransportName, smtp: Option<Smtp>, serve: &Serve) -> Transport {
        match (name, smtp) {
            (TransportName::Outbox, _) => Transport::Outbox,
            (TransportName::Smtp, None) => {
                self.problem(
                    &["newsletter", "transport"],
                    "`transport: smtp` needs an `smtp:` section",
                );
                Transport::Outbox
            }
            (TransportName::Smtp, Some(s)) => {
                if !is_loopback(&s.host) {
                    let public = serve.public_url.host_str().is_some_and(|h| !is_loopback(h));
                    if !serve.public_url_set || !public {
                        self.problem(
                            &["serve"],
                            "`serve.public_url` must be a public http(s) URL when mail goes \
                             through a remote SMTP host: unsubscribe links would point nowhere",
                        );
                    }
                }
                Transport::Smtp(s)
            }
        }
    }

    fn smtp(&mut self, raw: RawSmtp) -> Smtp {
        let security = match raw.security.as_deref().unwrap_or("starttls") {
            "starttls" => Security::StartTls,
            "tls" => Security::Tls,
            "none" => Security::None,
            other => {
                self.problem(
                    &["smtp", "security"],
                    format!(
                        "unknown security \"{}\": expected starttls, tls or none",
                        cut(other)
                    ),
                );
                Security::StartTls
            }
        };
        let host = raw.host.trim().to_string();
        if host.is_empty() {
            self.problem(&["smtp", "host"], "`smtp.host` is empty");
        }
        if security == Security::None && !is_loopback(&host) {
            self.problem(
                &["smtp", "security"],
                format!(
                    "`security: none` sends mail and password in clear text; it is only allowed \
                     for a loopback host, not \"{}\"",
                    cut(&host)
                ),
            );
        }
        let concurrency = raw.concurrency.unwrap_or(4);
        if concurrency == 0 || concurrency > 64 {
            self.problem(
                &["smtp", "concurrency"],
                "`smtp.concurrency` must be between 1 and 64",
            );
        }
        let rate = raw.rate_per_second.unwrap_or(0.0);
        // A positive rate below this is no limit but a stop, and its pause (1 / rate seconds)
        // overflows `Duration` and `Instant` (a panic) long before it reaches 1e-300.
        if !rate.is_finite() || rate < 0.0 || (rate > 0.0 && rate < MIN_RATE) {
            self.problem(
                &["smtp", "rate_per_second"],
                format!("`smtp.rate_per_second` must be 0 (no limit) or at least {MIN_RATE}"),
            );
        }
        let timeout_secs = raw.timeout_secs.unwrap_or(30);
        if timeout_secs == 0 {
            self.problem(
                &["smtp", "timeout_secs"],
                "`smtp.timeout_secs` must be at least 1",
            );
        }
        Smtp {
            port: raw
                .port
                .unwrap_or(if security == Security::Tls { 465 } else { 587 }),
            host,
            security,
            username: raw.username.filter(|u| !u.is_empty()),
            password_env: raw
                .password_env
                .unwrap_or_else(|| "HERALD_SMTP_PASSWORD".into()),
            concurrency: concurrency.clamp(1, 64),
            rate_per_second: (rate > 0.0 && rate.is_finite()).then_some(rate),
            timeout_secs: timeout_secs.max(1),
        }
    }

    fn serve(&mut self, raw: Option<RawServe>) -> Serve {
        let raw = raw.unwrap_or(RawServe {
            listen: None,
            public_url: None,
            confirm_ttl_hours: None,
            subscribe_per_hour: None,
            trust_proxy: None,
        });
        let public_url_set = raw.public_url.is_some();
        let public = raw
            .public_url
            .unwrap_or_else(|| "http://127.0.0.1:8080/".into());
        let public_url = match Url::parse(public.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => with_slash(u),
            _ => {
                self.problem(
                    &["serve", "public_url"],
                    format!(
                        "invalid public_url \"{}\": expected an absolute http(s) URL",
                        cut(&public)
                    ),
                );
                Url::parse("http://127.0.0.1:8080/").unwrap_or_else(|_| unreachable!())
            }
        };
        Serve {
            listen: raw.listen.unwrap_or_else(|| "127.0.0.1:8080".into()),
            public_url,
            public_url_set,
            confirm_ttl_hours: raw.confirm_ttl_hours.unwrap_or(48).max(1),
            subscribe_per_hour: raw.subscribe_per_hour.unwrap_or(5),
            trust_proxy: raw.trust_proxy.unwrap_or(false),
        }
    }
}

/// Collapses every run of whitespace (CR and LF included) into one space and trims the ends,
/// after dropping the characters XML cannot carry (NUL, U+FFFE, ...): a feed then shows the
/// same text, with no space left at either end.
pub fn one_line(s: &str) -> String {
    s.split_whitespace()
        .map(|w| w.chars().filter(|c| is_xml_char(*c)).collect::<String>())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A character XML 1.0 allows in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn with_slash(mut u: Url) -> Url {
    if !u.path().ends_with('/') {
        let p = format!("{}/", u.path());
        u.set_path(&p);
    }
    u
}

/// `localhost` or a loopback IP (127.0.0.0/8, ::1).
pub fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost") || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn valid_language(s: &str) -> bool {
    let mut parts = s.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=3).contains(&first.len())
        && first.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        Config::parse(
            Path::new("/site"),
            Path::new("/site/config/herald.yaml"),
            text,
        )
    }

    const MIN: &str = "site:\n  title: T\n  base_url: https://example.com/blog\n";

    fn errors(text: &str) -> Vec<String> {
        match parse(text) {
            Err(Error::Invalid(d)) => d.iter().map(|d| d.to_string()).collect(),
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn generator_keys_are_checked_against_the_generator() {
        let e = errors("site:\n  title: T\n  base_url: https://e.org/\n  generator: gatsby\n");
        assert!(
            e[0].starts_with("config/herald.yaml:4: unknown generator \"gatsby\""),
            "{e:?}"
        );
        let e = errors(
            "site:\n  title: T\n  base_url: https://e.org/\n  generator: jekyll\n  permalinks: { posts: /:slug/ }\n",
        );
        assert!(e[0].contains("needs `generator: hugo`"), "{e:?}");
        let e = errors(
            "site:\n  title: T\n  base_url: https://e.org/\n  generator: zola\n  permalink: /x/\n",
        );
        assert!(e[0].contains("remove `site.permalink`"), "{e:?}");
        let e = errors(
            "site:\n  title: T\n  base_url: https://e.org/\n  generator: hugo\n  permalinks: { posts: /:nope/ }\n",
        );
        assert!(e[0].contains("unknown placeholder :nope"), "{e:?}");
        let e = errors(&format!("{MIN}content:\n  fields: {{ dat: pubDate }}\n"));
        assert!(
            e[0].contains("unknown field `dat` in `content.fields` (did you mean `date`?)"),
            "{e:?}"
        );
        let e = errors(&format!("{MIN}  permalink: /posts/{{hour}}/{{slug}}/\n"));
        assert!(e[0].contains("invalid permalink"), "{e:?}");
    }

    #[test]
    fn generator_defaults_and_tag_slugs() {
        let c = parse("site:\n  title: T\n  base_url: https://e.org/\n  generator: hugo\nfeeds:\n  exclude_tags: [Node.js]\n").unwrap();
        assert_eq!(c.content.root, Path::new("/site/content"));
        assert_eq!(c.feeds.exclude_tags, ["node.js"]);
        let c = parse(MIN).unwrap();
        assert_eq!(c.site.generator, Generator::Herald);
        assert_eq!(c.content.root, Path::new("/site/."));
    }

    #[test]
    fn herald_yaml_in_the_root_is_found_when_config_has_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Config::default_file(dir.path()),
            dir.path().join("config/herald.yaml")
        );
        std::fs::write(dir.path().join("herald.yaml"), MIN).unwrap();
        assert_eq!(
            Config::default_file(dir.path()),
            dir.path().join("herald.yaml")
        );
        std::fs::create_dir(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/herald.yaml"), MIN).unwrap();
        assert_eq!(
            Config::default_file(dir.path()),
            dir.path().join("config/herald.yaml")
        );
    }

    #[test]
    fn one_line_drops_what_xml_cannot_carry() {
        assert_eq!(one_line("\u{fffe} A\r\n B\0"), "A B");
    }

    #[test]
    fn defaults_apply() {
        let c = parse(MIN).unwrap();
        assert_eq!(c.site.base_url.as_str(), "https://example.com/blog/");
        assert_eq!(c.content_dir, Path::new("/site/content/posts"));
        assert_eq!(c.feeds.limit, Some(20));
        assert_eq!(c.feeds.formats.len(), 3);
        assert_eq!(c.site.author.name, "T");
        assert!(c.newsletter.is_none());
    }

    #[test]
    fn unknown_key_names_line_section_and_suggestion() {
        let err = parse(&format!("{MIN}feeds:\n  formts: [rss]\n"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "config/herald.yaml:5: unknown key `formts` in `feeds` (did you mean `formats`?)"
        );
    }

    #[test]
    fn unknown_top_level_key() {
        let err = parse(&format!("{MIN}feed:\n  limit: 3\n"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("config/herald.yaml:4: unknown key `feed`"),
            "{err}"
        );
        assert!(err.contains("did you mean `feeds`"), "{err}");
    }

    #[test]
    fn reports_every_validation_problem_with_lines() {
        let text = "site:\n  title: T\n  base_url: nope\n  timezone: Mars/Base\n";
        let err = parse(text).unwrap_err().to_string();
        assert!(
            err.contains("config/herald.yaml:3: invalid base_url \"nope\""),
            "{err}"
        );
        assert!(
            err.contains("config/herald.yaml:4: unknown timezone \"Mars/Base\""),
            "{err}"
        );
    }

    #[test]
    fn security_none_needs_loopback() {
        let text = format!("{MIN}smtp:\n  host: mail.example.com\n  security: none\n");
        let err = parse(&text).unwrap_err().to_string();
        assert!(
            err.contains("config/herald.yaml:6: `security: none`"),
            "{err}"
        );
        let ok = format!("{MIN}smtp:\n  host: 127.0.0.1\n  security: none\n");
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn rate_per_second_is_zero_or_a_real_rate() {
        let smtp =
            |rate: &str| format!("{MIN}smtp:\n  host: localhost\n  rate_per_second: {rate}\n");
        for bad in ["-1", "1e-300", "0.0001", ".nan", ".inf"] {
            let err = parse(&smtp(bad)).unwrap_err().to_string();
            assert!(
                err.contains("`smtp.rate_per_second` must be 0"),
                "{bad}: {err}"
            );
        }
        for good in ["0", "0.001", "14", "1e9"] {
            assert!(parse(&smtp(good)).is_ok(), "{good}");
        }
    }

    #[test]
    fn deep_nesting_is_refused_before_libyaml_sees_it() {
        assert_eq!(too_deep(&format!("x: {}", "[".repeat(129))), Some(1));
        assert_eq!(
            too_deep(&format!("a: 1\nx: {}", "{a: ".repeat(200))),
            Some(2)
        );
        assert_eq!(
            too_deep(&format!("x: {}{}", "[".repeat(128), "]".repeat(128))),
            None
        );
        // Brackets in plain and quoted scalars and comments are text.
        let text = "[".repeat(300);
        for ok in [
            format!("title: a{text}"),
            format!("title: \"{text}\"\n"),
            format!("title: '{text}'\n"),
            format!("title: 'it''s {text}'\n"),
            format!("title: \"say \\\"{text}\"\n"),
            format!("# {text}\ntitle: x\n"),
            format!("tags: [a, \"{text}\", b]\n"),
        ] {
            assert_eq!(too_deep(&ok), None, "{ok}");
        }
        let err = parse(&format!("{MIN}x: {}", "[".repeat(50_000))).unwrap_err();
        assert_eq!(err.to_string(), format!("config/herald.yaml:4: {TOO_DEEP}"));
    }

    #[test]
    fn remote_smtp_needs_public_url() {
        let text = format!(
            "{MIN}newsletter:\n  start: 2025-01-01\n  from: {{ email: a@example.com }}\n  transport: smtp\n  lists:\n    - {{ id: all, tags: ['*'] }}\nsmtp:\n  host: smtp.example.com\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("serve.public_url"), "{err}");
        let ok = format!("{text}serve:\n  public_url: https://example.com/herald/\n");
        assert!(parse(&ok).is_ok());
    }

    /// A newsletter section (lines 4-8 after [`MIN`]) with `transport: smtp` on line 7.
    const SMTP_NEWSLETTER: &str = "newsletter:\n  start: 2025-01-01\n  from: { email: a@example.com }\n  transport: smtp\n  lists:\n    - { id: all, tags: ['*'] }\n";

    #[test]
    fn transport_smtp_without_an_smtp_section_is_one_error_on_its_line() {
        assert_eq!(
            errors(&format!("{MIN}{SMTP_NEWSLETTER}")),
            ["config/herald.yaml:7: `transport: smtp` needs an `smtp:` section"]
        );
    }

    #[test]
    fn transport_smtp_carries_the_smtp_settings() {
        let c = parse(&format!(
            "{MIN}{SMTP_NEWSLETTER}smtp:\n  host: localhost\n  concurrency: 7\n"
        ))
        .unwrap();
        let n = c.newsletter.unwrap();
        let Transport::Smtp(s) = &n.transport else {
            panic!("{:?}", n.transport);
        };
        assert_eq!(
            (s.host.as_str(), s.port, s.concurrency),
            ("localhost", 587, 7)
        );
        assert_eq!((n.transport.name(), n.transport.concurrency()), ("smtp", 7));
    }

    #[test]
    fn an_smtp_section_without_transport_smtp_is_checked_but_not_used() {
        let smtp = "smtp:\n  host: mail.example.com\n  concurrency: 9\n";
        for transport in ["", "  transport: outbox\n"] {
            let text = format!(
                "{MIN}newsletter:\n  start: 2025-01-01\n  from: {{ email: a@example.com }}\n{transport}  lists:\n    - {{ id: all, tags: ['*'] }}\n{smtp}"
            );
            // Not used: outbox, two writers, and no public_url needed for the remote host.
            let n = parse(&text).unwrap().newsletter.unwrap();
            assert!(matches!(n.transport, Transport::Outbox), "{transport:?}");
            assert_eq!(
                (n.transport.name(), n.transport.concurrency()),
                ("outbox", 2)
            );
        }
        // Without a newsletter at all, too.
        assert!(parse(&format!("{MIN}{smtp}")).unwrap().newsletter.is_none());
        // But checked: its problems are problems all the same.
        assert_eq!(
            errors(&format!(
                "{MIN}newsletter:\n  start: 2025-01-01\n  from: {{ email: a@example.com }}\n  transport: outbox\n  lists:\n    - {{ id: all, tags: ['*'] }}\nsmtp:\n  host: localhost\n  concurrency: 0\n"
            )),
            ["config/herald.yaml:12: `smtp.concurrency` must be between 1 and 64"]
        );
    }

    #[test]
    fn list_ids_are_checked() {
        let text = format!(
            "{MIN}newsletter:\n  start: 2025-01-01\n  from: {{ email: a@example.com }}\n  lists:\n    - {{ id: All, tags: ['*'] }}\n    - {{ id: x, tags: [] }}\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.contains("invalid list id \"All\""), "{err}");
        assert!(err.contains("list \"x\" has no tags"), "{err}");
    }

    /// Three lists, the 2nd and 3rd with problems, each key on a line of its own.
    const THREE_LISTS: &str = "newsletter:
  start: 2025-01-01
  from: { email: a@example.com }
  lists:
    - id: all
      tags: ['*']
    # The 2nd list, line 10.
    - id: rust
      name: Rust

      tags: ['!!']
    - id: rust
      tags: []
      subscribers: ''
";

    #[test]
    fn max_lateness_takes_a_duration_and_defaults_to_seven_days() {
        let with = |v: &str| {
            format!(
                "{MIN}newsletter:\n  start: 2025-01-01\n  from: {{ email: a@example.com }}\n{v}  lists:\n    - {{ id: all, tags: ['*'] }}\n"
            )
        };
        let lateness = |text: &str| parse(text).unwrap().newsletter.unwrap().max_lateness;
        assert_eq!(lateness(&with("")), chrono::TimeDelta::days(7));
        assert_eq!(
            lateness(&with("  max_lateness: 36h\n")),
            chrono::TimeDelta::hours(36)
        );
        assert_eq!(
            lateness(&with("  max_lateness: 2weeks\n")),
            chrono::TimeDelta::days(14)
        );
        assert_eq!(
            errors(&with("  max_lateness: soon\n")),
            [
                "config/herald.yaml:7: invalid max_lateness \"soon\": expected a duration such as 7d, 36h or 2weeks"
            ]
        );
    }

    #[test]
    fn problems_in_a_list_name_that_lists_line() {
        assert_eq!(
            errors(&format!("{MIN}{THREE_LISTS}")),
            [
                "config/herald.yaml:14: list \"rust\": tag \"!!\" has no letters or digits",
                "config/herald.yaml:14: list \"rust\" has no tags: use [\"*\"] for every post",
                "config/herald.yaml:15: list id \"rust\" is used twice",
                "config/herald.yaml:16: list \"rust\" has no tags: use [\"*\"] for every post",
                "config/herald.yaml:17: list \"rust\": `subscribers` is empty: name a CSV file, or leave the key out",
            ]
        );
    }

    #[test]
    fn problems_in_a_flow_style_list_name_its_entry_line() {
        let text = format!(
            "{MIN}newsletter:\n  start: 2025-01-01\n  from: {{ email: a@example.com }}\n  lists:\n  - {{ id: all, tags: ['*'] }}\n  - {{ id: All, tags: ['*'] }}\n  - {{ id: x, tags: [] }}\n"
        );
        assert_eq!(
            errors(&text),
            [
                "config/herald.yaml:9: invalid list id \"All\": expected [a-z0-9-]+",
                "config/herald.yaml:10: list \"x\" has no tags: use [\"*\"] for every post",
            ]
        );
    }

    #[test]
    fn unknown_and_missing_keys_in_a_list_name_that_lists_lines() {
        let text = format!(
            "{MIN}newsletter:\n  start: 2025-01-01\n  from: {{ email: a@example.com }}\n  lists:\n    - id: all\n      tags: ['*']\n    - id: rust\n      tag: [rust]\n"
        );
        assert_eq!(
            errors(&text),
            [
                "config/herald.yaml:11: unknown key `tag` in `newsletter.lists` (did you mean `tags`?)"
            ]
        );
    }

    #[test]
    fn finds_entries_of_block_sequences() {
        let text = "a:\n  lists:\n    - id: x\n      tags: [a]\n    # note\n\n    - id: y\n      name: Y\n    - tags: []\n      id: z\n  other: 1\n";
        let line = |keys: &[&str]| find_key_line(text, keys);
        assert_eq!(line(&["a", "lists", &item(0)]), Some(3));
        assert_eq!(line(&["a", "lists", &item(0), "tags"]), Some(4));
        assert_eq!(line(&["a", "lists", &item(1), "name"]), Some(8));
        // A key the entry lacks is not taken from the next entry.
        assert_eq!(line(&["a", "lists", &item(1), "tags"]), None);
        assert_eq!(line(&["a", "lists", &item(2), "tags"]), Some(9));
        assert_eq!(line(&["a", "lists", &item(2), "id"]), Some(10));
        assert_eq!(line(&["a", "lists", &item(3)]), None);
        assert_eq!(line(&["a", "other"]), Some(11));
        // A sequence at its key's own indent, and a flow one (which has no entry lines).
        let text = "lists:\n- id: x\n- id: y\n  tags: []\nflow: [1, 2]\n";
        assert_eq!(find_key_line(text, &["lists", &item(1), "tags"]), Some(4));
        assert_eq!(find_key_line(text, &["flow", &item(0)]), None);
    }

    #[test]
    fn finds_nested_key_lines() {
        let text = "site:\n  title: a\nfeeds:\n  limit: 3\n  formats: []\nserve:\n  limit: 1\n";
        assert_eq!(find_key_line(text, &["feeds", "formats"]), Some(5));
        assert_eq!(find_key_line(text, &["serve", "limit"]), Some(7));
        assert_eq!(find_key_line(text, &["nothing"]), None);
    }
}

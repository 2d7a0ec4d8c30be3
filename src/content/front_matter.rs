//! Splits a post file into front matter and body, and reads the front matter leniently: the
//! names each generator uses (`publishDate`, `[taxonomies] tags`, `permalink`) map onto one
//! [`FrontMatter`] that keeps the line of every value; unknown keys are kept as warnings for
//! herald's own posts and ignored for a generator's (they belong to its templates).

use std::path::Path;

use serde_yaml::{Mapping, Value};

use crate::error::{Diagnostic, Location};

/// The raw front matter of one post, before dates and slugs are interpreted.
#[derive(Debug, Default)]
pub struct FrontMatter {
    pub title: Option<(String, usize)>,
    pub date: Option<(String, usize)>,
    pub updated: Option<(String, usize)>,
    pub tags: Vec<(String, usize)>,
    pub summary: Option<String>,
    pub image: Option<(String, usize)>,
    pub slug: Option<(String, usize)>,
    pub draft: bool,
    pub author: Option<String>,
    /// Hugo `publishDate`: not due before it.
    pub publish_date: Option<(String, usize)>,
    /// Hugo `expiryDate`: gone from feeds after it.
    pub expiry_date: Option<(String, usize)>,
    /// The post's own URL: Hugo `url`, Jekyll and Eleventy `permalink`, Zola `path`.
    pub url: Option<(String, usize)>,
    /// Jekyll `categories` and `category`.
    pub categories: Vec<String>,
    /// The generator writes no page for it (Jekyll `published: false`, Eleventy
    /// `permalink: false`, Hugo `build: { render: never }` or `headless: true`).
    pub no_page: bool,
    /// Keys herald does not know, with their lines (reported by `check` as warnings).
    pub unknown: Vec<(String, usize)>,
    /// Jekyll's per-post `excerpt_separator`.
    pub divider: Option<String>,
    /// Every scalar value by its key path (`author`, `extra.mood`), for Hugo's `param`.
    pub params: std::collections::BTreeMap<String, String>,
    /// Rank of the key `summary` / `image` came from (a lower rank wins: `summary` beats
    /// `description`, `image` beats `images`).
    summary_rank: u8,
    image_rank: u8,
}

/// How a front matter block is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Between `---` lines.
    Yaml,
    /// Between `+++` lines (Hugo, Zola).
    Toml,
    /// A JSON object at the top of the file (Hugo).
    Json,
}

/// What a front matter key means to herald.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Date,
    Updated,
    Tags,
    /// The summary; the rank orders competing keys.
    Summary(u8),
    /// The hero image; the rank orders competing keys.
    Image(u8),
    Slug,
    Draft,
    /// Jekyll `published`: `false` means no page.
    Published,
    Author,
    PublishDate,
    ExpiryDate,
    Url,
    Categories,
    /// Hugo `build` / `_build` (`render: never`) and `headless`.
    Build,
    Headless,
    /// Jekyll's per-post `excerpt_separator`.
    Divider,
    /// A table whose keys are looked up as `key.child` (`cover.image`, `taxonomies.tags`).
    Table,
    /// Known to the generator, nothing to herald: ignored without a warning.
    Known,
    Unknown,
}

/// The front matter's rules for one site: which names mean what and how strict to be.
pub struct Keys<'a> {
    /// The generator's names (and `content.fields`), for a key path such as `cover.image`.
    pub field: &'a (dyn Fn(&str) -> Field + Sync),
    /// Hugo: keys are matched without regard to case.
    pub ignore_case: bool,
    /// herald's own posts: a value of the wrong type and an unknown key are reported; a
    /// generator's posts: they are ignored, as the generator itself would.
    pub strict: bool,
    /// Jekyll: a `tags` or `categories` string is a space-separated list.
    pub split_words: bool,
    /// Keep every scalar value in `FrontMatter::params`.
    pub params: bool,
}

/// Splits a generator's post into (format, front matter, its first line, body): YAML between
/// `---`, TOML between `+++`, or a JSON object that opens the file. `None` when the file has
/// no front matter at all.
pub fn split_any<'a>(
    path: &Path,
    text: &'a str,
) -> Result<Option<(Format, &'a str, usize, &'a str)>, Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().next().unwrap_or("").trim_end();
    let fence = match first {
        "---" => Some((Format::Yaml, "---")),
        "+++" => Some((Format::Toml, "+++")),
        _ => None,
    };
    if let Some((format, fence)) = fence {
        let first_end = text.find('\n').map_or(text.len(), |i| i + 1);
        let rest = &text[first_end..];
        let mut offset = 0;
        for line in rest.split_inclusive('\n') {
            let l = line.trim_end();
            if l == fence || (format == Format::Yaml && l == "...") {
                return Ok(Some((
                    format,
                    &rest[..offset],
                    2,
                    &rest[offset + line.len()..],
                )));
            }
            offset += line.len();
        }
        return Err(Diagnostic::at(
            Location::line(path, 1),
            format!("unclosed front matter: no closing `{fence}` line"),
        ));
    }
    if first.starts_with('{') {
        // The object ends where a JSON parser says it does.
        let mut de = serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>();
        return match de.next() {
            Some(Ok(_)) => {
                let end = de.byte_offset();
                Ok(Some((Format::Json, &text[..end], 1, &text[end..])))
            }
            Some(Err(e)) => Err(Diagnostic::at(
                Location::line(path, e.line().max(1)),
                format!(
                    "invalid JSON front matter: {}",
                    strip_position(&e.to_string())
                ),
            )),
            None => Ok(None),
        };
    }
    Ok(None)
}

fn strip_position(msg: &str) -> String {
    msg.split(" at line ").next().unwrap_or(msg).to_string()
}

/// Splits `text` into (front matter, the file line the front matter starts on, body).
pub fn split<'a>(path: &Path, text: &'a str) -> Result<(&'a str, usize, &'a str), Diagnostic> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_end = text.find('\n').map(|i| i + 1).unwrap_or(text.len());
    if text[..first_end].trim_end() != "---" {
        return Err(Diagnostic::at(
            Location::line(path, 1),
            "missing front matter: a post starts with a line `---`, then YAML (title, date), then `---`",
        ));
    }
    let rest = &text[first_end..];
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" || line.trim_end() == "..." {
            let yaml = &rest[..offset];
            let body = &rest[offset + line.len()..];
            return Ok((yaml, 2, body));
        }
        offset += line.len();
    }
    Err(Diagnostic::at(
        Location::line(path, 1),
        "unclosed front matter: no closing `---` line after the YAML",
    ))
}

/// Reads herald's own front matter YAML. `first_line` is the file line where the YAML starts.
pub fn parse(path: &Path, yaml: &str, first_line: usize) -> Result<FrontMatter, Vec<Diagnostic>> {
    let keys = Keys {
        field: &herald_field,
        ignore_case: false,
        strict: true,
        split_words: false,
        params: false,
    };
    parse_any(path, Format::Yaml, yaml, first_line, &keys)
}

/// herald's own names.
pub fn herald_field(key: &str) -> Field {
    match key {
        "title" => Field::Title,
        "date" => Field::Date,
        "updated" => Field::Updated,
        "tags" => Field::Tags,
        "summary" => Field::Summary(0),
        "image" => Field::Image(0),
        "slug" => Field::Slug,
        "draft" => Field::Draft,
        "author" => Field::Author,
        _ => Field::Unknown,
    }
}

/// Reads a front matter block of any format with the names and strictness of `keys`.
pub fn parse_any(
    path: &Path,
    format: Format,
    text: &str,
    first_line: usize,
    keys: &Keys<'_>,
) -> Result<FrontMatter, Vec<Diagnostic>> {
    let lines: Vec<&str> = text.lines().collect();
    // The file line of `key` at or after line index `from` (its parent's line for a child).
    let line_of = |key: &str, from: usize| -> usize {
        let nested = from > 0;
        lines
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, l)| key_on_line(format, l, key, nested))
            .map(|(i, _)| i + first_line)
            .unwrap_or(if nested {
                from + first_line
            } else {
                (first_line - 1).max(1)
            })
    };
    let value = match format {
        Format::Yaml => yaml_value(path, text, first_line)?,
        Format::Toml => toml_value(path, text, first_line)?,
        Format::Json => serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| {
                vec![Diagnostic::at(
                    Location::line(path, e.line().max(1) + first_line - 1),
                    format!("invalid front matter: {}", strip_position(&e.to_string())),
                )]
            })
            .and_then(|v| {
                serde_yaml::to_value(v).map_err(|e| {
                    vec![Diagnostic::at(
                        Location::line(path, first_line),
                        format!("invalid front matter: {e}"),
                    )]
                })
            })?,
    };
    let map = match value {
        Value::Mapping(m) => m,
        Value::Null => Mapping::new(),
        _ => {
            return Err(vec![Diagnostic::at(
                Location::line(path, first_line),
                "invalid front matter: expected `key: value` lines",
            )]);
        }
    };
    let mut r = Reader {
        path,
        keys,
        line_of: &line_of,
        fm: FrontMatter {
            summary_rank: u8::MAX,
            image_rank: u8::MAX,
            ..FrontMatter::default()
        },
        problems: Vec::new(),
        first_line,
    };
    r.table(&map, "", 0);
    if r.problems.is_empty() {
        Ok(r.fm)
    } else {
        Err(r.problems)
    }
}

/// Whether `line` holds `key` as a key in `format` (`nested`: indented, in a table).
fn key_on_line(format: Format, line: &str, key: &str, nested: bool) -> bool {
    let l = if nested || format != Format::Yaml {
        line.trim_start()
    } else {
        line
    };
    match format {
        Format::Yaml => l
            .strip_prefix(key)
            .is_some_and(|r| r.trim_start().starts_with(':')),
        Format::Toml => {
            let bare = l
                .strip_prefix(key)
                .or_else(|| l.strip_prefix(&format!("\"{key}\"")))
                .is_some_and(|r| r.trim_start().starts_with('='));
            let table = l.starts_with('[')
                && l.trim_end()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .rsplit('.')
                    .next()
                    .is_some_and(|last| last.trim().trim_matches('"') == key);
            bare || table
        }
        Format::Json => l
            .strip_prefix(&format!("\"{key}\""))
            .is_some_and(|r| r.trim_start().starts_with(':')),
    }
}

struct Reader<'a> {
    path: &'a Path,
    keys: &'a Keys<'a>,
    line_of: &'a dyn Fn(&str, usize) -> usize,
    fm: FrontMatter,
    problems: Vec<Diagnostic>,
    first_line: usize,
}

impl Reader<'_> {
    /// Reads one table; `prefix` is its key path (`cover.`), `from` the index of its line.
    fn table(&mut self, map: &Mapping, prefix: &str, from: usize) {
        for (k, v) in map {
            let Some(raw) = k.as_str() else {
                if self.keys.strict {
                    self.problems.push(Diagnostic::at(
                        Location::line(self.path, self.first_line),
                        "invalid front matter: a key is not a string",
                    ));
                }
                continue;
            };
            let key = if self.keys.ignore_case {
                raw.to_lowercase()
            } else {
                raw.to_string()
            };
            let full = format!("{prefix}{key}");
            let line = (self.line_of)(raw, from);
            if self.keys.params
                && let Some(text) = scalar(v)
            {
                self.fm.params.insert(full.clone(), text);
            }
            match (self.keys.field)(&full) {
                Field::Table => {
                    if let Value::Mapping(m) = v {
                        self.table(m, &format!("{full}."), line.saturating_sub(self.first_line));
                    }
                }
                Field::Unknown => self.fm.unknown.push((full, line)),
                field => self.value(field, &full, v, line),
            }
        }
    }

    /// A value of the wrong type: an error for herald's posts, ignored for a generator's.
    fn bad(&mut self, key: &str, line: usize, expected: &str) {
        if self.keys.strict {
            self.problems.push(Diagnostic::at(
                Location::line(self.path, line),
                format!("`{key}` must be {expected}"),
            ));
        }
    }

    fn value(&mut self, field: Field, key: &str, v: &Value, line: usize) {
        match field {
            Field::Title => match scalar(v) {
                Some(s) => self.fm.title = Some((s, line)),
                None => self.bad(key, line, "text"),
            },
            Field::Date | Field::Updated | Field::PublishDate | Field::ExpiryDate => {
                match scalar(v) {
                    Some(s) => {
                        let slot = match field {
                            Field::Date => &mut self.fm.date,
                            Field::Updated => &mut self.fm.updated,
                            Field::PublishDate => &mut self.fm.publish_date,
                            _ => &mut self.fm.expiry_date,
                        };
                        // The first of several names for one date wins (`lastmod`, `modified`).
                        if slot.is_none() || field == Field::Date {
                            *slot = Some((s, line));
                        }
                    }
                    None if v.is_null() && !self.keys.strict => {}
                    None => self.bad(key, line, "a date such as 2025-05-08"),
                }
            }
            Field::Tags | Field::Categories => {
                let mut names = Vec::new();
                match v {
                    Value::Null => {}
                    Value::Sequence(items) => {
                        for item in items {
                            match scalar(item) {
                                Some(s) => names.push(s),
                                None => self.bad(key, line, "a list of tag names"),
                            }
                        }
                    }
                    other => match scalar(other) {
                        // Jekyll reads `tags: a b c` as three tags.
                        Some(s) if self.keys.split_words => {
                            names.extend(s.split_whitespace().map(str::to_string))
                        }
                        Some(s) => names.push(s),
                        None => self.bad(key, line, "a tag name or a list of tag names"),
                    },
                }
                if field == Field::Tags {
                    self.fm.tags.extend(names.into_iter().map(|n| (n, line)));
                } else {
                    self.fm.categories.extend(names);
                }
            }
            Field::Summary(rank) => match scalar(v) {
                Some(s) if rank < self.fm.summary_rank => {
                    self.fm.summary = Some(s);
                    self.fm.summary_rank = rank;
                }
                Some(_) => {}
                None if v.is_null() => {}
                None => self.bad(key, line, "text"),
            },
            Field::Image(rank) => {
                let src = match v {
                    Value::Sequence(items) => items.iter().find_map(image_of),
                    other => image_of(other),
                };
                match src {
                    Some(s) if rank < self.fm.image_rank => {
                        self.fm.image = Some((s, line));
                        self.fm.image_rank = rank;
                    }
                    Some(_) => {}
                    None if v.is_null() => {}
                    None => self.bad(key, line, "a URL such as /media/hero.webp"),
                }
            }
            Field::Slug => match scalar(v) {
                Some(s) => self.fm.slug = Some((s, line)),
                None => self.bad(key, line, "text"),
            },
            Field::Draft => match v {
                Value::Bool(b) => self.fm.draft = *b,
                Value::Null => {}
                Value::String(s) if !self.keys.strict => self.fm.draft = s.trim() == "true",
                _ => self.bad(key, line, "true or false"),
            },
            Field::Published => {
                if matches!(v, Value::Bool(false)) {
                    self.fm.no_page = true;
                }
            }
            Field::Author => {
                let name = match v {
                    Value::Sequence(items) => items.first().and_then(author_of),
                    other => author_of(other),
                };
                match name {
                    Some(s) => self.fm.author = Some(s),
                    None if v.is_null() => {}
                    None => self.bad(key, line, "a name"),
                }
            }
            Field::Url => match v {
                Value::Bool(false) => self.fm.no_page = true,
                other => match scalar(other) {
                    Some(s) => self.fm.url = Some((s, line)),
                    None => self.bad(key, line, "a path"),
                },
            },
            Field::Build => {
                if let Value::Mapping(m) = v {
                    let render = m.iter().find_map(|(k, v)| {
                        k.as_str()
                            .is_some_and(|k| k.eq_ignore_ascii_case("render"))
                            .then_some(v)
                    });
                    if render.is_some_and(|r| {
                        matches!(r, Value::Bool(false))
                            || r.as_str().is_some_and(|s| s == "never" || s == "false")
                    }) {
                        self.fm.no_page = true;
                    }
                }
            }
            Field::Headless => {
                if matches!(v, Value::Bool(true)) {
                    self.fm.no_page = true;
                }
            }
            Field::Divider => {
                self.fm.divider = scalar(v).filter(|d| !d.trim().is_empty());
            }
            Field::Table | Field::Known | Field::Unknown => {}
        }
    }
}

/// An image source: a string, or Jekyll SEO's `{ path: ... }` / `{ url: ... }`.
fn image_of(v: &Value) -> Option<String> {
    match v {
        Value::Mapping(m) => ["path", "url", "src", "image"]
            .iter()
            .find_map(|k| m.get(*k).and_then(scalar)),
        other => scalar(other),
    }
}

/// An author's name: a string, or a table with `name`.
fn author_of(v: &Value) -> Option<String> {
    match v {
        Value::Mapping(m) => m.get("name").and_then(scalar),
        other => scalar(other),
    }
}

/// YAML text as a value, with errors at their file lines.
fn yaml_value(path: &Path, yaml: &str, first_line: usize) -> Result<Value, Vec<Diagnostic>> {
    if yaml.trim().is_empty() {
        return Ok(Value::Mapping(Mapping::new()));
    }
    if let Some(line) = crate::config::too_deep(yaml) {
        return Err(vec![Diagnostic::at(
            Location::line(path, line + first_line - 1),
            format!("invalid front matter: {}", crate::config::TOO_DEEP),
        )]);
    }
    serde_yaml::from_str(yaml).map_err(|e| {
        // At the end of the YAML, libyaml points past its last line, at the closing `---`;
        // name the last YAML line instead, where the unclosed thing is.
        let last = first_line + yaml.lines().count().max(1) - 1;
        let line = e
            .location()
            .map(|l| l.line() + first_line - 1)
            .unwrap_or(first_line)
            .min(last);
        vec![Diagnostic::at(
            Location::line(path, line),
            format!("invalid front matter: {}", strip_position(&e.to_string())),
        )]
    })
}

/// TOML text as the same value tree; datetimes become their text.
fn toml_value(path: &Path, text: &str, first_line: usize) -> Result<Value, Vec<Diagnostic>> {
    let table: toml::Table = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map_or(0, |s| text[..s.start.min(text.len())].matches('\n').count());
        let msg = e.message().trim().to_string();
        vec![Diagnostic::at(
            Location::line(path, line + first_line),
            format!("invalid TOML front matter: {msg}"),
        )]
    })?;
    fn convert(v: toml::Value) -> Value {
        match v {
            toml::Value::String(s) => Value::String(s),
            toml::Value::Integer(i) => Value::Number(i.into()),
            toml::Value::Float(f) => Value::Number(f.into()),
            toml::Value::Boolean(b) => Value::Bool(b),
            toml::Value::Datetime(d) => Value::String(d.to_string()),
            toml::Value::Array(a) => Value::Sequence(a.into_iter().map(convert).collect()),
            toml::Value::Table(t) => Value::Mapping(
                t.into_iter()
                    .map(|(k, v)| (Value::String(k), convert(v)))
                    .collect(),
            ),
        }
    }
    Ok(convert(toml::Value::Table(table)))
}

/// A YAML scalar as text: strings as they are, numbers and booleans as written.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Tagged(t) => scalar(&t.value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_bom_and_crlf() {
        let text = "\u{feff}---\r\ntitle: Hi\r\n---\r\nBody\r\n";
        let (yaml, line, body) = split(Path::new("p.md"), text).unwrap();
        assert_eq!(yaml, "title: Hi\r\n");
        assert_eq!(line, 2);
        assert_eq!(body, "Body\r\n");
    }

    #[test]
    fn unclosed_and_missing_front_matter() {
        let e = split(Path::new("p.md"), "---\ntitle: x\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "p.md:1: unclosed front matter: no closing `---` line after the YAML"
        );
        let e = split(Path::new("p.md"), "# Hello\n").unwrap_err();
        assert!(e.to_string().starts_with("p.md:1: missing front matter"));
    }

    #[test]
    fn yaml_error_line_is_the_file_line() {
        let e = parse(Path::new("p.md"), "title: a\ndate: [\n", 2).unwrap_err();
        assert!(
            e[0].to_string().starts_with("p.md:3: invalid front matter"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn tags_as_list_or_string_and_unknown_keys() {
        let fm = parse(Path::new("p.md"), "tags: Solo\nmood: happy\n", 2).unwrap();
        assert_eq!(fm.tags, vec![("Solo".to_string(), 2)]);
        assert_eq!(fm.unknown, vec![("mood".to_string(), 3)]);
        let fm = parse(Path::new("p.md"), "tags: [a, 'B c']\n", 2).unwrap();
        assert_eq!(fm.tags.len(), 2);
    }

    #[test]
    fn deep_nesting_is_an_error_with_its_line() {
        let yaml = format!("title: x\ntags: {}\n", "[".repeat(100_000));
        let e = parse(Path::new("p.md"), &yaml, 2).unwrap_err();
        assert_eq!(
            e[0].to_string(),
            "p.md:3: invalid front matter: nested more than 128 levels deep"
        );
    }

    #[test]
    fn wrong_types_are_errors_with_lines() {
        let e = parse(Path::new("p.md"), "title: x\ndraft: maybe\n", 2).unwrap_err();
        assert_eq!(e[0].to_string(), "p.md:3: `draft` must be true or false");
    }
}

//! Splits a post file into YAML front matter and Markdown body, and reads the front matter
//! leniently: unknown keys are kept (as warnings), known keys are checked one by one.

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
    /// Keys herald does not know, with their lines (reported by `check` as warnings).
    pub unknown: Vec<(String, usize)>,
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

/// Reads the front matter YAML. `first_line` is the file line where the YAML starts.
pub fn parse(path: &Path, yaml: &str, first_line: usize) -> Result<FrontMatter, Vec<Diagnostic>> {
    let line_of = |key: &str| -> usize {
        yaml.lines()
            .position(|l| {
                l.strip_prefix(key)
                    .is_some_and(|r| r.trim_start().starts_with(':'))
            })
            .map(|i| i + first_line)
            .unwrap_or(first_line - 1)
    };
    let value: Value = if yaml.trim().is_empty() {
        Value::Mapping(Mapping::new())
    } else if let Some(line) = crate::config::too_deep(yaml) {
        return Err(vec![Diagnostic::at(
            Location::line(path, line + first_line - 1),
            format!("invalid front matter: {}", crate::config::TOO_DEEP),
        )]);
    } else {
        serde_yaml::from_str(yaml).map_err(|e| {
            // At the end of the YAML, libyaml points past its last line, at the closing `---`;
            // name the last YAML line instead, where the unclosed thing is.
            let last = first_line + yaml.lines().count().max(1) - 1;
            let line = e
                .location()
                .map(|l| l.line() + first_line - 1)
                .unwrap_or(first_line)
                .min(last);
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            vec![Diagnostic::at(
                Location::line(path, line),
                format!("invalid front matter: {msg}"),
            )]
        })?
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
    let mut fm = FrontMatter::default();
    let mut problems = Vec::new();
    for (k, v) in map {
        let Some(key) = k.as_str().map(str::to_string) else {
            problems.push(Diagnostic::at(
                Location::line(path, first_line),
                "invalid front matter: a key is not a string",
            ));
            continue;
        };
        let line = line_of(&key);
        let mut bad = |expected: &str| {
            problems.push(Diagnostic::at(
                Location::line(path, line),
                format!("`{key}` must be {expected}"),
            ))
        };
        match key.as_str() {
            "title" => match scalar(&v) {
                Some(s) => fm.title = Some((s, line)),
                None => bad("text"),
            },
            "date" => match scalar(&v) {
                Some(s) => fm.date = Some((s, line)),
                None => bad("a date such as 2025-05-08"),
            },
            "updated" => match scalar(&v) {
                Some(s) => fm.updated = Some((s, line)),
                None => bad("a date such as 2025-05-08"),
            },
            "tags" => match &v {
                Value::Null => {}
                Value::Sequence(items) => {
                    for item in items {
                        match scalar(item) {
                            Some(s) => fm.tags.push((s, line)),
                            None => bad("a list of tag names"),
                        }
                    }
                }
                other => match scalar(other) {
                    Some(s) => fm.tags.push((s, line)),
                    None => bad("a tag name or a list of tag names"),
                },
            },
            "summary" => match scalar(&v) {
                Some(s) => fm.summary = Some(s),
                None if v.is_null() => {}
                None => bad("text"),
            },
            "image" => match scalar(&v) {
                Some(s) => fm.image = Some((s, line)),
                None if v.is_null() => {}
                None => bad("a URL such as /media/hero.webp"),
            },
            "slug" => match scalar(&v) {
                Some(s) => fm.slug = Some((s, line)),
                None => bad("text"),
            },
            "draft" => match v {
                Value::Bool(b) => fm.draft = b,
                Value::Null => {}
                _ => bad("true or false"),
            },
            "author" => match scalar(&v) {
                Some(s) => fm.author = Some(s),
                None if v.is_null() => {}
                None => bad("a name"),
            },
            _ => fm.unknown.push((key.clone(), line)),
        }
    }
    if problems.is_empty() {
        Ok(fm)
    } else {
        Err(problems)
    }
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

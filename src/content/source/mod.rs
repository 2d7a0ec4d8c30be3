//! The layer in front of the shared post rules: for each generator, which files are posts,
//! how their front matter is written and named, and the URL the generator gives each post.
//! Everything after it (title, dates, slugs, tags, summaries) is one set of rules in
//! `content/mod.rs`, whatever wrote the blog.
//!
//! A sixth generator is one more module here: its [`Rules`] (file walk, key names, URL) and a
//! line in [`rules`].

pub mod detect;
mod eleventy;
mod hugo;
mod jekyll;
mod zola;

use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;

use super::front_matter::{Field, herald_field};
use crate::config::{Config, Generator};
use crate::error::{Error, Result};

/// A post file, as the walk found it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    /// `name/index.md`: a page bundle, named by its folder.
    pub bundle: bool,
}

impl SourceFile {
    /// The post's path below `base`, one part per folder, without extension; a bundle's is
    /// its folder: `posts/2021/hello`, `posts/trip`.
    pub fn parts_below(&self, base: &Path) -> Vec<String> {
        let rel = self.path.strip_prefix(base).unwrap_or(&self.path);
        let rel = if self.bundle {
            rel.parent().unwrap_or(rel).to_path_buf()
        } else {
            rel.with_extension("")
        };
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect()
    }

    /// The file name without extension; a bundle's folder name.
    pub fn name(&self) -> String {
        let p = if self.bundle {
            self.path.parent().unwrap_or(&self.path)
        } else {
            &self.path
        };
        p.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// What a generator's URL rule needs to know of one post.
pub struct Facts<'a> {
    pub config: &'a Config,
    pub file: &'a SourceFile,
    pub date: DateTime<FixedOffset>,
    pub title: &'a str,
    /// The front matter's `slug`, as written.
    pub slug: Option<&'a str>,
    /// The front matter's own URL (`url`, `permalink`, `path`), as written.
    pub url: Option<&'a str>,
    pub categories: &'a [String],
}

impl Facts<'_> {
    /// The file's path below the generator's content root, `/`-separated, no extension;
    /// a bundle's is its folder.
    pub fn rel_stem(&self) -> String {
        self.file.parts_below(&self.config.content.root).join("/")
    }

    /// The folders between the content root and the post (a bundle's own folder excluded).
    pub fn dirs(&self) -> Vec<String> {
        let mut parts = self.file.parts_below(&self.config.content.root);
        parts.pop();
        parts.retain(|p| !p.is_empty());
        parts
    }
}

/// One generator's rules.
pub struct Rules {
    /// The front matter names, as the generator reads them (Hugo: lower case).
    pub field: fn(&str) -> Field,
    pub ignore_case: bool,
    pub split_words: bool,
    /// Every post file under `content_dir`, any order.
    pub walk: fn(&Config) -> Result<Vec<SourceFile>>,
    /// The post's path below `site.base_url` (`2024/03/hello/`), or why there is none.
    pub url: fn(&Facts<'_>) -> std::result::Result<String, String>,
    /// The summary divider when `content.summary_divider` is not set.
    pub divider: Option<&'static str>,
}

/// The rules of `generator`; `None` for herald's own posts, which keep their own path.
pub fn rules(generator: Generator) -> Option<&'static Rules> {
    match generator {
        Generator::Herald => None,
        Generator::Hugo => Some(&hugo::RULES),
        Generator::Jekyll => Some(&jekyll::RULES),
        Generator::Zola => Some(&zola::RULES),
        Generator::Eleventy => Some(&eleventy::RULES),
    }
}

/// Names every generator shares for the summary and the hero image, with their ranks.
pub fn common_field(key: &str) -> Field {
    match key {
        "title" => Field::Title,
        "date" => Field::Date,
        "tags" => Field::Tags,
        "slug" => Field::Slug,
        "author" | "authors" => Field::Author,
        "summary" => Field::Summary(0),
        "description" => Field::Summary(1),
        "excerpt" => Field::Summary(2),
        "image" => Field::Image(0),
        "images" => Field::Image(1),
        "cover" => Field::Table,
        "cover.image" => Field::Image(2),
        "featured_image" | "featuredimage" => Field::Image(3),
        _ => Field::Known,
    }
}

/// `content.fields` first (herald's name -> the front matter's), then the generator's names
/// (herald's own when `rules` is `None`).
pub fn field_for(config: &Config, rules: Option<&Rules>, key: &str) -> Field {
    let ignore_case = rules.is_some_and(|r| r.ignore_case);
    for (herald_name, theirs) in &config.content.fields {
        let theirs = if ignore_case {
            theirs.to_lowercase()
        } else {
            theirs.clone()
        };
        if theirs == key {
            return herald_field(herald_name);
        }
    }
    // A herald name that `content.fields` gave to another key is no longer read as itself.
    if config.content.fields.contains_key(key) {
        return Field::Known;
    }
    match rules {
        Some(r) => (r.field)(key),
        None => herald_field(key),
    }
}

/// Walks `dir`, calling `visit` for every entry that is not hidden; `visit` says whether to
/// descend into a folder.
pub fn walk_dir(dir: &Path, visit: &mut dyn FnMut(&Path, bool) -> Result<bool>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        let path = entry.path();
        let is_dir = kind.is_dir() || (kind.is_symlink() && path.is_dir());
        let is_file = kind.is_file() || (kind.is_symlink() && path.is_file());
        if is_dir || is_file {
            paths.push((path, is_dir));
        }
    }
    for (path, is_dir) in paths {
        if visit(&path, is_dir)? && is_dir {
            walk_dir(&path, visit)?;
        }
    }
    Ok(())
}

/// Walks `dir` the way Hugo and Zola read content: a folder holding `index.<ext>` is one
/// post (its other files are its resources); `_index.<ext>` is a section page, not a post.
/// The usual bundle, with `index.<ext>`, is known by that name alone, so its resources are
/// never listed; a folder without one is listed, and an `index.*.<ext>` in it (`index.en.md`)
/// makes it a bundle too.
pub fn walk_bundles(dir: &Path, exts: &[&str], out: &mut Vec<SourceFile>) -> Result<()> {
    if let Some(path) = exts
        .iter()
        .map(|ext| dir.join(format!("index.{ext}")))
        .find(|p| p.is_file())
    {
        out.push(SourceFile { path, bundle: true });
        return Ok(());
    }
    let mut dirs = Vec::new();
    let mut pages = Vec::new();
    let mut index = None;
    walk_dir(dir, &mut |path, is_dir| {
        if is_dir {
            dirs.push(path.to_path_buf());
        } else if has_ext(path, exts) {
            let name = file_name(path);
            if name.starts_with("index.") {
                index = Some(path.to_path_buf());
            } else if !name.starts_with('_') {
                pages.push(path.to_path_buf());
            }
        }
        Ok(false)
    })?;
    if let Some(path) = index {
        out.push(SourceFile { path, bundle: true });
        return Ok(());
    }
    out.extend(pages.into_iter().map(|path| SourceFile {
        path,
        bundle: false,
    }));
    // Folders are looked into on every core: a blog of bundles is thousands of them.
    let found: Vec<Vec<SourceFile>> = dirs
        .par_iter()
        .map(|d| {
            let mut files = Vec::new();
            walk_bundles(d, exts, &mut files).map(|()| files)
        })
        .collect::<Result<_>>()?;
    out.extend(found.into_iter().flatten());
    Ok(())
}

/// Whether `path` ends in one of `exts` (without the dot).
pub fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.contains(&e))
}

/// The name of a file or folder.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A path made of URL segments: no empty segment twice, a leading `/` removed.
pub fn clean_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut prev_slash = true;
    for c in path.chars() {
        if c == '/' {
            if !prev_slash {
                out.push('/');
            }
            prev_slash = true;
        } else {
            out.push(c);
            prev_slash = false;
        }
    }
    out
}

/// Whether the generator would copy `path` (a folder of the site) into the site it
/// publishes: its static folder, its content, its output, or (Jekyll) any folder of the
/// source whose name does not start with `_` or `.`.
pub fn is_published(config: &Config, path: &Path) -> bool {
    let root = &config.root;
    let Ok(rel) = path.strip_prefix(root) else {
        return false;
    };
    let first = rel
        .components()
        .next()
        .map(|c| c.as_os_str().to_string_lossy().into_owned());
    let Some(first) = first else {
        // The site root itself holds everything.
        return config.site.generator == Generator::Jekyll;
    };
    match config.site.generator {
        Generator::Herald => false,
        Generator::Hugo | Generator::Zola => {
            ["static", "public"].contains(&first.as_str()) || path.starts_with(&config.content.root)
        }
        Generator::Jekyll => {
            first == "_site" || !(first.starts_with('_') || first.starts_with('.'))
        }
        Generator::Eleventy => {
            first == "_site" || path.starts_with(&config.output_dir) && config.output_dir != *root
        }
    }
}

#[cfg(test)]
pub mod testing {
    //! A config and a post's facts for the URL tests of each generator.
    use super::*;

    pub fn config(yaml: &str) -> Config {
        let root = Path::new("/site");
        Config::parse(root, &root.join("herald.yaml"), yaml).unwrap()
    }

    pub fn file(path: &str, bundle: bool) -> SourceFile {
        SourceFile {
            path: PathBuf::from("/site").join(path),
            bundle,
        }
    }

    pub fn date(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    /// The URL path `rules` give a post.
    #[allow(clippy::too_many_arguments)]
    pub fn url_of(
        config: &Config,
        file: &SourceFile,
        date: DateTime<FixedOffset>,
        title: &str,
        slug: Option<&str>,
        url: Option<&str>,
        categories: &[String],
    ) -> std::result::Result<String, String> {
        let facts = Facts {
            config,
            file,
            date,
            title,
            slug,
            url,
            categories,
        };
        let rules = super::rules(config.site.generator).unwrap();
        (rules.url)(&facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundles_are_found_by_their_index_whatever_its_language_suffix() {
        let dir = tempfile::tempdir().unwrap();
        for file in [
            "plain.md",
            "_index.md",
            "a/index.md",
            "a/notes.md",
            "b/index.en.md",
            "b/extra.md",
            "c/d/page.md",
            "c/d/picture.png",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let mut out = Vec::new();
        walk_bundles(dir.path(), &["md"], &mut out).unwrap();
        let mut found: Vec<(String, bool)> = out
            .iter()
            .map(|f| {
                let rel = f.path.strip_prefix(dir.path()).unwrap();
                (rel.to_string_lossy().into_owned(), f.bundle)
            })
            .collect();
        found.sort();
        assert_eq!(
            found,
            [
                ("a/index.md".to_string(), true),
                ("b/index.en.md".to_string(), true),
                ("c/d/page.md".to_string(), false),
                ("plain.md".to_string(), false),
            ]
        );
    }
}

//! Hugo: Markdown under `content/`, front matter in YAML, TOML or JSON with case-insensitive
//! names, leaf bundles (`name/index.md`), section pages (`_index.md`) that are not posts, and
//! URLs from `[permalinks]` per section, `url`, or the file's place.

use chrono::Datelike;

use super::{Facts, Rules, SourceFile, clean_path, common_field, walk_bundles};
use crate::config::{Config, Permalinks};
use crate::content::front_matter::Field;
use crate::error::Result;
use crate::permalink::Token;
use crate::slug::hugo_urlize;

pub static RULES: Rules = Rules {
    field,
    ignore_case: true,
    split_words: false,
    walk,
    url,
    divider: Some("<!--more-->"),
};

const EXTS: &[&str] = &["md", "markdown", "mdown"];

fn field(key: &str) -> Field {
    match key {
        "publishdate" | "pubdate" | "published" => Field::PublishDate,
        "lastmod" | "modified" => Field::Updated,
        "expirydate" | "unpublishdate" => Field::ExpiryDate,
        "draft" => Field::Draft,
        "url" => Field::Url,
        "build" | "_build" => Field::Build,
        "headless" => Field::Headless,
        other => common_field(other),
    }
}

fn walk(config: &Config) -> Result<Vec<SourceFile>> {
    let mut out = Vec::new();
    walk_bundles(&config.content_dir, EXTS, &mut out)?;
    Ok(out)
}

fn url(f: &Facts<'_>) -> std::result::Result<String, String> {
    let ugly = f.config.site.ugly_urls;
    if let Some(u) = f.url {
        return Ok(finish(u.trim(), ugly));
    }
    let dirs = f.dirs();
    let section = dirs.first().cloned().unwrap_or_default();
    let urlize = |s: &str| hugo_urlize(s).unwrap_or_default();
    let slug = f.slug.map(urlize).filter(|s| !s.is_empty());
    // Made only when the pattern asks for it: most patterns use the slug alone.
    let name = || urlize(&f.file.name());
    if let Permalinks::Sections(map) = &f.config.site.permalinks
        && let Some(pattern) = map.get(&section)
    {
        let d = f.date;
        let path = pattern.expand(|t| match t {
            Token::Year => format!("{:04}", d.year()),
            Token::Month => format!("{:02}", d.month()),
            Token::LongMonth => d.format("%B").to_string(),
            Token::Day => format!("{:02}", d.day()),
            Token::Weekday => d.weekday().num_days_from_sunday().to_string(),
            Token::LongDay => d.format("%A").to_string(),
            Token::YDay => d.ordinal().to_string(),
            Token::Section => urlize(&section),
            Token::Sections => dirs.iter().map(|d| urlize(d)).collect::<Vec<_>>().join("/"),
            Token::Title => urlize(f.title),
            Token::Slug => slug.clone().unwrap_or_else(|| urlize(f.title)),
            Token::SlugOrFilename => slug.clone().unwrap_or_else(name),
            Token::Filename => name(),
            _ => String::new(),
        });
        return Ok(finish(&path, ugly));
    }
    let mut parts: Vec<String> = dirs.iter().map(|d| urlize(d)).collect();
    parts.push(slug.unwrap_or_else(name));
    Ok(finish(&parts.join("/"), ugly))
}

/// A page's path: pretty (`x/`) unless it names a file or `uglyURLs` is on (`x.html`).
fn finish(path: &str, ugly: bool) -> String {
    let path = clean_path(path);
    let last = path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("");
    if path.is_empty() || path.ends_with('/') || last.contains('.') {
        path
    } else if ugly {
        format!("{path}.html")
    } else {
        format!("{path}/")
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{config, date, file, url_of};
    use super::*;

    const SITE: &str = "site: { title: T, base_url: 'https://h.example.org/blog/', generator: hugo";

    #[test]
    fn every_permalink_token() {
        let c = config(&format!(
            "{SITE}, permalinks: {{ posts: '/:year/:month/:monthname/:day/:weekday/:weekdayname/:yearday/:section/:sections/:title/:slug/:slugorfilename/:filename/' }} }}\n"
        ));
        let f = file("content/posts/2021/My File.md", false);
        let d = date("2021-10-01T08:30:00-04:00");
        assert_eq!(
            url_of(&c, &f, d, "Hello, World!", None, None, &[]).unwrap(),
            "2021/10/October/01/5/Friday/274/posts/posts/2021/hello-world/hello-world/my-file/my-file/"
        );
        assert_eq!(
            url_of(&c, &f, d, "Hello", Some("Own Slug"), None, &[]).unwrap(),
            "2021/10/October/01/5/Friday/274/posts/posts/2021/hello/own-slug/own-slug/my-file/"
        );
    }

    #[test]
    fn bundles_take_their_folder_name() {
        let c = config(&format!(
            "{SITE}, permalinks: {{ posts: '/:year/:filename/' }} }}\n"
        ));
        let f = file("content/posts/trip-notes/index.md", true);
        let d = date("2021-10-01T08:30:00Z");
        assert_eq!(
            url_of(&c, &f, d, "T", None, None, &[]).unwrap(),
            "2021/trip-notes/"
        );
    }

    #[test]
    fn default_path_url_override_and_ugly_urls() {
        let c = config(&format!("{SITE} }}\n"));
        let d = date("2021-10-01T08:30:00Z");
        let f = file("content/notes/Deep/Some Note.md", false);
        assert_eq!(
            url_of(&c, &f, d, "T", None, None, &[]).unwrap(),
            "notes/deep/some-note/"
        );
        assert_eq!(
            url_of(&c, &f, d, "T", Some("x"), None, &[]).unwrap(),
            "notes/deep/x/"
        );
        assert_eq!(
            url_of(&c, &f, d, "T", None, Some("/elsewhere/page/"), &[]).unwrap(),
            "elsewhere/page/"
        );
        let c = config(&format!("{SITE}, ugly_urls: true }}\n"));
        assert_eq!(
            url_of(&c, &f, d, "T", None, None, &[]).unwrap(),
            "notes/deep/some-note.html"
        );
    }

    #[test]
    fn pretty_and_ugly_paths() {
        assert_eq!(finish("/posts/a", false), "posts/a/");
        assert_eq!(finish("/posts/a/", false), "posts/a/");
        assert_eq!(finish("posts/a", true), "posts/a.html");
        assert_eq!(finish("/feed.xml", false), "feed.xml");
        assert_eq!(finish("//a//b", false), "a/b/");
    }

    #[test]
    fn names_ignore_case_via_lowercase_keys() {
        assert_eq!(field("publishdate"), Field::PublishDate);
        assert_eq!(field("lastmod"), Field::Updated);
        assert_eq!(field("cover.image"), Field::Image(2));
        assert_eq!(field("layout"), Field::Known);
    }
}

//! Jekyll: posts are the Markdown files named `YYYY-MM-DD-title.ext` in every `_posts/`
//! folder of the site (categories come from the folders above it and from the front matter);
//! `_drafts/` and `published: false` are not published; URLs come from the site's
//! `permalink` (a style name or a `:token` pattern) or the post's own, with the date in the
//! site's time zone.

use chrono::Datelike;
use chrono::Timelike;

use super::{Facts, Rules, SourceFile, clean_path, common_field, file_name, has_ext, walk_dir};
use crate::config::{Config, Permalinks};
use crate::content::front_matter::Field;
use crate::dates;
use crate::error::Result;
use crate::permalink::{Pattern, Token};
use crate::slug::{JekyllSlugMode, jekyll_slugify};

pub static RULES: Rules = Rules {
    field,
    ignore_case: false,
    split_words: true,
    walk,
    url,
    divider: None,
};

/// Jekyll's default `markdown_ext`.
const EXTS: &[&str] = &["md", "markdown", "mkdown", "mkdn", "mkd"];

/// Folders of a Jekyll source that never hold posts.
const SKIP: &[&str] = &["_site", "node_modules", "vendor", "_drafts"];

fn field(key: &str) -> Field {
    match key {
        "tag" => Field::Tags,
        "categories" | "category" => Field::Categories,
        "published" => Field::Published,
        "permalink" => Field::Url,
        "last_modified_at" => Field::Updated,
        "excerpt_separator" => Field::Divider,
        // Jekyll publishes a post with `draft: true` all the same.
        "draft" => Field::Known,
        other => common_field(other),
    }
}

fn walk(config: &Config) -> Result<Vec<SourceFile>> {
    let mut out = Vec::new();
    walk_dir(&config.content_dir, &mut |path, is_dir| {
        let name = file_name(path);
        let rel = path.strip_prefix(&config.content_dir).unwrap_or(path);
        let in_posts = rel.components().any(|c| c.as_os_str() == "_posts");
        if is_dir {
            return Ok(!SKIP.contains(&name.as_str()) && (in_posts || !name.starts_with('_')));
        }
        let file = SourceFile {
            path: path.to_path_buf(),
            bundle: false,
        };
        if in_posts && has_ext(path, EXTS) && dates::date_prefix(&file.name()).is_some() {
            out.push(file);
        }
        Ok(false)
    })?;
    Ok(out)
}

/// The post's categories: the folders above `_posts/`, then the front matter's, lower case,
/// each once.
fn categories(f: &Facts<'_>) -> Vec<String> {
    let rel = f
        .file
        .path
        .strip_prefix(&f.config.content.root)
        .unwrap_or(&f.file.path);
    let mut dirs: Vec<String> = Vec::new();
    for c in rel.components() {
        let c = c.as_os_str().to_string_lossy();
        if c == "_posts" {
            break;
        }
        dirs.push(c.into_owned());
    }
    let mut out: Vec<String> = Vec::new();
    for c in dirs.iter().chain(f.categories.iter()) {
        let c = c.to_lowercase();
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

fn url(f: &Facts<'_>) -> std::result::Result<String, String> {
    let site = match &f.config.site.permalinks {
        Permalinks::One(p) => p.clone(),
        _ => Pattern::jekyll("date")?,
    };
    let own;
    let pattern = match f.url {
        Some(u) => {
            own = Pattern::jekyll(u)
                .map_err(|e| format!("invalid permalink \"{}\": {e}", crate::error::cut(u)))?;
            &own
        }
        None => &site,
    };
    let file_stem = f.file.name();
    let title_part = dates::date_prefix(&file_stem)
        .map(|(_, rest)| rest.to_string())
        .unwrap_or_else(|| file_stem.clone());
    let slug_src = f.slug.unwrap_or(&title_part);
    let d = f.date.with_timezone(&f.config.site.timezone);
    let cats = categories(f);
    let rel = f.rel_stem();
    let path = pattern.expand(|t| match t {
        Token::Year => format!("{:04}", d.year()),
        Token::Month => format!("{:02}", d.month()),
        Token::IMonth => d.month().to_string(),
        Token::Day => format!("{:02}", d.day()),
        Token::IDay => d.day().to_string(),
        Token::ShortYear => format!("{:02}", d.year() % 100),
        Token::Hour => format!("{:02}", d.hour()),
        Token::Minute => format!("{:02}", d.minute()),
        Token::Second => format!("{:02}", d.second()),
        Token::YDay => format!("{:03}", d.ordinal()),
        Token::ShortMonth => d.format("%b").to_string(),
        Token::LongMonth => d.format("%B").to_string(),
        Token::ShortDay => d.format("%a").to_string(),
        Token::LongDay => d.format("%A").to_string(),
        Token::Week => format!("{:02}", d.iso_week().week()),
        Token::Title => jekyll_slugify(slug_src, JekyllSlugMode::Pretty, true).unwrap_or_default(),
        Token::Slug => jekyll_slugify(slug_src, JekyllSlugMode::Default, false).unwrap_or_default(),
        Token::Filename => {
            jekyll_slugify(&file_stem, JekyllSlugMode::Pretty, true).unwrap_or_default()
        }
        Token::Categories => cats.join("/"),
        Token::SlugifiedCategories => cats
            .iter()
            .filter_map(|c| jekyll_slugify(c, JekyllSlugMode::Default, false))
            .collect::<Vec<_>>()
            .join("/"),
        Token::OutputExt => ".html".into(),
        Token::Path => rel.clone(),
        Token::Collection => "posts".into(),
        _ => String::new(),
    });
    // Jekyll turns `..` into `/` and drops `./`, then squeezes slashes.
    let path = path.replace("..", "/").replace("./", "");
    Ok(clean_path(&path))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{config, date, file, url_of};
    use super::*;

    fn site(permalink: &str) -> Config {
        config(&format!(
            "site: {{ title: T, base_url: 'https://j.example.org/journal/', generator: jekyll, timezone: Europe/Berlin, permalink: '{permalink}' }}\n"
        ))
    }

    #[test]
    fn named_styles() {
        let f = file("_posts/2014-12-17-Hello-World.md", false);
        let d = date("2014-12-17T11:16:21-08:00");
        let url =
            |p: &str, cats: &[String]| url_of(&site(p), &f, d, "T", None, None, cats).unwrap();
        let cats = ["Tech".to_string(), "News".to_string()];
        assert_eq!(url("date", &cats), "tech/news/2014/12/17/Hello-World.html");
        assert_eq!(url("pretty", &[]), "2014/12/17/Hello-World/");
        assert_eq!(url("ordinal", &[]), "2014/351/Hello-World.html");
        assert_eq!(url("weekdate", &[]), "2014/W51/Wed/Hello-World.html");
        assert_eq!(url("none", &cats), "tech/news/Hello-World.html");
    }

    #[test]
    fn every_token_in_the_site_zone() {
        let f = file("blog/_posts/2019/2019-05-06-soup.markdown", false);
        // 23:30 in New York is 05:30 the next day in Berlin: the URL has the Berlin date.
        let d = date("2019-05-06T23:30:05-04:00");
        let c = site(
            "/:year/:month/:i_month/:day/:i_day/:short_year/:hour/:minute/:second/:y_day/:short_month/:long_month/:short_day/:long_day/:week/:title/:slug/:name/:categories/:slugified_categories/:collection:output_ext",
        );
        assert_eq!(
            url_of(&c, &f, d, "T", None, None, &["My Cat".to_string()]).unwrap(),
            "2019/05/5/07/7/19/05/30/05/127/May/May/Tue/Tuesday/19/soup/soup/2019-05-06-soup/blog/my cat/blog/my-cat/posts.html"
        );
    }

    #[test]
    fn front_matter_slug_and_own_permalink() {
        let f = file("_posts/2014-12-17-hello.md", false);
        let d = date("2014-12-17T11:16:21+01:00");
        let c = site("date");
        assert_eq!(
            url_of(&c, &f, d, "T", Some("Other Name"), None, &[]).unwrap(),
            "2014/12/17/Other-Name.html"
        );
        assert_eq!(
            url_of(&c, &f, d, "T", None, Some("/:year/custom/"), &[]).unwrap(),
            "2014/custom/"
        );
        assert_eq!(
            url_of(&c, &f, d, "T", None, Some("/../x/./y.html"), &[]).unwrap(),
            "x/y.html"
        );
    }

    #[test]
    fn names() {
        assert_eq!(field("published"), Field::Published);
        assert_eq!(field("category"), Field::Categories);
        assert_eq!(field("permalink"), Field::Url);
        assert_eq!(field("draft"), Field::Known);
    }
}

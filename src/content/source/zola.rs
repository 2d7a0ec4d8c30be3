//! Zola: Markdown under `content/` with TOML front matter between `+++` lines (YAML between
//! `---` too), sections (`_index.md`) that are not posts, page bundles, tags under
//! `[taxonomies]`, and URLs from the section path and the slug (or the page's own `path`),
//! with a leading date stripped from file names.

use super::{Facts, Rules, SourceFile, clean_path, common_field, walk_bundles};
use crate::config::Config;
use crate::content::front_matter::Field;
use crate::dates;
use crate::error::Result;
use crate::slug::zola_slugify;

pub static RULES: Rules = Rules {
    field,
    ignore_case: false,
    split_words: false,
    walk,
    url,
    divider: Some("<!-- more -->"),
};

fn field(key: &str) -> Field {
    match key {
        "updated" => Field::Updated,
        "draft" => Field::Draft,
        "path" => Field::Url,
        "taxonomies" | "extra" => Field::Table,
        "taxonomies.tags" => Field::Tags,
        "extra.image" => Field::Image(4),
        "extra.cover" | "extra.cover_image" | "extra.featured_image" => Field::Image(5),
        // Zola keeps its own `summary` for the text before `<!-- more -->`.
        "summary" => Field::Known,
        other => common_field(other),
    }
}

fn walk(config: &Config) -> Result<Vec<SourceFile>> {
    let mut out = Vec::new();
    walk_bundles(&config.content_dir, &["md"], &mut out)?;
    Ok(out)
}

fn url(f: &Facts<'_>) -> std::result::Result<String, String> {
    if let Some(p) = f.url {
        let p = clean_path(p.trim());
        return Ok(
            if p.is_empty()
                || p.ends_with('/')
                || p.rsplit('/').next().is_some_and(|s| s.contains('.'))
            {
                p
            } else {
                format!("{p}/")
            },
        );
    }
    let name = f.file.name();
    let slug = match f.slug {
        Some(s) => zola_slugify(s),
        None => {
            let bare = dates::date_prefix(&name).map_or(name.as_str(), |(_, rest)| rest);
            zola_slugify(bare)
        }
    }
    .ok_or_else(|| {
        format!(
            "the name \"{}\" gives an empty slug: add `slug` to the front matter",
            crate::error::cut(&name)
        )
    })?;
    let mut parts = f.dirs();
    parts.push(slug);
    Ok(format!("{}/", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{config, date, file, url_of};
    use super::*;

    #[test]
    fn section_path_slug_and_path() {
        let c = config("site: { title: T, base_url: 'https://z.example.org', generator: zola }\n");
        let d = date("2024-01-05T00:00:00Z");
        let url = |f: &str, b: bool, slug: Option<&str>, path: Option<&str>| {
            url_of(&c, &file(f, b), d, "T", slug, path, &[]).unwrap()
        };
        assert_eq!(
            url("content/blog/First Post.md", false, None, None),
            "blog/first-post/"
        );
        assert_eq!(
            url("content/blog/2023-04-01-dated-name.md", false, None, None),
            "blog/dated-name/"
        );
        assert_eq!(
            url("content/blog/2023-04-01_under.md", false, None, None),
            "blog/under/"
        );
        assert_eq!(
            url("content/blog/x.md", false, Some("Own Slug"), None),
            "blog/own-slug/"
        );
        assert_eq!(
            url("content/blog/bundle/index.md", true, None, None),
            "blog/bundle/"
        );
        assert_eq!(url("content/blog/x.md", false, None, Some("/a/b")), "a/b/");
        assert_eq!(url("content/top.md", false, None, None), "top/");
    }

    #[test]
    fn names() {
        assert_eq!(field("taxonomies"), Field::Table);
        assert_eq!(field("taxonomies.tags"), Field::Tags);
        assert_eq!(field("path"), Field::Url);
        assert_eq!(field("extra.image"), Field::Image(4));
    }
}

//! Eleventy: every Markdown file under the input folder is a page whose URL is its path
//! (`blog/post.md` -> `/blog/post/`, `index.md` -> its folder), unless the front matter
//! gives a literal `permalink` (or `permalink: false`: no page).

use super::{Facts, Rules, SourceFile, clean_path, common_field, file_name, has_ext, walk_dir};
use crate::config::Config;
use crate::content::front_matter::Field;
use crate::error::Result;

pub static RULES: Rules = Rules {
    field,
    ignore_case: false,
    split_words: false,
    walk,
    url,
    divider: None,
};

/// Folders of an Eleventy project that hold no pages.
const SKIP: &[&str] = &["_includes", "_data", "_site", "node_modules"];

fn field(key: &str) -> Field {
    match key {
        "permalink" => Field::Url,
        "draft" => Field::Draft,
        other => common_field(other),
    }
}

fn walk(config: &Config) -> Result<Vec<SourceFile>> {
    let mut out = Vec::new();
    walk_dir(&config.content_dir, &mut |path, is_dir| {
        let name = file_name(path);
        if is_dir {
            return Ok(!SKIP.contains(&name.as_str()));
        }
        if has_ext(path, &["md"]) {
            out.push(SourceFile {
                path: path.to_path_buf(),
                bundle: name == "index.md",
            });
        }
        Ok(false)
    })?;
    Ok(out)
}

fn url(f: &Facts<'_>) -> std::result::Result<String, String> {
    if let Some(p) = f.url {
        if p.contains("{{") || p.contains("{%") {
            return Err(format!(
                "permalink \"{}\" is a template herald cannot evaluate: give a literal path",
                crate::error::cut(p)
            ));
        }
        let p = clean_path(p.trim());
        return Ok(p
            .strip_suffix("index.html")
            .map(str::to_string)
            .unwrap_or(p));
    }
    let stem = f.rel_stem();
    if stem.is_empty() {
        return Ok(String::new());
    }
    Ok(format!("{stem}/"))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{config, date, file, url_of};
    use super::*;

    #[test]
    fn input_path_and_literal_permalink() {
        let c = config(
            "site: { title: T, base_url: 'https://e.example.org/', generator: eleventy }\ncontent: { root: content }\n",
        );
        let d = date("2024-02-03T00:00:00Z");
        let url = |f: &str, b: bool, p: Option<&str>| url_of(&c, &file(f, b), d, "T", None, p, &[]);
        assert_eq!(
            url("content/blog/firstpost.md", false, None).unwrap(),
            "blog/firstpost/"
        );
        assert_eq!(
            url("content/blog/trip/index.md", true, None).unwrap(),
            "blog/trip/"
        );
        assert_eq!(
            url("content/blog/series/part-1.md", false, None).unwrap(),
            "blog/series/part-1/"
        );
        assert_eq!(
            url("content/blog/x.md", false, Some("/custom/path/")).unwrap(),
            "custom/path/"
        );
        assert_eq!(
            url("content/blog/x.md", false, Some("/custom/index.html")).unwrap(),
            "custom/"
        );
        assert!(url("content/blog/x.md", false, Some("/{{ page.fileSlug }}/")).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(field("permalink"), Field::Url);
        assert_eq!(field("description"), Field::Summary(1));
    }
}

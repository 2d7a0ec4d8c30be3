//! OPML 2.0: one outline per feed written (RSS, Atom and JSON Feed), so a reader can import
//! them all at once.

use url::Url;

use super::xml_escape;
use crate::config::{Config, FeedFormat};

/// One feed the OPML lists.
pub struct Outline<'a> {
    /// The feed's title: the site's, or `site: tag` for a tag feed.
    pub title: &'a str,
    pub format: FeedFormat,
    pub url: Url,
}

/// `outlines` in the order they should appear, each shown as `title (format label)`.
pub fn render(config: &Config, outlines: &[Outline]) -> Vec<u8> {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n  <head>\n");
    out.push_str(&format!(
        "    <title>{}</title>\n  </head>\n  <body>\n",
        xml_escape(&config.site.title)
    ));
    for o in outlines {
        let text = format!("{} ({})", o.title, o.format.label());
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{}\" title=\"{}\" xmlUrl=\"{}\"/>\n",
            xml_escape(&text),
            xml_escape(&text),
            xml_escape(o.url.as_str())
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn each_outline_is_labelled_by_its_format() {
        let config = Config::parse(
            Path::new("/site"),
            Path::new("/site/config/herald.yaml"),
            "site:\n  title: A & B\n  base_url: https://example.com/\n",
        )
        .unwrap();
        let outlines: Vec<Outline> = FeedFormat::ALL
            .iter()
            .map(|&format| Outline {
                title: "A & B: SEO",
                format,
                url: Url::parse("https://example.com/tags/seo/")
                    .unwrap()
                    .join(format.file_name())
                    .unwrap(),
            })
            .collect();
        let opml = String::from_utf8(render(&config, &outlines)).unwrap();
        let lines: Vec<&str> = opml.lines().filter(|l| l.contains("<outline")).collect();
        assert_eq!(
            lines,
            [
                "    <outline type=\"rss\" text=\"A &amp; B: SEO (RSS)\" title=\"A &amp; B: SEO (RSS)\" xmlUrl=\"https://example.com/tags/seo/rss.xml\"/>",
                "    <outline type=\"rss\" text=\"A &amp; B: SEO (Atom)\" title=\"A &amp; B: SEO (Atom)\" xmlUrl=\"https://example.com/tags/seo/atom.xml\"/>",
                "    <outline type=\"rss\" text=\"A &amp; B: SEO (JSON Feed)\" title=\"A &amp; B: SEO (JSON Feed)\" xmlUrl=\"https://example.com/tags/seo/feed.json\"/>",
            ]
        );
        assert!(opml.contains("<title>A &amp; B</title>"), "{opml}");
    }
}

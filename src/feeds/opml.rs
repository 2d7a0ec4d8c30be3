//! OPML 2.0: one outline per feed written (RSS, Atom and JSON Feed), so a reader can import
//! them all at once.

use url::Url;

use super::xml_escape;
use crate::config::Config;

/// `outlines`: (text, feed URL), in the order they should appear.
pub fn render(config: &Config, outlines: &[(String, Url)]) -> Vec<u8> {
    let mut out = String::new();
    out.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n  <head>\n");
    out.push_str(&format!(
        "    <title>{}</title>\n  </head>\n  <body>\n",
        xml_escape(&config.site.title)
    ));
    for (text, url) in outlines {
        out.push_str(&format!(
            "    <outline type=\"rss\" text=\"{}\" title=\"{}\" xmlUrl=\"{}\"/>\n",
            xml_escape(text),
            xml_escape(text),
            xml_escape(url.as_str())
        ));
    }
    out.push_str("  </body>\n</opml>\n");
    out.into_bytes()
}

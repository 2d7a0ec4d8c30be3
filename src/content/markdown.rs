//! Markdown to safe HTML: comrak (CommonMark + GitHub extensions), then ammonia, which removes
//! anything that could run (script, iframe, event handlers, `javascript:` URLs) and makes every
//! link and image source absolute against the post's permalink (README "Posts").
//!
//! Pure functions: no I/O. Rendering is done only for posts that appear in a feed or a mail.

use std::borrow::Cow;
use std::collections::HashSet;

use ammonia::{Builder, Url, UrlRelative};
use comrak::nodes::NodeValue;
use comrak::{Arena, Options, parse_document};

/// A post body rendered for feeds and mails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Sanitised HTML with absolute URLs; the hero image, if any, comes first.
    pub html: String,
    /// The summary the body gives: its first paragraph as plain text, cut to at most
    /// [`SUMMARY_MAX`] characters (`Post::render` puts the text before a summary divider here).
    pub summary: String,
}

/// The longest default summary, in characters, ellipsis included.
pub const SUMMARY_MAX: usize = 300;

fn options(unsafe_html: bool) -> Options<'static> {
    let mut o = Options::default();
    o.extension.table = true;
    o.extension.strikethrough = true;
    o.extension.autolink = true;
    o.extension.tasklist = true;
    o.extension.footnotes = true;
    // README "Posts": raw HTML is escaped (shown as text) unless `render.unsafe_html`.
    o.render.r#unsafe = unsafe_html;
    o.render.escape = !unsafe_html;
    o
}

/// Renders `body` for the post at `permalink`. `image` is the hero image (already absolute).
pub fn render(
    body: &str,
    permalink: &Url,
    unsafe_html: bool,
    image: Option<&str>,
    alt: &str,
) -> Rendered {
    let opts = options(unsafe_html);
    let arena = Arena::new();
    let root = parse_document(&arena, body, &opts);
    let summary = root
        .descendants()
        .filter(|n| matches!(n.data().value, NodeValue::Paragraph))
        .map(|p| {
            let mut text = String::new();
            plain_text(p, &mut text);
            text
        })
        .find(|t| !t.trim().is_empty())
        .map(|t| truncate_words(&t, SUMMARY_MAX))
        .unwrap_or_default();
    let mut raw = String::with_capacity(body.len() * 2);
    // Writing into a String cannot fail.
    let _ = comrak::format_html(root, &opts, &mut raw);
    let body_html = sanitize(&raw, permalink);
    let html = match image {
        // The hero image comes first, unless the body already opens with that very image.
        Some(src) if !body_html.starts_with(&format!("<p><img src=\"{}\"", escape_attr(src))) => {
            let hero = format!(
                "<p><img src=\"{}\" alt=\"{}\"></p>\n",
                escape_attr(src),
                escape_attr(alt)
            );
            sanitize(&hero, permalink) + &body_html
        }
        _ => body_html,
    };
    Rendered { html, summary }
}

/// The text of a node, without image alt text (a paragraph holding only an image is no summary)
/// and without what sits between raw `<script>` or `<style>` tags (`render.unsafe_html`): the
/// sanitiser drops those from the HTML, so the summary must not show their text either.
/// The text of every paragraph of `body`, joined with spaces: the summary before a divider.
pub fn to_plain_text(body: &str) -> String {
    let opts = options(false);
    let arena = Arena::new();
    let root = parse_document(&arena, body, &opts);
    let mut parts = Vec::new();
    for p in root
        .descendants()
        .filter(|n| matches!(n.data().value, NodeValue::Paragraph))
    {
        let mut text = String::new();
        plain_text(p, &mut text);
        if !text.trim().is_empty() {
            parts.push(text);
        }
    }
    parts.join(" ")
}

fn plain_text<'a>(node: &'a comrak::nodes::AstNode<'a>, out: &mut String) {
    let mut hidden = false;
    for n in node.children() {
        match &n.data().value {
            NodeValue::HtmlInline(tag) => {
                let tag = tag.to_ascii_lowercase();
                if tag.starts_with("<script") || tag.starts_with("<style") {
                    hidden = true;
                } else if tag.starts_with("</script") || tag.starts_with("</style") {
                    hidden = false;
                }
            }
            _ if hidden => {}
            NodeValue::Text(t) => out.push_str(t),
            NodeValue::Code(c) => out.push_str(&c.literal),
            NodeValue::SoftBreak | NodeValue::LineBreak => out.push(' '),
            NodeValue::Image(_) => {}
            _ => plain_text(n, out),
        }
    }
}

/// Removes anything executable and makes URLs absolute against `base`. Links whose scheme is
/// not http, https or mailto lose their `href`.
pub fn sanitize(html: &str, base: &Url) -> String {
    let mut b = Builder::default();
    b.add_tags(["input", "section"])
        .add_tag_attributes("input", ["type", "checked", "disabled"])
        .add_tag_attributes("img", ["width", "height", "loading"])
        .add_tag_attributes("td", ["align"])
        .add_tag_attributes("th", ["align"])
        .add_generic_attributes(["id", "class"])
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .link_rel(None)
        .url_relative(UrlRelative::RewriteWithBase(base.clone()))
        .attribute_filter(|_, attr, value| {
            if matches!(attr, "href" | "src")
                && let Ok(u) = Url::parse(value)
            {
                // Absolute URLs come back ASCII-only (IDNA host, percent-encoded path).
                return Some(Cow::Owned(u.to_string()));
            }
            Some(Cow::Borrowed(value))
        });
    b.clean(html).to_string()
}

/// Cuts `s` at a word boundary so that it has at most `max` characters, ellipsis included.
pub fn truncate_words(s: &str, max: usize) -> String {
    let s = crate::config::one_line(s);
    if s.chars().count() <= max {
        return s;
    }
    let mut out = String::new();
    for word in s.split(' ') {
        let needed = out.chars().count() + usize::from(!out.is_empty()) + word.chars().count() + 1;
        if needed > max {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if out.is_empty() {
        // One word longer than `max`: cut inside it.
        out = s.chars().take(max - 1).collect();
    }
    let trimmed = out.trim_end_matches(|c: char| c.is_ascii_punctuation() && c != ')');
    format!("{trimmed}…")
}

/// Escapes text for an HTML attribute value in double quotes.
pub fn escape_attr(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://example.com/posts/hello/").unwrap()
    }

    fn html(md: &str, unsafe_html: bool) -> String {
        render(md, &base(), unsafe_html, None, "").html
    }

    #[test]
    fn links_and_images_become_absolute() {
        let h = html(
            "[a](/media/x.webp) [b](../other/) ![i](pic.png) [f](#top)",
            false,
        );
        assert!(
            h.contains(r#"href="https://example.com/media/x.webp""#),
            "{h}"
        );
        assert!(
            h.contains(r#"href="https://example.com/posts/other/""#),
            "{h}"
        );
        assert!(
            h.contains(r#"src="https://example.com/posts/hello/pic.png""#),
            "{h}"
        );
        assert!(
            h.contains(r#"href="https://example.com/posts/hello/#top""#),
            "{h}"
        );
    }

    #[test]
    fn raw_html_is_escaped_by_default() {
        let h = html("Hi <b>there</b>\n\n<script>alert(1)</script>\n", false);
        assert!(h.contains("&lt;b&gt;there&lt;/b&gt;"), "{h}");
        assert!(!h.contains("<script"), "{h}");
    }

    #[test]
    fn unsafe_html_is_still_sanitised() {
        let md = "<b onclick=\"x()\">bold</b> <a href=\"javascript:alert(1)\">j</a>\n\n<script>alert(1)</script>\n\n<iframe src=\"https://evil.example/\"></iframe>\n";
        let h = html(md, true);
        assert!(h.contains("<b>bold</b>"), "{h}");
        assert!(!h.contains("onclick"), "{h}");
        assert!(!h.contains("javascript:"), "{h}");
        assert!(!h.contains("<script"), "{h}");
        assert!(!h.contains("<iframe"), "{h}");
        assert!(
            h.contains("<a>j</a>"),
            "a javascript: link loses its href: {h}"
        );
    }

    #[test]
    fn gfm_extensions_render() {
        let h = html(
            "| a |\n|---|\n| 1 |\n\n~~old~~ www.example.com\n\n- [x] done\n\nNote[^1]\n\n[^1]: foot\n",
            false,
        );
        for want in [
            "<table>",
            "<del>old</del>",
            "href=\"http://www.example.com/\"",
            "checkbox",
            "footnote",
        ] {
            assert!(h.contains(want), "missing {want}: {h}");
        }
    }

    #[test]
    fn non_ascii_urls_are_percent_encoded() {
        let h = html("[t](/tags/夜/)", false);
        assert!(h.contains("https://example.com/tags/%E5%A4%9C/"), "{h}");
    }

    #[test]
    fn hero_image_comes_first() {
        let r = render(
            "Body",
            &base(),
            false,
            Some("https://example.com/m/h.webp"),
            "A \"b\"",
        );
        assert!(
            r.html.starts_with(
                r#"<p><img src="https://example.com/m/h.webp" alt="A &quot;b&quot;"></p>"#
            ),
            "{}",
            r.html
        );
    }

    #[test]
    fn hero_image_is_not_repeated_when_the_body_opens_with_it() {
        let r = render(
            "![x](/m/h.webp)\n\nText",
            &base(),
            false,
            Some("https://example.com/m/h.webp"),
            "T",
        );
        assert_eq!(r.html.matches("h.webp").count(), 1, "{}", r.html);
        assert_eq!(r.summary, "Text");
    }

    #[test]
    fn summaries_leave_out_raw_script_text() {
        let r = render(
            "Hi <script>alert(1)</script> there <STYLE>p{}</STYLE>!",
            &base(),
            true,
            None,
            "",
        );
        assert_eq!(r.summary, "Hi there !");
    }

    #[test]
    fn summary_is_the_first_paragraph_as_plain_text() {
        let r = render(
            "# Head\n\nSome *bold* `code` and [link](/x).\nNext line.\n\nSecond.",
            &base(),
            false,
            None,
            "",
        );
        assert_eq!(r.summary, "Some bold code and link. Next line.");
    }

    #[test]
    fn truncates_at_word_boundary() {
        let long = "word ".repeat(100);
        let t = truncate_words(&long, 300);
        assert!(t.chars().count() <= 300);
        assert!(t.ends_with("word…"), "{t}");
        assert_eq!(truncate_words("short text", 300), "short text");
        assert_eq!(truncate_words(&"x".repeat(400), 10).chars().count(), 10);
    }
}

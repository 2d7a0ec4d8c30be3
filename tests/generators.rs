//! Existing blogs as they are: `herald init --from` on the Hugo, Jekyll, Zola and Eleventy
//! fixture blogs, then `herald build`. Every feed item must be a page the generator publishes
//! (`tests/fixtures/<generator>/expected-urls.txt`, written from the real generator's output
//! and checked against it again by `.ci/parity.sh`), no template syntax may reach a feed, and
//! no file of the blog may change.

use std::collections::BTreeMap;

use crate::support::Site;

/// A `--now` after every fixture post that is meant to be published, before the 2099 ones.
const NOW: &str = "2026-12-01T00:00:00Z";

/// The fixture blog `name`, set up with `init --from` and `feeds.limit: 0`.
fn blog(name: &str) -> (Site, BTreeMap<String, Vec<u8>>) {
    let site = Site::fixture(name).at(NOW);
    let before = site.files("");
    let root = site.root().to_string_lossy().into_owned();
    site.run(&["init", "--from", &root]).success();
    let yaml = site.read("herald.yaml");
    assert!(yaml.contains("limit: 20"), "{yaml}");
    site.write("herald.yaml", yaml.replace("limit: 20", "limit: 0"));
    (site, before)
}

/// The output folder herald.yaml names.
fn output_dir(site: &Site) -> String {
    let yaml: serde_yaml::Value = serde_yaml::from_str(&site.read("herald.yaml")).unwrap();
    yaml["output_dir"].as_str().unwrap_or("public").to_string()
}

fn rel(dir: &str, file: &str) -> String {
    if dir == "." || dir.is_empty() {
        file.to_string()
    } else {
        format!("{}/{file}", dir.trim_end_matches('/'))
    }
}

/// The links of every item of the site's RSS feed, sorted.
fn item_links(site: &Site, out: &str) -> Vec<String> {
    let xml = site.read_bytes(&rel(out, "rss.xml"));
    let feed = feed_rs::parser::parse(&xml[..]).unwrap();
    let mut links: Vec<String> = feed
        .entries
        .iter()
        .map(|e| e.links.first().map(|l| l.href.clone()).unwrap_or_default())
        .collect();
    links.sort();
    links
}

fn expected(name: &str) -> Vec<String> {
    let path = crate::support::site::fixtures_dir()
        .join(name)
        .join("expected-urls.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut v: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

/// Template syntax a fixture shows as text on purpose (escaped or inside `{% raw %}`), as
/// the generator's own page shows it.
fn literal(name: &str) -> &'static [&'static str] {
    match name {
        "hugo" => &[r#"{{< figure src="/images/sunrise.png" title="Sunrise" >}}"#],
        "jekyll" => &["{{ page.title }}", "{% if page.tags %}"],
        "eleventy" => &["{{ metadata.title }}"],
        _ => &[],
    }
}

/// `s` HTML-escaped as many times as a feed may have done it.
fn escaped(s: &str, times: usize) -> String {
    let mut out = s.to_string();
    for _ in 0..times {
        out = out
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;");
    }
    out
}

/// Builds the fixture blog and checks what every generator's blog must give.
fn check(name: &str) -> Site {
    let (site, before) = blog(name);
    site.build();
    let out = output_dir(&site);
    assert_eq!(
        item_links(&site, &out),
        expected(name),
        "{name}: feed items"
    );
    // No template syntax in any feed herald wrote.
    for (path, bytes) in site.files(if out == "." { "" } else { &out }) {
        let is_feed = ["rss.xml", "atom.xml", "feed.json"]
            .iter()
            .any(|f| path.ends_with(f));
        if !is_feed {
            continue;
        }
        let mut text = String::from_utf8(bytes).unwrap();
        for l in literal(name) {
            for times in (0..3).rev() {
                text = text.replace(&escaped(l, times), "");
            }
        }
        for t in ["{{<", "{{%", "{%", "%}", "{{ ", ">}}"] {
            assert!(!text.contains(t), "{name}: {path} holds `{t}`");
        }
    }
    // No file of the blog changed.
    let after = site.files("");
    for (path, bytes) in &before {
        assert_eq!(after.get(path), Some(bytes), "{name}: {path} changed");
    }
    // `check` passes on the blog as it is.
    site.run(&["check"]).success();
    site
}

#[test]
fn hugo_blog_as_it_is() {
    check("hugo");
}

#[test]
fn jekyll_blog_as_it_is() {
    check("jekyll");
}

#[test]
fn zola_blog_as_it_is() {
    check("zola");
}

#[test]
fn eleventy_blog_as_it_is() {
    check("eleventy");
}

/// The feed items of a built blog, by link: (title, summary, tags).
fn items(site: &Site, out: &str) -> BTreeMap<String, serde_json::Value> {
    let feed = site.read_json(&rel(out, "feed.json"));
    feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["url"].as_str().unwrap().to_string(), i.clone()))
        .collect()
}

#[test]
fn hugo_dates_summaries_tags_and_shortcodes() {
    let site = check("hugo");
    let items = items(&site, "static");
    let base = "https://hugo.example.org/blog/";
    // One-digit hour, and the text before <!--more--> as the summary.
    let ride = &items[&format!("{base}2021/10/first-ride-of-the-season/")];
    assert_eq!(ride["date_published"], "2021-10-01T08:30:00+00:00");
    assert_eq!(
        ride["summary"],
        "The roads were still gritty from winter, but the air smelled like cut grass and \
         two-stroke oil from somebody's mower."
    );
    assert!(!ride["content_html"].as_str().unwrap().contains("more"));
    // A bundle's relative image resolves against the post's real URL; images[0] is the hero.
    let trail = &items[&format!("{base}2021/11/trail-notes-three-days-on-gravel/")];
    assert_eq!(
        trail["image"],
        format!("{base}2021/11/trail-notes-three-days-on-gravel/map.png")
    );
    // Shortcodes: a figure is its image and caption, a highlight a code block, a ref the URL.
    let tour = items[&format!("{base}2022/04/everything-in-one-post-shortcodes/")]["content_html"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        tour.contains(r#"<img src="https://hugo.example.org/images/sunrise.png""#),
        "{tour}"
    );
    assert!(tour.contains("<em>Sunrise over the river</em>"), "{tour}");
    assert!(tour.contains(r#"<code class="language-go">"#), "{tour}");
    assert!(tour.contains(&format!(
        r#"href="{base}2021/12/cr%C3%A8me-br%C3%BBl%C3%A9e-notes-from-a-two-burner-kitchen/""#
    )));
    assert!(tour.contains("the back porch"), "param: {tour}");
    // Tag folders are Hugo's own term URLs.
    assert!(site.exists("static/tags/node.js/rss.xml"));
    assert!(site.exists("static/tags/café/rss.xml"));
    // Drafts, a future publishDate and a past expiryDate are in no feed; `check` names the
    // shortcode it could not render.
    let all = site.read("static/rss.xml");
    for gone in ["Scheduled for Much Later", "Spring Sale", "draft"] {
        assert!(!all.contains(gone), "{gone}");
    }
    let run = site.run(&["check"]).success();
    assert!(
        run.stderr
            .contains("content/posts/shortcodes-tour.md:24: unknown Hugo shortcode `aside`"),
        "{run}"
    );
}

#[test]
fn hugo_publish_date_makes_a_post_due_and_expiry_takes_it_out() {
    let (site, _) = blog("hugo");
    site.write(
        "content/posts/timed.md",
        "---\ntitle: Timed\ndate: 2026-01-01T00:00:00Z\npublishDate: 2027-01-01T00:00:00Z\n\
         expiryDate: 2027-02-01T00:00:00Z\n---\nSoon.\n",
    );
    let run = site.run(&["status", "--json"]).success();
    assert!(run.stdout.contains("2027-01-01T00:00:00+00:00"), "{run}");
    site.build();
    assert!(!site.read("static/rss.xml").contains("<title>Timed</title>"));
    let mut site = site;
    site.set_now("2027-01-15T00:00:00Z");
    site.build();
    assert!(site.read("static/rss.xml").contains("<title>Timed</title>"));
    site.set_now("2027-02-15T00:00:00Z");
    site.build();
    assert!(!site.read("static/rss.xml").contains("<title>Timed</title>"));
}

#[test]
fn jekyll_categories_time_zone_and_excerpts() {
    let site = check("jekyll");
    let items = items(&site, ".");
    let base = "https://jekyll.example.org/journal/";
    // 23:30 in New York is the next day in Berlin, the site's zone: the URL says 08/01.
    assert!(items.contains_key(&format!(
        "{base}travel/2016/08/01/night-train-to-the-coast.html"
    )));
    // A space-separated `tags` string is a list.
    let soup = &items[&format!("{base}misc/2013/05/06/sourdough-starter-day-one.html")];
    assert_eq!(
        soup["tags"],
        serde_json::json!(["bread", "baking", "fermentation"])
    );
    // A post's own excerpt_separator ends its summary and leaves no comment in the body.
    let tomatoes = &items[&format!("{base}garden/2020/balcony-tomatoes/")];
    assert_eq!(
        tomatoes["summary"],
        "Six pots, one south-facing railing, and far too much optimism."
    );
    assert!(!tomatoes["content_html"].as_str().unwrap().contains("cut"));
    // {% raw %} keeps its text; {% highlight %} is a code block; post_url is the URL.
    let moving = items[&format!("{base}tech/news/2014/02/10/moving-the-journal-to-jekyll.html")]
        ["content_html"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(moving.contains("<code>{{ page.title }}</code>"), "{moving}");
    assert!(
        moving.contains(r#"<code class="language-ruby">"#),
        "{moving}"
    );
    // Drafts, `published: false` and the future post are in no feed.
    let all = site.read("rss.xml");
    for gone in ["Never Published", "Letter to the Future", "Half-Finished"] {
        assert!(!all.to_lowercase().contains(&gone.to_lowercase()), "{gone}");
    }
}

#[test]
fn eleventy_collection_tags_are_left_out() {
    let site = check("eleventy");
    let yaml = site.read("herald.yaml");
    assert!(yaml.contains("exclude_tags"), "{yaml}");
    assert!(!site.exists("public/tags/post/rss.xml"));
    assert!(site.exists("public/tags/travel/rss.xml"));
    // permalink: false and draft: true publish nothing.
    let links = item_links(&site, "public");
    assert!(
        !links.iter().any(|l| l.contains("packing-list")),
        "{links:?}"
    );
}

#[test]
fn zola_taxonomies_dates_from_names_and_internal_links() {
    let site = check("zola");
    let items = items(&site, "static");
    let base = "https://zola.example.org/";
    let dated = &items[&format!("{base}blog/dated-name/")];
    assert_eq!(dated["date_published"], "2023-04-01T00:00:00+00:00");
    assert!(site.exists("static/tags/meteor-showers/rss.xml"));
    // The text before <!-- more --> is the summary.
    let first = &items[&format!("{base}blog/first-light/")];
    assert!(!first["content_html"].as_str().unwrap().contains("more --"));
}

#[test]
fn init_from_refuses_to_overwrite_and_names_what_it_looked_for() {
    let site = Site::fixture("hugo");
    let root = site.root().to_string_lossy().into_owned();
    site.run(&["init", "--from", &root]).success();
    let again = site.run(&["init", "--from", &root]).code(1);
    assert!(again.stderr.contains("herald.yaml"), "{again}");
    let empty = Site::empty();
    let dir = empty.root().to_string_lossy().into_owned();
    let run = empty.run(&["init", "--from", &dir]).code(1);
    assert!(run.stderr.contains("_config.yml"), "{run}");
    assert!(empty.files("").is_empty());
}

#[test]
fn check_warns_when_state_would_be_published() {
    let (site, _) = blog("hugo");
    let yaml = site
        .read("herald.yaml")
        .replace("state_dir: .herald", "state_dir: static/state");
    site.write("herald.yaml", yaml);
    let run = site.run(&["check"]).success();
    assert!(
        run.stderr
            .contains("`state_dir` (static/state) is inside what hugo publishes"),
        "{run}"
    );
}

#[test]
fn hostile_generator_posts_fail_with_file_and_line() {
    let (site, _) = blog("hugo");
    site.write(
        "content/posts/bad.md",
        b"+++\ntitle = \"x\"\ndate = 2024-01-01\n\xff\xfe\n+++\n".as_slice(),
    );
    let run = site.run(&["build"]).code(1);
    assert!(
        run.stderr
            .contains("content/posts/bad.md:4: not valid UTF-8"),
        "{run}"
    );
    site.write(
        "content/posts/bad.md",
        "+++\ntitle = \"x\"\ndate = [\n+++\nx\n",
    );
    let run = site.run(&["build"]).code(1);
    assert!(
        run.stderr
            .contains("content/posts/bad.md:3: invalid TOML front matter"),
        "{run}"
    );
    // A title with CR/LF, `..` in tags and <script> in the body.
    site.write(
        "content/posts/bad.md",
        "+++\ntitle = \"Two\\r\\nLines\"\ndate = 2024-01-01\ntags = [\"..\", \"../up\", \"ok\"]\n+++\n<script>alert(1)</script>\n",
    );
    site.build();
    let rss = site.read("static/rss.xml");
    assert!(rss.contains("<title>Two Lines</title>"), "{rss}");
    assert!(!rss.contains("<script"));
    let tags: Vec<String> = site
        .files("static/tags")
        .keys()
        .map(|k| k.split('/').nth(2).unwrap().to_string())
        .collect();
    assert!(
        tags.iter().all(|t| !t.starts_with('.') && !t.contains('/')),
        "{tags:?}"
    );
    assert!(tags.contains(&"ok".to_string()), "{tags:?}");
}

#[test]
fn astro_blog_through_content_fields() {
    let site = Site::empty().at(NOW);
    site.write(
        "herald.yaml",
        "site:\n  title: Astro Blog\n  base_url: https://astro.example.org/\n  permalink: /blog/{year}/{slug}/\n\
         content_dir: src/content/blog\ncontent:\n  fields: { date: pubDate, updated: updatedDate, image: heroImage, summary: description }\n\
         output_dir: public\nstate_dir: .herald\n",
    );
    site.write(
        "src/content/blog/first-post.md",
        "---\ntitle: 'First post'\ndescription: 'Lorem ipsum dolor sit amet'\npubDate: 'Jul 08 2022'\n\
         updatedDate: 'Jul 10 2022'\nheroImage: '/blog-placeholder-3.jpg'\n---\n\nHello.\n",
    );
    site.build();
    let feed = site.read_json("public/feed.json");
    let item = &feed["items"][0];
    assert_eq!(
        item["url"],
        "https://astro.example.org/blog/2022/first-post/"
    );
    assert_eq!(item["summary"], "Lorem ipsum dolor sit amet");
    assert_eq!(
        item["image"],
        "https://astro.example.org/blog-placeholder-3.jpg"
    );
    assert_eq!(item["date_published"], "2022-07-08T00:00:00+00:00");
    assert_eq!(item["date_modified"], "2022-07-10T00:00:00+00:00");
}

#[test]
fn a_post_without_any_date_is_left_out_except_in_eleventy() {
    let (site, _) = blog("eleventy");
    site.write(
        "content/blog/undated.md",
        "---\ntitle: Undated\n---\nWhen?\n",
    );
    let run = site.run(&["check"]).success();
    assert!(
        run.stderr.contains("content/blog/undated.md:1: no date in the front matter or the file name: dated by the file's modification time"),
        "{run}"
    );
    // The file was written just now: due once the clock passes it.
    let mut site = site;
    site.set_now("2099-01-01T00:00:00Z");
    site.build();
    assert!(
        site.read("public/rss.xml")
            .contains("<title>Undated</title>")
    );
    let (site, _) = blog("zola");
    site.write(
        "content/blog/undated.md",
        "+++\ntitle = \"Undated\"\n+++\nWhen?\n",
    );
    let run = site.run(&["check"]).success();
    assert!(
        run.stderr.contains(
            "content/blog/undated.md:1: no date in the front matter or the file name: left out"
        ),
        "{run}"
    );
    site.build();
    assert!(!site.read("static/rss.xml").contains("Undated"));
}

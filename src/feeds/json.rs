//! JSON Feed 1.1 with serde_json. Field order is fixed by the structs, so output is stable.

use serde::Serialize;

use super::Doc;
use crate::error::{Error, Result};

#[derive(Serialize)]
struct Feed<'a> {
    version: &'static str,
    title: &'a str,
    home_page_url: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    language: &'a str,
    authors: Vec<Author<'a>>,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    summary: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
}

pub fn render(doc: &Doc) -> Result<Vec<u8>> {
    let home = doc.home.as_str();
    let feed_url = doc.self_url.as_str();
    let items = doc
        .items
        .iter()
        .map(|i| {
            let p = i.post;
            Item {
                id: p.permalink.as_str(),
                url: p.permalink.as_str(),
                title: &p.title,
                content_html: i.html,
                // JSON Feed needs content_html or content_text; summary-only feeds use the text.
                content_text: i.html.is_none().then_some(i.summary),
                summary: i.summary,
                image: p.image.as_deref(),
                date_published: p.date.to_rfc3339(),
                date_modified: p.updated.to_rfc3339(),
                authors: vec![Author { name: &p.author }],
                tags: i.tags.iter().map(|(_, name)| *name).collect(),
            }
        })
        .collect();
    let feed = Feed {
        version: "https://jsonfeed.org/version/1.1",
        title: &doc.title,
        home_page_url: home,
        feed_url,
        description: &doc.description,
        language: doc.language,
        authors: vec![Author {
            name: &doc.author.name,
        }],
        items,
    };
    let mut out = serde_json::to_vec_pretty(&feed)
        .map_err(|e| Error::msg(format!("writing JSON Feed: {e}")))?;
    out.push(b'\n');
    Ok(out)
}

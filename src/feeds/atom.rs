//! Atom 1.0 with `atom_syndication`: `content type="html"`, categories with term = tag slug and
//! label = tag name, `rel=self`, and Media RSS `media:content` for the hero image.

use atom_syndication::extension::Extension;
use atom_syndication::{
    Category, Content, Entry, Feed, Generator, Link, Person, Text, WriteConfig,
};
use chrono::DateTime;

use super::{Doc, GENERATOR, VERSION};
use crate::config::FeedFormat;
use crate::error::{Error, Result};

const DECLARATION: &[u8] = b"<?xml version=\"1.0\" encoding=\"utf-8\"?>\n";

pub fn render(doc: &Doc) -> Result<Vec<u8>> {
    let namespaces = super::media_namespaces(doc);
    let feed = Feed {
        title: Text::plain(doc.title.clone()),
        id: doc.home.to_string(),
        // An empty feed has no post to date it; the epoch keeps the file deterministic.
        updated: doc
            .updated
            .unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset()),
        authors: vec![person(&doc.author.name, doc.author.email.as_deref())],
        links: vec![
            Link {
                href: doc.self_url.to_string(),
                rel: "self".into(),
                mime_type: Some(FeedFormat::Atom.media_type().into()),
                ..Default::default()
            },
            Link {
                href: doc.home.to_string(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Default::default()
            },
        ],
        generator: Some(Generator {
            value: GENERATOR.into(),
            uri: None,
            version: Some(VERSION.into()),
        }),
        subtitle: (!doc.description.is_empty()).then(|| Text::plain(doc.description.clone())),
        entries: doc.items.iter().map(entry).collect(),
        namespaces,
        lang: Some(doc.language.to_string()),
        ..Default::default()
    };
    let mut out = DECLARATION.to_vec();
    let config = WriteConfig {
        write_document_declaration: false,
        indent_size: None,
    };
    feed.write_with_config(&mut out, config)
        .map_err(|e| Error::msg(format!("writing Atom: {e}")))?;
    Ok(out)
}

fn person(name: &str, email: Option<&str>) -> Person {
    Person {
        name: name.to_string(),
        email: email.map(str::to_string),
        ..Default::default()
    }
}

fn entry(i: &super::Item) -> Entry {
    let p = i.post;
    let extensions = super::media_extensions(p.image.as_deref(), |name, attrs| Extension {
        name,
        attrs,
        ..Default::default()
    });
    Entry {
        title: Text::plain(p.title.clone()),
        id: p.permalink.to_string(),
        updated: p.updated,
        published: Some(p.date),
        authors: vec![person(&p.author, None)],
        links: vec![Link {
            href: p.permalink.to_string(),
            rel: "alternate".into(),
            mime_type: Some("text/html".into()),
            ..Default::default()
        }],
        categories: i
            .tags
            .iter()
            .map(|(slug, name)| Category {
                term: slug.to_string(),
                scheme: None,
                label: Some(name.to_string()),
            })
            .collect(),
        summary: (!i.summary.is_empty()).then(|| Text::plain(i.summary.to_string())),
        content: i.html.map(|h| Content {
            value: Some(h.to_string()),
            content_type: Some("html".into()),
            ..Default::default()
        }),
        extensions,
        ..Default::default()
    }
}

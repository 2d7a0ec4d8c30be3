//! RSS 2.0 with the `rss` crate: `content:encoded` for the HTML, `dc:creator` for the author
//! (RSS `author` must be an email address), `atom:link rel=self`, and Media RSS for the hero.

use rss::extension::Extension;
use rss::extension::atom::{AtomExtension, Link};
use rss::extension::dublincore::DublinCoreExtension;
use rss::{Category, Channel, Guid, Item};

use super::{Doc, GENERATOR, VERSION};
use crate::config::FeedFormat;
use crate::content::markdown::escape_attr;
use crate::error::{Error, Result};

pub fn render(doc: &Doc) -> Result<Vec<u8>> {
    let items = doc.items.iter().map(|i| item(doc, i)).collect::<Vec<_>>();
    let namespaces = super::media_namespaces(doc);
    let channel = Channel {
        title: doc.title.clone(),
        link: doc.home.to_string(),
        description: doc.description.clone(),
        language: Some(doc.language.to_string()),
        generator: Some(format!("{GENERATOR} {VERSION}")),
        last_build_date: doc.updated.map(|d| d.to_rfc2822()),
        atom_ext: Some(AtomExtension {
            links: vec![Link {
                href: doc.self_url.to_string(),
                rel: "self".into(),
                mime_type: Some(FeedFormat::Rss.media_type().into()),
                ..Default::default()
            }],
        }),
        items,
        namespaces,
        ..Default::default()
    };
    let xml = channel
        .write_to(Vec::new())
        .map_err(|e| Error::msg(format!("writing RSS: {e}")))?;
    Ok(explicit_permalink_guids(xml))
}

/// The `rss` crate leaves out `isPermaLink="true"` (the RSS default); herald writes it
/// explicitly, as some readers treat a bare guid as opaque. A literal `<guid>` can only be the
/// element itself: text is escaped and HTML in CDATA has no `guid` tag after sanitising.
fn explicit_permalink_guids(xml: Vec<u8>) -> Vec<u8> {
    match String::from_utf8(xml) {
        Ok(s) => s
            .replace("<guid>", "<guid isPermaLink=\"true\">")
            .into_bytes(),
        Err(e) => e.into_bytes(),
    }
}

fn item(doc: &Doc, i: &super::Item) -> Item {
    let p = i.post;
    let extensions = super::media_extensions(p.image.as_deref(), |name, attrs| Extension {
        name,
        attrs,
        ..Default::default()
    });
    Item {
        title: Some(p.title.clone()),
        link: Some(p.permalink.to_string()),
        // The summary is plain text, but RSS `description` is HTML: escape it, or a summary
        // holding `<script>` would reach readers as markup.
        description: Some(escape_attr(i.summary)),
        guid: Some(Guid {
            value: p.permalink.to_string(),
            permalink: true,
        }),
        pub_date: Some(p.date.to_rfc2822()),
        categories: i
            .tags
            .iter()
            .map(|(_, name)| Category {
                name: name.to_string(),
                domain: Some(doc.tags_base.to_string()),
            })
            .collect(),
        content: i.html.map(str::to_string),
        dublin_core_ext: Some(DublinCoreExtension {
            creators: vec![p.author.clone()],
            ..Default::default()
        }),
        extensions,
        ..Default::default()
    }
}

//! The newsletter: which post goes to whom (lists), the mail itself (templates, render), and
//! sending it exactly once through the journal (deliver).

pub mod deliver;
pub mod digests;
pub mod links;
pub mod lists;
pub mod render;
pub mod templates;
pub mod verp;

use std::path::Path;

use crate::config::{self, Config, List};
use crate::error::{Diagnostic, Error};

/// The bytes of `path`, the CSV of list number `index` (`list`). A file that cannot be read is
/// a problem at the line that names it: the list's `subscribers:`.
pub fn read_subscribers(
    config: &Config,
    index: usize,
    list: &List,
    path: &Path,
) -> Result<Vec<u8>, Diagnostic> {
    std::fs::read(path).map_err(|e| {
        Diagnostic::at(
            config.location(&["newsletter", "lists", &config::item(index), "subscribers"]),
            format!(
                "list \"{}\": cannot read {}: {e}",
                crate::error::cut(&list.id),
                config.display(path).display()
            ),
        )
    })
}

/// Problems `check` reports for the newsletter: templates that do not compile, list CSVs that
/// are missing, and every invalid CSV row (which `publish` would skip).
pub fn check(config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match templates::Templates::load(config) {
        Ok(_) => {}
        Err(Error::Invalid(d)) => out.extend(d),
        Err(e) => out.push(Diagnostic::bare(e.to_string())),
    }
    let Some(n) = &config.newsletter else {
        return out;
    };
    if let Err(Error::Invalid(d)) = crate::transport::check_outbox(config) {
        out.extend(d);
    }
    for (i, list) in n.lists.iter().enumerate() {
        let Some(path) = &list.subscribers else {
            continue;
        };
        match read_subscribers(config, i, list, path) {
            Ok(bytes) => {
                let shown = config.display(path);
                out.extend(lists::read_csv(&bytes, &shown, lists::Invalid::Skip).1);
            }
            Err(d) => out.push(d),
        }
    }
    out
}

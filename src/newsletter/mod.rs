//! The newsletter: which post goes to whom (lists), the mail itself (templates, render), and
//! sending it exactly once through the journal (deliver).

pub mod deliver;
pub mod lists;
pub mod render;
pub mod templates;

use crate::config::{self, Config};
use crate::error::{Diagnostic, Error};

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
        let shown = config.display(path);
        match std::fs::read(path) {
            Ok(bytes) => out.extend(lists::read_csv(&bytes, &shown, lists::Invalid::Skip).1),
            // At the line that names the file: the list's `subscribers:`.
            Err(e) => out.push(Diagnostic::at(
                config.location(&["newsletter", "lists", &config::item(i), "subscribers"]),
                format!("list \"{}\": cannot read {}: {e}", list.id, shown.display()),
            )),
        }
    }
    out
}

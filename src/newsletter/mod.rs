//! The newsletter: which post goes to whom (lists), the mail itself (templates, render), and
//! sending it exactly once through the journal (deliver).

pub mod deliver;
pub mod lists;
pub mod render;
pub mod templates;

use crate::config::Config;
use crate::error::{Diagnostic, Error, Location};

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
    for path in n.lists.iter().filter_map(|l| l.subscribers.as_ref()) {
        let shown = config.display(path);
        match std::fs::read(path) {
            Ok(bytes) => out.extend(lists::read_csv(&bytes, &shown, lists::Invalid::Skip).1),
            Err(e) => out.push(Diagnostic::at(
                Location::file(&shown),
                format!("cannot read: {e}"),
            )),
        }
    }
    out
}

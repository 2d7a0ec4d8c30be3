//! The newsletter: which post goes to whom (lists, plan), the mail itself (render), and sending
//! it exactly once through the journal (deliver).

pub mod deliver;
pub mod lists;
pub mod render;
pub mod templates;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::content::Content;
use crate::error::{Diagnostic, Error};

/// Problems `check` reports for the newsletter: templates, CSVs.
pub fn check(config: &Config, _content: &Content, _now: DateTime<Utc>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match templates::Templates::load(config) {
        Ok(_) => {}
        Err(Error::Invalid(d)) => out.extend(d),
        Err(e) => out.push(Diagnostic::bare(e.to_string())),
    }
    out
}

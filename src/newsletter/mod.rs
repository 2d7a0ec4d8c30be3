//! The newsletter: which post goes to whom (lists, plan), the mail itself (render), and sending
//! it exactly once through the journal (deliver).

pub mod templates;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::content::Content;
use crate::error::Diagnostic;

/// Problems `check` reports for the newsletter: templates, CSVs.
pub fn check(_config: &Config, _content: &Content, _now: DateTime<Utc>) -> Vec<Diagnostic> {
    Vec::new()
}

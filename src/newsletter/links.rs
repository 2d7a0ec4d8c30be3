//! The links in every mail: unsubscribe and preferences. Each names the subscriber by their
//! random key, signed, never by address.

use crate::config::Config;
use crate::state::tokens;

/// The unsubscribe URL of the subscriber with `key`, for the mail `lists` caused.
pub fn unsubscribe_url(config: &Config, secret: &[u8; 32], key: &str, lists: &[String]) -> String {
    let token = tokens::sign_unsubscribe(secret, key, lists);
    format!("{}unsubscribe?token={token}", config.serve.public_url)
}

/// The preferences page of the subscriber with `key`.
pub fn preferences_url(config: &Config, secret: &[u8; 32], key: &str) -> String {
    let token = tokens::sign_preferences(secret, key);
    format!("{}preferences?token={token}", config.serve.public_url)
}

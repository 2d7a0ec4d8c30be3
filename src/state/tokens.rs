//! Signed tokens: `base64url(payload).base64url(HMAC-SHA256(secret, payload))`.
//!
//! A token names a subscriber by their random key (`subscribers.key`), never by address: links
//! pass through proxies and link scanners that log them.
//!
//! - unsubscribe: (key, the list ids that caused the mail); never expires, so the link in an
//!   old mail still works. Mail sent before subscribers had keys carries the older form,
//!   (address, list ids), which is still accepted.
//! - preferences: (key); never expires.
//! - confirm: (nonce, expiry). The sign-up it confirms (address, name, lists) waits in the
//!   database under the nonce (`Db::sign_up`), so the link carries nothing about the person;
//!   the nonce also makes it single use. Links mailed before that carry the older form,
//!   (address, name, list ids, expiry, nonce), which is still accepted until it expires.
//!
//! Verification is constant time (`Mac::verify_slice`); a token for one subscriber or list set
//! cannot be turned into another without the secret.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Whom a link names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// A subscriber's random key.
    Key(String),
    /// An address: the form of links in mail sent before subscribers had keys.
    Email(String),
}

/// What an unsubscribe token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    pub who: Who,
    pub lists: Vec<String>,
}

/// What a confirmation token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmLink {
    /// The sign-up stored under `nonce`; the token is refused after `expires` (Unix seconds).
    Stored { nonce: String, expires: i64 },
    /// The older form, which carried the sign-up itself.
    Carried(Confirm),
}

impl ConfirmLink {
    /// Unix seconds after which the token is refused.
    pub fn expires(&self) -> i64 {
        match self {
            ConfirmLink::Stored { expires, .. } => *expires,
            ConfirmLink::Carried(c) => c.expires,
        }
    }
}

/// The older confirmation token's payload: the sign-up itself, readable by anyone who sees
/// the link. No longer made; accepted until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirm {
    pub email: String,
    pub name: String,
    pub lists: Vec<String>,
    /// Unix seconds after which the token is refused.
    pub expires: i64,
    /// Random, recorded when used: a token works once.
    pub nonce: String,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "t")]
enum Payload {
    /// The older unsubscribe form, by address.
    #[serde(rename = "u")]
    UnsubscribeAddress { email: String, lists: Vec<String> },
    #[serde(rename = "l")]
    Leave { k: String, l: Vec<String> },
    #[serde(rename = "p")]
    Preferences { k: String },
    /// The older confirmation form, which carried the sign-up.
    #[serde(rename = "c")]
    Confirm(Confirm),
    #[serde(rename = "s")]
    SignUp { n: String, e: i64 },
}

fn mac(secret: &[u8; 32]) -> HmacSha256 {
    // HMAC takes keys of any length.
    HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC accepts any key"))
}

fn sign(secret: &[u8; 32], payload: &Payload) -> String {
    let body = serde_json::to_vec(payload).unwrap_or_default();
    let mut m = mac(secret);
    m.update(&body);
    let tag = m.finalize().into_bytes();
    format!("{}.{}", B64.encode(&body), B64.encode(tag))
}

fn verify(secret: &[u8; 32], token: &str) -> Option<Payload> {
    let (body, tag) = token.trim().split_once('.')?;
    let body = B64.decode(body).ok()?;
    let tag = B64.decode(tag).ok()?;
    let mut m = mac(secret);
    m.update(&body);
    m.verify_slice(&tag).ok()?;
    serde_json::from_slice(&body).ok()
}

/// The unsubscribe token of the subscriber with `key`, for the mail `lists` caused.
pub fn sign_unsubscribe(secret: &[u8; 32], key: &str, lists: &[String]) -> String {
    sign(
        secret,
        &Payload::Leave {
            k: key.to_string(),
            l: lists.to_vec(),
        },
    )
}

/// `None` for a forged, altered or foreign token.
pub fn verify_unsubscribe(secret: &[u8; 32], token: &str) -> Option<Unsubscribe> {
    match verify(secret, token)? {
        Payload::Leave { k, l } => Some(Unsubscribe {
            who: Who::Key(k),
            lists: l,
        }),
        Payload::UnsubscribeAddress { email, lists } => Some(Unsubscribe {
            who: Who::Email(email),
            lists,
        }),
        Payload::Preferences { .. } | Payload::Confirm(_) | Payload::SignUp { .. } => None,
    }
}

/// The preferences token of the subscriber with `key`.
pub fn sign_preferences(secret: &[u8; 32], key: &str) -> String {
    sign(secret, &Payload::Preferences { k: key.to_string() })
}

/// The key a preferences token names; `None` for a forged, altered or foreign token.
pub fn verify_preferences(secret: &[u8; 32], token: &str) -> Option<String> {
    match verify(secret, token)? {
        Payload::Preferences { k } => Some(k),
        _ => None,
    }
}

/// The confirmation token of the sign-up stored under `nonce`, refused after `expires`.
pub fn sign_confirm(secret: &[u8; 32], nonce: &str, expires: i64) -> String {
    sign(
        secret,
        &Payload::SignUp {
            n: nonce.to_string(),
            e: expires,
        },
    )
}

/// `None` for a forged, altered or foreign token; expiry and single use are the caller's.
pub fn verify_confirm(secret: &[u8; 32], token: &str) -> Option<ConfirmLink> {
    match verify(secret, token)? {
        Payload::SignUp { n, e } => Some(ConfirmLink::Stored {
            nonce: n,
            expires: e,
        }),
        Payload::Confirm(c) => Some(ConfirmLink::Carried(c)),
        _ => None,
    }
}

/// A random nonce for confirmation tokens.
pub fn nonce() -> String {
    let mut b = [0u8; 16];
    // Without randomness a nonce from the clock still keeps tokens single use.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        b[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
    }
    B64.encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: [u8; 32] = [7; 32];

    #[test]
    fn unsubscribe_round_trip_names_the_key_and_never_the_address() {
        let t = sign_unsubscribe(&K, "3f9a", &["all".into(), "seo".into()]);
        let u = verify_unsubscribe(&K, &t).unwrap();
        assert_eq!(u.who, Who::Key("3f9a".into()));
        assert_eq!(u.lists, vec!["all", "seo"]);
        let p = sign_preferences(&K, "3f9a");
        assert_eq!(verify_preferences(&K, &p).as_deref(), Some("3f9a"));
    }

    #[test]
    fn the_older_form_by_address_is_still_accepted() {
        let t = sign(
            &K,
            &Payload::UnsubscribeAddress {
                email: "a@example.com".into(),
                lists: vec!["all".into()],
            },
        );
        // The bytes mail sent before keys carried.
        let body = B64.decode(t.split_once('.').unwrap().0).unwrap();
        assert_eq!(
            body,
            br#"{"t":"u","email":"a@example.com","lists":["all"]}"#
        );
        let u = verify_unsubscribe(&K, &t).unwrap();
        assert_eq!(u.who, Who::Email("a@example.com".into()));
        assert!(verify_preferences(&K, &t).is_none());
    }

    #[test]
    fn forged_and_altered_tokens_are_refused() {
        let t = sign_unsubscribe(&K, "k1", &["all".into()]);
        assert!(verify_unsubscribe(&[8; 32], &t).is_none(), "other secret");
        let (body, tag) = t.split_once('.').unwrap();
        // Swap the payload for another key, keep the tag.
        let other = sign_unsubscribe(&K, "k2", &["all".into()]);
        let other_body = other.split_once('.').unwrap().0;
        assert!(verify_unsubscribe(&K, &format!("{other_body}.{tag}")).is_none());
        let mut flipped = tag.to_string();
        flipped.replace_range(0..1, if tag.starts_with('A') { "B" } else { "A" });
        assert!(verify_unsubscribe(&K, &format!("{body}.{flipped}")).is_none());
        for junk in ["", ".", "abc", "a.b.c", "💥.💥"] {
            assert!(verify_unsubscribe(&K, junk).is_none(), "{junk}");
            assert!(verify_preferences(&K, junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn a_confirmation_link_carries_a_nonce_and_its_expiry_only() {
        let n = nonce();
        let t = sign_confirm(&K, &n, 1_750_000_000);
        let body = B64.decode(t.split_once('.').unwrap().0).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!(r#"{{"t":"s","n":"{n}","e":1750000000}}"#)
        );
        let link = verify_confirm(&K, &t).unwrap();
        assert_eq!(
            link,
            ConfirmLink::Stored {
                nonce: n,
                expires: 1_750_000_000
            }
        );
        assert_eq!(link.expires(), 1_750_000_000);
        assert!(verify_confirm(&[8; 32], &t).is_none(), "other secret");
    }

    #[test]
    fn the_older_confirmation_form_is_still_accepted() {
        // The bytes a confirmation mail carried before sign-ups were stored, signed by hand.
        let body = br#"{"t":"c","email":"a@example.com","name":"Ann","lists":["all"],"expires":9,"nonce":"n1"}"#;
        let mut m = mac(&K);
        m.update(body);
        let t = format!(
            "{}.{}",
            B64.encode(body),
            B64.encode(m.finalize().into_bytes())
        );
        let link = verify_confirm(&K, &t).unwrap();
        assert_eq!(
            link,
            ConfirmLink::Carried(Confirm {
                email: "a@example.com".into(),
                name: "Ann".into(),
                lists: vec!["all".into()],
                expires: 9,
                nonce: "n1".into(),
            })
        );
        assert_eq!(link.expires(), 9);
        assert!(verify_unsubscribe(&K, &t).is_none());
    }

    #[test]
    fn token_kinds_do_not_mix() {
        let t = sign_confirm(&K, "n", 1);
        assert!(verify_unsubscribe(&K, &t).is_none());
        assert!(verify_preferences(&K, &t).is_none());
        assert!(verify_confirm(&K, &t).is_some());
        let p = sign_preferences(&K, "k");
        assert!(verify_unsubscribe(&K, &p).is_none());
        assert!(verify_confirm(&K, &p).is_none());
        let u = sign_unsubscribe(&K, "k", &[]);
        assert!(verify_preferences(&K, &u).is_none());
    }
}

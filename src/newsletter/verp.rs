//! VERP: with `newsletter.return_path` set, each message's envelope sender names its delivery,
//! `bounces+TOKEN@domain`, so that mail returned to it says which subscriber and which
//! campaign it is about without carrying the address.
//!
//! TOKEN is 36 characters of lowercase base32 (RFC 4648's alphabet) over 22 bytes:
//!
//! | bytes | what |
//! |---|---|
//! | 10 | the first 10 bytes of the subscriber's random key (`subscribers.key`, 16 bytes in hex) |
//! | 4 | the first 4 bytes of the SHA-256 of the campaign key (a post's slug, a digest's key) |
//! | 8 | the first 8 bytes of HMAC-SHA256 of the 14 bytes above, keyed with the site secret |
//!
//! The MAC means a forged bounce cannot name anyone: without the secret, a token that verifies
//! takes 2^64 tries. Tokens are read case-insensitively (some relays fold local parts).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Characters of a token.
pub const TOKEN_LEN: usize = 36;

const KEY_BYTES: usize = 10;
const CAMPAIGN_BYTES: usize = 4;
const MAC_BYTES: usize = 8;
const BYTES: usize = KEY_BYTES + CAMPAIGN_BYTES + MAC_BYTES;
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// What a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Named {
    /// The first 20 hex digits of the subscriber's key.
    pub key_prefix: String,
    /// [`campaign_hash`] of the campaign key.
    pub campaign_hash: [u8; CAMPAIGN_BYTES],
}

/// The first bytes of the SHA-256 of a campaign key.
pub fn campaign_hash(campaign: &str) -> [u8; CAMPAIGN_BYTES] {
    let digest = Sha256::digest(campaign.as_bytes());
    let mut out = [0; CAMPAIGN_BYTES];
    out.copy_from_slice(&digest[..CAMPAIGN_BYTES]);
    out
}

fn mac(secret: &[u8; 32], data: &[u8]) -> [u8; MAC_BYTES] {
    let mut m = Hmac::<Sha256>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    m.update(b"herald-verp\0");
    m.update(data);
    let tag = m.finalize().into_bytes();
    let mut out = [0; MAC_BYTES];
    out.copy_from_slice(&tag[..MAC_BYTES]);
    out
}

/// The token of the delivery of `campaign` to the subscriber whose key is `key`; `None` when
/// `key` is not the 32 hex digits herald makes (the message then goes out without one).
pub fn token(secret: &[u8; 32], key: &str, campaign: &str) -> Option<String> {
    let key = hex_bytes(key.get(..2 * KEY_BYTES)?)?;
    let mut data = Vec::with_capacity(BYTES);
    data.extend_from_slice(&key);
    data.extend_from_slice(&campaign_hash(campaign));
    let tag = mac(secret, &data);
    data.extend_from_slice(&tag);
    Some(base32(&data))
}

/// What `token` names, if its MAC is this site's; `None` for anything else.
pub fn verify(secret: &[u8; 32], token: &str) -> Option<Named> {
    let bytes = unbase32(token)?;
    let (data, tag) = bytes.split_at(KEY_BYTES + CAMPAIGN_BYTES);
    let mut m = Hmac::<Sha256>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key"));
    m.update(b"herald-verp\0");
    m.update(data);
    m.verify_truncated_left(tag).ok()?;
    let mut campaign_hash = [0; CAMPAIGN_BYTES];
    campaign_hash.copy_from_slice(&data[KEY_BYTES..]);
    Some(Named {
        key_prefix: data[..KEY_BYTES]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        campaign_hash,
    })
}

/// Every token-shaped `+TOKEN@` in `text` (an address's tag), lowercased, first seen first,
/// each once. Whether one is genuine is for [`verify`] to say.
pub fn find_tokens(text: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut from = 0;
    while let Some(i) = memchr::memchr(b'+', &text[from..]).map(|i| from + i) {
        from = i + 1;
        let Some(candidate) = text.get(i + 1..i + 1 + TOKEN_LEN) else {
            break;
        };
        if text.get(i + 1 + TOKEN_LEN) != Some(&b'@') {
            continue;
        }
        if !candidate
            .iter()
            .all(|b| ALPHABET.contains(&b.to_ascii_lowercase()))
        {
            continue;
        }
        let token = String::from_utf8_lossy(candidate).to_ascii_lowercase();
        if !out.contains(&token) {
            out.push(token);
        }
        from = i + 1 + TOKEN_LEN;
    }
    out
}

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The [`BYTES`] bytes of a token, if it is one: [`TOKEN_LEN`] characters of the alphabet (any
/// case) whose unused last bits are zero.
fn unbase32(text: &str) -> Option<[u8; BYTES]> {
    if text.len() != TOKEN_LEN {
        return None;
    }
    let mut out = [0u8; BYTES];
    let (mut acc, mut bits, mut n) = (0u32, 0u32, 0usize);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c.to_ascii_lowercase())?;
        acc = (acc << 5) | v as u32;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            n += 1;
            acc &= (1 << bits) - 1;
        }
    }
    (n == BYTES && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];
    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_round_trips_and_fits_the_local_part() {
        let t = token(&SECRET, KEY, "my-post").unwrap();
        assert_eq!(t.len(), TOKEN_LEN);
        assert!(t.bytes().all(|b| ALPHABET.contains(&b)));
        let named = verify(&SECRET, &t).unwrap();
        assert_eq!(named.key_prefix, &KEY[..20]);
        assert_eq!(named.campaign_hash, campaign_hash("my-post"));
        // Relays that upper-case local parts change nothing.
        assert_eq!(verify(&SECRET, &t.to_ascii_uppercase()), Some(named));
        assert!(format!("bounces+{t}").len() <= 64 - 17);
    }

    #[test]
    fn a_forged_or_altered_token_is_refused() {
        let t = token(&SECRET, KEY, "my-post").unwrap();
        assert_eq!(verify(&[8; 32], &t), None, "another site's secret");
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'a' { b'b' } else { b'a' };
            let altered = String::from_utf8(b).unwrap();
            assert_eq!(verify(&SECRET, &altered), None, "{altered}");
        }
        assert_eq!(verify(&SECRET, ""), None);
        assert_eq!(verify(&SECRET, &"a".repeat(TOKEN_LEN)), None);
        assert_eq!(verify(&SECRET, &"é".repeat(TOKEN_LEN / 2)), None);
        assert_eq!(
            token(&SECRET, "not hex at all, not hex at all!!", "p"),
            None
        );
        assert_eq!(token(&SECRET, "short", "p"), None);
    }

    #[test]
    fn tokens_are_found_in_any_text() {
        let t = token(&SECRET, KEY, "my-post").unwrap();
        let text = format!(
            "To: <bounces+{t}@example.com>\r\nX: bounces+{}@example.com +{t}@x +short@x +{t}",
            t.to_ascii_uppercase()
        );
        assert_eq!(find_tokens(text.as_bytes()), vec![t]);
        assert!(find_tokens(b"").is_empty());
        assert!(find_tokens(&[b'+'; 100]).is_empty());
        assert!(find_tokens(&[0xff, b'+', 0xfe, b'@']).is_empty());
    }
}

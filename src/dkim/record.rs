//! The DNS TXT record that publishes a DKIM key (RFC 6376 §3.6), written for `herald dkim
//! keygen` and read back for `herald doctor`.

use base64::Engine;

use super::{Algorithm, Signer};

/// Where the record lives: `<selector>._domainkey.<domain>`.
pub fn name(selector: &str, domain: &str) -> String {
    format!("{selector}._domainkey.{}", domain.trim_end_matches('.'))
}

/// The record's text: `v=DKIM1; k=rsa; p=<base64 of the public key>`.
pub fn value(algorithm: Algorithm, public_key: &[u8]) -> String {
    format!(
        "v=DKIM1; k={}; p={}",
        algorithm.name(),
        base64::engine::general_purpose::STANDARD.encode(public_key)
    )
}

/// `text` as the quoted character-strings of a TXT record, each at most 255 bytes (RFC 1035
/// §3.3.14: a longer record is several strings, which receivers join without a space):
/// `"v=DKIM1; k=rsa; p=MIIB…" "…IDAQAB"`. The record is ASCII, so every cut is between
/// characters; it holds no `"` or `\` to escape.
pub fn quoted_strings(text: &str) -> String {
    text.as_bytes()
        .chunks(255)
        .map(|c| format!("\"{}\"", String::from_utf8_lossy(c)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The line to publish, as a zone file and most DNS providers' forms take it:
/// `<selector>._domainkey.<domain>  TXT  "…" "…"`.
pub fn zone_line(selector: &str, domain: &str, algorithm: Algorithm, public_key: &[u8]) -> String {
    format!(
        "{}  TXT  {}",
        name(selector, domain),
        quoted_strings(&value(algorithm, public_key))
    )
}

/// The `tag=value` pairs of a record (RFC 6376 §3.2): split at `;`, whitespace around tags
/// and values dropped, an empty last part allowed. A part without `=` is an error.
pub fn tags(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for part in text.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((tag, value)) = part.split_once('=') else {
            return Err(format!("\"{}\" is not tag=value", crate::error::cut(part)));
        };
        out.push((tag.trim().to_string(), value.trim().to_string()));
    }
    Ok(out)
}

/// What a published key record says about the configured key.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// It publishes the signer's public key.
    Matches {
        /// `t=y`: verifiers are asked to treat failures as if unsigned.
        testing: bool,
    },
    /// It does not; the sentence says why.
    Wrong(String),
}

/// Compares the published record `text` (its strings joined) with `signer`'s key.
pub fn verdict(text: &str, signer: &Signer) -> Verdict {
    let tags = match tags(text) {
        Ok(t) => t,
        Err(e) => return Verdict::Wrong(format!("the record does not parse: {e}")),
    };
    let get = |name: &str| {
        tags.iter()
            .find(|(t, _)| t == name)
            .map(|(_, v)| v.as_str())
    };
    if let Some(v) = get("v")
        && (v != "DKIM1" || tags[0].0 != "v")
    {
        return Verdict::Wrong(format!(
            "`v={}` where `v=DKIM1` must come first",
            crate::error::cut(v)
        ));
    }
    let k = get("k").unwrap_or("rsa");
    if !k.eq_ignore_ascii_case(signer.algorithm().name()) {
        return Verdict::Wrong(format!(
            "it is a `k={}` record and the configured key is {}",
            crate::error::cut(k),
            signer.algorithm().label()
        ));
    }
    if let Some(h) = get("h")
        && !h
            .split(':')
            .any(|a| a.trim().eq_ignore_ascii_case("sha256"))
    {
        return Verdict::Wrong(format!(
            "`h={}` does not allow sha256",
            crate::error::cut(h)
        ));
    }
    if let Some(s) = get("s")
        && !s.split(':').any(|s| matches!(s.trim(), "*" | "email"))
    {
        return Verdict::Wrong(format!("`s={}` does not cover email", crate::error::cut(s)));
    }
    let Some(p) = get("p") else {
        return Verdict::Wrong("the record has no `p=` (public key)".into());
    };
    let p: String = p.chars().filter(|c| !c.is_whitespace()).collect();
    if p.is_empty() {
        return Verdict::Wrong("`p=` is empty: the key is revoked".into());
    }
    let Ok(published) = base64::engine::general_purpose::STANDARD.decode(&p) else {
        return Verdict::Wrong("`p=` is not valid base64".into());
    };
    if !signer.publishes(&published) {
        return Verdict::Wrong("`p=` is another key than the configured one".into());
    }
    let testing = get("t").is_some_and(|t| t.split(':').any(|f| f.trim() == "y"));
    Verdict::Matches { testing }
}

#[cfg(test)]
mod tests {
    use super::super::Key;
    use super::*;

    #[test]
    fn long_records_are_cut_into_255_byte_strings() {
        let key = Key::generate(Algorithm::Rsa).unwrap();
        let value = value(Algorithm::Rsa, &key.public_key().unwrap());
        assert!(
            value.starts_with("v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA")
        );
        assert!(value.len() > 255);
        let quoted = quoted_strings(&value);
        let strings: Vec<&str> = quoted.split("\" \"").map(|s| s.trim_matches('"')).collect();
        assert_eq!(strings.len(), 2);
        assert_eq!(strings[0].len(), 255);
        assert_eq!(strings.concat(), value);
        let line = zone_line(
            "s1",
            "example.com.",
            Algorithm::Rsa,
            &key.public_key().unwrap(),
        );
        assert!(line.starts_with("s1._domainkey.example.com  TXT  \"v=DKIM1; k=rsa; p="));
    }

    #[test]
    fn short_records_are_one_string() {
        let key = Key::generate(Algorithm::Ed25519).unwrap();
        let line = zone_line(
            "s1",
            "example.com",
            Algorithm::Ed25519,
            &key.public_key().unwrap(),
        );
        assert_eq!(line.matches('"').count(), 2, "{line}");
        assert!(line.contains("\"v=DKIM1; k=ed25519; p="), "{line}");
        // 32 bytes of key: 44 characters of base64.
        assert_eq!(
            line.rsplit("p=")
                .next()
                .unwrap()
                .trim_end_matches('"')
                .len(),
            44
        );
    }

    #[test]
    fn published_records_are_compared_with_the_key() {
        let key = Key::generate(Algorithm::Ed25519).unwrap();
        let signer = Signer::new("example.com", "s1", &key).unwrap();
        let good = value(Algorithm::Ed25519, signer.public_key());
        assert_eq!(verdict(&good, &signer), Verdict::Matches { testing: false });
        assert_eq!(
            verdict(&format!("{good}; t=y"), &signer),
            Verdict::Matches { testing: true }
        );
        // Whitespace inside p= (as some DNS consoles show it) is no difference.
        let spaced = good.replacen("p=", "p= ", 1).replacen('A', "A ", 1);
        assert!(matches!(verdict(&spaced, &signer), Verdict::Matches { .. }));
        let other = Key::generate(Algorithm::Ed25519).unwrap();
        let wrong = value(Algorithm::Ed25519, &other.public_key().unwrap());
        let why = |t: &str| match verdict(t, &signer) {
            Verdict::Wrong(w) => w,
            v => panic!("{t}: {v:?}"),
        };
        assert!(why(&wrong).contains("another key"));
        assert!(why("v=DKIM1; k=ed25519; p=").contains("revoked"));
        assert!(why(&good.replace("k=ed25519", "k=rsa")).contains("`k=rsa`"));
        assert!(why("v=DKIM1; k=ed25519").contains("no `p=`"));
        assert!(why("k=ed25519; v=DKIM1; p=AAAA").contains("must come first"));
        assert!(why("v=DKIM1; k=ed25519; p=!!").contains("base64"));
        assert!(why("garbage").contains("does not parse"));
    }

    #[test]
    fn rsa_keys_may_be_published_in_either_form() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        let key = Key::generate(Algorithm::Rsa).unwrap();
        let signer = Signer::new("example.com", "s1", &key).unwrap();
        let spki = key.public_key().unwrap();
        assert!(signer.publishes(&spki));
        let rsa = match &key.secret {
            super::super::Secret::Rsa(k) => k.to_public_key(),
            super::super::Secret::Ed25519(_) => unreachable!(),
        };
        let pkcs1 = rsa.to_pkcs1_der().unwrap();
        assert!(signer.publishes(pkcs1.as_bytes()));
        assert!(!signer.publishes(&spki[..spki.len() - 1]));
    }
}

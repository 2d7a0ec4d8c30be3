//! DKIM for the tests: a site set up to sign ([`sign_with_new_key`], through the real
//! `herald dkim keygen`), the record keygen printed ([`Published`]), and [`verify`], a
//! verifier of RFC 6376 `relaxed/relaxed` signatures written from the RFC for these tests:
//! it shares no code with lettre's signer, so `cargo test` checks signatures on its own (CI
//! checks them again with Python's dkimpy, `.ci/dkim_check.py`).

use base64::Engine;
use sha2::{Digest, Sha256};

use super::Site;

/// The record `herald dkim keygen` printed: `<selector>._domainkey.<domain>  TXT  "…" "…"`.
#[derive(Debug, Clone)]
pub struct Published {
    pub selector: String,
    pub domain: String,
    /// Each quoted string, as printed.
    pub strings: Vec<String>,
}

impl Published {
    /// The record line of keygen's output; the test fails without one.
    pub fn from_keygen(stdout: &str) -> Published {
        let line = stdout
            .lines()
            .find(|l| l.contains("._domainkey.") && l.contains("  TXT  "))
            .unwrap_or_else(|| panic!("no record line in keygen's output:\n{stdout}"));
        let (name, rest) = line.split_once("  TXT  ").unwrap();
        let (selector, domain) = name.split_once("._domainkey.").unwrap();
        let strings = rest
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        Published {
            selector: selector.to_string(),
            domain: domain.to_string(),
            strings,
        }
    }

    /// The record's text, its strings joined as a resolver joins them.
    pub fn text(&self) -> String {
        self.strings.concat()
    }
}

/// Runs `herald dkim keygen --selector s1 --algorithm ALG` on `site` and adds the
/// `newsletter.dkim` lines it printed to the site's config (under `newsletter:`).
pub fn sign_with_new_key(site: &Site, algorithm: &str) -> Published {
    let run = site
        .run(&[
            "dkim",
            "keygen",
            "--selector",
            "s1",
            "--algorithm",
            algorithm,
        ])
        .success();
    let published = Published::from_keygen(&run.stdout);
    let config = site.read("config/herald.yaml");
    let lines = format!(
        "newsletter:\n  dkim:\n    domain: {}\n    selector: s1\n    private_key_file: state/dkim/s1.pem\n",
        published.domain
    );
    assert!(
        config.contains("\nnewsletter:\n"),
        "no `newsletter:` in the config"
    );
    site.write(
        "config/herald.yaml",
        config.replacen("\nnewsletter:\n", &format!("\n{lines}"), 1),
    );
    published
}

/// The header fields of `head`, each with its continuation lines, as (name, whole field).
fn fields(head: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push_str("\r\n");
                last.1.push_str(line);
            }
        } else if let Some((name, _)) = line.split_once(':') {
            out.push((name.trim().to_ascii_lowercase(), line.to_string()));
        }
    }
    out
}

/// RFC 6376 §3.4.2: name lower case, folding undone, runs of whitespace one space, none at
/// the value's ends.
fn relaxed_header(field: &str) -> String {
    let (name, value) = field.split_once(':').unwrap();
    let unfolded = value.replace("\r\n", "");
    let value = unfolded
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>();
    format!(
        "{}:{}\r\n",
        name.trim().to_ascii_lowercase(),
        value.join(" ")
    )
}

/// RFC 6376 §3.4.4: whitespace runs one space, none at line ends, no empty lines at the end.
fn relaxed_body(body: &str) -> String {
    let mut lines: Vec<String> = body
        .split("\r\n")
        .map(|l| {
            let mut s = String::with_capacity(l.len());
            let mut in_space = false;
            for c in l.trim_end_matches([' ', '\t']).chars() {
                if c == ' ' || c == '\t' {
                    if !in_space {
                        s.push(' ');
                    }
                    in_space = true;
                } else {
                    s.push(c);
                    in_space = false;
                }
            }
            s
        })
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    if lines.is_empty() {
        return String::new();
    }
    lines.join("\r\n") + "\r\n"
}

/// Verifies the one `DKIM-Signature` of `raw` against `record` (the published key record);
/// `Err` says what failed.
pub fn verify(raw: &[u8], record: &str) -> Result<(), String> {
    let text = std::str::from_utf8(raw).map_err(|_| "not UTF-8".to_string())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let fields = fields(head);
    let sigs: Vec<&(String, String)> = fields
        .iter()
        .filter(|(n, _)| n == "dkim-signature")
        .collect();
    let [(_, sig)] = sigs.as_slice() else {
        return Err(format!("{} DKIM-Signature headers", sigs.len()));
    };
    let sig_value = sig.split_once(':').unwrap().1.replace("\r\n", "");
    let tags: Vec<(String, String)> = sig_value
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.split_whitespace().collect::<String>(),
            )
        })
        .collect();
    let tag = |k: &str| {
        tags.iter()
            .find(|(t, _)| t == k)
            .map(|(_, v)| v.clone())
            .ok_or(format!("no {k}= tag"))
    };
    if tag("c")? != "relaxed/relaxed" {
        return Err(format!("c={}", tag("c")?));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let bh = b64.encode(Sha256::digest(relaxed_body(body).as_bytes()));
    if bh != tag("bh")? {
        return Err("body hash differs".into());
    }
    // The signed headers, each the last instance not used yet (§5.4.2).
    let mut used = vec![false; fields.len()];
    let mut data = String::new();
    for name in tag("h")?.split(':') {
        let name = name.trim().to_ascii_lowercase();
        if let Some(i) = (0..fields.len())
            .rev()
            .find(|&i| !used[i] && fields[i].0 == name)
        {
            used[i] = true;
            data.push_str(&relaxed_header(&fields[i].1));
        }
    }
    // The signature header itself, its b= value emptied, without the final CRLF.
    let own = relaxed_header(sig);
    let own = own.trim_end_matches("\r\n");
    let (name, value) = own.split_once(':').unwrap();
    let emptied: Vec<String> = value
        .split(';')
        .map(|t| match t.trim_start().strip_prefix("b=") {
            Some(_) => format!("{}b=", &t[..t.len() - t.trim_start().len()]),
            None => t.to_string(),
        })
        .collect();
    data.push_str(&format!("{name}:{}", emptied.join(";")));
    let hash = Sha256::digest(data.as_bytes());
    let signature = b64.decode(tag("b")?).map_err(|e| format!("b=: {e}"))?;
    let key: Vec<(String, String)> = record
        .split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let p = key
        .iter()
        .find(|(k, _)| k == "p")
        .map(|(_, v)| b64.decode(v))
        .ok_or("no p= in the record")?
        .map_err(|e| format!("p=: {e}"))?;
    match tag("a")?.as_str() {
        "rsa-sha256" => {
            use rsa::pkcs8::DecodePublicKey;
            let key = rsa::RsaPublicKey::from_public_key_der(&p).map_err(|e| e.to_string())?;
            key.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), &hash, &signature)
                .map_err(|e| format!("RSA signature: {e}"))
        }
        "ed25519-sha256" => {
            let key = ed25519_dalek::VerifyingKey::from_bytes(
                &p.try_into().map_err(|_| "p= is not 32 bytes")?,
            )
            .map_err(|e| e.to_string())?;
            let signature =
                ed25519_dalek::Signature::from_slice(&signature).map_err(|e| e.to_string())?;
            key.verify_strict(&hash, &signature)
                .map_err(|e| format!("Ed25519 signature: {e}"))
        }
        other => Err(format!("a={other}")),
    }
}

//! DKIM (RFC 6376): the key herald signs every message with, and what publishes it.
//!
//! - [`Key`]: an RSA (2048 bits or more) or Ed25519 private key, read from PEM (PKCS#1 or
//!   PKCS#8) or made new ([`Key::generate`]). Its secret part is never formatted, not even by
//!   `Debug`.
//! - [`load`]: `newsletter.dkim.private_key_file`, read once per run (`config` calls it), and
//!   refused when the file is missing, no key, too weak, or open to group or others.
//! - [`Signer`]: lettre's own DKIM signing, set up once with the key, herald's
//!   [`SIGNED_HEADERS`] and relaxed/relaxed canonicalization.
//! - [`record`]: the DNS TXT record that publishes a key, and the tags of one read back.
//! - [`write_new_key`]: a new key file, mode 0600 from the moment it exists, never over another.
//! - [`alignment_warning`]: whether the signing domain aligns with the From address.
//!
//! Uses nothing else in herald but `error`.

pub mod record;

use std::fmt;
use std::io::Write;
use std::path::Path;

use base64::Engine;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use lettre::Message;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm,
    DkimSigningKey,
};
use lettre::message::header::HeaderName;
use rsa::pkcs1::{DecodeRsaPrivateKey as _, EncodeRsaPrivateKey as _};
use rsa::pkcs8::{DecodePublicKey as _, EncodePublicKey as _, LineEnding};
use rsa::traits::PublicKeyParts as _;
use rsa::{RsaPrivateKey, RsaPublicKey};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The headers every signature covers, in this order. One that a message lacks (a
/// confirmation has no `List-Id`) is signed as absent, so it cannot be added on the way.
pub const SIGNED_HEADERS: [&str; 10] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "List-Id",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "MIME-Version",
    "Content-Type",
];

/// The smallest RSA key herald signs with (RFC 8301: verifiers may refuse anything smaller).
pub const MIN_RSA_BITS: usize = 2048;

/// The size of the RSA keys `herald dkim keygen` makes.
pub const NEW_RSA_BITS: usize = 2048;

/// A DKIM signing algorithm, as `k=` in the DNS record and `--algorithm` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Rsa,
    Ed25519,
}

impl Algorithm {
    /// `rsa` or `ed25519`: the record's `k=` tag.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rsa => "rsa",
            Algorithm::Ed25519 => "ed25519",
        }
    }

    /// `RSA` or `Ed25519`, for sentences.
    pub fn label(self) -> &'static str {
        match self {
            Algorithm::Rsa => "RSA",
            Algorithm::Ed25519 => "Ed25519",
        }
    }
}

enum Secret {
    Rsa(Box<RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// A private DKIM key. `Debug` shows its algorithm and size, never the key.
pub struct Key {
    secret: Secret,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("algorithm", &self.algorithm().name())
            .field("bits", &self.bits())
            .finish_non_exhaustive()
    }
}

/// The public half of a key, to compare with a published record.
#[derive(Clone, PartialEq, Eq)]
enum Public {
    Rsa(RsaPublicKey),
    Ed25519([u8; 32]),
}

impl Key {
    /// Reads a PEM private key: `RSA PRIVATE KEY` (PKCS#1) or `PRIVATE KEY` (PKCS#8, RSA or
    /// Ed25519). The error is a sentence that never quotes the file's contents.
    pub fn from_pem(text: &str) -> Result<Key, String> {
        let Some((label, block)) = pem_block(text) else {
            return Err(
                "no PEM private key in it (a block that starts `-----BEGIN PRIVATE KEY-----`)"
                    .into(),
            );
        };
        let secret = match label {
            "RSA PRIVATE KEY" => RsaPrivateKey::from_pkcs1_pem(block)
                .map(|k| Secret::Rsa(Box::new(k)))
                .map_err(|e| format!("not a valid RSA private key: {e}"))?,
            "PRIVATE KEY" => {
                if let Ok(k) = RsaPrivateKey::from_pkcs8_pem(block) {
                    Secret::Rsa(Box::new(k))
                } else if let Ok(k) = ed25519_dalek::SigningKey::from_pkcs8_pem(block) {
                    Secret::Ed25519(Box::new(k))
                } else {
                    return Err(
                        "not a valid RSA or Ed25519 private key (PKCS#8); DKIM keys are RSA or \
                         Ed25519"
                            .into(),
                    );
                }
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err(
                    "the key is encrypted with a passphrase; herald needs it unencrypted, kept \
                     safe by its mode (0600)"
                        .into(),
                );
            }
            "EC PRIVATE KEY" => {
                return Err("an EC key: DKIM keys are RSA or Ed25519".into());
            }
            "OPENSSH PRIVATE KEY" => {
                return Err(
                    "an OpenSSH key: herald reads PEM (PKCS#1 or PKCS#8); `herald dkim keygen` \
                     makes one"
                        .into(),
                );
            }
            "PUBLIC KEY" | "RSA PUBLIC KEY" => {
                return Err("a public key: `private_key_file` needs the private key".into());
            }
            other => {
                return Err(format!(
                    "a PEM block of type \"{}\", not a private key",
                    crate::error::cut(other)
                ));
            }
        };
        let key = Key { secret };
        // The signer must accept it too; checked here so that signing can never fail later.
        key.lettre_key()?;
        Ok(key)
    }

    /// A new random key: RSA of [`NEW_RSA_BITS`] or Ed25519, from the operating system's
    /// random source.
    pub fn generate(algorithm: Algorithm) -> Result<Key> {
        let mut rng = rand_core::OsRng;
        let secret = match algorithm {
            Algorithm::Rsa => Secret::Rsa(Box::new(
                RsaPrivateKey::new(&mut rng, NEW_RSA_BITS)
                    .map_err(|e| Error::msg(format!("making an RSA key: {e}")))?,
            )),
            Algorithm::Ed25519 => {
                let mut seed = Zeroizing::new([0u8; 32]);
                rand_core::RngCore::try_fill_bytes(&mut rng, seed.as_mut())
                    .map_err(|e| Error::msg(format!("making an Ed25519 key: {e}")))?;
                Secret::Ed25519(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
        };
        Ok(Key { secret })
    }

    /// The key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as OpenSSL writes it; wiped
    /// from memory when dropped.
    pub fn to_pem(&self) -> Result<Zeroizing<String>> {
        let pem = match &self.secret {
            Secret::Rsa(k) => {
                rsa::pkcs8::EncodePrivateKey::to_pkcs8_pem(k.as_ref(), LineEnding::LF)
            }
            // The plain form (PKCS#8 v1, no public key inside), which every reader takes.
            Secret::Ed25519(k) => ed25519_dalek::pkcs8::KeypairBytes {
                secret_key: k.to_bytes(),
                public_key: None,
            }
            .to_pkcs8_pem(LineEnding::LF),
        };
        pem.map_err(|e| Error::msg(format!("encoding the key: {e}")))
    }

    pub fn algorithm(&self) -> Algorithm {
        match self.secret {
            Secret::Rsa(_) => Algorithm::Rsa,
            Secret::Ed25519(_) => Algorithm::Ed25519,
        }
    }

    /// The key's size in bits: the RSA modulus, or 256 for Ed25519.
    pub fn bits(&self) -> usize {
        match &self.secret {
            Secret::Rsa(k) => k.n().bits(),
            Secret::Ed25519(_) => 256,
        }
    }

    fn public(&self) -> Public {
        match &self.secret {
            Secret::Rsa(k) => Public::Rsa(k.to_public_key()),
            Secret::Ed25519(k) => Public::Ed25519(k.verifying_key().to_bytes()),
        }
    }

    /// The public key as the record's `p=` carries it, before base64: an RSA key's
    /// SubjectPublicKeyInfo (DER), as `opendkim-genkey` publishes it; an Ed25519 key's 32
    /// bytes (RFC 8463).
    pub fn public_key(&self) -> Result<Vec<u8>> {
        match self.public() {
            Public::Rsa(k) => k
                .to_public_key_der()
                .map(|d| d.as_bytes().to_vec())
                .map_err(|e| Error::msg(format!("encoding the public key: {e}"))),
            Public::Ed25519(b) => Ok(b.to_vec()),
        }
    }

    /// The key in the form lettre reads: PKCS#1 PEM for RSA, base64 of the seed for Ed25519.
    fn lettre_key(&self) -> Result<DkimSigningKey, String> {
        let (text, algorithm) = match &self.secret {
            Secret::Rsa(k) => (
                k.to_pkcs1_pem(LineEnding::LF)
                    .map_err(|e| format!("encoding the key for signing: {e}"))?,
                DkimSigningAlgorithm::Rsa,
            ),
            Secret::Ed25519(k) => (
                Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(k.to_bytes())),
                DkimSigningAlgorithm::Ed25519,
            ),
        };
        DkimSigningKey::new(&text, algorithm).map_err(|e| format!("lettre refused the key: {e}"))
    }
}

/// The first PEM block of `text`: its label and the block from `-----BEGIN` to `-----END
/// …-----`, whatever surrounds it (OpenSSL may write "Bag Attributes" lines before it).
fn pem_block(text: &str) -> Option<(&str, &str)> {
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start + "-----BEGIN ".len()..];
    let label = &rest[..rest.find("-----")?];
    let end_marker = format!("-----END {label}-----");
    let end = text[start..].find(&end_marker)? + start + end_marker.len();
    Some((label, &text[start..end]))
}

/// Reads the key file `path` (shown as `shown` in messages). Every problem is a sentence for
/// a diagnostic at the config line: unreadable, readable or writable by group or others
/// (with the `chmod 600` that fixes it), not an RSA or Ed25519 private key, RSA under 2048
/// bits. The file's contents are wiped from memory once parsed.
pub fn load(path: &Path, shown: &Path) -> Result<Key, Vec<String>> {
    let shown = shown.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        let hint = match e.kind() {
            std::io::ErrorKind::NotFound => "; `herald dkim keygen` makes a key",
            _ => "",
        };
        vec![format!("cannot read the DKIM key {shown}: {e}{hint}")]
    })?;
    if !meta.is_file() {
        return Err(vec![format!("the DKIM key {shown} is not a file")]);
    }
    let mut problems = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            problems.push(format!(
                "the DKIM key {shown} is open to group or others (mode {mode:04o}): it must be \
                 readable by its owner only; run `chmod 600 {shown}`"
            ));
        }
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| {
        let mut p = problems.clone();
        p.push(format!("cannot read the DKIM key {shown}: {e}"));
        p
    })?);
    let key = match std::str::from_utf8(&bytes) {
        Ok(text) => Key::from_pem(text).map_err(|why| format!("{shown} is no DKIM key: {why}")),
        Err(_) => Err(format!(
            "{shown} is no DKIM key: not a PEM text file (DER or another binary form?)"
        )),
    };
    match key {
        Ok(key) if key.algorithm() == Algorithm::Rsa && key.bits() < MIN_RSA_BITS => {
            problems.push(format!(
                "the DKIM key {shown} is a {}-bit RSA key: DKIM needs at least {MIN_RSA_BITS} \
                 bits (RFC 8301), receivers ignore shorter ones; `herald dkim keygen` makes a \
                 new key",
                key.bits()
            ));
            Err(problems)
        }
        Ok(key) if problems.is_empty() => Ok(key),
        Ok(_) => Err(problems),
        Err(why) => {
            problems.push(why);
            Err(problems)
        }
    }
}

/// Signs messages for one domain and selector with one key, through lettre's DKIM signing:
/// `relaxed/relaxed`, the headers of [`SIGNED_HEADERS`], `rsa-sha256` or `ed25519-sha256`.
/// Made once per run; signing then costs one hash of the message and one signature.
pub struct Signer {
    config: DkimConfig,
    domain: String,
    selector: String,
    algorithm: Algorithm,
    public: Public,
    public_key: Vec<u8>,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("domain", &self.domain)
            .field("selector", &self.selector)
            .field("algorithm", &self.algorithm.name())
            .finish_non_exhaustive()
    }
}

impl Signer {
    pub fn new(domain: &str, selector: &str, key: &Key) -> Result<Signer> {
        let lettre_key = key.lettre_key().map_err(Error::msg)?;
        let headers = SIGNED_HEADERS
            .iter()
            .map(|h| HeaderName::new_from_ascii_str(h))
            .collect();
        let config = DkimConfig::new(
            selector.to_string(),
            domain.to_string(),
            lettre_key,
            headers,
            DkimCanonicalization {
                header: DkimCanonicalizationType::Relaxed,
                body: DkimCanonicalizationType::Relaxed,
            },
        );
        Ok(Signer {
            config,
            domain: domain.to_string(),
            selector: selector.to_string(),
            algorithm: key.algorithm(),
            public: key.public(),
            public_key: key.public_key()?,
        })
    }

    /// Adds the `DKIM-Signature` header to `message`. Its `t=` is the clock's time of signing.
    pub fn sign(&self, message: &mut Message) {
        message.sign(&self.config);
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    pub fn selector(&self) -> &str {
        &self.selector
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key, as [`Key::public_key`].
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// Whether `published` (the record's `p=`, decoded) is this signer's public key. An RSA
    /// key may be published as SubjectPublicKeyInfo or as a bare PKCS#1 `RSAPublicKey`;
    /// verifiers take both.
    pub fn publishes(&self, published: &[u8]) -> bool {
        match &self.public {
            Public::Rsa(mine) => {
                let theirs = RsaPublicKey::from_public_key_der(published)
                    .or_else(|_| rsa::pkcs1::DecodeRsaPublicKey::from_pkcs1_der(published));
                theirs.is_ok_and(|k| &k == mine)
            }
            Public::Ed25519(mine) => published == mine,
        }
    }
}

/// Writes `pem` to a new file at `path`, readable and writable by its owner only from the
/// moment it exists (created with mode 0600, folders made 0700). An existing file is never
/// replaced; a file left half written by a failure is removed.
pub fn write_new_key(path: &Path, pem: &[u8]) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        options.mode(0o600);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| Error::io(parent, e))?;
        }
    }
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::msg(format!(
            "{} already exists: herald never overwrites a key; choose another --selector or --out",
            path.display()
        )),
        _ => Error::io(path, e),
    })?;
    if let Err(e) = file.write_all(pem).and_then(|()| file.sync_all()) {
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// A domain name as DKIM's `d=` and the DNS take it: dot-separated labels of letters, digits
/// and inner hyphens, each 1-63 bytes, 253 at most in all (IDNs in their `xn--` form).
pub fn valid_domain(s: &str) -> bool {
    s.len() <= 253 && s.contains('.') && s.split('.').all(valid_label)
}

/// A selector (`s=`): one or more labels as in [`valid_domain`].
pub fn valid_selector(s: &str) -> bool {
    s.len() <= 63 && s.split('.').all(valid_label)
}

fn valid_label(l: &str) -> bool {
    (1..=63).contains(&l.len())
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

/// Whether two domains align in herald's simple form of DMARC's relaxed alignment: the same
/// domain, or one a subdomain of the other (`news.example.com` and `example.com`). Sibling
/// subdomains (`a.example.com`, `b.example.com`) share an organizational domain and may pass
/// DMARC too, but telling that needs the public suffix list, so herald does not claim it.
pub fn aligned(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim_end_matches('.').to_ascii_lowercase();
    let (a, b) = (norm(a), norm(b));
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

/// The warning `check` and `doctor` give when `dkim_domain` does not align with the domain of
/// `from_email` ([`aligned`]): DMARC then does not count the signature.
pub fn alignment_warning(dkim_domain: &str, from_email: &str) -> Option<String> {
    let from_domain = from_email.rsplit_once('@').map(|(_, d)| d)?;
    (!aligned(dkim_domain, from_domain)).then(|| {
        format!(
            "`newsletter.dkim.domain` {dkim_domain} does not align with the From domain \
             {from_domain}: DMARC counts a DKIM signature only when its domain is the From \
             domain or a parent or subdomain of it; sign as {from_domain} (or send from an \
             address at {dkim_domain})"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 1024-bit RSA key in PKCS#1 PEM, as `openssl genrsa -traditional 1024` writes it:
    /// too small to sign with.
    const RSA_1024_PKCS1: &str = include_str!("../../tests/fixtures/dkim/rsa1024.pem");

    #[test]
    fn new_keys_round_trip_through_pem_and_sign() {
        for alg in [Algorithm::Ed25519, Algorithm::Rsa] {
            let key = Key::generate(alg).unwrap();
            let pem = key.to_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{alg:?}");
            let back = Key::from_pem(&pem).unwrap();
            assert_eq!(back.algorithm(), alg);
            assert_eq!(back.public_key().unwrap(), key.public_key().unwrap());
            let signer = Signer::new("example.com", "s1", &back).unwrap();
            assert!(signer.publishes(&key.public_key().unwrap()));
            let mut msg = Message::builder()
                .from("A <a@example.com>".parse().unwrap())
                .to("b@example.org".parse().unwrap())
                .subject("Hi")
                .body("Hello\r\n".to_string())
                .unwrap();
            signer.sign(&mut msg);
            let raw = String::from_utf8(msg.formatted())
                .unwrap()
                .replace("\r\n ", " ");
            let sig = raw
                .split("\r\n")
                .find(|l| l.starts_with("DKIM-Signature:"))
                .unwrap();
            assert!(sig.contains(&format!("a={}-sha256", alg.name())), "{sig}");
            assert!(sig.contains("c=relaxed/relaxed"), "{sig}");
            assert!(sig.contains("d=example.com; s=s1;"), "{sig}");
            assert!(
                raw.contains("h=from:to:subject:date:message-id:list-id:list-unsubscribe:"),
                "{raw}"
            );
        }
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = Key::generate(Algorithm::Ed25519).unwrap();
        let signer = Signer::new("example.com", "s1", &key).unwrap();
        let secret = base64::engine::general_purpose::STANDARD.encode(match &key.secret {
            Secret::Ed25519(k) => k.to_bytes(),
            Secret::Rsa(_) => unreachable!(),
        });
        for shown in [format!("{key:?}"), format!("{signer:?}")] {
            assert!(!shown.contains(&secret), "{shown}");
            assert!(!shown.contains("secret"), "{shown}");
        }
        assert_eq!(
            format!("{key:?}"),
            "Key { algorithm: \"ed25519\", bits: 256, .. }"
        );
    }

    #[test]
    fn pkcs1_rsa_is_read_and_its_size_known() {
        let key = Key::from_pem(RSA_1024_PKCS1).unwrap();
        assert_eq!(key.algorithm(), Algorithm::Rsa);
        assert_eq!(key.bits(), 1024);
    }

    #[test]
    fn what_is_not_a_key_says_what_it_is() {
        let err = |s: &str| Key::from_pem(s).unwrap_err();
        assert!(err("hello").contains("no PEM private key"));
        assert!(
            err("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .contains("not a valid RSA or Ed25519 private key")
        );
        assert!(
            err("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")
                .contains("not a valid RSA private key")
        );
        assert!(
            err("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----")
                .contains("encrypted")
        );
        assert!(
            err("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----")
                .contains("a public key")
        );
        assert!(
            err("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----")
                .contains("EC key")
        );
    }

    #[cfg(unix)]
    fn write_mode(dir: &Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[cfg(unix)]
    #[test]
    fn load_refuses_open_weak_and_garbage_keys() {
        let dir = tempfile::tempdir().unwrap();
        let good = Key::generate(Algorithm::Ed25519).unwrap().to_pem().unwrap();
        let shown = Path::new("state/dkim/k.pem");

        let ok = write_mode(dir.path(), "ok.pem", &good, 0o600);
        assert_eq!(load(&ok, shown).unwrap().algorithm(), Algorithm::Ed25519);

        let open = write_mode(dir.path(), "open.pem", &good, 0o644);
        let p = load(&open, shown).unwrap_err();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("mode 0644"), "{p:?}");
        assert!(p[0].contains("chmod 600 state/dkim/k.pem"), "{p:?}");
        let group = write_mode(dir.path(), "group.pem", &good, 0o640);
        assert!(load(&group, shown).unwrap_err()[0].contains("mode 0640"));

        let small = write_mode(dir.path(), "small.pem", RSA_1024_PKCS1, 0o600);
        let p = load(&small, shown).unwrap_err();
        assert!(p[0].contains("1024-bit RSA key"), "{p:?}");
        assert!(p[0].contains("at least 2048 bits"), "{p:?}");

        let garbage = write_mode(dir.path(), "garbage.pem", "not a key\n", 0o600);
        let p = load(&garbage, shown).unwrap_err();
        assert!(p[0].contains("state/dkim/k.pem is no DKIM key"), "{p:?}");

        let missing = dir.path().join("missing.pem");
        let p = load(&missing, shown).unwrap_err();
        assert!(p[0].contains("cannot read the DKIM key"), "{p:?}");
        assert!(p[0].contains("herald dkim keygen"), "{p:?}");

        // Both problems of an open file that is no key.
        let both = write_mode(dir.path(), "both.pem", "junk", 0o666);
        assert_eq!(load(&both, shown).unwrap_err().len(), 2);
    }

    #[cfg(unix)]
    #[test]
    fn new_key_files_are_private_and_never_replace_a_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dkim/sub/k.pem");
        write_new_key(&path, b"one").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir.path().join("dkim/sub")), 0o700);
        let err = write_new_key(&path, b"two").unwrap_err().to_string();
        assert!(err.contains("already exists"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
    }

    #[test]
    fn alignment_is_same_or_parent_and_child() {
        assert!(aligned("example.com", "example.com"));
        assert!(aligned("Example.COM.", "example.com"));
        assert!(aligned("example.com", "news.example.com"));
        assert!(aligned("mail.news.example.com", "example.com"));
        assert!(!aligned("example.com", "example.org"));
        assert!(!aligned("ample.com", "example.com"));
        assert!(!aligned("a.example.com", "b.example.com"));
        assert!(alignment_warning("example.com", "n@news.example.com").is_none());
        let w = alignment_warning("mailer.net", "n@example.com").unwrap();
        assert!(w.contains("mailer.net does not align with the From domain example.com"));
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_domain("leadcraftr.com"));
        assert!(valid_domain("xn--bcher-kva.example"));
        assert!(!valid_domain("localhost"));
        assert!(!valid_domain("a..com"));
        assert!(!valid_domain("-a.com"));
        assert!(!valid_domain("a_b.com"));
        assert!(valid_selector("herald-202611"));
        assert!(valid_selector("s1.eu"));
        assert!(!valid_selector(""));
        assert!(!valid_selector("a b"));
    }
}

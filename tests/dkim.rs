//! DKIM (README "DKIM"): `herald dkim keygen`, the `newsletter.dkim` key's checks at its
//! config line, the alignment warning, and signatures on every message herald writes, checked
//! by the tests' own verifier (`support::dkim`).

use crate::support::Site;
use crate::support::dkim::{Published, sign_with_new_key, verify};

/// The newsletter fixture signs as its From domain.
const DOMAIN: &str = "notes.example.com";

fn mode(site: &Site, rel: &str) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(site.path(rel))
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .permissions()
        .mode()
        & 0o777
}

/// The line of `config/herald.yaml` that holds `needle`.
fn config_line(site: &Site, needle: &str) -> usize {
    site.read("config/herald.yaml")
        .lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no {needle} in the config"))
        + 1
}

#[test]
fn keygen_writes_a_private_key_and_prints_its_record_and_config() {
    for (algorithm, strings) in [("rsa", 2), ("ed25519", 1)] {
        let site = Site::fixture("newsletter");
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
        assert_eq!(mode(&site, "state/dkim/s1.pem"), 0o600, "{algorithm}");
        assert_eq!(mode(&site, "state/dkim"), 0o700, "{algorithm}");
        let pem = site.read("state/dkim/s1.pem");
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "{pem}");
        // The key itself is never printed.
        let body_line = pem.lines().nth(1).unwrap();
        assert!(!run.stdout.contains(body_line) && !run.stderr.contains(body_line));

        let published = Published::from_keygen(&run.stdout);
        assert_eq!(published.selector, "s1");
        assert_eq!(published.domain, DOMAIN);
        assert_eq!(published.strings.len(), strings, "{}", run.stdout);
        assert!(published.strings.iter().all(|s| s.len() <= 255));
        assert!(
            published
                .text()
                .starts_with(&format!("v=DKIM1; k={algorithm}; p=")),
            "{}",
            run.stdout
        );
        assert!(
            run.stdout.contains(&format!(
                "s1._domainkey.{DOMAIN}  TXT  \"v=DKIM1; k={algorithm}; p="
            )),
            "{}",
            run.stdout
        );
        for line in [
            "  dkim:",
            &format!("    domain: {DOMAIN}"),
            "    selector: s1",
            "    private_key_file: state/dkim/s1.pem",
        ] {
            assert!(
                run.stdout.contains(&format!("\n{line}\n")),
                "{}",
                run.stdout
            );
        }

        // Never over an existing key.
        let again = site
            .run(&[
                "dkim",
                "keygen",
                "--selector",
                "s1",
                "--algorithm",
                algorithm,
            ])
            .code(1);
        assert!(again.stderr.contains("already exists"), "{again}");
        assert_eq!(site.read("state/dkim/s1.pem"), pem);
    }
}

#[test]
fn keygen_writes_the_key_the_config_already_names() {
    let site = Site::fixture("newsletter");
    let config = site.read("config/herald.yaml").replacen(
        "newsletter:\n",
        "newsletter:\n  dkim:\n    domain: notes.example.com\n    selector: mail2026\n    private_key_file: keys/dkim.pem\n",
        1,
    );
    site.write("config/herald.yaml", config);
    // The key is missing: the config is refused, and says how to make one.
    let check = site.run(&["check"]).code(1);
    assert!(
        check.stderr.contains(&format!(
            "config/herald.yaml:{}: cannot read the DKIM key keys/dkim.pem",
            config_line(&site, "private_key_file")
        )),
        "{check}"
    );
    assert!(
        check.stderr.contains("`herald dkim keygen` makes a key"),
        "{check}"
    );
    let run = site
        .run(&["dkim", "keygen", "--algorithm", "ed25519"])
        .success();
    assert!(
        run.stdout
            .contains("mail2026._domainkey.notes.example.com  TXT"),
        "{run}"
    );
    assert_eq!(mode(&site, "keys/dkim.pem"), 0o600);
    site.run(&["check"]).success();

    // Another selector goes to the state folder by default, or where --out says.
    let run = site
        .run(&[
            "dkim",
            "keygen",
            "--selector",
            "mail2027",
            "--algorithm",
            "ed25519",
        ])
        .success();
    assert!(
        run.stdout
            .contains("private_key_file: state/dkim/mail2027.pem"),
        "{run}"
    );
    assert!(
        run.stdout.contains("Then change `newsletter.dkim`"),
        "{run}"
    );
    let out = site.path("elsewhere/k.pem");
    let run = site
        .run(&[
            "dkim",
            "keygen",
            "--selector",
            "x",
            "--algorithm",
            "ed25519",
            "--domain",
            "example.org",
            "--out",
            out.to_str().unwrap(),
        ])
        .success();
    assert!(
        run.stdout.contains("x._domainkey.example.org  TXT"),
        "{run}"
    );
    assert!(
        run.stdout.contains("private_key_file: elsewhere/k.pem"),
        "{run}"
    );
    assert_eq!(mode(&site, "elsewhere/k.pem"), 0o600);

    let bad = site.run(&["dkim", "keygen", "--selector", "a b"]).code(1);
    assert!(bad.stderr.contains("invalid selector \"a b\""), "{bad}");
}

#[test]
fn config_refuses_open_weak_and_garbage_keys_at_their_line() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::fixture("newsletter");
    sign_with_new_key(&site, "ed25519");
    let line = config_line(&site, "private_key_file");
    let at = format!("config/herald.yaml:{line}: ");
    site.run(&["check"]).success();

    let key = site.path("state/dkim/s1.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = site.run(&["check"]).code(1);
    assert!(
        run.stderr.contains(&format!(
            "{at}the DKIM key state/dkim/s1.pem is open to group or others (mode 0644)"
        )),
        "{run}"
    );
    assert!(
        run.stderr.contains("run `chmod 600 state/dkim/s1.pem`"),
        "{run}"
    );
    // Refused by every command that loads the config, before anything is sent.
    let publish = site.run(&["publish"]).code(1);
    assert!(publish.stderr.contains("mode 0644"), "{publish}");
    assert!(!site.exists("outbox"));

    std::fs::remove_file(&key).unwrap();
    site.copy_fixture_file("dkim/rsa1024.pem", "state/dkim/s1.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let run = site.run(&["check"]).code(1);
    assert!(
        run.stderr.contains(&format!(
            "{at}the DKIM key state/dkim/s1.pem is a 1024-bit RSA key: DKIM needs at least 2048 bits"
        )),
        "{run}"
    );

    site.write(
        "state/dkim/s1.pem",
        "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n",
    );
    let run = site.run(&["check"]).code(1);
    assert!(
        run.stderr.contains(&format!(
            "{at}state/dkim/s1.pem is no DKIM key: not a valid RSA or Ed25519 private key"
        )),
        "{run}"
    );
    site.write("state/dkim/s1.pem", "hello\n");
    let run = site.run(&["check"]).code(1);
    assert!(run.stderr.contains("no PEM private key in it"), "{run}");

    // Names are checked at their own lines.
    let config = site
        .read("config/herald.yaml")
        .replace("selector: s1", "selector: \"s 1\"")
        .replace(&format!("domain: {DOMAIN}"), "domain: localhost");
    site.write("config/herald.yaml", config);
    let run = site.run(&["check"]).code(1);
    assert!(
        run.stderr.contains(&format!(
            "config/herald.yaml:{}: invalid DKIM selector \"s 1\"",
            config_line(&site, "selector: \"s 1\"")
        )),
        "{run}"
    );
    assert!(
        run.stderr.contains("invalid DKIM domain \"localhost\""),
        "{run}"
    );
}

#[test]
fn check_warns_when_the_signing_domain_does_not_align_with_from() {
    let site = Site::fixture("newsletter");
    sign_with_new_key(&site, "ed25519");
    let run = site.run(&["check"]).success();
    assert!(!run.stderr.contains("align"), "{run}");

    // A parent of the From domain aligns.
    let config = site.read("config/herald.yaml");
    site.write(
        "config/herald.yaml",
        config.replace(&format!("domain: {DOMAIN}"), "domain: example.com"),
    );
    let run = site.run(&["check"]).success();
    assert!(!run.stderr.contains("align"), "{run}");

    site.write(
        "config/herald.yaml",
        config.replace(&format!("domain: {DOMAIN}"), "domain: mailer.example.net"),
    );
    let run = site.run(&["check"]).success();
    let line = config_line(&site, "domain: mailer.example.net");
    assert!(
        run.stderr.contains(&format!(
            "warning: config/herald.yaml:{line}: `newsletter.dkim.domain` mailer.example.net does \
             not align with the From domain notes.example.com"
        )),
        "{run}"
    );
}

#[test]
fn every_message_written_is_signed_and_verifies() {
    for algorithm in ["rsa", "ed25519"] {
        let site = Site::fixture("newsletter");
        let published = sign_with_new_key(&site, algorithm);
        let record = published.text();
        let config = site.read("config/herald.yaml").replace(
            "  lists:\n",
            "  lists:\n    - id: weekly\n      tags: [\"*\"]\n      digest: { every: week }\n",
        );
        site.write("config/herald.yaml", config);
        site.run(&["preview", "--digest", "weekly"]).success();
        let run = site.run(&["publish", "-v"]).success();
        site.run(&["preview", "trait-objects"]).success();
        assert!(
            site.exists("outbox/preview/digest:weekly.eml"),
            "{:?}",
            site.files("outbox").keys()
        );
        let files = site.files("outbox");
        assert!(files.len() > 3, "{files:?}");
        let pem = site.read("state/dkim/s1.pem");
        let secret_line = pem.lines().nth(1).unwrap();
        assert!(!run.stdout.contains(secret_line) && !run.stderr.contains(secret_line));
        for (name, raw) in files.iter().filter(|(n, _)| n.ends_with(".eml")) {
            verify(raw, &record).unwrap_or_else(|e| panic!("{algorithm} {name}: {e}"));
            let text = String::from_utf8_lossy(raw);
            assert!(text.contains(&format!("a={algorithm}-sha256")), "{name}");
            assert!(
                text.replace("\r\n ", " ").contains(
                    "h=from:to:subject:date:message-id:list-id:list-unsubscribe:\
                     list-unsubscribe-post:mime-version:content-type;"
                ),
                "{name}"
            );
            // One changed byte, in a signed header or in the body, and it fails.
            let subject = text.find("\r\nSubject: ").unwrap() + 11;
            let mut header = raw.clone();
            header[subject] ^= 0x20;
            assert!(
                verify(&header, &record).is_err(),
                "{name}: header change verifies"
            );
            let mut body = raw.clone();
            let last = body.len() - 10;
            body[last] = if body[last] == b'A' { b'B' } else { b'A' };
            assert!(
                verify(&body, &record).is_err(),
                "{name}: body change verifies"
            );
        }
        // Another key's record does not verify them.
        let other = Site::fixture("newsletter");
        let wrong = sign_with_new_key(&other, algorithm).text();
        let (_, raw) = files.iter().find(|(n, _)| n.ends_with(".eml")).unwrap();
        assert!(verify(raw, &wrong).is_err());
    }
}

#[test]
fn unsigned_mail_is_as_before() {
    let site = Site::fixture("newsletter");
    site.run(&["publish"]).success();
    for (name, raw) in site.files("outbox") {
        assert!(
            !String::from_utf8_lossy(&raw).contains("DKIM-Signature"),
            "{name}"
        );
    }
}

/// Every message becomes bytes through `Sender::formatted`, which signs it: no other code calls
/// lettre's `Message::formatted` (a new kind of mail that did would go out unsigned).
#[test]
fn only_the_sender_formats_messages() {
    fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let allowed = [src.join("newsletter/render.rs"), src.join("dkim/mod.rs")];
    let callers: Vec<String> = files
        .iter()
        .filter(|f| !allowed.contains(f))
        .filter(|f| std::fs::read_to_string(f).unwrap().contains(".formatted()"))
        .map(|f| f.display().to_string())
        .collect();
    assert!(callers.is_empty(), "use Sender::formatted in {callers:?}");
}

//! `herald doctor --dns` (README "DKIM") against a loopback DNS server (`support::dns`) that
//! serves a good zone, then the same zone with one record broken at a time: each broken record
//! is found, on its own line with its fix, with exit status 1; the good zone gives 0.

use std::net::Ipv4Addr;

use crate::support::Site;
use crate::support::dkim::{Published, sign_with_new_key};
use crate::support::dns::{DnsServer, Zone};
use crate::support::smtp::SmtpServer;

const DOMAIN: &str = "notes.example.com";

/// The newsletter fixture sending through a loopback relay (`security: none`, so no TLS to
/// probe), signing with a new Ed25519 key; and the zone that suits it.
fn setup() -> (Site, Zone, Published) {
    let site = Site::fixture("newsletter");
    site.use_smtp("smtp:\n  host: 127.0.0.1\n  port: 2525\n  security: none\n");
    let published = sign_with_new_key(&site, "ed25519");
    let zone = Zone::new()
        .mx(DOMAIN, 10, "mx.notes.example.com")
        .a("mx.notes.example.com", Ipv4Addr::new(192, 0, 2, 25))
        .txt(DOMAIN, "v=spf1 mx ip4:127.0.0.0/8 -all")
        .txt(DOMAIN, "google-site-verification=abc")
        .txt(&format!("s1._domainkey.{DOMAIN}"), &published.text())
        .txt(
            &format!("_dmarc.{DOMAIN}"),
            "v=DMARC1; p=quarantine; rua=mailto:d@notes.example.com",
        );
    (site, zone, published)
}

fn doctor(site: &Site, zone: Zone) -> (i32, String) {
    let dns = DnsServer::start(zone);
    let run = site.run(&["doctor", "--dns", &dns.addr().to_string()]);
    assert!(
        run.stderr.is_empty() || !run.stderr.contains("panicked"),
        "{run}"
    );
    assert!(
        !dns.queries().is_empty(),
        "herald asked the test server nothing\n{run}"
    );
    (run.code.unwrap_or(-1), run.stdout.clone())
}

/// The line about `topic` that has `level`; the test fails if there is none.
fn line<'a>(out: &'a str, level: &str, topic: &str) -> &'a str {
    out.lines()
        .find(|l| {
            let mut words = l.split_whitespace();
            words.next() == Some(level) && words.next() == Some(topic)
        })
        .unwrap_or_else(|| panic!("no `{level} {topic}` line in\n{out}"))
}

#[test]
fn a_good_zone_is_all_ok_and_exits_0() {
    let (site, zone, _) = setup();
    let (code, out) = doctor(&site, zone);
    assert_eq!(code, 0, "{out}");
    for topic in ["mx", "spf", "dkim", "dmarc", "tls", "url"] {
        line(&out, "ok", topic);
    }
    assert!(
        line(&out, "ok", "spf").contains("permits the relay 127.0.0.1"),
        "{out}"
    );
    assert!(
        line(&out, "ok", "dkim").contains("publishes the configured Ed25519 key"),
        "{out}"
    );
    assert!(out.ends_with("0 errors, 0 warnings\n"), "{out}");
}

#[test]
fn each_broken_record_is_an_error_with_its_fix() {
    let (site, zone, published) = setup();
    let other = Site::fixture("newsletter");
    let other_key = sign_with_new_key(&other, "ed25519").text();
    let dkim_name = format!("s1._domainkey.{DOMAIN}");
    let cases: Vec<(&str, Zone, &str, &str)> = vec![
        (
            "missing SPF",
            zone.clone()
                .replace_txt(DOMAIN, "google-site-verification=abc"),
            "spf",
            "has no SPF record",
        ),
        (
            "SPF without the relay",
            zone.clone()
                .replace_txt(DOMAIN, "v=spf1 mx ip4:192.0.2.0/24 -all"),
            "spf",
            "does not permit the relay 127.0.0.1 (127.0.0.1)",
        ),
        (
            "DKIM key mismatch",
            zone.clone().replace_txt(&dkim_name, &other_key),
            "dkim",
            "does not match the configured key",
        ),
        (
            "no DKIM record",
            zone.clone().without(&dkim_name, "txt"),
            "dkim",
            "no DKIM record at s1._domainkey.notes.example.com",
        ),
        (
            "no DMARC",
            zone.clone().without(&format!("_dmarc.{DOMAIN}"), "txt"),
            "dmarc",
            "no DMARC record at _dmarc.notes.example.com",
        ),
        (
            "no MX",
            zone.clone().without(DOMAIN, "mx"),
            "mx",
            "has no MX record",
        ),
    ];
    for (case, zone, topic, says) in cases {
        let (code, out) = doctor(&site, zone);
        assert_eq!(code, 1, "{case}: {out}");
        let l = line(&out, "error", topic);
        assert!(l.contains(says), "{case}: {l}");
        assert!(l.contains("; fix: "), "{case}: {l}");
        // Only the broken record is an error.
        let errors = out.lines().filter(|l| l.starts_with("error")).count();
        assert_eq!(errors, 1, "{case}: {out}");
    }
    // The fix for a DKIM record is the very record keygen printed.
    let (_, out) = doctor(&site, zone.without(&dkim_name, "txt"));
    assert!(
        line(&out, "error", "dkim").contains(&format!(
            "fix: publish s1._domainkey.{DOMAIN}  TXT  \"{}\"",
            published.strings[0]
        )),
        "{out}"
    );
}

#[test]
fn misalignment_and_test_mode_are_warnings_with_exit_0() {
    let (site, zone, published) = setup();
    let config = site.read("config/herald.yaml");
    site.write(
        "config/herald.yaml",
        config.replace(&format!("domain: {DOMAIN}"), "domain: mailer.example.net"),
    );
    let zone = zone.txt(
        "s1._domainkey.mailer.example.net",
        &format!("{}; t=y", published.text()),
    );
    let (code, out) = doctor(&site, zone);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("does not align with the From domain notes.example.com"),
        "{out}"
    );
    let warnings: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("warning dkim"))
        .collect();
    assert_eq!(warnings.len(), 2, "{out}");
    assert!(warnings[1].contains("in test mode (`t=y`)"), "{out}");
}

#[test]
fn a_relay_without_starttls_is_an_error() {
    let (site, zone, _) = setup();
    let relay = SmtpServer::start();
    let config = site
        .read("config/herald.yaml")
        .replace("port: 2525", &format!("port: {}", relay.port()))
        .replace("security: none", "security: starttls\n  timeout_secs: 5");
    site.write("config/herald.yaml", config);
    let (code, out) = doctor(&site, zone);
    assert_eq!(code, 1, "{out}");
    assert!(
        line(&out, "error", "tls").contains("STARTTLS failed"),
        "{out}"
    );
    assert!(relay.messages().is_empty());
}

#[test]
fn a_public_url_that_is_not_public_https_is_an_error() {
    let (site, zone, _) = setup();
    let config = site.read("config/herald.yaml").replace(
        "https://notes.example.com/herald/",
        "http://notes.example.com/herald/",
    );
    site.write("config/herald.yaml", config);
    let (code, out) = doctor(&site, zone);
    assert_eq!(code, 1, "{out}");
    assert!(line(&out, "error", "url").contains("is not https"), "{out}");
}

#[test]
fn without_a_newsletter_there_is_nothing_to_check() {
    let site = Site::fixture("basic");
    let run = site.run(&["doctor", "--dns", "127.0.0.1:9"]).code(1);
    assert!(run.stderr.contains("no `newsletter:` section"), "{run}");
    let usage = site.run(&["doctor", "--dns", "nowhere"]).code(2);
    assert!(usage.stderr.contains("127.0.0.1:5353"), "{usage}");
}

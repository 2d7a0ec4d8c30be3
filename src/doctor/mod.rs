//! `herald doctor`: what receivers check before they trust a sender, looked at from outside:
//! the From domain's MX, SPF (does it permit the relay?), the DKIM selector's record (is it
//! the configured key?), DMARC, the relay's TLS and certificate, and whether
//! `serve.public_url` is public HTTPS. Each [`Finding`] is ok, a warning or an error, and
//! says how to fix it. Nothing is written and no mail is sent.
//!
//! `dns.rs`: the look-ups, behind a trait ([`dns::Lookup`]) so the rules run on a table in
//! tests; `spf.rs`: SPF records evaluated one level deep; `relay.rs`: the TLS probe.

pub mod dns;
mod relay;
pub mod spf;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::config::{Config, Newsletter, Security, Transport};
use crate::dkim;
use crate::error::{Error, Result, cut};

/// How bad a finding is. `herald doctor` exits 1 when any finding is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Ok,
    Warning,
    Error,
}

impl Level {
    pub fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warning => "warning",
            Level::Error => "error",
        }
    }
}

/// One thing `doctor` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    /// `mx`, `spf`, `dkim`, `dmarc`, `tls` or `url`.
    pub topic: &'static str,
    pub message: String,
    /// What to do about it (errors and warnings).
    pub fix: Option<String>,
}

impl Finding {
    fn ok(topic: &'static str, message: impl Into<String>) -> Finding {
        Finding {
            level: Level::Ok,
            topic,
            message: message.into(),
            fix: None,
        }
    }

    fn warning(topic: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            level: Level::Warning,
            topic,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    fn error(topic: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Finding {
        Finding {
            level: Level::Error,
            topic,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }
}

/// How `doctor` looks things up.
#[derive(Debug, Clone)]
pub struct Options {
    /// One DNS server to ask instead of the system's (`--dns`).
    pub dns: Option<SocketAddr>,
    /// The longest wait for one DNS answer.
    pub dns_timeout: Duration,
}

/// The longest wait for one step of the relay's TLS probe.
const TLS_TIMEOUT: Duration = Duration::from_secs(15);

/// Every finding for the site of `config`, in a fixed order: MX, SPF, DKIM, DMARC, TLS, URL.
pub fn run(config: &Config, options: &Options) -> Result<Vec<Finding>> {
    let Some(n) = &config.newsletter else {
        return Err(Error::msg(format!(
            "{}: no `newsletter:` section, so there is no mail to check the set-up of",
            config.shown_file().display()
        )));
    };
    let resolver = dns::Resolver::new(options.dns, options.dns_timeout)?;
    let mut out = dns_findings(n, &resolver);
    out.push(tls(n));
    out.push(public_url(config));
    Ok(out)
}

/// The findings that come from DNS: MX, SPF, DKIM, DMARC of the From domain.
pub fn dns_findings(n: &Newsletter, dns: &dyn dns::Lookup) -> Vec<Finding> {
    let domain = n
        .from
        .email
        .rsplit_once('@')
        .map(|(_, d)| d.trim_end_matches('.').to_ascii_lowercase())
        .unwrap_or_default();
    let mut out = vec![mx(&domain, dns)];
    out.extend(spf(&domain, n, dns));
    out.extend(dkim_record(n, dns));
    out.push(dmarc(&domain, dns));
    out
}

fn lookup_failed(topic: &'static str, what: &str, e: &str) -> Finding {
    Finding::error(
        topic,
        format!("looking up {what} failed: {e}"),
        "check the network, or name a DNS server that answers with --dns ADDR:PORT",
    )
}

fn mx(domain: &str, dns: &dyn dns::Lookup) -> Finding {
    match dns.mx(domain) {
        Err(e) => lookup_failed("mx", &format!("the MX of {domain}"), &e),
        Ok(hosts) if hosts.is_empty() => Finding::error(
            "mx",
            format!(
                "{domain} has no MX record: replies and bounces to the From address have \
                 nowhere to go, and receivers distrust mail from a domain that takes none"
            ),
            format!("publish an MX record for {domain} naming the server that receives its mail"),
        ),
        Ok(hosts) if hosts.iter().all(|h| h.is_empty()) => Finding::error(
            "mx",
            format!("{domain} has a null MX (RFC 7505): it says it receives no mail at all"),
            format!("publish an MX record for {domain} naming the server that receives its mail"),
        ),
        Ok(hosts) => Finding::ok(
            "mx",
            format!("{domain} receives mail at {}", hosts.join(", ")),
        ),
    }
}

fn spf(domain: &str, n: &Newsletter, dns: &dyn dns::Lookup) -> Vec<Finding> {
    let txts = match dns.txt(domain) {
        Ok(t) => t,
        Err(e) => {
            return vec![lookup_failed(
                "spf",
                &format!("the TXT records of {domain}"),
                &e,
            )];
        }
    };
    let relay = match &n.transport {
        Transport::Smtp(s) => Some(s),
        Transport::Outbox => None,
    };
    let record = match spf::record(&txts) {
        Err(e) => {
            return vec![Finding::error(
                "spf",
                format!("{domain} has {e}"),
                "merge them into one `v=spf1 …` record",
            )];
        }
        Ok(None) => {
            let example = match relay {
                Some(s) => format!(
                    "\"v=spf1 include:<the SPF domain {} documents> -all\"",
                    cut(&s.host)
                ),
                None => "\"v=spf1 include:<your relay's SPF domain> -all\"".into(),
            };
            return vec![Finding::error(
                "spf",
                format!(
                    "{domain} has no SPF record: receivers cannot tell which hosts may send as it"
                ),
                format!("publish a TXT record at {domain}: {example}"),
            )];
        }
        Ok(Some(r)) => r,
    };
    let mut out = Vec::new();
    if spf::permits_anyone(record) {
        out.push(Finding::warning(
            "spf",
            format!(
                "the SPF record of {domain} ends in `+all`: it permits every host on the internet"
            ),
            "end it with `-all` (or `~all`)",
        ));
    }
    let Some(smtp) = relay else {
        out.push(Finding::ok(
            "spf",
            format!(
                "{domain} has an SPF record (\"{}\"); with `transport: outbox` there is no relay \
                 to check it against",
                cut(record)
            ),
        ));
        return out;
    };
    let host = &smtp.host;
    let ips = match dns.ips(host) {
        Err(e) => {
            out.push(lookup_failed(
                "spf",
                &format!("the addresses of the relay {host}"),
                &e,
            ));
            return out;
        }
        Ok(ips) if ips.is_empty() => {
            out.push(Finding::error(
                "spf",
                format!("the relay {host} has no address in DNS"),
                "check `smtp.host`",
            ));
            return out;
        }
        Ok(ips) => ips,
    };
    let shown = |ips: &[IpAddr]| {
        ips.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push(match spf::check(domain, record, &ips, dns) {
        spf::Verdict::Permits(term) => Finding::ok(
            "spf",
            format!(
                "the SPF record of {domain} permits the relay {host} ({}) through `{term}`",
                shown(&ips)
            ),
        ),
        spf::Verdict::Refuses { ips: refused, by } => {
            let terms: Vec<String> = refused
                .iter()
                .map(|ip| match ip {
                    IpAddr::V4(a) => format!("ip4:{a}"),
                    IpAddr::V6(a) => format!("ip6:{a}"),
                })
                .collect();
            Finding::error(
                "spf",
                format!(
                    "the SPF record of {domain} does not permit the relay {host} ({}): it ends \
                     in `{by}` for it, so receivers may reject or junk the mail",
                    shown(&refused)
                ),
                format!(
                    "add `include:` with the SPF domain your relay documents, or `{}`, before \
                     the record's `all`",
                    terms.join(" ")
                ),
            )
        }
        spf::Verdict::CannotTell(why) => Finding::warning(
            "spf",
            format!(
                "cannot tell whether the SPF record of {domain} permits the relay {host} ({}): \
                 {why}",
                shown(&ips)
            ),
            "compare the record with your relay's documentation (it names the `include:` to use)",
        ),
    });
    out
}

fn dkim_record(n: &Newsletter, dns: &dyn dns::Lookup) -> Vec<Finding> {
    let Some(d) = &n.dkim else {
        return vec![Finding::warning(
            "dkim",
            "herald signs no mail: `newsletter.dkim` is not set",
            "run `herald dkim keygen`, publish the record it prints and add the config lines it \
             prints (or make sure your relay signs as the From domain)",
        )];
    };
    let mut out = Vec::new();
    if let Some(w) = dkim::alignment_warning(&d.domain, &n.from.email) {
        out.push(Finding::warning(
            "dkim",
            w,
            "set `newsletter.dkim.domain` to the From domain (and publish its key there)",
        ));
    }
    let signer = &d.signer;
    let name = dkim::record::name(&d.selector, &d.domain);
    let publish = format!(
        "publish {}",
        dkim::record::zone_line(
            &d.selector,
            &d.domain,
            signer.algorithm(),
            signer.public_key()
        )
    );
    let records = match dns.txt(&name) {
        Ok(r) => r,
        Err(e) => {
            out.push(lookup_failed(
                "dkim",
                &format!("the DKIM record {name}"),
                &e,
            ));
            return out;
        }
    };
    out.push(match records.as_slice() {
        [] => Finding::error(
            "dkim",
            format!("no DKIM record at {name}: receivers cannot verify herald's signatures"),
            publish,
        ),
        [one] => match dkim::record::verdict(one, signer) {
            dkim::record::Verdict::Matches { testing: false } => Finding::ok(
                "dkim",
                format!(
                    "{name} publishes the configured {} key",
                    signer.algorithm().label()
                ),
            ),
            dkim::record::Verdict::Matches { testing: true } => Finding::warning(
                "dkim",
                format!(
                    "{name} publishes the configured key in test mode (`t=y`): receivers treat \
                     a failed signature as none"
                ),
                "remove `t=y` from the record once signed mail verifies",
            ),
            dkim::record::Verdict::Wrong(why) => Finding::error(
                "dkim",
                format!("{name} does not match the configured key: {why}"),
                publish,
            ),
        },
        many => Finding::error(
            "dkim",
            format!(
                "{name} has {} TXT records where verifiers read one",
                many.len()
            ),
            format!("keep one: {publish}"),
        ),
    });
    out
}

fn dmarc(domain: &str, dns: &dyn dns::Lookup) -> Finding {
    let lookup = |d: &str| -> std::result::Result<Vec<String>, String> {
        dns.txt(&format!("_dmarc.{d}")).map(|txts| {
            txts.into_iter()
                .filter(|t| {
                    let t = t.trim_start().to_ascii_lowercase();
                    t == "v=dmarc1" || t.starts_with("v=dmarc1;") || t.starts_with("v=dmarc1 ")
                })
                .collect()
        })
    };
    // Without a record of its own a subdomain falls under its organizational domain's
    // (RFC 7489 §6.6.3); herald takes that to be the last two labels.
    let labels: Vec<&str> = domain.split('.').collect();
    let parent = (labels.len() > 2).then(|| labels[labels.len() - 2..].join("."));
    let mut found = None;
    for d in std::iter::once(domain.to_string()).chain(parent) {
        match lookup(&d) {
            Err(e) => return lookup_failed("dmarc", &format!("_dmarc.{d}"), &e),
            Ok(records) if records.is_empty() => continue,
            Ok(records) => {
                found = Some((d, records));
                break;
            }
        }
    }
    let fix = format!(
        "publish a TXT record at _dmarc.{domain}: \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\" \
         (then p=quarantine once the reports look right)"
    );
    let Some((at, records)) = found else {
        return Finding::error(
            "dmarc",
            format!(
                "no DMARC record at _dmarc.{domain}: large mailbox providers require one of bulk \
                 senders"
            ),
            fix,
        );
    };
    let [record] = records.as_slice() else {
        return Finding::error(
            "dmarc",
            format!(
                "_dmarc.{at} has {} DMARC records where receivers read one",
                records.len()
            ),
            "keep one",
        );
    };
    let policy = dkim::record::tags(record)
        .ok()
        .and_then(|t| t.into_iter().find(|(k, _)| k.eq_ignore_ascii_case("p")))
        .map(|(_, v)| v.to_ascii_lowercase());
    let whose = if at == domain {
        String::new()
    } else {
        format!(" (that of {at}, which covers {domain})")
    };
    match policy.as_deref() {
        Some(p @ ("none" | "quarantine" | "reject")) => Finding::ok(
            "dmarc",
            format!(
                "_dmarc.{at} has a DMARC record{whose} with policy p={p}{}",
                if p == "none" {
                    " (monitoring only)"
                } else {
                    ""
                }
            ),
        ),
        _ => Finding::error(
            "dmarc",
            format!(
                "the DMARC record at _dmarc.{at} has no valid policy (`p=none`, `quarantine` or `reject`)"
            ),
            fix,
        ),
    }
}

fn tls(n: &Newsletter) -> Finding {
    let smtp = match &n.transport {
        Transport::Outbox => {
            return Finding::ok("tls", "`transport: outbox`: no relay to check");
        }
        Transport::Smtp(s) => s,
    };
    let at = format!("{}:{}", smtp.host, smtp.port);
    let how = match smtp.security {
        Security::None => {
            return Finding::ok(
                "tls",
                format!("{at} is a loopback relay with `security: none`: no TLS to check"),
            );
        }
        Security::StartTls => "STARTTLS",
        Security::Tls => "TLS",
    };
    match relay::probe(smtp, TLS_TIMEOUT) {
        Ok(()) => Finding::ok(
            "tls",
            format!(
                "{at}: {how} works and the certificate for {} verifies",
                smtp.host
            ),
        ),
        Err(why) => Finding::error(
            "tls",
            format!("{at}: {how} failed: {why}"),
            "check `smtp.host`, `smtp.port` and `smtp.security` against your relay's settings; \
             its certificate must be valid for `smtp.host`",
        ),
    }
}

fn public_url(config: &Config) -> Finding {
    let url = &config.serve.public_url;
    let fix = "set `serve.public_url` to the https URL where `herald serve` is reachable";
    if !config.serve.public_url_set {
        return Finding::error(
            "url",
            format!("`serve.public_url` is not set: the unsubscribe links in mail point at {url}"),
            fix,
        );
    }
    let host = url.host_str().unwrap_or_default();
    if url.scheme() != "https" {
        return Finding::error(
            "url",
            format!(
                "`serve.public_url` {url} is not https: one-click unsubscribe (RFC 8058) needs \
                 an https link"
            ),
            fix,
        );
    }
    if !is_public_host(host) {
        return Finding::error(
            "url",
            format!(
                "`serve.public_url` {url} is not public: {host} cannot be reached from outside"
            ),
            fix,
        );
    }
    Finding::ok("url", format!("`serve.public_url` {url} is public https"))
}

/// Whether subscribers can reach `host`: not loopback, a private or link-local address, a
/// name without a dot, or a name under a suffix meant for local networks.
fn is_public_host(host: &str) -> bool {
    let h = host
        .trim_matches(['[', ']'])
        .trim_end_matches('.')
        .to_ascii_lowercase();
    match h.parse::<IpAddr>() {
        Ok(IpAddr::V4(a)) => {
            !(a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_broadcast()
                || a.octets()[0] == 100 && (a.octets()[1] & 0xc0) == 64)
        }
        Ok(IpAddr::V6(a)) => {
            let first = a.segments()[0];
            !(a.is_loopback()
                || a.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
        Err(_) => {
            const LOCAL: [&str; 6] = [
                ".localhost",
                ".local",
                ".internal",
                ".lan",
                ".home.arpa",
                ".test",
            ];
            h.contains('.') && h != "localhost" && !LOCAL.iter().any(|s| h.ends_with(s))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::dns::Table;
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!(
            "site:\n  title: T\n  base_url: https://example.com/\n\
             newsletter:\n  start: 2025-01-01\n  from: {{ email: news@example.com }}\n  \
             lists: [{{ id: all, tags: [\"*\"] }}]\n{extra}"
        );
        Config::parse(
            Path::new("/site"),
            Path::new("/site/config/herald.yaml"),
            &text,
        )
        .unwrap()
    }

    fn good_zone() -> Table {
        Table::default()
            .mx("example.com", "mx.example.com")
            .txt("example.com", "v=spf1 mx -all")
            .txt("_dmarc.example.com", "v=DMARC1; p=quarantine")
    }

    fn levels(f: &[Finding]) -> Vec<(&'static str, Level)> {
        f.iter().map(|f| (f.topic, f.level)).collect()
    }

    #[test]
    fn a_good_zone_without_dkim_warns_only_of_dkim() {
        let c = config("");
        let f = dns_findings(c.newsletter.as_ref().unwrap(), &good_zone());
        assert_eq!(
            levels(&f),
            vec![
                ("mx", Level::Ok),
                ("spf", Level::Ok),
                ("dkim", Level::Warning),
                ("dmarc", Level::Ok)
            ],
            "{f:#?}"
        );
    }

    #[test]
    fn each_missing_record_is_an_error_with_its_fix() {
        let c = config("");
        let n = c.newsletter.as_ref().unwrap();
        let f = dns_findings(n, &Table::default());
        assert_eq!(
            levels(&f),
            vec![
                ("mx", Level::Error),
                ("spf", Level::Error),
                ("dkim", Level::Warning),
                ("dmarc", Level::Error)
            ]
        );
        assert!(f.iter().all(|f| f.fix.is_some()));
        assert!(
            f[3].fix
                .as_deref()
                .unwrap()
                .contains("_dmarc.example.com: \"v=DMARC1; p=none")
        );
    }

    #[test]
    fn dmarc_of_the_organizational_domain_covers_a_subdomain() {
        let t = Table::default().txt("_dmarc.example.com", "v=DMARC1; p=reject");
        let f = dmarc("news.example.com", &t);
        assert_eq!(f.level, Level::Ok, "{f:?}");
        assert!(f.message.contains("that of example.com"), "{f:?}");
        let t = Table::default().txt("_dmarc.example.com", "v=DMARC1; rua=mailto:x@example.com");
        assert_eq!(dmarc("example.com", &t).level, Level::Error);
    }

    #[test]
    fn failed_lookups_are_errors() {
        let c = config("");
        let mut t = good_zone();
        t.broken.push("example.com".into());
        let f = dns_findings(c.newsletter.as_ref().unwrap(), &t);
        assert_eq!(f[0].level, Level::Error);
        assert!(f[0].message.contains("failed: timed out"), "{f:?}");
    }

    #[test]
    fn public_urls() {
        for h in ["leadcraftr.com", "203.0.113.9", "[2001:db8::1]"] {
            assert!(is_public_host(h), "{h}");
        }
        for h in [
            "localhost",
            "127.0.0.1",
            "10.0.0.2",
            "192.168.1.1",
            "box",
            "a.local",
            "[::1]",
            "[fd00::1]",
            "100.64.0.1",
        ] {
            assert!(!is_public_host(h), "{h}");
        }
        let c = config("serve:\n  public_url: https://example.com/herald/\n");
        assert_eq!(public_url(&c).level, Level::Ok);
        let c = config("serve:\n  public_url: http://example.com/herald/\n");
        assert!(public_url(&c).message.contains("not https"));
        let c = config("");
        assert!(public_url(&c).message.contains("not set"));
    }
}

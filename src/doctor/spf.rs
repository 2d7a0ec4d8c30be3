//! SPF (RFC 7208) as far as `doctor` needs it: a domain's one record, and whether it permits
//! the relay's addresses. `ip4`, `ip6`, `a`, `mx`, `all`, `include` and `redirect` are
//! evaluated one level deep (an `include:` inside an included record is not followed);
//! `ptr`, `exists`, macros and deeper includes make the answer "cannot tell", never a guess.

use std::net::IpAddr;

use super::dns::Lookup;

/// The SPF record among a domain's TXT records: `Ok(None)` when there is none; more than one
/// is an error receivers treat as a permanent error (RFC 7208 §4.5).
pub fn record(txts: &[String]) -> Result<Option<&str>, String> {
    let spf: Vec<&str> = txts
        .iter()
        .map(|t| t.trim())
        .filter(|t| is_spf(t))
        .collect();
    match spf.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(format!(
            "{} SPF records where receivers take exactly one (a permanent error)",
            many.len()
        )),
    }
}

fn is_spf(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower == "v=spf1" || lower.starts_with("v=spf1 ")
}

/// `+all` (or a bare `all`): the record permits every host on the internet.
pub fn permits_anyone(record: &str) -> bool {
    record
        .split_whitespace()
        .any(|t| t.eq_ignore_ascii_case("all") || t.eq_ignore_ascii_case("+all"))
}

/// Whether a record permits the relay.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every address is permitted; the term that did it.
    Permits(String),
    /// These addresses are not permitted, and how the record ends for them (`-all`, `~all`,
    /// or no term matching).
    Refuses { ips: Vec<IpAddr>, by: String },
    /// The record cannot be read this far: why.
    CannotTell(String),
}

/// Whether the SPF `record` of `domain` permits every one of `ips`.
pub fn check(domain: &str, record: &str, ips: &[IpAddr], dns: &dyn Lookup) -> Verdict {
    let mut refused = Vec::new();
    let mut by = String::new();
    let mut unknown = None;
    let mut permitted = None;
    for ip in ips {
        match eval(domain, record, *ip, dns, 0) {
            Outcome::Pass(term) => permitted = Some(term),
            Outcome::Fail(term) => {
                refused.push(*ip);
                by = term;
            }
            Outcome::Unknown(why) => unknown = Some(why),
        }
    }
    if !refused.is_empty() {
        Verdict::Refuses { ips: refused, by }
    } else if let Some(why) = unknown {
        Verdict::CannotTell(why)
    } else {
        Verdict::Permits(permitted.unwrap_or_default())
    }
}

/// What a record says about one address.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// A `+` term matched.
    Pass(String),
    /// A `-`, `~` or `?` term matched, or none did: the address is not permitted.
    Fail(String),
    Unknown(String),
}

fn eval(domain: &str, record: &str, ip: IpAddr, dns: &dyn Lookup, depth: usize) -> Outcome {
    // Whether a term that could not be evaluated came before: it might have matched.
    let mut unsure: Option<(char, String)> = None;
    let mut redirect = None;
    for term in record.split_whitespace().skip(1) {
        let lower = term.to_ascii_lowercase();
        if let Some(target) = lower.strip_prefix("redirect=") {
            redirect = Some(target.to_string());
            continue;
        }
        if lower.starts_with("exp=") {
            continue;
        }
        let (qualifier, mech) = match lower.chars().next() {
            Some(q @ ('+' | '-' | '~' | '?')) => (q, &lower[1..]),
            _ => ('+', lower.as_str()),
        };
        let matched = if mech.contains('%') {
            Err(format!("`{term}` uses a macro"))
        } else {
            mechanism(domain, mech, ip, dns, depth)
        };
        match matched {
            Ok(false) => {}
            Ok(true) => {
                return match (&unsure, qualifier) {
                    (None, '+') => Outcome::Pass(term.to_string()),
                    (Some((q, why)), '+') if *q != '+' => Outcome::Unknown(why.clone()),
                    (Some(_), '+') => Outcome::Pass(term.to_string()),
                    (None, _) => Outcome::Fail(term.to_string()),
                    (Some((_, why)), _) => Outcome::Unknown(why.clone()),
                };
            }
            Err(why) => {
                if unsure.is_none() {
                    unsure = Some((qualifier, why));
                }
            }
        }
    }
    if let Some(target) = redirect {
        if depth > 0 {
            return Outcome::Unknown(format!("`redirect={target}` is more than one level deep"));
        }
        return match fetch(&target, dns) {
            Ok(r) => eval(&target, &r, ip, dns, depth + 1),
            Err(why) => Outcome::Unknown(why),
        };
    }
    match unsure {
        Some((_, why)) => Outcome::Unknown(why),
        None => Outcome::Fail("no term matching".into()),
    }
}

/// The SPF record of `domain`, or why there is none to read.
fn fetch(domain: &str, dns: &dyn Lookup) -> Result<String, String> {
    let txts = dns
        .txt(domain)
        .map_err(|e| format!("looking up the SPF record of {domain}: {e}"))?;
    match record(&txts) {
        Ok(Some(r)) => Ok(r.to_string()),
        Ok(None) => Err(format!("{domain} has no SPF record")),
        Err(e) => Err(format!("{domain}: {e}")),
    }
}

/// Whether one mechanism (qualifier removed, lower case) matches `ip`; `Err` when herald
/// cannot tell.
fn mechanism(
    domain: &str,
    mech: &str,
    ip: IpAddr,
    dns: &dyn Lookup,
    depth: usize,
) -> Result<bool, String> {
    let (name, arg) = match mech.find([':', '/']) {
        Some(i) => (&mech[..i], &mech[i..]),
        None => (mech, ""),
    };
    match name {
        "all" => Ok(true),
        "ip4" | "ip6" => {
            let spec = arg.strip_prefix(':').unwrap_or(arg);
            let (addr, len) = match spec.split_once('/') {
                Some((a, l)) => (a, Some(l)),
                None => (spec, None),
            };
            let net: IpAddr = addr
                .parse()
                .map_err(|_| format!("`{mech}` is not an address"))?;
            let len = match len {
                Some(l) => l
                    .parse::<u8>()
                    .map_err(|_| format!("`{mech}` has an invalid prefix length"))?,
                None if net.is_ipv4() => 32,
                None => 128,
            };
            Ok(in_net(ip, net, len))
        }
        "a" | "mx" => {
            let (target, v4, v6) = domain_spec(domain, arg)
                .ok_or_else(|| format!("`{mech}` has an invalid prefix length"))?;
            let hosts = if name == "a" {
                vec![target.clone()]
            } else {
                dns.mx(&target)
                    .map_err(|e| format!("looking up the MX of {target}: {e}"))?
            };
            for host in hosts.iter().take(10) {
                let ips = dns
                    .ips(host)
                    .map_err(|e| format!("looking up the addresses of {host}: {e}"))?;
                if ips.iter().any(|a| match a {
                    IpAddr::V4(_) => in_net(ip, *a, v4),
                    IpAddr::V6(_) => in_net(ip, *a, v6),
                }) {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        "include" => {
            let target = arg.strip_prefix(':').unwrap_or_default();
            if target.is_empty() {
                return Err(format!("`{mech}` names no domain"));
            }
            if depth > 0 {
                return Err(format!("`include:{target}` is more than one level deep"));
            }
            let r = fetch(target, dns)?;
            match eval(target, &r, ip, dns, depth + 1) {
                Outcome::Pass(_) => Ok(true),
                Outcome::Fail(_) => Ok(false),
                Outcome::Unknown(why) => Err(why),
            }
        }
        "ptr" | "exists" => Err(format!("`{mech}` needs a full SPF evaluation")),
        _ => Err(format!("`{mech}` is not an SPF mechanism herald knows")),
    }
}

/// `a` and `mx` arguments: `[:domain][/len4][//len6]`, with the defaults.
fn domain_spec(domain: &str, arg: &str) -> Option<(String, u8, u8)> {
    let (target, cidr) = match arg.strip_prefix(':') {
        Some(rest) => match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        },
        None => (domain, arg),
    };
    let (v4, v6) = match cidr.split_once("//") {
        Some((v4, v6)) => (v4, Some(v6)),
        None => (cidr, None),
    };
    let v4 = match v4.strip_prefix('/') {
        Some(l) => l.parse().ok().filter(|l| *l <= 32)?,
        None => 32,
    };
    let v6 = match v6 {
        Some(l) => l.parse().ok().filter(|l| *l <= 128)?,
        None => 128,
    };
    Some((target.to_string(), v4, v6))
}

/// Whether `ip` is in `net/len` (addresses of the other family never are).
fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) if len <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) if len <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::dns::Table;
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn verdict(table: &Table, record: &str, ips: &[&str]) -> Verdict {
        let ips: Vec<IpAddr> = ips.iter().map(|s| ip(s)).collect();
        check("example.com", record, &ips, table)
    }

    #[test]
    fn one_record_is_found() {
        let txts = vec![
            "google-site-verification=x".to_string(),
            "v=spf1 -all".into(),
        ];
        assert_eq!(record(&txts), Ok(Some("v=spf1 -all")));
        assert_eq!(record(&["v=spf10".to_string()]), Ok(None));
        assert!(record(&["v=spf1 a".to_string(), "V=SPF1 mx".into()]).is_err());
    }

    #[test]
    fn addresses_and_networks() {
        let t = Table::default();
        let r = "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 -all";
        assert!(
            matches!(verdict(&t, r, &["192.0.2.77"]), Verdict::Permits(term) if term == "ip4:192.0.2.0/24")
        );
        assert!(matches!(
            verdict(&t, r, &["2001:db8::5"]),
            Verdict::Permits(_)
        ));
        assert_eq!(
            verdict(&t, r, &["198.51.100.1", "192.0.2.1"]),
            Verdict::Refuses {
                ips: vec![ip("198.51.100.1")],
                by: "-all".into()
            }
        );
        assert!(matches!(
            verdict(&t, "v=spf1 ip4:192.0.2.1", &["192.0.2.1"]),
            Verdict::Permits(_)
        ));
        assert_eq!(
            verdict(&t, "v=spf1 ip4:192.0.2.1", &["192.0.2.2"]),
            Verdict::Refuses {
                ips: vec![ip("192.0.2.2")],
                by: "no term matching".into()
            }
        );
        assert!(
            matches!(verdict(&t, "v=spf1 ~all", &["192.0.2.2"]), Verdict::Refuses { by, .. } if by == "~all")
        );
        assert!(permits_anyone("v=spf1 +all"));
        assert!(!permits_anyone("v=spf1 -all"));
    }

    #[test]
    fn a_mx_include_and_redirect_one_level_deep() {
        let t = Table::default()
            .ip("example.com", "192.0.2.10")
            .mx("example.com", "mx.example.com")
            .ip("mx.example.com", "192.0.2.20")
            .ip("relay.example.net", "198.51.100.0")
            .txt("_spf.relay.example.net", "v=spf1 ip4:198.51.100.0/24 -all")
            .txt(
                "deep.example.net",
                "v=spf1 include:_spf.relay.example.net -all",
            )
            .txt("other.example.net", "v=spf1 a:relay.example.net/24 -all");
        assert!(matches!(
            verdict(&t, "v=spf1 a -all", &["192.0.2.10"]),
            Verdict::Permits(_)
        ));
        assert!(matches!(
            verdict(&t, "v=spf1 a/24 -all", &["192.0.2.99"]),
            Verdict::Permits(_)
        ));
        assert!(matches!(
            verdict(&t, "v=spf1 mx -all", &["192.0.2.20"]),
            Verdict::Permits(_)
        ));
        assert!(matches!(
            verdict(&t, "v=spf1 mx -all", &["192.0.2.10"]),
            Verdict::Refuses { .. }
        ));
        let inc = "v=spf1 include:_spf.relay.example.net -all";
        assert!(
            matches!(verdict(&t, inc, &["198.51.100.9"]), Verdict::Permits(term) if term == "include:_spf.relay.example.net")
        );
        assert!(matches!(
            verdict(&t, inc, &["192.0.2.9"]),
            Verdict::Refuses { .. }
        ));
        // The included record's own `a:` is read; its `include:` is not followed.
        assert!(matches!(
            verdict(
                &t,
                "v=spf1 include:other.example.net -all",
                &["198.51.100.7"]
            ),
            Verdict::Permits(_)
        ));
        assert!(matches!(
            verdict(&t, "v=spf1 include:deep.example.net -all", &["198.51.100.7"]),
            Verdict::CannotTell(why) if why.contains("more than one level deep")
        ));
        assert!(matches!(
            verdict(
                &t,
                "v=spf1 redirect=_spf.relay.example.net",
                &["198.51.100.7"]
            ),
            Verdict::Permits(_)
        ));
        assert!(matches!(
            verdict(&t, "v=spf1 include:nothing.example.net -all", &["198.51.100.7"]),
            Verdict::CannotTell(why) if why.contains("has no SPF record")
        ));
    }

    #[test]
    fn what_cannot_be_evaluated_is_said_so() {
        let mut t = Table::default();
        t.broken.push("example.com".into());
        assert!(matches!(
            verdict(&t, "v=spf1 exists:%{i}.x.example -all", &["192.0.2.1"]),
            Verdict::CannotTell(_)
        ));
        assert!(matches!(
            verdict(&t, "v=spf1 ptr -all", &["192.0.2.1"]),
            Verdict::CannotTell(_)
        ));
        assert!(
            matches!(verdict(&t, "v=spf1 a -all", &["192.0.2.1"]), Verdict::CannotTell(why) if why.contains("timed out"))
        );
        // A match after an unreadable `+` term still permits; a `-` term before it might not.
        assert!(matches!(
            verdict(&t, "v=spf1 ptr ip4:192.0.2.1 -all", &["192.0.2.1"]),
            Verdict::Permits(_)
        ));
        assert!(matches!(
            verdict(&t, "v=spf1 -ptr ip4:192.0.2.1 -all", &["192.0.2.1"]),
            Verdict::CannotTell(_)
        ));
    }

    #[test]
    fn networks() {
        assert!(in_net(ip("10.1.2.3"), ip("10.0.0.0"), 8));
        assert!(!in_net(ip("11.1.2.3"), ip("10.0.0.0"), 8));
        assert!(in_net(ip("1.2.3.4"), ip("0.0.0.0"), 0));
        assert!(!in_net(ip("::1"), ip("0.0.0.0"), 0));
        assert!(in_net(ip("2001:db8::1"), ip("2001:db8::"), 32));
        assert_eq!(
            domain_spec("d.com", "/24//64"),
            Some(("d.com".into(), 24, 64))
        );
        assert_eq!(
            domain_spec("d.com", ":x.com/16"),
            Some(("x.com".into(), 16, 128))
        );
        assert_eq!(domain_spec("d.com", "/33"), None);
    }
}

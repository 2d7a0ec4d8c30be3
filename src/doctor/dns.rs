//! The DNS look-ups `doctor` makes, behind [`Lookup`] so that its rules can be tested on a
//! table; [`Resolver`] answers them through hickory-resolver, from the system's resolvers
//! (`/etc/resolv.conf`) or from one server given as `--dns ADDR:PORT`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use crate::error::{Error, Result};

/// An answer: the records (none when the name or the type does not exist), or why the
/// look-up failed (a time-out, SERVFAIL, no server).
pub type Answer<T> = std::result::Result<Vec<T>, String>;

/// The record types `doctor` reads.
pub trait Lookup {
    /// Each TXT record's strings joined, as SPF, DKIM and DMARC read them.
    fn txt(&self, name: &str) -> Answer<String>;
    /// The MX host names, lowest preference first, without the final dot.
    fn mx(&self, name: &str) -> Answer<String>;
    /// The A and AAAA addresses.
    fn ips(&self, name: &str) -> Answer<IpAddr>;
}

/// hickory-resolver on a runtime of its own: each look-up blocks until it is answered or
/// times out.
pub struct Resolver {
    runtime: tokio::runtime::Runtime,
    resolver: TokioResolver,
}

impl Resolver {
    /// The system's resolvers, or only `server` (UDP, then TCP for long answers); each query
    /// waits at most `timeout`.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Result<Resolver> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::msg(format!("starting the DNS resolver: {e}")))?;
        let provider = TokioRuntimeProvider::default();
        let mut builder = match server {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                let mut b = TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![ns]),
                    provider,
                );
                // The server given is the whole truth: no /etc/hosts.
                b.options_mut().use_hosts_file = ResolveHosts::Never;
                b
            }
            None => TokioResolver::builder(provider).map_err(|e| {
                Error::msg(format!(
                    "reading the system's DNS settings: {e}; name a server with --dns ADDR:PORT"
                ))
            })?,
        };
        let opts = builder.options_mut();
        opts.timeout = timeout;
        opts.attempts = 2;
        opts.edns0 = true;
        let resolver = {
            let _guard = runtime.enter();
            builder
                .build()
                .map_err(|e| Error::msg(format!("starting the DNS resolver: {e}")))?
        };
        Ok(Resolver { runtime, resolver })
    }
}

/// A name as a fully qualified query, so no search domain is tried.
fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

fn failure(e: &NetError) -> Option<String> {
    (!e.is_no_records_found()).then(|| e.to_string())
}

impl Lookup for Resolver {
    fn txt(&self, name: &str) -> Answer<String> {
        match self.runtime.block_on(self.resolver.txt_lookup(fqdn(name))) {
            Ok(l) => Ok(l
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::TXT(t) => Some(
                        t.txt_data
                            .iter()
                            .map(|s| String::from_utf8_lossy(s))
                            .collect::<String>(),
                    ),
                    _ => None,
                })
                .collect()),
            Err(e) => failure(&e).map_or(Ok(Vec::new()), Err),
        }
    }

    fn mx(&self, name: &str) -> Answer<String> {
        match self.runtime.block_on(self.resolver.mx_lookup(fqdn(name))) {
            Ok(l) => {
                let mut mx: Vec<(u16, String)> = l
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::MX(m) => Some((
                            m.preference,
                            m.exchange.to_ascii().trim_end_matches('.').to_string(),
                        )),
                        _ => None,
                    })
                    .collect();
                mx.sort();
                Ok(mx.into_iter().map(|(_, h)| h).collect())
            }
            Err(e) => failure(&e).map_or(Ok(Vec::new()), Err),
        }
    }

    fn ips(&self, name: &str) -> Answer<IpAddr> {
        if let Ok(ip) = name.trim_matches(['[', ']']).parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        match self.runtime.block_on(self.resolver.lookup_ip(fqdn(name))) {
            Ok(l) => Ok(l.iter().collect()),
            Err(e) => failure(&e).map_or(Ok(Vec::new()), Err),
        }
    }
}

/// A fixed table of records, for tests of the rules.
#[cfg(test)]
#[derive(Default)]
pub struct Table {
    pub txt: std::collections::HashMap<String, Vec<String>>,
    pub mx: std::collections::HashMap<String, Vec<String>>,
    pub ips: std::collections::HashMap<String, Vec<IpAddr>>,
    /// Names whose look-ups fail.
    pub broken: Vec<String>,
}

#[cfg(test)]
impl Table {
    pub fn txt(mut self, name: &str, text: &str) -> Table {
        self.txt.entry(name.into()).or_default().push(text.into());
        self
    }

    pub fn mx(mut self, name: &str, host: &str) -> Table {
        self.mx.entry(name.into()).or_default().push(host.into());
        self
    }

    pub fn ip(mut self, name: &str, ip: &str) -> Table {
        let ip = ip.parse().expect("an IP in a test table");
        self.ips.entry(name.into()).or_default().push(ip);
        self
    }

    fn get<T: Clone>(
        &self,
        map: &std::collections::HashMap<String, Vec<T>>,
        name: &str,
    ) -> Answer<T> {
        if self.broken.iter().any(|b| b == name) {
            return Err("timed out".into());
        }
        Ok(map.get(name).cloned().unwrap_or_default())
    }
}

#[cfg(test)]
impl Lookup for Table {
    fn txt(&self, name: &str) -> Answer<String> {
        self.get(&self.txt, name)
    }

    fn mx(&self, name: &str) -> Answer<String> {
        self.get(&self.mx, name)
    }

    fn ips(&self, name: &str) -> Answer<IpAddr> {
        if let Ok(ip) = name.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        self.get(&self.ips, name)
    }
}

//! The sign-up rate limit: at most `serve.subscribe_per_hour` `POST /subscribe` per client in
//! any sliding hour (0 means no limit, like `smtp.rate_per_second: 0`).
//!
//! A client is an IPv4 address or an IPv6 /64 (one customer's network: a /64 gives a single
//! host billions of addresses). Behind a proxy (`trust_proxy: true`) the client is the last
//! address in `X-Forwarded-For`, the one the owner's proxy added; the ones before it are
//! whatever the client chose to send. Memory stays bounded: expired entries are dropped.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;

use axum::http::HeaderMap;

const HOUR: i64 = 3600;

/// Above this many tracked clients, clients with no attempt in the last hour are dropped.
const PRUNE_ABOVE: usize = 10_000;

pub struct RateLimiter {
    per_hour: u32,
    hits: Mutex<HashMap<IpAddr, VecDeque<i64>>>,
}

impl RateLimiter {
    pub fn new(per_hour: u32) -> RateLimiter {
        RateLimiter {
            per_hour,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt by `client` at `now` (Unix seconds). Over the limit, the attempt is
    /// not counted and the answer is how many seconds until the next one is allowed.
    pub fn attempt(&self, client: IpAddr, now: i64) -> Result<(), u64> {
        if self.per_hour == 0 {
            return Ok(());
        }
        let mut hits = self.hits.lock().unwrap_or_else(|p| p.into_inner());
        if hits.len() > PRUNE_ABOVE {
            hits.retain(|_, times| times.back().is_some_and(|&t| t > now - HOUR));
        }
        let times = hits.entry(key(client)).or_default();
        while times.front().is_some_and(|&t| t <= now - HOUR) {
            times.pop_front();
        }
        if times.len() >= self.per_hour as usize {
            let oldest = times.front().copied().unwrap_or(now);
            return Err((oldest + HOUR - now).max(1) as u64);
        }
        times.push_back(now);
        Ok(())
    }
}

/// The address a client is counted under.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// The client of a request: the peer, or with `trust_proxy` the last valid address in
/// `X-Forwarded-For` (falling back to the peer when there is none).
pub fn client_ip(peer: Option<SocketAddr>, headers: &HeaderMap, trust_proxy: bool) -> IpAddr {
    let peer_ip = peer
        .map(|p| p.ip())
        .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
    if !trust_proxy {
        return peer_ip;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .rev()
        .find_map(parse_forwarded)
        .unwrap_or(peer_ip)
}

/// One `X-Forwarded-For` entry: `1.2.3.4`, `2001:db8::1`, `[2001:db8::1]:443` or `1.2.3.4:80`.
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let e = entry.trim();
    if let Ok(ip) = e.parse() {
        return Some(ip);
    }
    e.parse::<SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn allows_the_limit_per_sliding_hour() {
        let r = RateLimiter::new(2);
        assert_eq!(r.attempt(ip("10.0.0.1"), 1000), Ok(()));
        assert_eq!(r.attempt(ip("10.0.0.1"), 1100), Ok(()));
        assert_eq!(r.attempt(ip("10.0.0.1"), 1200), Err(3400));
        assert_eq!(r.attempt(ip("10.0.0.2"), 1200), Ok(()), "another client");
        assert_eq!(
            r.attempt(ip("10.0.0.1"), 4600),
            Ok(()),
            "the first attempt is an hour old"
        );
        assert_eq!(r.attempt(ip("10.0.0.1"), 4601), Err(99));
    }

    #[test]
    fn zero_means_no_limit() {
        let r = RateLimiter::new(0);
        for t in 0..100 {
            assert_eq!(r.attempt(ip("10.0.0.1"), t), Ok(()));
        }
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        let r = RateLimiter::new(1);
        assert_eq!(r.attempt(ip("2001:db8:1:2::1"), 0), Ok(()));
        assert!(r.attempt(ip("2001:db8:1:2:ffff::9"), 1).is_err());
        assert_eq!(r.attempt(ip("2001:db8:1:3::1"), 1), Ok(()));
        assert_eq!(r.attempt(ip("::ffff:10.0.0.1"), 1), Ok(()));
        assert!(
            r.attempt(ip("10.0.0.1"), 2).is_err(),
            "v4-mapped is the same client"
        );
    }

    #[test]
    fn forwarded_for_is_used_only_when_trusted() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        assert_eq!(client_ip(Some(peer), &h, false), ip("127.0.0.1"));
        assert_eq!(
            client_ip(Some(peer), &h, true),
            ip("203.0.113.7"),
            "the proxy's entry, not the client's"
        );
        h.insert("x-forwarded-for", "[2001:db8::1]:443".parse().unwrap());
        assert_eq!(client_ip(Some(peer), &h, true), ip("2001:db8::1"));
        h.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_ip(Some(peer), &h, true), ip("127.0.0.1"));
        assert_eq!(client_ip(None, &HeaderMap::new(), true), ip("0.0.0.0"));
    }
}

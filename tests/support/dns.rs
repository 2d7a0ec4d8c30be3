//! [`DnsServer`]: a loopback DNS responder for `herald doctor --dns`, run inside the test: UDP
//! on `127.0.0.1:0`, answering TXT, MX and A queries from a [`Zone`] table. A name the
//! table does not hold is NXDOMAIN; a type it has no record of for a known name is an empty
//! answer. Every query is logged ([`DnsServer::queries`]).
//!
//! ```ignore
//! let dns = DnsServer::start(
//!     Zone::new()
//!         .mx("example.com", 10, "mx.example.com")
//!         .txt("example.com", "v=spf1 ip4:127.0.0.1 -all"),
//! );
//! site.run(&["doctor", "--dns", &dns.addr().to_string()]);
//! ```
//!
//! Answers carry the question and the records, no authority or additional section; they are
//! sent whole over UDP (the client offers EDNS buffers far larger than these answers).
//! Dropping the server stops its thread within a few milliseconds.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

const TYPE_A: u16 = 1;
const TYPE_MX: u16 = 15;
const TYPE_TXT: u16 = 16;

/// One record of the table.
#[derive(Debug, Clone)]
pub enum Record {
    /// The text, cut into 255-byte strings on the wire.
    Txt(String),
    Mx(u16, String),
    A(Ipv4Addr),
}

impl Record {
    fn rtype(&self) -> u16 {
        match self {
            Record::Txt(_) => TYPE_TXT,
            Record::Mx(..) => TYPE_MX,
            Record::A(_) => TYPE_A,
        }
    }

    fn rdata(&self) -> Vec<u8> {
        match self {
            Record::Txt(t) => {
                let mut out = Vec::new();
                for chunk in t.as_bytes().chunks(255) {
                    out.push(chunk.len() as u8);
                    out.extend_from_slice(chunk);
                }
                if t.is_empty() {
                    out.push(0);
                }
                out
            }
            Record::Mx(pref, host) => {
                let mut out = pref.to_be_bytes().to_vec();
                out.extend(encode_name(host));
                out
            }
            Record::A(a) => a.octets().to_vec(),
        }
    }
}

/// The records a [`DnsServer`] answers from, by owner name (case-insensitive, no final dot).
#[derive(Debug, Clone, Default)]
pub struct Zone {
    records: Vec<(String, Record)>,
}

impl Zone {
    pub fn new() -> Zone {
        Zone::default()
    }

    pub fn record(mut self, name: &str, record: Record) -> Zone {
        self.records.push((normal(name), record));
        self
    }

    pub fn txt(self, name: &str, text: &str) -> Zone {
        self.record(name, Record::Txt(text.to_string()))
    }

    pub fn mx(self, name: &str, preference: u16, host: &str) -> Zone {
        self.record(name, Record::Mx(preference, host.to_string()))
    }

    pub fn a(self, name: &str, ip: Ipv4Addr) -> Zone {
        self.record(name, Record::A(ip))
    }

    /// The zone without any record of `rtype` ("txt", "mx", "a") at `name`.
    pub fn without(mut self, name: &str, rtype: &str) -> Zone {
        let name = normal(name);
        let t = match rtype {
            "txt" => TYPE_TXT,
            "mx" => TYPE_MX,
            "a" => TYPE_A,
            other => panic!("unknown record type {other}"),
        };
        self.records
            .retain(|(n, r)| !(*n == name && r.rtype() == t));
        self
    }

    /// The zone with the TXT records at `name` replaced by `text`.
    pub fn replace_txt(self, name: &str, text: &str) -> Zone {
        self.without(name, "txt").txt(name, text)
    }
}

fn normal(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A running responder; stopped when dropped.
pub struct DnsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    queries: Arc<Mutex<Vec<(String, u16)>>>,
    thread: Option<JoinHandle<()>>,
}

impl DnsServer {
    pub fn start(zone: Zone) -> DnsServer {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 (UDP)");
        socket
            .set_read_timeout(Some(Duration::from_millis(20)))
            .expect("read timeout");
        let addr = socket.local_addr().expect("local address");
        let stop = Arc::new(AtomicBool::new(false));
        let queries = Arc::new(Mutex::new(Vec::new()));
        let (s, q) = (stop.clone(), queries.clone());
        let thread = std::thread::Builder::new()
            .name("dns".into())
            .spawn(move || serve(&socket, &zone, &s, &q))
            .expect("spawn the DNS thread");
        DnsServer {
            addr,
            stop,
            queries,
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`, for `--dns`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every (name, type) asked so far.
    pub fn queries(&self) -> Vec<(String, u16)> {
        self.queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(socket: &UdpSocket, zone: &Zone, stop: &AtomicBool, queries: &Mutex<Vec<(String, u16)>>) {
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        let Ok((len, from)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let Some((name, qtype, question_end)) = parse_query(&buf[..len]) else {
            continue;
        };
        queries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.clone(), qtype));
        let reply = answer(&buf[..len], question_end, &name, qtype, zone);
        let _ = socket.send_to(&reply, from);
    }
}

/// The queried name (lower case), type, and where the question ends.
fn parse_query(q: &[u8]) -> Option<(String, u16, usize)> {
    if q.len() < 12 || u16::from_be_bytes([q[4], q[5]]) != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    Some((labels.join("."), qtype, i + 4))
}

fn answer(q: &[u8], question_end: usize, name: &str, qtype: u16, zone: &Zone) -> Vec<u8> {
    let known = zone.records.iter().any(|(n, _)| n == name);
    let records: Vec<&Record> = zone
        .records
        .iter()
        .filter(|(n, r)| n == name && r.rtype() == qtype)
        .map(|(_, r)| r)
        .collect();
    let rd = q[2] & 0x01;
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&q[0..2]);
    // QR, AA, RD as asked; RA; NXDOMAIN for an unknown name.
    out.push(0x84 | rd);
    out.push(if known { 0x80 } else { 0x83 });
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(records.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&q[12..question_end]);
    for r in records {
        let rdata = r.rdata();
        // The owner name: a pointer to the question's name, at offset 12.
        out.extend_from_slice(&[0xc0, 0x0c]);
        out.extend_from_slice(&r.rtype().to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&60u32.to_be_bytes());
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    out
}

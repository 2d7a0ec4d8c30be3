//! SMTP through lettre: a pooled `SmtpTransport` shared by the worker threads (`concurrency`
//! sessions), certificates always verified, an optional rate limit over all sessions.
//!
//! The password is read from the environment variable named in the config and handed to
//! lettre; it is never stored elsewhere, formatted or logged.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope as LettreEnvelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Address, SmtpTransport, Transport as _};

use super::{Envelope, Failure, Transport};
use crate::config::{Security, Smtp as SmtpConfig};
use crate::error::{Error, Result};

pub struct Smtp {
    inner: SmtpTransport,
    /// The earliest instant the next message may start (rate limit), if limited.
    rate: Option<(Duration, Mutex<Instant>)>,
}

impl Smtp {
    pub fn new(c: &SmtpConfig) -> Result<Smtp> {
        let tls = || {
            TlsParameters::new(c.host.clone())
                .map_err(|e| Error::msg(format!("smtp: TLS set-up for {} failed: {e}", c.host)))
        };
        let mut b = SmtpTransport::builder_dangerous(c.host.as_str())
            .port(c.port)
            .timeout(Some(Duration::from_secs(c.timeout_secs)))
            .pool_config(PoolConfig::new().max_size(c.concurrency as u32));
        b = match c.security {
            Security::StartTls => b.tls(Tls::Required(tls()?)),
            Security::Tls => b.tls(Tls::Wrapper(tls()?)),
            // Config validation allows this only for loopback hosts.
            Security::None => b.tls(Tls::None),
        };
        if let Some(user) = &c.username {
            let password = std::env::var(&c.password_env).unwrap_or_default();
            if password.is_empty() {
                return Err(Error::msg(format!(
                    "smtp.username is set but the environment variable {} is empty or missing",
                    c.password_env
                )));
            }
            b = b.credentials(Credentials::new(user.clone(), password));
        }
        let rate = c
            .rate_per_second
            .map(|r| (Duration::from_secs_f64(1.0 / r), Mutex::new(Instant::now())));
        Ok(Smtp {
            inner: b.build(),
            rate,
        })
    }

    fn wait_for_slot(&self) {
        if let Some((gap, next)) = &self.rate {
            let wait = {
                let mut next = next.lock().unwrap_or_else(|p| p.into_inner());
                let now = Instant::now();
                let start = (*next).max(now);
                *next = start + *gap;
                start - now
            };
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
    }
}

impl Transport for Smtp {
    fn send(&self, _folder: &str, envelope: &Envelope, raw: &[u8]) -> Result<String, Failure> {
        let parse = |a: &str| {
            a.parse::<Address>().map_err(|e| Failure::Permanent {
                reply: format!("invalid address {a:?}: {e}"),
                bounce: false,
            })
        };
        let env = LettreEnvelope::new(Some(parse(&envelope.from)?), vec![parse(&envelope.to)?])
            .map_err(|e| Failure::Permanent {
                reply: e.to_string(),
                bounce: false,
            })?;
        self.wait_for_slot();
        match self.inner.send_raw(&env, raw) {
            Ok(resp) => Ok(format!(
                "{} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            )),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// RFC 5321: 4xx is transient, 5xx permanent; anything else (timeouts, dropped connections,
/// TLS trouble) is treated as transient, since the message may go through later.
///
/// A refused login (RFC 4954: 530, 534, 535, 538) is no verdict on any message: it would refuse
/// every one of them the same way, so the run stops and every delivery stays open for the run
/// after the owner fixed `smtp.username` or the password.
fn classify(e: &lettre::transport::smtp::Error) -> Failure {
    let reply = e.to_string();
    if e.is_permanent() {
        let code = e.status().map(|c| c.to_string()).unwrap_or_default();
        if matches!(code.as_str(), "530" | "534" | "535" | "538") {
            return Failure::Local(Error::msg(format!(
                "smtp: the server refused the login ({reply}); check smtp.username and the \
                 password variable"
            )));
        }
        let bounce = matches!(code.as_str(), "550" | "551" | "553");
        Failure::Permanent { reply, bounce }
    } else {
        Failure::Transient(reply)
    }
}

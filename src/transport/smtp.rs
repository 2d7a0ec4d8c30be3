//! SMTP through lettre's client: up to `concurrency` connections, each kept open and reused
//! by the worker threads (a small pool), certificates always verified, an optional rate limit
//! over all sessions.
//!
//! lettre's own pool sends a NOOP before every reuse: one more round trip per message. Here a
//! connection idle for less than [`FRESH`] is reused as it is; if it turns out to be dead (the
//! server hung up meanwhile), the message is retried once on a new connection, which is safe:
//! the dead connection never got as far as a reply to DATA.
//!
//! The password is read from the environment variable named in the config and handed to
//! lettre; it is never stored elsewhere, formatted or logged.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::Address;
use lettre::address::Envelope as LettreEnvelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::{Category, Code, Detail, Severity};

use super::{Envelope, Failure, Transport};
use crate::config::{Security, Smtp as SmtpConfig};
use crate::error::{Error, Result};

/// A parked connection younger than this is reused without a probe.
const FRESH: Duration = Duration::from_secs(30);

pub struct Smtp {
    host: String,
    port: u16,
    timeout: Duration,
    security: Security,
    tls: Option<TlsParameters>,
    hello: ClientId,
    credentials: Option<Credentials>,
    /// Connections not in use, with when they were parked.
    idle: Mutex<Vec<(SmtpConnection, Instant)>>,
    /// The earliest instant the next message may start (rate limit), if limited.
    rate: Option<(Duration, Mutex<Instant>)>,
}

impl Smtp {
    pub fn new(c: &SmtpConfig) -> Result<Smtp> {
        let tls = match c.security {
            Security::None => None,
            Security::StartTls | Security::Tls => {
                Some(TlsParameters::new(c.host.clone()).map_err(|e| {
                    Error::msg(format!("smtp: TLS set-up for {} failed: {e}", c.host))
                })?)
            }
        };
        let credentials = match &c.username {
            Some(user) => {
                let password = std::env::var(&c.password_env).unwrap_or_default();
                if password.is_empty() {
                    return Err(Error::msg(format!(
                        "smtp.username is set but the environment variable {} is empty or missing",
                        c.password_env
                    )));
                }
                Some(Credentials::new(user.clone(), password))
            }
            None => None,
        };
        let rate = c
            .rate_per_second
            .map(|r| (Duration::from_secs_f64(1.0 / r), Mutex::new(Instant::now())));
        Ok(Smtp {
            host: c.host.clone(),
            port: c.port,
            timeout: Duration::from_secs(c.timeout_secs),
            security: c.security,
            tls,
            hello: ClientId::default(),
            credentials,
            idle: Mutex::new(Vec::new()),
            rate,
        })
    }

    /// A new session: connect (TLS first with `security: tls`), STARTTLS, AUTH.
    fn connect(&self) -> Result<SmtpConnection, lettre::transport::smtp::Error> {
        let wrapper = match self.security {
            Security::Tls => self.tls.as_ref(),
            _ => None,
        };
        let mut conn = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            wrapper,
            None,
        )?;
        if let (Security::StartTls, Some(tls)) = (self.security, &self.tls) {
            conn.starttls(tls, &self.hello)?;
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, credentials)?;
        }
        Ok(conn)
    }

    fn take(&self) -> Option<SmtpConnection> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some((mut conn, parked)) = idle.pop() {
            if parked.elapsed() < FRESH {
                return Some(conn);
            }
            conn.abort();
        }
        None
    }

    fn park(&self, mut conn: SmtpConnection) {
        if conn.has_broken() {
            conn.abort();
        } else {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.push((conn, Instant::now()));
        }
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

    fn try_send(
        &self,
        env: &LettreEnvelope,
        raw: &[u8],
    ) -> Result<String, lettre::transport::smtp::Error> {
        let reused = self.take();
        let was_reused = reused.is_some();
        let mut conn = match reused {
            Some(c) => c,
            None => self.connect()?,
        };
        let result = match conn.send(env, raw) {
            // A reused connection that died while parked: once more, on a new one.
            Err(e)
                if was_reused && e.status().is_none() && !e.is_timeout() && conn.has_broken() =>
            {
                conn = self.connect()?;
                conn.send(env, raw)
            }
            other => other,
        };
        self.park(conn);
        result.map(|resp| {
            format!(
                "{} {}",
                resp.code(),
                resp.message().collect::<Vec<_>>().join(" ")
            )
        })
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let idle = std::mem::take(self.idle.get_mut().unwrap_or_else(|p| p.into_inner()));
        for (mut conn, _) in idle {
            let _ = conn.quit();
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
        self.try_send(&env, raw).map_err(|e| classify(&e))
    }
}

/// RFC 5321: 4xx is transient, 5xx permanent; anything else (timeouts, dropped connections,
/// TLS trouble) is treated as transient, since the message may go through later.
fn classify(e: &lettre::transport::smtp::Error) -> Failure {
    classify_code(e.status(), e.to_string())
}

/// [`classify`] on the reply's code, if the server sent one.
///
/// A refused login (RFC 4954: 530, 534, 535, 538) is no verdict on any message: it would refuse
/// every one of them the same way, so the run stops and every delivery stays open for the run
/// after the owner fixed `smtp.username` or the password. A refused recipient (550 mailbox
/// unavailable, 551 not local, 553 name not allowed) is a bounce: the address is suppressed.
fn classify_code(code: Option<Code>, reply: String) -> Failure {
    let Some(code) = code.filter(|c| c.severity == Severity::PermanentNegativeCompletion) else {
        return Failure::Transient(reply);
    };
    match (code.category, code.detail) {
        (Category::Unspecified3, Detail::Zero | Detail::Four | Detail::Five | Detail::Eight) => {
            Failure::Local(Error::msg(format!(
                "smtp: the server refused the login ({reply}); check smtp.username and the \
                 password variable"
            )))
        }
        (Category::MailSystem, Detail::Zero | Detail::One | Detail::Three) => Failure::Permanent {
            reply,
            bounce: true,
        },
        _ => Failure::Permanent {
            reply,
            bounce: false,
        },
    }
}

#[cfg(test)]
mod tests {
    use lettre::transport::smtp::response::Response;

    use super::*;

    fn code(text: &str) -> Code {
        let reply: Response = format!("{text} reply\r\n").parse().unwrap();
        reply.code()
    }

    fn verdict(text: &str) -> &'static str {
        match classify_code(Some(code(text)), text.into()) {
            Failure::Transient(_) => "transient",
            Failure::Permanent { bounce: true, .. } => "bounce",
            Failure::Permanent { bounce: false, .. } => "permanent",
            Failure::Local(_) => "local",
        }
    }

    #[test]
    fn reply_codes_decide_retry_bounce_or_stop() {
        for (text, want) in [
            ("421", "transient"),
            ("450", "transient"),
            ("452", "transient"),
            ("454", "transient"),
            ("550", "bounce"),
            ("551", "bounce"),
            ("553", "bounce"),
            ("552", "permanent"),
            ("554", "permanent"),
            ("501", "permanent"),
            ("530", "local"),
            ("534", "local"),
            ("535", "local"),
            ("538", "local"),
            ("531", "permanent"),
        ] {
            assert_eq!(verdict(text), want, "{text}");
        }
        assert!(matches!(
            classify_code(None, "connection reset".into()),
            Failure::Transient(_)
        ));
    }
}

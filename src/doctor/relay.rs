//! The relay's TLS, tried the way `transport::smtp` sends: lettre's client, rustls with the
//! web's root certificates, the host name checked against the certificate. No AUTH, no mail:
//! connect, EHLO, STARTTLS (or TLS from the first byte with `security: tls`), EHLO, QUIT.

use std::time::Duration;

use lettre::transport::smtp::client::{SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use crate::config::{Security, Smtp};

/// Connects to the relay and sets up TLS as `smtp.security` asks; `Err` says why it failed.
/// Each network step waits at most `timeout`.
pub fn probe(smtp: &Smtp, timeout: Duration) -> Result<(), String> {
    let tls = TlsParameters::new(smtp.host.clone())
        .map_err(|e| format!("TLS set-up for {} failed: {e}", smtp.host))?;
    let hello = ClientId::default();
    let wrapper = (smtp.security == Security::Tls).then_some(&tls);
    let mut conn = SmtpConnection::connect(
        (smtp.host.as_str(), smtp.port),
        Some(timeout),
        &hello,
        wrapper,
        None,
    )
    .map_err(|e| describe(&e))?;
    if smtp.security == Security::StartTls {
        conn.starttls(&tls, &hello).map_err(|e| describe(&e))?;
    }
    let _ = conn.quit();
    Ok(())
}

/// lettre's error with its causes, which hold the TLS reason ("invalid peer certificate: …").
fn describe(e: &lettre::transport::smtp::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

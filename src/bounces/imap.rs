//! Returned mail from the IMAP mailbox of `newsletter.bounces.imap`: log in (implicit TLS,
//! STARTTLS, or plain on loopback only; certificates always verified), open `folder`, read
//! every message not left there by an earlier run (`BODY.PEEK`: flags untouched), and move
//! each one herald dealt with to `processed_folder` (created when missing) or delete it.
//!
//! A message herald cannot attribute is left as it is, unread, and its UID remembered in the
//! state (with the folder's UIDVALIDITY), so no later run reads it again. A report is
//! recorded before its message is moved: a run that stops in between finds it again next
//! time, sees it was read, and moves it then.
//!
//! The password comes from the environment variable `password_env` only; it is never stored
//! or printed.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use super::{MAX_MESSAGE, Read, Reader, Summary};
use crate::config::{Imap, Processed, Security};
use crate::error::{Error, Result, cut};
use crate::state::Db;

/// Messages fetched per command.
const CHUNK: usize = 50;

/// What a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    pub summary: Summary,
    /// Messages moved to the processed folder, or deleted.
    pub processed: usize,
    /// Messages left in the folder (unattributable).
    pub left: usize,
}

/// A connection, TLS or not.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug> Stream for T {}
type Conn = Box<dyn Stream>;

/// Reads the mailbox once: every new message through `reader`, each told to `on` as it is
/// read.
pub fn fetch(
    imap: &Imap,
    reader: &Reader<'_>,
    db: &Db,
    on: &mut dyn FnMut(&Read),
) -> Result<Fetched> {
    let password = std::env::var(&imap.password_env).map_err(|_| {
        Error::msg(format!(
            "the IMAP password: the environment variable {} is not set",
            imap.password_env
        ))
    })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::msg(format!("starting the IMAP client: {e}")))?;
    runtime.block_on(run(imap, &password, reader, db, on))
}

/// An error of the mailbox at `imap`, doing `what`.
fn failed(imap: &Imap, what: &str, e: impl fmt::Display) -> Error {
    Error::msg(format!(
        "IMAP {}:{}: {what}: {}",
        cut(&imap.host),
        imap.port,
        cut(&e.to_string())
    ))
}

/// `f` within the configured timeout.
async fn timed<T, E: fmt::Display>(
    imap: &Imap,
    what: &str,
    f: impl Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    match tokio::time::timeout(Duration::from_secs(imap.timeout_secs), f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failed(imap, what, e)),
        Err(_) => Err(failed(
            imap,
            what,
            format!("no answer within {} s", imap.timeout_secs),
        )),
    }
}

async fn tls<S>(imap: &Imap, tcp: S) -> Result<Conn>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + fmt::Debug + 'static,
{
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed(imap, "TLS", e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from(imap.host.clone()).map_err(|e| failed(imap, "TLS", e))?;
    let stream = timed(
        imap,
        "TLS handshake",
        TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await?;
    Ok(Box::new(stream))
}

async fn greeting(imap: &Imap, client: &mut Client<Conn>) -> Result<()> {
    match timed(imap, "reading the greeting", client.read_response()).await? {
        Some(_) => Ok(()),
        None => Err(failed(
            imap,
            "reading the greeting",
            "the server closed the connection",
        )),
    }
}

async fn connect(imap: &Imap, password: &str) -> Result<Session<Conn>> {
    let tcp = timed(
        imap,
        "connecting",
        TcpStream::connect((imap.host.as_str(), imap.port)),
    )
    .await?;
    let client = match imap.security {
        Security::Tls => {
            let mut c = Client::new(tls(imap, tcp).await?);
            greeting(imap, &mut c).await?;
            c
        }
        Security::StartTls => {
            let mut c = Client::new(Box::new(tcp) as Conn);
            greeting(imap, &mut c).await?;
            timed(
                imap,
                "STARTTLS",
                c.run_command_and_check_ok("STARTTLS", None),
            )
            .await?;
            // After STARTTLS there is no second greeting.
            Client::new(tls(imap, c.into_inner()).await?)
        }
        Security::None => {
            let mut c = Client::new(Box::new(tcp) as Conn);
            greeting(imap, &mut c).await?;
            c
        }
    };
    let login = client.login(&imap.username, password);
    match tokio::time::timeout(Duration::from_secs(imap.timeout_secs), login).await {
        Ok(Ok(session)) => Ok(session),
        // The server's words, never the password.
        Ok(Err((e, _))) => Err(failed(
            imap,
            &format!("logging in as {}", cut(&imap.username)),
            e,
        )),
        Err(_) => Err(failed(imap, "logging in", "no answer")),
    }
}

async fn run(
    imap: &Imap,
    password: &str,
    reader: &Reader<'_>,
    db: &Db,
    on: &mut dyn FnMut(&Read),
) -> Result<Fetched> {
    let mut session = connect(imap, password).await?;
    let folder = imap.folder.as_str();
    let mailbox = timed(imap, &format!("opening {folder}"), session.select(folder)).await?;
    let uidvalidity = mailbox.uid_validity.unwrap_or(0);
    let left_before = db.imap_left(folder, uidvalidity)?;
    let mut uids: Vec<u32> = timed(imap, "searching", session.uid_search("ALL"))
        .await?
        .into_iter()
        .filter(|u| !left_before.contains(u))
        .collect();
    uids.sort_unstable();
    let caps = timed(imap, "asking for capabilities", session.capabilities()).await?;
    let can_move = caps.has_str("MOVE");
    let uidplus = caps.has_str("UIDPLUS");
    let mut out = Fetched::default();
    let mut created = false;
    for chunk in uids.chunks(CHUNK) {
        let set = uid_set(chunk);
        // Sizes first: a message too large to read is not downloaded.
        let sizes: Vec<(u32, u32)> = {
            let stream = timed(
                imap,
                "fetching sizes",
                session.uid_fetch(&set, "(UID RFC822.SIZE)"),
            )
            .await?;
            timed(imap, "fetching sizes", stream.try_collect::<Vec<_>>())
                .await?
                .iter()
                .filter_map(|f| Some((f.uid?, f.size.unwrap_or(0))))
                .collect()
        };
        let mut done = Vec::new();
        let mut left = Vec::new();
        let mut small = Vec::new();
        for (uid, size) in sizes {
            if size as usize > MAX_MESSAGE {
                let r = reader.unreadable(
                    &format!("imap:{folder}:{uidvalidity}:{uid}"),
                    &format!("larger than {} MiB", MAX_MESSAGE >> 20),
                )?;
                out.summary.add(&r);
                on(&r);
                left.push(uid);
            } else {
                small.push(uid);
            }
        }
        if !small.is_empty() {
            let stream = timed(
                imap,
                "fetching messages",
                session.uid_fetch(uid_set(&small), "(UID BODY.PEEK[])"),
            )
            .await?;
            let fetches = timed(imap, "fetching messages", stream.try_collect::<Vec<_>>()).await?;
            for f in &fetches {
                let (Some(uid), Some(body)) = (f.uid, f.body()) else {
                    continue;
                };
                let r = reader.read(body)?;
                out.summary.add(&r);
                on(&r);
                if r.processed() {
                    done.push(uid);
                } else {
                    left.push(uid);
                }
            }
        }
        db.leave_imap(folder, uidvalidity, &left)?;
        out.left += left.len();
        if !done.is_empty() {
            if let Processed::Move(to) = &imap.processed
                && !created
            {
                // Already there is fine; a real failure shows in the MOVE.
                let _ = timed(imap, "creating the folder", session.create(to)).await;
                created = true;
            }
            dispose(imap, &mut session, &done, can_move, uidplus).await?;
            out.processed += done.len();
        }
    }
    let _ = timed(imap, "logging out", session.logout()).await;
    Ok(out)
}

/// Moves or deletes the messages `uids`, as configured.
async fn dispose(
    imap: &Imap,
    session: &mut Session<Conn>,
    uids: &[u32],
    can_move: bool,
    uidplus: bool,
) -> Result<()> {
    let set = uid_set(uids);
    match &imap.processed {
        Processed::Move(to) if can_move => {
            timed(imap, &format!("moving to {to}"), session.uid_mv(&set, to)).await?;
            return Ok(());
        }
        Processed::Move(to) => {
            timed(
                imap,
                &format!("copying to {to}"),
                session.uid_copy(&set, to),
            )
            .await?;
        }
        Processed::Delete => {}
    }
    {
        let stream = timed(
            imap,
            "flagging as deleted",
            session.uid_store(&set, "+FLAGS.SILENT (\\Deleted)"),
        )
        .await?;
        timed(imap, "flagging as deleted", stream.try_collect::<Vec<_>>()).await?;
    }
    if uidplus {
        let stream = timed(imap, "expunging", session.uid_expunge(&set)).await?;
        timed(imap, "expunging", stream.try_collect::<Vec<_>>()).await?;
    } else {
        let stream = timed(imap, "expunging", session.expunge()).await?;
        timed(imap, "expunging", stream.try_collect::<Vec<_>>()).await?;
    }
    Ok(())
}

/// `1,2,5`: a UID set.
fn uid_set(uids: &[u32]) -> String {
    uids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

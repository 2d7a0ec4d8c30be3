//! `herald serve`: the small web endpoint a site owner puts behind a reverse proxy
//! (README "The web endpoint"): double opt-in sign-up, confirmation and its welcome mail,
//! unsubscribe (a page and RFC 8058 one-click), each subscriber's preferences page, and the
//! files of `output_dir` with caching headers and gzip.
//!
//! - [`app`] builds the router from a [`State`]; tests drive it with `oneshot` or a real port.
//! - [`run`] serves a listener until a shutdown signal, then lets requests in flight finish.
//! - Each request opens the SQLite state for one short transaction (WAL, busy timeout), so a
//!   `publish` from cron and `serve` share it; the blocking work runs in `spawn_blocking`.
//!
//! Uses state, transport, newsletter rendering and config; never `feeds` or `content`: the
//! feeds are served as plain files. Nothing here prints: log lines go to the `log` function the
//! caller passes in, and tokens never reach it.

mod files;
mod forms;
mod pages;
mod rate_limit;
mod routes;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::error::Result;
use crate::newsletter::templates::Templates;
use crate::transport::Transport;

use rate_limit::RateLimiter;

/// Request bodies above this are refused with 413.
pub const BODY_LIMIT: usize = 16 * 1024;

/// How long requests in flight may take to finish after SIGTERM before serve exits anyway
/// (systemd waits 90 s by default before it kills).
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Where "now" comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The system clock moved by `offset`: `--now` sets where the clock starts, then it ticks.
    System { offset: chrono::TimeDelta },
    /// A clock that stands still (tests).
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The system clock, or (with `--now`) a clock that reads `start` now and then ticks.
    pub fn starting_at(start: Option<DateTime<Utc>>) -> Clock {
        Clock::System {
            offset: start.map_or(chrono::TimeDelta::zero(), |s| s - Utc::now()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match *self {
            Clock::System { offset } => Utc::now() + offset,
            Clock::Fixed(t) => t,
        }
    }
}

/// A log line sink: `commands::serve` prints, tests collect.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// Everything a request needs; cheap to clone.
#[derive(Clone)]
pub struct State {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    secret: [u8; 32],
    templates: Templates,
    site: crate::newsletter::render::SiteData,
    /// `None` when the site has no `newsletter:` section: only files and `/healthz` work.
    transport: Option<Box<dyn Transport>>,
    limiter: RateLimiter,
    clock: Clock,
    log: Log,
    /// One connection for the life of serve, used by one request at a time: its writes are
    /// short `BEGIN IMMEDIATE` transactions, which SQLite serialises anyway.
    db: std::sync::Mutex<crate::state::Db>,
}

impl State {
    /// Loads what every request needs, once: the templates, the secret, the transport, and
    /// the database (so that a broken one stops serve at startup).
    pub fn load(config: Config, clock: Clock, log: Log) -> Result<State> {
        let transport = match &config.newsletter {
            Some(_) => Some(crate::transport::from_config(&config)?),
            None => None,
        };
        State::with_transport(config, clock, log, transport)
    }

    /// Like [`State::load`] with a given transport (tests pass a recording one).
    pub fn with_transport(
        config: Config,
        clock: Clock,
        log: Log,
        transport: Option<Box<dyn Transport>>,
    ) -> Result<State> {
        let templates = Templates::load(&config)?;
        let db = std::sync::Mutex::new(crate::state::Db::open(&config.state_dir)?);
        let secret = crate::state::secret::load_or_create(&config.state_dir)?;
        let limiter = RateLimiter::new(config.serve.subscribe_per_hour);
        let site = crate::newsletter::render::SiteData::new(&config);
        Ok(State {
            inner: Arc::new(Inner {
                config,
                secret,
                templates,
                site,
                transport,
                limiter,
                clock,
                log,
                db,
            }),
        })
    }
}

/// The router: every route of the README's "The web endpoint", the body limit, and the log line.
pub fn app(state: State) -> Router {
    routes::router(state)
}

/// Serves `listener` until `shutdown` resolves, then stops accepting, lets the requests in
/// flight finish (at most [`SHUTDOWN_GRACE`]) and returns.
pub async fn run(
    listener: tokio::net::TcpListener,
    state: State,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (tx, mut rx) = tokio::sync::watch::channel(false);
    let signal = async move {
        shutdown.await;
        let _ = tx.send(true);
    };
    let service = app(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(signal);
    let deadline = async move {
        while !*rx.borrow_and_update() {
            if rx.changed().await.is_err() {
                // The sender is gone only once the server future finished.
                std::future::pending::<()>().await;
            }
        }
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        r = server => r,
        () = deadline => {
            (state.inner.log)(&format!(
                "requests still running {}s after the shutdown signal; exiting anyway",
                SHUTDOWN_GRACE.as_secs()
            ));
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
}

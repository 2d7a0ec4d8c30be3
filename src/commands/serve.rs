//! `herald serve [--listen ADDR]`: the web endpoint (README "The web endpoint: sign-up and
//! unsubscribe") on `serve.listen`, until SIGTERM or Ctrl-C; requests in flight finish first.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use super::Ctx;
use crate::error::{Error, ExitStatus, Result};
use crate::serve::{self, Clock, State};

pub fn run(ctx: &Ctx, listen: Option<String>) -> Result<ExitStatus> {
    let mut config = ctx.config()?;
    let addr = listen.unwrap_or_else(|| config.serve.listen.clone());
    if config.newsletter.is_none() {
        ctx.ui.warn(
            "no `newsletter:` section: serving files only (sign-up and unsubscribe answer 404)",
        );
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("herald-serve")
        .build()
        .map_err(|e| Error::msg(format!("cannot start the web server: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| Error::msg(format!("cannot listen on {addr}: {e}")))?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::msg(format!("cannot listen on {addr}: {e}")))?;
        // Without `serve.public_url` in the config, confirmation links point at this very
        // server, so that `herald serve --listen 127.0.0.1:9000` works as a local preview.
        if !config.serve.public_url_set
            && let Ok(url) = url::Url::parse(&format!("http://{}/", reachable(local)))
        {
            config.serve.public_url = url;
        }
        let public_url = config.serve.public_url.clone();
        let ui = ctx.ui;
        let log: serve::Log = Arc::new(move |line: &str| ui.log(line));
        // `--now` sets where serve's clock starts; without it, this is the system clock.
        let state = State::load(
            config,
            Clock::starting_at(ctx.now_given.then_some(ctx.now)),
            log,
        )?;
        ctx.ui.log(format!(
            "listening on http://{local}/ (links in mails use {public_url})"
        ));
        serve::run(listener, state, serve::shutdown_signal())
            .await
            .map_err(|e| Error::msg(format!("serving on {local}: {e}")))?;
        ctx.ui.log("stopped");
        Ok(ExitStatus::Success)
    })
}

/// The address a browser on this machine reaches a listener on (`0.0.0.0` is no address).
fn reachable(local: SocketAddr) -> SocketAddr {
    if local.ip().is_unspecified() {
        let ip = match local.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        };
        SocketAddr::new(ip, local.port())
    } else {
        local
    }
}

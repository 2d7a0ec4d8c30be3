//! `herald doctor [--dns ADDR:PORT]`: one line per finding (README "DKIM"), exit status 1 when
//! any is an error.

use std::net::SocketAddr;
use std::time::Duration;

use super::{Ctx, print};
use crate::doctor::{self, Level, Options};
use crate::error::{ExitStatus, Result};

/// The longest wait for one DNS answer.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

pub fn run(ctx: &Ctx, dns: Option<SocketAddr>) -> Result<ExitStatus> {
    let config = ctx.config()?;
    let findings = doctor::run(
        &config,
        &Options {
            dns,
            dns_timeout: DNS_TIMEOUT,
        },
    )?;
    let mut text = String::new();
    for f in &findings {
        text.push_str(&format!(
            "{:<7} {:<5} {}",
            f.level.word(),
            f.topic,
            f.message
        ));
        if let Some(fix) = &f.fix {
            text.push_str(&format!("; fix: {fix}"));
        }
        text.push('\n');
    }
    let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
    let (errors, warnings) = (count(Level::Error), count(Level::Warning));
    text.push_str(&format!(
        "{errors} error{}, {warnings} warning{}\n",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    ));
    print(text)?;
    Ok(if errors > 0 {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

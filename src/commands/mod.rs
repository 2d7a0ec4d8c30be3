//! One module per subcommand. This is the only layer that prints: results on stdout, progress
//! and log lines on stderr.

mod bounces;
mod build;
mod check;
mod dkim;
mod doctor;
mod init;
mod publish;
mod serve;
mod show;
mod status;
mod subscribers;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::error::{Error, ExitStatus, Result};

/// What every command gets: where the site is, the clock, and how loud to be.
pub struct Ctx {
    pub root: PathBuf,
    pub config_file: Option<PathBuf>,
    /// The run's one clock reading: `--now`, or the clock.
    pub now: DateTime<Utc>,
    /// Whether `now` came from `--now` (a long-running `serve` then keeps that offset).
    pub now_given: bool,
    pub ui: Ui,
}

impl Ctx {
    pub fn config(&self) -> Result<Config> {
        Config::load(&self.root, self.config_file.as_deref())
    }
}

/// Output policy: quiet, normal or verbose; progress bars only on a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub quiet: bool,
    pub verbose: bool,
}

impl Ui {
    /// A result line on stdout. A reader that went away ends the command quietly
    /// ([`Error::StdoutClosed`]); commands that change state ignore that and go on.
    pub fn out(&self, line: impl AsRef<str>) -> Result<()> {
        if self.quiet {
            return Ok(());
        }
        writeln!(std::io::stdout().lock(), "{}", line.as_ref()).map_err(Error::stdout)
    }

    /// A log line on stderr (cron mail); shown unless quiet.
    pub fn log(&self, line: impl AsRef<str>) {
        if !self.quiet {
            stderr_line("herald: ", line.as_ref());
        }
    }

    /// Detail shown with -v.
    pub fn detail(&self, line: impl AsRef<str>) {
        if self.verbose {
            stderr_line("herald: ", line.as_ref());
        }
    }

    /// A warning on stderr, shown even when quiet.
    pub fn warn(&self, line: impl AsRef<str>) {
        stderr_line("warning: ", line.as_ref());
    }

    /// A progress bar for `len` steps, or a hidden one when stderr is not a terminal.
    pub fn progress(&self, len: u64, what: &str) -> indicatif::ProgressBar {
        if self.quiet || !std::io::stderr().is_terminal() {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::new(len);
        let style =
            indicatif::ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(what.to_string());
        bar
    }
}

pub fn run(cli: Cli) -> Result<ExitStatus> {
    let root = match &cli.site {
        Some(dir) => dir.clone(),
        None => std::env::current_dir().map_err(|e| Error::io(".", e))?,
    };
    let ctx = Ctx {
        root,
        config_file: cli.config.clone(),
        now: cli.now.unwrap_or_else(chrono::Utc::now),
        now_given: cli.now.is_some(),
        ui: Ui {
            quiet: cli.quiet,
            verbose: cli.verbose,
        },
    };
    match cli.command {
        Command::Init { dir } => init::run(&ctx, &dir),
        Command::Check => check::run(&ctx),
        Command::Build => build::run(&ctx),
        Command::Publish { dry_run, send_late } => publish::run(&ctx, dry_run, &send_late),
        Command::Status { json } => status::run(&ctx, json),
        Command::Preview {
            slug,
            list,
            digest,
            to,
        } => match digest {
            Some(digest) => publish::preview_digest(&ctx, &digest, to.as_deref()),
            // Without `--digest`, clap has asked for the slug.
            None => publish::preview(
                &ctx,
                slug.as_deref().unwrap_or_default(),
                list.as_deref(),
                to.as_deref(),
            ),
        },
        Command::Subscribers(cmd) => subscribers::run(&ctx, cmd),
        Command::Unsubscribe { token } => subscribers::unsubscribe(&ctx, &token),
        Command::Bounces(cmd) => bounces::run(&ctx, cmd),
        Command::Serve { listen } => serve::run(&ctx, listen),
        Command::Dkim(cmd) => dkim::run(&ctx, cmd),
        Command::Doctor { dns } => doctor::run(&ctx, dns),
    }
}

/// Command output that is printed whatever `-q` says (`status`, `subscribers list`): all of
/// `text` on stdout, then flushed.
pub fn print(text: impl AsRef<[u8]>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_ref())
        .and_then(|()| out.flush())
        .map_err(Error::stdout)
}

/// For a command whose job is not its output (`publish` sends mail): a closed stdout stops
/// nothing and changes no exit status.
pub fn unless_closed(printed: Result<()>) -> Result<()> {
    match printed {
        Err(Error::StdoutClosed) => Ok(()),
        other => other,
    }
}

/// One line on stderr. Unlike `eprintln!`, a closed or full stderr is no panic: there is
/// nowhere left to say anything, so the line is dropped.
fn stderr_line(prefix: &str, line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{prefix}{line}");
}

/// Prints an error the way users see it: one line per problem, each `source` on its own line.
/// A closed stdout is no error to the user and prints nothing.
pub fn report_error(err: &Error) {
    match err {
        Error::StdoutClosed => {}
        Error::Invalid(diags) => {
            for d in diags {
                stderr_line("", &d.to_string());
            }
        }
        other => {
            stderr_line("herald: ", &other.to_string());
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let text = s.to_string();
                if !other.to_string().contains(&text) {
                    stderr_line("  caused by: ", &text);
                }
                source = s.source();
            }
        }
    }
}

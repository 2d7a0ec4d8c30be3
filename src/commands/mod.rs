//! One module per subcommand. This is the only layer that wires modules together and prints:
//! results on stdout, progress and log lines on stderr.

mod build;
mod check;
mod init;
mod publish;
mod serve;
mod show;
mod status;
mod subscribers;

use std::io::IsTerminal;
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
    /// A result line on stdout.
    pub fn out(&self, line: impl AsRef<str>) {
        if !self.quiet {
            println!("{}", line.as_ref());
        }
    }

    /// A log line on stderr (cron mail); shown unless quiet.
    pub fn log(&self, line: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("herald: {}", line.as_ref());
        }
    }

    /// Detail shown with -v.
    pub fn detail(&self, line: impl AsRef<str>) {
        if self.verbose {
            eprintln!("herald: {}", line.as_ref());
        }
    }

    /// A warning on stderr, shown even when quiet.
    pub fn warn(&self, line: impl AsRef<str>) {
        eprintln!("warning: {}", line.as_ref());
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
        Command::Publish { dry_run } => publish::run(&ctx, dry_run),
        Command::Status { json } => status::run(&ctx, json),
        Command::Preview { slug, list, to } => {
            publish::preview(&ctx, &slug, list.as_deref(), to.as_deref())
        }
        Command::Subscribers(cmd) => subscribers::run(&ctx, cmd),
        Command::Unsubscribe { token } => subscribers::unsubscribe(&ctx, &token),
        Command::Serve { listen } => serve::run(&ctx, listen),
    }
}

/// Prints an error the way users see it: one line per problem, each `source` on its own line.
pub fn report_error(err: &Error) {
    match err {
        Error::Invalid(diags) => {
            for d in diags {
                eprintln!("{d}");
            }
        }
        other => {
            eprintln!("herald: {other}");
            let mut source = std::error::Error::source(other);
            while let Some(s) = source {
                let text = s.to_string();
                if !other.to_string().contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                source = s.source();
            }
        }
    }
}

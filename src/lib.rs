//! herald turns a folder of dated Markdown posts into RSS, Atom and JSON feeds for the site and
//! every tag, and mails each newly due post once to the subscribers of the lists whose tags it
//! carries. See ARCHITECTURE.md for the map of modules and the rules between them.

pub mod bounces;
pub mod cli;
pub mod commands;
pub mod config;
pub mod content;
pub mod dates;
pub mod dkim;
pub mod doctor;
pub mod error;
pub mod feeds;
pub mod newsletter;
pub mod permalink;
pub mod serve;
pub mod site;
pub mod slug;
pub mod state;
pub mod transport;
pub mod write;

pub use error::{Error, ExitStatus, Result};

/// Runs one command line.
pub fn run(cli: cli::Cli) -> Result<ExitStatus> {
    commands::run(cli)
}

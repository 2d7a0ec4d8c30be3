//! The command line, as clap types and help text only. Nothing here does any work.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::state::MemberStatus;

/// Feeds and newsletters from a folder of dated Markdown posts.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about, propagate_version = true)]
pub struct Cli {
    /// The site root (default: the current directory).
    #[arg(long, global = true, value_name = "DIR")]
    pub site: Option<PathBuf>,
    /// The config file (default: <site>/config/herald.yaml).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Use this time instead of the clock (RFC 3339), to preview the future or for tests.
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_now)]
    pub now: Option<DateTime<Utc>>,
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail (one line per file and delivery).
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new working site in DIR (refuses a non-empty DIR), or with --from set up
    /// herald for an existing Hugo, Jekyll, Zola or Eleventy blog.
    Init {
        // `dir` for `commands::run`'s `Init { dir }`: the positional DIR and --from in one.
        #[command(flatten)]
        dir: InitArgs,
    },
    /// Load and validate everything, report every problem, write nothing.
    Check,
    /// Write the feeds into the output directory.
    Build,
    /// Build, merge subscriber CSVs, then plan and send the due newsletter mail.
    Publish {
        /// Print the plan; write and send nothing.
        #[arg(long)]
        dry_run: bool,
        /// Mail this post although it became mailable more than `newsletter.max_lateness`
        /// after it was due (repeat for several posts).
        #[arg(long, value_name = "SLUG")]
        send_late: Vec<String>,
    },
    /// Scheduled posts, the last run, pending, deferred and failed deliveries, list sizes.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Render a post's email (or a list's next digest) to outbox/preview/, or send one test
    /// mail.
    Preview {
        /// The post's slug.
        #[arg(required_unless_present = "digest")]
        slug: Option<String>,
        /// Render it as for this list (default: the first list that takes the post).
        #[arg(long, value_name = "ID", conflicts_with = "digest")]
        list: Option<String>,
        /// Render this digest list's next digest instead of a post's mail.
        #[arg(long, value_name = "LIST", conflicts_with = "slug")]
        digest: Option<String>,
        /// Send one test mail to this address through the transport (not journaled).
        #[arg(long, value_name = "ADDR")]
        to: Option<String>,
    },
    /// Manage subscribers.
    #[command(subcommand)]
    Subscribers(SubscribersCommand),
    /// Apply an unsubscribe token from a mail's List-Unsubscribe link.
    Unsubscribe {
        /// The token (the value of `token=` in the link).
        token: String,
    },
    /// Read returned mail: bounces, complaints and auto-replies.
    #[command(subcommand)]
    Bounces(BouncesCommand),
    /// Run the web endpoint: sign-up, confirm, unsubscribe, and the feeds.
    Serve {
        /// Listen on this address instead of serve.listen.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// DKIM keys for signing the newsletter's mail.
    #[command(subcommand)]
    Dkim(DkimCommand),
    /// Check the sender's DNS (MX, SPF, DKIM, DMARC), the relay's TLS and serve.public_url;
    /// one line per finding with its fix. Exits 1 when any finding is an error.
    Doctor {
        /// Ask this DNS server (UDP, then TCP) instead of the system's resolvers; the port
        /// defaults to 53.
        #[arg(long, value_name = "ADDR:PORT", value_parser = parse_dns_server)]
        dns: Option<std::net::SocketAddr>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DkimCommand {
    /// Write a new private key (mode 0600; never over an existing file) and print the DNS
    /// record to publish and the config lines to add.
    Keygen {
        /// The selector: the record goes at SELECTOR._domainkey.DOMAIN (default:
        /// newsletter.dkim.selector, else herald-YYYYMM).
        #[arg(long, value_name = "S")]
        selector: Option<String>,
        /// rsa (2048 bits, verified everywhere) or ed25519 (RFC 8463, not verified by every
        /// receiver yet).
        #[arg(long, value_name = "ALG", default_value = "rsa")]
        algorithm: crate::dkim::Algorithm,
        /// The signing domain (default: newsletter.dkim.domain, else the domain of
        /// newsletter.from.email).
        #[arg(long, value_name = "DOMAIN")]
        domain: Option<String>,
        /// Where to write the key (default: newsletter.dkim.private_key_file for its own
        /// selector, else <state_dir>/dkim/<selector>.pem).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `herald init DIR` or `herald init --from DIR`: exactly one of the two.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct InitArgs {
    /// Where to create the site.
    pub dir: Option<PathBuf>,
    /// An existing Hugo, Jekyll, Zola or Eleventy blog: write DIR/herald.yaml for it, so herald
    /// reads its posts as they are (no other file of the blog is changed).
    #[arg(long, value_name = "DIR")]
    pub from: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Add an active member to a list.
    Add {
        address: String,
        #[arg(long, value_name = "ID")]
        list: String,
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Remove from one list, or without --list unsubscribe from all.
    Remove {
        address: String,
        #[arg(long, value_name = "ID")]
        list: Option<String>,
    },
    /// List members.
    List(ListArgs),
    /// Import a CSV (`email,name`) into a list.
    Import {
        file: PathBuf,
        #[arg(long, value_name = "ID")]
        list: String,
        /// Skip invalid rows instead of rejecting the whole file.
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Write the active members of a list as CSV to stdout.
    Export {
        #[arg(long, value_name = "ID")]
        list: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum BouncesCommand {
    /// Read the IMAP mailbox of newsletter.bounces.imap once (publish does it too).
    Fetch,
    /// Read returned mail from files: each PATH one message, an mbox or a Maildir.
    Import {
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[arg(long, value_name = "ID")]
    pub list: Option<String>,
    /// Only subscribers with this status.
    #[arg(long, value_name = "S")]
    pub status: Option<MemberStatus>,
    #[arg(long)]
    pub json: bool,
}

/// `--status`: the words stored in the database, so the flag and the data cannot drift apart.
/// Any other word is a usage error that lists these.
impl ValueEnum for MemberStatus {
    fn value_variants<'a>() -> &'a [Self] {
        MemberStatus::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.as_str()))
    }
}

/// `--algorithm`: the names of the DNS record's `k=` tag.
impl ValueEnum for crate::dkim::Algorithm {
    fn value_variants<'a>() -> &'a [Self] {
        &[crate::dkim::Algorithm::Rsa, crate::dkim::Algorithm::Ed25519]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

/// `--dns`: `ADDR:PORT`, or an address alone for port 53.
fn parse_dns_server(s: &str) -> Result<std::net::SocketAddr, String> {
    s.parse()
        .or_else(|_| {
            s.trim_matches(['[', ']'])
                .parse::<std::net::IpAddr>()
                .map(|ip| std::net::SocketAddr::new(ip, 53))
        })
        .map_err(|_| "expected an address and port such as 127.0.0.1:5353 or [::1]:53".into())
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|e| format!("expected RFC 3339 such as 2025-05-08T14:30:00Z: {e}"))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }

    /// `--status` takes the stored words; another word is a usage error (exit 2) naming them.
    #[test]
    fn subscriber_status_is_one_of_the_stored_words() {
        use clap::Parser;

        use super::{Cli, Command, ListArgs, SubscribersCommand};
        use crate::state::MemberStatus;
        let parse = |s: &str| Cli::try_parse_from(["herald", "subscribers", "list", "--status", s]);
        for status in MemberStatus::ALL {
            let cli = parse(status.as_str()).unwrap();
            let Command::Subscribers(SubscribersCommand::List(ListArgs { status: got, .. })) =
                cli.command
            else {
                panic!("not `subscribers list`");
            };
            assert_eq!(got, Some(*status));
        }
        let err = parse("Active").unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string()
                .contains("[possible values: pending, active, unsubscribed, bounced, complained]"),
            "{err}"
        );
    }
}

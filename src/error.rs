//! Errors as users see them: one line per problem, a path relative to the site root and a line
//! number where there is one, and the exit status that goes with them.
//!
//! Nothing here prints; `main` and `commands` decide what reaches stderr.

use std::fmt;
use std::path::{Path, PathBuf};

/// Where a problem is: a file (relative to the site root when possible) and, if known, a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub line: Option<usize>,
}

impl Location {
    pub fn file(path: impl Into<PathBuf>) -> Self {
        Location {
            path: path.into(),
            line: None,
        }
    }

    pub fn line(path: impl Into<PathBuf>, line: usize) -> Self {
        Location {
            path: path.into(),
            line: Some(line),
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.path.display(), line),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// One problem found while loading: `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub location: Option<Location>,
    pub message: String,
}

impl Diagnostic {
    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Diagnostic {
            location: Some(location),
            message: message.into(),
        }
    }

    pub fn bare(message: impl Into<String>) -> Self {
        Diagnostic {
            location: None,
            message: message.into(),
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{loc}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

/// Every error herald reports. Each variant knows its exit status.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Bad content, config or CSV: one or more diagnostics, each with its location.
    #[error("{}", join_lines(.0))]
    Invalid(Vec<Diagnostic>),
    /// The state database failed; `reason` says how, in the user's terms (`state::db` words it).
    #[error("{}: {reason}", path.display())]
    State {
        path: PathBuf,
        reason: String,
        #[source]
        source: rusqlite::Error,
    },
    /// Another `publish` holds the lock; try again later.
    #[error("another publish holds {}; try again later", path.display())]
    Locked { path: PathBuf },
    /// Any other failure, already phrased for the user.
    #[error("{0}")]
    Message(String),
    /// Whoever read stdout stopped reading (`herald status | head -1`): the output was wanted
    /// no further, so the command ends there, quietly and with success, as `cat` and ripgrep do.
    #[error("standard output was closed")]
    StdoutClosed,
}

fn join_lines(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub fn at(location: Location, message: impl Into<String>) -> Self {
        Error::Invalid(vec![Diagnostic::at(location, message)])
    }

    pub fn msg(message: impl Into<String>) -> Self {
        Error::Message(message.into())
    }

    /// A failed write to stdout: `StdoutClosed` when the reader went away, else an I/O error.
    pub fn stdout(source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::BrokenPipe {
            Error::StdoutClosed
        } else {
            Error::io("standard output", source)
        }
    }

    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Locked { .. } => ExitStatus::TempFail,
            Error::StdoutClosed => ExitStatus::Success,
            _ => ExitStatus::Failure,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The process exit code, decided in one place (README "Exit codes"). The fourth code, 2
/// for a usage error, is clap's: it exits before herald runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// 0: success.
    Success,
    /// 1: bad content, config, state or I/O.
    Failure,
    /// 75: try again later (EX_TEMPFAIL): the lock is held or deliveries remain deferred.
    TempFail,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Success => 0,
            ExitStatus::Failure => 1,
            ExitStatus::TempFail => 75,
        }
    }
}

/// The most characters of a value a message quotes: a tag, slug, title, address or path that
/// came from input may be megabytes long, and every message is one line of cron mail.
const QUOTED_MAX: usize = 80;

/// `s` as a message quotes it: at most [`QUOTED_MAX`] characters, cut with `…`.
pub fn cut(s: &str) -> String {
    match s.char_indices().nth(QUOTED_MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Small extension to attach a path to I/O errors.
pub trait IoContext<T> {
    fn with_path(self, path: impl AsRef<Path>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn with_path(self, path: impl AsRef<Path>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

/// "A", "A and B", "A, B and C".
pub fn join_names(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [one] => one.to_string(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_cut_at_80_characters() {
        assert_eq!(cut("short"), "short");
        assert_eq!(cut(&"a".repeat(80)), "a".repeat(80));
        assert_eq!(cut(&"a".repeat(5000)), format!("{}…", "a".repeat(80)));
        assert_eq!(cut(&"夜".repeat(81)), format!("{}…", "夜".repeat(80)));
    }

    #[test]
    fn names_join_in_prose() {
        assert_eq!(join_names(&[]), "");
        assert_eq!(join_names(&["A"]), "A");
        assert_eq!(join_names(&["A", "B"]), "A and B");
        assert_eq!(join_names(&["A", "B", "C"]), "A, B and C");
    }
}

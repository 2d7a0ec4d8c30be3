//! Lists: which lists take a post, and reading subscriber CSVs (`email,name`, RFC 4180, UTF-8).

use std::path::Path;

use crate::config::{List, Newsletter, one_line};
use crate::content::Post;
use crate::error::{Diagnostic, Location, cut};

/// One valid CSV row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub email: String,
    pub name: String,
    pub line: usize,
}

/// The lists that take `post`, in config order: `"*"` lists, and lists sharing a tag slug.
pub fn matching<'a>(newsletter: &'a Newsletter, post: &Post) -> Vec<&'a List> {
    newsletter.lists.iter().filter(|l| takes(l, post)).collect()
}

/// The lists that mail `post` on its own (not in a digest), in config order.
pub fn per_post<'a>(newsletter: &'a Newsletter, post: &Post) -> Vec<&'a List> {
    newsletter
        .lists
        .iter()
        .filter(|l| l.digest.is_none() && takes(l, post))
        .collect()
}

/// Whether `list` takes `post`: a `"*"` list, or one sharing a tag slug with it.
pub fn takes(list: &List, post: &Post) -> bool {
    list.all || post.tags.iter().any(|t| list.tags.contains(&t.slug))
}

/// Whether `s` is an address herald can mail.
pub fn valid_address(s: &str) -> bool {
    s.parse::<lettre::Address>().is_ok()
}

/// What a caller of [`read_csv`] does with an invalid row, which its message says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// The rest goes on: `file:line: row skipped: ...` (config CSVs, `import --skip-invalid`).
    Skip,
    /// The whole file is refused: `file:line: ...` (`import`).
    Reject,
}

/// Reads a subscriber CSV. Returns the valid rows and one diagnostic per invalid row, worded
/// for what the caller does with it.
pub fn read_csv(bytes: &[u8], shown: &Path, invalid: Invalid) -> (Vec<Row>, Vec<Diagnostic>) {
    let row = |problem: String| match invalid {
        Invalid::Skip => format!("row skipped: {problem}"),
        Invalid::Reject => problem,
    };
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let headers = match reader.headers() {
        Ok(h) => h.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>(),
        Err(e) => {
            problems.push(Diagnostic::at(
                Location::line(shown, 1),
                format!("unreadable header: {e}"),
            ));
            return (rows, problems);
        }
    };
    let Some(email_col) = headers.iter().position(|h| h == "email") else {
        problems.push(Diagnostic::at(
            Location::line(shown, 1),
            "the first line must be a header with an `email` column (and optionally `name`)",
        ));
        return (rows, problems);
    };
    let name_col = headers.iter().position(|h| h == "name");
    let mut seen = std::collections::HashSet::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                let msg = match e.kind() {
                    csv::ErrorKind::Utf8 { .. } => row("not valid UTF-8".to_string()),
                    _ => row(e.to_string()),
                };
                problems.push(Diagnostic::at(Location::line(shown, line), msg));
                continue;
            }
        };
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        let email = record.get(email_col).unwrap_or("").to_string();
        if !valid_address(&email) || email.contains(['\r', '\n']) {
            problems.push(Diagnostic::at(
                Location::line(shown, line),
                row(format!(
                    "\"{}\" is not an email address",
                    cut(&one_line(&email))
                )),
            ));
            continue;
        }
        if !seen.insert(crate::state::normalize(&email)) {
            continue;
        }
        let name = name_col
            .and_then(|c| record.get(c))
            .map(one_line)
            .unwrap_or_default();
        rows.push(Row { email, name, line });
    }
    (rows, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_quoted_rows_and_reports_bad_ones_with_lines() {
        let csv = "email,name\nann@example.com,Ann\n\"bob@example.com\",\"Bob, Jr.\"\nbob@\n,\nANN@example.com,dup\nline\r\nbreak@x.com,\"Eve\nBcc: x@y.z\"\n";
        let (rows, problems) = read_csv(csv.as_bytes(), Path::new("all.csv"), Invalid::Skip);
        let emails: Vec<_> = rows.iter().map(|r| r.email.as_str()).collect();
        assert_eq!(
            emails,
            vec!["ann@example.com", "bob@example.com", "break@x.com"]
        );
        assert_eq!(rows[1].name, "Bob, Jr.");
        assert_eq!(rows[2].name, "Eve Bcc: x@y.z");
        let msgs: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            msgs[0],
            "all.csv:4: row skipped: \"bob@\" is not an email address"
        );
        assert!(
            msgs[1].starts_with("all.csv:7: row skipped: \"line\""),
            "{msgs:?}"
        );
    }

    #[test]
    fn a_huge_bad_value_is_quoted_short() {
        let csv = format!("email\n{}@\n", "a".repeat(1 << 20));
        let (_, problems) = read_csv(csv.as_bytes(), Path::new("x.csv"), Invalid::Skip);
        let msg = problems[0].to_string();
        assert!(
            msg.starts_with(&format!("x.csv:2: row skipped: \"{}…\"", "a".repeat(80))),
            "{}",
            &msg[..200]
        );
        assert!(msg.len() < 200);
    }

    #[test]
    fn missing_email_header_is_reported() {
        let (rows, problems) = read_csv(b"mail,name\na@b.c,x\n", Path::new("x.csv"), Invalid::Skip);
        assert!(rows.is_empty());
        assert!(
            problems[0]
                .to_string()
                .starts_with("x.csv:1: the first line must be a header")
        );
    }

    #[test]
    fn invalid_utf8_is_a_skipped_row() {
        let (rows, problems) = read_csv(
            b"email\na@example.com\n\xff\xfe@x.com\n",
            Path::new("x.csv"),
            Invalid::Skip,
        );
        assert_eq!(rows.len(), 1);
        assert_eq!(
            problems[0].to_string(),
            "x.csv:3: row skipped: not valid UTF-8"
        );
    }
}

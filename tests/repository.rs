//! The repository stands on its own: no tracked file cites a document it does not contain.
//!
//! Comments, docs and scripts point at README.md, ARCHITECTURE.md or a file in the tree, or
//! state the rule themselves. The one thing outside the clone that may be named is the optional
//! strict feed validator beside it, in `.ci/run` and in the README's "Development" section.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What no tracked file may say. Spelled in pieces so that this file does not say it either.
fn forbidden() -> Vec<String> {
    vec![
        ["DESIGN", ".md"].concat(),
        ["STYLE", ".md"].concat(),
        ["../", "shared/"].concat(),
    ]
}

/// Files allowed to name the optional validator beside the clone, and nothing else outside.
const MAY_NAME_VALIDATOR: [&str; 2] = [".ci/run", "README.md"];

/// The tracked files (`git ls-files`), or every file but `target/` and `.git/` where the tree
/// is not a git checkout (a source archive).
fn tracked_files(root: &Path) -> Vec<PathBuf> {
    let out = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output();
    if let Ok(out) = out
        && out.status.success()
        && !out.stdout.is_empty()
    {
        return out
            .stdout
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
            .collect();
    }
    let mut files = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(root.join(&dir)).unwrap().flatten() {
            let rel = dir.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                if rel != Path::new("target") && rel != Path::new(".git") {
                    dirs.push(rel);
                }
            } else {
                files.push(rel);
            }
        }
    }
    files
}

/// `issue` followed by a space and a digit, in any case: a citation of a tracker entry.
fn cites_issue_number(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    lower.match_indices("issue ").any(|(i, m)| {
        lower[i + m.len()..]
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_digit())
    })
}

/// The citations in one file's text, as `path:line: text`.
fn citations(rel: &Path, text: &str) -> Vec<String> {
    let name = rel.to_string_lossy().replace('\\', "/");
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let bad = forbidden().iter().enumerate().any(|(i, f)| {
            let allowed = i == 2
                && MAY_NAME_VALIDATOR.contains(&name.as_str())
                && line.contains("shared/tools/validate_feed.py");
            line.contains(f.as_str()) && !allowed
        }) || cites_issue_number(line);
        if bad {
            found.push(format!("{name}:{}: {}", n + 1, line.trim()));
        }
    }
    found
}

#[test]
fn no_tracked_file_cites_a_document_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files = tracked_files(root);
    assert!(
        files.iter().any(|f| f == Path::new("Cargo.toml")),
        "the file list should hold Cargo.toml: {} files",
        files.len()
    );
    let mut found = Vec::new();
    for rel in &files {
        // A file deleted in the work tree but still in the index has nothing to say.
        let Ok(bytes) = std::fs::read(root.join(rel)) else {
            continue;
        };
        found.extend(citations(rel, &String::from_utf8_lossy(&bytes)));
    }
    assert!(
        found.is_empty(),
        "files cite documents outside the repository:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_citation_check_catches_each_kind() {
    let design = ["see ", "DESIGN", ".md \"Feeds\""].concat();
    let style = ["(", "STYLE", ".md)"].concat();
    let shared = ["python3 ../", "shared/tools/validate_feed.py"].concat();
    let src = Path::new("src/lib.rs");
    assert_eq!(citations(src, &design).len(), 1);
    assert_eq!(citations(src, &style).len(), 1);
    let tracker = ["as asked in Issue", " 12"].concat();
    assert_eq!(citations(src, &tracker).len(), 1);
    assert_eq!(citations(src, &shared).len(), 1);
    // The validator may be named where the README and CI say it is optional, nothing else.
    assert!(citations(Path::new(".ci/run"), &shared).is_empty());
    assert!(citations(Path::new("README.md"), &shared).is_empty());
    let other = ["../", "shared/examples/post.md"].concat();
    assert_eq!(citations(Path::new("README.md"), &other).len(), 1);
    // Ordinary words pass.
    assert!(citations(src, "an issue with the relay; issues remain").is_empty());
}

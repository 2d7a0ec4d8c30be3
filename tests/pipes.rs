//! A reader that stops reading: `herald status | head -1`. Like `cat` and ripgrep, herald then
//! ends quietly with exit 0 (README "Exit codes"); a command that changes state (`publish`)
//! does all of its work whatever happens to its output; a closed stderr is no panic either.

use std::process::Stdio;

use crate::support::{Run, Site};

/// The newsletter fixture with `count` more subscribers on the list `all`, imported (no mail
/// is sent): enough output to fill a pipe's buffer many times over.
fn site_with_subscribers(count: usize) -> Site {
    let site = Site::fixture("newsletter");
    let mut csv = String::from("email,name\n");
    for i in 0..count {
        csv.push_str(&format!("reader{i:05}@example.com,Reader Number {i}\n"));
    }
    site.write("many.csv", csv);
    let file = site.path("many.csv");
    let file = file.to_str().expect("a UTF-8 temp path");
    site.run(&["subscribers", "import", file, "--list", "all"])
        .success();
    site
}

#[track_caller]
fn quiet_success(run: Run) -> Run {
    let run = run.success();
    for word in ["Broken pipe", "panicked", "error"] {
        assert!(!run.stderr.contains(word), "stderr says {word:?}\n{run}");
    }
    run
}

#[test]
fn every_printing_command_ends_quietly_when_stdout_is_already_closed() {
    let site = site_with_subscribers(10);
    site.run(&["publish"]).success();
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["subscribers", "list"],
        &["subscribers", "list", "--json"],
        &[
            "subscribers",
            "list",
            "--list",
            "rust",
            "--status",
            "active",
        ],
        &["subscribers", "export", "--list", "all"],
        &["publish", "--dry-run"],
        &["check"],
        &["build"],
        &["subscribers", "add", "new@example.com", "--list", "rust"],
    ] {
        quiet_success(site.run_head(args, 0));
    }
    // The state change before the print happened.
    let run = site
        .run(&["subscribers", "list", "--list", "rust"])
        .success();
    assert!(run.stdout.contains("new@example.com"), "{run}");
}

#[test]
fn a_reader_that_stops_after_40_bytes_ends_list_export_and_json_quietly() {
    let site = site_with_subscribers(5_000);
    for args in [
        &["subscribers", "list"][..],
        &["subscribers", "list", "--json"],
        &["subscribers", "export", "--list", "all"],
    ] {
        // Far more than a pipe holds (64 KiB), so herald meets the closed pipe mid-write.
        let full = site.run(args).success().stdout;
        assert!(full.len() > 64 * 1024, "{args:?}: {} bytes", full.len());
        let run = quiet_success(site.run_head(args, 40));
        assert_eq!(run.stdout.len(), 40, "{run}");
        assert!(full.starts_with(&run.stdout), "{run}");
    }
    let run = quiet_success(site.run_head(&["subscribers", "export", "--list", "all"], 40));
    assert!(run.stdout.starts_with("email,name\n"), "{run}");
}

#[test]
fn publish_sends_everything_though_stdout_is_closed() {
    let site = Site::fixture("newsletter");
    quiet_success(site.run_head(&["publish"], 0));
    let sent = site.files("outbox").len();
    assert_eq!(sent, 11, "every mail of the first run is in the outbox");
    let status = site.run_json(&["status", "--json"]);
    assert_eq!(status["deliveries"]["sent"], 11, "{status}");
    assert_eq!(status["last_run"]["outcome"], "ok", "{status}");
    assert!(site.exists("public/rss.xml"));
}

#[test]
fn a_closed_stderr_is_no_panic() {
    let site = Site::fixture("newsletter");
    site.write(
        "content/posts/broken.md",
        "---\ntitle: [unclosed\n---\nbody\n",
    );
    for args in [&["build"][..], &["check"], &["publish", "--dry-run"]] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let status = site
            .command(args)
            .stdout(Stdio::null())
            .stderr(writer)
            .status()
            .expect("run herald");
        assert_eq!(status.code(), Some(1), "herald {args:?}: {status:?}");
    }
}

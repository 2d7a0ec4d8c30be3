//! `herald init`, `check` and `build` as users run them (README "Commands"), and every error
//! a user can make with a post or the config: the exact `file:line: message` on stderr, exit
//! code 1, `public/` exactly as the previous good build left it, and never a panic.
//!
//! Each broken input is one small file in `tests/fixtures/invalid/`, dropped into a copy of
//! `tests/fixtures/basic/` (zola's `test_sites_invalid/`, one file per message).

use crate::support::{NOW, Run, Site};

/// `tests/fixtures/basic/`, built once so that `public/` and `state/` hold a good build.
fn built_basic() -> Site {
    let site = Site::fixture("basic");
    site.build();
    site
}

/// Puts `tests/fixtures/invalid/<name>` at `rel` in a built basic site, then asserts that both
/// `build` and `check` fail with exactly `expected` on stderr and leave the site as it was.
#[track_caller]
fn assert_rejected(name: &str, rel: &str, expected: &str) {
    let site = built_basic();
    site.copy_fixture_file(&format!("invalid/{name}"), rel);
    let before = site.stamps("");
    for cmd in ["build", "check"] {
        let run = site.run(&[cmd]).code(1);
        assert_eq!(
            run.stderr,
            format!("{expected}\n"),
            "herald {cmd} with {name}\n{run}"
        );
        assert_eq!(run.stdout, "", "herald {cmd} with {name}");
    }
    assert!(
        site.stamps("").eq(&before),
        "a failed run changed the site (public/, state/)"
    );
}

#[test]
fn init_makes_a_site_that_check_and_build_accept() {
    let site = Site::empty();
    let dir = site.root().to_str().expect("UTF-8 temp path").to_string();
    let run = site.run_bare(&["--now", NOW, "init", &dir]).success();
    assert!(run.stdout.contains("created a new site"), "{run}");
    assert!(site.exists("config/herald.yaml"));
    assert!(
        site.exists("content/posts/2025-06-01-hello-world.md"),
        "the first post is dated --now"
    );
    let check = site.run(&["check"]).success();
    assert_eq!(
        check.stdout, "ok: 1 posts published, 0 scheduled, 0 drafts\n",
        "{check}"
    );
    site.build();
    assert!(
        site.read("public/rss.xml")
            .contains("<title>Hello, world</title>")
    );
    assert!(site.exists("public/tags/news/atom.xml"));
}

#[test]
fn init_creates_missing_folders() {
    let site = Site::empty();
    let dir = site.path("a/b/new-site");
    let run = site.run_bare(&["--now", NOW, "init", dir.to_str().expect("UTF-8 temp path")]);
    run.success();
    assert!(site.exists("a/b/new-site/config/herald.yaml"));
}

#[test]
fn init_refuses_a_non_empty_dir() {
    let site = Site::empty();
    site.write("notes.txt", "keep me\n");
    let dir = site.root().to_str().expect("UTF-8 temp path").to_string();
    let run = site.run_bare(&["--now", NOW, "init", &dir]).code(1);
    assert_eq!(
        run.stderr,
        format!(
            "herald: {dir} is not empty: init only creates a new site in an empty or new folder\n"
        )
    );
    assert_eq!(
        site.files("").into_keys().collect::<Vec<_>>(),
        ["notes.txt"]
    );
}

#[test]
fn check_writes_nothing() {
    let site = Site::fixture("hard");
    let before = site.stamps("");
    let run = site.run(&["check"]).success();
    assert_eq!(
        run.stdout,
        "ok: 10 posts published, 1 scheduled, 1 drafts\n"
    );
    assert!(site.stamps("").eq(&before), "check wrote or touched a file");
    assert!(!site.exists("public") && !site.exists("state"));
    assert_eq!(site.stray_files(), Vec::<String>::new());
}

#[test]
fn check_warns_about_unknown_front_matter_keys() {
    let site = Site::fixture("hard");
    let run = site.run(&["check"]).success();
    assert_eq!(
        run.stderr,
        "warning: content/posts/2025-05-01-unsafe.md:7: unknown front matter key `mood` (ignored)\n"
    );
}

#[test]
fn check_lists_every_problem() {
    let site = built_basic();
    site.copy_fixture_file("invalid/missing-title.md", "content/posts/missing-title.md");
    site.copy_fixture_file("invalid/invalid-date.md", "content/posts/invalid-date.md");
    let run = site.run(&["check"]).code(1);
    assert_eq!(
        run.stderr_lines(),
        [
            "content/posts/invalid-date.md:3: invalid date \"2025-13-08\": expected 2025-05-08, 2025-05-08 14:30 or RFC 3339",
            "content/posts/missing-title.md:1: missing `title` in front matter",
        ]
    );
}

#[test]
fn a_problem_in_a_list_names_that_lists_line() {
    // The newsletter fixture's config: `lists:` on line 17, the 2nd list (rust) on line 22 with
    // its CSV on line 25, the 3rd (cooking) on line 26 with its tags on line 28.
    let site = Site::fixture("newsletter");
    let config = site.read("config/herald.yaml");
    site.write(
        "config/herald.yaml",
        config.replace("tags: [cooking]", "tags: [\"!!\"]"),
    );
    let run = site.run(&["check"]).code(1);
    assert_eq!(
        run.stderr_lines(),
        [
            "config/herald.yaml:28: list \"cooking\": tag \"!!\" has no letters or digits",
            "config/herald.yaml:28: list \"cooking\" has no tags: use [\"*\"] for every post",
        ]
    );

    site.write("config/herald.yaml", &config);
    site.remove("config/subscribers/rust.csv");
    // `check` and `publish` (and its dry run) alike; publish then mails nothing.
    for args in [&["check"][..], &["publish", "--dry-run"], &["publish"]] {
        let run = site.run(args).code(1);
        assert_eq!(
            run.stderr_lines(),
            [
                "config/herald.yaml:25: list \"rust\": cannot read config/subscribers/rust.csv: No such file or directory (os error 2)"
            ],
            "herald {args:?}"
        );
    }
    assert!(!site.exists("outbox"), "nothing was mailed");
}

#[test]
fn one_post_can_have_several_problems() {
    let site = Site::fixture("basic");
    site.write(
        "content/posts/bad.md",
        "---\ntitle: \"\"\ndate: soon\ntags: [ok, \"!!\"]\n---\nText.\n",
    );
    let run = site.run(&["check"]).code(1);
    assert_eq!(
        run.stderr_lines(),
        [
            "content/posts/bad.md:2: `title` is empty",
            "content/posts/bad.md:3: invalid date \"soon\": expected 2025-05-08, 2025-05-08 14:30 or RFC 3339",
            "content/posts/bad.md:4: tag \"!!\" has no letters or digits",
        ]
    );
}

#[test]
fn build_prints_what_it_did() {
    let site = Site::fixture("basic");
    let run = site.build();
    assert_eq!(
        run.stdout,
        "built 2 posts, 2 tags: 10 files written, 0 unchanged\n"
    );
    let run = site.build();
    assert_eq!(
        run.stdout,
        "built 2 posts, 2 tags: 0 files written, 10 unchanged\n"
    );
    let quiet = site.run(&["-q", "build"]).success();
    assert_eq!((quiet.stdout.as_str(), quiet.stderr.as_str()), ("", ""));
}

#[test]
fn bad_yaml_in_front_matter() {
    assert_rejected(
        "bad-yaml.md",
        "content/posts/bad-yaml.md",
        "content/posts/bad-yaml.md:4: invalid front matter: did not find expected ',' or ']'",
    );
}

#[test]
fn bad_yaml_names_the_line_of_the_mistake() {
    assert_rejected(
        "bad-indentation.md",
        "content/posts/indented.md",
        "content/posts/indented.md:3: invalid front matter: mapping values are not allowed in this context",
    );
}

#[test]
fn unclosed_front_matter() {
    assert_rejected(
        "unclosed-front-matter.md",
        "content/posts/unclosed.md",
        "content/posts/unclosed.md:1: unclosed front matter: no closing `---` line after the YAML",
    );
}

#[test]
fn missing_front_matter() {
    let site = built_basic();
    site.write(
        "content/posts/plain.md",
        "# Just Markdown\n\nNo front matter.\n",
    );
    let run = site.run(&["build"]).code(1);
    assert_eq!(
        run.stderr,
        "content/posts/plain.md:1: missing front matter: a post starts with a line `---`, then YAML (title, date), then `---`\n"
    );
}

#[test]
fn missing_title() {
    assert_rejected(
        "missing-title.md",
        "content/posts/missing-title.md",
        "content/posts/missing-title.md:1: missing `title` in front matter",
    );
}

#[test]
fn missing_date() {
    assert_rejected(
        "missing-date.md",
        "content/posts/missing-date.md",
        "content/posts/missing-date.md:1: missing `date` in front matter",
    );
}

#[test]
fn invalid_date() {
    assert_rejected(
        "invalid-date.md",
        "content/posts/2025-03-01-invalid-date.md",
        "content/posts/2025-03-01-invalid-date.md:3: invalid date \"2025-13-08\": expected 2025-05-08, 2025-05-08 14:30 or RFC 3339",
    );
}

#[test]
fn duplicate_slug_names_both_files() {
    assert_rejected(
        "duplicate-slug.md",
        "content/posts/nested/duplicate.md",
        "content/posts/nested/duplicate.md:4: slug \"first\" is also the slug of content/posts/2025-01-01-first.md: every post needs its own slug",
    );
}

#[test]
fn invalid_utf8() {
    assert_rejected(
        "invalid-utf8.md",
        "content/posts/latin1.md",
        "content/posts/latin1.md:6: not valid UTF-8",
    );
}

#[test]
fn tag_without_letters_or_digits() {
    assert_rejected(
        "dot-dot-tag.md",
        "content/posts/dots.md",
        "content/posts/dots.md:4: tag \"..\" has no letters or digits",
    );
}

#[test]
fn unknown_config_key_with_did_you_mean() {
    assert_rejected(
        "unknown-config-key.yaml",
        "config/herald.yaml",
        "config/herald.yaml:7: unknown key `formts` in `feeds` (did you mean `formats`?)",
    );
}

#[test]
fn unknown_top_level_config_key() {
    let site = built_basic();
    let config = site.read("config/herald.yaml") + "feed:\n  limit: 3\n";
    site.write("config/herald.yaml", config);
    let run = site.run(&["build"]).code(1);
    assert_eq!(
        run.stderr,
        "config/herald.yaml:6: unknown key `feed` (did you mean `feeds`?)\n"
    );
}

#[test]
fn config_problems_are_all_listed_with_their_lines() {
    let site = built_basic();
    site.write(
        "config/herald.yaml",
        "site:\n  title: Basic\n  base_url: not a url\n  timezone: Mars/Olympus\nfeeds:\n  formats: [rss, gopher]\n",
    );
    let run = site.run(&["check"]).code(1);
    assert_eq!(
        run.stderr_lines(),
        [
            "config/herald.yaml:3: invalid base_url \"not a url\": expected an absolute http(s) URL",
            "config/herald.yaml:4: unknown timezone \"Mars/Olympus\": expected an IANA name such as Europe/Berlin",
            "config/herald.yaml:6: unknown feed format \"gopher\": expected rss, atom or json",
        ]
    );
}

#[test]
fn a_missing_config_names_its_path() {
    let site = Site::empty();
    let run = site.run(&["build"]).code(1);
    assert!(run.stderr.starts_with("herald: "), "{run}");
    assert!(run.stderr.contains("config/herald.yaml"), "{run}");
    assert!(!site.exists("public"));
}

#[test]
fn usage_errors_exit_2() {
    let site = Site::fixture("basic");
    for args in [
        &["frobnicate"][..],
        &["build", "--bogus"],
        &["--now", "yesterday", "build"],
        &["init"],
        &[],
    ] {
        let run = site.run_bare(args).code(2);
        assert!(
            !run.stderr.is_empty(),
            "{args:?}: a usage error explains itself"
        );
    }
    assert!(!site.exists("public"));
}

#[test]
fn odd_input_never_panics() {
    let cases: &[&[u8]] = &[
        b"",
        b"---",
        b"---\n---\n",
        b"---\n- a list\n---\n",
        b"---\ntitle: {a: map}\ndate: 2025-01-01\n---\n",
        b"---\ntitle: x\ndate: 20250101\n---\n",
        b"---\ntitle: x\ndate: [2025]\n---\n",
        b"---\ntitle: x\ndate: 2025-01-01\ntags: {a: b}\n---\n",
        b"---\ntitle: x\ndate: 2025-01-01\nimage: javascript:alert(1)\n---\n",
        b"---\ntitle: x\ndate: 2025-01-01\nslug: '!!!'\n---\n",
        b"---\ntitle: x\ndate: 2025-01-01\nslug: ../../../etc/passwd\n---\n",
        b"---\ntitle: x\ndate: 2025-01-01\ndraft: maybe\n---\n",
        b"---\ntitle: x\ndate: 9999-12-31T23:59:59+14:00\n---\n",
        b"---\ntitle: x\ndate: 0001-01-01\n---\n",
        b"---\ntitle: x\ndate: 2025-02-30\n---\n",
        b"---\ntitle: \"\\0\\x01\"\ndate: 2025-01-01\n---\n",
        b"---\ntitle: x\ndate: 2025-01-01\n---\n\x00\x01\x02 <<<>>> ]]> &&& \xef\xbf\xbf",
        b"\xef\xbb\xbf\xef\xbb\xbf---\ntitle: x\n---\n",
        b"---\r---\r",
        b"---\ntitle: &a x\ndate: *a\n---\n",
        b"---\ntitle: !!binary aGk=\ndate: 2025-01-01\n---\n",
    ];
    for (i, bytes) in cases.iter().enumerate() {
        let site = Site::fixture("basic");
        site.write(&format!("content/posts/case-{i}.md"), bytes);
        for cmd in ["check", "build"] {
            let run: Run = site.run(&[cmd]).no_panic();
            assert!(
                matches!(run.code, Some(0 | 1)),
                "case {i} {:?}: herald {cmd} exited {:?}\n{run}",
                String::from_utf8_lossy(bytes),
                run.code
            );
        }
        assert_eq!(site.stray_files(), Vec::<String>::new(), "case {i}");
    }
}

#[test]
fn odd_config_never_panics() {
    let cases = [
        "",
        "site: 3\n",
        "site:\n  title: T\n",
        "site:\n  title: T\n  base_url: https://example.com/\nfeeds:\n  limit: -1\n",
        "site:\n  title: T\n  base_url: https://example.com/\nfeeds:\n  formats: []\n",
        "site:\n  title: T\n  base_url: https://example.com/\n  permalink: /{slug}\n",
        "site:\n  title: T\n  base_url: https://example.com/\n  permalink: /p/\n",
        "site:\n  title: T\n  base_url: https://example.com/\noutput_dir: ../outside\n",
        "site:\n  title: T\n  base_url: \"https://例え.jp/ブログ/\"\n",
        "site:\n  title: \"\\t\"\n  base_url: https://example.com/\n",
    ];
    for (i, text) in cases.iter().enumerate() {
        let site = Site::fixture("basic");
        site.write("config/herald.yaml", text);
        for cmd in ["check", "build"] {
            let run = site.run(&[cmd]).no_panic();
            assert!(
                matches!(run.code, Some(0 | 1)),
                "config case {i} {text:?}: herald {cmd}\n{run}"
            );
        }
    }
}

#[test]
fn without_a_terminal_there_is_no_progress_bar_only_plain_lines() {
    // Under cron stderr is a pipe: no carriage returns, no escape sequences, just log lines.
    let site = Site::example().at("2026-11-25T12:00:00Z");
    let run = site.run(&["-v", "publish"]).success();
    assert!(!run.stderr.contains('\r'), "{run}");
    assert!(!run.stderr.contains('\u{1b}'), "{run}");
    assert!(
        run.stderr
            .lines()
            .all(|l| l.starts_with("herald: ") || l.starts_with("warning: ")),
        "{run}"
    );
    assert!(
        run.stderr
            .contains("herald: sent lead-magnets-that-convert to"),
        "{run}"
    );
}

#[test]
fn on_a_terminal_build_and_send_show_progress_bars() {
    // An interactive run: util-linux `script` gives herald a pseudo-terminal.
    let site = Site::example().at("2026-11-25T12:00:00Z");
    let run = site.run_on_terminal(&["publish"]).success();
    for bar in ["writing [", "sending ["] {
        assert!(run.stdout.contains(bar), "no {bar:?} bar\n{run}");
    }
    assert!(
        run.stdout.contains("6/6"),
        "the send bar reaches its end\n{run}"
    );
    assert!(
        run.stdout.contains("\r\u{1b}[2K"),
        "the bar redraws in place\n{run}"
    );
    assert!(
        run.stdout.contains("mail: 6 sent, 0 deferred, 0 failed"),
        "{run}"
    );
    let mails = site
        .files("outbox")
        .into_keys()
        .filter(|k| k.ends_with(".eml"))
        .count();
    assert_eq!(mails, 6, "{run}");

    // -q (what a crontab line uses) silences the bars on a terminal too.
    let quiet = Site::example().at("2026-11-25T12:00:00Z");
    let run = quiet.run_on_terminal(&["-q", "publish"]).success();
    assert!(!run.stdout.contains(" ["), "{run}");
    assert!(!run.stdout.contains('\u{1b}'), "{run}");
}

#[test]
fn check_reports_bad_posts_templates_and_csv_rows_together() {
    let site = Site::example();
    site.write(
        "content/posts/broken.md",
        "---\ntitle: Broken\n---\nno date\n",
    );
    site.write("templates/email.txt.hbs", "{{#if post.title}}unclosed\n");
    site.write(
        "config/subscribers/growth.csv",
        "email,name\nben@example.com,Ben\nnot-an-address,X\n",
    );
    let run = site.run(&["check"]).code(1);
    assert!(
        run.stderr
            .contains("content/posts/broken.md:1: missing `date` in front matter"),
        "{run}"
    );
    assert!(run.stderr.contains("templates/email.txt.hbs:"), "{run}");
    assert!(
        run.stderr.contains("config/subscribers/growth.csv:3: row skipped: \"not-an-address\" is not an email address"),
        "{run}"
    );
    assert!(
        !site.exists("public") && !site.exists("state") && !site.exists("outbox"),
        "check writes nothing"
    );
}

#[test]
fn an_unchanged_site_is_not_loaded_again_until_something_changes() {
    let site = Site::example().at("2026-11-25T12:00:00Z");
    let unchanged = "nothing changed since the last build";
    // Whether `command` loaded the site (instead of trusting the last build's stamp).
    let loads = |command: &str| {
        let run = site.run(&["-v", command]).success();
        !run.stderr.contains(unchanged)
    };
    assert!(loads("publish"));
    let again = site.run(&["-v", "publish"]).success();
    assert!(again.stderr.contains(unchanged), "{again}");
    assert!(
        again.stdout.contains("0 files written, 16 unchanged"),
        "{again}"
    );
    // Any post edited: loaded and built again.
    let post = "content/posts/2026-11-18-lead-magnets-that-convert.md";
    site.write(
        post,
        site.read(post)
            .replace("Actually Convert", "Really Convert"),
    );
    assert!(loads("build"));
    assert!(
        site.read("public/rss.xml")
            .contains("Lead Magnets That Really Convert")
    );
    // A feed removed by hand: built again too.
    site.remove("public/atom.xml");
    assert!(loads("build"));
    assert!(site.exists("public/atom.xml"));
    assert!(!loads("build"));
    // A template edited (or added where the built-in one served): loaded again, since the
    // newsletter renders with it.
    let template = "templates/email.txt.hbs";
    site.write(template, format!("{}\n-- \n", site.read(template)));
    assert!(loads("build"));
    // The config edited: loaded again.
    let config = "config/herald.yaml";
    site.write(config, format!("{}\n# edited\n", site.read(config)));
    assert!(loads("build"));
}

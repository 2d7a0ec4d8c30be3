//! [`Site`]: a herald site in a fresh temp dir, and [`Run`]: one run of the real binary on it
//! (mdBook's `BookTest`, zola's test sites).
//!
//! ```ignore
//! let site = Site::fixture("basic");                  // copy tests/fixtures/basic/
//! site.write("content/posts/new.md", "---\ntitle: New\ndate: 2025-03-01\n---\nHi\n");
//! let run = site.run(&["build"]).success();            // --site <dir> --now NOW build
//! assert!(site.read("public/rss.xml").contains("<title>New</title>"));
//! ```
//!
//! The temp dir holds the site in `site/` and nothing else; the binary runs with the temp dir
//! (not the site) as its working directory, so a command that ignored `--site` fails, and
//! [`Site::stray_files`] shows anything written outside the site. Each run gets a fixed `--now`
//! ([`NOW`] unless changed with [`Site::at`]), `TZ` set to an odd zone (no timestamp may depend
//! on the machine's zone), `HOME` pointing at a folder that does not exist (no test reads the
//! home directory), no `HERALD_*` variables, and no stdin.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use tempfile::TempDir;

/// The `--now` every run gets unless the test picks another one.
pub const NOW: &str = "2025-06-01T00:00:00Z";

/// A run that takes longer than this is killed and fails the test (no test may hang CI).
const TIMEOUT: Duration = Duration::from_secs(120);

/// A site in a temp dir, removed when the value is dropped.
pub struct Site {
    tmp: TempDir,
    root: PathBuf,
    now: String,
}

impl Site {
    /// A copy of `tests/fixtures/NAME/`.
    pub fn fixture(name: &str) -> Site {
        let site = Site::empty();
        let from = fixtures_dir().join(name);
        assert!(from.is_dir(), "no fixture site {}", from.display());
        copy_dir(&from, &site.root);
        site
    }

    /// A copy of the repository's own example site: `config/`, `content/` and, if present,
    /// `templates/` (never `public/`, `state/` or `outbox/`).
    pub fn example() -> Site {
        let site = Site::empty();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for dir in ["config", "content", "templates"] {
            if repo.join(dir).is_dir() {
                copy_dir(&repo.join(dir), &site.root.join(dir));
            }
        }
        site
    }

    /// An empty site folder (for `init`, or a site written file by file).
    pub fn empty() -> Site {
        let tmp = tempfile::Builder::new()
            .prefix("herald-test-")
            .tempdir()
            .expect("temp dir");
        let root = tmp.path().join("site");
        std::fs::create_dir(&root).expect("site dir");
        Site {
            tmp,
            root,
            now: NOW.to_string(),
        }
    }

    /// Uses `now` (RFC 3339) as `--now` from here on.
    pub fn at(mut self, now: &str) -> Site {
        self.set_now(now);
        self
    }

    /// Uses `now` (RFC 3339) as `--now` from here on.
    pub fn set_now(&mut self, now: &str) {
        self.now = now.to_string();
    }

    /// The site root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `rel` under the site root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Writes (or overwrites) `rel`, creating folders as needed.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> &Site {
        let path = self.path(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{}: {e}", parent.display()));
        }
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self
    }

    /// Copies `tests/fixtures/<fixture>` (a single file) to `rel` in the site.
    pub fn copy_fixture_file(&self, fixture: &str, rel: &str) -> &Site {
        let from = fixtures_dir().join(fixture);
        let bytes = std::fs::read(&from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
        self.write(rel, bytes)
    }

    /// Removes the file `rel`.
    pub fn remove(&self, rel: &str) -> &Site {
        let path = self.path(rel);
        std::fs::remove_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self
    }

    /// `rel` as UTF-8 text.
    pub fn read(&self, rel: &str) -> String {
        String::from_utf8(self.read_bytes(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    /// `rel` as bytes.
    pub fn read_bytes(&self, rel: &str) -> Vec<u8> {
        let path = self.path(rel);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `rel` parsed as JSON.
    pub fn read_json(&self, rel: &str) -> serde_json::Value {
        serde_json::from_slice(&self.read_bytes(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
    }

    pub fn exists(&self, rel: &str) -> bool {
        self.path(rel).exists()
    }

    /// Every file under `rel` (a folder; empty if it does not exist), by its path relative to
    /// the site root with `/` separators, with its bytes.
    pub fn files(&self, rel: &str) -> BTreeMap<String, Vec<u8>> {
        self.stamps(rel)
            .into_iter()
            .map(|(k, (bytes, _))| (k, bytes))
            .collect()
    }

    /// Like [`Site::files`], with each file's modification time: compare two of these to
    /// show that a run left a folder exactly as it was.
    pub fn stamps(&self, rel: &str) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
        let mut out = BTreeMap::new();
        walk(&self.root, &self.path(rel), &mut out);
        out
    }

    /// Paths written next to the site instead of inside it (should always be empty).
    pub fn stray_files(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(self.tmp.path()).expect("temp dir") {
            let e = e.expect("temp dir entry");
            if e.path() != self.root {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
        out
    }

    /// The binary with the test environment, `--site <root> --now <now>` and `args`; not run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare_command(&[]);
        cmd.arg("--site")
            .arg(&self.root)
            .arg("--now")
            .arg(&self.now)
            .args(args);
        cmd
    }

    /// The binary with the test environment and exactly `args` (no `--site`, no `--now`).
    pub fn bare_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
        cmd.current_dir(self.tmp.path())
            .env("TZ", "Pacific/Chatham")
            .env("HOME", self.tmp.path().join("no-home"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .args(args);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("HERALD_") {
                cmd.env_remove(key);
            }
        }
        cmd
    }

    /// Runs `herald --site <root> --now <now> ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        run(self.command(args), args)
    }

    /// Runs `herald ARGS` (as [`Site::run`]) with `env` added to its environment.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        run(cmd, args)
    }

    /// Runs `herald ARGS`, which must succeed and print JSON on stdout (`status --json`,
    /// `subscribers list --json`), and returns that JSON.
    pub fn run_json(&self, args: &[&str]) -> serde_json::Value {
        let run = self.run(args).success();
        serde_json::from_str(&run.stdout)
            .unwrap_or_else(|e| panic!("herald {args:?}: not JSON: {e}\n{run}"))
    }

    /// Runs `herald ARGS` (as [`Site::run`]) with a stdout reader that takes at most `keep`
    /// bytes and then closes the pipe, as `| head -c KEEP` does; with `keep` 0 the pipe is
    /// closed before herald starts, so its first write already finds no reader. `stdout` holds
    /// what was read.
    pub fn run_head(&self, args: &[&str], keep: usize) -> Run {
        Spawned::start_with(self.command(args), args, Some(keep)).finish()
    }

    /// Starts `herald ARGS` (as [`Site::run`]) in the background.
    pub fn spawn(&self, args: &[&str]) -> Spawned {
        Spawned::start(self.command(args), args)
    }

    /// Switches the newsletter from the fixture's `transport: outbox` to `transport: smtp`,
    /// with `smtp_yaml` (an `smtp:` block) appended to the config.
    pub fn use_smtp(&self, smtp_yaml: &str) -> &Site {
        let config = self.read("config/herald.yaml");
        assert!(
            config.contains("transport: outbox"),
            "the fixture's config has no `transport: outbox`"
        );
        let config = config.replace("transport: outbox", "transport: smtp");
        self.write("config/herald.yaml", format!("{config}\n{smtp_yaml}"))
    }

    /// Runs `herald ARGS` with nothing added (usage errors, `init`).
    pub fn run_bare(&self, args: &[&str]) -> Run {
        run(self.bare_command(args), args)
    }

    /// `program ARGS` with the environment and working directory every herald run gets: for
    /// wrapping herald in another program.
    pub fn wrap(&self, program: &str, args: &[&str]) -> Command {
        let base = self.command(&[]);
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(self.tmp.path())
            .stdin(Stdio::null());
        for (key, value) in base.get_envs() {
            match value {
                Some(v) => cmd.env(key, v),
                None => cmd.env_remove(key),
            };
        }
        cmd
    }

    /// Runs `herald --site <root> --now <now> ARGS` from `sh`, after `shell` (a `ulimit`, a
    /// `umask`) has set up the process.
    pub fn run_after(&self, shell: &str, args: &[&str]) -> Run {
        let herald = self.command(args);
        let script = format!("{shell}; exec \"$0\" \"$@\"");
        let mut cmd = self.wrap("sh", &["-c", &script]);
        cmd.arg(herald.get_program()).args(herald.get_args());
        run(cmd, args)
    }

    /// Runs `herald --site <root> --now <now> ARGS` on a pseudo-terminal, as from an
    /// interactive shell, through util-linux `script`. stdout and stderr both reach the
    /// terminal, so [`Run::stdout`] holds everything, escape sequences and carriage returns
    /// included; [`Run::stderr`] holds what `script` itself said.
    pub fn run_on_terminal(&self, args: &[&str]) -> Run {
        let herald = self.command(args);
        let quote =
            |s: &std::ffi::OsStr| format!("'{}'", s.to_string_lossy().replace('\'', "'\\''"));
        let line: Vec<String> = std::iter::once(herald.get_program())
            .chain(herald.get_args())
            .map(quote)
            .collect();
        let cmd = self.wrap("script", &["-q", "-e", "-c", &line.join(" "), "/dev/null"]);
        run(cmd, args)
    }

    /// `herald build`, which must succeed.
    pub fn build(&self) -> Run {
        self.run(&["build"]).success()
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub args: Vec<String>,
    /// `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts exit code 0 and no panic.
    #[track_caller]
    pub fn success(self) -> Run {
        self.code(0)
    }

    /// Asserts exit code `code` and no panic.
    #[track_caller]
    pub fn code(self, code: i32) -> Run {
        assert_eq!(
            self.code,
            Some(code),
            "herald {:?}: wrong exit code\n{self}",
            self.args
        );
        self.no_panic()
    }

    /// Asserts that stderr shows no panic: never a panic, for any input.
    #[track_caller]
    pub fn no_panic(self) -> Run {
        assert!(
            !self.stderr.contains("panicked"),
            "herald {:?} panicked\n{self}",
            self.args
        );
        self
    }

    /// stderr, one line per entry.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit: {:?}\n--- stdout\n{}--- stderr\n{}---",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` to its end (at most [`TIMEOUT`]); `args` name it in messages.
pub fn run(cmd: Command, args: &[&str]) -> Run {
    Spawned::start(cmd, args).finish()
}

/// A herald running in the background, its output collected as it goes; killed and reaped if
/// the test ends (or fails) before it does.
pub struct Spawned {
    child: Option<Child>,
    args: Vec<String>,
    out: Option<JoinHandle<Vec<u8>>>,
    err: Option<JoinHandle<Vec<u8>>>,
}

impl Spawned {
    fn start(cmd: Command, args: &[&str]) -> Spawned {
        Spawned::start_with(cmd, args, None)
    }

    /// As [`Spawned::start`]; with `head`, stdout is read up to that many bytes and then closed
    /// (0: closed before the start).
    fn start_with(mut cmd: Command, args: &[&str], head: Option<usize>) -> Spawned {
        if head == Some(0) {
            let (reader, writer) = std::io::pipe().expect("a pipe");
            drop(reader);
            cmd.stdout(writer);
        } else {
            cmd.stdout(Stdio::piped());
        }
        cmd.stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start herald");
        let limit = head.map_or(u64::MAX, |n| n as u64);
        let collect = |pipe: Box<dyn Read + Send>, limit: u64| {
            std::thread::spawn(move || {
                let mut s = Vec::new();
                // Reading ends at `limit`, and the pipe is closed when `pipe` is dropped.
                let _ = pipe.take(limit).read_to_end(&mut s);
                s
            })
        };
        let out = match child.stdout.take() {
            Some(pipe) => collect(Box::new(pipe), limit),
            None => std::thread::spawn(Vec::new),
        };
        let err = collect(Box::new(child.stderr.take().expect("stderr")), u64::MAX);
        Spawned {
            child: Some(child),
            args: args.iter().map(|a| a.to_string()).collect(),
            out: Some(out),
            err: Some(err),
        }
    }

    fn child(&mut self) -> &mut Child {
        self.child.as_mut().expect("a running herald")
    }

    /// True while the process has not exited.
    pub fn running(&mut self) -> bool {
        self.child().try_wait().expect("wait for herald").is_none()
    }

    /// `kill -9` (SIGKILL) and reap it; asserts that the signal, not an exit, ended it.
    pub fn kill9(mut self) {
        let child = self.child();
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("wait for herald");
        assert!(status.code().is_none(), "killed by a signal: {status:?}");
    }

    /// Waits for the exit (at most [`TIMEOUT`], then the test fails) and returns the run.
    pub fn finish(mut self) -> Run {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child().try_wait().expect("wait for herald") {
                break status;
            }
            if start.elapsed() > TIMEOUT {
                panic!("herald {:?} did not finish within {TIMEOUT:?}", self.args);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        self.child = None;
        let text = |h: Option<JoinHandle<Vec<u8>>>| {
            let bytes = h.expect("a reader").join().expect("reader thread");
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Run {
            args: std::mem::take(&mut self.args),
            code: status.code(),
            stdout: text(self.out.take()),
            stderr: text(self.err.take()),
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `tests/fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        }
    }
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (Vec<u8>, SystemTime)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            walk(root, &path, out);
        } else {
            let rel = path.strip_prefix(root).expect("below root");
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>();
            let meta = std::fs::metadata(&path).expect("metadata");
            let bytes = std::fs::read(&path).expect("read");
            out.insert(rel.join("/"), (bytes, meta.modified().expect("mtime")));
        }
    }
}

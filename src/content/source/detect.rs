//! `herald init --from DIR`: recognise an existing Hugo, Jekyll, Zola or Eleventy blog by its
//! config files, read from them what herald needs (title, address, language, time zone, URL
//! rules, where the posts are), and word the `herald.yaml` that lets herald read the blog as it
//! is, with the advice to print after it.
//!
//! Only reads. Nothing here prints or writes; `commands/init.rs` does both.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::config::{FeedFormat, OPML_FILE};
use crate::error::{Error, Location, Result, join_names};

pub use crate::config::Generator;

/// One of four values by generator (herald's own sites are never detected).
fn pick<T>(g: Generator, hugo: T, jekyll: T, zola: T, eleventy: T) -> T {
    match g.name() {
        "hugo" => hugo,
        "jekyll" => jekyll,
        "zola" => zola,
        _ => eleventy,
    }
}

/// The generator's name as people write it.
fn proper_name(g: Generator) -> &'static str {
    pick(g, "Hugo", "Jekyll", "Zola", "Eleventy")
}

/// What `herald init --from` found in an existing blog. Paths are relative to `dir` and
/// `/`-separated, as `herald.yaml` writes them.
#[derive(Debug, Clone)]
pub struct Detected {
    pub generator: Generator,
    /// The blog's folder, as given.
    pub dir: std::path::PathBuf,
    /// The config files read, relative to `dir`, in the order read.
    pub config_files: Vec<String>,
    /// `site.title`; `None` when the blog names none (a placeholder is written).
    pub title: Option<String>,
    /// `site.base_url`: absolute http(s), ending with `/`; `None` when missing or unusable
    /// (a placeholder is written and `warnings` says why).
    pub base_url: Option<String>,
    pub description: Option<String>,
    /// `site.language`, `en` when none is set.
    pub language: String,
    /// `site.timezone`: an IANA name, `UTC` when none (or none herald knows) is set.
    pub timezone: String,
    /// Jekyll: `site.permalink`, its style name or `:token` pattern.
    pub permalink: Option<String>,
    /// Hugo: `site.permalinks`, section -> pattern.
    pub permalinks: BTreeMap<String, String>,
    /// Hugo: `uglyURLs` is on (for the posts' section).
    pub ugly_urls: bool,
    /// `content.root`: the generator's content root.
    pub content_root: String,
    /// `content_dir`: where the posts are.
    pub content_dir: String,
    /// `content.summary_divider`, only when the blog configures one.
    pub summary_divider: Option<String>,
    /// `output_dir`: a folder the generator publishes as it is.
    pub output_dir: String,
    /// The feeds went into a `feeds/` subfolder of the published folder, because herald's file
    /// names were taken there; says by what.
    pub feeds_moved: Option<String>,
    /// `feeds.exclude_tags` (Eleventy's collection tags).
    pub exclude_tags: Vec<String>,
    /// Where each `site` value came from (`title` -> "_config.yml `title`"), for the comments.
    pub origin: BTreeMap<&'static str, String>,
    /// Changes to the blog the owner must make by hand (herald makes none), one text each.
    pub steps: Vec<String>,
    /// What the owner should know: placeholders written, settings herald cannot follow.
    pub warnings: Vec<String>,
    /// The lines of the blog's `.gitignore` as they are, trimmed (`advice` leaves these out).
    pub ignored: Vec<String>,
}

impl Detected {
    fn new(generator: Generator, dir: &Path) -> Detected {
        Detected {
            generator,
            dir: dir.to_path_buf(),
            config_files: Vec::new(),
            title: None,
            base_url: None,
            description: None,
            language: "en".into(),
            timezone: "UTC".into(),
            permalink: None,
            permalinks: BTreeMap::new(),
            ugly_urls: false,
            content_root: ".".into(),
            content_dir: ".".into(),
            summary_divider: None,
            output_dir: ".".into(),
            feeds_moved: None,
            exclude_tags: Vec::new(),
            origin: BTreeMap::new(),
            steps: Vec::new(),
            warnings: Vec::new(),
            ignored: Vec::new(),
        }
    }
}

/// The placeholder written when the blog's address is not found.
pub const PLACEHOLDER_URL: &str = "https://example.com/";

/// The file names herald writes into `output_dir`, besides `tags/`: each format's, then the
/// OPML.
fn feed_files() -> impl Iterator<Item = &'static str> {
    FeedFormat::ALL
        .iter()
        .map(|f| f.file_name())
        .chain([OPML_FILE])
}

/// The name of Zola's feed when its config names none (`feed_filenames`): Zola's default, which
/// happens to be herald's Atom file name too.
const ZOLA_DEFAULT_FEED: &str = "atom.xml";

const HUGO_EXTS: [&str; 4] = ["toml", "yaml", "yml", "json"];
const JEKYLL_FILES: [&str; 3] = ["_config.yml", "_config.yaml", "_config.toml"];
const ELEVENTY_FILES: [&str; 7] = [
    ".eleventy.js",
    "eleventy.config.js",
    "eleventy.config.mjs",
    "eleventy.config.cjs",
    "eleventy.config.ts",
    "eleventy.config.mts",
    "eleventy.config.cts",
];

const LOOKED_FOR: &str = "herald init --from looked for:\n  \
    Hugo: hugo.toml, hugo.yaml, hugo.yml or hugo.json; config.toml, config.yaml, config.yml or \
    config.json with baseURL; a config/_default/ folder\n  \
    Jekyll: _config.yml, _config.yaml or _config.toml\n  \
    Zola: zola.toml, or config.toml with base_url\n  \
    Eleventy: eleventy.config.js, .mjs or .cjs (or .ts, .mts, .cts), or .eleventy.js";

/// Recognises the blog in `dir` and reads its settings.
///
/// Errors: `dir` is not a folder; no generator or more than one is recognised (the message
/// lists what was looked for); a config file does not parse (with its file and line).
pub fn detect(dir: &Path) -> Result<Detected> {
    let meta = std::fs::metadata(dir).map_err(|e| Error::io(dir, e))?;
    if !meta.is_dir() {
        return Err(Error::msg(format!("{} is not a folder", dir.display())));
    }
    let mut found: Vec<(Generator, String)> = Vec::new();
    // A config.* that does not parse may be some other tool's; it only matters when nothing
    // else is recognised.
    let mut unreadable: Option<Error> = None;
    let mut neither = Vec::new();
    for ext in HUGO_EXTS {
        let name = format!("hugo.{ext}");
        if dir.join(&name).is_file() {
            found.push((Generator::Hugo, name));
        }
    }
    for ext in HUGO_EXTS {
        let name = format!("config.{ext}");
        if !dir.join(&name).is_file() {
            continue;
        }
        let value = match parse_file(dir, &name) {
            Ok(v) => v,
            Err(e) => {
                unreadable.get_or_insert(e);
                continue;
            }
        };
        let hugo = has_hugo_base_url(&lower_keys(value.clone()));
        let zola = ext == "toml" && value.get("base_url").is_some();
        if hugo {
            found.push((Generator::Hugo, name.clone()));
        }
        if zola {
            found.push((Generator::Zola, name.clone()));
        }
        if !hugo && !zola {
            neither.push(name);
        }
    }
    if dir.join("config").join("_default").is_dir() {
        found.push((Generator::Hugo, "config/_default/".into()));
    }
    for name in JEKYLL_FILES {
        if dir.join(name).is_file() {
            found.push((Generator::Jekyll, name.into()));
        }
    }
    if dir.join("zola.toml").is_file() {
        found.push((Generator::Zola, "zola.toml".into()));
    }
    for name in ELEVENTY_FILES {
        if dir.join(name).is_file() {
            found.push((Generator::Eleventy, name.into()));
        }
    }

    let mut generators: Vec<Generator> = Vec::new();
    for (g, _) in &found {
        if !generators.contains(g) {
            generators.push(*g);
        }
    }
    match generators.as_slice() {
        [] => {
            if let Some(e) = unreadable {
                return Err(e);
            }
            let mut msg = format!(
                "{}: found no Hugo, Jekyll, Zola or Eleventy blog there",
                dir.display()
            );
            for name in neither {
                msg.push_str(&format!(
                    " ({name} is there but has neither baseURL (Hugo) nor base_url (Zola))"
                ));
            }
            Err(Error::msg(format!("{msg}; {LOOKED_FOR}")))
        }
        [g] => {
            let read: fn(&Path) -> Result<Detected> =
                pick(*g, read_hugo, read_jekyll, read_zola, read_eleventy);
            let mut d = read(dir)?;
            d.ignored = std::fs::read_to_string(dir.join(".gitignore"))
                .map(|t| t.lines().map(|l| l.trim().to_string()).collect())
                .unwrap_or_default();
            Ok(d)
        }
        _ => {
            let each: Vec<String> = generators
                .iter()
                .map(|g| {
                    let files: Vec<&str> = found
                        .iter()
                        .filter(|(f, _)| f == g)
                        .map(|(_, n)| n.as_str())
                        .collect();
                    format!("{} ({})", proper_name(*g), files.join(", "))
                })
                .collect();
            Err(Error::msg(format!(
                "{}: the config files of more than one generator are there: {}; herald init \
                 --from needs exactly one. {LOOKED_FOR}",
                dir.display(),
                each.join(", ")
            )))
        }
    }
}

fn has_hugo_base_url(v: &Value) -> bool {
    v.get("baseurl").is_some()
        || v.get("languages")
            .and_then(Value::as_object)
            .is_some_and(|langs| langs.values().any(|l| l.get("baseurl").is_some()))
}

// ---------------------------------------------------------------------------------------------
// Config files: TOML, YAML and JSON, all read into one tree (serde_json's `Value`).

fn read_text(dir: &Path, rel: &str) -> Result<String> {
    let path = dir.join(rel);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::at(Location::file(&path), format!("not valid UTF-8: {e}")))?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// Parses `dir/rel` by its extension (`toml`, `yaml`/`yml`, else JSON) into a table.
fn parse_file(dir: &Path, rel: &str) -> Result<Value> {
    let text = read_text(dir, rel)?;
    let shown = dir.join(rel);
    let ext = rel
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let value = match ext.as_str() {
        "toml" => parse_toml(&shown, &text)?,
        "yaml" | "yml" => parse_yaml(&shown, &text)?,
        _ => parse_json(&shown, &text)?,
    };
    match value {
        Value::Object(_) => Ok(value),
        Value::Null => Ok(Value::Object(Map::new())),
        _ => Err(Error::at(
            Location::line(&shown, 1),
            "expected a table of settings",
        )),
    }
}

fn line_of_offset(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn parse_toml(shown: &Path, text: &str) -> Result<Value> {
    match text.parse::<toml::Table>() {
        Ok(table) => Ok(from_toml(toml::Value::Table(table))),
        Err(e) => {
            let line = e.span().map_or(1, |s| line_of_offset(text, s.start));
            let msg = e.message().trim().to_string();
            Err(Error::at(Location::line(shown, line), msg))
        }
    }
}

fn parse_yaml(shown: &Path, text: &str) -> Result<Value> {
    if let Some(line) = crate::config::too_deep(text) {
        return Err(Error::at(
            Location::line(shown, line),
            crate::config::TOO_DEEP,
        ));
    }
    let yaml_error = |e: serde_yaml::Error| {
        let line = e.location().map_or(1, |l| l.line().max(1));
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        Error::at(Location::line(shown, line), msg)
    };
    let mut value: serde_yaml::Value = serde_yaml::from_str(text).map_err(yaml_error)?;
    value.apply_merge().map_err(yaml_error)?;
    Ok(from_yaml(value))
}

fn parse_json(shown: &Path, text: &str) -> Result<Value> {
    serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        Error::at(Location::line(shown, e.line().max(1)), msg)
    })
}

fn from_toml(v: toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.into_iter().map(from_toml).collect()),
        toml::Value::Table(t) => {
            Value::Object(t.into_iter().map(|(k, v)| (k, from_toml(v))).collect())
        }
    }
}

fn from_yaml(v: serde_yaml::Value) -> Value {
    match v {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(Value::Null, Value::Number)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(s) => Value::Array(s.into_iter().map(from_yaml).collect()),
        serde_yaml::Value::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                out.insert(key, from_yaml(v));
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(t) => from_yaml(t.value),
    }
}

/// Every key in lower case, as Hugo reads its settings.
fn lower_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k.to_lowercase(), lower_keys(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(lower_keys).collect()),
        other => other,
    }
}

/// Sets `over` onto `base`: tables merge key by key, anything else is replaced.
fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (b, o) => *b = o,
    }
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

/// A setting as text: a string (trimmed, not empty), or a number or boolean written out.
fn text_at(v: &Value, path: &[&str]) -> Option<String> {
    match at(v, path)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A string, or the first string of a list.
fn first_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Array(a) => a
            .iter()
            .find_map(|x| x.as_str().filter(|s| !s.trim().is_empty()))
            .map(|s| s.trim().to_string()),
        _ => None,
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.trim().to_string()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(|s| s.trim().to_string())
            .collect(),
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Values every generator shares.

/// `base` and `rel` joined and made plain, lexically: `./content/` -> `content`,
/// `content` + `../_data` -> `_data`; `.` for the folder itself.
fn join_rel(base: &str, rel: &str) -> String {
    let rel = rel.trim();
    let absolute = rel.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    let start = if absolute { "" } else { base };
    for seg in start.split(['/', '\\']).chain(rel.split(['/', '\\'])) {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `base/rel` for a folder inside the blog (`.` + `x` is `x`).
fn sub(base: &str, rel: &str) -> String {
    join_rel(base, rel)
}

/// An absolute http(s) address ending with `/`, or why `s` is not one.
fn absolute_base(s: &str) -> std::result::Result<String, String> {
    let mut url = url::Url::parse(s.trim()).map_err(|_| "not an absolute address".to_string())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err("not an absolute http(s) address".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("has a query or fragment".into());
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url.to_string())
}

fn is_placeholder_host(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| {
            ["example.com", "example.org", "example.net"]
                .iter()
                .any(|e| h == *e || h.ends_with(&format!(".{e}")))
        })
}

/// Sets `base_url` from the blog's value `raw` (named `what`), or leaves it unset with a warning.
fn set_base_url(d: &mut Detected, raw: Option<String>, what: &str) {
    match raw {
        None => d.warnings.push(format!(
            "{what} is not set: herald.yaml has the placeholder {PLACEHOLDER_URL} as \
             site.base_url; set it to the blog's address, or every feed links there"
        )),
        Some(raw) => match absolute_base(&raw) {
            Ok(url) => {
                if is_placeholder_host(&url) {
                    d.warnings.push(format!(
                        "{what} is {url}, a placeholder: set site.base_url in herald.yaml to \
                         the blog's address"
                    ));
                }
                d.base_url = Some(url);
                d.origin.insert("base_url", what.to_string());
            }
            Err(why) => d.warnings.push(format!(
                "{what} {raw:?} is {why}: herald.yaml has the placeholder {PLACEHOLDER_URL} as \
                 site.base_url; set it to the blog's address"
            )),
        },
    }
}

fn set_text(d: &mut Detected, key: &'static str, value: Option<String>, what: &str) {
    let Some(value) = value else { return };
    d.origin.insert(key, what.to_string());
    match key {
        "title" => d.title = Some(value),
        "description" => d.description = Some(value),
        "language" => d.language = value,
        _ => {}
    }
}

fn set_timezone(d: &mut Detected, value: Option<String>, what: &str) {
    let Some(tz) = value else { return };
    if tz.parse::<chrono_tz::Tz>().is_ok() {
        d.timezone = tz;
        d.origin.insert("timezone", what.to_string());
    } else {
        d.warnings.push(format!(
            "{what} {tz:?} is not an IANA time zone name: herald.yaml says UTC; set \
             site.timezone to the zone the posts' dates are written in"
        ));
    }
}

fn warn_no_title(d: &mut Detected, what: &str) {
    if d.title.is_none() {
        d.warnings.push(format!(
            "{what} is not set: herald.yaml has the placeholder title \"My Blog\"; set site.title"
        ));
    }
}

/// The first of `candidates` (below `root`) that is a folder, else `root`.
fn posts_dir(dir: &Path, root: &str, candidates: &[String]) -> String {
    candidates
        .iter()
        .map(|c| sub(root, c))
        .find(|p| dir.join(p).is_dir())
        .unwrap_or_else(|| root.to_string())
}

/// Which of herald's file names `out` (below `dir`) already has.
fn taken_names(dir: &Path, out: &str) -> Vec<String> {
    let mut taken: Vec<String> = feed_files()
        .filter(|n| dir.join(out).join(n).exists())
        .map(|n| display_in(out, n))
        .collect();
    if dir.join(out).join("tags").is_dir() {
        taken.push(display_in(out, "tags/"));
    }
    taken
}

fn display_in(out: &str, name: &str) -> String {
    if out == "." {
        name.to_string()
    } else {
        format!("{out}/{name}")
    }
}

/// Chooses `out`, or `out/feeds` when herald's names are taken there already (by files, or by
/// feeds the generator writes: `generated`).
fn choose_output(d: &mut Detected, out: &str, generated: Vec<String>) {
    let mut taken = taken_names(&d.dir, out);
    taken.extend(generated);
    if taken.is_empty() {
        d.output_dir = out.to_string();
        return;
    }
    let moved = sub(out, "feeds");
    let reason = taken.join(", ");
    d.warnings.push(format!(
        "{reason}: herald's feed names are taken there, so herald writes its feeds into \
         {moved}/ instead: the site's feeds are /feeds/{} and so on, and tag feeds are \
         under /feeds/tags/<tag>/ rather than beside the tag pages",
        FeedFormat::Rss.file_name()
    ));
    d.output_dir = moved;
    d.feeds_moved = Some(reason);
}

// ---------------------------------------------------------------------------------------------
// Hugo

fn read_hugo(dir: &Path) -> Result<Detected> {
    let mut d = Detected::new(Generator::Hugo, dir);
    let mut cfg = Value::Object(Map::new());
    // The project file: hugo.*, else config.*; the first extension found.
    'root: for name in ["hugo", "config"] {
        for ext in HUGO_EXTS {
            let rel = format!("{name}.{ext}");
            if dir.join(&rel).is_file() {
                merge(&mut cfg, lower_keys(parse_file(dir, &rel)?));
                d.config_files.push(rel);
                break 'root;
            }
        }
    }
    // Then config/_default/ and, as `hugo build` does, config/production/ over it.
    for env in ["_default", "production"] {
        let rel = format!("config/{env}");
        if dir.join(&rel).is_dir() {
            hugo_config_dir(dir, &rel, &mut d.config_files, &mut cfg)?;
        }
    }

    let default_lang = text_at(&cfg, &["defaultcontentlanguage"]);
    let lang_key = default_lang
        .clone()
        .unwrap_or_else(|| "en".into())
        .to_lowercase();
    let lang_block = at(&cfg, &["languages", &lang_key]).cloned();
    // A language's own setting first, then the project's.
    let get = |path: &[&str]| -> Option<Value> {
        lang_block
            .as_ref()
            .and_then(|l| at(l, path))
            .or_else(|| at(&cfg, path))
            .cloned()
    };
    let text = |path: &[&str]| -> Option<String> {
        let v = get(path)?;
        text_at(&v, &[])
    };

    set_text(&mut d, "title", text(&["title"]), "Hugo's `title`");
    warn_no_title(&mut d, "Hugo's `title`");
    set_base_url(&mut d, text(&["baseurl"]), "Hugo's `baseURL`");
    let description = text(&["params", "description"])
        .map(|s| (s, "Hugo's `params.description`"))
        .or_else(|| text(&["description"]).map(|s| (s, "Hugo's `description`")));
    if let Some((s, what)) = description {
        set_text(&mut d, "description", Some(s), what);
    }
    let language = text(&["locale"])
        .map(|s| (s, "Hugo's `locale`"))
        .or_else(|| text(&["languagecode"]).map(|s| (s, "Hugo's `languageCode`")))
        .or_else(|| default_lang.map(|s| (s, "Hugo's `defaultContentLanguage`")));
    if let Some((s, what)) = language {
        set_text(&mut d, "language", Some(s), what);
    }
    set_timezone(&mut d, text(&["timezone"]), "Hugo's `timeZone`");

    // `[[module.mounts]]` replace the default folders of the components they mount.
    let mount = |target: &str| -> Option<String> {
        cfg.get("module")?
            .get("mounts")?
            .as_array()?
            .iter()
            .find(|m| text_at(m, &["target"]).as_deref() == Some(target))
            .and_then(|m| text_at(m, &["source"]))
    };
    let root = text(&["contentdir"])
        .or_else(|| mount("content"))
        .unwrap_or_else(|| "content".into());
    let root = join_rel(".", &root);
    let mut candidates = strings(get(&["params", "mainsections"]).as_ref());
    if candidates.is_empty() {
        candidates = strings(get(&["mainsections"]).as_ref());
    }
    candidates.extend(["posts", "post", "blog"].map(String::from));
    d.content_dir = posts_dir(dir, &root, &candidates);
    d.content_root = root.clone();
    let section = if d.content_dir == root {
        None
    } else {
        d.content_dir.rsplit('/').next().map(str::to_string)
    };

    if let Some(p) = get(&["permalinks"]) {
        d.permalinks = hugo_permalinks(&p, &mut d.warnings);
    }
    d.ugly_urls = match get(&["uglyurls"]) {
        Some(Value::Bool(b)) => b,
        Some(Value::Object(m)) => section
            .as_deref()
            .and_then(|s| m.get(s))
            .and_then(Value::as_bool)
            .unwrap_or(false),
        _ => false,
    };

    if let Some(langs) = cfg.get("languages").and_then(Value::as_object)
        && langs.len() > 1
    {
        d.warnings.push(format!(
            "the site has {} languages: herald reads the default one ({lang_key}) only",
            langs.len()
        ));
    }
    if get(&["defaultcontentlanguageinsubdir"]) == Some(Value::Bool(true)) {
        d.warnings.push(format!(
            "Hugo publishes the default language under /{lang_key}/ \
             (defaultContentLanguageInSubdir): check the post URLs in the feeds"
        ));
    }

    // Hugo writes its own RSS as index.xml; an output format renamed to rss or atom takes
    // herald's names, at the root and in every tag's folder.
    let mut generated = Vec::new();
    if let Some(formats) = cfg.get("outputformats").and_then(Value::as_object) {
        for (name, f) in formats {
            let base = text_at(f, &["basename"]).unwrap_or_default().to_lowercase();
            let media = text_at(f, &["mediatype"])
                .unwrap_or_default()
                .to_lowercase();
            let json = media.contains("json") || name == "json";
            if base == "rss" || base == "atom" || (base == "feed" && json) {
                generated.push(format!("Hugo's output format {name} (baseName {base})"));
            }
        }
    }
    let static_dir = first_text(get(&["staticdir"]).as_ref())
        .or_else(|| mount("static"))
        .unwrap_or_else(|| "static".into());
    choose_output(&mut d, &join_rel(".", &static_dir), generated);
    Ok(d)
}

/// Reads Hugo's config folder as Hugo does: every file, in name order, depth first;
/// `hugo.*` and `config.*` at the root, `params.toml` under `params`, `menus.en.toml` under
/// `languages.en.menus`, and so on.
fn hugo_config_dir(dir: &Path, rel: &str, files: &mut Vec<String>, cfg: &mut Value) -> Result<()> {
    let path = dir.join(rel);
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(&path).map_err(|e| Error::io(&path, e))? {
        let entry = entry.map_err(|e| Error::io(&path, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Not through symbolic links: a link to a parent folder would never end.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        entries.push((name, is_dir));
    }
    entries.sort();
    for (name, is_dir) in entries {
        let child = format!("{rel}/{name}");
        if is_dir {
            hugo_config_dir(dir, &child, files, cfg)?;
            continue;
        }
        let Some((stem, ext)) = name.rsplit_once('.') else {
            continue;
        };
        if !HUGO_EXTS.contains(&ext.to_ascii_lowercase().as_str()) {
            continue;
        }
        let item = lower_keys(parse_file(dir, &child)?);
        let stem = stem.to_lowercase();
        let value = if stem == "hugo" || stem == "config" {
            item
        } else {
            let (key, lang) = match stem.rsplit_once('.') {
                Some((k, l)) => (k.to_string(), Some(l.to_string())),
                None => (stem.clone(), None),
            };
            // A file may hold its root key itself: `params.toml` with only `[params]`.
            let inner = match item {
                Value::Object(mut m) if m.len() == 1 && m.contains_key(&key) => {
                    m.remove(&key).unwrap_or(Value::Null)
                }
                other => other,
            };
            let key = if key == "menu" { "menus".into() } else { key };
            let mut keys = match lang {
                None => vec![key.clone()],
                Some(lang) => vec!["languages".to_string(), lang],
            };
            if keys.len() == 2 && (key == "menus" || key == "params") {
                keys.push(key);
            }
            keys.into_iter().rev().fold(inner, |acc, k| {
                let mut m = Map::new();
                m.insert(k, acc);
                Value::Object(m)
            })
        };
        merge(cfg, value);
        files.push(child);
    }
    Ok(())
}

/// Hugo's `[permalinks]`: `section = pattern`, the `[permalinks.page]` table, or the
/// `[[permalinks]]` list whose `target.path` names one section (`{/posts/**}`).
fn hugo_permalinks(v: &Value, warnings: &mut Vec<String>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                if let Value::String(p) = v {
                    out.insert(k.clone(), p.clone());
                }
            }
            if let Some(Value::Object(page)) = m.get("page") {
                for (k, v) in page {
                    if let Value::String(p) = v {
                        out.insert(k.clone(), p.clone());
                    }
                }
            }
        }
        Value::Array(entries) => {
            let mut skipped = 0;
            for e in entries {
                let pattern = text_at(e, &["pattern"]);
                let section = text_at(e, &["target", "path"])
                    .as_deref()
                    .and_then(section_of_target);
                match (pattern, section) {
                    (Some(p), Some(s)) => {
                        out.entry(s).or_insert(p);
                    }
                    _ => skipped += 1,
                }
            }
            if skipped > 0 {
                warnings.push(format!(
                    "{skipped} of Hugo's [[permalinks]] entries name no single section's pages \
                     (target.path like {{/posts/**}}): herald skipped them; put the posts' \
                     pattern into site.permalinks by hand if they need it"
                ));
            }
        }
        _ => {}
    }
    out
}

/// `posts` of `{/posts/**}`, `/posts/**` or `/posts/*`.
fn section_of_target(path: &str) -> Option<String> {
    let p = path.trim();
    let p = p
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .unwrap_or(p);
    let p = p.trim_start_matches('/');
    let section = p.strip_suffix("/**").or_else(|| p.strip_suffix("/*"))?;
    let plain = !section.is_empty()
        && section
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    plain.then(|| section.to_lowercase())
}

// ---------------------------------------------------------------------------------------------
// Jekyll

fn read_jekyll(dir: &Path) -> Result<Detected> {
    let mut d = Detected::new(Generator::Jekyll, dir);
    let Some(file) = JEKYLL_FILES.iter().find(|f| dir.join(f).is_file()) else {
        return Err(Error::msg(format!("{}: no _config.yml", dir.display())));
    };
    let cfg = parse_file(dir, file)?;
    d.config_files.push(file.to_string());

    // Themes read `title`; some read `name`.
    let title = text_at(&cfg, &["title"])
        .map(|t| (t, "title"))
        .or_else(|| text_at(&cfg, &["name"]).map(|t| (t, "name")));
    if let Some((t, key)) = title {
        set_text(&mut d, "title", Some(t), &format!("{file} `{key}`"));
    }
    warn_no_title(&mut d, &format!("`title` in {file}"));
    set_text(
        &mut d,
        "description",
        text_at(&cfg, &["description"]),
        &format!("{file} `description`"),
    );
    let language = text_at(&cfg, &["lang"])
        .map(|s| (s, "lang"))
        .or_else(|| text_at(&cfg, &["locale"]).map(|s| (s.replace('_', "-"), "locale")));
    if let Some((s, key)) = language {
        set_text(&mut d, "language", Some(s), &format!("{file} `{key}`"));
    }
    set_timezone(
        &mut d,
        text_at(&cfg, &["timezone"]),
        &format!("`timezone` in {file}"),
    );

    match text_at(&cfg, &["url"]) {
        Some(url) => {
            let base = match text_at(&cfg, &["baseurl"]) {
                Some(b) if !b.trim_matches('/').is_empty() => {
                    format!("{}/{}/", url.trim_end_matches('/'), b.trim_matches('/'))
                }
                _ => url,
            };
            set_base_url(&mut d, Some(base), &format!("`url` + `baseurl` in {file}"));
        }
        None => set_base_url(&mut d, None, &format!("`url` in {file}")),
    }

    let (permalink, what) = match text_at(&cfg, &["collections", "posts", "permalink"]) {
        Some(p) => (p, format!("{file} `collections.posts.permalink`")),
        None => match text_at(&cfg, &["permalink"]) {
            Some(p) => (p, format!("{file} `permalink`")),
            None => ("date".into(), "Jekyll's default".into()),
        },
    };
    d.permalink = Some(permalink);
    d.origin.insert("permalink", what);
    if let Some(Value::String(sep)) = cfg.get("excerpt_separator") {
        d.summary_divider = Some(sep.clone());
        d.origin
            .insert("summary_divider", format!("{file} `excerpt_separator`"));
    }

    let source = join_rel(
        ".",
        &text_at(&cfg, &["source"]).unwrap_or_else(|| ".".into()),
    );
    d.content_root = source.clone();
    d.content_dir = source.clone();

    // jekyll-feed writes feed.xml unless told otherwise.
    let mut generated = Vec::new();
    if let Some(path) = text_at(&cfg, &["feed", "path"]) {
        let path = path.trim_start_matches('/');
        if feed_files().any(|n| n == path) {
            generated.push(format!("jekyll-feed's {path} (feed.path in {file})"));
        }
    }
    choose_output(&mut d, &source, generated);

    let excluded = strings(cfg.get("exclude"))
        .iter()
        .any(|e| e.trim_start_matches('/') == "herald.yaml");
    if !excluded {
        d.steps.push(format!(
            "Jekyll copies every file it does not exclude into the site, herald.yaml too: add \
             herald.yaml to `exclude:` in {file} (`exclude: [herald.yaml]`, or one more entry \
             in the list there). The .herald/ folder is excluded already: its name starts with \
             a dot."
        ));
    }
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// Zola

fn read_zola(dir: &Path) -> Result<Detected> {
    let mut d = Detected::new(Generator::Zola, dir);
    let file = if dir.join("zola.toml").is_file() {
        "zola.toml"
    } else {
        "config.toml"
    };
    let cfg = parse_file(dir, file)?;
    d.config_files.push(file.to_string());

    set_text(
        &mut d,
        "title",
        text_at(&cfg, &["title"]),
        &format!("{file} `title`"),
    );
    warn_no_title(&mut d, &format!("`title` in {file}"));
    set_text(
        &mut d,
        "description",
        text_at(&cfg, &["description"]),
        &format!("{file} `description`"),
    );
    set_text(
        &mut d,
        "language",
        text_at(&cfg, &["default_language"]),
        &format!("{file} `default_language`"),
    );
    set_base_url(
        &mut d,
        text_at(&cfg, &["base_url"]),
        &format!("`base_url` in {file}"),
    );

    d.content_root = "content".into();
    d.content_dir = posts_dir(dir, "content", &["blog".into(), "posts".into()]);

    if cfg
        .get("languages")
        .and_then(Value::as_object)
        .is_some_and(|l| !l.is_empty())
    {
        d.warnings.push(format!(
            "the site has more than one language: herald reads the default one ({}) only",
            d.language
        ));
    }

    // Zola's own feeds: `generate_feeds` (older: `generate_feed`) at the root, `feed = true`
    // per taxonomy, named by `feed_filenames` (older: `feed_filename`), atom.xml by default.
    let mut names = strings(cfg.get("feed_filenames"));
    if names.is_empty() {
        names = strings(cfg.get("feed_filename"));
    }
    if names.is_empty() {
        names.push(ZOLA_DEFAULT_FEED.into());
    }
    let clash: Vec<String> = names
        .into_iter()
        .filter(|n| feed_files().any(|f| f == n))
        .collect();
    let mut generated = Vec::new();
    if !clash.is_empty() {
        let on = |key: &str| cfg.get(key).and_then(Value::as_bool).unwrap_or(false);
        if on("generate_feeds") || on("generate_feed") {
            generated.push(format!("Zola's own {} ({file})", clash.join(", ")));
        }
        let tag_feeds = cfg
            .get("taxonomies")
            .and_then(Value::as_array)
            .is_some_and(|ts| {
                ts.iter().any(|t| {
                    t.get("name").and_then(Value::as_str) == Some("tags")
                        && (t.get("feed").and_then(Value::as_bool) == Some(true)
                            || t.get("rss").and_then(Value::as_bool) == Some(true))
                })
            });
        if tag_feeds {
            generated.push(format!(
                "Zola's own tags/<tag>/{} ({file})",
                clash.join(", ")
            ));
        }
    }
    choose_output(&mut d, "static", generated);
    Ok(d)
}

// ---------------------------------------------------------------------------------------------
// Eleventy

fn read_eleventy(dir: &Path) -> Result<Detected> {
    let mut d = Detected::new(Generator::Eleventy, dir);
    let Some(file) = ELEVENTY_FILES.iter().find(|f| dir.join(f).is_file()) else {
        return Err(Error::msg(format!(
            "{}: no eleventy.config.js",
            dir.display()
        )));
    };
    let config = js::tokens(&read_text(dir, file)?);
    d.config_files.push(file.to_string());

    let dirs = js::directories(&config);
    let input = join_rel(".", dirs.get("input").map_or(".", String::as_str));
    let data = join_rel(&input, dirs.get("data").map_or("_data", String::as_str));

    let mut meta: Option<(String, BTreeMap<String, String>)> = None;
    for name in [
        "metadata.json",
        "metadata.js",
        "metadata.mjs",
        "metadata.cjs",
    ] {
        let rel = sub(&data, name);
        if !dir.join(&rel).is_file() {
            continue;
        }
        let fields = if name.ends_with(".json") {
            let v = parse_file(dir, &rel)?;
            ["url", "title", "language", "description"]
                .iter()
                .filter_map(|k| text_at(&v, &[k]).map(|t| (k.to_string(), t)))
                .collect()
        } else {
            js::top_strings(
                &js::tokens(&read_text(dir, &rel)?),
                &["url", "title", "language", "description"],
            )
        };
        d.config_files.push(rel.clone());
        meta = Some((rel, fields));
        break;
    }
    let (meta_file, fields) = meta.unwrap_or_else(|| (sub(&data, "metadata.js"), BTreeMap::new()));
    let field = |k: &str| fields.get(k).cloned().filter(|s| !s.trim().is_empty());
    set_text(
        &mut d,
        "title",
        field("title"),
        &format!("{meta_file} `title`"),
    );
    warn_no_title(&mut d, &format!("`title` in {meta_file}"));
    set_text(
        &mut d,
        "description",
        field("description"),
        &format!("{meta_file} `description`"),
    );
    set_text(
        &mut d,
        "language",
        field("language"),
        &format!("{meta_file} `language`"),
    );
    set_base_url(&mut d, field("url"), &format!("`url` in {meta_file}"));

    d.content_root = input.clone();
    d.content_dir = posts_dir(dir, &input, &["blog".into(), "posts".into()]);
    d.exclude_tags = vec!["post".into(), "posts".into()];

    // The folder the config copies to the site's root, as eleventy-base-blog's
    // `addPassthroughCopy({ "./public/": "/" })`.
    let to_root = js::passthrough(&config)
        .into_iter()
        .filter(|(_, to)| matches!(to.trim(), "/" | "" | "." | "./"))
        .find_map(|(from, _)| passthrough_folder(&from));
    match to_root {
        Some(folder) => choose_output(&mut d, &folder, Vec::new()),
        None => {
            choose_output(&mut d, "public", Vec::new());
            let folder = if d.feeds_moved.is_some() {
                "public"
            } else {
                d.output_dir.as_str()
            };
            d.steps.push(format!(
                "Eleventy copies nothing of {folder}/ into the site yet: add this line to \
                 {file}, in the function that receives eleventyConfig:\n    \
                 eleventyConfig.addPassthroughCopy({{ \"{folder}\": \"/\" }})"
            ));
        }
    }
    Ok(d)
}

/// The folder a passthrough copy names: `./public/` -> `public`, `public/**` -> `public`;
/// `None` for a glob or the project's root.
fn passthrough_folder(from: &str) -> Option<String> {
    let mut f = from.trim();
    for suffix in ["/**/*", "/**", "/*"] {
        if let Some(rest) = f.strip_suffix(suffix) {
            f = rest;
            break;
        }
    }
    if f.contains(['*', '?', '[', ']', '{', '}', '!']) {
        return None;
    }
    let folder = join_rel(".", f);
    (folder != "." && !folder.starts_with('/') && !folder.starts_with("..")).then_some(folder)
}

/// A tolerant reading of JavaScript config and data files: no evaluation, only string
/// literals found next to the keys and calls that matter.
mod js {
    use std::collections::BTreeMap;

    #[derive(Debug, Clone, PartialEq)]
    pub enum Tok {
        Ident(String),
        /// A string literal; `None` for a template literal with `${…}` in it.
        Str(Option<String>),
        Punct(char),
        Other,
    }

    /// The tokens of `src`, comments and regular expressions skipped.
    pub fn tokens(src: &str) -> Vec<Tok> {
        let chars: Vec<char> = src.chars().collect();
        let mut out: Vec<Tok> = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            let next = chars.get(i + 1).copied();
            if c.is_whitespace() {
                i += 1;
            } else if c == '/' && next == Some('/') {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            } else if c == '/' && next == Some('*') {
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    i += 1;
                }
                i += 2;
            } else if c == '"' || c == '\'' {
                let (s, end) = quoted(&chars, i + 1, c);
                out.push(Tok::Str(s));
                i = end;
            } else if c == '`' {
                let (s, end) = template(&chars, i + 1);
                out.push(Tok::Str(s));
                i = end;
            } else if c.is_alphabetic() || c == '_' || c == '$' {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            } else if c.is_ascii_digit() {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Tok::Other);
            } else if c == '/' && regex_allowed(out.last()) {
                i = skip_regex(&chars, i + 1);
                out.push(Tok::Other);
            } else {
                out.push(if "{}[]():,;=.".contains(c) {
                    Tok::Punct(c)
                } else {
                    Tok::Other
                });
                i += 1;
            }
        }
        out
    }

    fn regex_allowed(prev: Option<&Tok>) -> bool {
        match prev {
            None => true,
            Some(Tok::Punct(p)) => "([{,;:=".contains(*p),
            Some(Tok::Ident(w)) => matches!(w.as_str(), "return" | "typeof" | "case"),
            Some(Tok::Other) => true,
            Some(Tok::Str(_)) => false,
        }
    }

    fn skip_regex(chars: &[char], mut i: usize) -> usize {
        let mut class = false;
        while i < chars.len() {
            match chars[i] {
                '\\' => i += 1,
                '[' => class = true,
                ']' => class = false,
                '/' if !class => {
                    i += 1;
                    while i < chars.len() && chars[i].is_alphabetic() {
                        i += 1;
                    }
                    return i;
                }
                '\n' => return i,
                _ => {}
            }
            i += 1;
        }
        i
    }

    /// A `'…'` or `"…"` literal from `i` (after the quote): its value and the index after it.
    fn quoted(chars: &[char], mut i: usize, quote: char) -> (Option<String>, usize) {
        let mut s = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c == quote {
                return (Some(s), i + 1);
            }
            if c == '\n' {
                return (None, i);
            }
            if c == '\\' {
                i = escape(chars, i + 1, &mut s);
            } else {
                s.push(c);
                i += 1;
            }
        }
        (None, i)
    }

    /// A template literal from `i` (after the backtick).
    fn template(chars: &[char], mut i: usize) -> (Option<String>, usize) {
        let mut s = String::new();
        let mut interpolated = false;
        while i < chars.len() {
            let c = chars[i];
            if c == '`' {
                return ((!interpolated).then_some(s), i + 1);
            }
            if c == '\\' {
                i = escape(chars, i + 1, &mut s);
            } else if c == '$' && chars.get(i + 1) == Some(&'{') {
                interpolated = true;
                let mut depth = 0usize;
                while i < chars.len() {
                    match chars[i] {
                        '{' => depth += 1,
                        '}' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
                i += 1;
            } else {
                s.push(c);
                i += 1;
            }
        }
        (None, i)
    }

    /// One escape from `i` (after the backslash) into `s`; the index after it.
    fn escape(chars: &[char], i: usize, s: &mut String) -> usize {
        let Some(&c) = chars.get(i) else { return i };
        let hex = |from: usize, to: usize| -> Option<char> {
            let digits: String = chars.get(from..to)?.iter().collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
        };
        match c {
            'n' => s.push('\n'),
            't' => s.push('\t'),
            'r' => s.push('\r'),
            '0' => s.push('\0'),
            'b' => s.push('\u{8}'),
            'f' => s.push('\u{c}'),
            'v' => s.push('\u{b}'),
            '\n' => {}
            'x' => {
                if let Some(ch) = hex(i + 1, i + 3) {
                    s.push(ch);
                    return i + 3;
                }
                s.push('x');
            }
            'u' if chars.get(i + 1) == Some(&'{') => {
                if let Some(close) = chars[i + 2..].iter().position(|&c| c == '}')
                    && let Some(ch) = hex(i + 2, i + 2 + close)
                {
                    s.push(ch);
                    return i + 3 + close;
                }
                s.push('u');
            }
            'u' => {
                if let Some(ch) = hex(i + 1, i + 5) {
                    s.push(ch);
                    return i + 5;
                }
                s.push('u');
            }
            other => s.push(other),
        }
        i + 1
    }

    /// A key at `i` (`name` or `"name"`) followed by `:`, when it starts an object entry.
    fn key_at(toks: &[Tok], i: usize) -> Option<&str> {
        let starts_entry = i == 0 || matches!(toks[i - 1], Tok::Punct('{') | Tok::Punct(','));
        if !starts_entry || toks.get(i + 1) != Some(&Tok::Punct(':')) {
            return None;
        }
        match &toks[i] {
            Tok::Ident(k) => Some(k),
            Tok::Str(Some(k)) => Some(k),
            _ => None,
        }
    }

    /// `key: "value"` pairs for `keys`, each the shallowest (then first) one in the file: the
    /// exported object's own, not a nested `author: { url: … }`.
    pub fn top_strings(toks: &[Tok], keys: &[&str]) -> BTreeMap<String, String> {
        let mut best: BTreeMap<String, (usize, String)> = BTreeMap::new();
        let mut depth = 0usize;
        for i in 0..toks.len() {
            match toks[i] {
                Tok::Punct('{' | '[' | '(') => depth += 1,
                Tok::Punct('}' | ']' | ')') => depth = depth.saturating_sub(1),
                _ => {}
            }
            let Some(key) = key_at(toks, i) else { continue };
            if !keys.contains(&key) {
                continue;
            }
            if let Some(Tok::Str(Some(v))) = toks.get(i + 2)
                && best.get(key).is_none_or(|(d, _)| depth < *d)
            {
                best.insert(key.to_string(), (depth, v.clone()));
            }
        }
        best.into_iter().map(|(k, (_, v))| (k, v)).collect()
    }

    /// The index after the bracket that closes the one at `open`.
    fn close_of(toks: &[Tok], open: usize) -> usize {
        let mut depth = 0usize;
        for (j, t) in toks.iter().enumerate().skip(open) {
            match t {
                Tok::Punct('{' | '[' | '(') => depth += 1,
                Tok::Punct('}' | ']' | ')') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return j + 1;
                    }
                }
                _ => {}
            }
        }
        toks.len()
    }

    /// The `key: "value"` pairs directly inside the object literal opening at `open`.
    fn object_pairs(toks: &[Tok], open: usize) -> Vec<(String, String)> {
        let end = close_of(toks, open);
        let mut pairs = Vec::new();
        let mut depth = 0usize;
        for i in open..end {
            match toks[i] {
                Tok::Punct('{' | '[' | '(') => depth += 1,
                Tok::Punct('}' | ']' | ')') => depth = depth.saturating_sub(1),
                _ => {}
            }
            if depth != 1 {
                continue;
            }
            if let Some(key) = key_at(toks, i)
                && let Some(Tok::Str(Some(v))) = toks.get(i + 2)
            {
                pairs.push((key.to_string(), v.clone()));
            }
        }
        pairs
    }

    /// Eleventy's folders: `dir: { input, output, data, includes }`, then the
    /// `setInputDirectory("…")`-style calls over it.
    pub fn directories(toks: &[Tok]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for i in 0..toks.len() {
            if key_at(toks, i) == Some("dir") && toks.get(i + 2) == Some(&Tok::Punct('{')) {
                for (k, v) in object_pairs(toks, i + 2) {
                    if ["input", "output", "data", "includes"].contains(&k.as_str()) {
                        out.insert(k, v);
                    }
                }
                break;
            }
        }
        for (i, t) in toks.iter().enumerate() {
            let Tok::Ident(name) = t else { continue };
            let key = match name.as_str() {
                "setInputDirectory" => "input",
                "setOutputDirectory" => "output",
                "setDataDirectory" => "data",
                "setIncludesDirectory" => "includes",
                _ => continue,
            };
            if toks.get(i + 1) == Some(&Tok::Punct('('))
                && let Some(Tok::Str(Some(v))) = toks.get(i + 2)
            {
                out.insert(key.to_string(), v.clone());
            }
        }
        out
    }

    /// Every `addPassthroughCopy` as (from, to): `("img")` copies to `img`, an object maps
    /// each key to its value.
    pub fn passthrough(toks: &[Tok]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, t) in toks.iter().enumerate() {
            if *t != Tok::Ident("addPassthroughCopy".into())
                || toks.get(i + 1) != Some(&Tok::Punct('('))
            {
                continue;
            }
            match toks.get(i + 2) {
                Some(Tok::Str(Some(s))) => out.push((s.clone(), s.clone())),
                Some(Tok::Punct('{')) => out.extend(object_pairs(toks, i + 2)),
                _ => {}
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// herald.yaml

/// `s` as a YAML scalar: plain when that reads back as the same string, else double-quoted
/// with escapes (every character a YAML parser might fold, drop or refuse is escaped).
pub fn yaml_scalar(s: &str) -> String {
    let plain_chars = !s.is_empty()
        && s.trim() == s
        && s.chars()
            .next()
            .is_some_and(|c| c.is_alphanumeric() || c == '/' || c == '.' || c == '_')
        && s.chars()
            .all(|c| c.is_alphanumeric() || " _./:+-(),'".contains(c))
        && !s.contains(": ")
        && !s.ends_with(':');
    let reads_back = || {
        matches!(serde_yaml::from_str::<serde_yaml::Value>(s),
            Ok(serde_yaml::Value::String(ref back)) if back == s)
    };
    if plain_chars && reads_back() {
        return s.to_string();
    }
    yaml_quoted(s)
}

/// `s` as a double-quoted YAML scalar, safe in flow collections too.
fn yaml_quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                let n = c as u32;
                if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04X}"));
                } else {
                    out.push_str(&format!("\\U{n:08X}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `s` fit for a YAML comment: every character a parser might take for a line break or refuse
/// becomes a space.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            let odd = c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                );
            if odd { ' ' } else { c }
        })
        .collect()
}

/// Lines of YAML with their comments, aligned.
struct Doc {
    lines: Vec<(String, String)>,
}

impl Doc {
    fn key(&mut self, indent: usize, key: &str, value: Option<String>, comment: impl Into<String>) {
        let mut text = format!("{}{}:", "  ".repeat(indent), yaml_scalar(key));
        if let Some(v) = value {
            text.push(' ');
            text.push_str(&v);
        }
        let comment: String = comment.into();
        self.lines.push((text, printable(&comment)));
    }

    fn comment(&mut self, text: &str) {
        for line in text.lines() {
            self.lines.push((
                format!("# {}", printable(line)).trim_end().to_string(),
                String::new(),
            ));
        }
    }

    fn render(&self) -> String {
        let width = self
            .lines
            .iter()
            .filter(|(_, c)| !c.is_empty())
            .map(|(t, _)| t.chars().count())
            .filter(|&n| n <= 34)
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for (text, comment) in &self.lines {
            out.push_str(text);
            if !comment.is_empty() {
                let pad = width.saturating_sub(text.chars().count());
                out.push_str(&" ".repeat(pad));
                out.push_str("  # ");
                out.push_str(comment);
            }
            out.push('\n');
        }
        out
    }
}

fn from_note(d: &Detected, key: &str) -> String {
    d.origin
        .get(key)
        .map_or(String::new(), |o| format!(" (from {o})"))
}

/// The `herald.yaml` for the blog: every key with a short comment, and a commented-out
/// newsletter block at the end.
pub fn herald_yaml(d: &Detected) -> String {
    let name = proper_name(d.generator);
    let mut doc = Doc { lines: Vec::new() };
    doc.comment(&format!(
        "herald's settings for the {name} blog in this folder, written by `herald init --from`.\n\
         herald reads the posts where {name} keeps them and changes none of the blog's files:\n\
         it writes only its feeds (into output_dir) and its own state (into state_dir)."
    ));
    doc.key(0, "site", None, "the blog, as the feeds and mails name it");
    doc.key(
        1,
        "generator",
        Some(d.generator.name().into()),
        "whose posts, dates and URLs herald follows: herald | hugo | jekyll | zola | eleventy",
    );
    match &d.title {
        Some(t) => doc.key(
            1,
            "title",
            Some(yaml_scalar(t)),
            format!("the feeds' title{}", from_note(d, "title")),
        ),
        None => doc.key(
            1,
            "title",
            Some(yaml_scalar("My Blog")),
            "PLACEHOLDER: the blog names no title; set the feeds' title",
        ),
    }
    match &d.base_url {
        Some(u) => doc.key(
            1,
            "base_url",
            Some(yaml_scalar(u)),
            format!(
                "the blog's address, absolute, ends with /{}",
                from_note(d, "base_url")
            ),
        ),
        None => doc.key(
            1,
            "base_url",
            Some(yaml_scalar(PLACEHOLDER_URL)),
            "PLACEHOLDER: set the blog's address (absolute http(s), ends with /)",
        ),
    }
    if let Some(desc) = &d.description {
        doc.key(
            1,
            "description",
            Some(yaml_scalar(desc)),
            format!("the feeds' description{}", from_note(d, "description")),
        );
    }
    doc.key(
        1,
        "language",
        Some(yaml_scalar(&d.language)),
        match d.origin.get("language") {
            Some(o) => format!("the feeds' language (from {o})"),
            None => "the feeds' language (none set: en)".into(),
        },
    );
    doc.key(
        1,
        "timezone",
        Some(yaml_scalar(&d.timezone)),
        match d.origin.get("timezone") {
            Some(o) => format!("IANA name, for post dates without an offset (from {o})"),
            None => pick(
                d.generator,
                "IANA name, for post dates without an offset (none set: UTC)",
                "IANA name, for post dates without an offset (none set: UTC; Jekyll used the \
                 build machine's zone)",
                "IANA name, for post dates without an offset (Zola's dates: UTC)",
                "IANA name, for post dates without an offset (Eleventy's dates: UTC)",
            )
            .into(),
        },
    );
    if let Some(p) = &d.permalink {
        doc.key(
            1,
            "permalink",
            Some(yaml_scalar(p)),
            format!(
                "the posts' URLs: Jekyll's style name or :token pattern{}",
                from_note(d, "permalink")
            ),
        );
    }
    if !d.permalinks.is_empty() {
        doc.key(
            1,
            "permalinks",
            None,
            "Hugo's [permalinks]: section -> URL pattern",
        );
        for (section, pattern) in &d.permalinks {
            doc.key(
                2,
                section,
                Some(yaml_scalar(pattern)),
                "the pattern of this section's pages",
            );
        }
    }
    if d.ugly_urls {
        doc.key(
            1,
            "ugly_urls",
            Some("true".into()),
            "Hugo's uglyURLs: pages end in .html, not /",
        );
    }
    doc.key(
        0,
        "content_dir",
        Some(yaml_scalar(&d.content_dir)),
        pick(
            d.generator,
            "where herald looks for posts",
            "where herald looks for posts (in every _posts folder below it)",
            "where herald looks for posts",
            "where herald looks for posts",
        ),
    );
    doc.key(0, "content", None, "how herald reads the posts");
    doc.key(
        1,
        "root",
        Some(yaml_scalar(&d.content_root)),
        pick(
            d.generator,
            "Hugo's content root (contentDir)",
            "Jekyll's source folder",
            "Zola's content folder",
            "Eleventy's input folder",
        ),
    );
    if let Some(div) = &d.summary_divider {
        doc.key(
            1,
            "summary_divider",
            Some(yaml_scalar(div)),
            format!(
                "a post's summary ends there{}",
                from_note(d, "summary_divider")
            ),
        );
    }
    let static_files =
        format!("herald's feeds go here; {name} copies static files into the site as they are");
    let out_comment = pick(
        d.generator,
        static_files.as_str(),
        "herald's feeds go here; Jekyll copies files without front matter as they are",
        static_files.as_str(),
        "herald's feeds go here; the passthrough copy puts this folder at the site's root",
    );
    doc.key(
        0,
        "output_dir",
        Some(yaml_scalar(&d.output_dir)),
        out_comment,
    );
    doc.key(
        0,
        "state_dir",
        Some(yaml_scalar(".herald")),
        "herald's database, secret key and lock: never published, never commit it",
    );
    doc.key(
        0,
        "templates_dir",
        Some(yaml_scalar(".herald/templates")),
        "your overrides of herald's built-in mail and page templates",
    );
    doc.key(0, "feeds", None, "the site's feeds, and one set per tag");
    doc.key(
        1,
        "formats",
        Some("[rss, atom, json]".into()),
        "any of rss, atom, json",
    );
    doc.key(1, "limit", Some("20".into()), "items per feed; 0 means all");
    if !d.exclude_tags.is_empty() {
        let tags: Vec<String> = d.exclude_tags.iter().map(|t| yaml_scalar(t)).collect();
        doc.key(
            1,
            "exclude_tags",
            Some(format!("[{}]", tags.join(", "))),
            "Eleventy's collection tags, not topics: no feed, no category",
        );
    }
    let from_name = d.title.as_deref().unwrap_or("My Blog");
    doc.lines.push((String::new(), String::new()));
    doc.comment(&format!(
        "To mail each new post to subscribers, uncomment this block and fill it in. The mail\n\
         and the subscriber lists stay in .herald/, which no generator publishes.\n\
         newsletter:\n  \
           start: YYYY-MM-DD                   # today: posts dated before it are never mailed\n  \
           from: {{ name: {}, email: newsletter@example.com }}\n  \
           transport: outbox                   # outbox: .eml files to read first; smtp: send\n  \
           outbox_dir: .herald/outbox\n  \
           lists:\n    \
             - id: all                         # [a-z0-9-]+; never reuse an id\n      \
               name: Everything\n      \
               tags: [\"*\"]                     # every post\n      \
               subscribers: .herald/subscribers/all.csv   # email,name",
        yaml_quoted(from_name)
    ));
    doc.render()
}

// ---------------------------------------------------------------------------------------------
// What to print after writing herald.yaml.

/// `s` as one shell word.
fn shell_word(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./~:@%+=,".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The lines `.gitignore` needs: herald's state, and the feed files it writes into the blog.
pub fn gitignore_lines(d: &Detected) -> Vec<String> {
    let mut lines = vec!["/.herald/*".to_string(), "!/.herald/templates/".to_string()];
    let prefix = if d.output_dir == "." {
        "/".to_string()
    } else {
        format!("/{}/", d.output_dir.trim_start_matches('/'))
    };
    if d.feeds_moved.is_some() {
        lines.push(prefix);
    } else {
        for name in feed_files() {
            lines.push(format!("{prefix}{name}"));
        }
        lines.push(format!("{prefix}tags/*/"));
    }
    lines
}

/// The lines to print on stdout after `herald.yaml` is written: the `.gitignore` lines, the
/// changes the owner must make by hand, and the next commands. (`warnings` go to stderr.)
pub fn advice(d: &Detected) -> Vec<String> {
    let name = proper_name(d.generator);
    let dir = d.dir.display().to_string();
    let site = shell_word(&dir);
    let mut out = Vec::new();

    let missing: Vec<String> = gitignore_lines(d)
        .into_iter()
        .filter(|l| !d.ignored.contains(l))
        .collect();
    if !missing.is_empty() {
        out.push(format!(
            "Add to {}: herald's state (its database and secret key: never commit them) and \
             the feed files it writes (or commit those, if you want the feeds in the repository):",
            d.dir.join(".gitignore").display()
        ));
        out.extend(missing.into_iter().map(|l| format!("  {l}")));
    }
    for step in &d.steps {
        out.push(step.clone());
    }
    let base = d.base_url.as_deref().unwrap_or(PLACEHOLDER_URL);
    let feeds_at = if d.feeds_moved.is_some() {
        format!("{base}feeds/")
    } else {
        base.to_string()
    };
    let out_dir = if d.output_dir == "." {
        dir.clone()
    } else {
        d.dir.join(&d.output_dir).display().to_string()
    };
    out.push("Next:".into());
    out.push(format!(
        "  herald --site {site} check    # reads every post, reports every problem, writes nothing"
    ));
    out.push(format!(
        "  herald --site {site} build    # writes the feeds into {out_dir}"
    ));
    let build = pick(
        d.generator,
        "hugo",
        "jekyll build",
        "zola build",
        "npx @11ty/eleventy",
    );
    let urls: Vec<String> = FeedFormat::ALL
        .iter()
        .map(|f| format!("{feeds_at}{}", f.file_name()))
        .collect();
    let urls = join_names(&urls.iter().map(String::as_str).collect::<Vec<_>>());
    out.push(format!(
        "Then build the site with `{build}` as before: {name} publishes the feeds with it, at \
         {urls}."
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        for (rel, text) in files {
            let path = dir.path().join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).expect("mkdir");
            }
            if rel.ends_with('/') {
                fs::create_dir_all(&path).expect("mkdir");
            } else {
                fs::write(&path, text).expect("write");
            }
        }
        dir
    }

    fn detect_ok(dir: &tempfile::TempDir) -> Detected {
        match detect(dir.path()) {
            Ok(d) => d,
            Err(e) => panic!("detect failed: {e}"),
        }
    }

    fn detect_err(dir: &tempfile::TempDir) -> String {
        match detect(dir.path()) {
            Ok(d) => panic!("expected an error, got {d:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn yaml(d: &Detected) -> serde_yaml::Value {
        let text = herald_yaml(d);
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    fn y<'a>(v: &'a serde_yaml::Value, path: &[&str]) -> &'a serde_yaml::Value {
        path.iter().fold(v, |v, k| &v[*k])
    }

    fn ys(v: &serde_yaml::Value, path: &[&str]) -> String {
        y(v, path)
            .as_str()
            .unwrap_or_else(|| panic!("{path:?} is not a string: {v:?}"))
            .to_string()
    }

    #[test]
    fn hugo_single_file() {
        let dir = site(&[
            (
                "hugo.toml",
                "BaseURL = 'https://x.org'\nlanguageCode = 'en-us'\ntitle = 'My: #Site'\n\
                 timeZone = 'America/New_York'\nuglyURLs = true\n\
                 [params]\ndescription = 'About things'\n\
                 [permalinks]\nposts = '/:year/:month/:slug/'\n",
            ),
            ("content/posts/a.md", "x"),
        ]);
        let d = detect_ok(&dir);
        assert_eq!(d.generator, Generator::Hugo);
        assert_eq!(d.title.as_deref(), Some("My: #Site"));
        assert_eq!(d.base_url.as_deref(), Some("https://x.org/"));
        assert_eq!(d.language, "en-us");
        assert_eq!(d.timezone, "America/New_York");
        assert_eq!(d.description.as_deref(), Some("About things"));
        assert_eq!(
            d.permalinks.get("posts").map(String::as_str),
            Some("/:year/:month/:slug/")
        );
        assert!(d.ugly_urls);
        assert_eq!(d.content_dir, "content/posts");
        assert_eq!(d.content_root, "content");
        assert_eq!(d.output_dir, "static");
        assert!(d.warnings.is_empty(), "{:?}", d.warnings);

        let v = yaml(&d);
        assert_eq!(ys(&v, &["site", "generator"]), "hugo");
        assert_eq!(ys(&v, &["site", "title"]), "My: #Site");
        assert_eq!(
            ys(&v, &["site", "permalinks", "posts"]),
            "/:year/:month/:slug/"
        );
        assert_eq!(y(&v, &["site", "ugly_urls"]).as_bool(), Some(true));
        assert_eq!(ys(&v, &["output_dir"]), "static");
        assert_eq!(ys(&v, &["content", "root"]), "content");
        assert!(y(&v, &["content", "summary_divider"]).is_null());
        assert!(y(&v, &["newsletter"]).is_null());
    }

    #[test]
    fn hugo_permalinks_page_form_and_sections() {
        let dir = site(&[
            (
                "hugo.yaml",
                "baseURL: https://x.org/blog\ntitle: T\ncontentDir: src\n\
                 permalinks:\n  page:\n    post: /p/:slug/\n  section:\n    post: /p/\n",
            ),
            ("src/post/", ""),
        ]);
        let d = detect_ok(&dir);
        assert_eq!(d.base_url.as_deref(), Some("https://x.org/blog/"));
        assert_eq!(d.content_dir, "src/post");
        assert_eq!(d.content_root, "src");
        assert_eq!(d.permalinks.len(), 1);
        assert_eq!(d.permalinks["post"], "/p/:slug/");
    }

    #[test]
    fn hugo_module_mounts_move_content_and_static() {
        let dir = site(&[
            (
                "hugo.toml",
                "baseURL = 'https://x.org/'\ntitle = 'T'\n[[module.mounts]]\nsource = 'content/en'\n\
                 target = 'content'\n[[module.mounts]]\nsource = 'assets/static'\ntarget = 'static'\n",
            ),
            ("content/en/posts/", ""),
        ]);
        let d = detect_ok(&dir);
        assert_eq!(d.content_root, "content/en");
        assert_eq!(d.content_dir, "content/en/posts");
        assert_eq!(d.output_dir, "assets/static");
    }

    #[test]
    fn hugo_permalinks_list_form() {
        let dir = site(&[(
            "hugo.toml",
            "baseURL = 'https://x.org/'\ntitle = 'T'\n\
             [[permalinks]]\npattern = '/b/:slug/'\n[permalinks.target]\npath = '{/posts/**}'\n\
             [[permalinks]]\npattern = '/:section/:slug/'\n",
        )]);
        let d = detect_ok(&dir);
        assert_eq!(d.permalinks["posts"], "/b/:slug/");
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("1 of Hugo's [[permalinks]]"))
        );
    }

    #[test]
    fn hugo_config_dir_is_merged_as_hugo_does() {
        let dir = site(&[
            (
                "config/_default/hugo.toml",
                "baseURL = 'https://dev.x.org/'\ntitle = 'Root'\n",
            ),
            (
                "config/_default/params.toml",
                "description = 'From params'\n",
            ),
            (
                "config/_default/permalinks.yaml",
                "permalinks:\n  posts: /:year/:slug/\n",
            ),
            (
                "config/_default/languages.toml",
                "[en]\ntitle = 'English title'\nlocale = 'en-GB'\n",
            ),
            ("config/_default/menus.en.toml", "[[main]]\nname = 'Home'\n"),
            (
                "config/production/hugo.toml",
                "baseURL = 'https://x.org/'\n",
            ),
            ("content/blog/", ""),
        ]);
        #[cfg(unix)]
        std::os::unix::fs::symlink("..", dir.path().join("config/_default/loop")).expect("link");
        let d = detect_ok(&dir);
        assert_eq!(d.generator, Generator::Hugo);
        assert_eq!(d.base_url.as_deref(), Some("https://x.org/"));
        assert_eq!(d.title.as_deref(), Some("English title"));
        assert_eq!(d.language, "en-GB");
        assert_eq!(d.description.as_deref(), Some("From params"));
        assert_eq!(d.permalinks["posts"], "/:year/:slug/");
        assert_eq!(d.content_dir, "content/blog");
        assert_eq!(
            d.config_files,
            [
                "config/_default/hugo.toml",
                "config/_default/languages.toml",
                "config/_default/menus.en.toml",
                "config/_default/params.toml",
                "config/_default/permalinks.yaml",
                "config/production/hugo.toml",
            ]
        );
    }

    #[test]
    fn hugo_config_file_with_base_url_and_missing_base_url() {
        let dir = site(&[("config.json", r#"{"baseURL": "/", "title": "T"}"#)]);
        let d = detect_ok(&dir);
        assert_eq!(d.generator, Generator::Hugo);
        assert_eq!(d.base_url, None);
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("baseURL") && w.contains(PLACEHOLDER_URL))
        );
        let v = yaml(&d);
        assert_eq!(ys(&v, &["site", "base_url"]), PLACEHOLDER_URL);
        assert!(herald_yaml(&d).contains("PLACEHOLDER"));
    }

    #[test]
    fn hugo_taken_names_move_the_feeds() {
        let dir = site(&[
            ("hugo.toml", "baseURL = 'https://x.org/'\ntitle = 'T'\n"),
            ("static/rss.xml", "<rss/>"),
        ]);
        let d = detect_ok(&dir);
        assert_eq!(d.output_dir, "static/feeds");
        assert!(
            d.warnings
                .iter()
                .any(|w| w.contains("static/rss.xml") && w.contains("/feeds/tags/"))
        );
        assert!(gitignore_lines(&d).contains(&"/static/feeds/".to_string()));

        let dir = site(&[(
            "hugo.toml",
            "baseURL = 'https://x.org/'\ntitle = 'T'\n[outputFormats.RSS]\nbaseName = 'rss'\n",
        )]);
        assert_eq!(detect_ok(&dir).output_dir, "static/feeds");
    }

    #[test]
    fn jekyll_url_and_baseurl() {
        let dir = site(&[(
            "_config.yml",
            "title: \"Notes: a #blog\"\nurl: https://x.org\nbaseurl: /blog\nlang: de\n\
             timezone: Europe/Berlin\nexcerpt_separator: <!--more-->\n",
        )]);
        let d = detect_ok(&dir);
        assert_eq!(d.generator, Generator::Jekyll);
        assert_eq!(d.base_url.as_deref(), Some("https://x.org/blog/"));
        assert_eq!(d.title.as_deref(), Some("Notes: a #blog"));
        assert_eq!(d.language, "de");
        assert_eq!(d.timezone, "Europe/Berlin");
        assert_eq!(d.permalink.as_deref(), Some("date"));
        assert_eq!(d.summary_divider.as_deref(), Some("<!--more-->"));
        assert_eq!(d.content_dir, ".");
        assert_eq!(d.content_root, ".");
        assert_eq!(d.output_dir, ".");
        assert!(d.steps.iter().any(|s| s.contains("exclude")));
        let v = yaml(&d);
        assert_eq!(ys(&v, &["site", "permalink"]), "date");
        assert_eq!(ys(&v, &["content", "summary_divider"]), "<!--more-->");
        assert_eq!(ys(&v, &["output_dir"]), ".");
        assert!(y(&v, &["site", "permalinks"]).is_null());
        assert!(gitignore_lines(&d).contains(&"/rss.xml".to_string()));

        for (url, baseurl, want) in [
            ("https://x.org/", "/blog/", "https://x.org/blog/"),
            ("https://x.org", "", "https://x.org/"),
            ("https://x.org/", "/", "https://x.org/"),
        ] {
            let text = format!("title: T\nurl: {url}\nbaseurl: \"{baseurl}\"\n");
            let dir = site(&[("_config.yml", text.as_str())]);
            assert_eq!(detect_ok(&dir).base_url.as_deref(), Some(want), "{text}");
        }
    }

    #[test]
    fn jekyll_collection_permalink_source_and_taken_tags() {
        let dir = site(&[
            (
                "_config.yml",
                "title: T\nurl: https://x.org\npermalink: pretty\nsource: ./site/\n\
                 collections:\n  posts:\n    permalink: /:year/:title/\nexclude: [herald.yaml]\n",
            ),
            ("site/tags/", ""),
        ]);
        let d = detect_ok(&dir);
        assert_eq!(d.permalink.as_deref(), Some("/:year/:title/"));
        assert_eq!(d.content_dir, "site");
        assert_eq!(d.output_dir, "site/feeds");
        assert!(d.feeds_moved.is_some());
        assert!(d.steps.is_empty(), "{:?}", d.steps);
        assert!(d.warnings.iter().any(|w| w.contains("site/tags/")));
    }

    #[test]
    fn jekyll_without_url_and_bad_timezone() {
        let dir = site(&[("_config.yml", "title: T\ntimezone: Mars/Base\n")]);
        let d = detect_ok(&dir);
        assert_eq!(d.base_url, None);
        assert_eq!(d.timezone, "UTC");
        assert!(d.warnings.iter().any(|w| w.contains("Mars/Base")));
        assert!(d.warnings.iter().any(|w| w.contains("`url`")));
    }

    #[test]
    fn zola() {
        let dir = site(&[
            (
                "config.toml",
                "base_url = \"https://z.org\"\ntitle = \"Zed\"\ndescription = \"D\"\n\
                 default_language = \"fr\"\n[markdown]\nhighlight_code = true\n",
            ),
            ("content/blog/_index.md", "+++\n+++\n"),
        ]);
        let d = detect_ok(&dir);
        assert_eq!(d.generator, Generator::Zola);
        assert_eq!(d.base_url.as_deref(), Some("https://z.org/"));
        assert_eq!(d.title.as_deref(), Some("Zed"));
        assert_eq!(d.language, "fr");
        assert_eq!(d.timezone, "UTC");
        assert_eq!(d.content_dir, "content/blog");
        assert_eq!(d.content_root, "content");
        assert_eq!(d.output_dir, "static");
        assert!(d.permalink.is_none() && d.permalinks.is_empty());

        let dir = site(&[(
            "config.toml",
            "base_url = \"https://z.org\"\ntitle = \"Zed\"\ngenerate_feeds = true\n",
        )]);
        let d = detect_ok(&dir);
        assert_eq!(d.content_dir, "content");
        assert_eq!(
            d.output_dir, "static/feeds",
            "Zola's own atom.xml takes the name"
        );
    }

    const BASE_BLOG_CONFIG: &str = r#"
import { feedPlugin } from "@11ty/eleventy-plugin-rss";
/** @param {import("@11ty/eleventy").UserConfig} eleventyConfig */
export default async function(eleventyConfig) {
	// Copy the contents of the `public` folder to the output folder
	eleventyConfig
		.addPassthroughCopy({
			"./public/": "/"
		})
		.addPassthroughCopy("./content/feed/pretty-atom-feed.xsl");
	eleventyConfig.addWatchTarget("content/**/*.{svg,webp,png,jpg,jpeg,gif}");
	eleventyConfig.addPlugin(feedPlugin, {
		type: "atom", // or "rss", "json"
		outputPath: "/feed/feed.xml",
		metadata: { language: "en", title: "Blog Title", base: "https://example.com/" }
	});
	const re = /["'`]/g;
};
export const config = {
	templateFormats: ["md", "njk"],
	dir: {
		input: "content",          // default: "."
		includes: "../_includes",  // default: "_includes" (`input` relative)
		data: "../_data",          // default: "_data" (`input` relative)
		output: "_site"
	},
};
"#;

    const BASE_BLOG_METADATA: &str = r#"export default {
	title: "Eleventy \"Base\" Blog: v9 \u2014 #1",
	url: 'https://blog.example.net/',
	language: `en`,
	description: "I am writing about my experiences.",
	author: {
		name: "Your Name Here",
		url: "https://example.com/about-me/"
	}
}
"#;

    #[test]
    fn eleventy_base_blog() {
        let dir = site(&[
            ("eleventy.config.js", BASE_BLOG_CONFIG),
            ("_data/metadata.js", BASE_BLOG_METADATA),
            ("content/blog/firstpost.md", "x"),
            ("public/img/.gitkeep", ""),
        ]);
        let d = detect_ok(&dir);
        assert_eq!(d.generator, Generator::Eleventy);
        assert_eq!(
            d.title.as_deref(),
            Some("Eleventy \"Base\" Blog: v9 \u{2014} #1")
        );
        assert_eq!(d.base_url.as_deref(), Some("https://blog.example.net/"));
        assert_eq!(d.language, "en");
        assert_eq!(
            d.description.as_deref(),
            Some("I am writing about my experiences.")
        );
        assert_eq!(d.content_root, "content");
        assert_eq!(d.content_dir, "content/blog");
        assert_eq!(d.output_dir, "public");
        assert!(d.steps.is_empty(), "{:?}", d.steps);
        assert_eq!(d.exclude_tags, ["post", "posts"]);
        assert!(d.warnings.iter().any(|w| w.contains("placeholder")));
        let v = yaml(&d);
        assert_eq!(
            ys(&v, &["site", "title"]),
            "Eleventy \"Base\" Blog: v9 \u{2014} #1"
        );
        let tags: Vec<&str> = y(&v, &["feeds", "exclude_tags"])
            .as_sequence()
            .map(|s| s.iter().filter_map(|t| t.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(tags, ["post", "posts"]);
    }

    #[test]
    fn eleventy_without_passthrough_and_json_metadata() {
        let dir = site(&[
            (
                ".eleventy.js",
                "module.exports = function(c) { return { dir: { input: 'src' } }; };",
            ),
            (
                "src/_data/metadata.json",
                r#"{"title": "J", "url": "https://j.org", "author": {"url": "https://a.org"}}"#,
            ),
        ]);
        let d = detect_ok(&dir);
        assert_eq!(d.title.as_deref(), Some("J"));
        assert_eq!(d.base_url.as_deref(), Some("https://j.org/"));
        assert_eq!(d.content_root, "src");
        assert_eq!(d.content_dir, "src");
        assert_eq!(d.output_dir, "public");
        assert!(
            d.steps
                .iter()
                .any(|s| s.contains(r#"eleventyConfig.addPassthroughCopy({ "public": "/" })"#)),
            "{:?}",
            d.steps
        );
        assert!(advice(&d).iter().any(|l| l.contains("addPassthroughCopy")));
    }

    #[test]
    fn js_scanning() {
        let toks = js::tokens(
            "// url: 'https://comment.org'\n/* title: \"no\" */\n\
             const x = a ? b : 'c';\nmodule.exports = { nested: { title: 'deep' }, \
             'title': 'T\\x41\\u{1F600}', url: `https://${host}/` };",
        );
        let found = js::top_strings(&toks, &["title", "url"]);
        assert_eq!(found.get("title").map(String::as_str), Some("TA\u{1F600}"));
        assert_eq!(
            found.get("url"),
            None,
            "an interpolated template is not a literal"
        );

        let toks = js::tokens(
            "eleventyConfig.setInputDirectory(\"pages\");\n\
             eleventyConfig.addPassthroughCopy(\"img\");\n\
             eleventyConfig.addPassthroughCopy({ 'static/**': '/', x: 'y' });",
        );
        assert_eq!(
            js::directories(&toks).get("input").map(String::as_str),
            Some("pages")
        );
        let copies = js::passthrough(&toks);
        assert_eq!(copies[0], ("img".to_string(), "img".to_string()));
        assert_eq!(copies[1], ("static/**".to_string(), "/".to_string()));
        assert_eq!(passthrough_folder("static/**").as_deref(), Some("static"));
        assert_eq!(passthrough_folder("./public/").as_deref(), Some("public"));
        assert_eq!(passthrough_folder("*.png"), None);
        // Unterminated things end quietly.
        let _ = js::tokens("'abc\n\"x\\");
        let _ = js::tokens("`${a");
        let _ = js::tokens("/* open");
    }

    #[test]
    fn none_and_ambiguous() {
        let empty = site(&[("README.md", "hi")]);
        let err = detect_err(&empty);
        assert!(
            err.contains("found no Hugo, Jekyll, Zola or Eleventy blog"),
            "{err}"
        );
        for looked in [
            "hugo.toml",
            "config/_default/",
            "_config.yml",
            "zola.toml",
            ".eleventy.js",
            "baseURL",
            "base_url",
        ] {
            assert!(err.contains(looked), "{looked}: {err}");
        }

        let neither = site(&[("config.toml", "title = 'x'\n")]);
        let err = detect_err(&neither);
        assert!(
            err.contains("config.toml is there but has neither baseURL"),
            "{err}"
        );

        let both = site(&[
            ("hugo.toml", "baseURL = 'https://x.org/'\n"),
            ("_config.yml", "title: x\n"),
        ]);
        let err = detect_err(&both);
        assert!(err.contains("more than one generator"), "{err}");
        assert!(
            err.contains("Hugo (hugo.toml)") && err.contains("Jekyll (_config.yml)"),
            "{err}"
        );

        let hugo_and_zola = site(&[("config.toml", "baseURL = 'a'\nbase_url = 'b'\n")]);
        assert!(detect_err(&hugo_and_zola).contains("Zola (config.toml)"));

        let missing = empty.path().join("nope");
        assert!(detect(&missing).is_err());
    }

    #[test]
    fn malformed_files_name_file_and_line() {
        let dir = site(&[("hugo.toml", "title = 'x'\nbaseURL = \n[params]\n")]);
        let err = detect_err(&dir);
        assert!(err.contains("hugo.toml:2:"), "{err}");

        let dir = site(&[("_config.yml", "title: x\nurl: [a\nlang: en\n")]);
        let err = detect_err(&dir);
        assert!(err.contains("_config.yml:"), "{err}");

        let dir = site(&[
            ("eleventy.config.js", "export default function() {}"),
            ("_data/metadata.json", "{\n  \"title\": \"x\",\n  oops\n}"),
        ]);
        let err = detect_err(&dir);
        assert!(err.contains("metadata.json:3:"), "{err}");

        // A broken config.toml that might be Zola's or Hugo's is reported when nothing else is.
        let dir = site(&[("config.toml", "a = \n")]);
        assert!(detect_err(&dir).contains("config.toml:1:"));
        // ... and ignored when another generator is recognised.
        let dir = site(&[("config.json", "{ not json"), ("_config.yml", "title: T\n")]);
        assert_eq!(detect_ok(&dir).generator, Generator::Jekyll);

        let dir = site(&[("_config.yml", "[[[[\n")]);
        let _ = detect_err(&dir);
        let deep = format!("x: {}", "[".repeat(200));
        let dir = site(&[("_config.yml", deep.as_str())]);
        assert!(detect_err(&dir).contains(crate::config::TOO_DEEP));
    }

    #[test]
    fn awkward_values_round_trip() {
        let dir = site(&[("hugo.toml", "baseURL = 'https://x.org/'\ntitle = 'x'\n")]);
        let mut d = detect_ok(&dir);
        let nasty = [
            "A title: with # and \"quotes\" and 'single'",
            "true",
            "null",
            "1.5",
            "- dash",
            "  spaced  ",
            "line\nbreak\ttab\r",
            "#hash",
            "@at",
            "%pct",
            "*star",
            "&amp",
            "!bang",
            "|pipe",
            ">gt",
            "{brace}",
            "[bracket]",
            "key: value",
            "ends:",
            "",
            "\u{2028}\u{2029}\u{85}\u{feff}\u{0}\u{7f}",
            "Café ☕ 夜",
        ];
        for s in nasty {
            d.title = Some(s.to_string());
            d.description = Some(format!("{s}!"));
            d.permalinks = BTreeMap::from([(s.to_string(), s.to_string())]);
            d.summary_divider = Some(s.to_string());
            let v = yaml(&d);
            assert_eq!(ys(&v, &["site", "title"]), s);
            assert_eq!(ys(&v, &["site", "description"]), format!("{s}!"));
            assert_eq!(ys(&v, &["site", "permalinks", s]), s);
            assert_eq!(ys(&v, &["content", "summary_divider"]), s);
        }
    }

    proptest::proptest! {
        #[test]
        fn any_string_round_trips(s in proptest::prelude::any::<String>()) {
            let text = format!("k: {}\n", yaml_scalar(&s));
            let back: BTreeMap<String, String> = serde_yaml::from_str(&text)
                .map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}: {text}")))?;
            proptest::prop_assert_eq!(back.get("k"), Some(&s));
        }
    }

    #[test]
    fn plain_where_plain_is_safe() {
        assert_eq!(yaml_scalar("en"), "en");
        assert_eq!(yaml_scalar("https://x.org/"), "https://x.org/");
        assert_eq!(yaml_scalar("/:year/:month/:slug/"), "/:year/:month/:slug/");
        assert_eq!(yaml_scalar("My Blog"), "My Blog");
        assert_eq!(yaml_scalar("true"), "\"true\"");
        assert_eq!(yaml_scalar("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar("<!--more-->"), "\"<!--more-->\"");
    }

    #[test]
    fn paths_are_joined_plainly() {
        assert_eq!(join_rel(".", "./content/"), "content");
        assert_eq!(join_rel("content", "../_data"), "_data");
        assert_eq!(join_rel(".", "."), ".");
        assert_eq!(join_rel("src", "blog"), "src/blog");
        assert_eq!(join_rel(".", "../up"), "../up");
        assert_eq!(join_rel(".", "/abs/x/"), "/abs/x");
    }

    #[test]
    fn every_key_has_a_comment_and_advice_names_the_commands() {
        let dir = site(&[
            (
                "_config.yml",
                "title: T\nurl: https://x.org\nexcerpt_separator: \"\\n<!-- more -->\\n\"\n",
            ),
            (".gitignore", "/.herald/*\n_site/\n"),
        ]);
        let d = detect_ok(&dir);
        let text = herald_yaml(&d);
        for line in text.lines() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            assert!(line.contains("  # "), "no comment: {line}");
        }
        let lines = advice(&d);
        let all = lines.join("\n");
        assert!(all.contains(&format!(
            "herald --site {} check",
            shell_word(&dir.path().display().to_string())
        )));
        assert!(all.contains("build"));
        assert!(all.contains("  !/.herald/templates/"));
        assert!(
            !all.contains("  /.herald/*"),
            "already in .gitignore: {all}"
        );
        assert!(all.contains("  /feed.json"));
        assert!(all.contains("https://x.org/rss.xml"));
        assert_eq!(shell_word("/tmp/my blog"), "'/tmp/my blog'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
    }
}

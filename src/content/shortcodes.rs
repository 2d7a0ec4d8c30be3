//! Template syntax of posts written for Hugo, Jekyll or Zola, expanded to plain Markdown.
//!
//! This runs between the front matter split and the Markdown render. It is pure (no I/O): links
//! to other posts are resolved through [`Context::resolve`], Hugo params through
//! [`Context::param`]. Everything it produces is Markdown, never raw HTML (herald escapes raw
//! HTML unless the owner turns it on): embeds become links, `figure` an image with an
//! emphasised caption, `highlight` a fenced code block. Whatever cannot be rendered is removed
//! and reported as a [`Finding`] on the line where the construct starts.
//!
//! Decisions where the generators leave room (each is pinned by a unit test below):
//!
//! - **Code.** All three generators expand their template syntax before Markdown is parsed, so
//!   shortcodes and Liquid inside fenced, indented and inline code are expanded too (that is
//!   what the escapes and `{% raw %}` exist for). Zola's `@/` internal links, by contrast, are
//!   resolved by Zola on Markdown link events, so here only in link destinations and reference
//!   definitions outside code blocks and code spans.
//! - **Pairing.** Hugo decides from a shortcode's template whether it takes inner content; we
//!   have no templates, so a shortcode is paired when a matching closing tag follows (innermost
//!   first, like HTML's lenient parsers), except the built-ins that never take inner content.
//!   Jekyll block tags are paired the same way with `end<name>`.
//! - **Liquid blocks.** herald does not evaluate Liquid. `if`/`unless` keep the text of their
//!   first branch (up to `else`/`elsif`): the prose the author wrote first is the likeliest to
//!   be meant for readers. `for`, `tablerow`, `case` and `capture` are dropped whole (their output
//!   depends on data herald lacks; `capture` outputs nothing in Liquid either). Other block tags
//!   (plugins) keep their inner text. Each is reported.
//! - **Unresolved references** (`ref`, `relref`, `link`, `post_url`, `@/`) become `#` where they
//!   are a link destination (`](…)`, `]: …`), so the Markdown link survives, else nothing.
//! - **Nesting** of paired constructs is followed 64 levels deep; deeper opening tags are removed
//!   and reported like unpaired ones.
//! - **Unclosed or malformed tags** are removed from their opening delimiter to the end of that
//!   line (never past the next template delimiter or a blank line), or through their closing
//!   delimiter when it is on a later line before either. A paired tag without its closing tag is
//!   removed alone. An unclosed `{% raw %}` keeps the rest of the body as written (what raw
//!   means); an unclosed `{% comment %}` is removed alone and the rest is expanded.
//! - **Jekyll URLs.** `link` and `post_url` resolve to absolute URLs, so a `{{ site.baseurl }}`
//!   or `{{ site.url }}` written directly before them (the pre-Jekyll-4 idiom) is dropped.
//!   `absolute_url` with an empty `site.url` uses [`Context::base_url`] (Jekyll would fall back
//!   to a root-relative path).
//! - **Embeds.** `tweet ID` (the old one-argument form) links to `https://x.com/i/status/ID`;
//!   Hugo itself used the user `x`, which redirects the same way. Hugo's `details` becomes a bold
//!   summary line followed by the inner text; `comment` drops its inner text. Zola's built-ins
//!   (removed in Zola 0.17.0) `youtube`, `vimeo`, `streamable` and `gist` become links; the
//!   jekyll-gist plugin's `{% gist user/id %}` too.

use std::borrow::Cow;
use std::collections::HashMap;

/// The generator whose template syntax a body uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Hugo,
    Jekyll,
    Zola,
}

/// A reference to another post or page, to be resolved to its absolute URL by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ref<'a> {
    /// `ref`/`relref` argument: "post.md", "posts/post.md", "/posts/post", "post" (the
    /// `#anchor` split off).
    Hugo(&'a str),
    /// `{% link _posts/2016-07-26-name.md %}`: a path from the site root.
    JekyllLink(&'a str),
    /// `{% post_url 2010-07-21-name %}` or `{% post_url dir/2010-07-21-name %}`.
    JekyllPostUrl(&'a str),
    /// Markdown link target `@/blog/post.md`: the path from the content root, without `@/`,
    /// without the `#anchor` and percent-decoded (as Zola does).
    Zola(&'a str),
}

/// What expansion needs to know about the site and the post.
pub struct Context<'a> {
    pub dialect: Dialect,
    /// The site's absolute base URL, ending in `/` (Jekyll: url + baseurl).
    pub base_url: &'a str,
    /// Jekyll `site.baseurl` (path, may be ""), `site.url` (may be "").
    pub jekyll_baseurl: &'a str,
    pub jekyll_url: &'a str,
    /// Hugo `param "key"`: the post's front matter (then site params) value as text.
    pub param: &'a dyn Fn(&str) -> Option<String>,
    /// Resolves a reference to an absolute URL (fragments are split off before and re-appended).
    pub resolve: &'a dyn Fn(Ref<'_>) -> Option<String>,
}

/// Something expansion removed or could not render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// 1-based line within the body where the construct starts.
    pub line: usize,
    pub message: String,
}

/// The expanded body, and what expansion noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expanded {
    pub body: String,
    pub findings: Vec<Finding>,
}

/// Expands the template syntax of `body` (see the module documentation).
pub fn expand(body: &str, ctx: &Context<'_>) -> Expanded {
    if !has_template_syntax(body, ctx.dialect) {
        return Expanded {
            body: body.to_owned(),
            findings: Vec::new(),
        };
    }
    let nl = if body.contains("\r\n") { "\r\n" } else { "\n" };
    let (body, mut findings) = match ctx.dialect {
        Dialect::Hugo => hugo::expand(body, ctx, nl),
        Dialect::Jekyll => jekyll::expand(body, ctx, nl),
        Dialect::Zola => {
            let mut rep = Report::new(body);
            let linked = zola::links(body, ctx, &mut rep);
            let (out, more) = zola::expand(&linked, nl);
            let mut all = rep.findings;
            all.extend(more);
            (out, all)
        }
    };
    findings.sort_by_key(|f| f.line);
    Expanded { body, findings }
}

/// Cheap test used to skip bodies with no template syntax at all: one pass over the bytes for
/// `{{<`/`{{%` (Hugo), `{{`/`{%` (Jekyll), `{{`/`{%`/`@/` (Zola).
pub fn has_template_syntax(body: &str, dialect: Dialect) -> bool {
    let b = body.as_bytes();
    let opens = |p: usize| match dialect {
        Dialect::Hugo => b.get(p + 1) == Some(&b'{') && matches!(b.get(p + 2), Some(b'<' | b'%')),
        _ => matches!(b.get(p + 1), Some(b'{' | b'%')),
    };
    // memchr's vectorised search: this runs over every post's whole body.
    memchr::memchr_iter(b'{', b).any(opens)
        || (dialect == Dialect::Zola && memchr::memmem::find(b, b"@/").is_some())
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// Findings with their line numbers (the line index is built on the first finding only).
struct Report<'s> {
    text: &'s str,
    starts: Vec<usize>,
    findings: Vec<Finding>,
}

impl<'s> Report<'s> {
    fn new(text: &'s str) -> Self {
        Report {
            text,
            starts: Vec::new(),
            findings: Vec::new(),
        }
    }

    /// 1-based line of byte `pos` (`\n`, `\r\n` and a lone `\r` end lines).
    fn line(&mut self, pos: usize) -> usize {
        if self.starts.is_empty() {
            self.starts.push(0);
            let b = self.text.as_bytes();
            for (i, &c) in b.iter().enumerate() {
                if c == b'\n' || (c == b'\r' && b.get(i + 1) != Some(&b'\n')) {
                    self.starts.push(i + 1);
                }
            }
        }
        self.starts.partition_point(|&s| s <= pos)
    }

    fn add(&mut self, pos: usize, message: String) {
        let line = self.line(pos);
        self.findings.push(Finding { line, message });
    }
}

/// At most `max` characters of `s` for a message, on one line, cut with `…`.
fn clip(s: &str, max: usize) -> String {
    let clean = |c: char| if c.is_control() { ' ' } else { c };
    if s.chars().count() <= max {
        s.chars().map(clean).collect()
    } else {
        let mut out: String = s.chars().take(max.saturating_sub(1)).map(clean).collect();
        out.push('…');
        out
    }
}

/// How deep paired constructs nest. Deeper opening tags are left unpaired (removed and
/// reported), which bounds the copying of inner text to a constant factor.
const MAX_NESTING: usize = 64;

/// One nesting level of the output: the root, or the inner text of a paired construct.
struct Frame<K> {
    buf: String,
    key: K,
    discard: bool,
}

/// The output being built, with a stack of frames for paired constructs.
struct Out<K> {
    root: String,
    stack: Vec<Frame<K>>,
    /// How many frames discard their output.
    discards: usize,
    nl: &'static str,
}

impl<K> Out<K> {
    fn new(capacity: usize, nl: &'static str) -> Self {
        Out {
            root: String::with_capacity(capacity + capacity / 8),
            stack: Vec::new(),
            discards: 0,
            nl,
        }
    }

    fn buf(&mut self) -> &mut String {
        match self.stack.last_mut() {
            Some(f) => &mut f.buf,
            None => &mut self.root,
        }
    }

    fn push(&mut self, s: &str) {
        match self.stack.last_mut() {
            Some(f) if f.discard => {}
            Some(f) => f.buf.push_str(s),
            None => self.root.push_str(s),
        }
    }

    fn open(&mut self, key: K, discard: bool) {
        self.discards += usize::from(discard);
        self.stack.push(Frame {
            buf: String::new(),
            key,
            discard,
        });
    }

    fn close(&mut self) -> Option<Frame<K>> {
        let f = self.stack.pop()?;
        self.discards -= usize::from(f.discard);
        Some(f)
    }

    /// Drops the rest of the innermost frame's output.
    fn discard_top(&mut self) {
        if let Some(f) = self.stack.last_mut()
            && !f.discard
        {
            f.discard = true;
            self.discards += 1;
        }
    }

    /// Output inside a dropped construct: its findings would be noise.
    fn discarding(&self) -> bool {
        self.discards > 0
    }

    /// The output since the last line break, at most its last 256 bytes: a longer line counts as
    /// not blank (so a block starts a new line), which keeps this cheap on long lines.
    fn line_prefix(&self) -> String {
        let mut parts = Vec::new();
        let mut room = 256;
        let bufs = self.stack.iter().rev().map(|f| f.buf.as_str());
        for buf in bufs.chain(std::iter::once(self.root.as_str())) {
            let mut from = buf.len().saturating_sub(room);
            while !buf.is_char_boundary(from) {
                from += 1;
            }
            let tail = &buf[from..];
            if let Some(i) = tail.rfind(['\n', '\r']) {
                parts.push(&tail[i + 1..]);
                return parts.iter().rev().copied().collect();
            }
            parts.push(tail);
            room -= tail.len();
            if from > 0 || room == 0 {
                parts.push("\u{1}");
                break;
            }
        }
        parts.iter().rev().copied().collect()
    }

    /// Whether the next output is a link destination: after `](`, `](<` or `]:`.
    fn in_link_destination(&self) -> bool {
        let p = self.line_prefix();
        let t = p.trim_end_matches([' ', '\t']);
        let t = t.strip_suffix('<').unwrap_or(t);
        t.ends_with("](") || t.trim_end_matches([' ', '\t']).ends_with("]:")
    }

    /// Starts a line for a block (a code fence): breaks the line if text precedes on it.
    /// Returns the line's indentation, for the closing fence.
    fn block_start(&mut self) -> String {
        let prefix = self.line_prefix();
        let indent: String = prefix
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if prefix.len() != indent.len() {
            let nl = self.nl;
            self.push(nl);
            self.push(&indent);
        }
        indent
    }

    fn finish(mut self) -> String {
        while let Some(f) = self.stack.pop() {
            self.buf().push_str(&f.buf);
        }
        self.root
    }
}

/// The position of `pat` at or after `from`.
fn find(s: &str, from: usize, pat: &str) -> Option<usize> {
    // memchr's vectorised search: bodies are long and the patterns short.
    memchr::memmem::find(s.as_bytes().get(from..)?, pat.as_bytes()).map(|k| from + k)
}

/// Whether `pat` starts at byte `p`.
fn at(b: &[u8], p: usize, pat: &str) -> bool {
    b.get(p..).is_some_and(|r| r.starts_with(pat.as_bytes()))
}

/// A search for a fixed pattern that remembers where it failed, so that repeated searches from
/// later positions (one per unclosed construct) stay linear.
#[derive(Clone, Copy)]
struct Finder {
    none_from: usize,
}

impl Default for Finder {
    fn default() -> Self {
        Finder {
            none_from: usize::MAX,
        }
    }
}

impl Finder {
    fn find(&mut self, s: &str, from: usize, pat: &str) -> Option<usize> {
        if from >= self.none_from {
            return None;
        }
        let found = find(s, from, pat);
        if found.is_none() {
            self.none_from = from;
        }
        found
    }
}

/// The end of the line holding `p` (before its `\r\n` or `\n`), or `limit` if that comes
/// first (searching no further keeps recovery linear on long lines).
fn eol(b: &[u8], p: usize, limit: usize) -> usize {
    let limit = limit.min(b.len());
    match b
        .get(p..limit)
        .and_then(|r| r.iter().position(|&c| c == b'\n'))
    {
        Some(k) if k > 0 && b[p + k - 1] == b'\r' => p + k - 1,
        Some(k) => p + k,
        None => limit,
    }
}

/// Whether the `\n` at `j` is followed by a blank line.
fn blank_line_follows(b: &[u8], j: usize) -> bool {
    let mut k = j + 1;
    while matches!(b.get(k), Some(b' ' | b'\t' | b'\r')) {
        k += 1;
    }
    b.get(k) == Some(&b'\n')
}

/// How far recovery from a broken tag may reach: the next `{{` or `{%`, or a blank line.
fn recovery_limit(b: &[u8], from: usize) -> usize {
    let mut j = from;
    while j < b.len() {
        match b[j] {
            b'{' if matches!(b.get(j + 1), Some(b'{' | b'%')) => return j,
            b'\n' if blank_line_follows(b, j) => return j,
            _ => j += 1,
        }
    }
    b.len()
}

/// Where a broken construct starting at `start` ends: through `close` if it comes before the
/// recovery limit, else at the end of the line. Returns the end and whether `close` was found.
fn broken_end(b: &[u8], start: usize, from: usize, close: Option<&str>) -> (usize, bool) {
    let limit = recovery_limit(b, from);
    let found = close.and_then(|c| {
        let r = b.get(from..limit)?;
        let k = r.windows(c.len()).position(|w| w == c.as_bytes())?;
        Some(from + k + c.len())
    });
    match found {
        Some(end) => (end, true),
        None => (eol(b, start, limit).max(from.min(b.len())), false),
    }
}

/// Whether the rest of the line from `p` is blank.
fn rest_of_line_blank(b: &[u8], p: usize) -> bool {
    b.get(p..)
        .unwrap_or_default()
        .iter()
        .take_while(|&&c| c != b'\n')
        .all(|&c| c == b' ' || c == b'\t' || c == b'\r')
}

/// Plain text as Markdown: punctuation that could start markup (or raw HTML) escaped, line
/// breaks turned into spaces.
fn md_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.trim().chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' | '!' | '#' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' | '\t' => o.push(' '),
            _ => o.push(c),
        }
    }
    o
}

/// Markdown given in an argument (Hugo's `markdownify`): kept, on one line, with `<` escaped
/// so that no raw HTML comes from an argument.
fn md_inline(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 4);
    for c in s.trim().chars() {
        match c {
            '<' => o.push_str("\\<"),
            '\n' | '\r' => o.push(' '),
            _ => o.push(c),
        }
    }
    o
}

/// A link destination: bytes that would end or break it percent-encoded.
fn md_url(s: &str) -> Cow<'_, str> {
    let bad = |c: u8| {
        c <= b' ' || c == 0x7f || matches!(c, b'<' | b'>' | b'(' | b')' | b'\\' | b'"' | b'`')
    };
    if !s.trim().bytes().any(bad) {
        return Cow::Borrowed(s.trim());
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.trim().chars() {
        if c.is_ascii() && bad(c as u8) {
            o.push_str(&format!("%{:02X}", c as u8));
        } else {
            o.push(c);
        }
    }
    Cow::Owned(o)
}

/// A value for a URL path segment or query: everything but unreserved bytes percent-encoded.
fn pct(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for &c in s.trim().as_bytes() {
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
            o.push(c as char);
        } else {
            o.push_str(&format!("%{c:02X}"));
        }
    }
    o
}

/// A link title, `"…"`.
fn md_title(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.trim().chars() {
        match c {
            '"' | '\\' | '<' | '>' | '&' => {
                o.push('\\');
                o.push(c);
            }
            '\n' | '\r' => o.push(' '),
            _ => o.push(c),
        }
    }
    o.push('"');
    o
}

/// `[text](url)` for plain `text`.
fn md_link(text: &str, url: &str) -> String {
    format!("[{}]({})", md_escape(text), md_url(url))
}

/// A fenced code block. The opening fence goes where the output is (at a line start); code
/// lines are kept as written; the closing fence gets `indent`.
fn fence(lang: &str, code: &str, indent: &str, nl: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in code.bytes() {
        run = if c == b'`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let ticks = "`".repeat((longest + 1).max(3));
    // The characters of a language name (Jekyll's highlight syntax: `[a-zA-Z0-9.+#_-]`).
    let lang: String = lang
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '#' | '_' | '-'))
        .collect();
    let mut o = String::with_capacity(code.len() + 32);
    o.push_str(&ticks);
    o.push_str(&lang);
    o.push_str(nl);
    if !code.is_empty() {
        for line in code.split('\n') {
            o.push_str(line.strip_suffix('\r').unwrap_or(line));
            o.push_str(nl);
        }
    }
    o.push_str(indent);
    o.push_str(&ticks);
    o
}

/// The code of a highlight block: without the closing tag's indentation and the line breaks at
/// either end (Hugo trims `\n\r`, Jekyll leading and trailing line terminators).
fn trim_code(code: &str) -> &str {
    let mut c = code;
    if let Some(i) = c.rfind('\n')
        && c[i + 1..].bytes().all(|b| b == b' ' || b == b'\t')
    {
        c = &c[..=i];
    }
    c.trim_matches(['\n', '\r'])
}

/// Puts a block (a code fence) at a line start, and breaks the line after it if text follows.
fn place_block<K>(out: &mut Out<K>, b: &[u8], after: usize, block: impl FnOnce(&str) -> String) {
    let indent = out.block_start();
    out.push(&block(&indent));
    if !rest_of_line_blank(b, after) {
        let nl = out.nl;
        out.push(nl);
    }
}

/// Splits `path#fragment`.
fn split_fragment(s: &str) -> (&str, Option<&str>) {
    match s.split_once('#') {
        Some((p, f)) => (p, Some(f)),
        None => (s, None),
    }
}

/// The output for a resolved reference: its URL, with the fragment re-appended.
fn reference(resolved: Option<String>, fragment: Option<&str>) -> Option<String> {
    resolved.map(|url| {
        let mut u = md_url(&url).into_owned();
        if let Some(f) = fragment {
            u.push('#');
            u.push_str(&md_url(f));
        }
        u
    })
}

/// What stands in for an unresolved reference.
fn unresolved<K>(out: &Out<K>) -> &'static str {
    if out.in_link_destination() { "#" } else { "" }
}

// ---------------------------------------------------------------------------------------------
// Hugo

mod hugo {
    use super::*;

    /// An opening (or self-closing) shortcode tag.
    struct Tag<'s> {
        start: usize,
        name: &'s str,
        pos: Vec<Cow<'s, str>>,
        named: Vec<(&'s str, Cow<'s, str>)>,
        self_closing: bool,
    }

    impl Tag<'_> {
        /// A named argument, if given and not empty.
        fn get(&self, key: &str) -> Option<&str> {
            self.named
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.as_ref())
                .filter(|v| !v.trim().is_empty())
        }

        /// A positional argument, if given and not empty.
        fn arg(&self, i: usize) -> Option<&str> {
            self.pos
                .get(i)
                .map(|v| v.as_ref())
                .filter(|v| !v.trim().is_empty())
        }
    }

    enum Tok<'s> {
        Text(usize, usize),
        /// An escaped shortcode, as literal text.
        Lit(String),
        Open(Tag<'s>),
        Close {
            start: usize,
            end: usize,
            name: &'s str,
        },
    }

    /// Built-ins whose templates never use `.Inner`: never paired.
    const LEAF: &[&str] = &[
        "figure",
        "youtube",
        "vimeo",
        "vimeo_simple",
        "gist",
        "x",
        "x_simple",
        "tweet",
        "twitter",
        "twitter_simple",
        "instagram",
        "instagram_simple",
        "ref",
        "relref",
        "param",
    ];

    struct Env<'e, 'c> {
        s: &'e str,
        ctx: &'e Context<'c>,
        rep: Report<'e>,
    }

    pub(super) fn expand(s: &str, ctx: &Context<'_>, nl: &'static str) -> (String, Vec<Finding>) {
        let mut env = Env {
            s,
            ctx,
            rep: Report::new(s),
        };
        let toks = tokenize(s, &mut env.rep);
        let partner = pair(&toks);
        let mut out: Out<usize> = Out::new(s.len(), nl);
        for (i, t) in toks.iter().enumerate() {
            match t {
                Tok::Text(a, b) => out.push(&s[*a..*b]),
                Tok::Lit(l) => out.push(l),
                Tok::Open(_) if partner[i].is_some() => out.open(i, false),
                Tok::Open(tag) => leaf(tag, &mut env, &mut out),
                Tok::Close { start, end, name } => match partner[i].map(|o| &toks[o]) {
                    Some(Tok::Open(tag)) => {
                        let inner = out.close().map(|f| f.buf).unwrap_or_default();
                        paired(tag, &inner, *end, &mut env, &mut out);
                    }
                    _ => env.rep.add(
                        *start,
                        format!(
                            "closing Hugo shortcode `{}` without an opening one: removed",
                            clip(name, 60)
                        ),
                    ),
                },
            }
        }
        (out.finish(), env.rep.findings)
    }

    fn tokenize<'s>(s: &'s str, rep: &mut Report<'_>) -> Vec<Tok<'s>> {
        let b = s.as_bytes();
        let mut toks = Vec::new();
        let (mut pos, mut text) = (0, 0);
        let mut backtick = Finder::default();
        let mut escapes = [Finder::default(), Finder::default()];
        while let Some(i) = find(s, pos, "{{") {
            let (left, right, k) = match b.get(i + 2) {
                Some(b'<') => ("{{<", ">}}", 0),
                Some(b'%') => ("{{%", "%}}", 1),
                _ => {
                    pos = i + 1;
                    continue;
                }
            };
            if text < i {
                toks.push(Tok::Text(text, i));
            }
            let inner = i + 3;
            let end = if at(b, inner, "/*") {
                // `{{</* name */>}}`: literal `{{< name >}}` (Hugo: pagelexer_shortcode.go).
                let close = if k == 0 { "*/>}}" } else { "*/%}}" };
                match escapes[k].find(s, inner + 2, close) {
                    Some(e) => {
                        toks.push(Tok::Lit(format!("{left}{}{right}", &s[inner + 2..e])));
                        e + close.len()
                    }
                    None => {
                        let (end, _) = broken_end(b, i, inner, None);
                        rep.add(
                            i,
                            format!(
                                "unclosed escaped Hugo shortcode `{}`: removed",
                                clip(&s[i..end], 60)
                            ),
                        );
                        end
                    }
                }
            } else {
                match parse_tag(s, i, right, &mut backtick) {
                    Some((tok, end)) => {
                        toks.push(tok);
                        end
                    }
                    None => {
                        let (end, closed) = broken_end(b, i, inner, Some(right));
                        let what = if closed { "malformed" } else { "unclosed" };
                        rep.add(
                            i,
                            format!("{what} Hugo shortcode `{}`: removed", clip(&s[i..end], 60)),
                        );
                        end
                    }
                }
            };
            pos = end;
            text = end;
        }
        if text < s.len() {
            toks.push(Tok::Text(text, s.len()));
        }
        toks
    }

    /// Skips ASCII whitespace (line breaks included, as Hugo does); `None` at a blank line,
    /// which ends a tag that was never closed.
    fn ws(b: &[u8], mut p: usize) -> Option<usize> {
        let mut breaks = 0;
        while let Some(&c) = b.get(p) {
            match c {
                b'\n' => breaks += 1,
                b' ' | b'\t' | b'\r' | 0x0b | 0x0c => {}
                _ => break,
            }
            if breaks > 1 {
                return None;
            }
            p += 1;
        }
        Some(p)
    }

    /// A shortcode name: a letter, digit or `_`, then those, `-`, `/` or `.` (`x.inline`).
    fn name(s: &str, p: usize) -> Option<(&str, usize)> {
        let rest = s.get(p..)?;
        let mut end = 0;
        for (k, c) in rest.char_indices() {
            let ok = c.is_alphanumeric() || c == '_' || (k > 0 && matches!(c, '-' | '/' | '.'));
            if !ok {
                break;
            }
            end = k + c.len_utf8();
        }
        (end > 0).then(|| (&rest[..end], p + end))
    }

    /// `"…"` (no line break; with `\"` inside, Hugo drops every backslash).
    fn quoted(s: &str, p: usize) -> Option<(Cow<'_, str>, usize)> {
        let b = s.as_bytes();
        let mut j = p + 1;
        let mut escaped = false;
        loop {
            match b.get(j) {
                None | Some(b'\n') => return None,
                Some(b'\\') if b.get(j + 1) == Some(&b'"') => {
                    escaped = true;
                    j += 2;
                }
                Some(b'"') => break,
                Some(_) => j += 1,
            }
        }
        let raw = &s[p + 1..j];
        let v = if escaped {
            Cow::Owned(raw.replace('\\', ""))
        } else {
            Cow::Borrowed(raw)
        };
        Some((v, j + 1))
    }

    /// `` `…` `` (may span lines).
    fn raw<'s>(s: &'s str, p: usize, memo: &mut Finder) -> Option<(Cow<'s, str>, usize)> {
        let e = memo.find(s, p + 1, "`")?;
        Some((Cow::Borrowed(&s[p + 1..e]), e + 1))
    }

    /// The end of an unquoted argument.
    fn bare_end(b: &[u8], mut p: usize, right: &str, key: bool) -> usize {
        while let Some(&c) = b.get(p) {
            if c.is_ascii_whitespace()
                || (key && c == b'=')
                || at(b, p, right)
                || (c == b'/' && at(b, p + 1, right))
                || at(b, p, "{{")
            {
                break;
            }
            p += 1;
        }
        p
    }

    /// Parses the tag whose `{{<`/`{{%` is at `start`. `None` if it is malformed or unclosed.
    fn parse_tag<'s>(
        s: &'s str,
        start: usize,
        right: &str,
        backtick: &mut Finder,
    ) -> Option<(Tok<'s>, usize)> {
        let b = s.as_bytes();
        let mut p = ws(b, start + 3)?;
        let closing = b.get(p) == Some(&b'/');
        if closing {
            p = ws(b, p + 1)?;
        }
        let (mut name, np) = name(s, p)?;
        p = np;
        let mut tag = Tag {
            start,
            name,
            pos: Vec::new(),
            named: Vec::new(),
            self_closing: false,
        };
        // `{{< name/>}}`: the `/` closes, it is not part of the name.
        if let Some(n) = name.strip_suffix('/')
            && at(b, p, right)
        {
            name = n;
            tag.name = n;
            tag.self_closing = true;
        }
        if closing {
            p = ws(b, p)?;
            return at(b, p, right).then(|| {
                (
                    Tok::Close {
                        start,
                        end: p + 3,
                        name,
                    },
                    p + 3,
                )
            });
        }
        loop {
            p = ws(b, p)?;
            if p >= b.len() || at(b, p, "{{") {
                return None;
            }
            if at(b, p, right) {
                return Some((Tok::Open(tag), p + 3));
            }
            if b[p] == b'/' {
                let q = ws(b, p + 1)?;
                if !at(b, q, right) {
                    return None;
                }
                tag.self_closing = true;
                return Some((Tok::Open(tag), q + 3));
            }
            match b[p] {
                b'"' => {
                    let (v, e) = quoted(s, p)?;
                    tag.pos.push(v);
                    p = e;
                }
                b'`' => {
                    let (v, e) = raw(s, p, backtick)?;
                    tag.pos.push(v);
                    p = e;
                }
                _ => {
                    let e = bare_end(b, p, right, true);
                    if e == p {
                        return None;
                    }
                    let word = &s[p..e];
                    let q = ws(b, e)?;
                    if b.get(q) == Some(&b'=') {
                        let v0 = ws(b, q + 1)?;
                        let (v, ve) = match b.get(v0) {
                            Some(b'"') => quoted(s, v0)?,
                            Some(b'`') => raw(s, v0, backtick)?,
                            _ => {
                                let ve = bare_end(b, v0, right, false);
                                (Cow::Borrowed(&s[v0..ve]), ve)
                            }
                        };
                        tag.named.push((word, v));
                        p = ve;
                    } else {
                        tag.pos.push(Cow::Borrowed(word));
                        p = e;
                    }
                }
            }
        }
    }

    /// Pairs opening and closing tags: a closing tag closes the innermost open tag of its name;
    /// tags still open above it are not paired.
    fn pair(toks: &[Tok<'_>]) -> Vec<Option<usize>> {
        let mut partner = vec![None; toks.len()];
        let mut stack: Vec<(usize, &str)> = Vec::new();
        let mut open: HashMap<&str, usize> = HashMap::new();
        for (i, t) in toks.iter().enumerate() {
            match t {
                Tok::Open(tag)
                    if !tag.self_closing
                        && !LEAF.contains(&tag.name)
                        && stack.len() < MAX_NESTING =>
                {
                    stack.push((i, tag.name));
                    *open.entry(tag.name).or_default() += 1;
                }
                Tok::Close { name, .. } if open.get(name).is_some_and(|&n| n > 0) => {
                    while let Some((j, n)) = stack.pop() {
                        if let Some(c) = open.get_mut(n) {
                            *c -= 1;
                        }
                        if n == *name {
                            partner[i] = Some(j);
                            partner[j] = Some(i);
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        partner
    }

    fn unknown(name: &str) -> String {
        format!("unknown Hugo shortcode `{}`: removed", clip(name, 60))
    }

    /// A shortcode without inner content.
    fn leaf(t: &Tag<'_>, env: &mut Env<'_, '_>, out: &mut Out<usize>) {
        let res = match t.name {
            "figure" => figure(t, out.nl),
            "youtube" => {
                let id = t.get("id").or_else(|| t.arg(0));
                id.map(|id| {
                    let mut url = format!("https://www.youtube.com/watch?v={}", pct(id));
                    if let Some(start) = t.get("start") {
                        url.push_str(&format!("&t={}", pct(start)));
                    }
                    md_link(t.get("title").unwrap_or("YouTube video"), &url)
                })
                .ok_or_else(|| "Hugo `youtube` without a video id: removed".to_owned())
            }
            "vimeo" | "vimeo_simple" => t
                .get("id")
                .or_else(|| t.arg(0))
                .map(|id| {
                    let url = format!("https://vimeo.com/{}", pct(id));
                    md_link(t.get("title").unwrap_or("Vimeo video"), &url)
                })
                .ok_or_else(|| "Hugo `vimeo` without a video id: removed".to_owned()),
            "gist" => match (t.arg(0), t.arg(1)) {
                (Some(user), Some(id)) => {
                    let url = format!("https://gist.github.com/{}/{}", pct(user), pct(id));
                    let mut text = format!("Gist {user}/{id}");
                    if let Some(file) = t.arg(2) {
                        text.push_str(&format!(" ({file})"));
                    }
                    Ok(md_link(&text, &url))
                }
                _ => Err("Hugo `gist` without a user and an id: removed".to_owned()),
            },
            "x" | "x_simple" | "tweet" | "twitter" | "twitter_simple" => {
                let user = t.get("user").or_else(|| t.arg(1).and(t.arg(0)));
                let id = t.get("id").or_else(|| t.arg(1)).or_else(|| t.arg(0));
                match (user, id) {
                    (Some(u), Some(id)) => Ok(md_link(
                        &format!("Post by @{} on X", u.trim_start_matches('@')),
                        &format!(
                            "https://x.com/{}/status/{}",
                            pct(u.trim_start_matches('@')),
                            pct(id)
                        ),
                    )),
                    (None, Some(id)) if !t.name.starts_with('x') => Ok(md_link(
                        "Post on X",
                        &format!("https://x.com/i/status/{}", pct(id)),
                    )),
                    _ => Err(format!(
                        "Hugo `{}` without `user` and `id`: removed",
                        t.name
                    )),
                }
            }
            "instagram" | "instagram_simple" => t
                .get("id")
                .or_else(|| t.arg(0))
                .map(|id| {
                    let url = format!("https://www.instagram.com/p/{}/", pct(id));
                    md_link("Instagram post", &url)
                })
                .ok_or_else(|| "Hugo `instagram` without a post id: removed".to_owned()),
            "ref" | "relref" => {
                match t.get("path").or_else(|| t.arg(0)) {
                    None => Err(format!("Hugo `{}` without a path: removed", t.name)),
                    // `ref "#anchor"`: this page; left relative, the renderer resolves it
                    // against the post's permalink.
                    Some(p) if p.trim().starts_with('#') => Ok(md_url(p).into_owned()),
                    Some(p) => {
                        let (path, frag) = split_fragment(p.trim());
                        let url = (env.ctx.resolve)(Ref::Hugo(path));
                        match reference(url, frag) {
                            Some(u) => Ok(u),
                            None => {
                                out.push(unresolved(out));
                                Err(format!(
                                    "unresolved Hugo `{}` to `{}`",
                                    t.name,
                                    clip(p.trim(), 60)
                                ))
                            }
                        }
                    }
                }
            }
            "param" => match t.arg(0).or_else(|| t.get("name")) {
                None => Err("Hugo `param` without a key: removed".to_owned()),
                Some(key) => match (env.ctx.param)(key.trim()) {
                    Some(v) if out.in_link_destination() => Ok(md_url(&v).into_owned()),
                    Some(v) => Ok(md_escape(&v)),
                    None => Err(format!(
                        "Hugo param `{}` not found: removed",
                        clip(key.trim(), 60)
                    )),
                },
            },
            "highlight" | "details" | "comment" => Err(format!(
                "Hugo `{0}` without its closing `{{{{< /{0} >}}}}`: removed",
                t.name
            )),
            n if n.ends_with(".inline") => Err(format!(
                "Hugo inline shortcode `{}` removed: herald does not run templates",
                clip(n, 60)
            )),
            n => Err(unknown(n)),
        };
        match res {
            Ok(md) => out.push(&md),
            Err(msg) => env.rep.add(t.start, msg),
        }
    }

    /// A shortcode with its (expanded) inner content; `after` is the end of the closing tag.
    fn paired(t: &Tag<'_>, inner: &str, after: usize, env: &mut Env<'_, '_>, out: &mut Out<usize>) {
        let b = env.s.as_bytes();
        let nl = out.nl;
        match t.name {
            "highlight" => {
                let lang = t.arg(0).or_else(|| t.get("lang")).unwrap_or("");
                place_block(out, b, after, |indent| {
                    fence(lang, trim_code(inner), indent, nl)
                });
            }
            "details" => {
                let summary = md_inline(t.get("summary").unwrap_or("Details"));
                place_block(out, b, after, |_| {
                    let inner = inner.trim_matches(['\n', '\r']);
                    format!("**{summary}**{nl}{nl}{inner}")
                });
            }
            // Hugo's (deprecated) `comment` shows nothing.
            "comment" => {}
            n if n.ends_with(".inline") => env.rep.add(
                t.start,
                format!(
                    "Hugo inline shortcode `{}` removed: herald does not run templates",
                    clip(n, 60)
                ),
            ),
            n => {
                env.rep.add(t.start, unknown(n));
                out.push(inner);
            }
        }
    }

    /// Hugo's `figure`: the image (linked when `link`), then title, caption and attribution as
    /// an emphasised line under it.
    fn figure(t: &Tag<'_>, nl: &str) -> Result<String, String> {
        let src = t
            .get("src")
            .ok_or_else(|| "Hugo `figure` without `src`: removed".to_owned())?;
        let caption = t.get("caption");
        let alt = t.get("alt").or(caption).unwrap_or("");
        let mut md = format!("![{}]({}", md_escape(alt), md_url(src));
        if let Some(title) = t.get("title") {
            md.push(' ');
            md.push_str(&md_title(title));
        }
        md.push(')');
        if let Some(link) = t.get("link") {
            md = format!("[{md}]({})", md_url(link));
        }
        let mut parts = Vec::new();
        if let Some(title) = t.get("title") {
            parts.push(md_escape(title));
        }
        let mut line = caption.map(md_inline).unwrap_or_default();
        if let Some(attr) = t.get("attr") {
            if !line.is_empty() {
                line.push(' ');
            }
            match t.get("attrlink") {
                Some(l) => line.push_str(&format!("[{}]({})", md_inline(attr), md_url(l))),
                None => line.push_str(&md_inline(attr)),
            }
        }
        if !line.is_empty() {
            parts.push(line);
        }
        if !parts.is_empty() {
            md.push('\\');
            md.push_str(nl);
            md.push('*');
            md.push_str(&parts.join(" — "));
            md.push('*');
        }
        Ok(md)
    }
}

// ---------------------------------------------------------------------------------------------
// Jekyll (Liquid)

mod jekyll {
    use super::*;

    enum Tok<'s> {
        Text(usize, usize),
        /// `{{ expr }}`; `tl`/`tr`: whitespace control dashes on the left/right.
        Var {
            start: usize,
            expr: &'s str,
            tl: bool,
            tr: bool,
        },
        /// `{% name markup %}`.
        Tag {
            start: usize,
            end: usize,
            name: &'s str,
            markup: &'s str,
            tl: bool,
            tr: bool,
        },
        /// An unclosed `{{` or `{%`, removed through `end`.
        Bad {
            start: usize,
            end: usize,
        },
    }

    impl Tok<'_> {
        fn name(&self) -> Option<&str> {
            match self {
                Tok::Tag { name, .. } => Some(name),
                _ => None,
            }
        }
    }

    /// Tags that never open a block (Liquid's and Jekyll's, and branch tags).
    const LEAF: &[&str] = &[
        "link",
        "post_url",
        "include",
        "include_relative",
        "assign",
        "increment",
        "decrement",
        "cycle",
        "break",
        "continue",
        "echo",
        "liquid",
        "render",
        "gist",
        "#",
        "else",
        "elsif",
        "when",
        "raw",
        "comment",
    ];

    /// Blocks whose output depends on data herald lacks: dropped whole.
    const DROPPED: &[&str] = &["for", "tablerow", "case", "capture"];

    fn is_end(name: &str) -> Option<&str> {
        name.strip_prefix("end").filter(|n| !n.is_empty())
    }

    pub(super) fn expand(s: &str, ctx: &Context<'_>, nl: &'static str) -> (String, Vec<Finding>) {
        let toks = tokenize(s);
        let jump = structure(&toks);
        let partner = pair(&toks, &jump);
        let mut r = Render {
            s,
            ctx,
            rep: Report::new(s),
            out: Out::new(s.len(), nl),
            trim_next: false,
            site_prefix: None,
        };
        let mut i = 0;
        while i < toks.len() {
            i = r.token(&toks, &jump, &partner, i);
        }
        (r.out.finish(), r.rep.findings)
    }

    /// Liquid's tokenizer (liquid/tokenizer.rb): `{{ … }}` and `{% … %}`, which may span lines.
    /// Here an unclosed one stops at the next `{%` (`{{` too for a variable) or blank line.
    fn tokenize(s: &str) -> Vec<Tok<'_>> {
        let b = s.as_bytes();
        let mut toks = Vec::new();
        let (mut pos, mut text) = (0, 0);
        while let Some(i) = find(s, pos, "{") {
            let var = match b.get(i + 1) {
                Some(b'{') => true,
                Some(b'%') => false,
                _ => {
                    pos = i + 1;
                    continue;
                }
            };
            if text < i {
                toks.push(Tok::Text(text, i));
            }
            let end = match scan_close(b, i + 2, var) {
                Ok(k) => {
                    let inner = &s[i + 2..k];
                    let tl = inner.starts_with('-');
                    let tr = inner.len() > usize::from(tl) && inner.ends_with('-');
                    let mut body = &inner[usize::from(tl)..];
                    if tr {
                        body = &body[..body.len() - 1];
                    }
                    if var {
                        toks.push(Tok::Var {
                            start: i,
                            expr: body.trim(),
                            tl,
                            tr,
                        });
                    } else {
                        let body = body.trim_start();
                        let n = if body.starts_with('#') {
                            1
                        } else {
                            body.bytes()
                                .take_while(|c| c.is_ascii_alphanumeric() || *c == b'_')
                                .count()
                        };
                        toks.push(Tok::Tag {
                            start: i,
                            end: k + 2,
                            name: &body[..n],
                            markup: body[n..].trim(),
                            tl,
                            tr,
                        });
                    }
                    k + 2
                }
                Err(stop) => {
                    let end = eol(b, i, stop).max(i + 2);
                    toks.push(Tok::Bad { start: i, end });
                    end
                }
            };
            pos = end;
            text = end;
        }
        if text < s.len() {
            toks.push(Tok::Text(text, s.len()));
        }
        toks
    }

    /// The position of the closing `}}`/`%}`, or where scanning for it stopped.
    fn scan_close(b: &[u8], from: usize, var: bool) -> Result<usize, usize> {
        let close: &[u8] = if var { b"}}" } else { b"%}" };
        let mut j = from;
        while let Some(&c) = b.get(j) {
            if c == close[0] && b.get(j + 1) == Some(&close[1]) {
                return Ok(j);
            }
            if c == b'{' && (b.get(j + 1) == Some(&b'%') || (var && b.get(j + 1) == Some(&b'{'))) {
                return Err(j);
            }
            if c == b'\n' && blank_line_follows(b, j) {
                return Err(j);
            }
            j += 1;
        }
        Err(b.len())
    }

    /// For each `raw` tag its `endraw`, for each `comment` its `endcomment` (nested comments
    /// count, raw inside comments is skipped, as in liquid/tags/comment.rb).
    fn structure(toks: &[Tok<'_>]) -> Vec<Option<usize>> {
        let n = toks.len();
        let mut next_endraw = vec![None; n + 1];
        for i in (0..n).rev() {
            next_endraw[i] = if toks[i].name() == Some("endraw") {
                Some(i)
            } else {
                next_endraw[i + 1]
            };
        }
        let mut jump = vec![None; n];
        let mut comments = Vec::new();
        let mut i = 0;
        while i < n {
            match toks[i].name() {
                Some("raw") => match next_endraw[i + 1] {
                    Some(j) => {
                        jump[i] = Some(j);
                        i = j + 1;
                        continue;
                    }
                    None => break,
                },
                Some("comment") => comments.push(i),
                Some("endcomment") => {
                    if let Some(o) = comments.pop() {
                        jump[o] = Some(i);
                    }
                }
                _ => {}
            }
            i += 1;
        }
        jump
    }

    /// The next token to look at after `i`, over raw and comment sections.
    fn next(toks: &[Tok<'_>], jump: &[Option<usize>], i: usize) -> usize {
        match (toks[i].name(), jump[i]) {
            (Some("raw" | "comment"), Some(j)) => j + 1,
            (Some("raw"), None) => toks.len(),
            _ => i + 1,
        }
    }

    /// Pairs block tags with their `end` tags (innermost first).
    fn pair(toks: &[Tok<'_>], jump: &[Option<usize>]) -> Vec<Option<usize>> {
        let mut partner = vec![None; toks.len()];
        let mut stack: Vec<(usize, &str)> = Vec::new();
        let mut open: HashMap<&str, usize> = HashMap::new();
        let mut i = 0;
        while i < toks.len() {
            if let Some(name) = toks[i].name() {
                if let Some(base) = is_end(name) {
                    if open.get(base).is_some_and(|&c| c > 0) {
                        while let Some((j, n)) = stack.pop() {
                            if let Some(c) = open.get_mut(n) {
                                *c -= 1;
                            }
                            if n == base {
                                partner[i] = Some(j);
                                partner[j] = Some(i);
                                break;
                            }
                        }
                    }
                } else if !name.is_empty() && !LEAF.contains(&name) && stack.len() < MAX_NESTING {
                    stack.push((i, name));
                    *open.entry(name).or_default() += 1;
                }
            }
            i = next(toks, jump, i);
        }
        partner
    }

    struct Render<'e, 'c> {
        s: &'e str,
        ctx: &'e Context<'c>,
        rep: Report<'e>,
        out: Out<&'e str>,
        /// A `-%}`/`-}}` asks to strip the whitespace that follows.
        trim_next: bool,
        /// Output of `{{ site.… }}` directly before the current position: (depth, start, end).
        site_prefix: Option<(usize, usize, usize)>,
    }

    /// Ruby's `lstrip`/`rstrip` whitespace.
    fn ruby_ws(c: char) -> bool {
        matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c' | '\0')
    }

    impl<'e> Render<'e, '_> {
        fn note(&mut self, pos: usize, msg: String) {
            if !self.out.discarding() {
                self.rep.add(pos, msg);
            }
        }

        /// Whitespace control of a tag or variable: `{%-` strips what precedes.
        fn control(&mut self, tl: bool, tr: bool) {
            if tl {
                let buf = self.out.buf();
                let keep = buf.trim_end_matches(ruby_ws).len();
                buf.truncate(keep);
            }
            self.trim_next = tr;
        }

        fn text(&mut self, t: &str) {
            let t = if self.trim_next {
                t.trim_start_matches(ruby_ws)
            } else {
                t
            };
            self.trim_next = false;
            self.out.push(t);
        }

        /// Handles token `i`; returns the next one.
        fn token(
            &mut self,
            toks: &[Tok<'e>],
            jump: &[Option<usize>],
            partner: &[Option<usize>],
            i: usize,
        ) -> usize {
            let s = self.s;
            match &toks[i] {
                Tok::Text(a, b) => self.text(&s[*a..*b]),
                Tok::Bad { start, end } => self.note(
                    *start,
                    format!("unclosed Liquid `{}`: removed", clip(&s[*start..*end], 60)),
                ),
                Tok::Var {
                    start,
                    expr,
                    tl,
                    tr,
                } => {
                    self.control(*tl, *tr);
                    if expr.is_empty() {
                        // `{{ }}` outputs nothing in Liquid.
                        return next(toks, jump, i);
                    }
                    match eval(expr, self.ctx) {
                        Some((v, site)) => {
                            let depth = self.out.stack.len();
                            let before = self.out.buf().len();
                            self.out.push(&v);
                            let after = self.out.buf().len();
                            self.site_prefix = match self.site_prefix {
                                _ if !site => None,
                                Some((d, a, e)) if d == depth && e == before => Some((d, a, after)),
                                _ => Some((depth, before, after)),
                            };
                        }
                        None => self.note(
                            *start,
                            format!(
                                "unsupported Liquid expression `{{{{ {} }}}}`: removed",
                                clip(expr, 60)
                            ),
                        ),
                    }
                }
                Tok::Tag {
                    start,
                    end,
                    name,
                    markup,
                    tl,
                    tr,
                } => match (*name, jump[i], partner[i]) {
                    ("raw", Some(j), _) => {
                        self.control(*tl, false);
                        let from = *end;
                        if let Tok::Tag {
                            start: to, tr: etr, ..
                        } = &toks[j]
                        {
                            self.out.push(&s[from..*to]);
                            self.trim_next = *etr;
                        }
                        return j + 1;
                    }
                    ("raw", None, _) => {
                        self.control(*tl, false);
                        self.note(
                            *start,
                            "`{% raw %}` without `{% endraw %}`: the rest is kept as written"
                                .to_owned(),
                        );
                        self.out.push(&s[*end..]);
                        return toks.len();
                    }
                    ("comment", Some(j), _) => {
                        self.control(*tl, false);
                        if let Tok::Tag { tr: etr, .. } = &toks[j] {
                            self.trim_next = *etr;
                        }
                        return j + 1;
                    }
                    ("comment", None, _) => {
                        self.control(*tl, *tr);
                        self.note(
                            *start,
                            "`{% comment %}` without `{% endcomment %}`: removed".to_owned(),
                        );
                    }
                    (_, _, Some(o)) if o > i => self.open(name, markup, *start, *tl, *tr),
                    (_, _, Some(o)) => self.close(toks, o, *end, *tl, *tr),
                    _ => {
                        self.control(*tl, *tr);
                        self.leaf(name, markup, *start);
                    }
                },
            }
            next(toks, jump, i)
        }

        fn open(&mut self, name: &'e str, markup: &str, start: usize, tl: bool, tr: bool) {
            self.control(tl, tr);
            let msg = match name {
                "highlight" => None,
                "if" | "unless" => Some(format!(
                    "Liquid `{name}` not evaluated: kept the text of its first branch"
                )),
                n if DROPPED.contains(&n) => Some(format!(
                    "Liquid `{n}` block removed: herald does not evaluate Liquid"
                )),
                n => Some(format!(
                    "unsupported Liquid block `{{% {} %}}`: tags removed, inner text kept",
                    clip(&format!("{n} {markup}"), 60).trim_end()
                )),
            };
            if let Some(m) = msg {
                self.note(start, m);
            }
            self.out.open(name, DROPPED.contains(&name));
        }

        fn close(&mut self, toks: &[Tok<'_>], o: usize, after: usize, tl: bool, tr: bool) {
            self.control(tl, false);
            let inner = self.out.close().map(|f| f.buf).unwrap_or_default();
            let (name, markup, start) = match &toks[o] {
                Tok::Tag {
                    name,
                    markup,
                    start,
                    ..
                } => (*name, *markup, *start),
                _ => ("", "", 0),
            };
            match name {
                "highlight" => {
                    let lang = markup
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_lowercase();
                    if lang.is_empty() {
                        self.note(start, "Jekyll `highlight` without a language".to_owned());
                    }
                    let nl = self.out.nl;
                    place_block(&mut self.out, self.s.as_bytes(), after, |indent| {
                        fence(&lang, trim_code(&inner), indent, nl)
                    });
                }
                n if DROPPED.contains(&n) => {}
                _ => self.out.push(&inner),
            }
            self.trim_next = tr;
        }

        fn leaf(&mut self, name: &str, markup: &str, start: usize) {
            match name {
                "link" | "post_url" => {
                    let (what, resolved, frag) = if markup.contains("{{") {
                        ("Liquid variables are not supported", None, None)
                    } else {
                        let (path, frag) = split_fragment(markup);
                        let r = if name == "link" {
                            Ref::JekyllLink(path)
                        } else {
                            Ref::JekyllPostUrl(path)
                        };
                        ("unresolved", (self.ctx.resolve)(r), frag)
                    };
                    match reference(resolved, frag) {
                        Some(url) => {
                            // `{{ site.baseurl }}{% post_url … %}`: the URL is absolute already.
                            if let Some((d, a, e)) = self.site_prefix.take() {
                                let depth = self.out.stack.len();
                                let buf = self.out.buf();
                                if d == depth && e == buf.len() {
                                    buf.truncate(a);
                                }
                            }
                            self.out.push(&url);
                        }
                        None => {
                            let stand_in = unresolved(&self.out);
                            self.out.push(stand_in);
                            self.note(
                                start,
                                format!("Jekyll `{name}` {what}: `{}`", clip(markup, 60)),
                            );
                        }
                    }
                }
                "include" | "include_relative" => {
                    let file = markup.split_whitespace().next().unwrap_or("");
                    self.note(
                        start,
                        format!(
                            "Jekyll `{name}` of `{}` removed: herald cannot render the site's includes",
                            clip(file, 60)
                        ),
                    );
                }
                "gist" => {
                    let mut words = markup.split_whitespace();
                    match words.next() {
                        Some(g) => {
                            let url = format!(
                                "https://gist.github.com/{}",
                                g.split('/').map(pct).collect::<Vec<_>>().join("/")
                            );
                            let mut text = format!("Gist {g}");
                            if let Some(f) = words.next() {
                                text.push_str(&format!(" ({f})"));
                            }
                            self.out.push(&md_link(&text, &url));
                        }
                        None => self.note(start, "Jekyll `gist` without an id: removed".to_owned()),
                    }
                }
                "#" => {}
                "else" | "elsif" | "when" => match self.out.stack.last().map(|f| f.key) {
                    // `if`/`unless`: only the first branch is kept.
                    Some("if" | "unless") => self.out.discard_top(),
                    // Inside a dropped block (`for … else`, `case … when`): dropped anyway.
                    Some(n) if DROPPED.contains(&n) => {}
                    _ => self.note(
                        start,
                        format!("`{{% {name} %}}` outside `if`, `unless` or `case`: removed"),
                    ),
                },
                "" => self.note(start, "malformed Liquid tag: removed".to_owned()),
                n => {
                    let msg = match is_end(n) {
                        Some(_) => {
                            format!("`{{% {} %}}` without an opening tag: removed", clip(n, 60))
                        }
                        None if matches!(n, "if" | "unless" | "highlight")
                            || DROPPED.contains(&n) =>
                        {
                            format!("Liquid `{n}` without `{{% end{n} %}}`: removed")
                        }
                        None => {
                            format!("unsupported Liquid tag `{{% {} %}}`: removed", clip(n, 60))
                        }
                    };
                    self.note(start, msg);
                }
            }
        }
    }

    /// Evaluates the Liquid expressions Jekyll posts use for URLs: string literals and
    /// `site.baseurl`/`site.url`, through `relative_url`, `absolute_url`, `prepend`, `append`.
    /// Returns the value and whether it is a bare site URL (see `site_prefix`).
    fn eval(expr: &str, ctx: &Context<'_>) -> Option<(String, bool)> {
        let parts = split_pipes(expr);
        let (first, filters) = parts.split_first()?;
        let (mut v, mut site) = operand(first, ctx)?;
        for f in filters {
            let (name, arg) = match f.split_once(':') {
                Some((n, a)) => (n.trim(), Some(a.trim())),
                None => (f.trim(), None),
            };
            v = match (name, arg) {
                ("relative_url", None) => {
                    site = false;
                    relative_url(&v, ctx)
                }
                ("absolute_url", None) => {
                    site = false;
                    absolute_url(&v, ctx)
                }
                ("prepend", Some(a)) => {
                    let (p, s) = operand(a, ctx)?;
                    site &= s;
                    p + &v
                }
                ("append", Some(a)) => {
                    let (p, s) = operand(a, ctx)?;
                    site &= s;
                    v + &p
                }
                _ => return None,
            };
        }
        Some((v, site))
    }

    fn split_pipes(expr: &str) -> Vec<&str> {
        let mut parts = Vec::new();
        let mut quote = None;
        let mut from = 0;
        for (i, c) in expr.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), _) if q == c => quote = None,
                (None, '|') => {
                    parts.push(&expr[from..i]);
                    from = i + 1;
                }
                _ => {}
            }
        }
        parts.push(&expr[from..]);
        parts
    }

    /// A string literal, `site.baseurl` or `site.url`; the flag tells the latter two.
    fn operand(s: &str, ctx: &Context<'_>) -> Option<(String, bool)> {
        let s = s.trim();
        match s {
            "site.baseurl" => return Some((ctx.jekyll_baseurl.to_owned(), true)),
            "site.url" => return Some((ctx.jekyll_url.to_owned(), true)),
            _ => {}
        }
        let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let inner = s.strip_prefix(q)?.strip_suffix(q)?;
        (!inner.contains(q)).then(|| (inner.to_owned(), false))
    }

    /// Whether a URL has a scheme (Addressable's `absolute?`).
    fn is_absolute(u: &str) -> bool {
        match u.split_once(':') {
            Some((scheme, _)) => {
                scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme
                        .bytes()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
            }
            None => false,
        }
    }

    fn leading_slash(s: &str) -> Cow<'_, str> {
        if s.is_empty() || s.starts_with('/') {
            Cow::Borrowed(s)
        } else {
            Cow::Owned(format!("/{s}"))
        }
    }

    /// Jekyll's `relative_url` (filters/url_filters.rb).
    fn relative_url(input: &str, ctx: &Context<'_>) -> String {
        if is_absolute(input) {
            return input.to_owned();
        }
        let base = ctx
            .jekyll_baseurl
            .strip_suffix('/')
            .unwrap_or(ctx.jekyll_baseurl);
        format!("{}{}", leading_slash(base), leading_slash(input))
    }

    /// Jekyll's `absolute_url`; with an empty `site.url`, herald's base URL.
    fn absolute_url(input: &str, ctx: &Context<'_>) -> String {
        if is_absolute(input) {
            return input.to_owned();
        }
        if ctx.jekyll_url.is_empty() {
            format!(
                "{}{}",
                ctx.base_url.trim_end_matches('/'),
                leading_slash(input)
            )
        } else {
            format!("{}{}", ctx.jekyll_url, relative_url(input, ctx))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Zola

mod zola {
    use super::*;

    /// A literal argument value.
    enum Val<'s> {
        Str(&'s str),
        /// A number or boolean, as written.
        Lit(&'s str),
        Array,
    }

    /// `name(key=value, …)`.
    struct Call<'s> {
        name: &'s str,
        args: Vec<(&'s str, Val<'s>)>,
    }

    impl Call<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.args
                .iter()
                .find(|(k, _)| *k == key)
                .and_then(|(_, v)| match v {
                    Val::Str(s) | Val::Lit(s) => Some(*s).filter(|s| !s.trim().is_empty()),
                    Val::Array => None,
                })
        }
    }

    enum Tok<'s> {
        Text(usize, usize),
        /// An escaped inline shortcode, as literal text.
        Lit(String),
        Inline {
            start: usize,
            call: Call<'s>,
        },
        BodyStart {
            start: usize,
            call: Call<'s>,
        },
        BodyEnd {
            start: usize,
        },
        /// `{%/* name() */%}` and `{%/* end */%}`.
        EscStart {
            start: usize,
            end: usize,
        },
        EscEnd {
            start: usize,
            end: usize,
        },
    }

    /// Whitespace in Zola's shortcode grammar (components/markdown/src/content.pest).
    fn ws(b: &[u8], mut p: usize) -> usize {
        while matches!(b.get(p), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            p += 1;
        }
        p
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`: its end.
    fn ident(b: &[u8], p: usize) -> Option<usize> {
        let first = *b.get(p)?;
        if !(first.is_ascii_alphabetic() || first == b'_') {
            return None;
        }
        let n = b[p..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count();
        Some(p + n)
    }

    /// Quote searches, one per quote character, remembering failures.
    #[derive(Default)]
    struct Quotes([Finder; 3]);

    /// A literal: string (`"…"`, `'…'`, `` `…` ``, no escapes), boolean, number or array.
    fn literal<'s>(s: &'s str, p: usize, q: &mut Quotes, depth: usize) -> Option<(Val<'s>, usize)> {
        let b = s.as_bytes();
        let c = *b.get(p)?;
        if let Some(k) = [b'"', b'\'', b'`'].iter().position(|&x| x == c) {
            let quote = &s[p..p + 1];
            let e = q.0[k].find(s, p + 1, quote)?;
            return Some((Val::Str(&s[p + 1..e]), e + 1));
        }
        if c == b'[' {
            if depth > 16 {
                return None;
            }
            let mut j = ws(b, p + 1);
            loop {
                if b.get(j) == Some(&b']') {
                    return Some((Val::Array, j + 1));
                }
                let (_, e) = literal(s, j, q, depth + 1)?;
                j = ws(b, e);
                if b.get(j) == Some(&b',') {
                    j = ws(b, j + 1);
                } else if b.get(j) != Some(&b']') {
                    return None;
                }
            }
        }
        for word in ["true", "false"] {
            if at(b, p, word) {
                return Some((Val::Lit(word), p + word.len()));
            }
        }
        let mut j = p + usize::from(c == b'-');
        let digits = |j: usize| {
            b[j.min(b.len())..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .count()
        };
        let n = digits(j);
        if n == 0 {
            return None;
        }
        j += n;
        if b.get(j) == Some(&b'.') && digits(j + 1) > 0 {
            j += 1 + digits(j + 1);
        }
        Some((Val::Lit(&s[p..j]), j))
    }

    /// `name(key=literal, …)` from `p` (leading whitespace allowed).
    fn call<'s>(s: &'s str, p: usize, q: &mut Quotes) -> Option<(Call<'s>, usize)> {
        let b = s.as_bytes();
        let p = ws(b, p);
        let ne = ident(b, p)?;
        let name = &s[p..ne];
        let mut j = ws(b, ne);
        if b.get(j) != Some(&b'(') {
            return None;
        }
        j = ws(b, j + 1);
        let mut args = Vec::new();
        loop {
            if b.get(j) == Some(&b')') {
                return Some((Call { name, args }, j + 1));
            }
            let ke = ident(b, j)?;
            let key = &s[j..ke];
            j = ws(b, ke);
            if b.get(j) != Some(&b'=') {
                return None;
            }
            let (v, e) = literal(s, ws(b, j + 1), q, 0)?;
            args.push((key, v));
            j = ws(b, e);
            if b.get(j) == Some(&b',') {
                j = ws(b, j + 1);
            }
        }
    }

    /// `end` then `close` from `p`: the end of the tag.
    fn end_tag(b: &[u8], p: usize, close: &str) -> Option<usize> {
        let p = ws(b, p);
        if !at(b, p, "end") {
            return None;
        }
        let p = ws(b, p + 3);
        at(b, p, close).then_some(p + close.len())
    }

    /// `close` after optional whitespace: the end of the tag.
    fn closer(b: &[u8], p: usize, close: &str) -> Option<usize> {
        let p = ws(b, p);
        at(b, p, close).then_some(p + close.len())
    }

    /// Zola's shortcode grammar: anything that does not parse as a shortcode is text.
    fn tokenize(s: &str) -> Vec<Tok<'_>> {
        let b = s.as_bytes();
        let mut q = Quotes::default();
        let mut toks = Vec::new();
        let (mut pos, mut text) = (0, 0);
        while let Some(i) = find(s, pos, "{") {
            let found = match b.get(i + 1) {
                Some(b'{') if at(b, i + 2, "/*") => call(s, i + 4, &mut q)
                    .and_then(|(_, e)| closer(b, e, "*/}}"))
                    .map(|e| {
                        let lit = s[i..e].replacen("{{/*", "{{", 1).replacen("*/}}", "}}", 1);
                        (Tok::Lit(lit), e)
                    }),
                Some(b'{') => call(s, i + 2, &mut q).and_then(|(c, e)| {
                    closer(b, e, "}}").map(|e| (Tok::Inline { start: i, call: c }, e))
                }),
                Some(b'%') if at(b, i + 2, "/*") => end_tag(b, i + 4, "*/%}")
                    .map(|e| (Tok::EscEnd { start: i, end: e }, e))
                    .or_else(|| {
                        call(s, i + 4, &mut q)
                            .and_then(|(_, e)| closer(b, e, "*/%}"))
                            .map(|e| (Tok::EscStart { start: i, end: e }, e))
                    }),
                Some(b'%') => end_tag(b, i + 2, "%}")
                    .map(|e| (Tok::BodyEnd { start: i }, e))
                    .or_else(|| {
                        call(s, i + 2, &mut q).and_then(|(c, e)| {
                            closer(b, e, "%}").map(|e| (Tok::BodyStart { start: i, call: c }, e))
                        })
                    }),
                _ => None,
            };
            match found {
                Some((tok, e)) => {
                    if text < i {
                        toks.push(Tok::Text(text, i));
                    }
                    toks.push(tok);
                    pos = e;
                    text = e;
                }
                None => pos = i + 1,
            }
        }
        if text < s.len() {
            toks.push(Tok::Text(text, s.len()));
        }
        toks
    }

    /// Pairs `start` tokens with `end` tokens, innermost first, skipping the tokens inside the
    /// sections that `skip` already pairs.
    fn pair(
        toks: &[Tok<'_>],
        skip: &[Option<usize>],
        is_start: impl Fn(&Tok<'_>) -> bool,
        is_end: impl Fn(&Tok<'_>) -> bool,
    ) -> Vec<Option<usize>> {
        let mut partner = vec![None; toks.len()];
        let mut stack = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            if let Some(j) = skip.get(i).copied().flatten().filter(|&j| j > i) {
                i = j + 1;
                continue;
            }
            if is_start(&toks[i]) {
                if stack.len() < MAX_NESTING {
                    stack.push(i);
                }
            } else if is_end(&toks[i])
                && let Some(o) = stack.pop()
            {
                partner[o] = Some(i);
                partner[i] = Some(o);
            }
            i += 1;
        }
        partner
    }

    pub(super) fn expand(s: &str, nl: &'static str) -> (String, Vec<Finding>) {
        let mut rep = Report::new(s);
        let toks = tokenize(s);
        let none = vec![None; toks.len()];
        let escaped = pair(
            &toks,
            &none,
            |t| matches!(t, Tok::EscStart { .. }),
            |t| matches!(t, Tok::EscEnd { .. }),
        );
        let bodies = pair(
            &toks,
            &escaped,
            |t| matches!(t, Tok::BodyStart { .. }),
            |t| matches!(t, Tok::BodyEnd { .. }),
        );
        let unescape =
            |a: usize, e: usize| s[a..e].replacen("{%/*", "{%", 1).replacen("*/%}", "%}", 1);
        let mut out: Out<usize> = Out::new(s.len(), nl);
        let mut i = 0;
        while i < toks.len() {
            match &toks[i] {
                Tok::Text(a, e) => out.push(&s[*a..*e]),
                Tok::Lit(l) => out.push(l),
                Tok::EscStart { start, end } => match escaped[i].map(|j| &toks[j]) {
                    // An escaped body: literal, its inner text untouched (as Zola does).
                    Some(Tok::EscEnd { start: es, end: ee }) => {
                        out.push(&unescape(*start, *end));
                        out.push(&s[*end..*es]);
                        out.push(&unescape(*es, *ee));
                        i = escaped[i].unwrap_or(i) + 1;
                        continue;
                    }
                    _ => out.push(&unescape(*start, *end)),
                },
                Tok::EscEnd { start, end } => out.push(&unescape(*start, *end)),
                Tok::Inline { start, call } => match inline(call) {
                    Ok(md) => out.push(&md),
                    Err(msg) => rep.add(*start, msg),
                },
                Tok::BodyStart { start, call } => {
                    if bodies[i].is_some() {
                        out.open(i, false);
                    } else {
                        rep.add(
                            *start,
                            format!(
                                "Zola shortcode `{}` without its `{{% end %}}`: removed",
                                clip(call.name, 60)
                            ),
                        );
                    }
                }
                Tok::BodyEnd { start } => match bodies[i].map(|o| &toks[o]) {
                    Some(Tok::BodyStart { start: os, call }) => {
                        let inner = out.close().map(|f| f.buf).unwrap_or_default();
                        rep.add(
                            *os,
                            format!(
                                "unknown Zola shortcode `{}`: tags removed, body kept",
                                clip(call.name, 60)
                            ),
                        );
                        out.push(&inner);
                    }
                    _ => rep.add(
                        *start,
                        "`{% end %}` without a shortcode to close: removed".to_owned(),
                    ),
                },
            }
            i += 1;
        }
        (out.finish(), rep.findings)
    }

    /// The shortcodes Zola had built in before 0.17.0, as links.
    fn inline(c: &Call<'_>) -> Result<String, String> {
        let missing = |what: &str| format!("Zola `{}` without `{what}`: removed", c.name);
        match c.name {
            "youtube" => {
                let id = c.get("id").ok_or_else(|| missing("id"))?;
                let mut url = format!("https://www.youtube.com/watch?v={}", pct(id));
                if let Some(list) = c.get("playlist") {
                    url.push_str(&format!("&list={}", pct(list)));
                }
                Ok(md_link(c.get("title").unwrap_or("YouTube video"), &url))
            }
            "vimeo" => {
                let id = c.get("id").ok_or_else(|| missing("id"))?;
                let url = format!("https://vimeo.com/{}", pct(id));
                Ok(md_link(c.get("title").unwrap_or("Vimeo video"), &url))
            }
            "streamable" => {
                let id = c.get("id").ok_or_else(|| missing("id"))?;
                let url = format!("https://streamable.com/{}", pct(id));
                Ok(md_link("Streamable video", &url))
            }
            "gist" => {
                let url = c.get("url").ok_or_else(|| missing("url"))?;
                let name = url
                    .split_once("gist.github.com/")
                    .map_or("", |(_, rest)| rest.trim_end_matches('/'));
                let mut text = String::from("Gist");
                if !name.is_empty() {
                    text.push(' ');
                    text.push_str(name);
                }
                if let Some(file) = c.get("file") {
                    text.push_str(&format!(" ({file})"));
                }
                Ok(md_link(&text, url))
            }
            n => Err(format!("unknown Zola shortcode `{}`: removed", clip(n, 60))),
        }
    }

    // -- Internal links ----------------------------------------------------------------------

    /// Resolves `@/path.md#anchor` in link destinations and reference definitions, outside
    /// fenced and indented code blocks and code spans (Zola does it on Markdown link events).
    pub(super) fn links<'s>(s: &'s str, ctx: &Context<'_>, rep: &mut Report<'_>) -> Cow<'s, str> {
        if !s.contains("@/") {
            return Cow::Borrowed(s);
        }
        let mut pass = LinkPass {
            s,
            ctx,
            out: String::new(),
            copied: 0,
        };
        let b = s.as_bytes();
        let mut fenced: Option<(u8, usize)> = None;
        let (mut prev_blank, mut in_list, mut in_code) = (true, false, false);
        let mut para: Option<usize> = None;
        let mut start = 0;
        while start < s.len() {
            let end = b[start..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(s.len(), |k| start + k);
            let line = &s[start..end];
            // Blockquote markers are containers, not indentation.
            let mut rest = line.trim_start_matches([' ', '\t']);
            while let Some(r) = rest.strip_prefix('>') {
                rest = r.strip_prefix(' ').unwrap_or(r);
            }
            let rest_ws = rest.trim_start_matches([' ', '\t']);
            let cols = indent_columns(&rest[..rest.len() - rest_ws.len()])
                + indent_columns(&line[..line.len() - line.trim_start_matches([' ', '\t']).len()]);
            let rest = rest_ws;
            let blank = rest.trim().is_empty();
            if let Some((ch, n)) = fenced {
                let run = rest.bytes().take_while(|&c| c == ch).count();
                if run >= n && rest[run..].trim().is_empty() {
                    fenced = None;
                }
            } else if blank {
                if let Some(a) = para.take() {
                    pass.chunk(a, start, rep);
                }
                prev_blank = true;
            } else if cols >= 4 && para.is_none() && (in_code || (prev_blank && !in_list)) {
                in_code = true;
                prev_blank = false;
            } else if let Some(f) = fence_open(rest).filter(|_| cols < 4 || in_list) {
                if let Some(a) = para.take() {
                    pass.chunk(a, start, rep);
                }
                fenced = Some(f);
                in_code = false;
                prev_blank = false;
            } else {
                in_code = false;
                if cols < 4 && list_marker(rest) {
                    in_list = true;
                } else if cols == 0 && prev_blank {
                    in_list = false;
                }
                para.get_or_insert(start);
                prev_blank = false;
            }
            start = end + 1;
        }
        if let Some(a) = para {
            pass.chunk(a, s.len(), rep);
        }
        if pass.copied == 0 {
            return Cow::Borrowed(s);
        }
        pass.out.push_str(&s[pass.copied..]);
        Cow::Owned(pass.out)
    }

    fn indent_columns(ws: &str) -> usize {
        ws.chars().fold(0, |col, c| {
            if c == '\t' {
                col + 4 - col % 4
            } else {
                col + 1
            }
        })
    }

    /// A code fence opening: its character and length.
    fn fence_open(rest: &str) -> Option<(u8, usize)> {
        let ch = *rest.as_bytes().first()?;
        if ch != b'`' && ch != b'~' {
            return None;
        }
        let n = rest.bytes().take_while(|&c| c == ch).count();
        (n >= 3 && !(ch == b'`' && rest[n..].contains('`'))).then_some((ch, n))
    }

    fn list_marker(rest: &str) -> bool {
        let b = rest.as_bytes();
        let spaced = |k: usize| matches!(b.get(k), None | Some(b' ' | b'\t' | b'\r'));
        match b.first() {
            Some(b'-' | b'*' | b'+') => spaced(1),
            Some(c) if c.is_ascii_digit() => {
                let n = b.iter().take_while(|c| c.is_ascii_digit()).count();
                n <= 9 && matches!(b.get(n), Some(b'.' | b')')) && spaced(n + 1)
            }
            _ => false,
        }
    }

    struct LinkPass<'s, 'e, 'c> {
        s: &'s str,
        ctx: &'e Context<'c>,
        out: String,
        copied: usize,
    }

    impl LinkPass<'_, '_, '_> {
        /// One paragraph (or other run of non-blank lines) `a..e`.
        fn chunk(&mut self, a: usize, e: usize, rep: &mut Report<'_>) {
            let s = self.s;
            let b = s.as_bytes();
            if !s[a..e].contains("@/") {
                return;
            }
            // Code spans: a backtick run closes at the next run of the same length.
            let mut runs = Vec::new();
            let mut j = a;
            while j < e {
                if b[j] == b'`' {
                    let n = b[j..e].iter().take_while(|&&c| c == b'`').count();
                    runs.push((j, n));
                    j += n;
                } else {
                    j += 1;
                }
            }
            let mut next_same = vec![None; runs.len()];
            let mut last: HashMap<usize, usize> = HashMap::new();
            for k in (0..runs.len()).rev() {
                next_same[k] = last.insert(runs[k].1, k);
            }
            let mut spans = Vec::new();
            let mut k = 0;
            while k < runs.len() {
                match next_same[k] {
                    Some(m) => {
                        spans.push((runs[k].0, runs[m].0 + runs[m].1));
                        k = m + 1;
                    }
                    None => k += 1,
                }
            }
            let mut span = 0;
            let mut from = a;
            let (mut line_start, mut scanned) = (a, a);
            while let Some(p) = s[from..e].find("@/").map(|k| from + k) {
                from = p + 2;
                while spans.get(span).is_some_and(|&(_, z)| z <= p) {
                    span += 1;
                }
                if spans.get(span).is_some_and(|&(y, _)| y <= p) {
                    continue;
                }
                if let Some(k) = s[scanned..p].rfind('\n') {
                    line_start = scanned + k + 1;
                }
                scanned = p;
                if let Some(end) = self.link(p, line_start, e, rep) {
                    from = end;
                }
            }
        }

        /// The `@/` at `p`, if it starts a link destination: replaced; returns its end.
        fn link(
            &mut self,
            p: usize,
            line_start: usize,
            limit: usize,
            rep: &mut Report<'_>,
        ) -> Option<usize> {
            let s = self.s;
            let b = s.as_bytes();
            let before = &s[line_start..p];
            let bracket = before.ends_with('<');
            let before = before.strip_suffix('<').unwrap_or(before);
            let inline = before.ends_with("](");
            let definition = !inline && {
                let t = before.trim_end_matches([' ', '\t']);
                let mut l = t.trim_start();
                while let Some(r) = l.strip_prefix('>') {
                    l = r.trim_start();
                }
                // `[label]:` alone before the destination, at the start of its line.
                l.starts_with('[') && l.ends_with("]:") && l.find(']') == Some(l.len() - 2)
            };
            if !inline && !definition {
                return None;
            }
            let mut end = p;
            let mut depth = 0usize;
            while end < limit {
                let c = b[end];
                if bracket {
                    if c == b'>' || c == b'\n' {
                        break;
                    }
                } else if c.is_ascii_whitespace() {
                    break;
                } else if inline && c == b'(' {
                    depth += 1;
                } else if inline && c == b')' {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                end += 1;
            }
            let target = &s[p..end];
            let (path, frag) = split_fragment(&target[2..]);
            let decoded = percent_decode(path);
            let replacement = match reference((self.ctx.resolve)(Ref::Zola(&decoded)), frag) {
                Some(url) => url,
                None => {
                    rep.add(
                        p,
                        format!("unresolved Zola internal link `{}`", clip(target, 60)),
                    );
                    "#".to_owned()
                }
            };
            self.out.push_str(&s[self.copied..p]);
            self.out.push_str(&replacement);
            self.copied = end;
            Some(end)
        }
    }

    /// Percent-decoding, as Zola does before looking a path up.
    fn percent_decode(s: &str) -> Cow<'_, str> {
        if !s.contains('%') {
            return Cow::Borrowed(s);
        }
        let b = s.as_bytes();
        let hex = |c: u8| (c as char).to_digit(16);
        let mut v = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match (
                b[i],
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            ) {
                (b'%', Some(h), Some(l)) => {
                    v.push((h * 16 + l) as u8);
                    i += 3;
                }
                (c, _, _) => {
                    v.push(c);
                    i += 1;
                }
            }
        }
        Cow::Owned(String::from_utf8_lossy(&v).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn resolve(r: Ref<'_>) -> Option<String> {
        let url = match r {
            Ref::Hugo("post.md" | "posts/post.md" | "/posts/post" | "post") => "/posts/post/",
            Ref::Hugo("odd.md") => "/a (b)/",
            Ref::JekyllLink("_posts/2016-07-26-name.md") => "/2016/07/26/name.html",
            Ref::JekyllPostUrl("2010-07-21-name" | "dir/2010-07-21-name") => {
                "/2010/07/21/name.html"
            }
            Ref::Zola("blog/post.md") => "/blog/post/",
            Ref::Zola("blog/with space.md") => "/blog/with-space/",
            _ => return None,
        };
        Some(format!("https://example.com{url}"))
    }

    fn param(key: &str) -> Option<String> {
        match key {
            "author" => Some("Ada <b>L</b> *x*".to_owned()),
            "repo" => Some("https://github.com/a/b c".to_owned()),
            _ => None,
        }
    }

    fn run_with(dialect: Dialect, url: &str, body: &str) -> Expanded {
        let ctx = Context {
            dialect,
            base_url: "https://example.com/blog/",
            jekyll_baseurl: "/blog",
            jekyll_url: url,
            param: &param,
            resolve: &resolve,
        };
        expand(body, &ctx)
    }

    fn hugo(body: &str) -> Expanded {
        run_with(Dialect::Hugo, "", body)
    }

    fn jekyll(body: &str) -> Expanded {
        run_with(Dialect::Jekyll, "https://example.com", body)
    }

    fn zola(body: &str) -> Expanded {
        run_with(Dialect::Zola, "", body)
    }

    /// The body, asserting that expansion noticed nothing.
    fn clean(e: Expanded) -> String {
        assert!(
            e.findings.is_empty(),
            "unexpected findings: {:?}",
            e.findings
        );
        e.body
    }

    fn lines(e: &Expanded) -> Vec<usize> {
        e.findings.iter().map(|f| f.line).collect()
    }

    fn assert_no_delimiters(s: &str) {
        for d in ["{{<", "{{%", "{%", "%}", ">}}"] {
            assert!(!s.contains(d), "{d:?} survived in {s:?}");
        }
    }

    // -- All dialects ------------------------------------------------------------------------

    #[test]
    fn a_body_without_template_syntax_is_unchanged() {
        let body =
            "# Title\r\n\nSome *text* with { braces } and @ signs, `code {x}`.\n\n    indented\n";
        for d in [Dialect::Hugo, Dialect::Jekyll, Dialect::Zola] {
            assert!(!has_template_syntax(body, d));
            assert_eq!(clean(run_with(d, "", body)), body);
        }
    }

    #[test]
    fn template_syntax_detection_is_per_dialect() {
        assert!(has_template_syntax("a {{< x >}}", Dialect::Hugo));
        assert!(has_template_syntax("a {{% x %}}", Dialect::Hugo));
        assert!(!has_template_syntax("a {{ x }} {% y %}", Dialect::Hugo));
        assert!(has_template_syntax("a {{ x }}", Dialect::Jekyll));
        assert!(has_template_syntax("a {% x %}", Dialect::Jekyll));
        assert!(!has_template_syntax("see [x](@/a.md)", Dialect::Jekyll));
        assert!(has_template_syntax("see [x](@/a.md)", Dialect::Zola));
        assert!(has_template_syntax("{%", Dialect::Zola));
        assert!(!has_template_syntax("{", Dialect::Zola));
        assert!(!has_template_syntax("mail me @ home/", Dialect::Zola));
    }

    #[test]
    fn text_around_constructs_is_byte_identical() {
        let body = "é ü\r\n{{< youtube abc >}}\r\n  trailing  \t\r\n";
        let out = clean(hugo(body));
        assert_eq!(
            out,
            "é ü\r\n[YouTube video](https://www.youtube.com/watch?v=abc)\r\n  trailing  \t\r\n"
        );
    }

    // -- Hugo --------------------------------------------------------------------------------

    #[test]
    fn hugo_figure_with_every_argument() {
        let body = r#"{{< figure src="/img/a b.png" alt="An [alt]" title="The title" caption="A *nice* view" link="https://e.com/big" attr="Jane" attrlink="https://jane.example" >}}"#;
        assert_eq!(
            clean(hugo(body)),
            "[![An \\[alt\\]](/img/a%20b.png \"The title\")](https://e.com/big)\\\n\
             *The title — A *nice* view [Jane](https://jane.example)*"
        );
    }

    #[test]
    fn hugo_figure_minimal_and_caption_as_alt() {
        assert_eq!(clean(hugo(r#"{{< figure src="x.png" >}}"#)), "![](x.png)");
        assert_eq!(
            clean(hugo(r#"{{< figure src="x.png" caption="Sunset" />}}"#)),
            "![Sunset](x.png)\\\n*Sunset*"
        );
    }

    #[test]
    fn hugo_figure_without_src_is_reported() {
        let e = hugo("a\n{{< figure alt=\"x\" >}}\nb");
        assert_eq!(e.body, "a\n\nb");
        assert_eq!(e.findings.len(), 1);
        assert_eq!(e.findings[0].line, 2);
        assert!(e.findings[0].message.contains("figure"));
    }

    #[test]
    fn hugo_highlight_becomes_a_fence_longer_than_any_backtick_run() {
        let body = "Before\n\n{{< highlight go \"linenos=table,hl_lines=8 15-17\" >}}\nfmt.Println(\"```\")\n{{< /highlight >}}\n\nAfter";
        assert_eq!(
            clean(hugo(body)),
            "Before\n\n````go\nfmt.Println(\"```\")\n````\n\nAfter"
        );
    }

    #[test]
    fn hugo_highlight_with_markup_delimiters_and_indentation() {
        let body = "- item\n\n  {{% highlight rust %}}\n  let x = 1;\n\n  let y = 2;\n  {{% /highlight %}}\n- next";
        assert_eq!(
            clean(hugo(body)),
            "- item\n\n  ```rust\n  let x = 1;\n\n  let y = 2;\n  ```\n- next"
        );
    }

    #[test]
    fn hugo_highlight_in_running_text_gets_its_own_lines() {
        let body = "See {{< highlight sh >}}ls -l{{< /highlight >}} here.";
        assert_eq!(clean(hugo(body)), "See \n```sh\nls -l\n```\n here.");
    }

    #[test]
    fn hugo_highlight_inner_shortcodes_and_escapes() {
        let body = "{{< highlight md >}}\n{{</* figure src=\"a.png\" */>}}\n{{< /highlight >}}";
        assert_eq!(
            clean(hugo(body)),
            "```md\n{{< figure src=\"a.png\" >}}\n```"
        );
    }

    #[test]
    fn hugo_video_embeds_become_links() {
        assert_eq!(
            clean(hugo("{{< youtube w7Ft2ymGmfc >}}")),
            "[YouTube video](https://www.youtube.com/watch?v=w7Ft2ymGmfc)"
        );
        assert_eq!(
            clean(hugo(
                r#"{{< youtube id="w7Ft2ymGmfc" title="My talk" start=30 >}}"#
            )),
            "[My talk](https://www.youtube.com/watch?v=w7Ft2ymGmfc&t=30)"
        );
        assert_eq!(
            clean(hugo("{{< vimeo 146022717 >}}")),
            "[Vimeo video](https://vimeo.com/146022717)"
        );
        assert_eq!(
            clean(hugo(r#"{{< vimeo id=146022717 title="Loop" >}}"#)),
            "[Loop](https://vimeo.com/146022717)"
        );
        let e = hugo("{{< youtube >}}");
        assert_eq!(e.body, "");
        assert_eq!(e.findings.len(), 1);
    }

    #[test]
    fn hugo_gist_x_tweet_and_instagram() {
        assert_eq!(
            clean(hugo(r#"{{< gist spf13 7896402 "img.html" >}}"#)),
            "[Gist spf13/7896402 (img.html)](https://gist.github.com/spf13/7896402)"
        );
        assert_eq!(
            clean(hugo("{{< x user=SanDiegoZoo id=1453110110599868418 >}}")),
            "[Post by @SanDiegoZoo on X](https://x.com/SanDiegoZoo/status/1453110110599868418)"
        );
        assert_eq!(
            clean(hugo(r#"{{< tweet user="golang" id="1" >}}"#)),
            "[Post by @golang on X](https://x.com/golang/status/1)"
        );
        assert_eq!(
            clean(hugo("{{< tweet 877500564405444608 >}}")),
            "[Post on X](https://x.com/i/status/877500564405444608)"
        );
        assert_eq!(
            clean(hugo("{{< tweet golang 2 >}}")),
            "[Post by @golang on X](https://x.com/golang/status/2)"
        );
        assert_eq!(
            clean(hugo("{{< instagram CxOWiQNP2MO >}}")),
            "[Instagram post](https://www.instagram.com/p/CxOWiQNP2MO/)"
        );
        assert_eq!(hugo("{{< x id=1 >}}").findings.len(), 1);
    }

    #[test]
    fn hugo_ref_and_relref_resolve_with_fragments() {
        assert_eq!(
            clean(hugo(
                r#"[a]({{< ref "post.md" >}}) [b]({{< relref "/posts/post#part-2" >}})"#
            )),
            "[a](https://example.com/posts/post/) [b](https://example.com/posts/post/#part-2)"
        );
        assert_eq!(
            clean(hugo(r#"[c]({{% ref path="posts/post.md" %}})"#)),
            "[c](https://example.com/posts/post/)"
        );
        assert_eq!(clean(hugo(r##"[d]({{< ref "#intro" >}})"##)), "[d](#intro)");
        assert_eq!(
            clean(hugo("[e]({{< ref odd.md >}})")),
            "[e](https://example.com/a%20%28b%29/)"
        );
    }

    #[test]
    fn hugo_unresolved_ref_keeps_links_intact() {
        let e = hugo(
            "x\n[a]({{< ref \"missing.md\" >}}) and {{< relref missing >}}.\n[r]: {{< ref nope >}}",
        );
        assert_eq!(e.body, "x\n[a](#) and .\n[r]: #");
        assert_eq!(lines(&e), [2, 2, 3]);
        assert!(e.findings[0].message.contains("missing.md"));
    }

    #[test]
    fn hugo_param() {
        assert_eq!(
            clean(hugo(r#"By {{< param "author" >}}."#)),
            "By Ada \\<b\\>L\\</b\\> \\*x\\*."
        );
        assert_eq!(
            clean(hugo(r#"[repo]({{< param repo >}})"#)),
            "[repo](https://github.com/a/b%20c)"
        );
        let e = hugo(r#"By {{< param "nope" >}}."#);
        assert_eq!(e.body, "By .");
        assert_eq!(
            e.findings[0].message,
            "Hugo param `nope` not found: removed"
        );
    }

    #[test]
    fn hugo_unknown_shortcodes_are_removed_and_named() {
        let e = hugo("a {{< notice warning >}} b {{< chart data=\"x\" />}} c");
        assert_eq!(e.body, "a  b  c");
        assert_eq!(e.findings.len(), 2);
        assert_eq!(
            e.findings[0].message,
            "unknown Hugo shortcode `notice`: removed"
        );
        assert_eq!(
            e.findings[1].message,
            "unknown Hugo shortcode `chart`: removed"
        );
    }

    #[test]
    fn hugo_unknown_paired_shortcode_keeps_its_inner_text() {
        let e = hugo("{{% notice tip %}}\nUse **bold** {{< youtube abc >}}.\n{{% /notice %}}");
        assert_eq!(
            e.body,
            "\nUse **bold** [YouTube video](https://www.youtube.com/watch?v=abc).\n"
        );
        assert_eq!(e.findings.len(), 1);
        assert_eq!(e.findings[0].line, 1);
        assert!(
            e.findings[0]
                .message
                .starts_with("unknown Hugo shortcode `notice`")
        );
    }

    #[test]
    fn hugo_nested_pairs_close_innermost_first() {
        let e = hugo("{{< outer >}}A{{< inner >}}B{{< /inner >}}C{{< x/y >}}D{{< /outer >}}");
        assert_eq!(e.body, "ABCD");
        let names: Vec<_> = e.findings.iter().map(|f| f.message.clone()).collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names.iter().any(|m| m.contains("`x/y`")));
    }

    #[test]
    fn hugo_escaped_shortcodes_are_literal() {
        assert_eq!(
            clean(hugo(
                r#"Write `{{</* figure src="x.png" */>}}` or {{%/* notice */%}}."#
            )),
            r#"Write `{{< figure src="x.png" >}}` or {{% notice %}}."#
        );
        assert_eq!(
            clean(hugo(
                "{{</* highlight go */>}}\ncode\n{{</* /highlight */>}}"
            )),
            "{{< highlight go >}}\ncode\n{{< /highlight >}}"
        );
    }

    #[test]
    fn hugo_unclosed_escape_is_removed_to_end_of_line() {
        let e = hugo("a {{</* figure src=\"x\"\nnext line");
        assert_eq!(e.body, "a \nnext line");
        assert_eq!(e.findings.len(), 1);
        assert!(
            e.findings[0]
                .message
                .starts_with("unclosed escaped Hugo shortcode")
        );
    }

    #[test]
    fn hugo_self_closing_is_not_paired() {
        let e = hugo("{{< box />}}kept{{< /box >}}");
        assert_eq!(e.body, "kept");
        assert_eq!(e.findings.len(), 2);
        assert!(
            e.findings[1]
                .message
                .starts_with("closing Hugo shortcode `box`")
        );
        assert_eq!(
            clean(hugo("{{< youtube abc/>}}")),
            "[YouTube video](https://www.youtube.com/watch?v=abc)"
        );
    }

    #[test]
    fn hugo_argument_forms() {
        let body =
            "{{< figure\n  src=`a.png`\n  caption=`two\nlines`\n  title=\"say \\\"hi\\\"\"\n>}}";
        assert_eq!(
            clean(hugo(body)),
            "![two lines](a.png \"say \\\"hi\\\"\")\\\n*say \"hi\" — two lines*"
        );
        // Single quotes are not Hugo quotes: `'x'` is a bare value.
        assert_eq!(
            clean(hugo("{{< figure src = \"b.png\" alt = 'x' >}}")),
            "!['x'](b.png)"
        );
    }

    #[test]
    fn hugo_unclosed_tag_is_dropped_to_end_of_line() {
        let e = hugo("Look: {{< figure src=\"x.png\"\n\nNext paragraph {{< youtube abc >}}");
        assert_eq!(
            e.body,
            "Look: \n\nNext paragraph [YouTube video](https://www.youtube.com/watch?v=abc)"
        );
        assert_eq!(e.findings.len(), 1);
        assert_eq!(e.findings[0].line, 1);
        assert!(
            e.findings[0]
                .message
                .starts_with("unclosed Hugo shortcode `{{< figure")
        );
        let e = hugo("end {{<");
        assert_eq!(e.body, "end ");
        assert_eq!(e.findings.len(), 1);
    }

    #[test]
    fn hugo_malformed_tags_are_removed_through_their_delimiter() {
        let e = hugo("a {{< >}} b {{< x = >}} c");
        assert_eq!(e.body, "a  b  c");
        assert_eq!(e.findings.len(), 2);
        assert!(
            e.findings[0]
                .message
                .starts_with("malformed Hugo shortcode `{{< >}}`")
        );
        assert_no_delimiters(&e.body);
    }

    #[test]
    fn hugo_paired_builtin_without_closing_tag() {
        let e = hugo("{{< highlight go >}}\ncode\n");
        assert_eq!(e.body, "\ncode\n");
        assert_eq!(e.findings.len(), 1);
        assert!(e.findings[0].message.contains("highlight"));
    }

    #[test]
    fn hugo_closing_tag_without_opening() {
        let e = hugo("text {{< /notice >}}\n{{< /figure >}}");
        assert_eq!(e.body, "text \n");
        assert_eq!(lines(&e), [1, 2]);
    }

    #[test]
    fn hugo_expands_inside_code_blocks_and_spans() {
        let body =
            "```\n{{< youtube abc >}}\n```\n\n    {{< param author >}}\n\n`{{< ref post >}}`";
        assert_eq!(
            clean(hugo(body)),
            "```\n[YouTube video](https://www.youtube.com/watch?v=abc)\n```\n\n    Ada \\<b\\>L\\</b\\> \\*x\\*\n\n`https://example.com/posts/post/`"
        );
    }

    #[test]
    fn hugo_crlf_bodies() {
        let body = "a\r\n{{< figure src=\"x.png\" caption=\"c\" >}}\r\n{{< highlight go >}}\r\nx\r\ny\r\n{{< /highlight >}}\r\n{{< nope >}}\r\n";
        let e = hugo(body);
        assert_eq!(
            e.body,
            "a\r\n![c](x.png)\\\r\n*c*\r\n```go\r\nx\r\ny\r\n```\r\n\r\n"
        );
        assert_eq!(lines(&e), [7]);
    }

    #[test]
    fn hugo_multibyte_text_around_delimiters() {
        let e = hugo(
            "日本{{< youtube ✓ >}}語{{< 名前 >}}é{{< /名前 >}}ü{{< figure src=\"ö.png\" alt=\"ß\" >}}",
        );
        assert_eq!(
            e.body,
            "日本[YouTube video](https://www.youtube.com/watch?v=%E2%9C%93)語éü![ß](ö.png)"
        );
        assert_eq!(e.findings.len(), 1);
        assert!(e.findings[0].message.contains("`名前`"));
    }

    #[test]
    fn hugo_script_in_arguments_produces_no_html() {
        let body = r#"{{< figure src="<script>alert(1)</script>" alt="<script>" caption="<script>x</script>" title="<b>" >}} {{< youtube "<script>" title="<i>t</i>" >}}"#;
        let out = clean(hugo(body));
        // Every `<` is backslash-escaped (text) or percent-encoded (URLs): no raw HTML.
        assert!(!out.replace("\\<", "").contains('<'), "{out}");
        assert!(out.contains("%3Cscript%3E"));
        assert!(out.contains("![\\<script\\>](%3Cscript%3Ealert%281%29%3C/script%3E \"\\<b\\>\")"));
    }

    #[test]
    fn hugo_inline_details_and_comment_builtins() {
        let e = hugo("{{< time.inline >}}{{ now }}{{< /time.inline >}}x");
        assert_eq!(e.body, "x");
        assert_eq!(e.findings.len(), 1);
        assert!(e.findings[0].message.contains("time.inline"));
        assert_eq!(
            clean(hugo(
                "{{< details summary=\"More\" >}}\nHidden *text*\n{{< /details >}}"
            )),
            "**More**\n\nHidden *text*"
        );
        assert_eq!(clean(hugo("a{{< comment >}}secret{{< /comment >}}b")), "ab");
    }

    #[test]
    fn hugo_finding_lines_and_short_messages() {
        let long = "x".repeat(300);
        let body = format!("one\ntwo\r\nthree {{{{< {long} >}}}}\n\n{{{{< figure src=\"{long}\"\n");
        let e = hugo(&body);
        assert_eq!(lines(&e), [3, 5]);
        for f in &e.findings {
            assert!(f.message.chars().count() <= 110, "{}", f.message);
            assert!(f.message.contains('…'));
        }
    }

    // -- Jekyll ------------------------------------------------------------------------------

    #[test]
    fn jekyll_raw_is_kept_exactly() {
        let body = "a {% raw %}{{ site.url }} {% if x %}{{< y >}}{%endraw%} b";
        assert_eq!(
            clean(jekyll(body)),
            "a {{ site.url }} {% if x %}{{< y >}} b"
        );
        assert_eq!(
            clean(jekyll("x  {%- raw -%}  {{ a }}  {%- endraw -%}  y")),
            "x  {{ a }}  y"
        );
    }

    #[test]
    fn jekyll_unclosed_raw_keeps_the_rest_as_written() {
        let e = jekyll("{{ site.baseurl }}\n{% raw %}{{ x }}\n{% link a %}");
        assert_eq!(e.body, "/blog\n{{ x }}\n{% link a %}");
        assert_eq!(lines(&e), [2]);
    }

    #[test]
    fn jekyll_highlight_becomes_a_fence() {
        let body = "{% highlight Ruby linenos %}\ndef foo\n  puts '{{ site.baseurl }}'\nend\n{% endhighlight %}\nafter";
        assert_eq!(
            clean(jekyll(body)),
            "```ruby\ndef foo\n  puts '/blog'\nend\n```\nafter"
        );
        let e = jekyll("{% highlight %}\nx\n{% endhighlight %}");
        assert_eq!(e.body, "```\nx\n```");
        assert_eq!(e.findings.len(), 1);
    }

    #[test]
    fn jekyll_link_and_post_url() {
        assert_eq!(
            clean(jekyll(
                "[a]({% link _posts/2016-07-26-name.md %}) [b]({% post_url 2010-07-21-name %}) [c]({% post_url dir/2010-07-21-name %}#x)"
            )),
            "[a](https://example.com/2016/07/26/name.html) [b](https://example.com/2010/07/21/name.html) [c](https://example.com/2010/07/21/name.html#x)"
        );
        let e = jekyll("[a]({% post_url 2000-01-01-missing %})\n{% link {{ page.x }} %}");
        assert_eq!(e.body, "[a](#)\n");
        assert_eq!(lines(&e), [1, 2]);
        assert!(e.findings[0].message.contains("2000-01-01-missing"));
    }

    #[test]
    fn jekyll_site_prefix_before_post_url_is_dropped() {
        assert_eq!(
            clean(jekyll(
                "[a]({{ site.baseurl }}{% post_url 2010-07-21-name %})"
            )),
            "[a](https://example.com/2010/07/21/name.html)"
        );
        assert_eq!(
            clean(jekyll(
                "[a]({{ site.url }}{{ site.baseurl }}{% link _posts/2016-07-26-name.md %})"
            )),
            "[a](https://example.com/2016/07/26/name.html)"
        );
        assert_eq!(
            clean(jekyll(
                "{{ site.baseurl }}/x {% post_url 2010-07-21-name %}"
            )),
            "/blog/x https://example.com/2010/07/21/name.html"
        );
    }

    #[test]
    fn jekyll_site_variables_and_url_filters() {
        let body = "{{site.baseurl}}|{{ site.url }}|{{- site.baseurl -}}|{{ \"/assets/x.png\" | relative_url }}|{{ 'assets/x.png' | absolute_url }}|{{ \"/a\" | prepend: site.baseurl }}|{{ site.baseurl | append: '/b' }}|{{ \"https://cdn.example/x\" | relative_url }}";
        assert_eq!(
            clean(jekyll(body)),
            "/blog|https://example.com|/blog|/blog/assets/x.png|https://example.com/blog/assets/x.png|/blog/a|/blog/b|https://cdn.example/x"
        );
        // Without `site.url`, `absolute_url` uses herald's base URL.
        assert_eq!(
            clean(run_with(
                Dialect::Jekyll,
                "",
                "{{ '/x.png' | absolute_url }}"
            )),
            "https://example.com/blog/x.png"
        );
    }

    #[test]
    fn jekyll_include_is_removed_with_a_finding() {
        let e = jekyll("a\n{% include figure.html src=\"x.png\" %}\n{% include_relative b.md %}");
        assert_eq!(e.body, "a\n\n");
        assert_eq!(lines(&e), [2, 3]);
        assert!(e.findings[0].message.contains("`figure.html`"));
    }

    #[test]
    fn jekyll_comments_are_removed() {
        assert_eq!(
            clean(jekyll(
                "a{% comment %} x {% comment %} {% endcomment %} {% raw %}{% endcomment %}{% endraw %} {{ y }} {% endcomment %}b"
            )),
            "ab"
        );
        assert_eq!(clean(jekyll("a{% # a note %}b")), "ab");
        let e = jekyll("a {% comment %} b {{ site.baseurl }}");
        assert_eq!(e.body, "a  b /blog");
        assert_eq!(e.findings.len(), 1);
    }

    #[test]
    fn jekyll_whitespace_control() {
        assert_eq!(
            clean(jekyll("a  \n  {%- comment -%} x {%- endcomment -%}  \n  b")),
            "ab"
        );
        assert_eq!(
            clean(jekyll("[x](  {{- site.baseurl -}}  /p)")),
            "[x](/blog/p)"
        );
    }

    #[test]
    fn jekyll_unknown_tags_and_expressions_are_removed() {
        let e = jekyll("{% assign x = 1 %}a {{ page.title }} b {% youtube abc %}");
        assert_eq!(e.body, "a  b ");
        assert_eq!(e.findings.len(), 3);
        assert!(e.findings[1].message.contains("{{ page.title }}"));
        assert_no_delimiters(&e.body);
    }

    #[test]
    fn jekyll_if_keeps_its_first_branch() {
        let e = jekyll(
            "{% if site.x %}yes {{ site.baseurl }}{% elsif y %}maybe{% else %}no{% endif %}|{% unless z %}u{% endunless %}",
        );
        assert_eq!(e.body, "yes /blog|u");
        assert_eq!(e.findings.len(), 2);
    }

    #[test]
    fn jekyll_loops_captures_and_cases_are_dropped() {
        let e = jekyll(
            "a{% for p in site.posts %}[{{ p.title }}]({{ p.url }}){% else %}none{% endfor %}b{% capture c %}x{% endcapture %}c{% case x %}{% when 1 %}one{% endcase %}d",
        );
        assert_eq!(e.body, "abcd");
        // One finding per block, none for what is inside them.
        assert_eq!(e.findings.len(), 3);
    }

    #[test]
    fn jekyll_unknown_block_keeps_inner_and_stray_ends_are_reported() {
        let e = jekyll("{% tabs %}\ninside\n{% endtabs %}\n{% endif %}\n{% else %}");
        assert_eq!(e.body, "\ninside\n\n\n");
        assert_eq!(lines(&e), [1, 4, 5]);
        assert!(e.findings[1].message.contains("{% endif %}"));
    }

    #[test]
    fn jekyll_unclosed_tags_and_variables() {
        let e = jekyll("a {% if x\n\nb {{ site.url\nc {{ site.baseurl }}");
        assert_eq!(e.body, "a \n\nb \nc /blog");
        assert_eq!(lines(&e), [1, 3]);
        let e = jekyll("{% if x %}never closed");
        assert_eq!(e.body, "never closed");
        assert_eq!(e.findings.len(), 1);
    }

    #[test]
    fn jekyll_expands_inside_code() {
        assert_eq!(
            clean(jekyll("```\n{{ site.baseurl }}\n```\n`{{ site.url }}`")),
            "```\n/blog\n```\n`https://example.com`"
        );
    }

    #[test]
    fn jekyll_gist_plugin_and_crlf() {
        let e = jekyll(
            "a\r\n{% gist parkr/931c1c8d465a04042403 jekyll-private-gist.markdown %}\r\n{% nope %}\r\n",
        );
        assert_eq!(
            e.body,
            "a\r\n[Gist parkr/931c1c8d465a04042403 (jekyll-private-gist.markdown)](https://gist.github.com/parkr/931c1c8d465a04042403)\r\n\r\n"
        );
        assert_eq!(lines(&e), [3]);
    }

    #[test]
    fn jekyll_multibyte_and_script() {
        let e = jekyll("é{{ site.baseurl }}ü{% highlight <script> %}<script>{% endhighlight %}ß");
        assert_eq!(e.body, "é/blogü\n```script\n<script>\n```\nß");
        assert!(e.findings.is_empty());
    }

    // -- Zola --------------------------------------------------------------------------------

    #[test]
    fn zola_old_builtins_become_links() {
        assert_eq!(
            clean(zola(
                r#"{{ youtube(id="dQw4w9WgXcQ", playlist="PL1", autoplay=true) }}"#
            )),
            "[YouTube video](https://www.youtube.com/watch?v=dQw4w9WgXcQ&list=PL1)"
        );
        assert_eq!(
            clean(zola("{{ vimeo(id=124313553, class='c') }}")),
            "[Vimeo video](https://vimeo.com/124313553)"
        );
        assert_eq!(
            clean(zola(
                "{{gist(url=`https://gist.github.com/Keats/e5fb6aad409f28721c0ba14161644c57`)}}"
            )),
            "[Gist Keats/e5fb6aad409f28721c0ba14161644c57](https://gist.github.com/Keats/e5fb6aad409f28721c0ba14161644c57)"
        );
        assert_eq!(
            clean(zola("{{ streamable(id=\"92ok4\") }}")),
            "[Streamable video](https://streamable.com/92ok4)"
        );
    }

    #[test]
    fn zola_unknown_shortcodes() {
        let e = zola(
            "a {{ chart(data=[1, 2.5, -3, \"x\",], show=false) }} b\n{% note(kind=\"tip\") %}\nBody {{ youtube(id=\"x\") }}\n{% end %}",
        );
        assert_eq!(
            e.body,
            "a  b\n\nBody [YouTube video](https://www.youtube.com/watch?v=x)\n"
        );
        assert_eq!(e.findings.len(), 2);
        assert_eq!(
            e.findings[0].message,
            "unknown Zola shortcode `chart`: removed"
        );
        assert_eq!(e.findings[1].line, 2);
        assert!(e.findings[1].message.contains("`note`"));
    }

    #[test]
    fn zola_escapes_are_literal() {
        assert_eq!(
            clean(zola(r#"Use {{/* youtube(id="x") */}} like this."#)),
            r#"Use {{ youtube(id="x") }} like this."#
        );
        assert_eq!(
            clean(zola(
                "{%/* note() */%}\n{{ youtube(id=\"x\") }} {{/* a() */}}\n{%/* end */%}"
            )),
            "{% note() %}\n{{ youtube(id=\"x\") }} {{/* a() */}}\n{% end %}"
        );
        // Escaped tags without their partner are still literal.
        assert_eq!(
            clean(zola("{%/* note(a=1) */%} and {%/* end */%}")),
            "{% note(a=1) %} and {% end %}"
        );
    }

    #[test]
    fn zola_text_that_is_not_a_shortcode_stays() {
        assert_eq!(
            clean(zola(
                "{{ page.title }} {% if x %} {{ broken( }} {{/* nope */}}"
            )),
            "{{ page.title }} {% if x %} {{ broken( }} {{/* nope */}}"
        );
    }

    #[test]
    fn zola_nested_bodies_and_unpaired_tags() {
        let e = zola("{% a() %}1{% b() %}2{% end %}3{% end %}");
        assert_eq!(e.body, "123");
        assert_eq!(e.findings.len(), 2);
        let e = zola("x\n{% open() %}\ny\n{% end %}{% end %}");
        assert_eq!(e.body, "x\n\ny\n");
        assert_eq!(e.findings.len(), 2);
        let e = zola("{% never(closed=true) %}\ntext");
        assert_eq!(e.body, "\ntext");
        assert_eq!(lines(&e), [1]);
    }

    #[test]
    fn zola_internal_links() {
        let body = "[a](@/blog/post.md) [b](@/blog/post.md#part \"T\") ![c](<@/blog/with space.md>)\n[d](@/blog/with%20space.md)\n\n[ref]: @/blog/post.md#x\n> [q]:  <@/blog/post.md>";
        assert_eq!(
            clean(zola(body)),
            "[a](https://example.com/blog/post/) [b](https://example.com/blog/post/#part \"T\") ![c](<https://example.com/blog/with-space/>)\n[d](https://example.com/blog/with-space/)\n\n[ref]: https://example.com/blog/post/#x\n> [q]:  <https://example.com/blog/post/>"
        );
    }

    #[test]
    fn zola_unresolved_internal_links_are_reported() {
        let e = zola("one\n[a](@/missing.md#x) and [b]: @/x.md and mail@/x\n[r]: @/gone.md");
        assert_eq!(e.body, "one\n[a](#) and [b]: @/x.md and mail@/x\n[r]: #");
        assert_eq!(lines(&e), [2, 3]);
        assert!(e.findings[0].message.contains("@/missing.md#x"));
    }

    #[test]
    fn zola_links_in_code_stay_but_shortcodes_in_code_expand() {
        let body = "`[a](@/blog/post.md)` and ``x ` [b](@/blog/post.md)``\n\n```md\n[c](@/blog/post.md)\n{{ youtube(id=\"x\") }}\n```\n\n    [d](@/blog/post.md)\n\n[e](@/blog/post.md)";
        assert_eq!(
            clean(zola(body)),
            "`[a](@/blog/post.md)` and ``x ` [b](@/blog/post.md)``\n\n```md\n[c](@/blog/post.md)\n[YouTube video](https://www.youtube.com/watch?v=x)\n```\n\n    [d](@/blog/post.md)\n\n[e](https://example.com/blog/post/)"
        );
        // Fences inside blockquotes are code too.
        assert_eq!(
            clean(zola(
                "> ```\n> [g](@/blog/post.md)\n> ```\n> [h](@/blog/post.md)"
            )),
            "> ```\n> [g](@/blog/post.md)\n> ```\n> [h](https://example.com/blog/post/)"
        );
        // Indented list continuation is not code.
        assert_eq!(
            clean(zola("- item\n\n    [f](@/blog/post.md)")),
            "- item\n\n    [f](https://example.com/blog/post/)"
        );
    }

    #[test]
    fn zola_crlf_multibyte_and_script() {
        let e = zola(
            "é\r\n{{ youtube(id=\"<script>\",\r\n title='ü <b>') }}\r\n{{ nope() }}ß\r\n[x](@/nope.md)",
        );
        assert_eq!(
            e.body,
            "é\r\n[ü \\<b\\>](https://www.youtube.com/watch?v=%3Cscript%3E)\r\nß\r\n[x](#)"
        );
        assert_eq!(lines(&e), [4, 5]);
    }

    // -- Robustness --------------------------------------------------------------------------

    #[test]
    fn pathological_bodies_stay_fast_and_never_leave_delimiters() {
        let bodies = [
            "{{< a ".repeat(20_000),
            "{{< a `".repeat(20_000),
            "{{</* ".repeat(20_000),
            "{{< x >}}".repeat(20_000),
            "{% comment %}".repeat(20_000),
            "{% raw %}".repeat(20_000),
            "{% if x %}".repeat(20_000),
            "{{ a(x=\"".repeat(20_000),
            "{% a() %}".repeat(20_000),
            "[x](@/a.md `".repeat(20_000),
            "{{< a >}}{{< /b >}}".repeat(10_000),
            "{{< a \"".repeat(20_000),
            "]: @/x ".repeat(20_000),
            "[x](@/a.md)\n\n".repeat(20_000),
            format!(
                "{}{}{}",
                "{% tabs %}{{< n >}}".repeat(5_000),
                "{% link x %}{{< ref x >}}{% highlight go %}{{< highlight go >}}".repeat(2_000),
                "{{< /n >}}{% endtabs %}".repeat(5_000)
            ),
        ];
        for body in &bodies {
            for d in [Dialect::Hugo, Dialect::Jekyll, Dialect::Zola] {
                let t = Instant::now();
                let e = run_with(d, "", body);
                assert!(t.elapsed() < Duration::from_secs(5), "{d:?} too slow");
                if d == Dialect::Hugo {
                    assert!(
                        !e.body.contains("{{<"),
                        "{:?}",
                        &e.body[..40.min(e.body.len())]
                    );
                }
            }
        }
    }

    #[test]
    fn random_soups_of_delimiters_never_panic() {
        const PARTS: &[&str] = &[
            "{{<",
            "{{%",
            ">}}",
            "%}}",
            "{{",
            "}}",
            "{%",
            "%}",
            "{%-",
            "-%}",
            "/*",
            "*/",
            "/",
            " ",
            "\n",
            "\r\n",
            "\n\n",
            "\"",
            "'",
            "`",
            "=",
            "(",
            ")",
            ",",
            "[",
            "]",
            "](",
            "]: ",
            "@/",
            "#",
            "-",
            "é",
            "日本",
            "figure",
            "highlight",
            "raw",
            "endraw",
            "comment",
            "endcomment",
            "end",
            "if",
            "else",
            "endif",
            "ref",
            "src=\"x\"",
            "x(a=1)",
            "youtube",
            "link",
            "post_url",
            "site.baseurl",
            "|",
            "relative_url",
            "```",
            "    ",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..3_000 {
            let mut body = String::new();
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let len = (seed >> 59) as usize + 1;
            for _ in 0..len * 3 {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                body.push_str(PARTS[(seed >> 33) as usize % PARTS.len()]);
            }
            let max_line = body.matches('\n').count() + 1;
            for d in [Dialect::Hugo, Dialect::Jekyll, Dialect::Zola] {
                let e = run_with(d, "", &body);
                for f in &e.findings {
                    assert!((1..=max_line).contains(&f.line), "{body:?} {f:?}");
                    assert!(f.message.chars().count() < 140, "{f:?}");
                }
            }
        }
    }

    #[test]
    fn every_cut_of_a_mixed_body_is_handled() {
        let body = "é {{< figure src=\"a.png\" caption=`x\ny` >}} {{</* b */>}} {{% n %}}i{{% /n %}}\r\n{% raw %}{{ r }}{% endraw %} {% highlight go -%} x {%- endhighlight %} {{ site.url | relative_url }}\n{{ yt(id='z') }} {%/* a() */%}q{%/* end */%} [l](@/blog/post.md) ü";
        for (cut, _) in body.char_indices() {
            for d in [Dialect::Hugo, Dialect::Jekyll, Dialect::Zola] {
                let e = run_with(d, "", &body[..cut]);
                assert!(e.findings.iter().all(|f| f.line >= 1 && f.line <= 4));
            }
        }
    }
}

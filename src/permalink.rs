//! Permalink patterns: the one type for every generator's URL syntax. herald's own
//! `/posts/{year}/{slug}/`, and the `:token` patterns of Hugo's `[permalinks]` and Jekyll's
//! `permalink`, parse into a [`Pattern`] of literal text and [`Token`]s. What a token stands for
//! is the generator's business (`content::source`); this module only splits and joins.
//!
//! A leaf module: it uses nothing else in herald.

/// A placeholder in a permalink pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// Four-digit year.
    Year,
    /// Two-digit month, `01`.
    Month,
    /// Month without a leading zero (Jekyll `:i_month`).
    IMonth,
    /// Two-digit day.
    Day,
    /// Day without a leading zero (Jekyll `:i_day`).
    IDay,
    /// Two-digit year (Jekyll `:short_year`).
    ShortYear,
    Hour,
    Minute,
    Second,
    /// Day of the year: Jekyll `:y_day` (`001`), Hugo `:yearday` (`1`).
    YDay,
    /// `Jan` (Jekyll `:short_month`).
    ShortMonth,
    /// `January` (Jekyll `:long_month`, Hugo `:monthname`).
    LongMonth,
    /// `Mon` (Jekyll `:short_day`).
    ShortDay,
    /// `Monday` (Jekyll `:long_day`, Hugo `:weekdayname`).
    LongDay,
    /// ISO week, two digits (Jekyll `:week`).
    Week,
    /// Day of the week, `0` for Sunday (Hugo `:weekday`).
    Weekday,
    Title,
    Slug,
    /// The slug if set, else the file name (Hugo `:slugorfilename`).
    SlugOrFilename,
    /// The file name without extension (Hugo `:filename`, Jekyll `:name`).
    Filename,
    /// The first folder under the content root (Hugo `:section`).
    Section,
    /// Every folder under the content root (Hugo `:sections`).
    Sections,
    /// Jekyll `:categories`: the post's categories, lower case, joined with `/`.
    Categories,
    /// Jekyll `:slugified_categories`.
    SlugifiedCategories,
    /// Jekyll `:output_ext`: `.html`.
    OutputExt,
    /// Jekyll `:path`: the file's path below the site source, without extension.
    Path,
    /// Jekyll `:collection`: `posts`.
    Collection,
}

/// How a pattern writes its placeholders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// `{slug}`: herald's own `site.permalink`.
    Braces,
    /// `:slug`: Hugo and Jekyll.
    Colon,
}

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Token(Token),
}

/// A parsed permalink pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    pub pieces: Vec<Piece>,
}

/// herald's names: `{year} {month} {day} {slug}`.
pub const HERALD_TOKENS: &[(&str, Token)] = &[
    ("year", Token::Year),
    ("month", Token::Month),
    ("day", Token::Day),
    ("slug", Token::Slug),
];

/// Hugo's `[permalinks]` names.
pub const HUGO_TOKENS: &[(&str, Token)] = &[
    ("year", Token::Year),
    ("month", Token::Month),
    ("monthname", Token::LongMonth),
    ("day", Token::Day),
    ("weekday", Token::Weekday),
    ("weekdayname", Token::LongDay),
    ("yearday", Token::YDay),
    ("section", Token::Section),
    ("sections", Token::Sections),
    ("title", Token::Title),
    ("slug", Token::Slug),
    ("slugorfilename", Token::SlugOrFilename),
    ("slugorcontentbasename", Token::SlugOrFilename),
    ("filename", Token::Filename),
    ("contentbasename", Token::Filename),
];

/// Jekyll's `permalink` names.
pub const JEKYLL_TOKENS: &[(&str, Token)] = &[
    ("year", Token::Year),
    ("month", Token::Month),
    ("i_month", Token::IMonth),
    ("day", Token::Day),
    ("i_day", Token::IDay),
    ("short_year", Token::ShortYear),
    ("hour", Token::Hour),
    ("minute", Token::Minute),
    ("second", Token::Second),
    ("y_day", Token::YDay),
    ("short_month", Token::ShortMonth),
    ("long_month", Token::LongMonth),
    ("short_day", Token::ShortDay),
    ("long_day", Token::LongDay),
    ("week", Token::Week),
    ("title", Token::Title),
    ("slug", Token::Slug),
    ("name", Token::Filename),
    ("categories", Token::Categories),
    ("slugified_categories", Token::SlugifiedCategories),
    ("output_ext", Token::OutputExt),
    ("path", Token::Path),
    ("collection", Token::Collection),
];

/// Jekyll's named permalink styles and the patterns they stand for.
pub const JEKYLL_STYLES: &[(&str, &str)] = &[
    ("date", "/:categories/:year/:month/:day/:title:output_ext"),
    ("pretty", "/:categories/:year/:month/:day/:title/"),
    ("ordinal", "/:categories/:year/:y_day/:title:output_ext"),
    (
        "weekdate",
        "/:categories/:year/W:week/:short_day/:title:output_ext",
    ),
    ("none", "/:categories/:title:output_ext"),
];

impl Pattern {
    /// A Jekyll `permalink`: a style name (`date`, `pretty`, ...) or a `:token` pattern.
    pub fn jekyll(text: &str) -> Result<Pattern, String> {
        let text = JEKYLL_STYLES
            .iter()
            .find(|(n, _)| *n == text.trim())
            .map_or(text, |(_, p)| p);
        Pattern::parse(text, Syntax::Colon, JEKYLL_TOKENS)
    }

    /// Parses `text`, accepting only the token names in `names`. An unknown placeholder is an
    /// error naming it.
    pub fn parse(text: &str, syntax: Syntax, names: &[(&str, Token)]) -> Result<Pattern, String> {
        let mut pieces = Vec::new();
        let mut lit = String::new();
        let mut rest = text;
        let find = |name: &str| names.iter().find(|(n, _)| *n == name).map(|(_, t)| *t);
        while let Some(c) = rest.chars().next() {
            match (syntax, c) {
                (Syntax::Braces, '{') => {
                    let Some(end) = rest.find('}') else {
                        return Err("a `{` without its `}`".into());
                    };
                    let name = &rest[1..end];
                    let token = find(name).ok_or_else(|| unknown(&format!("{{{name}}}"), names))?;
                    push(&mut pieces, &mut lit, token);
                    rest = &rest[end + 1..];
                }
                (Syntax::Colon, ':') => {
                    let len = rest[1..]
                        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                        .unwrap_or(rest.len() - 1);
                    let word = &rest[1..1 + len];
                    if word.is_empty() {
                        lit.push(':');
                        rest = &rest[1..];
                        continue;
                    }
                    // The longest known name that starts the word (`:titlefoo` is `:title` + foo
                    // only if no longer name matches).
                    let hit = (1..=word.len())
                        .rev()
                        .find_map(|n| find(&word[..n]).map(|t| (t, n)));
                    let (token, n) = hit.ok_or_else(|| unknown(&format!(":{word}"), names))?;
                    push(&mut pieces, &mut lit, token);
                    rest = &rest[1 + n..];
                }
                _ => {
                    lit.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        if !lit.is_empty() {
            pieces.push(Piece::Text(lit));
        }
        Ok(Pattern { pieces })
    }

    /// Whether the pattern uses `token`.
    pub fn has(&self, token: Token) -> bool {
        self.pieces.contains(&Piece::Token(token))
    }

    /// The pattern with every token replaced by `value(token)`.
    pub fn expand(&self, mut value: impl FnMut(Token) -> String) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Token(t) => out.push_str(&value(*t)),
            }
        }
        out
    }
}

fn push(pieces: &mut Vec<Piece>, lit: &mut String, token: Token) {
    if !lit.is_empty() {
        pieces.push(Piece::Text(std::mem::take(lit)));
    }
    pieces.push(Piece::Token(token));
}

fn unknown(what: &str, names: &[(&str, Token)]) -> String {
    let known: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    format!("unknown placeholder {what} (known: {})", known.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLON: &[(&str, Token)] = &[
        ("year", Token::Year),
        ("month", Token::Month),
        ("title", Token::Title),
        ("slug", Token::Slug),
        ("slugorfilename", Token::SlugOrFilename),
        ("output_ext", Token::OutputExt),
        ("categories", Token::Categories),
    ];

    fn fill(t: Token) -> String {
        match t {
            Token::Year => "2024".into(),
            Token::Month => "03".into(),
            Token::Day => "09".into(),
            Token::Title => "Hello".into(),
            Token::Slug => "hello".into(),
            Token::SlugOrFilename => "file".into(),
            Token::OutputExt => ".html".into(),
            Token::Categories => "a/b".into(),
            _ => "?".into(),
        }
    }

    #[test]
    fn braces() {
        let p = Pattern::parse(
            "/posts/{year}/{month}/{day}/{slug}/",
            Syntax::Braces,
            HERALD_TOKENS,
        )
        .unwrap();
        assert_eq!(p.expand(fill), "/posts/2024/03/09/hello/");
        assert!(p.has(Token::Slug));
        let e = Pattern::parse("/{slug}/{hour}/", Syntax::Braces, HERALD_TOKENS).unwrap_err();
        assert!(e.contains("{hour}"), "{e}");
        assert!(Pattern::parse("/{slug", Syntax::Braces, HERALD_TOKENS).is_err());
    }

    #[test]
    fn colon_tokens_run_together() {
        let p = Pattern::parse(
            "/:categories/:year/:month/:title:output_ext",
            Syntax::Colon,
            COLON,
        )
        .unwrap();
        assert_eq!(p.expand(fill), "/a/b/2024/03/Hello.html");
    }

    #[test]
    fn colon_prefers_the_longest_name() {
        let p = Pattern::parse("/:slugorfilename/", Syntax::Colon, COLON).unwrap();
        assert_eq!(p.expand(fill), "/file/");
        let p = Pattern::parse("/:slugx/", Syntax::Colon, COLON).unwrap();
        assert_eq!(p.expand(fill), "/hellox/");
    }

    #[test]
    fn a_lone_colon_is_text_and_unknown_names_are_errors() {
        let p = Pattern::parse("/a:/b/:slug", Syntax::Colon, COLON).unwrap();
        assert_eq!(p.expand(fill), "/a:/b/hello");
        let e = Pattern::parse("/:nope/", Syntax::Colon, COLON).unwrap_err();
        assert!(e.contains(":nope"), "{e}");
    }

    #[test]
    fn multibyte_text_survives() {
        let p = Pattern::parse("/夜/{slug}/", Syntax::Braces, HERALD_TOKENS).unwrap();
        assert_eq!(p.expand(fill), "/夜/hello/");
    }
}

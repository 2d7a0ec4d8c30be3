//! Slugs (README "Subscribing to a tag"): the one rule that turns post names and tag names into the path
//! segments of permalinks and feed folders. A leaf module: it uses nothing else in herald.

/// A slug: lowercase, Unicode letters and digits kept, every other run of characters becomes
/// one `-`, no `-` at either end. `None` when nothing is left.
pub fn slugify(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut dash = false;
    for c in s.chars() {
        if c.is_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            // Lower case can be longer than a letter and hold a mark that is no letter (`İ` is
            // `i` + U+0307): keep only what is a letter or digit, so a slug is its own slug.
            out.extend(c.to_lowercase().filter(|l| l.is_alphanumeric()));
        } else {
            dash = true;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The longest file or folder name, in bytes, that the usual file systems take (ext4, XFS,
/// Btrfs, APFS): a name longer than this cannot be created at all.
pub const NAME_MAX: usize = 255;

/// How many hex digits of the name's SHA-256 a shortened name ends with (64 bits).
const HASH_HEX: usize = 16;

/// `name` as a file or folder name that leaves `room` bytes for what follows it in the same
/// name (`.eml`, `.html`) within [`NAME_MAX`] (README "Subscribing to a tag"). A name that fits
/// is returned as it is; a longer one is cut at a character boundary, any `-` at the cut
/// dropped, and followed by `-` and the first 16 hex digits of the SHA-256 of the whole name:
/// the same name is always shortened alike, and two names that differ anywhere, even past the
/// cut, differ after it.
pub fn fit_name(name: String, room: usize) -> String {
    use sha2::{Digest, Sha256};
    let max = NAME_MAX.saturating_sub(room);
    if name.len() <= max {
        return name;
    }
    let mut hash = format!("{:x}", Sha256::digest(name.as_bytes()));
    hash.truncate(HASH_HEX);
    let mut end = max.saturating_sub(HASH_HEX + 1);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    match name[..end].trim_end_matches('-') {
        "" => hash,
        head => format!("{head}-{hash}"),
    }
}

// The generators' own tag (and URL) slug rules, so that a feed of a site that one of them builds
// can sit in the folder of that generator's own tag page. Each function follows its generator's
// rule, then passes the result through `safe_segment`, which herald adds on top of every rule:
// the slug becomes a folder name and a URL path segment, so it may hold no `/`, `\` or control
// character, and a slug that is empty, starts with `.` (`.`, `..`, `.git`) or with `%2e` (a dot
// once a URL is decoded) is `None`. A slug may still hold characters that a URL must escape (`#`,
// `?`, `%`, spaces): the caller escapes them when it writes a URL.

use icu_properties::props::{Diacritic, GeneralCategory, GeneralCategoryGroup};
use icu_properties::{CodePointMapData, CodePointSetData};
use unicode_normalization::UnicodeNormalization;

/// A letter, a mark or a decimal digit (`\p{L}`, `\p{M}`, `\p{Nd}`).
fn is_letter_mark_digit(c: char) -> bool {
    // ASCII has no marks, and its letters and digits are the alphanumerics: no table lookup.
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    GeneralCategoryGroup::Letter
        .union(GeneralCategoryGroup::Mark)
        .union(GeneralCategoryGroup::DecimalNumber)
        .contains(CodePointMapData::<GeneralCategory>::new().get(c))
}

/// herald's own limits on top of a generator's rule (see the comment that opens this part): no
/// `/`, `\` or control character; nothing that is empty or starts with `.` or `%2e`.
fn safe_segment(mut s: String) -> Option<String> {
    s.retain(|c| c != '/' && c != '\\' && !c.is_control());
    let dotted = s.starts_with('.') || s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("%2e"));
    (!s.is_empty() && !dotted).then_some(s)
}

/// Letters, marks, digits, `._#+~-@` and `%`+two hex digits kept, lower-cased; inner spaces `-`.
pub fn hugo_urlize(s: &str) -> Option<String> {
    // Any other character is dropped without a trace; a run of white space after something kept
    // becomes one `-`, but none next to a kept `-`. Lower case is the one-letter mapping, letter
    // by letter: `İ` is `i`, `Σ` is always `σ`. This is the folder name; a URL escapes it.
    let b = s.as_bytes();
    let hex_at = |i: usize| b.get(i).is_some_and(u8::is_ascii_hexdigit);
    let mut out = String::with_capacity(s.len());
    let mut space_before = false;
    let mut after_hyphen = false;
    for (i, c) in s.char_indices() {
        let kept = matches!(c, '.' | '/' | '\\' | '_' | '#' | '+' | '~' | '-' | '@')
            || is_letter_mark_digit(c)
            || (c == '%' && hex_at(i + 1) && hex_at(i + 2));
        if kept {
            after_hyphen = c == '-';
            if space_before && !after_hyphen {
                out.push('-');
            }
            space_before = false;
            match c {
                '\u{130}' => out.push('i'),
                c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
                _ => out.extend(c.to_lowercase()),
            }
        } else if !out.is_empty() && !after_hyphen && c.is_whitespace() {
            space_before = true;
        }
    }
    safe_segment(out)
}

/// Which characters a Jekyll slug keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JekyllSlugMode {
    /// Only runs of ASCII white space become `-`.
    Raw,
    /// Runs of anything but letters, marks and decimal digits become `-`.
    Default,
    /// As `Default`, but `._~!$&'()+,;=@` are kept too.
    Pretty,
    /// Runs of anything but ASCII letters and digits become `-`.
    Ascii,
    /// Accented Latin letters become ASCII, any other non-ASCII character `?`, then `Default`.
    Latin,
}

/// Each run of what `mode` drops is one `-`, one `-` is cut at each end; lower case unless `cased`.
pub fn jekyll_slugify(s: &str, mode: JekyllSlugMode, cased: bool) -> Option<String> {
    let transliterated;
    let s = if mode == JekyllSlugMode::Latin {
        transliterated = latin_to_ascii(s);
        transliterated.as_str()
    } else {
        s
    };
    let replaced = |c: char| match mode {
        JekyllSlugMode::Raw => matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r'),
        JekyllSlugMode::Default | JekyllSlugMode::Latin => !is_letter_mark_digit(c),
        JekyllSlugMode::Pretty => !(is_letter_mark_digit(c) || "._~!$&'()+,;=@".contains(c)),
        JekyllSlugMode::Ascii => !c.is_ascii_alphanumeric(),
    };
    let mut slug = String::with_capacity(s.len());
    let mut in_run = false;
    for c in s.chars() {
        if !replaced(c) {
            slug.push(c);
            in_run = false;
        } else if !in_run {
            slug.push('-');
            in_run = true;
        }
    }
    // One `-` from each end, not every one: in `Raw` mode `--a--` is `-a-`.
    let slug = slug.strip_prefix('-').unwrap_or(&slug);
    let slug = slug.strip_suffix('-').unwrap_or(slug);
    let slug = if cased {
        slug.to_owned()
    } else {
        // Letter by letter, full mapping, no final-sigma rule: `İ` is `i` + U+0307.
        slug.chars().flat_map(char::to_lowercase).collect()
    };
    safe_segment(slug)
}

/// The ASCII for the accented Latin letters U+00C0 to U+017E (and `×`); `?` for any other
/// non-ASCII character.
fn latin_to_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            _ if c.is_ascii() => out.push(c),
            // The transliteration table has these two the wrong way round.
            'Ŋ' => out.push_str("NG"),
            'ŋ' => out.push_str("ng"),
            '\u{c0}'..='\u{17e}' if c != '÷' => {
                out.push_str(deunicode::deunicode_char(c).unwrap_or("?"));
            }
            _ => out.push('?'),
        }
    }
    out
}

/// ASCII transliteration, lower case; each run of anything but `a-z0-9` one `-`, none at the ends.
pub fn zola_slugify(s: &str) -> Option<String> {
    // `::slug` is the crate of that name, not this module.
    safe_segment(::slug::slugify(s))
}

/// `&` is `and`, letters in ASCII, no accents, lower case; other runs one `-`, none at the ends.
pub fn eleventy_slugify(s: &str) -> Option<String> {
    // Spelt in ASCII: German umlauts (`ä` is `ae`), `ß`, a few unaccented Latin letters, Greek and
    // Russian/Ukrainian letters in their own spelling (`я` is `ya`, `η` is `i`), and the nearest
    // common spelling for some other alphabets; CJK, emoji and most symbols are left as they are,
    // so they become separators. A word's final `'s` or `'t` loses its apostrophe; camel case is
    // not split.
    let lower = |c: char| c.to_lowercase().next().unwrap_or(c);
    let mut chars = s.nfc().peekable();
    let mut ascii = String::with_capacity(s.len());
    while let Some(c) = chars.next() {
        // Two Russian letters that are spelt together.
        let pair = match (lower(c), chars.peek().copied().map(lower)) {
            ('ъ', Some('е')) => Some("ye"),
            ('ы', Some('й')) => Some("iy"),
            _ => None,
        };
        if let Some(spelt) = pair {
            chars.next();
            ascii.push_str(spelt);
            continue;
        }
        match eleventy_letter(c) {
            Some(spelt) => ascii.push_str(spelt),
            None => ascii.push(c),
        }
    }
    let diacritic = CodePointSetData::new::<Diacritic>();
    let bare: String = ascii
        .nfd()
        .filter(|&c| !diacritic.contains(c))
        .nfc()
        .collect::<String>()
        .to_lowercase();
    let bare = drop_contraction_apostrophes(&bare);
    let mut slug = String::with_capacity(bare.len());
    for c in bare.chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    if slug.ends_with('-') {
        slug.pop();
    }
    safe_segment(slug)
}

/// How Eleventy's `slugify` spells one character before accents are dropped; `None` keeps it.
fn eleventy_letter(c: char) -> Option<&'static str> {
    let t = match c {
        '&' => " and ",
        '♥' => " love ",
        '🦄' => " unicorn ",
        'ä' | 'Ä' => "ae",
        'ö' | 'Ö' => "oe",
        'ü' | 'Ü' => "ue",
        'ß' | 'ẞ' => "ss",
        'æ' | 'Æ' => "ae",
        'ð' | 'Ð' | 'đ' | 'Đ' => "d",
        'ø' | 'Ø' => "o",
        'þ' | 'Þ' => "th",
        'ħ' | 'Ħ' => "h",
        'ı' => "i",
        'ĳ' | 'Ĳ' => "ij",
        'ł' | 'Ł' => "l",
        '¢' => "c",
        '¥' => "y",
        '€' => "e",
        // The one capital that is not spelt as its small letter.
        'Β' => "b",
        '\u{386}'..='\u{3ce}' => return greek_letter(c),
        '\u{400}'..='\u{45f}' | 'ґ' | 'Ґ' => return cyrillic_letter(c.to_lowercase().next()?),
        // Armenian, Arabic and Persian, Thaana, Georgian, circled numbers and letters,
        // mathematical letters and digits: the nearest common transliteration.
        '\u{531}'..='\u{587}'
        | '\u{621}'..='\u{63a}'
        | '\u{641}'..='\u{64a}'
        | '\u{660}'..='\u{669}'
        | '\u{671}'..='\u{6d3}'
        | '\u{780}'..='\u{7a5}'
        | '\u{10d0}'..='\u{10f0}'
        | '\u{2460}'..='\u{24ff}'
        | '\u{1d400}'..='\u{1d6a3}'
        | '\u{1d7ce}'..='\u{1d7ff}' => return deunicode::deunicode_char(c),
        _ => return None,
    };
    Some(t)
}

/// A Greek letter (accented or not) in the modern spelling: `β` is `v`, `η` is `i`, `χ` is `x`.
fn greek_letter(c: char) -> Option<&'static str> {
    let base = c.nfd().next()?.to_lowercase().next()?;
    Some(match base {
        'α' => "a",
        'β' => "v",
        'γ' => "g",
        'δ' => "d",
        'ε' => "e",
        'ζ' => "z",
        'η' | 'ι' => "i",
        'θ' => "th",
        'κ' => "k",
        'λ' => "l",
        'μ' => "m",
        'ν' => "n",
        'ξ' => "ks",
        'ο' | 'ω' => "o",
        'π' => "p",
        'ρ' => "r",
        'σ' | 'ς' => "s",
        'τ' => "t",
        'υ' => "y",
        'φ' => "f",
        'χ' => "x",
        'ψ' => "ps",
        _ => return None,
    })
}

/// A lower-case Russian, Ukrainian or Macedonian letter: `й` is `y`, `щ` is `sch`, `ъ` is nothing.
fn cyrillic_letter(c: char) -> Option<&'static str> {
    Some(match c {
        'а' => "a",
        'б' => "b",
        'в' => "v",
        'г' | 'ґ' => "g",
        'д' => "d",
        'е' | 'э' => "e",
        'ё' => "yo",
        'ж' => "zh",
        'з' => "z",
        'и' | 'і' => "i",
        'й' | 'ы' => "y",
        'к' => "k",
        'л' => "l",
        'м' => "m",
        'н' => "n",
        'о' => "o",
        'п' => "p",
        'р' => "r",
        'с' => "s",
        'т' => "t",
        'у' => "u",
        'ф' => "f",
        'х' => "kh",
        'ц' => "ts",
        'ч' => "ch",
        'ш' => "sh",
        'щ' => "sch",
        'ъ' | 'ь' => "",
        'ю' => "yu",
        'я' => "ya",
        'є' => "ye",
        'ї' => "yi",
        'љ' => "lj",
        'њ' => "nj",
        'ќ' => "kj",
        _ => return None,
    })
}

/// Drops the `'` of a word's final `'s` or `'t` (`don't` is `dont`, `it's` is `its`).
fn drop_contraction_apostrophes(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        let contraction = c == '\''
            && i > 0
            && chars[i - 1].is_ascii_alphanumeric()
            && chars.get(i + 1).is_some_and(|&n| n == 's' || n == 't')
            && chars.get(i + 2).is_none_or(|&n| is_js_space(n));
        if !contraction {
            out.push(c);
        }
    }
    out
}

/// White space as JavaScript's `\s` has it.
fn is_js_space(c: char) -> bool {
    const OTHERS: &[char] = &[
        '\x0b', '\u{a0}', '\u{1680}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
        '\u{feff}',
    ];
    c.is_ascii_whitespace() || ('\u{2000}'..='\u{200a}').contains(&c) || OTHERS.contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_rules() {
        assert_eq!(
            slugify("Conversion Rate").as_deref(),
            Some("conversion-rate")
        );
        assert_eq!(
            slugify("  conversion   rate!! ").as_deref(),
            Some("conversion-rate")
        );
        assert_eq!(slugify("C++ / Rust").as_deref(), Some("c-rust"));
        assert_eq!(slugify("夜の港").as_deref(), Some("夜の港"));
        assert_eq!(slugify("Ärger").as_deref(), Some("ärger"));
        assert_eq!(slugify("../../etc"), Some("etc".into()));
        assert_eq!(slugify(".."), None);
        assert_eq!(slugify("a\0b").as_deref(), Some("a-b"));
        assert_eq!(slugify("!!!"), None);
        assert_eq!(slugify("İstanbul").as_deref(), Some("istanbul"));
        assert_eq!(slugify("istanbul").as_deref(), Some("istanbul"));
    }

    /// Runs `f` on each input and compares with the expected slug (`None` for no slug).
    fn check(f: impl Fn(&str) -> Option<String>, cases: &[(&str, Option<&str>)]) {
        for &(input, want) in cases {
            assert_eq!(f(input).as_deref(), want, "{input:?}");
        }
    }

    #[test]
    fn hugo_urlize_rules() {
        check(
            hugo_urlize,
            &[
                ("Conversion Rate", Some("conversion-rate")),
                ("  conversion   rate!! ", Some("conversion-rate")),
                ("tab\there\nnow", Some("tab-here-now")),
                ("\u{a0}nbsp\u{a0}", Some("nbsp")),
                // Kept: `+ # . _ ~ @ -`; other punctuation is dropped without a `-`.
                ("C++", Some("c++")),
                ("C#", Some("c#")),
                ("Rock & Roll", Some("rock-roll")),
                ("Q&A", Some("qa")),
                ("it's", Some("its")),
                ("a<b>c:d\"e|f?g*h", Some("abcdefgh")),
                ("v1.2.3", Some("v1.2.3")),
                ("snake_case", Some("snake_case")),
                ("~tilde", Some("~tilde")),
                ("user@example.com", Some("user@example.com")),
                ("zero\u{200b}width", Some("zerowidth")),
                // Hyphens in the input stay; a space next to one adds none.
                ("--a--", Some("--a--")),
                ("- a -", Some("-a-")),
                ("foo- bar", Some("foo-bar")),
                ("a - b", Some("a-b")),
                // `%` only before two hex digits.
                ("%41b", Some("%41b")),
                ("a%zz", Some("azz")),
                ("100%", Some("100")),
                // Letters of any script, marks, decimal digits; lower case letter by letter.
                ("Ärger", Some("ärger")),
                ("e\u{301}té", Some("e\u{301}té")),
                ("夜の港", Some("夜の港")),
                ("ΣΑΣ", Some("σασ")),
                ("İstanbul", Some("istanbul")),
                ("fooBar", Some("foobar")),
                ("ＡＢＣ", Some("ａｂｃ")),
                ("x²", Some("x")),
                ("🦀 Rust", Some("rust")),
                ("Rust 🦀", Some("rust")),
                ("dot. ", Some("dot.")),
                // herald's limits: no `/`, `\` or control character, no leading dot.
                ("C++ / Rust", Some("c++--rust")),
                ("a/b", Some("ab")),
                ("a\\b", Some("ab")),
                ("a\0b", Some("ab")),
                ("..", None),
                ("../etc", None),
                ("../../etc", None),
                (".NET", None),
                ("%2e%2e", None),
                ("%2Ex", None),
                ("😀", None),
                ("!!!", None),
                ("   ", None),
                ("", None),
            ],
        );
    }

    #[test]
    fn jekyll_default_and_latin_rules() {
        let default = |s: &str| jekyll_slugify(s, JekyllSlugMode::Default, false);
        check(
            default,
            &[
                ("Conversion Rate", Some("conversion-rate")),
                ("  conversion   rate!! ", Some("conversion-rate")),
                ("C++", Some("c")),
                ("C++ / Rust", Some("c-rust")),
                ("Rock & Roll", Some("rock-roll")),
                ("it's", Some("it-s")),
                ("fooBar", Some("foobar")),
                ("Ärger", Some("ärger")),
                ("夜の港", Some("夜の港")),
                ("e\u{301}té", Some("e\u{301}té")),
                // Full lower-casing: `İ` is `i` and a combining dot.
                ("İstanbul", Some("i\u{307}stanbul")),
                ("ΣΑΣ", Some("σασ")),
                ("x²", Some("x")),
                ("snake_case", Some("snake-case")),
                ("--a--", Some("a")),
                ("🦀 Rust", Some("rust")),
                ("..", None),
                ("../etc", Some("etc")),
                ("../../etc", Some("etc")),
                (".hidden", Some("hidden")),
                ("😀", None),
                ("", None),
            ],
        );
        let latin = |s: &str| jekyll_slugify(s, JekyllSlugMode::Latin, false);
        check(
            latin,
            &[
                ("Ärger", Some("arger")),
                ("São Paulo", Some("sao-paulo")),
                ("Straße", Some("strasse")),
                ("ŁÓDŹ", Some("lodz")),
                ("Þór", Some("thor")),
                ("œuvre", Some("oeuvre")),
                ("Ŋ", Some("ng")),
                ("ŋ", Some("ng")),
                ("İstanbul", Some("istanbul")),
                ("×÷", Some("x")),
                // Outside the Latin letters everything is `?`, so a separator.
                ("夜の港", None),
                ("Москва", None),
                ("ﬁne", Some("ne")),
                ("e\u{301}té", Some("e-te")),
                ("C++ / Rust", Some("c-rust")),
                ("../etc", Some("etc")),
            ],
        );
        assert_eq!(
            jekyll_slugify("São Paulo", JekyllSlugMode::Latin, true).as_deref(),
            Some("Sao-Paulo")
        );
        assert_eq!(
            jekyll_slugify("Ärger Über", JekyllSlugMode::Default, true).as_deref(),
            Some("Ärger-Über")
        );
    }

    #[test]
    fn jekyll_pretty_raw_and_ascii_rules() {
        let pretty = |s: &str| jekyll_slugify(s, JekyllSlugMode::Pretty, false);
        check(
            pretty,
            &[
                ("  conversion   rate!! ", Some("conversion-rate!!")),
                ("C++ / Rust", Some("c++-rust")),
                ("Rock & Roll", Some("rock-&-roll")),
                ("it's", Some("it's")),
                ("test (hey)", Some("test-(hey)")),
                ("$5 & €10", Some("$5-&-10")),
                ("v1.2.3", Some("v1.2.3")),
                ("user@example.com", Some("user@example.com")),
                ("snake_case", Some("snake_case")),
                ("C#", Some("c")),
                ("夜の港", Some("夜の港")),
                ("a.", Some("a.")),
                ("..", None),
                ("../etc", None),
                (".NET", None),
            ],
        );
        let raw = |s: &str| jekyll_slugify(s, JekyllSlugMode::Raw, false);
        check(
            raw,
            &[
                ("  conversion   rate!! ", Some("conversion-rate!!")),
                ("C++ / Rust", Some("c++--rust")),
                ("a - b", Some("a---b")),
                ("--a--", Some("-a-")),
                ("-", None),
                ("😀", Some("😀")),
                ("🦀 Rust", Some("🦀-rust")),
                ("tab\there", Some("tab-here")),
                ("a\0b", Some("ab")),
                ("a\u{a0}b", Some("a\u{a0}b")),
                ("../etc", None),
                ("..", None),
            ],
        );
        let ascii = |s: &str| jekyll_slugify(s, JekyllSlugMode::Ascii, false);
        check(
            ascii,
            &[
                ("Conversion Rate", Some("conversion-rate")),
                ("Ärger", Some("rger")),
                ("São Paulo", Some("s-o-paulo")),
                ("Straße", Some("stra-e")),
                ("夜の港", None),
                ("C++", Some("c")),
                ("../etc", Some("etc")),
            ],
        );
        assert_eq!(
            jekyll_slugify("Rock & Roll", JekyllSlugMode::Ascii, true).as_deref(),
            Some("Rock-Roll")
        );
    }

    #[test]
    fn zola_slugify_rules() {
        check(
            zola_slugify,
            &[
                ("Conversion Rate", Some("conversion-rate")),
                ("  conversion   rate!! ", Some("conversion-rate")),
                ("C++", Some("c")),
                ("C++ / Rust", Some("c-rust")),
                ("Rock & Roll", Some("rock-roll")),
                ("it's", Some("it-s")),
                ("fooBar", Some("foobar")),
                ("Ärger", Some("arger")),
                ("Straße", Some("strasse")),
                ("夜の港", Some("ye-nogang")),
                ("日本", Some("ri-ben")),
                ("Москва", Some("moskva")),
                ("🦀 Rust", Some("crab-rust")),
                ("x²", Some("x2")),
                ("$5 & €10", Some("5-eur10")),
                ("snake_case", Some("snake-case")),
                ("test (hey)", Some("test-hey")),
                (".hidden", Some("hidden")),
                ("..", None),
                ("../etc", Some("etc")),
                ("../../etc", Some("etc")),
                ("!!!", None),
                ("", None),
            ],
        );
    }

    #[test]
    fn eleventy_slugify_rules() {
        check(
            eleventy_slugify,
            &[
                ("Conversion Rate", Some("conversion-rate")),
                ("  conversion   rate!! ", Some("conversion-rate")),
                ("C++", Some("c")),
                ("C++ / Rust", Some("c-rust")),
                ("C#", Some("c")),
                // `&` is a word.
                ("Rock & Roll", Some("rock-and-roll")),
                ("Q&A", Some("q-and-a")),
                ("$5 & €10", Some("5-and-e10")),
                // No split of camel case.
                ("fooBar", Some("foobar")),
                ("XMLHttpRequest", Some("xmlhttprequest")),
                // The apostrophe of a final `'s` or `'t` goes, no other.
                ("it's", Some("its")),
                ("It's here", Some("its-here")),
                ("don't stop", Some("dont-stop")),
                ("a'sb", Some("a-sb")),
                ("rock 'n' roll", Some("rock-n-roll")),
                ("it’s", Some("it-s")),
                // German umlauts, `ß` and Latin letters without accents are spelt out.
                ("Ärger", Some("aerger")),
                ("Ünïcödé", Some("uenicoede")),
                ("Straße", Some("strasse")),
                ("ŁÓDŹ", Some("lodz")),
                ("Ørsted", Some("orsted")),
                ("Þór", Some("thor")),
                ("İstanbul", Some("istanbul")),
                ("naïve café", Some("naive-cafe")),
                ("e\u{301}té", Some("ete")),
                ("São Paulo", Some("sao-paulo")),
                // Greek and Russian in their own spelling.
                ("Ελληνικά", Some("ellinika")),
                ("Βήτα", Some("bita")),
                ("Москва", Some("moskva")),
                ("Подъезд", Some("podyezd")),
                ("новый", Some("noviy")),
                // CJK, emoji and most symbols are separators.
                ("夜の港", None),
                ("日本 2024", Some("2024")),
                ("🦀 Rust", Some("rust")),
                ("😀", None),
                ("I ♥ Rust", Some("i-love-rust")),
                ("x²", Some("x")),
                ("①", Some("1")),
                ("v1.2.3", Some("v1-2-3")),
                ("snake_case", Some("snake-case")),
                ("a\\b", Some("a-b")),
                ("..", None),
                ("../etc", Some("etc")),
                ("../../etc", Some("etc")),
                ("!!!", None),
                ("", None),
            ],
        );
    }

    #[test]
    fn names_that_fit_are_kept_and_longer_ones_are_cut_and_hashed() {
        for n in [0, 1, 254, 255] {
            let name = "a".repeat(n);
            assert_eq!(fit_name(name.clone(), 0), name);
        }
        assert_eq!(fit_name("a".repeat(251), 4), "a".repeat(251));
        for (name, room) in [
            ("a".repeat(256), 0),
            ("a".repeat(5000), 0),
            ("a".repeat(252), 4),
            ("夜".repeat(100), 0),
            ("夜".repeat(85), 5),
            // 253 bytes of letters, then `-` at the cut: the `-` does not stay.
            (format!("{}-{}", "b".repeat(237), "c".repeat(300)), 0),
        ] {
            let short = fit_name(name.clone(), room);
            assert!(short.len() + room <= NAME_MAX, "{} bytes", short.len());
            assert!(short.len() + room >= NAME_MAX - 3, "as long as it may be");
            assert_eq!(fit_name(name.clone(), room), short, "stable");
            let (head, hash) = short.rsplit_once('-').unwrap_or(("", &short));
            assert_eq!(hash.len(), 16);
            assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
            assert!(
                name.starts_with(head),
                "a prefix of the name on a char boundary"
            );
            assert!(!head.ends_with('-'), "{short}");
        }
        // The CJK name: 79 characters of 3 bytes fit beside the hash, the 80th would not.
        let cjk = fit_name("夜".repeat(100), 0);
        assert!(cjk.starts_with(&"夜".repeat(79)) && cjk.len() == 79 * 3 + 17);
        // Nothing but dashes before the cut: the hash alone.
        assert_eq!(fit_name("-".repeat(300), 0).len(), 16);
    }

    #[test]
    fn shortened_names_of_names_that_differ_past_the_cut_differ() {
        let shared = "x".repeat(300);
        let a = fit_name(format!("{shared}a"), 0);
        let b = fit_name(format!("{shared}b"), 0);
        assert_ne!(a, b);
        assert_eq!(a[..200], b[..200]);
        // Stable across runs and builds: the hash is of the name's bytes, nothing else.
        assert_eq!(
            fit_name("a".repeat(256), 0),
            format!(
                "{}-{}",
                "a".repeat(238),
                &sha256_hex(&"a".repeat(256))[..16]
            )
        );
    }

    fn sha256_hex(s: &str) -> String {
        use sha2::{Digest, Sha256};
        Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn generator_slugs_never_escape_their_folder() {
        let inputs = [
            "..", ".", "../x", "..\\x", "/", "\\", "a/../b", ".x", "%2e%2e", "%2E", "\0", "\n",
            " . ", "./", "x/..", "x/.", "...", "%2e./x",
        ];
        let modes = [
            JekyllSlugMode::Raw,
            JekyllSlugMode::Default,
            JekyllSlugMode::Pretty,
            JekyllSlugMode::Ascii,
            JekyllSlugMode::Latin,
        ];
        for input in inputs {
            let mut slugs = vec![
                hugo_urlize(input),
                zola_slugify(input),
                eleventy_slugify(input),
            ];
            for mode in modes {
                slugs.push(jekyll_slugify(input, mode, false));
                slugs.push(jekyll_slugify(input, mode, true));
            }
            for slug in slugs.into_iter().flatten() {
                assert!(!slug.is_empty(), "{input:?}");
                assert!(!slug.starts_with('.'), "{input:?} gave {slug:?}");
                assert!(!slug.to_ascii_lowercase().starts_with("%2e"), "{input:?}");
                assert!(
                    !slug.contains(['/', '\\']) && !slug.chars().any(char::is_control),
                    "{input:?} gave {slug:?}"
                );
            }
        }
    }
}

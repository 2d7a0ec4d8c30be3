//! Slugs (DESIGN.md "Posts"): the one rule that turns post names and tag names into the path
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
}

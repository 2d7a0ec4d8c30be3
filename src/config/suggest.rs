//! "Did you mean" for unknown keys, with the edit distance clap uses.

/// The closest of `candidates` to `typed`, if it is close enough to be a likely typo.
pub fn closest<'a>(typed: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro(typed, c), *c))
        .filter(|(score, _)| *score > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_a_close_key() {
        assert_eq!(
            closest("formts", &["formats", "limit", "per_tag"]),
            Some("formats")
        );
        assert_eq!(closest("zzz", &["formats", "limit"]), None);
    }
}

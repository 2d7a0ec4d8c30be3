//! Reading raw messages as they arrived (outbox files, [`super::smtp::Received::data`]), before
//! any MIME parsing: what a header block literally holds.

/// The header block of a raw message: everything before the first empty line.
pub fn head(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The value of header `name` in a raw message (its first line only: the test fixtures'
/// headers are plain ASCII and unfolded); the test fails if there is none.
pub fn header(bytes: &[u8], name: &str) -> String {
    let head = head(bytes);
    let prefix = format!("{}:", name.to_ascii_lowercase());
    head.split("\r\n")
        .find(|l| l.to_ascii_lowercase().starts_with(&prefix))
        .map(|l| l[prefix.len()..].trim().to_string())
        .unwrap_or_else(|| panic!("no {name} header in\n{head}"))
}

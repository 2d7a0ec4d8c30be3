//! Form bodies: `application/x-www-form-urlencoded` (browsers) and `multipart/form-data`
//! (RFC 8058 allows either for one-click unsubscribe; some mail providers send the latter).
//!
//! Fields keep their order and may repeat (`list=a&list=b` from checkboxes), which serde's
//! urlencoded forms cannot express. Only text fields are read; a file part is ignored.

/// The fields of a form, in order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// The fields of a request's query string.
    pub fn query(uri: &axum::http::Uri) -> Fields {
        Fields::urlencoded(uri.query().unwrap_or("").as_bytes())
    }

    /// The fields of a query string or urlencoded body.
    pub fn urlencoded(bytes: &[u8]) -> Fields {
        Fields(
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The fields of a body, by its `Content-Type`; an unknown type yields no fields.
    pub fn body(content_type: Option<&str>, bytes: &[u8]) -> Fields {
        let ct = content_type.unwrap_or("application/x-www-form-urlencoded");
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/x-www-form-urlencoded" => Fields::urlencoded(bytes),
            "multipart/form-data" => match boundary(ct) {
                Some(b) => Fields::multipart(&b, bytes),
                None => Fields::default(),
            },
            // A one-click POST with a bare `text/plain` body is still a one-click.
            "text/plain" => Fields::urlencoded(String::from_utf8_lossy(bytes).trim().as_bytes()),
            _ => Fields::default(),
        }
    }

    fn multipart(boundary: &str, bytes: &[u8]) -> Fields {
        let text = String::from_utf8_lossy(bytes);
        let delimiter = format!("--{boundary}");
        let mut out = Vec::new();
        for part in text.split(delimiter.as_str()).skip(1) {
            if part.starts_with("--") {
                break;
            }
            let part = part
                .strip_prefix("\r\n")
                .or_else(|| part.strip_prefix('\n'))
                .unwrap_or(part);
            let (head, body) = match part
                .split_once("\r\n\r\n")
                .or_else(|| part.split_once("\n\n"))
            {
                Some(x) => x,
                None => continue,
            };
            let body = body
                .strip_suffix("\r\n")
                .or_else(|| body.strip_suffix('\n'))
                .unwrap_or(body);
            let mut name = None;
            let mut is_file = false;
            for line in head.lines() {
                let Some((key, value)) = line.split_once(':') else {
                    continue;
                };
                if key.trim().eq_ignore_ascii_case("content-disposition") {
                    name = param(value, "name");
                    is_file = param(value, "filename").is_some();
                }
            }
            if let (Some(name), false) = (name, is_file) {
                out.push((name, body.to_string()));
            }
        }
        Fields(out)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// The `boundary` parameter of a multipart `Content-Type`.
fn boundary(content_type: &str) -> Option<String> {
    param(content_type, "boundary").filter(|b| !b.is_empty() && b.len() <= 200)
}

/// A `key=value` or `key="value"` parameter of a header value.
fn param(header: &str, key: &str) -> Option<String> {
    header.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case(key) {
            return None;
        }
        let v = v.trim();
        Some(
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
                .to_string(),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_fields_repeat_and_decode() {
        let f = Fields::body(None, b"email=a%40example.com&list=a&list=b&name=A+B");
        assert_eq!(f.get("email"), Some("a@example.com"));
        assert_eq!(f.all("list"), vec!["a", "b"]);
        assert_eq!(f.get("name"), Some("A B"));
        assert_eq!(f.get("website"), None);
    }

    #[test]
    fn multipart_one_click_body() {
        let body = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n\
                    --XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nfile\r\n--XyZ--\r\n";
        let f = Fields::body(Some("multipart/form-data; boundary=XyZ"), body.as_bytes());
        assert_eq!(f.get("List-Unsubscribe"), Some("One-Click"));
        assert_eq!(f.get("f"), None, "file parts are ignored");
        let quoted = Fields::body(
            Some("multipart/form-data; boundary=\"XyZ\""),
            body.as_bytes(),
        );
        assert_eq!(quoted.get("List-Unsubscribe"), Some("One-Click"));
    }

    #[test]
    fn odd_bodies_give_no_fields() {
        assert_eq!(
            Fields::body(Some("application/json"), b"{\"a\":1}"),
            Fields::default()
        );
        assert_eq!(
            Fields::body(Some("multipart/form-data"), b"--x\r\n"),
            Fields::default()
        );
        assert_eq!(
            Fields::body(Some("multipart/form-data; boundary=x"), b"garbage"),
            Fields::default()
        );
        let f = Fields::body(Some("text/plain"), b"List-Unsubscribe=One-Click\r\n");
        assert_eq!(f.get("List-Unsubscribe"), Some("One-Click"));
    }
}

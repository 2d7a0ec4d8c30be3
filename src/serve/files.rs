//! The files of `output_dir`, as a feed reader should get them (README "The web endpoint"):
//! the feed `Content-Type`s, a strong `ETag` from the bytes (a rebuild that changes nothing
//! keeps it), `Last-Modified`, 304 on `If-None-Match` (which wins, RFC 9110 13.2.2) or
//! `If-Modified-Since`, and gzip when `Accept-Encoding` allows it.
//!
//! A request path never leaves `output_dir`: it is percent-decoded, then any `.`/`..` segment,
//! hidden name, backslash or NUL is refused, and the resolved file (after symlinks) must lie
//! below the resolved `output_dir`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

use crate::config::{FeedFormat, OPML_MIME};

/// Smaller bodies are not worth a gzip header.
const GZIP_MIN: usize = 256;

/// `Content-Type` by file name: the feed names herald writes, then extensions.
pub fn content_type(path: &Path) -> &'static str {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if let Some(f) = FeedFormat::from_file_name(&name) {
        return f.mime_type();
    }
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
    match ext {
        "opml" => OPML_MIME,
        "xml" | "xsl" => "application/xml; charset=utf-8",
        "json" => "application/json; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "txt" | "md" => "text/plain; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "pdf" => "application/pdf",
        "mp3" => "audio/mpeg",
        "mp4" => "video/mp4",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("");
    essence.starts_with("text/")
        || essence.ends_with("+xml")
        || essence.ends_with("+json")
        || essence == "application/xml"
        || essence == "application/json"
}

fn is_feed(content_type: &str) -> bool {
    FeedFormat::ALL
        .iter()
        .map(|f| f.mime_type())
        .chain([OPML_MIME])
        .any(|t| t == content_type)
}

/// The file under `root` that `path` (the request path, still percent-encoded) names, or
/// `None` when it could name something outside `root` or a hidden file. A path ending in `/`
/// names its `index.html`.
pub fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(path)?;
    let mut out = root.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        let bad =
            segment.starts_with('.') || segment.contains(['\\', '\0']) || segment.contains(':');
        if bad {
            return None;
        }
        out.push(segment);
    }
    if decoded.ends_with('/') || decoded.is_empty() {
        out.push("index.html");
    }
    Some(out)
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The answer for a `GET`/`HEAD` of `path`, or `None` when there is no such file (the caller
/// answers 404). Blocking: reads the file.
pub fn respond(root: &Path, path: &str, headers: &HeaderMap) -> Option<Response> {
    let file = resolve(root, path)?;
    let real_root = root.canonicalize().ok()?;
    let real = file.canonicalize().ok()?;
    if !real.starts_with(&real_root) {
        return None;
    }
    let meta = std::fs::metadata(&real).ok()?;
    if !meta.is_file() {
        return None;
    }
    let bytes = std::fs::read(&real).ok()?;
    let ctype = content_type(&real);
    let modified = meta.modified().ok().map(whole_seconds);
    Some(answer(bytes, ctype, modified, headers))
}

/// Builds the response for `bytes`, honouring the conditional and encoding headers.
pub fn answer(
    bytes: Vec<u8>,
    ctype: &'static str,
    modified: Option<SystemTime>,
    req: &HeaderMap,
) -> Response {
    // The first 128 bits of the SHA-256, in hex.
    let mut tag = format!("{:x}", Sha256::digest(&bytes));
    tag.truncate(32);
    let can_gzip = compressible(ctype);
    let gzip = can_gzip && bytes.len() >= GZIP_MIN && accepts_gzip(req);
    // Each encoding is its own representation with its own strong tag (RFC 9110 8.8.3).
    let etag = if gzip {
        format!("\"{tag}-gzip\"")
    } else {
        format!("\"{tag}\"")
    };

    let mut b = Response::builder()
        .header(header::ETAG, &etag)
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(m) = modified {
        b = b.header(header::LAST_MODIFIED, httpdate::fmt_http_date(m));
    }
    if can_gzip {
        b = b.header(header::VARY, "Accept-Encoding");
    }
    if is_feed(ctype) {
        // Feeds are public; browser-based readers fetch them from other origins.
        b = b.header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    }

    if not_modified(req, &tag, modified) {
        return b
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    let b = b.header(header::CONTENT_TYPE, ctype);
    if gzip {
        b.header(header::CONTENT_ENCODING, "gzip")
            .body(Body::from(gzip_bytes(&bytes)))
            .unwrap_or_default()
    } else {
        b.body(Body::from(bytes)).unwrap_or_default()
    }
}

fn whole_seconds(t: SystemTime) -> SystemTime {
    // HTTP dates have whole seconds; compare at that precision.
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn not_modified(req: &HeaderMap, tag: &str, modified: Option<SystemTime>) -> bool {
    let inm: Vec<&str> = req
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if !inm.is_empty() {
        // Weak comparison (RFC 9110 13.1.2), and either encoding's tag names the same bytes.
        return inm.iter().flat_map(|v| v.split(',')).any(|t| {
            let t = t.trim();
            let t = t.strip_prefix("W/").unwrap_or(t);
            t == "*" || t.trim_matches('"').trim_end_matches("-gzip") == tag
        });
    }
    let ims = req
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| httpdate::parse_http_date(v).ok());
    matches!((ims, modified), (Some(since), Some(m)) if m <= since)
}

/// Whether `Accept-Encoding` allows gzip: named with q > 0, or `*` with q > 0 and gzip not
/// named at all.
pub fn accepts_gzip(req: &HeaderMap) -> bool {
    let mut star = None;
    for value in req
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match coding.as_str() {
                "gzip" | "x-gzip" => return q > 0.0,
                "*" => star = Some(q > 0.0),
                _ => {}
            }
        }
    }
    star.unwrap_or(false)
}

fn gzip_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3),
        flate2::Compression::default(),
    );
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OPML_FILE;

    fn h(r: &Response, name: header::HeaderName) -> Option<&str> {
        r.headers().get(name).and_then(|v| v.to_str().ok())
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.append(
                header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        m
    }

    #[test]
    fn feed_content_types_come_from_feed_format() {
        for f in FeedFormat::ALL {
            for dir in ["/p", "/p/tags/seo", "/p/tags/RSS.XML"] {
                let ctype = content_type(&Path::new(dir).join(f.file_name()));
                assert_eq!(ctype, f.mime_type(), "{dir} {f:?}");
                assert!(is_feed(ctype) && compressible(ctype), "{f:?}");
            }
            let upper = f.file_name().to_ascii_uppercase();
            assert_eq!(content_type(&Path::new("/p").join(upper)), f.mime_type());
        }
        let opml = content_type(&Path::new("/p").join(OPML_FILE));
        assert_eq!(opml, OPML_MIME);
        assert!(is_feed(opml) && compressible(opml));
        assert!(!is_feed(content_type(Path::new("/p/sitemap.xml"))));
        assert!(!is_feed(content_type(Path::new("/p/data.json"))));
    }

    #[test]
    fn feed_content_types() {
        assert_eq!(
            content_type(Path::new("/p/rss.xml")),
            "application/rss+xml; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("/p/tags/seo/atom.xml")),
            "application/atom+xml; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("/p/feed.json")),
            "application/feed+json; charset=utf-8"
        );
        assert_eq!(
            content_type(Path::new("/p/feeds.opml")),
            "text/x-opml; charset=utf-8"
        );
        assert_eq!(content_type(Path::new("/p/media/x.webp")), "image/webp");
        assert_eq!(
            content_type(Path::new("/p/noext")),
            "application/octet-stream"
        );
    }

    #[test]
    fn paths_stay_inside_the_root() {
        let root = Path::new("/site/public");
        assert_eq!(
            resolve(root, "/rss.xml"),
            Some(PathBuf::from("/site/public/rss.xml"))
        );
        assert_eq!(
            resolve(root, "/tags/caf%C3%A9/rss.xml"),
            Some(PathBuf::from("/site/public/tags/café/rss.xml"))
        );
        assert_eq!(
            resolve(root, "/"),
            Some(PathBuf::from("/site/public/index.html"))
        );
        assert_eq!(
            resolve(root, "/tags/"),
            Some(PathBuf::from("/site/public/tags/index.html"))
        );
        for bad in [
            "/../config/herald.yaml",
            "/%2e%2e/config/herald.yaml",
            "/tags/%2E%2E%2F%2E%2E/state/secret.key",
            "/..%5cconfig",
            "/.herald-x.tmp",
            "/a/%00/b",
            "/%zz",
            "/%C3",
            "/c:/windows",
        ] {
            assert_eq!(resolve(root, bad), None, "{bad}");
        }
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "gzip, deflate, br"
        )])));
        assert!(accepts_gzip(&headers(&[(
            "accept-encoding",
            "br;q=1.0, gzip;q=0.8"
        )])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "gzip;q=0")])));
        assert!(!accepts_gzip(&headers(&[("accept-encoding", "identity")])));
        assert!(accepts_gzip(&headers(&[("accept-encoding", "*")])));
        assert!(!accepts_gzip(&headers(&[(
            "accept-encoding",
            "*, gzip;q=0"
        )])));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn etags_and_304() {
        let bytes = b"<rss>".repeat(100);
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let ct = "application/rss+xml; charset=utf-8";
        let r = answer(bytes.clone(), ct, Some(t), &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        let etag = h(&r, header::ETAG).unwrap().to_string();
        assert_eq!(
            h(&r, header::LAST_MODIFIED),
            Some("Tue, 14 Nov 2023 22:13:20 GMT")
        );
        assert_eq!(h(&r, header::CONTENT_TYPE), Some(ct));

        let r = answer(
            bytes.clone(),
            ct,
            Some(t),
            &headers(&[("if-none-match", &etag)]),
        );
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(h(&r, header::ETAG), Some(etag.as_str()));
        let r = answer(
            bytes.clone(),
            ct,
            Some(t),
            &headers(&[("if-none-match", "\"other\", W/\"x\"")]),
        );
        assert_eq!(r.status(), StatusCode::OK);
        let r = answer(
            bytes.clone(),
            ct,
            Some(t),
            &headers(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT")]),
        );
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = answer(
            bytes.clone(),
            ct,
            Some(t),
            &headers(&[("if-modified-since", "Tue, 14 Nov 2023 22:13:19 GMT")]),
        );
        assert_eq!(r.status(), StatusCode::OK);
        // If-None-Match wins over If-Modified-Since.
        let r = answer(
            bytes.clone(),
            ct,
            Some(t),
            &headers(&[
                ("if-none-match", "\"other\""),
                ("if-modified-since", "Tue, 14 Nov 2023 22:13:20 GMT"),
            ]),
        );
        assert_eq!(r.status(), StatusCode::OK);

        let z = answer(
            bytes.clone(),
            ct,
            Some(t),
            &headers(&[("accept-encoding", "gzip")]),
        );
        assert_eq!(h(&z, header::CONTENT_ENCODING), Some("gzip"));
        let zetag = h(&z, header::ETAG).unwrap().to_string();
        assert_ne!(zetag, etag);
        let r = answer(
            bytes,
            ct,
            Some(t),
            &headers(&[("if-none-match", &zetag), ("accept-encoding", "gzip")]),
        );
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn symlinks_out_of_the_root_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("public");
        std::fs::create_dir(&root).unwrap();
        std::fs::write(dir.path().join("secret.key"), b"x").unwrap();
        std::fs::write(root.join("rss.xml"), b"<rss/>").unwrap();
        assert!(respond(&root, "/rss.xml", &HeaderMap::new()).is_some());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.key"), root.join("key")).unwrap();
            assert!(respond(&root, "/key", &HeaderMap::new()).is_none());
        }
        assert!(respond(&root, "/missing.xml", &HeaderMap::new()).is_none());
        assert!(respond(&root, "/", &HeaderMap::new()).is_none());
    }
}

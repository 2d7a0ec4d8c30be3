//! The feed formats herald writes, and every fact about each: its name in `feeds.formats`, its
//! file name, its MIME type and its label. The feed renderer, the OPML, `serve` and
//! `init --from` all ask [`FeedFormat`] rather than spell a file name, MIME type or label.

/// One feed format (`feeds.formats`). The order of the variants is the order feeds are
/// written and listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FeedFormat {
    Rss,
    Atom,
    Json,
}

/// The OPML file that lists every feed written, in `output_dir`.
pub const OPML_FILE: &str = "feeds.opml";

/// The `Content-Type` of [`OPML_FILE`] (and of any `.opml` file).
pub const OPML_MIME: &str = "text/x-opml; charset=utf-8";

impl FeedFormat {
    /// Every format, in the order of the variants.
    pub const ALL: [FeedFormat; 3] = [FeedFormat::Rss, FeedFormat::Atom, FeedFormat::Json];

    /// Its name in `feeds.formats`: `rss`, `atom`, `json`.
    pub fn config_name(self) -> &'static str {
        match self {
            FeedFormat::Rss => "rss",
            FeedFormat::Atom => "atom",
            FeedFormat::Json => "json",
        }
    }

    /// The file it is written to, in `output_dir` and in each `tags/<slug>/`.
    pub fn file_name(self) -> &'static str {
        match self {
            FeedFormat::Rss => "rss.xml",
            FeedFormat::Atom => "atom.xml",
            FeedFormat::Json => "feed.json",
        }
    }

    /// Its media type alone, as a feed's `rel="self"` link names it.
    pub fn media_type(self) -> &'static str {
        match self {
            FeedFormat::Rss => "application/rss+xml",
            FeedFormat::Atom => "application/atom+xml",
            FeedFormat::Json => "application/feed+json",
        }
    }

    /// The `Content-Type` `serve` sends it with: [`FeedFormat::media_type`] in UTF-8.
    pub fn mime_type(self) -> &'static str {
        match self {
            FeedFormat::Rss => "application/rss+xml; charset=utf-8",
            FeedFormat::Atom => "application/atom+xml; charset=utf-8",
            FeedFormat::Json => "application/feed+json; charset=utf-8",
        }
    }

    /// How people call it: the OPML's outline text and `serve`'s index page.
    pub fn label(self) -> &'static str {
        match self {
            FeedFormat::Rss => "RSS",
            FeedFormat::Atom => "Atom",
            FeedFormat::Json => "JSON Feed",
        }
    }

    /// The format named `name` in `feeds.formats`.
    pub fn from_config_name(name: &str) -> Option<FeedFormat> {
        FeedFormat::ALL
            .into_iter()
            .find(|f| f.config_name() == name)
    }

    /// The format whose file is named `name` (exactly, as herald writes it).
    pub fn from_file_name(name: &str) -> Option<FeedFormat> {
        FeedFormat::ALL.into_iter().find(|f| f.file_name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_round_trips_through_its_names() {
        for f in FeedFormat::ALL {
            assert_eq!(FeedFormat::from_file_name(f.file_name()), Some(f));
            assert_eq!(FeedFormat::from_config_name(f.config_name()), Some(f));
        }
        assert_eq!(FeedFormat::from_file_name(OPML_FILE), None);
        assert_eq!(FeedFormat::from_file_name("RSS.XML"), None);
        assert_eq!(FeedFormat::from_config_name("xml"), None);
    }

    #[test]
    fn each_format_has_its_own_file_mime_and_label() {
        let facts: Vec<_> = FeedFormat::ALL
            .iter()
            .map(|f| (f.config_name(), f.file_name(), f.mime_type(), f.label()))
            .collect();
        assert_eq!(
            facts,
            [
                (
                    "rss",
                    "rss.xml",
                    "application/rss+xml; charset=utf-8",
                    "RSS"
                ),
                (
                    "atom",
                    "atom.xml",
                    "application/atom+xml; charset=utf-8",
                    "Atom"
                ),
                (
                    "json",
                    "feed.json",
                    "application/feed+json; charset=utf-8",
                    "JSON Feed"
                ),
            ]
        );
        for f in FeedFormat::ALL {
            assert_eq!(f.mime_type(), format!("{}; charset=utf-8", f.media_type()));
        }
        // ALL is in the variants' order: `feeds.formats` is sorted by it.
        let mut sorted = FeedFormat::ALL;
        sorted.sort();
        assert_eq!(sorted, FeedFormat::ALL);
    }
}

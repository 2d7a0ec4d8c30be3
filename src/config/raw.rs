//! The configuration file as typed: serde types that mirror `config/herald.yaml` key for key.
//! Every struct denies unknown keys; defaults are applied when the raw form becomes a `Config`.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub site: RawSite,
    /// `content_dir`, default `content/posts`.
    pub content_dir: Option<String>,
    /// `templates_dir`, default `templates`.
    pub templates_dir: Option<String>,
    /// `output_dir`, default `public`.
    pub output_dir: Option<String>,
    /// `state_dir`, default `state`.
    pub state_dir: Option<String>,
    pub content: Option<RawContent>,
    pub render: Option<RawRender>,
    pub feeds: Option<RawFeeds>,
    pub newsletter: Option<RawNewsletter>,
    pub smtp: Option<RawSmtp>,
    pub serve: Option<RawServe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    /// `site.title`, required.
    pub title: String,
    /// `site.base_url`, required, absolute: `https://leadcraftr.com/`.
    pub base_url: String,
    /// `site.description`, default empty.
    pub description: Option<String>,
    /// `site.language`, default `en`.
    pub language: Option<String>,
    /// `site.timezone`, an IANA name, default `UTC`.
    pub timezone: Option<String>,
    /// `site.permalink`, default `/posts/{slug}/`.
    pub permalink: Option<String>,
    /// `site.author`, default `{ name: <site.title> }`.
    pub author: Option<RawPerson>,
    /// `site.generator`: `herald` (default), `hugo`, `jekyll`, `zola` or `eleventy`.
    pub generator: Option<String>,
    /// `site.permalinks`: Hugo's `[permalinks]` table, section -> pattern.
    pub permalinks: Option<std::collections::BTreeMap<String, String>>,
    /// `site.ugly_urls`: Hugo's `uglyURLs`, default `false`.
    pub ugly_urls: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawContent {
    /// `content.root`: the generator's content root; default per generator.
    pub root: Option<String>,
    /// `content.fields`: herald's name -> the front matter's name.
    pub fields: Option<std::collections::BTreeMap<String, String>>,
    /// `content.summary_divider`: the text that ends a post's summary.
    pub summary_divider: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerson {
    pub name: String,
    pub email: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRender {
    /// `render.unsafe_html`, default `false`.
    pub unsafe_html: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFeeds {
    /// `feeds.formats`, default `[rss, atom, json]`.
    pub formats: Option<Vec<String>>,
    /// `feeds.limit`, default `20`; `0` means all.
    pub limit: Option<usize>,
    /// `feeds.full_content`, default `true`.
    pub full_content: Option<bool>,
    /// `feeds.per_tag`, default `true`.
    pub per_tag: Option<bool>,
    /// `feeds.exclude_tags`, default none: tags that get no feed of their own.
    pub exclude_tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNewsletter {
    /// `newsletter.start`, required: posts dated before it are never mailed.
    pub start: String,
    /// `newsletter.from`, required.
    pub from: RawMailbox,
    /// `newsletter.reply_to`, optional.
    pub reply_to: Option<String>,
    /// `newsletter.subject`, default `{{post.title}}`.
    pub subject: Option<String>,
    /// `newsletter.transport`, `outbox` (default) or `smtp`.
    pub transport: Option<String>,
    /// `newsletter.outbox_dir`, default `outbox`.
    pub outbox_dir: Option<String>,
    /// `newsletter.retry_days`, default `3`.
    pub retry_days: Option<u32>,
    /// `newsletter.max_lateness`, default `7d`: a post first mailable later than this after its
    /// date is not mailed.
    pub max_lateness: Option<String>,
    /// `newsletter.welcome`, default `true`: a welcome mail after a confirmed sign-up.
    pub welcome: Option<bool>,
    /// `newsletter.dkim`, optional: sign every message with this key.
    pub dkim: Option<RawDkim>,
    /// `newsletter.lists`, at least one.
    pub lists: Vec<RawList>,
    /// `newsletter.return_path`: the envelope sender, `local+TOKEN@domain` per message.
    pub return_path: Option<String>,
    /// `newsletter.soft_bounce_limit`, default 3.
    pub soft_bounce_limit: Option<u32>,
    /// `newsletter.bounces`: where returned mail is read.
    pub bounces: Option<super::bounces::RawBounces>,
}

/// `newsletter.dkim`: all three keys required.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDkim {
    /// The signing domain, `d=`.
    pub domain: String,
    /// The selector, `s=`: the key's record is at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// The PEM private key, relative to the site root.
    pub private_key_file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMailbox {
    pub name: Option<String>,
    pub email: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawList {
    pub id: String,
    pub name: Option<String>,
    pub tags: Vec<String>,
    pub subscribers: Option<String>,
    /// A digest list: one mail per slot instead of one per post.
    pub digest: Option<RawDigest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDigest {
    /// `day`, `week` or `month`.
    pub every: String,
    /// For `every: week`, default `mon`.
    pub weekday: Option<String>,
    /// For `every: month`, default `1`.
    pub day: Option<u32>,
    /// `HH:MM` in `site.timezone`, default `08:00`.
    pub at: Option<String>,
    /// Whole posts instead of summaries, default `false`.
    pub full_content: Option<bool>,
    /// A handlebars template, default `{{list.name}}: {{count}} new posts`.
    pub subject: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmtp {
    pub host: String,
    /// `smtp.port`, default 587 (465 with `security: tls`).
    pub port: Option<u16>,
    /// `smtp.security`: `starttls` (default), `tls` or `none`.
    pub security: Option<String>,
    pub username: Option<String>,
    /// `smtp.password_env`, default `HERALD_SMTP_PASSWORD`.
    pub password_env: Option<String>,
    /// `smtp.concurrency`, default 4.
    pub concurrency: Option<usize>,
    /// `smtp.rate_per_second`, default 0 (no limit).
    pub rate_per_second: Option<f64>,
    /// `smtp.timeout_secs`, default 30.
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServe {
    /// `serve.listen`, default `127.0.0.1:8080`.
    pub listen: Option<String>,
    /// `serve.public_url`, default `http://127.0.0.1:8080/`.
    pub public_url: Option<String>,
    /// `serve.confirm_ttl_hours`, default 48.
    pub confirm_ttl_hours: Option<u64>,
    /// `serve.subscribe_per_hour`, default 5.
    pub subscribe_per_hour: Option<u32>,
    /// `serve.trust_proxy`, default false.
    pub trust_proxy: Option<bool>,
}

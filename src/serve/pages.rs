//! The pages a visitor sees, all from `templates/page.html.hbs`, the confirmation mail from
//! `templates/confirm.{html,txt}.hbs` and the welcome mail from `templates/welcome.{html,txt}.hbs`.
//!
//! The code decides what a page says (`title`, `paragraphs`) and hands the template the
//! structured parts too (`kind`, `email`, `lists`, `form`, `preferences`, `button`), so an owner's template
//! can reword or translate a page by its `kind`. Everything a visitor typed reaches the
//! template as data and is escaped by handlebars (`{{x}}`), never pasted into HTML here.

use std::time::SystemTime;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Inner;
use crate::config::{List, Newsletter, one_line};
use crate::error::{Error, Result, join_names};
use crate::newsletter::render::{Sender, SiteData, alternative, header, inline_css, mailbox};
use crate::state::subscribers::{Profile, SignUp};
use crate::transport::Envelope;

/// The name of the hidden field only bots fill in.
pub const HONEYPOT: &str = "website";

/// Everything `page.html.hbs` gets besides `site`.
#[derive(Debug, Default, Serialize)]
pub struct Page {
    /// Which page: `subscribe`, `sent`, `confirm`, `confirmed`, `unsubscribe`,
    /// `unsubscribed`, `preferences`, `index`, `error`.
    pub kind: &'static str,
    /// For errors: `bad-link`, `expired`, `used`, `invalid`, `too-many`, `too-large`,
    /// `not-found`, `no-newsletter`, `method`, `unavailable`, `internal`.
    pub error: Option<&'static str>,
    /// `info`, `success` or `error`: the page's accent.
    pub tone: &'static str,
    pub title: String,
    pub paragraphs: Vec<String>,
    /// The address the page is about, as typed or as in the token.
    pub email: Option<String>,
    /// The lists the page is about.
    pub lists: Vec<ListView>,
    pub form: Option<SignupForm>,
    pub preferences: Option<PreferencesForm>,
    pub button: Option<Button>,
    /// Small print under the form or button.
    pub note: Option<String>,
    pub links: Vec<Link>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListView {
    pub id: String,
    pub name: String,
    /// How often it mails: `every post`, or its digest's schedule (`weekly on Monday at 08:00`).
    pub schedule: String,
}

/// How often `list` mails, in words.
pub fn schedule(list: &List) -> String {
    list.digest
        .as_ref()
        .map_or_else(|| "every post".to_string(), |d| d.describe())
}

/// The sign-up form, with what the visitor typed when it comes back with an error.
#[derive(Debug, Default, Serialize)]
pub struct SignupForm {
    pub action: &'static str,
    pub email: String,
    pub name: String,
    pub lists: Vec<ListChoice>,
    /// More than one list: show checkboxes; with one, the list is named in the text.
    pub choose: bool,
    pub error: Option<String>,
    /// The error concerns the address field (for `aria-invalid`).
    pub email_invalid: bool,
    pub honeypot: &'static str,
}

#[derive(Debug, Serialize)]
pub struct ListChoice {
    pub id: String,
    pub name: String,
    pub schedule: String,
    pub checked: bool,
}

/// Every list of the newsletter with its schedule, ticked where its id is in `checked`.
fn list_choices(n: &Newsletter, checked: &[String]) -> Vec<ListChoice> {
    n.lists
        .iter()
        .map(|l| ListChoice {
            id: l.id.clone(),
            name: l.name.clone(),
            schedule: schedule(l),
            checked: checked.contains(&l.id),
        })
        .collect()
}

/// The preferences form: the person's name and every list, ticked where they get it. The
/// token rides in a hidden field: it is the proof, so no cookie is needed.
#[derive(Debug, Serialize)]
pub struct PreferencesForm {
    pub action: &'static str,
    pub token: String,
    pub name: String,
    pub lists: Vec<ListChoice>,
    /// After a save: what was saved, shown as a status message.
    pub saved: Option<String>,
}

/// A one-button form carrying a token.
#[derive(Debug, Serialize)]
pub struct Button {
    pub action: &'static str,
    pub token: String,
    pub label: String,
}

#[derive(Debug, Serialize)]
pub struct Link {
    pub href: String,
    pub text: String,
}

#[derive(Serialize)]
struct PageData<'a> {
    site: &'a SiteData,
    #[serde(flatten)]
    page: &'a Page,
}

/// Renders `page` with `status`. A broken owner template falls back to a plain built-in page
/// (and the log says why), so a visitor always gets an answer.
pub fn render(inner: &Inner, status: StatusCode, page: &Page) -> Response {
    let html = match inner.templates.render(
        "page.html.hbs",
        &PageData {
            site: &inner.site,
            page,
        },
    ) {
        Ok(html) => html,
        Err(e) => {
            (inner.log)(&format!("templates/page.html.hbs: {e}"));
            fallback(&inner.site, page)
        }
    };
    html_response(status, html)
}

/// Security headers for every page: nothing runs, nothing frames it (the one-button pages
/// must not be clickjacked), and the token in the address bar never leaves in a `Referer`.
pub fn html_response(status: StatusCode, html: String) -> Response {
    let mut r = Response::new(Body::from(html));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn fallback(site: &SiteData, page: &Page) -> String {
    let esc = handlebars::html_escape;
    let paragraphs: String = page
        .paragraphs
        .iter()
        .map(|p| format!("<p>{}</p>\n", esc(p)))
        .collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{} · {}</title></head>\n<body><main><h1>{}</h1>\n{paragraphs}</main></body></html>\n",
        esc(&site.language),
        esc(&page.title),
        esc(&site.title),
        esc(&page.title),
    )
}

fn views(lists: &[&List]) -> Vec<ListView> {
    lists
        .iter()
        .map(|l| ListView {
            id: l.id.clone(),
            name: l.name.clone(),
            schedule: schedule(l),
        })
        .collect()
}

/// The lists of `ids` that the config knows, in config order.
pub fn known_lists<'a>(n: &'a Newsletter, ids: &[impl AsRef<str>]) -> Vec<&'a List> {
    n.lists
        .iter()
        .filter(|l| ids.iter().any(|id| id.as_ref() == l.id))
        .collect()
}

/// The lists a sign-up asks for: the known ones among `asked`, or the first list when it asks
/// for none (a bare form on the owner's blog that sends just an address).
pub fn chosen_lists<'a>(n: &'a Newsletter, asked: &[&str]) -> Vec<&'a List> {
    if asked.is_empty() {
        n.lists.iter().take(1).collect()
    } else {
        known_lists(n, asked)
    }
}

fn back_to_site(site: &SiteData) -> Link {
    Link {
        href: site.url.clone(),
        text: format!("Back to {}", site.title),
    }
}

/// The sign-up form. `checked` are the list ids ticked; `error` a message shown above it.
pub fn subscribe_form(
    site: &SiteData,
    n: &Newsletter,
    email: &str,
    name: &str,
    checked: &[String],
    error: Option<(String, bool)>,
) -> Page {
    let choose = n.lists.len() > 1;
    let lists = list_choices(n, checked);
    let intro = if choose {
        format!(
            "New posts from {} by email. Choose what you want to receive; you can unsubscribe from any mail with one click.",
            site.title
        )
    } else {
        let name = n.lists.first().map(|l| l.name.as_str()).unwrap_or("");
        format!("Get “{name}” by email. You can unsubscribe from any mail with one click.")
    };
    let (error, email_invalid) = match error {
        Some((message, on_email)) => (Some(message), on_email),
        None => (None, false),
    };
    Page {
        kind: "subscribe",
        tone: if error.is_some() { "error" } else { "info" },
        title: "Subscribe".into(),
        paragraphs: vec![intro],
        form: Some(SignupForm {
            action: "subscribe",
            email: email.to_string(),
            name: name.to_string(),
            lists,
            choose,
            error,
            email_invalid,
            honeypot: HONEYPOT,
        }),
        note: Some(
            "We will mail you a link to confirm. Nothing else is sent until you click it.".into(),
        ),
        links: vec![back_to_site(site)],
        ..Page::default()
    }
}

/// "Check your inbox": the same page whatever the address's state (no enumeration).
pub fn sent(email: &str, ttl_hours: u64) -> Page {
    Page {
        kind: "sent",
        tone: "success",
        title: "Check your inbox".into(),
        paragraphs: vec![
            format!("We sent a confirmation link to {email}."),
            format!(
                "Open it within {ttl_hours} hours to start your subscription. Nothing arrives? Look in the spam folder, or sign up again."
            ),
        ],
        email: Some(email.to_string()),
        links: vec![Link {
            href: "subscribe".into(),
            text: "Use another address".into(),
        }],
        ..Page::default()
    }
}

pub fn confirm(site: &SiteData, c: &SignUp, lists: &[&List], token: &str) -> Page {
    Page {
        kind: "confirm",
        tone: "info",
        title: "Confirm your subscription".into(),
        paragraphs: vec![format!("Send these from {} to {}:", site.title, c.email)],
        email: Some(c.email.clone()),
        lists: views(lists),
        button: Some(Button {
            action: "confirm",
            token: token.to_string(),
            label: "Yes, subscribe me".into(),
        }),
        note: Some(
            "Not you? Just close this page: nothing happens until the button is clicked.".into(),
        ),
        ..Page::default()
    }
}

pub fn confirmed(site: &SiteData, c: &SignUp, lists: &[&List]) -> Page {
    let names: Vec<&str> = lists.iter().map(|l| l.name.as_str()).collect();
    Page {
        kind: "confirmed",
        tone: "success",
        title: "You’re subscribed".into(),
        paragraphs: vec![
            format!(
                "{} will receive {} from now on.",
                c.email,
                join_names(&names)
            ),
            "Every mail has a link to unsubscribe with one click.".into(),
        ],
        email: Some(c.email.clone()),
        lists: views(lists),
        links: vec![back_to_site(site)],
        ..Page::default()
    }
}

pub fn unsubscribe(site: &SiteData, email: &str, lists: &[ListView], token: &str) -> Page {
    let question = if lists.is_empty() {
        format!("Stop sending any mail from {} to {email}?", site.title)
    } else {
        format!("Stop sending these from {} to {email}:", site.title)
    };
    Page {
        kind: "unsubscribe",
        tone: "info",
        title: "Unsubscribe".into(),
        paragraphs: vec![question],
        note: Some("Changed your mind? Just close this page: you stay subscribed.".into()),
        email: Some(email.to_string()),
        lists: lists.to_vec(),
        button: Some(Button {
            action: "unsubscribe",
            token: token.to_string(),
            label: "Unsubscribe".into(),
        }),
        ..Page::default()
    }
}

pub fn unsubscribed(site: &SiteData, email: &str, lists: &[ListView]) -> Page {
    Page {
        kind: "unsubscribed",
        tone: "success",
        title: "You’re unsubscribed".into(),
        paragraphs: vec![format!("{email} will no longer receive {}.", what(lists))],
        email: Some(email.to_string()),
        lists: lists.to_vec(),
        links: vec![
            Link {
                href: "subscribe".into(),
                text: "Changed your mind? Subscribe again".into(),
            },
            back_to_site(site),
        ],
        ..Page::default()
    }
}

fn what(lists: &[ListView]) -> String {
    if lists.is_empty() {
        return "any of our lists".into();
    }
    let names: Vec<&str> = lists.iter().map(|l| l.name.as_str()).collect();
    join_names(&names)
}

/// What a save on the preferences page did, for its status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saved {
    /// The form was saved: name and lists.
    Choices,
    /// "Leave everything".
    LeftAll,
}

/// The preferences page of `p` (`GET` and the answer to each `POST /preferences`).
pub fn preferences(
    site: &SiteData,
    n: &Newsletter,
    p: &Profile,
    token: &str,
    saved: Option<Saved>,
) -> Page {
    let gets: Vec<&List> = n.lists.iter().filter(|l| p.lists.contains(&l.id)).collect();
    let names: Vec<&str> = gets.iter().map(|l| l.name.as_str()).collect();
    let saved = saved.map(|s| match (s, names.is_empty()) {
        (Saved::LeftAll, _) => format!(
            "You left every list: {} gets no more mail from {}. Changed your mind? Tick a list and save.",
            p.email, site.title
        ),
        (Saved::Choices, true) => format!(
            "Saved. {} gets no more mail from {}.",
            p.email, site.title
        ),
        (Saved::Choices, false) => {
            format!("Saved. {} gets {}.", p.email, join_names(&names))
        }
    });
    Page {
        kind: "preferences",
        tone: if saved.is_some() { "success" } else { "info" },
        title: "Your subscription".into(),
        paragraphs: vec![format!(
            "Choose what {} sends to {}. Changes apply from the next mail.",
            site.title, p.email
        )],
        email: Some(p.email.clone()),
        lists: views(&gets),
        preferences: Some(PreferencesForm {
            action: "preferences",
            token: token.to_string(),
            name: p.name.clone(),
            lists: list_choices(n, &p.lists),
            saved,
        }),
        note: Some(
            "Leaving works like the unsubscribe link in every mail; you can come back here and tick a list at any time."
                .into(),
        ),
        links: vec![back_to_site(site)],
        ..Page::default()
    }
}

/// `GET /` when `output_dir` has no `index.html`: the feeds there, and the sign-up link.
pub fn index(site: &SiteData, feeds: Vec<Link>, newsletter: bool) -> Page {
    let mut paragraphs = vec![];
    if feeds.is_empty() {
        paragraphs.push("No feeds yet: run `herald build` or `herald publish`.".into());
    } else {
        paragraphs.push("Follow this site in your feed reader:".into());
    }
    let mut links = feeds;
    if newsletter {
        links.push(Link {
            href: "subscribe".into(),
            text: "Subscribe by email".into(),
        });
    }
    Page {
        kind: "index",
        tone: "info",
        title: site.title.clone(),
        paragraphs,
        links,
        ..Page::default()
    }
}

/// An error page.
pub fn error(code: &'static str, title: &str, paragraphs: Vec<String>, links: Vec<Link>) -> Page {
    Page {
        kind: "error",
        error: Some(code),
        tone: "error",
        title: title.into(),
        paragraphs,
        links,
        ..Page::default()
    }
}

/// Data for `confirm.{html,txt}.hbs`.
#[derive(Serialize)]
struct ConfirmMail<'a> {
    site: &'a SiteData,
    email: &'a str,
    name: &'a str,
    lists: Vec<ListView>,
    lists_text: String,
    confirm_url: &'a str,
    ttl_hours: u64,
    /// `25 November 2026, 08:30 UTC`.
    expires: String,
}

/// The confirmation mail for `c`: the envelope and the raw message.
pub fn confirmation_mail(
    inner: &Inner,
    n: &Newsletter,
    c: &SignUp,
    lists: &[&List],
    url: &str,
    now: DateTime<Utc>,
) -> Result<(Envelope, Vec<u8>)> {
    let names: Vec<&str> = lists.iter().map(|l| l.name.as_str()).collect();
    let name = one_line(&c.name);
    let expires = DateTime::<Utc>::from_timestamp(c.expires, 0).unwrap_or(now);
    let data = ConfirmMail {
        site: &inner.site,
        email: &c.email,
        name: &name,
        lists: views(lists),
        lists_text: join_names(&names),
        confirm_url: url,
        ttl_hours: inner.config.serve.confirm_ttl_hours,
        expires: expires.format("%-d %B %Y, %H:%M UTC").to_string(),
    };
    let subject = format!("Confirm your subscription to {}", inner.site.title);
    service_mail(
        inner,
        n,
        "confirm",
        &data,
        (&name, &c.email),
        &subject,
        &[],
        now,
    )
}

/// A mail of `serve`'s own to `to` (name, address), from the `kind.html.hbs` and
/// `kind.txt.hbs` templates with `data`, marked `Auto-Submitted` (RFC 3834: no vacation
/// replies) and with `headers` added: the envelope and the raw message.
#[allow(clippy::too_many_arguments)]
fn service_mail<T: Serialize>(
    inner: &Inner,
    n: &Newsletter,
    kind: &str,
    data: &T,
    to: (&str, &str),
    subject: &str,
    headers: &[lettre::message::header::HeaderValue],
    now: DateTime<Utc>,
) -> Result<(Envelope, Vec<u8>)> {
    let html = inline_css(&inner.templates.render(&format!("{kind}.html.hbs"), data)?)?;
    let text = inner.templates.render(&format!("{kind}.txt.hbs"), data)?;
    let sender = Sender::new(n)?;
    let id = format!(
        "<{kind}.{}@{}>",
        crate::state::tokens::nonce(),
        sender.domain()
    );
    let mut msg = sender
        .message(
            mailbox(to.0, to.1)?,
            one_line(subject),
            SystemTime::from(now),
            id,
        )
        .raw_header(header("Auto-Submitted", "auto-generated".into()));
    for h in headers {
        msg = msg.raw_header(h.clone());
    }
    let msg = msg
        .multipart(alternative(text, html))
        .map_err(|e| Error::msg(format!("building the {kind} mail: {e}")))?;
    Ok((sender.envelope(to.1), sender.formatted(msg)))
}

/// Data for `welcome.{html,txt}.hbs`.
#[derive(Serialize)]
struct WelcomeMail<'a> {
    site: &'a SiteData,
    email: &'a str,
    name: &'a str,
    lists: Vec<ListView>,
    lists_text: String,
    preferences_url: &'a str,
    unsubscribe_url: &'a str,
}

/// The links of a welcome mail: the subscriber's preferences page, and the unsubscribe link
/// for the lists just joined (also its `List-Unsubscribe` header).
pub struct WelcomeLinks<'a> {
    pub preferences: &'a str,
    pub unsubscribe: &'a str,
}

/// The welcome mail after a confirmed sign-up to `lists`: the envelope and the raw message.
pub fn welcome_mail(
    inner: &Inner,
    n: &Newsletter,
    to: &Profile,
    lists: &[&List],
    links: &WelcomeLinks<'_>,
    now: DateTime<Utc>,
) -> Result<(Envelope, Vec<u8>)> {
    let names: Vec<&str> = lists.iter().map(|l| l.name.as_str()).collect();
    let name = one_line(&to.name);
    let data = WelcomeMail {
        site: &inner.site,
        email: &to.email,
        name: &name,
        lists: views(lists),
        lists_text: join_names(&names),
        preferences_url: links.preferences,
        unsubscribe_url: links.unsubscribe,
    };
    let subject = format!("Welcome to {}", inner.site.title);
    // As post mail: mail clients show an unsubscribe button, RFC 8058 one-click.
    let headers = [
        header("List-Unsubscribe", format!("<{}>", links.unsubscribe)),
        header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".into()),
    ];
    service_mail(
        inner,
        n,
        "welcome",
        &data,
        (&name, &to.email),
        &subject,
        &headers,
        now,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_page_escapes() {
        let site = SiteData {
            title: "<T>".into(),
            url: "/".into(),
            description: String::new(),
            language: "en".into(),
        };
        let page = error(
            "bad-link",
            "x",
            vec!["<script>alert(1)</script>".into()],
            vec![],
        );
        let html = fallback(&site, &page);
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}

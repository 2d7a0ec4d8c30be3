//! The routes of the README's "The web endpoint", the one app error type, and the middleware that
//! writes the log line and renders error pages.
//!
//! - A visitor's mistake (a bad address, an expired link) is an ordinary page with a 4xx status
//!   and no log line beyond the request's own.
//! - Our failure (database, mail server) is an [`AppError`] with a generic page; its cause goes
//!   to the log line of that request.
//! - The log line has the method, the path without the query string (tokens travel in query
//!   strings and bodies, so they are never logged), the status and the time taken, and, for a
//!   request that succeeded with a side effect that did not (a welcome mail not sent), why.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State as Axum};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, TimeDelta, Utc};
use tower_http::limit::RequestBodyLimitLayer;

use super::forms::Fields;
use super::pages::{self, Link, ListView, Page};
use super::rate_limit::client_ip;
use super::{BODY_LIMIT, Inner, State, files};
use crate::config::{FeedFormat, List, Newsletter, OPML_FILE, one_line};
use crate::error::Error;
use crate::newsletter::links;
use crate::state::Db;
use crate::state::subscribers::{Profile, SignUp};
use crate::state::tokens::{self, ConfirmLink};
use crate::transport::Failure;

/// Names longer than this are cut (a name is for "Hi Ann", not for an essay).
const NAME_MAX: usize = 100;

/// Longest address accepted (RFC 5321 4.5.3.1.3: a path is at most 256 octets with `<>`).
const EMAIL_MAX: usize = 254;

pub fn router(state: State) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/subscribe", get(subscribe_form).post(subscribe))
        .route("/confirm", get(confirm_page).post(confirm))
        .route("/unsubscribe", get(unsubscribe_page).post(unsubscribe))
        .route("/preferences", get(preferences_page).post(preferences))
        .fallback(files_or_index)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(state.clone(), finish))
        .with_state(state)
}

/// Everything that can go wrong in a request that is not the visitor's doing, plus the few
/// answers that are the same page wherever they happen.
#[derive(Debug)]
pub enum AppError {
    /// The site has no `newsletter:` section: 404.
    NoNewsletter,
    /// More sign-ups from this client than `subscribe_per_hour`: 429.
    TooMany { retry_after: u64 },
    /// The confirmation mail could not be sent right now (4xx, timeout): 503, logged.
    Unavailable(String),
    /// Our failure: 500, logged.
    Internal(Error),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Internal(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::NoNewsletter => StatusCode::NOT_FOUND,
            AppError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let mut r = status.into_response();
        if let AppError::TooMany { retry_after } = &self {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        // Rendered (and logged) by `finish`, which has the state.
        r.extensions_mut().insert(Arc::new(self));
        r
    }
}

type Answer = Result<Response, AppError>;

/// What went wrong after a request succeeded (a welcome mail not sent): appended to its log
/// line by `finish`, never shown to the visitor.
#[derive(Debug, Clone)]
struct Note(String);

/// The outermost layer: renders error pages, writes the one log line of each request.
async fn finish(Axum(state): Axum<State>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let mut response = next.run(req).await;
    let mut cause = response.extensions_mut().remove::<Note>().map(|n| n.0);
    if let Some(err) = response.extensions_mut().remove::<Arc<AppError>>() {
        let (page, why) = error_page(&state.inner, &err);
        cause = why;
        response = replace_body(response, pages::render(&state.inner, StatusCode::OK, &page));
    } else if (response.status().is_client_error() || response.status().is_server_error())
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .is_none_or(|ct| ct.as_bytes().starts_with(b"text/plain"))
        && method != Method::HEAD
    {
        // axum's own answers (405, 413, a body that is not a form): a page, not a bare line.
        let page = status_page(response.status());
        response = replace_body(response, pages::render(&state.inner, StatusCode::OK, &page));
    }
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut line = format!("{method} {path} {} {ms:.1}ms", response.status().as_u16());
    if let Some(why) = cause {
        line.push_str(": ");
        line.push_str(&one_line(&why));
    }
    (state.inner.log)(&line);
    response
}

/// `page`'s body and headers with the status and extra headers (`Allow`, `Retry-After`) of
/// `original`.
fn replace_body(original: Response, page: Response) -> Response {
    let (parts, _) = original.into_parts();
    let (page_parts, body) = page.into_parts();
    let mut r = Response::from_parts(parts, body);
    r.headers_mut().remove(header::CONTENT_LENGTH);
    for (k, v) in page_parts.headers.iter() {
        r.headers_mut().insert(k, v.clone());
    }
    r
}

fn error_page(inner: &Inner, err: &AppError) -> (Page, Option<String>) {
    let retry = || {
        vec![Link {
            href: "subscribe".into(),
            text: "Back to the sign-up form".into(),
        }]
    };
    match err {
        AppError::NoNewsletter => (
            pages::error(
                "no-newsletter",
                "No newsletter here",
                vec![format!("{} has no newsletter to subscribe to; follow its feeds instead.", inner.site.title)],
                vec![Link { href: inner.site.url.clone(), text: format!("Back to {}", inner.site.title) }],
            ),
            None,
        ),
        AppError::TooMany { retry_after } => {
            let minutes = retry_after.div_ceil(60);
            let when = if minutes <= 1 { "a minute".to_string() } else { format!("{minutes} minutes") };
            (
                pages::error(
                    "too-many",
                    "Too many sign-ups",
                    vec![format!("There were too many sign-ups from your network in the last hour. Please try again in {when}.")],
                    vec![],
                ),
                None,
            )
        }
        AppError::Unavailable(why) => (
            pages::error(
                "unavailable",
                "Please try again in a few minutes",
                vec!["We could not send the confirmation mail just now. Nothing was lost: please try again in a few minutes.".into()],
                retry(),
            ),
            Some(why.clone()),
        ),
        AppError::Internal(e) => (
            pages::error(
                "internal",
                "Something went wrong",
                vec!["Something went wrong on our side. Please try again later.".into()],
                vec![],
            ),
            Some(e.to_string()),
        ),
    }
}

fn status_page(status: StatusCode) -> Page {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => pages::error(
            "too-large",
            "That was too much",
            vec![format!(
                "The form sent more than {} KiB, which no sign-up needs.",
                BODY_LIMIT / 1024
            )],
            vec![],
        ),
        StatusCode::METHOD_NOT_ALLOWED => pages::error(
            "method",
            "Not allowed",
            vec!["This address does not take that kind of request.".into()],
            vec![],
        ),
        StatusCode::NOT_FOUND => not_found(),
        s => pages::error(
            "invalid",
            s.canonical_reason().unwrap_or("Bad request"),
            vec!["The request could not be understood.".into()],
            vec![],
        ),
    }
}

fn not_found() -> Page {
    pages::error(
        "not-found",
        "Not found",
        vec!["There is nothing at this address.".into()],
        vec![],
    )
}

impl State {
    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    fn newsletter(&self) -> Result<&Newsletter, AppError> {
        self.inner
            .config
            .newsletter
            .as_ref()
            .ok_or(AppError::NoNewsletter)
    }

    fn page(&self, status: StatusCode, page: &Page) -> Response {
        pages::render(&self.inner, status, page)
    }

    /// Runs `f` with serve's database connection on a blocking thread.
    async fn db<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Db) -> crate::error::Result<T> + Send + 'static,
    ) -> Result<T, AppError> {
        let inner = self.inner.clone();
        let joined = tokio::task::spawn_blocking(move || {
            // A request that panicked mid-transaction rolled it back (the guard's drop):
            // the connection is still sound.
            let db = inner.db.lock().unwrap_or_else(|p| p.into_inner());
            f(&db)
        })
        .await;
        match joined {
            Ok(r) => r.map_err(AppError::Internal),
            Err(e) => Err(AppError::Internal(Error::msg(format!(
                "database task failed: {e}"
            )))),
        }
    }
}

async fn healthz() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "ok\n",
    )
        .into_response()
}

/// `GET /subscribe[?list=ID...]`: the form; `list` preselects lists (for links from a tag
/// page), otherwise the first list is ticked.
async fn subscribe_form(Axum(state): Axum<State>, req: Request) -> Answer {
    let n = state.newsletter()?;
    let query = Fields::query(req.uri());
    let mut lists = pages::known_lists(n, &query.all("list"));
    if lists.is_empty() {
        lists.extend(n.lists.first());
    }
    let checked: Vec<String> = lists.iter().map(|l| l.id.clone()).collect();
    let email = query.get("email").map(one_line).unwrap_or_default();
    let page = pages::subscribe_form(&state.inner.site, n, &email, "", &checked, None);
    Ok(state.page(StatusCode::OK, &page))
}

/// Reads a request body (at most [`BODY_LIMIT`]) as form fields.
async fn form(req: Request) -> Result<(Fields, Fields), Response> {
    let (parts, body) = req.into_parts();
    let query = Fields::query(&parts.uri);
    let bytes: Bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return Err(StatusCode::PAYLOAD_TOO_LARGE.into_response()),
    };
    let ct = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    Ok((Fields::body(ct, &bytes), query))
}

fn peer(req: &Request) -> Option<SocketAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0)
}

/// `POST /subscribe`: validate, remember the sign-up as pending, mail a confirmation link.
async fn subscribe(Axum(state): Axum<State>, req: Request) -> Answer {
    let n = state.newsletter()?;
    let now = state.now();
    let client = client_ip(
        peer(&req),
        req.headers(),
        state.inner.config.serve.trust_proxy,
    );
    // Every attempt counts, valid or not: the limit is on what one client may try.
    state
        .inner
        .limiter
        .attempt(client, now.timestamp())
        .map_err(|retry_after| AppError::TooMany { retry_after })?;
    let (fields, _) = match form(req).await {
        Ok(f) => f,
        Err(r) => return Ok(r),
    };

    let email = fields.get("email").unwrap_or("").trim().to_string();
    let name: String = one_line(fields.get("name").unwrap_or(""))
        .chars()
        .take(NAME_MAX)
        .collect();
    let ttl = state.inner.config.serve.confirm_ttl_hours;

    // A bot filled the field people never see: the same answer, nothing stored or sent.
    if fields
        .get(pages::HONEYPOT)
        .is_some_and(|v| !v.trim().is_empty())
    {
        return Ok(state.page(StatusCode::OK, &pages::sent(&one_line(&email), ttl)));
    }

    // Checkboxes send only ticked lists; the form adds an empty `list` so that "none ticked"
    // differs from a bare `<form>` on the owner's blog that sends just an address.
    let lists = pages::chosen_lists(n, &fields.all("list"));
    let chosen: Vec<String> = lists.iter().map(|l| l.id.clone()).collect();

    let problem = if email.is_empty() {
        Some(("Enter your email address.".to_string(), true))
    } else if !plausible_address(&email) {
        Some((
            format!(
                "“{}” is not an email address. Please check it for typos.",
                one_line(&email)
            ),
            true,
        ))
    } else if chosen.is_empty() {
        Some(("Choose at least one list.".to_string(), false))
    } else {
        None
    };
    if let Some(problem) = problem {
        let page =
            pages::subscribe_form(&state.inner.site, n, &email, &name, &chosen, Some(problem));
        return Ok(state.page(StatusCode::BAD_REQUEST, &page));
    }

    // The sign-up waits in the database; the link carries only its nonce and expiry.
    let confirm = SignUp {
        email: email.clone(),
        name: name.clone(),
        lists: chosen.clone(),
        nonce: tokens::nonce(),
        // Capped at a century so that no config value can overflow the date.
        expires: (now + TimeDelta::hours(ttl.min(24 * 365 * 100) as i64)).timestamp(),
    };
    {
        let (confirm, now_s) = (confirm.clone(), now.timestamp());
        state.db(move |db| db.sign_up(&confirm, now_s)).await?;
    }
    let token = tokens::sign_confirm(&state.inner.secret, &confirm.nonce, confirm.expires);
    let mut url = state
        .inner
        .config
        .serve
        .public_url
        .join("confirm")
        .map_err(|e| Error::msg(format!("serve.public_url: {e}")))?;
    url.query_pairs_mut().append_pair("token", &token);

    let (envelope, raw) =
        pages::confirmation_mail(&state.inner, n, &confirm, &lists, url.as_str(), now)?;
    let inner = state.inner.clone();
    let sent = tokio::task::spawn_blocking(move || match &inner.transport {
        Some(t) => t.send("confirm", &envelope, &raw),
        None => Err(Failure::Local(Error::msg("no transport"))),
    })
    .await
    .map_err(|e| AppError::Internal(Error::msg(format!("mail task failed: {e}"))))?;
    match sent {
        Ok(_) => Ok(state.page(StatusCode::OK, &pages::sent(&email, ttl))),
        Err(Failure::Permanent {
            bounce: true,
            reply,
        }) => {
            // The visitor can fix this one: the receiving server does not know the address.
            let _ = reply;
            let message = format!(
                "The mail server for “{email}” says this address does not exist. Please check it for typos."
            );
            let page = pages::subscribe_form(
                &state.inner.site,
                n,
                &email,
                &name,
                &chosen,
                Some((message, true)),
            );
            Ok(state.page(StatusCode::BAD_REQUEST, &page))
        }
        Err(Failure::Permanent { reply, .. }) => Err(AppError::Internal(Error::msg(format!(
            "confirmation mail refused: {reply}"
        )))),
        Err(Failure::Transient(why)) => Err(AppError::Unavailable(format!(
            "confirmation mail deferred: {why}"
        ))),
        Err(Failure::Local(e)) => Err(AppError::Internal(e)),
    }
}

/// A syntactically valid address (lettre's parser, as for every address herald mails) whose
/// domain could be on the internet: `ann@example` is a typo on a public sign-up form, not an
/// intranet host.
fn plausible_address(email: &str) -> bool {
    if email.chars().count() > EMAIL_MAX || !crate::newsletter::lists::valid_address(email) {
        return false;
    }
    let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
    (domain.starts_with('[') && domain.ends_with(']'))
        || (domain.contains('.') && !domain.ends_with('.'))
}

/// Why a link does not work, as a 400 page.
enum BadLink {
    Forged,
    Expired,
    Used,
    Missing,
}

fn bad_link(state: &State, why: BadLink) -> Response {
    let again = vec![Link {
        href: "subscribe".into(),
        text: "Sign up again".into(),
    }];
    let page = match why {
        BadLink::Forged => pages::error(
            "bad-link",
            "This link does not work",
            vec!["The link is incomplete or was changed. Please open it again from the mail, or copy the whole address into your browser.".into()],
            again,
        ),
        BadLink::Missing => pages::error(
            "bad-link",
            "This link does not work",
            vec!["The link is missing its code. Please open it again from the mail, or copy the whole address into your browser.".into()],
            again,
        ),
        BadLink::Expired => pages::error(
            "expired",
            "This link has expired",
            vec![format!(
                "Confirmation links work for {} hours. Please sign up again to get a new one.",
                state.inner.config.serve.confirm_ttl_hours
            )],
            again,
        ),
        BadLink::Used => pages::error(
            "used",
            "This link was already used",
            vec!["Each confirmation link works once, and this one has been used. If you are not getting our mail, sign up again.".into()],
            again,
        ),
    };
    state.page(StatusCode::BAD_REQUEST, &page)
}

/// The sign-up a confirmation token names (stored under its nonce, or carried by a link of the
/// older form) and its lists still in the config, if the token is genuine, not expired, not
/// used, and names at least one of them.
async fn check_confirm<'n>(
    state: &State,
    n: &'n Newsletter,
    token: Option<&str>,
) -> Result<Result<(SignUp, Vec<&'n List>), BadLink>, AppError> {
    let Some(token) = token.filter(|t| !t.trim().is_empty()) else {
        return Ok(Err(BadLink::Missing));
    };
    let Some(link) = tokens::verify_confirm(&state.inner.secret, token) else {
        return Ok(Err(BadLink::Forged));
    };
    if state.now().timestamp() > link.expires() {
        return Ok(Err(BadLink::Expired));
    }
    let signup = match link {
        ConfirmLink::Carried(c) => SignUp {
            email: c.email,
            name: c.name,
            lists: c.lists,
            nonce: c.nonce,
            expires: c.expires,
        },
        ConfirmLink::Stored { nonce, .. } => {
            let found = state
                .db(move |db| {
                    Ok(match db.pending_sign_up(&nonce)? {
                        Some(s) => Ok(s),
                        None if db.nonce_used(&nonce)? => Err(BadLink::Used),
                        // Genuine, but its sign-up is gone (a database restored from before it).
                        None => Err(BadLink::Forged),
                    })
                })
                .await?;
            match found {
                Ok(s) => s,
                Err(why) => return Ok(Err(why)),
            }
        }
    };
    let lists = pages::known_lists(n, &signup.lists);
    if lists.is_empty() {
        return Ok(Err(BadLink::Forged));
    }
    Ok(Ok((signup, lists)))
}

/// The unsubscription a token carries, if it is there and genuine: the address (its key
/// resolved) and the list ids.
async fn check_unsubscribe(
    state: &State,
    token: Option<&str>,
) -> Result<Result<(String, Vec<String>), BadLink>, AppError> {
    let Some(token) = token.filter(|t| !t.trim().is_empty()) else {
        return Ok(Err(BadLink::Missing));
    };
    let Some(u) = tokens::verify_unsubscribe(&state.inner.secret, token) else {
        return Ok(Err(BadLink::Forged));
    };
    let who = u.who.clone();
    let email = state.db(move |db| db.address_of(&who)).await?;
    Ok(email.map(|e| (e, u.lists)).ok_or(BadLink::Forged))
}

/// `GET /confirm?token=…`: one button, so that a mail scanner following links confirms nothing.
async fn confirm_page(Axum(state): Axum<State>, req: Request) -> Answer {
    let n = state.newsletter()?;
    let query = Fields::query(req.uri());
    let token = query.get("token");
    let (c, lists) = match check_confirm(&state, n, token).await? {
        Ok(found) => found,
        Err(why) => return Ok(bad_link(&state, why)),
    };
    Ok(state.page(
        StatusCode::OK,
        &pages::confirm(&state.inner.site, &c, &lists, token.unwrap_or("")),
    ))
}

/// `POST /confirm`: the address becomes active in the lists it chose; the token is spent.
async fn confirm(Axum(state): Axum<State>, req: Request) -> Answer {
    let n = state.newsletter()?;
    let (fields, query) = match form(req).await {
        Ok(f) => f,
        Err(r) => return Ok(r),
    };
    let token = fields.get("token").or(query.get("token"));
    let (c, lists) = match check_confirm(&state, n, token).await? {
        Ok(found) => found,
        Err(why) => return Ok(bad_link(&state, why)),
    };
    let ids: Vec<String> = lists.iter().map(|l| l.id.clone()).collect();
    let now = state.now().timestamp();
    let fresh = {
        let c = c.clone();
        state
            .db(move |db| db.confirm(&c.nonce, &c.email, &c.name, &ids, now))
            .await?
    };
    if !fresh {
        return Ok(bad_link(&state, BadLink::Used));
    }
    let mut page = state.page(
        StatusCode::OK,
        &pages::confirmed(&state.inner.site, &c, &lists),
    );
    // The sign-up is committed: a welcome mail that fails is logged, and undoes nothing.
    if n.welcome
        && let Err(why) = welcome(&state, n, &c.email, &lists).await
    {
        page.extensions_mut()
            .insert(Note(format!("welcome mail not sent: {why}")));
    }
    Ok(page)
}

/// Sends the welcome mail to the subscriber of `email`, who just joined `lists`.
async fn welcome(
    state: &State,
    n: &Newsletter,
    email: &str,
    lists: &[&List],
) -> Result<(), String> {
    let found = {
        let email = email.to_string();
        state
            .db(move |db| {
                let Some(key) = db.key_of(&email)? else {
                    return Ok(None);
                };
                Ok(db.profile(&key)?.map(|p| (key, p)))
            })
            .await
            .map_err(|e| match e {
                AppError::Internal(e) => e.to_string(),
                other => format!("{other:?}"),
            })?
    };
    let Some((key, profile)) = found else {
        return Err("the subscriber is gone".into());
    };
    let inner = &state.inner;
    let ids: Vec<String> = lists.iter().map(|l| l.id.clone()).collect();
    let unsubscribe = links::unsubscribe_url(&inner.config, &inner.secret, &key, &ids);
    let preferences = links::preferences_url(&inner.config, &inner.secret, &key);
    let links = pages::WelcomeLinks {
        preferences: &preferences,
        unsubscribe: &unsubscribe,
    };
    let (envelope, raw) = pages::welcome_mail(inner, n, &profile, lists, &links, state.now())
        .map_err(|e| e.to_string())?;
    let inner = state.inner.clone();
    let sent = tokio::task::spawn_blocking(move || match &inner.transport {
        Some(t) => t.send("welcome", &envelope, &raw),
        None => Err(Failure::Local(Error::msg("no transport"))),
    })
    .await
    .map_err(|e| format!("mail task failed: {e}"))?;
    match sent {
        Ok(_) => Ok(()),
        Err(Failure::Permanent { reply, .. }) => Err(format!("refused: {reply}")),
        Err(Failure::Transient(why)) => Err(format!("deferred: {why}")),
        Err(Failure::Local(e)) => Err(e.to_string()),
    }
}

/// What an unsubscribe token names, with list names from the config where known.
fn unsubscribe_views(state: &State, lists: &[String]) -> Vec<ListView> {
    let known = state
        .inner
        .config
        .newsletter
        .as_ref()
        .map(|n| n.lists.as_slice())
        .unwrap_or(&[]);
    lists
        .iter()
        .map(|id| match known.iter().find(|l| &l.id == id) {
            Some(l) => ListView {
                id: id.clone(),
                name: l.name.clone(),
                schedule: pages::schedule(l),
            },
            None => ListView {
                id: id.clone(),
                name: id.clone(),
                schedule: String::new(),
            },
        })
        .collect()
}

/// `GET /unsubscribe?token=…`: one button (a link scanner must not unsubscribe anyone).
async fn unsubscribe_page(Axum(state): Axum<State>, req: Request) -> Answer {
    state.newsletter()?;
    let query = Fields::query(req.uri());
    let token = query.get("token");
    let (email, lists) = match check_unsubscribe(&state, token).await? {
        Ok(u) => u,
        Err(why) => return Ok(bad_link(&state, why)),
    };
    let views = unsubscribe_views(&state, &lists);
    Ok(state.page(
        StatusCode::OK,
        &pages::unsubscribe(&state.inner.site, &email, &views, token.unwrap_or("")),
    ))
}

/// `POST /unsubscribe`: from the page's button, or an RFC 8058 one-click POST from a mail
/// client (`List-Unsubscribe=One-Click`, token in the query string), answered with an empty 200.
async fn unsubscribe(Axum(state): Axum<State>, req: Request) -> Answer {
    state.newsletter()?;
    let (fields, query) = match form(req).await {
        Ok(f) => f,
        Err(r) => return Ok(r),
    };
    let one_click = fields
        .get("List-Unsubscribe")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("One-Click"));
    let (email, lists) =
        match check_unsubscribe(&state, fields.get("token").or(query.get("token"))).await? {
            Ok(u) => u,
            Err(why) => return Ok(bad_link(&state, why)),
        };
    let now = state.now().timestamp();
    {
        let (email, lists) = (email.clone(), lists.clone());
        // A token without lists names every list.
        state
            .db(move |db| {
                db.unsubscribe(&email, (!lists.is_empty()).then_some(lists.as_slice()), now)
            })
            .await?;
    }
    if one_click {
        let mut r = StatusCode::OK.into_response();
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(r);
    }
    let views = unsubscribe_views(&state, &lists);
    Ok(state.page(
        StatusCode::OK,
        &pages::unsubscribed(&state.inner.site, &email, &views),
    ))
}

/// The subscriber a preferences token names, if it is there, genuine, and names one: their key
/// and profile.
async fn check_preferences(
    state: &State,
    token: Option<&str>,
) -> Result<Result<(String, Profile), BadLink>, AppError> {
    let Some(token) = token.filter(|t| !t.trim().is_empty()) else {
        return Ok(Err(BadLink::Missing));
    };
    let Some(key) = tokens::verify_preferences(&state.inner.secret, token) else {
        return Ok(Err(BadLink::Forged));
    };
    let found = {
        let key = key.clone();
        state.db(move |db| db.profile(&key)).await?
    };
    // A genuine link whose subscriber is gone says what a forged one says.
    Ok(found.map(|p| (key, p)).ok_or(BadLink::Forged))
}

/// `GET /preferences?token=…`: the person's name and every list, ticked where they get it.
/// Changes nothing.
async fn preferences_page(Axum(state): Axum<State>, req: Request) -> Answer {
    let n = state.newsletter()?;
    let query = Fields::query(req.uri());
    let token = query.get("token");
    let (_, profile) = match check_preferences(&state, token).await? {
        Ok(found) => found,
        Err(why) => return Ok(bad_link(&state, why)),
    };
    let page = pages::preferences(&state.inner.site, n, &profile, token.unwrap_or(""), None);
    Ok(state.page(StatusCode::OK, &page))
}

/// `POST /preferences`: saves the form (name, and exactly the ticked lists), or, from the
/// "Leave everything" button (`action=leave`), unsubscribes from everything as the unsubscribe
/// link does. The token in the form is the proof: a page elsewhere cannot make one.
async fn preferences(Axum(state): Axum<State>, req: Request) -> Answer {
    let n = state.newsletter()?;
    let (fields, query) = match form(req).await {
        Ok(f) => f,
        Err(r) => return Ok(r),
    };
    let token = fields.get("token").or(query.get("token"));
    let (key, profile) = match check_preferences(&state, token).await? {
        Ok(found) => found,
        Err(why) => return Ok(bad_link(&state, why)),
    };
    let now = state.now().timestamp();
    let (saved, kind) = if fields.get("action") == Some("leave") {
        let email = profile.email.clone();
        let saved = state
            .db(move |db| {
                db.unsubscribe(&email, None, now)?;
                db.profile(&key)
            })
            .await?;
        (saved, pages::Saved::LeftAll)
    } else {
        // A form without the field (not ours) keeps the name.
        let name: String = match fields.get("name") {
            Some(name) => one_line(name).chars().take(NAME_MAX).collect(),
            None => profile.name.clone(),
        };
        let lists: Vec<String> = pages::known_lists(n, &fields.all("list"))
            .iter()
            .map(|l| l.id.clone())
            .collect();
        let saved = state
            .db(move |db| db.set_preferences(&key, &name, &lists, now))
            .await?;
        (saved, pages::Saved::Choices)
    };
    let Some(profile) = saved else {
        return Ok(bad_link(&state, BadLink::Forged));
    };
    let page = pages::preferences(
        &state.inner.site,
        n,
        &profile,
        token.unwrap_or(""),
        Some(kind),
    );
    Ok(state.page(StatusCode::OK, &page))
}

/// Any other `GET`/`HEAD`: a file of `output_dir`; `/` without an `index.html` lists the feeds.
async fn files_or_index(Axum(state): Axum<State>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = StatusCode::METHOD_NOT_ALLOWED.into_response();
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let root = state.inner.config.output_dir.clone();
    let path = req.uri().path().to_string();
    let headers: HeaderMap = req.headers().clone();
    let found = {
        let (root, path) = (root.clone(), path.clone());
        tokio::task::spawn_blocking(move || files::respond(&root, &path, &headers))
            .await
            .ok()
            .flatten()
    };
    if let Some(r) = found {
        return r;
    }
    if path == "/" {
        let feeds = tokio::task::spawn_blocking(move || {
            FeedFormat::ALL
                .iter()
                .map(|f| (f.file_name(), f.label()))
                .chain([(OPML_FILE, "All feeds (OPML)")])
                .filter(|(f, _)| root.join(f).is_file())
                .map(|(f, text)| Link {
                    href: f.to_string(),
                    text: text.to_string(),
                })
                .collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let page = pages::index(
            &state.inner.site,
            feeds,
            state.inner.config.newsletter.is_some(),
        );
        return state.page(StatusCode::OK, &page);
    }
    let mut r = state.page(StatusCode::NOT_FOUND, &not_found());
    if req.method() == Method::HEAD {
        *r.body_mut() = Body::empty();
    }
    r
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use axum::http::Request as HttpRequest;
    use tower::ServiceExt;

    use super::*;
    use crate::config::Config;
    use crate::serve::{Clock, Log};
    use crate::state::MemberStatus;
    use crate::transport::{Envelope, Transport};

    /// (folder, envelope, message) of each mail sent.
    type Sent = Arc<Mutex<Vec<(String, Envelope, Vec<u8>)>>>;

    /// Records what it was given.
    #[derive(Default)]
    struct Recorder(Sent);

    impl Transport for Recorder {
        fn send(&self, folder: &str, envelope: &Envelope, raw: &[u8]) -> Result<String, Failure> {
            self.0
                .lock()
                .unwrap()
                .push((folder.to_string(), envelope.clone(), raw.to_vec()));
            Ok("250 ok".into())
        }
    }

    struct Fixture {
        _dir: tempfile::TempDir,
        config: Config,
        sent: Sent,
        log: Arc<Mutex<Vec<String>>>,
    }

    const T0: i64 = 1_750_000_000;

    fn fixture() -> Fixture {
        fixture_with("")
    }

    /// The test site, with `newsletter` lines (two spaces in) added.
    fn fixture_with(newsletter: &str) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "site:\n  title: Test <Site>\n  base_url: https://example.com/\n\
             newsletter:\n  start: 2025-01-01\n  from: {{ name: Test, email: news@example.com }}\n{newsletter}  lists:\n\
             \x20   - {{ id: all, name: Everything, tags: [\"*\"] }}\n    - {{ id: seo, name: SEO, tags: [seo] }}\n\
             \x20   - {{ id: weekly, name: The week, tags: [\"*\"], digest: {{ every: week, weekday: mon }} }}\n\
             serve:\n  subscribe_per_hour: 3\n"
        );
        let text = text.as_str();
        let config =
            Config::parse(dir.path(), &dir.path().join("config/herald.yaml"), text).unwrap();
        Fixture {
            _dir: dir,
            config,
            sent: Arc::default(),
            log: Arc::default(),
        }
    }

    impl Fixture {
        fn app_at(&self, secs: i64) -> Router {
            self.app_with(secs, Box::new(Recorder(self.sent.clone())))
        }

        /// The app at `secs`, mailing through `transport`, logging into `self.log`.
        fn app_with(&self, secs: i64, transport: Box<dyn Transport>) -> Router {
            let lines = self.log.clone();
            let log: Log = Arc::new(move |l: &str| lines.lock().unwrap().push(l.to_string()));
            let clock = Clock::Fixed(DateTime::from_timestamp(secs, 0).unwrap());
            crate::serve::app(
                State::with_transport(self.config.clone(), clock, log, Some(transport)).unwrap(),
            )
        }

        fn db(&self) -> Db {
            Db::open(&self.config.state_dir).unwrap()
        }
    }

    async fn call(app: &Router, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        let req = HttpRequest::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body.to_string()))
            .unwrap();
        let r = app.clone().oneshot(req).await.unwrap();
        let status = r.status();
        let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn token_in(raw: &[u8]) -> String {
        // The text part is quoted-printable; undo its soft line breaks and `=3D`.
        let text = String::from_utf8_lossy(raw)
            .replace("=\r\n", "")
            .replace("=3D", "=");
        let start = text.find("confirm?token=").unwrap() + "confirm?token=".len();
        text[start..]
            .split(|c: char| c.is_whitespace() || c == '"')
            .next()
            .unwrap()
            .to_string()
    }

    #[test]
    fn addresses_need_a_domain_on_the_internet() {
        for ok in [
            "a@example.com",
            "A.B+tag@sub.example.co.uk",
            "a@[192.0.2.1]",
            "\"a b\"@example.com",
        ] {
            assert!(plausible_address(ok), "{ok}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "a",
            "a@",
            "@example.com",
            "a@example",
            "a@example.",
            "a b@example.com",
            "a@@example.com",
            long.as_str(),
        ] {
            assert!(!plausible_address(bad), "{bad}");
        }
    }

    /// Refuses every mail the way `fail` says.
    struct Refuser(fn() -> Failure);

    impl Transport for Refuser {
        fn send(&self, _: &str, _: &Envelope, _: &[u8]) -> Result<String, Failure> {
            Err((self.0)())
        }
    }

    #[tokio::test]
    async fn a_confirmation_mail_that_cannot_be_sent_gets_the_right_answer() {
        let f = fixture();
        // (how the relay fails, the answer, what the page says)
        type Case = (fn() -> Failure, StatusCode, &'static str);
        let cases: [Case; 3] = [
            (
                || Failure::Permanent {
                    reply: "550 5.1.1 no such user".into(),
                    bounce: true,
                },
                StatusCode::BAD_REQUEST,
                "says this address does not exist",
            ),
            (
                || Failure::Permanent {
                    reply: "554 5.7.1 refused".into(),
                    bounce: false,
                },
                StatusCode::INTERNAL_SERVER_ERROR,
                "",
            ),
            (
                || Failure::Transient("451 4.3.0 try later".into()),
                StatusCode::SERVICE_UNAVAILABLE,
                "Please try again in a few minutes",
            ),
        ];
        for (fail, want, says) in cases {
            let app = f.app_with(T0, Box::new(Refuser(fail)));
            let (status, page) = call(
                &app,
                "POST",
                "/subscribe",
                "email=ann%40example.com&list=all",
            )
            .await;
            assert_eq!(status, want, "{page}");
            assert!(page.contains(says), "{page}");
        }
        // The cause of a refusal or a deferral is in the log, for the owner.
        let log = f.log.lock().unwrap().join("\n");
        assert!(log.contains("554 5.7.1 refused"), "{log}");
        assert!(log.contains("451 4.3.0 try later"), "{log}");
    }

    #[tokio::test]
    async fn a_link_to_the_form_can_preselect_lists_and_fill_in_the_address() {
        let f = fixture();
        let app = f.app_at(T0);
        let (status, page) = call(
            &app,
            "GET",
            "/subscribe?list=seo&list=nonsense&email=ann%40example.com",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains(r#"value="ann@example.com""#), "{page}");
        assert!(page.contains(r#"value="seo" checked>"#), "{page}");
        assert!(page.contains(r#"value="all">"#), "{page}");
        // Only unknown lists asked for: the first list, as with none.
        let (_, page) = call(&app, "GET", "/subscribe?list=nonsense", "").await;
        assert!(page.contains(r#"value="all" checked>"#), "{page}");
    }

    #[tokio::test]
    async fn without_a_newsletter_every_newsletter_route_answers_404() {
        // As `herald serve` warns at start-up: files only.
        let dir = tempfile::tempdir().unwrap();
        let text = "site:\n  title: Files only\n  base_url: https://example.com/\n";
        let config =
            Config::parse(dir.path(), &dir.path().join("config/herald.yaml"), text).unwrap();
        let log: Log = Arc::new(|_: &str| {});
        let clock = Clock::Fixed(DateTime::from_timestamp(T0, 0).unwrap());
        let app = crate::serve::app(State::with_transport(config, clock, log, None).unwrap());
        for (method, uri) in [
            ("GET", "/subscribe"),
            ("POST", "/subscribe"),
            ("GET", "/confirm?token=x"),
            ("POST", "/confirm?token=x"),
            ("GET", "/unsubscribe?token=x"),
            ("POST", "/unsubscribe?token=x"),
        ] {
            let (status, _) = call(&app, method, uri, "").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}");
        }
    }

    #[tokio::test]
    async fn the_index_links_the_feeds_written_with_their_labels() {
        let f = fixture();
        let out = &f.config.output_dir;
        std::fs::create_dir_all(out).unwrap();
        // Every format but Atom, and the OPML.
        for name in ["rss.xml", "feed.json", "feeds.opml"] {
            std::fs::write(out.join(name), "x").unwrap();
        }
        let (status, page) = call(&f.app_at(T0), "GET", "/", "").await;
        assert_eq!(status, StatusCode::OK);
        let links: Vec<&str> = page
            .lines()
            .filter(|l| l.starts_with("<li><a href="))
            .collect();
        assert_eq!(
            links,
            [
                "<li><a href=\"rss.xml\">RSS</a></li>",
                "<li><a href=\"feed.json\">JSON Feed</a></li>",
                "<li><a href=\"feeds.opml\">All feeds (OPML)</a></li>",
                "<li><a href=\"subscribe\">Subscribe by email</a></li>",
            ],
            "{page}"
        );
    }

    #[tokio::test]
    async fn healthz() {
        let f = fixture();
        assert_eq!(
            call(&f.app_at(T0), "GET", "/healthz", "").await,
            (StatusCode::OK, "ok\n".into())
        );
        assert_eq!(f.log.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn confirmation_tokens_expire_after_the_ttl_and_work_once() {
        let f = fixture();
        let app = f.app_at(T0);
        let (status, page) = call(
            &app,
            "POST",
            "/subscribe",
            "email=a%40example.com&list=&list=seo",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let sent = f.sent.lock().unwrap().clone();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].0, "confirm");
        assert_eq!(
            sent[0].1,
            Envelope {
                from: "news@example.com".into(),
                to: "a@example.com".into()
            }
        );
        let token = token_in(&sent[0].2);

        // 48 hours is the default TTL: at the last second it works, one second later not.
        let late = f.app_at(T0 + 48 * 3600 + 1);
        let (status, page) = call(&late, "POST", "/confirm", &format!("token={token}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("expired"), "{page}");
        let just = f.app_at(T0 + 48 * 3600);
        assert_eq!(
            call(&just, "POST", "/confirm", &format!("token={token}"))
                .await
                .0,
            StatusCode::OK
        );
        assert_eq!(
            call(&just, "POST", "/confirm", &format!("token={token}"))
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
        let m = f.db().members(None, None).unwrap();
        assert_eq!(
            (m[0].status, m[0].lists.clone()),
            (MemberStatus::Active, vec!["seo".to_string()])
        );
        assert!(
            f.log
                .lock()
                .unwrap()
                .iter()
                .all(|l| !l.contains(&token[..30]))
        );
    }

    #[tokio::test]
    async fn the_honeypot_sends_and_stores_nothing() {
        let f = fixture();
        let app = f.app_at(T0);
        let (status, page) = call(
            &app,
            "POST",
            "/subscribe",
            "email=bot%40example.com&website=http%3A%2F%2Fspam",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Check your inbox"));
        assert!(f.sent.lock().unwrap().is_empty());
        assert!(f.db().members(None, None).unwrap().is_empty());
    }

    #[tokio::test]
    async fn invalid_attempts_count_towards_the_rate_limit() {
        let f = fixture();
        let app = f.app_at(T0);
        for _ in 0..3 {
            assert_eq!(
                call(&app, "POST", "/subscribe", "email=x").await.0,
                StatusCode::BAD_REQUEST
            );
        }
        let (status, page) = call(&app, "POST", "/subscribe", "email=x").await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(page.contains("try again in 60 minutes"), "{page}");
    }

    #[tokio::test]
    async fn big_bodies_and_odd_methods_get_pages() {
        let f = fixture();
        let app = f.app_at(T0);
        let (status, page) = call(&app, "POST", "/subscribe", &"a".repeat(BODY_LIMIT + 1)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(page.contains("That was too much"), "{page}");
        let (status, page) = call(&app, "PUT", "/subscribe", "").await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
        assert!(
            page.contains("Test &lt;Site&gt;"),
            "the site title, escaped: {page}"
        );
        assert_eq!(
            call(&app, "DELETE", "/rss.xml", "").await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(
            call(&app, "GET", "/rss.xml", "").await.0,
            StatusCode::NOT_FOUND
        );
    }

    // Confirmation links.

    impl Fixture {
        fn secret(&self) -> [u8; 32] {
            crate::state::secret::load_or_create(&self.config.state_dir).unwrap()
        }

        /// A confirmation token of the older form, which carried the sign-up: `payload` signed
        /// by hand, as mail sent before sign-ups were stored carries it.
        fn old_confirm_token(&self, payload: serde_json::Value) -> String {
            use base64::Engine;
            use hmac::Mac;
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let json = serde_json::to_vec(&payload).unwrap();
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&self.secret()).unwrap();
            mac.update(&json);
            format!(
                "{}.{}",
                b64.encode(&json),
                b64.encode(mac.finalize().into_bytes())
            )
        }
    }

    #[tokio::test]
    async fn the_confirmation_link_names_nobody_and_old_links_still_work() {
        use base64::Engine;
        let f = fixture();
        let app = f.app_at(T0);
        let body = "email=ann%40example.com&name=Ann+Lee&list=seo";
        assert_eq!(
            call(&app, "POST", "/subscribe", body).await.0,
            StatusCode::OK
        );
        let token = token_in(&f.sent.lock().unwrap()[0].2);
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split_once('.').unwrap().0)
            .unwrap();
        let payload = String::from_utf8(payload).unwrap();
        assert!(
            !payload.contains("ann") && !payload.contains("Lee") && !payload.contains("seo"),
            "{payload}"
        );
        // The page finds the sign-up in the database.
        let (status, page) = call(&app, "GET", &format!("/confirm?token={token}"), "").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("ann@example.com") && page.contains("<li>SEO</li>"),
            "{page}"
        );

        // A link of the older form, mailed before sign-ups were stored, works once...
        let legacy = f.old_confirm_token(serde_json::json!({
            "t": "c", "email": "old@example.com", "name": "Old", "lists": ["all"],
            "expires": T0 + 60, "nonce": "n-old",
        }));
        let (status, page) = call(&app, "POST", "/confirm", &format!("token={legacy}")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let old = f.db().members(None, Some(MemberStatus::Active)).unwrap();
        assert_eq!(
            (
                old[0].email.as_str(),
                old[0].name.as_str(),
                old[0].lists.clone()
            ),
            ("old@example.com", "Old", vec!["all".to_string()])
        );
        assert_eq!(
            call(&app, "POST", "/confirm", &format!("token={legacy}"))
                .await
                .0,
            StatusCode::BAD_REQUEST,
            "once"
        );
        // ...until it expires.
        let expired = f.old_confirm_token(serde_json::json!({
            "t": "c", "email": "late@example.com", "name": "", "lists": ["all"],
            "expires": T0 + 60, "nonce": "n-late",
        }));
        let later = f.app_at(T0 + 61);
        let (status, page) = call(&later, "POST", "/confirm", &format!("token={expired}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("expired"), "{page}");
    }

    #[tokio::test]
    async fn a_used_link_of_the_stored_form_says_so_on_sight() {
        let f = fixture();
        let app = f.app_at(T0);
        let body = "email=ann%40example.com&list=all";
        assert_eq!(
            call(&app, "POST", "/subscribe", body).await.0,
            StatusCode::OK
        );
        let token = token_in(&f.sent.lock().unwrap()[0].2);
        let confirm = format!("token={token}");
        assert_eq!(
            call(&app, "POST", "/confirm", &confirm).await.0,
            StatusCode::OK
        );
        let (status, page) = call(&app, "GET", &format!("/confirm?token={token}"), "").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("already used"), "{page}");
    }

    // Preferences.

    fn form_body(token: &str, rest: &str) -> String {
        let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        format!("token={token}&{rest}")
    }

    impl Fixture {
        /// The preferences token of `email`'s subscriber, as a mail carries it.
        fn prefs_token(&self, email: &str) -> String {
            let key = self.db().key_of(email).unwrap().unwrap();
            tokens::sign_preferences(&self.secret(), &key)
        }

        fn add(&self, email: &str, name: &str, lists: &[&str]) {
            let db = self.db();
            for l in lists {
                db.add_member(email, name, l, crate::state::subscribers::Source::Cli, 1)
                    .unwrap();
            }
        }

        fn profile(&self, email: &str) -> Profile {
            let db = self.db();
            db.profile(&db.key_of(email).unwrap().unwrap())
                .unwrap()
                .unwrap()
        }
    }

    #[tokio::test]
    async fn the_preferences_page_shows_every_list_with_its_schedule_and_changes_nothing() {
        let f = fixture();
        f.add("ann@example.com", "Ann", &["all", "weekly"]);
        let token = f.prefs_token("ann@example.com");
        let (status, page) = call(
            &f.app_at(T0),
            "GET",
            &format!("/preferences?token={token}"),
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("ann@example.com"), "{page}");
        assert!(page.contains(r#"name="name" value="Ann""#), "{page}");
        assert!(
            page.contains(&format!(r#"name="token" value="{token}""#)),
            "{page}"
        );
        for (id, checked, schedule) in [
            ("all", true, "every post"),
            ("seo", false, "every post"),
            ("weekly", true, "weekly on Monday at 08:00"),
        ] {
            let input = format!(
                r#"name="list" value="{id}"{}>"#,
                if checked { " checked" } else { "" }
            );
            assert!(page.contains(&input), "{id}: {page}");
            let line = page.lines().find(|l| l.contains(&input)).unwrap();
            assert!(line.contains(schedule), "{line}");
        }
        assert!(
            page.contains(r#"value="leave""#),
            "the leave-everything button"
        );
        assert_eq!(f.profile("ann@example.com").lists, ["all", "weekly"]);
        assert!(f.sent.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn saving_preferences_joins_leaves_and_renames() {
        let f = fixture();
        f.add("ann@example.com", "Ann", &["all", "seo"]);
        let token = f.prefs_token("ann@example.com");
        let app = f.app_at(T0);
        let (status, page) = call(
            &app,
            "POST",
            "/preferences",
            &form_body(
                &token,
                "name=Ann+Lee&list=seo&list=weekly&list=nonsense&action=save",
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains("Saved. ann@example.com gets SEO and The week."),
            "{page}"
        );
        assert!(page.contains(r#"value="weekly" checked>"#), "{page}");
        let p = f.profile("ann@example.com");
        assert_eq!(
            (p.name.as_str(), p.lists),
            ("Ann Lee", vec!["seo".to_string(), "weekly".into()])
        );
        // Joining sends nothing: the link in the mail proved the address.
        assert!(f.sent.lock().unwrap().is_empty());

        // Without the `action` field (Enter in the name field of some clients): a save.
        let (status, page) =
            call(&app, "POST", "/preferences", &form_body(&token, "name=Ann")).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains("gets no more mail from Test &lt;Site&gt;"),
            "{page}"
        );
        let p = f.profile("ann@example.com");
        assert_eq!((p.status, p.lists.len()), (MemberStatus::Unsubscribed, 0));
    }

    #[tokio::test]
    async fn leave_everything_unsubscribes_as_the_unsubscribe_link_does() {
        let f = fixture();
        f.add("ann@example.com", "Ann", &["all", "seo"]);
        let token = f.prefs_token("ann@example.com");
        let app = f.app_at(T0);
        // The form's other fields come along and are ignored: leaving keeps the name.
        let (status, page) = call(
            &app,
            "POST",
            "/preferences",
            &form_body(&token, "name=Eve&list=all&action=leave"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("You left every list"), "{page}");
        assert!(!page.contains(" checked>"), "{page}");
        let m = &f.db().members(None, None).unwrap()[0];
        assert_eq!(
            (m.status, m.name.as_str(), m.lists.len()),
            (MemberStatus::Unsubscribed, "Ann", 0)
        );
        // The link keeps working: ticking a list comes back, without a confirmation.
        let (status, _) = call(
            &app,
            "POST",
            "/preferences",
            &form_body(&token, "name=Ann&list=seo"),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let p = f.profile("ann@example.com");
        assert_eq!(
            (p.status, p.lists),
            (MemberStatus::Active, vec!["seo".to_string()])
        );
    }

    #[tokio::test]
    async fn forged_altered_and_foreign_preferences_tokens_get_400_and_change_nothing() {
        let f = fixture();
        f.add("ann@example.com", "Ann", &["all"]);
        let good = f.prefs_token("ann@example.com");
        let key = f.db().key_of("ann@example.com").unwrap().unwrap();
        let (body, tag) = good.split_once('.').unwrap();
        let altered = format!(
            "{body}.{}{}",
            if tag.starts_with('A') { "B" } else { "A" },
            &tag[1..]
        );
        let forged = tokens::sign_preferences(&[9; 32], &key);
        let unknown = tokens::sign_preferences(&f.secret(), "no-such-key");
        let unsubscribe = tokens::sign_unsubscribe(&f.secret(), &key, &["all".into()]);
        let before = f.db().members(None, None).unwrap();
        let app = f.app_at(T0);
        for bad in [
            altered.as_str(),
            forged.as_str(),
            unknown.as_str(),
            unsubscribe.as_str(),
            "junk",
            "",
        ] {
            let (status, page) = call(&app, "GET", &format!("/preferences?token={bad}"), "").await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "GET {bad}");
            assert!(page.contains("This link does not work"), "{page}");
            assert!(!page.contains("ann@example.com"), "{page}");
            let (status, _) = call(
                &app,
                "POST",
                "/preferences",
                &form_body(bad, "name=X&list=seo&action=leave"),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "POST {bad}");
            let (status, _) = call(
                &app,
                "POST",
                "/preferences",
                &form_body(bad, "name=X&list=seo"),
            )
            .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "POST {bad}");
        }
        assert_eq!(f.db().members(None, None).unwrap(), before);
        // The log has no token.
        let log = f.log.lock().unwrap().join("\n");
        assert!(!log.contains(body), "{log}");
        assert!(log.contains("GET /preferences 400"), "{log}");
    }

    #[tokio::test]
    async fn a_hostile_name_is_escaped_on_the_preferences_page_and_kept_on_one_line() {
        let f = fixture();
        f.add("eve@example.com", "", &["all"]);
        let token = f.prefs_token("eve@example.com");
        let app = f.app_at(T0);
        let (status, page) = call(
            &app,
            "POST",
            "/preferences",
            &form_body(&token, "name=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E%0D%0ABcc%3A+x%40evil.example&list=all"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(!page.contains("<script>"), "{page}");
        assert!(page.contains("&quot;&gt;&lt;script&gt;"), "{page}");
        let name = f.profile("eve@example.com").name;
        assert_eq!(name, "\"><script>alert(1)</script> Bcc: x@evil.example");
        let (_, page) = call(&app, "GET", &format!("/preferences?token={token}"), "").await;
        assert!(!page.contains("<script>"), "{page}");
    }

    // The welcome mail.

    /// A message's parts, decoded: (text, HTML).
    fn parts(raw: &[u8]) -> (String, String) {
        let msg = mail_parser::MessageParser::default().parse(raw).unwrap();
        (
            msg.body_text(0).unwrap().replace("\r\n", "\n"),
            msg.body_html(0).unwrap().to_string(),
        )
    }

    impl Fixture {
        /// Signs `email` up for `lists` (`list=a&list=b`) as "Ann" and confirms.
        async fn sign_up_and_confirm(&self, app: &Router, email: &str, lists: &str) {
            let before = self.sent.lock().unwrap().len();
            let body = format!("email={}&name=Ann&list=&{lists}", email.replace('@', "%40"));
            assert_eq!(
                call(app, "POST", "/subscribe", &body).await.0,
                StatusCode::OK
            );
            let raw = self.sent.lock().unwrap()[before].2.clone();
            let (status, page) = call(
                app,
                "POST",
                "/confirm",
                &format!("token={}", token_in(&raw)),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{page}");
        }
    }

    #[tokio::test]
    async fn a_confirmed_sign_up_gets_one_welcome_mail_with_its_lists_and_links() {
        let f = fixture();
        let app = f.app_at(T0);
        f.sign_up_and_confirm(&app, "ann@example.com", "list=seo&list=weekly")
            .await;
        let sent = f.sent.lock().unwrap().clone();
        let folders: Vec<&str> = sent.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(folders, ["confirm", "welcome"]);
        assert_eq!(sent[1].1.to, "ann@example.com");
        let raw = String::from_utf8_lossy(&sent[1].2).into_owned();
        let headers = raw.split("\r\n\r\n").next().unwrap();
        assert!(
            headers.contains("Subject: Welcome to Test <Site>"),
            "{headers}"
        );
        assert!(
            headers.contains("List-Unsubscribe: <http://127.0.0.1:8080/unsubscribe?token="),
            "{headers}"
        );
        assert!(
            headers.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"),
            "{headers}"
        );
        assert!(
            headers.contains("Auto-Submitted: auto-generated"),
            "{headers}"
        );
        let (text, html) = parts(&sent[1].2);
        assert!(text.starts_with("Hi Ann,"), "{text}");
        assert!(
            text.contains("- SEO: every post\n- The week: weekly on Monday at 08:00\n"),
            "{text}"
        );
        assert!(
            !text.contains("Everything"),
            "only the lists joined: {text}"
        );
        assert!(html.contains("weekly on Monday at 08:00"), "{html}");
        // Its links work: the preferences page, and the unsubscribe of the lists joined.
        let key = f.db().key_of("ann@example.com").unwrap().unwrap();
        let prefs = crate::newsletter::links::preferences_url(&f.config, &f.secret(), &key);
        assert!(text.contains(&prefs), "{text}");
        assert!(html.contains(&prefs), "{html}");
        let unsub = crate::newsletter::links::unsubscribe_url(
            &f.config,
            &f.secret(),
            &key,
            &["seo".into(), "weekly".into()],
        );
        assert!(headers.contains(&unsub), "{headers}");

        // A link used twice sends nothing more.
        let token = token_in(&sent[0].2);
        assert_eq!(
            call(&app, "POST", "/confirm", &format!("token={token}"))
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
        assert_eq!(f.sent.lock().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn no_welcome_mail_when_the_site_turns_it_off() {
        let f = fixture_with("  welcome: false\n");
        let app = f.app_at(T0);
        f.sign_up_and_confirm(&app, "ann@example.com", "list=all")
            .await;
        let folders: Vec<String> = f.sent.lock().unwrap().iter().map(|s| s.0.clone()).collect();
        assert_eq!(folders, ["confirm"]);
        assert_eq!(f.profile("ann@example.com").lists, ["all"]);
    }

    /// Takes confirmation mails, refuses welcome mails.
    struct NoWelcome(Sent);

    impl Transport for NoWelcome {
        fn send(&self, folder: &str, envelope: &Envelope, raw: &[u8]) -> Result<String, Failure> {
            if folder == "welcome" {
                return Err(Failure::Transient("451 4.3.0 greylisted".into()));
            }
            Recorder(self.0.clone()).send(folder, envelope, raw)
        }
    }

    #[tokio::test]
    async fn a_welcome_mail_that_fails_is_logged_and_the_sign_up_stands() {
        let f = fixture();
        let app = f.app_with(T0, Box::new(NoWelcome(f.sent.clone())));
        f.sign_up_and_confirm(&app, "ann@example.com", "list=all")
            .await;
        let p = f.profile("ann@example.com");
        assert_eq!(
            (p.status, p.lists),
            (MemberStatus::Active, vec!["all".to_string()])
        );
        let log = f.log.lock().unwrap().join("\n");
        assert!(
            log.contains("POST /confirm 200")
                && log.contains("welcome mail not sent: deferred: 451 4.3.0 greylisted"),
            "{log}"
        );
        assert!(!log.contains("ann@example.com"), "{log}");
    }
}

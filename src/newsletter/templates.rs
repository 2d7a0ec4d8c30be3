//! The templates: built into the binary (`include_str!` of the repo's `templates/`, so repo and
//! binary agree), each overridable by a file of the same name in `templates_dir`.
//!
//! HTML templates escape every value (`{{x}}`); text templates and the subject escape nothing.

use handlebars::{Handlebars, no_escape};
use serde::Serialize;

use crate::config::Config;
use crate::error::{Diagnostic, Error, Location, Result};

/// (file name, built-in text).
pub const DEFAULTS: &[(&str, &str)] = &[
    (
        "email.html.hbs",
        include_str!("../../templates/email.html.hbs"),
    ),
    (
        "email.txt.hbs",
        include_str!("../../templates/email.txt.hbs"),
    ),
    (
        "digest.html.hbs",
        include_str!("../../templates/digest.html.hbs"),
    ),
    (
        "digest.txt.hbs",
        include_str!("../../templates/digest.txt.hbs"),
    ),
    (
        "confirm.html.hbs",
        include_str!("../../templates/confirm.html.hbs"),
    ),
    (
        "confirm.txt.hbs",
        include_str!("../../templates/confirm.txt.hbs"),
    ),
    (
        "page.html.hbs",
        include_str!("../../templates/page.html.hbs"),
    ),
    (
        "welcome.html.hbs",
        include_str!("../../templates/welcome.html.hbs"),
    ),
    (
        "welcome.txt.hbs",
        include_str!("../../templates/welcome.txt.hbs"),
    ),
];

/// The compiled templates of a site.
pub struct Templates {
    html: Handlebars<'static>,
    text: Handlebars<'static>,
}

/// The name under which the config's `newsletter.subject` is registered.
const SUBJECT: &str = "subject";

/// The name under which a digest list's `digest.subject` is registered.
fn digest_subject(list: &str) -> String {
    format!("digest-subject:{list}")
}

impl Templates {
    /// Loads the built-in templates, overridden by files in `templates_dir`, and the subject.
    /// Every template that fails to compile is reported.
    pub fn load(config: &Config) -> Result<Templates> {
        let mut html = Handlebars::new();
        html.set_strict_mode(false);
        let mut text = Handlebars::new();
        text.register_escape_fn(no_escape);
        let mut problems = Vec::new();
        for (name, builtin) in DEFAULTS {
            let path = config.templates_dir.join(name);
            let source = match std::fs::read_to_string(&path) {
                Ok(s) => s,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => builtin.to_string(),
                Err(e) => return Err(Error::io(&path, e)),
            };
            let registry = if name.ends_with(".html.hbs") {
                &mut html
            } else {
                &mut text
            };
            if let Err(e) = registry.register_template_string(name, source) {
                let line = e.pos().map(|(l, _)| l).unwrap_or(1);
                let reason = e.reason().to_string();
                problems.push(Diagnostic::at(
                    Location::line(config.display(&path), line),
                    format!("invalid template: {reason}"),
                ));
            }
        }
        if let Some(n) = &config.newsletter
            && let Err(e) = text.register_template_string(SUBJECT, &n.subject)
        {
            problems.push(Diagnostic::at(
                config.location(&["newsletter", "subject"]),
                format!("invalid subject template: {}", e.reason()),
            ));
        }
        let digests = config
            .newsletter
            .iter()
            .flat_map(|n| n.lists.iter().enumerate());
        for (i, list) in digests {
            let Some(d) = &list.digest else { continue };
            if let Err(e) = text.register_template_string(&digest_subject(&list.id), &d.subject) {
                let item = crate::config::item(i);
                problems.push(Diagnostic::at(
                    config.location(&["newsletter", "lists", &item, "digest", "subject"]),
                    format!("invalid digest subject template: {}", e.reason()),
                ));
            }
        }
        if problems.is_empty() {
            Ok(Templates { html, text })
        } else {
            Err(Error::Invalid(problems))
        }
    }

    /// Renders `name` (`email.html.hbs`, `page.html.hbs`, ...) with `data`.
    pub fn render<T: Serialize>(&self, name: &str, data: &T) -> Result<String> {
        let registry = if name.ends_with(".html.hbs") {
            &self.html
        } else {
            &self.text
        };
        registry
            .render(name, data)
            .map_err(|e| Error::msg(format!("template {name}: {e}")))
    }

    /// The subject line of a post's mail, on one line.
    pub fn subject<T: Serialize>(&self, data: &T) -> Result<String> {
        self.one_line(SUBJECT, data)
    }

    /// The subject line of `list`'s digest, on one line.
    pub fn digest_subject<T: Serialize>(&self, list: &str, data: &T) -> Result<String> {
        self.one_line(&digest_subject(list), data)
    }

    fn one_line<T: Serialize>(&self, name: &str, data: &T) -> Result<String> {
        let s = self
            .text
            .render(name, data)
            .map_err(|e| Error::msg(format!("subject template: {e}")))?;
        Ok(crate::config::one_line(&s))
    }
}

#[cfg(test)]
mod tests {
    use super::DEFAULTS;

    /// No built-in mail hides text the way spam filters punish: drawn in a transparent or
    /// background colour, at a tiny size, or padded with invisible filler characters. The
    /// preheader is hidden by `display:none` and `mso-hide:all` only.
    #[test]
    fn no_built_in_mail_hides_text_the_way_spam_filters_read_as_hidden() {
        let mails = [
            "email.html.hbs",
            "digest.html.hbs",
            "confirm.html.hbs",
            "welcome.html.hbs",
        ];
        let checked: Vec<_> = DEFAULTS.iter().filter(|(n, _)| mails.contains(n)).collect();
        assert_eq!(checked.len(), mails.len());
        for (name, text) in checked {
            let flat = text.replace(' ', "").to_lowercase();
            for tell in [
                "color:transparent",
                "opacity:0",
                "font-size:0",
                "font-size:1px",
                "&#8199;",
                "&#65279;",
                "&#847;",
                "\u{200b}",
            ] {
                assert!(!flat.contains(tell), "{name} has {tell}");
            }
            assert!(
                flat.contains(r#"<divclass="preheader"style="display:none;max-height:0;overflow:hidden;mso-hide:all">"#),
                "{name}: the preheader"
            );
        }
    }
}

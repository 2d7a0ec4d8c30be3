//! Which posts a digest list's next mail holds, and when it goes out.
//!
//! The first `publish` at or after a slot fixes that slot's digest: every post the list takes
//! (its tags), dated on or after `newsletter.start`, that became due after the list's previous
//! fixed slot and at or before this one, and that no earlier digest of the list held. Slots
//! that cron missed fold into the one digest, which then covers everything since the last.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::lists;
use crate::config::{Config, List, Newsletter};
use crate::content::{Content, Post};

/// The slot `list`'s digest is due for at `now`, if one passed since `last` (the list's latest
/// fixed slot): the latest slot at or before `now`. `None` for a list without a digest.
pub fn due_slot(
    config: &Config,
    list: &List,
    now: DateTime<Utc>,
    last: Option<i64>,
) -> Option<DateTime<Utc>> {
    let slot = list
        .digest
        .as_ref()?
        .slot_at_or_before(config.site.timezone, now);
    (last.is_none_or(|l| l < slot.timestamp())).then_some(slot)
}

/// The next digest of `list` that will carry mail, as far as is known at `now`: its slot and
/// the posts waiting for it (due by `now`). A slot already passed but not yet fixed comes
/// first, if it has posts; otherwise the first slot after `now`. `None` for a list without a
/// digest.
pub fn next<'c>(
    config: &Config,
    n: &Newsletter,
    list: &List,
    content: &'c Content,
    now: DateTime<Utc>,
    mut last: Option<i64>,
    digested: &HashSet<String>,
) -> Option<(DateTime<Utc>, Vec<&'c Post>)> {
    let d = list.digest.as_ref()?;
    if let Some(slot) = due_slot(config, list, now, last) {
        let waiting = posts(n, list, content, slot, last, digested);
        if !waiting.is_empty() {
            return Some((slot, waiting));
        }
        // That slot is fixed empty: what is due after it waits for the next.
        last = Some(slot.timestamp());
    }
    let slot = d.next_after(config.site.timezone, now);
    Some((slot, posts(n, list, content, now, last, digested)))
}

/// The first slot after `now` of any digest list: when a site unchanged since then still has
/// work to do.
pub fn next_change(config: &Config, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let n = config.newsletter.as_ref()?;
    n.lists
        .iter()
        .filter_map(|l| l.digest.as_ref())
        .map(|d| d.next_after(config.site.timezone, now))
        .min()
}

/// The posts `list`'s digest at `until` holds, oldest first (see the module's rule): due at or
/// before `until` and after `last`, not in `digested`.
pub fn posts<'c>(
    n: &Newsletter,
    list: &List,
    content: &'c Content,
    until: DateTime<Utc>,
    last: Option<i64>,
    digested: &HashSet<String>,
) -> Vec<&'c Post> {
    let mut out: Vec<&Post> = content
        .published(until)
        .into_iter()
        .filter(|p| {
            let due = p.due().timestamp();
            p.date >= n.start
                && last.is_none_or(|l| due > l)
                && lists::takes(list, p)
                && !digested.contains(&p.slug)
        })
        .collect();
    out.sort_by(|a, b| a.due().cmp(&b.due()).then_with(|| a.slug.cmp(&b.slug)));
    out
}

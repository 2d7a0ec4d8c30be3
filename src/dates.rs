//! The date forms posts and the config accept (README "Posts"): `2025-05-08` (midnight),
//! `2025-05-08 14:30`, `2025-05-08T14:30:00` (all in `site.timezone`), or RFC 3339 with offset.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
};
use chrono_tz::Tz;

const LOCAL_FORMS: &[&str] = &[
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
];

/// What a bad date was expected to look like, for error messages.
pub const EXPECTED: &str = "expected 2025-05-08, 2025-05-08 14:30 or RFC 3339";

/// Parses one of the accepted forms; dates without an offset are read in `tz`.
///
/// Only four-digit years (0000 to 9999) are dates: chrono also reads `+10000-01-01` and
/// `-0001-01-01`, which no feed format can carry (RFC 2822 has four-digit years; chrono's
/// `to_rfc2822` panics on them).
pub fn parse(s: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    parse_any_year(s, tz).filter(|d| (0..=9999).contains(&d.year()))
}

fn parse_any_year(s: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let s = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt);
    }
    let naive = if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        d.and_time(NaiveTime::MIN)
    } else {
        LOCAL_FORMS
            .iter()
            .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())?
    };
    localize(naive, tz)
}

/// A wall-clock time in `tz`. In a DST fold the earlier instant wins; a time that falls in a
/// DST gap is moved forward by the gap, as a wall clock would be.
fn localize(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<FixedOffset>> {
    // Checked: near chrono's last representable date the hour would overflow (and `+` panics).
    let local = tz.from_local_datetime(&naive).earliest().or_else(|| {
        let later = naive.checked_add_signed(chrono::Duration::hours(1))?;
        tz.from_local_datetime(&later).earliest()
    })?;
    Some(local.fixed_offset())
}

// The lenient reading: the date forms that Hugo, Jekyll, Zola and Eleventy sites carry in front
// matter and file names, so that herald can read such a site unchanged. A form without a zone
// is read in `tz`, as `parse` does.

/// `parse`'s forms, and ISO, RFC 2822-like and English dates with any zone; zone-less ones in `tz`.
pub fn parse_lenient(s: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    // The ISO forms: a date, a space or `T`, a one- or two-digit hour, optional seconds and
    // fraction, and a zone of `Z`, `±h`, `±hh`, `±hhmm`, `±hh:mm` or a name (a name after an
    // offset is ignored: `-0700 MST`); `24:00` ends the day; also `YYYY-MM`, `YYYY-Www-d`,
    // `YYYY-ddd`. The English forms: `Mon, 02 Jan 2006 15:04:05 MST`, `02-Jan-06 15:04 -0700`,
    // `Jan 2 15:04:05 2006`, `January 2, 2006 3:04pm`, a weekday never checked. `UTC`, `UT`,
    // `GMT` and `Z` are UTC, `EST` to `PDT` the US zones, and any other name of capitals is
    // ignored (the wall clock of `tz`). Years 0000 to 9999 only.
    let s = s.trim();
    parse(s, tz)
        .or_else(|| iso_form(s, tz))
        .or_else(|| english_form(s, tz))
        .filter(|d| (0..=9999).contains(&d.year()))
}

/// A stem's leading `YYYY-MM-DD` (or RFC 3339 date-time), alone or before `-`/`_`; and the rest.
pub fn date_prefix(stem: &str) -> Option<(NaiveDate, &str)> {
    // One space may come before the `-` or `_` (`2025-05-08 - hello`, rest ` hello`); months and
    // days may have one digit; a date-time gives its date as written.
    let mut c = Scan::new(stem);
    let date = c.date()?;
    let before_time = c.pos;
    if !(c.eat(b'T') && c.rfc3339_time()) {
        c.pos = before_time;
    }
    if c.done() {
        return Some((date, ""));
    }
    c.eat_any(b" \t");
    c.eat_any(b"-_")?;
    Some((date, c.rest()))
}

/// Where a reading of a time zone leads.
enum Zone {
    /// No zone given, or a name herald does not know: the wall clock of `tz`.
    Local,
    Fixed(FixedOffset),
}

/// An ASCII cursor over the text of a date.
struct Scan<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scan<'a> {
    fn new(text: &'a str) -> Self {
        Scan { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn done(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or("")
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn eat_any(&mut self, set: &[u8]) -> Option<u8> {
        let b = self.peek().filter(|b| set.contains(b))?;
        self.pos += 1;
        Some(b)
    }

    /// Skips spaces and tabs; how many there were.
    fn spaces(&mut self) -> usize {
        let start = self.pos;
        while self.eat_any(b" \t").is_some() {}
        self.pos - start
    }

    /// `min` to `max` ASCII digits (as many as there are, up to `max`) and how many.
    fn digits(&mut self, min: usize, max: usize) -> Option<(u32, usize)> {
        let start = self.pos;
        let mut value: u32 = 0;
        while self.pos - start < max {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    value = value.saturating_mul(10).saturating_add(u32::from(b - b'0'));
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let n = self.pos - start;
        if n < min {
            self.pos = start;
            return None;
        }
        Some((value, n))
    }

    fn number(&mut self, min: usize, max: usize) -> Option<u32> {
        self.digits(min, max).map(|(v, _)| v)
    }

    /// A run of ASCII letters, lower-cased.
    fn word(&mut self) -> String {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        self.text
            .get(start..self.pos)
            .unwrap_or("")
            .to_ascii_lowercase()
    }

    /// `YYYY-M[M]-D[D]`, a real calendar date.
    fn date(&mut self) -> Option<NaiveDate> {
        let year = self.number(4, 4)?;
        self.eat(b'-').then_some(())?;
        let month = self.number(1, 2)?;
        self.eat(b'-').then_some(())?;
        let day = self.number(1, 2)?;
        NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
    }

    /// `hh:mm:ss[.f]` and `Z` or `±hh:mm`, two digits each, as RFC 3339 has them.
    fn rfc3339_time(&mut self) -> bool {
        let two = |c: &mut Self, max: u32| c.digits(2, 2).is_some_and(|(v, _)| v <= max);
        let clock =
            two(self, 23) && self.eat(b':') && two(self, 59) && self.eat(b':') && two(self, 60);
        if !clock || (self.eat(b'.') && self.digits(1, usize::MAX).is_none()) {
            return false;
        }
        self.eat(b'Z')
            || (self.eat_any(b"+-").is_some() && two(self, 23) && self.eat(b':') && two(self, 59))
    }

    /// `H[H]:MM[:SS[.fraction]]`; with `hour_alone`, also a bare hour. `24:00` is the midnight
    /// that ends the day: the time, and whether it is on the next day.
    fn clock(&mut self, hour_alone: bool) -> Option<(NaiveTime, bool)> {
        let hour = self.number(1, 2)?;
        let mut minute = 0;
        let mut second = 0;
        let mut nano = 0;
        if self.eat(b':') {
            minute = self.number(2, 2)?;
            if self.eat(b':') {
                second = self.number(2, 2)?;
                if self.eat_any(b".,").is_some() {
                    let (digits, n) = self.digits(1, 9)?;
                    nano = digits * 10u32.pow(u32::try_from(9 - n).ok()?);
                    // Finer than a nanosecond: read, not kept.
                    let _ = self.digits(0, usize::MAX);
                }
            }
        } else if !hour_alone {
            return None;
        }
        if (hour, minute, second, nano) == (24, 0, 0, 0) {
            return Some((NaiveTime::MIN, true));
        }
        Some((
            NaiveTime::from_hms_nano_opt(hour, minute, second, nano)?,
            false,
        ))
    }

    /// `±h`, `±hh`, `±hhmm` or `±hh:mm`.
    fn offset(&mut self) -> Option<FixedOffset> {
        let sign = match self.eat_any(b"+-")? {
            b'-' => -1,
            _ => 1,
        };
        let (hours, n) = self.digits(1, 2)?;
        let minutes = if n == 2 && self.eat(b':') {
            self.number(2, 2)?
        } else {
            self.number(2, 2).unwrap_or(0)
        };
        if minutes > 59 {
            return None;
        }
        FixedOffset::east_opt(sign * i32::try_from(hours * 3600 + minutes * 60).ok()?)
    }

    /// A zone after a time: `Z`, an offset, or a name (see `zone_name`). An offset or `Z` may
    /// be followed by a name, which is ignored (`-0700 MST`).
    fn zone(&mut self) -> Option<Zone> {
        self.spaces();
        if self.done() {
            return Some(Zone::Local);
        }
        let fixed = if self.eat(b'Z') || self.eat(b'z') {
            FixedOffset::east_opt(0)?
        } else if matches!(self.peek(), Some(b'+' | b'-')) {
            self.offset()?
        } else {
            return zone_name(self.word_as_written());
        };
        let before = self.pos;
        if self.spaces() == 0 || zone_name(self.word_as_written()).is_none() {
            self.pos = before;
        }
        Some(Zone::Fixed(fixed))
    }

    /// A run of ASCII letters as written.
    fn word_as_written(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            self.pos += 1;
        }
        self.text.get(start..self.pos).unwrap_or("")
    }
}

/// A zone name: `UTC`, `UT`, `GMT` or `Z` (in any case) is UTC, the US zones of RFC 822 (`EST`,
/// `EDT`, `CST`, `CDT`, `MST`, `MDT`, `PST`, `PDT`) have their offsets, and any other name of two
/// to five capitals is the wall clock of the site (`Local`). `None` for anything else.
fn zone_name(name: &str) -> Option<Zone> {
    let hours = match name.to_ascii_lowercase().as_str() {
        "utc" | "ut" | "gmt" | "z" => 0,
        "edt" => -4,
        "est" | "cdt" => -5,
        "cst" | "mdt" => -6,
        "mst" | "pdt" => -7,
        "pst" => -8,
        _ => {
            let capitals =
                (2..=5).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_uppercase());
            return capitals.then_some(Zone::Local);
        }
    };
    FixedOffset::east_opt(hours * 3600).map(Zone::Fixed)
}

/// A date and wall-clock time placed in its zone.
fn place(naive: NaiveDateTime, zone: Zone, tz: Tz) -> Option<DateTime<FixedOffset>> {
    match zone {
        Zone::Local => localize(naive, tz),
        Zone::Fixed(offset) => offset.from_local_datetime(&naive).single(),
    }
}

/// The numeric forms: `YYYY-MM-DD` then a time and zone, `YYYY-MM`, `YYYY-Www[-d]`, `YYYY-ddd`.
fn iso_form(s: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let mut c = Scan::new(s);
    let year = i32::try_from(c.number(4, 4)?).ok()?;
    c.eat(b'-').then_some(())?;
    let date = if c.eat(b'W') {
        let week = c.number(2, 2)?;
        let day = if c.eat(b'-') { c.number(1, 1)? } else { 1 };
        let weekday = chrono::Weekday::try_from(u8::try_from(day.checked_sub(1)?).ok()?).ok()?;
        NaiveDate::from_isoywd_opt(year, week, weekday)?
    } else {
        let (first, n) = c.digits(1, 3)?;
        if n == 3 {
            NaiveDate::from_yo_opt(year, first)?
        } else if c.eat(b'-') {
            NaiveDate::from_ymd_opt(year, first, c.number(1, 2)?)?
        } else {
            // `YYYY-MM`: the first of the month, and nothing may follow.
            let first_of_month = NaiveDate::from_ymd_opt(year, first, 1)?;
            return (n == 2 && c.done())
                .then(|| localize(first_of_month.and_time(NaiveTime::MIN), tz))?;
        }
    };
    if c.done() {
        return localize(date.and_time(NaiveTime::MIN), tz);
    }
    let t = c.eat(b'T') || c.eat(b't');
    let (time, next_day) = if t || c.spaces() > 0 {
        let before = c.pos;
        match c.clock(t) {
            Some(clock) => clock,
            // A date and a zone with no time: midnight in that zone.
            None if !t => {
                c.pos = before;
                (NaiveTime::MIN, false)
            }
            None => return None,
        }
    } else {
        return None;
    };
    let zone = c.zone()?;
    c.done().then_some(())?;
    let date = if next_day { date.succ_opt()? } else { date };
    place(date.and_time(time), zone, tz)
}

/// The English forms: an optional weekday, a day, a month name and a year in either order
/// (`02 Jan 2006`, `Jan 2, 2006`, `02-Jan-06`), an optional time with `am`/`pm`, and a zone,
/// the year possibly after the time (`Mon Jan 2 15:04:05 MST 2006`).
fn english_form(s: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let mut day = None;
    let mut month = None;
    let mut year = None;
    let mut time: Option<(NaiveTime, bool)> = None;
    let mut pm = None;
    let mut zone = None;
    let mut seen_weekday = false;
    // `02-Jan-06` (RFC 850) reads as `02 Jan 06`.
    let spaced: String = s
        .split([' ', '\t', ','])
        .map(|token| {
            let parts: Vec<&str> = token.split('-').collect();
            let dashed = parts.len() == 3
                && parts[1].bytes().all(|b| b.is_ascii_alphabetic())
                && !parts[1].is_empty();
            if dashed {
                parts.join(" ")
            } else {
                token.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    for token in spaced.split(' ').filter(|t| !t.is_empty()) {
        let lower = token.to_ascii_lowercase();
        let mut c = Scan::new(token);
        if token.contains(':') {
            if time.is_some() {
                return None;
            }
            time = Some(c.clock(false)?);
            let rest = c.word();
            match rest.as_str() {
                "" => {}
                "am" | "pm" => pm = Some(rest == "pm"),
                _ => return None,
            }
            c.done().then_some(())?;
        } else if lower == "am" || lower == "pm" {
            pm = Some(lower == "pm");
        } else if let Some(m) = month_number(&lower) {
            month.replace(m).is_none().then_some(())?;
        } else if is_weekday(&lower) {
            if seen_weekday || day.is_some() || month.is_some() {
                return None;
            }
            seen_weekday = true;
        } else if token.starts_with(['+', '-']) || (time.is_some() && zone_name(token).is_some()) {
            if zone.is_some() || time.is_none() {
                return None;
            }
            zone = Some(if token.starts_with(['+', '-']) {
                let offset = c.offset()?;
                c.done().then_some(())?;
                Zone::Fixed(offset)
            } else {
                zone_name(token)?
            });
        } else {
            let (value, n) = c.digits(1, 4)?;
            // `2nd`, `6th`: a day.
            let suffix = c.word();
            c.done().then_some(())?;
            let ordinal = matches!(suffix.as_str(), "st" | "nd" | "rd" | "th");
            if !suffix.is_empty() && !ordinal {
                return None;
            }
            if n == 4 && !ordinal {
                year.replace(i32::try_from(value).ok()?)
                    .is_none()
                    .then_some(())?;
            } else if n <= 2 && day.is_none() {
                day = Some(value);
            } else if n == 2 && year.is_none() && !ordinal {
                // A two-digit year: 69 to 99 are 1969 to 1999, 00 to 68 are 2000 to 2068.
                let value = i32::try_from(value).ok()?;
                year = Some(if value >= 69 {
                    1900 + value
                } else {
                    2000 + value
                });
            } else {
                return None;
            }
        }
    }
    let mut date = NaiveDate::from_ymd_opt(year?, month?, day?)?;
    let (mut time, next_day) = time.unwrap_or((NaiveTime::MIN, false));
    if next_day {
        date = date.succ_opt()?;
    }
    if let Some(pm) = pm {
        if next_day {
            return None;
        }
        let hour = time.hour();
        if !(1..=12).contains(&hour) {
            return None;
        }
        time = time.with_hour(hour % 12 + if pm { 12 } else { 0 })?;
    }
    place(date.and_time(time), zone.unwrap_or(Zone::Local), tz)
}

/// The number of an English month name or its abbreviation of three letters or more.
fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let word = word.strip_suffix('.').unwrap_or(word);
    if word.len() < 3 {
        return None;
    }
    let index = MONTHS.iter().position(|m| m.starts_with(word))?;
    u32::try_from(index + 1).ok()
}

/// Whether `word` is an English weekday or its abbreviation of three letters or more.
fn is_weekday(word: &str) -> bool {
    const DAYS: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    let word = word.strip_suffix('.').unwrap_or(word);
    word.len() >= 3 && DAYS.iter().any(|d| d.starts_with(word))
}
/// A length of time as people say it, rounded down: `15 days`, `36 hours`, `1 minute`.
pub fn span(t: chrono::TimeDelta) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match (t.num_days(), t.num_hours(), t.num_minutes()) {
        (d, _, _) if d >= 2 => plural(d, "day"),
        (_, h, _) if h >= 2 => plural(h, "hour"),
        (_, _, m) => plural(m, "minute"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_read_as_people_say_them() {
        use chrono::TimeDelta;
        assert_eq!(span(TimeDelta::days(7)), "7 days");
        assert_eq!(span(TimeDelta::hours(36)), "36 hours");
        assert_eq!(span(TimeDelta::hours(49)), "2 days");
        assert_eq!(span(TimeDelta::minutes(61)), "61 minutes");
        assert_eq!(span(TimeDelta::seconds(60)), "1 minute");
    }

    use super::*;

    fn p(s: &str, tz: &str) -> String {
        parse(s, tz.parse().unwrap())
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn accepts_every_form() {
        assert_eq!(p("2025-05-08", "UTC"), "2025-05-08T00:00:00+00:00");
        assert_eq!(
            p("2025-05-08 14:30", "Europe/Berlin"),
            "2025-05-08T14:30:00+02:00"
        );
        assert_eq!(
            p("2025-05-08T14:30:00", "Europe/Berlin"),
            "2025-05-08T14:30:00+02:00"
        );
        assert_eq!(
            p("2025-01-08T14:30:00", "Europe/Berlin"),
            "2025-01-08T14:30:00+01:00"
        );
        assert_eq!(
            p("2025-05-08T14:30:00+09:00", "Europe/Berlin"),
            "2025-05-08T14:30:00+09:00"
        );
        assert_eq!(
            p("2025-05-08T14:30:00Z", "Europe/Berlin"),
            "2025-05-08T14:30:00+00:00"
        );
    }

    #[test]
    fn rejects_nonsense() {
        assert_eq!(p("2025-13-08", "UTC"), "none");
        assert_eq!(p("yesterday", "UTC"), "none");
        assert_eq!(p("", "UTC"), "none");
        // Years a feed cannot carry (RFC 2822 dates have four-digit years).
        assert_eq!(p("+10000-01-01", "UTC"), "none");
        assert_eq!(p("-0001-01-01", "UTC"), "none");
        assert_eq!(p("-0001-01-01 12:00", "Europe/Berlin"), "none");
        assert_eq!(p("0000-01-01", "UTC"), "0000-01-01T00:00:00+00:00");
        assert_eq!(
            p("9999-12-31T23:59:59-12:00", "UTC"),
            "9999-12-31T23:59:59-12:00"
        );
        // At the end of chrono's range the local time cannot be placed: none, not a panic.
        assert_eq!(p("+262142-12-31 23:30", "America/New_York"), "none");
    }

    #[test]
    fn dst_gap_moves_forward() {
        assert_eq!(
            p("2025-03-30 02:30", "Europe/Berlin"),
            "2025-03-30T03:30:00+02:00"
        );
    }

    fn lenient(s: &str, tz: &str) -> String {
        parse_lenient(s, tz.parse().unwrap())
            .map(|d| d.to_rfc3339())
            .unwrap_or_else(|| "none".into())
    }

    #[test]
    fn lenient_accepts_what_parse_accepts() {
        for s in [
            "2025-05-08",
            "2025-05-08 14:30",
            "2025-05-08T14:30:00",
            "2025-01-08T14:30:00",
            "2025-05-08T14:30:00+09:00",
            "2025-05-08T14:30:00Z",
            "0000-01-01",
            "9999-12-31T23:59:59-12:00",
            "2025-03-30 02:30",
            "2025-10-26 02:30",
        ] {
            assert_eq!(lenient(s, "Europe/Berlin"), p(s, "Europe/Berlin"), "{s}");
        }
    }

    #[test]
    fn lenient_reads_jekyll_dates() {
        let cases = [
            ("2013-05-06 02:12:52 +0200", "2013-05-06T02:12:52+02:00"),
            ("2014-12-17 11:16:21 -0800", "2014-12-17T11:16:21-08:00"),
            ("2014-12-17 11:16 -0800", "2014-12-17T11:16:00-08:00"),
            ("2014-12-17 11:16:21 -08:00", "2014-12-17T11:16:21-08:00"),
            ("2014-12-17T11:16:21-0800", "2014-12-17T11:16:21-08:00"),
            ("2014-12-17 11:16:21 +02", "2014-12-17T11:16:21+02:00"),
            ("2014-12-17 11:16:21+5", "2014-12-17T11:16:21+05:00"),
            ("2014-12-17  11:16:21", "2014-12-17T11:16:21+01:00"),
            ("2014-12-17\t11:16", "2014-12-17T11:16:00+01:00"),
            ("2014-1-7 9:05:00", "2014-01-07T09:05:00+01:00"),
            ("2014-1-7", "2014-01-07T00:00:00+01:00"),
        ];
        for (s, want) in cases {
            assert_eq!(lenient(s, "Europe/Berlin"), want, "{s}");
        }
    }

    #[test]
    fn lenient_reads_hugo_dates() {
        let cases = [
            ("2021-10-01 8:30:00+00:00", "2021-10-01T08:30:00+00:00"),
            ("2021-10-01T8:30:00+00:00", "2021-10-01T08:30:00+00:00"),
            ("2006-01-02 15:04:05Z", "2006-01-02T15:04:05+00:00"),
            ("2006-01-02 15:04:05-07:00", "2006-01-02T15:04:05-07:00"),
            ("2006-01-02 15:04:05 -07:00", "2006-01-02T15:04:05-07:00"),
            ("2006-01-02 15:04:05 -0700", "2006-01-02T15:04:05-07:00"),
            ("2006-01-02 15:04:05-0700", "2006-01-02T15:04:05-07:00"),
            ("2006-01-02T15:04:05", "2006-01-02T15:04:05-05:00"),
            (
                "2006-01-02T15:04:05.123456789Z",
                "2006-01-02T15:04:05.123456789+00:00",
            ),
            (
                "2006-01-02T15:04:05.123456789",
                "2006-01-02T15:04:05.123456789-05:00",
            ),
            // Beyond nanoseconds the digits are read and dropped.
            (
                "2006-01-02T15:04:05.1234567891234Z",
                "2006-01-02T15:04:05.123456789+00:00",
            ),
            (
                "2006-01-02 15:04:05.999999999 -0700 MST",
                "2006-01-02T15:04:05.999999999-07:00",
            ),
            // The name after an offset is ignored, whatever it says.
            ("2006-01-02 15:04:05 +0000 UTC", "2006-01-02T15:04:05+00:00"),
            ("2006-01-02 15:04:05 +0100 PST", "2006-01-02T15:04:05+01:00"),
            ("2006-01-02", "2006-01-02T00:00:00-05:00"),
        ];
        for (s, want) in cases {
            assert_eq!(lenient(s, "America/New_York"), want, "{s}");
        }
    }

    #[test]
    fn lenient_reads_rfc_1123_822_850_and_unix_forms() {
        let cases = [
            // RFC 1123 with an offset, then with zone names.
            (
                "Mon, 02 Jan 2006 15:04:05 -0700",
                "2006-01-02T15:04:05-07:00",
            ),
            ("Mon, 02 Jan 2006 15:04:05 MST", "2006-01-02T15:04:05-07:00"),
            ("Mon, 02 Jan 2006 15:04:05 GMT", "2006-01-02T15:04:05+00:00"),
            ("Mon, 02 Jan 2006 15:04:05 UTC", "2006-01-02T15:04:05+00:00"),
            ("Tue, 10 Jun 2003 04:00:00 EDT", "2003-06-10T04:00:00-04:00"),
            // A name herald does not know is the site's wall clock.
            ("Mon, 02 Jan 2006 15:04:05 CET", "2006-01-02T15:04:05+09:00"),
            // RFC 822: two-digit years, no seconds.
            ("02 Jan 06 15:04 -0700", "2006-01-02T15:04:00-07:00"),
            ("02 Jan 06 15:04 MST", "2006-01-02T15:04:00-07:00"),
            ("02 Jan 99 15:04 GMT", "1999-01-02T15:04:00+00:00"),
            ("02 Jan 68 15:04 GMT", "2068-01-02T15:04:00+00:00"),
            ("02 Jan 69 15:04 GMT", "1969-01-02T15:04:00+00:00"),
            // RFC 850.
            (
                "Monday, 02-Jan-06 15:04:05 PST",
                "2006-01-02T15:04:05-08:00",
            ),
            // ANSI C, Unix and Ruby forms: the year after the time.
            ("Mon Jan  2 15:04:05 2006", "2006-01-02T15:04:05+09:00"),
            ("Mon Jan  2 15:04:05 CDT 2006", "2006-01-02T15:04:05-05:00"),
            (
                "Mon Jan 02 15:04:05 -0700 2006",
                "2006-01-02T15:04:05-07:00",
            ),
            // Plain English dates.
            ("02 Jan 2006", "2006-01-02T00:00:00+09:00"),
            ("January 2, 2006", "2006-01-02T00:00:00+09:00"),
            ("Sept. 2, 2006", "2006-09-02T00:00:00+09:00"),
            ("2nd March 2006", "2006-03-02T00:00:00+09:00"),
            ("Jan 2, 2006 3:04pm", "2006-01-02T15:04:00+09:00"),
            ("Jan 2, 2006 12:04 am", "2006-01-02T00:04:00+09:00"),
            ("Jan 2, 2006 12:04 PM", "2006-01-02T12:04:00+09:00"),
            ("2 January 2006 15:04", "2006-01-02T15:04:00+09:00"),
            // The weekday is not checked against the date.
            ("Fri, 02 Jan 2006 15:04:05 GMT", "2006-01-02T15:04:05+00:00"),
        ];
        for (s, want) in cases {
            assert_eq!(lenient(s, "Asia/Tokyo"), want, "{s}");
        }
    }

    #[test]
    fn lenient_reads_toml_datetimes() {
        // As `toml::value::Datetime` prints them.
        let cases = [
            ("1979-05-27T07:32:00Z", "1979-05-27T07:32:00+00:00"),
            ("1979-05-27 07:32:00Z", "1979-05-27T07:32:00+00:00"),
            (
                "1979-05-27T00:32:00.999999-07:00",
                "1979-05-27T00:32:00.999999-07:00",
            ),
            ("1979-05-27T07:32:00", "1979-05-27T07:32:00+01:00"),
            ("1979-05-27T07:32:00.5", "1979-05-27T07:32:00.500+01:00"),
            ("1979-05-27T07:32Z", "1979-05-27T07:32:00+00:00"),
            ("1979-05-27", "1979-05-27T00:00:00+01:00"),
            ("1979-05-27t07:32:00z", "1979-05-27T07:32:00+00:00"),
        ];
        for (s, want) in cases {
            assert_eq!(lenient(s, "Europe/London"), want, "{s}");
        }
        // And the same through the toml crate itself.
        let doc: toml::Table = "a = 1979-05-27 07:32:00Z\nb = 1979-05-27T00:32:00.999999-07:00\n\
            c = 1979-05-27T07:32:00\nd = 1979-05-27"
            .parse()
            .unwrap();
        let printed: Vec<String> = doc
            .values()
            .map(|v| lenient(&v.to_string(), "UTC"))
            .collect();
        assert_eq!(
            printed,
            [
                "1979-05-27T07:32:00+00:00",
                "1979-05-27T00:32:00.999999-07:00",
                "1979-05-27T07:32:00+00:00",
                "1979-05-27T00:00:00+00:00",
            ]
        );
    }

    #[test]
    fn lenient_reads_trailing_zone_names_and_iso_variants() {
        let cases = [
            ("2025-05-08 14:30 UTC", "2025-05-08T14:30:00+00:00"),
            ("2025-05-08 14:30:00 GMT", "2025-05-08T14:30:00+00:00"),
            ("2025-05-08T14:30:00 utc", "2025-05-08T14:30:00+00:00"),
            ("2025-05-08T14:30:00UTC", "2025-05-08T14:30:00+00:00"),
            ("2025-05-08 14:30:00 Z", "2025-05-08T14:30:00+00:00"),
            ("2025-05-08 UTC", "2025-05-08T00:00:00+00:00"),
            ("2025-05-08 +0530", "2025-05-08T00:00:00+05:30"),
            ("  2025-05-08T14:30:00Z  ", "2025-05-08T14:30:00+00:00"),
            ("2025-05", "2025-05-01T00:00:00+02:00"),
            ("2025-W19-4", "2025-05-08T00:00:00+02:00"),
            ("2025-W19", "2025-05-05T00:00:00+02:00"),
            ("2025-128", "2025-05-08T00:00:00+02:00"),
            ("2025-05-08T14", "2025-05-08T14:00:00+02:00"),
            ("2025-05-08T24:00", "2025-05-09T00:00:00+02:00"),
            ("2025-05-08T24:00:00Z", "2025-05-09T00:00:00+00:00"),
            ("2025-05-08T14:30:00,5Z", "2025-05-08T14:30:00.500+00:00"),
        ];
        for (s, want) in cases {
            assert_eq!(lenient(s, "Europe/Berlin"), want, "{s}");
        }
    }

    #[test]
    fn lenient_localizes_like_parse() {
        // A DST gap moves forward, a fold takes the earlier instant.
        assert_eq!(
            lenient("2025-03-30 02:30:00", "Europe/Berlin"),
            "2025-03-30T03:30:00+02:00"
        );
        assert_eq!(
            lenient("Mar 30, 2025 2:30", "Europe/Berlin"),
            "2025-03-30T03:30:00+02:00"
        );
        assert_eq!(
            lenient("2025-10-26 02:30:00", "Europe/Berlin"),
            "2025-10-26T02:30:00+02:00"
        );
    }

    #[test]
    fn lenient_rejects_nonsense() {
        for s in [
            "",
            "   ",
            "garbage",
            "2025-13-01",
            "2025-02-30",
            "2025-02-29",
            "2025-00-10",
            "2025-05-32",
            "2025-05-08 foo",
            "2025-05-08T",
            "2025-05-08T14:30:00+24:00",
            "2025-05-08T14:30:00+05:60",
            "2025-05-08T25:00:00",
            "2025-05-08T14:60:00",
            "2025-05-08T24:30:00",
            "2025-05-08 14:30:00 cet",
            "2025-05-08 14:30:00 ABCDEF",
            "2025-05-08 14:30:00 +0200 junk!",
            "2025-W54-1",
            "2025-W19-8",
            "2025-366",
            "2025-5",
            "10000-01-01",
            "+10000-01-01",
            "-0001-01-01",
            "9999-12-31T24:00:00Z",
            "Jan 2006",
            "32 Jan 2006",
            "Feb 30, 2006",
            "Mon, 02 Foo 2006 15:04:05 GMT",
            "02 Jan 2006 13:04pm",
            "02 Jan 2006 15:04 15:05",
            "Jan Feb 2 2006",
            "2 3 4 2006",
            "02 Jan 2006 GMT",
            "02 Jan 2006 15:04 junk",
            "\u{0}",
            "２０２５-05-08",
        ] {
            assert_eq!(lenient(s, "UTC"), "none", "{s:?}");
        }
    }

    #[test]
    fn lenient_keeps_four_digit_years() {
        assert_eq!(lenient("0000-01-01", "UTC"), "0000-01-01T00:00:00+00:00");
        assert_eq!(
            lenient("9999-12-31T23:59:59Z", "UTC"),
            "9999-12-31T23:59:59+00:00"
        );
        assert_eq!(
            lenient("31 Dec 9999 23:59 -1200", "UTC"),
            "9999-12-31T23:59:00-12:00"
        );
        assert_eq!(lenient("Jan 1 0000", "UTC"), "0000-01-01T00:00:00+00:00");
    }

    fn prefix(stem: &str) -> Option<(String, &str)> {
        date_prefix(stem).map(|(d, rest)| (d.to_string(), rest))
    }

    #[test]
    fn date_prefix_forms() {
        let some = |d: &str, rest: &'static str| Some((d.to_string(), rest));
        // Jekyll and Eleventy: `YYYY-MM-DD-rest`; Jekyll also takes one-digit months and days.
        assert_eq!(
            prefix("2025-05-08-hello-world"),
            some("2025-05-08", "hello-world")
        );
        assert_eq!(prefix("2025-5-8-hello"), some("2025-05-08", "hello"));
        assert_eq!(prefix("2025-05-08-"), some("2025-05-08", ""));
        // Zola: `_` too, one space before the separator, and a bare date.
        assert_eq!(prefix("2025-05-08_hello"), some("2025-05-08", "hello"));
        assert_eq!(prefix("2025-05-08 - hello"), some("2025-05-08", " hello"));
        assert_eq!(prefix("2025-05-08_ 夜の港"), some("2025-05-08", " 夜の港"));
        assert_eq!(prefix("2025-05-08"), some("2025-05-08", ""));
        // Zola: a full RFC 3339 date-time; the date as written is given.
        assert_eq!(
            prefix("2025-05-08T23:30:00-05:00-hello"),
            some("2025-05-08", "hello")
        );
        assert_eq!(
            prefix("2025-05-08T15:00:00Z_hello"),
            some("2025-05-08", "hello")
        );
        assert_eq!(
            prefix("2025-05-08T15:00:00.25+02:00"),
            some("2025-05-08", "")
        );
        // A date-time without a zone is no prefix: `T15` starts no separator.
        assert_eq!(prefix("2025-05-08T15:00:00-hello"), None);
        assert_eq!(prefix("2025-05-08T25:00:00Z-hello"), None);
        // The rest is kept as it is, dots and all.
        assert_eq!(prefix("2025-05-08-v1.2.fr"), some("2025-05-08", "v1.2.fr"));
    }

    #[test]
    fn date_prefix_rejects() {
        for stem in [
            "",
            "hello",
            "2025-05-08hello",
            "2025-05-08.hello",
            "2025-05-08  -hello",
            "2025-13-01-hello",
            "2025-02-30-hello",
            "2025-02-29-hello",
            "2025-05-0-hello",
            "2025-05-123-hello",
            "25-05-08-hello",
            "20250508-hello",
            "hello-2025-05-08",
            "２０２５-05-08-hello",
        ] {
            assert_eq!(prefix(stem), None, "{stem:?}");
        }
        assert_eq!(
            prefix("2024-02-29-leap"),
            Some(("2024-02-29".to_string(), "leap"))
        );
    }
}

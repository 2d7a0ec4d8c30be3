//! `newsletter.lists[].digest`: when a digest list's mail goes out. A schedule is a series of
//! *slots*, instants in `site.timezone`: every day, every week on a weekday, or every month on a
//! day, at a local time of day. A local time that a DST change skips is taken at the first
//! instant after the gap; one that happens twice, at its first occurrence.

use chrono::{
    DateTime, Datelike, Days, LocalResult, Months, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;

/// How often a digest goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Every {
    Day,
    Week(Weekday),
    /// The day of the month (1 to 31); a shorter month's slot is on its last day.
    Month(u32),
}

/// A digest list's schedule and rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub every: Every,
    /// The local time of day of each slot.
    pub at: NaiveTime,
    /// Whole posts instead of summaries.
    pub full_content: bool,
    /// The subject, a handlebars template.
    pub subject: String,
}

/// The default subject of a digest.
pub const DEFAULT_SUBJECT: &str = "{{list.name}}: {{count}} new posts";

impl Digest {
    /// The latest slot at or before `t`.
    pub fn slot_at_or_before(&self, tz: Tz, t: DateTime<Utc>) -> DateTime<Utc> {
        // The slot on the period holding `t`'s local date, else the one before it. A slot
        // can move by DST but never by more than a day, so two steps always suffice.
        let mut date = self.period_start(t.with_timezone(&tz).date_naive());
        loop {
            let slot = self.instant(tz, date);
            if slot <= t {
                return slot;
            }
            date = self.previous(date);
        }
    }

    /// The first slot after `t`.
    pub fn next_after(&self, tz: Tz, t: DateTime<Utc>) -> DateTime<Utc> {
        let mut date = self.period_start(t.with_timezone(&tz).date_naive());
        loop {
            let slot = self.instant(tz, date);
            if slot > t {
                return slot;
            }
            date = self.next(date);
        }
    }

    /// The words of the schedule: "daily at 08:00", "weekly on Monday at 08:00",
    /// "monthly on day 1 at 08:00".
    pub fn describe(&self) -> String {
        let at = self.at.format("%H:%M");
        match self.every {
            Every::Day => format!("daily at {at}"),
            Every::Week(w) => format!("weekly on {} at {at}", weekday_name(w)),
            Every::Month(d) => format!("monthly on day {d} at {at}"),
        }
    }

    /// The date of the slot of the period holding `date` (its week or month; a day is its own).
    fn period_start(&self, date: NaiveDate) -> NaiveDate {
        match self.every {
            Every::Day => date,
            Every::Week(w) => {
                let back =
                    (7 + date.weekday().num_days_from_monday() - w.num_days_from_monday()) % 7;
                date - Days::new(u64::from(back))
            }
            Every::Month(d) => month_day(date.year(), date.month(), d),
        }
    }

    fn previous(&self, date: NaiveDate) -> NaiveDate {
        match self.every {
            Every::Day => date - Days::new(1),
            Every::Week(_) => date - Days::new(7),
            Every::Month(d) => {
                let first = date.with_day(1).unwrap_or(date) - Months::new(1);
                month_day(first.year(), first.month(), d)
            }
        }
    }

    fn next(&self, date: NaiveDate) -> NaiveDate {
        match self.every {
            Every::Day => date + Days::new(1),
            Every::Week(_) => date + Days::new(7),
            Every::Month(d) => {
                let first = date.with_day(1).unwrap_or(date) + Months::new(1);
                month_day(first.year(), first.month(), d)
            }
        }
    }

    /// The instant of the slot on local `date`.
    fn instant(&self, tz: Tz, date: NaiveDate) -> DateTime<Utc> {
        let local = date.and_time(self.at);
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            // In a gap: the first local minute after it (gaps are whole minutes, at most a
            // few hours).
            LocalResult::None => (1..=24 * 60)
                .find_map(|m| {
                    tz.from_local_datetime(&(local + chrono::TimeDelta::minutes(m)))
                        .earliest()
                })
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or_else(|| local.and_utc()),
        }
    }
}

/// Day `d` of the month, or its last day when it is shorter.
fn month_day(year: i32, month: u32, d: u32) -> NaiveDate {
    (1..=d.clamp(1, 31))
        .rev()
        .find_map(|day| NaiveDate::from_ymd_opt(year, month, day))
        .unwrap_or(NaiveDate::MIN)
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn digest(every: Every, at: &str) -> Digest {
        Digest {
            every,
            at: NaiveTime::parse_from_str(at, "%H:%M").unwrap(),
            full_content: false,
            subject: DEFAULT_SUBJECT.into(),
        }
    }

    #[test]
    fn weekly_slots_keep_their_local_hour_across_dst() {
        let d = digest(Every::Week(Weekday::Mon), "08:00");
        let london: Tz = "Europe/London".parse().unwrap();
        // Sunday 29 March 2026 London moves to BST: Monday 23 March 08:00 is 08:00Z, Monday
        // 30 March 08:00 is 07:00Z.
        let before = d.slot_at_or_before(london, utc("2026-03-29T12:00:00Z"));
        assert_eq!(before, utc("2026-03-23T08:00:00Z"));
        assert_eq!(d.next_after(london, before), utc("2026-03-30T07:00:00Z"));
        assert_eq!(
            d.slot_at_or_before(london, utc("2026-03-30T07:00:00Z")),
            utc("2026-03-30T07:00:00Z")
        );
        assert_eq!(
            d.slot_at_or_before(london, utc("2026-03-30T06:59:59Z")),
            before
        );
        let ny: Tz = "America/New_York".parse().unwrap();
        // 1 November 2026 New York goes back to EST.
        assert_eq!(
            d.next_after(ny, utc("2026-10-27T00:00:00Z")),
            utc("2026-11-02T13:00:00Z")
        );
        assert_eq!(
            d.slot_at_or_before(ny, utc("2026-11-01T12:00:00Z")),
            utc("2026-10-26T12:00:00Z")
        );
    }

    #[test]
    fn a_skipped_local_time_is_taken_after_the_gap_and_a_doubled_one_first() {
        let london: Tz = "Europe/London".parse().unwrap();
        let d = digest(Every::Day, "01:30");
        // 29 March 2026 01:30 does not exist in London: 02:00 BST (01:00Z).
        assert_eq!(
            d.next_after(london, utc("2026-03-28T12:00:00Z")),
            utc("2026-03-29T01:00:00Z")
        );
        // 25 October 2026 01:30 happens twice: the first (00:30Z).
        assert_eq!(
            d.next_after(london, utc("2026-10-24T12:00:00Z")),
            utc("2026-10-25T00:30:00Z")
        );
    }

    #[test]
    fn monthly_slots_fall_on_the_last_day_of_a_short_month() {
        let d = digest(Every::Month(31), "09:00");
        let tz = Tz::UTC;
        assert_eq!(
            d.next_after(tz, utc("2027-02-01T00:00:00Z")),
            utc("2027-02-28T09:00:00Z")
        );
        assert_eq!(
            d.next_after(tz, utc("2027-02-28T09:00:00Z")),
            utc("2027-03-31T09:00:00Z")
        );
        assert_eq!(
            d.slot_at_or_before(tz, utc("2027-03-15T00:00:00Z")),
            utc("2027-02-28T09:00:00Z")
        );
        let first = digest(Every::Month(1), "00:00");
        assert_eq!(
            first.slot_at_or_before(tz, utc("2027-01-01T00:00:00Z")),
            utc("2027-01-01T00:00:00Z")
        );
        assert_eq!(first.describe(), "monthly on day 1 at 00:00");
    }

    #[test]
    fn slots_are_ordered_and_every_instant_lies_between_two() {
        let tz: Tz = "America/New_York".parse().unwrap();
        for d in [
            digest(Every::Day, "02:30"),
            digest(Every::Week(Weekday::Sun), "01:30"),
            digest(Every::Month(30), "23:59"),
        ] {
            let mut t = utc("2026-01-01T00:00:00Z");
            for _ in 0..400 {
                let prev = d.slot_at_or_before(tz, t);
                let next = d.next_after(tz, t);
                assert!(prev <= t && t < next, "{d:?} {t}");
                assert_eq!(d.next_after(tz, prev), next, "{d:?} {t}");
                t = next;
            }
        }
    }
}

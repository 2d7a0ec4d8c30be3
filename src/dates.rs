//! The date forms posts and the config accept (DESIGN.md "Posts"): `2025-05-08` (midnight),
//! `2025-05-08 14:30`, `2025-05-08T14:30:00` (all in `site.timezone`), or RFC 3339 with offset.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
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
pub fn parse(s: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
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
    let local = tz.from_local_datetime(&naive).earliest().or_else(|| {
        tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
    })?;
    Some(local.fixed_offset())
}

#[cfg(test)]
mod tests {
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
    }

    #[test]
    fn dst_gap_moves_forward() {
        assert_eq!(
            p("2025-03-30 02:30", "Europe/Berlin"),
            "2025-03-30T03:30:00+02:00"
        );
    }
}

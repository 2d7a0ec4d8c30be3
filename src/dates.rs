//! The date forms posts and the config accept (DESIGN.md "Posts"): `2025-05-08` (midnight),
//! `2025-05-08 14:30`, `2025-05-08T14:30:00` (all in `site.timezone`), or RFC 3339 with offset.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
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
}

//! Time, from the schedule file alone: Japanese public holidays, when each environment stops and
//! starts, and how an instant is shown to people. Pure: no AWS, no clock.

pub mod holidays;
pub mod timeline;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Tz;

/// An instant in the schedule's zone, as every message shows it: `2026-11-27 (Fri) 22:00 JST`.
pub fn local(at: DateTime<Utc>, tz: Tz) -> String {
    let l = at.with_timezone(&tz);
    format!("{} ({}) {}", l.format("%Y-%m-%d"), weekday(l.date_naive()), l.format("%H:%M %Z"))
}

/// The weekday label of a local date, `Mon`..`Sun`.
pub fn weekday(date: NaiveDate) -> &'static str {
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][date.weekday().num_days_from_monday() as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_are_shown_in_the_schedule_zone_with_the_weekday() {
        let at = DateTime::parse_from_rfc3339("2026-11-27T13:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(local(at, chrono_tz::Asia::Tokyo), "2026-11-27 (Fri) 22:00 JST");
        assert_eq!(local(at, chrono_tz::America::New_York), "2026-11-27 (Fri) 08:00 EST");
    }
}

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use super::fire_times;
use crate::schedule::cron::{Cron, DayOfMonth, DayOfWeek};

fn cron(expr: &str) -> Cron {
    expr.parse().unwrap_or_else(|e| panic!("{expr}: {e}"))
}

fn zone(name: &str) -> Tz {
    name.parse().unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// An instant written as local time with its offset, e.g. `2026-11-30T08:00:00+09:00`.
fn instant(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text}: {e}")).with_timezone(&Utc)
}

/// An instant as local time in `tz`, with the offset (so EDT and EST are told apart).
fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|e| panic!("{text}: {e}"))
}

const TOKYO: &str = "Asia/Tokyo";
const NEW_YORK: &str = "America/New_York";

#[test]
fn next_after() {
    // (expression, zone, after, expected next fire), all as local times in the zone.
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        // Weekdays: Friday evening -> Monday; strictly after.
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-27T23:00:00+09:00", Some("2026-11-30T08:00:00+09:00")),
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-30T07:59:59+09:00", Some("2026-11-30T08:00:00+09:00")),
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-30T08:00:00+09:00", Some("2026-12-01T08:00:00+09:00")),
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-30T08:00:30+09:00", Some("2026-12-01T08:00:00+09:00")),
        // `after` given in another zone's terms: Sunday 22:59 UTC is Monday 07:59 in Tokyo.
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-29T22:59:00+00:00", Some("2026-11-30T08:00:00+09:00")),
        // L: last day of the month, leap and non-leap February, 30-day months.
        ("cron(0 0 L * ? *)", TOKYO, "2027-02-01T00:00:00+09:00", Some("2027-02-28T00:00:00+09:00")),
        ("cron(0 0 L * ? *)", TOKYO, "2028-02-01T00:00:00+09:00", Some("2028-02-29T00:00:00+09:00")),
        ("cron(0 0 L * ? *)", TOKYO, "2028-02-29T00:00:00+09:00", Some("2028-03-31T00:00:00+09:00")),
        ("cron(0 0 L * ? *)", TOKYO, "2026-04-01T00:00:00+09:00", Some("2026-04-30T00:00:00+09:00")),
        // Day 31 skips 30-day months (April, June); 30 and 29 skip February unless leap.
        ("cron(0 9 31 * ? *)", TOKYO, "2026-03-31T09:00:00+09:00", Some("2026-05-31T09:00:00+09:00")),
        ("cron(0 9 31 * ? *)", TOKYO, "2026-05-31T09:00:00+09:00", Some("2026-07-31T09:00:00+09:00")),
        ("cron(0 9 30 * ? *)", TOKYO, "2027-01-30T09:00:00+09:00", Some("2027-03-30T09:00:00+09:00")),
        ("cron(0 9 30 * ? *)", TOKYO, "2028-01-30T09:00:00+09:00", Some("2028-03-30T09:00:00+09:00")),
        ("cron(0 9 29 * ? *)", TOKYO, "2027-01-29T09:00:00+09:00", Some("2027-03-29T09:00:00+09:00")),
        ("cron(0 9 29 * ? *)", TOKYO, "2028-01-29T09:00:00+09:00", Some("2028-02-29T09:00:00+09:00")),
        // 29 February: 2028, 2032; 2100 is not a leap year (divisible by 100, not by 400).
        ("cron(0 0 29 2 ? *)", TOKYO, "2026-01-01T00:00:00+09:00", Some("2028-02-29T00:00:00+09:00")),
        ("cron(0 0 29 2 ? *)", TOKYO, "2028-02-29T00:00:00+09:00", Some("2032-02-29T00:00:00+09:00")),
        ("cron(0 0 29 2 ? *)", TOKYO, "2096-02-29T00:00:00+09:00", Some("2104-02-29T00:00:00+09:00")),
        ("cron(0 0 29 2 ? 2032)", TOKYO, "2026-01-01T00:00:00+09:00", Some("2032-02-29T00:00:00+09:00")),
        ("cron(0 0 29 2 ? 2032)", TOKYO, "2032-02-29T00:00:00+09:00", None),
        ("cron(0 0 29 2 ? 2100)", TOKYO, "2026-01-01T00:00:00+09:00", None),
        ("cron(0 0 30 2 ? *)", TOKYO, "2026-01-01T00:00:00+09:00", None),
        // nW: nearest weekday without leaving the month.
        // 2026-08-01 is a Saturday: 1W is Monday the 3rd, not Friday 31 July.
        ("cron(0 9 1W * ? *)", TOKYO, "2026-07-31T00:00:00+09:00", Some("2026-08-03T09:00:00+09:00")),
        // 2026-11-01 is a Sunday: Monday the 2nd.
        ("cron(0 9 1W * ? *)", TOKYO, "2026-10-31T00:00:00+09:00", Some("2026-11-02T09:00:00+09:00")),
        // 2026-05-31 is a Sunday: 31W is Friday the 29th, not Monday 1 June.
        ("cron(0 9 31W * ? *)", TOKYO, "2026-05-01T00:00:00+09:00", Some("2026-05-29T09:00:00+09:00")),
        // June has no 31st, so no 31W; 2026-07-31 is a Friday.
        ("cron(0 9 31W * ? *)", TOKYO, "2026-05-29T09:00:00+09:00", Some("2026-07-31T09:00:00+09:00")),
        // 2026-10-31 is a Saturday: Friday the 30th.
        ("cron(0 9 31W * ? *)", TOKYO, "2026-10-01T00:00:00+09:00", Some("2026-10-30T09:00:00+09:00")),
        // 2026-08-15 is a Saturday (Friday 14th), 2026-11-15 a Sunday (Monday 16th),
        // 2026-12-15 a Tuesday (itself).
        ("cron(0 9 15W * ? *)", TOKYO, "2026-08-01T00:00:00+09:00", Some("2026-08-14T09:00:00+09:00")),
        ("cron(0 9 15W * ? *)", TOKYO, "2026-11-01T00:00:00+09:00", Some("2026-11-16T09:00:00+09:00")),
        ("cron(0 9 15W * ? *)", TOKYO, "2026-12-01T00:00:00+09:00", Some("2026-12-15T09:00:00+09:00")),
        // February never has a 30th, so 30W in February never fires.
        ("cron(0 9 30W 2 ? *)", TOKYO, "2026-01-01T00:00:00+09:00", None),
        // LW: 2026-05-31 is a Sunday, 2026-10-31 a Saturday, 2026-12-31 a Thursday.
        ("cron(0 18 LW * ? *)", TOKYO, "2026-05-01T00:00:00+09:00", Some("2026-05-29T18:00:00+09:00")),
        ("cron(0 18 LW * ? *)", TOKYO, "2026-10-01T00:00:00+09:00", Some("2026-10-30T18:00:00+09:00")),
        ("cron(0 18 LW * ? *)", TOKYO, "2026-12-01T00:00:00+09:00", Some("2026-12-31T18:00:00+09:00")),
        // nL: 6L is the last Friday: 2026-12-25; January 2027 ends on Sunday the 31st -> Friday 29th.
        ("cron(0 9 ? * 6L *)", TOKYO, "2026-12-01T00:00:00+09:00", Some("2026-12-25T09:00:00+09:00")),
        ("cron(0 9 ? * 6L *)", TOKYO, "2026-12-25T09:00:00+09:00", Some("2027-01-29T09:00:00+09:00")),
        ("cron(0 9 ? * FRIL *)", TOKYO, "2026-12-01T00:00:00+09:00", Some("2026-12-25T09:00:00+09:00")),
        // 1L, last Sunday: February 2026 ends on Saturday the 28th -> Sunday the 22nd.
        ("cron(0 9 ? * 1L *)", TOKYO, "2026-02-01T00:00:00+09:00", Some("2026-02-22T09:00:00+09:00")),
        // n#k: first Monday of July 2026 (the 1st is a Wednesday) is the 6th; of November the 2nd.
        ("cron(0 9 ? * MON#1 *)", TOKYO, "2026-06-01T09:00:00+09:00", Some("2026-07-06T09:00:00+09:00")),
        ("cron(0 9 ? * MON#1 *)", TOKYO, "2026-10-06T00:00:00+09:00", Some("2026-11-02T09:00:00+09:00")),
        // 2#5, fifth Monday: not in February 2026 (4), March 30; then not April or May, June 29.
        ("cron(0 9 ? * 2#5 *)", TOKYO, "2026-02-01T00:00:00+09:00", Some("2026-03-30T09:00:00+09:00")),
        ("cron(0 9 ? * 2#5 *)", TOKYO, "2026-03-30T09:00:00+09:00", Some("2026-06-29T09:00:00+09:00")),
        // Fifth Sunday of February: only a leap year whose 1 February is a Sunday (2032, then 2060).
        ("cron(0 9 ? FEB SUN#5 *)", TOKYO, "2026-01-01T00:00:00+09:00", Some("2032-02-29T09:00:00+09:00")),
        ("cron(0 9 ? FEB SUN#5 *)", TOKYO, "2032-02-29T09:00:00+09:00", Some("2060-02-29T09:00:00+09:00")),
        // A lone L in day-of-week is Saturday.
        ("cron(0 9 ? * L *)", TOKYO, "2026-11-30T09:00:00+09:00", Some("2026-12-05T09:00:00+09:00")),
        // Steps.
        ("cron(0/15 * * * ? *)", TOKYO, "2026-06-01T08:07:00+09:00", Some("2026-06-01T08:15:00+09:00")),
        ("cron(0/15 * * * ? *)", TOKYO, "2026-06-01T23:45:00+09:00", Some("2026-06-02T00:00:00+09:00")),
        ("cron(10/20 * * * ? *)", TOKYO, "2026-06-01T08:10:00+09:00", Some("2026-06-01T08:30:00+09:00")),
        ("cron(10/20 * * * ? *)", TOKYO, "2026-06-01T08:50:00+09:00", Some("2026-06-01T09:10:00+09:00")),
        // 10/20 in hours is {10} only (30 is past 23).
        ("cron(0 10/20 * * ? *)", TOKYO, "2026-06-01T10:00:00+09:00", Some("2026-06-02T10:00:00+09:00")),
        ("cron(0 1/20 * * ? *)", TOKYO, "2026-06-01T01:00:00+09:00", Some("2026-06-01T21:00:00+09:00")),
        ("cron(0 */6 * * ? *)", TOKYO, "2026-06-01T06:00:00+09:00", Some("2026-06-01T12:00:00+09:00")),
        // Lists and ranges.
        ("cron(0 8,12,18 * * ? *)", TOKYO, "2026-06-01T12:00:00+09:00", Some("2026-06-01T18:00:00+09:00")),
        ("cron(0 8,12,18 * * ? *)", TOKYO, "2026-06-01T18:00:00+09:00", Some("2026-06-02T08:00:00+09:00")),
        ("cron(30 9-17 ? * MON-FRI *)", TOKYO, "2026-11-27T17:30:00+09:00", Some("2026-11-30T09:30:00+09:00")),
        ("cron(0 9 ? * 2,4,6 *)", TOKYO, "2026-12-02T09:00:00+09:00", Some("2026-12-04T09:00:00+09:00")),
        // Wrapped ranges: FRI-MON is Fri, Sat, Sun, Mon; NOV-FEB is Nov, Dec, Jan, Feb.
        ("cron(0 9 ? * FRI-MON *)", TOKYO, "2026-11-30T09:00:00+09:00", Some("2026-12-04T09:00:00+09:00")),
        ("cron(0 9 ? * FRI-MON *)", TOKYO, "2026-12-05T09:00:00+09:00", Some("2026-12-06T09:00:00+09:00")),
        ("cron(0 0 1 NOV-FEB ? *)", TOKYO, "2026-02-01T00:00:00+09:00", Some("2026-11-01T00:00:00+09:00")),
        ("cron(0 0 1 NOV-FEB ? *)", TOKYO, "2026-12-01T00:00:00+09:00", Some("2027-01-01T00:00:00+09:00")),
        // Month names, any case.
        ("cron(0 0 1 JUL,jan ? *)", TOKYO, "2026-01-01T00:00:00+09:00", Some("2026-07-01T00:00:00+09:00")),
        // Years.
        ("cron(0 0 1 1 ? 2026)", TOKYO, "2026-01-01T00:00:00+09:00", None),
        ("cron(0 9 * * ? 2027-2028)", TOKYO, "2026-06-01T00:00:00+09:00", Some("2027-01-01T09:00:00+09:00")),
        ("cron(0 9 31 12 ? 2028)", TOKYO, "2028-12-31T09:00:00+09:00", None),
        ("cron(59 23 31 12 ? *)", TOKYO, "2199-12-31T23:58:00+09:00", Some("2199-12-31T23:59:00+09:00")),
        ("cron(59 23 31 12 ? *)", TOKYO, "2199-12-31T23:59:00+09:00", None),
        // 1970 in Tokyo began in 1969 UTC.
        ("cron(0 0 1 1 ? 1970)", TOKYO, "1960-01-01T00:00:00+09:00", Some("1970-01-01T00:00:00+09:00")),
        // 2199 in Pago Pago (UTC-11) ends in 2200 UTC.
        ("cron(0 23 31 12 ? *)", "Pacific/Pago_Pago", "2199-12-31T00:00:00-11:00", Some("2199-12-31T23:00:00-11:00")),
        // DST, spring forward: 2026-03-08 02:00 EST jumps to 03:00 EDT, so 02:30 and 02:00 do not
        // exist that day and do not fire; 03:00 does.
        ("cron(30 2 * * ? *)", NEW_YORK, "2026-03-07T02:30:00-05:00", Some("2026-03-09T02:30:00-04:00")),
        ("cron(0 2 * * ? *)", NEW_YORK, "2026-03-08T01:59:00-05:00", Some("2026-03-09T02:00:00-04:00")),
        ("cron(0 3 * * ? *)", NEW_YORK, "2026-03-07T03:00:00-05:00", Some("2026-03-08T03:00:00-04:00")),
        ("cron(30 * * * ? *)", NEW_YORK, "2026-03-08T01:30:00-05:00", Some("2026-03-08T03:30:00-04:00")),
        // DST, fall back: 2026-11-01 02:00 EDT goes back to 01:00 EST; 01:30 happens twice and
        // fires once, at the first (EDT, 05:30 UTC).
        ("cron(30 1 * * ? *)", NEW_YORK, "2026-10-31T01:30:00-04:00", Some("2026-11-01T01:30:00-04:00")),
        ("cron(30 1 * * ? *)", NEW_YORK, "2026-11-01T01:30:00-04:00", Some("2026-11-02T01:30:00-05:00")),
        // From inside the second pass, before its 01:30: that 01:30 (EST) does not fire.
        ("cron(30 1 * * ? *)", NEW_YORK, "2026-11-01T01:00:00-05:00", Some("2026-11-02T01:30:00-05:00")),
        // Hourly across the fall-back: 00:30 EDT, 01:30 EDT, then 02:30 EST two hours later;
        // the repeated 01:30 fires once, like every other local time.
        ("cron(30 * * * ? *)", NEW_YORK, "2026-11-01T00:30:00-04:00", Some("2026-11-01T01:30:00-04:00")),
        ("cron(30 * * * ? *)", NEW_YORK, "2026-11-01T01:30:00-04:00", Some("2026-11-01T02:30:00-05:00")),
        ("cron(30 * * * ? *)", NEW_YORK, "2026-11-01T01:15:00-05:00", Some("2026-11-01T02:30:00-05:00")),
    ];
    for &(expr, zone_name, after, expected) in cases {
        let tz = zone(zone_name);
        let got = cron(expr).next_after(instant(after), tz);
        assert_eq!(got.map(|t| local(t, tz)).as_deref(), expected, "{expr} in {zone_name} after {after}");
    }
}

/// A Monday-Friday 08:00 job in Tokyo fires on the UTC Sunday-Thursday at 23:00; the classic
/// mistake, a Monday-Friday 20:00 UTC schedule meant as "08:00 JST minus 12", fires in Tokyo on
/// Tuesday-Saturday at 05:00.
#[test]
fn weekdays_across_the_date_line() {
    let tokyo = zone(TOKYO);
    let week = (instant("2026-11-29T00:00:00Z"), instant("2026-12-06T00:00:00Z"));

    let jst = cron("cron(0 8 ? * MON-FRI *)");
    let fires: Vec<_> = fire_times(&jst, tokyo, week.0, week.1).collect();
    let utc: Vec<_> = fires.iter().map(|t| t.format("%a %Y-%m-%dT%H:%MZ").to_string()).collect();
    assert_eq!(
        utc,
        [
            "Sun 2026-11-29T23:00Z",
            "Mon 2026-11-30T23:00Z",
            "Tue 2026-12-01T23:00Z",
            "Wed 2026-12-02T23:00Z",
            "Thu 2026-12-03T23:00Z",
        ]
    );
    let in_tokyo: Vec<_> = fires.iter().map(|t| t.with_timezone(&tokyo).weekday()).collect();
    assert_eq!(in_tokyo, [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri]);

    let mistake = cron("cron(0 20 ? * MON-FRI *)");
    let fires: Vec<_> = fire_times(&mistake, chrono_tz::UTC, week.0, week.1).collect();
    let in_tokyo: Vec<_> =
        fires.iter().map(|t| t.with_timezone(&tokyo).format("%a %Y-%m-%dT%H:%M").to_string()).collect();
    assert_eq!(
        in_tokyo,
        [
            "Tue 2026-12-01T05:00",
            "Wed 2026-12-02T05:00",
            "Thu 2026-12-03T05:00",
            "Fri 2026-12-04T05:00",
            "Sat 2026-12-05T05:00",
        ]
    );
}

#[test]
fn last_at_or_before() {
    // (expression, zone, at, horizon in days, expected last fire), local times in the zone.
    let cases: &[(&str, &str, &str, u32, Option<&str>)] = &[
        // Monday before 08:00 -> Friday 08:00, 2 days 23:59 earlier.
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-30T07:59:00+09:00", 7, Some("2026-11-27T08:00:00+09:00")),
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-30T07:59:00+09:00", 3, Some("2026-11-27T08:00:00+09:00")),
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-30T07:59:00+09:00", 2, None),
        // At a fire time: that fire.
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-30T08:00:00+09:00", 7, Some("2026-11-30T08:00:00+09:00")),
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-30T08:00:00+09:00", 0, Some("2026-11-30T08:00:00+09:00")),
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-11-30T08:00:01+09:00", 0, None),
        // The horizon is inclusive: exactly 3 days back is found.
        ("cron(0 8 27 11 ? *)", TOKYO, "2026-11-30T08:00:00+09:00", 3, Some("2026-11-27T08:00:00+09:00")),
        ("cron(0 8 27 11 ? *)", TOKYO, "2026-11-30T08:00:01+09:00", 3, None),
        // Month ends backwards: February 2028 has 29 days.
        ("cron(0 0 L * ? *)", TOKYO, "2028-03-15T00:00:00+09:00", 60, Some("2028-02-29T00:00:00+09:00")),
        ("cron(0 9 31 * ? *)", TOKYO, "2026-07-30T00:00:00+09:00", 90, Some("2026-05-31T09:00:00+09:00")),
        ("cron(0 9 ? * 2#5 *)", TOKYO, "2026-06-28T00:00:00+09:00", 120, Some("2026-03-30T09:00:00+09:00")),
        ("cron(0 0 29 2 ? *)", TOKYO, "2104-01-01T00:00:00+09:00", 3000, Some("2096-02-29T00:00:00+09:00")),
        // Spring-forward gap: 2026-03-08 02:30 never existed.
        ("cron(30 2 * * ? *)", NEW_YORK, "2026-03-09T02:00:00-04:00", 3, Some("2026-03-07T02:30:00-05:00")),
        // Fall back: at 01:10 EST (second pass) the 01:30 of that night has already fired, at
        // 01:30 EDT, although its wall-clock time is later than 01:10.
        ("cron(30 1 * * ? *)", NEW_YORK, "2026-11-01T01:10:00-05:00", 2, Some("2026-11-01T01:30:00-04:00")),
        ("cron(30 1 * * ? *)", NEW_YORK, "2026-11-01T01:29:00-04:00", 2, Some("2026-10-31T01:30:00-04:00")),
        ("cron(30 1 * * ? *)", NEW_YORK, "2026-11-01T01:45:00-05:00", 2, Some("2026-11-01T01:30:00-04:00")),
        ("cron(30 * * * ? *)", NEW_YORK, "2026-11-01T02:29:00-05:00", 1, Some("2026-11-01T01:30:00-04:00")),
        // Years.
        ("cron(0 0 1 1 ? 2027)", TOKYO, "2026-12-31T00:00:00+09:00", 10_000, None),
        ("cron(0 9 31 12 ? 2028)", TOKYO, "2035-01-01T00:00:00+09:00", 10_000, Some("2028-12-31T09:00:00+09:00")),
        ("cron(0 0 1 1 ? 1970)", TOKYO, "2026-01-01T00:00:00+09:00", u32::MAX, Some("1970-01-01T00:00:00+09:00")),
        ("cron(59 23 31 12 ? *)", TOKYO, "2300-01-01T00:00:00+09:00", 1, None),
        ("cron(59 23 31 12 ? *)", TOKYO, "2300-01-01T00:00:00+09:00", u32::MAX, Some("2199-12-31T23:59:00+09:00")),
        ("cron(0 0 1 1 ? *)", TOKYO, "1969-12-31T23:59:00+09:00", u32::MAX, None),
    ];
    for &(expr, zone_name, at, horizon, expected) in cases {
        let tz = zone(zone_name);
        let got = cron(expr).last_at_or_before(instant(at), tz, horizon);
        assert_eq!(got.map(|t| local(t, tz)).as_deref(), expected, "{expr} in {zone_name} at {at}, {horizon} days");
    }
}

#[test]
fn fire_time_counts() {
    // (expression, zone, from, to, number of fires in [from, to))
    let cases: &[(&str, &str, &str, &str, usize)] = &[
        // December 2026 has 23 weekdays.
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-12-01T00:00:00+09:00", "2027-01-01T00:00:00+09:00", 23),
        // `from` is included, `to` is not.
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-12-01T08:00:00+09:00", "2026-12-03T08:00:00+09:00", 2),
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-12-03T08:00:00+09:00", "2026-12-03T08:00:00+09:00", 0),
        ("cron(0 8 ? * MON-FRI *)", TOKYO, "2026-12-04T08:00:00+09:00", "2026-12-01T08:00:00+09:00", 0),
        ("cron(* * * * ? *)", TOKYO, "2026-12-01T00:00:00+09:00", "2026-12-02T00:00:00+09:00", 1440),
        // New York's 23-hour spring-forward day and 25-hour fall-back day: one fire per local time.
        ("cron(30 * * * ? *)", NEW_YORK, "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 23),
        ("cron(30 * * * ? *)", NEW_YORK, "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 24),
        ("cron(* * * * ? *)", NEW_YORK, "2026-11-01T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 1440),
        ("cron(* * * * ? *)", NEW_YORK, "2026-03-08T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 1380),
        // 29 February from 2028 to 2104 without 2100: 20 leap days minus one.
        ("cron(0 0 29 2 ? *)", TOKYO, "2026-01-01T00:00:00+09:00", "2105-01-01T00:00:00+09:00", 19),
        // The iterator ends when the years run out.
        ("cron(0 0 1 1 ? 2026-2028)", TOKYO, "2000-01-01T00:00:00+09:00", "2300-01-01T00:00:00+09:00", 3),
    ];
    for &(expr, zone_name, from, to, expected) in cases {
        let tz = zone(zone_name);
        let c = cron(expr);
        let fires: Vec<_> = fire_times(&c, tz, instant(from), instant(to)).collect();
        assert_eq!(fires.len(), expected, "{expr} in {zone_name} from {from} to {to}");
        assert!(fires.windows(2).all(|w| w[0] < w[1]), "{expr}: not increasing");
        assert!(fires.iter().all(|&t| instant(from) <= t && t < instant(to)), "{expr}: outside the range");
    }

    let tz = zone(NEW_YORK);
    let c = cron("cron(30 * * * ? *)");
    let fall_back: Vec<_> =
        fire_times(&c, tz, instant("2026-11-01T00:00:00-04:00"), instant("2026-11-01T04:00:00-05:00"))
            .map(|t| local(t, tz))
            .collect();
    assert_eq!(
        fall_back,
        [
            "2026-11-01T00:30:00-04:00",
            "2026-11-01T01:30:00-04:00",
            "2026-11-01T02:30:00-05:00",
            "2026-11-01T03:30:00-05:00"
        ]
    );
}

#[test]
fn matches_date() {
    let cases: &[(&str, &str, bool)] = &[
        ("cron(0 8 ? * MON-FRI *)", "2026-11-30", true),
        ("cron(0 8 ? * MON-FRI *)", "2026-11-29", false),
        ("cron(0 0 L * ? *)", "2027-02-28", true),
        ("cron(0 0 L * ? *)", "2028-02-28", false),
        ("cron(0 0 L * ? *)", "2028-02-29", true),
        ("cron(0 0 29 2 ? *)", "2100-02-28", false),
        ("cron(0 0 29 2 ? *)", "2400-02-29", false),
        ("cron(0 0 1W * ? *)", "2026-08-03", true),
        ("cron(0 0 1W * ? *)", "2026-08-01", false),
        ("cron(0 0 1W * ? *)", "2026-07-31", false),
        ("cron(0 0 31W * ? *)", "2026-05-29", true),
        ("cron(0 0 LW * ? *)", "2026-10-30", true),
        ("cron(0 0 ? * 6L *)", "2026-12-25", true),
        ("cron(0 0 ? * 6L *)", "2026-12-18", false),
        ("cron(0 0 ? * 2#5 *)", "2026-03-30", true),
        ("cron(0 0 ? * 2#5 *)", "2026-03-23", false),
        ("cron(0 0 ? * 2#4 *)", "2026-03-23", true),
        ("cron(0 0 1 NOV-FEB ? *)", "2027-02-01", true),
        ("cron(0 0 1 NOV-FEB ? *)", "2027-03-01", false),
        ("cron(0 0 * * ? 2027)", "2026-12-31", false),
        ("cron(0 0 * * ? 2027)", "2027-01-01", true),
        ("cron(0 0 * * ? *)", "1969-12-31", false),
        ("cron(0 0 * * ? *)", "2200-01-01", false),
    ];
    for &(expr, day, expected) in cases {
        assert_eq!(date_matches(&cron(expr), date(day)), expected, "{expr} on {day}");
    }
}

/// Whether the date part (day-of-month/month/day-of-week/year) of `c` matches a local date, by
/// the evaluator's own day masks: what its searches walk.
fn date_matches(c: &Cron, date: NaiveDate) -> bool {
    u16::try_from(date.year()).is_ok_and(|year| c.years().contains(year))
        && c.months().contains(date.month() as u8)
        && c.day_mask(date.year(), date.month()) & (1 << date.day()) != 0
}

/// Day matching written the slow, obvious way from the definitions, to check the evaluator.
fn oracle_matches_date(cron: &Cron, date: NaiveDate) -> bool {
    let (year, month) = (date.year(), date.month());
    if !u16::try_from(year).is_ok_and(|y| cron.years().contains(y)) || !cron.months().contains(month as u8) {
        return false;
    }
    let month_days: Vec<NaiveDate> = (1..=31).filter_map(|d| NaiveDate::from_ymd_opt(year, month, d)).collect();
    let is_weekday = |d: &&NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
    let cron_weekday = |d: &NaiveDate| d.weekday().number_from_sunday() as u8;
    let by_month_day = match *cron.day_of_month() {
        DayOfMonth::Unspecified => true,
        DayOfMonth::Days(days) => days.contains(date.day() as u8),
        DayOfMonth::Last => month_days.last() == Some(&date),
        DayOfMonth::NearestWeekday(n) => {
            let n = i64::from(n);
            month_days.iter().any(|d| i64::from(d.day()) == n)
                && month_days.iter().filter(is_weekday).min_by_key(|d| (i64::from(d.day()) - n).abs()) == Some(&date)
        }
        DayOfMonth::LastWeekday => month_days.iter().rfind(is_weekday) == Some(&date),
    };
    let by_weekday = match *cron.day_of_week() {
        DayOfWeek::Unspecified => true,
        DayOfWeek::Days(weekdays) => weekdays.contains(cron_weekday(&date)),
        DayOfWeek::LastOfMonth(w) => month_days.iter().rfind(|d| cron_weekday(d) == w) == Some(&date),
        DayOfWeek::Nth { weekday, nth } => {
            month_days.iter().filter(|d| cron_weekday(d) == weekday).nth(usize::from(nth) - 1) == Some(&date)
        }
    };
    by_month_day && by_weekday
}

const SAMPLE_EXPRESSIONS: &[&str] = &[
    "cron(0 8 ? * MON-FRI *)",
    "cron(30 * * * ? *)",
    "cron(*/7 1-3 * * ? *)",
    "cron(0,20,40 1,2 ? * SUN *)",
    "cron(15 0/5 L * ? *)",
    "cron(45 1 LW * ? *)",
    "cron(5 2 1W * ? *)",
    "cron(0 9 31W * ? *)",
    "cron(10 9 ? * 1L *)",
    "cron(0 1/2 ? * 1#1 *)",
    "cron(0 9 ? * 2#5 *)",
    "cron(59 23 ? * FRI-MON *)",
    "cron(* 1 * * ? *)",
    "cron(0 0 29 2 ? *)",
    "cron(0 12 1-7,15 NOV-FEB ? 2026-2027)",
];

#[test]
fn matches_date_agrees_with_the_definitions() {
    let ranges = [(date("2026-01-01"), date("2034-01-01")), (date("2095-01-01"), date("2105-01-01"))];
    for expr in SAMPLE_EXPRESSIONS {
        let c = cron(expr);
        for (start, end) in ranges {
            for day in start.iter_days().take_while(|&d| d < end) {
                assert_eq!(date_matches(&c, day), oracle_matches_date(&c, day), "{expr} on {day}");
            }
        }
    }
}

/// For ten days around DST changes and month ends, `next_after` and `last_at_or_before` agree
/// with a minute-by-minute scan of UTC that applies the rules directly: the local time matches,
/// and it is the first UTC minute showing that local time.
#[test]
fn agrees_with_a_minute_by_minute_scan() {
    let windows = [
        (NEW_YORK, "2026-03-03T00:00:00Z"),
        (NEW_YORK, "2026-10-27T00:00:00Z"),
        (TOKYO, "2026-05-25T00:00:00Z"),
        ("Europe/London", "2026-03-25T00:00:00Z"),
        // Lord Howe shifts by 30 minutes: back on 2026-04-05, forward on 2026-10-04.
        ("Australia/Lord_Howe", "2026-03-31T00:00:00Z"),
        ("Australia/Lord_Howe", "2026-09-29T00:00:00Z"),
    ];
    let crons: Vec<Cron> = SAMPLE_EXPRESSIONS.iter().map(|e| cron(e)).collect();
    for (zone_name, start) in windows {
        let tz = zone(zone_name);
        let start = instant(start);
        let end = start + TimeDelta::days(10);
        // Each UTC minute, its local time, and whether it is that local time's first occurrence.
        let minutes: Vec<(DateTime<Utc>, NaiveDateTime, bool)> = (0..10 * 24 * 60)
            .map(|i| {
                let t = start + TimeDelta::minutes(i);
                let wall = t.with_timezone(&tz).naive_local();
                let first = tz.from_local_datetime(&wall).earliest().map(|e| e.with_timezone(&Utc)) == Some(t);
                (t, wall, first)
            })
            .collect();
        for (expr, c) in SAMPLE_EXPRESSIONS.iter().zip(&crons) {
            let expected: Vec<DateTime<Utc>> = minutes
                .iter()
                .filter(|(_, wall, first)| {
                    *first
                        && c.hours().contains(wall.hour() as u8)
                        && c.minutes().contains(wall.minute() as u8)
                        && oracle_matches_date(c, wall.date())
                })
                .map(|&(t, _, _)| t)
                .collect();

            let mut got = Vec::new();
            let mut t = start - TimeDelta::seconds(1);
            while let Some(next) = c.next_after(t, tz) {
                assert!(next > t, "{expr} in {zone_name}: {next} is not after {t}");
                if next >= end {
                    break;
                }
                got.push(next);
                t = next;
            }
            assert_eq!(got, expected, "{expr} in {zone_name} from {start}");
            assert_eq!(fire_times(c, tz, start, end).collect::<Vec<_>>(), expected, "{expr} fire_times");

            // Probe points, including ones on and just around each fire.
            let probes = (0..10 * 24 * 60)
                .step_by(37)
                .map(|i| start + TimeDelta::minutes(i))
                .chain(expected.iter().flat_map(|&f| [f - TimeDelta::seconds(1), f, f + TimeDelta::seconds(1)]));
            for p in probes.filter(|&p| p >= start && p < end) {
                let last = expected.iter().rev().find(|&&f| f <= p).copied();
                if last.is_some() {
                    assert_eq!(c.last_at_or_before(p, tz, 30), last, "{expr} in {zone_name} at or before {p}");
                }
                let next = expected.iter().find(|&&f| f > p).copied();
                if next.is_some() {
                    assert_eq!(c.next_after(p, tz), next, "{expr} in {zone_name} after {p}");
                }
            }
        }
    }
}

/// Far-off and never-again fires (found by skipping whole months and years; how fast that is
/// is measured by `examples/bench_schedule.rs`, not asserted here).
#[test]
fn far_and_fruitless_searches() {
    let tz = zone(TOKYO);
    let after = instant("2026-01-01T00:00:00+09:00");
    let cases = [
        ("cron(0 0 29 2 ? 2032)", Some(instant("2032-02-29T00:00:00+09:00"))),
        ("cron(0 0 30 2 ? *)", None),
        ("cron(0 9 30W 2 ? *)", None),
        ("cron(* * 31 4 ? *)", None),
        ("cron(0 0 1 1 ? 2025)", None),
    ];
    for (expr, expected) in &cases {
        assert_eq!(cron(expr).next_after(after, tz), *expected, "{expr}");
    }
}

/// Odd expressions at the edges of time in extreme zones: no panic, and results make sense.
#[test]
fn never_panics() {
    let exprs = [
        "cron(* * * * ? *)",
        "cron(59 23 L * ? *)",
        "cron(0 0 1W * ? *)",
        "cron(0 0 31W * ? *)",
        "cron(0 0 LW * ? *)",
        "cron(0 0 ? * 7L *)",
        "cron(0 0 ? * 1#5 *)",
        "cron(0 0 ? * 7#5 1970)",
        "cron(0 0 1 1 ? 2199)",
        "cron(59 23 31 12 ? 1970,2199)",
    ];
    let zones = ["UTC", "Pacific/Kiritimati", "Pacific/Pago_Pago", "Etc/GMT+12", NEW_YORK, "Pacific/Apia"];
    let instants = [
        DateTime::<Utc>::MIN_UTC,
        instant("1969-12-31T00:00:00Z"),
        instant("1970-01-01T00:00:00Z"),
        instant("2026-06-01T00:00:00Z"),
        instant("2199-12-31T12:00:00Z"),
        instant("2200-01-01T12:00:00Z"),
        DateTime::<Utc>::MAX_UTC,
    ];
    for expr in exprs {
        let c = cron(expr);
        for zone_name in zones {
            let tz = zone(zone_name);
            for t in instants {
                let in_range = |f: DateTime<Utc>| (1970..=2199).contains(&f.with_timezone(&tz).year());
                if let Some(next) = c.next_after(t, tz) {
                    assert!(next > t && in_range(next), "{expr} in {zone_name} after {t}: {next}");
                }
                for horizon in [0, 1, 400, u32::MAX] {
                    if let Some(last) = c.last_at_or_before(t, tz, horizon) {
                        assert!(last <= t && in_range(last), "{expr} in {zone_name} before {t}: {last}");
                    }
                }
                let _ = fire_times(&c, tz, t, t + TimeDelta::hours(6).min(DateTime::<Utc>::MAX_UTC - t)).count();
            }
        }
    }
}

//! When a [`Cron`] fires: the expression is evaluated on local wall-clock time in a time zone,
//! as EventBridge Scheduler does. Pure: no clock, no I/O.
//!
//! A local date matches when its year and month are in their sets and its day matches the
//! day-of-month or day-of-week field (whichever is not `?`); each hour and minute in their sets
//! on a matching date is a candidate local time. Daylight saving time:
//!
//! * a local time that does not exist (spring forward, e.g. 02:30 on 2026-03-08 in New York)
//!   does not fire;
//! * a local time that occurs twice (fall back, e.g. 01:30 on 2026-11-01 in New York) fires
//!   once, at its first (earlier) occurrence.
//!
//! So an hourly `cron(30 * * * ? *)` in New York fires 23 times on the spring-forward day and
//! 24 times on the 25-hour fall-back day: once per local time, 01:30 only in EDT.
//!
//! With that rule, local order and UTC order agree, so searches walk local time: years, then
//! months, then days, skipping with the field sets, and convert only candidate times on matching
//! days to UTC. A search costs at most one step per month up to 2199, never one per minute.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Offset, TimeDelta, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use super::cron::{BitSet64, Cron, DayOfMonth, DayOfWeek, Years};

impl Cron {
    /// The first fire time strictly after `after`, with the expression evaluated in `tz`
    /// exactly as EventBridge Scheduler does; None if it never fires again (e.g. years exhausted).
    pub fn next_after(&self, after: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        self.first_from(after, tz, |t| t > after)
    }

    /// The last fire time at or before `at` (searching back at most `horizon_days` days); None if none.
    ///
    /// The horizon is `horizon_days` × 24 hours before `at`, inclusive: a fire exactly that long
    /// ago is found, an earlier one is not.
    pub fn last_at_or_before(&self, at: DateTime<Utc>, tz: Tz, horizon_days: u32) -> Option<DateTime<Utc>> {
        let earliest =
            at.checked_sub_signed(TimeDelta::days(i64::from(horizon_days))).unwrap_or(DateTime::<Utc>::MIN_UTC);
        if at < lower_limit() || earliest > upper_limit() {
            return None;
        }
        // Nothing fires after 2199; clamping keeps the local-time arithmetic in range.
        let at = at.min(upper_limit());
        // When `at` is in the second pass of a repeated (fall-back) hour, local times a little
        // later than its wall-clock time already fired in the first pass, under the offset in
        // force before the change: start from the later of the two wall-clock readings.
        let yesterday = at - TimeDelta::days(1);
        let offset_yesterday = tz.offset_from_utc_datetime(&yesterday.naive_utc()).fix();
        let start = at.with_timezone(&tz).naive_local().max(at.with_timezone(&offset_yesterday).naive_local());
        let floor = earliest.max(lower_limit()).with_timezone(&tz).date_naive().pred_opt()?;
        self.backward(tz, start, floor, |t| t <= at).filter(|&t| t >= earliest)
    }

    /// The first fire time at or after `from` that `accept` takes. `accept` must reject a prefix
    /// of the fire times and take the rest (e.g. "later than X").
    fn first_from(&self, from: DateTime<Utc>, tz: Tz, accept: impl Fn(DateTime<Utc>) -> bool) -> Option<DateTime<Utc>> {
        if from > upper_limit() {
            return None;
        }
        // Local times before `from`'s wall-clock minute map to instants before `from`.
        let start = from.max(lower_limit()).with_timezone(&tz).naive_local();
        self.forward(tz, start, accept)
    }

    /// Walks candidate local times from `start` (to the minute) forwards; the first `accept`s.
    fn forward(&self, tz: Tz, start: NaiveDateTime, accept: impl Fn(DateTime<Utc>) -> bool) -> Option<DateTime<Utc>> {
        let minutes = Mask::of(self.minutes());
        let hours = Mask::of(self.hours());
        let mut day = start.date();
        loop {
            day = self.next_matching_date(day)?;
            let (h0, m0) = if day == start.date() { (start.hour(), start.minute()) } else { (0, 0) };
            let times = hours
                .ascending_from(h0)
                .flat_map(|h| minutes.ascending_from(if h == h0 { m0 } else { 0 }).map(move |m| (h, m)));
            let hit = times.filter_map(|(h, m)| resolve(tz, day, h, m)).find(|&t| accept(t));
            if hit.is_some() {
                return hit;
            }
            day = day.succ_opt()?;
        }
    }

    /// Walks candidate local times from `start` (to the minute) backwards, no earlier than the
    /// date `floor`; the first `accept`s.
    fn backward(
        &self,
        tz: Tz,
        start: NaiveDateTime,
        floor: NaiveDate,
        accept: impl Fn(DateTime<Utc>) -> bool,
    ) -> Option<DateTime<Utc>> {
        let minutes = Mask::of(self.minutes());
        let hours = Mask::of(self.hours());
        let mut day = start.date();
        loop {
            day = self.prev_matching_date(day, floor)?;
            let (h0, m0) = if day == start.date() { (start.hour(), start.minute()) } else { (23, 59) };
            let times = hours
                .descending_to(h0)
                .flat_map(|h| minutes.descending_to(if h == h0 { m0 } else { 59 }).map(move |m| (h, m)));
            let hit = times.filter_map(|(h, m)| resolve(tz, day, h, m)).find(|&t| accept(t));
            if hit.is_some() {
                return hit;
            }
            day = day.pred_opt()?;
        }
    }

    /// The first matching date on or after `from`, skipping years and months not in their sets.
    fn next_matching_date(&self, from: NaiveDate) -> Option<NaiveDate> {
        let from = from.max(NaiveDate::from_ymd_opt(i32::from(Years::MIN), 1, 1)?);
        let (y0, m0, d0) = (from.year(), from.month(), from.day());
        let months = Mask::of(self.months());
        let mut year = self.years().next_at_or_after(u16::try_from(y0).ok()?)?;
        loop {
            let y = i32::from(year);
            for month in months.ascending_from(if y == y0 { m0 } else { 1 }) {
                let first_day = if y == y0 && month == m0 { d0 } else { 1 };
                if let Some(day) = Mask(self.day_mask(y, month)).ascending_from(first_day).next() {
                    return NaiveDate::from_ymd_opt(y, month, day);
                }
            }
            year = self.years().next_at_or_after(year + 1)?;
        }
    }

    /// The last matching date on or before `from` and not before `floor`.
    fn prev_matching_date(&self, from: NaiveDate, floor: NaiveDate) -> Option<NaiveDate> {
        let from = from.min(NaiveDate::from_ymd_opt(i32::from(Years::MAX), 12, 31)?);
        let (y0, m0, d0) = (from.year(), from.month(), from.day());
        let months = Mask::of(self.months());
        let lowest_year = floor.year().max(i32::from(Years::MIN));
        for y in (lowest_year..=y0).rev() {
            // y is within Years::MIN..=Years::MAX here.
            if !self.years().contains(y as u16) {
                continue;
            }
            for month in months.descending_to(if y == y0 { m0 } else { 12 }) {
                let last_day = if y == y0 && month == m0 { d0 } else { 31 };
                if let Some(day) = Mask(self.day_mask(y, month)).descending_to(last_day).next() {
                    let date = NaiveDate::from_ymd_opt(y, month, day)?;
                    return (date >= floor).then_some(date);
                }
            }
        }
        None
    }

    /// The days (bit d for day d) of this month matching the day-of-month and day-of-week
    /// fields; a `?` field matches every day.
    fn day_mask(&self, year: i32, month: u32) -> u64 {
        match MonthShape::of(year, month) {
            Some(shape) => shape.days_of_month(self.day_of_month()) & shape.days_of_week(self.day_of_week()),
            None => 0,
        }
    }
}

/// Every fire time in [from, to), in order.
pub fn fire_times(
    cron: &Cron,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> impl Iterator<Item = DateTime<Utc>> + '_ {
    let first = if from < to { cron.first_from(from, tz, |t| t >= from) } else { None };
    std::iter::successors(first, move |&t| cron.next_after(t, tz)).take_while(move |&t| t < to)
}

/// Before any local time in 1970 in any zone (offsets are within ±26 hours).
fn lower_limit() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(i32::from(Years::MIN) - 1, 12, 30, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// After any local time in 2199 in any zone.
fn upper_limit() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(i32::from(Years::MAX) + 1, 1, 3, 0, 0, 0).single().unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The instant a local time fires: none in a spring-forward gap, the first of two in a
/// fall-back repeat.
fn resolve(tz: Tz, day: NaiveDate, hour: u32, minute: u32) -> Option<DateTime<Utc>> {
    let local = day.and_hms_opt(hour, minute, 0)?;
    tz.from_local_datetime(&local).earliest().map(|t| t.with_timezone(&Utc))
}

const SUNDAY: u32 = 1;
const SATURDAY: u32 = 7;

/// What day-of-month and day-of-week matching needs to know about a month.
struct MonthShape {
    len: u32,
    /// Weekday of the 1st, 1 = Sunday … 7 = Saturday as in cron.
    first_weekday: u32,
}

impl MonthShape {
    fn of(year: i32, month: u32) -> Option<MonthShape> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = if month == 12 { NaiveDate::from_ymd_opt(year + 1, 1, 1) } else { first.with_month(month + 1) };
        let len = next.map_or(31, |next| (next - first).num_days() as u32);
        Some(MonthShape { len, first_weekday: first.weekday().number_from_sunday() })
    }

    /// Weekday of `day`, 1 = Sunday … 7 = Saturday.
    fn weekday(&self, day: u32) -> u32 {
        (self.first_weekday - 1 + day - 1) % 7 + 1
    }

    fn all(&self) -> u64 {
        (1..=self.len).fold(0, |mask, day| mask | 1 << day)
    }

    /// Just `day`, or nothing when the month has no such day.
    fn only(&self, day: u32) -> u64 {
        if (1..=self.len).contains(&day) { 1 << day } else { 0 }
    }

    fn days_of_month(&self, field: &DayOfMonth) -> u64 {
        match *field {
            DayOfMonth::Unspecified => self.all(),
            DayOfMonth::Days(days) => Mask::of(&days).0 & self.all(),
            DayOfMonth::Last => self.only(self.len),
            DayOfMonth::NearestWeekday(day) => self.only(self.nearest_weekday(u32::from(day))),
            DayOfMonth::LastWeekday => self.only(self.nearest_weekday(self.len)),
        }
    }

    fn days_of_week(&self, field: &DayOfWeek) -> u64 {
        match *field {
            DayOfWeek::Unspecified => self.all(),
            DayOfWeek::Days(weekdays) => (1..=self.len)
                .filter(|&day| weekdays.contains(self.weekday(day) as u8))
                .fold(0, |mask, day| mask | 1 << day),
            DayOfWeek::LastOfMonth(weekday) => match u32::from(weekday) {
                weekday @ 1..=7 => self.only(self.len - (self.weekday(self.len) + 7 - weekday) % 7),
                _ => 0,
            },
            DayOfWeek::Nth { weekday, nth } => match (u32::from(weekday), u32::from(nth)) {
                (weekday @ 1..=7, nth @ 1..) => self.only(1 + (weekday + 7 - self.first_weekday) % 7 + 7 * (nth - 1)),
                _ => 0,
            },
        }
    }

    /// The Monday-Friday nearest to `day` without leaving the month; 0 (no day) when the month
    /// has no such day. Used with the last day for `LW`.
    fn nearest_weekday(&self, day: u32) -> u32 {
        if !(1..=self.len).contains(&day) {
            return 0;
        }
        match self.weekday(day) {
            SATURDAY if day > 1 => day - 1,
            SATURDAY => day + 2,
            SUNDAY if day < self.len => day + 1,
            SUNDAY => day - 2,
            _ => day,
        }
    }
}

/// A set of values below 64 as bits, walkable both ways.
#[derive(Clone, Copy)]
struct Mask(u64);

impl Mask {
    fn of(set: &BitSet64) -> Mask {
        // BitSet64 only yields values below 64.
        Mask(set.iter().fold(0, |mask, value| mask | 1 << value))
    }

    /// Values `>= from`, ascending.
    fn ascending_from(self, from: u32) -> impl Iterator<Item = u32> {
        let mut bits = if from < 64 { self.0 & (u64::MAX << from) } else { 0 };
        std::iter::from_fn(move || {
            let value = (bits != 0).then(|| bits.trailing_zeros())?;
            bits &= bits - 1;
            Some(value)
        })
    }

    /// Values `<= to`, descending.
    fn descending_to(self, to: u32) -> impl Iterator<Item = u32> {
        let mut bits = if to < 63 { self.0 & ((1 << (to + 1)) - 1) } else { self.0 };
        std::iter::from_fn(move || {
            let value = (bits != 0).then(|| 63 - bits.leading_zeros())?;
            bits &= !(1 << value);
            Some(value)
        })
    }
}

#[cfg(test)]
mod tests;

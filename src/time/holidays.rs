//! Japanese public holidays under the 祝日法 (国民の祝日に関する法律) as in force since 2020,
//! computed by rule so there is no table to update each year. Pure: no clock, no I/O.
//!
//! 春分の日 and 秋分の日 become law only when the next year's 暦要項 is published each February;
//! further ahead every calendar uses the standard approximation below, which matches every
//! published date so far.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use chrono::{Datelike, NaiveDate, Weekday};

/// The years `japan` and `japan_year` answer for. Earlier years followed older versions of the law
/// (天皇誕生日 on 12/23, 体育の日, the 2019 enthronement days) and the equinox approximation ends in
/// 2099; outside this range `japan` returns `None` and `japan_year` an empty list.
pub const YEARS: RangeInclusive<i32> = 2020..=2099;

const NEW_YEARS_DAY: &str = "元日 (New Year's Day)";
const COMING_OF_AGE_DAY: &str = "成人の日 (Coming of Age Day)";
const NATIONAL_FOUNDATION_DAY: &str = "建国記念の日 (National Foundation Day)";
const EMPERORS_BIRTHDAY: &str = "天皇誕生日 (Emperor's Birthday)";
const VERNAL_EQUINOX_DAY: &str = "春分の日 (Vernal Equinox Day)";
const SHOWA_DAY: &str = "昭和の日 (Showa Day)";
const CONSTITUTION_MEMORIAL_DAY: &str = "憲法記念日 (Constitution Memorial Day)";
const GREENERY_DAY: &str = "みどりの日 (Greenery Day)";
const CHILDRENS_DAY: &str = "こどもの日 (Children's Day)";
const MARINE_DAY: &str = "海の日 (Marine Day)";
const MOUNTAIN_DAY: &str = "山の日 (Mountain Day)";
const RESPECT_FOR_THE_AGED_DAY: &str = "敬老の日 (Respect for the Aged Day)";
const AUTUMNAL_EQUINOX_DAY: &str = "秋分の日 (Autumnal Equinox Day)";
const SPORTS_DAY: &str = "スポーツの日 (Sports Day)";
const CULTURE_DAY: &str = "文化の日 (Culture Day)";
const LABOR_THANKSGIVING_DAY: &str = "勤労感謝の日 (Labor Thanksgiving Day)";
const SUBSTITUTE_HOLIDAY: &str = "振替休日 (substitute holiday)";
const CITIZENS_HOLIDAY: &str = "国民の休日 (citizens' holiday)";

/// The Japanese public holiday (国民の祝日, 振替休日 or 国民の休日) on `date`, if any: its name as
/// "Japanese (English)", e.g. "元日 (New Year's Day)". `None` for years outside [`YEARS`].
pub fn japan(date: NaiveDate) -> Option<&'static str> {
    japan_year(date.year()).into_iter().find_map(|(day, name)| (day == date).then_some(name))
}

/// All holidays of a year, in date order; empty for years outside [`YEARS`].
pub fn japan_year(year: i32) -> Vec<(NaiveDate, &'static str)> {
    if !YEARS.contains(&year) {
        return Vec::new();
    }
    let national = national_holidays(year);
    let is_national = |date: NaiveDate| national.iter().any(|&(day, _)| day == date);
    let mut all: BTreeMap<NaiveDate, &'static str> = national.iter().copied().collect();
    // Art. 3(2): a 祝日 on a Sunday makes the nearest following day that is not a 祝日 a holiday.
    for &(day, _) in national.iter().filter(|(day, _)| day.weekday() == Weekday::Sun) {
        let mut substitute = next_day(day);
        while is_national(substitute) {
            substitute = next_day(substitute);
        }
        all.entry(substitute).or_insert(SUBSTITUTE_HOLIDAY);
    }
    // Art. 3(3): a day whose day before and day after are both 祝日 is a holiday.
    for pair in national.windows(2) {
        let (before, after) = (pair[0].0, pair[1].0);
        if (after - before).num_days() == 2 {
            all.entry(next_day(before)).or_insert(CITIZENS_HOLIDAY);
        }
    }
    all.into_iter().collect()
}

/// The 国民の祝日 of Art. 2 (and the 2020/2021 Olympic moves), in date order.
fn national_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    let day = |month, day| NaiveDate::from_ymd_opt(year, month, day).expect("a valid date in a supported year");
    let monday = |month, n| {
        NaiveDate::from_weekday_of_month_opt(year, month, Weekday::Mon, n).expect("every month has a 3rd Monday")
    };
    // The Olympic special measures act moved three holidays around the games in 2020 and 2021.
    let (marine, mountain, sports) = match year {
        2020 => (day(7, 23), day(8, 10), day(7, 24)),
        2021 => (day(7, 22), day(8, 8), day(7, 23)),
        _ => (monday(7, 3), day(8, 11), monday(10, 2)),
    };
    let mut holidays = vec![
        (day(1, 1), NEW_YEARS_DAY),
        (monday(1, 2), COMING_OF_AGE_DAY),
        (day(2, 11), NATIONAL_FOUNDATION_DAY),
        (day(2, 23), EMPERORS_BIRTHDAY),
        (day(3, vernal_equinox(year)), VERNAL_EQUINOX_DAY),
        (day(4, 29), SHOWA_DAY),
        (day(5, 3), CONSTITUTION_MEMORIAL_DAY),
        (day(5, 4), GREENERY_DAY),
        (day(5, 5), CHILDRENS_DAY),
        (marine, MARINE_DAY),
        (mountain, MOUNTAIN_DAY),
        (monday(9, 3), RESPECT_FOR_THE_AGED_DAY),
        (day(9, autumnal_equinox(year)), AUTUMNAL_EQUINOX_DAY),
        (sports, SPORTS_DAY),
        (day(11, 3), CULTURE_DAY),
        (day(11, 23), LABOR_THANKSGIVING_DAY),
    ];
    holidays.sort_unstable();
    holidays
}

/// Day of March: floor(20.8431 + 0.242194 (y − 1980) − floor((y − 1980) / 4)), valid 1980–2099.
fn vernal_equinox(year: i32) -> u32 {
    equinox(20_843_100, year)
}

/// Day of September: floor(23.2488 + 0.242194 (y − 1980) − floor((y − 1980) / 4)), valid 1980–2099.
fn autumnal_equinox(year: i32) -> u32 {
    equinox(23_248_800, year)
}

/// The approximation in millionths of a day, so no float rounding can move a date.
fn equinox(base_millionths: i64, year: i32) -> u32 {
    let years = i64::from(year - 1980);
    let millionths = base_millionths + 242_194 * years - 1_000_000 * (years / 4);
    u32::try_from(millionths / 1_000_000).expect("an equinox falls on day 19..=24 of its month")
}

fn next_day(date: NaiveDate) -> NaiveDate {
    date.succ_opt().expect("holidays end in November")
}

#[cfg(test)]
mod tests;

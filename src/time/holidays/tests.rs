use super::*;

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).unwrap()
}

fn japanese(name: &str) -> &str {
    name.split(" (").next().unwrap()
}

/// Compares `japan_year` with a published list of (month, day, Japanese name), typed in by hand.
fn assert_year(year: i32, published: &[(u32, u32, &str)]) {
    let expected: Vec<(NaiveDate, &str)> = published.iter().map(|&(m, d, name)| (date(year, m, d), name)).collect();
    let actual: Vec<(NaiveDate, &str)> =
        japan_year(year).into_iter().map(|(day, name)| (day, japanese(name))).collect();
    assert_eq!(actual, expected, "{year}");
}

// The Cabinet Office (内閣府) lists; 振替休日 and 国民の休日 appear there as 休日.
#[test]
fn cabinet_office_2024() {
    let published = [
        (1, 1, "元日"),
        (1, 8, "成人の日"),
        (2, 11, "建国記念の日"),
        (2, 12, "振替休日"),
        (2, 23, "天皇誕生日"),
        (3, 20, "春分の日"),
        (4, 29, "昭和の日"),
        (5, 3, "憲法記念日"),
        (5, 4, "みどりの日"),
        (5, 5, "こどもの日"),
        (5, 6, "振替休日"),
        (7, 15, "海の日"),
        (8, 11, "山の日"),
        (8, 12, "振替休日"),
        (9, 16, "敬老の日"),
        (9, 22, "秋分の日"),
        (9, 23, "振替休日"),
        (10, 14, "スポーツの日"),
        (11, 3, "文化の日"),
        (11, 4, "振替休日"),
        (11, 23, "勤労感謝の日"),
    ];
    assert_eq!(published.len(), 21);
    assert_year(2024, &published);
}

#[test]
fn cabinet_office_2025() {
    let published = [
        (1, 1, "元日"),
        (1, 13, "成人の日"),
        (2, 11, "建国記念の日"),
        (2, 23, "天皇誕生日"),
        (2, 24, "振替休日"),
        (3, 20, "春分の日"),
        (4, 29, "昭和の日"),
        (5, 3, "憲法記念日"),
        (5, 4, "みどりの日"),
        (5, 5, "こどもの日"),
        (5, 6, "振替休日"),
        (7, 21, "海の日"),
        (8, 11, "山の日"),
        (9, 15, "敬老の日"),
        (9, 23, "秋分の日"),
        (10, 13, "スポーツの日"),
        (11, 3, "文化の日"),
        (11, 23, "勤労感謝の日"),
        (11, 24, "振替休日"),
    ];
    assert_eq!(published.len(), 19);
    assert_year(2025, &published);
}

#[test]
fn cabinet_office_2026() {
    let published = [
        (1, 1, "元日"),
        (1, 12, "成人の日"),
        (2, 11, "建国記念の日"),
        (2, 23, "天皇誕生日"),
        (3, 20, "春分の日"),
        (4, 29, "昭和の日"),
        (5, 3, "憲法記念日"),
        (5, 4, "みどりの日"),
        (5, 5, "こどもの日"),
        (5, 6, "振替休日"),
        (7, 20, "海の日"),
        (8, 11, "山の日"),
        (9, 21, "敬老の日"),
        (9, 22, "国民の休日"),
        (9, 23, "秋分の日"),
        (10, 12, "スポーツの日"),
        (11, 3, "文化の日"),
        (11, 23, "勤労感謝の日"),
    ];
    assert_eq!(published.len(), 18);
    assert_year(2026, &published);
}

#[test]
fn cabinet_office_2027() {
    let published = [
        (1, 1, "元日"),
        (1, 11, "成人の日"),
        (2, 11, "建国記念の日"),
        (2, 23, "天皇誕生日"),
        (3, 21, "春分の日"),
        (3, 22, "振替休日"),
        (4, 29, "昭和の日"),
        (5, 3, "憲法記念日"),
        (5, 4, "みどりの日"),
        (5, 5, "こどもの日"),
        (7, 19, "海の日"),
        (8, 11, "山の日"),
        (9, 20, "敬老の日"),
        (9, 23, "秋分の日"),
        (10, 11, "スポーツの日"),
        (11, 3, "文化の日"),
        (11, 23, "勤労感謝の日"),
    ];
    assert_eq!(published.len(), 17);
    assert_year(2027, &published);
}

#[test]
fn names_are_japanese_then_english() {
    let mut names: Vec<&str> = japan_year(2024).into_iter().chain(japan_year(2026)).map(|(_, name)| name).collect();
    names.sort_unstable();
    names.dedup();
    let mut expected = vec![
        "元日 (New Year's Day)",
        "成人の日 (Coming of Age Day)",
        "建国記念の日 (National Foundation Day)",
        "天皇誕生日 (Emperor's Birthday)",
        "春分の日 (Vernal Equinox Day)",
        "昭和の日 (Showa Day)",
        "憲法記念日 (Constitution Memorial Day)",
        "みどりの日 (Greenery Day)",
        "こどもの日 (Children's Day)",
        "海の日 (Marine Day)",
        "山の日 (Mountain Day)",
        "敬老の日 (Respect for the Aged Day)",
        "秋分の日 (Autumnal Equinox Day)",
        "スポーツの日 (Sports Day)",
        "文化の日 (Culture Day)",
        "勤労感謝の日 (Labor Thanksgiving Day)",
        "振替休日 (substitute holiday)",
        "国民の休日 (citizens' holiday)",
    ];
    expected.sort_unstable();
    assert_eq!(names, expected);
}

#[test]
fn olympic_moves_2020() {
    assert_eq!(japan(date(2020, 7, 23)), Some(MARINE_DAY));
    assert_eq!(japan(date(2020, 7, 24)), Some(SPORTS_DAY));
    assert_eq!(japan(date(2020, 8, 10)), Some(MOUNTAIN_DAY));
    // Where the three would have been without the move.
    assert_eq!(japan(date(2020, 7, 20)), None);
    assert_eq!(japan(date(2020, 8, 11)), None);
    assert_eq!(japan(date(2020, 10, 12)), None);
    // 天皇誕生日 on a Sunday, the first year it fell on 2/23.
    assert_eq!(japan(date(2020, 2, 24)), Some(SUBSTITUTE_HOLIDAY));
    assert_eq!(japan_year(2020).len(), 18);
}

#[test]
fn olympic_moves_2021() {
    assert_eq!(japan(date(2021, 7, 22)), Some(MARINE_DAY));
    assert_eq!(japan(date(2021, 7, 23)), Some(SPORTS_DAY));
    assert_eq!(japan(date(2021, 8, 8)), Some(MOUNTAIN_DAY));
    assert_eq!(japan(date(2021, 8, 9)), Some(SUBSTITUTE_HOLIDAY));
    assert_eq!(japan(date(2021, 7, 19)), None);
    assert_eq!(japan(date(2021, 8, 11)), None);
    assert_eq!(japan(date(2021, 10, 11)), None);
    assert_eq!(japan_year(2021).len(), 17);
}

#[test]
fn citizens_holiday_between_respect_for_the_aged_and_autumnal_equinox() {
    assert_eq!(japan(date(2026, 9, 22)), Some(CITIZENS_HOLIDAY));
    assert_eq!(japan(date(2032, 9, 20)), Some(RESPECT_FOR_THE_AGED_DAY));
    assert_eq!(japan(date(2032, 9, 21)), Some(CITIZENS_HOLIDAY));
    assert_eq!(japan(date(2032, 9, 22)), Some(AUTUMNAL_EQUINOX_DAY));
    // 2027: 9/20 and 9/23 are holidays but not two days apart, so 9/21 and 9/22 are workdays.
    assert_eq!(japan(date(2027, 9, 21)), None);
    assert_eq!(japan(date(2027, 9, 22)), None);
}

#[test]
fn equinoxes_match_published_and_predicted_dates() {
    // (year, March day, September day): published by 官報 through 2027, then 国立天文台's prediction.
    let dates = [
        (2020, 20, 22),
        (2021, 20, 23),
        (2022, 21, 23),
        (2023, 21, 23),
        (2024, 20, 22),
        (2025, 20, 23),
        (2026, 20, 23),
        (2027, 21, 23),
        (2032, 20, 22),
        (2033, 20, 23),
        (2035, 21, 23),
        (2043, 21, 23),
        (2044, 20, 22),
        (2045, 20, 22),
    ];
    for (year, march, september) in dates {
        assert_eq!(japan(date(year, 3, march)), Some(VERNAL_EQUINOX_DAY), "{year}");
        assert_eq!(japan(date(year, 9, september)), Some(AUTUMNAL_EQUINOX_DAY), "{year}");
    }
}

#[test]
fn substitute_skips_over_following_holidays() {
    // 2025: みどりの日 5/4 is a Sunday and 5/5 is こどもの日, so the substitute is Tuesday 5/6.
    assert_eq!(japan(date(2025, 5, 5)), Some(CHILDRENS_DAY));
    assert_eq!(japan(date(2025, 5, 6)), Some(SUBSTITUTE_HOLIDAY));
    // 2026: 憲法記念日 5/3 is a Sunday; 5/4 and 5/5 are holidays themselves, so it is Wednesday 5/6.
    assert_eq!(japan(date(2026, 5, 4)), Some(GREENERY_DAY));
    assert_eq!(japan(date(2026, 5, 5)), Some(CHILDRENS_DAY));
    assert_eq!(japan(date(2026, 5, 6)), Some(SUBSTITUTE_HOLIDAY));
    assert_eq!(japan(date(2026, 5, 7)), None);
}

#[test]
fn ordinary_days_are_not_holidays() {
    for day in [date(2026, 1, 2), date(2026, 1, 4), date(2026, 3, 19), date(2026, 12, 23), date(2026, 12, 31)] {
        assert_eq!(japan(day), None, "{day}");
    }
}

#[test]
fn years_outside_the_supported_range_have_no_holidays() {
    assert_eq!(japan(date(2019, 1, 1)), None);
    assert!(japan_year(2019).is_empty());
    assert!(japan_year(2100).is_empty());
    assert_eq!(japan(date(2099, 1, 1)), Some(NEW_YEARS_DAY));
}

#[test]
fn every_supported_year_is_consistent() {
    for year in YEARS {
        let holidays = japan_year(year);
        assert!((16..=22).contains(&holidays.len()), "{year}: {}", holidays.len());
        assert!(holidays.windows(2).all(|w| w[0].0 < w[1].0), "{year} not in date order");
        for &(day, name) in &holidays {
            assert_eq!(day.year(), year);
            assert_eq!(japan(day), Some(name));
            if name == SUBSTITUTE_HOLIDAY {
                assert_ne!(day.weekday(), Weekday::Sun, "{day}");
            }
        }
    }
}

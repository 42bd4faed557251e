//! The fuzz targets' bodies, shared by libFuzzer (`fuzz/fuzz_targets/*.rs`, nightly) and the
//! stable loop (`tests/fuzz_loop.rs`). Each takes arbitrary bytes and panics only when the code
//! under test does, or when it breaks what its errors promise: a non-empty message that says
//! where the problem is (a JSON path, `FILE:LINE:COL`, a cron field or the cron text).

use chrono::{DateTime, Datelike, Duration, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use ecs_cost_saver::Error;
use ecs_cost_saver::event::Input;
use ecs_cost_saver::schedule::{Cron, Schedule};

/// The file name `Schedule::parse` is given; every problem line must start with it.
pub const SCHEDULE_FILE: &str = "fuzz.yaml";

/// Zones crons are evaluated in: the default, UTC, a DST zone, a 30-minute DST shift, and a
/// zone whose DST changes happen at midnight (days without 00:00).
pub const ZONES: [Tz; 5] = [
    chrono_tz::Asia::Tokyo,
    chrono_tz::UTC,
    chrono_tz::America::New_York,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::America::Santiago,
];

// ---- (a) the dispatcher's input ----

/// Bytes -> JSON -> `Input::parse`, and the same text through `event::json` first. True when
/// the input was accepted (the fuzz loop counts them).
pub fn input(data: &[u8]) -> bool {
    let value = serde_json::from_slice::<serde_json::Value>(data);
    if let Ok(value) = &value {
        let parsed = Input::parse(value.clone());
        check_input(&parsed, false);
        if let Ok(Input::Payload(payload)) = &parsed {
            // What was accepted serialises to a payload that parses to the same thing.
            let again = serde_json::to_value(payload).expect("a payload serialises");
            assert_eq!(Input::parse(again).ok().as_ref(), parsed.as_ref().ok(), "payload round trip");
        }
    }
    let mut accepted = false;
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = ecs_cost_saver::event::json(text).and_then(Input::parse);
        accepted = parsed.is_ok();
        check_input(&parsed, true);
        if let Ok(value) = value {
            // `event::json` is serde_json with an error that says where, nothing more.
            let direct = Input::parse(value);
            assert_eq!(
                parsed.as_ref().map_err(ToString::to_string),
                direct.as_ref().map_err(ToString::to_string),
                "event::json and serde_json disagree"
            );
        }
    }
    accepted
}

fn check_input(parsed: &Result<Input, Error>, from_text: bool) {
    let e = match parsed {
        // Any environment name is accepted here; dispatch refuses unknown ones.
        Ok(Input::Payload(_)) | Ok(Input::SpotWarning(_)) => return,
        Ok(Input::TaskStateChange(change)) => {
            // What the Spot handler does with it before any AWS call.
            let _ = ecs_cost_saver::plan::spot::not_an_interruption(change);
            let _ = (change.cluster(), change.service());
            let task = change.task();
            let _ = task.id();
            return;
        }
        Err(e) => e,
    };
    let message = e.to_string();
    assert!(!e.is_retryable(), "input errors are never retryable: {message}");
    assert!(!message.contains(['\n', '\r']), "one error, one line: {message:?}");
    match e {
        Error::InvalidInput(m) => {
            let at_path = ["invalid payload at `", "invalid event at `"]
                .iter()
                .find_map(|p| m.strip_prefix(p))
                .and_then(|rest| rest.split_once("`: "))
                .is_some_and(|(path, why)| !path.is_empty() && !why.trim().is_empty());
            let at_text = from_text
                && m.strip_prefix("the input is not valid JSON: ").is_some_and(|rest| {
                    rest.rsplit_once(" at line ").is_some_and(|(why, place)| {
                        !why.trim().is_empty()
                            && place
                                .split_once(" column ")
                                .is_some_and(|(l, c)| l.parse::<usize>().is_ok() && c.parse::<usize>().is_ok())
                    })
                });
            assert!(at_path || at_text, "an invalid input names no JSON path or text position: {m:?}");
        }
        Error::UnsupportedEvent(m) => {
            assert!(
                m.contains("received") || m.starts_with("source `"),
                "an unsupported event says neither what was received nor its source: {m:?}"
            );
        }
        other => panic!("parsing returned a {} error: {other}", other.kind()),
    }
}

// ---- (b) the schedule file ----

/// Bytes (lossy UTF-8) -> `Schedule::parse`; when it is valid, the next transitions of each
/// environment. True when the schedule is valid.
pub fn schedule(data: &[u8]) -> bool {
    let source = String::from_utf8_lossy(data);
    match Schedule::parse(&source, SCHEDULE_FILE) {
        Ok(schedule) => {
            assert!(!schedule.environments.is_empty());
            let from = instant(data);
            for env in schedule.environments.values() {
                let entries = env.services.len() + env.selectors.len();
                assert!(entries > 0, "environment {} has no services and no selectors", env.name);
                for cron in env.stop.iter().chain(&env.start) {
                    assert_eq!(cron.as_str().parse::<Cron>().as_ref(), Ok(cron), "a cron re-parses");
                }
                let next = ecs_cost_saver::time::timeline::upcoming(&schedule, env, from, 4, 31);
                assert!(next.windows(2).all(|w| w[0].at <= w[1].at), "transitions in time order");
                assert!(next.iter().all(|t| t.at >= from));
            }
            true
        }
        Err(e) => {
            assert_eq!(e.file, SCHEDULE_FILE);
            assert!(!e.problems.is_empty(), "an error with no problem");
            // YAML breaks lines at \r\n, \n and a lone \r.
            let lines = source.replace("\r\n", "\n").matches(['\r', '\n']).count() as u64 + 1;
            for p in &e.problems {
                assert!(!p.message.trim().is_empty(), "a problem with no message at {}:{}", p.line, p.column);
                assert!(p.line >= 1 && p.column >= 1, "problem without a position: {p:?}");
                // A position past the end is where the parser ran out of input.
                assert!(p.line <= lines + 1, "line {} of a {lines}-line file: {p:?}", p.line);
            }
            let shown = e.to_string();
            assert_eq!(shown.split(['\n', '\r']).count(), e.problems.len(), "one problem, one line: {shown:?}");
            let first = shown.lines().next().unwrap_or_default();
            let p = &e.problems[0];
            assert!(first.starts_with(&format!("{SCHEDULE_FILE}:{}:{}: ", p.line, p.column)), "{first:?}");
            false
        }
    }
}

// ---- (c) crons: parse, then evaluate ----

/// Bytes (lossy UTF-8) -> `Cron`; when it parses, its fire times in each of [`ZONES`] after a
/// few instants (range ends, DST changes, one picked from the input), checked against the
/// fields and against the backward search. True when the cron is valid.
pub fn cron(data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    let cron = match text.parse::<Cron>() {
        Ok(cron) => cron,
        Err(e) => {
            let m = e.to_string();
            assert_eq!(m, e.message());
            const FIELDS: [&str; 6] = ["minutes", "hours", "day-of-month", "month", "day-of-week", "year"];
            let named = FIELDS.iter().any(|f| m.starts_with(&format!("{f}: ")))
                || m.starts_with("day-of-month and day-of-week")
                || m.starts_with("cron has ")
                || m.ends_with(&format!("got {text:?}"));
            assert!(named, "a cron error names no field and not the text: {m:?} for {text:?}");
            return false;
        }
    };
    assert_eq!(cron.as_str(), text);
    assert_eq!(cron.to_string().parse::<Cron>().as_ref(), Ok(&cron));
    let picked = instant(data);
    let starts = [
        DateTime::<Utc>::MIN_UTC,
        utc(1969, 12, 31, 12, 0),
        utc(2026, 3, 8, 6, 30),
        utc(2026, 11, 1, 5, 30),
        utc(2199, 12, 31, 14, 59),
        DateTime::<Utc>::MAX_UTC,
        picked,
    ];
    for tz in ZONES {
        for after in starts {
            if let Some(next) = cron.next_after(after, tz) {
                check_fire(&cron, tz, after, next);
            }
        }
        let to = picked + Duration::days(3);
        let fires: Vec<_> = ecs_cost_saver::schedule::eval::fire_times(&cron, tz, picked, to).take(100).collect();
        assert!(fires.windows(2).all(|w| w[0] < w[1]), "fire_times not strictly increasing: {fires:?}");
        assert!(fires.iter().all(|t| (picked..to).contains(t)), "fire_times outside [from, to): {fires:?}");
        let first = cron.next_after(picked - Duration::seconds(1), tz).filter(|&t| t < to);
        assert_eq!(fires.first().copied(), first, "fire_times starts at the first fire at or after `from`");
    }
    true
}

/// `next` is the first fire of `cron` in `tz` strictly after `after`.
fn check_fire(cron: &Cron, tz: Tz, after: DateTime<Utc>, next: DateTime<Utc>) {
    let what = || format!("{cron} in {tz} after {after}: {next}");
    assert!(next > after, "{}", what());
    assert_eq!(next.timestamp() % 60, 0, "{}", what());
    assert_eq!(next.timestamp_subsec_nanos(), 0, "{}", what());
    let local = next.with_timezone(&tz);
    assert!((1970..=2199).contains(&local.year()), "{}", what());
    assert!(cron.minutes().contains(local.minute() as u8), "minute: {}", what());
    assert!(cron.hours().contains(local.hour() as u8), "hour: {}", what());
    assert!(cron.months().contains(local.month() as u8), "month: {}", what());
    assert!(u16::try_from(local.year()).is_ok_and(|y| cron.years().contains(y)), "year: {}", what());
    // A repeated local time fires at its first occurrence.
    let earliest = tz.from_local_datetime(&local.naive_local()).earliest().map(|t| t.with_timezone(&Utc));
    assert_eq!(earliest, Some(next), "not the first occurrence: {}", what());
    // The backward search agrees: `next` fires, and nothing fires between `after` and it.
    assert_eq!(cron.last_at_or_before(next, tz, 0), Some(next), "backward search misses it: {}", what());
    let gap = (next - after).num_days().clamp(0, 400) as u32 + 1;
    if let Some(before) = cron.last_at_or_before(next - Duration::seconds(1), tz, gap) {
        assert!(before <= after, "{before} fires in between: {}", what());
    }
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// An instant between 1965 and 2205 picked from the input (FNV-1a), to the second.
fn instant(data: &[u8]) -> DateTime<Utc> {
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let (low, high) = (utc(1965, 1, 1, 0, 0).timestamp(), utc(2205, 1, 1, 0, 0).timestamp());
    let secs = low + (hash % (high - low) as u64) as i64;
    DateTime::from_timestamp(secs, 0).unwrap()
}

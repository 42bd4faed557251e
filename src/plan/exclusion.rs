//! The opt-out a service's owner sets on the service itself (README, "Keeping a service up"):
//! `ecs-cost-saver:exclude = true`, or `ecs-cost-saver:exclude-until = TIME`. Pure: the tags,
//! the time and the schedule's zone in, what they mean out. A tag that does not read excludes
//! the service: a typo must never cause a stop its owner did not want.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::text::escaped;

/// `true`: stop and reconcile leave the service alone until the tag is removed.
pub const EXCLUDE_TAG: &str = "ecs-cost-saver:exclude";
/// An RFC 3339 time: excluded until then.
pub const EXCLUDE_UNTIL_TAG: &str = "ecs-cost-saver:exclude-until";

/// What a service's exclusion tags say at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exclusion {
    /// No exclusion tag, or `exclude = false`.
    None,
    /// Left alone, by this tag; `until` None: until the tag is removed.
    Active { tag: &'static str, until: Option<DateTime<Tz>> },
    /// `exclude-until` has passed: ignored from then on.
    Expired(DateTime<Tz>),
    /// A tag that does not read: the service is left alone, and this says why.
    Malformed(String),
}

/// An exclusion as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExclusionReport {
    pub cluster: String,
    pub service: String,
    pub tag: &'static str,
    /// When it ends (RFC 3339 in the schedule's zone); None: when the tag is removed.
    pub until: Option<String>,
}

/// What the exclusion tags among `tags` say at `now`, times read and shown in `tz` (a time
/// written without an offset is in `tz`).
pub fn exclusion(tags: &BTreeMap<String, String>, now: DateTime<Utc>, tz: Tz) -> Exclusion {
    let exclude = match tags.get(EXCLUDE_TAG).map(|v| v.trim()) {
        None => false,
        Some(v) if v.eq_ignore_ascii_case("true") => true,
        Some(v) if v.eq_ignore_ascii_case("false") => false,
        Some(v) => {
            return Exclusion::Malformed(format!(
                "the tag {EXCLUDE_TAG} holds `{}`: expected `true` (or `false`, or remove the tag); the service is left alone until it reads",
                escaped(v)
            ));
        }
    };
    let until = match tags.get(EXCLUDE_UNTIL_TAG) {
        None => None,
        Some(v) => match parse_time(v.trim(), tz) {
            Some(t) => Some(t),
            None => {
                return Exclusion::Malformed(format!(
                    "the tag {EXCLUDE_UNTIL_TAG} holds `{}`: expected an RFC 3339 time such as 2026-12-05T09:00+09:00 (seconds and the offset are optional; without an offset it is {}); the service is left alone until it reads",
                    escaped(v),
                    tz.name()
                ));
            }
        },
    };
    match (exclude, until) {
        (true, _) => Exclusion::Active { tag: EXCLUDE_TAG, until: None },
        (false, Some(until)) if until > now => Exclusion::Active { tag: EXCLUDE_UNTIL_TAG, until: Some(until) },
        (false, Some(until)) => Exclusion::Expired(until),
        (false, None) => Exclusion::None,
    }
}

/// How reports write a time: minutes, the zone's offset.
pub fn show(t: &DateTime<Tz>) -> String {
    t.format("%Y-%m-%dT%H:%M%:z").to_string()
}

/// `2026-12-05T09:00+09:00`, `2026-12-05T00:00:00Z`, `2026-12-05T09:00` (in `tz`): RFC 3339
/// with the seconds optional, and the offset too.
fn parse_time(v: &str, tz: Tz) -> Option<DateTime<Tz>> {
    if v.len() < 16 || v.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    let zulu = v.strip_suffix('Z').or_else(|| v.strip_suffix('z')).map(|rest| format!("{rest}+00:00"));
    let v = zulu.as_deref().unwrap_or(v);
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&tz));
    }
    if let Ok(t) = DateTime::<FixedOffset>::parse_from_str(v, "%Y-%m-%dT%H:%M%:z") {
        return Some(t.with_timezone(&tz));
    }
    let local = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M"))
        .ok()?;
    tz.from_local_datetime(&local).earliest()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const TOKYO: Tz = chrono_tz::Asia::Tokyo;

    #[test]
    fn no_tag_and_false_exclude_nothing() {
        let now = at("2026-12-04T22:00:00+09:00");
        assert_eq!(exclusion(&tags(&[]), now, TOKYO), Exclusion::None);
        assert_eq!(exclusion(&tags(&[("team", "web")]), now, TOKYO), Exclusion::None);
        assert_eq!(exclusion(&tags(&[(EXCLUDE_TAG, "false")]), now, TOKYO), Exclusion::None);
    }

    #[test]
    fn exclude_true_holds_until_the_tag_goes_whatever_the_until_says() {
        let now = at("2026-12-04T22:00:00+09:00");
        let active = Exclusion::Active { tag: EXCLUDE_TAG, until: None };
        assert_eq!(exclusion(&tags(&[(EXCLUDE_TAG, "true")]), now, TOKYO), active);
        assert_eq!(exclusion(&tags(&[(EXCLUDE_TAG, " TRUE ")]), now, TOKYO), active);
        let both = tags(&[(EXCLUDE_TAG, "true"), (EXCLUDE_UNTIL_TAG, "2026-12-01T09:00+09:00")]);
        assert_eq!(exclusion(&both, now, TOKYO), active);
    }

    #[test]
    fn exclude_until_holds_until_its_time_then_expires() {
        let t = tags(&[(EXCLUDE_UNTIL_TAG, "2026-12-05T09:00+09:00")]);
        let until = TOKYO.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap();
        assert_eq!(
            exclusion(&t, at("2026-12-05T08:59:59+09:00"), TOKYO),
            Exclusion::Active { tag: EXCLUDE_UNTIL_TAG, until: Some(until) }
        );
        // At the time itself the exclusion is over.
        assert_eq!(exclusion(&t, at("2026-12-05T09:00:00+09:00"), TOKYO), Exclusion::Expired(until));
        assert_eq!(show(&until), "2026-12-05T09:00+09:00");
    }

    #[test]
    fn every_accepted_form_is_the_same_moment() {
        let want = TOKYO.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap();
        for v in [
            "2026-12-05T09:00+09:00",
            "2026-12-05T09:00:00+09:00",
            "2026-12-05T00:00:00Z",
            "2026-12-05T00:00Z",
            "2026-12-05T00:00:00.000+00:00",
            "2026-12-04T16:00-08:00",
            "2026-12-05T09:00",
            "2026-12-05T09:00:00",
        ] {
            assert_eq!(parse_time(v, TOKYO), Some(want), "{v}");
        }
    }

    #[test]
    fn a_time_without_offset_is_in_the_schedules_zone() {
        let t = tags(&[(EXCLUDE_UNTIL_TAG, "2026-12-05T09:00")]);
        let now = at("2026-12-05T08:30:00Z");
        // 09:00 in Tokyo is 00:00Z: over. 09:00 in London is 09:00Z: still on.
        assert!(matches!(exclusion(&t, now, TOKYO), Exclusion::Expired(_)));
        let london = chrono_tz::Europe::London;
        assert_eq!(
            exclusion(&t, now, london),
            Exclusion::Active {
                tag: EXCLUDE_UNTIL_TAG,
                until: Some(london.with_ymd_and_hms(2026, 12, 5, 9, 0, 0).unwrap())
            }
        );
        // Shown in the schedule's zone whatever zone it was written in.
        let utc = tags(&[(EXCLUDE_UNTIL_TAG, "2026-12-05T00:00Z")]);
        let Exclusion::Active { until: Some(until), .. } = exclusion(&utc, at("2026-12-04T00:00:00Z"), TOKYO) else {
            panic!()
        };
        assert_eq!(show(&until), "2026-12-05T09:00+09:00");
    }

    #[test]
    fn a_malformed_tag_excludes_and_names_the_tag_and_the_form() {
        let now = at("2026-12-04T22:00:00+09:00");
        for (tag, value, wanted) in [
            (EXCLUDE_TAG, "yes", "expected `true`"),
            (EXCLUDE_TAG, "", "expected `true`"),
            (EXCLUDE_UNTIL_TAG, "tomorrow", "expected an RFC 3339 time such as 2026-12-05T09:00+09:00"),
            (EXCLUDE_UNTIL_TAG, "2026-12-05", "expected an RFC 3339 time"),
            (EXCLUDE_UNTIL_TAG, "2026-12-05 09:00", "expected an RFC 3339 time"),
            (EXCLUDE_UNTIL_TAG, "2026-13-05T09:00+09:00", "expected an RFC 3339 time"),
            (EXCLUDE_UNTIL_TAG, "2026-12-05T25:00", "expected an RFC 3339 time"),
        ] {
            let Exclusion::Malformed(why) = exclusion(&tags(&[(tag, value)]), now, TOKYO) else {
                panic!("{tag}={value} must be malformed")
            };
            assert!(why.starts_with(&format!("the tag {tag} holds `{value}`")), "{why}");
            assert!(why.contains(wanted), "{why}");
        }
        // A bad `exclude` wins over a good `exclude-until`: it still excludes.
        let t = tags(&[(EXCLUDE_TAG, "ture"), (EXCLUDE_UNTIL_TAG, "2026-12-01T09:00+09:00")]);
        assert!(matches!(exclusion(&t, now, TOKYO), Exclusion::Malformed(_)));
    }
}

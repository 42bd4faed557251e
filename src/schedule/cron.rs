//! Parsing and validation of EventBridge Scheduler cron expressions.
//!
//! The accepted syntax is `cron(minutes hours day-of-month month day-of-week year)`,
//! following the EventBridge Scheduler rules:
//!
//! | field        | values              | special characters |
//! |--------------|---------------------|--------------------|
//! | minutes      | 0-59                | `, - * /`          |
//! | hours        | 0-23                | `, - * /`          |
//! | day-of-month | 1-31                | `, - * ? / L W`    |
//! | month        | 1-12 or JAN-DEC     | `, - * /`          |
//! | day-of-week  | 1-7 or SUN-SAT      | `, - * ? L #`      |
//! | year         | 1970-2199           | `, - * /`          |
//!
//! Exactly one of day-of-month and day-of-week must be `?`.
//!
//! Deliberate choices where the AWS documentation is silent or where we are lenient:
//!
//! * Leading/trailing whitespace around the expression and any run of whitespace
//!   between fields is accepted; [`Cron::as_str`] still returns the text as given.
//! * Month and weekday names, and the special letters `L` and `W`, are case-insensitive.
//!   The `cron(` prefix is not: it has to be lowercase, as AWS requires.
//! * Month and day-of-week ranges may wrap around (`NOV-FEB` = Nov, Dec, Jan, Feb;
//!   `FRI-MON` = Fri, Sat, Sun, Mon). Other fields reject ranges whose start is
//!   after their end.
//! * A step may be at most the size of the field's range (60 for minutes, 24 for hours,
//!   …); larger steps are almost certainly mistakes.
//! * `L`, `W` and `#` forms must be the whole field: they cannot appear in a list,
//!   a range or with a step. `L-n` (offset from the last day) is not supported by
//!   EventBridge Scheduler and is rejected.
//!
//! This module only parses; computing fire times is left to the evaluator, for which
//! the parsed representation ([`BitSet64`], [`Years`], [`DayOfMonth`], [`DayOfWeek`])
//! is designed.

use std::fmt;
use std::str::FromStr;

/// A parsed EventBridge Scheduler cron expression.
///
/// Parse with [`str::parse`]: `"cron(0 22 ? * MON-FRI *)".parse::<Cron>()`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cron {
    text: String,
    minutes: BitSet64,
    hours: BitSet64,
    day_of_month: DayOfMonth,
    months: BitSet64,
    day_of_week: DayOfWeek,
    years: Years,
}

impl Cron {
    /// The original expression, exactly as given (including any surrounding whitespace).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Minutes of the hour, 0-59.
    pub fn minutes(&self) -> &BitSet64 {
        &self.minutes
    }

    /// Hours of the day, 0-23.
    pub fn hours(&self) -> &BitSet64 {
        &self.hours
    }

    /// The day-of-month field.
    pub fn day_of_month(&self) -> &DayOfMonth {
        &self.day_of_month
    }

    /// Months, 1-12 (1 = January).
    pub fn months(&self) -> &BitSet64 {
        &self.months
    }

    /// The day-of-week field (1 = Sunday … 7 = Saturday).
    pub fn day_of_week(&self) -> &DayOfWeek {
        &self.day_of_week
    }

    /// Years, 1970-2199.
    pub fn years(&self) -> &Years {
        &self.years
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let trimmed = text.trim();
        let Some(inner) = trimmed.strip_prefix("cron(").and_then(|rest| rest.strip_suffix(')')) else {
            if trimmed.starts_with("rate(") || trimmed.starts_with("at(") {
                return Err(CronError::new(format!("only cron(...) expressions are accepted here, got {text:?}")));
            }
            return Err(CronError::new(format!("expected cron({FIELD_NAMES}), got {text:?}")));
        };

        let fields: Vec<&str> = inner.split_whitespace().collect();
        let &[minutes, hours, day_of_month, months, day_of_week, years] = fields.as_slice() else {
            let n = fields.len();
            let plural = if n == 1 { "" } else { "s" };
            return Err(CronError::new(format!(
                "cron has {n} field{plural}, EventBridge Scheduler needs 6: {FIELD_NAMES}"
            )));
        };

        let minutes = BitSet64::from_bits(&parse_plain_field(&MINUTES, minutes)?);
        let hours = BitSet64::from_bits(&parse_plain_field(&HOURS, hours)?);
        let day_of_month = parse_day_of_month(day_of_month)?;
        let months = BitSet64::from_bits(&parse_plain_field(&MONTH, months)?);
        let day_of_week = parse_day_of_week(day_of_week)?;
        let years = Years { bits: parse_plain_field(&YEAR, years)?.words };

        match (&day_of_month, &day_of_week) {
            (DayOfMonth::Unspecified, DayOfWeek::Unspecified) => {
                return Err(CronError::new("day-of-month and day-of-week cannot both be ?"));
            }
            (DayOfMonth::Unspecified, _) | (_, DayOfWeek::Unspecified) => {}
            _ => {
                return Err(CronError::new("day-of-month and day-of-week cannot both be set; use ? in one of them"));
            }
        }

        Ok(Cron { text: text.to_owned(), minutes, hours, day_of_month, months, day_of_week, years })
    }
}

/// The day-of-month field of a [`Cron`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayOfMonth {
    /// `?`: the day is chosen by the day-of-week field instead.
    Unspecified,
    /// Explicit days 1-31 (`*`, lists, ranges, steps). A day that does not exist in a
    /// given month (e.g. 31 in April) simply never matches in that month.
    Days(BitSet64),
    /// `L`: the last day of the month.
    Last,
    /// `nW`: the weekday (Monday-Friday) nearest to day `n` (1-31) of the month,
    /// without crossing into another month.
    NearestWeekday(u8),
    /// `LW`: the last weekday (Monday-Friday) of the month.
    LastWeekday,
}

/// The day-of-week field of a [`Cron`]. Weekdays are numbered 1 = Sunday … 7 = Saturday.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayOfWeek {
    /// `?`: the day is chosen by the day-of-month field instead.
    Unspecified,
    /// Explicit weekdays 1-7 (`*`, lists, ranges). A lone `L` means Saturday (the last
    /// day of the week) and is represented here as `{7}`.
    Days(BitSet64),
    /// `nL` (e.g. `6L` or `FRIL`): the last weekday `n` (1-7) of the month.
    LastOfMonth(u8),
    /// `n#k` (e.g. `2#1` or `MON#1`): the `nth` (1-5) occurrence of `weekday` (1-7)
    /// in the month. Never matches in months without that many occurrences.
    Nth { weekday: u8, nth: u8 },
}

/// A set of small values (all below 64) within a field's domain, e.g. minutes 0-59.
///
/// Bit `v` is set when value `v` is in the set, so values are used as-is: a month set
/// holds 1-12, not 0-11.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BitSet64 {
    bits: u64,
    min: u8,
    max: u8,
}

impl BitSet64 {
    /// Whether `value` is in the set. Values outside the field's domain are never in it.
    pub fn contains(&self, value: u8) -> bool {
        value < 64 && self.bits & (1 << value) != 0
    }

    /// The values in ascending order.
    pub fn iter(&self) -> BitSet64Iter {
        BitSet64Iter { bits: self.bits }
    }

    /// Whether every value of the field's domain is in the set (e.g. the field was `*`).
    pub fn is_full(&self) -> bool {
        self.bits == Self::domain_mask(self.min, self.max)
    }

    /// Number of values in the set. Sets produced by the parser are never empty.
    pub fn len(&self) -> usize {
        self.bits.count_ones() as usize
    }

    /// Whether the set has no values. Sets produced by the parser are never empty.
    pub fn is_empty(&self) -> bool {
        self.bits == 0
    }

    /// The smallest value in the set.
    pub fn first(&self) -> Option<u8> {
        self.iter().next()
    }

    /// The smallest value in the set that is `>= value`, if any; handy for finding the
    /// next matching minute, hour, … without scanning.
    pub fn next_at_or_after(&self, value: u8) -> Option<u8> {
        if value >= 64 {
            return None;
        }
        let rest = self.bits & (u64::MAX << value);
        (rest != 0).then(|| rest.trailing_zeros() as u8)
    }

    /// The field's domain, e.g. `0..=59` for minutes or `1..=7` for weekdays.
    pub fn domain(&self) -> std::ops::RangeInclusive<u8> {
        self.min..=self.max
    }

    fn domain_mask(min: u8, max: u8) -> u64 {
        // max <= 59 for every field stored in a BitSet64, so neither shift overflows.
        (u64::MAX >> (63 - max)) & (u64::MAX << min)
    }

    /// Converts the parser's accumulator (offsets from the field's minimum).
    fn from_bits(acc: &Bits) -> Self {
        let mut bits = 0u64;
        for offset in acc.iter() {
            bits |= 1 << (acc.min + offset);
        }
        BitSet64 {
            bits,
            // Every field stored in a BitSet64 has min and max below 64.
            min: acc.min as u8,
            max: acc.max as u8,
        }
    }
}

impl fmt::Debug for BitSet64 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl IntoIterator for &BitSet64 {
    type Item = u8;
    type IntoIter = BitSet64Iter;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Ascending iterator over a [`BitSet64`].
#[derive(Debug, Clone)]
pub struct BitSet64Iter {
    bits: u64,
}

impl Iterator for BitSet64Iter {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        if self.bits == 0 {
            return None;
        }
        let value = self.bits.trailing_zeros() as u8;
        self.bits &= self.bits - 1; // clear the lowest set bit
        Some(value)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bits.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for BitSet64Iter {}

/// The set of years of a [`Cron`], within 1970-2199.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Years {
    /// Bit `y - Years::MIN` is set when year `y` is in the set.
    bits: [u64; 4],
}

impl Years {
    /// The first year EventBridge Scheduler accepts.
    pub const MIN: u16 = 1970;
    /// The last year EventBridge Scheduler accepts.
    pub const MAX: u16 = 2199;

    /// Whether `year` is in the set. Years outside 1970-2199 are never in it.
    pub fn contains(&self, year: u16) -> bool {
        if !(Self::MIN..=Self::MAX).contains(&year) {
            return false;
        }
        let offset = usize::from(year - Self::MIN);
        self.bits[offset / 64] & (1 << (offset % 64)) != 0
    }

    /// The years in ascending order.
    pub fn iter(&self) -> YearsIter {
        YearsIter { years: *self, next: Self::MIN }
    }

    /// Whether every year 1970-2199 is in the set (e.g. the field was `*`).
    pub fn is_full(&self) -> bool {
        (Self::MIN..=Self::MAX).all(|y| self.contains(y))
    }

    /// Number of years in the set. Sets produced by the parser are never empty.
    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set has no years. Sets produced by the parser are never empty.
    pub fn is_empty(&self) -> bool {
        self.bits.iter().all(|&w| w == 0)
    }

    /// The earliest year in the set.
    pub fn first(&self) -> Option<u16> {
        self.iter().next()
    }

    /// The earliest year in the set that is `>= year`, if any.
    pub fn next_at_or_after(&self, year: u16) -> Option<u16> {
        (year.max(Self::MIN)..=Self::MAX).find(|&y| self.contains(y))
    }
}

impl fmt::Debug for Years {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl IntoIterator for &Years {
    type Item = u16;
    type IntoIter = YearsIter;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// Ascending iterator over [`Years`].
#[derive(Debug, Clone)]
pub struct YearsIter {
    years: Years,
    next: u16,
}

impl Iterator for YearsIter {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        let year = self.years.next_at_or_after(self.next)?;
        self.next = year + 1;
        Some(year)
    }
}

/// Why a cron expression was rejected. [`Display`](fmt::Display) gives a message
/// meant for humans, naming the field and the offending token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronError {
    message: String,
}

impl CronError {
    fn new(message: impl Into<String>) -> Self {
        CronError { message: message.into() }
    }

    /// The human-readable message (same as the `Display` output).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for CronError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CronError {}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

const FIELD_NAMES: &str = "minutes hours day-of-month month day-of-week year";

const MONTH_NAMES: &[&str] = &["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const WEEKDAY_NAMES: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Static description of one cron field.
struct Field {
    name: &'static str,
    min: u16,
    max: u16,
    /// Names for `min`, `min + 1`, …; empty when the field only takes numbers.
    names: &'static [&'static str],
    /// Whether `a-b` with `a > b` wraps around the end of the field.
    wraps: bool,
    /// Whether `/` steps are allowed.
    steps: bool,
}

const MINUTES: Field = Field { name: "minutes", min: 0, max: 59, names: &[], wraps: false, steps: true };
const HOURS: Field = Field { name: "hours", min: 0, max: 23, names: &[], wraps: false, steps: true };
const DAY_OF_MONTH: Field = Field { name: "day-of-month", min: 1, max: 31, names: &[], wraps: false, steps: true };
const MONTH: Field = Field { name: "month", min: 1, max: 12, names: MONTH_NAMES, wraps: true, steps: true };
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: WEEKDAY_NAMES,
    wraps: true,
    // EventBridge Scheduler documents `, - * ? L #` for day-of-week: no steps.
    steps: false,
};
const YEAR: Field = Field { name: "year", min: Years::MIN, max: Years::MAX, names: &[], wraps: false, steps: true };

impl Field {
    fn error(&self, detail: impl fmt::Display) -> CronError {
        CronError::new(format!("{}: {detail}", self.name))
    }

    /// Number of values in the domain; also the largest step accepted.
    fn span(&self) -> u16 {
        self.max - self.min + 1
    }

    /// What the field accepts, for error messages: "0-59" or "JAN-DEC or 1-12".
    fn accepted(&self) -> String {
        match (self.names.first(), self.names.last()) {
            (Some(first), Some(last)) => {
                format!("{first}-{last} or {}-{}", self.min, self.max)
            }
            _ => format!("{}-{}", self.min, self.max),
        }
    }

    /// Parses a single number or name, e.g. `15`, `jul`, `MON`.
    fn parse_value(&self, atom: &str) -> Result<u16, CronError> {
        if atom.is_empty() {
            return Err(self.error(format!("missing value (expected {})", self.accepted())));
        }
        if atom.bytes().all(|b| b.is_ascii_digit()) {
            // Overflowing u32 is just a very large number: out of range as well.
            return match atom.parse::<u32>() {
                Ok(n) if (u32::from(self.min)..=u32::from(self.max)).contains(&n) => Ok(n as u16),
                _ => Err(self.error(format!("{atom} is out of range {}-{}", self.min, self.max))),
            };
        }
        if let Some(index) = self.names.iter().position(|n| n.eq_ignore_ascii_case(atom)) {
            // index < names.len() <= 12, and min + index <= max by construction.
            return Ok(self.min + index as u16);
        }
        if let Some(reason) = misplaced_special(atom) {
            return Err(self.error(format!("{reason} (got {atom:?})")));
        }
        if self.names.is_empty() {
            Err(self.error(format!("{atom:?} is not a number (expected {})", self.accepted())))
        } else if atom.bytes().all(|b| b.is_ascii_alphabetic()) {
            Err(self.error(format!("unknown name {atom:?} (use {})", self.accepted())))
        } else {
            Err(self.error(format!("{atom:?} is not a number or name (use {})", self.accepted())))
        }
    }

    /// Parses the step after `/` in `item`.
    fn parse_step(&self, item: &str, step: &str) -> Result<u16, CronError> {
        if step.is_empty() {
            return Err(self.error(format!("{item:?} is missing the step after \"/\"")));
        }
        if !step.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(format!("step {step:?} in {item:?} is not a number")));
        }
        match step.parse::<u32>() {
            Ok(0) => Err(self.error(format!("step 0 in {item:?} must be at least 1"))),
            Ok(n) if n <= u32::from(self.span()) => Ok(n as u16),
            _ => Err(self.error(format!("step {step} in {item:?} must be at most {}", self.span()))),
        }
    }

    /// Parses one list item (`*`, `v`, `a-b`, each optionally followed by `/step`)
    /// into `acc`.
    fn parse_item(&self, item: &str, acc: &mut Bits) -> Result<(), CronError> {
        let (base, step_text) = match item.split_once('/') {
            Some((base, step)) => (base, Some(step)),
            None => (item, None),
        };
        if step_text.is_some() && base.is_empty() {
            return Err(self.error(format!("{item:?} is missing the start before \"/\" (e.g. */5 or 0/5)")));
        }

        let (start, end) = if base == "*" {
            (self.min, self.max)
        } else if let Some((a, b)) = base.split_once('-') {
            if [a, b].iter().any(|p| p.is_empty() || *p == "*") || b.contains('-') {
                return Err(self.error(format!(
                    "{base:?} is not a valid range (expected start-end, e.g. {}-{})",
                    self.min,
                    self.min + 1
                )));
            }
            let (start, end) = (self.parse_value(a)?, self.parse_value(b)?);
            if start > end && !self.wraps {
                return Err(self.error(format!(
                    "range {base:?} runs backwards (only month and day-of-week ranges may wrap around)"
                )));
            }
            (start, end)
        } else {
            let value = self.parse_value(base)?;
            // `a/b` means "from a to the end of the field, every b".
            let end = if step_text.is_some() { self.max } else { value };
            (value, end)
        };

        let step = match step_text {
            Some(_) if !self.steps => {
                return Err(self.error(format!("steps (\"/\") are not allowed in this field (got {item:?})")));
            }
            Some(step) => self.parse_step(item, step)?,
            None => 1,
        };

        // Walk from `start` to `end`, wrapping past `max` back to `min` when
        // start > end (only possible for fields that wrap).
        let span = self.span();
        let len = if start <= end { end - start + 1 } else { (self.max - start + 1) + (end - self.min + 1) };
        for k in (0..len).step_by(usize::from(step)) {
            acc.insert((start - self.min + k) % span);
        }
        Ok(())
    }

    /// Parses a comma-separated list of items.
    fn parse_list(&self, text: &str) -> Result<Bits, CronError> {
        let mut acc = Bits::new(self);
        for item in text.split(',') {
            if item.is_empty() {
                return Err(self.error(format!("empty value in list {text:?}")));
            }
            self.parse_item(item, &mut acc)?;
        }
        Ok(acc)
    }

    /// Rejects `?` anywhere in a field that is not allowed to be `?`, and `?` that is
    /// not the whole field in day-of-month/day-of-week.
    fn check_question_mark(&self, text: &str, allowed: bool) -> Result<(), CronError> {
        if !text.contains('?') {
            Ok(())
        } else if allowed {
            Err(self.error(format!("? must be the whole field, not part of a list or range (got {text:?})")))
        } else {
            Err(self.error("? is only allowed in day-of-month or day-of-week"))
        }
    }
}

/// Explains why `atom` would be valid in another field, for a more helpful message
/// than "not a number".
fn misplaced_special(atom: &str) -> Option<&'static str> {
    let digits_then = |suffix: char| {
        let upper = atom.to_ascii_uppercase();
        upper.strip_suffix(suffix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if atom.contains('#') {
        Some("# is only allowed in day-of-week")
    } else if atom.eq_ignore_ascii_case("L") || atom.eq_ignore_ascii_case("LW") || digits_then('L') {
        Some("L is only allowed in day-of-month and day-of-week")
    } else if atom.eq_ignore_ascii_case("W") || digits_then('W') {
        Some("W is only allowed in day-of-month")
    } else {
        None
    }
}

/// Case-insensitive `strip_suffix` for an ASCII suffix.
fn strip_suffix_ignore_case<'a>(text: &'a str, suffix: &str) -> Option<&'a str> {
    let split = text.len().checked_sub(suffix.len())?;
    if !text.is_char_boundary(split) {
        return None;
    }
    let (head, tail) = text.split_at(split);
    tail.eq_ignore_ascii_case(suffix).then_some(head)
}

const SPECIAL_IN_LIST: &str = "L, W and # cannot be combined with other values in a list";

/// minutes, hours, month, year: lists, ranges and steps only.
fn parse_plain_field(field: &Field, text: &str) -> Result<Bits, CronError> {
    field.check_question_mark(text, false)?;
    field.parse_list(text)
}

fn parse_day_of_month(text: &str) -> Result<DayOfMonth, CronError> {
    let field = &DAY_OF_MONTH;
    if text == "?" {
        return Ok(DayOfMonth::Unspecified);
    }
    field.check_question_mark(text, true)?;

    let has_special = text.bytes().any(|b| matches!(b, b'L' | b'l' | b'W' | b'w'));
    if !has_special {
        return Ok(DayOfMonth::Days(BitSet64::from_bits(&field.parse_list(text)?)));
    }
    if text.contains(',') {
        return Err(field.error(SPECIAL_IN_LIST));
    }
    if text.eq_ignore_ascii_case("L") {
        return Ok(DayOfMonth::Last);
    }
    if text.eq_ignore_ascii_case("LW") {
        return Ok(DayOfMonth::LastWeekday);
    }
    if let Some(day) = strip_suffix_ignore_case(text, "W")
        && !day.is_empty()
        && day.bytes().all(|b| b.is_ascii_digit())
    {
        // parse_value checks 1-31; the result always fits in a u8.
        return Ok(DayOfMonth::NearestWeekday(field.parse_value(day)? as u8));
    }
    Err(field.error(format!("{text:?} is not supported (use L, LW or a day followed by W, e.g. 15W)")))
}

fn parse_day_of_week(text: &str) -> Result<DayOfWeek, CronError> {
    let field = &DAY_OF_WEEK;
    if text == "?" {
        return Ok(DayOfWeek::Unspecified);
    }
    field.check_question_mark(text, true)?;

    // No weekday name contains L or #, so these always mean the special forms.
    let has_special = text.bytes().any(|b| matches!(b, b'L' | b'l' | b'#'));
    if !has_special {
        return Ok(DayOfWeek::Days(BitSet64::from_bits(&field.parse_list(text)?)));
    }
    if text.contains(',') {
        return Err(field.error(SPECIAL_IN_LIST));
    }

    if let Some((weekday, nth)) = text.split_once('#') {
        if weekday.is_empty() || nth.is_empty() || nth.contains('#') {
            return Err(field.error("\"#\" needs a weekday and an occurrence 1-5, e.g. MON#2"));
        }
        let weekday = field.parse_value(weekday)?;
        // Check the digits first: u8::from_str would also accept "+1".
        let occurrence = if nth.bytes().all(|b| b.is_ascii_digit()) { nth.parse::<u8>().ok() } else { None };
        return match occurrence {
            Some(nth @ 1..=5) => Ok(DayOfWeek::Nth { weekday: weekday as u8, nth }),
            _ => {
                Err(field
                    .error(format!("occurrence {nth:?} in {text:?} must be 1-5 (e.g. MON#2 is the second Monday)")))
            }
        };
    }

    if text.eq_ignore_ascii_case("L") {
        // A lone L is the last day of the week: Saturday.
        return Ok(DayOfWeek::Days(BitSet64::from_bits(&Bits::single(field, 7))));
    }
    if let Some(weekday) = strip_suffix_ignore_case(text, "L")
        && !weekday.is_empty()
        && (weekday.bytes().all(|b| b.is_ascii_digit()) || weekday.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Ok(DayOfWeek::LastOfMonth(field.parse_value(weekday)? as u8));
    }
    Err(field.error(format!("{text:?} is not supported (use L alone or a weekday followed by L, e.g. 6L or FRIL)")))
}

/// Accumulator used while parsing: bit `v - min` is set for value `v`. 256 bits cover
/// the largest field (years, 230 values).
struct Bits {
    words: [u64; 4],
    min: u16,
    max: u16,
}

impl Bits {
    fn new(field: &Field) -> Self {
        Bits { words: [0; 4], min: field.min, max: field.max }
    }

    fn single(field: &Field, value: u16) -> Self {
        let mut bits = Bits::new(field);
        bits.insert(value - field.min);
        bits
    }

    /// Inserts the value `min + offset`; callers guarantee `offset <= max - min`.
    fn insert(&mut self, offset: u16) {
        let offset = usize::from(offset);
        if let Some(word) = self.words.get_mut(offset / 64) {
            *word |= 1 << (offset % 64);
        }
    }

    /// Offsets (value - min) in ascending order.
    fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..=self.max - self.min).filter(|&offset| self.words[usize::from(offset) / 64] & (1 << (offset % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(expr: &str) -> Result<Cron, CronError> {
        expr.parse()
    }

    fn set(field: &Field, values: impl IntoIterator<Item = u16>) -> BitSet64 {
        let mut bits = Bits::new(field);
        for v in values {
            bits.insert(v - field.min);
        }
        BitSet64::from_bits(&bits)
    }

    fn all(field: &Field) -> Vec<u16> {
        (field.min..=field.max).collect()
    }

    fn dom(values: impl IntoIterator<Item = u16>) -> DayOfMonth {
        DayOfMonth::Days(set(&DAY_OF_MONTH, values))
    }

    fn dow(values: impl IntoIterator<Item = u16>) -> DayOfWeek {
        DayOfWeek::Days(set(&DAY_OF_WEEK, values))
    }

    struct Valid {
        expr: &'static str,
        minutes: Vec<u16>,
        hours: Vec<u16>,
        dom: DayOfMonth,
        months: Vec<u16>,
        dow: DayOfWeek,
        years: Vec<u16>,
    }

    #[test]
    fn valid_expressions() {
        let cases = vec![
            Valid {
                expr: "cron(0 22 ? * MON-FRI *)",
                minutes: vec![0],
                hours: vec![22],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: dow(2..=6),
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0/15 8-18 ? * 2-6 *)",
                minutes: vec![0, 15, 30, 45],
                hours: (8..=18).collect(),
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: dow(2..=6),
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 9 L * ? *)",
                minutes: vec![0],
                hours: vec![9],
                dom: DayOfMonth::Last,
                months: all(&MONTH),
                dow: DayOfWeek::Unspecified,
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 9 15W * ? *)",
                minutes: vec![0],
                hours: vec![9],
                dom: DayOfMonth::NearestWeekday(15),
                months: all(&MONTH),
                dow: DayOfWeek::Unspecified,
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 9 LW * ? *)",
                minutes: vec![0],
                hours: vec![9],
                dom: DayOfMonth::LastWeekday,
                months: all(&MONTH),
                dow: DayOfWeek::Unspecified,
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 9 ? * 6L *)",
                minutes: vec![0],
                hours: vec![9],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: DayOfWeek::LastOfMonth(6),
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 9 ? * FRIL *)",
                minutes: vec![0],
                hours: vec![9],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: DayOfWeek::LastOfMonth(6),
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 9 ? * L *)",
                minutes: vec![0],
                hours: vec![9],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: dow([7]),
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 9 ? * MON#1 2026-2027)",
                minutes: vec![0],
                hours: vec![9],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: DayOfWeek::Nth { weekday: 2, nth: 1 },
                years: vec![2026, 2027],
            },
            Valid {
                expr: "cron(30 6 ? * 7#5 *)",
                minutes: vec![30],
                hours: vec![6],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: DayOfWeek::Nth { weekday: 7, nth: 5 },
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 0 1 JAN,jul ? *)",
                minutes: vec![0],
                hours: vec![0],
                dom: dom([1]),
                months: vec![1, 7],
                dow: DayOfWeek::Unspecified,
                years: all(&YEAR),
            },
            // Wrap-around ranges in day-of-week and month.
            Valid {
                expr: "cron(0 8 ? * FRI-MON *)",
                minutes: vec![0],
                hours: vec![8],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: dow([1, 2, 6, 7]),
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 8 1 NOV-FEB ? *)",
                minutes: vec![0],
                hours: vec![8],
                dom: dom([1]),
                months: vec![1, 2, 11, 12],
                dow: DayOfWeek::Unspecified,
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 8 1 NOV-FEB/2 ? *)",
                minutes: vec![0],
                hours: vec![8],
                dom: dom([1]),
                months: vec![1, 11],
                dow: DayOfWeek::Unspecified,
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(5/10 */6 1-10/3 MAR/4 ? 2190/3)",
                minutes: vec![5, 15, 25, 35, 45, 55],
                hours: vec![0, 6, 12, 18],
                dom: dom([1, 4, 7, 10]),
                months: vec![3, 7, 11],
                dow: DayOfWeek::Unspecified,
                years: vec![2190, 2193, 2196, 2199],
            },
            Valid {
                expr: "cron(0-59/20,7 23 * DEC ? 1970,2199)",
                minutes: vec![0, 7, 20, 40],
                hours: vec![23],
                dom: dom(1..=31),
                months: vec![12],
                dow: DayOfWeek::Unspecified,
                years: vec![1970, 2199],
            },
            Valid {
                expr: "cron(1,2,3 0 ? * sun,Sat *)",
                minutes: vec![1, 2, 3],
                hours: vec![0],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: dow([1, 7]),
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(05 07 ? * * *)",
                minutes: vec![5],
                hours: vec![7],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: dow(1..=7),
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 9 lw * ? *)",
                minutes: vec![0],
                hours: vec![9],
                dom: DayOfMonth::LastWeekday,
                months: all(&MONTH),
                dow: DayOfWeek::Unspecified,
                years: all(&YEAR),
            },
            Valid {
                expr: "cron(0 9 ? * tue#2 *)",
                minutes: vec![0],
                hours: vec![9],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: DayOfWeek::Nth { weekday: 3, nth: 2 },
                years: all(&YEAR),
            },
            // Lenient whitespace; as_str keeps the text as given.
            Valid {
                expr: "  cron( 0   12 ?\t*  * * )  ",
                minutes: vec![0],
                hours: vec![12],
                dom: DayOfMonth::Unspecified,
                months: all(&MONTH),
                dow: dow(1..=7),
                years: all(&YEAR),
            },
        ];

        for case in cases {
            let cron = parse(case.expr).unwrap_or_else(|e| panic!("{}: {e}", case.expr));
            let to_u16 = |s: &BitSet64| s.iter().map(u16::from).collect::<Vec<_>>();
            assert_eq!(to_u16(cron.minutes()), case.minutes, "{} minutes", case.expr);
            assert_eq!(to_u16(cron.hours()), case.hours, "{} hours", case.expr);
            assert_eq!(*cron.day_of_month(), case.dom, "{} day-of-month", case.expr);
            assert_eq!(to_u16(cron.months()), case.months, "{} months", case.expr);
            assert_eq!(*cron.day_of_week(), case.dow, "{} day-of-week", case.expr);
            assert_eq!(cron.years().iter().collect::<Vec<_>>(), case.years, "{} years", case.expr);
            assert_eq!(cron.as_str(), case.expr);
            assert_eq!(cron.to_string(), case.expr);
        }
    }

    #[test]
    fn invalid_expressions() {
        let names = "minutes hours day-of-month month day-of-week year";
        let cases: Vec<(&str, String)> = vec![
            // Wrapper and field count.
            ("0 22 * * *", format!("expected cron({names}), got \"0 22 * * *\"")),
            ("", format!("expected cron({names}), got \"\"")),
            ("CRON(0 22 ? * * *)", format!("expected cron({names}), got \"CRON(0 22 ? * * *)\"")),
            ("cron(0 22 ? * * *", format!("expected cron({names}), got \"cron(0 22 ? * * *\"")),
            ("rate(5 minutes)", "only cron(...) expressions are accepted here, got \"rate(5 minutes)\"".into()),
            (
                "at(2026-01-01T00:00:00)",
                "only cron(...) expressions are accepted here, got \"at(2026-01-01T00:00:00)\"".into(),
            ),
            ("cron(0 22 * * *)", format!("cron has 5 fields, EventBridge Scheduler needs 6: {names}")),
            ("cron(0 0 22 * * ? *)", format!("cron has 7 fields, EventBridge Scheduler needs 6: {names}")),
            ("cron()", format!("cron has 0 fields, EventBridge Scheduler needs 6: {names}")),
            ("cron(*)", format!("cron has 1 field, EventBridge Scheduler needs 6: {names}")),
            // Out of range values.
            ("cron(60 0 ? * * *)", "minutes: 60 is out of range 0-59".into()),
            ("cron(0 25 ? * * *)", "hours: 25 is out of range 0-23".into()),
            ("cron(0 0 0 * ? *)", "day-of-month: 0 is out of range 1-31".into()),
            ("cron(0 0 32 * ? *)", "day-of-month: 32 is out of range 1-31".into()),
            ("cron(0 0 1 13 ? *)", "month: 13 is out of range 1-12".into()),
            ("cron(0 0 ? * 0 *)", "day-of-week: 0 is out of range 1-7".into()),
            ("cron(0 0 ? * 8 *)", "day-of-week: 8 is out of range 1-7".into()),
            ("cron(0 0 ? * * 1969)", "year: 1969 is out of range 1970-2199".into()),
            ("cron(0 0 ? * * 2200)", "year: 2200 is out of range 1970-2199".into()),
            ("cron(99999999999 0 ? * * *)", "minutes: 99999999999 is out of range 0-59".into()),
            ("cron(0 0 32W * ? *)", "day-of-month: 32 is out of range 1-31".into()),
            ("cron(0 0 ? * 8L *)", "day-of-week: 8 is out of range 1-7".into()),
            ("cron(0 0 ? * 9#1 *)", "day-of-week: 9 is out of range 1-7".into()),
            // Names and non-numbers.
            ("cron(0 9 ? * MOM *)", "day-of-week: unknown name \"MOM\" (use SUN-SAT or 1-7)".into()),
            ("cron(0 9 ? * MONDAY *)", "day-of-week: unknown name \"MONDAY\" (use SUN-SAT or 1-7)".into()),
            ("cron(0 9 1 JAM ? *)", "month: unknown name \"JAM\" (use JAN-DEC or 1-12)".into()),
            ("cron(0 9 1 1x ? *)", "month: \"1x\" is not a number or name (use JAN-DEC or 1-12)".into()),
            ("cron(x 9 ? * * *)", "minutes: \"x\" is not a number (expected 0-59)".into()),
            ("cron(0 9 ? * * -1)", "year: \"-1\" is not a valid range (expected start-end, e.g. 1970-1971)".into()),
            ("cron(0 MON ? * * *)", "hours: \"MON\" is not a number (expected 0-23)".into()),
            // Day-of-month / day-of-week exclusivity.
            ("cron(0 9 * * MON *)", "day-of-month and day-of-week cannot both be set; use ? in one of them".into()),
            ("cron(0 9 * * * *)", "day-of-month and day-of-week cannot both be set; use ? in one of them".into()),
            ("cron(0 9 L * 6L *)", "day-of-month and day-of-week cannot both be set; use ? in one of them".into()),
            ("cron(0 9 ? * ? *)", "day-of-month and day-of-week cannot both be ?".into()),
            // Question mark misuse.
            ("cron(? 9 ? * * *)", "minutes: ? is only allowed in day-of-month or day-of-week".into()),
            ("cron(0 9 1 ? * *)", "month: ? is only allowed in day-of-month or day-of-week".into()),
            (
                "cron(0 9 1,? * * *)",
                "day-of-month: ? must be the whole field, not part of a list or range (got \"1,?\")".into(),
            ),
            (
                "cron(0 9 * * ?,MON *)",
                "day-of-week: ? must be the whole field, not part of a list or range (got \"?,MON\")".into(),
            ),
            // The # form.
            ("cron(0 9 ? * MON# *)", "day-of-week: \"#\" needs a weekday and an occurrence 1-5, e.g. MON#2".into()),
            ("cron(0 9 ? * #2 *)", "day-of-week: \"#\" needs a weekday and an occurrence 1-5, e.g. MON#2".into()),
            ("cron(0 9 ? * MON#2#3 *)", "day-of-week: \"#\" needs a weekday and an occurrence 1-5, e.g. MON#2".into()),
            (
                "cron(0 9 ? * MON#6 *)",
                "day-of-week: occurrence \"6\" in \"MON#6\" must be 1-5 (e.g. MON#2 is the second Monday)".into(),
            ),
            (
                "cron(0 9 ? * MON#0 *)",
                "day-of-week: occurrence \"0\" in \"MON#0\" must be 1-5 (e.g. MON#2 is the second Monday)".into(),
            ),
            (
                "cron(0 9 ? * 2#+1 *)",
                "day-of-week: occurrence \"+1\" in \"2#+1\" must be 1-5 (e.g. MON#2 is the second Monday)".into(),
            ),
            ("cron(0 9 ? * MOM#1 *)", "day-of-week: unknown name \"MOM\" (use SUN-SAT or 1-7)".into()),
            // L / W / # in lists, ranges and the wrong fields.
            (
                "cron(0 9 1,15,L * ? *)",
                "day-of-month: L, W and # cannot be combined with other values in a list".into(),
            ),
            ("cron(0 9 1,15W * ? *)", "day-of-month: L, W and # cannot be combined with other values in a list".into()),
            ("cron(0 9 ? * MON,6L *)", "day-of-week: L, W and # cannot be combined with other values in a list".into()),
            (
                "cron(0 9 ? * 1,MON#2 *)",
                "day-of-week: L, W and # cannot be combined with other values in a list".into(),
            ),
            (
                "cron(0 9 L-3 * ? *)",
                "day-of-month: \"L-3\" is not supported (use L, LW or a day followed by W, e.g. 15W)".into(),
            ),
            (
                "cron(0 9 1-15W * ? *)",
                "day-of-month: \"1-15W\" is not supported (use L, LW or a day followed by W, e.g. 15W)".into(),
            ),
            (
                "cron(0 9 W * ? *)",
                "day-of-month: \"W\" is not supported (use L, LW or a day followed by W, e.g. 15W)".into(),
            ),
            (
                "cron(0 9 ? * 2-6L *)",
                "day-of-week: \"2-6L\" is not supported (use L alone or a weekday followed by L, e.g. 6L or FRIL)"
                    .into(),
            ),
            ("cron(L 9 ? * * *)", "minutes: L is only allowed in day-of-month and day-of-week (got \"L\")".into()),
            ("cron(0 9 ? L * *)", "month: L is only allowed in day-of-month and day-of-week (got \"L\")".into()),
            ("cron(0 9 ? * 15W *)", "day-of-week: W is only allowed in day-of-month (got \"15W\")".into()),
            ("cron(0 9 2#1 * ? *)", "day-of-month: # is only allowed in day-of-week (got \"2#1\")".into()),
            // Ranges.
            (
                "cron(0 18-8 ? * * *)",
                "hours: range \"18-8\" runs backwards (only month and day-of-week ranges may wrap around)".into(),
            ),
            (
                "cron(0 9 10-1 * ? *)",
                "day-of-month: range \"10-1\" runs backwards (only month and day-of-week ranges may wrap around)"
                    .into(),
            ),
            (
                "cron(0 9 ? * * 2027-2026)",
                "year: range \"2027-2026\" runs backwards (only month and day-of-week ranges may wrap around)".into(),
            ),
            ("cron(1- 9 ? * * *)", "minutes: \"1-\" is not a valid range (expected start-end, e.g. 0-1)".into()),
            ("cron(1-2-3 9 ? * * *)", "minutes: \"1-2-3\" is not a valid range (expected start-end, e.g. 0-1)".into()),
            ("cron(*-5 9 ? * * *)", "minutes: \"*-5\" is not a valid range (expected start-end, e.g. 0-1)".into()),
            // Lists.
            ("cron(1,,2 9 ? * * *)", "minutes: empty value in list \"1,,2\"".into()),
            ("cron(1, 9 ? * * *)", "minutes: empty value in list \"1,\"".into()),
            // Steps.
            ("cron(0/0 9 ? * * *)", "minutes: step 0 in \"0/0\" must be at least 1".into()),
            ("cron(0 */0 ? * * *)", "hours: step 0 in \"*/0\" must be at least 1".into()),
            ("cron(0/61 9 ? * * *)", "minutes: step 61 in \"0/61\" must be at most 60".into()),
            (
                "cron(0/99999999999 9 ? * * *)",
                "minutes: step 99999999999 in \"0/99999999999\" must be at most 60".into(),
            ),
            ("cron(0/x 9 ? * * *)", "minutes: step \"x\" in \"0/x\" is not a number".into()),
            ("cron(0/5/2 9 ? * * *)", "minutes: step \"5/2\" in \"0/5/2\" is not a number".into()),
            ("cron(0/ 9 ? * * *)", "minutes: \"0/\" is missing the step after \"/\"".into()),
            ("cron(/5 9 ? * * *)", "minutes: \"/5\" is missing the start before \"/\" (e.g. */5 or 0/5)".into()),
            (
                "cron(0 9 ? * MON/2 *)",
                "day-of-week: steps (\"/\") are not allowed in this field (got \"MON/2\")".into(),
            ),
            ("cron(0 9 ? * */2 *)", "day-of-week: steps (\"/\") are not allowed in this field (got \"*/2\")".into()),
            // Non-ASCII input must not panic.
            ("cron(0 9 ? * ДЕНЬ *)", "day-of-week: \"ДЕНЬ\" is not a number or name (use SUN-SAT or 1-7)".into()),
            (
                "cron(0 9 éW * ? *)",
                "day-of-month: \"éW\" is not supported (use L, LW or a day followed by W, e.g. 15W)".into(),
            ),
        ];

        for (expr, expected) in cases {
            match parse(expr) {
                Ok(cron) => panic!("{expr:?} should be rejected, parsed as {cron:?}"),
                Err(err) => {
                    assert_eq!(err.to_string(), expected, "for {expr:?}");
                    assert_eq!(err.message(), expected, "for {expr:?}");
                }
            }
        }
    }

    #[test]
    fn bitset_api() {
        let cron = parse("cron(0/15 8-18 ? * 2-6 *)").expect("valid");
        let minutes = cron.minutes();
        assert!(minutes.contains(0) && minutes.contains(45));
        assert!(!minutes.contains(1) && !minutes.contains(60) && !minutes.contains(255));
        assert!(!minutes.is_full());
        assert_eq!(minutes.len(), 4);
        assert_eq!(minutes.first(), Some(0));
        assert_eq!(minutes.next_at_or_after(16), Some(30));
        assert_eq!(minutes.next_at_or_after(46), None);
        assert_eq!(minutes.next_at_or_after(200), None);
        assert_eq!(minutes.domain(), 0..=59);
        assert_eq!(minutes.into_iter().collect::<Vec<_>>(), [0, 15, 30, 45]);
        assert_eq!(format!("{minutes:?}"), "{0, 15, 30, 45}");

        assert!(cron.months().is_full());
        assert_eq!(cron.months().domain(), 1..=12);
        assert!(!cron.months().contains(0));
        let DayOfWeek::Days(days) = cron.day_of_week() else {
            panic!("expected weekdays");
        };
        assert!(!days.is_full());
        assert_eq!(days.iter().len(), 5);

        let all = parse("cron(* * * * ? *)").expect("valid");
        assert!(all.minutes().is_full());
        assert!(all.hours().is_full());
        assert!(matches!(all.day_of_month(), DayOfMonth::Days(d) if d.is_full()));
        // A full set via explicit values is full too.
        let explicit = parse("cron(0-59 0-23 1-31 1-12 ? 1970-2199)").expect("valid");
        assert_eq!(explicit.minutes(), all.minutes());
        assert!(explicit.years().is_full());
    }

    #[test]
    fn years_api() {
        let cron = parse("cron(0 9 ? * * 2026-2027,2030)").expect("valid");
        let years = cron.years();
        assert!(years.contains(2026) && years.contains(2030));
        assert!(!years.contains(2028) && !years.contains(0) && !years.contains(u16::MAX));
        assert!(!years.is_full());
        assert_eq!(years.len(), 3);
        assert_eq!(years.first(), Some(2026));
        assert_eq!(years.next_at_or_after(2000), Some(2026));
        assert_eq!(years.next_at_or_after(2028), Some(2030));
        assert_eq!(years.next_at_or_after(2031), None);
        assert_eq!(years.into_iter().collect::<Vec<_>>(), [2026, 2027, 2030]);
        assert_eq!(format!("{years:?}"), "{2026, 2027, 2030}");

        let any = parse("cron(0 9 ? * * *)").expect("valid");
        assert!(any.years().is_full());
        assert_eq!(any.years().len(), 230);
        assert_eq!(any.years().iter().last(), Some(2199));
    }

    #[test]
    fn display_and_error_traits() {
        let cron = parse("cron(0 22 ? * MON-FRI *)").expect("valid");
        assert_eq!(format!("{cron}"), "cron(0 22 ? * MON-FRI *)");
        let err = parse("cron(0 25 ? * * *)").expect_err("invalid");
        let boxed: Box<dyn std::error::Error> = Box::new(err);
        assert_eq!(boxed.to_string(), "hours: 25 is out of range 0-23");
    }

    /// Throws a deterministic stream of semi-random expressions at the parser to make
    /// sure no input panics (overflow, slicing, indexing).
    #[test]
    fn never_panics() {
        const ATOMS: &str = "0 1 7 9 12 15 23 31 59 60 99 1970 2199 4294967296 * ? L W LW l # / - , \
                             MON jul SAT é Д ( ) 0/0 5/ /5";
        let atoms: Vec<&str> = ATOMS.split_whitespace().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |n: usize| {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..20_000 {
            let fields = 4 + next(4);
            let mut expr = String::from("cron(");
            for f in 0..fields {
                if f > 0 {
                    expr.push(' ');
                }
                for _ in 0..1 + next(4) {
                    expr.push_str(atoms[next(atoms.len())]);
                }
            }
            expr.push(')');
            let _ = parse(&expr);
        }
    }
}

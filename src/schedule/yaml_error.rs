//! A YAML error reported at the character to change, saying what to do. The parser's mark is where
//! it gave up, which for a tab in the indentation, an unclosed quote or an unclosed bracket is often
//! a later line: each rule here takes that mark as a hint and finds the offending character in the
//! text. An error no rule knows keeps the parser's own message and mark.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::granit_parser::ErrorKind;
use serde_saphyr::localizer::ExternalMessageSource;
use serde_saphyr::{DuplicateKeyPolicy, Error, Location, Spanned};

use super::{Problem, yaml_message};
use crate::text::escaped;

const TAB: &str = "tabs are not allowed in YAML indentation; use spaces";

/// The problem to show for the YAML error `e` in `source`.
pub(super) fn problem(source: &str, e: &Error) -> Problem {
    let e = e.without_snippet();
    let found = e.location().and_then(|location| {
        let mark = offset(source, location.line(), location.column())?;
        named(source, e, mark).or_else(|| hidden(source, mark))
    });
    found.unwrap_or_else(|| as_reported(e))
}

/// The parser's message at the parser's mark.
fn as_reported(e: &Error) -> Problem {
    let (line, column) = e.location().map(|l| (l.line(), l.column())).unwrap_or((1, 1));
    Problem { line, column, message: yaml_message(&e.to_string()) }
}

/// Errors whose kind the parser names, at the character that causes them.
fn named(source: &str, e: &Error, mark: usize) -> Option<Problem> {
    match e {
        Error::DuplicateMappingKey { key, location } => Some(duplicate(source, key.as_deref(), location)),
        Error::UnknownAnchor { .. } => undefined_alias(source, mark),
        Error::ExternalMessage { source: origin, .. } => match origin.as_ref() {
            ExternalMessageSource::Parser(scan) => syntax(source, scan.kind(), mark),
            _ => None,
        },
        _ => None,
    }
}

fn syntax(source: &str, kind: &ErrorKind, mark: usize) -> Option<Problem> {
    match kind {
        // A tab that continues a plain scalar is reported at the scalar's end, on the line before.
        ErrorKind::TabInPlainScalar
        | ErrorKind::TabInBlockIndentation
        | ErrorKind::TabInIndentation
        | ErrorKind::TabNotAllowed
        | ErrorKind::TabAtBlockScalarStart => first_indentation_tab(source, line_at(source, mark).0),
        ErrorKind::UnclosedQuotedScalar => unclosed_quote(source, mark),
        ErrorKind::InvalidTrailingDoubleQuotedScalar | ErrorKind::InvalidTrailingSingleQuotedScalar => {
            quote_closed_on_a_later_line(source, mark)
        }
        ErrorKind::UnclosedFlowCollection { open } => {
            source[mark..].starts_with(*open).then(|| unclosed_bracket(source, mark))
        }
        ErrorKind::MissingAnchorOrAliasName => nameless(source, mark),
        _ => None,
    }
}

/// Causes the parser reports as something else: a tab in the indentation of the mark's line or of
/// the line before (after `- ` a tab shifts the entry, and the parser stumbles on the next line),
/// or a bracket left open.
fn hidden(source: &str, mark: usize) -> Option<Problem> {
    let (start, line) = line_at(source, mark);
    let before = source[..start].trim_end_matches(['\n', '\r']);
    let lines = [Some((start, line)), (start > 0).then(|| line_at(source, before.len()))];
    let tab = lines.into_iter().flatten().find_map(|(start, line)| Some(start + indentation_tab(line)?));
    match tab {
        Some(tab) => Some(problem_at(source, tab, TAB.into())),
        None => bracket_left_open(source, mark),
    }
}

// ---- tabs ----

/// The first tab in a line's indentation (its leading spaces and `- ` entry indicators), as a byte
/// index into the line; none on a blank or comment line, where YAML allows tabs.
fn indentation_tab(line: &str) -> Option<usize> {
    let mut tab = None;
    let mut chars = line.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            ' ' | '\r' => {}
            '\t' => tab = tab.or(Some(i)),
            '-' if matches!(chars.peek(), Some((_, ' ' | '\t'))) => {}
            '#' => return None,
            _ => return tab,
        }
    }
    None
}

/// The first tab in the indentation of the line starting at `from` or of a later one.
fn first_indentation_tab(source: &str, from: usize) -> Option<Problem> {
    let mut start = from;
    for line in source[from..].split('\n') {
        if let Some(tab) = indentation_tab(line) {
            return Some(problem_at(source, start + tab, TAB.into()));
        }
        start += line.len() + 1;
    }
    None
}

// ---- quotes ----

/// The quote at `open` starts a string that is never closed.
fn unclosed_quote(source: &str, open: usize) -> Option<Problem> {
    let quote = source[open..].chars().next().filter(|c| matches!(c, '"' | '\''))?;
    Some(problem_at(source, open, format!("this quoted string is never closed: add the closing {quote}")))
}

/// Text follows a quoted string at `mark`. When that string runs over a line break, its opening
/// quote was most likely never closed and the quote that seemed to close it opens the next string.
fn quote_closed_on_a_later_line(source: &str, mark: usize) -> Option<Problem> {
    let close = source[..mark].trim_end_matches([' ', '\t']).len().checked_sub(1)?;
    let quote = source.as_bytes()[close];
    if !matches!(quote, b'"' | b'\'') {
        return None;
    }
    let open = opening_quote(source, close, quote)?;
    if source[open..close].contains('\n') { unclosed_quote(source, open) } else { None }
}

/// Where the quoted string ending at the quote at `close` opens: the previous `quote` that is not
/// part of the string (`\"` inside double quotes, `''` inside single quotes).
fn opening_quote(source: &str, close: usize, quote: u8) -> Option<usize> {
    // Quotes and backslashes are ASCII, so scanning bytes cannot land inside a character.
    let bytes = source.as_bytes();
    let mut i = close;
    while i > 0 {
        i -= 1;
        if bytes[i] != quote {
            continue;
        }
        if quote == b'"' {
            let backslashes = bytes[..i].iter().rev().take_while(|&&b| b == b'\\').count();
            if backslashes % 2 == 0 {
                return Some(i);
            }
        } else if i > 0 && bytes[i - 1] == b'\'' {
            i -= 1;
        } else {
            return Some(i);
        }
    }
    None
}

// ---- flow brackets ----

/// The bracket at `open` starts a flow collection that is never closed.
fn unclosed_bracket(source: &str, open: usize) -> Problem {
    let (bracket, close) = if source[open..].starts_with('[') { ('[', ']') } else { ('{', '}') };
    problem_at(source, open, format!("this `{bracket}` is never closed: add the closing `{close}`"))
}

/// The mark is inside a flow collection opened on an earlier line that is indented as deep as the
/// mark's line or deeper: YAML wants the lines of a flow collection under a key or `- ` indented
/// deeper than that line, so the bracket was left open and the next keys were read into it.
fn bracket_left_open(source: &str, mark: usize) -> Option<Problem> {
    let open = open_brackets(source, mark);
    let (&outermost, &innermost) = (open.first()?, open.last()?);
    let (outer_start, _) = line_at(source, outermost);
    let (open_start, open_line) = line_at(source, innermost);
    let (mark_start, mark_line) = line_at(source, mark);
    // A collection that opens its line (a file written as JSON) may span lines at any indentation.
    let under_a_key = !source[outer_start..outermost].trim().is_empty();
    (under_a_key && open_start < mark_start && indent(mark_line) <= indent(open_line))
        .then(|| unclosed_bracket(source, innermost))
}

/// The flow brackets still open at `end`, outermost first, as byte offsets. A light scan, not a
/// parser, over text the parser accepted: it skips quoted strings and comments, and in block
/// context takes `[` and `{` only where a value starts.
fn open_brackets(source: &str, end: usize) -> Vec<usize> {
    let mut open = Vec::new();
    let mut prev = '\n';
    let mut chars = source[..end].char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let value_starts = prev.is_whitespace() || matches!(prev, '[' | '{' | ',') || (prev == ':' && !open.is_empty());
        match c {
            '#' if prev.is_whitespace() => {
                chars.by_ref().find(|&(_, c)| c == '\n');
                prev = '\n';
                continue;
            }
            '"' if value_starts => {
                while let Some((_, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '\'' if value_starts => {
                while let Some((_, c)) = chars.next() {
                    if c == '\'' && chars.next_if(|&(_, c)| c == '\'').is_none() {
                        break;
                    }
                }
            }
            '[' | '{' if value_starts || !open.is_empty() => open.push(i),
            ']' | '}' => {
                open.pop();
            }
            _ => {}
        }
        prev = c;
    }
    open
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

// ---- anchors and aliases ----

/// The alias at `mark` names an anchor defined nowhere before it.
fn undefined_alias(source: &str, mark: usize) -> Option<Problem> {
    let rest = source[mark..].strip_prefix('*')?;
    let name = &rest[..rest.find(|c: char| c.is_whitespace() || ",[]{}".contains(c)).unwrap_or(rest.len())];
    if name.is_empty() {
        return None;
    }
    let name = escaped(name);
    Some(problem_at(source, mark, format!("alias `*{name}` is not defined: define it with `&{name}` before its use")))
}

/// An `&` or `*` at `mark` with no name after it.
fn nameless(source: &str, mark: usize) -> Option<Problem> {
    let message = match source[mark..].chars().next()? {
        '&' => "an anchor needs a name: write `&name`, then refer to the value with `*name`",
        '*' => "an alias needs a name: write `*name` for the value marked `&name`",
        _ => return None,
    };
    Some(problem_at(source, mark, message.into()))
}

// ---- duplicate keys ----

/// The parser reports the second occurrence of the key, where it is; we add the first one's line.
fn duplicate(source: &str, key: Option<&str>, second: &Location) -> Problem {
    let name = key.map(|k| format!(" `{}`", escaped(k))).unwrap_or_default();
    let first =
        first_occurrence_line(source, second).map(|line| format!(" (first at line {line})")).unwrap_or_default();
    Problem {
        line: second.line(),
        column: second.column(),
        message: format!("duplicate key{name}{first}: a key may appear once per mapping"),
    }
}

/// The line where the key repeated at `second` first appears in its mapping: the text read again
/// with repeats passed through to us, each mapping's keys remembered until that one repeats.
fn first_occurrence_line(source: &str, second: &Location) -> Option<u64> {
    let first = Cell::new(None);
    let find = FirstOccurrence { second: (second.line(), second.column()), first: &first };
    let options = serde_saphyr::options! { duplicate_keys: DuplicateKeyPolicy::PassThrough };
    // The walk stops with an error once it has found the key, or at what it cannot read; either
    // way `first` holds what it found.
    let _ = serde_saphyr::with_deserializer_from_str_with_options(source, options, |d| find.deserialize(d));
    first.get()
}

/// Walks any YAML value; in each mapping, notes the line of the key that repeats at `second`.
#[derive(Clone, Copy)]
struct FirstOccurrence<'a> {
    second: (u64, u64),
    first: &'a Cell<Option<u64>>,
}

impl<'de> DeserializeSeed<'de> for FirstOccurrence<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FirstOccurrence<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut lines = HashMap::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let at = (key.referenced.line(), key.referenced.column());
            if let Some(&line) = lines.get(&key.value).filter(|_| at == self.second) {
                self.first.set(Some(line));
                return Err(de::Error::custom("found"));
            }
            lines.entry(key.value).or_insert(at.0);
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

// ---- places ----

/// A problem at byte `offset`, with the line and column (from 1, in characters) we print.
fn problem_at(source: &str, offset: usize, message: String) -> Problem {
    let (start, _) = line_at(source, offset);
    let line = source[..start].matches('\n').count() + 1;
    let column = source[start..offset].chars().count() + 1;
    Problem { line: line as u64, column: column as u64, message }
}

/// The byte offset of a parser location (line and column from 1, the column in characters); the
/// end of a line or of the text is a place too.
fn offset(source: &str, line: u64, column: u64) -> Option<usize> {
    let line = usize::try_from(line).ok()?.checked_sub(1)?;
    let column = usize::try_from(column).ok()?.checked_sub(1)?;
    let start = if line == 0 { 0 } else { source.match_indices('\n').nth(line - 1)?.0 + 1 };
    let (_, text) = line_at(source, start);
    text.char_indices().map(|(i, _)| i).chain([text.len()]).nth(column).map(|i| start + i)
}

/// The line around byte `offset`: where it starts, and its text without the line break.
fn line_at(source: &str, offset: usize) -> (usize, &str) {
    let start = source[..offset].rfind('\n').map_or(0, |i| i + 1);
    let end = source[start..].find('\n').map_or(source.len(), |i| start + i);
    (start, &source[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::Schedule;

    /// `LINE:COL: message` of the one problem the text has.
    fn reported(yaml: &str) -> String {
        let e = Schedule::parse(yaml, "s.yaml").expect_err("the text is invalid");
        assert_eq!(e.problems.len(), 1, "{e}");
        let p = &e.problems[0];
        format!("{}:{}: {}", p.line, p.column, p.message)
    }

    const SERVICES: &str = "environments:\n  staging:\n    services:\n";

    #[test]
    fn a_tab_in_the_indentation_is_reported_where_it_is() {
        // The parser said 7:18 (the end of line 7) for the issue's case.
        let issue = "timezone: Asia/Tokyo\nenvironments:\n  staging:\n    stop: [\"cron(0 22 ? * MON-FRI *)\"]\n    start: [\"cron(0 8 ? * MON-FRI *)\"]\n    services:\n      - cluster: example-cluster\n\tservice: web\n";
        assert_eq!(reported(issue), format!("8:1: {TAB}"));
        let after_spaces = format!("{SERVICES}      - cluster: c\n  \t  service: s\n");
        assert_eq!(reported(&after_spaces), format!("5:3: {TAB}"), "parser: 4:18");
        let under_a_key = "environments:\n  staging:\n\tservices:\n      - cluster: c\n";
        assert_eq!(reported(under_a_key), format!("3:1: {TAB}"), "parser: 3:2");
        let in_a_flow = format!("{SERVICES}      - {{cluster: c,\n\tservice: s}}\n");
        assert_eq!(reported(&in_a_flow), format!("5:1: {TAB}"), "parser: 5:2");
        let after_a_dash = format!("{SERVICES}      - \tcluster: c\n        service: s\n");
        assert_eq!(
            reported(&after_a_dash),
            format!("4:9: {TAB}"),
            "parser: 5:9: while parsing a block collection, did not find expected '-' indicator"
        );
    }

    #[test]
    fn tabs_yaml_allows_are_not_reported() {
        for yaml in [
            format!("{SERVICES}      - cluster: c\n\t\n        service: s\n"),
            format!("{SERVICES}      - cluster: c\n\t# a comment\n        service: s\n"),
            format!("{SERVICES}      - cluster: c\n        service:\ts # and\ta comment\n"),
        ] {
            assert!(Schedule::parse(&yaml, "s.yaml").is_ok(), "{yaml:?}");
        }
    }

    #[test]
    fn an_unclosed_quote_is_reported_at_its_opening_quote() {
        let at_the_end = format!("{SERVICES}      - cluster: c\n        service: \"web\n");
        assert_eq!(reported(&at_the_end), "5:18: this quoted string is never closed: add the closing \"");
        // The next quote seems to close it; the parser then finds text after the string.
        let before_another = "environments:\n  staging:\n    stop: [\"cron(0 22 ? * MON-FRI *)]\n    start: [\"cron(0 8 ? * MON-FRI *)\"]\n    services: [{cluster: c, service: s}]\n";
        assert_eq!(
            reported(before_another),
            "3:12: this quoted string is never closed: add the closing \"",
            "parser: 4:14: invalid trailing content after double-quoted scalar"
        );
        let single = format!("{SERVICES}      - cluster: 'c\n        service: 's'\n");
        assert_eq!(reported(&single), "4:18: this quoted string is never closed: add the closing '", "parser: 5:19");
        let escaped_quote = format!("{SERVICES}      - cluster: \"c\\\"\n        service: \"s\"\n");
        assert_eq!(reported(&escaped_quote), "4:18: this quoted string is never closed: add the closing \"");
    }

    #[test]
    fn text_after_a_closed_quote_keeps_the_parsers_message() {
        let yaml = format!("{SERVICES}      - cluster: \"c\"  x\n");
        assert_eq!(reported(&yaml), "4:23: invalid trailing content after double-quoted scalar");
    }

    #[test]
    fn an_unclosed_bracket_is_reported_at_the_bracket() {
        let at_the_end = "environments:\n  staging:\n    services: [{cluster: c, service: s}\n";
        assert_eq!(reported(at_the_end), "3:15: this `[` is never closed: add the closing `]`");
        let before_a_key = "environments:\n  staging:\n    stop: [\"cron(0 22 ? * MON-FRI *)\"\n    services:\n      - { cluster: c, service: s }\n";
        assert_eq!(
            reported(before_a_key),
            "3:11: this `[` is never closed: add the closing `]`",
            "parser: 4:13: illegal placement of ':' indicator"
        );
        let before_a_list = "environments:\n  staging:\n    stop: [\"cron(0 22 ? * MON-FRI *)\"\n    start: [\"cron(0 8 ? * MON-FRI *)\"]\n    services:\n      - { cluster: c, service: s }\n";
        assert_eq!(reported(before_a_list), "3:11: this `[` is never closed: add the closing `]`", "parser: 4:10");
        let after_a_comma = "environments:\n  staging:\n    stop: [\"cron(0 22 ? * MON-FRI *)\",\n    services:\n      - { cluster: c, service: s }\n";
        assert_eq!(
            reported(after_a_comma),
            "3:11: this `[` is never closed: add the closing `]`",
            "parser: 4:5: expected string scalar"
        );
        let nested = format!(
            "{SERVICES}      - cluster: c\n        service: s\n        target_groups: [{{arn: a, container: b, port: 1}}\n  dev:\n    services: [{{cluster: c, service: t}}]\n"
        );
        assert_eq!(reported(&nested), "6:24: this `[` is never closed: add the closing `]`", "parser: 7:6");
        let brace = format!("{SERVICES}      - {{ cluster: c, service: s\n      - {{ cluster: c, service: t }}\n");
        assert_eq!(reported(&brace), "4:9: this `{` is never closed: add the closing `}`");
    }

    #[test]
    fn a_flow_collection_over_several_lines_is_not_taken_for_an_unclosed_one() {
        let indented = format!("{SERVICES}      [\n        {{cluster: c, service: s, desired_count: -1}},\n      ]\n");
        assert_eq!(reported(&indented), "5:49: invalid u32");
        let json = "{\n\"environments\": {\n\"dev\": {\"services\": [{\"cluster\": \"c\", \"service\": \"s\", \"desired_count\": -1}]}\n}\n}\n";
        assert_eq!(reported(json), "3:72: invalid u32");
        let mismatched = "environments:\n  staging:\n    services: [{cluster: c, service: s]\n";
        assert_eq!(reported(mismatched), "3:16: mismatched bracket '{' closed by ']'");
    }

    #[test]
    fn a_duplicate_key_names_its_first_line() {
        let block = "timezone: Asia/Tokyo\nenvironments:\n  staging:\n    services:\n      - { cluster: c, service: s }\n    services:\n      - { cluster: c, service: t }\n";
        assert_eq!(
            reported(block),
            "6:5: duplicate key `services` (first at line 4): a key may appear once per mapping"
        );
        let flow = format!("{SERVICES}      - {{ cluster: c, service: s, cluster: d }}\n");
        assert_eq!(
            reported(&flow),
            "4:35: duplicate key `cluster` (first at line 4): a key may appear once per mapping"
        );
        let quoted =
            "environments:\n  staging:\n    \"services\": []\n    services:\n      - { cluster: c, service: t }\n";
        assert_eq!(
            reported(quoted),
            "4:5: duplicate key `services` (first at line 3): a key may appear once per mapping"
        );
        let environment = "environments:\n  dev: {services: [{cluster: c, service: s}]}\n  dev: {services: [{cluster: c, service: t}]}\n";
        assert_eq!(
            reported(environment),
            "3:3: duplicate key `dev` (first at line 2): a key may appear once per mapping"
        );
        // The same key in the entry before is another mapping.
        let second_entry = format!(
            "{SERVICES}      - cluster: c\n        service: s\n      - cluster: c\n        service: s\n        service: t\n"
        );
        assert_eq!(
            reported(&second_entry),
            "8:9: duplicate key `service` (first at line 7): a key may appear once per mapping"
        );
    }

    #[test]
    fn an_undefined_alias_is_named() {
        let yaml = format!("{SERVICES}      - {{ cluster: c, service: *nope }}\n");
        assert_eq!(reported(&yaml), "4:32: alias `*nope` is not defined: define it with `&nope` before its use");
        let used_before = "environments:\n  staging:\n    stop: *a\n    start: &a [\"cron(0 8 ? * MON-FRI *)\"]\n    services: [{cluster: c, service: s}]\n";
        assert_eq!(reported(used_before), "3:11: alias `*a` is not defined: define it with `&a` before its use");
        let after_wide_characters = format!("{SERVICES}      - {{ cluster: \"日本日本\", service: *nope }}\n");
        assert_eq!(
            reported(&after_wide_characters),
            "4:37: alias `*nope` is not defined: define it with `&nope` before its use"
        );
    }

    #[test]
    fn an_anchor_or_alias_without_a_name_is_reported() {
        let anchor = format!("{SERVICES}      - {{ cluster: c, service: & }}\n");
        assert_eq!(
            reported(&anchor),
            "4:32: an anchor needs a name: write `&name`, then refer to the value with `*name`"
        );
        let alias = "environments:\n  staging:\n    stop: *\n    services: [{cluster: c, service: s}]\n";
        assert_eq!(reported(alias), "3:11: an alias needs a name: write `*name` for the value marked `&name`");
    }

    #[test]
    fn the_indentation_tab_is_the_first_tab_before_the_content() {
        assert_eq!(indentation_tab("\tservice: web"), Some(0));
        assert_eq!(indentation_tab("  \t service: web"), Some(2));
        assert_eq!(indentation_tab("  - \tcluster: c"), Some(4));
        assert_eq!(indentation_tab("  service:\tweb"), None);
        assert_eq!(indentation_tab(" \t # comment"), None);
        assert_eq!(indentation_tab(" \t\r"), None);
        assert_eq!(indentation_tab(""), None);
    }

    #[test]
    fn the_opening_quote_skips_escaped_quotes() {
        assert_eq!(opening_quote(r#"a: "x\"y""#, 8, b'"'), Some(3));
        assert_eq!(opening_quote(r#"a: "x\\""#, 7, b'"'), Some(3));
        assert_eq!(opening_quote("a: 'it''s'", 9, b'\''), Some(3));
        assert_eq!(opening_quote("a: ''", 4, b'\''), Some(3));
        assert_eq!(opening_quote("a: x'", 4, b'\''), None);
    }

    #[test]
    fn open_brackets_skip_quotes_comments_and_plain_text() {
        let yaml = "a: \"[\" # [\nb: ['x]', {c: [d]}, ";
        assert_eq!(open_brackets(yaml, yaml.len()), vec![14]);
        let plain = "key: a[b\nother: don't [";
        assert_eq!(open_brackets(plain, plain.len()), vec![22]);
        assert_eq!(open_brackets("a: [x]\nb: {y: 1}\n", 17), Vec::<usize>::new());
    }

    #[test]
    fn places_count_characters_from_one() {
        let yaml = "ab\n日本x\n";
        assert_eq!(offset(yaml, 2, 3), Some(9));
        assert_eq!(offset(yaml, 2, 4), Some(10), "the end of the line");
        assert_eq!(offset(yaml, 2, 5), None);
        assert_eq!(offset(yaml, 3, 1), Some(11), "the end of the text");
        assert_eq!(offset(yaml, 4, 1), None);
        let p = problem_at(yaml, 9, String::new());
        assert_eq!((p.line, p.column), (2, 3));
    }
}

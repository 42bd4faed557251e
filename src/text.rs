//! How text from the user (schedule values, payload fields, JSON keys) is shown inside our
//! messages: escaped, so one problem stays on one line and invisible characters show.

/// A user-supplied value as a message quotes it: control and invisible characters and `\` are
/// escaped as Rust escapes them (`\n`, `\u{200b}`, `\\`); quotes are left as written (the
/// message already puts the value between backticks).
pub fn escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\'' => out.push(c),
            c => out.extend(c.escape_debug()),
        }
    }
    out
}

/// Another library's message, which may quote a user value as written: its control characters
/// escaped, the rest (already escaped parts included) left alone.
pub fn one_line(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for c in message.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_to_one_visible_line() {
        assert_eq!(escaped("api-stg"), "api-stg");
        assert_eq!(escaped("a\nb\tc\\d"), "a\\nb\\tc\\\\d");
        assert_eq!(escaped("zero\u{200b}width"), "zero\\u{200b}width");
        assert_eq!(escaped("it's \"x\" 東京"), "it's \"x\" 東京");
        assert_eq!(one_line("unknown field `a\nb`, expected \"c\\d\""), "unknown field `a\\nb`, expected \"c\\d\"");
    }
}

//! JSON output written the way Go's `encoding/json` writes it: compact,
//! map keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped, invalid
//! UTF-8 impossible (Rust strings), numbers in the API given as strings.

use std::fmt::Write as _;

/// Whether `<`, `>` and `&` are escaped in JSON strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Html {
    /// As Go's `encoding/json` writes them (the API).
    Escaped,
    /// As they are (slog's JSON handler: the logs).
    Kept,
}

/// Appends `s` as a JSON string literal, as Go's `encoding/json` writes it.
pub(crate) fn string(out: &mut String, s: &str) {
    string_as(out, s, Html::Escaped);
}

/// Appends `s` as a JSON string literal.
pub(crate) fn string_as(out: &mut String, s: &str, html: Html) {
    out.push('"');
    for c in s.chars() {
        match c {
            '<' | '>' | '&' if html == Html::Kept => out.push(c),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends an object from already-encoded values, keys sorted as Go sorts
/// map keys.
pub(crate) fn object(out: &mut String, mut entries: Vec<(String, String)>) {
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    out.push('{');
    for (i, (k, v)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, k);
        out.push(':');
        out.push_str(v);
    }
    out.push('}');
}

/// A string map as a JSON object.
pub(crate) fn string_map<'a>(
    out: &mut String,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    let entries = pairs
        .into_iter()
        .map(|(k, v)| {
            let mut s = String::new();
            string(&mut s, v);
            (k.to_string(), s)
        })
        .collect();
    object(out, entries);
}

/// Go's `fmt.Sprint(float64)`: shortest `%g`, but `-0` stays `-0`.
pub(crate) fn go_sprint_float(v: f64) -> String {
    if v == 0.0 && v.is_sign_negative() {
        "-0".into()
    } else {
        exposition::format_float(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let mut out = String::new();
        string(&mut out, "<a href=\"x\">&\u{2028}\u{1}é\n");
        assert_eq!(out, r#""\u003ca href=\"x\"\u003e\u0026\u2028\u0001é\n""#);
    }

    #[test]
    fn sorts_keys() {
        let mut out = String::new();
        string_map(&mut out, [("job", "a"), ("instance", "")]);
        assert_eq!(out, r#"{"instance":"","job":"a"}"#);
    }
}

//! Go's number and string conventions, reproduced where the wire or an error
//! message depends on them: `strconv.ParseFloat`/`ParseInt` acceptance,
//! `strconv.FormatFloat(v, 'g', -1, 64)` output, `%q` quoting and the amd64
//! float-to-uint64 conversion.

/// Parses a sample value the way expfmt does: Go's `strconv.ParseFloat(s, 64)`
/// after refusing `p`, `P` and `_` (so no hex floats and no digit separators).
///
/// Accepts decimal numbers with optional sign, fraction and exponent,
/// `NaN` (any case, no sign) and `Inf`/`Infinity` (any case, optional sign).
/// Values that overflow to infinity are refused, as Go reports `ErrRange`.
pub fn parse_float(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    // Most sample values are plain integers: exact as f64 below 2^53.
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let n = digits
            .iter()
            .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')) as f64;
        return Some(if negative { -n } else { n });
    }
    if let Some(v) = parse_special(b) {
        return Some(v);
    }
    if !is_decimal_float(b) {
        return None;
    }
    let v: f64 = s.parse().ok()?;
    if v.is_infinite() {
        return None;
    }
    Some(v)
}

fn parse_special(b: &[u8]) -> Option<f64> {
    let (negative, rest) = match b[0] {
        b'+' => (false, &b[1..]),
        b'-' => (true, &b[1..]),
        b'n' | b'N' => return b.eq_ignore_ascii_case(b"nan").then_some(f64::NAN),
        _ => (false, b),
    };
    if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    None
}

/// `[+-]? (digits ('.' digits?)? | '.' digits) ([eE] [+-]? digits)?`
fn is_decimal_float(b: &[u8]) -> bool {
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// Parses a timestamp as Go's `strconv.ParseInt(s, 10, 64)`: optional sign,
/// decimal digits, no overflow.
pub(crate) fn parse_int64(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Appends `v` as client_golang writes sample values: `1`, `0` (also for
/// `-0`), `-1`, `NaN`, `+Inf`, `-Inf`, otherwise Go's shortest `'g'` format
/// (`1.23456789e+08`, `1e-05`, `0.0001`, `123456`).
pub fn write_float(out: &mut Vec<u8>, v: f64) {
    if v == 1.0 {
        out.push(b'1');
    } else if v == 0.0 {
        out.push(b'0');
    } else if v == -1.0 {
        out.extend_from_slice(b"-1");
    } else if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v == f64::INFINITY {
        out.extend_from_slice(b"+Inf");
    } else if v == f64::NEG_INFINITY {
        out.extend_from_slice(b"-Inf");
    } else if v.fract() == 0.0 && v.abs() < 1e6 {
        // Whole numbers below a million have fewer digits than Go's `%e`
        // threshold, so `'g'` writes them as plain integers.
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
    } else {
        write_shortest_g(out, v);
    }
}

/// Go's `strconv.FormatFloat(v, 'g', -1, 64)` for finite non-zero `v`.
pub(crate) fn write_shortest_g(out: &mut Vec<u8>, v: f64) {
    let mut buf = ryu::Buffer::new();
    let printed = buf.format_finite(v).as_bytes();
    // Collect the significant digits and the decimal exponent from ryu's
    // output, whichever of its two notations it chose.
    let (negative, body) = match printed.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, printed),
    };
    let (mantissa, exp) = match body.iter().position(|&c| c == b'e' || c == b'E') {
        Some(e) => (&body[..e], parse_small_int(&body[e + 1..])),
        None => (body, 0),
    };
    let mut digits = [0u8; 32];
    let mut nd = 0usize;
    let mut point = mantissa.len() as i32;
    for (i, &c) in mantissa.iter().enumerate() {
        if c == b'.' {
            point = i as i32;
        } else if nd < digits.len() {
            digits[nd] = c;
            nd += 1;
        }
    }
    // `dp` is the position of the decimal point relative to `digits`.
    let mut dp = point + exp;
    let mut start = 0;
    while start < nd && digits[start] == b'0' {
        start += 1;
        dp -= 1;
    }
    let mut end = nd;
    while end > start && digits[end - 1] == b'0' {
        end -= 1;
    }
    let digits = &digits[start..end];
    let nd = digits.len() as i32;
    if negative {
        out.push(b'-');
    }
    let exponent = dp - 1;
    if !(-4..6).contains(&exponent) {
        out.push(digits[0]);
        if nd > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exponent < 0 { b'-' } else { b'+' });
        let abs = exponent.unsigned_abs();
        if abs < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(itoa::Buffer::new().format(abs).as_bytes());
    } else if dp <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-dp) as usize));
        out.extend_from_slice(digits);
    } else if dp >= nd {
        out.extend_from_slice(digits);
        out.extend(std::iter::repeat_n(b'0', (dp - nd) as usize));
    } else {
        out.extend_from_slice(&digits[..dp as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[dp as usize..]);
    }
}

fn parse_small_int(b: &[u8]) -> i32 {
    let (negative, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, b),
    };
    let n = digits
        .iter()
        .fold(0i32, |acc, &c| acc * 10 + i32::from(c - b'0'));
    if negative {
        -n
    } else {
        n
    }
}

/// Returns `v` formatted with [`write_float`].
pub fn format_float(v: f64) -> String {
    let mut out = Vec::with_capacity(24);
    write_float(&mut out, v);
    // write_float only emits ASCII.
    String::from_utf8(out).unwrap_or_default()
}

/// Go's `uint64(f)` conversion as compiled for amd64, which is what the Go
/// text parser applies to summary counts: in-range values truncate, negative
/// values wrap through int64, NaN and out-of-range values give Go's sentinel
/// results rather than saturating as Rust's `as` does.
pub(crate) fn go_f64_to_u64(f: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    fn cvttsd2sq(x: f64) -> i64 {
        if x.is_nan() || !(-TWO_63..TWO_63).contains(&x) {
            i64::MIN
        } else {
            x as i64
        }
    }
    if f < TWO_63 {
        cvttsd2sq(f) as u64
    } else {
        (cvttsd2sq(f - TWO_63) as u64) ^ (1 << 63)
    }
}

/// Go's `%q` of a string (`strconv.Quote`): double-quoted, with `\"`, `\\`,
/// C escapes, `\xNN` for invalid UTF-8 and `\u`/`\U` for non-printable runes.
pub fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    let mut rest = s;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(valid) => {
                push_quoted_str(&mut out, valid, '"');
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                // The prefix is valid UTF-8 by construction.
                push_quoted_str(&mut out, std::str::from_utf8(valid).unwrap_or(""), '"');
                let bad = e.error_len().unwrap_or(after.len()).max(1);
                for &b in &after[..1.min(bad)] {
                    out.push_str(&format!("\\x{b:02x}"));
                }
                rest = &after[1..];
            }
        }
    }
    out.push('"');
    out
}

/// Go's `%q` of a single byte, as the parser prints "found %q": a quoted
/// rune literal of the code point with that value (`'='`, `'\n'`, `'Ã'`).
pub(crate) fn quote_byte(b: u8) -> String {
    let mut out = String::from("'");
    push_quoted_char(&mut out, char::from(b), '\'');
    out.push('\'');
    out
}

fn push_quoted_str(out: &mut String, s: &str, quote: char) {
    for c in s.chars() {
        push_quoted_char(out, c, quote);
    }
}

fn push_quoted_char(out: &mut String, c: char, quote: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if is_go_printable(c) => out.push(c),
        c if (c as u32) < 0x80 => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// An approximation of Go's `strconv.IsPrint`: letters, marks, numbers,
/// punctuation, symbols and ASCII space. Rust's standard library has no
/// general-category tables, so format characters, separators and private-use
/// code points are listed by range.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(u,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF
        | 0xFDD0..=0xFDEF)
        && (u & 0xFFFE) != 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_parse_on_the_short_path_as_on_the_long_one() {
        for text in [
            "0",
            "-0",
            "7",
            "-42",
            "000123",
            "999999999999999",
            "-123456789012345",
        ] {
            let fast = parse_float(text).unwrap();
            let slow: f64 = text.parse().unwrap();
            assert_eq!(fast.to_bits(), slow.to_bits(), "{text}");
        }
        assert_eq!(parse_float("-"), None);
        assert_eq!(parse_float("1234567890123456"), Some(1234567890123456.0));
    }

    #[test]
    fn whole_numbers_take_the_short_path_to_the_same_text() {
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        for i in -1_000_001i64..=1_000_001 {
            let v = i as f64;
            if v == 0.0 || v == 1.0 || v == -1.0 {
                continue;
            }
            fast.clear();
            slow.clear();
            write_float(&mut fast, v);
            write_shortest_g(&mut slow, v);
            assert_eq!(fast, slow, "{v}");
        }
        let mut out = Vec::new();
        write_float(&mut out, 1e6);
        assert_eq!(out, b"1e+06");
    }

    #[test]
    fn formats_like_go_strconv_g() {
        let cases: &[(f64, &str)] = &[
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "0"),
            (-1.0, "-1"),
            (123456789.0, "1.23456789e+08"),
            (0.0000123, "1.23e-05"),
            (1e300, "1e+300"),
            (1795345091.3760238, "1.7953450913760238e+09"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (2398.283, "2398.283"),
            (-2.5, "-2.5"),
            (0.1, "0.1"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (1e-300, "1e-300"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (3.0, "3"),
            (42.0, "42"),
            (0.5, "0.5"),
            (1.5e-7, "1.5e-07"),
            (-123456.75, "-123456.75"),
            (1e100, "1e+100"),
            (12345.678, "12345.678"),
            (999999.0, "999999"),
            (1000000.0, "1e+06"),
        ];
        for &(v, want) in cases {
            assert_eq!(format_float(v), want, "formatting {v:?}");
        }
        assert_eq!(format_float(f64::NAN), "NaN");
        assert_eq!(format_float(f64::INFINITY), "+Inf");
        assert_eq!(format_float(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn parses_what_go_parsefloat_accepts() {
        for (s, want) in [
            ("1", 1.0),
            ("-1.5e3", -1500.0),
            ("+.5", 0.5),
            ("5.", 5.0),
            ("1E-2", 0.01),
            ("0001", 1.0),
            ("1e-400", 0.0),
        ] {
            assert_eq!(parse_float(s), Some(want), "{s}");
        }
        for s in ["NaN", "nan", "NAN"] {
            assert!(parse_float(s).unwrap().is_nan(), "{s}");
        }
        for s in ["Inf", "+inf", "INFINITY", "+Infinity"] {
            assert_eq!(parse_float(s), Some(f64::INFINITY), "{s}");
        }
        for s in ["-Inf", "-infinity"] {
            assert_eq!(parse_float(s), Some(f64::NEG_INFINITY), "{s}");
        }
    }

    #[test]
    fn refuses_what_go_parsefloat_refuses() {
        for s in [
            "",
            "+",
            "-",
            ".",
            "e5",
            "1e",
            "1e+",
            "0x1p-2",
            "0x10",
            "1_000",
            "+nan",
            "-NaN",
            "infin",
            "1\r",
            "1 ",
            " 1",
            "1e400",
            "-1e400",
            "1.2.3",
            "Infinityx",
            "--1",
        ] {
            assert_eq!(parse_float(s), None, "{s:?}");
        }
    }

    #[test]
    fn parses_int64_like_go() {
        assert_eq!(parse_int64("-42"), Some(-42));
        assert_eq!(parse_int64("+42"), Some(42));
        assert_eq!(parse_int64("9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_int64("9223372036854775808"), None);
        assert_eq!(parse_int64(""), None);
        assert_eq!(parse_int64("1_0"), None);
        assert_eq!(parse_int64("1.0"), None);
    }

    #[test]
    fn converts_to_uint64_like_go_on_amd64() {
        assert_eq!(go_f64_to_u64(2.9), 2);
        assert_eq!(go_f64_to_u64(-1.0), u64::MAX);
        assert_eq!(go_f64_to_u64(f64::NAN), 0);
        assert_eq!(go_f64_to_u64(f64::INFINITY), 0);
        assert_eq!(go_f64_to_u64(f64::NEG_INFINITY), 1 << 63);
        assert_eq!(go_f64_to_u64(1e19), 10_000_000_000_000_000_000);
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(quote(b"1\r"), r#""1\r""#);
        assert_eq!(quote(b"a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(quote("ü€".as_bytes()), "\"ü€\"");
        assert_eq!(quote(b"\xff\x00"), r#""\xff\x00""#);
        assert_eq!(quote_byte(b'='), "'='");
        assert_eq!(quote_byte(b'\n'), r"'\n'");
        assert_eq!(quote_byte(b'\''), r"'\''");
    }
}

//! The push URL grammar: `/metrics/job/<job>{/<label>/<value>}`, with
//! `@base64` on the job or any label name to mark a URL-safe base64 value.
//!
//! Errors are worded as the Go Pushgateway words them; values that decode
//! to invalid UTF-8 are refused here (the Go gateway accepts them and then
//! fails every later push and scrape).

use store::GroupingKey;

/// The suffix marking a base64-encoded value.
pub(crate) const BASE64_SUFFIX: &str = "@base64";

/// A problem with a push URL; the text is the 400 response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub(crate) struct UrlError(pub(crate) String);

/// Builds the grouping key of a push or delete URL.
///
/// `job` is the job path segment (already percent-decoded), `job_base64`
/// whether it came as `job@base64`, `labels` the rest of the path with its
/// leading slash (may be empty).
pub(crate) fn grouping_key(
    job: &str,
    job_base64: bool,
    labels: &str,
    utf8_names: bool,
) -> Result<GroupingKey, UrlError> {
    let job = if job_base64 {
        let bytes = decode_base64(job).map_err(|offset| {
            UrlError(format!(
                "invalid base64 encoding in job name {}: illegal base64 data at input byte {offset}",
                exposition::go_quote(job.as_bytes())
            ))
        })?;
        String::from_utf8(bytes).map_err(|e| {
            UrlError(format!(
                "job name {} is not valid UTF-8 after base64 decoding: {}",
                exposition::go_quote(job.as_bytes()),
                exposition::go_quote(e.as_bytes())
            ))
        })?
    } else {
        job.to_string()
    };
    let mut pairs = split_labels(labels, utf8_names)?;
    if job.is_empty() {
        return Err(UrlError("job name is required".into()));
    }
    pairs.push(("job".to_string(), job));
    Ok(GroupingKey::new(pairs))
}

/// Go's `splitLabels`: `"/a/b/c/d"` → `a=b, c=d`.
fn split_labels(labels: &str, utf8_names: bool) -> Result<Vec<(String, String)>, UrlError> {
    let mut result = Vec::new();
    if labels.len() <= 1 {
        return Ok(result);
    }
    let components: Vec<&str> = labels[1..].split('/').collect();
    if components.len() % 2 != 0 {
        return Err(UrlError(format!(
            "odd number of components in label string {}",
            exposition::go_quote(labels.as_bytes())
        )));
    }
    for pair in components.chunks(2) {
        let (name, value) = (pair[0], pair[1]);
        let trimmed = name.strip_suffix(BASE64_SUFFIX).unwrap_or(name);
        let unescaped = if utf8_names {
            unescape_value_encoding(trimmed)
        } else {
            trimmed.to_string()
        };
        let valid = if utf8_names {
            !unescaped.is_empty()
        } else {
            exposition::is_valid_legacy_label_name(&unescaped)
        };
        if !valid || trimmed.starts_with("__") {
            return Err(UrlError(format!(
                "improper label name {}",
                exposition::go_quote(trimmed.as_bytes())
            )));
        }
        let value = if name.len() == trimmed.len() {
            value.to_string()
        } else {
            let bytes = decode_base64(value).map_err(|offset| {
                UrlError(format!(
                    "invalid base64 encoding for label {trimmed}={}: illegal base64 data at input byte {offset}",
                    exposition::go_quote(value.as_bytes())
                ))
            })?;
            String::from_utf8(bytes).map_err(|e| {
                UrlError(format!(
                    "label {trimmed} has a value that is not valid UTF-8 after base64 decoding: {}",
                    exposition::go_quote(e.as_bytes())
                ))
            })?
        };
        result.push((unescaped, value));
    }
    Ok(result)
}

/// Go's `base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))`:
/// URL-safe alphabet, padding removed first, CR and LF ignored, trailing
/// bits not checked. The error is the offset Go reports.
pub(crate) fn decode_base64(s: &str) -> Result<Vec<u8>, usize> {
    let input = s.trim_end_matches('=').as_bytes();
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        }))
    };
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let mut quantum = [0u32; 4];
    let mut j = 0;
    let mut si = 0;
    while si < input.len() {
        let c = input[si];
        si += 1;
        if c == b'\n' || c == b'\r' {
            continue;
        }
        let Some(v) = value(c) else {
            return Err(si - 1);
        };
        quantum[j] = v;
        j += 1;
        if j == 4 {
            let n = (quantum[0] << 18) | (quantum[1] << 12) | (quantum[2] << 6) | quantum[3];
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
            j = 0;
        }
    }
    match j {
        0 => {}
        1 => return Err(si - 1),
        2 => {
            let n = (quantum[0] << 18) | (quantum[1] << 12);
            out.push((n >> 16) as u8);
        }
        _ => {
            let n = (quantum[0] << 18) | (quantum[1] << 12) | (quantum[2] << 6);
            out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8]);
        }
    }
    Ok(out)
}

/// Go's `model.UnescapeName` for the value-encoding scheme (used with
/// UTF-8 names): `U__` marks an escaped name, `__` is `_` and `_<hex>_` a
/// code point; anything malformed is left as it is.
pub(crate) fn unescape_value_encoding(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else {
        return name.to_string();
    };
    let mut out = String::with_capacity(rest.len());
    let bytes = rest.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'_' {
            // Escaped names are ASCII; keep any other byte sequence as is.
            let ch = rest[i..].chars().next().unwrap_or('\u{fffd}');
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        if bytes.get(i + 1) == Some(&b'_') {
            out.push('_');
            i += 2;
            continue;
        }
        let hex_end = rest[i + 1..].find('_').map(|e| i + 1 + e);
        let decoded = hex_end
            .filter(|&e| e > i + 1)
            .and_then(|e| {
                u32::from_str_radix(&rest[i + 1..e], 16)
                    .ok()
                    .map(|v| (e, v))
            })
            .and_then(|(e, v)| char::from_u32(v).map(|c| (e, c)));
        match decoded {
            Some((end, c)) => {
                out.push(c);
                i = end + 1;
            }
            None => return name.to_string(),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(job: &str, b64: bool, labels: &str) -> Result<Vec<(String, String)>, String> {
        grouping_key(job, b64, labels, false)
            .map(|k| {
                k.labels()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect()
            })
            .map_err(|e| e.0)
    }

    #[test]
    fn base64_offsets_like_go() {
        assert_eq!(decode_base64("YQ"), Ok(b"a".to_vec()));
        assert_eq!(decode_base64("YQ=="), Ok(b"a".to_vec()));
        assert_eq!(decode_base64("="), Ok(vec![]));
        assert_eq!(decode_base64("_-8"), Ok(vec![0xff, 0xef]));
        assert_eq!(decode_base64("foo.bar"), Err(3));
        assert_eq!(decode_base64("abcde"), Err(4));
        assert_eq!(decode_base64("a+b"), Err(1));
        assert_eq!(decode_base64("a"), Err(0));
        assert_eq!(decode_base64("abcd\ne"), Err(5));
        assert_eq!(decode_base64("ab=c"), Err(2));
        assert_eq!(decode_base64("YW==Jj"), Err(2));
        assert_eq!(decode_base64("ab\ncd"), Ok(vec![0x69, 0xb7, 0x1d]));
    }

    #[test]
    fn grammar_and_messages_like_go() {
        assert_eq!(
            key("a", false, "/job/b").unwrap(),
            vec![("job".into(), "a".into())]
        );
        assert_eq!(
            key("a", false, "/x/1/x/2").unwrap(),
            vec![("job".into(), "a".into()), ("x".into(), "2".into())]
        );
        assert_eq!(
            key("j", false, "/l@base64/").unwrap()[0],
            ("job".into(), "j".into())
        );
        assert_eq!(key("j", false, "/a/").unwrap()[0], ("a".into(), "".into()));
        assert_eq!(
            key("j", false, "/a/b/c").unwrap_err(),
            "odd number of components in label string \"/a/b/c\""
        );
        assert_eq!(
            key("j", false, "/a-b/x").unwrap_err(),
            "improper label name \"a-b\""
        );
        assert_eq!(
            key("j", false, "/__a/x").unwrap_err(),
            "improper label name \"__a\""
        );
        assert_eq!(
            key("j", false, "/l@base64@base64/YQ").unwrap_err(),
            "improper label name \"l@base64\""
        );
        assert_eq!(
            key("j", false, "/@base64/YQ").unwrap_err(),
            "improper label name \"\""
        );
        assert_eq!(
            key("j", false, "/l@base64/abcde").unwrap_err(),
            "invalid base64 encoding for label l=\"abcde\": illegal base64 data at input byte 4"
        );
        assert_eq!(
            key("foo.bar", true, "").unwrap_err(),
            "invalid base64 encoding in job name \"foo.bar\": illegal base64 data at input byte 3"
        );
        assert_eq!(key("=", true, "").unwrap_err(), "job name is required");
        assert!(key("j", false, "/l@base64/_-8")
            .unwrap_err()
            .contains("not valid UTF-8"));
    }

    #[test]
    fn unescapes_utf8_label_names() {
        assert_eq!(unescape_value_encoding("U__foo_2e_bar"), "foo.bar");
        assert_eq!(unescape_value_encoding("U__a__b"), "a_b");
        assert_eq!(unescape_value_encoding("plain"), "plain");
        assert_eq!(unescape_value_encoding("U__bad_zz_"), "U__bad_zz_");
    }
}

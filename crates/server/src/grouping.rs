//! The push URL grammar: `/metrics/job/<job>{/<label>/<value>}`, with
//! `@base64` on the job or any label name to mark a URL-safe base64 value.
//!
//! Errors are worded as the Go Pushgateway words them; values that decode
//! to invalid UTF-8 are refused here (the Go gateway accepts them and then
//! fails every later push and scrape).

use exposition::{go_quote, NameValidation};
use store::GroupingKey;

/// The suffix marking a base64-encoded value.
pub(crate) const BASE64_SUFFIX: &str = "@base64";

/// How the job name is written in a push URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobEncoding {
    /// `/metrics/job/<job>`.
    Plain,
    /// `/metrics/job@base64/<base64 of job>`.
    Base64,
}

/// A problem with a push URL; the text is the 400 response body, worded
/// as the Go gateway words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlError {
    #[error("invalid base64 encoding in job name {}: illegal base64 data at input byte {offset}", go_quote(.job.as_bytes()))]
    JobBase64 { job: String, offset: usize },
    #[error("job name {} is not valid UTF-8 after base64 decoding: {}", go_quote(.job.as_bytes()), go_quote(.decoded))]
    JobUtf8 { job: String, decoded: Vec<u8> },
    #[error("job name is required")]
    JobRequired,
    #[error("odd number of components in label string {}", go_quote(.labels.as_bytes()))]
    OddComponents { labels: String },
    #[error("improper label name {}", go_quote(.name.as_bytes()))]
    ImproperLabelName { name: String },
    #[error("invalid base64 encoding for label {name}={}: illegal base64 data at input byte {offset}", go_quote(.value.as_bytes()))]
    LabelBase64 {
        name: String,
        value: String,
        offset: usize,
    },
    #[error("label {name} has a value that is not valid UTF-8 after base64 decoding: {}", go_quote(.decoded))]
    LabelUtf8 { name: String, decoded: Vec<u8> },
}

impl UrlError {
    /// The message the Go gateway logs (at debug) for this kind of problem.
    pub(crate) fn log_message(&self) -> &'static str {
        match self {
            UrlError::JobBase64 { .. } | UrlError::JobUtf8 { .. } => {
                "invalid base64 encoding in job name"
            }
            UrlError::JobRequired => "job name is required",
            _ => "failed to parse URL",
        }
    }
}

/// Builds the grouping key of a push or delete URL.
///
/// `job` is the job path segment (already percent-decoded), `labels` the
/// rest of the path with its leading slash (may be empty).
pub(crate) fn grouping_key(
    job: &str,
    job_encoding: JobEncoding,
    labels: &str,
    names: NameValidation,
) -> Result<GroupingKey, UrlError> {
    let job = match job_encoding {
        JobEncoding::Base64 => {
            let bytes = decode_base64(job).map_err(|offset| UrlError::JobBase64 {
                job: job.to_string(),
                offset,
            })?;
            String::from_utf8(bytes).map_err(|e| UrlError::JobUtf8 {
                job: job.to_string(),
                decoded: e.into_bytes(),
            })?
        }
        JobEncoding::Plain => job.to_string(),
    };
    let mut pairs = split_labels(labels, names)?;
    if job.is_empty() {
        return Err(UrlError::JobRequired);
    }
    pairs.push(("job".to_string(), job));
    Ok(GroupingKey::new(pairs))
}

/// Go's `splitLabels`: `"/a/b/c/d"` → `a=b, c=d`.
fn split_labels(labels: &str, names: NameValidation) -> Result<Vec<(String, String)>, UrlError> {
    let mut result = Vec::new();
    if labels.len() <= 1 {
        return Ok(result);
    }
    let components: Vec<&str> = labels[1..].split('/').collect();
    if components.len() % 2 != 0 {
        return Err(UrlError::OddComponents {
            labels: labels.to_string(),
        });
    }
    for pair in components.chunks(2) {
        let (name, value) = (pair[0], pair[1]);
        let trimmed = name.strip_suffix(BASE64_SUFFIX).unwrap_or(name);
        let unescaped = match names {
            NameValidation::Utf8 => unescape_value_encoding(trimmed),
            NameValidation::Legacy => trimmed.to_string(),
        };
        if !names.is_valid_label_name(&unescaped) || trimmed.starts_with("__") {
            return Err(UrlError::ImproperLabelName {
                name: trimmed.to_string(),
            });
        }
        let value = if name.len() == trimmed.len() {
            value.to_string()
        } else {
            let bytes = decode_base64(value).map_err(|offset| UrlError::LabelBase64 {
                name: trimmed.to_string(),
                value: value.to_string(),
                offset,
            })?;
            String::from_utf8(bytes).map_err(|e| UrlError::LabelUtf8 {
                name: trimmed.to_string(),
                decoded: e.into_bytes(),
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
        let encoding = if b64 {
            JobEncoding::Base64
        } else {
            JobEncoding::Plain
        };
        grouping_key(job, encoding, labels, NameValidation::Legacy)
            .map(|k| {
                k.labels()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect()
            })
            .map_err(|e| e.to_string())
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

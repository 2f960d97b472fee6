//! Reading input: files or standard input, and the JSON lines of
//! `pushgw gauges`.

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use serde_json::Value;

use crate::args::parse_value;
use crate::Usage;

/// The bytes of `path`, or of standard input for `-`.
pub(crate) fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading standard input")?;
        Ok(buf)
    } else {
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))
    }
}

/// A gauge sample from a JSON line.
#[derive(Debug, PartialEq)]
pub(crate) struct Sample {
    /// The line it came from (counting from 1).
    pub(crate) line: usize,
    pub(crate) value: f64,
    pub(crate) labels: Vec<(String, String)>,
}

/// Checks what the gateway would refuse only after earlier groups were
/// pushed: every sample has the `--group-by` labels, and no two samples
/// have the same labels (the same series twice). Errors name the lines.
pub(crate) fn check_samples(samples: &[Sample], group_by: &[String]) -> anyhow::Result<()> {
    let mut seen = std::collections::BTreeMap::new();
    for sample in samples {
        if let Some(missing) = group_by
            .iter()
            .find(|name| !sample.labels.iter().any(|(n, _)| n == *name))
        {
            anyhow::bail!(Usage(format!(
                "line {}: no label {missing:?}, which --group-by needs",
                sample.line
            )));
        }
        let mut labels: Vec<&(String, String)> = sample.labels.iter().collect();
        labels.sort();
        if let Some(first) = seen.insert(labels, sample.line) {
            anyhow::bail!(Usage(format!(
                "line {}: the same labels as line {first}; a group holds each series once",
                sample.line
            )));
        }
    }
    Ok(())
}

/// Parses JSON lines `{"value": 1.5, "labels": {"k": "v"}}`; blank lines
/// are skipped. Errors name the line.
pub(crate) fn gauge_samples(text: &[u8]) -> anyhow::Result<Vec<Sample>> {
    let text =
        std::str::from_utf8(text).map_err(|e| Usage(format!("the input is not UTF-8: {e}")))?;
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (value, labels) =
            gauge_sample(line).map_err(|e| Usage(format!("line {}: {e}", i + 1)))?;
        samples.push(Sample {
            line: i + 1,
            value,
            labels,
        });
    }
    Ok(samples)
}

fn gauge_sample(line: &str) -> Result<(f64, Vec<(String, String)>), String> {
    let json: Value = serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    let Value::Object(object) = json else {
        return Err("expected an object like {\"value\": 1, \"labels\": {}}".into());
    };
    if let Some(key) = object
        .keys()
        .find(|k| !matches!(k.as_str(), "value" | "labels"))
    {
        return Err(format!(
            "unknown key {key:?} (expected \"value\" and \"labels\")"
        ));
    }
    let value = match object.get("value") {
        Some(Value::Number(n)) => n.as_f64().ok_or_else(|| format!("{n} is out of range"))?,
        Some(Value::String(s)) => parse_value(s)?,
        Some(other) => {
            return Err(format!(
                "\"value\" must be a number or a string, not {other}"
            ))
        }
        None => return Err("no \"value\"".into()),
    };
    let labels = match object.get("labels") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(labels)) => labels
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => {
                        return Err(format!(
                            "label {name:?} must be a string, number or boolean, not {other}"
                        ))
                    }
                };
                Ok((name.clone(), value))
            })
            .collect::<Result<_, String>>()?,
        Some(other) => return Err(format!("\"labels\" must be an object, not {other}")),
    };
    Ok((value, labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage_message(input: &str) -> String {
        let err = gauge_samples(input.as_bytes()).unwrap_err();
        err.downcast::<Usage>().unwrap().0
    }

    #[test]
    fn samples_are_read_line_by_line() {
        let input = "{\"value\": 1.5, \"labels\": {\"table\": \"users\", \"shard\": 3}}\n\n\
                     {\"value\": \"+Inf\"}\n{\"value\": -2, \"labels\": null}\n";
        let samples = gauge_samples(input.as_bytes()).unwrap();
        assert_eq!(
            samples[0],
            Sample {
                line: 1,
                value: 1.5,
                labels: vec![
                    ("shard".into(), "3".into()),
                    ("table".into(), "users".into())
                ]
            }
        );
        assert_eq!((samples[1].line, samples[1].value), (3, f64::INFINITY));
        assert_eq!((samples[2].line, samples[2].value), (4, -2.0));
    }

    #[test]
    fn duplicates_and_missing_group_labels_name_their_lines() {
        let input = "{\"value\": 1, \"labels\": {\"a\": \"1\", \"i\": \"x\"}}\n\n\
                     {\"value\": 2, \"labels\": {\"i\": \"x\", \"a\": \"1\"}}\n";
        let samples = gauge_samples(input.as_bytes()).unwrap();
        let err = check_samples(&samples, &[]).unwrap_err();
        assert_eq!(
            err.downcast::<Usage>().unwrap().0,
            "line 3: the same labels as line 1; a group holds each series once"
        );
        let err = check_samples(&samples[..1], &["host".into()]).unwrap_err();
        assert_eq!(
            err.downcast::<Usage>().unwrap().0,
            "line 1: no label \"host\", which --group-by needs"
        );
    }

    #[test]
    fn bad_lines_are_named() {
        assert!(usage_message("{\"value\": 1}\nnot json\n").starts_with("line 2: invalid JSON"));
        assert_eq!(
            usage_message("[1]"),
            "line 1: expected an object like {\"value\": 1, \"labels\": {}}"
        );
        assert_eq!(usage_message("{\"labels\": {}}"), "line 1: no \"value\"");
        assert_eq!(
            usage_message("{\"value\": 1, \"lables\": {}}"),
            "line 1: unknown key \"lables\" (expected \"value\" and \"labels\")"
        );
        assert!(usage_message("{\"value\": \"many\"}").contains("is not a number"));
        assert!(usage_message("{\"value\": 1, \"labels\": {\"a\": [1]}}").contains("label \"a\""));
    }
}

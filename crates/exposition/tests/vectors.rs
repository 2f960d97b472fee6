//! Test vectors from the Go stack (see `tests/vectors/README.md`):
//! Go's `expfmt` parser tests, Prometheus' text-parser inputs with outcomes
//! observed on Debian's Go Pushgateway 1.5.1, and the 1.5.1 gateway's answer
//! to every legacy-mode input — so our parser accepts exactly what the Go
//! gateway accepts, with the documented exceptions below.

use exposition::{parse_text_with, MetricFamily, MetricType, NameValidation, ParseOptions, Value};
use serde_json::Value as Json;

fn load(name: &str) -> Json {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("vector file"))
        .expect("vector JSON")
}

fn input(case: &Json) -> Vec<u8> {
    match (case["input"].as_str(), case["input_b64"].as_str()) {
        (Some(s), _) => s.as_bytes().to_vec(),
        (None, Some(b)) => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(b)
                .expect("base64 input")
        }
        _ => panic!("case without input: {case}"),
    }
}

fn num(v: &Json) -> f64 {
    match v {
        Json::String(s) if s == "NaN" => f64::NAN,
        Json::String(s) if s == "+Inf" => f64::INFINITY,
        Json::String(s) if s == "-Inf" => f64::NEG_INFINITY,
        other => other
            .as_f64()
            .unwrap_or_else(|| panic!("not a number: {other}")),
    }
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

fn type_name(t: MetricType) -> &'static str {
    t.as_proto_name()
}

/// Compares parsed families with a vector's expected families; returns a
/// description of the first difference.
fn compare(got: &[MetricFamily], want: &Json) -> Result<(), String> {
    let want = want.as_array().unwrap();
    if got.len() != want.len() {
        let names: Vec<&str> = got.iter().map(|f| f.name.as_str()).collect();
        return Err(format!(
            "{} families {names:?}, want {}",
            got.len(),
            want.len()
        ));
    }
    for w in want {
        let name = w["name"].as_str().unwrap();
        let f = got
            .iter()
            .find(|f| f.name == name)
            .ok_or(format!("no family {name}"))?;
        if type_name(f.metric_type) != w["type"].as_str().unwrap() {
            return Err(format!("{name}: type {}", f.metric_type));
        }
        if f.help.as_deref() != w.get("help").and_then(Json::as_str) {
            return Err(format!("{name}: help {:?}", f.help));
        }
        let metrics = w["metrics"].as_array().unwrap();
        if f.metrics.len() != metrics.len() {
            return Err(format!(
                "{name}: {} metrics, want {}",
                f.metrics.len(),
                metrics.len()
            ));
        }
        for (m, wm) in f.metrics.iter().zip(metrics) {
            let labels: Vec<(String, String)> = m
                .labels
                .iter()
                .map(|l| (l.name.clone(), l.value.clone()))
                .collect();
            let want_labels: Vec<(String, String)> = wm["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p[0].as_str().unwrap().to_string(),
                        p[1].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            if labels != want_labels {
                return Err(format!("{name}: labels {labels:?}, want {want_labels:?}"));
            }
            if m.timestamp_ms != wm.get("timestamp_ms").and_then(Json::as_i64) {
                return Err(format!("{name}: timestamp {:?}", m.timestamp_ms));
            }
            compare_value(name, &m.value, wm)?;
        }
    }
    Ok(())
}

fn compare_value(name: &str, value: &Value, want: &Json) -> Result<(), String> {
    let mismatch = || Err(format!("{name}: value {value:?}, want {want}"));
    match value {
        Value::Counter(c) if same(c.value, num(&want["value"])) => Ok(()),
        Value::Gauge(v) | Value::Untyped(v) if same(*v, num(&want["value"])) => Ok(()),
        Value::Summary(s) => {
            let w = &want["summary"];
            let quantiles: Vec<(f64, f64)> = w["quantiles"]
                .as_array()
                .map(|q| q.iter().map(|p| (num(&p[0]), num(&p[1]))).collect())
                .unwrap_or_default();
            let ok = s.sample_count == w.get("count").and_then(Json::as_u64).unwrap_or(0)
                && same(s.sample_sum, w.get("sum").map(num).unwrap_or(0.0))
                && s.quantiles.len() == quantiles.len()
                && s.quantiles
                    .iter()
                    .zip(&quantiles)
                    .all(|(q, (wq, wv))| same(q.quantile, *wq) && same(q.value, *wv));
            if ok {
                Ok(())
            } else {
                mismatch()
            }
        }
        Value::Histogram(h) => {
            let w = &want["histogram"];
            let buckets = w["buckets"].as_array().cloned().unwrap_or_default();
            let ok = h.sample_count == w.get("count").and_then(Json::as_u64)
                && h.sample_count_float.map(|f| f.to_bits())
                    == w.get("count_float").map(|f| num(f).to_bits())
                && h.sample_sum.map(|f| f.to_bits()) == w.get("sum").map(|f| num(f).to_bits())
                && h.buckets.len() == buckets.len()
                && h.buckets.iter().zip(&buckets).all(|(b, wb)| {
                    same(b.upper_bound, num(&wb["le"]))
                        && b.cumulative_count == wb.get("count").and_then(Json::as_u64)
                        && b.cumulative_count_float.map(|f| f.to_bits())
                            == wb.get("count_float").map(|f| num(f).to_bits())
                });
            if ok {
                Ok(())
            } else {
                mismatch()
            }
        }
        _ => mismatch(),
    }
}

fn run(case: &Json) -> Result<Vec<MetricFamily>, String> {
    let names = if case["utf8_names"].as_bool().unwrap_or(false) {
        NameValidation::Utf8
    } else {
        NameValidation::Legacy
    };
    let bytes = input(case);
    parse_text_with(
        &bytes,
        ParseOptions {
            names,
            ..ParseOptions::default()
        },
    )
    .map(|families| families.into_iter().map(|f| f.into_owned()).collect())
    .map_err(|e| e.to_string())
}

/// Checks one case against its expected families or error.
fn check(
    case: &Json,
    want_families: Option<&Json>,
    want_error: Option<&str>,
) -> Result<(), String> {
    match (run(case), want_families, want_error) {
        (Ok(got), Some(want), _) => compare(&got, want),
        (Err(e), _, Some(want)) if e == want => Ok(()),
        (Err(e), _, Some(want)) => Err(format!("error {e:?}, want {want:?}")),
        (Err(e), _, None) => Err(format!("error {e:?}, want families")),
        (Ok(got), None, _) => Err(format!(
            "parsed {} families, want error {want_error:?}",
            got.len()
        )),
    }
}

/// Without `--push.enable-utf8-names` our parser keeps Debian 1.5.1's
/// legacy grammar, in which quotes are not part of names at all (Go's
/// current parser reads quoted names and then rejects them by validation).
/// For these legacy cases the expected outcome is therefore 1.5.1's.
fn legacy_follows_1_5_1(name: &str) -> bool {
    [
        "parse/5/legacy",
        "parse/6/legacy",
        "parse/7/legacy",
        "parse/8/legacy",
        "parse/9/legacy",
        "parse/10/legacy",
        "parse/11/legacy",
        "parse_error/35/legacy",
        "parse_error/36/legacy",
        "parse_error/37/legacy",
        "parse_error/38/legacy",
        "parse_error/39/legacy",
        "parse_error/40/legacy",
        "parse_error/41/legacy",
        "parse_error/42/legacy",
    ]
    .contains(&name)
}

fn go_1_5_1_outcome<'a>(outcomes: &'a Json, name: &str) -> Option<&'a Json> {
    outcomes["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
}

#[test]
fn go_expfmt_parser_tests() {
    let vectors = load("text_parse.json");
    let outcomes = load("go_1_5_1_outcomes.json");
    let cases = vectors["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 132);
    let mut failures = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let result = if legacy_follows_1_5_1(name) {
            let go = go_1_5_1_outcome(&outcomes, name).expect("1.5.1 outcome recorded");
            let body = go["body"].as_str().unwrap();
            check(case, None, Some(body))
        } else {
            check(case, case.get("families"), case["error"].as_str())
        };
        if let Err(e) = result {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn prometheus_text_parser_inputs() {
    let vectors = load("openmetrics_inputs.json");
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in vectors["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        // Where Go's current parser differs from 1.5.1 we follow the current
        // one, except for quoted names in legacy mode (see above).
        let (families, error) = match case.get("expfmt_head_outcome") {
            Some(head) if name != "om/bare identifier in braces" => {
                (head.get("families"), head["error"].as_str())
            }
            _ => (case.get("families"), case["error"].as_str()),
        };
        checked += 1;
        if let Err(e) = check(case, families, error) {
            failures.push(format!("{name}: {e}"));
        }
    }
    assert!(checked >= 40);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Bodies where we deliberately follow the current Go gateway (1.11), whose
/// parser differs from Debian's 1.5.1: float and gauge histograms, negative
/// histogram counts refused.
fn follows_current_go(name: &str) -> bool {
    [
        "parse/12/legacy",
        "parse/13/legacy",
        "parse/14/legacy",
        "parse/15/legacy",
        "parse/16/legacy",
        "parse/17/legacy",
        "parse_error/43/legacy",
        "parse_error/44/legacy",
        "parse_error/45/legacy",
        "parse_error/46/legacy",
    ]
    .contains(&name)
}

/// Our parser accepts exactly the bodies Debian's Go gateway accepted (a 200,
/// or a 400 from its consistency check rather than its parser), and
/// refuses the rest with the same message.
#[test]
fn accepts_what_the_go_gateway_accepts() {
    let outcomes = load("go_1_5_1_outcomes.json");
    let text = load("text_parse.json");
    let mut failures = Vec::new();
    let mut checked = 0;
    for outcome in outcomes["cases"].as_array().unwrap() {
        let name = outcome["name"].as_str().unwrap();
        if follows_current_go(name) {
            continue;
        }
        let case = match outcome.get("input") {
            Some(_) => outcome.clone(),
            None => text["cases"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .cloned()
                .expect("input"),
        };
        let body = outcome["body"].as_str().unwrap_or("");
        let parser_refused =
            outcome["status"] == 400 && body.starts_with("text format parsing error");
        checked += 1;
        match (run(&case), parser_refused) {
            (Ok(_), false) => {}
            (Err(e), true) if e == body => {}
            (result, _) => failures.push(format!(
                "{name}: ours {:?}, Go {} {body:?}",
                result.map(|f| f.len()),
                outcome["status"]
            )),
        }
    }
    assert!(checked >= 90, "only {checked} outcomes checked");
    assert!(
        failures.is_empty(),
        "{} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

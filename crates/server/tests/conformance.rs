//! Differential conformance: every case in the repository's
//! `tests/conformance/` runs against Debian's Go Pushgateway and against
//! ours, each started fresh, and what a client and a scraper see must
//! agree: the status of every step, the pushed series on `/metrics`, and
//! the groups of `/api/v1/metrics`.
//!
//! A case is a JSON file:
//! `{"name", "flags": [..], "steps": [{"method", "path", "body" | "body_b64" |
//! "protobuf": [FAMILY..], "headers": {..}, "gzip": bool}], "compare":
//! ["status", "metrics", "api"], "ignore_help", "ready_path", "metrics_path",
//! "api_path"}`, where a protobuf FAMILY is `{"name", "help", "type",
//! "metric": [{"label": {..}, "value", "timestamp_ms", "summary": {"count",
//! "sum", "quantile": [[q, v]..]}, "histogram": {"count", "sum", "bucket":
//! [[le, cumulative]..]}}]}`.
//!
//! Comparison is of what matters to users, not of bytes both gateways may
//! order or format differently: the gateways' own families (`go_`,
//! `process_`, `pushgateway_`) are left out, push times are reduced to set
//! or zero, values are compared as numbers and series as sets. Our
//! `/metrics` must also parse as exposition text.
//!
//! Needs Debian's `prometheus-pushgateway` (Go, 1.5.1) on `PATH`, or the
//! reference command in `PUSHGATEWAY_REFERENCE`; `./scripts/test`
//! installs it.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value as Json;

use crate::gateway::free_port;
use crate::wire::Conn;

/// The cases that ship with the repository.
fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/conformance")
}

/// The command that starts the reference gateway.
fn reference() -> Vec<String> {
    if let Ok(command) = std::env::var("PUSHGATEWAY_REFERENCE") {
        return command.split_whitespace().map(str::to_owned).collect();
    }
    let found = crate::gateway::go_binary();
    vec![found.to_string_lossy().into_owned()]
}

fn candidate() -> Vec<String> {
    vec![env!("CARGO_BIN_EXE_pushgateway").to_owned()]
}

/// A gateway started for one case; killed when dropped.
struct Running {
    child: Child,
    port: u16,
    _data: tempfile::TempDir,
}

impl Running {
    fn start(command: &[String], case: &Json) -> Result<Running, String> {
        let port = free_port();
        let data = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = data.path().to_string_lossy().into_owned();
        let flags = case["flags"].as_array().cloned().unwrap_or_default();
        let mut child = Command::new(&command[0])
            .args(&command[1..])
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--persistence.file=")
            .args(
                flags
                    .iter()
                    .filter_map(Json::as_str)
                    .map(|f| f.replace("{dir}", &dir)),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("{}: {e}", command[0]))?;
        let ready = case["ready_path"].as_str().unwrap_or("/-/ready");
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "{} exited with {status} before it was ready",
                    command[0]
                ));
            }
            let answered = Conn::open(port)
                .and_then(|mut c| c.exchange("GET", ready, b""))
                .map(|r| r.status);
            if answered.ok() == Some(200) {
                return Ok(Running {
                    child,
                    port,
                    _data: data,
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(format!(
            "{} was not ready on port {port} within 15 s",
            command[0]
        ))
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, String) {
        // A fresh connection per request, as separate clients would use.
        match Conn::open(self.port).and_then(|mut c| c.exchange_with(method, path, headers, body)) {
            Ok(reply) => (reply.status, reply.body),
            Err(e) => (0, format!("no answer: {e}")),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// --- request bodies ----------------------------------------------------------

const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes_field(out: &mut Vec<u8>, number: u64, payload: &[u8]) {
    varint(out, number << 3 | 2);
    varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

fn double_field(out: &mut Vec<u8>, number: u64, x: f64) {
    varint(out, number << 3 | 1);
    out.extend_from_slice(&x.to_le_bytes());
}

fn uint_field(out: &mut Vec<u8>, number: u64, n: u64) {
    varint(out, number << 3);
    varint(out, n);
}

fn float(v: &Json) -> f64 {
    match v {
        Json::String(s) => s.parse().unwrap_or(f64::NAN),
        v => v.as_f64().unwrap_or(0.0),
    }
}

/// One `io.prometheus.client.MetricFamily`, length-delimited, written from
/// the case's description independently of the gateway's own encoder.
fn encode_family(family: &Json) -> Vec<u8> {
    let mut out = Vec::new();
    bytes_field(
        &mut out,
        1,
        family["name"].as_str().unwrap_or("").as_bytes(),
    );
    if let Some(help) = family["help"].as_str() {
        bytes_field(&mut out, 2, help.as_bytes());
    }
    let kind = family["type"].as_str().unwrap_or("UNTYPED");
    let type_number = match kind {
        "COUNTER" => 0,
        "GAUGE" => 1,
        "SUMMARY" => 2,
        "HISTOGRAM" => 4,
        _ => 3,
    };
    uint_field(&mut out, 3, type_number);
    for metric in family["metric"].as_array().into_iter().flatten() {
        let mut m = Vec::new();
        if let Some(labels) = metric["label"].as_object() {
            for (name, value) in labels {
                let mut pair = Vec::new();
                bytes_field(&mut pair, 1, name.as_bytes());
                bytes_field(&mut pair, 2, value.as_str().unwrap_or("").as_bytes());
                bytes_field(&mut m, 1, &pair);
            }
        }
        match kind {
            "SUMMARY" => {
                let s = &metric["summary"];
                let mut body = Vec::new();
                uint_field(&mut body, 1, s["count"].as_u64().unwrap_or(0));
                double_field(&mut body, 2, float(&s["sum"]));
                for q in s["quantile"].as_array().into_iter().flatten() {
                    let mut quantile = Vec::new();
                    double_field(&mut quantile, 1, float(&q[0]));
                    double_field(&mut quantile, 2, float(&q[1]));
                    bytes_field(&mut body, 3, &quantile);
                }
                bytes_field(&mut m, 4, &body);
            }
            "HISTOGRAM" => {
                let h = &metric["histogram"];
                let mut body = Vec::new();
                uint_field(&mut body, 1, h["count"].as_u64().unwrap_or(0));
                double_field(&mut body, 2, float(&h["sum"]));
                for b in h["bucket"].as_array().into_iter().flatten() {
                    let mut bucket = Vec::new();
                    uint_field(&mut bucket, 1, b[1].as_u64().unwrap_or(0));
                    double_field(&mut bucket, 2, float(&b[0]));
                    bytes_field(&mut body, 3, &bucket);
                }
                bytes_field(&mut m, 7, &body);
            }
            _ => {
                let field = match kind {
                    "GAUGE" => 2,
                    "COUNTER" => 3,
                    _ => 5,
                };
                let mut value = Vec::new();
                double_field(&mut value, 1, float(&metric["value"]));
                bytes_field(&mut m, field, &value);
            }
        }
        if let Some(ms) = metric["timestamp_ms"].as_u64().filter(|&ms| ms != 0) {
            uint_field(&mut m, 6, ms);
        }
        bytes_field(&mut out, 4, &m);
    }
    let mut delimited = Vec::new();
    varint(&mut delimited, out.len() as u64);
    delimited.extend_from_slice(&out);
    delimited
}

/// A step's method, path, headers and body.
fn step_request(step: &Json) -> (String, String, Vec<(String, String)>, Vec<u8>) {
    let mut headers: Vec<(String, String)> = step["headers"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        .collect();
    let mut body = if let Some(families) = step["protobuf"].as_array() {
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("Content-Type".into(), PROTOBUF_CONTENT_TYPE.into()));
        }
        families.iter().flat_map(encode_family).collect()
    } else if let Some(b64) = step["body_b64"].as_str() {
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("body_b64 is base64")
    } else {
        step["body"].as_str().unwrap_or("").as_bytes().to_vec()
    };
    if step["gzip"].as_bool() == Some(true) {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&body).unwrap();
        body = gz.finish().unwrap();
        headers.push(("Content-Encoding".into(), "gzip".into()));
    }
    (
        step["method"].as_str().unwrap_or("GET").to_owned(),
        step["path"].as_str().unwrap_or("/").to_owned(),
        headers,
        body,
    )
}

// --- normalising what the gateways show -----------------------------------

const OWN_PREFIXES: [&str; 3] = ["go_", "process_", "pushgateway_"];
const TIME_FAMILIES: [&str; 2] = ["push_time_seconds", "push_failure_time_seconds"];

fn is_time_family(name: &str) -> bool {
    TIME_FAMILIES.iter().any(|t| name.starts_with(t))
}

/// A value as compared: a number (NaN equal to NaN), "set"/"zero" for push
/// times, or the text when it is not a number.
fn value_of(name: &str, text: Option<&str>) -> String {
    let Some(text) = text else {
        return "none".into();
    };
    match text.parse::<f64>() {
        Ok(x) if TIME_FAMILIES.contains(&name) => if x == 0.0 { "zero" } else { "set" }.into(),
        Ok(x) if x.is_nan() => "NaN".into(),
        Ok(x) => format!("{x:?}"),
        Err(_) => text.to_owned(),
    }
}

/// Splits `name{labels} value [timestamp]` into the name, the sorted label
/// pairs (values unescaped) and the value.
fn split_sample(line: &str) -> (String, Vec<(String, String)>, Option<String>) {
    let Some((name, rest)) = line.split_once('{') else {
        let mut parts = line.split_whitespace();
        let name = parts.next().unwrap_or("").to_owned();
        return (name, Vec::new(), parts.next().map(str::to_owned));
    };
    let mut labels = Vec::new();
    let (mut buffer, mut key, mut in_value, mut escaped) =
        (String::new(), String::new(), false, false);
    let mut after = rest.len();
    for (i, c) in rest.char_indices() {
        if in_value {
            if escaped {
                buffer.push(if c == 'n' { '\n' } else { c });
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                labels.push((std::mem::take(&mut key), std::mem::take(&mut buffer)));
                in_value = false;
            } else {
                buffer.push(c);
            }
        } else if c == '}' {
            after = i + 1;
            break;
        } else if c == '=' {
            key = buffer.trim().trim_matches(',').trim().to_owned();
            buffer.clear();
        } else if c == '"' {
            in_value = true;
        } else {
            buffer.push(c);
        }
    }
    labels.sort();
    let value = rest[after..].split_whitespace().next().map(str::to_owned);
    (name.trim().to_owned(), labels, value)
}

/// Pushed families on a `/metrics` page: name → (type, help, sorted series).
type Families = BTreeMap<String, (String, Option<String>, Vec<String>)>;

fn normalise_metrics(text: &str, ignore_help: bool) -> Families {
    let (mut help, mut kind) = (BTreeMap::new(), BTreeMap::new());
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, text) = rest.split_once(' ').unwrap_or((rest, ""));
            help.insert(name.to_owned(), text.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split_whitespace();
            if let (Some(name), Some(t)) = (parts.next(), parts.next()) {
                kind.insert(name.to_owned(), t.to_owned());
            }
        } else if !line.starts_with('#') {
            let (name, labels, value) = split_sample(line);
            if OWN_PREFIXES.iter().any(|p| name.starts_with(p)) {
                continue;
            }
            let value = value_of(&name, value.as_deref());
            samples.push((name, labels, value));
        }
    }
    let mut families = Families::new();
    for (name, labels, value) in samples {
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .filter_map(|s| name.strip_suffix(s))
            .find(|base| kind.contains_key(*base) && !kind.contains_key(&name))
            .unwrap_or(&name)
            .to_owned();
        let entry = families.entry(family.clone()).or_insert_with(|| {
            let help = if ignore_help && !is_time_family(&family) {
                None
            } else {
                help.get(&family).cloned()
            };
            let kind = kind
                .get(&family)
                .cloned()
                .unwrap_or_else(|| "untyped".into());
            (kind, help, Vec::new())
        });
        entry.2.push(format!("{name} {labels:?} {value}"));
    }
    for (_, _, series) in families.values_mut() {
        series.sort();
    }
    families
}

/// The JSON API's groups, each as canonical JSON, sorted; and its status.
fn normalise_api(raw: &str, ignore_help: bool) -> (String, Vec<String>) {
    let Ok(doc) = serde_json::from_str::<Json>(raw) else {
        return ("not json".into(), vec![raw.chars().take(200).collect()]);
    };
    let mut groups = Vec::new();
    for group in doc["data"].as_array().into_iter().flatten() {
        let mut families = BTreeMap::new();
        for (name, family) in group.as_object().into_iter().flatten() {
            if name == "labels" || name == "last_push_successful" || !family.is_object() {
                continue;
            }
            let mut metrics: Vec<String> = family["metrics"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| {
                    let mut m = m.clone();
                    if let Some(v) = m.get("value").cloned() {
                        m["value"] = Json::String(value_of(name, v.as_str()));
                    }
                    canonical(&m)
                })
                .collect();
            metrics.sort();
            let help = if ignore_help && !TIME_FAMILIES.contains(&name.as_str()) {
                Json::Null
            } else {
                family["help"].clone()
            };
            families.insert(
                name.clone(),
                format!("{} {} {:?}", family["type"], help, metrics),
            );
        }
        groups.push(format!(
            "{} {} {:?}",
            canonical(&group["labels"]),
            group["last_push_successful"],
            families
        ));
    }
    groups.sort();
    (doc["status"].to_string(), groups)
}

/// JSON with object keys sorted, so equal documents print equally.
fn canonical(v: &Json) -> String {
    match v {
        Json::Object(map) => {
            let sorted: BTreeMap<_, _> = map.iter().map(|(k, v)| (k, canonical(v))).collect();
            format!("{sorted:?}")
        }
        Json::Array(items) => format!("{:?}", items.iter().map(canonical).collect::<Vec<_>>()),
        other => other.to_string(),
    }
}

/// How long Go's write queue gets to apply a write it answered 202.
const GO_WRITE_QUEUE_SETTLE: Duration = Duration::from_millis(50);

/// What one gateway showed for a case.
struct Observed {
    statuses: Vec<u16>,
    metrics: (u16, Families),
    api: (u16, (String, Vec<String>)),
    text: String,
}

fn observe(command: &[String], case: &Json) -> Result<Observed, String> {
    let gateway = Running::start(command, case)?;
    let mut statuses = Vec::new();
    for step in case["steps"].as_array().into_iter().flatten() {
        let (method, path, headers, body) = step_request(step);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (&**k, &**v)).collect();
        let status = gateway.send(&method, &path, &headers, &body).0;
        statuses.push(status);
        if status == 202 {
            // Go answers deletes, wipes and unchecked pushes before it
            // applies them (its write queue); the next look must not race
            // that queue.
            std::thread::sleep(GO_WRITE_QUEUE_SETTLE);
        }
        if let Some(seconds) = step["sleep"].as_f64() {
            std::thread::sleep(Duration::from_secs_f64(seconds));
        }
    }
    let ignore_help = case["ignore_help"].as_bool() == Some(true);
    let (code, text) = gateway.send(
        "GET",
        case["metrics_path"].as_str().unwrap_or("/metrics"),
        &[],
        b"",
    );
    let (api_code, api) = gateway.send(
        "GET",
        case["api_path"].as_str().unwrap_or("/api/v1/metrics"),
        &[],
        b"",
    );
    Ok(Observed {
        statuses,
        metrics: (code, normalise_metrics(&text, ignore_help)),
        api: (api_code, normalise_api(&api, ignore_help)),
        text,
    })
}

/// Runs one case against both gateways; answers what differs.
fn differences(case: &Json) -> Vec<String> {
    let (want, got) = match (observe(&reference(), case), observe(&candidate(), case)) {
        (Ok(w), Ok(g)) => (w, g),
        (Err(e), _) | (_, Err(e)) => return vec![e],
    };
    let compare: Vec<&str> = case["compare"]
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_else(|| vec!["status", "metrics", "api"]);
    let mut problems = Vec::new();
    for aspect in compare {
        let (reference, ours) = match aspect {
            "status" => (
                format!("{:?}", want.statuses),
                format!("{:?}", got.statuses),
            ),
            "metrics" => (format!("{:?}", want.metrics), format!("{:?}", got.metrics)),
            "api" => (format!("{:?}", want.api), format!("{:?}", got.api)),
            other => (format!("unknown aspect {other}"), String::new()),
        };
        if reference != ours {
            problems.push(format!(
                "{aspect} differs\n    Go:   {reference:.1500}\n    ours: {ours:.1500}"
            ));
        }
    }
    if let Err(e) = exposition::parse_text(got.text.as_bytes()) {
        problems.push(format!(
            "our /metrics does not parse as exposition text: {e}"
        ));
    }
    problems
}

fn load_cases(dir: &Path) -> Vec<(String, Json)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let case: Json =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let name = case["name"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| path.file_name().unwrap().to_string_lossy().into_owned());
            (name, case)
        })
        .collect()
}

#[test]
fn every_case_agrees_with_the_go_gateway() {
    let cases = load_cases(&cases_dir());
    assert!(cases.len() >= 100, "the repository's cases are there");
    // Two at a time: each case starts two processes that mostly wait.
    let chunks: Vec<Vec<(String, Json)>> = {
        let mut halves = vec![Vec::new(), Vec::new()];
        for (i, case) in cases.into_iter().enumerate() {
            halves[i % 2].push(case);
        }
        halves
    };
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = chunks
            .iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(name, case)| {
                            let problems = differences(case);
                            (!problems.is_empty())
                                .then(|| format!("FAIL {name}\n  {}", problems.join("\n  ")))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The runner itself must notice a difference: a gateway that answers
/// every push with 200 and stores nothing is not Go.
#[test]
fn the_runner_sees_a_difference() {
    let case: Json = serde_json::json!({
        "name": "refused_body",
        "steps": [{"method": "PUT", "path": "/metrics/job/j", "body": "not a metric line\n"},
                  {"method": "PUT", "path": "/metrics/job/k", "body": "m 1\n"}]
    });
    let go = observe(&reference(), &case).unwrap();
    assert_eq!(go.statuses, vec![400, 200]);
    // Against itself the runner finds nothing; against a gateway started
    // with its consistency check off (which answers 202) it does.
    assert!(differences(&case).is_empty());
    let mut other = case.clone();
    other["flags"] = serde_json::json!(["--push.disable-consistency-check"]);
    let ours = observe(&candidate(), &other).unwrap();
    assert_ne!(format!("{:?}", ours.statuses), format!("{:?}", go.statuses));
    let series = &go.metrics.1["m"].2;
    assert_eq!(series.len(), 1, "{series:?}");
    assert!(series[0].contains("(\"job\", \"k\")"), "{series:?}");
}

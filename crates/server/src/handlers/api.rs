//! The JSON API (`/api/v1/status`, `/api/v1/metrics`, `OPTIONS`): the same
//! shapes and field names as the Go Pushgateway, with groups in
//! grouping-key order (Go's order is random).

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use exposition::{MetricFamily, MetricType, Value};
use std::sync::Arc;

use store::{Group, Lifetime, PushTime, Selector};

use crate::build::build_information;
use crate::context::RequestContext;
use crate::error::AppError;
use crate::flags::Config;
use crate::json::{go_sprint_float, object, string, string_map};
use crate::response::{empty, json};
use crate::state::AppState;

/// Headers every API response carries (CORS and no caching).
const CORS_HEADERS: [(&str, &str); 5] = [
    (
        "access-control-allow-headers",
        "Accept, Authorization, Content-Type, Origin",
    ),
    ("access-control-allow-methods", "GET, POST, DELETE, OPTIONS"),
    ("access-control-allow-origin", "*"),
    ("access-control-expose-headers", "Date"),
    ("cache-control", "no-cache, no-store, must-revalidate"),
];

/// Adds the API's CORS and caching headers.
pub(crate) fn with_cors(mut r: Response) -> Response {
    for (k, v) in CORS_HEADERS {
        r.headers_mut().insert(k, HeaderValue::from_static(v));
    }
    r
}

/// `OPTIONS /api/v1/*`.
pub(crate) fn options() -> Response {
    empty(StatusCode::OK)
}

/// `GET /api/v1/status`.
pub(crate) fn status(state: &AppState) -> Response {
    json(status_json(state.config(), state.started()))
}

/// The `match[]` selectors of a query string (several are a union).
pub(crate) fn selectors(query: Option<&str>) -> Result<Vec<Selector>, AppError> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .filter(|(k, _)| k == "match[]")
        .map(|(_, v)| Selector::parse(&v).map_err(|e| AppError::BadData(e.to_string())))
        .collect()
}

/// `GET /api/v1/metrics`, every group or those `match[]` selects:
/// rendered off the async workers (it decodes every family).
pub(crate) async fn metrics(
    state: &AppState,
    context: &RequestContext,
) -> Result<Response, AppError> {
    let selectors = selectors(context.uri.query())?;
    let snapshot = state.store().snapshot();
    let body = tokio::task::spawn_blocking(move || {
        let groups: Vec<Arc<Group>> = snapshot
            .groups()
            .iter()
            .filter(|g| selectors.is_empty() || Selector::any_matches(&selectors, g.key()))
            .cloned()
            .collect();
        groups_json(&groups)
    })
    .await
    .map_err(|_| AppError::Internal("the JSON renderer's thread failed"))?;
    Ok(json(body))
}

fn success(data: &str) -> String {
    format!("{{\"status\":\"success\",\"data\":{data}}}")
}

fn status_json(config: &Config, started: PushTime) -> String {
    let mut build = String::new();
    string_map(
        &mut build,
        build_information().iter().map(|(k, v)| (*k, v.as_str())),
    );
    let mut flags = String::new();
    string_map(
        &mut flags,
        config
            .flag_values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    let mut start = String::new();
    string(&mut start, &started.to_rfc3339_nano());
    let mut data = String::new();
    object(
        &mut data,
        vec![
            ("build_information".into(), build),
            ("flags".into(), flags),
            ("start_time".into(), start),
        ],
    );
    success(&data)
}

fn groups_json(groups: &[Arc<Group>]) -> String {
    let mut data = String::from("[");
    for (i, group) in groups.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        group_json(&mut data, group);
    }
    data.push(']');
    success(&data)
}

/// A duration as a JSON number of seconds (`90`, `0.25`).
fn json_seconds(d: std::time::Duration) -> String {
    let seconds = d.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{}", d.as_secs())
    } else {
        format!("{seconds}")
    }
}

fn group_json(out: &mut String, group: &Group) {
    let mut entries = Vec::with_capacity(group.families().len() + 2);
    let mut labels = String::new();
    string_map(&mut labels, group.key().labels());
    entries.push(("labels".to_string(), labels));
    entries.push((
        "last_push_successful".to_string(),
        group.last_push_successful().to_string(),
    ));
    // A group with a lifetime says how long it lives and until when.
    if let (Lifetime::For(ttl), Some(deadline)) = (group.lifetime(), group.expires_at()) {
        entries.push(("ttl_seconds".to_string(), json_seconds(ttl)));
        let mut at = String::new();
        string(&mut at, &deadline.to_rfc3339_nano());
        entries.push(("expires_at".to_string(), at));
    }
    for family in group.families() {
        let decoded = family.decode();
        let mut value = String::from("{\"time_stamp\":");
        string(&mut value, &family.pushed_at().to_rfc3339_nano());
        value.push_str(",\"type\":");
        string(&mut value, decoded.metric_type.as_proto_name());
        if let Some(help) = decoded.help.as_deref().filter(|h| !h.is_empty()) {
            value.push_str(",\"help\":");
            string(&mut value, help);
        }
        value.push_str(",\"metrics\":");
        metrics_json(&mut value, &decoded);
        value.push('}');
        entries.push((family.name().to_string(), value));
    }
    object(out, entries);
}

fn quoted(s: &str) -> String {
    let mut out = String::new();
    string(&mut out, s);
    out
}

fn metrics_json(out: &mut String, family: &MetricFamily) {
    out.push('[');
    for (i, m) in family.metrics.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let mut labels = String::new();
        string_map(
            &mut labels,
            m.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
        );
        let mut entries = vec![("labels".to_string(), labels)];
        match (family.metric_type, &m.value) {
            (MetricType::Summary, value) => {
                let s = match value {
                    Value::Summary(s) => s.clone(),
                    _ => Default::default(),
                };
                let quantiles: Vec<(String, String)> = s
                    .quantiles
                    .iter()
                    .map(|q| {
                        (
                            go_sprint_float(q.quantile),
                            quoted(&go_sprint_float(q.value)),
                        )
                    })
                    .collect();
                let mut q = String::new();
                object(&mut q, quantiles);
                entries.push(("quantiles".into(), q));
                entries.push(("count".into(), quoted(&s.sample_count.to_string())));
                entries.push(("sum".into(), quoted(&go_sprint_float(s.sample_sum))));
            }
            (MetricType::Histogram, value) => {
                let empty = Default::default();
                let h = match value {
                    Value::Histogram(h) => &**h,
                    _ => &empty,
                };
                entries.push((
                    "sum".into(),
                    quoted(&go_sprint_float(h.sample_sum.unwrap_or(0.0))),
                ));
                if !h.negative_spans.is_empty() || !h.positive_spans.is_empty() {
                    let (count, buckets) = crate::native::api_buckets(h);
                    entries.push(("count".into(), quoted(&count)));
                    entries.push(("buckets".into(), buckets));
                } else {
                    let buckets: Vec<(String, String)> = h
                        .buckets
                        .iter()
                        .map(|b| {
                            let count = match b.cumulative_count_float {
                                Some(f) if f > 0.0 => go_sprint_float(f),
                                _ => b.cumulative_count.unwrap_or(0).to_string(),
                            };
                            (go_sprint_float(b.upper_bound), quoted(&count))
                        })
                        .collect();
                    let mut b = String::new();
                    object(&mut b, buckets);
                    entries.push(("buckets".into(), b));
                    let count = match h.sample_count_float {
                        Some(f) if f > 0.0 => go_sprint_float(f),
                        _ => h.sample_count.unwrap_or(0).to_string(),
                    };
                    entries.push(("count".into(), quoted(&count)));
                }
            }
            (_, value) => {
                // Go reads gauge, counter, then untyped, whatever the type.
                let v = match value {
                    Value::Gauge(v) | Value::Untyped(v) => *v,
                    Value::Counter(c) => c.value,
                    _ => 0.0,
                };
                entries.push(("value".into(), quoted(&go_sprint_float(v))));
            }
        }
        object(out, entries);
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::{GroupingKey, PushMode, Store, StoreOptions};

    #[test]
    fn metrics_json_has_go_shape() {
        let store = Store::new(StoreOptions::default());
        let body = "# TYPE myh histogram\nmyh_bucket{le=\"1\"} 1\nmyh_bucket{le=\"+Inf\"} 2\nmyh_sum 3\nmyh_count 2\n\
                    # HELP mysum x\n# TYPE mysum summary\nmysum{quantile=\"0.5\"} 1\nmysum_sum 3\nmysum_count 2\n";
        let families = exposition::parse_text(body.as_bytes()).unwrap();
        store
            .push(
                GroupingKey::new([("job", "sh")]),
                &families,
                PushMode::Replace,
                PushTime::from_nanos(1_795_345_589_111_592_580),
            )
            .unwrap()
            .wait()
            .unwrap();
        let json = groups_json(store.snapshot().groups());
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let g = &v["data"][0];
        assert_eq!(g["labels"], serde_json::json!({"job": "sh"}));
        assert_eq!(g["last_push_successful"], true);
        assert_eq!(
            g["myh"]["metrics"][0],
            serde_json::json!({"buckets": {"+Inf": "2", "1": "1"}, "count": "2", "labels": {"instance": "", "job": "sh"}, "sum": "3"})
        );
        assert_eq!(g["mysum"]["help"], "x");
        assert_eq!(
            g["mysum"]["metrics"][0]["quantiles"],
            serde_json::json!({"0.5": "1"})
        );
        assert_eq!(
            g["push_time_seconds"]["metrics"][0]["value"],
            "1.7953455891115928e+09"
        );
        assert_eq!(
            g["push_time_seconds"]["time_stamp"],
            "2026-11-22T11:06:29.11159258Z"
        );
        assert!(json.starts_with("{\"status\":\"success\",\"data\":[{\"labels\":"));
    }
}

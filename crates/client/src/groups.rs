//! What the gateway holds, read from its `GET /api/v1/metrics` JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::Error;

/// One group on the gateway, as `GET /api/v1/metrics` describes it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GroupStatus {
    /// The grouping labels, `job` included.
    pub labels: BTreeMap<String, String>,
    /// Whether the last push (or delete) of this group succeeded.
    pub last_push_successful: bool,
    /// The last successful change, in Unix seconds (the group's
    /// `push_time_seconds`); `None` if it never succeeded.
    pub last_push_time: Option<f64>,
    /// The last failed change, in Unix seconds (the group's
    /// `push_failure_time_seconds`); `None` if none failed.
    pub last_failure_time: Option<f64>,
    /// The names of the pushed metric families, sorted, without the
    /// gateway's own `push_time_seconds` and `push_failure_time_seconds`.
    pub metric_names: Vec<String>,
    /// The group's TTL, when it has one (our gateway with TTLs in use).
    pub ttl: Option<Duration>,
    /// When the group expires (RFC 3339, UTC), when it has a TTL.
    pub expires_at: Option<String>,
}

const PUSH_TIME: &str = "push_time_seconds";
const FAILURE_TIME: &str = "push_failure_time_seconds";

/// Parses the JSON API answer.
pub(crate) fn parse_groups(body: &[u8]) -> Result<Vec<GroupStatus>, Error> {
    let bad =
        |what: &str| Error::Transport(format!("unexpected /api/v1/metrics answer: {what}").into());
    let json: Value = serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))?;
    if json.get("status").and_then(Value::as_str) != Some("success") {
        return Err(bad("status is not \"success\""));
    }
    let Some(data) = json.get("data").and_then(Value::as_array) else {
        return Err(bad("no data array"));
    };
    let mut groups = Vec::with_capacity(data.len());
    for entry in data {
        let Some(object) = entry.as_object() else {
            return Err(bad("a group is not an object"));
        };
        let labels = object
            .get("labels")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("a group has no labels"))?
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let mut metric_names: Vec<String> = object
            .iter()
            .filter(|(k, v)| {
                v.is_object() && !matches!(k.as_str(), "labels" | PUSH_TIME | FAILURE_TIME)
            })
            .map(|(k, _)| k.clone())
            .collect();
        metric_names.sort();
        groups.push(GroupStatus {
            labels,
            last_push_successful: object
                .get("last_push_successful")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            last_push_time: gauge_time(object.get(PUSH_TIME)),
            last_failure_time: gauge_time(object.get(FAILURE_TIME)),
            metric_names,
            ttl: object
                .get("ttl_seconds")
                .and_then(Value::as_f64)
                .and_then(|s| Duration::try_from_secs_f64(s).ok()),
            expires_at: object
                .get("expires_at")
                .and_then(Value::as_str)
                .map(str::to_owned),
        });
    }
    Ok(groups)
}

/// The groups of a `DELETE /api/v1/admin/groups` answer, by their labels.
pub(crate) fn parse_deleted(body: &[u8]) -> Result<Vec<BTreeMap<String, String>>, Error> {
    let bad = |what: &str| {
        Error::Transport(format!("unexpected /api/v1/admin/groups answer: {what}").into())
    };
    let json: Value = serde_json::from_slice(body).map_err(|e| bad(&e.to_string()))?;
    let groups = json
        .get("data")
        .and_then(|d| d.get("groups"))
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no data.groups array"))?;
    groups
        .iter()
        .map(|g| {
            let labels = g
                .get("labels")
                .and_then(Value::as_object)
                .ok_or_else(|| bad("a group has no labels"))?;
            Ok(labels
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect())
        })
        .collect()
}

/// The value of a push-time gauge; 0 (never) gives `None`.
fn gauge_time(family: Option<&Value>) -> Option<f64> {
    let value = family?
        .get("metrics")?
        .as_array()?
        .first()?
        .get("value")?
        .as_str()?;
    exposition::parse_float(value).filter(|v| *v != 0.0 && v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_go_gateways_json() {
        let body = br#"{"status":"success","data":[{"labels":{"job":"a","p":"/var/"},
            "last_push_successful":true,
            "push_failure_time_seconds":{"time_stamp":"2026-11-22T13:20:01Z","type":"GAUGE","help":"h","metrics":[{"labels":{"job":"a"},"value":"0"}]},
            "push_time_seconds":{"time_stamp":"2026-11-22T13:20:01Z","type":"GAUGE","help":"h","metrics":[{"labels":{"job":"a"},"value":"1.795353601875887e+09"}]},
            "x":{"time_stamp":"2026-11-22T13:20:01Z","type":"UNTYPED","metrics":[{"labels":{"job":"a"},"value":"1"}]}}]}"#;
        let groups = parse_groups(body).unwrap();
        assert_eq!(
            groups,
            vec![GroupStatus {
                labels: BTreeMap::from([("job".into(), "a".into()), ("p".into(), "/var/".into())]),
                last_push_successful: true,
                last_push_time: Some(1.795353601875887e9),
                last_failure_time: None,
                metric_names: vec!["x".into()],
                ttl: None,
                expires_at: None,
            }]
        );
    }

    #[test]
    fn refuses_other_documents() {
        assert!(parse_groups(b"<html>").is_err());
        assert!(parse_groups(br#"{"status":"error","data":[]}"#).is_err());
        assert!(parse_groups(br#"{"status":"success","data":[{}]}"#).is_err());
        assert_eq!(
            parse_groups(br#"{"status":"success","data":[]}"#).unwrap(),
            vec![]
        );
    }
}

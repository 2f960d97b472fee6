//! Routing behaves as the Go Pushgateway's does: every (method, path) pair
//! recorded from Debian's prometheus-pushgateway 1.5.1
//! (`tests/fixtures/go_routes.json`, made by `scripts/probe-go-routes.py`)
//! gets the same status, `Location` and `Allow`.

use crate::util::{app, send};

/// Where we differ from Go on purpose.
fn deliberate_difference(config: &str, method: &str, path: &str) -> Option<&'static str> {
    let _ = config;
    if path.contains("/static/") && !path.contains("nope") && method == "GET" {
        return Some("Go lists the embedded asset directory; ours serves no directory listing");
    }
    None
}

#[tokio::test]
async fn every_recorded_route_answers_like_go() {
    let fixture: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/go_routes.json")).expect("fixture parses");
    let mut failures = Vec::new();
    let mut checked = 0;
    for config in fixture["configs"].as_array().unwrap() {
        let name = config["name"].as_str().unwrap();
        let flags: Vec<&str> = config["flags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_str().unwrap())
            .collect();
        for case in config["cases"].as_array().unwrap() {
            let method = case["method"].as_str().unwrap();
            let path = case["path"].as_str().unwrap();
            if deliberate_difference(name, method, path).is_some() {
                continue;
            }
            // A fresh app per case: pushes must not influence later cases.
            let (_, app) = app(&flags);
            let reply = send(&app, method, path, "", &[]).await;
            checked += 1;
            let want_status = case["status"].as_u64().unwrap() as u16;
            let want_location = case["location"].as_str();
            let want_allow = case["allow"].as_str();
            let got_location = reply.headers.get("location").and_then(|v| v.to_str().ok());
            let got_allow = reply.headers.get("allow").and_then(|v| v.to_str().ok());
            // The Go API router drops its mount point from redirects; ours keeps it.
            let location_ok = got_location == want_location
                || (path.contains("/api/v1/")
                    && got_location
                        .zip(want_location)
                        .is_some_and(|(g, w)| g.ends_with(w)));
            if reply.status.as_u16() != want_status || !location_ok || got_allow != want_allow {
                failures.push(format!(
                    "[{name}] {method} {path}: want {want_status} {want_location:?} {want_allow:?}, got {} {got_location:?} {got_allow:?} {:?}",
                    reply.status.as_u16(),
                    reply.body.lines().next().unwrap_or("")
                ));
            }
        }
    }
    assert!(checked > 1000, "only {checked} cases checked");
    assert!(
        failures.is_empty(),
        "{} of {checked} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

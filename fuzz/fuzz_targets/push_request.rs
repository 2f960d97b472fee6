//! Fuzzes the HTTP push path end to end through `server::app`: a sequence
//! of requests (method, path, Content-Type, Content-Encoding, body) against
//! one gateway. Invariants: no panic, no 5xx, and after every request the
//! scrape and the JSON API still answer 200 (a bad push never poisons the
//! store).
#![no_main]

use axum::body::Body;
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const PATHS: &[&str] = &[
    "/metrics/job/a", "/metrics/job/a/instance/", "/metrics/job/b/x/1", "/metrics/job@base64/", "/metrics/job/",
    "/metrics/job/a/l@base64/", "/metrics/job/c/", "/metrics/", "/api/v1/admin/wipe",
];
const TYPES: &[&str] = &[
    "", "text/plain; version=0.0.4",
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited",
];
const ENCODINGS: &[&str] = &["", "gzip", "snappy", "GZIP"];
const METHODS: &[&str] = &["PUT", "POST", "DELETE", "GET"];

thread_local! {
    static RUNTIME: tokio::runtime::Runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
}

async fn send(app: &axum::Router, method: &str, uri: &str, headers: &[(&str, &str)], body: Vec<u8>) -> u16 {
    let mut request = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        if !v.is_empty() {
            request = request.header(*k, *v);
        }
    }
    let Ok(request) = request.body(Body::from(body)) else { return 400 };
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

fuzz_target!(|data: &[u8]| {
    let config = match server::flags::parse(["--web.enable-admin-api", "--push.max-decompressed-size=4MiB"]) {
        Ok(server::flags::Parsed::Run(c)) => *c,
        _ => unreachable!(),
    };
    let state = server::AppState::new(config).unwrap();
    let app = server::app(state);
    RUNTIME.with(|rt| {
        rt.block_on(async {
            // Each request: 4 selector bytes, a 2-byte length, a path suffix
            // length, then the path suffix and the body.
            let mut rest = data;
            while rest.len() >= 7 {
                let (head, tail) = rest.split_at(7);
                let method = METHODS[head[0] as usize % METHODS.len()];
                let path = PATHS[head[1] as usize % PATHS.len()];
                let content_type = TYPES[head[2] as usize % TYPES.len()];
                let encoding = ENCODINGS[head[3] as usize % ENCODINGS.len()];
                let len = (u16::from_le_bytes([head[4], head[5]]) as usize).min(tail.len());
                let suffix_len = (head[6] as usize % 24).min(len);
                let (chunk, after) = tail.split_at(len);
                rest = after;
                let suffix: String = String::from_utf8_lossy(&chunk[..suffix_len])
                    .chars()
                    .filter(|c| c.is_ascii_graphic() && *c != '?' && *c != '#')
                    .collect();
                let uri = format!("{path}{suffix}");
                let method = if path.starts_with("/api") { "PUT" } else { method };
                let status = send(
                    &app,
                    method,
                    &uri,
                    &[("content-type", content_type), ("content-encoding", encoding)],
                    chunk[suffix_len..].to_vec(),
                )
                .await;
                assert!(status < 500, "{method} {uri} answered {status}");
                assert_eq!(send(&app, "GET", "/metrics", &[], Vec::new()).await, 200, "scrape after {method} {uri}");
                assert_eq!(send(&app, "GET", "/api/v1/metrics", &[], Vec::new()).await, 200);
            }
        })
    });
});

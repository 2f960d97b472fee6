//! What the global options put on the wire, seen by the client crate's fake
//! gateway: bearer tokens, extra headers, retries, compression, and their
//! environment variables.

use pushgateway_client::__doctest::FakeGateway;

use crate::cli::pushgw;

/// `pushgw gauge -j j -n x 1` plus `args`, against `fake`.
fn gauge(fake: &FakeGateway, args: &[&str]) -> crate::cli::Pushgw {
    let mut all = vec!["gauge", "-j", "j", "-n", "x", "1"];
    all.extend_from_slice(args);
    pushgw(&all).env("PUSHGATEWAY_URL", fake.url())
}

#[test]
fn bearer_tokens_from_the_flag_the_environment_and_a_file() {
    let fake = FakeGateway::start();
    gauge(&fake, &["--bearer-token", "fl4g"]).success();
    gauge(&fake, &[])
        .env("PUSHGATEWAY_BEARER_TOKEN", "env t0ken")
        .success();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "f1le\n").unwrap();
    gauge(&fake, &["--bearer-token-file", file.to_str().unwrap()]).success();
    gauge(&fake, &[])
        .env("PUSHGATEWAY_BEARER_TOKEN_FILE", &file)
        .success();
    let sent: Vec<_> = fake
        .requests()
        .iter()
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect();
    assert_eq!(
        sent,
        [
            Some("Bearer fl4g".to_owned()),
            Some("Bearer env t0ken".to_owned()),
            Some("Bearer f1le".to_owned()),
            Some("Bearer f1le".to_owned()),
        ]
    );
}

#[test]
fn bearer_token_and_basic_auth_conflict() {
    let out = pushgw(&[
        "list",
        "--gateway",
        "127.0.0.1:1",
        "--bearer-token",
        "t",
        "--basic-auth",
        "u:p",
    ])
    .output();
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
}

#[test]
fn extra_headers_from_flags_and_the_environment() {
    let fake = FakeGateway::start();
    gauge(
        &fake,
        &[
            "-H",
            "X-Scope-OrgID: team-a",
            "--header",
            "X-Trace:abc, def",
        ],
    )
    .success();
    gauge(&fake, &[])
        .env("PUSHGATEWAY_HEADERS", "X-Scope-OrgID: team-b\nX-Other: 1\n")
        .success();
    let requests = fake.requests();
    assert_eq!(requests[0].header("x-scope-orgid"), Some("team-a"));
    assert_eq!(requests[0].header("x-trace"), Some("abc, def"));
    assert_eq!(requests[1].header("x-scope-orgid"), Some("team-b"));
    assert_eq!(requests[1].header("x-other"), Some("1"));
    let out = gauge(&fake, &[])
        .env("PUSHGATEWAY_HEADERS", "X-Ok: 1\nno colon")
        .fails_with(2);
    assert!(
        out.stderr
            .contains("--header needs NAME:VALUE, got \"no colon\""),
        "{}",
        out.stderr
    );
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn retries_retry_a_503() {
    let fake = FakeGateway::start_scripted(vec![(503, vec![]), (503, vec![])]);
    let out = gauge(&fake, &[]).fails_with(3);
    assert!(
        out.stderr.contains("503 Service Unavailable"),
        "{}",
        out.stderr
    );
    assert_eq!(fake.requests().len(), 1, "no retries by default");
    gauge(&fake, &["--retries", "2"]).success();
    let requests = fake.requests();
    assert_eq!(requests.len(), 3, "a 503, then success");
    assert!(requests.iter().all(|r| r.method == "PUT"));

    let fake = FakeGateway::start_scripted(vec![(503, vec![])]);
    gauge(&fake, &[]).env("PUSHGATEWAY_RETRIES", "1").success();
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn compression_applies_to_pushes_only() {
    let fake = FakeGateway::start();
    gauge(&fake, &["--compression", "snappy"]).success();
    for args in [
        &["delete", "-j", "j", "--compression", "snappy"][..],
        &["wipe", "--compression", "gzip"],
    ] {
        pushgw(args).env("PUSHGATEWAY_URL", fake.url()).success();
    }
    pushgw(&["delete", "-j", "j"])
        .env("PUSHGATEWAY_URL", fake.url())
        .env("PUSHGATEWAY_COMPRESSION", "gzip")
        .success();
    let requests = fake.requests();
    assert_eq!(requests.len(), 4);
    assert_eq!(requests[0].header("content-encoding"), Some("snappy"));
    for r in &requests[1..] {
        assert_eq!(
            r.header("content-encoding"),
            None,
            "{} {}",
            r.method,
            r.path
        );
    }
    assert_eq!(requests[1].method, "DELETE");
    assert_eq!(requests[3].method, "DELETE");
}

#[test]
fn verbose_from_the_environment() {
    let fake = FakeGateway::start();
    let out = gauge(&fake, &[]).env("PUSHGATEWAY_VERBOSE", "1").success();
    assert!(
        out.stderr.contains("pushgw: pushed to {job=\"j\"}"),
        "{}",
        out.stderr
    );
    let out = gauge(&fake, &[])
        .env("PUSHGATEWAY_VERBOSE", "false")
        .success();
    assert_eq!(out.stderr, "");
    let out = gauge(&fake, &[])
        .env("PUSHGATEWAY_VERBOSE", "maybe")
        .output();
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("--verbose"), "{}", out.stderr);
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn a_redirect_exits_3_naming_it() {
    let fake = FakeGateway::start_scripted(vec![(
        301,
        vec![("Location".to_owned(), "/elsewhere".to_owned())],
    )]);
    let out = gauge(&fake, &[]).fails_with(3);
    assert!(
        out.stderr.contains("301 Moved Permanently"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("\"/elsewhere\""), "{}", out.stderr);
}

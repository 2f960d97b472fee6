//! Exit statuses and messages for unreachable gateways and bad usage.

use crate::cli::pushgw;

#[test]
fn connection_refused_exits_4() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = pushgw(&[
        "gauge",
        "-j",
        "j",
        "-n",
        "x",
        "1",
        "--retries",
        "1",
        "--gateway",
        &closed.to_string(),
    ])
    .fails_with(4);
    assert!(
        out.stderr.contains("cannot connect to the pushgateway"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
}

#[test]
fn a_silent_gateway_times_out_with_4() {
    let silent = crate::util::Silent::start();
    let out = pushgw(&["delete", "-j", "j", "--timeout", "200ms"])
        .env("PUSHGATEWAY_URL", &silent.url)
        .fails_with(4);
    assert!(
        out.stderr.contains("did not answer within 200ms"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_usage_exits_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["list", "--gateway", "ftp://x"], "invalid gateway URL"),
        (&["list", "--timeout", "soon"], "--timeout"),
        (
            &["list", "--timeout", "10x"],
            "unknown unit \"x\" in \"10x\": expected seconds (30), a number with a unit",
        ),
        (&["list", "--timeout=-1s"], "0 or none for no limit"),
        (&["list", "--compression", "brotli"], "--compression"),
        (
            &["list", "--basic-auth", "user"],
            "--basic-auth needs USER:PASSWORD",
        ),
        (&["list", "-H", "no colon"], "--header needs NAME:VALUE"),
        (&["list", "-H", "bad name: x"], "invalid header"),
        (&["run", "-j", "j"], "<COMMAND>"),
        (&["frobnicate"], "unrecognized subcommand"),
    ];
    for (args, message) in cases {
        let out = pushgw(args).output();
        assert_eq!(out.code, 2, "{args:?}: {out:#?}");
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
}

#[test]
fn an_unreadable_input_file_exits_1() {
    let out = pushgw(&[
        "push",
        "-j",
        "j",
        "--gateway",
        "127.0.0.1:1",
        "/nonexistent/metrics.prom",
    ])
    .fails_with(1);
    assert!(
        out.stderr.contains("reading /nonexistent/metrics.prom"),
        "{}",
        out.stderr
    );
}

#[test]
fn help_texts_describe_every_subcommand() {
    let out = pushgw(&["--help"]).output();
    assert_eq!(out.code, 0);
    for word in [
        "push",
        "gauge",
        "gauges",
        "delete",
        "list",
        "wipe",
        "run",
        "PUSHGATEWAY_URL",
        "Exit status",
    ] {
        assert!(out.stdout.contains(word), "{word}: {}", out.stdout);
    }
    for sub in ["push", "gauge", "gauges", "delete", "list", "wipe", "run"] {
        let out = pushgw(&[sub, "--help"]).output();
        assert_eq!(out.code, 0, "{sub}");
        assert!(
            out.stdout.contains(&format!("Usage: pushgw {sub}")),
            "{sub}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("--gateway <URL>"),
            "{sub}: {}",
            out.stdout
        );
    }
}

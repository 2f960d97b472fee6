//! Basic auth and TLS options against gateways with a web config.

use crate::cli::pushgw;
use crate::util::{Gateway, Options, Tls};

const USERS: &[(&str, &str)] = &[("ops", "pa:ss word")];

both!(basic_auth_inline_and_from_a_password_file, |kind| {
    let gw = Gateway::start_with(
        kind,
        &Options {
            users: USERS,
            ..Options::default()
        },
    );
    pushgw(&[
        "gauge",
        "-j",
        "a",
        "-n",
        "x",
        "1",
        "--basic-auth",
        "ops:pa:ss word",
    ])
    .at(&gw)
    .success();
    let password = gw.dir().join("password");
    std::fs::write(&password, "pa:ss word\n").unwrap();
    pushgw(&["gauge", "-j", "b", "-n", "x", "1"])
        .at(&gw)
        .env("PUSHGATEWAY_BASIC_AUTH", "ops")
        .env("PUSHGATEWAY_PASSWORD_FILE", &password)
        .success();
    pushgw(&[
        "gauge",
        "-j",
        "c",
        "-n",
        "x",
        "1",
        "--basic-auth",
        "ops",
        "--password-file",
        password.to_str().unwrap(),
    ])
    .at(&gw)
    .success();
    gw.expect_group(&[("job", "a")]);
    gw.expect_group(&[("job", "b")]);
    gw.expect_group(&[("job", "c")]);
    let out = pushgw(&["list", "--basic-auth", "ops:wrong"])
        .at(&gw)
        .fails_with(3);
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    pushgw(&["delete", "-j", "a"]).at(&gw).fails_with(3);
    assert_eq!(gw.groups().len(), 3);
});

both!(tls_with_client_certificates, |kind| {
    let tls = Tls::generate();
    let gw = Gateway::start_with(
        kind,
        &Options {
            tls: Some(&tls),
            users: USERS,
            ..Options::default()
        },
    );
    let (ca, cert, key) = (
        tls.ca_file.to_str().unwrap(),
        tls.client_cert_file.to_str().unwrap(),
        tls.client_key_file.to_str().unwrap(),
    );
    pushgw(&[
        "push",
        "-j",
        "tls",
        "-g",
        "dir=/a/b",
        "--cacert",
        ca,
        "--cert",
        cert,
        "--key",
        key,
        "--basic-auth",
        "ops:pa:ss word",
    ])
    .at(&gw)
    .stdin("x 1\n")
    .success();
    gw.expect_group(&[("job", "tls"), ("dir", "/a/b")]);
    let out = pushgw(&["list", "--json"])
        .env("PUSHGATEWAY_URL", gw.localhost_url())
        .env("PUSHGATEWAY_CACERT", ca)
        .env("PUSHGATEWAY_CERT", cert)
        .env("PUSHGATEWAY_KEY", key)
        .env("PUSHGATEWAY_BASIC_AUTH", "ops:pa:ss word")
        .success();
    assert!(out.stdout.contains("\"dir\":\"/a/b\""), "{}", out.stdout);
    pushgw(&[
        "delete",
        "-j",
        "tls",
        "-g",
        "dir=/a/b",
        "--insecure-skip-verify",
        "--cert",
        cert,
        "--key",
        key,
        "--basic-auth",
        "ops:pa:ss word",
    ])
    .at(&gw)
    .success();
    assert!(gw.groups().is_empty());
});

both!(tls_failures_exit_4, |kind| {
    let tls = Tls::generate();
    let gw = Gateway::start_with(
        kind,
        &Options {
            tls: Some(&tls),
            ..Options::default()
        },
    );
    let ca = tls.ca_file.to_str().unwrap();
    let out = pushgw(&["gauge", "-j", "a", "-n", "x", "1", "--cacert", ca])
        .at(&gw)
        .fails_with(4);
    assert!(
        out.stderr.contains("pushing to {job=\"a\"}"),
        "{}",
        out.stderr
    );
    let out = pushgw(&["gauge", "-j", "a", "-n", "x", "1"])
        .at(&gw)
        .fails_with(4);
    assert!(out.stderr.contains("cannot connect"), "{}", out.stderr);
});

#[test]
fn unusable_tls_files_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let junk = junk.to_str().unwrap();
    let out = pushgw(&["list", "--gateway", "https://127.0.0.1:1", "--cacert", junk]).fails_with(2);
    assert!(out.stderr.contains("TLS configuration"), "{}", out.stderr);
    let out = pushgw(&["list", "--gateway", "https://127.0.0.1:1", "--cert", junk]).output();
    assert_eq!(out.code, 2, "{out:#?}");
    assert!(out.stderr.contains("--key"), "{}", out.stderr);
}

#[test]
fn a_password_in_basic_auth_and_a_password_file_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "from-file\n").unwrap();
    let password = password.to_str().unwrap();
    let flags = pushgw(&[
        "list",
        "--gateway",
        "127.0.0.1:1",
        "--basic-auth",
        "ops:inline",
        "--password-file",
        password,
    ])
    .fails_with(2);
    let env = pushgw(&["list", "--gateway", "127.0.0.1:1"])
        .env("PUSHGATEWAY_BASIC_AUTH", "ops:inline")
        .env("PUSHGATEWAY_PASSWORD_FILE", password)
        .fails_with(2);
    for out in [flags, env] {
        assert!(
            out.stderr.contains(
                "give the password in --basic-auth USER:PASSWORD or in --password-file, not both"
            ),
            "{}",
            out.stderr
        );
    }
    let out = pushgw(&[
        "list",
        "--gateway",
        "127.0.0.1:1",
        "--password-file",
        password,
    ])
    .fails_with(2);
    assert!(
        out.stderr
            .contains("--password-file needs --basic-auth USER"),
        "{}",
        out.stderr
    );
}

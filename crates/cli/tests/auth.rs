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

/// The hex SHA-256 of `token`, as the README has users compute it.
fn sha256sum(token: &str) -> String {
    let out = std::process::Command::new("sh")
        .args(["-c", "printf %s \"$1\" | sha256sum", "sh", token])
        .output()
        .expect("run sha256sum");
    let line = String::from_utf8(out.stdout).expect("sha256sum output");
    line.split_whitespace().next().expect("a digest").to_owned()
}

/// Each kind of credential pushgw sends names a principal of our
/// gateway's `--web.auth-config`, whose rights then decide.
#[test]
fn every_kind_of_credential_meets_an_authorization_policy() {
    let tls = Tls::generate();
    let policy = format!(
        "principals:
  - name: ops
    basic_auth_user: ops
    roles: [read, push, admin]
  - name: ci
    bearer_token_sha256: {}
    roles: [push]
    jobs: ['{{job=~\"ci-.*\"}}']
  - name: batch
    client_cert_subject: CN=batch-job
    roles: [push]
    jobs: ['{{job=\"nightly\"}}']
",
        sha256sum("ci token")
    );
    let gw = Gateway::start_with(
        crate::util::Kind::Ours,
        &Options {
            tls: Some(&tls),
            users: USERS,
            auth_config: Some(&policy),
            ..Options::default()
        },
    );
    // Every run presents the client certificate (the gateway requires
    // one); a bearer token or basic auth, when given, names the principal.
    let run = |args: &[&str]| {
        pushgw(args)
            .env("PUSHGATEWAY_URL", gw.localhost_url())
            .env("PUSHGATEWAY_CACERT", &tls.ca_file)
            .env("PUSHGATEWAY_CERT", &tls.client_cert_file)
            .env("PUSHGATEWAY_KEY", &tls.client_key_file)
    };
    let token = ["--bearer-token", "ci token"];

    run(&[&["gauge", "-j", "ci-build", "-n", "x", "1"], &token[..]].concat()).success();
    let out =
        run(&[&["gauge", "-j", "billing", "-n", "x", "1"], &token[..]].concat()).fails_with(3);
    assert!(out.stderr.contains("403"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("principal \"ci\" may not push to {job=\"billing\"}"),
        "{}",
        out.stderr
    );
    let out = run(&[&["list"], &token[..]].concat()).fails_with(3);
    assert!(
        out.stderr.contains("principal \"ci\" may not read"),
        "{}",
        out.stderr
    );
    let out = run(&[
        "gauge",
        "-j",
        "ci-build",
        "-n",
        "x",
        "1",
        "--bearer-token",
        "guess",
    ])
    .fails_with(3);
    assert!(out.stderr.contains("401"), "{}", out.stderr);

    // The certificate alone: CN=batch-job is the principal "batch".
    run(&["gauge", "-j", "nightly", "-n", "x", "2"]).success();
    let out = run(&["delete", "-j", "ci-build"]).fails_with(3);
    assert!(
        out.stderr
            .contains("principal \"batch\" may not push to {job=\"ci-build\"}"),
        "{}",
        out.stderr
    );

    // Basic auth: ops may read every group and delete any.
    let ops = ["--basic-auth", "ops:pa:ss word"];
    let out = run(&[&["list", "--json"], &ops[..]].concat()).success();
    assert!(out.stdout.contains("ci-build") && out.stdout.contains("nightly"));
    assert!(!out.stdout.contains("billing"), "{}", out.stdout);
    run(&[&["delete", "-j", "ci-build"], &ops[..]].concat()).success();
    gw.expect_group(&[("job", "nightly")]);
    assert_eq!(gw.groups().len(), 1);
}

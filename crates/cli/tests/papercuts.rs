//! What a new user trips over: errors that name the URL and say what to
//! do, `--gateway` given a group's URL, `--help` given a HELP text, `-v`
//! showing what is sent, and `wipe` asking first on a terminal.

use std::process::{Command, Stdio};

use crate::cli::pushgw;
use crate::util::{Gateway, Kind, Options};

#[test]
fn a_refused_connection_names_the_url_and_the_fix() {
    let out = pushgw(&["gauge", "-j", "j", "-n", "x", "1"])
        .env("PUSHGATEWAY_URL", "http://127.0.0.1:9")
        .fails_with(4);
    assert!(
        out.stderr.contains(
            "is a Pushgateway listening at http://127.0.0.1:9? Set --gateway or PUSHGATEWAY_URL"
        ),
        "{}",
        out.stderr
    );
}

#[test]
fn https_against_plain_http_says_to_use_http() {
    let gw = Gateway::start(Kind::Ours);
    let https = gw.url().replace("http://", "https://");
    let out = pushgw(&["gauge", "-j", "j", "-n", "x", "1"])
        .env("PUSHGATEWAY_URL", &https)
        .fails_with(4);
    assert!(
        out.stderr.contains(&format!(
            "the gateway at {https} does not speak TLS; try http:// instead of https://"
        )),
        "{}",
        out.stderr
    );
}

#[test]
fn a_group_url_as_gateway_is_refused_with_the_fix() {
    let gw = Gateway::start(Kind::Ours);
    let out = pushgw(&["gauge", "-j", "j", "-n", "x", "1"])
        .env(
            "PUSHGATEWAY_URL",
            format!("{}/metrics/job/nightly/host/db1", gw.url()),
        )
        .fails_with(2);
    assert!(
        out.stderr.contains(&format!(
            "use --gateway {} and give the group as --job nightly -g host=db1",
            gw.url()
        )),
        "{}",
        out.stderr
    );
    assert!(gw.groups().is_empty());
}

#[test]
fn help_followed_by_a_value_is_an_error_naming_help_text() {
    let gw = Gateway::start(Kind::Ours);
    let out = pushgw(&["gauge", "-j", "j", "-n", "x", "1", "--help", "Rows copied."])
        .at(&gw)
        .fails_with(2);
    assert!(
        out.stderr
            .contains("the metric's HELP text is --help-text \"Rows copied.\""),
        "{}",
        out.stderr
    );
    assert!(gw.groups().is_empty(), "nothing pushed");
    // Plain --help still shows the help.
    let out = pushgw(&["gauge", "--help"]).success();
    assert!(out.stdout.contains("--help-text"), "{}", out.stdout);
}

#[test]
fn verbose_shows_what_is_sent() {
    let gw = Gateway::start(Kind::Ours);
    let out = pushgw(&[
        "-v",
        "gauge",
        "-j",
        "j",
        "-n",
        "rows",
        "--help-text",
        "Rows.",
        "-l",
        "t=u",
        "7",
    ])
    .at(&gw)
    .success();
    assert!(
        out.stderr
            .contains(&format!("pushgw: PUT {} {{job=\"j\"}}", gw.url())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("# HELP rows Rows.\n# TYPE rows gauge\nrows{t=\"u\"} 7\n"),
        "{}",
        out.stderr
    );
}

/// Runs `pushgw ARGS` on a terminal (util-linux `script` gives it one),
/// typing `answer`.
fn on_a_terminal(gw: &Gateway, args: &str, answer: &str) -> std::process::Output {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_pushgw"));
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("PUSHGATEWAY_URL", gw.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    use std::io::Write as _;
    // Give it time to ask before answering, as a person would.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(answer.as_bytes()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

#[test]
fn wipe_asks_on_a_terminal_unless_yes() {
    let gw = Gateway::start_with(
        Kind::Ours,
        &Options {
            admin_api: true,
            ..Options::default()
        },
    );
    pushgw(&["gauge", "-j", "keep", "-n", "x", "1"])
        .at(&gw)
        .success();
    let out = on_a_terminal(&gw, "wipe", "n\n");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("Delete every group on"), "{said}");
    assert!(!out.status.success(), "{said}");
    assert_eq!(gw.groups().len(), 1, "answered no: nothing wiped");
    let out = on_a_terminal(&gw, "wipe", "y\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(gw.groups().is_empty());
    pushgw(&["gauge", "-j", "again", "-n", "x", "1"])
        .at(&gw)
        .success();
    let out = on_a_terminal(&gw, "wipe --yes", "");
    assert!(out.status.success());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Delete every group"));
    assert!(gw.groups().is_empty());
}

#[test]
fn delete_by_selector_asks_on_a_terminal_unless_yes_or_dry_run() {
    let gw = Gateway::start_with(
        Kind::Ours,
        &Options {
            admin_api: true,
            ..Options::default()
        },
    );
    pushgw(&["gauge", "-j", "keep", "-n", "x", "1"])
        .at(&gw)
        .success();
    let delete = r#"delete --match '{job="keep"}'"#;
    let out = on_a_terminal(&gw, delete, "n\n");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("Delete every group {job=\"keep\"} selects on"),
        "{said}"
    );
    assert!(!out.status.success(), "{said}");
    assert_eq!(gw.groups().len(), 1, "answered no: nothing deleted");
    let out = on_a_terminal(&gw, &format!("{delete} --dry-run"), "");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && !said.contains("Delete every group"),
        "{said}"
    );
    assert!(said.contains("would delete {job=\"keep\"}"), "{said}");
    let out = on_a_terminal(&gw, &format!("{delete} --yes"), "");
    assert!(out.status.success());
    assert!(gw.groups().is_empty());
}

#[test]
fn generate_writes_a_man_page_and_completions() {
    let man = pushgw(&["generate", "man"]).success().stdout;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pushgw.1");
    std::fs::write(&file, &man).unwrap();
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .arg(&file)
        .output()
        .expect("groff runs");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
    let page = String::from_utf8_lossy(&out.stdout).replace('\u{8}', "");
    for word in ["gauges", "PUSHGATEWAY_URL"] {
        assert!(man.contains(word), "{word} missing from the man page");
    }
    assert!(!page.is_empty());
    // bash completion: valid, and it completes subcommands.
    let script = pushgw(&["generate", "bash"]).success().stdout;
    let program = "source /dev/stdin; COMP_WORDS=(pushgw li); COMP_CWORD=1; \
                   _pushgw pushgw li pushgw; echo \"${COMPREPLY[@]}\"";
    let mut child = Command::new("bash")
        .args(["-c", program])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "list");
    for shell in ["zsh", "fish"] {
        assert!(pushgw(&["generate", shell])
            .success()
            .stdout
            .contains("pushgw"));
    }
}

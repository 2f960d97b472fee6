//! What an operator swapping in this binary for Debian's Go one relies on:
//! `--version` in Go's layout, kingpin's `--help-man` and completion
//! scripts, Debian's `--web.local-assets`, and SIGHUP (what Debian's unit
//! sends on `systemctl reload`) reloading the web config instead of ending
//! the process.

use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use crate::gateway::Gateway;
use crate::wire::get;

const BINARY: &str = env!("CARGO_BIN_EXE_pushgateway");

fn run(args: &[&str]) -> String {
    let out = Command::new(BINARY).args(args).output().unwrap();
    assert!(out.status.success(), "{args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn version_has_go_s_layout_and_matches_build_info() {
    let text = run(&["--version"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 6, "{text}");
    let first = lines[0];
    assert!(first.starts_with("pushgateway, version 0."), "{first}");
    let revision = first
        .split("revision: ")
        .nth(1)
        .and_then(|r| r.strip_suffix(')'))
        .unwrap();
    let branch = first
        .split("branch: ")
        .nth(1)
        .and_then(|b| b.split(',').next())
        .unwrap();
    for (line, key) in lines[1..].iter().zip([
        "build user:",
        "build date:",
        "go version:",
        "platform:",
        "tags:",
    ]) {
        assert!(line.starts_with(&format!("  {key}")), "{text}");
    }
    assert!(lines[3].contains("rustc "), "{text}");
    assert!(
        lines[4].ends_with("linux/amd64") || lines[4].contains('/'),
        "{text}"
    );
    let version = first
        .strip_prefix("pushgateway, version ")
        .and_then(|v| v.split(' ').next())
        .unwrap();
    let value = |line: &str| line.split_once(':').unwrap().1.trim().to_string();
    let goversion = value(lines[3]);
    let platform = value(lines[4]);
    let (goos, goarch) = platform.split_once('/').unwrap();
    // The same facts on /metrics, every label of pushgateway_build_info.
    let gw = Gateway::start(&["--persistence.file="]);
    let metrics = get(gw.port, "/metrics");
    let info = metrics
        .lines()
        .find(|l| l.starts_with("pushgateway_build_info{"))
        .unwrap();
    let expected = format!(
        "pushgateway_build_info{{branch=\"{branch}\",goarch=\"{goarch}\",goos=\"{goos}\",\
         goversion=\"{goversion}\",revision=\"{revision}\",tags=\"\",version=\"{version}\"}} 1"
    );
    assert_eq!(info, expected);
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
}

#[test]
fn help_long_is_help_as_in_kingpin() {
    // kingpin's --help-long differs from --help only for subcommands,
    // which the gateway has none of.
    let long = run(&["--help-long"]);
    assert_eq!(long, run(&["--help"]));
    for flag in ["--web.listen-address", "--persistence.file", "--help-man"] {
        assert!(long.contains(flag), "{flag} missing from --help-long");
    }
}

#[test]
fn help_man_is_a_man_page_naming_every_flag() {
    let page = run(&["--help-man"]);
    assert!(page.starts_with(".TH PUSHGATEWAY 1 "), "{page}");
    let help = run(&["--help"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pushgateway.1");
    std::fs::write(&file, &page).unwrap();
    // groff reads it without a warning, and the rendered page names every
    // flag --help names.
    let out = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww"])
        .arg(&file)
        .output()
        .expect("groff runs (Debian's groff-base)");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "groff warnings");
    let rendered = String::from_utf8_lossy(&out.stdout);
    // Rendering overstrikes bold text; strip that to read it.
    let plain: String = {
        let mut s = String::new();
        for c in rendered.chars() {
            if c == '\u{8}' {
                s.pop();
            } else {
                s.push(c);
            }
        }
        s
    };
    for flag in help
        .split_whitespace()
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.split('=').next().unwrap())
    {
        assert!(plain.contains(flag), "{flag} missing from the man page");
    }
}

/// Runs `shell` with `args`, the completion `script` on its standard
/// input; answers what it printed.
fn shell(shell: &str, args: &[&str], script: &str) -> String {
    let mut child = Command::new(shell)
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{shell} (Debian's {shell} package) runs: {e}"));
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{shell}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_completion_completes_flags_and_choices() {
    let script = run(&["--completion-script-bash"]);
    assert!(script.contains("complete -F _pushgateway_bash_autocomplete"));
    let complete = |words: &str, cword: usize| {
        let program = format!(
            "source /dev/stdin; COMP_WORDS=({BINARY} {words}); COMP_CWORD={cword}; \
             _pushgateway_bash_autocomplete; echo \"${{COMPREPLY[@]}}\""
        );
        shell("bash", &["-c", &program], &script).trim().to_string()
    };
    assert_eq!(complete("--log.level ''", 2), "debug info warn error");
    assert_eq!(
        complete("--persistence.i", 1),
        "--persistence.interval --persistence.ignore-corrupt"
    );
}

#[test]
fn zsh_completion_completes_flags_and_choices() {
    let script = run(&["--completion-script-zsh"]);
    assert!(script.starts_with("#compdef pushgateway\n"), "{script}");
    // The script's function run by zsh, with the completion system's
    // builtins standing in as functions that print what they are given.
    let complete = |words: &str, current: usize| {
        let program = format!(
            "compadd() {{ [[ $1 == -a ]] && print -l -- ${{(P)2}}; }}; compdef() {{ :; }}; \
             _files() {{ print FILES; }}; typeset -A compstate; compstate[nmatches]=1; \
             source /dev/stdin; words=({BINARY} {words}); CURRENT={current}; _pushgateway"
        );
        shell("zsh", &["-f", "-c", &program], &script)
    };
    assert_eq!(complete("--log.level ''", 3), "debug\ninfo\nwarn\nerror\n");
    let flags = complete("--persistence.i", 2);
    assert!(
        flags.lines().any(|l| l == "--persistence.interval"),
        "{flags}"
    );
    assert!(
        flags.lines().any(|l| l == "--web.listen-address"),
        "{flags}"
    );
}

#[test]
fn web_local_assets_is_accepted_and_said_to_be_unused() {
    let (gw, log) = Gateway::start_logged(
        &[],
        &[
            "--persistence.file=",
            "--web.local-assets=/usr/share/prometheus/pushgateway/",
        ],
    );
    assert!(get(gw.port, "/").contains("Pushgateway"));
    let lines = log.lock().unwrap().join("\n");
    assert!(lines.contains("--web.local-assets is not used"), "{lines}");
}

fn hangup(gw: &Gateway) {
    let sent = Command::new("kill")
        .args(["-HUP", &gw.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

fn push_as(port: u16, user: &str, password: &str) -> u16 {
    use base64::Engine as _;
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let mut conn = crate::wire::Conn::open(port).unwrap();
    conn.exchange_with(
        "PUT",
        "/metrics/job/reload",
        &[("Authorization", &format!("Basic {token}"))],
        b"reloaded 1\n",
    )
    .unwrap()
    .status
}

#[test]
fn sighup_reloads_the_web_config_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("web.yml");
    let write = |password: &str| {
        let hash = bcrypt::hash(password, 4).unwrap();
        std::fs::write(&config, format!("basic_auth_users:\n  alice: {hash}\n")).unwrap();
    };
    let pinned = SystemTime::now() - Duration::from_secs(3600);
    let pin = || {
        std::fs::File::options()
            .write(true)
            .open(&config)
            .unwrap()
            .set_modified(pinned)
            .unwrap()
    };
    write("first");
    pin();
    let flag = format!("--web.config.file={}", config.display());
    let (mut gw, log) = Gateway::start_logged(&[], &[&flag, "--persistence.file="]);
    assert_eq!(push_as(gw.port, "alice", "first"), 200);
    // An edit that keeps the size and the modification time: only the
    // signal can tell the gateway to read the file again.
    write("later");
    pin();
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(push_as(gw.port, "alice", "later"), 401, "not re-read yet");
    hangup(&gw);
    let deadline = Instant::now() + Duration::from_secs(10);
    while push_as(gw.port, "alice", "later") != 200 {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload: {:?}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(push_as(gw.port, "alice", "first"), 401);
    assert!(gw.child.try_wait().unwrap().is_none(), "still running");
    assert!(log
        .lock()
        .unwrap()
        .iter()
        .any(|l| l.contains("web config reloaded")));
}

#[test]
fn sighup_without_a_web_config_does_not_end_the_process() {
    let (mut gw, _log) = Gateway::start_logged(&[], &["--persistence.file="]);
    hangup(&gw);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        gw.child.try_wait().unwrap().is_none(),
        "SIGHUP ended the gateway"
    );
    assert!(get(gw.port, "/-/healthy").contains("OK"));
}

#[test]
fn the_license_file_is_the_apache_2_0_every_manifest_declares() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let license = std::fs::read_to_string(root.join("LICENSE")).unwrap();
    let words: Vec<&str> = license.split_whitespace().collect();
    assert_eq!(&words[..4], ["Apache", "License", "Version", "2.0,"]);
    for part in [
        "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
        "END OF TERMS AND CONDITIONS",
    ] {
        assert!(license.contains(part), "LICENSE lacks {part:?}");
    }
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(workspace.contains("\nlicense = \"Apache-2.0\"\n"));
    for entry in std::fs::read_dir(root.join("crates")).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(
            text.contains("\nlicense.workspace = true\n"),
            "{} does not take the workspace's license",
            manifest.display()
        );
        // No placeholder address: a real repository URL or none.
        assert!(
            !text.contains("\nrepository") && !workspace.contains("\nrepository"),
            "{}",
            manifest.display()
        );
    }
}

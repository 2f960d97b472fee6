//! Records what `--version`, `pushgateway_build_info` and `/api/v1/status`
//! report: the compiler version, git revision and branch, build user and
//! date. Packagers may set each through the environment
//! (`PUSHGATEWAY_REVISION`, `PUSHGATEWAY_BRANCH`, `PUSHGATEWAY_BUILD_USER`,
//! `PUSHGATEWAY_BUILD_DATE`) for reproducible builds.

use std::path::Path;
use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The packager's value when set, else what `detect` finds.
fn setting(name: &str, detect: impl FnOnce() -> Option<String>) -> String {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .or_else(detect)
        .unwrap_or_default()
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_else(|| "rustc".into());
    let version = version
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let revision = setting("PUSHGATEWAY_REVISION", || {
        output("git", &["rev-parse", "--short=12", "HEAD"])
    });
    let branch = setting("PUSHGATEWAY_BRANCH", || {
        output("git", &["rev-parse", "--abbrev-ref", "HEAD"])
    });
    let user = setting("PUSHGATEWAY_BUILD_USER", || {
        let user = std::env::var("USER")
            .ok()
            .or_else(|| output("id", &["-un"]))?;
        let host = output("hostname", &[]).unwrap_or_else(|| "localhost".into());
        Some(format!("{user}@{host}"))
    });
    let date = setting("PUSHGATEWAY_BUILD_DATE", || {
        output("date", &["-u", "+%Y%m%d-%H:%M:%S"])
    });
    println!("cargo:rustc-env=PUSHGATEWAY_RUSTC_VERSION={version}");
    println!("cargo:rustc-env=PUSHGATEWAY_REVISION={revision}");
    println!("cargo:rustc-env=PUSHGATEWAY_BRANCH={branch}");
    println!("cargo:rustc-env=PUSHGATEWAY_BUILD_USER={user}");
    println!("cargo:rustc-env=PUSHGATEWAY_BUILD_DATE={date}");
    println!("cargo:rerun-if-changed=build.rs");
    // A new commit or checkout changes the revision.
    let git = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.git");
    for file in ["HEAD", "logs/HEAD"] {
        if git.join(file).exists() {
            println!("cargo:rerun-if-changed={}", git.join(file).display());
        }
    }
}

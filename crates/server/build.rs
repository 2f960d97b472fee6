//! Records the compiler version, git revision and build date for
//! `pushgateway_build_info` and `/api/v1/status`.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_else(|| "rustc".into());
    let version = version
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ");
    let revision = output("git", &["rev-parse", "--short=12", "HEAD"]).unwrap_or_default();
    let date = output("date", &["-u", "+%Y%m%d-%H:%M:%S"]).unwrap_or_default();
    println!("cargo:rustc-env=PUSHGATEWAY_RUSTC_VERSION={version}");
    println!("cargo:rustc-env=PUSHGATEWAY_REVISION={revision}");
    println!("cargo:rustc-env=PUSHGATEWAY_BUILD_DATE={date}");
    println!("cargo:rerun-if-changed=build.rs");
}

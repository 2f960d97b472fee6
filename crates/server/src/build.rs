//! Facts recorded at build time (see the crate's `build.rs`), and the
//! `--version` text in the Go gateway's layout.

/// The compiler that built the binary (`rustc 1.95.0`).
pub(crate) const RUSTC_VERSION: &str = env!("PUSHGATEWAY_RUSTC_VERSION");
/// The git revision, when built from a checkout.
pub(crate) const REVISION: &str = env!("PUSHGATEWAY_REVISION");
/// The git branch, when built from a checkout.
pub(crate) const BRANCH: &str = env!("PUSHGATEWAY_BRANCH");
/// Who built the binary (`user@host`).
pub(crate) const BUILD_USER: &str = env!("PUSHGATEWAY_BUILD_USER");
/// When the binary was built (`20261122-12:00:00`).
pub(crate) const BUILD_DATE: &str = env!("PUSHGATEWAY_BUILD_DATE");
/// The release.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The architecture as Go names it.
pub(crate) fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// The platform as Go names it (`linux/amd64`).
pub(crate) fn platform() -> String {
    format!("{}/{}", std::env::consts::OS, go_arch())
}

/// What `--version` prints, laid out as the Go gateway lays it out
/// (prometheus/common's `version.Print`); `go version` names the Rust
/// compiler.
pub fn version_text(program: &str) -> String {
    format!(
        "{program}, version {VERSION} (branch: {branch}, revision: {revision})\n  \
         build user:       {BUILD_USER}\n  \
         build date:       {BUILD_DATE}\n  \
         go version:       {RUSTC_VERSION}\n  \
         platform:         {platform}\n  \
         tags:             unknown\n",
        branch = or_unknown(BRANCH),
        revision = or_unknown(REVISION),
        platform = platform(),
    )
}

/// `(version=…, branch=…, revision=…)`, as Go logs it at start-up.
pub fn version_info() -> String {
    format!(
        "(version={VERSION}, branch={}, revision={})",
        or_unknown(BRANCH),
        or_unknown(REVISION)
    )
}

/// `(go=…, platform=…, user=…, date=…, tags=…)`, as Go logs it at start-up.
pub fn build_context() -> String {
    format!(
        "(go={RUSTC_VERSION}, platform={}, user={BUILD_USER}, date={BUILD_DATE}, tags=unknown)",
        platform()
    )
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "unknown"
    } else {
        s
    }
}

/// The build details `/api/v1/status` and the status page show, with the
/// Go gateway's keys.
pub(crate) fn build_information() -> Vec<(&'static str, String)> {
    vec![
        ("branch", BRANCH.to_string()),
        ("buildDate", BUILD_DATE.to_string()),
        ("buildUser", BUILD_USER.to_string()),
        ("goVersion", RUSTC_VERSION.to_string()),
        ("revision", REVISION.to_string()),
        ("version", VERSION.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_text_has_go_layout() {
        let text = version_text("pushgateway");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 6, "{text}");
        assert!(lines[0].starts_with(&format!("pushgateway, version {VERSION} (branch: ")));
        assert!(lines[0].contains(", revision: "));
        for (line, key) in lines[1..].iter().zip([
            "build user:",
            "build date:",
            "go version:",
            "platform:",
            "tags:",
        ]) {
            assert!(line.starts_with(&format!("  {key}")), "{line}");
            // Values start in one column, as Go aligns them.
            assert!(
                line[..20].ends_with(' ') && !line[20..].starts_with(' '),
                "{line}"
            );
        }
        assert!(lines[3].ends_with(RUSTC_VERSION));
        assert!(lines[4].ends_with(&platform()));
    }
}

//! Facts recorded at build time (see the crate's `build.rs`).

/// The compiler that built the binary (`rustc 1.95.0`).
pub(crate) const RUSTC_VERSION: &str = env!("PUSHGATEWAY_RUSTC_VERSION");
/// The git revision, when built from a checkout.
pub(crate) const REVISION: &str = env!("PUSHGATEWAY_REVISION");
/// When the binary was built (`20261122-12:00:00`).
pub(crate) const BUILD_DATE: &str = env!("PUSHGATEWAY_BUILD_DATE");

/// The build details `/api/v1/status` and the status page show, with the
/// Go gateway's keys.
pub(crate) fn build_information() -> Vec<(&'static str, String)> {
    vec![
        (
            "branch",
            option_env!("PUSHGATEWAY_BRANCH").unwrap_or("").to_string(),
        ),
        ("buildDate", BUILD_DATE.to_string()),
        (
            "buildUser",
            option_env!("PUSHGATEWAY_BUILD_USER")
                .unwrap_or("")
                .to_string(),
        ),
        ("goVersion", RUSTC_VERSION.to_string()),
        ("revision", REVISION.to_string()),
        ("version", env!("CARGO_PKG_VERSION").to_string()),
    ]
}

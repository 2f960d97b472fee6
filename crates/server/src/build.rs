//! Facts recorded at build time (see the crate's `build.rs`).

/// The compiler that built the binary (`rustc 1.95.0`).
pub(crate) const RUSTC_VERSION: &str = env!("PUSHGATEWAY_RUSTC_VERSION");
/// The git revision, when built from a checkout.
pub(crate) const REVISION: &str = env!("PUSHGATEWAY_REVISION");
/// When the binary was built (`20261122-12:00:00`).
pub(crate) const BUILD_DATE: &str = env!("PUSHGATEWAY_BUILD_DATE");

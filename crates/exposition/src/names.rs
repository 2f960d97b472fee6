//! Metric and label names: the legacy character rules and the
//! [`NameValidation`] choice between them and UTF-8 names. The parsers and
//! encoders use these; what a valid name is lives here only.

/// Which metric and label names a push may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// The legacy rules: metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label
    /// names `[a-zA-Z_][a-zA-Z0-9_]*` (the Go Pushgateway's default).
    #[default]
    Legacy,
    /// Any non-empty UTF-8 name (`--push.enable-utf8-names`).
    Utf8,
}

impl NameValidation {
    /// Whether `name` is a valid metric name under these rules.
    pub fn is_valid_metric_name(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_valid_legacy_metric_name(name),
            NameValidation::Utf8 => !name.is_empty(),
        }
    }

    /// Whether `name` is a valid label name under these rules (the
    /// reserved `__` prefix is a separate matter for the caller).
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidation::Legacy => is_valid_legacy_label_name(name),
            NameValidation::Utf8 => !name.is_empty(),
        }
    }
}

/// Whether `name` is a metric name under the legacy rule
/// `^[a-zA-Z_:][a-zA-Z0-9_:]*$`.
pub fn is_valid_legacy_metric_name(name: &str) -> bool {
    is_legacy_metric_name(name)
}

/// Whether `name` is a label name under the legacy rule
/// `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub fn is_valid_legacy_label_name(name: &str) -> bool {
    is_legacy_label_name(name)
}

pub(crate) fn is_label_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

pub(crate) fn is_label_name_continuation(b: u8) -> bool {
    is_label_name_start(b) || b.is_ascii_digit()
}

pub(crate) fn is_metric_name_start(b: u8) -> bool {
    is_label_name_start(b) || b == b':'
}

pub(crate) fn is_metric_name_continuation(b: u8) -> bool {
    is_label_name_continuation(b) || b == b':'
}

/// Whether `name` matches `^[a-zA-Z_:][a-zA-Z0-9_:]*$`.
pub(crate) fn is_legacy_metric_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && is_metric_name_start(b[0])
        && b[1..].iter().all(|&c| is_metric_name_continuation(c))
}

/// Whether `name` matches `^[a-zA-Z_][a-zA-Z0-9_]*$`.
pub(crate) fn is_legacy_label_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && is_label_name_start(b[0])
        && b[1..].iter().all(|&c| is_label_name_continuation(c))
}

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

/// Character classes of name bytes, one table lookup per byte.
const LABEL_START: u8 = 1;
const LABEL_CONTINUE: u8 = 2;
const METRIC_START: u8 = 4;
const METRIC_CONTINUE: u8 = 8;

static CLASSES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let alpha = c.is_ascii_alphabetic() || c == b'_';
        let digit = c.is_ascii_digit();
        let mut class = 0;
        if alpha {
            class |= LABEL_START | LABEL_CONTINUE | METRIC_START | METRIC_CONTINUE;
        }
        if digit {
            class |= LABEL_CONTINUE | METRIC_CONTINUE;
        }
        if c == b':' {
            class |= METRIC_START | METRIC_CONTINUE;
        }
        table[b] = class;
        b += 1;
    }
    table
};

#[inline]
pub(crate) fn is_label_name_start(b: u8) -> bool {
    CLASSES[usize::from(b)] & LABEL_START != 0
}

#[inline]
pub(crate) fn is_label_name_continuation(b: u8) -> bool {
    CLASSES[usize::from(b)] & LABEL_CONTINUE != 0
}

#[inline]
pub(crate) fn is_metric_name_start(b: u8) -> bool {
    CLASSES[usize::from(b)] & METRIC_START != 0
}

#[inline]
pub(crate) fn is_metric_name_continuation(b: u8) -> bool {
    CLASSES[usize::from(b)] & METRIC_CONTINUE != 0
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_holds_the_legacy_rules() {
        for b in 0..=255u8 {
            let alpha = b.is_ascii_alphabetic() || b == b'_';
            assert_eq!(is_label_name_start(b), alpha, "{b}");
            assert_eq!(
                is_label_name_continuation(b),
                alpha || b.is_ascii_digit(),
                "{b}"
            );
            assert_eq!(is_metric_name_start(b), alpha || b == b':', "{b}");
            assert_eq!(
                is_metric_name_continuation(b),
                alpha || b.is_ascii_digit() || b == b':',
                "{b}"
            );
        }
        assert!(is_legacy_metric_name("a:b_1") && !is_legacy_metric_name("1a"));
        assert!(is_legacy_label_name("_a1") && !is_legacy_label_name("a:b"));
    }
}

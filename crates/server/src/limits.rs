//! Request limits: what one push may carry, checked in one place, each
//! refusal a clear 413 or 400 naming its flag. (The number of groups is the
//! store's to enforce, under its write lock; the body sizes are enforced
//! while the body is read and inflated.)

use store::GroupingKey;

/// Limits on what one request may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of request body as sent (compressed or not).
    pub max_body_size: u64,
    /// Bytes of a push body after decompression.
    pub max_decompressed_size: u64,
    /// Series in one push.
    pub max_series: u64,
    /// Labels of one series (grouping labels included).
    pub max_labels: u64,
    /// Bytes of one label value.
    pub max_label_value_length: u64,
    /// Groups in the store.
    pub max_groups: u64,
    /// Bytes that requests in flight may hold at once, all together.
    pub max_inflight_size: u64,
}

impl Limits {
    /// The defaults, which accept every sane push (the flag table shows
    /// and applies these).
    pub const DEFAULT: Limits = Limits {
        max_body_size: 128 << 20,
        max_decompressed_size: 256 << 20,
        max_series: 5_000_000,
        max_labels: 256,
        max_label_value_length: 64 << 10,
        max_groups: 1_000_000,
        max_inflight_size: 4 << 30,
    };

    /// Checks the shape of a parsed push (and its grouping key) against the
    /// per-push limits.
    pub(crate) fn check(&self, shape: Shape, key: &GroupingKey) -> Result<(), LimitError> {
        if shape.series > self.max_series {
            return Err(LimitError::Series {
                found: shape.series,
                limit: self.max_series,
            });
        }
        if shape.labels > self.max_labels {
            return Err(LimitError::Labels {
                found: shape.labels,
                limit: self.max_labels,
            });
        }
        let key_value = key.labels().map(|(_, v)| v.len() as u64).max().unwrap_or(0);
        let longest = shape.longest_value.max(key_value);
        if longest > self.max_label_value_length {
            return Err(LimitError::LabelValueLength {
                found: longest,
                limit: self.max_label_value_length,
            });
        }
        Ok(())
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits::DEFAULT
    }
}

/// What the limits look at in a parsed push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Shape {
    /// Series in the push.
    pub(crate) series: u64,
    /// The most labels a series will have once grouping labels are added.
    pub(crate) labels: u64,
    /// The longest label value in the body.
    pub(crate) longest_value: u64,
}

/// A push over one of the per-push limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LimitError {
    /// `--push.max-series`.
    #[error("push has {found} series, more than the limit of {limit} (--push.max-series)")]
    Series { found: u64, limit: u64 },
    /// `--push.max-series`, found while parsing (which stops there).
    #[error("push has more than {limit} series, the limit (--push.max-series)")]
    MoreSeries { limit: u64 },
    /// `--push.max-labels`.
    #[error("a series has {found} labels, more than the limit of {limit} (--push.max-labels)")]
    Labels { found: u64, limit: u64 },
    /// `--push.max-label-value-length`.
    #[error("a label value is {found} bytes long, more than the limit of {limit} (--push.max-label-value-length)")]
    LabelValueLength { found: u64, limit: u64 },
}

impl LimitError {
    /// The flag that sets the limit (the `limit` label of the refusal metric).
    pub(crate) fn flag(&self) -> &'static str {
        match self {
            LimitError::Series { .. } | LimitError::MoreSeries { .. } => "push.max-series",
            LimitError::Labels { .. } => "push.max-labels",
            LimitError::LabelValueLength { .. } => "push.max-label-value-length",
        }
    }

    /// Too many series is a 413 (the push is too large); the others are
    /// malformed pushes (400).
    pub(crate) fn too_large(&self) -> bool {
        matches!(
            self,
            LimitError::Series { .. } | LimitError::MoreSeries { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_limit_refuses_one_over_and_names_its_flag() {
        let limits = Limits {
            max_series: 2,
            max_labels: 3,
            max_label_value_length: 4,
            ..Limits::DEFAULT
        };
        let key = GroupingKey::new([("job", "j")]);
        let fits = Shape {
            series: 2,
            labels: 3,
            longest_value: 4,
        };
        assert_eq!(limits.check(fits, &key), Ok(()));
        let series = limits.check(Shape { series: 3, ..fits }, &key).unwrap_err();
        assert_eq!(series.flag(), "push.max-series");
        assert!(series.too_large());
        assert_eq!(
            series.to_string(),
            "push has 3 series, more than the limit of 2 (--push.max-series)"
        );
        let labels = limits.check(Shape { labels: 4, ..fits }, &key).unwrap_err();
        assert_eq!(labels.flag(), "push.max-labels");
        assert!(!labels.too_large());
        let long_key = GroupingKey::new([("job", "j"), ("path", "/var/x")]);
        let value = limits.check(fits, &long_key).unwrap_err();
        assert_eq!(value.flag(), "push.max-label-value-length");
        assert!(value.to_string().contains("6 bytes long"));
    }
}

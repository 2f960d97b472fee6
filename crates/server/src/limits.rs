//! Request limits: each refusal is a clear 413 or 400 naming the limit.

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
}

impl Default for Limits {
    fn default() -> Limits {
        crate::flags::Config::default().limits
    }
}

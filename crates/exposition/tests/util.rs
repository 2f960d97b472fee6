//! Comparison helpers shared by the integration tests.

use exposition::{MetricFamily, Value};

/// Structural equality in which NaN equals NaN: compares the `Debug`
/// renderings, which spell every float exactly (and NaN as `NaN`).
pub(crate) fn same_families(a: &[MetricFamily], b: &[MetricFamily]) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// Turns `-0.0` into `0.0` in the values the text format carries, because
/// client_golang writes negative zero as `0`.
pub(crate) fn without_negative_zero(families: &[MetricFamily]) -> Vec<MetricFamily> {
    let fix = |v: &mut f64| {
        if *v == 0.0 {
            *v = 0.0;
        }
    };
    let mut out = families.to_vec();
    for f in &mut out {
        for m in &mut f.metrics {
            match &mut m.value {
                Value::Counter(c) => fix(&mut c.value),
                Value::Gauge(v) | Value::Untyped(v) => fix(v),
                Value::Summary(s) => {
                    fix(&mut s.sample_sum);
                    for q in &mut s.quantiles {
                        fix(&mut q.quantile);
                        fix(&mut q.value);
                    }
                }
                Value::Histogram(h) => {
                    if let Some(sum) = &mut h.sample_sum {
                        fix(sum);
                    }
                    for b in &mut h.buckets {
                        fix(&mut b.upper_bound);
                    }
                }
                Value::Missing => {}
            }
        }
    }
    out
}

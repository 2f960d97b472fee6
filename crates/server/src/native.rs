//! Native (sparse) histograms in the JSON API: buckets as
//! `[boundaries, "lower", "upper", "count"]`, negative buckets first (most
//! negative first), then the zero bucket, then positive buckets; empty
//! buckets left out. Boundaries: 0 = (l,u], 1 = [l,u), 3 = [l,u].

use exposition::{BucketSpan, Histogram};

use crate::json::go_sprint_float;

/// The upper bound of bucket `index` in `schema`.
fn bound(index: i64, schema: i32) -> f64 {
    if schema < 0 {
        let exp = index << (-schema).min(62);
        if exp == 1024 {
            return f64::MAX;
        }
        return ldexp(1.0, exp);
    }
    let per_power = 1i64 << schema.min(30);
    let frac_index = index.rem_euclid(per_power);
    let frac = 2f64.powf(frac_index as f64 / per_power as f64 - 1.0);
    let exp = index.div_euclid(per_power) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

fn ldexp(frac: f64, exp: i64) -> f64 {
    let exp = exp.clamp(-1100, 1100) as i32;
    // Two steps keep intermediate powers of two representable.
    frac * 2f64.powi(exp / 2) * 2f64.powi(exp - exp / 2)
}

/// (bucket index, count) for each bucket of one side.
fn side(spans: &[BucketSpan], deltas: &[i64], counts: &[f64], float: bool) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    let mut index = 0i64;
    let mut position = 0usize;
    let mut running = 0i64;
    // The first offset is the first bucket's index; later ones are gaps
    // after the previous span.
    for span in spans {
        index += i64::from(span.offset);
        for _ in 0..span.length {
            let count = if float {
                counts.get(position).copied().unwrap_or(0.0)
            } else {
                running += deltas.get(position).copied().unwrap_or(0);
                running as f64
            };
            out.push((index, count));
            index += 1;
            position += 1;
        }
    }
    out
}

fn count_text(v: f64, float: bool) -> String {
    if float {
        go_sprint_float(v)
    } else {
        (v as u64).to_string()
    }
}

/// The `count` and `buckets` of a native histogram, as JSON text.
pub(crate) fn api_buckets(h: &Histogram) -> (String, String) {
    let float =
        h.sample_count_float.unwrap_or(0.0) > 0.0 || h.zero_count_float.unwrap_or(0.0) > 0.0;
    let schema = h.schema.unwrap_or(0);
    let count = if float {
        go_sprint_float(h.sample_count_float.unwrap_or(0.0))
    } else {
        h.sample_count.unwrap_or(0).to_string()
    };
    let mut buckets: Vec<(u8, f64, f64, String)> = Vec::new();
    let negative = side(
        &h.negative_spans,
        &h.negative_deltas,
        &h.negative_counts,
        float,
    );
    for &(index, c) in negative.iter().rev().filter(|(_, c)| *c != 0.0) {
        buckets.push((
            1,
            -bound(index, schema),
            -bound(index - 1, schema),
            count_text(c, float),
        ));
    }
    let zero = if float {
        h.zero_count_float.unwrap_or(0.0)
    } else {
        h.zero_count.unwrap_or(0) as f64
    };
    if zero != 0.0 {
        let t = h.zero_threshold.unwrap_or(0.0);
        buckets.push((3, -t, t, count_text(zero, float)));
    }
    let positive = side(
        &h.positive_spans,
        &h.positive_deltas,
        &h.positive_counts,
        float,
    );
    for &(index, c) in positive.iter().filter(|(_, c)| *c != 0.0) {
        buckets.push((
            0,
            bound(index - 1, schema),
            bound(index, schema),
            count_text(c, float),
        ));
    }
    let mut json = String::from("[");
    for (i, (b, lower, upper, c)) in buckets.iter().enumerate() {
        if i > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            "[{b},\"{}\",\"{}\",\"{c}\"]",
            go_sprint_float(*lower),
            go_sprint_float(*upper)
        ));
    }
    json.push(']');
    (count, json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_of_schema_zero_and_one() {
        assert_eq!(bound(0, 0), 1.0);
        assert_eq!(bound(1, 0), 2.0);
        assert_eq!(bound(-1, 0), 0.5);
        assert_eq!(bound(1, 1), std::f64::consts::SQRT_2);
        assert_eq!(bound(2, 1), 2.0);
        assert_eq!(bound(1, -1), 4.0);
    }

    #[test]
    fn buckets_in_api_order() {
        let h = Histogram::<String> {
            sample_count: Some(6),
            sample_sum: Some(1.0),
            schema: Some(0),
            zero_threshold: Some(0.001),
            zero_count: Some(1),
            positive_spans: vec![BucketSpan {
                offset: 0,
                length: 2,
            }],
            positive_deltas: vec![2, -1],
            negative_spans: vec![BucketSpan {
                offset: 0,
                length: 1,
            }],
            negative_deltas: vec![2],
            ..Default::default()
        };
        let (count, buckets) = api_buckets(&h);
        assert_eq!(count, "6");
        assert_eq!(
            buckets,
            "[[1,\"-1\",\"-0.5\",\"2\"],[3,\"-0.001\",\"0.001\",\"1\"],[0,\"0.5\",\"1\",\"2\"],[0,\"1\",\"2\",\"1\"]]"
        );
    }
}

//! Why pushed metrics are refused: each problem client_golang's gatherer
//! would report, worded exactly as it words it (clients and scripts match
//! on these messages).

use std::fmt;

use exposition::MetricType;

/// One problem with pushed metrics, on their own or against the stored ones.
///
/// `metric` fields hold Go's description of the metric
/// (`collected metric "x" { label:{…} gauge:{value:1} }`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// A family name that the name rules do not allow.
    InvalidMetricName {
        /// The name as pushed.
        name: String,
    },
    /// A family whose type differs from the type its name already has.
    WrongFamilyType {
        /// The family name.
        family: String,
        /// The pushed type.
        found: MetricType,
        /// The type the name has.
        expected: MetricType,
    },
    /// A metric whose value is not of the type its family must have.
    NotA {
        /// The metric.
        metric: String,
        /// The type it should be.
        expected: MetricType,
    },
    /// A series that is already stored, or twice in the push.
    DuplicateSeries {
        /// The metric.
        metric: String,
    },
    /// A metric with the same label name twice.
    DuplicateLabel {
        /// The metric.
        metric: String,
        /// The repeated label name.
        label: String,
    },
    /// A metric with a label name the rules do not allow.
    InvalidLabelName {
        /// The metric.
        metric: String,
        /// The label name.
        label: String,
    },
    /// A summary metric with a `quantile` label of its own.
    QuantileLabel {
        /// The metric.
        metric: String,
    },
    /// `x_count` or `x_sum` (or `x_bucket`) where `x` is a summary or
    /// histogram (`owner` says which).
    SuffixOfExisting {
        /// The pushed name.
        name: String,
        /// The summary or histogram name.
        base: String,
        /// Its type.
        owner: MetricType,
    },
    /// A summary or histogram `x` where `x_count` or `x_sum` exists.
    HistogramOrSummaryOverSuffix {
        /// The pushed name.
        name: String,
        /// The existing suffixed name.
        other: String,
    },
    /// A histogram `x` where `x_bucket` exists.
    HistogramOverBucket {
        /// The pushed name.
        name: String,
        /// The existing `_bucket` name.
        other: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::InvalidMetricName { name } => write!(
                f,
                "invalid metric name {}",
                exposition::go_quote(name.as_bytes())
            ),
            Problem::WrongFamilyType {
                family,
                found,
                expected,
            } => write!(
                f,
                "gathered metric family {family} has type {found} but should have {expected}"
            ),
            Problem::NotA { metric, expected } => write!(f, "{metric} is not a {expected}"),
            Problem::DuplicateSeries { metric } => write!(
                f,
                "{metric} was collected before with the same name and label values"
            ),
            Problem::DuplicateLabel { metric, label } => write!(
                f,
                "{metric} has two or more labels with the same name: {label}"
            ),
            Problem::InvalidLabelName { metric, label } => {
                write!(f, "{metric} has a label with an invalid name: {label}")
            }
            Problem::QuantileLabel { metric } => {
                write!(f, "{metric} must not have an explicit \"quantile\" label")
            }
            Problem::SuffixOfExisting { name, base, owner } => {
                let owner = if *owner == MetricType::Summary {
                    "summary"
                } else {
                    "histogram"
                };
                write!(
                    f,
                    "collected metric named {name:?} collides with previously collected {owner} named {base:?}"
                )
            }
            Problem::HistogramOrSummaryOverSuffix { name, other } => write!(
                f,
                "collected histogram or summary named {name:?} collides with previously collected metric named {other:?}"
            ),
            Problem::HistogramOverBucket { name, other } => write!(
                f,
                "collected histogram named {name:?} collides with previously collected metric named {other:?}"
            ),
        }
    }
}

/// Every problem of one push; displays as Go's `prometheus.MultiError`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problems(Vec<Problem>);

/// `MultiError` lists this many problems, then counts the rest.
const SHOWN: usize = 20;

impl Problems {
    /// The problems, in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl From<Vec<Problem>> for Problems {
    fn from(problems: Vec<Problem>) -> Problems {
        Problems(problems)
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [one] = self.0.as_slice() {
            return write!(f, "{one}");
        }
        write!(f, "{} error(s) occurred:", self.0.len())?;
        for problem in self.0.iter().take(SHOWN) {
            write!(f, "\n* {problem}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, "\n* ... {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_problem_is_shown_alone_several_as_go_multierror() {
        let one: Problems = vec![Problem::InvalidMetricName { name: "a-b".into() }].into();
        assert_eq!(one.to_string(), "invalid metric name \"a-b\"");
        let two: Problems = vec![
            Problem::WrongFamilyType {
                family: "x".into(),
                found: MetricType::Gauge,
                expected: MetricType::Counter,
            },
            Problem::SuffixOfExisting {
                name: "h_bucket".into(),
                base: "h".into(),
                owner: MetricType::Histogram,
            },
        ]
        .into();
        assert_eq!(
            two.to_string(),
            "2 error(s) occurred:\n* gathered metric family x has type GAUGE but should have COUNTER\n\
             * collected metric named \"h_bucket\" collides with previously collected histogram named \"h\""
        );
        let many: Problems = (0..22)
            .map(|i| Problem::DuplicateSeries {
                metric: format!("m{i}"),
            })
            .collect::<Vec<_>>()
            .into();
        let text = many.to_string();
        assert!(text.starts_with("22 error(s) occurred:"));
        assert!(text.ends_with("\n* ... 2 more"));
        assert_eq!(text.matches("was collected before").count(), 20);
    }
}

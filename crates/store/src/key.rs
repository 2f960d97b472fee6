//! Grouping keys: the labels in a push URL that name a group.

use std::fmt;
use std::sync::Arc;

/// The grouping labels of a group (always including `job`), sorted by name.
///
/// Two keys are the same group only if they have exactly the same labels:
/// `{job="a"}` and `{job="a",instance=""}` are different groups. Keys order
/// by their label pairs, which is the order groups are listed in. Cloning
/// is cheap (the labels are shared), as keys travel with every write.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupingKey {
    labels: Arc<[(Box<str>, Box<str>)]>,
}

impl GroupingKey {
    /// Builds a key from label pairs; a later pair with the same name
    /// replaces an earlier one (as in a push URL).
    pub fn new<N: Into<Box<str>>, V: Into<Box<str>>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> GroupingKey {
        let mut labels: Vec<(Box<str>, Box<str>)> = Vec::new();
        for (name, value) in pairs {
            let (name, value) = (name.into(), value.into());
            match labels.iter_mut().find(|(n, _)| *n == name) {
                Some(slot) => slot.1 = value,
                None => labels.push((name, value)),
            }
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        GroupingKey {
            labels: labels.into(),
        }
    }

    /// The labels, sorted by name.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.labels.iter().map(|(n, v)| (&**n, &**v))
    }

    /// The value of one label.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| &**v)
    }

    /// The `job` label (empty if absent, which the server never allows).
    pub fn job(&self) -> &str {
        self.get("job").unwrap_or("")
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the key has no labels (never the case for a real group).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

impl fmt::Debug for GroupingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.labels().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Display for GroupingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_dedups() {
        let k = GroupingKey::new([("job", "a"), ("b", "1"), ("b", "2")]);
        assert_eq!(
            k.labels().collect::<Vec<_>>(),
            vec![("b", "2"), ("job", "a")]
        );
        assert_eq!(format!("{k}"), "{b=\"2\",job=\"a\"}");
        assert_ne!(
            GroupingKey::new([("job", "a")]),
            GroupingKey::new([("job", "a"), ("instance", "")])
        );
    }
}

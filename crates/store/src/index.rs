//! The incremental consistency index: what client_golang's gatherer checks
//! on the whole store, kept up to date so that a push is checked in
//! O(size of the push) instead.
//!
//! Per metric name it records the type and how many stored families carry
//! the name (empty ones included, as in Go); a set holds the identity hash
//! of every stored series. A write is checked as "the index, minus the
//! families the write removes, plus the ones it adds".

use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use exposition::MetricType;
use hashbrown::{HashMap, HashSet};

use crate::family::StoredFamily;
use crate::problem::Problem;

/// A hasher for keys that are already uniform hashes.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type HashSet64 = HashSet<u64, BuildHasherDefault<IdentityHasher>>;

#[derive(Debug, Clone)]
struct NameEntry {
    metric_type: MetricType,
    /// Stored families with this name.
    families: u32,
    /// The gateway's own metrics use this name (always present).
    own: bool,
}

/// The index of names and series of everything stored.
#[derive(Default)]
pub(crate) struct Index {
    names: HashMap<Arc<str>, NameEntry, foldhash::fast::RandomState>,
    series: HashSet64,
    /// Scratch sets of [`Index::check`], kept between checks.
    removed_hashes: HashSet64,
    added_hashes: HashSet64,
}

/// Scratch sets larger than this many series are not kept after a check.
const SCRATCH_KEPT: usize = 1 << 16;

/// Changes with at most this many families are searched by name directly;
/// larger ones through maps, so that a push of many families stays linear.
const SMALL_CHANGE: usize = 16;

/// The families of a change by name.
enum ChangeNames<'a> {
    /// Few families: look through them.
    Small,
    /// Many: per name, how many are removed, and the first added family
    /// with whether more of that name follow.
    Mapped {
        removed: HashMap<&'a str, u32, foldhash::fast::RandomState>,
        added: HashMap<&'a str, (&'a StoredFamily, bool), foldhash::fast::RandomState>,
    },
}

impl<'a> ChangeNames<'a> {
    fn new(change: &Change<'a>) -> ChangeNames<'a> {
        if change.removed.len() + change.added.len() <= SMALL_CHANGE {
            return ChangeNames::Small;
        }
        let mut removed =
            HashMap::with_capacity_and_hasher(change.removed.len(), Default::default());
        for f in &change.removed {
            *removed.entry(f.name()).or_default() += 1;
        }
        let mut added = HashMap::with_capacity_and_hasher(change.added.len(), Default::default());
        for &f in &change.added {
            added
                .entry(f.name())
                .and_modify(|(_, more): &mut (&StoredFamily, bool)| *more = true)
                .or_insert((f, false));
        }
        ChangeNames::Mapped { removed, added }
    }

    /// How many families named `name` the change removes.
    fn removed(&self, change: &Change<'_>, name: &str) -> u32 {
        match self {
            ChangeNames::Small => change.removed.iter().filter(|f| f.name() == name).count() as u32,
            ChangeNames::Mapped { removed, .. } => removed.get(name).copied().unwrap_or(0),
        }
    }

    /// A family named `name` the change adds, other than `skip`.
    fn added_other_than(
        &self,
        change: &Change<'a>,
        name: &str,
        skip: *const StoredFamily,
    ) -> Option<&'a StoredFamily> {
        let search = || {
            change
                .added
                .iter()
                .copied()
                .find(|f| f.name() == name && !std::ptr::eq(*f, skip))
        };
        match self {
            ChangeNames::Small => search(),
            ChangeNames::Mapped { added, .. } => match added.get(name) {
                Some((first, _)) if !std::ptr::eq(*first, skip) => Some(*first),
                Some((_, true)) => search(),
                _ => None,
            },
        }
    }
}

/// The families a write takes out of and puts into the store.
pub(crate) struct Change<'a> {
    removed: Vec<&'a StoredFamily>,
    added: Vec<&'a StoredFamily>,
    /// Bit `i` set: removed family `i` comes back unchanged among the added
    /// ones (same name, type and series), and bit `j` of `same_added` marks
    /// that twin. Found for small changes only.
    same_removed: u32,
    same_added: u32,
}

impl<'a> Change<'a> {
    pub(crate) fn new(removed: Vec<&'a StoredFamily>, added: Vec<&'a StoredFamily>) -> Change<'a> {
        let (mut same_removed, mut same_added) = (0u32, 0u32);
        if removed.len() <= SMALL_CHANGE && added.len() <= SMALL_CHANGE {
            for (a, new) in added.iter().enumerate() {
                let twin = removed.iter().enumerate().position(|(r, old)| {
                    same_removed & (1 << r) == 0
                        && old.name() == new.name()
                        && old.metric_type() == new.metric_type()
                        && old.hashes() == new.hashes()
                });
                if let Some(r) = twin {
                    same_removed |= 1 << r;
                    same_added |= 1 << a;
                }
            }
        }
        Change {
            removed,
            added,
            same_removed,
            same_added,
        }
    }

    /// Removed families that do not come back unchanged.
    fn changed_removed(&self) -> impl Iterator<Item = &'a StoredFamily> + '_ {
        let same = self.same_removed;
        self.removed
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i >= 32 || same & (1 << i) == 0)
            .map(|(_, f)| *f)
    }

    /// Added families that are not an unchanged removed one.
    fn changed_added(&self) -> impl Iterator<Item = &'a StoredFamily> + '_ {
        let same = self.same_added;
        self.added
            .iter()
            .enumerate()
            .filter(move |(i, _)| *i >= 32 || same & (1 << i) == 0)
            .map(|(_, f)| *f)
    }
}

impl Index {
    /// Registers a name used by the gateway's own metrics.
    pub(crate) fn reserve(&mut self, name: &str, metric_type: MetricType) {
        self.names.insert(
            Arc::from(name),
            NameEntry {
                metric_type,
                families: 0,
                own: true,
            },
        );
    }

    /// Checks a change; returns every problem it would cause.
    pub(crate) fn check(&mut self, change: &Change<'_>) -> Vec<Problem> {
        let mut errors = Vec::new();
        let Index {
            names,
            series,
            removed_hashes,
            added_hashes,
        } = self;
        let lookup = ChangeNames::new(change);
        removed_hashes.clear();
        added_hashes.clear();
        // A family that comes back unchanged was consistent with the store
        // and still is: only the others are checked (any clash between the
        // two is seen from the changed family's side; a twin's series are
        // named differently from every other family's).
        for f in change.changed_removed() {
            removed_hashes.extend(f.hashes().iter().copied());
        }
        // The type a name has after the change, ignoring `skip` among the
        // added families (the family being checked).
        let type_of = |name: &str, skip: *const StoredFamily| -> Option<MetricType> {
            if let Some(f) = lookup.added_other_than(change, name, skip) {
                return Some(f.metric_type());
            }
            let entry = names.get(name)?;
            let removed = lookup.removed(change, name);
            (entry.own || entry.families > removed).then_some(entry.metric_type)
        };
        for family in change.changed_added() {
            let name = family.name();
            let t = family.metric_type();
            if let Some(existing) = type_of(name, std::ptr::from_ref(family)) {
                if existing != t {
                    let own = names.get(name).is_some_and(|e| e.own);
                    if own || family.is_empty() {
                        errors.push(Problem::WrongFamilyType {
                            family: name.to_string(),
                            found: t,
                            expected: existing,
                        });
                    } else {
                        for metric in describe_metrics(family) {
                            errors.push(Problem::NotA {
                                metric,
                                expected: existing,
                            });
                        }
                    }
                    continue;
                }
            }
            if let Some(e) = suffix_collision(name, t, |n| type_of(n, std::ptr::from_ref(family))) {
                errors.push(e);
                continue;
            }
            let duplicates: Vec<usize> = family
                .hashes()
                .iter()
                .enumerate()
                .filter(|&(_, &h)| {
                    let stored = series.contains(&h) && !removed_hashes.contains(&h);
                    stored || !added_hashes.insert(h)
                })
                .map(|(i, _)| i)
                .collect();
            if !duplicates.is_empty() {
                let mut descriptions = describe_metrics(family);
                for i in duplicates {
                    let metric = descriptions
                        .get_mut(i)
                        .map_or_else(|| "collected metric".to_string(), std::mem::take);
                    errors.push(Problem::DuplicateSeries { metric });
                }
            }
        }
        // Do not keep room for a huge push around.
        for scratch in [removed_hashes, added_hashes] {
            if scratch.capacity() > SCRATCH_KEPT {
                *scratch = HashSet64::default();
            }
        }
        errors
    }

    /// Whether the series of `family` are all free (not stored yet).
    pub(crate) fn series_free(&self, family: &StoredFamily) -> bool {
        family.hashes().iter().all(|h| !self.series.contains(h))
    }

    /// Applies a change that passed [`Index::check`].
    pub(crate) fn apply(&mut self, change: &Change<'_>) {
        // A family pushed again with the same name, type and series (the
        // usual repeated push, and every renewed push-time gauge) leaves the
        // index as it is.
        for f in change.changed_removed() {
            self.remove(f);
        }
        for f in change.changed_added() {
            self.add(f);
        }
    }

    pub(crate) fn add(&mut self, f: &StoredFamily) {
        let entry = self.names.entry_ref(f.name()).or_insert_with(|| NameEntry {
            metric_type: f.metric_type(),
            families: 0,
            own: false,
        });
        if entry.families == 0 && !entry.own {
            entry.metric_type = f.metric_type();
        }
        entry.families += 1;
        self.series.extend(f.hashes().iter().copied());
    }

    pub(crate) fn remove(&mut self, f: &StoredFamily) {
        if let Some(entry) = self.names.get_mut(f.name()) {
            entry.families = entry.families.saturating_sub(1);
            if entry.families == 0 && !entry.own {
                self.names.remove(f.name());
            }
        }
        for h in f.hashes() {
            self.series.remove(h);
        }
    }

    /// Forgets every pushed family (the gateway's own names stay).
    pub(crate) fn clear(&mut self) {
        self.names.retain(|_, e| {
            e.families = 0;
            e.own
        });
        self.series.clear();
    }
}

/// client_golang's `checkSuffixCollisions`: summaries and histograms own
/// their `_count` and `_sum` names, histograms also `_bucket`.
pub(crate) fn suffix_collision(
    name: &str,
    t: MetricType,
    type_of: impl Fn(&str) -> Option<MetricType>,
) -> Option<Problem> {
    let base = ["_count", "_sum", "_bucket"]
        .iter()
        .find_map(|s| name.strip_suffix(s).map(|b| (b, *s)));
    if let Some((base, suffix)) = base {
        let owner = type_of(base);
        let collides = match owner {
            Some(MetricType::Summary) => suffix != "_bucket",
            Some(MetricType::Histogram) => true,
            _ => false,
        };
        if let (true, Some(owner)) = (collides, owner) {
            return Some(Problem::SuffixOfExisting {
                name: name.to_string(),
                base: base.to_string(),
                owner,
            });
        }
    }
    if matches!(t, MetricType::Summary | MetricType::Histogram) {
        for suffix in ["_count", "_sum"] {
            let other = format!("{name}{suffix}");
            if type_of(&other).is_some() {
                return Some(Problem::HistogramOrSummaryOverSuffix {
                    name: name.to_string(),
                    other,
                });
            }
        }
    }
    if t == MetricType::Histogram {
        let other = format!("{name}_bucket");
        if type_of(&other).is_some() {
            return Some(Problem::HistogramOverBucket {
                name: name.to_string(),
                other,
            });
        }
    }
    None
}

/// Go's description of every metric of a stored family, for error messages.
pub(crate) fn describe_metrics(family: &StoredFamily) -> Vec<String> {
    family
        .decode()
        .metrics
        .iter()
        .map(|m| {
            let labels: Vec<_> = m
                .labels
                .iter()
                .map(|l| exposition::LabelPair {
                    name: l.name.as_str(),
                    value: l.value.as_str(),
                })
                .collect();
            crate::family::describe_metric(family.name(), &labels, &m.value)
        })
        .collect()
}

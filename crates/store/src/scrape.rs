//! Scrape output: every group's families merged by name and written from
//! their pre-encoded bytes, in client_golang's order.
//!
//! Families are sorted by name; within a name, metrics of different groups
//! are ordered as Go sorts them (label count, then label values). Each
//! group's metrics are already sorted, so the merge sorts whole runs by
//! their first metric and copies runs that do not overlap as they are;
//! only overlapping runs are merged metric by metric.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use exposition::protobuf::{encode_family_header, encode_varint, family_header_len};
use exposition::{encode_text_header, MetricType};

use crate::family::{compare_encoded, StoredFamily};
use crate::index::suffix_collision;
use crate::problem::{Problem, Problems};
use crate::store::Snapshot;

/// The forms every stored family is pre-encoded in, which a scrape copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Text format 0.0.4 sample lines.
    Text,
    /// Delimited protobuf `MetricFamily` messages.
    Protobuf,
}

/// One family taking part in a scrape, with where it comes from.
struct Entry<'a> {
    family: &'a StoredFamily,
    /// 0 for the gateway's own families, 1 + group position otherwise.
    rank: usize,
}

impl Snapshot {
    /// Writes the scrape in `encoding`, passing the output
    /// to `sink` in pieces. `own` are the gateway's own families (built
    /// without grouping labels); their HELP wins over pushed families of the
    /// same name.
    pub fn write_exposition(
        &self,
        own: &[StoredFamily],
        encoding: Encoding,
        sink: &mut dyn FnMut(&[u8]),
    ) {
        let mut entries: Vec<Entry<'_>> =
            own.iter().map(|family| Entry { family, rank: 0 }).collect();
        for (i, group) in self.groups.iter().enumerate() {
            entries.extend(group.families().iter().map(|f| Entry {
                family: f,
                rank: i + 1,
            }));
        }
        // (name, rank) is unique, so an unstable sort gives the same order.
        entries.sort_unstable_by(|a, b| {
            a.family
                .name()
                .cmp(b.family.name())
                .then(a.rank.cmp(&b.rank))
        });
        let mut header = Vec::with_capacity(256);
        let mut merged: Vec<&[u8]> = Vec::new();
        for same_name in entries.chunk_by(|a, b| a.family.name() == b.family.name()) {
            let runs: Vec<&StoredFamily> = same_name
                .iter()
                .map(|e| e.family)
                .filter(|f| !f.is_empty())
                .collect();
            if runs.is_empty() {
                continue;
            }
            let first = same_name[0].family;
            let help = choose_help(same_name);
            let metric_type = first.metric_type();
            merged.clear();
            merge_runs(runs, encoding, &mut merged);
            header.clear();
            match encoding {
                Encoding::Text => {
                    encode_text_header(&mut header, first.name(), help, metric_type);
                }
                Encoding::Protobuf => {
                    let body: usize = merged.iter().map(|m| m.len()).sum();
                    let len = family_header_len(first.name(), help, metric_type) + body;
                    encode_varint(&mut header, len as u64);
                    encode_family_header(&mut header, first.name(), help, metric_type);
                }
            }
            sink(&header);
            for piece in &merged {
                sink(piece);
            }
        }
    }

    /// Checks the whole store as Go does on every scrape. Only needed when
    /// pushes are not checked ([`ConsistencyCheck::Off`](crate::ConsistencyCheck::Off)).
    pub fn check_consistency(&self, own: &[(String, MetricType)]) -> Result<(), Problems> {
        let mut errors = Vec::new();
        let mut types: hashbrown::HashMap<&str, MetricType> =
            own.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let mut seen = hashbrown::HashSet::new();
        for group in &self.groups {
            for family in group.families() {
                match types.get(family.name()) {
                    Some(&t) if t != family.metric_type() => {
                        errors.push(Problem::WrongFamilyType {
                            family: family.name().to_string(),
                            found: family.metric_type(),
                            expected: t,
                        })
                    }
                    Some(_) => {}
                    None => {
                        types.insert(family.name(), family.metric_type());
                    }
                }
                for (i, &h) in family.hashes().iter().enumerate() {
                    if !seen.insert(h) {
                        let metric = crate::index::describe_metrics(family).swap_remove(i);
                        errors.push(Problem::DuplicateSeries { metric });
                    }
                }
            }
        }
        let mut names: Vec<(&str, MetricType)> = types.iter().map(|(n, t)| (*n, *t)).collect();
        names.sort();
        for (name, t) in &names {
            if let Some(e) = suffix_collision(name, *t, |n| types.get(n).copied()) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.into())
        }
    }
}

/// The HELP of a merged family: the gateway's own, else the first group's
/// non-empty HELP in grouping-key order, else an empty one if any group
/// had one. (Go picks whichever group its map iteration meets first.)
fn choose_help<'a>(same_name: &[Entry<'a>]) -> Option<&'a str> {
    if let Some(own) = same_name.iter().find(|e| e.rank == 0) {
        return own.family.help();
    }
    same_name
        .iter()
        .filter_map(|e| e.family.help())
        .find(|h| !h.is_empty())
        .or_else(|| same_name.iter().find_map(|e| e.family.help()))
}

/// Appends the metrics of `runs` (each sorted) in Go's order, as text lines
/// or protobuf fields.
fn merge_runs<'a>(mut runs: Vec<&'a StoredFamily>, encoding: Encoding, out: &mut Vec<&'a [u8]>) {
    let whole = |f: &'a StoredFamily| match encoding {
        Encoding::Text => f.text(),
        Encoding::Protobuf => f.proto(),
    };
    let piece = |f: &'a StoredFamily, i: usize| match encoding {
        Encoding::Text => f.metric_text(i),
        Encoding::Protobuf => f.metric_proto(i),
    };
    let first = |f: &'a StoredFamily| f.metric_proto(0);
    let last = |f: &'a StoredFamily| f.metric_proto(f.len() - 1);
    // Usually the groups' runs already follow each other in Go's order
    // (their grouping labels differ, and group order is label order): one
    // comparison per run confirms it, and the runs are copied whole.
    if runs
        .windows(2)
        .all(|w| compare_encoded(last(w[0]), first(w[1])) != Ordering::Greater)
    {
        out.extend(runs.into_iter().map(whole));
        return;
    }
    runs.sort_by(|a, b| compare_encoded(first(a), first(b)));
    // Split the runs into clusters whose key ranges overlap.
    let mut start = 0;
    while start < runs.len() {
        let mut end = start + 1;
        let mut last = runs[start];
        while end < runs.len() {
            let next = runs[end];
            if compare_encoded(last.metric_proto(last.len() - 1), next.metric_proto(0))
                == Ordering::Greater
            {
                if compare_encoded(
                    next.metric_proto(next.len() - 1),
                    last.metric_proto(last.len() - 1),
                ) == Ordering::Greater
                {
                    last = next;
                }
                end += 1;
            } else {
                break;
            }
        }
        if end - start == 1 {
            out.push(whole(runs[start]));
        } else {
            let mut heap: BinaryHeap<Head<'a>> = runs[start..end]
                .iter()
                .enumerate()
                .map(|(run, f)| Head {
                    family: f,
                    run,
                    index: 0,
                })
                .collect();
            while let Some(mut head) = heap.pop() {
                out.push(piece(head.family, head.index));
                head.index += 1;
                if head.index < head.family.len() {
                    heap.push(head);
                }
            }
        }
        start = end;
    }
}

/// The next metric of one run in a k-way merge (a max-heap, so ordered in
/// reverse).
struct Head<'a> {
    family: &'a StoredFamily,
    run: usize,
    index: usize,
}

impl Head<'_> {
    fn key(&self) -> &[u8] {
        self.family.metric_proto(self.index)
    }
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head<'_> {}

impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Head<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        compare_encoded(other.key(), self.key()).then(other.run.cmp(&self.run))
    }
}

//! The store: groups by grouping key, the consistency index, and the one
//! write path every change goes through.
//!
//! A push is prepared (sanitised, sorted, encoded, hashed) and its change-log
//! record encoded before any lock is taken. The write lock is then held only
//! to ask the change log whether it can take writes, check the prepared
//! families against the index, swap the group in and append the record;
//! readers take a separate read lock just long enough to copy the list of
//! groups, so a scrape never waits for a push's preparation and a push never
//! waits for a scrape's encoding.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use exposition::{LabelPair, Metric, MetricFamily, MetricType, NameValidation, Value};
use parking_lot::{Mutex, RwLock};

use crate::changelog::{ChangeLog, MemoryLog, Position, Ticket};
use crate::error::WriteError;
use crate::family::{prepare, Scratch, SeriesHasher, StoredFamily};
use crate::index::{Change, Index};
use crate::key::GroupingKey;
use crate::problem::{Problem, Problems};
use crate::time::PushTime;
use crate::write::{GroupImage, Origin, PushMode, Write};

/// Name of the per-group gauge with the last successful push time.
pub const PUSH_TIME_METRIC: &str = "push_time_seconds";
/// Name of the per-group gauge with the last failed push time.
pub const PUSH_FAILURE_TIME_METRIC: &str = "push_failure_time_seconds";
const PUSH_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway succeeded.";
const PUSH_FAILURE_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway failed.";

/// When pushed metrics are checked against the stored ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConsistencyCheck {
    /// Every push, against the incremental index (the Go gateway's default).
    #[default]
    OnPush,
    /// Never by the store (`--push.disable-consistency-check`): only what a
    /// push must satisfy on its own is checked, and inconsistencies surface
    /// when a scrape checks the whole store.
    Off,
}

/// How the store treats pushes.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// When pushes are checked for consistency.
    pub consistency: ConsistencyCheck,
    /// Metric and label name rules.
    pub names: NameValidation,
    /// The gateway's own metric families (name, type): pushed families may
    /// share their names only with the same type.
    pub own_families: Vec<(String, MetricType)>,
    /// Most groups the store holds; a local write that would create one more
    /// is refused.
    pub max_groups: u64,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            consistency: ConsistencyCheck::default(),
            names: NameValidation::default(),
            own_families: Vec::new(),
            max_groups: u64::MAX,
        }
    }
}

/// A group: the families pushed under one grouping key, plus its two
/// push-time gauges.
#[derive(Debug)]
pub struct Group {
    key: GroupingKey,
    /// Sorted by name.
    families: Vec<Arc<StoredFamily>>,
    push_time: PushTime,
    failure_time: PushTime,
}

impl Group {
    /// The grouping key.
    pub fn key(&self) -> &GroupingKey {
        &self.key
    }

    /// The families, sorted by name, including `push_time_seconds` and
    /// `push_failure_time_seconds`.
    pub fn families(&self) -> &[Arc<StoredFamily>] {
        &self.families
    }

    /// The family of a given name.
    pub fn family(&self, name: &str) -> Option<&Arc<StoredFamily>> {
        self.families
            .binary_search_by(|f| f.name().cmp(name))
            .ok()
            .map(|i| &self.families[i])
    }

    /// Time of the last successful push (zero if none succeeded).
    pub fn push_time(&self) -> PushTime {
        self.push_time
    }

    /// Time of the last failed push (zero if none failed).
    pub fn failure_time(&self) -> PushTime {
        self.failure_time
    }

    /// Whether the last push succeeded: no failure after the last success.
    pub fn last_push_successful(&self) -> bool {
        self.failure_time.as_seconds_f64() <= self.push_time.as_seconds_f64()
    }

    /// Number of series in the group (push-time gauges included).
    pub fn series_count(&self) -> usize {
        self.families.iter().map(|f| f.len()).sum()
    }

    /// The group as a snapshot keeps it.
    pub fn image(&self) -> GroupImage {
        GroupImage {
            key: self.key.clone(),
            families: self.families.clone(),
            push_time: self.push_time,
            failure_time: self.failure_time,
        }
    }
}

/// Why a write was not applied as asked.
enum Refusal {
    /// Nothing changed.
    Refused(WriteError),
    /// The push is inconsistent with the store: its failure is recorded
    /// instead, as the Go gateway records it.
    Inconsistent(Problems),
}

/// The Pushgateway's metric store.
pub struct Store {
    options: StoreOptions,
    hasher: SeriesHasher,
    log: Arc<dyn ChangeLog>,
    /// The write lock; it guards the index and orders appends to the log.
    index: Mutex<Index>,
    groups: RwLock<BTreeMap<GroupingKey, Arc<Group>>>,
    changes: AtomicU64,
}

impl Store {
    /// An empty store whose writes go nowhere ([`MemoryLog`]).
    pub fn new(options: StoreOptions) -> Store {
        Store::with_change_log(options, Arc::new(MemoryLog::default()))
    }

    /// An empty store whose local writes go to `log`.
    pub fn with_change_log(options: StoreOptions, log: Arc<dyn ChangeLog>) -> Store {
        let mut index = Index::default();
        for (name, t) in &options.own_families {
            index.reserve(name, *t);
        }
        Store {
            options,
            hasher: SeriesHasher::default(),
            log,
            index: Mutex::new(index),
            groups: RwLock::new(BTreeMap::new()),
            changes: AtomicU64::new(0),
        }
    }

    /// The options the store was made with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// Pushes families into a group.
    ///
    /// On success the group holds the families and `push_time_seconds`
    /// says `at`. When the push is invalid or inconsistent, the store keeps
    /// its contents, except that the group's `push_failure_time_seconds`
    /// records `at` (the group is created for that if it does not exist and
    /// its gauges fit).
    pub fn push<S: AsRef<str>>(
        &self,
        key: GroupingKey,
        families: &[MetricFamily<S>],
        mode: PushMode,
        at: PushTime,
    ) -> Result<Ticket, WriteError> {
        match self.prepare(&key, families, at) {
            Ok(families) => self.apply(
                Write::Push {
                    key,
                    families,
                    mode,
                    at,
                },
                Origin::Local,
            ),
            Err(e) => {
                // The push is refused whatever happens to the record of its
                // failure (a fenced log refuses that too).
                let _ = self.apply(Write::Fail { key, at }, Origin::Local);
                Err(e)
            }
        }
    }

    /// Prepares pushed families for a group: everything a push costs that
    /// needs no lock. Fails on timestamps and on problems a push has on its
    /// own (invalid names, values of the wrong type, bad labels).
    pub fn prepare<S: AsRef<str>>(
        &self,
        key: &GroupingKey,
        families: &[MetricFamily<S>],
        at: PushTime,
    ) -> Result<Vec<Arc<StoredFamily>>, WriteError> {
        if families
            .iter()
            .any(|f| f.metrics.iter().any(|m| m.timestamp_ms.is_some()))
        {
            return Err(WriteError::Timestamps);
        }
        let mut problems = Vec::new();
        let mut scratch = Scratch::default();
        let mut prepared: Vec<Arc<StoredFamily>> = families
            .iter()
            // The push-time gauges belong to the gateway; pushed families of
            // those names are ignored.
            .filter(|f| !is_push_time_name(f.name.as_ref()))
            .map(|f| {
                Arc::new(prepare(
                    f,
                    key,
                    at,
                    self.options.names,
                    &self.hasher,
                    &mut scratch,
                    &mut problems,
                ))
            })
            .collect();
        if !problems.is_empty() {
            return Err(WriteError::Rejected(problems.into()));
        }
        prepared.sort_by(|a, b| a.name().cmp(b.name()));
        prepared.dedup_by(|later, earlier| later.name() == earlier.name());
        Ok(prepared)
    }

    /// Prepares a family read back from a change log or snapshot for
    /// `key`, keeping its own push time. Problems (a family stored under
    /// other name rules) are logged, not refused: the data was accepted once.
    pub fn rebuild_family<S: AsRef<str>>(
        &self,
        key: &GroupingKey,
        family: &MetricFamily<S>,
        at: PushTime,
    ) -> StoredFamily {
        let mut problems = Vec::new();
        let f = self.prepare_one(key, family, at, &mut problems);
        if !problems.is_empty() {
            tracing::warn!(group = %key, family = family.name.as_ref(), problems = %Problems::from(problems), "restored family does not pass today's checks; keeping it");
        }
        f
    }

    /// Deletes a group (nothing happens if it does not exist).
    pub fn delete(&self, key: GroupingKey) -> Result<Ticket, WriteError> {
        self.apply(Write::Delete { key }, Origin::Local)
    }

    /// Deletes every group.
    pub fn wipe(&self) -> Result<Ticket, WriteError> {
        self.apply(Write::Wipe, Origin::Local)
    }

    /// Applies one write. This is the only place the store changes.
    ///
    /// A local write is refused before it is applied when the change log
    /// cannot take writes or a limit would be exceeded; once applied it is
    /// appended to the change log, in apply order, and the ticket tells when
    /// it is durable. A write from the log is applied and not appended.
    pub fn apply(&self, write: Write, origin: Origin) -> Result<Ticket, WriteError> {
        let record = match origin {
            Origin::Local => Some(self.log.encode(&write)),
            Origin::Log => None,
        };
        let max_groups = match origin {
            Origin::Local => self.options.max_groups,
            Origin::Log => u64::MAX,
        };
        let mut index = self.index.lock();
        if origin == Origin::Local {
            self.log.check()?;
        }
        let outcome = match write {
            Write::Push {
                key,
                families,
                mode,
                at,
            } => match self.apply_push(&mut index, &key, families, mode, at, max_groups) {
                Err(Refusal::Inconsistent(problems)) => {
                    self.record_failure(&mut index, key.clone(), at, max_groups);
                    self.changes.fetch_add(1, Ordering::Relaxed);
                    if origin == Origin::Local {
                        // The record of the failure replaces the push's.
                        let failure = self.log.encode(&Write::Fail { key, at });
                        drop(self.log.append(failure));
                    }
                    return Err(WriteError::Rejected(problems));
                }
                other => other,
            },
            Write::Fail { key, at } => {
                self.record_failure(&mut index, key, at, max_groups);
                Ok(())
            }
            Write::Delete { key } => {
                let removed = self.groups.write().remove(&key);
                if let Some(group) = removed {
                    if self.checks() {
                        for f in group.families() {
                            index.remove(f);
                        }
                    }
                }
                Ok(())
            }
            Write::Wipe => {
                let old = std::mem::take(&mut *self.groups.write());
                index.clear();
                // Free the groups outside the readers' lock.
                drop(old);
                Ok(())
            }
            Write::Restore(image) => {
                self.restore(&mut index, image);
                Ok(())
            }
        };
        match outcome {
            Ok(()) => {
                self.changes.fetch_add(1, Ordering::Relaxed);
                Ok(match record {
                    Some(record) => self.log.append(record),
                    None => Ticket::done(),
                })
            }
            Err(Refusal::Refused(e)) => Err(e),
            Err(Refusal::Inconsistent(problems)) => Err(WriteError::Rejected(problems)),
        }
    }

    /// The groups and the change-log position they reflect, taken
    /// atomically (for snapshots).
    pub fn checkpoint(&self) -> (Snapshot, Position) {
        let _writes = self.index.lock();
        let snapshot = self.snapshot();
        (snapshot, self.log.checkpoint())
    }

    /// Tells the change log that a durable snapshot holds everything up to
    /// `through`.
    pub fn compact_log(&self, through: Position) {
        self.log.compact(through);
    }

    /// How many writes have been applied (for "changed since" checks).
    pub fn change_count(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    fn checks(&self) -> bool {
        self.options.consistency == ConsistencyCheck::OnPush
    }

    fn apply_push(
        &self,
        index: &mut Index,
        key: &GroupingKey,
        pushed: Vec<Arc<StoredFamily>>,
        mode: PushMode,
        at: PushTime,
        max_groups: u64,
    ) -> Result<(), Refusal> {
        let old = self.groups.read().get(key).cloned();
        if old.is_none() && self.group_count() as u64 >= max_groups {
            return Err(Refusal::Refused(WriteError::TooManyGroups {
                limit: max_groups,
            }));
        }
        let previous = old.as_ref().and_then(|g| g.family(PUSH_TIME_METRIC));
        let push_gauge = Arc::new(self.time_gauge(key, PUSH_TIME_METRIC, at, at, previous));
        let old_failure = old
            .as_ref()
            .and_then(|g| g.family(PUSH_FAILURE_TIME_METRIC).cloned());
        let new_failure = match &old_failure {
            Some(_) => None,
            None => Some(Arc::new(self.time_gauge(
                key,
                PUSH_FAILURE_TIME_METRIC,
                PushTime::default(),
                at,
                None,
            ))),
        };

        // Families leaving the store: everything of the old group a PUT
        // replaces (except the failure gauge), or the same-name ones for a
        // POST; the old push-time gauge always.
        let old_len = old.as_ref().map_or(0, |g| g.families().len());
        let mut removed: Vec<&StoredFamily> = Vec::with_capacity(old_len);
        let mut kept: Vec<Arc<StoredFamily>> = Vec::with_capacity(old_len + pushed.len() + 2);
        if let Some(old) = &old {
            for f in old.families() {
                let name = f.name();
                let goes = name == PUSH_TIME_METRIC
                    || (name != PUSH_FAILURE_TIME_METRIC
                        && (mode == PushMode::Replace
                            || pushed.binary_search_by(|p| p.name().cmp(name)).is_ok()));
                if goes {
                    removed.push(f);
                } else {
                    kept.push(f.clone());
                }
            }
        }
        let mut added: Vec<&StoredFamily> = Vec::with_capacity(pushed.len() + 2);
        added.extend(pushed.iter().map(|f| &**f));
        added.push(&push_gauge);
        if let Some(f) = &new_failure {
            added.push(f);
        }
        let change = Change::new(removed, added);
        if self.checks() {
            let problems = index.check(&change);
            if !problems.is_empty() {
                return Err(Refusal::Inconsistent(problems.into()));
            }
            index.apply(&change);
        }
        drop(change);

        let mut families = kept;
        families.extend(pushed);
        families.push(push_gauge);
        families.extend(new_failure);
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let failure_time = old.as_ref().map_or(PushTime::default(), |g| g.failure_time);
        let group = Group {
            key: key.clone(),
            families,
            push_time: at,
            failure_time,
        };
        let previous = self.groups.write().insert(key.clone(), Arc::new(group));
        // Free the replaced group outside the readers' lock.
        drop(previous);
        Ok(())
    }

    /// Sets a group's `push_failure_time_seconds` to `at`, creating the
    /// group (with a zero `push_time_seconds`) if it does not exist, unless
    /// that would exceed `max_groups` or its gauges would collide with
    /// stored series (which would make the store inconsistent).
    fn record_failure(&self, index: &mut Index, key: GroupingKey, at: PushTime, max_groups: u64) {
        let old = self.groups.read().get(&key).cloned();
        let previous = old
            .as_ref()
            .and_then(|g| g.family(PUSH_FAILURE_TIME_METRIC));
        let failure = Arc::new(self.time_gauge(&key, PUSH_FAILURE_TIME_METRIC, at, at, previous));
        let check = self.checks();
        let group = match old {
            Some(old) => {
                let mut families: Vec<Arc<StoredFamily>> = old
                    .families()
                    .iter()
                    .filter(|f| f.name() != PUSH_FAILURE_TIME_METRIC)
                    .cloned()
                    .collect();
                if check {
                    if let Some(previous) = old.family(PUSH_FAILURE_TIME_METRIC) {
                        index.remove(previous);
                    }
                    index.add(&failure);
                }
                families.push(failure);
                families.sort_by(|a, b| a.name().cmp(b.name()));
                Group {
                    key: key.clone(),
                    families,
                    push_time: old.push_time,
                    failure_time: at,
                }
            }
            None => {
                if self.group_count() as u64 >= max_groups {
                    tracing::debug!(group = %key, "not creating a group for a failed push: the store holds its most groups");
                    return;
                }
                let push = Arc::new(self.time_gauge(
                    &key,
                    PUSH_TIME_METRIC,
                    PushTime::default(),
                    at,
                    None,
                ));
                if check {
                    if !index.series_free(&push) || !index.series_free(&failure) {
                        tracing::debug!(group = %key, "not creating a group for a failed push: its gauges would collide");
                        return;
                    }
                    index.add(&push);
                    index.add(&failure);
                }
                let mut families = vec![failure, push];
                families.sort_by(|a, b| a.name().cmp(b.name()));
                Group {
                    key: key.clone(),
                    families,
                    push_time: PushTime::default(),
                    failure_time: at,
                }
            }
        };
        self.groups.write().insert(key, Arc::new(group));
    }

    /// Installs a group as a snapshot kept it. A group that does not fit the
    /// others is kept (and logged): it was accepted once.
    fn restore(&self, index: &mut Index, image: GroupImage) {
        let GroupImage {
            key,
            mut families,
            push_time,
            failure_time,
        } = image;
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let old = self.groups.read().get(&key).cloned();
        if self.checks() {
            let change = Change::new(
                old.iter()
                    .flat_map(|g| g.families().iter().map(|f| &**f))
                    .collect(),
                families.iter().map(|f| &**f).collect(),
            );
            let problems = index.check(&change);
            if !problems.is_empty() {
                tracing::warn!(group = %key, problems = %Problems::from(problems), "restored group is inconsistent with the others; keeping it");
            }
            index.apply(&change);
        }
        let group = Group {
            key: key.clone(),
            families,
            push_time,
            failure_time,
        };
        self.groups.write().insert(key, Arc::new(group));
    }

    /// A push-time gauge for a group: the grouping labels (plus
    /// `instance=""`), the given time as value, stored at `at`. With the
    /// group's current gauge of that name, only the value is rewritten.
    fn time_gauge(
        &self,
        key: &GroupingKey,
        name: &str,
        value: PushTime,
        at: PushTime,
        previous: Option<&Arc<StoredFamily>>,
    ) -> StoredFamily {
        let help = if name == PUSH_TIME_METRIC {
            PUSH_TIME_HELP
        } else {
            PUSH_FAILURE_TIME_HELP
        };
        let seconds = if value == PushTime::default() {
            0.0
        } else {
            value.as_seconds_f64()
        };
        if let Some(renewed) = previous.and_then(|p| p.with_gauge_value(seconds, at)) {
            return renewed;
        }
        let family = MetricFamily {
            name,
            help: Some(help),
            metric_type: MetricType::Gauge,
            unit: None,
            metrics: vec![Metric::<&str> {
                labels: Vec::<LabelPair<&str>>::new(),
                value: Value::Gauge(seconds),
                timestamp_ms: None,
            }],
        };
        self.prepare_one(key, &family, at, &mut Vec::new())
    }

    /// Prepares one family for `key` under this store's rules.
    fn prepare_one<S: AsRef<str>>(
        &self,
        key: &GroupingKey,
        family: &MetricFamily<S>,
        at: PushTime,
        problems: &mut Vec<Problem>,
    ) -> StoredFamily {
        prepare(
            family,
            key,
            at,
            self.options.names,
            &self.hasher,
            &mut Scratch::default(),
            problems,
        )
    }

    /// A consistent view of every group, in grouping-key order. Cheap: it
    /// copies one pointer per group.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            groups: self.groups.read().values().cloned().collect(),
        }
    }

    /// One group.
    pub fn group(&self, key: &GroupingKey) -> Option<Arc<Group>> {
        self.groups.read().get(key).cloned()
    }

    /// Number of groups.
    pub fn group_count(&self) -> usize {
        self.groups.read().len()
    }
}

fn is_push_time_name(name: &str) -> bool {
    name == PUSH_TIME_METRIC || name == PUSH_FAILURE_TIME_METRIC
}

/// Every group at one moment, in grouping-key order.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub(crate) groups: Vec<Arc<Group>>,
}

impl Snapshot {
    /// The groups.
    pub fn groups(&self) -> &[Arc<Group>] {
        &self.groups
    }

    /// Number of series in all groups.
    pub fn series_count(&self) -> usize {
        self.groups.iter().map(|g| g.series_count()).sum()
    }
}

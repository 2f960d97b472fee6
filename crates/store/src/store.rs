//! The store: groups by grouping key, the consistency index, and the one
//! write path every change goes through.
//!
//! A push is prepared (sanitised, sorted, encoded, hashed) before any lock
//! is taken. The write lock is then held only to check the prepared
//! families against the index and to swap the group in; readers take a
//! separate read lock just long enough to copy the list of groups, so a
//! scrape never waits for a push's preparation and a push never waits for a
//! scrape's encoding.

use std::collections::BTreeMap;
use std::sync::Arc;

use std::sync::atomic::{AtomicU64, Ordering};

use exposition::{LabelPair, Metric, MetricFamily, MetricType, Value};
use parking_lot::{Mutex, RwLock};

use crate::persist::codec;
use crate::persist::journal::Journal;
use crate::persist::PersistError;

use crate::family::{prepare, NameRules, Scratch, StoredFamily};
use crate::index::{join_errors, Change, Index};
use crate::key::GroupingKey;
use crate::time::PushTime;
use crate::{PushError, SeriesHasher};

/// Name of the per-group gauge with the last successful push time.
pub const PUSH_TIME_METRIC: &str = "push_time_seconds";
/// Name of the per-group gauge with the last failed push time.
pub const PUSH_FAILURE_TIME_METRIC: &str = "push_failure_time_seconds";
const PUSH_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway succeeded.";
const PUSH_FAILURE_TIME_HELP: &str =
    "Last Unix time when changing this group in the Pushgateway failed.";

/// How the store treats pushes.
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// Check every push against the stored metrics (the default in the Go
    /// gateway). When off, only what a push must satisfy on its own is
    /// checked, and inconsistencies surface at scrape time.
    pub skip_consistency_check: bool,
    /// Metric and label name rules.
    pub names: NameRules,
    /// The gateway's own metric families (name, type): pushed families may
    /// share their names only with the same type.
    pub own_families: Vec<(String, MetricType)>,
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
}

/// A change to the store. Every write — push, recorded failure, delete,
/// wipe, restore — is one of these and goes through [`Store::apply`].
#[derive(Debug, Clone)]
pub enum WriteRequest {
    /// Store prepared families in a group (`replace`: PUT, else POST).
    Push {
        /// The group.
        key: GroupingKey,
        /// The pushed families, prepared, without the push-time gauges.
        families: Vec<Arc<StoredFamily>>,
        /// Replace the whole group (PUT) or only same-name families (POST).
        replace: bool,
        /// When the push arrived.
        at: PushTime,
    },
    /// Record a failed push in a group's `push_failure_time_seconds`.
    Fail {
        /// The group.
        key: GroupingKey,
        /// When the push arrived.
        at: PushTime,
    },
    /// Delete a group.
    Delete {
        /// The group.
        key: GroupingKey,
    },
    /// Delete every group.
    Wipe,
    /// Install a group as it was persisted (families include the
    /// push-time gauges).
    Restore {
        /// The group.
        key: GroupingKey,
        /// Its families, prepared.
        families: Vec<Arc<StoredFamily>>,
        /// When its last successful push was.
        push_time: PushTime,
        /// When its last failed push was.
        failure_time: PushTime,
    },
}

/// What a write hands back: a way to wait until the change is durable
/// (immediately, when nothing is persisted or persistence is snapshot-only).
#[must_use = "a change is durable only once its receipt has been waited on"]
pub struct Receipt {
    pending: Option<(u64, Arc<Journal>)>,
}

impl Receipt {
    fn done() -> Receipt {
        Receipt { pending: None }
    }

    /// Waits until the change is on disk.
    pub async fn durable(self) -> Result<(), PersistError> {
        match self.pending {
            Some((lsn, journal)) => journal.wait(lsn).await,
            None => Ok(()),
        }
    }

    /// Blocks until the change is on disk.
    pub fn wait(self) -> Result<(), PersistError> {
        match self.pending {
            Some((lsn, journal)) => journal.wait_blocking(lsn),
            None => Ok(()),
        }
    }
}

struct WriteState {
    index: Index,
    journal: Option<Arc<Journal>>,
}

impl WriteState {
    /// Appends a journal record for the change being applied.
    fn log(&self, build: impl FnOnce(u64) -> Vec<u8>) -> Receipt {
        match &self.journal {
            Some(j) => Receipt {
                pending: Some((j.append(build), j.clone())),
            },
            None => Receipt::done(),
        }
    }
}

/// The Pushgateway's metric store.
pub struct Store {
    options: StoreOptions,
    hasher: SeriesHasher,
    write: Mutex<WriteState>,
    groups: RwLock<BTreeMap<GroupingKey, Arc<Group>>>,
    changes: AtomicU64,
}

impl Store {
    /// An empty store.
    pub fn new(options: StoreOptions) -> Store {
        let mut index = Index::default();
        for (name, t) in &options.own_families {
            index.reserve(name, *t);
        }
        Store {
            options,
            hasher: SeriesHasher::default(),
            write: Mutex::new(WriteState {
                index,
                journal: None,
            }),
            groups: RwLock::new(BTreeMap::new()),
            changes: AtomicU64::new(0),
        }
    }

    /// The options the store was made with.
    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    /// Pushes families into a group (PUT when `replace`, else POST).
    ///
    /// On success the group holds the families and `push_time_seconds`
    /// says `at`. On failure the store keeps its contents, except that the
    /// group's `push_failure_time_seconds` records `at` (the group is
    /// created for that if it does not exist and its gauges fit).
    pub fn push<S: AsRef<str>>(
        &self,
        key: GroupingKey,
        families: &[MetricFamily<S>],
        replace: bool,
        at: PushTime,
    ) -> Result<Receipt, PushError> {
        let prepared = match self.prepare(&key, families, at) {
            Ok(prepared) => prepared,
            Err(e) => {
                // Recording the failure cannot fail.
                let _ = self.apply(WriteRequest::Fail { key, at });
                return Err(e);
            }
        };
        self.apply(WriteRequest::Push {
            key,
            families: prepared,
            replace,
            at,
        })
    }

    /// Prepares pushed families for a group: everything a push costs that
    /// needs no lock. Fails on timestamps and on problems a push has on its
    /// own (invalid names, values of the wrong type, bad labels).
    pub fn prepare<S: AsRef<str>>(
        &self,
        key: &GroupingKey,
        families: &[MetricFamily<S>],
        at: PushTime,
    ) -> Result<Vec<Arc<StoredFamily>>, PushError> {
        if families
            .iter()
            .any(|f| f.metrics.iter().any(|m| m.timestamp_ms.is_some()))
        {
            return Err(PushError::Timestamps);
        }
        let mut errors = Vec::new();
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
                    &mut errors,
                ))
            })
            .collect();
        if !errors.is_empty() {
            return Err(PushError::Invalid(join_errors(&errors)));
        }
        prepared.sort_by(|a, b| a.name().cmp(b.name()));
        prepared.dedup_by(|later, earlier| later.name() == earlier.name());
        Ok(prepared)
    }

    /// Deletes a group (no-op if it does not exist).
    pub fn delete(&self, key: GroupingKey) -> Receipt {
        // Deleting cannot fail.
        self.apply(WriteRequest::Delete { key })
            .unwrap_or_else(|_| Receipt::done())
    }

    /// Deletes every group.
    pub fn wipe(&self) -> Receipt {
        self.apply(WriteRequest::Wipe)
            .unwrap_or_else(|_| Receipt::done())
    }

    /// Applies one write. This is the only place the store changes; with a
    /// journal attached, the change is appended to it here, in apply order.
    pub fn apply(&self, request: WriteRequest) -> Result<Receipt, PushError> {
        let mut state = self.write.lock();
        self.changes.fetch_add(1, Ordering::Relaxed);
        match request {
            WriteRequest::Push {
                key,
                families,
                replace,
                at,
            } => self.apply_push(&mut state, key, families, replace, at),
            WriteRequest::Fail { key, at } => {
                let receipt = state.log(|lsn| codec::fail_record(lsn, &key, at));
                self.record_failure(&mut state, key, at);
                Ok(receipt)
            }
            WriteRequest::Delete { key } => {
                let receipt = state.log(|lsn| codec::delete_record(lsn, &key));
                let removed = self.groups.write().remove(&key);
                if let Some(group) = removed {
                    if !self.options.skip_consistency_check {
                        for f in group.families() {
                            state.index.remove(f);
                        }
                    }
                }
                Ok(receipt)
            }
            WriteRequest::Wipe => {
                let receipt = state.log(codec::wipe_record);
                let old = std::mem::take(&mut *self.groups.write());
                state.index.clear();
                // Free the groups outside the readers' lock.
                drop(old);
                Ok(receipt)
            }
            WriteRequest::Restore {
                key,
                mut families,
                push_time,
                failure_time,
            } => {
                families.sort_by(|a, b| a.name().cmp(b.name()));
                let old = self.groups.read().get(&key).cloned();
                if !self.options.skip_consistency_check {
                    let change = Change {
                        removed: old
                            .iter()
                            .flat_map(|g| g.families().iter().map(|f| &**f))
                            .collect(),
                        added: families.iter().map(|f| &**f).collect(),
                    };
                    let errors = state.index.check(&change);
                    if !errors.is_empty() {
                        tracing::warn!(group = %key, problems = %join_errors(&errors), "restored group is inconsistent with the others; keeping it");
                    }
                    for f in &change.removed {
                        state.index.remove(f);
                    }
                    for f in &change.added {
                        state.index.add(f);
                    }
                }
                let group = Group {
                    key: key.clone(),
                    families,
                    push_time,
                    failure_time,
                };
                self.groups.write().insert(key, Arc::new(group));
                Ok(Receipt::done())
            }
        }
    }

    /// Attaches a journal: from now on every change is appended to it.
    pub(crate) fn attach_journal(&self, journal: Arc<Journal>) {
        self.write.lock().journal = Some(journal);
    }

    /// The groups and the journal position they reflect, taken atomically;
    /// the journal moves to a new segment at that point. Returns the first
    /// LSN of the new segment (0 without a journal).
    pub(crate) fn checkpoint(&self) -> (Snapshot, u64) {
        let state = self.write.lock();
        let snapshot = Snapshot {
            groups: self.groups.read().values().cloned().collect(),
        };
        let next = state.journal.as_ref().map_or(0, |j| j.rotate());
        (snapshot, next)
    }

    /// How many writes have been applied (for "changed since" checks).
    pub fn change_count(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// Prepares one family read from disk for `key`, keeping its own push
    /// time; problems (a family stored under other name rules) are logged.
    pub(crate) fn prepare_restored<S: AsRef<str>>(
        &self,
        key: &GroupingKey,
        family: &MetricFamily<S>,
        at: PushTime,
    ) -> StoredFamily {
        let mut errors = Vec::new();
        let f = prepare(
            family,
            key,
            at,
            self.options.names,
            &self.hasher,
            &mut Scratch::default(),
            &mut errors,
        );
        if !errors.is_empty() {
            tracing::warn!(group = %key, family = family.name.as_ref(), problems = %join_errors(&errors), "restored family does not pass today's checks; keeping it");
        }
        f
    }

    fn apply_push(
        &self,
        state: &mut WriteState,
        key: GroupingKey,
        pushed: Vec<Arc<StoredFamily>>,
        replace: bool,
        at: PushTime,
    ) -> Result<Receipt, PushError> {
        let old = self.groups.read().get(&key).cloned();
        let push_gauge = Arc::new(self.time_gauge(&key, PUSH_TIME_METRIC, at, at));
        let old_failure = old
            .as_ref()
            .and_then(|g| g.family(PUSH_FAILURE_TIME_METRIC).cloned());
        let new_failure = match &old_failure {
            Some(_) => None,
            None => Some(Arc::new(self.time_gauge(
                &key,
                PUSH_FAILURE_TIME_METRIC,
                PushTime::default(),
                at,
            ))),
        };

        // Families leaving the store: everything of the old group a PUT
        // replaces (except the failure gauge), or the same-name ones for a
        // POST; the old push-time gauge always.
        let mut removed: Vec<&StoredFamily> = Vec::new();
        let mut kept: Vec<Arc<StoredFamily>> = Vec::new();
        if let Some(old) = &old {
            for f in old.families() {
                let name = f.name();
                let goes = name == PUSH_TIME_METRIC
                    || (name != PUSH_FAILURE_TIME_METRIC
                        && (replace || pushed.binary_search_by(|p| p.name().cmp(name)).is_ok()));
                if goes {
                    removed.push(f);
                } else {
                    kept.push(f.clone());
                }
            }
        }
        let mut added: Vec<&StoredFamily> = pushed.iter().map(|f| &**f).collect();
        added.push(&push_gauge);
        if let Some(f) = &new_failure {
            added.push(f);
        }
        let change = Change { removed, added };
        if !self.options.skip_consistency_check {
            let errors = state.index.check(&change);
            if !errors.is_empty() {
                drop(change);
                let _ = state.log(|lsn| codec::fail_record(lsn, &key, at));
                self.record_failure(state, key, at);
                return Err(PushError::Invalid(join_errors(&errors)));
            }
            state.index.apply(&change);
        }
        drop(change);
        let receipt = state.log(|lsn| codec::push_record(lsn, &key, replace, at, &pushed));

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
        let previous = self.groups.write().insert(key, Arc::new(group));
        // Free the replaced group outside the readers' lock.
        drop(previous);
        Ok(receipt)
    }

    /// Sets a group's `push_failure_time_seconds` to `at`, creating the
    /// group (with a zero `push_time_seconds`) if it does not exist — unless
    /// its gauges would collide with stored series, which would make the
    /// store inconsistent.
    fn record_failure(&self, state: &mut WriteState, key: GroupingKey, at: PushTime) {
        let old = self.groups.read().get(&key).cloned();
        let failure = Arc::new(self.time_gauge(&key, PUSH_FAILURE_TIME_METRIC, at, at));
        let check = !self.options.skip_consistency_check;
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
                        state.index.remove(previous);
                    }
                    state.index.add(&failure);
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
                let push =
                    Arc::new(self.time_gauge(&key, PUSH_TIME_METRIC, PushTime::default(), at));
                if check {
                    if !state.index.series_free(&push) || !state.index.series_free(&failure) {
                        tracing::debug!(group = %key, "not creating a group for a failed push: its gauges would collide");
                        return;
                    }
                    state.index.add(&push);
                    state.index.add(&failure);
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

    /// A push-time gauge for a group: the grouping labels (plus
    /// `instance=""`), the given time as value, stored at `at`.
    fn time_gauge(
        &self,
        key: &GroupingKey,
        name: &str,
        value: PushTime,
        at: PushTime,
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
        let mut errors = Vec::new();
        prepare(
            &family,
            key,
            at,
            self.options.names,
            &self.hasher,
            &mut Scratch::default(),
            &mut errors,
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

    /// Number of series in the consistency index (0 when checks are off).
    pub fn indexed_series(&self) -> usize {
        self.write.lock().index.series_count()
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

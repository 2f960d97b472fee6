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

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use exposition::{LabelPair, Metric, MetricFamily, MetricType, NameValidation, Value};
use hashbrown::HashMap;
use parking_lot::{Mutex, RwLock};

use crate::changelog::{ChangeLog, LogError, MemoryLog, Position, Ticket};
use crate::error::WriteError;
use crate::family::{prepare, Scratch, SeriesHasher, StoredFamily};
use crate::index::{Change, Index};
use crate::key::GroupingKey;
use crate::problem::{Problem, Problems};
use crate::selector::Selector;
use crate::time::PushTime;
use crate::write::{DeleteMode, GroupImage, Lifetime, Origin, PushMode, Write};

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
    /// The lifetime of a group pushed without one of its own, and of a group
    /// a failed push creates.
    pub default_lifetime: Lifetime,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            consistency: ConsistencyCheck::default(),
            names: NameValidation::default(),
            own_families: Vec::new(),
            max_groups: u64::MAX,
            default_lifetime: Lifetime::Forever,
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
    lifetime: Lifetime,
    /// `lifetime` counted from the last successful push (or, for a group
    /// a failed push created, from its creation).
    expires_at: Option<PushTime>,
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

    /// How long the group lives after its last successful push.
    pub fn lifetime(&self) -> Lifetime {
        self.lifetime
    }

    /// When the group expires (`None`: never).
    pub fn expires_at(&self) -> Option<PushTime> {
        self.expires_at
    }

    /// When the last push reached the group, successful or not.
    pub fn last_push_attempt(&self) -> PushTime {
        self.push_time.max(self.failure_time)
    }

    /// Whether the group's lifetime is over at `now`.
    pub fn is_expired_at(&self, now: PushTime) -> bool {
        self.expires_at.is_some_and(|deadline| deadline <= now)
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
            lifetime: self.lifetime,
            expires_at: self.expires_at,
        }
    }
}

/// A push the store refused, and the record of its failure: the group's
/// `push_failure_time_seconds`, which becomes visible once `recorded` is
/// durable (wait for it with [`Store::durable`] before answering, so that
/// the client reads it back).
#[derive(Debug)]
pub struct Rejected {
    /// Why the push was refused.
    pub error: WriteError,
    /// The record of the failure (already durable when nothing was recorded).
    pub recorded: Ticket,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Rejected {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
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

/// A change to the groups readers see.
enum Publication {
    Put(GroupingKey, Arc<Group>),
    Remove(GroupingKey),
    Wipe,
}

/// What writers work on, under the write lock: the consistency index, and
/// the groups as the latest writes left them. Writes the change log has not
/// made durable yet are kept here, out of readers' sight, until it has; if
/// it cannot, they are dropped, and readers never saw them.
struct WriteSide {
    index: Index,
    /// Groups changed by writes not yet durable: the latest version of each
    /// (`None`: deleted) with the position of the write that made it.
    unpublished: HashMap<GroupingKey, (Position, Option<Arc<Group>>), foldhash::fast::RandomState>,
    /// A wipe not yet durable hides every group readers see from writers.
    wiped_at: Option<Position>,
    /// Those writes' changes in log order, to publish once durable.
    queue: VecDeque<(Position, Publication)>,
    /// How many groups writers see.
    group_count: usize,
    /// The changes of the write being applied.
    staged: Vec<Publication>,
    /// The groups writers see that expire, by deadline: a sweep finds the
    /// due ones without looking at the others.
    deadlines: BTreeSet<(PushTime, GroupingKey)>,
    /// Groups the write being applied found expired and removed first.
    expired_by_write: u64,
}

/// The Pushgateway's metric store.
pub struct Store {
    options: StoreOptions,
    hasher: SeriesHasher,
    log: Arc<dyn ChangeLog>,
    /// The write lock; it guards the write side and orders appends to the
    /// log.
    write: Mutex<WriteSide>,
    /// The groups readers see: every durable write, and only those.
    groups: RwLock<BTreeMap<GroupingKey, Arc<Group>>>,
    changes: AtomicU64,
    /// Groups removed by expiry here.
    expired: AtomicU64,
    /// Whether any group has had a lifetime.
    lifetimes_used: AtomicBool,
}

impl Store {
    /// An empty store whose writes go nowhere ([`MemoryLog`]).
    pub fn new(options: StoreOptions) -> Store {
        Store::with_change_log(options, Arc::new(MemoryLog::default()))
    }

    /// An empty store whose local writes go to `log`.
    pub fn with_change_log(options: StoreOptions, log: Arc<dyn ChangeLog>) -> Store {
        let index = empty_index(&options);
        let lifetimes_used = options.default_lifetime != Lifetime::Forever;
        Store {
            options,
            hasher: SeriesHasher::default(),
            log,
            write: Mutex::new(WriteSide {
                index,
                unpublished: HashMap::default(),
                wiped_at: None,
                queue: VecDeque::new(),
                group_count: 0,
                staged: Vec::new(),
                deadlines: BTreeSet::new(),
                expired_by_write: 0,
            }),
            groups: RwLock::new(BTreeMap::new()),
            changes: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            lifetimes_used: AtomicBool::new(lifetimes_used),
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
    ) -> Result<Ticket, Rejected> {
        self.push_for(key, families, mode, at, self.options.default_lifetime)
    }

    /// [`Store::push`], giving the group `lifetime` from `at` on (a failed
    /// push leaves an existing group's lifetime as it was).
    pub fn push_for<S: AsRef<str>>(
        &self,
        key: GroupingKey,
        families: &[MetricFamily<S>],
        mode: PushMode,
        at: PushTime,
        lifetime: Lifetime,
    ) -> Result<Ticket, Rejected> {
        match self.prepare(&key, families, at) {
            Ok(families) => {
                let push = Write::Push {
                    key,
                    families,
                    mode,
                    at,
                    lifetime,
                };
                self.apply_recording(push, Origin::Local)
                    .map_err(|(error, recorded)| Rejected { error, recorded })
            }
            Err(error) => {
                // The push is refused whatever happens to the record of its
                // failure (a fenced log refuses that too).
                let lifetime = self.options.default_lifetime;
                let recorded = self
                    .apply(Write::Fail { key, at, lifetime }, Origin::Local)
                    .unwrap_or_else(|_| Ticket::done());
                Err(Rejected { error, recorded })
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
        self.apply_recording(write, origin)
            .map_err(|(error, _)| error)
    }

    /// [`Store::apply`], also handing back, for a push refused as
    /// inconsistent, the ticket of the recorded failure.
    fn apply_recording(
        &self,
        write: Write,
        origin: Origin,
    ) -> Result<Ticket, (WriteError, Ticket)> {
        let record = match origin {
            Origin::Local => Some(self.log.encode(&write)),
            Origin::Log => None,
        };
        let max_groups = match origin {
            Origin::Local => self.options.max_groups,
            Origin::Log => u64::MAX,
        };
        // Groups a write replaces are freed after the write lock is let go
        // (declared first, dropped last).
        let mut retired = Vec::new();
        let mut side = self.write.lock();
        if origin == Origin::Local {
            self.log
                .check()
                .map_err(|e| (WriteError::Log(e), Ticket::done()))?;
        }
        side.expired_by_write = 0;
        let outcome = match write {
            Write::Push {
                key,
                families,
                mode,
                at,
                lifetime,
            } => match self.apply_push(&mut side, &key, families, mode, at, lifetime, max_groups) {
                Err(Refusal::Inconsistent(problems)) => {
                    let lifetime = self.options.default_lifetime;
                    self.record_failure(&mut side, key.clone(), at, lifetime, max_groups);
                    self.changes.fetch_add(1, Ordering::Relaxed);
                    self.count_expired(&mut side, origin);
                    let failure = Write::Fail { key, at, lifetime };
                    let ticket = match origin {
                        // The record of the failure replaces the push's.
                        Origin::Local => self.log.append(self.log.encode(&failure)),
                        Origin::Log => Ticket::done(),
                    };
                    self.settle(&mut side, &ticket, &mut retired);
                    return Err((WriteError::Rejected(problems), ticket));
                }
                other => other,
            },
            Write::Fail { key, at, lifetime } => {
                self.record_failure(&mut side, key, at, lifetime, max_groups);
                Ok(())
            }
            Write::Delete { key } => {
                if let Some(group) = self.current(&side, &key) {
                    self.remove_group(&mut side, key, &group);
                }
                Ok(())
            }
            Write::DeleteUnchanged { key, last_push } => match self.current(&side, &key) {
                Some(group) if group.last_push_attempt() == last_push => {
                    self.remove_group(&mut side, key, &group);
                    Ok(())
                }
                // Pushed to, deleted or expired since it was selected.
                _ => Err(Refusal::Refused(WriteError::Changed)),
            },
            Write::Expire { key, deadline } => {
                // A push since the sweep looked has renewed the group.
                let due = self
                    .current(&side, &key)
                    .filter(|g| g.expires_at == Some(deadline));
                if let Some(group) = due {
                    self.remove_group(&mut side, key, &group);
                    side.expired_by_write += 1;
                }
                Ok(())
            }
            Write::Wipe => {
                side.index.clear();
                side.group_count = 0;
                side.deadlines.clear();
                side.staged.push(Publication::Wipe);
                Ok(())
            }
            Write::Restore(image) => {
                self.restore(&mut side, image);
                Ok(())
            }
        };
        match outcome {
            Ok(()) => {
                self.changes.fetch_add(1, Ordering::Relaxed);
                self.count_expired(&mut side, origin);
                let ticket = match record {
                    Some(record) => self.log.append(record),
                    None => Ticket::done(),
                };
                self.settle(&mut side, &ticket, &mut retired);
                Ok(ticket)
            }
            Err(Refusal::Refused(e)) => {
                side.staged.clear();
                Err((e, Ticket::done()))
            }
            Err(Refusal::Inconsistent(problems)) => {
                Err((WriteError::Rejected(problems), Ticket::done()))
            }
        }
    }

    /// Settles the staged changes of the write just appended: shown to
    /// readers at once when it is durable already, kept back until it is
    /// when the log will say so later, and dropped (with everything not yet
    /// durable) when the log could not take it.
    fn settle(&self, side: &mut WriteSide, ticket: &Ticket, retired: &mut Vec<Replaced>) {
        let staged = std::mem::take(&mut side.staged);
        if ticket.is_failed() {
            // The staged changes are already in the writers' index: build
            // it again without them. Earlier writes still waiting may have
            // been durable before the log failed; whoever learns how far it
            // got decides their fate (`discard_after`).
            drop(staged);
            self.rebuild_writer_view(side);
        } else if let Some(position) = ticket.pending_position() {
            for change in staged {
                match &change {
                    Publication::Put(key, group) => {
                        side.unpublished
                            .insert(key.clone(), (position, Some(group.clone())));
                    }
                    Publication::Remove(key) => {
                        side.unpublished.insert(key.clone(), (position, None));
                    }
                    Publication::Wipe => {
                        side.unpublished.clear();
                        side.wiped_at = Some(position);
                    }
                }
                side.queue.push_back((position, change));
            }
        } else {
            let mut groups = self.groups.write();
            retired.extend(
                staged
                    .into_iter()
                    .map(|change| publish_change(&mut groups, change)),
            );
        }
    }

    /// Shows readers every write up to `through`, which the change log has
    /// made durable. Whoever learns of durability may call this: the writer
    /// that waited for it, or a watcher of the log for writers that left.
    pub fn publish(&self, through: Position) {
        let mut retired = Vec::new();
        let mut side = self.write.lock();
        self.publish_locked(&mut side, through, &mut retired);
    }

    /// Publishes the queued writes up to `through`; the groups they replace
    /// go to `retired`, for the caller to free outside the locks.
    fn publish_locked(&self, side: &mut WriteSide, through: Position, retired: &mut Vec<Replaced>) {
        if side.queue.front().is_none_or(|(p, _)| *p > through) {
            return;
        }
        let mut groups = self.groups.write();
        while side.queue.front().is_some_and(|(p, _)| *p <= through) {
            if let Some((_, change)) = side.queue.pop_front() {
                retired.push(publish_change(&mut groups, change));
            }
        }
        drop(groups);
        side.unpublished.retain(|_, (p, _)| *p > through);
        if side.wiped_at.is_some_and(|p| p <= through) {
            side.wiped_at = None;
        }
    }

    /// The change log failed after making every write up to `durable_through`
    /// durable: shows those to readers and drops every later one, which it
    /// can no longer make durable, so writers see what readers see again.
    pub fn discard_after(&self, durable_through: Position) {
        let mut retired = Vec::new();
        let mut side = self.write.lock();
        self.publish_locked(&mut side, durable_through, &mut retired);
        side.staged.clear();
        if side.queue.is_empty() && side.unpublished.is_empty() && side.wiped_at.is_none() {
            return;
        }
        side.queue.clear();
        side.unpublished.clear();
        side.wiped_at = None;
        self.rebuild_writer_view(&mut side);
    }

    /// Builds the writers' index and group count again from what readers
    /// see overlaid with the writes still waiting to be durable.
    fn rebuild_writer_view(&self, side: &mut WriteSide) {
        let groups = self.groups.read();
        let mut index = empty_index(&self.options);
        let mut count = 0;
        let mut deadlines = BTreeSet::new();
        let checks = self.checks();
        let mut take = |group: &Group| {
            count += 1;
            if let Some(deadline) = group.expires_at {
                deadlines.insert((deadline, group.key.clone()));
            }
            if checks {
                for f in group.families() {
                    index.add(f);
                }
            }
        };
        if side.wiped_at.is_none() {
            for (key, group) in groups.iter() {
                if !side.unpublished.contains_key(key) {
                    take(group);
                }
            }
        }
        for group in side.unpublished.values().filter_map(|(_, g)| g.as_deref()) {
            take(group);
        }
        drop(groups);
        side.index = index;
        side.group_count = count;
        side.deadlines = deadlines;
        self.changes.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits until a write is durable, then shows it to readers (so that
    /// whoever made it reads it back).
    pub async fn durable(&self, ticket: Ticket) -> Result<(), LogError> {
        let position = ticket.pending_position();
        ticket.durable().await?;
        if let Some(position) = position {
            self.publish(position);
        }
        Ok(())
    }

    /// [`Store::durable`], blocking.
    pub fn wait(&self, ticket: Ticket) -> Result<(), LogError> {
        let position = ticket.pending_position();
        ticket.wait()?;
        if let Some(position) = position {
            self.publish(position);
        }
        Ok(())
    }

    /// The group as writers see it.
    fn current(&self, side: &WriteSide, key: &GroupingKey) -> Option<Arc<Group>> {
        match side.unpublished.get(key) {
            Some((_, group)) => group.clone(),
            None if side.wiped_at.is_some() => None,
            None => self.groups.read().get(key).cloned(),
        }
    }

    /// The groups readers see and the change-log position they reflect,
    /// taken atomically (for snapshots): writes not yet durable are not in
    /// them, and the position stops before the first of those.
    pub fn checkpoint(&self) -> (Snapshot, Position) {
        let side = self.write.lock();
        let logged = self.log.checkpoint();
        let position = match side.queue.front() {
            Some((first, _)) => first.saturating_sub(1),
            None => logged,
        };
        (self.snapshot(), position)
    }

    /// Tells the change log that a durable snapshot holds everything up to
    /// `through`.
    pub fn compact_log(&self, through: Position) {
        self.log.compact(through);
    }

    /// Whether the store takes writes now: it refuses them while its change
    /// log cannot make them durable.
    pub fn writable(&self) -> Result<(), LogError> {
        self.log.check()
    }

    /// How many writes have been applied (for "changed since" checks).
    pub fn change_count(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    fn checks(&self) -> bool {
        self.options.consistency == ConsistencyCheck::OnPush
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_push(
        &self,
        side: &mut WriteSide,
        key: &GroupingKey,
        pushed: Vec<Arc<StoredFamily>>,
        mode: PushMode,
        at: PushTime,
        lifetime: Lifetime,
        max_groups: u64,
    ) -> Result<(), Refusal> {
        let old = self.live(side, key, at);
        if old.is_none() && side.group_count as u64 >= max_groups {
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
            let problems = side.index.check(&change);
            if !problems.is_empty() {
                return Err(Refusal::Inconsistent(problems.into()));
            }
            side.index.apply(&change);
        }
        drop(change);

        let mut families = kept;
        families.extend(pushed);
        families.push(push_gauge);
        families.extend(new_failure);
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let failure_time = old.as_ref().map_or(PushTime::default(), |g| g.failure_time);
        let expires_at = lifetime.deadline(at);
        self.track_deadline(
            side,
            key,
            old.as_ref().and_then(|g| g.expires_at),
            expires_at,
        );
        let group = Group {
            key: key.clone(),
            families,
            push_time: at,
            failure_time,
            lifetime,
            expires_at,
        };
        if old.is_none() {
            side.group_count += 1;
        }
        side.staged
            .push(Publication::Put(key.clone(), Arc::new(group)));
        Ok(())
    }

    /// Sets a group's `push_failure_time_seconds` to `at`, creating the
    /// group (with a zero `push_time_seconds`) if it does not exist, unless
    /// that would exceed `max_groups` or its gauges would collide with
    /// stored series (which would make the store inconsistent).
    fn record_failure(
        &self,
        side: &mut WriteSide,
        key: GroupingKey,
        at: PushTime,
        lifetime: Lifetime,
        max_groups: u64,
    ) {
        let old = self.live(side, &key, at);
        let previous = old
            .as_ref()
            .and_then(|g| g.family(PUSH_FAILURE_TIME_METRIC));
        let failure = Arc::new(self.time_gauge(&key, PUSH_FAILURE_TIME_METRIC, at, at, previous));
        let check = self.checks();
        let existed = old.is_some();
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
                        side.index.remove(previous);
                    }
                    side.index.add(&failure);
                }
                families.push(failure);
                families.sort_by(|a, b| a.name().cmp(b.name()));
                Group {
                    key: key.clone(),
                    families,
                    push_time: old.push_time,
                    failure_time: at,
                    lifetime: old.lifetime,
                    expires_at: old.expires_at,
                }
            }
            None => {
                if side.group_count as u64 >= max_groups {
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
                    if !side.index.series_free(&push) || !side.index.series_free(&failure) {
                        tracing::debug!(group = %key, "not creating a group for a failed push: its gauges would collide");
                        return;
                    }
                    side.index.add(&push);
                    side.index.add(&failure);
                }
                let mut families = vec![failure, push];
                families.sort_by(|a, b| a.name().cmp(b.name()));
                // A group a failure creates lives by the default lifetime
                // counted from its creation.
                let expires_at = lifetime.deadline(at);
                self.track_deadline(side, &key, None, expires_at);
                Group {
                    key: key.clone(),
                    families,
                    push_time: PushTime::default(),
                    failure_time: at,
                    lifetime,
                    expires_at,
                }
            }
        };
        if !existed {
            side.group_count += 1;
        }
        side.staged.push(Publication::Put(key, Arc::new(group)));
    }

    /// Installs a group as a snapshot kept it. A group that does not fit the
    /// others is kept (and logged): it was accepted once.
    fn restore(&self, side: &mut WriteSide, image: GroupImage) {
        let GroupImage {
            key,
            mut families,
            push_time,
            failure_time,
            lifetime,
            expires_at,
        } = image;
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let old = self.current(side, &key);
        if self.checks() {
            let change = Change::new(
                old.iter()
                    .flat_map(|g| g.families().iter().map(|f| &**f))
                    .collect(),
                families.iter().map(|f| &**f).collect(),
            );
            let problems = side.index.check(&change);
            if !problems.is_empty() {
                tracing::warn!(group = %key, problems = %Problems::from(problems), "restored group is inconsistent with the others; keeping it");
            }
            side.index.apply(&change);
        }
        self.track_deadline(
            side,
            &key,
            old.as_ref().and_then(|g| g.expires_at),
            expires_at,
        );
        let group = Group {
            key: key.clone(),
            families,
            push_time,
            failure_time,
            lifetime,
            expires_at,
        };
        if old.is_none() {
            side.group_count += 1;
        }
        side.staged.push(Publication::Put(key, Arc::new(group)));
    }

    /// The group as writers see it, unless its lifetime ended by `at`: an
    /// expired group the sweep has not removed yet is removed first, as its
    /// expiry would remove it, so that no write merges into it or renews
    /// it. (Replay sees the same `at`, so it does the same.)
    fn live(&self, side: &mut WriteSide, key: &GroupingKey, at: PushTime) -> Option<Arc<Group>> {
        let group = self.current(side, key)?;
        if !group.is_expired_at(at) {
            return Some(group);
        }
        // A refused push's failure record comes after the push removed it.
        let removed = side
            .staged
            .iter()
            .any(|c| matches!(c, Publication::Remove(k) if k == key));
        if !removed {
            self.remove_group(side, key.clone(), &group);
            side.expired_by_write += 1;
        }
        None
    }

    /// Takes a group out of the writers' view (a delete or an expiry).
    fn remove_group(&self, side: &mut WriteSide, key: GroupingKey, group: &Group) {
        if self.checks() {
            for f in group.families() {
                side.index.remove(f);
            }
        }
        side.group_count -= 1;
        self.track_deadline(side, &key, group.expires_at, None);
        side.staged.push(Publication::Remove(key));
    }

    /// Counts the groups the write just applied removed by expiry (only
    /// here: replayed expiries were counted by the process that made them).
    fn count_expired(&self, side: &mut WriteSide, origin: Origin) {
        let expired = std::mem::take(&mut side.expired_by_write);
        if origin == Origin::Local && expired > 0 {
            self.expired.fetch_add(expired, Ordering::Relaxed);
        }
    }

    /// Moves a group's entry in the deadline index from `old` to `new`.
    fn track_deadline(
        &self,
        side: &mut WriteSide,
        key: &GroupingKey,
        old: Option<PushTime>,
        new: Option<PushTime>,
    ) {
        if old == new {
            return;
        }
        if let Some(deadline) = old {
            side.deadlines.remove(&(deadline, key.clone()));
        }
        if let Some(deadline) = new {
            self.lifetimes_used.store(true, Ordering::Relaxed);
            side.deadlines.insert((deadline, key.clone()));
        }
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
        let hide = self.hide_expired_from();
        let groups = self.groups.read();
        match hide {
            None => Snapshot {
                groups: groups.values().cloned().collect(),
            },
            Some(now) => Snapshot {
                groups: groups
                    .values()
                    .filter(|g| !g.is_expired_at(now))
                    .cloned()
                    .collect(),
            },
        }
    }

    /// One group.
    pub fn group(&self, key: &GroupingKey) -> Option<Arc<Group>> {
        let hide = self.hide_expired_from();
        let group = self.groups.read().get(key).cloned()?;
        match hide {
            Some(now) if group.is_expired_at(now) => None,
            _ => Some(group),
        }
    }

    /// While the change log refuses writes, expired groups cannot be
    /// removed; reads then leave them out as of this moment.
    fn hide_expired_from(&self) -> Option<PushTime> {
        if !self.lifetimes_used.load(Ordering::Relaxed) || self.log.check().is_ok() {
            return None;
        }
        Some(PushTime::now())
    }

    /// Removes every group whose lifetime is over at `now`, each through
    /// the one write path (an [`Write::Expire`], logged like a delete). Costs
    /// O(expired groups). Answers the tickets to wait for; stops at the
    /// first write the change log refuses.
    pub fn expire_due(&self, now: PushTime) -> Result<Vec<Ticket>, WriteError> {
        let due: Vec<(PushTime, GroupingKey)> = {
            let side = self.write.lock();
            side.deadlines
                .iter()
                .take_while(|(deadline, _)| *deadline <= now)
                .cloned()
                .collect()
        };
        due.into_iter()
            .map(|(deadline, key)| self.apply(Write::Expire { key, deadline }, Origin::Local))
            .collect()
    }

    /// Deletes the groups any of `selectors` selects (a union), each through
    /// the one write path; with `pushed_before`, only those whose last push,
    /// successful or not, was before it. A group a push reaches (or that
    /// goes) after it was selected is kept and not reported. Answers the
    /// groups deleted (or, in a dry run, that would be) and the tickets to
    /// wait for.
    pub fn delete_matching(
        &self,
        selectors: &[Selector],
        pushed_before: Option<PushTime>,
        mode: DeleteMode,
    ) -> Result<(Vec<GroupingKey>, Vec<Ticket>), WriteError> {
        let selected: Vec<(GroupingKey, PushTime)> = self
            .snapshot()
            .groups()
            .iter()
            .filter(|g| Selector::any_matches(selectors, g.key()))
            .map(|g| (g.key().clone(), g.last_push_attempt()))
            .filter(|(_, last)| pushed_before.is_none_or(|before| *last < before))
            .collect();
        if mode == DeleteMode::DryRun {
            return Ok((
                selected.into_iter().map(|(key, _)| key).collect(),
                Vec::new(),
            ));
        }
        let (mut deleted, mut tickets) = (Vec::new(), Vec::new());
        for (key, last_push) in selected {
            let write = Write::DeleteUnchanged {
                key: key.clone(),
                last_push,
            };
            match self.apply(write, Origin::Local) {
                Ok(ticket) => {
                    deleted.push(key);
                    tickets.push(ticket);
                }
                Err(WriteError::Changed) => {}
                Err(e) => return Err(e),
            }
        }
        Ok((deleted, tickets))
    }

    /// How many groups expiry has removed since the store was made.
    pub fn expired_count(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    /// Whether any group has had a lifetime, or one is the default.
    pub fn lifetimes_used(&self) -> bool {
        self.lifetimes_used.load(Ordering::Relaxed)
    }

    /// Number of groups.
    pub fn group_count(&self) -> usize {
        self.groups.read().len()
    }
}

/// An index that knows only the gateway's own names.
fn empty_index(options: &StoreOptions) -> Index {
    let mut index = Index::default();
    for (name, t) in &options.own_families {
        index.reserve(name, *t);
    }
    index
}

/// What a published change took out of the readers' groups: freed after
/// the readers' and the writers' locks are released, so that neither waits
/// for a replaced group to be freed.
enum Replaced {
    One {
        _old: Option<Arc<Group>>,
    },
    All {
        _old: BTreeMap<GroupingKey, Arc<Group>>,
    },
}

/// Applies one change to the groups readers see.
fn publish_change(groups: &mut BTreeMap<GroupingKey, Arc<Group>>, change: Publication) -> Replaced {
    match change {
        Publication::Put(key, group) => Replaced::One {
            _old: groups.insert(key, group),
        },
        Publication::Remove(key) => Replaced::One {
            _old: groups.remove(&key),
        },
        Publication::Wipe => Replaced::All {
            _old: std::mem::take(groups),
        },
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

//! The budget for memory that requests in flight hold while their bodies
//! are read, decompressed and parsed (`--push.max-inflight-size`): one
//! global count of reserved bytes. A request reserves before it holds; when
//! the budget is spent it waits up to a second for others to finish, then
//! is refused with 503 and `Retry-After` instead of pushing the process
//! towards an OOM kill. What a request can never fit is refused at once.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

/// How long a request waits for others to free the budget.
const WAIT: Duration = Duration::from_secs(1);

/// Why a reservation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BudgetError {
    /// Others hold the budget now; retry.
    #[error("requests in flight hold the memory budget of {limit} bytes (--push.max-inflight-size); retry later")]
    Busy { limit: u64 },
    /// The request alone needs more than the whole budget.
    #[error("the request would hold {needed} bytes in memory, more than the budget of {limit} bytes (--push.max-inflight-size)")]
    TooLarge { needed: u64, limit: u64 },
}

/// The global budget; shared by every request.
///
/// Reserving and giving back are one atomic operation each while the budget
/// has room: a push reserves several times, and a lock taken by every
/// request would make the async workers queue behind each other. Only a
/// request that has to wait touches the lock and the wake-ups.
pub(crate) struct InflightBudget {
    limit: u64,
    used: AtomicU64,
    /// Requests waiting for bytes to be given back.
    waiting: AtomicUsize,
    /// Blocking waiters wait on `freed` under this lock.
    lock: Mutex<()>,
    freed: Condvar,
    freed_async: Notify,
}

impl InflightBudget {
    pub(crate) fn new(limit: u64) -> Arc<InflightBudget> {
        Arc::new(InflightBudget {
            limit,
            used: AtomicU64::new(0),
            waiting: AtomicUsize::new(0),
            lock: Mutex::new(()),
            freed: Condvar::new(),
            freed_async: Notify::new(),
        })
    }

    /// An empty reservation, to grow.
    pub(crate) fn empty(self: &Arc<Self>) -> Reservation {
        Reservation {
            budget: self.clone(),
            held: 0,
        }
    }

    /// Bytes reserved now.
    #[cfg(test)]
    pub(crate) fn used(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    fn check_fits(&self, needed: u64) -> Result<(), BudgetError> {
        if needed > self.limit {
            return Err(BudgetError::TooLarge {
                needed,
                limit: self.limit,
            });
        }
        Ok(())
    }

    fn try_take(&self, more: u64) -> bool {
        self.used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| {
                used.checked_add(more).filter(|total| *total <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        self.used.fetch_sub(bytes, Ordering::SeqCst);
        // A waiter counts itself before it tries to take, so either it sees
        // these bytes or it is counted here and woken.
        if self.waiting.load(Ordering::SeqCst) > 0 {
            drop(self.lock.lock());
            self.freed.notify_all();
            self.freed_async.notify_waiters();
        }
    }
}

/// Counts a request among the waiters while it waits.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn start(count: &'a AtomicUsize) -> Waiting<'a> {
        count.fetch_add(1, Ordering::SeqCst);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Bytes a request holds in the budget; given back when dropped.
pub(crate) struct Reservation {
    budget: Arc<InflightBudget>,
    held: u64,
}

impl Reservation {
    /// Bytes held now.
    pub(crate) fn held(&self) -> u64 {
        self.held
    }

    /// Makes the reservation at least `total` bytes, waiting up to a second
    /// (async: for the request's own task).
    pub(crate) async fn grow_to(&mut self, total: u64) -> Result<(), BudgetError> {
        let Some(more) = total.checked_sub(self.held).filter(|m| *m > 0) else {
            return Ok(());
        };
        self.budget.check_fits(total)?;
        if self.budget.try_take(more) {
            self.held = total;
            return Ok(());
        }
        let budget = self.budget.clone();
        let _waiting = Waiting::start(&budget.waiting);
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let freed = budget.freed_async.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if budget.try_take(more) {
                self.held = total;
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return Err(BudgetError::Busy {
                    limit: budget.limit,
                });
            }
        }
    }

    /// [`Reservation::grow_to`], blocking (for work on a blocking thread).
    pub(crate) fn grow_to_blocking(&mut self, total: u64) -> Result<(), BudgetError> {
        let Some(more) = total.checked_sub(self.held).filter(|m| *m > 0) else {
            return Ok(());
        };
        let budget = &*self.budget;
        budget.check_fits(total)?;
        if budget.try_take(more) {
            self.held = total;
            return Ok(());
        }
        let deadline = Instant::now() + WAIT;
        let mut guard = budget.lock.lock();
        let _waiting = Waiting::start(&budget.waiting);
        loop {
            if budget.try_take(more) {
                self.held = total;
                return Ok(());
            }
            if budget.freed.wait_until(&mut guard, deadline).timed_out() {
                return Err(BudgetError::Busy {
                    limit: budget.limit,
                });
            }
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.give_back(self.held);
    }
}

/// The default budget: a quarter of the memory this process may use (the
/// machine's, or its cgroup's when that is lower), at most 4 GiB.
pub(crate) fn default_budget() -> u64 {
    const CAP: u64 = 4 << 30;
    let total = memory_available_to_process().unwrap_or(CAP * 4);
    // Whole MiB, so that --help shows it plainly.
    ((total / 4) & !((1 << 20) - 1)).clamp(64 << 20, CAP)
}

fn memory_available_to_process() -> Option<u64> {
    let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let cgroup = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok());
    match (machine, cgroup) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_wait_for_each_other_then_refuse_and_give_back_on_drop() {
        let budget = InflightBudget::new(100);
        let mut first = budget.empty();
        first.grow_to(60).await.unwrap();
        let mut second = budget.empty();
        assert_eq!(
            second.grow_to(200).await,
            Err(BudgetError::TooLarge {
                needed: 200,
                limit: 100
            })
        );
        let started = tokio::time::Instant::now();
        assert_eq!(
            second.grow_to(50).await,
            Err(BudgetError::Busy { limit: 100 })
        );
        assert!(started.elapsed() >= WAIT);
        // Freed while waiting: the waiter gets it.
        let waiter = tokio::spawn(async move { second.grow_to(50).await.map(|()| second) });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(first);
        let second = waiter.await.unwrap().unwrap();
        assert_eq!(budget.used(), 50);
        drop(second);
        assert_eq!(budget.used(), 0);
        let mut blocking = budget.empty();
        blocking.grow_to_blocking(100).unwrap();
        assert_eq!(budget.used(), 100);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_reservations_never_exceed_the_budget() {
        let budget = InflightBudget::new(1000);
        let peak = Arc::new(AtomicU64::new(0));
        let mut tasks = Vec::new();
        for t in 0..8u64 {
            let (budget, peak) = (budget.clone(), peak.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..5000u64 {
                    let mut r = budget.empty();
                    r.grow_to(50 + (t * 37 + i) % 200).await.unwrap();
                    peak.fetch_max(budget.used(), Ordering::SeqCst);
                    if i % 16 == 0 {
                        tokio::task::yield_now().await;
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 1000);
        assert_eq!(budget.used(), 0);
        assert_eq!(budget.waiting.load(Ordering::SeqCst), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn giving_back_wakes_async_and_blocking_waiters() {
        let budget = InflightBudget::new(100);
        let mut full = budget.empty();
        full.grow_to(100).await.unwrap();
        let waiter = {
            let budget = budget.clone();
            tokio::spawn(async move {
                let mut r = budget.empty();
                r.grow_to(40).await.map(|()| r)
            })
        };
        let blocking = {
            let budget = budget.clone();
            tokio::task::spawn_blocking(move || {
                let mut r = budget.empty();
                r.grow_to_blocking(60).map(|()| r)
            })
        };
        // Both are waiting before the bytes come back.
        while budget.waiting.load(Ordering::SeqCst) < 2 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let started = tokio::time::Instant::now();
        drop(full);
        let (a, b) = (waiter.await.unwrap(), blocking.await.unwrap());
        assert!(a.is_ok() && b.is_ok());
        assert!(started.elapsed() < WAIT);
        assert_eq!(budget.used(), 100);
        drop((a, b));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn the_default_is_a_quarter_of_memory_at_most_4_gib() {
        let budget = default_budget();
        assert!((64 << 20..=4 << 30).contains(&budget), "{budget}");
    }
}

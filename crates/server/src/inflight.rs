//! The budget for memory that requests in flight hold while their bodies
//! are read, decompressed and parsed (`--push.max-inflight-size`): one
//! global count of reserved bytes. A request reserves before it holds; when
//! the budget is spent it waits up to a second for others to finish, then
//! is refused with 503 and `Retry-After` instead of pushing the process
//! towards an OOM kill. What a request can never fit is refused at once.

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
pub(crate) struct InflightBudget {
    limit: u64,
    used: Mutex<u64>,
    freed: Condvar,
    freed_async: Notify,
}

impl InflightBudget {
    pub(crate) fn new(limit: u64) -> Arc<InflightBudget> {
        Arc::new(InflightBudget {
            limit,
            used: Mutex::new(0),
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
        *self.used.lock()
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
        let mut used = self.used.lock();
        if *used + more <= self.limit {
            *used += more;
            true
        } else {
            false
        }
    }

    fn give_back(&self, bytes: u64) {
        if bytes == 0 {
            return;
        }
        *self.used.lock() -= bytes;
        self.freed.notify_all();
        self.freed_async.notify_waiters();
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
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let freed = self.budget.freed_async.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.budget.try_take(more) {
                self.held = total;
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, freed).await.is_err() {
                return Err(BudgetError::Busy {
                    limit: self.budget.limit,
                });
            }
        }
    }

    /// [`Reservation::grow_to`], blocking (for work on a blocking thread).
    pub(crate) fn grow_to_blocking(&mut self, total: u64) -> Result<(), BudgetError> {
        let Some(more) = total.checked_sub(self.held).filter(|m| *m > 0) else {
            return Ok(());
        };
        self.budget.check_fits(total)?;
        let deadline = Instant::now() + WAIT;
        let mut used = self.budget.used.lock();
        loop {
            if *used + more <= self.budget.limit {
                *used += more;
                self.held = total;
                return Ok(());
            }
            if self
                .budget
                .freed
                .wait_until(&mut used, deadline)
                .timed_out()
            {
                return Err(BudgetError::Busy {
                    limit: self.budget.limit,
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

    #[test]
    fn the_default_is_a_quarter_of_memory_at_most_4_gib() {
        let budget = default_budget();
        assert!((64 << 20..=4 << 30).contains(&budget), "{budget}");
    }
}

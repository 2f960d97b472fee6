//! The sweep that removes expired groups, each through the store's one
//! write path (journaled like a delete, so a restart never brings one back).

use std::time::Duration;

use store::PushTime;

use crate::state::AppState;

/// How often expired groups are looked for: a group goes at most this much
/// (plus the time to make its removal durable) after its deadline.
const SWEEP_INTERVAL: Duration = Duration::from_millis(250);

/// Removes expired groups every [`SWEEP_INTERVAL`], for as long as the
/// gateway runs. While the store refuses writes nothing is removed (reads
/// leave expired groups out meanwhile); the next sweep after writes resume
/// removes them.
pub async fn expire_periodically(state: AppState) {
    let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        expire_now(&state).await;
    }
}

/// Removes the groups expired by now and waits until their removal is
/// durable.
pub async fn expire_now(state: &AppState) {
    let store = state.store();
    let tickets = match store.expire_due(PushTime::now()) {
        Ok(tickets) => tickets,
        Err(e) => {
            tracing::debug!(err = %e, "expired groups cannot be removed now");
            return;
        }
    };
    for ticket in tickets {
        if let Err(e) = store.durable(ticket).await {
            tracing::debug!(err = %e.detail(), "the removal of an expired group was not persisted");
        }
    }
}

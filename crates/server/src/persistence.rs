//! Persistence wiring: open the store from `--persistence.file`, snapshot
//! every `--persistence.interval`, and close cleanly at shutdown.

use std::sync::Arc;
use std::time::Duration;

use store::{Persistence, PersistenceOptions};

use crate::flags::Config;

/// Opens persistence when a file is configured, logging what was loaded.
pub fn open(config: &Config) -> Result<Option<Arc<Persistence>>, store::PersistError> {
    if config.persistence_file.is_empty() {
        return Ok(None);
    }
    let options = PersistenceOptions {
        file: config.persistence_file.clone().into(),
        mode: config.persistence_mode,
        on_corruption: config.persistence_on_corruption,
    };
    let started = std::time::Instant::now();
    let (persistence, report) = Persistence::open(options, crate::state::store_options(config))?;
    if let Some(backup) = &report.go_backup {
        tracing::info!(
            file = %config.persistence_file,
            backup = %backup.display(),
            "imported a Go Pushgateway persistence file; kept it as it was, for going back to Go"
        );
    }
    for (i, warning) in report.warnings.iter().enumerate() {
        // Damage read past is an error to look into, logged first with
        // Go's message for a file it cannot load (unlike Go, what was
        // readable is kept, and the lines after say how); a torn tail
        // after a crash is expected.
        if report.corruption && i == 0 {
            tracing::error!(file = %config.persistence_file, err = %warning, "could not load persisted metrics");
        } else if report.corruption {
            tracing::warn!(file = %config.persistence_file, detail = %warning, "started with what was readable");
        } else {
            tracing::warn!(file = %config.persistence_file, problem = %warning, "persistence");
        }
    }
    tracing::info!(
        file = %config.persistence_file,
        groups = report.groups,
        replayed = report.replayed,
        go_file = report.imported_go_file,
        seconds = started.elapsed().as_secs_f64(),
        "metrics restored"
    );
    Ok(Some(Arc::new(persistence)))
}

/// Writes a snapshot every `interval` while anything changed.
pub async fn snapshot_periodically(persistence: Arc<Persistence>, interval: Duration) {
    let mut ticker = tokio::time::interval(interval.max(Duration::from_millis(100)));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let p = persistence.clone();
        match tokio::task::spawn_blocking(move || p.snapshot_if_changed()).await {
            Ok(Ok(true)) => {
                tracing::info!(file = %persistence.file().display(), "metrics persisted")
            }
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::error!(err = %e, "error persisting metrics"),
            Err(e) => tracing::error!(err = %e, "snapshot task failed"),
        }
    }
}

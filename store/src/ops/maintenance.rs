//! Supervised background work: the TTL sweeper, change-log trimming, and
//! the GSI backfill and restore tasks (their rounds are
//! [`super::rounds::work_through`]; the work itself is in [`super::gsi`] and
//! [`super::restore`]).
//!
//! Each task runs rounds forever: wait for its interval (or for the clock to
//! jump, so tests that advance a [`crate::clock::ManualClock`] get a round
//! at once), then do one bounded round of work through the engine. The
//! first round comes one interval after start, so a store opened and closed
//! at once (tests, restarts) is not held open by a round in flight. A round
//! that fails is logged and retried next time; a round that panics is
//! caught by the supervisor, logged, and the task starts again.
//!
//! Tasks hold the engine only weakly between rounds, so dropping the last
//! [`Store`] handle still closes the data directory.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::ttl::SweepCursors;
use super::Store;
use crate::engine::{Abort, Engine};
use crate::telemetry::Telemetry;

/// Settings of the background tasks.
#[derive(Debug, Clone)]
pub struct MaintenanceConfig {
    /// Pause between TTL sweep rounds.
    pub ttl_interval: Duration,
    /// Items examined per table per TTL round (bounds the sweeper's rate).
    pub ttl_scan_limit: usize,
    /// How long change records are kept (DynamoDB Streams keeps 24 hours).
    pub retention: Duration,
    /// Pause between change-log trimming rounds.
    pub trim_interval: Duration,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        MaintenanceConfig {
            ttl_interval: Duration::from_secs(60),
            ttl_scan_limit: 1000,
            retention: Duration::from_secs(24 * 3600),
            trim_interval: Duration::from_secs(60),
        }
    }
}

/// Progress reports of the background tasks, for tests and health checks:
/// the clock reading (ms) at which the latest completed round started.
#[derive(Debug, Clone)]
pub struct Progress {
    pub ttl: watch::Receiver<u64>,
    pub trim: watch::Receiver<u64>,
}

/// Most change records removed per table in one trimming transaction.
const TRIM_BATCH: usize = 1000;

/// Start the background tasks on the current tokio runtime (if there is one).
pub(super) fn spawn(
    engine: &Arc<Engine>,
    config: MaintenanceConfig,
    backfill_wake: Arc<tokio::sync::Notify>,
    telemetry: Arc<Telemetry>,
) -> Option<Progress> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let weak = Arc::downgrade(engine);
    runtime.spawn(supervise("gsi backfill", move || {
        super::gsi::backfill_loop(weak.clone(), backfill_wake.clone())
    }));
    let (ttl_tx, ttl_rx) = watch::channel(0);
    let (trim_tx, trim_rx) = watch::channel(0);
    let weak = Arc::downgrade(engine);
    let cfg = config.clone();
    runtime.spawn(supervise("ttl sweeper", move || {
        ttl_loop(weak.clone(), cfg.clone(), ttl_tx.clone(), telemetry.clone())
    }));
    let weak = Arc::downgrade(engine);
    runtime.spawn(supervise("storage reclaimer", move || {
        reclaim_loop(weak.clone())
    }));
    let weak = Arc::downgrade(engine);
    runtime.spawn(supervise("change-log trimmer", move || {
        trim_loop(weak.clone(), config.clone(), trim_tx.clone())
    }));
    Some(Progress {
        ttl: ttl_rx,
        trim: trim_rx,
    })
}

/// Run the task made by `make`, starting it again if it panics; stop when it
/// returns (its engine is gone).
pub(super) async fn supervise<F, Fut>(name: &'static str, make: F)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        match tokio::spawn(make()).await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                tracing::error!(task = name, "background task panicked; restarting it");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(_) => return,
        }
    }
}

/// Most entries of deleted tables and indexes freed in one transaction.
pub(super) const RECLAIM_BATCH: usize = 10_000;

/// Free the storage of deleted tables and indexes, a chunk per writer
/// transaction, so that deleting a large table never holds other writes
/// back for long.
async fn reclaim_loop(engine: Weak<Engine>) {
    loop {
        let Some(strong) = engine.upgrade() else {
            return;
        };
        let pending = strong.read(|view| view.reclaim_pending()).unwrap_or(false);
        let more = if pending {
            let step = strong
                .write(|ctx| ctx.reclaim_step(RECLAIM_BATCH).map_err(Abort::<()>::Engine))
                .await;
            match step {
                Ok((_, more)) => more,
                Err(e) => {
                    tracing::warn!(error = ?e, "freeing a deleted table's storage failed; retrying later");
                    false
                }
            }
        } else {
            false
        };
        drop(strong);
        if !more {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Wait for the next round; `None` once the engine is gone.
async fn next_round(engine: &Weak<Engine>, interval: Duration) -> Option<()> {
    let clock = engine.upgrade()?.clock().clone();
    tokio::select! {
        () = tokio::time::sleep(interval) => {},
        () = clock.changed() => {},
    }
    engine.upgrade().map(|_| ())
}

async fn ttl_loop(
    engine: Weak<Engine>,
    config: MaintenanceConfig,
    done: watch::Sender<u64>,
    telemetry: Arc<Telemetry>,
) {
    let mut cursors = SweepCursors::new();
    loop {
        if next_round(&engine, config.ttl_interval).await.is_none() {
            return;
        }
        let Some(strong) = engine.upgrade() else {
            return;
        };
        let started = strong.clock().now_ms();
        let store = Store::from_engine(strong, telemetry.clone());
        match store
            .sweep_expired(&mut cursors, config.ttl_scan_limit)
            .await
        {
            Ok(n) if n > 0 => tracing::debug!(deleted = n, "TTL sweep round"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "TTL sweep round failed"),
        }
        drop(store);
        done.send_replace(started);
    }
}

async fn trim_loop(engine: Weak<Engine>, config: MaintenanceConfig, done: watch::Sender<u64>) {
    loop {
        if next_round(&engine, config.trim_interval).await.is_none() {
            return;
        }
        let Some(strong) = engine.upgrade() else {
            return;
        };
        let started = strong.clock().now_ms();
        let cutoff = started.saturating_sub(config.retention.as_millis() as u64);
        for name in strong.table_names() {
            let Some(table) = strong.table(&name) else {
                continue;
            };
            let id = table.id;
            // Point-in-time recovery needs the records of its whole window.
            let cutoff = match &table.pitr {
                Some(p) => cutoff.min(p.earliest_ms(started)),
                None => cutoff,
            };
            loop {
                let removed = strong
                    .write(move |ctx| {
                        ctx.trim_changelog(id, cutoff, TRIM_BATCH)
                            .map_err(Abort::<()>::Engine)
                    })
                    .await;
                match removed {
                    Ok(n) if n == TRIM_BATCH => continue,
                    Ok(_) => break,
                    Err(Abort::Engine(e)) => {
                        tracing::warn!(error = %e, "change-log trimming failed");
                        break;
                    }
                    Err(Abort::Op(())) => break,
                }
            }
        }
        drop(strong);
        done.send_replace(started);
    }
}

//! The rounds of a background task that works through jobs the catalog
//! names (GSI backfills, restores): the engine is held only while the jobs
//! are listed, never between rounds.

use std::sync::Weak;
use std::time::Duration;

use tokio::sync::Notify;

use crate::engine::Engine;

/// The rounds of a task that works through jobs the catalog names (GSI
/// backfills, restores): each round `pending` lists them, with the engine
/// held only for that; `run` does each in turn; then the task sleeps until
/// `wake` is notified or a second passes. Returns when the engine is gone.
pub(super) async fn work_through<J, P, R, Fut>(
    engine: &Weak<Engine>,
    wake: &Notify,
    pending: P,
    run: R,
) where
    P: Fn(&Engine) -> Vec<J>,
    R: Fn(J) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    loop {
        let Some(strong) = engine.upgrade() else {
            return;
        };
        let jobs = pending(&strong);
        drop(strong);
        for job in jobs {
            run(job).await;
        }
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

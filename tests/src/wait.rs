//! Polling with a deadline, for what a test can only observe from outside:
//! a change feed's lag, an index backfill, a proxy becoming ready. Each
//! wait fails the test with what it waited for once its limit passes.
//!
//! Races inside the servers are not waited for here: a test that needs an
//! order of events holds a response or a request in a relay (`relay.rs`).

use std::fmt::Debug;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a wait lasts unless a test says otherwise.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Between two polls.
const POLL: Duration = Duration::from_millis(5);

/// Poll `ready` until it says `true`; returns how long that took. Fails the
/// test (naming `what`) after `limit`.
pub async fn until<F, Fut>(limit: Duration, what: &str, mut ready: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if ready().await {
            return start.elapsed();
        }
        assert!(start.elapsed() < limit, "{what}: not so after {limit:?}");
        tokio::time::sleep(POLL).await;
    }
}

/// Poll `ready` until it says `true` or `limit` passes: whether it did.
pub async fn within<F, Fut>(limit: Duration, mut ready: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    while start.elapsed() < limit {
        if ready().await {
            return true;
        }
        tokio::time::sleep(POLL).await;
    }
    false
}

/// Run `read` until it returns `want`; returns how long that took. Fails the
/// test (with the last value read) after `limit`.
pub async fn until_eq<T, F, Fut>(limit: Duration, want: T, mut read: F) -> Duration
where
    T: PartialEq + Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let start = Instant::now();
    loop {
        let got = read().await;
        if got == want {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < limit,
            "still {got:?} after {limit:?}, want {want:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

//! Wall-clock time behind a trait, so time-dependent behaviour (TTL expiry,
//! change-log retention, shard-iterator expiry) can be driven by tests.
//!
//! [`SystemClock`] is the real clock. [`ManualClock`] only moves when told
//! to, and wakes whoever waits in [`Clock::changed`] when it does, so a
//! background task parked until its next round runs at once after a test
//! advances time.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

/// A source of the current time.
pub trait Clock: Send + Sync + Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;

    /// Completes when the clock jumped (never, for the real clock).
    fn changed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::pending())
    }
}

/// The system's wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that tests set and advance.
#[derive(Debug, Default)]
pub struct ManualClock {
    now_ms: AtomicU64,
    notify: Notify,
}

impl ManualClock {
    /// A clock reading `now_ms`.
    pub fn new(now_ms: u64) -> Arc<ManualClock> {
        Arc::new(ManualClock {
            now_ms: AtomicU64::new(now_ms),
            notify: Notify::new(),
        })
    }

    /// A clock starting at the current system time.
    pub fn starting_now() -> Arc<ManualClock> {
        ManualClock::new(SystemClock.now_ms())
    }

    /// Move time forward by `ms` and wake waiters.
    pub fn advance_ms(&self, ms: u64) {
        self.now_ms.fetch_add(ms, Ordering::AcqRel);
        // Wake every task parked now, and leave a permit for one that is
        // between rounds so its next wait returns at once.
        self.notify.notify_waiters();
        self.notify.notify_one();
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Acquire)
    }

    fn changed(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(self.notify.notified())
    }
}

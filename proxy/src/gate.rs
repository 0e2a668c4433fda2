//! Whether a cache may serve and fill: the state both caches share with
//! the change-feed follower. Closed until the follower knows its position
//! in the upstream's log (and again while it cannot follow it); an epoch
//! that opening, closing and dropping everything bump, so nothing read
//! before any of them is kept.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub struct Gate {
    open: AtomicBool,
    epoch: AtomicU64,
}

impl Default for Gate {
    /// Open: a cache on its own has nothing to wait for.
    fn default() -> Self {
        Gate {
            open: AtomicBool::new(true),
            epoch: AtomicU64::new(0),
        }
    }
}

impl Gate {
    pub fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Make everything read before this call stale.
    pub fn bump(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    pub fn close(&self) {
        self.open.store(false, Ordering::Release);
        self.bump();
    }

    pub fn open(&self) {
        self.bump();
        self.open.store(true, Ordering::Release);
    }
}

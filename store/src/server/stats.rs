//! What the front end counts for an admin endpoint to export: open client
//! connections, requests refused by `--max-in-flight`, and body bytes
//! received and sent. A few relaxed atomic additions per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug, Default)]
struct Counters {
    opened: AtomicU64,
    closed: AtomicU64,
    throttled: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
}

/// The front end's counters (cheap to clone; every clone counts into the
/// same ones).
#[derive(Debug, Clone, Default)]
pub struct FrontEndStats(Arc<Counters>);

/// Counts a connection as open until dropped.
pub(super) struct OpenConnection(FrontEndStats);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0 .0.closed.fetch_add(1, Ordering::Relaxed);
    }
}

impl FrontEndStats {
    /// Client connections open now.
    pub fn connections(&self) -> u64 {
        let closed = self.0.closed.load(Ordering::Relaxed);
        self.0.opened.load(Ordering::Relaxed).saturating_sub(closed)
    }

    /// Requests refused with ThrottlingException because `--max-in-flight`
    /// requests were being handled.
    pub fn throttled(&self) -> u64 {
        self.0.throttled.load(Ordering::Relaxed)
    }

    /// Request body bytes received (as sent, before decompression).
    pub fn received_bytes(&self) -> u64 {
        self.0.received.load(Ordering::Relaxed)
    }

    /// Response body bytes sent (after compression).
    pub fn sent_bytes(&self) -> u64 {
        self.0.sent.load(Ordering::Relaxed)
    }

    pub(super) fn open(&self) -> OpenConnection {
        self.0.opened.fetch_add(1, Ordering::Relaxed);
        OpenConnection(self.clone())
    }

    pub(super) fn throttle(&self) {
        self.0.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn receive(&self, bytes: usize) {
        self.0.received.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    pub(super) fn send(&self, bytes: u64) {
        self.0.sent.fetch_add(bytes, Ordering::Relaxed);
    }
}

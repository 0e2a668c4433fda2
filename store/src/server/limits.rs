//! What one client may cost the others: bounds on connections, requests in
//! flight and the time a request may take to arrive, and a deadline on
//! graceful shutdown.
//!
//! * A connection handling no request has a deadline
//!   ([`Limits::header_timeout`], see `super::idle`): a client dribbling a
//!   byte every few seconds (slowloris) completes no request head and is cut
//!   off, and so is a keep-alive connection that stays idle that long.
//! * Reading a body has a deadline too ([`Limits::body_timeout`]).
//! * At most [`Limits::max_connections`] connections are open: when one more
//!   arrives, the oldest connection is asked to close — at once if it is idle,
//!   after its current answer otherwise — so idle connections can never lock
//!   new clients out.
//! * At most [`Limits::max_in_flight`] requests are handled at once; one more
//!   is answered with DynamoDB's `ThrottlingException` (which SDKs retry with
//!   backoff) instead of queueing without bound.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

/// The front end's limits (see the module doc).
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_in_flight: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    /// How long shutdown waits for requests in flight before it stops
    /// waiting (idle connections close at once).
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 10_000,
            max_in_flight: 4_096,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// The open connections, oldest first, each with a way to ask it to close.
pub(super) struct Connections {
    max: usize,
    next_id: AtomicU64,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    /// Shutting down: every connection is asked to close, new ones at once.
    closing: bool,
    senders: BTreeMap<u64, oneshot::Sender<()>>,
}

impl Connections {
    pub(super) fn new(max: usize) -> Arc<Connections> {
        Arc::new(Connections {
            max: max.max(1),
            next_id: AtomicU64::new(0),
            open: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Register a new connection; when the cap is reached the oldest one is
    /// asked to close. The receiver fires when this one is asked to close
    /// (cap or shutdown): it is the only thing a connection's task waits
    /// on besides the connection itself.
    pub(super) fn open(self: &Arc<Self>) -> (ConnectionGuard, oneshot::Receiver<()>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut open = self.lock();
        while open.senders.len() >= self.max {
            match open.senders.pop_first() {
                Some((_, oldest)) => {
                    let _ = oldest.send(());
                }
                None => break,
            }
        }
        if open.closing {
            let _ = tx.send(());
        } else {
            open.senders.insert(id, tx);
        }
        (
            ConnectionGuard {
                id,
                connections: self.clone(),
            },
            rx,
        )
    }

    /// Ask every connection, and any opened from now on, to close.
    pub(super) fn close_all(&self) {
        let mut open = self.lock();
        open.closing = true;
        for (_, tx) in std::mem::take(&mut open.senders) {
            let _ = tx.send(());
        }
    }

    /// Connections currently registered.
    pub(super) fn count(&self) -> usize {
        self.lock().senders.len()
    }
}

/// Unregisters its connection when dropped (the connection task ended).
pub(super) struct ConnectionGuard {
    id: u64,
    connections: Arc<Connections>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.connections.lock().senders.remove(&self.id);
    }
}

/// Admission of requests: at most `max_in_flight` at once. A counter, not a
/// semaphore: nothing waits for a permit, and a semaphore's release takes a
/// lock every request would share.
pub(super) struct InFlight {
    max: usize,
    count: AtomicUsize,
}

impl InFlight {
    pub(super) fn new(max: usize) -> InFlight {
        InFlight {
            max: max.max(1),
            count: AtomicUsize::new(0),
        }
    }

    /// A permit held while one request is handled; `None` when full.
    pub(super) fn admit(&self) -> Option<Permit<'_>> {
        if self.count.fetch_add(1, Ordering::AcqRel) >= self.max {
            self.count.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Permit(&self.count))
    }
}

/// One admitted request; gives its place back when dropped.
pub(super) struct Permit<'a>(&'a AtomicUsize);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_connection_is_asked_to_close_at_the_cap() {
        let connections = Connections::new(2);
        let (a, mut a_rx) = connections.open();
        let (_b, mut b_rx) = connections.open();
        assert!(a_rx.try_recv().is_err());
        let (_c, _) = connections.open();
        assert!(a_rx.try_recv().is_ok(), "the oldest goes");
        assert!(b_rx.try_recv().is_err());
        assert_eq!(connections.count(), 2);
        drop(a);
        assert_eq!(connections.count(), 2);
    }

    #[test]
    fn closing_asks_every_connection_and_every_later_one_to_close() {
        let connections = Connections::new(10);
        let (_a, mut a_rx) = connections.open();
        let (_b, mut b_rx) = connections.open();
        connections.close_all();
        assert!(a_rx.try_recv().is_ok());
        assert!(b_rx.try_recv().is_ok());
        let (_c, mut c_rx) = connections.open();
        assert!(c_rx.try_recv().is_ok(), "opened during shutdown");
        assert_eq!(connections.count(), 0);
    }

    #[test]
    fn requests_beyond_the_cap_are_not_admitted() {
        let in_flight = InFlight::new(1);
        let first = in_flight.admit();
        assert!(first.is_some());
        assert!(in_flight.admit().is_none());
        drop(first);
        assert!(in_flight.admit().is_some());
    }
}

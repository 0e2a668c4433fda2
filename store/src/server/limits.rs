//! What one client may cost the others: bounds on connections, requests in
//! flight and the time a request may take to arrive, and a deadline on
//! graceful shutdown.
//!
//! * Reading a request's head has a deadline ([`Limits::header_timeout`],
//!   hyper's header-read timer): a client dribbling a byte every few
//!   seconds (slowloris) is cut off, and so is a keep-alive connection that
//!   stays idle that long (hyper runs the same timer while it waits for the
//!   next request's head).
//! * Reading a body has a deadline too ([`Limits::body_timeout`]).
//! * At most [`Limits::max_connections`] connections are open: when one more
//!   arrives, the oldest connection is asked to close — at once if it is idle,
//!   after its current answer otherwise — so idle connections can never lock
//!   new clients out.
//! * At most [`Limits::max_in_flight`] requests are handled at once; one more
//!   is answered with DynamoDB's `ThrottlingException` (which SDKs retry with
//!   backoff) instead of queueing without bound.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

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
    open: Mutex<BTreeMap<u64, oneshot::Sender<()>>>,
}

impl Connections {
    pub(super) fn new(max: usize) -> Arc<Connections> {
        Arc::new(Connections {
            max: max.max(1),
            next_id: AtomicU64::new(0),
            open: Mutex::new(BTreeMap::new()),
        })
    }

    /// Register a new connection; when the cap is reached the oldest one is
    /// asked to close. The receiver fires when this one is asked to close.
    pub(super) fn open(self: &Arc<Self>) -> (ConnectionGuard, oneshot::Receiver<()>) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        while open.len() >= self.max {
            match open.pop_first() {
                Some((_, oldest)) => {
                    let _ = oldest.send(());
                }
                None => break,
            }
        }
        open.insert(id, tx);
        (
            ConnectionGuard {
                id,
                connections: self.clone(),
            },
            rx,
        )
    }

    /// Connections currently registered.
    pub(super) fn count(&self) -> usize {
        self.open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// Unregisters its connection when dropped (the connection task ended).
pub(super) struct ConnectionGuard {
    id: u64,
    connections: Arc<Connections>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.connections
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.id);
    }
}

/// Admission of requests: at most `max_in_flight` at once.
#[derive(Clone)]
pub(super) struct InFlight(Arc<Semaphore>);

impl InFlight {
    pub(super) fn new(max: usize) -> InFlight {
        InFlight(Arc::new(Semaphore::new(max.max(1))))
    }

    /// A permit held while one request is handled; `None` when full.
    pub(super) fn admit(&self) -> Option<OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
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
    fn requests_beyond_the_cap_are_not_admitted() {
        let in_flight = InFlight::new(1);
        let first = in_flight.admit();
        assert!(first.is_some());
        assert!(in_flight.admit().is_none());
        drop(first);
        assert!(in_flight.admit().is_some());
    }
}

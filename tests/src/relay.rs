//! TCP relays that sit between a proxy and its upstream, so that a test can
//! decide when bytes pass instead of guessing with sleeps.
//!
//! * [`DelayRelay`] holds back the responses to requests that carry a
//!   marker (an operation name), and says when it is holding one: a race
//!   between a slow read and a write is then played in a fixed order. It
//!   can also slow every response down by a fixed delay.
//! * [`FeedRelay`] holds back *requests* that carry a marker (the change
//!   feed's operation) and can be pointed at another server mid-test.
//!
//! Both rely on HTTP/1.1 without pipelining, as the proxy's client speaks
//! it: on one connection the next bytes from the server after a request
//! are that request's response. A marker is looked for within one read of
//! the request, which holds a request's head.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::wait::PATIENCE;

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Wait until `count` is above zero, at most [`PATIENCE`].
async fn until_positive(count: &watch::Sender<u64>, what: &str) {
    let mut rx = count.subscribe();
    tokio::time::timeout(PATIENCE, rx.wait_for(|held| *held > 0))
        .await
        .unwrap_or_else(|_| panic!("the relay held no {what} within {PATIENCE:?}"))
        .expect("relay state");
}

/// A TCP relay in front of `target` that can hold back the responses to
/// some requests until [`DelayRelay::release`], to make a race between a
/// slow read and a write deterministic.
pub struct DelayRelay {
    pub addr: SocketAddr,
    state: Arc<DelayState>,
}

struct DelayState {
    delay_ms: AtomicU64,
    /// While `Some(marker)`: responses to requests containing `marker` are
    /// held until it goes back to `None`.
    hold: watch::Sender<Option<&'static [u8]>>,
    /// Responses held since the last [`DelayRelay::hold_responses_to`].
    held: watch::Sender<u64>,
}

impl DelayRelay {
    pub async fn start(target: SocketAddr) -> DelayRelay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let state = Arc::new(DelayState {
            delay_ms: AtomicU64::new(0),
            hold: watch::Sender::new(None),
            held: watch::Sender::new(0),
        });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                tokio::spawn(relay_holding_responses(client, server, shared.clone()));
            }
        });
        DelayRelay { addr, state }
    }

    /// Slow every response chunk down by `ms` (0: no delay).
    pub fn set_delay_ms(&self, ms: u64) {
        self.state.delay_ms.store(ms, Ordering::Relaxed);
    }

    /// From now on, hold the response to every request containing
    /// `marker` (e.g. `b"DynamoDB_20120810.GetItem"`) until
    /// [`DelayRelay::release`]. Other responses pass.
    pub fn hold_responses_to(&self, marker: &'static [u8]) {
        assert!(!marker.is_empty(), "an empty marker would hold nothing");
        self.state.held.send_replace(0);
        self.state.hold.send_replace(Some(marker));
    }

    /// Wait (at most [`PATIENCE`]) until a response is held: the server
    /// has answered the request, and the answer has not reached the client.
    pub async fn until_holding(&self) {
        until_positive(&self.state.held, "response").await;
    }

    /// Let held responses (and every later one) through.
    pub fn release(&self) {
        self.state.hold.send_replace(None);
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Pipe one connection, holding the response to a marked request while
/// the relay is holding.
async fn relay_holding_responses(
    client: tokio::net::TcpStream,
    server: tokio::net::TcpStream,
    state: Arc<DelayState>,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    // Set by a marked request before it is forwarded, so it is set before
    // its response can arrive; taken by the first chunk of that response.
    let hold_next = Arc::new(AtomicBool::new(false));
    let mark = hold_next.clone();
    let up_state = state.clone();
    let up = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(marker) = *up_state.hold.borrow() {
                if contains(&buf[..n], marker) {
                    mark.store(true, Ordering::Release);
                }
            }
            if sw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match sr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if hold_next.swap(false, Ordering::AcqRel) && state.hold.borrow().is_some() {
            let mut released = state.hold.subscribe();
            state.held.send_modify(|h| *h += 1);
            let _ = released.wait_for(Option::is_none).await;
        }
        let delay = state.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        if cw.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    up.abort();
}

/// A TCP relay in front of a store for tests of the proxy's change feed:
/// it can hold back requests whose bytes contain a marker (the feed's
/// operation name) until released, and can be pointed at another server.
pub struct FeedRelay {
    pub addr: SocketAddr,
    state: Arc<FeedRelayState>,
}

struct FeedRelayState {
    target: Mutex<SocketAddr>,
    /// Bumped by every switch of target.
    generation: AtomicU64,
    held_marker: &'static [u8],
    /// `true` once held requests may pass.
    released: watch::Sender<bool>,
    /// Requests held so far.
    held: watch::Sender<u64>,
}

impl FeedRelay {
    /// A relay to `target` that holds requests containing `marker` until
    /// [`FeedRelay::release`] (an empty marker holds nothing).
    pub async fn start(target: SocketAddr, marker: &'static [u8]) -> FeedRelay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let state = Arc::new(FeedRelayState {
            target: Mutex::new(target),
            generation: AtomicU64::new(0),
            held_marker: marker,
            released: watch::Sender::new(marker.is_empty()),
            held: watch::Sender::new(0),
        });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let generation = shared.generation.load(Ordering::Acquire);
                let target = *shared.target.lock().expect("target");
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up_state = state.clone();
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            if contains(&buf[..n], up_state.held_marker)
                                && !*up_state.released.borrow()
                            {
                                up_state.held.send_modify(|h| *h += 1);
                                let mut rx = up_state.released.subscribe();
                                let _ = rx.wait_for(|r| *r).await;
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        // Pointed elsewhere since this connection opened:
                        // close it after the answer, as a server going away
                        // between requests does.
                        if state.generation.load(Ordering::Acquire) != generation {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        FeedRelay { addr, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Wait (at most [`PATIENCE`]) until at least one request is held.
    pub async fn until_holding(&self) {
        until_positive(&self.state.held, "request").await;
    }

    /// Let held requests (and every later one) through.
    pub fn release(&self) {
        self.state.released.send_replace(true);
    }

    /// Connect new connections to `target`; connections to the old one
    /// close after their next answer.
    pub fn switch_to(&self, target: SocketAddr) {
        *self.state.target.lock().expect("target") = target;
        self.state.generation.fetch_add(1, Ordering::AcqRel);
    }
}

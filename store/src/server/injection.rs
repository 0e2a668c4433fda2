//! Applying the fault registry ([`crate::faults`]) to one request: the
//! added latency, then an injected error instead of the backend's answer,
//! or a feed request answered as paused. Called for every request while a
//! fault is configured, and for every change-feed request, since a pause
//! that begins while one waits for changes must hold back what it finds.

use super::{Backend, BackendRequest, BackendResponse};
use crate::faults::{Faults, FeedPause};

pub(super) async fn call<B: Backend>(
    faults: &Faults,
    backend: &B,
    mut req: BackendRequest,
) -> BackendResponse {
    let op = req.op;
    if faults.is_active() {
        let injection = faults.decide(op, &req.body);
        if !injection.latency.is_zero() {
            tokio::time::sleep(injection.latency).await;
        }
        if let Some(error) = injection.error {
            return BackendResponse::from_result(Err(error));
        }
    }
    let (pause, original) = match faults.pause_feed(op, &req.body).await {
        Some((pause, body)) => (Some(pause), std::mem::replace(&mut req.body, body)),
        None => (None, req.body.clone()),
    };
    let mut resp = backend.call(req).await;
    // Paused before the request, or while it waited for changes.
    let pause = match pause {
        Some(p) => Some(p),
        None if faults.feed_paused() => FeedPause::of(op, &original),
        None => None,
    };
    if let Some(pause) = pause.filter(|_| resp.status.is_success()) {
        if let Some(paused) = pause.answer(&resp.body) {
            resp.body = paused.into();
        }
    }
    resp
}

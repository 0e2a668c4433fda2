//! Applying the fault registry ([`crate::faults`]) to one request, when any
//! fault is configured: the added latency, then an injected error instead
//! of the backend's answer, or a feed request answered as paused.

use super::{Backend, BackendRequest, BackendResponse};
use crate::faults::Faults;

pub(super) async fn call<B: Backend>(
    faults: &Faults,
    backend: &B,
    mut req: BackendRequest,
) -> BackendResponse {
    let injection = faults.decide(req.op, &req.body);
    if !injection.latency.is_zero() {
        tokio::time::sleep(injection.latency).await;
    }
    if let Some(error) = injection.error {
        return BackendResponse::from_result(Err(error));
    }
    let Some((pause, body)) = faults.pause_feed(req.op, &req.body).await else {
        return backend.call(req).await;
    };
    req.body = body;
    let mut resp = backend.call(req).await;
    if resp.status.is_success() {
        if let Some(paused) = pause.answer(&resp.body) {
            resp.body = paused.into();
        }
    }
    resp
}

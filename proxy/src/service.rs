//! Plumbing every layer of the stack shares: the request and response
//! types come from the store's front end; calling an inner service, which
//! cannot fail, is [`forward`].

use std::convert::Infallible;

use ferrodyn_store::server::{BackendRequest, BackendResponse};
use tower::ServiceExt;

/// Call a layer's inner service (which cannot fail) once.
pub async fn forward<S>(inner: S, req: BackendRequest) -> BackendResponse
where
    S: tower::Service<BackendRequest, Response = BackendResponse, Error = Infallible>,
{
    match inner.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

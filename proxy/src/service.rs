//! Plumbing every layer of the stack shares: the request and response
//! types come from the store's boundary ([`ferrodyn_store::backend`]);
//! calling an inner service, which cannot fail, is [`forward`]; a layer
//! whose work is one async function of (inner service, request) implements
//! [`Handle`] and is put in the stack as a [`HandleLayer`], which supplies
//! the `tower` plumbing once for all of them.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ferrodyn_store::server::{BackendRequest, BackendResponse};
use tower::{Layer, Service, ServiceExt};

/// The layers below a layer, as a [`Handle`] receives them: a service that
/// cannot fail, cloned into each call, whose futures may cross threads
/// (as may a reference to it, so a layer can clone it only when needed).
pub trait Inner:
    Service<BackendRequest, Response = BackendResponse, Error = Infallible, Future: Send>
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> Inner for S where
    S: Service<BackendRequest, Response = BackendResponse, Error = Infallible, Future: Send>
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// A layer's work: answer `req`, calling `inner` (the layers below) as it
/// needs. Shared state is cloned into every call.
pub trait Handle: Clone + Send + Sync + 'static {
    fn handle<S>(
        &self,
        inner: S,
        req: BackendRequest,
    ) -> impl Future<Output = BackendResponse> + Send
    where
        S: Inner;
}

/// Puts a [`Handle`] in a `tower` stack.
#[derive(Clone)]
pub struct HandleLayer<H>(pub H);

impl<H: Clone, S> Layer<S> for HandleLayer<H> {
    type Service = HandleService<H, S>;

    fn layer(&self, inner: S) -> HandleService<H, S> {
        HandleService {
            inner,
            handler: Arc::new(self.0.clone()),
        }
    }
}

/// A layer in the stack. Every request clones the stack below the edge
/// (and a layer clones its inner service for each call it makes), so the
/// handler's state is behind one `Arc`: a clone is one atomic increment,
/// not one per counter and cache the handler holds.
pub struct HandleService<H, S> {
    inner: S,
    handler: Arc<H>,
}

impl<H, S: Clone> Clone for HandleService<H, S> {
    fn clone(&self) -> Self {
        HandleService {
            inner: self.inner.clone(),
            handler: self.handler.clone(),
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<BackendResponse, Infallible>> + Send>>;

impl<H, S> Service<BackendRequest> for HandleService<H, S>
where
    H: Handle,
    S: Inner,
{
    type Response = BackendResponse;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: BackendRequest) -> BoxFuture {
        // Take the service that was driven to readiness; leave a clone.
        let inner = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, inner);
        let handler = self.handler.clone();
        Box::pin(async move { Ok(handler.handle(inner, req).await) })
    }
}

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

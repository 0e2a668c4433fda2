//! Plumbing every layer of the stack shares: the request and response
//! types come from the store's boundary ([`ferrodyn_store::backend`]); the
//! layers below a layer are an [`Inner`], called by reference; a layer
//! whose work is one async function of (inner service, request) implements
//! [`Handle`] and is put in the stack as a [`HandleLayer`], which supplies
//! the plumbing once for all of them.
//!
//! **Why not `tower::Service`.** The layers are assembled with `tower`'s
//! `Layer` and `ServiceBuilder`, but called through [`Inner`], whose `call`
//! takes `&self`. A `tower::Service` takes `&mut self`, so every request
//! would clone the whole stack below the edge, and each layer its inner
//! service again for its own call: about seventeen reference-count
//! increments and decrements per write, on counters both cores touch, plus
//! a boxed future per layer (a named future type cannot be written for an
//! `async` handler on stable Rust). Borrowed calls cost neither: a request
//! is one future, nested layer in layer (boxed at the edge and at the
//! upstream only), and no layer's state is shared by writing to it.

use std::future::Future;

use ferrodyn_store::server::{BackendRequest, BackendResponse};
use tower::Layer;

/// The layers below a layer: answers a request (an error is an answer),
/// borrowed by each call, so concurrent requests share it without cloning
/// it; its futures may cross threads.
pub trait Inner: Send + Sync {
    fn call(&self, req: BackendRequest) -> impl Future<Output = BackendResponse> + Send;
}

/// A layer's work: answer `req`, calling `inner` (the layers below) as it
/// needs.
pub trait Handle: Send + Sync {
    fn handle<S>(
        &self,
        inner: &S,
        req: BackendRequest,
    ) -> impl Future<Output = BackendResponse> + Send
    where
        S: Inner;
}

/// Puts a [`Handle`] in the stack.
#[derive(Clone)]
pub struct HandleLayer<H>(pub H);

impl<H: Clone, S> Layer<S> for HandleLayer<H> {
    type Service = HandleService<H, S>;

    fn layer(&self, inner: S) -> HandleService<H, S> {
        HandleService {
            inner,
            handler: self.0.clone(),
        }
    }
}

/// A layer in the stack: its handler over the layers below.
#[derive(Clone)]
pub struct HandleService<H, S> {
    inner: S,
    handler: H,
}

impl<H: Handle, S: Inner> Inner for HandleService<H, S> {
    fn call(&self, req: BackendRequest) -> impl Future<Output = BackendResponse> + Send {
        self.handler.handle(&self.inner, req)
    }
}

/// A function of the request as the layers below: for tests and
/// benchmarks, which put one layer over a stand-in for the rest.
#[derive(Clone)]
pub struct InnerFn<F>(pub F);

impl<F, Fut> Inner for InnerFn<F>
where
    F: Fn(BackendRequest) -> Fut + Send + Sync,
    Fut: Future<Output = BackendResponse> + Send,
{
    fn call(&self, req: BackendRequest) -> impl Future<Output = BackendResponse> + Send {
        (self.0)(req)
    }
}

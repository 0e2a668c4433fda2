//! The upstream: where requests the caches cannot answer go. Either the
//! store embedded in this process (called directly, no HTTP) or a remote
//! DynamoDB-API endpoint reached through a pooled hyper client.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use ferrodyn_store::api::{ApiError, ErrorCode};
use ferrodyn_store::server::{Backend, BackendRequest, BackendResponse};
use ferrodyn_store::Store;
use http::{header, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The upstream as a `tower::Service`.
#[derive(Clone)]
pub enum Upstream {
    Embedded(Store),
    Http(Box<HttpUpstream>),
}

#[derive(Clone)]
pub struct HttpUpstream {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
}

impl HttpUpstream {
    pub fn new(uri: Uri) -> HttpUpstream {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .build(connector);
        HttpUpstream { client, uri }
    }

    pub async fn forward(&self, req: BackendRequest) -> BackendResponse {
        let mut builder = Request::post(self.uri.clone());
        for (name, value) in &req.headers {
            // The body is forwarded decompressed; hop-by-hop and framing
            // headers are the client connection's own.
            if name == header::HOST
                || name == header::CONTENT_LENGTH
                || name == header::CONTENT_ENCODING
                || name == header::CONNECTION
                || name == header::TRANSFER_ENCODING
                // The front end compresses responses itself.
                || name == header::ACCEPT_ENCODING
            {
                continue;
            }
            builder = builder.header(name, value);
        }
        if !req.headers.contains_key("x-amz-target") {
            if let Ok(v) = HeaderValue::from_str(&format!("DynamoDB_20120810.{}", req.op.name())) {
                builder = builder.header("x-amz-target", v);
            }
        }
        let request = match builder.body(Full::new(req.body)) {
            Ok(r) => r,
            Err(e) => return upstream_error(&e),
        };
        let response = match self.client.request(request).await {
            Ok(r) => r,
            Err(e) => return upstream_error(&e),
        };
        let status = response.status();
        match response.into_body().collect().await {
            Ok(body) => BackendResponse {
                status,
                body: body.to_bytes(),
            },
            Err(e) => upstream_error(&e),
        }
    }
}

fn upstream_error(e: &(dyn std::error::Error + 'static)) -> BackendResponse {
    tracing::warn!(error = %e, "upstream request failed");
    let err = ApiError::new(
        ErrorCode::InternalServer,
        "The upstream endpoint could not be reached",
    );
    BackendResponse {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        body: Bytes::from(err.body()),
    }
}

impl tower::Service<BackendRequest> for Upstream {
    type Response = BackendResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<BackendResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: BackendRequest) -> Self::Future {
        let this = self.clone();
        Box::pin(async move {
            Ok(match this {
                Upstream::Embedded(store) => store.call(req).await,
                Upstream::Http(http) => http.forward(req).await,
            })
        })
    }
}

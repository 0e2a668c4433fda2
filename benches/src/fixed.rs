//! A fixed-response HTTP/1.1 server on hyper, configured like the store's
//! front end: the floor under any DynamoDB-API server's latency on this
//! machine. Also useful as a scriptable fake endpoint in tests.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Decides each response: given the request number (from 0), returns the
/// status and body, after an optional delay the future takes.
pub trait Responder: Send + Sync + 'static {
    fn respond(&self, n: u64) -> impl Future<Output = (StatusCode, Bytes)> + Send;
}

/// Always 200 with the same body.
#[derive(Clone, Debug)]
pub struct Fixed(pub Bytes);

impl Responder for Fixed {
    async fn respond(&self, _n: u64) -> (StatusCode, Bytes) {
        (StatusCode::OK, self.0.clone())
    }
}

/// Serve until `shutdown` completes. The request body is read in full, as a
/// real server must, and the response carries DynamoDB's content type.
pub async fn run<R: Responder>(
    listener: TcpListener,
    responder: R,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let responder = Arc::new(responder);
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            a = listener.accept() => match a {
                Ok(a) => a,
                // Out of descriptors and the like: keep serving.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let (responder, counter) = (responder.clone(), counter.clone());
        let service = service_fn(move |req: Request<Incoming>| {
            let (responder, counter) = (responder.clone(), counter.clone());
            async move {
                let _ = req.into_body().collect().await;
                let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let (status, body) = responder.respond(n).await;
                let mut resp = Response::new(Full::new(body));
                *resp.status_mut() = status;
                resp.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(ferrodyn_store::server::CONTENT_TYPE),
                );
                Ok::<_, Infallible>(resp)
            }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

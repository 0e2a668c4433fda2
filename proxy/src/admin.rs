//! The admin endpoint, on its own port: `/metrics` (Prometheus text format),
//! `/healthz` (the process is up and, when the store is embedded, its
//! storage takes writes), `/readyz` (ready when the upstream
//! accepts connections and the change feed is connected, or the upstream is
//! known to offer none so entries expire by TTL only; otherwise 503 with
//! the reason), `/insights` (the hottest keys of each table as JSON;
//! `?top=N`, default 10, at most 64; with `?table=T`, the embedded store's
//! contributor insights of `T`, as `ferrodyn-store`'s admin endpoint
//! serves them) and `/faults` (fault injection, see
//! `ferrodyn_store::faults::admin`). When the proxy has `--credentials`,
//! everything but `/healthz` and `/readyz` requires HTTP Basic
//! authentication with one of its key pairs. With `--tls-cert` it speaks
//! https, with the same certificate as the API port.

use std::future::Future;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;

use ferrodyn_store::auth::verify::Verifier;
use ferrodyn_store::faults::Faults;
use ferrodyn_store::server::{Backend, Health, Tls};

use crate::stack::Stack;

/// How `/readyz` decides.
#[derive(Clone)]
pub enum Readiness {
    /// The embedded store is in this process: ready once the in-process
    /// change feed is followed (until then the caches are bypassed).
    Embedded { feed: crate::invalidation::Metrics },
    /// A remote upstream: ready when its address (`host:port`) accepts
    /// connections and `feed` says the change feed is followed.
    Remote {
        address: String,
        feed: crate::invalidation::Metrics,
    },
}

/// What the admin endpoint serves besides the stack's own state.
#[derive(Clone)]
pub struct Extra {
    /// The fault registry (`/faults`, and its counter in `/metrics`).
    pub faults: Faults,
    /// The front end's connections, throttles and bytes, for `/metrics`.
    pub front_end: crate::metrics::FrontEnd,
    /// Plain http or https.
    pub transport: Transport,
}

/// How connections to the admin endpoint are carried.
#[derive(Debug, Clone)]
pub struct Transport {
    /// https with this certificate (`None`: plain http).
    pub tls: Option<Tls>,
    /// How long a client has to complete the TLS handshake.
    pub handshake_timeout: std::time::Duration,
}

pub async fn run(
    listener: TcpListener,
    registry: Registry,
    stack: Stack,
    readiness: Readiness,
    auth: Option<Verifier>,
    extra: Extra,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let tls = extra
        .transport
        .tls
        .clone()
        .map(|t| (t, extra.transport.handshake_timeout));
    let faults = extra.faults.clone();
    ferrodyn_store::admin::serve(listener, auth, tls, faults, shutdown, move |req| {
        let registry = registry.clone();
        let stack = stack.clone();
        let readiness = readiness.clone();
        let extra = extra.clone();
        async move { answer(req.uri(), &registry, &stack, &readiness, &extra).await }
    })
    .await
}

async fn answer(
    uri: &http::Uri,
    registry: &Registry,
    stack: &Stack,
    readiness: &Readiness,
    extra: &Extra,
) -> Response<Full<Bytes>> {
    match uri.path() {
        // A table's contributor insights come from the embedded store.
        "/insights" if uri.query().unwrap_or_default().contains("table=") => {
            match stack.embedded_store() {
                Some(store) => ferrodyn_store::admin::insights(uri.query().unwrap_or_default(), store),
                None => text(
                    StatusCode::NOT_FOUND,
                    b"per-table contributor insights are served by the store's own admin endpoint\n".to_vec(),
                ),
            }
        }
        "/insights" => {
            let top = uri
                .query()
                .unwrap_or_default()
                .split('&')
                .find_map(|kv| kv.strip_prefix("top="))
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(10);
            let report = stack.insights().report(top);
            match serde_json::to_vec(&serde_json::json!({ "Tables": report })) {
                Ok(body) => json(body),
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.to_string().into_bytes(),
                ),
            }
        }
        "/metrics" => {
            stack.refresh_gauges();
            extra.front_end.refresh();
            let mut buf = Vec::new();
            let encoder = TextEncoder::new();
            match encoder.encode(&registry.gather(), &mut buf) {
                Ok(()) => {
                    buf.extend_from_slice(extra.faults.render_metrics("proxy").as_bytes());
                    text(StatusCode::OK, buf)
                }
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.to_string().into_bytes(),
                ),
            }
        }
        "/healthz" | "/readyz" if stack.health() != Health::Ok => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{}\n", stack.health().describe()).into_bytes(),
        ),
        "/healthz" => text(StatusCode::OK, b"ok\n".to_vec()),
        "/readyz" => match readiness {
            Readiness::Embedded { feed } if !feed.feed_ready() => text(
                StatusCode::SERVICE_UNAVAILABLE,
                feed.describe().into_bytes(),
            ),
            Readiness::Embedded { .. } => text(StatusCode::OK, b"ready\n".to_vec()),
            Readiness::Remote { address, feed } => {
                match tokio::net::TcpStream::connect(address.as_str()).await {
                    Err(e) => text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("upstream unreachable: {e}\n").into_bytes(),
                    ),
                    Ok(_) if !feed.feed_ready() => text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        feed.describe().into_bytes(),
                    ),
                    Ok(_) => text(
                        StatusCode::OK,
                        format!("ready\n{}", feed.describe()).into_bytes(),
                    ),
                }
            }
        },
        _ => text(StatusCode::NOT_FOUND, b"not found\n".to_vec()),
    }
}

fn json(body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn text(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp
}

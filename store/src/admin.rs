//! `ferrodyn-store --admin-listen`: the store's admin endpoint, on its own
//! port, with the proxy's conventions.
//!
//! * `/metrics` — Prometheus text format: the per-table metrics of
//!   [`crate::telemetry::metrics`] (gauges refreshed from the catalog on
//!   each scrape).
//! * `/healthz` — 200 while the storage takes writes, else 503 and why.
//! * `/readyz` — the same test: a store is ready as soon as it is open.
//! * `/faults` — fault injection at run time (see [`crate::faults::admin`]);
//!   its counter is `ferrodyn_store_faults_injected_total` in `/metrics`.
//! * `/insights?table=T[&index=I][&rule=R][&top=N]` — contributor insights
//!   of table `T` (or its GSI `I`) as JSON ([`crate::api::insights::InsightsReport`]):
//!   every rule it keeps, or only `R` (`PKC`, `PKT`, `SKC`, `SKT` or a full
//!   rule name), `N` keys per rule (default 10, at most 100). 404 when
//!   insights are not enabled there, 400 without `table` or with an unknown
//!   rule.
//!
//! With `--tls-cert` it speaks https, with the API port's certificate.
//! When the store has `--credentials`, everything but `/healthz` and
//! `/readyz` requires HTTP Basic authentication with one of its key pairs.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use prometheus::{Encoder, TextEncoder};
use tokio::net::TcpListener;

use crate::api::insights::InsightsRule;
use crate::auth::verify::Verifier;
use crate::engine::Health;
use crate::faults::{self, Faults};
use crate::ops::Store;
use crate::server::tls::Stream;
use crate::server::Tls;

/// Keys per rule in an insights report: default and most.
const DEFAULT_TOP: usize = 10;
const MAX_TOP: usize = 100;

/// Serve the admin endpoint of `store` on `listener` until `shutdown`.
pub async fn run(
    listener: TcpListener,
    store: Store,
    faults: Faults,
    auth: Option<Verifier>,
    tls: Option<(Tls, Duration)>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let routes = faults.clone();
    serve(listener, auth, tls, faults, shutdown, move |req| {
        let store = store.clone();
        let faults = routes.clone();
        async move { answer(req.uri(), &store, &faults) }
    })
    .await
}

/// Accept admin connections on `listener` until `shutdown` (both
/// binaries' admin endpoints): with `tls`, https whose handshake runs in
/// the connection's own task, bounded by its duration; with `auth`, HTTP
/// Basic with one of its key pairs on everything but `/healthz` and
/// `/readyz`; the `/faults` routes manage `faults`; every other request is
/// answered by `answer`.
pub async fn serve<A, F>(
    listener: TcpListener,
    auth: Option<Verifier>,
    tls: Option<(Tls, Duration)>,
    faults: Faults,
    shutdown: impl Future<Output = ()>,
    answer: A,
) -> std::io::Result<()>
where
    A: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let auth = auth.map(Arc::new);
    tokio::pin!(shutdown);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and similar: retrying at once
                    // would spin; try again shortly.
                    tracing::warn!(error = %e, "admin accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => return Ok(()),
        };
        let auth = auth.clone();
        let faults = faults.clone();
        let answer = answer.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let auth = auth.clone();
            let faults = faults.clone();
            let answer = answer.clone();
            async move {
                // Table names, hot keys and traffic are for the server's
                // key holders; health checks stay open to orchestrators.
                let open = matches!(req.uri().path(), "/healthz" | "/readyz");
                if !open
                    && auth.as_ref().is_some_and(|a| {
                        !a.allows_basic(req.headers().get(http::header::AUTHORIZATION))
                    })
                {
                    let mut resp = text(
                        StatusCode::UNAUTHORIZED,
                        "authentication required: HTTP Basic with one of the --credentials key pairs\n",
                    );
                    resp.headers_mut().insert(
                        http::header::WWW_AUTHENTICATE,
                        http::HeaderValue::from_static("Basic realm=\"ferrodyn\""),
                    );
                    return Ok::<_, Infallible>(resp);
                }
                if faults::admin::owns(req.uri().path()) {
                    return Ok(faults::admin::handle(&faults, req).await);
                }
                Ok::<_, Infallible>(answer(req).await)
            }
        });
        let tls = tls.clone();
        tokio::spawn(async move {
            // In the connection's own task: a silent client delays no one.
            let stream = match tls {
                None => Stream::Plain(stream),
                Some((tls, limit)) => match tls.accept(stream, limit).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!(error = %e, "admin TLS handshake failed");
                        return;
                    }
                },
            };
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn answer(uri: &http::Uri, store: &Store, faults: &Faults) -> Response<Full<Bytes>> {
    match uri.path() {
        "/metrics" => {
            store.refresh_gauges();
            let mut buf = Vec::new();
            let families = store.telemetry().registry().gather();
            match TextEncoder::new().encode(&families, &mut buf) {
                Ok(()) => {
                    buf.extend_from_slice(faults.render_metrics("ferrodyn_store").as_bytes());
                    body(StatusCode::OK, "text/plain; version=0.0.4", buf)
                }
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
            }
        }
        "/healthz" | "/readyz" => match store.health() {
            Health::Ok => text(StatusCode::OK, "ok\n"),
            other => text(
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("{}\n", other.describe()),
            ),
        },
        "/insights" => insights(uri.query().unwrap_or_default(), store),
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

/// `/insights`: see the module documentation.
pub fn insights(query: &str, store: &Store) -> Response<Full<Bytes>> {
    let mut table = None;
    let mut index = None;
    let mut rule = None;
    let mut top = DEFAULT_TOP;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "table" => table = Some(v),
            "index" => index = Some(v),
            "rule" => match InsightsRule::parse(v) {
                Some(r) => rule = Some(r),
                None => {
                    return text(
                        StatusCode::BAD_REQUEST,
                        "unknown rule: use PKC, PKT, SKC or SKT\n",
                    )
                }
            },
            "top" => top = v.parse::<usize>().unwrap_or(DEFAULT_TOP).min(MAX_TOP),
            _ => {}
        }
    }
    let Some(table) = table else {
        return text(StatusCode::BAD_REQUEST, "missing ?table=NAME\n");
    };
    match store.insights_report(table, index, rule, top) {
        None => text(
            StatusCode::NOT_FOUND,
            "contributor insights are not enabled for this table or index\n",
        ),
        Some(report) => match serde_json::to_vec(&report) {
            Ok(json) => body(StatusCode::OK, "application/json", json),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
    }
}

fn body(status: StatusCode, content_type: &'static str, bytes: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    resp
}

fn text(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    body(status, "text/plain", message.as_bytes().to_vec())
}

//! The HTTP front end: DynamoDB's JSON 1.0 protocol over HTTP/1.1 (hyper).
//!
//! Owns framing only — body limits, content encodings, the operation header,
//! response headers (`x-amzn-RequestId`, `x-amz-crc32`) and the health check.
//! Everything about the request's meaning is `Store::handle`'s.
//!
//! At debug level it writes one line per request (`request_log`). With
//! [`ServeOptions::tls`] every connection speaks TLS ([`tls`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::Poll;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::api::{ApiError, ErrorCode, Operation};
use crate::auth::verify::Verifier;
pub use crate::backend::{Backend, BackendRequest, BackendResponse, Health, Input};
use crate::faults::Faults;
pub use browser::{CorsPolicy, HostCheck};
pub use encoding::COMPRESSION_THRESHOLD;
use encoding::{compressed_response, decode_content, response_encoding, BodyError};
pub use flags::ServeArgs;
pub use limits::Limits;
use limits::{Connections, InFlight};
use request_log::RequestLog;
pub use stats::FrontEndStats;
pub use tls::{Tls, TlsError};

mod body;
mod browser;
mod encoding;
mod flags;
mod idle;
mod injection;
mod limits;
mod request_log;
mod stats;
pub mod tls;

/// Largest request line, and largest header section, accepted.
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Largest request body accepted, after decompression.
pub const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// How the front end serves: authentication, browser policy and limits.
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// When set, every DynamoDB request must carry a valid SigV4 signature
    /// by one of its credentials (health checks and preflights need none).
    pub auth: Option<Verifier>,
    /// `None`: as DynamoDB with `auth` (every origin may call, since every
    /// call must be signed), off without it.
    pub cors: Option<CorsPolicy>,
    /// Host names a loopback listener accepts besides loopback ones.
    pub allowed_hosts: Vec<String>,
    pub limits: Limits,
    /// Faults to inject (none by default).
    pub faults: Faults,
    /// Where the front end counts connections, throttled requests and bytes.
    pub stats: FrontEndStats,
    /// Serve https with this certificate (`None`: plain http).
    pub tls: Option<Tls>,
}

/// Serve `backend` on `listener` until `shutdown` completes, then stop
/// accepting and wait for in-flight requests to finish.
pub async fn run<B: Backend>(
    listener: TcpListener,
    store: B,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    serve(listener, store, ServeOptions::default(), shutdown).await
}

/// Like [`run`], but when `auth` is given every DynamoDB request must carry
/// a valid SigV4 signature by one of its credentials (health checks and
/// CORS preflights need none).
pub async fn run_with_auth<B: Backend>(
    listener: TcpListener,
    store: B,
    auth: Option<Verifier>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let options = ServeOptions {
        auth,
        ..ServeOptions::default()
    };
    serve(listener, store, options, shutdown).await
}

/// What every request of one server shares.
struct Policy {
    auth: Option<Verifier>,
    cors: CorsPolicy,
    hosts: HostCheck,
    in_flight: InFlight,
    body_timeout: std::time::Duration,
    faults: Faults,
    stats: FrontEndStats,
}

/// Serve `backend` on `listener` with `options` until `shutdown` completes;
/// then stop accepting, close idle connections, and wait for requests in
/// flight at most `options.limits.shutdown_grace`.
pub async fn serve<B: Backend>(
    listener: TcpListener,
    backend: B,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() && options.auth.is_none() {
        tracing::warn!(
            addr = %local,
            "listening on a non-loopback address without --credentials: anyone who can reach it can read and write every table"
        );
    }
    let limits = options.limits.clone();
    let policy = Arc::new(Policy {
        hosts: HostCheck::new(local, options.allowed_hosts),
        cors: options.cors.unwrap_or(if options.auth.is_some() {
            CorsPolicy::Any
        } else {
            CorsPolicy::Off
        }),
        auth: options.auth,
        in_flight: InFlight::new(limits.max_in_flight),
        body_timeout: limits.body_timeout,
        faults: options.faults,
        stats: options.stats,
    });
    // Shared, not cloned per request: a backend may be a whole service
    // stack, whose clone costs allocations.
    let backend = Arc::new(backend);
    let connections = Connections::new(limits.max_connections);
    let mut tasks = tokio::task::JoinSet::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .keep_alive(true)
        .max_buf_size(64 * 1024)
        // The header timeout is each connection's idle deadline (see
        // `idle`): one timer per connection, not one per request.
        .header_read_timeout(None);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and similar: keep serving the
                    // connections we have, try again shortly.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Reap finished connection tasks as we go.
        while tasks.try_join_next().is_some() {}
        let _ = stream.set_nodelay(true);
        let (guard, mut evicted) = connections.open();
        let counted = policy.stats.open();
        let backend = backend.clone();
        let policy = policy.clone();
        let activity = idle::Activity::new();
        let watched = activity.clone();
        let service = service_fn(move |req| {
            let backend = backend.clone();
            let policy = policy.clone();
            let busy = activity.busy();
            async move {
                let resp = handle(&*backend, &policy, req, peer).await;
                drop(busy);
                Ok::<_, Infallible>(resp)
            }
        });
        let builder = builder.clone();
        let (tls, header_timeout) = (options.tls.clone(), limits.header_timeout);
        tasks.spawn(async move {
            let _guard = (guard, counted);
            // The handshake runs here, in the connection's own task, so a
            // client that connects and sends nothing stalls no one else;
            // the header timeout bounds it.
            let stream = match tls {
                None => tls::Stream::Plain(stream),
                Some(tls) => tokio::select! {
                    accepted = tls.accept(stream, header_timeout) => match accepted {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::debug!(error = %e, %peer, "TLS handshake failed");
                            return;
                        }
                    },
                    _ = &mut evicted => return,
                },
            };
            let stream = idle::Watched::new(stream, watched.clone());
            let conn = builder.serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            let idle = tokio::time::sleep(header_timeout);
            let mut idle = std::pin::pin!(idle);
            let mut asked = false;
            // Done, asked to close (the connection cap, or shutdown), or
            // idle: the connection is polled first, the receiver and the
            // idle timer (registered once, moved only when it fires) on
            // each of its wake-ups.
            loop {
                tokio::select! {
                    biased;
                    result = conn.as_mut() => {
                        if let Err(e) = result {
                            tracing::debug!(error = %e, "connection closed with error");
                        }
                        return;
                    }
                    _ = &mut evicted, if !asked => {
                        // Idle: closes at once; busy: after its current answer.
                        asked = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    () = idle.as_mut() => match watched.next_check(header_timeout) {
                        Some(at) => idle.as_mut().reset(at),
                        None => {
                            tracing::debug!(%peer, "closing a connection idle for the header timeout");
                            return;
                        }
                    },
                }
            }
        });
    }
    drop(listener);
    connections.close_all();
    let drained = tokio::time::timeout(limits.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.count(),
            "shutdown grace period over: closing connections with requests still in flight"
        );
        tasks.abort_all();
    }
    Ok(())
}

/// Answer one HTTP request.
async fn handle<B: Backend>(
    backend: &B,
    policy: &Policy,
    req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<Full<Bytes>> {
    let mut log = RequestLog::start_if_enabled(&req);
    let origin = req.headers().get(header::ORIGIN).cloned();
    let preflight = req.method() == Method::OPTIONS;
    // What a preflight asks for matters only to a page's request (one with
    // an Origin); SDK clients send none.
    let requested = match &origin {
        Some(_) => (
            req.headers()
                .get(header::ACCESS_CONTROL_REQUEST_METHOD)
                .cloned(),
            req.headers()
                .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
                .cloned(),
        ),
        None => (None, None),
    };
    let allowed_origin = origin.as_ref().map(|o| policy.cors.allow(o));
    let mut resp = if !policy.hosts.allows(req.headers()) {
        plain(
            StatusCode::FORBIDDEN,
            "Forbidden: this Host is not accepted on a loopback listener (see --allowed-host)",
            request_id(),
        )
    } else if matches!(allowed_origin, Some(None)) {
        // A browser on a page whose origin is not allowed (see --cors-origin).
        plain(
            StatusCode::FORBIDDEN,
            "Forbidden: cross-origin requests are not allowed from this origin (see --cors-origin)",
            request_id(),
        )
    } else if preflight {
        plain(StatusCode::OK, "", request_id())
    } else {
        match policy.in_flight.admit() {
            Some(_permit) => answer(backend, policy, req, &mut log).await,
            None => {
                policy.stats.throttle();
                error_response(
                    &ApiError::new(
                        ErrorCode::Throttling,
                        "Rate of requests exceeds the allowed throughput.",
                    ),
                    request_id(),
                )
            }
        }
    };
    if let Some(Some(allow)) = allowed_origin {
        cors(&mut resp, allow, preflight, requested);
    }
    if let Some(log) = log {
        log.finish(&resp, peer);
    }
    policy
        .stats
        .send(hyper::body::Body::size_hint(resp.body()).lower());
    resp
}

/// Browser clients (CORS) from an allowed origin may call, and may read
/// DynamoDB's response headers. A preflight echoes what it asked for.
fn cors(
    resp: &mut Response<Full<Bytes>>,
    allow: HeaderValue,
    preflight: bool,
    requested: (Option<HeaderValue>, Option<HeaderValue>),
) {
    let h = resp.headers_mut();
    if allow != "*" {
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow);
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(
            "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,x-amz-crc32,Date",
        ),
    );
    if preflight {
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("86400"),
        );
        if let Some(m) = requested.0 {
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, m);
        }
        if let Some(hs) = requested.1 {
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, hs);
        }
    }
}

async fn answer<B: Backend>(
    backend: &B,
    policy: &Policy,
    req: Request<Incoming>,
    log: &mut Option<RequestLog>,
) -> Response<Full<Bytes>> {
    let request_id = request_id();
    // DynamoDB refuses request lines and header sections over 16 KB with a
    // plain 400 (the front end's buffer, 64 KB, bounds what is read at all).
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES || uri_len(req.uri()) > MAX_HEADER_BYTES {
        return plain(
            StatusCode::BAD_REQUEST,
            "Request line or headers too large",
            request_id,
        );
    }
    if req.method() == Method::GET {
        return health(&req, backend.health(), request_id);
    }
    if req.method() != Method::POST || req.uri().path() != "/" {
        return plain(StatusCode::NOT_FOUND, "Page Not Found", request_id);
    }
    let (parts, body) = req.into_parts();
    let http::request::Parts {
        method,
        uri,
        headers,
        ..
    } = parts;
    let target = headers.get(TARGET).and_then(|v| v.to_str().ok());
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_ascii_lowercase());
    // A declared length over the limit is refused before anything else.
    if hyper::body::Body::size_hint(&body).lower() > MAX_BODY_BYTES as u64 {
        return too_large(request_id);
    }
    // A request that cannot be authenticated is refused before its body
    // (up to 16 MB) is read.
    let signed = match &policy.auth {
        Some(verifier) => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            match verifier.verify_head(&headers, now) {
                Ok(signed) => Some(signed),
                Err(e) => {
                    if let Some(log) = log {
                        log.rejected(e.code);
                    }
                    return error_response(&e, request_id);
                }
            }
        }
        None => None,
    };
    // Most bodies arrive with the request's head: those are read without
    // setting up the timer that bounds a slow one.
    let mut read = std::pin::pin!(body::read(body, MAX_BODY_BYTES));
    let read = match std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await {
        Poll::Ready(read) => Ok(read),
        Poll::Pending => tokio::time::timeout(policy.body_timeout, read).await,
    };
    let body = match read {
        Ok(Ok(b)) => {
            policy.stats.receive(b.len());
            b
        }
        Ok(Err(body::ReadError::TooLarge)) => return too_large(request_id),
        Ok(Err(body::ReadError::Failed)) => {
            return error_response(
                &ApiError::serialization("Failed to read the request body"),
                request_id,
            );
        }
        Err(_) => {
            let mut resp = plain(
                StatusCode::REQUEST_TIMEOUT,
                "Request body not received in time",
                request_id,
            );
            resp.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return resp;
        }
    };
    // The signature covers the body as sent, so it is checked before
    // decompression (everything else about it was checked before reading).
    if let Some(signed) = &signed {
        if let Err(e) = signed.verify_body(&method, &uri, &headers, &body) {
            if let Some(log) = log {
                log.rejected(e.code);
            }
            return error_response(&e, request_id);
        }
    }
    let body = match decode_content(encoding.as_deref(), body) {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(request_id),
        Err(BodyError::Encoding(msg)) => {
            return error_response(&ApiError::new(ErrorCode::InternalServer, msg), request_id);
        }
    };
    let op = match target.map(Operation::from_target) {
        Some(Some(op)) => op,
        _ => {
            return error_response(&ApiError::new(ErrorCode::UnknownOperation, ""), request_id);
        }
    };
    if op == Operation::GetChanges {
        if let Some(signed) = signed.as_ref().filter(|s| !s.may_read_feed()) {
            let e = ApiError::new(
                ErrorCode::AccessDenied,
                format!(
                    "User: {} is not authorized to perform: {}",
                    signed.access_key(),
                    Operation::GetChanges.name()
                ),
            );
            if let Some(log) = log {
                log.rejected(e.code);
            }
            return error_response(&e, request_id);
        }
    }
    if let Some(log) = log.as_mut() {
        log.api_call(op, &body);
    }
    let accepted = response_encoding(&headers);
    let req = BackendRequest::new(op, headers, body);
    let resp = if policy.faults.is_active() || op == Operation::GetChanges {
        injection::call(&policy.faults, backend, req).await
    } else {
        backend.call(req).await
    };
    if let Some(log) = log {
        log.backend_answer(resp.status, &resp.body);
    }
    match accepted {
        Some(encoding) if resp.body.len() > COMPRESSION_THRESHOLD => {
            compressed_response(resp.status, &resp.body, encoding, request_id)
        }
        _ => json_response_with_crc32(resp.status, resp.body, resp.crc32, request_id),
    }
}

/// The length of the request target as it was written (`uri`'s text),
/// without writing it out.
fn uri_len(uri: &http::Uri) -> usize {
    let path = uri.path_and_query().map_or(0, |p| p.as_str().len());
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => scheme.len() + 3 + authority.as_str().len() + path,
        (None, Some(authority)) => authority.as_str().len() + path,
        _ => path,
    }
}

fn health(
    req: &Request<Incoming>,
    state: Health,
    request_id: HeaderValue,
) -> Response<Full<Bytes>> {
    if req.uri().path() != "/" {
        return plain(StatusCode::NOT_FOUND, "Page Not Found", request_id);
    }
    if state != Health::Ok {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("unhealthy: {}", state.describe()),
            request_id,
        );
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    plain(StatusCode::OK, &format!("healthy: {host}"), request_id)
}

fn plain(status: StatusCode, text: &str, request_id: HeaderValue) -> Response<Full<Bytes>> {
    let body = Bytes::from(text.to_owned());
    let crc32 = crc32fast::hash(&body);
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    common_headers(&mut resp, crc32, request_id, Kind::Text);
    resp
}

fn too_large(request_id: HeaderValue) -> Response<Full<Bytes>> {
    let err = ApiError::validation(format!(
        "Request body exceeds the maximum size of {MAX_BODY_BYTES} bytes"
    ));
    let mut resp = error_response(&err, request_id);
    *resp.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

pub fn error_response(err: &ApiError, request_id: HeaderValue) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(status, err.body(), request_id)
}

pub fn json_response(
    status: StatusCode,
    body: impl Into<Bytes>,
    request_id: HeaderValue,
) -> Response<Full<Bytes>> {
    json_response_with_crc32(status, body.into(), None, request_id)
}

/// [`json_response`] for a body whose CRC32 may be known already.
fn json_response_with_crc32(
    status: StatusCode,
    body: Bytes,
    crc32: Option<u32>,
    request_id: HeaderValue,
) -> Response<Full<Bytes>> {
    let crc32 = crc32.unwrap_or_else(|| crc32fast::hash(&body));
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    common_headers(&mut resp, crc32, request_id, Kind::Json);
    resp
}

/// The content types answers are sent with.
#[derive(Clone, Copy)]
enum Kind {
    Json,
    Text,
}

fn common_headers(
    resp: &mut Response<Full<Bytes>>,
    crc32: u32,
    request_id: HeaderValue,
    kind: Kind,
) {
    /// Every answer's headers, the two that vary left empty. Cloning a map
    /// made once costs a fraction of hashing four names into an empty one.
    fn made(content_type: &'static str) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(4);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::SERVER, HeaderValue::from_static("Server"));
        h.insert(REQUEST_ID, HeaderValue::from_static(""));
        h.insert(CRC32, HeaderValue::from_static(""));
        h
    }
    static JSON: LazyLock<HeaderMap> = LazyLock::new(|| made(CONTENT_TYPE));
    static TEXT: LazyLock<HeaderMap> = LazyLock::new(|| made("text/plain"));
    let mut headers = match kind {
        Kind::Json => JSON.clone(),
        Kind::Text => TEXT.clone(),
    };
    let mut request_id = Some(request_id);
    for (name, value) in headers.iter_mut() {
        if *name == REQUEST_ID {
            if let Some(id) = request_id.take() {
                *value = id;
            }
        } else if *name == CRC32 {
            *value = HeaderValue::from(crc32);
        }
    }
    *resp.headers_mut() = headers;
}

const REQUEST_ID: header::HeaderName = header::HeaderName::from_static("x-amzn-requestid");
/// Looked up by name, not by text: a text is parsed (and lower-cased) first.
const TARGET: header::HeaderName = header::HeaderName::from_static("x-amz-target");
const CRC32: header::HeaderName = header::HeaderName::from_static("x-amz-crc32");

/// A 52-character request id in DynamoDB's alphabet (upper-case letters and
/// digits), as the header value every answer carries.
pub fn request_id() -> HeaderValue {
    /// Counter values are handed to threads in blocks, so ids are made
    /// without an atomic every request shares.
    const BLOCK: u64 = 1 << 16;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    thread_local! {
        /// The next counter value of this thread's block, and the block's end.
        static NEXT: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
    }
    let seed = *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        h.finish()
    });
    let n = NEXT.with(|next| {
        let (mut n, mut end) = next.get();
        if n == end {
            n = COUNTER.fetch_add(BLOCK, Ordering::Relaxed);
            end = n + BLOCK;
        }
        next.set((n + 1, end));
        n
    });
    const ALPHABET: &[u8; 36] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    // Distinct counter values give distinct starting states.
    let mut x = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut out = [0u8; 52];
    for chunk in out.chunks_mut(12) {
        // xorshift64*: cheap, and ids need only be unique, not unpredictable.
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        // Twelve base-36 digits per step, read off the top of a 64-bit
        // fraction (one multiplication per digit, no division).
        let mut fraction = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        for c in chunk {
            let wide = u128::from(fraction) * 36;
            *c = ALPHABET[((wide >> 64) as usize).min(35)];
            fraction = wide as u64;
        }
    }
    // Letters and digits by construction: always a valid header value.
    HeaderValue::from_bytes(&out).unwrap_or(HeaderValue::from_static("0"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_ids_are_distinct_52_characters_of_dynamodbs_alphabet() {
        let batches: Vec<Vec<String>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        (0..5_000)
                            .map(|_| {
                                let id = super::request_id();
                                id.to_str().expect("ASCII").to_owned()
                            })
                            .collect()
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("thread"))
                .collect()
        });
        let ids: std::collections::HashSet<&String> = batches.iter().flatten().collect();
        assert_eq!(ids.len(), 20_000);
        for id in ids {
            assert_eq!(id.len(), 52);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
        }
    }
}

//! The upstream: where requests the caches cannot answer go. Either the
//! store embedded in this process (called directly, no HTTP) or a remote
//! DynamoDB-API endpoint reached through a pooled hyper client, over
//! `http://` or `https://` (rustls, the system's root certificates plus
//! those of `--upstream-ca-file`).
//!
//! With a [`Signer`], every forwarded request is re-signed (SigV4) with the
//! proxy's own credentials: the client signed for the proxy's host, so its
//! `Authorization`, `X-Amz-Date` and `X-Amz-Security-Token` cannot be valid
//! upstream and are dropped. Without one, requests go out as the client sent
//! them (enough for a `ferrodyn-store`, which checks no signature).
//!
//! The proxy's own calls ([`HttpUpstream::call`]: the change feed, the
//! Streams follower's ListTables, DescribeTable and Streams operations)
//! have no client signature to pass on, so they are signed with the
//! signer chosen at start-up ([`HttpUpstream::with_own_signer`]): the
//! proxy's credentials, else (for an upstream that is not AWS) a
//! placeholder key pair, since emulators require a signature but accept
//! any key.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrodyn_store::api::{ApiError, ErrorCode, Operation};
use ferrodyn_store::auth::sigv4::{self, Signer};
use ferrodyn_store::server::{Backend, BackendRequest, BackendResponse};
use ferrodyn_store::Store;
use http::{header, HeaderMap, HeaderValue, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::named_tables::NamedTables;
use crate::service::Inner;

/// The upstream: the innermost layer of the stack ([`Inner`]).
#[derive(Clone)]
pub enum Upstream {
    Embedded(Store),
    Http(Box<HttpUpstream>),
}

/// Why an upstream endpoint cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("invalid upstream URL {url}: use http://host[:port] or https://host[:port]")]
    BadUrl { url: String },
    #[error("{url}: no trusted root certificates found (install the system's CA certificates, or pass --upstream-ca-file)")]
    NoRootCertificates { url: String },
    #[error("cannot read certificates (PEM) from --upstream-ca-file {path}")]
    CaFile {
        path: std::path::PathBuf,
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    #[error("no certificate (-----BEGIN CERTIFICATE-----) in --upstream-ca-file {path}")]
    EmptyCaFile { path: std::path::PathBuf },
    #[error("TLS setup for {url}")]
    Tls {
        url: String,
        #[source]
        source: rustls::Error,
    },
}

/// The upstream did not answer usably (connection refused or reset, TLS
/// failure, no answer in time, an answer over the size limit): as opposed
/// to answering with an error.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    #[error("upstream unreachable: {0}")]
    Failed(String),
    #[error("upstream gave no answer within {0:?}")]
    TimedOut(Duration),
    #[error("upstream answer larger than {0} bytes")]
    TooLarge(usize),
}

/// A parsed `http://` or `https://` endpoint URL.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub uri: Uri,
    pub https: bool,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Endpoint, UpstreamError> {
        let bad = || UpstreamError::BadUrl {
            url: url.to_owned(),
        };
        let uri: Uri = url.parse().map_err(|_| bad())?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(bad()),
        };
        if uri.host().unwrap_or_default().is_empty() {
            return Err(bad());
        }
        Ok(Endpoint { uri, https })
    }

    /// The host name, without port (what AWS endpoint names are matched on).
    pub fn host(&self) -> &str {
        self.uri.host().unwrap_or_default()
    }

    /// `host[:port]` as written: the `Host` header, and what is signed.
    pub fn authority(&self) -> &str {
        self.uri.authority().map(|a| a.as_str()).unwrap_or_default()
    }

    /// `host:port` with the scheme's default port filled in, to connect to.
    pub fn socket_address(&self) -> String {
        let port = self
            .uri
            .port_u16()
            .unwrap_or(if self.https { 443 } else { 80 });
        format!("{}:{port}", self.host())
    }
}

/// Bounds on one forwarded request, so that a stalled or misbehaving
/// upstream costs a client an error instead of a connection held forever
/// and memory without limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// From sending the request to the last byte of the response.
    pub timeout: Duration,
    /// Largest response body accepted (DynamoDB's largest answers, a
    /// BatchGetItem or a 1 MB page of Query results with their encoding,
    /// stay far below the default).
    pub max_response_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            timeout: Duration::from_secs(30),
            max_response_bytes: 32 << 20,
        }
    }
}

#[derive(Clone)]
pub struct HttpUpstream {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    host: HeaderValue,
    signer: Option<Arc<Signer>>,
    /// Signs the proxy's own calls (see the module doc).
    own_signer: Option<Arc<Signer>>,
    limits: Limits,
    /// Woken when a CreateTable, UpdateTable or DeleteTable passed through
    /// successfully: the Streams follower looks at the tables again at once.
    table_changes: Arc<tokio::sync::Notify>,
    /// The tables forwarded requests name (for the Streams follower).
    named: Arc<NamedTables>,
}

/// The certificates an https client trusts.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// The system's root certificates.
    pub system: bool,
    /// These besides (a private CA).
    pub extra: &'a [CertificateDer<'static>],
}

/// The connector of every Ferrodyn HTTP client (the proxy's upstream, the
/// load generator): `http://` or `https://` (rustls with aws-lc-rs, TLS 1.2
/// and 1.3, HTTP/1.1), TCP_NODELAY, 10 s to connect. Also returns how many
/// trust anchors were loaded: an https client with none can reach nothing.
pub fn connector(
    trust: Trust<'_>,
) -> Result<(HttpsConnector<HttpConnector>, usize), rustls::Error> {
    let mut roots = rustls::RootCertStore::empty();
    let mut anchors = 0;
    if trust.system {
        let (added, _ignored) =
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        anchors += added;
    }
    let (added, _ignored) = roots.add_parsable_certificates(trust.extra.iter().cloned());
    anchors += added;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut tcp = HttpConnector::new();
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    tcp.set_connect_timeout(Some(Duration::from_secs(10)));
    let connector = HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp);
    Ok((connector, anchors))
}

/// The certificates of a PEM file (`--upstream-ca-file`), to trust as roots.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, UpstreamError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|source| UpstreamError::CaFile {
            path: path.to_owned(),
            source,
        })?;
    if certs.is_empty() {
        return Err(UpstreamError::EmptyCaFile {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// Request headers the proxy never forwards when it re-signs: the client's
/// signature is for the proxy's host (and its content hash, if any, is
/// recomputed as part of the new signature).
const CLIENT_SIGNATURE_HEADERS: [&str; 4] = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
];

impl HttpUpstream {
    /// A pooled client for `endpoint`, signing with `signer` when given,
    /// each request bounded by `limits`.
    pub fn new(
        endpoint: &Endpoint,
        signer: Option<Arc<Signer>>,
        limits: Limits,
    ) -> Result<HttpUpstream, UpstreamError> {
        Self::with_roots(endpoint, signer, limits, &[])
    }

    /// Like [`HttpUpstream::new`], trusting `extra_roots` for https besides
    /// the system's root certificates.
    pub fn with_roots(
        endpoint: &Endpoint,
        signer: Option<Arc<Signer>>,
        limits: Limits,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<HttpUpstream, UpstreamError> {
        let url = endpoint.uri.to_string();
        let host = HeaderValue::from_str(endpoint.authority())
            .map_err(|_| UpstreamError::BadUrl { url: url.clone() })?;
        // Plain-http upstreams need no trust anchors: skip reading them.
        let trust = Trust {
            system: endpoint.https,
            extra: if endpoint.https { extra_roots } else { &[] },
        };
        let (connector, anchors) = connector(trust).map_err(|source| UpstreamError::Tls {
            url: url.clone(),
            source,
        })?;
        if endpoint.https && anchors == 0 {
            return Err(UpstreamError::NoRootCertificates { url });
        }
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(256)
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Ok(HttpUpstream {
            client,
            uri: endpoint.uri.clone(),
            host,
            own_signer: signer.clone(),
            signer,
            limits,
            table_changes: Arc::default(),
            named: Arc::default(),
        })
    }

    /// Sign the proxy's own calls with `signer` (forwarded requests keep
    /// the signing chosen at construction).
    pub fn with_own_signer(mut self, signer: Option<Arc<Signer>>) -> HttpUpstream {
        self.own_signer = signer;
        self
    }

    /// Whether the proxy's own calls are signed.
    pub fn signs_own_calls(&self) -> bool {
        self.own_signer.is_some()
    }

    /// Notified after each table-management request that succeeded.
    pub fn table_changes(&self) -> Arc<tokio::sync::Notify> {
        self.table_changes.clone()
    }

    /// The tables forwarded requests named.
    pub fn named_tables(&self) -> Arc<NamedTables> {
        self.named.clone()
    }

    /// Whether requests are re-signed.
    pub fn signs(&self) -> bool {
        self.signer.is_some()
    }

    pub async fn forward(&self, req: BackendRequest) -> BackendResponse {
        let target = match req.headers.get("x-amz-target") {
            Some(t) => t.clone(),
            None => match HeaderValue::from_str(&format!("DynamoDB_20120810.{}", req.op.name())) {
                Ok(v) => v,
                Err(e) => return upstream_error(&e),
            },
        };
        self.named.note(&req);
        let manages_tables = matches!(
            req.op,
            Operation::CreateTable | Operation::UpdateTable | Operation::DeleteTable
        );
        let send = self.send(target, &req.headers, req.body);
        let answer = match tokio::time::timeout(self.limits.timeout, send).await {
            Ok(answer) => answer,
            Err(_) => Err(Unreachable::TimedOut(self.limits.timeout)),
        };
        match answer {
            Ok(r) => {
                if manages_tables && r.status.is_success() {
                    // A stored permit: the follower sees it even if busy now.
                    self.table_changes.notify_one();
                }
                r
            }
            Err(e) => unusable_answer(&e),
        }
    }

    /// Send one request with `X-Amz-Target: target` (e.g. a Streams
    /// operation) and a JSON body, as the proxy itself, giving up after
    /// `timeout`.
    pub async fn call(
        &self,
        target: &'static str,
        body: Bytes,
        timeout: Duration,
    ) -> Result<BackendResponse, Unreachable> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-amz-json-1.0"),
        );
        // The proxy's own calls (the change feed, DynamoDB Streams) carry up
        // to a few MB by design: never less than the default limit.
        let max = self
            .limits
            .max_response_bytes
            .max(Limits::default().max_response_bytes);
        let signer = self.own_signer.as_deref();
        let send = self.send_limited(
            HeaderValue::from_static(target),
            &headers,
            body,
            max,
            signer,
        );
        tokio::time::timeout(timeout, send)
            .await
            .map_err(|_| Unreachable::TimedOut(timeout))?
    }

    async fn send(
        &self,
        target: HeaderValue,
        headers: &HeaderMap,
        body: Bytes,
    ) -> Result<BackendResponse, Unreachable> {
        let max = self.limits.max_response_bytes;
        let signer = self.signer.as_deref();
        self.send_limited(target, headers, body, max, signer).await
    }

    async fn send_limited(
        &self,
        target: HeaderValue,
        headers: &HeaderMap,
        body: Bytes,
        max: usize,
        signer: Option<&Signer>,
    ) -> Result<BackendResponse, Unreachable> {
        let mut builder = Request::post(self.uri.clone())
            .header(header::HOST, self.host.clone())
            .header("x-amz-target", target.clone());
        for (name, value) in headers {
            // The body is forwarded decompressed; hop-by-hop and framing
            // headers are the client connection's own.
            if name == header::HOST
                || name == header::CONTENT_LENGTH
                || name == header::CONTENT_ENCODING
                || name == header::CONNECTION
                || name == header::TRANSFER_ENCODING
                // The front end compresses responses itself.
                || name == header::ACCEPT_ENCODING
                || name == "x-amz-target"
            {
                continue;
            }
            if signer.is_some()
                && (name == header::CONTENT_TYPE
                    || CLIENT_SIGNATURE_HEADERS.contains(&name.as_str()))
            {
                continue;
            }
            builder = builder.header(name, value);
        }
        if let Some(signer) = signer {
            let host = self.host.to_str().unwrap_or_default();
            let target = String::from_utf8_lossy(target.as_bytes());
            let signed = signer.sign(host, &target, &body, &sigv4::now());
            builder = builder
                .header(header::CONTENT_TYPE, "application/x-amz-json-1.0")
                .header("x-amz-date", signed.amz_date)
                .header(header::AUTHORIZATION, signed.authorization);
            if let Some(token) = signed.security_token {
                builder = builder.header("x-amz-security-token", token);
            }
        }
        let request = builder
            .body(Full::new(body))
            .map_err(|e| Unreachable::Failed(error_chain(&e)))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| Unreachable::Failed(error_chain(&e)))?;
        let status = response.status();
        let body = http_body_util::Limited::new(response.into_body(), max)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    Unreachable::TooLarge(max)
                } else {
                    Unreachable::Failed(error_chain(&*e))
                }
            })?;
        Ok(BackendResponse {
            status,
            body: body.to_bytes(),
            crc32: None,
        })
    }
}

/// `e: its source: its source ...`, so "connection refused" is not hidden
/// behind hyper's "client error (Connect)".
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// The client's answer when the upstream gave none it can use: a retryable
/// InternalServerError, as DynamoDB answers when a request fails inside it.
fn unusable_answer(e: &Unreachable) -> BackendResponse {
    tracing::warn!(error = %e, "upstream request failed");
    let message = match e {
        Unreachable::Failed(_) => "The upstream endpoint could not be reached",
        Unreachable::TimedOut(_) => "The upstream endpoint did not answer in time",
        Unreachable::TooLarge(_) => "The upstream endpoint's answer exceeded the size limit",
    };
    let err = ApiError::new(ErrorCode::InternalServer, message);
    BackendResponse {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        body: Bytes::from(err.body()),
        crc32: None,
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
        crc32: None,
    }
}

impl Inner for Upstream {
    /// Boxed: the store's future is large, and each layer above would hold
    /// (and move) it whole.
    async fn call(&self, req: BackendRequest) -> BackendResponse {
        match self {
            Upstream::Embedded(store) => Box::pin(store.call(req)).await,
            Upstream::Http(http) => Box::pin(http.forward(req)).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_http_and_https() {
        let e = Endpoint::parse("https://dynamodb.eu-west-1.amazonaws.com").expect("https");
        assert!(e.https);
        assert_eq!(e.host(), "dynamodb.eu-west-1.amazonaws.com");
        assert_eq!(e.authority(), "dynamodb.eu-west-1.amazonaws.com");
        assert_eq!(e.socket_address(), "dynamodb.eu-west-1.amazonaws.com:443");
        let e = Endpoint::parse("http://127.0.0.1:8001").expect("http");
        assert!(!e.https);
        assert_eq!(e.socket_address(), "127.0.0.1:8001");
        for bad in ["ftp://x", "127.0.0.1:8001", "https://", "not a url"] {
            assert!(Endpoint::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_upstreams_need_no_certificates() {
        let e = Endpoint::parse("http://127.0.0.1:8001").expect("http");
        assert!(HttpUpstream::new(&e, None, Limits::default()).is_ok());
    }
}

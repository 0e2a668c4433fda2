//! A pooled HTTP/1.1 client speaking DynamoDB's JSON 1.0 protocol, and the
//! classification of failures.
//!
//! Built on hyper-util's legacy pooled client (with rustls for https) so
//! every measured request pays
//! only what a real SDK pays on a warm connection. Requests are SigV4-signed
//! only when a [`Signer`] is given: Ferrodyn and other local endpoints
//! accept any credentials, and signing costs client CPU.
//!
//! A response counts as a success only if it is HTTP 200. Everything else
//! becomes a [`Failure`] named by DynamoDB's `__type` (namespace dropped, as
//! SDKs name errors), or by the HTTP status or transport fault when there is
//! no `__type`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use ferrodyn_proxy::upstream::{connector, Trust};
use ferrodyn_store::auth::sigv4::{self, Signer};

/// Why a request did not succeed, named for error counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `ConditionalCheckFailedException`, `HTTP 503`, `ConnectionError`, ...
    pub kind: String,
    pub message: String,
}

/// A cheap-to-clone handle on a connection pool to one endpoint.
#[derive(Clone, Debug)]
pub struct Client {
    http: HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>,
    uri: Uri,
    /// `host[:port]` as sent in `Host` and signed.
    host: HeaderValue,
    timeout: Duration,
    signer: Option<Arc<Signer>>,
}

/// How long one request may take before it counts as a `Timeout` failure.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Client {
    /// A client for `url` (`http://host:port` or `https://...`) keeping up
    /// to `max_idle` connections open. https trusts the system's root
    /// certificates.
    pub fn new(url: &str, max_idle: usize) -> anyhow::Result<Client> {
        Self::with_roots(url, max_idle, None)
    }

    /// Like [`Client::new`], but https trusts only the certificates in the
    /// PEM file `ca_file` when one is given.
    pub fn with_roots(
        url: &str,
        max_idle: usize,
        ca_file: Option<&Path>,
    ) -> anyhow::Result<Client> {
        let uri: Uri = url
            .parse()
            .map_err(|e| anyhow::anyhow!("--target {url:?} is not a URL: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => anyhow::bail!("--target {url:?} must start with http:// or https://"),
        };
        let host = uri
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
            .ok_or_else(|| anyhow::anyhow!("--target {url:?} has no host"))?;
        // The PEM file's certificates only, or the system's (not read for a
        // plain-http target, which needs no trust anchors).
        let extra = match ca_file {
            Some(path) => CertificateDer::pem_file_iter(path)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| anyhow::anyhow!("--ca-file {}: {e}", path.display()))?,
            None => Vec::new(),
        };
        let trust = Trust {
            system: https && ca_file.is_none(),
            extra: &extra,
        };
        let (connector, loaded) =
            connector(trust).map_err(|e| anyhow::anyhow!("TLS setup: {e}"))?;
        if https && loaded == 0 {
            anyhow::bail!(
                "--target {url}: no trusted root certificates found \
                 (install the system's CA certificates, or pass --ca-file)"
            );
        }
        let http = HyperClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_idle.max(1))
            // Below the servers' own idle timeouts (Ferrodyn's is 30 s):
            // a connection the server is closing just as a request reuses
            // it fails that request, so the client lets it go first.
            .pool_idle_timeout(Duration::from_secs(20))
            .build(connector);
        Ok(Client {
            http,
            uri,
            host,
            timeout: DEFAULT_TIMEOUT,
            signer: None,
        })
    }

    /// Sign every request with SigV4.
    pub fn with_signer(mut self, signer: Arc<Signer>) -> Client {
        self.signer = Some(signer);
        self
    }

    /// Fail requests that take longer than `timeout` (kind `Timeout`), so a
    /// hung endpoint cannot hang the benchmark.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    pub fn url(&self) -> String {
        self.uri.to_string()
    }

    /// Send one DynamoDB request (`operation` as in `DynamoDB_20120810.<operation>`)
    /// and return the response body of a success.
    pub async fn call(&self, operation: &str, body: Vec<u8>) -> Result<Bytes, Failure> {
        self.call_target(&format!("DynamoDB_20120810.{operation}"), body)
            .await
    }

    /// Send one request with an explicit `X-Amz-Target` (e.g. the Streams API
    /// or Ferrodyn's change feed).
    pub async fn call_target(&self, target: &str, body: Vec<u8>) -> Result<Bytes, Failure> {
        let target =
            HeaderValue::from_str(target).map_err(|_| failure("InvalidOperationName", target))?;
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(header::HOST, self.host.clone())
            .header(header::CONTENT_TYPE, "application/x-amz-json-1.0")
            .header("x-amz-target", target.clone());
        if let Some(signer) = &self.signer {
            let host = self.host.to_str().unwrap_or_default();
            let target = target.to_str().unwrap_or_default();
            let signed = signer.sign(host, target, &body, &sigv4::now());
            req = req
                .header("x-amz-date", signed.amz_date)
                .header(header::AUTHORIZATION, signed.authorization);
            if let Some(token) = signed.security_token {
                req = req.header("x-amz-security-token", token);
            }
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| failure("RequestBuildError", &e.to_string()))?;
        let exchange = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| failure("ConnectionError", &error_chain(&e)))?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| failure("ConnectionError", &error_chain(&e)))?
                .to_bytes();
            Ok::<_, Failure>((status, body))
        };
        let (status, body) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| failure("Timeout", &format!("no response within {:?}", self.timeout)))??;
        if status == StatusCode::OK {
            Ok(body)
        } else {
            Err(classify(status, &body))
        }
    }
}

/// Name a non-200 response: its `__type` if the body has one.
pub fn classify(status: StatusCode, body: &[u8]) -> Failure {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(name).or_else(|| v.get(name.to_ascii_lowercase())))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    match field("__type") {
        Some(t) => Failure {
            kind: t.rsplit('#').next().unwrap_or(&t).to_owned(),
            message: field("Message").unwrap_or_default(),
        },
        None => Failure {
            kind: format!("HTTP {}", status.as_u16()),
            message: String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        },
    }
}

fn failure(kind: &str, message: &str) -> Failure {
    Failure {
        kind: kind.to_owned(),
        message: message.to_owned(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_named_by_type_without_namespace() {
        let body = br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#;
        let f = classify(StatusCode::BAD_REQUEST, body);
        assert_eq!(f.kind, "ResourceNotFoundException");
        assert_eq!(f.message, "Requested resource not found");
        assert_eq!(
            classify(StatusCode::SERVICE_UNAVAILABLE, b"busy").kind,
            "HTTP 503"
        );
    }
}

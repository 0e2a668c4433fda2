//! https targets: the client speaks TLS, trusting the certificates it is
//! told to (a self-signed fixture for 127.0.0.1 here), and refuses a server
//! it cannot verify.

// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use ferrodyn_bench::client::Client;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// An https server on 127.0.0.1 answering `{}` with the fixture certificate.
async fn tls_server() -> String {
    let cert = CertificateDer::from_pem_file(fixture("tls-cert.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(fixture("tls-key.pem")).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(stream).await else {
                    return;
                };
                let service = service_fn(|_req| async {
                    Ok::<_, Infallible>(http::Response::new(Full::new(Bytes::from_static(b"{}"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    url
}

#[tokio::test]
async fn https_target_is_reached_over_tls_with_a_trusted_certificate() {
    let url = tls_server().await;
    let client = Client::with_roots(&url, 1, Some(&fixture("tls-cert.pem"))).unwrap();
    let body = client.call("ListTables", b"{}".to_vec()).await.unwrap();
    assert_eq!(&body[..], b"{}");
}

#[tokio::test]
async fn https_target_with_an_untrusted_certificate_is_refused() {
    let url = tls_server().await;
    // The system's roots do not include the self-signed fixture.
    match Client::new(&url, 1) {
        Err(e) => assert!(
            e.to_string().contains("no trusted root certificates"),
            "{e}"
        ),
        Ok(client) => {
            let err = client.call("ListTables", b"{}".to_vec()).await.unwrap_err();
            assert_eq!(err.kind, "ConnectionError", "{}", err.message);
        }
    }
}

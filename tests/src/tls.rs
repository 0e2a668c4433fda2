//! TLS fixtures: a certificate authority made at test time ([`TestCa`]),
//! a server certificate it signed for `localhost` and `127.0.0.1`, SDK
//! clients that trust it, and raw https GETs (for admin endpoints).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use ferrodyn_store::server::Tls;
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::TempDir;
use crate::wire::parse_response;

/// A fresh CA and a server certificate it issued, as PEM files.
pub struct TestCa {
    /// The CA certificate: what clients trust (`AWS_CA_BUNDLE`,
    /// `--upstream-ca-file`).
    pub ca_pem: PathBuf,
    /// The server's certificate (issued by the CA) and its private key.
    pub cert_pem: PathBuf,
    pub key_pem: PathBuf,
    dir: TempDir,
}

impl TestCa {
    pub fn new() -> TestCa {
        let dir = TempDir::new("tls");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Ferrodyn test CA");
        let ca = ca_params.self_signed(&ca_key).expect("CA certificate");

        let key = KeyPair::generate().expect("server key");
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned()]).expect("server params");
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        let cert = params.signed_by(&key, &ca, &ca_key).expect("server cert");

        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("write PEM");
            path
        };
        TestCa {
            ca_pem: write("ca.pem", ca.pem()),
            cert_pem: write("cert.pem", cert.pem()),
            key_pem: write("key.pem", key.serialize_pem()),
            dir,
        }
    }

    /// A directory for other files of the test (removed with the CA).
    pub fn dir(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    /// The server side: what `--tls-cert cert.pem --tls-key key.pem` loads.
    pub fn server_tls(&self) -> Tls {
        Tls::from_pem_files(&self.cert_pem, &self.key_pem).expect("server TLS")
    }

    /// An SDK client for the https `endpoint` whose trust store holds only
    /// this CA.
    pub fn client(&self, endpoint: &str) -> Client {
        let ca = std::fs::read(&self.ca_pem).expect("read CA");
        let context = TlsContext::builder()
            .with_trust_store(TrustStore::empty().with_pem_certificate(ca))
            .build()
            .expect("TLS context");
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https();
        let config = aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .http_client(http)
            .credentials_provider(Credentials::new(
                "ferrodyn", "ferrodyn", None, None, "tests",
            ))
            .build();
        Client::from_conf(config)
    }

    /// GET `path` over https from `addr`, trusting this CA: status and body.
    pub async fn https_get(&self, addr: SocketAddr, path: &str) -> (u16, String) {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca_pem).expect("CA PEM") {
            roots.add(cert.expect("CA certificate")).expect("trust CA");
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let name = ServerName::try_from("localhost").expect("server name");
        let mut stream = connector.connect(name, tcp).await.expect("TLS handshake");
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .expect("send request");
        let mut raw = Vec::new();
        // A peer closing without close_notify is fine once the answer is in.
        let _ = stream.read_to_end(&mut raw).await;
        let (status, _headers, body) = parse_response(&raw);
        (status, String::from_utf8_lossy(&body).into_owned())
    }
}

impl Default for TestCa {
    fn default() -> TestCa {
        TestCa::new()
    }
}

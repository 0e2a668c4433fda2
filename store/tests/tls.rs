//! `ferrodyn-store --tls-cert PEM --tls-key PEM`: the binary serves https,
//! announces an `https://` URL once it answers over TLS, and refuses to
//! start, with a message naming the file, when the certificate or key
//! cannot be used.

#![cfg(unix)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use support::process::ServerProcess;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A CA, and a certificate it issued for localhost and 127.0.0.1, written
/// to `dir` as ca.pem, cert.pem, key.pem; plus other.pem, a key that
/// belongs to no certificate.
fn write_certificates(dir: &Path) {
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).expect("CA");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("params");
    params
        .subject_alt_names
        .push(SanType::IpAddress([127, 0, 0, 1].into()));
    let cert = params.signed_by(&key, &ca, &ca_key).expect("certificate");
    std::fs::write(dir.join("ca.pem"), ca.pem()).expect("write");
    std::fs::write(dir.join("cert.pem"), cert.pem()).expect("write");
    std::fs::write(dir.join("key.pem"), key.serialize_pem()).expect("write");
    let other = KeyPair::generate().expect("other key");
    std::fs::write(dir.join("other.pem"), other.serialize_pem()).expect("write");
}

fn store_command(dir: &Path, cert: &Path, key: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"));
    command
        .current_dir(dir)
        .args(["--in-memory", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(cert)
        .arg("--tls-key")
        .arg(key);
    command
}

/// POST ListTables over https to `addr`, trusting `ca`: the status line.
async fn list_tables_over_tls(addr: std::net::SocketAddr, ca: &Path) -> String {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots.add(cert.expect("CA")).expect("trust CA");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::IpAddress(addr.ip().into());
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("handshake with a certificate the CA issued");
    let body = "{}";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: DynamoDB_20120810.ListTables\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(request.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let text = String::from_utf8_lossy(&raw);
    text.lines().next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn serves_https_and_announces_an_https_url() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_certificates(dir.path());
    let ready_file = dir.path().join("ready");
    let mut command = store_command(
        dir.path(),
        &dir.path().join("cert.pem"),
        &dir.path().join("key.pem"),
    );
    command.arg("--ready-file").arg(&ready_file);
    let mut server = ServerProcess::spawn(command);
    let first = server.stdout_line();
    let url = first
        .strip_prefix("FERRODYN_LISTENING ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let addr: std::net::SocketAddr = url
        .strip_prefix("https://")
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("not https://IP:PORT: {url}"));
    assert_eq!(
        std::fs::read_to_string(&ready_file).expect("ready file"),
        format!("{url}\n")
    );
    // Announced means answering over TLS: no retry needed.
    let status = list_tables_over_tls(addr, &dir.path().join("ca.pem")).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let (status, _) = server.terminate();
    assert!(status.success(), "exit status {status}");
}

/// Runs the binary with `cert` and `key`; it must exit non-zero with a
/// message containing each of `expected`.
fn refuses(cert: PathBuf, key: PathBuf, expected: &[&str]) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = store_command(dir.path(), &cert, &key)
        .output()
        .expect("run ferrodyn-store");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started anyway:\n{stderr}");
    assert!(out.stdout.is_empty(), "announced anyway");
    for text in expected {
        assert!(stderr.contains(text), "{text:?} missing from:\n{stderr}");
    }
}

#[test]
fn unusable_certificates_or_keys_stop_the_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_certificates(dir.path());
    let file = |name: &str| dir.path().join(name);
    let missing = file("missing.pem").display().to_string();
    refuses(
        file("missing.pem"),
        file("key.pem"),
        &["cannot read the TLS certificate file", &missing],
    );
    // A key where the certificate should be.
    let key = file("key.pem").display().to_string();
    refuses(
        file("key.pem"),
        file("key.pem"),
        &["no certificate (-----BEGIN CERTIFICATE-----) in", &key],
    );
    let cert = file("cert.pem").display().to_string();
    refuses(
        file("cert.pem"),
        file("cert.pem"),
        &["cannot read a private key", &cert],
    );
    // A key that does not belong to the certificate.
    refuses(
        file("cert.pem"),
        file("other.pem"),
        &["cannot be used together", &cert],
    );
    // --tls-cert alone is a usage error.
    let out = Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"))
        .current_dir(dir.path())
        .args(["--in-memory", "--listen", "127.0.0.1:0", "--tls-cert"])
        .arg(file("cert.pem"))
        .output()
        .expect("run ferrodyn-store");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--tls-key"));
}

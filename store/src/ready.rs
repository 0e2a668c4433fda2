//! Telling the program that started a server where it listens, once it
//! answers: for tests in Python or JavaScript that run the binary with
//! `--listen 127.0.0.1:0` and need the port the system chose.
//!
//! Two channels, both written only after the server has answered its own
//! health check (`GET /`), so a reader can send requests at once:
//!
//! * stdout's first line, always: `FERRODYN_LISTENING http://IP:PORT`
//!   (`https://` with `--tls-cert`; logs go to stderr, so stdout carries
//!   nothing else);
//! * `--ready-file PATH` (`FERRODYN_READY_FILE`), when given: the URL and a
//!   newline, written under a temporary name and renamed, so a reader that
//!   polls for the file never sees half of it, and before stdout's line,
//!   so a starter that read the line finds the file. A file left by an
//!   earlier run is removed at start, and this run's is removed when the
//!   process exits cleanly.
//!
//! Probing itself keeps this module out of the servers' code: whatever a
//! server does before it serves (opening the store, say), it has done by
//! the time it answers. A TLS server is probed over TLS, trusting exactly
//! its own certificate.

use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::server::Tls;

/// What stdout's first line starts with.
pub const STDOUT_PREFIX: &str = "FERRODYN_LISTENING";

/// The readiness flags both binaries accept.
#[derive(Debug, Clone, clap::Args)]
pub struct ReadyArgs {
    /// Once the server answers, write its URL (http://IP:PORT) to this file
    /// (atomically; removed again on exit). The same URL is always printed
    /// on stdout's first line as "FERRODYN_LISTENING http://IP:PORT".
    #[arg(long, env = "FERRODYN_READY_FILE")]
    pub ready_file: Option<PathBuf>,
}

/// Why the readiness announcement failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the ready file {path}")]
pub struct ReadyFileError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

impl From<ReadyFileError> for std::io::Error {
    fn from(e: ReadyFileError) -> std::io::Error {
        std::io::Error::other(e)
    }
}

/// The ready file of this run: removed when dropped.
#[derive(Debug)]
pub struct ReadyFile {
    path: Option<PathBuf>,
}

impl ReadyFile {
    /// Clear what an earlier run may have left at `args.ready_file`, so
    /// that its appearance means this run is ready.
    pub fn prepare(args: &ReadyArgs) -> Result<ReadyFile, ReadyFileError> {
        if let Some(path) = &args.ready_file {
            match std::fs::remove_file(path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(ReadyFileError {
                        path: path.clone(),
                        source,
                    })
                }
            }
        }
        Ok(ReadyFile {
            path: args.ready_file.clone(),
        })
    }

    /// Announce `url` on stdout and in the file.
    fn publish(&self, url: &str) -> Result<(), ReadyFileError> {
        // The file first: a starter that read stdout's line may look for
        // the file at once.
        if let Some(path) = &self.path {
            write_atomically(path, format!("{url}\n").as_bytes()).map_err(|source| {
                ReadyFileError {
                    path: path.clone(),
                    source,
                }
            })?;
        }
        // A closed stdout is the starter's choice; the file still matters.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{STDOUT_PREFIX} {url}").and_then(|()| out.flush());
        Ok(())
    }
}

impl Drop for ReadyFile {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, contents)?;
    std::fs::rename(&temporary, path)
}

/// Drive `serving` (a server on `addr`, speaking TLS with `tls`) to
/// completion, announcing its URL through `ready` as soon as it answers a
/// health check. If `serving` ends first (it could not start), nothing is
/// announced.
pub async fn serve_and_announce<F, E>(
    addr: SocketAddr,
    tls: Option<&Tls>,
    ready: &ReadyFile,
    serving: F,
) -> Result<(), E>
where
    F: Future<Output = Result<(), E>>,
    E: From<std::io::Error>,
{
    tokio::pin!(serving);
    tokio::select! {
        result = &mut serving => return result,
        () = answers_health_check(addr, tls) => {}
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    ready
        .publish(&format!("{scheme}://{addr}"))
        .map_err(std::io::Error::from)?;
    serving.await
}

/// Completes once `GET /` on `addr` (over TLS with `tls`) gets `200`.
pub async fn answers_health_check(addr: SocketAddr, tls: Option<&Tls>) {
    // A wildcard address is not something to connect to; its loopback is.
    let target = match addr {
        SocketAddr::V4(a) if a.ip().is_unspecified() => {
            SocketAddr::from(([127, 0, 0, 1], a.port()))
        }
        SocketAddr::V6(a) if a.ip().is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, a.port()))
        }
        other => other,
    };
    let connector = match tls.map(Tls::probe_config).transpose() {
        Ok(config) => config.map(|c| tokio_rustls::TlsConnector::from(std::sync::Arc::new(c))),
        Err(e) => {
            // Cannot happen with the provider's defaults; never announce
            // rather than announce a server that was not probed.
            tracing::error!(error = %e, "cannot build the readiness probe's TLS client");
            return std::future::pending().await;
        }
    };
    loop {
        let answered = match &connector {
            None => health_check(target).await,
            Some(c) => tls_health_check(target, c).await,
        };
        if answered.unwrap_or(false) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn health_check(addr: SocketAddr) -> std::io::Result<bool> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    get_root(stream).await
}

async fn tls_health_check(
    addr: SocketAddr,
    connector: &tokio_rustls::TlsConnector,
) -> std::io::Result<bool> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let stream = connector.connect(name, tcp).await?;
    get_root(stream).await
}

async fn get_root(mut stream: impl AsyncRead + AsyncWrite + Unpin) -> std::io::Result<bool> {
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: ferrodyn\r\nConnection: close\r\n\r\n")
        .await?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await?;
    Ok(head.starts_with(b"HTTP/1.1 200"))
}

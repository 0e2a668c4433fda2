//! A store's admin endpoint (`ferrodyn-store --admin-listen`), served
//! in-process on `127.0.0.1:0` for a [`crate::TestStore`]'s store, and what
//! tests read from it: raw GETs and values of metrics by name and labels.

use std::net::SocketAddr;

use ferrodyn_store::auth::verify::Verifier;
use ferrodyn_store::faults::Faults;
use ferrodyn_store::Store;
use tokio::sync::oneshot;

use crate::wire::parse_response;

/// The admin endpoint of one store, stopped when dropped.
pub struct StoreAdmin {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl StoreAdmin {
    /// Serve `store`'s admin endpoint (requiring HTTP Basic with one of
    /// `auth`'s key pairs, if given).
    pub async fn start(store: &Store, auth: Option<Verifier>) -> StoreAdmin {
        StoreAdmin::start_with_faults(store, Faults::new(), auth).await
    }

    /// As [`StoreAdmin::start`], with `/faults` managing `faults` (those
    /// the store's front end injects).
    pub async fn start_with_faults(
        store: &Store,
        faults: Faults,
        auth: Option<Verifier>,
    ) -> StoreAdmin {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind admin");
        let addr = listener.local_addr().expect("admin addr");
        let (tx, rx) = oneshot::channel::<()>();
        let store = store.clone();
        tokio::spawn(async move {
            let _ = ferrodyn_store::admin::run(listener, store, faults, auth, None, async {
                let _ = rx.await;
            })
            .await;
        });
        StoreAdmin {
            addr,
            shutdown: Some(tx),
        }
    }

    /// GET `path`: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        admin_get(self.addr, path, &[]).await
    }

    /// GET `path` with extra `headers`.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        admin_get(self.addr, path, headers).await
    }

    /// `method` `path` with `body`: status and body.
    pub async fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        admin_request(self.addr, method, path, &[], body).await
    }

    /// The value of the series `series` (name and labels exactly as
    /// exported, e.g. `m_total{index="",table="t"}`) in `/metrics`.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await;
        sample(&text, series)
    }
}

impl Drop for StoreAdmin {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The value of `series` in the Prometheus text `text`, if exported.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
}

/// GET `path` from the admin endpoint at `addr` with extra `headers`.
pub async fn admin_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    admin_request(addr, "GET", path, headers, "").await
}

/// `method` `path` with `body` to the admin endpoint at `addr`.
pub async fn admin_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect admin");
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    let (status, _, body) = parse_response(&buf);
    (status, String::from_utf8_lossy(&body).into_owned())
}

//! Shared fixtures for Ferrodyn's integration tests: a store started
//! in-process on `127.0.0.1:0` with a fresh data directory, and a real
//! `aws-sdk-dynamodb` client pointed at it.

pub mod fixtures;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use ferrodyn_store::{server, Store, StoreConfig};
use tokio::sync::oneshot;

/// A directory removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "ferrodyn-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A store serving HTTP on an ephemeral port until dropped.
pub struct TestStore {
    pub addr: SocketAddr,
    pub store: Store,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    // Dropped last: the server must stop before its directory goes.
    pub dir: TempDir,
}

impl TestStore {
    /// Start a store with a fresh data directory.
    pub async fn start() -> TestStore {
        let dir = TempDir::new("store");
        Self::start_in(dir).await
    }

    /// Start a store on an existing directory (e.g. to test recovery).
    pub async fn start_in(dir: TempDir) -> TestStore {
        let config = StoreConfig::new(dir.path());
        Self::start_with(dir, config).await
    }

    /// Start a store with `config` (its data directory must be `dir`).
    pub async fn start_with(dir: TempDir, config: StoreConfig) -> TestStore {
        Self::start_full(dir, config, None).await
    }

    /// Start a store that requires requests signed with one of the
    /// `credentials` (`id:secret[,id:secret]`).
    pub async fn start_authenticated(credentials: &str) -> TestStore {
        let dir = TempDir::new("store");
        let config = StoreConfig::new(dir.path());
        let verifier =
            ferrodyn_store::auth::verify::Verifier::parse(credentials).expect("credentials list");
        Self::start_full(dir, config, Some(verifier)).await
    }

    async fn start_full(
        dir: TempDir,
        config: StoreConfig,
        auth: Option<ferrodyn_store::auth::verify::Verifier>,
    ) -> TestStore {
        // A background task of a store just stopped may still be finishing
        // its round and hold the directory for a moment.
        let mut attempts = 0;
        let store = loop {
            match Store::open(&config) {
                Err(ferrodyn_store::engine::EngineError::Locked(_)) if attempts < 200 => {
                    attempts += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                }
                other => break other.expect("open store"),
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = oneshot::channel::<()>();
        let s = store.clone();
        let task = tokio::spawn(async move {
            let _ = server::run_with_auth(listener, s, auth, async {
                let _ = rx.await;
            })
            .await;
        });
        TestStore {
            addr,
            store,
            shutdown: Some(tx),
            task: Some(task),
            dir,
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn client(&self) -> Client {
        client_for(&self.endpoint())
    }

    /// Stop serving and release the data directory (returned for reuse).
    pub async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        let dir = std::mem::replace(&mut self.dir, TempDir(PathBuf::new()));
        drop(self);
        dir
    }
}

impl Drop for TestStore {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// An SDK client for `endpoint` with static test credentials.
pub fn client_for(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "ferrodyn", "ferrodyn", None, None, "tests",
        ))
        .build();
    Client::from_conf(config)
}

/// Raw HTTP: POST a JSON body with `X-Amz-Target: DynamoDB_20120810.<op>`,
/// returning status, headers and body. For tests of the wire itself.
pub async fn raw_post(
    addr: SocketAddr,
    target: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut req = format!("POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    if let Some(t) = target {
        req.push_str(&format!("X-Amz-Target: {t}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).await.expect("write head");
    // The server may answer (413) and close before reading the whole body.
    let _ = stream.write_all(body).await;
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    parse_response(&buf)
}

/// Split a raw HTTP/1.1 response (Content-Length framed) into its parts.
pub fn parse_response(buf: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let body = buf.get(split + 4..).unwrap_or_default().to_vec();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body)
}

/// A `ferrodyn` proxy serving on an ephemeral port (and its admin endpoint
/// on another) until dropped: embedded store, or in front of `upstream`.
pub struct TestProxy {
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    pub dir: TempDir,
}

impl TestProxy {
    pub async fn embedded() -> TestProxy {
        Self::start(None).await
    }

    pub async fn in_front_of(upstream: &str) -> TestProxy {
        Self::start(Some(upstream.to_owned())).await
    }

    async fn start(upstream: Option<String>) -> TestProxy {
        Self::start_with(|config| config.upstream = upstream).await
    }

    /// Start a proxy with the default configuration changed by `configure`
    /// (its data directory is a fresh one), and wait until `/readyz` says
    /// it is ready (its change feed followed, so reads are cached).
    pub async fn start_with(configure: impl FnOnce(&mut ferrodyn_proxy::Config)) -> TestProxy {
        let proxy = Self::start_unready(configure).await;
        proxy.wait_ready().await;
        proxy
    }

    /// Wait (at most 20 s) until `/readyz` answers 200.
    pub async fn wait_ready(&self) {
        let start = std::time::Instant::now();
        loop {
            let (status, body) = self.admin_get("/readyz").await;
            if status == 200 {
                return;
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "proxy not ready after 20 s: {status} {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Start a proxy as [`TestProxy::start_with`] does, without waiting for
    /// it to be ready.
    pub async fn start_unready(configure: impl FnOnce(&mut ferrodyn_proxy::Config)) -> TestProxy {
        let dir = TempDir::new("proxy");
        let mut config = ferrodyn_proxy::Config::new(dir.path());
        configure(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind admin");
        let addr = listener.local_addr().expect("addr");
        let admin_addr = admin.local_addr().expect("admin addr");
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = ferrodyn_proxy::run(listener, Some(admin), config, shutdown).await {
                panic!("proxy failed: {e}");
            }
        });
        TestProxy {
            addr,
            admin: admin_addr,
            shutdown: Some(tx),
            dir,
        }
    }

    pub fn client(&self) -> Client {
        client_for(&format!("http://{}", self.addr))
    }

    /// GET `path` from the admin endpoint: status and body.
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.admin)
            .await
            .expect("connect admin");
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.admin
        );
        stream.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        let (status, _, body) = parse_response(&buf);
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// The value of an unlabelled metric from `/metrics`.
    pub async fn metric(&self, name: &str) -> f64 {
        let (_, text) = self.admin_get("/metrics").await;
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A TCP relay in front of `target` that can hold back responses, to make
/// races between a slow read and a write deterministic.
pub struct DelayRelay {
    pub addr: SocketAddr,
    delay_ms: std::sync::Arc<AtomicU64>,
}

impl DelayRelay {
    pub async fn start(target: SocketAddr) -> DelayRelay {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let delay_ms = std::sync::Arc::new(AtomicU64::new(0));
        let delay = delay_ms.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                let delay = delay.clone();
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = tokio::spawn(async move { tokio::io::copy(&mut cr, &mut sw).await });
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let d = delay.load(Ordering::Relaxed);
                        if d > 0 {
                            tokio::time::sleep(std::time::Duration::from_millis(d)).await;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        DelayRelay { addr, delay_ms }
    }

    /// Hold every response chunk back this long (0: no delay).
    pub fn set_delay_ms(&self, ms: u64) {
        self.delay_ms.store(ms, Ordering::Relaxed);
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// A DynamoDB Streams SDK client for `endpoint` with static test credentials.
pub fn streams_client_for(endpoint: &str) -> aws_sdk_dynamodbstreams::Client {
    use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_dynamodbstreams::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "ferrodyn", "ferrodyn", None, None, "tests",
        ))
        .build();
    aws_sdk_dynamodbstreams::Client::from_conf(config)
}

/// A TCP relay in front of a store for tests of the proxy's change feed:
/// it can hold back requests whose bytes contain a marker (the feed's
/// operation name) until released, and can be pointed at another server.
pub struct FeedRelay {
    pub addr: SocketAddr,
    state: std::sync::Arc<FeedRelayState>,
}

struct FeedRelayState {
    target: std::sync::Mutex<SocketAddr>,
    /// Bumped by every switch of target.
    generation: AtomicU64,
    held_marker: &'static [u8],
    /// `true` once held requests may pass.
    released: tokio::sync::watch::Sender<bool>,
    /// Requests held so far.
    held: tokio::sync::watch::Sender<u64>,
}

impl FeedRelay {
    /// A relay to `target` that holds requests containing `marker` until
    /// [`FeedRelay::release`] (an empty marker holds nothing).
    pub async fn start(target: SocketAddr, marker: &'static [u8]) -> FeedRelay {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind relay");
        let addr = listener.local_addr().expect("relay addr");
        let state = std::sync::Arc::new(FeedRelayState {
            target: std::sync::Mutex::new(target),
            generation: AtomicU64::new(0),
            held_marker: marker,
            released: tokio::sync::watch::Sender::new(marker.is_empty()),
            held: tokio::sync::watch::Sender::new(0),
        });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let generation = shared.generation.load(Ordering::Acquire);
                let target = *shared.target.lock().expect("target");
                let Ok(server) = tokio::net::TcpStream::connect(target).await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up_state = state.clone();
                    let up = tokio::spawn(async move {
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            let n = match cr.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            let marker = up_state.held_marker;
                            if !marker.is_empty()
                                && buf[..n].windows(marker.len()).any(|w| w == marker)
                                && !*up_state.released.borrow()
                            {
                                up_state.held.send_modify(|h| *h += 1);
                                let mut rx = up_state.released.subscribe();
                                let _ = rx.wait_for(|r| *r).await;
                            }
                            if sw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        // Pointed elsewhere since this connection opened:
                        // close it after the answer, as a server going away
                        // between requests does.
                        if state.generation.load(Ordering::Acquire) != generation {
                            break;
                        }
                    }
                    up.abort();
                });
            }
        });
        FeedRelay { addr, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Wait until at least one request is held.
    pub async fn until_holding(&self) {
        let mut rx = self.state.held.subscribe();
        let _ = rx.wait_for(|h| *h > 0).await;
    }

    /// Let held requests (and every later one) through.
    pub fn release(&self) {
        self.state.released.send_replace(true);
    }

    /// Connect new connections to `target`; connections to the old one
    /// close after their next answer.
    pub fn switch_to(&self, target: SocketAddr) {
        *self.state.target.lock().expect("target") = target;
        self.state.generation.fetch_add(1, Ordering::AcqRel);
    }
}

//! The servers under test, started in-process on `127.0.0.1:0`: a store
//! ([`TestStore`]) with a fresh data directory ([`TempDir`]) and a
//! `ferrodyn` proxy ([`TestProxy`]), plus real SDK clients for them.
//!
//! Each server runs until it is dropped (or stopped); a store's directory
//! outlives its server, so that a restart can reopen it. What goes between
//! a proxy and its upstream (relays) lives in `relay.rs`; raw HTTP for
//! tests of the wire itself in `wire.rs`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::Client;
use ferrodyn_store::{server, Store, StoreConfig};
use tokio::sync::oneshot;

use crate::wait::{until, PATIENCE};
use crate::wire::parse_response;

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

    /// Start a store served with `options` (browser policy, limits).
    pub async fn start_serving(options: server::ServeOptions) -> TestStore {
        let dir = TempDir::new("store");
        let config = StoreConfig::new(dir.path());
        Self::start_options(dir, config, options).await
    }

    async fn start_full(
        dir: TempDir,
        config: StoreConfig,
        auth: Option<ferrodyn_store::auth::verify::Verifier>,
    ) -> TestStore {
        let options = server::ServeOptions {
            auth,
            ..server::ServeOptions::default()
        };
        Self::start_options(dir, config, options).await
    }

    async fn start_options(
        dir: TempDir,
        config: StoreConfig,
        options: server::ServeOptions,
    ) -> TestStore {
        // A background task of a store just stopped may still be finishing
        // its round and hold the directory for a moment.
        let mut attempts = 0;
        let store = loop {
            match Store::open(&config) {
                Err(ferrodyn_store::engine::EngineError::Locked(_)) if attempts < 200 => {
                    attempts += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
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
            let _ = server::serve(listener, s, options, async {
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
                start.elapsed() < Duration::from_secs(20),
                "proxy not ready after 20 s: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
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
        self.admin_get_with(path, &[]).await
    }

    /// GET `path` from the admin endpoint with extra `headers`.
    pub async fn admin_get_with(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        self.admin_request("GET", path, headers, "").await
    }

    /// Send `method` `path` with `headers` and `body` to the admin endpoint.
    pub async fn admin_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(self.admin)
            .await
            .expect("connect admin");
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.admin,
            body.len()
        );
        stream.write_all(req.as_bytes()).await.expect("write");
        let mut buf = Vec::new();
        let _ = stream.read_to_end(&mut buf).await;
        let (status, _, body) = parse_response(&buf);
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    /// Wait (at most [`PATIENCE`]) until the proxy's change feed has
    /// delivered `changes` records. The echo of a write invalidates what it
    /// touched, so a test that counts hits or misses lets the echoes of its
    /// setup writes land first.
    pub async fn until_feed_delivered(&self, changes: f64) {
        until(
            PATIENCE,
            &format!("the feed delivered {changes} changes"),
            || async { self.metric("proxy_invalidations_received_total").await >= changes },
        )
        .await;
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

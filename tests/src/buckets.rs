//! Where exports go and imports come from in tests: a folder standing for
//! buckets, or moto's S3 server (a `moto_server` child process on a free
//! loopback port). Both are reached through the same `object_store` crate
//! the store uses, so a test writes an import's input and reads an export's
//! output the same way for either.
//!
//! moto is needed for the S3 variant (`pip install 'moto[server]'`, which
//! `.ci/run` does); with `FERRODYN_SKIP_MOTO=1` those tests are skipped
//! instead of failing when it is missing.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrodyn_store::transfer::TransferConfig;
use futures_util::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::server::TempDir;

/// Fake credentials moto accepts; set in the environment, where the store
/// reads them (as it reads real ones).
fn set_fake_credentials() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("AWS_ACCESS_KEY_ID", "ferrodyn");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "ferrodyn");
        std::env::set_var("AWS_REGION", "us-east-1");
    });
}

/// A `moto_server` child process, killed when dropped.
pub struct Moto {
    child: Child,
    pub endpoint: String,
    addr: SocketAddr,
}

impl Moto {
    /// Start moto, or `None` (after saying so) if `FERRODYN_SKIP_MOTO=1`
    /// and moto cannot be started.
    pub async fn start() -> Option<Moto> {
        let skip = std::env::var("FERRODYN_SKIP_MOTO").is_ok_and(|v| v == "1");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let args = ["-H", "127.0.0.1", "-p", &port.to_string()].map(str::to_owned);
        let spawn = |program: &str, prefix: &[&str]| {
            Command::new(program)
                .args(prefix)
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
        };
        let child = spawn("moto_server", &[]).or_else(|_| spawn("python3", &["-m", "moto.server"]));
        let mut child = match child {
            Ok(c) => c,
            Err(_) if skip => {
                println!("skipped: moto is not installed and FERRODYN_SKIP_MOTO=1");
                return None;
            }
            Err(e) => panic!("moto is not installed: pip install 'moto[server]' ({e})"),
        };
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = child.try_wait() {
                if skip {
                    println!("skipped: moto did not start ({status})");
                    return None;
                }
                panic!("moto exited: {status}");
            }
            assert!(Instant::now() < deadline, "moto did not start within 30 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        set_fake_credentials();
        Some(Moto {
            child,
            endpoint: format!("http://{addr}"),
            addr,
        })
    }

    /// Create a bucket (moto takes unsigned requests).
    pub async fn create_bucket(&self, bucket: &str) {
        let mut stream = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect to moto");
        let head = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(head.as_bytes()).await.expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.expect("read");
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 200"), "create bucket: {text}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Buckets as a test sees them.
pub enum Buckets {
    Folder(TempDir),
    S3(Moto),
}

impl Buckets {
    /// Buckets as folders of a fresh directory.
    pub fn folder() -> Buckets {
        Buckets::Folder(TempDir::new("buckets"))
    }

    /// Buckets of a fresh moto server (`None`: skipped).
    pub async fn moto() -> Option<Buckets> {
        Moto::start().await.map(Buckets::S3)
    }

    /// The store's configuration for these buckets.
    pub fn config(&self) -> TransferConfig {
        match self {
            Buckets::Folder(dir) => TransferConfig {
                s3_endpoint: None,
                export_dir: Some(dir.path().to_owned()),
            },
            Buckets::S3(moto) => TransferConfig {
                s3_endpoint: Some(moto.endpoint.clone()),
                export_dir: None,
            },
        }
    }

    /// Create a bucket.
    pub async fn create(&self, bucket: &str) {
        match self {
            Buckets::Folder(dir) => {
                std::fs::create_dir_all(dir.path().join(bucket)).expect("bucket folder")
            }
            Buckets::S3(moto) => moto.create_bucket(bucket).await,
        }
    }

    fn open(&self, bucket: &str) -> Arc<dyn ObjectStore> {
        match self {
            Buckets::Folder(dir) => Arc::new(
                LocalFileSystem::new_with_prefix(dir.path().join(bucket)).expect("bucket folder"),
            ),
            Buckets::S3(moto) => Arc::new(
                AmazonS3Builder::from_env()
                    .with_endpoint(&moto.endpoint)
                    .with_bucket_name(bucket)
                    .with_allow_http(true)
                    .with_virtual_hosted_style_request(false)
                    .build()
                    .expect("S3 client"),
            ),
        }
    }

    /// Write an object.
    pub async fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) {
        self.open(bucket)
            .put(&Path::from(key), PutPayload::from(bytes))
            .await
            .expect("put object");
    }

    /// Read an object.
    pub async fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        self.open(bucket)
            .get(&Path::from(key))
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e}"))
            .bytes()
            .await
            .expect("object bytes")
            .to_vec()
    }

    /// Keys of the objects whose key starts with `prefix`, sorted.
    pub async fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = self
            .open(bucket)
            .list(None)
            .map_ok(|m| m.location.to_string())
            .try_collect::<Vec<_>>()
            .await
            .expect("list objects");
        keys.retain(|k| k.starts_with(prefix));
        keys.sort();
        keys
    }
}

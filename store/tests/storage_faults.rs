//! Storage faults: a full volume refuses writes with a clear error, loses
//! nothing that was acknowledged and takes writes again once space is freed
//! (a write job that panics is tested with the engine, in `engine::writer`).

use std::path::{Path, PathBuf};
use std::process::Command;

use ferrodyn_store::api::Operation;
use ferrodyn_store::engine::{EngineError, Health};
use ferrodyn_store::{Store, StoreConfig};
use serde_json::{json, Value};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ferrodyn-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

async fn create_table(store: &Store) {
    store
        .handle(
            Operation::CreateTable,
            json!({"TableName": "faults", "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}],
                   "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}],
                   "BillingMode": "PAY_PER_REQUEST"})
            .to_string()
            .as_bytes(),
        )
        .await
        .expect("create table");
}

async fn put(
    store: &Store,
    key: &str,
    size: usize,
) -> Result<Vec<u8>, ferrodyn_store::api::ApiError> {
    store
        .handle(
            Operation::PutItem,
            json!({"TableName": "faults", "Item": {"p": {"S": key}, "v": {"S": "x".repeat(size)}}})
                .to_string()
                .as_bytes(),
        )
        .await
}

async fn present(store: &Store, key: &str) -> bool {
    let out = store
        .handle(
            Operation::GetItem,
            json!({"TableName": "faults", "Key": {"p": {"S": key}}, "ConsistentRead": true})
                .to_string()
                .as_bytes(),
        )
        .await
        .expect("get");
    let v: Value = serde_json::from_slice(&out).expect("json");
    v.get("Item").is_some()
}

/// `GET /` on the server at `addr`: status and body.
/// The state `ferrodyn_store_engine_state` marks current after a scrape,
/// and how many states are marked.
fn engine_state(store: &Store) -> (&'static str, usize) {
    store.refresh_gauges();
    let families = store.telemetry().registry().gather();
    let Some(family) = families
        .iter()
        .find(|f| f.name() == "ferrodyn_store_engine_state")
    else {
        return ("missing", 0);
    };
    let current: Vec<&str> = family
        .get_metric()
        .iter()
        .filter(|m| m.get_gauge().get_value() == 1.0)
        .filter_map(|m| m.get_label().first().map(|l| l.value()))
        .collect();
    let state = match current.first().copied() {
        Some("ok") => "ok",
        Some("storage_full") => "storage_full",
        Some("poisoned") => "poisoned",
        _ => "none",
    };
    (state, current.len())
}

async fn health_check(addr: std::net::SocketAddr) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let req = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = stream.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().to_owned();
    (status, body)
}

/// A tmpfs of `size` mounted at a fresh directory, unmounted when dropped;
/// `None` where mounting is not permitted (not root).
struct SmallVolume(PathBuf);

impl SmallVolume {
    fn mount(size: &str) -> Option<SmallVolume> {
        let dir = temp_dir("volume");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::fs::remove_dir(&dir);
            return None;
        }
        Some(SmallVolume(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SmallVolume {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_volume_refuses_writes_loses_nothing_and_recovers() {
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let Some(volume) = SmallVolume::mount("4m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    // Space the test frees later, as an operator would.
    let ballast = volume.path().join("ballast");
    std::fs::write(&ballast, vec![0u8; 1 << 20]).expect("ballast");
    let data = volume.path().join("data");
    let mut config = StoreConfig::new(&data);
    config.engine.initial_map_size = 64 << 20;
    let store = Store::open(&config).expect("open");
    create_table(&store).await;

    let mut acknowledged = Vec::new();
    let mut refused = None;
    for i in 0..400 {
        let key = format!("k{i:04}");
        match put(&store, &key, 16 * 1024).await {
            Ok(_) => acknowledged.push(key),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("the volume fills up");
    assert_eq!(
        refused.code.as_str(),
        "com.amazonaws.dynamodb.v20120810#InternalServerError"
    );
    assert!(
        refused.message.contains("storage volume is full"),
        "{refused:?}"
    );
    assert_eq!(store.health(), Health::StorageFull);
    // The health check says so.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(ferrodyn_store::server::run(
        listener,
        store.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let (status, body) = health_check(addr).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("storage full"), "{body}");
    // And the engine-state metric.
    assert_eq!(engine_state(&store), ("storage_full", 1));
    // Refused again while full; reads go on.
    assert!(put(&store, "still-full", 16 * 1024).await.is_err());
    for key in &acknowledged {
        assert!(present(&store, key).await, "{key} was acknowledged");
    }

    std::fs::remove_file(&ballast).expect("free space");
    put(&store, "after", 16 * 1024)
        .await
        .expect("writes resume");
    assert_eq!(store.health(), Health::Ok);
    assert_eq!(health_check(addr).await.0, 200);
    assert_eq!(engine_state(&store), ("ok", 1));
    let _ = stop.send(());
    let _ = server.await;
    drop(store);

    // Nothing acknowledged is lost across a restart either.
    let store = loop {
        match Store::open(&config) {
            Err(EngineError::Locked(_)) => {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await
            }
            other => break other.expect("reopen"),
        }
    };
    for key in acknowledged
        .iter()
        .chain(std::iter::once(&"after".to_owned()))
    {
        assert!(present(&store, key).await, "{key} lost after restart");
    }
}

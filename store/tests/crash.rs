//! Crash safety: a `ferrodyn-store` child process under concurrent PutItem /
//! DeleteItem load is killed with SIGKILL at random moments; after every
//! restart each acknowledged write is present with its exact value, and a
//! write that was in flight at the kill is either wholly there or wholly
//! absent — never half-written.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUNDS: usize = 20;
const WRITERS: usize = 8;

/// What a key should hold.
#[derive(Debug, Clone, PartialEq)]
enum State {
    Present(String),
    Absent,
}

#[derive(Debug, Default)]
struct KeyLog {
    acked: Option<State>,
    /// An operation sent but not acknowledged when the process died.
    pending: Option<State>,
    /// Every value an acknowledged PutItem stored under this key.
    acked_values: Vec<String>,
}

async fn post(addr: SocketAddr, op: &str, body: &Value) -> Option<(u16, Value)> {
    let body = serde_json::to_vec(body).ok()?;
    let prefix = match op {
        "ListStreams" | "DescribeStream" | "GetShardIterator" | "GetRecords" => {
            "DynamoDBStreams_20120810"
        }
        _ => "DynamoDB_20120810",
    };
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nX-Amz-Target: {prefix}.{op}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(&body).await.ok()?;
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.ok()?;
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let status: u16 = String::from_utf8_lossy(&buf[..split])
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    let json = serde_json::from_slice(&buf[split + 4..]).ok()?;
    Some((status, json))
}

fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

/// A store child process, killed when dropped (also when an assertion
/// fails), so no server outlives the test.
struct StoreProcess(Child);

impl Drop for StoreProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_store(dir: &std::path::Path, addr: SocketAddr) -> StoreProcess {
    StoreProcess(
        Command::new(env!("CARGO_BIN_EXE_ferrodyn-store"))
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(dir)
            .env("FERRODYN_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn ferrodyn-store"),
    )
}

async fn wait_ready(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some((200, _)) = post(addr, "ListTables", &json!({})).await {
            return;
        }
        assert!(Instant::now() < deadline, "store did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn value_for(writer: usize, seq: u64) -> String {
    // Long enough to span pages, distinct per write.
    format!(
        "w{writer}-s{seq}-{}",
        "0123456789abcdef".repeat(((seq % 7) as usize + 1) * 40)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = std::env::temp_dir().join(format!(
        "ferrodyn-crash-{}-{}",
        std::process::id(),
        rand_seed()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let log: Arc<Mutex<HashMap<String, KeyLog>>> = Arc::default();
    let mut seed = rand_seed();
    let mut next_seq = [0u64; WRITERS];

    for round in 0..ROUNDS {
        let addr = free_addr();
        let mut child = spawn_store(&dir, addr);
        wait_ready(addr).await;
        if round == 0 {
            let create = json!({
                "TableName": "crash",
                "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}
            });
            let (status, body) = post(addr, "CreateTable", &create).await.expect("create");
            assert_eq!(status, 200, "{body}");
        }
        verify(addr, &log, round).await;

        // Load, then a kill at a random moment.
        let mut tasks = Vec::new();
        for (w, seq_slot) in next_seq.iter_mut().enumerate() {
            let log = log.clone();
            let start = *seq_slot;
            *seq_slot += 1_000_000;
            tasks.push(tokio::spawn(
                async move { writer(addr, w, start, log).await },
            ));
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = 30 + seed % 300;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.0.kill().expect("SIGKILL");
        let _ = child.0.wait();
        for t in tasks {
            let _ = t.await;
        }
    }
    let addr = free_addr();
    let mut child = spawn_store(&dir, addr);
    wait_ready(addr).await;
    verify(addr, &log, ROUNDS).await;
    verify_stream(addr, &log).await;
    let acked = log
        .lock()
        .map(|l| l.values().filter(|k| k.acked.is_some()).count())
        .unwrap_or(0);
    assert!(
        acked > 100,
        "too few acknowledged writes ({acked}) for the test to mean anything"
    );
    child.0.kill().expect("kill");
    let _ = child.0.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1
}

/// One writer: puts fresh keys and deletes every third one it wrote, until the
/// server dies. Records each operation before sending it (pending) and after
/// its acknowledgement (acked).
async fn writer(addr: SocketAddr, w: usize, start: u64, log: Arc<Mutex<HashMap<String, KeyLog>>>) {
    let mut seq = start;
    loop {
        let (key, op, body, state) = if seq % 3 == 2 {
            let key = format!("w{w}-k{}", seq - 1);
            let body = json!({"TableName": "crash", "Key": {"p": {"S": key}}});
            (key, "DeleteItem", body, State::Absent)
        } else {
            let key = format!("w{w}-k{seq}");
            let v = value_for(w, seq);
            let body = json!({"TableName": "crash", "Item": {"p": {"S": key}, "v": {"S": v}, "n": {"N": seq.to_string()}}});
            (key, "PutItem", body, State::Present(v))
        };
        if let Ok(mut l) = log.lock() {
            l.entry(key.clone()).or_default().pending = Some(state.clone());
        }
        match post(addr, op, &body).await {
            Some((200, _)) => {
                if let Ok(mut l) = log.lock() {
                    let e = l.entry(key).or_default();
                    if let State::Present(v) = &state {
                        e.acked_values.push(v.clone());
                    }
                    e.acked = Some(state);
                    e.pending = None;
                }
            }
            Some((status, body)) => panic!("{op} failed: {status} {body}"),
            None => return, // the server died with this write in flight
        }
        seq += 1;
    }
}

async fn verify(addr: SocketAddr, log: &Mutex<HashMap<String, KeyLog>>, round: usize) {
    let entries: Vec<(String, Option<State>, Option<State>)> = match log.lock() {
        Ok(l) => l
            .iter()
            .map(|(k, e)| (k.clone(), e.acked.clone(), e.pending.clone()))
            .collect(),
        Err(_) => return,
    };
    for (key, acked, pending) in entries {
        let body = json!({"TableName": "crash", "Key": {"p": {"S": key}}, "ConsistentRead": true});
        let (status, resp) = post(addr, "GetItem", &body).await.expect("get");
        assert_eq!(status, 200, "{resp}");
        let actual = match resp.get("Item") {
            Some(item) => {
                State::Present(item["v"]["S"].as_str().expect("v is a string").to_owned())
            }
            None => State::Absent,
        };
        let before = acked.clone().unwrap_or(State::Absent);
        let ok = actual == before || pending.as_ref() == Some(&actual);
        assert!(
            ok,
            "round {round}: key {key} is {actual:?}; acknowledged {acked:?}, in flight {pending:?}"
        );
        // Resolve the in-flight write now that we know whether it landed.
        if let Ok(mut l) = log.lock() {
            if let Some(e) = l.get_mut(&key) {
                e.acked = Some(actual);
                e.pending = None;
            }
        }
    }
}

/// The stream after all the kills: sequence numbers strictly increasing, a
/// record for every acknowledged PutItem, and replaying the records gives
/// exactly the state `verify` found (so no record exists for a write that
/// did not commit, and none is missing for one that did).
async fn verify_stream(addr: SocketAddr, log: &Mutex<HashMap<String, KeyLog>>) {
    let (_, streams) = post(addr, "ListStreams", &json!({"TableName": "crash"}))
        .await
        .expect("list streams");
    let arn = streams["Streams"][0]["StreamArn"]
        .as_str()
        .expect("stream arn")
        .to_owned();
    let (_, desc) = post(addr, "DescribeStream", &json!({"StreamArn": arn}))
        .await
        .expect("describe");
    let shard = desc["StreamDescription"]["Shards"][0]["ShardId"]
        .as_str()
        .expect("shard")
        .to_owned();
    let (_, it) = post(
        addr,
        "GetShardIterator",
        &json!({"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}),
    )
    .await
    .expect("iterator");
    let mut iterator = it["ShardIterator"].as_str().expect("iterator").to_owned();
    let mut last_seq = 0u128;
    let mut replay: HashMap<String, Option<String>> = HashMap::new();
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    loop {
        let (status, page) = post(
            addr,
            "GetRecords",
            &json!({"ShardIterator": iterator, "Limit": 1000}),
        )
        .await
        .expect("get records");
        assert_eq!(status, 200, "{page}");
        let records = page["Records"].as_array().cloned().unwrap_or_default();
        for r in &records {
            let d = &r["dynamodb"];
            let seq: u128 = d["SequenceNumber"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("sequence number");
            assert!(seq > last_seq, "sequence numbers must increase");
            last_seq = seq;
            let key = d["Keys"]["p"]["S"].as_str().expect("key").to_owned();
            let value = d["NewImage"]["v"]["S"].as_str().map(str::to_owned);
            if let Some(v) = &value {
                seen.entry(key.clone()).or_default().push(v.clone());
            }
            replay.insert(
                key,
                if r["eventName"] == "REMOVE" {
                    None
                } else {
                    value
                },
            );
        }
        match page["NextShardIterator"].as_str() {
            Some(next) if !records.is_empty() => iterator = next.to_owned(),
            _ => break,
        }
    }
    let Ok(l) = log.lock() else { return };
    for (key, entry) in l.iter() {
        let expected = match &entry.acked {
            Some(State::Present(v)) => Some(v.clone()),
            _ => None,
        };
        assert_eq!(
            replay.get(key).cloned().flatten(),
            expected,
            "stream replay of {key}"
        );
        for v in &entry.acked_values {
            assert!(
                seen.get(key).is_some_and(|vals| vals.contains(v)),
                "acknowledged put {key}={} has no stream record",
                &v[..v.len().min(20)]
            );
        }
    }
}

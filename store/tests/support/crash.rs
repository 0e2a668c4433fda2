//! The SIGKILL harness shared by the store's crash test and the embedded
//! `ferrodyn`'s: a server child process under eight concurrent writers
//! (PutItem of fresh keys, DeleteItem of every third one) is killed with
//! SIGKILL at a random moment, again and again. After every restart:
//!
//! * every acknowledged write is present with its exact value (one
//!   consistent Scan of the whole table, compared with the writers' log),
//!   and a write in flight at the kill is wholly there or wholly absent;
//! * the change feed (`FerrodynFeed_20261124.GetChanges`), read on from
//!   where the previous round stopped, continues with the very next
//!   sequence number (no gap, no repeat), and replaying every record read
//!   so far gives exactly the table's content;
//! * optionally (a process with a cache in front), a GetItem that may be
//!   served from the cache, asked twice so the second can be a hit, returns
//!   what the store holds for the keys of the last round and a sample of
//!   the others.
//!
//! The process killed is what `spawn` returns; clients talk to the address
//! it returns with it, which may be a proxy that outlives the store.
//!
//! After the last round the DynamoDB Streams API is read from the trim
//! horizon and checked the same way.
//!
//! Included by path from `store/tests/crash.rs` and `proxy/tests/crash.rs`.

#![allow(dead_code)] // each test file uses part of it

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const WRITERS: usize = 8;
const TABLE: &str = "crash";

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
    /// The round of the last write sent for this key.
    round: usize,
}

type Log = Arc<Mutex<HashMap<String, KeyLog>>>;

/// How a run went.
#[derive(Debug, Default)]
pub struct Figures {
    pub cycles: usize,
    /// Writes acknowledged by the server (PutItem and DeleteItem).
    pub acked_writes: u64,
    /// Writes in flight at a kill (each found wholly applied or absent).
    pub in_flight: u64,
    /// Key states compared after restarts, summed over rounds.
    pub keys_checked: u64,
    /// Change-feed records read and checked for contiguity.
    pub feed_records: u64,
    /// GetItem answers through the cache compared with the store.
    pub cache_reads_checked: u64,
    pub elapsed: Duration,
}

/// A server child process, killed when dropped (also when an assertion
/// fails), so no server outlives the test.
pub struct ServerProcess(pub Child);

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub async fn post(addr: SocketAddr, op: &str, body: &Value) -> Option<(u16, Value)> {
    let body = serde_json::to_vec(body).ok()?;
    let prefix = match op {
        "ListStreams" | "DescribeStream" | "GetShardIterator" | "GetRecords" => {
            "DynamoDBStreams_20120810"
        }
        "GetChanges" => "FerrodynFeed_20261124",
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

pub fn free_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

async fn wait_ready(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((200, _)) = post(addr, "ListTables", &json!({})).await {
            return;
        }
        assert!(Instant::now() < deadline, "server did not come up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn value_for(writer: usize, seq: u64) -> String {
    // Distinct per write; one in seven spans LMDB pages (4.5 KB).
    let repeat = if seq % 7 == 6 { 280 } else { (seq % 7 + 1) * 4 };
    format!(
        "w{writer}-s{seq}-{}",
        "0123456789abcdef".repeat(repeat as usize)
    )
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        | 1
}

/// The change feed as read so far: where to go on, and the table it
/// describes.
#[derive(Default)]
struct Feed {
    cursor: u64,
    last_seq: Option<u64>,
    replay: BTreeMap<String, String>,
    seen: HashMap<String, Vec<String>>,
}

/// What sits between the writers and the store.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Eventually consistent reads may come from a cache: check them
    /// against the store after every restart.
    pub cached: bool,
    /// A proxy that outlives the store answers writes while the store is
    /// down with an error (a 5xx): the write's fate is then unknown, like
    /// one whose connection was cut.
    pub proxy_outlives_store: bool,
}

/// Run `cycles` kill cycles: `spawn(dir)` starts the server process that
/// will be killed and returns it with the address clients use.
pub async fn run_cycles(
    tag: &str,
    cycles: usize,
    options: Options,
    mut spawn: impl FnMut(&Path) -> (ServerProcess, SocketAddr),
) -> Figures {
    let cached = options.cached;
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!(
        "ferrodyn-{tag}-{}-{}",
        std::process::id(),
        rand_seed()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let log: Log = Arc::default();
    let mut seed = rand_seed();
    let mut next_seq = [0u64; WRITERS];
    let mut feed = Feed::default();
    let mut figures = Figures::default();

    for round in 0..cycles {
        let (mut child, addr) = spawn(&dir);
        wait_ready(addr).await;
        if round == 0 {
            let create = json!({
                "TableName": TABLE,
                "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}],
                "BillingMode": "PAY_PER_REQUEST",
                "StreamSpecification": {"StreamEnabled": true, "StreamViewType": "NEW_IMAGE"}
            });
            let (status, body) = post(addr, "CreateTable", &create).await.expect("create");
            assert_eq!(status, 200, "{body}");
        }
        check_round(addr, &log, &mut feed, round, cached, &mut figures).await;

        // Load, then a kill at a random moment.
        let mut tasks = Vec::new();
        for (w, seq_slot) in next_seq.iter_mut().enumerate() {
            let log = log.clone();
            let start = *seq_slot;
            *seq_slot += 1_000_000;
            let tolerate = options.proxy_outlives_store;
            tasks.push(tokio::spawn(async move {
                writer(addr, w, start, round, tolerate, log).await
            }));
        }
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = 30 + seed % 300;
        tokio::time::sleep(Duration::from_millis(delay)).await;
        child.0.kill().expect("SIGKILL");
        let _ = child.0.wait();
        for t in tasks {
            figures.acked_writes += t.await.unwrap_or(0);
        }
    }
    let (_child, addr) = spawn(&dir);
    wait_ready(addr).await;
    check_round(addr, &log, &mut feed, cycles, cached, &mut figures).await;
    verify_feed_has_acked_puts(&log, &feed);
    verify_stream(addr, &log).await;
    assert!(
        figures.acked_writes > 5 * cycles as u64,
        "too few acknowledged writes ({}) for the test to mean anything",
        figures.acked_writes
    );
    let _ = std::fs::remove_dir_all(&dir);
    figures.cycles = cycles;
    figures.elapsed = started.elapsed();
    figures
}

/// One writer: puts fresh keys and deletes every third one it wrote, until
/// the server dies. Records each operation before sending it (pending) and
/// after its acknowledgement (acked). Returns how many were acknowledged.
/// `tolerate_5xx`: a 5xx answer means the store behind a proxy died.
async fn writer(
    addr: SocketAddr,
    w: usize,
    start: u64,
    round: usize,
    tolerate_5xx: bool,
    log: Log,
) -> u64 {
    let mut seq = start;
    let mut acked = 0;
    loop {
        let (key, op, body, state) = if seq % 3 == 2 {
            let key = format!("w{w}-k{}", seq - 1);
            let body = json!({"TableName": TABLE, "Key": {"p": {"S": key}}});
            (key, "DeleteItem", body, State::Absent)
        } else {
            let key = format!("w{w}-k{seq}");
            let v = value_for(w, seq);
            let body = json!({"TableName": TABLE, "Item": {"p": {"S": key}, "v": {"S": v}, "n": {"N": seq.to_string()}}});
            (key, "PutItem", body, State::Present(v))
        };
        if let Ok(mut l) = log.lock() {
            let e = l.entry(key.clone()).or_default();
            e.pending = Some(state.clone());
            e.round = round;
        }
        match post(addr, op, &body).await {
            Some((200, _)) => {
                acked += 1;
                if let Ok(mut l) = log.lock() {
                    let e = l.entry(key).or_default();
                    if let State::Present(v) = &state {
                        e.acked_values.push(v.clone());
                    }
                    e.acked = Some(state);
                    e.pending = None;
                }
            }
            Some((status, _)) if tolerate_5xx && status >= 500 => return acked,
            Some((status, body)) => panic!("{op} failed: {status} {body}"),
            None => return acked, // the server died with this write in flight
        }
        seq += 1;
    }
}

/// The whole table, read with consistent Scans: key -> value.
async fn scan_all(addr: SocketAddr) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut start: Option<Value> = None;
    loop {
        let mut req = json!({"TableName": TABLE, "ConsistentRead": true});
        if let Some(k) = start.take() {
            req["ExclusiveStartKey"] = k;
        }
        let (status, page) = post(addr, "Scan", &req).await.expect("scan");
        assert_eq!(status, 200, "{page}");
        for item in page["Items"].as_array().into_iter().flatten() {
            let key = item["p"]["S"].as_str().expect("key").to_owned();
            let v = item["v"]["S"].as_str().expect("v is a string").to_owned();
            out.insert(key, v);
        }
        match page.get("LastEvaluatedKey") {
            Some(k) if !k.is_null() => start = Some(k.clone()),
            _ => return out,
        }
    }
}

async fn check_round(
    addr: SocketAddr,
    log: &Mutex<HashMap<String, KeyLog>>,
    feed: &mut Feed,
    round: usize,
    cached: bool,
    figures: &mut Figures,
) {
    let table = scan_all(addr).await;
    let recent = compare_with_log(log, &table, round, figures);
    // No key exists that no writer wrote.
    for key in table.keys() {
        assert!(
            log.lock().map(|l| l.contains_key(key)).unwrap_or(true),
            "round {round}: unexpected key {key}"
        );
    }
    read_feed(addr, feed, round, figures).await;
    assert_eq!(
        feed.replay, table,
        "round {round}: replaying the change feed does not give the table"
    );
    if cached {
        check_cache(addr, &table, &recent, round, figures).await;
    }
}

/// Each key's state in `table` against the writers' log (acknowledged, or
/// the write in flight at the kill); resolves in-flight writes. Returns the
/// keys written in the round before `round`.
fn compare_with_log(
    log: &Mutex<HashMap<String, KeyLog>>,
    table: &BTreeMap<String, String>,
    round: usize,
    figures: &mut Figures,
) -> Vec<String> {
    let Ok(mut l) = log.lock() else {
        return Vec::new();
    };
    for (key, entry) in l.iter_mut() {
        let actual = match table.get(key) {
            Some(v) => State::Present(v.clone()),
            None => State::Absent,
        };
        let before = entry.acked.clone().unwrap_or(State::Absent);
        let ok = actual == before || entry.pending.as_ref() == Some(&actual);
        assert!(
            ok,
            "round {round}: key {key} is {actual:?}; acknowledged {:?}, in flight {:?}",
            entry.acked, entry.pending
        );
        if entry.pending.is_some() {
            figures.in_flight += 1;
        }
        // Resolve the in-flight write now that we know whether it landed.
        entry.acked = Some(actual);
        entry.pending = None;
        figures.keys_checked += 1;
    }
    let recent: Vec<String> = l
        .iter()
        .filter(|(_, e)| e.round + 1 == round)
        .map(|(k, _)| k.clone())
        .collect();
    recent
}

/// Read the change feed on from `feed.cursor` to its end.
async fn read_feed(addr: SocketAddr, feed: &mut Feed, round: usize, figures: &mut Figures) {
    loop {
        let req = json!({"Cursor": feed.cursor, "Limit": 10000, "WaitMs": 0});
        let (status, page) = post(addr, "GetChanges", &req).await.expect("feed");
        assert_eq!(status, 200, "{page}");
        let changes = page["Changes"].as_array().cloned().unwrap_or_default();
        for c in &changes {
            let seq = c["SequenceNumber"].as_u64().expect("sequence number");
            if let Some(last) = feed.last_seq {
                assert_eq!(
                    seq,
                    last + 1,
                    "round {round}: the change log jumps from {last} to {seq}"
                );
            }
            feed.last_seq = Some(seq);
            figures.feed_records += 1;
            let key = c["Keys"]["p"]["S"].as_str().expect("key").to_owned();
            match c["NewImage"]["v"]["S"].as_str() {
                Some(v) if c["EventName"] != "REMOVE" => {
                    feed.seen.entry(key.clone()).or_default().push(v.to_owned());
                    feed.replay.insert(key, v.to_owned());
                }
                _ => {
                    feed.replay.remove(&key);
                }
            }
        }
        let next = page["NextCursor"].as_u64().expect("next cursor");
        assert!(next >= feed.cursor, "the feed's cursor went back");
        feed.cursor = next;
        if changes.is_empty() {
            return;
        }
    }
}

/// Every acknowledged PutItem has its record in the change feed.
fn verify_feed_has_acked_puts(log: &Mutex<HashMap<String, KeyLog>>, feed: &Feed) {
    let Ok(l) = log.lock() else { return };
    for (key, entry) in l.iter() {
        for v in &entry.acked_values {
            assert!(
                feed.seen.get(key).is_some_and(|vals| vals.contains(v)),
                "acknowledged put {key}={} has no change-feed record",
                &v[..v.len().min(20)]
            );
        }
    }
}

/// Eventually consistent reads through the server, twice each (the second
/// may be a cache hit), against the store's content.
async fn check_cache(
    addr: SocketAddr,
    table: &BTreeMap<String, String>,
    recent: &[String],
    round: usize,
    figures: &mut Figures,
) {
    let mut keys: Vec<String> = recent.to_vec();
    let step = (table.len() / 100).max(1);
    keys.extend(table.keys().step_by(step).cloned());
    for key in keys {
        let expected = table.get(&key).cloned();
        for attempt in 0..2 {
            let req = json!({"TableName": TABLE, "Key": {"p": {"S": key}}});
            let (status, resp) = post(addr, "GetItem", &req).await.expect("get");
            assert_eq!(status, 200, "{resp}");
            let got = resp["Item"]["v"]["S"].as_str().map(str::to_owned);
            assert_eq!(
                got, expected,
                "round {round}: read {attempt} of {key} through the cache differs from the store"
            );
            figures.cache_reads_checked += 1;
        }
    }
}

/// The DynamoDB Streams API after all the kills: sequence numbers strictly
/// increasing, a record for every acknowledged PutItem, and replaying the
/// records gives exactly the final state.
async fn verify_stream(addr: SocketAddr, log: &Mutex<HashMap<String, KeyLog>>) {
    let (_, streams) = post(addr, "ListStreams", &json!({"TableName": TABLE}))
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

//! `query-scan`: the store's Query and Scan speed, each against baselines
//! measured in the same run.
//!
//! * **Query pages**: a page of 100 items from a random point of a random
//!   partition (`pk = :p AND sk >= :s`, `Limit` 100), against BatchGetItem of
//!   the same 100 keys (what an application would do without range queries)
//!   and against the HTTP floor — a fixed-response hyper server answering
//!   with the bytes of one Query page. 1 and 16 connections, closed loop.
//! * **Scan**: whole-table scans in 1 MB pages, sequential (one segment) and
//!   parallel (4 segments at once), in items/s, against the floor serving
//!   one 1 MB Scan page per request.
//!
//! Everything runs in this process: the store on 127.0.0.1:0 with a fresh
//! data directory under the system temp dir, the floor server and the
//! pooled client, so the numbers are for one box and its cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use ferrodyn_bench::client::Client;
use ferrodyn_bench::rng::Rng;
use ferrodyn_store::{server, Store, StoreConfig};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Measure Query pages and Scan throughput of the in-process store.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Measured time per phase, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Partitions loaded.
    #[arg(long, default_value_t = 20)]
    partitions: u64,
    /// Items per partition.
    #[arg(long, default_value_t = 1000)]
    per_partition: u64,
    /// Approximate item size in bytes.
    #[arg(long, default_value_t = 200)]
    item_size: usize,
}

const TABLE: &str = "query_scan";
const PAGE: u64 = 100;

/// Results of one closed-loop phase.
struct Phase {
    latency: Histogram<u64>,
    requests: u64,
    items: u64,
    errors: u64,
    elapsed: Duration,
}

impl Phase {
    fn per_second(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    fn p(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

/// Microseconds from 1 µs to 10 minutes, 3 significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds are constant")
}

/// What one request of a phase is: (operation, body) from a random source.
type MakeRequest = Arc<dyn Fn(&mut Rng) -> (&'static str, Vec<u8>) + Send + Sync>;

/// Run `connections` closed loops for `duration`; `count_items` reads how
/// many items a response carried.
async fn closed_loop(
    client: &Client,
    connections: usize,
    duration: Duration,
    make: MakeRequest,
    count_items: fn(&Bytes) -> u64,
) -> Phase {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for worker in 0..connections {
        let (client, make) = (client.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(worker as u64 + 1);
            let mut latency = histogram();
            let (mut requests, mut items, mut errors) = (0u64, 0u64, 0u64);
            while Instant::now() < deadline {
                let (op, body) = make(&mut rng);
                let sent = Instant::now();
                match client.call(op, body).await {
                    Ok(resp) => {
                        latency.saturating_record(sent.elapsed().as_micros() as u64);
                        requests += 1;
                        items += count_items(&resp);
                    }
                    Err(_) => errors += 1,
                }
            }
            (latency, requests, items, errors)
        }));
    }
    let mut phase = Phase {
        latency: histogram(),
        requests: 0,
        items: 0,
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        if let Ok((h, r, i, e)) = t.await {
            let _ = phase.latency.add(&h);
            phase.requests += r;
            phase.items += i;
            phase.errors += e;
        }
    }
    phase.elapsed = start.elapsed();
    phase
}

fn count_query_items(resp: &Bytes) -> u64 {
    serde_json::from_slice::<Value>(resp)
        .ok()
        .and_then(|v| v.get("Count").and_then(Value::as_u64))
        .unwrap_or(0)
}

fn count_batch_items(resp: &Bytes) -> u64 {
    serde_json::from_slice::<Value>(resp)
        .ok()
        .and_then(|v| v["Responses"][TABLE].as_array().map(|a| a.len() as u64))
        .unwrap_or(0)
}

fn item(p: u64, s: u64, filler: &str) -> Value {
    json!({"pk": {"S": format!("p{p}")}, "sk": {"N": s.to_string()}, "data": {"S": filler}})
}

async fn load(client: &Client, args: &Args) -> anyhow::Result<()> {
    client
        .call(
            "CreateTable",
            serde_json::to_vec(&json!({
                "TableName": TABLE,
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "sk", "KeyType": "RANGE"}],
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "sk", "AttributeType": "N"}],
                "BillingMode": "PAY_PER_REQUEST"
            }))?,
        )
        .await
        .map_err(|f| anyhow::anyhow!("CreateTable: {} {}", f.kind, f.message))?;
    let filler = "x".repeat(args.item_size.saturating_sub(30).max(1));
    let keys: Vec<(u64, u64)> = (0..args.partitions)
        .flat_map(|p| (0..args.per_partition).map(move |s| (p, s)))
        .collect();
    let batches: Vec<Vec<u8>> = keys
        .chunks(25)
        .map(|chunk| {
            let writes: Vec<Value> = chunk
                .iter()
                .map(|&(p, s)| json!({"PutRequest": {"Item": item(p, s, &filler)}}))
                .collect();
            serde_json::to_vec(&json!({"RequestItems": {TABLE: writes}}))
        })
        .collect::<Result<_, _>>()?;
    let batches = Arc::new(std::sync::Mutex::new(batches));
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (client, batches) = (client.clone(), batches.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = batches.lock().ok().and_then(|mut b| b.pop());
                let Some(body) = next else {
                    return Ok::<(), anyhow::Error>(());
                };
                let resp = client
                    .call("BatchWriteItem", body)
                    .await
                    .map_err(|f| anyhow::anyhow!("BatchWriteItem: {} {}", f.kind, f.message))?;
                let v: Value = serde_json::from_slice(&resp)?;
                if v["UnprocessedItems"]
                    .as_object()
                    .is_some_and(|m| !m.is_empty())
                {
                    anyhow::bail!("BatchWriteItem left items unprocessed");
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

fn query_page(args: &Args) -> MakeRequest {
    let (partitions, per_partition) = (args.partitions, args.per_partition);
    Arc::new(move |rng: &mut Rng| {
        let p = rng.below(partitions);
        let s = rng.below(per_partition.saturating_sub(PAGE).max(1));
        let body = json!({
            "TableName": TABLE,
            "KeyConditionExpression": "pk = :p AND sk >= :s",
            "ExpressionAttributeValues": {":p": {"S": format!("p{p}")}, ":s": {"N": s.to_string()}},
            "Limit": PAGE
        });
        ("Query", serde_json::to_vec(&body).unwrap_or_default())
    })
}

fn batch_get_page(args: &Args) -> MakeRequest {
    let (partitions, per_partition) = (args.partitions, args.per_partition);
    Arc::new(move |rng: &mut Rng| {
        let p = rng.below(partitions);
        let first = rng.below(per_partition.saturating_sub(PAGE).max(1));
        let keys: Vec<Value> = (first..first + PAGE)
            .map(|s| json!({"pk": {"S": format!("p{p}")}, "sk": {"N": s.to_string()}}))
            .collect();
        let body = json!({"RequestItems": {TABLE: {"Keys": keys}}});
        (
            "BatchGetItem",
            serde_json::to_vec(&body).unwrap_or_default(),
        )
    })
}

/// Scan the whole table (`segments` workers at once); returns (items, pages).
async fn full_scan(client: &Client, segments: u64) -> (u64, u64) {
    let mut tasks = Vec::new();
    for segment in 0..segments {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let (mut items, mut pages) = (0u64, 0u64);
            let mut start: Option<Value> = None;
            loop {
                let mut body = json!({"TableName": TABLE});
                if segments > 1 {
                    body["Segment"] = json!(segment);
                    body["TotalSegments"] = json!(segments);
                }
                if let Some(s) = start.take() {
                    body["ExclusiveStartKey"] = s;
                }
                let Ok(resp) = client
                    .call("Scan", serde_json::to_vec(&body).unwrap_or_default())
                    .await
                else {
                    return (items, pages);
                };
                let Ok(v) = serde_json::from_slice::<Value>(&resp) else {
                    return (items, pages);
                };
                pages += 1;
                items += v["Count"].as_u64().unwrap_or(0);
                match v.get("LastEvaluatedKey") {
                    Some(k) => start = Some(k.clone()),
                    None => return (items, pages),
                }
            }
        }));
    }
    let mut total = (0, 0);
    for t in tasks {
        if let Ok((i, p)) = t.await {
            total.0 += i;
            total.1 += p;
        }
    }
    total
}

/// Repeat whole-table scans for `duration`; (items/s, pages/s, scans).
async fn scan_rate(client: &Client, segments: u64, duration: Duration) -> (f64, f64, u64) {
    let start = Instant::now();
    let (mut items, mut pages, mut scans) = (0u64, 0u64, 0u64);
    while start.elapsed() < duration {
        let (i, p) = full_scan(client, segments).await;
        items += i;
        pages += p;
        scans += 1;
    }
    let secs = start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    (items as f64 / secs, pages as f64 / secs, scans)
}

async fn start_floor(body: Bytes) -> anyhow::Result<(Client, oneshot::Sender<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(ferrodyn_bench::fixed::run(
        listener,
        ferrodyn_bench::fixed::Fixed(body),
        async {
            let _ = stopped.await;
        },
    ));
    Ok((Client::new(&url, 64)?, stop))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("ferrodyn-query-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = measure(&args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    let duration = Duration::from_secs_f64(args.seconds.max(0.1));
    let store = Store::open(&StoreConfig::new(dir))
        .with_context(|| format!("cannot open store in {}", dir.display()))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let (stop_store, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(server::run(listener, store, async {
        let _ = stopped.await;
    }));
    let client = Client::new(&url, 64)?;
    let loaded = Instant::now();
    load(&client, args).await?;
    let total = args.partitions * args.per_partition;
    eprintln!(
        "loaded {total} items in {:.1} s",
        loaded.elapsed().as_secs_f64()
    );

    // The floors answer with the store's own bytes for one page.
    let (_, sample) = query_page(args)(&mut Rng::new(7));
    let query_sample = client
        .call("Query", sample)
        .await
        .map_err(|f| anyhow::anyhow!("Query: {} {}", f.kind, f.message))?;
    let scan_sample = client
        .call("Scan", serde_json::to_vec(&json!({"TableName": TABLE}))?)
        .await
        .map_err(|f| anyhow::anyhow!("Scan: {} {}", f.kind, f.message))?;
    let scan_page_items = count_query_items(&scan_sample);
    let (query_floor, stop_query_floor) = start_floor(query_sample).await?;
    let (scan_floor, stop_scan_floor) = start_floor(scan_sample).await?;

    let warm = Duration::from_secs(1);
    closed_loop(&client, 4, warm, query_page(args), count_query_items).await;
    closed_loop(&client, 4, warm, batch_get_page(args), count_batch_items).await;

    println!(
        "query-scan: {} partitions x {} items of ~{} B ({total} items), {:.1} s per phase, closed loop, HTTP/1.1 loopback, client and servers in one process\n",
        args.partitions,
        args.per_partition,
        args.item_size,
        duration.as_secs_f64()
    );
    println!(
        "| 100-item page | connections | req/s | items/s | p50 ms | p99 ms | errors | vs Query |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for connections in [1, 16] {
        let query = closed_loop(
            &client,
            connections,
            duration,
            query_page(args),
            count_query_items,
        )
        .await;
        let batch = closed_loop(
            &client,
            connections,
            duration,
            batch_get_page(args),
            count_batch_items,
        )
        .await;
        let floor = closed_loop(
            &query_floor,
            connections,
            duration,
            query_page(args),
            count_query_items,
        )
        .await;
        let base = query.per_second(query.requests);
        for (label, phase) in [
            ("Query (Limit 100)", &query),
            ("BatchGetItem (100 keys)", &batch),
            ("HTTP floor (Query page bytes)", &floor),
        ] {
            let rate = phase.per_second(phase.requests);
            println!(
                "| {label} | {connections} | {rate:.0} | {:.0} | {:.3} | {:.3} | {} | {:.2}x |",
                phase.per_second(phase.items),
                phase.p(0.5),
                phase.p(0.99),
                phase.errors,
                rate / base.max(f64::MIN_POSITIVE),
            );
        }
    }

    println!();
    println!("| Scan (1 MB pages) | items/s | pages/s | full scans | vs floor pages/s |");
    println!("|---|---:|---:|---:|---:|");
    let floor_scan = closed_loop(
        &scan_floor,
        1,
        duration,
        Arc::new(|_: &mut Rng| ("Scan", b"{}".to_vec())),
        count_query_items,
    )
    .await;
    let floor_pages = floor_scan.per_second(floor_scan.requests);
    for segments in [1, 4] {
        let (items, pages, scans) = scan_rate(&client, segments, duration).await;
        println!(
            "| {segments} segment{} | {items:.0} | {pages:.1} | {scans} | {:.2}x |",
            if segments == 1 { "" } else { "s" },
            pages / floor_pages.max(f64::MIN_POSITIVE),
        );
    }
    println!(
        "| HTTP floor, 1 connection (one {scan_page_items}-item page) | {:.0} | {floor_pages:.1} | — | 1.00x |",
        floor_pages * scan_page_items as f64
    );

    let _ = stop_query_floor.send(());
    let _ = stop_scan_floor.send(());
    let _ = stop_store.send(());
    let _ = server.await;
    Ok(())
}

//! `data-growth`: do reads stay flat as the data grows?
//!
//! One process, on loopback: a store, and two proxies whose upstream is that
//! store over HTTP (the sidecar topology) — one without an item cache, so
//! every GetItem is a miss, and one with a cache large enough for
//! `--cached-keys` items. Two tables of ~`--item-size` B items, 100 per
//! partition: `--small` items (the baseline) and `--large` items, both
//! bulk-loaded with BatchWriteItem (the load rate is reported).
//!
//! Measured in interleaved rounds, one connection, closed loop, uniform
//! keys, every answer checked:
//!
//! * GetItem from the store, small table vs large table;
//! * GetItem through the cache-less proxy (a miss), small vs large;
//! * a Query page of 100 items (one whole partition) from the store, small
//!   vs large, and its ratio to a GetItem on the large table;
//! * an item-cache hit when the proxy holds `--small` keys vs when it holds
//!   `--cached-keys` keys, with the memory those keys take (the cache's own
//!   gauge and the growth of the process's anonymous resident memory).
//!
//! Ratios are large / small, medians over rounds.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use ferrodyn_bench::client::Client;
use ferrodyn_bench::driver;
use ferrodyn_bench::keys::Distribution;
use ferrodyn_bench::probe::{metric, status_bytes};
use ferrodyn_bench::rng::Rng;
use ferrodyn_bench::stats::{median, ticks, ticks_ms};
use ferrodyn_bench::workload::Shape;
use ferrodyn_store::{server, Store, StoreConfig};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Measure GetItem, Query and cache hits on a small and a large data set.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Items in the baseline table.
    #[arg(long, default_value_t = 10_000)]
    small: u64,
    /// Items in the large table.
    #[arg(long, default_value_t = 10_000_000)]
    large: u64,
    /// Item size in bytes (10 string fields).
    #[arg(long, default_value_t = 200)]
    item_size: usize,
    /// Keys the caching proxy holds for the large-cache hit measurement.
    #[arg(long, default_value_t = 1_000_000)]
    cached_keys: u64,
    /// The caching proxy's item cache size in bytes.
    #[arg(long, default_value_t = 4 << 30)]
    item_cache_bytes: u64,
    /// Measured time per cell and round, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Rounds (each measures every cell once).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrent BatchWriteItem requests while loading.
    #[arg(long, default_value_t = 16)]
    load_connections: usize,
    /// Keep the store's data here instead of a temporary directory; a second
    /// run with `--skip-load` then reuses the loaded tables.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Measure only the rows whose label contains this text (e.g. `Query`).
    #[arg(long)]
    only: Option<String>,
    /// The tables are already loaded in `--data-dir`.
    #[arg(long, requires = "data_dir")]
    skip_load: bool,
}

const GET_STORE: &str = "GetItem, store";
const QUERY_STORE: &str = "Query page of 100 items, store";

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The store's and the proxies' warnings and errors (RUST_LOG as for the
    // binaries).
    let _ = ferrodyn_store::logging::init(ferrodyn_store::logging::LogFormat::Text);
    let temporary = args.data_dir.is_none();
    let dir = args.data_dir.clone().unwrap_or_else(|| {
        std::env::temp_dir().join(format!("ferrodyn-data-growth-{}", std::process::id()))
    });
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(measure(&args, &dir));
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn shape(table: &str, item_size: usize) -> Shape {
    Shape {
        table: table.into(),
        per_partition: 100,
        fields: 10,
        field_bytes: (item_size / 10).max(1),
        consistent_read: false,
        max_scan_length: 100,
        distribution: Distribution::Uniform,
    }
}

/// Items `0..records` of `shape` in BatchWriteItem requests of 25, with
/// `connections` in flight; unprocessed items are sent again. Returns the
/// items written per second.
async fn load(
    client: &Client,
    shape: &Arc<Shape>,
    records: u64,
    connections: usize,
) -> anyhow::Result<f64> {
    driver::ensure_table(client, shape).await?;
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..connections.max(1) {
        let (client, shape, next, done) =
            (client.clone(), shape.clone(), next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(0x10AD ^ ((w as u64) << 40));
            loop {
                let first = next.fetch_add(25, Ordering::Relaxed);
                if first >= records {
                    return Ok::<(), anyhow::Error>(());
                }
                let puts: Vec<Value> = (first..(first + 25).min(records))
                    .map(|i| json!({"PutRequest": {"Item": shape.item(i, &mut rng)}}))
                    .collect();
                let count = puts.len() as u64;
                let mut request = json!({"RequestItems": {shape.table.as_str(): puts}});
                loop {
                    let answer = client
                        .call("BatchWriteItem", serde_json::to_vec(&request)?)
                        .await
                        .map_err(|f| anyhow::anyhow!("BatchWriteItem: {} {}", f.kind, f.message))?;
                    let answer: Value = serde_json::from_slice(&answer)?;
                    match answer.get("UnprocessedItems") {
                        Some(Value::Object(left)) if !left.is_empty() => {
                            request = json!({ "RequestItems": left });
                        }
                        _ => break,
                    }
                }
                let total = done.fetch_add(count, Ordering::Relaxed) + count;
                if total % 500_000 < count {
                    eprintln!(
                        "load {}: {total}/{records} items, {:.0} items/s",
                        shape.table,
                        total as f64 / start.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(records as f64 / start.elapsed().as_secs_f64().max(f64::MIN_POSITIVE))
}

/// What a measured answer is checked for.
#[derive(serde::Deserialize)]
struct Answer {
    #[serde(rename = "Item")]
    item: Option<serde::de::IgnoredAny>,
    #[serde(rename = "Count")]
    count: Option<u64>,
}

/// One cell of one round: latency percentiles in µs and requests/s.
#[derive(Clone, Copy)]
struct Cell {
    p50: f64,
    p99: f64,
    rate: f64,
}

/// The requests of one measurement: operation and a body per key.
#[derive(Clone, Copy)]
enum Request {
    Get,
    QueryPage,
}

/// One connection, closed loop, for `duration`: `request` on uniformly
/// chosen keys below `keys`. Any failure, or an answer without the item (or
/// without 100 items for a page), fails the benchmark.
async fn closed_loop(
    client: &Client,
    shape: &Shape,
    request: Request,
    keys: u64,
    duration: Duration,
    seed: u64,
) -> anyhow::Result<Cell> {
    let mut rng = Rng::new(seed);
    let mut histogram = Histogram::<u64>::new(3)?;
    let start = Instant::now();
    let mut count = 0u64;
    while start.elapsed() < duration {
        let item = rng.below(keys);
        let (op, body) = match request {
            Request::Get => ("GetItem", shape.get_item(item)),
            Request::QueryPage => ("Query", shape.partition_page(item / shape.per_partition)),
        };
        let sent = Instant::now();
        let answer = client
            .call(op, body)
            .await
            .map_err(|f| anyhow::anyhow!("{op}: {} {}", f.kind, f.message))?;
        histogram.record(ticks(sent.elapsed()))?;
        count += 1;
        // Checked without building the answer: the client's work stays small
        // next to the server's.
        let answer: Answer = serde_json::from_slice(&answer)?;
        let complete = match request {
            Request::Get => answer.item.is_some(),
            Request::QueryPage => {
                let first = item - item % shape.per_partition;
                answer.count == Some(shape.per_partition.min(keys - first))
            }
        };
        anyhow::ensure!(
            complete,
            "{op} on {}: answer without the item(s)",
            shape.table
        );
    }
    Ok(Cell {
        p50: ticks_ms(histogram.value_at_quantile(0.5)) * 1000.0,
        p99: ticks_ms(histogram.value_at_quantile(0.99)) * 1000.0,
        rate: count as f64 / start.elapsed().as_secs_f64(),
    })
}

/// A proxy in front of `upstream` with an item cache of `item_cache_bytes`:
/// its URL, its `/metrics` URL and what stops it.
async fn start_proxy(
    dir: &std::path::Path,
    upstream: &str,
    item_cache_bytes: u64,
) -> anyhow::Result<(String, String, oneshot::Sender<()>)> {
    let mut config = ferrodyn_proxy::Config::new(dir);
    config.upstream = Some(upstream.to_owned());
    config.item_cache_bytes = item_cache_bytes;
    config.item_ttl = Duration::from_secs(24 * 3600);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let admin = TcpListener::bind("127.0.0.1:0").await?;
    let metrics = format!("http://{}/metrics", admin.local_addr()?);
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(ferrodyn_proxy::run(listener, Some(admin), config, async {
        let _ = stopped.await;
    }));
    Ok((url, metrics, stop))
}

async fn measure(args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    let duration = Duration::from_secs_f64(args.seconds.max(0.1));
    let store = Store::open(&StoreConfig::new(dir.join("store"))).context("cannot open store")?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let store_url = format!("http://{}", listener.local_addr()?);
    let (stop_store, store_stopped) = oneshot::channel::<()>();
    let store_task = tokio::spawn(server::run(listener, store, async {
        let _ = store_stopped.await;
    }));
    let direct = Client::new(&store_url, args.load_connections.max(16))?;

    let small = Arc::new(shape("growth_small", args.item_size));
    let large = Arc::new(shape("growth_large", args.item_size));
    let mut rates = None;
    if !args.skip_load {
        let s = load(&direct, &small, args.small, args.load_connections).await?;
        let l = load(&direct, &large, args.large, args.load_connections).await?;
        rates = Some((s, l));
    }

    let cached_keys = args.cached_keys.min(args.large);
    let (miss_url, miss_metrics, stop_miss) = start_proxy(&dir.join("miss"), &store_url, 0).await?;
    let (hit_url, hit_metrics, stop_hit) =
        start_proxy(&dir.join("hit"), &store_url, args.item_cache_bytes).await?;
    let miss = Client::new(&miss_url, 16)?;
    let hit = Client::new(&hit_url, 16)?;
    // The caching proxy's memory before and after it holds the keys.
    driver::read_each(&hit, &small, args.small, 16).await?;
    let before = status_bytes("RssAnon")?;
    let entries_before = metric(&hit_metrics, "proxy_item_cache_entries").await?;
    let bytes_before = metric(&hit_metrics, "proxy_item_cache_bytes").await?;
    driver::read_each(&hit, &large, cached_keys, 16).await?;
    let after = status_bytes("RssAnon")?;
    let entries = metric(&hit_metrics, "proxy_item_cache_entries").await? - entries_before;
    let cache_bytes = metric(&hit_metrics, "proxy_item_cache_bytes").await? - bytes_before;
    let misses_before = metric(&miss_metrics, "proxy_item_cache_hits_total").await?;

    println!(
        "data-growth: {} vs {} items of ~{} B (100 per partition); one connection, closed loop, uniform keys, {} rounds x {:.0} s per cell (load average {})\n",
        args.small,
        args.large,
        args.item_size,
        args.rounds,
        duration.as_secs_f64(),
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into()),
    );
    // (label, client, request, [small table and keys, large table and keys])
    type Side = (Arc<Shape>, u64);
    let rows: Vec<(&str, &Client, Request, [Side; 2])> = vec![
        (
            GET_STORE,
            &direct,
            Request::Get,
            [(small.clone(), args.small), (large.clone(), args.large)],
        ),
        (
            "GetItem, proxy miss (no item cache)",
            &miss,
            Request::Get,
            [(small.clone(), args.small), (large.clone(), args.large)],
        ),
        (
            QUERY_STORE,
            &direct,
            Request::QueryPage,
            [(small.clone(), args.small), (large.clone(), args.large)],
        ),
        (
            "GetItem, proxy hit",
            &hit,
            Request::Get,
            [(small.clone(), args.small), (large.clone(), cached_keys)],
        ),
    ];
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|row| args.only.as_deref().is_none_or(|only| row.0.contains(only)))
        .collect();
    let mut cells: Vec<[Vec<Cell>; 2]> = rows.iter().map(|_| [Vec::new(), Vec::new()]).collect();
    for round in 0..args.rounds {
        for (r, (_, client, request, sides)) in rows.iter().enumerate() {
            for (s, (shape, keys)) in sides.iter().enumerate() {
                let seed = (round * 100 + r * 10 + s) as u64;
                cells[r][s]
                    .push(closed_loop(client, shape, *request, *keys, duration, seed).await?);
            }
        }
    }
    let hits_on_miss_proxy =
        metric(&miss_metrics, "proxy_item_cache_hits_total").await? - misses_before;

    println!("| measurement | small: keys | p50 µs | p99 µs | req/s | large: keys | p50 µs | p99 µs | req/s | p50 large/small | p99 large/small |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let col = |v: &Vec<Cell>, f: fn(&Cell) -> f64| median(v.iter().map(f).collect());
    let mut p50s = Vec::new();
    for ((label, _, _, sides), cell) in rows.iter().zip(&cells) {
        let (a, b) = (&cell[0], &cell[1]);
        println!(
            "| {label} | {} | {:.1} | {:.1} | {:.0} | {} | {:.1} | {:.1} | {:.0} | {:.2}x | {:.2}x |",
            sides[0].1,
            col(a, |c| c.p50),
            col(a, |c| c.p99),
            col(a, |c| c.rate),
            sides[1].1,
            col(b, |c| c.p50),
            col(b, |c| c.p99),
            col(b, |c| c.rate),
            col(b, |c| c.p50) / col(a, |c| c.p50).max(1.0),
            col(b, |c| c.p99) / col(a, |c| c.p99).max(1.0),
        );
        p50s.push((*label, col(b, |c| c.p50)));
    }
    println!();
    if let (Some(get), Some(query)) = (
        p50s.iter().find(|(label, _)| *label == GET_STORE),
        p50s.iter().find(|(label, _)| *label == QUERY_STORE),
    ) {
        println!(
            "Query page of 100 items vs GetItem, store, large table: p50 {:.2}x",
            query.1 / get.1.max(1.0)
        );
    }
    if let Some((s, l)) = rates {
        println!("Load (BatchWriteItem of 25, {} in flight): {s:.0} items/s for the small table, {l:.0} items/s for the large one", args.load_connections);
    }
    println!(
        "Caching proxy: {entries:.0} more entries take {:.1} MiB by the cache's weigher and {:.1} MiB of anonymous resident memory ({:.0} B per entry); the cache-less proxy served {hits_on_miss_proxy:.0} hits",
        cache_bytes / 1048576.0,
        after.saturating_sub(before) as f64 / 1048576.0,
        after.saturating_sub(before) as f64 / entries.max(1.0),
    );

    let _ = stop_miss.send(());
    let _ = stop_hit.send(());
    let _ = stop_store.send(());
    let _ = store_task.await;
    Ok(())
}

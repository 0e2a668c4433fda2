//! `proxy-memory`: does the proxy's item cache stay within its configured
//! size? GetItem on 1,000,000 distinct keys (four times what fits) through a
//! proxy whose upstream answers every read with a ~1 KB item, then compare
//! the growth of this process's resident memory with `--item-cache-bytes`.
//!
//! The upstream is a fixed-response hyper server, so the store's memory-
//! mapped data is not in the measurement; the client, the upstream and the
//! proxy share the process, and their steady-state memory is taken as the
//! baseline after a warm-up that reaches full connection pools.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use ferrodyn_bench::client::Client;
use ferrodyn_bench::probe::{metric, rss_bytes};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Churn the proxy's item cache and measure resident memory.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Distinct keys read once each.
    #[arg(long, default_value_t = 1_000_000)]
    keys: u64,
    /// The proxy's item cache size in bytes.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    item_cache_bytes: u64,
    /// Size of the item the upstream returns, in bytes (10 string fields).
    #[arg(long, default_value_t = 1000)]
    item_size: usize,
    /// GetItem requests per key, back to back. The cache admits a key by
    /// frequency (TinyLFU), so keys read once mostly bounce off a full
    /// cache; from two reads on, new keys displace old ones and the cache's
    /// contents really churn.
    #[arg(long, default_value_t = 2)]
    reads_per_key: u64,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: u64,
}

/// GetItem on keys `range` through `client`, `connections` at a time.
async fn read_keys(
    client: &Client,
    range: std::ops::Range<u64>,
    reads_per_key: u64,
    connections: u64,
) -> u64 {
    let next = Arc::new(AtomicU64::new(range.start));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, next, errors, end) = (client.clone(), next.clone(), errors.clone(), range.end);
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= end {
                    return;
                }
                let body =
                    json!({"TableName": "memory", "Key": {"pk": {"S": format!("key{k:09}")}}});
                let body = serde_json::to_vec(&body).unwrap_or_default();
                for _ in 0..reads_per_key {
                    if client.call("GetItem", body.clone()).await.is_err() {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    errors.load(Ordering::Relaxed)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let field = "v".repeat((args.item_size / 10).saturating_sub(8).max(1));
    let item: serde_json::Map<String, serde_json::Value> = (0..10)
        .map(|i| (format!("field{i}"), json!({"S": field})))
        .chain([("pk".to_owned(), json!({"S": "key000000000"}))])
        .collect();
    let body = Bytes::from(serde_json::to_vec(&json!({ "Item": item }))?);

    let upstream = TcpListener::bind("127.0.0.1:0").await?;
    let upstream_url = format!("http://{}", upstream.local_addr()?);
    let (stop_upstream, upstream_stopped) = oneshot::channel::<()>();
    tokio::spawn(ferrodyn_bench::fixed::run(
        upstream,
        ferrodyn_bench::fixed::Fixed(body),
        async {
            let _ = upstream_stopped.await;
        },
    ));

    let dir = std::env::temp_dir().join(format!("ferrodyn-proxy-memory-{}", std::process::id()));
    let mut config = ferrodyn_proxy::Config::new(&dir);
    config.upstream = Some(upstream_url);
    config.item_cache_bytes = args.item_cache_bytes;
    config.item_ttl = Duration::from_secs(3600);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy_url = format!("http://{}", listener.local_addr()?);
    let admin = TcpListener::bind("127.0.0.1:0").await?;
    let admin_url = format!("http://{}/metrics", admin.local_addr()?);
    let (stop_proxy, proxy_stopped) = oneshot::channel::<()>();
    let proxy = tokio::spawn(ferrodyn_proxy::run(listener, Some(admin), config, async {
        let _ = proxy_stopped.await;
    }));

    let client = Client::new(&proxy_url, args.connections as usize)?;
    // Warm-up on keys outside the measured range: pools and buffers reach
    // their steady size; the few entries it caches are evicted later.
    let warm = args.keys..args.keys + 2_000;
    read_keys(&client, warm, args.reads_per_key, args.connections).await;
    let baseline = rss_bytes()?;

    let started = Instant::now();
    let mut peak = baseline;
    let step = (args.keys / 10).max(1);
    let mut errors = 0;
    println!(
        "proxy-memory: {} distinct keys read {} times each, ~{} B items, item cache {} MiB, {} connections\n",
        args.keys,
        args.reads_per_key,
        args.item_size,
        args.item_cache_bytes >> 20,
        args.connections
    );
    println!("| keys read | RSS growth MiB | vs cache size | cache gauge MiB | entries | hits | misses |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let mut from = 0;
    while from < args.keys {
        let to = (from + step).min(args.keys);
        errors += read_keys(&client, from..to, args.reads_per_key, args.connections).await;
        from = to;
        let rss = rss_bytes()?;
        peak = peak.max(rss);
        let growth = rss.saturating_sub(baseline);
        let gauge = metric(&admin_url, "proxy_item_cache_bytes").await?;
        let entries = metric(&admin_url, "proxy_item_cache_entries").await?;
        let hits = metric(&admin_url, "proxy_item_cache_hits_total").await?;
        let misses = metric(&admin_url, "proxy_item_cache_misses_total").await?;
        println!(
            "| {to} | {:.1} | {:.2} | {:.1} | {entries:.0} | {hits:.0} | {misses:.0} |",
            growth as f64 / 1048576.0,
            growth as f64 / args.item_cache_bytes as f64,
            gauge / 1048576.0,
        );
    }
    let growth = peak.saturating_sub(baseline);
    println!(
        "\n{} keys in {:.1} s, {errors} errors; peak RSS growth {:.1} MiB = {:.2}x the configured {} MiB (baseline RSS {:.1} MiB)",
        args.keys,
        started.elapsed().as_secs_f64(),
        growth as f64 / 1048576.0,
        growth as f64 / args.item_cache_bytes as f64,
        args.item_cache_bytes >> 20,
        baseline as f64 / 1048576.0,
    );
    let _ = stop_proxy.send(());
    let _ = stop_upstream.send(());
    let _ = proxy.await;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

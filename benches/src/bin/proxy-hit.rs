//! `proxy-hit`: the headline table — GetItem answered from the proxy's item
//! cache, vs GetItem on the store directly, vs the HTTP floor (a
//! fixed-response hyper server sending the same bytes), at 1 connection
//! (p50/p99 latency) and 64 connections (throughput).
//!
//! Everything runs in this process on loopback: a store with a fresh data
//! directory, a proxy in front of it, the floor server and the pooled
//! client. The three targets are measured in interleaved rounds so machine
//! drift affects them alike; each table cell is the median over rounds.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ferrodyn_bench::client::Client;
use ferrodyn_bench::driver::{self, Pacing, PhaseSpec, Workload};
use ferrodyn_bench::keys::Distribution;
use ferrodyn_bench::stats::summary_ms;
use ferrodyn_bench::workload::{Mix, Op, Shape};
use ferrodyn_store::{server, Store, StoreConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Compare GetItem latency and throughput: proxy cache hit, store, HTTP floor.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Measured time per phase, in seconds.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
    /// Rounds (each measures every target once per connection count).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Items loaded (all fit in the cache, so every measured read is a hit).
    #[arg(long, default_value_t = 10_000)]
    records: u64,
    /// Item size in bytes (10 string fields).
    #[arg(long, default_value_t = 1000)]
    item_size: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let duration = Duration::from_secs_f64(args.seconds.max(0.1));
    let dir = std::env::temp_dir().join(format!("ferrodyn-proxy-hit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = measure(&args, duration, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(args: &Args, duration: Duration, dir: &std::path::Path) -> anyhow::Result<()> {
    let store = Store::open(&StoreConfig::new(dir.join("store"))).context("cannot open store")?;
    let store_listener = TcpListener::bind("127.0.0.1:0").await?;
    let store_url = format!("http://{}", store_listener.local_addr()?);
    let (stop_store, store_stopped) = oneshot::channel::<()>();
    let store_task = tokio::spawn(server::run(store_listener, store, async {
        let _ = store_stopped.await;
    }));

    let mut config = ferrodyn_proxy::Config::new(dir.join("unused"));
    config.upstream = Some(store_url.clone());
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy_url = format!("http://{}", proxy_listener.local_addr()?);
    let (stop_proxy, proxy_stopped) = oneshot::channel::<()>();
    let proxy_task = tokio::spawn(ferrodyn_proxy::run(proxy_listener, None, config, async {
        let _ = proxy_stopped.await;
    }));

    let shape = Shape {
        table: "proxyhit".into(),
        per_partition: 1,
        fields: 10,
        field_bytes: (args.item_size / 10).max(1),
        consistent_read: false,
        max_scan_length: 1,
        distribution: Distribution::Uniform,
    };
    let store_client = Client::new(&store_url, 64)?;
    let proxy_client = Client::new(&proxy_url, 64)?;
    driver::ensure_table(&store_client, &shape).await?;
    let mix = |op| Mix::new(vec![(op, 1.0)]).map_err(anyhow::Error::msg);
    let puts = Workload::new(shape.clone(), mix(Op::Put)?, args.records);
    driver::load(&store_client, &puts.shape, args.records, 32, 1, false).await?;
    let gets = Workload::new(shape.clone(), mix(Op::Get)?, args.records);
    let sample = store_client
        .call("GetItem", shape.get_item(0))
        .await
        .map_err(|f| anyhow::anyhow!("GetItem: {} {}", f.kind, f.message))?;
    let floor_listener = TcpListener::bind("127.0.0.1:0").await?;
    let floor_url = format!("http://{}", floor_listener.local_addr()?);
    let (stop_floor, floor_stopped) = oneshot::channel::<()>();
    let floor_task = tokio::spawn(ferrodyn_bench::fixed::run(
        floor_listener,
        ferrodyn_bench::fixed::Fixed(sample),
        async {
            let _ = floor_stopped.await;
        },
    ));
    let floor_client = Client::new(&floor_url, 64)?;

    let phase = |connections: usize, seed: u64| PhaseSpec {
        connections,
        pacing: Pacing::Closed,
        duration,
        max_ops: None,
        seed,
    };
    // Warm up, and fill the cache with every item.
    let fill = PhaseSpec {
        duration: Duration::from_secs(1),
        ..phase(8, 99)
    };
    for c in [&store_client, &proxy_client, &floor_client] {
        driver::run_phase(c, &gets, &fill).await;
    }
    for i in 0..args.records {
        let _ = proxy_client.call("GetItem", shape.get_item(i)).await;
    }

    let targets = [
        ("proxy cache hit", &proxy_client),
        ("store", &store_client),
        ("HTTP floor", &floor_client),
    ];
    println!(
        "proxy-hit: GetItem of ~{} B items, {} records, {} rounds x {:.1} s per phase, closed loop, HTTP/1.1 loopback, one process\n",
        args.item_size,
        args.records,
        args.rounds,
        duration.as_secs_f64()
    );
    for connections in [1usize, 64] {
        // (p50, p99, req/s, errors) per target per round.
        let mut cells: Vec<Vec<(f64, f64, f64, u64)>> = vec![Vec::new(); targets.len()];
        for round in 0..args.rounds {
            for (i, (_, client)) in targets.iter().enumerate() {
                let rec = driver::run_phase(client, &gets, &phase(connections, round as u64)).await;
                let s = summary_ms(&rec.all_latency());
                cells[i].push((s[0] * 1000.0, s[2] * 1000.0, rec.throughput(), rec.errors()));
            }
        }
        let floor_p50 = median(cells[2].iter().map(|c| c.0).collect());
        let floor_tput = median(cells[2].iter().map(|c| c.2).collect());
        println!(
            "**{connections} connection{}**\n",
            if connections == 1 { "" } else { "s" }
        );
        println!("| target | p50 µs | p99 µs | req/s | errors | p50 vs floor | req/s vs floor |");
        println!("|---|---:|---:|---:|---:|---:|---:|");
        for (i, (name, _)) in targets.iter().enumerate() {
            let p50 = median(cells[i].iter().map(|c| c.0).collect());
            let p99 = median(cells[i].iter().map(|c| c.1).collect());
            let tput = median(cells[i].iter().map(|c| c.2).collect());
            let errors: u64 = cells[i].iter().map(|c| c.3).sum();
            println!(
                "| {name} | {p50:.1} | {p99:.1} | {tput:.0} | {errors} | {:.2}x | {:.2}x |",
                p50 / floor_p50.max(f64::MIN_POSITIVE),
                tput / floor_tput.max(f64::MIN_POSITIVE)
            );
        }
        println!();
    }
    let _ = stop_floor.send(());
    let _ = stop_proxy.send(());
    let _ = stop_store.send(());
    let _ = floor_task.await;
    let _ = proxy_task.await;
    let _ = store_task.await;
    Ok(())
}

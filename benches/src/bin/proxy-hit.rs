//! `proxy-hit`: the headline table — GetItem answered from the proxy's item
//! cache, vs GetItem on the store directly, vs two floors measured in the
//! same run: the HTTP floor (a fixed-response hyper server sending the same
//! bytes) and the DynamoDB-JSON floor (a hyper server that decodes the
//! request with serde_json, looks the key up in a `HashMap` and encodes the
//! item), at 1 connection (latency) and 64 connections (throughput).
//!
//! Everything runs in this process on loopback: a store with a fresh data
//! directory, a proxy in front of it, the floor servers and the pooled
//! client. The servers run on their own runtime, so the CPU time its
//! threads use per request (from `/proc/self/task/*/schedstat`, Linux only)
//! is reported for each target. The targets are measured in interleaved
//! rounds so machine drift affects them alike; each table cell is the median
//! over rounds. At 1 connection the loop is closed, so the mean latency is
//! exactly 1 / throughput; the percentiles have a resolution of 0.1 µs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ferrodyn_bench::client::Client;
use ferrodyn_bench::driver::{self, Pacing, PhaseSpec, Workload};
use ferrodyn_bench::keys::Distribution;
use ferrodyn_bench::stats::{median, summary_ms};
use ferrodyn_bench::workload::{Mix, Op, Shape};
use ferrodyn_store::model::Item;
use ferrodyn_store::{server, Store, StoreConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Compare GetItem latency and throughput: proxy cache hit, store, the
/// DynamoDB-JSON floor and the HTTP floor.
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

/// One target's results in one round.
#[derive(Clone, Copy)]
struct Cell {
    /// Latency percentiles, µs.
    p50: f64,
    p99: f64,
    /// Successful requests per second.
    rate: f64,
    errors: u64,
    /// Server threads' CPU time per request, µs.
    cpu: f64,
}

/// The threads of the servers' runtime, whose CPU time is read per phase.
#[derive(Clone, Default)]
struct ServerThreads(Arc<Mutex<Vec<String>>>);

impl ServerThreads {
    /// Remember the calling thread (its `/proc/self/task/<tid>`).
    fn register(&self) {
        if let Ok(link) = std::fs::read_link("/proc/thread-self") {
            if let Some(tid) = link.file_name().and_then(|t| t.to_str()) {
                if let Ok(mut threads) = self.0.lock() {
                    threads.push(tid.to_owned());
                }
            }
        }
    }

    /// CPU time the server threads have used so far, in nanoseconds;
    /// `None` where the kernel does not report it.
    fn cpu_ns(&self) -> Option<u64> {
        let threads = self.0.lock().ok()?.clone();
        let mut total = 0u64;
        for tid in threads {
            // An exited thread took its time with it; threads only exit
            // when the runtime shuts down.
            let Ok(stat) = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
            else {
                continue;
            };
            total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(total)
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let duration = Duration::from_secs_f64(args.seconds.max(0.1));
    let dir = std::env::temp_dir().join(format!("ferrodyn-proxy-hit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let threads = ServerThreads::default();
    let registered = threads.clone();
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("server")
        .on_thread_start(move || registered.register())
        .enable_all()
        .build()?;
    let clients = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("client")
        .enable_all()
        .build()?;
    let result = clients.block_on(measure(&args, duration, &dir, &servers, &threads));
    servers.shutdown_timeout(Duration::from_secs(5));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// A listener on a free loopback port, registered with the servers'
/// runtime, and its URL.
fn listen(servers: &tokio::runtime::Runtime) -> anyhow::Result<(TcpListener, String)> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}", listener.local_addr()?);
    let _runtime = servers.enter();
    Ok((TcpListener::from_std(listener)?, url))
}

async fn measure(
    args: &Args,
    duration: Duration,
    dir: &std::path::Path,
    servers: &tokio::runtime::Runtime,
    threads: &ServerThreads,
) -> anyhow::Result<()> {
    let store = {
        // Its background tasks belong to the servers' runtime.
        let _runtime = servers.enter();
        Store::open(&StoreConfig::new(dir.join("store"))).context("cannot open store")?
    };
    let (store_listener, store_url) = listen(servers)?;
    let (stop_store, store_stopped) = oneshot::channel::<()>();
    let store_task = servers.spawn(server::run(store_listener, store, async {
        let _ = store_stopped.await;
    }));

    let mut config = ferrodyn_proxy::Config::new(dir.join("unused"));
    config.upstream = Some(store_url.clone());
    let (proxy_listener, proxy_url) = listen(servers)?;
    let (stop_proxy, proxy_stopped) = oneshot::channel::<()>();
    let proxy_task = servers.spawn(ferrodyn_proxy::run(proxy_listener, None, config, async {
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
    let (floor_listener, floor_url) = listen(servers)?;
    let (stop_floor, floor_stopped) = oneshot::channel::<()>();
    let floor_task = servers.spawn(ferrodyn_bench::fixed::run(
        floor_listener,
        ferrodyn_bench::fixed::Fixed(sample),
        async {
            let _ = floor_stopped.await;
        },
    ));
    let floor_client = Client::new(&floor_url, 64)?;

    // The DynamoDB-JSON floor holds what the store holds.
    let mut items = ferrodyn_bench::json_floor::Items {
        table: shape.table.clone(),
        ..Default::default()
    };
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Found {
        item: Option<Item>,
    }
    for i in 0..args.records {
        let body = store_client
            .call("GetItem", shape.get_item(i))
            .await
            .map_err(|f| anyhow::anyhow!("GetItem: {} {}", f.kind, f.message))?;
        let key: Item = serde_json::from_value(shape.key(i))?;
        if let Some(item) = serde_json::from_slice::<Found>(&body)?.item {
            items.insert(&key, item)?;
        }
    }
    let (json_listener, json_url) = listen(servers)?;
    let (stop_json, json_stopped) = oneshot::channel::<()>();
    let json_task = servers.spawn(ferrodyn_bench::json_floor::run(
        json_listener,
        items,
        async {
            let _ = json_stopped.await;
        },
    ));
    let json_client = Client::new(&json_url, 64)?;

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
    for c in [&store_client, &proxy_client, &floor_client, &json_client] {
        driver::run_phase(c, &gets, &fill).await;
    }
    for i in 0..args.records {
        let _ = proxy_client.call("GetItem", shape.get_item(i)).await;
    }

    let targets = [
        ("proxy cache hit", &proxy_client),
        ("store", &store_client),
        ("DynamoDB-JSON floor", &json_client),
        ("HTTP floor", &floor_client),
    ];
    let (json_floor, http_floor) = (2, 3);
    println!(
        "proxy-hit: GetItem of ~{} B items, {} records, {} rounds x {:.1} s per phase, closed loop, HTTP/1.1 loopback, one process ({} CPUs, load average {})\n",
        args.item_size,
        args.records,
        args.rounds,
        duration.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into()),
    );
    for connections in [1usize, 64] {
        let mut cells: Vec<Vec<Cell>> = vec![Vec::new(); targets.len()];
        for round in 0..args.rounds {
            for (i, (_, client)) in targets.iter().enumerate() {
                let before = threads.cpu_ns();
                let rec = driver::run_phase(client, &gets, &phase(connections, round as u64)).await;
                let cpu = match (before, threads.cpu_ns()) {
                    (Some(b), Some(a)) => {
                        a.saturating_sub(b) as f64 / 1000.0 / rec.successes().max(1) as f64
                    }
                    _ => f64::NAN,
                };
                let s = summary_ms(&rec.all_latency());
                cells[i].push(Cell {
                    p50: s[0] * 1000.0,
                    p99: s[2] * 1000.0,
                    rate: rec.throughput(),
                    errors: rec.errors(),
                    cpu,
                });
            }
        }
        let column = |i: usize, f: fn(&Cell) -> f64| median(cells[i].iter().map(f).collect());
        let mean_us = |i: usize| 1e6 / column(i, |c| c.rate).max(f64::MIN_POSITIVE);
        let ratio = |a: f64, b: f64| a / b.max(f64::MIN_POSITIVE);
        println!(
            "**{connections} connection{}**\n",
            if connections == 1 { "" } else { "s" }
        );
        println!(
            "| target | p50 µs | p99 µs | mean µs | req/s | errors | server CPU µs/req | p50 vs HTTP floor | mean vs HTTP floor | mean vs JSON floor | req/s vs HTTP floor | req/s vs JSON floor |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for (i, (name, _)) in targets.iter().enumerate() {
            let errors: u64 = cells[i].iter().map(|c| c.errors).sum();
            println!(
                "| {name} | {:.1} | {:.1} | {:.2} | {:.0} | {errors} | {:.2} | {:.2}x | {:.3}x | {:.3}x | {:.3}x | {:.3}x |",
                column(i, |c| c.p50),
                column(i, |c| c.p99),
                mean_us(i),
                column(i, |c| c.rate),
                column(i, |c| c.cpu),
                ratio(column(i, |c| c.p50), column(http_floor, |c| c.p50)),
                ratio(mean_us(i), mean_us(http_floor)),
                ratio(mean_us(i), mean_us(json_floor)),
                ratio(column(i, |c| c.rate), column(http_floor, |c| c.rate)),
                ratio(column(i, |c| c.rate), column(json_floor, |c| c.rate)),
            );
        }
        println!();
    }
    let _ = stop_json.send(());
    let _ = stop_floor.send(());
    let _ = stop_proxy.send(());
    let _ = stop_store.send(());
    let _ = json_task.await;
    let _ = floor_task.await;
    let _ = proxy_task.await;
    let _ = store_task.await;
    Ok(())
}

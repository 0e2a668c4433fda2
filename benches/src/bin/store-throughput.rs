//! `store-throughput`: the store's durable PutItem throughput at 1, 8 and 64
//! concurrent writers (the group-commit effect) and its GetItem throughput
//! at 1 and 64 connections, each against the HTTP floor — a fixed-response
//! hyper server measured in the same run on the same loopback.
//!
//! Everything runs in this process: the store on 127.0.0.1:0 with a fresh
//! data directory under the system temp dir, the floor server, and the
//! pooled client. Results are printed as Markdown tables.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ferrodyn_bench::client::Client;
use ferrodyn_bench::driver::{self, Pacing, PhaseSpec, Workload};
use ferrodyn_bench::keys::Distribution;
use ferrodyn_bench::stats::{summary_ms, Recorder};
use ferrodyn_bench::workload::{Mix, Op, Shape};
use ferrodyn_store::{server, Store, StoreConfig};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// Measure the in-process store's PutItem and GetItem throughput over HTTP
/// loopback against a fixed-response HTTP server (the floor).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Measured time per phase, in seconds.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// Items loaded before measuring.
    #[arg(long, default_value_t = 10_000)]
    records: u64,
    /// Item size in bytes (10 string fields).
    #[arg(long, default_value_t = 1000)]
    item_size: usize,
}

struct Row {
    label: String,
    rec: Recorder,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let duration = Duration::from_secs_f64(args.seconds.max(0.1));
    let dir =
        std::env::temp_dir().join(format!("ferrodyn-store-throughput-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let result = measure(&args, duration, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(args: &Args, duration: Duration, dir: &std::path::Path) -> anyhow::Result<()> {
    let store = Store::open(&StoreConfig::new(dir))
        .with_context(|| format!("cannot open store in {}", dir.display()))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let store_url = format!("http://{}", listener.local_addr()?);
    let (stop_store, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(server::run(listener, store, async {
        let _ = stopped.await;
    }));

    let shape = Shape {
        table: "throughput".into(),
        per_partition: 1,
        fields: 10,
        field_bytes: (args.item_size / 10).max(1),
        consistent_read: false,
        max_scan_length: 1,
        distribution: Distribution::Uniform,
    };
    let client = Client::new(&store_url, 64)?;
    driver::ensure_table(&client, &shape).await?;
    let puts = Workload::new(
        shape.clone(),
        Mix::new(vec![(Op::Put, 1.0)]).map_err(anyhow::Error::msg)?,
        args.records,
    );
    driver::load(&client, &puts.shape, args.records, 32, 1, true).await?;
    let gets = Workload::new(
        shape.clone(),
        Mix::new(vec![(Op::Get, 1.0)]).map_err(anyhow::Error::msg)?,
        args.records,
    );

    // The floor answers every request with the bytes the store sends for a
    // GetItem of one loaded item, so both sides move the same payload.
    let sample = client
        .call("GetItem", shape.get_item(0))
        .await
        .map_err(|f| anyhow::anyhow!("GetItem: {} {}", f.kind, f.message))?;
    let floor_listener = TcpListener::bind("127.0.0.1:0").await?;
    let floor_url = format!("http://{}", floor_listener.local_addr()?);
    let (stop_floor, floor_stopped) = oneshot::channel::<()>();
    let floor = tokio::spawn(ferrodyn_bench::fixed::run(
        floor_listener,
        ferrodyn_bench::fixed::Fixed(sample.clone()),
        async {
            let _ = floor_stopped.await;
        },
    ));
    let floor_client = Client::new(&floor_url, 64)?;

    let phase = |connections: usize| PhaseSpec {
        connections,
        pacing: Pacing::Closed,
        duration,
        max_ops: None,
        seed: connections as u64,
    };
    let warm = PhaseSpec {
        duration: Duration::from_secs(1),
        ..phase(8)
    };
    driver::run_phase(&client, &gets, &warm).await;
    driver::run_phase(&floor_client, &gets, &warm).await;

    let mut put_rows = Vec::new();
    for c in [1, 8, 64] {
        let rec = driver::run_phase(&client, &puts, &phase(c)).await;
        eprintln!("PutItem x{c}: {:.0} ok/s", rec.throughput());
        put_rows.push(Row {
            label: format!("PutItem, {c} writer{}", if c == 1 { "" } else { "s" }),
            rec,
        });
    }
    let mut get_rows = Vec::new();
    for c in [1, 64] {
        let floor_rec = driver::run_phase(&floor_client, &gets, &phase(c)).await;
        let rec = driver::run_phase(&client, &gets, &phase(c)).await;
        eprintln!(
            "GetItem x{c}: {:.0} ok/s, floor {:.0} ok/s",
            rec.throughput(),
            floor_rec.throughput()
        );
        get_rows.push((c, rec, floor_rec));
    }
    let _ = stop_floor.send(());
    let _ = stop_store.send(());
    let _ = floor.await;
    let _ = server.await;
    let written = puts.items.load(Ordering::Relaxed);

    println!(
        "store-throughput: {} items of ~{} B (loaded: {written}), {:.1} s per phase, closed loop, HTTP/1.1 loopback, client and servers in one process\n",
        args.records,
        args.item_size,
        duration.as_secs_f64()
    );
    println!("| durable PutItem | req/s | p50 ms | p99 ms | errors | vs 1 writer |");
    println!("|---|---:|---:|---:|---:|---:|");
    let base = put_rows.first().map(|r| r.rec.throughput()).unwrap_or(0.0);
    for r in &put_rows {
        let s = summary_ms(&r.rec.all_latency());
        println!(
            "| {} | {:.0} | {:.3} | {:.3} | {} | {:.2}x |",
            r.label,
            r.rec.throughput(),
            s[0],
            s[2],
            r.rec.errors(),
            if base > 0.0 {
                r.rec.throughput() / base
            } else {
                f64::NAN
            }
        );
    }
    println!();
    println!("| GetItem over HTTP | req/s | p50 ms | p99 ms | errors | floor req/s | floor p50 ms | floor p99 ms | throughput vs floor | p50 vs floor |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (c, rec, floor_rec) in &get_rows {
        let (s, f) = (
            summary_ms(&rec.all_latency()),
            summary_ms(&floor_rec.all_latency()),
        );
        println!(
            "| {c} connection{} | {:.0} | {:.3} | {:.3} | {} | {:.0} | {:.3} | {:.3} | {:.2} | {:.2}x |",
            if *c == 1 { "" } else { "s" },
            rec.throughput(),
            s[0],
            s[2],
            rec.errors(),
            floor_rec.throughput(),
            f[0],
            f[2],
            rec.throughput() / floor_rec.throughput().max(f64::MIN_POSITIVE),
            s[0] / f[0].max(f64::MIN_POSITIVE),
        );
    }
    for (label, rec) in put_rows
        .iter()
        .map(|r| (r.label.as_str(), &r.rec))
        .chain(get_rows.iter().map(|(_, r, _)| ("GetItem", r)))
    {
        for s in rec.ops.values() {
            for (kind, n) in &s.errors {
                println!("error in {label}: {kind} x{n}");
            }
        }
    }
    Ok(())
}

//! `dax-case`: what `ferrodyn --upstream` buys in front of a remote
//! DynamoDB-API endpoint — the table users of the latency-benchmarking case
//! look at first.
//!
//! One process, on loopback: a store; a relay in front of it that holds
//! every response for `--delay-ms` (the network and service time of a
//! remote endpoint); and a proxy whose upstream is the relay. YCSB B (95 %
//! GetItem, 5 % UpdateItem) and C (GetItem only) with zipfian keys run
//! against the relay ("direct": what an application talking to the remote
//! endpoint sees) and against the proxy, in interleaved rounds. For each:
//! p50 / p99 / p99.9, throughput, and the proxy's item-cache hit ratio over
//! the measured phases (from its `/metrics`). Ratios are proxy / direct,
//! medians over rounds. Before measuring, every item is read once through
//! the proxy: its cache holds the working set, as a long-running
//! application's would (the 5 % updates of YCSB B write through it).
//!
//! Closed loop by default: each target runs as fast as its answers come
//! back, so the proxy also carries several times the load. `--rate` offers
//! both the same load instead (open loop, latency from each request's
//! intended send time), which is the comparison of latency alone.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use ferrodyn_bench::client::Client;
use ferrodyn_bench::driver::{self, Pacing, PhaseSpec, Workload};
use ferrodyn_bench::keys::Distribution;
use ferrodyn_bench::probe::metric;
use ferrodyn_bench::stats::{median, summary_ms};
use ferrodyn_bench::workload::{Op, Shape, Ycsb};
use ferrodyn_store::{server, Store, StoreConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

/// Compare an endpoint behind a network delay with `ferrodyn --upstream`
/// in front of it.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Time the relay holds each response, in milliseconds.
    #[arg(long, default_value_t = 1.0)]
    delay_ms: f64,
    /// Measured time per phase, in seconds.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Rounds (each measures both targets once per workload).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Items loaded.
    #[arg(long, default_value_t = 10_000)]
    records: u64,
    /// Item size in bytes (10 string fields).
    #[arg(long, default_value_t = 1000)]
    item_size: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 16)]
    connections: usize,
    /// Open loop: total requests per second, the same for both targets,
    /// with latency measured from each request's intended send time (as
    /// `ferrodyn-bench --rate`). Without it each connection sends its next
    /// request when the last one is answered (closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Zipfian skew.
    #[arg(long, default_value_t = 0.99)]
    zipf_theta: f64,
}

/// Wakes tasks at given instants to within tens of microseconds. Tokio's
/// timer ticks in milliseconds, and rounds a deadline up to the tick after
/// it: a 1 ms sleep takes 1 to 2.5 ms, too coarse to stand for a 1 ms
/// network delay.
#[derive(Clone)]
struct Clock(std::sync::mpsc::Sender<(Instant, oneshot::Sender<()>)>);

impl Clock {
    fn start() -> Clock {
        let (tx, rx) = std::sync::mpsc::channel::<(Instant, oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            let mut due: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
            let mut waiting: HashMap<u64, oneshot::Sender<()>> = HashMap::new();
            let mut next = 0u64;
            loop {
                let asked = match due.peek() {
                    None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
                    Some(Reverse((at, _))) => {
                        rx.recv_timeout(at.saturating_duration_since(Instant::now()))
                    }
                };
                match asked {
                    Ok((at, wake)) => {
                        due.push(Reverse((at, next)));
                        waiting.insert(next, wake);
                        next += 1;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
                let now = Instant::now();
                while let Some(Reverse((at, id))) = due.peek().copied() {
                    if at > now {
                        break;
                    }
                    due.pop();
                    if let Some(wake) = waiting.remove(&id) {
                        let _ = wake.send(());
                    }
                }
            }
        });
        Clock(tx)
    }

    async fn until(&self, at: Instant) {
        let (wake, woken) = oneshot::channel();
        if self.0.send((at, wake)).is_ok() {
            let _ = woken.await;
        }
    }
}

/// Relay one connection: requests go on at once, each response chunk is
/// held until `delay` after it arrived. Chunks are read as they come and
/// held side by side (a chunk that arrives while an earlier one is held is
/// not held again after it).
async fn relay(client: TcpStream, upstream: std::net::SocketAddr, delay: Duration, clock: Clock) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let requests = async move {
        let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
        let _ = server_write.shutdown().await;
    };
    let (held, mut due) = tokio::sync::mpsc::unbounded_channel();
    let arrivals = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if held
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .is_err()
            {
                break;
            }
        }
    };
    let responses = async move {
        while let Some((at, chunk)) = due.recv().await {
            clock.until(at).await;
            if client_write.write_all(&chunk).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(requests, arrivals, responses);
}

/// One target's results in one round.
struct Cell {
    p50: f64,
    p99: f64,
    p999: f64,
    rate: f64,
    errors: u64,
    /// UpdateItem alone: p50 and p99 in ms (0 without updates).
    update: [f64; 2],
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = std::env::temp_dir().join(format!("ferrodyn-dax-case-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(measure(&args, &dir));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn measure(args: &Args, dir: &std::path::Path) -> anyhow::Result<()> {
    let delay = Duration::from_secs_f64(args.delay_ms.max(0.0) / 1000.0);
    let duration = Duration::from_secs_f64(args.seconds.max(0.1));
    let store = Store::open(&StoreConfig::new(dir.join("store"))).context("cannot open store")?;
    let store_listener = TcpListener::bind("127.0.0.1:0").await?;
    let store_addr = store_listener.local_addr()?;
    let (stop_store, store_stopped) = oneshot::channel::<()>();
    let store_task = tokio::spawn(server::run(store_listener, store, async {
        let _ = store_stopped.await;
    }));

    let relay_listener = TcpListener::bind("127.0.0.1:0").await?;
    let relay_url = format!("http://{}", relay_listener.local_addr()?);
    let clock = Clock::start();
    let relay_task = tokio::spawn(async move {
        while let Ok((conn, _)) = relay_listener.accept().await {
            tokio::spawn(relay(conn, store_addr, delay, clock.clone()));
        }
    });

    let mut config = ferrodyn_proxy::Config::new(dir.join("unused"));
    config.upstream = Some(relay_url.clone());
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await?;
    let proxy_url = format!("http://{}", proxy_listener.local_addr()?);
    let admin_listener = TcpListener::bind("127.0.0.1:0").await?;
    let admin = format!("http://{}/metrics", admin_listener.local_addr()?);
    let (stop_proxy, proxy_stopped) = oneshot::channel::<()>();
    let proxy_task = tokio::spawn(ferrodyn_proxy::run(
        proxy_listener,
        Some(admin_listener),
        config,
        async {
            let _ = proxy_stopped.await;
        },
    ));

    let shape = Shape {
        table: "daxcase".into(),
        per_partition: 1,
        fields: 10,
        field_bytes: (args.item_size / 10).max(1),
        consistent_read: false,
        max_scan_length: 1,
        distribution: Distribution::Zipfian {
            theta: args.zipf_theta,
        },
    };
    let direct = Client::new(&relay_url, args.connections.max(64))?;
    let proxy = Client::new(&proxy_url, args.connections.max(64))?;
    driver::ensure_table(&direct, &shape).await?;
    let puts = Workload::new(
        shape.clone(),
        ferrodyn_bench::workload::Mix::new(vec![(Op::Put, 1.0)]).map_err(anyhow::Error::msg)?,
        args.records,
    );
    driver::load(&direct, &puts.shape, args.records, 64, 1, false).await?;
    let (pacing, loop_kind) = match args.rate {
        None => (Pacing::Closed, "closed loop".to_owned()),
        Some(rate) if rate > 0.0 && rate.is_finite() => (
            Pacing::Open { rate },
            format!("open loop at {rate} req/s (latency from intended send time)"),
        ),
        Some(rate) => anyhow::bail!("--rate must be positive, got {rate}"),
    };
    println!(
        "dax-case: {} records of ~{} B, zipfian θ={}, {} connections, {loop_kind}, {} rounds x {:.0} s; the relay holds each response {} ms (load average {})\n",
        args.records,
        args.item_size,
        args.zipf_theta,
        args.connections,
        args.rounds,
        duration.as_secs_f64(),
        args.delay_ms,
        std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|l| l.split_whitespace().next().map(str::to_owned))
            .unwrap_or_else(|| "unknown".into()),
    );
    // Warm-up: a long-running application's cache holds its working set,
    // so every item is read once through the proxy before measuring.
    driver::read_each(&proxy, &shape, args.records, args.connections.max(16)).await?;
    println!("| workload | target | p50 ms | p99 ms | p99.9 ms | ops/s | errors | item-cache hit ratio |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    let mut updates = Vec::new();
    for letter in [Ycsb::B, Ycsb::C] {
        let (mix, _) = letter.defaults();
        let workload = Workload::new(shape.clone(), mix, args.records);
        let phase = |seed: u64, d: Duration| PhaseSpec {
            connections: args.connections,
            pacing,
            duration: d,
            max_ops: None,
            seed,
        };
        let mut cells: [Vec<Cell>; 2] = [Vec::new(), Vec::new()];
        let (mut hits, mut misses) = (0.0, 0.0);
        for round in 0..args.rounds {
            for (i, client) in [&direct, &proxy].into_iter().enumerate() {
                let counted = i == 1;
                let (h0, m0) = if counted {
                    (
                        metric(&admin, "proxy_item_cache_hits_total").await?,
                        metric(&admin, "proxy_item_cache_misses_total").await?,
                    )
                } else {
                    (0.0, 0.0)
                };
                let rec =
                    driver::run_phase(client, &workload, &phase(round as u64, duration)).await;
                if counted {
                    hits += metric(&admin, "proxy_item_cache_hits_total").await? - h0;
                    misses += metric(&admin, "proxy_item_cache_misses_total").await? - m0;
                }
                let s = summary_ms(&rec.all_latency());
                cells[i].push(Cell {
                    p50: s[0],
                    p99: s[2],
                    p999: s[3],
                    rate: rec.throughput(),
                    errors: rec.errors(),
                    update: rec.ops.get(&Op::Update).map_or([0.0; 2], |u| {
                        let s = summary_ms(&u.latency);
                        [s[0], s[2]]
                    }),
                });
            }
        }
        let column = |i: usize, f: fn(&Cell) -> f64| median(cells[i].iter().map(f).collect());
        for (i, name) in ["direct (behind the relay)", "through ferrodyn"]
            .iter()
            .enumerate()
        {
            let errors: u64 = cells[i].iter().map(|c| c.errors).sum();
            let ratio = if i == 1 {
                format!("{:.1} %", 100.0 * hits / (hits + misses).max(1.0))
            } else {
                "—".into()
            };
            println!(
                "| YCSB {letter:?} | {name} | {:.3} | {:.3} | {:.3} | {:.0} | {errors} | {ratio} |",
                column(i, |c| c.p50),
                column(i, |c| c.p99),
                column(i, |c| c.p999),
                column(i, |c| c.rate),
            );
        }
        if column(0, |c| c.update[0]) > 0.0 {
            updates.push((
                letter,
                [column(0, |c| c.update[0]), column(0, |c| c.update[1])],
                [column(1, |c| c.update[0]), column(1, |c| c.update[1])],
            ));
        }
        ratios.push((
            letter,
            column(0, |c| c.p50) / column(1, |c| c.p50).max(f64::MIN_POSITIVE),
            column(0, |c| c.p99) / column(1, |c| c.p99).max(f64::MIN_POSITIVE),
            column(1, |c| c.rate) / column(0, |c| c.rate).max(f64::MIN_POSITIVE),
        ));
    }
    println!();
    for (letter, p50, p99, rate) in ratios {
        println!(
            "YCSB {letter:?}: through ferrodyn, p50 {p50:.1}x lower, p99 {p99:.1}x lower, throughput {rate:.1}x higher than direct"
        );
    }
    // The updates write through to the endpoint either way: they set
    // YCSB B's tail.
    for (letter, direct, proxied) in updates {
        println!(
            "YCSB {letter:?} UpdateItem alone: direct p50 {:.3} ms, p99 {:.3} ms; through ferrodyn p50 {:.3} ms, p99 {:.3} ms",
            direct[0], direct[1], proxied[0], proxied[1]
        );
    }
    let _ = stop_proxy.send(());
    let _ = stop_store.send(());
    let _ = proxy_task.await;
    relay_task.abort();
    let _ = store_task.await;
    Ok(())
}

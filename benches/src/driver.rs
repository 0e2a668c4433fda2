//! Driving one endpoint: table setup, the load phase, and timed phases in
//! closed-loop or open-loop (fixed-rate) mode.
//!
//! * **Closed loop**: `connections` workers, each with one request in
//!   flight; the server's speed sets the rate. Latency is send → response.
//! * **Open loop**: the same workers share a fixed total rate; worker `w` of
//!   `N` intends to send its `i`-th request at `start + (w + i·N) / rate`. If
//!   the previous response is late, the next request goes out at once and its
//!   latency still runs from its intended time. This charges a stall to every
//!   request it delayed (coordinated-omission correction, as wrk2); the
//!   uncorrected service time is recorded alongside.
//!
//! A connection that is idle when its send time comes waits on a timer
//! (about 1 ms resolution in tokio); that wake-up jitter is the generator's,
//! so such a request's latency runs from its actual send. Only a connection
//! that is *behind* — its previous response arrived after the next send
//! time — charges the wait to the server.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{Client, Failure};
use crate::keys::KeyChooser;
use crate::rng::Rng;
use crate::stats::Recorder;
use crate::workload::{Mix, Op, Shape};

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pacing {
    Closed,
    /// Total requests per second over all connections.
    Open {
        rate: f64,
    },
}

/// One timed phase.
#[derive(Debug, Clone)]
pub struct PhaseSpec {
    pub connections: usize,
    pub pacing: Pacing,
    pub duration: Duration,
    /// Stop after this many operations in total (closed loop).
    pub max_ops: Option<u64>,
    pub seed: u64,
}

/// The workload as the workers see it.
#[derive(Debug, Clone)]
pub struct Workload {
    pub shape: Arc<Shape>,
    pub mix: Mix,
    pub chooser: KeyChooser,
    /// Items that exist: the loaded ones plus inserts so far.
    pub items: Arc<AtomicU64>,
}

impl Workload {
    pub fn new(shape: Shape, mix: Mix, records: u64) -> Workload {
        let chooser = KeyChooser::new(shape.distribution, records);
        Workload {
            shape: Arc::new(shape),
            mix,
            chooser,
            items: Arc::new(AtomicU64::new(records)),
        }
    }
}

/// Run one phase against `client` and return what it recorded.
pub async fn run_phase(client: &Client, workload: &Workload, spec: &PhaseSpec) -> Recorder {
    let connections = spec.connections.max(1);
    let issued = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for w in 0..connections {
        let client = client.clone();
        let workload = workload.clone();
        let spec = spec.clone();
        let issued = issued.clone();
        tasks.push(tokio::spawn(async move {
            worker(w, connections, &client, &workload, &spec, &issued, start).await
        }));
    }
    let mut total = Recorder::default();
    for t in tasks {
        if let Ok(r) = t.await {
            total.merge_concurrent(&r);
        }
    }
    total.elapsed = start.elapsed();
    total
}

async fn worker(
    w: usize,
    n: usize,
    client: &Client,
    workload: &Workload,
    spec: &PhaseSpec,
    issued: &AtomicU64,
    start: Instant,
) -> Recorder {
    let mut rng = Rng::new(spec.seed ^ ((w as u64 + 1) << 32));
    let mut rec = Recorder::default();
    let end = start + spec.duration;
    let mut i: u64 = 0;
    loop {
        if let Some(max) = spec.max_ops {
            if issued.fetch_add(1, Ordering::Relaxed) >= max {
                break;
            }
        }
        // `behind`: the intended send time passed while this connection
        // was still waiting for its previous response.
        let (intended, behind) = match spec.pacing {
            Pacing::Closed => {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                (now, false)
            }
            Pacing::Open { rate } => {
                let offset = (w as f64 + i as f64 * n as f64) / rate;
                let at = start + Duration::from_secs_f64(offset);
                if at >= end {
                    break;
                }
                let behind = Instant::now() > at;
                if !behind {
                    tokio::time::sleep_until(at.into()).await;
                }
                (at, behind)
            }
        };
        i += 1;
        let op = workload.mix.pick(&mut rng);
        let sent = Instant::now();
        // A late send is charged to the server only if the server made it
        // late; a timer waking after `intended` on an idle connection is
        // the generator's own jitter and is not.
        let from = if behind { intended } else { sent };
        match execute(client, workload, op, &mut rng).await {
            Ok(()) => {
                let done = Instant::now();
                rec.success(op, done - from, done - sent);
            }
            Err(f) => rec.failure(op, &f.kind),
        }
    }
    rec.elapsed = start.elapsed();
    rec
}

/// Issue one workload operation (two requests for read-modify-write).
pub async fn execute(
    client: &Client,
    workload: &Workload,
    op: Op,
    rng: &mut Rng,
) -> Result<(), Failure> {
    let shape = &workload.shape;
    let existing = || workload.items.load(Ordering::Relaxed);
    match op {
        Op::Get => {
            let item = workload.chooser.next(rng, existing());
            client.call("GetItem", shape.get_item(item)).await?;
        }
        Op::Put => {
            let item = workload.chooser.next(rng, existing());
            client.call("PutItem", shape.put_item(item, rng)).await?;
        }
        Op::Insert => {
            let item = workload.items.fetch_add(1, Ordering::Relaxed);
            client.call("PutItem", shape.put_item(item, rng)).await?;
        }
        Op::Update => {
            let item = workload.chooser.next(rng, existing());
            client
                .call("UpdateItem", shape.update_item(item, rng))
                .await?;
        }
        Op::Query => {
            let item = workload.chooser.next(rng, existing());
            client.call("Query", shape.query(item, rng)).await?;
        }
        Op::Scan => {
            client.call("Scan", shape.scan(rng)).await?;
        }
        Op::ReadModifyWrite => {
            let item = workload.chooser.next(rng, existing());
            client.call("GetItem", shape.get_item(item)).await?;
            client
                .call("UpdateItem", shape.update_item(item, rng))
                .await?;
        }
    }
    Ok(())
}

/// Create the table unless it exists, and wait until it is `ACTIVE`.
pub async fn ensure_table(client: &Client, shape: &Shape) -> anyhow::Result<()> {
    match client.call("CreateTable", shape.create_table()).await {
        Ok(_) => {}
        Err(f) if f.kind == "ResourceInUseException" => {}
        Err(f) => anyhow::bail!(
            "{}: CreateTable {}: {} {}",
            client.url(),
            shape.table,
            f.kind,
            f.message
        ),
    }
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let body = client
            .call("DescribeTable", shape.describe_table())
            .await
            .map_err(|f| {
                anyhow::anyhow!("{}: DescribeTable: {} {}", client.url(), f.kind, f.message)
            })?;
        let status = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["Table"]["TableStatus"].as_str().map(str::to_owned));
        if status.as_deref() == Some("ACTIVE") {
            return Ok(());
        }
        if Instant::now() > deadline {
            anyhow::bail!(
                "{}: table {} not ACTIVE after 5 minutes",
                client.url(),
                shape.table
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Write items `0..records` with `connections` concurrent writers, drawing a
/// progress line on stderr. Fails on the first error: a half-loaded table
/// would make every later number meaningless.
pub async fn load(
    client: &Client,
    shape: &Arc<Shape>,
    records: u64,
    connections: usize,
    seed: u64,
    progress: bool,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..connections.max(1) {
        let (client, shape, next, done) =
            (client.clone(), shape.clone(), next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(seed ^ 0x10AD ^ ((w as u64) << 40));
            loop {
                let item = next.fetch_add(1, Ordering::Relaxed);
                if item >= records {
                    return Ok::<(), Failure>(());
                }
                client
                    .call("PutItem", shape.put_item(item, &mut rng))
                    .await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let all = futures_join(tasks);
    tokio::pin!(all);
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let result = loop {
        tokio::select! {
            r = &mut all => break r,
            _ = tick.tick() => if progress {
                print_progress(client, done.load(Ordering::Relaxed), records, start);
            }
        }
    };
    if progress {
        print_progress(client, done.load(Ordering::Relaxed), records, start);
        eprintln!();
    }
    result.map_err(|f| {
        anyhow::anyhow!(
            "{}: load failed: PutItem: {} {}",
            client.url(),
            f.kind,
            f.message
        )
    })
}

fn print_progress(client: &Client, done: u64, total: u64, start: Instant) {
    let pct = if total > 0 {
        100.0 * done as f64 / total as f64
    } else {
        100.0
    };
    let rate = crate::stats::per_second(done, start.elapsed());
    eprint!(
        "\rload {}: {done}/{total} items ({pct:.0}%), {rate:.0} items/s   ",
        client.url()
    );
    let _ = std::io::stderr().flush();
}

async fn futures_join(
    tasks: Vec<tokio::task::JoinHandle<Result<(), Failure>>>,
) -> Result<(), Failure> {
    let mut result = Ok(());
    for t in tasks {
        let r = t.await.unwrap_or_else(|e| {
            Err(Failure {
                kind: "WorkerPanicked".into(),
                message: e.to_string(),
            })
        });
        if result.is_ok() {
            result = r;
        }
    }
    result
}

/// GetItem on every item `0..keys` of `shape` through `client`,
/// `connections` at a time (a cache in front then holds them all).
pub async fn read_each(
    client: &Client,
    shape: &Shape,
    keys: u64,
    connections: usize,
) -> anyhow::Result<()> {
    let shape = Arc::new(shape.clone());
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections.max(1) {
        let (client, shape, next) = (client.clone(), shape.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= keys {
                    return Ok::<(), anyhow::Error>(());
                }
                client
                    .call("GetItem", shape.get_item(k))
                    .await
                    .map_err(|f| anyhow::anyhow!("GetItem: {} {}", f.kind, f.message))?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

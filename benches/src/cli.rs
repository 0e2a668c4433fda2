//! `ferrodyn-bench`'s command line and the run it describes: set up each
//! target, then measure in rounds, interleaving targets, then report.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::client::Client;
use crate::driver::{self, Pacing, PhaseSpec, Workload};
use crate::keys::{Distribution, DistributionKind};
use crate::report::{self, TargetResult};
use crate::workload::{Mix, Shape, Ycsb};
use ferrodyn_store::auth::sigv4::{self, Signer};

/// Load generator for DynamoDB-API endpoints (Ferrodyn's store and proxy,
/// DynamoDB Local, ScyllaDB Alternator, ...).
///
/// It measures, per operation: successful operations per second and the
/// latency distribution (HdrHistogram: p50, p90, p99, p99.9, p99.99, max),
/// with failed requests counted by their DynamoDB `__type` and never as
/// successes. In closed-loop mode (default) each of --connections keeps one
/// request in flight, so it measures the endpoint's capacity and its latency
/// at that concurrency. With --rate it runs open-loop at a fixed total rate
/// and measures latency from each request's intended send time, correcting
/// for coordinated omission as wrk2 does (the uncorrected service time is
/// reported as well).
///
/// Workloads are YCSB's A–F (read=GetItem, update=UpdateItem, insert=new
/// PutItem, scan=Query within one partition, read-modify-write=GetItem then
/// UpdateItem), or a custom --mix. Before measuring it creates the table
/// (pk S, sk N; on-demand) and loads --records items with a progress line.
///
/// With several --target flags it compares them: rounds interleave the
/// targets (order rotating), each round prints the ratio of every target to
/// the first (throughput, p50, p99; overall and per operation) and the
/// median over rounds.
///
/// With --sigv4 requests are signed (AWS Signature Version 4) with the
/// credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
/// AWS_SESSION_TOKEN; with an https:// target (TLS trusting the system's
/// root certificates, or --ca-file) this drives DynamoDB itself.
#[derive(Parser, Debug, Clone)]
#[command(name = "ferrodyn-bench", version, verbatim_doc_comment)]
pub struct Args {
    /// Endpoint URL, e.g. http://127.0.0.1:8001. Repeat to compare endpoints.
    #[arg(long = "target", required = true)]
    pub targets: Vec<String>,
    /// YCSB core workload: a (50% read, 50% update), b (95/5), c (read only),
    /// d (95% read latest, 5% insert), e (95% short Query, 5% insert),
    /// f (50% read, 50% read-modify-write).
    #[arg(long, default_value = "a")]
    pub workload: Ycsb,
    /// Custom operation mix replacing the workload's, e.g.
    /// get=80,update=10,put=5,insert=3,query=2 (also scan, rmw).
    #[arg(long)]
    pub mix: Option<Mix>,
    /// Key distribution: uniform, zipfian, latest, hotspot
    /// (default: the workload's).
    #[arg(long)]
    pub distribution: Option<DistributionKind>,
    /// Zipfian skew θ (zipfian and latest).
    #[arg(long, default_value_t = 0.99)]
    pub zipf_theta: f64,
    /// Hotspot: fraction of the items that are hot.
    #[arg(long, default_value_t = 0.2)]
    pub hot_set: f64,
    /// Hotspot: fraction of operations that go to the hot items.
    #[arg(long, default_value_t = 0.8)]
    pub hot_ops: f64,
    /// Items loaded before measuring.
    #[arg(long, default_value_t = 10_000)]
    pub records: u64,
    /// Items per partition key (Query ranges stay within one partition).
    #[arg(long, default_value_t = 100)]
    pub items_per_partition: u64,
    /// Approximate item size in bytes (split over --fields string fields).
    #[arg(long, default_value_t = 1000)]
    pub item_size: usize,
    /// Non-key string attributes per item.
    #[arg(long, default_value_t = 10)]
    pub fields: usize,
    /// Longest Query/Scan (Limit drawn uniformly from 1 to this).
    #[arg(long, default_value_t = 100)]
    pub max_scan_length: u64,
    /// Send ConsistentRead=true on reads.
    #[arg(long)]
    pub consistent_read: bool,
    /// Concurrent connections (closed loop: requests in flight).
    #[arg(long, default_value_t = 16)]
    pub connections: usize,
    /// Open loop: total requests per second (coordinated-omission corrected).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Measured time per target per round, e.g. 10s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Unmeasured warm-up time per target before the first round.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,
    /// Rounds (default 1 for one target, 5 when comparing).
    #[arg(long)]
    pub rounds: Option<u32>,
    /// Per-request timeout; a request that takes longer counts as a
    /// `Timeout` error.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Stop each phase after this many operations.
    #[arg(long)]
    pub ops: Option<u64>,
    /// Table name.
    #[arg(long, default_value = "ferrodyn-bench")]
    pub table: String,
    /// Use the table as it is: no CreateTable, no load phase.
    #[arg(long)]
    pub skip_load: bool,
    /// Connections used by the load phase.
    #[arg(long, default_value_t = 32)]
    pub load_connections: usize,
    /// Sign requests with SigV4, using AWS_ACCESS_KEY_ID,
    /// AWS_SECRET_ACCESS_KEY and (if set) AWS_SESSION_TOKEN.
    #[arg(long)]
    pub sigv4: bool,
    /// Signing region (default: from a dynamodb.REGION.amazonaws.com
    /// host, else us-east-1).
    #[arg(long, env = "AWS_REGION")]
    pub region: Option<String>,
    /// PEM file of the certificates https targets are trusted by (default:
    /// the system's root certificates).
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
    /// Seed for every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the results as JSON to this file ("-" for stdout).
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write one CSV row per target and operation to this file.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Write the latency percentile spectrum plot (.svg, or .html).
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// No progress line on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// `10s`, `250ms`, `2m`, or plain seconds (`1.5`).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (e.g. 10s, 500ms, 2m)"))?;
    if !(v >= 0.0 && v.is_finite()) {
        return Err(format!("{s:?} is not a non-negative duration"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

impl Args {
    pub fn distribution(&self) -> Result<Distribution, String> {
        let kind = self
            .distribution
            .unwrap_or_else(|| self.workload.defaults().1);
        let d = match kind {
            DistributionKind::Uniform => Distribution::Uniform,
            DistributionKind::Zipfian => Distribution::Zipfian {
                theta: self.zipf_theta,
            },
            DistributionKind::Latest => Distribution::Latest {
                theta: self.zipf_theta,
            },
            DistributionKind::Hotspot => Distribution::Hotspot {
                hot_set: self.hot_set,
                hot_ops: self.hot_ops,
            },
        };
        d.validate()?;
        Ok(d)
    }

    pub fn shape(&self) -> Result<Shape, String> {
        let fields = self.fields.max(1);
        Ok(Shape {
            table: self.table.clone(),
            per_partition: self.items_per_partition.max(1),
            fields,
            field_bytes: (self.item_size / fields).max(1),
            consistent_read: self.consistent_read,
            max_scan_length: self.max_scan_length.max(1),
            distribution: self.distribution()?,
        })
    }

    pub fn mix(&self) -> Mix {
        self.mix
            .clone()
            .unwrap_or_else(|| self.workload.defaults().0)
    }

    pub fn pacing(&self) -> Result<Pacing, String> {
        match self.rate {
            None => Ok(Pacing::Closed),
            Some(r) if r > 0.0 && r.is_finite() => Ok(Pacing::Open { rate: r }),
            Some(r) => Err(format!("--rate must be positive, got {r}")),
        }
    }

    pub fn description(&self) -> String {
        let mode = match self.rate {
            None => format!("closed loop, {} connections", self.connections),
            Some(r) => format!(
                "open loop at {r} req/s over {} connections (latency from intended send time)",
                self.connections
            ),
        };
        let dist = self
            .distribution()
            .map(|d| d.to_string())
            .unwrap_or_default();
        format!(
            "ferrodyn-bench: {mode}; mix {}; keys {dist} over {} items of ~{} B; {:.1} s per round{}",
            self.mix(),
            self.records,
            self.item_size,
            self.duration.as_secs_f64(),
            if self.consistent_read { "; consistent reads" } else { "" }
        )
    }
}

/// Run the benchmark the arguments describe and return the results per
/// target (in `--target` order).
pub async fn run(args: &Args) -> anyhow::Result<Vec<TargetResult>> {
    let shape = args.shape().map_err(anyhow::Error::msg)?;
    let pacing = args.pacing().map_err(anyhow::Error::msg)?;
    let mix = args.mix();
    let pool = args.connections.max(args.load_connections);
    let mut clients = Vec::new();
    for url in &args.targets {
        let mut client =
            Client::with_roots(url, pool, args.ca_file.as_deref())?.with_timeout(args.timeout);
        if args.sigv4 {
            client = client.with_signer(Arc::new(signer(args, url)?));
        }
        clients.push(client);
    }
    let mut workloads = Vec::new();
    for client in &clients {
        let workload = Workload::new(shape.clone(), mix.clone(), args.records);
        if !args.skip_load {
            driver::ensure_table(client, &shape).await?;
            driver::load(
                client,
                &workload.shape,
                args.records,
                args.load_connections,
                args.seed,
                !args.quiet,
            )
            .await?;
        }
        workloads.push(workload);
    }
    let spec = |seed: u64, duration: Duration| PhaseSpec {
        connections: args.connections.max(1),
        pacing,
        duration,
        max_ops: args.ops,
        seed,
    };
    if !args.warmup.is_zero() {
        for (client, workload) in clients.iter().zip(&workloads) {
            driver::run_phase(client, workload, &spec(args.seed ^ 0xAA, args.warmup)).await;
        }
    }
    let rounds = args
        .rounds
        .unwrap_or(if args.targets.len() > 1 { 5 } else { 1 })
        .max(1);
    let mut results: Vec<TargetResult> = args
        .targets
        .iter()
        .map(|url| TargetResult {
            url: url.clone(),
            rounds: Vec::new(),
        })
        .collect();
    let n = clients.len();
    for round in 0..rounds {
        // Rotate who goes first so drift (thermal, caches, other load) does
        // not always favour the same target.
        for k in 0..n {
            let i = (k + round as usize) % n;
            let rec = driver::run_phase(
                &clients[i],
                &workloads[i],
                &spec(args.seed.wrapping_add(round as u64), args.duration),
            )
            .await;
            if !args.quiet && rounds > 1 {
                eprintln!(
                    "round {}/{rounds} target {} ({}): {:.0} ok/s, {} errors",
                    round + 1,
                    i + 1,
                    args.targets[i],
                    rec.throughput(),
                    rec.errors()
                );
            }
            results[i].rounds.push(rec);
        }
    }
    Ok(results)
}

/// A SigV4 signer from the environment's credentials for `url`.
fn signer(args: &Args, url: &str) -> anyhow::Result<Signer> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(access), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY"))
    else {
        anyhow::bail!(
            "--sigv4 needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment"
        );
    };
    let region = args.region.clone().unwrap_or_else(|| region_of(url));
    Ok(Signer::new(
        access,
        secret,
        var("AWS_SESSION_TOKEN"),
        region,
    ))
}

/// The region in a `dynamodb.<region>.amazonaws.com` URL, else us-east-1.
pub fn region_of(url: &str) -> String {
    url.parse::<http::Uri>()
        .ok()
        .and_then(|u| sigv4::aws_region_of_host(u.host()?))
        .unwrap_or_else(|| "us-east-1".to_owned())
}

/// Print the text report and write the requested files.
pub fn write_reports(args: &Args, results: &[TargetResult]) -> anyhow::Result<()> {
    let description = args.description();
    let corrected = args.rate.is_some();
    if args.json.as_deref() != Some(std::path::Path::new("-")) {
        print!("{}", report::text(&description, results, corrected));
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report::json(&description, results))?;
        if path.as_os_str() == "-" {
            println!("{text}");
        } else {
            write_file(path, &text)?;
        }
    }
    if let Some(path) = &args.csv {
        write_file(path, &report::csv(results))?;
    }
    if let Some(path) = &args.plot {
        let html = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"));
        let doc = if html {
            crate::plot::html(&description, results)
        } else {
            crate::plot::svg(&description, results)
        };
        write_file(path, &doc)?;
    }
    Ok(())
}

fn write_file(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_comes_from_the_dynamodb_host() {
        assert_eq!(
            region_of("https://dynamodb.eu-west-3.amazonaws.com"),
            "eu-west-3"
        );
        assert_eq!(region_of("http://127.0.0.1:8001"), "us-east-1");
    }

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
    }
}

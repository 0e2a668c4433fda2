//! `capacity-cost`: what throughput accounting adds to one request — the
//! admission decision and the charge of a GetItem (`Capacity::admit` then
//! `Capacity::charge`) — in nanoseconds, with `--capacity enforce` and
//! `off`, on a provisioned table with two GSIs, from one thread and from
//! several at once on the same table (the buckets' mutexes contend).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use ferrodyn_store::capacity::{Access, Capacity, CapacityConfig, Enforcement};
use ferrodyn_store::clock::SystemClock;
use ferrodyn_store::model::table::TableMeta;

#[derive(Parser, Debug)]
#[command(about = "Cost of throughput accounting per request")]
struct Args {
    /// Requests per thread.
    #[arg(long, default_value_t = 2_000_000)]
    requests: u64,
    /// Threads for the contended run.
    #[arg(long, default_value_t = 4)]
    threads: usize,
}

/// A provisioned table whose buckets never run dry during the run.
const TABLE: &str = r#"{"format":1,"id":7,"name":"bench","uuid":"u",
    "key":{"partition":{"name":"p","scalar":"S"},"sort":null},
    "attribute_definitions":[["p","S"],["g","S"]],
    "billing":{"Provisioned":{"read":1000000000,"write":1000000000}},
    "local_indexes":[],
    "global_indexes":[
      {"name":"g1","id":8,"key":{"partition":{"name":"g","scalar":"S"},"sort":null},
       "projection":{"projection_type":"ALL","non_key_attributes":[]},"provisioned":[1000000000,1000000000]},
      {"name":"g2","id":9,"key":{"partition":{"name":"g","scalar":"S"},"sort":null},
       "projection":{"projection_type":"ALL","non_key_attributes":[]},"provisioned":[1000000000,1000000000]}],
    "stream":null,"tags":[],"sse":null,"table_class":null,"deletion_protection":false,
    "created_ms":1,"billing_changed_ms":1}"#;

/// Nanoseconds per admit + charge, each of `threads` threads doing
/// `requests` of them.
fn run(capacity: &Arc<Capacity>, table: &Arc<TableMeta>, threads: usize, requests: u64) -> f64 {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..requests {
                    if capacity.admit(table, None, Access::Read, None).is_ok() {
                        capacity.charge(table, None, Access::Read, 0.5, None);
                    }
                }
            });
        }
    });
    start.elapsed().as_nanos() as f64 / requests as f64
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let table: Arc<TableMeta> = Arc::new(serde_json::from_str(TABLE).context("table")?);
    for enforcement in [Enforcement::Off, Enforcement::Enforce] {
        let capacity = Arc::new(Capacity::new(
            CapacityConfig {
                enforcement,
                partition_limits: false,
            },
            Arc::new(SystemClock),
        ));
        // Warm up: the first call builds the table's buckets.
        run(&capacity, &table, 1, args.requests / 10);
        let one = run(&capacity, &table, 1, args.requests);
        let many = run(&capacity, &table, args.threads, args.requests);
        println!(
            "--capacity {enforcement:?}: {one:.1} ns per request on 1 thread; {many:.1} ns of wall time per request on each of {} threads",
            args.threads
        );
    }
    Ok(())
}

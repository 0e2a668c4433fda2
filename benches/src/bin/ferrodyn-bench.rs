//! `ferrodyn-bench`: drive a DynamoDB-API endpoint with a workload and
//! report throughput, latency percentiles, errors and a plot.

use clap::Parser;
use ferrodyn_bench::cli::{self, Args};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let results = cli::run(&args).await?;
    cli::write_reports(&args, &results)?;
    Ok(())
}

//! `ferrodyn-store`: the persistent DynamoDB-API server, without a cache.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ferrodyn_store::data_dir::{DataDir, DataDirArgs};
use ferrodyn_store::ready::{self, ReadyArgs, ReadyFile};
use ferrodyn_store::{logging, server, shutdown, Store, StoreConfig};

/// Ferrodyn store: a persistent DynamoDB-compatible server (DynamoDB JSON 1.0
/// API over HTTP) with its data in an embedded LMDB database.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FERRODYN_STORE_LISTEN", default_value = "127.0.0.1:8001")]
    listen: String,
    #[command(flatten)]
    data: DataDirArgs,
    /// Milliseconds between TTL sweeper rounds (each round examines up to
    /// 1000 items per table with TTL enabled).
    #[arg(long, env = "FERRODYN_TTL_SWEEP_INTERVAL_MS", default_value_t = 60_000)]
    ttl_sweep_interval_ms: u64,
    /// Hours change records are kept for the Streams API.
    #[arg(long, env = "FERRODYN_STREAM_RETENTION_HOURS", default_value_t = 24)]
    stream_retention_hours: u64,
    /// Directory of on-demand backups (default: `backups` inside the data
    /// directory).
    #[arg(long, env = "FERRODYN_BACKUP_DIR")]
    backup_dir: Option<std::path::PathBuf>,
    /// Require SigV4-signed requests, as DynamoDB does: a comma-separated
    /// list of ACCESS_KEY_ID:SECRET_ACCESS_KEY pairs whose signatures are
    /// accepted (prefer the environment variable: a command line is visible
    /// to other users). Without it, requests are not authenticated.
    #[arg(long, env = "FERRODYN_CREDENTIALS", hide_env_values = true)]
    credentials: Option<String>,
    #[command(flatten)]
    serve: server::ServeArgs,
    #[command(flatten)]
    ready: ReadyArgs,
    #[command(flatten)]
    log: logging::LogArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    logging::init(args.log.log_format)?;
    let stop = shutdown::signal();
    let ready_file = ReadyFile::prepare(&args.ready)?;
    let auth = args
        .credentials
        .as_deref()
        .map(ferrodyn_store::auth::verify::Verifier::parse)
        .transpose()
        .context("--credentials")?;
    // Certificate and key are read before anything is opened or bound.
    let options = args.serve.options(auth)?;
    let tls = options.tls.clone();
    let data = DataDir::from_args(&args.data)?;
    let mut config = StoreConfig::new(data.path());
    config.maintenance.ttl_interval = Duration::from_millis(args.ttl_sweep_interval_ms.max(1));
    config.maintenance.retention = Duration::from_secs(args.stream_retention_hours * 3600);
    config.backup_dir = args.backup_dir.clone();
    let store = Store::open(&config)
        .with_context(|| format!("cannot open data directory {}", data.path().display()))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        data_dir = %data.path().display(),
        in_memory = data.is_in_memory(),
        authentication = options.auth.is_some(),
        tls = tls.is_some(),
        "ferrodyn-store ready"
    );
    let serving = server::serve(listener, store, options, stop);
    ready::serve_and_announce(addr, tls.as_ref(), &ready_file, serving).await?;
    // Removes an in-memory directory (also dropped on every early return).
    drop(data);
    tracing::info!("ferrodyn-store stopped");
    Ok(())
}

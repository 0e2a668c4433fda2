//! `ferrodyn-store`: the persistent DynamoDB-API server, without a cache.

#[global_allocator]
static ALLOCATOR: ferrodyn_store::alloc::Allocator = ferrodyn_store::alloc::Allocator;

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
    /// Address of the admin endpoint (`/metrics`, `/healthz`, `/readyz`,
    /// `/insights`); none unless given.
    #[arg(long, env = "FERRODYN_STORE_ADMIN_LISTEN")]
    admin_listen: Option<String>,
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
    transfer: ferrodyn_store::transfer::TransferArgs,
    #[command(flatten)]
    serve: server::ServeArgs,
    #[command(flatten)]
    capacity: ferrodyn_store::capacity::CapacityArgs,
    #[command(flatten)]
    ready: ReadyArgs,
    #[command(flatten)]
    log: logging::LogArgs,
    /// Without a command: serve. With one: do that work (backups and
    /// restores on a data directory no server has open; exports and imports)
    /// and exit.
    #[command(subcommand)]
    command: Option<Command>,
}

/// The work `ferrodyn-store` can do instead of serving.
#[derive(clap::Subcommand, Debug)]
enum Command {
    #[command(flatten)]
    Backup(ferrodyn_store::backup::cli::AdminCommand),
    #[command(flatten)]
    Transfer(ferrodyn_store::transfer::cli::Command),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Command::Transfer(command)) = args.command {
        return command.run().await;
    }
    logging::init(args.log.log_format)?;
    if let Some(Command::Backup(command)) = args.command {
        return ferrodyn_store::backup::cli::run(command).await;
    }
    let stop = shutdown::signal();
    let ready_file = ReadyFile::prepare(&args.ready)?;
    let auth = args
        .credentials
        .as_deref()
        .map(ferrodyn_store::auth::verify::Verifier::parse)
        .transpose()
        .context("--credentials")?;
    // Certificate and key are read before anything is opened or bound.
    let options = args.serve.options(auth.clone())?;
    let tls = options.tls.clone();
    let data = DataDir::from_args(&args.data)?;
    let mut config = StoreConfig::new(data.path());
    config.maintenance.ttl_interval = Duration::from_millis(args.ttl_sweep_interval_ms.max(1));
    config.maintenance.retention = Duration::from_secs(args.stream_retention_hours * 3600);
    config.transfer = args.transfer.config();
    config.backup_dir = args.backup_dir.clone();
    config.capacity = args.capacity.config();
    let store = Store::open(&config)
        .with_context(|| format!("cannot open data directory {}", data.path().display()))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    let admin = match &args.admin_listen {
        Some(a) => Some(
            tokio::net::TcpListener::bind(a)
                .await
                .with_context(|| format!("cannot listen on {a} (--admin-listen)"))?,
        ),
        None => None,
    };
    let (admin_stop, admin_stopped) = tokio::sync::oneshot::channel::<()>();
    let admin_task = admin.map(|l| {
        if let Ok(a) = l.local_addr() {
            tracing::info!(addr = %a, "ferrodyn-store admin endpoint ready");
        }
        tokio::spawn(ferrodyn_store::admin::run(
            l,
            store.clone(),
            options.faults.clone(),
            auth.clone(),
            tls.clone().map(|t| (t, options.limits.header_timeout)),
            async move {
                let _ = admin_stopped.await;
            },
        ))
    });
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
    let _ = admin_stop.send(());
    if let Some(t) = admin_task {
        let _ = t.await;
    }
    // Removes an in-memory directory (also dropped on every early return).
    drop(data);
    tracing::info!("ferrodyn-store stopped");
    Ok(())
}

//! `ferrodyn`: the full database in one process.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use ferrodyn_proxy::Config;

/// Ferrodyn: a DynamoDB-compatible database. With no arguments it serves the
/// DynamoDB API on 127.0.0.1:8000 with its data in ./ferrodyn-data.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FERRODYN_LISTEN", default_value = "127.0.0.1:8000")]
    listen: String,
    /// Directory holding the embedded store's data (created if missing).
    #[arg(long, env = "FERRODYN_DATA_DIR", default_value = "./ferrodyn-data")]
    data_dir: PathBuf,
    /// A remote DynamoDB-API endpoint to serve instead of the embedded store
    /// (not supported yet: the process refuses to start with it).
    #[arg(long, env = "FERRODYN_UPSTREAM")]
    upstream: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FERRODYN_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = Config {
        data_dir: args.data_dir,
        upstream: args.upstream,
    };
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    ferrodyn_proxy::run(listener, config, shutdown_signal()).await?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

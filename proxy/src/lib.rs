//! Ferrodyn proxy: the `ferrodyn` binary's library.
//!
//! Today this crate runs the full database in one process — the store
//! embedded in-process, served on the DynamoDB API. The DAX-style item and
//! query caches, write-through and change-log invalidation (see DESIGN.md)
//! are not built yet, and neither is `--upstream` (a remote store or
//! DynamoDB endpoint): [`Config::validate`] rejects it with a clear message
//! rather than pretending.
//!
//! # Layout
//!
//! * [`Config`] — what the binary parsed from flags and the environment.
//! * [`run`] — serve until shutdown.

use std::future::Future;
use std::path::PathBuf;

use ferrodyn_store::{server, Store, StoreConfig};
use tokio::net::TcpListener;

/// Configuration of the `ferrodyn` process.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub upstream: Option<String>,
}

/// Why the proxy cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "--upstream is not supported yet: this build of ferrodyn only runs with its embedded store"
    )]
    UpstreamUnsupported,
    #[error("cannot open data directory {path}")]
    Store {
        path: PathBuf,
        #[source]
        source: ferrodyn_store::engine::EngineError,
    },
    #[error("server failed")]
    Io(#[from] std::io::Error),
}

impl Config {
    pub fn validate(&self) -> Result<(), StartError> {
        if self.upstream.is_some() {
            return Err(StartError::UpstreamUnsupported);
        }
        Ok(())
    }
}

/// Open the embedded store and serve it on `listener` until `shutdown`.
pub async fn run(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    config.validate()?;
    let store =
        Store::open(&StoreConfig::new(&config.data_dir)).map_err(|source| StartError::Store {
            path: config.data_dir.clone(),
            source,
        })?;
    tracing::info!(addr = %listener.local_addr()?, data_dir = %config.data_dir.display(), "ferrodyn ready");
    server::run(listener, store, shutdown).await?;
    Ok(())
}

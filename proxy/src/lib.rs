//! Ferrodyn proxy: the `ferrodyn` binary's library — a DAX-style item and
//! query cache with write-through in front of a DynamoDB-API endpoint.
//!
//! With no upstream it is the full database in one process: the store is
//! embedded and called in-process. With `--upstream URL` it forwards to a
//! remote endpoint (a `ferrodyn-store`, or anything speaking the DynamoDB
//! API without request signing).
//!
//! Built so far: the item cache for GetItem and BatchGetItem (coherent with
//! every write made through this proxy, misses coalesced, written items
//! stored on acknowledgement), the query cache for Query and Scan (results
//! keyed by the canonical request, tagged with the partitions they read),
//! invalidation from the store's change log (in-process when embedded, the
//! long-polling change feed when remote, with old and new images so index
//! partitions are invalidated exactly), key schemas learned from any
//! upstream with DescribeTable, metrics and the admin endpoint. Not built
//! yet: the DynamoDB Streams path for foreign upstreams, and SigV4
//! re-signing for AWS upstreams.
//!
//! # Layout
//!
//! * [`stack`] — assembles the tower stack (the order of layers and why).
//! * [`metrics`] — request counts and latency per operation.
//! * [`insights`] — contributor insights: the hottest keys of each table.
//! * [`query_cache`] — the query-cache layer; [`result_cache`] its storage
//!   (tags and leases).
//! * [`item_cache`] — the item-cache / write-through layer; [`cache`] its storage.
//! * [`schemas`] — tables' key schemas (engine catalog, or DescribeTable).
//! * [`upstream`] — the embedded store or a pooled HTTP client.
//! * [`invalidation`] — follows the change log and invalidates entries.
//! * [`admin`] — `/metrics`, `/healthz`, `/readyz`, `/insights`.

pub mod admin;
pub mod cache;
pub mod insights;
pub mod invalidation;
pub mod item_cache;
pub mod metrics;
pub mod query_cache;
pub mod result_cache;
pub mod schemas;
pub mod stack;
pub mod upstream;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferrodyn_store::{server, Store, StoreConfig};
use tokio::net::TcpListener;

use crate::cache::ItemCache;
use crate::result_cache::QueryCache;
use crate::schemas::KeySchemas;
use crate::upstream::{HttpUpstream, Upstream};

/// Configuration of the `ferrodyn` process.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub upstream: Option<String>,
    /// Item cache size in bytes (0 disables it).
    pub item_cache_bytes: u64,
    /// Item cache entry lifetime (0 disables the cache).
    pub item_ttl: Duration,
    /// Query cache size in bytes (0 disables it).
    pub query_cache_bytes: u64,
    /// Query cache entry lifetime (0 disables the cache).
    pub query_ttl: Duration,
}

impl Config {
    pub fn new(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            data_dir: data_dir.into(),
            upstream: None,
            item_cache_bytes: 256 << 20,
            item_ttl: Duration::from_secs(300),
            query_cache_bytes: 64 << 20,
            query_ttl: Duration::from_secs(300),
        }
    }
}

/// Why the proxy cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid upstream URL {url}: only http:// endpoints are supported")]
    BadUpstream { url: String },
    #[error("cannot open data directory {path}")]
    Store {
        path: PathBuf,
        #[source]
        source: ferrodyn_store::engine::EngineError,
    },
    #[error("cannot register metrics")]
    Metrics(#[from] prometheus::Error),
    #[error("server failed")]
    Io(#[from] std::io::Error),
}

/// Serve the proxy on `listener` (and the admin endpoint on `admin`, if
/// given) until `shutdown`.
pub async fn run(
    listener: TcpListener,
    admin: Option<TcpListener>,
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let (upstream, schemas, readiness) = match &config.upstream {
        None => {
            let store = Store::open(&StoreConfig::new(&config.data_dir)).map_err(|source| {
                StartError::Store {
                    path: config.data_dir.clone(),
                    source,
                }
            })?;
            (
                Upstream::Embedded(store.clone()),
                KeySchemas::Embedded(store),
                admin::Readiness::Embedded,
            )
        }
        Some(url) => {
            let uri: http::Uri = url
                .parse()
                .map_err(|_| StartError::BadUpstream { url: url.clone() })?;
            if uri.scheme_str() != Some("http") {
                return Err(StartError::BadUpstream { url: url.clone() });
            }
            let authority = uri
                .authority()
                .map(|a| a.to_string())
                .ok_or_else(|| StartError::BadUpstream { url: url.clone() })?;
            tracing::warn!(
                upstream = %url,
                "no change feed from the upstream yet: writes made elsewhere are seen when cache entries expire"
            );
            (
                Upstream::Http(Box::new(HttpUpstream::new(uri))),
                KeySchemas::remote(),
                admin::Readiness::Remote(authority),
            )
        }
    };
    let registry = prometheus::Registry::new();
    let request_metrics = metrics::Metrics::register(&registry)?;
    let cache_metrics = item_cache::Metrics::register(&registry)?;
    let cache = Arc::new(ItemCache::new(config.item_cache_bytes, config.item_ttl));
    let query_metrics = query_cache::Metrics::register(&registry)?;
    let queries = Arc::new(QueryCache::new(
        config.query_cache_bytes,
        config.query_ttl,
        query_metrics.storage.clone(),
    ));
    let feed_metrics = invalidation::Metrics::register(&registry)?;
    let targets = invalidation::Targets {
        items: cache.clone(),
        queries: queries.clone(),
        schemas: schemas.clone(),
    };
    let feed = match &upstream {
        Upstream::Embedded(store) => tokio::spawn(invalidation::follow_embedded(
            store.clone(),
            targets,
            feed_metrics,
        )),
        Upstream::Http(http) => tokio::spawn(invalidation::follow_remote(
            (**http).clone(),
            targets,
            feed_metrics,
        )),
    };
    let stack = stack::build(
        upstream,
        stack::Caches {
            items: cache,
            queries,
        },
        schemas,
        request_metrics,
        cache_metrics,
        query_metrics,
    );

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let admin_task = admin.map(|l| {
        let mut rx = stop_rx.clone();
        tracing::info!(addr = ?l.local_addr().ok(), "ferrodyn admin endpoint ready");
        tokio::spawn(admin::run(
            l,
            registry.clone(),
            stack.clone(),
            readiness,
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        ))
    });
    tracing::info!(addr = %listener.local_addr()?, "ferrodyn ready");
    let result = server::run(listener, stack, shutdown).await;
    let _ = stop_tx.send(true);
    feed.abort();
    if let Some(t) = admin_task {
        let _ = t.await;
    }
    result?;
    Ok(())
}

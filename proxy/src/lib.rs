//! Ferrodyn proxy: the `ferrodyn` binary's library — a DAX-style item and
//! query cache with write-through in front of a DynamoDB-API endpoint.
//!
//! With no upstream it is the full database in one process: the store is
//! embedded and called in-process. With `--upstream URL` it forwards to a
//! remote endpoint over http or https: a `ferrodyn-store`, or a foreign
//! DynamoDB-API engine (DynamoDB itself, ScyllaDB Alternator), re-signing
//! requests with its own credentials when it has some.
//!
//! Eventually consistent GetItem and BatchGetItem are answered from the item
//! cache, Query and Scan from the query cache; writes go through to the
//! upstream and update both; a follower of the upstream's changes
//! invalidates what writes made elsewhere touched. The caches serve nothing
//! until that follower knows its position in the upstream's log.
//!
//! # Layout
//!
//! * [`stack`] — assembles the tower stack (the order of layers and why).
//! * [`metrics`] — request counts and latency per operation.
//! * [`insights`] — contributor insights: the hottest keys of each table.
//! * [`read_request`] — a GetItem decoded once at the edge, for the hit path.
//! * [`request_tables`] — the tables a write names, when nothing more can be read.
//! * [`named_tables`] — the tables requests name, so the Streams follower
//!   learns a table from its first request.
//! * [`statements`] — what a PartiQL request reads or writes, by the store's
//!   own planner.
//! * [`query_cache`] — the query-cache layer and its storage (tags and leases).
//! * [`item_cache`] — the item-cache / write-through layer and its storage.
//! * [`abandoned`] — what the caches do for a write whose client went away
//!   before the answer (the embedded store may commit it later).
//! * [`schemas`] — tables' key schemas (engine catalog, or DescribeTable).
//! * [`upstream`] — the embedded store or a pooled HTTP(S) client that
//!   re-signs requests.
//! * [`gate`] — whether the caches may serve and fill (shared with the feed).
//! * [`read_mostly`] — a value read on every request without a shared lock.
//! * [`credentials`] — the proxy's own AWS credentials and region.
//! * [`invalidation`] — follows the upstream's changes (change log or
//!   DynamoDB Streams) and invalidates entries.
//! * [`service`] — plumbing shared by the layers (the layers below, called
//!   by reference: [`service::Inner`]).
//! * [`admin`] — `/metrics`, `/healthz`, `/readyz`, `/insights`.
//! * [`testing`] — a fresh in-memory `ferrodyn` on an ephemeral port, for tests.

pub mod abandoned;
pub mod admin;
pub mod credentials;
pub mod gate;
pub mod insights;
pub mod invalidation;
pub mod item_cache;
pub mod metrics;
pub mod named_tables;
pub mod query_cache;
pub mod read_mostly;
pub mod read_request;
pub mod request_tables;
pub mod schemas;
pub mod service;
pub mod stack;
pub mod statements;
pub mod testing;
pub mod upstream;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ferrodyn_store::{server, Store, StoreConfig};
use tokio::net::TcpListener;

use crate::item_cache::storage::ItemCache;
use crate::query_cache::storage::QueryCache;
use crate::schemas::KeySchemas;
use crate::upstream::{Endpoint, HttpUpstream, Upstream, UpstreamError};
use ferrodyn_store::auth::sigv4::Signer;

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
    /// Where to read DynamoDB Streams when the upstream has no Ferrodyn
    /// change feed (`None`: derived from `upstream`).
    pub streams_endpoint: Option<String>,
    /// Credentials for re-signing forwarded requests.
    pub credentials: credentials::Setting,
    /// The signing region (`None`: the upstream host's, else the
    /// environment's or profile's, else `us-east-1`).
    pub region: Option<String>,
    /// Credentials clients must sign with (`None`: clients are not
    /// authenticated).
    pub client_auth: Option<ferrodyn_store::auth::verify::Verifier>,
    /// The front end's browser policy and limits (`auth` is ignored here:
    /// `client_auth` sets it).
    pub serve: server::ServeOptions,
    /// Timeout and response size limit of each forwarded request.
    pub upstream_limits: upstream::Limits,

    /// The embedded store's throughput enforcement.
    pub capacity: ferrodyn_store::capacity::CapacityConfig,
    /// Certificates (PEM) trusted for an https upstream and its Streams
    /// endpoint besides the system's roots (a private CA).
    pub upstream_ca_file: Option<PathBuf>,
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
            streams_endpoint: None,
            credentials: credentials::Setting::FromEnvironment,
            region: None,
            client_auth: None,
            serve: server::ServeOptions::default(),
            upstream_limits: upstream::Limits::default(),

            capacity: Default::default(),
            upstream_ca_file: None,
        }
    }
}

/// Why the proxy cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("invalid upstream URL {url}: use http://host[:port] or https://host[:port]")]
    BadUpstream { url: String },
    #[error("cannot use the upstream")]
    Upstream(#[from] UpstreamError),
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
    let registry = prometheus::Registry::new();
    let feed_metrics = invalidation::Metrics::register(&registry)?;
    let (upstream, schemas, readiness, streams) = match &config.upstream {
        None => {
            // The store's metrics go to the proxy's registry: one
            // `/metrics` for the whole database.
            let store_config = StoreConfig {
                capacity: config.capacity,
                ..StoreConfig::new(&config.data_dir)
            };
            let store = Store::open_with_registry(&store_config, &registry).map_err(|source| {
                StartError::Store {
                    path: config.data_dir.clone(),
                    source,
                }
            })?;
            (
                Upstream::Embedded(store.clone()),
                KeySchemas::Embedded(store),
                admin::Readiness::Embedded {
                    feed: feed_metrics.clone(),
                },
                None,
            )
        }
        Some(url) => {
            let endpoint =
                Endpoint::parse(url).map_err(|_| StartError::BadUpstream { url: url.clone() })?;
            let signing = signing(&config, &endpoint);
            let roots = match &config.upstream_ca_file {
                Some(path) => upstream::read_ca_file(path)?,
                None => Vec::new(),
            };
            let http = HttpUpstream::with_roots(
                &endpoint,
                signing.forwarded.clone(),
                config.upstream_limits,
                &roots,
            )?
            .with_own_signer(signing.own.clone());
            let streams_url = config
                .streams_endpoint
                .clone()
                .unwrap_or_else(|| invalidation::streams::streams_url(&endpoint));
            let streams = HttpUpstream::with_roots(
                &Endpoint::parse(&streams_url)?,
                signing.forwarded,
                config.upstream_limits,
                &roots,
            )?
            .with_own_signer(signing.own);
            (
                Upstream::Http(Box::new(http)),
                KeySchemas::remote(),
                admin::Readiness::Remote {
                    address: endpoint.socket_address(),
                    feed: feed_metrics.clone(),
                },
                Some(streams),
            )
        }
    };
    let request_metrics = metrics::Metrics::register(&registry)?;
    let upstream_metrics = metrics::Metrics::register_upstream(&registry)?;
    let cache_metrics = item_cache::Metrics::register(&registry)?;
    let cache = Arc::new(ItemCache::new(config.item_cache_bytes, config.item_ttl));
    let query_metrics = query_cache::Metrics::register(&registry)?;
    let bound = |bytes: u64| i64::try_from(bytes).unwrap_or(i64::MAX);
    cache_metrics.capacity.set(bound(config.item_cache_bytes));
    query_metrics.capacity.set(bound(config.query_cache_bytes));
    let queries = Arc::new(QueryCache::new(
        config.query_cache_bytes,
        config.query_ttl,
        query_metrics.storage.clone(),
    ));
    let targets = invalidation::Targets {
        items: cache.clone(),
        queries: queries.clone(),
        schemas: schemas.clone(),
    };
    // Nothing is cached until the feed knows where the log ends: a read
    // filled before that could miss a change no feed will ever deliver.
    targets.close();
    let feed = {
        let upstream = upstream.clone();
        let targets = targets.clone();
        let metrics = feed_metrics.clone();
        let faults = config.serve.faults.clone();
        tokio::spawn(invalidation::supervise(
            targets.clone(),
            metrics.clone(),
            move || {
                let (upstream, targets, metrics) =
                    (upstream.clone(), targets.clone(), metrics.clone());
                let faults = faults.clone();
                let streams = streams.clone();
                async move {
                    match upstream {
                        Upstream::Embedded(store) => {
                            let source =
                                invalidation::feed::Source::Embedded(store, faults.clone());
                            invalidation::feed::follow(source, targets, metrics).await;
                        }
                        Upstream::Http(http) => {
                            // A ferrodyn-store's own feed when it has one (it
                            // returns only if not); the standard Streams API
                            // otherwise.
                            let source = invalidation::feed::Source::Remote(http.clone());
                            invalidation::feed::follow(source, targets.clone(), metrics.clone())
                                .await;
                            if let Some(streams) = streams {
                                invalidation::streams::follow(*http, streams, targets, metrics)
                                    .await;
                            }
                        }
                    }
                }
            },
        ))
    };
    let stack = stack::build(
        upstream,
        stack::Caches {
            items: cache,
            queries,
        },
        schemas,
        request_metrics,
        upstream_metrics,
        cache_metrics,
        query_metrics,
    );

    let front_end = metrics::FrontEnd::register(&registry, config.serve.stats.clone())?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let admin_task = admin.map(|l| {
        let mut rx = stop_rx.clone();
        tracing::info!(addr = %l.local_addr().map_or_else(|e| format!("unknown ({e})"), |a| a.to_string()), "ferrodyn admin endpoint ready");
        tokio::spawn(admin::run(
            l,
            registry.clone(),
            stack.clone(),
            readiness,
            config.client_auth.clone(),
            admin::Extra {
                faults: config.serve.faults.clone(),
                front_end: front_end.clone(),
                transport: admin::Transport {
                    tls: config.serve.tls.clone(),
                    handshake_timeout: config.serve.limits.header_timeout,
                },
            },
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        ))
    });
    tracing::info!(addr = %listener.local_addr()?, "ferrodyn ready");
    let options = server::ServeOptions {
        auth: config.client_auth.clone(),
        ..config.serve.clone()
    };
    let result = server::serve(listener, stack, options, shutdown).await;
    let _ = stop_tx.send(true);
    feed.abort();
    if let Some(t) = admin_task {
        let _ = t.await;
    }
    result?;
    Ok(())
}

/// How the proxy signs what it sends to a remote upstream.
struct Signing {
    /// Re-signs forwarded requests (`None`: they keep the client's
    /// signature).
    forwarded: Option<Arc<Signer>>,
    /// Signs the proxy's own calls (`None`: an AWS upstream and no
    /// credentials, so they go unsigned and DynamoDB refuses them).
    own: Option<Arc<Signer>>,
}

/// The signers for requests to `endpoint`: the proxy's credentials when it
/// has some (see [`credentials`]), for forwarded requests and its own calls
/// alike. Without any, forwarded requests keep the client's signature, and
/// the proxy's own calls are signed with the placeholder key pair
/// ([`credentials::PLACEHOLDER`]) unless the upstream is AWS, where only
/// real credentials can work. Logs which, once.
fn signing(config: &Config, endpoint: &Endpoint) -> Signing {
    let chain = match &config.credentials {
        credentials::Setting::Unsigned => None,
        _ => Some(credentials::resolve()),
    };
    let resolved = match &config.credentials {
        credentials::Setting::Unsigned => None,
        credentials::Setting::Static(c) => Some((c.clone(), None)),
        credentials::Setting::FromEnvironment => chain
            .as_ref()
            .and_then(|r| r.credentials.clone())
            .map(|(c, source)| (c, Some(source))),
    };
    // An explicit region wins; then the host's, the environment's, the
    // profile's.
    let region = config.region.clone().unwrap_or_else(|| {
        credentials::region(
            endpoint.host(),
            chain.as_ref().and_then(|r| r.region.as_deref()),
        )
    });
    let new_signer = |c: credentials::Credentials| {
        Arc::new(Signer::new(
            c.access_key_id,
            c.secret_access_key,
            c.session_token,
            region.clone(),
        ))
    };
    let aws = ferrodyn_store::auth::sigv4::aws_region_of_host(endpoint.host()).is_some();
    match resolved {
        Some((creds, source)) => {
            tracing::info!(
                access_key_id = %creds.access_key_id,
                source = ?source,
                region = %region,
                "signing upstream requests with the proxy's credentials"
            );
            let signer = new_signer(creds);
            Signing {
                forwarded: Some(signer.clone()),
                own: Some(signer),
            }
        }
        None if aws => {
            tracing::warn!(
                upstream = %endpoint.uri,
                "no AWS credentials found (environment or shared files): clients' requests are forwarded with their own signature, which DynamoDB rejects, and the proxy cannot read the tables' streams (/readyz says so)"
            );
            Signing {
                forwarded: None,
                own: None,
            }
        }
        None => {
            let placeholder = credentials::PLACEHOLDER;
            tracing::info!(
                upstream = %endpoint.uri,
                access_key_id = placeholder.0,
                region = %region,
                "no AWS credentials found: clients' requests are forwarded with their own signature; the proxy's own calls (table discovery, streams) are signed with the placeholder key pair, which emulators accept"
            );
            Signing {
                forwarded: None,
                own: Some(new_signer(credentials::Credentials {
                    access_key_id: placeholder.0.to_owned(),
                    secret_access_key: placeholder.1.to_owned(),
                    session_token: None,
                })),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signing_for(url: &str, credentials: credentials::Setting) -> Signing {
        let config = Config {
            credentials,
            ..Config::new("unused")
        };
        signing(&config, &Endpoint::parse(url).expect("url"))
    }

    #[test]
    fn without_credentials_only_the_proxys_own_calls_to_an_emulator_are_signed() {
        let emulator = signing_for("http://127.0.0.1:8000", credentials::Setting::Unsigned);
        assert!(emulator.forwarded.is_none());
        assert!(emulator.own.is_some());
        let aws = signing_for(
            "https://dynamodb.eu-west-1.amazonaws.com",
            credentials::Setting::Unsigned,
        );
        assert!(aws.forwarded.is_none() && aws.own.is_none());
    }

    #[test]
    fn with_credentials_everything_is_signed() {
        let creds = credentials::Setting::Static(credentials::Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "secret".into(),
            session_token: None,
        });
        let aws = signing_for("https://dynamodb.eu-west-1.amazonaws.com", creds);
        assert!(aws.forwarded.is_some() && aws.own.is_some());
    }
}

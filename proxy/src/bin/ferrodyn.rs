//! `ferrodyn`: the full database in one process, or a caching proxy in front
//! of a remote DynamoDB-API endpoint.

#[global_allocator]
static ALLOCATOR: ferrodyn_store::alloc::Allocator = ferrodyn_store::alloc::Allocator;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use ferrodyn_proxy::Config;
use ferrodyn_store::data_dir::{DataDir, DataDirArgs};
use ferrodyn_store::ready::{self, ReadyArgs, ReadyFile};
use ferrodyn_store::{logging, shutdown};

/// Ferrodyn: a DynamoDB-compatible database with a DAX-style item cache.
///
/// With no arguments it serves the DynamoDB API on 127.0.0.1:8000, with the
/// store embedded in this process and its data in ./ferrodyn-data. Eventually
/// consistent GetItem and BatchGetItem are answered from the item cache,
/// Query and Scan from the query cache; every write through this process
/// invalidates what it touches, so reads after writes see them.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "FERRODYN_LISTEN", default_value = "127.0.0.1:8000")]
    listen: String,
    // The embedded store's data (unused with --upstream).
    #[command(flatten)]
    data: DataDirArgs,
    /// Forward to this DynamoDB-API endpoint instead of embedding the store:
    /// http://host:port (e.g. a ferrodyn-store) or https://... (e.g.
    /// DynamoDB at dynamodb.REGION.amazonaws.com, or a ScyllaDB Alternator
    /// cluster). Writes made elsewhere are invalidated through the
    /// ferrodyn-store's change feed, or else the DynamoDB Streams API (tables
    /// without a stream: by --item-ttl and --query-ttl only).
    ///
    /// Forwarded requests are re-signed (SigV4) with the proxy's own
    /// credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY /
    /// AWS_SESSION_TOKEN, else the shared credentials and config files
    /// (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, ~/.aws/credentials,
    /// ~/.aws/config; profile AWS_PROFILE, default "default"). Instance
    /// metadata (IMDS), SSO, web identity, credential_process and assume-role
    /// profiles are not supported. Without credentials, requests are forwarded
    /// as the client signed them. Region: the AWS endpoint's, else AWS_REGION,
    /// AWS_DEFAULT_REGION, the profile's region, else us-east-1.
    #[arg(long, env = "FERRODYN_UPSTREAM", verbatim_doc_comment)]
    upstream: Option<String>,
    /// Where to read DynamoDB Streams for invalidation, when the upstream has
    /// no Ferrodyn change feed. Default: streams.dynamodb.REGION.amazonaws.com
    /// for AWS upstreams, the upstream URL itself otherwise.
    #[arg(long, env = "FERRODYN_STREAMS_ENDPOINT")]
    streams_endpoint: Option<String>,
    /// Give up on a forwarded request after this long (connect, send and
    /// the whole answer), answering the client InternalServerError (which
    /// SDKs retry), e.g. 30s, 2m.
    #[arg(long, env = "FERRODYN_UPSTREAM_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    upstream_timeout: Duration,
    /// Certificates (PEM) trusted for an https:// --upstream and its Streams
    /// endpoint, besides the system's root certificates: for a private CA.
    #[arg(long, env = "FERRODYN_UPSTREAM_CA_FILE")]
    upstream_ca_file: Option<PathBuf>,
    /// Largest answer accepted from the upstream, in bytes; a larger one is
    /// refused with InternalServerError instead of being buffered.
    #[arg(long, env = "FERRODYN_UPSTREAM_MAX_RESPONSE_BYTES", default_value_t = 32 << 20)]
    upstream_max_response_bytes: usize,
    /// Address of the admin endpoint (/metrics, /healthz, /readyz); "off" disables it.
    #[arg(long, env = "FERRODYN_ADMIN_LISTEN", default_value = "127.0.0.1:9000")]
    admin_listen: String,
    /// Item cache size in bytes (0 disables the item cache).
    #[arg(long, env = "FERRODYN_ITEM_CACHE_BYTES", default_value_t = 256 * 1024 * 1024)]
    item_cache_bytes: u64,
    /// Item cache entry lifetime, e.g. 300, 300s, 5m (0 disables the item cache).
    #[arg(long, env = "FERRODYN_ITEM_TTL", default_value = "5m", value_parser = parse_duration)]
    item_ttl: Duration,
    /// Query cache size in bytes (0 disables the query cache).
    #[arg(long, env = "FERRODYN_QUERY_CACHE_BYTES", default_value_t = 64 * 1024 * 1024)]
    query_cache_bytes: u64,
    /// Query cache entry lifetime, e.g. 300, 300s, 5m (0 disables the query cache).
    #[arg(long, env = "FERRODYN_QUERY_TTL", default_value = "5m", value_parser = parse_duration)]
    query_ttl: Duration,
    /// Require clients to sign requests with SigV4, as DynamoDB does: a
    /// comma-separated list of ACCESS_KEY_ID:SECRET_ACCESS_KEY pairs whose
    /// signatures are accepted (prefer the environment variable: a command
    /// line is visible to other users). Without it, clients are not
    /// authenticated — and act with the proxy's own upstream credentials.
    #[arg(long, env = "FERRODYN_CREDENTIALS", hide_env_values = true)]
    credentials: Option<String>,
    #[command(flatten)]
    serve: ferrodyn_store::server::ServeArgs,
    // The embedded store's throughput enforcement (unused with --upstream).
    #[command(flatten)]
    capacity: ferrodyn_store::capacity::CapacityArgs,
    #[command(flatten)]
    ready: ReadyArgs,
    #[command(flatten)]
    log: logging::LogArgs,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 300, 300s, 5m, 1h"))?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("invalid duration unit in {s:?}: use ms, s, m or h")),
    };
    Ok(Duration::from_secs(secs))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    logging::init(args.log.log_format)?;
    let stop = shutdown::signal();
    let ready_file = ReadyFile::prepare(&args.ready)?;
    let client_auth = args
        .credentials
        .as_deref()
        .map(ferrodyn_store::auth::verify::Verifier::parse)
        .transpose()
        .context("--credentials")?;
    let data = match (&args.upstream, args.data.in_memory) {
        (Some(_), true) => {
            tracing::warn!("--in-memory has no effect with --upstream: nothing is stored here");
            DataDir::OnDisk(args.data.data_dir.clone())
        }
        _ => DataDir::from_args(&args.data)?,
    };
    // The front end's options carry the verifier with its feed scope; the
    // certificate and key are read before the store is opened or a port bound.
    let serve = args.serve.options(client_auth)?;
    let tls = serve.tls.clone();
    let client_auth = serve.auth.clone();
    let config = Config {
        data_dir: data.path().to_owned(),
        upstream: args.upstream,
        item_cache_bytes: args.item_cache_bytes,
        item_ttl: args.item_ttl,
        query_cache_bytes: args.query_cache_bytes,
        query_ttl: args.query_ttl,
        streams_endpoint: args.streams_endpoint,
        serve,
        upstream_limits: ferrodyn_proxy::upstream::Limits {
            timeout: args.upstream_timeout,
            max_response_bytes: args.upstream_max_response_bytes,
        },
        client_auth,
        capacity: args.capacity.config(),
        upstream_ca_file: args.upstream_ca_file,
        ..Config::new(PathBuf::new())
    };
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let admin = if args.admin_listen == "off" {
        None
    } else {
        Some(
            tokio::net::TcpListener::bind(&args.admin_listen)
                .await
                .with_context(|| {
                    format!("cannot listen on {} (admin endpoint)", args.admin_listen)
                })?,
        )
    };
    let addr = listener.local_addr()?;
    let serving = ferrodyn_proxy::run(listener, admin, config, stop);
    ready::serve_and_announce(addr, tls.as_ref(), &ready_file, serving).await?;
    // Removes an in-memory directory (also dropped on every early return).
    drop(data);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("300"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }
}

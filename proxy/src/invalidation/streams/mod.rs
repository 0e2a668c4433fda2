//! Invalidation through the standard DynamoDB Streams API, for upstreams
//! without Ferrodyn's change feed (DynamoDB itself, ScyllaDB Alternator,
//! moto).
//!
//! * **Discovery** (every [`DISCOVERY_INTERVAL`]): ListTables (paged), then
//!   DescribeTable for each table. A table whose stream is enabled is
//!   followed through its `LatestStreamArn`; a table without a stream gets a
//!   warning, once, and its entries expire by TTL only. A table that is gone,
//!   whose stream was disabled, or whose stream was replaced (a new
//!   `LatestStreamArn`) has its entries dropped and its follow restarted.
//!   A CreateTable, UpdateTable or DeleteTable passing through the proxy
//!   starts a round at once. A table created elsewhere is learned from the
//!   first request that names it ([`crate::named_tables`]): it is described
//!   then, without waiting for the next round.
//! * **Following a stream** (one task per table, `shards`): DescribeStream
//!   (paged by `ExclusiveStartShardId`) lists the shards. At the start, every
//!   shard is read from `LATEST` (a closed one ends at once) — and the
//!   table's entries are dropped, since anything cached earlier may predate
//!   changes that will never be read. Shards found later (children of a closed
//!   shard, DynamoDB's periodic rollover, the first shard of an engine that
//!   opens it with the first record) are read from `TRIM_HORIZON`. Each
//!   shard is polled with GetRecords every [`POLL_INTERVAL`] while idle, and
//!   never more often than every [`MIN_SHARD_CALL_SPACING`] (DynamoDB allows
//!   five calls per second per shard). A null `NextShardIterator` closes a
//!   shard; its children are asked for at once with DescribeStream's
//!   `ShardFilter` (`CHILD_SHARDS`), or by listing every shard where the
//!   engine does not know that filter. The shard list is described again
//!   every [`DESCRIBE_INTERVAL`], and every
//!   [`EMPTY_STREAM_DESCRIBE_INTERVAL`] while no shard is open. Every record
//!   calls [`Targets::change`] with its keys and whatever images the
//!   stream's view type carries; invalidation is idempotent, so reading
//!   children before their parent is finished is harmless.
//! * **Failures**: throttling, a 5xx or an unreachable endpoint on GetRecords
//!   is retried on the same iterator with backoff (up to
//!   [`TRANSIENT_RETRIES`] times in a row: nothing is lost, invalidations are
//!   only late). An expired iterator, trimmed records, a missing stream or
//!   any other error drops the table's entries ([`Targets::drop_table`]) and
//!   restarts its follow, with backoff. Every way a follow stops (those, and
//!   a table deleted, its stream disabled or replaced) is counted in
//!   `proxy_stream_interruptions_total{reason}`, and a follow being
//!   restarted is named in `/readyz`.
//!
//! Requests are signed with the proxy's own signer (SigV4, service
//! `dynamodb` for Streams operations too; see [`crate::upstream`]).
//! `ApproximateCreationDateTime` is whole seconds on DynamoDB, so
//! `proxy_feed_lag_seconds` over-reports by up to a second there.

mod shards;
mod wire;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{oneshot, Notify};
use tokio::task::{AbortHandle, JoinSet};

use self::shards::{follow_table, Stream};
pub use self::shards::{
    DESCRIBE_INTERVAL, EMPTY_STREAM_DESCRIBE_INTERVAL, MIN_SHARD_CALL_SPACING, POLL_INTERVAL,
    TRANSIENT_RETRIES,
};
use self::wire::{
    call, DescribeTableOutput, FollowError, ListTablesInput, ListTablesOutput, TableNameInput,
};
use crate::invalidation::{Interruption, Metrics, Targets};
use crate::named_tables::NamedTables;
use crate::upstream::{Endpoint, HttpUpstream};

/// How often the table list is refreshed.
pub const DISCOVERY_INTERVAL: Duration = Duration::from_secs(30);
/// How long a name that could not be described waits before a request
/// naming it makes the follower look again.
const LEARN_RETRY: Duration = Duration::from_secs(1);
/// The Streams endpoint for an upstream: DynamoDB serves Streams on
/// `streams.dynamodb.<region>.amazonaws.com`; other engines (Alternator,
/// moto, a `ferrodyn-store`) on the same URL.
pub fn streams_url(upstream: &Endpoint) -> String {
    let host = upstream.host();
    if host.starts_with("dynamodb.")
        && ferrodyn_store::auth::sigv4::aws_region_of_host(host).is_some()
    {
        let scheme = if upstream.https { "https" } else { "http" };
        let port = upstream
            .uri
            .port_u16()
            .map(|p| format!(":{p}"))
            .unwrap_or_default();
        return format!("{scheme}://streams.{host}{port}");
    }
    upstream.uri.to_string()
}

/// What a look at one table saw.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// Described: its stream's ARN when the stream is enabled.
    Stream(Option<String>),
    /// Listed, but DescribeTable failed (throttled, access denied): keep
    /// what the previous round knew.
    Unknown,
    /// No such table.
    Missing,
}

/// Describe one table.
async fn describe(dynamodb: &HttpUpstream, name: &str) -> Seen {
    let described: Result<DescribeTableOutput, _> = call(
        dynamodb,
        "DescribeTable",
        "DynamoDB_20120810.DescribeTable",
        &TableNameInput { table_name: name },
    )
    .await;
    match described {
        Ok(d) => Seen::Stream(d.table.enabled_stream()),
        Err(FollowError::Api { kind, .. }) if kind == "ResourceNotFoundException" => Seen::Missing,
        Err(e) => {
            tracing::debug!(table = %name, error = %e, "cannot describe the table");
            Seen::Unknown
        }
    }
}

/// Every table, with what describing it saw. Fails only if the tables
/// cannot be listed.
async fn discover(dynamodb: &HttpUpstream) -> Result<BTreeMap<String, Seen>, FollowError> {
    let mut names = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page: ListTablesOutput = call(
            dynamodb,
            "ListTables",
            "DynamoDB_20120810.ListTables",
            &ListTablesInput {
                exclusive_start_table_name: start.as_deref(),
            },
        )
        .await?;
        names.extend(page.table_names);
        match page.last_evaluated_table_name {
            Some(next) if Some(&next) != start.as_ref() => start = Some(next),
            _ => break,
        }
    }
    let mut tables = BTreeMap::new();
    for name in names {
        match describe(dynamodb, &name).await {
            // Deleted between the two calls: it is simply gone.
            Seen::Missing => {}
            seen => {
                tables.insert(name, seen);
            }
        }
    }
    Ok(tables)
}

/// A followed table: the stream followed (None: no stream, TTL only) and
/// the task following it.
struct Followed {
    stream_arn: Option<String>,
    task: Option<AbortHandle>,
}

/// Every table's follow.
struct Follower {
    streams: HttpUpstream,
    targets: Targets,
    metrics: Metrics,
    table_changes: Arc<Notify>,
    named: Arc<NamedTables>,
    tasks: JoinSet<()>,
    followed: HashMap<String, Followed>,
}

impl Follower {
    /// `name` is no longer followed (`why`): its entries go.
    fn unfollow(&mut self, name: &str, why: Interruption) {
        if let Some(f) = self.followed.remove(name) {
            if let Some(t) = &f.task {
                t.abort();
            }
        }
        self.targets.drop_table(name);
        self.metrics.tables_dropped.inc();
        self.metrics
            .interruptions
            .with_label_values(&[why.as_str()])
            .inc();
        self.metrics.resumed(name);
        self.named.forget(name);
        self.count_ttl_only();
    }

    /// `proxy_change_feed_ttl_only`: no followed table has a stream.
    fn count_ttl_only(&self) {
        let any_stream = self.followed.values().any(|f| f.stream_arn.is_some());
        self.metrics.ttl_only.set(i64::from(!any_stream));
    }

    /// Follow `name` through the stream `arn` (None: it has none), unless it
    /// is already; the receiver says when its iterators exist.
    fn follow(&mut self, name: &str, arn: Option<String>) -> Option<oneshot::Receiver<()>> {
        if let Some(f) = self.followed.get(name) {
            if f.stream_arn == arn {
                return None;
            }
            let why = if arn.is_none() {
                Interruption::StreamDisabled
            } else {
                Interruption::StreamReplaced
            };
            self.unfollow(name, why);
        }
        let (task, started) = match &arn {
            Some(arn) => {
                let (tx, rx) = oneshot::channel();
                let stream = Stream {
                    streams: self.streams.clone(),
                    table: name.to_owned(),
                    arn: arn.clone(),
                    targets: self.targets.clone(),
                    metrics: self.metrics.clone(),
                    table_changes: self.table_changes.clone(),
                };
                (Some(self.tasks.spawn(follow_table(stream, tx))), Some(rx))
            }
            None => {
                tracing::warn!(
                    table = %name,
                    "table has no DynamoDB stream: its cache entries expire by TTL only (--item-ttl)"
                );
                (None, None)
            }
        };
        self.followed.insert(
            name.to_owned(),
            Followed {
                stream_arn: arn,
                task,
            },
        );
        self.count_ttl_only();
        started
    }

    /// Describe and follow the tables requests named that are not followed
    /// yet. A name that cannot be described is looked at again when a
    /// request names it after [`LEARN_RETRY`].
    async fn learn(&mut self, dynamodb: &HttpUpstream, names: Vec<String>) {
        for name in names {
            if self.followed.contains_key(&name) {
                continue;
            }
            match describe(dynamodb, &name).await {
                Seen::Stream(arn) => {
                    tracing::debug!(table = %name, "following a table first named by a request");
                    let _started = self.follow(&name, arn);
                }
                Seen::Missing | Seen::Unknown => {
                    let named = self.named.clone();
                    self.tasks.spawn(async move {
                        tokio::time::sleep(LEARN_RETRY).await;
                        named.forget(&name);
                    });
                }
            }
        }
    }
}

/// Follow every table's stream at `streams`, discovering tables through
/// `dynamodb`, until aborted (aborting this task stops every table's).
pub async fn follow(
    dynamodb: HttpUpstream,
    streams: HttpUpstream,
    targets: Targets,
    metrics: Metrics,
) {
    let named = dynamodb.named_tables();
    named.activate();
    let mut follower = Follower {
        streams,
        targets,
        metrics,
        table_changes: dynamodb.table_changes(),
        named,
        tasks: JoinSet::new(),
        followed: HashMap::new(),
    };
    tracing::info!("following the upstream's tables through the DynamoDB Streams API");
    let mut failures = 0u32;
    let mut opened = false;
    loop {
        // Reap finished tasks (followers only finish when aborted).
        while follower.tasks.try_join_next().is_some() {}
        match discover(&dynamodb).await {
            Ok(found) => {
                failures = 0;
                let gone: Vec<String> = follower
                    .followed
                    .keys()
                    .filter(|name| !found.contains_key(*name))
                    .cloned()
                    .collect();
                for name in gone {
                    follower.unfollow(&name, Interruption::TableDeleted);
                }
                let mut starting = Vec::new();
                for (name, seen) in found {
                    if let Seen::Stream(arn) = seen {
                        starting.extend(follower.follow(&name, arn));
                    }
                }
                // Connected means every stream found is being read (bounded:
                // a stream that cannot be read keeps retrying on its own).
                for rx in starting {
                    let _ = tokio::time::timeout(Duration::from_secs(10), rx).await;
                }
                if !opened {
                    // Every stream found has its iterators: fills may start
                    // (a table found later drops its entries when its
                    // iterators exist, see `shards`).
                    follower.targets.open();
                    opened = true;
                }
                follower.count_ttl_only();
                follower.metrics.connected.set(1);
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                if failures == 1 {
                    tracing::warn!(error = %e, "cannot list the upstream's tables; retrying");
                }
                let reason = if dynamodb.signs_own_calls() {
                    format!("cannot list the upstream's tables: {e}")
                } else {
                    format!(
                        "no AWS credentials for the upstream (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or a profile): the proxy cannot list its tables or read their streams: {e}"
                    )
                };
                follower.metrics.set_not_connected(reason);
                // Streams already followed go on; readiness reflects that
                // new tables cannot be discovered.
                follower.metrics.connected.set(0);
                let backoff = Duration::from_secs(u64::from(failures.min(30)));
                tokio::time::sleep(backoff).await;
                continue;
            }
        }
        let next_round = tokio::time::Instant::now() + DISCOVERY_INTERVAL;
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(next_round) => break,
                () = follower.table_changes.notified() => break,
                () = follower.named.noted() => {
                    let names = follower.named.take();
                    follower.learn(&dynamodb, names).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_hosts_have_a_separate_streams_endpoint() {
        let url = |u: &str| streams_url(&Endpoint::parse(u).expect("url"));
        assert_eq!(
            url("https://dynamodb.eu-west-1.amazonaws.com"),
            "https://streams.dynamodb.eu-west-1.amazonaws.com"
        );
        assert_eq!(url("http://127.0.0.1:8001"), "http://127.0.0.1:8001/");
        assert_eq!(
            url("https://alternator.example.com:8043"),
            "https://alternator.example.com:8043/"
        );
    }
}

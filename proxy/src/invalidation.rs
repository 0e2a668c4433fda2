//! The invalidation consumer: follows the store's change log and drops the
//! cache entries that each committed change can affect, so writes made
//! elsewhere (another proxy, a client talking to the store directly, TTL
//! expiry) stop being served within the feed's lag.
//!
//! * Embedded store: an in-process subscription (woken by every commit).
//! * Remote `ferrodyn-store`: the long-polling `FerrodynFeed_20261124.GetChanges`
//!   extension operation.
//! * Other upstreams (no Ferrodyn feed: DynamoDB, Alternator, moto):
//!   [`follow_remote`] returns, and the caller follows the standard DynamoDB
//!   Streams API instead (`crate::streams_follower`).
//!
//! Every feed reports through [`Metrics`]: records received, the lag from a
//! change's commit to its invalidation, and whether it is connected (or
//! known to be TTL-only), which `/readyz` reads.
//!
//! Each change invalidates the item, the base-table partition's query
//! results, every Scan of the table, and the index partitions the item left
//! or entered (known from the change's old and new images; without them,
//! every index result of the table).
//!
//! A table whose records were trimmed before being read, or that was deleted
//! or re-created, has all its entries dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use ferrodyn_store::model::value::Item;
use ferrodyn_store::Store;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, Registry};
use serde::Deserialize;

use crate::cache::ItemCache;
use crate::result_cache::QueryCache;
use crate::schemas::KeySchemas;
use crate::upstream::HttpUpstream;

#[derive(Clone)]
pub struct Metrics {
    pub changes: IntCounter,
    /// Feed requests that failed (each one closes the caches until the
    /// feed answers again).
    pub failures: IntCounter,
    pub tables_dropped: IntCounter,
    pub connected: IntGauge,
    /// 1 when the upstream offers no change feed usable for any table:
    /// entries expire by TTL only (the proxy is still ready).
    pub ttl_only: IntGauge,
    pub lag: Histogram,
}

impl Metrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let changes = IntCounter::new(
            "proxy_invalidations_received_total",
            "Change records received from the change feed",
        )?;
        let failures = IntCounter::new(
            "proxy_change_feed_failures_total",
            "Change-feed requests that failed (the caches are bypassed until the feed answers again)",
        )?;
        let tables_dropped = IntCounter::new(
            "proxy_invalidation_tables_dropped_total",
            "Tables whose cache entries were dropped (feed gap, table deleted or re-created)",
        )?;
        let connected = IntGauge::new(
            "proxy_change_feed_connected",
            "1 while the change feed is followed",
        )?;
        let ttl_only = IntGauge::new(
            "proxy_change_feed_ttl_only",
            "1 when the upstream has no usable change feed: cache entries expire by TTL only",
        )?;
        let lag = Histogram::with_opts(
            HistogramOpts::new(
                "proxy_feed_lag_seconds",
                "Time from a change's commit (as the feed reports it) to its invalidation",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0,
            ]),
        )?;
        registry.register(Box::new(changes.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(tables_dropped.clone()))?;
        registry.register(Box::new(connected.clone()))?;
        registry.register(Box::new(ttl_only.clone()))?;
        registry.register(Box::new(lag.clone()))?;
        Ok(Metrics {
            changes,
            failures,
            tables_dropped,
            connected,
            ttl_only,
            lag,
        })
    }

    /// Record the lag of a change committed at `created_ms` (milliseconds
    /// since the Unix epoch, by the upstream's clock: skew shows up here).
    pub fn observe_lag(&self, created_ms: u64) {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.lag
            .observe(now_ms.saturating_sub(created_ms) as f64 / 1000.0);
    }

    /// Whether `/readyz` may say ready as far as the feed is concerned.
    pub fn feed_ready(&self) -> bool {
        self.connected.get() == 1 || self.ttl_only.get() == 1
    }
}

/// What a change feed invalidates: the one entry point every feed (the
/// embedded subscription, the remote long poll, the DynamoDB Streams API)
/// calls, so all of them invalidate the same things.
#[derive(Clone)]
pub struct Targets {
    pub items: Arc<ItemCache>,
    pub queries: Arc<QueryCache>,
    /// The tables' key schemas, as far as already known (never fetched
    /// here: a table whose keys are unknown is invalidated coarsely).
    pub schemas: KeySchemas,
}

impl Targets {
    /// One committed change to the item with primary key `keys` in `table`.
    /// `old` and `new` are the item's images when the feed carries them;
    /// a missing one may mean "not carried" (a stream view without it), so
    /// unless both are given every index result of the table is dropped.
    /// Feeds that know the images exactly call [`Targets::change_images`].
    pub fn change(&self, table: &str, keys: &Item, old: Option<&Item>, new: Option<&Item>) {
        let images = match (old, new) {
            (Some(o), Some(n)) => Some([Some(o), Some(n)]),
            _ => None,
        };
        self.invalidate_item(table, keys);
        let schema = self.schemas.cached(table);
        self.queries
            .invalidate_change(table, keys, images, schema.as_deref());
    }

    /// One committed change whose images are exact: `old` is `None` only for
    /// an insert, `new` only for a removal.
    /// An item-cache entry equal to `new` is kept (see
    /// `ItemCache::invalidate_unless_equal` for why that is safe), so the
    /// echo of a write made through this proxy does not undo its fill.
    pub fn change_images(&self, table: &str, keys: &Item, old: Option<&Item>, new: Option<&Item>) {
        if let Ok(bytes) = serde_json::to_vec(keys) {
            self.items
                .invalidate_unless_equal(&self.items.key(table, Bytes::from(bytes)), new);
        }
        let schema = self.schemas.cached(table);
        self.queries
            .invalidate_change(table, keys, Some([old, new]), schema.as_deref());
    }

    fn invalidate_item(&self, table: &str, keys: &Item) {
        if let Ok(bytes) = serde_json::to_vec(keys) {
            self.items
                .invalidate(&self.items.key(table, Bytes::from(bytes)));
        }
    }

    /// The feed knows its position in the log: fills may start (nothing
    /// read before this call is kept).
    pub fn open(&self) {
        self.items.open();
        self.queries.open();
    }

    /// The feed cannot be followed: drop everything and serve nothing from
    /// the caches until [`Targets::open`].
    pub fn close(&self) {
        self.items.close();
        self.queries.close();
    }

    /// Changes to `table` may have been missed (feed gap, table deleted or
    /// re-created): nothing cached for it can be vouched for, and its key
    /// schema may have changed.
    pub fn drop_table(&self, table: &str) {
        self.schemas.forget(table);
        self.items.invalidate_table(table);
        self.queries.drop_table(table);
    }
}

/// Run the feed `follow` makes until it returns; if it panics, the caches
/// are closed (nothing they hold can be vouched for) and a new one starts
/// after a pause, from a fresh position.
pub async fn supervise<F, Fut>(targets: Targets, metrics: Metrics, follow: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    /// Stops the feed when the supervisor is aborted.
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    loop {
        let task = tokio::spawn(follow());
        let _stop = AbortOnDrop(task.abort_handle());
        match task.await {
            Ok(()) => return,
            Err(e) if e.is_cancelled() => return,
            Err(e) => {
                tracing::error!(error = %e, "the change feed failed; caches bypassed until it restarts");
                targets.close();
                metrics.connected.set(0);
                metrics.failures.inc();
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// Follow the embedded store's change log until the store goes away.
pub async fn follow_embedded(store: Store, targets: Targets, metrics: Metrics) {
    let engine = store.engine();
    let mut commits = engine.subscribe();
    let Ok(mut cursor) = engine.read(|v| v.changes().next_seq()) else {
        return;
    };
    targets.open();
    metrics.connected.set(1);
    loop {
        commits.borrow_and_update();
        let tables = engine.tables();
        let ids: Vec<u32> = tables.iter().map(|t| t.id).collect();
        match engine.read(|v| v.changes().read_since(&ids, cursor, 10_000)) {
            Ok((records, next)) => {
                let names: BTreeMap<u32, &str> =
                    tables.iter().map(|t| (t.id, t.name.as_str())).collect();
                for r in &records {
                    if let Some(table) = names.get(&r.table_id) {
                        targets.change_images(table, &r.keys, r.old.as_ref(), r.new.as_ref());
                        metrics.observe_lag(r.time_ms);
                    }
                }
                metrics.changes.inc_by(records.len() as u64);
                cursor = next;
                if records.len() >= 10_000 {
                    continue; // more to read before waiting
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the change log"),
        }
        if commits.changed().await.is_err() {
            metrics.connected.set(0);
            return;
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FeedChange {
    table_name: String,
    keys: Item,
    /// Absent from stores older than the field.
    created_at_ms: Option<u64>,
    /// Absent from stores that predate images in the feed.
    #[serde(default)]
    old_image: Option<Item>,
    #[serde(default)]
    new_image: Option<Item>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct FeedResponse {
    #[serde(default)]
    changes: Vec<FeedChange>,
    next_cursor: u64,
    #[serde(default)]
    tables: BTreeMap<String, u32>,
    #[serde(default)]
    lost_tables: Vec<String>,
    /// The store's data identity; absent from stores that predate it.
    #[serde(default)]
    store_id: Option<String>,
}

/// The error part of a DynamoDB-API error answer.
#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(rename = "__type")]
    kind: String,
}

/// Why a poll of the Ferrodyn feed failed.
#[derive(Debug)]
enum PollError {
    /// The upstream is a DynamoDB-API endpoint that does not know the feed
    /// operation (decided only from a cursor-less probe, see [`probe`]).
    NoFeed(String),
    /// Unreachable, an error, an answer that cannot be read: try again.
    Failed(String),
}

fn snippet(body: &[u8]) -> String {
    String::from_utf8_lossy(body).chars().take(200).collect()
}

async fn poll(
    upstream: &HttpUpstream,
    cursor: Option<u64>,
    wait_ms: u64,
) -> Result<FeedResponse, PollError> {
    let body = match cursor {
        Some(c) => format!(r#"{{"Cursor":{c},"WaitMs":{wait_ms},"Limit":1000}}"#),
        None => "{}".to_owned(),
    };
    let timeout = Duration::from_millis(wait_ms) + Duration::from_secs(30);
    let resp = upstream
        .call(
            "FerrodynFeed_20261124.GetChanges",
            Bytes::from(body),
            timeout,
        )
        .await
        .map_err(|e| PollError::Failed(e.to_string()))?;
    if !resp.status.is_success() {
        // DynamoDB and Alternator answer UnknownOperationException (as
        // their error type, not merely somewhere in the text).
        if let Ok(error) = serde_json::from_slice::<ErrorAnswer>(&resp.body) {
            if error.kind.rsplit('#').next() == Some("UnknownOperationException") {
                return Err(PollError::NoFeed(snippet(&resp.body)));
            }
        }
        return Err(PollError::Failed(format!(
            "{}: {}",
            resp.status,
            snippet(&resp.body)
        )));
    }
    serde_json::from_slice(&resp.body)
        .map_err(|e| PollError::Failed(format!("unreadable change-feed answer: {e}")))
}

/// The first, cursor-less request: where the log ends now, or whether this
/// upstream has no feed at all. Other DynamoDB-API engines either name the
/// operation unknown, or (moto) answer something that is not a DynamoDB
/// answer at all; in the second case the upstream is taken to have no feed
/// only if it answers a standard operation (ListTables) normally — an
/// error page from a load balancer in front of a store fails that too, and
/// is retried like any other failure.
async fn probe(upstream: &HttpUpstream) -> Result<FeedResponse, PollError> {
    match poll(upstream, None, 0).await {
        Err(PollError::Failed(why)) => {
            let listed = upstream
                .call(
                    "DynamoDB_20120810.ListTables",
                    Bytes::from_static(br#"{"Limit":1}"#),
                    Duration::from_secs(30),
                )
                .await;
            match listed {
                Ok(r)
                    if r.status.is_success()
                        && serde_json::from_slice::<serde::de::IgnoredAny>(&r.body).is_ok() =>
                {
                    Err(PollError::NoFeed(why))
                }
                _ => Err(PollError::Failed(why)),
            }
        }
        other => other,
    }
}

/// Follow a remote store's change feed until aborted. Returns only if the
/// upstream has no Ferrodyn change feed (it is not a `ferrodyn-store`): the
/// caller then follows DynamoDB Streams.
///
/// The caches stay closed (nothing filled, nothing served) until the first
/// answer gives the log's current end, and again whenever the feed cannot
/// be followed: a change committed while nobody listens would otherwise be
/// missed for good. Every failure after the first answer is temporary.
pub async fn follow_remote(upstream: HttpUpstream, targets: Targets, metrics: Metrics) {
    let mut failures = 0u32;
    // Outer loop: one run per store identity.
    loop {
        let (mut cursor, store_id) = match probe(&upstream).await {
            Ok(feed) => (feed.next_cursor, feed.store_id),
            Err(PollError::NoFeed(answer)) => {
                tracing::info!(answer = %answer, "the upstream has no Ferrodyn change feed");
                return;
            }
            Err(PollError::Failed(e)) => {
                failed(&metrics, &mut failures, &e).await;
                continue;
            }
        };
        let mut tables: BTreeMap<String, u32> = BTreeMap::new();
        failures = 0;
        targets.open();
        metrics.connected.set(1);
        loop {
            let feed = match poll(&upstream, Some(cursor), 10_000).await {
                Ok(feed) => feed,
                Err(PollError::NoFeed(e) | PollError::Failed(e)) => {
                    // Whatever changes meanwhile is unknown until the feed
                    // answers again: serve nothing from the caches.
                    targets.close();
                    failed(&metrics, &mut failures, &e).await;
                    continue;
                }
            };
            if feed.store_id != store_id {
                tracing::warn!(
                    was = ?store_id,
                    now = ?feed.store_id,
                    "the upstream store was replaced or restored: every cache entry dropped"
                );
                targets.close();
                metrics.connected.set(0);
                break;
            }
            if failures > 0 {
                failures = 0;
                targets.open();
                metrics.connected.set(1);
                tracing::info!("change feed resumed");
            }
            for c in &feed.changes {
                let (old, new) = (c.old_image.as_ref(), c.new_image.as_ref());
                if old.is_none() && new.is_none() {
                    // Every change has an image: this feed carries none.
                    targets.change(&c.table_name, &c.keys, None, None);
                } else {
                    targets.change_images(&c.table_name, &c.keys, old, new);
                }
                if let Some(ms) = c.created_at_ms {
                    metrics.observe_lag(ms);
                }
            }
            metrics.changes.inc_by(feed.changes.len() as u64);
            let mut dropped: Vec<&String> = feed.lost_tables.iter().collect();
            // Tables gone or re-created since the last answer.
            for (name, id) in &tables {
                if feed.tables.get(name) != Some(id) {
                    dropped.push(name);
                }
            }
            for name in dropped {
                targets.drop_table(name);
                metrics.tables_dropped.inc();
            }
            tables = feed.tables;
            cursor = feed.next_cursor;
        }
    }
}

/// Record a failed feed request and wait before the next one.
async fn failed(metrics: &Metrics, failures: &mut u32, error: &str) {
    metrics.connected.set(0);
    metrics.failures.inc();
    *failures = failures.saturating_add(1);
    if *failures == 1 {
        tracing::warn!(error = %error, "change feed interrupted; cache bypassed until it answers again");
    }
    tokio::time::sleep(Duration::from_millis(
        100u64.saturating_mul(u64::from((*failures).min(50))),
    ))
    .await;
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::result_cache::StorageMetrics;

    fn targets() -> Targets {
        let metrics = StorageMetrics {
            evictions: IntCounter::new("e", "e").expect("counter"),
            invalidations: IntCounter::new("i", "i").expect("counter"),
        };
        Targets {
            items: Arc::new(ItemCache::new(1 << 20, Duration::from_secs(60))),
            queries: Arc::new(QueryCache::new(1 << 20, Duration::from_secs(60), metrics)),
            schemas: KeySchemas::remote(),
        }
    }

    #[tokio::test]
    async fn a_panicking_feed_closes_the_caches_and_is_restarted() {
        let targets = targets();
        let metrics = Metrics::register(&Registry::new()).expect("metrics");
        let runs = Arc::new(AtomicU32::new(0));
        let seen_closed = Arc::new(AtomicU32::new(0));
        let (r, c, t) = (runs.clone(), seen_closed.clone(), targets.clone());
        supervise(targets.clone(), metrics.clone(), move || {
            let (r, c, t) = (r.clone(), c.clone(), t.clone());
            async move {
                if r.fetch_add(1, Ordering::SeqCst) == 0 {
                    panic!("feed bug");
                }
                // The restarted feed finds the caches closed.
                let key = t.items.key("t", Bytes::from_static(b"k"));
                let lease = t.items.lease(&key);
                let entry = Arc::new(crate::cache::Entry::new(None));
                if !t.items.fill(key, lease, entry) {
                    c.fetch_add(1, Ordering::SeqCst);
                }
            }
        })
        .await;
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        assert_eq!(seen_closed.load(Ordering::SeqCst), 1);
        assert_eq!(metrics.failures.get(), 1);
    }
}

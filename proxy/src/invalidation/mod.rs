//! Invalidation: following the upstream's changes and dropping the cache
//! entries each committed change can affect, so writes made elsewhere
//! (another proxy, a client talking to the store directly, TTL expiry) stop
//! being served within the feed's lag.
//!
//! * [`feed`] — the store's change log: in-process when embedded, the
//!   long-polling change feed of a remote `ferrodyn-store`;
//! * [`streams`] — the standard DynamoDB Streams API, for other upstreams
//!   (DynamoDB, Alternator, moto), used when the feed probe (`feed.rs`) finds
//!   no Ferrodyn feed;
//! * here: [`Targets`], the one entry point every follower calls, their
//!   [`Metrics`], and [`supervise`], which restarts a follower that panics.
//!
//! Every feed reports through [`Metrics`]: records received, the lag from a
//! change's commit to its invalidation, and whether it is connected (or
//! known to be TTL-only), which `/readyz` reads.
//!
//! A change the item cache's own single-item write made (the embedded
//! store stamps it with the cache's origin) leaves the item cache alone:
//! that write stores its result, or drops the entry, itself; the query
//! cache's write-through invalidated around it too. While the newest
//! records are all such echoes, the embedded follower passes over them
//! without reading them (`feed::Echoes`).
//!
//! Each change invalidates the item, the base-table partition's query
//! results, every Scan of the table, and the index partitions the item left
//! or entered (known from the change's old and new images; without them,
//! every index result of the table). Query results are looked at only for
//! a table the query cache may hold results of
//! (`QueryCache::may_hold`).
//!
//! A table whose records were trimmed before being read, or that was deleted
//! or re-created, has all its entries dropped.

pub mod feed;
pub mod streams;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrodyn_store::api::keys::key_json;
use ferrodyn_store::model::stored::EncodedItem;
use ferrodyn_store::model::value::Item;
use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::item_cache::storage::ItemCache;
use crate::query_cache::storage::QueryCache;
use crate::schemas::KeySchemas;

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
    /// Times a table's follow stopped, by [`Interruption`].
    pub interruptions: IntCounterVec,
    status: Arc<Mutex<Status>>,
}

/// What `/readyz` says besides ready or not.
#[derive(Default)]
struct Status {
    /// Why the feed is not connected (`None`: no reason known yet).
    not_connected: Option<String>,
    /// Tables whose follow stopped and is being restarted, with why.
    interrupted: BTreeMap<String, String>,
}

/// Why the follow of one table's stream stopped (its entries are dropped
/// every time). Labels of `proxy_stream_interruptions_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interruption {
    /// GetRecords: ExpiredIteratorException.
    ExpiredIterator,
    /// GetRecords: TrimmedDataAccessException.
    Trimmed,
    /// The table's stream was disabled.
    StreamDisabled,
    /// The table has a new stream (re-created, or disabled and enabled).
    StreamReplaced,
    /// The table was deleted.
    TableDeleted,
    /// The stream or a shard is gone (ResourceNotFoundException).
    StreamNotFound,
    /// Transient failures (throttling, 5xx, unreachable) past the retries.
    Unavailable,
    /// Anything else: an error or an answer the follower cannot classify.
    Other,
}

impl Interruption {
    pub fn as_str(self) -> &'static str {
        match self {
            Interruption::ExpiredIterator => "expired_iterator",
            Interruption::Trimmed => "trimmed",
            Interruption::StreamDisabled => "stream_disabled",
            Interruption::StreamReplaced => "stream_replaced",
            Interruption::TableDeleted => "table_deleted",
            Interruption::StreamNotFound => "stream_not_found",
            Interruption::Unavailable => "unavailable",
            Interruption::Other => "other",
        }
    }
}

impl Metrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let changes = IntCounter::new(
            "proxy_invalidations_received_total",
            "Change records received from the change feed (with an embedded store, the echoes of this proxy's own writes are counted but not read back)",
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
        let interruptions = IntCounterVec::new(
            Opts::new(
                "proxy_stream_interruptions_total",
                "Times the follow of a table's DynamoDB stream stopped (its cache entries dropped), by reason",
            ),
            &["reason"],
        )?;
        registry.register(Box::new(lag.clone()))?;
        registry.register(Box::new(interruptions.clone()))?;
        Ok(Metrics {
            changes,
            failures,
            tables_dropped,
            connected,
            ttl_only,
            lag,
            interruptions,
            status: Arc::default(),
        })
    }

    /// Why the feed is not connected, for `/readyz`.
    pub fn set_not_connected(&self, reason: impl Into<String>) {
        if let Ok(mut s) = self.status.lock() {
            s.not_connected = Some(reason.into());
        }
    }

    /// The follow of `table` stopped for `why` (`detail` says more): count
    /// it and show it in `/readyz` until [`Metrics::resumed`].
    pub fn interrupted(&self, table: &str, why: Interruption, detail: &str) {
        if let Ok(mut s) = self.status.lock() {
            s.interrupted
                .insert(table.to_owned(), format!("{}: {detail}", why.as_str()));
        }
        self.interruptions.with_label_values(&[why.as_str()]).inc();
    }

    /// The follow of `table` runs again (or the table is no longer
    /// followed).
    pub fn resumed(&self, table: &str) {
        if let Ok(mut s) = self.status.lock() {
            s.interrupted.remove(table);
        }
    }

    /// `/readyz`'s text besides "ready": why the feed is not connected, and
    /// each table whose follow is being restarted.
    pub fn describe(&self) -> String {
        let Ok(s) = self.status.lock() else {
            return String::new();
        };
        let mut out = String::new();
        if !self.feed_ready() {
            out.push_str(match &s.not_connected {
                Some(reason) => reason,
                None => "change feed not connected yet",
            });
            out.push('\n');
        }
        for (table, why) in &s.interrupted {
            out.push_str(&format!("table {table}: stream not followed ({why}); its cache entries were dropped, restarting\n"));
        }
        out
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
    /// The Ferrodyn feed, whose records always carry both, calls
    /// [`Targets::change_encoded`].
    pub fn change(&self, table: &str, keys: &Item, old: Option<&Item>, new: Option<&Item>) {
        let images = match (old, new) {
            (Some(o), Some(n)) => Some([Some(o), Some(n)]),
            _ => None,
        };
        self.invalidate_item(table, keys);
        if !self.queries.may_hold(table) {
            return;
        }
        let schema = self.schemas.cached(table);
        self.queries
            .invalidate_change(table, keys, images, schema.as_deref());
    }

    /// One committed change whose images are exact, as the store encodes
    /// items: `old` is `None` only for an insert, `new` only for a removal.
    /// An item-cache entry equal to `new` is kept (see
    /// `ItemCache::invalidate_unless_equal` for why that is safe), so the
    /// echo of a write made through this proxy does not undo its fill.
    /// Only the attributes the key schemas name are decoded.
    ///
    /// `origin` is the origin the in-process store recorded for the write
    /// (`BackendRequest::origin`). A change the item cache made itself
    /// leaves the item cache alone: the write that made it stores what it
    /// wrote, or drops the entry, once it is answered, or when its future is
    /// dropped (`ItemCache::finish_write`), and a later change made
    /// elsewhere is judged when it arrives, in commit order as always.
    pub fn change_encoded(
        &self,
        table: &str,
        keys: &EncodedItem,
        old: Option<&EncodedItem>,
        new: Option<&EncodedItem>,
        origin: Option<u64>,
    ) {
        let item_named = if origin.is_some() && origin == Some(self.items.origin()) {
            true
        } else {
            // The same bytes as the JSON of the decoded keys (the cache's key).
            let mut bytes = Vec::with_capacity(2 * keys.as_bytes().len() + 8);
            let named = keys.stored().write_json(&mut bytes).is_ok();
            if named {
                self.items.invalidate_unless_equal(
                    &self.items.key(table, bytes),
                    new.map(EncodedItem::as_bytes),
                );
            }
            named
        };
        // No query result of the table to invalidate: the rest is about
        // those (or, for a record that does not decode, the whole table).
        if !self.queries.may_hold(table) {
            if !item_named {
                self.drop_table(table);
            }
            return;
        }
        let schema = self.schemas.cached(table);
        // The images matter only for the index partitions they are in.
        let names: Vec<&String> = schema
            .as_deref()
            .and_then(|s| s.indexes.as_ref())
            .map(|indexes| indexes.iter().flat_map(|i| &i.partition).collect())
            .unwrap_or_default();
        let picked = |image: Option<&EncodedItem>| image.map(|i| i.stored().pick(&names));
        match (
            keys.decode(),
            picked(old).transpose(),
            picked(new).transpose(),
        ) {
            (Ok(keys), Ok(old), Ok(new)) => self.queries.invalidate_change(
                table,
                &keys,
                Some([old.as_ref(), new.as_ref()]),
                schema.as_deref(),
            ),
            // A record that does not decode names nothing reliably.
            _ => self.drop_table(table),
        }
    }

    fn invalidate_item(&self, table: &str, keys: &Item) {
        self.items
            .invalidate(&self.items.key(table, key_json(keys)));
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn targets() -> Targets {
        Targets {
            items: Arc::new(ItemCache::new(1 << 20, Duration::from_secs(60))),
            queries: Arc::new(QueryCache::for_tests()),
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
                let key = t.items.key("t", b"k");
                let lease = t.items.lease(&key);
                let entry = Arc::new(crate::item_cache::storage::Entry::new(None));
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

//! The item-cache layer: answers eventually consistent GetItem from memory
//! and keeps the cache coherent with every write that passes through it.
//!
//! * GetItem (not `ConsistentRead`, no `ReturnConsumedCapacity`): a hit is
//!   answered from the cached full item with the request's projection
//!   applied here; a miss asks the upstream for the *full* item, caches it
//!   (or its absence) under a lease, and answers with the projection.
//! * BatchGetItem (no table `ConsistentRead`, no `ReturnConsumedCapacity`):
//!   hits are answered here; all misses go upstream in one BatchGetItem for
//!   full items, which are cached; projections are applied here per table;
//!   the upstream's UnprocessedKeys are handed back (with the client's own
//!   projection). Anything else about the request passes it through whole.
//! * PutItem / UpdateItem / DeleteItem: the key is invalidated before the
//!   request is forwarded; once the upstream acknowledged it, the cache
//!   holds what the item now is — the PutItem's item, a DeleteItem's
//!   absence, an UpdateItem's new item (asked for with ReturnValues ALL_NEW
//!   when the client asked for NONE or ALL_NEW; the client still gets
//!   exactly what it asked for) — unless anything touched the key while the
//!   write was in flight, or the cache is full and does not hold the key
//!   (`ItemCache::finish_write`). Failed writes and other ReturnValues
//!   invalidate.
//!   Either way a client that writes through the proxy then reads through
//!   it always sees its write.
//! * BatchWriteItem / TransactWriteItems: the same, key by key — puts leave
//!   their item, deletes an absence, transactional updates an invalidation;
//!   keys returned in UnprocessedItems and every key of a failed request are
//!   invalidated. When a key cannot be named (a table whose key schema is
//!   unavailable), every table the request names is invalidated instead.
//! * PartiQL (`statement`): a SELECT planned as a GetItem is served from
//!   the same entries; writes invalidate the keys they name.
//! * Table management: the table is invalidated as a whole.
//! * Anything else passes through untouched.
//!
//! A request the layer cannot decode is passed through unchanged, so the
//! upstream answers it exactly as it would without the proxy.
//!
//! GetItem and single-item writes live here; `batch_get` answers
//! BatchGetItem and `multi_write` writes BatchWriteItem and
//! TransactWriteItems through, both on the same cache and protocol.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use ferrodyn_store::api::keys::key_json;
use ferrodyn_store::api::types::{
    DeleteRequest, KeysAndAttributes, PutRequest, ReturnValues, WriteRequest,
};
use ferrodyn_store::api::validate::WireEnum;
use ferrodyn_store::api::{self, Operation};
use ferrodyn_store::model::value::Item;
use ferrodyn_store::server::{BackendRequest, BackendResponse, Input};
use http::StatusCode;
use prometheus::{IntCounter, IntGauge, Registry};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::sync::watch;

use crate::abandoned::Abandoned;
use crate::item_cache::storage::{encode, CacheKey, Entry, Finished, ItemCache, Lease};
use crate::service::{Handle, Inner};

pub use crate::schemas::KeySchemas;

mod batch_get;
mod multi_write;
mod statement;
pub mod storage;

#[derive(Clone)]
pub struct Metrics {
    pub hits: IntCounter,
    pub misses: IntCounter,
    pub coalesced: IntCounter,
    pub fills_discarded: IntCounter,
    pub writes_not_admitted: IntCounter,
    pub invalidations: IntCounter,
    pub upstream_batches: IntCounter,
    pub evictions: IntCounter,
    pub evicted_bytes: IntCounter,
    pub bytes: IntGauge,
    /// `--item-cache-bytes`, set once at start.
    pub capacity: IntGauge,
    pub entries: IntGauge,
    pub tables: IntGauge,
}

impl Metrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        Ok(Metrics {
            hits: counter(
                "proxy_item_cache_hits_total",
                "GetItem requests and BatchGetItem keys answered from the item cache",
            )?,
            misses: counter(
                "proxy_item_cache_misses_total",
                "GetItem requests and BatchGetItem keys the item cache sent upstream",
            )?,
            coalesced: counter(
                "proxy_item_cache_coalesced_total",
                "GetItem misses answered by another request's upstream read",
            )?,
            fills_discarded: counter(
                "proxy_item_cache_fills_discarded_total",
                "Upstream reads, and results of acknowledged writes, not cached because another write or an invalidation of the key overtook them",
            )?,
            writes_not_admitted: counter(
                "proxy_item_cache_writes_not_admitted_total",
                "Written items not cached because the cache was full and held no entry for their key",
            )?,
            invalidations: counter(
                "proxy_item_cache_invalidations_total",
                "Keys and tables invalidated by writes",
            )?,
            upstream_batches: counter(
                "proxy_item_cache_batch_upstream_total",
                "BatchGetItem requests sent upstream for a batch's misses",
            )?,
            bytes: gauge(
                "proxy_item_cache_bytes",
                "Approximate bytes held by the item cache",
            )?,
            entries: gauge("proxy_item_cache_entries", "Entries held by the item cache")?,
            capacity: gauge(
                "proxy_item_cache_capacity_bytes",
                "The item cache's size bound (--item-cache-bytes)",
            )?,
            tables: gauge(
                "proxy_item_cache_tables",
                "Tables the item cache keeps per-table state for (bounded)",
            )?,
            evictions: counter(
                "proxy_item_cache_evictions_total",
                "Items evicted to stay within --item-cache-bytes (counted when /metrics is read)",
            )?,
            evicted_bytes: counter(
                "proxy_item_cache_evicted_bytes_total",
                "Bytes of items evicted to stay within --item-cache-bytes (counted when /metrics is read)",
            )?,
        })
    }

    /// Count what became of a write's result (`succeeded`: the write left
    /// something to store).
    fn count_finished(&self, finished: Finished, succeeded: bool) {
        match finished {
            Finished::Stored => {}
            Finished::Dropped if succeeded => self.fills_discarded.inc(),
            Finished::Dropped => {}
            Finished::NoRoom => self.writes_not_admitted.inc(),
        }
    }
}

#[derive(Clone)]
pub struct ItemCacheLayer {
    cache: Arc<ItemCache>,
    schemas: KeySchemas,
    metrics: Metrics,
    /// What an abandoned write-through waits for before it invalidates its
    /// key again (see [`crate::abandoned`]).
    abandoned: Abandoned,
    /// Upstream reads in progress, by key and generation: concurrent misses
    /// on one key share one upstream request. The generation is part of the
    /// flight's identity so a read that starts after a write never joins a
    /// read that started before it.
    flights: Arc<Mutex<HashMap<FlightKey, watch::Receiver<Option<FillResult>>>>>,
}

type FlightKey = (CacheKey, u64);
/// What a flight delivers: the entry, or the upstream's error response.
type FillResult = Result<Arc<Entry>, BackendResponse>;

enum Flight {
    Leader(FlightGuard),
    Follower(watch::Receiver<Option<FillResult>>),
}

/// The leader's end of a flight; leaves the table of flights when dropped,
/// even if the leader is cancelled.
struct FlightGuard {
    flights: Arc<Mutex<HashMap<FlightKey, watch::Receiver<Option<FillResult>>>>>,
    key: FlightKey,
    tx: watch::Sender<Option<FillResult>>,
}

impl FlightGuard {
    fn complete(self, result: FillResult) {
        self.tx.send_replace(Some(result));
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        if let Ok(mut flights) = self.flights.lock() {
            flights.remove(&self.key);
        }
    }
}

impl ItemCacheLayer {
    pub fn new(
        cache: Arc<ItemCache>,
        schemas: KeySchemas,
        metrics: Metrics,
        abandoned: Abandoned,
    ) -> ItemCacheLayer {
        ItemCacheLayer {
            cache,
            schemas,
            metrics,
            abandoned,
            flights: Arc::default(),
        }
    }
}

impl Handle for ItemCacheLayer {
    fn handle<S>(
        &self,
        inner: &S,
        req: BackendRequest,
    ) -> impl Future<Output = BackendResponse> + Send
    where
        S: Inner,
    {
        self.dispatch(inner, req)
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FullGet<'a> {
    table_name: &'a str,
    key: &'a Item,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct GetOutput<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<&'a Item>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetResponse {
    item: Option<Item>,
}

impl ItemCacheLayer {
    async fn dispatch<S>(&self, inner: &S, req: BackendRequest) -> BackendResponse
    where
        S: Inner,
    {
        match req.op {
            Operation::GetItem => self.get_item(inner, req).await,
            // The rarer requests' futures are boxed, so that this one stays
            // the size of the common ones (the layers above hold it whole).
            Operation::BatchGetItem => Box::pin(self.batch_get_item(inner, req)).await,
            Operation::PutItem | Operation::UpdateItem | Operation::DeleteItem => {
                match self.written(inner, &req).await {
                    Some(Written::Key(key, stored)) => {
                        self.write_through(inner, req, key, stored).await
                    }
                    Some(Written::Table(table)) => {
                        self.around_write(inner, req, |c| c.invalidate_table(&table))
                            .await
                    }
                    None => inner.call(req).await,
                }
            }
            Operation::BatchWriteItem | Operation::TransactWriteItems => {
                Box::pin(self.multi_write(inner, req)).await
            }
            Operation::ExecuteStatement
            | Operation::BatchExecuteStatement
            | Operation::ExecuteTransaction => Box::pin(self.statement(inner, req)).await,
            Operation::CreateTable
            | Operation::DeleteTable
            | Operation::UpdateTable
            | Operation::RestoreTableFromBackup
            | Operation::RestoreTableToPointInTime
            | Operation::ImportTable => {
                let table = api::decode::<ferrodyn_store::api::types::TableNameInput>(&req.body)
                    .ok()
                    .and_then(|t| t.table_name);
                match table {
                    Some(t) => {
                        self.around_write(inner, req, |c| c.invalidate_table(&t))
                            .await
                    }
                    None => inner.call(req).await,
                }
            }
            _ => inner.call(req).await,
        }
    }

    /// A BatchWriteItem or TransactWriteItems.
    async fn multi_write<S>(&self, inner: &S, req: BackendRequest) -> BackendResponse
    where
        S: Inner,
    {
        match self.multi_written(inner, &req).await {
            Some(writes) => self.multi_write_through(inner, req, writes).await,
            None => {
                // Keys unknown (undecodable request, table schema
                // unavailable): every table named is dropped.
                let tables = crate::request_tables::tables_named(&req);
                self.around_write(inner, req, |c| {
                    tables.iter().for_each(|t| c.invalidate_table(t))
                })
                .await
            }
        }
    }

    /// Invalidate, forward, invalidate again (see `cache` for why twice).
    async fn around_write<S>(
        &self,
        inner: &S,
        req: BackendRequest,
        invalidate: impl Fn(&ItemCache),
    ) -> BackendResponse
    where
        S: Inner,
    {
        invalidate(&self.cache);
        let resp = inner.call(req).await;
        invalidate(&self.cache);
        self.metrics.invalidations.inc();
        resp
    }

    /// What a PutItem / UpdateItem / DeleteItem writes, and what the cache
    /// can hold once the upstream acknowledged it.
    async fn written<S>(&self, inner: &S, req: &BackendRequest) -> Option<Written>
    where
        S: Inner,
    {
        let (table, key, stored) = match req.input()? {
            Input::PutItem(input) => {
                let table = input.table_name.as_deref()?;
                let item = input.item.as_ref()?;
                let Some(schema) = self.schemas.get(table, inner).await else {
                    return Some(Written::Table(table.to_owned()));
                };
                (
                    table,
                    schema.key_json_of(item),
                    Stored::Item(Bytes::from(encode(item))),
                )
            }
            Input::UpdateItem(input) => {
                let wanted = match input.return_values.as_deref() {
                    None => Some(ReturnValues::None),
                    Some(name) => ReturnValues::from_wire(name),
                };
                let stored = match wanted {
                    Some(ReturnValues::None) => Stored::UpdatedItem {
                        client_wants_it: false,
                    },
                    Some(ReturnValues::AllNew) => Stored::UpdatedItem {
                        client_wants_it: true,
                    },
                    // The client wants something else back (or something
                    // the upstream refuses): asking for the new item too is
                    // impossible, so just invalidate.
                    _ => Stored::Nothing,
                };
                (
                    input.table_name.as_deref()?,
                    key_json(input.key.as_ref()?),
                    stored,
                )
            }
            Input::DeleteItem(input) => (
                input.table_name.as_deref()?,
                key_json(input.key.as_ref()?),
                Stored::Absent,
            ),
            _ => return None,
        };
        Some(Written::Key(self.cache.key(table, key), stored))
    }

    /// Forward a single-item write and, once the upstream acknowledged it,
    /// keep what the item now is. Fills are stopped before the write is
    /// forwarded and the write recorded right after, so the fill happens only if
    /// nothing (a change from the feed, another write, a table drop) touched
    /// the key while the write was in flight; a failed write just
    /// invalidates.
    async fn write_through<S>(
        &self,
        inner: &S,
        mut req: BackendRequest,
        key: CacheKey,
        mut stored: Stored,
    ) -> BackendResponse
    where
        S: Inner,
    {
        self.cache.invalidate_fills(&key);
        self.metrics.invalidations.inc();
        self.cache.begin_write(&key);
        if let Stored::UpdatedItem { .. } = stored {
            // Ask for the new item; the client's answer is cut back below.
            if !req.set_return_values_all_new() {
                stored = Stored::Nothing;
            }
        }
        // An in-process store tells the change feed this write is ours: its
        // change needs no judging there (see `Targets::change_encoded`),
        // since the write itself is finished whatever happens to it. It
        // also writes the item as encoded here, not encoding it again.
        req.origin = Some(self.cache.origin());
        if let Stored::Item(encoded) = &stored {
            req.encoded_item = Some(encoded.clone());
        }
        // Wherever this future is dropped, the write must be finished.
        let mut guard = WriteGuard {
            cache: &self.cache,
            key: &key,
            abandoned: &self.abandoned,
            done: false,
        };
        let resp = inner.call(req).await;
        let (written, resp) = if resp.status != StatusCode::OK {
            (None, resp)
        } else {
            match stored {
                // The store let go of its share once it wrote the item:
                // the bytes become the entry's without a copy.
                Stored::Item(item) => (Some(Some(Vec::from(item).into_boxed_slice())), resp),
                Stored::Absent => (Some(None), resp),
                Stored::UpdatedItem { client_wants_it } => {
                    match take_attributes(&resp.body, !client_wants_it) {
                        Some((item, body)) => (
                            Some(Some(encode(&item))),
                            BackendResponse {
                                status: resp.status,
                                body: body.unwrap_or(resp.body),
                                crc32: None,
                            },
                        ),
                        // An answer we cannot take apart: pass it on whole
                        // (a client that asked for NONE then gets more than
                        // it asked, which no SDK rejects).
                        None => (None, resp),
                    }
                }
                Stored::Nothing => (None, resp),
            }
        };
        guard.done = true;
        let succeeded = written.is_some();
        let finished = self.cache.finish_write(&key, written);
        self.metrics.count_finished(finished, succeeded);
        resp
    }

    /// Answer `read` if the cache holds its key: the hit path, which the
    /// stack takes at its edge before any layer runs. `None`: the request
    /// goes down the layers (a miss is counted there).
    pub fn hit(&self, read: &crate::read_request::GetItem<'_>) -> Option<BackendResponse> {
        let key = self.cache.key(&read.table, read.key.clone());
        let entry = self.cache.get(&key)?;
        self.metrics.hits.inc();
        Some(respond(&entry, read.projection.as_ref()))
    }

    async fn get_item<S>(&self, inner: &S, req: BackendRequest) -> BackendResponse
    where
        S: Inner,
    {
        let Some(Input::GetItem(input)) = req.input() else {
            return inner.call(req).await;
        };
        let cacheable = input.consistent_read != Some(true)
            && matches!(
                input.return_consumed_capacity.as_deref(),
                None | Some("NONE")
            );
        let (Some(table), Some(key)) = (&input.table_name, &input.key) else {
            return inner.call(req).await;
        };
        if !cacheable {
            return inner.call(req).await;
        }
        let projection = match ferrodyn_store::ops::read_projection(
            input.projection_expression.as_deref(),
            input.attributes_to_get.as_deref(),
            input.expression_attribute_names.as_ref(),
        ) {
            Ok(p) => p,
            Err(_) => return inner.call(req).await,
        };
        let cache_key = self.cache.key(table, key_json(key));
        if let Some(entry) = self.cache.get(&cache_key) {
            self.metrics.hits.inc();
            return respond(&entry, projection.as_ref());
        }
        let lease = self.cache.lease(&cache_key);
        let flight_key = (cache_key.clone(), lease.generation());
        let leader = match self.join_flight(&flight_key) {
            Flight::Leader(guard) => guard,
            Flight::Follower(mut rx) => {
                if let Ok(done) = rx.wait_for(Option::is_some).await {
                    if let Some(result) = done.clone() {
                        self.metrics.coalesced.inc();
                        return match result {
                            Ok(entry) => respond(&entry, projection.as_ref()),
                            Err(resp) => resp,
                        };
                    }
                }
                // The leader was cancelled (its client went away): read alone.
                self.metrics.misses.inc();
                return match self.fetch(inner, &req, table, key, cache_key, lease).await {
                    Ok(entry) => respond(&entry, projection.as_ref()),
                    Err(resp) => resp,
                };
            }
        };
        self.metrics.misses.inc();
        let result = self.fetch(inner, &req, table, key, cache_key, lease).await;
        leader.complete(result.clone());
        match result {
            Ok(entry) => respond(&entry, projection.as_ref()),
            Err(resp) => resp,
        }
    }

    /// Read the full item upstream and cache it under `lease`.
    async fn fetch<S>(
        &self,
        inner: &S,
        req: &BackendRequest,
        table: &str,
        key: &Item,
        cache_key: CacheKey,
        lease: Lease,
    ) -> FillResult
    where
        S: Inner,
    {
        let full = match serde_json::to_vec(&FullGet {
            table_name: table,
            key,
        }) {
            Ok(body) => BackendRequest::new(req.op, req.headers.clone(), Bytes::from(body)),
            Err(_) => req.clone(),
        };
        let resp = inner.call(full).await;
        if resp.status != StatusCode::OK {
            return Err(resp);
        }
        let Ok(GetResponse { item }) = serde_json::from_slice::<GetResponse>(&resp.body) else {
            return Err(resp);
        };
        let entry = Arc::new(Entry::new(item));
        if !self.cache.fill(cache_key, lease, entry.clone()) {
            self.metrics.fills_discarded.inc();
        }
        Ok(entry)
    }

    /// Become the one reader of `key` at this generation, or wait for it.
    fn join_flight(&self, key: &FlightKey) -> Flight {
        let Ok(mut flights) = self.flights.lock() else {
            let (tx, _) = watch::channel(None);
            return Flight::Leader(FlightGuard {
                flights: self.flights.clone(),
                key: key.clone(),
                tx,
            });
        };
        if let Some(rx) = flights.get(key) {
            return Flight::Follower(rx.clone());
        }
        let (tx, rx) = watch::channel(None);
        flights.insert(key.clone(), rx);
        Flight::Leader(FlightGuard {
            flights: self.flights.clone(),
            key: key.clone(),
            tx,
        })
    }

    pub fn refresh_gauges(&self) {
        let (bytes, entries) = self.cache.usage();
        self.metrics
            .bytes
            .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        self.metrics
            .entries
            .set(i64::try_from(entries).unwrap_or(i64::MAX));
        self.metrics
            .tables
            .set(i64::try_from(self.cache.tracked_tables()).unwrap_or(i64::MAX));
        let evicted = self.cache.evictions();
        let reported = self.metrics.evictions.get();
        if evicted > reported {
            self.metrics.evictions.inc_by(evicted - reported);
        }
        let evicted = self.cache.evicted_bytes();
        let reported = self.metrics.evicted_bytes.get();
        if evicted > reported {
            self.metrics.evicted_bytes.inc_by(evicted - reported);
        }
    }
}

enum Written {
    Key(CacheKey, Stored),
    Table(String),
}

/// Finishes (as failed) a write whose future was dropped before the
/// upstream answered: the key is invalidated and its record released.
struct WriteGuard<'a> {
    cache: &'a Arc<ItemCache>,
    key: &'a CacheKey,
    abandoned: &'a Abandoned,
    done: bool,
}

impl Drop for WriteGuard<'_> {
    /// The write was abandoned (its client went away): what it left is
    /// unknown, and an embedded store may commit it only later, unseen by
    /// the change feed (its change carries this cache's origin). So the key
    /// is invalidated now and again once that store has settled it.
    fn drop(&mut self) {
        if !self.done {
            self.cache.finish_write(self.key, None);
            let (cache, key) = (self.cache.clone(), self.key.clone());
            self.abandoned.after_settled(move || cache.invalidate(&key));
        }
    }
}

/// What the cache may hold for the key once a write succeeded.
enum Stored {
    /// PutItem: the request's item, encoded (decoded values are
    /// canonical); shared with an in-process store, which writes it.
    Item(Bytes),
    /// DeleteItem: nothing (a tombstone).
    Absent,
    /// UpdateItem, asked upstream with ReturnValues ALL_NEW.
    UpdatedItem { client_wants_it: bool },
    /// Unknown: invalidate only.
    Nothing,
}

/// The members of a JSON object, values kept as their raw text.
type RawMembers = BTreeMap<String, Box<RawValue>>;

/// The `Attributes` of an UpdateItem answer, and (if `strip`) the answer
/// without them — the other members (ConsumedCapacity,
/// ItemCollectionMetrics) untouched.
fn take_attributes(body: &[u8], strip: bool) -> Option<(Item, Option<Bytes>)> {
    let mut members: RawMembers = serde_json::from_slice(body).ok()?;
    let raw = members.remove("Attributes")?;
    let item: Item = serde_json::from_str(raw.get()).ok()?;
    let body = if strip {
        Some(Bytes::from(serde_json::to_vec(&members).ok()?))
    } else {
        None
    };
    Some((item, body))
}

fn respond(
    entry: &Entry,
    projection: Option<&ferrodyn_store::expr::Projection>,
) -> BackendResponse {
    let item = projection.and_then(|p| Some((p, entry.item()?)));
    let (body, crc32) = match item {
        Some((p, i)) => {
            let projected = p.apply(&i);
            let body = serde_json::to_vec(&GetOutput {
                item: Some(&projected),
            })
            .map_or_else(|_| Bytes::from_static(b"{}"), Bytes::from);
            (body, None)
        }
        // The hit path: the answer is encoded once per entry.
        _ => {
            let (body, crc32) = entry.answer();
            (body.clone(), Some(*crc32))
        }
    };
    BackendResponse {
        status: StatusCode::OK,
        body,
        crc32,
    }
}

#[cfg(test)]
mod tests;

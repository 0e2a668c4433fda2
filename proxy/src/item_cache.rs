//! The item-cache layer: answers eventually consistent GetItem from memory
//! and keeps the cache coherent with every write that passes through it.
//!
//! * GetItem (not `ConsistentRead`, no `ReturnConsumedCapacity`): a hit is
//!   answered from the cached full item with the request's projection
//!   applied here; a miss asks the upstream for the *full* item, caches it
//!   (or its absence) under a lease, and answers with the projection.
//! * PutItem / UpdateItem / DeleteItem: the key is invalidated before the
//!   request is forwarded and again after the upstream answered (success or
//!   not), so a client that writes through the proxy then reads through it
//!   always sees its write.
//! * BatchWriteItem / TransactWriteItems and table management: every table
//!   they name is invalidated as a whole.
//! * Anything else passes through untouched.
//!
//! A request the layer cannot decode is passed through unchanged, so the
//! upstream answers it exactly as it would without the proxy.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use ferrodyn_store::api::types::{DeleteItemInput, GetItemInput, PutItemInput, UpdateItemInput};
use ferrodyn_store::api::{self, Operation};
use ferrodyn_store::model::value::Item;
use ferrodyn_store::server::{BackendRequest, BackendResponse};
use ferrodyn_store::Store;
use http::StatusCode;
use prometheus::{IntCounter, IntGauge, Registry};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tower::{Layer, Service, ServiceExt};

use crate::cache::{CacheKey, Entry, ItemCache, Lease};

/// Where the layer learns a table's key schema (needed to find the key of a
/// PutItem's item). Without one, PutItem invalidates the whole table.
#[derive(Clone)]
pub enum KeySchemas {
    Embedded(Store),
    Unknown,
}

#[derive(Clone)]
pub struct Metrics {
    pub hits: IntCounter,
    pub misses: IntCounter,
    pub coalesced: IntCounter,
    pub fills_discarded: IntCounter,
    pub invalidations: IntCounter,
    pub bytes: IntGauge,
    pub entries: IntGauge,
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
                "GetItem requests answered from the item cache",
            )?,
            misses: counter(
                "proxy_item_cache_misses_total",
                "GetItem requests the item cache sent upstream",
            )?,
            coalesced: counter(
                "proxy_item_cache_coalesced_total",
                "GetItem misses answered by another request's upstream read",
            )?,
            fills_discarded: counter(
                "proxy_item_cache_fills_discarded_total",
                "Upstream reads not cached because a write overtook them",
            )?,
            invalidations: counter(
                "proxy_item_cache_invalidations_total",
                "Keys and tables invalidated by writes",
            )?,
            bytes: gauge(
                "proxy_item_cache_bytes",
                "Approximate bytes held by the item cache",
            )?,
            entries: gauge("proxy_item_cache_entries", "Entries held by the item cache")?,
        })
    }
}

#[derive(Clone)]
pub struct ItemCacheLayer {
    cache: Arc<ItemCache>,
    schemas: KeySchemas,
    metrics: Metrics,
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
    pub fn new(cache: Arc<ItemCache>, schemas: KeySchemas, metrics: Metrics) -> ItemCacheLayer {
        ItemCacheLayer {
            cache,
            schemas,
            metrics,
            flights: Arc::default(),
        }
    }
}

impl<S> Layer<S> for ItemCacheLayer {
    type Service = ItemCacheService<S>;

    fn layer(&self, inner: S) -> ItemCacheService<S> {
        ItemCacheService {
            inner,
            shared: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct ItemCacheService<S> {
    inner: S,
    shared: ItemCacheLayer,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<BackendResponse, Infallible>> + Send>>;

impl<S> Service<BackendRequest> for ItemCacheService<S>
where
    S: Service<BackendRequest, Response = BackendResponse, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    type Response = BackendResponse;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: BackendRequest) -> BoxFuture {
        // Take the service that was driven to readiness; leave a clone.
        let inner = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, inner);
        let shared = self.shared.clone();
        Box::pin(async move { Ok(shared.handle(inner, req).await) })
    }
}

/// Only the members that name tables, for invalidation.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchWriteTables {
    request_items: Option<HashMap<String, serde::de::IgnoredAny>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TransactTables {
    transact_items: Option<Vec<HashMap<String, TableNameOnly>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableNameOnly {
    table_name: Option<String>,
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

async fn forward<S>(inner: S, req: BackendRequest) -> BackendResponse
where
    S: Service<BackendRequest, Response = BackendResponse, Error = Infallible>,
{
    match inner.oneshot(req).await {
        Ok(r) => r,
        Err(never) => match never {},
    }
}

impl ItemCacheLayer {
    async fn handle<S>(&self, inner: S, req: BackendRequest) -> BackendResponse
    where
        S: Service<BackendRequest, Response = BackendResponse, Error = Infallible> + Clone,
    {
        match req.op {
            Operation::GetItem => self.get_item(inner, req).await,
            Operation::PutItem | Operation::UpdateItem | Operation::DeleteItem => {
                match self.written_key(&req) {
                    Some(Written::Key(key)) => {
                        self.around_write(inner, req, |c| c.invalidate(&key)).await
                    }
                    Some(Written::Table(table)) => {
                        self.around_write(inner, req, |c| c.invalidate_table(&table))
                            .await
                    }
                    None => forward(inner, req).await,
                }
            }
            Operation::BatchWriteItem | Operation::TransactWriteItems => {
                let tables = tables_named(&req);
                self.around_write(inner, req, |c| {
                    tables.iter().for_each(|t| c.invalidate_table(t))
                })
                .await
            }
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
                    None => forward(inner, req).await,
                }
            }
            _ => forward(inner, req).await,
        }
    }

    /// Invalidate, forward, invalidate again (see `cache` for why twice).
    async fn around_write<S>(
        &self,
        inner: S,
        req: BackendRequest,
        invalidate: impl Fn(&ItemCache),
    ) -> BackendResponse
    where
        S: Service<BackendRequest, Response = BackendResponse, Error = Infallible>,
    {
        invalidate(&self.cache);
        let resp = forward(inner, req).await;
        invalidate(&self.cache);
        self.metrics.invalidations.inc();
        resp
    }

    fn written_key(&self, req: &BackendRequest) -> Option<Written> {
        let (table, key) = match req.op {
            Operation::PutItem => {
                let input: PutItemInput = api::decode(&req.body).ok()?;
                let table = input.table_name?;
                let schema = match &self.schemas {
                    KeySchemas::Embedded(store) => {
                        store.engine().table(&table).map(|t| t.key.clone())
                    }
                    KeySchemas::Unknown => None,
                };
                let Some(schema) = schema else {
                    return Some(Written::Table(table));
                };
                let item = input.item?;
                let key: Item = schema
                    .names()
                    .filter_map(|n| item.get(n).map(|v| (n.to_owned(), v.clone())))
                    .collect();
                (table, key)
            }
            Operation::UpdateItem => {
                let input: UpdateItemInput = api::decode(&req.body).ok()?;
                (input.table_name?, input.key?)
            }
            Operation::DeleteItem => {
                let input: DeleteItemInput = api::decode(&req.body).ok()?;
                (input.table_name?, input.key?)
            }
            _ => return None,
        };
        let bytes = serde_json::to_vec(&key).ok()?;
        Some(Written::Key(self.cache.key(&table, Bytes::from(bytes))))
    }

    async fn get_item<S>(&self, inner: S, req: BackendRequest) -> BackendResponse
    where
        S: Service<BackendRequest, Response = BackendResponse, Error = Infallible>,
    {
        let Ok(input) = api::decode::<GetItemInput>(&req.body) else {
            return forward(inner, req).await;
        };
        let cacheable = input.consistent_read != Some(true)
            && matches!(
                input.return_consumed_capacity.as_deref(),
                None | Some("NONE")
            );
        let (Some(table), Some(key)) = (&input.table_name, &input.key) else {
            return forward(inner, req).await;
        };
        if !cacheable {
            return forward(inner, req).await;
        }
        let projection = match ferrodyn_store::ops::read_projection(
            input.projection_expression.as_deref(),
            input.attributes_to_get.as_deref(),
            input.expression_attribute_names.as_ref(),
        ) {
            Ok(p) => p,
            Err(_) => return forward(inner, req).await,
        };
        let Ok(key_bytes) = serde_json::to_vec(key) else {
            return forward(inner, req).await;
        };
        let cache_key = self.cache.key(table, Bytes::from(key_bytes));
        if let Some(entry) = self.cache.get(&cache_key) {
            self.metrics.hits.inc();
            return respond(entry.item.as_ref(), projection.as_ref());
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
                            Ok(entry) => respond(entry.item.as_ref(), projection.as_ref()),
                            Err(resp) => resp,
                        };
                    }
                }
                // The leader was cancelled (its client went away): read alone.
                self.metrics.misses.inc();
                return match self.fetch(inner, &req, table, key, cache_key, lease).await {
                    Ok(entry) => respond(entry.item.as_ref(), projection.as_ref()),
                    Err(resp) => resp,
                };
            }
        };
        self.metrics.misses.inc();
        let result = self.fetch(inner, &req, table, key, cache_key, lease).await;
        leader.complete(result.clone());
        match result {
            Ok(entry) => respond(entry.item.as_ref(), projection.as_ref()),
            Err(resp) => resp,
        }
    }

    /// Read the full item upstream and cache it under `lease`.
    async fn fetch<S>(
        &self,
        inner: S,
        req: &BackendRequest,
        table: &str,
        key: &Item,
        cache_key: CacheKey,
        lease: Lease,
    ) -> FillResult
    where
        S: Service<BackendRequest, Response = BackendResponse, Error = Infallible>,
    {
        let full = match serde_json::to_vec(&FullGet {
            table_name: table,
            key,
        }) {
            Ok(body) => BackendRequest {
                op: req.op,
                headers: req.headers.clone(),
                body: Bytes::from(body),
            },
            Err(_) => req.clone(),
        };
        let resp = forward(inner, full).await;
        if resp.status != StatusCode::OK {
            return Err(resp);
        }
        let Ok(GetResponse { item }) = serde_json::from_slice::<GetResponse>(&resp.body) else {
            return Err(resp);
        };
        let entry = Arc::new(Entry { item });
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
    }
}

enum Written {
    Key(CacheKey),
    Table(String),
}

fn tables_named(req: &BackendRequest) -> Vec<String> {
    match req.op {
        Operation::BatchWriteItem => api::decode::<BatchWriteTables>(&req.body)
            .ok()
            .and_then(|b| b.request_items)
            .map(|m| m.into_keys().collect())
            .unwrap_or_default(),
        Operation::TransactWriteItems => api::decode::<TransactTables>(&req.body)
            .ok()
            .and_then(|t| t.transact_items)
            .map(|items| {
                items
                    .into_iter()
                    .flat_map(|m| m.into_values())
                    .filter_map(|t| t.table_name)
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

fn respond(
    item: Option<&Item>,
    projection: Option<&ferrodyn_store::expr::Projection>,
) -> BackendResponse {
    let projected;
    let item = match (item, projection) {
        (Some(i), Some(p)) => {
            projected = p.apply(i);
            Some(&projected)
        }
        (item, _) => item,
    };
    let body = serde_json::to_vec(&GetOutput { item }).unwrap_or_else(|_| b"{}".to_vec());
    BackendResponse {
        status: StatusCode::OK,
        body: Bytes::from(body),
    }
}

//! The query-cache layer: answers eventually consistent Query and Scan from
//! memory, and invalidates the cached results every write through the proxy
//! can affect. Storage and the tag/lease protocol are in [`storage`].
//!
//! * Query / Scan (not `ConsistentRead`, `ReturnConsumedCapacity` absent or
//!   NONE): the request is decoded into the store's typed input and its
//!   expressions (or legacy parameters) are resolved with the store's own
//!   resolver, so `#name`/`:value` placeholders, member order and
//!   whitespace do not matter: the cache key is the resolved form. Anything
//!   that does not resolve passes through uncached (the upstream then
//!   answers with its error). A Query is tagged with the partition it reads
//!   (table or index, partition key value), a Scan with its table. The
//!   response body is cached as the upstream sent it.
//! * PutItem / UpdateItem / DeleteItem / BatchWriteItem / TransactWriteItems:
//!   the base-table partitions written, every index result of the table and
//!   every Scan of it are invalidated before the request is forwarded and
//!   again after the upstream answered (the old images, hence the index
//!   partitions left, are unknown here; the change feed is exact).
//! * A PartiQL SELECT planned as a Query or Scan is cached as that Query
//!   or Scan (`statement`).
//! * PartiQL writes (ExecuteStatement, BatchExecuteStatement,
//!   ExecuteTransaction) invalidate like the JSON writes they compile to,
//!   found with the store's planner (`crate::statements`).
//! * Table management drops every result of the table, and makes the
//!   proxy learn the table's key schema again.
//!
//! A result is only cached under a lease taken before the upstream read, so
//! a fill overtaken by any invalidation of what it read is never served.

mod in_flight;
mod statement;
pub mod storage;

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;
use ferrodyn_store::api::types::{QueryInput, ScanInput, Select};
use ferrodyn_store::api::validate::WireEnum;
use ferrodyn_store::api::{self, Operation};
use ferrodyn_store::expr::KeyNames;
use ferrodyn_store::model::value::{AttributeValue, Item};
use ferrodyn_store::server::{BackendRequest, BackendResponse, Input};
use http::StatusCode;
use prometheus::{IntCounter, IntCounterVec, IntGauge, Opts, Registry};

use crate::abandoned::Abandoned;
use crate::query_cache::storage::{partition_tag, QueryCache, ReadTag, StorageMetrics};
use crate::read_request::asks_no_capacity;
use crate::schemas::{KeySchemas, TableKeys};
use crate::service::{Handle, Inner};
use in_flight::Unfinished;

#[derive(Clone)]
pub struct Metrics {
    pub hits: PerRead,
    pub misses: PerRead,
    pub fills_discarded: IntCounter,
    pub bytes: IntGauge,
    /// `--query-cache-bytes`, set once at start.
    pub capacity: IntGauge,
    pub entries: IntGauge,
    pub tables: IntGauge,
    /// Recorded by the storage (evictions, invalidations).
    pub storage: StorageMetrics,
}

/// One counter per cached operation, resolved by label when registered so
/// the hit path does no label lookup.
#[derive(Clone)]
pub struct PerRead {
    pub query: IntCounter,
    pub scan: IntCounter,
}

impl PerRead {
    fn of(&self, op: Operation) -> &IntCounter {
        match op {
            Operation::Scan => &self.scan,
            _ => &self.query,
        }
    }
}

impl Metrics {
    pub fn register(registry: &Registry) -> prometheus::Result<Metrics> {
        let counter = |name: &str, help: &str| -> prometheus::Result<IntCounter> {
            let c = IntCounter::new(name, help)?;
            registry.register(Box::new(c.clone()))?;
            Ok(c)
        };
        let by_op = |name: &str, help: &str| -> prometheus::Result<PerRead> {
            let c = IntCounterVec::new(Opts::new(name, help), &["operation"])?;
            registry.register(Box::new(c.clone()))?;
            Ok(PerRead {
                query: c.with_label_values(&[Operation::Query.name()]),
                scan: c.with_label_values(&[Operation::Scan.name()]),
            })
        };
        let gauge = |name: &str, help: &str| -> prometheus::Result<IntGauge> {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok(g)
        };
        Ok(Metrics {
            hits: by_op(
                "proxy_query_cache_hits_total",
                "Query and Scan requests answered from the query cache",
            )?,
            misses: by_op(
                "proxy_query_cache_misses_total",
                "Cacheable Query and Scan requests sent upstream",
            )?,
            fills_discarded: counter(
                "proxy_query_cache_fills_discarded_total",
                "Upstream results not cached because an invalidation overtook them",
            )?,
            bytes: gauge(
                "proxy_query_cache_bytes",
                "Approximate bytes held by the query cache",
            )?,
            capacity: gauge(
                "proxy_query_cache_capacity_bytes",
                "The query cache's size bound (--query-cache-bytes)",
            )?,
            entries: gauge(
                "proxy_query_cache_entries",
                "Results held by the query cache (including invalidated ones not yet reclaimed)",
            )?,
            tables: gauge(
                "proxy_query_cache_tables",
                "Tables the query cache keeps counters for (bounded)",
            )?,
            storage: StorageMetrics {
                evictions: counter(
                    "proxy_query_cache_evictions_total",
                    "Results evicted to stay within --query-cache-bytes",
                )?,
                evicted_bytes: counter(
                    "proxy_query_cache_evicted_bytes_total",
                    "Bytes of results evicted to stay within --query-cache-bytes",
                )?,
                invalidations: counter(
                    "proxy_query_cache_invalidations_total",
                    "Writes, changes and table drops that invalidated query results",
                )?,
            },
        })
    }
}

#[derive(Clone)]
pub struct QueryCacheLayer {
    cache: Arc<QueryCache>,
    schemas: KeySchemas,
    metrics: Metrics,
    /// What an abandoned write waits for before its second invalidation
    /// (see [`crate::abandoned`]).
    abandoned: Abandoned,
}

impl QueryCacheLayer {
    pub fn new(
        cache: Arc<QueryCache>,
        schemas: KeySchemas,
        metrics: Metrics,
        abandoned: Abandoned,
    ) -> QueryCacheLayer {
        QueryCacheLayer {
            cache,
            schemas,
            metrics,
            abandoned,
        }
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
    }
}

impl Handle for QueryCacheLayer {
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

/// What a write touches, as far as query results are concerned.
#[derive(Clone)]
enum Touched {
    /// Base-table partitions per table (`None`: unknown, the whole table).
    Partitions(Vec<(String, Option<Vec<AttributeValue>>)>),
    /// The table changed shape or went away.
    TableManagement(String),
}

/// A read's Select, if it is a valid one (`Some(None)` when absent); `None`
/// for a value outside the enumeration, which the upstream refuses.
fn requested_select(select: Option<&str>) -> Option<Option<Select>> {
    select.map_or(Some(None), |s| Select::from_wire(s).map(Some))
}

impl QueryCacheLayer {
    async fn dispatch<S>(&self, inner: &S, req: BackendRequest) -> BackendResponse
    where
        S: Inner,
    {
        match req.op {
            // The reads' future is boxed, as the rarer requests' are: this
            // one stays the size of a write's (the layers above hold it
            // whole).
            Operation::Query | Operation::Scan if self.cache.enabled() => {
                Box::pin(self.read(inner, req)).await
            }
            Operation::PutItem
            | Operation::UpdateItem
            | Operation::DeleteItem
            | Operation::BatchWriteItem
            | Operation::TransactWriteItems => {
                // A single-item write to a table none of whose results can
                // be cached (the usual case for a table never queried
                // through this proxy) has nothing to invalidate around it.
                if let Some(table) = single_item_table(&req) {
                    if !self.cache.may_hold(table) {
                        let table = table.to_owned();
                        let resp = self
                            .forward_write(inner, req, Unfinished::Unheld(&table))
                            .await;
                        self.cache.finish_unheld_write(&table);
                        return resp;
                    }
                }
                let touched = match self.touched(inner, &req).await {
                    Some(t) => Some(t),
                    None => tables_named(&req),
                };
                match touched {
                    Some(touched) => self.around_write(inner, req, touched).await,
                    None => inner.call(req).await,
                }
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
                        self.around_write(inner, req, Touched::TableManagement(t))
                            .await
                    }
                    None => inner.call(req).await,
                }
            }
            _ => inner.call(req).await,
        }
    }

    /// A PartiQL request: a SELECT the cache can answer, or writes.
    async fn statement<S>(&self, inner: &S, req: BackendRequest) -> BackendResponse
    where
        S: Inner,
    {
        if let Some((key, tag)) = self.statement_read_key(inner, &req).await {
            // Counted as the operation the statement plans.
            let op = match tag {
                ReadTag::Table { .. } => Operation::Scan,
                ReadTag::Partition { .. } => Operation::Query,
            };
            return self.cached_read(inner, req, key, tag, op).await;
        }
        let written = crate::statements::writes(&req, &self.schemas, inner).await;
        let writes = written
            .iter()
            .flatten()
            .map(|w| match w {
                crate::statements::Write::Key(t, k) => (t.as_str(), Some(k)),
                crate::statements::Write::Table(t) => (t.as_str(), None),
            })
            .collect();
        match self.touched_by(inner, writes).await {
            Some(touched) => self.around_write(inner, req, touched).await,
            None => inner.call(req).await,
        }
    }

    /// Invalidate, forward, invalidate again: whatever a concurrent read
    /// saw, no result read before the write completed survives it.
    async fn around_write<S>(
        &self,
        inner: &S,
        req: BackendRequest,
        touched: Touched,
    ) -> BackendResponse
    where
        S: Inner,
    {
        self.invalidate(&touched);
        let resp = self
            .forward_write(inner, req, Unfinished::Touched(&touched))
            .await;
        self.invalidate(&touched);
        resp
    }

    fn invalidate(&self, touched: &Touched) {
        match touched {
            Touched::Partitions(tables) => {
                for (table, partitions) in tables {
                    self.cache.invalidate_write(table, partitions.as_deref());
                }
            }
            Touched::TableManagement(table) => {
                self.schemas.forget(table);
                self.cache.drop_table(table);
            }
        }
    }

    /// The tables and partitions a write request names. `None` when it
    /// names no table (it will fail upstream, changing nothing).
    async fn touched<S>(&self, inner: &S, req: &BackendRequest) -> Option<Touched>
    where
        S: Inner,
    {
        // (table, the written item or key); the partition is found with the
        // table's key schema.
        let mut writes: Vec<(&str, Option<&Item>)> = Vec::new();
        match req.input()? {
            Input::PutItem(input) => {
                writes.push((input.table_name.as_deref()?, input.item.as_ref()));
            }
            Input::UpdateItem(input) => {
                writes.push((input.table_name.as_deref()?, input.key.as_ref()));
            }
            Input::DeleteItem(input) => {
                writes.push((input.table_name.as_deref()?, input.key.as_ref()));
            }
            Input::BatchWriteItem(input) => {
                for (table, requests) in input.request_items.as_ref()? {
                    for r in requests {
                        let item = match (&r.put_request, &r.delete_request) {
                            (Some(p), None) => p.item.as_ref(),
                            (None, Some(d)) => d.key.as_ref(),
                            _ => None,
                        };
                        writes.push((table, item));
                    }
                }
            }
            Input::TransactWriteItems(input) => {
                for t in input.transact_items.as_ref()? {
                    // A ConditionCheck writes nothing.
                    let action = match (&t.put, &t.update, &t.delete) {
                        (Some(p), None, None) => Some((&p.table_name, p.item.as_ref())),
                        (None, Some(a), None) | (None, None, Some(a)) => {
                            Some((&a.table_name, a.key.as_ref()))
                        }
                        (None, None, None) => None,
                        // Malformed (the upstream refuses it): whole tables.
                        (p, u, d) => {
                            let named = [
                                p.as_ref().map(|p| &p.table_name),
                                u.as_ref().map(|a| &a.table_name),
                                d.as_ref().map(|a| &a.table_name),
                            ];
                            for t in named.into_iter().flatten().flatten() {
                                writes.push((t, None));
                            }
                            None
                        }
                    };
                    if let Some((Some(table), item)) = action {
                        writes.push((table, item));
                    }
                }
            }
            _ => return None,
        }
        self.touched_by(inner, writes).await
    }

    /// The partitions `writes` (table, the written item or key; `None`: the
    /// whole table) touch.
    async fn touched_by<S>(&self, inner: &S, writes: Vec<(&str, Option<&Item>)>) -> Option<Touched>
    where
        S: Inner,
    {
        let mut tables: Vec<(String, Option<Vec<AttributeValue>>)> = Vec::new();
        for (table, item) in writes {
            let pos = match tables.iter().position(|(t, _)| t == table) {
                Some(p) => p,
                None => {
                    tables.push((table.to_owned(), Some(Vec::new())));
                    tables.len() - 1
                }
            };
            let keys = match item {
                Some(_) => self.schemas.get(table, inner).await,
                None => None,
            };
            let value = match (keys, item) {
                (Some(keys), Some(item)) => keys.partition_of(item).cloned(),
                _ => None,
            };
            match value {
                Some(v) => {
                    if let Some(values) = &mut tables[pos].1 {
                        values.push(v);
                    }
                }
                None => tables[pos].1 = None,
            }
        }
        if tables.is_empty() {
            return None;
        }
        Some(Touched::Partitions(tables))
    }

    /// Answer a Query or Scan if the cache holds its result: the hit path,
    /// which the stack takes at its edge before any layer runs. Only key
    /// schemas known without asking the upstream are used. `None`: the
    /// request goes down the layers (a miss is counted there).
    pub fn hit(&self, req: &BackendRequest) -> Option<BackendResponse> {
        if !self.cache.enabled() {
            return None;
        }
        let (key, _) = match req.op {
            Operation::Query => {
                let Input::Query(input) = req.input()? else {
                    return None;
                };
                if !cacheable_query(input) {
                    return None;
                }
                let keys = self.schemas.cached(input.table_name.as_deref()?)?;
                canonical_query(input, &keys)?
            }
            Operation::Scan => {
                let Input::Scan(input) = req.input()? else {
                    return None;
                };
                if !cacheable_scan(input) {
                    return None;
                }
                canonical_scan(input)?
            }
            _ => return None,
        };
        let (body, crc32) = self.cache.get(&key)?;
        self.metrics.hits.of(req.op).inc();
        Some(BackendResponse {
            status: StatusCode::OK,
            body,
            crc32: Some(crc32),
        })
    }

    async fn read<S>(&self, inner: &S, req: BackendRequest) -> BackendResponse
    where
        S: Inner,
    {
        let canonical = match req.input() {
            Some(Input::Query(input)) if cacheable_query(input) => match &input.table_name {
                Some(table) => match self.schemas.get(table, inner).await {
                    // An index this proxy has not seen may have been
                    // created elsewhere: learn the table's keys again.
                    Some(keys)
                        if keys.target(input.index_name.as_deref()).is_none()
                            && input.index_name.is_some() =>
                    {
                        self.schemas.forget(table);
                        match self.schemas.get(table, inner).await {
                            Some(keys) => canonical_query(input, &keys),
                            None => None,
                        }
                    }
                    Some(keys) => canonical_query(input, &keys),
                    None => None,
                },
                None => None,
            },
            Some(Input::Scan(input)) if cacheable_scan(input) => canonical_scan(input),
            _ => None,
        };
        let Some((key, tag)) = canonical else {
            return inner.call(req).await;
        };
        let op = req.op;
        self.cached_read(inner, req, key, tag, op).await
    }

    /// Answer a read whose cache key is `key` from the cache (counted as a
    /// hit or miss of `op`), or forward it and keep the answer if no
    /// invalidation overtook the read.
    async fn cached_read<S>(
        &self,
        inner: &S,
        req: BackendRequest,
        key: Bytes,
        tag: ReadTag,
        op: Operation,
    ) -> BackendResponse
    where
        S: Inner,
    {
        if let Some((body, crc32)) = self.cache.get(&key) {
            self.metrics.hits.of(op).inc();
            return BackendResponse {
                status: StatusCode::OK,
                body,
                crc32: Some(crc32),
            };
        }
        self.metrics.misses.of(op).inc();
        let lease = self.cache.lease(&tag);
        let resp = inner.call(req).await;
        if resp.status == StatusCode::OK {
            let kept = lease.is_some_and(|l| self.cache.fill(key, l, resp.body.clone()));
            if !kept {
                self.metrics.fills_discarded.inc();
            }
        }
        resp
    }
}

/// The table a PutItem, UpdateItem or DeleteItem writes, if it decoded.
fn single_item_table(req: &BackendRequest) -> Option<&str> {
    match req.input()? {
        Input::PutItem(input) => input.table_name.as_deref(),
        Input::UpdateItem(input) => input.table_name.as_deref(),
        Input::DeleteItem(input) => input.table_name.as_deref(),
        _ => None,
    }
}

/// A write this layer could not decode in full (an upstream may accept
/// what the store's types refuse): whole tables, from only their names.
fn tables_named(req: &BackendRequest) -> Option<Touched> {
    let names = crate::request_tables::tables_named(req);
    if names.is_empty() {
        return None;
    }
    Some(Touched::Partitions(
        names.into_iter().map(|t| (t, None)).collect(),
    ))
}

fn cacheable_query(input: &QueryInput) -> bool {
    input.consistent_read != Some(true)
        && asks_no_capacity(input.return_consumed_capacity.as_deref())
}

fn cacheable_scan(input: &ScanInput) -> bool {
    input.consistent_read != Some(true)
        && asks_no_capacity(input.return_consumed_capacity.as_deref())
}

/// The canonical form of a Query reading the table or index whose keys
/// `keys` describes, and the partition it reads. `None`: not cacheable.
///
/// Every member that changes the answer is in the key, resolved: the key
/// condition, filter and projection (placeholders substituted, legacy
/// forms translated), Select, Limit, direction and ExclusiveStartKey.
pub fn canonical_query(input: &QueryInput, keys: &TableKeys) -> Option<(Bytes, ReadTag)> {
    let table = input.table_name.as_deref()?;
    let (partition, sort) = keys.target(input.index_name.as_deref())?;
    let resolved = ferrodyn_store::ops::resolve_query(input, &KeyNames { partition, sort }).ok()?;
    let key_condition = resolved.key.as_ref()?;
    let values: Vec<&AttributeValue> = key_condition.partition_values.iter().collect();
    let value = partition_tag(&values)?;
    let start = match &input.exclusive_start_key {
        Some(k) => Some(serde_json::to_string(k).ok()?),
        None => None,
    };
    let select = requested_select(input.select.as_deref())?;
    let canonical = format!(
        "Query\0{table}\0{:?}\0{:?}\0{:?}\0{}\0{:?}\0{:?}",
        input.index_name,
        select,
        input.limit,
        input.scan_index_forward.unwrap_or(true),
        start,
        resolved,
    );
    Some((
        Bytes::from(canonical),
        ReadTag::Partition {
            table: table.to_owned(),
            index: input.index_name.clone(),
            value,
        },
    ))
}

/// The canonical form of a Scan, and the table it reads. `None`: not
/// cacheable.
pub fn canonical_scan(input: &ScanInput) -> Option<(Bytes, ReadTag)> {
    let table = input.table_name.as_deref()?;
    let resolved = ferrodyn_store::ops::resolve_scan(input).ok()?;
    let start = match &input.exclusive_start_key {
        Some(k) => Some(serde_json::to_string(k).ok()?),
        None => None,
    };
    let select = requested_select(input.select.as_deref())?;
    let canonical = format!(
        "Scan\0{table}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}\0{:?}",
        input.index_name, select, input.limit, input.segment, input.total_segments, start, resolved,
    );
    Some((
        Bytes::from(canonical),
        ReadTag::Table {
            table: table.to_owned(),
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schemas::IndexKeys;

    fn keys() -> TableKeys {
        TableKeys {
            partition: "pk".into(),
            sort: Some("sk".into()),
            indexes: Some(vec![IndexKeys {
                name: "g".into(),
                partition: vec!["gp".into()],
                sort: Vec::new(),
            }]),
        }
    }

    fn query(json: &str) -> Option<(Bytes, ReadTag)> {
        let input: QueryInput = api::decode(json.as_bytes()).expect("decodes");
        canonical_query(&input, &keys())
    }

    fn scan(json: &str) -> Option<(Bytes, ReadTag)> {
        let input: ScanInput = api::decode(json.as_bytes()).expect("decodes");
        canonical_scan(&input)
    }

    #[test]
    fn placeholder_names_and_member_order_do_not_matter() {
        let a = query(
            r##"{"TableName":"t","KeyConditionExpression":"#p = :v AND #s > :lo",
                "ExpressionAttributeNames":{"#p":"pk","#s":"sk"},
                "ExpressionAttributeValues":{":v":{"S":"a"},":lo":{"N":"1"}}}"##,
        )
        .expect("cacheable");
        let b = query(
            r##"{"ExpressionAttributeValues":{":low":{"N":"1.0"},":x":{"S":"a"}},
                "KeyConditionExpression":"  pk=:x and sk >  :low ",
                "TableName":"t"}"##,
        )
        .expect("cacheable");
        assert_eq!(a, b);
        assert_eq!(
            a.1,
            ReadTag::Partition {
                table: "t".into(),
                index: None,
                value: Bytes::from_static(br#"[{"S":"a"}]"#),
            }
        );
    }

    #[test]
    fn legacy_key_conditions_canonicalise_like_expressions() {
        let a = query(
            r#"{"TableName":"t","KeyConditions":{"pk":{"ComparisonOperator":"EQ","AttributeValueList":[{"S":"a"}]}}}"#,
        )
        .expect("cacheable");
        let b = query(
            r#"{"TableName":"t","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}}}"#,
        )
        .expect("cacheable");
        assert_eq!(a.1, b.1);
    }

    #[test]
    fn members_that_change_the_answer_change_the_key() {
        let base = r#""TableName":"t","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}}"#;
        let plain = query(&format!("{{{base}}}")).expect("cacheable").0;
        for extra in [
            r#","Limit":1"#,
            r#","ScanIndexForward":false"#,
            r#","ProjectionExpression":"x""#,
            r#","Select":"COUNT""#,
            r#","ExclusiveStartKey":{"pk":{"S":"a"},"sk":{"N":"1"}}"#,
        ] {
            let other = query(&format!("{{{base}{extra}}}")).expect("cacheable").0;
            assert_ne!(plain, other, "{extra}");
        }
        let other_value = query(
            r#"{"TableName":"t","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"b"}}}"#,
        )
        .expect("cacheable")
        .0;
        assert_ne!(plain, other_value);
        let on_index = query(
            r#"{"TableName":"t","IndexName":"g","KeyConditionExpression":"gp = :a","ExpressionAttributeValues":{":a":{"S":"a"}}}"#,
        )
        .expect("cacheable");
        assert_ne!(plain, on_index.0);
        assert!(matches!(on_index.1, ReadTag::Partition { index: Some(ref i), .. } if i == "g"));
    }

    #[test]
    fn unresolvable_requests_are_not_cached() {
        // An unused value, a missing placeholder, a key condition on a
        // non-key attribute, an unknown index.
        assert!(query(r#"{"TableName":"t","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"},":b":{"S":"b"}}}"#).is_none());
        assert!(query(r#"{"TableName":"t","KeyConditionExpression":"pk = :a"}"#).is_none());
        assert!(query(r#"{"TableName":"t","KeyConditionExpression":"x = :a","ExpressionAttributeValues":{":a":{"S":"a"}}}"#).is_none());
        assert!(query(r#"{"TableName":"t","IndexName":"nope","KeyConditionExpression":"pk = :a","ExpressionAttributeValues":{":a":{"S":"a"}}}"#).is_none());
        assert!(scan(r##"{"TableName":"t","FilterExpression":"#x = :a","ExpressionAttributeValues":{":a":{"S":"a"}}}"##).is_none());
    }

    #[test]
    fn scans_canonicalise_and_are_tagged_with_their_table() {
        let a = scan(
            r##"{"TableName":"t","FilterExpression":"#n > :v","ExpressionAttributeNames":{"#n":"n"},"ExpressionAttributeValues":{":v":{"N":"2"}}}"##,
        )
        .expect("cacheable");
        let b = scan(
            r#"{"ExpressionAttributeValues":{":w":{"N":"2"}},"TableName":"t","FilterExpression":"n>:w"}"#,
        )
        .expect("cacheable");
        assert_eq!(a, b);
        assert_eq!(a.1, ReadTag::Table { table: "t".into() });
        let segment =
            scan(r#"{"TableName":"t","Segment":0,"TotalSegments":2}"#).expect("cacheable");
        let whole = scan(r#"{"TableName":"t"}"#).expect("cacheable");
        assert_ne!(segment.0, whole.0);
    }
}

//! Contributor insights: the most requested keys of each table, as the
//! admin endpoint's `/insights` reports them.
//!
//! Counting every key exactly would take memory proportional to the key
//! space; instead each table keeps a fixed number of counters in the
//! store's streaming top-K summary ([`ferrodyn_store::topk`], Space-Saving):
//! a key already counted is incremented; a new key takes over the smallest
//! counter and inherits its count as an error bound.
//!
//! Every request is counted, cache hits included, so the summaries are
//! split into `SHARDS` by a hash of (table, key), each behind its own lock:
//! concurrent requests for different keys rarely wait for each other. A key
//! always lands in the same shard, so a report is the union of the shards.
//! Every key requested more often than `its shard's requests / CAPACITY`
//! is guaranteed to be present, and each reported count overstates the
//! truth by at most its `error`.
//!
//! Keys come from the requests that name them: GetItem, UpdateItem,
//! DeleteItem (`Key`) and BatchGetItem (each key). PutItem and Query name no
//! primary key by themselves and are not counted.
//!
//! Counting sits on the cache-hit path, so a key is identified by its JSON
//! text as the client sent it (no decoding, no allocation for a key already
//! counted); it is decoded only for the report. A client that spelled one
//! key two ways (attribute order, whitespace) would see it twice.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};

use ferrodyn_store::api::{self, Operation};
use ferrodyn_store::model::value::Item;
use ferrodyn_store::server::{BackendRequest, BackendResponse};
use ferrodyn_store::topk::TopK;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tower::Layer;

use crate::service::Inner;

/// Summaries per table, each with its own lock.
const SHARDS: usize = 4;
/// Counters kept per table in each shard.
const CAPACITY: usize = 32;
/// Tables tracked at most in each shard (the first ones requested); beyond
/// that a busy proxy's memory for insights stays bounded.
const MAX_TABLES: usize = 256;
/// Longest key text counted: DynamoDB's key values are at most 2048 + 1024
/// bytes, which base64 and JSON framing keep well under this.
const MAX_KEY_TEXT: usize = 8 * 1024;

/// A key and how often it was requested.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct HotKey {
    pub key: Item,
    /// Requests counted for this key (an upper bound).
    pub requests: u64,
    /// How much `requests` may overstate the true count.
    pub error: u64,
}

/// One table's report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct TableReport {
    pub table_name: String,
    /// Requests naming a key of this table since start.
    pub requests: u64,
    pub hottest_keys: Vec<HotKey>,
}

/// One shard: each table's summary of its keys (JSON text).
type Tables = HashMap<String, TopK<String>, foldhash::fast::RandomState>;

/// A table's requests and (key, count, error) counters from every shard.
type Merged = (u64, Vec<(String, u64, u64)>);

/// The per-table summaries, shared by the layer and the admin endpoint.
#[derive(Clone)]
pub struct Insights {
    shards: Arc<[Mutex<Tables>]>,
    hasher: foldhash::fast::RandomState,
}

impl Default for Insights {
    fn default() -> Insights {
        Insights {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: Default::default(),
        }
    }
}

impl Insights {
    /// Count one request for `key` (its JSON text) in `table`.
    pub fn record(&self, table: &str, key: &str) {
        // Names and keys DynamoDB would refuse are not counted: they would
        // only cost memory (a key is at most 3 KB of values, whatever its
        // encoding).
        if key.len() > MAX_KEY_TEXT || !crate::request_tables::is_table_name(table) {
            return;
        }
        let shard = self.hasher.hash_one((table, key)) as usize % SHARDS;
        let Some(Ok(mut tables)) = self.shards.get(shard).map(|s| s.lock()) else {
            return;
        };
        if let Some(t) = tables.get_mut(table) {
            t.record(key, 1);
        } else if tables.len() < MAX_TABLES {
            tables
                .entry(table.to_owned())
                .or_insert_with(|| TopK::new(CAPACITY))
                .record(key, 1);
        }
    }

    /// The `top` hottest keys of every table, hottest first; tables by name.
    pub fn report(&self, top: usize) -> Vec<TableReport> {
        let mut merged: BTreeMap<String, Merged> = BTreeMap::new();
        for shard in self.shards.iter() {
            let Ok(tables) = shard.lock() else {
                continue;
            };
            for (name, t) in tables.iter() {
                let m = merged.entry(name.clone()).or_default();
                m.0 += t.total();
                m.1.extend(t.iter().map(|(k, c)| (k.clone(), c.count, c.error)));
            }
        }
        merged
            .into_iter()
            .map(|(name, (requests, mut keys))| {
                keys.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
                TableReport {
                    table_name: name,
                    requests,
                    hottest_keys: keys
                        .into_iter()
                        .take(top)
                        .filter_map(|(k, requests, error)| {
                            Some(HotKey {
                                key: serde_json::from_str(&k).ok()?,
                                requests,
                                error,
                            })
                        })
                        .collect(),
                }
            })
            .collect()
    }

    /// Drop what is known about `table` (it was deleted or re-created).
    pub fn forget(&self, table: &str) {
        for shard in self.shards.iter() {
            if let Ok(mut tables) = shard.lock() {
                tables.remove(table);
            }
        }
    }

    /// Count the keys `req` names. Requests that do not decode are skipped:
    /// the upstream will reject them.
    fn observe(&self, req: &BackendRequest) {
        match req.op {
            Operation::GetItem | Operation::UpdateItem | Operation::DeleteItem => {
                if let Ok(KeyedRequest {
                    table_name: Some(t),
                    key: Some(k),
                }) = serde_json::from_slice::<KeyedRequest>(&req.body)
                {
                    self.record(&t, k.get());
                }
            }
            Operation::BatchGetItem => {
                if let Ok(BatchGet {
                    request_items: Some(items),
                }) = serde_json::from_slice::<BatchGet>(&req.body)
                {
                    for (table, keys) in items {
                        for k in keys.keys.unwrap_or_default() {
                            self.record(&table, k.get());
                        }
                    }
                }
            }
            Operation::DeleteTable | Operation::CreateTable => {
                if let Ok(t) = api::decode::<api::types::TableNameInput>(&req.body) {
                    if let Some(t) = t.table_name {
                        self.forget(&t);
                    }
                }
            }
            _ => {}
        }
    }
}

/// Only the members naming keys, borrowed from the body (table names are
/// short and rarely escaped; `Cow` keeps an escaped one working).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyedRequest<'a> {
    #[serde(borrow)]
    table_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    key: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchGet<'a> {
    #[serde(borrow)]
    request_items: Option<HashMap<Cow<'a, str>, BatchKeys<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BatchKeys<'a> {
    #[serde(borrow)]
    keys: Option<Vec<&'a RawValue>>,
}

/// Records the keys each request names, then hands it on unchanged.
#[derive(Clone)]
pub struct InsightsLayer(pub Insights);

impl<S> Layer<S> for InsightsLayer {
    type Service = InsightsService<S>;

    fn layer(&self, inner: S) -> InsightsService<S> {
        InsightsService {
            inner,
            insights: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct InsightsService<S> {
    inner: S,
    insights: Insights,
}

impl<S: Inner> Inner for InsightsService<S> {
    fn call(&self, req: BackendRequest) -> impl Future<Output = BackendResponse> + Send {
        self.insights.observe(&req);
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrodyn_store::model::value::AttributeValue;

    fn key(n: u64) -> Item {
        Item::from([("pk".to_owned(), AttributeValue::S(format!("k{n}")))])
    }

    fn text(n: u64) -> String {
        serde_json::to_string(&key(n)).expect("key JSON")
    }

    #[test]
    fn heavy_hitters_survive_a_long_tail() {
        let insights = Insights::default();
        // Three hot keys among 10 000 keys requested once each.
        for i in 0..10_000u64 {
            insights.record("tbl", &text(1_000_000 + i));
            if i.is_multiple_of(10) {
                insights.record("tbl", &text(1));
            }
            if i.is_multiple_of(20) {
                insights.record("tbl", &text(2));
            }
            if i.is_multiple_of(40) {
                insights.record("tbl", &text(3));
            }
        }
        let report = insights.report(3);
        assert_eq!(report.len(), 1);
        let hot: Vec<&Item> = report[0].hottest_keys.iter().map(|h| &h.key).collect();
        assert_eq!(hot, [&key(1), &key(2), &key(3)]);
        for h in &report[0].hottest_keys {
            assert!(h.requests >= h.error);
        }
        assert_eq!(report[0].requests, 10_000 + 1000 + 500 + 250);
    }

    #[test]
    fn counts_are_exact_while_keys_fit() {
        let insights = Insights::default();
        for n in 0..10u64 {
            for _ in 0..=n {
                insights.record("tbl", &text(n));
            }
        }
        let report = insights.report(2);
        let top = &report[0].hottest_keys;
        assert_eq!(top[0].key, key(9));
        assert_eq!((top[0].requests, top[0].error), (10, 0));
        assert_eq!((top[1].requests, top[1].error), (9, 0));
    }

    #[test]
    fn forgetting_a_table_clears_its_counts() {
        let insights = Insights::default();
        insights.record("tbl", &text(1));
        insights.forget("tbl");
        assert!(insights.report(10).is_empty());
    }
}

//! Criterion benchmarks of the proxy's cache-hit path, in-process and
//! without HTTP: the assembled stack (called as the HTTP front end calls it)
//! answering a GetItem, BatchGetItem and Query from its caches, and each
//! layer alone over an inner service that answers at once, so each layer's
//! own cost per request can be read off.
//!
//! The baselines, measured in the same run: `floor/inner` is the trivial
//! inner service alone (what driving a future costs here), and
//! `floor/dynamodb_json` is what a minimal DynamoDB-JSON server does per
//! GetItem (serde_json decode of the request, a HashMap lookup, encode of
//! the item): a hit must cost less than that.
//!
//! `cargo bench -p ferrodyn-bench --bench hit_path`. Under `cargo test` each
//! benchmark runs once.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use ferrodyn_bench::keys::Distribution;
use ferrodyn_bench::workload::Shape;
use ferrodyn_proxy::abandoned::Abandoned;
use ferrodyn_proxy::insights::{Insights, InsightsLayer};
use ferrodyn_proxy::item_cache::storage::ItemCache;
use ferrodyn_proxy::item_cache::ItemCacheLayer;
use ferrodyn_proxy::query_cache::storage::QueryCache;
use ferrodyn_proxy::query_cache::QueryCacheLayer;
use ferrodyn_proxy::schemas::KeySchemas;
use ferrodyn_proxy::service::{HandleLayer, Inner, InnerFn};
use ferrodyn_proxy::upstream::Upstream;
use ferrodyn_proxy::{item_cache, metrics, query_cache, stack};
use ferrodyn_store::api::Operation;
use ferrodyn_store::model::Item;
use ferrodyn_store::server::{Backend, BackendRequest, BackendResponse};
use ferrodyn_store::{Store, StoreConfig};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use tokio::runtime::Runtime;
use tower::Layer;

fn shape() -> Shape {
    Shape {
        table: "hitpath".into(),
        per_partition: 1,
        fields: 10,
        field_bytes: 100,
        consistent_read: false,
        max_scan_length: 1,
        distribution: Distribution::Uniform,
    }
}

fn request(op: Operation, body: Vec<u8>) -> BackendRequest {
    BackendRequest::new(op, http::HeaderMap::new(), Bytes::from(body))
}

/// A store in a fresh directory with the benchmark's table and `records`
/// items, and the proxy stack in front of it, built as `ferrodyn_proxy::run`
/// builds it (embedded upstream; no change feed, so the caches stay open).
struct Fixture {
    _dir: TempDir,
    store: Store,
    stack: stack::Stack,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fixture(rt: &Runtime, records: u64) -> Fixture {
    let dir = TempDir(std::env::temp_dir().join(format!(
        "ferrodyn-hit-path-{}-{records}",
        std::process::id()
    )));
    let shape = shape();
    rt.block_on(async {
        let store = Store::open(&StoreConfig::new(&dir.0)).expect("open store");
        store
            .handle(Operation::CreateTable, &shape.create_table())
            .await
            .expect("create table");
        let mut rng = ferrodyn_bench::rng::Rng::new(7);
        for i in 0..records {
            store
                .handle(Operation::PutItem, &shape.put_item(i, &mut rng))
                .await
                .expect("put item");
        }
        let registry = prometheus::Registry::new();
        let query_metrics = query_cache::Metrics::register(&registry).expect("metrics");
        let stack = stack::build(
            Upstream::Embedded(store.clone()),
            stack::Caches {
                items: Arc::new(ItemCache::new(64 << 20, Duration::from_secs(300))),
                queries: Arc::new(QueryCache::new(
                    16 << 20,
                    Duration::from_secs(300),
                    query_metrics.storage.clone(),
                )),
            },
            KeySchemas::Embedded(store.clone()),
            metrics::Metrics::register(&registry).expect("metrics"),
            metrics::Metrics::register_upstream(&registry).expect("metrics"),
            item_cache::Metrics::register(&registry).expect("metrics"),
            query_metrics,
        );
        Fixture {
            _dir: dir,
            store,
            stack,
        }
    })
}

/// Call `backend` and check the answer is a 200 (a benchmark of an error
/// path would be meaningless).
fn call_ok(rt: &Runtime, backend: &impl Backend, req: BackendRequest) -> BackendResponse {
    let resp = rt.block_on(backend.call(req));
    assert_eq!(resp.status, StatusCode::OK, "{:?}", resp.body);
    resp
}

fn whole_stack(c: &mut Criterion) {
    let rt = runtime();
    let f = fixture(&rt, 16);
    let shape = shape();
    let get = request(Operation::GetItem, shape.get_item(3));
    let batch = request(
        Operation::BatchGetItem,
        serde_json::to_vec(&serde_json::json!({
            "RequestItems": {shape.table.as_str(): {"Keys": (0..8).map(|i| shape.key(i)).collect::<Vec<_>>()}}
        }))
        .expect("batch body"),
    );
    let query = request(
        Operation::Query,
        shape.query(3, &mut ferrodyn_bench::rng::Rng::new(1)),
    );
    // Fill the caches (the first call of each misses).
    for req in [&get, &batch, &query] {
        call_ok(&rt, &f.stack, req.clone());
    }
    let store_get = call_ok(&rt, &f.store, get.clone());
    let hit = call_ok(&rt, &f.stack, get.clone());
    assert_eq!(
        store_get.body, hit.body,
        "a hit answers what the store does"
    );

    let mut g = c.benchmark_group("stack");
    g.bench_function("get_item_hit", |b| {
        b.iter(|| rt.block_on(f.stack.call(black_box(get.clone()))))
    });
    g.bench_function("batch_get_item_hit_8_keys", |b| {
        b.iter(|| rt.block_on(f.stack.call(black_box(batch.clone()))))
    });
    g.bench_function("query_hit", |b| {
        b.iter(|| rt.block_on(f.stack.call(black_box(query.clone()))))
    });
    g.bench_function("store_get_item", |b| {
        b.iter(|| rt.block_on(f.store.call(black_box(get.clone()))))
    });
    g.finish();
}

/// The inner service the single-layer benchmarks wrap: answers at once
/// with `body`.
fn answering(body: Bytes) -> impl Inner + Clone {
    InnerFn(move |_req: BackendRequest| {
        std::future::ready(BackendResponse {
            status: StatusCode::OK,
            body: body.clone(),
            crc32: None,
        })
    })
}

fn layers(c: &mut Criterion) {
    let rt = runtime();
    let f = fixture(&rt, 4);
    let shape = shape();
    let get = request(Operation::GetItem, shape.get_item(3));
    let item_body = call_ok(&rt, &f.store, get.clone()).body;
    let inner = answering(item_body.clone());
    let registry = prometheus::Registry::new();

    let mut g = c.benchmark_group("layer");
    g.bench_function("none", |b| {
        b.iter(|| rt.block_on(inner.call(black_box(get.clone()))))
    });
    let metrics = metrics::MetricsLayer(metrics::Metrics::register(&registry).expect("metrics"))
        .layer(inner.clone());
    g.bench_function("metrics", |b| {
        b.iter(|| rt.block_on(metrics.call(black_box(get.clone()))))
    });
    let insights = InsightsLayer(Insights::default()).layer(inner.clone());
    g.bench_function("insights", |b| {
        b.iter(|| rt.block_on(insights.call(black_box(get.clone()))))
    });
    let query_metrics = query_cache::Metrics::register(&registry).expect("metrics");
    let queries = HandleLayer(QueryCacheLayer::new(
        Arc::new(QueryCache::new(
            16 << 20,
            Duration::from_secs(300),
            query_metrics.storage.clone(),
        )),
        KeySchemas::Embedded(f.store.clone()),
        query_metrics,
        Abandoned::default(),
    ))
    .layer(inner.clone());
    g.bench_function("query_cache_pass_get_item", |b| {
        b.iter(|| rt.block_on(queries.call(black_box(get.clone()))))
    });
    let items = HandleLayer(ItemCacheLayer::new(
        Arc::new(ItemCache::new(16 << 20, Duration::from_secs(300))),
        KeySchemas::Embedded(f.store.clone()),
        item_cache::Metrics::register(&registry).expect("metrics"),
        Abandoned::default(),
    ))
    .layer(inner.clone());
    // The first call misses and fills from the inner service's answer.
    let first = rt.block_on(items.call(get.clone()));
    assert_eq!(first.body, item_body);
    g.bench_function("item_cache_hit", |b| {
        b.iter(|| rt.block_on(items.call(black_box(get.clone()))))
    });
    g.finish();
}

/// The DynamoDB-JSON floor's work per GetItem, as `proxy-hit`'s floor
/// server does it.
fn floors(c: &mut Criterion) {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Get {
        table_name: String,
        key: Item,
        #[allow(dead_code)]
        consistent_read: Option<bool>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Out<'a> {
        item: &'a Item,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Put {
        item: Item,
    }
    let shape = shape();
    let get = shape.get_item(3);
    let put = shape.put_item(3, &mut ferrodyn_bench::rng::Rng::new(7));
    let stored: Put = serde_json::from_slice(&put).expect("fixture item");
    let item: HashMap<String, Item> = [(
        serde_json::to_string(&shape.key(3)).expect("key"),
        stored.item,
    )]
    .into_iter()
    .collect();
    c.bench_function("floor/dynamodb_json", |b| {
        b.iter(|| {
            let req: Get = serde_json::from_slice(black_box(&get)).ok()?;
            let key = serde_json::to_string(&req.key).ok()?;
            let found = item.get(&key)?;
            black_box(&req.table_name);
            serde_json::to_vec(&Out { item: found }).ok()
        })
    });
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

criterion_group!(benches, floors, layers, whole_stack);
criterion_main!(benches);

//! Criterion benchmarks of what the store's telemetry adds to a request:
//! `Telemetry::observe` (every answered request: latency recorded against
//! its table), finding a table name in a body (what batch requests still
//! need), consumed-capacity counting, and a contributor
//! insights access with insights off (the common case) and on — next to a
//! whole in-process `Store::handle(GetItem)` for scale.
//!
//! `cargo bench -p ferrodyn-bench --bench telemetry`. Under `cargo test`
//! each benchmark runs once.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use ferrodyn_store::api::insights::ContributorInsightsMode;
use ferrodyn_store::api::Operation;
use ferrodyn_store::clock::SystemClock;
use ferrodyn_store::model::key::{KeyAttribute, KeySchema, ScalarType};
use ferrodyn_store::model::value::{AttributeValue, Item};
use ferrodyn_store::telemetry::{Telemetry, Tracker};
use ferrodyn_store::{Store, StoreConfig};
use tokio::runtime::Runtime;

const GET: &[u8] = br#"{"TableName":"users","Key":{"pk":{"S":"user-00042"}}}"#;

fn telemetry(c: &mut Criterion) {
    let registry = prometheus::Registry::new();
    let t = Telemetry::new(&registry, Arc::new(SystemClock)).expect("register");
    let key = Item::from([("pk".to_owned(), AttributeValue::S("user-00042".into()))]);
    let elapsed = Duration::from_micros(40);
    let mut g = c.benchmark_group("telemetry");
    g.bench_function("observe_get_item", |b| {
        b.iter(|| {
            t.observe(
                Operation::GetItem,
                black_box(Some("users")),
                Ok(()),
                elapsed,
            )
        })
    });
    g.bench_function("table_named_in_body", |b| {
        b.iter(|| ferrodyn_store::telemetry::table_named(Operation::GetItem, black_box(GET)))
    });
    g.bench_function("consumed_read", |b| {
        b.iter(|| t.consumed_read(black_box("users"), None, 0.5))
    });
    g.bench_function("access_insights_off", |b| {
        b.iter(|| t.access(black_box("users"), None, &key, 0.5))
    });
    let schema = KeySchema::simple(
        KeyAttribute {
            name: "pk".into(),
            scalar: ScalarType::S,
        },
        None,
    );
    t.insights.enable(
        "users",
        None,
        Tracker::new(
            ContributorInsightsMode::AccessedAndThrottledKeys,
            &schema,
            0,
        ),
    );
    g.bench_function("access_insights_on", |b| {
        b.iter(|| t.access(black_box("users"), None, &key, 0.5))
    });
    g.finish();
}

fn store_get_item(c: &mut Criterion) {
    let rt = Runtime::new().expect("runtime");
    let dir = std::env::temp_dir().join(format!("ferrodyn-bench-telemetry-{}", std::process::id()));
    let store = rt.block_on(async {
        let store = Store::open(&StoreConfig::new(&dir)).expect("open store");
        let create = br#"{"TableName":"users","KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#;
        store
            .handle(Operation::CreateTable, create)
            .await
            .expect("create table");
        let put = br#"{"TableName":"users","Item":{"pk":{"S":"user-00042"},"name":{"S":"Ada"}}}"#;
        store.handle(Operation::PutItem, put).await.expect("put");
        store
    });
    c.bench_function("store/get_item", |b| {
        b.iter(|| rt.block_on(store.handle(Operation::GetItem, black_box(GET))))
    });
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, telemetry, store_get_item);
criterion_main!(benches);

//! Criterion benchmarks of PartiQL's statement path before any storage:
//! parse + plan of a three-clause SELECT, with the statement cache (what a
//! repeated statement costs) and without it (a never-seen statement).
//!
//! `cargo bench -p ferrodyn-bench --bench partiql`. Under `cargo test` each
//! benchmark runs once, so it cannot rot.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ferrodyn_store::api::keys::TableKeys;
use ferrodyn_store::model::AttributeValue;
use ferrodyn_store::partiql::{parse, parse_uncached, plan};

const SELECT: &str =
    "SELECT OrderId, Total, Lines[0].Sku FROM \"Orders\" WHERE CustomerId = ? AND OrderDate >= ? AND Total > ?";

fn keys() -> TableKeys {
    TableKeys {
        partition: "CustomerId".into(),
        sort: Some("OrderDate".into()),
        indexes: Some(Vec::new()),
    }
}

fn params() -> Vec<AttributeValue> {
    vec![
        AttributeValue::S("c-42".into()),
        AttributeValue::S("2026-01-01".into()),
        AttributeValue::N(ferrodyn_store::model::number::Number::from_i64(100)),
    ]
}

fn statement(c: &mut Criterion) {
    let keys = keys();
    let params = params();
    let mut g = c.benchmark_group("partiql_select_3_clauses");
    g.bench_function("parse_plan_cached", |b| {
        b.iter(|| {
            let stmt = parse(black_box(SELECT)).ok()?;
            plan(&stmt, &params, &keys).ok()
        })
    });
    g.bench_function("parse_plan_uncached", |b| {
        b.iter(|| {
            let stmt = parse_uncached(black_box(SELECT)).ok()?;
            plan(&stmt, &params, &keys).ok()
        })
    });
    g.bench_function("parse_uncached", |b| {
        b.iter(|| parse_uncached(black_box(SELECT)).ok())
    });
    g.finish();
}

criterion_group!(benches, statement);
criterion_main!(benches);

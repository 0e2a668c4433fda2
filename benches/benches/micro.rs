//! Criterion micro-benchmarks of the store's hot paths that do not touch
//! storage: item JSON decode/encode, key encoding, and expression
//! parse + resolve + evaluate.
//!
//! `cargo bench -p ferrodyn-bench --bench micro`. Under `cargo test` each
//! benchmark runs once, so they cannot rot.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ferrodyn_store::expr::{parse, parse_uncached, Kind, Resolver};
use ferrodyn_store::model::key::{KeyAttribute, KeySchema, ScalarType};
use ferrodyn_store::model::{AttributeValue, Item};

/// A ~1 KB item as a client would send it: keys, ten string fields, a
/// number, a set and a nested map.
fn item_json() -> Vec<u8> {
    let mut fields = String::new();
    for i in 0..10 {
        fields.push_str(&format!(r#""field{i}":{{"S":"{}"}},"#, "x".repeat(90)));
    }
    format!(
        r#"{{"pk":{{"S":"p3f2a9c0d1e4b5a6"}},"sk":{{"N":"42"}},{fields}"count":{{"N":"12345.678"}},"tags":{{"SS":["a","b","c"]}},"meta":{{"M":{{"ok":{{"BOOL":true}},"n":{{"NULL":true}}}}}}}}"#
    )
    .into_bytes()
}

fn schema() -> KeySchema {
    KeySchema::simple(
        KeyAttribute {
            name: "pk".into(),
            scalar: ScalarType::S,
        },
        Some(KeyAttribute {
            name: "sk".into(),
            scalar: ScalarType::N,
        }),
    )
}

fn item() -> Item {
    // The fixture above is valid JSON; a failure here is a bug in it.
    serde_json::from_slice(&item_json()).unwrap_or_else(|e| panic!("fixture item: {e}"))
}

fn json(c: &mut Criterion) {
    let raw = item_json();
    let item = item();
    let mut g = c.benchmark_group("item_json");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.bench_function("decode", |b| {
        b.iter(|| serde_json::from_slice::<Item>(black_box(&raw)).map(|i| i.len()))
    });
    g.bench_function("encode", |b| {
        b.iter(|| serde_json::to_vec(black_box(&item)).map(|v| v.len()))
    });
    g.finish();
}

fn key(c: &mut Criterion) {
    let schema = schema();
    let item = item();
    c.bench_function("key/of_item_and_storage_key", |b| {
        b.iter(|| {
            schema
                .key_of_item(black_box(&item))
                .map(|k| k.storage_key(7).len())
        })
    });
}

fn expressions(c: &mut Criterion) {
    let item = item();
    let names: HashMap<String, String> = [("#f", "field3"), ("#c", "count"), ("#t", "tags")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // Separate maps per expression: unused `:values` are rejected.
    let values = |json: &str| -> HashMap<String, AttributeValue> {
        serde_json::from_str(json).unwrap_or_else(|e| panic!("fixture values: {e}"))
    };
    let cond_values = values(r#"{":min":{"N":"100"},":one":{"N":"1"}}"#);
    let update_values = values(r#"{":one":{"N":"1"},":s":{"S":"new value"}}"#);
    let condition = || {
        let mut r = Resolver::new(Some(&names), Some(&cond_values)).ok()?;
        let cond = r
            .condition(black_box(
                "attribute_exists(#f) AND #c > :min AND size(#t) >= :one",
            ))
            .ok()?;
        let ok = cond.evaluate(&item).ok()?;
        r.finish().ok()?;
        Some(ok)
    };
    let update = || {
        let mut r = Resolver::new(Some(&names), Some(&update_values)).ok()?;
        let update = r
            .update(black_box("SET #f = :s, #c = #c + :one REMOVE #t"))
            .ok()?;
        r.finish().ok()?;
        update.apply(&item, &["pk", "sk"]).ok()
    };
    // Benchmark the path that succeeds, not an early error return.
    assert_eq!(condition(), Some(true), "condition fixture must hold");
    let updated = update().unwrap_or_else(|| panic!("update fixture must apply"));
    assert!(!updated.contains_key("tags") && updated.len() == item.len() - 1);
    c.bench_function("expr/condition_resolve_evaluate", |b| b.iter(condition));
    // Parsing alone, through the text-keyed cache and without it.
    let cond_text = "attribute_exists(#f) AND #c > :min AND size(#t) >= :one";
    let update_text = "SET #f = :s, #c = #c + :one REMOVE #t";
    for (name, kind, text) in [
        ("condition", Kind::Condition, cond_text),
        ("update", Kind::Update, update_text),
    ] {
        c.bench_function(&format!("expr/parse_{name}_cached"), |b| {
            b.iter(|| parse(kind, black_box(text)).is_ok())
        });
        c.bench_function(&format!("expr/parse_{name}_uncached"), |b| {
            b.iter(|| parse_uncached(kind, black_box(text)).is_ok())
        });
    }
    c.bench_function("expr/update_resolve_apply", |b| {
        b.iter(|| update().map(|i| i.len()))
    });
}

criterion_group!(benches, json, key, expressions);
criterion_main!(benches);

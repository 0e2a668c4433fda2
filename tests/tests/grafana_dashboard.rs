//! The Grafana dashboard (`docs/grafana/ferrodyn.json`) queries only metrics
//! that exist: every metric name in its PromQL expressions and variable
//! queries is exported by a running `ferrodyn-store`'s admin endpoint
//! (store metrics) and by the embedded `ferrodyn`'s (store and proxy
//! metrics), once some traffic has gone through.

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::ScalarAttributeType as St;
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::wait::{until, PATIENCE};
use ferrodyn_tests::{s, IndexSpec, StoreAdmin, TableSpec, TestProxy, TestStore};
use serde_json::Value;

const DASHBOARD: &str = include_str!("../../docs/grafana/ferrodyn.json");

/// Every PromQL text in the dashboard: panel targets' `expr` and template
/// variables' `query`.
fn queries(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr" | "query" | "definition", Value::String(q)) => out.push(q.clone()),
                    _ => queries(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| queries(v, out)),
        _ => {}
    }
}

/// The metric names in `query`: identifiers of Ferrodyn's metrics (label
/// names, functions and keywords never start with these prefixes).
fn metric_names(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut word = String::new();
    for ch in query.chars().chain([' ']) {
        if ch.is_ascii_alphanumeric() || ch == '_' || ch == ':' {
            word.push(ch);
            continue;
        }
        if word.starts_with("ferrodyn_store_") || word.starts_with("proxy_") {
            names.push(std::mem::take(&mut word));
        }
        word.clear();
    }
    names
}

/// Whether the Prometheus text `text` has a sample of `name`.
fn exported(text: &str, name: &str) -> bool {
    text.lines().any(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
    })
}

fn dashboard_metrics() -> BTreeSet<String> {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    assert_eq!(dashboard["uid"], "ferrodyn");
    let mut all = Vec::new();
    queries(&dashboard, &mut all);
    assert!(all.len() >= 30, "only {} queries", all.len());
    for q in &all {
        // Brackets balance: a cheap guard against a mangled expression.
        for (open, close) in [('(', ')'), ('{', '}'), ('[', ']')] {
            assert_eq!(
                q.matches(open).count(),
                q.matches(close).count(),
                "unbalanced {open}{close} in {q}"
            );
        }
    }
    let names: BTreeSet<String> = all.iter().flat_map(|q| metric_names(q)).collect();
    assert!(names.iter().any(|n| n.starts_with("ferrodyn_store_")));
    assert!(names.iter().any(|n| n.starts_with("proxy_")));
    names
}

/// Requests that make every series exist: writes and reads of a table with
/// a GSI, a Query and a Scan, a failed condition and an invalid request.
async fn traffic(c: &Client, table: &str) {
    TableSpec::new(table)
        .hash("pk", St::S)
        .gsi(IndexSpec::new("by_g").hash("g", St::S))
        .create(c)
        .await;
    c.put_item()
        .table_name(table)
        .item("pk", s("a"))
        .item("g", s("x"))
        .send()
        .await
        .expect("put");
    for _ in 0..2 {
        c.get_item()
            .table_name(table)
            .key("pk", s("a"))
            .send()
            .await
            .expect("get");
        c.query()
            .table_name(table)
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("a"))
            .send()
            .await
            .expect("query");
    }
    c.scan().table_name(table).send().await.expect("scan");
    let _ = c
        .put_item()
        .table_name(table)
        .item("pk", s("a"))
        .condition_expression("attribute_not_exists(pk)")
        .send()
        .await;
    let _ = c
        .get_item()
        .table_name(table)
        .key("wrong", s("a"))
        .send()
        .await;
}

#[test]
fn metric_names_are_read_from_promql() {
    assert_eq!(
        metric_names(
            r#"histogram_quantile(0.99, sum by (le, operation) (rate(proxy_request_duration_seconds_bucket{table=~"$t"}[5m])))"#
        ),
        ["proxy_request_duration_seconds_bucket"]
    );
    assert_eq!(
        metric_names("ferrodyn_store_item_count / proxy_item_cache_bytes"),
        ["ferrodyn_store_item_count", "proxy_item_cache_bytes"]
    );
}

#[tokio::test]
async fn every_store_metric_the_dashboard_queries_is_exported_by_the_store() {
    let names = dashboard_metrics();
    let store = TestStore::start().await;
    let admin = StoreAdmin::start(&store.store, None).await;
    traffic(&store.client(), "dash").await;
    let (status, text) = admin.get("/metrics").await;
    assert_eq!(status, 200);
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| n.starts_with("ferrodyn_store_") && !exported(&text, n))
        .collect();
    assert!(missing.is_empty(), "not exported: {missing:?}\n{text}");
}

#[tokio::test]
async fn every_metric_the_dashboard_queries_is_exported_by_the_embedded_proxy() {
    let names = dashboard_metrics();
    let proxy = TestProxy::embedded().await;
    let c = proxy.client();
    traffic(&c, "dash").await;
    // Cache hits need the feed's echo of the setup writes to have landed;
    // repeat the reads until both caches have answered one.
    until(PATIENCE, "both caches hit", || async {
        let _ = c
            .get_item()
            .table_name("dash")
            .key("pk", s("a"))
            .send()
            .await;
        let _ = c
            .query()
            .table_name("dash")
            .key_condition_expression("pk = :p")
            .expression_attribute_values(":p", s("a"))
            .send()
            .await;
        let (_, text) = proxy.admin_get("/metrics").await;
        exported(&text, "proxy_query_cache_hits_total")
            && proxy.metric("proxy_item_cache_hits_total").await > 0.0
    })
    .await;
    let (status, text) = proxy.admin_get("/metrics").await;
    assert_eq!(status, 200);
    let missing: Vec<&String> = names.iter().filter(|n| !exported(&text, n)).collect();
    assert!(missing.is_empty(), "not exported: {missing:?}\n{text}");
}

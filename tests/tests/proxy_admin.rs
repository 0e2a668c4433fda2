//! The proxy's admin endpoint: contributor insights (`/insights`) name the
//! most requested keys of each table, counted from every request — cache
//! hits included — and `/healthz` answers while the process is up.

use aws_sdk_dynamodb::types::{AttributeValue as Av, KeysAndAttributes, ScalarAttributeType};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{s, TableSpec, TestProxy};
use serde_json::Value;

/// Table `name` keyed by the string attribute `pk`.
fn pk_table(name: &str) -> TableSpec {
    TableSpec::new(name).hash("pk", ScalarAttributeType::S)
}

async fn get(client: &Client, table: &str, pk: &str) {
    client
        .get_item()
        .table_name(table)
        .key("pk", s(pk))
        .send()
        .await
        .expect("get item");
}

async fn insights(proxy: &TestProxy, top: usize) -> Value {
    let (status, body) = proxy.admin_get(&format!("/insights?top={top}")).await;
    assert_eq!(status, 200);
    serde_json::from_str(&body).expect("insights are JSON")
}

#[tokio::test]
async fn insights_rank_the_most_requested_keys_of_each_table() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    pk_table("hot").create(&client).await;
    pk_table("cold").create(&client).await;
    for _ in 0..30 {
        get(&client, "hot", "celebrity").await;
    }
    for i in 0..20 {
        get(&client, "hot", &format!("fan{i}")).await;
    }
    for _ in 0..5 {
        get(&client, "hot", "regular").await;
    }
    // BatchGetItem keys count too.
    let keys = KeysAndAttributes::builder()
        .keys([("pk".to_owned(), s("regular"))].into())
        .keys([("pk".to_owned(), s("celebrity"))].into())
        .build()
        .expect("keys");
    client
        .batch_get_item()
        .request_items("hot", keys)
        .send()
        .await
        .expect("batch get");
    get(&client, "cold", "lonely").await;

    let report = insights(&proxy, 2).await;
    let tables = report["Tables"].as_array().expect("Tables");
    assert_eq!(tables.len(), 2);
    let cold = &tables[0];
    assert_eq!(cold["TableName"], "cold");
    assert_eq!(cold["Requests"], 1);
    let hot = &tables[1];
    assert_eq!(hot["TableName"], "hot");
    assert_eq!(hot["Requests"], 30 + 20 + 5 + 2);
    let top = hot["HottestKeys"].as_array().expect("HottestKeys");
    assert_eq!(top.len(), 2);
    assert_eq!(top[0]["Key"]["pk"]["S"], "celebrity");
    assert_eq!(top[0]["Requests"], 31);
    assert_eq!(top[0]["Error"], 0);
    assert_eq!(top[1]["Key"]["pk"]["S"], "regular");
    assert_eq!(top[1]["Requests"], 6);
}

#[tokio::test]
async fn deleting_a_table_clears_its_insights() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    pk_table("gone").create(&client).await;
    get(&client, "gone", "k").await;
    client
        .delete_table()
        .table_name("gone")
        .send()
        .await
        .expect("delete table");
    let report = insights(&proxy, 10).await;
    assert_eq!(report["Tables"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn healthz_answers_ok() {
    let proxy = TestProxy::embedded().await;
    let (status, body) = proxy.admin_get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, _) = proxy.admin_get("/no-such-page").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn metrics_separate_what_clients_asked_from_what_reached_the_upstream() {
    // A cache small enough that a few thousand bytes of items overflow it.
    let proxy = TestProxy::start_with(|c| c.item_cache_bytes = 16 * 1024).await;
    let client = proxy.client();
    pk_table("counted").create(&client).await;
    get(&client, "counted", "k").await; // miss
    get(&client, "counted", "k").await; // hit (a cached absence)
    let (_, text) = proxy.admin_get("/metrics").await;
    let value = |line: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(line))
            .and_then(|v| v.trim().parse().ok())
    };
    assert_eq!(
        value("proxy_requests_total{operation=\"GetItem\"}"),
        Some(2.0)
    );
    assert_eq!(
        value("proxy_upstream_requests_total{operation=\"GetItem\"}"),
        Some(1.0)
    );
    assert!(text.contains("proxy_upstream_duration_seconds_bucket"));

    // Fill far past the cache's size: evictions are counted.
    for i in 0..200 {
        client
            .put_item()
            .table_name("counted")
            .item("pk", Av::S(format!("key{i}")))
            .item("data", Av::S("x".repeat(400)))
            .send()
            .await
            .expect("put");
    }
    let (_, text) = proxy.admin_get("/metrics").await;
    let evicted = text
        .lines()
        .find_map(|l| l.strip_prefix("proxy_item_cache_evictions_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(evicted > 0.0, "no eviction counted:\n{text}");
}

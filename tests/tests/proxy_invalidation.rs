//! Coherence across processes: writes made through another proxy, or
//! straight to the store, reach a proxy's cache through the store's change
//! feed. Each test measures the lag (write acknowledged → stale entry gone).

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue as Av, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{TestProxy, TestStore};

async fn table(client: &Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("p")
                .key_type(KeyType::Hash)
                .build()
                .expect("ks"),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("p")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("ad"),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect("create table");
}

async fn value(client: &Client, table: &str) -> Option<Av> {
    client
        .get_item()
        .table_name(table)
        .key("p", Av::S("k".into()))
        .send()
        .await
        .expect("get")
        .item?
        .get("v")
        .cloned()
}

/// Read through `client` until it shows `want`; returns how long that took.
async fn until_visible(client: &Client, table: &str, want: &str) -> Duration {
    let start = Instant::now();
    loop {
        if value(client, table).await == Some(Av::S(want.into())) {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{want} not visible after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn put(client: &Client, table: &str, v: &str) {
    client
        .put_item()
        .table_name(table)
        .item("p", Av::S("k".into()))
        .item("v", Av::S(v.into()))
        .send()
        .await
        .expect("put");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_straight_to_the_store_invalidates_the_proxy() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    let (direct, cached) = (store.client(), proxy.client());
    table(&direct, "direct").await;
    put(&direct, "direct", "1").await;
    assert_eq!(value(&cached, "direct").await, Some(Av::S("1".into())));
    assert_eq!(value(&cached, "direct").await, Some(Av::S("1".into())));
    assert!(
        proxy.metric("proxy_item_cache_hits_total").await >= 1.0,
        "the entry is cached"
    );

    put(&direct, "direct", "2").await;
    let lag = until_visible(&cached, "direct", "2").await;
    println!("store write → proxy invalidated: {lag:?}");
    assert!(proxy.metric("proxy_invalidations_received_total").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_through_one_proxy_is_seen_through_another() {
    let store = TestStore::start().await;
    let a = TestProxy::in_front_of(&store.endpoint()).await;
    let b = TestProxy::in_front_of(&store.endpoint()).await;
    let (ca, cb) = (a.client(), b.client());
    table(&ca, "twoproxies").await;
    put(&ca, "twoproxies", "1").await;
    assert_eq!(value(&cb, "twoproxies").await, Some(Av::S("1".into())));
    let mut lags = Vec::new();
    for i in 2..12 {
        let v = i.to_string();
        put(&ca, "twoproxies", &v).await;
        // Proxy A reads its own write at once.
        assert_eq!(value(&ca, "twoproxies").await, Some(Av::S(v.clone())));
        lags.push(until_visible(&cb, "twoproxies", &v).await);
    }
    lags.sort();
    println!(
        "proxy A write → proxy B invalidated: p50 {:?}, max {:?}",
        lags[lags.len() / 2],
        lags[lags.len() - 1]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_deleted_elsewhere_is_not_served_from_cache() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    let (direct, cached) = (store.client(), proxy.client());
    table(&direct, "dropped").await;
    put(&direct, "dropped", "old").await;
    assert_eq!(value(&cached, "dropped").await, Some(Av::S("old".into())));
    direct
        .delete_table()
        .table_name("dropped")
        .send()
        .await
        .expect("delete");
    table(&direct, "dropped").await;
    let start = Instant::now();
    while value(&cached, "dropped").await.is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "deleted table still served"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

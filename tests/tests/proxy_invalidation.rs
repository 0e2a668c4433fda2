//! Coherence across processes: writes made through another proxy, or
//! straight to the store, reach a proxy's cache through the store's change
//! feed. Each test measures the lag (write acknowledged → stale entry gone).

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use ferrodyn_tests::items::{put_all, put_v, until_value, value};
use ferrodyn_tests::wait::{until, PATIENCE};
use ferrodyn_tests::{create_table, s, TestProxy, TestStore};

#[tokio::test(flavor = "multi_thread")]
async fn a_write_straight_to_the_store_invalidates_the_proxy() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    let (direct, cached) = (store.client(), proxy.client());
    create_table(&direct, "direct").await;
    put_v(&direct, "direct", "k", "1").await;
    assert_eq!(value(&cached, "direct", "k").await, Some(s("1")));
    assert_eq!(value(&cached, "direct", "k").await, Some(s("1")));
    assert!(
        proxy.metric("proxy_item_cache_hits_total").await >= 1.0,
        "the entry is cached"
    );

    put_v(&direct, "direct", "k", "2").await;
    let lag = until_value(&cached, "direct", "k", "2", PATIENCE).await;
    println!("store write → proxy invalidated: {lag:?}");
    assert!(proxy.metric("proxy_invalidations_received_total").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_through_one_proxy_is_seen_through_another() {
    let store = TestStore::start().await;
    let a = TestProxy::in_front_of(&store.endpoint()).await;
    let b = TestProxy::in_front_of(&store.endpoint()).await;
    let (ca, cb) = (a.client(), b.client());
    create_table(&ca, "twoproxies").await;
    put_v(&ca, "twoproxies", "k", "1").await;
    assert_eq!(value(&cb, "twoproxies", "k").await, Some(s("1")));
    let mut lags = Vec::new();
    for i in 2..12 {
        let v = i.to_string();
        put_v(&ca, "twoproxies", "k", &v).await;
        // Proxy A reads its own write at once.
        assert_eq!(value(&ca, "twoproxies", "k").await, Some(Av::S(v.clone())));
        lags.push(until_value(&cb, "twoproxies", "k", &v, PATIENCE).await);
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
    create_table(&direct, "dropped").await;
    put_v(&direct, "dropped", "k", "old").await;
    assert_eq!(value(&cached, "dropped", "k").await, Some(s("old")));
    direct
        .delete_table()
        .table_name("dropped")
        .send()
        .await
        .expect("delete");
    create_table(&direct, "dropped").await;
    until(
        Duration::from_secs(15),
        "deleted table not served",
        || async { value(&cached, "dropped", "k").await.is_none() },
    )
    .await;
}

/// An embedded proxy passes over the echoes of its own single-item writes
/// without reading them back (the write-through already settled the
/// caches), but still reads every other change: here a BatchWriteItem's,
/// which the store records without the proxy's origin. Only changes read
/// back are timed by the lag histogram; all are counted as received.
#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_proxy_reads_back_only_changes_that_are_not_its_own_echoes() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    create_table(&client, "echoes").await;
    for k in ["a", "b", "c"] {
        put_v(&client, "echoes", k, "1").await;
    }
    proxy.until_feed_delivered(3.0).await;
    assert_eq!(proxy.metric("proxy_feed_lag_seconds_count").await, 0.0);

    let item = |k: &str| {
        std::collections::HashMap::from([("p".to_owned(), s(k)), ("v".to_owned(), s("1"))])
    };
    put_all(&client, "echoes", &[item("d")]).await;
    proxy.until_feed_delivered(4.0).await;
    until(
        PATIENCE,
        "the batch write's change is read back",
        || async { proxy.metric("proxy_feed_lag_seconds_count").await == 1.0 },
    )
    .await;

    // Echoes after it are passed over again; the item cache still serves
    // what was written.
    put_v(&client, "echoes", "a", "2").await;
    put_v(&client, "echoes", "b", "2").await;
    proxy.until_feed_delivered(6.0).await;
    assert_eq!(proxy.metric("proxy_feed_lag_seconds_count").await, 1.0);
    assert_eq!(value(&client, "echoes", "a").await, Some(s("2")));
    assert_eq!(value(&client, "echoes", "d").await, Some(s("1")));
}

/// One commit of more changes than one answer of the feed carries (its
/// images ~7 MB, an answer stops after ~4 MB): the embedded follower reads
/// the rest at once, without waiting for another commit to wake it (it
/// would wait up to the feed's 10 s poll).
#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_proxy_reads_a_backlog_larger_than_one_answer_at_once() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    create_table(&client, "backlog").await;
    let big = "x".repeat(300 * 1024);
    let items: Vec<_> = (0..24)
        .map(|i| {
            std::collections::HashMap::from([
                ("p".to_owned(), s(&i.to_string())),
                ("v".to_owned(), s(&big)),
            ])
        })
        .collect();
    // 24 items: one request, so one commit.
    put_all(&client, "backlog", &items).await;
    until(
        Duration::from_secs(5),
        "the feed delivered all 24 changes",
        || async { proxy.metric("proxy_invalidations_received_total").await >= 24.0 },
    )
    .await;
}

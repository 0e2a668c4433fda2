//! The proxy's item cache through the AWS SDK, embedded and in front of a
//! separate store: hits and misses in /metrics, projections from cached
//! items, negative caching, read-your-writes for every write operation,
//! written items cached on acknowledgement, and BatchGetItem from the cache.

use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::items::{get, put_v, value};
use ferrodyn_tests::{create_table, s, DelayRelay, TestProxy, TestStore};

#[tokio::test(flavor = "multi_thread")]
async fn repeated_reads_hit_the_cache() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    create_table(&client, "hits").await;
    put_v(&client, "hits", "k", "1").await;
    for _ in 0..5 {
        assert_eq!(value(&client, "hits", "k").await, Some(s("1")));
    }
    // The put left the item cached: every read is a hit.
    assert_eq!(proxy.metric("proxy_item_cache_misses_total").await, 0.0);
    assert_eq!(proxy.metric("proxy_item_cache_hits_total").await, 5.0);
    // Strongly consistent reads always go to the store.
    client
        .get_item()
        .table_name("hits")
        .key("p", s("k"))
        .consistent_read(true)
        .send()
        .await
        .expect("get");
    assert_eq!(proxy.metric("proxy_item_cache_hits_total").await, 5.0);
    assert!(proxy.metric("proxy_item_cache_bytes").await > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn projections_are_applied_to_the_cached_item() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    create_table(&client, "proj").await;
    let nested = Av::M([("x".to_owned(), Av::L(vec![s("a"), s("b")]))].into());
    client
        .put_item()
        .table_name("proj")
        .item("p", s("k"))
        .item("a", s("1"))
        .item("m", nested)
        .send()
        .await
        .expect("put");
    get(&client, "proj", "k").await.expect("fill");
    let got = client
        .get_item()
        .table_name("proj")
        .key("p", s("k"))
        .projection_expression("#m.x[1]")
        .expression_attribute_names("#m", "m")
        .send()
        .await
        .expect("projected get")
        .item
        .expect("item");
    assert_eq!(
        got,
        [(
            "m".to_owned(),
            Av::M([("x".to_owned(), Av::L(vec![s("b")]))].into())
        )]
        .into()
    );
    // The put left the item cached: both reads were hits.
    assert_eq!(proxy.metric("proxy_item_cache_hits_total").await, 2.0);
    // An invalid projection gets the store's error, not a cached answer.
    let err = client
        .get_item()
        .table_name("proj")
        .key("p", s("k"))
        .projection_expression("#undefined")
        .send()
        .await
        .expect_err("undefined name");
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&err.into_service_error()),
        Some("ValidationException")
    );
}

async fn read_your_writes(client: &Client, name: &str) {
    create_table(client, name).await;
    // Negative entry, then a Put must be visible.
    assert!(get(client, name, "k").await.is_none());
    put_v(client, name, "k", "1").await;
    assert_eq!(value(client, name, "k").await, Some(s("1")));
    // Update.
    client
        .update_item()
        .table_name(name)
        .key("p", s("k"))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", s("2"))
        .send()
        .await
        .expect("update");
    assert_eq!(value(client, name, "k").await, Some(s("2")));
    // A failed conditional write leaves the right value visible.
    let _ = client
        .put_item()
        .table_name(name)
        .item("p", s("k"))
        .item("v", s("never"))
        .condition_expression("attribute_not_exists(p)")
        .send()
        .await
        .expect_err("condition fails");
    assert_eq!(value(client, name, "k").await, Some(s("2")));
    // Delete.
    client
        .delete_item()
        .table_name(name)
        .key("p", s("k"))
        .send()
        .await
        .expect("delete");
    assert!(get(client, name, "k").await.is_none());
    // Table deleted and re-created: nothing of the old table is served.
    put_v(client, name, "k", "3").await;
    assert!(get(client, name, "k").await.is_some());
    client
        .delete_table()
        .table_name(name)
        .send()
        .await
        .expect("delete table");
    create_table(client, name).await;
    assert!(get(client, name, "k").await.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_proxy_reads_its_own_writes() {
    let proxy = TestProxy::embedded().await;
    read_your_writes(&proxy.client(), "ryw").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_in_front_of_a_store_reads_its_own_writes() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    read_your_writes(&proxy.client(), "ryw_remote").await;
    assert!(proxy.metric("proxy_item_cache_misses_total").await > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_read_overtaken_by_a_write_is_not_cached() {
    let store = TestStore::start().await;
    let relay = DelayRelay::start(store.addr).await;
    let proxy = TestProxy::in_front_of(&relay.endpoint()).await;
    let client = proxy.client();
    create_table(&client, "race").await;
    // Straight to the store, so the proxy has nothing cached (a put through
    // it would leave the item cached); wait for the feed to report it.
    put_v(&store.client(), "race", "k", "old").await;
    proxy.until_feed_delivered(1.0).await;

    // The read reaches the store (and sees "old"), and the relay holds its
    // answer back; meanwhile a write through the proxy replaces the item.
    relay.hold_responses_to(b"DynamoDB_20120810.GetItem");
    let reader = {
        let client = client.clone();
        tokio::spawn(async move { get(&client, "race", "k").await })
    };
    relay.until_holding().await;
    // The write itself is not held back: it completes (and invalidates)
    // while the read's answer is still on its way.
    put_v(&client, "race", "k", "new").await;
    // Let the write's echo on the change feed land too, so that a stale
    // fill, if accepted, would stay in the cache for the read below to see.
    proxy.until_feed_delivered(2.0).await;
    relay.release();
    let slow = reader.await.expect("reader");
    assert_eq!(
        slow.and_then(|i| i.get("v").cloned()),
        Some(s("old")),
        "the slow read saw the old item"
    );

    // The stale fill must have been discarded.
    assert_eq!(value(&client, "race", "k").await, Some(s("new")));
    assert!(proxy.metric("proxy_item_cache_fills_discarded_total").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_misses_share_one_upstream_read() {
    let store = TestStore::start().await;
    let relay = DelayRelay::start(store.addr).await;
    let proxy = TestProxy::in_front_of(&relay.endpoint()).await;
    let client = proxy.client();
    create_table(&client, "herd").await;
    put_v(&store.client(), "herd", "k", "1").await;
    proxy.until_feed_delivered(1.0).await;
    relay.set_delay_ms(300);
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { get(&client, "herd", "k").await })
        })
        .collect();
    for r in readers {
        assert_eq!(
            r.await.expect("reader").and_then(|i| i.get("v").cloned()),
            Some(s("1"))
        );
    }
    let misses = proxy.metric("proxy_item_cache_misses_total").await;
    let coalesced = proxy.metric("proxy_item_cache_coalesced_total").await;
    let hits = proxy.metric("proxy_item_cache_hits_total").await;
    assert_eq!(misses + coalesced + hits, 16.0);
    assert_eq!(
        misses, 1.0,
        "one upstream read for 16 concurrent misses (coalesced {coalesced}, hits {hits})"
    );
}

async fn batch_get(
    client: &Client,
    table: &str,
    keys: &[&str],
    projection: Option<&str>,
) -> Vec<std::collections::HashMap<String, Av>> {
    let mut request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
        .set_keys(Some(
            keys.iter()
                .map(|k| [("p".to_owned(), s(k))].into())
                .collect(),
        ))
        .set_projection_expression(projection.map(str::to_owned));
    if projection.is_some() {
        request = request.expression_attribute_names("#p", "p");
    }
    let out = client
        .batch_get_item()
        .request_items(table, request.build().expect("keys"))
        .send()
        .await
        .expect("batch get");
    assert!(out.unprocessed_keys.unwrap_or_default().is_empty());
    let mut items = out
        .responses
        .and_then(|mut r| r.remove(table))
        .unwrap_or_default();
    items.sort_by_key(|i| format!("{:?}", i.get("p")));
    items
}

async fn batch_hits_and_misses(proxy: &TestProxy, name: &str) {
    let client = proxy.client();
    create_table(&client, name).await;
    // A batch write fills the cache with what it wrote.
    client
        .batch_write_item()
        .request_items(
            name,
            ["a", "b", "c"]
                .iter()
                .map(|k| {
                    aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(
                            aws_sdk_dynamodb::types::PutRequest::builder()
                                .item("p", s(k))
                                .item("v", s(k))
                                .build()
                                .expect("put"),
                        )
                        .build()
                })
                .collect(),
        )
        .send()
        .await
        .expect("batch write");
    // Let the feed's echoes of the batch land first: one racing a fill
    // below would (rightly) refuse it and skew the counts.
    proxy.until_feed_delivered(3.0).await;
    let batches = proxy.metric("proxy_item_cache_batch_upstream_total").await;
    let misses = proxy.metric("proxy_item_cache_misses_total").await;
    let hits = proxy.metric("proxy_item_cache_hits_total").await;
    // a, b, c hit; the absent d misses: one upstream batch for it.
    let items = batch_get(&client, name, &["a", "b", "c", "d"], Some("#p")).await;
    assert_eq!(
        items,
        ["a", "b", "c"]
            .iter()
            .map(|k| [("p".to_owned(), s(k))].into())
            .collect::<Vec<_>>(),
        "projection applied to hits and misses alike"
    );
    assert_eq!(
        proxy.metric("proxy_item_cache_batch_upstream_total").await,
        batches + 1.0
    );
    assert_eq!(
        proxy.metric("proxy_item_cache_hits_total").await,
        hits + 3.0
    );
    assert_eq!(
        proxy.metric("proxy_item_cache_misses_total").await,
        misses + 1.0
    );
    // Now all four (d as a cached absence) are hits: no upstream batch.
    let items = batch_get(&client, name, &["a", "b", "c", "d"], None).await;
    assert_eq!(items.len(), 3);
    assert_eq!(items[2].get("v"), Some(&s("c")));
    assert_eq!(
        proxy.metric("proxy_item_cache_batch_upstream_total").await,
        batches + 1.0
    );
    // The cached absence of d is cleared by a Put.
    put_v(&client, name, "d", "d").await;
    let items = batch_get(&client, name, &["d"], None).await;
    assert_eq!(items.len(), 1);
    assert_eq!(value(&client, name, "d").await, Some(s("d")));
    // ConsistentRead passes the whole request through.
    let before = proxy.metric("proxy_item_cache_hits_total").await;
    client
        .batch_get_item()
        .request_items(
            name,
            aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .keys([("p".to_owned(), s("a"))].into())
                .consistent_read(true)
                .build()
                .expect("keys"),
        )
        .send()
        .await
        .expect("consistent batch get");
    assert_eq!(proxy.metric("proxy_item_cache_hits_total").await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_get_answers_hits_and_sends_misses_in_one_batch_embedded() {
    let proxy = TestProxy::embedded().await;
    batch_hits_and_misses(&proxy, "batch").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_get_answers_hits_and_sends_misses_in_one_batch_in_front_of_a_store() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    batch_hits_and_misses(&proxy, "batch_remote").await;
}

/// A write acknowledged through the proxy leaves the written item cached:
/// the next read is a hit, and stays one after the change feed echoes the
/// write back.
async fn writes_fill_the_cache(proxy: &TestProxy, name: &str) {
    let client = proxy.client();
    create_table(&client, name).await;
    let v = |item: Option<std::collections::HashMap<String, Av>>| {
        item.and_then(|i| i.get("v").cloned())
    };
    put_v(&client, name, "k", "1").await;
    // Each write is checked after its echo came back from the feed.
    proxy.until_feed_delivered(1.0).await;
    assert_eq!(v(get(&client, name, "k").await), Some(s("1")));
    assert_eq!(proxy.metric("proxy_item_cache_misses_total").await, 0.0);
    client
        .update_item()
        .table_name(name)
        .key("p", s("k"))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", s("2"))
        .send()
        .await
        .expect("update");
    proxy.until_feed_delivered(2.0).await;
    assert_eq!(v(get(&client, name, "k").await), Some(s("2")));
    assert_eq!(proxy.metric("proxy_item_cache_misses_total").await, 0.0);
    client
        .delete_item()
        .table_name(name)
        .key("p", s("k"))
        .send()
        .await
        .expect("delete");
    proxy.until_feed_delivered(3.0).await;
    assert!(get(&client, name, "k").await.is_none());
    assert_eq!(proxy.metric("proxy_item_cache_misses_total").await, 0.0);
    // A write to another key does not disturb this one (the key schema is
    // known, also for a remote upstream).
    put_v(&client, name, "k", "3").await;
    proxy.until_feed_delivered(4.0).await;
    put_v(&client, name, "other", "x").await;
    proxy.until_feed_delivered(5.0).await;
    assert_eq!(v(get(&client, name, "k").await), Some(s("3")));
    assert_eq!(proxy.metric("proxy_item_cache_misses_total").await, 0.0);
    assert!(proxy.metric("proxy_item_cache_hits_total").await >= 4.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_fill_the_cache_embedded() {
    let proxy = TestProxy::embedded().await;
    writes_fill_the_cache(&proxy, "fills").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_fill_the_cache_in_front_of_a_store() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    writes_fill_the_cache(&proxy, "fills_remote").await;
}

/// BatchWriteItem and TransactWriteItems through the proxy leave each
/// written key holding what was written (puts: the item; deletes: a cached
/// absence), invalidate updated keys, and leave the table's other keys
/// cached.
async fn multi_item_writes_fill_the_cache(proxy: &TestProxy, name: &str) {
    let client = proxy.client();
    create_table(&client, name).await;
    let v = |item: Option<std::collections::HashMap<String, Av>>| {
        item.and_then(|i| i.get("v").cloned())
    };
    put_v(&client, name, "bystander", "0").await;
    put_v(&client, name, "doomed", "0").await;
    put_v(&client, name, "counter", "0").await;
    proxy.until_feed_delivered(3.0).await;
    let write = |k: &str, value: &str| {
        aws_sdk_dynamodb::types::WriteRequest::builder()
            .put_request(
                aws_sdk_dynamodb::types::PutRequest::builder()
                    .item("p", s(k))
                    .item("v", s(value))
                    .build()
                    .expect("put"),
            )
            .build()
    };
    let delete = aws_sdk_dynamodb::types::WriteRequest::builder()
        .delete_request(
            aws_sdk_dynamodb::types::DeleteRequest::builder()
                .key("p", s("doomed"))
                .build()
                .expect("delete"),
        )
        .build();
    client
        .batch_write_item()
        .request_items(name, vec![write("x", "1"), write("y", "1"), delete])
        .send()
        .await
        .expect("batch write");
    proxy.until_feed_delivered(6.0).await;
    let misses = proxy.metric("proxy_item_cache_misses_total").await;
    assert_eq!(v(get(&client, name, "x").await), Some(s("1")));
    assert_eq!(v(get(&client, name, "y").await), Some(s("1")));
    assert!(get(&client, name, "doomed").await.is_none());
    assert_eq!(v(get(&client, name, "bystander").await), Some(s("0")));
    assert_eq!(
        proxy.metric("proxy_item_cache_misses_total").await,
        misses,
        "every key answered from the cache"
    );

    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(name)
        .item("p", s("x"))
        .item("v", s("2"))
        .build()
        .expect("put");
    let update = aws_sdk_dynamodb::types::Update::builder()
        .table_name(name)
        .key("p", s("counter"))
        .update_expression("SET v = :v")
        .expression_attribute_values(":v", s("1"))
        .build()
        .expect("update");
    client
        .transact_write_items()
        .transact_items(
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .put(put)
                .build(),
        )
        .transact_items(
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .update(update)
                .build(),
        )
        .send()
        .await
        .expect("transact write");
    proxy.until_feed_delivered(8.0).await;
    let misses = proxy.metric("proxy_item_cache_misses_total").await;
    assert_eq!(v(get(&client, name, "x").await), Some(s("2")));
    assert_eq!(v(get(&client, name, "bystander").await), Some(s("0")));
    assert_eq!(proxy.metric("proxy_item_cache_misses_total").await, misses);
    // The update's new item is not in the answer: read afresh, correct.
    assert_eq!(v(get(&client, name, "counter").await), Some(s("1")));
    assert_eq!(
        proxy.metric("proxy_item_cache_misses_total").await,
        misses + 1.0
    );

    // A cancelled transaction leaves the cache as the store is.
    let failing = aws_sdk_dynamodb::types::Put::builder()
        .table_name(name)
        .item("p", s("x"))
        .item("v", s("never"))
        .condition_expression("attribute_not_exists(p)")
        .build()
        .expect("put");
    client
        .transact_write_items()
        .transact_items(
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .put(failing)
                .build(),
        )
        .send()
        .await
        .expect_err("condition fails");
    assert_eq!(v(get(&client, name, "x").await), Some(s("2")));
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_item_writes_fill_the_cache_embedded() {
    let proxy = TestProxy::embedded().await;
    multi_item_writes_fill_the_cache(&proxy, "multi").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_item_writes_fill_the_cache_in_front_of_a_store() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    multi_item_writes_fill_the_cache(&proxy, "multi_remote").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cache_hits_carry_the_checksum_of_the_bytes_they_send() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    create_table(&client, "crc").await;
    put_v(&client, "crc", "k", "1").await;
    let call = |target: &'static str, body: &'static str| async move {
        let (status, headers, body) =
            ferrodyn_tests::raw_post(proxy.addr, Some(target), &[], body.as_bytes()).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let crc: u32 = headers
            .iter()
            .find(|(k, _)| k == "x-amz-crc32")
            .and_then(|(_, v)| v.parse().ok())
            .expect("x-amz-crc32");
        assert_eq!(crc, crc32fast::hash(&body), "{target}");
        body
    };
    let get = r#"{"TableName":"crc","Key":{"p":{"S":"k"}}}"#;
    let first = call("DynamoDB_20120810.GetItem", get).await;
    let hit = call("DynamoDB_20120810.GetItem", get).await;
    assert_eq!(first, hit);
    assert_eq!(proxy.metric("proxy_item_cache_hits_total").await, 2.0);
    let query = r#"{"TableName":"crc","KeyConditionExpression":"p = :p",
        "ExpressionAttributeValues":{":p":{"S":"k"}}}"#;
    call("DynamoDB_20120810.Query", query).await;
    call("DynamoDB_20120810.Query", query).await;
    assert_eq!(
        proxy
            .metric("proxy_query_cache_hits_total{operation=\"Query\"}")
            .await,
        1.0
    );
}

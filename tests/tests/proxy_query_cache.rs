//! The proxy's query cache through the AWS SDK, embedded and in front of a
//! separate store: hits and misses in /metrics, canonical requests,
//! invalidation by partition (base table and index) for writes through the
//! proxy and writes seen on the change feed, Scan invalidation, the lease
//! protocol against a slow fill, and read-your-writes for every write
//! operation through GetItem, BatchGetItem and Query.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeValue as Av, Delete, KeysAndAttributes, Put, PutRequest, ReturnValue,
    ScalarAttributeType, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_store::faults::{FaultSpec, Faults};
use ferrodyn_store::server::ServeOptions;
use ferrodyn_tests::tables::add_index;
use ferrodyn_tests::wait::{until_eq, PATIENCE};
use ferrodyn_tests::{n, raw_post, s, DelayRelay, IndexSpec, TableSpec, TestProxy, TestStore};

/// A table keyed by (p: S, s: N) with a global index `by_g` on g (S).
fn partitioned_table(name: &str) -> TableSpec {
    TableSpec::new(name)
        .hash("p", ScalarAttributeType::S)
        .range("s", ScalarAttributeType::N)
        .gsi(IndexSpec::new("by_g").hash("g", ScalarAttributeType::S))
}

async fn put(client: &Client, table: &str, p: &str, sk: i64, g: &str, v: &str) {
    client
        .put_item()
        .table_name(table)
        .item("p", s(p))
        .item("s", n(sk))
        .item("g", s(g))
        .item("v", s(v))
        .send()
        .await
        .expect("put");
}

/// The `v` values of partition `p`, in sort order.
async fn query(client: &Client, table: &str, p: &str) -> Vec<String> {
    let out = client
        .query()
        .table_name(table)
        .key_condition_expression("#p = :p")
        .expression_attribute_names("#p", "p")
        .expression_attribute_values(":p", s(p))
        .send()
        .await
        .expect("query");
    values(out.items.unwrap_or_default())
}

/// The `v` values of index partition `g`, sorted.
async fn query_index(client: &Client, table: &str, g: &str) -> Vec<String> {
    let out = client
        .query()
        .table_name(table)
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s(g))
        .send()
        .await
        .expect("index query");
    let mut v = values(out.items.unwrap_or_default());
    v.sort();
    v
}

async fn scan(client: &Client, table: &str) -> Vec<String> {
    let out = client.scan().table_name(table).send().await.expect("scan");
    let mut v = values(out.items.unwrap_or_default());
    v.sort();
    v
}

fn values(items: Vec<HashMap<String, Av>>) -> Vec<String> {
    items
        .into_iter()
        .filter_map(|i| match i.get("v") {
            Some(Av::S(v)) => Some(v.clone()),
            _ => None,
        })
        .collect()
}

async fn hits(proxy: &TestProxy, op: &str) -> f64 {
    proxy
        .metric(&format!(
            "proxy_query_cache_hits_total{{operation=\"{op}\"}}"
        ))
        .await
}

async fn misses(proxy: &TestProxy, op: &str) -> f64 {
    proxy
        .metric(&format!(
            "proxy_query_cache_misses_total{{operation=\"{op}\"}}"
        ))
        .await
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_queries_and_scans_hit_the_cache() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    partitioned_table("qhits").create(&client).await;
    put(&client, "qhits", "a", 1, "x", "a1").await;
    put(&client, "qhits", "a", 2, "x", "a2").await;
    proxy.until_feed_delivered(2.0).await;
    for _ in 0..3 {
        assert_eq!(query(&client, "qhits", "a").await, strings(&["a1", "a2"]));
        assert_eq!(scan(&client, "qhits").await, strings(&["a1", "a2"]));
    }
    assert_eq!(misses(&proxy, "Query").await, 1.0);
    assert_eq!(hits(&proxy, "Query").await, 2.0);
    assert_eq!(misses(&proxy, "Scan").await, 1.0);
    assert_eq!(hits(&proxy, "Scan").await, 2.0);
    assert!(proxy.metric("proxy_query_cache_bytes").await > 0.0);
    assert!(proxy.metric("proxy_query_cache_entries").await >= 2.0);
    // Strongly consistent reads and consumed capacity go to the store.
    client
        .query()
        .table_name("qhits")
        .key_condition_expression("p = :p")
        .expression_attribute_values(":p", s("a"))
        .consistent_read(true)
        .send()
        .await
        .expect("consistent query");
    client
        .query()
        .table_name("qhits")
        .key_condition_expression("p = :p")
        .expression_attribute_values(":p", s("a"))
        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
        .send()
        .await
        .expect("query with capacity");
    assert_eq!(hits(&proxy, "Query").await, 2.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_query_written_differently_hits() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    partitioned_table("canon").create(&client).await;
    put(&client, "canon", "a", 1, "x", "a1").await;
    put(&client, "canon", "a", 2, "x", "a2").await;
    proxy.until_feed_delivered(2.0).await;
    assert_eq!(query(&client, "canon", "a").await, strings(&["a1", "a2"]));
    // Other placeholder names, no name placeholder at all.
    let out = client
        .query()
        .table_name("canon")
        .key_condition_expression("p = :partition")
        .expression_attribute_values(":partition", s("a"))
        .send()
        .await
        .expect("query");
    assert_eq!(
        values(out.items.unwrap_or_default()),
        strings(&["a1", "a2"])
    );
    assert_eq!(hits(&proxy, "Query").await, 1.0);
    // Member order and whitespace, on the wire.
    let body = br##"{ "ExpressionAttributeValues" : {":z": {"S":"a"}},
        "KeyConditionExpression":"  #k   =   :z ", "ExpressionAttributeNames": {"#k":"p"},
        "TableName":"canon" }"##;
    let (status, _, answer) =
        raw_post(proxy.addr, Some("DynamoDB_20120810.Query"), &[], body).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert!(String::from_utf8_lossy(&answer).contains("a2"));
    assert_eq!(hits(&proxy, "Query").await, 2.0);
    // A different query is a different entry.
    let out = client
        .query()
        .table_name("canon")
        .key_condition_expression("p = :p AND s > :one")
        .expression_attribute_values(":p", s("a"))
        .expression_attribute_values(":one", n(1))
        .send()
        .await
        .expect("query");
    assert_eq!(values(out.items.unwrap_or_default()), strings(&["a2"]));
    assert_eq!(misses(&proxy, "Query").await, 2.0);
    // A request that does not resolve gets the store's error.
    let err = client
        .query()
        .table_name("canon")
        .key_condition_expression("p = :p")
        .expression_attribute_values(":p", s("a"))
        .expression_attribute_values(":unused", s("b"))
        .send()
        .await
        .expect_err("unused value");
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&err.into_service_error()),
        Some("ValidationException")
    );
}

async fn partition_invalidation(proxy: &TestProxy, name: &str) {
    let client = proxy.client();
    partitioned_table(name).create(&client).await;
    put(&client, name, "a", 1, "x", "a1").await;
    put(&client, name, "b", 1, "x", "b1").await;
    proxy.until_feed_delivered(2.0).await;
    assert_eq!(query(&client, name, "a").await, strings(&["a1"]));
    assert_eq!(query(&client, name, "b").await, strings(&["b1"]));
    let before = hits(proxy, "Query").await;
    put(&client, name, "a", 2, "y", "a2").await;
    // Partition a was invalidated; partition b is still a hit.
    assert_eq!(query(&client, name, "a").await, strings(&["a1", "a2"]));
    assert_eq!(query(&client, name, "b").await, strings(&["b1"]));
    assert_eq!(hits(proxy, "Query").await, before + 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_invalidates_its_partition_and_keeps_the_others_embedded() {
    let proxy = TestProxy::embedded().await;
    partition_invalidation(&proxy, "parts").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_invalidates_its_partition_and_keeps_the_others_in_front_of_a_store() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    partition_invalidation(&proxy, "parts_remote").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_moving_an_item_between_index_partitions_invalidates_both() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    let (direct, cached) = (store.client(), proxy.client());
    partitioned_table("moves").create(&direct).await;
    put(&direct, "moves", "a", 1, "x", "a1").await;
    put(&direct, "moves", "b", 1, "z", "b1").await;
    proxy.until_feed_delivered(2.0).await;
    assert_eq!(query_index(&cached, "moves", "x").await, strings(&["a1"]));
    assert!(query_index(&cached, "moves", "y").await.is_empty());
    assert_eq!(query_index(&cached, "moves", "z").await, strings(&["b1"]));
    // Straight to the store: the proxy learns of it from the feed, with the
    // old image (partition x) and the new one (partition y).
    put(&direct, "moves", "a", 1, "y", "a1").await;
    until_eq(PATIENCE, Vec::new(), || query_index(&cached, "moves", "x")).await;
    until_eq(PATIENCE, strings(&["a1"]), || {
        query_index(&cached, "moves", "y")
    })
    .await;
    // Partition z was not touched: still cached.
    let before = hits(&proxy, "Query").await;
    assert_eq!(query_index(&cached, "moves", "z").await, strings(&["b1"]));
    assert_eq!(hits(&proxy, "Query").await, before + 1.0);
    // Through the proxy: both partitions are right at once.
    cached
        .update_item()
        .table_name("moves")
        .key("p", s("a"))
        .key("s", n(1))
        .update_expression("SET g = :g")
        .expression_attribute_values(":g", s("x"))
        .send()
        .await
        .expect("update");
    assert_eq!(query_index(&cached, "moves", "x").await, strings(&["a1"]));
    assert!(query_index(&cached, "moves", "y").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_is_invalidated_by_any_write_to_its_table() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    partitioned_table("scanned").create(&client).await;
    partitioned_table("other").create(&client).await;
    put(&client, "scanned", "a", 1, "x", "a1").await;
    proxy.until_feed_delivered(1.0).await;
    assert_eq!(scan(&client, "scanned").await, strings(&["a1"]));
    assert_eq!(scan(&client, "scanned").await, strings(&["a1"]));
    assert_eq!(hits(&proxy, "Scan").await, 1.0);
    // Another table's write leaves it cached.
    put(&client, "other", "a", 1, "x", "o1").await;
    proxy.until_feed_delivered(2.0).await;
    assert_eq!(scan(&client, "scanned").await, strings(&["a1"]));
    assert_eq!(hits(&proxy, "Scan").await, 2.0);
    put(&client, "scanned", "zz", 9, "q", "z9").await;
    assert_eq!(scan(&client, "scanned").await, strings(&["a1", "z9"]));
    client
        .delete_item()
        .table_name("scanned")
        .key("p", s("a"))
        .key("s", n(1))
        .send()
        .await
        .expect("delete");
    assert_eq!(scan(&client, "scanned").await, strings(&["z9"]));
    // Index scans too.
    let index_scan = || async {
        let out = client
            .scan()
            .table_name("scanned")
            .index_name("by_g")
            .send()
            .await
            .expect("index scan");
        values(out.items.unwrap_or_default())
    };
    assert_eq!(index_scan().await, strings(&["z9"]));
    put(&client, "scanned", "b", 1, "q", "b1").await;
    let mut got = index_scan().await;
    got.sort();
    assert_eq!(got, strings(&["b1", "z9"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn writes_elsewhere_invalidate_query_results_through_the_feed() {
    let store = TestStore::start().await;
    let a = TestProxy::in_front_of(&store.endpoint()).await;
    let b = TestProxy::in_front_of(&store.endpoint()).await;
    let (direct, ca, cb) = (store.client(), a.client(), b.client());
    partitioned_table("elsewhere").create(&direct).await;
    put(&direct, "elsewhere", "a", 1, "x", "v1").await;
    a.until_feed_delivered(1.0).await;
    b.until_feed_delivered(1.0).await;
    assert_eq!(query(&ca, "elsewhere", "a").await, strings(&["v1"]));
    assert_eq!(query(&ca, "elsewhere", "a").await, strings(&["v1"]));
    assert_eq!(scan(&cb, "elsewhere").await, strings(&["v1"]));
    assert_eq!(hits(&a, "Query").await, 1.0);
    // Straight to the store.
    put(&direct, "elsewhere", "a", 2, "x", "v2").await;
    until_eq(PATIENCE, strings(&["v1", "v2"]), || {
        query(&ca, "elsewhere", "a")
    })
    .await;
    until_eq(PATIENCE, strings(&["v1", "v2"]), || scan(&cb, "elsewhere")).await;
    // Through the other proxy.
    put(&cb, "elsewhere", "a", 3, "x", "v3").await;
    until_eq(PATIENCE, strings(&["v1", "v2", "v3"]), || {
        query(&ca, "elsewhere", "a")
    })
    .await;
    assert!(a.metric("proxy_query_cache_invalidations_total").await >= 2.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_query_overtaken_by_a_write_is_not_cached() {
    let store = TestStore::start().await;
    let relay = DelayRelay::start(store.addr).await;
    let proxy = TestProxy::in_front_of(&relay.endpoint()).await;
    let client = proxy.client();
    partitioned_table("qrace").create(&client).await;
    put(&client, "qrace", "a", 1, "x", "old").await;
    // Learn the key schema first, so the query's only slow part is its read.
    assert_eq!(query(&client, "qrace", "zz").await, Vec::<String>::new());

    // The query reaches the store (and sees "old"), and the relay holds its
    // answer back; meanwhile a write through the proxy changes the
    // partition.
    relay.hold_responses_to(b"DynamoDB_20120810.Query");
    let reader = {
        let client = client.clone();
        tokio::spawn(async move { query(&client, "qrace", "a").await })
    };
    relay.until_holding().await;
    put(&client, "qrace", "a", 1, "x", "new").await;
    // Let the write's echo on the change feed land too, so that a stale
    // fill, if accepted, would stay in the cache for the read below to see.
    proxy.until_feed_delivered(2.0).await;
    relay.release();
    assert_eq!(reader.await.expect("reader"), strings(&["old"]));
    // The stale fill was refused.
    assert_eq!(query(&client, "qrace", "a").await, strings(&["new"]));
    assert!(
        proxy
            .metric("proxy_query_cache_fills_discarded_total")
            .await
            >= 1.0
    );
}

/// A table no result of which was ever cached skips the query cache's
/// invalidation around a write; a query leased while such a write is in
/// flight must still not keep what the write replaced.
#[tokio::test(flavor = "multi_thread")]
async fn a_first_query_during_a_write_does_not_keep_what_the_write_replaced() {
    let faults = Faults::new();
    let store = TestStore::start_serving(ServeOptions {
        faults: faults.clone(),
        ..ServeOptions::default()
    })
    .await;
    let relay = DelayRelay::start(store.addr).await;
    let proxy = TestProxy::in_front_of(&relay.endpoint()).await;
    let client = proxy.client();
    partitioned_table("qfirst").create(&client).await;
    // (This write teaches the proxy the key schema; nothing is queried.)
    put(&client, "qfirst", "a", 1, "x", "old").await;
    // Only the write's own answer can tell the proxy about it: the change
    // feed hands out nothing, and the write reaches the store a second
    // after the proxy forwarded it.
    for fault in ["pause=feed", "op=PutItem,table=qfirst,latency=1s"] {
        faults
            .add(FaultSpec::parse(fault).expect("fault"))
            .expect("add fault");
    }
    let writer = {
        let client = client.clone();
        tokio::spawn(async move { put(&client, "qfirst", "a", 1, "x", "new").await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The table's first query reads before the write commits, and its
    // answer is held back until the write is acknowledged.
    relay.hold_responses_to(b"DynamoDB_20120810.Query");
    let reader = {
        let client = client.clone();
        tokio::spawn(async move { query(&client, "qfirst", "a").await })
    };
    relay.until_holding().await;
    writer.await.expect("writer");
    relay.release();
    assert_eq!(reader.await.expect("reader"), strings(&["old"]));
    assert_eq!(query(&client, "qfirst", "a").await, strings(&["new"]));
}

async fn get_v(client: &Client, table: &str, p: &str) -> Option<String> {
    let item = client
        .get_item()
        .table_name(table)
        .key("p", s(p))
        .key("s", n(1))
        .send()
        .await
        .expect("get")
        .item?;
    match item.get("v") {
        Some(Av::S(v)) => Some(v.clone()),
        _ => None,
    }
}

async fn batch_v(client: &Client, table: &str, p: &str) -> Option<String> {
    let out = client
        .batch_get_item()
        .request_items(
            table,
            KeysAndAttributes::builder()
                .keys([("p".to_owned(), s(p)), ("s".to_owned(), n(1))].into())
                .build()
                .expect("keys"),
        )
        .send()
        .await
        .expect("batch get");
    let items = out.responses?.remove(table)?;
    values(items).into_iter().next()
}

/// GetItem, BatchGetItem and Query all show `want` for (p, 1).
async fn all_show(client: &Client, table: &str, p: &str, want: Option<&str>) {
    let want = want.map(str::to_owned);
    assert_eq!(get_v(client, table, p).await, want, "GetItem");
    assert_eq!(batch_v(client, table, p).await, want, "BatchGetItem");
    let q = query(client, table, p).await;
    assert_eq!(q.into_iter().next(), want, "Query");
}

async fn read_your_writes(proxy: &TestProxy, name: &str) {
    let client = proxy.client();
    partitioned_table(name).create(&client).await;
    // Negative entries first: a Put must clear them.
    all_show(&client, name, "k", None).await;
    all_show(&client, name, "k", None).await;
    put(&client, name, "k", 1, "x", "put").await;
    all_show(&client, name, "k", Some("put")).await;
    // UpdateItem with every ReturnValues.
    for (i, rv) in [
        None,
        Some(ReturnValue::None),
        Some(ReturnValue::AllNew),
        Some(ReturnValue::AllOld),
        Some(ReturnValue::UpdatedNew),
        Some(ReturnValue::UpdatedOld),
    ]
    .into_iter()
    .enumerate()
    {
        let v = format!("update{i}");
        let out = client
            .update_item()
            .table_name(name)
            .key("p", s("k"))
            .key("s", n(1))
            .update_expression("SET v = :v")
            .expression_attribute_values(":v", s(&v))
            .set_return_values(rv.clone())
            .send()
            .await
            .expect("update");
        // The client gets exactly what it asked for.
        let attrs = out.attributes;
        match rv {
            None | Some(ReturnValue::None) => assert!(attrs.is_none(), "{rv:?}: {attrs:?}"),
            Some(ReturnValue::AllNew) => {
                let attrs = attrs.expect("ALL_NEW attributes");
                assert_eq!(attrs.get("v"), Some(&s(&v)));
                assert_eq!(attrs.get("g"), Some(&s("x")));
            }
            Some(ReturnValue::UpdatedNew) => {
                assert_eq!(attrs, Some([("v".to_owned(), s(&v))].into()))
            }
            _ => assert!(attrs.is_some(), "{rv:?}"),
        }
        all_show(&client, name, "k", Some(&v)).await;
    }
    // A failed conditional write leaves the right value visible.
    let err = client
        .put_item()
        .table_name(name)
        .item("p", s("k"))
        .item("s", n(1))
        .item("v", s("never"))
        .condition_expression("attribute_not_exists(p)")
        .send()
        .await
        .expect_err("condition fails");
    assert_eq!(
        aws_sdk_dynamodb::error::ProvideErrorMetadata::code(&err.into_service_error()),
        Some("ConditionalCheckFailedException")
    );
    all_show(&client, name, "k", Some("update5")).await;
    // DeleteItem.
    client
        .delete_item()
        .table_name(name)
        .key("p", s("k"))
        .key("s", n(1))
        .send()
        .await
        .expect("delete");
    all_show(&client, name, "k", None).await;
    // BatchWriteItem: a put and a delete.
    put(&client, name, "gone", 1, "x", "soon").await;
    all_show(&client, name, "gone", Some("soon")).await;
    let item: HashMap<String, Av> = [
        ("p".to_owned(), s("k")),
        ("s".to_owned(), n(1)),
        ("v".to_owned(), s("batch")),
    ]
    .into();
    client
        .batch_write_item()
        .request_items(
            name,
            vec![
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item))
                            .build()
                            .expect("put"),
                    )
                    .build(),
                WriteRequest::builder()
                    .delete_request(
                        aws_sdk_dynamodb::types::DeleteRequest::builder()
                            .key("p", s("gone"))
                            .key("s", n(1))
                            .build()
                            .expect("delete"),
                    )
                    .build(),
            ],
        )
        .send()
        .await
        .expect("batch write");
    all_show(&client, name, "k", Some("batch")).await;
    all_show(&client, name, "gone", None).await;
    // TransactWriteItems.
    client
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(name)
                        .item("p", s("k"))
                        .item("s", n(1))
                        .item("v", s("transact"))
                        .build()
                        .expect("put"),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(name)
                        .key("p", s("other"))
                        .key("s", n(1))
                        .build()
                        .expect("delete"),
                )
                .build(),
        )
        .send()
        .await
        .expect("transact");
    all_show(&client, name, "k", Some("transact")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_proxy_reads_its_own_writes_through_every_read() {
    let proxy = TestProxy::embedded().await;
    read_your_writes(&proxy, "ryw_all").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn proxy_in_front_of_a_store_reads_its_own_writes_through_every_read() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    read_your_writes(&proxy, "ryw_all_remote").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_table_serves_no_old_query_results() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    partitioned_table("dropped").create(&client).await;
    put(&client, "dropped", "a", 1, "x", "a1").await;
    assert_eq!(query(&client, "dropped", "a").await, strings(&["a1"]));
    assert_eq!(scan(&client, "dropped").await, strings(&["a1"]));
    client
        .delete_table()
        .table_name("dropped")
        .send()
        .await
        .expect("delete table");
    partitioned_table("dropped").create(&client).await;
    assert!(query(&client, "dropped", "a").await.is_empty());
    assert!(scan(&client, "dropped").await.is_empty());
}

/// Index partition (h1, h2) of the multi-attribute GSI `by_pair`, sorted.
async fn query_pair(client: &Client, h1: &str, h2: i64) -> Vec<String> {
    let out = client
        .query()
        .table_name("pairs")
        .index_name("by_pair")
        .key_condition_expression("h1 = :a AND h2 = :b")
        .expression_attribute_values(":a", s(h1))
        .expression_attribute_values(":b", n(h2))
        .send()
        .await
        .expect("pair query");
    let mut v = values(out.items.unwrap_or_default());
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_moving_an_item_between_multi_attribute_index_partitions_invalidates_both() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    let (direct, cached) = (store.client(), proxy.client());
    TableSpec::new("pairs")
        .hash("p", ScalarAttributeType::S)
        .gsi(
            IndexSpec::new("by_pair")
                .hash("h1", ScalarAttributeType::S)
                .hash("h2", ScalarAttributeType::N),
        )
        .create(&direct)
        .await;
    let put_pair = |p: &'static str, h1: &'static str, h2: i64, v: &'static str| {
        let direct = direct.clone();
        async move {
            direct
                .put_item()
                .table_name("pairs")
                .item("p", s(p))
                .item("h1", s(h1))
                .item("h2", n(h2))
                .item("v", s(v))
                .send()
                .await
                .expect("put");
        }
    };
    put_pair("a", "x", 1, "a").await;
    put_pair("b", "x", 3, "b").await;
    proxy.until_feed_delivered(2.0).await;
    assert_eq!(query_pair(&cached, "x", 1).await, strings(&["a"]));
    assert!(query_pair(&cached, "x", 2).await.is_empty());
    assert_eq!(query_pair(&cached, "x", 3).await, strings(&["b"]));
    // Straight to the store: (x, 1) → (x, 2), seen on the feed.
    put_pair("a", "x", 2, "a").await;
    until_eq(PATIENCE, Vec::new(), || query_pair(&cached, "x", 1)).await;
    until_eq(PATIENCE, strings(&["a"]), || query_pair(&cached, "x", 2)).await;
    // (x, 3) shares h1 but is another partition: still cached.
    let before = hits(&proxy, "Query").await;
    assert_eq!(query_pair(&cached, "x", 3).await, strings(&["b"]));
    assert_eq!(hits(&proxy, "Query").await, before + 1.0);
}

/// An index created straight on the store (the proxy never saw the
/// UpdateTable): the proxy learns the table's keys again when a Query names
/// it, caches the result, and a change elsewhere invalidates it.
#[tokio::test(flavor = "multi_thread")]
async fn an_index_created_elsewhere_is_learned_cached_and_invalidated() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    let (direct, client) = (store.client(), proxy.client());
    partitioned_table("late_index").create(&direct).await;
    put(&direct, "late_index", "a", 1, "x", "v1").await;
    // The proxy learns the schema (without the index yet).
    assert_eq!(query(&client, "late_index", "a").await, strings(&["v1"]));
    add_index(
        &direct,
        "late_index",
        &IndexSpec::new("by_v").hash("v", ScalarAttributeType::S),
    )
    .await;
    let by_v = |v: &'static str| {
        let client = client.clone();
        async move {
            let start = Instant::now();
            loop {
                match client
                    .query()
                    .table_name("late_index")
                    .index_name("by_v")
                    .key_condition_expression("v = :v")
                    .expression_attribute_values(":v", s(v))
                    .send()
                    .await
                {
                    Ok(out) => return values(out.items.unwrap_or_default()),
                    // Still backfilling.
                    Err(_) if start.elapsed() < Duration::from_secs(20) => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(e) => panic!("index query: {e:?}"),
                }
            }
        }
    };
    assert_eq!(by_v("v1").await, strings(&["v1"]));
    let before = hits(&proxy, "Query").await;
    assert_eq!(by_v("v1").await, strings(&["v1"]));
    assert_eq!(hits(&proxy, "Query").await, before + 1.0, "cached");
    // A second item into that index partition, straight to the store.
    put(&direct, "late_index", "b", 1, "y", "v1").await;
    until_eq(PATIENCE, strings(&["v1", "v1"]), || by_v("v1")).await;
}

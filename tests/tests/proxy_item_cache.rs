//! The proxy's item cache through the AWS SDK, embedded and in front of a
//! separate store: hits and misses in /metrics, projections from cached
//! items, negative caching, and read-your-writes for every write operation.

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

fn s(v: &str) -> Av {
    Av::S(v.to_owned())
}

async fn get(
    client: &Client,
    table: &str,
    key: &str,
) -> Option<std::collections::HashMap<String, Av>> {
    client
        .get_item()
        .table_name(table)
        .key("p", s(key))
        .send()
        .await
        .expect("get")
        .item
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_reads_hit_the_cache() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    table(&client, "hits").await;
    client
        .put_item()
        .table_name("hits")
        .item("p", s("k"))
        .item("v", s("1"))
        .send()
        .await
        .expect("put");
    for _ in 0..5 {
        assert_eq!(
            get(&client, "hits", "k")
                .await
                .and_then(|i| i.get("v").cloned()),
            Some(s("1"))
        );
    }
    assert_eq!(proxy.metric("proxy_item_cache_misses_total").await, 1.0);
    assert_eq!(proxy.metric("proxy_item_cache_hits_total").await, 4.0);
    // Strongly consistent reads always go to the store.
    client
        .get_item()
        .table_name("hits")
        .key("p", s("k"))
        .consistent_read(true)
        .send()
        .await
        .expect("get");
    assert_eq!(proxy.metric("proxy_item_cache_hits_total").await, 4.0);
    assert!(proxy.metric("proxy_item_cache_bytes").await > 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn projections_are_applied_to_the_cached_item() {
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    table(&client, "proj").await;
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
    assert_eq!(proxy.metric("proxy_item_cache_hits_total").await, 1.0);
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
    table(client, name).await;
    // Negative entry, then a Put must be visible.
    assert!(get(client, name, "k").await.is_none());
    client
        .put_item()
        .table_name(name)
        .item("p", s("k"))
        .item("v", s("1"))
        .send()
        .await
        .expect("put");
    assert_eq!(
        get(client, name, "k")
            .await
            .and_then(|i| i.get("v").cloned()),
        Some(s("1"))
    );
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
    assert_eq!(
        get(client, name, "k")
            .await
            .and_then(|i| i.get("v").cloned()),
        Some(s("2"))
    );
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
    assert_eq!(
        get(client, name, "k")
            .await
            .and_then(|i| i.get("v").cloned()),
        Some(s("2"))
    );
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
    client
        .put_item()
        .table_name(name)
        .item("p", s("k"))
        .item("v", s("3"))
        .send()
        .await
        .expect("put");
    assert!(get(client, name, "k").await.is_some());
    client
        .delete_table()
        .table_name(name)
        .send()
        .await
        .expect("delete table");
    table(client, name).await;
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
    let relay = ferrodyn_tests::DelayRelay::start(store.addr).await;
    let proxy = TestProxy::in_front_of(&relay.endpoint()).await;
    let client = proxy.client();
    table(&client, "race").await;
    client
        .put_item()
        .table_name("race")
        .item("p", s("k"))
        .item("v", s("old"))
        .send()
        .await
        .expect("put old");

    // The read reaches the store at once (and sees "old"), but its answer is
    // held back; meanwhile a write through the proxy replaces the item.
    relay.set_delay_ms(400);
    let reader = {
        let client = client.clone();
        tokio::spawn(async move { get(&client, "race", "k").await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // The write itself is not held back: it completes (and invalidates)
    // while the read's answer is still on its way.
    relay.set_delay_ms(0);
    client
        .put_item()
        .table_name("race")
        .item("p", s("k"))
        .item("v", s("new"))
        .send()
        .await
        .expect("put new");
    let slow = reader.await.expect("reader");
    assert_eq!(
        slow.and_then(|i| i.get("v").cloned()),
        Some(s("old")),
        "the slow read saw the old item"
    );

    // The stale fill must have been discarded.
    assert_eq!(
        get(&client, "race", "k")
            .await
            .and_then(|i| i.get("v").cloned()),
        Some(s("new"))
    );
    assert!(proxy.metric("proxy_item_cache_fills_discarded_total").await >= 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_misses_share_one_upstream_read() {
    let store = TestStore::start().await;
    let relay = ferrodyn_tests::DelayRelay::start(store.addr).await;
    let proxy = TestProxy::in_front_of(&relay.endpoint()).await;
    let client = proxy.client();
    table(&client, "herd").await;
    client
        .put_item()
        .table_name("herd")
        .item("p", s("k"))
        .item("v", s("1"))
        .send()
        .await
        .expect("put");
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

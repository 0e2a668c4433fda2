//! The proxy's change feed cannot be lost or started late: item values
//! that look like errors, items too deep to encode, a feed that answers
//! late, and a store replaced behind the proxy all leave the caches
//! coherent with the store.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue as Av;
use ferrodyn_tests::create_table;
use ferrodyn_tests::items::{put_v, until_value, value};
use ferrodyn_tests::wait::PATIENCE;
use ferrodyn_tests::{raw_post, s, FeedRelay, TestProxy, TestStore};

/// Read `key` twice through the proxy so that it is cached.
async fn cache(proxy: &TestProxy, table: &str, key: &str, want: &str) {
    let client = proxy.client();
    let hits = proxy.metric("proxy_item_cache_hits_total").await;
    let mut tries = 0;
    // A feed echo of the setup writes may still refuse the first fills.
    while proxy.metric("proxy_item_cache_hits_total").await <= hits {
        assert_eq!(value(&client, table, key).await, Some(s(want)));
        tries += 1;
        assert!(tries < 200, "{key} never became a cache hit");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_feed_survives_an_item_whose_text_names_an_unknown_operation() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    let direct = store.client();
    // No stream: the change feed is the only way the proxy hears of writes.
    create_table(&direct, "words").await;
    put_v(&direct, "words", "k", "1").await;
    cache(&proxy, "words", "k", "1").await;

    put_v(
        &direct,
        "words",
        "trap",
        "com.amazon.coral.service#UnknownOperationException",
    )
    .await;
    put_v(&direct, "words", "k", "2").await;
    until_value(&proxy.client(), "words", "k", "2", PATIENCE).await;
    assert_eq!(proxy.metric("proxy_change_feed_connected").await, 1.0);
    assert_eq!(proxy.metric("proxy_change_feed_ttl_only").await, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_item_cannot_nest_an_item_deeper_than_32_levels() {
    let store = TestStore::start().await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    let direct = store.client();
    create_table(&direct, "deep").await;
    put_v(&direct, "deep", "k", "1").await;
    cache(&proxy, "deep", "k", "1").await;

    // Each value is 20 levels deep (allowed on its own); set one into the
    // other's innermost map, then keep going.
    let mut nested = s("leaf");
    for _ in 0..20 {
        nested = Av::M([("x".to_owned(), nested)].into());
    }
    direct
        .update_item()
        .table_name("deep")
        .key("p", s("d"))
        .update_expression("SET a = :v")
        .expression_attribute_values(":v", nested.clone())
        .send()
        .await
        .expect("20 levels are allowed");
    let path = format!("a{}", ".x".repeat(19));
    let err = direct
        .update_item()
        .table_name("deep")
        .key("p", s("d"))
        .update_expression(format!("SET {path} = :v"))
        .expression_attribute_values(":v", nested)
        .send()
        .await
        .expect_err("40 levels are not");
    let err = err.into_service_error();
    let meta = aws_sdk_dynamodb::error::ProvideErrorMetadata::meta(&err);
    assert_eq!(meta.code(), Some("ValidationException"));
    assert_eq!(
        meta.message(),
        Some("Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit")
    );
    // Nothing changed, and the feed goes on.
    put_v(&direct, "deep", "k", "2").await;
    until_value(&proxy.client(), "deep", "k", "2", PATIENCE).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_cached_before_the_feed_knows_where_the_log_ends() {
    let store = TestStore::start().await;
    let direct = store.client();
    create_table(&direct, "early").await;
    put_v(&direct, "early", "k", "1").await;
    // The proxy's first feed request is held back: it is serving, but does
    // not yet know where the store's log ends.
    let relay = FeedRelay::start(store.addr, b"FerrodynFeed_20261124.GetChanges").await;
    let endpoint = relay.endpoint();
    let proxy = TestProxy::start_unready(move |c| c.upstream = Some(endpoint)).await;
    relay.until_holding().await;
    let cached = proxy.client();
    assert_eq!(value(&cached, "early", "k").await, Some(s("1")));
    assert_eq!(value(&cached, "early", "k").await, Some(s("1")));
    assert_eq!(proxy.admin_get("/readyz").await.0, 503);
    // Committed before the feed's starting point: no feed will report it.
    put_v(&direct, "early", "k", "2").await;
    relay.release();
    proxy.wait_ready().await;
    assert_eq!(value(&cached, "early", "k").await, Some(s("2")));
    assert_eq!(proxy.metric("proxy_item_cache_hits_total").await, 0.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_replaced_behind_the_proxy_drops_every_entry() {
    let first = TestStore::start().await;
    create_table(&first.client(), "swap").await;
    // A longer log on the first store than on its replacement.
    for i in 0..20 {
        put_v(&first.client(), "swap", "k", &format!("old{i}")).await;
    }
    let relay = FeedRelay::start(first.addr, b"").await;
    let proxy = TestProxy::in_front_of(&relay.endpoint()).await;
    cache(&proxy, "swap", "k", "old19").await;

    let second = TestStore::start().await;
    create_table(&second.client(), "swap").await;
    put_v(&second.client(), "swap", "k", "new").await;
    relay.switch_to(second.addr);
    // Writes to the first store answer the feed's long polls still open on
    // it (each connection to it then closes), until a poll reaches the
    // replacement.
    let start = Instant::now();
    let client = proxy.client();
    for i in 0.. {
        if value(&client, "swap", "k").await == Some(s("new")) {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the proxy still serves the first store's item 10 s after the switch"
        );
        put_v(&first.client(), "swap", "other", &i.to_string()).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_table_name_leaves_no_state_in_the_proxy() {
    let proxy = TestProxy::embedded().await;
    let name = "x".repeat(15 << 20);
    let key = r#"{"p":{"S":"k"}}"#;
    for (op, body) in [
        (
            "PutItem",
            format!(r#"{{"TableName":"{name}","Item":{key}}}"#),
        ),
        (
            "GetItem",
            format!(r#"{{"TableName":"{name}","Key":{key}}}"#),
        ),
        ("DeleteTable", format!(r#"{{"TableName":"{name}"}}"#)),
        (
            "BatchWriteItem",
            format!(r#"{{"RequestItems":{{"{name}":[{{"DeleteRequest":{{"Key":{key}}}}}]}}}}"#),
        ),
        (
            "Query",
            format!(
                r#"{{"TableName":"{name}","KeyConditionExpression":"p = :p","ExpressionAttributeValues":{{":p":{{"S":"k"}}}}}}"#
            ),
        ),
    ] {
        let target = format!("DynamoDB_20120810.{op}");
        let (status, _, _) = raw_post(proxy.addr, Some(&target), &[], body.as_bytes()).await;
        assert_eq!(status, 400, "{op}");
    }
    assert_eq!(proxy.metric("proxy_item_cache_tables").await, 0.0);
    assert_eq!(proxy.metric("proxy_query_cache_tables").await, 0.0);
    let (_, insights) = proxy.admin_get("/insights").await;
    assert!(
        insights.len() < 1000,
        "insights kept the name: {} bytes",
        insights.len()
    );
}

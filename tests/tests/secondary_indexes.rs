//! Secondary indexes through the AWS SDK: entries follow every kind of
//! write, Query and Scan read them in index order with the index's
//! projection, and paging resumes from index keys.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, ReturnConsumedCapacity, ScalarAttributeType, Select,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::values::num;
use ferrodyn_tests::{n, s, IndexSpec, TableSpec, TestStore};

/// Table `p`/`c`, an LSI on `l` (ALL) and a GSI `g`/`gs` (KEYS_ONLY).
fn indexed_table() -> TableSpec {
    TableSpec::new("idx")
        .hash("p", ScalarAttributeType::S)
        .range("c", ScalarAttributeType::N)
        .lsi(
            IndexSpec::new("by_l")
                .hash("p", ScalarAttributeType::S)
                .range("l", ScalarAttributeType::S),
        )
        .gsi(
            IndexSpec::new("by_g")
                .hash("g", ScalarAttributeType::S)
                .range("gs", ScalarAttributeType::N)
                .keys_only(),
        )
}

async fn query_g(client: &Client, g: &str, limit: Option<i32>) -> Vec<HashMap<String, Av>> {
    let mut pages = client
        .query()
        .table_name("idx")
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s(g))
        .set_limit(limit)
        .into_paginator()
        .send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        out.extend(page.expect("page").items().iter().cloned());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn indexes_follow_writes_and_serve_queries_and_scans() {
    let server = TestStore::start().await;
    let client = server.client();
    indexed_table().create(&client).await;
    for i in 0..20i64 {
        let mut put = client
            .put_item()
            .table_name("idx")
            .item("p", s(if i % 2 == 0 { "even" } else { "odd" }))
            .item("c", n(i))
            .item("l", s(&format!("{:02}", 19 - i)))
            .item("x", n(i * 10));
        // Half the items are in the GSI, under one of two partitions.
        if i % 4 != 3 {
            put = put.item("g", s(if i < 10 { "low" } else { "high" }));
            put = put.item("gs", n(100 - i));
        }
        put.send().await.expect("put");
    }
    // GSI: index order (gs ascending = i descending), KEYS_ONLY projection.
    let low = query_g(&client, "low", Some(2)).await;
    let got: Vec<i64> = low.iter().map(|i| num(i, "c")).collect();
    assert_eq!(got, vec![9, 8, 6, 5, 4, 2, 1, 0]);
    assert!(low
        .iter()
        .all(|i| { i.len() == 4 && !i.contains_key("x") && !i.contains_key("l") }));
    // ALL_ATTRIBUTES is refused on a GSI that does not project everything.
    let err = client
        .query()
        .table_name("idx")
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("low"))
        .select(Select::AllAttributes)
        .send()
        .await
        .expect_err("all attributes");
    assert_eq!(err.code(), Some("ValidationException"));
    let err = client
        .query()
        .table_name("idx")
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("low"))
        .consistent_read(true)
        .send()
        .await
        .expect_err("consistent read on a GSI");
    assert!(err
        .message()
        .unwrap_or_default()
        .contains("Consistent reads are not supported on global secondary indexes"));

    // An update moving an item to another GSI partition, a removal of the
    // index key, and a delete.
    client
        .update_item()
        .table_name("idx")
        .key("p", s("odd"))
        .key("c", n(9))
        .update_expression("SET g = :h")
        .expression_attribute_values(":h", s("high"))
        .send()
        .await
        .expect("update");
    client
        .update_item()
        .table_name("idx")
        .key("p", s("even"))
        .key("c", n(8))
        .update_expression("REMOVE gs")
        .send()
        .await
        .expect("update");
    client
        .delete_item()
        .table_name("idx")
        .key("p", s("even"))
        .key("c", n(0))
        .send()
        .await
        .expect("delete");
    let low: Vec<i64> = query_g(&client, "low", None)
        .await
        .iter()
        .map(|i| num(i, "c"))
        .collect();
    assert_eq!(low, vec![6, 5, 4, 2, 1]);
    let high: Vec<i64> = query_g(&client, "high", Some(3))
        .await
        .iter()
        .map(|i| num(i, "c"))
        .collect();
    assert_eq!(high, vec![18, 17, 16, 14, 13, 12, 10, 9]);

    // LSI: the "even" partition in l order (l = 19 - c, so c descending),
    // ALL projection, reversed and paged.
    let mut pages = client
        .query()
        .table_name("idx")
        .index_name("by_l")
        .key_condition_expression("p = :p AND l < :l")
        .expression_attribute_values(":p", s("even"))
        .expression_attribute_values(":l", s("10"))
        .scan_index_forward(false)
        .limit(2)
        .into_paginator()
        .send();
    let mut got = Vec::new();
    while let Some(page) = pages.next().await {
        for item in page.expect("page").items() {
            assert!(item.contains_key("x"));
            got.push(num(item, "c"));
        }
    }
    assert_eq!(got, vec![10, 12, 14, 16, 18]);

    // Equality and <= on an index sort key (entries extend past it).
    for (cond, want) in [
        ("p = :p AND l = :l", vec![14]),
        ("p = :p AND l <= :l", vec![18, 16, 14]),
    ] {
        let out = client
            .query()
            .table_name("idx")
            .index_name("by_l")
            .key_condition_expression(cond)
            .expression_attribute_values(":p", s("even"))
            .expression_attribute_values(":l", s("05"))
            .send()
            .await
            .expect(cond);
        let got: Vec<i64> = out.items().iter().map(|i| num(i, "c")).collect();
        assert_eq!(got, want, "{cond}");
    }
    // Index key attributes must have the index's type and not be empty.
    for (value, needle) in [
        (
            n(1),
            "Type mismatch for Index Key g Expected: S Actual: N IndexName: by_g",
        ),
        (
            s(""),
            "cannot contain an empty string value. IndexName: by_g, IndexKey: g",
        ),
    ] {
        let err = client
            .put_item()
            .table_name("idx")
            .item("p", s("bad"))
            .item("c", n(1))
            .item("g", value)
            .send()
            .await
            .expect_err("bad index key");
        assert!(
            err.message().unwrap_or_default().contains(needle),
            "{err:?}"
        );
    }

    // Scan of an index sees exactly its entries.
    let out = client
        .scan()
        .table_name("idx")
        .index_name("by_g")
        .select(Select::Count)
        .send()
        .await
        .expect("scan");
    assert_eq!(out.count(), 13);
    let err = client
        .query()
        .table_name("idx")
        .index_name("nope")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("low"))
        .send()
        .await
        .expect_err("unknown index");
    assert!(err
        .message()
        .unwrap_or_default()
        .contains("The table does not have the specified index: nope"));
}

#[tokio::test(flavor = "multi_thread")]
async fn consumed_capacity_names_the_indexes_a_request_used() {
    let server = TestStore::start().await;
    let client = server.client();
    indexed_table().create(&client).await;
    let out = client
        .put_item()
        .table_name("idx")
        .item("p", s("a"))
        .item("c", n(1))
        .item("l", s("x"))
        .item("g", s("y"))
        .item("gs", n(2))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .expect("put");
    let cc = out.consumed_capacity().expect("capacity");
    assert_eq!(cc.capacity_units(), Some(3.0));
    assert_eq!(cc.table().and_then(|t| t.capacity_units()), Some(1.0));
    assert!(cc
        .global_secondary_indexes()
        .is_some_and(|g| g.contains_key("by_g")));
    assert!(cc
        .local_secondary_indexes()
        .is_some_and(|l| l.contains_key("by_l")));
    // Without the index key attributes, before and after: no index is touched.
    let out = client
        .put_item()
        .table_name("idx")
        .item("p", s("b"))
        .item("c", n(1))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .expect("put");
    let cc = out.consumed_capacity().expect("capacity");
    assert_eq!(cc.capacity_units(), Some(1.0));
    assert!(cc.global_secondary_indexes().is_none());
    // A Query of an index spends only the index's capacity.
    let out = client
        .query()
        .table_name("idx")
        .index_name("by_g")
        .key_condition_expression("g = :g")
        .expression_attribute_values(":g", s("y"))
        .return_consumed_capacity(ReturnConsumedCapacity::Indexes)
        .send()
        .await
        .expect("query");
    let cc = out.consumed_capacity().expect("capacity");
    assert!(cc.table().is_none());
    assert!(cc
        .global_secondary_indexes()
        .is_some_and(|g| g.contains_key("by_g")));
}

/// An item whose secondary-index key value is over DynamoDB's key size
/// limits is refused whole, with the messages of the table's own key
/// limits: 2048 bytes for an index partition key, 1024 for an index sort
/// key.
#[tokio::test(flavor = "multi_thread")]
async fn index_key_values_over_the_key_size_limits_are_refused() {
    let server = TestStore::start().await;
    let client = server.client();
    indexed_table().create(&client).await;
    let at_limit = "g".repeat(2048);
    client
        .put_item()
        .table_name("idx")
        .item("p", s("a"))
        .item("c", n(1))
        .item("g", s(&at_limit))
        .item("gs", n(1))
        .item("l", s(&"l".repeat(1024)))
        .send()
        .await
        .expect("index keys at the limits");
    assert_eq!(query_g(&client, &at_limit, None).await.len(), 1);
    for (attr, value, message) in [
        (
            "g",
            "g".repeat(2049),
            "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ),
        (
            "l",
            "l".repeat(1025),
            "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes",
        ),
    ] {
        let err = client
            .put_item()
            .table_name("idx")
            .item("p", s("b"))
            .item("c", n(2))
            .item(attr, s(&value))
            .send()
            .await
            .expect_err(attr)
            .into_service_error();
        assert_eq!(err.code(), Some("ValidationException"), "{attr}");
        assert_eq!(err.message(), Some(message), "{attr}");
        let got = client
            .get_item()
            .table_name("idx")
            .key("p", s("b"))
            .key("c", n(2))
            .consistent_read(true)
            .send()
            .await
            .expect("get");
        assert!(got.item().is_none(), "{attr}: nothing was written");
    }
}

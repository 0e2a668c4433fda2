//! One-call item reads and writes for tests whose subject is something
//! else (a cache, a feed, an expression): each panics if the request
//! fails. Tests of the item operations themselves build their requests.
//!
//! Many proxy tests work on items `{p: <key>, v: <value>}` (both strings):
//! [`put_v`], [`value`] and [`until_value`] read and write those.

use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue as Av, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use crate::values::{s, Item};
use crate::wait::until_eq;

/// Puts `item` (which must include the table's key).
pub async fn put(client: &Client, table: &str, item: Item) {
    client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .send()
        .await
        .expect("put item");
}

/// The item stored under `p = key` (an eventually consistent GetItem, as a
/// proxy may answer from its cache), if any.
pub async fn get(client: &Client, table: &str, key: &str) -> Option<Item> {
    client
        .get_item()
        .table_name(table)
        .key("p", s(key))
        .send()
        .await
        .expect("get item")
        .item
}

/// The item stored under `p = key`, read with ConsistentRead, if any.
pub async fn get_consistent(client: &Client, table: &str, key: &str) -> Option<Item> {
    client
        .get_item()
        .table_name(table)
        .key("p", s(key))
        .consistent_read(true)
        .send()
        .await
        .expect("get item")
        .item
}

/// Puts `{p: key, v: v}`.
pub async fn put_v(client: &Client, table: &str, key: &str, v: &str) {
    client
        .put_item()
        .table_name(table)
        .item("p", s(key))
        .item("v", s(v))
        .send()
        .await
        .expect("put");
}

/// The `v` of the item under `p = key` (eventually consistent), if any.
pub async fn value(client: &Client, table: &str, key: &str) -> Option<Av> {
    get(client, table, key).await?.get("v").cloned()
}

/// Read `key` through `client` until its `v` is `want`, at most `limit`;
/// returns how long that took.
pub async fn until_value(
    client: &Client,
    table: &str,
    key: &str,
    want: &str,
    limit: Duration,
) -> Duration {
    until_eq(limit, Some(s(want)), || value(client, table, key)).await
}

/// Writes `items` with BatchWriteItem, 25 per request, one request at a
/// time; every item must be processed.
pub async fn put_all(client: &Client, table: &str, items: &[Item]) {
    for chunk in items.chunks(25) {
        let requests: Vec<WriteRequest> = chunk
            .iter()
            .map(|item| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(item.clone()))
                            .build()
                            .expect("put request"),
                    )
                    .build()
            })
            .collect();
        let out = client
            .batch_write_item()
            .request_items(table, requests)
            .send()
            .await
            .expect("batch write");
        assert!(out.unprocessed_items().is_none_or(|u| u.is_empty()));
    }
}

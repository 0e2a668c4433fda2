//! ReturnItemCollectionMetrics: SIZE on every write operation of a table
//! with a local secondary index reports the item collection the write
//! touched (its partition key and DynamoDB's size estimate in GB); tables
//! without an LSI, and requests that do not ask, get none.

use aws_sdk_dynamodb::types::ItemCollectionMetrics;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, Delete, Put, PutRequest, ReturnItemCollectionMetrics,
    ScalarAttributeType as St, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::server::TestStore;
use ferrodyn_tests::tables::{IndexSpec, TableSpec};

type Item = std::collections::HashMap<String, Av>;

async fn lsi_table(client: &Client, name: &str) {
    TableSpec::new(name)
        .hash("p", St::S)
        .range("s", St::S)
        .lsi(IndexSpec::new("by-l").hash("p", St::S).range("l", St::S))
        .create(client)
        .await;
}

fn item(p: &str, s: &str) -> Item {
    [
        ("p".to_owned(), Av::S(p.to_owned())),
        ("s".to_owned(), Av::S(s.to_owned())),
        ("l".to_owned(), Av::S(format!("{s}-l"))),
    ]
    .into()
}

fn key(p: &str, s: &str) -> Item {
    [
        ("p".to_owned(), Av::S(p.to_owned())),
        ("s".to_owned(), Av::S(s.to_owned())),
    ]
    .into()
}

/// The metrics of the collection `p`, as DynamoDB reports a small one.
fn assert_collection(m: Option<&ItemCollectionMetrics>, p: &str) {
    let m = m.expect("item collection metrics");
    let expected: Item = [("p".to_owned(), Av::S(p.to_owned()))].into();
    assert_eq!(m.item_collection_key(), Some(&expected));
    assert_eq!(m.size_estimate_range_gb(), &[0.0, 1.0]);
}

#[tokio::test]
async fn single_item_writes_report_their_collection() {
    let server = TestStore::start().await;
    let client = server.client();
    lsi_table(&client, "with-lsi").await;
    let put = client
        .put_item()
        .table_name("with-lsi")
        .set_item(Some(item("a", "1")))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .expect("put");
    assert_collection(put.item_collection_metrics(), "a");
    let update = client
        .update_item()
        .table_name("with-lsi")
        .set_key(Some(key("a", "2")))
        .update_expression("SET l = :l")
        .expression_attribute_values(":l", Av::S("x".into()))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .expect("update");
    assert_collection(update.item_collection_metrics(), "a");
    let delete = client
        .delete_item()
        .table_name("with-lsi")
        .set_key(Some(key("a", "1")))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .expect("delete");
    assert_collection(delete.item_collection_metrics(), "a");
}

#[tokio::test]
async fn metrics_only_when_asked_and_only_with_an_lsi() {
    let server = TestStore::start().await;
    let client = server.client();
    lsi_table(&client, "with-lsi").await;
    TableSpec::new("no-lsi")
        .hash("p", St::S)
        .range("s", St::S)
        .create(&client)
        .await;
    let not_asked = client
        .put_item()
        .table_name("with-lsi")
        .set_item(Some(item("a", "1")))
        .send()
        .await
        .expect("put");
    assert!(not_asked.item_collection_metrics().is_none());
    let none = client
        .put_item()
        .table_name("with-lsi")
        .set_item(Some(item("a", "1")))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::None)
        .send()
        .await
        .expect("put");
    assert!(none.item_collection_metrics().is_none());
    let no_lsi = client
        .put_item()
        .table_name("no-lsi")
        .set_item(Some(item("a", "1")))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .expect("put");
    assert!(no_lsi.item_collection_metrics().is_none());
}

#[tokio::test]
async fn batch_write_reports_each_collection_once() {
    let server = TestStore::start().await;
    let client = server.client();
    lsi_table(&client, "with-lsi").await;
    let writes = [("a", "1"), ("a", "2"), ("b", "1")]
        .into_iter()
        .map(|(p, s)| {
            WriteRequest::builder()
                .put_request(
                    PutRequest::builder()
                        .set_item(Some(item(p, s)))
                        .build()
                        .expect("put request"),
                )
                .build()
        })
        .collect::<Vec<_>>();
    let out = client
        .batch_write_item()
        .request_items("with-lsi", writes)
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .expect("batch write");
    let list = out
        .item_collection_metrics()
        .and_then(|m| m.get("with-lsi"))
        .expect("metrics of the table");
    assert_eq!(list.len(), 2);
    assert_collection(list.first(), "a");
    assert_collection(list.get(1), "b");
}

#[tokio::test]
async fn transact_write_reports_the_collections_it_wrote() {
    let server = TestStore::start().await;
    let client = server.client();
    lsi_table(&client, "with-lsi").await;
    let put = TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name("with-lsi")
                .set_item(Some(item("a", "1")))
                .build()
                .expect("put"),
        )
        .build();
    let update = TransactWriteItem::builder()
        .update(
            Update::builder()
                .table_name("with-lsi")
                .set_key(Some(key("b", "1")))
                .update_expression("SET l = :l")
                .expression_attribute_values(":l", Av::S("x".into()))
                .build()
                .expect("update"),
        )
        .build();
    let delete = TransactWriteItem::builder()
        .delete(
            Delete::builder()
                .table_name("with-lsi")
                .set_key(Some(key("c", "1")))
                .build()
                .expect("delete"),
        )
        .build();
    let out = client
        .transact_write_items()
        .transact_items(put)
        .transact_items(update)
        .transact_items(delete)
        .return_item_collection_metrics(ReturnItemCollectionMetrics::Size)
        .send()
        .await
        .expect("transaction");
    let list = out
        .item_collection_metrics()
        .and_then(|m| m.get("with-lsi"))
        .expect("metrics of the table");
    assert_eq!(list.len(), 3);
    for (m, p) in list.iter().zip(["a", "b", "c"]) {
        assert_collection(Some(m), p);
    }
}

/// A store whose item collections may hold at most `limit` bytes (10 GB in
/// DynamoDB; small here so a test can reach it).
async fn store_with_collection_limit(limit: u64) -> TestStore {
    let dir = ferrodyn_tests::TempDir::new("collections");
    let mut config = ferrodyn_store::StoreConfig::new(dir.path());
    config.engine.item_collection_limit = limit;
    TestStore::start_with(dir, config).await
}

fn padded(p: &str, s: &str, bytes: usize) -> Item {
    let mut i = item(p, s);
    i.insert("pad".to_owned(), Av::S("x".repeat(bytes)));
    i
}

/// A write that would grow an item collection (a partition key's items and
/// their LSI entries) past the limit is refused with
/// ItemCollectionSizeLimitExceededException and changes nothing; other
/// partition keys, shrinking writes and deletes go on; a transaction is
/// cancelled with that reason; the size is kept across a restart.
#[tokio::test]
async fn writes_beyond_the_item_collection_limit_are_refused() {
    // Each item counts about twice (the table's copy and the LSI's): 4 KB
    // items fill a 40 KB collection after a handful.
    let server = store_with_collection_limit(40 * 1024).await;
    let c = server.client();
    lsi_table(&c, "big").await;
    let put = |p: &'static str, s: String, bytes: usize| {
        c.put_item()
            .table_name("big")
            .set_item(Some(padded(p, &s, bytes)))
            .send()
    };
    let mut accepted = 0;
    let refused = loop {
        match put("a", format!("s{accepted}"), 4000).await {
            Ok(_) => accepted += 1,
            Err(e) => break e.into_service_error(),
        }
        assert!(accepted < 20, "the collection never filled");
    };
    assert!(
        refused.is_item_collection_size_limit_exceeded_exception(),
        "{refused:?}"
    );
    assert!((4..=5).contains(&accepted), "{accepted} items accepted");
    let count = |p: &'static str| {
        c.query()
            .table_name("big")
            .key_condition_expression("p = :p")
            .expression_attribute_values(":p", Av::S(p.to_owned()))
            .send()
    };
    assert_eq!(count("a").await.expect("query").count(), accepted);
    // Another collection is not affected.
    put("b", "s0".to_owned(), 4000).await.expect("other key");
    // Shrinking an item and deleting one are allowed, and make room again.
    put("a", "s0".to_owned(), 10).await.expect("shrink");
    c.delete_item()
        .table_name("big")
        .set_key(Some(key("a", "s1")))
        .send()
        .await
        .expect("delete");
    put("a", "new".to_owned(), 4000).await.expect("room again");
    while put("a", format!("more{accepted}"), 4000).await.is_ok() {
        accepted += 1;
        assert!(accepted < 40, "the collection never filled again");
    }

    // A transaction that would overflow it is cancelled with that reason.
    let err = c
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("big")
                        .set_item(Some(padded("b", "t1", 10)))
                        .build()
                        .expect("put"),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name("big")
                        .set_item(Some(padded("a", "t2", 4000)))
                        .build()
                        .expect("put"),
                )
                .build(),
        )
        .send()
        .await
        .expect_err("cancelled")
        .into_service_error();
    let codes: Vec<&str> = match &err {
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t) => {
            t.cancellation_reasons().iter().filter_map(|r| r.code()).collect()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(codes, ["None", "ItemCollectionSizeLimitExceeded"]);
    let b_items = count("b").await.expect("query").count();
    assert_eq!(b_items, 1, "the cancelled transaction wrote nothing");

    // The size survives a restart: the full collection stays full.
    let dir = server.stop().await;
    let mut config = ferrodyn_store::StoreConfig::new(dir.path());
    config.engine.item_collection_limit = 40 * 1024;
    let server = TestStore::start_with(dir, config).await;
    let c = server.client();
    let again = c
        .put_item()
        .table_name("big")
        .set_item(Some(padded("a", "after-restart", 4000)))
        .send()
        .await
        .expect_err("still full")
        .into_service_error();
    assert!(again.is_item_collection_size_limit_exceeded_exception());
}

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

//! `Store::table_keys`, which the proxy asks on every write and every
//! Query hit: the same schema is handed out while the table is unchanged,
//! and a changed table (an index added, the table re-created with other
//! keys) is described as it now is.

use std::sync::Arc;

use ferrodyn_store::api::Operation;
use ferrodyn_store::{Store, StoreConfig};
use serde_json::{json, Value};

mod support;
use support::in_process::call;

fn create(partition: &str) -> Value {
    json!({"TableName": "keyed", "KeySchema": [{"AttributeName": partition, "KeyType": "HASH"}],
           "AttributeDefinitions": [{"AttributeName": partition, "AttributeType": "S"}],
           "BillingMode": "PAY_PER_REQUEST"})
}

#[tokio::test(flavor = "multi_thread")]
async fn key_schemas_are_shared_until_the_table_changes() {
    let dir = std::env::temp_dir().join(format!("ferrodyn-key-schemas-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(&StoreConfig::new(&dir)).expect("open");
    assert!(store.table_keys("keyed").is_none());
    call(&store, Operation::CreateTable, create("p")).await;
    let first = store.table_keys("keyed").expect("table exists");
    assert_eq!(first.partition, "p");
    assert_eq!(first.indexes.as_deref().map(<[_]>::len), Some(0));
    // A write changes no description: the same schema is handed out.
    call(
        &store,
        Operation::PutItem,
        json!({"TableName": "keyed", "Item": {"p": {"S": "a"}}}),
    )
    .await;
    assert!(Arc::ptr_eq(
        &first,
        &store.table_keys("keyed").expect("kept")
    ));

    call(
        &store,
        Operation::UpdateTable,
        json!({"TableName": "keyed",
               "AttributeDefinitions": [{"AttributeName": "g", "AttributeType": "S"}],
               "GlobalSecondaryIndexUpdates": [{"Create": {"IndexName": "by_g",
                   "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                   "Projection": {"ProjectionType": "ALL"}}}]}),
    )
    .await;
    let indexed = store.table_keys("keyed").expect("table exists");
    let names: Vec<&str> = indexed
        .indexes
        .iter()
        .flatten()
        .map(|i| i.name.as_str())
        .collect();
    assert_eq!(names, ["by_g"]);

    call(
        &store,
        Operation::DeleteTable,
        json!({"TableName": "keyed"}),
    )
    .await;
    assert!(store.table_keys("keyed").is_none());
    call(&store, Operation::CreateTable, create("q")).await;
    assert_eq!(
        store.table_keys("keyed").expect("re-created").partition,
        "q"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

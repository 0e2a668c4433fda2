//! DeleteTable frees a table's storage in bounded chunks, after the table is
//! gone: the deletion itself is one small transaction, a table created again
//! under the same name starts empty, and the chunks free everything.

use std::sync::Arc;

use serde_json::{json, Value};

use super::Store;
use crate::api::Operation;
use crate::engine::{Abort, Engine, EngineOptions};

async fn call(store: &Store, op: Operation, body: Value) -> Result<Value, String> {
    let body = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
    match store.handle(op, &body).await {
        Ok(out) => serde_json::from_slice(&out).map_err(|e| e.to_string()),
        Err(e) => Err(format!("{e:?}")),
    }
}

fn create(name: &str) -> Value {
    json!({
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}],
        "AttributeDefinitions": [
            {"AttributeName": "p", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"}
        ],
        "GlobalSecondaryIndexes": [{
            "IndexName": "by_g",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}
        }]
    })
}

async fn reclaim_pending(store: &Store) -> bool {
    store
        .engine
        .read(|view| view.reclaim_pending())
        .expect("read")
}

#[tokio::test]
async fn delete_table_frees_storage_in_chunks_after_the_table_is_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Opened without maintenance tasks: the test runs the reclaiming steps.
    let engine = Engine::open(dir.path(), EngineOptions::default()).expect("open");
    let engine = Arc::new(engine);
    let telemetry =
        crate::telemetry::Telemetry::new(&prometheus::Registry::new(), engine.clock().clone())
            .expect("metrics");
    let store = Store::from_engine(engine, Arc::new(telemetry));
    call(&store, Operation::CreateTable, create("big"))
        .await
        .expect("create");
    const ITEMS: usize = 2_500;
    for batch in 0..ITEMS / 25 {
        let requests: Vec<Value> = (0..25)
            .map(|i| {
                let n = batch * 25 + i;
                json!({"PutRequest": {"Item": {"p": {"S": format!("k{n}")}, "g": {"S": "same"}}}})
            })
            .collect();
        call(
            &store,
            Operation::BatchWriteItem,
            json!({"RequestItems": {"big": requests}}),
        )
        .await
        .expect("batch write");
    }
    assert!(!reclaim_pending(&store).await);

    call(&store, Operation::DeleteTable, json!({"TableName": "big"}))
        .await
        .expect("delete");
    assert!(call(
        &store,
        Operation::DescribeTable,
        json!({"TableName": "big"})
    )
    .await
    .is_err());
    assert!(
        reclaim_pending(&store).await,
        "storage freed in the delete itself"
    );

    // The name can be used again at once; the new table sees none of the
    // old entries.
    call(&store, Operation::CreateTable, create("big"))
        .await
        .expect("create again");
    call(
        &store,
        Operation::PutItem,
        json!({"TableName": "big", "Item": {"p": {"S": "new"}, "g": {"S": "same"}}}),
    )
    .await
    .expect("put");
    let scan = call(&store, Operation::Scan, json!({"TableName": "big"}))
        .await
        .expect("scan");
    assert_eq!(scan["Count"], json!(1));
    let query = json!({
        "TableName": "big", "IndexName": "by_g",
        "KeyConditionExpression": "g = :g",
        "ExpressionAttributeValues": {":g": {"S": "same"}}
    });
    let found = call(&store, Operation::Query, query.clone())
        .await
        .expect("query");
    assert_eq!(found["Count"], json!(1));

    // Items, index entries and change records: three spaces of 2,500.
    const LIMIT: usize = 1_000;
    let mut freed = 0;
    let mut steps = 0;
    while reclaim_pending(&store).await {
        let (n, _) = store
            .engine
            .write(|ctx| ctx.reclaim_step(LIMIT).map_err(Abort::<()>::Engine))
            .await
            .expect("reclaim step");
        assert!(n <= LIMIT, "a step freed {n} entries");
        freed += n;
        steps += 1;
        assert!(steps < 100, "reclaiming does not end");
    }
    assert_eq!(freed, 3 * ITEMS);
    assert!(steps >= 3 * ITEMS / LIMIT);

    // The new table is untouched.
    let scan = call(&store, Operation::Scan, json!({"TableName": "big"}))
        .await
        .expect("scan");
    assert_eq!(scan["Count"], json!(1));
    let found = call(&store, Operation::Query, query).await.expect("query");
    assert_eq!(found["Count"], json!(1));
}

/// A table with a local secondary index keeps one item-collection size per
/// partition key; DeleteTable frees them with the rest.
#[tokio::test]
async fn delete_table_frees_the_item_collection_sizes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Arc::new(Engine::open(dir.path(), EngineOptions::default()).expect("open"));
    let telemetry =
        crate::telemetry::Telemetry::new(&prometheus::Registry::new(), engine.clock().clone())
            .expect("metrics");
    let store = Store::from_engine(engine, Arc::new(telemetry));
    let table = json!({
        "TableName": "lsi",
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": "p", "KeyType": "HASH"},
            {"AttributeName": "s", "KeyType": "RANGE"}
        ],
        "AttributeDefinitions": [
            {"AttributeName": "p", "AttributeType": "S"},
            {"AttributeName": "s", "AttributeType": "S"},
            {"AttributeName": "l", "AttributeType": "S"}
        ],
        "LocalSecondaryIndexes": [{
            "IndexName": "by_l",
            "KeySchema": [
                {"AttributeName": "p", "KeyType": "HASH"},
                {"AttributeName": "l", "KeyType": "RANGE"}
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"}
        }]
    });
    call(&store, Operation::CreateTable, table)
        .await
        .expect("create");
    for p in ["a", "b", "c"] {
        for s in ["1", "2"] {
            let item = json!({"p": {"S": p}, "s": {"S": s}, "l": {"S": "x"}});
            call(
                &store,
                Operation::PutItem,
                json!({"TableName": "lsi", "Item": item}),
            )
            .await
            .expect("put");
        }
    }
    let sizes = || store.engine.read(|view| view.collection_sizes());
    assert_eq!(sizes().expect("read"), 3);
    // Emptying a collection removes its size.
    for s in ["1", "2"] {
        call(
            &store,
            Operation::DeleteItem,
            json!({"TableName": "lsi", "Key": {"p": {"S": "c"}, "s": {"S": s}}}),
        )
        .await
        .expect("delete item");
    }
    assert_eq!(sizes().expect("read"), 2);

    call(&store, Operation::DeleteTable, json!({"TableName": "lsi"}))
        .await
        .expect("delete");
    let mut steps = 0;
    while reclaim_pending(&store).await {
        store
            .engine
            .write(|ctx| ctx.reclaim_step(1_000).map_err(Abort::<()>::Engine))
            .await
            .expect("reclaim step");
        steps += 1;
        assert!(steps < 100, "reclaiming does not end");
    }
    assert_eq!(sizes().expect("read"), 0);
}

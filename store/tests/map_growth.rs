//! The LMDB map grows when it fills up: a store opened with a tiny map keeps
//! accepting writes (each batch is re-run after the map doubles) and every
//! acknowledged item is readable, also after a restart.

use ferrodyn_store::api::Operation;
use ferrodyn_store::{Store, StoreConfig};
use serde_json::json;

mod support;
use support::in_process::call;

#[tokio::test(flavor = "multi_thread")]
async fn writes_continue_past_the_initial_map_size() {
    let dir = std::env::temp_dir().join(format!("ferrodyn-map-growth-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut config = StoreConfig::new(&dir);
    config.engine.initial_map_size = 1 << 20; // 1 MiB
    {
        let store = Store::open(&config).expect("open");
        call(
            &store,
            Operation::CreateTable,
            json!({"TableName": "grow", "KeySchema": [{"AttributeName": "p", "KeyType": "HASH"}],
                   "AttributeDefinitions": [{"AttributeName": "p", "AttributeType": "S"}],
                   "BillingMode": "PAY_PER_REQUEST"}),
        )
        .await;
        // About 8 MiB of items, written concurrently so batches hit the limit.
        let mut tasks = Vec::new();
        for w in 0..8 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                for i in 0..64 {
                    let v = format!("{w}-{i}-{}", "x".repeat(16 * 1024));
                    call(&store, Operation::PutItem, json!({"TableName": "grow", "Item": {"p": {"S": format!("{w}-{i}")}, "v": {"S": v}}})).await;
                }
            }));
        }
        for t in tasks {
            t.await.expect("writer");
        }
        assert_eq!(store.health(), ferrodyn_store::engine::Health::Ok);
    }
    // Reopen (with the same tiny initial size: the file is already larger).
    let store = Store::open(&config).expect("reopen");
    for w in 0..8 {
        for i in 0..64 {
            let got = call(
                &store,
                Operation::GetItem,
                json!({"TableName": "grow", "Key": {"p": {"S": format!("{w}-{i}")}}}),
            )
            .await;
            let v = got["Item"]["v"]["S"].as_str().expect("item present");
            assert!(v.starts_with(&format!("{w}-{i}-")));
        }
    }
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

//! Tests of the item cache layer: taking a write's answer apart, and
//! writes against a real store.

use std::time::Duration;

use ferrodyn_store::api::feed::GetChangesInput;
use ferrodyn_store::server::Backend;
use ferrodyn_store::{Store, StoreConfig};

use super::*;
use crate::invalidation::Targets;
use crate::query_cache::storage::QueryCache;

fn request(op: Operation, body: &str) -> BackendRequest {
    BackendRequest::new(op, http::HeaderMap::new(), Bytes::from(body.to_owned()))
}

/// The item `v` of key `k` as read through `layer`.
async fn read<S>(layer: &ItemCacheLayer, inner: &S) -> Option<String>
where
    S: Inner,
{
    let get = request(
        Operation::GetItem,
        r#"{"TableName":"tab","Key":{"k":{"S":"a"}}}"#,
    );
    let resp = layer.handle(inner, get).await;
    assert_eq!(resp.status, StatusCode::OK);
    let out: serde_json::Value = serde_json::from_slice(&resp.body).expect("json");
    out["Item"]["v"]["S"].as_str().map(str::to_owned)
}

fn put(v: &str) -> BackendRequest {
    request(
        Operation::PutItem,
        &format!(r#"{{"TableName":"tab","Item":{{"k":{{"S":"a"}},"v":{{"S":"{v}"}}}}}}"#),
    )
}

/// Hand every change since `cursor` to `targets`, as the follower does.
async fn deliver(store: &Store, targets: &Targets, cursor: &mut u64) -> usize {
    let feed = store
        .changes(GetChangesInput {
            cursor: Some(*cursor),
            wait_ms: Some(0),
            limit: None,
        })
        .await
        .expect("changes");
    for c in &feed.changes {
        targets.change_encoded(
            &c.table_name,
            &c.keys,
            c.old_image.as_ref(),
            c.new_image.as_ref(),
            c.origin,
        );
    }
    *cursor = feed.next_cursor;
    feed.changes.len()
}

/// The change feed passes over the changes this cache's own writes
/// made, so a write whose future is dropped after the store committed
/// it (its client went away) must itself drop the entry it replaced.
#[tokio::test]
async fn a_write_dropped_after_its_commit_leaves_no_stale_entry() {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&StoreConfig::new(dir.path())).expect("store");
    let create = r#"{"TableName":"tab","KeySchema":[{"AttributeName":"k","KeyType":"HASH"}],"AttributeDefinitions":[{"AttributeName":"k","AttributeType":"S"}],"BillingMode":"PAY_PER_REQUEST"}"#;
    store
        .handle(Operation::CreateTable, create.as_bytes())
        .await
        .expect("create");
    let cache = Arc::new(ItemCache::new(1 << 20, Duration::from_secs(60)));
    let registry = Registry::new();
    let layer = ItemCacheLayer::new(
        cache.clone(),
        KeySchemas::Embedded(store.clone()),
        Metrics::register(&registry).expect("metrics"),
        Abandoned::default(),
    );
    let targets = Targets {
        items: cache.clone(),
        queries: Arc::new(QueryCache::for_tests()),
        schemas: KeySchemas::Embedded(store.clone()),
    };
    let mut cursor = store
        .changes(GetChangesInput::default())
        .await
        .expect("log end")
        .next_cursor;
    // The store, whose answer to a write can be held back after the
    // write committed: `committed` then says so.
    let (committed, mut told) = watch::channel(false);
    let hold = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let inner = {
        let (store, hold) = (store.clone(), hold.clone());
        let committed = Arc::new(committed);
        crate::service::InnerFn(move |req: BackendRequest| {
            let (store, hold, committed) = (store.clone(), hold.clone(), committed.clone());
            async move {
                let resp = store.call(req).await;
                if hold.load(std::sync::atomic::Ordering::SeqCst) {
                    committed.send_replace(true);
                    std::future::pending::<()>().await;
                }
                resp
            }
        })
    };
    assert_eq!(
        layer.handle(&inner, put("old")).await.status,
        StatusCode::OK
    );
    assert_eq!(deliver(&store, &targets, &mut cursor).await, 1);
    assert_eq!(read(&layer, &inner).await.as_deref(), Some("old"));
    // The write is committed, then its future dropped before the answer.
    hold.store(true, std::sync::atomic::Ordering::SeqCst);
    tokio::select! {
        _ = layer.handle(&inner, put("new")) => panic!("the answer was held back"),
        _ = told.wait_for(|c| *c) => {}
    }
    hold.store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(deliver(&store, &targets, &mut cursor).await, 1);
    assert_eq!(read(&layer, &inner).await.as_deref(), Some("new"));
}

#[test]
fn attributes_are_taken_out_and_the_rest_kept() {
    let body = br#"{"Attributes":{"p":{"S":"a"},"n":{"N":"1.50"}},"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0}}"#;
    let (item, stripped) = take_attributes(body, true).expect("parses");
    assert_eq!(item.len(), 2);
    let stripped = stripped.expect("stripped");
    assert_eq!(
        &stripped[..],
        br#"{"ConsumedCapacity":{"TableName":"t","CapacityUnits":1.0}}"#
    );
    let (_, kept) = take_attributes(body, false).expect("parses");
    assert!(kept.is_none());
    assert!(take_attributes(b"{}", true).is_none());
}

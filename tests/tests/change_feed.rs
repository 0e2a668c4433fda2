//! The change-feed extension operation (`FerrodynFeed_20261124.GetChanges`):
//! a long poll that returns as soon as a change commits, across tables, in
//! commit order, with each change's old and new images.

use std::time::{Duration, Instant};

use ferrodyn_tests::{create_table, raw_post, TestStore};
use serde_json::{json, Value};

const FEED: &str = "FerrodynFeed_20261124.GetChanges";

async fn call(store: &TestStore, target: &str, body: Value) -> Value {
    let (status, _, resp) =
        raw_post(store.addr, Some(target), &[], body.to_string().as_bytes()).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
    serde_json::from_slice(&resp).expect("json")
}

async fn put(store: &TestStore, table: &str, p: &str) {
    call(
        store,
        "DynamoDB_20120810.PutItem",
        json!({"TableName": table, "Item": {"p": {"S": p}}}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_come_in_commit_order_across_tables() {
    let store = TestStore::start().await;
    create_table(&store.client(), "feed_a").await;
    create_table(&store.client(), "feed_b").await;
    let start = call(&store, FEED, json!({})).await;
    let cursor = start["NextCursor"].as_u64().expect("cursor");
    assert_eq!(start["Changes"], json!([]));
    put(&store, "feed_a", "1").await;
    put(&store, "feed_b", "2").await;
    put(&store, "feed_a", "3").await;
    call(
        &store,
        "DynamoDB_20120810.DeleteItem",
        json!({"TableName": "feed_b", "Key": {"p": {"S": "2"}}}),
    )
    .await;
    let got = call(&store, FEED, json!({"Cursor": cursor})).await;
    let changes = got["Changes"].as_array().expect("changes");
    let summary: Vec<(String, String, String)> = changes
        .iter()
        .map(|c| {
            (
                c["TableName"].as_str().unwrap_or_default().to_owned(),
                c["EventName"].as_str().unwrap_or_default().to_owned(),
                c["Keys"]["p"]["S"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String, String)> = [
        ("feed_a", "INSERT", "1"),
        ("feed_b", "INSERT", "2"),
        ("feed_a", "INSERT", "3"),
        ("feed_b", "REMOVE", "2"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(summary, expected);
    let seqs: Vec<u64> = changes
        .iter()
        .filter_map(|c| c["SequenceNumber"].as_u64())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let next = got["NextCursor"].as_u64().expect("next");
    assert!(next > *seqs.last().expect("seq"));
    // Nothing after the cursor: an immediate empty answer.
    let again = call(&store, FEED, json!({"Cursor": next})).await;
    assert_eq!(again["Changes"], json!([]));
    assert!(again["Tables"]["feed_a"].is_u64());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiting_poll_returns_when_a_write_commits() {
    let store = std::sync::Arc::new(TestStore::start().await);
    create_table(&store.client(), "feed_wait").await;
    let cursor = call(&store, FEED, json!({})).await["NextCursor"]
        .as_u64()
        .expect("cursor");
    let mut lags = Vec::new();
    let mut cursor = cursor;
    for i in 0..20 {
        let waiter = {
            let store = store.clone();
            tokio::spawn(async move {
                call(&store, FEED, json!({"Cursor": cursor, "WaitMs": 10000})).await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        put(&store, "feed_wait", &i.to_string()).await;
        let acked = Instant::now();
        let got = waiter.await.expect("waiter");
        lags.push(acked.elapsed());
        let changes = got["Changes"].as_array().expect("changes");
        assert_eq!(changes.len(), 1, "{got}");
        cursor = got["NextCursor"].as_u64().expect("next");
    }
    lags.sort();
    println!(
        "write acknowledged → long poll answered: p50 {:?}, max {:?}",
        lags[10], lags[19]
    );
    assert!(
        lags[19] < Duration::from_secs(5),
        "the poll waited for its deadline instead of the commit"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn limit_and_wait_are_validated() {
    let store = TestStore::start().await;
    let (status, _, body) =
        raw_post(store.addr, Some(FEED), &[], br#"{"Cursor": 0, "Limit": 0}"#).await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&body));
    // A wait with no change ends at its deadline with an empty answer.
    let end = call(&store, FEED, json!({})).await["NextCursor"].clone();
    let started = Instant::now();
    let got = call(&store, FEED, json!({"Cursor": end, "WaitMs": 50})).await;
    assert_eq!(got["Changes"], json!([]));
    assert!(started.elapsed() >= Duration::from_millis(50));
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_name_the_store_and_a_foreign_cursor_is_answered_at_once() {
    let store = TestStore::start().await;
    let other = TestStore::start().await;
    let id = call(&store, FEED, json!({})).await["StoreId"].clone();
    assert!(id.as_str().is_some_and(|s| s.len() == 36), "{id}");
    assert_ne!(id, call(&other, FEED, json!({})).await["StoreId"]);
    // A cursor this log never handed out: no long wait for the consumer
    // to learn it is talking to another store.
    let started = Instant::now();
    let got = call(&store, FEED, json!({"Cursor": 1_000_000, "WaitMs": 10_000})).await;
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(got["StoreId"], id);
    // The identity belongs to the data directory: it survives a restart.
    let dir = store.stop().await;
    let store = TestStore::start_in(dir).await;
    assert_eq!(call(&store, FEED, json!({})).await["StoreId"], id);
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_carry_old_and_new_images() {
    let store = TestStore::start().await;
    create_table(&store.client(), "feed_images").await;
    let cursor = call(&store, FEED, json!({})).await["NextCursor"]
        .as_u64()
        .expect("cursor");
    let item = |v: &str| json!({"p": {"S": "k"}, "v": {"S": v}});
    for v in ["1", "2"] {
        call(
            &store,
            "DynamoDB_20120810.PutItem",
            json!({"TableName": "feed_images", "Item": item(v)}),
        )
        .await;
    }
    call(
        &store,
        "DynamoDB_20120810.DeleteItem",
        json!({"TableName": "feed_images", "Key": {"p": {"S": "k"}}}),
    )
    .await;
    let got = call(&store, FEED, json!({"Cursor": cursor})).await;
    let images: Vec<(Value, Value)> = got["Changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| (c["OldImage"].clone(), c["NewImage"].clone()))
        .collect();
    assert_eq!(
        images,
        vec![
            (Value::Null, item("1")),
            (item("1"), item("2")),
            (item("2"), Value::Null),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_answer_stops_early_and_resumes_at_the_first_change_left_out() {
    let store = TestStore::start().await;
    create_table(&store.client(), "feed_big").await;
    let cursor = call(&store, FEED, json!({})).await["NextCursor"]
        .as_u64()
        .expect("cursor");
    // 24 items of ~300 KB: new images alone are ~7 MB, over one answer.
    let big = "x".repeat(300 * 1024);
    for i in 0..24 {
        call(
            &store,
            "DynamoDB_20120810.PutItem",
            json!({"TableName": "feed_big", "Item": {"p": {"S": i.to_string()}, "v": {"S": big}}}),
        )
        .await;
    }
    let mut seen = 0;
    let mut answers = 0;
    let mut cursor = cursor;
    while seen < 24 {
        let got = call(&store, FEED, json!({"Cursor": cursor})).await;
        let changes = got["Changes"].as_array().expect("changes");
        assert!(!changes.is_empty());
        seen += changes.len();
        answers += 1;
        cursor = got["NextCursor"].as_u64().expect("next");
        assert_eq!(
            changes.last().and_then(|c| c["SequenceNumber"].as_u64()),
            Some(cursor - 1)
        );
    }
    assert_eq!(seen, 24);
    assert!(answers >= 2, "one answer held every image");
}

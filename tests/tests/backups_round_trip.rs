//! Backups of a large table and of a busy one, through the SDK: a
//! 100,000-item round trip with a GSI and an LSI answers the same Scans and
//! Queries, and a backup taken while four writers run is one instant.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use aws_sdk_dynamodb::types::ScalarAttributeType as T;
use aws_sdk_dynamodb::types::{AttributeValue as Av, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use ferrodyn_store::api::Operation;
use ferrodyn_store::Store;
use ferrodyn_tests::backups::{
    backup, restore, scan_all, until_backup_available, until_table_active,
};
use ferrodyn_tests::wait::{until, PATIENCE};
use ferrodyn_tests::{create_table, item, n, s, IndexSpec, Item, TableSpec, TestStore};

/// Writes items `range` of the indexed round-trip table through the
/// store's own request handler in-process (BatchWriteItem bodies, no HTTP):
/// the SDK would take minutes for 100,000 items in a debug build. What was
/// written is read back through the SDK.
async fn load(store: &Store, table: &str, range: std::ops::Range<usize>) {
    let items: Vec<usize> = range.collect();
    for chunk in items.chunks(25) {
        let requests: Vec<serde_json::Value> = chunk
            .iter()
            .map(|&i| {
                serde_json::json!({"PutRequest": {"Item": {
                    "p": {"S": format!("p{}", i % 1000)},
                    "s": {"N": i.to_string()},
                    "l": {"N": ((i * 7919) % 100_000).to_string()},
                    "g": {"S": format!("g{}", i % 50)},
                    "payload": {"S": format!("{i:>08}-{}", "x".repeat(120))},
                }}})
            })
            .collect();
        let body = serde_json::json!({"RequestItems": {table: requests}});
        let out = store
            .handle(
                Operation::BatchWriteItem,
                &serde_json::to_vec(&body).expect("body"),
            )
            .await
            .expect("batch write");
        let out: serde_json::Value = serde_json::from_slice(&out).expect("answer");
        assert_eq!(out["UnprocessedItems"], serde_json::json!({}));
    }
}

/// Deletes items `range` of the round-trip table in-process.
async fn unload(store: &Store, table: &str, range: std::ops::Range<usize>) {
    let requests: Vec<serde_json::Value> = range
        .map(|i| {
            serde_json::json!({"DeleteRequest": {"Key": {
                "p": {"S": format!("p{}", i % 1000)},
                "s": {"N": i.to_string()},
            }}})
        })
        .collect();
    for chunk in requests.chunks(25) {
        let body = serde_json::json!({"RequestItems": {table: chunk}});
        store
            .handle(
                Operation::BatchWriteItem,
                &serde_json::to_vec(&body).expect("body"),
            )
            .await
            .expect("batch delete");
    }
}

/// Scans `a` and `b` (or their `index`) page by page through the store's
/// handler and asserts every page is the same answer; returns the pages.
async fn same_scan_pages(store: &Store, a: &str, b: &str, index: Option<&str>) -> usize {
    let mut start: Option<serde_json::Value> = None;
    let mut pages = 0;
    loop {
        let mut answers = Vec::new();
        for table in [a, b] {
            let mut body = serde_json::json!({"TableName": table});
            if let Some(i) = index {
                body["IndexName"] = serde_json::json!(i);
            }
            if let Some(k) = &start {
                body["ExclusiveStartKey"] = k.clone();
            }
            let out = store
                .handle(Operation::Scan, &serde_json::to_vec(&body).expect("body"))
                .await
                .expect("scan");
            answers.push(serde_json::from_slice::<serde_json::Value>(&out).expect("answer"));
        }
        assert_eq!(answers[0], answers[1], "{index:?} page {pages}");
        pages += 1;
        match answers[0].get("LastEvaluatedKey") {
            Some(k) => start = Some(k.clone()),
            None => return pages,
        }
    }
}

/// The items of `table` (or `index`) whose `l` is below 1000, by SDK Scans.
async fn filtered_scan(client: &Client, table: &str, index: Option<&str>) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .filter_expression("l < :x")
            .expression_attribute_values(":x", n(1000))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return out,
        }
    }
}

async fn query(
    client: &Client,
    table: &str,
    index: Option<&str>,
    attr: &str,
    value: Av,
) -> Vec<Item> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", attr)
            .expression_attribute_values(":v", value.clone())
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("query");
        out.extend(page.items().iter().cloned());
        match page.last_evaluated_key() {
            Some(k) if !k.is_empty() => start = Some(k.clone()),
            _ => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restored_table_with_gsi_and_lsi_answers_the_same_queries_and_scans() {
    let store = TestStore::start().await;
    let client = store.client();
    TableSpec::new("src")
        .hash("p", T::S)
        .range("s", T::N)
        .lsi(IndexSpec::new("byL").hash("p", T::S).range("l", T::N))
        .gsi(IndexSpec::new("byG").hash("g", T::S).range("s", T::N))
        .create(&client)
        .await;
    load(&store.store, "src", 0..100_000).await;
    let arn = backup(&client, "src", "full").await;
    // Written after the backup's instant: not in the backup.
    load(&store.store, "src", 100_000..100_050).await;
    until_backup_available(&client, &arn).await;
    let described = client
        .describe_backup()
        .backup_arn(&arn)
        .send()
        .await
        .expect("describe");
    let d = described.backup_description().expect("description");
    let source = d.source_table_details().expect("source details");
    assert_eq!(source.item_count(), Some(100_000));
    assert_eq!(source.table_name(), "src");
    let features = d.source_table_feature_details().expect("features");
    assert_eq!(features.global_secondary_indexes().len(), 1);
    assert_eq!(features.local_secondary_indexes().len(), 1);
    assert!(
        d.backup_details()
            .and_then(|b| b.backup_size_bytes())
            .unwrap_or(0)
            > 100_000 * 100
    );

    restore(&client, &arn, "copy").await;
    until_table_active(&client, "copy").await;
    let copy = client
        .describe_table()
        .table_name("copy")
        .send()
        .await
        .expect("describe");
    let t = copy.table().expect("table");
    assert_eq!(t.item_count(), Some(100_000));
    assert_eq!(t.global_secondary_indexes().len(), 1);
    assert_eq!(t.local_secondary_indexes().len(), 1);
    assert_eq!(
        t.restore_summary().map(|r| r.restore_in_progress()),
        Some(false)
    );

    // The items written after the backup's instant are not in the copy.
    for i in [100_000, 100_017, 100_049] {
        let key = item([("p", s(&format!("p{}", i % 1000))), ("s", n(i))]);
        let get = |t: &'static str| {
            client
                .get_item()
                .table_name(t)
                .set_key(Some(key.clone()))
                .send()
        };
        assert!(get("src").await.expect("get").item().is_some());
        assert!(get("copy").await.expect("get").item().is_none());
    }
    // Without them, the source is the table as backed up: every page of a
    // full Scan of the table and of each index is the same answer.
    unload(&store.store, "src", 100_000..100_050).await;
    for index in [None, Some("byG"), Some("byL")] {
        let pages = same_scan_pages(&store.store, "src", "copy", index).await;
        assert!(pages > 10, "{index:?}: {pages} pages");
    }
    // And through the SDK: filtered Scans of the table and both indexes,
    // and Queries, give the same answers.
    for index in [None, Some("byG"), Some("byL")] {
        let a = filtered_scan(&client, "src", index).await;
        assert!(a.len() > 500, "{index:?}: {}", a.len());
        assert_eq!(filtered_scan(&client, "copy", index).await, a);
    }
    for p in ["p0", "p123", "p999"] {
        assert_eq!(
            query(&client, "copy", None, "p", s(p)).await,
            query(&client, "src", None, "p", s(p)).await
        );
        assert_eq!(
            query(&client, "copy", Some("byL"), "p", s(p)).await,
            query(&client, "src", Some("byL"), "p", s(p)).await
        );
    }
    let g = query(&client, "copy", Some("byG"), "g", s("g7")).await;
    assert_eq!(g.len(), 2000);
    assert!(g.windows(2).all(|w| {
        let k = |i: &Item| match i.get("s") {
            Some(Av::N(v)) => v.parse::<u64>().unwrap_or(0),
            _ => 0,
        };
        k(&w[0]) < k(&w[1])
    }));
}

/// Each writer's transaction puts its pair `a`/`b` with one version and a
/// log item for that version: a backup at one instant holds, for every
/// writer, equal versions in `a` and `b` and exactly the log items up to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backup_taken_while_four_writers_run_is_one_instant() {
    let store = TestStore::start().await;
    let client = store.client();
    create_table(&client, "busy").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = client.clone();
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut v = 0u64;
            while !stop.load(Ordering::Relaxed) {
                v += 1;
                let put = |p: String, extra: Option<(&str, Av)>| {
                    let mut i = item([("p", s(&p)), ("v", n(v))]);
                    if let Some((k, x)) = extra {
                        i.insert(k.to_owned(), x);
                    }
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name("busy")
                                .set_item(Some(i))
                                .build()
                                .expect("put"),
                        )
                        .build()
                };
                client
                    .transact_write_items()
                    .transact_items(put(format!("w{w}-a"), None))
                    .transact_items(put(format!("w{w}-b"), Some(("pad", s(&"y".repeat(500))))))
                    .transact_items(put(format!("w{w}-log-{v}"), None))
                    .send()
                    .await
                    .expect("transaction");
            }
            v
        }));
    }
    // Let the writers get going, then take backups while they run.
    until(PATIENCE, "writers running", || async {
        scan_all(&client, "busy", None).await.len() > 200
    })
    .await;
    let mut arns = Vec::new();
    for k in 0..3 {
        arns.push(backup(&client, "busy", &format!("busy-{k}")).await);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        assert!(w.await.expect("writer") > 0);
    }
    for (k, arn) in arns.iter().enumerate() {
        until_backup_available(&client, arn).await;
        let target = format!("busy-copy-{k}");
        restore(&client, arn, &target).await;
        until_table_active(&client, &target).await;
        let items = scan_all(&client, &target, None).await;
        let version = |p: &str| {
            items
                .iter()
                .find(|i| i.get("p") == Some(&s(p)))
                .map(|i| match i.get("v") {
                    Some(Av::N(v)) => v.parse::<u64>().expect("number"),
                    _ => panic!("no version"),
                })
        };
        for w in 0..4 {
            let a = version(&format!("w{w}-a"));
            assert_eq!(
                a,
                version(&format!("w{w}-b")),
                "torn pair of writer {w} in {arn}"
            );
            let upto = a.unwrap_or(0);
            let logs = items
                .iter()
                .filter(|i| matches!(i.get("p"), Some(Av::S(p)) if p.starts_with(&format!("w{w}-log-"))))
                .count() as u64;
            assert_eq!(
                logs, upto,
                "writer {w}: log items and version disagree in {arn}"
            );
        }
    }
}

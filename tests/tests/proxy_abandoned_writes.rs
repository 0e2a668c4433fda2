//! A write whose client goes away before the answer still commits in the
//! embedded store, and the change feed passes over the proxy's own writes:
//! such a write must not leave the caches holding what it replaced, even
//! when a read filled them while it waited for its commit.
//!
//! The order that matters (the write handed to the store, its client gone,
//! a read filling the cache, then the commit) happens inside one process,
//! where no relay can hold it. So the store's writer is kept busy with
//! large items, which makes each commit take long enough for that order
//! to happen in a good share of the rounds; each round then checks that
//! the cache converges to what the store holds.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue as Av;
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::items::{get_consistent, put_v, value};
use ferrodyn_tests::wait::{within, PATIENCE};
use ferrodyn_tests::{create_table, s, TestProxy};
use tokio::io::AsyncWriteExt;
use tokio::task::JoinHandle;

const ROUNDS: u32 = 120;

/// Writers keeping the store's write batches large (~100 KB items) until
/// `stop`. Single-item writes through the proxy, like the abandoned one: a
/// change feed that meets only the proxy's own writes passes over them
/// unread, so nothing but the writes themselves settles the caches.
fn busy_writer(client: &Client, stop: &Arc<AtomicBool>) -> Vec<JoinHandle<()>> {
    (0..4)
        .map(|t| {
            let (client, stop) = (client.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    client
                        .put_item()
                        .table_name("bulk")
                        .item("p", Av::S(format!("{t}-{n}")))
                        .item("x", Av::S("x".repeat(100_000)))
                        .send()
                        .await
                        .expect("bulk write");
                    n += 1;
                }
            })
        })
        .collect()
}

/// PutItem `{p: key, v: new}` and close the connection before the answer.
async fn abandoned_put(proxy: &TestProxy, table: &str, key: &str) {
    let body =
        format!(r#"{{"TableName":"{table}","Item":{{"p":{{"S":"{key}"}},"v":{{"S":"new"}}}}}}"#);
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amz-Target: DynamoDB_20120810.PutItem\r\nContent-Length: {}\r\n\r\n{body}",
        proxy.addr,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(proxy.addr)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    tokio::time::sleep(Duration::from_micros(300)).await;
    drop(stream);
    tokio::time::sleep(Duration::from_micros(300)).await;
}

/// The `v` of the item of partition `key`, by an eventually consistent
/// Query (answered from the query cache when it holds it).
async fn queried(client: &Client, table: &str, key: &str) -> Option<Av> {
    let out = client
        .query()
        .table_name(table)
        .key_condition_expression("p = :p")
        .expression_attribute_values(":p", s(key))
        .send()
        .await
        .expect("query");
    out.items().first().and_then(|i| i.get("v").cloned())
}

/// Rounds of: cache `old`, abandon a write of `new` while a read through
/// `read` may fill the cache, then wait until the cache shows what the
/// store holds. Returns the rounds in which it did not within `PATIENCE`.
async fn stale_rounds<F, Fut>(table: &str, read: F) -> Vec<u32>
where
    F: Fn(Client, String) -> Fut,
    Fut: std::future::Future<Output = Option<Av>>,
{
    let proxy = TestProxy::embedded().await;
    let client = proxy.client();
    create_table(&client, table).await;
    create_table(&client, "bulk").await;
    let stop = Arc::new(AtomicBool::new(false));
    let writers = busy_writer(&client, &stop);
    let mut stale = Vec::new();
    for round in 0..ROUNDS {
        let key = format!("k{round}");
        put_v(&client, table, &key, "old").await;
        assert_eq!(read(client.clone(), key.clone()).await, Some(s("old")));
        abandoned_put(&proxy, table, &key).await;
        // Most often a miss now, filled from the store before the
        // abandoned write commits.
        read(client.clone(), key.clone()).await;
        // Jobs commit in the order they reach the writer: once a later
        // write is answered, the abandoned one has usually committed (if it
        // got as far as the store; its request may also be read late, so
        // the store is read again at every poll).
        put_v(&client, "bulk", "later", "x").await;
        let converged = within(PATIENCE, || {
            let (client, key) = (client.clone(), key.clone());
            let read = &read;
            async move {
                let stored = get_consistent(&client, table, &key)
                    .await
                    .and_then(|i| i.get("v").cloned());
                assert!(stored.is_some(), "the item is gone");
                read(client, key).await == stored
            }
        })
        .await;
        if !converged {
            stale.push(round);
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.expect("bulk writer");
    }
    stale
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_write_leaves_no_stale_item_in_the_cache() {
    let stale = stale_rounds("abandoned_items", |client, key| async move {
        value(&client, "abandoned_items", &key).await
    })
    .await;
    assert!(stale.is_empty(), "stale item after round {stale:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_write_leaves_no_stale_query_result_in_the_cache() {
    let stale = stale_rounds("abandoned_queries", |client, key| async move {
        queried(&client, "abandoned_queries", &key).await
    })
    .await;
    assert!(stale.is_empty(), "stale query result after round {stale:?}");
}

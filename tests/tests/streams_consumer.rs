//! A stream consumer following the DynamoDB Streams API while 8 writers run
//! PutItem, UpdateItem, DeleteItem and TransactWriteItems on a shared set of
//! keys: it sees every change exactly once, in commit order, and replaying
//! the images reproduces the table's final state.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeValue as Av, Put, ReturnValue, StreamViewType, TransactWriteItem,
};
use aws_sdk_dynamodbstreams::types::{OperationType, ShardIteratorType};
use ferrodyn_tests::create_table_with_stream;
use ferrodyn_tests::TestStore;

type Image = HashMap<String, aws_sdk_dynamodbstreams::types::AttributeValue>;

const KEYS: usize = 16;
const WRITERS: usize = 8;
const OPS: usize = 60;

fn x_of(image: Option<&Image>) -> Option<String> {
    match image?.get("x")? {
        aws_sdk_dynamodbstreams::types::AttributeValue::S(s) => Some(s.clone()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn consumer_sees_every_change_once_and_replays_to_the_final_state() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table_with_stream(&client, "consumed", StreamViewType::NewAndOldImages).await;
    let streams = ferrodyn_tests::streams_client_for(&server.endpoint());
    let arn = streams
        .list_streams()
        .table_name("consumed")
        .send()
        .await
        .expect("list")
        .streams()[0]
        .stream_arn()
        .unwrap_or_default()
        .to_owned();
    let described = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe");
    let shard_id = described
        .stream_description()
        .expect("description")
        .shards()[0]
        .shard_id()
        .unwrap_or_default()
        .to_owned();

    // Writers: every write stores a value never used before, so each
    // successful Put/Update changes its item; deletes count only when they
    // removed something.
    let expected = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let client = client.clone();
        let expected = expected.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..OPS {
                let key = format!("k{}", (w * 7 + i * 3) % KEYS);
                let value = format!("w{w}-{i}");
                match i % 5 {
                    0 | 1 => {
                        client
                            .put_item()
                            .table_name("consumed")
                            .item("p", Av::S(key))
                            .item("x", Av::S(value))
                            .send()
                            .await
                            .expect("put");
                        expected.fetch_add(1, Ordering::SeqCst);
                    }
                    2 => {
                        client
                            .update_item()
                            .table_name("consumed")
                            .key("p", Av::S(key))
                            .update_expression("SET x = :v")
                            .expression_attribute_values(":v", Av::S(value))
                            .send()
                            .await
                            .expect("update");
                        expected.fetch_add(1, Ordering::SeqCst);
                    }
                    3 => {
                        let out = client
                            .delete_item()
                            .table_name("consumed")
                            .key("p", Av::S(key))
                            .return_values(ReturnValue::AllOld)
                            .send()
                            .await
                            .expect("delete");
                        if out.attributes.is_some() {
                            expected.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    _ => {
                        let other = format!("k{}", (w * 7 + i * 3 + 1) % KEYS);
                        let put = |p: String, v: String| {
                            TransactWriteItem::builder()
                                .put(
                                    Put::builder()
                                        .table_name("consumed")
                                        .item("p", Av::S(p))
                                        .item("x", Av::S(v))
                                        .build()
                                        .expect("put"),
                                )
                                .build()
                        };
                        let result = client
                            .transact_write_items()
                            .transact_items(put(key, format!("{value}-a")))
                            .transact_items(put(other, format!("{value}-b")))
                            .send()
                            .await;
                        if result.is_ok() {
                            expected.fetch_add(2, Ordering::SeqCst);
                        }
                    }
                }
            }
        }));
    }

    // The consumer follows the shard while the writers run.
    let done = Arc::new(AtomicBool::new(false));
    let consumer = {
        let streams = streams.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut iterator = streams
                .get_shard_iterator()
                .stream_arn(&arn)
                .shard_id(&shard_id)
                .shard_iterator_type(ShardIteratorType::TrimHorizon)
                .send()
                .await
                .expect("iterator")
                .shard_iterator
                .expect("iterator");
            let mut records = Vec::new();
            let mut idle_after_done = 0;
            loop {
                let out = streams
                    .get_records()
                    .shard_iterator(&iterator)
                    .send()
                    .await
                    .expect("get records");
                let got = out.records().len();
                records.extend(out.records().iter().cloned());
                match out.next_shard_iterator {
                    Some(next) => iterator = next,
                    None => break,
                }
                if got == 0 {
                    if done.load(Ordering::SeqCst) {
                        idle_after_done += 1;
                        if idle_after_done >= 3 {
                            break;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            records
        })
    };
    for w in writers {
        w.await.expect("writer");
    }
    done.store(true, Ordering::SeqCst);
    let records = consumer.await.expect("consumer");

    // Exactly once: one record per change, sequence numbers strictly increasing.
    assert_eq!(records.len() as u64, expected.load(Ordering::SeqCst));
    let seqs: Vec<u128> = records
        .iter()
        .map(|r| {
            r.dynamodb()
                .and_then(|d| d.sequence_number())
                .and_then(|s| s.parse().ok())
                .expect("numeric sequence number")
        })
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "sequence numbers out of order"
    );

    // Replay: each record's old image is the previous state of its key, and
    // the new images end at the table's final state.
    let mut state: HashMap<String, Option<String>> = HashMap::new();
    for r in &records {
        let d = r.dynamodb().expect("dynamodb");
        let key = match d.keys().and_then(|k| k.get("p")) {
            Some(aws_sdk_dynamodbstreams::types::AttributeValue::S(s)) => s.clone(),
            other => panic!("bad key {other:?}"),
        };
        let before = state.get(&key).cloned().flatten();
        assert_eq!(x_of(d.old_image()), before, "old image of {key}");
        let after = match r.event_name() {
            Some(OperationType::Remove) => None,
            _ => Some(x_of(d.new_image()).expect("new image")),
        };
        assert_eq!(
            matches!(r.event_name(), Some(OperationType::Insert)),
            before.is_none(),
            "INSERT exactly when the key was absent"
        );
        state.insert(key, after);
    }
    for k in 0..KEYS {
        let key = format!("k{k}");
        let item = client
            .get_item()
            .table_name("consumed")
            .key("p", Av::S(key.clone()))
            .consistent_read(true)
            .send()
            .await
            .expect("get")
            .item;
        let actual = item.and_then(|i| match i.get("x") {
            Some(Av::S(s)) => Some(s.clone()),
            _ => None,
        });
        assert_eq!(
            state.get(&key).cloned().flatten(),
            actual,
            "final state of {key}"
        );
    }
}

//! Read-modify-write atomicity through the AWS SDK: concurrent clients
//! incrementing one item with `ADD`, and with optimistic conditional
//! updates (`SET v = :new` guarded by `v = :old`), lose no increment.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue as Av, ReturnValue};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{create_table, item, items::get_consistent, items::put, n, s, TestStore};

const T: &str = "counter";
const CLIENTS: u64 = 8;

fn number(v: Option<&Av>) -> u64 {
    match v {
        Some(Av::N(x)) => x.parse().expect("integer"),
        other => panic!("not a number: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_add_loses_no_increment() {
    const PER_CLIENT: u64 = 500;
    let server = TestStore::start().await;
    create_table(&server.client(), T).await;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            // One SDK client (and connection pool) per writer.
            let client = server.client();
            tokio::spawn(async move {
                let mut seen = Vec::with_capacity(PER_CLIENT as usize);
                for _ in 0..PER_CLIENT {
                    // `counter` is a reserved word, hence the name placeholder.
                    let out = client
                        .update_item()
                        .table_name(T)
                        .key("p", s("c"))
                        .update_expression("ADD #c :one")
                        .expression_attribute_names("#c", "counter")
                        .expression_attribute_values(":one", n("1"))
                        .return_values(ReturnValue::UpdatedNew)
                        .send()
                        .await
                        .expect("add");
                    let attrs = out.attributes.expect("updated new");
                    seen.push(number(attrs.get("counter")));
                }
                seen
            })
        })
        .collect();
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.expect("writer task"));
    }
    let total = CLIENTS * PER_CLIENT;
    let stored = get_consistent(&server.client(), T, "c")
        .await
        .expect("item");
    assert_eq!(number(stored.get("counter")), total);
    // Every increment observed a distinct value: none read a stale count.
    seen.sort_unstable();
    assert_eq!(seen, (1..=total).collect::<Vec<_>>());
}

/// One optimistic increment: read, then write `old + 1` only if the value
/// is still `old`. Returns false when another writer got there first.
async fn try_increment(client: &Client) -> bool {
    let current = client
        .get_item()
        .table_name(T)
        .key("p", s("v"))
        .consistent_read(true)
        .send()
        .await
        .expect("read")
        .item
        .expect("item");
    let old = number(current.get("v"));
    let result = client
        .update_item()
        .table_name(T)
        .key("p", s("v"))
        .update_expression("SET v = :new")
        .condition_expression("v = :old")
        .expression_attribute_values(":old", n(old.to_string()))
        .expression_attribute_values(":new", n((old + 1).to_string()))
        .send()
        .await;
    match result {
        Ok(_) => true,
        Err(e) => match e.into_service_error() {
            UpdateItemError::ConditionalCheckFailedException(_) => false,
            other => panic!("unexpected {other:?}"),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_conditional_increments_lose_no_increment() {
    const PER_CLIENT: u64 = 100;
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, T).await;
    put(&client, T, item([("p", s("v")), ("v", n("0"))])).await;
    let tasks: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let client = server.client();
            tokio::spawn(async move {
                let mut attempts = 0u64;
                let mut done = 0u64;
                while done < PER_CLIENT {
                    attempts += 1;
                    if try_increment(&client).await {
                        done += 1;
                    }
                }
                attempts
            })
        })
        .collect();
    let mut attempts = 0;
    for task in tasks {
        attempts += task.await.expect("writer task");
    }
    let total = CLIENTS * PER_CLIENT;
    let stored = get_consistent(&client, T, "v").await.expect("item");
    assert_eq!(number(stored.get("v")), total);
    // Each success is one attempt; the rest were refused as stale.
    assert!(attempts >= total, "{attempts} attempts");
}

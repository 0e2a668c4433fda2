//! GSIs added and removed by UpdateTable: a new index is backfilled in the
//! background (CREATING, then ACTIVE), converges with writes made during
//! the backfill, survives a restart, and a deleted index disappears.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
    GlobalSecondaryIndexUpdate, IndexStatus, KeyType, Projection, ProjectionType,
    ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::items::put_all;
use ferrodyn_tests::tables::{add_index, attribute, key_element, until_index_active};
use ferrodyn_tests::{create_table, IndexSpec, TestStore};

fn create_gsi(name: &str, key: &str) -> GlobalSecondaryIndexUpdate {
    IndexSpec::new(name)
        .hash(key, ScalarAttributeType::S)
        .create_action()
}

fn delete_gsi(name: &str) -> GlobalSecondaryIndexUpdate {
    GlobalSecondaryIndexUpdate::builder()
        .delete(
            DeleteGlobalSecondaryIndexAction::builder()
                .index_name(name)
                .build()
                .expect("delete action"),
        )
        .build()
}

/// Add GSI `index` on the string attribute `key` of `table`.
async fn add_gsi(client: &Client, table: &str, index: &str, key: &str) {
    let spec = IndexSpec::new(index).hash(key, ScalarAttributeType::S);
    let out = add_index(client, table, &spec).await;
    let desc = out.table_description.expect("description");
    let gsi = desc
        .global_secondary_indexes()
        .iter()
        .find(|g| g.index_name() == Some(index))
        .expect("new index described");
    assert_eq!(gsi.index_status(), Some(&IndexStatus::Creating));
    assert_eq!(gsi.backfilling(), Some(true));
}

/// Poll DescribeTable until `index` is ACTIVE; returns its ItemCount.
async fn wait_active(client: &Client, table: &str, index: &str) -> i64 {
    let gsi = until_index_active(client, table, index).await;
    assert_eq!(gsi.backfilling(), None);
    gsi.item_count().unwrap_or(-1)
}

fn item(p: &str, x: Option<&str>) -> HashMap<String, Av> {
    let mut m = HashMap::from([("p".to_owned(), Av::S(p.to_owned()))]);
    if let Some(x) = x {
        m.insert("x".to_owned(), Av::S(x.to_owned()));
    }
    m
}

/// Every (p, x) pair of a full scan of the table or of one of its indexes.
async fn scan_pairs(
    client: &Client,
    table: &str,
    index: Option<&str>,
) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("scan");
        for i in page.items() {
            if let (Some(Av::S(p)), Some(Av::S(x))) = (i.get("p"), i.get("x")) {
                if !x.is_empty() {
                    out.insert((p.clone(), x.clone()));
                }
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn created_gsi_backfills_existing_items_and_serves_queries() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "tbl").await;
    let items: Vec<_> = (0..100)
        .map(|i| {
            let x = format!("x{}", i % 10);
            item(&format!("p{i}"), (i % 2 == 0).then_some(x.as_str()))
        })
        .collect();
    put_all(&client, "tbl", &items).await;
    // An item whose x has another type stays out of the index.
    client
        .put_item()
        .table_name("tbl")
        .item("p", Av::S("num".into()))
        .item("x", Av::N("3".into()))
        .send()
        .await
        .expect("put");

    add_gsi(&client, "tbl", "by_x", "x").await;
    assert_eq!(wait_active(&client, "tbl", "by_x").await, 50);

    let found = client
        .query()
        .table_name("tbl")
        .index_name("by_x")
        .key_condition_expression("x = :x")
        .expression_attribute_values(":x", Av::S("x4".into()))
        .send()
        .await
        .expect("query");
    let ps: BTreeSet<String> = found
        .items()
        .iter()
        .filter_map(|i| i.get("p").and_then(|p| p.as_s().ok()).cloned())
        .collect();
    let expected: BTreeSet<String> = (0..100)
        .filter(|i| i % 2 == 0 && i % 10 == 4)
        .map(|i| format!("p{i}"))
        .collect();
    assert_eq!(ps, expected);

    // Now that the index exists, x must be a string.
    let err = client
        .put_item()
        .table_name("tbl")
        .item("p", Av::S("bad".into()))
        .item("x", Av::N("1".into()))
        .send()
        .await
        .expect_err("type mismatch");
    assert!(err.message().unwrap_or_default().contains("mismatch"));

    // A second index with the same name is refused.
    let err = client
        .update_table()
        .table_name("tbl")
        .attribute_definitions(attribute("y", ScalarAttributeType::S))
        .global_secondary_index_updates(create_gsi("by_x", "y"))
        .send()
        .await
        .expect_err("duplicate index");
    assert!(err.message().unwrap_or_default().contains("already exists"));
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_converges_with_concurrent_writes() {
    const N: usize = 50_000;
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "big").await;
    let items: Vec<_> = (0..N)
        .map(|i| {
            let x = format!("x{}", i % 97);
            item(&format!("p{i}"), (i % 5 != 0).then_some(x.as_str()))
        })
        .collect();
    let loaders: Vec<_> = items
        .chunks(N / 8)
        .map(|part| {
            let client = client.clone();
            let part = part.to_vec();
            tokio::spawn(async move { put_all(&client, "big", &part).await })
        })
        .collect();
    for l in loaders {
        l.await.expect("loader");
    }

    add_gsi(&client, "big", "by_x", "x").await;
    // Writers change, add and delete items, and remove x, while the
    // backfill runs; each takes its own slice of keys.
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let client = client.clone();
            tokio::spawn(async move {
                for round in 0..300usize {
                    let k = (round * 157 + w * 12_503) % N;
                    let p = format!("p{k}");
                    let res = match round % 4 {
                        0 => client
                            .put_item()
                            .table_name("big")
                            .set_item(Some(item(&p, Some(&format!("w{w}-{round}")))))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("{e:?}")),
                        1 => client
                            .delete_item()
                            .table_name("big")
                            .key("p", Av::S(p))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("{e:?}")),
                        2 => client
                            .update_item()
                            .table_name("big")
                            .key("p", Av::S(p))
                            .update_expression("REMOVE x")
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("{e:?}")),
                        _ => client
                            .put_item()
                            .table_name("big")
                            .set_item(Some(item(&format!("new{w}-{round}"), Some("fresh"))))
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| format!("{e:?}")),
                    };
                    res.expect("write during backfill");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let count = wait_active(&client, "big", "by_x").await;

    let expected = scan_pairs(&client, "big", None).await;
    let indexed = scan_pairs(&client, "big", Some("by_x")).await;
    assert_eq!(indexed.len(), expected.len());
    assert!(indexed == expected, "index differs from the table");
    assert_eq!(count as usize, expected.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_resumes_after_restart() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "restarted").await;
    let items: Vec<_> = (0..5000)
        .map(|i| item(&format!("p{i}"), Some(&format!("x{}", i % 13))))
        .collect();
    put_all(&client, "restarted", &items).await;
    add_gsi(&client, "restarted", "by_x", "x").await;
    let dir = server.stop().await;

    let server = TestStore::start_in(dir).await;
    let client = server.client();
    assert_eq!(wait_active(&client, "restarted", "by_x").await, 5000);
    let expected = scan_pairs(&client, "restarted", None).await;
    assert_eq!(
        scan_pairs(&client, "restarted", Some("by_x")).await,
        expected
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_gsi_disappears() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "dropping").await;
    put_all(
        &client,
        "dropping",
        &[item("a", Some("1")), item("b", Some("2"))],
    )
    .await;
    add_gsi(&client, "dropping", "gsi", "x").await;
    assert_eq!(wait_active(&client, "dropping", "gsi").await, 2);

    let out = client
        .update_table()
        .table_name("dropping")
        .global_secondary_index_updates(delete_gsi("gsi"))
        .send()
        .await
        .expect("delete index");
    let desc = out.table_description.expect("description");
    assert!(desc.global_secondary_indexes().is_empty());
    assert!(desc
        .attribute_definitions()
        .iter()
        .all(|d| d.attribute_name() != "x"));

    let err = client
        .query()
        .table_name("dropping")
        .index_name("gsi")
        .key_condition_expression("x = :x")
        .expression_attribute_values(":x", Av::S("1".into()))
        .send()
        .await
        .expect_err("index is gone");
    assert_eq!(err.code(), Some("ValidationException"));

    let err = client
        .update_table()
        .table_name("dropping")
        .global_secondary_index_updates(delete_gsi("gsi"))
        .send()
        .await
        .expect_err("already deleted");
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_index_operation_per_update_table() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "limits").await;
    let err = client
        .update_table()
        .table_name("limits")
        .attribute_definitions(attribute("x", ScalarAttributeType::S))
        .global_secondary_index_updates(create_gsi("i1", "x"))
        .global_secondary_index_updates(create_gsi("i2", "x"))
        .send()
        .await
        .expect_err("two creates");
    assert_eq!(err.code(), Some("LimitExceededException"));

    let err = client
        .update_table()
        .table_name("limits")
        .send()
        .await
        .expect_err("nothing to update");
    assert_eq!(err.code(), Some("ValidationException"));
}

#[tokio::test]
async fn update_table_reports_an_over_long_attribute_definition_name() {
    let store = TestStore::start().await;
    let client = store.client();
    create_table(&client, "long_names").await;
    let long = "n".repeat(256);
    let err = client
        .update_table()
        .table_name("long_names")
        .attribute_definitions(attribute(&long, ScalarAttributeType::S))
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder()
                .create(
                    CreateGlobalSecondaryIndexAction::builder()
                        .index_name("by_other")
                        .key_schema(key_element("other", KeyType::Hash))
                        .projection(
                            Projection::builder()
                                .projection_type(ProjectionType::All)
                                .build(),
                        )
                        .build()
                        .expect("create action"),
                )
                .build(),
        )
        .send()
        .await
        .expect_err("name too long");
    assert_eq!(err.code(), Some("ValidationException"));
    let message = err.message().unwrap_or_default();
    assert!(
        message.contains("attributeDefinitions.1.member.attributeName")
            && message.contains("Member must have length less than or equal to 255"),
        "{message}"
    );
}

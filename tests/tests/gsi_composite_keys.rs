//! GSIs with multi-attribute keys through the AWS SDK: up to four HASH and
//! four RANGE attributes, each with its own type. An item is indexed only
//! with all of them; Query needs every HASH attribute by equality and the
//! RANGE attributes from the first on, a range condition only on the last
//! one given; entries are ordered by the RANGE attribute tuple; paging keys
//! carry every key attribute; UpdateTable can add such an index to a table
//! that already has items.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{AttributeValue as Av, KeySchemaElement, ScalarAttributeType};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::items::put;
use ferrodyn_tests::tables::{add_index, describe_index, until_index_active};
use ferrodyn_tests::{create_table, n, s, IndexSpec, TableSpec, TestStore};

const TABLE: &str = "matches";
const INDEX: &str = "by_event";

/// The index: HASH `h1` (S), `h2` (N); RANGE `r1` (N), `r2` (S).
fn event_index() -> IndexSpec {
    IndexSpec::new(INDEX)
        .hash("h1", ScalarAttributeType::S)
        .hash("h2", ScalarAttributeType::N)
        .range("r1", ScalarAttributeType::N)
        .range("r2", ScalarAttributeType::S)
}

/// The index's key schema, as created.
fn index_key() -> Vec<KeySchemaElement> {
    event_index().key_schema()
}

/// Table `p` with the 2-HASH, 2-RANGE GSI `by_event`.
fn composite_table() -> TableSpec {
    TableSpec::new(TABLE)
        .hash("p", ScalarAttributeType::S)
        .gsi(event_index())
}

/// An item with all four index key attributes.
fn full(p: &str, h1: &str, h2: &str, r1: &str, r2: &str) -> HashMap<String, Av> {
    HashMap::from([
        ("p".to_owned(), s(p)),
        ("h1".to_owned(), s(h1)),
        ("h2".to_owned(), n(h2)),
        ("r1".to_owned(), n(r1)),
        ("r2".to_owned(), s(r2)),
    ])
}

/// The `p` values a Query on the index returns, in order (all pages).
async fn query_ps(
    client: &Client,
    condition: &str,
    values: &[(&str, Av)],
    forward: bool,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name(TABLE)
            .index_name(INDEX)
            .key_condition_expression(condition)
            .set_expression_attribute_values(Some(
                values
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            ))
            .scan_index_forward(forward)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("query");
        for item in page.items() {
            if let Some(Av::S(p)) = item.get("p") {
                out.push(p.clone());
            }
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            return out;
        }
    }
}

/// The message of a Query on the index that must fail with a
/// ValidationException. Values are given for the placeholders used.
async fn query_error(client: &Client, condition: &str, filter: Option<&str>) -> String {
    let text = format!("{condition} {}", filter.unwrap_or_default());
    let values: HashMap<String, Av> = [
        (":h1", s("a")),
        (":h2", n("1")),
        (":r1", n("1")),
        (":r2", s("x")),
    ]
    .into_iter()
    .filter(|(k, _)| text.contains(k))
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let err = client
        .query()
        .table_name(TABLE)
        .index_name(INDEX)
        .key_condition_expression(condition)
        .set_filter_expression(filter.map(str::to_owned))
        .set_expression_attribute_values(Some(values))
        .send()
        .await
        .expect_err("query must fail");
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    err.message().unwrap_or_default().to_owned()
}

fn event(h1: &str, h2: &str) -> Vec<(&'static str, Av)> {
    vec![(":h1", s(h1)), (":h2", n(h2))]
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_shows_multi_attribute_key_schema_as_created() {
    let server = TestStore::start().await;
    let client = server.client();
    composite_table().create(&client).await;
    let table = client
        .describe_table()
        .table_name(TABLE)
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    let gsi = &table.global_secondary_indexes()[0];
    assert_eq!(gsi.key_schema(), index_key().as_slice());
    assert_eq!(table.attribute_definitions().len(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_orders_by_range_tuple_with_each_attribute_by_its_type() {
    let server = TestStore::start().await;
    let client = server.client();
    composite_table().create(&client).await;
    // r1 is a number: 5 < 10 < 100 numerically, though not as text.
    for (p, r1, r2) in [
        ("a", "100", "a"),
        ("b", "5", "z"),
        ("c", "10", "b"),
        ("d", "10", "a"),
        ("e", "5", "a"),
    ] {
        put(&client, TABLE, full(p, "evt", "7", r1, r2)).await;
    }
    // Same h1, another h2: another partition.
    put(&client, TABLE, full("other", "evt", "8", "1", "a")).await;

    let cond = "h1 = :h1 AND h2 = :h2";
    let forward = query_ps(&client, cond, &event("evt", "7"), true).await;
    assert_eq!(forward, ["e", "b", "d", "c", "a"]);
    let backward = query_ps(&client, cond, &event("evt", "7"), false).await;
    assert_eq!(backward, ["a", "c", "d", "b", "e"]);

    let mut values = event("evt", "7");
    values.push((":r1", n("10")));
    let eq = query_ps(&client, "h2 = :h2 AND r1 = :r1 AND h1 = :h1", &values, true).await;
    assert_eq!(eq, ["d", "c"]);
    let gt = query_ps(&client, "h1 = :h1 AND h2 = :h2 AND r1 > :r1", &values, true).await;
    assert_eq!(gt, ["a"]);

    values.push((":r2", s("b")));
    let both = query_ps(
        &client,
        "h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND r2 >= :r2",
        &values,
        true,
    )
    .await;
    assert_eq!(both, ["c"]);
    let prefix = query_ps(
        &client,
        "h1 = :h1 AND h2 = :h2 AND r1 = :r1 AND begins_with(r2, :r2)",
        &values,
        true,
    )
    .await;
    assert_eq!(prefix, ["c"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn query_without_every_hash_attribute_by_equality_is_rejected() {
    let server = TestStore::start().await;
    let client = server.client();
    composite_table().create(&client).await;
    let missing = query_error(&client, "h1 = :h1 AND r1 = :r1", None).await;
    assert!(
        missing.contains("HASH") && missing.contains("h2"),
        "{missing}"
    );
    let inequality = query_error(&client, "h1 = :h1 AND h2 > :h2", None).await;
    assert!(inequality.contains("HASH"), "{inequality}");
}

#[tokio::test(flavor = "multi_thread")]
async fn query_skipping_a_range_attribute_or_with_an_early_range_condition_is_rejected() {
    let server = TestStore::start().await;
    let client = server.client();
    composite_table().create(&client).await;
    let skipped = query_error(&client, "h1 = :h1 AND h2 = :h2 AND r2 = :r2", None).await;
    assert!(
        skipped.contains("RANGE") && skipped.contains("r1"),
        "{skipped}"
    );
    let early = query_error(
        &client,
        "h1 = :h1 AND h2 = :h2 AND r1 > :r1 AND r2 = :r2",
        None,
    )
    .await;
    assert!(
        early.contains("RANGE") && early.contains("equality"),
        "{early}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn filter_on_any_index_key_attribute_is_rejected() {
    let server = TestStore::start().await;
    let client = server.client();
    composite_table().create(&client).await;
    for key in ["h2", "r2"] {
        let msg = query_error(
            &client,
            "h1 = :h1 AND h2 = :h2 AND r1 = :r1",
            Some(&format!("{key} = :r2")),
        )
        .await;
        assert!(
            msg.contains("Filter Expression") && msg.contains(key),
            "{msg}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn item_missing_any_key_attribute_is_not_indexed() {
    let server = TestStore::start().await;
    let client = server.client();
    composite_table().create(&client).await;
    put(&client, TABLE, full("whole", "evt", "1", "1", "a")).await;
    for missing in ["h1", "h2", "r1", "r2"] {
        let mut item = full(&format!("no_{missing}"), "evt", "1", "2", "b");
        item.remove(missing);
        put(&client, TABLE, item).await;
    }
    let cond = "h1 = :h1 AND h2 = :h2";
    assert_eq!(
        query_ps(&client, cond, &event("evt", "1"), true).await,
        ["whole"]
    );
    // Removing one RANGE attribute takes the item out; setting it again
    // brings it back.
    client
        .update_item()
        .table_name(TABLE)
        .key("p", s("whole"))
        .update_expression("REMOVE r2")
        .send()
        .await
        .expect("remove");
    assert!(query_ps(&client, cond, &event("evt", "1"), true)
        .await
        .is_empty());
    client
        .update_item()
        .table_name(TABLE)
        .key("p", s("no_r2"))
        .update_expression("SET r2 = :v")
        .expression_attribute_values(":v", s("b"))
        .send()
        .await
        .expect("set");
    assert_eq!(
        query_ps(&client, cond, &event("evt", "1"), true).await,
        ["no_r2"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn write_with_wrong_type_for_a_later_key_attribute_is_rejected() {
    let server = TestStore::start().await;
    let client = server.client();
    composite_table().create(&client).await;
    let mut item = full("p", "evt", "1", "1", "a");
    item.insert("r1".into(), s("not a number"));
    let err = client
        .put_item()
        .table_name(TABLE)
        .set_item(Some(item))
        .send()
        .await
        .expect_err("type mismatch");
    assert_eq!(err.code(), Some("ValidationException"));
    let msg = err.message().unwrap_or_default();
    assert!(msg.contains("Type mismatch") && msg.contains("r1"), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn paging_returns_every_item_once_with_all_key_attributes_in_last_evaluated_key() {
    let server = TestStore::start().await;
    let client = server.client();
    composite_table().create(&client).await;
    for i in 0..7 {
        put(
            &client,
            TABLE,
            full(&format!("p{i}"), "evt", "3", &i.to_string(), "x"),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .query()
            .table_name(TABLE)
            .index_name(INDEX)
            .key_condition_expression("h1 = :h1 AND h2 = :h2")
            .expression_attribute_values(":h1", s("evt"))
            .expression_attribute_values(":h2", n("3"))
            .limit(3)
            .set_exclusive_start_key(start)
            .send()
            .await
            .expect("query page");
        for item in page.items() {
            seen.push(item.get("p").cloned().expect("p"));
        }
        if let Some(lek) = &page.last_evaluated_key {
            let mut names: Vec<&str> = lek.keys().map(String::as_str).collect();
            names.sort_unstable();
            assert_eq!(names, ["h1", "h2", "p", "r1", "r2"]);
        }
        start = page.last_evaluated_key;
        if start.is_none() {
            break;
        }
    }
    let expected: Vec<Av> = (0..7).map(|i| s(&format!("p{i}"))).collect();
    assert_eq!(seen, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn updatetable_created_multi_attribute_gsi_backfills_existing_items() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, TABLE).await;
    for (p, r1) in [("x", "3"), ("y", "1"), ("z", "2")] {
        put(&client, TABLE, full(p, "evt", "9", r1, "k")).await;
    }
    let mut sparse = full("sparse", "evt", "9", "0", "k");
    sparse.remove("h2");
    put(&client, TABLE, sparse).await;
    add_index(&client, TABLE, &event_index()).await;
    // The key schema is described as created, while backfilling and after.
    let creating = describe_index(&client, TABLE, INDEX).await;
    assert_eq!(creating.key_schema(), index_key().as_slice());
    let active = until_index_active(&client, TABLE, INDEX).await;
    assert_eq!(active.key_schema(), index_key().as_slice());
    assert_eq!(
        query_ps(&client, "h1 = :h1 AND h2 = :h2", &event("evt", "9"), true).await,
        ["y", "z", "x"]
    );
}

//! Table management through the AWS SDK: create, describe, list with paging,
//! update, delete, waiters, and DynamoDB's validation errors.

use std::time::Duration;

use aws_sdk_dynamodb::client::Waiters;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ProvisionedThroughput,
    ScalarAttributeType, TableStatus,
};
use ferrodyn_tests::tables::{attribute, key_element};
use ferrodyn_tests::{assert_error, TableSpec, TestStore};

/// Table `name` keyed by `p` (S) and `c` (N).
fn simple_table(name: &str) -> TableSpec {
    TableSpec::new(name)
        .hash("p", ScalarAttributeType::S)
        .range("c", ScalarAttributeType::N)
}

#[tokio::test(flavor = "multi_thread")]
async fn create_describe_delete_with_waiters() {
    let server = TestStore::start().await;
    let client = server.client();
    simple_table("lifecycle").create(&client).await;
    client
        .wait_until_table_exists()
        .table_name("lifecycle")
        .wait(Duration::from_secs(10))
        .await
        .expect("table exists waiter");

    let table = client
        .describe_table()
        .table_name("lifecycle")
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    assert_eq!(table.table_status, Some(TableStatus::Active));
    assert_eq!(table.table_name.as_deref(), Some("lifecycle"));
    let ks = table.key_schema.expect("key schema");
    assert_eq!(ks[0].attribute_name, "p");
    assert_eq!(ks[0].key_type, KeyType::Hash);
    assert_eq!(ks[1].attribute_name, "c");
    assert!(table
        .table_arn
        .expect("arn")
        .starts_with("arn:aws:dynamodb:"));
    assert_eq!(table.item_count, Some(0));
    assert_eq!(
        table.billing_mode_summary.and_then(|b| b.billing_mode),
        Some(BillingMode::PayPerRequest)
    );
    let id = table.table_id.expect("table id");
    assert_eq!(id.len(), 36, "{id}");
    assert!(table.creation_date_time.is_some());

    let deleted = client
        .delete_table()
        .table_name("lifecycle")
        .send()
        .await
        .expect("delete");
    assert_eq!(
        deleted.table_description.and_then(|t| t.table_status),
        Some(TableStatus::Deleting)
    );
    client
        .wait_until_table_not_exists()
        .table_name("lifecycle")
        .wait(Duration::from_secs(10))
        .await
        .expect("table not exists waiter");
    let err = client
        .describe_table()
        .table_name("lifecycle")
        .send()
        .await
        .expect_err("gone");
    assert_error(
        &err.into_service_error(),
        "ResourceNotFoundException",
        "Requested resource not found",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn recreated_table_starts_empty() {
    let server = TestStore::start().await;
    let client = server.client();
    simple_table("again").create(&client).await;
    client
        .put_item()
        .table_name("again")
        .item("p", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
        .item("c", aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
        .send()
        .await
        .expect("put");
    client
        .delete_table()
        .table_name("again")
        .send()
        .await
        .expect("delete");
    simple_table("again").create(&client).await;
    let got = client
        .get_item()
        .table_name("again")
        .key("p", aws_sdk_dynamodb::types::AttributeValue::S("x".into()))
        .key("c", aws_sdk_dynamodb::types::AttributeValue::N("1".into()))
        .send()
        .await
        .expect("get");
    assert!(got.item.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn create_existing_table_is_resource_in_use() {
    let server = TestStore::start().await;
    let client = server.client();
    simple_table("dup").create(&client).await;
    let err = client
        .create_table()
        .table_name("dup")
        .key_schema(key_element("p", KeyType::Hash))
        .attribute_definitions(attribute("p", ScalarAttributeType::S))
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .expect_err("exists");
    assert_error(
        &err.into_service_error(),
        "ResourceInUseException",
        "Table already exists: dup",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn list_tables_pages_through_every_table() {
    let server = TestStore::start().await;
    let client = server.client();
    let mut names: Vec<String> = (0..7).map(|i| format!("list_{i}")).collect();
    for n in &names {
        simple_table(n).create(&client).await;
    }
    for limit in [1, 2, 3, 50] {
        let mut seen = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let page = client
                .list_tables()
                .limit(limit)
                .set_exclusive_start_table_name(start.clone())
                .send()
                .await
                .expect("list");
            seen.extend(page.table_names.unwrap_or_default());
            match page.last_evaluated_table_name {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        names.sort();
        assert_eq!(seen, names, "limit {limit}");
    }
    let err = client
        .list_tables()
        .limit(101)
        .send()
        .await
        .expect_err("limit 101");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "less than or equal to 100",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn table_name_rules_are_validated() {
    let server = TestStore::start().await;
    let client = server.client();
    for (name, needle) in [
        ("ab", "Member must have length greater than or equal to 3"),
        ("bad@name", "regular expression pattern: [a-zA-Z0-9_.-]+"),
    ] {
        let err = client
            .create_table()
            .table_name(name)
            .key_schema(key_element("p", KeyType::Hash))
            .attribute_definitions(attribute("p", ScalarAttributeType::S))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect_err(name);
        assert_error(&err.into_service_error(), "ValidationException", needle);
    }
    let long = "x".repeat(256);
    let err = client
        .describe_table()
        .table_name(&long)
        .send()
        .await
        .expect_err("too long");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "less than or equal to 255",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_schema_errors_follow_dynamodb() {
    let server = TestStore::start().await;
    let client = server.client();
    let cases: Vec<(Vec<KeySchemaElement>, Vec<AttributeDefinition>, &str)> = vec![
        (
            vec![key_element("p", KeyType::Range)],
            vec![attribute("p", ScalarAttributeType::S)],
            "The first KeySchemaElement is not a HASH key type",
        ),
        (
            vec![key_element("p", KeyType::Hash), key_element("c", KeyType::Hash)],
            vec![attribute("p", ScalarAttributeType::S), attribute("c", ScalarAttributeType::S)],
            "The second KeySchemaElement is not a RANGE key type",
        ),
        (
            vec![key_element("p", KeyType::Hash)],
            vec![attribute("q", ScalarAttributeType::S)],
            "Some index key attributes are not defined in AttributeDefinitions",
        ),
        (
            vec![key_element("p", KeyType::Hash)],
            vec![attribute("p", ScalarAttributeType::S), attribute("extra", ScalarAttributeType::S)],
            "Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions",
        ),
        (
            vec![key_element("p", KeyType::Hash)],
            vec![attribute("p", ScalarAttributeType::S), attribute("p", ScalarAttributeType::N)],
            "Duplicate",
        ),
    ];
    for (ks, defs, needle) in cases {
        let err = client
            .create_table()
            .table_name("bad_schema")
            .set_key_schema(Some(ks))
            .set_attribute_definitions(Some(defs))
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
            .expect_err(needle);
        assert_error(&err.into_service_error(), "ValidationException", needle);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn billing_mode_rules_and_update_table() {
    let server = TestStore::start().await;
    let client = server.client();
    let err = client
        .create_table()
        .table_name("billing")
        .key_schema(key_element("p", KeyType::Hash))
        .attribute_definitions(attribute("p", ScalarAttributeType::S))
        .send()
        .await
        .expect_err("provisioned without throughput");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED",
    );
    let pt = ProvisionedThroughput::builder()
        .read_capacity_units(5)
        .write_capacity_units(7)
        .build()
        .expect("pt");
    client
        .create_table()
        .table_name("billing")
        .key_schema(key_element("p", KeyType::Hash))
        .attribute_definitions(attribute("p", ScalarAttributeType::S))
        .provisioned_throughput(pt)
        .send()
        .await
        .expect("provisioned table");
    let table = client
        .describe_table()
        .table_name("billing")
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    let t = table.provisioned_throughput.expect("throughput");
    assert_eq!(
        (t.read_capacity_units, t.write_capacity_units),
        (Some(5), Some(7))
    );

    let updated = client
        .update_table()
        .table_name("billing")
        .billing_mode(BillingMode::PayPerRequest)
        .deletion_protection_enabled(true)
        .send()
        .await
        .expect("update")
        .table_description
        .expect("description");
    assert_eq!(
        updated.billing_mode_summary.and_then(|b| b.billing_mode),
        Some(BillingMode::PayPerRequest)
    );
    assert_eq!(updated.deletion_protection_enabled, Some(true));
    let err = client
        .delete_table()
        .table_name("billing")
        .send()
        .await
        .expect_err("protected");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "protected against deletion",
    );
    client
        .update_table()
        .table_name("billing")
        .deletion_protection_enabled(false)
        .send()
        .await
        .expect("unprotect");
    client
        .delete_table()
        .table_name("billing")
        .send()
        .await
        .expect("delete");
    let err = client
        .update_table()
        .table_name("billing")
        .deletion_protection_enabled(true)
        .send()
        .await
        .expect_err("gone");
    assert_error(
        &err.into_service_error(),
        "ResourceNotFoundException",
        "Requested resource not found",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tables_survive_a_restart() {
    let server = TestStore::start().await;
    simple_table("durable").create(&server.client()).await;
    let dir = server.stop().await;
    let server = TestStore::start_in(dir).await;
    let names = server
        .client()
        .list_tables()
        .send()
        .await
        .expect("list")
        .table_names
        .unwrap_or_default();
    assert_eq!(names, vec!["durable".to_owned()]);
}

#[tokio::test]
async fn a_new_table_has_continuous_backups_but_no_point_in_time_recovery() {
    let store = TestStore::start().await;
    let client = store.client();
    simple_table("backups").create(&client).await;
    let out = client
        .describe_continuous_backups()
        .table_name("backups")
        .send()
        .await
        .expect("describe continuous backups");
    let description = out
        .continuous_backups_description()
        .expect("ContinuousBackupsDescription");
    // DynamoDB: on-demand backups are always available (ENABLED); point-in-time
    // recovery is off until UpdateContinuousBackups turns it on.
    assert_eq!(description.continuous_backups_status().as_str(), "ENABLED");
    assert_eq!(
        description
            .point_in_time_recovery_description()
            .and_then(|p| p.point_in_time_recovery_status())
            .map(|s| s.as_str()),
        Some("DISABLED")
    );
    let err = client
        .describe_continuous_backups()
        .table_name("nonexistent")
        .send()
        .await
        .expect_err("no such table");
    assert_error(
        &err,
        "TableNotFoundException",
        "Table not found: nonexistent",
    );
}

//! DynamoDB's exact error texts through the SDK: the exception type and the
//! whole message, for a missing table, missing and malformed parameters,
//! several violations in one request, list lengths of the batch and
//! transaction operations, key schemas, throughput updates, tagging ARNs and
//! transaction actions whose key does not fit. docs/error-messages.md says
//! where each text comes from.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_get_items::TransactGetItemsError;
use aws_sdk_dynamodb::types::{
    BillingMode, ConditionCheck, Delete, DeleteGlobalSecondaryIndexAction, Get,
    GlobalSecondaryIndexUpdate, KeyType, KeysAndAttributes, ProvisionedThroughput, Put, PutRequest,
    ReturnConsumedCapacity, ReturnItemCollectionMetrics, ReturnValue, ScalarAttributeType, Tag,
    TimeToLiveSpecification, TransactGetItem, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::tables::{attribute, key_element};
use ferrodyn_tests::{create_table, item, raw_error, s, TestStore};

/// Asserts that `err` is DynamoDB's error `code` with exactly `message`.
fn exact<E: ProvideErrorMetadata + std::fmt::Debug>(err: &E, code: &str, message: &str) {
    assert_eq!(err.code(), Some(code), "{err:?}");
    assert_eq!(err.message(), Some(message), "{err:?}");
}

fn one(violation: &str) -> String {
    format!("1 validation error detected: {violation}")
}

fn put_request(p: &str) -> WriteRequest {
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .item("p", s(p))
                .build()
                .expect("put request"),
        )
        .build()
}

fn keys(n: usize) -> KeysAndAttributes {
    let mut k = KeysAndAttributes::builder();
    for i in 0..n {
        k = k.keys(item([("p", s(&i.to_string()))]));
    }
    k.build().expect("keys")
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().expect("tag")
}

fn put_action(table: &str, p: &str) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .item("p", s(p))
                .build()
                .expect("put"),
        )
        .build()
}

const NOT_FOUND: &str = "Requested resource not found";

#[tokio::test(flavor = "multi_thread")]
async fn item_operations_on_a_missing_table_do_not_name_it() {
    let server = TestStore::start().await;
    let c = server.client();
    let rnf = "ResourceNotFoundException";
    let key = || item([("p", s("k"))]);

    let e = c.get_item().table_name("nope").set_key(Some(key())).send();
    exact(
        &e.await.expect_err("get").into_service_error(),
        rnf,
        NOT_FOUND,
    );
    let e = c.put_item().table_name("nope").set_item(Some(key())).send();
    exact(
        &e.await.expect_err("put").into_service_error(),
        rnf,
        NOT_FOUND,
    );
    let e = c
        .update_item()
        .table_name("nope")
        .set_key(Some(key()))
        .update_expression("SET a = :a")
        .expression_attribute_values(":a", s("x"))
        .send();
    exact(
        &e.await.expect_err("update").into_service_error(),
        rnf,
        NOT_FOUND,
    );
    let e = c
        .delete_item()
        .table_name("nope")
        .set_key(Some(key()))
        .send();
    exact(
        &e.await.expect_err("delete").into_service_error(),
        rnf,
        NOT_FOUND,
    );
    let e = c
        .query()
        .table_name("nope")
        .key_condition_expression("p = :p")
        .expression_attribute_values(":p", s("k"))
        .send();
    exact(
        &e.await.expect_err("query").into_service_error(),
        rnf,
        NOT_FOUND,
    );
    let e = c.scan().table_name("nope").send();
    exact(
        &e.await.expect_err("scan").into_service_error(),
        rnf,
        NOT_FOUND,
    );
    let e = c.batch_get_item().request_items("nope", keys(1)).send();
    exact(
        &e.await.expect_err("batch get").into_service_error(),
        rnf,
        NOT_FOUND,
    );
    let e = c
        .batch_write_item()
        .request_items("nope", vec![put_request("k")])
        .send();
    exact(
        &e.await.expect_err("batch write").into_service_error(),
        rnf,
        NOT_FOUND,
    );
    let get = Get::builder()
        .table_name("nope")
        .set_key(Some(key()))
        .build()
        .expect("get");
    let e = c
        .transact_get_items()
        .transact_items(TransactGetItem::builder().get(get).build())
        .send();
    exact(
        &e.await.expect_err("transact get").into_service_error(),
        rnf,
        NOT_FOUND,
    );
    let e = c
        .transact_write_items()
        .transact_items(put_action("nope", "k"))
        .send();
    exact(
        &e.await.expect_err("transact write").into_service_error(),
        rnf,
        NOT_FOUND,
    );

    // The table operations keep the form that names the table.
    let named = "Requested resource not found: Table: nope not found";
    let e = c.describe_table().table_name("nope").send();
    exact(
        &e.await.expect_err("describe").into_service_error(),
        rnf,
        named,
    );
    let spec = TimeToLiveSpecification::builder()
        .attribute_name("ttl")
        .enabled(true)
        .build()
        .expect("ttl spec");
    let e = c
        .update_time_to_live()
        .table_name("nope")
        .time_to_live_specification(spec)
        .send();
    exact(&e.await.expect_err("ttl").into_service_error(), rnf, named);
}

fn validation(message: &str) -> (String, String) {
    ("ValidationException".to_owned(), message.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn table_operations_without_a_table_name_say_it_is_required() {
    let server = TestStore::start().await;
    let required =
        validation("The parameter 'TableName' is required but was not present in the request");
    for op in ["CreateTable", "DescribeTable", "DeleteTable", "UpdateTable"] {
        assert_eq!(raw_error(server.addr, op, "{}").await, required, "{op}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_table_name_breaks_only_its_length() {
    let server = TestStore::start().await;
    // With every other required member present, the name is refused alone.
    let got = raw_error(
        server.addr,
        "PutItem",
        r#"{"TableName": "", "Item": {"p": {"S": "k"}}, "ReturnValues": "INVALID"}"#,
    )
    .await;
    assert_eq!(
        got,
        validation(&one("Value at 'TableName' failed to satisfy constraint: Member must have length greater than or equal to 1"))
    );
    // Without the key, it is one violation among the others, in UpdateItem's
    // member order.
    let got = raw_error(
        server.addr,
        "UpdateItem",
        r#"{"TableName": "", "UpdateExpression": "SET a = :a",
            "ExpressionAttributeValues": {":a": {"S": "x"}},
            "ReturnConsumedCapacity": "INVALID", "ReturnValues": "INVALID"}"#,
    )
    .await;
    assert_eq!(
        got,
        validation(
            "4 validation errors detected: \
             Value 'INVALID' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; \
             Value '' at 'tableName' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value 'INVALID' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]; \
             Value null at 'key' failed to satisfy constraint: Member must not be null"
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn violations_are_listed_in_the_operation_member_order() {
    let server = TestStore::start().await;
    let c = server.client();
    let e = c
        .put_item()
        .table_name("abc;")
        .return_consumed_capacity(ReturnConsumedCapacity::from("hi"))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::from("hi"))
        .return_values(ReturnValue::from("hi"))
        .send();
    exact(
        &e.await.expect_err("put").into_service_error(),
        "ValidationException",
        "5 validation errors detected: \
         Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; \
         Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
         Value null at 'item' failed to satisfy constraint: Member must not be null; \
         Value 'hi' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]; \
         Value 'hi' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]",
    );
    let e = c
        .scan()
        .table_name("abc;")
        .index_name("ab")
        .return_consumed_capacity(ReturnConsumedCapacity::from("hi"))
        .send();
    exact(
        &e.await.expect_err("scan").into_service_error(),
        "ValidationException",
        "3 validation errors detected: \
         Value 'ab' at 'indexName' failed to satisfy constraint: Member must have length greater than or equal to 3; \
         Value 'hi' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; \
         Value 'abc;' at 'tableName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+",
    );
    create_table(&c, "orders").await;
    let e = c
        .transact_write_items()
        .transact_items(put_action("orders", "k"))
        .return_consumed_capacity(ReturnConsumedCapacity::from("BOGUS"))
        .return_item_collection_metrics(ReturnItemCollectionMetrics::from("BOGUS2"))
        .send();
    exact(
        &e.await.expect_err("transact").into_service_error(),
        "ValidationException",
        "2 validation errors detected: \
         Value 'BOGUS' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; \
         Value 'BOGUS2' at 'returnItemCollectionMetrics' failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_and_transaction_list_lengths_have_dynamodb_texts() {
    let server = TestStore::start().await;
    let c = server.client();
    create_table(&c, "orders").await;
    create_table(&c, "returns").await;
    let invalid = "ValidationException";

    let e = c
        .batch_get_item()
        .set_request_items(Some(HashMap::new()))
        .send();
    exact(
        &e.await.expect_err("no tables").into_service_error(),
        invalid,
        &one("Value at 'RequestItems' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    );
    let e = c.batch_get_item().request_items("orders", keys(101)).send();
    exact(
        &e.await.expect_err("101 keys").into_service_error(),
        invalid,
        &one("Value at 'RequestItems.orders.member.Keys' failed to satisfy constraint: Member must have length less than or equal to 100"),
    );

    let e = c
        .batch_write_item()
        .set_request_items(Some(HashMap::new()))
        .send();
    exact(
        &e.await.expect_err("no tables").into_service_error(),
        invalid,
        "The requestItems parameter is required for BatchWriteItem",
    );
    let e = c.batch_write_item().request_items("orders", vec![]).send();
    exact(
        &e.await.expect_err("no requests").into_service_error(),
        invalid,
        &one("Value '{orders=[]}' at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]"),
    );
    let many: Vec<WriteRequest> = (0..26).map(|i| put_request(&i.to_string())).collect();
    let e = c.batch_write_item().request_items("orders", many).send();
    exact(
        &e.await.expect_err("26 requests").into_service_error(),
        invalid,
        &one("Value at 'RequestItems.orders.member' failed to satisfy constraint: Member must have length less than or equal to 25"),
    );
    let half: Vec<WriteRequest> = (0..13).map(|i| put_request(&i.to_string())).collect();
    let e = c
        .batch_write_item()
        .request_items("orders", half.clone())
        .request_items("returns", half)
        .send();
    exact(
        &e.await
            .expect_err("26 over two tables")
            .into_service_error(),
        invalid,
        "Too many items requested for the BatchWriteItem call",
    );

    let e = c
        .transact_write_items()
        .set_transact_items(Some(vec![]))
        .send();
    exact(
        &e.await.expect_err("no actions").into_service_error(),
        invalid,
        &one("Value '[]' at 'transactItems' failed to satisfy constraint: Member must have length greater than or equal to 1"),
    );
    let actions: Vec<TransactWriteItem> = (0..101)
        .map(|i| put_action("orders", &i.to_string()))
        .collect();
    let e = c
        .transact_write_items()
        .set_transact_items(Some(actions))
        .send();
    exact(
        &e.await.expect_err("101 actions").into_service_error(),
        invalid,
        &one("Value at 'TransactItems' failed to satisfy constraint: Member must have length less than or equal to 100"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_segment_must_be_less_than_total_segments() {
    let server = TestStore::start().await;
    let c = server.client();
    create_table(&c, "orders").await;
    let e = c
        .scan()
        .table_name("orders")
        .segment(1)
        .total_segments(1)
        .send();
    exact(
        &e.await.expect_err("segment").into_service_error(),
        "ValidationException",
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 1 is not less than TotalSegments: 1",
    );
}

async fn create_with_keys(
    c: &Client,
    keys: &[(&str, KeyType)],
    defs: &[&str],
) -> Result<(), aws_sdk_dynamodb::operation::create_table::CreateTableError> {
    let mut req = c
        .create_table()
        .table_name("twice")
        .billing_mode(BillingMode::PayPerRequest);
    for (name, key_type) in keys {
        req = req.key_schema(key_element(name, key_type.clone()));
    }
    for name in defs {
        req = req.attribute_definitions(attribute(name, ScalarAttributeType::S));
    }
    req.send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_schema_naming_one_attribute_twice_is_refused() {
    let server = TestStore::start().await;
    let c = server.client();
    let twice = [("p", KeyType::Hash), ("p", KeyType::Range)];
    let e = create_with_keys(&c, &twice, &["p"]).await;
    exact(
        &e.expect_err("one definition"),
        "ValidationException",
        "Invalid KeySchema: Some index key attribute have no definition",
    );
    let e = create_with_keys(&c, &twice, &["p", "q"]).await;
    exact(
        &e.expect_err("two definitions"),
        "ValidationException",
        "Both the Hash Key and the Range Key element in the KeySchema have the same name",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unchanged_provisioned_throughput_is_refused() {
    let server = TestStore::start().await;
    let c = server.client();
    let throughput = || {
        ProvisionedThroughput::builder()
            .read_capacity_units(5)
            .write_capacity_units(5)
            .build()
            .expect("throughput")
    };
    c.create_table()
        .table_name("fixed")
        .key_schema(key_element("p", KeyType::Hash))
        .attribute_definitions(attribute("p", ScalarAttributeType::S))
        .provisioned_throughput(throughput())
        .send()
        .await
        .expect("create");
    let e = c
        .update_table()
        .table_name("fixed")
        .billing_mode(BillingMode::Provisioned)
        .provisioned_throughput(throughput())
        .send();
    exact(
        &e.await.expect_err("unchanged").into_service_error(),
        "ValidationException",
        "The provisioned throughput for the table will not change. The requested value equals the current value. \
         Current ReadCapacityUnits provisioned for the table: 5. Requested ReadCapacityUnits: 5. \
         Current WriteCapacityUnits provisioned for the table: 5. Requested WriteCapacityUnits: 5. \
         Refer to the Amazon DynamoDB Developer Guide for current limits and how to request higher limits.",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tagging_answers_malformed_and_unknown_arns() {
    let server = TestStore::start().await;
    let c = server.client();
    let arn = create_table(&c, "tagged")
        .await
        .table_arn
        .expect("table arn");
    let e = c
        .tag_resource()
        .resource_arn("I_do_not_exist")
        .tags(tag("a", "b"))
        .send();
    exact(
        &e.await.expect_err("not an arn").into_service_error(),
        "ValidationException",
        "One or more parameter values were invalid: ARNs must start with 'arn:': I_do_not_exist",
    );
    let e = c.list_tags_of_resource().resource_arn("nope").send();
    exact(
        &e.await.expect_err("not an arn").into_service_error(),
        "ValidationException",
        "One or more parameter values were invalid: ARNs must start with 'arn:': nope",
    );

    let missing = format!("{arn}x");
    let named = format!("Requested resource not found: ResourceArn: {missing} not found");
    let rnf = "ResourceNotFoundException";
    let e = c
        .tag_resource()
        .resource_arn(&missing)
        .tags(tag("a", "b"))
        .send();
    exact(&e.await.expect_err("tag").into_service_error(), rnf, &named);
    let e = c.list_tags_of_resource().resource_arn(&missing).send();
    exact(
        &e.await.expect_err("list").into_service_error(),
        rnf,
        &named,
    );
    let e = c
        .untag_resource()
        .resource_arn(&missing)
        .tag_keys("a")
        .send();
    exact(
        &e.await.expect_err("untag").into_service_error(),
        rnf,
        NOT_FOUND,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_action_whose_key_does_not_fit_is_reported_as_dynamodb_does() {
    let server = TestStore::start().await;
    let c = server.client();
    create_table(&c, "orders").await;
    // A read action's bad key cancels the transaction with that action's
    // ValidationError, as a write action's does.
    let get = |key: HashMap<String, _>| {
        TransactGetItem::builder()
            .get(
                Get::builder()
                    .table_name("orders")
                    .set_key(Some(key))
                    .build()
                    .expect("get"),
            )
            .build()
    };
    let err = c
        .transact_get_items()
        .transact_items(get(item([("p", s("a"))])))
        .transact_items(get(HashMap::new()))
        .send()
        .await
        .expect_err("cancelled")
        .into_service_error();
    exact(
        &err,
        "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, ValidationError]",
    );
    let TransactGetItemsError::TransactionCanceledException(e) = err else {
        panic!("not a cancellation");
    };
    let reasons = e.cancellation_reasons();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].code(), Some("None"));
    assert_eq!(reasons[0].message(), None);
    assert_eq!(reasons[1].code(), Some("ValidationError"));
    assert_eq!(
        reasons[1].message(),
        Some("The provided key element does not match the schema")
    );

    // An empty key value is refused up front, for the whole request.
    let delete = Delete::builder()
        .table_name("orders")
        .key("p", s(""))
        .build()
        .expect("delete");
    let e = c
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().delete(delete).build())
        .send();
    exact(
        &e.await.expect_err("empty key").into_service_error(),
        "ValidationException",
        "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: p",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_table_refuses_requests_that_change_nothing_or_too_many_indexes() {
    let server = TestStore::start().await;
    let c = server.client();
    create_table(&c, "orders").await;
    let e = c.update_table().table_name("orders").send();
    exact(
        &e.await.expect_err("nothing to change").into_service_error(),
        "ValidationException",
        "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
    );
    let delete = |name: &str| {
        GlobalSecondaryIndexUpdate::builder()
            .delete(
                DeleteGlobalSecondaryIndexAction::builder()
                    .index_name(name)
                    .build()
                    .expect("delete"),
            )
            .build()
    };
    let e = c
        .update_table()
        .table_name("orders")
        .global_secondary_index_updates(delete("one"))
        .global_secondary_index_updates(delete("two"))
        .send();
    exact(
        &e.await.expect_err("two deletes").into_service_error(),
        "LimitExceededException",
        "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_limit_below_one_is_refused_alone() {
    let server = TestStore::start().await;
    let c = server.client();
    create_table(&c, "orders").await;
    let limit = one("Value at 'Limit' failed to satisfy constraint: Member must have value greater than or equal to 1");
    let e = c
        .scan()
        .table_name("orders")
        .limit(0)
        .return_consumed_capacity(ReturnConsumedCapacity::from("hi"))
        .send();
    exact(
        &e.await.expect_err("scan").into_service_error(),
        "ValidationException",
        &limit,
    );
    let e = c
        .query()
        .table_name("orders")
        .key_condition_expression("p = :p")
        .expression_attribute_values(":p", s("k"))
        .limit(0)
        .send();
    exact(
        &e.await.expect_err("query").into_service_error(),
        "ValidationException",
        &limit,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_checks_every_action_expression_before_any_table() {
    let server = TestStore::start().await;
    let c = server.client();
    create_table(&c, "orders").await;
    let check = TransactWriteItem::builder()
        .condition_check(
            ConditionCheck::builder()
                .table_name("orders")
                .key("p", s("k"))
                .condition_expression("attribute_not_exists(")
                .build()
                .expect("check"),
        )
        .build();
    let e = c
        .transact_write_items()
        .transact_items(put_action("nope", "k"))
        .transact_items(check)
        .send();
    let err = e.await.expect_err("syntax").into_service_error();
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    let message = err.message().unwrap_or_default();
    assert!(
        message.starts_with("Invalid ConditionExpression: Syntax error; token: \"<EOF>\""),
        "{message}"
    );

    // A token too long is listed before the other members.
    let token = "x".repeat(37);
    let e = c
        .transact_write_items()
        .transact_items(put_action("orders", "k"))
        .client_request_token(&token)
        .return_consumed_capacity(ReturnConsumedCapacity::from("BOGUS"))
        .send();
    exact(
        &e.await.expect_err("token").into_service_error(),
        "ValidationException",
        &format!(
            "2 validation errors detected: \
             Value '{token}' at 'clientRequestToken' failed to satisfy constraint: Member must have length less than or equal to 36; \
             Value 'BOGUS' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_item_nested_beyond_32_levels_is_refused_with_dynamodb_text() {
    let server = TestStore::start().await;
    let c = server.client();
    create_table(&c, "orders").await;
    // A value wrapped in 31 maps has its leaf at level 32, the deepest
    // allowed; one more map puts the leaf at level 33.
    let mut deep = s("leaf");
    for _ in 0..31 {
        deep = aws_sdk_dynamodb::types::AttributeValue::M([("n".to_owned(), deep)].into());
    }
    c.put_item()
        .table_name("orders")
        .item("p", s("k"))
        .item("data", deep.clone())
        .send()
        .await
        .expect("32 levels are allowed");
    let deep = aws_sdk_dynamodb::types::AttributeValue::M([("n".to_owned(), deep)].into());
    let e = c
        .put_item()
        .table_name("orders")
        .item("p", s("k"))
        .item("data", deep)
        .send();
    exact(
        &e.await.expect_err("too deep").into_service_error(),
        "ValidationException",
        "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn update_item_refuses_an_expression_value_nested_beyond_32_levels() {
    let server = TestStore::start().await;
    let c = server.client();
    create_table(&c, "orders").await;
    let mut deep = s("leaf");
    for _ in 0..32 {
        deep = aws_sdk_dynamodb::types::AttributeValue::M([("n".to_owned(), deep)].into());
    }
    let e = c
        .update_item()
        .table_name("orders")
        .key("p", s("k"))
        .update_expression("SET touched = :t")
        .condition_expression("#d = :deep")
        .expression_attribute_names("#d", "data")
        .expression_attribute_values(":t", s("y"))
        .expression_attribute_values(":deep", deep)
        .send();
    exact(
        &e.await.expect_err("too deep").into_service_error(),
        "ValidationException",
        "1 validation error detected: Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond supported limit",
    );
}

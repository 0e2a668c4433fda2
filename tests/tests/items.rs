//! Single-item operations through the AWS SDK: exact round trips of every
//! attribute type, ReturnValues, conditional writes, and DynamoDB's key and
//! item validation errors.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};
use ferrodyn_tests::{assert_error, create_table, n, s, TableSpec, TestStore};

#[tokio::test(flavor = "multi_thread")]
async fn every_attribute_type_round_trips_exactly() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "types").await;
    let nested: HashMap<String, Av> = [
        (
            "inner".to_owned(),
            Av::L(vec![n("1"), s(""), Av::Null(true), Av::Bool(false)]),
        ),
        (
            "deep".to_owned(),
            Av::M([("x".to_owned(), Av::B(Blob::new(vec![0u8, 255, 7])))].into()),
        ),
    ]
    .into();
    let item: HashMap<String, Av> = [
        ("p".to_owned(), s("key")),
        ("str".to_owned(), s("héllo \u{0} wörld")),
        ("empty".to_owned(), s("")),
        ("int".to_owned(), n("123456789012345678901234567890123456")),
        (
            "frac".to_owned(),
            n("-0.000000000000000000000000000000000000001"),
        ),
        (
            "big".to_owned(),
            n("9.9999999999999999999999999999999999999E+125"),
        ),
        ("tiny".to_owned(), n("1E-130")),
        (
            "bin".to_owned(),
            Av::B(Blob::new((0u8..=255).collect::<Vec<_>>())),
        ),
        ("yes".to_owned(), Av::Bool(true)),
        ("nothing".to_owned(), Av::Null(true)),
        ("map".to_owned(), Av::M(nested)),
        ("ss".to_owned(), Av::Ss(vec!["a".into(), "b".into()])),
        ("ns".to_owned(), Av::Ns(vec!["1".into(), "2.5".into()])),
        (
            "bs".to_owned(),
            Av::Bs(vec![Blob::new(vec![1u8]), Blob::new(vec![2u8])]),
        ),
    ]
    .into();
    client
        .put_item()
        .table_name("types")
        .set_item(Some(item.clone()))
        .send()
        .await
        .expect("put");
    let got = client
        .get_item()
        .table_name("types")
        .key("p", s("key"))
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    let mut expected = item;
    // Numbers come back in DynamoDB's canonical form.
    expected.insert(
        "big".into(),
        n(format!(
            "99999999999999999999999999999999999999{}",
            "0".repeat(88)
        )),
    );
    expected.insert("tiny".into(), n(format!("0.{}1", "0".repeat(129))));
    assert_eq!(got, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn numbers_are_compared_as_numbers_in_keys() {
    let server = TestStore::start().await;
    let client = server.client();
    TableSpec::new("numkeys")
        .hash("p", ScalarAttributeType::S)
        .range("c", ScalarAttributeType::N)
        .create(&client)
        .await;
    for spelling in ["1000", "1e3", "1E+3", "1000.0", "001000", "+1000"] {
        client
            .put_item()
            .table_name("numkeys")
            .item("p", s("x"))
            .item("c", n(spelling))
            .item("v", s(spelling))
            .send()
            .await
            .expect("put");
    }
    let got = client
        .get_item()
        .table_name("numkeys")
        .key("p", s("x"))
        .key("c", n("1000.000"))
        .send()
        .await
        .expect("get")
        .item
        .expect("one item for every spelling");
    assert_eq!(got.get("c"), Some(&n("1000")));
    assert_eq!(got.get("v"), Some(&s("+1000")));
}

#[tokio::test(flavor = "multi_thread")]
async fn put_replaces_and_returns_old_item() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "replace").await;
    client
        .put_item()
        .table_name("replace")
        .item("p", s("k"))
        .item("a", n("1"))
        .send()
        .await
        .expect("put 1");
    let out = client
        .put_item()
        .table_name("replace")
        .item("p", s("k"))
        .item("b", n("2"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .expect("put 2");
    let old = out.attributes.expect("old item");
    assert_eq!(old.get("a"), Some(&n("1")));
    let got = client
        .get_item()
        .table_name("replace")
        .key("p", s("k"))
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert_eq!(got.len(), 2);
    assert_eq!(got.get("b"), Some(&n("2")));

    let err = client
        .put_item()
        .table_name("replace")
        .item("p", s("k"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .expect_err("ALL_NEW is not allowed on PutItem");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "Return values set to invalid value",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_put_fails_without_changing_anything() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "cond").await;
    client
        .put_item()
        .table_name("cond")
        .item("p", s("k"))
        .item("v", n("1"))
        .send()
        .await
        .expect("put");
    let err = client
        .put_item()
        .table_name("cond")
        .item("p", s("k"))
        .item("v", n("2"))
        .condition_expression("attribute_not_exists(p)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .expect_err("exists");
    let err = err.into_service_error();
    assert_error(
        &err,
        "ConditionalCheckFailedException",
        "The conditional request failed",
    );
    match err {
        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(e) => {
            assert_eq!(e.item.and_then(|i| i.get("v").cloned()), Some(n("1")));
        }
        other => panic!("unexpected {other:?}"),
    }
    let got = client
        .get_item()
        .table_name("cond")
        .key("p", s("k"))
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert_eq!(got.get("v"), Some(&n("1")));
}

#[tokio::test(flavor = "multi_thread")]
async fn update_item_sets_attributes_and_upserts() {
    let server = TestStore::start().await;
    let client = server.client();
    TableSpec::new("upd")
        .hash("p", ScalarAttributeType::S)
        .range("c", ScalarAttributeType::S)
        .create(&client)
        .await;
    let out = client
        .update_item()
        .table_name("upd")
        .key("p", s("k"))
        .key("c", s("1"))
        .update_expression("SET #a = :a, b = :b")
        .expression_attribute_names("#a", "a")
        .expression_attribute_values(":a", s("x"))
        .expression_attribute_values(":b", n("7"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .expect("update creates");
    let new = out.attributes.expect("all new");
    assert_eq!(new.get("p"), Some(&s("k")));
    assert_eq!(new.get("a"), Some(&s("x")));
    assert_eq!(new.get("b"), Some(&n("7")));

    let out = client
        .update_item()
        .table_name("upd")
        .key("p", s("k"))
        .key("c", s("1"))
        .update_expression("SET b = :b")
        .expression_attribute_values(":b", n("8"))
        .return_values(ReturnValue::UpdatedOld)
        .send()
        .await
        .expect("update");
    assert_eq!(out.attributes, Some([("b".to_owned(), n("7"))].into()));

    let err = client
        .update_item()
        .table_name("upd")
        .key("p", s("k"))
        .key("c", s("1"))
        .update_expression("SET p = :v")
        .expression_attribute_values(":v", s("other"))
        .send()
        .await
        .expect_err("key attribute");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "This attribute is part of the key",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_item_returns_old_and_removes() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "del").await;
    client
        .put_item()
        .table_name("del")
        .item("p", s("k"))
        .item("v", n("1"))
        .send()
        .await
        .expect("put");
    let out = client
        .delete_item()
        .table_name("del")
        .key("p", s("k"))
        .return_values(ReturnValue::AllOld)
        .send()
        .await
        .expect("delete");
    assert_eq!(
        out.attributes.and_then(|a| a.get("v").cloned()),
        Some(n("1"))
    );
    let got = client
        .get_item()
        .table_name("del")
        .key("p", s("k"))
        .send()
        .await
        .expect("get");
    assert!(got.item.is_none());
    // Deleting what is not there succeeds and returns nothing.
    let out = client
        .delete_item()
        .table_name("del")
        .key("p", s("k"))
        .send()
        .await
        .expect("delete again");
    assert!(out.attributes.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn key_validation_errors_follow_dynamodb() {
    let server = TestStore::start().await;
    let client = server.client();
    TableSpec::new("keys")
        .hash("p", ScalarAttributeType::S)
        .range("c", ScalarAttributeType::S)
        .create(&client)
        .await;

    let err = client
        .put_item()
        .table_name("keys")
        .item("p", s("k"))
        .send()
        .await
        .expect_err("missing sort key");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "Missing the key c in the item",
    );

    let err = client
        .put_item()
        .table_name("keys")
        .item("p", n("1"))
        .item("c", s("x"))
        .send()
        .await
        .expect_err("type");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "Type mismatch for key p expected: S actual: N",
    );

    let err = client
        .get_item()
        .table_name("keys")
        .key("p", s("k"))
        .send()
        .await
        .expect_err("partial key");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "The provided key element does not match the schema",
    );

    let err = client
        .get_item()
        .table_name("keys")
        .key("p", s("k"))
        .key("c", s("x"))
        .key("extra", s("y"))
        .send()
        .await
        .expect_err("extra key attribute");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "The provided key element does not match the schema",
    );

    let err = client
        .put_item()
        .table_name("keys")
        .item("p", s(""))
        .item("c", s("x"))
        .send()
        .await
        .expect_err("empty");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "cannot contain an empty string value",
    );

    let err = client
        .put_item()
        .table_name("keys")
        .item("p", s(&"x".repeat(2049)))
        .item("c", s("x"))
        .send()
        .await
        .expect_err("hash key too large");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "exceeded the maximum size limit of2048 bytes",
    );

    let err = client
        .put_item()
        .table_name("keys")
        .item("p", s("x"))
        .item("c", s(&"y".repeat(1025)))
        .send()
        .await
        .expect_err("sort key too large");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "exceeded the size limit of 1024 bytes",
    );

    let err = client
        .get_item()
        .table_name("nope")
        .key("p", s("k"))
        .send()
        .await
        .expect_err("no table");
    assert_error(
        &err.into_service_error(),
        "ResourceNotFoundException",
        "Requested resource not found",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn item_limits_are_enforced() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "limits").await;
    // Just under 400 KB works.
    client
        .put_item()
        .table_name("limits")
        .item("p", s("big"))
        .item("v", s(&"x".repeat(400 * 1024 - 10)))
        .send()
        .await
        .expect("large item");
    let err = client
        .put_item()
        .table_name("limits")
        .item("p", s("huge"))
        .item("v", s(&"x".repeat(400 * 1024)))
        .send()
        .await
        .expect_err("too large");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "Item size has exceeded the maximum allowed size",
    );

    let mut deep = s("leaf");
    for _ in 0..33 {
        deep = Av::M([("m".to_owned(), deep)].into());
    }
    let err = client
        .put_item()
        .table_name("limits")
        .item("p", s("deep"))
        .item("v", deep)
        .send()
        .await
        .expect_err("deep");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "Nesting Levels have exceeded supported limits",
    );

    let err = client
        .put_item()
        .table_name("limits")
        .item("p", s("set"))
        .item("v", Av::Ss(vec!["a".into(), "a".into()]))
        .send()
        .await
        .expect_err("duplicate set member");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "contains duplicates",
    );

    let err = client
        .put_item()
        .table_name("limits")
        .item("p", s("n"))
        .item("v", n("1e126"))
        .send()
        .await
        .expect_err("overflow");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "Number overflow",
    );

    let err = client
        .put_item()
        .table_name("limits")
        .item("p", s("n"))
        .item("v", n("abc"))
        .send()
        .await
        .expect_err("nan");
    assert_error(
        &err.into_service_error(),
        "ValidationException",
        "The parameter cannot be converted to a numeric value",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn get_item_projects_top_level_attributes() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "proj").await;
    client
        .put_item()
        .table_name("proj")
        .item("p", s("k"))
        .item("a", n("1"))
        .item("b", n("2"))
        .item("c", n("3"))
        .send()
        .await
        .expect("put");
    let got = client
        .get_item()
        .table_name("proj")
        .key("p", s("k"))
        .projection_expression("a, #c")
        .expression_attribute_names("#c", "c")
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert_eq!(
        got,
        [("a".to_owned(), n("1")), ("c".to_owned(), n("3"))].into()
    );
    let got = client
        .get_item()
        .table_name("proj")
        .key("p", s("k"))
        .attributes_to_get("b")
        .consistent_read(true)
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert_eq!(got, [("b".to_owned(), n("2"))].into());
}

#[tokio::test(flavor = "multi_thread")]
async fn items_survive_a_restart_and_counts_are_kept() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "restart").await;
    for i in 0..50 {
        client
            .put_item()
            .table_name("restart")
            .item("p", s(&format!("k{i}")))
            .item("v", n(i.to_string()))
            .send()
            .await
            .expect("put");
    }
    client
        .delete_item()
        .table_name("restart")
        .key("p", s("k0"))
        .send()
        .await
        .expect("delete");
    let dir = server.stop().await;
    let server = TestStore::start_in(dir).await;
    let client = server.client();
    let got = client
        .get_item()
        .table_name("restart")
        .key("p", s("k49"))
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert_eq!(got.get("v"), Some(&n("49")));
    let table = client
        .describe_table()
        .table_name("restart")
        .send()
        .await
        .expect("describe")
        .table
        .expect("table");
    assert_eq!(table.item_count, Some(49));
    assert!(table.table_size_bytes.unwrap_or(0) > 0);
}

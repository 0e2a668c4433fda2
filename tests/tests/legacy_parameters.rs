//! The parameters that predate expressions, through the AWS SDK: Expected
//! (Exists, Value, ComparisonOperator with AttributeValueList) combined with
//! ConditionalOperator, AttributeUpdates (PUT, ADD, DELETE), AttributesToGet,
//! and the error for mixing them with expression parameters.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeAction, AttributeValue as Av, AttributeValueUpdate, ComparisonOperator,
    ConditionalOperator, ExpectedAttributeValue,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{
    assert_validation, b, create_table, item, items::get_consistent, items::put, l, m, n, ns, s,
    ss, values::sorted, Item, TestStore,
};

const T: &str = "legacy";

/// Table `legacy` with item `k`.
async fn fixture() -> (TestStore, Client) {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, T).await;
    put(
        &client,
        T,
        item([
            ("p", s("k")),
            ("num", n("5")),
            ("txt", s("hello")),
            ("bin", b(b"hi there")),
            ("tags", ss(&["red", "green"])),
            ("nums", ns(&["1", "2"])),
            ("seq", l(vec![n("2"), s("dog")])),
            ("doc", m([("x", n("1"))])),
        ]),
    )
    .await;
    (server, client)
}

fn exists(yes: bool) -> ExpectedAttributeValue {
    ExpectedAttributeValue::builder().exists(yes).build()
}

fn value(v: Av) -> ExpectedAttributeValue {
    ExpectedAttributeValue::builder().value(v).build()
}

fn compare(op: ComparisonOperator, args: Vec<Av>) -> ExpectedAttributeValue {
    ExpectedAttributeValue::builder()
        .comparison_operator(op)
        .set_attribute_value_list(Some(args))
        .build()
}

/// Whether `expected` (joined by `op`) holds for item `k`, tested by a
/// legacy update that sets nothing new.
async fn holds(
    client: &Client,
    expected: Vec<(&str, ExpectedAttributeValue)>,
    op: Option<ConditionalOperator>,
) -> Result<bool, UpdateItemError> {
    let mut req = client
        .update_item()
        .table_name(T)
        .key("p", s("k"))
        .attribute_updates(
            "probe",
            AttributeValueUpdate::builder()
                .action(AttributeAction::Delete)
                .build(),
        )
        .set_conditional_operator(op);
    for (k, v) in expected {
        req = req.expected(k, v);
    }
    match req.send().await {
        Ok(_) => Ok(true),
        Err(e) => match e.into_service_error() {
            UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
            other => Err(other),
        },
    }
}

async fn check(client: &Client, attr: &str, expected: ExpectedAttributeValue) -> bool {
    let shown = format!("{attr} {expected:?}");
    holds(client, vec![(attr, expected)], None)
        .await
        .unwrap_or_else(|e| panic!("{shown}: {e:?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn expected_exists_and_value() {
    let (_server, client) = fixture().await;
    assert!(check(&client, "absent", exists(false)).await);
    assert!(!check(&client, "num", exists(false)).await);
    // Value alone, or with Exists true, is an equality test.
    assert!(check(&client, "num", value(n("5.0"))).await);
    assert!(!check(&client, "num", value(n("6"))).await);
    assert!(!check(&client, "num", value(s("5"))).await);
    let with_value = ExpectedAttributeValue::builder()
        .exists(true)
        .value(s("hello"))
        .build();
    assert!(check(&client, "txt", with_value).await);
    assert!(!check(&client, "absent", value(s("x"))).await);

    let err = holds(&client, vec![("num", exists(true))], None)
        .await
        .expect_err("Exists true needs a Value");
    assert_validation(
        &err,
        "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: num",
    );
    let clash = ExpectedAttributeValue::builder()
        .exists(false)
        .value(n("5"))
        .build();
    let err = holds(&client, vec![("num", clash)], None)
        .await
        .expect_err("Exists false with a Value");
    assert_validation(
        &err,
        "One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: num",
    );
    let clash = ExpectedAttributeValue::builder()
        .value(n("5"))
        .comparison_operator(ComparisonOperator::Eq)
        .attribute_value_list(n("5"))
        .build();
    let err = holds(&client, vec![("num", clash)], None)
        .await
        .expect_err("Value with AttributeValueList");
    assert_validation(
        &err,
        "One or more parameter values were invalid: Value and AttributeValueList cannot be used together for Attribute: num",
    );
    let alone = ExpectedAttributeValue::builder()
        .comparison_operator(ComparisonOperator::Lt)
        .build();
    let err = holds(&client, vec![("num", alone)], None)
        .await
        .expect_err("operator without arguments");
    assert_validation(
        &err,
        "One or more parameter values were invalid: Value or AttributeValueList must be used with ComparisonOperator: LT for Attribute: num",
    );
    let clash = ExpectedAttributeValue::builder()
        .exists(true)
        .comparison_operator(ComparisonOperator::Lt)
        .build();
    let err = holds(&client, vec![("num", clash)], None)
        .await
        .expect_err("Exists with ComparisonOperator");
    assert_validation(
        &err,
        "One or more parameter values were invalid: Exists and ComparisonOperator cannot be used together for Attribute: num",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expected_comparison_operators() {
    use ComparisonOperator as Op;
    let (_server, client) = fixture().await;
    let cases = [
        ("num", Op::Eq, vec![n("5")], true),
        ("num", Op::Eq, vec![s("5")], false),
        ("num", Op::Ne, vec![n("5")], false),
        ("num", Op::Ne, vec![s("5")], true),
        ("absent", Op::Ne, vec![n("5")], true),
        ("num", Op::Lt, vec![n("6")], true),
        ("num", Op::Lt, vec![n("5")], false),
        ("num", Op::Le, vec![n("5")], true),
        ("num", Op::Gt, vec![n("4")], true),
        ("num", Op::Gt, vec![n("5")], false),
        ("num", Op::Ge, vec![n("5")], true),
        ("txt", Op::Lt, vec![s("help")], true),
        ("bin", Op::Gt, vec![b(b"hi")], true),
        // A different type is false, not an error.
        ("txt", Op::Lt, vec![n("1")], false),
        // NULL and NOT_NULL test existence, not the NULL type.
        ("num", Op::NotNull, vec![], true),
        ("absent", Op::NotNull, vec![], false),
        ("absent", Op::Null, vec![], true),
        ("num", Op::Null, vec![], false),
        ("txt", Op::Contains, vec![s("ell")], true),
        ("tags", Op::Contains, vec![s("red")], true),
        ("nums", Op::Contains, vec![n("3")], false),
        ("bin", Op::Contains, vec![b(b"there")], true),
        ("tags", Op::NotContains, vec![s("blue")], true),
        ("txt", Op::NotContains, vec![s("ell")], false),
        ("txt", Op::BeginsWith, vec![s("he")], true),
        ("txt", Op::BeginsWith, vec![s("lo")], false),
        ("num", Op::In, vec![n("1"), n("5")], true),
        ("num", Op::In, vec![n("1"), n("2")], false),
        ("num", Op::Between, vec![n("5"), n("9")], true),
        ("num", Op::Between, vec![n("6"), n("9")], false),
        ("txt", Op::Between, vec![s("a"), s("i")], true),
    ];
    for (attr, op, args, want) in cases {
        let shown = format!("{attr} {op:?} {args:?}");
        assert_eq!(
            check(&client, attr, compare(op, args)).await,
            want,
            "{shown}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn expected_operator_arguments_are_validated() {
    use ComparisonOperator as Op;
    let (_server, client) = fixture().await;
    for (op, args, message) in [
        (
            Op::Eq,
            vec![],
            "One or more parameter values were invalid: Invalid number of argument(s) for the EQ ComparisonOperator",
        ),
        (
            Op::Between,
            vec![n("1")],
            "One or more parameter values were invalid: Invalid number of argument(s) for the BETWEEN ComparisonOperator",
        ),
        (
            Op::NotNull,
            vec![n("1")],
            "One or more parameter values were invalid: Invalid number of argument(s) for the NOT_NULL ComparisonOperator",
        ),
        (
            Op::Lt,
            vec![l(vec![])],
            "One or more parameter values were invalid: ComparisonOperator LT is not valid for L AttributeValue type",
        ),
        (
            Op::In,
            vec![s("b"), n("1")],
            "One or more parameter values were invalid: AttributeValues inside AttributeValueList must be of same type",
        ),
        (
            Op::Between,
            vec![n("9"), n("1")],
            "The BETWEEN condition was provided a range where the lower bound is greater than the upper bound",
        ),
    ] {
        let err = holds(&client, vec![("num", compare(op.clone(), args))], None)
            .await
            .expect_err(message);
        assert_validation(&err, message);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn conditional_operator_joins_expected_conditions() {
    let (_server, client) = fixture().await;
    let one_true = || vec![("num", value(n("5"))), ("txt", value(s("nope")))];
    let all_true = || vec![("num", value(n("5"))), ("txt", value(s("hello")))];
    let none_true = || vec![("num", value(n("6"))), ("txt", exists(false))];
    for (expected, op, want) in [
        (one_true(), None, false),
        (one_true(), Some(ConditionalOperator::And), false),
        (all_true(), Some(ConditionalOperator::And), true),
        (one_true(), Some(ConditionalOperator::Or), true),
        (none_true(), Some(ConditionalOperator::Or), false),
    ] {
        let shown = format!("{expected:?} {op:?}");
        assert_eq!(
            holds(&client, expected, op).await.expect(&shown),
            want,
            "{shown}"
        );
    }
    let err = holds(&client, vec![], Some(ConditionalOperator::Or))
        .await
        .expect_err("operator without Expected");
    assert_validation(
        &err,
        "ConditionalOperator cannot be used without Filter or Expected",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn expected_guards_put_and_delete() {
    let (_server, client) = fixture().await;
    let err = client
        .put_item()
        .table_name(T)
        .item("p", s("k"))
        .expected("p", exists(false))
        .send()
        .await
        .expect_err("item exists")
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception(), "{err:?}");
    let err = client
        .delete_item()
        .table_name(T)
        .key("p", s("k"))
        .expected("num", value(n("6")))
        .send()
        .await
        .expect_err("num is 5")
        .into_service_error();
    assert!(err.is_conditional_check_failed_exception(), "{err:?}");
    client
        .delete_item()
        .table_name(T)
        .key("p", s("k"))
        .expected("num", value(n("5")))
        .send()
        .await
        .expect("num is 5");
    assert_eq!(get_consistent(&client, T, "k").await, None);
}

fn action(a: AttributeAction, v: Option<Av>) -> AttributeValueUpdate {
    AttributeValueUpdate::builder()
        .action(a)
        .set_value(v)
        .build()
}

async fn legacy_update(
    client: &Client,
    key: &str,
    updates: Vec<(&str, AttributeValueUpdate)>,
) -> Result<(), UpdateItemError> {
    let mut req = client.update_item().table_name(T).key("p", s(key));
    for (k, v) in updates {
        req = req.attribute_updates(k, v);
    }
    req.send()
        .await
        .map(|_| ())
        .map_err(|e| e.into_service_error())
}

#[tokio::test(flavor = "multi_thread")]
async fn attribute_updates_put_add_and_delete() {
    use AttributeAction as A;
    let (_server, client) = fixture().await;
    legacy_update(
        &client,
        "k",
        vec![
            ("txt", action(A::Put, Some(s("bye")))),
            ("num", action(A::Add, Some(n("-7.5")))),
            ("fresh", action(A::Add, Some(n("3")))),
            ("tags", action(A::Add, Some(ss(&["blue", "red"])))),
            ("newset", action(A::Add, Some(ns(&["4"])))),
            ("nums", action(A::Delete, Some(ns(&["1", "2"])))),
            ("seq", action(A::Delete, None)),
            ("absent", action(A::Delete, None)),
        ],
    )
    .await
    .expect("legacy update");
    let got = get_consistent(&client, T, "k").await.expect("item");
    let want: Item = item([
        ("p", s("k")),
        ("num", n("-2.5")),
        ("txt", s("bye")),
        ("bin", b(b"hi there")),
        ("tags", ss(&["blue", "green", "red"])),
        ("doc", m([("x", n("1"))])),
        ("fresh", n("3")),
        ("newset", ns(&["4"])),
    ]);
    let got: Item = got.into_iter().map(|(k, v)| (k, sorted(v))).collect();
    assert_eq!(got, want);

    // PUT is the default action; a missing item is created.
    let put_default = AttributeValueUpdate::builder().value(n("1")).build();
    legacy_update(&client, "new", vec![("a", put_default)])
        .await
        .expect("upsert");
    assert_eq!(
        get_consistent(&client, T, "new").await,
        Some(item([("p", s("new")), ("a", n("1"))]))
    );

    for (updates, message) in [
        (
            vec![("a", action(A::Put, None))],
            "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified",
        ),
        (
            vec![("txt", action(A::Add, Some(s("x"))))],
            "One or more parameter values were invalid: ADD action is not supported for the type S",
        ),
        (
            vec![("txt", action(A::Delete, Some(s("x"))))],
            "One or more parameter values were invalid: DELETE action with value is not supported for the type S",
        ),
        (
            vec![("p", action(A::Put, Some(s("x"))))],
            "One or more parameter values were invalid: Cannot update attribute p. This attribute is part of the key",
        ),
    ] {
        let err = legacy_update(&client, "k", updates).await.expect_err(message);
        assert_validation(&err, message);
    }
    // ADD to an attribute of another type.
    let err = legacy_update(&client, "k", vec![("txt", action(A::Add, Some(n("1"))))])
        .await
        .expect_err("ADD number to string");
    assert_validation(&err, "Type mismatch for attribute to update");
}

#[tokio::test(flavor = "multi_thread")]
async fn attributes_to_get_selects_top_level_attributes() {
    let (_server, client) = fixture().await;
    let got = client
        .get_item()
        .table_name(T)
        .key("p", s("k"))
        .attributes_to_get("num")
        .attributes_to_get("doc")
        .attributes_to_get("absent")
        .send()
        .await
        .expect("get")
        .item;
    assert_eq!(
        got,
        Some(item([("num", n("5")), ("doc", m([("x", n("1"))]))]))
    );
    // Names are taken literally: no paths, no reserved words.
    let got = client
        .get_item()
        .table_name(T)
        .key("p", s("k"))
        .attributes_to_get("doc.x")
        .attributes_to_get("Size")
        .send()
        .await
        .expect("get")
        .item;
    assert_eq!(got, Some(item([])));
    let err = client
        .get_item()
        .table_name(T)
        .key("p", s("k"))
        .attributes_to_get("num")
        .attributes_to_get("num")
        .send()
        .await
        .expect_err("duplicate")
        .into_service_error();
    assert_validation(
        &err,
        "One or more parameter values were invalid: Duplicate value in attribute name: num",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_and_expression_parameters_do_not_mix() {
    let (_server, client) = fixture().await;
    let mixed = |legacy: &str, expression: &str| {
        format!("Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{legacy}}} Expression parameters: {{{expression}}}")
    };
    let err = client
        .put_item()
        .table_name(T)
        .item("p", s("k"))
        .expected("num", exists(false))
        .condition_expression("attribute_not_exists(num)")
        .send()
        .await
        .expect_err("mixed")
        .into_service_error();
    assert_validation(&err, &mixed("Expected", "ConditionExpression"));
    let err = client
        .update_item()
        .table_name(T)
        .key("p", s("k"))
        .expected("num", value(n("5")))
        .update_expression("SET a = :v")
        .expression_attribute_values(":v", n("1"))
        .send()
        .await
        .expect_err("mixed")
        .into_service_error();
    assert_validation(&err, &mixed("Expected", "UpdateExpression"));
    let err = client
        .update_item()
        .table_name(T)
        .key("p", s("k"))
        .attribute_updates("a", action(AttributeAction::Put, Some(n("1"))))
        .update_expression("SET a = :v")
        .expression_attribute_values(":v", n("1"))
        .send()
        .await
        .expect_err("mixed")
        .into_service_error();
    assert_validation(&err, &mixed("AttributeUpdates", "UpdateExpression"));
    let err = client
        .get_item()
        .table_name(T)
        .key("p", s("k"))
        .attributes_to_get("num")
        .projection_expression("num")
        .send()
        .await
        .expect_err("mixed")
        .into_service_error();
    assert_validation(&err, &mixed("AttributesToGet", "ProjectionExpression"));
    let err = client
        .delete_item()
        .table_name(T)
        .key("p", s("k"))
        .conditional_operator(ConditionalOperator::Or)
        .condition_expression("attribute_exists(num)")
        .send()
        .await
        .expect_err("mixed")
        .into_service_error();
    assert_validation(&err, &mixed("ConditionalOperator", "ConditionExpression"));
    // Nothing above changed the item.
    assert_eq!(
        get_consistent(&client, T, "k")
            .await
            .and_then(|i| i.get("num").cloned()),
        Some(n("5"))
    );
}

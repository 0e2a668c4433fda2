//! ConditionExpression through the AWS SDK: every comparator, BETWEEN, IN,
//! the boolean operators and their precedence, every function, nested
//! document paths, comparisons across types, ReturnValuesOnConditionCheckFailure,
//! and DynamoDB's ValidationException messages for malformed expressions.
//!
//! Conditions are evaluated by a conditional UpdateItem whose update
//! (`REMOVE zz_probe`) changes nothing, so one stored item serves many checks.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue as Av, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{
    assert_error, assert_validation, b, bs, create_table, item, items::get_consistent, items::put,
    l, m, n, ns, s, ss, TestStore,
};

const T: &str = "cond";

/// A server with table `cond` holding one item `p = "k"` with an attribute
/// of every type.
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
            ("nums", ns(&["1", "2", "3"])),
            ("bins", bs(&[b"\x01", b"\xff"])),
            ("flag", Av::Bool(true)),
            ("nil", Av::Null(true)),
            ("seq", l(vec![n("2"), s("dog"), n("7")])),
            (
                "doc",
                m([
                    ("x", n("1")),
                    (
                        "arr",
                        l(vec![n("0"), n("1"), m([("c", s("deep")), ("d", n("4"))])]),
                    ),
                ]),
            ),
        ]),
    )
    .await;
    (server, client)
}

/// Whether `cond` holds for item `k`: `Ok(false)` on
/// ConditionalCheckFailedException, `Err` on any other error.
async fn holds(
    client: &Client,
    cond: &str,
    names: &[(&str, &str)],
    values: &[(&str, Av)],
) -> Result<bool, UpdateItemError> {
    holds_on(client, "k", cond, names, values).await
}

/// `holds` for the item under `key`.
async fn holds_on(
    client: &Client,
    key: &str,
    cond: &str,
    names: &[(&str, &str)],
    values: &[(&str, Av)],
) -> Result<bool, UpdateItemError> {
    let mut req = client
        .update_item()
        .table_name(T)
        .key("p", s(key))
        .update_expression("REMOVE zz_probe")
        .condition_expression(cond);
    for (k, v) in names {
        req = req.expression_attribute_names(*k, *v);
    }
    for (k, v) in values {
        req = req.expression_attribute_values(*k, v.clone());
    }
    match req.send().await {
        Ok(_) => Ok(true),
        Err(e) => match e.into_service_error() {
            UpdateItemError::ConditionalCheckFailedException(_) => Ok(false),
            other => Err(other),
        },
    }
}

/// `holds` with values only, expecting no error.
async fn check(client: &Client, cond: &str, values: &[(&str, Av)]) -> bool {
    holds(client, cond, &[], values)
        .await
        .unwrap_or_else(|e| panic!("{cond}: unexpected error {e:?}"))
}

/// The ValidationException message `cond` is rejected with.
async fn rejected(
    client: &Client,
    cond: &str,
    names: &[(&str, &str)],
    values: &[(&str, Av)],
) -> UpdateItemError {
    match holds(client, cond, names, values).await {
        Ok(held) => panic!("{cond}: accepted (held: {held})"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn each_comparator_orders_numbers_strings_and_binaries() {
    let (_server, client) = fixture().await;
    // (operator, [result against a smaller, equal, larger operand])
    let table = [
        ("=", [false, true, false]),
        ("<>", [true, false, true]),
        ("<", [false, false, true]),
        ("<=", [false, true, true]),
        (">", [true, false, false]),
        (">=", [true, true, false]),
    ];
    let operands = [
        ("num", [n("4.99"), n("5.0"), n("1e1")]),
        ("txt", [s("hell"), s("hello"), s("help")]),
        // Binary compares as unsigned bytes: 0xff sorts after 'h'.
        ("bin", [b(b"hi"), b(b"hi there"), b(b"\xff")]),
    ];
    for (op, expected) in table {
        for (attr, values) in &operands {
            for (value, want) in values.iter().zip(expected) {
                let cond = format!("{attr} {op} :v");
                assert_eq!(
                    check(&client, &cond, &[(":v", value.clone())]).await,
                    want,
                    "{cond} with {value:?}"
                );
            }
        }
    }
    // Both operands may be paths; the value may come first.
    assert!(check(&client, "doc.x < num", &[]).await);
    assert!(check(&client, ":v > num", &[(":v", n("6"))]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn equality_compares_sets_lists_and_maps_by_value() {
    let (_server, client) = fixture().await;
    // Set equality ignores order.
    assert!(check(&client, "tags = :v", &[(":v", ss(&["green", "red"]))]).await);
    assert!(check(&client, "nums = :v", &[(":v", ns(&["3", "2.0", "1"]))]).await);
    assert!(!check(&client, "nums = :v", &[(":v", ns(&["1", "2"]))]).await);
    assert!(
        check(
            &client,
            "seq = :v",
            &[(":v", l(vec![n("2"), s("dog"), n("7")]))]
        )
        .await
    );
    assert!(
        !check(
            &client,
            "seq = :v",
            &[(":v", l(vec![n("7"), s("dog"), n("2")]))]
        )
        .await
    );
    assert!(
        check(
            &client,
            "doc.arr[2] = :v",
            &[(":v", m([("d", n("4")), ("c", s("deep"))]))]
        )
        .await
    );
    assert!(check(&client, "flag = :v", &[(":v", Av::Bool(true))]).await);
    assert!(check(&client, "nil = :v", &[(":v", Av::Null(true))]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn comparison_across_types_is_false_not_an_error() {
    let (_server, client) = fixture().await;
    for op in ["=", "<", "<=", ">", ">="] {
        let cond = format!("num {op} :v");
        assert!(!check(&client, &cond, &[(":v", s("5"))]).await, "{cond}");
        // Ordering is defined only for numbers, strings and binaries; a list
        // in the item simply fails the comparison…
        let cond = format!("seq {op} :v");
        assert!(!check(&client, &cond, &[(":v", n("1"))]).await, "{cond}");
    }
    // …while a list in the request is rejected up front.
    let err = rejected(&client, "num < :v", &[], &[(":v", l(vec![n("1")]))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: <, operand type: L",
    );
    // Values of different types are simply unequal.
    assert!(check(&client, "num <> :v", &[(":v", s("5"))]).await);
    // A missing attribute compares false with everything but `<>`, even with
    // another missing attribute.
    assert!(!check(&client, "absent = :v", &[(":v", n("5"))]).await);
    assert!(!check(&client, "absent < :v", &[(":v", n("5"))]).await);
    assert!(check(&client, "absent <> :v", &[(":v", n("5"))]).await);
    assert!(!check(&client, "absent = other_absent", &[]).await);
    assert!(check(&client, "absent <> other_absent", &[]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn between_is_inclusive_and_checks_its_bounds() {
    let (_server, client) = fixture().await;
    let between = "num BETWEEN :lo AND :hi";
    for (lo, hi, want) in [
        ("1", "9", true),
        ("5", "5", true),
        ("6", "9", false),
        ("1", "4", false),
    ] {
        assert_eq!(
            check(&client, between, &[(":lo", n(lo)), (":hi", n(hi))]).await,
            want,
            "{lo}..{hi}"
        );
    }
    assert!(
        check(
            &client,
            "txt BETWEEN :lo AND :hi",
            &[(":lo", s("a")), (":hi", s("i"))]
        )
        .await
    );
    // A value of another type is outside the range, not an error.
    assert!(
        !check(
            &client,
            "txt BETWEEN :lo AND :hi",
            &[(":lo", n("1")), (":hi", n("9"))]
        )
        .await
    );
    // Bounds read from the item are not checked up front.
    assert!(!check(&client, "num BETWEEN absent AND :hi", &[(":hi", n("9"))]).await);

    let err = rejected(&client, between, &[], &[(":lo", n("9")), (":hi", n("1"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {N:9}, upper bound operand: AttributeValue: {N:1}",
    );
    let err = rejected(&client, between, &[], &[(":lo", n("1")), (":hi", s("9"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: The BETWEEN operator requires same data type for lower and upper bounds; lower bound operand: AttributeValue: {N:1}, upper bound operand: AttributeValue: {S:9}",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn in_matches_any_listed_value() {
    let (_server, client) = fixture().await;
    let values = [(":a", n("1")), (":b", n("5")), (":c", s("5"))];
    assert!(check(&client, "num IN (:a, :b, :c)", &values).await);
    assert!(
        !check(
            &client,
            "num IN (:a, :c)",
            &[(":a", n("1")), (":c", s("5"))]
        )
        .await
    );
    assert!(check(&client, "num IN (:a)", &[(":a", n("5.00"))]).await);
    assert!(check(&client, "txt IN (:a, txt)", &[(":a", n("0"))]).await);
    assert!(!check(&client, "absent IN (:a)", &[(":a", n("5"))]).await);

    // IN takes at most 100 operands, the left-hand one included.
    let placeholders: Vec<String> = (0..100).map(|i| format!(":v{i}")).collect();
    let values: Vec<(&str, Av)> = placeholders.iter().map(|p| (p.as_str(), n("1"))).collect();
    let cond = format!("num IN ({})", placeholders.join(", "));
    let err = rejected(&client, &cond, &[], &values).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: The IN operator is provided with too many operands; number of operands: 101",
    );
    let cond = format!("num IN ({})", placeholders[..99].join(", "));
    assert!(!check(&client, &cond, &values[..99]).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn and_or_not_follow_precedence_and_parentheses() {
    let (_server, client) = fixture().await;
    let vals = [(":t", n("5")), (":f", n("6"))];
    // Truth of `num = :t` is true and `num = :f` is false.
    let cases = [
        // AND binds tighter than OR: true OR (false AND false).
        ("num = :t OR num = :f AND num = :f", true),
        ("(num = :t OR num = :f) AND num = :f", false),
        // NOT binds tighter than AND and OR: (NOT true) AND false, and
        // (NOT true) OR (5 <> 6).
        ("NOT num = :t AND num = :f", false),
        ("NOT (num = :t AND num = :f)", true),
        ("NOT num = :t OR num <> :f", true),
        ("NOT (num = :t OR num <> :f)", false),
        // BETWEEN's AND is not the boolean AND.
        ("num BETWEEN :t AND :f AND num = :t", true),
        ("num = :f or num = :t", true),
        ("num = :t and not num = :f", true),
        ("(num = :t) AND (num = :f OR num = :t)", true),
    ];
    for (cond, want) in cases {
        assert_eq!(check(&client, cond, &vals).await, want, "{cond}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn attribute_exists_and_not_exists_follow_nested_paths() {
    let (_server, client) = fixture().await;
    for (path, exists) in [
        ("num", true),
        ("nil", true),
        ("absent", false),
        ("doc.x", true),
        ("doc.y", false),
        ("doc.arr[2].c", true),
        ("doc.arr[3]", false),
        ("doc.arr[2].c.z", false),
        ("num.x", false),
        ("seq[0]", true),
    ] {
        assert_eq!(
            check(&client, &format!("attribute_exists({path})"), &[]).await,
            exists,
            "{path}"
        );
        assert_eq!(
            check(&client, &format!("attribute_not_exists({path})"), &[]).await,
            !exists,
            "{path}"
        );
    }
    // On a missing item every attribute is absent.
    let out = client
        .update_item()
        .table_name(T)
        .key("p", s("nothing here"))
        .update_expression("REMOVE zz_probe")
        .condition_expression("attribute_exists(p)")
        .send()
        .await
        .expect_err("no item");
    assert!(out
        .into_service_error()
        .is_conditional_check_failed_exception());
    // …and a failed condition does not create it.
    assert_eq!(get_consistent(&client, T, "nothing here").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn attribute_type_recognises_every_type() {
    let (_server, client) = fixture().await;
    let attrs = [
        ("num", "N"),
        ("txt", "S"),
        ("bin", "B"),
        ("tags", "SS"),
        ("nums", "NS"),
        ("bins", "BS"),
        ("flag", "BOOL"),
        ("nil", "NULL"),
        ("seq", "L"),
        ("doc", "M"),
    ];
    for (attr, ty) in attrs {
        for (_, other) in attrs {
            let want = other == ty;
            let cond = format!("attribute_type({attr}, :t)");
            assert_eq!(
                check(&client, &cond, &[(":t", s(other))]).await,
                want,
                "{attr} {other}"
            );
        }
    }
    assert!(
        check(
            &client,
            "attribute_type(doc.arr[2].c, :t)",
            &[(":t", s("S"))]
        )
        .await
    );
    assert!(!check(&client, "attribute_type(absent, :t)", &[(":t", s("S"))]).await);

    let err = rejected(&client, "attribute_type(num, :t)", &[], &[(":t", s("DOG"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: Invalid attribute type name found; type: DOG, valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn begins_with_matches_string_and_binary_prefixes() {
    let (_server, client) = fixture().await;
    assert!(check(&client, "begins_with(txt, :v)", &[(":v", s("hel"))]).await);
    assert!(check(&client, "begins_with(txt, :v)", &[(":v", s("hello"))]).await);
    assert!(!check(&client, "begins_with(txt, :v)", &[(":v", s("help"))]).await);
    assert!(check(&client, "begins_with(bin, :v)", &[(":v", b(b"hi "))]).await);
    assert!(!check(&client, "begins_with(bin, :v)", &[(":v", s("hi"))]).await);
    assert!(check(&client, "begins_with(doc.arr[2].c, :v)", &[(":v", s("de"))]).await);
    // A non-string attribute in the item is a false condition…
    assert!(!check(&client, "begins_with(num, :v)", &[(":v", s("5"))]).await);
    assert!(!check(&client, "begins_with(absent, :v)", &[(":v", s("5"))]).await);
    // …but a non-string value in the request is an error.
    let err = rejected(&client, "begins_with(txt, :v)", &[], &[(":v", n("5"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn contains_finds_substrings_set_members_and_list_elements() {
    let (_server, client) = fixture().await;
    let cases = [
        ("txt", s("ell"), true),
        ("txt", s("hex"), false),
        ("bin", b(b"there"), true),
        ("tags", s("red"), true),
        ("tags", s("blue"), false),
        ("nums", n("2.0"), true),
        ("nums", n("4"), false),
        ("bins", b(b"\xff"), true),
        ("seq", s("dog"), true),
        ("seq", n("7"), true),
        ("seq", s("7"), false),
        ("doc.arr", m([("c", s("deep")), ("d", n("4"))]), true),
        // Not a container: false, not an error.
        ("num", n("5"), false),
        ("absent", s("x"), false),
        // A set's member must match the set's type.
        ("nums", s("2"), false),
    ];
    for (path, value, want) in cases {
        let cond = format!("contains({path}, :v)");
        assert_eq!(
            check(&client, &cond, &[(":v", value.clone())]).await,
            want,
            "{cond} {value:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn size_measures_each_type() {
    let (_server, client) = fixture().await;
    for (path, size) in [
        ("txt", "5"),
        ("bin", "8"),
        ("tags", "2"),
        ("nums", "3"),
        ("bins", "2"),
        ("seq", "3"),
        ("doc", "2"),
        ("doc.arr", "3"),
        ("doc.arr[2].c", "4"),
    ] {
        let cond = format!("size({path}) = :n");
        assert!(
            check(&client, &cond, &[(":n", n(size))]).await,
            "{cond} {size}"
        );
        let cond = format!("size({path}) > :n");
        assert!(
            !check(&client, &cond, &[(":n", n(size))]).await,
            "{cond} {size}"
        );
    }
    // Numbers, booleans, nulls and missing attributes have no size: the
    // comparison is false rather than an error.
    for path in ["num", "flag", "nil", "absent"] {
        let cond = format!("size({path}) >= :n");
        assert!(!check(&client, &cond, &[(":n", n("0"))]).await, "{cond}");
    }
    // size() of a request value works, and a numeric one is an error.
    assert!(
        check(
            &client,
            "size(:v) = :n",
            &[(":v", s("abc")), (":n", n("3"))]
        )
        .await
    );
    let err = rejected(
        &client,
        "size(:v) = :n",
        &[],
        &[(":v", n("123")), (":n", n("3"))],
    )
    .await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: Incorrect operand type for operator or function; operator or function: size, operand type: N",
    );
    let err = rejected(&client, "size(txt)", &[], &[]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: The function is not allowed to be used this way in an expression; function: size",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_paths_and_names_reach_into_maps_and_lists() {
    let (_server, client) = fixture().await;
    assert!(check(&client, "doc.arr[2].c = :v", &[(":v", s("deep"))]).await);
    assert!(check(&client, "doc.arr[1] = :v", &[(":v", n("1"))]).await);
    assert!(!check(&client, "doc.arr[9] = :v", &[(":v", n("1"))]).await);
    // Indexing a map or dotting into a list finds nothing.
    assert!(!check(&client, "doc[0] = :v", &[(":v", n("1"))]).await);
    assert!(!check(&client, "doc.arr.c = :v", &[(":v", s("deep"))]).await);

    let names = [("#d", "doc"), ("#a", "arr"), ("#c", "c")];
    assert!(
        holds(&client, "#d.#a[2].#c = :v", &names, &[(":v", s("deep"))])
            .await
            .expect("ok")
    );
    // A name with a dot is one attribute, not a path.
    put(
        &client,
        T,
        item([("p", s("dots")), ("a.b", n("1")), ("a", m([("b", n("2"))]))]),
    )
    .await;
    let one = [(":one", n("1"))];
    assert!(
        holds_on(&client, "dots", "#ab = :one", &[("#ab", "a.b")], &one)
            .await
            .expect("one attribute")
    );
    assert!(!holds_on(
        &client,
        "dots",
        "#a.#b = :one",
        &[("#a", "a"), ("#b", "b")],
        &one
    )
    .await
    .expect("a path"));
    // A placeholder may be spelled like a reserved word.
    let names = [("#name", "txt")];
    assert!(holds(&client, "#name = :v", &names, &[(":v", s("hello"))])
        .await
        .expect("ok"));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_condition_returns_old_item_when_asked() {
    let (_server, client) = fixture().await;
    let stored = get_consistent(&client, T, "k").await.expect("item");

    let err = client
        .update_item()
        .table_name(T)
        .key("p", s("k"))
        .update_expression("SET num = :v")
        .condition_expression("num = :v")
        .expression_attribute_values(":v", n("6"))
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .expect_err("condition fails")
        .into_service_error();
    assert_error(
        &err,
        "ConditionalCheckFailedException",
        "The conditional request failed",
    );
    match err {
        UpdateItemError::ConditionalCheckFailedException(e) => {
            assert_eq!(e.item, Some(stored.clone()));
        }
        other => panic!("unexpected {other:?}"),
    }

    // Without ALL_OLD (NONE is the default) the item is not returned.
    for on_failure in [None, Some(ReturnValuesOnConditionCheckFailure::None)] {
        let err = client
            .delete_item()
            .table_name(T)
            .key("p", s("k"))
            .condition_expression("attribute_not_exists(num)")
            .set_return_values_on_condition_check_failure(on_failure)
            .send()
            .await
            .expect_err("condition fails")
            .into_service_error();
        match err {
            DeleteItemError::ConditionalCheckFailedException(e) => assert_eq!(e.item, None),
            other => panic!("unexpected {other:?}"),
        }
    }
    // With ALL_OLD but no item there is nothing to return.
    let err = client
        .delete_item()
        .table_name(T)
        .key("p", s("missing item"))
        .condition_expression("attribute_exists(num)")
        .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
        .send()
        .await
        .expect_err("condition fails")
        .into_service_error();
    match err {
        DeleteItemError::ConditionalCheckFailedException(e) => assert_eq!(e.item, None),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(get_consistent(&client, T, "k").await, Some(stored));
}

#[tokio::test(flavor = "multi_thread")]
async fn syntax_errors_name_the_offending_token() {
    let (_server, client) = fixture().await;
    for (cond, token) in [
        ("num = ", "<EOF>"),
        ("num == :v", "="),
        ("num = :v AND", "<EOF>"),
        ("num = :v )", ")"),
        ("num = :v :v", ":v"),
    ] {
        let err = rejected(&client, cond, &[], &[(":v", n("1"))]).await;
        assert_error(
            &err,
            "ValidationException",
            &format!(r#"Invalid ConditionExpression: Syntax error; token: "{token}", near: "#),
        );
    }
    let err = rejected(&client, "", &[], &[]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: The expression can not be empty;",
    );
    let err = rejected(&client, "((num = :v))", &[], &[(":v", n("1"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: The expression has redundant parentheses;",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn names_and_values_must_be_defined_and_used() {
    let (_server, client) = fixture().await;
    let err = rejected(&client, "#n = :v", &[], &[(":v", n("1"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #n",
    );
    let err = rejected(&client, "num = :v", &[], &[(":w", n("1"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v",
    );
    let err = rejected(&client, "num = :v", &[("#unused", "x")], &[(":v", n("1"))]).await;
    assert_validation(
        &err,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}",
    );
    let err = rejected(
        &client,
        "num = :v",
        &[],
        &[(":v", n("1")), (":extra", n("2"))],
    )
    .await;
    assert_validation(
        &err,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:extra}",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn reserved_words_need_a_name_placeholder() {
    let (_server, client) = fixture().await;
    let err = rejected(&client, "Name = :v", &[], &[(":v", s("x"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: Name",
    );
    let err = rejected(&client, "doc.counter = :v", &[], &[(":v", s("x"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: counter",
    );
    assert!(
        !holds(&client, "#n = :v", &[("#n", "Name")], &[(":v", s("x"))])
            .await
            .expect("placeholder accepted")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn functions_check_their_arity_and_context() {
    let (_server, client) = fixture().await;
    let cases = [
        (
            "attribute_exists(num, txt)",
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_exists, number of operands: 2",
        ),
        (
            "attribute_type(num)",
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: attribute_type, number of operands: 1",
        ),
        (
            "begins_with(txt)",
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: begins_with, number of operands: 1",
        ),
        (
            "size(txt, seq) = :v",
            "Invalid ConditionExpression: Incorrect number of operands for operator or function; operator or function: size, number of operands: 2",
        ),
        (
            "dog(txt) = :v",
            "Invalid ConditionExpression: Invalid function name; function: dog",
        ),
        (
            "if_not_exists(num, num) = :v",
            "Invalid ConditionExpression: The function is not allowed in a condition expression; function: if_not_exists",
        ),
    ];
    for (cond, message) in cases {
        let values = if cond.contains(":v") {
            vec![(":v", n("1"))]
        } else {
            vec![]
        };
        let err = rejected(&client, cond, &[], &values).await;
        assert_validation(&err, message);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn expressions_longer_than_4_kb_are_rejected() {
    let (_server, client) = fixture().await;
    // 4096 bytes is the limit; spaces count.
    let padding = " ".repeat(4096 - "num = :v".len());
    let at_limit = format!("num{padding} = :v");
    assert_eq!(at_limit.len(), 4096);
    assert!(check(&client, &at_limit, &[(":v", n("5"))]).await);
    let over = format!("num {padding} = :v");
    let err = rejected(&client, &over, &[], &[(":v", n("5"))]).await;
    assert_validation(
        &err,
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097",
    );
}

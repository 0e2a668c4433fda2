//! UpdateExpression through the AWS SDK: SET (arithmetic, if_not_exists,
//! list_append, nested paths, list indexes past the end), REMOVE (shifting
//! list elements), ADD and DELETE on numbers and sets, upserts, every
//! ReturnValues shape, and DynamoDB's ValidationException messages.

use aws_sdk_dynamodb::operation::update_item::{UpdateItemError, UpdateItemOutput};
use aws_sdk_dynamodb::types::{AttributeValue as Av, ReturnValue};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{
    assert_validation, create_table, item, items::get_consistent, items::put, l, m, n, ns, s, ss,
    values::sorted, Item, TestStore,
};

const T: &str = "upd";

async fn fixture() -> (TestStore, Client) {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, T).await;
    (server, client)
}

/// UpdateItem on `p = key` with `expr`, its values, and `ReturnValues`.
async fn update(
    client: &Client,
    key: &str,
    expr: &str,
    values: &[(&str, Av)],
    ret: Option<ReturnValue>,
) -> Result<UpdateItemOutput, UpdateItemError> {
    let mut req = client
        .update_item()
        .table_name(T)
        .key("p", s(key))
        .update_expression(expr)
        .set_return_values(ret);
    for (k, v) in values {
        req = req.expression_attribute_values(*k, v.clone());
    }
    req.send().await.map_err(|e| e.into_service_error())
}

/// Applies `expr` to a fresh copy of `start` and returns the stored result.
async fn applied(client: &Client, start: Item, expr: &str, values: &[(&str, Av)]) -> Item {
    let mut start = start;
    start.insert("p".into(), s("k"));
    put(client, T, start).await;
    update(client, "k", expr, values, None)
        .await
        .unwrap_or_else(|e| panic!("{expr}: {e:?}"));
    let mut got = get_consistent(client, T, "k").await.expect("item");
    got.remove("p");
    got
}

/// The ValidationException `expr` is rejected with, on item `start`.
async fn rejected(
    client: &Client,
    start: Item,
    expr: &str,
    values: &[(&str, Av)],
) -> UpdateItemError {
    let mut start = start;
    start.insert("p".into(), s("k"));
    put(client, T, start).await;
    let before = get_consistent(client, T, "k").await;
    let err = update(client, "k", expr, values, None)
        .await
        .expect_err(expr);
    // A rejected update changes nothing.
    assert_eq!(get_consistent(client, T, "k").await, before, "{expr}");
    err
}

#[tokio::test(flavor = "multi_thread")]
async fn set_computes_sums_and_differences() {
    let (_server, client) = fixture().await;
    let got = applied(
        &client,
        item([("a", n("10")), ("b", n("0.5"))]),
        "SET a = a + :one, b = b - :one, c = :one + :one, d = a - b",
        &[(":one", n("1"))],
    )
    .await;
    // Every right-hand side reads the item as it was before the update.
    assert_eq!(
        got,
        item([
            ("a", n("11")),
            ("b", n("-0.5")),
            ("c", n("2")),
            ("d", n("9.5"))
        ])
    );
    // Exact decimal arithmetic over DynamoDB's 38 digits.
    let got = applied(
        &client,
        item([("a", n("0.1"))]),
        "SET a = a + :v",
        &[(":v", n("0.2"))],
    )
    .await;
    assert_eq!(got, item([("a", n("0.3"))]));
    let got = applied(
        &client,
        item([("a", n("99999999999999999999999999999999999999"))]),
        "SET a = a - :v",
        &[(":v", n("99999999999999999999999999999999999998"))],
    )
    .await;
    assert_eq!(got, item([("a", n("1"))]));
}

#[tokio::test(flavor = "multi_thread")]
async fn if_not_exists_keeps_an_existing_value() {
    let (_server, client) = fixture().await;
    let got = applied(
        &client,
        item([("a", n("1"))]),
        "SET a = if_not_exists(a, :v), b = if_not_exists(b, :v), c = if_not_exists(b, :zero) + :v",
        &[(":v", n("7")), (":zero", n("0"))],
    )
    .await;
    assert_eq!(got, item([("a", n("1")), ("b", n("7")), ("c", n("7"))]));
    // The checked path and the target may differ, and may be nested.
    let got = applied(
        &client,
        item([("m1", m([("x", s("here"))]))]),
        "SET t1 = if_not_exists(m1.x, :v), t2 = if_not_exists(m1.y, :v)",
        &[(":v", s("default"))],
    )
    .await;
    assert_eq!(got.get("t1"), Some(&s("here")));
    assert_eq!(got.get("t2"), Some(&s("default")));
}

#[tokio::test(flavor = "multi_thread")]
async fn list_append_concatenates_in_order() {
    let (_server, client) = fixture().await;
    let got = applied(
        &client,
        item([("a", l(vec![n("2"), n("3")]))]),
        "SET a = list_append(:front, a), b = list_append(a, :back), c = list_append(if_not_exists(c, :empty), :back)",
        &[
            (":front", l(vec![n("1")])),
            (":back", l(vec![s("x"), s("y")])),
            (":empty", l(vec![])),
        ],
    )
    .await;
    assert_eq!(got.get("a"), Some(&l(vec![n("1"), n("2"), n("3")])));
    assert_eq!(got.get("b"), Some(&l(vec![n("2"), n("3"), s("x"), s("y")])));
    assert_eq!(got.get("c"), Some(&l(vec![s("x"), s("y")])));
}

#[tokio::test(flavor = "multi_thread")]
async fn set_reaches_into_nested_maps_and_lists() {
    let (_server, client) = fixture().await;
    let start = item([(
        "a",
        m([
            ("b", l(vec![n("0"), n("1"), m([("c", s("old"))])])),
            ("k", n("1")),
        ]),
    )]);
    let got = applied(
        &client,
        start,
        "SET a.b[2].c = :v, a.b[0] = :w",
        &[(":v", s("new")), (":w", n("9"))],
    )
    .await;
    assert_eq!(
        got.get("a"),
        Some(&m([
            ("b", l(vec![n("9"), n("1"), m([("c", s("new"))])])),
            ("k", n("1"))
        ]))
    );
    // Names work at every level, and a new map key is created.
    let out = client
        .update_item()
        .table_name(T)
        .key("p", s("k"))
        .update_expression("SET a.#n = a.k, a.b[1] = :v")
        .expression_attribute_names("#n", "fresh")
        .expression_attribute_values(":v", s("one"))
        .return_values(ReturnValue::AllNew)
        .send()
        .await
        .expect("update");
    let new = out.attributes.expect("all new");
    assert_eq!(
        new.get("a"),
        Some(&m([
            ("b", l(vec![n("9"), s("one"), m([("c", s("new"))])])),
            ("k", n("1")),
            ("fresh", n("1")),
        ]))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn set_past_the_end_of_a_list_appends_in_index_order() {
    let (_server, client) = fixture().await;
    let got = applied(
        &client,
        item([("a", l(vec![s("one"), s("two")]))]),
        "SET a[7] = :x",
        &[(":x", s("three"))],
    )
    .await;
    assert_eq!(got.get("a"), Some(&l(vec![s("one"), s("two"), s("three")])));
    let got = applied(
        &client,
        item([("a", l(vec![s("one")]))]),
        "SET a[90] = :z, a[20] = :x, a[50] = :y",
        &[(":x", s("x")), (":y", s("y")), (":z", s("z"))],
    )
    .await;
    assert_eq!(
        got.get("a"),
        Some(&l(vec![s("one"), s("x"), s("y"), s("z")]))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn remove_deletes_attributes_and_shifts_list_elements() {
    let (_server, client) = fixture().await;
    let got = applied(
        &client,
        item([
            ("a", n("1")),
            ("b", l(vec![n("0"), n("1"), n("2"), n("3"), n("4")])),
            ("c", m([("x", n("1")), ("y", n("2"))])),
        ]),
        "REMOVE a, b[1], b[3], c.x, nothing, b[17]",
        &[],
    )
    .await;
    // Indexes name positions in the list as it was before the update.
    assert_eq!(
        got,
        item([
            ("b", l(vec![n("0"), n("2"), n("4")])),
            ("c", m([("y", n("2"))]))
        ])
    );
    // Removing the last element leaves an empty list or map, not nothing.
    let got = applied(
        &client,
        item([("b", l(vec![n("0")])), ("c", m([("x", n("1"))]))]),
        "REMOVE b[0], c.x",
        &[],
    )
    .await;
    assert_eq!(got, item([("b", l(vec![])), ("c", m([]))]));
    // SET and REMOVE indexes in one update both refer to the old list.
    let got = applied(
        &client,
        item([("b", l(vec![n("2"), n("3"), n("4"), n("5"), n("6")]))]),
        "REMOVE b[1] SET b[3] = :v",
        &[(":v", n("17"))],
    )
    .await;
    assert_eq!(
        got.get("b"),
        Some(&l(vec![n("2"), n("4"), n("17"), n("6")]))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn add_increments_numbers_and_unites_sets() {
    let (_server, client) = fixture().await;
    let got = applied(
        &client,
        item([("a", n("5")), ("t", ss(&["x", "y"])), ("u", ns(&["1"]))]),
        "ADD a :n, fresh :n, t :more, u :nums, newset :more",
        &[
            (":n", n("-2.5")),
            (":more", ss(&["y", "z"])),
            (":nums", ns(&["2", "1.0"])),
        ],
    )
    .await;
    assert_eq!(got.get("a"), Some(&n("2.5")));
    // An absent attribute starts from zero, or from the empty set.
    assert_eq!(got.get("fresh"), Some(&n("-2.5")));
    assert_eq!(
        got.get("t").cloned().map(sorted),
        Some(ss(&["x", "y", "z"]))
    );
    assert_eq!(got.get("u").cloned().map(sorted), Some(ns(&["1", "2"])));
    assert_eq!(
        got.get("newset").cloned().map(sorted),
        Some(ss(&["y", "z"]))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_removes_set_members_and_an_emptied_set() {
    let (_server, client) = fixture().await;
    let got = applied(
        &client,
        item([
            ("t", ss(&["a", "b", "c"])),
            ("u", ns(&["1", "2"])),
            ("keep", s("x")),
        ]),
        "DELETE t :two, u :all, gone :two",
        &[(":two", ss(&["a", "c", "zzz"])), (":all", ns(&["1", "2"]))],
    )
    .await;
    // No empty set is stored: deleting every member removes the attribute.
    assert_eq!(got, item([("t", ss(&["b"])), ("keep", s("x"))]));
}

#[tokio::test(flavor = "multi_thread")]
async fn update_of_a_missing_item_creates_it() {
    let (_server, client) = fixture().await;
    let out = update(
        &client,
        "new",
        "SET a = :v ADD c :one",
        &[(":v", s("x")), (":one", n("1"))],
        Some(ReturnValue::AllNew),
    )
    .await
    .expect("upsert");
    let want = item([("p", s("new")), ("a", s("x")), ("c", n("1"))]);
    assert_eq!(out.attributes, Some(want.clone()));
    assert_eq!(get_consistent(&client, T, "new").await, Some(want));
    // An update that only removes leaves a missing item missing.
    update(&client, "ghost", "REMOVE a", &[], None)
        .await
        .expect("remove");
    assert_eq!(get_consistent(&client, T, "ghost").await, None);
    // Even through a path whose parent is missing: there is no item to
    // resolve it against.
    update(&client, "ghost", "REMOVE x.y, z[0]", &[], None)
        .await
        .expect("remove nested");
    assert_eq!(get_consistent(&client, T, "ghost").await, None);
    // SET through a missing parent fails on a missing item too.
    let err = update(&client, "ghost", "SET x.y = :v", &[(":v", n("1"))], None)
        .await
        .expect_err("missing parent");
    assert_validation(
        &err,
        "The document path provided in the update expression is invalid for update",
    );
    assert_eq!(get_consistent(&client, T, "ghost").await, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn return_values_take_dynamodb_shapes() {
    let (_server, client) = fixture().await;
    let start = item([
        ("p", s("k")),
        (
            "a",
            m([("b", s("dog")), ("c", l(vec![n("1"), n("2"), n("3")]))]),
        ),
        ("d", s("cat")),
        ("e", n("1")),
    ]);
    put(&client, T, start.clone()).await;
    let run = |expr: &'static str, values: Vec<(&'static str, Av)>, ret: ReturnValue| {
        let client = client.clone();
        async move {
            update(&client, "k", expr, &values, Some(ret))
                .await
                .unwrap_or_else(|e| panic!("{expr}: {e:?}"))
                .attributes
        }
    };
    assert_eq!(
        run("SET e = :v", vec![(":v", n("2"))], ReturnValue::None).await,
        None
    );
    assert_eq!(
        run("SET e = :v", vec![(":v", n("3"))], ReturnValue::AllOld).await,
        Some(item([
            ("p", s("k")),
            (
                "a",
                m([("b", s("dog")), ("c", l(vec![n("1"), n("2"), n("3")]))])
            ),
            ("d", s("cat")),
            ("e", n("2")),
        ]))
    );
    // UPDATED_* return only what the update touched, nested where it sits.
    assert_eq!(
        run(
            "SET a.c[1] = :v, a.b = :w",
            vec![(":v", n("7")), (":w", s("hi"))],
            ReturnValue::UpdatedOld
        )
        .await,
        Some(item([("a", m([("b", s("dog")), ("c", l(vec![n("2")]))]))]))
    );
    assert_eq!(
        run(
            "SET a.c[1] = :v ADD e :v",
            vec![(":v", n("8"))],
            ReturnValue::UpdatedNew
        )
        .await,
        Some(item([("a", m([("c", l(vec![n("8")]))])), ("e", n("11"))]))
    );
    // A new attribute has no old value; a removed one has no new value.
    assert_eq!(
        run("SET f = :v", vec![(":v", n("1"))], ReturnValue::UpdatedOld).await,
        None
    );
    assert_eq!(run("REMOVE f", vec![], ReturnValue::UpdatedNew).await, None);
    assert_eq!(
        run("REMOVE d", vec![], ReturnValue::UpdatedOld).await,
        Some(item([("d", s("cat"))]))
    );
    assert_eq!(
        run("SET d = :v", vec![(":v", s("cow"))], ReturnValue::AllNew).await,
        Some(item([
            ("p", s("k")),
            (
                "a",
                m([("b", s("hi")), ("c", l(vec![n("1"), n("8"), n("3")]))])
            ),
            ("d", s("cow")),
            ("e", n("11")),
        ]))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_and_conflicting_paths_are_rejected() {
    let (_server, client) = fixture().await;
    let values = [(":v", n("1")), (":w", n("2"))];
    for (expr, message) in [
        ("SET a = :v, a.b = :w", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a, b]"),
        ("SET a = :v, a = :w", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"),
        ("SET a[1] = :v REMOVE a", "Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a, [1]], path two: [a]"),
        ("SET a.b = :v, a[1] = :w", "Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [1]]"),
    ] {
        let err = rejected(&client, item([]), expr, &values).await;
        assert_validation(&err, &format!("Invalid UpdateExpression: {message}"));
    }
    // The same attribute twice, spelled through names.
    let err = client
        .update_item()
        .table_name(T)
        .key("p", s("k"))
        .update_expression("SET #x = :v, #y = :w")
        .expression_attribute_names("#x", "a")
        .expression_attribute_names("#y", "a")
        .expression_attribute_values(":v", n("1"))
        .expression_attribute_values(":w", n("2"))
        .send()
        .await
        .expect_err("same path twice")
        .into_service_error();
    assert_validation(
        &err,
        "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]",
    );
    // Each clause at most once.
    let err = rejected(&client, item([]), "SET a = :v REMOVE b SET c = :w", &values).await;
    assert_validation(
        &err,
        "Invalid UpdateExpression: The \"SET\" section can only be used once in an update expression;",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn key_attributes_cannot_be_updated() {
    let (_server, client) = fixture().await;
    for (expr, values) in [
        ("SET p = :s", vec![(":s", s("other"))]),
        ("REMOVE p", vec![]),
        ("ADD p :n", vec![(":n", n("1"))]),
        ("DELETE p :set", vec![(":set", ss(&["k"]))]),
    ] {
        let err = rejected(&client, item([]), expr, &values).await;
        assert_validation(
            &err,
            "One or more parameter values were invalid: Cannot update attribute p. This attribute is part of the key",
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn operands_of_the_wrong_type_are_rejected() {
    let (_server, client) = fixture().await;
    let start = item([
        ("str", s("hello")),
        ("num", n("1")),
        ("t", ss(&["a"])),
        ("lst", l(vec![])),
    ]);
    let wrong = "An operand in the update expression has an incorrect data type";
    for (expr, values) in [
        // ADD to an attribute holding a string.
        ("ADD str :one", vec![(":one", n("1"))]),
        // ADD a number to a set, and arithmetic on a string.
        ("ADD t :one", vec![(":one", n("1"))]),
        ("SET num = str + :one", vec![(":one", n("1"))]),
        ("SET lst = list_append(lst, num)", vec![]),
        ("DELETE t :nums", vec![(":nums", ns(&["1"]))]),
    ] {
        let err = rejected(&client, start.clone(), expr, &values).await;
        assert_validation(&err, wrong);
    }
    // Types the request itself gets wrong are reported up front, naming them.
    let err = rejected(&client, start.clone(), "ADD num :s", &[(":s", s("x"))]).await;
    assert_validation(
        &err,
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING",
    );
    let err = rejected(&client, start.clone(), "DELETE t :s", &[(":s", s("a"))]).await;
    assert_validation(
        &err,
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: DELETE, operand type: STRING",
    );
    let err = rejected(
        &client,
        start,
        "SET num = :s + :one",
        &[(":s", s("x")), (":one", n("1"))],
    )
    .await;
    assert_validation(
        &err,
        "Invalid UpdateExpression: Incorrect operand type for operator or function; operator or function: +, operand type: S",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn arithmetic_beyond_the_number_range_overflows() {
    let (_server, client) = fixture().await;
    let big = n("9.9999999999999999999999999999999999999E+125");
    let err = rejected(&client, item([("a", big.clone())]), "SET a = a + a", &[]).await;
    assert_validation(
        &err,
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    );
    let err = rejected(
        &client,
        item([("a", big)]),
        "ADD a :v",
        &[(":v", n("1E+125"))],
    )
    .await;
    assert_validation(
        &err,
        "Number overflow. Attempting to store a number with magnitude larger than supported range",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_through_missing_or_scalar_parents_are_invalid() {
    let (_server, client) = fixture().await;
    let start = item([("str", s("hello")), ("lst", l(vec![s("x")])), ("mp", m([]))]);
    for expr in [
        "SET str.c = :v",
        "SET lst.c = :v",
        "SET absent.c = :v",
        "SET str[0] = :v",
        "SET mp[0] = :v",
        "SET absent[0] = :v",
        "SET mp.x.y = :v",
        "REMOVE str.c",
        "REMOVE absent.c",
        "REMOVE str[0]",
    ] {
        let values: &[(&str, Av)] = if expr.starts_with("SET") {
            &[(":v", n("1"))]
        } else {
            &[]
        };
        let err = rejected(&client, start.clone(), expr, values).await;
        assert_validation(
            &err,
            "The document path provided in the update expression is invalid for update",
        );
    }
    // A missing leaf under an existing parent is fine to remove.
    let got = applied(&client, start.clone(), "REMOVE mp.y, lst[5]", &[]).await;
    let mut want = start;
    want.remove("p");
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread")]
async fn update_expression_syntax_and_names_are_checked() {
    let (_server, client) = fixture().await;
    let err = rejected(&client, item([]), "SET _123 = :v", &[(":v", n("1"))]).await;
    assert_validation(
        &err,
        r#"Invalid UpdateExpression: Syntax error; token: "_", near: "SET _123""#,
    );
    let err = rejected(&client, item([]), "SET a = :v", &[]).await;
    assert_validation(
        &err,
        "Invalid UpdateExpression: An expression attribute value used in expression is not defined; attribute value: :v",
    );
    let err = rejected(
        &client,
        item([]),
        "SET a = :v",
        &[(":v", n("1")), (":w", n("2"))],
    )
    .await;
    assert_validation(
        &err,
        "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
    );
    let err = rejected(&client, item([]), "SET a = size(b)", &[]).await;
    assert_validation(
        &err,
        "Invalid UpdateExpression: The function is not allowed in an update expression; function: size",
    );
    // An invalid value names its placeholder (unlike the same value in Item).
    let err = rejected(&client, item([]), "SET a = :v", &[(":v", ss(&[]))]).await;
    assert_validation(
        &err,
        "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :v",
    );
    let err = rejected(&client, item([]), "SET a = :v", &[(":v", ss(&["a", "a"]))]).await;
    assert_validation(
        &err,
        "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: Input collection [a, a] contains duplicates. for key :v",
    );
    let err = rejected(&client, item([]), "SET a = :v", &[(":v", n("1e126"))]).await;
    assert_validation(
        &err,
        "ExpressionAttributeValues contains invalid value: Number overflow. Attempting to store a number with magnitude larger than supported range for key :v",
    );
}

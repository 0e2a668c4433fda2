//! ProjectionExpression on GetItem through the AWS SDK: nested map paths and
//! list elements come back inside the structure they were found in, missing
//! paths are silently left out, and overlapping, conflicting, too deep or
//! malformed projections are ValidationExceptions with DynamoDB's messages.

use aws_sdk_dynamodb::operation::get_item::{GetItemError, GetItemOutput};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{
    assert_error, assert_validation, create_table, item, items::put, l, m, n, s, Item, TestStore,
};

const T: &str = "proj";

async fn fixture() -> (TestStore, Client) {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, T).await;
    put(
        &client,
        T,
        item([
            ("p", s("k")),
            (
                "a",
                m([
                    (
                        "b",
                        l(vec![n("2"), n("4"), m([("x", s("hi")), ("y", s("yo"))])]),
                    ),
                    ("c", n("5")),
                ]),
            ),
            ("b", s("hello")),
            ("a.b", s("dotted")),
        ]),
    )
    .await;
    (server, client)
}

async fn project(
    client: &Client,
    key: &str,
    projection: &str,
    names: &[(&str, &str)],
) -> Result<GetItemOutput, GetItemError> {
    let mut req = client
        .get_item()
        .table_name(T)
        .key("p", s(key))
        .projection_expression(projection);
    for (k, v) in names {
        req = req.expression_attribute_names(*k, *v);
    }
    req.send().await.map_err(|e| e.into_service_error())
}

/// The projected item `k`; an existing item always yields an `Item`.
async fn projected(client: &Client, projection: &str) -> Item {
    project(client, "k", projection, &[])
        .await
        .unwrap_or_else(|e| panic!("{projection}: {e:?}"))
        .item
        .unwrap_or_else(|| panic!("{projection}: no Item"))
}

#[tokio::test(flavor = "multi_thread")]
async fn nested_paths_come_back_inside_their_parents() {
    let (_server, client) = fixture().await;
    let cases = [
        ("b", item([("b", s("hello"))])),
        ("a.c", item([("a", m([("c", n("5"))]))])),
        (
            "a.b",
            item([(
                "a",
                m([(
                    "b",
                    l(vec![n("2"), n("4"), m([("x", s("hi")), ("y", s("yo"))])]),
                )]),
            )]),
        ),
        (
            "a.b[2].y",
            item([("a", m([("b", l(vec![m([("y", s("yo"))])]))]))]),
        ),
        // The key is returned only when asked for.
        (" p ,  b ", item([("p", s("k")), ("b", s("hello"))])),
    ];
    for (projection, want) in cases {
        assert_eq!(projected(&client, projection).await, want, "{projection}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn list_elements_come_back_as_a_shorter_list_in_index_order() {
    let (_server, client) = fixture().await;
    assert_eq!(
        projected(&client, "a.b[0]").await,
        item([("a", m([("b", l(vec![n("2")]))]))])
    );
    assert_eq!(
        projected(&client, "a.b[2], a.b[0]").await,
        item([(
            "a",
            m([("b", l(vec![n("2"), m([("x", s("hi")), ("y", s("yo"))])]))])
        )])
    );
    // Paths under one parent merge into one map.
    assert_eq!(
        projected(&client, "a.b[1], a.c, b").await,
        item([
            ("a", m([("b", l(vec![n("4")])), ("c", n("5"))])),
            ("b", s("hello"))
        ])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_paths_are_left_out() {
    let (_server, client) = fixture().await;
    for projection in [
        "x",
        "a.x",
        "a.x.y",
        "a.b[3]",
        "a.b[999]",
        "a.b[3].x",
        // Indexing a map, dotting into a list or into a number finds nothing.
        "a[0]",
        "a.b.x",
        "a.c.x",
        "a.b[0][0]",
    ] {
        assert_eq!(
            projected(&client, projection).await,
            item([]),
            "{projection}"
        );
    }
    assert_eq!(
        projected(&client, "a.x, a.b[0], x, a.b[3].x").await,
        item([("a", m([("b", l(vec![n("2")]))]))])
    );
    // A missing item has no Item at all, whatever the projection.
    let out = project(&client, "absent", "a.b[0]", &[])
        .await
        .expect("get");
    assert_eq!(out.item, None);
}

#[tokio::test(flavor = "multi_thread")]
async fn names_stand_for_single_path_elements() {
    let (_server, client) = fixture().await;
    let out = project(&client, "k", "#a.#b[1]", &[("#a", "a"), ("#b", "b")])
        .await
        .expect("get");
    assert_eq!(out.item, Some(item([("a", m([("b", l(vec![n("4")]))]))])));
    // A dot inside a name is part of the attribute name.
    let out = project(&client, "k", "#ab", &[("#ab", "a.b")])
        .await
        .expect("get");
    assert_eq!(out.item, Some(item([("a.b", s("dotted"))])));
    let err = project(&client, "k", "#ab", &[("#ab", "a"), ("#unused", "b")])
        .await
        .expect_err("unused name");
    assert_validation(
        &err,
        "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}",
    );
    let err = project(&client, "k", "a.#zz", &[])
        .await
        .expect_err("undefined name");
    assert_validation(
        &err,
        "Invalid ProjectionExpression: An expression attribute name used in the document path is not defined; attribute name: #zz",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_or_conflicting_paths_are_rejected() {
    let (_server, client) = fixture().await;
    for (projection, one, two) in [
        ("a, a", "[a]", "[a]"),
        ("a, a.b[2].c", "[a]", "[a, b, [2], c]"),
        ("a.b[0], a.b[0]", "[a, b, [0]]", "[a, b, [0]]"),
        ("a.b.c, a.b", "[a, b, c]", "[a, b]"),
    ] {
        let err = project(&client, "k", projection, &[])
            .await
            .expect_err(projection);
        assert_validation(
            &err,
            &format!("Invalid ProjectionExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {one}, path two: {two}"),
        );
    }
    let err = project(&client, "k", "a.b, a[1]", &[])
        .await
        .expect_err("conflict");
    assert_validation(
        &err,
        "Invalid ProjectionExpression: Two document paths conflict with each other; must remove or rewrite one of these paths; path one: [a, b], path two: [a, [1]]",
    );
    // Shared prefixes are fine.
    for projection in ["a.b, a.c", "a.b[1], a.b[2]", "a.b, a.c[2]"] {
        project(&client, "k", projection, &[])
            .await
            .expect(projection);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_projections_are_rejected() {
    let (_server, client) = fixture().await;
    let deep_ok = format!("a{}", ".b".repeat(31));
    project(&client, "k", &deep_ok, &[])
        .await
        .expect("32 levels");
    let too_deep = format!("a{}", ".b".repeat(32));
    let err = project(&client, "k", &too_deep, &[])
        .await
        .expect_err("33 levels");
    assert_validation(
        &err,
        "Invalid ProjectionExpression: The document path has too many nesting levels; nesting levels: 33",
    );
    let err = project(&client, "k", "a[99999999999999]", &[])
        .await
        .expect_err("index");
    assert_validation(
        &err,
        "Invalid ProjectionExpression: List index is not within the allowable range; index: [99999999999999]",
    );
    let err = project(&client, "k", "", &[]).await.expect_err("empty");
    assert_validation(
        &err,
        "Invalid ProjectionExpression: The expression can not be empty;",
    );
    for projection in ["a,", ",a", "a,,b", "a[-1]", "a[]", "a.b = :v"] {
        let err = project(&client, "k", projection, &[])
            .await
            .expect_err(projection);
        assert_error(
            &err,
            "ValidationException",
            "Invalid ProjectionExpression: Syntax error; token: ",
        );
    }
    let err = project(&client, "k", "size", &[])
        .await
        .expect_err("reserved");
    assert_validation(
        &err,
        "Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: size",
    );
    let over = "x".repeat(4097);
    let err = project(&client, "k", &over, &[])
        .await
        .expect_err("too long");
    assert_validation(
        &err,
        "Invalid ProjectionExpression: Expression size has exceeded the maximum allowed size; expression size: 4097",
    );
    project(&client, "k", &"x".repeat(4096), &[])
        .await
        .expect("4096 bytes");
}

//! ExecuteStatement through the AWS SDK: every statement kind, literals and
//! parameters, planning (GetItem / Query / Scan) observed through what each
//! reads, NextToken paging, and DynamoDB's errors for bad statements.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue as Av, ReturnConsumedCapacity, ScalarAttributeType};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{
    assert_error, assert_validation, l, m, n, ns, s, ss, IndexSpec, TableSpec, TestStore,
};

type Item = HashMap<String, Av>;

async fn orders(client: &Client) {
    TableSpec::new("orders")
        .hash("p", ScalarAttributeType::S)
        .range("k", ScalarAttributeType::N)
        .gsi(
            IndexSpec::new("byColor")
                .hash("color", ScalarAttributeType::S)
                .range("size", ScalarAttributeType::N),
        )
        .create(client)
        .await;
}

async fn run(client: &Client, statement: &str) -> Vec<Item> {
    client
        .execute_statement()
        .statement(statement)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e:?}"))
        .items
        .unwrap_or_default()
}

async fn run_with(client: &Client, statement: &str, params: Vec<Av>) -> Vec<Item> {
    client
        .execute_statement()
        .statement(statement)
        .set_parameters(Some(params))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e:?}"))
        .items
        .unwrap_or_default()
}

async fn fill(client: &Client) {
    for (p, k, color, size) in [
        ("a", 1, "red", 10),
        ("a", 2, "blue", 20),
        ("a", 3, "red", 30),
        ("b", 1, "red", 40),
        ("b", 2, "green", 50),
    ] {
        run(
            client,
            &format!("INSERT INTO \"orders\" VALUE {{'p': '{p}', 'k': {k}, 'color': '{color}', 'size': {size}}}"),
        )
        .await;
    }
}

fn keys(items: &[Item]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|i| {
            let p = i
                .get("p")
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default();
            let k = i
                .get("k")
                .and_then(|v| v.as_n().ok())
                .cloned()
                .unwrap_or_default();
            (p, k)
        })
        .collect()
}

fn pk(p: &str, k: &str) -> (String, String) {
    (p.to_owned(), k.to_owned())
}

#[tokio::test]
async fn insert_then_select_by_full_key_returns_the_item() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    run(
        &client,
        "INSERT INTO \"orders\" VALUE {'p': 'a', 'k': 1, 'str': 'it''s', 'num': -1.5e2, 'yes': true, 'nil': null, \
         'list': [1, 'x'], 'map': {'inner': <<'s1', 's2'>>}, 'nums': <<1, 2>>}",
    )
    .await;
    let items = run(&client, "SELECT * FROM \"orders\" WHERE p = 'a' AND k = 1").await;
    assert_eq!(items.len(), 1);
    let item = &items[0];
    assert_eq!(item["str"], s("it's"));
    assert_eq!(item["num"], n("-150"));
    assert_eq!(item["yes"], Av::Bool(true));
    assert_eq!(item["nil"], Av::Null(true));
    assert_eq!(item["list"], l(vec![n(1), s("x")]));
    let Av::M(map) = &item["map"] else {
        panic!("{item:?}")
    };
    let Av::Ss(set) = &map["inner"] else {
        panic!("{map:?}")
    };
    assert_eq!(set.len(), 2);
    let Av::Ns(nums) = &item["nums"] else {
        panic!("{item:?}")
    };
    assert_eq!(nums.len(), 2);
    // The same item through GetItem: PartiQL wrote what JSON reads.
    let got = client
        .get_item()
        .table_name("orders")
        .key("p", s("a"))
        .key("k", n(1))
        .send()
        .await
        .expect("get")
        .item
        .expect("item");
    assert_eq!(&got, item);
    // A full key that matches nothing: no items, no error.
    assert!(run(&client, "SELECT * FROM orders WHERE p = 'a' AND k = 9")
        .await
        .is_empty());
}

#[tokio::test]
async fn select_projects_attributes_and_nested_paths() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    run(
        &client,
        "INSERT INTO orders VALUE {'p': 'a', 'k': 1, 'x': 1, 'doc': {'list': [{'c': 'deep'}, 2]}}",
    )
    .await;
    let items = run(
        &client,
        "SELECT x, doc.list[0].c FROM orders WHERE p = 'a' AND k = 1",
    )
    .await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["x"], n(1));
    assert_eq!(
        items[0]["doc"],
        m([("list", l(vec![m([("c", s("deep"))])]))])
    );
    assert!(!items[0].contains_key("p"));
}

#[tokio::test]
async fn where_clauses_select_exactly_the_matching_items() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    fill(&client).await;
    let cases: &[(&str, Vec<(String, String)>)] = &[
        (
            "SELECT * FROM orders WHERE p = 'a'",
            vec![pk("a", "1"), pk("a", "2"), pk("a", "3")],
        ),
        (
            "SELECT * FROM orders WHERE p = 'a' AND k >= 2",
            vec![pk("a", "2"), pk("a", "3")],
        ),
        (
            "SELECT * FROM orders WHERE p = 'a' AND k BETWEEN 1 AND 2",
            vec![pk("a", "1"), pk("a", "2")],
        ),
        (
            "SELECT * FROM orders WHERE p = 'a' AND color = 'red'",
            vec![pk("a", "1"), pk("a", "3")],
        ),
        (
            "SELECT * FROM orders WHERE p = 'a' AND k <> 2",
            vec![pk("a", "1"), pk("a", "3")],
        ),
        (
            "SELECT * FROM orders WHERE p = 'a' AND (k = 1 OR k = 3)",
            vec![pk("a", "1"), pk("a", "3")],
        ),
        (
            "SELECT * FROM orders WHERE p = 'a' ORDER BY k DESC",
            vec![pk("a", "3"), pk("a", "2"), pk("a", "1")],
        ),
        (
            "SELECT * FROM orders WHERE p = 'a' AND NOT color = 'red'",
            vec![pk("a", "2")],
        ),
        (
            "SELECT * FROM orders WHERE size IN [10, 50]",
            vec![pk("a", "1"), pk("b", "2")],
        ),
        (
            "SELECT * FROM orders WHERE size > 35 AND begins_with(color, 'r')",
            vec![pk("b", "1")],
        ),
        (
            "SELECT * FROM orders WHERE contains(color, 'ee')",
            vec![pk("b", "2")],
        ),
        (
            "SELECT * FROM orders WHERE attribute_type(size, 'N') AND size(color) = 4",
            vec![pk("a", "2")],
        ),
        (
            "SELECT * FROM orders WHERE missing_attr IS MISSING AND size < 15",
            vec![pk("a", "1")],
        ),
        (
            "SELECT * FROM orders WHERE color IS NOT MISSING AND size >= 50",
            vec![pk("b", "2")],
        ),
        (
            "SELECT * FROM orders WHERE p = 'b' OR size = 10",
            vec![pk("a", "1"), pk("b", "1"), pk("b", "2")],
        ),
        (
            "SELECT * FROM \"orders\".\"byColor\" WHERE color = 'red' AND size > 15",
            vec![pk("a", "3"), pk("b", "1")],
        ),
        (
            "SELECT * FROM \"orders\".\"byColor\" WHERE color = 'red' ORDER BY size DESC",
            vec![pk("b", "1"), pk("a", "3"), pk("a", "1")],
        ),
    ];
    for (statement, expected) in cases {
        let mut got = keys(&run(&client, statement).await);
        let mut want = expected.clone();
        if !statement.contains("ORDER BY") {
            got.sort();
            want.sort();
        }
        assert_eq!(got, want, "{statement}");
    }
}

#[tokio::test]
async fn parameters_bind_in_order_of_appearance() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    run_with(
        &client,
        "INSERT INTO orders VALUE {'p': ?, 'k': ?, 'blob': ?, 'tags': ?}",
        vec![s("a"), n(1), Av::B(vec![1u8, 2, 3].into()), ss(&["x"])],
    )
    .await;
    let items = run_with(
        &client,
        "SELECT blob, tags FROM orders WHERE p = ? AND k = ?",
        vec![s("a"), n(1)],
    )
    .await;
    assert_eq!(items[0]["blob"], Av::B(vec![1u8, 2, 3].into()));
    assert_eq!(items[0]["tags"], ss(&["x"]));
    let err = client
        .execute_statement()
        .statement("SELECT * FROM orders WHERE p = ?")
        .send()
        .await
        .expect_err("missing parameter");
    assert_validation(
        &err,
        "Number of parameters in request and statement don't match.",
    );
}

#[tokio::test]
async fn insert_of_an_existing_key_is_a_duplicate_and_changes_nothing() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    run(
        &client,
        "INSERT INTO orders VALUE {'p': 'a', 'k': 1, 'v': 'first'}",
    )
    .await;
    let err = client
        .execute_statement()
        .statement("INSERT INTO orders VALUE {'p': 'a', 'k': 1, 'v': 'second'}")
        .send()
        .await
        .expect_err("duplicate");
    assert_error(
        &err,
        "DuplicateItemException",
        "Duplicate primary key exists in table",
    );
    let items = run(&client, "SELECT v FROM orders WHERE p = 'a' AND k = 1").await;
    assert_eq!(items[0]["v"], s("first"));
}

#[tokio::test]
async fn update_sets_removes_appends_and_returns_what_was_asked() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    run(
        &client,
        "INSERT INTO orders VALUE {'p': 'a', 'k': 1, 'count': 1, 'list': [1], 'tags': <<'x', 'y'>>, 'gone': 'bye'}",
    )
    .await;
    let items = run(
        &client,
        "UPDATE orders SET count = count + 2 SET list = list_append(list, [2, 3]) \
         SET tags = set_add(tags, <<'z'>>) REMOVE gone SET doc = {'a': [1]} \
         WHERE p = 'a' AND k = 1 RETURNING ALL NEW *",
    )
    .await;
    assert_eq!(items.len(), 1);
    let new = &items[0];
    assert_eq!(new["count"], n(3));
    assert_eq!(new["list"], l(vec![n(1), n(2), n(3)]));
    let Av::Ss(tags) = &new["tags"] else {
        panic!("{new:?}")
    };
    assert_eq!(tags.len(), 3);
    assert!(!new.contains_key("gone"));
    assert_eq!(new["doc"], m([("a", l(vec![n(1)]))]));

    let old = run(
        &client,
        "UPDATE orders SET count = count - 1 SET tags = set_delete(tags, <<'x'>>) WHERE p = 'a' AND k = 1 RETURNING MODIFIED OLD *",
    )
    .await;
    assert_eq!(old[0].len(), 2, "{old:?}");
    assert_eq!(old[0]["count"], n(3));
    let all_old = run(
        &client,
        "UPDATE orders SET flag = true WHERE p = 'a' AND k = 1 RETURNING ALL OLD *",
    )
    .await;
    assert_eq!(all_old[0]["count"], n(2));
    assert!(!all_old[0].contains_key("flag"));
    let modified_new = run(
        &client,
        "UPDATE orders SET count = 7 WHERE p = 'a' AND k = 1 RETURNING MODIFIED NEW *",
    )
    .await;
    assert_eq!(
        modified_new,
        vec![HashMap::from([("count".to_owned(), n(7))])]
    );
    // Without RETURNING, nothing comes back.
    assert!(run(
        &client,
        "UPDATE orders SET count = 8 WHERE p = 'a' AND k = 1"
    )
    .await
    .is_empty());
}

#[tokio::test]
async fn update_and_delete_conditions_and_missing_items() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    run(
        &client,
        "INSERT INTO orders VALUE {'p': 'a', 'k': 1, 'v': 1}",
    )
    .await;
    // A false condition: ConditionalCheckFailed, nothing changes.
    let err = client
        .execute_statement()
        .statement("UPDATE orders SET v = 2 WHERE p = 'a' AND k = 1 AND v = 5")
        .send()
        .await
        .expect_err("condition");
    assert_error(
        &err,
        "ConditionalCheckFailedException",
        "The conditional request failed",
    );
    // The same with ReturnValuesOnConditionCheckFailure: the item comes back.
    let err = client
        .execute_statement()
        .statement("DELETE FROM orders WHERE p = 'a' AND k = 1 AND v > 3")
        .return_values_on_condition_check_failure(
            aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure::AllOld,
        )
        .send()
        .await
        .expect_err("condition");
    let aws_sdk_dynamodb::operation::execute_statement::ExecuteStatementError::ConditionalCheckFailedException(ccf) =
        err.into_service_error()
    else {
        panic!("not a conditional check failure");
    };
    assert_eq!(ccf.item().and_then(|i| i.get("v")), Some(&n(1)));
    // UPDATE of an item that does not exist fails; it does not create one.
    let err = client
        .execute_statement()
        .statement("UPDATE orders SET v = 2 WHERE p = 'nope' AND k = 1")
        .send()
        .await
        .expect_err("absent");
    assert_error(
        &err,
        "ConditionalCheckFailedException",
        "The conditional request failed",
    );
    assert!(run(&client, "SELECT * FROM orders WHERE p = 'nope'")
        .await
        .is_empty());
    // DELETE of an absent item succeeds with nothing deleted, even with conditions.
    assert!(run(
        &client,
        "DELETE FROM orders WHERE p = 'nope' AND k = 1 AND v = 1 RETURNING ALL OLD *"
    )
    .await
    .is_empty());
    // DELETE whose condition holds returns the old item and removes it.
    let old = run(
        &client,
        "DELETE FROM orders WHERE p = 'a' AND k = 1 AND v = 1 RETURNING ALL OLD *",
    )
    .await;
    assert_eq!(old[0]["v"], n(1));
    assert!(run(&client, "SELECT * FROM orders WHERE p = 'a' AND k = 1")
        .await
        .is_empty());
}

#[tokio::test]
async fn paging_with_next_token_reads_every_item_once() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    let filler = "x".repeat(2000);
    for i in 0..1100 {
        let p = if i % 2 == 0 { "even" } else { "odd" };
        run(
            &client,
            &format!("INSERT INTO orders VALUE {{'p': '{p}', 'k': {i}, 'pad': '{filler}'}}"),
        )
        .await;
    }
    for (statement, expected, limit) in [
        ("SELECT * FROM orders", 1100, None),
        ("SELECT * FROM orders WHERE p = 'even'", 550, Some(100)),
        (
            "SELECT k FROM orders WHERE pad IS NOT MISSING",
            1100,
            Some(333),
        ),
    ] {
        let mut seen = std::collections::BTreeSet::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let out = client
                .execute_statement()
                .statement(statement)
                .set_limit(limit)
                .set_next_token(token.clone())
                .send()
                .await
                .expect("page");
            pages += 1;
            for item in out.items.unwrap_or_default() {
                let k = item["k"].as_n().expect("k").clone();
                let p = item.get("p").map(|v| format!("{v:?}")).unwrap_or_default();
                assert!(seen.insert((p, k)), "{statement}: an item came twice");
            }
            if let Some(l) = limit {
                assert!(pages < 1100 / l as usize + 3);
            }
            token = out.next_token;
            if token.is_none() {
                break;
            }
        }
        assert_eq!(seen.len(), expected, "{statement}");
        assert!(
            pages > 1,
            "{statement}: 1 MB pages or Limit must split the result"
        );
    }
    // A token only continues the statement that produced it.
    let first = client
        .execute_statement()
        .statement("SELECT * FROM orders")
        .limit(5)
        .send()
        .await
        .expect("page");
    let err = client
        .execute_statement()
        .statement("SELECT * FROM orders WHERE k > 3")
        .set_next_token(first.next_token)
        .send()
        .await
        .expect_err("foreign token");
    assert_error(&err, "ValidationException", "NextToken");
}

#[tokio::test]
async fn consumed_capacity_is_reported_when_asked() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    let out = client
        .execute_statement()
        .statement("INSERT INTO orders VALUE {'p': 'a', 'k': 1}")
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .expect("insert");
    let c = out.consumed_capacity.expect("capacity");
    assert_eq!(c.table_name(), Some("orders"));
    assert_eq!(c.capacity_units(), Some(1.0));
    let out = client
        .execute_statement()
        .statement("SELECT * FROM orders WHERE p = 'a' AND k = 1")
        .consistent_read(true)
        .return_consumed_capacity(ReturnConsumedCapacity::Total)
        .send()
        .await
        .expect("select");
    assert_eq!(
        out.consumed_capacity.and_then(|c| c.capacity_units()),
        Some(1.0)
    );
}

#[tokio::test]
async fn bad_statements_get_dynamodbs_errors_and_change_nothing() {
    let store = TestStore::start().await;
    let client = store.client();
    orders(&client).await;
    run(
        &client,
        "INSERT INTO orders VALUE {'p': 'a', 'k': 1, 'v': 1}",
    )
    .await;
    let malformed = [
        ("SELEC * FROM orders", "Expected data manipulation"),
        ("SELECT * FROM", "Unexpected end of statement"),
        (
            "SELECT * FROM orders WHERE v = 'x",
            "Unterminated string literal",
        ),
        ("SELECT * FROM orders WHERE v = = 1", "Unexpected token"),
        (
            "UPDATE orders WHERE p = 'a' AND k = 1",
            "Unexpected keyword",
        ),
    ];
    for (statement, detail) in malformed {
        let err = client
            .execute_statement()
            .statement(statement)
            .send()
            .await
            .expect_err(statement);
        assert_validation(
            &err,
            &format!("Statement wasn't well formed, can't be processed: {detail}"),
        );
    }
    for statement in [
        "UPDATE orders SET v = 2 WHERE p = 'a'",
        "DELETE FROM orders WHERE k = 1",
        "UPDATE orders SET v = 2 WHERE p = 'a' OR k = 1",
    ] {
        let err = client
            .execute_statement()
            .statement(statement)
            .send()
            .await
            .expect_err(statement);
        assert_validation(
            &err,
            "Where clause does not contain a mandatory equality on all key attributes",
        );
    }
    let err = client
        .execute_statement()
        .statement("SELECT * FROM nowhere WHERE p = 'a'")
        .send()
        .await
        .expect_err("no table");
    assert_error(
        &err,
        "ResourceNotFoundException",
        "Requested resource not found",
    );
    let err = client
        .execute_statement()
        .statement("SELECT * FROM \"orders\".\"noSuchIndex\" WHERE v = 1")
        .send()
        .await
        .expect_err("no index");
    assert_error(&err, "ValidationException", "noSuchIndex");
    // Type mismatch: a key of the wrong type.
    let err = client
        .execute_statement()
        .statement("INSERT INTO orders VALUE {'p': 'b', 'k': 'not a number'}")
        .send()
        .await
        .expect_err("key type");
    assert_error(&err, "ValidationException", "Type mismatch");
    // A key attribute missing from an INSERT.
    let err = client
        .execute_statement()
        .statement("INSERT INTO orders VALUE {'p': 'b'}")
        .send()
        .await
        .expect_err("no sort key");
    assert_error(&err, "ValidationException", "Missing the key k");
    // Unsupported: RETURNING other than ALL OLD on DELETE; ORDER BY on a scan;
    // updating a key attribute.
    for (statement, needle) in [
        (
            "DELETE FROM orders WHERE p = 'a' AND k = 1 RETURNING ALL NEW *",
            "RETURNING",
        ),
        ("SELECT * FROM orders ORDER BY k", "ORDER BY"),
        (
            "UPDATE orders SET k = 3 WHERE p = 'a' AND k = 1",
            "part of the key",
        ),
        (
            "UPDATE orders SET v = set_add(w, <<1>>) WHERE p = 'a' AND k = 1",
            "set_add",
        ),
        (
            "INSERT INTO orders VALUE {'p': 'b', 'k': 1, 's': <<1, 'x'>>}",
            "Set",
        ),
    ] {
        let err = client
            .execute_statement()
            .statement(statement)
            .send()
            .await
            .expect_err(statement);
        assert_error(&err, "ValidationException", needle);
    }
    let err = client
        .execute_statement()
        .send()
        .await
        .expect_err("no statement");
    assert_validation(
        &err,
        "1 validation error detected: Value null at 'statement' failed to satisfy constraint: Member must not be null",
    );
    // Nothing above changed the item.
    let items = run(&client, "SELECT * FROM orders").await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["v"], n(1));
    let _ = ns(&["1"]);
}

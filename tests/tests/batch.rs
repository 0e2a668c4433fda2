//! BatchGetItem and BatchWriteItem through the AWS SDK: round trips across
//! tables, projections, DynamoDB's limits and duplicate-key errors, and
//! validation of the whole batch before any write.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue as Av, DeleteRequest, KeysAndAttributes, PutRequest, WriteRequest,
};
use ferrodyn_tests::{assert_error, create_table, s, TestStore};

fn key(p: &str) -> HashMap<String, Av> {
    HashMap::from([("p".to_owned(), s(p))])
}

fn put(p: &str, x: &str) -> WriteRequest {
    let item = HashMap::from([("p".to_owned(), s(p)), ("x".to_owned(), s(x))]);
    WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .set_item(Some(item))
                .build()
                .expect("put"),
        )
        .build()
}

fn delete(p: &str) -> WriteRequest {
    WriteRequest::builder()
        .delete_request(
            DeleteRequest::builder()
                .set_key(Some(key(p)))
                .build()
                .expect("delete"),
        )
        .build()
}

fn keys(ps: &[&str]) -> KeysAndAttributes {
    KeysAndAttributes::builder()
        .set_keys(Some(ps.iter().map(|p| key(p)).collect()))
        .build()
        .expect("keys")
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_write_then_batch_get_across_tables() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "one").await;
    create_table(&client, "two").await;
    let out = client
        .batch_write_item()
        .request_items("one", vec![put("a", "1"), put("b", "2"), put("c", "3")])
        .request_items("two", vec![put("a", "9")])
        .send()
        .await
        .expect("batch write");
    assert!(out.unprocessed_items().is_some_and(|u| u.is_empty()));
    client
        .batch_write_item()
        .request_items("one", vec![delete("b"), put("d", "4")])
        .send()
        .await
        .expect("batch write");
    let out = client
        .batch_get_item()
        .request_items("one", keys(&["a", "b", "c", "d"]))
        .request_items(
            "two",
            KeysAndAttributes::builder()
                .keys(key("a"))
                .projection_expression("#x")
                .expression_attribute_names("#x", "x")
                .build()
                .expect("keys"),
        )
        .send()
        .await
        .expect("batch get");
    let responses = out.responses().expect("responses");
    let mut one: Vec<String> = responses["one"]
        .iter()
        .map(|i| match i.get("x") {
            Some(Av::S(x)) => x.clone(),
            _ => String::new(),
        })
        .collect();
    one.sort();
    assert_eq!(one, vec!["1", "3", "4"]);
    assert_eq!(
        responses["two"],
        vec![HashMap::from([("x".to_owned(), s("9"))])]
    );
    assert!(out.unprocessed_keys().is_some_and(|u| u.is_empty()));
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_limits_and_duplicates_are_rejected_before_any_write() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "tbl").await;
    let too_many: Vec<WriteRequest> = (0..26).map(|i| put(&format!("k{i}"), "v")).collect();
    let err = client
        .batch_write_item()
        .request_items("tbl", too_many)
        .send()
        .await
        .expect_err("26 writes");
    assert_error(
        &err,
        "ValidationException",
        "length less than or equal to 25",
    );
    let err = client
        .batch_write_item()
        .request_items("tbl", vec![put("a", "1"), delete("a")])
        .send()
        .await
        .expect_err("duplicate");
    assert_error(
        &err,
        "ValidationException",
        "Provided list of item keys contains duplicates",
    );
    // A bad key late in the batch: nothing of the batch is written.
    let bad = WriteRequest::builder()
        .put_request(
            PutRequest::builder()
                .item("p", Av::N("3".into()))
                .build()
                .expect("put"),
        )
        .build();
    let err = client
        .batch_write_item()
        .request_items("tbl", vec![put("ok", "1"), bad])
        .send()
        .await
        .expect_err("bad key");
    assert_error(
        &err,
        "ValidationException",
        "The provided key element does not match the schema",
    );
    let got = client
        .get_item()
        .table_name("tbl")
        .key("p", s("ok"))
        .send()
        .await
        .expect("get");
    assert!(got.item().is_none());
    let err = client
        .batch_write_item()
        .request_items("missing", vec![put("a", "1")])
        .send()
        .await
        .expect_err("no table");
    assert_error(
        &err,
        "ResourceNotFoundException",
        "Requested resource not found",
    );

    let err = client
        .batch_get_item()
        .request_items("tbl", keys(&["a", "a"]))
        .send()
        .await
        .expect_err("duplicate");
    assert_error(
        &err,
        "ValidationException",
        "Provided list of item keys contains duplicates",
    );
    let many: Vec<String> = (0..101).map(|i| format!("k{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let err = client
        .batch_get_item()
        .request_items("tbl", keys(&refs[..60]))
        .request_items("tb2", keys(&refs[60..]))
        .send()
        .await
        .expect_err("101 keys");
    assert_error(
        &err,
        "ValidationException",
        "Too many items requested for the BatchGetItem call",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_get_returns_unprocessed_keys_past_sixteen_megabytes() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "big").await;
    let blob = "x".repeat(390 * 1024);
    for chunk in 0..5 {
        let writes: Vec<WriteRequest> = (0..10)
            .map(|i| put(&format!("k{}", chunk * 10 + i), &blob))
            .collect();
        client
            .batch_write_item()
            .request_items("big", writes)
            .send()
            .await
            .expect("write");
    }
    let all: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    let mut pending = keys(&all.iter().map(String::as_str).collect::<Vec<_>>());
    let mut got = 0;
    let mut rounds = 0;
    loop {
        rounds += 1;
        let out = client
            .batch_get_item()
            .request_items("big", pending.clone())
            .send()
            .await
            .expect("batch get");
        got += out
            .responses()
            .map_or(0, |r| r.get("big").map_or(0, Vec::len));
        match out.unprocessed_keys().and_then(|u| u.get("big")) {
            Some(rest) => pending = rest.clone(),
            None => break,
        }
    }
    assert_eq!(got, 50);
    assert!(rounds >= 2, "19.5 MB fit in one response");
}

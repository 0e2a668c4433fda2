//! BatchExecuteStatement and ExecuteTransaction through the AWS SDK:
//! per-statement errors in a batch, all-or-nothing transactions with
//! DynamoDB's cancellation reasons, and idempotent retries.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue as Av, BatchStatementErrorCodeEnum, BatchStatementRequest,
    ParameterizedStatement, ReturnValuesOnConditionCheckFailure, ScalarAttributeType,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{assert_error, n, s, TableSpec, TestStore};

async fn table(client: &Client) {
    TableSpec::new("tab")
        .hash("p", ScalarAttributeType::S)
        .create(client)
        .await;
}

fn stmt(text: &str) -> BatchStatementRequest {
    BatchStatementRequest::builder()
        .statement(text)
        .build()
        .expect("statement")
}

fn tx(text: &str) -> ParameterizedStatement {
    ParameterizedStatement::builder()
        .statement(text)
        .build()
        .expect("statement")
}

async fn all(client: &Client) -> Vec<HashMap<String, Av>> {
    let mut items = client
        .execute_statement()
        .statement("SELECT * FROM tab")
        .consistent_read(true)
        .send()
        .await
        .expect("scan")
        .items
        .unwrap_or_default();
    items.sort_by_key(|i| format!("{:?}", i.get("p")));
    items
}

#[tokio::test]
async fn batch_writes_report_each_failure_in_place() {
    let store = TestStore::start().await;
    let client = store.client();
    table(&client).await;
    client
        .execute_statement()
        .statement("INSERT INTO tab VALUE {'p': 'dup', 'v': 1}")
        .send()
        .await
        .expect("seed");
    let out = client
        .batch_execute_statement()
        .statements(stmt("INSERT INTO tab VALUE {'p': 'a', 'v': 1}"))
        .statements(stmt("INSERT INTO tab VALUE {'p': 'dup', 'v': 2}"))
        .statements(stmt("UPDATE tab SET v = 5 WHERE p = 'dup' AND v = 9"))
        .statements(
            BatchStatementRequest::builder()
                .statement("DELETE FROM tab WHERE p = 'dup' AND v = 7")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .expect("statement"),
        )
        .statements(stmt("SELEC oops"))
        .statements(stmt("UPDATE nosuchtable SET v = 1 WHERE p = 'x'"))
        .statements(stmt("UPDATE tab SET v = v + 1 WHERE p = 'a'"))
        .send()
        .await
        .expect("batch");
    let r = out.responses.expect("responses");
    assert_eq!(r.len(), 7);
    assert!(r[0].error.is_none());
    let code = |i: usize| r[i].error.as_ref().and_then(|e| e.code.clone());
    assert_eq!(code(1), Some(BatchStatementErrorCodeEnum::DuplicateItem));
    assert_eq!(
        r[1].error.as_ref().and_then(|e| e.message.as_deref()),
        Some("Duplicate primary key exists in table")
    );
    assert_eq!(
        code(2),
        Some(BatchStatementErrorCodeEnum::ConditionalCheckFailed)
    );
    assert_eq!(
        code(3),
        Some(BatchStatementErrorCodeEnum::ConditionalCheckFailed)
    );
    let returned = r[3]
        .error
        .as_ref()
        .and_then(|e| e.item.as_ref())
        .expect("item");
    assert_eq!(returned.get("v"), Some(&n(1)));
    assert_eq!(code(4), Some(BatchStatementErrorCodeEnum::ValidationError));
    assert_eq!(code(5), Some(BatchStatementErrorCodeEnum::ResourceNotFound));
    assert!(r[6].error.is_none(), "{:?}", r[6]);
    // The successful statements took effect, the failed ones did not.
    let items = all(&client).await;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["v"], n(2));
    assert_eq!(items[1]["v"], n(1));
}

#[tokio::test]
async fn batch_reads_return_items_in_statement_order() {
    let store = TestStore::start().await;
    let client = store.client();
    table(&client).await;
    for p in ["a", "b"] {
        client
            .execute_statement()
            .statement(format!(
                "INSERT INTO tab VALUE {{'p': '{p}', 'v': '{p}{p}'}}"
            ))
            .send()
            .await
            .expect("seed");
    }
    let out = client
        .batch_execute_statement()
        .statements(stmt("SELECT v FROM tab WHERE p = 'b'"))
        .statements(stmt("SELECT * FROM tab WHERE p = 'none'"))
        .statements(stmt("SELECT * FROM tab WHERE p = 'a'"))
        .statements(stmt("SELECT * FROM tab WHERE v = 'aa'"))
        .send()
        .await
        .expect("batch");
    let r = out.responses.expect("responses");
    assert_eq!(r[0].item.as_ref().map(|i| i["v"].clone()), Some(s("bb")));
    assert_eq!(r[0].table_name.as_deref(), Some("tab"));
    assert!(r[1].item.is_none() && r[1].error.is_none());
    assert_eq!(r[2].item.as_ref().map(|i| i["p"].clone()), Some(s("a")));
    // A batch read must name a whole key.
    assert_eq!(
        r[3].error.as_ref().and_then(|e| e.code.clone()),
        Some(BatchStatementErrorCodeEnum::ValidationError)
    );
}

#[tokio::test]
async fn batches_are_all_reads_or_all_writes_and_at_most_25() {
    let store = TestStore::start().await;
    let client = store.client();
    table(&client).await;
    let err = client
        .batch_execute_statement()
        .statements(stmt("SELECT * FROM tab WHERE p = 'a'"))
        .statements(stmt("INSERT INTO tab VALUE {'p': 'a'}"))
        .send()
        .await
        .expect_err("mixed");
    assert_error(
        &err,
        "ValidationException",
        "read statements or only write statements",
    );
    let mut req = client.batch_execute_statement();
    for i in 0..26 {
        req = req.statements(stmt(&format!("INSERT INTO tab VALUE {{'p': '{i}'}}")));
    }
    let err = req.send().await.expect_err("too many");
    assert_error(&err, "ValidationException", "less than or equal to 25");
    assert!(all(&client).await.is_empty());
}

#[tokio::test]
async fn transaction_commits_all_statements_together() {
    let store = TestStore::start().await;
    let client = store.client();
    table(&client).await;
    client
        .execute_statement()
        .statement("INSERT INTO tab VALUE {'p': 'old', 'v': 1}")
        .send()
        .await
        .expect("seed");
    client
        .execute_transaction()
        .transact_statements(tx("INSERT INTO tab VALUE {'p': 'new', 'v': 1}"))
        .transact_statements(tx("UPDATE tab SET v = v + 1 WHERE p = 'old' AND v = 1"))
        .transact_statements(
            ParameterizedStatement::builder()
                .statement("INSERT INTO tab VALUE {'p': ?, 'v': ?}")
                .parameters(s("param"))
                .parameters(n(3))
                .build()
                .expect("statement"),
        )
        .send()
        .await
        .expect("transaction");
    let items = all(&client).await;
    assert_eq!(items.len(), 3);
    // Reads: one snapshot, in statement order, absent items answered empty.
    let out = client
        .execute_transaction()
        .transact_statements(tx("SELECT v FROM tab WHERE p = 'old'"))
        .transact_statements(tx("SELECT * FROM tab WHERE p = 'nothing'"))
        .transact_statements(tx("SELECT * FROM tab WHERE p = 'param'"))
        .send()
        .await
        .expect("read transaction");
    let r = out.responses.expect("responses");
    assert_eq!(r[0].item.as_ref().map(|i| i["v"].clone()), Some(n(2)));
    assert!(r[1].item.is_none());
    assert_eq!(r[2].item.as_ref().map(|i| i["v"].clone()), Some(n(3)));
}

#[tokio::test]
async fn transaction_with_a_duplicate_insert_rolls_back() {
    let store = TestStore::start().await;
    let client = store.client();
    table(&client).await;
    client
        .execute_statement()
        .statement("INSERT INTO tab VALUE {'p': 'taken', 'v': 1}")
        .send()
        .await
        .expect("seed");
    let err = client
        .execute_transaction()
        .transact_statements(tx("INSERT INTO tab VALUE {'p': 'fresh'}"))
        .transact_statements(tx("INSERT INTO tab VALUE {'p': 'taken', 'v': 2}"))
        .send()
        .await
        .expect_err("duplicate");
    assert_error(
        &err,
        "TransactionCanceledException",
        "Transaction cancelled, please refer cancellation reasons for specific reasons [None, DuplicateItem]",
    );
    let aws_sdk_dynamodb::operation::execute_transaction::ExecuteTransactionError::TransactionCanceledException(e) =
        err.into_service_error()
    else {
        panic!("not a cancellation");
    };
    let reasons = e.cancellation_reasons();
    assert_eq!(reasons[0].code(), Some("None"));
    assert_eq!(reasons[1].code(), Some("DuplicateItem"));
    assert_eq!(
        reasons[1].message(),
        Some("Duplicate primary key exists in table")
    );
    let items = all(&client).await;
    assert_eq!(items.len(), 1, "the first INSERT must not have happened");
    assert_eq!(items[0]["v"], n(1));
}

#[tokio::test]
async fn transaction_with_a_failed_condition_rolls_back() {
    let store = TestStore::start().await;
    let client = store.client();
    table(&client).await;
    client
        .execute_statement()
        .statement("INSERT INTO tab VALUE {'p': 'a', 'v': 1}")
        .send()
        .await
        .expect("seed");
    let err = client
        .execute_transaction()
        .transact_statements(tx("UPDATE tab SET v = 100 WHERE p = 'a'"))
        .transact_statements(tx("DELETE FROM tab WHERE p = 'a2'"))
        .transact_statements(
            ParameterizedStatement::builder()
                .statement("UPDATE tab SET v = 5 WHERE p = 'nobody'")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build()
                .expect("statement"),
        )
        .send()
        .await
        .expect_err("condition");
    assert_error(
        &err,
        "TransactionCanceledException",
        "[None, None, ConditionalCheckFailed]",
    );
    let items = all(&client).await;
    assert_eq!(items[0]["v"], n(1));
    assert_eq!(items.len(), 1);
}

#[tokio::test]
async fn transaction_retry_with_the_same_token_is_idempotent() {
    let store = TestStore::start().await;
    let client = store.client();
    table(&client).await;
    client
        .execute_statement()
        .statement("INSERT INTO tab VALUE {'p': 'counter', 'v': 0}")
        .send()
        .await
        .expect("seed");
    let send = |token: &'static str, text: &'static str| {
        client
            .execute_transaction()
            .client_request_token(token)
            .transact_statements(tx(text))
            .send()
    };
    let bump = "UPDATE tab SET v = v + 1 WHERE p = 'counter'";
    send("token-1", bump).await.expect("first");
    send("token-1", bump).await.expect("retry");
    let items = all(&client).await;
    assert_eq!(items[0]["v"], n(1), "the retry must not apply twice");
    // The same token with a different transaction is refused.
    let err = send("token-1", "UPDATE tab SET v = v + 2 WHERE p = 'counter'")
        .await
        .expect_err("mismatch");
    assert_error(&err, "IdempotentParameterMismatchException", "");
    send("token-2", bump).await.expect("new token");
    assert_eq!(all(&client).await[0]["v"], n(2));
}

#[tokio::test]
async fn transactions_refuse_mixed_and_keyless_statements() {
    let store = TestStore::start().await;
    let client = store.client();
    table(&client).await;
    let err = client
        .execute_transaction()
        .transact_statements(tx("SELECT * FROM tab WHERE p = 'a'"))
        .transact_statements(tx("INSERT INTO tab VALUE {'p': 'a'}"))
        .send()
        .await
        .expect_err("mixed");
    assert_error(
        &err,
        "ValidationException",
        "read statements or only write statements",
    );
    let err = client
        .execute_transaction()
        .transact_statements(tx("SELECT * FROM tab"))
        .send()
        .await
        .expect_err("scan");
    assert_error(&err, "ValidationException", "whole primary key");
    let err = client
        .execute_transaction()
        .transact_statements(tx("DELETE FROM tab WHERE v = 1"))
        .send()
        .await
        .expect_err("no key");
    assert_error(
        &err,
        "ValidationException",
        "Where clause does not contain a mandatory equality on all key attributes",
    );
    let err = client
        .execute_transaction()
        .transact_statements(tx("INSERT INTO tab VALUE {'p': 'a'}"))
        .transact_statements(tx("UPDATE tab SET v = 1 WHERE p = 'a'"))
        .send()
        .await
        .expect_err("same item twice");
    assert_error(
        &err,
        "ValidationException",
        "multiple operations on one item",
    );
    assert!(all(&client).await.is_empty());
}

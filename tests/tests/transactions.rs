//! TransactWriteItems and TransactGetItems through the AWS SDK: all or
//! nothing, cancellation reasons in request order, idempotency tokens, and
//! serializability under concurrent transfers.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue as Av, ConditionCheck, Delete, Get, Put, ReturnValuesOnConditionCheckFailure,
    TransactGetItem, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use ferrodyn_tests::{create_table, n, s, TestStore};

fn put(table: &str, p: &str, balance: i64) -> TransactWriteItem {
    TransactWriteItem::builder()
        .put(
            Put::builder()
                .table_name(table)
                .item("p", s(p))
                .item("balance", n(balance))
                .build()
                .expect("put"),
        )
        .build()
}

/// Move `amount` from `from` to `to`, refusing to overdraw.
fn transfer(from: &str, to: &str, amount: i64) -> Vec<TransactWriteItem> {
    let debit = Update::builder()
        .table_name("bank")
        .key("p", s(from))
        .update_expression("SET balance = balance - :a")
        .condition_expression("balance >= :a")
        .expression_attribute_values(":a", n(amount))
        .build()
        .expect("debit");
    let credit = Update::builder()
        .table_name("bank")
        .key("p", s(to))
        .update_expression("SET balance = balance + :a")
        .expression_attribute_values(":a", n(amount))
        .build()
        .expect("credit");
    vec![
        TransactWriteItem::builder().update(debit).build(),
        TransactWriteItem::builder().update(credit).build(),
    ]
}

async fn balance(client: &Client, p: &str) -> i64 {
    let item = client
        .get_item()
        .table_name("bank")
        .key("p", s(p))
        .consistent_read(true)
        .send()
        .await
        .expect("get");
    match item.item().and_then(|i| i.get("balance")) {
        Some(Av::N(b)) => b.parse().expect("number"),
        other => panic!("balance of {p}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_transfers_never_overdraw_and_keep_the_total() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "bank").await;
    let accounts = ["a", "b", "c", "d"];
    client
        .transact_write_items()
        .set_transact_items(Some(accounts.iter().map(|p| put("bank", p, 100)).collect()))
        .send()
        .await
        .expect("open accounts");
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8usize {
        let client = client.clone();
        tasks.spawn(async move {
            let (mut ok, mut cancelled) = (0, 0);
            for i in 0..40usize {
                let from = accounts[(worker + i) % 4];
                let to = accounts[(worker + 3 * i + 1) % 4];
                if from == to {
                    continue;
                }
                let amount = 7 + ((worker * 13 + i * 5) % 40) as i64;
                match client
                    .transact_write_items()
                    .set_transact_items(Some(transfer(from, to, amount)))
                    .send()
                    .await
                {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        let e = e.into_service_error();
                        assert!(
                            matches!(e, TransactWriteItemsError::TransactionCanceledException(_)),
                            "{e:?}"
                        );
                        cancelled += 1;
                    }
                }
            }
            (ok, cancelled)
        });
    }
    let (mut ok, mut cancelled) = (0, 0);
    while let Some(r) = tasks.join_next().await {
        let (o, c) = r.expect("join");
        ok += o;
        cancelled += c;
    }
    assert!(ok > 0, "no transfer succeeded");
    let mut total = 0;
    for p in accounts {
        let b = balance(&client, p).await;
        assert!(b >= 0, "{p} overdrawn: {b}");
        total += b;
    }
    assert_eq!(total, 400, "{ok} transfers, {cancelled} cancelled");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_condition_cancels_everything_with_reasons_in_order() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "bank").await;
    client
        .put_item()
        .table_name("bank")
        .item("p", s("x"))
        .item("balance", n(5))
        .send()
        .await
        .expect("put");
    let err = client
        .transact_write_items()
        .transact_items(put("bank", "new", 1))
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name("bank")
                        .key("p", s("x"))
                        .condition_expression("balance > :z")
                        .expression_attribute_values(":z", n(10))
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .expect("check"),
                )
                .build(),
        )
        .send()
        .await
        .expect_err("cancelled")
        .into_service_error();
    assert_eq!(
        err.message(),
        Some("Transaction cancelled, please refer cancellation reasons for specific reasons [None, ConditionalCheckFailed]")
    );
    let TransactWriteItemsError::TransactionCanceledException(e) = err else {
        panic!("wrong error");
    };
    let reasons = e.cancellation_reasons();
    assert_eq!(reasons.len(), 2);
    assert_eq!(reasons[0].code(), Some("None"));
    assert_eq!(reasons[1].code(), Some("ConditionalCheckFailed"));
    assert_eq!(
        reasons[1].item().and_then(|i| i.get("balance")),
        Some(&n(5))
    );
    // Nothing of the transaction was written.
    let got = client
        .get_item()
        .table_name("bank")
        .key("p", s("new"))
        .send()
        .await
        .expect("get");
    assert!(got.item().is_none());

    let err = client
        .transact_write_items()
        .transact_items(put("bank", "x", 1))
        .transact_items(
            TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name("bank")
                        .key("p", s("x"))
                        .build()
                        .expect("delete"),
                )
                .build(),
        )
        .send()
        .await
        .expect_err("one item twice");
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(err
        .message()
        .unwrap_or_default()
        .contains("multiple operations on one item"));
}

#[tokio::test(flavor = "multi_thread")]
async fn client_request_token_makes_a_transaction_idempotent() {
    let server = TestStore::start().await;
    let client = server.client();
    create_table(&client, "bank").await;
    client
        .put_item()
        .table_name("bank")
        .item("p", s("a"))
        .item("balance", n(100))
        .send()
        .await
        .expect("put");
    client
        .put_item()
        .table_name("bank")
        .item("p", s("b"))
        .item("balance", n(0))
        .send()
        .await
        .expect("put");
    for _ in 0..3 {
        client
            .transact_write_items()
            .client_request_token("token-1")
            .set_transact_items(Some(transfer("a", "b", 10)))
            .send()
            .await
            .expect("transfer");
    }
    assert_eq!(balance(&client, "a").await, 90);
    assert_eq!(balance(&client, "b").await, 10);
    let err = client
        .transact_write_items()
        .client_request_token("token-1")
        .set_transact_items(Some(transfer("a", "b", 20)))
        .send()
        .await
        .expect_err("mismatch");
    assert_eq!(err.code(), Some("IdempotentParameterMismatchException"));

    let out = client
        .transact_get_items()
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name("bank")
                        .key("p", s("a"))
                        .projection_expression("balance")
                        .build()
                        .expect("get"),
                )
                .build(),
        )
        .transact_items(
            TransactGetItem::builder()
                .get(
                    Get::builder()
                        .table_name("bank")
                        .key("p", s("nobody"))
                        .build()
                        .expect("get"),
                )
                .build(),
        )
        .send()
        .await
        .expect("transact get");
    let responses = out.responses();
    assert_eq!(responses.len(), 2);
    assert_eq!(
        responses[0].item(),
        Some(&HashMap::from([("balance".to_owned(), n(90))]))
    );
    assert!(responses[1].item().is_none());
}

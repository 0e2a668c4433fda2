//! Ferrodyn's change-feed extension (`FerrodynFeed_20240101.GetChanges`):
//! every table's changes in commit order, resumable, with long polling.

use aws_sdk_dynamodb::types::AttributeValue as Av;
use ferrodyn_tests::fixtures::create_table;
use ferrodyn_tests::{raw_post, TestStore};
use serde_json::Value;

async fn get_changes(st: &TestStore, body: &str) -> (u16, Value) {
    let (status, _, out) = raw_post(
        st.addr,
        Some("FerrodynFeed_20240101.GetChanges"),
        &[],
        body.as_bytes(),
    )
    .await;
    (status, serde_json::from_slice(&out).unwrap_or(Value::Null))
}

#[tokio::test]
async fn feed_lists_every_tables_changes_in_order_and_resumes() {
    let st = TestStore::start().await;
    let c = st.client();
    create_table(&c, "one", None).await;
    create_table(&c, "two", None).await;
    for (table, p) in [("one", "a"), ("two", "b"), ("one", "c")] {
        c.put_item()
            .table_name(table)
            .item("p", Av::S(p.to_owned()))
            .send()
            .await
            .expect("put");
    }
    let (status, out) = get_changes(&st, r#"{"Limit": 2}"#).await;
    assert_eq!(status, 200, "{out}");
    let changes = out["Changes"].as_array().cloned().unwrap_or_default();
    let seen: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["TableName"].as_str().unwrap_or_default(),
                c["Keys"]["p"]["S"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(seen, vec![("one", "a"), ("two", "b")]);
    assert_eq!(changes[0]["EventName"], "INSERT");
    let last = out["LastSequenceNumber"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let (_, out) = get_changes(&st, &format!(r#"{{"AfterSequenceNumber": "{last}"}}"#)).await;
    let changes = out["Changes"].as_array().cloned().unwrap_or_default();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["Keys"]["p"]["S"], "c");
    let last = out["LastSequenceNumber"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    // Nothing new: a short answer right away without waiting.
    let (_, out) = get_changes(&st, &format!(r#"{{"AfterSequenceNumber": "{last}"}}"#)).await;
    assert_eq!(out["Changes"].as_array().map(Vec::len), Some(0));
    assert_eq!(out["LastSequenceNumber"], last.as_str());
}

#[tokio::test]
async fn long_poll_returns_when_a_write_commits() {
    let st = TestStore::start().await;
    let c = st.client();
    create_table(&c, "polled", None).await;
    let (_, out) = get_changes(&st, "{}").await;
    let last = out["LastSequenceNumber"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let body = format!(r#"{{"AfterSequenceNumber": "{last}", "WaitTimeMillis": 20000}}"#);
    let poll = get_changes(&st, &body);
    let write = async {
        c.put_item()
            .table_name("polled")
            .item("p", Av::S("x".to_owned()))
            .send()
            .await
            .expect("put");
    };
    let ((_, out), ()) = tokio::join!(poll, write);
    let changes = out["Changes"].as_array().cloned().unwrap_or_default();
    assert_eq!(changes.len(), 1, "{out}");
    assert_eq!(changes[0]["TableName"], "polled");
}

#[tokio::test]
async fn feed_rejects_bad_arguments() {
    let st = TestStore::start().await;
    for body in [
        r#"{"Limit": 0}"#,
        r#"{"WaitTimeMillis": 20001}"#,
        r#"{"AfterSequenceNumber": "12x"}"#,
    ] {
        let (status, out) = get_changes(&st, body).await;
        assert_eq!(status, 400);
        assert_eq!(
            out["__type"],
            "com.amazon.coral.validate#ValidationException"
        );
    }
}

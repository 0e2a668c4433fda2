//! Limits on requests the proxy forwards: an upstream that stalls costs the
//! client an InternalServerError after the timeout, not a request that hangs
//! forever; an answer larger than the limit is refused, not buffered; and
//! the proxy keeps serving afterwards.

use std::time::Duration;

use ferrodyn_proxy::upstream::Limits;
use ferrodyn_tests::{create_table, raw_post, s, DelayRelay, TestProxy, TestStore};

const TABLE: &str = "limits";

fn get_item(p: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "TableName": TABLE,
        "Key": {"p": {"S": p}},
        "ConsistentRead": true,
    }))
    .expect("json")
}

fn error_type(body: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(body).expect("error body is JSON");
    v["__type"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_stalled_upstream_answers_internal_server_error_after_the_timeout() {
    let store = TestStore::start().await;
    create_table(&store.client(), TABLE).await;
    let relay = DelayRelay::start(store.addr).await;
    let endpoint = relay.endpoint();
    let proxy = TestProxy::start_with(|c| {
        c.upstream = Some(endpoint);
        c.upstream_limits = Limits {
            timeout: Duration::from_millis(500),
            ..Limits::default()
        };
    })
    .await;

    relay.hold_responses_to(b"DynamoDB_20120810.GetItem");
    let started = std::time::Instant::now();
    let request = get_item("a");
    let stalled = raw_post(proxy.addr, Some("DynamoDB_20120810.GetItem"), &[], &request);
    // Without the timeout the request would wait for the relay forever:
    // bound the wait well above the limit so a regression fails, not hangs.
    let (status, _, body) = tokio::time::timeout(Duration::from_secs(20), stalled)
        .await
        .expect("the proxy answered a stalled request");
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&body));
    assert!(
        error_type(&body).ends_with("#InternalServerError"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert!(started.elapsed() >= Duration::from_millis(500));

    // The upstream recovers: the same request succeeds.
    relay.release();
    let (status, _, body) = raw_post(
        proxy.addr,
        Some("DynamoDB_20120810.GetItem"),
        &[],
        &get_item("a"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
}

#[tokio::test]
async fn an_upstream_answer_over_the_size_limit_is_refused() {
    let store = TestStore::start().await;
    let client = store.client();
    create_table(&client, TABLE).await;
    let big = "x".repeat(20_000);
    client
        .put_item()
        .table_name(TABLE)
        .item("p", s("big"))
        .item("v", s(&big))
        .send()
        .await
        .expect("put big");
    client
        .put_item()
        .table_name(TABLE)
        .item("p", s("small"))
        .send()
        .await
        .expect("put small");
    let endpoint = store.endpoint();
    let proxy = TestProxy::start_with(|c| {
        c.upstream = Some(endpoint);
        c.upstream_limits = Limits {
            max_response_bytes: 10_000,
            ..Limits::default()
        };
    })
    .await;

    let (status, _, body) = raw_post(
        proxy.addr,
        Some("DynamoDB_20120810.GetItem"),
        &[],
        &get_item("big"),
    )
    .await;
    assert_eq!(status, 500, "{}", String::from_utf8_lossy(&body));
    assert!(error_type(&body).ends_with("#InternalServerError"));

    let (status, _, body) = raw_post(
        proxy.addr,
        Some("DynamoDB_20120810.GetItem"),
        &[],
        &get_item("small"),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("small"));
}

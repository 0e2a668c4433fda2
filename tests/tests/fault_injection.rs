//! Fault injection as an application's SDK sees it: each of DynamoDB's
//! transient errors arrives with its type, HTTP status and message; the
//! SDK's retries get through a fault limited by count or probability; added
//! latency delays the answer; a feed pause stops the proxy's invalidation
//! and the Streams API's records until it ends; the admin routes are
//! protected by the proxy's credentials.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::StreamViewType;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodbstreams::types::ShardIteratorType as StreamsIteratorType;
use ferrodyn_store::faults::{FaultSpec, Faults};
use ferrodyn_store::server::ServeOptions;
use ferrodyn_tests::wait::{until, PATIENCE};
use ferrodyn_tests::{create_table, create_table_with_stream, s, streams_client_for};
use ferrodyn_tests::{TestProxy, TestStore};

/// A client of `endpoint` with `retry` (the fixtures' clients keep the
/// SDK's default retries, whose backoff would slow these tests down).
fn client(endpoint: &str, retry: RetryConfig) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            "ferrodyn", "ferrodyn", None, None, "tests",
        ))
        .retry_config(retry)
        .build();
    Client::from_conf(config)
}

fn retrying(attempts: u32) -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(attempts)
        .with_initial_backoff(Duration::from_millis(5))
        .with_max_backoff(Duration::from_millis(50))
}

fn fault(spec: &str) -> FaultSpec {
    FaultSpec::parse(spec).expect("fault spec")
}

async fn proxy_with(faults: &Faults) -> TestProxy {
    let faults = faults.clone();
    TestProxy::start_with(move |c| c.serve.faults = faults).await
}

async fn put(c: &Client, table: &str, p: &str, x: &str) {
    c.put_item()
        .table_name(table)
        .item("p", s(p))
        .item("x", s(x))
        .send()
        .await
        .expect("put");
}

async fn read_x(c: &Client, table: &str, p: &str) -> Option<String> {
    let out = c
        .get_item()
        .table_name(table)
        .key("p", s(p))
        .send()
        .await
        .expect("get");
    out.item()
        .and_then(|i| i.get("x"))
        .and_then(|v| v.as_s().ok())
        .cloned()
}

/// (name, HTTP status, message) of each transient error, as DynamoDB's
/// developer guide lists them.
const TRANSIENT: [(&str, u16, &str); 5] = [
    (
        "ThrottlingException",
        400,
        "Rate of requests exceeds the allowed throughput.",
    ),
    (
        "ProvisionedThroughputExceededException",
        400,
        "You exceeded your maximum allowed provisioned throughput",
    ),
    ("InternalServerError", 500, "Internal server error"),
    (
        "ServiceUnavailable",
        503,
        "DynamoDB is currently unavailable. (This should be a temporary state.)",
    ),
    (
        "RequestLimitExceeded",
        400,
        "Throughput exceeds the current throughput limit for your account.",
    ),
];

#[tokio::test]
async fn each_transient_error_reaches_the_sdk_with_its_type_status_and_message() {
    let faults = Faults::new();
    let proxy = proxy_with(&faults).await;
    let endpoint = format!("http://{}", proxy.addr);
    let c = client(&endpoint, RetryConfig::disabled());
    create_table(&c, "faulty").await;
    create_table(&c, "healthy").await;
    put(&c, "faulty", "k", "v").await;
    for (name, status, message) in TRANSIENT {
        faults
            .add(fault(&format!(
                "op=GetItem,table=faulty,error={name},count=1"
            )))
            .expect("add fault");
        // Other tables and other operations are not hit.
        assert_eq!(read_x(&c, "healthy", "k").await, None);
        c.query()
            .table_name("faulty")
            .key_condition_expression("p = :p")
            .expression_attribute_values(":p", s("k"))
            .send()
            .await
            .expect("query is not hit");
        let err = c
            .get_item()
            .table_name("faulty")
            .key("p", s("k"))
            .send()
            .await
            .expect_err("injected error");
        assert_eq!(err.code(), Some(name), "{err:?}");
        assert!(
            err.message().unwrap_or_default().starts_with(message),
            "{name}: {:?}",
            err.message()
        );
        let raw = err.raw_response().map(|r| r.status().as_u16());
        assert_eq!(raw, Some(status), "{name}");
        // The count is used up: the next request is answered.
        assert_eq!(read_x(&c, "faulty", "k").await.as_deref(), Some("v"));
    }
}

#[tokio::test]
async fn sdk_retries_get_through_a_count_limited_fault_of_each_kind() {
    let faults = Faults::new();
    let proxy = proxy_with(&faults).await;
    let c = client(&format!("http://{}", proxy.addr), retrying(3));
    create_table(&c, "retried").await;
    put(&c, "retried", "k", "v").await;
    for (name, _, _) in TRANSIENT {
        faults
            .add(fault(&format!("op=GetItem,error={name},count=2")))
            .expect("add fault");
        // Two attempts fail, the third (the SDK's last) is answered.
        assert_eq!(read_x(&c, "retried", "k").await.as_deref(), Some("v"));
        assert!(!faults.is_active(), "{name}: both injections used");
    }
    let (_, metrics) = proxy.admin_get("/metrics").await;
    for (name, _, _) in TRANSIENT {
        let line =
            format!("proxy_faults_injected_total{{kind=\"{name}\",operation=\"GetItem\"}} 2");
        assert!(metrics.contains(&line), "missing {line}");
    }
}

#[tokio::test]
async fn sdk_retries_absorb_throttles_injected_with_a_probability() {
    // The store alone: its front end honours faults as the proxy's does.
    let faults = Faults::new();
    let store = TestStore::start_serving(ServeOptions {
        faults: faults.clone(),
        ..ServeOptions::default()
    })
    .await;
    let c = client(&store.endpoint(), retrying(30));
    create_table(&c, "sometimes").await;
    faults
        .add(fault(
            "op=PutItem,table=sometimes,error=ThrottlingException,probability=0.5",
        ))
        .expect("add fault");
    for i in 0..20 {
        put(&c, "sometimes", &format!("k{i}"), "v").await;
    }
    let injected = faults.list()[0].injected;
    assert!(injected > 0, "no throttle injected in 20 puts");
    // Every put got through, none twice.
    let count = c
        .scan()
        .table_name("sometimes")
        .send()
        .await
        .expect("scan")
        .count();
    assert_eq!(count, 20);
}

#[tokio::test]
async fn injected_latency_delays_the_answer() {
    let faults = Faults::new();
    let proxy = proxy_with(&faults).await;
    let c = client(&format!("http://{}", proxy.addr), RetryConfig::disabled());
    create_table(&c, "slow").await;
    put(&c, "slow", "k", "v").await;
    faults
        .add(fault("op=GetItem,table=slow,latency=300ms,count=1"))
        .expect("add fault");
    let start = Instant::now();
    assert_eq!(read_x(&c, "slow", "k").await.as_deref(), Some("v"));
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(faults.list().len(), 0, "the one delay was used");
}

#[tokio::test]
async fn a_feed_pause_stops_the_proxys_invalidation_until_it_ends() {
    let faults = Faults::new();
    let store = TestStore::start_serving(ServeOptions {
        faults: faults.clone(),
        ..ServeOptions::default()
    })
    .await;
    let proxy = TestProxy::in_front_of(&store.endpoint()).await;
    let direct = store.client();
    let cached = proxy.client();
    create_table(&direct, "paused").await;
    put(&direct, "paused", "k", "old").await;
    proxy.until_feed_delivered(1.0).await;
    assert_eq!(read_x(&cached, "paused", "k").await.as_deref(), Some("old"));

    let id = faults.add(fault("pause=feed")).expect("pause");
    // A write made elsewhere while the feed is paused, then a marker write
    // after it: neither invalidates the proxy's entry.
    put(&direct, "paused", "k", "new").await;
    let received = proxy.metric("proxy_invalidations_received_total").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        proxy.metric("proxy_invalidations_received_total").await,
        received
    );
    assert_eq!(read_x(&cached, "paused", "k").await.as_deref(), Some("old"));

    assert!(faults.remove(id));
    until(PATIENCE, "the proxy sees the write", || async {
        read_x(&cached, "paused", "k").await.as_deref() == Some("new")
    })
    .await;
}

#[tokio::test]
async fn a_feed_pause_holds_back_stream_records_until_it_ends() {
    let faults = Faults::new();
    let store = TestStore::start_serving(ServeOptions {
        faults: faults.clone(),
        ..ServeOptions::default()
    })
    .await;
    let c = store.client();
    let streams = streams_client_for(&store.endpoint());
    let table = create_table_with_stream(&c, "streamed", StreamViewType::NewImage).await;
    let arn = table.latest_stream_arn().expect("stream arn").to_owned();
    let described = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .expect("describe stream");
    let shard = described
        .stream_description()
        .expect("description")
        .shards()[0]
        .shard_id()
        .expect("shard id")
        .to_owned();
    let iterator = streams
        .get_shard_iterator()
        .stream_arn(&arn)
        .shard_id(&shard)
        .shard_iterator_type(StreamsIteratorType::TrimHorizon)
        .send()
        .await
        .expect("iterator")
        .shard_iterator()
        .expect("iterator")
        .to_owned();

    faults.add(fault("pause=feed")).expect("pause");
    put(&c, "streamed", "k", "v").await;
    let paused = streams
        .get_records()
        .shard_iterator(&iterator)
        .send()
        .await
        .expect("get records while paused");
    assert!(paused.records().is_empty());
    let next = paused.next_shard_iterator().expect("next iterator");

    faults.clear();
    let resumed = streams
        .get_records()
        .shard_iterator(next)
        .send()
        .await
        .expect("get records");
    assert_eq!(resumed.records().len(), 1);
    let image = resumed.records()[0]
        .dynamodb()
        .and_then(|r| r.new_image())
        .expect("new image");
    assert!(matches!(
        image.get("x"),
        Some(aws_sdk_dynamodbstreams::types::AttributeValue::S(x)) if x == "v"
    ));
}

#[tokio::test]
async fn the_fault_routes_add_list_and_remove_faults_for_key_holders_only() {
    let proxy = TestProxy::start_with(|c| {
        c.client_auth = Some(
            ferrodyn_store::auth::verify::Verifier::parse("admin:secret").expect("credentials"),
        );
    })
    .await;
    // "admin:secret" in base64.
    let basic = [("Authorization", "Basic YWRtaW46c2VjcmV0")];
    let wrong = [("Authorization", "Basic YWRtaW46d3Jvbmc=")];
    let spec = r#"{"Operation":"GetItem","Error":"ThrottlingException","Probability":0.3,"DurationSeconds":60}"#;

    let (status, _) = proxy.admin_request("POST", "/faults", &[], spec).await;
    assert_eq!(status, 401);
    let (status, _) = proxy.admin_request("POST", "/faults", &wrong, spec).await;
    assert_eq!(status, 401);
    let (status, _) = proxy.admin_request("GET", "/faults", &[], "").await;
    assert_eq!(status, 401);

    let (status, body) = proxy.admin_request("POST", "/faults", &basic, spec).await;
    assert_eq!(status, 200, "{body}");
    let added: serde_json::Value = serde_json::from_str(&body).expect("json");
    let id = added["Id"].as_u64().expect("Id");
    let (status, body) = proxy.admin_request("GET", "/faults", &basic, "").await;
    assert_eq!(status, 200);
    let listed: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(listed["Faults"][0]["Id"], id);
    assert_eq!(listed["Faults"][0]["Error"], "ThrottlingException");
    assert_eq!(listed["Faults"][0]["Probability"], 0.3);

    // Bad specs are refused with the reason, and add nothing.
    for bad in [
        r#"{"Operation":"GetItem"}"#,
        r#"{"Error":"Oops"}"#,
        r#"{"Error":"ThrottlingException","Probability":2}"#,
        r#"{"PauseFeed":true,"TableName":"t"}"#,
        "not json",
    ] {
        let (status, body) = proxy.admin_request("POST", "/faults", &basic, bad).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("Message"), "{body}");
    }

    let path = format!("/faults/{id}");
    let (status, _) = proxy.admin_request("DELETE", &path, &[], "").await;
    assert_eq!(status, 401);
    let (status, _) = proxy.admin_request("DELETE", &path, &basic, "").await;
    assert_eq!(status, 200);
    let (status, _) = proxy.admin_request("DELETE", &path, &basic, "").await;
    assert_eq!(status, 404);
    let (_, body) = proxy.admin_request("GET", "/faults", &basic, "").await;
    assert_eq!(body, r#"{"Faults":[]}"#);
}

#[tokio::test]
async fn a_feed_pause_set_through_the_admin_api_holds_the_embedded_feed() {
    let proxy = TestProxy::embedded().await;
    let c = proxy.client();
    create_table(&c, "embedded").await;
    put(&c, "embedded", "a", "1").await;
    proxy.until_feed_delivered(1.0).await;

    let (status, body) = proxy
        .admin_request("POST", "/faults", &[], r#"{"PauseFeed":true}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    // The write's own echo is what the feed would deliver next.
    put(&c, "embedded", "b", "2").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        proxy.metric("proxy_invalidations_received_total").await,
        1.0
    );

    let (status, _) = proxy.admin_request("DELETE", "/faults", &[], "").await;
    assert_eq!(status, 200);
    proxy.until_feed_delivered(2.0).await;
}

/// `ferrodyn-store`'s admin endpoint manages the faults its front end
/// injects: a fault added there reaches the SDK, is counted in the store's
/// `/metrics`, and ends when deleted.
#[tokio::test]
async fn the_stores_admin_endpoint_adds_and_removes_faults() {
    let faults = Faults::new();
    let store = TestStore::start_serving(ServeOptions {
        faults: faults.clone(),
        ..ServeOptions::default()
    })
    .await;
    let admin =
        ferrodyn_tests::admin::StoreAdmin::start_with_faults(&store.store, faults, None).await;
    let c = client(&store.endpoint(), RetryConfig::disabled());
    create_table(&c, "managed").await;
    put(&c, "managed", "a", "1").await;

    let (status, body) = admin
        .request(
            "POST",
            "/faults",
            r#"{"Operation":"GetItem","TableName":"managed","Error":"InternalServerError"}"#,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let get = || c.get_item().table_name("managed").key("p", s("a")).send();
    let err = get().await.expect_err("the injected fault answers");
    assert_eq!(err.code(), Some("InternalServerError"));
    let (_, metrics) = admin.get("/metrics").await;
    let line = "ferrodyn_store_faults_injected_total{kind=\"InternalServerError\",operation=\"GetItem\"} 1";
    assert!(metrics.contains(line), "missing {line} in\n{metrics}");

    let (status, _) = admin.request("DELETE", "/faults", "").await;
    assert_eq!(status, 200);
    get().await.expect("no fault after the delete");
}
